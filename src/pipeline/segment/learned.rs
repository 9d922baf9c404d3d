//! The learned part of the segmenter: two regularised logistic models over the *structure* of
//! a page, fitted by `pagesift-dev train-segmenter` on pages generated from the corpus
//! (`tests/tools/make_pages.py`, both months, every layout, with damage) and shipped as
//! `config/segmenter.json`.
//!
//! - **boundary**: whether a headline run that follows body text starts a new item (rather
//!   than being an in-article subhead, a prompt block or a deck). Features: the run's line
//!   count and lengths, punctuation, column tags, byline and lead patterns before and after,
//!   what the item so far looks like, the bigram cohesion of the text before and after
//!   ([`super::cohesion`]) and the rule segmenter's own answer.
//! - **join**: whether two neighbouring headline lines are one headline printed on two lines
//!   (`市教育局：全市中小学` / `暑期一律不得组织有偿补课`) rather than kicker and title, title
//!   and subtitle. Features: whether a dictionary word runs across the line break, whether the
//!   first line is a finished phrase (ends with a mark, closes a bracket), lengths.
//!
//! - **heads** (optional): the headline-run labeller of [`super::labeller`], which then
//!   parses headline runs instead of the join model and the two-line shape model.
//!
//! All give probabilities; an item's [`confidence`](crate::model::Article::confidence) is
//! the product of the probabilities of the decisions that made it (its start, the runs it
//! absorbed, its end, its headline joins), mapped through a Platt calibration fitted on
//! pages the weights were not fitted on.
//!
//! No weight is a word: every feature is a shape, a mark or a score. The fit is deterministic
//! (Newton's method on the L2-penalised log-likelihood, examples in page order).

use serde::{Deserialize, Serialize};

use super::shape::{has_column_tag, is_cjk, visible_len};

/// Errors loading a segmenter model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The JSON does not parse or has unknown fields.
    #[error("segmenter model does not parse: {0}")]
    Parse(#[from] serde_json::Error),
    /// The model's feature list is not the one this build computes.
    #[error("segmenter model {part}: features {found:?} differ from this build's {expected:?}")]
    Features {
        /// `boundary` or `join`.
        part: &'static str,
        /// The model's list.
        found: Vec<String>,
        /// This build's list.
        expected: Vec<&'static str>,
    },
    /// A weight or calibration parameter is not finite.
    #[error("segmenter model {0}: a weight is not finite")]
    NotFinite(&'static str),
    /// The headline labeller has other labels, features or table shapes than this build's,
    /// or a weight that is not finite.
    #[error("segmenter model heads: {0:?}")]
    Heads(super::labeller::Mismatch),
}

/// A logistic model: one weight per named feature (the first feature is the constant 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Logistic {
    /// Feature names, in the order the code computes them.
    pub features: Vec<String>,
    /// One weight per feature.
    pub weights: Vec<f64>,
}

impl Logistic {
    /// The probability of the positive class for feature vector `x`.
    pub fn prob(&self, x: &[f64]) -> f64 {
        let z: f64 = self.weights.iter().zip(x).map(|(w, v)| w * v).sum();
        sigmoid(z)
    }

    fn check(&self, part: &'static str, expected: &[&'static str]) -> Result<(), ModelError> {
        if self.features.len() != expected.len()
            || self.weights.len() != expected.len()
            || self.features.iter().zip(expected).any(|(a, b)| a != b)
        {
            return Err(ModelError::Features {
                part,
                found: self.features.clone(),
                expected: expected.to_vec(),
            });
        }
        if self.weights.iter().any(|w| !w.is_finite()) {
            return Err(ModelError::NotFinite(part));
        }
        Ok(())
    }
}

/// Platt scaling of an item's raw confidence: `sigmoid(a * logit(raw) + b)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Platt {
    /// Slope on the raw log-odds.
    pub a: f64,
    /// Intercept.
    pub b: f64,
}

impl Platt {
    /// The identity mapping.
    pub const IDENTITY: Platt = Platt { a: 1.0, b: 0.0 };

    /// The calibrated probability of a raw one.
    pub fn apply(&self, raw: f64) -> f64 {
        sigmoid(self.a * logit(raw) + self.b)
    }
}

