//! The entity tagger: people, places and organisations from a character-level sequence
//! model (an averaged structured perceptron with Viterbi decoding over BIO tags).
//!
//! ```text
//! ArticleTokens (the one jieba.tag pass per field that the NLP step already makes)
//!   -> per field: features::Sentence (folded characters, types, the jieba word of each
//!      character with its position, length and dictionary POS tag, suffixes ahead)
//!   -> per character: ~25 feature hashes -> weights [f32; 7] (one FxHashMap lookup each)
//!   -> Viterbi over O, B-PER, I-PER, B-LOC, I-LOC, B-ORG, I-ORG (I-X only after B-X/I-X)
//!   -> spans -> Entities: people / places / organisations, in order of first appearance,
//!      deduplicated, without letter-spacing; adjacent places joined (浙江省 + 杭州市 ->
//!      浙江省杭州市) and a place inside a longer listed one dropped
//! ```
//!
//! The model is data (`config/entities.model`, fitted by `pagesift-dev train-entities`, see
//! [`train`]); [`bio`] reads the training files, [`decode`] is the Viterbi decoder and
//! [`crate::eval::entities`] scores a tagger against them.

pub mod bio;
pub mod compiled;
pub mod decode;
pub mod features;
pub mod train;
pub mod vocab;

use std::fmt::Write as _;

use rustc_hash::FxHashMap;

use features::{FeatureHash, Sentence, Sink, Template, WordClass, WordClasses};

use super::tokens::ArticleTokens;

pub use decode::{
    LANE, LANES, TAG_OF_LANE, Trans, Weights, ZERO, allowed, masked, tag_order, to_lanes, viterbi,
};

/// Number of BIO tags.
pub const NTAGS: usize = 7;

/// The tags, by index: `O`, then `B-`/`I-` of each [`Kind`].
pub const TAGS: [&str; NTAGS] = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"];

/// The index of the tag named `name`.
pub fn tag_index(name: &str) -> Option<u8> {
    TAGS.iter()
        .position(|t| *t == name)
        .and_then(|i| u8::try_from(i).ok())
}

/// The kinds of entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A person (`PER`).
    Person,
    /// A place (`LOC`).
    Place,
    /// An organisation (`ORG`).
    Organization,
}

impl Kind {
    /// Every kind, in tag order.
    pub const ALL: [Kind; 3] = [Kind::Person, Kind::Place, Kind::Organization];

    /// The kind's suffix in BIO tags (`PER`, `LOC`, `ORG`).
    pub fn label(self) -> &'static str {
        match self {
            Kind::Person => "PER",
            Kind::Place => "LOC",
            Kind::Organization => "ORG",
        }
    }

    /// The kind a tag belongs to (`None` for `O`).
    fn of_tag(tag: u8) -> Option<Kind> {
        match tag {
            1 | 2 => Some(Kind::Person),
            3 | 4 => Some(Kind::Place),
            5 | 6 => Some(Kind::Organization),
            _ => None,
        }
    }
}

/// A tagged span: characters `start..end` of a sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    /// The entity's kind.
    pub kind: Kind,
    /// First character (character offset).
    pub start: usize,
    /// One past the last character.
    pub end: usize,
}

/// The spans of a BIO tag sequence (an `I-X` without a `B-X` before it starts a span).
pub fn spans(tags: &[u8]) -> Vec<Span> {
    let mut out = Vec::new();
    spans_into(tags, &mut out);
    out
}

/// [`spans`] into a reusable buffer (cleared first).
pub fn spans_into(tags: &[u8], out: &mut Vec<Span>) {
    out.clear();
    let mut open: Option<Span> = None;
    for (i, &t) in tags.iter().enumerate() {
        let kind = Kind::of_tag(t);
        let continues = t % 2 == 0 && kind.is_some() && open.is_some_and(|s| Some(s.kind) == kind);
        if continues {
            if let Some(s) = open.as_mut() {
                s.end = i + 1;
            }
            continue;
        }
        out.extend(open.take());
        open = kind.map(|kind| Span {
            kind,
            start: i,
            end: i + 1,
        });
    }
    out.extend(open);
}

