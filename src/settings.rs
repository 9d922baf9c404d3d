//! Configuration, in layers (later wins): the compiled-in `config/default.toml`, then
//! `default.toml` of the configuration directory if it has one, then `$PAGESIFT_ENV.toml`
//! (compiled-in if `config/` has one, then the directory's), then `PAGESIFT__SECTION__KEY`
//! environment variables (e.g. `PAGESIFT__AMQP__URL`). The directory is `--config-dir`, else
//! `$PAGESIFT_CONFIG_DIR`, else `./config`; the model files the configuration names are looked
//! up there too, and fall back to the compiled-in ones ([`crate::resources`]).
//!
//! Every section rejects unknown fields, and [`Settings::validate`] checks values, so a typo or
//! an invalid value fails at start-up with a message that names the field. Secrets (the AMQP URL,
//! which carries the password) are [`SecretString`]s and only ever shown redacted.

use std::path::{Path, PathBuf};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

use crate::resources::Source;

/// Upper bound of `pipeline.max_page_id_bytes`: an id this long still leaves the event headers
/// (which carry it twice) far inside RabbitMQ's smallest useful `frame_max`.
pub const MAX_PAGE_ID_BYTES: usize = 16 * 1024;

/// Errors loading or validating the configuration.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The files or environment could not be read or parsed (unknown field, wrong type, ...).
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    /// A configuration directory was named (`--config-dir`, `$PAGESIFT_CONFIG_DIR`) but is
    /// not a directory.
    #[error("configuration: {from} names {dir}, which is not a directory")]
    NoDirectory {
        /// The directory.
        dir: PathBuf,
        /// What named it.
        from: &'static str,
    },
    /// A value was read but is not acceptable.
    #[error("configuration: invalid value for `{field}`: {reason}")]
    Invalid {
        /// Dotted name of the field, e.g. `amqp.url`.
        field: &'static str,
        /// Why it is rejected.
        reason: String,
    },
}

/// The whole configuration of pagesift.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Logging.
    pub log: LogSettings,
    /// Pipeline limits and model files.
    pub pipeline: PipelineSettings,
    /// RabbitMQ connection and topology.
    pub amqp: AmqpSettings,
    /// Consumer concurrency and retry policy.
    pub worker: WorkerSettings,
    /// Graceful shutdown.
    pub shutdown: ShutdownSettings,
    /// Health and metrics HTTP endpoint.
    pub http: HttpSettings,
    /// The configuration layers that were read, in order (not a setting).
    #[serde(skip)]
    layers: Vec<Source>,
}

/// Log output.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `pretty` (human-readable, for terminals) or `json` (one JSON object per line).
    pub format: LogFormat,
    /// Default filter in `RUST_LOG` syntax (e.g. `info,lapin=warn`); `RUST_LOG` overrides it.
    pub filter: String,
    /// Seconds between the one-line stats summaries the worker logs (0 = never).
    pub stats_interval_seconds: u64,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// JSON lines.
    Json,
}

/// Pipeline limits and the classifier/NLP files.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSettings {
    /// Largest accepted page message, in bytes (larger ones are dead-lettered as `too_large`).
    pub max_page_bytes: usize,
    /// Largest accepted page text, in characters after decoding.
    pub max_page_chars: usize,
    /// Most paragraphs (non-empty lines) a page may have.
    pub max_paragraphs: usize,
    /// Most articles a page may yield.
    pub max_articles: usize,
    /// Longest accepted page id, in bytes (longer or blank ones are dead-lettered as
    /// `bad_page_id`): the id goes into the headers of every event, which must fit the frame.
    pub max_page_id_bytes: usize,
    /// jieba user dictionary of domain terms (`word [freq] [tag]` per line).
    pub user_dict: PathBuf,
    /// IDF table for TF-IDF keywords (`word idf` per line), built by `pagesift-dev build-idf`.
    pub idf: PathBuf,
    /// Classifier model file (lexicons, weights, thresholds), fitted by `pagesift-dev train`.
    pub classifier: PathBuf,
    /// Segmenter model file (`config/segmenter.json`, fitted by `pagesift-dev
    /// train-segmenter`); unset: the model built into the binary.
    #[serde(default)]
    pub segmenter: Option<PathBuf>,
    /// Events whose `article.confidence` is below this (in (0, 1]) get a `review` header
    /// and the routing-key suffix `.review`; unset (the default): none.
    #[serde(default)]
    pub review_below: Option<f64>,
    /// Entity tagger model (people, places, organisations), fitted by
    /// `pagesift-dev train-entities`.
    pub entities: PathBuf,
    /// Number of keywords per article.
    pub keywords_top_k: usize,
    /// The configuration directory, where relative model paths are looked up first (not a
    /// setting).
    #[serde(skip)]
    config_dir: PathBuf,
}

