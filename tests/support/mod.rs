//! Helpers for the broker tests: per-test random topology names (passed to the worker as
//! `PAGESIFT__AMQP__*` overrides), a connection that fails loudly with a how-to-start message
//! when no broker answers, running the real `pagesift` binary, publishing page messages,
//! collecting output and computing the expected event ids offline with the same pipeline.
#![allow(dead_code)]

pub mod frame_relay;
pub mod raw_amqp;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicGetOptions, BasicPublishOptions,
    ConfirmSelectOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use pagesift::page_file::PageMessage;
use pagesift::settings::Settings;

/// Longest a test waits for something that should happen (a failure, not a timing assertion).
pub const PATIENCE: Duration = Duration::from_secs(240);

/// The broker URL of the tests.
pub fn amqp_url() -> String {
    std::env::var("PAGESIFT_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

/// The project root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The fixture page files.
pub fn fixture_pages() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("tests/fixtures/pages"))
        .expect("fixture pages")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    files
}

/// Opens a connection to the test broker, or panics saying how to get one.
pub async fn connect() -> Connection {
    let url = amqp_url();
    match tokio::time::timeout(
        Duration::from_secs(15),
        Connection::connect(&url, ConnectionProperties::default()),
    )
    .await
    {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => panic!(
            "no RabbitMQ broker at {} ({e}). Start one with `rabbitmq-server -detached && \
             rabbitmqctl await_startup`, run `tests/run.sh` (starts one), or set \
             PAGESIFT_TEST_AMQP_URL.",
            pagesift::settings::redact_url(&url)
        ),
        Err(_) => panic!(
            "connecting to RabbitMQ at {} timed out. Start a broker (`rabbitmq-server -detached`) \
             or set PAGESIFT_TEST_AMQP_URL.",
            pagesift::settings::redact_url(&url)
        ),
    }
}

/// A test's own topology names; its queues and exchanges are deleted on drop (also when the
/// test fails).
#[derive(Debug)]
pub struct Names {
    /// Random prefix.
    pub prefix: String,
    /// Extra environment for every worker of the test.
    pub extra: Vec<(String, String)>,
}

impl Names {
    /// Fresh random names.
    pub fn new(test: &str) -> Names {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        Names {
            prefix: format!("test.{test}.{}.{nanos:x}", std::process::id()),
            extra: Vec::new(),
        }
    }

    /// Input queue.
    pub fn input(&self) -> String {
        format!("{}.pages", self.prefix)
    }
    /// Output exchange.
    pub fn output(&self) -> String {
        format!("{}.articles", self.prefix)
    }
    /// Dead-letter exchange.
    pub fn dlx(&self) -> String {
        format!("{}.dead", self.prefix)
    }
    /// Dead-letter queue.
    pub fn dlq(&self) -> String {
        format!("{}.pages.dead", self.prefix)
    }
    /// The all-articles queue.
    pub fn all(&self) -> String {
        format!("{}.articles.all", self.prefix)
    }
    /// The safety-articles queue.
    pub fn safety(&self) -> String {
        format!("{}.articles.safety", self.prefix)
    }

    /// The `PAGESIFT__*` overrides pointing a worker at these names.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut v = vec![
            ("PAGESIFT__AMQP__URL".to_owned(), amqp_url()),
            ("PAGESIFT__AMQP__INPUT_QUEUE".to_owned(), self.input()),
            ("PAGESIFT__AMQP__OUTPUT_EXCHANGE".to_owned(), self.output()),
            (
                "PAGESIFT__AMQP__DEAD_LETTER_EXCHANGE".to_owned(),
                self.dlx(),
            ),
            ("PAGESIFT__AMQP__DEAD_LETTER_QUEUE".to_owned(), self.dlq()),
            ("PAGESIFT__AMQP__ALL_ARTICLES_QUEUE".to_owned(), self.all()),
            (
                "PAGESIFT__AMQP__SAFETY_ARTICLES_QUEUE".to_owned(),
                self.safety(),
            ),
            ("PAGESIFT__HTTP__ENABLED".to_owned(), "false".to_owned()),
            (
                "PAGESIFT__LOG__STATS_INTERVAL_SECONDS".to_owned(),
                "0".to_owned(),
            ),
        ];
        for (k, val) in &self.extra {
            v.retain(|(key, _)| key != k);
            v.push((k.clone(), val.clone()));
        }
        v
    }

    /// Adds or replaces an override.
    pub fn with(mut self, key: &str, value: &str) -> Names {
        self.extra.push((key.to_owned(), value.to_owned()));
        self
    }

    /// The settings a worker with these names loads.
    pub fn settings(&self) -> Settings {
        Settings::load_from(&root().join("config"), None, self.env()).expect("test settings")
    }

    /// Deletes every queue and exchange of the test.
    pub async fn cleanup(&self) {
        cleanup_prefix(&self.prefix).await;
    }
}

