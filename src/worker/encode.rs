//! What the worker publishes, as AMQP messages (pure: values in, [`OutMessage`]s out): article
//! events, the per-page summary, the dead-letter copy of a rejected page and the retry copy of a
//! page on a classic queue. The timestamp property is passed in by the caller's clock.

use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable};
use serde::{Deserialize, Serialize};

use crate::amqp::{self, OutMessage, short};
use crate::model::ArticleEvent;

/// Header naming the input error class of a dead-lettered page.
pub const ERROR_CLASS_HEADER: &str = "x-pagesift-error-class";
/// Header with the human-readable reason of a dead-lettered page.
pub const ERROR_REASON_HEADER: &str = "x-pagesift-error-reason";
/// Header with the page id of a dead-lettered page (when known).
pub const PAGE_ID_HEADER: &str = "x-pagesift-page-id";
/// Header with the queue a dead-lettered page came from.
pub const SOURCE_QUEUE_HEADER: &str = "x-pagesift-source-queue";
/// Header counting the failed attempts of a page re-queued by the worker (classic queues).
pub const ATTEMPTS_HEADER: &str = "x-pagesift-attempts";
/// Routing key of the per-page summary event.
pub const PAGE_SUMMARY_ROUTING_KEY: &str = "page.processed";
/// Schema of the per-page summary event.
pub const PAGE_SUMMARY_SCHEMA: &str = "pagesift.page/v1";
/// Longest error reason put in a header, in characters.
const MAX_REASON_CHARS: usize = 1000;

/// The message of one article event: persistent JSON, `message_id` = event id,
/// `correlation_id` = page id, routed by [`ArticleEvent::routing_key`], mandatory. Fails only
/// when the event cannot be serialised.
pub fn event_message(
    event: &ArticleEvent,
    exchange: &str,
    timestamp: u64,
) -> Result<OutMessage, serde_json::Error> {
    let body = serde_json::to_vec(event)?;
    let mut headers = FieldTable::default();
    headers.insert("schema".into(), amqp::header_str(&event.schema));
    headers.insert("page_id".into(), amqp::header_str(&event.page.id));
    headers.insert(
        "is_safety".into(),
        AMQPValue::Boolean(event.safety.is_safety),
    );
    headers.insert(
        "primary".into(),
        amqp::header_str(event.safety.primary.map_or("none", |t| t.as_str())),
    );
    headers.insert(
        "classifier".into(),
        amqp::header_str(&event.pipeline.classifier),
    );
    if event.review {
        headers.insert("review".into(), AMQPValue::Boolean(true));
    }
    Ok(OutMessage {
        exchange: exchange.to_owned(),
        routing_key: event.routing_key(),
        body,
        properties: json_properties(timestamp)
            .with_message_id(short(&event.event_id))
            .with_correlation_id(short(&event.page.id))
            .with_type(short(&event.schema))
            .with_headers(headers),
        mandatory: true,
    })
}

fn json_properties(timestamp: u64) -> BasicProperties {
    BasicProperties::default()
        .with_content_type(short("application/json"))
        .with_delivery_mode(2)
        .with_app_id(short("pagesift"))
        .with_timestamp(timestamp)
}

/// The `page.processed` summary of a page.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PageSummary {
    /// Always [`PAGE_SUMMARY_SCHEMA`].
    pub schema: String,
    /// The page id.
    pub page_id: String,
    /// Article events published for the page.
    pub articles: usize,
    /// Safety article events among them.
    pub safety_articles: usize,
    /// Milliseconds spent decoding and running the pipeline.
    pub duration_ms: u64,
    /// The classifier version.
    pub classifier: String,
    /// RFC 3339 time of processing.
    pub processed_at: String,
    /// The lowest `article.confidence` of the page's items (`None` for a page without items).
    #[serde(default)]
    pub lowest_confidence: Option<f64>,
}

