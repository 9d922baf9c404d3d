//! Declaring pagesift's topology: the input queue (quorum with a delivery limit by default,
//! dead-lettering to the dead-letter exchange), the dead-letter exchange (fanout) and queue, the
//! output topic exchange and its default bound queues. Declarations are idempotent; a queue or
//! exchange that already exists with different arguments is reported as
//! [`TopologyError::Mismatch`], naming it and the differing argument, so that start-up fails
//! once with a clear message instead of looping on `PRECONDITION_FAILED`.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, ExchangeKind};

use super::{header_str, short};
use crate::settings::{AmqpSettings, QueueType};

/// Routing-key pattern of the queue receiving every article.
pub const ALL_ARTICLES_PATTERN: &str = "article.#";
/// Routing-key pattern of the queue receiving safety articles.
pub const SAFETY_ARTICLES_PATTERN: &str = "article.safety.#";

/// Errors declaring the topology.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    /// The object exists with other arguments (RabbitMQ's `PRECONDITION_FAILED`).
    #[error(
        "{kind} `{name}` already exists with different arguments ({detail}); delete it or make \
         the configuration match (amqp.input_queue_type, amqp.delivery_limit, \
         amqp.dead_letter_exchange)"
    )]
    Mismatch {
        /// `queue` or `exchange`.
        kind: &'static str,
        /// Its name.
        name: String,
        /// The broker's message, which names the differing argument.
        detail: String,
    },
    /// A part of the topology does not exist and `amqp.declare = false`: the worker stays
    /// not-ready and does not consume (publishing into it would only cycle every page).
    #[error(
        "{kind} `{name}` does not exist and amqp.declare = false: declare it (or set \
         amqp.declare = true); not consuming until it exists"
    )]
    Missing {
        /// `queue` or `exchange`.
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// Any other failure (connection loss, access refused, ...).
    #[error("declaring {kind} `{name}`: {source}")]
    Broker {
        /// `queue`, `exchange` or `binding`.
        kind: &'static str,
        /// Its name.
        name: String,
        /// lapin's error.
        source: lapin::Error,
    },
}

impl TopologyError {
    /// Whether retrying later can help (a mismatch needs an operator).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            TopologyError::Broker { .. } | TopologyError::Missing { .. }
        )
    }

    fn from_lapin(kind: &'static str, name: &str, source: lapin::Error) -> TopologyError {
        if let lapin::ErrorKind::ProtocolError(amqp) = source.kind()
            && matches!(amqp.kind(), AMQPErrorKind::Soft(AMQPSoftError::NOTFOUND))
        {
            return TopologyError::Missing {
                kind,
                name: name.to_owned(),
            };
        }
        if let lapin::ErrorKind::ProtocolError(amqp) = source.kind()
            && matches!(
                amqp.kind(),
                AMQPErrorKind::Soft(AMQPSoftError::PRECONDITIONFAILED)
            )
        {
            return TopologyError::Mismatch {
                kind,
                name: name.to_owned(),
                detail: amqp.get_message().to_string(),
            };
        }
        TopologyError::Broker {
            kind,
            name: name.to_owned(),
            source,
        }
    }
}

/// The arguments of the input queue: dead-lettering to the dead-letter exchange, and
/// `x-overflow: reject-publish` (a full queue refuses publishes, which confirms report, instead
/// of dropping its oldest page). A quorum queue also gets its delivery limit and
/// `x-dead-letter-strategy: at-least-once`, so that the broker's own dead-lettering (at the
/// delivery limit) is confirmed by the dead-letter queue instead of fire-and-forget.
pub fn input_queue_arguments(settings: &AmqpSettings) -> FieldTable {
    let mut args = FieldTable::default();
    args.insert(
        "x-dead-letter-exchange".into(),
        header_str(&settings.dead_letter_exchange),
    );
    args.insert("x-overflow".into(), header_str("reject-publish"));
    match settings.input_queue_type {
        QueueType::Quorum => {
            args.insert("x-queue-type".into(), header_str("quorum"));
            args.insert(
                "x-delivery-limit".into(),
                AMQPValue::LongLongInt(i64::from(settings.delivery_limit)),
            );
            args.insert("x-dead-letter-strategy".into(), header_str("at-least-once"));
        }
        QueueType::Classic => {
            args.insert("x-queue-type".into(), header_str("classic"));
        }
    }
    args
}

/// The arguments of the dead-letter and output queues: the input queue's type, so that with a
/// (replicated) quorum input queue no page or event ends in a single-node classic queue.
pub fn other_queue_arguments(settings: &AmqpSettings) -> FieldTable {
    let mut args = FieldTable::default();
    let kind = match settings.input_queue_type {
        QueueType::Quorum => "quorum",
        QueueType::Classic => "classic",
    };
    args.insert("x-queue-type".into(), header_str(kind));
    args
}

fn durable() -> QueueDeclareOptions {
    QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    }
}

async fn declare_exchange(
    channel: &Channel,
    name: &str,
    kind: ExchangeKind,
) -> Result<(), TopologyError> {
    let options = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(short(name), kind, options, FieldTable::default())
        .await
        .map_err(|e| TopologyError::from_lapin("exchange", name, e))
}

