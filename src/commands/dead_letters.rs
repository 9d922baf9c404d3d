//! `pagesift dead-letters list|replay`: the operator's tools for the dead-letter queue.
//!
//! - `list [--limit N]` shows, for each dead letter, its error class and reason, its page id and
//!   the first bytes of the body. Messages are taken with `basic.get` *without* acknowledging
//!   them and handed back with `basic.nack(requeue)` at the end (or by the broker when the
//!   channel closes early), so listing never loses a message.
//! - `replay [--filter REASON]` republishes matching dead letters to the input queue with
//!   publisher confirms and acknowledges each dead letter only after its confirm; a message the
//!   broker could not route or store stays in the dead-letter queue. Only the messages present
//!   when the replay starts are considered, so a page that fails again is not replayed in a loop.
//!
//! Dead letters carry the headers the worker sets (`x-pagesift-error-class`,
//! `x-pagesift-error-reason`, `x-pagesift-page-id`); messages the broker dead-lettered by itself
//! (delivery limit, rejection) are described by its `x-first-death-reason` header.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicGetOptions, BasicNackOptions, BasicPublishOptions, ConfirmSelectOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties};
use secrecy::ExposeSecret;
use serde::Serialize;

use crate::settings::Settings;

/// Header naming the error class of a dead letter (e.g. `too_large`).
pub const HEADER_ERROR_CLASS: &str = "x-pagesift-error-class";
/// Header with the human-readable reason of a dead letter.
pub const HEADER_ERROR_REASON: &str = "x-pagesift-error-reason";
/// Header with the page id of a dead letter.
pub const HEADER_PAGE_ID: &str = "x-pagesift-page-id";
/// Header counting how often a message was replayed from the dead-letter queue.
pub const HEADER_REPLAYED: &str = "x-pagesift-replayed";

/// Headers describing a previous failure; dropped when a message is replayed.
const FAILURE_HEADERS: &[&str] = &[
    HEADER_ERROR_CLASS,
    HEADER_ERROR_REASON,
    "x-death",
    "x-first-death-exchange",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-last-death-exchange",
    "x-last-death-queue",
    "x-last-death-reason",
    "x-delivery-count",
];

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

/// What `list` shows about one dead letter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    /// Error class (`x-pagesift-error-class`, or the broker's death reason).
    pub class: String,
    /// Human-readable reason.
    pub reason: String,
    /// Page id, when the headers carry one.
    pub page_id: Option<String>,
    /// Size of the body in bytes.
    pub size: usize,
    /// The first bytes of the body, decoded lossily, control characters shown as spaces.
    pub preview: String,
}

impl DeadLetter {
    /// Describes a dead letter from its properties and body, previewing `preview_bytes`.
    pub fn describe(properties: &BasicProperties, body: &[u8], preview_bytes: usize) -> Self {
        let headers = properties.headers().as_ref();
        let text = |name: &str| headers.and_then(|h| header_text(h, name));
        let broker_reason = text("x-first-death-reason");
        let class = text(HEADER_ERROR_CLASS)
            .or_else(|| broker_reason.clone())
            .unwrap_or_else(|| "unknown".to_owned());
        let reason = text(HEADER_ERROR_REASON)
            .or_else(|| broker_reason.map(|r| format!("dead-lettered by the broker ({r})")))
            .unwrap_or_default();
        DeadLetter {
            class,
            reason,
            page_id: text(HEADER_PAGE_ID),
            size: body.len(),
            preview: preview(body, preview_bytes),
        }
    }

    /// Whether `filter` selects this dead letter: equal to its class, or part of its reason.
    pub fn matches(&self, filter: &str) -> bool {
        self.class == filter || self.reason.contains(filter)
    }
}

