//! `pagesift-dev train-segmenter`: fits the segmenter's boundary and join models
//! ([`pagesift::pipeline::segment::learned`]) on generated pages with block labels
//! (`tests/tools/make_pages.py` writes `pages/`, `truth/` and `labels/`), calibrates the item
//! confidence on other generated pages, and writes the model file.
//!
//! ```sh
//! python3 tests/tools/make_pages.py --out /tmp/seg-train --pages 5000 --seed 7
//! python3 tests/tools/make_pages.py --out /tmp/seg-cal --pages 5000 --seed 8
//! pagesift-dev train-segmenter --data /tmp/seg-train --calibrate /tmp/seg-cal
//! ```
//!
//! `--only 201902` keeps the pages whose name starts with that prefix (one corpus month), for
//! fitting on one month and measuring on the other.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use pagesift::eval::segmentation::{TruthPage, score_page};
use pagesift::pipeline::segment::fit::{
    LabelledBlock, boundary_examples, fit_join, head_examples, join_examples,
};
use pagesift::pipeline::segment::labeller::{self, TrainOptions};
use pagesift::pipeline::segment::learned::{
    BOUNDARY_FEATURES, CONFIDENCE_FEATURES, FitOptions, JOIN_FEATURES, Logistic, Model, Platt, fit,
    fit_platt,
};
use pagesift::settings::Settings;

use crate::data::write_output;

/// Arguments of `pagesift-dev train-segmenter`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Generated page sets to fit on (each with `pages/` and `labels/`).
    #[arg(long, value_name = "DIR", required = true)]
    pub data: Vec<PathBuf>,
    /// Generated page sets (with `pages/` and `truth/`) to calibrate the confidence on.
    #[arg(long, value_name = "DIR")]
    pub calibrate: Vec<PathBuf>,
    /// Keep only pages whose file name starts with one of these prefixes (e.g. `201902`).
    #[arg(long, value_name = "PREFIX")]
    pub only: Vec<String>,
    /// Prefixes for the calibration pages (default: the same as `--only`).
    #[arg(long, value_name = "PREFIX")]
    pub calibrate_only: Vec<String>,
    /// L2 penalty per example.
    #[arg(long, default_value_t = 1e-3)]
    pub l2: f64,
    /// Passes of the headline labeller's averaged perceptron over its examples.
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Features of the headline labeller firing on fewer training lines keep weight 0.
    #[arg(long, default_value_t = 5)]
    pub min_count: usize,
    /// Fit no headline labeller (the model parses headline runs with the join model).
    #[arg(long)]
    pub no_labeller: bool,
    /// Fit no item-confidence model (the calibrated product of decision probabilities).
    #[arg(long)]
    pub no_item_model: bool,
    /// Version string of the model.
    #[arg(long, default_value = "segmenter-1")]
    pub version: String,
    /// Where to write the model (`-` for stdout; relative to the current directory).
    #[arg(long, value_name = "FILE", default_value = "config/segmenter.json")]
    pub out: PathBuf,
}

/// The page names (stems) of a set, sorted, filtered by prefix.
fn stems(dir: &Path, sub: &str, only: &[String]) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    let path = dir.join(sub);
    for entry in std::fs::read_dir(&path).with_context(|| format!("listing {}", path.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".json") else {
            continue;
        };
        if only.is_empty() || only.iter().any(|p| stem.starts_with(p.as_str())) {
            out.push(stem.to_owned());
        }
    }
    out.sort();
    Ok(out)
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn accuracy(w: &[f64], ex: &[(Vec<f64>, bool)]) -> f64 {
    let right = ex
        .iter()
        .filter(|(x, y)| (w.iter().zip(x).map(|(a, b)| a * b).sum::<f64>() >= 0.0) == *y)
        .count();
    right as f64 / ex.len().max(1) as f64
}