/// The segmenter model file (`config/segmenter.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// Version string, written into every event (`pipeline.segmenter`).
    pub version: String,
    /// How the model was made (the training command and its data), for people.
    #[serde(default)]
    pub trained_on: String,
    /// Does a headline run after body text start a new item?
    pub boundary: Logistic,
    /// Are two neighbouring headline lines one wrapped headline?
    pub join: Logistic,
    /// Calibration of the item confidence.
    pub calibration: Platt,
    /// The headline-run labeller ([`super::labeller`]); absent: the two-line shape model and
    /// the join model parse headline runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heads: Option<super::labeller::Labeller>,
    /// The item-confidence model: the probability that an item's boundaries and title are
    /// right from its decision probabilities and shape ([`confidence_features`]), fitted on
    /// pages the other weights were not fitted on; absent: `calibration` of the product of
    /// the decision probabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Logistic>,
}

/// The model shipped with the build (`config/segmenter.json`).
pub const BUILTIN: &str = include_str!("../../../config/segmenter.json");

impl Model {
    /// Parses and checks a model file.
    pub fn from_json(text: &str) -> Result<Model, ModelError> {
        let model: Model = serde_json::from_str(text)?;
        model.boundary.check("boundary", BOUNDARY_FEATURES)?;
        model.join.check("join", JOIN_FEATURES)?;
        if !(model.calibration.a.is_finite() && model.calibration.b.is_finite()) {
            return Err(ModelError::NotFinite("calibration"));
        }
        if let Some(c) = &model.confidence {
            c.check("confidence", CONFIDENCE_FEATURES)?;
        }
        if let Some(h) = &model.heads {
            h.check().map_err(ModelError::Heads)?;
        }
        Ok(model)
    }

    /// The model embedded in the build (`config/segmenter.json` at build time); `None` only if
    /// that file does not load, which a unit test rules out.
    pub fn builtin() -> Option<&'static Model> {
        static MODEL: std::sync::OnceLock<Option<Model>> = std::sync::OnceLock::new();
        MODEL
            .get_or_init(|| Model::from_json(BUILTIN).ok())
            .as_ref()
    }
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Log-odds, with the probability kept off 0 and 1.
pub fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-6, 1.0 - 1e-6);
    (p / (1.0 - p)).ln()
}

/// What the segmenter knows when it meets a headline run after body text: facts about the
/// run, the item so far and what follows, gathered by the caller.
#[derive(Debug, Clone, Default)]
pub struct RunFacts<'a> {
    /// The run's non-empty lines.
    pub lines: Vec<&'a str>,
    /// An inline lead opens the next paragraph.
    pub lead_next: bool,
    /// An inline lead opens the paragraph after one deck paragraph.
    pub lead_after_deck: bool,
    /// A photo caption with its credit follows.
    pub caption_next: bool,
    /// A credit line follows.
    pub credit_next: bool,
    /// No body paragraph follows (another run, or the end of the page).
    pub no_para_next: bool,
    /// Visible characters of the next paragraph (0 if none).
    pub next_para_chars: usize,
    /// The current item was closed by a credit or a photo credit.
    pub cur_ended: bool,
    /// The current item has a headline.
    pub cur_titled: bool,
    /// Paragraphs of the current item so far.
    pub cur_paras: usize,
    /// Visible characters of the current item so far.
    pub cur_chars: usize,
    /// The current item opens with a summary box and is still within its first paragraphs.
    pub in_box: bool,
    /// The current item's last paragraph ends a sentence.
    pub prev_complete: bool,
    /// Cosine of bigram counts between the item so far and the run with what follows.
    pub cohesion: f64,
    /// The rule segmenter's answer.
    pub rule_new: bool,
    /// A dictionary word runs across one of the run's line breaks.
    pub word_across: bool,
    /// The paragraph after the run is a byline line.
    pub next_byline: bool,
    /// The paragraph after the run opens with a quotation mark.
    pub next_starts_quote: bool,
    /// The current item's first paragraph opens with an inline lead (a news item).
    pub cur_lead: bool,
    /// Headline runs the current item has already taken in as subheads.
    pub inner_runs: usize,
    /// Visible characters of the first line of the last run taken in as a subhead (0: none).
    pub last_inner_len: usize,
    /// Visible characters of the current item's last paragraph.
    pub prev_chars: usize,
    /// The current item's last paragraph ends with a closing bracket (a run-on credit).
    pub prev_ends_bracket: bool,
}

