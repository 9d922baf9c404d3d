//! Feeding page messages to a queue with publisher confirms, for `pagesift publish` (demos,
//! tests, load runs): one connection, the topology declared first when `amqp.declare`, batches
//! of [`BATCH`] messages through the default exchange, each batch confirmed before the next.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{ConnectError, OutMessage, PublishError, Publisher, TopologyError, short};
use crate::page_file::PageMessage;
use crate::settings::Settings;

/// Messages published per confirm batch.
pub const BATCH: usize = 256;

/// Errors feeding a queue.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// Connecting failed.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// Declaring the topology failed.
    #[error(transparent)]
    Topology(#[from] TopologyError),
    /// Opening a channel failed.
    #[error("opening a channel: {0}")]
    Channel(#[source] lapin::Error),
    /// A batch was not confirmed.
    #[error("publishing to queue `{queue}`")]
    Publish {
        /// The queue.
        queue: String,
        /// The publisher's error.
        source: PublishError,
    },
}

/// Publishes `messages` to `queue` (mandatory, through the default exchange) and returns how
/// long it took from the first publish to the last confirm.
pub async fn feed(
    settings: &Settings,
    queue: &str,
    messages: &[PageMessage],
) -> Result<Duration, FeedError> {
    let connection = Arc::new(super::connect(settings, "feeder").await?);
    let result = feed_on(&connection, settings, queue, messages).await;
    let _ = connection.close(200, short("bye")).await;
    result
}

async fn feed_on(
    connection: &Arc<lapin::Connection>,
    settings: &Settings,
    queue: &str,
    messages: &[PageMessage],
) -> Result<Duration, FeedError> {
    if settings.amqp.declare {
        let channel = connection
            .create_channel()
            .await
            .map_err(FeedError::Channel)?;
        super::topology::declare(&channel, &settings.amqp).await?;
        let _ = channel.close(200, short("declared")).await;
    }
    let publisher = Publisher::open(Arc::clone(connection), settings.amqp.publish_timeout())
        .await
        .map_err(FeedError::Channel)?;
    let started = Instant::now();
    for chunk in messages.chunks(BATCH) {
        let batch: Vec<OutMessage> = chunk
            .iter()
            .map(|m| OutMessage {
                exchange: String::new(),
                routing_key: queue.to_owned(),
                body: m.body.clone(),
                properties: m.properties.clone(),
                mandatory: true,
            })
            .collect();
        if let Err(source) = publisher.publish_all(&batch).await {
            publisher.close().await;
            return Err(FeedError::Publish {
                queue: queue.to_owned(),
                source,
            });
        }
    }
    let elapsed = started.elapsed();
    publisher.close().await;
    Ok(elapsed)
}
