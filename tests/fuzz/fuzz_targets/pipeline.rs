//! Fuzzes `input::decode` + `Pipeline::process` with any bytes under any transport hints: no
//! panic, no unbounded output, event indexes in page order.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pagesift::pipeline::{Hints, Limits, Pipeline};

/// Small limits so the fuzzer reaches every limit check quickly.
const LIMITS: Limits = Limits {
    max_page_bytes: 64 * 1024,
    max_page_chars: 30_000,
    max_paragraphs: 2_000,
    max_articles: 200,
    max_page_id_bytes: 1024,
};

fn pipeline() -> &'static Pipeline {
    static P: OnceLock<Pipeline> = OnceLock::new();
    P.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let settings = pagesift::settings::Settings::load_from(&root.join("config"), None, Vec::new())
            .expect("default settings");
        let resources =
            pagesift::resources::load_resources(&settings.pipeline).expect("model files");
        Pipeline::new(&resources, LIMITS).expect("pipeline")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let content_type = match selector & 3 {
        0 => None,
        1 => Some("application/json".to_owned()),
        2 => Some("text/plain".to_owned()),
        _ => Some("text/plain; charset=gbk".to_owned()),
    };
    let charset = match (selector >> 2) & 3 {
        1 => Some("gb18030".to_owned()),
        2 => Some("utf-8".to_owned()),
        3 => Some("no-such-charset".to_owned()),
        _ => None,
    };
    let hints = Hints {
        content_type,
        charset,
        page_id: (selector & 16 == 0).then(|| "fuzz".to_owned()),
        ..Hints::default()
    };
    let p = pipeline();
    let Ok(page) = p.decode(body, &hints) else {
        return;
    };
    assert!(page.text.len() <= LIMITS.max_page_bytes);
    if let Ok(out) = p.process(&page, "2026-01-01T00:00:00Z") {
        assert!(out.events.len() <= LIMITS.max_articles);
        let input_chars = page.text.chars().count();
        let output_chars: usize = out.events.iter().map(|e| e.article.text.chars().count()).sum();
        assert!(output_chars <= 2 * input_chars + 16);
        for (i, e) in out.events.iter().enumerate() {
            assert_eq!(e.article.index, i);
        }
    }
});
