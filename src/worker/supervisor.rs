//! The supervisor: [`run`] opens a session (a consuming and a
//! publishing connection, the topology, a confirm-mode publisher and the consumer), which hands
//! up to `worker.concurrency` deliveries at a time to [`super::handle_delivery`]; after a
//! connection or channel loss or a consumer cancel it opens another with backoff
//! (`amqp.reconnect_*`), with prefetch 1 after a frame the client could not read, and gives up
//! only on what a retry cannot fix. On shutdown the session stops consuming, finishes and acks
//! the in-flight pages within `shutdown.grace_seconds`, and closes cleanly.

use std::sync::Arc;

use backon::BackoffBuilder;
use tokio_util::sync::CancellationToken;

use super::session::{Session, SessionEnd};
use super::{SharedPipeline, WorkerError, millis};
use crate::amqp::TopologyError;
use crate::clock::Clock;
use crate::health::Readiness;
use crate::metrics;
use crate::settings::Settings;

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

/// Consecutive refusals by the broker (ACCESS_REFUSED, NOT_ALLOWED: credentials, vhost or
/// permissions) after which the worker stops with an error (and the process exits non-zero,
/// with the reason), instead of retrying forever while looking alive.
pub const MAX_REFUSALS: u32 = 5;

/// Runs the worker until `worker.shutdown` is cancelled: sessions are rebuilt with backoff after
/// any loss. Returns an error only for problems a retry cannot fix (bad URL or CA file, topology
/// mismatch, [`MAX_REFUSALS`] refusals in a row).
///
/// After a session lost to a frame the client library could not parse, the next sessions
/// consume with prefetch 1 (and concurrency 1) until `prefetch` pages have settled in one
/// session (the window the unreadable delivery was prefetched in), so that only the unreadable
/// delivery's count rises on each further loss (a quorum queue then dead-letters it at its
/// delivery limit) and no innocent prefetched page is charged for it again; then the normal
/// prefetch returns.
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
                tracing::info!(
                    "the isolating session settled its pages; back to the normal prefetch"
                );
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
                         until a prefetch window of pages settles, so that only the unreadable \
                         delivery is charged"
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
