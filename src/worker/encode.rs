//! What the worker publishes, as AMQP messages (pure: values in, [`OutMessage`]s out): article
//! events, the per-page summary, the dead-letter copy of a rejected page and the retry copy of a
//! page on a classic queue. The timestamp property is passed in by the caller's clock.

use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::delivery::MAX_HEADER_DEPTH;
use crate::amqp::{self, OutMessage, fields, short};
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
/// Header listing the original headers left out of a dead-letter or retry copy to keep it
/// inside the header budget (see [`CopyLimits`]).
pub const HEADERS_DROPPED_HEADER: &str = "x-pagesift-headers-dropped";
/// Header saying that a dead-letter copy carries only the start of the original body.
pub const BODY_TRUNCATED_HEADER: &str = "x-pagesift-body-truncated";
/// Longest error reason put in a header, in characters.
const MAX_REASON_CHARS: usize = 1000;
/// Longest page id put in a dead-letter header, in bytes (the id of a rejected page can be
/// anything a producer sent).
const MAX_PAGE_ID_HEADER_BYTES: usize = 1024;
/// Longest list of dropped header names in [`HEADERS_DROPPED_HEADER`], in bytes.
const MAX_DROPPED_NOTE_BYTES: usize = 1024;
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

/// `text` cut at a character boundary to at most `max` bytes.
fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Bounds on the copies of a delivery (dead-letter and retry copies), so that they fit the
/// broker's limits whatever the original carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyLimits {
    /// Most bytes of encoded headers (ours and the original's) a copy may carry; a content
    /// header frame cannot be split, so this must stay well under the connection's
    /// `frame_max`. Original headers beyond it, and any nesting deeper than
    /// [`MAX_HEADER_DEPTH`], are left out and named in [`HEADERS_DROPPED_HEADER`].
    pub header_bytes: usize,
    /// Largest body a dead-letter copy carries whole; a larger one keeps its first
    /// `body_excerpt_bytes` and says so in [`BODY_TRUNCATED_HEADER`].
    pub body_bytes: usize,
    /// Bytes kept of a body over `body_bytes`.
    pub body_excerpt_bytes: usize,
}

impl CopyLimits {
    /// Limits for a connection with this negotiated `frame_max` (0 = no limit): headers up to
    /// half the frame (at most 64 KiB, at least 2 KiB), bodies up to 16 MiB (RabbitMQ's
    /// default `max_message_size`), excerpts of 64 KiB.
    pub fn for_frame_max(frame_max: u32) -> CopyLimits {
        let frame = match usize::try_from(frame_max) {
            Ok(0) | Err(_) => usize::MAX,
            Ok(n) => n,
        };
        CopyLimits {
            header_bytes: (frame / 2).clamp(2048, 64 * 1024),
            body_bytes: 16 * 1024 * 1024,
            body_excerpt_bytes: 64 * 1024,
        }
    }
}

impl Default for CopyLimits {
    /// The limits for RabbitMQ's default `frame_max` of 128 KiB.
    fn default() -> CopyLimits {
        CopyLimits::for_frame_max(131_072)
    }
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
    /// The original body's declared size when the delivery kept only its first bytes (a body
    /// over `pipeline.max_page_bytes`); the copy then keeps an excerpt and says so.
    pub declared_body_bytes: Option<u64>,
}

/// The copy of a rejected page sent to the dead-letter exchange: the original body and
/// properties, plus headers naming the error class and reason, the page id and the source queue,
/// all within `limits` (a body over `limits.body_bytes` keeps an excerpt, original headers over
/// the budget are named in [`HEADERS_DROPPED_HEADER`]).
pub fn dead_letter_message(
    properties: &BasicProperties,
    body: &[u8],
    rejection: Rejection<'_>,
    exchange: &str,
    limits: CopyLimits,
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
        headers.push((
            PAGE_ID_HEADER,
            amqp::header_str(cut(id, MAX_PAGE_ID_HEADER_BYTES)),
        ));
    }
    let received = u64::try_from(body.len()).unwrap_or(u64::MAX);
    let partial = rejection.declared_body_bytes.filter(|&n| n > received);
    let body = if partial.is_some() || body.len() > limits.body_bytes {
        let kept = limits.body_excerpt_bytes.min(body.len());
        headers.push((
            BODY_TRUNCATED_HEADER,
            amqp::header_str(&format!(
                "the body was {} bytes; this copy keeps the first {kept}",
                partial.unwrap_or(received)
            )),
        ));
        &body[..kept]
    } else {
        body
    };
    copy_of(
        properties,
        body,
        headers,
        exchange,
        rejection.source_queue,
        limits,
    )
}

