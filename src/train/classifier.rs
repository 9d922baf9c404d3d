//! Fitting the classifier from labelled articles (`pagesift-dev train`). The lexicon file
//! (`config/lexicon.json`, the same format as the model) is the prior: its terms, masks,
//! positions and incident rules are kept as they are.
//!
//! - When the lexicon has a `learned` section (the shipped one has), the learned layer is fitted
//!   ([`fit_learned`]): every article is tokenised once with the pipeline's jieba, cut into
//!   units per field group ([`crate::pipeline::classify::learned`]); units in fewer than
//!   `min_df` training articles are dropped; one L2-regularised logistic regression per topic
//!   (all articles) and per event kind (safety articles) is fitted with the deterministic
//!   L-BFGS of [`super::logistic`] over those units plus the lexicon's prior features; each
//!   topic's threshold is the highest score that keeps `recall` of its articles on
//!   out-of-fold scores of an inner cross-validation; weights are rounded and near-zero units
//!   pruned.
//! - Without it, the old lexicon model's weights are re-fitted
//!   ([`crate::pipeline::classify::fit`]); `eval-classifier` keeps that model as a baseline.
//!
//! Everything runs sequentially in a fixed order: the same data gives a byte-identical file.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use jieba_rs::Jieba;
use rustc_hash::FxHashMap;
use sha2::{Digest, Sha256};

use super::logistic::{self, Problem, Rows};
use crate::dataset::Labelled;
use crate::model::{EventKind, Topic};
use crate::pipeline::classify::fit::{self, Example};
use crate::pipeline::classify::learned::{
    self, GROUPS, Learned, LearnedScorer, LearnedTraining, normalise_groups,
};
use crate::pipeline::classify::{Classifier, Gold, Model};
use crate::pipeline::tokens::ArticleTokens;

/// Reads and builds the prior classifier from a lexicon (or model) file, located like the
/// service's model files ([`crate::resources::locate`]: the configuration directory, then the
/// embedded files by name, then the current directory).
pub fn load_prior(path: &Path, config_dir: &Path) -> anyhow::Result<Classifier> {
    let source = crate::resources::locate(path, config_dir)?;
    let text = crate::resources::read(&source)?;
    Classifier::from_model(&text).with_context(|| format!("in {} ({source})", path.display()))
}

/// The prior without its learned section: the old lexicon model.
pub fn lexicon_only(prior: &Classifier) -> anyhow::Result<Classifier> {
    let mut model = prior.model().clone();
    model.learned = None;
    Ok(Classifier::new(model)?)
}

/// One article cut into what the learned layer's training needs.
#[derive(Debug, Clone)]
pub struct Doc {
    /// `(unit id, group, count)`, sorted by unit id then group.
    pub units: Vec<(u32, u8, f64)>,
    /// The prior features (see [`Classifier::prior_features`]).
    pub prior: Vec<f64>,
    /// Its labels.
    pub gold: Gold,
    /// A written text (see [`Labelled::written`]).
    pub written: bool,
}

/// Labelled articles prepared once for any number of fits (cross-validation folds).
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    /// Unit strings by unit id.
    pub names: Vec<String>,
    /// The articles, in input order.
    pub docs: Vec<Doc>,
}