async fn declare_queue(
    channel: &Channel,
    name: &str,
    arguments: FieldTable,
) -> Result<(), TopologyError> {
    channel
        .queue_declare(short(name), durable(), arguments)
        .await
        .map(drop)
        .map_err(|e| TopologyError::from_lapin("queue", name, e))
}

async fn bind(
    channel: &Channel,
    queue: &str,
    exchange: &str,
    pattern: &str,
) -> Result<(), TopologyError> {
    channel
        .queue_bind(
            short(queue),
            short(exchange),
            short(pattern),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|e| TopologyError::from_lapin("binding", queue, e))
}

/// Declares everything. A failure closes `channel` (AMQP semantics): use a channel dedicated
/// to declaring.
pub async fn declare(channel: &Channel, settings: &AmqpSettings) -> Result<(), TopologyError> {
    declare_exchange(
        channel,
        &settings.dead_letter_exchange,
        ExchangeKind::Fanout,
    )
    .await?;
    declare_queue(
        channel,
        &settings.dead_letter_queue,
        other_queue_arguments(settings),
    )
    .await?;
    bind(
        channel,
        &settings.dead_letter_queue,
        &settings.dead_letter_exchange,
        "#",
    )
    .await?;
    declare_queue(
        channel,
        &settings.input_queue,
        input_queue_arguments(settings),
    )
    .await?;
    declare_exchange(channel, &settings.output_exchange, ExchangeKind::Topic).await?;
    for (queue, pattern) in [
        (&settings.all_articles_queue, ALL_ARTICLES_PATTERN),
        (&settings.safety_articles_queue, SAFETY_ARTICLES_PATTERN),
    ] {
        if !queue.trim().is_empty() {
            declare_queue(channel, queue, other_queue_arguments(settings)).await?;
            bind(channel, queue, &settings.output_exchange, pattern).await?;
        }
    }
    Ok(())
}

/// Checks, without declaring anything (`amqp.declare = false`), that the dead-letter exchange
/// and queue, the input queue and the output exchange exist: [`TopologyError::Missing`] names
/// the first that does not. A failed check closes `channel`: use a dedicated one.
pub async fn check(channel: &Channel, settings: &AmqpSettings) -> Result<(), TopologyError> {
    let passive_exchange = ExchangeDeclareOptions {
        passive: true,
        ..ExchangeDeclareOptions::default()
    };
    let passive_queue = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    for (name, kind) in [
        (&settings.dead_letter_exchange, ExchangeKind::Fanout),
        (&settings.output_exchange, ExchangeKind::Topic),
    ] {
        channel
            .exchange_declare(short(name), kind, passive_exchange, FieldTable::default())
            .await
            .map_err(|e| TopologyError::from_lapin("exchange", name, e))?;
    }
    for name in [&settings.dead_letter_queue, &settings.input_queue] {
        channel
            .queue_declare(short(name), passive_queue, FieldTable::default())
            .await
            .map_err(|e| TopologyError::from_lapin("queue", name, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::amqp::header_text;

    fn settings(kind: QueueType) -> AmqpSettings {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config");
        let mut s = crate::settings::Settings::load_from(&dir, None, Vec::new())
            .expect("default config")
            .amqp;
        s.input_queue_type = kind;
        s
    }

    #[test]
    fn quorum_input_queue_has_a_delivery_limit_and_dead_letter_exchange() {
        let s = settings(QueueType::Quorum);
        let args = input_queue_arguments(&s);
        assert_eq!(
            header_text(&args, "x-queue-type").as_deref(),
            Some("quorum")
        );
        assert_eq!(
            header_text(&args, "x-delivery-limit"),
            Some(s.delivery_limit.to_string())
        );
        assert_eq!(
            header_text(&args, "x-dead-letter-exchange"),
            Some(s.dead_letter_exchange.clone())
        );
    }

    #[test]
    fn classic_input_queue_has_no_delivery_limit() {
        let args = input_queue_arguments(&settings(QueueType::Classic));
        assert_eq!(
            header_text(&args, "x-queue-type").as_deref(),
            Some("classic")
        );
        assert!(!args.contains_key("x-delivery-limit"));
        assert!(args.contains_key("x-dead-letter-exchange"));
        assert!(
            !args.contains_key("x-dead-letter-strategy"),
            "at-least-once is quorum only"
        );
        assert_eq!(
            header_text(&args, "x-overflow").as_deref(),
            Some("reject-publish")
        );
        let others = other_queue_arguments(&settings(QueueType::Classic));
        assert_eq!(
            header_text(&others, "x-queue-type").as_deref(),
            Some("classic")
        );
    }

    #[test]
    fn a_quorum_input_queue_dead_letters_at_least_once_into_quorum_queues() {
        let s = settings(QueueType::Quorum);
        let args = input_queue_arguments(&s);
        assert_eq!(
            header_text(&args, "x-dead-letter-strategy").as_deref(),
            Some("at-least-once")
        );
        assert_eq!(
            header_text(&args, "x-overflow").as_deref(),
            Some("reject-publish")
        );
        assert_eq!(
            header_text(&other_queue_arguments(&s), "x-queue-type").as_deref(),
            Some("quorum")
        );
    }
}
