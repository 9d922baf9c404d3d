//! Segmentation scores against hand-made truth files (`truth/FORMAT.md`), for `pagesift-dev eval`
//! and the golden tests.
//!
//! # Scoring
//!
//! - **boundary**: a truth entry with a body is found when an emitted item's body (paragraphs,
//!   whitespace removed) starts with its `first_chars` and ends with its `last_chars`; each item
//!   matches at most one entry. Precision = found / items emitted, recall = found / entries.
//!   An untitled photo entry is also found by a caption attached to an item (`captions`), which
//!   the truth allows.
//! - **strict**: found *and* the title equals the entry's title (whitespace squashed; both
//!   null counts as equal).
//! - **titles**: emitted non-null titles against the entries' non-null titles (as multisets).
//! - **bylines**: among found entries, the share whose printed byline equals the item's
//!   `byline.raw`, or its `trailing_credit` (whole or its first line) when the paper
//!   prints the credit at the end (whitespace squashed; both null counts as equal).
//! - **heads**: among found entries, the share whose kicker, title and subtitle all equal the
//!   entry's (whitespace squashed; both null counts as equal).
//! - **reliability**: each emitted item is *right* when it is a strict hit; with its
//!   `confidence` this gives the calibration table of `eval --reliability`.
//! - **sections**: truth entries of kind `section` have no body and are not items; they are
//!   expected as the `section` label of an emitted item (or, for a banner, its `kicker`) and
//!   reported as found / expected. A section entry that does have a body counts as an item too.
//!
//! Classifier metrics are added by [`super::classifier`]: see [`EvalReport::classifier`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::model::Article;

/// A truth file (the parts segmentation is scored on).
#[derive(Debug, Clone, Deserialize)]
pub struct TruthPage {
    /// Page file, relative to the data set (`pages/seed.txt`).
    #[serde(default)]
    pub page_file: Option<String>,
    /// Entries in page order.
    pub articles: Vec<TruthEntry>,
}

/// One truth entry.
#[derive(Debug, Clone, Deserialize)]
pub struct TruthEntry {
    /// Stable id (`seed-04`).
    pub id: String,
    /// `article`, `brief`, `photo` or `section`.
    pub kind: String,
    /// The headline as printed.
    #[serde(default)]
    pub title: Option<String>,
    /// The kicker as printed.
    #[serde(default)]
    pub kicker: Option<String>,
    /// The subtitle as printed.
    #[serde(default)]
    pub subtitle: Option<String>,
    /// The byline as printed.
    #[serde(default)]
    pub byline: Option<String>,
    /// First 20 body characters, whitespace removed.
    #[serde(default)]
    pub first_chars: Option<String>,
    /// Last 20 body characters, whitespace removed.
    #[serde(default)]
    pub last_chars: Option<String>,
}

/// Precision, recall and F1 of one measure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Prf {
    /// Correct findings.
    pub hits: usize,
    /// Findings emitted.
    pub emitted: usize,
    /// Findings expected.
    pub expected: usize,
    /// hits / emitted.
    pub precision: f64,
    /// hits / expected.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
}

impl Prf {
    /// Computes the ratios from the counts (an empty side scores 1).
    pub fn new(hits: usize, emitted: usize, expected: usize) -> Prf {
        let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
        let (precision, recall) = (ratio(hits, emitted), ratio(hits, expected));
        let f1 = super::f1(precision, recall);
        Prf {
            hits,
            emitted,
            expected,
            precision,
            recall,
            f1,
        }
    }

    fn add(self, other: Prf) -> Prf {
        Prf::new(
            self.hits + other.hits,
            self.emitted + other.emitted,
            self.expected + other.expected,
        )
    }
}

/// Scores of one page.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PageScore {
    /// Page name.
    pub page: String,
    /// Article boundaries.
    pub boundary: Prf,
    /// Boundaries and title.
    pub strict: Prf,
    /// Titles.
    pub titles: Prf,
    /// Bylines right among found entries.
    pub bylines_right: usize,
    /// Found entries (the byline denominator).
    pub bylines_total: usize,
    /// Found entries whose kicker, title and subtitle are all right.
    pub heads_right: usize,
    /// Section labels found.
    pub sections_found: usize,
    /// Section labels expected.
    pub sections_expected: usize,
    /// Ids of truth entries not found.
    pub missed: Vec<String>,
    /// Ids of found entries whose title is wrong, with the title emitted.
    pub wrong_titles: Vec<String>,
    /// Ids of found entries whose byline is wrong, with the byline emitted.
    pub wrong_bylines: Vec<String>,
    /// Items that matched no entry (index and the start of their body).
    pub extra: Vec<String>,
    /// Per emitted item: its confidence and whether it is a strict hit.
    #[serde(skip)]
    pub items: Vec<(f64, bool)>,
}

