//! The RabbitMQ worker: at-least-once from page to article events.
//!
//! [`handle_delivery`] settles one page: decode and run the pipeline off the reactor
//! (`spawn_blocking`), publish every event (plus an optional `page.processed` summary), wait for
//! all the confirms together, then ack. An input error copies the original message to the
//! dead-letter exchange with headers naming the error, waits for that confirm, then acks.
//! Transient failures (nack, confirm timeout, unroutable event) are retried with exponential
//! backoff and jitter up to `worker.publish_attempts`; then the page is nacked with requeue and
//! the broker's delivery limit dead-letters a page that keeps failing. A page is never acked
//! before all its events are confirmed.
//!
//! [`run`] is the supervisor: it builds a session (a consuming and a publishing connection,
//! their channels, the topology and the consumer), processes up to `worker.concurrency` pages at
//! once with `worker.prefetch` deliveries buffered, and rebuilds everything with backoff after a
//! connection or channel loss or a consumer cancel. On shutdown it stops consuming, finishes and
//! acks the in-flight pages within `shutdown.grace_seconds`, and closes cleanly.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use backon::{BackoffBuilder, ExponentialBuilder, Retryable};
use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, Event};
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::amqp::{self, ConnectError, OutMessage, PublishError, Publisher, TopologyError, short};
use crate::health::Readiness;
use crate::metrics::{self, PageOutcome};
use crate::model::{ArticleEvent, PageMeta, Topic};
use crate::pipeline::{Hints, InputError, Pipeline};
use crate::settings::Settings;

/// How long a lost session waits for its in-flight pages before reconnecting.
const LOST_SESSION_GRACE: Duration = Duration::from_secs(1);

/// Longest wait for a cancel or close handshake: a blocked or dead connection (one the broker
/// already reset) must not hang the reconnect or the shutdown.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Header naming the input error class of a dead-lettered page.
pub const ERROR_CLASS_HEADER: &str = "x-pagesift-error-class";
/// Header with the human-readable reason of a dead-lettered page.
pub const ERROR_REASON_HEADER: &str = "x-pagesift-error-reason";
/// Header with the page id of a dead-lettered page (when known).
pub const PAGE_ID_HEADER: &str = "x-pagesift-page-id";
/// Header with the queue a dead-lettered page came from.
pub const SOURCE_QUEUE_HEADER: &str = "x-pagesift-source-queue";
/// Routing key of the per-page summary event.
pub const PAGE_SUMMARY_ROUTING_KEY: &str = "page.processed";
/// Schema of the per-page summary event.
pub const PAGE_SUMMARY_SCHEMA: &str = "pagesift.page/v1";
/// Error class used when the pipeline panicked on a page (a bug; the page is kept).
pub const PANIC_CLASS: &str = "pipeline_panic";

/// The shared pipeline, swapped atomically on reload.
pub type SharedPipeline = Arc<ArcSwap<Pipeline>>;

/// Errors that stop a session.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// Connecting failed.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// Declaring the topology failed.
    #[error(transparent)]
    Topology(#[from] TopologyError),
    /// Opening a channel, setting QoS or starting the consumer failed.
    #[error("setting up the consumer on `{queue}`: {source}")]
    Setup {
        /// The input queue.
        queue: String,
        /// lapin's error.
        source: lapin::Error,
    },
}

impl WorkerError {
    /// Whether rebuilding the session later can help.
    pub fn is_transient(&self) -> bool {
        match self {
            WorkerError::Connect(e) => e.is_transient(),
            WorkerError::Topology(e) => e.is_transient(),
            WorkerError::Setup { .. } => true,
        }
    }
}

/// How a delivery was settled, with what the log line needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    /// The outcome.
    pub outcome: PageOutcome,
    /// The page id (empty when the message had none).
    pub page_id: String,
    /// Article events published.
    pub articles: usize,
    /// Safety article events published.
    pub safety_articles: usize,
    /// The error class for dead-lettered pages, or the transient error for requeued ones.
    pub error: Option<String>,
}

