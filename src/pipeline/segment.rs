//! Article segmentation (placeholder: blank-line blocks, first block the title).

use jieba_rs::Jieba;

use super::normalize::Normalized;
use crate::model::{Article, ItemKind};

/// Splits a normalised page into its items, in page order.
pub fn segment(text: &Normalized, _jieba: &Jieba) -> Vec<Article> {
    let mut out = Vec::new();
    let mut block: Vec<String> = Vec::new();
    let flush = |block: &mut Vec<String>, out: &mut Vec<Article>| {
        if block.is_empty() {
            return;
        }
        let title = block.remove(0);
        let text = block.join("\n");
        out.push(Article {
            index: out.len(),
            kind: ItemKind::Article,
            section: None,
            kicker: None,
            title: Some(title),
            subtitle: None,
            byline: None,
            dateline: None,
            char_count: text.chars().filter(|c| !c.is_whitespace()).count(),
            paragraphs: std::mem::take(block),
            text,
            captions: Vec::new(),
            trailing_credit: None,
        });
    };
    for line in &text.lines {
        if line.text.is_empty() {
            flush(&mut block, &mut out);
        } else {
            block.push(line.text.clone());
        }
    }
    flush(&mut block, &mut out);
    out
}
