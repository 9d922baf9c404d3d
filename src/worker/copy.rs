//! The copies of a delivery the worker publishes (pure): the dead-letter copy of a rejected
//! page, with headers naming the error, and the retry copy of a failing page on a classic queue,
//! with its attempts counted. Both keep the original body and properties within
//! [`CopyLimits`] (see [`super::budget`]).

use lapin::BasicProperties;
use lapin::types::AMQPValue;

use super::budget::{CopyLimits, fit_headers};
use crate::amqp::{self, OutMessage, cut};

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
/// Header saying that a dead-letter copy carries only the start of the original body.
pub const BODY_TRUNCATED_HEADER: &str = "x-pagesift-body-truncated";
/// Longest error reason put in a header, in characters.
const MAX_REASON_CHARS: usize = 1000;
/// Longest page id put in a dead-letter header, in bytes (the id of a rejected page can be
/// anything a producer sent).
const MAX_PAGE_ID_HEADER_BYTES: usize = 1024;

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
/// the budget are named in [`super::budget::HEADERS_DROPPED_HEADER`]).
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

#[cfg(test)]
mod tests {
    use super::super::budget::HEADERS_DROPPED_HEADER;
    use super::*;
    use crate::amqp::{fields, header_text, short};
    use lapin::types::FieldTable;

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