/// The whole evaluation.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EvalReport {
    /// Per page, in name order.
    pub pages: Vec<PageScore>,
    /// All pages together (micro-averaged).
    pub overall: PageScore,
    /// Classifier metrics, filled by the classifier's evaluation module when it runs
    /// (`--labels`); `None` from segmentation alone.
    pub classifier: Option<serde_json::Value>,
}

fn squash_opt(s: Option<&str>) -> Option<String> {
    s.map(crate::pipeline::segment::shape::squash)
        .filter(|s| !s.is_empty())
}

fn body_of(item: &Article) -> String {
    crate::pipeline::segment::shape::squash(&item.paragraphs.concat())
}

fn byline_matches(truth: Option<&str>, item: &Article) -> bool {
    let want = squash_opt(truth);
    let raw = squash_opt(item.byline.as_ref().map(|b| b.raw.as_str()));
    let tc = item.trailing_credit.as_deref();
    let tc_first = tc.and_then(|t| t.lines().next());
    match want {
        None => raw.is_none(),
        Some(w) => [raw, squash_opt(tc), squash_opt(tc_first)]
            .into_iter()
            .any(|c| c.as_deref() == Some(w.as_str())),
    }
}

/// Scores one page's items against its truth.
pub fn score_page(name: &str, truth: &TruthPage, items: &[Article]) -> PageScore {
    let bodies: Vec<String> = items.iter().map(body_of).collect();
    let mut used = vec![false; items.len()];
    let mut right = vec![false; items.len()];
    let mut score = PageScore {
        page: name.to_owned(),
        ..PageScore::default()
    };
    let (mut found, mut strict, mut expected, mut caption_hits) = (0, 0, 0, 0);
    for entry in &truth.articles {
        let (Some(first), Some(last)) = (
            squash_opt(entry.first_chars.as_deref()),
            squash_opt(entry.last_chars.as_deref()),
        ) else {
            // A section label: expected on an item.
            score.sections_expected += 1;
            let label = squash_opt(entry.title.as_deref());
            if items.iter().any(|a| {
                squash_opt(a.section.as_deref()) == label
                    || squash_opt(a.kicker.as_deref()) == label
            }) {
                score.sections_found += 1;
            }
            continue;
        };
        expected += 1;
        let hit = (0..items.len())
            .find(|&i| !used[i] && bodies[i].starts_with(&first) && bodies[i].ends_with(&last));
        let want_title = squash_opt(entry.title.as_deref());
        match hit {
            Some(i) => {
                used[i] = true;
                found += 1;
                let got_title = squash_opt(items[i].title.as_deref());
                if got_title == want_title
                    && squash_opt(items[i].kicker.as_deref()) == squash_opt(entry.kicker.as_deref())
                    && squash_opt(items[i].subtitle.as_deref())
                        == squash_opt(entry.subtitle.as_deref())
                {
                    score.heads_right += 1;
                }
                if got_title == want_title {
                    strict += 1;
                    right[i] = true;
                } else {
                    score.wrong_titles.push(format!(
                        "{}: {:?}",
                        entry.id,
                        items[i].title.as_deref().unwrap_or("")
                    ));
                }
                score.bylines_total += 1;
                if byline_matches(entry.byline.as_deref(), &items[i]) {
                    score.bylines_right += 1;
                } else {
                    score.wrong_bylines.push(format!(
                        "{}: {:?} / {:?}",
                        entry.id,
                        items[i].byline.as_ref().map(|b| b.raw.as_str()),
                        items[i].trailing_credit
                    ));
                }
            }
            None => {
                let caption = entry.kind == "photo"
                    && want_title.is_none()
                    && items.iter().any(|a| {
                        a.captions.iter().any(|c| {
                            let t = crate::pipeline::segment::shape::squash(&c.text);
                            t.starts_with(&first) && t.ends_with(&last)
                        })
                    });
                if caption {
                    found += 1;
                    strict += 1;
                    caption_hits += 1;
                } else {
                    score.missed.push(entry.id.clone());
                }
            }
        }
    }
    for (i, item) in items.iter().enumerate() {
        if !used[i] {
            let start: String = bodies[i].chars().take(16).collect();
            score.extra.push(format!(
                "#{i} {:?} {start}",
                item.title.as_deref().unwrap_or("")
            ));
        }
    }
    score.items = items
        .iter()
        .zip(&right)
        .map(|(a, &r)| (a.confidence, r))
        .collect();
    // An attached caption that stands for a photo entry counts as an emitted unit.
    let emitted = items.len() + caption_hits;
    score.boundary = Prf::new(found, emitted, expected);
    score.strict = Prf::new(strict, emitted, expected);
    let mut want: HashMap<String, usize> = HashMap::new();
    for e in truth.articles.iter().filter(|e| e.first_chars.is_some()) {
        if let Some(t) = squash_opt(e.title.as_deref()) {
            *want.entry(t).or_default() += 1;
        }
    }
    let expected_titles = want.values().sum();
    let mut emitted_titles = 0;
    let mut title_hits = 0;
    for t in items.iter().filter_map(|a| squash_opt(a.title.as_deref())) {
        emitted_titles += 1;
        if let Some(n) = want.get_mut(&t).filter(|n| **n > 0) {
            *n -= 1;
            title_hits += 1;
        }
    }
    score.titles = Prf::new(title_hits, emitted_titles, expected_titles);
    score
}

