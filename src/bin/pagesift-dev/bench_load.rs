//! `pagesift-dev bench-load`: the end-to-end load test through RabbitMQ (issue 6).
//!
//! Each round measures two consumers on fresh, randomly named queues, one after the other (the
//! order alternates between rounds):
//!
//! 1. the **relay ceiling** — a no-op consumer (`--workers` processes of this binary in the hidden
//!    `--serve-relay` mode) that, for each page, publishes the very same event messages the
//!    worker would (encoded by the worker's own `event_message` once at its start, so it does no
//!    pipeline work per page) and a serde-built `page.processed` summary, with the worker's
//!    connection code and confirm discipline (`amqp::connect`, `Publisher::publish_all`: one
//!    confirm-mode channel per page batch), then acks the page;
//! 2. the **worker** — `pagesift run` child processes (the service binary beside this one) pointed at the random names through
//!    `PAGESIFT__AMQP__*` variables.
//!
//! For both, a publisher keeps at most `--window` pages in flight (published but not yet fully
//! answered), and a collector consumes the article queue and notes when each page's last event
//! arrives (events carry the page id as `correlation_id`). The round reports pages/s,
//! articles/s, p50/p99 page latency (publish -> last event), start-up time to consuming (process
//! start -> the broker sees its consumer), the worker's peak RSS (`VmHWM`) and CPU per page
//! (`/proc/PID/stat`), and the ratio worker/relay. All queues and exchanges are deleted at the end.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, ExchangeDeleteOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Connection};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use pagesift::amqp::{OutMessage, Publisher};
use pagesift::clock::Clock as _;
use pagesift::model::PageMeta;
use pagesift::pipeline::Hints;
use pagesift::settings::Settings;
use pagesift::worker::encode::{PAGE_SUMMARY_SCHEMA, PageSummary, event_message, summary_message};

/// Header naming the page template a bench page was built from (read by the relay).
const TEMPLATE_HEADER: &str = "x-pagesift-bench-template";
/// No progress for this long ends a phase with an error instead of hanging.
const STALL_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a consumer may take to appear on the input queue.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Arguments of `pagesift-dev bench-load`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Pages published per phase.
    #[arg(long, default_value_t = 2000)]
    pub pages: usize,
    /// Page files used in turn (text or `.json` page messages).
    #[arg(
        long = "page",
        value_name = "FILE",
        default_value = "tests/fixtures/pages/seed.txt"
    )]
    pub page_files: Vec<PathBuf>,
    /// Rounds (each measures the relay then the worker); ratios are given as min/median/max.
    #[arg(long, default_value_t = 1)]
    pub rounds: usize,
    /// Worker processes (`pagesift run`) started per round.
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Pages in flight per consumer (`worker.concurrency`; 0 = the setting, which is the cores
    /// when 0). The relay uses the same value.
    #[arg(long, default_value_t = 0)]
    pub concurrency: usize,
    /// Pages the publisher keeps in flight (0 = 4 × prefetch × workers).
    #[arg(long, default_value_t = 0)]
    pub window: usize,
    /// Measure only this consumer.
    #[arg(long, value_enum, default_value_t = Mode::Both)]
    pub mode: Mode,
    /// The `pagesift` binary to run as the worker (default: `pagesift` beside this executable).
    #[arg(long, value_name = "PATH")]
    pub worker_bin: Option<PathBuf>,
    /// Directory for the consumer processes' stderr logs (default: the system temp directory).
    #[arg(long, value_name = "DIR")]
    pub log_dir: Option<PathBuf>,
    /// Internal: serve as the relay ceiling on the queues named `PREFIX.*` until SIGTERM.
    #[arg(long, hide = true, value_name = "PREFIX")]
    pub serve_relay: Option<String>,
}

/// Which consumers a run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// The relay ceiling, then the worker.
    Both,
    /// Only the relay ceiling.
    Relay,
    /// Only the worker.
    Worker,
}

/// The two consumers a round measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Relay,
    Worker,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Relay => "relay",
            Phase::Worker => "worker",
        }
    }
}

/// One page shape: its message body text and the event bodies the pipeline makes from it.
#[derive(Debug)]
struct Template {
    text: String,
    meta: PageMeta,
    /// The event messages as the worker encodes them ([`event_message`]), built once at
    /// start-up; the relay sets their exchange and page id per page.
    events: Vec<OutMessage>,
    /// Safety events among them.
    safety_events: usize,
    /// The classifier version the events carry.
    classifier: String,
    /// The lowest item confidence of the page (the summary carries it).
    lowest_confidence: Option<f64>,
}

