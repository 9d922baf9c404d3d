//! The operator's HTTP endpoint: `/healthz` (the process is alive; never looks at the broker),
//! `/readyz` (200 only while [`Readiness::is_ready`], else 503) and `/metrics` (Prometheus text
//! exposition of everything recorded through the `metrics` crate).
//!
//! Typical use from the worker (`pagesift run`):
//!
//! ```no_run
//! # async fn example(settings: &pagesift::settings::Settings) -> anyhow::Result<()> {
//! let readiness = pagesift::health::Readiness::new();
//! let endpoint = pagesift::http::start(&settings.http, readiness.clone()).await?;
//! // ... run the worker, flipping `readiness`, until it has drained ...
//! if let Some(endpoint) = endpoint {
//!     endpoint.stop().await?;
//! }
//! # Ok(()) }
//! ```

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use metrics_exporter_prometheus::{BuildError, PrometheusBuilder, PrometheusHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::health::Readiness;
use crate::settings::HttpSettings;

/// Content type of the Prometheus text exposition format.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Histogram buckets in seconds shared by every histogram (page duration, confirm latency):
/// real Prometheus histograms aggregate across replicas, summaries would not.
pub const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// How often histogram upkeep runs while the server is up.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Errors of the HTTP endpoint.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The Prometheus recorder could not be built or installed (another global recorder is
    /// already installed).
    #[error("cannot install the metrics recorder")]
    Recorder(#[from] BuildError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address from `http.listen`.
        addr: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// The server stopped with an IO error.
    #[error("HTTP server failed")]
    Serve(#[source] std::io::Error),
}

static HANDLE: Mutex<Option<PrometheusHandle>> = Mutex::new(None);

/// The Prometheus recorder configured for pagesift (seconds buckets for every histogram),
/// not installed. Tests use it with `metrics::with_local_recorder`.
pub fn recorder() -> Result<metrics_exporter_prometheus::PrometheusRecorder, HttpError> {
    Ok(PrometheusBuilder::new()
        .set_buckets(SECONDS_BUCKETS)?
        .build_recorder())
}

/// Installs the Prometheus recorder as the process's global `metrics` recorder, once; later
/// calls return a handle on the same recorder.
pub fn install_recorder() -> Result<PrometheusHandle, HttpError> {
    let mut installed = HANDLE.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(handle) = installed.as_ref() {
        return Ok(handle.clone());
    }
    let recorder = recorder()?;
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(BuildError::from)?;
    *installed = Some(handle.clone());
    Ok(handle)
}

/// Binds `listen` (e.g. `0.0.0.0:9090`, from `http.listen`).
pub async fn bind(listen: &str) -> Result<TcpListener, HttpError> {
    TcpListener::bind(listen)
        .await
        .map_err(|source| HttpError::Bind {
            addr: listen.to_owned(),
            source,
        })
}

#[derive(Clone)]
struct AppState {
    readiness: Readiness,
    metrics: PrometheusHandle,
}

/// The routes, without a listener (for embedding in another server).
pub fn router(readiness: Readiness, metrics: PrometheusHandle) -> Router {
    Router::new()
        .route("/healthz", routing::get(healthz))
        .route("/readyz", routing::get(readyz))
        .route("/metrics", routing::get(render_metrics))
        .with_state(AppState { readiness, metrics })
}

/// Bounds on the clients of the endpoint (from [`HttpSettings`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// Time a client has to send a request's headers; then its connection is closed.
    pub header_read_timeout: Duration,
    /// Most open connections; a connection over the cap is closed on accept.
    pub max_connections: usize,
}

impl ServeLimits {
    /// The limits configured in `settings`.
    pub fn of(settings: &HttpSettings) -> ServeLimits {
        ServeLimits {
            header_read_timeout: settings.header_read_timeout(),
            max_connections: settings.max_connections,
        }
    }
}

/// Longest wait after an `accept` error (out of file descriptors, a reset connection) before
/// accepting again: the server must outlive a descriptor shortage, not spin on it.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves the endpoints on `listener` until `shutdown` completes; also runs the recorder's
/// periodic upkeep (histogram maintenance) meanwhile. Each connection must send its request
/// headers within `limits.header_read_timeout`, and at most `limits.max_connections` are open at
/// once (more are closed on accept), so half-open or slow clients cannot hold descriptors the
/// broker connections need.
pub async fn serve(
    listener: TcpListener,
    readiness: Readiness,
    metrics: PrometheusHandle,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), HttpError> {
    let upkeep_handle = metrics.clone();
    let upkeep = tokio::spawn(async move {
        let mut tick = tokio::time::interval(UPKEEP_INTERVAL);
        loop {
            tick.tick().await;
            upkeep_handle.run_upkeep();
        }
    });
    let app = router(readiness, metrics);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let connections = TaskTracker::new();
    let closing = CancellationToken::new();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting an HTTP connection failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            // Over the cap: close at once (the client sees a reset, not a hang).
            drop(stream);
            continue;
        };
        let service = TowerToHyperService::new(app.clone());
        let closing = closing.clone();
        connections.spawn(async move {
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout);
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = closing.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(limits.header_read_timeout, connection).await;
                }
            }
            drop(slot);
        });
    }
    closing.cancel();
    connections.close();
    let _ = tokio::time::timeout(limits.header_read_timeout, connections.wait()).await;
    upkeep.abort();
    Ok(())
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.readiness.is_ready() {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}