/// Tokenises and cuts every article (in order; unit ids in order of first occurrence).
pub fn prepare(prior: &Classifier, jieba: &Jieba, articles: &[&Labelled]) -> Prepared {
    let params = prior
        .model()
        .learned
        .as_ref()
        .map(|l| l.features.clone())
        .unwrap_or_default();
    let mut index: FxHashMap<String, u32> = FxHashMap::default();
    let mut out = Prepared::default();
    for l in articles {
        let tokens = ArticleTokens::new(jieba, &l.article);
        let mut units: Vec<(u32, u8, bool)> = Vec::new();
        learned::visit_units(&tokens, &params, |g, unit, _| {
            let id = match index.get(unit) {
                Some(id) => *id,
                None => {
                    let id = u32::try_from(out.names.len()).unwrap_or(u32::MAX);
                    index.insert(unit.to_owned(), id);
                    out.names.push(unit.to_owned());
                    id
                }
            };
            // Groups are below 3.
            #[allow(clippy::cast_possible_truncation)]
            units.push((id, g as u8, false));
        });
        units.sort_unstable_by_key(|&(id, g, _)| (id, g));
        let mut counted: Vec<(u32, u8, f64)> = Vec::new();
        for (id, g, _) in units {
            match counted.last_mut() {
                Some((lid, lg, c)) if *lid == id && *lg == g => *c += 1.0,
                _ => counted.push((id, g, 1.0)),
            }
        }
        out.docs.push(Doc {
            units: counted,
            prior: prior.prior_features(&l.article),
            gold: l.gold.clone(),
            written: l.written,
        });
    }
    out
}

/// Fits a model from the prior and labelled articles (the learned layer when the prior has a
/// `learned` section, else the lexicon weights); its version is the prior's version plus a
/// digest of the fitted model, so two different fits never share a version.
pub fn train(prior: &Classifier, jieba: &Jieba, articles: &[&Labelled]) -> anyhow::Result<Model> {
    if prior.model().learned.is_some() {
        let prepared = prepare(prior, jieba, articles);
        let all: Vec<usize> = (0..prepared.docs.len()).collect();
        return train_prepared(prior, &prepared, &all);
    }
    let examples: Vec<Example> = articles
        .iter()
        .map(|l| Example {
            features: prior.features(&l.article),
            gold: l.gold.clone(),
        })
        .collect();
    versioned(prior, fit::fit(prior, &examples))
}

/// [`train`] on the prepared articles `subset` (the prior must have a `learned` section).
pub fn train_prepared(
    prior: &Classifier,
    prepared: &Prepared,
    subset: &[usize],
) -> anyhow::Result<Model> {
    let mut model = prior.model().clone();
    let base = model
        .learned
        .clone()
        .context("the lexicon has no learned section")?;
    model.learned = Some(fit_learned(prior, &base, prepared, subset));
    versioned(prior, model)
}

fn versioned(prior: &Classifier, mut model: Model) -> anyhow::Result<Model> {
    let base = prior
        .model()
        .version
        .split('+')
        .next()
        .unwrap_or_default()
        .to_owned();
    model.version = base.clone();
    let digest = Sha256::digest(serde_json::to_vec(&model)?);
    let hex: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    model.version = format!("{base}+fit.{hex}");
    Ok(model)
}

/// The feature rows of the articles `subset` over the units kept by the minimum document
/// frequency: prior features first, then `prior_len + 3·unit + group`, then with
/// `source_column` one column that is 1 for written texts. That column takes up what sets the
/// written texts apart as a whole (their style, their share of safety texts) so that the words
/// do not have to; it is not part of the model (a real article has 0 there).
struct Design {
    rows: Rows,
    /// Kept unit ids (global), by local index.
    kept: Vec<u32>,
    prior_len: usize,
    /// The source column, if any.
    source: Option<usize>,
}

