//! `pagesift process [FILE...]`: each file (or `-` for stdin) is one page; `.json` files are page
//! messages, anything else is text. Prints one article event per line on stdout. An input error
//! is reported on stderr and the command exits 2 after processing the other files.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::model::PageMeta;
use crate::pipeline::{Hints, Pipeline};
use crate::settings::Settings;

/// Arguments of `pagesift process`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Page files; `-` (or none) reads one page from stdin.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Page id for stdin (files use their stem).
    #[arg(long, default_value = "stdin")]
    pub page_id: String,
    /// Newspaper name for text pages.
    #[arg(long)]
    pub newspaper: Option<String>,
    /// Edition date for text pages.
    #[arg(long)]
    pub edition_date: Option<String>,
    /// Page number for text pages.
    #[arg(long)]
    pub page_no: Option<String>,
    /// Source URL for text pages.
    #[arg(long)]
    pub source_url: Option<String>,
    /// Charset of the input when it is not UTF-8 (e.g. gbk); detected when omitted.
    #[arg(long)]
    pub charset: Option<String>,
    /// Use this value as `processed_at` instead of the clock (reproducible output).
    #[arg(long, value_name = "RFC3339")]
    pub processed_at: Option<String>,
    /// Pretty-print each event (not one per line).
    #[arg(long)]
    pub pretty: bool,
}

/// Runs the command.
pub fn run(settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    let pipeline = crate::resources::build_pipeline(&settings.pipeline)
        .context("loading the pipeline's model files")?;
    let meta = PageMeta {
        newspaper: args.newspaper.clone(),
        edition_date: args.edition_date.clone(),
        page_no: args.page_no.clone(),
        source_url: args.source_url.clone(),
    };
    let files = if args.files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.files.clone()
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut failed = false;
    for file in &files {
        let (bytes, hints) = if file.as_os_str() == "-" {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .context("reading stdin")?;
            let hints = Hints {
                content_type: None,
                charset: args.charset.clone(),
                page_id: Some(args.page_id.clone()),
                meta: meta.clone(),
            };
            (buf, hints)
        } else {
            let bytes =
                std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            (
                bytes,
                crate::page_file::hints_for_file(file, meta.clone(), args.charset.clone()),
            )
        };
        match process_one(&pipeline, &bytes, &hints, args.processed_at.as_deref()) {
            Ok(events) => {
                for event in events {
                    if args.pretty {
                        serde_json::to_writer_pretty(&mut out, &event)?;
                    } else {
                        serde_json::to_writer(&mut out, &event)?;
                    }
                    out.write_all(b"\n")?;
                }
            }
            Err(err) => {
                failed = true;
                out.flush()?;
                eprintln!(
                    "pagesift: {}: input error ({}): {err}",
                    file.display(),
                    err.class()
                );
            }
        }
    }
    out.flush()?;
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn process_one(
    pipeline: &Pipeline,
    bytes: &[u8],
    hints: &Hints,
    processed_at: Option<&str>,
) -> Result<Vec<crate::model::ArticleEvent>, crate::pipeline::InputError> {
    let page = pipeline.decode(bytes, hints)?;
    let now = processed_at.map_or_else(crate::clock::now_rfc3339, str::to_owned);
    Ok(pipeline.process(&page, &now)?.events)
}
