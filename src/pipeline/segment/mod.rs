//! Article segmentation: a normalised page in, its items (articles, briefs, photos) out, in
//! page order.
//!
//! # How
//!
//! 1. [`units`] reads the layout (blank-line blocks or indented raw dump), classifies lines by
//!    shape (headline-block lines are short and do not end a sentence), repairs column breaks
//!    (a paragraph that stops mid-sentence continues in the next body block) and lifts
//!    displaced headline blocks out of the paragraph they landed in.
//! 2. [`segment`] walks the units. A headline run starts a new item unless it is an
//!    in-article subhead; the decision uses layout cues first (an inline lead after it, a
//!    byline line, a column tag, a kicker dash, a credit that closed the previous item, three
//!    or more lines, the indented layout) and lexical cohesion ([`cohesion`]) when they run out.
//! 3. A displaced headline opens an article whose start lies before it: the last paragraph
//!    opening with an inline lead, else the weakest cohesion cut.
//! 4. Each item's headline run is parsed into section, kicker, title, subtitle and byline
//!    (with a learned model in the blocks layout: by the line labeller of [`labeller`]);
//!    inline leads, trailing credits, photo credits and captions are split off by the
//!    [`byline`] grammar.
//!
//! # Nothing is lost
//!
//! Every non-whitespace character of the input lands in exactly one of: `section` (counted on
//! the first item of a run of items carrying the same label; a repeated identical label is
//! taken as a kicker instead, so runs never merge), `kicker`, `title`, `subtitle`,
//! `byline.raw` (which keeps inline leads whole), `paragraphs`, `captions` (text and credit),
//! `trailing_credit` (several credits joined with a newline). `dateline` is a *copy* of text in
//! `byline.raw` or in the first paragraph and is not counted. A label at the very end of a
//! page with nothing after it becomes a title-only item.

pub mod byline;
pub mod cohesion;
pub mod fit;
pub mod heads;
pub mod labeller;
pub mod learned;
pub mod shape;
pub mod units;

use self::byline::{
    is_bare_name, is_byline_line, is_photo_credit, parse_byline, split_lead, split_run_on_credit,
    split_trailing_credit,
};
use self::cohesion::{Counts, Window, weakest_cut};
use self::learned::{Model, RunFacts};
use self::shape::{
    has_column_tag, has_sidebar_tag, is_box_label, is_label_shape, is_space, squashed, visible_len,
};
use self::units::{Layout, Para, Unit};
use super::normalize::Normalized;
use crate::model::{Article, Caption, ItemKind};

/// Paragraphs compared on a side of a cut: after a headline run, around a displaced start.
const COHESION_WINDOW: usize = 3;
/// Paragraphs of the current item compared with those after a headline run: a feature's
/// topic is spread over its whole body, not only its last paragraphs.
const BEFORE_WINDOW: usize = 24;
/// Most paragraphs of an article that may come before its displaced headline block.
const MAX_PARAS_BEFORE_DISPLACED: usize = 3;
/// Below this cosine between the paragraphs before and after a bare headline run (CJK
/// bigram counts, see [`cohesion`]), the run starts a new article. On the development pages
/// the new articles that reach this test scored at most 0.038 and the in-article subheads at
/// least 0.18: the threshold sits near the geometric middle of that gap, and it is where the
/// fewest decisions go wrong on the corpus decision set of [`cohesion::terms`] weighted by
/// how often each kind reaches this test on the development pages (about 1 new article in 4).
const NEW_ARTICLE_BELOW: f64 = 0.08;
/// Longest line of a subhead couplet (two parallel lines of equal length).
const COUPLET_CHARS: usize = 8;
/// Paragraphs after a summary box (`核心阅读`) within which a headline run is taken for the
/// feature's first subhead: such boxes head long features.
const BOX_LEAD_PARAS: usize = 8;
/// Longest body (characters) of an item that can still be a photo with its caption.
const MAX_PHOTO_CHARS: usize = 400;
/// Items without an inline lead whose body is shorter than this are briefs.
const MAX_BRIEF_CHARS: usize = 300;
/// Longest item (characters) a column label carries over to.
const MAX_SECTION_ITEM_CHARS: usize = 1200;
/// Prefixes of a caption that points at a photo of the article it sits in.
const PHOTO_POINTERS: &[&str] = &[
    "下图", "上图", "左图", "右图", "图为", "图①", "图一", "题图", "中图",
];

/// An item being assembled.
#[derive(Debug, Clone, Default)]
struct Draft {
    run: Vec<String>,
    paras: Vec<Para>,
    captions: Vec<Caption>,
    credits: Vec<String>,
    photo_credit: Option<String>,
    ended: bool,
    /// Log-probability that the boundary opening this item is right (0 when no learned
    /// decision made it).
    log_start: f64,
    /// Log-probability that the headline runs this item absorbed as subheads are right.
    log_inner: f64,
    /// Headline runs this item absorbed as subheads.
    inner_runs: usize,
    /// Visible characters of the first line of the last run it absorbed.
    last_inner_len: usize,
}

impl Draft {
    fn with_run(run: Vec<String>) -> Draft {
        Draft {
            run,
            ..Draft::default()
        }
    }

    fn has_title(&self) -> bool {
        self.run.iter().any(|l| !l.is_empty())
    }

    fn body_chars(&self) -> usize {
        self.paras.iter().map(|p| visible_len(&p.text)).sum()
    }
}

fn is_pointer_caption(text: &str) -> bool {
    PHOTO_POINTERS.iter().any(|p| text.starts_with(p))
}

/// Where a caption line with its photo credit goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CaptionPlace {
    /// The body of the current (titled, short) photo item.
    PhotoBody,
    /// A caption of a photo printed with the current article (`下图：…`).
    ArticleCaption,
    /// An untitled photo item of its own.
    NewPhoto,
}

