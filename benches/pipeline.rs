//! Criterion benchmarks of every pipeline stage, each next to its same-run baseline.
//!
//! For each page (the seed page, the seed page repeated 10×, and pages of 1,000 and 10,000 tiny
//! paragraphs) the group `<page>` holds one benchmark per stage plus `cut`: one
//! `jieba.cut(text, true)` pass over the same text with the pipeline's own [`Jieba`]. Every
//! benchmark's throughput is the page's byte length, so criterion prints MB/s of page text and
//! the ratios `stage / cut` are directly comparable. `benches/report.py` turns the saved runs
//! into the ratio table of `benches/RESULTS.md`.
//!
//! ```text
//! cargo bench --bench pipeline -- --save-baseline r1   # repeat with r2, r3, ...
//! python3 benches/report.py                            # ratio table, min/median/max over runs
//! ```
//!
//! The pipeline is built from the repository's configuration files (`config/`), with the page
//! limits raised so the large synthetic pages measure the algorithms rather than the limits.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jieba_rs::Jieba;
use pagesift::model::{ArticleEvent, PageMeta, RawPage};
use pagesift::pipeline::{Pipeline, normalize, segment};
use pagesift::settings::Settings;

/// A fixed clock reading: the benchmarks must not depend on the clock.
const PROCESSED_AT: &str = "2026-01-01T00:00:00Z";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The pipeline, built from `config/` exactly as the worker builds it, limits raised.
fn pipeline() -> Pipeline {
    let raised = [
        ("PAGESIFT__PIPELINE__MAX_ARTICLES", "1000000"),
        ("PAGESIFT__PIPELINE__MAX_PARAGRAPHS", "1000000"),
        ("PAGESIFT__PIPELINE__MAX_PAGE_CHARS", "100000000"),
        ("PAGESIFT__PIPELINE__MAX_PAGE_BYTES", "400000000"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()));
    let settings =
        Settings::load_from(&repo().join("config"), None, raised).expect("config/ loads");
    pagesift::resources::build_pipeline(&settings.pipeline).expect("pipeline builds")
}

fn seed() -> String {
    std::fs::read_to_string(repo().join("tests/fixtures/pages/seed.txt")).expect("seed page")
}

/// `n` tiny paragraphs (a few characters each, taken in turn from the seed page's lines, so no
/// text is invented), an indented paragraph per line and a blank line after every 20.
fn tiny_paragraphs(seed: &str, n: usize) -> String {
    let words: Vec<String> = seed
        .lines()
        .map(str::trim)
        .filter(|l| l.chars().count() >= 6)
        .map(|l| l.chars().take(6).collect())
        .collect();
    let mut out = String::new();
    for i in 0..n {
        out.push('\u{3000}');
        out.push('\u{3000}');
        out.push_str(&words[i % words.len()]);
        out.push('。');
        out.push('\n');
        if i % 20 == 19 {
            out.push('\n');
        }
    }
    out
}

fn pages() -> Vec<(&'static str, String)> {
    let seed = seed();
    let x10 = [seed.as_str(); 10].join("\n\n");
    vec![
        ("seed", seed.clone()),
        ("seed_x10", x10),
        ("tiny_1k", tiny_paragraphs(&seed, 1_000)),
        ("tiny_10k", tiny_paragraphs(&seed, 10_000)),
    ]
}

fn cut_pass(jieba: &Jieba, text: &str) -> usize {
    jieba.cut(text, true).len()
}

fn bench_pages(c: &mut Criterion) {
    let pipeline = pipeline();
    let jieba = pipeline.jieba();
    for (name, text) in pages() {
        let page = RawPage {
            page_id: format!("bench-{name}"),
            text: text.clone(),
            meta: PageMeta::default(),
        };
        // Inputs of the later stages, computed once outside the timed loops.
        let normalized = normalize::normalize(&text);
        let articles = segment::segment(&normalized, jieba);
        let events: Vec<ArticleEvent> = pipeline
            .process(&page, PROCESSED_AT)
            .expect("bench page is accepted")
            .events;

        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function("cut", |b| b.iter(|| cut_pass(jieba, black_box(&text))));
        group.bench_function("normalize", |b| {
            b.iter(|| normalize::normalize(black_box(&text)))
        });
        group.bench_function("segment", |b| {
            b.iter(|| segment::segment(black_box(&normalized), jieba))
        });
        group.bench_function("segment_total", |b| {
            b.iter(|| pipeline.segment(black_box(&text)))
        });
        group.bench_function("nlp", |b| {
            b.iter(|| {
                articles
                    .iter()
                    .map(|a| pipeline.enricher().enrich(jieba, black_box(a)))
                    .collect::<Vec<_>>()
            })
        });
        group.bench_function("classify", |b| {
            b.iter(|| {
                articles
                    .iter()
                    .map(|a| pipeline.classifier().classify(jieba, black_box(a)))
                    .collect::<Vec<_>>()
            })
        });
        group.bench_function("serialise", |b| {
            b.iter(|| {
                events
                    .iter()
                    .map(|e| serde_json::to_vec(black_box(e)).map_or(0, |v| v.len()))
                    .sum::<usize>()
            })
        });
        group.bench_function("process", |b| {
            b.iter(|| pipeline.process(black_box(&page), PROCESSED_AT))
        });
        group.finish();
    }
}

/// Start-up cost: building the whole pipeline from the files next to `Jieba::new()` alone.
fn bench_startup(c: &mut Criterion) {
    let raised: [(String, String); 0] = [];
    let settings =
        Settings::load_from(&repo().join("config"), None, raised).expect("config/ loads");
    let mut group = c.benchmark_group("startup");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("jieba_new", |b| b.iter(Jieba::new));
    group.bench_function("build_pipeline", |b| {
        b.iter(|| pagesift::resources::build_pipeline(&settings.pipeline).map(|_| ()))
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_pages, bench_startup
}
criterion_main!(benches);
