//! The learned layer of the classifier: one L2-regularised logistic regression per topic and per
//! event kind over all of an article's words, per field, plus the lexicon scores as prior
//! features.
//!
//! ```text
//! ArticleTokens (the one jieba pass of the pipeline)
//!   -> units: dictionary words of two characters or more, and character bigrams inside the
//!      runs of single characters jieba leaves where its dictionary knows no word
//!   -> per field group (headline block | lead | rest of the body and captions):
//!      x = 1 + ln(count) over the units of the model's vocabulary, L2-normalised per group
//!      (a word in the headline and the same word deep in a long body weigh differently)
//!   -> + prior features: per lexicon topic and kind the squashed headline / lead / body sums of
//!      the lexicon scan, and which topic the incident layer names
//!   -> score_s = sigmoid(bias_s + w_s · x) per scorer s
//! ```
//!
//! The weights are data ([`Learned`], the `learned` section of the model file), fitted by
//! `pagesift-dev train` (`crate::train::classifier`); the vocabulary is what survived the
//! training's minimum document frequency and pruning, so a model cannot hold a word of a single
//! article. The feature code here is shared by training and inference, so both see the same
//! numbers.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::ModelError;
use crate::model::{EventKind, Topic};
use crate::pipeline::normalize::is_cjk;
use crate::pipeline::tokens::{ArticleTokens, Field};

/// Field groups of the word features.
pub const GROUPS: usize = 3;
/// The headline block (kicker, headline, subtitle).
pub const HEADLINE: usize = 0;
/// The lead (see [`FeatureParams`]).
pub const LEAD: usize = 1;
/// The rest of the body and the captions.
pub const BODY: usize = 2;

/// The `learned` section of a model file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Learned {
    /// How an article is cut into features.
    #[serde(default)]
    pub features: FeatureParams,
    /// Hyper-parameters of `pagesift-dev train`.
    #[serde(default)]
    pub training: LearnedTraining,
    /// One scorer per topic (empty in a lexicon: `train` fills it).
    #[serde(default)]
    pub topics: BTreeMap<Topic, LearnedScorer>,
    /// One scorer per event kind, fitted on safety articles only; the highest logit wins.
    #[serde(default)]
    pub event_kinds: BTreeMap<EventKind, LearnedScorer>,
    /// One scorer of safety against everything else, fitted on all articles (every safety
    /// article is one of its positives, whatever its topic). When present it decides whether an
    /// article is safety (score over its threshold) and the topic scorers only pick the primary
    /// topic among the safety topics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety: Option<LearnedScorer>,
}

/// Where the lead ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeatureParams {
    /// The lead is the first paragraph, but at least this many characters of the body…
    pub lead_min_chars: usize,
    /// …and at most this many.
    pub lead_max_chars: usize,
    /// Main-subject prior features: per lexicon topic, the share of its (positive) lexicon
    /// evidence that stands in the headline block or the lead, and whether all of it stands in
    /// the body; the same two pooled over the safety topics. The learned weights of these
    /// decide how much body-only evidence counts (no hand rule).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub subject: bool,
}

impl Default for FeatureParams {
    fn default() -> FeatureParams {
        FeatureParams {
            lead_min_chars: 100,
            lead_max_chars: 200,
            subject: false,
        }
    }
}

/// The main-subject features of [`FeatureParams::subject`] from per-topic `[headline, lead,
/// body]` lexicon sums (`safety[t]`: whether topic `t` is a safety topic): per topic the front
/// share and the body-only flag, then the same pooled over the safety topics.
pub fn subject_features(sums: &[[f64; 3]], safety: &[bool]) -> Vec<f64> {
    fn pair(front: f64, body: f64) -> [f64; 2] {
        let total = front + body;
        if total <= 0.0 {
            return [0.0, 0.0];
        }
        [front / total, if front <= 0.0 { 1.0 } else { 0.0 }]
    }
    let mut out = Vec::with_capacity(2 * sums.len() + 2);
    let (mut front_all, mut body_all) = (0.0, 0.0);
    for (i, s) in sums.iter().enumerate() {
        let [h, l, b] = s.map(|x| x.max(0.0));
        out.extend(pair(h + l, b));
        if safety.get(i).copied().unwrap_or(false) {
            front_all += h + l;
            body_all += b;
        }
    }
    out.extend(pair(front_all, body_all));
    out
}