/// What [`handle_delivery`] needs besides the delivery.
#[derive(Debug, Clone)]
pub struct Context {
    /// The pipeline (swapped on reload).
    pub pipeline: SharedPipeline,
    /// The confirm-mode publisher.
    pub publisher: Publisher,
    /// Output exchange name.
    pub output_exchange: String,
    /// Dead-letter exchange name.
    pub dead_letter_exchange: String,
    /// Input queue name (the routing key of dead-lettered pages).
    pub input_queue: String,
    /// Publish a `page.processed` summary per page.
    pub page_summary: bool,
    /// Retry policy for transient publish failures.
    pub retry: RetryPolicy,
    /// Cancelled when the session's channels are lost (stop retrying, let the broker redeliver).
    pub session_lost: CancellationToken,
    /// Bounds the pages in the CPU-bound pipeline step to the number of cores, so that
    /// `worker.concurrency` can exceed the cores (overlapping confirm waits) without
    /// oversubscribing the CPU.
    pub cpu: Arc<Semaphore>,
}

/// Exponential backoff with jitter for transient publish failures.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// First delay.
    pub initial: Duration,
    /// Longest delay.
    pub max: Duration,
    /// Total attempts (first one included).
    pub attempts: u32,
}

impl RetryPolicy {
    /// The policy configured in `worker.*`.
    pub fn from_settings(settings: &Settings) -> RetryPolicy {
        RetryPolicy {
            initial: Duration::from_millis(settings.worker.retry_initial_ms),
            max: Duration::from_millis(settings.worker.retry_max_ms),
            attempts: settings.worker.publish_attempts,
        }
    }

    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.initial)
            .with_max_delay(self.max)
            .with_max_times(self.attempts.saturating_sub(1) as usize)
            .with_jitter()
    }
}

/// The pipeline's hints from a message's properties: content type, `charset` (header or
/// content-encoding), page id (`page_id` header, else `message_id`) and metadata headers
/// (`newspaper`, `edition_date`, `page_no`, `source_url`).
pub fn hints_from_properties(properties: &BasicProperties) -> Hints {
    let empty = FieldTable::default();
    let headers = properties.headers().as_ref().unwrap_or(&empty);
    let header = |key: &str| amqp::header_text(headers, key).filter(|v| !v.is_empty());
    Hints {
        content_type: properties
            .content_type()
            .as_ref()
            .map(|c| c.as_str().to_owned()),
        charset: header("charset").or_else(|| {
            properties
                .content_encoding()
                .as_ref()
                .map(|c| c.as_str().to_owned())
                .filter(|c| !c.is_empty())
        }),
        page_id: header("page_id").or_else(|| {
            properties
                .message_id()
                .as_ref()
                .map(|m| m.as_str().to_owned())
                .filter(|m| !m.is_empty())
        }),
        meta: PageMeta {
            newspaper: header("newspaper"),
            edition_date: header("edition_date"),
            page_no: header("page_no"),
            source_url: header("source_url"),
        },
    }
}

/// The message of one article event: persistent JSON, `message_id` = event id,
/// `correlation_id` = page id, routed by [`ArticleEvent::routing_key`], mandatory.
pub fn event_message(
    event: &ArticleEvent,
    exchange: &str,
) -> Result<OutMessage, serde_json::Error> {
    let body = serde_json::to_vec(event)?;
    let mut headers = FieldTable::default();
    headers.insert("schema".into(), amqp::header_str(&event.schema));
    headers.insert("page_id".into(), amqp::header_str(&event.page.id));
    headers.insert(
        "is_safety".into(),
        lapin::types::AMQPValue::Boolean(event.safety.is_safety),
    );
    headers.insert(
        "primary".into(),
        amqp::header_str(event.safety.primary.map_or("none", Topic::as_str)),
    );
    headers.insert(
        "classifier".into(),
        amqp::header_str(&event.pipeline.classifier),
    );
    Ok(OutMessage {
        exchange: exchange.to_owned(),
        routing_key: event.routing_key(),
        body,
        properties: json_properties()
            .with_message_id(short(&event.event_id))
            .with_correlation_id(short(&event.page.id))
            .with_type(short(&event.schema))
            .with_headers(headers),
        mandatory: true,
    })
}

