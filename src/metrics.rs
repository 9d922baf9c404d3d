//! Every metric pagesift records, in one place: the names, their descriptions and one recording
//! function per event. Recording goes through the `metrics` facade only (exported as Prometheus
//! text by whichever recorder the binary installs; without one, recording is a no-op). The
//! totals of the periodic stats log line are read back from that same exposition
//! ([`Snapshot::from_exposition`], [`snapshot`]): one source of truth, no second set of counters.

use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;

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

/// The totals of the stats log line, as the Prometheus recorder counted them.
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

impl Snapshot {
    /// The totals in a Prometheus text exposition of pagesift's metrics (what `/metrics`
    /// serves): pages by outcome, articles (and safety ones), reconnects, in-flight pages.
    /// Metrics absent from the text count as zero.
    pub fn from_exposition(text: &str) -> Snapshot {
        let count = |metric, labels: &[(&str, &str)]| {
            let sum = sample_sum(text, metric, labels);
            // Counters are whole numbers; the cast saturates (a negative or NaN sum is 0).
            sum.round() as u64
        };
        let pages = |outcome: PageOutcome| count(PAGES_TOTAL, &[("outcome", outcome.as_str())]);
        Snapshot {
            published: pages(PageOutcome::Published),
            dead_lettered: pages(PageOutcome::DeadLettered),
            requeued: pages(PageOutcome::Requeued),
            abandoned: pages(PageOutcome::Abandoned),
            articles: count(ARTICLES_TOTAL, &[]),
            safety_articles: count(ARTICLES_TOTAL, &[("safety", "true")]),
            reconnects: count(RECONNECTS_TOTAL, &[]),
            in_flight: sample_sum(text, PAGES_IN_FLIGHT, &[]).round() as i64,
        }
    }
}

/// The totals counted so far by the Prometheus recorder behind `handle`.
pub fn snapshot(handle: &PrometheusHandle) -> Snapshot {
    Snapshot::from_exposition(&handle.render())
}

/// The sum of the samples of `metric` in a Prometheus text exposition whose labels include every
/// `labels` pair (all of its samples when `labels` is empty). A histogram's or summary's series
/// are other metrics (`<name>_count`, `<name>_bucket`, …).
pub fn sample_sum(text: &str, metric: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let rest = l.strip_prefix(metric)?;
            let (label_set, value) = match rest.strip_prefix('{') {
                Some(labelled) => labelled.split_once('}')?,
                None if rest.starts_with(' ') => ("", rest),
                None => return None,
            };
            let wanted = labels
                .iter()
                .all(|(k, v)| label_set.split(',').any(|p| p == format!("{k}=\"{v}\"")));
            wanted.then(|| value.split_whitespace().next()?.parse::<f64>().ok())?
        })
        .sum()
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
}

/// Records one published article event.
pub fn article_published(is_safety: bool, primary: &'static str) {
    metrics::counter!(
        ARTICLES_TOTAL,
        "safety" => if is_safety { "true" } else { "false" },
        "primary" => primary
    )
    .increment(1);
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
    fn a_snapshot_reads_back_what_the_recorder_counted() {
        let recorder = crate::http::recorder().expect("recorder");
        let handle = recorder.handle();
        let guard = metrics::with_local_recorder(&recorder, || {
            page_settled(PageOutcome::Published, Duration::from_millis(5));
            page_settled(PageOutcome::Published, Duration::from_millis(5));
            page_settled(PageOutcome::DeadLettered, Duration::from_millis(5));
            page_settled(PageOutcome::Abandoned, Duration::from_millis(5));
            article_published(true, "fire");
            article_published(false, "none");
            article_published(false, "none");
            dead_lettered("invalid_json");
            reconnected();
            page_started()
        });
        let text = handle.render();
        let snap = Snapshot::from_exposition(&text);
        assert_eq!(
            snap,
            Snapshot {
                published: 2,
                dead_lettered: 1,
                requeued: 0,
                abandoned: 1,
                articles: 3,
                safety_articles: 1,
                reconnects: 1,
                in_flight: 1,
            },
            "{text}"
        );
        metrics::with_local_recorder(&recorder, || drop(guard));
        assert_eq!(snapshot(&handle).in_flight, 0);
    }

    #[test]
    fn sample_sums_match_whole_labels_and_whole_metric_names() {
        let text = "# TYPE a_total counter\n\
                    a_total{outcome=\"published\",x=\"1\"} 2\n\
                    a_total{outcome=\"published_late\"} 5\n\
                    a_total{outcome=\"requeued\"} 3\n\
                    a_total_other 7\n\
                    b 1.5\n";
        assert_eq!(sample_sum(text, "a_total", &[]), 10.0);
        assert_eq!(
            sample_sum(text, "a_total", &[("outcome", "published")]),
            2.0
        );
        assert_eq!(
            sample_sum(text, "a_total", &[("x", "1"), ("outcome", "requeued")]),
            0.0
        );
        assert_eq!(sample_sum(text, "b", &[]), 1.5);
        assert_eq!(sample_sum(text, "c", &[]), 0.0);
        assert_eq!(Snapshot::from_exposition(""), Snapshot::default());
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
