//! SIGHUP: the model files are read again (from the configuration directory, else the embedded
//! defaults) and the pipeline is swapped atomically; a bad file is logged and the old pipeline
//! keeps serving.

use std::sync::Arc;

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

use crate::settings::Settings;
use crate::shutdown::ShutdownError;
use crate::worker::SharedPipeline;

/// Installs the SIGHUP handler and reloads on every SIGHUP until `shutdown`.
pub fn spawn(
    settings: Settings,
    shared: SharedPipeline,
    shutdown: CancellationToken,
) -> Result<tokio::task::JoinHandle<()>, ShutdownError> {
    let mut hangup = signal(SignalKind::hangup()).map_err(|source| ShutdownError::Install {
        signal: "SIGHUP",
        source,
    })?;
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
