//! Publishing with publisher confirms. [`Publisher::publish_all`] sends a whole batch (a page's
//! events) and only then awaits every confirm together, under one timeout: the batch succeeds
//! when every message is acked by the broker and none came back unroutable.

use std::time::{Duration, Instant};

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

/// A confirm-mode channel and the timeout for its confirms. Cheap to clone; clones share the
/// channel (lapin channels are safe to use concurrently).
#[derive(Debug, Clone)]
pub struct Publisher {
    channel: Channel,
    timeout: Duration,
}

impl Publisher {
    /// Opens a channel on `connection` and turns publisher confirms on.
    pub async fn open(
        connection: &Connection,
        timeout: Duration,
    ) -> Result<Publisher, lapin::Error> {
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(Publisher { channel, timeout })
    }

    /// The underlying channel.
    pub fn channel(&self) -> &Channel {
        &self.channel
    }

    /// Publishes every message, then waits for all their confirms. Records the confirm latency.
    pub async fn publish_all(&self, messages: &[OutMessage]) -> Result<(), PublishError> {
        let started = Instant::now();
        let work = async {
            let mut pending = Vec::with_capacity(messages.len());
            for m in messages {
                let confirm = self
                    .channel
                    .basic_publish(
                        short(&m.exchange),
                        short(&m.routing_key),
                        BasicPublishOptions {
                            mandatory: m.mandatory,
                            immediate: false,
                        },
                        &m.body,
                        m.properties.clone(),
                    )
                    .await?;
                pending.push((confirm, m));
            }
            for (confirm, m) in pending {
                match confirm.await? {
                    Confirmation::Ack(None) | Confirmation::NotRequested => {}
                    Confirmation::Ack(Some(returned)) | Confirmation::Nack(Some(returned)) => {
                        return Err(PublishError::Unroutable {
                            routing_key: m.routing_key.clone(),
                            reply: returned.reply_text.to_string(),
                        });
                    }
                    Confirmation::Nack(None) => {
                        return Err(PublishError::Nacked {
                            routing_key: m.routing_key.clone(),
                        });
                    }
                }
            }
            Ok(())
        };
        let result = match tokio::time::timeout(self.timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(PublishError::Timeout {
                seconds: self.timeout.as_secs(),
            }),
        };
        if result.is_ok() {
            crate::metrics::confirm_latency(started.elapsed());
        }
        result
    }

    /// Closes the channel (best effort).
    pub async fn close(&self) {
        if self.channel.status().connected() {
            let _ = self.channel.close(200, short("bye")).await;
        }
    }
}
