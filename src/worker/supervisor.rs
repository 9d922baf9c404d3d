//! The supervisor: [`run`] opens a `Session` (a consuming and a publishing connection, the
//! topology, a confirm-mode publisher and the consumer), hands up to `worker.concurrency`
//! deliveries at a time to [`handle_delivery`], and after a connection or channel loss or a
//! consumer cancel closes it and opens another with backoff (`amqp.reconnect_*`). On shutdown it
//! stops consuming, finishes and acks the in-flight pages within `shutdown.grace_seconds`, and
//! closes cleanly.

use std::sync::Arc;
use std::time::Duration;

use backon::BackoffBuilder;
use futures_util::StreamExt;
use lapin::options::{BasicCancelOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, Consumer, Event};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::encode::CopyLimits;
use super::page::{Context, handle_delivery};
use super::settle::DeliveryLimit;
use super::{SharedPipeline, WorkerError};
use crate::amqp::{self, Publisher, short};
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
    Lost(String),
}

/// Runs the worker until `worker.shutdown` is cancelled: sessions are rebuilt with backoff after
/// any loss. Returns an error only for problems a retry cannot fix (bad URL or CA file, topology
/// mismatch).
pub async fn run(worker: Worker) -> Result<(), WorkerError> {
    let settings = &worker.settings;
    let backoff = settings.amqp.reconnect_backoff();
    let mut delays = backoff.build();
    let mut attempt: u64 = 0;
    let mut first = true;
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
        let ended = match Session::open(&worker).await {
            Ok(session) => session.serve().await,
            Err(e) => Err(e),
        };
        worker.readiness.set(false);
        match ended {
            Ok(SessionEnd::Shutdown) => return Ok(()),
            Ok(SessionEnd::Lost(reason)) => {
                tracing::warn!(attempt, reason, "broker session lost; reconnecting");
                // A session that ran resets the backoff.
                delays = backoff.build();
                attempt = 0;
            }
            Err(e) if e.is_transient() => {
                tracing::warn!(attempt, error = %crate::telemetry::error_chain(&e),
                    "broker session failed");
            }
            Err(e) => return Err(e),
        }
        let delay = delays.next().unwrap_or(backoff.max);
        tracing::info!(
            delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            "waiting before reconnecting"
        );
        tokio::select! {
            _ = worker.shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

/// One broker session: the connections, their watchers, the publisher and the consumer.
struct Session<'w> {
    worker: &'w Worker,
    consume_conn: Connection,
    publish_conn: Arc<Connection>,
    /// Cancelled by the watchers (or a publish) when a connection or channel is lost.
    lost: CancellationToken,
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
        let watchers = vec![
            watch_connection(&consume_conn, "consume", lost.clone()),
            watch_connection(&publish_conn, "publish", lost.clone()),
        ];
        Ok(Session {
            worker,
            consume_conn,
            publish_conn,
            lost,
            watchers,
        })
    }

    /// Declares, consumes until shutdown or loss, drains, then closes everything.
    async fn serve(self) -> Result<SessionEnd, WorkerError> {
        let result = self.consume().await;
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

    /// Topology (when `amqp.declare`), publisher, QoS and consumer.
    async fn start(&self) -> Result<(Publisher, Channel, Consumer), WorkerError> {
        let settings = &self.worker.settings;
        if settings.amqp.declare {
            let channel = self
                .consume_conn
                .create_channel()
                .await
                .map_err(|e| self.setup_error(e))?;
            amqp::topology::declare(&channel, &settings.amqp).await?;
            let _ = channel.close(200, short("declared")).await;
        }
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
        channel
            .basic_qos(settings.prefetch(), BasicQosOptions::default())
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

    async fn consume(&self) -> Result<SessionEnd, WorkerError> {
        let (settings, shutdown) = (&self.worker.settings, &self.worker.shutdown);
        let (publisher, channel, mut consumer) = self.start().await?;
        let concurrency = settings.concurrency();
        tracing::info!(
            queue = %settings.amqp.input_queue,
            concurrency,
            prefetch = settings.prefetch(),
            "consuming"
        );
        self.worker.readiness.set(true);
        let ctx = Arc::new(self.context(&publisher));
        let slots = Arc::new(Semaphore::new(concurrency));
        let tracker = TaskTracker::new();
        let lost = &self.lost;
        let end = loop {
            let permit = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break SessionEnd::Shutdown,
                _ = lost.cancelled() => break SessionEnd::Lost("connection or channel lost".into()),
                permit = Arc::clone(&slots).acquire_owned() => match permit {
                    Ok(p) => p,
                    Err(_) => break SessionEnd::Lost("worker slots closed".into()),
                },
            };
            let next = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break SessionEnd::Shutdown,
                _ = lost.cancelled() => break SessionEnd::Lost("connection or channel lost".into()),
                next = consumer.next() => next,
            };
            match next {
                Some(Ok(delivery)) => {
                    let ctx = Arc::clone(&ctx);
                    tracker.spawn(async move {
                        handle_delivery(&ctx, delivery).await;
                        drop(permit);
                    });
                }
                Some(Err(e)) => break SessionEnd::Lost(format!("consumer failed: {e}")),
                None => break SessionEnd::Lost("the broker cancelled the consumer".into()),
            }
        };
        self.worker.readiness.set(false);
        tracker.close();
        if matches!(end, SessionEnd::Shutdown) {
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
        let grace = match end {
            SessionEnd::Shutdown => settings.shutdown.grace(),
            SessionEnd::Lost(_) => settings.shutdown.grace().min(LOST_SESSION_GRACE),
        };
        let in_flight = metrics::snapshot().in_flight;
        tracing::info!(in_flight, "waiting for in-flight pages");
        if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
            tracing::warn!(
                grace_ms = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX),
                "in-flight pages did not finish in time; the broker will redeliver them"
            );
        }
        // A close on a connection the broker already dropped may never resolve: bound it.
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, channel.close(200, short("bye"))).await;
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, publisher.close()).await;
        Ok(end)
    }
}

fn watch_connection(
    connection: &Connection,
    which: &'static str,
    lost: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let mut events = connection.events_listener();
    tokio::spawn(async move {
        while let Some(event) = events.next().await {
            match event {
                Event::Error(e) => {
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
