//! Page files as the offline tools see them: one file is one page, `.json` files are JSON page
//! messages and anything else is page text, and the page id is the file stem (or a JSON page's
//! own `page_id`). `pagesift process` turns a file into pipeline [`Hints`]; `pagesift publish`,
//! the load tool and the broker tests turn it into the AMQP [`PageMessage`] a crawler would
//! send. Both follow the same rules, so a file yields the same event ids online and offline.

use std::path::{Path, PathBuf};

use lapin::BasicProperties;
use lapin::types::FieldTable;

use crate::amqp::{self, short};
use crate::model::PageMeta;
use crate::pipeline::Hints;

/// Content type of JSON page messages.
pub const JSON: &str = "application/json";
/// Content type of text pages.
pub const TEXT: &str = "text/plain";

/// The page id a file yields: its stem (`pages/seed.txt` -> `seed`).
pub fn page_id_of(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string_lossy().into_owned())
}

/// Whether a file holds a JSON page message (its extension is `.json`, in any case).
pub fn is_json(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// The content type a page file is sent with.
pub fn content_type(path: &Path) -> &'static str {
    if is_json(path) { JSON } else { TEXT }
}

/// Hints for a page file: the stem as page id, the content type from the extension.
pub fn hints_for_file(path: &Path, meta: PageMeta, charset: Option<String>) -> Hints {
    Hints {
        content_type: Some(content_type(path).to_owned()),
        charset,
        page_id: Some(page_id_of(path)),
        meta,
    }
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
    let mut headers = FieldTable::default();
    if is_json(path) {
        // A JSON page's own page_id wins (as offline); a copy rewrites it with its suffix.
        let parsed: Option<serde_json::Value> = serde_json::from_slice(bytes).ok();
        let own_id = parsed
            .as_ref()
            .and_then(|v| v.get("page_id"))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned);
        let base = own_id.unwrap_or_else(|| stem.clone());
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
            properties: page_properties(JSON, &page_id, headers),
            page_id,
            body,
        }
    } else {
        let page_id = repeated_id(&stem, copy, repeat);
        headers.insert("page_id".into(), amqp::header_str(&page_id));
        PageMessage {
            properties: page_properties(TEXT, &page_id, headers),
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
pub fn page_messages(files: &[PathBuf], repeat: u32) -> std::io::Result<Vec<PageMessage>> {
    let mut contents = Vec::with_capacity(files.len());
    for f in files {
        let bytes = std::fs::read(f)
            .map_err(|e| std::io::Error::new(e.kind(), format!("reading {}: {e}", f.display())))?;
        contents.push((f.clone(), bytes));
    }
    let mut out = Vec::with_capacity(contents.len() * repeat as usize);
    for copy in 0..repeat {
        for (path, bytes) in &contents {
            out.push(page_message(path, bytes, copy, repeat));
        }
    }
    Ok(out)
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
    fn a_file_gives_the_same_hints_offline_and_as_a_message() {
        for path in ["pages/seed.txt", "pages/P.JSON"] {
            let path = Path::new(path);
            let offline = hints_for_file(path, PageMeta::default(), None);
            let online = hints_from_properties(&page_message(path, b"{}", 0, 1).properties);
            assert_eq!(offline.content_type, online.content_type, "{path:?}");
            assert_eq!(offline.page_id, online.page_id, "{path:?}");
        }
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
