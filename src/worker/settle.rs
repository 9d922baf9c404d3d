//! The at-least-once policy as a pure decision: given what happened to a page so far
//! ([`Outcome`]) and how often it was tried before ([`Attempts`]), [`settle`] says what to do
//! next ([`Action`]). No broker, no clock: the unit tests below state every rule.
//!
//! | outcome | quorum input queue | classic input queue |
//! | --- | --- | --- |
//! | every event confirmed | ack | ack |
//! | bad input or pipeline panic | dead-letter copy (class, reason) | same |
//! | dead-letter copy confirmed | ack | ack |
//! | nack, unroutable, confirm timeout, unserialisable event | requeue (the broker's `x-delivery-limit` counts) | retry copy with `x-pagesift-attempts` + 1, or a `delivery_limit` dead-letter copy once the attempts reach `amqp.delivery_limit` |
//! | retry copy confirmed | — | ack |
//! | channel or connection lost | requeue (the broker redelivers if the channel is gone) | same |
//! | a dead-letter or retry copy not confirmed | requeue | requeue |
//!
//! A page is acked only after its events, its dead-letter copy or its retry copy were confirmed,
//! so no outcome loses a page; an unserialisable event keeps its page unacked like any other
//! publishing failure.

use crate::amqp::PublishError;
use crate::metrics::PageOutcome;

/// Error class of a page dead-lettered by the worker because it failed too often.
pub const DELIVERY_LIMIT_CLASS: &str = "delivery_limit";

/// Why a publish (of events, a dead-letter copy or a retry copy) was not confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The broker nacked a message.
    Nacked,
    /// A mandatory message was returned unroutable.
    Unroutable,
    /// Not every confirm arrived in time.
    Timeout,
    /// The publishing channel or connection was lost.
    ChannelLost,
}

impl From<&PublishError> for Failure {
    fn from(e: &PublishError) -> Failure {
        match e {
            PublishError::Channel(_) => Failure::ChannelLost,
            PublishError::Nacked { .. } => Failure::Nacked,
            PublishError::Unroutable { .. } => Failure::Unroutable,
            PublishError::Timeout { .. } => Failure::Timeout,
        }
    }
}

/// What happened to a page so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every event of the page was confirmed.
    Published,
    /// The page is bad input (or the pipeline panicked on it): it must not be retried.
    Rejected {
        /// The error class (`invalid_json`, `too_large`, … or `pipeline_panic`).
        class: &'static str,
        /// The human-readable reason.
        reason: String,
    },
    /// An event of the page could not be serialised (a bug); nothing was published.
    Unserialisable {
        /// The serialiser's error.
        error: String,
    },
    /// Publishing the page's events failed, after the worker's own retries.
    PublishFailed {
        /// How it failed.
        failure: Failure,
        /// The error with its causes.
        error: String,
    },
    /// The dead-letter copy was confirmed.
    DeadLettered {
        /// The class it was dead-lettered with.
        class: &'static str,
    },
    /// The dead-letter copy was not confirmed.
    DeadLetterFailed {
        /// How it failed.
        failure: Failure,
        /// The error with its causes.
        error: String,
    },
    /// The retry copy (classic queues) was confirmed.
    Retried,
    /// The retry copy was not confirmed.
    RetryFailed {
        /// How it failed.
        failure: Failure,
        /// The error with its causes.
        error: String,
    },
}

/// Who counts the deliveries of a page that keeps failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryLimit {
    /// The broker (quorum queues: `x-delivery-limit`, then its own dead-lettering).
    Broker,
    /// The worker (classic queues have no delivery limit): after `limit` failed attempts the
    /// page is dead-lettered with class [`DELIVERY_LIMIT_CLASS`].
    Worker {
        /// Attempts allowed (`amqp.delivery_limit`, > 0).
        limit: u32,
    },
}

/// How often a page was tried before this delivery, and who limits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempts {
    /// Failed attempts before this one (the `x-pagesift-attempts` header; 0 when absent).
    pub previous: u32,
    /// Who counts.
    pub limit: DeliveryLimit,
}

