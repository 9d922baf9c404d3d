//! `pagesift-dev eval-classifier`: classifier metrics on labelled articles (see
//! [`pagesift::eval::classifier`]) — for the model file as it is (`--folds 0`), or k-fold
//! cross-validated — beside the naive baseline, measured in the same run.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use pagesift::eval::classifier::{Metrics, baseline, cross_validate};
use pagesift::model::{EventKind, Topic};
use pagesift::settings::Settings;
use pagesift::train::classifier::load_prior;

use crate::data::DataArgs;

/// Arguments of `pagesift-dev eval-classifier`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The labelled articles.
    #[command(flatten)]
    pub data: DataArgs,
    /// k-fold cross-validation with this many folds; 0 scores the model file as it is.
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// The lexicon prior that each fold's training starts from.
    #[arg(long, value_name = "FILE", default_value = "config/lexicon.json")]
    pub lexicon: PathBuf,
    /// Model file scored when --folds 0 (default: the configured classifier).
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Print every misclassified article.
    #[arg(long)]
    pub errors: bool,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

fn label(safety: bool, topics: &[Topic], kind: Option<EventKind>) -> String {
    let topics: Vec<&str> = topics.iter().map(|t| t.as_str()).collect();
    format!(
        "{} [{}] {}",
        if safety { "SAFE" } else { "-" },
        topics.join(","),
        kind.map_or("", EventKind::as_str)
    )
}

/// Runs the command.
pub fn run(settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    let data = args.data.load()?;
    let (name, predictions) = if args.folds >= 2 {
        let prior = load_prior(&args.lexicon)?;
        (
            format!("classifier ({}-fold CV)", args.folds),
            cross_validate(&prior, &data, args.folds)?,
        )
    } else {
        let path = args
            .model
            .clone()
            .unwrap_or_else(|| settings.pipeline.classifier.clone());
        let classifier =
            load_prior(&path).with_context(|| format!("loading the model {}", path.display()))?;
        let p = data
            .iter()
            .map(|l| classifier.classify(&l.article))
            .collect();
        (format!("classifier {}", classifier.version()), p)
    };
    let mut metrics = Metrics::default();
    let mut naive = Metrics::default();
    for (l, p) in data.iter().zip(&predictions) {
        metrics.add(&l.gold, p);
        naive.add(&l.gold, &baseline(&l.article));
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        writeln!(
            out,
            "{}",
            serde_json::json!({"model": name, "classifier": metrics.summary(), "baseline": naive.summary()})
        )?;
    } else {
        metrics.print(&mut out, &name)?;
        naive.print(&mut out, "baseline (title/lead terms)")?;
    }
    if args.errors {
        for (l, p) in data.iter().zip(&predictions) {
            let primary_ok = p.primary.is_some_and(|t| l.gold.topics.contains(&t));
            let wrong = l.gold.safety != p.is_safety
                || (l.gold.safety && (!primary_ok || p.event_kind != l.gold.event_kind));
            if wrong {
                let evidence: Vec<String> = p
                    .topics
                    .iter()
                    .map(|t| {
                        format!(
                            "{}={:.2}:{}",
                            t.label.as_str(),
                            t.score,
                            t.evidence.join("/")
                        )
                    })
                    .collect();
                eprintln!(
                    "{:<16} gold {:<40} got {:<40} {} | {}",
                    l.id,
                    label(l.gold.safety, &l.gold.topics, l.gold.event_kind),
                    label(p.is_safety, p.primary.as_slice(), p.event_kind),
                    l.article.title.as_deref().unwrap_or(""),
                    evidence.join(" ")
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
