//! Training examples for the [`learned`](super::learned) models, from pages whose blocks carry
//! labels (`labels/NAME.json` of `tests/tools/make_pages.py`): pure functions, the IO is in
//! `pagesift-dev train-segmenter`.

use serde::Deserialize;

use super::labeller::Label;
use super::learned::{FitOptions, JOIN_FEATURES, fit, join_features};
use super::shape::squash;
use crate::pipeline::normalize::normalize;

/// One labelled block (or line) of a generated page.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelledBlock {
    /// The block's text.
    pub text: String,
    /// What it is: kicker, title, subtitle, byline, section, lead, body, body_cont, subhead,
    /// caption, credit, furniture, kicker_displaced, title_displaced.
    pub label: String,
    /// The truth entry it belongs to (`None` for page furniture).
    #[serde(default)]
    pub item: Option<String>,
    /// The first block of its item.
    #[serde(default)]
    pub start: bool,
}

/// Labels of a headline block.
const HEAD: &[&str] = &["kicker", "title", "subtitle", "byline", "section"];

fn is_head(label: &str) -> bool {
    HEAD.contains(&label)
}

/// Whether a run of blocks opens an item, by their labels: one holding a kicker, title or
/// column label does (also after a prompt or furniture line that closed the previous item);
/// text, subheads, prompts and captions alone do not; a displaced headline is not asked.
fn opens_item(run: &[&LabelledBlock]) -> Option<bool> {
    let labels = || run.iter().map(|b| b.label.as_str());
    if labels().any(|l| matches!(l, "kicker" | "title" | "section")) {
        Some(true)
    } else if labels().any(|l| l.ends_with("_displaced")) {
        None
    } else {
        Some(false)
    }
}

/// Finds the labelled blocks of a page's lines; blocks are met in page order, so the search
/// starts after the last match (and wraps around).
struct Finder<'a> {
    blocks: &'a [LabelledBlock],
    keys: Vec<String>,
    cursor: usize,
}

impl<'a> Finder<'a> {
    fn new(blocks: &'a [LabelledBlock]) -> Finder<'a> {
        Finder {
            blocks,
            keys: blocks.iter().map(|b| squash(&b.text)).collect(),
            cursor: 0,
        }
    }

    /// The blocks of `lines`, or `None` (and no move) when one is not found.
    fn find(&mut self, lines: &[&str]) -> Option<Vec<&'a LabelledBlock>> {
        let n = self.keys.len();
        let mut at_cursor = self.cursor;
        let mut out = Vec::with_capacity(lines.len());
        for line in lines {
            let key = squash(line);
            let at = (at_cursor..n)
                .chain(0..at_cursor.min(n))
                .find(|&i| self.keys[i] == key)?;
            at_cursor = at + 1;
            out.push(self.blocks.get(at)?);
        }
        self.cursor = at_cursor;
        Some(out)
    }
}

/// The boundary examples of one page: the segmenter walks the page, and at every headline
/// run after body text the block labels say whether the run opens an item.
pub fn boundary_examples(
    text: &str,
    blocks: &[LabelledBlock],
    words: &dyn Fn(&str) -> bool,
) -> Vec<(Vec<f64>, bool)> {
    let mut finder = Finder::new(blocks);
    let mut oracle = |lines: &[&str]| -> Option<bool> {
        let run: Vec<&LabelledBlock> = finder.find(lines)?;
        opens_item(&run)
    };
    let normalized = normalize(text);
    super::boundary_decisions(&normalized, words, &mut oracle)
}

