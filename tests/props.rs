//! Property tests of segmentation: no input panics, and nothing is lost — every non-whitespace
//! character of the input lands in exactly one output field.
//!
//! How the fields are counted (see `pipeline::segment`): `section` once per run of items
//! carrying the same label (on the first item whose label differs from the previous item's),
//! `kicker`, `title`, `subtitle`, `byline.raw`, `paragraphs`, caption `text` and `credit`,
//! `trailing_credit`. `dateline` is a copy of text inside `byline.raw` or the first paragraph
//! and is not counted; `text` repeats `paragraphs` and is not counted.

use std::collections::HashMap;

use pagesift::model::Article;
use pagesift::pipeline::input::is_blank;
use pagesift::pipeline::normalize::normalize;
use pagesift::pipeline::segment::{segment, segment_with, segment_with_words};
use proptest::prelude::*;

fn counts<'a>(texts: impl IntoIterator<Item = &'a str>) -> HashMap<char, usize> {
    let mut m = HashMap::new();
    for t in texts {
        for c in t.chars().filter(|&c| !is_blank(c)) {
            *m.entry(c).or_insert(0) += 1;
        }
    }
    m
}

fn output_fields(items: &[Article]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for (i, a) in items.iter().enumerate() {
        let previous = i.checked_sub(1).and_then(|p| items[p].section.as_deref());
        if let Some(s) = a.section.as_deref()
            && previous != Some(s)
        {
            out.push(s);
        }
        out.extend(a.kicker.as_deref());
        out.extend(a.title.as_deref());
        out.extend(a.subtitle.as_deref());
        out.extend(a.byline.as_ref().map(|b| b.raw.as_str()));
        out.extend(a.paragraphs.iter().map(String::as_str));
        for c in &a.captions {
            out.push(&c.text);
            out.extend(c.credit.as_deref());
        }
        out.extend(a.trailing_credit.as_deref());
    }
    out
}

/// Checks the page without a dictionary and with one that takes every string for a word (so
/// every headline-shaped fragment that could be a cut paragraph is put back into the body).
fn assert_lossless(page: &str) {
    assert_lossless_with(page, segment(&normalize(page)));
    assert_lossless_with(page, segment_with_words(&normalize(page), &|_| true));
    // The rules alone (the learned model's baseline) lose nothing either.
    assert_lossless_with(page, segment_with(&normalize(page), &|_| true, None));
}

fn assert_lossless_with(page: &str, items: Vec<Article>) {
    let want = counts([page]);
    let got = counts(output_fields(&items));
    if want != got {
        let mut diff: Vec<String> = want
            .keys()
            .chain(got.keys())
            .filter(|c| want.get(c) != got.get(c))
            .map(|c| {
                format!(
                    "{c:?}: in {} out {}",
                    want.get(c).unwrap_or(&0),
                    got.get(c).unwrap_or(&0)
                )
            })
            .collect();
        diff.sort();
        diff.dedup();
        panic!("characters lost or duplicated: {diff:?}\npage: {page:?}\nitems: {items:#?}");
    }
    for (i, a) in items.iter().enumerate() {
        assert_eq!(a.index, i, "indices follow page order");
        assert_eq!(
            a.text,
            a.paragraphs.join("\n"),
            "text is the paragraphs joined"
        );
    }
}

/// Pieces that exercise the segmenter's rules: headlines, leads, credits, captions, markers.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        "[\u{4e00}-\u{4e2f}]{2,12}",
        "[\u{4e00}-\u{4e2f}，、]{20,80}[。！？]",
        "[\u{4e00}-\u{4e2f}，]{30,70}",
        Just("本报讯(记者 孙 雄)".to_owned()),
        Just("本报北京1月7日电 （记者丁怡婷）".to_owned()),
        Just("新华社北京2月24日电".to_owned()),
        Just("（作者为本报记者）".to_owned()),
        Just(" 本报记者 常 奇 摄".to_owned()),
        Just("下图：".to_owned()),
        Just("核心阅读".to_owned()),
        Just("——编 者".to_owned()),
        Just("第一条 ".to_owned()),
        Just("▲".to_owned()),
        Just("(梁 浩)".to_owned()),
        Just("政务动态".to_owned()),
        Just("本报记者 付 炎".to_owned()),
        Just("周秀枝".to_owned()),
        Just("——".to_owned()),
        Just("（一线探民生）".to_owned()),
        Just("栏目投稿邮箱：a@b.com".to_owned()),
        Just("山东济南市 马洪利".to_owned()),
        Just("\u{3000}\u{3000}".to_owned()),
        Just("\n".to_owned()),
        Just("\n\n".to_owned()),
        Just("\r\n".to_owned()),
        Just(" ".to_owned()),
        Just("\u{a0}".to_owned()),
        Just("\u{feff}".to_owned()),
        Just("\u{0}".to_owned()),
        "[a-z0-9 .,/@]{1,10}",
    ]
}

fn page() -> impl Strategy<Value = String> {
    prop::collection::vec(piece(), 0..60).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn segmentation_loses_nothing_on_newspaper_like_pages(page in page()) {
        assert_lossless(&page);
    }

    #[test]
    fn segmentation_loses_nothing_on_random_cjk(page in "[\u{4e00}-\u{4e50}，。：（）\n \u{3000}]{0,400}") {
        assert_lossless(&page);
    }

    #[test]
    fn arbitrary_text_never_panics(page in any::<String>()) {
        assert_lossless(&page);
    }

    #[test]
    fn random_bytes_never_panic_the_decoder(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        let limits = pagesift::pipeline::Limits::default();
        if let Ok(page) = pagesift::pipeline::input::decode(&bytes, &pagesift::pipeline::Hints {
            page_id: Some("p".to_owned()),
            ..Default::default()
        }, &limits) {
            assert_lossless(&page.text);
        }
    }
}

#[test]
fn a_page_of_only_blank_lines_yields_no_items() {
    let items = segment(&normalize("\n\n \u{3000}\n\r\n\t\n"));
    assert!(items.is_empty());
}

#[test]
fn a_huge_line_is_one_paragraph() {
    let line = "安全生产责任落实到位，".repeat(50_000) + "。";
    assert_lossless(&line);
    let items = segment(&normalize(&line));
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].paragraphs.len(), 1);
}

#[test]
fn a_page_of_ten_thousand_tiny_paragraphs_is_segmented_whole() {
    let mut page = String::from("标题\n\n");
    for i in 0..10_000 {
        page.push_str(&format!("第{i}段内容完整。\n\n"));
    }
    assert_lossless(&page);
}

#[test]
fn ten_thousand_tiny_headline_runs_are_segmented_whole() {
    let page = "短标题\n\n一句话说完了。\n\n".repeat(10_000);
    assert_lossless(&page);
}
