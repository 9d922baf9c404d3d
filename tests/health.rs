//! Connection health and damaged topology against the real binary (issue 14): a refused worker
//! exits non-zero with the broker's reason; SIGTERM while connecting exits at once; a half-open
//! connection turns the worker not-ready, also one that still passes heartbeats; a missing output exchange with `amqp.declare = false`
//! means not-ready and no consuming (not a reconnect storm that dead-letters every page); a
//! dead-letter queue deleted mid-run is declared again and loses no bad page. Needs RabbitMQ at
//! `PAGESIFT_TEST_AMQP_URL` (default 127.0.0.1:5672).

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use lapin::BasicProperties;
use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
use pagesift::amqp::{header_text, short};
use pagesift::page_file::page_messages;
use pagesift::worker::ERROR_CLASS_HEADER;
use support::frame_relay::FrameRelay;
use support::{
    Names, PATIENCE, Worker, all_ids, amqp_url, collect_ids, collect_until, confirm_channel,
    connect, declare, event_ids, expected_events, fixture_pages, publish_pages, publish_raw,
    ready_count, tail,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Fast reconnects, so that the tests see several attempts quickly.
fn quick(names: Names) -> Names {
    names
        .with("PAGESIFT__AMQP__RECONNECT_INITIAL_MS", "50")
        .with("PAGESIFT__AMQP__RECONNECT_MAX_MS", "400")
}

async fn wait_for(what: &str, worker: &Worker, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done().await {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen; log:\n{}",
            tail(&worker.log_text())
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn broker_addr() -> SocketAddr {
    let url = url::Url::parse(&amqp_url()).expect("broker URL");
    let host = url.host_str().unwrap_or("127.0.0.1");
    let host = if host == "localhost" {
        "127.0.0.1"
    } else {
        host
    };
    format!("{host}:{}", url.port().unwrap_or(5672))
        .parse()
        .expect("broker address")
}

fn with_port(url: &str, addr: SocketAddr) -> String {
    let mut url = url::Url::parse(url).expect("broker URL");
    url.set_host(Some(&addr.ip().to_string())).expect("host");
    url.set_port(Some(addr.port())).expect("port");
    url.to_string()
}

/// Whether the log shows the consumer started.
fn consumed(log: &str) -> bool {
    log.lines()
        .any(|l| l.contains(" consuming") && !l.contains("not consuming"))
}

/// Whether `queue` exists (a passive declare on a channel of its own).
async fn exists(conn: &lapin::Connection, queue: &str) -> bool {
    let Ok(ch) = conn.create_channel().await else {
        return false;
    };
    let found = ch
        .queue_declare(
            queue.into(),
            lapin::options::QueueDeclareOptions {
                passive: true,
                ..lapin::options::QueueDeclareOptions::default()
            },
            lapin::types::FieldTable::default(),
        )
        .await
        .is_ok();
    if found {
        let _ = ch.close(200, "ok".into()).await;
    }
    found
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_worker_stops_with_a_non_zero_exit_and_the_reason() {
    let names = Names::new("refused");
    let mut url = url::Url::parse(&amqp_url()).expect("broker URL");
    url.set_password(Some("not-the-password"))
        .expect("password");
    let names = quick(names).with("PAGESIFT__AMQP__URL", url.as_str());
    let mut worker = Worker::start(&names);
    let status = worker.wait().await;
    let log = worker.log_text();
    assert!(
        !status.success(),
        "exited with {status}; log:\n{}",
        tail(&log)
    );
    assert!(
        log.contains("refused the worker 5 times"),
        "log:\n{}",
        tail(&log)
    );
    assert!(!log.contains("not-the-password"), "the password leaked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_the_handshake_hangs_exits_at_once() {
    // A "broker" that accepts and never answers: the handshake hangs until its timeout.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let addr = listener.local_addr().expect("addr");
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            open.push(s);
        }
    });
    let names = Names::new("sigterm")
        .with("PAGESIFT__AMQP__URL", &with_port(&amqp_url(), addr))
        .with("PAGESIFT__AMQP__CONNECT_TIMEOUT_SECONDS", "120");
    let mut worker = Worker::start(&names);
    wait_for("the connect attempt", &worker, async || {
        worker.log_text().contains("connecting to the broker")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let asked = Instant::now();
    worker.terminate();
    let status = worker.wait().await;
    let took = asked.elapsed();
    held.abort();
    println!("exit after SIGTERM while connecting: {took:?}");
    assert!(
        status.success(),
        "{status}; log:\n{}",
        tail(&worker.log_text())
    );
    assert!(
        took < Duration::from_secs(60),
        "waited for the 120 s handshake timeout ({took:?})"
    );
}

/// A relay that forwards until told to stall, then keeps its sockets open and forwards nothing
/// (a half-open path: a peer or middlebox that stopped forwarding).
struct StallingRelay {
    addr: SocketAddr,
    stalled: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl StallingRelay {
    async fn start(upstream: SocketAddr) -> StallingRelay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("relay");
        let addr = listener.local_addr().expect("addr");
        let stalled = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stalled);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(upstream).await else {
                    continue;
                };
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                tokio::spawn(pump(cr, sw, Arc::clone(&flag)));
                tokio::spawn(pump(sr, cw, Arc::clone(&flag)));
            }
        });
        StallingRelay {
            addr,
            stalled,
            task,
        }
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    stalled: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if stalled.load(Ordering::SeqCst) {
            // Hold both sockets open, forward nothing, read nothing.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        match tokio::time::timeout(Duration::from_millis(50), from.read(&mut buf)).await {
            Err(_) => continue,
            Ok(Ok(0) | Err(_)) => return,
            Ok(Ok(n)) => {
                if stalled.load(Ordering::SeqCst) {
                    // Data read while stalling is dropped, as a dead path would.
                    continue;
                }
                if to.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_open_connection_turns_the_worker_not_ready_within_two_heartbeats() {
    let relay = StallingRelay::start(broker_addr()).await;
    let port = free_port();
    let http: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let names = quick(Names::new("halfopen"))
        .with("PAGESIFT__AMQP__URL", &with_port(&amqp_url(), relay.addr))
        .with("PAGESIFT__AMQP__HEARTBEAT_SECONDS", "4")
        .with("PAGESIFT__HTTP__ENABLED", "true")
        .with("PAGESIFT__HTTP__LISTEN", &http.to_string());
    let worker = Worker::start(&names);
    let ready = async || matches!(pagesift::http::get(http, "/readyz").await, Ok((200, _)));
    wait_for("readiness", &worker, ready).await;
    relay.stalled.store(true, Ordering::SeqCst);
    let stalled_at = Instant::now();
    wait_for("not-ready after the stall", &worker, async || {
        !ready().await
    })
    .await;
    let took = stalled_at.elapsed();
    println!("not ready {took:?} after the path stalled (heartbeat 4 s)");
    assert!(
        matches!(pagesift::http::get(http, "/healthz").await, Ok((200, _))),
        "alive all the same"
    );
    assert!(
        took < Duration::from_secs(20),
        "readiness stayed up {took:?} on a dead path"
    );
    relay.stalled.store(false, Ordering::SeqCst);
    wait_for("readiness again", &worker, ready).await;
    relay.task.abort();
}

/// The path keeps passing heartbeat frames (both ways) and nothing else — a broker whose
/// connection process still beats while its channels answer nothing, or a proxy that does the
/// same. The client library's own heartbeat check sees frames and never ends the connection, so
/// only the worker's broker watch (a probe every half heartbeat, each allowed one and a half)
/// can turn it not-ready: within two heartbeats of the last answer, plus the probe's period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_that_passes_only_heartbeats_turns_the_worker_not_ready_within_two_heartbeats() {
    const HEARTBEAT: u64 = 4;
    let relay = FrameRelay::start(broker_addr()).await;
    let port = free_port();
    let http: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let names = quick(Names::new("wedged"))
        .with("PAGESIFT__AMQP__URL", &with_port(&amqp_url(), relay.addr))
        .with("PAGESIFT__AMQP__HEARTBEAT_SECONDS", &HEARTBEAT.to_string())
        .with("PAGESIFT__HTTP__ENABLED", "true")
        .with("PAGESIFT__HTTP__LISTEN", &http.to_string());
    let worker = Worker::start(&names);
    let ready = async || matches!(pagesift::http::get(http, "/readyz").await, Ok((200, _)));
    wait_for("readiness", &worker, ready).await;
    relay.wedge(true);
    let wedged_at = Instant::now();
    wait_for("not-ready after the wedge", &worker, async || {
        !ready().await
    })
    .await;
    let took = wedged_at.elapsed();
    let beats = relay.wedged_beats();
    println!("not ready {took:?} after the path passed only heartbeats ({beats} forwarded)");
    assert!(
        beats >= 2,
        "heartbeats kept flowing while wedged ({beats}), or the test proves nothing"
    );
    assert!(
        took <= Duration::from_secs(2 * HEARTBEAT + HEARTBEAT / 2 + 1),
        "readiness stayed up {took:?} while the broker answered nothing (heartbeat {HEARTBEAT} s)"
    );
    let log = worker.log_text();
    assert!(
        log.contains("no answer from the broker for two heartbeats"),
        "the watch says why:\n{}",
        tail(&log)
    );
    assert!(
        matches!(pagesift::http::get(http, "/healthz").await, Ok((200, _))),
        "alive all the same"
    );
    relay.wedge(false);
    wait_for("readiness again", &worker, ready).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_output_exchange_with_declare_off_means_not_ready_and_no_consuming() {
    let names = quick(Names::new("noexchange")).with("PAGESIFT__AMQP__DECLARE", "false");
    let conn = connect().await;
    declare(&conn, &names).await;
    let ch = conn.create_channel().await.expect("channel");
    ch.exchange_delete(
        names.output().as_str().into(),
        ExchangeDeleteOptions::default(),
    )
    .await
    .expect("delete the output exchange");
    let pages = page_messages(&fixture_pages(), 1).expect("pages");
    let expected = expected_events(&names, &pages);
    let want = all_ids(&expected);
    assert!(!want.is_empty(), "the oracle expects articles");
    let publish = confirm_channel(&conn).await;
    publish_pages(&publish, &names.input(), &pages).await;
    let worker = Worker::start(&names);
    wait_for("four attempts", &worker, async || {
        worker
            .log_text()
            .matches("connecting to the broker")
            .count()
            >= 4
    })
    .await;
    let log = worker.log_text();
    assert_eq!(
        log.matches("does not exist").count(),
        1,
        "one error line, not one per attempt:\n{}",
        tail(&log)
    );
    assert!(
        log.contains(&names.output()),
        "the line names the exchange:\n{}",
        tail(&log)
    );
    assert!(!consumed(&log), "consumed:\n{}", tail(&log));
    assert_eq!(
        ready_count(&conn, &names.input()).await,
        u32::try_from(pages.len()).expect("count"),
        "every page still waits in the input queue"
    );
    assert_eq!(
        ready_count(&conn, &names.dlq()).await,
        0,
        "nothing dead-lettered"
    );
    // The operator restores the exchange: the worker consumes and every event arrives.
    declare(&conn, &names).await;
    let got = event_ids(&collect_ids(&conn, &names.all(), &want, &BTreeSet::new()).await);
    let missing = want.difference(&got).count();
    assert_eq!(missing, 0, "log:\n{}", tail(&worker.log_text()));
    assert_eq!(
        ready_count(&conn, &names.dlq()).await,
        0,
        "nothing dead-lettered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_queue_deleted_mid_run_is_declared_again_and_no_bad_page_is_lost() {
    let names = quick(Names::new("nodlq"));
    let conn = connect().await;
    declare(&conn, &names).await;
    let worker = Worker::start(&names);
    wait_for("consuming", &worker, async || consumed(&worker.log_text())).await;
    let ch = conn.create_channel().await.expect("channel");
    ch.queue_delete(names.dlq().as_str().into(), QueueDeleteOptions::default())
        .await
        .expect("delete the dead-letter queue");
    let bad: Vec<(Vec<u8>, BasicProperties)> = (0..20)
        .map(|i| {
            (
                b"{\"page_id\": ".to_vec(),
                BasicProperties::default()
                    .with_content_type(short("application/json"))
                    .with_message_id(short(&format!("bad-{i}")))
                    .with_delivery_mode(2),
            )
        })
        .collect();
    let publish = confirm_channel(&conn).await;
    publish_raw(&publish, &names.input(), &bad).await;
    wait_for(
        "the dead-letter queue declared again",
        &worker,
        async || exists(&conn, &names.dlq()).await,
    )
    .await;
    let dead = collect_until(&conn, &names.dlq(), |got| {
        let ids: BTreeSet<String> = got
            .iter()
            .filter_map(|d| d.properties.message_id().as_ref().map(|m| m.to_string()))
            .collect();
        ids.len() >= bad.len()
    })
    .await;
    let ids: BTreeSet<String> = dead
        .iter()
        .filter_map(|d| d.properties.message_id().as_ref().map(|m| m.to_string()))
        .collect();
    assert_eq!(
        ids.len(),
        bad.len(),
        "bad pages lost; log:\n{}",
        tail(&worker.log_text())
    );
    for d in &dead {
        let h = d.properties.headers().clone().unwrap_or_default();
        assert_eq!(
            header_text(&h, ERROR_CLASS_HEADER).as_deref(),
            Some("invalid_json")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_page_coming_back_unroutable_logs_one_short_line_per_return() {
    // No queue bound to the output exchange: every event comes back unroutable.
    let names = quick(Names::new("returned"))
        .with("PAGESIFT__AMQP__ALL_ARTICLES_QUEUE", "")
        .with("PAGESIFT__AMQP__SAFETY_ARTICLES_QUEUE", "")
        .with("PAGESIFT__WORKER__PUBLISH_ATTEMPTS", "2");
    let conn = connect().await;
    declare(&conn, &names).await;
    // One ~2 MB paragraph: one ~2 MB article event.
    let text = format!("标题\n\n{}", "本报讯 今日全市开展安全检查。".repeat(48_000));
    assert!(text.len() > 2_000_000);
    let page = (
        text.into_bytes(),
        BasicProperties::default()
            .with_content_type(short("text/plain"))
            .with_message_id(short("big-unroutable"))
            .with_delivery_mode(2),
    );
    let publish = confirm_channel(&conn).await;
    publish_raw(&publish, &names.input(), &[page]).await;
    let worker = Worker::start(&names);
    wait_for("two returns", &worker, async || {
        worker
            .log_text()
            .matches("a published message came back unroutable")
            .count()
            >= 2
    })
    .await;
    let log = worker.log_text();
    let returns = log.matches("came back unroutable").count();
    let bytes = log.len();
    println!("{returns} returns of a 2 MB event logged in {bytes} bytes");
    assert!(
        bytes < 256 * 1024,
        "{bytes} bytes of log for {returns} returns:\n{}",
        tail(&log)
    );
    assert!(log.contains("body_bytes"), "the line gives the size");
}
