//! One delivery, from page to settle: decode and run the pipeline off the reactor
//! (`build`: `spawn_blocking`, gated to the cores), publish every event (and the summary) with
//! confirms, retrying transient failures with backoff, then carry out what [`settle`] decides
//! (ack, requeue, or a dead-letter or retry copy first). One `page` tracing span per delivery
//! carries `page_id`, `message_id`, `delivery_tag`, `redelivered` and `attempts`; the
//! `page settled` line inside it adds `outcome`, `articles`, `duration_ms` and `error`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use backon::Retryable;
use lapin::Acker;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicNackOptions};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::budget::CopyLimits;
use super::build::Step;
use super::copy::{Rejection, dead_letter_message, retry_message};
use super::delivery::{
    BAD_PROPERTIES_CLASS, hints_from_properties, previous_attempts, property_problem,
};
use super::settle::{Action, Attempts, DeliveryLimit, Failure, Outcome, page_outcome, settle};
use super::{SharedPipeline, millis};
use crate::amqp::{OutMessage, PublishError, Publisher};
use crate::clock::Clock;
use crate::metrics::{self, PageOutcome};
use crate::pipeline::InputError;
use crate::settings::Backoff;

/// What [`handle_delivery`] needs besides the delivery (one per session).
#[derive(Debug, Clone)]
pub struct Context {
    /// The pipeline (swapped on reload).
    pub pipeline: SharedPipeline,
    /// The confirm-mode publisher.
    pub publisher: Publisher,
    /// Output exchange name.
    pub output_exchange: String,
    /// Dead-letter exchange name.
    pub dead_letter_exchange: String,
    /// Input queue name (the routing key of dead-letter copies, the target of retry copies).
    pub input_queue: String,
    /// Who limits the deliveries of a failing page (the broker on quorum queues, the worker on
    /// classic ones).
    pub delivery_limit: DeliveryLimit,
    /// Publish a `page.processed` summary per page.
    pub page_summary: bool,
    /// Backoff and attempts for transient publish failures.
    pub retry: Backoff,
    /// Cancelled when the session's channels are lost (stop retrying, let the broker redeliver).
    pub session_lost: CancellationToken,
    /// Bounds the pages in the CPU-bound pipeline step to the number of cores, so that
    /// `worker.concurrency` can exceed the cores (overlapping confirm waits) without
    /// oversubscribing the CPU.
    pub cpu: Arc<Semaphore>,
    /// The clock for `processed_at` and the messages' timestamp.
    pub clock: Arc<dyn Clock>,
    /// Bounds on dead-letter and retry copies (from the publishing connection's `frame_max`).
    pub copy_limits: CopyLimits,
}

/// How a delivery was settled, with what the log line needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    /// The outcome.
    pub outcome: PageOutcome,
    /// The page id (empty when the message had none).
    pub page_id: String,
    /// Article events published.
    pub articles: usize,
    /// Safety article events published.
    pub safety_articles: usize,
    /// What went wrong, when something did: `class: reason` for a dead-lettered page, the
    /// publishing error (with causes) for a requeued one, the settle error for an abandoned one.
    pub error: Option<String>,
}

impl Context {
    /// Publishes a batch, retrying transient failures with backoff; gives up at once when the
    /// channel is lost (the page will be redelivered on a new session).
    async fn publish_with_retry(&self, messages: &[OutMessage]) -> Result<(), PublishError> {
        let lost = self.session_lost.clone();
        let result = (|| self.publisher.publish_all(messages))
            .retry(self.retry)
            .when(|e: &PublishError| !e.channel_lost() && !lost.is_cancelled())
            .notify(|e: &PublishError, delay: Duration| {
                metrics::publish_retried();
                tracing::warn!(error = %e, retry_in_ms = millis(delay), "publish failed; retrying");
            })
            .await;
        if let Err(e) = &result
            && e.channel_lost()
        {
            self.session_lost.cancel();
        }
        result
    }
}

fn failure(e: &PublishError) -> (Failure, String) {
    (Failure::from(e), crate::telemetry::error_chain(e))
}

/// Settles one delivery (see the module docs) inside its `page` span. Never panics on input;
/// logs one `page settled` line.
pub async fn handle_delivery(ctx: &Context, delivery: Delivery) -> Settled {
    let message_id = delivery
        .properties
        .message_id()
        .as_ref()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default();
    let attempts = previous_attempts(&delivery.properties);
    let span = tracing::info_span!(
        "page",
        page_id = tracing::field::Empty,
        message_id,
        delivery_tag = delivery.delivery_tag,
        redelivered = delivery.redelivered,
        attempts,
    );
    handle(ctx, delivery, attempts).instrument(span).await
}

