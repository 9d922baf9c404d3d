//! The dead-letter queue's operations, for `pagesift dead-letters` and the tests: describing a
//! dead letter, listing without losing any, replaying with publisher confirms.
//!
//! - [`list`] takes messages with `basic.get` *without* acknowledging them and hands them back
//!   with `basic.nack(requeue)` at the end (or the broker does when the channel closes early), so
//!   listing never loses a message.
//! - [`replay`] republishes the selected dead letters to the input queue with publisher
//!   confirms and acknowledges each dead letter only after its confirm; a message the broker
//!   could not route or store stays in the dead-letter queue. Only the messages present when the
//!   replay starts are considered, so a page that fails again is not replayed in a loop.
//!
//! Dead letters carry the headers the worker sets ([`crate::worker::copy`]:
//! `x-pagesift-error-class`, `x-pagesift-error-reason`, `x-pagesift-page-id`); messages the broker
//! dead-lettered by itself (delivery limit, rejection) are described by its
//! `x-first-death-reason` header.

use std::time::Duration;

use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicGetOptions, BasicNackOptions, BasicPublishOptions, ConfirmSelectOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Confirmation};
use serde::Serialize;

use crate::amqp::header_text;
pub use crate::worker::copy::{
    ERROR_CLASS_HEADER as HEADER_ERROR_CLASS, ERROR_REASON_HEADER as HEADER_ERROR_REASON,
    PAGE_ID_HEADER as HEADER_PAGE_ID,
};

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

/// Errors listing or replaying dead letters.
#[derive(Debug, thiserror::Error)]
pub enum DeadLetterError {
    /// A queue the operation needs is not there.
    #[error("{what} `{queue}` does not exist (has a worker declared the topology?)")]
    MissingQueue {
        /// Which queue it is (`input queue`, `dead-letter queue`).
        what: &'static str,
        /// Its name.
        queue: String,
        /// The broker's answer.
        source: lapin::Error,
    },
    /// A broker operation failed.
    #[error("{doing}: {source}")]
    Broker {
        /// What was being done.
        doing: &'static str,
        /// lapin's error.
        source: lapin::Error,
    },
    /// No publisher confirm came within the timeout.
    #[error("no publisher confirm within {0:?}; the dead letter stays queued")]
    ConfirmTimeout(Duration),
    /// The broker returned the replayed page as unroutable.
    #[error("the broker could not route the page to `{0}`; stopped")]
    Unroutable(String),
    /// The broker nacked the replayed page.
    #[error("the broker refused the replayed page; stopped")]
    Refused,
    /// The channel is not in confirm mode.
    #[error("publisher confirms are not enabled")]
    NotConfirming,
}

fn broker(doing: &'static str) -> impl FnOnce(lapin::Error) -> DeadLetterError {
    move |source| DeadLetterError::Broker { doing, source }
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
async fn ready_messages(
    channel: &Channel,
    queue: &str,
    what: &'static str,
) -> Result<u32, DeadLetterError> {
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let declared = channel
        .queue_declare(queue.into(), passive, FieldTable::default())
        .await
        .map_err(|source| DeadLetterError::MissingQueue {
            what,
            queue: queue.to_owned(),
            source,
        })?;
    Ok(declared.message_count())
}

/// Takes the next message of `queue` without acknowledging it.
async fn get_unacked(channel: &Channel, queue: &str) -> Result<Option<Delivery>, DeadLetterError> {
    let message = channel
        .basic_get(queue.into(), BasicGetOptions { no_ack: false })
        .await
        .map_err(broker("reading dead letters"))?;
    Ok(message.map(|m| m.delivery))
}

/// Lists up to `limit` dead letters of `queue` and hands every one back to the queue.
pub async fn list(
    channel: &Channel,
    queue: &str,
    limit: usize,
    preview_bytes: usize,
) -> Result<Vec<DeadLetter>, DeadLetterError> {
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
            .map_err(broker(
                "handing the listed dead letters back to their queue",
            ))?;
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
) -> Result<ReplayReport, DeadLetterError> {
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(broker("enabling publisher confirms"))?;
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
                .map_err(broker("republishing a dead letter"))?;
            let confirmation = tokio::time::timeout(confirm_timeout, confirm)
                .await
                .map_err(|_| DeadLetterError::ConfirmTimeout(confirm_timeout))?
                .map_err(broker("waiting for the publisher confirm"))?;
            match confirmation {
                Confirmation::Ack(None) => {
                    channel
                        .basic_ack(delivery.delivery_tag, BasicAckOptions::default())
                        .await
                        .map_err(broker("acknowledging a replayed dead letter"))?;
                    report.replayed += 1;
                }
                Confirmation::Ack(Some(_)) => {
                    return Err(DeadLetterError::Unroutable(input_queue.to_owned()));
                }
                Confirmation::Nack(_) => return Err(DeadLetterError::Refused),
                Confirmation::NotRequested => return Err(DeadLetterError::NotConfirming),
            }
        }
        Ok(())
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
            .map_err(broker("handing skipped dead letters back to their queue"))?;
    }
    result.map(|()| report)
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