async fn render_metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE)],
        state.metrics.render(),
    )
}

/// A running endpoint started by [`start`]. Stop it after the worker has drained, so `/healthz`
/// keeps answering (and `/readyz` says 503) during a graceful shutdown.
#[derive(Debug)]
pub struct Endpoint {
    addr: SocketAddr,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), HttpError>>,
}

impl Endpoint {
    /// The address the endpoint listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving and waits for the server to finish its open requests.
    pub async fn stop(self) -> Result<(), HttpError> {
        self.stop.cancel();
        self.task
            .await
            .map_err(|e| HttpError::Serve(std::io::Error::other(e)))?
    }
}

/// The one call the worker needs: when `http.enabled`, installs the global Prometheus recorder,
/// binds `http.listen` and serves in a background task; `None` when disabled.
pub async fn start(
    settings: &HttpSettings,
    readiness: Readiness,
) -> Result<Option<Endpoint>, HttpError> {
    if !settings.enabled {
        return Ok(None);
    }
    let metrics = install_recorder()?;
    let listener = bind(&settings.listen).await?;
    let addr = listener.local_addr().map_err(|source| HttpError::Bind {
        addr: settings.listen.clone(),
        source,
    })?;
    let stop = CancellationToken::new();
    let stopped = stop.clone();
    let limits = ServeLimits::of(settings);
    let task = tokio::spawn(serve(listener, readiness, metrics, limits, async move {
        stopped.cancelled().await;
    }));
    Ok(Some(Endpoint { addr, stop, task }))
}

/// A minimal HTTP/1.1 `GET path` to `addr`: the status code and the body. Used by
/// `pagesift probe` (container health checks without curl) and the tests.
pub async fn get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let response = String::from_utf8_lossy(&response);
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "no HTTP status line")
        })?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// The address a local probe should use for `listen`: the same port on the loopback address