fn json_properties() -> BasicProperties {
    BasicProperties::default()
        .with_content_type(short("application/json"))
        .with_delivery_mode(2)
        .with_app_id(short("pagesift"))
        .with_timestamp(unix_now())
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The `page.processed` summary of a page.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct PageSummary {
    /// Always [`PAGE_SUMMARY_SCHEMA`].
    pub schema: String,
    /// The page id.
    pub page_id: String,
    /// Article events published for the page.
    pub articles: usize,
    /// Safety article events among them.
    pub safety_articles: usize,
    /// Milliseconds spent decoding and running the pipeline.
    pub duration_ms: u64,
    /// The classifier version.
    pub classifier: String,
    /// RFC 3339 time of processing.
    pub processed_at: String,
}

fn summary_message(summary: &PageSummary, exchange: &str) -> Result<OutMessage, serde_json::Error> {
    Ok(OutMessage {
        exchange: exchange.to_owned(),
        routing_key: PAGE_SUMMARY_ROUTING_KEY.to_owned(),
        body: serde_json::to_vec(summary)?,
        properties: json_properties()
            .with_message_id(short(&format!("{}:summary", summary.page_id)))
            .with_correlation_id(short(&summary.page_id))
            .with_type(short(PAGE_SUMMARY_SCHEMA)),
        // Nobody has to listen to summaries: an unbound summary is not a failure.
        mandatory: false,
    })
}

/// The copy of a rejected page sent to the dead-letter exchange: the original body and
/// properties, plus headers naming the error class and reason, the page id and the source queue.
pub fn dead_letter_message(
    delivery_properties: &BasicProperties,
    body: &[u8],
    class: &str,
    reason: &str,
    page_id: Option<&str>,
    exchange: &str,
    source_queue: &str,
) -> OutMessage {
    let mut headers = delivery_properties.headers().clone().unwrap_or_default();
    headers.insert(ERROR_CLASS_HEADER.into(), amqp::header_str(class));
    let reason: String = reason.chars().take(1000).collect();
    headers.insert(ERROR_REASON_HEADER.into(), amqp::header_str(&reason));
    if let Some(id) = page_id {
        headers.insert(PAGE_ID_HEADER.into(), amqp::header_str(id));
    }
    headers.insert(SOURCE_QUEUE_HEADER.into(), amqp::header_str(source_queue));
    OutMessage {
        exchange: exchange.to_owned(),
        routing_key: source_queue.to_owned(),
        body: body.to_vec(),
        properties: delivery_properties
            .clone()
            .with_delivery_mode(2)
            .with_headers(headers),
        mandatory: true,
    }
}

/// What the blocking part of a page produces.
struct Built {
    page_id: String,
    messages: Vec<OutMessage>,
    tallies: Vec<(bool, &'static str)>,
    safety_articles: usize,
}

/// Decode, process and serialise one page (runs on the blocking pool).
fn build(
    pipeline: &Pipeline,
    body: &[u8],
    hints: &Hints,
    exchange: &str,
    page_summary: bool,
) -> Result<Built, InputError> {
    let started = Instant::now();
    let page = pipeline.decode(body, hints)?;
    let now = crate::clock::now_rfc3339();
    let processed = pipeline.process(&page, &now)?;
    let safety_articles = processed.safety_count();
    let mut messages = Vec::with_capacity(processed.events.len() + 1);
    let mut tallies = Vec::with_capacity(processed.events.len());
    for event in &processed.events {
        // Serialising plain structs of strings and numbers cannot fail; skip defensively.
        if let Ok(m) = event_message(event, exchange) {
            messages.push(m);
            tallies.push((
                event.safety.is_safety,
                event.safety.primary.map_or("none", Topic::as_str),
            ));
        }
    }
    if page_summary {
        let summary = PageSummary {
            schema: PAGE_SUMMARY_SCHEMA.to_owned(),
            page_id: page.page_id.clone(),
            articles: tallies.len(),
            safety_articles,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            classifier: pipeline.classifier_version().to_owned(),
            processed_at: now,
        };
        if let Ok(m) = summary_message(&summary, exchange) {
            messages.push(m);
        }
    }
    Ok(Built {
        page_id: page.page_id,
        messages,
        tallies,
        safety_articles,
    })
}

impl Context {
    /// Publishes a batch, retrying transient failures with backoff; gives up at once when the
    /// channel is lost (the page will be redelivered on a new session).
    async fn publish_with_retry(
        &self,
        messages: &[OutMessage],
        page_id: &str,
    ) -> Result<(), PublishError> {
        let lost = self.session_lost.clone();
        let result = (|| self.publisher.publish_all(messages))
            .retry(self.retry.backoff())
            .when(|e: &PublishError| !e.channel_lost() && !lost.is_cancelled())
            .notify(|e: &PublishError, delay: Duration| {
                metrics::publish_retried();
                tracing::warn!(page_id, error = %e, retry_in_ms = delay.as_millis() as u64,
                    "publish failed; retrying");
            })
            .await;
        if let Err(e) = &result
            && e.channel_lost()
        {
            self.session_lost.cancel();
        }
        result
    }
}

/// Settles one delivery (see the module docs). Never panics on input; logs one line per page.
pub async fn handle_delivery(ctx: &Context, delivery: Delivery) -> Settled {
    let started = Instant::now();
    let _in_flight = metrics::page_started();
    let hints = hints_from_properties(&delivery.properties);
    let pipeline = ctx.pipeline.load_full();
    let Delivery {
        delivery_tag,
        redelivered,
        properties,
        data,
        acker,
        ..
    } = delivery;
    let data = Arc::new(data);
    let built = {
        let data = Arc::clone(&data);
        let hints = hints.clone();
        let exchange = ctx.output_exchange.clone();
        let summary = ctx.page_summary;
        let cpu = Arc::clone(&ctx.cpu).acquire_owned().await;
        let built = tokio::task::spawn_blocking(move || {
            build(&pipeline, &data, &hints, &exchange, summary)
        })
        .await;
        drop(cpu);
        built
    };
    let message_id = properties
        .message_id()
        .as_ref()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default();

    let mut settled = match built {
        Ok(Ok(built)) => {
            let articles = built.tallies.len();
            match ctx
                .publish_with_retry(&built.messages, &built.page_id)
                .await
            {
                Ok(()) => {
                    for (is_safety, primary) in &built.tallies {
                        metrics::article_published(*is_safety, primary);
                    }
                    Settled {
                        outcome: PageOutcome::Published,
                        page_id: built.page_id,
                        articles,
                        safety_articles: built.safety_articles,
                        error: None,
                    }
                }
                Err(e) => Settled {
                    outcome: PageOutcome::Requeued,
                    page_id: built.page_id,
                    articles: 0,
                    safety_articles: 0,
                    error: Some(crate::telemetry::error_chain(&e)),
                },
            }
        }
        Ok(Err(input)) => {
            dead_letter(
                ctx,
                &properties,
                &data,
                &hints,
                input.class(),
                &input.to_string(),
            )
            .await
        }
        Err(join) => {
            tracing::error!(error = %join, "the pipeline panicked on a page (a bug); dead-lettering it");
            dead_letter(
                ctx,
                &properties,
                &data,
                &hints,
                PANIC_CLASS,
                &join.to_string(),
            )
            .await
        }
    };

    // Settle with the broker.
    let settle = match settled.outcome {
        PageOutcome::Published | PageOutcome::DeadLettered => {
            acker.ack(BasicAckOptions::default()).await
        }
        _ => {
            acker
                .nack(BasicNackOptions {
                    multiple: false,
                    requeue: true,
                })
                .await
        }
    };
    // lapin answers Ok(false) without sending anything when the channel is already gone.
    let settle_error = match settle {
        Ok(true) => None,
        Ok(false) => Some("the delivery's channel is closed".to_owned()),
        Err(e) => Some(e.to_string()),
    };
    if let Some(error) = settle_error {
        tracing::warn!(page_id = %settled.page_id, error = %error,
            "could not settle the page; the broker will redeliver it");
        settled.outcome = PageOutcome::Abandoned;
    }
    let duration = started.elapsed();
    metrics::page_settled(settled.outcome, duration);
    let duration_ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    let outcome = settled.outcome.as_str();
    match &settled.error {
        None => tracing::info!(
            page_id = %settled.page_id, message_id, delivery_tag, redelivered,
            articles = settled.articles, safety_articles = settled.safety_articles,
            outcome, duration_ms, "page settled"
        ),
        Some(error) => tracing::warn!(
            page_id = %settled.page_id, message_id, delivery_tag, redelivered,
            articles = settled.articles, safety_articles = settled.safety_articles,
            outcome, duration_ms, error = %error, "page settled"
        ),
    }
    settled
}

async fn dead_letter(
    ctx: &Context,
    properties: &BasicProperties,
    body: &[u8],
    hints: &Hints,
    class: &'static str,
    reason: &str,
) -> Settled {
    let page_id = hints.page_id.clone().unwrap_or_default();
    let message = dead_letter_message(
        properties,
        body,
        class,
        reason,
        hints.page_id.as_deref(),
        &ctx.dead_letter_exchange,
        &ctx.input_queue,
    );
    match ctx
        .publish_with_retry(std::slice::from_ref(&message), &page_id)
        .await
    {
        Ok(()) => {
            metrics::dead_lettered(class);
            Settled {
                outcome: PageOutcome::DeadLettered,
                page_id,
                articles: 0,
                safety_articles: 0,
                error: Some(format!("{class}: {reason}")),
            }
        }
        Err(e) => Settled {
            outcome: PageOutcome::Requeued,
            page_id,
            articles: 0,
            safety_articles: 0,
            error: Some(format!(
                "{class}: {reason}; dead-lettering failed: {}",
                crate::telemetry::error_chain(&e)
            )),
        },
    }
}

/// Delays between reconnect attempts: exponential with jitter, unbounded in number.
fn reconnect_delays(settings: &Settings) -> impl Iterator<Item = Duration> {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(settings.worker.retry_initial_ms))
        .with_max_delay(Duration::from_millis(settings.worker.retry_max_ms))
        .without_max_times()
        .with_jitter()
        .build()
}

fn setup_error(settings: &Settings, source: lapin::Error) -> WorkerError {
    WorkerError::Setup {
        queue: settings.amqp.input_queue.clone(),
        source,
    }
}

/// The number of cores (the size of the pipeline's CPU gate).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

/// Why a session ended.
enum SessionEnd {
    /// Shutdown requested; drained.
    Shutdown,
    /// Connection, channel or consumer lost.
    Lost(String),
}

/// Runs the worker until `shutdown` is cancelled: sessions are rebuilt with backoff after any
/// loss. Returns an error only for problems a retry cannot fix (bad URL or CA file, topology
/// mismatch).
pub async fn run(
    settings: &Settings,
    pipeline: SharedPipeline,
    readiness: Readiness,
    shutdown: CancellationToken,
) -> Result<(), WorkerError> {
    let mut delays = reconnect_delays(settings);
    let mut attempt: u64 = 0;
    let mut first = true;
    loop {
        if shutdown.is_cancelled() {
            return Ok(());
        }
        attempt += 1;
        if !first {
            metrics::reconnected();
        }
        first = false;
        tracing::info!(attempt, url = %settings.redacted_amqp_url(), "connecting to the broker");
        match session(settings, &pipeline, &readiness, &shutdown).await {
            Ok(SessionEnd::Shutdown) => return Ok(()),
            Ok(SessionEnd::Lost(reason)) => {
                tracing::warn!(attempt, reason, "broker session lost; reconnecting");
                // A session that ran resets the backoff.
                delays = reconnect_delays(settings);
                attempt = 0;
            }
            Err(e) if e.is_transient() => {
                tracing::warn!(attempt, error = %crate::telemetry::error_chain(&e),
                    "broker session failed");
            }
            Err(e) => return Err(e),
        }
        readiness.set(false);
        let delay = delays
            .next()
            .unwrap_or(Duration::from_millis(settings.worker.retry_max_ms));
        tracing::info!(
            delay_ms = delay.as_millis() as u64,
            "waiting before reconnecting"
        );
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

fn watch_connection(
    connection: &Connection,
    which: &'static str,
    lost: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let mut events = connection.events_listener();
    tokio::spawn(async move {
        while let Some(event) = events.next().await {
            match event {
                Event::Error(e) => {
                    tracing::warn!(connection = which, error = %e, "connection error");
                    lost.cancel();
                    return;
                }
                Event::ConnectionBlocked(reason) => {
                    tracing::warn!(
                        connection = which,
                        reason,
                        "the broker blocked the connection"
                    );
                }
                Event::ConnectionUnblocked => {
                    tracing::info!(connection = which, "the broker unblocked the connection");
                }
                _ => {}
            }
        }
    })
}

async fn close_connection(connection: &Connection) {
    if connection.status().connected() {
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, connection.close(200, short("bye"))).await;
    }
}

/// One session: connect, declare, consume until shutdown or loss, drain, close.
async fn session(
    settings: &Settings,
    pipeline: &SharedPipeline,
    readiness: &Readiness,
    shutdown: &CancellationToken,
) -> Result<SessionEnd, WorkerError> {
    let consume_conn = amqp::connect(settings, "consume").await?;
    let publish_conn = match amqp::connect(settings, "publish").await {
        Ok(c) => Arc::new(c),
        Err(e) => {
            close_connection(&consume_conn).await;
            return Err(e.into());
        }
    };
    let lost = CancellationToken::new();
    let watchers = [
        watch_connection(&consume_conn, "consume", lost.clone()),
        watch_connection(&publish_conn, "publish", lost.clone()),
    ];
    let result = consume(
        settings,
        pipeline,
        readiness,
        shutdown,
        &consume_conn,
        &publish_conn,
        &lost,
    )
    .await;
    readiness.set(false);
    for w in watchers {
        w.abort();
    }
    close_connection(&consume_conn).await;
    close_connection(&publish_conn).await;
    result
}

#[allow(clippy::too_many_arguments)]
async fn consume(
    settings: &Settings,
    pipeline: &SharedPipeline,
    readiness: &Readiness,
    shutdown: &CancellationToken,
    consume_conn: &Connection,
    publish_conn: &Arc<Connection>,
    lost: &CancellationToken,
) -> Result<SessionEnd, WorkerError> {
    if settings.amqp.declare {
        let channel = consume_conn
            .create_channel()
            .await
            .map_err(|e| setup_error(settings, e))?;
        amqp::topology::declare(&channel, &settings.amqp).await?;
        let _ = channel.close(200, short("declared")).await;
    }
    let publisher = Publisher::open(
        Arc::clone(publish_conn),
        Duration::from_secs(settings.amqp.publish_timeout_seconds),
    )
    .await
    .map_err(|e| setup_error(settings, e))?;
    let channel = consume_conn
        .create_channel()
        .await
        .map_err(|e| setup_error(settings, e))?;
    channel
        .basic_qos(settings.prefetch(), BasicQosOptions::default())
        .await
        .map_err(|e| setup_error(settings, e))?;
    let mut consumer = channel
        .basic_consume(
            short(&settings.amqp.input_queue),
            short(""),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|e| setup_error(settings, e))?;
    let concurrency = settings.concurrency();
    tracing::info!(
        queue = %settings.amqp.input_queue,
        concurrency,
        prefetch = settings.prefetch(),
        "consuming"
    );
    readiness.set(true);

    let ctx = Arc::new(Context {
        pipeline: Arc::clone(pipeline),
        publisher: publisher.clone(),
        output_exchange: settings.amqp.output_exchange.clone(),
        dead_letter_exchange: settings.amqp.dead_letter_exchange.clone(),
        input_queue: settings.amqp.input_queue.clone(),
        page_summary: settings.amqp.page_summary,
        retry: RetryPolicy::from_settings(settings),
        session_lost: lost.clone(),
        cpu: Arc::new(Semaphore::new(cores())),
    });
    let slots = Arc::new(Semaphore::new(concurrency));
    let tracker = TaskTracker::new();
    let end = loop {
        let permit = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break SessionEnd::Shutdown,
            _ = lost.cancelled() => break SessionEnd::Lost("connection or channel lost".into()),
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break SessionEnd::Lost("worker slots closed".into()),
            },
        };
        let next = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break SessionEnd::Shutdown,
            _ = lost.cancelled() => break SessionEnd::Lost("connection or channel lost".into()),
            next = consumer.next() => next,
        };
        match next {
            Some(Ok(delivery)) => {
                let ctx = Arc::clone(&ctx);
                tracker.spawn(async move {
                    handle_delivery(&ctx, delivery).await;
                    drop(permit);
                });
            }
            Some(Err(e)) => break SessionEnd::Lost(format!("consumer failed: {e}")),
            None => break SessionEnd::Lost("the broker cancelled the consumer".into()),
        }
    };
    readiness.set(false);
    tracker.close();
    if matches!(end, SessionEnd::Shutdown) {
        // Stop deliveries; prefetched but unstarted ones go back to the queue when the
        // channel closes.
        let cancel = channel.basic_cancel(consumer.tag(), BasicCancelOptions::default());
        match tokio::time::timeout(CLOSE_TIMEOUT, cancel).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "cancelling the consumer"),
            Err(_) => tracing::warn!("cancelling the consumer timed out"),
        }
    }
    // On shutdown, in-flight pages get the whole grace period. When the session is lost their
    // deliveries cannot be acked any more (the broker redelivers them), and a settle on a dead
    // channel may never resolve: waiting the full grace would only delay the reconnect.
    let grace = match end {
        SessionEnd::Shutdown => Duration::from_secs(settings.shutdown.grace_seconds),
        SessionEnd::Lost(_) => {
            Duration::from_secs(settings.shutdown.grace_seconds).min(LOST_SESSION_GRACE)
        }
    };
    let in_flight = metrics::snapshot().in_flight;
    tracing::info!(in_flight, "waiting for in-flight pages");
    if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
        tracing::warn!(
            grace_ms = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX),
            "in-flight pages did not finish in time; the broker will redeliver them"
        );
    }
    // A close on a connection the broker already dropped may never resolve: bound it.
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, channel.close(200, short("bye"))).await;
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, publisher.close()).await;
    Ok(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::amqp::header_text;

    fn settings() -> Settings {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config");
        Settings::load_from(&dir, None, Vec::new()).expect("default config")
    }

    #[test]
    fn the_supervisor_future_can_be_spawned_on_a_multi_threaded_runtime() {
        fn assert_send<T: Send>(_: &T) {}
        let s = settings();
        let pipeline = crate::resources::build_pipeline(&s.pipeline).expect("pipeline");
        let shared: SharedPipeline = Arc::new(ArcSwap::from_pointee(pipeline));
        let fut = run(&s, shared, Readiness::new(), CancellationToken::new());
        assert_send(&fut);
    }

    #[test]
    fn hints_come_from_headers_then_message_properties() {
        let mut headers = FieldTable::default();
        headers.insert("newspaper".into(), amqp::header_str("日报"));
        headers.insert("charset".into(), amqp::header_str("gbk"));
        let props = BasicProperties::default()
            .with_content_type(short("text/plain"))
            .with_message_id(short("m-1"))
            .with_headers(headers.clone());
        let hints = hints_from_properties(&props);
        assert_eq!(hints.page_id.as_deref(), Some("m-1"));
        assert_eq!(hints.charset.as_deref(), Some("gbk"));
        assert_eq!(hints.meta.newspaper.as_deref(), Some("日报"));
        assert_eq!(hints.content_type.as_deref(), Some("text/plain"));
        headers.insert("page_id".into(), amqp::header_str("p-9"));
        let hints = hints_from_properties(&props.with_headers(headers));
        assert_eq!(hints.page_id.as_deref(), Some("p-9"), "the header wins");
        assert_eq!(
            hints_from_properties(&BasicProperties::default()),
            Hints::default()
        );
    }

    #[test]
    fn an_event_message_is_persistent_json_keyed_by_event_and_page() {
        let s = settings();
        let pipeline = crate::resources::build_pipeline(&s.pipeline).expect("pipeline");
        let page = crate::model::RawPage {
            page_id: "p".repeat(300),
            text: "标题\n\n正文第一段。\n".to_owned(),
            meta: PageMeta::default(),
        };
        let processed = pipeline
            .process(&page, "2000-01-01T00:00:00Z")
            .expect("page");
        assert!(!processed.events.is_empty(), "the page yields an article");
        for event in &processed.events {
            let m = event_message(event, "out").expect("message");
            assert_eq!(m.routing_key, event.routing_key());
            assert!(m.mandatory);
            let p = &m.properties;
            assert_eq!(*p.delivery_mode(), Some(2));
            assert_eq!(
                p.message_id().as_ref().map(|x| x.as_str()),
                Some(event.event_id.as_str())
            );
            let correlation = p.correlation_id().as_ref().expect("correlation id");
            assert!(
                event.page.id.starts_with(correlation.as_str()),
                "long ids are cut, not panics"
            );
            let back: ArticleEvent = serde_json::from_slice(&m.body).expect("JSON body");
            assert_eq!(&back, event);
        }
    }

    #[test]
    fn a_dead_letter_keeps_the_original_and_names_the_error() {
        let mut headers = FieldTable::default();
        headers.insert("page_id".into(), amqp::header_str("x"));
        let original = BasicProperties::default()
            .with_content_type(short("application/json"))
            .with_headers(headers);
        let long_reason = "r".repeat(5000);
        let m = dead_letter_message(
            &original,
            b"{",
            "invalid_json",
            &long_reason,
            Some("x"),
            "dlx",
            "in",
        );
        assert_eq!(m.body, b"{");
        assert_eq!(m.exchange, "dlx");
        assert_eq!(m.routing_key, "in");
        let h = m.properties.headers().as_ref().expect("headers");
        assert_eq!(
            header_text(h, ERROR_CLASS_HEADER).as_deref(),
            Some("invalid_json")
        );
        assert!(header_text(h, ERROR_REASON_HEADER).is_some_and(|r| r.len() < long_reason.len()));
        assert_eq!(header_text(h, PAGE_ID_HEADER).as_deref(), Some("x"));
        assert_eq!(header_text(h, SOURCE_QUEUE_HEADER).as_deref(), Some("in"));
        assert_eq!(
            header_text(h, "page_id").as_deref(),
            Some("x"),
            "original headers kept"
        );
        assert_eq!(
            m.properties.content_type().as_ref().map(|c| c.as_str()),
            Some("application/json")
        );
    }

    #[test]
    fn retries_stop_after_the_configured_attempts() {
        let policy = RetryPolicy {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(4),
            attempts: 3,
        };
        let delays: Vec<Duration> = policy.backoff().build().collect();
        assert_eq!(delays.len(), 2, "3 attempts = 2 retries");
        assert!(
            delays.iter().all(|d| *d <= Duration::from_millis(8)),
            "{delays:?}"
        );
    }
}
