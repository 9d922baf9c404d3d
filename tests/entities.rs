//! The entity tagger on the pages of the project: lists are deduplicated, byline names stay
//! out of `people` unless the text names them, events carry the tagger's version.

use std::path::Path;
use std::sync::OnceLock;

use pagesift::model::{ArticleEvent, RawPage};
use pagesift::pipeline::Pipeline;
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
