//! `pagesift publish [FILE...] [--repeat N]`: a feeder that publishes page files as page
//! messages to the input queue, with publisher confirms ([`crate::amqp::feed`]), for demos,
//! tests and load runs. The page id is the file stem (or a JSON page's own `page_id`), as in
//! `pagesift process`, so a file yields the same event ids online and offline; with
//! `--repeat N > 1` each copy gets the suffix `-rK` (K = 0..N). `.json` files are sent as JSON;
//! anything else as text with the page id in a `page_id` header.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::page_file::page_messages;
use crate::settings::Settings;
use anyhow::Context as _;

/// Arguments of `pagesift publish`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Page files (`.json` page messages or text).
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
    /// Publish every file N times, with a page-id suffix per copy.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,
    /// Queue to publish to (default: `amqp.input_queue`).
    #[arg(long)]
    pub queue: Option<String>,
}

/// Runs the command.
pub fn run(settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    let queue = args
        .queue
        .clone()
        .unwrap_or_else(|| settings.amqp.input_queue.clone());
    let messages = page_messages(&args.files, args.repeat)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let elapsed = runtime.block_on(crate::amqp::feed::feed(settings, &queue, &messages))?;
    tracing::info!(
        pages = messages.len(),
        queue,
        elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        "published (all confirmed)"
    );
    Ok(ExitCode::SUCCESS)
}
