//! `pagesift-dev build-clusters`: the entity tagger's word classes from unlabelled corpus text
//! (see [`pagesift::train::clusters`]), words cut as the tagger sees them (one `jieba.tag`
//! pass per line, HMM off). Each word gets two classes: one fitted on the text read forwards
//! (the word's class by the words before it) and one on the text read backwards (by the words
//! after it). `train-entities` reads the file and writes the classes into the model.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use pagesift::settings::Settings;
use pagesift::train::clusters::{self, Params};
use rustc_hash::FxHashMap;

use crate::data::write_output;

/// Arguments of `pagesift-dev build-clusters`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Corpus files (JSON lines with `id` and `text`).
    #[arg(long, value_name = "FILE", num_args = 1.., required = true)]
    pub corpus: Vec<PathBuf>,
    /// Output file (`-` for stdout; relative to the current directory).
    #[arg(
        long,
        value_name = "FILE",
        default_value = "tests/fixtures/entity-clusters.tsv"
    )]
    pub out: PathBuf,
    /// Number of classes.
    #[arg(long, default_value_t = 128)]
    pub classes: usize,
    /// Least number of occurrences of a word to get a class.
    #[arg(long, default_value_t = 5)]
    pub min_count: u32,
    /// Exchange passes.
    #[arg(long, default_value_t = 12)]
    pub passes: usize,
}

/// Runs the command.
pub fn run(settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    let jieba = pagesift::resources::jieba(&settings.pipeline)?;
    let texts = pagesift::dataset::read_corpus(&args.corpus, |_| true)?;
    let mut ids: Vec<&String> = texts.keys().collect();
    ids.sort();
    let mut forwards = Vec::new();
    for id in ids {
        for line in texts[id].lines() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let words: Vec<String> = jieba
                .tag(line, false)
                .iter()
                .filter(|t| !t.word.trim().is_empty())
                .map(|t| t.word.to_string())
                .collect();
            forwards.push(words);
        }
    }
    let backwards: Vec<Vec<String>> = forwards
        .iter()
        .map(|s| s.iter().rev().cloned().collect())
        .collect();
    let params = Params {
        classes: args.classes,
        min_count: args.min_count,
        passes: args.passes,
    };
    let mut both: FxHashMap<String, [Option<u16>; 2]> = FxHashMap::default();
    for (side, seqs) in [&forwards, &backwards].into_iter().enumerate() {
        let fitted = clusters::fit(seqs, &params);
        eprintln!(
            "pagesift-dev: {} words in {} classes ({}), objective by pass {:?}",
            fitted.items.len(),
            args.classes,
            ["by the words before", "by the words after"][side],
            fitted
                .objective
                .iter()
                .map(|o| o.round() as i64)
                .collect::<Vec<_>>()
        );
        for (word, class, _) in fitted.items {
            both.entry(word).or_default()[side] = Some(class);
        }
    }
    let mut rows: Vec<(String, u16, u16)> = both
        .into_iter()
        .filter_map(|(w, [l, r])| Some((w, l?, r?)))
        .collect();
    rows.sort_unstable();
    let mut out = String::from(
        "# pagesift entity tagger word classes: word, class by the words before, class by the words after\n",
    );
    let _ = writeln!(
        out,
        "# pagesift-dev build-clusters --classes {} --min-count {} --passes {}",
        args.classes, args.min_count, args.passes
    );
    for (word, left, right) in &rows {
        let _ = writeln!(out, "{word}\t{left}\t{right}");
    }
    write_output(&args.out, &out)?;
    eprintln!(
        "pagesift-dev: classes of {} words -> {}",
        rows.len(),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
