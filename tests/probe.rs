//! `pagesift probe`: the container health check. Exit 0 only when the local endpoint answers
//! 200 for the path; 1 when it answers otherwise or nobody listens.

use std::process::Command;

use pagesift::health::Readiness;

fn probe(listen: &str, path: &str) -> bool {
    let out = Command::new(env!("CARGO_BIN_EXE_pagesift"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["probe", path])
        .env("PAGESIFT__HTTP__LISTEN", listen)
        .env_remove("PAGESIFT_ENV")
        .output()
        .expect("run pagesift probe");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "unexpected exit: {out:?}"
    );
    out.status.success()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_reports_health_and_readiness_of_the_local_endpoint() {
    let listener = pagesift::http::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let readiness = Readiness::new();
    let metrics = pagesift::http::recorder().expect("recorder").handle();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(pagesift::http::serve(
        listener,
        readiness.clone(),
        metrics,
        pagesift::http::ServeLimits {
            header_read_timeout: std::time::Duration::from_secs(5),
            max_connections: 16,
        },
        async move {
            let _ = stopped.await;
        },
    ));
    let check = |path: &'static str| {
        let addr = addr.clone();
        tokio::task::spawn_blocking(move || probe(&addr, path))
    };
    assert!(check("/healthz").await.expect("probe"));
    assert!(!check("/readyz").await.expect("probe"));
    readiness.set(true);
    assert!(check("/readyz").await.expect("probe"));
    stop.send(()).expect("server running");
    server.await.expect("join").expect("serve");
    // Nobody listens any more.
    assert!(!check("/healthz").await.expect("probe"));
}
