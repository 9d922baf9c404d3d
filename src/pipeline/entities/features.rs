//! The features of one character of a sentence, for the tagger ([`super::Tagger`]) and its
//! training ([`super::train`]).
//!
//! ```text
//! text + its jieba tokens (one tag pass, HMM off: the pass the NLP step makes)
//!   -> Sentence: per character its folded form, its type, the word it falls in
//!      (position B/M/E/S, length, dictionary POS tag), the nearest suffix ahead
//!   -> per character ~27 features, each (template, value characters)
//!   -> hashed to a u64 ([`FeatureHash`]) without allocating
//! ```
//!
//! A feature's identity is its template and the characters of its value; the model file
//! stores both as text (`C-1C0\t浙江`) and the loader hashes them the same way, so the hot
//! loop never builds a string.

use jieba_rs::Tag;

use crate::pipeline::normalize::is_cjk;

use super::vocab::{is_org_suffix_char, is_org_suffix_word, is_place_suffix_char, is_surname};

/// Stands before the first character of a sentence (a private-use character).
pub const BOS: char = '\u{E000}';
/// Stands after the last character of a sentence (a private-use character).
pub const EOS: char = '\u{E001}';

/// The feature templates, in the order of [`TEMPLATE_NAMES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Template {
    /// A bias feature that fires everywhere (its value is empty).
    Bias,
    /// The character two before.
    CharM2,
    /// The character before.
    CharM1,
    /// The character.
    Char0,
    /// The character after.
    CharP1,
    /// The character two after.
    CharP2,
    /// The two characters before.
    BigramM2M1,
    /// The character before and this one.
    BigramM10,
    /// This character and the next.
    Bigram0P1,
    /// The two characters after.
    BigramP1P2,
    /// The characters before and after.
    BigramM1P1,
    /// Position in the jieba word (B/M/E/S) and the word's dictionary POS tag.
    WordPosTag,
    /// Position in the word, its length (capped at 6) and its POS tag.
    WordPosLenTag,
    /// Position in the word and the word itself (words of two characters or more).
    WordPosWord,
    /// At a word start: the POS tag of the word before and of this word.
    PrevWordTag,
    /// At a word end: the POS tag of this word and of the word after.
    NextWordTag,
    /// At a word start: the word before (up to six characters).
    PrevWord,
    /// At a word end: the word after (up to six characters).
    NextWord,
    /// Gazetteer: the word's class in the dictionary (`nr*` person, `ns*` place, `nt*`
    /// organisation) and the position in it.
    Gazetteer,
    /// The character is a common family name, and whether it stands alone or starts a word.
    Surname,
    /// Suffix classes of this character and the next (administrative / organisational).
    Suffix,
    /// Kind and distance (bucketed) of the nearest suffix ahead in the same clause.
    SuffixAhead,
    /// The types (CJK, digit, Latin, full-width, punctuation …) of characters -1, 0, +1.
    CharTypes,
    /// The character and its position in the jieba word (B/M/E/S).
    CharWordPos,
    /// Position in the word and the word's last character (words of two characters or
    /// more): a word ending in 局 or 村 whatever the word.
    WordLast,
    /// The previous tag (transition weights; value: the previous tag's index or `^`).
    Transition,
    /// Distributional classes ([`WordClasses`]) of the word this character falls in (by
    /// position, words of two characters or more) and of the words before and after it (at
    /// a word start or end, words of up to six characters).
    WordClass,
}

/// Names of the templates in the model file, indexed by `Template as usize`.
pub const TEMPLATE_NAMES: [&str; 27] = [
    "B", "C-2", "C-1", "C0", "C+1", "C+2", "C-2C-1", "C-1C0", "C0C+1", "C+1C+2", "C-1C+1", "WT",
    "WLT", "WW", "PWT", "NWT", "PW", "NW", "GZ", "SN", "SF", "SA", "CT", "CWP", "WL", "TR", "KW",
];