async fn handle(ctx: &Context, delivery: Delivery, previous: u32) -> Settled {
    let started = Instant::now();
    let _in_flight = metrics::page_started();
    // The body's declared size when the channel's `max_body_size` kept only its first bytes
    // (the rest was dropped as it arrived; see `Session::start`).
    let truncated = delivery.body_truncated().then(|| delivery.body_size());
    let Delivery {
        properties,
        data,
        acker,
        ..
    } = delivery;
    let hints = hints_from_properties(&properties);
    let data = Arc::new(data);
    let attempts = Attempts {
        previous,
        limit: ctx.delivery_limit,
    };
    let (mut articles, mut safety_articles) = (0, 0);
    // Poison properties are never processed: the page's id and metadata cannot be trusted.
    let step = match (property_problem(&properties), truncated) {
        (Some(reason), _) => Step::Done(Outcome::Rejected {
            class: BAD_PROPERTIES_CLASS,
            reason,
        }),
        (None, Some(size)) => {
            let too_large = InputError::TooLarge {
                size: usize::try_from(size).unwrap_or(usize::MAX),
                limit: ctx.pipeline.load().limits().max_page_bytes,
            };
            Step::Done(Outcome::Rejected {
                class: too_large.class(),
                reason: too_large.to_string(),
            })
        }
        (None, None) => ctx.process(&data, &hints).await,
    };
    // The decoded page's id (a JSON page's own) when there is one, else the message's.
    let page_id = match &step {
        Step::Built(built) => built.page_id.clone(),
        Step::Done(_) => hints.page_id.clone().unwrap_or_default(),
    };
    tracing::Span::current().record("page_id", page_id.as_str());
    let mut outcome = match step {
        Step::Done(outcome) => outcome,
        Step::Built(built) => match ctx.publish_with_retry(&built.messages).await {
            Ok(()) => {
                for (is_safety, primary) in &built.tallies {
                    metrics::article_published(*is_safety, primary);
                }
                articles = built.tallies.len();
                safety_articles = built.safety_articles;
                Outcome::Published
            }
            Err(e) => {
                let (failure, error) = failure(&e);
                Outcome::PublishFailed { failure, error }
            }
        },
    };
    let mut error = error_of(&outcome);
    let settled_by = loop {
        let action = settle(&outcome, attempts);
        outcome = match &action {
            Action::DeadLetter { class, reason } => {
                let rejection = Rejection {
                    class,
                    reason,
                    page_id: hints.page_id.as_deref(),
                    source_queue: &ctx.input_queue,
                    declared_body_bytes: truncated,
                };
                let copy = dead_letter_message(
                    &properties,
                    &data,
                    rejection,
                    &ctx.dead_letter_exchange,
                    ctx.copy_limits,
                );
                error = Some(format!("{class}: {reason}"));
                match ctx.publish_with_retry(std::slice::from_ref(&copy)).await {
                    Ok(()) => {
                        metrics::dead_lettered(class);
                        Outcome::DeadLettered { class }
                    }
                    Err(e) => {
                        let (failure, e) = failure(&e);
                        error = Some(format!("{class}: {reason}; dead-lettering failed: {e}"));
                        if failure == Failure::Unroutable {
                            // The dead-letter exchange routes nowhere (its queue was deleted):
                            // rebuild the session, which declares the topology again (or, with
                            // `amqp.declare = false`, stays not-ready until it exists) instead
                            // of cycling every bad page through the broker's delivery limit.
                            tracing::error!(
                                exchange = %ctx.dead_letter_exchange,
                                "the dead-letter exchange routes nowhere; rebuilding the session"
                            );
                            ctx.session_lost.cancel();
                        }
                        Outcome::DeadLetterFailed { failure, error: e }
                    }
                }
            }
            Action::Retry { attempts } => {
                let copy = retry_message(
                    &properties,
                    &data,
                    *attempts,
                    &ctx.input_queue,
                    ctx.copy_limits,
                );
                match ctx.publish_with_retry(std::slice::from_ref(&copy)).await {
                    Ok(()) => Outcome::Retried,
                    Err(e) => {
                        let (failure, e) = failure(&e);
                        error = Some(format!(
                            "{}; re-queueing a copy failed: {e}",
                            error.unwrap_or_default()
                        ));
                        Outcome::RetryFailed { failure, error: e }
                    }
                }
            }
            Action::Ack | Action::Requeue => break send(&acker, &action).await.map(|()| action),
        };
    };
    let outcome = match settled_by {
        Ok(action) => page_outcome(&outcome, Some(&action)),
        Err(e) => {
            tracing::warn!(error = %e, "could not settle the page; the broker will redeliver it");
            error = Some(e);
            page_outcome(&outcome, None)
        }
    };
    if outcome != PageOutcome::Published {
        (articles, safety_articles) = (0, 0);
    }
    let duration = started.elapsed();
    metrics::page_settled(outcome, duration);
    let (duration_ms, name) = (millis(duration), outcome.as_str());
    match &error {
        None => tracing::info!(
            articles,
            safety_articles,
            outcome = name,
            duration_ms,
            "page settled"
        ),
        Some(error) => tracing::warn!(
            articles,
            safety_articles,
            outcome = name,
            duration_ms,
            error = %error,
            "page settled"
        ),
    }
    Settled {
        outcome,
        page_id,
        articles,
        safety_articles,
        error,
    }
}

/// The error an outcome carries into the log line, if any.
fn error_of(outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::PublishFailed { error, .. } | Outcome::Unserialisable { error } => {
            Some(error.clone())
        }
        _ => None,
    }
}

/// Sends an ack or a requeue. lapin answers `Ok(false)` without sending anything when the
/// channel is already gone: that is an error here (the broker will redeliver).
async fn send(acker: &Acker, action: &Action) -> Result<(), String> {
    let sent = match action {
        Action::Ack => acker.ack(BasicAckOptions::default()).await,
        _ => {
            acker
                .nack(BasicNackOptions {
                    multiple: false,
                    requeue: true,
                })
                .await
        }
    };
    match sent {
        Ok(true) => Ok(()),
        Ok(false) => Err("the delivery's channel is closed".to_owned()),
        Err(e) => Err(e.to_string()),
    }
}
