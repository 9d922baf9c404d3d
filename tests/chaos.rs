//! The chaos suite (issue 5): real `pagesift run` processes on random queue names, 2,000+ pages
//! each, something broken on purpose mid-stream, then proof by `event_id` that nothing was lost.
//!
//! Scenarios (run serially in ONE test: some break the shared broker for everyone):
//! `kill` (kill -9 a worker three times), `cut` (a TCP relay drops every connection twice),
//! `restart` (`rabbitmqctl stop_app`/`start_app`), `poison` (10% bad messages), `backpressure`
//! (output queue full with `reject-publish`), `drain` (SIGTERM under load), `blocked` (memory
//! alarm longer than the workers' publish timeout), `classic` (a classic input queue: 10% bad
//! messages and a kill -9, the worker's own delivery limit instead of the broker's), `protocol`
//! (messages lapin could not parse before our patch — a header table nested 3,000 levels, a
//! `message_id` and a header key that are not UTF-8 — sent byte for byte between the good
//! pages), `dlq` (the dead-letter queue deleted mid-run, then the bad pages), `exchange` (the
//! output exchange deleted mid-run with `amqp.declare = false`, declared again by the test) and
//! `halfopen` (the relay stops forwarding for two heartbeats and a second). Each checks: every article of every good page arrived at least once, every bad page
//! is in the dead-letter queue with its class and reason, no page is left ready or unacked, and
//! every worker asked to stop exits 0. A table is printed and written to
//! `target/chaos-report.md`.
//!
//! `PAGESIFT_CHAOS=skip` skips the suite (`tests/run.sh --quick`); `PAGESIFT_CHAOS=kill,cut`
//! runs only those; `PAGESIFT_CHAOS_PAGES` (default 2000) and `PAGESIFT_CHAOS_SEED` replay a run.
//! There is no silent skip: without a broker the test fails and says how to start one.

#[path = "chaos/broker.rs"]
mod broker;
#[path = "chaos/pages.rs"]
mod pages;
#[path = "support/raw_amqp.rs"]
mod raw_amqp;
#[path = "chaos/relay.rs"]
mod relay;
#[path = "chaos/workers.rs"]
mod workers;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use pagesift::pipeline::Pipeline;
use pagesift::settings::Settings;
use tokio_util::sync::CancellationToken;

use broker::{Shared, Source, Tally};
use pages::{Expect, PageMsg, Rng};
use workers::{Topology, Worker, WorkerSpec};

const SCENARIOS: [&str; 12] = [
    "kill",
    "cut",
    "restart",
    "poison",
    "backpressure",
    "drain",
    "blocked",
    "classic",
    "protocol",
    "dlq",
    "exchange",
    "halfopen",
];

/// Longest a scenario may take to deliver everything before it is declared failed (a liveness
/// bound so a lost page fails the test instead of hanging it; not a performance assertion).
const COMPLETE_WITHIN: Duration = Duration::from_secs(240);

/// One line of the report.
#[derive(Debug, Default, Clone)]
struct Row {
    name: String,
    pages: usize,
    bad: usize,
    articles: usize,
    received: usize,
    duplicates: u64,
    dead_letters: usize,
    max_recovery: f64,
    seconds: f64,
    notes: String,
    failure: Option<String>,
}

/// A scenario in progress.
struct Run {
    name: String,
    url: String,
    spec: WorkerSpec,
    pages: Vec<PageMsg>,
    expected: HashMap<String, String>,
    dead: pages::ExpectedDead,
    tally: Shared,
    stop: CancellationToken,
    open: tokio::sync::watch::Sender<bool>,
    collectors: Vec<tokio::task::JoinHandle<()>>,
    workers: Vec<Worker>,
    spawned: usize,
    /// Each fault: when it began and ended, which worker's log shows the recovery (None: any),
    /// and whether recovery needs a session opened after the fault began (a page published on
    /// the old session does not count).
    fault_ends: Vec<(SystemTime, SystemTime, Option<usize>, bool)>,
    probe: Option<lapin::Connection>,
    started: Instant,
    notes: Vec<String>,
}

struct Ctx {
    pipeline: Pipeline,
    url: String,
    fixtures: PathBuf,
    n: usize,
    rng: Rng,
    log_dir: PathBuf,
}

impl Run {
    fn new(ctx: &mut Ctx, name: &str, poison_pct: usize, worker_url: Option<String>) -> Run {
        let tag = format!("chaos-{name}-{:08x}", ctx.rng.next_u64() as u32);
        let pages = pages::corpus(
            &ctx.pipeline,
            &ctx.fixtures,
            &tag,
            ctx.n,
            poison_pct,
            &mut ctx.rng,
        );
        let (expected, dead) = pages::expectations(&pages, ctx.pipeline.limits().max_page_bytes);
        // An oracle that expects nothing proves nothing.
        assert!(
            !expected.is_empty(),
            "{name}: the oracle expects no article at all"
        );
        let spec = WorkerSpec {
            url: worker_url.unwrap_or_else(|| ctx.url.clone()),
            topology: Topology::new(&tag),
            concurrency: 2,
            prefetch: 8,
            extra: vec![("PAGESIFT__SHUTDOWN__GRACE_SECONDS".into(), "20".into())],
            log_dir: ctx.log_dir.join(&tag),
            http: false,
        };
        let (open, _) = tokio::sync::watch::channel(true);
        Run {
            name: name.to_owned(),
            url: ctx.url.clone(),
            spec,
            pages,
            expected,
            dead,
            tally: Arc::new(Mutex::new(Tally::default())),
            stop: CancellationToken::new(),
            open,
            collectors: Vec::new(),
            workers: Vec::new(),
            spawned: 0,
            fault_ends: Vec::new(),
            probe: None,
            started: Instant::now(),
            notes: Vec::new(),
        }
    }

