//! Lexical cohesion between runs of paragraphs, TextTiling-style: paragraphs become bags of
//! jieba content words, and two windows are compared by cosine similarity. Used where layout
//! cues run out: deciding whether a bare headline run is an in-article subhead or a new article,
//! and finding where an article whose headline was displaced really starts.

use std::collections::HashMap;

use jieba_rs::Jieba;

/// Function words too common to carry topic (two characters or more; single characters are
/// dropped anyway).
const STOPWORDS: &[&str] = &[
    "我们",
    "他们",
    "你们",
    "自己",
    "这个",
    "那个",
    "一个",
    "这些",
    "那些",
    "没有",
    "已经",
    "进行",
    "开展",
    "工作",
    "今年",
    "去年",
    "目前",
    "同时",
    "以及",
    "因为",
    "所以",
    "如果",
    "但是",
    "还是",
    "就是",
    "可以",
    "通过",
    "对于",
    "其中",
    "这样",
    "表示",
    "介绍",
    "记者",
    "相关",
    "有关",
    "不断",
    "进一步",
    "一些",
    "方面",
    "问题",
    "情况",
    "要求",
    "加强",
    "推动",
    "推进",
    "发展",
    "建设",
    "全面",
    "坚持",
    "提高",
    "提升",
    "实现",
];

/// A bag of content words with counts.
#[derive(Debug, Clone, Default)]
pub struct Bag {
    counts: HashMap<String, f64>,
}

impl Bag {
    /// The content words of `text`: jieba tokens of two or more characters with a CJK
    /// ideograph, stopwords removed.
    pub fn of(jieba: &Jieba, text: &str) -> Bag {
        let mut bag = Bag::default();
        for token in jieba.cut(text, false) {
            let word = token.word;
            if word.chars().count() < 2
                || !word.chars().any(super::shape::is_cjk)
                || STOPWORDS.contains(&word)
            {
                continue;
            }
            *bag.counts.entry(word.to_owned()).or_insert(0.0) += 1.0;
        }
        bag
    }

    /// Adds another bag's counts into this one.
    pub fn add(&mut self, other: &Bag) {
        for (w, c) in &other.counts {
            *self.counts.entry(w.clone()).or_insert(0.0) += c;
        }
    }

    /// The union of several bags.
    pub fn union<'a>(bags: impl IntoIterator<Item = &'a Bag>) -> Bag {
        let mut out = Bag::default();
        for b in bags {
            out.add(b);
        }
        out
    }

    /// Cosine similarity in `[0, 1]`; 0 when either bag is empty.
    pub fn cosine(&self, other: &Bag) -> f64 {
        let (small, large) = if self.counts.len() <= other.counts.len() {
            (self, other)
        } else {
            (other, self)
        };
        let dot: f64 = small
            .counts
            .iter()
            .filter_map(|(w, a)| large.counts.get(w).map(|b| a * b))
            .sum();
        let norm = |b: &Bag| b.counts.values().map(|c| c * c).sum::<f64>().sqrt();
        let denom = norm(self) * norm(other);
        if denom == 0.0 { 0.0 } else { dot / denom }
    }
}

/// The cut point in `bags[lo..=hi]` (a paragraph index `p`, `lo <= p <= hi`) where the text
/// before and after is least alike: windows of `window` paragraphs either side, the lowest
/// cosine wins (the earliest on ties).
pub fn weakest_cut(bags: &[Bag], lo: usize, hi: usize, window: usize) -> Option<usize> {
    let hi = hi.min(bags.len().saturating_sub(1));
    let mut best: Option<(usize, f64)> = None;
    for p in lo.max(1)..=hi {
        let left = Bag::union(&bags[p.saturating_sub(window)..p]);
        let right = Bag::union(&bags[p..(p + window).min(bags.len())]);
        let sim = left.cosine(&right);
        if best.is_none_or(|(_, s)| sim < s) {
            best = Some((p, sim));
        }
    }
    best.map(|(p, _)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_on_one_topic_are_more_alike_than_texts_on_two() {
        let jieba = Jieba::new();
        let a = Bag::of(
            &jieba,
            "暴雨过后，环卫工人清理路面淤泥，冲洗车反复冲洗路面。",
        );
        let b = Bag::of(&jieba, "淤泥运走后，冲洗车对路面进行冲洗，环卫工人清扫。");
        let c = Bag::of(&jieba, "博物馆的文物保护人员检查古建筑的排水系统。");
        assert!(a.cosine(&b) > a.cosine(&c));
        assert_eq!(Bag::default().cosine(&a), 0.0);
    }

    #[test]
    fn the_weakest_cut_falls_between_two_topics() {
        let jieba = Jieba::new();
        let texts = [
            "文物保护所检查古建筑排水系统，文物安全。",
            "文物保护人员巡查古建筑，确保文物不受雨水侵害。",
            "环卫工人清理路面淤泥，冲洗车冲洗路面。",
            "淤泥运走后，环卫车辆冲洗路面，路面恢复整洁。",
        ];
        let bags: Vec<Bag> = texts.iter().map(|t| Bag::of(&jieba, t)).collect();
        assert_eq!(weakest_cut(&bags, 1, 3, 2), Some(2));
    }
}