/// Hyper-parameters of the learned layer's training (`pagesift-dev train`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LearnedTraining {
    /// A unit (word or bigram) is a feature only when it occurs in at least this many training
    /// articles.
    pub min_df: usize,
    /// L2 penalty `l2/2 · |w|²` of the topic scorers (the loss is summed over articles).
    pub l2: f64,
    /// The same for the event-kind scorers.
    pub kind_l2: f64,
    /// Weight of a positive article in a topic scorer's loss.
    pub positive_weight: f64,
    /// Most L-BFGS iterations per scorer.
    pub iterations: usize,
    /// Each topic's threshold is the highest score that keeps at least this recall of the
    /// topic's articles, on out-of-fold scores of the training data.
    pub recall: f64,
    /// Folds of that inner cross-validation (below 2: thresholds stay at 0.5).
    pub threshold_folds: usize,
    /// When above 0, each topic's threshold maximises the F-beta of the out-of-fold scores
    /// instead (beta > 1 favours recall); `recall` is then only reported.
    pub threshold_beta: f64,
    /// Thresholds are kept within `[min_threshold, max_threshold]`.
    pub min_threshold: f64,
    /// See `min_threshold`.
    pub max_threshold: f64,
    /// Weights are rounded to this many decimals…
    pub decimals: i32,
    /// …and a unit whose three weights are all below this in absolute value is dropped.
    pub prune: f64,
    /// Threads fitting scorers side by side (the result does not depend on it).
    pub threads: usize,
    /// Give the training one more feature, 1 for written texts, unpenalised and dropped from the
    /// model: it absorbs what the written texts share as a set (style, a high share of safety
    /// texts), so that everyday words of that style are not learned as safety evidence.
    pub source_feature: bool,
    /// Fit the safety scorer ([`Learned::safety`]) too.
    pub safety_scorer: bool,
    /// Choose the thresholds on the out-of-fold scores of the real articles only (not the
    /// written texts), when the training data has real articles of the class: those are scored
    /// as the deployed model scores an article, without the written-text column.
    pub threshold_real_only: bool,
    /// With the safety scorer: the article is safety when the geometric mean of the safety
    /// score and the best safety topic's score reaches the safety scorer's threshold (the
    /// decision needs both the pooled evidence and one topic's); that threshold is chosen on
    /// the inner cross-validation's out-of-fold geometric means.
    pub combine_safety: bool,
    /// The safety scorer's threshold is kept at or above this floor (the topic thresholds
    /// use `min_threshold`).
    pub safety_min_threshold: f64,
}

impl Default for LearnedTraining {
    fn default() -> LearnedTraining {
        LearnedTraining {
            min_df: 3,
            l2: 1.0,
            kind_l2: 1.0,
            positive_weight: 1.0,
            iterations: 150,
            recall: 0.95,
            threshold_folds: 4,
            threshold_beta: 0.0,
            min_threshold: 0.02,
            max_threshold: 0.9,
            decimals: 3,
            prune: 0.005,
            threads: 2,
            source_feature: true,
            safety_scorer: false,
            threshold_real_only: false,
            combine_safety: false,
            safety_min_threshold: 0.02,
        }
    }
}

/// One logistic scorer of the learned layer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LearnedScorer {
    /// The intercept.
    pub bias: f64,
    /// Topic scorers: the score the topic needs to be `primary` (in `(0, 1)`).
    #[serde(default = "half")]
    pub threshold: f64,
    /// Weights of the prior features, in [`super::Classifier::prior_features`] order.
    #[serde(default)]
    pub prior: Vec<f64>,
    /// Per unit: its weights in the headline block, the lead and the body.
    #[serde(default)]
    pub words: BTreeMap<String, [f64; GROUPS]>,
}

fn half() -> f64 {
    0.5
}

