//! The page corpus of a scenario: fixture pages under distinct ids, generated pages and, when
//! asked, a poison mix; with the oracle that says, from the same [`Pipeline`] the worker runs,
//! which event ids each good page must yield and which error class each bad page must get.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use lapin::BasicProperties;
use pagesift::model::PageMeta;
use pagesift::pipeline::{Hints, Pipeline};
use sha2::{Digest, Sha256};

/// A small deterministic generator (splitmix64): the seed is printed so a run can be replayed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `lo..hi` (`hi > lo`).
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo) as u64) as usize
    }

    /// A float in `lo..hi`.
    pub fn float(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * (hi - lo)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.range(0, items.len())]
    }
}

/// Generic news and safety vocabulary (domain words, not text from any page).
const WORDS: &[&str] = &[
    "安全生产",
    "应急管理",
    "消防",
    "交通",
    "检查",
    "会议",
    "部署",
    "工作",
    "推进",
    "企业",
    "群众",
    "隐患",
    "排查",
    "整改",
    "培训",
    "演练",
    "防汛",
    "暴雨",
    "预警",
    "食品",
    "药品",
    "疫情",
    "防控",
    "城市",
    "乡村",
    "经济",
    "发展",
    "项目",
    "建设",
    "服务",
    "社区",
    "学校",
    "医院",
    "道路",
    "车辆",
    "火灾",
    "救援",
    "责任",
    "制度",
    "落实",
    "宣传",
    "教育",
    "环境",
    "治理",
    "监管",
    "执法",
    "市场",
    "农业",
    "文化",
    "旅游",
    "科技",
    "创新",
    "人才",
    "改革",
];

fn sentence(rng: &mut Rng) -> String {
    let n = rng.range(4, 14);
    let mut s = String::new();
    for i in 0..n {
        let word = WORDS[rng.range(0, WORDS.len())];
        s.push_str(word);
        if i + 1 < n && rng.range(0, 4) == 0 {
            s.push('，');
        }
    }
    s.push('。');
    s
}

/// A generated page: a few items, each a title line and body paragraphs, separated by blank
/// lines.
pub fn generated_text(rng: &mut Rng) -> String {
    let mut text = String::new();
    for _ in 0..rng.range(2, 7) {
        let title: String = (0..rng.range(2, 5)).map(|_| *rng.pick(WORDS)).collect();
        text.push_str(&title);
        text.push('\n');
        for _ in 0..rng.range(1, 5) {
            text.push_str("\u{3000}\u{3000}");
            for _ in 0..rng.range(1, 4) {
                text.push_str(&sentence(rng));
            }
            text.push('\n');
        }
        text.push('\n');
    }
    text
}

/// What a page message must produce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// These event ids, each at least once.
    Articles(Vec<String>),
    /// A dead letter with this error class.
    Dead(&'static str),
}

/// One page message as published on the input queue.
#[derive(Debug, Clone)]
pub struct PageMsg {
    /// Label for reports (`fixture`, `generated`, `poison:<kind>`).
    pub kind: String,
    /// The page id (also the AMQP `message_id`).
    pub page_id: String,
    pub body: Vec<u8>,
    pub content_type: Option<String>,
    pub expect: Expect,
}

