//! The service's command line: `pagesift <command>`. Each command lives in [`crate::commands`];
//! this module only parses arguments, loads settings, sets up logging and maps errors to exit
//! codes ([`exit_code`], which the development binary `pagesift-dev` shares).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::commands;
use crate::settings::Settings;

/// pagesift: raw newspaper pages in, structured safety-tagged article events out.
#[derive(Debug, Parser)]
#[command(name = "pagesift", version, about, long_about = None)]
pub struct Cli {
    /// Directory whose default.toml, $PAGESIFT_ENV.toml and model files override the compiled-in
    /// ones (default: $PAGESIFT_CONFIG_DIR, else ./config if it exists).
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
    /// Validate the configuration and print it with secrets redacted (non-zero exit if invalid).
    CheckConfig(commands::check_config::Args),
    /// Inspect and replay the dead-letter queue.
    DeadLetters(commands::dead_letters::Args),
    /// Ask the local HTTP endpoint for /healthz or /readyz (exit 0 when it answers 200).
    Probe(commands::probe::Args),
}

/// Runs the binary; returns the process exit code.
pub fn main() -> ExitCode {
    exit_code("pagesift", run(Cli::parse()))
}

/// The exit code of a command's result: its own code, 0 when the error is a closed stdout pipe
/// (`| head`), else 1 after printing the whole error chain as `BIN: error: cause: …`.
pub fn exit_code(bin: &str, result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{bin}: {err:#}");
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
        Command::Run(args) => commands::run::run(&settings, args),
        Command::Publish(args) => commands::publish::run(&settings, args),
        Command::CheckConfig(args) => commands::check_config::run(&settings, args),
        Command::DeadLetters(args) => commands::dead_letters::run(&settings, args),
        Command::Probe(args) => commands::probe::run(&settings, args),
    }
}