/// Errors reading a model file.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A line does not parse.
    #[error("entity model line {line}: {message}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The file has no `version` line or no `tags` line.
    #[error("entity model: missing `{0}` line")]
    Missing(&'static str),
}

/// The header line of a model file.
pub const MODEL_HEADER: &str = "# pagesift entity tagger: averaged perceptron over BIO tags";

/// Entity tagger weights, loaded once (laid out for lookup: [`compiled`]).
#[derive(Debug, Clone)]
pub struct Tagger {
    version: String,
    /// Feature weight rows of the model (bias and transitions not counted).
    rows: usize,
    compiled: compiled::Compiled,
}

/// The name of previous tag `p` in a transition feature (`^` for the start).
fn transition_value(p: usize) -> &'static str {
    TAGS.get(p).copied().unwrap_or("^")
}

/// The row of `trans` (previous tag, [`NTAGS`]: the start) a transition feature with `value`
/// is the weights of.
fn transition_row<'t>(
    trans: &'t mut [[f32; NTAGS]; NTAGS + 1],
    value: &str,
) -> Option<&'t mut [f32; NTAGS]> {
    (0..=NTAGS)
        .find(|p| transition_value(*p) == value)
        .and_then(|p| trans.get_mut(p))
}

/// The rows of a model file: its version, `(template, value, weights)` per line, and the
/// word classes its `KW` features read.
type Rows<'a> = (String, Vec<(Template, &'a str, [f32; NTAGS])>, WordClasses);

/// Parses a model file (see [`Tagger::write_model`]) into its rows.
fn parse_model(text: &str) -> Result<Rows<'_>, ModelError> {
    let mut version = None;
    let mut tags_seen = false;
    let mut rows: Vec<(Template, &str, [f32; NTAGS])> = Vec::new();
    let mut classes = WordClasses::default();
    for (no, line) in text.lines().enumerate() {
        let bad = |message: String| ModelError::Line {
            line: no + 1,
            message,
        };
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.split('\t');
        let (Some(key), Some(value), Some(rest), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            if let Some(v) = line.strip_prefix("version\t") {
                version = Some(v.to_owned());
                continue;
            }
            if let Some(t) = line.strip_prefix("tags\t") {
                if t.split(' ').ne(TAGS) {
                    return Err(bad(format!("tags `{t}` are not {}", TAGS.join(" "))));
                }
                tags_seen = true;
                continue;
            }
            return Err(bad("expected `template<TAB>value<TAB>weights`".to_owned()));
        };
        if key == CLASS_KEY {
            let class = rest.split_once(' ').and_then(|(l, r)| {
                Some(WordClass {
                    left: l.parse().ok()?,
                    right: r.parse().ok()?,
                })
            });
            let class = class.ok_or_else(|| bad(format!("bad word classes `{rest}`")))?;
            classes.insert(value, class);
            continue;
        }
        let template =
            Template::from_name(key).ok_or_else(|| bad(format!("unknown template `{key}`")))?;
        let mut w = [0.0f32; NTAGS];
        for item in rest.split(' ') {
            let parsed = item.split_once(':').and_then(|(t, x)| {
                let t: usize = t.parse().ok().filter(|t| *t < NTAGS)?;
                let x: f32 = x.parse().ok().filter(|x: &f32| x.is_finite())?;
                Some((t, x))
            });
            let (t, x) = parsed.ok_or_else(|| bad(format!("bad weight `{item}`")))?;
            w[t] = x;
        }
        rows.push((template, value, w));
    }
    let version = version.ok_or(ModelError::Missing("version"))?;
    if !tags_seen {
        return Err(ModelError::Missing("tags"));
    }
    Ok((version, rows, classes))
}

/// The key of a word-classes line in a model file: `class<TAB>word<TAB>left right`.
const CLASS_KEY: &str = "class";