/// Whether the headline run at `units[k]` starts a new item after `cur`.
fn starts_new_item(
    units: &[Unit],
    k: usize,
    lines: &[String],
    cur: &Draft,
    layout: Layout,
    sim: &mut dyn FnMut() -> f64,
) -> bool {
    if cur.ended || layout == Layout::Indented || cur.paras.is_empty() {
        return true;
    }
    let lines: Vec<&String> = lines.iter().filter(|l| !l.is_empty()).collect();
    let Some(last) = lines.last() else {
        return false;
    };
    // An inline lead right after the run, or after one deck paragraph, opens a news item.
    let lead_at =
        |i: usize| matches!(units.get(i), Some(Unit::Para(p)) if split_lead(&p.text).is_some());
    if lead_at(k + 1) || (matches!(units.get(k + 1), Some(Unit::Para(_))) && lead_at(k + 2)) {
        return true;
    }
    // A photo: a title over a caption with its credit.
    if matches!(units.get(k + 1), Some(Unit::Caption { .. })) {
        return true;
    }
    // A sidebar (`…（记者手记）`) belongs to the article above it.
    if let [line] = lines.as_slice()
        && has_sidebar_tag(line)
    {
        return false;
    }
    // Two short lines of equal length (`精准研判震情` / `打好预报基础`) are a subhead couplet,
    // also under a short label (`现在` / `有路标、好查找` / `建立开放联盟`).
    let couplet = match lines.as_slice() {
        [label, a, b] if is_label_shape(label) => Some((a, b)),
        [a, b] => Some((a, b)),
        _ => None,
    };
    if let Some((a, b)) = couplet {
        let (la, lb) = (visible_len(a), visible_len(b));
        if la == lb && la <= COUPLET_CHARS && !has_column_tag(b) {
            return false;
        }
    }
    // A kicker over a shorter headline (`中央芭蕾舞团建团以来不断推出精品剧目` / `立起足尖
    // 触摸顶尖`); an in-article subhead pair is a short head over a longer deck.
    if let [a, b] = lines.as_slice()
        && visible_len(b) <= visible_len(a)
        && !is_bare_name(b)
    {
        return true;
    }
    if lines.len() >= 3
        || lines.iter().skip(1).any(|l| l.starts_with('—'))
        || lines.iter().any(|l| has_column_tag(l))
        || is_byline_line(last)
        || (lines.len() >= 2 && is_bare_name(last))
    {
        return true;
    }
    // A name alone after the text and before something other than text (the next headline,
    // a credit) signs the letter or essay above it.
    if let [name] = lines.as_slice()
        && is_bare_name(name)
        && units
            .get(k + 1)
            .is_some_and(|u| !matches!(u, Unit::Para(_)))
    {
        return false;
    }
    // With no layout cue left, a clause pair (`田园乡村建设，统筹城乡发展`) is an in-article
    // subhead: headlines without a cue are rarely two clauses.
    if lines.iter().any(|l| l.contains(['，', ','])) {
        return false;
    }
    // A summary box (`核心阅读` and its text) is followed by the article's own text.
    if cur.paras.first().is_some_and(|p| is_box_label(&p.text)) && cur.paras.len() <= BOX_LEAD_PARAS
    {
        return false;
    }
    // Cohesion: the item's text so far against the paragraphs after.
    sim() < NEW_ARTICLE_BELOW
}

/// Cosine of the bigram counts of the current item's text so far (its last
/// [`BEFORE_WINDOW`] paragraphs) and of the run at `units[k]` with the paragraphs after it.
fn run_cohesion(
    units: &[Unit],
    k: usize,
    lines: &[String],
    cur: &Draft,
    item: usize,
    before: &mut Window,
) -> f64 {
    let before = before.sync(
        item,
        cur.paras.iter().map(|p| p.text.as_str()),
        BEFORE_WINDOW,
    );
    let mut after = Vec::new();
    for u in units[k + 1..]
        .iter()
        .take_while(|u| matches!(u, Unit::Para(_)))
        .take(COHESION_WINDOW)
    {
        if let Unit::Para(p) = u {
            cohesion::terms(&p.text, &mut after);
        }
    }
    // The run's own words count on the after side: a subhead names what the article is about.
    for l in lines.iter().filter(|l| !l.is_empty()) {
        cohesion::terms(l, &mut after);
    }
    before.cosine(&Counts::of(&after))
}

/// The join model with the dictionary its features read.
type Joiner<'a> = Option<(&'a Model, &'a dyn Fn(&str) -> bool)>;

/// Who decides whether a headline run after body text starts a new item.
enum Decider<'a> {
    /// The rules of [`starts_new_item`].
    Rules,
    /// The learned boundary model (blocks layout; the indented layout keeps the rules).
    Model(&'a Model),
    /// Training: the oracle's answer for the run's lines is followed (the rules' where
    /// it has none) and every answered decision is recorded with its features.
    Record {
        oracle: &'a mut dyn FnMut(&[&str]) -> Option<bool>,
        out: &'a mut Vec<(Vec<f64>, bool)>,
    },
}

/// The facts the boundary model reads about the run at `units[k]`.
#[allow(clippy::too_many_arguments)]
fn run_facts<'a>(
    units: &[Unit],
    k: usize,
    lines: &'a [String],
    cur: &Draft,
    sim: f64,
    rule_new: bool,
    words: &dyn Fn(&str) -> bool,
) -> RunFacts<'a> {
    let lines: Vec<&str> = lines
        .iter()
        .filter(|l| !l.is_empty())
        .map(String::as_str)
        .collect();
    let lead_at =
        |i: usize| matches!(units.get(i), Some(Unit::Para(p)) if split_lead(&p.text).is_some());
    let next_para = match units.get(k + 1) {
        Some(Unit::Para(p)) => Some(p),
        _ => None,
    };
    let word_across = lines
        .windows(2)
        .any(|w| units::word_across(w[0], w[1], words));
    RunFacts {
        lead_next: lead_at(k + 1),
        lead_after_deck: next_para.is_some() && lead_at(k + 2),
        caption_next: matches!(units.get(k + 1), Some(Unit::Caption { .. })),
        credit_next: matches!(units.get(k + 1), Some(Unit::Credit(_))),
        no_para_next: next_para.is_none(),
        next_para_chars: next_para.map_or(0, |p| visible_len(&p.text)),
        cur_ended: cur.ended,
        cur_titled: cur.has_title(),
        cur_paras: cur.paras.len(),
        cur_chars: cur.body_chars(),
        in_box: cur.paras.first().is_some_and(|p| is_box_label(&p.text))
            && cur.paras.len() <= BOX_LEAD_PARAS,
        prev_complete: cur
            .paras
            .last()
            .is_some_and(|p| shape::ends_complete(&p.text)),
        cohesion: sim,
        rule_new,
        word_across,
        next_byline: next_para.is_some_and(|p| is_byline_line(&p.text)),
        next_starts_quote: next_para.is_some_and(|p| p.text.trim_start().starts_with(['“', '"'])),
        cur_lead: cur
            .paras
            .first()
            .is_some_and(|p| split_lead(&p.text).is_some()),
        inner_runs: cur.inner_runs,
        last_inner_len: cur.last_inner_len,
        prev_chars: cur.paras.last().map_or(0, |p| visible_len(&p.text)),
        prev_ends_bracket: cur
            .paras
            .last()
            .is_some_and(|p| p.text.trim_end().ends_with(['）', ')'])),
        lines,
    }
}

