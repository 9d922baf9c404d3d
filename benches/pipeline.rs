//! Criterion benchmarks of every pipeline stage, each next to its same-run baseline.
//!
//! For each page (the seed page, the seed page repeated 10×, and pages of 1,000 and 10,000 tiny
//! paragraphs) the group `<page>` holds one benchmark per stage (`enrich` is NLP and
//! classification together, [`Pipeline::enrich`](pagesift::pipeline::Pipeline::enrich)) plus
//! `cut`: one
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
//! After the criterion groups, an interleaved A/B pass (stage and cut alternating in ~10 ms
//! batches) writes `criterion/paired-<baseline>.json`: on a shared, loaded machine these paired
//! ratios are the robust figures; the criterion groups give absolute MB/s.
//!
//! The pipeline is built from the repository's configuration files (`config/`), with the page
//! limits raised so the large synthetic pages measure the algorithms rather than the limits.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use jieba_rs::Jieba;
use pagesift::model::{ArticleEvent, PageMeta, RawPage};
use pagesift::pipeline::{normalize, segment};
use pagesift::settings::Settings;

#[path = "support/mod.rs"]
mod support;
use support::{pages, pipeline, repo};

/// A fixed clock reading: the benchmarks must not depend on the clock.
const PROCESSED_AT: &str = "2026-01-01T00:00:00Z";

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
        // The segmenter confirms column breaks with jieba's dictionary, as `Pipeline` does.
        let words = |w: &str| jieba.has_word(w);
        let articles = segment::segment_with_words(&normalized, &words);
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
            b.iter(|| segment::segment_with_words(black_box(&normalized), &words))
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
        // Classification on the tokens of the shared jieba pass (what `enrich` runs).
        let tokens = pagesift::pipeline::tokens::ArticleTokens::page(jieba, &articles);
        group.bench_function("classify", |b| {
            b.iter(|| {
                pipeline
                    .classifier()
                    .classify_page_tokens(black_box(&articles), &tokens)
            })
        });
        // NLP + classification together: exactly what `process` runs after segmentation.
        group.bench_function("enrich", |b| {
            b.iter(|| pipeline.enrich(black_box(&articles)))
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
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1500))
        .sample_size(20)
}

