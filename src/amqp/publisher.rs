//! Publishing with publisher confirms. [`Publisher::publish_all`] sends a whole batch (a page's
//! events) and only then awaits every confirm together, under one timeout: the batch succeeds
//! when every message is acked by the broker and none came back unroutable.
//!
//! Each batch has a confirm-mode channel to itself, checked out of a pool for its duration.
//! `basic.return` carries no delivery tag, and lapin hands a returned message to whichever
//! pending confirm its (possibly `multiple`) ack completes first, so on a shared channel a page
//! could receive another page's return, and the page whose event was unroutable could be acked.
//! With one batch per channel at a time, any return seen during the batch is the batch's own. A
//! channel whose batch timed out or failed (confirms still pending) is closed, never reused.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::join_all;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Channel, Confirmation, Connection};

use super::short;

/// One message to publish.
#[derive(Debug, Clone)]
pub struct OutMessage {
    /// Target exchange.
    pub exchange: String,
    /// Routing key.
    pub routing_key: String,
    /// Body.
    pub body: Vec<u8>,
    /// Properties and headers.
    pub properties: BasicProperties,
    /// Ask the broker to return the message when no queue is bound for it.
    pub mandatory: bool,
}

/// Why a batch was not (wholly) confirmed. Every variant is transient from the page's point of
/// view: the page is not acked and is retried or handed back to the broker.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The channel or connection failed (or was closed).
    #[error("publishing: {0}")]
    Channel(#[from] lapin::Error),
    /// The broker nacked a message.
    #[error("the broker nacked a message for routing key `{routing_key}`")]
    Nacked {
        /// The message's routing key.
        routing_key: String,
    },
    /// A mandatory message could not be routed to any queue.
    #[error("message for routing key `{routing_key}` is unroutable: {reply}")]
    Unroutable {
        /// The message's routing key.
        routing_key: String,
        /// The broker's reply text.
        reply: String,
    },
    /// Not every confirm arrived in time.
    #[error("publisher confirms did not arrive within {seconds} s")]
    Timeout {
        /// The timeout.
        seconds: u64,
    },
}

impl PublishError {
    /// Whether the channel itself is unusable (the session must be rebuilt).
    pub fn channel_lost(&self) -> bool {
        matches!(self, PublishError::Channel(_))
    }
}

/// A pool of confirm-mode channels on one connection, and the timeout for confirms. Cheap to
/// clone; clones share the pool.
#[derive(Debug, Clone)]
pub struct Publisher {
    connection: Arc<Connection>,
    idle: Arc<Mutex<Vec<Channel>>>,
    timeout: Duration,
}

impl Publisher {
    /// A publisher on `connection`; opens a first channel to check that publishing is possible.
    pub async fn open(
        connection: Arc<Connection>,
        timeout: Duration,
    ) -> Result<Publisher, lapin::Error> {
        let publisher = Publisher {
            connection,
            idle: Arc::new(Mutex::new(Vec::new())),
            timeout,
        };
        let channel = publisher.new_channel().await?;
        publisher.check_in(channel);
        Ok(publisher)
    }

    async fn new_channel(&self) -> Result<Channel, lapin::Error> {
        let channel = self.connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(channel)
    }

    async fn check_out(&self) -> Result<Channel, lapin::Error> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        match idle {
            Some(channel) if channel.status().connected() => Ok(channel),
            _ => self.new_channel().await,
        }
    }

    fn check_in(&self, channel: Channel) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(channel);
        }
    }

    /// Publishes every message, then waits for all their confirms. Records the confirm latency.
    pub async fn publish_all(&self, messages: &[OutMessage]) -> Result<(), PublishError> {
        let started = Instant::now();
        let channel = self.check_out().await?;
        let result =
            match tokio::time::timeout(self.timeout, send_and_confirm(&channel, messages)).await {
                Ok(result) => result,
                Err(_) => Err(PublishError::Timeout {
                    seconds: self.timeout.as_secs(),
                }),
            };
        match &result {
            // Every confirm of the batch has resolved: the channel is clean.
            Ok(()) | Err(PublishError::Nacked { .. } | PublishError::Unroutable { .. }) => {
                self.check_in(channel);
            }
            Err(PublishError::Timeout { .. } | PublishError::Channel(_)) => {
                tokio::spawn(async move {
                    let close = channel.close(200, short("discarded"));
                    let _ = tokio::time::timeout(Duration::from_secs(5), close).await;
                });
            }
        }
        if result.is_ok() {
            crate::metrics::confirm_latency(started.elapsed());
        }
        result
    }

    /// Closes the idle channels (best effort).
    pub async fn close(&self) {
        let idle = self
            .idle
            .lock()
            .map(|mut idle| std::mem::take(&mut *idle))
            .unwrap_or_default();
        for channel in idle {
            if channel.status().connected() {
                let _ = channel.close(200, short("bye")).await;
            }
        }
    }
}

/// Sends the batch (all publishes started before any is awaited, so the IO loop writes it in
/// few syscalls), then awaits every confirm, even after a failure, so that the channel is left
/// with nothing pending.
async fn send_and_confirm(channel: &Channel, messages: &[OutMessage]) -> Result<(), PublishError> {
    let sent = join_all(messages.iter().map(|m| {
        channel.basic_publish(
            short(&m.exchange),
            short(&m.routing_key),
            BasicPublishOptions {
                mandatory: m.mandatory,
                immediate: false,
            },
            &m.body,
            m.properties.clone(),
        )
    }))
    .await;
    let mut pending = Vec::with_capacity(sent.len());
    for confirm in sent {
        pending.push(confirm?);
    }
    let mut failure = None;
    for (confirm, m) in pending.into_iter().zip(messages) {
        match confirm.await? {
            Confirmation::Ack(None) | Confirmation::NotRequested => {}
            Confirmation::Ack(Some(returned)) | Confirmation::Nack(Some(returned)) => {
                // One line with sizes and ids (lapin's own log of it is capped: see
                // `telemetry::LAPIN_CAPS`).
                tracing::warn!(
                    exchange = %returned.delivery.exchange,
                    routing_key = %returned.delivery.routing_key,
                    reply_code = returned.reply_code,
                    reply_text = %returned.reply_text,
                    body_bytes = returned.delivery.data.len(),
                    message_id = returned
                        .delivery
                        .properties
                        .message_id()
                        .as_ref()
                        .map_or("", |m| m.as_str()),
                    "a published message came back unroutable"
                );
                failure.get_or_insert(PublishError::Unroutable {
                    routing_key: returned.delivery.routing_key.to_string(),
                    reply: returned.reply_text.to_string(),
                });
            }
            Confirmation::Nack(None) => {
                failure.get_or_insert(PublishError::Nacked {
                    routing_key: m.routing_key.clone(),
                });
            }
        }
    }
    failure.map_or(Ok(()), Err)
}
