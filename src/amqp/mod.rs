//! RabbitMQ plumbing on lapin: connecting (timeout, heartbeat, `amqps://` with an optional CA
//! file), declaring the topology ([`topology`]), and publishing with publisher confirms
//! ([`publisher`]). Nothing here knows about pages; [`crate::worker`] does.

pub mod feed;
pub mod fields;
pub mod publisher;
pub mod topology;

use std::path::PathBuf;
use std::time::Duration;

use lapin::tcp::OwnedTLSConfig;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::uri::AMQPUri;
use lapin::{Connection, ConnectionProperties};
use secrecy::ExposeSecret;

use crate::settings::Settings;

pub use publisher::{OutMessage, PublishError, Publisher};
pub use topology::TopologyError;

/// Errors connecting to the broker.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL does not parse as an AMQP URI.
    #[error("amqp.url `{url}` is not a valid AMQP URI: {reason}")]
    Url {
        /// The URL, redacted.
        url: String,
        /// Why it does not parse.
        reason: String,
    },
    /// The CA file named by `amqp.tls_ca_file` cannot be read.
    #[error("cannot read amqp.tls_ca_file {path}: {source}")]
    TlsCa {
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The handshake did not finish within `amqp.connect_timeout_seconds`.
    #[error("connecting to {url} timed out after {seconds} s")]
    Timeout {
        /// The URL, redacted.
        url: String,
        /// The timeout.
        seconds: u64,
    },
    /// The broker refused or the network failed.
    #[error("connecting to {url}: {source}")]
    Broker {
        /// The URL, redacted.
        url: String,
        /// lapin's error.
        source: lapin::Error,
    },
}

impl ConnectError {
    /// Whether retrying later can help (a bad URL or CA file will not get better).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ConnectError::Timeout { .. } | ConnectError::Broker { .. }
        )
    }
}

/// Opens a connection named `name` (shown in the management UI), with the configured heartbeat,
/// handshake timeout and TLS trust.
pub async fn connect(settings: &Settings, name: &str) -> Result<Connection, ConnectError> {
    let redacted = settings.redacted_amqp_url();
    let mut uri: AMQPUri = settings
        .amqp
        .url
        .expose_secret()
        .parse()
        .map_err(|reason| ConnectError::Url {
            url: redacted.clone(),
            reason,
        })?;
    let timeout = Duration::from_secs(settings.amqp.connect_timeout_seconds);
    if uri.query.heartbeat.is_none() {
        uri.query.heartbeat = Some(settings.amqp.heartbeat_seconds);
    }
    if uri.query.connection_timeout.is_none() {
        uri.query.connection_timeout = u64::try_from(timeout.as_millis()).ok();
    }
    let tls = match &settings.amqp.tls_ca_file {
        Some(path) => OwnedTLSConfig {
            identity: None,
            cert_chain: Some(std::fs::read_to_string(path).map_err(|source| {
                ConnectError::TlsCa {
                    path: path.clone(),
                    source,
                }
            })?),
        },
        None => OwnedTLSConfig::default(),
    };
    let properties = ConnectionProperties::default().with_connection_name(LongString::from(
        format!("pagesift-{name}-{}", std::process::id()),
    ));
    let runtime = lapin::runtime::default_runtime().map_err(|source| ConnectError::Broker {
        url: redacted.clone(),
        source,
    })?;
    let connecting = Connection::connect_uri_with_config(uri, properties, tls, runtime);
    match tokio::time::timeout(timeout, connecting).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(source)) => Err(ConnectError::Broker {
            url: redacted,
            source,
        }),
        Err(_) => Err(ConnectError::Timeout {
            url: redacted,
            seconds: settings.amqp.connect_timeout_seconds,
        }),
    }
}

/// The broker's reply when `error` is a refusal: ACCESS_REFUSED (credentials or permissions)
/// or NOT_ALLOWED (the vhost), which no reconnect fixes by itself.
pub fn refusal(error: &lapin::Error) -> Option<String> {
    use lapin::protocol::{AMQPErrorKind, AMQPHardError, AMQPSoftError};
    match error.kind() {
        lapin::ErrorKind::ProtocolError(amqp)
            if matches!(
                amqp.kind(),
                AMQPErrorKind::Soft(AMQPSoftError::ACCESSREFUSED)
                    | AMQPErrorKind::Hard(AMQPHardError::NOTALLOWED)
            ) =>
        {
            Some(amqp.to_string())
        }
        _ => None,
    }
}

/// A [`ShortString`] from any text, cut at a character boundary to the 255-byte AMQP limit
/// (lapin panics on longer ones, and page ids come from the input).
pub fn short(text: &str) -> ShortString {
    ShortString::from(cut(text, 255))
}

/// `text` cut at a character boundary to at most `max` bytes.
pub fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A long-string header value.
pub fn header_str(text: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(text.as_bytes()))
}

/// Reads a header as text (long or short string, or a number).
pub fn header_text(headers: &FieldTable, key: &str) -> Option<String> {
    match headers.inner().get(key)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        AMQPValue::LongInt(n) => Some(n.to_string()),
        AMQPValue::LongUInt(n) => Some(n.to_string()),
        AMQPValue::LongLongInt(n) => Some(n.to_string()),
        AMQPValue::ShortInt(n) => Some(n.to_string()),
        AMQPValue::ShortUInt(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_strings_are_cut_at_a_character_boundary() {
        let long = "页".repeat(200);
        let s = short(&long);
        assert!(s.as_str().len() <= 255);
        assert!(long.starts_with(s.as_str()));
        assert_eq!(short("abc").as_str(), "abc");
    }

    #[tokio::test]
    async fn an_unreadable_ca_file_is_a_permanent_connect_error() {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config");
        let vars = vec![
            (
                "PAGESIFT__AMQP__URL".to_owned(),
                "amqps://u:hunter2@127.0.0.1:1/%2f".to_owned(),
            ),
            (
                "PAGESIFT__AMQP__TLS_CA_FILE".to_owned(),
                "/nonexistent/ca.pem".to_owned(),
            ),
        ];
        let settings = Settings::load_from(&dir, None, vars).expect("settings");
        let err = connect(&settings, "test").await.expect_err("no CA file");
        assert!(matches!(err, ConnectError::TlsCa { .. }), "{err}");
        assert!(!err.is_transient());
        assert!(err.to_string().contains("/nonexistent/ca.pem"));
    }

    #[tokio::test]
    async fn a_refused_connection_is_transient_and_its_error_hides_the_password() {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config");
        let vars = vec![
            (
                "PAGESIFT__AMQP__URL".to_owned(),
                "amqp://u:hunter2@127.0.0.1:1/%2f".to_owned(),
            ),
            (
                "PAGESIFT__AMQP__CONNECT_TIMEOUT_SECONDS".to_owned(),
                "5".to_owned(),
            ),
        ];
        let settings = Settings::load_from(&dir, None, vars).expect("settings");
        let err = connect(&settings, "test")
            .await
            .expect_err("nothing listens on port 1");
        assert!(err.is_transient(), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn header_text_reads_strings_and_numbers() {
        let mut table = FieldTable::default();
        table.insert("a".into(), header_str("版面"));
        table.insert("b".into(), AMQPValue::LongInt(7));
        table.insert("c".into(), AMQPValue::Boolean(true));
        assert_eq!(header_text(&table, "a").as_deref(), Some("版面"));
        assert_eq!(header_text(&table, "b").as_deref(), Some("7"));
        assert_eq!(header_text(&table, "c"), None);
        assert_eq!(header_text(&table, "missing"), None);
    }
}
