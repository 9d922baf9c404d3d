//! The tracing subscriber: human-readable lines on a terminal, JSON lines when
//! `log.format = "json"`; filter from `RUST_LOG` or `log.filter`. Logs go to stderr so that
//! commands printing events on stdout stay pipeable.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::MakeWriterExt;

use crate::settings::{LogFormat, LogSettings};

/// Installs the global subscriber once; later calls (tests) are ignored.
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let writer = std::io::stderr.with_max_level(tracing::Level::TRACE);
    let result = match settings.format {
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_env_filter(filter)
            .with_writer(writer)
            .try_init(),
        LogFormat::Pretty => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(writer)
            .try_init(),
    };
    // An already-installed subscriber (a second init in tests) is fine.
    let _ = result;
}

/// Formats an error with its whole cause chain: `outer: inner: root`.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let msg = s.to_string();
        if !out.ends_with(&msg) {
            out.push_str(": ");
            out.push_str(&msg);
        }
        source = s.source();
    }
    out
}