/// Every template, indexed by `Template as usize`.
const TEMPLATES: [Template; 27] = [
    Template::Bias,
    Template::CharM2,
    Template::CharM1,
    Template::Char0,
    Template::CharP1,
    Template::CharP2,
    Template::BigramM2M1,
    Template::BigramM10,
    Template::Bigram0P1,
    Template::BigramP1P2,
    Template::BigramM1P1,
    Template::WordPosTag,
    Template::WordPosLenTag,
    Template::WordPosWord,
    Template::PrevWordTag,
    Template::NextWordTag,
    Template::PrevWord,
    Template::NextWord,
    Template::Gazetteer,
    Template::Surname,
    Template::Suffix,
    Template::SuffixAhead,
    Template::CharTypes,
    Template::CharWordPos,
    Template::WordLast,
    Template::Transition,
    Template::WordClass,
];

/// Longest word, in characters, whose class is a feature of the word before or after it
/// (as for the PW and NW templates).
pub const CONTEXT_WORD: u32 = 6;

/// Distributional classes of words, fitted on unlabelled text by `pagesift-dev
/// build-clusters` ([`crate::train::clusters`]): per word the class by the words before it
/// (`left`) and by the words after it (`right`). Rare and unseen names and organisation words
/// share classes with frequent ones, which the labelled sentences alone cannot teach.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WordClasses {
    map: rustc_hash::FxHashMap<String, WordClass>,
}

/// The two classes of a word ([`WordClasses`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WordClass {
    /// Class by the words before it.
    pub left: u16,
    /// Class by the words after it.
    pub right: u16,
}

impl WordClasses {
    /// The classes of `word`, if it has them.
    pub fn get(&self, word: &str) -> Option<WordClass> {
        self.map.get(word).copied()
    }

    /// Sets the classes of `word`.
    pub fn insert(&mut self, word: &str, class: WordClass) {
        self.map.insert(word.to_owned(), class);
    }

    /// Number of words with classes.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no word has classes.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The words and their classes, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, WordClass)> {
        self.map.iter().map(|(w, c)| (w.as_str(), *c))
    }

    /// The words and their classes, sorted by word (for writing them out).
    pub fn sorted(&self) -> Vec<(&str, WordClass)> {
        let mut all: Vec<(&str, WordClass)> = self.iter().collect();
        all.sort_unstable_by(|a, b| a.0.cmp(b.0));
        all
    }

    /// Parses `build-clusters` output: `#` comments, then `word<TAB>left<TAB>right` lines.
    pub fn parse(text: &str) -> Result<WordClasses, String> {
        let mut classes = WordClasses::default();
        for (no, line) in text.lines().enumerate() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut f = line.split('\t');
            let parsed = match (f.next(), f.next(), f.next(), f.next()) {
                (Some(w), Some(l), Some(r), None) if !w.is_empty() => l
                    .parse()
                    .ok()
                    .zip(r.parse().ok())
                    .map(|(left, right)| (w, WordClass { left, right })),
                _ => None,
            };
            let (word, class) = parsed
                .ok_or_else(|| format!("line {}: expected `word<TAB>left<TAB>right`", no + 1))?;
            classes.insert(word, class);
        }
        Ok(classes)
    }
}

/// A class as three hexadecimal digits (the value characters of [`Template::WordClass`]).
fn class_digits(class: u16) -> [char; 3] {
    let d = |x: u16| char::from_digit(u32::from(x & 15), 16).unwrap_or('0');
    [d(class >> 8), d(class >> 4), d(class)]
}

/// Reads the value of a [`Template::WordClass`] feature: a letter saying which class of which
/// word (`L`/`R` and the position B/M/E: the word's own left/right class; `p`: the right
/// class of the word before; `n`: the left class of the word after), then the class as three
/// hexadecimal digits.
pub fn parse_word_class_value(value: &str) -> Option<(char, Option<char>, u16)> {
    let mut it = value.chars();
    let which = it.next()?;
    let pos = match which {
        'L' | 'R' => Some(it.next()?),
        'p' | 'n' => None,
        _ => return None,
    };
    let digits = it.as_str();
    (digits.len() == 3)
        .then(|| u16::from_str_radix(digits, 16).ok())
        .flatten()
        .map(|class| (which, pos, class))
}

impl Template {
    /// The template named `name` in the model file.
    pub fn from_name(name: &str) -> Option<Template> {
        TEMPLATE_NAMES
            .iter()
            .position(|n| *n == name)
            .and_then(|i| TEMPLATES.get(i).copied())
    }

    /// The template's name in the model file.
    pub fn name(self) -> &'static str {
        TEMPLATE_NAMES[self as usize]
    }
}

