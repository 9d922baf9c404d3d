//! The shipped classifier (config/classifier.json) and its training, on the development labels
//! and truth entries copied into tests/fixtures, and on hand-written articles that are not in
//! any development file.

use std::path::PathBuf;

use std::sync::LazyLock;

use jieba_rs::Jieba;
use pagesift::dataset::{self, Labelled};
use pagesift::eval::classifier::{Fitter, Metrics, baseline, cross_validate};
use pagesift::model::{Article, EventKind, ItemKind, Topic};
use pagesift::pipeline::classify::Classifier;
use pagesift::train::classifier::{load_prior, prepare, to_json, train};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The pipeline's tokenizer (default dictionary + config/userdict.txt).
static JIEBA: LazyLock<Jieba> = LazyLock::new(|| {
    let dict = std::fs::read_to_string(root().join("config/userdict.txt")).expect("userdict");
    pagesift::pipeline::build_jieba(&dict).expect("the user dictionary loads")
});

static SHIPPED: LazyLock<Classifier> = LazyLock::new(|| {
    load_prior(
        &root().join("config/classifier.json"),
        &root().join("config"),
    )
    .expect("the shipped model loads")
});

fn shipped() -> &'static Classifier {
    &SHIPPED
}

/// The lexicon with a cheaper training (fewer iterations, no inner folds), for tests that train.
fn quick_prior(iterations: usize, threshold_folds: usize) -> Classifier {
    let prior = load_prior(&root().join("config/lexicon.json"), &root().join("config"))
        .expect("the lexicon loads");
    let mut model = prior.model().clone();
    let learned = model
        .learned
        .as_mut()
        .expect("the lexicon has a learned section");
    learned.training.iterations = iterations;
    learned.training.threshold_folds = threshold_folds;
    Classifier::new(model).expect("still a valid lexicon")
}

fn written_sample(every: usize) -> Vec<Labelled> {
    let dir = root().join("tests/fixtures/labels/written");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("written texts")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    dataset::load_written(&files)
        .expect("written texts load")
        .into_iter()
        .step_by(every)
        .collect()
}

fn dev_set() -> Vec<Labelled> {
    let fixtures = root().join("tests/fixtures");
    dataset::load_all(
        &[fixtures.join("labels/articles.jsonl")],
        &[fixtures.join("labels/corpus.jsonl")],
        &[fixtures.join("truth")],
    )
    .expect("fixtures load")
    .articles
}

fn article(kind: ItemKind, title: Option<&str>, paragraphs: &[&str]) -> Article {
    Article::new(
        kind,
        title.map(str::to_owned),
        paragraphs.iter().map(|p| (*p).to_owned()).collect(),
    )
}

#[test]
fn the_shipped_model_is_a_fit_of_the_shipped_lexicon() {
    let model = shipped();
    let prior = load_prior(&root().join("config/lexicon.json"), &root().join("config"))
        .expect("the lexicon loads");
    let base = prior.version();
    assert!(
        model.version().starts_with(&format!("{base}+fit.")),
        "{} is not a fit of {base}",
        model.version()
    );
    assert_eq!(model.model().mask, prior.model().mask);
}

#[test]
fn every_dev_article_is_found_and_every_evidence_term_occurs_in_its_article() {
    let data = dev_set();
    assert_eq!(
        data.iter()
            .filter(|l| l.id.contains('-') && l.id.len() < 10)
            .count(),
        101
    );
    let c = shipped();
    for l in &data {
        let a = &l.article;
        let all: String = [&a.kicker, &a.title, &a.subtitle]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .chain(std::iter::once(a.text.as_str()))
            .collect::<Vec<_>>()
            .join("\n");
        let s = c.classify(&JIEBA, a);
        assert_eq!(
            s.is_safety,
            s.primary.is_some_and(Topic::is_safety),
            "{}",
            l.id
        );
        assert_eq!(s.is_safety, s.event_kind.is_some(), "{}", l.id);
        for t in &s.topics {
            assert!((0.0..=1.0).contains(&t.score), "{}: {t:?}", l.id);
            assert!(!t.evidence.is_empty(), "{}: {t:?}", l.id);
            for e in &t.evidence {
                assert!(
                    all.contains(e.as_str()),
                    "{}: evidence {e} not in the article",
                    l.id
                );
            }
        }
    }
}

