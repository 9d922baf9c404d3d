//! The metrics a known run records: the worker runs in this process with a Prometheus recorder
//! installed, handles one good page and two bad ones, and the rendered counters must say so.
//! (A separate test binary: the recorder is process-global.)

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;

use lapin::BasicProperties;
use pagesift::metrics::sample_sum;
use pagesift::page_file::page_message;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_after_a_known_run_match_what_happened() {
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .expect("install the recorder");
    pagesift::metrics::describe();
    let names = Names::new("metrics").with("PAGESIFT__AMQP__PAGE_SUMMARY", "false");
    let settings = names.settings();
    let pipeline = pagesift::resources::build_pipeline(&settings.pipeline).expect("pipeline");
    let shared = Arc::new(arc_swap::ArcSwap::from_pointee(pipeline));
    let readiness = pagesift::health::Readiness::new();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let task = {
        let (readiness, shutdown) = (readiness.clone(), shutdown.clone());
        tokio::spawn(pagesift::worker::run(pagesift::worker::Worker {
            settings,
            pipeline: shared,
            readiness,
            shutdown,
            clock: Arc::new(pagesift::clock::SystemClock),
        }))
    };

    let conn = connect().await;
    declare(&conn, &names).await;
    let path = root().join("tests/fixtures/pages/seed.txt");
    let seed = page_message(&path, &std::fs::read(&path).expect("seed"), 0, 1);
    let expected = expected_events(&names, std::slice::from_ref(&seed));
    let events = &expected["seed"];
    let ids: BTreeSet<String> = events.iter().map(|e| e.event_id.clone()).collect();
    let json = BasicProperties::default()
        .with_content_type("application/json".into())
        .with_message_id("bad".into());
    let text = BasicProperties::default()
        .with_content_type("text/plain".into())
        .with_message_id("blank".into());
    let ch = confirm_channel(&conn).await;
    publish_raw(
        &ch,
        &names.input(),
        &[
            (seed.body.clone(), seed.properties.clone()),
            (b"{".to_vec(), json),
            (b"  ".to_vec(), text),
        ],
    )
    .await;
    collect_ids(&conn, &names.all(), &ids, &BTreeSet::new()).await;
    wait_for_ready(&conn, &names.dlq(), 2, &String::new).await;
    shutdown.cancel();
    task.await.expect("task").expect("clean shutdown");

    let text = handle.render();
    let pages = pagesift::metrics::PAGES_TOTAL;
    assert_eq!(
        sample_sum(&text, pages, &[("outcome", "published")]),
        1.0,
        "{text}"
    );
    assert_eq!(
        sample_sum(&text, pages, &[("outcome", "dead_lettered")]),
        2.0,
        "{text}"
    );
    assert_eq!(
        sample_sum(&text, pages, &[("outcome", "requeued")]),
        0.0,
        "{text}"
    );
    let dead = pagesift::metrics::DEAD_LETTERS_TOTAL;
    assert_eq!(
        sample_sum(&text, dead, &[("reason", "invalid_json")]),
        1.0,
        "{text}"
    );
    assert_eq!(
        sample_sum(&text, dead, &[("reason", "empty_text")]),
        1.0,
        "{text}"
    );
    let articles = pagesift::metrics::ARTICLES_TOTAL;
    assert_eq!(
        sample_sum(&text, articles, &[]),
        events.len() as f64,
        "{text}"
    );
    let safety = events.iter().filter(|e| e.safety.is_safety).count();
    assert_eq!(
        sample_sum(&text, articles, &[("safety", "true")]),
        safety as f64
    );
    let duration_count = format!("{}_count", pagesift::metrics::PAGE_DURATION_SECONDS);
    assert_eq!(sample_sum(&text, &duration_count, &[]), 3.0, "{text}");
    let confirm_count = format!("{}_count", pagesift::metrics::PUBLISH_CONFIRM_SECONDS);
    assert!(sample_sum(&text, &confirm_count, &[]) >= 3.0, "{text}");
    assert_eq!(
        sample_sum(&text, pagesift::metrics::PAGES_IN_FLIGHT, &[]),
        0.0
    );
    // The stats line's totals are read from the same counters.
    let totals = pagesift::metrics::Snapshot::from_exposition(&text);
    assert_eq!(
        (totals.published, totals.dead_lettered, totals.requeued),
        (1, 2, 0)
    );
    assert_eq!(totals.articles, events.len() as u64);
    assert_eq!(totals.safety_articles, safety as u64);
    assert_eq!(totals.in_flight, 0);
    names.cleanup().await;
}