fn design(
    prepared: &Prepared,
    subset: &[usize],
    prior_len: usize,
    min_df: usize,
    source_column: bool,
) -> Design {
    let mut df = vec![0usize; prepared.names.len()];
    for &i in subset {
        let mut last = u32::MAX;
        for &(id, _, _) in &prepared.docs[i].units {
            if id != last {
                df[id as usize] += 1;
                last = id;
            }
        }
    }
    let mut local = vec![u32::MAX; prepared.names.len()];
    let mut kept = Vec::new();
    for (id, n) in df.iter().enumerate() {
        if *n >= min_df.max(1) {
            local[id] = u32::try_from(kept.len()).unwrap_or(u32::MAX);
            kept.push(u32::try_from(id).unwrap_or(u32::MAX));
        }
    }
    let words_end = prior_len + GROUPS * kept.len();
    let mut rows = Rows::new(words_end + usize::from(source_column));
    let source = u32::try_from(words_end).unwrap_or(u32::MAX);
    let offset = u32::try_from(prior_len).unwrap_or(u32::MAX);
    for &i in subset {
        let doc = &prepared.docs[i];
        let mut entries: Vec<(u32, u8, f64, ())> = doc
            .units
            .iter()
            .filter(|(id, _, _)| local[*id as usize] != u32::MAX)
            .map(|&(id, g, c)| (local[id as usize], g, c, ()))
            .collect();
        normalise_groups(&mut entries);
        let prior = doc
            .prior
            .iter()
            .take(prior_len)
            .enumerate()
            .filter(|(_, v)| **v != 0.0)
            .map(|(j, v)| (u32::try_from(j).unwrap_or(u32::MAX), *v));
        let words = entries
            .iter()
            .map(|&(l, g, v, ())| (offset + 3 * l + u32::from(g), v));
        let written = (source_column && doc.written).then_some((source, 1.0));
        rows.push(prior.chain(words).chain(written));
    }
    Design {
        rows,
        kept,
        prior_len,
        source: source_column.then_some(words_end),
    }
}

