//! A message the client library still cannot read (issue 14), against the real binary and
//! broker: a relay between the worker and the broker breaks the content header of every
//! message marked [`UNREADABLE_MARK`] (see `support/frame_relay.rs`), so each delivery of it
//! costs the worker its consuming connection, as a frame lapin cannot parse does.
//!
//! - The session set-up after such a loss must never wait forever on the dead connection (nor
//!   ignore SIGTERM meanwhile): the poison is dead-lettered by the quorum queue's delivery
//!   limit, every good page's events arrive, and SIGTERM stops the worker.
//! - Isolation at prefetch > 1: after the loss the worker consumes with prefetch 1 until
//!   `prefetch` pages have settled, so only the poison's delivery count rises (read off the
//!   wire by the relay); no innocent page is charged more than the one loss the poison caused
//!   while they were prefetched together, and none is dead-lettered.
//!
//! Needs RabbitMQ at `PAGESIFT_TEST_AMQP_URL` (default 127.0.0.1:5672).

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use lapin::BasicProperties;
use lapin::types::FieldTable;
use pagesift::amqp::{self, header_text, short};
use pagesift::page_file::{PageMessage, page_messages};
use pagesift::worker::ERROR_CLASS_HEADER;
use support::frame_relay::{FrameRelay, UNREADABLE_MARK};
use support::{
    Names, Received, Worker, all_ids, amqp_url, collect_until_idle, confirm_channel, connect,
    declare, event_ids, expected_events, fixture_pages, publish_pages, tail,
};

/// Longest the worker may make no progress before the test calls it stalled (a failure bound,
/// far above the reconnect backoff; not a timing assertion).
const STALL: Duration = Duration::from_secs(60);

/// Longest SIGTERM may take to stop the worker (shutdown grace 2 s, close timeouts 2 s each).
const EXIT: Duration = Duration::from_secs(20);

fn broker_addr() -> SocketAddr {
    let url = url::Url::parse(&amqp_url()).expect("broker URL");
    let host = match url.host_str().unwrap_or("127.0.0.1") {
        "localhost" => "127.0.0.1",
        h => h,
    };
    format!("{host}:{}", url.port().unwrap_or(5672))
        .parse()
        .expect("broker address")
}

fn via(addr: SocketAddr) -> String {
    let mut url = url::Url::parse(&amqp_url()).expect("broker URL");
    url.set_host(Some(&addr.ip().to_string())).expect("host");
    url.set_port(Some(addr.port())).expect("port");
    url.to_string()
}

/// A text page the relay makes unreadable.
fn poison(id: &str) -> PageMessage {
    let mut headers = FieldTable::default();
    headers.insert(UNREADABLE_MARK.into(), amqp::header_str("1"));
    headers.insert("page_id".into(), amqp::header_str(id));
    PageMessage {
        page_id: id.to_owned(),
        body: "本报讯 今日召开会议。".as_bytes().to_vec(),
        properties: BasicProperties::default()
            .with_content_type(short("text/plain"))
            .with_message_id(short(id))
            .with_delivery_mode(2)
            .with_headers(headers),
    }
}

struct Run {
    got: BTreeSet<String>,
    dead: Vec<Received>,
    log: String,
    exited: Option<std::process::ExitStatus>,
    relay: FrameRelay,
}

