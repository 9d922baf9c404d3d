//! Classifier metrics on labelled articles, for `pagesift-dev eval-classifier` and the tests — safety
//! precision/recall/F1, primary-topic accuracy on safety articles, event-kind accuracy,
//! incident recall — for the model file as it is, or k-fold cross-validated (each held-out
//! fold scored by a model `train` fitted on the other folds only). The naive baseline "title or
//! lead contains 安全/事故/火/洪/疫" is reported in the same run.

use serde::Serialize;
use sha2::{Digest, Sha256};

use jieba_rs::Jieba;

use crate::dataset::Labelled;
use crate::model::{EventKind, Safety, Topic};
use crate::pipeline::classify::{Classifier, Gold, apply_photo_context};
use crate::train::classifier::Prepared;

/// Counts behind the metrics.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Metrics {
    /// Articles scored.
    pub articles: usize,
    /// Gold safety articles.
    pub gold_safety: usize,
    /// Predicted safety and gold safety.
    pub true_positives: usize,
    /// Predicted safety, gold not.
    pub false_positives: usize,
    /// Gold safety, predicted not.
    pub false_negatives: usize,
    /// Gold safety articles whose predicted primary topic is one of their gold topics.
    pub primary_correct: usize,
    /// True positives whose predicted event kind is the gold one.
    pub kind_correct: usize,
    /// Gold incident reports (event kind `accident`).
    pub incidents: usize,
    /// Incident reports predicted safety with a primary topic among their gold topics.
    pub incidents_caught: usize,
}

fn ratio(a: usize, b: usize) -> f64 {
    // Counts are small: the conversions are exact.
    #[allow(clippy::cast_precision_loss)]
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

impl Metrics {
    /// Adds one article's gold labels and prediction.
    pub fn add(&mut self, gold: &crate::pipeline::classify::Gold, predicted: &Safety) {
        self.articles += 1;
        let primary_ok = predicted
            .primary
            .is_some_and(|p| predicted.is_safety && gold.topics.contains(&p));
        match (gold.safety, predicted.is_safety) {
            (true, true) => self.true_positives += 1,
            (false, true) => self.false_positives += 1,
            (true, false) => self.false_negatives += 1,
            (false, false) => {}
        }
        if gold.safety {
            self.gold_safety += 1;
            self.primary_correct += usize::from(primary_ok);
            if predicted.is_safety && predicted.event_kind == gold.event_kind {
                self.kind_correct += 1;
            }
            if gold.event_kind == Some(EventKind::Accident) {
                self.incidents += 1;
                self.incidents_caught += usize::from(primary_ok);
            }
        }
    }

    /// Safety precision.
    pub fn precision(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_positives,
        )
    }
    /// Safety recall.
    pub fn recall(&self) -> f64 {
        ratio(self.true_positives, self.gold_safety)
    }
    /// Safety F1.
    pub fn f1(&self) -> f64 {
        super::f1(self.precision(), self.recall())
    }
    /// Primary-topic accuracy over gold safety articles.
    pub fn primary_accuracy(&self) -> f64 {
        ratio(self.primary_correct, self.gold_safety)
    }
    /// Event-kind accuracy over true positives.
    pub fn kind_accuracy(&self) -> f64 {
        ratio(self.kind_correct, self.true_positives)
    }
    /// Incident recall with the right primary topic.
    pub fn incident_recall(&self) -> f64 {
        ratio(self.incidents_caught, self.incidents)
    }

    /// The counts and every ratio, as JSON.
    pub fn summary(&self) -> serde_json::Value {
        serde_json::json!({
            "counts": self,
            "safety_precision": self.precision(),
            "safety_recall": self.recall(),
            "safety_f1": self.f1(),
            "primary_topic_accuracy": self.primary_accuracy(),
            "event_kind_accuracy": self.kind_accuracy(),
            "incident_recall": self.incident_recall(),
        })
    }

    /// Writes the one-line report `NAME P … R … F1 …`.
    pub fn print(&self, out: &mut impl std::io::Write, name: &str) -> std::io::Result<()> {
        writeln!(
            out,
            "{name:<26} P {:.3}  R {:.3}  F1 {:.3}  primary {:.3}  kind {:.3}  incidents {:.3} ({}/{})  [tp {} fp {} fn {} of {}]",
            self.precision(),
            self.recall(),
            self.f1(),
            self.primary_accuracy(),
            self.kind_accuracy(),
            self.incident_recall(),
            self.incidents_caught,
            self.incidents,
            self.true_positives,
            self.false_positives,
            self.false_negatives,
            self.articles,
        )
    }
}

