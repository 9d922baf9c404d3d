//! A sequence labeller for the lines of an item's headline run: every line gets one of
//! section, kicker, title, subtitle, byline or body, decoded jointly by Viterbi over the run
//! with an averaged structured perceptron's weights (emission weights per structural feature
//! and label, transition weights per label pair).
//!
//! It replaces the two-line shape model and the pairwise join decisions of the headline
//! parser on the learned path: a headline printed on two or three lines is a run of `title`
//! labels (joined into one title), a kicker is a `kicker` line before the title, a deck under
//! it a `subtitle`, and the decision for each line sees its neighbours on both sides and the
//! labels chosen for them.
//!
//! Features are structure only: a line's length, how it starts and ends (sentence marks,
//! commas, a colon or dash, brackets), column tags, byline and name shapes, its position in
//! the run, its neighbours' shape, whether a dictionary word runs across the break to the
//! next or previous line, the two-line shape model ([`super::heads`]) on the pairs it is in,
//! and whether the text after the run opens with an inline lead. No feature is a word.
//!
//! Training ([`train`]) is deterministic: examples in page order, a fixed number of epochs,
//! the weights averaged over every step (the averaging is the regulariser), and a feature
//! that fires on fewer than `min_count` training lines keeps weight 0.

use serde::{Deserialize, Serialize};

use super::byline::{is_bare_name, is_byline_line};
use super::heads::{Pair, classify};
use super::shape::{
    has_column_tag, has_sidebar_tag, is_box_label, is_cjk, is_label_shape, unclosed, visible_len,
};

/// The labels, in the order of the weight rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    /// A column label (`政务动态`).
    Section,
    /// A line over the title.
    Kicker,
    /// A line of the title.
    Title,
    /// A deck under the title.
    Subtitle,
    /// A byline.
    Byline,
    /// Text of the item printed in the headline block.
    Body,
}

/// All labels, in weight order.
pub const LABELS: [Label; 6] = [
    Label::Section,
    Label::Kicker,
    Label::Title,
    Label::Subtitle,
    Label::Byline,
    Label::Body,
];

/// The labels' names, in weight order (the model file lists them).
pub const LABEL_NAMES: &[&str] = &["section", "kicker", "title", "subtitle", "byline", "body"];

const L: usize = LABELS.len();

impl Label {
    fn index(self) -> usize {
        self as usize
    }

    /// The label of a generated page's block label (`tests/tools/make_pages.py`).
    pub fn of_block(label: &str) -> Label {
        match label {
            "section" => Label::Section,
            "kicker" | "kicker_displaced" => Label::Kicker,
            "title" | "title_displaced" => Label::Title,
            "subtitle" => Label::Subtitle,
            "byline" => Label::Byline,
            _ => Label::Body,
        }
    }
}

/// Names of the line features, in the order [`features`] numbers them.
pub const FEATURES: &[&str] = &[
    "bias",
    "len<=4",
    "len<=8",
    "len<=12",
    "len<=18",
    "len<=30",
    "len>30",
    "ends_sentence",
    "ends_comma",
    "ends_colon_dash",
    "ends_close_bracket",
    "ends_quote",
    "ends_cjk",
    "ends_digit",
    "starts_dash",
    "starts_open_bracket",
    "starts_quote",
    "comma_inside",
    "space_inside",
    "digits",
    "quotes",
    "column_tag",
    "sidebar_tag",
    "byline_line",
    "bare_name",
    "label_shape",
    "box_label",
    "first",
    "last",
    "only",
    "index=1",
    "index=2",
    "index>=3",
    "lines=2",
    "lines=3",
    "lines>=4",
    "prev_ends_colon_dash",
    "prev_ends_mark",
    "prev_ends_cjk",
    "word_from_prev",
    "cjk_junction_prev",
    "shorter_than_prev",
    "longer_than_prev",
    "prev_column_tag",
    "prev_label_shape",
    "next_starts_dash",
    "next_column_tag",
    "next_byline_or_name",
    "word_to_next",
    "cjk_junction_next",
    "shorter_than_next",
    "next_ends_colon_dash",
    "pair_next=kicker_title",
    "pair_next=title_subtitle",
    "pair_next=title_body",
    "pair_prev=kicker_title",
    "pair_prev=title_subtitle",
    "pair_prev=title_body",
    "lead_after",
    "lead_after&last",
    "first&ends_cjk",
    "last&ends_cjk",
    "first&len<=8",
    "sum_with_next<=24",
    "starts_continuation",
    "unclosed_bracket",
    "prev_unclosed_bracket",
    "sum_with_next<=16",
    "sum_with_next<=32",
    "equal_len_next",
    "equal_len_prev",
    "next_ends_close_bracket",
    "len>=30&comma",
];

