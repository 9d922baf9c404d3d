//! pagesift turns raw Chinese newspaper pages into structured, safety-tagged article events.
//!
//! # Layout
//!
//! - [`model`]: the public data model — [`model::RawPage`] in, [`model::ArticleEvent`] out.
//! - [`pipeline`]: the **pure** core (no IO, clock, env or globals): decode, normalise,
//!   segment, enrich with jieba-rs, classify, build events. Everything else calls it.
//! - [`resources`]: the files of `config/` compiled into the binary, the files on disk that
//!   override them, and the model files read into [`pipeline::Resources`] (the IO the pipeline
//!   does not do).
//! - [`settings`]: layered configuration (compiled-in `default.toml`, the configuration
//!   directory's `default.toml` and `$PAGESIFT_ENV.toml`, `PAGESIFT__*` variables), validated at
//!   start-up.
//! - [`telemetry`]: the tracing subscriber (pretty locally, JSON in production).
//! - [`health`]: readiness state shared by the worker and the HTTP endpoint.
//! - [`amqp`]: RabbitMQ connection, topology and confirmed publishing (lapin).
//! - [`worker`]: `pagesift run`'s consumer: page in, confirmed events out, then ack.
//! - [`service`]: the worker process wired up (signals, recorder, endpoint, pipeline, SIGHUP
//!   reload, stats line) — what `pagesift run` runs.
//! - [`metrics`]: every metric name and recording function.
//! - [`shutdown`]: SIGTERM/SIGINT handling.
//! - [`http`]: the `/healthz`, `/readyz` and `/metrics` endpoint.
//! - [`dead_letters`]: listing and replaying the dead-letter queue (`pagesift dead-letters`).
//! - [`page_file`]: page files as pages (hints, page id from the stem) and as page messages.
//! - [`clock`]: the clock the edges hand in (the system's, or a fixed one in tests).
//! - [`cli`]: the service's command line (`run`, `process`, `publish`, …) and its commands in
//!   [`commands`].
//! - [`dataset`], [`eval`], [`train`]: labelled data, scoring and model fitting for the
//!   development binary `pagesift-dev` (`src/bin/pagesift-dev/`) and the tests.

pub mod amqp;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod dataset;
pub mod dead_letters;
pub mod eval;
pub mod health;
pub mod http;
pub mod metrics;
pub mod model;
pub mod page_file;
pub mod pipeline;
pub mod resources;
pub mod service;
pub mod settings;
pub mod shutdown;
pub mod telemetry;
pub mod train;
pub mod worker;
