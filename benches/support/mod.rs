//! Shared by `benches/pipeline.rs` and `examples/instructions.rs`: the pipeline built from
//! `config/`, and the benchmark pages — the seed page, the seed page repeated 10×, and pages of
//! 1,000 and 10,000 tiny paragraphs.

use std::path::PathBuf;

use pagesift::pipeline::Pipeline;
use pagesift::settings::Settings;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The seed page's text.
pub fn seed() -> String {
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

/// The benchmark pages, by name.
pub fn pages() -> Vec<(&'static str, String)> {
    let seed = seed();
    let x10 = [seed.as_str(); 10].join("\n\n");
    vec![
        ("seed", seed.clone()),
        ("seed_x10", x10),
        ("tiny_1k", tiny_paragraphs(&seed, 1_000)),
        ("tiny_10k", tiny_paragraphs(&seed, 10_000)),
    ]
}

/// The pipeline, built from `config/` exactly as the worker builds it, limits raised.
pub fn pipeline() -> Pipeline {
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