/// The active features of every line of a run (indices into [`FEATURES`]); `lead_after`: the
/// text after the run opens with an inline lead; `words` tells whether a string is a word.
pub fn features(lines: &[&str], lead_after: bool, words: &dyn Fn(&str) -> bool) -> Vec<Vec<u16>> {
    let n = lines.len();
    let lens: Vec<usize> = lines.iter().map(|l| visible_len(l)).collect();
    let ends = |l: &str| l.trim_end().chars().next_back();
    let starts = |l: &str| l.trim_start().chars().next();
    let colon_dash = |c: Option<char>| matches!(c, Some('：' | ':' | '—'));
    let mark = |c: Option<char>| matches!(c, Some('。' | '！' | '？' | '!' | '?' | '…'));
    let pair = |a: &str, b: &str| classify(a, b, lead_after);
    let mut out = Vec::with_capacity(n);
    for (i, line) in lines.iter().enumerate() {
        let line = line.trim();
        let mut f: Vec<&str> = Vec::with_capacity(24);
        f.push("bias");
        f.push(match lens[i] {
            0..=4 => "len<=4",
            5..=8 => "len<=8",
            9..=12 => "len<=12",
            13..=18 => "len<=18",
            19..=30 => "len<=30",
            _ => "len>30",
        });
        let end = ends(line);
        let ends_cjk = end.is_some_and(is_cjk);
        for (on, name) in [
            (mark(end), "ends_sentence"),
            (matches!(end, Some('，' | ',' | '、' | '；')), "ends_comma"),
            (colon_dash(end), "ends_colon_dash"),
            (
                matches!(end, Some('）' | ')' | '》' | '】' | '］')),
                "ends_close_bracket",
            ),
            (matches!(end, Some('”' | '"' | '’')), "ends_quote"),
            (ends_cjk, "ends_cjk"),
            (end.is_some_and(|c| c.is_ascii_digit()), "ends_digit"),
            (line.starts_with('—'), "starts_dash"),
            (
                line.starts_with(['（', '(', '《', '【', '［']),
                "starts_open_bracket",
            ),
            (line.starts_with(['“', '"']), "starts_quote"),
            (
                line.trim_end_matches(['，', ',']).contains(['，', ',']),
                "comma_inside",
            ),
            (line.contains([' ', '\u{3000}']), "space_inside"),
            (
                line.chars()
                    .any(|c| c.is_ascii_digit() || ('０'..='９').contains(&c)),
                "digits",
            ),
            (line.contains(['“', '”', '"']), "quotes"),
            (has_column_tag(line), "column_tag"),
            (has_sidebar_tag(line), "sidebar_tag"),
            (is_byline_line(line), "byline_line"),
            (is_bare_name(line), "bare_name"),
            (is_label_shape(line), "label_shape"),
            (is_box_label(line), "box_label"),
            (i == 0, "first"),
            (i + 1 == n, "last"),
            (n == 1, "only"),
            (i == 1, "index=1"),
            (i == 2, "index=2"),
            (i >= 3, "index>=3"),
            (n == 2, "lines=2"),
            (n == 3, "lines=3"),
            (n >= 4, "lines>=4"),
            (lead_after, "lead_after"),
            (lead_after && i + 1 == n, "lead_after&last"),
            (i == 0 && ends_cjk, "first&ends_cjk"),
            (i + 1 == n && ends_cjk, "last&ends_cjk"),
            (i == 0 && lens[i] <= 8, "first&len<=8"),
            (starts_continuation(line), "starts_continuation"),
            (unclosed(line), "unclosed_bracket"),
            (i > 0 && unclosed(lines[i - 1]), "prev_unclosed_bracket"),
            (lens[i] >= 30 && line.contains(['，', ',']), "len>=30&comma"),
            (i > 0 && lens[i] == lens[i - 1], "equal_len_prev"),
        ] {
            if on {
                f.push(name);
            }
        }
        if i > 0 {
            let prev = lines[i - 1].trim();
            let pe = ends(prev);
            for (on, name) in [
                (colon_dash(pe), "prev_ends_colon_dash"),
                (mark(pe), "prev_ends_mark"),
                (pe.is_some_and(is_cjk), "prev_ends_cjk"),
                (
                    super::units::word_across(prev, line, words),
                    "word_from_prev",
                ),
                (
                    pe.is_some_and(is_cjk) && starts(line).is_some_and(is_cjk),
                    "cjk_junction_prev",
                ),
                (lens[i] < lens[i - 1], "shorter_than_prev"),
                (lens[i] > lens[i - 1], "longer_than_prev"),
                (has_column_tag(prev), "prev_column_tag"),
                (is_label_shape(prev), "prev_label_shape"),
            ] {
                push_if(&mut f, on, name);
            }
            f.push(pair_name(pair(prev, line), false));
        }
        if i + 1 < n {
            let next = lines[i + 1].trim();
            for (on, name) in [
                (next.starts_with('—'), "next_starts_dash"),
                (has_column_tag(next), "next_column_tag"),
                (
                    is_byline_line(next) || is_bare_name(next),
                    "next_byline_or_name",
                ),
                (super::units::word_across(line, next, words), "word_to_next"),
                (
                    ends_cjk && starts(next).is_some_and(is_cjk),
                    "cjk_junction_next",
                ),
                (lens[i] < lens[i + 1], "shorter_than_next"),
                (colon_dash(ends(next)), "next_ends_colon_dash"),
                (lens[i] + lens[i + 1] <= 24, "sum_with_next<=24"),
                (lens[i] + lens[i + 1] <= 16, "sum_with_next<=16"),
                (lens[i] + lens[i + 1] <= 32, "sum_with_next<=32"),
                (lens[i] == lens[i + 1], "equal_len_next"),
                (
                    matches!(ends(next), Some('）' | ')' | '》' | '】' | '］')),
                    "next_ends_close_bracket",
                ),
            ] {
                push_if(&mut f, on, name);
            }
            f.push(pair_name(pair(line, next), true));
        }
        out.push(
            f.iter()
                .filter_map(|name| FEATURES.iter().position(|x| x == name))
                .filter_map(|k| u16::try_from(k).ok())
                .collect(),
        );
    }
    out
}