/// The hash of a feature: its template and the characters of its value, mixed 32 bits at a
/// time (FNV-1a style, then a final avalanche). Deterministic across runs and platforms.
#[derive(Debug, Clone, Copy)]
pub struct FeatureHash(u64);

impl FeatureHash {
    /// Starts the hash of a feature of `template`.
    #[inline]
    pub fn new(template: Template) -> FeatureHash {
        FeatureHash(0xcbf2_9ce4_8422_2325 ^ u64::from(template as u8)).mix(0xff)
    }

    #[inline]
    fn mix(self, x: u32) -> FeatureHash {
        FeatureHash((self.0 ^ u64::from(x)).wrapping_mul(0x0000_0100_0000_01b3))
    }

    /// Adds one character of the value.
    #[inline]
    pub fn push(self, c: char) -> FeatureHash {
        self.mix(u32::from(c))
    }

    /// Adds the characters of `s`.
    #[inline]
    pub fn push_str(self, s: &str) -> FeatureHash {
        s.chars().fold(self, FeatureHash::push)
    }

    /// The final 64-bit value (splitmix64's finaliser, so nearby inputs spread out).
    #[inline]
    pub fn finish(self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// The hash of a feature given as template and value text (how the model file has it).
    pub fn of(template: Template, value: &str) -> u64 {
        FeatureHash::new(template).push_str(value).finish()
    }
}

/// Receives the features of a sentence, one position at a time.
pub trait Sink {
    /// Whether the sink reads the values' characters (training does, to name the features
    /// in the model file); when not, they are not even written down.
    const VALUES: bool;

    /// Feature `template` with the value `value` fires at the current position; `hash` is
    /// [`FeatureHash::of`] of the two (`value` is empty unless [`Sink::VALUES`]).
    fn feature(&mut self, hash: u64, template: Template, value: &[char]);
}

/// Longest feature value, in characters (longer words are not features).
const VALUE_CAP: usize = 16;

/// A feature value being built: its hash, and when `KEEP` its characters (on the stack).
struct Value<const KEEP: bool> {
    buf: [char; VALUE_CAP],
    len: usize,
    hash: FeatureHash,
    template: Template,
}

impl<const KEEP: bool> Value<KEEP> {
    #[inline]
    fn new(template: Template) -> Value<KEEP> {
        Value {
            buf: [' '; VALUE_CAP],
            len: 0,
            hash: FeatureHash::new(template),
            template,
        }
    }

    #[inline]
    fn push(mut self, c: char) -> Value<KEEP> {
        if KEEP && let Some(slot) = self.buf.get_mut(self.len) {
            *slot = c;
        }
        self.len += 1;
        self.hash = self.hash.push(c);
        self
    }

    #[inline]
    fn push_str(self, s: &str) -> Value<KEEP> {
        s.chars().fold(self, Value::push)
    }