    fn spawn_worker(&mut self) -> usize {
        self.spawned += 1;
        let w = self.spec.spawn(&format!("worker-{}", self.spawned));
        self.workers.push(w);
        self.workers.len() - 1
    }

    /// Starts `k` workers and the collectors, waits for the topology, publishes every page.
    async fn start(&mut self, k: usize, gate_open: bool) {
        self.open.send_replace(gate_open);
        for _ in 0..k {
            self.spawn_worker();
        }
        let conn = broker::connect(&self.url).await.expect("test connection");
        let t = self.spec.topology.clone();
        for q in [&t.input, &t.all_queue, &t.dead_queue] {
            if !broker::wait_for_queue(&conn, q, Duration::from_secs(60)).await {
                panic!(
                    "{}: the workers did not declare queue {q} within 60 s\n{}",
                    self.name,
                    self.logs()
                );
            }
        }
        for (queue, source) in [
            (t.all_queue.clone(), Source::Articles),
            (t.dead_queue.clone(), Source::Dead),
        ] {
            let open = if source == Source::Dead {
                tokio::sync::watch::channel(true).1
            } else {
                self.open.subscribe()
            };
            self.collectors.push(tokio::spawn(broker::collect(
                self.url.clone(),
                queue,
                source,
                self.tally.clone(),
                open,
                self.stop.clone(),
            )));
        }
        self.started = Instant::now();
        broker::publish_pages(&conn, &t.input, &self.pages).await;
        let _ = conn.close(200, "published".into()).await;
        let ms = self.started.elapsed().as_millis();
        self.notes.push(format!("published in {ms} ms"));
    }

    /// Fraction of the pages taken off the input queue (its ready count, read with a passive
    /// declare: immediate, unlike `rabbitmqctl`'s statistics). None while the broker is away.
    async fn consumed(&mut self) -> Option<f64> {
        if self.probe.as_ref().is_none_or(|c| !c.status().connected()) {
            self.probe =
                lapin::Connection::connect(&self.url, lapin::ConnectionProperties::default())
                    .await
                    .ok();
        }
        let ch = self.probe.as_ref()?.create_channel().await.ok()?;
        let passive = lapin::options::QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        let q = ch
            .queue_declare(
                self.spec.topology.input.as_str().into(),
                passive,
                lapin::types::FieldTable::default(),
            )
            .await
            .ok()?;
        let _ = ch.close(200, "probe".into()).await;
        Some(1.0 - f64::from(q.message_count()) / self.pages.len().max(1) as f64)
    }

