//! Fitting the classifier's weights from labelled articles (`pagesift-dev train`). The lexicon
//! file (`config/lexicon.json`, the same format as the model) is the prior: its terms, masks,
//! positions, thresholds and training parameters are kept; the weights and biases are fitted
//! (see [`crate::pipeline::classify::fit`]).

use anyhow::Context;
use sha2::{Digest, Sha256};

use crate::dataset::Labelled;
use crate::pipeline::classify::fit::{self, Example};
use crate::pipeline::classify::{Classifier, Model};

/// Reads and builds the prior classifier from a lexicon file.
pub fn load_prior(path: &std::path::Path) -> anyhow::Result<Classifier> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Classifier::from_model(&text).with_context(|| format!("in {}", path.display()))
}

/// Fits a model from the prior and labelled articles; its version is the prior's version
/// plus a digest of the fitted weights, so two different fits never share a version.
pub fn train(prior: &Classifier, articles: &[&Labelled]) -> anyhow::Result<Model> {
    let examples: Vec<Example> = articles
        .iter()
        .map(|l| Example {
            features: prior.features(&l.article),
            gold: l.gold.clone(),
        })
        .collect();
    let mut model = fit::fit(prior, &examples);
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
