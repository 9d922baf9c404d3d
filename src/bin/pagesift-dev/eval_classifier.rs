//! `pagesift-dev eval-classifier`: classifier metrics (see [`pagesift::eval::classifier`]), all in
//! one run and each next to the naive keyword baseline and the old lexicon model fitted on the
//! same folds:
//!
//! 1. k-fold cross-validation on the real labelled articles (`--labels`/`--corpus`/`--truth`),
//!    the written texts (`--written`) only ever in the training folds; with and without them;
//!    per-topic recall, the confusion table of primary topics, event-kind accuracy;
//! 2. cross-month: fitted on one corpus month (plus the written texts), tested on the other, both
//!    ways;
//! 3. the written texts alone, k-fold cross-validated among themselves;
//! 4. held-out texts (`--heldout`, never trained on) by part, fitted on everything else.
//!
//! `--only cv,cross,written,heldout` runs only the named parts (each with its same-run
//! baselines), so that one part can be measured on its own on a loaded machine.
//!
//! With `--compare FILE` a second lexicon is fitted on the same folds and data in parts 1, 2
//! and 4 and reported beside the first (an experiment against the shipped lexicon in one run).
//! With `--folds 0` it scores a model file as it is instead.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use pagesift::dataset::{self, Labelled};
use pagesift::eval::classifier::{
    Fitter, Metrics, baseline, confusion, cross_validate, cross_validate_scored, predict,
    topic_recall,
};
use pagesift::model::{EventKind, Safety, Topic};
use pagesift::pipeline::classify::Gold;
use pagesift::settings::Settings;
use pagesift::train::classifier::{lexicon_only, load_prior, prepare};

use crate::data::DataArgs;

/// The parts of `tests/fixtures/heldout/written-d.jsonl`, by id number.
const HELDOUT_PARTS: &str = "one-sentence:1-225,metro:226-329,other-outlets:330-412,investigation:413-453,epidemic-national:454-535,other:536-587";

/// Arguments of `pagesift-dev eval-classifier`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The labelled articles.
    #[command(flatten)]
    pub data: DataArgs,
    /// k-fold cross-validation with this many folds; 0 scores the model file as it is.
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// The lexicon prior that each fold's training starts from, looked up like the model
    /// files: the configuration directory, then the embedded files, then the current directory.
    #[arg(long, value_name = "FILE", default_value = "lexicon.json")]
    pub lexicon: PathBuf,
    /// A second lexicon prior (for instance the shipped `lexicon.json` when --lexicon is an
    /// experiment), fitted on the same folds and data as --lexicon in the cross-validation,
    /// cross-month and held-out parts and reported beside it as `compare`.
    #[arg(long, value_name = "FILE")]
    pub compare: Option<PathBuf>,
    /// Model file scored when --folds 0 (default: the configured classifier).
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Held-out written texts (same format as --written): scored, never trained on.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub heldout: Vec<PathBuf>,
    /// Held-out ids that tell the same event as a training text (`#` comments): the held-out
    /// figures are also given without them.
    #[arg(long, value_name = "FILE")]
    pub overlaps: Option<PathBuf>,
    /// Parts of the held-out set by id number (`NAME:FIRST-LAST,…`, the number after the last
    /// `-` of the id).
    #[arg(long, default_value = HELDOUT_PARTS)]
    pub parts: String,
    /// Leave out the CV's extra rows (learned without written texts, old lexicon); without
    /// --only, run the CV alone (for quick experiments).
    #[arg(long)]
    pub quick: bool,
    /// Run only these parts (comma-separated or repeated), each with its same-run baselines:
    /// `cv` (k-fold CV on the real labels), `cross` (cross-month, both ways), `written` (the
    /// written texts alone), `heldout` (the --heldout texts). Default: every part.
    #[arg(long, value_enum, value_delimiter = ',', num_args = 1..)]
    pub only: Vec<Part>,
    /// Print every misclassified article of the cross-validation.
    #[arg(long)]
    pub errors: bool,
    /// Machine-readable output (one JSON object).
    #[arg(long)]
    pub json: bool,
    /// Write the cross-validated real articles to this file, one JSON line each: id, labels,
    /// prediction and the learned layer's raw scores (for choosing thresholds offline).
    #[arg(long, value_name = "FILE")]
    pub dump: Option<PathBuf>,
}