fn push_if<'a>(f: &mut Vec<&'a str>, on: bool, name: &'a str) {
    if on {
        f.push(name);
    }
}

/// The feature naming the two-line shape model's reading of a pair the line is in (`next`:
/// the line is the pair's first).
fn pair_name(p: Pair, next: bool) -> &'static str {
    match (p, next) {
        (Pair::KickerTitle, true) => "pair_next=kicker_title",
        (Pair::TitleSubtitle, true) => "pair_next=title_subtitle",
        (Pair::TitleBody, true) => "pair_next=title_body",
        (Pair::KickerTitle, false) => "pair_prev=kicker_title",
        (Pair::TitleSubtitle, false) => "pair_prev=title_subtitle",
        (Pair::TitleBody, false) => "pair_prev=title_body",
    }
}

/// Whether a line starts with a mark that continues the line before (`，也要留住星光`).
fn starts_continuation(line: &str) -> bool {
    line.trim_start().starts_with([
        '，', '、', '；', '：', '）', '》', '」', '”', '’', '·', ',', ')',
    ])
}

/// The labeller's weights (part of `config/segmenter.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Labeller {
    /// Label names, in weight order ([`LABEL_NAMES`]).
    pub labels: Vec<String>,
    /// Feature names, in the order the code computes them ([`FEATURES`]).
    pub features: Vec<String>,
    /// Emission weights, one row of one weight per label for each feature.
    pub emission: Vec<Vec<f64>>,
    /// Transition weights: row `i` for the previous label `i` (the last row: the run's start),
    /// one weight per next label.
    pub transition: Vec<Vec<f64>>,
}

/// Why a labeller does not load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// Labels, features or a weight table have another shape than this build's.
    Shape,
    /// A weight is not finite.
    NotFinite,
}