    /// Waits until the workers have taken a fraction of the pages (or the liveness bound), so
    /// the fault lands mid-stream; returns the fraction reached.
    async fn wait_progress(&mut self, fraction: f64) -> f64 {
        let start = Instant::now();
        loop {
            let c = self.consumed().await.unwrap_or(0.0);
            if c >= fraction || start.elapsed() > COMPLETE_WITHIN {
                return c;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Marks the end of a fault; recovery is read from `worker`'s log (None: any worker's),
    /// counting only pages of a session started after the fault when `new_session`.
    fn fault_over(&mut self, worker: Option<usize>, new_session: bool) {
        let now = SystemTime::now();
        self.fault_ends.push((now, now, worker, new_session));
    }

    /// Like [`Run::fault_over`] for a fault that began at `began` (any worker's log).
    fn fault_between(&mut self, began: SystemTime, new_session: bool) {
        self.fault_ends
            .push((began, SystemTime::now(), None, new_session));
    }

    /// Seconds from each fault's end to the first page a worker published after it (0 when the
    /// workers were back before the fault officially ended); for faults with a duration, the
    /// outage (fault start to first page of a new session) goes into `outages`.
    fn recoveries(&self, outages: &mut Vec<f64>) -> Vec<f64> {
        let logs: Vec<Vec<(f64, f64)>> =
            self.workers.iter().map(|w| settled_times(&w.log)).collect();
        self.fault_ends
            .iter()
            .map(|(began, end, worker, new_session)| {
                let began = seconds_of_day(*began);
                let end = seconds_of_day(*end);
                let first = |times: &Vec<(f64, f64)>| {
                    times
                        .iter()
                        .find(|(t, session)| {
                            // Workers may be back before `start_app` returns: recovery 0.
                            if *new_session {
                                *session >= began && *t >= began
                            } else {
                                *t >= end
                            }
                        })
                        .map(|(t, _)| *t)
                };
                let after = match worker {
                    Some(i) => logs.get(*i).and_then(first),
                    None => logs.iter().filter_map(first).reduce(f64::min),
                };
                if *new_session
                    && end > began
                    && let Some(t) = after
                {
                    outages.push(t - began);
                }
                after.map_or(f64::NAN, |t| (t - end).max(0.0))
            })
            .collect()
    }

    fn done(&self) -> bool {
        let t = self.tally.lock().expect("tally");
        t.unique() >= self.expected.len()
            && self.expected.keys().all(|id| t.events.contains_key(id))
            && self.dead.keys().all(|k| t.dead.contains_key(k))
    }

    fn logs(&self) -> String {
        self.workers
            .iter()
            .map(|w| format!("--- {}\n{}", w.log.display(), w.tail(15)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Waits for completion, settles the queues, stops the workers and checks everything.
    async fn finish(mut self) -> Row {
        let start = Instant::now();
        while !self.done() && start.elapsed() < COMPLETE_WITHIN {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut failures = Vec::new();
        if !self.done() {
            failures.push(format!("not everything arrived within {COMPLETE_WITHIN:?}"));
        }
        // Nothing may stay ready or unacked on the input queue (the broker's view).
        let t = self.spec.topology.clone();
        let mut last = None;
        for _ in 0..100 {
            last = broker::depth(&t.input);
            if last == Some((0, 0)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        if last != Some((0, 0)) {
            failures.push(format!(
                "input queue not empty: (ready, unacked) = {last:?}"
            ));
        }
        // Every live worker must drain and exit 0 on SIGTERM.
        let mut exits = Vec::new();
        for w in &mut self.workers {
            if w.alive() {
                w.term();
                match w.wait_for(Duration::from_secs(35)) {
                    Some(s) if s.success() => exits.push(0),
                    Some(s) => failures.push(format!(
                        "worker {} exited with {s} on SIGTERM",
                        w.log.display()
                    )),
                    None => failures.push(format!(
                        "worker {} still running 35 s after SIGTERM",
                        w.log.display()
                    )),
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        self.stop.cancel();
        for c in self.collectors.drain(..) {
            let _ = c.await;
        }
        let row = self.check(failures, exits.len());
        broker::cleanup(
            &self.url,
            &[&t.input, &t.dead_queue, &t.all_queue],
            &[&t.output_exchange, &t.dead_exchange],
        )
        .await;
        row
    }

    fn check(&self, mut failures: Vec<String>, clean_exits: usize) -> Row {
        let t = self.tally.lock().expect("tally");
        let missing: Vec<_> = self
            .expected
            .keys()
            .filter(|id| !t.events.contains_key(*id))
            .collect();
        if !missing.is_empty() {
            let pages: std::collections::BTreeSet<_> =
                missing.iter().map(|id| &self.expected[*id]).collect();
            failures.push(format!(
                "LOST {} articles of {} pages, e.g. pages {:?}",
                missing.len(),
                pages.len(),
                pages.iter().take(5).collect::<Vec<_>>()
            ));
        }
        let unexpected = t
            .events
            .keys()
            .filter(|id| !self.expected.contains_key(*id))
            .count();
        if unexpected > 0 {
            failures.push(format!(
                "{unexpected} article events with ids the offline pipeline does not produce"
            ));
        }
        if t.anonymous > 0 {
            failures.push(format!("{} article events without message_id", t.anonymous));
        }
        let good_keys: HashMap<String, &str> = self
            .pages
            .iter()
            .filter(|m| matches!(m.expect, Expect::Articles(_)))
            .map(|m| (pages::body_key(&m.body), m.page_id.as_str()))
            .collect();
        let mut dead_letters = 0;
        for (key, letters) in &t.dead {
            dead_letters += letters.len();
            if let Some(page) = good_keys.get(key) {
                failures.push(format!(
                    "good page {page} was dead-lettered: {:?}",
                    letters[0]
                ));
                continue;
            }
            let Some((page, class)) = self.dead.get(key) else {
                failures.push("a dead letter that matches no published page".into());
                continue;
            };
            for l in letters {
                if l.class.as_deref() != Some(*class) {
                    failures.push(format!(
                        "dead letter of {page}: class {:?}, expected {class}",
                        l.class
                    ));
                }
                if l.reason.as_deref().is_none_or(str::is_empty) {
                    failures.push(format!("dead letter of {page} has no reason header"));
                }
            }
        }
        let missing_dead = self
            .dead
            .keys()
            .filter(|k| !t.dead.contains_key(*k))
            .count();
        if missing_dead > 0 {
            failures.push(format!(
                "{missing_dead} bad pages missing from the dead-letter queue"
            ));
        }
        let deliveries: u64 = t.events.values().map(|&n| u64::from(n)).sum();
        let mut outages = Vec::new();
        let recoveries = self.recoveries(&mut outages);
        // No page after a fault: the workers had finished before it landed (loss and liveness
        // are checked above by event id, so this only weakens the scenario; it is reported).
        let late = recoveries.iter().filter(|r| r.is_nan()).count();
        let max_recovery = recoveries
            .iter()
            .copied()
            .filter(|r| !r.is_nan())
            .fold(0.0f64, f64::max);
        let mut notes = self.notes.clone();
        if late > 0 {
            notes.push(format!(
                "{late} fault(s) landed after the last page was published"
            ));
        }
        for o in &outages {
            notes.push(format!(
                "first page of a new session {o:.1} s after the fault began"
            ));
        }
        notes.push(format!(
            "{clean_exits} clean SIGTERM exits; collector reconnects {}",
            t.reconnects
        ));
        failures.truncate(12);
        Row {
            name: self.name.clone(),
            pages: self.pages.len(),
            bad: self.dead.len(),
            articles: self.expected.len(),
            received: t.unique(),
            duplicates: deliveries.saturating_sub(t.unique() as u64),
            dead_letters,
            max_recovery,
            seconds: self.started.elapsed().as_secs_f64(),
            notes: notes.join("; "),
            failure: (!failures.is_empty())
                .then(|| format!("{}\n{}", failures.join("\n"), self.logs())),
        }
    }
}

/// UTC seconds since midnight (the worker logs' JSON timestamps are compared with it).
fn seconds_of_day(t: SystemTime) -> f64 {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    (d.as_secs() % 86_400) as f64 + f64::from(d.subsec_micros()) / 1e6
}

/// Times (UTC seconds of day) of the `page settled` lines with outcome `published` in a
/// worker's JSON log, each with the start of its session (the last `consuming` line before it).
fn settled_times(log: &Path) -> Vec<(f64, f64)> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut session = f64::NEG_INFINITY;
    let mut out = Vec::new();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let Some(t) = v
            .get("timestamp")
            .and_then(|t| t.as_str())
            .and_then(clock_seconds)
        else {
            continue;
        };
        match v.get("message").and_then(|m| m.as_str()) {
            Some("consuming") => session = t,
            Some("page settled")
                if v.get("outcome").and_then(|o| o.as_str()) == Some("published") =>
            {
                out.push((t, session));
            }
            _ => {}
        }
    }
    out
}

/// `2026-01-01T12:34:56.789Z` -> seconds since midnight.
fn clock_seconds(ts: &str) -> Option<f64> {
    let clock = ts.split('T').nth(1)?.trim_end_matches('Z');
    let mut parts = clock.split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let sec: f64 = parts.next()?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + sec)
}

fn sum_cpu(workers: &[Worker]) -> f64 {
    workers.iter().map(Worker::cpu_seconds).sum()
}

/// 1. kill -9 a worker three times at random moments while two run; each is restarted.
async fn kill(ctx: &mut Ctx) -> Row {
    let mut run = Run::new(ctx, "kill", 0, None);
    run.start(2, true).await;
    let mut marks: Vec<f64> = (0..3)
        .map(|i| {
            ctx.rng
                .float(0.05 + 0.25 * i as f64, 0.25 + 0.25 * i as f64)
        })
        .collect();
    marks.sort_by(f64::total_cmp);
    for mark in marks {
        kill_one_at(&mut run, ctx, mark).await;
    }
    run.finish().await
}

/// Waits until `mark` of the pages are taken, kills a live worker with -9 and starts a fresh
/// one (the fault is over when it settles a page).
async fn kill_one_at(run: &mut Run, ctx: &mut Ctx, mark: f64) {
    let at = run.wait_progress(mark).await;
    let live: Vec<usize> = (0..run.workers.len())
        .filter(|&i| run.workers[i].alive())
        .collect();
    let victim = *ctx.rng.pick(&live);
    run.workers[victim].kill9();
    run.notes.push(format!("killed at {:.0}%", at * 100.0));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fresh = run.spawn_worker();
    run.fault_over(Some(fresh), true);
}

/// 2. A TCP relay between workers and broker drops every connection, twice.
async fn cut(ctx: &mut Ctx) -> Row {
    let upstream: SocketAddr = broker_addr(&ctx.url);
    let relay = relay::Relay::start(upstream).await;
    let url = format!("amqp://guest:guest@{}/%2f", relay.addr);
    let mut run = Run::new(ctx, "cut", 0, Some(url));
    run.start(2, true).await;
    for mark in [ctx.rng.float(0.1, 0.35), ctx.rng.float(0.45, 0.7)] {
        let at = run.wait_progress(mark).await;
        relay.cut_all();
        run.fault_over(None, true);
        run.notes.push(format!("cut at {:.0}%", at * 100.0));
    }
    let row = run.finish().await;
    let accepted = relay.accepted.load(std::sync::atomic::Ordering::Relaxed);
    Row {
        notes: format!("{}; relay accepted {accepted} connections", row.notes),
        ..row
    }
}

/// 3. The broker application stops and starts mid-stream.
async fn restart(ctx: &mut Ctx) -> Row {
    let mut run = Run::new(ctx, "restart", 0, None);
    // rabbitmqctl takes a second or two: slow the workers so the fault lands mid-stream.
    run.spec.concurrency = 1;
    run.start(1, true).await;
    let at = run.wait_progress(ctx.rng.float(0.01, 0.05)).await;
    let began = SystemTime::now();
    {
        let _guard = broker::AppGuard;
        let t0 = Instant::now();
        broker::ctl(&["stop_app"]);
        tokio::time::sleep(Duration::from_secs(3)).await;
        broker::ctl(&["start_app"]);
        run.notes.push(format!(
            "stop_app at {:.0}%, back after {:.1} s",
            at * 100.0,
            t0.elapsed().as_secs_f64()
        ));
    }
    run.fault_between(began, true);
    run.finish().await
}

/// 4. 10% poison: every kind of bad input among good pages.
async fn poison(ctx: &mut Ctx) -> Row {
    let mut run = Run::new(ctx, "poison", 10, None);
    let mut kinds: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for m in &run.pages {
        if let Some(k) = m.kind.strip_prefix("poison:") {
            *kinds.entry(k).or_default() += 1;
        }
    }
    run.notes.push(format!("mix {kinds:?}"));
    run.start(2, true).await;
    run.finish().await
}

/// 5. The output queue is full (max-length, reject-publish) until a consumer drains it.
async fn backpressure(ctx: &mut Ctx) -> Row {
    let mut run = Run::new(ctx, "backpressure", 0, None);
    let policy = format!("{}-bp", run.spec.topology.all_queue);
    let pattern = format!("^{}$", run.spec.topology.all_queue.replace('.', "\\."));
    broker::ctl(&[
        "set_policy",
        "--apply-to",
        "queues",
        "--priority",
        "10",
        &policy,
        &pattern,
        r#"{"max-length":300,"overflow":"reject-publish"}"#,
    ]);
    let _guard = broker::PolicyGuard(policy);
    run.start(2, false).await;
    // The queue fills; once the workers stop taking pages, watch them for a while.
    let mut last = run.consumed().await.unwrap_or(0.0);
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = run.consumed().await.unwrap_or(0.0);
        if (now - last).abs() < f64::EPSILON || run.started.elapsed() > Duration::from_secs(60) {
            break;
        }
        last = now;
    }
    let cpu0 = sum_cpu(&run.workers);
    let t0 = Instant::now();
    let c0 = run.consumed().await.unwrap_or(0.0);
    tokio::time::sleep(Duration::from_secs(8)).await;
    let cpu = sum_cpu(&run.workers) - cpu0;
    let wall = t0.elapsed().as_secs_f64();
    let c1 = run.consumed().await.unwrap_or(0.0);
    run.notes.push(format!(
        "stalled at {:.0}% -> {:.0}% taken for {wall:.1} s: workers used {cpu:.2} CPU s",
        c0 * 100.0,
        c1 * 100.0
    ));
    let busy = cpu / wall / run.workers.len() as f64;
    run.open.send_replace(true);
    run.fault_over(None, false);
    let mut row = run.finish().await;
    if busy > 0.5 {
        let msg = format!("busy loop while blocked: {busy:.2} of a core per worker");
        row.failure = Some(row.failure.map_or(msg.clone(), |f| format!("{msg}\n{f}")));
    }
    row
}

/// 6. SIGTERM under full load with ~50 pages in flight; a new worker finishes the rest.
async fn drain(ctx: &mut Ctx) -> Row {
    let mut run = Run::new(ctx, "drain", 0, None);
    run.spec.concurrency = 8;
    run.spec.prefetch = 50;
    run.start(1, true).await;
    let at = run.wait_progress(ctx.rng.float(0.1, 0.4)).await;
    run.workers[0].term();
    let status = run.workers[0].wait_for(Duration::from_secs(35));
    let after = run.consumed().await.unwrap_or(0.0);
    run.notes.push(format!(
        "SIGTERM at {:.0}% taken (prefetch 50): exit {status:?}, {:.0}% taken after the exit",
        at * 100.0,
        after * 100.0
    ));
    // The broker's statistics lag: give them a few seconds to show the requeued pages.
    let mut unacked = u64::MAX;
    for _ in 0..30 {
        unacked = broker::depth(&run.spec.topology.input).map_or(u64::MAX, |d| d.1);
        if unacked == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let dup_after_drain = run
        .tally
        .lock()
        .expect("tally")
        .events
        .values()
        .filter(|&&n| n > 1)
        .count();
    let fresh = run.spawn_worker();
    run.fault_over(Some(fresh), true);
    let mut row = run.finish().await;
    let mut errors = Vec::new();
    if !status.is_some_and(|s| s.success()) {
        errors.push(format!("worker did not exit 0 after SIGTERM: {status:?}"));
    }
    if unacked != 0 {
        errors.push(format!(
            "{unacked} pages still unacked after the worker exited"
        ));
    }
    if row.duplicates > 0 {
        errors.push(format!("graceful drain produced {} duplicates ({dup_after_drain} before restart): in-flight pages were not finished and acked", row.duplicates));
    }
    if !errors.is_empty() {
        let msg = errors.join("\n");
        row.failure = Some(row.failure.map_or(msg.clone(), |f| format!("{msg}\n{f}")));
    }
    row
}

/// 7. The memory alarm blocks publishers; the workers wait and resume when it clears.
async fn blocked(ctx: &mut Ctx) -> Row {
    let mut run = Run::new(ctx, "blocked", 0, None);
    let watermark = broker::current_watermark();
    run.spec.concurrency = 1;
    // The alarm (12 s) outlasts the publish timeout: confirms that never come while the
    // broker blocks publishers must not lose or dead-letter a page.
    run.spec.extra.push((
        "PAGESIFT__AMQP__PUBLISH_TIMEOUT_SECONDS".into(),
        BLOCKED_PUBLISH_TIMEOUT_SECONDS.to_string(),
    ));
    run.start(2, true).await;
    let at = run.wait_progress(ctx.rng.float(0.02, 0.15)).await;
    {
        let _guard = broker::WatermarkGuard(watermark.clone());
        broker::ctl(&["set_vm_memory_high_watermark", "0.0000001"]);
        let set = run.consumed().await.unwrap_or(0.0);
        tokio::time::sleep(Duration::from_secs(12)).await;
        let end = run.consumed().await.unwrap_or(0.0);
        run.notes.push(format!(
            "alarm on at {:.0}% ({:.0}% once set) for 12 s (publish timeout {BLOCKED_PUBLISH_TIMEOUT_SECONDS} s), {:.0}% taken when it cleared (watermark restored to {watermark})",
            at * 100.0,
            set * 100.0,
            end * 100.0
        ));
    }
    run.fault_over(None, false);
    run.finish().await
}

/// The workers' publish timeout in the `blocked` scenario (shorter than its 12 s alarm).
const BLOCKED_PUBLISH_TIMEOUT_SECONDS: u64 = 5;

/// 8. A classic input queue, 10% bad messages, and a kill -9 mid-stream.
///
/// A classic queue has no broker delivery limit: the worker counts deliveries itself.
async fn classic(ctx: &mut Ctx) -> Row {
    let mut run = Run::new(ctx, "classic", 10, None);
    run.spec
        .extra
        .push(("PAGESIFT__AMQP__INPUT_QUEUE_TYPE".into(), "classic".into()));
    run.notes.push("classic input".into());
    run.start(2, true).await;
    let mark = ctx.rng.float(0.2, 0.5);
    kill_one_at(&mut run, ctx, mark).await;
    run.finish().await
}

/// Protocol poisons of the `protocol` scenario.
const PROTOCOL_POISONS: usize = 60;

/// 9. Protocol poison between the good pages.
///
/// Half the good pages, then [`PROTOCOL_POISONS`] messages whose content headers the unpatched
/// client library could not parse (three kinds in turn), then the other half. Each must be
/// dead-lettered `bad_properties` with a reason.
async fn protocol(ctx: &mut Ctx) -> Row {
    use raw_amqp::{RawProperties, RawPublisher, long_string, nested_table_value, table};
    let mut run = Run::new(ctx, "protocol", 0, None);
    let input = run.spec.topology.input.clone();
    let mut poisons = Vec::new();
    for i in 0..PROTOCOL_POISONS {
        // A distinct body per poison: dead letters are matched to it by the body's hash.
        let body = format!("本报讯 协议毒药第{i}号。{input}").into_bytes();
        let id = format!("{input}-protocol-{i:03}");
        let mut props = RawProperties {
            content_type: Some(b"text/plain".to_vec()),
            persistent: true,
            ..RawProperties::default()
        };
        match i % 3 {
            0 => {
                props.headers = Some(table(&[
                    (b"page_id", long_string(id.as_bytes())),
                    (b"trace", nested_table_value(3_000, b"n")),
                ]));
            }
            1 => {
                let mut raw_id = id.clone().into_bytes();
                raw_id.extend_from_slice(b"-\xff\xfe");
                props.message_id = Some(raw_id);
            }
            _ => {
                props.headers = Some(table(&[
                    (b"page_id", long_string(id.as_bytes())),
                    (b"source-\xe9", long_string(b"x")),
                ]));
            }
        }
        run.dead.insert(
            pages::dead_letter_key(&body, ctx.pipeline.limits().max_page_bytes),
            (id, "bad_properties"),
        );
        poisons.push((props.encode(), body));
    }
    let rest = run.pages.split_off(run.pages.len() / 2);
    let first = run.pages.len();
    run.start(2, true).await;
    let mut raw = RawPublisher::connect(&run.url).await;
    for (props, body) in &poisons {
        raw.publish("", &input, props, body).await;
    }
    let conn = broker::connect(&run.url).await.expect("test connection");
    broker::publish_pages(&conn, &input, &rest).await;
    let _ = conn.close(200, "published".into()).await;
    run.pages.extend(rest);
    run.notes.push(format!(
        "{PROTOCOL_POISONS} protocol poisons (3,000-level headers, message_id and header key not UTF-8) after page {first}"
    ));
    run.finish().await
}

/// Adds `msg` to a row's failure.
fn fail(row: &mut Row, msg: String) {
    row.failure = Some(
        row.failure
            .take()
            .map_or(msg.clone(), |f| format!("{msg}\n{f}")),
    );
}

/// The `message` of every JSON log line of `log` written at or after `since` (UTC seconds of
/// day).
fn messages_since(log: &Path, since: f64) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|v| {
            v.get("timestamp")
                .and_then(|t| t.as_str())
                .and_then(clock_seconds)
                .is_some_and(|t| t >= since)
        })
        .filter_map(|v| v.get("message")?.as_str().map(str::to_owned))
        .collect()
}

/// Moves the bad pages of `run.pages` out (they are published later by the scenario).
fn take_bad_pages(run: &mut Run) -> Vec<PageMsg> {
    let (good, bad): (Vec<_>, Vec<_>) = std::mem::take(&mut run.pages)
        .into_iter()
        .partition(|m| matches!(m.expect, Expect::Articles(_)));
    run.pages = good;
    bad
}

/// 10. The dead-letter queue is deleted mid-run (`amqp.declare = true`), then bad pages come.
///
/// The good pages go first; once a share is taken the test deletes the dead-letter queue and
/// publishes the 10% bad pages. The workers must declare the queue again: every bad page ends
/// in it with its class and reason, none is lost, no good page is dead-lettered.
async fn dlq(ctx: &mut Ctx) -> Row {
    let mut run = Run::new(ctx, "dlq", 10, None);
    let bad = take_bad_pages(&mut run);
    run.start(2, true).await;
    let at = run.wait_progress(ctx.rng.float(0.2, 0.5)).await;
    let conn = broker::connect(&run.url).await.expect("test connection");
    let dead_queue = run.spec.topology.dead_queue.clone();
    let deleted = conn
        .create_channel()
        .await
        .expect("channel")
        .queue_delete(
            dead_queue.as_str().into(),
            lapin::options::QueueDeleteOptions::default(),
        )
        .await
        .expect("delete the dead-letter queue");
    let input = run.spec.topology.input.clone();
    broker::publish_pages(&conn, &input, &bad).await;
    let _ = conn.close(200, "published".into()).await;
    run.notes.push(format!(
        "dead-letter queue deleted at {:.0}% (it held {deleted} messages), then {} bad pages",
        at * 100.0,
        bad.len()
    ));
    run.pages.extend(bad);
    run.finish().await
}

/// Declares a scenario's topology from the test (the operator), as its workers would.
async fn declare_topology(run: &Run) {
    let conn = broker::connect(&run.url).await.expect("test connection");
    let ch = conn.create_channel().await.expect("channel");
    pagesift::amqp::topology::declare(&ch, &run.spec.settings().amqp)
        .await
        .expect("declare the topology");
    let _ = conn.close(200, "declared".into()).await;
}

/// Ready messages and consumers of `queue` (a passive declare: immediate, unlike the
/// statistics `rabbitmqctl list_queues` shows); None when it cannot be read.
async fn input_state(url: &str, queue: &str) -> Option<(u32, u32)> {
    let conn = broker::connect(url).await.ok()?;
    let ch = conn.create_channel().await.ok()?;
    let passive = lapin::options::QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    let q = ch
        .queue_declare(queue.into(), passive, lapin::types::FieldTable::default())
        .await
        .ok();
    let _ = conn.close(200, "probe".into()).await;
    q.map(|q| (q.message_count(), q.consumer_count()))
}

/// How long the `exchange` scenario watches the workers without their output exchange.
const EXCHANGE_OUTAGE: Duration = Duration::from_secs(6);

/// 11. The output exchange is deleted mid-run with `amqp.declare = false`.
///
/// The workers must turn not-ready with one clear error line each and stop consuming (nothing
/// taken off the input queue while the exchange is missing, no `consuming` line, no good page
/// dead-lettered by the delivery limit); the operator (the test) declares the exchange again and
/// every article arrives.
async fn exchange(ctx: &mut Ctx) -> Row {
    let mut run = Run::new(ctx, "exchange", 0, None);
    run.spec
        .extra
        .push(("PAGESIFT__AMQP__DECLARE".into(), "false".into()));
    run.spec.http = true;
    declare_topology(&run).await;
    run.start(2, true).await;
    let at = run.wait_progress(ctx.rng.float(0.2, 0.5)).await;
    let began = SystemTime::now();
    let since = seconds_of_day(began);
    let conn = broker::connect(&run.url).await.expect("test connection");
    conn.create_channel()
        .await
        .expect("channel")
        .exchange_delete(
            run.spec.topology.output_exchange.as_str().into(),
            lapin::options::ExchangeDeleteOptions::default(),
        )
        .await
        .expect("delete the output exchange");
    let _ = conn.close(200, "deleted".into()).await;
    // Wait until every worker has said so (a liveness bound, not a timing assertion).
    let incomplete = "the topology is incomplete; not consuming";
    let noticed = Instant::now();
    while !run.workers.iter().all(|w| {
        messages_since(&w.log, since)
            .iter()
            .any(|m| m == incomplete)
    }) && noticed.elapsed() < COMPLETE_WITHIN
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let settled = Instant::now();
    let input = run.spec.topology.input.clone();
    let before = input_state(&run.url, &input).await;
    let mut ready_seen = false;
    while settled.elapsed() < EXCHANGE_OUTAGE {
        for w in &run.workers {
            ready_seen |= w.ready().await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let after = input_state(&run.url, &input).await;
    let mut errors = Vec::new();
    let mut attempts = Vec::new();
    for w in &run.workers {
        let messages = messages_since(&w.log, since);
        let lines = messages.iter().filter(|m| *m == incomplete).count();
        if lines != 1 {
            errors.push(format!(
                "{}: {lines} `{incomplete}` lines while the exchange was missing (want 1)",
                w.log.display()
            ));
        }
        if messages.iter().any(|m| m == "consuming") {
            errors.push(format!(
                "{}: consumed while the output exchange was missing",
                w.log.display()
            ));
        }
        attempts.push(
            messages
                .iter()
                .filter(|m| *m == "connecting to the broker")
                .count(),
        );
    }
    if ready_seen {
        errors.push("a worker answered /readyz 200 while the output exchange was missing".into());
    }
    if before != after || after.is_none_or(|(_, consumers)| consumers != 0) {
        errors.push(format!(
            "the input queue moved or had consumers while the exchange was missing: (ready, consumers) {before:?} -> {after:?}"
        ));
    }
    declare_topology(&run).await;
    run.notes.push(format!(
        "output exchange deleted at {:.0}% (declare = false); {:.1} s until every worker logged it, then {} s watched: input (ready, consumers) {before:?} -> {after:?}, connection attempts per worker {attempts:?}; exchange declared again by the test",
        at * 100.0,
        (settled - noticed).as_secs_f64(),
        EXCHANGE_OUTAGE.as_secs()
    ));
    run.fault_between(began, true);
    let mut row = run.finish().await;
    if !errors.is_empty() {
        fail(&mut row, errors.join("\n"));
    }
    row
}

/// The heartbeat of the `halfopen` scenario's workers, in seconds.
const HALFOPEN_HEARTBEAT: u64 = 4;

/// 12. A half-open path between the workers and the broker.
///
/// The relay stops forwarding (sockets open, nothing passes) for two heartbeats and a second,
/// then forwards again.
/// Every worker must turn not-ready while the path is stalled (its broker watch gives up two
/// heartbeats after the last frame), reconnect once the path forwards again, and lose and
/// dead-letter nothing.
async fn halfopen(ctx: &mut Ctx) -> Row {
    let relay = relay::Relay::start(broker_addr(&ctx.url)).await;
    let url = format!("amqp://guest:guest@{}/%2f", relay.addr);
    let mut run = Run::new(ctx, "halfopen", 0, Some(url));
    run.spec.http = true;
    run.spec.extra.push((
        "PAGESIFT__AMQP__HEARTBEAT_SECONDS".into(),
        HALFOPEN_HEARTBEAT.to_string(),
    ));
    run.start(2, true).await;
    let at = run.wait_progress(ctx.rng.float(0.2, 0.5)).await;
    let mut errors = Vec::new();
    for (i, w) in run.workers.iter().enumerate() {
        if !w.ready().await {
            errors.push(format!("worker {i} was not ready before the stall"));
        }
    }
    let stall = Duration::from_secs(2 * HALFOPEN_HEARTBEAT + 1);
    let began = SystemTime::now();
    relay.stall(true);
    let t0 = Instant::now();
    let mut dropped: Vec<Option<f64>> = vec![None; run.workers.len()];
    while t0.elapsed() < stall {
        for (i, w) in run.workers.iter().enumerate() {
            if dropped[i].is_none() && !w.ready().await {
                dropped[i] = Some(t0.elapsed().as_secs_f64());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    relay.stall(false);
    for (i, d) in dropped.iter().enumerate() {
        if d.is_none() {
            errors.push(format!(
                "worker {i} stayed ready through a {} s stall (heartbeat {HALFOPEN_HEARTBEAT} s)",
                stall.as_secs()
            ));
        }
    }
    let shown: Vec<String> = dropped
        .iter()
        .map(|d| d.map_or("never".into(), |s| format!("{s:.1} s")))
        .collect();
    run.notes.push(format!(
        "relay stalled at {:.0}% for {} s (heartbeat {HALFOPEN_HEARTBEAT} s): not ready after {shown:?}",
        at * 100.0,
        stall.as_secs()
    ));
    run.fault_between(began, true);
    let mut row = run.finish().await;
    let accepted = relay.accepted.load(std::sync::atomic::Ordering::Relaxed);
    row.notes = format!("{}; relay accepted {accepted} connections", row.notes);
    if !errors.is_empty() {
        fail(&mut row, errors.join("\n"));
    }
    row
}

fn broker_addr(url: &str) -> SocketAddr {
    let u = url::Url::parse(url).expect("broker URL");
    let host = u.host_str().unwrap_or("127.0.0.1");
    let port = u.port().unwrap_or(5672);
    std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
        .ok()
        .and_then(|mut a| a.next())
        .expect("broker address resolves")
}

fn report(rows: &[Row], seed: u64) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# pagesift chaos suite\n\nseed {seed}\n");
    let _ = writeln!(
        s,
        "| scenario | pages | bad pages | articles | received | duplicates | dead letters | max recovery s | wall s | result |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {:.2} | {:.1} | {} |",
            r.name,
            r.pages,
            r.bad,
            r.articles,
            r.received,
            r.duplicates,
            r.dead_letters,
            r.max_recovery,
            r.seconds,
            if r.failure.is_some() { "FAIL" } else { "ok" }
        );
    }
    let _ = writeln!(s);
    for r in rows {
        let _ = writeln!(s, "- **{}**: {}", r.name, r.notes);
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_suite_loses_no_article_under_faults() {
    let mode = std::env::var("PAGESIFT_CHAOS").unwrap_or_default();
    if mode == "skip" {
        eprintln!("chaos suite skipped (PAGESIFT_CHAOS=skip)");
        return;
    }
    let chosen: Vec<&str> = if mode.is_empty() || mode == "all" {
        SCENARIOS.to_vec()
    } else {
        mode.split(',').map(str::trim).collect()
    };
    for c in &chosen {
        assert!(
            SCENARIOS.contains(c),
            "unknown chaos scenario `{c}`; known: {SCENARIOS:?}"
        );
    }
    let url = broker::amqp_url();
    if tokio::net::TcpStream::connect(broker_addr(&url))
        .await
        .is_err()
    {
        panic!(
            "no RabbitMQ answers at {}: {}",
            pagesift::settings::redact_url(&url),
            broker::HOW_TO_START
        );
    }
    broker::ctl(&["await_startup"]);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let settings =
        Settings::load_from(&root.join("config"), None, Vec::new()).expect("default settings");
    let pipeline = pagesift::resources::build_pipeline(&settings.pipeline).expect("pipeline");
    let seed = std::env::var("PAGESIFT_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(7, |d| d.as_nanos() as u64)
        });
    let n = std::env::var("PAGESIFT_CHAOS_PAGES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    eprintln!(
        "chaos suite: scenarios {chosen:?}, {n} pages each, seed {seed} (PAGESIFT_CHAOS_SEED={seed} replays)"
    );
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let mut ctx = Ctx {
        pipeline,
        url,
        fixtures: root.join("tests/fixtures/pages"),
        n,
        rng: Rng::new(seed),
        log_dir: target.join("chaos-logs"),
    };
    let mut rows = Vec::new();
    for name in chosen {
        eprintln!("chaos: {name} ...");
        let row = match name {
            "kill" => kill(&mut ctx).await,
            "cut" => cut(&mut ctx).await,
            "restart" => restart(&mut ctx).await,
            "poison" => poison(&mut ctx).await,
            "backpressure" => backpressure(&mut ctx).await,
            "drain" => drain(&mut ctx).await,
            "blocked" => blocked(&mut ctx).await,
            "classic" => classic(&mut ctx).await,
            "protocol" => protocol(&mut ctx).await,
            "dlq" => dlq(&mut ctx).await,
            "exchange" => exchange(&mut ctx).await,
            _ => halfopen(&mut ctx).await,
        };
        eprintln!(
            "chaos: {name}: {} in {:.1} s",
            if row.failure.is_some() { "FAIL" } else { "ok" },
            row.seconds
        );
        rows.push(row);
    }
    let table = report(&rows, seed);
    eprintln!("\n{table}");
    let _ = std::fs::write(target.join("chaos-report.md"), &table);
    let failures: Vec<String> = rows
        .iter()
        .filter_map(|r| r.failure.as_ref().map(|f| format!("== {} ==\n{f}", r.name)))
        .collect();
    assert!(
        failures.is_empty(),
        "chaos suite failed:\n{}",
        failures.join("\n\n")
    );
}
