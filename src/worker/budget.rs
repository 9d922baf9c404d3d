//! The header budget of a delivery's copies: which of the original headers fit beside ours in a
//! content header frame (which cannot be split), and how large a body a copy carries whole.

use lapin::types::{AMQPValue, FieldTable};

use super::delivery::MAX_HEADER_DEPTH;
use crate::amqp::{self, fields};

/// Header listing the original headers left out of a dead-letter or retry copy to keep it
/// inside the header budget (see [`CopyLimits`]).
pub const HEADERS_DROPPED_HEADER: &str = "x-pagesift-headers-dropped";
/// Longest list of dropped header names in [`HEADERS_DROPPED_HEADER`], in bytes.
const MAX_DROPPED_NOTE_BYTES: usize = 1024;

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
    /// `body_excerpt_bytes` and says so in [`super::copy::BODY_TRUNCATED_HEADER`].
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

/// Our headers (always), then the original's in key order while they fit `budget` bytes of
/// encoded table; an original header nesting deeper than [`MAX_HEADER_DEPTH`] is never copied.
/// Whatever is left out is named (up to 1 KiB of names) in [`HEADERS_DROPPED_HEADER`].
pub(super) fn fit_headers(
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

    fn original(n: usize, value_bytes: usize) -> FieldTable {
        let mut headers = FieldTable::default();
        for i in 0..n {
            headers.insert(
                format!("h{i:02}").into(),
                amqp::header_str(&"v".repeat(value_bytes)),
            );
        }
        headers
    }

    #[test]
    fn ours_always_fit_and_the_originals_follow_in_key_order_within_the_budget() {
        let added = vec![("x-ours", amqp::header_str(&"o".repeat(3000)))];
        let fitted = fit_headers(Some(&original(10, 100)), added, 2048);
        assert_eq!(header_text(&fitted, "x-ours").map(|v| v.len()), Some(3000));
        assert!(!fitted.contains_key("h00"), "no room left after ours");
        let note = header_text(&fitted, HEADERS_DROPPED_HEADER).expect("note");
        assert!(note.starts_with("10 original headers"), "{note}");

        let budget = 4096;
        let fitted = fit_headers(Some(&original(40, 100)), Vec::new(), budget);
        assert!(
            fields::table_len(&fitted) <= budget,
            "{}",
            fields::table_len(&fitted)
        );
        let kept: Vec<&str> = fitted
            .inner()
            .keys()
            .map(|k| k.as_str())
            .filter(|k| k.starts_with('h'))
            .collect();
        let expected: Vec<String> = (0..kept.len()).map(|i| format!("h{i:02}")).collect();
        assert_eq!(kept, expected, "a prefix in key order");
        assert!(kept.len() < 40);
        let note = header_text(&fitted, HEADERS_DROPPED_HEADER).expect("note");
        assert!(note.contains("h39") && !note.contains("h00"), "{note}");
    }

    #[test]
    fn an_added_header_replaces_the_original_of_the_same_name_and_no_note_when_all_fit() {
        let mut headers = original(2, 10);
        headers.insert("x-n".into(), AMQPValue::LongUInt(1));
        let fitted = fit_headers(Some(&headers), vec![("x-n", AMQPValue::LongUInt(2))], 4096);
        assert_eq!(header_text(&fitted, "x-n").as_deref(), Some("2"));
        assert!(fitted.contains_key("h00") && fitted.contains_key("h01"));
        assert!(!fitted.contains_key(HEADERS_DROPPED_HEADER));
        let none = fit_headers(None, Vec::new(), 4096);
        assert!(none.inner().is_empty());
    }

    #[test]
    fn copy_limits_follow_the_frame_size() {
        assert_eq!(CopyLimits::default().header_bytes, 64 * 1024);
        assert_eq!(CopyLimits::for_frame_max(4096).header_bytes, 2048);
        assert_eq!(
            CopyLimits::for_frame_max(1000).header_bytes,
            2048,
            "at least 2 KiB"
        );
        assert_eq!(
            CopyLimits::for_frame_max(0).header_bytes,
            64 * 1024,
            "no limit"
        );
    }
}
