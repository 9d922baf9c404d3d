//! `pagesift eval`: scores segmentation against truth files (placeholder).

use std::path::PathBuf;
use std::process::ExitCode;

use crate::settings::Settings;

/// Arguments of `pagesift eval`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory of page files (`NAME.txt`).
    #[arg(long)]
    pub pages: Option<PathBuf>,
    /// Directory of truth files (`NAME.json`).
    #[arg(long)]
    pub truth: Option<PathBuf>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(_settings: &Settings, _args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("eval is not implemented yet")
}
