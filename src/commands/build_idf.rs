//! `pagesift build-idf`: computes the keyword IDF table from a corpus of articles (JSON lines
//! with `text`, as in the crawler corpus) with the same jieba and user dictionary the pipeline
//! uses. `idf(word) = ln(N / df(word))`; words in fewer than `--min-df` articles are left out
//! (they get the table's median IDF). The output is sorted by word, so the same corpus always
//! gives the same file.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::pipeline::{Limits, Pipeline, Resources};
use crate::settings::Settings;

/// Arguments of `pagesift build-idf`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Corpus files (JSON lines with `text`).
    #[arg(long, value_name = "FILE", num_args = 1.., required = true)]
    pub corpus: Vec<PathBuf>,
    /// Output file (`-` for stdout).
    #[arg(long, value_name = "FILE", default_value = "config/idf.txt")]
    pub out: PathBuf,
    /// Least number of articles a word must occur in.
    #[arg(long, default_value_t = 2)]
    pub min_df: usize,
}

/// Whether a token can be a keyword at all (two characters or more, not a number).
fn counts(word: &str) -> bool {
    word.chars().nth(1).is_some() && word.chars().any(|c| c.is_alphabetic())
}

/// Runs the command.
pub fn run(settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    let user_dict = std::fs::read_to_string(&settings.pipeline.user_dict)
        .with_context(|| format!("reading {}", settings.pipeline.user_dict.display()))?;
    let pipeline = Pipeline::new(
        &Resources {
            user_dict,
            ..Resources::default()
        },
        Limits::default(),
    )?;
    let jieba = pipeline.jieba();
    let texts = super::dataset::read_corpus(&args.corpus, |_| true)?;
    let mut ids: Vec<&String> = texts.keys().collect();
    ids.sort();
    let mut df: BTreeMap<String, usize> = BTreeMap::new();
    for id in &ids {
        let text = &texts[*id];
        let words: HashSet<&str> = jieba
            .cut(text, true)
            .into_iter()
            .map(|t| t.word)
            .filter(|w| counts(w))
            .collect();
        for w in words {
            *df.entry(w.to_owned()).or_default() += 1;
        }
    }
    anyhow::ensure!(!ids.is_empty(), "the corpus is empty");
    // Article counts are small: the conversions are exact.
    #[allow(clippy::cast_precision_loss)]
    let n = ids.len() as f64;
    let mut out = format!(
        "# IDF table built by `pagesift build-idf` from {} articles (min df {}).\n",
        ids.len(),
        args.min_df
    );
    for (word, d) in df.iter().filter(|(_, d)| **d >= args.min_df) {
        #[allow(clippy::cast_precision_loss)]
        let idf = (n / *d as f64).ln();
        writeln!(out, "{word} {idf:.4}")?;
    }
    if args.out.as_os_str() == "-" {
        std::io::Write::write_all(&mut std::io::stdout().lock(), out.as_bytes())?;
    } else {
        std::fs::write(&args.out, &out)
            .with_context(|| format!("writing {}", args.out.display()))?;
    }
    eprintln!(
        "pagesift: IDF of {} words from {} articles -> {}",
        df.values().filter(|d| **d >= args.min_df).count(),
        ids.len(),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
