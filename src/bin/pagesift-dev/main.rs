//! `pagesift-dev`: the development tools, kept out of the service binary `pagesift` (and so out
//! of the container image). Training and evaluation read labelled data and write model files;
//! `bench-load` drives the real worker through RabbitMQ next to a like-for-like relay. Each
//! command is one module here: argument parsing and printing only, the logic is in the library
//! ([`pagesift::eval`], [`pagesift::train`], [`pagesift::dataset`]).
//!
//! To add a command: a module with `Args` and `run`, one variant in [`Command`], one arm in
//! [`run`].

mod bench_load;
mod build_clusters;
mod build_idf;
mod data;
mod eval;
mod eval_classifier;
mod eval_entities;
mod train;
mod train_entities;
mod train_segmenter;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pagesift::settings::Settings;

/// pagesift-dev: train, evaluate and load-test pagesift.
#[derive(Debug, Parser)]
#[command(name = "pagesift-dev", version, about, long_about = None)]
struct Cli {
    /// Directory whose default.toml, $PAGESIFT_ENV.toml and model files override the compiled-in
    /// ones (default: $PAGESIFT_CONFIG_DIR, else ./config if it exists).
    #[arg(long, global = true, value_name = "DIR")]
    config_dir: Option<PathBuf>,

    /// The command to run.
    #[command(subcommand)]
    command: Command,
}

/// The development commands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Score segmentation against ground truth.
    Eval(eval::Args),
    /// Classifier metrics (k-fold cross-validated by default) beside the naive baseline.
    EvalClassifier(eval_classifier::Args),
    /// Fit the classifier's weights from labelled articles and write the model file.
    Train(train::Args),
    /// Fit the segmenter's boundary and join models on labelled generated pages.
    TrainSegmenter(train_segmenter::Args),
    /// Fit the entity tagger from BIO files and write its model file.
    TrainEntities(train_entities::Args),
    /// Entity tagger P/R/F1 (cross-source and k-fold) beside the old POS method.
    EvalEntities(eval_entities::Args),
    /// Build the entity tagger's character and word classes from a corpus.
    BuildClusters(build_clusters::Args),
    /// Build the keyword IDF table from a corpus.
    BuildIdf(build_idf::Args),
    /// Load-test the worker through RabbitMQ next to a same-run relay ceiling.
    BenchLoad(bench_load::Args),
}

fn main() -> ExitCode {
    pagesift::cli::exit_code("pagesift-dev", run(Cli::parse()))
}

/// Loads the settings and logging, then dispatches.
fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(cli.config_dir.as_deref())?;
    pagesift::telemetry::init(&settings.log);
    match cli.command {
        Command::Eval(args) => eval::run(&settings, args),
        Command::EvalClassifier(args) => eval_classifier::run(&settings, args),
        Command::Train(args) => train::run(&settings, args),
        Command::TrainSegmenter(args) => train_segmenter::run(&settings, args),
        Command::TrainEntities(args) => train_entities::run(&settings, args),
        Command::EvalEntities(args) => eval_entities::run(&settings, args),
        Command::BuildClusters(args) => build_clusters::run(&settings, args),
        Command::BuildIdf(args) => build_idf::run(&settings, args),
        Command::BenchLoad(args) => bench_load::run(&settings, cli.config_dir.as_deref(), args),
    }
}