/// Terms of the naive baseline.
pub const BASELINE_TERMS: [&str; 5] = ["安全", "事故", "火", "洪", "疫"];

/// The naive baseline: safety when the kicker, headline, subtitle or the first 200 body
/// characters contain 安全/事故/火/洪/疫 (no topic, no kind).
pub fn baseline(article: &crate::model::Article) -> Safety {
    let lead: String = article.text.chars().take(200).collect();
    let hit = [&article.kicker, &article.title, &article.subtitle]
        .into_iter()
        .flatten()
        .chain(std::iter::once(&lead))
        .any(|f| BASELINE_TERMS.iter().any(|t| f.contains(t)));
    Safety {
        is_safety: hit,
        ..Safety::default()
    }
}

/// The fold of an article: stratified by its safety label, ordered by a hash of its id.
pub fn assign_folds(data: &[Labelled], k: usize) -> Vec<usize> {
    let mut order: Vec<(bool, [u8; 32], usize)> = data
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let h: [u8; 32] = Sha256::digest(format!("pagesift-cv:{}", l.id)).into();
            (!l.gold.safety, h, i)
        })
        .collect();
    order.sort();
    let mut folds = vec![0; data.len()];
    for (rank, (_, _, i)) in order.into_iter().enumerate() {
        folds[i] = rank % k.max(1);
    }
    folds
}

/// What a fold fits: the learned layer (from articles prepared once), or the old lexicon model.
#[derive(Debug, Clone, Copy)]
pub enum Fitter<'a> {
    /// The learned layer of `prior` (which has a `learned` section); `prepared` holds every
    /// article of the pool the indices point into, in order.
    Learned {
        /// The lexicon with its learned section.
        prior: &'a Classifier,
        /// The pool, prepared.
        prepared: &'a Prepared,
    },
    /// The old lexicon model: the lexicon weights re-fitted (`prior` has no learned section).
    Lexicon {
        /// The lexicon without its learned section.
        prior: &'a Classifier,
    },
}

impl Fitter<'_> {
    /// Fits on the pool articles `train` and returns the classifier.
    pub fn fit(
        &self,
        jieba: &Jieba,
        pool: &[&Labelled],
        train: &[usize],
    ) -> anyhow::Result<Classifier> {
        let model = match self {
            Fitter::Learned { prior, prepared } => {
                crate::train::classifier::train_prepared(prior, prepared, train)?
            }
            Fitter::Lexicon { prior } => {
                let articles: Vec<&Labelled> =
                    train.iter().filter_map(|i| pool.get(*i).copied()).collect();
                crate::train::classifier::train(prior, jieba, &articles)?
            }
        };
        Ok(Classifier::new(model)?)
    }
}

/// Scores articles one by one with `classifier`, then applies the page-context rule to runs of
/// truth entries (see [`apply_page_context`]).
pub fn predict(classifier: &Classifier, jieba: &Jieba, test: &[&Labelled]) -> Vec<Safety> {
    let mut out: Vec<Safety> = test
        .iter()
        .map(|l| classifier.classify(jieba, &l.article))
        .collect();
    let owned: Vec<Labelled> = test.iter().map(|l| (*l).clone()).collect();
    apply_page_context(&owned, &mut out);
    out
}

/// Cross-validated predictions for the pool articles `tested` (in that order): each scored by a
/// model fitted on the other folds of `tested` plus every pool article of `always` (texts that
/// are only ever training data, like the written ones).
pub fn cross_validate(
    fitter: Fitter<'_>,
    jieba: &Jieba,
    pool: &[&Labelled],
    tested: &[usize],
    always: &[usize],
    k: usize,
) -> anyhow::Result<Vec<Safety>> {
    cross_validate_scored(fitter, jieba, pool, tested, always, k, false).map(|(p, _)| p)
}

