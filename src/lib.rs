//! pagesift turns raw Chinese newspaper pages into structured, safety-tagged article events.
//!
//! # Layout
//!
//! - [`model`]: the public data model — [`model::RawPage`] in, [`model::ArticleEvent`] out.
//! - [`pipeline`]: the **pure** core (no IO, clock, env or globals): decode, normalise,
//!   segment, enrich with jieba-rs, classify, build events. Everything else calls it.
//! - [`resources`]: reads the model files named by the configuration into
//!   [`pipeline::Resources`] (the IO the pipeline does not do).
//! - [`settings`]: layered configuration (`config/default.toml`, `config/$PAGESIFT_ENV.toml`,
//!   `PAGESIFT__*` variables), validated at start-up.
//! - [`telemetry`]: the tracing subscriber (pretty locally, JSON in production).
//! - [`health`]: readiness state shared by the worker and the HTTP endpoint.
//! - [`amqp`]: RabbitMQ connection, topology and confirmed publishing (lapin).
//! - [`worker`]: `pagesift run`'s consumer: page in, confirmed events out, then ack.
//! - [`metrics`]: every metric name and recording function.
//! - [`shutdown`]: SIGTERM/SIGINT handling.
//! - [`http`]: the `/healthz`, `/readyz` and `/metrics` endpoint.
//! - [`cli`]: the command line (`run`, `process`, `eval`, …) and its commands in [`commands`].

pub mod amqp;
pub mod cli;
pub mod commands;
pub mod health;
pub mod http;
pub mod metrics;
pub mod model;
pub mod pipeline;
pub mod resources;
pub mod settings;
pub mod shutdown;
pub mod telemetry;
pub mod worker;
