//! The supervisor: [`run`] opens a `Session` (a consuming and a publishing connection, the
//! topology, a confirm-mode publisher and the consumer), hands up to `worker.concurrency`
//! deliveries at a time to [`handle_delivery`], and after a connection or channel loss or a
//! consumer cancel closes it and opens another with backoff (`amqp.reconnect_*`). On shutdown it
//! stops consuming, finishes and acks the in-flight pages within `shutdown.grace_seconds`, and
//! closes cleanly.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use backon::BackoffBuilder;
use futures_util::StreamExt;
use lapin::options::{
    BasicCancelOptions, BasicConsumeOptions, BasicQosOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, Consumer, Event};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::encode::CopyLimits;
use super::page::{Context, handle_delivery};
use super::settle::DeliveryLimit;
use super::{SharedPipeline, WorkerError};
use crate::amqp::{self, Publisher, TopologyError, short};
use crate::clock::Clock;
use crate::health::Readiness;
use crate::metrics;
use crate::settings::{QueueType, Settings};

/// How long a lost session waits for its in-flight pages before reconnecting.
const LOST_SESSION_GRACE: Duration = Duration::from_secs(1);

/// Longest wait for a cancel or close handshake: a blocked or dead connection (one the broker
/// already reset) must not hang the reconnect or the shutdown.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// What the worker runs with, for the whole process.
#[derive(Debug, Clone)]
pub struct Worker {
    /// The configuration.
    pub settings: Settings,
    /// The pipeline (swapped on reload).
    pub pipeline: SharedPipeline,
    /// Flipped to ready while consuming.
    pub readiness: Readiness,
    /// Cancelled on SIGTERM/SIGINT.
    pub shutdown: CancellationToken,
    /// The clock for `processed_at` and message timestamps.
    pub clock: Arc<dyn Clock>,
}

/// Why a session ended.
enum SessionEnd {
    /// Shutdown requested; drained.
    Shutdown,
    /// Connection, channel or consumer lost.
    Lost(Loss),
    /// An isolating session (prefetch 1) settled its page and drained: the suspect delivery is
    /// gone, reconnect at once with the normal prefetch.
    Isolated,
}

/// What a lost session did before it was lost.
struct Loss {
    /// Why it ended.
    reason: String,
    /// Pages it settled.
    settled: u64,
    /// How long it consumed.
    lived: Duration,
    /// Whether the client library failed to parse a frame (a delivery it cannot read).
    unreadable: bool,
}

impl Loss {
    /// Whether the session counts as healthy for the backoff: it settled a page or lived
    /// [`STABLE_SESSION`]. Only then does the reconnect backoff start over, so that sessions
    /// that die at once (a poison, a broken topology) cannot reconnect in a tight loop.
    fn was_healthy(&self) -> bool {
        self.settled > 0 || self.lived >= STABLE_SESSION
    }
}

/// A session that lived this long resets the reconnect backoff even without settling a page.
pub const STABLE_SESSION: Duration = Duration::from_secs(30);

/// Consecutive refusals by the broker (ACCESS_REFUSED, NOT_ALLOWED: credentials, vhost or
/// permissions) after which the worker stops with an error (and the process exits non-zero,
/// with the reason), instead of retrying forever while looking alive.
pub const MAX_REFUSALS: u32 = 5;

