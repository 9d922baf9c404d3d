//! Integration tests of `pagesift run` and `pagesift publish` against a real RabbitMQ broker
//! (`PAGESIFT_TEST_AMQP_URL`, default the local one). Each test uses its own random queue and
//! exchange names and deletes them at the end. Expected events are computed offline with the
//! same pipeline (`Pipeline::process`), so the tests do not depend on what the segmenter or
//! classifier currently find. With no broker the tests fail, saying how to start one.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use lapin::BasicProperties;
use lapin::types::FieldTable;
use pagesift::amqp::{header_str, header_text};
use pagesift::model::ArticleEvent;
use pagesift::page_file::{PageMessage, page_message, page_messages};
use pagesift::worker::{
    ATTEMPTS_HEADER, DELIVERY_LIMIT_CLASS, ERROR_CLASS_HEADER, ERROR_REASON_HEADER, PageSummary,
};
use support::*;

fn seed_message() -> PageMessage {
    let path = root().join("tests/fixtures/pages/seed.txt");
    let bytes = std::fs::read(&path).expect("seed page");
    page_message(&path, &bytes, 0, 1)
}

/// 500 page messages: the fixture pages, repeated with a page-id suffix per copy.
fn five_hundred_pages() -> Vec<PageMessage> {
    let files = fixture_pages();
    let repeat = 500usize.div_ceil(files.len()) as u32;
    let mut pages = page_messages(&files, repeat).expect("fixture pages");
    pages.truncate(500);
    pages
}

