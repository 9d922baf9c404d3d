//! Fitting the model's weights from labelled articles (`pagesift train`).
//!
//! Each topic (and each event kind) is a logistic regression over the lexicon features of
//! [`super::Classifier::features`], fitted by gradient descent with an L2 penalty that pulls
//! every weight back toward its value in the lexicon prior. Only lexicon terms are features —
//! never arbitrary tokens of the training articles — so the fitted model cannot learn names or
//! phrases of the development set; the data only re-weighs domain vocabulary and sets the
//! biases. Deterministic: the same prior and examples give the same model.

use std::collections::BTreeMap;

use super::{Classifier, Features, Gold, Model};

/// One labelled article, reduced to its features.
#[derive(Debug, Clone)]
pub struct Example {
    /// Features computed by the prior classifier.
    pub features: Features,
    /// Its labels.
    pub gold: Gold,
}

/// Fits the weights of `prior`'s topics and event kinds to `examples` (features computed with
/// `Classifier::new(prior)`), keeping thresholds, positions and masks. The version string is
/// left to the caller.
pub fn fit(prior: &Classifier, examples: &[Example]) -> Model {
    let model = prior.model();
    let params = &model.training;
    let n_terms = prior.terms().len();
    let mut out = model.clone();
    for (topic, scorer) in &mut out.topics {
        let w0 = dense_prior(prior, &scorer.terms, n_terms);
        let data: Vec<(&Features, bool)> = examples
            .iter()
            .map(|e| (&e.features, e.gold.topics.contains(topic)))
            .collect();
        let (bias, w) = logistic(&data, scorer.bias, &w0, params, params.positive_weight);
        scorer.bias = round4(bias);
        scorer.terms = sparse(prior, &w, &w0, params.min_weight);
    }
    for (kind, scorer) in &mut out.event_kinds {
        let w0 = dense_prior(prior, &scorer.terms, n_terms);
        let data: Vec<(&Features, bool)> = examples
            .iter()
            .filter(|e| e.gold.safety)
            .map(|e| (&e.features, e.gold.event_kind == Some(*kind)))
            .collect();
        if data.is_empty() {
            continue;
        }
        let (bias, w) = logistic(&data, scorer.bias, &w0, params, 1.0);
        scorer.bias = round4(bias);
        scorer.terms = sparse(prior, &w, &w0, params.min_weight);
    }
    out
}

fn dense_prior(prior: &Classifier, terms: &BTreeMap<String, f64>, n: usize) -> Vec<f64> {
    let mut w = vec![0.0; n];
    for (id, term) in prior.terms().iter().enumerate() {
        if let Some(v) = terms.get(term) {
            w[id] = *v;
        }
    }
    w
}

/// Keeps the lexicon's terms (even at a small weight) and any other term whose fitted
/// weight is large enough; masks never get weights.
fn sparse(prior: &Classifier, w: &[f64], w0: &[f64], min: f64) -> BTreeMap<String, f64> {
    prior
        .terms()
        .iter()
        .enumerate()
        .filter(|(id, _)| prior.is_lexicon_term(*id) && (w0[*id] != 0.0 || w[*id].abs() >= min))
        .map(|(id, term)| (term.clone(), round4(w[id])))
        .collect()
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// Gradient descent on the weighted log-loss plus `l2/2 · |w - w0|²`; returns (bias, w).
fn logistic(
    data: &[(&Features, bool)],
    bias0: f64,
    w0: &[f64],
    params: &super::model::Training,
    positive_weight: f64,
) -> (f64, Vec<f64>) {
    let mut w = w0.to_vec();
    let mut b = bias0;
    if data.is_empty() {
        return (b, w);
    }
    // Example counts are small; the conversion is exact.
    #[allow(clippy::cast_precision_loss)]
    let n = data.len() as f64;
    let mut grad = vec![0.0; w.len()];
    for _ in 0..params.iterations {
        grad.iter_mut().for_each(|g| *g = 0.0);
        let mut grad_b = 0.0;
        for (features, y) in data {
            let z = b + features.0.iter().map(|(id, x)| w[*id] * x).sum::<f64>();
            let p = super::sigmoid(z);
            let (target, weight) = if *y {
                (1.0, positive_weight)
            } else {
                (0.0, 1.0)
            };
            let g = (p - target) * weight;
            grad_b += g;
            for (id, x) in &features.0 {
                grad[*id] += g * x;
            }
        }
        b -= params.learning_rate * grad_b / n;
        for (i, wi) in w.iter_mut().enumerate() {
            *wi -= params.learning_rate * (grad[i] / n + params.l2 * (*wi - w0[i]));
        }
    }
    (b, w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EventKind, Topic};

    const PRIOR: &str = r#"{
        "version": "prior",
        "topics": {"fire": {"bias": 0, "terms": {"火灾": 0.5, "红火": 0.5}}},
        "event_kinds": {"accident": {"bias": 0, "terms": {}}, "warning": {"bias": 0, "terms": {}}},
        "training": {"l2": 0.001, "iterations": 400}
    }"#;

    fn example(c: &Classifier, text: &str, fire: bool) -> Example {
        let article = crate::model::Article {
            index: 0,
            kind: crate::model::ItemKind::Brief,
            section: None,
            kicker: None,
            title: None,
            subtitle: None,
            byline: None,
            dateline: None,
            paragraphs: vec![text.to_owned()],
            text: text.to_owned(),
            captions: Vec::new(),
            trailing_credit: None,
            char_count: 0,
        };
        Example {
            features: c.features(&article),
            gold: Gold {
                safety: fire,
                topics: if fire { vec![Topic::Fire] } else { vec![] },
                event_kind: fire.then_some(EventKind::Accident),
            },
        }
    }

    #[test]
    fn fitting_raises_useful_terms_and_lowers_noisy_ones() {
        let c = Classifier::from_model(PRIOR).expect("prior parses");
        let mut examples = Vec::new();
        for _ in 0..10 {
            examples.push(example(&c, "发生火灾", true));
            examples.push(example(&c, "日子红火", false));
            examples.push(example(&c, "其他新闻", false));
        }
        let fitted = fit(&c, &examples);
        let fire = &fitted.topics[&Topic::Fire];
        assert!(fire.terms["火灾"] > 0.5, "{fire:?}");
        assert!(fire.terms["红火"] < 0.5, "{fire:?}");
        assert!(fire.bias < 0.0);
        let accident = &fitted.event_kinds[&EventKind::Accident];
        assert!(accident.bias > fitted.event_kinds[&EventKind::Warning].bias);
        assert!(Classifier::new(fitted).is_ok());
    }

    #[test]
    fn fitting_no_examples_keeps_the_prior() {
        let c = Classifier::from_model(PRIOR).expect("prior parses");
        let fitted = fit(&c, &[]);
        assert_eq!(fitted.topics, c.model().topics);
    }
}
