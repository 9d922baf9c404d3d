//! `pagesift-dev bench-load` end to end against the real broker: both phases complete, the summary
//! reports every figure, and the randomly named queues are gone afterwards. Fails loudly when no
//! broker answers (never skips).

mod support;

use std::process::Command;

use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_load_measures_relay_and_worker_and_cleans_up_its_queues() {
    let admin = support::connect().await;
    let logs = tempfile::tempdir().expect("temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_pagesift-dev"))
        .current_dir(support::root())
        .env("PAGESIFT__AMQP__URL", support::amqp_url())
        .args(["bench-load", "--pages", "12", "--rounds", "1", "--log-dir"])
        .arg(logs.path())
        .arg("--worker-bin")
        .arg(env!("CARGO_BIN_EXE_pagesift"))
        .output()
        .expect("pagesift runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "bench-load failed:\n{stdout}\n{stderr}"
    );
    for figure in [
        "relay pages/s",
        "worker pages/s",
        "worker / relay (pages/s, same round)",
        "worker p99 latency",
        "worker start-up to consuming",
        "worker CPU per page",
        "worker peak RSS (VmHWM)",
    ] {
        assert!(stdout.contains(figure), "missing `{figure}` in:\n{stdout}");
    }
    let prefix = stdout
        .lines()
        .find_map(|l| l.split("names ").nth(1))
        .and_then(|n| n.strip_suffix(".*"))
        .unwrap_or_else(|| panic!("no run names in:\n{stdout}"))
        .to_owned();
    for phase in ["relay", "worker"] {
        for queue in ["pages", "articles.all", "pages.dead"] {
            let name = format!("{prefix}.{phase}.{queue}");
            let ch = admin.create_channel().await.expect("channel");
            let passive = QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            };
            let found = ch
                .queue_declare(name.as_str().into(), passive, FieldTable::default())
                .await;
            assert!(found.is_err(), "{name} was left behind");
        }
    }
}