/// The labeller examples of one page ([`super::labeller`]): the lines of every headline run
/// of the blocks layout (and every displaced headline block) that holds a kicker, title or
/// column label, with their features and their blocks' labels.
pub fn head_examples(
    text: &str,
    blocks: &[LabelledBlock],
    words: &dyn Fn(&str) -> bool,
) -> Vec<(Vec<Vec<u16>>, Vec<Label>)> {
    use super::units::{Layout, Unit, units};
    let mut finder = Finder::new(blocks);
    let mut labels_of = |lines: &[&str]| -> Option<Vec<Label>> {
        let out: Vec<Label> = finder
            .find(lines)?
            .into_iter()
            .map(|b| Label::of_block(&b.label))
            .collect();
        let opens = out
            .iter()
            .any(|l| matches!(l, Label::Kicker | Label::Title | Label::Section));
        opens.then_some(out)
    };
    let normalized = normalize(text);
    let (layout, units) = units(&normalized, words);
    let mut out = Vec::new();
    if layout != Layout::Blocks {
        return out;
    }
    let lead = |p: &str| super::byline::split_lead(p).is_some();
    for (k, u) in units.iter().enumerate() {
        let (lines, lead_after): (Vec<&str>, bool) = match u {
            Unit::Run(lines) => (
                lines
                    .iter()
                    .filter(|l| !l.is_empty())
                    .map(String::as_str)
                    .collect(),
                matches!(units.get(k + 1), Some(Unit::Para(p)) if lead(&p.text)),
            ),
            Unit::Para(p) if !p.displaced.is_empty() => (
                p.displaced.iter().map(String::as_str).collect(),
                p.text.get(p.displaced_at..).is_some_and(|t| lead(t.trim())),
            ),
            _ => continue,
        };
        if lines.is_empty() {
            continue;
        }
        if let Some(y) = labels_of(&lines) {
            out.push((super::labeller::features(&lines, lead_after, words), y));
        }
    }
    out
}

/// Longest block (visible characters) taken as a possible headline line in join examples.
const MAX_HEAD_LINE_CHARS: usize = 50;

/// The join examples of one page: every pair of neighbouring blocks of which one is a
/// headline-block line and both are short enough to be one (a page header or a prompt over a
/// headline, the next item's headline under a subhead are negatives); positive when both are
/// lines of one item's title (a headline wrapped over two blocks).
pub fn join_examples(
    blocks: &[LabelledBlock],
    words: &dyn Fn(&str) -> bool,
) -> Vec<(Vec<f64>, bool)> {
    let short = |b: &LabelledBlock| {
        super::shape::visible_at_most(&b.text, MAX_HEAD_LINE_CHARS) && !b.text.contains('。')
    };
    blocks
        .windows(2)
        .filter(|w| (is_head(&w[0].label) || is_head(&w[1].label)) && short(&w[0]) && short(&w[1]))
        .map(|w| {
            let y = w[0].label == "title"
                && w[1].label == "title"
                && !w[1].start
                && w[0].item.is_some()
                && w[0].item == w[1].item;
            (join_features(&w[0].text, &w[1].text, words), y)
        })
        .collect()
}

/// Fits the join weights.
pub fn fit_join(examples: &[(Vec<f64>, bool)], opts: FitOptions) -> Vec<f64> {
    fit(examples, JOIN_FEATURES.len(), opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(text: &str, label: &str, item: &str, start: bool) -> LabelledBlock {
        LabelledBlock {
            text: text.to_owned(),
            label: label.to_owned(),
            item: Some(item.to_owned()),
            start,
        }
    }

    #[test]
    fn runs_after_text_are_labelled_by_their_blocks() {
        let body = "工作人员走访企业，了解生产经营情况，帮助解决实际困难。";
        let page = format!("第一篇标题\n\n{body}\n\n小标题\n\n{body}\n\n第二篇标题\n\n{body}\n");
        let blocks = vec![
            block("第一篇标题", "title", "a", true),
            block(body, "body", "a", false),
            block("小标题", "subhead", "a", false),
            block(body, "body", "a", false),
            block("第二篇标题", "title", "b", true),
            block(body, "body", "b", false),
        ];
        let ex = boundary_examples(&page, &blocks, &|_| false);
        let labels: Vec<bool> = ex.iter().map(|(_, y)| *y).collect();
        assert_eq!(labels, vec![false, true]);
    }

    #[test]
    fn only_title_over_title_is_a_join() {
        let blocks = vec![
            block("引题一行", "kicker", "a", true),
            block("市教育局：全市中小学", "title", "a", false),
            block("暑期一律不得组织有偿补课", "title", "a", false),
            block("——副题", "subtitle", "a", false),
            block("正文。", "body", "a", false),
        ];
        let ex = join_examples(&blocks, &|_| false);
        let labels: Vec<bool> = ex.iter().map(|(_, y)| *y).collect();
        assert_eq!(labels, vec![false, true, false]);
    }
}