/// Runs the command.
pub fn run(settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    let pipeline = pagesift::resources::build_pipeline(&settings.pipeline)?;
    let jieba = pipeline.jieba();
    let words = |w: &str| jieba.has_word(w);
    let (mut boundary, mut join, mut heads) = (Vec::new(), Vec::new(), Vec::new());
    let mut pages = 0usize;
    for dir in &args.data {
        for stem in stems(dir, "labels", &args.only)? {
            let text = read(&dir.join("pages").join(format!("{stem}.txt")))?;
            let raw = read(&dir.join("labels").join(format!("{stem}.json")))?;
            let blocks: Vec<LabelledBlock> =
                serde_json::from_str(&raw).with_context(|| format!("parsing labels of {stem}"))?;
            boundary.extend(boundary_examples(&text, &blocks, &words));
            join.extend(join_examples(&blocks, &words));
            if !args.no_labeller {
                heads.extend(head_examples(&text, &blocks, &words));
            }
            pages += 1;
        }
    }
    anyhow::ensure!(!boundary.is_empty(), "no boundary decisions in the data");
    let opts = FitOptions {
        l2: args.l2,
        ..FitOptions::default()
    };
    let bw = fit(&boundary, BOUNDARY_FEATURES.len(), opts);
    let jw = fit_join(&join, opts);
    let names = |f: &[&str]| f.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let round = |w: Vec<f64>| {
        w.into_iter()
            .map(|v| (v * 1e4).round() / 1e4)
            .collect::<Vec<_>>()
    };
    let positives = |ex: &[(Vec<f64>, bool)]| ex.iter().filter(|(_, y)| *y).count();
    let mut model = Model {
        version: args.version.clone(),
        trained_on: format!(
            "pagesift-dev train-segmenter on {pages} generated pages{} ({} boundary decisions, {} new items; {} headline line pairs, {} wrapped); l2 {}",
            if args.only.is_empty() {
                String::new()
            } else {
                format!(" named {}*", args.only.join("*, "))
            },
            boundary.len(),
            positives(&boundary),
            join.len(),
            positives(&join),
            args.l2
        ),
        boundary: Logistic {
            features: names(BOUNDARY_FEATURES),
            weights: round(bw),
        },
        join: Logistic {
            features: names(JOIN_FEATURES),
            weights: round(jw),
        },
        calibration: Platt::IDENTITY,
        heads: None,
        confidence: None,
    };
    if !heads.is_empty() {
        let lab = labeller::train(
            &heads,
            TrainOptions {
                epochs: args.epochs,
                min_count: args.min_count,
            },
        );
        let right = heads.iter().filter(|(x, y)| lab.decode(x).0 == *y).count();
        let mut confusion = [[0usize; labeller::LABELS.len()]; labeller::LABELS.len()];
        for (x, y) in &heads {
            for (want, got) in y.iter().zip(lab.decode(x).0) {
                confusion[*want as usize][got as usize] += 1;
            }
        }
        eprintln!(
            "pagesift-dev: headline labeller line confusion (rows: truth; columns: {})",
            labeller::LABEL_NAMES.join(" ")
        );
        for (name, row) in labeller::LABEL_NAMES.iter().zip(confusion) {
            eprintln!("  {name:>9} {row:?}");
        }
        eprintln!(
            "pagesift-dev: headline labeller {} runs, training accuracy (whole runs) {:.4}",
            heads.len(),
            right as f64 / heads.len() as f64
        );
        model.trained_on.push_str(&format!(
            "; headline labeller on {} runs, {} epochs, min count {}",
            heads.len(),
            args.epochs,
            args.min_count
        ));
        model.heads = Some(lab);
    }
    let rule_at = BOUNDARY_FEATURES
        .iter()
        .position(|f| *f == "rule_new")
        .unwrap_or(0);
    let rule_right = boundary
        .iter()
        .filter(|(x, y)| (x[rule_at] > 0.5) == *y)
        .count();
    eprintln!(
        "pagesift-dev: boundary {} decisions, training accuracy {:.4} (the rules: {:.4}); join {} pairs, training accuracy {:.4}",
        boundary.len(),
        accuracy(&model.boundary.weights, &boundary),
        rule_right as f64 / boundary.len() as f64,
        join.len(),
        accuracy(&model.join.weights, &join)
    );
    // Calibration: the raw confidence of every item on other pages against its being right.
    let cal_only = if args.calibrate_only.is_empty() {
        &args.only
    } else {
        &args.calibrate_only
    };
    let mut pairs = Vec::new();
    let mut scored: Vec<(Vec<f64>, bool)> = Vec::new();
    for dir in &args.calibrate {
        for stem in stems(dir, "truth", cal_only)? {
            let truth: TruthPage =
                serde_json::from_str(&read(&dir.join("truth").join(format!("{stem}.json")))?)
                    .with_context(|| format!("parsing truth of {stem}"))?;
            let text = read(&dir.join("pages").join(format!("{stem}.txt")))?;
            let normalized = pagesift::pipeline::normalize::normalize(&text);
            let (items, features) =
                pagesift::pipeline::segment::segment_with_features(&normalized, &words, &model);
            let page = score_page(&stem, &truth, &items).items;
            scored.extend(features.into_iter().zip(page.iter().map(|(_, r)| *r)));
            pairs.extend(page);
        }
    }
    if !pairs.is_empty() {
        let platt = fit_platt(&pairs);
        let right = pairs.iter().filter(|(_, r)| *r).count();
        let mean = pairs.iter().map(|(c, _)| c).sum::<f64>() / pairs.len() as f64;
        eprintln!(
            "pagesift-dev: calibration items {}, right {right}, mean raw confidence {mean:.4}",
            pairs.len()
        );
        model.calibration = Platt {
            a: (platt.a * 1e4).round() / 1e4,
            b: (platt.b * 1e4).round() / 1e4,
        };
        model.trained_on.push_str(&format!(
            "; calibrated on {} items of {}",
            pairs.len(),
            args.calibrate
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !scored.is_empty() && !args.no_item_model {
        let w = fit(&scored, CONFIDENCE_FEATURES.len(), opts);
        model.confidence = Some(Logistic {
            features: names(CONFIDENCE_FEATURES),
            weights: round(w),
        });
        model
            .trained_on
            .push_str("; item-confidence model fitted on the same items");
    }
    let mut json = serde_json::to_string_pretty(&model)?;
    json.push('\n');
    Model::from_json(&json).context("the fitted model does not load")?;
    write_output(&args.out, &json)?;
    eprintln!(
        "pagesift-dev: {} -> {} (calibration a={} b={} on {} items)",
        model.version,
        args.out.display(),
        model.calibration.a,
        model.calibration.b,
        pairs.len()
    );
    Ok(ExitCode::SUCCESS)
}