/// A part of the evaluation (`--only`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    /// k-fold cross-validation on the real labels.
    Cv,
    /// Cross-month: fit on one corpus month, test on the other, both ways.
    Cross,
    /// The written texts alone, cross-validated among themselves.
    Written,
    /// The held-out texts, fitted on everything else.
    Heldout,
}

/// Which parts run: the parts named by `--only`; when none is named, every part, or the CV
/// alone with `--quick`.
fn runs(part: Part, only: &[Part], quick: bool) -> bool {
    if only.is_empty() {
        return !quick || part == Part::Cv;
    }
    only.contains(&part)
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

/// The report being built: text lines and the JSON object.
struct Report {
    text: Vec<String>,
    json: serde_json::Map<String, serde_json::Value>,
}

impl Report {
    fn line(&mut self, s: String) {
        self.text.push(s);
    }

    fn metrics(&mut self, key: &str, name: &str, gold: &[&Gold], predicted: &[Safety]) -> Metrics {
        let mut m = Metrics::default();
        for (g, p) in gold.iter().zip(predicted) {
            m.add(g, p);
        }
        let mut buf = Vec::new();
        if m.print(&mut buf, name).is_ok() {
            self.line(String::from_utf8_lossy(&buf).trim_end().to_owned());
        }
        self.json.insert(key.to_owned(), m.summary());
        m
    }
}

fn golds<'a>(data: &[&'a Labelled]) -> Vec<&'a Gold> {
    data.iter().map(|l| &l.gold).collect()
}

fn baseline_of(data: &[&Labelled]) -> Vec<Safety> {
    data.iter().map(|l| baseline(&l.article)).collect()
}

/// The number at the end of an id (`w-d-0042` -> 42).
fn id_number(id: &str) -> Option<u32> {
    id.rsplit('-').next()?.parse().ok()
}

fn parse_parts(spec: &str) -> anyhow::Result<Vec<(String, u32, u32)>> {
    spec.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let (name, range) = p.split_once(':').context("a part is NAME:FIRST-LAST")?;
            let (a, b) = range.split_once('-').context("a range is FIRST-LAST")?;
            Ok((name.trim().to_owned(), a.trim().parse()?, b.trim().parse()?))
        })
        .collect()
}