/// Names of the boundary features, in the order of [`boundary_features`].
pub const BOUNDARY_FEATURES: &[&str] = &[
    "bias",
    "lines=1",
    "lines=2",
    "lines>=3",
    "first<=4",
    "first<=8",
    "first<=12",
    "first<=18",
    "first>18",
    "last<=4",
    "last<=8",
    "last<=12",
    "last<=18",
    "last>18",
    "comma",
    "first_ends_dash_colon",
    "dash_subtitle",
    "column_tag",
    "sidebar_tag",
    "byline_last",
    "name_last",
    "lone_name",
    "couplet",
    "shorter_second",
    "lead_next",
    "lead_after_deck",
    "caption_next",
    "credit_next",
    "no_para_next",
    "next<60",
    "next<200",
    "cur_ended",
    "cur_titled",
    "cur_paras<=1",
    "cur_paras<=3",
    "cur_paras<=8",
    "cur_chars<150",
    "cur_chars<400",
    "cur_chars<1000",
    "in_box",
    "prev_complete",
    "cohesion",
    "cohesion<0.02",
    "cohesion<0.05",
    "cohesion<0.08",
    "cohesion<0.15",
    "cohesion<0.3",
    "rule_new",
    "first_ends_cry",
    "digits",
    "quotes",
    "word_across",
    "all_short",
    "next_byline",
    "next_starts_quote",
    "cur_lead",
    "inner_runs>=1",
    "inner_runs>=3",
    "same_len_as_inner",
    "prev<40",
    "prev_ends_bracket",
    "first_ends_cjk",
    "last_ends_cjk",
    "unclosed",
    "colon_inside",
    "run_chars<=10",
    "run_chars<=20",
    "run_chars>30",
    "lines=1&prev_complete",
    "lines=1&cohesion<0.08",
    "lines=1&cur_paras>8",
    "lines>=2&prev_complete",
    "lines>=2&cohesion<0.08",
    "!prev_complete&cohesion<0.08",
    "cur_paras>=15",
    "next>=400",
    "inner_runs>=1&lines=1",
    "cur_lead&lines=1",
];

