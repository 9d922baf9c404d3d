//! Hostile input through the pure pipeline (`input::decode` + `Pipeline::process`): no panic on
//! any bytes, output bounded by the input, and every limit enforced before the work it guards,
//! with the right error class. Timing (linear work on a 4 MiB one-line page) is measured by
//! `benches/hostile.rs`, not asserted here.

use std::sync::OnceLock;

use pagesift::model::RawPage;
use pagesift::pipeline::{Hints, InputError, Limits, Pipeline, Resources};
use pagesift::settings::Settings;
use proptest::prelude::*;

fn resources() -> &'static Resources {
    static RES: OnceLock<Resources> = OnceLock::new();
    RES.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let settings =
            Settings::load_from(&root.join("config"), None, Vec::new()).expect("default settings");
        pagesift::resources::load_resources(&settings.pipeline).expect("model files")
    })
}

/// The pipeline with the default limits, built once for the whole test binary.
fn pipeline() -> &'static Pipeline {
    static P: OnceLock<Pipeline> = OnceLock::new();
    P.get_or_init(|| Pipeline::new(resources(), Limits::default()).expect("pipeline"))
}

fn with_limits(limits: Limits) -> Pipeline {
    Pipeline::new(resources(), limits).expect("pipeline")
}

fn page(text: String) -> RawPage {
    RawPage {
        page_id: "hostile".into(),
        text,
        ..RawPage::default()
    }
}

fn hints() -> Hints {
    Hints {
        page_id: Some("hostile".into()),
        ..Hints::default()
    }
}

/// Runs a page and checks the output is bounded by the input: at most `max_articles` events,
/// and the articles' text no longer (in characters) than the page's, with room for
/// normalisation.
fn run_bounded(p: &Pipeline, text: String) -> Result<usize, InputError> {
    let input_chars = text.chars().count();
    let out = p.process(&page(text), "2026-01-01T00:00:00Z")?;
    assert!(out.events.len() <= p.limits().max_articles);
    let output_chars: usize = out
        .events
        .iter()
        .map(|e| {
            e.article.text.chars().count()
                + e.article.title.as_deref().map_or(0, |t| t.chars().count())
        })
        .sum();
    assert!(
        output_chars <= 2 * input_chars + 16,
        "{output_chars} output characters from {input_chars} input characters"
    );
    for (i, e) in out.events.iter().enumerate() {
        assert_eq!(e.article.index, i, "indexes are the page order");
        assert_eq!(e.event_id, pagesift::pipeline::event_id("hostile", i));
    }
    Ok(out.events.len())
}

/// Pieces that stress the segmenter's layout and byline rules: brackets, quotes, bylines,
/// photo credits, column labels, indentation, odd line endings, controls.
const PIECES: &[&str] = &[
    "（",
    "）",
    "(",
    ")",
    "「",
    "」",
    "『",
    "』",
    "“",
    "”",
    "\"",
    "《",
    "》",
    "【",
    "】",
    "[",
    "]",
    "本报讯",
    "记者",
    "通讯员",
    "摄",
    "新华社",
    "电",
    "月",
    "日",
    "\n",
    "\n\n",
    "\r\n",
    "\r",
    "\u{3000}\u{3000}",
    "  ",
    "\t",
    "。",
    "，",
    "：",
    "——",
    "…",
    "安全",
    "消防",
    "检查",
    "\u{0}",
    "\u{feff}",
    "\u{200b}",
    "\u{a0}",
    "1",
    "2026",
    "版",
    "责任编辑",
    "图",
    "■",
    "●",
];

fn hostile_text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..400).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_decode_and_process_without_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let p = pipeline();
        if let Ok(page) = p.decode(&bytes, &hints()) {
            let _ = run_bounded(p, page.text);
        }
    }

    #[test]
    fn any_json_shaped_message_decodes_or_gets_a_class(text in ".{0,300}", id in "[a-z0-9-]{0,12}", ty in 0usize..4) {
        let field = match ty {
            0 => serde_json::Value::String(text.clone()),
            1 => serde_json::json!(text.len()),
            2 => serde_json::json!([text.clone()]),
            _ => serde_json::Value::Null,
        };
        let body = serde_json::json!({ "page_id": id, "text": field }).to_string();
        match pipeline().decode(body.as_bytes(), &Hints::default()) {
            Ok(page) => {
                prop_assert_eq!(ty, 0);
                prop_assert_eq!(&page.text, &text);
                let _ = run_bounded(pipeline(), page.text);
            }
            Err(e) => prop_assert!(!e.class().is_empty()),
        }
    }

    #[test]
    fn layout_like_garbage_is_segmented_within_bounds(text in hostile_text()) {
        let _ = run_bounded(pipeline(), text);
    }
}

