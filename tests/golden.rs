//! Golden tests: every fixture page (`tests/fixtures/pages/NAME.txt`) through the pipeline must
//! give the events in `tests/fixtures/expected/NAME.json` (schema, event id, page and article;
//! `nlp`, `safety` and `pipeline` are left out so classifier changes do not churn them, and so
//! is `article.confidence`, which moves with every refit of the segmenter model; its range is
//! checked here and its calibration is reported by `pagesift-dev eval --summary`).
//! The expected files were reviewed by hand against the truth files. To rewrite them after a
//! deliberate change, run with `PAGESIFT_BLESS=1` and review the diff before committing.
//!
//! Also here: the segmentation targets on the dev set, scored with the `eval` library.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use pagesift::eval::segmentation::{TruthPage, overall, score_page};
use pagesift::model::RawPage;
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

fn pages() -> Vec<(String, PathBuf)> {
    let mut pages: Vec<(String, PathBuf)> = std::fs::read_dir("tests/fixtures/pages")
        .expect("fixture pages")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .map(|p| {
            let name = p.file_stem().expect("stem").to_string_lossy().into_owned();
            (name, p)
        })
        .collect();
    pages.sort();
    pages
}

fn golden_events(name: &str, path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("page text");
    let page = RawPage {
        page_id: name.to_owned(),
        text,
        ..RawPage::default()
    };
    let processed = pipeline()
        .process(&page, "2024-07-19T00:00:00Z")
        .expect("fixture pages are valid input");
    let events: Vec<serde_json::Value> = processed
        .events
        .iter()
        .map(|e| {
            assert!(
                (0.0..=1.0).contains(&e.article.confidence),
                "{name}: confidence {}",
                e.article.confidence
            );
            let mut article = serde_json::to_value(&e.article).expect("serialise");
            if let Some(a) = article.as_object_mut() {
                a.remove("confidence");
            }
            serde_json::json!({
                "schema": e.schema,
                "event_id": e.event_id,
                "page": e.page,
                "article": article,
            })
        })
        .collect();
    serde_json::Value::Array(events)
}

#[test]
fn every_fixture_page_gives_its_expected_events() {
    let bless = std::env::var_os("PAGESIFT_BLESS").is_some();
    let mut failures = Vec::new();
    for (name, path) in pages() {
        let got = golden_events(&name, &path);
        let expected_path = Path::new("tests/fixtures/expected").join(format!("{name}.json"));
        let got_text = serde_json::to_string_pretty(&got).expect("serialise") + "\n";
        if bless {
            std::fs::create_dir_all("tests/fixtures/expected").expect("expected dir");
            std::fs::write(&expected_path, &got_text).expect("write expected");
            continue;
        }
        let want_text = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
        let want: serde_json::Value = serde_json::from_str(&want_text).expect("expected JSON");
        if want != got {
            let first_diff = want_text
                .lines()
                .zip(got_text.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            let window = |t: &str| {
                t.lines()
                    .skip(first_diff.saturating_sub(5))
                    .take(20)
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            failures.push(format!(
                "== {name}: first difference at line {}\n-- expected ({}):\n{}\n-- actual:\n{}",
                first_diff + 1,
                expected_path.display(),
                window(&want_text),
                window(&got_text)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn dev_scores() -> Vec<pagesift::eval::segmentation::PageScore> {
    pages()
        .into_iter()
        .map(|(name, path)| {
            let truth_path = Path::new("tests/fixtures/truth").join(format!("{name}.json"));
            let truth: TruthPage =
                serde_json::from_str(&std::fs::read_to_string(truth_path).expect("truth file"))
                    .expect("truth JSON");
            let text = std::fs::read_to_string(&path).expect("page text");
            let items = pipeline().segment(&text).expect("segments");
            score_page(&name, &truth, &items)
        })
        .collect()
}

#[test]
fn the_dev_set_meets_the_segmentation_targets() {
    let pages = dev_scores();
    let all = overall(&pages);
    assert!(
        all.boundary.f1 >= 0.97 && all.strict.f1 >= 0.95,
        "boundary F1 {:.3} (target 0.97), strict F1 {:.3} (target 0.95); misses: {:#?}",
        all.boundary.f1,
        all.strict.f1,
        pages
            .iter()
            .filter(|p| !p.missed.is_empty() || !p.extra.is_empty() || !p.wrong_titles.is_empty())
            .map(|p| (&p.page, &p.missed, &p.wrong_titles, &p.extra))
            .collect::<Vec<_>>()
    );
}

#[test]
fn every_seed_article_is_exactly_right() {
    let pages = dev_scores();
    let seed = pages
        .iter()
        .find(|p| p.page == "seed")
        .expect("seed page scored");
    assert!(
        seed.missed.is_empty() && seed.wrong_titles.is_empty() && seed.extra.is_empty(),
        "seed: missed {:?}, wrong titles {:?}, extra items {:?}",
        seed.missed,
        seed.wrong_titles,
        seed.extra
    );
    assert_eq!(
        seed.bylines_right, seed.bylines_total,
        "seed bylines: {:?}",
        seed.wrong_bylines
    );
    assert_eq!(seed.sections_found, seed.sections_expected);
}
