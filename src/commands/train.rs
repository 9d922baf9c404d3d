//! `pagesift train`: fits the classifier's weights from labelled articles and writes the model
//! file. The lexicon file (`config/lexicon.json`, the same format as the model) is the prior:
//! its terms, masks, positions, thresholds and training parameters are kept; the weights and
//! biases are fitted (see [`crate::pipeline::classify::fit`]).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use sha2::{Digest, Sha256};

use super::dataset::{self, Labelled};
use crate::pipeline::classify::fit::{self, Example};
use crate::pipeline::classify::{Classifier, Model};
use crate::settings::Settings;

/// Arguments of `pagesift train`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The labelled articles.
    #[command(flatten)]
    pub data: dataset::DataArgs,
    /// The lexicon prior (terms, masks, positions, thresholds, training parameters).
    #[arg(long, value_name = "FILE", default_value = "config/lexicon.json")]
    pub lexicon: PathBuf,
    /// Where to write the fitted model (`-` for stdout).
    #[arg(long, value_name = "FILE", default_value = "config/classifier.json")]
    pub out: PathBuf,
}

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

/// Runs the command.
pub fn run(_settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    let prior = load_prior(&args.lexicon)?;
    let data = args.data.load()?;
    let refs: Vec<&Labelled> = data.iter().collect();
    let model = train(&prior, &refs)?;
    Classifier::new(model.clone()).context("the fitted model does not load")?;
    let mut json = serde_json::to_string_pretty(&model)?;
    json.push('\n');
    if args.out.as_os_str() == "-" {
        std::io::Write::write_all(&mut std::io::stdout().lock(), json.as_bytes())?;
    } else {
        std::fs::write(&args.out, json)
            .with_context(|| format!("writing {}", args.out.display()))?;
    }
    let safety = data.iter().filter(|l| l.gold.safety).count();
    eprintln!(
        "pagesift: trained {} on {} articles ({} safety) -> {}",
        model.version,
        data.len(),
        safety,
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
