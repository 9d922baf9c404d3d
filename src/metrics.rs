//! Every metric pagesift records, in one place: the names, their descriptions and one recording
//! function per event. Recording goes through the `metrics` facade (exported as Prometheus text
//! by whichever recorder the binary installs; without one, recording is a no-op), and the totals
//! the periodic stats log line needs are also kept in process-local atomic counters
//! ([`snapshot`]).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// Counter: pages handled, by `outcome` (`published`, `dead_lettered`, `requeued`, `abandoned`).
pub const PAGES_TOTAL: &str = "pagesift_pages_total";
/// Counter: article events published, by `safety` (`true`/`false`) and `primary` topic.
pub const ARTICLES_TOTAL: &str = "pagesift_articles_total";
/// Counter: pages dead-lettered by the worker, by `reason` (the input error class).
pub const DEAD_LETTERS_TOTAL: &str = "pagesift_dead_letters_total";
/// Histogram: seconds from delivery to ack of a page.
pub const PAGE_DURATION_SECONDS: &str = "pagesift_page_duration_seconds";
/// Histogram: seconds from the first publish of a batch to its last publisher confirm.
pub const PUBLISH_CONFIRM_SECONDS: &str = "pagesift_publish_confirm_seconds";
/// Gauge: pages being processed right now.
pub const PAGES_IN_FLIGHT: &str = "pagesift_pages_in_flight";
/// Counter: broker sessions rebuilt after a connection, channel or consumer loss.
pub const RECONNECTS_TOTAL: &str = "pagesift_reconnects_total";
/// Counter: publish attempts that failed transiently and were retried.
pub const PUBLISH_RETRIES_TOTAL: &str = "pagesift_publish_retries_total";
/// Counter: classifier reloads on SIGHUP, by `result` (`ok`, `error`).
pub const RELOADS_TOTAL: &str = "pagesift_reloads_total";
/// Gauge (always 1 for the current model): build information, labels `version` and
/// `classifier`.
pub const INFO: &str = "pagesift_info";

/// The outcome of one page delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageOutcome {
    /// Every event was confirmed and the page acked.
    Published,
    /// The page was copied to the dead-letter exchange by the worker (an input error, or a
    /// classic-queue page out of attempts), the copy confirmed, the page acked.
    DeadLettered,
    /// Publishing kept failing: the page was handed back to the broker (nack + requeue, or a
    /// confirmed retry copy on a classic queue).
    Requeued,
    /// The channel went away before the page could be settled; the broker redelivers it.
    Abandoned,
}

impl PageOutcome {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            PageOutcome::Published => "published",
            PageOutcome::DeadLettered => "dead_lettered",
            PageOutcome::Requeued => "requeued",
            PageOutcome::Abandoned => "abandoned",
        }
    }
}

/// Process-local totals, for the stats log line.
#[derive(Debug, Default)]
struct Totals {
    published: AtomicU64,
    dead_lettered: AtomicU64,
    requeued: AtomicU64,
    abandoned: AtomicU64,
    articles: AtomicU64,
    safety_articles: AtomicU64,
    reconnects: AtomicU64,
    in_flight: AtomicI64,
}

static TOTALS: Totals = Totals {
    published: AtomicU64::new(0),
    dead_lettered: AtomicU64::new(0),
    requeued: AtomicU64::new(0),
    abandoned: AtomicU64::new(0),
    articles: AtomicU64::new(0),
    safety_articles: AtomicU64::new(0),
    reconnects: AtomicU64::new(0),
    in_flight: AtomicI64::new(0),
};

/// A copy of the process-local totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Pages published and acked.
    pub published: u64,
    /// Pages dead-lettered by the worker.
    pub dead_lettered: u64,
    /// Pages handed back to the broker.
    pub requeued: u64,
    /// Pages left unsettled when a channel was lost.
    pub abandoned: u64,
    /// Article events published.
    pub articles: u64,
    /// Safety article events published.
    pub safety_articles: u64,
    /// Broker sessions rebuilt.
    pub reconnects: u64,
    /// Pages in flight now.
    pub in_flight: i64,
}

/// Reads the process-local totals.
pub fn snapshot() -> Snapshot {
    Snapshot {
        published: TOTALS.published.load(Ordering::Relaxed),
        dead_lettered: TOTALS.dead_lettered.load(Ordering::Relaxed),
        requeued: TOTALS.requeued.load(Ordering::Relaxed),
        abandoned: TOTALS.abandoned.load(Ordering::Relaxed),
        articles: TOTALS.articles.load(Ordering::Relaxed),
        safety_articles: TOTALS.safety_articles.load(Ordering::Relaxed),
        reconnects: TOTALS.reconnects.load(Ordering::Relaxed),
        in_flight: TOTALS.in_flight.load(Ordering::Relaxed),
    }
}

/// Registers the descriptions of every metric (call once after installing a recorder).
pub fn describe() {
    metrics::describe_counter!(PAGES_TOTAL, "Pages handled, by outcome");
    metrics::describe_counter!(
        ARTICLES_TOTAL,
        "Article events published, by safety and topic"
    );
    metrics::describe_counter!(DEAD_LETTERS_TOTAL, "Pages dead-lettered, by reason");
    metrics::describe_histogram!(
        PAGE_DURATION_SECONDS,
        metrics::Unit::Seconds,
        "Seconds from delivery to settlement of a page"
    );
    metrics::describe_histogram!(
        PUBLISH_CONFIRM_SECONDS,
        metrics::Unit::Seconds,
        "Seconds from first publish to last confirm of a page's events"
    );
    metrics::describe_gauge!(PAGES_IN_FLIGHT, "Pages being processed");
    metrics::describe_counter!(RECONNECTS_TOTAL, "Broker sessions rebuilt after a loss");
    metrics::describe_counter!(PUBLISH_RETRIES_TOTAL, "Transient publish failures retried");
    metrics::describe_counter!(RELOADS_TOTAL, "Classifier reloads on SIGHUP, by result");
    metrics::describe_gauge!(INFO, "Build and model information (value 1)");
}

