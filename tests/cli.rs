//! The binary run as a user runs it: `pagesift process` on files, on stdin (`-`), on `.json`
//! page messages, and with a bad input among good ones (exit 2 after the others are printed).

use std::io::Write;
use std::process::{Command, Output, Stdio};

const SEED: &str = "tests/fixtures/pages/seed.txt";
const AT: &str = "2024-07-19T00:00:00Z";

fn pagesift() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pagesift"));
    cmd.env_remove("PAGESIFT_ENV")
        .env_remove("PAGESIFT_CONFIG_DIR")
        .env("RUST_LOG", "warn");
    cmd
}

fn run_with_stdin(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = pagesift()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pagesift");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    child.wait_with_output().expect("wait for pagesift")
}

fn events(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("every stdout line is one JSON event"))
        .collect()
}

#[test]
fn process_prints_one_event_per_item_of_the_seed_page() {
    let out = pagesift()
        .args(["process", SEED, "--processed-at", AT])
        .output()
        .expect("run pagesift");
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = events(&out.stdout);
    assert!(
        events.len() >= 10,
        "the seed page has at least ten items, got {}",
        events.len()
    );
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["schema"], "pagesift.article/v1");
        assert_eq!(e["page"]["id"], "seed");
        assert_eq!(e["article"]["index"], i);
        assert_eq!(e["pipeline"]["processed_at"], AT);
    }
}

#[test]
fn stdin_gives_the_same_events_as_the_file() {
    let page = std::fs::read(SEED).expect("seed page");
    let from_stdin = run_with_stdin(
        &["process", "-", "--page-id", "seed", "--processed-at", AT],
        &page,
    );
    let from_file = pagesift()
        .args(["process", SEED, "--processed-at", AT])
        .output()
        .expect("run pagesift");
    assert!(from_stdin.status.success());
    assert_eq!(
        String::from_utf8_lossy(&from_stdin.stdout),
        String::from_utf8_lossy(&from_file.stdout)
    );
}

#[test]
fn a_json_page_message_carries_its_id_and_metadata() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("message.json");
    let message = serde_json::json!({
        "page_id": "rmrb-2020-01-08-13",
        "newspaper": "人民日报",
        "edition_date": "2020-01-08",
        "text": "去年生产安全事故起数下降\n\n本报北京1月7日电 （记者丁怡婷）记者7日从全国应急管理工作会议获悉，事故起数下降。\n",
    });
    std::fs::write(&path, message.to_string()).expect("write message");
    let out = pagesift()
        .args([
            "process",
            path.to_str().expect("utf-8 path"),
            "--processed-at",
            AT,
        ])
        .output()
        .expect("run pagesift");
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = events(&out.stdout);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["page"]["id"], "rmrb-2020-01-08-13");
    assert_eq!(events[0]["page"]["newspaper"], "人民日报");
    assert_eq!(events[0]["article"]["title"], "去年生产安全事故起数下降");
    assert_eq!(events[0]["article"]["byline"]["reporters"][0], "丁怡婷");
    assert_eq!(events[0]["article"]["dateline"], "北京1月7日");
}

#[test]
fn an_input_error_exits_2_after_the_other_files_are_processed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let empty = dir.path().join("empty.txt");
    let broken = dir.path().join("broken.json");
    std::fs::write(&empty, " \n\u{3000}\n").expect("write empty page");
    std::fs::write(&broken, "{\"page_id\": \"x\", ").expect("write broken message");
    let out = pagesift()
        .args([
            "process",
            empty.to_str().expect("utf-8 path"),
            SEED,
            broken.to_str().expect("utf-8 path"),
            "--processed-at",
            AT,
        ])
        .output()
        .expect("run pagesift");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("empty.txt"),
        "stderr names the empty file: {stderr}"
    );
    assert!(
        stderr.contains("broken.json"),
        "stderr names the broken file: {stderr}"
    );
    let events = events(&out.stdout);
    assert!(
        !events.is_empty(),
        "the seed page between them is still processed"
    );
    assert!(events.iter().all(|e| e["page"]["id"] == "seed"));
}

#[test]
fn the_service_binary_has_no_development_commands() {
    let help = pagesift().arg("--help").output().expect("run pagesift");
    let help = String::from_utf8_lossy(&help.stdout);
    for command in [
        "run",
        "process",
        "publish",
        "check-config",
        "dead-letters",
        "probe",
    ] {
        assert!(help.contains(command), "`{command}` missing from:\n{help}");
    }
    for command in ["bench-load", "train", "eval", "build-idf"] {
        assert!(!help.contains(command), "`{command}` in:\n{help}");
        let out = pagesift().arg(command).output().expect("run pagesift");
        assert_eq!(
            out.status.code(),
            Some(2),
            "`pagesift {command}` is a usage error"
        );
    }
}

#[test]
fn the_development_binary_scores_segmentation_as_documented() {
    let out = Command::new(env!("CARGO_BIN_EXE_pagesift-dev"))
        .env_remove("PAGESIFT_ENV")
        .env_remove("PAGESIFT_CONFIG_DIR")
        .env("RUST_LOG", "warn")
        .args(["eval", "--json"])
        .output()
        .expect("run pagesift-dev");
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["pages"].as_array().map(Vec::len), Some(16));
    assert!(report["overall"]["boundary"]["f1"].as_f64() > Some(0.9));
    let help = Command::new(env!("CARGO_BIN_EXE_pagesift-dev"))
        .arg("--help")
        .output()
        .expect("run pagesift-dev");
    let help = String::from_utf8_lossy(&help.stdout);
    for command in [
        "eval",
        "eval-classifier",
        "train",
        "build-idf",
        "bench-load",
    ] {
        assert!(help.contains(command), "`{command}` missing from:\n{help}");
    }
}
