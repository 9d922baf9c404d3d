//! The broker side of the chaos suite: `rabbitmqctl` (queue depths, stop/start, memory alarm,
//! policies) with guards that always undo a fault, the page publisher, and the collectors that
//! tally article events and dead letters by id while the workers run.

use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, ExchangeDeleteOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection, ConnectionProperties};
use tokio_util::sync::CancellationToken;

use super::pages::{PageMsg, body_key, properties_of};

/// The broker URL of the test run.
pub fn amqp_url() -> String {
    std::env::var("PAGESIFT_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

/// How to get a broker, printed when none answers.
pub const HOW_TO_START: &str = "the chaos suite needs RabbitMQ with `rabbitmqctl` on this machine: \
start it with `rabbitmq-server -detached && rabbitmqctl await_startup` (or run tests/run.sh, \
which starts one), or skip the suite with PAGESIFT_CHAOS=skip";

/// Runs `rabbitmqctl ARGS`, returning stdout; panics with the output when it fails.
pub fn ctl(args: &[&str]) -> String {
    let out = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run rabbitmqctl ({e}); {HOW_TO_START}"));
    assert!(
        out.status.success(),
        "rabbitmqctl {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Best effort `rabbitmqctl` for guards (never panics: they run while unwinding).
pub fn ctl_quiet(args: &[&str]) -> bool {
    Command::new("rabbitmqctl")
        .args(args)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Ready and unacknowledged messages of a queue (None when the queue does not exist).
pub fn depth(queue: &str) -> Option<(u64, u64)> {
    let out = ctl(&[
        "list_queues",
        "-q",
        "--no-table-headers",
        "name",
        "messages_ready",
        "messages_unacknowledged",
    ]);
    out.lines().find_map(|l| {
        let mut f = l.split_whitespace();
        (f.next()? == queue).then_some(())?;
        Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
    })
}

/// Brings the broker application back up when dropped (a scenario that stops it may panic).
pub struct AppGuard;

impl Drop for AppGuard {
    fn drop(&mut self) {
        ctl_quiet(&["start_app"]);
        ctl_quiet(&["await_startup"]);
    }
}

/// Restores the memory high watermark when dropped.
pub struct WatermarkGuard(pub String);

impl Drop for WatermarkGuard {
    fn drop(&mut self) {
        if !ctl_quiet(&["set_vm_memory_high_watermark", &self.0]) {
            ctl_quiet(&["set_vm_memory_high_watermark", "0.4"]);
        }
    }
}

/// The broker's current memory high watermark as a fraction (0.4 when it cannot be read).
pub fn current_watermark() -> String {
    let out = Command::new("rabbitmqctl")
        .args(["eval", "vm_memory_monitor:get_vm_memory_high_watermark()."])
        .output();
    out.ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|s| s.parse::<f64>().is_ok_and(|f| f > 0.01 && f <= 1.0))
        .unwrap_or_else(|| "0.4".to_owned())
}

/// Clears a policy when dropped.
pub struct PolicyGuard(pub String);

impl Drop for PolicyGuard {
    fn drop(&mut self) {
        ctl_quiet(&["clear_policy", &self.0]);
    }
}

/// Connects, retrying for a while (the broker may be restarting).
pub async fn connect(url: &str) -> lapin::Result<Connection> {
    let mut last = None;
    for _ in 0..60 {
        match Connection::connect(url, ConnectionProperties::default()).await {
            Ok(c) => return Ok(c),
            Err(e) => {
                last = Some(e);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    Err(last.expect("at least one attempt"))
}

/// Waits until `queue` exists (declared by a worker), checking passively.
pub async fn wait_for_queue(conn: &Connection, queue: &str, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(ch) = conn.create_channel().await {
            let passive = QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            };
            if ch
                .queue_declare(queue.into(), passive, FieldTable::default())
                .await
                .is_ok()
            {
                let _ = ch.close(200, "ok".into()).await;
                return true;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

/// Publishes every page to the default exchange with routing key `queue`, persistent, with
/// confirms (every confirm must be an ack).
pub async fn publish_pages(conn: &Connection, queue: &str, pages: &[PageMsg]) {
    let ch = conn.create_channel().await.expect("publisher channel");
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirm.select");
    for chunk in pages.chunks(200) {
        let mut confirms = Vec::with_capacity(chunk.len());
        for m in chunk {
            let props = properties_of(m.content_type.as_deref(), &m.page_id);
            let confirm = ch
                .basic_publish(
                    "".into(),
                    queue.into(),
                    BasicPublishOptions::default(),
                    &m.body,
                    props,
                )
                .await
                .expect("publish page");
            confirms.push(confirm);
        }
        for c in confirms {
            let conf = c.await.expect("page confirm");
            assert!(conf.is_ack(), "broker refused a page: {conf:?}");
        }
    }
    let _ = ch.close(200, "done".into()).await;
}

/// Deletes the scenario's queues and exchanges (best effort).
pub async fn cleanup(url: &str, queues: &[&str], exchanges: &[&str]) {
    let Ok(conn) = connect(url).await else { return };
    for q in queues.iter().filter(|q| !q.is_empty()) {
        if let Ok(ch) = conn.create_channel().await {
            let _ = ch
                .queue_delete((*q).into(), QueueDeleteOptions::default())
                .await;
        }
    }
    for x in exchanges {
        if let Ok(ch) = conn.create_channel().await {
            let _ = ch
                .exchange_delete((*x).into(), ExchangeDeleteOptions::default())
                .await;
        }
    }
    let _ = conn.close(200, "bye".into()).await;
}

/// A dead letter as received.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub class: Option<String>,
    pub reason: Option<String>,
}

/// What the collectors saw.
#[derive(Debug, Default)]
pub struct Tally {
    /// Deliveries per event id (message_id of the article events).
    pub events: HashMap<String, u32>,
    /// Article events without a message_id.
    pub anonymous: u64,
    /// Dead letters per body key.
    pub dead: HashMap<String, Vec<DeadLetter>>,
    /// Times a collector had to reconnect.
    pub reconnects: u32,
}

impl Tally {
    pub fn unique(&self) -> usize {
        self.events.len()
    }
}

/// Shared tally.
pub type Shared = Arc<Mutex<Tally>>;

fn header(props: &BasicProperties, name: &str) -> Option<String> {
    let headers = props.headers().as_ref()?;
    match headers.inner().get(name)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        other => Some(format!("{other:?}")),
    }
}

/// Which queue a collector reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Articles,
    Dead,
}

/// Consumes `queue` until `stop`, reconnecting after any failure (the broker may restart),
/// recording every delivery in `tally` and acking it. `open` gates the start (backpressure).
pub async fn collect(
    url: String,
    queue: String,
    source: Source,
    tally: Shared,
    open: tokio::sync::watch::Receiver<bool>,
    stop: CancellationToken,
) {
    let mut open = open;
    while !*open.borrow() {
        tokio::select! {
            _ = stop.cancelled() => return,
            r = open.changed() => if r.is_err() { return },
        }
    }
    let mut first = true;
    while !stop.is_cancelled() {
        if !first {
            tally.lock().expect("tally").reconnects += 1;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        first = false;
        let _ = consume_once(&url, &queue, source, &tally, &stop).await;
    }
}

async fn consume_once(
    url: &str,
    queue: &str,
    source: Source,
    tally: &Shared,
    stop: &CancellationToken,
) -> lapin::Result<()> {
    let conn = Connection::connect(url, ConnectionProperties::default()).await?;
    if !wait_for_queue(&conn, queue, Duration::from_secs(2)).await {
        let _ = conn.close(200, "no queue yet".into()).await;
        return Ok(());
    }
    let ch = conn.create_channel().await?;
    ch.basic_qos(500, BasicQosOptions::default()).await?;
    let mut consumer = ch
        .basic_consume(
            queue.into(),
            "chaos-collector".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    loop {
        let delivery = tokio::select! {
            _ = stop.cancelled() => break,
            d = consumer.next() => d,
        };
        let Some(delivery) = delivery else { break };
        let delivery = delivery?;
        {
            let mut t = tally.lock().expect("tally");
            match source {
                Source::Articles => match delivery.properties.message_id() {
                    Some(id) => {
                        // A redelivery to the collector itself (its ack was lost) is not a
                        // duplicate published by the worker.
                        let n = t.events.entry(id.as_str().to_owned()).or_insert(0);
                        if *n == 0 || !delivery.redelivered {
                            *n += 1;
                        }
                    }
                    None => t.anonymous += 1,
                },
                Source::Dead => {
                    let letter = DeadLetter {
                        class: header(&delivery.properties, "x-pagesift-error-class"),
                        reason: header(&delivery.properties, "x-pagesift-error-reason"),
                    };
                    t.dead
                        .entry(body_key(&delivery.data))
                        .or_default()
                        .push(letter);
                }
            }
        }
        delivery.acker.ack(BasicAckOptions::default()).await?;
    }
    let _ = conn.close(200, "collector done".into()).await;
    Ok(())
}