/// Records a settled page: its outcome and how long it took.
pub fn page_settled(outcome: PageOutcome, duration: Duration) {
    metrics::counter!(PAGES_TOTAL, "outcome" => outcome.as_str()).increment(1);
    metrics::histogram!(PAGE_DURATION_SECONDS).record(duration.as_secs_f64());
    let total = match outcome {
        PageOutcome::Published => &TOTALS.published,
        PageOutcome::DeadLettered => &TOTALS.dead_lettered,
        PageOutcome::Requeued => &TOTALS.requeued,
        PageOutcome::Abandoned => &TOTALS.abandoned,
    };
    total.fetch_add(1, Ordering::Relaxed);
}

/// Records one published article event.
pub fn article_published(is_safety: bool, primary: &'static str) {
    metrics::counter!(
        ARTICLES_TOTAL,
        "safety" => if is_safety { "true" } else { "false" },
        "primary" => primary
    )
    .increment(1);
    TOTALS.articles.fetch_add(1, Ordering::Relaxed);
    if is_safety {
        TOTALS.safety_articles.fetch_add(1, Ordering::Relaxed);
    }
}

/// Records a page dead-lettered by the worker for `reason`.
pub fn dead_lettered(reason: &'static str) {
    metrics::counter!(DEAD_LETTERS_TOTAL, "reason" => reason).increment(1);
}

/// Records the time a batch of publishes took to be confirmed.
pub fn confirm_latency(duration: Duration) {
    metrics::histogram!(PUBLISH_CONFIRM_SECONDS).record(duration.as_secs_f64());
}

/// Records a transient publish failure that will be retried.
pub fn publish_retried() {
    metrics::counter!(PUBLISH_RETRIES_TOTAL).increment(1);
}

/// Records a rebuilt broker session.
pub fn reconnected() {
    metrics::counter!(RECONNECTS_TOTAL).increment(1);
    TOTALS.reconnects.fetch_add(1, Ordering::Relaxed);
}

/// Records the result of a SIGHUP reload.
pub fn reloaded(ok: bool) {
    metrics::counter!(RELOADS_TOTAL, "result" => if ok { "ok" } else { "error" }).increment(1);
}

/// Sets the info metric for the serving classifier (and clears the previous one, if any).
pub fn model_info(classifier: &str, previous: Option<&str>) {
    if let Some(old) = previous.filter(|old| *old != classifier) {
        metrics::gauge!(INFO, "version" => crate::pipeline::VERSION, "classifier" => old.to_owned())
            .set(0.0);
    }
    metrics::gauge!(
        INFO,
        "version" => crate::pipeline::VERSION,
        "classifier" => classifier.to_owned()
    )
    .set(1.0);
}

/// A page entered processing; the guard marks it finished when dropped.
#[must_use = "the page counts as in flight until the guard is dropped"]
pub fn page_started() -> InFlightGuard {
    metrics::gauge!(PAGES_IN_FLIGHT).increment(1.0);
    TOTALS.in_flight.fetch_add(1, Ordering::Relaxed);
    InFlightGuard { _private: () }
}

/// Keeps one page counted as in flight until dropped.
#[derive(Debug)]
pub struct InFlightGuard {
    _private: (),
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        metrics::gauge!(PAGES_IN_FLIGHT).decrement(1.0);
        TOTALS.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Pages settled (published or dead-lettered) and articles published per second between two
/// snapshots taken `elapsed` apart.
pub fn rates(before: &Snapshot, now: &Snapshot, elapsed: Duration) -> (f64, f64) {
    let secs = elapsed.as_secs_f64().max(f64::EPSILON);
    let rate = |a: u64, b: u64| b.saturating_sub(a) as f64 / secs;
    (
        rate(
            before.published + before.dead_lettered,
            now.published + now.dead_lettered,
        ),
        rate(before.articles, now.articles),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_count_settled_pages_and_articles_over_the_interval() {
        let before = Snapshot {
            published: 10,
            dead_lettered: 1,
            articles: 100,
            ..Snapshot::default()
        };
        let now = Snapshot {
            published: 30,
            dead_lettered: 11,
            articles: 300,
            ..Snapshot::default()
        };
        let (pages, articles) = rates(&before, &now, Duration::from_secs(10));
        assert!((pages - 3.0).abs() < 1e-9, "{pages}");
        assert!((articles - 20.0).abs() < 1e-9, "{articles}");
    }

    #[test]
    fn every_outcome_has_a_distinct_label() {
        let labels = [
            PageOutcome::Published,
            PageOutcome::DeadLettered,
            PageOutcome::Requeued,
            PageOutcome::Abandoned,
        ]
        .map(PageOutcome::as_str);
        let unique: std::collections::BTreeSet<_> = labels.iter().collect();
        assert_eq!(unique.len(), labels.len());
    }
}
