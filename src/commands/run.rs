//! `pagesift run`: the worker. Loads the model, installs the signal handlers (SIGTERM/SIGINT
//! drain and exit; SIGHUP reloads the model files), logs a one-line stats summary every
//! `log.stats_interval_seconds`, and runs [`crate::worker::run`] until shut down.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use arc_swap::ArcSwap;
use tokio_util::sync::CancellationToken;

use crate::clock::SystemClock;
use crate::health::Readiness;
use crate::metrics::Snapshot;
use crate::settings::Settings;
use crate::worker::{SharedPipeline, Worker};

/// Arguments of `pagesift run`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the command: builds a multi-threaded runtime and serves until shut down.
pub fn run(settings: &Settings, _args: Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(settings.clone(), Readiness::new()))?;
    Ok(ExitCode::SUCCESS)
}

/// The worker with its reload and stats tasks; returns after a graceful shutdown. `readiness`
/// is flipped by the worker (the HTTP endpoint reports it).
pub async fn serve(settings: Settings, readiness: Readiness) -> anyhow::Result<()> {
    let shutdown = crate::shutdown::install()?;
    let endpoint = crate::http::start(&settings.http, readiness.clone()).await?;
    let pipeline = crate::resources::build_pipeline(&settings.pipeline)
        .context("loading the pipeline's model files")?;
    crate::metrics::describe();
    crate::metrics::model_info(pipeline.classifier_version(), None);
    tracing::info!(
        version = crate::pipeline::VERSION,
        classifier = pipeline.classifier_version(),
        url = %settings.redacted_amqp_url(),
        "pagesift worker starting"
    );
    let shared: SharedPipeline = Arc::new(ArcSwap::from_pointee(pipeline));
    let (started, started_at) = (crate::metrics::snapshot(), Instant::now());
    let reloader = spawn_reloader(settings.clone(), Arc::clone(&shared), shutdown.clone())?;
    let stats = spawn_stats(settings.log.stats_interval_seconds, shutdown.clone());
    let result = crate::worker::run(Worker {
        settings: settings.clone(),
        pipeline: shared,
        readiness,
        shutdown: shutdown.clone(),
        clock: Arc::new(SystemClock),
    })
    .await;
    shutdown.cancel();
    reloader.abort();
    stats.abort();
    if let Some(endpoint) = endpoint {
        endpoint.stop().await?;
    }
    result.context("the worker stopped")?;
    log_stats("pagesift worker stopped", &started, started_at.elapsed());
    Ok(())
}

/// Reloads the model files on SIGHUP and swaps the pipeline atomically; a bad file is logged
/// and the old pipeline keeps serving.
pub fn spawn_reloader(
    settings: Settings,
    shared: SharedPipeline,
    shutdown: CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("installing the SIGHUP handler")?;
    Ok(tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                received = hangup.recv() => if received.is_none() { return },
            }
            reload(&settings, &shared).await;
        }
    }))
}

/// Rebuilds the pipeline from the configured files and swaps it in; returns whether it did.
pub async fn reload(settings: &Settings, shared: &SharedPipeline) -> bool {
    let pipeline_settings = settings.pipeline.clone();
    let built =
        tokio::task::spawn_blocking(move || crate::resources::build_pipeline(&pipeline_settings))
            .await;
    match built {
        Ok(Ok(pipeline)) => {
            let previous = shared.load().classifier_version().to_owned();
            crate::metrics::model_info(pipeline.classifier_version(), Some(&previous));
            tracing::info!(
                classifier = pipeline.classifier_version(),
                previous,
                "model reloaded"
            );
            shared.store(Arc::new(pipeline));
            crate::metrics::reloaded(true);
            true
        }
        Ok(Err(e)) => {
            tracing::error!(error = %crate::telemetry::error_chain(&e),
                "model reload rejected; the previous model keeps serving");
            crate::metrics::reloaded(false);
            false
        }
        Err(e) => {
            tracing::error!(error = %e, "model reload failed; the previous model keeps serving");
            crate::metrics::reloaded(false);
            false
        }
    }
}

/// Logs the one-line stats summary every `interval_seconds` (never when 0).
pub fn spawn_stats(
    interval_seconds: u64,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if interval_seconds == 0 {
            return;
        }
        let period = Duration::from_secs(interval_seconds);
        let mut before = crate::metrics::snapshot();
        let mut at = Instant::now();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(period) => {}
            }
            let now = log_stats("stats", &before, at.elapsed());
            before = now;
            at = Instant::now();
        }
    })
}

/// Logs the stats line `message`: rates since `before` (taken `elapsed` ago), in-flight pages
/// and totals, as fields. Returns the snapshot it logged.
fn log_stats(message: &str, before: &Snapshot, elapsed: Duration) -> Snapshot {
    let now = crate::metrics::snapshot();
    let (pages, articles) = crate::metrics::rates(before, &now, elapsed);
    tracing::info!(
        pages_per_second = format!("{pages:.1}"),
        articles_per_second = format!("{articles:.1}"),
        in_flight = now.in_flight,
        published = now.published,
        dead_lettered = now.dead_lettered,
        requeued = now.requeued,
        abandoned = now.abandoned,
        articles = now.articles,
        safety_articles = now.safety_articles,
        reconnects = now.reconnects,
        "{message}"
    );
    now
}