fn flag(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// Length buckets ≤4, ≤8, ≤12, ≤18, >18 as five indicators.
fn len_buckets(n: usize) -> [f64; 5] {
    let mut out = [0.0; 5];
    let k = match n {
        0..=4 => 0,
        5..=8 => 1,
        9..=12 => 2,
        13..=18 => 3,
        _ => 4,
    };
    out[k] = 1.0;
    out
}

/// The boundary feature vector of a run (see [`BOUNDARY_FEATURES`]).
pub fn boundary_features(f: &RunFacts<'_>) -> Vec<f64> {
    use super::byline::{is_bare_name, is_byline_line};
    use super::shape::{has_sidebar_tag, is_label_shape};
    let lines = &f.lines;
    let n = lines.len();
    let first = lines.first().copied().unwrap_or_default();
    let last = lines.last().copied().unwrap_or_default();
    let couplet = match lines.as_slice() {
        [label, a, b] if is_label_shape(label) => Some((*a, *b)),
        [a, b] => Some((*a, *b)),
        _ => None,
    }
    .is_some_and(|(a, b)| visible_len(a) == visible_len(b) && visible_len(a) <= 8);
    let shorter_second =
        matches!(lines.as_slice(), [a, b] if visible_len(b) <= visible_len(a) && !is_bare_name(b));
    let mut x = Vec::with_capacity(BOUNDARY_FEATURES.len());
    x.push(1.0);
    x.extend([flag(n == 1), flag(n == 2), flag(n >= 3)]);
    x.extend(len_buckets(visible_len(first)));
    x.extend(len_buckets(visible_len(last)));
    x.push(flag(lines.iter().any(|l| l.contains(['，', ',']))));
    x.push(flag(first.trim_end().ends_with(['—', '：', ':'])));
    x.push(flag(lines.iter().skip(1).any(|l| l.starts_with('—'))));
    x.push(flag(lines.iter().any(|l| has_column_tag(l))));
    x.push(flag(n == 1 && has_sidebar_tag(first)));
    x.push(flag(is_byline_line(last)));
    x.push(flag(n >= 2 && is_bare_name(last)));
    x.push(flag(n == 1 && is_bare_name(first)));
    x.push(flag(couplet));
    x.push(flag(shorter_second));
    x.extend([
        flag(f.lead_next),
        flag(f.lead_after_deck),
        flag(f.caption_next),
        flag(f.credit_next),
        flag(f.no_para_next),
        flag(!f.no_para_next && f.next_para_chars < 60),
        flag(!f.no_para_next && f.next_para_chars < 200),
        flag(f.cur_ended),
        flag(f.cur_titled),
        flag(f.cur_paras <= 1),
        flag(f.cur_paras <= 3),
        flag(f.cur_paras <= 8),
        flag(f.cur_chars < 150),
        flag(f.cur_chars < 400),
        flag(f.cur_chars < 1000),
        flag(f.in_box),
        flag(f.prev_complete),
        f.cohesion.clamp(0.0, 1.0),
        flag(f.cohesion < 0.02),
        flag(f.cohesion < 0.05),
        flag(f.cohesion < 0.08),
        flag(f.cohesion < 0.15),
        flag(f.cohesion < 0.3),
        flag(f.rule_new),
    ]);
    x.push(flag(
        first.trim_end().ends_with(['！', '？', '!', '?', '”', '"']),
    ));
    x.push(flag(lines.iter().any(|l| {
        l.chars()
            .any(|c| c.is_ascii_digit() || ('０'..='９').contains(&c))
    })));
    x.push(flag(lines.iter().any(|l| l.contains(['“', '”', '"']))));
    x.push(flag(f.word_across));
    x.push(flag(lines.iter().all(|l| visible_len(l) <= 20)));
    let ends_cjk = |l: &str| l.trim_end().chars().next_back().is_some_and(is_cjk);
    let run_chars: usize = lines.iter().map(|l| visible_len(l)).sum();
    let low = f.cohesion < 0.08;
    x.extend([
        flag(f.next_byline),
        flag(f.next_starts_quote),
        flag(f.cur_lead),
        flag(f.inner_runs >= 1),
        flag(f.inner_runs >= 3),
        flag(f.last_inner_len > 0 && f.last_inner_len == visible_len(first)),
        flag(f.prev_chars < 40),
        flag(f.prev_ends_bracket),
        flag(ends_cjk(first)),
        flag(ends_cjk(last)),
        flag(lines.iter().any(|l| super::shape::unclosed(l))),
        flag(lines.iter().any(|l| {
            l.trim_end()
                .trim_end_matches(['：', ':'])
                .contains(['：', ':'])
        })),
        flag(run_chars <= 10),
        flag(run_chars <= 20),
        flag(run_chars > 30),
        flag(n == 1 && f.prev_complete),
        flag(n == 1 && low),
        flag(n == 1 && f.cur_paras > 8),
        flag(n >= 2 && f.prev_complete),
        flag(n >= 2 && low),
        flag(!f.prev_complete && low),
        flag(f.cur_paras >= 15),
        flag(!f.no_para_next && f.next_para_chars >= 400),
        flag(f.inner_runs >= 1 && n == 1),
        flag(f.cur_lead && n == 1),
    ]);
    x
}

/// Names of the join features, in the order of [`join_features`].
pub const JOIN_FEATURES: &[&str] = &[
    "bias",
    "word_across",
    "cjk_junction",
    "a_ends_mark",
    "a_ends_colon_dash",
    "a_closes_bracket",
    "a_has_comma",
    "b_starts_dash",
    "b_column_tag",
    "a_column_tag",
    "a<=6",
    "a<=10",
    "a<=14",
    "b<=6",
    "b<=10",
    "b<=14",
    "a>=b",
    "sum<=24",
    "b_opens_bracket",
    "b_is_name_or_byline",
    "a_space",
    "b_space",
    "a_digit_end",
    "b_ends_mark",
];

/// The join feature vector of headline line `a` over line `b` (see [`JOIN_FEATURES`]); `words`
/// tells whether a string is a dictionary word.
pub fn join_features(a: &str, b: &str, words: &dyn Fn(&str) -> bool) -> Vec<f64> {
    use super::byline::{is_bare_name, is_byline_line};
    let a = a.trim();
    let b = b.trim();
    let (la, lb) = (visible_len(a), visible_len(b));
    let a_end = a.chars().next_back();
    let b_start = b.chars().next();
    let mut x = Vec::with_capacity(JOIN_FEATURES.len());
    x.push(1.0);
    x.push(flag(super::units::word_across(a, b, words)));
    x.push(flag(
        a_end.is_some_and(is_cjk) && b_start.is_some_and(is_cjk),
    ));
    x.push(flag(matches!(
        a_end,
        Some('。' | '！' | '？' | '!' | '?' | '”' | '"' | '…')
    )));
    x.push(flag(matches!(a_end, Some('：' | ':' | '—'))));
    x.push(flag(matches!(a_end, Some('）' | ')' | '》' | '】'))));
    x.push(flag(a.contains(['，', ','])));
    x.push(flag(b.starts_with('—')));
    x.push(flag(has_column_tag(b)));
    x.push(flag(has_column_tag(a)));
    x.extend([flag(la <= 6), flag(la <= 10), flag(la <= 14)]);
    x.extend([flag(lb <= 6), flag(lb <= 10), flag(lb <= 14)]);
    x.push(flag(la >= lb));
    x.push(flag(la + lb <= 24));
    x.push(flag(b.starts_with(['（', '(', '《', '【'])));
    x.push(flag(is_bare_name(b) || is_byline_line(b)));
    x.push(flag(a.contains(' ')));
    x.push(flag(b.contains(' ')));
    x.push(flag(a_end.is_some_and(|c| c.is_ascii_digit())));
    x.push(flag(matches!(
        b.chars().next_back(),
        Some('。' | '！' | '？' | '!' | '?' | '”' | '"')
    )));
    x
}

/// What the segmenter knows about an item when it is built, besides the item itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct ItemFacts {
    /// Log-probability of the decision that opened the item (0: none was asked).
    pub log_start: f64,
    /// Log-probability of the decisions that kept headline runs inside it.
    pub log_inner: f64,
    /// Log-probability of the decision that opened the next item.
    pub log_end: f64,
    /// Log-probability of the headline parse (labeller or joins).
    pub log_heads: f64,
    /// Lines of the item's headline run.
    pub run_lines: usize,
    /// The page's first item.
    pub first: bool,
    /// The page's last item.
    pub last: bool,
}