/// when `listen` is a wildcard (`0.0.0.0`, `::`).
pub fn local_addr_for(listen: SocketAddr) -> SocketAddr {
    match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), listen.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), listen.port())
        }
        _ => listen,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
        super::get(addr, path).await.expect("HTTP GET")
    }

    struct Server {
        addr: SocketAddr,
        stop: tokio::sync::oneshot::Sender<()>,
        task: tokio::task::JoinHandle<Result<(), HttpError>>,
    }

    const LIMITS: ServeLimits = ServeLimits {
        header_read_timeout: Duration::from_secs(5),
        max_connections: 64,
    };

    async fn start(readiness: Readiness, metrics: PrometheusHandle) -> Server {
        start_with(readiness, metrics, LIMITS).await
    }

    async fn start_with(
        readiness: Readiness,
        metrics: PrometheusHandle,
        limits: ServeLimits,
    ) -> Server {
        let listener = bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, readiness, metrics, limits, async move {
            let _ = stopped.await;
        }));
        Server { addr, stop, task }
    }

    /// Whether the server closes `stream` (EOF or reset) within `within`.
    async fn closed_within(stream: &mut tokio::net::TcpStream, within: Duration) -> bool {
        let mut buf = [0u8; 1024];
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
                Ok(Ok(0) | Err(_)) => return true,
                Ok(Ok(_)) => {}
                Err(_) => return false,
            }
        }
    }

    #[tokio::test]
    async fn half_open_clients_are_cut_off_and_cannot_exhaust_the_connection_cap() {
        let limits = ServeLimits {
            header_read_timeout: Duration::from_millis(500),
            max_connections: 8,
        };
        let server = start_with(Readiness::new(), recorder().expect("r").handle(), limits).await;
        // Three times the cap of clients that send half a request and then nothing.
        let mut half_open = Vec::new();
        for _ in 0..24 {
            let mut s = tokio::net::TcpStream::connect(server.addr)
                .await
                .expect("connect");
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                .await
                .expect("half a request");
            half_open.push(s);
        }
        // Each one is closed: over the cap at once, under it after the header timeout (the
        // patience here only bounds a hang; 60 s is 120 times the timeout).
        for (i, s) in half_open.iter_mut().enumerate() {
            assert!(
                closed_within(s, Duration::from_secs(60)).await,
                "half-open client {i} still open"
            );
        }
        // And the endpoint answers again.
        assert_eq!(get(server.addr, "/healthz").await.0, 200);
        server.shut_down().await;
    }

    #[tokio::test]
    async fn connections_over_the_cap_are_closed_while_the_cap_is_held() {
        let limits = ServeLimits {
            header_read_timeout: Duration::from_secs(600),
            max_connections: 2,
        };
        let server = start_with(Readiness::new(), recorder().expect("r").handle(), limits).await;
        let mut held = Vec::new();
        for _ in 0..2 {
            let mut s = tokio::net::TcpStream::connect(server.addr)
                .await
                .expect("connect");
            s.write_all(b"GET /healthz HTTP/1.1\r\n")
                .await
                .expect("write");
            held.push(s);
        }
        // Give the server the two accepts before the third (the accept loop is sequential).
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut over = tokio::net::TcpStream::connect(server.addr)
            .await
            .expect("connect");
        let _ = over.write_all(b"GET /healthz HTTP/1.1\r\n\r\n").await;
        assert!(
            closed_within(&mut over, Duration::from_secs(60)).await,
            "over the cap"
        );
        drop(held);
        // Slots are released when the held clients go away.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok((200, _)) = super::get(server.addr, "/healthz").await {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "slots never released"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server.shut_down().await;
    }

    impl Server {
        async fn shut_down(self) {
            self.stop.send(()).expect("server still running");
            self.task
                .await
                .expect("server task")
                .expect("clean shutdown");
        }
    }

    #[tokio::test]
    async fn readyz_follows_readiness_while_healthz_stays_up() {
        let readiness = Readiness::new();
        let handle = recorder().expect("recorder").handle();
        let server = start(readiness.clone(), handle).await;

        assert_eq!(get(server.addr, "/healthz").await.0, 200);
        assert_eq!(get(server.addr, "/readyz").await.0, 503);
        readiness.set(true);
        assert_eq!(get(server.addr, "/readyz").await.0, 200);
        assert_eq!(get(server.addr, "/healthz").await.0, 200);
        // Reconnecting or draining: not ready, still alive.
        readiness.set(false);
        assert_eq!(get(server.addr, "/readyz").await.0, 503);
        assert_eq!(get(server.addr, "/healthz").await.0, 200);
        assert_eq!(get(server.addr, "/nope").await.0, 404);
        server.shut_down().await;
    }

    #[tokio::test]
    async fn metrics_endpoint_shows_recorded_counters_and_histograms() {
        let recorder = recorder().expect("recorder");
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            metrics::counter!("pagesift_test_pages_total", "outcome" => "ok").increment(3);
            metrics::histogram!("pagesift_test_page_seconds").record(0.02);
        });
        let server = start(Readiness::new(), handle).await;
        let (status, body) = get(server.addr, "/metrics").await;
        assert_eq!(status, 200);
        assert!(
            body.contains("pagesift_test_pages_total{outcome=\"ok\"} 3"),
            "{body}"
        );
        assert!(
            body.contains("pagesift_test_page_seconds_bucket{le=\"0.025\"} 1"),
            "{body}"
        );
        server.shut_down().await;
    }

    #[test]
    fn install_recorder_twice_returns_the_same_recorder() {
        let first = install_recorder().expect("first install");
        let second = install_recorder().expect("second install");
        metrics::counter!("pagesift_test_global_total").increment(2);
        assert!(first.render().contains("pagesift_test_global_total 2"));
        assert!(second.render().contains("pagesift_test_global_total 2"));
    }

    #[test]
    fn the_endpoint_listens_on_loopback_unless_the_container_config_says_otherwise() {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config");
        let local = crate::settings::Settings::load_from(&dir, None, Vec::new()).expect("default");
        let listen: SocketAddr = local.http.listen.parse().expect("address");
        assert!(listen.ip().is_loopback(), "{listen}");
        let prod = crate::settings::Settings::load_from(&dir, Some("production"), Vec::new())
            .expect("production");
        let listen: SocketAddr = prod.http.listen.parse().expect("address");
        assert!(listen.ip().is_unspecified(), "{listen}");
        assert!(local.http.header_read_timeout_seconds > 0 && local.http.max_connections > 0);
    }

    #[test]
    fn probes_of_wildcard_listeners_use_loopback() {
        let v4: SocketAddr = "0.0.0.0:9090".parse().expect("addr");
        assert_eq!(local_addr_for(v4).to_string(), "127.0.0.1:9090");
        let v6: SocketAddr = "[::]:9090".parse().expect("addr");
        assert_eq!(local_addr_for(v6).to_string(), "[::1]:9090");
        let fixed: SocketAddr = "10.1.2.3:80".parse().expect("addr");
        assert_eq!(local_addr_for(fixed), fixed);
    }

    #[tokio::test]
    async fn start_serves_on_the_configured_address_until_stopped() {
        let settings = HttpSettings {
            enabled: true,
            listen: "127.0.0.1:0".to_owned(),
            header_read_timeout_seconds: 5,
            max_connections: 64,
        };
        let readiness = Readiness::new();
        let endpoint = super::start(&settings, readiness.clone())
            .await
            .expect("start")
            .expect("enabled");
        let addr = endpoint.local_addr();
        assert_eq!(get(addr, "/readyz").await.0, 503);
        readiness.set(true);
        assert_eq!(get(addr, "/readyz").await.0, 200);
        assert_eq!(get(addr, "/metrics").await.0, 200);
        endpoint.stop().await.expect("stop");
        assert!(super::get(addr, "/healthz").await.is_err());
    }

    #[tokio::test]
    async fn start_does_nothing_when_disabled() {
        let settings = HttpSettings {
            enabled: false,
            listen: "127.0.0.1:0".to_owned(),
            header_read_timeout_seconds: 5,
            max_connections: 64,
        };
        assert!(
            super::start(&settings, Readiness::new())
                .await
                .expect("start")
                .is_none()
        );
    }

    #[tokio::test]
    async fn binding_a_bad_address_names_it() {
        let err = bind("not-an-address").await.expect_err("must fail");
        assert!(err.to_string().contains("not-an-address"), "{err}");
        let chain = crate::telemetry::error_chain(&err);
        assert!(
            chain.len() > err.to_string().len(),
            "cause missing: {chain}"
        );
    }
}