/// What one phase measured.
#[derive(Debug, Clone, Default)]
struct PhaseResult {
    pages: usize,
    articles: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    startup: Duration,
    /// CPU seconds used by the consumer processes during the load.
    consumer_cpu: Option<f64>,
    /// CPU seconds used by this process during the load (publisher + collector (+ relay)).
    harness_cpu: f64,
    /// Peak RSS of the largest consumer process, in KiB.
    peak_rss_kib: Option<u64>,
    /// RSS of the largest consumer process once ready, in KiB.
    ready_rss_kib: Option<u64>,
}

impl PhaseResult {
    fn pages_per_s(&self) -> f64 {
        self.pages as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
    fn articles_per_s(&self) -> f64 {
        self.articles as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
    fn percentile(&self, p: f64) -> Duration {
        let mut v = self.latencies.clone();
        v.sort_unstable();
        if v.is_empty() {
            return Duration::ZERO;
        }
        let idx = ((v.len() as f64 - 1.0) * p).round() as usize;
        v[idx.min(v.len() - 1)]
    }
}

/// Names of one phase's broker objects, all under a random prefix.
#[derive(Debug, Clone)]
struct Names {
    prefix: String,
    input: String,
    exchange: String,
    sink: String,
    dead_exchange: String,
    dead_queue: String,
}

impl Names {
    fn new(run_id: &str, phase: &str) -> Names {
        Names::from_prefix(&format!("pagesift-bench.{run_id}.{phase}"))
    }

    fn from_prefix(p: &str) -> Names {
        Names {
            prefix: p.to_owned(),
            input: format!("{p}.pages"),
            exchange: format!("{p}.articles"),
            sink: format!("{p}.articles.all"),
            dead_exchange: format!("{p}.dead"),
            dead_queue: format!("{p}.pages.dead"),
        }
    }
}

/// Runs the command.
pub fn run(settings: &Settings, config_dir: Option<&Path>, args: Args) -> anyhow::Result<ExitCode> {
    if args.pages == 0 || args.rounds == 0 || args.workers == 0 {
        bail!("--pages, --rounds and --workers must be > 0");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    match args.serve_relay.clone() {
        Some(prefix) => runtime.block_on(serve_relay(settings, &prefix, &args)),
        None => runtime.block_on(run_async(settings, config_dir, args)),
    }
}

async fn run_async(
    settings: &Settings,
    config_dir: Option<&Path>,
    args: Args,
) -> anyhow::Result<ExitCode> {
    let templates = Arc::new(templates(settings, &args.page_files)?);
    let (concurrency, prefetch) = concurrency_and_prefetch(settings, &args);
    let window = if args.window > 0 {
        args.window
    } else {
        4 * prefetch * args.workers
    };
    let per_page: Vec<usize> = templates.iter().map(|t| t.events.len()).collect();
    let avg_events = (0..args.pages)
        .map(|i| per_page[i % per_page.len()])
        .sum::<usize>() as f64
        / args.pages as f64;
    println!(
        "bench-load: {} pages/phase, {} template page(s), {:.1} article events/page, \
         concurrency {concurrency}, prefetch {prefetch}, window {window}, {} worker process(es), \
         {} round(s), input queue type {:?}, page summary {}",
        args.pages,
        templates.len(),
        avg_events,
        args.workers,
        args.rounds,
        settings.amqp.input_queue_type,
        settings.amqp.page_summary,
    );
    let jieba_new = time_jieba_new();
    let admin = pagesift::amqp::connect(settings, "bench-admin")
        .await
        .context("connecting to the broker (is RabbitMQ running?)")?;
    let mut relay_results = Vec::new();
    let mut worker_results = Vec::new();
    for round in 1..=args.rounds {
        let run_id = random_id();
        println!("round {round}: names pagesift-bench.{run_id}.*");
        let ctx = PhaseCtx {
            settings,
            templates: templates.clone(),
            pages: args.pages,
            concurrency,
            window,
            run_id: run_id.clone(),
        };
        // Alternate the order between rounds so a slow drift in the machine's load does not
        // favour one side.
        let mut phases = vec![Phase::Relay, Phase::Worker];
        phases.retain(|p| match p {
            Phase::Relay => args.mode != Mode::Worker,
            Phase::Worker => args.mode != Mode::Relay,
        });
        if round % 2 == 0 {
            phases.reverse();
        }
        for phase in phases {
            let names = Names::new(&run_id, phase.name());
            let result = match phase {
                Phase::Relay => relay_phase(&ctx, &admin, &names, config_dir, &args).await,
                Phase::Worker => worker_phase(&ctx, &admin, &names, config_dir, &args).await,
            };
            cleanup(&admin, &names).await;
            let result = result.with_context(|| format!("{} phase", phase.name()))?;
            print_phase(round, phase.name(), &result);
            match phase {
                Phase::Relay => relay_results.push(result),
                Phase::Worker => worker_results.push(result),
            }
        }
    }
    let _ = admin.close(200, "bench done".into()).await;
    summary(&relay_results, &worker_results, jieba_new);
    Ok(ExitCode::SUCCESS)
}

/// Pages in flight per consumer and its prefetch: `--concurrency` or the worker's settings.
fn concurrency_and_prefetch(settings: &Settings, args: &Args) -> (usize, usize) {
    let concurrency = if args.concurrency > 0 {
        args.concurrency
    } else {
        settings.concurrency()
    };
    let prefetch = if settings.worker.prefetch > 0 {
        usize::from(settings.worker.prefetch)
    } else {
        concurrency * 2
    };
    (concurrency, prefetch)
}

/// Reads the page files and runs the pipeline once on each to get the events it yields.
fn templates(settings: &Settings, files: &[PathBuf]) -> anyhow::Result<Vec<Template>> {
    let pipeline = pagesift::resources::build_pipeline(&settings.pipeline)
        .context("loading the pipeline's model files")?;
    let mut out = Vec::new();
    for file in files {
        let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        let hints: Hints = pagesift::page_file::hints_for_file(file, PageMeta::default(), None);
        let page = pipeline
            .decode(&bytes, &hints)
            .map_err(|e| anyhow!("{}: {e}", file.display()))?;
        let processed = pipeline
            .process(&page, &pagesift::clock::now_rfc3339())
            .map_err(|e| anyhow!("{}: {e}", file.display()))?;
        let timestamp = pagesift::clock::SystemClock.unix_seconds();
        let events = processed
            .events
            .iter()
            .map(|event| event_message(event, "", timestamp))
            .collect::<Result<Vec<_>, _>>()?;
        if events.is_empty() {
            eprintln!("bench-load: {} yields no article; skipped", file.display());
            continue;
        }
        out.push(Template {
            text: page.text,
            meta: page.meta,
            events,
            safety_events: processed.safety_count(),
            classifier: pipeline.classifier_version().to_owned(),
            lowest_confidence: processed
                .events
                .iter()
                .map(|e| e.article.confidence)
                .reduce(f64::min),
        });
    }
    if out.is_empty() {
        bail!("no page file yields an article event");
    }
    Ok(out)
}

/// Everything a phase needs.
struct PhaseCtx<'a> {
    settings: &'a Settings,
    templates: Arc<Vec<Template>>,
    pages: usize,
    concurrency: usize,
    window: usize,
    run_id: String,
}

/// Median of three `Jieba::new()` timings: the same-run baseline for start-up time.
fn time_jieba_new() -> Duration {
    let mut times: Vec<Duration> = (0..3)
        .map(|_| {
            let t = Instant::now();
            drop(std::hint::black_box(jieba_rs::Jieba::new()));
            t.elapsed()
        })
        .collect();
    times.sort_unstable();
    times[1]
}

fn random_id() -> String {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    format!("{:012x}", h.finish() & 0xffff_ffff_ffff)
}

/// The phase's topology, declared with the worker's own code (`amqp::topology::declare`) on
/// the phase's names: the relay then runs on exactly the worker's queues, and the worker's own
/// redeclare at start-up is a no-op. The safety queue is left out (one bound queue, like the
/// relay's collector).
async fn declare_topology(
    admin: &Connection,
    settings: &Settings,
    names: &Names,
) -> anyhow::Result<()> {
    let mut amqp = settings.amqp.clone();
    amqp.input_queue = names.input.clone();
    amqp.output_exchange = names.exchange.clone();
    amqp.dead_letter_exchange = names.dead_exchange.clone();
    amqp.dead_letter_queue = names.dead_queue.clone();
    amqp.all_articles_queue = names.sink.clone();
    amqp.safety_articles_queue = String::new();
    let ch = admin.create_channel().await?;
    pagesift::amqp::topology::declare(&ch, &amqp)
        .await
        .with_context(|| format!("declaring the topology of {}", names.prefix))?;
    let _ = ch.close(200, "ok".into()).await;
    Ok(())
}

async fn relay_phase(
    ctx: &PhaseCtx<'_>,
    admin: &Connection,
    names: &Names,
    config_dir: Option<&Path>,
    args: &Args,
) -> anyhow::Result<PhaseResult> {
    declare_topology(admin, ctx.settings, names).await?;
    // As many relay processes as worker processes, so both sides get the same parallelism.
    let bin = std::env::current_exe().context("locating the pagesift-dev binary")?;
    let commands = (0..args.workers)
        .map(|_| {
            let mut cmd = pagesift_command(&bin, config_dir);
            cmd.arg("bench-load")
                .arg("--serve-relay")
                .arg(&names.prefix)
                .arg("--concurrency")
                .arg(ctx.concurrency.to_string());
            for file in &args.page_files {
                cmd.arg("--page").arg(file);
            }
            cmd
        })
        .collect();
    child_phase(ctx, admin, names, commands, "relay", args).await
}

/// `--serve-relay PREFIX`: runs the relay on the phase's names until SIGTERM/SIGINT.
async fn serve_relay(settings: &Settings, prefix: &str, args: &Args) -> anyhow::Result<ExitCode> {
    let templates = Arc::new(templates(settings, &args.page_files)?);
    let (concurrency, prefetch) = concurrency_and_prefetch(settings, args);
    let cancel = CancellationToken::new();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    let stop = cancel.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        stop.cancel();
    });
    relay(
        settings,
        Names::from_prefix(prefix),
        prefetch,
        concurrency,
        templates,
        cancel,
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// The no-op consumer: per page, publish the precomputed events with confirms, then ack. It
/// connects and publishes as the worker does — [`pagesift::amqp::connect`] (heartbeat, timeout,
/// TLS), a consume and a publish connection, and [`Publisher::publish_all`]: one confirm-mode
/// channel per page batch, every confirm awaited — so the only difference is the pipeline.
async fn relay(
    settings: &Settings,
    names: Names,
    prefetch: usize,
    concurrency: usize,
    templates: Arc<Vec<Template>>,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let consume_conn = pagesift::amqp::connect(settings, "bench-relay-consume").await?;
    let publish_conn = Arc::new(pagesift::amqp::connect(settings, "bench-relay-publish").await?);
    let consume_ch = consume_conn.create_channel().await?;
    consume_ch
        .basic_qos(
            u16::try_from(prefetch).unwrap_or(u16::MAX),
            BasicQosOptions::default(),
        )
        .await?;
    let publisher = Publisher::open(Arc::clone(&publish_conn), settings.amqp.publish_timeout())
        .await
        .context("opening the relay's publisher")?;
    let mut consumer = consume_ch
        .basic_consume(
            names.input.as_str().into(),
            "pagesift-bench-relay".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let relay = Arc::new(Relay {
        exchange: names.exchange.clone(),
        summary: settings.amqp.page_summary,
        templates,
    });
    let slots = Arc::new(Semaphore::new(concurrency.max(1)));
    let (err_tx, mut err_rx) = tokio::sync::mpsc::channel::<anyhow::Error>(1);
    loop {
        let delivery = tokio::select! {
            () = cancel.cancelled() => break,
            Some(e) = err_rx.recv() => return Err(e),
            d = consumer.next() => d,
        };
        let Some(delivery) = delivery else { break };
        let delivery = delivery?;
        let permit = slots.clone().acquire_owned().await?;
        let publisher = publisher.clone();
        let relay = Arc::clone(&relay);
        let err_tx = err_tx.clone();
        tokio::spawn(async move {
            let outcome = async {
                let batch = relay.batch(&delivery)?;
                publisher.publish_all(&batch).await?;
                delivery.acker.ack(BasicAckOptions::default()).await?;
                anyhow::Ok(())
            }
            .await;
            if let Err(e) = outcome {
                let _ = err_tx.try_send(e);
            }
            drop(permit);
        });
    }
    publisher.close().await;
    let _ = consume_ch.close(200, "done".into()).await;
    let _ = consume_conn.close(200, "done".into()).await;
    let _ = publish_conn.close(200, "done".into()).await;
    Ok(())
}

/// What the relay publishes for a page.
struct Relay {
    exchange: String,
    summary: bool,
    templates: Arc<Vec<Template>>,
}

impl Relay {
    /// The batch of one page: its template's event bodies, tagged with the page id as the
    /// worker tags them, and the `page.processed` summary (built with serde, as the worker does).
    fn batch(&self, delivery: &lapin::message::Delivery) -> anyhow::Result<Vec<OutMessage>> {
        let template = delivery
            .properties
            .headers()
            .as_ref()
            .and_then(|h| h.inner().get(TEMPLATE_HEADER).cloned())
            .and_then(|v| v.as_long_long_int())
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| self.templates.get(i))
            .ok_or_else(|| anyhow!("page without a valid {TEMPLATE_HEADER} header"))?;
        let page_id = delivery
            .properties
            .message_id()
            .as_ref()
            .map_or("unknown", |id| id.as_str());
        let timestamp = pagesift::clock::SystemClock.unix_seconds();
        let mut batch = Vec::with_capacity(template.events.len() + 1);
        for event in &template.events {
            batch.push(OutMessage {
                exchange: self.exchange.clone(),
                routing_key: event.routing_key.clone(),
                body: event.body.clone(),
                properties: event
                    .properties
                    .clone()
                    .with_timestamp(timestamp)
                    .with_correlation_id(pagesift::amqp::short(page_id)),
                mandatory: event.mandatory,
            });
        }
        if self.summary {
            let summary = PageSummary {
                schema: PAGE_SUMMARY_SCHEMA.to_owned(),
                page_id: page_id.to_owned(),
                articles: template.events.len(),
                safety_articles: template.safety_events,
                duration_ms: 0,
                classifier: template.classifier.clone(),
                processed_at: pagesift::clock::now_rfc3339(),
                lowest_confidence: template.lowest_confidence,
            };
            batch.push(summary_message(&summary, &self.exchange, timestamp)?);
        }
        Ok(batch)
    }
}

async fn worker_phase(
    ctx: &PhaseCtx<'_>,
    admin: &Connection,
    names: &Names,
    config_dir: Option<&Path>,
    args: &Args,
) -> anyhow::Result<PhaseResult> {
    let bin = match &args.worker_bin {
        Some(b) => b.clone(),
        None => std::env::current_exe()
            .context("locating the pagesift-dev binary")?
            .with_file_name("pagesift"),
    };
    anyhow::ensure!(
        bin.is_file(),
        "no worker binary at {} (build it with `cargo build --release --bin pagesift`, or give \
         --worker-bin)",
        bin.display()
    );
    let commands = (0..args.workers)
        .map(|_| {
            let mut cmd = pagesift_command(&bin, config_dir);
            cmd.arg("run")
                .env("PAGESIFT__AMQP__INPUT_QUEUE", &names.input)
                .env("PAGESIFT__AMQP__OUTPUT_EXCHANGE", &names.exchange)
                .env("PAGESIFT__AMQP__DEAD_LETTER_EXCHANGE", &names.dead_exchange)
                .env("PAGESIFT__AMQP__DEAD_LETTER_QUEUE", &names.dead_queue)
                .env("PAGESIFT__AMQP__ALL_ARTICLES_QUEUE", &names.sink)
                .env("PAGESIFT__AMQP__SAFETY_ARTICLES_QUEUE", "")
                .env("PAGESIFT__AMQP__DECLARE", "true")
                .env("PAGESIFT__WORKER__CONCURRENCY", ctx.concurrency.to_string())
                .env("PAGESIFT__HTTP__ENABLED", "false");
            cmd
        })
        .collect();
    declare_topology(admin, ctx.settings, names).await?;
    child_phase(ctx, admin, names, commands, "worker", args).await
}

/// `BIN [--config-dir DIR]`: a pagesift command reading the same configuration as this one.
fn pagesift_command(bin: &Path, config_dir: Option<&Path>) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(bin);
    if let Some(dir) = config_dir {
        cmd.arg("--config-dir").arg(dir);
    }
    cmd
}

/// Starts the consumer processes, waits until the broker sees all their consumers, drives the
/// load, reads their CPU and memory from `/proc`, then stops them with SIGTERM.
async fn child_phase(
    ctx: &PhaseCtx<'_>,
    admin: &Connection,
    names: &Names,
    commands: Vec<tokio::process::Command>,
    phase: &str,
    args: &Args,
) -> anyhow::Result<PhaseResult> {
    let log_dir = args.log_dir.clone().unwrap_or_else(std::env::temp_dir);
    let want = u32::try_from(commands.len()).unwrap_or(u32::MAX);
    let log0 = log_dir.join(format!("pagesift-bench-{}-{phase}-0.log", ctx.run_id));
    let started = Instant::now();
    let mut children = Vec::new();
    for (k, mut cmd) in commands.into_iter().enumerate() {
        let log = log_dir.join(format!("pagesift-bench-{}-{phase}-{k}.log", ctx.run_id));
        let log_file =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        cmd.env("PAGESIFT__LOG__STATS_INTERVAL_SECONDS", "0")
            .env("PAGESIFT__LOG__FORMAT", "json")
            .env("PAGESIFT__LOG__FILTER", "warn")
            .env_remove("RUST_LOG")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(log_file)
            .kill_on_drop(true);
        children.push(cmd.spawn().context("starting a consumer process")?);
    }
    let pids: Vec<u32> = children
        .iter()
        .filter_map(tokio::process::Child::id)
        .collect();
    let outcome = async {
        let startup = tokio::select! {
            s = wait_for_consumers(admin, &names.input, want, started) => s?,
            exit = children[0].wait() => bail!(
                "{phase} exited before consuming ({:?}); see {}",
                exit.ok(),
                log0.display()
            ),
        };
        let ready_rss = pids
            .iter()
            .filter_map(|p| proc_status_kib(*p, "VmRSS"))
            .max();
        let cpu0: f64 = pids.iter().filter_map(|p| proc_cpu_seconds(*p)).sum();
        let self0 = self_cpu_seconds();
        let mut result = drive_load(ctx, admin, names).await?;
        result.harness_cpu = self_cpu_seconds() - self0;
        let cpu1: f64 = pids.iter().filter_map(|p| proc_cpu_seconds(*p)).sum();
        result.consumer_cpu = Some(cpu1 - cpu0);
        result.peak_rss_kib = pids
            .iter()
            .filter_map(|p| proc_status_kib(*p, "VmHWM"))
            .max();
        result.ready_rss_kib = ready_rss;
        result.startup = startup;
        Ok(result)
    }
    .await;
    for pid in &pids {
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status();
    }
    for child in &mut children {
        if tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .is_err()
        {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }
    outcome
}

/// Polls the input queue until the broker reports `want` consumers; returns the time since
/// `started`. A missing queue (not yet declared by the worker) is retried.
async fn wait_for_consumers(
    admin: &Connection,
    queue: &str,
    want: u32,
    started: Instant,
) -> anyhow::Result<Duration> {
    let mut ch = admin.create_channel().await?;
    loop {
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        match ch
            .queue_declare(queue.into(), passive, FieldTable::default())
            .await
        {
            Ok(q) if q.consumer_count() >= want => {
                let elapsed = started.elapsed();
                let _ = ch.close(200, "ok".into()).await;
                return Ok(elapsed);
            }
            Ok(_) => {}
            // The queue does not exist yet: the channel is closed by the broker; open another.
            Err(_) => ch = admin.create_channel().await?,
        }
        if started.elapsed() > STARTUP_TIMEOUT {
            bail!("no consumer on {queue} after {STARTUP_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Publishes the pages with at most `window` in flight and collects their events.
async fn drive_load(
    ctx: &PhaseCtx<'_>,
    admin: &Connection,
    names: &Names,
) -> anyhow::Result<PhaseResult> {
    let n = ctx.pages;
    let prefix = format!("bench-{}-", ctx.run_id);
    let expected: Vec<usize> = (0..n)
        .map(|i| ctx.templates[i % ctx.templates.len()].events.len())
        .collect();
    // Page bodies are built before the clock starts.
    let bodies: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let t = &ctx.templates[i % ctx.templates.len()];
            serde_json::to_vec(&serde_json::json!({
                "page_id": format!("{prefix}{i}"),
                "text": t.text,
                "newspaper": t.meta.newspaper,
                "edition_date": t.meta.edition_date,
                "page_no": t.meta.page_no,
                "source_url": t.meta.source_url,
            }))
        })
        .collect::<Result<_, _>>()?;

    let collect_ch = admin.create_channel().await?;
    let mut events = collect_ch
        .basic_consume(
            names.sink.as_str().into(),
            "pagesift-bench-collector".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..BasicConsumeOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .with_context(|| format!("consuming {}", names.sink))?;
    let publish_ch = admin.create_channel().await?;
    publish_ch
        .confirm_select(ConfirmSelectOptions::default())
        .await?;

    let window = Arc::new(Semaphore::new(ctx.window.max(1)));
    let sent: Arc<Vec<std::sync::OnceLock<Instant>>> =
        Arc::new((0..n).map(|_| std::sync::OnceLock::new()).collect());
    let publisher = {
        let window = window.clone();
        let sent = sent.clone();
        let publish_ch = publish_ch.clone();
        let input: ShortString = names.input.as_str().into();
        let prefix = prefix.clone();
        let template_count = ctx.templates.len();
        async move {
            let mut confirms = Vec::with_capacity(n);
            for (i, body) in bodies.iter().enumerate() {
                window.acquire().await?.forget();
                let mut headers = FieldTable::default();
                headers.insert(
                    TEMPLATE_HEADER.into(),
                    AMQPValue::LongLongInt((i % template_count) as i64),
                );
                let props = BasicProperties::default()
                    .with_delivery_mode(2)
                    .with_content_type("application/json".into())
                    .with_message_id(format!("{prefix}{i}").into())
                    .with_headers(headers);
                let _ = sent[i].set(Instant::now());
                confirms.push(
                    publish_ch
                        .basic_publish(
                            "".into(),
                            input.clone(),
                            BasicPublishOptions::default(),
                            body,
                            props,
                        )
                        .await?,
                );
            }
            for confirm in futures_util::future::join_all(confirms).await {
                if !confirm?.is_ack() {
                    bail!("a page was nacked by the broker");
                }
            }
            anyhow::Ok(())
        }
    };

    let collector = async {
        let mut remaining = expected.clone();
        let mut done: Vec<Option<Instant>> = vec![None; n];
        let mut completed = 0usize;
        let mut articles = 0usize;
        let mut unknown = 0usize;
        while completed < n {
            let next = tokio::time::timeout(STALL_TIMEOUT, events.next()).await;
            let delivery = match next {
                Err(_) => bail!(
                    "no event for {STALL_TIMEOUT:?}; {completed}/{n} pages complete, \
                     {unknown} events of unknown pages"
                ),
                Ok(None) => bail!("the collector's consumer was cancelled"),
                Ok(Some(d)) => d?,
            };
            articles += 1;
            let Some(i) = page_index(&delivery, &prefix) else {
                unknown += 1;
                continue;
            };
            if i >= n || remaining[i] == 0 {
                continue; // a redelivered duplicate: at-least-once allows it
            }
            remaining[i] -= 1;
            if remaining[i] == 0 {
                done[i] = Some(Instant::now());
                completed += 1;
                window.add_permits(1);
            }
        }
        anyhow::Ok((done, articles))
    };

    let (published, collected) = tokio::join!(publisher, collector);
    let _ = collect_ch.close(200, "ok".into()).await;
    let _ = publish_ch.close(200, "ok".into()).await;
    published?;
    let (done, articles) = collected?;
    let first = sent
        .iter()
        .filter_map(|s| s.get().copied())
        .min()
        .ok_or_else(|| anyhow!("nothing published"))?;
    let last = done
        .iter()
        .flatten()
        .copied()
        .max()
        .ok_or_else(|| anyhow!("nothing completed"))?;
    let latencies = sent
        .iter()
        .zip(&done)
        .filter_map(|(s, d)| Some(d.as_ref()?.duration_since(*s.get()?)))
        .collect();
    Ok(PhaseResult {
        pages: n,
        articles,
        elapsed: last.duration_since(first),
        latencies,
        ..PhaseResult::default()
    })
}

/// The bench page an event belongs to: its `correlation_id` (or, failing that, the `page.id`
/// of its JSON body) is `bench-RUN-INDEX`.
fn page_index(delivery: &lapin::message::Delivery, prefix: &str) -> Option<usize> {
    if let Some(id) = delivery.properties.correlation_id() {
        return id.as_str().strip_prefix(prefix)?.parse().ok();
    }
    #[derive(serde::Deserialize)]
    struct Page {
        id: String,
    }
    #[derive(serde::Deserialize)]
    struct Event {
        page: Page,
    }
    let event: Event = serde_json::from_slice(&delivery.data).ok()?;
    event.page.id.strip_prefix(prefix)?.parse().ok()
}

/// Deletes a phase's queues and exchanges (errors are reported, not fatal).
async fn cleanup(admin: &Connection, names: &Names) {
    let queues = [&names.input, &names.sink, &names.dead_queue];
    let exchanges = [&names.exchange, &names.dead_exchange];
    for q in queues {
        if let Ok(ch) = admin.create_channel().await {
            let _ = ch
                .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
                .await;
            let _ = ch.close(200, "ok".into()).await;
        }
    }
    for e in exchanges {
        if let Ok(ch) = admin.create_channel().await {
            let _ = ch
                .exchange_delete(e.as_str().into(), ExchangeDeleteOptions::default())
                .await;
            let _ = ch.close(200, "ok".into()).await;
        }
    }
}

/// Clock ticks per second of `/proc/PID/stat` times.
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// User + system CPU seconds of a process, from `/proc/PID/stat`.
fn proc_cpu_seconds(pid: u32) -> Option<f64> {
    stat_cpu(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

fn self_cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| stat_cpu(&s))
        .unwrap_or(0.0)
}

/// Parses utime + stime (fields 14 and 15) of a `/proc/PID/stat` line, in seconds.
fn stat_cpu(stat: &str) -> Option<f64> {
    // The command name (field 2) may contain spaces; the fields after it follow its `)`.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / clock_ticks())
}

/// A `kB` field of `/proc/PID/status` (e.g. `VmHWM`, `VmRSS`).
fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    status_kib(
        &std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?,
        field,
    )
}

fn status_kib(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let value = line.strip_prefix(field)?.strip_prefix(':')?;
        value.split_whitespace().next()?.parse().ok()
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn print_phase(round: usize, phase: &str, r: &PhaseResult) {
    let mut line = format!(
        "round {round} {phase:>6}: {:>8.1} pages/s {:>9.1} articles/s  p50 {:>7.1} ms  p99 {:>7.1} ms  \
         start-up {:>6.1} ms  harness CPU {:.2} ms/page",
        r.pages_per_s(),
        r.articles_per_s(),
        ms(r.percentile(0.50)),
        ms(r.percentile(0.99)),
        ms(r.startup),
        r.harness_cpu * 1e3 / r.pages as f64,
    );
    if let Some(cpu) = r.consumer_cpu {
        line.push_str(&format!(
            "  {phase} CPU {:.2} ms/page",
            cpu * 1e3 / r.pages as f64
        ));
    }
    if let (Some(ready), Some(peak)) = (r.ready_rss_kib, r.peak_rss_kib) {
        line.push_str(&format!(
            "  RSS ready {:.1} MB peak {:.1} MB",
            ready as f64 / 1024.0,
            peak as f64 / 1024.0
        ));
    }
    println!("{line}");
}

/// min / median / max of some values.
fn mmm(mut v: Vec<f64>) -> Option<(f64, f64, f64)> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    };
    Some((v[0], mid, v[v.len() - 1]))
}

fn row(name: &str, values: Vec<f64>, unit: &str) {
    if let Some((lo, med, hi)) = mmm(values) {
        println!("| {name} | {med:.2} | {lo:.2} | {hi:.2} | {unit} |");
    }
}

fn summary(relay: &[PhaseResult], worker: &[PhaseResult], jieba_new: Duration) {
    println!("\n| figure | median | min | max | unit |\n|---|---:|---:|---:|---|");
    row(
        "relay pages/s",
        relay.iter().map(PhaseResult::pages_per_s).collect(),
        "pages/s",
    );
    row(
        "worker pages/s",
        worker.iter().map(PhaseResult::pages_per_s).collect(),
        "pages/s",
    );
    row(
        "worker / relay (pages/s, same round)",
        relay
            .iter()
            .zip(worker)
            .map(|(r, w)| w.pages_per_s() / r.pages_per_s())
            .collect(),
        "ratio (target ≥ 0.75)",
    );
    row(
        "worker articles/s",
        worker.iter().map(PhaseResult::articles_per_s).collect(),
        "events/s",
    );
    for (phase, results) in [("relay", relay), ("worker", worker)] {
        for (name, p) in [("p50", 0.5), ("p99", 0.99)] {
            row(
                &format!("{phase} {name} latency"),
                results.iter().map(|r| ms(r.percentile(p))).collect(),
                "ms",
            );
        }
    }
    for (phase, results) in [("relay", relay), ("worker", worker)] {
        row(
            &format!("{phase} start-up to consuming"),
            results.iter().map(|r| ms(r.startup)).collect(),
            "ms (worker target ≤ 500)",
        );
        row(
            &format!("{phase} CPU per page"),
            results
                .iter()
                .filter_map(|r| Some(r.consumer_cpu? * 1e3 / r.pages as f64))
                .collect(),
            "ms",
        );
        row(
            &format!("{phase} RSS when ready"),
            results
                .iter()
                .filter_map(|r| Some(r.ready_rss_kib? as f64 / 1024.0))
                .collect(),
            "MB",
        );
        row(
            &format!("{phase} peak RSS (VmHWM)"),
            results
                .iter()
                .filter_map(|r| Some(r.peak_rss_kib? as f64 / 1024.0))
                .collect(),
            "MB (worker target ≤ 150)",
        );
    }
    row(
        "worker / relay (CPU per page, same round)",
        relay
            .iter()
            .zip(worker)
            .filter_map(|(r, w)| Some(w.consumer_cpu? / r.consumer_cpu?))
            .collect(),
        "ratio",
    );
    row(
        "worker start-up / Jieba::new() (same run)",
        worker
            .iter()
            .map(|w| w.startup.as_secs_f64() / jieba_new.as_secs_f64().max(1e-9))
            .collect(),
        "ratio",
    );
    println!(
        "\nJieba::new() in this run: {:.1} ms (median of 3)",
        ms(jieba_new)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_cpu_reads_utime_and_stime_after_a_command_name_with_spaces() {
        let ticks = clock_ticks();
        let line = "42 (a b) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 1 1 1";
        let cpu = stat_cpu(line).expect("parses");
        assert!((cpu - 300.0 / ticks).abs() < 1e-9, "{cpu}");
    }

    #[test]
    fn status_kib_finds_the_named_field_only() {
        let status = "Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n";
        assert_eq!(status_kib(status, "VmHWM"), Some(2048));
        assert_eq!(status_kib(status, "VmRSS"), Some(1024));
        assert_eq!(status_kib(status, "VmSwap"), None);
    }

    #[test]
    fn mmm_gives_min_median_max_for_odd_and_even_counts() {
        assert_eq!(mmm(vec![3.0, 1.0, 2.0]), Some((1.0, 2.0, 3.0)));
        assert_eq!(mmm(vec![4.0, 1.0, 2.0, 3.0]), Some((1.0, 2.5, 4.0)));
        assert_eq!(mmm(Vec::new()), None);
    }

    #[test]
    fn random_ids_differ_between_calls() {
        assert_ne!(random_id(), random_id());
    }

    #[test]
    fn percentiles_pick_from_the_sorted_latencies() {
        let r = PhaseResult {
            latencies: (1..=100).rev().map(Duration::from_millis).collect(),
            ..PhaseResult::default()
        };
        assert_eq!(r.percentile(0.5), Duration::from_millis(51));
        assert_eq!(r.percentile(0.99), Duration::from_millis(99));
        assert_eq!(r.percentile(0.0), Duration::from_millis(1));
    }
}