impl Tagger {
    /// Builds a tagger from weights: `(template, value) -> weights`, transition weights under
    /// [`Template::Transition`] (value: the previous tag's name or `^`).
    pub fn from_weights<'a>(
        version: String,
        features: impl IntoIterator<Item = (Template, &'a str, [f32; NTAGS])>,
        classes: &WordClasses,
    ) -> Tagger {
        let rows: Vec<(Template, &str, [f32; NTAGS])> = features.into_iter().collect();
        let count = rows
            .iter()
            .filter(|r| !matches!(r.0, Template::Bias | Template::Transition))
            .count();
        Tagger {
            version,
            rows: count,
            compiled: compiled::Compiled::new(&rows, classes),
        }
    }

    /// Parses a model file (see [`Tagger::write_model`]).
    pub fn from_model(text: &str) -> Result<Tagger, ModelError> {
        let (version, rows, classes) = parse_model(text)?;
        Ok(Tagger::from_weights(version, rows, &classes))
    }

    /// The model file of weights `rows` (template, value, weights), sorted so the output
    /// depends only on the weights: a header, `version`, `tags`, then one line per feature,
    /// `template<TAB>value<TAB>tag:weight …` with the non-zero weights, `decimals` places, and
    /// last the word classes, `class<TAB>word<TAB>left right`, sorted by word.
    pub fn write_model(
        version: &str,
        rows: &mut [(Template, String, [f32; NTAGS])],
        decimals: usize,
        classes: &WordClasses,
    ) -> String {
        rows.sort_by(|a, b| (a.0 as u8, &a.1).cmp(&(b.0 as u8, &b.1)));
        let mut out = String::new();
        let _ = writeln!(out, "{MODEL_HEADER}");
        let _ = writeln!(out, "version\t{version}");
        let _ = writeln!(out, "tags\t{}", TAGS.join(" "));
        for (template, value, w) in rows.iter() {
            let mut first = true;
            for (t, x) in w.iter().enumerate() {
                if *x == 0.0 {
                    continue;
                }
                if first {
                    let _ = write!(out, "{}\t{value}\t", template.name());
                    first = false;
                } else {
                    out.push(' ');
                }
                let _ = write!(out, "{t}:{x:.decimals$}");
            }
            if !first {
                out.push('\n');
            }
        }
        for (word, class) in classes.sorted() {
            let _ = writeln!(out, "{CLASS_KEY}\t{word}\t{} {}", class.left, class.right);
        }
        out
    }

    /// The model's version string (goes into `pipeline.entities`).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Number of feature weight rows of the model.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether the model has no feature weights.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Number of lookup records the rows were folded into ([`compiled`]).
    pub fn records(&self) -> usize {
        self.compiled.records()
    }