#[test]
fn cross_validated_the_classifier_beats_the_naive_baseline_by_far() {
    let data = dev_set();
    let written = written_sample(4);
    let prior = quick_prior(100, 3);
    let pool: Vec<&Labelled> = data.iter().chain(&written).collect();
    let prepared = prepare(&prior, &JIEBA, &pool);
    let fitter = Fitter::Learned {
        prior: &prior,
        prepared: &prepared,
    };
    let tested: Vec<usize> = (0..data.len()).collect();
    let always: Vec<usize> = (data.len()..pool.len()).collect();
    let predictions =
        cross_validate(fitter, &JIEBA, &pool, &tested, &always, 3).expect("cross-validation runs");
    let mut cv = Metrics::default();
    let mut naive = Metrics::default();
    for (l, p) in data.iter().zip(&predictions) {
        cv.add(&l.gold, p);
        naive.add(&l.gold, &baseline(&l.article));
    }
    assert_eq!(cv.articles, data.len());
    assert!(cv.f1() >= 0.8, "{cv:?} F1 {}", cv.f1());
    assert!(cv.recall() >= 0.85, "{cv:?} recall {}", cv.recall());
    assert!(cv.primary_accuracy() >= 0.8, "{cv:?}");
    assert!(cv.f1() > naive.f1() + 0.3, "{} vs {}", cv.f1(), naive.f1());
}

#[test]
fn on_the_seed_page_the_safety_items_are_exactly_the_five_marked_ones() {
    let (entries, missing) =
        dataset::load_truth(&root().join("tests/fixtures/truth")).expect("truth loads");
    assert!(missing.is_empty(), "{missing:?}");
    let seed: Vec<&Labelled> = entries
        .iter()
        .filter(|l| l.id.starts_with("seed-"))
        .collect();
    let articles: Vec<Article> = seed.iter().map(|l| l.article.clone()).collect();
    let safety = shipped().classify_page(&JIEBA, &articles);
    let got: Vec<&str> = seed
        .iter()
        .zip(&safety)
        .filter(|(_, s)| s.is_safety)
        .map(|(l, _)| l.id.as_str())
        .collect();
    assert_eq!(got, ["seed-02", "seed-06", "seed-10", "seed-11", "seed-12"]);
}

#[test]
fn incident_reports_of_every_kind_are_caught_with_the_right_topic() {
    let c = shipped();
    let cases: [(&str, &str, Topic); 7] = [
        (
            "某县发生5.8级地震",
            "某县昨日凌晨发生5.8级地震，震中附近部分房屋倒塌，造成3人死亡、20余人受伤。地震发生后，当地立即启动应急响应，救援队伍连夜赶赴灾区搜救被困群众。",
            Topic::DisasterEmergency,
        ),
        (
            "暴雨引发洪水 多个乡镇受灾",
            "连日强降雨导致河水暴涨，洪水冲毁道路和农田，多个乡镇受灾，2人失踪。当地紧急转移安置群众1.2万人，抢险救援正在进行。",
            Topic::DisasterEmergency,
        ),
        (
            "一居民楼发生火灾",
            "昨晚8时许，一居民楼三层突然起火，浓烟滚滚。消防救援人员赶到现场后迅速灭火，疏散居民40余人，火灾造成1人受伤，起火原因正在调查。",
            Topic::Fire,
        ),
        (
            "高速公路发生多车相撞事故",
            "今晨因大雾，高速公路上发生多车追尾相撞的交通事故，造成4人死亡、11人受伤。交警部门已封闭路段，事故原因正在调查。",
            Topic::Traffic,
        ),
        (
            "列车脱轨致多人伤亡",
            "一列客运列车在山区路段脱轨，部分车厢侧翻，造成多人伤亡。铁路部门正组织救援，伤者已送医救治。",
            Topic::Traffic,
        ),
        (
            "学校食堂发生食物中毒",
            "某中学数十名学生在食堂就餐后出现呕吐、腹痛等症状，经诊断为食物中毒，已送医救治。市场监管部门对食堂进行查封并抽检留样食品。",
            Topic::FoodDrug,
        ),
        (
            "一煤矿发生透水事故",
            "一煤矿井下发生透水事故，12名矿工被困。事故发生后，应急管理部门调集救援力量全力搜救，目前已有5人获救，安全生产监管部门正调查事故原因。",
            Topic::WorkSafety,
        ),
    ];
    for (title, body, topic) in cases {
        let s = c.classify(&JIEBA, &article(ItemKind::Article, Some(title), &[body]));
        assert!(s.is_safety, "{title}: {s:?}");
        assert_eq!(s.primary, Some(topic), "{title}: {s:?}");
        assert_eq!(s.event_kind, Some(EventKind::Accident), "{title}: {s:?}");
    }
}

