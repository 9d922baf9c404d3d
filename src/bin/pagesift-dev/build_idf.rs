//! `pagesift-dev build-idf`: the keyword IDF table from a corpus (see [`pagesift::train::idf`]),
//! tokenised with jieba and the configured user dictionary, as the pipeline tokenises.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use pagesift::settings::Settings;

use crate::data::write_output;

/// Arguments of `pagesift-dev build-idf`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Corpus files (JSON lines with `text`).
    #[arg(long, value_name = "FILE", num_args = 1.., required = true)]
    pub corpus: Vec<PathBuf>,
    /// Output file (`-` for stdout; relative to the current directory).
    #[arg(long, value_name = "FILE", default_value = "config/idf.txt")]
    pub out: PathBuf,
    /// Least number of articles a word must occur in.
    #[arg(long, default_value_t = 2)]
    pub min_df: usize,
}

/// Runs the command.
pub fn run(settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    let jieba = pagesift::resources::jieba(&settings.pipeline)?;
    let texts = pagesift::dataset::read_corpus(&args.corpus, |_| true)?;
    let table =
        pagesift::train::idf::build(&jieba, &texts, args.min_df).context("the corpus is empty")?;
    write_output(&args.out, &table.text)?;
    eprintln!(
        "pagesift-dev: IDF of {} words from {} articles -> {}",
        table.words,
        table.articles,
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