/// Names of the item-confidence features, in the order of [`confidence_features`].
pub const CONFIDENCE_FEATURES: &[&str] = &[
    "bias",
    "log_start",
    "log_inner",
    "log_end",
    "log_heads",
    "start_asked",
    "end_asked",
    "heads<0.5",
    "heads<0.8",
    "heads<0.95",
    "run=0",
    "run=1",
    "run=2",
    "run>=3",
    "untitled",
    "photo",
    "brief",
    "chars<50",
    "chars<200",
    "chars<1000",
    "chars>=3000",
    "paragraphs=1",
    "paragraphs<=3",
    "byline",
    "dateline",
    "trailing_credit",
    "kicker",
    "subtitle",
    "section",
    "first",
    "last",
    "title<=4",
    "title>=30",
    "title_ends_mark",
];

/// The item-confidence feature vector of an item (see [`CONFIDENCE_FEATURES`]).
pub fn confidence_features(f: &ItemFacts, a: &crate::model::Article) -> Vec<f64> {
    use crate::model::ItemKind;
    let heads = f.log_heads.exp();
    let title = a.title.as_deref().unwrap_or_default();
    let tl = visible_len(title);
    let c = a.char_count;
    let lp = |v: f64| v.clamp(-20.0, 0.0);
    vec![
        1.0,
        lp(f.log_start),
        lp(f.log_inner),
        lp(f.log_end),
        lp(f.log_heads),
        flag(f.log_start != 0.0),
        flag(f.log_end != 0.0),
        flag(heads < 0.5),
        flag(heads < 0.8),
        flag(heads < 0.95),
        flag(f.run_lines == 0),
        flag(f.run_lines == 1),
        flag(f.run_lines == 2),
        flag(f.run_lines >= 3),
        flag(a.title.is_none()),
        flag(a.kind == ItemKind::Photo),
        flag(a.kind == ItemKind::Brief),
        flag(c < 50),
        flag(c < 200),
        flag(c < 1000),
        flag(c >= 3000),
        flag(a.paragraphs.len() == 1),
        flag(a.paragraphs.len() <= 3),
        flag(a.byline.is_some()),
        flag(a.dateline.is_some()),
        flag(a.trailing_credit.is_some()),
        flag(a.kicker.is_some()),
        flag(a.subtitle.is_some()),
        flag(a.section.is_some()),
        flag(f.first),
        flag(f.last),
        flag(tl > 0 && tl <= 4),
        flag(tl >= 30),
        flag(title.trim_end().ends_with(['。', '！', '？', '!', '?'])),
    ]
}

