//! Hostile-input cost: the pipeline on a one-line page and on a page of nested brackets, at
//! 400 KiB and at 4 MiB. Linear work shows as the same throughput (bytes per second) at both
//! sizes; a quadratic step would show as a 10x drop. Measured here, never asserted in tests.
//!
//! `cargo bench --bench hostile`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pagesift::model::RawPage;
use pagesift::pipeline::{Limits, Pipeline};
use pagesift::settings::Settings;

fn pipeline() -> Pipeline {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let settings =
        Settings::load_from(&root.join("config"), None, Vec::new()).expect("default settings");
    let resources = pagesift::resources::load_resources(&settings.pipeline).expect("model files");
    Pipeline::new(&resources, Limits::default()).expect("pipeline")
}

fn one_line(bytes: usize) -> String {
    let unit = "安全生产检查（记者 王 五）“消防”【通知】";
    unit.repeat(bytes / unit.len())
}

fn nested(bytes: usize) -> String {
    let open = "（“「『【《";
    let close = "》】』」”）";
    let depth = bytes / (open.len() + close.len()) / 2;
    let mut text = String::from("标题\n\n");
    for _ in 0..depth {
        text.push_str(open);
    }
    text.push_str("本报讯 正文。");
    for _ in 0..depth {
        text.push_str(close);
    }
    text
}

fn hostile(c: &mut Criterion) {
    let p = pipeline();
    let mut group = c.benchmark_group("hostile");
    group.sample_size(10);
    for (name, make) in [
        ("one_line", one_line as fn(usize) -> String),
        ("nested", nested),
    ] {
        for kib in [400usize, 4000] {
            let page = RawPage {
                page_id: "bench".into(),
                text: make(kib * 1024),
                ..RawPage::default()
            };
            group.throughput(Throughput::Bytes(page.text.len() as u64));
            group.bench_with_input(
                BenchmarkId::new(name, format!("{kib}KiB")),
                &page,
                |b, page| {
                    b.iter(|| p.process(page, "2026-01-01T00:00:00Z"));
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, hostile);
criterion_main!(benches);