/// A topic's threshold from out-of-fold `(score, positive?)` pairs (`None`: neither): with
/// `threshold_beta` 0, [`recall_threshold`]; else the score that maximises the F-beta of
/// those pairs (beta > 1 weighs recall more), within the bounds.
pub fn choose_threshold(scored: &[(f64, Option<bool>)], params: &LearnedTraining) -> f64 {
    let positives: Vec<f64> = scored
        .iter()
        .filter(|(_, c)| *c == Some(true))
        .map(|(s, _)| *s)
        .collect();
    if params.threshold_beta <= 0.0 || positives.is_empty() {
        return recall_threshold(positives, params);
    }
    let mut sorted: Vec<(f64, bool)> = scored
        .iter()
        .filter_map(|(s, c)| c.map(|c| (*s, c)))
        .collect();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let b2 = params.threshold_beta * params.threshold_beta;
    // Counts are small: the conversions are exact.
    #[allow(clippy::cast_precision_loss)]
    let total = positives.len() as f64;
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut best = (f64::MIN, 0.5);
    for (i, (s, positive)) in sorted.iter().enumerate() {
        if *positive {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        // A threshold between this score and the next lower one.
        if sorted.get(i + 1).is_some_and(|n| n.0 == *s) {
            continue;
        }
        let f = (1.0 + b2) * tp / ((1.0 + b2) * tp + b2 * (total - tp) + fp);
        if f > best.0 {
            best = (f, *s - 1e-4);
        }
    }
    best.1.clamp(params.min_threshold, params.max_threshold)
}

/// The highest threshold that keeps at least `recall` of the positives' scores, within the
/// bounds (0.5 without positives).
pub fn recall_threshold(mut positives: Vec<f64>, params: &LearnedTraining) -> f64 {
    if positives.is_empty() {
        return 0.5;
    }
    positives.sort_by(f64::total_cmp);
    // Counts are small: the conversions are exact enough.
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let misses = ((1.0 - params.recall).max(0.0) * positives.len() as f64).floor() as usize;
    let t = positives[misses.min(positives.len() - 1)];
    // Just below the score, so that article stays over it after rounding.
    (t - 1e-4).clamp(params.min_threshold, params.max_threshold)
}

fn round_to(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    let r = (x * scale).round() / scale;
    if r == 0.0 { 0.0 } else { r }
}

/// Runs the fits `(labels, rows, positive weight, l2)` on up to `threads` threads; the
/// results are in job order and do not depend on the number of threads.
fn run_fits(
    rows: &Rows,
    jobs: &[(&[bool], &[usize], f64, f64)],
    iterations: usize,
    threads: usize,
    free_from: usize,
) -> Vec<logistic::Fitted> {
    let one = |&(labels, subset, positive_weight, l2): &(&[bool], &[usize], f64, f64)| {
        logistic::fit(
            &Problem {
                rows,
                subset,
                labels,
                positive_weight,
                l2,
                free_from,
            },
            iterations,
        )
    };
    let threads = threads.clamp(1, jobs.len().max(1));
    if threads == 1 {
        return jobs.iter().map(one).collect();
    }
    let mut out: Vec<Option<logistic::Fitted>> = vec![None; jobs.len()];
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let one = &one;
                scope.spawn(move || {
                    jobs.iter()
                        .enumerate()
                        .skip(t)
                        .step_by(threads)
                        .map(|(i, job)| (i, one(job)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            // A fit does not panic on any input; if a thread did, its jobs are refitted below.
            if let Ok(done) = h.join() {
                for (i, f) in done {
                    out[i] = Some(f);
                }
            }
        }
    });
    out.into_iter()
        .zip(jobs)
        .map(|(f, job)| f.unwrap_or_else(|| one(job)))
        .collect()
}

/// Fits the learned layer on the prepared articles `subset`, with the feature and training
/// parameters of `base` (the prior's learned section).
pub fn fit_learned(
    prior: &Classifier,
    base: &Learned,
    prepared: &Prepared,
    subset: &[usize],
) -> Learned {
    let params = &base.training;
    let d = design(
        prepared,
        subset,
        prior.prior_len(),
        params.min_df,
        params.source_feature,
    );
    let docs: Vec<&Doc> = subset.iter().map(|i| &prepared.docs[*i]).collect();
    let everyone: Vec<usize> = (0..docs.len()).collect();
    let topics: Vec<Topic> = prior.model().topics.keys().copied().collect();
    let kinds: Vec<EventKind> = prior.model().event_kinds.keys().copied().collect();
    let topic_labels: Vec<Vec<bool>> = topics
        .iter()
        .map(|t| docs.iter().map(|d| d.gold.topics.contains(t)).collect())
        .collect();
    let kind_labels: Vec<Vec<bool>> = kinds
        .iter()
        .map(|k| docs.iter().map(|d| d.gold.event_kind == Some(*k)).collect())
        .collect();
    let safety: Vec<usize> = everyone
        .iter()
        .copied()
        .filter(|j| docs[*j].gold.safety)
        .collect();
    // Every fit is independent: (labels, rows, positive weight, l2). First the inner folds of
    // the thresholds (fold-major), then the final topic scorers, then the kind scorers.
    let k = params.threshold_folds;
    let inner = k >= 2 && docs.len() >= k;
    let folds: Vec<Vec<usize>> = if inner {
        (0..k)
            .map(|fold| everyone.iter().copied().filter(|j| j % k != fold).collect())
            .collect()
    } else {
        Vec::new()
    };
    let mut jobs: Vec<(&[bool], &[usize], f64, f64)> = Vec::new();
    for train in &folds {
        for labels in &topic_labels {
            jobs.push((labels, train, params.positive_weight, params.l2));
        }
    }
    for labels in &topic_labels {
        jobs.push((labels, &everyone, params.positive_weight, params.l2));
    }
    for labels in &kind_labels {
        jobs.push((labels, &safety, 1.0, params.kind_l2));
    }
    // The safety scorer: its inner folds, then its final fit.
    let safety_labels: Vec<bool> = docs.iter().map(|d| d.gold.safety).collect();
    let safety_jobs = jobs.len();
    if params.safety_scorer {
        for train in &folds {
            jobs.push((&safety_labels, train, params.positive_weight, params.l2));
        }
        jobs.push((&safety_labels, &everyone, params.positive_weight, params.l2));
    }
    let free_from = d.source.unwrap_or(usize::MAX);
    let fitted = run_fits(&d.rows, &jobs, params.iterations, params.threads, free_from);
    let mut thresholds = vec![0.5; topics.len()];
    let mut safety_threshold = 0.5;
    // Out-of-fold scores of the inner folds' fit `at(fold)`.
    let out_of_fold = |at: &dyn Fn(usize) -> usize| -> Vec<f64> {
        let mut oof = vec![0.0; docs.len()];
        for fold in 0..k {
            let f = &fitted[at(fold)];
            for j in everyone.iter().copied().filter(|j| j % k == fold) {
                // Scored as fitted, source column included: a written text is judged
                // against the written texts' own base rate.
                let z = d.rows.dot(j, &f.w, f.b);
                oof[j] = 1.0 / (1.0 + (-z).exp());
            }
        }
        oof
    };
    // With `threshold_real_only`, the written texts are left out of the threshold choice when
    // the class has real articles among the scored ones.
    let restrict = |scored: &mut Vec<(f64, Option<bool>)>| {
        if !params.threshold_real_only {
            return;
        }
        let real_positive = scored
            .iter()
            .zip(&docs)
            .any(|((_, c), d)| *c == Some(true) && !d.written);
        if real_positive {
            for ((_, c), d) in scored.iter_mut().zip(&docs) {
                if d.written {
                    *c = None;
                }
            }
        }
    };
    if inner && params.safety_scorer {
        let mut oof = out_of_fold(&|fold| safety_jobs + fold);
        if params.combine_safety {
            let best: Vec<Vec<f64>> = topics
                .iter()
                .enumerate()
                .filter(|(_, t)| t.is_safety())
                .map(|(ti, _)| out_of_fold(&|fold| fold * topics.len() + ti))
                .collect();
            for (j, p) in oof.iter_mut().enumerate() {
                let top = best.iter().map(|o| o[j]).fold(0.0, f64::max);
                *p = learned::combined(*p, top);
            }
        }
        let mut scored: Vec<(f64, Option<bool>)> = oof
            .iter()
            .zip(&docs)
            .map(|(p, d)| (*p, Some(d.gold.safety)))
            .collect();
        restrict(&mut scored);
        let floored = LearnedTraining {
            min_threshold: params.safety_min_threshold,
            ..params.clone()
        };
        safety_threshold = choose_threshold(&scored, &floored);
    }
    if inner {
        let oof: Vec<Vec<f64>> = (0..topics.len())
            .map(|ti| out_of_fold(&|fold| fold * topics.len() + ti))
            .collect();
        for (ti, t) in topics.iter().enumerate() {
            // Positives: articles whose main topic is `t`; negatives: articles without `t`.
            let scored: Vec<(f64, Option<bool>)> = everyone
                .iter()
                .map(|j| {
                    let g = &docs[*j].gold;
                    let class = if g.topics.first() == Some(t) {
                        Some(true)
                    } else if g.topics.contains(t) {
                        None
                    } else {
                        Some(false)
                    };
                    (oof[ti][*j], class)
                })
                .collect();
            let mut scored = scored;
            restrict(&mut scored);
            thresholds[ti] = choose_threshold(&scored, params);
        }
    }
    let finals = &fitted[folds.len() * topics.len()..];
    let to_scorer = |f: &logistic::Fitted, threshold: f64| {
        let mut words: BTreeMap<String, [f64; GROUPS]> = BTreeMap::new();
        for (l, id) in d.kept.iter().enumerate() {
            let at = d.prior_len + GROUPS * l;
            let w: [f64; GROUPS] = std::array::from_fn(|g| round_to(f.w[at + g], params.decimals));
            if w.iter().any(|x| x.abs() >= params.prune)
                && let Some(name) = prepared.names.get(*id as usize)
            {
                words.insert(name.clone(), w);
            }
        }
        LearnedScorer {
            bias: round_to(f.b, params.decimals),
            threshold: round_to(threshold, params.decimals).clamp(1e-3, 0.999),
            prior: f.w[..d.prior_len]
                .iter()
                .map(|w| round_to(*w, params.decimals))
                .collect(),
            words,
        }
    };
    let mut out = Learned {
        features: base.features.clone(),
        training: base.training.clone(),
        topics: BTreeMap::new(),
        event_kinds: BTreeMap::new(),
        safety: params
            .safety_scorer
            .then(|| fitted.get(safety_jobs + folds.len()))
            .flatten()
            .map(|f| to_scorer(f, safety_threshold)),
    };
    for (ti, t) in topics.iter().enumerate() {
        out.topics
            .insert(*t, to_scorer(&finals[ti], thresholds[ti]));
    }
    for (ki, kind) in kinds.iter().enumerate() {
        out.event_kinds
            .insert(*kind, to_scorer(&finals[topics.len() + ki], 0.5));
    }
    out
}

/// The model as JSON: pretty-printed, except that the innermost values (a unit's three weights,
/// a scorer's prior weights) stay on one line, which keeps the file compact and its diffs
/// readable.
pub fn to_json(model: &Model) -> anyhow::Result<String> {
    let mut buf = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, Formatter::default());
    serde::Serialize::serialize(model, &mut ser)?;
    let mut text = String::from_utf8(buf)?;
    text.push('\n');
    Ok(text)
}

/// serde_json's pretty formatter down to the arrays of numbers, which are written compactly.
#[derive(Default)]
struct Formatter {
    pretty: serde_json::ser::PrettyFormatter<'static>,
    /// Depth inside compact arrays (0: pretty).
    compact: usize,
}

impl serde_json::ser::Formatter for Formatter {
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.compact += 1;
        w.write_all(b"[")
    }
    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.compact -= 1;
        w.write_all(b"]")
    }
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }
    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, _w: &mut W) -> std::io::Result<()> {
        Ok(())
    }
    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        if self.compact > 0 {
            return w.write_all(b"{");
        }
        self.pretty.begin_object(w)
    }
    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        if self.compact > 0 {
            return w.write_all(b"}");
        }
        self.pretty.end_object(w)
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if self.compact > 0 {
            return if first { Ok(()) } else { w.write_all(b",") };
        }
        self.pretty.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        if self.compact > 0 {
            return w.write_all(b":");
        }
        self.pretty.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        if self.compact > 0 {
            return Ok(());
        }
        self.pretty.end_object_value(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_keeps_the_recall_of_the_positives() {
        let params = LearnedTraining {
            recall: 0.75,
            min_threshold: 0.01,
            max_threshold: 0.99,
            ..LearnedTraining::default()
        };
        let t = recall_threshold(vec![0.9, 0.2, 0.6, 0.8], &params);
        assert!(t < 0.6 && t > 0.5, "{t}");
        assert_eq!(recall_threshold(Vec::new(), &params), 0.5);
        let strict = LearnedTraining {
            recall: 1.0,
            ..params.clone()
        };
        assert!(recall_threshold(vec![0.9, 0.2], &strict) < 0.2);
        let bounded = LearnedTraining {
            max_threshold: 0.3,
            ..params
        };
        assert_eq!(recall_threshold(vec![0.9, 0.95], &bounded.clone()), 0.3);
        // F-beta: with a negative scored above every positive but one, a high beta keeps them
        // all, a low beta cuts above the negative.
        let scored = [
            (0.9, Some(true)),
            (0.8, Some(false)),
            (0.7, Some(true)),
            (0.6, Some(true)),
            (0.5, None),
            (0.1, Some(false)),
        ];
        let f = |beta| {
            choose_threshold(
                &scored,
                &LearnedTraining {
                    threshold_beta: beta,
                    max_threshold: 0.99,
                    ..bounded.clone()
                },
            )
        };
        assert!(f(3.0) < 0.6 && f(3.0) > 0.1, "{}", f(3.0));
        assert!(f(0.3) > 0.8, "{}", f(0.3));
    }
}