impl PipelineSettings {
    /// The configuration directory the settings were loaded from (it may not exist).
    pub fn config_dir(&self) -> &Path {
        &self.config_dir
    }
}

/// RabbitMQ connection and topology.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AmqpSettings {
    /// Broker URL, `amqp://user:pass@host:port/vhost` or `amqps://…`. Secret: shown redacted.
    #[serde(serialize_with = "serialize_redacted_url")]
    pub url: SecretString,
    /// Optional PEM file of a CA to trust for `amqps://` (self-signed brokers).
    pub tls_ca_file: Option<PathBuf>,
    /// Queue of raw page messages.
    pub input_queue: String,
    /// `quorum` (default) or `classic`.
    pub input_queue_type: QueueType,
    /// Attempts at one page that keeps failing before it is dead-lettered: by the broker on a
    /// quorum queue (`x-delivery-limit`), by the worker on a classic queue (class
    /// `delivery_limit`, attempts counted in `x-pagesift-attempts`). Must be > 0.
    pub delivery_limit: u32,
    /// Topic exchange the article events are published to.
    pub output_exchange: String,
    /// Exchange receiving dead-lettered pages.
    pub dead_letter_exchange: String,
    /// Queue bound to the dead-letter exchange.
    pub dead_letter_queue: String,
    /// Declare the topology at start-up (disable when operators own it).
    pub declare: bool,
    /// Queue bound to the output exchange with `article.#` (empty = do not declare).
    pub all_articles_queue: String,
    /// Queue bound to the output exchange with `article.safety.#` (empty = do not declare).
    pub safety_articles_queue: String,
    /// Publish a `page.processed` summary event per page.
    pub page_summary: bool,
    /// Seconds to wait for a publisher confirm before treating the publish as failed.
    pub publish_timeout_seconds: u64,
    /// Seconds to wait for the TCP/AMQP handshake.
    pub connect_timeout_seconds: u64,
    /// AMQP heartbeat in seconds (detects dead connections).
    pub heartbeat_seconds: u16,
    /// First delay before reconnecting after a lost or failed broker session, in milliseconds
    /// (exponential with jitter).
    pub reconnect_initial_ms: u64,
    /// Longest delay between reconnect attempts, in milliseconds.
    pub reconnect_max_ms: u64,
}

impl AmqpSettings {
    /// How long to wait for a publisher confirm.
    pub fn publish_timeout(&self) -> Duration {
        Duration::from_secs(self.publish_timeout_seconds)
    }

    /// How long to wait for the connection handshake.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_seconds)
    }

    /// Delays between reconnect attempts (unbounded in number).
    pub fn reconnect_backoff(&self) -> Backoff {
        Backoff {
            initial: Duration::from_millis(self.reconnect_initial_ms),
            max: Duration::from_millis(self.reconnect_max_ms),
            attempts: None,
        }
    }
}

/// Input queue flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueType {
    /// Replicated quorum queue with a delivery limit.
    Quorum,
    /// Classic queue.
    Classic,
}

/// Consumer concurrency and retries.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerSettings {
    /// Pages processed at once (0 = number of CPU cores).
    pub concurrency: usize,
    /// Unacknowledged deliveries the broker may send ahead (0 = 2 × concurrency).
    pub prefetch: u16,
    /// First retry delay after a transient failure, in milliseconds.
    pub retry_initial_ms: u64,
    /// Longest retry delay, in milliseconds.
    pub retry_max_ms: u64,
    /// Publish attempts of one page before it is handed back to the broker (nack + requeue).
    pub publish_attempts: u32,
}

impl WorkerSettings {
    /// Delays and attempts for retrying a page's publish after a transient failure.
    pub fn publish_retry(&self) -> Backoff {
        Backoff {
            initial: Duration::from_millis(self.retry_initial_ms),
            max: Duration::from_millis(self.retry_max_ms),
            attempts: Some(self.publish_attempts),
        }
    }
}

