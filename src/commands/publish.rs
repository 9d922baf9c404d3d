//! `pagesift publish [FILE...] [--repeat N]`: a feeder that publishes page files as page
//! messages to the input queue, with publisher confirms, for demos, tests and load runs. The page
//! id is the file stem (or a JSON page's own `page_id`), as in `pagesift process`, so a file
//! yields the same event ids online and offline; with `--repeat N > 1` each copy gets the suffix
//! `-rK` (K = 0..N). `.json` files are sent as JSON; anything else as text with the page id in a
//! `page_id` header.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::amqp::{self, OutMessage, Publisher, short};
use crate::page_file::page_messages;
use crate::settings::Settings;
use anyhow::Context as _;

/// Messages published per confirm batch.
const BATCH: usize = 256;

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
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(publish(settings, args))?;
    Ok(ExitCode::SUCCESS)
}

async fn publish(settings: &Settings, args: Args) -> anyhow::Result<()> {
    let queue = args
        .queue
        .clone()
        .unwrap_or_else(|| settings.amqp.input_queue.clone());
    let messages = page_messages(&args.files, args.repeat)?;
    let connection = std::sync::Arc::new(amqp::connect(settings, "feeder").await?);
    if settings.amqp.declare {
        let channel = connection.create_channel().await?;
        amqp::topology::declare(&channel, &settings.amqp).await?;
        let _ = channel.close(200, short("declared")).await;
    }
    let publisher = Publisher::open(
        std::sync::Arc::clone(&connection),
        Duration::from_secs(settings.amqp.publish_timeout_seconds),
    )
    .await?;
    let started = Instant::now();
    for chunk in messages.chunks(BATCH) {
        let batch: Vec<OutMessage> = chunk
            .iter()
            .map(|m| OutMessage {
                exchange: String::new(),
                routing_key: queue.clone(),
                body: m.body.clone(),
                properties: m.properties.clone(),
                mandatory: true,
            })
            .collect();
        publisher
            .publish_all(&batch)
            .await
            .with_context(|| format!("publishing to queue `{queue}`"))?;
    }
    let elapsed = started.elapsed();
    tracing::info!(
        pages = messages.len(),
        queue,
        elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        "published (all confirmed)"
    );
    publisher.close().await;
    let _ = connection.close(200, short("bye")).await;
    Ok(())
}