    /// The emission scores of `text` given its jieba tokens (`jieba.tag(text, false)`): one
    /// row per character, in tag order (`row[t]`: tag `t`; `row[NTAGS..]`: padding, zero).
    pub fn emissions(&self, text: &str, tokens: &[jieba_rs::Tag<'_>]) -> Vec<Weights> {
        let mut work = compiled::Work::default();
        self.compiled.emissions(text, tokens, &mut work);
        work.emit.iter().map(tag_order).collect()
    }

    /// Tags `text` given its jieba tokens; `scratch` holds reusable buffers, the tags end up
    /// in `scratch.tags`.
    pub fn tag_into(&self, text: &str, tokens: &[jieba_rs::Tag<'_>], scratch: &mut Scratch) {
        self.compiled.emissions(text, tokens, &mut scratch.work);
        viterbi(
            &scratch.work.emit,
            &self.compiled.trans,
            &mut scratch.scores,
            &mut scratch.tags,
        );
    }

    /// The spans of `text`, given its jieba tokens (`jieba.tag(text, false)`).
    pub fn tag(&self, text: &str, tokens: &[jieba_rs::Tag<'_>]) -> Vec<Span> {
        let mut scratch = Scratch::default();
        self.tag_into(text, tokens, &mut scratch);
        spans(&scratch.tags)
    }

    /// The entities of one article, from its tokens (reading order: headline block, body,
    /// captions).
    pub fn article_entities(&self, tokens: &ArticleTokens<'_>) -> Entities {
        self.article_entities_with(tokens, &mut Scratch::default())
    }

    /// [`Tagger::article_entities`] with reusable buffers (one `scratch` for the articles of
    /// a page).
    pub fn article_entities_with(
        &self,
        tokens: &ArticleTokens<'_>,
        scratch: &mut Scratch,
    ) -> Entities {
        let mut entities = Entities::default();
        for field in &tokens.fields {
            self.tag_into(field.text, &field.tokens, scratch);
            spans_into(&scratch.tags, &mut scratch.spans);
            if scratch.spans.is_empty() {
                continue;
            }
            let (text, tokens) = (field.text, &field.tokens);
            entities.add_spans(text, &scratch.spans, |k| byte_at(text, tokens, k));
        }
        entities.finish();
        entities
    }
}

/// The byte offset in `text` of character `k` (`text.len()` at the end), found through the
/// tokens that cover it (each knows its character and byte start); without tokens, by
/// walking the text.
fn byte_at(text: &str, tokens: &[jieba_rs::Tag<'_>], k: usize) -> Option<usize> {
    let within = |s: &str, k: usize| {
        s.char_indices()
            .map(|(b, _)| b)
            .chain(std::iter::once(s.len()))
            .nth(k)
    };
    if tokens.is_empty() {
        return within(text, k);
    }
    let i = tokens.partition_point(|t| t.end <= k);
    match tokens.get(i) {
        Some(t) => within(t.word, k.checked_sub(t.start)?).map(|b| t.byte_start + b),
        None => (tokens.last().map(|t| t.end) == Some(k)).then_some(text.len()),
    }
}

/// The emission scores of a model computed the slow way, one hash lookup per feature that
/// [`Sentence::features`] emits: the definition the tagger's records ([`compiled`]) must
/// equal (tests compare them).
#[derive(Debug, Clone)]
pub struct Reference {
    weights: FxHashMap<u64, [f32; NTAGS]>,
    classes: WordClasses,
    bias: [f32; NTAGS],
    trans: Trans,
}

impl Reference {
    /// The reference of a model file.
    pub fn from_model(text: &str) -> Result<Reference, ModelError> {
        let (_, rows, classes) = parse_model(text)?;
        let mut weights = FxHashMap::default();
        let mut bias = [0.0; NTAGS];
        let mut trans = [[0.0f32; NTAGS]; NTAGS + 1];
        for (template, value, w) in rows {
            match template {
                Template::Bias => bias = w,
                Template::Transition => {
                    if let Some(row) = transition_row(&mut trans, value) {
                        *row = w;
                    }
                }
                _ => {
                    weights.insert(FeatureHash::of(template, value), w);
                }
            }
        }
        Ok(Reference {
            weights,
            classes,
            bias,
            trans: masked(&trans),
        })
    }

    /// The spans of `text` given its jieba tokens, decoded from the reference emissions
    /// (for scoring feature templates before the lookup records cover them).
    pub fn tag(&self, text: &str, tokens: &[jieba_rs::Tag<'_>]) -> Vec<Span> {
        let emit: Vec<Weights> = self
            .emissions(text, tokens)
            .into_iter()
            .map(|w| to_lanes(&w))
            .collect();
        let (mut scores, mut tags) = (Vec::new(), Vec::new());
        viterbi(&emit, &self.trans, &mut scores, &mut tags);
        spans(&tags)
    }

    /// The emission scores of `text` given its jieba tokens.
    pub fn emissions(&self, text: &str, tokens: &[jieba_rs::Tag<'_>]) -> Vec<[f32; NTAGS]> {
        let mut sentence = Sentence::default();
        sentence.prepare_with(text, tokens, &self.classes);
        (0..sentence.len())
            .map(|i| {
                let mut sum = Score {
                    weights: &self.weights,
                    acc: self.bias,
                };
                sentence.features(i, &mut sum);
                sum.acc
            })
            .collect()
    }
}

/// Sums the weights of the features of one position.
struct Score<'m> {
    weights: &'m FxHashMap<u64, [f32; NTAGS]>,
    acc: [f32; NTAGS],
}

impl Sink for Score<'_> {
    const VALUES: bool = false;

    #[inline]
    fn feature(&mut self, hash: u64, _template: Template, _value: &[char]) {
        if let Some(w) = self.weights.get(&hash) {
            for (a, x) in self.acc.iter_mut().zip(w) {
                *a += *x;
            }
        }
    }
}

/// Reusable buffers of [`Tagger::tag_into`] and [`Tagger::article_entities_with`].
#[derive(Debug, Default)]
pub struct Scratch {
    work: compiled::Work,
    scores: Vec<Weights>,
    spans: Vec<Span>,
    /// The tags of the last sentence tagged.
    pub tags: Vec<u8>,
}

/// The entities of an article, as the event lists them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entities {
    /// People, in order of first appearance.
    pub people: Vec<String>,
    /// Places, in order of first appearance.
    pub places: Vec<String>,
    /// Organisations, in order of first appearance.
    pub organizations: Vec<String>,
}

impl Entities {
    /// Adds the spans of one field: `text` is the field, `byte_at(k)` the byte offset in
    /// it of character `k` (`text.len()` for the end).
    pub fn add_spans(
        &mut self,
        text: &str,
        spans: &[Span],
        byte_at: impl Fn(usize) -> Option<usize>,
    ) {
        let mut i = 0;
        while let Some(span) = spans.get(i) {
            let mut end = span.end;
            i += 1;
            // Places printed together (浙江省 杭州市) are one place.
            if span.kind == Kind::Place {
                while let Some(next) = spans.get(i)
                    && next.kind == Kind::Place
                    && next.start == end
                {
                    end = next.end;
                    i += 1;
                }
            }
            let Some(text) = byte_at(span.start)
                .zip(byte_at(end))
                .and_then(|(a, b)| text.get(a..b))
            else {
                continue;
            };
            // A line break inside a span: not one name.
            if text.contains('\n') {
                continue;
            }
            let name: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            if name.chars().count() < 2 {
                continue;
            }
            // A person's name does not end in an administrative, organisational or building
            // suffix (`…县`, `…局`, `…庙`): such a span is a place or body the tagger misread.
            if span.kind == Kind::Person && name.chars().last().is_some_and(vocab::ends_non_person)
            {
                continue;
            }
            // An organisation's name is more than its generic head: `中心` or `公司` alone
            // (`中心城区`, `该公司`) names nothing.
            if span.kind == Kind::Organization && vocab::is_org_suffix_word(&name) {
                continue;
            }
            let list = match span.kind {
                Kind::Person => &mut self.people,
                Kind::Place => &mut self.places,
                Kind::Organization => &mut self.organizations,
            };
            if !list.contains(&name) {
                list.push(name);
            }
        }
    }

    /// Drops places printed inside a longer listed place (`杭州市` when `浙江省杭州市` is
    /// listed): the longest printed span stands for them.
    pub fn finish(&mut self) {
        let places = std::mem::take(&mut self.places);
        self.places = places
            .iter()
            .filter(|p| {
                !places
                    .iter()
                    .any(|q| q.len() > p.len() && q.contains(p.as_str()))
            })
            .cloned()
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_follow_the_bio_tags() {
        // O B-PER I-PER O B-LOC B-LOC I-LOC I-ORG
        let s = spans(&[0, 1, 2, 0, 3, 3, 4, 6]);
        assert_eq!(
            s,
            vec![
                Span {
                    kind: Kind::Person,
                    start: 1,
                    end: 3
                },
                Span {
                    kind: Kind::Place,
                    start: 4,
                    end: 5
                },
                Span {
                    kind: Kind::Place,
                    start: 5,
                    end: 7
                },
                Span {
                    kind: Kind::Organization,
                    start: 7,
                    end: 8
                },
            ]
        );
        assert!(spans(&[]).is_empty());
    }

    #[test]
    fn a_model_file_round_trips_and_bad_lines_are_errors() {
        let mut rows = vec![
            (
                Template::Char0,
                "中".to_owned(),
                [0.0, 1.25, 0.0, 0.0, 0.0, 0.0, -0.5],
            ),
            (
                Template::Transition,
                "^".to_owned(),
                [0.0, 0.0, -3.0, 0.0, 0.0, 0.0, 0.0],
            ),
            (
                Template::Bias,
                String::new(),
                [0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            ),
            (Template::CharP1, "x".to_owned(), [0.0; NTAGS]),
        ];
        let text = Tagger::write_model("v1", &mut rows, 2, &WordClasses::default());
        assert!(
            !text.contains("C+1\t"),
            "all-zero rows are left out:\n{text}"
        );
        let tagger = Tagger::from_model(&text).expect("parses");
        assert_eq!(tagger.version(), "v1");
        assert_eq!(tagger.len(), 1);
        let trans = &tagger.compiled.trans;
        assert_eq!(trans.get(NTAGS, 1), 0.0);
        assert_eq!(
            trans.get(NTAGS, 2),
            f32::NEG_INFINITY,
            "start -> I-PER is masked"
        );
        // 中 alone: the bias plus C0 of 中 (its neighbours are the sentence's ends).
        let e = tagger.emissions("中", &[]);
        assert_eq!(e, vec![[0.5, 1.25, 0.0, 0.0, 0.0, 0.0, -0.5, 0.0]]);
        let again = Tagger::write_model("v1", &mut rows, 2, &WordClasses::default());
        assert_eq!(text, again);
        for bad in [
            "version\tv\ntags\tO\n",
            "version\tv\ntags\tO B-PER I-PER B-LOC I-LOC B-ORG I-ORG\nXX\ta\t0:1\n",
            "version\tv\ntags\tO B-PER I-PER B-LOC I-LOC B-ORG I-ORG\nC0\ta\t9:1\n",
            "version\tv\ntags\tO B-PER I-PER B-LOC I-LOC B-ORG I-ORG\nC0\ta\t0:x\n",
            "tags\tO B-PER I-PER B-LOC I-LOC B-ORG I-ORG\n",
            "version\tv\n",
            "garbage\n",
            "version\tv\ntags\tO B-PER I-PER B-LOC I-LOC B-ORG I-ORG\nclass\t记者\t1\n",
            "version\tv\ntags\tO B-PER I-PER B-LOC I-LOC B-ORG I-ORG\nclass\t记者\t1 x\n",
        ] {
            assert!(Tagger::from_model(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn byte_offsets_come_from_the_tokens_or_the_text() {
        let jieba = jieba_rs::Jieba::new();
        let text = "浙江省杭州市a人民政府，１２日";
        let tokens = jieba.tag(text, false);
        let expected: Vec<usize> = text
            .char_indices()
            .map(|(b, _)| b)
            .chain([text.len()])
            .collect();
        for (k, b) in expected.iter().enumerate() {
            assert_eq!(byte_at(text, &tokens, k), Some(*b), "{k}");
            assert_eq!(byte_at(text, &[], k), Some(*b), "{k}");
        }
        assert_eq!(byte_at(text, &tokens, expected.len()), None);
        assert_eq!(byte_at(text, &[], expected.len()), None);
    }

    #[test]
    fn event_lists_join_adjacent_places_drop_nested_ones_bare_heads_and_letter_spacing() {
        let text = "浙江省杭州市孙 雄在杭州市某某公司，孙雄某某庙中心城区";
        let bytes: Vec<usize> = text
            .char_indices()
            .map(|(b, _)| b)
            .chain([text.len()])
            .collect();
        let span = |kind, start, end| Span { kind, start, end };
        let mut e = Entities::default();
        e.add_spans(
            text,
            &[
                span(Kind::Place, 0, 3),
                span(Kind::Place, 3, 6),
                span(Kind::Person, 6, 9),
                span(Kind::Place, 10, 13),
                span(Kind::Organization, 13, 17),
                span(Kind::Person, 18, 20),
                span(Kind::Person, 20, 23),
                span(Kind::Organization, 23, 25),
            ],
            |k| bytes.get(k).copied(),
        );
        e.finish();
        assert_eq!(e.places, vec!["浙江省杭州市"]);
        assert_eq!(e.people, vec!["孙雄"]);
        assert_eq!(e.organizations, vec!["某某公司"]);
    }
}