/// Interleaved A/B timing: alternates short batches of `stage` and of the `cut` baseline on the
/// same page and returns the median of the per-pair ratios. Load from other processes drifts
/// slowly compared with a batch, so pairing cancels most of it where sequential criterion groups
/// cannot.
fn paired_ratio(stage: &mut dyn FnMut(), cut: &mut dyn FnMut(), pairs: usize) -> (f64, f64, f64) {
    fn batch(f: &mut dyn FnMut(), iters: u32) -> f64 {
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        t.elapsed().as_secs_f64() / f64::from(iters)
    }
    // Size the batches to ~10 ms of cut.
    let one = batch(cut, 3).max(1e-7);
    let iters = ((0.01 / one) as u32).clamp(1, 100_000);
    let mut ratios: Vec<f64> = (0..pairs)
        .map(|i| {
            if i % 2 == 0 {
                let s = batch(stage, iters);
                s / batch(cut, iters)
            } else {
                let c = batch(cut, iters);
                batch(stage, iters) / c
            }
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    let q = |p: f64| ratios[((ratios.len() - 1) as f64 * p).round() as usize];
    (q(0.25), q(0.5), q(0.75))
}

/// Writes the paired ratios (stage / cut on each page, interleaved) to
/// `$CARGO_TARGET_DIR/criterion/paired-<baseline>.json` and prints them.
fn paired(baseline: &str) {
    let pipeline = pipeline();
    let jieba = pipeline.jieba();
    let mut out = serde_json::Map::new();
    println!("\npaired stage/cut ratios (median of interleaved batches, [q1, q3]):");
    for (name, text) in pages() {
        let page = RawPage {
            page_id: format!("bench-{name}"),
            text: text.clone(),
            meta: PageMeta::default(),
        };
        let mut cut = || {
            black_box(cut_pass(jieba, black_box(&text)));
        };
        let mut rows = serde_json::Map::new();
        let mut process = || {
            let _ = black_box(pipeline.process(black_box(&page), PROCESSED_AT));
        };
        let r = paired_ratio(&mut process, &mut cut, 21);
        rows.insert("process".into(), serde_json::json!([r.0, r.1, r.2]));
        let mut seg = || {
            let _ = black_box(pipeline.segment(black_box(&text)));
        };
        let s = paired_ratio(&mut seg, &mut cut, 21);
        rows.insert("segment_total".into(), serde_json::json!([s.0, s.1, s.2]));
        let articles = pipeline.segment(&text).unwrap_or_default();
        let mut enrich = || {
            black_box(pipeline.enrich(black_box(&articles)));
        };
        let e = paired_ratio(&mut enrich, &mut cut, 21);
        rows.insert("enrich".into(), serde_json::json!([e.0, e.1, e.2]));
        // Absolute time of one cut pass, for the growth checks (seed_x10 vs seed, ...).
        let t = Instant::now();
        cut();
        rows.insert(
            "cut_seconds".into(),
            serde_json::json!(t.elapsed().as_secs_f64()),
        );
        println!(
            "  {name:>9}: process {:.3} [{:.3}, {:.3}]  segment_total {:.3} [{:.3}, {:.3}]  \
             enrich {:.3} [{:.3}, {:.3}]",
            r.1, r.0, r.2, s.1, s.0, s.2, e.1, e.0, e.2
        );
        out.insert(name.into(), serde_json::Value::Object(rows));
    }
    // Growth: the big page against the small one, interleaved too.
    let all = pages();
    let text_of = |n: &str| all.iter().find(|(k, _)| *k == n).map(|(_, t)| t.clone());
    for (big, small) in [("seed_x10", "seed"), ("tiny_10k", "tiny_1k")] {
        let (Some(b), Some(s)) = (text_of(big), text_of(small)) else {
            continue;
        };
        let pb = RawPage {
            page_id: big.into(),
            text: b.clone(),
            meta: PageMeta::default(),
        };
        let ps = RawPage {
            page_id: small.into(),
            text: s.clone(),
            meta: PageMeta::default(),
        };
        let mut fb = || {
            let _ = black_box(pipeline.process(black_box(&pb), PROCESSED_AT));
        };
        let mut fs = || {
            let _ = black_box(pipeline.process(black_box(&ps), PROCESSED_AT));
        };
        let g = paired_ratio(&mut fb, &mut fs, 11);
        let mut cb = || {
            black_box(cut_pass(jieba, black_box(&b)));
        };
        let mut cs = || {
            black_box(cut_pass(jieba, black_box(&s)));
        };
        let gc = paired_ratio(&mut cb, &mut cs, 11);
        println!(
            "  growth {big}/{small}: process {:.2} [{:.2}, {:.2}]  cut {:.2} [{:.2}, {:.2}]",
            g.1, g.0, g.2, gc.1, gc.0, gc.2
        );
        out.insert(
            format!("growth_{big}_over_{small}"),
            serde_json::json!({"process": [g.0, g.1, g.2], "cut": [gc.0, gc.1, gc.2]}),
        );
    }
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"))
        .join("criterion");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("paired-{baseline}.json"));
    match serde_json::to_vec_pretty(&out) {
        Ok(bytes) => {
            if let Err(e) = std::fs::write(&path, bytes) {
                eprintln!("cannot write {}: {e}", path.display());
            }
        }
        Err(e) => eprintln!("cannot serialise the paired ratios: {e}"),
    }
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_pages, bench_startup
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    benches();
    Criterion::default().configure_from_args().final_summary();
    // The interleaved ratios run on real bench runs only (not `--test`, `--list` or filters).
    let quick = args
        .iter()
        .any(|a| a == "--test" || a == "--list" || a == "--profile-time");
    if !quick {
        let baseline = args
            .iter()
            .position(|a| a == "--save-baseline")
            .and_then(|i| args.get(i + 1))
            .map_or("new", String::as_str);
        paired(baseline);
    }
}
