//! `pagesift check-config`: prints the effective configuration with the AMQP password
//! redacted, exits non-zero on an invalid configuration, and never shows the password — not in
//! its output, its error messages or `--help`.

use std::process::{Command, Output};

const PASSWORD: &str = "Zq9-not-for-logs";

fn pagesift(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pagesift"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .env_remove("PAGESIFT_ENV")
        .env_remove("RUST_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run pagesift")
}

fn all_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn secret_url() -> String {
    format!("amqp://operator:{PASSWORD}@broker.internal:5672/%2f")
}

#[test]
fn valid_configuration_is_printed_with_the_password_redacted() {
    let url = secret_url();
    let out = pagesift(&["check-config"], &[("PAGESIFT__AMQP__URL", &url)]);
    assert!(out.status.success(), "{}", all_text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("[amqp]"), "{stdout}");
    assert!(stdout.contains("operator:***@broker.internal"), "{stdout}");
    assert!(
        stdout.contains("input_queue = \"pagesift.pages\""),
        "{stdout}"
    );
    assert!(!all_text(&out).contains(PASSWORD), "{}", all_text(&out));
}

#[test]
fn production_layer_is_applied() {
    let out = pagesift(
        &["check-config", "--skip-models"],
        &[("PAGESIFT_ENV", "production")],
    );
    assert!(out.status.success(), "{}", all_text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("format = \"json\""));
}

#[test]
fn invalid_values_fail_naming_the_field_without_the_password() {
    let url = secret_url();
    let cases: [(&str, &str, &str); 4] = [
        (
            "PAGESIFT__WORKER__PUBLISH_ATTEMPTS",
            "0",
            "worker.publish_attempts",
        ),
        ("PAGESIFT__HTTP__LISTEN", "everywhere", "http.listen"),
        ("PAGESIFT__WORKER__CONCURENCY", "3", "concurency"),
        (
            "PAGESIFT__PIPELINE__CLASSIFIER",
            "/nonexistent/model.json",
            "model",
        ),
    ];
    for (key, value, named) in cases {
        let out = pagesift(
            &["check-config"],
            &[("PAGESIFT__AMQP__URL", &url), (key, value)],
        );
        let text = all_text(&out);
        assert!(!out.status.success(), "{key}={value} accepted: {text}");
        assert!(text.contains(named), "{key}: {text}");
        assert!(!text.contains(PASSWORD), "{key}: {text}");
    }
}

#[test]
fn broken_urls_fail_without_echoing_the_password() {
    for url in [
        format!("http://operator:{PASSWORD}@broker.internal/"),
        format!("amqp://operator:{PASSWORD} x@[broker"),
    ] {
        let out = pagesift(&["check-config"], &[("PAGESIFT__AMQP__URL", &url)]);
        let text = all_text(&out);
        assert!(!out.status.success(), "{url} accepted");
        assert!(text.contains("amqp.url"), "{text}");
        assert!(!text.contains(PASSWORD), "{text}");
    }
}

#[test]
fn help_never_shows_the_password() {
    let url = secret_url();
    for args in [
        &["--help"][..],
        &["check-config", "--help"],
        &["dead-letters", "--help"],
        &["dead-letters", "list", "--help"],
    ] {
        let out = pagesift(args, &[("PAGESIFT__AMQP__URL", &url)]);
        assert!(out.status.success(), "{args:?}");
        assert!(!all_text(&out).contains(PASSWORD), "{args:?}");
    }
}
