//! The Grafana dashboard (`deploy/grafana/pagesift.json`) and the Prometheus alert rules
//! (`deploy/prometheus/alerts.yaml`) only name metrics pagesift exports, with labels those
//! metrics carry. "Exports" is read off the real thing: every recording function of
//! `src/metrics.rs` runs once against pagesift's Prometheus recorder and the rendered exposition
//! is the reference, so a renamed metric or label breaks this test instead of a panel.
//! (PromQL syntax is `promtool`'s job in `deploy/check.sh`.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use pagesift::metrics::{self, PageOutcome};

/// Labels Prometheus adds to every scraped series (target labels of a ServiceMonitor or of
/// annotation-based scraping), and `le`, the bucket bound of histogram series.
const TARGET_LABELS: &[&str] = &[
    "job",
    "instance",
    "namespace",
    "pod",
    "service",
    "endpoint",
    "container",
    "le",
];

/// Metric families from outside pagesift that the files may name (Prometheus itself, RabbitMQ's
/// `rabbitmq_prometheus` plugin, kube-state-metrics).
const FOREIGN_PREFIXES: &[&str] = &["up", "rabbitmq_", "kube_"];

/// Every metric pagesift renders, with its label names, after each recording function ran.
fn exported() -> BTreeMap<String, BTreeSet<String>> {
    let recorder = pagesift::http::recorder().expect("build the Prometheus recorder");
    let handle = recorder.handle();
    ::metrics::with_local_recorder(&recorder, || {
        metrics::describe();
        for outcome in [
            PageOutcome::Published,
            PageOutcome::DeadLettered,
            PageOutcome::Requeued,
            PageOutcome::Abandoned,
        ] {
            metrics::page_settled(outcome, Duration::from_millis(20));
        }
        metrics::article_published(true, "traffic");
        metrics::article_published(false, "none");
        metrics::dead_lettered("bad_json");
        metrics::confirm_latency(Duration::from_millis(5));
        metrics::publish_retried();
        metrics::reconnected();
        metrics::reloaded(true);
        metrics::reloaded(false);
        metrics::model_info("test-model", None);
        drop(metrics::page_started());
    });
    let mut families: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in handle.render().lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let series = line.rsplit_once(' ').map_or(line, |(s, _)| s);
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let keys = families.entry(name.to_owned()).or_default();
        for pair in labels.split(',').filter(|p| !p.is_empty()) {
            if let Some((key, _)) = pair.split_once('=') {
                keys.insert(key.to_owned());
            }
        }
    }
    families
}