/// Options of [`fit`].
#[derive(Debug, Clone, Copy)]
pub struct FitOptions {
    /// L2 penalty on every weight but the bias, per example.
    pub l2: f64,
    /// Newton iterations.
    pub iterations: usize,
}

impl Default for FitOptions {
    fn default() -> FitOptions {
        FitOptions {
            l2: 1e-3,
            iterations: 25,
        }
    }
}

/// Fits a logistic model to `(features, label)` pairs by Newton's method on the L2-penalised
/// mean log-likelihood (the bias, feature 0, is not penalised). Deterministic.
pub fn fit(examples: &[(Vec<f64>, bool)], dim: usize, opts: FitOptions) -> Vec<f64> {
    let mut w = vec![0.0; dim];
    if examples.is_empty() {
        return w;
    }
    let n = examples.len() as f64;
    for _ in 0..opts.iterations {
        let mut grad = vec![0.0; dim];
        let mut hess = vec![vec![0.0; dim]; dim];
        for (x, y) in examples {
            let z: f64 = w.iter().zip(x).map(|(a, b)| a * b).sum();
            let p = sigmoid(z);
            let r = p - f64::from(u8::from(*y));
            let s = (p * (1.0 - p)).max(1e-9);
            for i in 0..dim {
                if x[i] == 0.0 {
                    continue;
                }
                grad[i] += r * x[i];
                for j in 0..dim {
                    hess[i][j] += s * x[i] * x[j];
                }
            }
        }
        for i in 0..dim {
            grad[i] /= n;
            hess[i].iter_mut().for_each(|h| *h /= n);
            if i > 0 {
                grad[i] += opts.l2 * w[i];
                hess[i][i] += opts.l2;
            }
            // Keeps the system solvable when a feature never fires.
            hess[i][i] += 1e-9;
        }
        let Some(mut step) = solve(hess, grad) else {
            break;
        };
        // A damped step: Newton's method can overshoot from far away.
        let largest = step.iter().fold(0.0f64, |m, s| m.max(s.abs()));
        if largest > MAX_STEP {
            step.iter_mut().for_each(|s| *s *= MAX_STEP / largest);
        }
        let mut moved = 0.0f64;
        for i in 0..dim {
            w[i] -= step[i];
            moved = moved.max(step[i].abs());
        }
        if moved < 1e-8 {
            break;
        }
    }
    w
}

/// Largest change of one weight in one Newton step.
const MAX_STEP: f64 = 4.0;