/// Runs the command.
pub fn run(settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    let written = dataset::load_written(&args.data.written)?;
    let jieba = pagesift::resources::jieba(&settings.pipeline)?;
    let no_real = args.data.labels.is_empty() && args.data.truth.is_empty();
    if args.folds < 2 {
        // A model file can be scored on written or held-out texts alone.
        let real = if no_real && !(written.is_empty() && args.heldout.is_empty()) {
            Vec::new()
        } else {
            args.data.load()?
        };
        return score_file(settings, &args, &jieba, &real, &written);
    }
    let real = args.data.load()?;
    let prior = load_prior(&args.lexicon, settings.pipeline.config_dir())?;
    anyhow::ensure!(
        prior.model().learned.is_some(),
        "{} has no learned section",
        args.lexicon.display()
    );
    let old = lexicon_only(&prior)?;
    let pool: Vec<&Labelled> = real.iter().chain(&written).collect();
    let real_ids: Vec<usize> = (0..real.len()).collect();
    let written_ids: Vec<usize> = (real.len()..pool.len()).collect();
    eprintln!(
        "pagesift-dev: preparing {} real + {} written articles",
        real.len(),
        written.len()
    );
    let prepared = prepare(&prior, &jieba, &pool);
    let learned = Fitter::Learned {
        prior: &prior,
        prepared: &prepared,
    };
    let other = match &args.compare {
        Some(path) => {
            let c = load_prior(path, settings.pipeline.config_dir())?;
            anyhow::ensure!(
                c.model().learned.is_some(),
                "{} has no learned section",
                path.display()
            );
            let p = prepare(&c, &jieba, &pool);
            Some((c, p))
        }
        None => None,
    };
    let compare = other
        .as_ref()
        .map(|(prior, prepared)| Fitter::Learned { prior, prepared });
    let lexicon = Fitter::Lexicon { prior: &old };
    let k = args.folds;
    let mut r = Report {
        text: Vec::new(),
        json: serde_json::Map::new(),
    };
    let real_refs: Vec<&Labelled> = real.iter().collect();
    let gold = golds(&real_refs);
    let safety = real.iter().filter(|l| l.gold.safety).count();

    if runs(Part::Cv, &args.only, args.quick) {
        // 1. k-fold CV on the real labels.
        eprintln!("pagesift-dev: {k}-fold CV");
        r.line(format!(
            "== {k}-fold CV on the real labels ({} articles, {safety} safety); written texts ({}) only in training folds",
            real.len(),
            written.len()
        ));
        let (cv, raw) = cross_validate_scored(
            learned,
            &jieba,
            &pool,
            &real_ids,
            &written_ids,
            k,
            args.dump.is_some(),
        )?;
        if let Some(path) = &args.dump {
            let mut text = String::new();
            for ((l, p), raw) in real.iter().zip(&cv).zip(&raw) {
                let line = serde_json::json!({
                    "id": l.id,
                    "safety": l.gold.safety,
                    "topics": l.gold.topics.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
                    "event_kind": l.gold.event_kind.map(EventKind::as_str),
                    "predicted": p.is_safety,
                    "primary": p.primary.map(Topic::as_str),
                    "predicted_kind": p.event_kind.map(EventKind::as_str),
                    "scores": raw.iter().map(|(k, v)| (k.clone(), serde_json::json!(v))).collect::<serde_json::Map<String, serde_json::Value>>(),
                });
                text.push_str(&line.to_string());
                text.push('\n');
            }
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        }
        let main = r.metrics("cv_learned", "learned + written", &gold, &cv);
        if let Some(compare) = compare {
            let cv_c = cross_validate(compare, &jieba, &pool, &real_ids, &written_ids, k)?;
            r.metrics("cv_compare", "compare + written", &gold, &cv_c);
        }
        if !args.quick {
            let cv_alone = cross_validate(learned, &jieba, &pool, &real_ids, &[], k)?;
            r.metrics(
                "cv_learned_no_written",
                "learned, no written",
                &gold,
                &cv_alone,
            );
        }
        if !args.quick {
            let cv_old = cross_validate(lexicon, &jieba, &pool, &real_ids, &written_ids, k)?;
            r.metrics("cv_old_lexicon", "old lexicon + written", &gold, &cv_old);
        }
        r.metrics(
            "cv_baseline",
            "baseline (title/lead terms)",
            &gold,
            &baseline_of(&real_refs),
        );
        r.line(format!(
            "event-kind accuracy (learned + written, on true positives): {:.3} ({}/{})",
            main.kind_accuracy(),
            main.kind_correct,
            main.true_positives
        ));
        r.line(
            "per-topic recall (learned + written): topic  articles  caught  right-primary"
                .to_owned(),
        );
        let mut per_topic = serde_json::Map::new();
        for (t, n, caught, right) in topic_recall(&gold, &cv) {
            r.line(format!(
                "  {:<20} {n:>4}  {caught:>4}  {right:>4}",
                t.as_str()
            ));
            per_topic.insert(
                t.as_str().to_owned(),
                serde_json::json!({"articles": n, "caught": caught, "right_primary": right}),
            );
        }
        r.json.insert("cv_per_topic".to_owned(), per_topic.into());
        let table = confusion(&gold, &cv);
        let names: Vec<&str> = Topic::ALL
            .iter()
            .take(6)
            .map(|t| t.as_str())
            .chain(["not_safety"])
            .collect();
        r.line("confusion of primary topics (rows gold, columns predicted):".to_owned());
        let short: Vec<String> = names.iter().map(|n| n.chars().take(9).collect()).collect();
        r.line(format!(
            "  {:<20} {}",
            "",
            short.iter().map(|s| format!("{s:>9}")).collect::<String>()
        ));
        for (name, row) in names.iter().zip(&table) {
            r.line(format!(
                "  {name:<20} {}",
                row.iter().map(|c| format!("{c:>9}")).collect::<String>()
            ));
        }
        r.json.insert(
            "cv_confusion".to_owned(),
            serde_json::json!({"labels": names, "table": table}),
        );
        if args.errors {
            for (l, p) in real_refs.iter().zip(&cv) {
                print_error(l, p);
            }
        }
    }

    if runs(Part::Cross, &args.only, args.quick) {
        // 2. Cross-month.
        eprintln!("pagesift-dev: cross-month");
        let months: Vec<Option<&str>> = real.iter().map(|l| dataset::month(&l.id)).collect();
        let mut distinct: Vec<&str> = months.iter().flatten().copied().collect();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() == 2 {
            for (a, b) in [(distinct[0], distinct[1]), (distinct[1], distinct[0])] {
                let train: Vec<usize> = real_ids
                    .iter()
                    .copied()
                    .filter(|i| months[*i] == Some(a))
                    .chain(written_ids.iter().copied())
                    .collect();
                let test: Vec<&Labelled> = real_ids
                    .iter()
                    .filter(|i| months[**i] == Some(b))
                    .map(|i| pool[*i])
                    .collect();
                let g = golds(&test);
                let s = test.iter().filter(|l| l.gold.safety).count();
                r.line(format!(
                    "== cross-month: fit {a} (+ written), test {b} ({} articles, {s} safety)",
                    test.len()
                ));
                let fitters = [
                    Some((learned, "learned", "learned + written")),
                    compare.map(|c| (c, "compare", "compare + written")),
                    Some((lexicon, "old_lexicon", "old lexicon + written")),
                ];
                for (fitter, key, name) in fitters.into_iter().flatten() {
                    let c = fitter.fit(&jieba, &pool, &train)?;
                    let p = predict(&c, &jieba, &test);
                    r.metrics(&format!("month_{a}_{b}_{key}"), name, &g, &p);
                    if args.errors && key == "learned" {
                        eprintln!("-- cross-month errors, fit {a}, test {b}");
                        for (l, p) in test.iter().zip(&p) {
                            print_error(l, p);
                        }
                    }
                }
                r.metrics(
                    &format!("month_{a}_{b}_baseline"),
                    "baseline (title/lead terms)",
                    &g,
                    &baseline_of(&test),
                );
            }
        } else {
            r.line(format!(
                "== cross-month: needs two corpus months, found {distinct:?}"
            ));
        }
    }

    // 3. The written texts alone.
    if runs(Part::Written, &args.only, args.quick) && written.len() >= k {
        eprintln!("pagesift-dev: written texts alone");
        let w_refs: Vec<&Labelled> = written.iter().collect();
        let g = golds(&w_refs);
        r.line(format!(
            "== written texts alone, {k}-fold CV among themselves ({} texts, {} safety)",
            written.len(),
            written.iter().filter(|l| l.gold.safety).count()
        ));
        let cv_w = cross_validate(learned, &jieba, &pool, &written_ids, &[], k)?;
        r.metrics("written_learned", "learned", &g, &cv_w);
        r.metrics(
            "written_baseline",
            "baseline (title/lead terms)",
            &g,
            &baseline_of(&w_refs),
        );
    }

    // 4. Held-out texts by part.
    if runs(Part::Heldout, &args.only, args.quick) && !args.heldout.is_empty() {
        eprintln!("pagesift-dev: held-out");
        let heldout = dataset::load_written(&args.heldout)?;
        let overlaps: Vec<String> = match &args.overlaps {
            Some(p) => std::fs::read_to_string(p)
                .with_context(|| format!("reading {}", p.display()))?
                .lines()
                .filter_map(|l| l.split('#').next())
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect(),
            None => Vec::new(),
        };
        let everything: Vec<usize> = (0..pool.len()).collect();
        let c_new = learned.fit(&jieba, &pool, &everything)?;
        let c_old = lexicon.fit(&jieba, &pool, &everything)?;
        let all: Vec<&Labelled> = heldout.iter().collect();
        let p_new = predict(&c_new, &jieba, &all);
        let p_old = predict(&c_old, &jieba, &all);
        let p_base = baseline_of(&all);
        let p_cmp = match compare {
            Some(c) => Some(predict(&c.fit(&jieba, &pool, &everything)?, &jieba, &all)),
            None => None,
        };
        r.line(format!(
            "== held-out written texts ({}; never trained on), fitted on all {} real + {} written",
            heldout.len(),
            real.len(),
            written.len()
        ));
        let mut parts = parse_parts(&args.parts)?;
        parts.insert(0, ("all".to_owned(), 0, u32::MAX));
        parts.push(("all-without-overlaps".to_owned(), 0, u32::MAX));
        for (name, a, b) in parts {
            let pick: Vec<usize> = all
                .iter()
                .enumerate()
                .filter(|(_, l)| id_number(&l.id).is_some_and(|n| n >= a && n <= b))
                .filter(|(_, l)| name != "all-without-overlaps" || !overlaps.contains(&l.id))
                .map(|(i, _)| i)
                .collect();
            let sub =
                |p: &[Safety]| -> Vec<Safety> { pick.iter().map(|i| p[*i].clone()).collect() };
            let g: Vec<&Gold> = pick.iter().map(|i| &all[*i].gold).collect();
            let s = g.iter().filter(|g| g.safety).count();
            r.line(format!("-- {name} ({} texts, {s} safety)", pick.len()));
            r.metrics(
                &format!("heldout_{name}_learned"),
                "learned + written",
                &g,
                &sub(&p_new),
            );
            if let Some(p) = &p_cmp {
                r.metrics(
                    &format!("heldout_{name}_compare"),
                    "compare + written",
                    &g,
                    &sub(p),
                );
            }
            r.metrics(
                &format!("heldout_{name}_old_lexicon"),
                "old lexicon + written",
                &g,
                &sub(&p_old),
            );
            r.metrics(
                &format!("heldout_{name}_baseline"),
                "baseline (title/lead terms)",
                &g,
                &sub(&p_base),
            );
        }
        if args.errors {
            for (l, p) in all.iter().zip(&p_new) {
                print_error(l, p);
            }
        }
    }

    finish(&args, r)
}

