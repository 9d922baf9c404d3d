//! Broker tests of `pagesift dead-letters`: list never loses a message, replay moves exactly the
//! selected dead letters to the input queue (after confirms) and leaves the others in place.
//! Needs RabbitMQ at `PAGESIFT_TEST_AMQP_URL` (default `amqp://guest:guest@127.0.0.1:5672/%2f`);
//! fails loudly when there is none. Queues have random names, expire on their own and are deleted
//! at the end.

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lapin::options::{
    BasicAckOptions, BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use pagesift::dead_letters::{self, HEADER_ERROR_CLASS, HEADER_ERROR_REASON, HEADER_PAGE_ID};

fn broker_url() -> String {
    std::env::var("PAGESIFT_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("pagesift-test-{prefix}-{}-{nanos}", std::process::id())
}

struct Fixture {
    connection: Connection,
    channel: Channel,
    dlq: String,
    input: String,
}

impl Fixture {
    async fn new(tag: &str) -> Fixture {
        let url = broker_url();
        let connection = Connection::connect(&url, ConnectionProperties::default())
            .await
            .unwrap_or_else(|e| {
                panic!("no RabbitMQ broker at PAGESIFT_TEST_AMQP_URL / 127.0.0.1:5672: {e}")
            });
        let channel = connection.create_channel().await.expect("channel");
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .expect("confirms");
        let fixture = Fixture {
            connection,
            channel,
            dlq: unique(&format!("{tag}-dlq")),
            input: unique(&format!("{tag}-in")),
        };
        for queue in [&fixture.dlq, &fixture.input] {
            let mut args = FieldTable::default();
            // Vanish by themselves if the test dies before cleaning up.
            args.insert("x-expires".into(), AMQPValue::LongInt(120_000));
            fixture
                .channel
                .queue_declare(queue.as_str().into(), QueueDeclareOptions::default(), args)
                .await
                .expect("declare queue");
        }
        fixture
    }

    async fn dead_letter(&self, class: &str, page_id: &str, body: &[u8]) {
        let mut headers = FieldTable::default();
        headers.insert(
            HEADER_ERROR_CLASS.into(),
            AMQPValue::LongString(class.into()),
        );
        headers.insert(
            HEADER_ERROR_REASON.into(),
            AMQPValue::LongString(format!("{class}: test reason").into()),
        );
        headers.insert(HEADER_PAGE_ID.into(), AMQPValue::LongString(page_id.into()));
        let confirm = self
            .channel
            .basic_publish(
                "".into(),
                self.dlq.as_str().into(),
                BasicPublishOptions::default(),
                body,
                BasicProperties::default().with_headers(headers),
            )
            .await
            .expect("publish")
            .await
            .expect("confirm");
        assert!(confirm.is_ack());
    }

    /// Ready messages in `queue`, once it settles on `expected` (requeues from another channel
    /// reach the queue asynchronously); returns the last count seen after a few seconds.
    async fn count_settling_on(&self, queue: &str, expected: u32) -> u32 {
        let mut seen = self.count(queue).await;
        for _ in 0..50 {
            if seen == expected {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            seen = self.count(queue).await;
        }
        seen
    }

    async fn count(&self, queue: &str) -> u32 {
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        self.channel
            .queue_declare(queue.into(), passive, FieldTable::default())
            .await
            .expect("passive declare")
            .message_count()
    }

    /// Takes every message of `queue`: (page id header, replay count header, body).
    async fn drain(&self, queue: &str) -> Vec<(String, Option<AMQPValue>, Vec<u8>)> {
        let mut out = Vec::new();
        while let Some(m) = self
            .channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: false })
            .await
            .expect("get")
        {
            let headers = m.delivery.properties.headers().clone().unwrap_or_default();
            let page_id = match headers.inner().get(HEADER_PAGE_ID) {
                Some(AMQPValue::LongString(s)) => {
                    String::from_utf8_lossy(s.as_bytes()).into_owned()
                }
                _ => String::new(),
            };
            out.push((
                page_id,
                headers.inner().get(dead_letters::HEADER_REPLAYED).cloned(),
                m.delivery.data.clone(),
            ));
            m.delivery
                .acker
                .ack(BasicAckOptions::default())
                .await
                .expect("ack");
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    async fn clean_up(self) {
        for queue in [&self.dlq, &self.input] {
            self.channel
                .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                .await
                .expect("delete queue");
        }
        self.connection
            .close(200, "done".into())
            .await
            .expect("close");
    }
}

#[tokio::test]
async fn list_leaves_every_message_and_replay_moves_only_the_filtered_ones() {
    let f = Fixture::new("lib").await;
    f.dead_letter("too_large", "page-a", "第一版 正文".as_bytes())
        .await;
    f.dead_letter("invalid_json", "page-b", b"{not json").await;
    f.dead_letter("too_large", "page-c", &[0xff, 0xfe, b'x'])
        .await;

    let tool = f.connection.create_channel().await.expect("tool channel");
    let first_two = dead_letters::list(&tool, &f.dlq, 2, 16)
        .await
        .expect("list");
    assert_eq!(first_two.len(), 2);
    assert_eq!(
        f.count_settling_on(&f.dlq, 3).await,
        3,
        "listing must not remove messages"
    );
    let all = dead_letters::list(&tool, &f.dlq, 100, 16)
        .await
        .expect("list all");
    let mut ids: Vec<_> = all.iter().filter_map(|l| l.page_id.clone()).collect();
    ids.sort();
    assert_eq!(ids, ["page-a", "page-b", "page-c"]);
    let a = all
        .iter()
        .find(|l| l.page_id.as_deref() == Some("page-a"))
        .expect("page-a listed");
    assert_eq!(a.class, "too_large");
    assert_eq!(a.preview, "第一版 正文");
    assert_eq!(f.count_settling_on(&f.dlq, 3).await, 3);

    let report = dead_letters::replay(
        &tool,
        &f.dlq,
        &f.input,
        Some("too_large"),
        Duration::from_secs(10),
    )
    .await
    .expect("replay");
    assert_eq!((report.replayed, report.skipped), (2, 1));
    assert_eq!(f.count_settling_on(&f.dlq, 1).await, 1);
    let replayed = f.drain(&f.input).await;
    assert_eq!(replayed.len(), 2);
    assert_eq!(replayed[0].0, "page-a");
    assert_eq!(replayed[0].2, "第一版 正文".as_bytes());
    assert_eq!(replayed[1].0, "page-c");
    assert_eq!(replayed[1].2, [0xff, 0xfe, b'x']);
    assert_eq!(replayed[0].1, Some(AMQPValue::LongLongInt(1)));

    let rest = dead_letters::replay(&tool, &f.dlq, &f.input, None, Duration::from_secs(10))
        .await
        .expect("replay the rest");
    assert_eq!((rest.replayed, rest.skipped), (1, 0));
    assert_eq!(f.count_settling_on(&f.dlq, 0).await, 0);
    let last = f.drain(&f.input).await;
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].0, "page-b");
    f.clean_up().await;
}

#[tokio::test]
async fn replay_to_a_missing_input_queue_keeps_the_dead_letters() {
    let f = Fixture::new("missing").await;
    f.dead_letter("encoding", "page-x", b"abc").await;
    let tool = f.connection.create_channel().await.expect("tool channel");
    let err = dead_letters::replay(
        &tool,
        &f.dlq,
        "pagesift-test-no-such-queue",
        None,
        Duration::from_secs(10),
    )
    .await
    .expect_err("input queue does not exist");
    assert!(err.to_string().contains("does not exist"), "{err:#}");
    assert_eq!(f.count_settling_on(&f.dlq, 1).await, 1);
    f.clean_up().await;
}

#[tokio::test]
async fn the_cli_lists_and_replays_with_the_configured_queues() {
    let f = Fixture::new("cli").await;
    f.dead_letter("empty", "page-e", b"   ").await;
    f.dead_letter("encoding", "page-g", b"\xb0\xe6").await;
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_pagesift"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(args)
            .env("PAGESIFT__AMQP__URL", broker_url())
            .env("PAGESIFT__AMQP__DEAD_LETTER_QUEUE", &f.dlq)
            .env("PAGESIFT__AMQP__INPUT_QUEUE", &f.input)
            .env_remove("PAGESIFT_ENV")
            .output()
            .expect("run pagesift")
    };
    let listed = run(&["dead-letters", "list", "--json"]);
    assert!(listed.status.success(), "{listed:?}");
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(stdout.contains("\"page_id\":\"page-e\""), "{stdout}");
    assert!(stdout.contains("\"class\":\"encoding\""), "{stdout}");

    let replayed = run(&["dead-letters", "replay", "--filter", "encoding"]);
    assert!(replayed.status.success(), "{replayed:?}");
    assert!(
        String::from_utf8_lossy(&replayed.stdout).contains("replayed 1"),
        "{replayed:?}"
    );
    assert_eq!(f.count_settling_on(&f.dlq, 1).await, 1);
    assert_eq!(f.count_settling_on(&f.input, 1).await, 1);
    f.clean_up().await;
}
