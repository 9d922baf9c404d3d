//! `pagesift dead-letters list|replay`: the operator's tools for the dead-letter queue
//! (`amqp.dead_letter_queue`): argument parsing and printing around [`crate::dead_letters`].
//!
//! - `list [--limit N]` shows, for each dead letter, its error class and reason, its page id and
//!   the first bytes of the body, and leaves every message in the queue.
//! - `replay [--filter REASON]` republishes matching dead letters to the input queue with
//!   publisher confirms and removes each only after its confirm.

use std::process::ExitCode;

use anyhow::Context;

use crate::dead_letters::{DeadLetter, list, replay};
use crate::settings::Settings;

/// Arguments of `pagesift dead-letters`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do with the dead-letter queue (`amqp.dead_letter_queue`).
    #[command(subcommand)]
    pub action: Action,
}

/// `dead-letters` sub-commands.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Show dead letters (reason, page id, first bytes) without removing them.
    List {
        /// Most messages to show.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Bytes of each body to show.
        #[arg(long, default_value_t = 80)]
        bytes: usize,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Republish dead letters to the input queue (with confirms), removing each after its
    /// confirm.
    Replay {
        /// Only messages whose error class equals REASON or whose reason contains it.
        #[arg(long, value_name = "REASON")]
        filter: Option<String>,
    },
}

/// Runs the command.
pub fn run(settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run_async(settings, args))
}

async fn run_async(settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    let connection = crate::amqp::connect(settings, "dead-letters").await?;
    let channel = connection
        .create_channel()
        .await
        .context("opening a channel")?;
    let dlq = &settings.amqp.dead_letter_queue;
    let outcome = match args.action {
        Action::List { limit, bytes, json } => {
            list(&channel, dlq, limit, bytes).await.map(|letters| {
                print_letters(&letters, json);
            })
        }
        Action::Replay { filter } => {
            let report = replay(
                &channel,
                dlq,
                &settings.amqp.input_queue,
                filter.as_deref(),
                settings.amqp.publish_timeout(),
            )
            .await;
            report.map(|r| {
                println!(
                    "replayed {} dead letter(s) to `{}`; {} left in `{dlq}` by the filter",
                    r.replayed, settings.amqp.input_queue, r.skipped
                );
            })
        }
    };
    // Closing cleanly returns any message still unacknowledged to the queue.
    let _ = connection.close(200, "done".into()).await;
    outcome?;
    Ok(ExitCode::SUCCESS)
}

fn print_letters(letters: &[DeadLetter], json: bool) {
    if json {
        for letter in letters {
            // Serialising plain strings and numbers cannot fail.
            println!("{}", serde_json::to_string(letter).unwrap_or_default());
        }
        return;
    }
    println!(
        "{:<20} {:<24} {:>9}  REASON / FIRST BYTES",
        "CLASS", "PAGE", "BYTES"
    );
    for l in letters {
        println!(
            "{:<20} {:<24} {:>9}  {}\n{:<56}{}",
            l.class,
            l.page_id.as_deref().unwrap_or("-"),
            l.size,
            l.reason,
            "",
            l.preview
        );
    }
    println!("({} shown)", letters.len());
}
