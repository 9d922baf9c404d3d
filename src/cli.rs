//! The command line: `pagesift <command>`. Each command lives in [`crate::commands`]; this
//! module only parses arguments, loads settings, sets up logging and maps errors to exit codes.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::commands;
use crate::settings::Settings;

/// pagesift: raw newspaper pages in, structured safety-tagged article events out.
#[derive(Debug, Parser)]
#[command(name = "pagesift", version, about, long_about = None)]
pub struct Cli {
    /// Directory holding default.toml and $PAGESIFT_ENV.toml (default: $PAGESIFT_CONFIG_DIR or
    /// ./config).
    #[arg(long, global = true, value_name = "DIR")]
    pub config_dir: Option<PathBuf>,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// pagesift's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Process page files offline (no broker) and print one article event per line.
    Process(commands::process::Args),
    /// Run the worker: consume pages from RabbitMQ, publish article events, ack.
    Run(commands::run::Args),
    /// Publish page files to the input queue (with confirms), for demos, tests and load runs.
    Publish(commands::publish::Args),
    /// Score segmentation (and classification) against ground truth.
    Eval(commands::eval::Args),
    /// Validate the configuration and print it with secrets redacted (non-zero exit if invalid).
    CheckConfig(commands::check_config::Args),
    /// Inspect and replay the dead-letter queue.
    DeadLetters(commands::dead_letters::Args),
    /// Ask the local HTTP endpoint for /healthz or /readyz (exit 0 when it answers 200).
    Probe(commands::probe::Args),
    /// Fit the classifier's weights from labelled articles and write the model file.
    Train(commands::train::Args),
    /// Classifier metrics (k-fold cross-validated by default) beside the naive baseline.
    EvalClassifier(commands::eval_classifier::Args),
    /// Build the keyword IDF table from a corpus.
    BuildIdf(commands::build_idf::Args),
    /// Load-test the worker through RabbitMQ next to a same-run relay ceiling.
    BenchLoad(commands::bench_load::Args),
}

/// Runs the binary; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("pagesift: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || e.downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
                .is_some_and(|k| k == std::io::ErrorKind::BrokenPipe)
    })
}

/// Loads the settings and logging, then dispatches.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(cli.config_dir.as_deref())?;
    crate::telemetry::init(&settings.log);
    match cli.command {
        Command::Process(args) => commands::process::run(&settings, args),
        Command::Eval(args) => commands::eval::run(&settings, args),
        Command::Run(args) => commands::run::run(&settings, args),
        Command::Publish(args) => commands::publish::run(&settings, args),
        Command::CheckConfig(args) => commands::check_config::run(&settings, args),
        Command::DeadLetters(args) => commands::dead_letters::run(&settings, args),
        Command::Probe(args) => commands::probe::run(&settings, args),
        Command::Train(args) => commands::train::run(&settings, args),
        Command::EvalClassifier(args) => commands::eval_classifier::run(&settings, args),
        Command::BuildIdf(args) => commands::build_idf::run(&settings, args),
        Command::BenchLoad(args) => {
            commands::bench_load::run(&settings, cli.config_dir.as_deref(), args)
        }
    }
}
