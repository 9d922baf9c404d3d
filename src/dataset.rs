//! Labelled articles for training and evaluating the classifier (`pagesift-dev train`,
//! `eval-classifier`, the classifier tests): a labels file joined with crawler
//! corpus files on `id`, and truth files whose entries are cut out of their page text with
//! `first_chars` / `last_chars`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

use crate::model::{Article, EventKind, ItemKind, Topic};
use crate::pipeline::classify::Gold;

/// One labelled article.
#[derive(Debug, Clone)]
pub struct Labelled {
    /// Labels id or truth entry id.
    pub id: String,
    /// The article built from the corpus or cut from the page.
    pub article: Article,
    /// Its labels.
    pub gold: Gold,
    /// A text written for the project (`load_written`), not a real article.
    pub written: bool,
}

#[derive(Debug, Deserialize)]
struct LabelLine {
    id: String,
    safety: bool,
    #[serde(default)]
    topics: Vec<String>,
    #[serde(default)]
    event_kind: Option<String>,
}

/// One written text (`tests/fixtures/labels/written/*.jsonl`, `tests/fixtures/heldout/
/// written-d.jsonl`): its fields and labels on one line; other fields (author, style, note) are
/// ignored.
#[derive(Debug, Deserialize)]
struct WrittenLine {
    id: String,
    #[serde(default)]
    kicker: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    subtitle: String,
    text: String,
    safety: bool,
    #[serde(default)]
    topics: Vec<String>,
    #[serde(default)]
    event_kind: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CorpusLine {
    id: String,
    text: String,
}

#[derive(Debug, Deserialize)]
struct TruthFile {
    page_file: String,
    articles: Vec<TruthEntry>,
}

#[derive(Debug, Deserialize)]
struct TruthEntry {
    id: String,
    kind: String,
    kicker: Option<String>,
    title: Option<String>,
    subtitle: Option<String>,
    first_chars: Option<String>,
    last_chars: Option<String>,
    safety: bool,
    #[serde(default)]
    topics: Vec<String>,
    event_kind: Option<String>,
}

fn gold(id: &str, safety: bool, topics: &[String], kind: Option<&str>) -> anyhow::Result<Gold> {
    let topics = topics
        .iter()
        .map(|t| Topic::parse(t).with_context(|| format!("{id}: unknown topic {t}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let event_kind = kind
        .map(|k| EventKind::parse(k).with_context(|| format!("{id}: unknown event kind {k}")))
        .transpose()?;
    Ok(Gold {
        safety,
        topics,
        event_kind,
    })
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// Builds an [`Article`] from a crawler file's text: line 1 kicker, line 2 headline,
/// line 3 subtitle, then paragraphs.
pub fn article_from_crawler(text: &str) -> Article {
    let mut lines = text.lines();
    let kicker = lines.next().and_then(non_empty);
    let title = lines.next().and_then(non_empty);
    let subtitle = lines.next().and_then(non_empty);
    let paragraphs: Vec<String> = lines.filter_map(non_empty).collect();
    make_article(kicker, title, subtitle, paragraphs, ItemKind::Article)
}

fn make_article(
    kicker: Option<String>,
    title: Option<String>,
    subtitle: Option<String>,
    paragraphs: Vec<String>,
    kind: ItemKind,
) -> Article {
    Article {
        kicker,
        subtitle,
        ..Article::new(kind, title, paragraphs)
    }
}

/// Reads a JSON-lines file into `T`s, skipping blank lines; errors name the file and line.
fn read_jsonl<T: serde::de::DeserializeOwned>(file: &Path) -> anyhow::Result<Vec<T>> {
    let content =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    content
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(no, line)| {
            serde_json::from_str(line).with_context(|| format!("{}:{}", file.display(), no + 1))
        })
        .collect()
}

/// Reads corpus files (JSON lines with `id` and `text`); keeps the ids `wanted` accepts.
pub fn read_corpus(
    files: &[PathBuf],
    wanted: impl Fn(&str) -> bool,
) -> anyhow::Result<HashMap<String, String>> {
    let mut texts = HashMap::new();
    for file in files {
        for item in read_jsonl::<CorpusLine>(file)? {
            if wanted(&item.id) {
                texts.insert(item.id, item.text);
            }
        }
    }
    Ok(texts)
}

/// Reads a labels file and joins it with the corpus; a label without corpus text is an error.
pub fn load_labels(labels: &Path, corpus: &[PathBuf]) -> anyhow::Result<Vec<Labelled>> {
    let lines: Vec<LabelLine> = read_jsonl(labels)?;
    let ids: HashSet<&str> = lines.iter().map(|l| l.id.as_str()).collect();
    let texts = read_corpus(corpus, |id| ids.contains(id))?;
    lines
        .iter()
        .map(|l| {
            let text = texts
                .get(&l.id)
                .with_context(|| format!("label {} has no text in the corpus files", l.id))?;
            Ok(Labelled {
                id: l.id.clone(),
                article: article_from_crawler(text),
                gold: gold(&l.id, l.safety, &l.topics, l.event_kind.as_deref())?,
                written: false,
            })
        })
        .collect()
}

/// Reads written texts (JSON lines with `id`, `kicker`, `title`, `subtitle`, `text` — paragraphs
/// separated by line breaks — and the labels), in file order.
pub fn load_written(files: &[PathBuf]) -> anyhow::Result<Vec<Labelled>> {
    let mut out = Vec::new();
    for file in files {
        for w in read_jsonl::<WrittenLine>(file)? {
            let paragraphs: Vec<String> = w.text.lines().filter_map(non_empty).collect();
            out.push(Labelled {
                gold: gold(&w.id, w.safety, &w.topics, w.event_kind.as_deref())?,
                article: make_article(
                    non_empty(&w.kicker),
                    non_empty(&w.title),
                    non_empty(&w.subtitle),
                    paragraphs,
                    ItemKind::Article,
                ),
                id: w.id,
                written: true,
            });
        }
    }
    Ok(out)
}

/// The corpus month of a labelled article (`YYYYMM`, from ids `YYYYMMDD-PAGE-ITEM`), if its id
/// has one.
pub fn month(id: &str) -> Option<&str> {
    let head = id.get(..8)?;
    (head.bytes().all(|b| b.is_ascii_digit()) && id.as_bytes().get(8) == Some(&b'-'))
        .then(|| &id[..6])
}

/// A text with its whitespace removed, remembering where each kept character was.
struct Squashed {
    chars: Vec<char>,
    byte_at: Vec<usize>,
}

impl Squashed {
    fn new(text: &str) -> Squashed {
        let (byte_at, chars) = text
            .char_indices()
            .filter(|(_, c)| !c.is_whitespace())
            .unzip();
        Squashed { chars, byte_at }
    }

    fn find(&self, needle: &str, from: usize) -> Option<usize> {
        let needle: Vec<char> = needle.chars().filter(|c| !c.is_whitespace()).collect();
        if needle.is_empty() || from > self.chars.len() {
            return None;
        }
        self.chars[from..]
            .windows(needle.len())
            .position(|w| w == needle.as_slice())
            .map(|p| p + from)
    }
}

/// The `*.json` files of `dir` (truth files), sorted by name.
pub fn json_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    Ok(files)
}

/// Reads every `*.json` truth file of `dir` and cuts each entry with a body out of its page
/// (the page file is resolved relative to `dir`'s parent, as in the data set). Returns the
/// entries and the ids that could not be found in their page.
pub fn load_truth(dir: &Path) -> anyhow::Result<(Vec<Labelled>, Vec<String>)> {
    let files = json_files(dir)?;
    let base = dir.parent().unwrap_or(dir);
    let mut out = Vec::new();
    let mut missing = Vec::new();
    for file in files {
        let truth: TruthFile = serde_json::from_str(
            &std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?,
        )
        .with_context(|| format!("parsing {}", file.display()))?;
        let page_path = base.join(&truth.page_file);
        let page = std::fs::read_to_string(&page_path)
            .with_context(|| format!("reading {}", page_path.display()))?;
        let squashed = Squashed::new(&page);
        let mut cursor = 0;
        for e in &truth.articles {
            let (Some(first), Some(last)) = (&e.first_chars, &e.last_chars) else {
                continue;
            };
            let found = squashed
                .find(first, cursor)
                .or_else(|| squashed.find(first, 0))
                .and_then(|start| {
                    let end = squashed.find(last, start)? + last.chars().count();
                    Some((start, end))
                });
            let Some((start, end)) = found else {
                missing.push(e.id.clone());
                continue;
            };
            cursor = end;
            let from = squashed.byte_at[start];
            let to = squashed
                .byte_at
                .get(end)
                .copied()
                .unwrap_or(page.len())
                .min(page.len());
            let body = page.get(from..to).unwrap_or_default();
            let paragraphs: Vec<String> = body.lines().filter_map(non_empty).collect();
            let kind = match e.kind.as_str() {
                "brief" => ItemKind::Brief,
                "photo" => ItemKind::Photo,
                _ => ItemKind::Article,
            };
            out.push(Labelled {
                id: e.id.clone(),
                article: make_article(
                    e.kicker.clone(),
                    e.title.clone(),
                    e.subtitle.clone(),
                    paragraphs,
                    kind,
                ),
                gold: gold(&e.id, e.safety, &e.topics, e.event_kind.as_deref())?,
                written: false,
            });
        }
    }
    Ok((out, missing))
}

/// Every labelled article of a set of sources, and the truth entries that were not found.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// The labelled articles, labels files first, then truth directories, in file order.
    pub articles: Vec<Labelled>,
    /// Per truth directory, the ids of entries whose text is not in their page.
    pub missing: Vec<(PathBuf, Vec<String>)>,
}

/// Loads every source the classifier commands accept: labels joined with the corpus, and
/// truth directories. No article at all is an error.
pub fn load_all(
    labels: &[PathBuf],
    corpus: &[PathBuf],
    truth: &[PathBuf],
) -> anyhow::Result<Dataset> {
    let mut all = Dataset::default();
    for l in labels {
        all.articles.extend(load_labels(l, corpus)?);
    }
    for dir in truth {
        let (entries, missing) = load_truth(dir)?;
        if !missing.is_empty() {
            all.missing.push((dir.clone(), missing));
        }
        all.articles.extend(entries);
    }
    anyhow::ensure!(
        !all.articles.is_empty(),
        "no labelled articles (give --labels or --truth)"
    );
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crawler_file_splits_into_kicker_headline_subtitle_and_paragraphs() {
        let a = article_from_crawler(
            "\r\n标题\r\n\r\n\u{3000}\u{3000}第一段。\r\n\u{3000}\r\n第二段。\r\n",
        );
        assert_eq!(a.kicker, None);
        assert_eq!(a.title.as_deref(), Some("标题"));
        assert_eq!(a.subtitle, None);
        assert_eq!(a.paragraphs, vec!["第一段。", "第二段。"]);
        assert_eq!(a.text, "第一段。\n第二段。");
    }

    #[test]
    fn corpus_ids_have_a_month_and_others_do_not() {
        assert_eq!(month("20190201-01-04"), Some("201902"));
        assert_eq!(month("w-a-0090"), None);
        assert_eq!(month("seed-01"), None);
        assert_eq!(month("2019"), None);
    }

    #[test]
    fn squashed_search_ignores_whitespace_and_maps_back_to_bytes() {
        let s = Squashed::new("甲 乙\n丙丁 戊");
        let start = s.find("乙丙", 0).expect("found across a line break");
        assert_eq!(s.byte_at[start], "甲 ".len());
        assert_eq!(s.find("乙丙", start + 1), None);
    }
}
