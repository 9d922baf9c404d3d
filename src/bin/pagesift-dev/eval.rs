//! `pagesift-dev eval`: segmentation scores of the configured pipeline against truth files
//! (scoring rules in [`pagesift::eval::segmentation`]), as a table or JSON.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use pagesift::eval::segmentation::{EvalOptions, EvalReport, evaluate_with, reliability};
use pagesift::settings::Settings;

/// Arguments of `pagesift-dev eval`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory of page files (`NAME.txt`).
    #[arg(long, default_value = "tests/fixtures/pages")]
    pub pages: PathBuf,
    /// Directory of truth files (`NAME.json`).
    #[arg(long, default_value = "tests/fixtures/truth")]
    pub truth: PathBuf,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
    /// Print every missed truth entry and every unmatched item.
    #[arg(long)]
    pub verbose: bool,
    /// Only truth files whose name starts with one of these prefixes (e.g. `201902`).
    #[arg(long, value_name = "PREFIX")]
    pub only: Vec<String>,
    /// Segment by the rules alone (the baseline of the learned model).
    #[arg(long)]
    pub rules: bool,
    /// Print only the overall line, the head-field score and the reliability table.
    #[arg(long)]
    pub summary: bool,
}

fn print_table(out: &mut impl Write, report: &EvalReport, verbose: bool) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<10} {:>5} {:>5} {:>5}  {:>6} {:>6} {:>6}  {:>6} {:>6}  {:>7} {:>7}",
        "page",
        "truth",
        "items",
        "found",
        "b.P",
        "b.R",
        "b.F1",
        "strict",
        "title",
        "byline",
        "section"
    )?;
    for p in report.pages.iter().chain(std::iter::once(&report.overall)) {
        writeln!(
            out,
            "{:<10} {:>5} {:>5} {:>5}  {:>6.3} {:>6.3} {:>6.3}  {:>6.3} {:>6.3}  {:>3}/{:<3} {:>3}/{:<3}",
            p.page,
            p.boundary.expected,
            p.boundary.emitted,
            p.boundary.hits,
            p.boundary.precision,
            p.boundary.recall,
            p.boundary.f1,
            p.strict.f1,
            p.titles.f1,
            p.bylines_right,
            p.bylines_total,
            p.sections_found,
            p.sections_expected,
        )?;
        if verbose {
            for m in &p.missed {
                writeln!(out, "    missed  {m}")?;
            }
            for m in &p.wrong_titles {
                writeln!(out, "    title   {m}")?;
            }
            for m in &p.wrong_bylines {
                writeln!(out, "    byline  {m}")?;
            }
            for m in &p.extra {
                writeln!(out, "    extra   {m}")?;
            }
        }
    }
    Ok(())
}

/// The strict recall, head-field score and the reliability table of the whole report.
fn print_summary(out: &mut impl Write, report: &EvalReport) -> std::io::Result<()> {
    let o = &report.overall;
    writeln!(
        out,
        "strict recall {:.4} ({}/{}), boundary F1 {:.4}; heads right on {}/{} found ({:.4})",
        o.strict.recall,
        o.strict.hits,
        o.strict.expected,
        o.boundary.f1,
        o.heads_right,
        o.bylines_total,
        o.heads_right as f64 / o.bylines_total.max(1) as f64
    )?;
    writeln!(out, "confidence   items  right  share  mean")?;
    for r in reliability(&o.items) {
        writeln!(
            out,
            "[{:.1}, {:.1})  {:>6} {:>6} {:>6.3} {:>5.3}",
            r.lo,
            r.hi,
            r.items,
            r.right,
            r.right as f64 / r.items.max(1) as f64,
            r.mean_confidence
        )?;
    }
    Ok(())
}

/// Runs the command.
pub fn run(settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    let pipeline = pagesift::resources::build_pipeline(&settings.pipeline)
        .context("loading the pipeline's model files")?;
    let options = EvalOptions {
        only: args.only.clone(),
        rules: args.rules,
    };
    let mut report = evaluate_with(&pipeline, &args.pages, &args.truth, &options)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        if args.summary {
            report.pages.clear();
        }
        print_table(&mut out, &report, args.verbose)?;
        print_summary(&mut out, &report)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