/// Hex SHA-256 of a body: how a dead letter is matched to the page it came from.
pub fn body_key(body: &[u8]) -> String {
    Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The AMQP properties a page is published with: persistent, `message_id` = page id, its
/// content type when it has one.
pub fn properties_of(content_type: Option<&str>, page_id: &str) -> BasicProperties {
    let props = BasicProperties::default()
        .with_delivery_mode(2)
        .with_message_id(page_id.into());
    match content_type {
        Some(ct) => props.with_content_type(ct.into()),
        None => props,
    }
}

/// The oracle: the hints the README's rules give for [`properties_of`] (the page id from
/// `message_id`, the content type as set, no charset or metadata headers), written out here
/// rather than read with the worker's own header code, then the same pipeline offline.
pub fn expect_of(pipeline: &Pipeline, body: &[u8], content_type: Option<&str>, id: &str) -> Expect {
    let hints = Hints {
        content_type: content_type.map(str::to_owned),
        charset: None,
        page_id: Some(id.to_owned()),
        meta: PageMeta::default(),
    };
    let result = pipeline
        .decode(body, &hints)
        .and_then(|page| pipeline.process(&page, "2026-01-01T00:00:00Z"));
    match result {
        Ok(p) => Expect::Articles(p.events.into_iter().map(|e| e.event_id).collect()),
        Err(e) => Expect::Dead(e.class()),
    }
}

fn json_page(id: &str, text: &str) -> Vec<u8> {
    serde_json::json!({ "page_id": id, "text": text, "newspaper": "chaos", "page_no": "1" })
        .to_string()
        .into_bytes()
}

/// A bad (or tricky) message of the poison mix, by kind; `None` content type means none set.
fn poison(
    kind: usize,
    id: &str,
    rng: &mut Rng,
    big_left: &mut usize,
) -> (String, Vec<u8>, Option<String>) {
    let json = Some("application/json".to_owned());
    match kind {
        0 => (
            "invalid_json".into(),
            format!("{{\"page_id\":\"{id}\",\"text\":\"标题\\n\\n正文").into_bytes(),
            json,
        ),
        1 => {
            let mut b = format!("{{\"page_id\":\"{id}\",\"text\":\"").into_bytes();
            b.extend_from_slice(b"\xff\xfe\xff bad \xc3\x28 bytes \xff");
            b.extend_from_slice(b"\"}");
            ("invalid_utf8".into(), b, json)
        }
        2 => {
            // Undeclared GBK: decodable by detection, so a GOOD page by the pipeline's rules.
            let text = generated_text(rng);
            let utf8 = String::from_utf8(json_page(id, &text)).expect("JSON is UTF-8");
            let gbk = encoding_rs::GBK.encode(&utf8).0.into_owned();
            ("undeclared_gbk".into(), gbk, json)
        }
        3 => ("empty_text".into(), json_page(id, " \n\u{3000}\n\t "), json),
        4 if *big_left > 0 => {
            *big_left -= 1;
            let line = "安全生产检查工作推进。".repeat(50) + "\n";
            let mut text = String::with_capacity(21 << 20);
            while text.len() < 20 << 20 {
                text.push_str(&line);
            }
            ("20mib".into(), json_page(id, &text), json)
        }
        5 | 4 => {
            let len = rng.range(16, 4096);
            let bytes: Vec<u8> = (0..len).map(|_| (rng.next_u64() & 0xff) as u8).collect();
            ("binary".into(), bytes, None)
        }
        6 => (
            "text_wrong_type".into(),
            format!("{{\"page_id\":\"{id}\",\"text\":{}}}", rng.range(0, 1000)).into_bytes(),
            json,
        ),
        7 => (
            "blank_lines_100k".into(),
            json_page(id, &"\n".repeat(100_000)),
            json,
        ),
        8 => (
            "lines_over_limit".into(),
            json_page(id, &"甲乙。\n".repeat(60_000)),
            json,
        ),
        _ => (
            "not_an_object".into(),
            format!("[\"{id}\", 1, 2]").into_bytes(),
            json,
        ),
    }
}

/// Kinds of poison; each has a fixed intended class except the GBK one (good by detection).
pub const POISON_KINDS: usize = 10;

/// The intended error class of each poison kind (None: decided by the pipeline's rules).
pub fn intended_class(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "poison:invalid_json" => "invalid_json",
        "poison:invalid_utf8" | "poison:binary" => "bad_encoding",
        "poison:empty_text" | "poison:blank_lines_100k" => "empty_text",
        "poison:20mib" => "too_large",
        "poison:text_wrong_type" | "poison:not_an_object" => "wrong_type",
        "poison:lines_over_limit" => "too_many_paragraphs",
        _ => return None,
    })
}

