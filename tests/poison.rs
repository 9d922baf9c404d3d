//! Protocol-level poison against the real binary and broker (issue 14): messages whose
//! properties the client library could not parse (a header table nested 3,000 levels, a
//! `message_id` or header key that is not UTF-8), a JSON page whose `page_id` is 200 KB, an
//! invalid page whose headers fill the default frame_max to within 64 bytes and a whitespace-only `page_id` header, mixed into
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
    Names, PATIENCE, Worker, all_ids, amqp_url, collect_ids, collect_until, confirm_channel,
    connect, declare, event_ids, expected_events, fixture_pages, publish_pages, tail,
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
    // An invalid page whose content header fills RabbitMQ's default frame_max (131,072 bytes)
    // to within 64 bytes: it can be published, but a dead-letter copy with all its headers and
    // ours added would not fit the frame; the copy must still fit.
    let mut headers = FieldTable::default();
    headers.insert(CASE.into(), amqp::header_str("huge-headers"));
    // Encoded size of a long-string header entry: key length, key, type, length, value.
    let entry = |key: &str, value: usize| 1 + key.len() + 1 + 4 + value;
    // Frame header and end (8), class, weight, body size and flags (14), content type (17),
    // message id (15), delivery mode (1), table length (4).
    let table_bytes = 131_072 - 8 - 14 - 17 - 15 - 1 - 4 - 64;
    let mut used = entry(CASE, "huge-headers".len());
    let mut i = 0;
    while used + entry("h000", 1000) <= table_bytes {
        headers.insert(
            format!("h{i:03}").into(),
            amqp::header_str(&"v".repeat(1000)),
        );
        used += entry("h000", 1000);
        i += 1;
    }
    let filler = (table_bytes - used).saturating_sub(entry("fill", 0));
    headers.insert("fill".into(), amqp::header_str(&"v".repeat(filler)));
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
    let want = all_ids(&expected);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_poison_on_a_quorum_queue_is_dead_lettered_and_never_costs_the_session() {
    run_mix("quorum").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_poison_on_a_classic_queue_is_dead_lettered_and_never_costs_the_session() {
    run_mix("classic").await;
}

/// A process's `VmRSS` or `VmHWM` from /proc, in bytes.
fn proc_status_bytes(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"));
    kib * 1024
}

const MIB: f64 = 1024.0 * 1024.0;

/// Issue 14, "memory bounded by configuration, not by producers": 100 MB page bodies, four of
/// them prefetched at once among good pages, are dead-lettered `too_large` (with a 64 KiB
/// excerpt and the declared size) without ever being buffered whole, so the worker's peak RSS
/// stays within 2 x its steady RSS + prefetch x `max_page_bytes`. A bound check on /proc
/// figures, not a timing assertion. Before the patched lapin (`Channel::set_max_body_size`)
/// each delivery buffered its whole body (and its `Vec` doubled past it): four of them took
/// ~512 MB on top of the steady RSS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_megabyte_bodies_are_dead_lettered_without_being_buffered() {
    const BIG: usize = 100_000_000;
    const COUNT: usize = 4;
    const PREFETCH: u64 = 4;
    let names = Names::new("big-bodies")
        .with("PAGESIFT__WORKER__PREFETCH", &PREFETCH.to_string())
        .with("PAGESIFT__WORKER__CONCURRENCY", "2");
    let max_page_bytes = names.settings().pipeline.max_page_bytes as u64;
    let conn = connect().await;
    declare(&conn, &names).await;
    let ch = confirm_channel(&conn).await;
    let pages = page_messages(&fixture_pages(), 6).expect("fixture pages");
    let (warm, after) = pages.split_at(pages.len() / 2);
    let expected = expected_events(&names, &pages);
    let ids = |part: &[PageMessage]| -> BTreeSet<String> {
        part.iter()
            .flat_map(|p| expected[&p.page_id].iter().map(|e| e.event_id.clone()))
            .collect()
    };
    let (want_warm, want_after) = (ids(warm), ids(after));
    assert!(
        !want_warm.is_empty() && !want_after.is_empty(),
        "the oracle expects articles"
    );

    // Steady state: the worker has processed ordinary pages.
    let mut worker = Worker::start(&names);
    let pid = worker.child.id();
    publish_pages(&ch, &names.input(), warm).await;
    let got = event_ids(&collect_ids(&conn, &names.all(), &want_warm, &BTreeSet::new()).await);
    assert!(
        want_warm.is_subset(&got),
        "warm-up pages not processed; log:\n{}",
        tail(&worker.log_text())
    );
    let steady = proc_status_bytes(pid, "VmRSS");
    // Reset the peak to the current RSS (Linux `clear_refs` 5), so the peak below is the big
    // bodies', not start-up's; without it the check is only stricter.
    let reset = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();

    // Four 100 MB JSON pages, then good pages behind them (prefetched with them).
    let mut bigs = Vec::new();
    for i in 0..COUNT {
        let id = format!("big-{i}");
        let mut body = format!("{{\"page_id\":\"{id}\",\"text\":\"").into_bytes();
        body.resize(BIG - 2, b'a' + i as u8);
        body.extend_from_slice(b"\"}");
        let properties = BasicProperties::default()
            .with_content_type(short("application/json"))
            .with_message_id(short(&id))
            .with_delivery_mode(2);
        bigs.push(PageMessage {
            page_id: id,
            body,
            properties,
        });
    }
    publish_pages(&ch, &names.input(), &bigs).await;
    publish_pages(&ch, &names.input(), after).await;
    let got = event_ids(&collect_ids(&conn, &names.all(), &want_after, &BTreeSet::new()).await);
    let dead = collect_until(&conn, &names.dlq(), |d| d.len() >= COUNT).await;
    let peak = proc_status_bytes(pid, "VmHWM");
    let still_running = worker.child.try_wait().expect("try_wait").is_none();
    let log = worker.log_text();
    worker.stop().await;

    assert!(still_running, "the worker died; log:\n{}", tail(&log));
    assert!(
        want_after.is_subset(&got),
        "good pages behind the big ones were not processed; log:\n{}",
        tail(&log)
    );
    assert_eq!(dead.len(), COUNT, "dead letters; log:\n{}", tail(&log));
    for d in &dead {
        let headers = d.properties.headers().clone().unwrap_or_default();
        let id = d
            .properties
            .message_id()
            .as_ref()
            .map(|m| m.to_string())
            .unwrap_or_default();
        let big = bigs.iter().find(|b| b.page_id == id).expect("a big page");
        assert_eq!(
            header_text(&headers, ERROR_CLASS_HEADER).as_deref(),
            Some("too_large"),
            "{id}"
        );
        let reason = header_text(&headers, ERROR_REASON_HEADER).unwrap_or_default();
        assert!(reason.contains(&BIG.to_string()), "{id}: {reason}");
        let note =
            header_text(&headers, pagesift::worker::BODY_TRUNCATED_HEADER).unwrap_or_default();
        assert!(note.contains(&format!("{BIG} bytes")), "{id}: {note:?}");
        assert_eq!(d.body.len(), 64 * 1024, "{id}: a bounded excerpt");
        assert_eq!(
            d.body[..],
            big.body[..d.body.len()],
            "{id}: the body's start"
        );
    }
    let bound = 2 * steady + PREFETCH * max_page_bytes;
    eprintln!(
        "big bodies: steady RSS {:.1} MiB, peak {:.1} MiB (peak reset: {reset}), bound 2 x steady \
         + {PREFETCH} x {:.1} MiB = {:.1} MiB",
        steady as f64 / MIB,
        peak as f64 / MIB,
        max_page_bytes as f64 / MIB,
        bound as f64 / MIB
    );
    assert!(
        peak <= bound,
        "peak RSS {:.1} MiB over the bound {:.1} MiB (steady {:.1} MiB)",
        peak as f64 / MIB,
        bound as f64 / MIB,
        steady as f64 / MIB
    );
}