#[test]
fn a_page_of_one_four_mib_line_is_processed_within_bounds() {
    let unit = "安全生产检查（记者 王 五）“消防”【通知】";
    let line = unit.repeat((4 * 1024 * 1024 - 4096) / unit.len());
    let len = line.len();
    assert!(len < Limits::default().max_page_bytes && len > 3 * 1024 * 1024);
    let n = run_bounded(pipeline(), line).expect("a long line is a valid page");
    assert!(n <= 1, "one line cannot yield several items, got {n}");
}

#[test]
fn deeply_nested_quotes_and_brackets_do_not_overflow_the_stack() {
    let depth = 50_000;
    let mut text = String::from("标题\n\n");
    for i in 0..depth {
        text.push(
            ["（", "“", "「", "『", "【", "《"][i % 6]
                .chars()
                .next()
                .unwrap_or('('),
        );
    }
    text.push_str("本报讯 正文。");
    for i in (0..depth).rev() {
        text.push(
            ["）", "”", "」", "』", "】", "》"][i % 6]
                .chars()
                .next()
                .unwrap_or(')'),
        );
    }
    text.push_str("\n（记者 （（（（ 摄）\n");
    run_bounded(pipeline(), text).expect("nested brackets are a valid page");
}

#[test]
fn a_page_of_100000_blank_lines_is_empty_and_rejected_before_segmentation() {
    let p = pipeline();
    let page = p
        .decode("\n \u{3000}\r\n".repeat(100_000).as_bytes(), &hints())
        .expect("decodes");
    let err = p.segment(&page.text).expect_err("blank page");
    assert_eq!(err.class(), "empty_text");
}

#[test]
fn the_message_size_limit_is_checked_before_decoding() {
    let p = with_limits(Limits {
        max_page_bytes: 64,
        ..Limits::default()
    });
    // Invalid UTF-8 AND too large: the size check must come first.
    let body = [0xffu8; 65];
    assert_eq!(
        p.decode(&body, &hints()).expect_err("too large").class(),
        "too_large"
    );
    let ok = "标题\n\n正文".as_bytes();
    assert!(ok.len() <= 64);
    p.decode(ok, &hints()).expect("under the limit");
}

#[test]
fn the_character_limit_is_checked_before_the_paragraph_limit_and_segmentation() {
    let p = with_limits(Limits {
        max_page_chars: 100,
        max_paragraphs: 5,
        ..Limits::default()
    });
    let at_limit = "甲\n".repeat(50);
    assert_eq!(at_limit.chars().count(), 100);
    assert_eq!(
        p.process(&page(at_limit), "t")
            .expect_err("too many lines")
            .class(),
        "too_many_paragraphs"
    );
    let over = "甲\n".repeat(51);
    assert_eq!(
        p.process(&page(over), "t").expect_err("too long").class(),
        "too_many_chars"
    );
}

#[test]
fn the_paragraph_limit_counts_only_non_blank_lines() {
    let p = with_limits(Limits {
        max_paragraphs: 10,
        ..Limits::default()
    });
    let ten = "一行文字\n\n\u{3000}\n".repeat(10);
    p.process(&page(ten.clone()), "t")
        .expect("ten lines are allowed");
    let eleven = ten + "再一行";
    assert_eq!(
        p.process(&page(eleven), "t")
            .expect_err("eleven lines")
            .class(),
        "too_many_paragraphs"
    );
}

#[test]
fn the_article_limit_rejects_a_page_with_one_item_too_many() {
    let mut text = String::new();
    for i in 0..40 {
        text.push_str(&format!(
            "第{i}条消息标题\n\u{3000}\u{3000}本报讯 今天召开安全生产会议，部署检查工作。\n\n"
        ));
    }
    let items = pipeline().segment(&text).expect("segments").len();
    assert!(
        items >= 2,
        "the test page must have several items, got {items}"
    );
    let exact = with_limits(Limits {
        max_articles: items,
        ..Limits::default()
    });
    assert_eq!(
        exact
            .process(&page(text.clone()), "t")
            .expect("at the limit")
            .events
            .len(),
        items
    );
    let under = with_limits(Limits {
        max_articles: items - 1,
        ..Limits::default()
    });
    let err = under.process(&page(text), "t").expect_err("over the limit");
    assert_eq!(err.class(), "too_many_articles");
}

#[test]
fn a_20_mib_message_is_rejected_by_size_whatever_it_contains() {
    let body =
        serde_json::json!({ "page_id": "big", "text": "安全。".repeat(20 * 1024 * 1024 / 9 + 1) })
            .to_string();
    assert!(body.len() > 20 * 1024 * 1024);
    assert_eq!(
        pipeline()
            .decode(body.as_bytes(), &hints())
            .expect_err("too large")
            .class(),
        "too_large"
    );
}
