//! One module per command of the binary. Commands are the edges: they do IO, use `anyhow`,
//! and call the pure [`crate::pipeline`].

pub mod bench_load;
pub mod build_idf;
pub mod check_config;
pub mod dataset;
pub mod dead_letters;
pub mod eval;
pub mod eval_classifier;
pub mod probe;
pub mod process;
pub mod publish;
pub mod run;
pub mod train;

/// The current UTC time as RFC 3339 (the pipeline takes the clock reading from its caller).
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}