/// The PromQL expressions of the dashboard: every `expr` of every panel target.
fn dashboard_exprs(text: &str) -> Vec<String> {
    fn walk(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, v) in map {
                    match (key.as_str(), v) {
                        ("expr", serde_json::Value::String(expr)) => out.push(expr.clone()),
                        _ => walk(v, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let json: serde_json::Value = serde_json::from_str(text).expect("the dashboard is JSON");
    let mut out = Vec::new();
    walk(&json, &mut out);
    out
}

/// The `expr:` values of a Prometheus rule file: inline, or a `>-`/`|` block of the more
/// indented lines below it.
fn rule_exprs(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.trim_start().strip_prefix("expr:") else {
            continue;
        };
        let rest = rest.trim();
        if !rest.starts_with(['>', '|']) {
            out.push(rest.trim_matches(['\'', '"']).to_owned());
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let block: Vec<&str> = lines[i + 1..]
            .iter()
            .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
            .map(|l| l.trim())
            .collect();
        out.push(block.join(" "));
    }
    out
}

/// One metric selector in an expression: the metric name and the label names it matches on.
#[derive(Debug)]
struct Selector {
    name: String,
    labels: Vec<String>,
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// The selectors of `expr` (identifiers followed by an optional `{...}`, skipping function
/// names, keywords and quoted strings) and the labels of its `by (...)`/`without (...)` clauses.
fn parse(expr: &str) -> (Vec<Selector>, Vec<String>) {
    const WORDS: &[&str] = &[
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        // aggregation operators, which may be followed by `by (...)` before their `(`
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "count",
        "count_values",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "quantile",
    ];
    let chars: Vec<char> = expr.chars().collect();
    let (mut selectors, mut grouping) = (Vec::new(), Vec::new());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            continue;
        }
        if c == '[' {
            while i < chars.len() && chars[i] != ']' {
                i += 1;
            }
            continue;
        }
        if !(c.is_ascii_alphabetic() || c == '_') || (i > 0 && is_ident(chars[i - 1])) {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && is_ident(chars[i]) {
            i += 1;
        }
        let word: String = chars[start..i].iter().collect();
        let mut j = i;
        while j < chars.len() && chars[j] == ' ' {
            j += 1;
        }
        let next = chars.get(j).copied();
        if WORDS.contains(&word.as_str()) {
            if matches!(word.as_str(), "by" | "without") && next == Some('(') {
                let end = chars[j..]
                    .iter()
                    .position(|&c| c == ')')
                    .map_or(chars.len(), |p| j + p);
                let inner: String = chars[j + 1..end].iter().collect();
                grouping.extend(inner.split(',').map(|l| l.trim().to_owned()));
                i = end + 1;
            }
            continue;
        }
        if next == Some('(') {
            continue; // a function
        }
        let mut labels = Vec::new();
        if next == Some('{') {
            let end = chars[j..]
                .iter()
                .position(|&c| c == '}')
                .map_or(chars.len(), |p| j + p);
            let inner: String = chars[j + 1..end].iter().collect();
            let mut rest = inner.as_str();
            while let Some(op) = rest.find(['=', '!']) {
                labels.push(rest[..op].trim().trim_start_matches(',').trim().to_owned());
                let Some(open) = rest[op..].find('"').map(|p| op + p) else {
                    break;
                };
                let Some(close) = rest[open + 1..].find('"').map(|p| open + 1 + p) else {
                    break;
                };
                rest = &rest[close + 1..];
            }
            i = end + 1;
        }
        selectors.push(Selector { name: word, labels });
    }
    (selectors, grouping)
}

/// Every problem of `exprs` against `exported` (empty = fine).
fn check(
    source: &str,
    exprs: &[String],
    exported: &BTreeMap<String, BTreeSet<String>>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for expr in exprs {
        let (selectors, grouping) = parse(expr);
        let mut known_labels: BTreeSet<&str> = TARGET_LABELS.iter().copied().collect();
        for s in &selectors {
            if s.name.starts_with("pagesift_") {
                match exported.get(&s.name) {
                    None => problems.push(format!(
                        "{source}: `{}` is not a metric src/metrics.rs exports (in `{expr}`)",
                        s.name
                    )),
                    Some(labels) => {
                        known_labels.extend(labels.iter().map(String::as_str));
                        for l in s
                            .labels
                            .iter()
                            .filter(|l| !TARGET_LABELS.contains(&l.as_str()))
                        {
                            if !labels.contains(l) {
                                problems.push(format!(
                                    "{source}: `{}` has no label `{l}` (it has {labels:?}; in `{expr}`)",
                                    s.name
                                ));
                            }
                        }
                    }
                }
            } else if FOREIGN_PREFIXES.iter().any(|p| s.name.starts_with(p)) {
                known_labels.extend(s.labels.iter().map(String::as_str));
            } else {
                problems.push(format!(
                    "{source}: unknown metric `{}` (neither pagesift's nor an allowed foreign family; in `{expr}`)",
                    s.name
                ));
            }
        }
        for l in &grouping {
            if !known_labels.contains(l.as_str()) {
                problems.push(format!(
                    "{source}: grouping label `{l}` is on none of the expression's metrics (in `{expr}`)"
                ));
            }
        }
    }
    problems
}

fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("reading {}: {e}", full.display()))
}

#[test]
fn the_dashboard_and_the_alert_rules_name_only_exported_metrics_and_labels() {
    let exported = exported();
    assert!(
        exported.contains_key("pagesift_pages_total")
            && exported.contains_key("pagesift_page_duration_seconds_bucket"),
        "the recorder rendered no pagesift metrics: {exported:?}"
    );

    let dashboard = dashboard_exprs(&read("deploy/grafana/pagesift.json"));
    let rules_text = read("deploy/prometheus/alerts.yaml");
    let rules = rule_exprs(&rules_text);
    let alerts = rules_text
        .lines()
        .filter(|l| l.trim_start().starts_with("- alert:"))
        .count();
    assert!(
        dashboard.len() >= 10,
        "only {} dashboard queries found",
        dashboard.len()
    );
    assert_eq!(
        rules.len(),
        alerts,
        "every alert rule has one expr: {rules:#?}"
    );

    let mut problems = check("deploy/grafana/pagesift.json", &dashboard, &exported);
    problems.extend(check("deploy/prometheus/alerts.yaml", &rules, &exported));
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    let named: BTreeSet<String> = dashboard
        .iter()
        .chain(&rules)
        .flat_map(|e| parse(e).0)
        .map(|s| s.name)
        .filter(|n| n.starts_with("pagesift_"))
        .collect();
    for wanted in [
        "pagesift_pages_total",
        "pagesift_articles_total",
        "pagesift_dead_letters_total",
        "pagesift_page_duration_seconds_bucket",
        "pagesift_publish_confirm_seconds_bucket",
        "pagesift_pages_in_flight",
        "pagesift_reconnects_total",
        "pagesift_reloads_total",
    ] {
        assert!(
            named.contains(wanted),
            "neither file shows `{wanted}`: {named:?}"
        );
    }
}

#[test]
fn the_checker_catches_unknown_metrics_and_labels() {
    let exported = exported();
    let bad = [
        "sum by (topic) (rate(pagesift_articles_total[5m]))".to_owned(),
        "rate(pagesift_pages_total{result=\"ok\"}[5m])".to_owned(),
        "pagesift_pages_processed_total".to_owned(),
        "node_load1".to_owned(),
    ];
    let problems = check("test", &bad, &exported);
    assert_eq!(problems.len(), 4, "{problems:#?}");
    let good = [
        "sum by (primary, instance) (rate(pagesift_articles_total{job=~\"$job\",safety=\"true\"}[5m]))"
            .to_owned(),
        "histogram_quantile(0.99, sum by (le) (rate(pagesift_page_duration_seconds_bucket[5m]))) > 10"
            .to_owned(),
        "max(rabbitmq_queue_messages_ready{queue=\"pagesift.pages\"}) / clamp_min(sum(rate(pagesift_pages_total[5m])), 0.1)"
            .to_owned(),
    ];
    assert_eq!(check("test", &good, &exported), Vec::<String>::new());
}

#[test]
fn rule_exprs_reads_inline_and_folded_expressions() {
    let text = "      - alert: A\n        expr: up == 0\n      - alert: B\n        expr: >-\n          sum(x)\n          > 1\n        for: 5m\n";
    assert_eq!(
        rule_exprs(text),
        vec!["up == 0".to_owned(), "sum(x) > 1".to_owned()]
    );
}
