//! Protocol-level poison against the real binary and broker (issue 14): messages whose
//! properties the client library could not parse (a header table nested 3,000 levels, a
//! `message_id` or header key that is not UTF-8), a JSON page whose `page_id` is 200 KB, an
//! invalid page carrying ~125 KB of headers and a whitespace-only `page_id` header, mixed into
//! good pages. Every poison must be dead-lettered with its class, every good page's events must
//! arrive, no good page may be dead-lettered, and the worker must neither abort nor lose its
//! session. Needs RabbitMQ at `PAGESIFT_TEST_AMQP_URL` (default 127.0.0.1:5672).

mod support;

use std::collections::{BTreeMap, BTreeSet};

use lapin::BasicProperties;
use lapin::types::FieldTable;
use pagesift::amqp::{self, header_text, short};
use pagesift::page_file::{PageMessage, page_messages};
use pagesift::worker::{ERROR_CLASS_HEADER, ERROR_REASON_HEADER};
use support::raw_amqp::{RawProperties, RawPublisher, long_string, nested_table_value, table};
use support::{
    Names, PATIENCE, Worker, amqp_url, collect_ids, collect_until, confirm_channel, connect,
    declare, event_ids, expected_events, fixture_pages, publish_pages,
};

/// Header naming the test case of a poison message (kept by the dead-letter copy).
const CASE: &str = "case";

/// One poison message: its case name, the class it must be dead-lettered with, and how to send
/// it.
struct Poison {
    case: &'static str,
    class: &'static str,
    send: Send,
}

enum Send {
    /// Through the raw publisher, content header exactly as given.
    Raw(Vec<u8>, Vec<u8>),
    /// Through lapin.
    Lapin(Box<PageMessage>),
}

fn case_entry(case: &str) -> (&'static [u8], Vec<u8>) {
    (CASE.as_bytes(), long_string(case.as_bytes()))
}

fn poisons() -> Vec<Poison> {
    let text = "本报讯 今日召开会议。".as_bytes().to_vec();
    let mut list = vec![
        Poison {
            case: "deep-headers",
            class: "bad_properties",
            send: Send::Raw(
                RawProperties {
                    content_type: Some(b"text/plain".to_vec()),
                    headers: Some(table(&[
                        case_entry("deep-headers"),
                        (b"page_id", long_string(b"poison-deep")),
                        (b"trace", nested_table_value(3_000, b"n")),
                    ])),
                    persistent: true,
                    ..RawProperties::default()
                }
                .encode(),
                text.clone(),
            ),
        },
        Poison {
            case: "message-id-not-utf8",
            class: "bad_properties",
            send: Send::Raw(
                RawProperties {
                    content_type: Some(b"text/plain".to_vec()),
                    headers: Some(table(&[case_entry("message-id-not-utf8")])),
                    persistent: true,
                    message_id: Some(b"poison-\xff\xfe".to_vec()),
                }
                .encode(),
                text.clone(),
            ),
        },
        Poison {
            case: "header-key-not-utf8",
            class: "bad_properties",
            send: Send::Raw(
                RawProperties {
                    content_type: Some(b"text/plain".to_vec()),
                    headers: Some(table(&[
                        case_entry("header-key-not-utf8"),
                        (b"page_id", long_string(b"poison-key")),
                        (b"source-\xe9", long_string(b"x")),
                    ])),
                    persistent: true,
                    ..RawProperties::default()
                }
                .encode(),
                text.clone(),
            ),
        },
        Poison {
            case: "blank-page-id-header",
            class: "bad_page_id",
            send: Send::Raw(
                RawProperties {
                    content_type: Some(b"text/plain".to_vec()),
                    headers: Some(table(&[
                        case_entry("blank-page-id-header"),
                        (b"page_id", long_string(b" \t ")),
                    ])),
                    persistent: true,
                    ..RawProperties::default()
                }
                .encode(),
                text.clone(),
            ),
        },
    ];
    // A JSON page whose own page_id is 200 KB (too long for any event header).
    let mut headers = FieldTable::default();
    headers.insert(CASE.into(), amqp::header_str("long-page-id"));
    let body = serde_json::json!({
        "page_id": "p".repeat(200_000),
        "text": "本报讯 今日召开会议。\n\n会议部署安全生产工作。",
    });
    list.push(Poison {
        case: "long-page-id",
        class: "bad_page_id",
        send: Send::Lapin(Box::new(PageMessage {
            page_id: "poison-long".to_owned(),
            body: serde_json::to_vec(&body).expect("json"),
            properties: BasicProperties::default()
                .with_content_type(short("application/json"))
                .with_message_id(short("poison-long"))
                .with_delivery_mode(2)
                .with_headers(headers),
        })),
    });
    // An invalid page carrying ~125 KB of headers: its dead-letter copy must still fit.
    let mut headers = FieldTable::default();
    headers.insert(CASE.into(), amqp::header_str("huge-headers"));
    for i in 0..125 {
        headers.insert(
            format!("h{i:03}").into(),
            amqp::header_str(&"v".repeat(1000)),
        );
    }
    list.push(Poison {
        case: "huge-headers",
        class: "invalid_json",
        send: Send::Lapin(Box::new(PageMessage {
            page_id: "poison-headers".to_owned(),
            body: b"{\"page_id\": ".to_vec(),
            properties: BasicProperties::default()
                .with_content_type(short("application/json"))
                .with_message_id(short("poison-headers"))
                .with_delivery_mode(2)
                .with_headers(headers),
        })),
    });
    list
}