impl Labeller {
    /// Checks the labeller against this build's labels and features.
    pub fn check(&self) -> Result<(), Mismatch> {
        let rows_ok =
            |rows: &[Vec<f64>], n: usize| rows.len() == n && rows.iter().all(|r| r.len() == L);
        if self
            .labels
            .iter()
            .map(String::as_str)
            .ne(LABEL_NAMES.iter().copied())
            || self
                .features
                .iter()
                .map(String::as_str)
                .ne(FEATURES.iter().copied())
            || !rows_ok(&self.emission, FEATURES.len())
            || !rows_ok(&self.transition, L + 1)
        {
            return Err(Mismatch::Shape);
        }
        if self
            .emission
            .iter()
            .chain(&self.transition)
            .flatten()
            .any(|w| !w.is_finite())
        {
            return Err(Mismatch::NotFinite);
        }
        Ok(())
    }

    fn emit(&self, f: &[u16], l: usize) -> f64 {
        f.iter()
            .filter_map(|&k| self.emission.get(usize::from(k)))
            .filter_map(|row| row.get(l))
            .sum()
    }

    fn trans(&self, from: usize, to: usize) -> f64 {
        self.transition
            .get(from)
            .and_then(|r| r.get(to))
            .copied()
            .unwrap_or(0.0)
    }

    /// The best label sequence for lines with features `x` (Viterbi) and the probability the
    /// scores give it (its exponentiated score over the sum over all sequences).
    pub fn decode(&self, x: &[Vec<u16>]) -> (Vec<Label>, f64) {
        let n = x.len();
        if n == 0 {
            return (Vec::new(), 1.0);
        }
        let emit: Vec<[f64; L]> = x
            .iter()
            .map(|f| std::array::from_fn(|l| self.emit(f, l)))
            .collect();
        let mut best: Vec<[f64; L]> = Vec::with_capacity(n);
        let mut back: Vec<[usize; L]> = Vec::with_capacity(n);
        let mut alpha: [f64; L] = std::array::from_fn(|l| self.trans(L, l) + emit[0][l]);
        best.push(alpha);
        back.push([L; L]);
        for e in emit.iter().skip(1) {
            let prev = best[best.len() - 1];
            let mut row = [f64::NEG_INFINITY; L];
            let mut from = [0usize; L];
            let mut next_alpha = [0.0; L];
            for l in 0..L {
                let mut terms = [0.0; L];
                for p in 0..L {
                    let s = prev[p] + self.trans(p, l);
                    if s > row[l] {
                        row[l] = s;
                        from[l] = p;
                    }
                    terms[p] = alpha[p] + self.trans(p, l);
                }
                next_alpha[l] = log_sum_exp(&terms) + e[l];
                row[l] += e[l];
            }
            alpha = next_alpha;
            best.push(row);
            back.push(from);
        }
        let last = &best[n - 1];
        let mut l = (0..L).fold(0, |b, l| if last[l] > last[b] { l } else { b });
        let score = last[l];
        let log_z = log_sum_exp(&alpha);
        let mut labels = vec![Label::Body; n];
        for i in (0..n).rev() {
            labels[i] = LABELS[l];
            l = back[i][l];
            if l >= L {
                break;
            }
        }
        (labels, (score - log_z).exp().clamp(0.0, 1.0))
    }
}