impl Drop for Names {
    fn drop(&mut self) {
        let prefix = self.prefix.clone();
        // A thread of its own: drop may run inside (or outside) a runtime, or while panicking.
        let _ = std::thread::spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                runtime.block_on(cleanup_prefix(&prefix));
            }
        })
        .join();
    }
}

/// Deletes the queues and exchanges named after `prefix` (never panics).
async fn cleanup_prefix(prefix: &str) {
    let Ok(Ok(conn)) = tokio::time::timeout(
        Duration::from_secs(10),
        Connection::connect(&amqp_url(), ConnectionProperties::default()),
    )
    .await
    else {
        return;
    };
    for suffix in [
        "pages",
        "pages.dead",
        "articles.all",
        "articles.safety",
        "summaries",
    ] {
        if let Ok(ch) = conn.create_channel().await {
            let q = format!("{prefix}.{suffix}");
            let _ = ch
                .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
                .await;
        }
    }
    for suffix in ["articles", "dead"] {
        if let Ok(ch) = conn.create_channel().await {
            let e = format!("{prefix}.{suffix}");
            let _ = ch
                .exchange_delete(e.as_str().into(), ExchangeDeleteOptions::default())
                .await;
        }
    }
    let _ = conn.close(200, "bye".into()).await;
}

/// A running `pagesift run` process; killed on drop; its log is in a temp file.
pub struct Worker {
    /// The child process.
    pub child: Child,
    /// Its stderr.
    pub log: tempfile::NamedTempFile,
}