async fn run_mix(queue_type: &str) {
    let names = Names::new(&format!("poison-{queue_type}"))
        .with("PAGESIFT__AMQP__INPUT_QUEUE_TYPE", queue_type)
        .with("PAGESIFT__WORKER__CONCURRENCY", "4");
    let conn = connect().await;
    declare(&conn, &names).await;
    let good = page_messages(&fixture_pages(), 4).expect("fixture pages");
    let expected = expected_events(&names, &good);
    let want: BTreeSet<String> = expected
        .values()
        .flatten()
        .map(|e| e.event_id.clone())
        .collect();
    assert!(!want.is_empty(), "the oracle expects articles");
    let good_ids: BTreeSet<&str> = good.iter().map(|p| p.page_id.as_str()).collect();

    // Poison first, spread through the good pages, so that innocent pages are prefetched with
    // it.
    let lapin_ch = confirm_channel(&conn).await;
    let mut raw = RawPublisher::connect(&amqp_url()).await;
    let poisons = poisons();
    let chunk = good.len().div_ceil(poisons.len());
    for (poison, pages) in poisons.iter().zip(good.chunks(chunk)) {
        match &poison.send {
            Send::Raw(properties, body) => {
                raw.publish("", &names.input(), properties, body).await;
            }
            Send::Lapin(message) => {
                publish_pages(&lapin_ch, &names.input(), std::slice::from_ref(message)).await;
            }
        }
        publish_pages(&lapin_ch, &names.input(), pages).await;
    }

    let mut worker = Worker::start(&names);
    let received = collect_ids(&conn, &names.all(), &want, &BTreeSet::new()).await;
    let got = event_ids(&received);
    let dead = collect_until(&conn, &names.dlq(), |got| got.len() >= poisons.len()).await;
    let still_running = worker.child.try_wait().expect("try_wait").is_none();
    let log = worker.log_text();
    worker.stop().await;

    let missing: Vec<&String> = want.difference(&got).collect();
    assert!(still_running, "the worker died; log:\n{}", tail(&log));
    assert!(
        missing.is_empty(),
        "{} of {} events missing (after {PATIENCE:?}); log:\n{}",
        missing.len(),
        want.len(),
        tail(&log)
    );
    let mut classes: BTreeMap<String, String> = BTreeMap::new();
    for d in &dead {
        let headers = d.properties.headers().clone().unwrap_or_default();
        let class = header_text(&headers, ERROR_CLASS_HEADER).unwrap_or_default();
        let reason = header_text(&headers, ERROR_REASON_HEADER).unwrap_or_default();
        match header_text(&headers, CASE) {
            Some(case) => {
                assert!(!reason.is_empty(), "{case}: no reason");
                classes.insert(case, class);
            }
            None => {
                let id = d
                    .properties
                    .message_id()
                    .as_ref()
                    .map(|m| m.to_string())
                    .unwrap_or_default();
                assert!(
                    !good_ids.contains(id.as_str()),
                    "an innocent page was dead-lettered: {id} ({class}: {reason})"
                );
                panic!("an unknown message was dead-lettered: {id} ({class}: {reason})");
            }
        }
    }
    let want_classes: BTreeMap<String, String> = poisons
        .iter()
        .map(|p| (p.case.to_owned(), p.class.to_owned()))
        .collect();
    assert_eq!(classes, want_classes, "log:\n{}", tail(&log));
    assert!(
        !log.contains("broker session lost"),
        "no poison may cost the session; log:\n{}",
        tail(&log)
    );
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_poison_on_a_quorum_queue_is_dead_lettered_and_never_costs_the_session() {
    run_mix("quorum").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_poison_on_a_classic_queue_is_dead_lettered_and_never_costs_the_session() {
    run_mix("classic").await;
}
