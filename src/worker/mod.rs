//! The RabbitMQ worker: at-least-once from page to article events.
//!
//! A page is acked only after every one of its events (and its summary) was confirmed by the
//! broker, or after its dead-letter copy was; nothing the worker does loses a page. An input
//! error copies the original message to the dead-letter exchange with headers naming the error,
//! then acks. Transient failures (nack, confirm timeout, unroutable event, an event that cannot
//! be serialised) are retried with backoff up to `worker.publish_attempts`; then the page goes
//! back to its queue, and a page that keeps failing is dead-lettered after
//! `amqp.delivery_limit` deliveries — by the broker on a quorum queue (`x-delivery-limit`), by
//! the worker on a classic queue, which has no delivery limit (it re-queues a copy that counts
//! the attempts in `x-pagesift-attempts`, and dead-letters the page with class
//! `delivery_limit` when they run out).
//!
//! # Layout
//!
//! - [`delivery`]: a delivery's properties read as pipeline hints and attempts so far.
//! - [`encode`]: article events and page summaries as AMQP messages.
//! - [`copy`]: the dead-letter and retry copies of a delivery, within the header budget of
//!   [`budget`].
//! - [`settle`]: the pure decision — which outcome acks, requeues, retries or dead-letters.
//! - `build`: the CPU-bound part of a delivery (decode, pipeline, serialise) on the blocking
//!   pool.
//! - [`page`]: one delivery end to end (pipeline off the reactor, publish with retries,
//!   [`settle`]'s actions), inside one `page` tracing span.
//! - [`supervisor`]: the reconnect loop — sessions rebuilt with backoff, prefetch 1 after an
//!   unreadable frame, giving up only on what a retry cannot fix.
//! - `session`: one broker session (connections, topology, publisher, consumer), concurrency,
//!   graceful drain.
//! - `watch`: connection errors and a half-open connection end the session.

pub mod budget;
mod build;
pub mod copy;
pub mod delivery;
pub mod encode;
pub mod page;
mod session;
pub mod settle;
pub mod supervisor;
mod watch;

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::amqp::{ConnectError, TopologyError};
use crate::pipeline::Pipeline;

pub use budget::HEADERS_DROPPED_HEADER;
pub use copy::{
    ATTEMPTS_HEADER, BODY_TRUNCATED_HEADER, ERROR_CLASS_HEADER, ERROR_REASON_HEADER,
    PAGE_ID_HEADER, SOURCE_QUEUE_HEADER,
};
pub use delivery::{BAD_PROPERTIES_CLASS, hints_from_properties, property_problem};
pub use encode::{PAGE_SUMMARY_ROUTING_KEY, PAGE_SUMMARY_SCHEMA, PageSummary, summary_id};
pub use page::{Context, Settled, handle_delivery};
pub use settle::DELIVERY_LIMIT_CLASS;
pub use supervisor::{Worker, run};

/// Error class used when the pipeline panicked on a page (a bug; the page is kept).
pub const PANIC_CLASS: &str = "pipeline_panic";

/// The shared pipeline, swapped atomically on reload.
pub type SharedPipeline = Arc<ArcSwap<Pipeline>>;

/// A duration in whole milliseconds, for log fields.
fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Errors that stop a session.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// Connecting failed.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// Declaring the topology failed.
    #[error(transparent)]
    Topology(#[from] TopologyError),
    /// Opening a channel, setting QoS or starting the consumer failed.
    #[error("setting up the consumer on `{queue}`: {source}")]
    Setup {
        /// The input queue.
        queue: String,
        /// lapin's error.
        source: lapin::Error,
    },
    /// The broker refused the worker (ACCESS_REFUSED / NOT_ALLOWED) this many times in a row.
    #[error("the broker refused the worker {attempts} times in a row: {reason}")]
    Refused {
        /// Consecutive refusals.
        attempts: u32,
        /// The broker's last reply.
        reason: String,
    },
}

impl WorkerError {
    /// Whether rebuilding the session later can help.
    pub fn is_transient(&self) -> bool {
        match self {
            WorkerError::Connect(e) => e.is_transient(),
            WorkerError::Topology(e) => e.is_transient(),
            WorkerError::Setup { .. } => true,
            WorkerError::Refused { .. } => false,
        }
    }

    /// Whether the client library failed to parse a frame on the connection (a delivery it
    /// cannot read), which ended the request.
    pub fn unreadable(&self) -> bool {
        match self {
            WorkerError::Connect(ConnectError::Broker { source, .. })
            | WorkerError::Topology(TopologyError::Broker { source, .. })
            | WorkerError::Setup { source, .. } => {
                matches!(source.kind(), lapin::ErrorKind::ParsingError(_))
            }
            _ => false,
        }
    }

    /// The broker's reply when it refused the worker (wrong credentials, vhost or permissions:
    /// ACCESS_REFUSED, NOT_ALLOWED), which retrying will not fix by itself.
    pub fn refusal(&self) -> Option<String> {
        let source = match self {
            WorkerError::Connect(ConnectError::Broker { source, .. })
            | WorkerError::Topology(TopologyError::Broker { source, .. })
            | WorkerError::Setup { source, .. } => source,
            _ => return None,
        };
        crate::amqp::refusal(source)
    }
}