impl Worker {
    /// Starts `pagesift run` with the names' environment.
    pub fn start(names: &Names) -> Worker {
        let log = tempfile::NamedTempFile::new().expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_pagesift"))
            .arg("--config-dir")
            .arg(root().join("config"))
            .arg("run")
            .envs(names.env())
            .env("RUST_LOG", "info,lapin=warn,amq_protocol=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log.reopen().expect("log handle"))
            .spawn()
            .expect("start pagesift run");
        Worker { child, log }
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("kill -TERM");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits for the process to exit (panics after [`PATIENCE`]).
    pub async fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "worker did not exit; log:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// SIGTERM, then expects exit status 0.
    pub async fn stop(&mut self) {
        self.terminate();
        let status = self.wait().await;
        assert!(
            status.success(),
            "worker exited with {status}; log:\n{}",
            self.log_text()
        );
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Declares the topology of `names` (as the worker would), so tests can publish first.
pub async fn declare(conn: &Connection, names: &Names) {
    let ch = conn.create_channel().await.expect("channel");
    pagesift::amqp::topology::declare(&ch, &names.settings().amqp)
        .await
        .expect("declare topology");
    let _ = ch.close(200, "ok".into()).await;
}

/// A confirm-mode channel.
pub async fn confirm_channel(conn: &Connection) -> Channel {
    let ch = conn.create_channel().await.expect("channel");
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirm mode");
    ch
}

/// Publishes raw messages to `queue` through the default exchange, waiting for confirms.
pub async fn publish_raw(ch: &Channel, queue: &str, messages: &[(Vec<u8>, BasicProperties)]) {
    let mut confirms = Vec::new();
    for (body, props) in messages {
        confirms.push(
            ch.basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions {
                    mandatory: true,
                    immediate: false,
                },
                body,
                props.clone(),
            )
            .await
            .expect("publish"),
        );
    }
    for c in confirms {
        let conf = c.await.expect("confirm");
        assert!(conf.is_ack(), "test publish not acked");
        assert!(conf.take_message().is_none(), "test publish unroutable");
    }
}

/// Publishes page messages to `queue`.
pub async fn publish_pages(ch: &Channel, queue: &str, pages: &[PageMessage]) {
    let raw: Vec<_> = pages
        .iter()
        .map(|p| (p.body.clone(), p.properties.clone()))
        .collect();
    for chunk in raw.chunks(256) {
        publish_raw(ch, queue, chunk).await;
    }
}

/// The events `Pipeline::process` yields offline for each page message, by page id.
pub fn expected_events(
    names: &Names,
    pages: &[PageMessage],
) -> BTreeMap<String, Vec<pagesift::model::ArticleEvent>> {
    let settings = names.settings();
    let pipeline = pagesift::resources::build_pipeline(&settings.pipeline).expect("pipeline");
    pages
        .iter()
        .map(|p| {
            let hints = pagesift::worker::hints_from_properties(&p.properties);
            let page = pipeline.decode(&p.body, &hints).expect("good fixture page");
            let events = pipeline
                .process(&page, "2000-01-01T00:00:00Z")
                .expect("good fixture page")
                .events;
            (p.page_id.clone(), events)
        })
        .collect()
}

/// A received message.
#[derive(Debug, Clone)]
pub struct Received {
    /// Routing key it was published with.
    pub routing_key: String,
    /// Properties.
    pub properties: BasicProperties,
    /// Body.
    pub body: Vec<u8>,
}

impl Received {
    /// Its `message_id`, if any.
    pub fn message_id(&self) -> Option<String> {
        self.properties.message_id().as_ref().map(|m| m.to_string())
    }
}

/// Consumes `queue` (acking) until `done` holds for what was received, or [`PATIENCE`] runs out
/// (then returns what arrived, for the caller's assertions to report).
pub async fn collect_until(
    conn: &Connection,
    queue: &str,
    done: impl FnMut(&[Received]) -> bool,
) -> Vec<Received> {
    collect_until_idle(conn, queue, PATIENCE, done).await
}

/// As [`collect_until`], but also gives up when nothing arrived for `idle` (a stalled worker
/// fails the test sooner).
pub async fn collect_until_idle(
    conn: &Connection,
    queue: &str,
    idle: Duration,
    mut done: impl FnMut(&[Received]) -> bool,
) -> Vec<Received> {
    let ch = conn.create_channel().await.expect("channel");
    let mut consumer = ch
        .basic_consume(
            queue.into(),
            "".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..BasicConsumeOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("consume");
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !done(&got) {
        let until = deadline.min(tokio::time::Instant::now() + idle);
        match tokio::time::timeout_at(until, consumer.next()).await {
            Ok(Some(Ok(d))) => got.push(Received {
                routing_key: d.routing_key.to_string(),
                properties: d.properties,
                body: d.data,
            }),
            _ => break,
        }
    }
    let _ = ch.close(200, "ok".into()).await;
    got
}

/// Takes every message currently in `queue` (basic.get + ack).
pub async fn drain(conn: &Connection, queue: &str) -> Vec<Received> {
    let ch = conn.create_channel().await.expect("channel");
    let mut got = Vec::new();
    while let Some(m) = ch
        .basic_get(queue.into(), BasicGetOptions::default())
        .await
        .expect("basic.get")
    {
        let d = m.delivery;
        d.acker.ack(BasicAckOptions::default()).await.expect("ack");
        got.push(Received {
            routing_key: d.routing_key.to_string(),
            properties: d.properties,
            body: d.data,
        });
    }
    let _ = ch.close(200, "ok".into()).await;
    got
}

/// Messages ready in `queue` (a passive declare).
pub async fn ready_count(conn: &Connection, queue: &str) -> u32 {
    let ch = conn.create_channel().await.expect("channel");
    let q = ch
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("passive declare");
    let _ = ch.close(200, "ok".into()).await;
    q.message_count()
}

/// Waits until `queue` holds at least `n` ready messages (panics after [`PATIENCE`]).
pub async fn wait_for_ready(conn: &Connection, queue: &str, n: u32, context: &dyn Fn() -> String) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if ready_count(conn, queue).await >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "queue {queue} never reached {n} messages; {}",
            context()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Binds an extra queue to the output exchange with `pattern` (for summaries).
pub async fn bind_extra(conn: &Connection, names: &Names, suffix: &str, pattern: &str) -> String {
    let ch = conn.create_channel().await.expect("channel");
    let q = format!("{}.{suffix}", names.prefix);
    ch.queue_declare(
        q.as_str().into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .expect("declare");
    ch.queue_bind(
        q.as_str().into(),
        names.output().as_str().into(),
        pattern.into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .expect("bind");
    let _ = ch.close(200, "ok".into()).await;
    q
}

/// Consumes `queue` until every id of `want` not in `already` has arrived (as `message_id`),
/// or [`PATIENCE`] runs out; returns what arrived.
pub async fn collect_ids(
    conn: &Connection,
    queue: &str,
    want: &BTreeSet<String>,
    already: &BTreeSet<String>,
) -> Vec<Received> {
    let mut remaining: BTreeSet<String> = want.difference(already).cloned().collect();
    let mut seen = 0;
    collect_until(conn, queue, move |got| {
        for r in &got[seen..] {
            if let Some(id) = r.properties.message_id() {
                remaining.remove(id.as_str());
            }
        }
        seen = got.len();
        remaining.is_empty()
    })
    .await
}

/// The event ids in received article messages.
pub fn event_ids(received: &[Received]) -> BTreeSet<String> {
    received.iter().filter_map(Received::message_id).collect()
}

/// Every event id of the expected events of [`expected_events`].
pub fn all_ids(
    expected: &BTreeMap<String, Vec<pagesift::model::ArticleEvent>>,
) -> BTreeSet<String> {
    expected
        .values()
        .flatten()
        .map(|e| e.event_id.clone())
        .collect()
}

/// The last 40 lines of a worker's log, for assertion messages.
pub fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}