fn all_ids(expected: &BTreeMap<String, Vec<ArticleEvent>>) -> BTreeSet<String> {
    expected
        .values()
        .flatten()
        .map(|e| e.event_id.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_page_comes_out_as_its_articles_on_the_right_routing_keys() {
    let names = Names::new("seed");
    let conn = connect().await;
    declare(&conn, &names).await;
    let summaries = bind_extra(&conn, &names, "summaries", "page.processed").await;
    let seed = seed_message();
    let expected = expected_events(&names, std::slice::from_ref(&seed));
    let events = &expected["seed"];
    assert!(!events.is_empty(), "the seed page yields articles offline");

    let mut worker = Worker::start(&names);
    let ch = confirm_channel(&conn).await;
    publish_pages(&ch, &names.input(), std::slice::from_ref(&seed)).await;
    let got = collect_until(&conn, &names.all(), |got| got.len() >= events.len()).await;
    let summary = collect_until(&conn, &summaries, |got| !got.is_empty()).await;
    worker.stop().await;

    let by_id: BTreeMap<String, &Received> = got
        .iter()
        .map(|r| {
            let id = r.properties.message_id().as_ref().expect("message_id");
            (id.to_string(), r)
        })
        .collect();
    assert_eq!(got.len(), events.len(), "one message per article");
    for event in events {
        let r = by_id
            .get(&event.event_id)
            .unwrap_or_else(|| panic!("event {} missing", event.event_id));
        assert_eq!(r.routing_key, event.routing_key());
        let p = &r.properties;
        assert_eq!(
            p.content_type().as_ref().map(|c| c.as_str()),
            Some("application/json")
        );
        assert_eq!(*p.delivery_mode(), Some(2), "persistent");
        assert_eq!(
            p.correlation_id().as_ref().map(|c| c.as_str()),
            Some("seed")
        );
        let headers = p.headers().as_ref().expect("headers");
        assert_eq!(header_text(headers, "page_id").as_deref(), Some("seed"));
        let body: ArticleEvent = serde_json::from_slice(&r.body).expect("event JSON");
        assert_eq!(body.article, event.article, "same article as offline");
        assert_eq!(body.safety, event.safety, "same classification as offline");
    }
    let safety_expected = events.iter().filter(|e| e.safety.is_safety).count();
    let safety = drain(&conn, &names.safety()).await;
    assert_eq!(
        safety.len(),
        safety_expected,
        "safety queue gets the safety articles"
    );
    assert!(
        safety
            .iter()
            .all(|r| r.routing_key.starts_with("article.safety."))
    );
    assert_eq!(summary.len(), 1, "one page summary");
    let s: PageSummary = serde_json::from_slice(&summary[0].body).expect("summary JSON");
    assert_eq!(s.page_id, "seed");
    assert_eq!(s.articles, events.len());
    assert_eq!(s.safety_articles, safety_expected);
    assert_eq!(ready_count(&conn, &names.input()).await, 0, "page acked");
    names.cleanup().await;
}

async fn every_article_arrives(workers: usize, test: &str) {
    let names = Names::new(test).with("PAGESIFT__AMQP__PAGE_SUMMARY", "false");
    let conn = connect().await;
    declare(&conn, &names).await;
    let pages = five_hundred_pages();
    let expected = expected_events(&names, &pages);
    assert_eq!(expected.len(), 500, "500 distinct page ids");
    let ids = all_ids(&expected);

    let ch = confirm_channel(&conn).await;
    publish_pages(&ch, &names.input(), &pages).await;
    let mut running: Vec<Worker> = (0..workers).map(|_| Worker::start(&names)).collect();
    let got = collect_ids(&conn, &names.all(), &ids, &BTreeSet::new()).await;
    for w in &mut running {
        w.stop().await;
    }
    let received = event_ids(&got);
    let missing: Vec<_> = ids.difference(&received).take(5).collect();
    assert!(
        missing.is_empty(),
        "{} of {} events missing, e.g. {missing:?}",
        ids.difference(&received).count(),
        ids.len()
    );
    assert!(received.is_subset(&ids), "no unexpected events");
    assert_eq!(ready_count(&conn, &names.input()).await, 0, "no page left");
    assert_eq!(
        ready_count(&conn, &names.dlq()).await,
        0,
        "nothing dead-lettered"
    );
    names.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_pages_through_one_worker_arrive_complete() {
    every_article_arrives(1, "one").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_pages_through_three_workers_arrive_complete() {
    every_article_arrives(3, "three").await;
}

fn text_props(page_id: Option<&str>) -> BasicProperties {
    let mut headers = FieldTable::default();
    if let Some(id) = page_id {
        headers.insert("page_id".into(), header_str(id));
    }
    BasicProperties::default()
        .with_content_type("text/plain".into())
        .with_headers(headers)
}

fn json_props(page_id: &str) -> BasicProperties {
    BasicProperties::default()
        .with_content_type("application/json".into())
        .with_message_id(page_id.into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_of_bad_input_is_dead_lettered_with_its_reason() {
    let names = Names::new("bad").with("PAGESIFT__PIPELINE__MAX_PAGE_BYTES", "100000");
    let conn = connect().await;
    declare(&conn, &names).await;
    let good_a = seed_message();
    let files = fixture_pages();
    let bytes = std::fs::read(&files[0]).expect("page");
    let good_b = page_message(&files[0], &bytes, 0, 1);
    let expected = expected_events(&names, &[good_a.clone(), good_b.clone()]);
    let ids = all_ids(&expected);

    let bad: Vec<(&str, Vec<u8>, BasicProperties)> = vec![
        (
            "invalid_json",
            br#"{"page_id": "j", "text": "#.to_vec(),
            json_props("j"),
        ),
        (
            "bad_encoding",
            vec![0xff, 0x00, 0x01, 0xfe, 0x02, 0x80, 0x03],
            text_props(Some("enc")),
        ),
        ("empty_text", b" \n \n".to_vec(), text_props(Some("empty"))),
        (
            "too_large",
            "页".repeat(40_000).into_bytes(),
            text_props(Some("big")),
        ),
        (
            "wrong_type",
            br#"{"page_id": "w", "text": 42}"#.to_vec(),
            json_props("w"),
        ),
        (
            "missing_page_id",
            "正文".as_bytes().to_vec(),
            text_props(None),
        ),
    ];
    let mut messages = vec![(good_a.body.clone(), good_a.properties.clone())];
    messages.extend(bad.iter().map(|(_, b, p)| (b.clone(), p.clone())));
    messages.push((good_b.body.clone(), good_b.properties.clone()));

    let ch = confirm_channel(&conn).await;
    publish_raw(&ch, &names.input(), &messages).await;
    let mut worker = Worker::start(&names);
    let got = collect_ids(&conn, &names.all(), &ids, &BTreeSet::new()).await;
    wait_for_ready(&conn, &names.dlq(), bad.len() as u32, &|| worker.log_text()).await;
    worker.stop().await;

    assert!(
        event_ids(&got).is_superset(&ids),
        "good pages around bad ones are processed"
    );
    let dead = drain(&conn, &names.dlq()).await;
    let mut by_class = BTreeMap::new();
    for d in &dead {
        let headers = d.properties.headers().as_ref().expect("headers");
        let class = header_text(headers, ERROR_CLASS_HEADER).expect("class header");
        let reason = header_text(headers, ERROR_REASON_HEADER).expect("reason header");
        assert!(!reason.is_empty());
        by_class.insert(class, d.body.clone());
    }
    for (class, body, _) in &bad {
        // README "Delivery contract": a body over `pipeline.max_page_bytes` is never buffered
        // whole; its copy keeps the first 64 KiB.
        let kept = if *class == "too_large" {
            &body[..64 * 1024]
        } else {
            &body[..]
        };
        assert_eq!(
            by_class.get(*class).map(|b| &b[..]),
            Some(kept),
            "{class} dead-lettered with its original body (or the excerpt)"
        );
    }
    assert_eq!(
        ready_count(&conn, &names.input()).await,
        0,
        "all pages settled"
    );
    names.cleanup().await;
}

/// Names whose output exchange has no bound queue (every event is unroutable).
fn unbound_output(test: &str) -> Names {
    Names::new(test)
        .with("PAGESIFT__AMQP__ALL_ARTICLES_QUEUE", "")
        .with("PAGESIFT__AMQP__SAFETY_ARTICLES_QUEUE", "")
}

/// Declares the topology and puts the seed page in the input queue.
async fn seed_in_queue(names: &Names) -> (lapin::Connection, PageMessage) {
    let conn = connect().await;
    declare(&conn, names).await;
    let seed = seed_message();
    let ch = confirm_channel(&conn).await;
    publish_pages(&ch, &names.input(), std::slice::from_ref(&seed)).await;
    (conn, seed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unroutable_output_is_neither_acked_nor_lost() {
    let names = unbound_output("unroutable")
        .with("PAGESIFT__AMQP__DELIVERY_LIMIT", "2")
        .with("PAGESIFT__WORKER__PUBLISH_ATTEMPTS", "2")
        .with("PAGESIFT__WORKER__RETRY_INITIAL_MS", "10")
        .with("PAGESIFT__WORKER__RETRY_MAX_MS", "50");
    let (conn, seed) = seed_in_queue(&names).await;
    let mut worker = Worker::start(&names);
    // Never acked: requeued until the broker's delivery limit dead-letters it.
    wait_for_ready(&conn, &names.dlq(), 1, &|| worker.log_text()).await;
    worker.stop().await;
    let dead = drain(&conn, &names.dlq()).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, seed.body, "the original page is kept");
    let headers = dead[0].properties.headers().clone().unwrap_or_default();
    assert!(
        header_text(&headers, ERROR_CLASS_HEADER).is_none(),
        "dead-lettered by the broker's delivery limit, not as an input error"
    );
    assert!(worker.log_text().contains("unroutable"), "the log says why");
    assert_eq!(ready_count(&conn, &names.input()).await, 0);
    names.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_keeps_failing_on_a_classic_queue_is_dead_lettered_by_the_worker() {
    // A classic queue has no delivery limit: the worker counts the attempts itself.
    let names = unbound_output("classic-limit")
        .with("PAGESIFT__AMQP__INPUT_QUEUE_TYPE", "classic")
        .with("PAGESIFT__AMQP__DELIVERY_LIMIT", "3")
        .with("PAGESIFT__WORKER__PUBLISH_ATTEMPTS", "1");
    let (conn, seed) = seed_in_queue(&names).await;
    let mut worker = Worker::start(&names);
    wait_for_ready(&conn, &names.dlq(), 1, &|| worker.log_text()).await;
    worker.stop().await;
    let dead = drain(&conn, &names.dlq()).await;
    assert_eq!(dead.len(), 1, "one copy, not one per attempt");
    assert_eq!(dead[0].body, seed.body, "the original page is kept");
    let headers = dead[0].properties.headers().clone().unwrap_or_default();
    assert_eq!(
        header_text(&headers, ERROR_CLASS_HEADER).as_deref(),
        Some(DELIVERY_LIMIT_CLASS)
    );
    let reason = header_text(&headers, ERROR_REASON_HEADER).unwrap_or_default();
    assert!(
        reason.contains("failed 3 times") && reason.contains("unroutable"),
        "{reason}"
    );
    assert_eq!(
        header_text(&headers, ATTEMPTS_HEADER).as_deref(),
        Some("2"),
        "two counted retry copies before the last attempt"
    );
    assert_eq!(
        header_text(&headers, "page_id").as_deref(),
        Some("seed"),
        "the page's own headers are kept"
    );
    let log = worker.log_text();
    assert_eq!(
        log.matches("page settled").count(),
        3,
        "exactly delivery_limit attempts; log:\n{log}"
    );
    assert_eq!(ready_count(&conn, &names.input()).await, 0, "nothing loops");
    names.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_stream_exits_zero_and_loses_no_page() {
    let names = Names::new("sigterm").with("PAGESIFT__AMQP__PAGE_SUMMARY", "false");
    let conn = connect().await;
    declare(&conn, &names).await;
    let files = fixture_pages();
    let pages = page_messages(&files, 200usize.div_ceil(files.len()) as u32).expect("pages");
    let expected = expected_events(&names, &pages);
    let ids = all_ids(&expected);
    let ch = confirm_channel(&conn).await;
    publish_pages(&ch, &names.input(), &pages).await;

    let mut first = Worker::start(&names);
    wait_for_ready(&conn, &names.all(), 1, &|| first.log_text()).await;
    first.stop().await;
    // Every page is either fully published or back in the input queue.
    let partial = drain(&conn, &names.all()).await;
    let published = event_ids(&partial);
    let complete = expected
        .values()
        .filter(|events| events.iter().all(|e| published.contains(&e.event_id)))
        .count();
    let left = ready_count(&conn, &names.input()).await as usize;
    assert!(
        complete + left >= pages.len(),
        "{complete} pages complete + {left} left in the queue < {} pages",
        pages.len()
    );
    assert!(left < pages.len(), "the first worker processed something");

    let mut second = Worker::start(&names);
    let rest = collect_ids(&conn, &names.all(), &ids, &published).await;
    second.stop().await;
    let all: BTreeSet<String> = published.union(&event_ids(&rest)).cloned().collect();
    assert!(
        all.is_superset(&ids),
        "{} events lost",
        ids.difference(&all).count()
    );
    assert_eq!(ready_count(&conn, &names.input()).await, 0);
    assert_eq!(ready_count(&conn, &names.dlq()).await, 0);
    names.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redeclaring_with_different_arguments_fails_with_a_clear_error() {
    let names = Names::new("mismatch");
    let conn = connect().await;
    // Someone created the input queue as a classic queue without our arguments.
    let ch = conn.create_channel().await.expect("channel");
    ch.queue_declare(
        names.input().as_str().into(),
        lapin::options::QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .expect("declare classic");
    let mut worker = Worker::start(&names);
    let status = worker.wait().await;
    let log = worker.log_text();
    assert!(!status.success(), "start-up must fail; log:\n{log}");
    assert!(log.contains(&names.input()), "names the queue: {log}");
    assert!(log.contains("x-"), "names the differing argument: {log}");
    assert_eq!(
        log.matches("already exists with different arguments")
            .count(),
        1,
        "fails once, no crash loop: {log}"
    );
    names.cleanup().await;
}

#[test]
fn publish_command_sends_pages_the_worker_turns_into_the_offline_events() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let names = Names::new("feeder").with("PAGESIFT__AMQP__PAGE_SUMMARY", "false");
    let files: Vec<_> = fixture_pages().into_iter().take(3).collect();
    let status = Command::new(env!("CARGO_BIN_EXE_pagesift"))
        .arg("--config-dir")
        .arg(root().join("config"))
        .arg("publish")
        .args(&files)
        .args(["--repeat", "2"])
        .envs(names.env())
        .status()
        .expect("run pagesift publish");
    assert!(status.success());
    let pages = page_messages(&files, 2).expect("pages");
    let expected = expected_events(&names, &pages);
    let ids = all_ids(&expected);
    runtime.block_on(async {
        let conn = connect().await;
        assert_eq!(ready_count(&conn, &names.input()).await, 6, "3 files x 2");
        let mut worker = Worker::start(&names);
        let got = collect_ids(&conn, &names.all(), &ids, &BTreeSet::new()).await;
        worker.stop().await;
        assert_eq!(event_ids(&got), ids, "same event ids online and offline");
        names.cleanup().await;
    });
}

/// Polls `cond` until it holds (panics after [`PATIENCE`]).
async fn eventually(what: &str, cond: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + PATIENCE;
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_is_ready_only_while_consuming_and_rebuilds_after_a_consumer_cancel() {
    // A long first reconnect delay keeps the not-ready window wide enough to observe.
    let names = Names::new("ready")
        .with("PAGESIFT__AMQP__RECONNECT_INITIAL_MS", "1500")
        .with("PAGESIFT__AMQP__RECONNECT_MAX_MS", "3000");
    let settings = names.settings();
    let pipeline = pagesift::resources::build_pipeline(&settings.pipeline).expect("pipeline");
    let shared = std::sync::Arc::new(arc_swap::ArcSwap::from_pointee(pipeline));
    let readiness = pagesift::health::Readiness::new();
    let shutdown = tokio_util::sync::CancellationToken::new();
    assert!(!readiness.is_ready(), "not ready before connecting");
    let task = {
        let (readiness, shutdown) = (readiness.clone(), shutdown.clone());
        tokio::spawn(pagesift::worker::run(pagesift::worker::Worker {
            settings,
            pipeline: shared,
            readiness,
            shutdown,
            clock: std::sync::Arc::new(pagesift::clock::SystemClock),
        }))
    };
    eventually("ready after connecting", || readiness.is_ready()).await;
    // The totals come from the Prometheus recorder (installed once for this test binary).
    let recorder = pagesift::http::install_recorder().expect("recorder");
    let reconnects = pagesift::metrics::snapshot(&recorder).reconnects;

    // Deleting the input queue makes the broker cancel the consumer.
    let conn = connect().await;
    let ch = conn.create_channel().await.expect("channel");
    ch.queue_delete(
        names.input().as_str().into(),
        lapin::options::QueueDeleteOptions::default(),
    )
    .await
    .expect("delete input queue");
    eventually("not ready while reconnecting", || !readiness.is_ready()).await;
    eventually("ready again after the rebuild", || readiness.is_ready()).await;
    assert!(pagesift::metrics::snapshot(&recorder).reconnects > reconnects);

    // The rebuilt session (topology redeclared) processes pages.
    let seed = seed_message();
    let expected = expected_events(&names, std::slice::from_ref(&seed));
    let ids = all_ids(&expected);
    let ch = confirm_channel(&conn).await;
    publish_pages(&ch, &names.input(), std::slice::from_ref(&seed)).await;
    let got = collect_ids(&conn, &names.all(), &ids, &BTreeSet::new()).await;
    assert!(event_ids(&got).is_superset(&ids));

    shutdown.cancel();
    let result = task.await.expect("worker task");
    assert!(result.is_ok(), "clean shutdown: {result:?}");
    assert!(!readiness.is_ready(), "not ready after draining");
    names.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_a_good_model_and_keeps_the_old_one_on_a_bad_file() {
    let names = Names::new("sighup");
    let dir = tempfile::tempdir().expect("temp dir");
    let model_path = dir.path().join("classifier.json");
    let original = std::fs::read_to_string(root().join("config/classifier.json")).expect("model");
    std::fs::write(&model_path, &original).expect("write model");
    let names = names.with(
        "PAGESIFT__PIPELINE__CLASSIFIER",
        model_path.to_str().expect("utf-8 path"),
    );
    let old_version = names_pipeline_version(&names);
    let mut reloaded: serde_json::Value = serde_json::from_str(&original).expect("model JSON");
    reloaded["version"] = serde_json::Value::String(format!("{old_version}-reloaded"));

    let conn = connect().await;
    let mut worker = Worker::start(&names);
    eventually("consuming", || worker.log_text().contains("consuming")).await;
    let hangup = |w: &Worker| {
        let ok = Command::new("kill")
            .arg("-HUP")
            .arg(w.child.id().to_string())
            .status()
            .expect("kill -HUP")
            .success();
        assert!(ok);
    };

    std::fs::write(&model_path, "{ not a model").expect("write bad model");
    hangup(&worker);
    eventually("bad model rejected", || {
        worker.log_text().contains("reload rejected")
    })
    .await;
    let version_after_bad = classifier_of_next_page(&conn, &names, "after-bad").await;
    assert_eq!(
        version_after_bad, old_version,
        "the old model keeps serving"
    );

    std::fs::write(&model_path, reloaded.to_string()).expect("write good model");
    hangup(&worker);
    eventually("good model loaded", || {
        worker.log_text().contains("model reloaded")
    })
    .await;
    let version_after_good = classifier_of_next_page(&conn, &names, "after-good").await;
    assert_eq!(version_after_good, format!("{old_version}-reloaded"));
    worker.stop().await;
    names.cleanup().await;
}

fn names_pipeline_version(names: &Names) -> String {
    pagesift::resources::build_pipeline(&names.settings().pipeline)
        .expect("pipeline")
        .classifier_version()
        .to_owned()
}

/// Publishes the seed page under `page_id` and returns the classifier version its first event
/// carries.
async fn classifier_of_next_page(conn: &lapin::Connection, names: &Names, page_id: &str) -> String {
    let path = root().join(format!("tests/fixtures/pages/{page_id}.txt"));
    let bytes = std::fs::read(root().join("tests/fixtures/pages/seed.txt")).expect("seed");
    let page = page_message(&path, &bytes, 0, 1);
    let ch = confirm_channel(conn).await;
    publish_pages(&ch, &names.input(), std::slice::from_ref(&page)).await;
    let got = collect_until(conn, &names.all(), |got| {
        got.iter()
            .any(|r| r.properties.correlation_id().as_ref().map(|c| c.as_str()) == Some(page_id))
    })
    .await;
    let r = got
        .iter()
        .find(|r| r.properties.correlation_id().as_ref().map(|c| c.as_str()) == Some(page_id))
        .expect("an event of the page");
    let event: ArticleEvent = serde_json::from_slice(&r.body).expect("event JSON");
    event.pipeline.classifier
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_exits_at_once_and_the_broker_keeps_the_unfinished_page() {
    // No queue is bound to the output, so the page's publish keeps failing and its retries
    // (long delays) hold the drain open until the second signal.
    let names = unbound_output("twice")
        .with("PAGESIFT__AMQP__INPUT_QUEUE_TYPE", "classic")
        .with("PAGESIFT__WORKER__PUBLISH_ATTEMPTS", "100")
        .with("PAGESIFT__WORKER__RETRY_INITIAL_MS", "60000")
        .with("PAGESIFT__WORKER__RETRY_MAX_MS", "60000")
        .with("PAGESIFT__SHUTDOWN__GRACE_SECONDS", "600");
    let (conn, seed) = seed_in_queue(&names).await;
    let mut worker = Worker::start(&names);
    eventually("a publish failed and is being retried", || {
        worker.log_text().contains("retrying")
    })
    .await;
    worker.terminate();
    eventually("draining", || worker.log_text().contains("draining")).await;
    worker.terminate();
    let status = worker.wait().await;
    assert_eq!(
        status.code(),
        Some(pagesift::shutdown::FORCED_EXIT_CODE),
        "log:\n{}",
        worker.log_text()
    );
    wait_for_ready(&conn, &names.input(), 1, &|| worker.log_text()).await;
    let back = drain(&conn, &names.input()).await;
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].body, seed.body, "the page is back in the queue");
    names.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_batches_on_one_publisher_get_their_own_confirms() {
    let names = Names::new("confirms");
    let conn = connect().await;
    let ch = conn.create_channel().await.expect("channel");
    let exchange = names.output();
    ch.exchange_declare(
        exchange.as_str().into(),
        lapin::ExchangeKind::Topic,
        lapin::options::ExchangeDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .expect("exchange");
    let routed = bind_extra(&conn, &names, "articles.all", "routed.#").await;
    let conn = std::sync::Arc::new(conn);
    let publisher =
        pagesift::amqp::Publisher::open(conn.clone(), std::time::Duration::from_secs(60))
            .await
            .expect("publisher");
    // Half of the batches are unroutable: each must fail, and only those.
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let publisher = publisher.clone();
            let key = if i % 2 == 0 { "routed.x" } else { "nowhere.x" };
            let batch: Vec<_> = (0..25)
                .map(|_| pagesift::amqp::OutMessage {
                    exchange: exchange.clone(),
                    routing_key: key.to_owned(),
                    body: vec![b'x'; 64],
                    properties: BasicProperties::default(),
                    mandatory: true,
                })
                .collect();
            tokio::spawn(async move { (i, publisher.publish_all(&batch).await) })
        })
        .collect();
    for task in tasks {
        let (i, result) = task.await.expect("task");
        if i % 2 == 0 {
            assert!(result.is_ok(), "routable batch {i}: {result:?}");
        } else {
            assert!(
                matches!(result, Err(pagesift::amqp::PublishError::Unroutable { .. })),
                "unroutable batch {i}: {result:?}"
            );
        }
    }
    assert_eq!(ready_count(&conn, &routed).await, 20 * 25);
    names.cleanup().await;
}
