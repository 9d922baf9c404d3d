//! The tracing subscriber: human-readable lines on a terminal, JSON lines when
//! `log.format = "json"`; filter from `RUST_LOG` or `log.filter`. Logs go to stderr so that
//! commands printing events on stdout stay pipeable.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::MakeWriterExt;

use crate::settings::{LogFormat, LogSettings};

/// Caps added to every filter (`RUST_LOG` included), because these lapin targets log whole
/// messages or frames: a returned message at WARN as `Debug` (a 2 MB page became 128 MB of
/// decimal bytes), every frame at TRACE. The worker logs a return itself, in one line with sizes
/// and ids (`amqp::publisher`).
pub const LAPIN_CAPS: [&str; 3] = [
    "lapin::returned_messages=error",
    "lapin::channels=info",
    "lapin::frames=info",
];

/// The filter: `RUST_LOG`, else `default`, else `info`; always with [`LAPIN_CAPS`].
pub fn filter(default: &str) -> EnvFilter {
    let mut filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(default))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    for cap in LAPIN_CAPS {
        if let Ok(directive) = cap.parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

/// Installs the global subscriber once; later calls (tests) are ignored.
pub fn init(settings: &LogSettings) {
    let filter = filter(&settings.filter);
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
