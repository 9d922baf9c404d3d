//! The carried AMQP parser fix (`patches/amq-protocol-types`), through the same
//! `basic::parse_properties` lapin's I/O thread calls on every content header: no property list
//! a producer can send overflows the stack or fails the frame, and the worker's
//! `property_problem` recognises what was read lossily. No broker needed.

mod support;

use lapin::protocol::basic::{gen_properties, parse_properties};
use lapin::types::{AMQPValue, FieldTable};
use pagesift::amqp::fields;
use pagesift::worker::property_problem;
use support::raw_amqp::{RawProperties, long_string, nested_table_value, table};

/// The stack of lapin's `lapin-io-loop` thread (a `std::thread` with the default size).
const IO_LOOP_STACK: usize = 2 * 1024 * 1024;

/// Parses a property list on a thread with half the I/O thread's stack, so that a pass shows a
/// margin of two even in a debug build (a release build needs far less; a stack overflow aborts
/// the test binary: a failure all the same).
fn parse_on_small_stack(bytes: Vec<u8>) -> lapin::BasicProperties {
    std::thread::Builder::new()
        .stack_size(IO_LOOP_STACK / 2)
        .spawn(move || match parse_properties(&bytes[..]) {
            Ok((rest, properties)) => {
                assert!(rest.is_empty(), "{} bytes left", rest.len());
                properties
            }
            Err(e) => panic!("the property list did not parse: {e}"),
        })
        .expect("thread")
        .join()
        .expect("parsed without panicking")
}

fn headers_of(p: &lapin::BasicProperties) -> &FieldTable {
    p.headers().as_ref().expect("headers")
}

#[test]
fn the_deepest_table_a_128_kib_frame_holds_parses_within_a_bounded_stack() {
    // One level costs 6 bytes with an empty key: 21,800 levels fill a 128 KiB frame.
    for levels in [3_000, 21_800] {
        let headers = table(&[(b"deep", nested_table_value(levels, b""))]);
        let bytes = RawProperties {
            headers: Some(headers),
            message_id: Some(b"m-1".to_vec()),
            ..RawProperties::default()
        }
        .encode();
        assert!(bytes.len() < 131_072);
        let properties = parse_on_small_stack(bytes);
        let deep = headers_of(&properties).inner().get("deep").expect("kept");
        let depth = fields::depth(deep);
        assert_eq!(
            depth,
            lapin::types::parsing::MAX_NESTING_DEPTH,
            "nesting below the bound is kept as bytes"
        );
        assert_eq!(
            properties.message_id().as_ref().map(|m| m.as_str()),
            Some("m-1"),
            "the properties after the table are read"
        );
        let reason = property_problem(&properties).expect("poison");
        assert!(reason.contains("\"deep\""), "{reason}");
        // What was parsed can be encoded again (the dead-letter copy leaves it out, but a
        // re-encode must not fail or recurse without bound either).
        let mut buffer = vec![0u8; 256 * 1024];
        let written = std::thread::Builder::new()
            .stack_size(IO_LOOP_STACK / 2)
            .spawn(move || {
                cookie_factory::r#gen(gen_properties(&properties), &mut buffer[..])
                    .map(|(_, n)| n)
                    .is_ok()
            })
            .expect("thread")
            .join()
            .expect("encoded without panicking");
        assert!(written);
    }
}

#[test]
fn an_ordinary_nested_header_is_parsed_as_tables() {
    let headers = table(&[
        (b"x-death", {
            let mut v = vec![b'A'];
            let inner = table(&[(b"queue", long_string(b"pages"))]);
            let mut array = vec![b'F'];
            array.extend_from_slice(&inner);
            v.extend_from_slice(&u32::try_from(array.len()).expect("len").to_be_bytes());
            v.extend_from_slice(&array);
            v
        }),
        (b"nested", nested_table_value(10, b"n")),
    ]);
    let properties = parse_on_small_stack(
        RawProperties {
            headers: Some(headers),
            ..RawProperties::default()
        }
        .encode(),
    );
    let h = headers_of(&properties);
    assert_eq!(fields::depth(h.inner().get("nested").expect("nested")), 10);
    assert!(matches!(
        h.inner().get("x-death"),
        Some(AMQPValue::FieldArray(_))
    ));
    assert_eq!(property_problem(&properties), None);
}

#[test]
fn short_strings_that_are_not_utf8_are_read_lossily_and_flagged() {
    let properties = parse_on_small_stack(
        RawProperties {
            message_id: Some(b"page-\xff\xfe-1".to_vec()),
            ..RawProperties::default()
        }
        .encode(),
    );
    let id = properties.message_id().as_ref().expect("message_id");
    assert_eq!(id.as_str(), "page-\u{fffd}\u{fffd}-1");
    assert!(property_problem(&properties).is_some_and(|r| r.contains("message_id")));

    // 255 invalid bytes would become 765 bytes of U+FFFD: cut to the short-string limit.
    let properties = parse_on_small_stack(
        RawProperties {
            message_id: Some(vec![0xff; 255]),
            content_type: Some(b"text/plain".to_vec()),
            ..RawProperties::default()
        }
        .encode(),
    );
    let id = properties.message_id().as_ref().expect("message_id");
    assert!(id.as_str().len() <= 255);
    assert!(id.as_str().chars().all(|c| c == '\u{fffd}'));
    assert_eq!(
        properties.content_type().as_ref().map(|c| c.as_str()),
        Some("text/plain")
    );

    let properties = parse_on_small_stack(
        RawProperties {
            headers: Some(table(&[
                (b"page_id", long_string(b"p-1")),
                (b"key-\xc3", long_string(b"v")),
            ])),
            ..RawProperties::default()
        }
        .encode(),
    );
    let h = headers_of(&properties);
    assert!(h.contains_key("key-\u{fffd}"));
    assert!(property_problem(&properties).is_some_and(|r| r.contains("header key")));
}

#[test]
fn a_table_that_cannot_be_parsed_is_kept_as_bytes_and_the_frame_reads_on() {
    // An unknown field type (`Z`) in a nested table, then in the headers table itself.
    let mut nested = vec![b'F'];
    nested.extend_from_slice(&table(&[(b"odd", b"Z\x01\x02".to_vec())]));
    for headers in [
        table(&[(b"page_id", long_string(b"p")), (b"meta", nested)]),
        table(&[(b"page_id", long_string(b"p")), (b"odd", b"Z\x01".to_vec())]),
    ] {
        let properties = parse_on_small_stack(
            RawProperties {
                headers: Some(headers),
                message_id: Some(b"after".to_vec()),
                ..RawProperties::default()
            }
            .encode(),
        );
        assert_eq!(
            properties.message_id().as_ref().map(|m| m.as_str()),
            Some("after")
        );
        let reason = property_problem(&properties).expect("poison");
        assert!(reason.contains("could not be parsed"), "{reason}");
    }
}
