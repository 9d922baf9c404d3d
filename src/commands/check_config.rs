//! `pagesift check-config`: loads the configuration exactly as `run` would (files, then
//! `PAGESIFT__*` variables), validates it, checks that the model files it names load, and
//! prints the effective configuration as TOML with secrets redacted. An invalid configuration
//! never reaches this command: loading fails first and the binary exits non-zero with a message
//! naming the field.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;

use crate::settings::Settings;

/// Arguments of `pagesift check-config`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Do not load the model files (user dictionary, IDF table, classifier).
    #[arg(long)]
    pub skip_models: bool,
}

/// Runs the command: prints the redacted configuration, fails if a model file does not load.
pub fn run(settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    out.write_all(settings.to_redacted_toml().as_bytes())?;
    out.flush()?;
    if !args.skip_models {
        crate::resources::build_pipeline(&settings.pipeline)
            .context("configuration names model files that do not load")?;
    }
    eprintln!("pagesift: configuration is valid");
    Ok(ExitCode::SUCCESS)
}