/// The message of a page's summary: JSON on [`PAGE_SUMMARY_ROUTING_KEY`], not mandatory
/// (nobody has to listen to summaries).
pub fn summary_message(
    summary: &PageSummary,
    exchange: &str,
    timestamp: u64,
) -> Result<OutMessage, serde_json::Error> {
    Ok(OutMessage {
        exchange: exchange.to_owned(),
        routing_key: PAGE_SUMMARY_ROUTING_KEY.to_owned(),
        body: serde_json::to_vec(summary)?,
        properties: json_properties(timestamp)
            .with_message_id(short(&format!("{}:summary", summary.page_id)))
            .with_correlation_id(short(&summary.page_id))
            .with_type(short(PAGE_SUMMARY_SCHEMA)),
        mandatory: false,
    })
}

/// Why a page is dead-lettered and where it came from.
#[derive(Debug, Clone, Copy)]
pub struct Rejection<'a> {
    /// The error class ([`ERROR_CLASS_HEADER`]).
    pub class: &'a str,
    /// The reason ([`ERROR_REASON_HEADER`], cut to 1,000 characters).
    pub reason: &'a str,
    /// The page id, when known ([`PAGE_ID_HEADER`]).
    pub page_id: Option<&'a str>,
    /// The input queue ([`SOURCE_QUEUE_HEADER`], and the routing key of the copy).
    pub source_queue: &'a str,
}

/// The copy of a rejected page sent to the dead-letter exchange: the original body and
/// properties, plus headers naming the error class and reason, the page id and the source queue.
pub fn dead_letter_message(
    properties: &BasicProperties,
    body: &[u8],
    rejection: Rejection<'_>,
    exchange: &str,
) -> OutMessage {
    let reason: String = rejection.reason.chars().take(MAX_REASON_CHARS).collect();
    let mut headers = vec![
        (ERROR_CLASS_HEADER, amqp::header_str(rejection.class)),
        (ERROR_REASON_HEADER, amqp::header_str(&reason)),
        (
            SOURCE_QUEUE_HEADER,
            amqp::header_str(rejection.source_queue),
        ),
    ];
    if let Some(id) = rejection.page_id {
        headers.push((PAGE_ID_HEADER, amqp::header_str(id)));
    }
    copy_of(properties, body, headers, exchange, rejection.source_queue)
}

/// The copy of a failed page put back at the tail of its (classic) input queue through the
/// default exchange: the original body and properties, with [`ATTEMPTS_HEADER`] = `attempts`.
pub fn retry_message(
    properties: &BasicProperties,
    body: &[u8],
    attempts: u32,
    input_queue: &str,
) -> OutMessage {
    let headers = vec![(ATTEMPTS_HEADER, AMQPValue::LongUInt(attempts))];
    copy_of(properties, body, headers, "", input_queue)
}