/// A header as text, when it is a string.
fn header_text(headers: &FieldTable, name: &str) -> Option<String> {
    match headers.inner().get(name)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

/// The first `max` bytes as text: lossy UTF-8 without a broken last character, controls
/// (newlines, tabs) as spaces.
fn preview(body: &[u8], max: usize) -> String {
    let mut end = body.len().min(max);
    if let Err(e) = std::str::from_utf8(&body[..end]) {
        // A character cut at the limit: stop before it (invalid bytes elsewhere stay lossy).
        if e.error_len().is_none() {
            end = e.valid_up_to();
        }
    }
    String::from_utf8_lossy(&body[..end])
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The properties a replayed message is published with: the original ones without the
/// failure headers, plus the replay count.
pub fn replay_properties(original: &BasicProperties) -> BasicProperties {
    let mut headers = FieldTable::default();
    let mut replayed = 0_i64;
    if let Some(old) = original.headers() {
        for (k, v) in old.inner() {
            if k.as_str() == HEADER_REPLAYED {
                if let AMQPValue::LongLongInt(n) = v {
                    replayed = *n;
                }
            } else if !FAILURE_HEADERS.contains(&k.as_str()) {
                headers.insert(k.clone(), v.clone());
            }
        }
    }
    headers.insert(
        ShortString::from(HEADER_REPLAYED),
        AMQPValue::LongLongInt(replayed.saturating_add(1)),
    );
    original.clone().with_headers(headers)
}

/// Ready messages in `queue`; an error saying which queue is missing when it does not exist.
async fn ready_messages(channel: &Channel, queue: &str, what: &str) -> anyhow::Result<u32> {
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let declared = channel
        .queue_declare(queue.into(), passive, FieldTable::default())
        .await
        .with_context(|| {
            format!("{what} `{queue}` does not exist (has a worker declared the topology?)")
        })?;
    Ok(declared.message_count())
}

/// Takes the next message of `queue` without acknowledging it.
async fn get_unacked(channel: &Channel, queue: &str) -> anyhow::Result<Option<Delivery>> {
    let message = channel
        .basic_get(queue.into(), BasicGetOptions { no_ack: false })
        .await
        .with_context(|| format!("reading dead letters from `{queue}`"))?;
    Ok(message.map(|m| m.delivery))
}

/// Lists up to `limit` dead letters of `queue` and hands every one back to the queue.
pub async fn list(
    channel: &Channel,
    queue: &str,
    limit: usize,
    preview_bytes: usize,
) -> anyhow::Result<Vec<DeadLetter>> {
    ready_messages(channel, queue, "dead-letter queue").await?;
    let mut letters = Vec::new();
    let mut last_tag = None;
    while letters.len() < limit {
        let Some(delivery) = get_unacked(channel, queue).await? else {
            break;
        };
        last_tag = Some(delivery.delivery_tag);
        letters.push(DeadLetter::describe(
            &delivery.properties,
            &delivery.data,
            preview_bytes,
        ));
    }
    if let Some(tag) = last_tag {
        channel
            .basic_nack(
                tag,
                BasicNackOptions {
                    multiple: true,
                    requeue: true,
                },
            )
            .await
            .context("handing the listed dead letters back to their queue")?;
    }
    Ok(letters)
}

/// What a replay did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReplayReport {
    /// Dead letters republished (confirmed) and removed.
    pub replayed: usize,
    /// Dead letters left in place because the filter did not select them.
    pub skipped: usize,
}

/// Replays the dead letters of `dead_letter_queue` selected by `filter` to `input_queue`.
/// `channel` must not be used for anything else meanwhile; it is put in confirm mode.
pub async fn replay(
    channel: &Channel,
    dead_letter_queue: &str,
    input_queue: &str,
    filter: Option<&str>,
    confirm_timeout: Duration,
) -> anyhow::Result<ReplayReport> {
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .context("enabling publisher confirms")?;
    ready_messages(channel, input_queue, "input queue").await?;
    let waiting = ready_messages(channel, dead_letter_queue, "dead-letter queue").await?;
    let mut report = ReplayReport::default();
    let mut skipped_tags = Vec::new();
    let result = async {
        for _ in 0..waiting {
            let Some(delivery) = get_unacked(channel, dead_letter_queue).await? else {
                break;
            };
            let letter = DeadLetter::describe(&delivery.properties, &delivery.data, 0);
            if filter.is_some_and(|f| !letter.matches(f)) {
                skipped_tags.push(delivery.delivery_tag);
                continue;
            }
            let confirm = channel
                .basic_publish(
                    "".into(),
                    input_queue.into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..BasicPublishOptions::default()
                    },
                    &delivery.data,
                    replay_properties(&delivery.properties),
                )
                .await
                .context("republishing a dead letter")?;
            let confirmation = tokio::time::timeout(confirm_timeout, confirm)
                .await
                .context("no publisher confirm in time; the dead letter stays queued")?
                .context("waiting for the publisher confirm")?;
            match confirmation {
                Confirmation::Ack(None) => {
                    channel
                        .basic_ack(delivery.delivery_tag, BasicAckOptions::default())
                        .await
                        .context("acknowledging a replayed dead letter")?;
                    report.replayed += 1;
                }
                Confirmation::Ack(Some(_)) => {
                    bail!("the broker could not route the page to `{input_queue}`; stopped")
                }
                Confirmation::Nack(_) => bail!("the broker refused the replayed page; stopped"),
                Confirmation::NotRequested => bail!("publisher confirms are not enabled"),
            }
        }
        anyhow::Ok(())
    }
    .await;
    report.skipped = skipped_tags.len();
    // Hand back what was skipped (and, on an error, closing the channel returns the rest).
    for tag in skipped_tags {
        channel
            .basic_nack(
                tag,
                BasicNackOptions {
                    multiple: false,
                    requeue: true,
                },
            )
            .await
            .context("handing skipped dead letters back to their queue")?;
    }
    result.map(|()| report)
}