#[test]
fn passing_mentions_do_not_make_an_article_safety() {
    let c = shipped();
    let cases = [
        article(
            ItemKind::Article,
            Some("暑期课堂丰富孩子假期生活"),
            &[
                "暑假期间，社区开办公益暑期课堂，孩子们在这里学习书法、绘画和手工，还参加了科技小实验。",
                "志愿者老师耐心辅导作业，家长们纷纷点赞。课堂还穿插了防溺水小知识。",
                "社区负责人表示，将继续办好暑期课堂，让孩子们度过一个充实快乐的假期。",
            ],
        ),
        article(
            ItemKind::Article,
            Some("维护国家安全 筑牢网络安全防线"),
            &["全民国家安全教育日当天，各地开展宣传活动，普及国家安全、网络安全和数据安全知识。"],
        ),
        article(
            ItemKind::Brief,
            Some("影片《中国机长》热映"),
            &["电影《中国机长》上映以来票房持续走高，观众称赞影片真实感人。"],
        ),
        article(
            ItemKind::Article,
            Some("建设更高水平的平安中国"),
            &[
                "会议强调，要坚持以人民为中心，推进平安中国建设，不断增强人民群众的获得感、幸福感、安全感。",
            ],
        ),
    ];
    for a in &cases {
        let s = c.classify(&JIEBA, a);
        assert!(!s.is_safety, "{:?}: {s:?}", a.title);
    }
}

#[test]
fn a_broken_model_file_is_an_error_never_a_panic() {
    let text = std::fs::read_to_string(root().join("config/classifier.json")).expect("readable");
    for cut in [1, text.len() / 3, text.len() / 2, text.len() - 2] {
        let end = (0..=cut)
            .rev()
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(0);
        assert!(
            Classifier::from_model(&text[..end]).is_err(),
            "cut at {end}"
        );
    }
    let bad_threshold = text.replacen("\"threshold\": 0.5", "\"threshold\": 2.0", 1);
    assert_ne!(bad_threshold, text, "the model has a threshold to break");
    assert!(Classifier::from_model(&bad_threshold).is_err());
}

#[test]
fn training_twice_on_the_same_data_gives_a_byte_identical_model_file() {
    let data = dev_set();
    let written = written_sample(16);
    let refs: Vec<&Labelled> = data.iter().take(120).chain(&written).collect();
    let prior = quick_prior(20, 2);
    let a = to_json(&train(&prior, &JIEBA, &refs).expect("trains")).expect("serialises");
    let b = to_json(&train(&prior, &JIEBA, &refs).expect("trains")).expect("serialises");
    assert!(a == b, "two fits of the same data differ");
    let model = Classifier::from_model(&a).expect("the written file loads");
    assert!(
        model
            .model()
            .learned
            .as_ref()
            .is_some_and(|l| l.is_fitted())
    );
    // A different training set gives a different model and version.
    let fewer: Vec<&Labelled> = refs.iter().skip(1).copied().collect();
    let c = train(&prior, &JIEBA, &fewer).expect("trains");
    assert_ne!(c.version, model.version());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    #[test]
    fn any_text_classifies_without_panicking_and_scores_stay_in_range(
        title in "\\PC{0,30}",
        body in "(\\PC|火灾|安全生产|国家安全|地震|\\n){0,200}",
    ) {
        let c = shipped();
        let a = article(ItemKind::Article, Some(&title), &[&body]);
        let s = c.classify(&JIEBA, &a);
        proptest::prop_assert!((0.0..=1.0).contains(&s.score));
        for t in &s.topics {
            for e in &t.evidence {
                proptest::prop_assert!(title.contains(e.as_str()) || body.contains(e.as_str()));
            }
        }
    }
}

/// Hand-written articles (tests/fixtures/heldout): incident reports of every kind and
/// non-safety texts full of metaphors. They are in no training or development file.
fn held_out() -> Vec<Labelled> {
    let file = root().join("tests/fixtures/heldout/articles.jsonl");
    dataset::load_labels(&file, std::slice::from_ref(&file)).expect("held-out set loads")
}

#[test]
fn every_held_out_incident_report_is_an_accident_of_its_topic() {
    let c = shipped();
    let incidents: Vec<Labelled> = held_out()
        .into_iter()
        .filter(|l| l.gold.event_kind == Some(EventKind::Accident))
        .collect();
    assert!(incidents.len() >= 20);
    let mut missed = Vec::new();
    for l in &incidents {
        let s = c.classify(&JIEBA, &l.article);
        let ok = s.is_safety
            && s.event_kind == Some(EventKind::Accident)
            && s.primary == l.gold.topics.first().copied();
        if !ok {
            missed.push(format!(
                "{} {:?} {:?} {:?}",
                l.id, s.primary, s.event_kind, s.topics
            ));
        }
    }
    assert!(
        missed.is_empty(),
        "missed incidents:\n{}",
        missed.join("\n")
    );
}

#[test]
fn no_held_out_metaphor_or_passing_mention_is_safety() {
    let c = shipped();
    let tricky: Vec<Labelled> = held_out().into_iter().filter(|l| !l.gold.safety).collect();
    assert!(tricky.len() >= 20);
    let flagged: Vec<String> = tricky
        .iter()
        .filter_map(|l| {
            let s = c.classify(&JIEBA, &l.article);
            s.is_safety
                .then(|| format!("{} {:?} {:?}", l.id, s.primary, s.topics))
        })
        .collect();
    assert!(
        flagged.is_empty(),
        "flagged as safety:\n{}",
        flagged.join("\n")
    );
}