/// Exponential backoff with jitter between `initial` and `max`: publish retries
/// ([`WorkerSettings::publish_retry`]) and reconnects ([`AmqpSettings::reconnect_backoff`]).
/// As a [`BackoffBuilder`] it yields the delays between attempts (`attempts - 1` of them, or
/// without end when `attempts` is `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// First delay.
    pub initial: Duration,
    /// Longest delay.
    pub max: Duration,
    /// Total attempts, the first one included (`None` = unbounded).
    pub attempts: Option<u32>,
}

impl BackoffBuilder for Backoff {
    type Backoff = ExponentialBackoff;

    fn build(self) -> ExponentialBackoff {
        let builder = ExponentialBuilder::default()
            .with_min_delay(self.initial)
            .with_max_delay(self.max)
            .with_jitter();
        match self.attempts {
            Some(n) => builder.with_max_times(n.saturating_sub(1) as usize),
            None => builder.without_max_times(),
        }
        .build()
    }
}

/// Graceful shutdown.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ShutdownSettings {
    /// Seconds to finish in-flight pages after SIGTERM/SIGINT before exiting.
    pub grace_seconds: u64,
}

impl ShutdownSettings {
    /// Time to finish in-flight pages after SIGTERM/SIGINT.
    pub fn grace(&self) -> Duration {
        Duration::from_secs(self.grace_seconds)
    }
}

/// Health and metrics endpoint.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// Serve `/healthz`, `/readyz` and `/metrics`.
    pub enabled: bool,
    /// Address to listen on: `127.0.0.1:9090` by default, `0.0.0.0:9090` in the container's
    /// `config/production.toml`.
    pub listen: String,
    /// Seconds a client has to send a request's headers before its connection is closed (> 0).
    pub header_read_timeout_seconds: u64,
    /// Most connections open at once; further ones are closed on accept (> 0).
    pub max_connections: usize,
}

impl HttpSettings {
    /// `header_read_timeout_seconds` as a duration.
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_seconds)
    }
}

/// The number of cores this process may use (2 when the system cannot tell): the default
/// concurrency and the size of the worker's CPU gate.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

fn serialize_redacted_url<S: Serializer>(url: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&redact_url(url.expose_secret()))
}

/// Replaces the password of a URL with `***` (and hides it even when the URL does not parse).
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) => {
            if u.password().is_some() {
                // set_password only fails for URLs that cannot have credentials.
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => match (raw.find("://"), raw.rfind('@')) {
            (Some(scheme_end), Some(at)) if at > scheme_end => {
                format!("{}***{}", &raw[..scheme_end + 3], &raw[at..])
            }
            _ => "<unparseable url>".to_owned(),
        },
    }
}

impl Settings {
    /// Loads the layers (see the module doc) and validates. The directory is `config_dir`, else
    /// `$PAGESIFT_CONFIG_DIR`, else `./config`; a directory named by the first two must exist,
    /// `./config` need not (the compiled-in files are used alone).
    pub fn load(config_dir: Option<&Path>) -> Result<Settings, SettingsError> {
        let named = match config_dir {
            Some(dir) => Some((dir.to_path_buf(), "--config-dir")),
            None => std::env::var_os("PAGESIFT_CONFIG_DIR")
                .map(|dir| (PathBuf::from(dir), "PAGESIFT_CONFIG_DIR")),
        };
        let dir = match named {
            Some((dir, from)) if !dir.is_dir() => {
                return Err(SettingsError::NoDirectory { dir, from });
            }
            Some((dir, _)) => dir,
            None => PathBuf::from("config"),
        };
        let env_name = std::env::var("PAGESIFT_ENV").ok();
        Self::load_from(&dir, env_name.as_deref(), std::env::vars())
    }