/// A persistent, mandatory copy of a delivery with headers added (or replaced).
fn copy_of(
    properties: &BasicProperties,
    body: &[u8],
    added: Vec<(&str, AMQPValue)>,
    exchange: &str,
    routing_key: &str,
) -> OutMessage {
    let mut headers = properties.headers().clone().unwrap_or_default();
    for (key, value) in added {
        headers.insert(key.into(), value);
    }
    OutMessage {
        exchange: exchange.to_owned(),
        routing_key: routing_key.to_owned(),
        body: body.to_vec(),
        properties: properties
            .clone()
            .with_delivery_mode(2)
            .with_headers(headers),
        mandatory: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::amqp::header_text;
    use crate::model::PageMeta;

    fn settings() -> crate::settings::Settings {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config");
        crate::settings::Settings::load_from(&dir, None, Vec::new()).expect("default config")
    }

    #[test]
    fn an_event_message_is_persistent_json_keyed_by_event_and_page() {
        let s = settings();
        let pipeline = crate::resources::build_pipeline(&s.pipeline).expect("pipeline");
        let page = crate::model::RawPage {
            page_id: "p".repeat(300),
            text: "标题\n\n正文第一段。\n".to_owned(),
            meta: PageMeta::default(),
        };
        let processed = pipeline
            .process(&page, "2000-01-01T00:00:00Z")
            .expect("page");
        assert!(!processed.events.is_empty(), "the page yields an article");
        for event in &processed.events {
            let m = event_message(event, "out", 946_684_800).expect("message");
            assert_eq!(m.routing_key, event.routing_key());
            assert!(m.mandatory);
            let p = &m.properties;
            assert_eq!(*p.delivery_mode(), Some(2));
            assert_eq!(*p.timestamp(), Some(946_684_800), "the caller's clock");
            assert_eq!(
                p.message_id().as_ref().map(|x| x.as_str()),
                Some(event.event_id.as_str())
            );
            let correlation = p.correlation_id().as_ref().expect("correlation id");
            assert!(
                event.page.id.starts_with(correlation.as_str()),
                "long ids are cut, not panics"
            );
            let back: ArticleEvent = serde_json::from_slice(&m.body).expect("JSON body");
            assert_eq!(&back, event);
        }
    }

    #[test]
    fn a_summary_is_optional_json_on_its_own_routing_key() {
        let summary = PageSummary {
            schema: PAGE_SUMMARY_SCHEMA.to_owned(),
            page_id: "p1".to_owned(),
            articles: 3,
            safety_articles: 1,
            duration_ms: 12,
            classifier: "c".to_owned(),
            processed_at: "2000-01-01T00:00:00Z".to_owned(),
            lowest_confidence: Some(0.42),
        };
        let m = summary_message(&summary, "out", 1).expect("message");
        assert_eq!(m.routing_key, PAGE_SUMMARY_ROUTING_KEY);
        assert!(!m.mandatory);
        let back: PageSummary = serde_json::from_slice(&m.body).expect("JSON body");
        assert_eq!(back, summary);
        assert_eq!(
            m.properties.message_id().as_ref().map(|x| x.as_str()),
            Some("p1:summary")
        );
    }

    #[test]
    fn a_dead_letter_keeps_the_original_and_names_the_error() {
        let mut headers = FieldTable::default();
        headers.insert("page_id".into(), amqp::header_str("x"));
        let original = BasicProperties::default()
            .with_content_type(short("application/json"))
            .with_headers(headers);
        let long_reason = "r".repeat(5000);
        let rejection = Rejection {
            class: "invalid_json",
            reason: &long_reason,
            page_id: Some("x"),
            source_queue: "in",
        };
        let m = dead_letter_message(&original, b"{", rejection, "dlx");
        assert_eq!(m.body, b"{");
        assert_eq!(m.exchange, "dlx");
        assert_eq!(m.routing_key, "in");
        let h = m.properties.headers().as_ref().expect("headers");
        assert_eq!(
            header_text(h, ERROR_CLASS_HEADER).as_deref(),
            Some("invalid_json")
        );
        assert!(header_text(h, ERROR_REASON_HEADER).is_some_and(|r| r.len() < long_reason.len()));
        assert_eq!(header_text(h, PAGE_ID_HEADER).as_deref(), Some("x"));
        assert_eq!(header_text(h, SOURCE_QUEUE_HEADER).as_deref(), Some("in"));
        assert_eq!(
            header_text(h, "page_id").as_deref(),
            Some("x"),
            "original headers kept"
        );
        assert_eq!(
            m.properties.content_type().as_ref().map(|c| c.as_str()),
            Some("application/json")
        );
    }

    #[test]
    fn a_retry_copy_goes_to_the_input_queue_with_its_attempts_counted() {
        let mut headers = FieldTable::default();
        headers.insert("page_id".into(), amqp::header_str("x"));
        headers.insert(ATTEMPTS_HEADER.into(), AMQPValue::LongUInt(1));
        let original = BasicProperties::default()
            .with_message_id(short("m"))
            .with_headers(headers);
        let m = retry_message(&original, b"page", 2, "pages");
        assert_eq!((m.exchange.as_str(), m.routing_key.as_str()), ("", "pages"));
        assert!(
            m.mandatory,
            "a retry copy that cannot be queued is a failure"
        );
        assert_eq!(m.body, b"page");
        let h = m.properties.headers().as_ref().expect("headers");
        assert_eq!(header_text(h, ATTEMPTS_HEADER).as_deref(), Some("2"));
        assert_eq!(header_text(h, "page_id").as_deref(), Some("x"));
        assert_eq!(
            m.properties.message_id().as_ref().map(|x| x.as_str()),
            Some("m")
        );
    }
}