/// Runs the worker until `worker.shutdown` is cancelled: sessions are rebuilt with backoff after
/// any loss. Returns an error only for problems a retry cannot fix (bad URL or CA file, topology
/// mismatch, [`MAX_REFUSALS`] refusals in a row).
///
/// After a session lost to a frame the client library could not parse, the next sessions
/// consume with prefetch 1 (and concurrency 1) until one page settles, so that only the
/// unreadable delivery's count rises on each loss (a quorum queue then dead-letters it at its
/// delivery limit) and no innocent prefetched page is charged for it; then the normal prefetch
/// returns.
pub async fn run(worker: Worker) -> Result<(), WorkerError> {
    let settings = &worker.settings;
    let backoff = settings.amqp.reconnect_backoff();
    let mut delays = backoff.build();
    let mut attempt: u64 = 0;
    let mut first = true;
    let mut isolate = false;
    let mut refusals: u32 = 0;
    // The last missing-topology error logged.
    let mut missing: Option<String> = None;
    loop {
        if worker.shutdown.is_cancelled() {
            return Ok(());
        }
        if !first {
            metrics::reconnected();
        }
        first = false;
        attempt += 1;
        tracing::info!(attempt, url = %settings.redacted_amqp_url(), "connecting to the broker");
        // Connecting and declaring race the shutdown: SIGTERM must not wait for a handshake.
        let opened = tokio::select! {
            biased;
            _ = worker.shutdown.cancelled() => return Ok(()),
            opened = Session::open(&worker) => opened,
        };
        let ended = match opened {
            Ok(session) => session.serve(isolate).await,
            Err(e) => Err(e),
        };
        worker.readiness.set(false);
        match ended {
            Ok(SessionEnd::Shutdown) => return Ok(()),
            Ok(SessionEnd::Isolated) => {
                tracing::info!("the isolating session settled a page; back to the normal prefetch");
                isolate = false;
                refusals = 0;
                delays = backoff.build();
                attempt = 0;
                continue;
            }
            Ok(SessionEnd::Lost(loss)) => {
                refusals = 0;
                missing = None;
                tracing::warn!(
                    attempt,
                    reason = loss.reason,
                    settled = loss.settled,
                    lived_ms = millis(loss.lived),
                    "broker session lost; reconnecting"
                );
                if loss.unreadable {
                    isolate = true;
                    tracing::warn!(
                        "the client library could not read a frame; consuming with prefetch 1 \
                         until a page settles, so that only the unreadable delivery is charged"
                    );
                }
                if loss.was_healthy() {
                    delays = backoff.build();
                    attempt = 0;
                }
            }
            Err(e) => {
                if let Some(reason) = e.refusal() {
                    refusals += 1;
                    tracing::error!(attempt, refusals, reason, "the broker refused the worker");
                    if refusals >= MAX_REFUSALS {
                        return Err(WorkerError::Refused {
                            attempts: refusals,
                            reason,
                        });
                    }
                } else if e.is_transient() {
                    refusals = 0;
                    let error = crate::telemetry::error_chain(&e);
                    if matches!(e, WorkerError::Topology(TopologyError::Missing { .. })) {
                        // One line per missing object, not one per attempt.
                        if missing.as_deref() != Some(error.as_str()) {
                            tracing::error!(error, "the topology is incomplete; not consuming");
                            missing = Some(error);
                        } else {
                            tracing::debug!(error, "the topology is still incomplete");
                        }
                    } else {
                        tracing::warn!(attempt, error, "broker session failed");
                    }
                } else {
                    return Err(e);
                }
            }
        }
        let delay = delays.next().unwrap_or(backoff.max);
        tracing::info!(delay_ms = millis(delay), "waiting before reconnecting");
        tokio::select! {
            _ = worker.shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// One broker session: the connections, their watchers, the publisher and the consumer.
struct Session<'w> {
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
    async fn open(worker: &'w Worker) -> Result<Session<'w>, WorkerError> {
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
    /// prefetch 1 and end after the first settled page ([`SessionEnd::Isolated`]).
    async fn serve(self, isolate: bool) -> Result<SessionEnd, WorkerError> {
        let result = self.consume(isolate).await;
        self.worker.readiness.set(false);
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
        // Declares and consumer setup race the shutdown: nothing is in flight yet.
        let (publisher, channel, mut consumer) = tokio::select! {
            biased;
            _ = shutdown.cancelled() => return Ok(SessionEnd::Shutdown),
            started = self.start(prefetch) => started?,
        };
        tracing::info!(
            queue = %settings.amqp.input_queue,
            concurrency,
            prefetch,
            isolate,
            "consuming"
        );
        self.worker.readiness.set(true);
        let began = Instant::now();
        let watchdog = watch_broker(
            &self.consume_conn,
            &settings.amqp.input_queue,
            settings.amqp.heartbeat_seconds,
            self.worker.readiness.clone(),
            self.lost.clone(),
        )
        .await;
        let ctx = Arc::new(self.context(&publisher));
        let slots = Arc::new(Semaphore::new(concurrency));
        let tracker = TaskTracker::new();
        let settled = Arc::new(AtomicU64::new(0));
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
            // With concurrency 1, a permit means the previous page is done.
            if isolate && settled.load(Ordering::SeqCst) > 0 {
                break SessionEnd::Isolated;
            }
            let next = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break SessionEnd::Shutdown,
                _ = lost.cancelled() => break self.loss("connection or channel lost", &settled, began),
                next = consumer.next() => next,
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
                    if matches!(e.kind(), lapin::ErrorKind::ParsingError(_)) {
                        self.unreadable.store(true, Ordering::SeqCst);
                    }
                    break self.loss(format!("consumer failed: {e}"), &settled, began);
                }
                None => break self.loss("the broker cancelled the consumer", &settled, began),
            }
        };
        watchdog.abort();
        self.worker.readiness.set(false);
        tracker.close();
        let draining = matches!(end, SessionEnd::Shutdown | SessionEnd::Isolated);
        if draining {
            // Stop deliveries; prefetched but unstarted ones go back to the queue when the
            // channel closes.
            let cancel = channel.basic_cancel(consumer.tag(), BasicCancelOptions::default());
            match tokio::time::timeout(CLOSE_TIMEOUT, cancel).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "cancelling the consumer"),
                Err(_) => tracing::warn!("cancelling the consumer timed out"),
            }
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
        let in_flight = metrics::snapshot().in_flight;
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

/// Watches that the broker still answers on the consuming connection: a passive declare of the
/// input queue every half heartbeat, each allowed one and a half heartbeats, so that within two
/// heartbeats of the last frame a half-open connection (a peer or relay that stopped forwarding)
/// turns the worker not-ready and ends the session, long before the TCP stack gives up. No
/// watch when heartbeats are off (`amqp.heartbeat_seconds = 0`).
async fn watch_broker(
    connection: &Connection,
    queue: &str,
    heartbeat_seconds: u16,
    readiness: Readiness,
    lost: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let heartbeat = Duration::from_secs(u64::from(heartbeat_seconds));
    let channel = match connection.create_channel().await {
        Ok(channel) if !heartbeat.is_zero() => Some(channel),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, "cannot open the broker watch channel");
            lost.cancel();
            None
        }
    };
    let queue = queue.to_owned();
    tokio::spawn(async move {
        let Some(channel) = channel else { return };
        let (period, patience) = (heartbeat / 2, heartbeat * 3 / 2);
        loop {
            tokio::select! {
                _ = lost.cancelled() => return,
                _ = tokio::time::sleep(period) => {}
            }
            let probe = channel.queue_declare(
                short(&queue),
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            );
            match tokio::time::timeout(patience, probe).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    readiness.set(false);
                    tracing::warn!(error = %e, "the broker watch failed; ending the session");
                    lost.cancel();
                    return;
                }
                Err(_) => {
                    readiness.set(false);
                    tracing::warn!(
                        heartbeat_seconds,
                        "no answer from the broker for two heartbeats; not ready, ending the \
                         session"
                    );
                    lost.cancel();
                    return;
                }
            }
        }
    })
}

