//! Reading a delivery's properties: the pipeline's [`Hints`] (content type, charset, page id,
//! metadata headers), the failed attempts counted so far, and whether the properties themselves
//! are poison ([`property_problem`]). Pure: properties in, values out.

use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable, ShortString};

use super::copy::ATTEMPTS_HEADER;
use crate::amqp::{self, fields};
use crate::model::PageMeta;
use crate::pipeline::Hints;

/// The pipeline's hints from a message's properties: content type, `charset` (header or
/// content-encoding), page id (`page_id` header, else `message_id`) and metadata headers
/// (`newspaper`, `edition_date`, `page_no`, `source_url`).
pub fn hints_from_properties(properties: &BasicProperties) -> Hints {
    let empty = FieldTable::default();
    let headers = properties.headers().as_ref().unwrap_or(&empty);
    let header = |key: &str| amqp::header_text(headers, key).filter(|v| !v.is_empty());
    Hints {
        content_type: properties
            .content_type()
            .as_ref()
            .map(|c| c.as_str().to_owned()),
        charset: header("charset").or_else(|| {
            properties
                .content_encoding()
                .as_ref()
                .map(|c| c.as_str().to_owned())
                .filter(|c| !c.is_empty())
        }),
        page_id: header("page_id").or_else(|| {
            properties
                .message_id()
                .as_ref()
                .map(|m| m.as_str().to_owned())
                .filter(|m| !m.is_empty())
        }),
        meta: PageMeta {
            newspaper: header("newspaper"),
            edition_date: header("edition_date"),
            page_no: header("page_no"),
            source_url: header("source_url"),
        },
    }
}

/// Error class of a page whose message properties are poison (see [`property_problem`]).
pub const BAD_PROPERTIES_CLASS: &str = "bad_properties";

/// Deepest nesting of tables and arrays a header may have. The parser keeps anything deeper than
/// `amq_protocol_types::parsing::MAX_NESTING_DEPTH` (64) unparsed; producers' real headers
/// (`x-death` included) nest two or three levels.
pub const MAX_HEADER_DEPTH: usize = 16;

/// Why a message's properties make it poison, if they do: a short-string property or a header
/// key that was not UTF-8 on the wire (the patched parser reads it with U+FFFD in place of the
/// invalid bytes), a table the parser could not read (kept as bytes under
/// [`fields::UNPARSED_TABLE_KEY`]), or a header nesting deeper than [`MAX_HEADER_DEPTH`]. Such a page is
/// dead-lettered with class [`BAD_PROPERTIES_CLASS`] and this reason, never processed: its id
/// or metadata cannot be trusted, and consumers of our events would choke on the same bytes.
pub fn property_problem(properties: &BasicProperties) -> Option<String> {
    let short: [(&str, &Option<ShortString>); 10] = [
        ("message_id", properties.message_id()),
        ("correlation_id", properties.correlation_id()),
        ("content_type", properties.content_type()),
        ("content_encoding", properties.content_encoding()),
        ("reply_to", properties.reply_to()),
        ("expiration", properties.expiration()),
        ("type", properties.kind()),
        ("user_id", properties.user_id()),
        ("app_id", properties.app_id()),
        ("cluster_id", properties.cluster_id()),
    ];
    for (name, value) in short {
        if value
            .as_ref()
            .is_some_and(|v| v.as_str().contains(fields::REPLACEMENT))
        {
            return Some(format!("the {name} property is not valid UTF-8"));
        }
    }
    let headers = properties.headers().as_ref()?;
    for (key, value) in headers.inner() {
        if key.as_str() == fields::UNPARSED_TABLE_KEY {
            return Some("the headers table could not be parsed".to_owned());
        }
        if let Some(path) = fields::unparsed_table(value) {
            return Some(format!(
                "header {:?} holds a table that could not be parsed (at {path:?})",
                key.as_str()
            ));
        }
        if key.as_str().contains(fields::REPLACEMENT) {
            return Some(format!("header key {:?} is not valid UTF-8", key.as_str()));
        }
        let depth = fields::depth(value);
        if depth > MAX_HEADER_DEPTH {
            return Some(format!(
                "header {:?} nests {depth} levels of tables or arrays (at most \
                 {MAX_HEADER_DEPTH} accepted)",
                key.as_str()
            ));
        }
        if let Some(path) = fields::lossy_key(value) {
            return Some(format!("header key {path:?} is not valid UTF-8"));
        }
    }
    None
}