/// Adds the pages' counts into an overall score.
pub fn overall(pages: &[PageScore]) -> PageScore {
    let mut all = PageScore {
        page: "overall".to_owned(),
        ..PageScore::default()
    };
    for p in pages {
        all.boundary = all.boundary.add(p.boundary);
        all.strict = all.strict.add(p.strict);
        all.titles = all.titles.add(p.titles);
        all.bylines_right += p.bylines_right;
        all.bylines_total += p.bylines_total;
        all.heads_right += p.heads_right;
        all.items.extend_from_slice(&p.items);
        all.sections_found += p.sections_found;
        all.sections_expected += p.sections_expected;
    }
    all
}

/// One row of a reliability table: items whose confidence falls in `[lo, hi)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Reliability {
    /// Lower bound of the bin.
    pub lo: f64,
    /// Upper bound of the bin (1 is included in the last bin).
    pub hi: f64,
    /// Items in the bin.
    pub items: usize,
    /// Of them, strict hits.
    pub right: usize,
    /// Mean confidence in the bin.
    pub mean_confidence: f64,
}

/// The reliability table by decile of confidence of `(confidence, right)` pairs.
pub fn reliability(items: &[(f64, bool)]) -> Vec<Reliability> {
    (0..10)
        .map(|d| {
            let (lo, hi) = (f64::from(d) / 10.0, f64::from(d + 1) / 10.0);
            let bin: Vec<&(f64, bool)> = items
                .iter()
                .filter(|(c, _)| *c >= lo && (*c < hi || (d == 9 && *c <= hi)))
                .collect();
            let n = bin.len();
            Reliability {
                lo,
                hi,
                items: n,
                right: bin.iter().filter(|(_, r)| *r).count(),
                mean_confidence: if n == 0 {
                    0.0
                } else {
                    bin.iter().map(|(c, _)| c).sum::<f64>() / n as f64
                },
            }
        })
        .collect()
}

/// What [`evaluate_with`] scores.
#[derive(Debug, Clone, Default)]
pub struct EvalOptions {
    /// Only truth files whose name starts with one of these prefixes (all when empty).
    pub only: Vec<String>,
    /// Segment by the rules alone (the baseline), not with the pipeline's model.
    pub rules: bool,
}

/// Scores every truth file in `truth_dir` against its page in `pages_dir`.
pub fn evaluate(
    pipeline: &crate::pipeline::Pipeline,
    pages_dir: &Path,
    truth_dir: &Path,
) -> anyhow::Result<EvalReport> {
    evaluate_with(pipeline, pages_dir, truth_dir, &EvalOptions::default())
}