impl Learned {
    /// Checks the numbers; `n_prior` is the number of prior features the lexicon part of the
    /// model gives.
    pub fn check(&self, n_prior: usize) -> Result<(), ModelError> {
        let f = &self.features;
        if f.lead_min_chars > f.lead_max_chars {
            return Err(ModelError::BadNumber(
                "learned.features.lead_min_chars".to_owned(),
            ));
        }
        let named = self
            .topics
            .iter()
            .map(|(t, s)| (t.as_str(), s, true))
            .chain(self.event_kinds.iter().map(|(k, s)| (k.as_str(), s, false)))
            .chain(self.safety.iter().map(|s| ("safety", s, true)));
        for (name, s, topic) in named {
            if !s.bias.is_finite() || s.prior.iter().any(|w| !w.is_finite()) {
                return Err(ModelError::BadNumber(format!("learned.{name}")));
            }
            if topic && !(s.threshold > 0.0 && s.threshold < 1.0) {
                return Err(ModelError::BadNumber(format!("learned.{name}.threshold")));
            }
            if !s.prior.is_empty() && s.prior.len() != n_prior {
                return Err(ModelError::BadNumber(format!(
                    "learned.{name}.prior (needs {n_prior} weights, has {})",
                    s.prior.len()
                )));
            }
            for (unit, w) in &s.words {
                if unit.trim().is_empty() {
                    return Err(ModelError::EmptyTerm(format!("learned.{name}")));
                }
                if w.iter().any(|x| !x.is_finite()) {
                    return Err(ModelError::BadNumber(format!(
                        "learned.{name}.words.{unit}"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Whether the section holds fitted scorers (a lexicon's section only holds parameters).
    pub fn is_fitted(&self) -> bool {
        !self.topics.is_empty()
    }
}

/// The end of the lead in characters of the body: the first paragraph, kept within
/// `[lead_min_chars, lead_max_chars]`.
pub fn lead_end(body: &str, params: &FeatureParams) -> usize {
    let first = body.split('\n').next().map_or(0, |p| p.chars().count());
    first.clamp(
        params.lead_min_chars,
        params.lead_max_chars.max(params.lead_min_chars),
    )
}

/// Calls `f(group, unit, is_word)` for every unit of the article, in text order: each
/// dictionary word of two characters or more that holds a CJK ideograph (`is_word`), and each
/// pair of adjacent one-ideograph tokens (a character bigram of a stretch jieba's dictionary
/// does not cover).
pub fn visit_units<'a>(
    tokens: &ArticleTokens<'a>,
    params: &FeatureParams,
    mut f: impl FnMut(usize, &'a str, bool),
) {
    for field in &tokens.fields {
        let text = field.text;
        let lead = if field.field == Field::Body {
            lead_end(text, params)
        } else {
            0
        };
        let group_of = |start: usize| match field.field {
            Field::Kicker | Field::Title | Field::Subtitle => HEADLINE,
            Field::Body if start < lead => LEAD,
            Field::Body | Field::Caption(_) => BODY,
        };
        // The byte range of the previous token when it was one ideograph.
        let mut single: Option<(usize, usize)> = None;
        for t in &field.tokens {
            let chars = t.end - t.start;
            if chars == 1 {
                let han = t.word.chars().next().is_some_and(is_cjk);
                if han {
                    if let Some((start, prev_char)) = single
                        && let Some(bigram) = text.get(start..t.byte_end)
                    {
                        f(group_of(prev_char), bigram, false);
                    }
                    single = Some((t.byte_start, t.start));
                } else {
                    single = None;
                }
                continue;
            }
            single = None;
            if chars >= 2 && t.word.chars().any(is_cjk) {
                f(group_of(t.start), t.word, true);
            }
        }
    }
}

/// The values of one article's word features from its units `(unit id, group, is_word)` (one
/// entry per occurrence): `(unit id, group, value, is_word)` sorted by unit id then group, with
/// `is_word` when the unit occurred as a dictionary word; see [`normalise_groups`].
pub fn word_values(units: &mut [(u32, u8, bool)]) -> Vec<(u32, u8, f64, bool)> {
    // One integer key per entry (unit id, group, then the word flag, which only ORs).
    units.sort_unstable_by_key(|&(id, g, word)| {
        (u64::from(id) << 9) | (u64::from(g) << 1) | u64::from(word)
    });
    let mut out: Vec<(u32, u8, f64, bool)> = Vec::new();
    for &(id, g, word) in units.iter() {
        match out.last_mut() {
            Some((lid, lg, count, w)) if *lid == id && *lg == g => {
                *count += 1.0;
                *w |= word;
            }
            _ => out.push((id, g, 1.0, word)),
        }
    }
    normalise_groups(&mut out);
    out
}

/// Turns counts (`.2`, at least 1) into feature values: `1 + ln(count)`, L2-normalised over
/// the entries of each group (`.1`).
pub fn normalise_groups<T>(entries: &mut [(u32, u8, f64, T)]) {
    let mut norms = [0.0f64; GROUPS];
    for (_, g, v, _) in entries.iter_mut() {
        *v = 1.0 + v.ln();
        if let Some(n) = norms.get_mut(usize::from(*g)) {
            *n += *v * *v;
        }
    }
    let norms = norms.map(f64::sqrt);
    for (_, g, v, _) in entries.iter_mut() {
        let n = norms.get(usize::from(*g)).copied().unwrap_or(0.0);
        if n > 0.0 {
            *v /= n;
        }
    }
}

/// The decision score of [`LearnedTraining::combine_safety`]: the geometric mean of the
/// safety score and the best safety topic's score.
pub fn combined(safety: f64, best_topic: f64) -> f64 {
    (safety.max(0.0) * best_topic.max(0.0)).sqrt()
}

/// The compiled learned layer: a dense weight row per unit (groups × scorers).
#[derive(Debug)]
pub struct LearnedLayer {
    /// Unit string -> unit id.
    units: FxHashMap<String, u32>,
    /// Unit strings by id.
    names: Vec<String>,
    /// `weights[(id * GROUPS + group) * scorers + s]`.
    weights: Vec<f32>,
    /// Topics (model order) then event kinds.
    scorers: usize,
    topics: Vec<(Topic, f64, f64)>,
    kinds: Vec<(EventKind, f64)>,
    /// Prior weights per scorer (empty when the scorer has none).
    prior: Vec<Vec<f64>>,
    /// The safety scorer's threshold, when the model has one (it is the last scorer).
    safety: Option<f64>,
    /// The safety scorer's intercept.
    safety_bias: f64,
    /// See [`LearnedTraining::combine_safety`].
    combine: bool,
    features: FeatureParams,
}

/// The learned scores of one article.
#[derive(Debug, Clone, Default)]
pub struct Scores {
    /// Per topic (model order): `(topic, score, threshold, evidence units)`.
    pub topics: Vec<(Topic, f64, f64, Vec<String>)>,
    /// The event kind with the highest logit.
    pub event_kind: Option<EventKind>,
    /// The safety scorer's `(score, threshold)`, when the model has one; with
    /// [`LearnedTraining::combine_safety`] the score is [`combined`].
    pub safety: Option<(f64, f64)>,
}

impl LearnedLayer {
    /// Compiles a fitted section.
    pub fn new(learned: &Learned) -> LearnedLayer {
        let mut units: FxHashMap<String, u32> = FxHashMap::default();
        let mut names: Vec<String> = Vec::new();
        let all = learned
            .topics
            .values()
            .chain(learned.event_kinds.values())
            .chain(learned.safety.iter());
        for scorer in all.clone() {
            for unit in scorer.words.keys() {
                if !units.contains_key(unit) {
                    let id = u32::try_from(names.len()).unwrap_or(u32::MAX);
                    units.insert(unit.clone(), id);
                    names.push(unit.clone());
                }
            }
        }
        let scorers = learned.topics.len()
            + learned.event_kinds.len()
            + usize::from(learned.safety.is_some());
        let mut weights = vec![0.0f32; names.len() * GROUPS * scorers];
        for (s, scorer) in all.clone().enumerate() {
            for (unit, w) in &scorer.words {
                let Some(&id) = units.get(unit) else { continue };
                for (g, x) in w.iter().enumerate() {
                    // Weights are rounded to a few decimals: f32 holds them.
                    #[allow(clippy::cast_possible_truncation)]
                    let x = *x as f32;
                    weights[(id as usize * GROUPS + g) * scorers + s] = x;
                }
            }
        }
        LearnedLayer {
            units,
            names,
            weights,
            scorers,
            topics: learned
                .topics
                .iter()
                .map(|(t, s)| (*t, s.bias, s.threshold))
                .collect(),
            kinds: learned
                .event_kinds
                .iter()
                .map(|(k, s)| (*k, s.bias))
                .collect(),
            prior: all.map(|s| s.prior.clone()).collect(),
            safety: learned.safety.as_ref().map(|s| s.threshold),
            safety_bias: learned.safety.as_ref().map_or(0.0, |s| s.bias),
            combine: learned.training.combine_safety,
            features: learned.features.clone(),
        }
    }

    /// The word features of an article that the model knows.
    pub fn values(&self, tokens: &ArticleTokens<'_>) -> Vec<(u32, u8, f64, bool)> {
        let mut units: Vec<(u32, u8, bool)> = Vec::new();
        visit_units(tokens, &self.features, |g, unit, word| {
            if let Some(&id) = self.units.get(unit) {
                // Groups are below 3.
                #[allow(clippy::cast_possible_truncation)]
                units.push((id, g as u8, word));
            }
        });
        word_values(&mut units)
    }

    /// Scores an article from its word values (as [`LearnedLayer::values`] gives them:
    /// sorted by unit id) and prior features.
    pub fn score(&self, values: &[(u32, u8, f64, bool)], prior: &[f64]) -> Scores {
        let mut logits: Vec<f64> = self
            .topics
            .iter()
            .map(|t| t.1)
            .chain(self.kinds.iter().map(|k| k.1))
            .collect();
        if self.safety.is_some() {
            logits.push(self.safety_bias);
        }
        for (s, w) in self.prior.iter().enumerate() {
            logits[s] += w.iter().zip(prior).map(|(a, b)| a * b).sum::<f64>();
        }
        let row = |id: u32, g: u8| (id as usize * GROUPS + usize::from(g)) * self.scorers;
        for &(id, g, v, _) in values {
            let at = row(id, g);
            if let Some(ws) = self.weights.get(at..at + self.scorers) {
                for (l, w) in logits.iter_mut().zip(ws) {
                    *l += v * f64::from(*w);
                }
            }
        }
        let topics: Vec<(Topic, f64, f64, Vec<String>)> = self
            .topics
            .iter()
            .enumerate()
            .map(|(s, &(topic, _, threshold))| {
                // The values are sorted by unit id: the entries of one unit are adjacent, so
                // a unit's strength is summed into the last entry (one entry per unit).
                let mut ev: Vec<(f64, u32)> = Vec::new();
                for &(id, g, v, word) in values {
                    if !word {
                        continue;
                    }
                    let w = self.weights.get(row(id, g) + s).copied().unwrap_or(0.0);
                    if w > 0.0 {
                        match ev.last_mut() {
                            Some((c, last)) if *last == id => *c += v * f64::from(w),
                            _ => ev.push((v * f64::from(w), id)),
                        }
                    }
                }
                // Strongest first, ties by unit id (a total order over distinct units): the
                // best few selected, then only those sorted.
                let order =
                    |a: &(f64, u32), b: &(f64, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
                if ev.len() > super::MAX_EVIDENCE && super::MAX_EVIDENCE > 0 {
                    ev.select_nth_unstable_by(super::MAX_EVIDENCE - 1, order);
                    ev.truncate(super::MAX_EVIDENCE);
                }
                ev.sort_unstable_by(order);
                let evidence = ev
                    .iter()
                    .take(super::MAX_EVIDENCE)
                    .filter_map(|(_, id)| self.names.get(*id as usize).cloned())
                    .collect();
                (topic, super::sigmoid(logits[s]), threshold, evidence)
            })
            .collect();
        let n = self.topics.len();
        let event_kind = self
            .kinds
            .iter()
            .enumerate()
            .map(|(k, (kind, _))| (*kind, logits[n + k]))
            .reduce(|best, next| if next.1 > best.1 { next } else { best })
            .map(|(kind, _)| kind);
        let best_topic = topics
            .iter()
            .filter(|t| t.0.is_safety())
            .map(|t| t.1)
            .fold(0.0_f64, f64::max);
        let combine = self.combine;
        let safety = self.safety.and_then(|threshold| {
            logits.get(n + self.kinds.len()).map(|z| {
                let p = super::sigmoid(*z);
                let p = if combine { combined(p, best_topic) } else { p };
                (p, threshold)
            })
        });
        Scores {
            topics,
            event_kind,
            safety,
        }
    }

    /// Number of units in the vocabulary.
    pub fn vocabulary(&self) -> usize {
        self.names.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Article, ItemKind};

    use super::super::tests::JIEBA;

    fn units_of(title: &str, body: &str) -> Vec<(usize, String, bool)> {
        let jieba: &jieba_rs::Jieba = &JIEBA;
        let a = Article::new(
            ItemKind::Article,
            Some(title.to_owned()),
            vec![body.to_owned(), "第二段。".to_owned()],
        );
        let tokens = ArticleTokens::new(jieba, &a);
        let mut out = Vec::new();
        let params = FeatureParams {
            lead_min_chars: 2,
            lead_max_chars: 200,
            subject: false,
        };
        visit_units(&tokens, &params, |g, u, w| out.push((g, u.to_owned(), w)));
        out
    }

    #[test]
    fn units_are_words_per_field_group_and_bigrams_of_single_characters() {
        let units = units_of("火灾", "昨日发生火灾。");
        assert!(
            units.contains(&(HEADLINE, "火灾".to_owned(), true)),
            "{units:?}"
        );
        assert!(
            units.contains(&(LEAD, "火灾".to_owned(), true)),
            "{units:?}"
        );
        assert!(units.iter().all(|(_, u, _)| u.chars().count() >= 2));
        assert!(units.iter().any(|(g, _, _)| *g == BODY), "{units:?}");
        // Two one-character tokens side by side make a bigram that is not a word.
        let units = units_of("他在", "他在");
        assert!(units.iter().any(|(_, u, w)| u == "他在" && !w), "{units:?}");
    }

    #[test]
    fn values_are_log_counts_normalised_per_group() {
        let mut units = vec![(1, 0, true), (1, 0, true), (2, 0, false), (3, 2, true)];
        let v = word_values(&mut units);
        assert_eq!(v.len(), 3);
        let norm0: f64 = v.iter().filter(|e| e.1 == 0).map(|e| e.2 * e.2).sum();
        assert!((norm0 - 1.0).abs() < 1e-12);
        assert!(v[0].2 > v[1].2, "a repeated unit weighs more: {v:?}");
        assert!((v[2].2 - 1.0).abs() < 1e-12);
    }

    #[test]
    fn subject_features_give_the_front_share_and_the_body_only_flag() {
        // Topic 0 (safety): all in the headline; topic 1 (safety): body only; topic 2 (not
        // safety): nothing; negative sums count as nothing.
        let sums = [[2.0, 0.0, 0.0], [0.0, -1.0, 3.0], [0.0, 0.0, 0.0]];
        let f = subject_features(&sums, &[true, true, false]);
        assert_eq!(f.len(), 8);
        assert_eq!(&f[..6], &[1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
        // Pooled over the two safety topics: front 2 of 5, not body-only.
        assert!((f[6] - 0.4).abs() < 1e-12, "{f:?}");
        assert_eq!(f[7], 0.0);
        let f = subject_features(&[[0.0, 0.0, 1.0]], &[true]);
        assert_eq!(f, vec![0.0, 1.0, 0.0, 1.0]);
    }

    #[test]
    fn the_lead_is_the_first_paragraph_within_bounds() {
        let p = FeatureParams {
            lead_min_chars: 3,
            lead_max_chars: 5,
            subject: false,
        };
        assert_eq!(lead_end("一二\n三四五六七", &p), 3);
        assert_eq!(lead_end("一二三四\n五", &p), 4);
        assert_eq!(lead_end("一二三四五六七八", &p), 5);
    }

    #[test]
    fn a_scorer_uses_its_words_by_group_and_names_them_as_evidence() {
        let mut words = BTreeMap::new();
        words.insert("火灾".to_owned(), [3.0, 1.0, 0.1]);
        let learned = Learned {
            topics: [(
                Topic::Fire,
                LearnedScorer {
                    bias: -2.0,
                    threshold: 0.5,
                    prior: Vec::new(),
                    words,
                },
            )]
            .into_iter()
            .collect(),
            ..Learned::default()
        };
        let layer = LearnedLayer::new(&learned);
        let jieba: &jieba_rs::Jieba = &JIEBA;
        let head = Article::new(
            ItemKind::Article,
            Some("火灾".into()),
            vec!["无关。".into()],
        );
        let body = Article::new(
            ItemKind::Article,
            Some("新闻".into()),
            vec![format!("{}火灾", "其他内容。".repeat(60))],
        );
        let score = |a: &Article| {
            let t = ArticleTokens::new(jieba, a);
            layer.score(&layer.values(&t), &[])
        };
        let (h, b) = (score(&head), score(&body));
        assert!(h.topics[0].1 > 0.5 && b.topics[0].1 < 0.5, "{h:?} {b:?}");
        assert_eq!(h.topics[0].3, vec!["火灾".to_owned()]);
    }
}

#[cfg(test)]
mod safety_scorer_tests {
    use super::*;
    use crate::model::{Article, ItemKind};

    use super::super::tests::JIEBA;

    fn scorer(bias: f64, threshold: f64, word: &str, w: [f64; GROUPS]) -> LearnedScorer {
        LearnedScorer {
            bias,
            threshold,
            prior: Vec::new(),
            words: [(word.to_owned(), w)].into_iter().collect(),
        }
    }

    #[test]
    fn the_safety_scorer_scores_after_the_topics_and_kinds_with_its_own_threshold() {
        let learned = Learned {
            topics: [(Topic::Fire, scorer(-1.0, 0.5, "火灾", [1.0, 0.0, 0.0]))]
                .into_iter()
                .collect(),
            event_kinds: [(
                EventKind::Accident,
                scorer(0.0, 0.5, "火灾", [0.5, 0.0, 0.0]),
            )]
            .into_iter()
            .collect(),
            safety: Some(scorer(-2.0, 0.3, "火灾", [4.0, 0.0, 0.0])),
            ..Learned::default()
        };
        assert!(learned.check(0).is_ok());
        let layer = LearnedLayer::new(&learned);
        let jieba: &jieba_rs::Jieba = &JIEBA;
        let a = Article::new(
            ItemKind::Article,
            Some("火灾".into()),
            vec!["无关。".into()],
        );
        let t = ArticleTokens::new(jieba, &a);
        let s = layer.score(&layer.values(&t), &[]);
        let (p, threshold) = s.safety.expect("a safety score");
        // The headline holds one unit: its value is 1 after normalisation.
        assert!((p - super::super::sigmoid(2.0)).abs() < 1e-6, "{p}");
        assert!((threshold - 0.3).abs() < 1e-12);
        assert!((s.topics[0].1 - super::super::sigmoid(0.0)).abs() < 1e-6);
        // Combined: the geometric mean of the safety score and the best safety topic's.
        let both = Learned {
            training: LearnedTraining {
                combine_safety: true,
                ..LearnedTraining::default()
            },
            ..learned.clone()
        };
        let layer_both = LearnedLayer::new(&both);
        let (c, _) = layer_both
            .score(&layer_both.values(&t), &[])
            .safety
            .expect("a safety score");
        let want = (super::super::sigmoid(2.0) * super::super::sigmoid(0.0)).sqrt();
        assert!((c - want).abs() < 1e-6, "{c} {want}");
        assert!(c < p, "a weak topic score pulls the decision down");
        // Without the scorer there is no safety score.
        let plain = Learned {
            safety: None,
            ..learned
        };
        let layer = LearnedLayer::new(&plain);
        assert!(layer.score(&layer.values(&t), &[]).safety.is_none());
        // A threshold outside (0, 1) is refused.
        let bad = Learned {
            safety: Some(scorer(0.0, 1.5, "火灾", [1.0, 0.0, 0.0])),
            ..plain
        };
        assert!(bad.check(0).is_err());
    }
}
