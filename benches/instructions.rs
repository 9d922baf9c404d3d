//! Instruction counts of the pipeline next to a `jieba.cut(text, true)` pass, for callgrind.
//!
//! Wall-clock benchmarks on a shared 2-core machine are noisy; instruction counts are not. Each
//! stage runs in its own `#[inline(never)]` function, so callgrind's inclusive cost of
//! `instructions::stage_cut`, `…::stage_segment`, `…::stage_enrich` (NLP + classification of
//! the already segmented items), `…::stage_entities` (the entity tagger alone, on the items'
//! tokens) and `…::stage_process` gives the instructions
//! of `ITERS` passes over one page. `benches/instructions.sh` runs this under
//! `valgrind --tool=callgrind` for every page and prints the ratios.
//!
//! ```text
//! cargo build --release --example instructions
//! valgrind --tool=callgrind target/release/examples/instructions seed 20
//! ```

use std::hint::black_box;

use jieba_rs::Jieba;
use pagesift::model::{Article, PageMeta, RawPage};
use pagesift::pipeline::Pipeline;
use pagesift::pipeline::entities::Scratch;
use pagesift::pipeline::tokens::ArticleTokens;

#[path = "../benches/support/mod.rs"]
mod support;

#[inline(never)]
fn stage_cut(jieba: &Jieba, text: &str, iters: usize) -> usize {
    (0..iters)
        .map(|_| jieba.cut(black_box(text), true).len())
        .sum()
}

#[inline(never)]
fn stage_segment(pipeline: &Pipeline, text: &str, iters: usize) -> usize {
    (0..iters)
        .map(|_| pipeline.segment(black_box(text)).map_or(0, |a| a.len()))
        .sum()
}

/// NLP + classification only: [`Pipeline::enrich`] (the code `process` runs after
/// segmentation) over the page's items, segmented once outside the measured function.
#[inline(never)]
fn stage_enrich(pipeline: &Pipeline, articles: &[Article], iters: usize) -> usize {
    (0..iters)
        .map(|_| pipeline.enrich(black_box(articles)).len())
        .sum()
}

/// The entity tagger alone over the page's items, tokenised once outside the measured
/// function (the pipeline reuses the NLP step's tokens the same way), with one set of
/// reusable buffers per page.
#[inline(never)]
fn stage_entities(pipeline: &Pipeline, tokens: &[ArticleTokens<'_>], iters: usize) -> usize {
    (0..iters)
        .map(|_| {
            // One set of buffers per page, as `Pipeline::enrich` uses them.
            let mut scratch = Scratch::default();
            tokens
                .iter()
                .map(|t| {
                    pipeline
                        .tagger()
                        .article_entities_with(black_box(t), &mut scratch)
                        .people
                        .len()
                })
                .sum::<usize>()
        })
        .sum()
}

#[inline(never)]
fn stage_process(pipeline: &Pipeline, page: &RawPage, iters: usize) -> usize {
    (0..iters)
        .map(|_| {
            pipeline
                .process(black_box(page), "2026-01-01T00:00:00Z")
                .map_or(0, |p| p.events.len())
        })
        .sum()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let name = args.get(1).map_or("seed", String::as_str);
    let iters: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10);
    let Some((_, text)) = support::pages().into_iter().find(|(n, _)| *n == name) else {
        eprintln!("unknown page {name}; pages: seed, seed_x10, tiny_1k, tiny_10k");
        std::process::exit(2);
    };
    let pipeline = support::pipeline();
    let page = RawPage {
        page_id: format!("bench-{name}"),
        text: text.clone(),
        meta: PageMeta::default(),
    };
    // Warm-up outside the measured functions: jieba-rs builds some tables lazily on first use
    // (e.g. the POS-tagging data behind `Jieba::tag`), a one-time cost that is not per page.
    let _ = black_box(pipeline.process(&page, "2026-01-01T00:00:00Z"));
    let _ = black_box(pipeline.jieba().cut(&text, true));
    let tokens = stage_cut(pipeline.jieba(), &text, iters);
    let items = stage_segment(&pipeline, &text, iters);
    let articles = pipeline.segment(&text).unwrap_or_default();
    let enriched = stage_enrich(&pipeline, &articles, iters);
    let page_tokens = ArticleTokens::page(pipeline.jieba(), &articles);
    let people = stage_entities(&pipeline, &page_tokens, iters);
    let events = stage_process(&pipeline, &page, iters);
    println!(
        "{name}: {} bytes, {iters} passes: {tokens} tokens, {items} items, {enriched} enriched, {people} people, {events} events; root: {}",
        text.len(),
        support::repo().display()
    );
}
