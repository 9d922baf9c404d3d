//! `pagesift publish [FILE...] [--repeat N]`: a feeder that publishes page files as page
//! messages to the input queue, with publisher confirms, for demos, tests and load runs. The page
//! id is the file stem (or a JSON page's own `page_id`), as in `pagesift process`, so a file
//! yields the same event ids online and offline; with `--repeat N > 1` each copy gets the suffix
//! `-rK` (K = 0..N). `.json` files are sent as JSON; anything else as text with the page id in a
//! `page_id` header.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use lapin::BasicProperties;
use lapin::types::FieldTable;

use crate::amqp::{self, OutMessage, Publisher, short};
use crate::commands::process::page_id_of;
use crate::settings::Settings;

/// Messages published per confirm batch.
const BATCH: usize = 256;

/// Arguments of `pagesift publish`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Page files (`.json` page messages or text).
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
    /// Publish every file N times, with a page-id suffix per copy.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,
    /// Queue to publish to (default: `amqp.input_queue`).
    #[arg(long)]
    pub queue: Option<String>,
}

/// One page message ready to publish.
#[derive(Debug, Clone)]
pub struct PageMessage {
    /// The page id the worker will see.
    pub page_id: String,
    /// The body.
    pub body: Vec<u8>,
    /// Properties (content type, message id, headers).
    pub properties: BasicProperties,
}

/// The page id copy `copy` of a page gets when the file is sent `repeat` times.
pub fn repeated_id(base: &str, copy: u32, repeat: u32) -> String {
    if repeat > 1 {
        format!("{base}-r{copy}")
    } else {
        base.to_owned()
    }
}

/// The message for copy `copy` (of `repeat`) of the page file `path` with contents `bytes`.
pub fn page_message(path: &Path, bytes: &[u8], copy: u32, repeat: u32) -> PageMessage {
    let stem = page_id_of(path);
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let mut headers = FieldTable::default();
    if is_json {
        // A JSON page's own page_id wins (as offline); a copy rewrites it with its suffix.
        let parsed: Option<serde_json::Value> = serde_json::from_slice(bytes).ok();
        let own_id = parsed
            .as_ref()
            .and_then(|v| v.get("page_id"))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned);
        let base = own_id.clone().unwrap_or_else(|| stem.clone());
        let page_id = repeated_id(&base, copy, repeat);
        let body = match parsed {
            Some(serde_json::Value::Object(mut map)) if repeat > 1 => {
                map.insert("page_id".into(), serde_json::Value::String(page_id.clone()));
                serde_json::to_vec(&map).unwrap_or_else(|_| bytes.to_vec())
            }
            _ => bytes.to_vec(),
        };
        headers.insert("page_id".into(), amqp::header_str(&page_id));
        PageMessage {
            properties: page_properties("application/json", &page_id, headers),
            page_id,
            body,
        }
    } else {
        let page_id = repeated_id(&stem, copy, repeat);
        headers.insert("page_id".into(), amqp::header_str(&page_id));
        PageMessage {
            properties: page_properties("text/plain", &page_id, headers),
            page_id,
            body: bytes.to_vec(),
        }
    }
}

fn page_properties(content_type: &str, page_id: &str, headers: FieldTable) -> BasicProperties {
    BasicProperties::default()
        .with_content_type(short(content_type))
        .with_delivery_mode(2)
        .with_message_id(short(page_id))
        .with_app_id(short("pagesift-publish"))
        .with_headers(headers)
}

/// Reads the files and yields every message, copy by copy.
pub fn page_messages(files: &[PathBuf], repeat: u32) -> anyhow::Result<Vec<PageMessage>> {
    let mut contents = Vec::with_capacity(files.len());
    for f in files {
        contents.push((
            f.clone(),
            std::fs::read(f).with_context(|| format!("reading {}", f.display()))?,
        ));
    }
    let mut out = Vec::with_capacity(contents.len() * repeat as usize);
    for copy in 0..repeat {
        for (path, bytes) in &contents {
            out.push(page_message(path, bytes, copy, repeat));
        }
    }
    Ok(out)
}

/// Runs the command.
pub fn run(settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(publish(settings, args))?;
    Ok(ExitCode::SUCCESS)
}

async fn publish(settings: &Settings, args: Args) -> anyhow::Result<()> {
    let queue = args
        .queue
        .clone()
        .unwrap_or_else(|| settings.amqp.input_queue.clone());
    let messages = page_messages(&args.files, args.repeat)?;
    let connection = amqp::connect(settings, "feeder").await?;
    if settings.amqp.declare {
        let channel = connection.create_channel().await?;
        amqp::topology::declare(&channel, &settings.amqp).await?;
        let _ = channel.close(200, short("declared")).await;
    }
    let publisher = Publisher::open(
        &connection,
        Duration::from_secs(settings.amqp.publish_timeout_seconds),
    )
    .await?;
    let started = Instant::now();
    for chunk in messages.chunks(BATCH) {
        let batch: Vec<OutMessage> = chunk
            .iter()
            .map(|m| OutMessage {
                exchange: String::new(),
                routing_key: queue.clone(),
                body: m.body.clone(),
                properties: m.properties.clone(),
                mandatory: true,
            })
            .collect();
        publisher
            .publish_all(&batch)
            .await
            .with_context(|| format!("publishing to queue `{queue}`"))?;
    }
    let elapsed = started.elapsed();
    tracing::info!(
        pages = messages.len(),
        queue,
        elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        "published (all confirmed)"
    );
    publisher.close().await;
    let _ = connection.close(200, short("bye")).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker::hints_from_properties;

    #[test]
    fn a_text_file_is_sent_with_its_stem_as_page_id() {
        let m = page_message(Path::new("pages/seed.txt"), "正文".as_bytes(), 0, 1);
        assert_eq!(m.page_id, "seed");
        let hints = hints_from_properties(&m.properties);
        assert_eq!(hints.page_id.as_deref(), Some("seed"));
        assert_eq!(hints.content_type.as_deref(), Some("text/plain"));
    }

    #[test]
    fn each_repeat_gets_its_own_page_id() {
        let a = page_message(Path::new("x/p.txt"), b"t", 0, 3);
        let b = page_message(Path::new("x/p.txt"), b"t", 2, 3);
        assert_ne!(a.page_id, b.page_id);
        assert!(a.page_id.starts_with('p') && b.page_id.starts_with('p'));
    }

    #[test]
    fn a_repeated_json_page_has_its_page_id_rewritten() {
        let body = br#"{"page_id":"own","text":"t"}"#;
        let m = page_message(Path::new("a/file.json"), body, 1, 2);
        assert_eq!(m.page_id, "own-r1");
        let v: serde_json::Value = serde_json::from_slice(&m.body).expect("json");
        assert_eq!(v["page_id"], "own-r1");
        let single = page_message(Path::new("a/file.json"), body, 0, 1);
        assert_eq!(single.page_id, "own");
        assert_eq!(single.body, body.to_vec());
    }
}
