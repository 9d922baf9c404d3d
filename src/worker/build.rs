//! The CPU-bound part of a delivery: decode the page, run the pipeline and serialise its events
//! (and summary) into messages, on the blocking pool and gated to the cores. Whatever goes
//! wrong there is already an [`Outcome`]: bad input, an event that cannot be serialised (the
//! page is kept), or a pipeline panic (a bug; the page is dead-lettered).

use std::sync::Arc;
use std::time::Instant;

use super::PANIC_CLASS;
use super::encode::{self, PAGE_SUMMARY_SCHEMA, PageSummary};
use super::page::Context;
use super::settle::Outcome;
use crate::amqp::OutMessage;
use crate::pipeline::{Hints, InputError, Pipeline};

/// What the blocking part of a page produces.
pub(super) struct Built {
    /// The decoded page's id.
    pub(super) page_id: String,
    /// The events' messages, then the summary's (when `amqp.page_summary`).
    pub(super) messages: Vec<OutMessage>,
    /// Per event: whether it is a safety article, and its primary topic.
    pub(super) tallies: Vec<(bool, &'static str)>,
    /// Safety article events among them.
    pub(super) safety_articles: usize,
}

/// Why the blocking part produced no messages.
enum BuildError {
    /// The page is bad input.
    Input(InputError),
    /// An event or the summary could not be serialised (a bug; the page is kept).
    Serialise(serde_json::Error),
}

/// Decode, process and serialise one page (runs on the blocking pool).
fn build(
    pipeline: &Pipeline,
    body: &[u8],
    hints: &Hints,
    ctx: &Context,
) -> Result<Built, BuildError> {
    let started = Instant::now();
    let page = pipeline.decode(body, hints).map_err(BuildError::Input)?;
    let now = ctx.clock.now_rfc3339();
    let timestamp = ctx.clock.unix_seconds();
    let processed = pipeline.process(&page, &now).map_err(BuildError::Input)?;
    let safety_articles = processed.safety_count();
    let mut messages = Vec::with_capacity(processed.events.len() + 1);
    let mut tallies = Vec::with_capacity(processed.events.len());
    for event in &processed.events {
        messages.push(
            encode::event_message(event, &ctx.output_exchange, timestamp)
                .map_err(BuildError::Serialise)?,
        );
        tallies.push((
            event.safety.is_safety,
            event.safety.primary.map_or("none", |t| t.as_str()),
        ));
    }
    if ctx.page_summary {
        let summary = PageSummary {
            schema: PAGE_SUMMARY_SCHEMA.to_owned(),
            page_id: page.page_id.clone(),
            articles: tallies.len(),
            safety_articles,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            classifier: pipeline.classifier_version().to_owned(),
            processed_at: now,
            lowest_confidence: processed
                .events
                .iter()
                .map(|e| e.article.confidence)
                .reduce(f64::min),
        };
        messages.push(
            encode::summary_message(&summary, &ctx.output_exchange, timestamp)
                .map_err(BuildError::Serialise)?,
        );
    }
    Ok(Built {
        page_id: page.page_id,
        messages,
        tallies,
        safety_articles,
    })
}

/// The pipeline step's result: messages to publish, or already an outcome.
pub(super) enum Step {
    /// Messages to publish.
    Built(Built),
    /// Nothing to publish: the outcome is known.
    Done(Outcome),
}

impl Context {
    /// Runs the pipeline on the blocking pool, gated by the CPU semaphore.
    pub(super) async fn process(&self, data: &Arc<Vec<u8>>, hints: &Hints) -> Step {
        let pipeline = self.pipeline.load_full();
        let (data, hints, ctx) = (Arc::clone(data), hints.clone(), self.clone());
        let cpu = Arc::clone(&self.cpu).acquire_owned().await;
        let built =
            tokio::task::spawn_blocking(move || build(&pipeline, &data, &hints, &ctx)).await;
        drop(cpu);
        match built {
            Ok(Ok(built)) => Step::Built(built),
            Ok(Err(BuildError::Input(input))) => Step::Done(Outcome::Rejected {
                class: input.class(),
                reason: input.to_string(),
            }),
            Ok(Err(BuildError::Serialise(e))) => Step::Done(Outcome::Unserialisable {
                error: e.to_string(),
            }),
            Err(join) => {
                tracing::error!(error = %join, "the pipeline panicked on a page (a bug); dead-lettering it");
                Step::Done(Outcome::Rejected {
                    class: PANIC_CLASS,
                    reason: join.to_string(),
                })
            }
        }
    }
}
