//! One broker session: a consuming and a publishing connection (watched by [`super::watch`]),
//! the topology (declared or checked), a confirm-mode publisher and the consumer. A session
//! hands up to `worker.concurrency` deliveries at a time to [`handle_delivery`] until shutdown
//! or a loss, then drains its in-flight pages and closes everything; [`SessionEnd`] tells the
//! supervisor why it ended.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::options::{BasicCancelOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, Consumer};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::budget::CopyLimits;
use super::page::{Context, handle_delivery};
use super::settle::DeliveryLimit;
use super::supervisor::Worker;
use super::watch::{note_unreadable, watch_broker, watch_connection};
use super::{WorkerError, millis};
use crate::amqp::{self, Publisher, short};
use crate::metrics;
use crate::settings::QueueType;

/// How long a lost session waits for its in-flight pages before reconnecting.
const LOST_SESSION_GRACE: Duration = Duration::from_secs(1);

/// Longest wait for a cancel or close handshake: a blocked or dead connection (one the broker
/// already reset) must not hang the reconnect or the shutdown.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Longest a lost session waits for its consuming connection's error event (to learn whether a
/// frame was unreadable) before reconnecting.
const ERROR_EVENT_WAIT: Duration = Duration::from_millis(250);

/// Why a session ended.
pub(super) enum SessionEnd {
    /// Shutdown requested; drained.
    Shutdown,
    /// Connection, channel or consumer lost.
    Lost(Loss),
    /// An isolating session (prefetch 1) settled [`isolation_pages`] pages and drained: the
    /// window the suspect delivery was prefetched in is through, reconnect at once with the
    /// normal prefetch.
    Isolated,
}

/// What a lost session did before it was lost.
pub(super) struct Loss {
    /// Why it ended.
    pub(super) reason: String,
    /// Pages it settled.
    pub(super) settled: u64,
    /// How long it consumed.
    pub(super) lived: Duration,
    /// Whether the client library failed to parse a frame (a delivery it cannot read).
    pub(super) unreadable: bool,
}

impl Loss {
    /// Whether the session counts as healthy for the backoff: it settled a page or lived
    /// [`STABLE_SESSION`]. Only then does the reconnect backoff start over, so that sessions
    /// that die at once (a poison, a broken topology) cannot reconnect in a tight loop.
    pub(super) fn was_healthy(&self) -> bool {
        self.settled > 0 || self.lived >= STABLE_SESSION
    }
}

/// A session that lived this long resets the reconnect backoff even without settling a page.
pub const STABLE_SESSION: Duration = Duration::from_secs(30);

/// One broker session: the connections, their watchers, the publisher and the consumer.
pub(super) struct Session<'w> {
    worker: &'w Worker,
    consume_conn: Connection,
    publish_conn: Arc<Connection>,
    /// Cancelled by the watchers (or a publish) when a connection or channel is lost.
    lost: CancellationToken,
    /// Set by a watcher when the client library failed to parse a frame.
    unreadable: Arc<AtomicBool>,
    watchers: Vec<tokio::task::JoinHandle<()>>,
}

