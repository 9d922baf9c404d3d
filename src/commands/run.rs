//! `pagesift run`: the worker ([`crate::service::serve`]) on a multi-threaded runtime until
//! SIGTERM/SIGINT; SIGHUP reloads the model files.

use std::process::ExitCode;

use anyhow::Context as _;

use crate::health::Readiness;
use crate::settings::Settings;

/// Arguments of `pagesift run`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the command: builds a multi-threaded runtime and serves until shut down.
pub fn run(settings: &Settings, _args: Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(crate::service::serve(settings.clone(), Readiness::new()))?;
    Ok(ExitCode::SUCCESS)
}