/// Connects to the broker named by the settings (with `amqp.tls_ca_file` when set).
pub async fn connect(settings: &Settings) -> anyhow::Result<Connection> {
    let cert_chain = match &settings.amqp.tls_ca_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading amqp.tls_ca_file {}", path.display()))?,
        ),
        None => None,
    };
    let tls = lapin::tcp::OwnedTLSConfig {
        identity: None,
        cert_chain,
    };
    let runtime = lapin::runtime::default_runtime().context("starting the AMQP runtime")?;
    let connect = Connection::connect_with_config(
        settings.amqp.url.expose_secret(),
        ConnectionProperties::default().with_connection_name("pagesift dead-letters".into()),
        tls,
        runtime,
    );
    let timeout = Duration::from_secs(settings.amqp.connect_timeout_seconds);
    let target = settings.redacted_amqp_url();
    tokio::time::timeout(timeout, connect)
        .await
        .with_context(|| format!("connecting to {target}: timed out"))?
        .with_context(|| format!("connecting to {target}"))
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
    let connection = connect(settings).await?;
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
            let timeout = Duration::from_secs(settings.amqp.publish_timeout_seconds);
            let report = replay(
                &channel,
                dlq,
                &settings.amqp.input_queue,
                filter.as_deref(),
                timeout,
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
    outcome.map(|()| ExitCode::SUCCESS)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn with_headers(pairs: &[(&str, &str)]) -> BasicProperties {
        let mut table = FieldTable::default();
        for (k, v) in pairs {
            table.insert((*k).into(), AMQPValue::LongString((*v).into()));
        }
        BasicProperties::default().with_headers(table)
    }

    #[test]
    fn describe_reads_the_worker_headers() {
        let props = with_headers(&[
            (HEADER_ERROR_CLASS, "too_large"),
            (
                HEADER_ERROR_REASON,
                "message is 9 bytes, over the limit of 4",
            ),
            (HEADER_PAGE_ID, "p-1"),
        ]);
        let letter = DeadLetter::describe(&props, b"abcdefghi", 4);
        assert_eq!(letter.class, "too_large");
        assert_eq!(letter.page_id.as_deref(), Some("p-1"));
        assert_eq!(letter.size, 9);
        assert_eq!(letter.preview, "abcd");
        assert!(letter.matches("too_large"));
        assert!(letter.matches("over the limit"));
        assert!(!letter.matches("invalid_json"));
    }

    #[test]
    fn describe_falls_back_to_the_broker_death_reason() {
        let props = with_headers(&[("x-first-death-reason", "delivery_limit")]);
        let letter = DeadLetter::describe(&props, b"", 10);
        assert_eq!(letter.class, "delivery_limit");
        assert!(letter.reason.contains("broker"), "{}", letter.reason);
        assert_eq!(letter.page_id, None);
        let bare = DeadLetter::describe(&BasicProperties::default(), b"x", 10);
        assert_eq!(bare.class, "unknown");
    }

    #[test]
    fn preview_never_cuts_a_character_and_blanks_controls() {
        let body = "版面\n内容".as_bytes();
        // 7 bytes: two 3-byte characters and the newline, then a cut character.
        assert_eq!(preview(body, 7), "版面 ");
        assert_eq!(preview(body, 8), "版面 ");
        assert_eq!(preview(body, 100), "版面 内容");
        assert_eq!(preview(&[0xff, b'a'], 10), "\u{fffd}a");
    }

    #[test]
    fn replay_properties_drop_failure_headers_and_count_replays() {
        let props = with_headers(&[
            (HEADER_ERROR_CLASS, "encoding"),
            (HEADER_PAGE_ID, "p-2"),
            ("x-first-death-reason", "rejected"),
        ])
        .with_content_type("text/plain".into());
        let once = replay_properties(&props);
        let headers = once.headers().clone().expect("headers");
        assert!(!headers.contains_key(HEADER_ERROR_CLASS));
        assert!(!headers.contains_key("x-first-death-reason"));
        assert!(headers.contains_key(HEADER_PAGE_ID));
        assert_eq!(
            once.content_type().as_ref().map(|c| c.as_str()),
            Some("text/plain")
        );
        let twice = replay_properties(&once);
        assert_eq!(
            twice
                .headers()
                .as_ref()
                .and_then(|h| h.inner().get(HEADER_REPLAYED).cloned()),
            Some(AMQPValue::LongLongInt(2))
        );
    }
}
