//! Signals: the first SIGTERM or SIGINT cancels a [`CancellationToken`] (the worker stops
//! consuming, finishes and acks its in-flight pages, closes its channels and connections and
//! returns); a second one exits the process at once (unacked pages are redelivered by the
//! broker). SIGHUP is handled by [`crate::service::reload`] (model reload), not here.

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

/// Exit code when a second signal cuts the drain short.
pub const FORCED_EXIT_CODE: i32 = 130;

/// Errors installing the signal handlers.
#[derive(Debug, thiserror::Error)]
pub enum ShutdownError {
    /// The OS refused a handler.
    #[error("installing the {signal} handler: {source}")]
    Install {
        /// The signal.
        signal: &'static str,
        /// The IO error.
        source: std::io::Error,
    },
}

/// Installs the SIGTERM/SIGINT handlers on the current tokio runtime and returns the token the
/// first signal cancels.
pub fn install() -> Result<CancellationToken, ShutdownError> {
    let install = |kind, name| {
        signal(kind).map_err(|source| ShutdownError::Install {
            signal: name,
            source,
        })
    };
    let mut term = install(SignalKind::terminate(), "SIGTERM")?;
    let mut int = install(SignalKind::interrupt(), "SIGINT")?;
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let first = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!(signal = first, "shutting down: draining in-flight pages");
        cancel.cancel();
        let second = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::warn!(
            signal = second,
            "second signal: exiting now; unacked pages will be redelivered"
        );
        std::process::exit(FORCED_EXIT_CODE);
    });
    Ok(token)
}
