//! The worker process, wired up: what `pagesift run` runs. [`serve`] installs the signal
//! handlers and the Prometheus recorder, starts the HTTP endpoint (when `http.enabled`), builds
//! the pipeline from the settings, starts the SIGHUP model reload ([`reload`]) and the periodic
//! stats line ([`stats`]), and runs [`crate::worker::run`] until a graceful shutdown.

pub mod reload;
pub mod stats;

use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;

use crate::clock::SystemClock;
use crate::health::Readiness;
use crate::http::HttpError;
use crate::resources::LoadError;
use crate::settings::Settings;
use crate::shutdown::ShutdownError;
use crate::worker::{SharedPipeline, Worker, WorkerError};

/// Errors that stop the worker process.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A signal handler could not be installed.
    #[error(transparent)]
    Signals(#[from] ShutdownError),
    /// The Prometheus recorder or the HTTP endpoint could not be set up, or the endpoint
    /// failed.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The pipeline's model files could not be loaded.
    #[error("loading the pipeline's model files")]
    Pipeline(#[source] LoadError),
    /// The worker stopped with an error a retry cannot fix.
    #[error("the worker stopped")]
    Worker(#[source] WorkerError),
}

/// Runs the worker with its reload and stats tasks; returns after a graceful shutdown.
/// `readiness` is flipped by the worker (the HTTP endpoint reports it). The Prometheus recorder
/// is installed even when the endpoint is off: the stats line reads its totals from it.
pub async fn serve(settings: Settings, readiness: Readiness) -> Result<(), ServiceError> {
    let shutdown = crate::shutdown::install()?;
    let recorder = crate::http::install_recorder()?;
    let endpoint = crate::http::start(&settings.http, readiness.clone()).await?;
    let pipeline =
        crate::resources::build_pipeline(&settings.pipeline).map_err(ServiceError::Pipeline)?;
    crate::metrics::describe();
    crate::metrics::model_info(pipeline.classifier_version(), None);
    tracing::info!(
        version = crate::pipeline::VERSION,
        classifier = pipeline.classifier_version(),
        url = %settings.redacted_amqp_url(),
        "pagesift worker starting"
    );
    let shared: SharedPipeline = Arc::new(ArcSwap::from_pointee(pipeline));
    let (started, started_at) = (crate::metrics::snapshot(&recorder), Instant::now());
    let reloader = reload::spawn(settings.clone(), Arc::clone(&shared), shutdown.clone())?;
    let stats = stats::spawn(
        recorder.clone(),
        settings.log.stats_interval_seconds,
        shutdown.clone(),
    );
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
    result.map_err(ServiceError::Worker)?;
    stats::log(
        "pagesift worker stopped",
        &recorder,
        &started,
        started_at.elapsed(),
    );
    Ok(())
}