/// The copy of a failed page put back at the tail of its (classic) input queue through the
/// default exchange: the original body and properties, with [`ATTEMPTS_HEADER`] = `attempts`
/// (original headers within `limits.header_bytes`).
pub fn retry_message(
    properties: &BasicProperties,
    body: &[u8],
    attempts: u32,
    input_queue: &str,
    limits: CopyLimits,
) -> OutMessage {
    let headers = vec![(ATTEMPTS_HEADER, AMQPValue::LongUInt(attempts))];
    copy_of(properties, body, headers, "", input_queue, limits)
}

/// A persistent, mandatory copy of a delivery with headers added (or replaced), the original's
/// kept within the header budget.
fn copy_of(
    properties: &BasicProperties,
    body: &[u8],
    added: Vec<(&str, AMQPValue)>,
    exchange: &str,
    routing_key: &str,
    limits: CopyLimits,
) -> OutMessage {
    let headers = fit_headers(properties.headers().as_ref(), added, limits.header_bytes);
    let properties = properties
        .clone()
        .with_delivery_mode(2)
        .with_headers(headers);
    OutMessage {
        exchange: exchange.to_owned(),
        routing_key: routing_key.to_owned(),
        body: body.to_vec(),
        properties,
        mandatory: true,
    }
}

/// Our headers (always), then the original's in key order while they fit `budget` bytes of
/// encoded table; an original header nesting deeper than [`MAX_HEADER_DEPTH`] is never copied.
/// Whatever is left out is named (up to 1 KiB of names) in [`HEADERS_DROPPED_HEADER`].
fn fit_headers(
    original: Option<&FieldTable>,
    added: Vec<(&str, AMQPValue)>,
    budget: usize,
) -> FieldTable {
    let mut headers = FieldTable::default();
    let mut used = 4usize;
    for (key, value) in added {
        used = used.saturating_add(fields::entry_len(key, &value));
        headers.insert(key.into(), value);
    }
    // Room for the note itself.
    let note_room = fields::entry_len(
        HEADERS_DROPPED_HEADER,
        &amqp::header_str(&"x".repeat(MAX_DROPPED_NOTE_BYTES + 64)),
    );
    let mut dropped: Vec<&str> = Vec::new();
    let mut dropped_bytes = 0usize;
    for (key, value) in original.map(|t| t.inner().iter()).into_iter().flatten() {
        if headers.contains_key(key.as_str()) {
            continue;
        }
        let len = fields::entry_len(key.as_str(), value);
        if fields::depth(value) <= MAX_HEADER_DEPTH
            && used.saturating_add(len).saturating_add(note_room) <= budget
        {
            used += len;
            headers.insert(key.clone(), value.clone());
        } else {
            dropped.push(key.as_str());
            dropped_bytes = dropped_bytes.saturating_add(len);
        }
    }
    if !dropped.is_empty() {
        let mut names = String::new();
        for key in &dropped {
            if names.len() + key.len() + 2 > MAX_DROPPED_NOTE_BYTES {
                names.push_str(", …");
                break;
            }
            if !names.is_empty() {
                names.push_str(", ");
            }
            names.push_str(key);
        }
        headers.insert(
            HEADERS_DROPPED_HEADER.into(),
            amqp::header_str(&format!(
                "{} original headers ({dropped_bytes} bytes) left out to fit the frame: {names}",
                dropped.len()
            )),
        );
    }
    headers
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
            declared_body_bytes: None,
        };
        let m = dead_letter_message(&original, b"{", rejection, "dlx", CopyLimits::default());
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
        let m = retry_message(&original, b"page", 2, "pages", CopyLimits::default());
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

    fn encoded_headers(m: &OutMessage) -> usize {
        m.properties.headers().as_ref().map_or(0, fields::table_len)
    }

    #[test]
    fn a_dead_letter_copy_keeps_its_headers_inside_the_budget_and_names_the_rest() {
        let mut headers = FieldTable::default();
        for i in 0..130 {
            headers.insert(
                format!("h{i:03}").into(),
                amqp::header_str(&"v".repeat(1000)),
            );
        }
        headers.insert("newspaper".into(), amqp::header_str("日报"));
        let original = BasicProperties::default().with_headers(headers);
        let huge_id = "i".repeat(200_000);
        let rejection = Rejection {
            class: "invalid_json",
            reason: "bad",
            page_id: Some(&huge_id),
            source_queue: "in",
            declared_body_bytes: None,
        };
        let limits = CopyLimits::for_frame_max(131_072);
        let m = dead_letter_message(&original, b"{", rejection, "dlx", limits);
        assert!(
            encoded_headers(&m) <= limits.header_bytes,
            "{}",
            encoded_headers(&m)
        );
        let h = m.properties.headers().as_ref().expect("headers");
        assert_eq!(
            header_text(h, ERROR_CLASS_HEADER).as_deref(),
            Some("invalid_json")
        );
        assert!(header_text(h, PAGE_ID_HEADER).is_some_and(|id| id.len() <= 1024));
        assert_eq!(
            header_text(h, "h000").map(|v| v.len()),
            Some(1000),
            "kept up to the budget"
        );
        assert_eq!(
            header_text(h, "newspaper").as_deref(),
            Some("日报"),
            "kept (key order)"
        );
        let note = header_text(h, HEADERS_DROPPED_HEADER).expect("note");
        assert!(note.contains("h129"), "{note}");
        assert!(!h.contains_key("h129"));
        let small = retry_message(&original, b"p", 1, "in", CopyLimits::for_frame_max(4096));
        assert!(
            encoded_headers(&small) <= 2048,
            "{}",
            encoded_headers(&small)
        );
        let h = small.properties.headers().as_ref().expect("headers");
        assert_eq!(header_text(h, ATTEMPTS_HEADER).as_deref(), Some("1"));
    }

    #[test]
    fn a_deep_header_is_never_copied_and_a_small_set_is_copied_whole() {
        let mut deep = FieldTable::default();
        for _ in 0..40 {
            let mut outer = FieldTable::default();
            outer.insert("n".into(), AMQPValue::FieldTable(deep));
            deep = outer;
        }
        let mut headers = FieldTable::default();
        headers.insert("deep".into(), AMQPValue::FieldTable(deep));
        headers.insert("page_id".into(), amqp::header_str("x"));
        let original = BasicProperties::default().with_headers(headers);
        let rejection = Rejection {
            class: "bad_properties",
            reason: "deep",
            page_id: None,
            source_queue: "in",
            declared_body_bytes: None,
        };
        let m = dead_letter_message(&original, b"b", rejection, "dlx", CopyLimits::default());
        let h = m.properties.headers().as_ref().expect("headers");
        assert!(!h.contains_key("deep"));
        assert!(header_text(h, HEADERS_DROPPED_HEADER).is_some_and(|n| n.contains("deep")));
        assert_eq!(header_text(h, "page_id").as_deref(), Some("x"));
        let plain = retry_message(
            &BasicProperties::default(),
            b"b",
            1,
            "in",
            CopyLimits::default(),
        );
        let h = plain.properties.headers().as_ref().expect("headers");
        assert!(
            !h.contains_key(HEADERS_DROPPED_HEADER),
            "nothing dropped, no note"
        );
    }

    #[test]
    fn a_huge_dead_letter_body_keeps_a_bounded_excerpt_and_says_so() {
        let limits = CopyLimits {
            body_bytes: 1000,
            body_excerpt_bytes: 100,
            ..CopyLimits::default()
        };
        let rejection = Rejection {
            class: "too_large",
            reason: "big",
            page_id: Some("p"),
            source_queue: "in",
            declared_body_bytes: None,
        };
        let props = BasicProperties::default();
        let whole = dead_letter_message(&props, &[7; 1000], rejection, "dlx", limits);
        assert_eq!(whole.body.len(), 1000);
        let h = whole.properties.headers().as_ref().expect("headers");
        assert!(!h.contains_key(BODY_TRUNCATED_HEADER));
        let cut = dead_letter_message(&props, &[7; 1001], rejection, "dlx", limits);
        assert_eq!(cut.body, vec![7; 100]);
        let h = cut.properties.headers().as_ref().expect("headers");
        let note = header_text(h, BODY_TRUNCATED_HEADER).expect("note");
        assert!(note.contains("1001") && note.contains("100"), "{note}");
        // A delivery that kept only its first 500 bytes of 100 MB: an excerpt, with the
        // declared size, even though what was kept would fit whole.
        let partial = Rejection {
            declared_body_bytes: Some(100_000_000),
            ..rejection
        };
        let cut = dead_letter_message(&props, &[7; 500], partial, "dlx", limits);
        assert_eq!(cut.body, vec![7; 100]);
        let h = cut.properties.headers().as_ref().expect("headers");
        let note = header_text(h, BODY_TRUNCATED_HEADER).expect("note");
        assert!(note.contains("100000000 bytes"), "{note}");
        let whole_declared = Rejection {
            declared_body_bytes: Some(500),
            ..rejection
        };
        let whole = dead_letter_message(&props, &[7; 500], whole_declared, "dlx", limits);
        assert_eq!(
            whole.body.len(),
            500,
            "a declared size that was all received"
        );
    }
}