impl<'w> Session<'w> {
    /// Connects both connections and starts watching them.
    pub(super) async fn open(worker: &'w Worker) -> Result<Session<'w>, WorkerError> {
        let consume_conn = amqp::connect(&worker.settings, "consume").await?;
        let publish_conn = match amqp::connect(&worker.settings, "publish").await {
            Ok(c) => Arc::new(c),
            Err(e) => {
                close_connection(&consume_conn).await;
                return Err(e.into());
            }
        };
        let lost = CancellationToken::new();
        let unreadable = Arc::new(AtomicBool::new(false));
        let watchers = vec![
            watch_connection(
                &consume_conn,
                "consume",
                lost.clone(),
                Arc::clone(&unreadable),
            ),
            watch_connection(
                &publish_conn,
                "publish",
                lost.clone(),
                Arc::clone(&unreadable),
            ),
        ];
        Ok(Session {
            worker,
            consume_conn,
            publish_conn,
            lost,
            unreadable,
            watchers,
        })
    }

    /// Declares, consumes until shutdown or loss, drains, then closes everything. `isolate`:
    /// prefetch 1 and end after [`isolation_pages`] settled pages ([`SessionEnd::Isolated`]).
    pub(super) async fn serve(mut self, isolate: bool) -> Result<SessionEnd, WorkerError> {
        let mut result = self.consume(isolate).await;
        self.worker.readiness.set(false);
        if let Ok(SessionEnd::Lost(loss)) = &mut result
            && !loss.unreadable
            && let Some(consume_watcher) = self.watchers.first_mut()
        {
            // The loss may have been seen first elsewhere (the consumer stream ended, the
            // watch channel failed) while the connection's own error event, which says
            // whether a frame was unreadable, is still on its way: the isolation after an
            // unreadable frame must not be skipped for that.
            let _ = tokio::time::timeout(ERROR_EVENT_WAIT, consume_watcher).await;
            loss.unreadable = self.unreadable.load(Ordering::SeqCst);
        }
        for w in &self.watchers {
            w.abort();
        }
        close_connection(&self.consume_conn).await;
        close_connection(&self.publish_conn).await;
        result
    }

    fn setup_error(&self, source: lapin::Error) -> WorkerError {
        WorkerError::Setup {
            queue: self.worker.settings.amqp.input_queue.clone(),
            source,
        }
    }

    /// Topology (declared when `amqp.declare`, else checked to exist), publisher, QoS and
    /// consumer.
    async fn start(&self, prefetch: u16) -> Result<(Publisher, Channel, Consumer), WorkerError> {
        let settings = &self.worker.settings;
        let channel = self
            .consume_conn
            .create_channel()
            .await
            .map_err(|e| self.setup_error(e))?;
        if settings.amqp.declare {
            amqp::topology::declare(&channel, &settings.amqp).await?;
        } else {
            amqp::topology::check(&channel, &settings.amqp).await?;
        }
        let _ = channel.close(200, short("declared")).await;
        let publisher = Publisher::open(
            Arc::clone(&self.publish_conn),
            settings.amqp.publish_timeout(),
        )
        .await
        .map_err(|e| self.setup_error(e))?;
        let channel = self
            .consume_conn
            .create_channel()
            .await
            .map_err(|e| self.setup_error(e))?;
        // A body over the page limit is never buffered whole: the delivery keeps its first
        // `max_page_bytes` and is dead-lettered `too_large` (patches/lapin).
        channel.set_max_body_size(Some(self.worker.pipeline.load().limits().max_page_bytes));
        channel
            .basic_qos(prefetch, BasicQosOptions::default())
            .await
            .map_err(|e| self.setup_error(e))?;
        let consumer = channel
            .basic_consume(
                short(&settings.amqp.input_queue),
                short(""),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| self.setup_error(e))?;
        Ok((publisher, channel, consumer))
    }

    /// The context every delivery of this session is handled with.
    fn context(&self, publisher: &Publisher) -> Context {
        let settings = &self.worker.settings;
        Context {
            pipeline: Arc::clone(&self.worker.pipeline),
            publisher: publisher.clone(),
            output_exchange: settings.amqp.output_exchange.clone(),
            dead_letter_exchange: settings.amqp.dead_letter_exchange.clone(),
            input_queue: settings.amqp.input_queue.clone(),
            delivery_limit: match settings.amqp.input_queue_type {
                QueueType::Quorum => DeliveryLimit::Broker,
                QueueType::Classic => DeliveryLimit::Worker {
                    limit: settings.amqp.delivery_limit,
                },
            },
            page_summary: settings.amqp.page_summary,
            retry: settings.worker.publish_retry(),
            session_lost: self.lost.clone(),
            cpu: Arc::new(Semaphore::new(crate::settings::cores())),
            clock: Arc::clone(&self.worker.clock),
            copy_limits: CopyLimits::for_frame_max(self.publish_conn.configuration().frame_max()),
        }
    }

    /// A loss, with what the session did.
    fn loss(&self, reason: impl Into<String>, settled: &AtomicU64, began: Instant) -> SessionEnd {
        SessionEnd::Lost(Loss {
            reason: reason.into(),
            settled: settled.load(Ordering::SeqCst),
            lived: began.elapsed(),
            unreadable: self.unreadable.load(Ordering::SeqCst),
        })
    }

    async fn consume(&self, isolate: bool) -> Result<SessionEnd, WorkerError> {
        let (settings, shutdown) = (&self.worker.settings, &self.worker.shutdown);
        let (prefetch, concurrency) = if isolate {
            (1, 1)
        } else {
            (settings.prefetch(), settings.concurrency())
        };
        let began = Instant::now();
        let settled = Arc::new(AtomicU64::new(0));
        // Every set-up step (declares, publisher, QoS, consumer, the watch channel) races the
        // shutdown and the session's loss: nothing is in flight yet, and a request on a
        // connection the client library already dropped (a frame it could not parse arrives
        // right after `basic.consume`) may never be answered.
        let setup = async {
            let started = self.start(prefetch).await?;
            let watchdog = watch_broker(
                &self.consume_conn,
                &settings.amqp.input_queue,
                settings.amqp.heartbeat_seconds,
                self.worker.readiness.clone(),
                self.lost.clone(),
                Arc::clone(&self.unreadable),
            )
            .await;
            Ok::<_, WorkerError>((started, watchdog))
        };
        let mut setup = std::pin::pin!(setup);
        let started = tokio::select! {
            biased;
            _ = shutdown.cancelled() => return Ok(SessionEnd::Shutdown),
            started = &mut setup => started,
            _ = self.lost.cancelled() => {
                // The loss may be the set-up's own failure (a missing exchange closes the
                // checking channel, which the connection reports too): let the set-up say so,
                // briefly; a request the dead connection never answers ends here.
                tokio::select! {
                    biased;
                    _ = shutdown.cancelled() => return Ok(SessionEnd::Shutdown),
                    started = tokio::time::timeout(CLOSE_TIMEOUT, &mut setup) => match started {
                        Ok(Err(e)) => Err(e),
                        _ => return Ok(self.loss("connection lost during set-up", &settled, began)),
                    },
                }
            }
        };
        let ((publisher, channel, mut consumer), watchdog) = match started {
            Ok(started) => started,
            // A set-up request failed because a frame could not be read: a loss that
            // isolates, not a set-up error.
            Err(e) if e.unreadable() || self.unreadable.load(Ordering::SeqCst) => {
                self.unreadable.store(true, Ordering::SeqCst);
                let reason = format!("set-up failed: {}", crate::telemetry::error_chain(&e));
                return Ok(self.loss(reason, &settled, began));
            }
            Err(e) => return Err(e),
        };
        if self.lost.is_cancelled() {
            // The watch channel could not be opened: the connection is gone.
            watchdog.abort();
            return Ok(self.loss("connection lost during set-up", &settled, began));
        }
        tracing::info!(
            queue = %settings.amqp.input_queue,
            concurrency,
            prefetch,
            isolate,
            "consuming"
        );
        self.worker.readiness.set(true);
        let ctx = Arc::new(self.context(&publisher));
        let slots = Arc::new(Semaphore::new(concurrency));
        let tracker = TaskTracker::new();
        // Whether the consumer was cancelled (ending an isolating session).
        let mut cancelled = false;
        let lost = &self.lost;
        let end = loop {
            let permit = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break SessionEnd::Shutdown,
                _ = lost.cancelled() => break self.loss("connection or channel lost", &settled, began),
                permit = Arc::clone(&slots).acquire_owned() => match permit {
                    Ok(p) => p,
                    Err(_) => break self.loss("worker slots closed", &settled, began),
                },
            };
            // With concurrency 1, a permit means the previous page is done. An isolating
            // session stays at prefetch 1 until as many pages settled as the normal prefetch
            // holds: the window the unreadable delivery was prefetched in is then through, so
            // no innocent page of it is delivered alongside the poison again.
            // Ending it cancels the consumer first and then handles what the broker already
            // sent (the one page prefetch 1 allows), so that no page goes back to the queue
            // (and has its delivery count raised) just because the isolation ended.
            if isolate
                && !cancelled
                && settled.load(Ordering::SeqCst) >= isolation_pages(settings.prefetch())
            {
                cancelled = true;
                if !cancel_consumer(&channel, &consumer).await {
                    break SessionEnd::Isolated;
                }
            }
            let next = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break SessionEnd::Shutdown,
                _ = lost.cancelled() => break self.loss("connection or channel lost", &settled, began),
                next = consumer.next() => next,
                _ = tokio::time::sleep(CLOSE_TIMEOUT), if cancelled => break SessionEnd::Isolated,
            };
            match next {
                Some(Ok(delivery)) => {
                    let (ctx, settled) = (Arc::clone(&ctx), Arc::clone(&settled));
                    tracker.spawn(async move {
                        let done = handle_delivery(&ctx, delivery).await;
                        if done.outcome != metrics::PageOutcome::Abandoned {
                            settled.fetch_add(1, Ordering::SeqCst);
                        }
                        drop(permit);
                    });
                }
                Some(Err(e)) => {
                    note_unreadable(&e, &self.unreadable);
                    break self.loss(format!("consumer failed: {e}"), &settled, began);
                }
                None if cancelled => break SessionEnd::Isolated,
                None => break self.loss("the broker cancelled the consumer", &settled, began),
            }
        };
        watchdog.abort();
        self.worker.readiness.set(false);
        tracker.close();
        let draining = matches!(end, SessionEnd::Shutdown | SessionEnd::Isolated);
        if draining && !cancelled {
            // Stop deliveries; prefetched but unstarted ones go back to the queue when the
            // channel closes.
            cancel_consumer(&channel, &consumer).await;
        }
        // On shutdown, in-flight pages get the whole grace period. When the session is lost
        // their deliveries cannot be acked any more (the broker redelivers them), and a settle
        // on a dead channel may never resolve: waiting the full grace would only delay the
        // reconnect.
        let grace = if draining {
            settings.shutdown.grace()
        } else {
            settings.shutdown.grace().min(LOST_SESSION_GRACE)
        };
        let in_flight = tracker.len();
        tracing::info!(in_flight, "waiting for in-flight pages");
        if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
            tracing::warn!(
                grace_ms = millis(grace),
                "in-flight pages did not finish in time; the broker will redeliver them"
            );
        }
        // A close on a connection the broker already dropped may never resolve: bound it.
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, channel.close(200, short("bye"))).await;
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, publisher.close()).await;
        Ok(end)
    }
}

