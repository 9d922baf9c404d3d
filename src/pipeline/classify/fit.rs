//! Fitting the model's weights from labelled articles (`pagesift-dev train`).
//!
//! Each topic (and each event kind) is a logistic regression over the lexicon features of
//! [`super::Classifier::features`], fitted by gradient descent with an L2 penalty that pulls
//! every weight back toward its value in the lexicon prior. Only lexicon terms are features —
//! never arbitrary tokens of the training articles — so the fitted model cannot learn names or
//! phrases of the development set; the data only re-weighs domain vocabulary and sets the
//! biases. Deterministic: the same prior and examples give the same model.

use super::model::{PositionWeights, Scorer, Training};
use super::{Classifier, Features, Gold, Model, sigmoid, slog, slog_derivative};

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
        let data: Vec<(&Features, bool)> = examples
            .iter()
            .map(|e| (&e.features, e.gold.topics.contains(topic)))
            .collect();
        fit_scorer(
            prior,
            scorer,
            &data,
            (false, n_terms),
            params.positive_weight,
            params.l2,
            params,
        );
    }
    for (kind, scorer) in &mut out.event_kinds {
        let data: Vec<(&Features, bool)> = examples
            .iter()
            .filter(|e| e.gold.safety)
            .map(|e| (&e.features, e.gold.event_kind == Some(*kind)))
            .collect();
        fit_scorer(
            prior,
            scorer,
            &data,
            (true, n_terms),
            1.0,
            params.kind_l2,
            params,
        );
    }
    out
}

fn fit_scorer(
    prior: &Classifier,
    scorer: &mut Scorer,
    data: &[(&Features, bool)],
    (kind_family, n_terms): (bool, usize),
    positive_weight: f64,
    l2: f64,
    params: &Training,
) {
    if data.is_empty() {
        return;
    }
    let mut w0 = vec![0.0; n_terms];
    for (id, term) in prior.terms().iter().enumerate() {
        if prior.is_kind_term(id) != kind_family {
            continue;
        }
        if let Some(v) = scorer.terms.get(term) {
            w0[id] = *v;
        }
    }
    let start = Params {
        bias: scorer.bias,
        alpha: scorer.positions.to_array(),
        w: w0.clone(),
    };
    let fitted = logistic(data, &start, params, positive_weight, l2);
    scorer.bias = round4(fitted.bias);
    scorer.positions = PositionWeights::from_array(fitted.alpha.map(round4));
    scorer.terms = prior
        .terms()
        .iter()
        .enumerate()
        .filter(|(id, _)| w0[*id] != 0.0)
        .map(|(id, term)| (term.clone(), round4(fitted.w[id])))
        .collect();
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// The parameters of one scorer.
#[derive(Debug, Clone)]
struct Params {
    bias: f64,
    alpha: [f64; 3],
    w: Vec<f64>,
}

/// Gradient descent on the weighted log-loss plus `l2/2 · |θ - θ0|²` over the position
/// weights and the scorer's own lexicon terms (terms outside the lexicon stay at 0).
fn logistic(
    data: &[(&Features, bool)],
    start: &Params,
    params: &Training,
    positive_weight: f64,
    l2: f64,
) -> Params {
    let mut theta = start.clone();
    // Example counts are small: the conversion is exact.
    #[allow(clippy::cast_precision_loss)]
    let n = data.len() as f64;
    let mut grad_w = vec![0.0; theta.w.len()];
    for _ in 0..params.iterations {
        grad_w.iter_mut().for_each(|g| *g = 0.0);
        let mut grad_b = 0.0;
        let mut grad_alpha = [0.0; 3];
        for (features, y) in data {
            let mut sums = [0.0; 3];
            for (id, c) in &features.0 {
                for p in 0..3 {
                    sums[p] += theta.w.get(*id).copied().unwrap_or(0.0) * c[p];
                }
            }
            let z = theta.bias + (0..3).map(|p| theta.alpha[p] * slog(sums[p])).sum::<f64>();
            let (target, weight) = if *y {
                (1.0, positive_weight)
            } else {
                (0.0, 1.0)
            };
            let g = (sigmoid(z) - target) * weight;
            grad_b += g;
            for (grad, sum) in grad_alpha.iter_mut().zip(sums) {
                *grad += g * slog(sum);
            }
            let d: [f64; 3] = std::array::from_fn(|p| theta.alpha[p] * slog_derivative(sums[p]));
            for (id, c) in &features.0 {
                if let Some(gw) = grad_w.get_mut(*id) {
                    *gw += g * (0..3).map(|p| d[p] * c[p]).sum::<f64>();
                }
            }
        }
        let lr = params.learning_rate;
        theta.bias -= lr * (grad_b / n + l2 * (theta.bias - start.bias));
        for ((alpha, grad), alpha0) in theta.alpha.iter_mut().zip(grad_alpha).zip(start.alpha) {
            *alpha -= lr * (grad / n + l2 * (*alpha - alpha0));
        }
        for (i, wi) in theta.w.iter_mut().enumerate() {
            if start.w[i] != 0.0 {
                *wi -= lr * (grad_w[i] / n + l2 * (*wi - start.w[i]));
            }
        }
    }
    theta
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
        let article =
            crate::model::Article::new(crate::model::ItemKind::Brief, None, vec![text.to_owned()]);
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