    #[inline]
    fn emit<S: Sink>(self, sink: &mut S) {
        let value = if KEEP {
            self.buf.get(..self.len).unwrap_or(&self.buf)
        } else {
            &[]
        };
        sink.feature(self.hash.finish(), self.template, value);
    }
}

/// The letters of the character types in feature values, indexed by [`type_code`]:
/// sentence start, sentence end, digit, full-width digit, Latin letter, full-width Latin
/// letter, CJK, space or control, punctuation, other.
pub const TYPE_CHARS: [char; 10] = ['^', '$', 'D', 'd', 'L', 'l', 'H', 'S', 'P', 'O'];

/// The type of a character as an index into [`TYPE_CHARS`].
pub fn type_code(c: char) -> u8 {
    match c {
        BOS => 0,
        EOS => 1,
        '0'..='9' => 2,
        '０'..='９' => 3,
        'a'..='z' | 'A'..='Z' => 4,
        'ａ'..='ｚ' | 'Ａ'..='Ｚ' => 5,
        c if is_cjk(c) => 6,
        c if c.is_whitespace() || c.is_control() => 7,
        c if c.is_ascii_punctuation() => 8,
        '\u{3000}'..='\u{303f}' | '\u{ff00}'..='\u{ffef}' | '\u{2010}'..='\u{206f}' | '·' => 8,
        _ => 9,
    }
}

/// The type of a character, as one ASCII letter in feature values ([`TYPE_CHARS`]).
pub fn char_type(c: char) -> char {
    TYPE_CHARS[usize::from(type_code(c))]
}

/// The distance bucket of the suffix-ahead feature (`None`: too far to be a feature).
pub fn ahead_bucket(distance: u32) -> Option<char> {
    match distance {
        0..=3 => char::from_digit(distance, 10),
        4..=5 => Some('4'),
        6..=8 => Some('6'),
        9..=12 => Some('9'),
        _ => None,
    }
}

/// The form of a character the features see: full-width ASCII folded to half-width, digits
/// to `0`, whitespace and control characters to a space.
pub fn fold(c: char) -> char {
    let c = match c {
        '\u{ff01}'..='\u{ff5e}' => char::from_u32(u32::from(c) - 0xfee0).unwrap_or(c),
        '\u{3000}' => ' ',
        c => c,
    };
    match c {
        '0'..='9' => '0',
        c if c.is_whitespace() || c.is_control() => ' ',
        c => c,
    }
}

/// Whether a clause ends at `c` (the suffix-ahead feature does not look past it).
fn ends_clause(t: char) -> bool {
    matches!(t, 'P' | 'S' | '$')
}

/// The word a character falls in.
#[derive(Debug, Clone, Copy)]
struct InWord {
    /// `B`, `M`, `E` or `S`.
    pos: char,
    /// Index of the word in the token list.
    word: u32,
}

/// One sentence (a field's text) prepared for feature extraction; buffers are reused from
/// one sentence to the next.
#[derive(Debug, Default)]
pub struct Sentence<'a> {
    /// Folded characters ([`fold`]).
    chars: Vec<char>,
    /// Character types ([`char_type`]) of the original characters.
    types: Vec<char>,
    /// The word each character falls in.
    words: Vec<InWord>,
    /// The tokens: text, length in characters, dictionary POS tag.
    tokens: Vec<(&'a str, u32, &'a str)>,
    /// Suffix class of each character (`P` place, `O` organisation, `W` end of an
    /// organisation word, ' ' none).
    suffix: Vec<char>,
    /// The nearest suffix at or after each character in its clause: class and distance.
    ahead: Vec<(char, u32)>,
    /// The classes of each token ([`WordClasses`]).
    classes: Vec<Option<WordClass>>,
}

