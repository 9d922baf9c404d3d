//! The one-line stats summary every `log.stats_interval_seconds`: rates since the last line,
//! in-flight pages and totals, all read from the Prometheus recorder ([`crate::metrics::snapshot`]).

use std::time::{Duration, Instant};

use metrics_exporter_prometheus::PrometheusHandle;
use tokio_util::sync::CancellationToken;

use crate::metrics::Snapshot;

/// Logs the stats line every `interval_seconds` (never when 0) until `shutdown`.
pub fn spawn(
    recorder: PrometheusHandle,
    interval_seconds: u64,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if interval_seconds == 0 {
            return;
        }
        let period = Duration::from_secs(interval_seconds);
        let mut before = crate::metrics::snapshot(&recorder);
        let mut at = Instant::now();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(period) => {}
            }
            before = log("stats", &recorder, &before, at.elapsed());
            at = Instant::now();
        }
    })
}

/// Logs the stats line `message`: rates since `before` (taken `elapsed` ago), in-flight pages
/// and totals, as fields. Returns the snapshot it logged.
pub fn log(
    message: &str,
    recorder: &PrometheusHandle,
    before: &Snapshot,
    elapsed: Duration,
) -> Snapshot {
    let now = crate::metrics::snapshot(recorder);
    let (pages, articles) = crate::metrics::rates(before, &now, elapsed);
    tracing::info!(
        pages_per_second = format!("{pages:.1}"),
        articles_per_second = format!("{articles:.1}"),
        in_flight = now.in_flight,
        published = now.published,
        dead_lettered = now.dead_lettered,
        requeued = now.requeued,
        abandoned = now.abandoned,
        articles = now.articles,
        safety_articles = now.safety_articles,
        reconnects = now.reconnects,
        "{message}"
    );
    now
}