    /// Like [`Settings::load`] with an explicit directory (which need not exist) and
    /// environment (for tests).
    pub fn load_from(
        dir: &Path,
        env_name: Option<&str>,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, SettingsError> {
        let mut builder = config::Config::builder();
        let mut layers = Vec::new();
        let env_file = env_name
            .filter(|e| !e.is_empty())
            .map(|e| format!("{e}.toml"));
        for name in std::iter::once("default.toml").chain(env_file.as_deref()) {
            if let Some(file) = crate::resources::embedded(name) {
                builder =
                    builder.add_source(config::File::from_str(file.text, config::FileFormat::Toml));
                layers.push(Source::Embedded(file));
            }
            let on_disk = dir.join(name);
            if on_disk.is_file() {
                builder = builder.add_source(config::File::from(on_disk.as_path()));
                layers.push(Source::Disk(on_disk));
            }
        }
        let vars: config::Map<String, String> = vars
            .into_iter()
            .filter(|(k, _)| k.starts_with("PAGESIFT__"))
            .collect();
        builder = builder.add_source(
            config::Environment::with_prefix("PAGESIFT")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .source(Some(vars)),
        );
        let mut settings: Settings = builder.build()?.try_deserialize()?;
        settings.pipeline.config_dir = dir.to_path_buf();
        settings.layers = layers;
        settings.validate()?;
        Ok(settings)
    }

    /// The configuration files that were read, in layer order (embedded or from disk; the
    /// `PAGESIFT__*` variables come last).
    pub fn layers(&self) -> &[Source] {
        &self.layers
    }

    /// Checks every value; the error names the field.
    pub fn validate(&self) -> Result<(), SettingsError> {
        fn invalid(field: &'static str, reason: impl Into<String>) -> SettingsError {
            SettingsError::Invalid {
                field,
                reason: reason.into(),
            }
        }
        let url = self.amqp.url.expose_secret();
        match url::Url::parse(url) {
            Ok(u) if u.scheme() == "amqp" || u.scheme() == "amqps" => {}
            Ok(u) => {
                return Err(invalid(
                    "amqp.url",
                    format!("scheme must be amqp or amqps, not `{}`", u.scheme()),
                ));
            }
            Err(e) => return Err(invalid("amqp.url", format!("not a URL ({e})"))),
        }
        let names = [
            ("amqp.input_queue", &self.amqp.input_queue),
            ("amqp.output_exchange", &self.amqp.output_exchange),
            ("amqp.dead_letter_exchange", &self.amqp.dead_letter_exchange),
            ("amqp.dead_letter_queue", &self.amqp.dead_letter_queue),
        ];
        for (field, value) in names {
            if value.trim().is_empty() {
                return Err(invalid(field, "must not be empty"));
            }
        }
        if self.pipeline.max_page_bytes == 0 {
            return Err(invalid("pipeline.max_page_bytes", "must be > 0"));
        }
        if self.pipeline.max_page_chars == 0 {
            return Err(invalid("pipeline.max_page_chars", "must be > 0"));
        }
        if self.pipeline.max_paragraphs == 0 {
            return Err(invalid("pipeline.max_paragraphs", "must be > 0"));
        }
        if self.pipeline.max_articles == 0 {
            return Err(invalid("pipeline.max_articles", "must be > 0"));
        }
        if let Some(t) = self.pipeline.review_below
            && !(t > 0.0 && t <= 1.0)
        {
            return Err(invalid("pipeline.review_below", "must be in (0, 1]"));
        }
        if !(1..=MAX_PAGE_ID_BYTES).contains(&self.pipeline.max_page_id_bytes) {
            return Err(invalid(
                "pipeline.max_page_id_bytes",
                "must be between 1 and 16384",
            ));
        }
        if self.amqp.publish_timeout_seconds == 0 {
            return Err(invalid("amqp.publish_timeout_seconds", "must be > 0"));
        }
        if self.amqp.connect_timeout_seconds == 0 {
            return Err(invalid("amqp.connect_timeout_seconds", "must be > 0"));
        }
        if self.amqp.delivery_limit == 0 {
            return Err(invalid(
                "amqp.delivery_limit",
                "must be > 0 (a page that keeps failing would loop forever)",
            ));
        }
        if self.amqp.reconnect_initial_ms == 0
            || self.amqp.reconnect_initial_ms > self.amqp.reconnect_max_ms
        {
            return Err(invalid(
                "amqp.reconnect_initial_ms",
                "must be > 0 and <= amqp.reconnect_max_ms",
            ));
        }
        if self.worker.retry_initial_ms == 0
            || self.worker.retry_initial_ms > self.worker.retry_max_ms
        {
            return Err(invalid(
                "worker.retry_initial_ms",
                "must be > 0 and <= worker.retry_max_ms",
            ));
        }
        if self.worker.publish_attempts == 0 {
            return Err(invalid("worker.publish_attempts", "must be > 0"));
        }
        if self.http.header_read_timeout_seconds == 0 {
            return Err(invalid("http.header_read_timeout_seconds", "must be > 0"));
        }
        if self.http.max_connections == 0 {
            return Err(invalid("http.max_connections", "must be > 0"));
        }
        if self.http.enabled && self.http.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(invalid(
                "http.listen",
                format!("`{}` is not an address like 0.0.0.0:9090", self.http.listen),
            ));
        }
        Ok(())
    }