impl<'a> Sentence<'a> {
    /// Number of characters.
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    /// Whether the sentence is empty.
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// Prepares `text` with its jieba tokens (`jieba.tag(text, false)`, covering `text`),
    /// without word classes.
    pub fn prepare(&mut self, text: &'a str, tags: &[Tag<'a>]) {
        self.prepare_with(text, tags, &WordClasses::default());
    }

    /// Prepares `text` with its jieba tokens and the tokens' word classes.
    pub fn prepare_with(&mut self, text: &'a str, tags: &[Tag<'a>], classes: &WordClasses) {
        self.classes.clear();
        if !classes.is_empty() {
            self.classes
                .extend(tags.iter().map(|t| classes.get(t.word)));
        }
        self.chars.clear();
        self.types.clear();
        self.words.clear();
        self.tokens.clear();
        self.suffix.clear();
        self.ahead.clear();
        for (w, tag) in tags.iter().enumerate() {
            let n = tag.word.chars().count();
            let word = u32::try_from(w).unwrap_or(u32::MAX);
            self.tokens.push((tag.word, n as u32, tag.tag));
            let org_word = n >= 2 && is_org_suffix_word(tag.word);
            for (k, c) in tag.word.chars().enumerate() {
                let pos = match (n, k) {
                    (1, _) => 'S',
                    (_, 0) => 'B',
                    (_, k) if k + 1 == n => 'E',
                    _ => 'M',
                };
                self.chars.push(fold(c));
                self.types.push(char_type(c));
                self.words.push(InWord { pos, word });
                self.suffix.push(if org_word && k + 1 == n {
                    'W'
                } else if is_org_suffix_char(c) {
                    'O'
                } else if is_place_suffix_char(c) {
                    'P'
                } else {
                    ' '
                });
            }
        }
        // Tokens that do not cover the text (never from jieba): the text's own characters.
        if self.chars.is_empty() && !text.is_empty() {
            for c in text.chars() {
                self.chars.push(fold(c));
                self.types.push(char_type(c));
                self.words.push(InWord {
                    pos: 'S',
                    word: u32::MAX,
                });
                self.suffix.push(' ');
            }
        }
        self.ahead.resize(self.chars.len(), (' ', 0));
        let mut next = (' ', 0u32);
        for i in (0..self.chars.len()).rev() {
            if ends_clause(self.types[i]) {
                next = (' ', 0);
            } else if self.suffix[i] != ' ' {
                next = (self.suffix[i], 0);
            } else if next.0 != ' ' {
                next.1 += 1;
            }
            self.ahead[i] = next;
        }
    }

    fn char_at(&self, i: isize) -> char {
        if i < 0 {
            BOS
        } else {
            self.chars.get(i as usize).copied().unwrap_or(EOS)
        }
    }

    fn type_at(&self, i: isize) -> char {
        if i < 0 {
            '^'
        } else {
            self.types.get(i as usize).copied().unwrap_or('$')
        }
    }

    fn token(&self, word: u32) -> Option<&(&'a str, u32, &'a str)> {
        self.tokens.get(word as usize)
    }

    /// The classes of token `word` when it is a context word (at most [`CONTEXT_WORD`]
    /// characters).
    fn context_class(&self, word: Option<u32>) -> Option<WordClass> {
        let word = word?;
        let &(_, len, _) = self.token(word)?;
        (len <= CONTEXT_WORD)
            .then(|| self.classes.get(word as usize).copied().flatten())
            .flatten()
    }

    #[inline]
    fn word_class_features<S: Sink, const KEEP: bool>(&self, at: InWord, len: u32, sink: &mut S) {
        let emit = |sink: &mut S, which: char, pos: Option<char>, class: u16| {
            let d = class_digits(class);
            let mut v = Value::<KEEP>::new(Template::WordClass).push(which);
            if let Some(p) = pos {
                v = v.push(p);
            }
            v.push(d[0]).push(d[1]).push(d[2]).emit(sink);
        };
        if len >= 2
            && (len as usize) < VALUE_CAP
            && let Some(k) = self.classes.get(at.word as usize).copied().flatten()
        {
            emit(sink, 'L', Some(at.pos), k.left);
            emit(sink, 'R', Some(at.pos), k.right);
        }
        if matches!(at.pos, 'B' | 'S')
            && let Some(k) = self.context_class(at.word.checked_sub(1))
        {
            emit(sink, 'p', None, k.right);
        }
        if matches!(at.pos, 'E' | 'S')
            && let Some(k) = self.context_class(at.word.checked_add(1))
        {
            emit(sink, 'n', None, k.left);
        }
    }

    /// Emits the features of position `i` (a character index, `< self.len()`) into `sink`.
    pub fn features<S: Sink>(&self, i: usize, sink: &mut S) {
        // The values' characters are kept only for a sink that reads them.
        if S::VALUES {
            self.features_with::<S, true>(i, sink);
        } else {
            self.features_with::<S, false>(i, sink);
        }
    }

    #[inline]
    fn features_with<S: Sink, const KEEP: bool>(&self, i: usize, sink: &mut S) {
        let ii = i as isize;
        let c = |d: isize| self.char_at(ii + d);
        Value::<KEEP>::new(Template::Bias).emit(sink);
        Value::<KEEP>::new(Template::CharM2).push(c(-2)).emit(sink);
        Value::<KEEP>::new(Template::CharM1).push(c(-1)).emit(sink);
        Value::<KEEP>::new(Template::Char0).push(c(0)).emit(sink);
        Value::<KEEP>::new(Template::CharP1).push(c(1)).emit(sink);
        Value::<KEEP>::new(Template::CharP2).push(c(2)).emit(sink);
        Value::<KEEP>::new(Template::BigramM2M1)
            .push(c(-2))
            .push(c(-1))
            .emit(sink);
        Value::<KEEP>::new(Template::BigramM10)
            .push(c(-1))
            .push(c(0))
            .emit(sink);
        Value::<KEEP>::new(Template::Bigram0P1)
            .push(c(0))
            .push(c(1))
            .emit(sink);
        Value::<KEEP>::new(Template::BigramP1P2)
            .push(c(1))
            .push(c(2))
            .emit(sink);
        Value::<KEEP>::new(Template::BigramM1P1)
            .push(c(-1))
            .push(c(1))
            .emit(sink);
        Value::<KEEP>::new(Template::CharTypes)
            .push(self.type_at(ii - 1))
            .push(self.type_at(ii))
            .push(self.type_at(ii + 1))
            .emit(sink);

        let Some(at) = self.words.get(i).copied() else {
            return;
        };
        Value::<KEEP>::new(Template::CharWordPos)
            .push(c(0))
            .push(at.pos)
            .emit(sink);
        if let Some(&(word, len, tag)) = self.token(at.word) {
            if !self.classes.is_empty() {
                self.word_class_features::<S, KEEP>(at, len, sink);
            }
            if len >= 2
                && let Some(last) = word.chars().next_back()
            {
                Value::<KEEP>::new(Template::WordLast)
                    .push(at.pos)
                    .push(fold(last))
                    .emit(sink);
            }
            Value::<KEEP>::new(Template::WordPosTag)
                .push(at.pos)
                .push_str(tag)
                .emit(sink);
            let shown = char::from_digit(len.min(6), 10).unwrap_or('6');
            Value::<KEEP>::new(Template::WordPosLenTag)
                .push(at.pos)
                .push(shown)
                .push_str(tag)
                .emit(sink);
            if len >= 2 && (len as usize) < VALUE_CAP {
                Value::<KEEP>::new(Template::WordPosWord)
                    .push(at.pos)
                    .push_str(word)
                    .emit(sink);
            }
            if matches!(at.pos, 'B' | 'S') {
                let prev = at
                    .word
                    .checked_sub(1)
                    .and_then(|w| self.token(w))
                    .map_or("^", |t| t.2);
                Value::<KEEP>::new(Template::PrevWordTag)
                    .push_str(prev)
                    .push(' ')
                    .push_str(tag)
                    .emit(sink);
                if let Some(&(w, n, _)) = at.word.checked_sub(1).and_then(|w| self.token(w))
                    && n <= CONTEXT_WORD
                {
                    Value::<KEEP>::new(Template::PrevWord)
                        .push_str(w)
                        .emit(sink);
                }
            }
            if matches!(at.pos, 'E' | 'S') {
                let next = self.token(at.word.saturating_add(1)).map_or("$", |t| t.2);
                Value::<KEEP>::new(Template::NextWordTag)
                    .push_str(tag)
                    .push(' ')
                    .push_str(next)
                    .emit(sink);
                if let Some(&(w, n, _)) = self.token(at.word.saturating_add(1))
                    && n <= CONTEXT_WORD
                {
                    Value::<KEEP>::new(Template::NextWord)
                        .push_str(w)
                        .emit(sink);
                }
            }
            let class = match tag.as_bytes() {
                [b'n', b'r', ..] => Some('P'),
                [b'n', b's', ..] => Some('L'),
                [b'n', b't', ..] => Some('O'),
                _ => None,
            };
            if let Some(class) = class
                && len >= 2
            {
                Value::<KEEP>::new(Template::Gazetteer)
                    .push(class)
                    .push(at.pos)
                    .emit(sink);
            }
        }
        let c0 = c(0);
        if is_surname(c0) && matches!(at.pos, 'B' | 'S') {
            Value::<KEEP>::new(Template::Surname)
                .push(at.pos)
                .push(self.type_at(ii + 1))
                .emit(sink);
        }
        let s0 = self.suffix.get(i).copied().unwrap_or(' ');
        let s1 = self.suffix.get(i + 1).copied().unwrap_or(' ');
        if s0 != ' ' || s1 != ' ' {
            Value::<KEEP>::new(Template::Suffix)
                .push(s0)
                .push(s1)
                .emit(sink);
        }
        if let Some(&(class, distance)) = self.ahead.get(i)
            && class != ' '
            && let Some(bucket) = ahead_bucket(distance)
        {
            Value::<KEEP>::new(Template::SuffixAhead)
                .push(class)
                .push(bucket)
                .emit(sink);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jieba_rs::Jieba;

    struct Collect(Vec<(u64, String)>);

    impl Sink for Collect {
        const VALUES: bool = true;

        fn feature(&mut self, hash: u64, template: Template, value: &[char]) {
            let value: String = value.iter().collect();
            self.0.push((hash, format!("{}\t{value}", template.name())));
        }
    }

    #[test]
    fn the_hash_of_an_emitted_feature_is_the_hash_of_its_text() {
        let jieba = Jieba::new();
        let text = "浙江省杭州市人民政府１２日发布通知。";
        let tags = jieba.tag(text, false);
        let mut s = Sentence::default();
        s.prepare(text, &tags);
        assert_eq!(s.len(), text.chars().count());
        for i in 0..s.len() {
            let mut sink = Collect(Vec::new());
            s.features(i, &mut sink);
            assert!(sink.0.len() >= 12, "{:?}", sink.0);
            for (hash, line) in sink.0 {
                let (name, value) = line.split_once('\t').expect("a tab");
                let template = Template::from_name(name).expect("a template");
                assert_eq!(hash, FeatureHash::of(template, value), "{line}");
            }
        }
    }

    #[test]
    fn word_classes_are_features_of_the_word_and_of_its_neighbours() {
        let jieba = Jieba::new();
        let text = "记者走进工厂";
        let tags = jieba.tag(text, false);
        let words: Vec<&str> = tags.iter().map(|t| t.word).collect();
        assert_eq!(words, ["记者", "走进", "工厂"]);
        let classes = WordClasses::parse("# comment\n记者\t1\t2\n走进\t3\t4\n工厂\t17\t255\n")
            .expect("parses");
        assert_eq!(classes.len(), 3);
        let mut s = Sentence::default();
        s.prepare_with(text, &tags, &classes);
        let kw = |s: &Sentence<'_>, i: usize| {
            let mut sink = Collect(Vec::new());
            s.features(i, &mut sink);
            let mut v: Vec<String> = sink
                .0
                .into_iter()
                .filter_map(|(_, l)| l.strip_prefix("KW\t").map(String::from))
                .collect();
            v.sort();
            v
        };
        // 走 starts 走进: its own classes and the right class of the word before.
        assert_eq!(kw(&s, 2), ["LB003", "RB004", "p002"]);
        // 进 ends it: own classes and the left class of the word after.
        assert_eq!(kw(&s, 3), ["LE003", "RE004", "n011"]);
        // 厂 ends the sentence: nothing after it.
        assert_eq!(kw(&s, 5), ["LE011", "RE0ff"]);
        for v in kw(&s, 2).iter().chain(&kw(&s, 3)) {
            assert!(parse_word_class_value(v).is_some(), "{v}");
        }
        assert_eq!(parse_word_class_value("p0ff"), Some(('p', None, 255)));
        assert_eq!(parse_word_class_value("LB003"), Some(('L', Some('B'), 3)));
        assert_eq!(parse_word_class_value("x003"), None);
        // Without classes no KW feature fires.
        s.prepare(text, &tags);
        assert!(kw(&s, 2).is_empty());
        assert!(WordClasses::parse("记者\t1\n").is_err());
        assert!(WordClasses::parse("记者\t1\tx\n").is_err());
    }

    #[test]
    fn templates_and_names_round_trip() {
        for (i, name) in TEMPLATE_NAMES.iter().enumerate() {
            let t = Template::from_name(name).expect("known");
            assert_eq!(t as usize, i);
            assert_eq!(t.name(), *name);
        }
        assert!(Template::from_name("nope").is_none());
    }

    #[test]
    fn folding_and_types() {
        assert_eq!(fold('７'), '0');
        assert_eq!(fold('Ａ'), 'A');
        assert_eq!(fold('\n'), ' ');
        assert_eq!(char_type('７'), 'd');
        assert_eq!(char_type('中'), 'H');
        assert_eq!(char_type('，'), 'P');
        assert_eq!(char_type('x'), 'L');
    }

    #[test]
    fn the_suffix_ahead_stops_at_punctuation() {
        let jieba = Jieba::new();
        let text = "他在某某县，今天";
        let tags = jieba.tag(text, false);
        let mut s = Sentence::default();
        s.prepare(text, &tags);
        // 某 is two before 县; after the comma nothing is ahead.
        assert_eq!(s.ahead[2], ('P', 2));
        assert_eq!(s.ahead[4], ('P', 0));
        assert_eq!(s.ahead[6].0, ' ');
    }
}
