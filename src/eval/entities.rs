//! Exact-match precision, recall and F1 per entity kind, for spans (a predicted span counts
//! when kind, start and end all match a gold span) or for the entity strings of an article
//! (as an event lists them).

use jieba_rs::Jieba;

use crate::model::{Article, ItemKind};
use crate::pipeline::entities::bio::BioSentence;
use crate::pipeline::entities::{Kind, Reference, Span, Tagger};
use crate::pipeline::nlp::Enricher;
use crate::pipeline::tokens::{ArticleTokens, Field};

/// True positives, false positives and false negatives of one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Predicted and gold.
    pub tp: usize,
    /// Predicted, not gold.
    pub fp: usize,
    /// Gold, not predicted.
    pub fn_: usize,
}

impl Counts {
    /// Precision (1 when nothing was predicted).
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    /// Recall (1 when there was nothing to find).
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    /// The harmonic mean of precision and recall.
    pub fn f1(&self) -> f64 {
        super::f1(self.precision(), self.recall())
    }

    fn add(&mut self, other: Counts) {
        self.tp += other.tp;
        self.fp += other.fp;
        self.fn_ += other.fn_;
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

/// Counts per kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scores {
    /// Indexed like [`Kind::ALL`].
    pub kinds: [Counts; 3],
}

impl Scores {
    /// The counts of `kind`.
    pub fn of(&self, kind: Kind) -> Counts {
        self.kinds[kind_index(kind)]
    }

    /// The counts over all kinds (micro average).
    pub fn all(&self) -> Counts {
        let mut c = Counts::default();
        for k in self.kinds {
            c.add(k);
        }
        c
    }

    /// Adds the counts of `other`.
    pub fn merge(&mut self, other: &Scores) {
        for (a, b) in self.kinds.iter_mut().zip(other.kinds) {
            a.add(b);
        }
    }

    /// Scores the predicted spans of one sentence against its gold spans.
    pub fn add_spans(&mut self, gold: &[Span], predicted: &[Span]) {
        for p in predicted {
            let c = &mut self.kinds[kind_index(p.kind)];
            if gold.contains(p) {
                c.tp += 1;
            } else {
                c.fp += 1;
            }
        }
        for g in gold {
            if !predicted.contains(g) {
                self.kinds[kind_index(g.kind)].fn_ += 1;
            }
        }
    }