/// One article's raw learned scores, by name (see [`Classifier::raw_scores`]).
pub type RawScores = Vec<(String, f64)>;

/// [`cross_validate`], with each tested article's raw learned scores
/// ([`Classifier::raw_scores`]) when `raw` (else empty lists).
pub fn cross_validate_scored(
    fitter: Fitter<'_>,
    jieba: &Jieba,
    pool: &[&Labelled],
    tested: &[usize],
    always: &[usize],
    k: usize,
    raw: bool,
) -> anyhow::Result<(Vec<Safety>, Vec<RawScores>)> {
    let articles: Vec<Labelled> = tested.iter().map(|i| pool[*i].clone()).collect();
    let folds = assign_folds(&articles, k);
    let mut predictions = vec![Safety::default(); tested.len()];
    let mut scores = vec![Vec::new(); tested.len()];
    for fold in 0..k.max(1) {
        let train: Vec<usize> = tested
            .iter()
            .zip(&folds)
            .filter(|(_, f)| **f != fold)
            .map(|(i, _)| *i)
            .chain(always.iter().copied())
            .collect();
        let classifier = fitter.fit(jieba, pool, &train)?;
        for (at, (i, _)) in tested
            .iter()
            .zip(&folds)
            .enumerate()
            .filter(|(_, (_, f))| **f == fold)
        {
            predictions[at] = classifier.classify(jieba, &pool[*i].article);
            if raw {
                scores[at] = classifier.raw_scores(jieba, &pool[*i].article);
            }
        }
    }
    apply_page_context(&articles, &mut predictions);
    Ok((predictions, scores))
}

/// Per gold primary topic: articles, caught (predicted safety), caught with a right primary.
pub fn topic_recall(gold: &[&Gold], predicted: &[Safety]) -> Vec<(Topic, usize, usize, usize)> {
    Topic::ALL
        .iter()
        .filter(|t| t.is_safety())
        .map(|t| {
            let mut n = (0, 0, 0);
            for (g, p) in gold.iter().zip(predicted) {
                if g.safety && g.topics.first() == Some(t) {
                    n.0 += 1;
                    n.1 += usize::from(p.is_safety);
                    n.2 += usize::from(
                        p.is_safety && p.primary.is_some_and(|x| g.topics.contains(&x)),
                    );
                }
            }
            (*t, n.0, n.1, n.2)
        })
        .collect()
}

/// The confusion table of primary topics: `table[gold][predicted]`, with index 6 for "not
/// safety", over the six safety topics in [`Topic::ALL`] order (gold: the first topic of a
/// safety article).
pub fn confusion(gold: &[&Gold], predicted: &[Safety]) -> [[usize; 7]; 7] {
    let index = |safety: bool, t: Option<Topic>| {
        t.filter(|_| safety)
            .and_then(|t| Topic::ALL.iter().take(6).position(|x| *x == t))
            .unwrap_or(6)
    };
    let mut table = [[0; 7]; 7];
    for (g, p) in gold.iter().zip(predicted) {
        table[index(g.safety, g.topics.first().copied())][index(p.is_safety, p.primary)] += 1;
    }
    table
}

/// Applies the pipeline's page-context rule (photo captions, see
/// [`crate::pipeline::classify::apply_photo_context`]) to runs of truth entries of one page
/// (ids `PAGE-ITEM`); corpus articles (ids `DATE-PAGE-ITEM`) stand alone.
pub fn apply_page_context(data: &[Labelled], predictions: &mut [Safety]) {
    let page_of = |id: &str| -> Option<String> {
        let parts: Vec<&str> = id.split('-').collect();
        (parts.len() == 2).then(|| parts[0].to_owned())
    };
    let mut start = 0;
    while start < data.len() {
        let page = page_of(&data[start].id);
        let mut end = start + 1;
        while end < data.len() && page.is_some() && page_of(&data[end].id) == page {
            end += 1;
        }
        if page.is_some() {
            let articles: Vec<crate::model::Article> =
                data[start..end].iter().map(|l| l.article.clone()).collect();
            apply_photo_context(&articles, &mut predictions[start..end]);
        }
        start = end;
    }
}
