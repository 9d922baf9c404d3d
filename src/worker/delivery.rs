//! Reading a delivery's properties: the pipeline's [`Hints`] (content type, charset, page id,
//! metadata headers) and the failed attempts counted so far. Pure: properties in, values out.

use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable};

use super::encode::ATTEMPTS_HEADER;
use crate::amqp;
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