    /// Scores the distinct entity strings of one article of `kind`.
    pub fn add_strings(&mut self, kind: Kind, gold: &[String], predicted: &[String]) {
        let c = &mut self.kinds[kind_index(kind)];
        let mut seen: Vec<&String> = Vec::new();
        for p in predicted {
            if seen.contains(&p) {
                continue;
            }
            seen.push(p);
            if gold.contains(p) {
                c.tp += 1;
            } else {
                c.fp += 1;
            }
        }
        let mut seen: Vec<&String> = Vec::new();
        for g in gold {
            if seen.contains(&g) {
                continue;
            }
            seen.push(g);
            if !predicted.contains(g) {
                c.fn_ += 1;
            }
        }
    }
}

fn kind_index(kind: Kind) -> usize {
    match kind {
        Kind::Person => 0,
        Kind::Place => 1,
        Kind::Organization => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(kind: Kind, start: usize, end: usize) -> Span {
        Span { kind, start, end }
    }

    #[test]
    fn a_span_counts_only_when_kind_and_both_ends_match() {
        let gold = [span(Kind::Person, 0, 2), span(Kind::Place, 3, 6)];
        let pred = [
            span(Kind::Person, 0, 2),
            span(Kind::Place, 3, 5),
            span(Kind::Organization, 7, 9),
        ];
        let mut s = Scores::default();
        s.add_spans(&gold, &pred);
        assert_eq!(
            s.of(Kind::Person),
            Counts {
                tp: 1,
                fp: 0,
                fn_: 0
            }
        );
        assert_eq!(
            s.of(Kind::Place),
            Counts {
                tp: 0,
                fp: 1,
                fn_: 1
            }
        );
        assert_eq!(
            s.all(),
            Counts {
                tp: 1,
                fp: 2,
                fn_: 1
            }
        );
        assert!((s.all().precision() - 1.0 / 3.0).abs() < 1e-9);
        assert!((s.all().recall() - 0.5).abs() < 1e-9);
        assert!((s.all().f1() - 0.4).abs() < 1e-9);
    }

    #[test]
    fn strings_are_counted_once_per_article() {
        let mut s = Scores::default();
        let g = vec!["甲乙".to_owned(), "甲乙".to_owned(), "丙丁".to_owned()];
        let p = vec!["甲乙".to_owned(), "戊己".to_owned(), "戊己".to_owned()];
        s.add_strings(Kind::Person, &g, &p);
        assert_eq!(
            s.of(Kind::Person),
            Counts {
                tp: 1,
                fp: 1,
                fn_: 1
            }
        );
        assert_eq!(Counts::default().f1(), 1.0);
    }
}

/// The scores of a tagger and of the POS baseline on the same test sentences.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Evaluation {
    /// Test sentences.
    pub sentences: usize,
    /// The tagger's spans (exact span match).
    pub tagger_spans: Scores,
    /// The tagger's entity strings as the event lists them (each sentence a one-article page).
    pub tagger_strings: Scores,
    /// The POS method's entity strings ([`Enricher::enrich_page_pos_entities`]), likewise.
    pub baseline_strings: Scores,
}

impl Evaluation {
    /// Adds the counts of `other` (another fold).
    pub fn merge(&mut self, other: &Evaluation) {
        self.sentences += other.sentences;
        self.tagger_spans.merge(&other.tagger_spans);
        self.tagger_strings.merge(&other.tagger_strings);
        self.baseline_strings.merge(&other.baseline_strings);
    }
}

/// The text of the spans of `kind`, without whitespace.
fn span_strings(chars: &[char], spans: &[Span], kind: Kind) -> Vec<String> {
    spans
        .iter()
        .filter(|s| s.kind == kind)
        .filter_map(|s| chars.get(s.start..s.end))
        .map(|t| t.iter().filter(|c| !c.is_whitespace()).collect())
        .collect()
}

/// Scores `tagger` and the POS baseline `baseline` on `test`, each sentence tokenised by
/// `jieba` and processed as a one-article page. With `reference`, the exact spans are decoded
/// from its slow emissions instead of the tagger's records (the event strings stay the
/// tagger's).
pub fn evaluate(
    jieba: &Jieba,
    tagger: &Tagger,
    reference: Option<&Reference>,
    baseline: &Enricher,
    test: &[&BioSentence],
) -> Evaluation {
    let mut e = Evaluation::default();
    for s in test {
        let article = Article::new(ItemKind::Article, None, vec![s.text.clone()]);
        let tokens = ArticleTokens::new(jieba, &article);
        let chars: Vec<char> = article.text.chars().collect();
        let gold = s.spans();
        if chars.len() != s.tags.len() {
            // The article's text is not the sentence (blank sentence): nothing to score.
            continue;
        }
        e.sentences += 1;
        let predicted = tokens
            .field(Field::Body)
            .map(|f| match reference {
                Some(r) => r.tag(f.text, &f.tokens),
                None => tagger.tag(f.text, &f.tokens),
            })
            .unwrap_or_default();
        e.tagger_spans.add_spans(&gold, &predicted);
        let found = tagger.article_entities(&tokens);
        let pos = baseline
            .enrich_page_pos_entities(
                jieba,
                std::slice::from_ref(&article),
                std::slice::from_ref(&tokens),
            )
            .pop()
            .unwrap_or_default();
        for kind in Kind::ALL {
            let g = span_strings(&chars, &gold, kind);
            let (t, b) = match kind {
                Kind::Person => (&found.people, &pos.people),
                Kind::Place => (&found.places, &pos.places),
                Kind::Organization => (&found.organizations, &pos.organizations),
            };
            e.tagger_strings.add_strings(kind, &g, t);
            e.baseline_strings.add_strings(kind, &g, b);
        }
    }
    e
}