fn finish(args: &Args, r: Report) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        writeln!(out, "{}", serde_json::Value::Object(r.json))?;
    } else {
        for l in &r.text {
            writeln!(out, "{l}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `--folds 0`: the model file as it is, on every labelled and written article given.
fn score_file(
    settings: &Settings,
    args: &Args,
    jieba: &jieba_rs::Jieba,
    real: &[Labelled],
    written: &[Labelled],
) -> anyhow::Result<ExitCode> {
    let path = args
        .model
        .clone()
        .unwrap_or_else(|| settings.pipeline.classifier.clone());
    let classifier = load_prior(&path, settings.pipeline.config_dir())
        .with_context(|| format!("loading the model {}", path.display()))?;
    let heldout = dataset::load_written(&args.heldout)?;
    let data: Vec<&Labelled> = real.iter().chain(written).chain(&heldout).collect();
    let predictions = predict(&classifier, jieba, &data);
    let mut r = Report {
        text: Vec::new(),
        json: serde_json::Map::new(),
    };
    let g = golds(&data);
    r.metrics(
        "model",
        &format!("classifier {}", classifier.version()),
        &g,
        &predictions,
    );
    r.metrics(
        "baseline",
        "baseline (title/lead terms)",
        &g,
        &baseline_of(&data),
    );
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        writeln!(out, "{}", serde_json::Value::Object(r.json))?;
    } else {
        for l in &r.text {
            writeln!(out, "{l}")?;
        }
    }
    if args.errors {
        for (l, p) in data.iter().zip(&predictions) {
            print_error(l, p);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_error(l: &Labelled, p: &Safety) {
    let primary_ok = p.primary.is_some_and(|t| l.gold.topics.contains(&t));
    let wrong = l.gold.safety != p.is_safety
        || (l.gold.safety && (!primary_ok || p.event_kind != l.gold.event_kind));
    if !wrong {
        return;
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_runs_when_none_is_named() {
        for part in [Part::Cv, Part::Cross, Part::Written, Part::Heldout] {
            assert!(runs(part, &[], false));
        }
    }

    #[test]
    fn only_the_named_parts_run() {
        let only = [Part::Cross, Part::Heldout];
        assert!(!runs(Part::Cv, &only, false));
        assert!(runs(Part::Cross, &only, false));
        assert!(!runs(Part::Written, &only, false));
        assert!(runs(Part::Heldout, &only, false));
    }

    #[test]
    fn quick_alone_is_the_cross_validation_alone() {
        assert!(runs(Part::Cv, &[], true));
        assert!(!runs(Part::Cross, &[], true));
        assert!(!runs(Part::Written, &[], true));
    }

    #[test]
    fn quick_with_named_parts_runs_those_parts() {
        assert!(runs(Part::Cross, &[Part::Cv, Part::Cross], true));
        assert!(runs(Part::Cv, &[Part::Cv, Part::Cross], true));
        assert!(!runs(Part::Heldout, &[Part::Cv, Part::Cross], true));
    }
}