fn watch_connection(
    connection: &Connection,
    which: &'static str,
    lost: CancellationToken,
    unreadable: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    let mut events = connection.events_listener();
    tokio::spawn(async move {
        while let Some(event) = events.next().await {
            match event {
                Event::Error(e) => {
                    if matches!(e.kind(), lapin::ErrorKind::ParsingError(_)) {
                        unreadable.store(true, Ordering::SeqCst);
                    }
                    tracing::warn!(connection = which, error = %e, "connection error");
                    lost.cancel();
                    return;
                }
                Event::ConnectionBlocked(reason) => {
                    tracing::warn!(
                        connection = which,
                        reason,
                        "the broker blocked the connection"
                    );
                }
                Event::ConnectionUnblocked => {
                    tracing::info!(connection = which, "the broker unblocked the connection");
                }
                _ => {}
            }
        }
    })
}

async fn close_connection(connection: &Connection) {
    if connection.status().connected() {
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, connection.close(200, short("bye"))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arc_swap::ArcSwap;

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

    #[test]
    fn the_supervisor_future_can_be_spawned_on_a_multi_threaded_runtime() {
        fn assert_send<T: Send>(_: &T) {}
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config");
        let settings = Settings::load_from(&dir, None, Vec::new()).expect("default config");
        let pipeline = crate::resources::build_pipeline(&settings.pipeline).expect("pipeline");
        let worker = Worker {
            settings,
            pipeline: Arc::new(ArcSwap::from_pointee(pipeline)),
            readiness: Readiness::new(),
            shutdown: CancellationToken::new(),
            clock: Arc::new(crate::clock::SystemClock),
        };
        let fut = run(worker);
        assert_send(&fut);
    }
}