/// Publishes `pages` (the poisons among them) to a quorum input queue, runs one worker through
/// the relay with `prefetch`, waits for every expected event and for `poisons` dead letters,
/// then sends SIGTERM and waits up to [`EXIT`].
async fn run(test: &str, prefetch: u16, pages: &[PageMessage], poisons: usize) -> Run {
    let relay = FrameRelay::start(broker_addr()).await;
    let names = Names::new(test)
        .with("PAGESIFT__AMQP__URL", &via(relay.addr))
        .with("PAGESIFT__AMQP__INPUT_QUEUE_TYPE", "quorum")
        .with("PAGESIFT__AMQP__RECONNECT_INITIAL_MS", "50")
        .with("PAGESIFT__AMQP__RECONNECT_MAX_MS", "400")
        .with("PAGESIFT__WORKER__PREFETCH", &prefetch.to_string())
        .with("PAGESIFT__WORKER__CONCURRENCY", "2");
    let conn = connect().await;
    declare(&conn, &names).await;
    let good: Vec<PageMessage> = pages
        .iter()
        .filter(|p| {
            header_text(
                p.properties
                    .headers()
                    .as_ref()
                    .unwrap_or(&FieldTable::default()),
                UNREADABLE_MARK,
            )
            .is_none()
        })
        .cloned()
        .collect();
    let want = all_ids(&expected_events(&names, &good));
    assert!(!want.is_empty(), "the oracle expects articles");
    let ch = confirm_channel(&conn).await;
    publish_pages(&ch, &names.input(), pages).await;

    let mut worker = Worker::start(&names);
    let began = Instant::now();
    let mut remaining = want.clone();
    let mut seen = 0;
    let received = collect_until_idle(&conn, &names.all(), STALL, |got| {
        for r in &got[seen..] {
            if let Some(id) = r.properties.message_id() {
                remaining.remove(id.as_str());
            }
        }
        seen = got.len();
        remaining.is_empty()
    })
    .await;
    let dead = collect_until_idle(&conn, &names.dlq(), STALL, |d| d.len() >= poisons).await;
    eprintln!(
        "{test}: {} of {} events, {} dead letters after {:.1} s; relay: {} connections, {} \
         headers broken",
        event_ids(&received).intersection(&want).count(),
        want.len(),
        dead.len(),
        began.elapsed().as_secs_f64(),
        relay.accepted(),
        relay.broken()
    );
    worker.terminate();
    let deadline = Instant::now() + EXIT;
    let exited = loop {
        if let Some(status) = worker.child.try_wait().expect("try_wait") {
            break Some(status);
        }
        if Instant::now() >= deadline {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let log = worker.log_text();
    let got = event_ids(&received);
    let missing = want.difference(&got).count();
    assert_eq!(
        missing,
        0,
        "{missing} of {} events missing: the worker stalled (no event for {STALL:?}); relay: {} \
         connections, {} headers broken; log:\n{}",
        want.len(),
        relay.accepted(),
        relay.broken(),
        tail(&log)
    );
    Run {
        got,
        dead,
        log,
        exited,
        relay,
    }
}

fn assert_exited(run: &Run) {
    match run.exited {
        Some(status) => assert!(
            status.success(),
            "exited with {status}; log:\n{}",
            tail(&run.log)
        ),
        None => panic!(
            "the worker ignored SIGTERM for {EXIT:?}; log:\n{}",
            tail(&run.log)
        ),
    }
}

/// Every dead letter is one of `poisons` (by message id), and each poison is there.
fn assert_only_poison_dead(run: &Run, poisons: &[&str]) {
    let dead: BTreeSet<String> = event_ids(&run.dead);
    let want: BTreeSet<String> = poisons.iter().map(|p| (*p).to_owned()).collect();
    for d in &run.dead {
        let id = d.message_id().unwrap_or_default();
        let class = d
            .properties
            .headers()
            .as_ref()
            .and_then(|h| header_text(h, ERROR_CLASS_HEADER))
            .unwrap_or_default();
        assert!(
            want.contains(&id),
            "an innocent page was dead-lettered: {id} ({class}); log:\n{}",
            tail(&run.log)
        );
    }
    assert_eq!(dead, want, "dead letters; log:\n{}", tail(&run.log));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_message_at_the_head_of_the_queue_never_hangs_the_session_setup() {
    let mut pages = vec![poison("poison-head")];
    pages.extend(page_messages(&fixture_pages(), 2).expect("fixture pages"));
    let run = run("unreadable-head", 8, &pages, 1).await;
    assert_exited(&run);
    assert_only_poison_dead(&run, &["poison-head"]);
    assert!(run.relay.broken() > 0, "the relay broke no header");
    assert!(!run.got.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_prefetch_8_only_the_unreadable_message_is_charged_and_dead_lettered() {
    const PREFETCH: u16 = 8;
    let good = page_messages(&fixture_pages(), 3).expect("fixture pages");
    // The poison among the first prefetch window, innocent pages on both sides of it.
    let mut pages = good[..3].to_vec();
    pages.push(poison("poison-mid"));
    pages.extend_from_slice(&good[3..]);
    let run = run("unreadable-prefetch", PREFETCH, &pages, 1).await;
    assert_exited(&run);
    assert_only_poison_dead(&run, &["poison-mid"]);
    let seen = run.relay.seen();
    let charged = |id: &str| seen.get(id).map_or(0, |s| s.max_delivery_count);
    // The quorum queue's limit (amqp.delivery_limit = 5) dead-letters the poison only after it
    // was returned that many times: every one of those losses is the poison's.
    let limit = i64::from(Names::new("limit").settings().amqp.delivery_limit);
    assert!(
        charged("poison-mid") >= limit,
        "the poison was returned {} times, the limit is {limit}; seen {seen:?}",
        charged("poison-mid")
    );
    // The first loss returns the innocent pages prefetched with the poison (count 1); no later
    // loss may return them again.
    let over: Vec<(String, Vec<(u64, i64)>)> = good
        .iter()
        .filter(|p| charged(&p.page_id) > 1)
        .map(|p| (p.page_id.clone(), seen[&p.page_id].history.clone()))
        .collect();
    assert!(
        over.is_empty(),
        "innocent pages charged for the poison more than once (relay connection, x-delivery-count): \
         {over:?}; the poison: {:?}; log:\n{}",
        seen.get("poison-mid").map(|s| s.history.clone()),
        tail(&run.log)
    );
    let once = good.iter().filter(|p| charged(&p.page_id) == 1).count();
    eprintln!(
        "unreadable-prefetch: poison returned {} times; {once} innocent pages returned once (the \
         first loss), none more",
        charged("poison-mid")
    );
    assert!(
        once < usize::from(PREFETCH),
        "more innocent pages charged than one prefetch window holds: {once}"
    );
}