/// Failed attempts before this delivery, from the worker's own [`ATTEMPTS_HEADER`] (written on
/// the retry copies of classic queues); 0 when absent or not a non-negative integer.
pub fn previous_attempts(properties: &BasicProperties) -> u32 {
    let Some(value) = properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get(ATTEMPTS_HEADER))
    else {
        return 0;
    };
    let n = match value {
        AMQPValue::ShortShortUInt(n) => i64::from(*n),
        AMQPValue::ShortUInt(n) => i64::from(*n),
        AMQPValue::LongUInt(n) => i64::from(*n),
        AMQPValue::ShortShortInt(n) => i64::from(*n),
        AMQPValue::ShortInt(n) => i64::from(*n),
        AMQPValue::LongInt(n) => i64::from(*n),
        AMQPValue::LongLongInt(n) => *n,
        _ => 0,
    };
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::amqp::short;

    #[test]
    fn hints_come_from_headers_then_message_properties() {
        let mut headers = FieldTable::default();
        headers.insert("newspaper".into(), amqp::header_str("日报"));
        headers.insert("charset".into(), amqp::header_str("gbk"));
        let props = BasicProperties::default()
            .with_content_type(short("text/plain"))
            .with_message_id(short("m-1"))
            .with_headers(headers.clone());
        let hints = hints_from_properties(&props);
        assert_eq!(hints.page_id.as_deref(), Some("m-1"));
        assert_eq!(hints.charset.as_deref(), Some("gbk"));
        assert_eq!(hints.meta.newspaper.as_deref(), Some("日报"));
        assert_eq!(hints.content_type.as_deref(), Some("text/plain"));
        headers.insert("page_id".into(), amqp::header_str("p-9"));
        let hints = hints_from_properties(&props.with_headers(headers));
        assert_eq!(hints.page_id.as_deref(), Some("p-9"), "the header wins");
        assert_eq!(
            hints_from_properties(&BasicProperties::default()),
            Hints::default()
        );
    }

    #[test]
    fn lossy_properties_and_deep_headers_are_poison_and_ordinary_ones_are_not() {
        let ordinary = {
            let mut headers = FieldTable::default();
            headers.insert("page_id".into(), amqp::header_str("p"));
            let mut death = FieldTable::default();
            death.insert("queue".into(), amqp::header_str("pages"));
            let mut deaths = lapin::types::FieldArray::default();
            deaths.push(AMQPValue::FieldTable(death));
            headers.insert("x-death".into(), AMQPValue::FieldArray(deaths));
            BasicProperties::default()
                .with_message_id(short("页-1"))
                .with_headers(headers)
        };
        assert_eq!(property_problem(&ordinary), None);
        assert_eq!(property_problem(&BasicProperties::default()), None);
        let lossy_id = ordinary.clone().with_message_id(short("p\u{fffd}1"));
        assert!(property_problem(&lossy_id).is_some_and(|r| r.contains("message_id")));
        let lossy_type = ordinary.clone().with_type(short("\u{fffd}"));
        assert!(property_problem(&lossy_type).is_some_and(|r| r.contains("type")));
        let mut headers = FieldTable::default();
        headers.insert("a\u{fffd}".into(), AMQPValue::Boolean(true));
        let lossy_key = ordinary.clone().with_headers(headers);
        assert!(property_problem(&lossy_key).is_some_and(|r| r.contains("header key")));
        let mut deep = FieldTable::default();
        for _ in 0..MAX_HEADER_DEPTH {
            let mut outer = FieldTable::default();
            outer.insert("n".into(), AMQPValue::FieldTable(deep));
            deep = outer;
        }
        let at_limit = ordinary.clone().with_headers(deep.clone());
        assert_eq!(
            property_problem(&at_limit),
            None,
            "{MAX_HEADER_DEPTH} levels pass"
        );
        let mut deeper = FieldTable::default();
        deeper.insert("n".into(), AMQPValue::FieldTable(deep));
        let over = ordinary.with_headers(deeper);
        assert!(property_problem(&over).is_some_and(|r| r.contains("nests 17 levels")));
    }

    #[test]
    fn attempts_are_read_from_any_integer_header_and_default_to_zero() {
        let with = |value: AMQPValue| {
            let mut headers = FieldTable::default();
            headers.insert(ATTEMPTS_HEADER.into(), value);
            previous_attempts(&BasicProperties::default().with_headers(headers))
        };
        assert_eq!(previous_attempts(&BasicProperties::default()), 0);
        assert_eq!(with(AMQPValue::LongUInt(3)), 3);
        assert_eq!(
            with(AMQPValue::LongLongInt(4)),
            4,
            "as other clients write it"
        );
        assert_eq!(with(AMQPValue::ShortShortUInt(2)), 2);
        assert_eq!(with(AMQPValue::LongInt(-1)), 0, "never negative");
        assert_eq!(with(AMQPValue::LongLongInt(i64::MAX)), u32::MAX);
        assert_eq!(with(amqp::header_str("5")), 0, "not a number");
    }
}