/// Groups the units into item drafts.
fn group(
    units: Vec<Unit>,
    layout: Layout,
    words: &dyn Fn(&str) -> bool,
    decider: &mut Decider<'_>,
) -> Vec<Draft> {
    let mut drafts: Vec<Draft> = Vec::new();
    // The current item's last paragraphs, counted for cohesion.
    let mut before = Window::default();
    for k in 0..units.len() {
        match &units[k] {
            Unit::Run(lines) => {
                if lines.iter().all(String::is_empty) {
                    continue;
                }
                let (new, p_new) = match drafts.last() {
                    None => (true, None),
                    Some(cur) => decide(
                        &units,
                        k,
                        lines,
                        cur,
                        drafts.len(),
                        layout,
                        &mut before,
                        words,
                        decider,
                    ),
                };
                if new {
                    let mut d = Draft::with_run(lines.clone());
                    d.log_start = p_new.map_or(0.0, f64::ln);
                    drafts.push(d);
                } else if let Some(cur) = drafts.last_mut() {
                    cur.log_inner += p_new.map_or(0.0, |p| (1.0 - p).ln());
                    cur.inner_runs += 1;
                    cur.last_inner_len = lines
                        .iter()
                        .find(|l| !l.is_empty())
                        .map_or(0, |l| visible_len(l));
                    cur.paras
                        .extend(lines.iter().filter(|l| !l.is_empty()).map(|l| Para {
                            text: l.clone(),
                            ..Para::default()
                        }));
                }
            }
            Unit::Para(p) => {
                // A paragraph opening with an inline lead but no headline above it belongs to a
                // round-up of briefs (`速览`) — unless a displaced headline says otherwise,
                // which `place_displaced` handles. A paragraph after a credit line continues
                // the item (a photo credit printed inside an article).
                let new = drafts.is_empty()
                    || (drafts
                        .last()
                        .is_some_and(|d| closed_by_credit(&units, k, d))
                        && opens_after_credit(&units, k));
                if new {
                    drafts.push(Draft::default());
                }
                if let Some(cur) = drafts.last_mut() {
                    cur.paras.push(p.clone());
                }
            }
            Unit::Credit(t) => {
                if drafts.is_empty() {
                    drafts.push(Draft::default());
                }
                if let Some(cur) = drafts.last_mut() {
                    cur.credits.push(t.clone());
                    cur.ended = true;
                }
            }
            Unit::Caption { text, credit } => {
                let place = match drafts.last() {
                    Some(cur)
                        if !cur.ended
                            && cur.has_title()
                            && cur.photo_credit.is_none()
                            && cur.body_chars() <= MAX_PHOTO_CHARS / 2 =>
                    {
                        // The caption is the body (or its last lines) of a titled photo item.
                        CaptionPlace::PhotoBody
                    }
                    Some(cur) if !cur.ended && is_pointer_caption(text) => {
                        CaptionPlace::ArticleCaption
                    }
                    _ => CaptionPlace::NewPhoto,
                };
                if place == CaptionPlace::NewPhoto {
                    drafts.push(Draft::default());
                }
                if let Some(cur) = drafts.last_mut() {
                    if place == CaptionPlace::ArticleCaption {
                        cur.captions.push(Caption {
                            text: text.clone(),
                            credit: Some(credit.clone()),
                        });
                    } else {
                        cur.paras.push(Para {
                            text: text.clone(),
                            ..Para::default()
                        });
                        cur.photo_credit = Some(credit.clone());
                        cur.ended = true;
                    }
                }
            }
        }
    }
    drafts
}

/// Whether the unit before `units[k]` closed `cur`: a credit, a photo credit or closing
/// furniture printed after the item's text. Then a headline run at `k` starts the next item
/// whatever the boundary model reads (on the generated pages of both corpus months, 14 of
/// about 1,300 runs right after a credit are not a new item's headline; the model still sees
/// these runs when it is fitted, and its probability still counts in the item's confidence).
/// A credit under a headline with no text yet (a jump line, `（上接第1版）`) closes nothing.
fn closed_by_credit(units: &[Unit], k: usize, cur: &Draft) -> bool {
    let after_credit = k
        .checked_sub(1)
        .and_then(|i| units.get(i))
        .is_some_and(|u| matches!(u, Unit::Credit(_) | Unit::Caption { .. }));
    cur.ended && after_credit && !cur.paras.is_empty()
}

/// Layout cues that settle a boundary whatever the boundary model reads: the item before was
/// closed by a credit (`closed`, [`closed_by_credit`]), or an inline lead (`本报北京10月1日电`)
/// opens the paragraph right after the run. On the generated pages of both corpus months
/// every one of the 2,191 headline runs followed by a lead starts an item.
fn settled_new(facts: &RunFacts<'_>, closed: bool) -> bool {
    closed || facts.lead_next
}

/// Whether the paragraph at `units[k]`, after an item closed by a credit, opens the next item:
/// its headline block was displaced into it or into one of the next paragraphs (a headline
/// lands in the first column of its article). A paragraph after a credit with no such block
/// continues the item (a photo credit printed inside an article).
fn opens_after_credit(units: &[Unit], k: usize) -> bool {
    units[k..]
        .iter()
        .take_while(|u| matches!(u, Unit::Para(_)))
        .take(MAX_PARAS_BEFORE_DISPLACED + 1)
        .any(|u| matches!(u, Unit::Para(p) if !p.displaced.is_empty()))
}

/// Whether the run at `units[k]` starts a new item after `cur`, and the learned probability
/// that it does (`None` when no learned decision was made).
#[allow(clippy::too_many_arguments)]
fn decide(
    units: &[Unit],
    k: usize,
    lines: &[String],
    cur: &Draft,
    item: usize,
    layout: Layout,
    before: &mut Window,
    words: &dyn Fn(&str) -> bool,
    decider: &mut Decider<'_>,
) -> (bool, Option<f64>) {
    let forced = layout == Layout::Indented || cur.paras.is_empty();
    if forced || matches!(decider, Decider::Rules) {
        let mut sim = || run_cohesion(units, k, lines, cur, item, before);
        return (
            starts_new_item(units, k, lines, cur, layout, &mut sim),
            None,
        );
    }
    let sim = run_cohesion(units, k, lines, cur, item, before);
    let rule_new = starts_new_item(units, k, lines, cur, layout, &mut || sim);
    let facts = run_facts(units, k, lines, cur, sim, rule_new, words);
    let x = learned::boundary_features(&facts);
    match decider {
        Decider::Rules => (rule_new, None),
        Decider::Model(m) => {
            // Kept off 0 and 1 so an item's log-confidence stays finite.
            let p = m.boundary.prob(&x).clamp(1e-6, 1.0 - 1e-6);
            (
                p >= 0.5 || settled_new(&facts, closed_by_credit(units, k, cur)),
                Some(p),
            )
        }
        Decider::Record { oracle, out } => match oracle(&facts.lines) {
            Some(y) => {
                out.push((x, y));
                (y, None)
            }
            None => (rule_new, None),
        },
    }
}

