//! Article events and the per-page summary as AMQP messages (pure: values in, [`OutMessage`]s
//! out). The timestamp property is passed in by the caller's clock. The copies of a delivery
//! (dead-letter, retry) are in [`super::copy`].

use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::amqp::{self, OutMessage, cut, short};
use crate::model::ArticleEvent;

/// Routing key of the per-page summary event.
pub const PAGE_SUMMARY_ROUTING_KEY: &str = "page.processed";
/// Schema of the per-page summary event.
pub const PAGE_SUMMARY_SCHEMA: &str = "pagesift.page/v1";
/// Longest AMQP short string (`message_id`, `correlation_id`).
const MAX_SHORT: usize = 255;

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
            .with_message_id(short(&summary_id(&summary.page_id)))
            .with_correlation_id(short(&summary.page_id))
            .with_type(short(PAGE_SUMMARY_SCHEMA)),
        mandatory: false,
    })
}

/// The `message_id` of a page's summary: `<page_id>:summary`. When that exceeds the 255 bytes
/// of a short string, the page id is cut at a character boundary and followed by `~` and the
/// first 16 hex digits of its SHA-256, so that the id keeps its `:summary` suffix and stays
/// distinct for page ids that share a long prefix.
pub fn summary_id(page_id: &str) -> String {
    const SUFFIX: &str = ":summary";
    if page_id.len() + SUFFIX.len() <= MAX_SHORT {
        return format!("{page_id}{SUFFIX}");
    }
    let digest = Sha256::digest(page_id.as_bytes());
    let hash: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let room = MAX_SHORT - SUFFIX.len() - 1 - hash.len();
    format!("{}~{hash}{SUFFIX}", cut(page_id, room))
}

#[cfg(test)]
mod tests {
    use super::*;
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
    fn a_summary_id_keeps_its_suffix_and_stays_distinct_for_long_page_ids() {
        assert_eq!(summary_id("p1"), "p1:summary");
        let exact = "p".repeat(255 - ":summary".len());
        assert_eq!(summary_id(&exact), format!("{exact}:summary"));
        let long_a = format!("{}a", "页".repeat(100));
        let long_b = format!("{}b", "页".repeat(100));
        let (a, b) = (summary_id(&long_a), summary_id(&long_b));
        for id in [&a, &b] {
            assert!(id.len() <= 255, "{} bytes", id.len());
            assert!(id.ends_with(":summary"), "{id}");
            assert!(id.starts_with("页页页"), "{id}");
        }
        assert_ne!(a, b, "same prefix, different pages");
        let summary = PageSummary {
            schema: PAGE_SUMMARY_SCHEMA.to_owned(),
            page_id: long_a.clone(),
            articles: 0,
            safety_articles: 0,
            duration_ms: 0,
            classifier: "c".to_owned(),
            processed_at: "2000-01-01T00:00:00Z".to_owned(),
            lowest_confidence: None,
        };
        let m = summary_message(&summary, "out", 1).expect("message");
        assert_eq!(
            m.properties.message_id().as_ref().map(|x| x.as_str()),
            Some(a.as_str())
        );
    }
}