    /// Pages in flight: `worker.concurrency`, or the number of cores when 0.
    pub fn concurrency(&self) -> usize {
        if self.worker.concurrency > 0 {
            self.worker.concurrency
        } else {
            cores()
        }
    }

    /// Broker prefetch: `worker.prefetch`, or 2 × concurrency when 0.
    pub fn prefetch(&self) -> u16 {
        if self.worker.prefetch > 0 {
            self.worker.prefetch
        } else {
            u16::try_from(self.concurrency().saturating_mul(2)).unwrap_or(u16::MAX)
        }
    }

    /// The AMQP URL with its password hidden, for logs.
    pub fn redacted_amqp_url(&self) -> String {
        redact_url(self.amqp.url.expose_secret())
    }

    /// The effective configuration as TOML, secrets redacted (for `check-config`).
    pub fn to_redacted_toml(&self) -> Result<String, toml::ser::Error> {
        toml::to_string(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config")
    }

    #[test]
    fn default_config_loads_and_validates() {
        let s = Settings::load_from(&config_dir(), None, Vec::new()).expect("default config");
        assert_eq!(s.amqp.input_queue, "pagesift.pages");
        assert_eq!(s.shutdown.grace_seconds, 25);
        assert_eq!(s.pipeline.max_page_bytes, 4 * 1024 * 1024);
    }

    #[test]
    fn environment_variables_override_files() {
        let vars = vec![
            ("PAGESIFT__WORKER__CONCURRENCY".to_owned(), "7".to_owned()),
            (
                "PAGESIFT__AMQP__URL".to_owned(),
                "amqp://u:hunter2@example:5672/%2f".to_owned(),
            ),
        ];
        let s = Settings::load_from(&config_dir(), None, vars).expect("config");
        assert_eq!(s.concurrency(), 7);
        assert_eq!(s.prefetch(), 14);
        assert!(!s.redacted_amqp_url().contains("hunter2"));
        let toml = s.to_redacted_toml().expect("TOML");
        assert!(!toml.contains("hunter2"), "{toml}");
        assert!(toml.contains("concurrency = 7"), "{toml}");
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn unknown_field_is_rejected_with_its_name() {
        let vars = vec![("PAGESIFT__WORKER__CONCURENCY".to_owned(), "3".to_owned())];
        let err = Settings::load_from(&config_dir(), None, vars).expect_err("typo must fail");
        assert!(err.to_string().contains("concurency"), "{err}");
    }

    #[test]
    fn invalid_value_names_the_field() {
        let vars = vec![("PAGESIFT__AMQP__URL".to_owned(), "http://x".to_owned())];
        let err = Settings::load_from(&config_dir(), None, vars).expect_err("bad scheme");
        assert!(err.to_string().contains("amqp.url"), "{err}");
        let vars = vec![(
            "PAGESIFT__WORKER__CONCURRENCY".to_owned(),
            "many".to_owned(),
        )];
        let err = Settings::load_from(&config_dir(), None, vars).expect_err("bad number");
        assert!(err.to_string().contains("concurrency"), "{err}");
    }

    #[test]
    fn settings_hand_out_durations_and_separate_backoffs() {
        let vars = vec![
            (
                "PAGESIFT__AMQP__RECONNECT_INITIAL_MS".to_owned(),
                "7".to_owned(),
            ),
            (
                "PAGESIFT__AMQP__RECONNECT_MAX_MS".to_owned(),
                "70".to_owned(),
            ),
        ];
        let s = Settings::load_from(&config_dir(), None, vars).expect("config");
        assert_eq!(s.amqp.publish_timeout(), Duration::from_secs(30));
        assert_eq!(s.amqp.connect_timeout(), Duration::from_secs(10));
        assert_eq!(s.shutdown.grace(), Duration::from_secs(25));
        let reconnect = s.amqp.reconnect_backoff();
        assert_eq!(
            (reconnect.initial, reconnect.max, reconnect.attempts),
            (Duration::from_millis(7), Duration::from_millis(70), None)
        );
        let publish = s.worker.publish_retry();
        assert_eq!(
            publish.initial,
            Duration::from_millis(200),
            "not the reconnect's"
        );
        assert_eq!(publish.attempts, Some(5));
        assert!(
            reconnect.build().take(100).count() == 100,
            "reconnects never stop"
        );
    }

    #[test]
    fn a_backoff_yields_one_delay_fewer_than_its_attempts_within_its_bounds() {
        let b = Backoff {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(4),
            attempts: Some(3),
        };
        let delays: Vec<Duration> = b.build().collect();
        assert_eq!(delays.len(), 2, "3 attempts = 2 retries");
        assert!(
            delays.iter().all(|d| *d <= Duration::from_millis(8)),
            "{delays:?}"
        );
    }

    #[test]
    fn a_zero_delivery_limit_is_refused_for_every_queue_type() {
        for queue_type in ["quorum", "classic"] {
            let vars = vec![
                ("PAGESIFT__AMQP__DELIVERY_LIMIT".to_owned(), "0".to_owned()),
                (
                    "PAGESIFT__AMQP__INPUT_QUEUE_TYPE".to_owned(),
                    queue_type.to_owned(),
                ),
            ];
            let err = Settings::load_from(&config_dir(), None, vars).expect_err("loops forever");
            assert!(err.to_string().contains("amqp.delivery_limit"), "{err}");
        }
    }

    #[test]
    fn without_a_directory_the_embedded_files_alone_configure_everything() {
        let empty = tempfile::tempdir().expect("temp dir");
        let missing = empty.path().join("no-such-dir");
        let s = Settings::load_from(&missing, Some("production"), Vec::new()).expect("embedded");
        let names: Vec<String> = s.layers().iter().map(ToString::to_string).collect();
        assert_eq!(names, ["embedded default.toml", "embedded production.toml"]);
        assert_eq!(
            s.log.format,
            LogFormat::Json,
            "the embedded production layer"
        );
        assert_eq!(s.pipeline.config_dir(), missing);
        let embedded = Settings::load_from(&missing, None, Vec::new()).expect("embedded");
        let checkout = Settings::load_from(&config_dir(), None, Vec::new()).expect("checkout");
        assert_eq!(
            embedded.to_redacted_toml().expect("TOML"),
            checkout.to_redacted_toml().expect("TOML"),
            "the embedded defaults are the checkout's"
        );
    }

    #[test]
    fn a_directory_file_is_layered_over_the_embedded_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("default.toml"),
            "[worker]\nconcurrency = 3\n",
        )
        .expect("write");
        let s = Settings::load_from(dir.path(), Some("staging"), Vec::new()).expect("layered");
        assert_eq!(s.worker.concurrency, 3, "the directory's value");
        assert_eq!(s.amqp.input_queue, "pagesift.pages", "the embedded value");
        assert_eq!(
            s.layers(),
            [
                Source::Embedded(crate::resources::embedded("default.toml").expect("table")),
                Source::Disk(dir.path().join("default.toml")),
            ]
        );
        std::fs::write(
            dir.path().join("default.toml"),
            "[worker]\nconcurency = 3\n",
        )
        .expect("write");
        let err = Settings::load_from(dir.path(), None, Vec::new()).expect_err("typo on disk");
        assert!(err.to_string().contains("concurency"), "{err}");
    }

    #[test]
    fn a_named_directory_that_does_not_exist_is_an_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = dir.path().join("nope");
        let err = Settings::load(Some(&missing)).expect_err("missing directory");
        assert!(
            matches!(
                err,
                SettingsError::NoDirectory {
                    from: "--config-dir",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn redaction_hides_passwords_even_in_broken_urls() {
        assert_eq!(
            redact_url("amqp://guest:secret@localhost:5672/%2f"),
            "amqp://guest:***@localhost:5672/%2f"
        );
        assert!(!redact_url("amqp://a:se cret@[bad").contains("se cret"));
    }
}
