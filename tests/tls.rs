//! `amqps://` end to end: the test makes its own CA and server certificate (openssl CLI), puts a
//! TLS-terminating relay (tokio-rustls) in front of the plain broker, and runs a real
//! `pagesift run` against `amqps://127.0.0.1:<relay>` with `amqp.tls_ca_file` = that CA. Pages
//! go in, their article events come out. A worker that does not trust the CA must fail the
//! handshake instead. Needs the broker like the other broker tests (fails loudly without one).

#[allow(dead_code)]
#[path = "chaos/broker.rs"]
mod broker;
#[allow(dead_code)]
#[path = "chaos/pages.rs"]
mod pages;
#[allow(dead_code)]
#[path = "chaos/workers.rs"]
mod workers;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_util::sync::CancellationToken;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the TLS test needs the openssl CLI");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA (`ca.pem`) and a server certificate for 127.0.0.1 and localhost signed by it.
fn make_certificates(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=pagesift test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n\
         extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .expect("extension file");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
}

/// Counts of the relay's TLS handshakes.
#[derive(Default)]
struct Handshakes {
    ok: AtomicU64,
    failed: AtomicU64,
}

/// Accepts TLS on a free port and forwards the plaintext to the broker.
async fn tls_relay(
    dir: &Path,
    upstream: SocketAddr,
    stop: CancellationToken,
) -> (SocketAddr, Arc<Handshakes>) {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .expect("server.pem")
        .collect::<Result<_, _>>()
        .expect("certificate");
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).expect("server.key");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server certificate");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("relay listens");
    let addr = listener.local_addr().expect("relay address");
    let counts = Arc::new(Handshakes::default());
    let c = counts.clone();
    tokio::spawn(async move {
        loop {
            let (client, _) = tokio::select! {
                _ = stop.cancelled() => return,
                a = listener.accept() => match a { Ok(a) => a, Err(_) => return },
            };
            let acceptor = acceptor.clone();
            let c = c.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut tls = match acceptor.accept(client).await {
                    Ok(t) => {
                        c.ok.fetch_add(1, Ordering::Relaxed);
                        t
                    }
                    Err(_) => {
                        c.failed.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                };
                let Ok(mut server) = TcpStream::connect(upstream).await else {
                    return;
                };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut tls, &mut server) => {}
                    _ = stop.cancelled() => {}
                }
            });
        }
    });
    (addr, counts)
}

fn broker_addr(url: &str) -> SocketAddr {
    let u = url::Url::parse(url).expect("broker URL");
    let host = u.host_str().unwrap_or("127.0.0.1").to_owned();
    let port = u.port().unwrap_or(5672);
    std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
        .ok()
        .and_then(|mut a| a.next())
        .expect("broker address resolves")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_consumes_and_publishes_over_amqps_trusting_the_configured_ca() {
    let url = broker::amqp_url();
    let upstream = broker_addr(&url);
    if TcpStream::connect(upstream).await.is_err() {
        panic!(
            "no RabbitMQ answers at {upstream}: {}",
            broker::HOW_TO_START
        );
    }
    let dir = tempfile::tempdir().expect("temp dir");
    make_certificates(dir.path());
    let stop = CancellationToken::new();
    let (relay, handshakes) = tls_relay(dir.path(), upstream, stop.clone()).await;

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let settings = pagesift::settings::Settings::load_from(&root.join("config"), None, Vec::new())
        .expect("default settings");
    let pipeline = pagesift::resources::build_pipeline(&settings.pipeline).expect("pipeline");
    let mut rng = pages::Rng::new(0x7715);
    let tag = format!("tls-{:08x}", std::process::id());
    let corpus = pages::corpus(
        &pipeline,
        &root.join("tests/fixtures/pages"),
        &tag,
        30,
        0,
        &mut rng,
    );
    let (expected, _) = pages::expectations(&corpus, settings.pipeline.max_page_bytes);

    let spec = workers::WorkerSpec {
        url: format!("amqps://guest:guest@127.0.0.1:{}/%2f", relay.port()),
        topology: workers::Topology::new(&tag),
        concurrency: 2,
        prefetch: 4,
        extra: vec![(
            "PAGESIFT__AMQP__TLS_CA_FILE".into(),
            dir.path().join("ca.pem").display().to_string(),
        )],
        log_dir: Path::new(env!("CARGO_TARGET_TMPDIR")).join("tls-logs"),
        http: false,
    };
    let mut worker = spec.spawn(&tag);
    let conn = broker::connect(&url).await.expect("plain test connection");
    let t = spec.topology.clone();
    for q in [&t.input, &t.all_queue] {
        assert!(
            broker::wait_for_queue(&conn, q, Duration::from_secs(60)).await,
            "the TLS worker never declared {q} (handshakes ok {}, failed {}):\n{}",
            handshakes.ok.load(Ordering::Relaxed),
            handshakes.failed.load(Ordering::Relaxed),
            worker.tail(20)
        );
    }
    let tally = broker::Shared::default();
    let (_, open) = tokio::sync::watch::channel(true);
    let collector = tokio::spawn(broker::collect(
        url.clone(),
        t.all_queue.clone(),
        broker::Source::Articles,
        tally.clone(),
        open,
        stop.clone(),
    ));
    broker::publish_pages(&conn, &t.input, &corpus).await;
    let start = Instant::now();
    let all_arrived = || {
        let t = tally.lock().expect("tally");
        expected.keys().all(|id| t.events.contains_key(id))
    };
    while !all_arrived() && start.elapsed() < Duration::from_secs(90) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        all_arrived(),
        "not every article arrived over amqps:\n{}",
        worker.tail(20)
    );
    assert!(
        handshakes.ok.load(Ordering::Relaxed) >= 1,
        "no TLS handshake went through the relay"
    );
    worker.term();
    let status = worker.wait_for(Duration::from_secs(30));
    assert!(
        status.is_some_and(|s| s.success()),
        "TLS worker exit: {status:?}"
    );

    // Without the CA the same worker must refuse the server's certificate.
    let untrusting = workers::WorkerSpec {
        extra: Vec::new(),
        ..spec.clone()
    };
    let failed_before = handshakes.failed.load(Ordering::Relaxed);
    let mut stranger = untrusting.spawn(&format!("{tag}-untrusting"));
    let start = Instant::now();
    while handshakes.failed.load(Ordering::Relaxed) == failed_before
        && start.elapsed() < Duration::from_secs(30)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let failed = handshakes.failed.load(Ordering::Relaxed) - failed_before;
    stranger.kill9();
    assert!(
        failed >= 1,
        "a worker without the CA completed a TLS handshake:\n{}",
        stranger.tail(20)
    );

    stop.cancel();
    let _ = collector.await;
    broker::cleanup(
        &url,
        &[&t.input, &t.dead_queue, &t.all_queue],
        &[&t.output_exchange, &t.dead_exchange],
    )
    .await;
}