/// Solves `a x = b` by Gaussian elimination with partial pivoting.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for c in 0..n {
        let p = (c..n).max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))?;
        if a[p][c].abs() < 1e-15 {
            return None;
        }
        a.swap(c, p);
        b.swap(c, p);
        let (top, rest) = a.split_at_mut(c + 1);
        let pivot = &top[c];
        for (k, row) in rest.iter_mut().enumerate() {
            let f = row[c] / pivot[c];
            if f == 0.0 {
                continue;
            }
            for (x, p) in row[c..].iter_mut().zip(&pivot[c..]) {
                *x -= f * p;
            }
            b[c + 1 + k] -= f * b[c];
        }
    }
    let mut x = vec![0.0; n];
    for c in (0..n).rev() {
        let s: f64 = (c + 1..n).map(|k| a[c][k] * x[k]).sum();
        x[c] = (b[c] - s) / a[c][c];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// Fits a Platt calibration to `(raw confidence, right)` pairs.
pub fn fit_platt(pairs: &[(f64, bool)]) -> Platt {
    let examples: Vec<(Vec<f64>, bool)> = pairs
        .iter()
        .map(|&(p, y)| (vec![1.0, logit(p)], y))
        .collect();
    let w = fit(
        &examples,
        2,
        FitOptions {
            l2: 0.0,
            iterations: 50,
        },
    );
    if w.iter().all(|v| v.is_finite()) && w[1] > 0.0 {
        Platt { a: w[1], b: w[0] }
    } else {
        Platt::IDENTITY
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_model_loads_and_matches_the_features() {
        let m = Model::builtin().expect("config/segmenter.json loads");
        assert_eq!(m.boundary.features.len(), BOUNDARY_FEATURES.len());
        assert_eq!(m.join.features.len(), JOIN_FEATURES.len());
        assert_eq!(
            boundary_features(&RunFacts::default()).len(),
            BOUNDARY_FEATURES.len()
        );
        assert_eq!(
            join_features("甲乙", "丙丁", &|_| false).len(),
            JOIN_FEATURES.len()
        );
        let article = crate::model::Article {
            index: 0,
            kind: crate::model::ItemKind::Brief,
            section: None,
            kicker: None,
            title: Some("标题".to_owned()),
            subtitle: None,
            byline: None,
            dateline: None,
            paragraphs: vec!["正文。".to_owned()],
            text: "正文。".to_owned(),
            captions: Vec::new(),
            trailing_credit: None,
            char_count: 3,
            confidence: 1.0,
        };
        let x = confidence_features(&ItemFacts::default(), &article);
        assert_eq!(x.len(), CONFIDENCE_FEATURES.len());
        if let Some(c) = &m.confidence {
            assert!((0.0..=1.0).contains(&c.prob(&x)));
        }
    }

    #[test]
    fn a_model_with_other_features_or_unknown_fields_is_refused() {
        let m = Model::builtin().expect("builtin").clone();
        let mut bad = m.clone();
        bad.join.features.pop();
        bad.join.weights.pop();
        let text = serde_json::to_string(&bad).expect("serialises");
        assert!(matches!(
            Model::from_json(&text),
            Err(ModelError::Features { part: "join", .. })
        ));
        let mut v = serde_json::to_value(&m).expect("value");
        v["extra"] = serde_json::json!(1);
        assert!(matches!(
            Model::from_json(&v.to_string()),
            Err(ModelError::Parse(_))
        ));
    }

    #[test]
    fn fitting_separates_a_learnable_rule_and_platt_keeps_order() {
        // y = x1 or (x2 and not x3), with noise-free data.
        let mut ex = Vec::new();
        for k in 0..64u32 {
            let (a, b, c) = (k & 1 == 1, k & 2 == 2, k & 4 == 4);
            let x = vec![1.0, flag(a), flag(b), flag(c)];
            ex.push((x, a || (b && !c)));
        }
        let w = fit(&ex, 4, FitOptions::default());
        let right = ex
            .iter()
            .filter(|(x, y)| (w.iter().zip(x).map(|(a, b)| a * b).sum::<f64>() > 0.0) == *y)
            .count();
        assert_eq!(right, 64, "{w:?}");
        let platt = fit_platt(&[
            (0.9, true),
            (0.8, true),
            (0.7, false),
            (0.3, false),
            (0.6, true),
        ]);
        assert!(platt.apply(0.9) > platt.apply(0.3));
        assert!((Platt::IDENTITY.apply(0.42) - 0.42).abs() < 1e-9);
    }
}
