//! The binary out of the checkout: its configuration and model files are compiled in, so
//! `pagesift process` from an empty directory gives the events it gives in the checkout; files
//! of a configuration directory and `PAGESIFT__*` variables override the embedded ones, and
//! `check-config` says which is which.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const AT: &str = "2024-07-19T00:00:00Z";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `pagesift` run in `dir` with no configuration from the environment.
fn pagesift_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pagesift"));
    cmd.current_dir(dir)
        .args(args)
        .env_remove("PAGESIFT_ENV")
        .env_remove("PAGESIFT_CONFIG_DIR")
        .env("RUST_LOG", "warn");
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("PAGESIFT__")) {
        cmd.env_remove(key);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run pagesift")
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Every fixture page, as absolute paths.
fn pages() -> Vec<String> {
    let mut pages: Vec<String> = std::fs::read_dir(root().join("tests/fixtures/pages"))
        .expect("fixture pages")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .map(|p| p.to_str().expect("UTF-8 path").to_owned())
        .collect();
    pages.sort();
    assert!(pages.len() >= 10, "{pages:?}");
    pages
}

fn process_args(pages: &[String]) -> Vec<&str> {
    let mut args = vec!["process", "--processed-at", AT];
    args.extend(pages.iter().map(String::as_str));
    args
}

#[test]
fn process_from_an_empty_directory_gives_the_checkout_events() {
    let pages = pages();
    let empty = tempfile::tempdir().expect("temp dir");
    let elsewhere = ok(pagesift_in(empty.path(), &process_args(&pages), &[]));
    let checkout = ok(pagesift_in(&root(), &process_args(&pages), &[]));
    assert!(
        checkout.lines().count() >= 50,
        "{} events",
        checkout.lines().count()
    );
    assert_eq!(elsewhere, checkout);
}

#[test]
fn check_config_says_what_is_embedded_and_what_was_read() {
    let empty = tempfile::tempdir().expect("temp dir");
    let out = ok(pagesift_in(empty.path(), &["check-config"], &[]));
    for line in [
        "# configuration: embedded default.toml",
        "# pipeline.user_dict: embedded userdict.txt",
        "# pipeline.idf: embedded idf.txt",
        "# pipeline.classifier: embedded classifier.json",
        "# pipeline.entities: embedded entities.model",
    ] {
        assert!(out.lines().any(|l| l == line), "`{line}` missing:\n{out}");
    }
    assert!(!out.contains("read from"), "{out}");

    let checkout = ok(pagesift_in(&root(), &["check-config"], &[]));
    for line in [
        "# configuration: read from config/default.toml",
        "# pipeline.classifier: read from config/classifier.json",
    ] {
        assert!(
            checkout.lines().any(|l| l == line),
            "`{line}` missing:\n{checkout}"
        );
    }
    assert!(toml_body(&out).parse::<toml::Table>().is_ok(), "{out}");
    assert_eq!(
        toml_body(&out),
        toml_body(&checkout),
        "the same configuration"
    );
}

/// The output of `check-config` after its comment lines.
fn toml_body(out: &str) -> String {
    out.lines()
        .skip_while(|l| l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_configuration_directory_and_variables_override_the_embedded_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("config");
    std::fs::create_dir(&config).expect("config dir");
    let shipped = std::fs::read_to_string(root().join("config/classifier.json")).expect("model");
    let mut model: serde_json::Value = serde_json::from_str(&shipped).expect("model JSON");
    let version = format!("{}-override", model["version"].as_str().expect("version"));
    model["version"] = serde_json::Value::String(version.clone());
    std::fs::write(config.join("classifier.json"), model.to_string()).expect("write model");
    std::fs::write(
        config.join("default.toml"),
        "[pipeline]\nkeywords_top_k = 2\n",
    )
    .expect("write default.toml");
    let page = std::slice::from_ref(&pages()[0]).to_vec();
    let one = process_args(&page);
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let config_dir = config.to_str().expect("UTF-8 path");
    let by_flag = [
        "--config-dir",
        config_dir,
        "process",
        "--processed-at",
        AT,
        page[0].as_str(),
    ];
    let runs = [
        ok(pagesift_in(dir.path(), &one, &[])),
        ok(pagesift_in(elsewhere.path(), &by_flag, &[])),
        ok(pagesift_in(
            elsewhere.path(),
            &one,
            &[("PAGESIFT_CONFIG_DIR", config_dir)],
        )),
    ];
    for events in &runs {
        assert!(!events.is_empty());
        for line in events.lines() {
            let event: serde_json::Value = serde_json::from_str(line).expect("event");
            assert_eq!(event["pipeline"]["classifier"], version.as_str(), "{line}");
            let keywords = event["nlp"]["keywords"].as_array().map_or(0, Vec::len);
            assert!(keywords <= 2, "keywords_top_k from the directory: {line}");
        }
    }
    assert_eq!(runs[0], runs[1]);
    assert_eq!(runs[1], runs[2]);

    let by_variable = ok(pagesift_in(
        elsewhere.path(),
        &one,
        &[("PAGESIFT__PIPELINE__KEYWORDS_TOP_K", "1")],
    ));
    let mut most = 0;
    for line in by_variable.lines() {
        let event: serde_json::Value = serde_json::from_str(line).expect("event");
        assert_ne!(
            event["pipeline"]["classifier"],
            version.as_str(),
            "embedded model"
        );
        most = most.max(event["nlp"]["keywords"].as_array().map_or(0, Vec::len));
    }
    assert_eq!(most, 1, "keywords_top_k from the variable");
}

#[test]
fn a_named_configuration_directory_must_exist() {
    let empty = tempfile::tempdir().expect("temp dir");
    let missing = empty.path().join("nope");
    let missing = missing.to_str().expect("UTF-8 path");
    let out = pagesift_in(
        empty.path(),
        &["--config-dir", missing, "check-config"],
        &[],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not a directory") && stderr.contains(missing),
        "{stderr}"
    );
}

/// `pagesift-dev` run in `dir` with no configuration from the environment.
fn dev_in(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pagesift-dev"));
    cmd.current_dir(dir)
        .args(args)
        .env_remove("PAGESIFT_ENV")
        .env_remove("PAGESIFT_CONFIG_DIR")
        .env("RUST_LOG", "warn");
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("PAGESIFT__")) {
        cmd.env_remove(key);
    }
    cmd.output().expect("run pagesift-dev")
}

#[test]
fn the_classifier_tools_find_the_lexicon_and_user_dictionary_from_any_directory() {
    let labels = root().join("tests/fixtures/labels/articles.jsonl");
    let corpus = root().join("tests/fixtures/labels/corpus.jsonl");
    let (labels, corpus) = (
        labels.to_str().expect("UTF-8 path"),
        corpus.to_str().expect("UTF-8 path"),
    );
    let score = [
        "eval-classifier",
        "--folds",
        "0",
        "--labels",
        labels,
        "--corpus",
        corpus,
    ];
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let checkout = ok(dev_in(&root(), &score));
    let outside = ok(dev_in(elsewhere.path(), &score));
    assert!(outside.contains("classifier "), "{outside}");
    assert_eq!(outside, checkout, "the embedded model and user dictionary");

    // Training starts from the embedded lexicon; the output goes where --out says.
    let out = elsewhere.path().join("fitted.json");
    let out_arg = out.to_str().expect("UTF-8 path");
    let train = [
        "train", "--labels", labels, "--corpus", corpus, "--out", out_arg,
    ];
    ok(dev_in(elsewhere.path(), &train));
    let fitted = std::fs::read_to_string(&out).expect("the fitted model");
    pagesift::pipeline::classify::Classifier::from_model(&fitted).expect("a loadable model");
}