/// [`evaluate`] with options.
pub fn evaluate_with(
    pipeline: &crate::pipeline::Pipeline,
    pages_dir: &Path,
    truth_dir: &Path,
    options: &EvalOptions,
) -> anyhow::Result<EvalReport> {
    let mut pages = Vec::new();
    for path in crate::dataset::json_files(truth_dir)? {
        let stem = crate::page_file::page_id_of(&path);
        if !options.only.is_empty() && !options.only.iter().any(|p| stem.starts_with(p.as_str())) {
            continue;
        }
        let raw = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let truth: TruthPage = serde_json::from_str(&raw)
            .with_context(|| format!("parsing truth file {}", path.display()))?;
        let page_name = truth
            .page_file
            .as_deref()
            .and_then(|f| Path::new(f).file_name().map(|n| n.to_owned()))
            .map_or_else(|| format!("{stem}.txt").into(), PathBuf::from);
        let page_path = pages_dir.join(page_name);
        let bytes = std::fs::read(&page_path)
            .with_context(|| format!("reading {}", page_path.display()))?;
        let text = crate::pipeline::input::decode_text(&bytes, None)
            .with_context(|| format!("decoding {}", page_path.display()))?;
        let items = if options.rules {
            let jieba = pipeline.jieba();
            let normalized = crate::pipeline::normalize::normalize(&text);
            crate::pipeline::segment::segment_with(&normalized, &|w| jieba.has_word(w), None)
        } else {
            pipeline
                .segment(&text)
                .with_context(|| format!("segmenting {}", page_path.display()))?
        };
        pages.push(score_page(&stem, &truth, &items));
    }
    let overall = overall(&pages);
    Ok(EvalReport {
        pages,
        overall,
        classifier: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Caption, ItemKind};

    fn item(title: Option<&str>, body: &[&str]) -> Article {
        let paragraphs: Vec<String> = body.iter().map(|s| (*s).to_owned()).collect();
        Article::new(ItemKind::Article, title.map(str::to_owned), paragraphs)
    }

    fn truth() -> TruthPage {
        serde_json::from_value(serde_json::json!({
            "articles": [
                {"id": "p-01", "kind": "section", "title": "政务动态"},
                {"id": "p-02", "kind": "brief", "title": "甲", "first_chars": "一二", "last_chars": "三四"},
                {"id": "p-03", "kind": "article", "title": "乙", "first_chars": "五六", "last_chars": "七八"},
                {"id": "p-04", "kind": "photo", "title": null, "first_chars": "图说", "last_chars": "图说"}
            ]
        }))
        .expect("truth")
    }

    #[test]
    fn a_perfect_segmentation_scores_one_everywhere() {
        let mut first = item(Some("甲"), &["一二 三", "四"]);
        first.section = Some("政务动态".to_owned());
        let mut second = item(Some("乙"), &["五六七八"]);
        second.captions.push(Caption {
            text: "图说".to_owned(),
            credit: None,
        });
        let s = score_page("p", &truth(), &[first, second]);
        assert_eq!(s.boundary.f1, 1.0, "{s:?}");
        assert_eq!(s.strict.f1, 1.0);
        assert_eq!(s.sections_found, 1);
        assert!(s.missed.is_empty());
    }

    #[test]
    fn two_articles_run_together_lose_both_boundaries() {
        let merged = item(Some("甲"), &["一二三四", "乙", "五六七八"]);
        let s = score_page("p", &truth(), &[merged]);
        assert_eq!(s.boundary.hits, 0);
        assert_eq!(s.missed, vec!["p-02", "p-03", "p-04"]);
        assert_eq!(s.sections_found, 0);
    }

    #[test]
    fn the_reliability_table_bins_by_decile_and_counts_hits() {
        let rows = reliability(&[(0.95, true), (1.0, false), (0.05, false), (0.55, true)]);
        assert_eq!(rows.len(), 10);
        assert_eq!((rows[9].items, rows[9].right), (2, 1));
        assert_eq!((rows[0].items, rows[0].right), (1, 0));
        assert_eq!((rows[5].items, rows[5].right), (1, 1));
        assert!((rows[9].mean_confidence - 0.975).abs() < 1e-9);
    }

    #[test]
    fn a_wrong_title_keeps_the_boundary_but_not_the_strict_score() {
        let a = item(Some("丙"), &["一二三四"]);
        let b = item(Some("乙"), &["五六七八"]);
        let photo = item(None, &["图说"]);
        let s = score_page("p", &truth(), &[a, b, photo]);
        assert_eq!(s.boundary.hits, 3);
        assert_eq!(s.strict.hits, 2);
        assert_eq!(s.wrong_titles.len(), 1);
    }
}