/// Pages an isolating session settles before the normal prefetch returns: the normal
/// prefetch (at least one).
pub(super) fn isolation_pages(prefetch: u16) -> u64 {
    u64::from(prefetch.max(1))
}

/// Cancels the consumer (bounded by [`CLOSE_TIMEOUT`]); whether the broker confirmed it.
async fn cancel_consumer(channel: &Channel, consumer: &Consumer) -> bool {
    let cancel = channel.basic_cancel(consumer.tag(), BasicCancelOptions::default());
    match tokio::time::timeout(CLOSE_TIMEOUT, cancel).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cancelling the consumer");
            false
        }
        Err(_) => {
            tracing::warn!("cancelling the consumer timed out");
            false
        }
    }
}

async fn close_connection(connection: &Connection) {
    if connection.status().connected() {
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, connection.close(200, short("bye"))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_session_that_settled_a_page_or_lived_30_s_resets_the_backoff() {
        let loss = |settled, lived_ms| Loss {
            reason: String::new(),
            settled,
            lived: Duration::from_millis(lived_ms),
            unreadable: false,
        };
        assert!(!loss(0, 5).was_healthy(), "died at once");
        assert!(!loss(0, 29_999).was_healthy());
        assert!(loss(0, 30_000).was_healthy());
        assert!(loss(1, 5).was_healthy(), "settled a page");
    }
}