fn log_sum_exp(v: &[f64]) -> f64 {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !m.is_finite() {
        return m;
    }
    m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// Options of [`train`].
#[derive(Debug, Clone, Copy)]
pub struct TrainOptions {
    /// Passes over the examples.
    pub epochs: usize,
    /// Features firing on fewer training lines than this keep weight 0.
    pub min_count: usize,
}

impl Default for TrainOptions {
    fn default() -> TrainOptions {
        TrainOptions {
            epochs: 10,
            min_count: 5,
        }
    }
}

/// Trains the labeller on `(line features, labels)` runs with the averaged structured
/// perceptron: deterministic for a given example order.
pub fn train(examples: &[(Vec<Vec<u16>>, Vec<Label>)], opts: TrainOptions) -> Labeller {
    let nf = FEATURES.len();
    let mut counts = vec![0usize; nf];
    for (x, _) in examples {
        for f in x.iter().flatten() {
            if let Some(c) = counts.get_mut(usize::from(*f)) {
                *c += 1;
            }
        }
    }
    let keep: Vec<bool> = counts.iter().map(|&c| c >= opts.min_count).collect();
    let mut cur = Labeller {
        labels: LABEL_NAMES.iter().map(|s| (*s).to_owned()).collect(),
        features: FEATURES.iter().map(|s| (*s).to_owned()).collect(),
        emission: vec![vec![0.0; L]; nf],
        transition: vec![vec![0.0; L]; L + 1],
    };
    let mut sum = cur.clone();
    let mut steps = 0usize;
    let add = |m: &mut Labeller, x: &[Vec<u16>], y: &[Label], d: f64| {
        let mut prev = L;
        for (f, l) in x.iter().zip(y) {
            let l = l.index();
            for &k in f {
                let k = usize::from(k);
                if keep.get(k).copied().unwrap_or(false)
                    && let Some(w) = m.emission.get_mut(k).and_then(|r| r.get_mut(l))
                {
                    *w += d;
                }
            }
            if let Some(w) = m.transition.get_mut(prev).and_then(|r| r.get_mut(l)) {
                *w += d;
            }
            prev = l;
        }
    };
    for _ in 0..opts.epochs {
        for (x, y) in examples {
            let (guess, _) = cur.decode(x);
            if guess != *y {
                add(&mut cur, x, y, 1.0);
                add(&mut cur, x, &guess, -1.0);
            }
            steps += 1;
            for (s, c) in sum
                .emission
                .iter_mut()
                .chain(sum.transition.iter_mut())
                .zip(cur.emission.iter().chain(&cur.transition))
            {
                s.iter_mut().zip(c).for_each(|(s, c)| *s += c);
            }
        }
    }
    let n = steps.max(1) as f64;
    for row in sum.emission.iter_mut().chain(sum.transition.iter_mut()) {
        row.iter_mut()
            .for_each(|w| *w = (*w / n * 1e4).round() / 1e4);
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(lines: &[&str]) -> Vec<Vec<u16>> {
        features(lines, false, &|w| w == "补课")
    }

    #[test]
    fn every_line_gets_features_and_names_are_unique() {
        let x = run(&["市教育局：全市中小学", "暑期不得组织有偿补", "课辅导班"]);
        assert_eq!(x.len(), 3);
        assert!(x.iter().all(|f| f.first() == Some(&0)));
        for (i, a) in FEATURES.iter().enumerate() {
            assert!(!FEATURES[i + 1..].contains(a), "{a} twice");
        }
        let word = FEATURES.iter().position(|f| *f == "word_to_next");
        assert!(word.is_some_and(|w| x[1].contains(&(w as u16))));
    }

    #[test]
    fn training_learns_a_wrapped_title_and_a_kicker() {
        // Kicker ending in a colon over a title; a title wrapped mid-word; a lone title.
        let data = [
            (
                vec!["关于安全的通知：", "全市开展检查"],
                vec![Label::Kicker, Label::Title],
            ),
            (
                vec!["暑期不得组织有偿补", "课辅导班"],
                vec![Label::Title, Label::Title],
            ),
            (vec!["全市开展大检查"], vec![Label::Title]),
        ];
        let examples: Vec<_> = data
            .iter()
            .cycle()
            .take(30)
            .map(|(l, y)| (run(l), y.clone()))
            .collect();
        let m = train(
            &examples,
            TrainOptions {
                epochs: 5,
                min_count: 1,
            },
        );
        assert_eq!(m.check(), Ok(()));
        for (l, y) in &data {
            let (got, p) = m.decode(&run(l));
            assert_eq!(&got, y, "{l:?}");
            assert!((0.0..=1.0).contains(&p));
        }
    }

    #[test]
    fn a_labeller_of_another_shape_is_refused() {
        let mut m = train(&[], TrainOptions::default());
        assert_eq!(m.check(), Ok(()));
        m.features.pop();
        assert_eq!(m.check(), Err(Mismatch::Shape));
        let mut m = train(&[], TrainOptions::default());
        m.transition[0][0] = f64::NAN;
        assert_eq!(m.check(), Err(Mismatch::NotFinite));
    }
}