/// Splits drafts at the true start of articles whose headline block was displaced into one of
/// their paragraphs.
fn place_displaced(drafts: Vec<Draft>) -> Vec<Draft> {
    let mut out = Vec::with_capacity(drafts.len());
    let mut queue: std::collections::VecDeque<Draft> = drafts.into();
    while let Some(mut d) = queue.pop_front() {
        let Some(j) = d.paras.iter().position(|p| !p.displaced.is_empty()) else {
            out.push(d);
            continue;
        };
        let displaced = std::mem::take(&mut d.paras[j].displaced);
        let start = if !d.has_title() {
            0
        } else if let Some(p) = (1..=j)
            .rev()
            .find(|&p| split_lead(&d.paras[p].text).is_some())
        {
            p
        } else if j == 0 {
            0
        } else {
            let end = (j + COHESION_WINDOW).min(d.paras.len());
            let texts: Vec<&str> = d.paras[..end].iter().map(|p| p.text.as_str()).collect();
            // The headline block lands in the first column of its article: a few paragraphs
            // after the true start at most.
            let lo = j.saturating_sub(MAX_PARAS_BEFORE_DISPLACED).max(1);
            weakest_cut(&texts, lo, j, COHESION_WINDOW).unwrap_or(j)
        };
        if start == 0 && !d.has_title() {
            d.run = displaced;
            queue.push_front(d);
            continue;
        }
        if start == 0 {
            // Headline-shaped lines inside the first paragraph of a titled item are not its
            // displaced headline (that would leave the item with no text of its own): they are
            // decks or pull quotes printed over the text. Put the paragraph back as it was
            // printed: its first part, the lines, the rest.
            let first = d.paras.remove(0);
            let at = first.displaced_at;
            let parts = [first.text.get(..at), first.text.get(at..)];
            let mut paras: Vec<Para> = Vec::with_capacity(displaced.len() + 2);
            let mut push = |text: &str| {
                if !text.trim().is_empty() {
                    paras.push(Para {
                        text: text.trim().to_owned(),
                        ..Para::default()
                    });
                }
            };
            match parts {
                [Some(head), Some(tail)] => {
                    push(head);
                    displaced.iter().for_each(|t| push(t));
                    push(tail);
                }
                _ => {
                    displaced.iter().for_each(|t| push(t));
                    push(&first.text);
                }
            }
            paras.append(&mut d.paras);
            d.paras = paras;
            queue.push_front(d);
            continue;
        }
        let tail = d.paras.split_off(start);
        let moved = Draft {
            run: displaced,
            paras: tail,
            captions: std::mem::take(&mut d.captions),
            credits: std::mem::take(&mut d.credits),
            photo_credit: d.photo_credit.take(),
            ended: d.ended,
            ..Draft::default()
        };
        d.ended = false;
        out.push(d);
        queue.push_front(moved);
    }
    out
}

