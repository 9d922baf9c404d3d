//! What the development commands share: the labelled-data arguments of `train` and
//! `eval-classifier`, and writing a fitted file to a path or stdout.

use std::path::{Path, PathBuf};

use anyhow::Context;
use pagesift::dataset::{self, Labelled};

/// The labelled-data arguments shared by `train` and `eval-classifier`.
#[derive(Debug, clap::Args)]
pub struct DataArgs {
    /// Labels files (JSON lines: id, safety, topics, event_kind), joined with --corpus on id.
    #[arg(long, value_name = "FILE")]
    pub labels: Vec<PathBuf>,
    /// Corpus files (JSON lines: id, text in crawler format) holding the labelled articles.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub corpus: Vec<PathBuf>,
    /// Truth directories (`NAME.json` with `page_file`); their entries are labelled articles.
    #[arg(long, value_name = "DIR")]
    pub truth: Vec<PathBuf>,
    /// Written texts (JSON lines: id, kicker, title, subtitle, text, safety, topics,
    /// event_kind): training data for `train`; `eval-classifier` keeps them out of its test
    /// folds.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub written: Vec<PathBuf>,
}

impl DataArgs {
    /// Loads every labelled article the arguments name (see [`dataset::load_all`]); warns on
    /// stderr about truth entries not found in their page.
    pub fn load(&self) -> anyhow::Result<Vec<Labelled>> {
        let data = dataset::load_all(&self.labels, &self.corpus, &self.truth)?;
        for (dir, missing) in &data.missing {
            eprintln!(
                "pagesift-dev: {}: {} entries not found in their page: {}",
                dir.display(),
                missing.len(),
                missing.join(", ")
            );
        }
        Ok(data.articles)
    }
}

/// Writes `text` to `path`, or to stdout when `path` is `-`.
pub fn write_output(path: &Path, text: &str) -> anyhow::Result<()> {
    if path.as_os_str() == "-" {
        std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes())?;
    } else {
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