/// What to do next with a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Acknowledge the delivery: the page is done.
    Ack,
    /// Publish a copy of the page to the dead-letter exchange with this class and reason, then
    /// settle the result.
    DeadLetter {
        /// The error class header.
        class: &'static str,
        /// The reason header.
        reason: String,
    },
    /// Publish a copy of the page to the tail of the input queue with `x-pagesift-attempts` =
    /// `attempts`, then settle the result (classic queues).
    Retry {
        /// Failed attempts so far, this one included.
        attempts: u32,
    },
    /// Negatively acknowledge with requeue: the broker delivers the page again.
    Requeue,
}

/// The next step for a delivery whose page came to `outcome` (see the module table).
pub fn settle(outcome: &Outcome, attempts: Attempts) -> Action {
    match outcome {
        Outcome::Published | Outcome::DeadLettered { .. } | Outcome::Retried => Action::Ack,
        Outcome::Rejected { class, reason } => Action::DeadLetter {
            class,
            reason: reason.clone(),
        },
        Outcome::PublishFailed {
            failure: Failure::ChannelLost,
            ..
        } => Action::Requeue,
        Outcome::PublishFailed { error, .. } | Outcome::Unserialisable { error } => {
            match attempts.limit {
                DeliveryLimit::Broker => Action::Requeue,
                DeliveryLimit::Worker { limit } => {
                    let attempts = attempts.previous.saturating_add(1);
                    if attempts >= limit {
                        Action::DeadLetter {
                            class: DELIVERY_LIMIT_CLASS,
                            reason: format!(
                                "failed {attempts} times (amqp.delivery_limit = {limit}); \
                                 last error: {error}"
                            ),
                        }
                    } else {
                        Action::Retry { attempts }
                    }
                }
            }
        }
        // Never a copy of a copy: hand the page back and let the next delivery try again.
        Outcome::DeadLetterFailed { .. } | Outcome::RetryFailed { .. } => Action::Requeue,
    }
}