/// The parsed headline block of an item.
#[derive(Debug, Default)]
struct Head {
    section: Option<String>,
    kicker: Option<String>,
    title: Option<String>,
    subtitle: Option<String>,
    byline: Option<String>,
    /// Lines of the run that are body text (box labels and what follows, repeated decks).
    body: Vec<String>,
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// Assigns kicker, title and subtitle to one to three headline lines; `lead_first`: the text
/// opens with an inline lead.
fn assign_kts(head: &mut Head, mut lines: Vec<String>, lead_first: bool) {
    match lines.len() {
        0 => {}
        1 => head.title = lines.pop(),
        2 => {
            let b = lines.pop().unwrap_or_default();
            let a = lines.pop().unwrap_or_default();
            // Marks decide first: a dash subtitle, a kicker ending in a dash or colon, a
            // column tag on the second line (it closes the title); the shape model after.
            let pair = if b.starts_with('—') {
                heads::Pair::TitleSubtitle
            } else if a.ends_with(['—', '：', ':']) || has_column_tag(&b) {
                heads::Pair::KickerTitle
            } else {
                heads::classify(&a, &b, lead_first)
            };
            match pair {
                heads::Pair::KickerTitle => {
                    head.kicker = Some(a);
                    head.title = Some(b);
                }
                heads::Pair::TitleSubtitle => {
                    head.title = Some(a);
                    head.subtitle = Some(b);
                }
                heads::Pair::TitleBody => {
                    head.title = Some(a);
                    head.body.insert(0, b);
                }
            }
        }
        _ => {
            // The title: a line with a column tag, else the line before a dash subtitle,
            // else the line after a kicker ending in a dash or colon, else the second line.
            let n = lines.len();
            let t = lines
                .iter()
                .position(|l| has_column_tag(l))
                .or_else(|| (1..n).find(|&i| lines[i].starts_with('—')).map(|i| i - 1))
                .or_else(|| {
                    (0..n - 1)
                        .find(|&i| lines[i].ends_with(['—', '：', ':']))
                        .map(|i| i + 1)
                })
                .unwrap_or(1);
            let mut after = lines.split_off(t + 1);
            head.title = lines.pop();
            head.kicker = Some(lines.join(" ")).filter(|k| !k.is_empty());
            if !after.is_empty() {
                let subtitle = after.remove(0);
                head.subtitle = Some(subtitle);
                // Lines after the subtitle are a deck printed over the text.
                head.body.splice(0..0, after);
            }
        }
    }
}

/// The paragraphs' text joined, without whitespace.
fn squash_paras(paras: &[Para]) -> String {
    paras
        .iter()
        .flat_map(|p| p.text.chars())
        .filter(|&c| !is_space(c))
        .collect()
}

fn parse_head(
    run: &[String],
    layout: Layout,
    body: &[Para],
    lead_first: bool,
    active: Option<&str>,
) -> Head {
    let mut head = Head::default();
    if layout == Layout::Indented && run.len() == 3 {
        head.kicker = non_empty(&run[0]);
        head.title = non_empty(&run[1]);
        head.subtitle = non_empty(&run[2]);
        if head.title.is_none() {
            head.title = head.kicker.take();
        }
        return head;
    }
    let mut lines: Vec<String> = run.iter().filter(|l| !l.is_empty()).cloned().collect();
    if let Some(b) = lines.iter().position(|l| is_box_label(l)) {
        head.body = lines.split_off(b);
    }
    if lines.len() >= 2
        && !lead_first
        && let Some(last) = lines.last()
        && visible_len(last) >= 20
        && squash_paras(body).contains(&*squashed(last))
    {
        head.body.insert(0, lines.pop().unwrap_or_default());
    }
    // A deck after a kicker and a headline with a column tag is a pull quote from the text:
    // body (two-line blocks are left to the shape model).
    if lines.len() >= 3
        && !lead_first
        && let Some(t) = lines.iter().position(|l| has_column_tag(l))
        && t + 2 == lines.len()
        && !lines[t + 1].starts_with('—')
        && visible_len(&lines[t + 1]) >= 15
        && !is_byline_line(&lines[t + 1])
    {
        head.body.insert(0, lines.pop().unwrap_or_default());
    }
    if let Some(last) = lines.last()
        && (is_byline_line(last) || (lines.len() >= 2 && is_bare_name(last)))
    {
        head.byline = lines.pop();
    }
    if lines.len() >= 2 && is_label_shape(&lines[0]) && active != Some(lines[0].as_str()) {
        head.section = Some(lines.remove(0));
    }
    assign_kts(&mut head, lines, lead_first);
    head
}

/// Parses a headline run with the labeller ([`labeller`]): section and kicker lines before the
/// title, the first run of title lines joined into the title, later headline lines the
/// subtitle, bylines the byline, body lines (and a summary box with what follows it, or a
/// long last line the text repeats) the body. Also returns the log-probability of the labels.
fn label_head(
    run: &[String],
    body: &[Para],
    lead_first: bool,
    active: Option<&str>,
    labeller: &labeller::Labeller,
    words: &dyn Fn(&str) -> bool,
) -> (Head, f64) {
    use self::labeller::Label;
    let mut head = Head::default();
    let mut lines: Vec<&str> = run
        .iter()
        .filter(|l| !l.is_empty())
        .map(String::as_str)
        .collect();
    let mut tail: Vec<&str> = Vec::new();
    if let Some(b) = lines.iter().position(|l| is_box_label(l)) {
        tail = lines.split_off(b);
    }
    if lines.len() >= 2
        && !lead_first
        && let Some(last) = lines.last()
        && visible_len(last) >= 20
        && squash_paras(body).contains(&*squashed(last))
    {
        tail.insert(0, lines.pop().unwrap_or_default());
    }
    // The marks the rules read stay first: a byline line (or a name under a headline) at
    // the end, a column label over a headline.
    let mut bylines: Option<String> = None;
    // A short last line that a dictionary word runs into from the line before is the end of
    // a wrapped headline (`二里头夏都遗址博` / `物馆开馆`), not a name.
    let name_last = match lines.as_slice() {
        [.., prev, last] => is_bare_name(last) && !units::word_across(prev, last, words),
        _ => false,
    };
    if let Some(last) = lines.last()
        && (is_byline_line(last) || name_last)
    {
        bylines = lines.pop().map(str::to_owned);
    }
    if lines.len() >= 2 && is_label_shape(lines[0]) && active != Some(lines[0]) {
        head.section = Some(lines.remove(0).to_owned());
    }
    let x = labeller::features(&lines, lead_first, words);
    let (mut labels, p) = labeller.decode(&x);
    if !labels.contains(&Label::Title) {
        // Every headline has a title: the deck, else the last kicker, else the first text line.
        let pick = labels
            .iter()
            .position(|l| *l == Label::Subtitle)
            .or_else(|| labels.iter().rposition(|l| *l == Label::Kicker))
            .or_else(|| labels.iter().position(|l| *l == Label::Body));
        if let Some(i) = pick {
            labels[i] = Label::Title;
        }
    }
    let title_at = labels
        .iter()
        .position(|l| *l == Label::Title)
        .unwrap_or(labels.len());
    let title_end = labels[title_at..]
        .iter()
        .position(|l| *l != Label::Title)
        .map_or(labels.len(), |k| title_at + k);
    let push = |slot: &mut Option<String>, line: &str, sep: &str| match slot {
        Some(s) if sep.is_empty() => *s = units::join_break(s, line),
        Some(s) => {
            s.push_str(sep);
            s.push_str(line);
        }
        None => *slot = Some(line.to_owned()),
    };
    let byline_first = bylines.take();
    for (i, (line, label)) in lines.iter().zip(&labels).enumerate() {
        match label {
            Label::Body => head.body.push((*line).to_owned()),
            Label::Byline => push(&mut bylines, line, " "),
            _ if (title_at..title_end).contains(&i) => push(&mut head.title, line, ""),
            Label::Section
                if i < title_at
                    && head.section.is_none()
                    && head.kicker.is_none()
                    && active != Some(*line) =>
            {
                head.section = Some((*line).to_owned());
            }
            _ if i < title_at => push(&mut head.kicker, line, ""),
            _ => push(&mut head.subtitle, line, ""),
        }
    }
    head.byline = match (bylines, byline_first) {
        (Some(a), Some(b)) => Some(format!("{a} {b}")),
        (a, b) => a.or(b),
    };
    head.body.extend(tail.into_iter().map(str::to_owned));
    (head, p.max(1e-6).ln())
}

/// Joins the lines of a headline run that the join model reads as one headline printed on
/// several lines; returns the lines and the log-probability that the join decisions are right.
fn join_wrapped(run: &[String], model: &Model, words: &dyn Fn(&str) -> bool) -> (Vec<String>, f64) {
    let mut out: Vec<String> = Vec::with_capacity(run.len());
    let mut log_p = 0.0;
    let mut prev: Option<&str> = None;
    for line in run.iter().filter(|l| !l.is_empty()) {
        if let (Some(a), Some(last)) = (prev, out.last_mut()) {
            let p = model
                .join
                .prob(&learned::join_features(a, line, words))
                .clamp(1e-6, 1.0 - 1e-6);
            log_p += p.max(1.0 - p).ln();
            if p >= 0.5 {
                *last = units::join_break(last, line);
                prev = Some(line);
                continue;
            }
        }
        out.push(line.clone());
        prev = Some(line);
    }
    (out, log_p)
}

/// Builds the item of a draft; also returns the log-probability that its headline joins are
/// right.
fn finish(
    mut d: Draft,
    index: usize,
    layout: Layout,
    active: Option<&str>,
    joiner: Joiner<'_>,
) -> (Article, f64) {
    let lead_first = d
        .paras
        .first()
        .is_some_and(|p| split_lead(&p.text).is_some());
    let mut log_join = 0.0;
    let labeller = joiner.and_then(|(m, w)| m.heads.as_ref().map(|h| (h, w)));
    let mut head = match (layout, labeller, joiner) {
        (Layout::Blocks, Some((labeller, words)), _) => {
            let (head, log_p) = label_head(&d.run, &d.paras, lead_first, active, labeller, words);
            log_join = log_p;
            head
        }
        (Layout::Blocks, None, Some((model, words))) => {
            let (run, log_p) = join_wrapped(&d.run, model, words);
            d.run = run;
            log_join = log_p;
            parse_head(&d.run, layout, &d.paras, lead_first, active)
        }
        _ => parse_head(&d.run, layout, &d.paras, lead_first, active),
    };
    // A deck printed between the headline and an inline lead is the subtitle (the indented
    // layout has its own subtitle slot).
    if layout == Layout::Blocks
        && head.title.is_some()
        && head.subtitle.is_none()
        && head.body.is_empty()
        && !lead_first
        && d.paras
            .get(1)
            .is_some_and(|p| split_lead(&p.text).is_some())
    {
        head.subtitle = Some(d.paras.remove(0).text);
    }
    let mut paragraphs: Vec<String> = head.body;
    let mut byline_raw: Vec<String> = head.byline.into_iter().collect();
    let mut dateline = None;
    let mut lead_found = false;
    for (i, p) in d.paras.into_iter().enumerate() {
        if i == 0
            && let Some(lead) = split_lead(&p.text)
        {
            lead_found = true;
            byline_raw.push(lead.raw.to_owned());
            dateline = lead.dateline.map(str::to_owned);
            if !lead.rest.is_empty() {
                paragraphs.push(lead.rest.to_owned());
            }
            continue;
        }
        paragraphs.push(p.text);
    }
    let mut credits: Vec<String> = Vec::new();
    if let Some(last) = paragraphs.last_mut()
        && let Some((head_text, credit)) =
            split_trailing_credit(last).or_else(|| split_run_on_credit(last))
    {
        *last = head_text;
        credits.push(credit);
    }
    let mut photo_credits: Vec<String> = d.photo_credit.into_iter().collect();
    for c in d.credits {
        if is_photo_credit(&c) {
            photo_credits.push(c);
        } else {
            credits.push(c);
        }
    }
    let chars: usize = paragraphs.iter().map(|p| visible_len(p)).sum();
    let is_photo = !photo_credits.is_empty() && chars <= MAX_PHOTO_CHARS && paragraphs.len() <= 3;
    if is_photo && byline_raw.is_empty() {
        byline_raw.append(&mut photo_credits);
    } else {
        credits.append(&mut photo_credits);
    }
    let kind = if is_photo {
        ItemKind::Photo
    } else if lead_found || (chars > 0 && chars < MAX_BRIEF_CHARS) {
        ItemKind::Brief
    } else {
        ItemKind::Article
    };
    let byline = (!byline_raw.is_empty()).then(|| parse_byline(&byline_raw.join(" ")));
    let text = paragraphs.join("\n");
    let article = Article {
        index,
        kind,
        section: head.section,
        kicker: head.kicker,
        title: head.title,
        subtitle: head.subtitle,
        byline,
        dateline,
        // The paragraphs' characters: the newlines joining them are whitespace.
        char_count: chars,
        paragraphs,
        text,
        captions: d.captions,
        trailing_credit: (!credits.is_empty()).then(|| credits.join("\n")),
        confidence: 1.0,
    };
    (article, log_join)
}

/// Splits a normalised page into its items, in page order, with the built-in model
/// ([`Model::builtin`]).
pub fn segment(text: &Normalized) -> Vec<Article> {
    segment_with_words(text, &|_| false)
}

/// [`segment`] with a dictionary: `words` tells whether a string is a word, which confirms a
/// column break inside a short, headline-shaped fragment of a paragraph and a headline wrapped
/// mid-word (the pipeline passes jieba's dictionary).
pub fn segment_with_words(text: &Normalized, words: &dyn Fn(&str) -> bool) -> Vec<Article> {
    segment_with(text, words, Model::builtin())
}

/// [`segment_with_words`] with a given model; `None` segments by the rules alone (every
/// confidence is then 1).
pub fn segment_with(
    text: &Normalized,
    words: &dyn Fn(&str) -> bool,
    model: Option<&Model>,
) -> Vec<Article> {
    let mut decider = model.map_or(Decider::Rules, Decider::Model);
    let (layout, units) = units::units(text, words);
    let drafts = place_displaced(group(units, layout, words, &mut decider));
    assemble(drafts, layout, model.map(|m| (m, words))).0
}

/// [`segment_with`] with, for every item, the features of the item-confidence model
/// ([`learned::confidence_features`]), for fitting it.
pub fn segment_with_features(
    text: &Normalized,
    words: &dyn Fn(&str) -> bool,
    model: &Model,
) -> (Vec<Article>, Vec<Vec<f64>>) {
    let mut decider = Decider::Model(model);
    let (layout, units) = units::units(text, words);
    let drafts = place_displaced(group(units, layout, words, &mut decider));
    assemble(drafts, layout, Some((model, words)))
}

/// The boundary decisions of a page with their features, for training: `oracle` answers,
/// for the lines of a headline run that follows body text, whether it starts a new
/// item (`None`: unknown, the rules decide and nothing is recorded). The oracle's answers
/// are followed, so every decision is made in the state the true segmentation leads to.
pub fn boundary_decisions(
    text: &Normalized,
    words: &dyn Fn(&str) -> bool,
    oracle: &mut dyn FnMut(&[&str]) -> Option<bool>,
) -> Vec<(Vec<f64>, bool)> {
    let mut out = Vec::new();
    let (layout, units) = units::units(text, words);
    if layout == Layout::Blocks {
        let mut decider = Decider::Record {
            oracle,
            out: &mut out,
        };
        group(units, layout, words, &mut decider);
    }
    out
}

fn assemble(
    drafts: Vec<Draft>,
    layout: Layout,
    joiner: Joiner<'_>,
) -> (Vec<Article>, Vec<Vec<f64>>) {
    let n = drafts.len();
    let mut features = Vec::new();
    // An item's end is right when the next item's start is.
    let log_ends: Vec<f64> = drafts
        .iter()
        .skip(1)
        .map(|d| d.log_start)
        .chain(std::iter::once(0.0))
        .collect();
    let mut out: Vec<Article> = Vec::with_capacity(drafts.len());
    for (d, log_end) in drafts.into_iter().zip(log_ends) {
        let log_decisions = d.log_start + d.log_inner + log_end;
        let facts = learned::ItemFacts {
            log_start: d.log_start,
            log_inner: d.log_inner,
            log_end,
            log_heads: 0.0,
            run_lines: d.run.iter().filter(|l| !l.is_empty()).count(),
            first: out.is_empty(),
            last: out.len() + 1 == n,
        };
        // The label of the previous item: the same label again is not a new section.
        let previous = out.last().and_then(|a| a.section.clone());
        let (mut article, log_join) = finish(d, out.len(), layout, previous.as_deref(), joiner);
        if let Some((model, _)) = joiner {
            let raw = (log_decisions + log_join).exp();
            let x = learned::confidence_features(
                &learned::ItemFacts {
                    log_heads: log_join,
                    ..facts
                },
                &article,
            );
            article.confidence = match &model.confidence {
                Some(c) => c.prob(&x),
                None => model.calibration.apply(raw),
            };
            features.push(x);
        }
        // A column's label carries over to the short items after it, not to a photo or a
        // feature with its own kicker.
        let carries = article.kind != ItemKind::Photo
            && article.kicker.is_none()
            && article.char_count < MAX_SECTION_ITEM_CHARS;
        if article.section.is_none() && carries {
            article.section = previous;
        }
        out.push(article);
    }
    (out, features)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::normalize::normalize;

    fn run(page: &str) -> Vec<Article> {
        segment(&normalize(page))
    }

    fn para(topic: &str, n: usize) -> String {
        format!("{}。", topic.repeat(n))
    }

    #[test]
    fn a_column_label_heads_the_briefs_after_it_and_is_not_an_item() {
        let page = format!(
            "政务动态\n\n省工商联开展调研\n\n本报讯(记者 孙 雄)7月14日，{}\n\n中心城区防洪专题会召开\n\n本报讯 7月18日，{}(梁 浩)\n",
            para("调研组走访企业", 3),
            para("会议部署防洪排涝", 3)
        );
        let items = run(&page);
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].section.as_deref(), Some("政务动态"));
        assert_eq!(items[1].section.as_deref(), Some("政务动态"));
        let b = items[0].byline.as_ref().expect("byline");
        assert_eq!(b.raw, "本报讯(记者 孙 雄)");
        assert_eq!(b.reporters, vec!["孙雄"]);
        assert_eq!(items[0].dateline.as_deref(), Some("7月14日"));
        assert!(items[0].paragraphs[0].starts_with("7月14日，"));
        assert_eq!(items[1].trailing_credit.as_deref(), Some("(梁 浩)"));
        assert_eq!(items[1].kind, ItemKind::Brief);
    }

    fn body(text: &str, displaced: &[&str]) -> Unit {
        Unit::Para(Para {
            text: text.to_owned(),
            displaced: displaced.iter().map(|s| (*s).to_owned()).collect(),
            displaced_at: 0,
        })
    }

    #[test]
    fn a_lead_after_the_run_or_a_closing_credit_settles_a_new_item() {
        let mut facts = RunFacts::default();
        assert!(!settled_new(&facts, false));
        assert!(settled_new(&facts, true));
        facts.lead_next = true;
        assert!(settled_new(&facts, false));
        // A lead after a deck paragraph is left to the model.
        facts.lead_next = false;
        facts.lead_after_deck = true;
        assert!(!settled_new(&facts, false));
    }

    #[test]
    fn only_a_credit_right_after_the_text_closes_an_item() {
        let credit = Unit::Credit("（新华社北京10月1日电）".to_owned());
        let units = vec![body("正文。", &[]), credit.clone(), body("后文。", &[])];
        let mut cur = Draft::with_run(vec!["标题".to_owned()]);
        cur.ended = true;
        // A jump line under the headline, before any text.
        assert!(!closed_by_credit(&units, 2, &cur));
        cur.paras.push(Para {
            text: "正文。".to_owned(),
            ..Para::default()
        });
        assert!(closed_by_credit(&units, 2, &cur));
        // Text after the credit (a photo credit inside the article) reopens it.
        assert!(!closed_by_credit(&units, 3, &cur));
        cur.ended = false;
        assert!(!closed_by_credit(&units, 2, &cur));
    }

    #[test]
    fn a_paragraph_after_a_credit_opens_an_item_only_when_a_displaced_headline_follows_soon() {
        let credit = Unit::Credit("（新华社北京10月1日电）".to_owned());
        let units = vec![
            credit.clone(),
            body("第一段。", &[]),
            body("第二段。", &[]),
            body("第三段。", &["移位的标题"]),
        ];
        assert!(opens_after_credit(&units, 1));
        // Too far: the block lands in the first paragraphs of its article.
        let mut far = vec![credit.clone()];
        far.extend((0..4).map(|_| body("一段。", &[])));
        far.push(body("又一段。", &["移位的标题"]));
        assert!(!opens_after_credit(&far, 1));
        // A headline run in between belongs to the item it heads.
        let run = vec![
            credit,
            body("一段。", &[]),
            Unit::Run(vec!["小标题".to_owned()]),
            body("又一段。", &["移位的标题"]),
        ];
        assert!(!opens_after_credit(&run, 1));
        assert!(opens_after_credit(&run, 3));
    }

    #[test]
    fn a_displaced_headline_opens_its_article_where_the_topic_changes() {
        let page = format!(
            "暴雨中的坚守\n\n本报记者 牛嘉荣\n\n{}\n\n{}\n\n{}\n\n{}\n\n{}在最\n\n清淤保畅通\n\n周秀枝\n\n短时间内恢复路面通畅。\n\n{}\n",
            para("文保所工作人员巡查古建筑文物排水系统", 2),
            para("文物保护人员检查古建筑屋顶和文物", 2),
            para("环卫工人清理路面淤泥冲洗车冲洗路面", 2),
            para("环卫中心出动冲洗车清扫车清理淤泥", 2),
            "在积水严重的路段，环卫中心采取人机结合方式，紧张有序地开展主次干道排水疏浚作业，环卫工人清理路面淤泥，",
            para("淤泥运走后环卫车辆冲洗路面", 2),
        );
        let items = run(&page);
        assert_eq!(items.len(), 2, "{items:#?}");
        assert_eq!(items[0].title.as_deref(), Some("暴雨中的坚守"));
        assert_eq!(items[0].paragraphs.len(), 2);
        assert_eq!(items[1].title.as_deref(), Some("清淤保畅通"));
        assert_eq!(
            items[1].byline.as_ref().map(|b| b.raw.as_str()),
            Some("周秀枝")
        );
        assert!(items[1].paragraphs[0].starts_with("环卫工人清理路面淤泥"));
        assert!(items[1].paragraphs[2].ends_with("在最短时间内恢复路面通畅。"));
    }

    #[test]
    fn a_subhead_on_the_same_topic_stays_inside_the_article() {
        let page = format!(
            "山区12万户村民搬进安全房\n\n{}\n\n建设安居工程\n\n{}\n",
            para("抗震安居工程提升农村住房抗震能力，地震中房屋完好", 3),
            para("农村安居工程按照抗震设防要求建房，地震来袭房屋无损", 3)
        );
        let items = run(&page);
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].paragraphs[1], "建设安居工程");
    }

    #[test]
    fn a_caption_with_its_credit_becomes_a_photo_or_a_caption_of_the_article() {
        let page = format!(
            "市慈善总会发放援助药\n\n本报讯(记者 赵卓睿)7月17日，{}\n\n小朋友在博物馆参观，学习历史知识。 本报记者 常 奇 摄\n\n排水保通行\n\n{}\n\n下图：工人们在疏通排水口。 李青山 摄\n",
            para("工作人员为患者发放药品", 20),
            para("环卫工人清理淤泥", 30)
        );
        let items = run(&page);
        assert_eq!(items.len(), 3, "{items:#?}");
        assert_eq!(items[1].kind, ItemKind::Photo);
        assert_eq!(items[1].title, None);
        assert_eq!(
            items[1].byline.as_ref().map(|b| b.photographers.clone()),
            Some(vec!["常奇".to_owned()])
        );
        assert_eq!(items[2].captions.len(), 1);
        assert_eq!(items[2].captions[0].credit.as_deref(), Some("李青山 摄"));
    }

    #[test]
    fn kicker_title_and_subtitle_are_told_apart_by_their_marks() {
        let page = format!(
            "地处多震地带，中强地震时有发生——\n\n山区 12万户村民搬进安全房（一线探民生）\n\n核心阅读\n\n{}\n\n让安全隐患无处藏身\n\n——全市推进企业安全生产专项整治行动\n\n本报记者 付 炎\n\n{}\n",
            para("新疆地震活跃", 3),
            para("企业数量多分布广", 3)
        );
        let items = run(&page);
        assert_eq!(items.len(), 2, "{items:#?}");
        assert_eq!(
            items[0].kicker.as_deref(),
            Some("地处多震地带，中强地震时有发生——")
        );
        assert_eq!(items[0].paragraphs[0], "核心阅读");
        assert_eq!(items[1].title.as_deref(), Some("让安全隐患无处藏身"));
        assert!(
            items[1]
                .subtitle
                .as_deref()
                .is_some_and(|s| s.starts_with("——"))
        );
        assert_eq!(
            items[1].byline.as_ref().map(|b| b.reporters.clone()),
            Some(vec!["付炎".to_owned()])
        );
    }

    #[test]
    fn by_the_rules_a_clause_pair_subhead_and_a_sidebar_stay_inside_the_article() {
        let page = format!(
            "钢铁产能压减\n\n{}\n\n田园乡村建设，统筹城乡发展\n\n{}\n\n老船长的记事本（记者手记）\n\n{}\n",
            para("钢厂淘汰落后产能", 3),
            para("村民在田园里种植蔬菜", 3),
            para("船长翻开记事本", 3)
        );
        // The learned model follows the crawler, which keeps a sidebar as an item of its own.
        let items = segment_with(&normalize(&page), &|_| false, None);
        assert_eq!(items.len(), 1, "{items:#?}");
        assert_eq!(items[0].paragraphs[1], "田园乡村建设，统筹城乡发展");
    }

    #[test]
    fn a_name_before_the_author_note_signs_the_letter() {
        let page = format!(
            "写给远方的信（家书）\n\n{}\n\n王小明\n\n（作者为某县中学教师）\n\n另一篇文章\n\n{}\n",
            para("亲爱的家人", 3),
            para("工厂开工生产", 3)
        );
        let items = run(&page);
        assert_eq!(items.len(), 2, "{items:#?}");
        assert_eq!(
            items[0].paragraphs.last().map(String::as_str),
            Some("王小明")
        );
        assert_eq!(items[1].title.as_deref(), Some("另一篇文章"));
    }

    #[test]
    fn decks_over_the_text_keep_their_printed_order() {
        let page = format!(
            "安全是最大的民生（评论员观察）\n\n隐患不除，安全难保。守牢底线才能让群众安心\n\n把每一处风险点都当成责任田\n\n{}\n",
            para("各地开展安全隐患排查整治，企业落实主体责任", 3)
        );
        let items = run(&page);
        assert_eq!(items.len(), 1, "{items:#?}");
        assert!(items[0].paragraphs[0].starts_with("隐患不除"), "{items:#?}");
        assert_eq!(items[0].paragraphs[1], "把每一处风险点都当成责任田");
        assert!(items[0].paragraphs[2].starts_with("各地开展"));
    }

    /// A model whose boundary answer is `new_bias` alone and whose join answer is "a word
    /// runs across the break".
    fn model(new_bias: f64) -> Model {
        let named = |names: &[&str], set: &[(&str, f64)]| learned::Logistic {
            features: names.iter().map(|s| (*s).to_owned()).collect(),
            weights: names
                .iter()
                .map(|n| set.iter().find(|(k, _)| k == n).map_or(0.0, |(_, w)| *w))
                .collect(),
        };
        Model {
            version: "test".to_owned(),
            trained_on: String::new(),
            boundary: named(learned::BOUNDARY_FEATURES, &[("bias", new_bias)]),
            join: named(
                learned::JOIN_FEATURES,
                &[("bias", -2.0), ("word_across", 4.0)],
            ),
            calibration: learned::Platt::IDENTITY,
            heads: None,
            confidence: None,
        }
    }

    #[test]
    fn the_boundary_model_decides_and_sets_the_confidence() {
        let page = format!(
            "山区12万户村民搬进安全房\n\n{}\n\n建设安居工程\n\n{}\n",
            para("抗震安居工程提升农村住房抗震能力，地震中房屋完好", 3),
            para("农村安居工程按照抗震设防要求建房，地震来袭房屋无损", 3)
        );
        let text = normalize(&page);
        // The rules keep the subhead inside (see above); a model that always starts a new
        // item splits there, one that never does keeps it, each with its own confidence.
        let split = segment_with(&text, &|_| false, Some(&model(3.0)));
        assert_eq!(split.len(), 2, "{split:#?}");
        assert_eq!(split[1].title.as_deref(), Some("建设安居工程"));
        let p = 1.0 / (1.0 + (-3.0f64).exp());
        for a in &split {
            assert!((a.confidence - p).abs() < 1e-9, "{}", a.confidence);
        }
        let kept = segment_with(&text, &|_| false, Some(&model(-3.0)));
        assert_eq!(kept.len(), 1);
        assert!((kept[0].confidence - p).abs() < 1e-9);
        let rules = segment_with(&text, &|_| false, None);
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].confidence, 1.0);
    }

    #[test]
    fn a_headline_wrapped_mid_word_is_joined_into_one_title() {
        let page = format!(
            "全市中小学暑期不得组织有偿补\n\n课辅导班\n\n{}\n",
            para("教育部门开展专项检查，查处违规办班行为", 3)
        );
        let text = normalize(&page);
        let words = |w: &str| w == "补课";
        let joined = segment_with(&text, &words, Some(&model(0.0)));
        assert_eq!(
            joined[0].title.as_deref(),
            Some("全市中小学暑期不得组织有偿补课辅导班"),
            "{joined:#?}"
        );
        assert_eq!(joined[0].kicker, None);
        // Without the word across the break the two lines stay apart.
        let apart = segment_with(&text, &|_| false, Some(&model(0.0)));
        assert_ne!(apart[0].title, joined[0].title, "{apart:#?}");
    }

    #[test]
    fn a_short_last_headline_line_a_word_runs_into_is_not_a_name() {
        let page = format!(
            "二里头夏都遗址博\n\n物馆开馆\n\n本报洛阳10月19日电 （记者朱佩娴）{}\n",
            para("遗址博物馆今天开馆，展出文物两千余件", 3)
        );
        let text = normalize(&page);
        let in_byline = |items: &[Article]| {
            items[0]
                .byline
                .as_ref()
                .is_some_and(|b| b.raw.contains("物馆开馆"))
        };
        let words = |w: &str| w == "博物馆";
        let wrapped = segment_with(&text, &words, Model::builtin());
        assert!(!in_byline(&wrapped), "{wrapped:#?}");
        let head = [&wrapped[0].title, &wrapped[0].subtitle]
            .into_iter()
            .flatten()
            .any(|t| t.contains("物馆开馆"));
        assert!(head, "{wrapped:#?}");
        // Without the word across the break the four characters read as a name.
        let named = segment_with(&text, &|_| false, Model::builtin());
        assert!(in_byline(&named), "{named:#?}");
    }

    #[test]
    fn a_label_with_nothing_after_it_is_a_title_only_item() {
        let items = run("标题\n\n一句话说完了。\n\n下期话题\n");
        assert_eq!(items.len(), 2, "{items:#?}");
        assert_eq!(items[1].title.as_deref(), Some("下期话题"));
        assert!(items[1].paragraphs.is_empty());
    }
}
