//! `pagesift-dev train`: fits the classifier from labelled articles and written texts (see
//! [`pagesift::train::classifier`]) and writes the model file.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use pagesift::dataset::{self, Labelled};
use pagesift::pipeline::classify::Classifier;
use pagesift::settings::Settings;
use pagesift::train::classifier::{load_prior, to_json, train};

use crate::data::{DataArgs, write_output};

/// Arguments of `pagesift-dev train`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The labelled articles.
    #[command(flatten)]
    pub data: DataArgs,
    /// The lexicon prior (terms, masks, positions, incident rules, training parameters),
    /// looked up like the model files: the configuration directory, then the embedded files,
    /// then the current directory.
    #[arg(long, value_name = "FILE", default_value = "lexicon.json")]
    pub lexicon: PathBuf,
    /// Where to write the fitted model (`-` for stdout; relative to the current directory).
    #[arg(long, value_name = "FILE", default_value = "config/classifier.json")]
    pub out: PathBuf,
}

/// Runs the command.
pub fn run(settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    let prior = load_prior(&args.lexicon, settings.pipeline.config_dir())?;
    let mut data = args.data.load()?;
    data.extend(dataset::load_written(&args.data.written)?);
    let jieba = pagesift::resources::jieba(&settings.pipeline)?;
    let refs: Vec<&Labelled> = data.iter().collect();
    let model = train(&prior, &jieba, &refs)?;
    Classifier::new(model.clone()).context("the fitted model does not load")?;
    write_output(&args.out, &to_json(&model)?)?;
    let safety = data.iter().filter(|l| l.gold.safety).count();
    eprintln!(
        "pagesift-dev: trained {} on {} articles ({} safety) -> {}",
        model.version,
        data.len(),
        safety,
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