/// The pages of one scenario: `n` messages, `poison_pct` percent of them from the poison mix.
pub fn corpus(
    pipeline: &Pipeline,
    fixtures: &Path,
    tag: &str,
    n: usize,
    poison_pct: usize,
    rng: &mut Rng,
) -> Vec<PageMsg> {
    let mut files: Vec<_> = std::fs::read_dir(fixtures)
        .expect("fixture pages directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    let texts: Vec<String> = files
        .iter()
        .map(|p| std::fs::read_to_string(p).expect("fixture page is UTF-8"))
        .collect();
    assert!(
        !texts.is_empty(),
        "no fixture pages in {}",
        fixtures.display()
    );
    let json = Some("application/json".to_owned());
    let mut big_left = 1usize;
    let mut poisoned = 0usize;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let id = format!("{tag}-{i:05}");
        let roll = rng.range(0, 100);
        let (kind, body, ct) = if roll < poison_pct {
            // Cycle through the kinds so every one appears (the 20 MiB page once).
            let k = poisoned % POISON_KINDS;
            poisoned += 1;
            let (kind, body, ct) = poison(k, &id, rng, &mut big_left);
            (format!("poison:{kind}"), body, ct)
        } else if roll < poison_pct + 20 {
            let text = &texts[i % texts.len()];
            ("fixture".to_owned(), json_page(&id, text), json.clone())
        } else {
            let text = generated_text(rng);
            ("generated".to_owned(), json_page(&id, &text), json.clone())
        };
        let expect = expect_of(pipeline, &body, ct.as_deref(), &id);
        out.push(PageMsg {
            kind,
            page_id: id,
            body,
            content_type: ct,
            expect,
        });
    }
    // The oracle must agree with each poison kind's intent, or the scenario proves nothing.
    for m in &out {
        if let Some(class) = intended_class(&m.kind) {
            assert_eq!(
                m.expect,
                Expect::Dead(class),
                "oracle disagrees for {} ({})",
                m.page_id,
                m.kind
            );
        }
        if m.kind == "poison:undeclared_gbk" {
            assert!(
                matches!(m.expect, Expect::Articles(ref a) if !a.is_empty()),
                "GBK page {} must decode",
                m.page_id
            );
        }
    }
    let bodies: HashSet<String> = out.iter().map(|m| body_key(&m.body)).collect();
    assert_eq!(
        bodies.len(),
        out.len(),
        "page bodies must be distinct to match dead letters"
    );
    out
}

/// README "Delivery contract": a dead-letter copy carries the body whole when it is at most
/// `pipeline.max_page_bytes` and 16 MiB, else its first 64 KiB (constants of the documented
/// contract, not the worker's own code).
const DEAD_LETTER_WHOLE_BODY_BYTES: usize = 16 * 1024 * 1024;
const DEAD_LETTER_EXCERPT_BYTES: usize = 64 * 1024;

/// The body key the dead-letter copy of this page body must have: the whole body's, or the
/// excerpt's when the body is too large to be copied whole.
pub fn dead_letter_key(body: &[u8], max_page_bytes: usize) -> String {
    if body.len() > DEAD_LETTER_WHOLE_BODY_BYTES.min(max_page_bytes) {
        body_key(&body[..DEAD_LETTER_EXCERPT_BYTES])
    } else {
        body_key(body)
    }
}

/// Expected event id -> its page id.
pub type ExpectedIds = HashMap<String, String>;

/// Body key of a bad page -> (page id, error class).
pub type ExpectedDead = HashMap<String, (String, &'static str)>;

/// Expected event ids (with their page) and bad-page bodies (by key) of a corpus, for workers
/// with this `pipeline.max_page_bytes`.
pub fn expectations(pages: &[PageMsg], max_page_bytes: usize) -> (ExpectedIds, ExpectedDead) {
    let mut ids = HashMap::new();
    let mut dead = HashMap::new();
    for m in pages {
        match &m.expect {
            Expect::Articles(a) => {
                for id in a {
                    ids.insert(id.clone(), m.page_id.clone());
                }
            }
            Expect::Dead(class) => {
                dead.insert(
                    dead_letter_key(&m.body, max_page_bytes),
                    (m.page_id.clone(), *class),
                );
            }
        }
    }
    (ids, dead)
}