/// The outcome reported in logs and metrics for a delivery settled by `action` after `last`
/// (`None` when the settle itself could not be sent: the channel is gone).
pub fn page_outcome(last: &Outcome, action: Option<&Action>) -> PageOutcome {
    match (last, action) {
        (_, None) => PageOutcome::Abandoned,
        (Outcome::Published, Some(Action::Ack)) => PageOutcome::Published,
        (Outcome::DeadLettered { .. }, Some(Action::Ack)) => PageOutcome::DeadLettered,
        _ => PageOutcome::Requeued,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUORUM: Attempts = Attempts {
        previous: 0,
        limit: DeliveryLimit::Broker,
    };

    fn classic(previous: u32) -> Attempts {
        Attempts {
            previous,
            limit: DeliveryLimit::Worker { limit: 3 },
        }
    }

    fn failed(failure: Failure) -> Outcome {
        Outcome::PublishFailed {
            failure,
            error: format!("{failure:?}"),
        }
    }

    #[test]
    fn a_published_page_is_acked_on_either_queue_type() {
        assert_eq!(settle(&Outcome::Published, QUORUM), Action::Ack);
        assert_eq!(settle(&Outcome::Published, classic(2)), Action::Ack);
        assert_eq!(
            page_outcome(&Outcome::Published, Some(&Action::Ack)),
            PageOutcome::Published
        );
    }

    #[test]
    fn bad_input_is_dead_lettered_with_its_class_and_reason_then_acked() {
        let rejected = Outcome::Rejected {
            class: "invalid_json",
            reason: "expected value at line 1".to_owned(),
        };
        for attempts in [QUORUM, classic(0), classic(7)] {
            assert_eq!(
                settle(&rejected, attempts),
                Action::DeadLetter {
                    class: "invalid_json",
                    reason: "expected value at line 1".to_owned()
                }
            );
        }
        let done = Outcome::DeadLettered {
            class: "invalid_json",
        };
        assert_eq!(settle(&done, QUORUM), Action::Ack);
        assert_eq!(
            page_outcome(&done, Some(&Action::Ack)),
            PageOutcome::DeadLettered
        );
    }

    #[test]
    fn a_nack_unroutable_or_timeout_requeues_on_a_quorum_queue() {
        for failure in [Failure::Nacked, Failure::Unroutable, Failure::Timeout] {
            let outcome = failed(failure);
            assert_eq!(settle(&outcome, QUORUM), Action::Requeue, "{failure:?}");
            assert_eq!(
                page_outcome(&outcome, Some(&Action::Requeue)),
                PageOutcome::Requeued
            );
        }
    }

    #[test]
    fn a_lost_channel_requeues_without_counting_an_attempt() {
        let lost = failed(Failure::ChannelLost);
        assert_eq!(settle(&lost, QUORUM), Action::Requeue);
        assert_eq!(
            settle(&lost, classic(2)),
            Action::Requeue,
            "not the page's fault"
        );
        assert_eq!(page_outcome(&lost, None), PageOutcome::Abandoned);
    }

    #[test]
    fn an_unserialisable_event_keeps_the_page_unacked() {
        let outcome = Outcome::Unserialisable {
            error: "key must be a string".to_owned(),
        };
        assert_eq!(settle(&outcome, QUORUM), Action::Requeue);
        assert_eq!(settle(&outcome, classic(0)), Action::Retry { attempts: 1 });
        assert_ne!(
            page_outcome(&outcome, Some(&settle(&outcome, QUORUM))),
            PageOutcome::Published
        );
    }

    #[test]
    fn a_classic_queue_retries_through_a_counted_copy_until_the_limit() {
        for failure in [Failure::Nacked, Failure::Unroutable, Failure::Timeout] {
            let outcome = failed(failure);
            assert_eq!(settle(&outcome, classic(0)), Action::Retry { attempts: 1 });
            assert_eq!(settle(&outcome, classic(1)), Action::Retry { attempts: 2 });
        }
        assert_eq!(settle(&Outcome::Retried, classic(1)), Action::Ack);
        assert_eq!(
            page_outcome(&Outcome::Retried, Some(&Action::Ack)),
            PageOutcome::Requeued,
            "handed back, not published"
        );
    }

    #[test]
    fn attempts_exhausted_on_a_classic_queue_dead_letter_the_page_with_the_last_error() {
        let Action::DeadLetter { class, reason } = settle(&failed(Failure::Unroutable), classic(2))
        else {
            panic!("the third failure of three allowed is dead-lettered");
        };
        assert_eq!(class, DELIVERY_LIMIT_CLASS);
        assert!(reason.contains("failed 3 times"), "{reason}");
        assert!(reason.contains("Unroutable"), "{reason}");
        let beyond = settle(&failed(Failure::Nacked), classic(u32::MAX));
        assert!(matches!(beyond, Action::DeadLetter { .. }), "no overflow");
        let done = Outcome::DeadLettered {
            class: DELIVERY_LIMIT_CLASS,
        };
        assert_eq!(settle(&done, classic(2)), Action::Ack);
    }

    #[test]
    fn a_copy_that_is_not_confirmed_requeues_the_page_never_a_copy_of_a_copy() {
        for failure in [
            Failure::Nacked,
            Failure::Unroutable,
            Failure::Timeout,
            Failure::ChannelLost,
        ] {
            let error = "x".to_owned();
            for outcome in [
                Outcome::DeadLetterFailed {
                    failure,
                    error: error.clone(),
                },
                Outcome::RetryFailed {
                    failure,
                    error: error.clone(),
                },
            ] {
                assert_eq!(settle(&outcome, QUORUM), Action::Requeue);
                assert_eq!(settle(&outcome, classic(2)), Action::Requeue);
                assert_eq!(
                    page_outcome(&outcome, Some(&Action::Requeue)),
                    PageOutcome::Requeued
                );
            }
        }
    }

    #[test]
    fn publish_errors_map_to_their_failure() {
        let unroutable = PublishError::Unroutable {
            routing_key: "k".to_owned(),
            reply: "NO_ROUTE".to_owned(),
        };
        assert_eq!(Failure::from(&unroutable), Failure::Unroutable);
        let nacked = PublishError::Nacked {
            routing_key: "k".to_owned(),
        };
        assert_eq!(Failure::from(&nacked), Failure::Nacked);
        assert_eq!(
            Failure::from(&PublishError::Timeout { seconds: 1 }),
            Failure::Timeout
        );
        let lost = PublishError::Channel(lapin::ErrorKind::MissingHeartbeatError.into());
        assert_eq!(Failure::from(&lost), Failure::ChannelLost);
    }
}
