//! `pagesift check-config`: loads the configuration exactly as `run` would (embedded defaults,
//! files, then `PAGESIFT__*` variables), validates it, checks that the model files it names
//! load, and prints the effective configuration as TOML with secrets redacted, preceded by
//! comment lines saying which files were embedded and which were read from disk. An invalid
//! configuration never reaches this command: loading fails first and the binary exits non-zero
//! with a message naming the field.

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

/// Runs the command: prints where each file comes from and the redacted configuration, fails if
/// a model file does not load.
pub fn run(settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "# configuration directory: {}",
        settings.pipeline.config_dir().display()
    )?;
    for layer in settings.layers() {
        writeln!(out, "# configuration: {layer}")?;
    }
    if !args.skip_models {
        let sources = crate::resources::model_sources(&settings.pipeline)
            .context("configuration names model files that do not exist")?;
        for (setting, source) in sources {
            writeln!(out, "# {setting}: {source}")?;
        }
    }
    writeln!(out)?;
    let toml = settings
        .to_redacted_toml()
        .context("rendering the configuration as TOML")?;
    out.write_all(toml.as_bytes())?;
    out.flush()?;
    if !args.skip_models {
        crate::resources::build_pipeline(&settings.pipeline)
            .context("configuration names model files that do not load")?;
    }
    eprintln!("pagesift: configuration is valid");
    Ok(ExitCode::SUCCESS)
}
