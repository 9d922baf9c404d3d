//! The tagger's weights laid out for lookup: the model file's rows (one per template and
//! value, see [`super::features`]) folded at load time into one record per key, so a
//! character costs one table read for everything that reads only that character, one hash
//! lookup per character bigram, and the word features are summed once per token.
//!
//! ```text
//! per BMP code point (a table, no hashing): the folded character's id, its type, whether
//!   it is a family name, its suffix class
//! per character id:   the weights of C-2 C-1 C0 C+1 C+2 with that value, by offset
//! per adjacent pair:  the weights of C-2C-1 C-1C0 C0C+1 C+1C+2, by offset (one hash lookup
//!                     per pair of the sentence, read by four positions)
//! per skip pair:      C-1C+1 (one hash lookup per position)
//! per POS tag id:     WT + WLT by (length, position in the word); PWT and NWT by tag pair
//! per word:           WW by position, PW (as the word before), NW (as the word after)
//! small dense tables: character types (CT), family name (SN), suffixes (SF, SA),
//!                     gazetteer class (GZ)
//! ```
//!
//! The emission scores equal the sum of the weights of the features
//! [`super::features::Sentence::features`] emits (the definition training uses, and
//! [`super::Reference`] computes the slow way; a test compares the two).

use jieba_rs::Tag;
use rustc_hash::FxHashMap;

use super::features::{
    BOS, EOS, TYPE_CHARS, Template, WordClasses, ahead_bucket, fold, parse_word_class_value,
    type_code,
};
use super::vocab::{
    is_org_suffix_char, is_org_suffix_word, is_place_suffix_char, is_surname, org_suffix_words,
};
use super::{NTAGS, Trans, Weights, ZERO, masked, to_lanes};

/// Positions in a word, by code: begin, middle, end, single.
const POSITIONS: [char; 4] = ['B', 'M', 'E', 'S'];
/// Suffix classes, by code: none, place character, organisation character, end of an
/// organisation word.
const SUFFIXES: [char; 4] = [' ', 'P', 'O', 'W'];
/// Distance buckets of the suffix ahead, by code ([`ahead_bucket`]).
const BUCKETS: [char; 7] = ['0', '1', '2', '3', '4', '6', '9'];
/// Gazetteer classes, by code (0: none): person, place, organisation.
const GAZETTEER: [char; 4] = [' ', 'P', 'L', 'O'];
/// Number of character types.
const NTYPES: usize = TYPE_CHARS.len();
/// Word lengths the WLT template tells apart (1 ..= 6, longer words count as 6).
const LENGTHS: usize = 6;
/// Longest word (in characters) of a WW feature, plus one (the features' value cap).
const WORD_CAP: usize = 16;
/// Longest word (in characters) of a PW / NW feature (and of a context word's class).
const CONTEXT_WORD: usize = super::features::CONTEXT_WORD as usize;

/// Packed per-code-point information: the folded character's id (low 20 bits), the type code
/// (4 bits), the family-name bit and the suffix class (2 bits).
const ID_MASK: u32 = (1 << 20) - 1;
const TYPE_SHIFT: u32 = 20;
const SURNAME_BIT: u32 = 1 << 24;
const SUFFIX_SHIFT: u32 = 25;

fn code_of(table: &[char], c: char) -> Option<usize> {
    table.iter().position(|x| *x == c)
}

#[inline]
fn add(acc: &mut Weights, w: &Weights) {
    for (a, x) in acc.iter_mut().zip(w) {
        *a += *x;
    }
}

/// Weights of a record, aligned so a vector add can read them straight from memory.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[repr(C, align(32))]
struct Row(Weights);

/// All-zero record weights.
const R0: Row = Row(ZERO);

impl std::ops::Deref for Row {
    type Target = Weights;

    #[inline]
    fn deref(&self) -> &Weights {
        &self.0
    }
}

impl std::ops::DerefMut for Row {
    #[inline]
    fn deref_mut(&mut self) -> &mut Weights {
        &mut self.0
    }
}

#[inline]
fn pair_key(a: u32, b: u32) -> u64 {
    (u64::from(a) << 32) | u64::from(b)
}

/// The running hash of a word's characters (words and POS tags are looked up by it).
#[derive(Debug, Clone, Copy)]
struct StrHash(u64);

impl StrHash {
    const START: StrHash = StrHash(0xcbf2_9ce4_8422_2325);

    #[inline]
    fn push(self, c: char) -> StrHash {
        StrHash((self.0 ^ u64::from(c)).wrapping_mul(0x0000_0100_0000_01b3))
    }

    /// The final value (never 0, the empty slot of [`IdTable`]).
    #[inline]
    fn finish(self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) | 1
    }

    fn of(s: &str) -> u64 {
        s.chars().fold(StrHash::START, StrHash::push).finish()
    }
}

/// An open-addressing table from non-zero `u64` keys to record ids (0: absent): one
/// multiply, one probe in the common case.
#[derive(Debug, Clone)]
struct IdTable {
    slots: Vec<(u64, u32)>,
    shift: u32,
}

impl IdTable {
    fn new(entries: &FxHashMap<u64, u32>) -> IdTable {
        // At most a quarter full: a lookup of a pair the model lacks ends after about one probe.
        let size = (entries.len() * 4).max(16).next_power_of_two();
        let mut t = IdTable {
            slots: vec![(0, 0); size],
            shift: 64 - size.trailing_zeros(),
        };
        let mask = size - 1;
        for (&key, &id) in entries {
            let mut i = t.slot(key);
            while t.slots[i].0 != 0 {
                i = (i + 1) & mask;
            }
            t.slots[i] = (key, id);
        }
        t
    }

    #[inline]
    fn slot(&self, key: u64) -> usize {
        (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> self.shift) as usize
    }

    #[inline]
    fn get(&self, key: u64) -> u32 {
        let mask = self.slots.len() - 1;
        let mut i = self.slot(key);
        loop {
            match self.slots.get(i) {
                Some(&(k, id)) if k == key => return id,
                Some(&(0, _)) | None => return 0,
                Some(_) => i = (i + 1) & mask,
            }
        }
    }
}

/// The weights of one word value.
#[derive(Debug, Clone, Copy, Default)]
struct WordRecord {
    /// WW at the word's begin, middle and end characters.
    inside: [Row; 3],
    /// PW: the word is the word before a word's first character.
    as_prev: Row,
    /// NW: the word is the word after a word's last character.
    as_next: Row,
    /// The word ends an organisation's name ([`is_org_suffix_word`]).
    org: bool,
}

/// A token of the sentence being tagged, with the ids of its word-level records.
#[derive(Debug, Clone, Copy, Default)]
struct Token {
    len: u32,
    tag: u32,
    word: u32,
    gazetteer: u8,
    /// Row of `word_tags`.
    tags_row: u32,
    /// Id of the token's folded last character (0: none, or a one-character token).
    last: u32,
}

/// A character of the sentence being tagged.
#[derive(Debug, Clone, Copy, Default)]
struct CharRec {
    /// The folded character's id (0: none).
    id: u32,
    /// Type code.
    ty: u8,
    /// Suffix class code.
    suffix: u8,
    /// Position code in the word (low 2 bits) and the family-name bit (4).
    flags: u8,
}

/// Reusable buffers of one sentence.
#[derive(Debug, Default)]
pub struct Work {
    /// The characters, padded with two sentence starts before and two ends after.
    chars: Vec<CharRec>,
    tokens: Vec<Token>,
    /// The emission scores.
    pub emit: Vec<Weights>,
}

/// Distance buckets of the suffix-ahead feature by distance (`NO_BUCKET`: too far), as
/// codes of [`BUCKETS`].
const AHEAD_CODES: usize = 16;
const NO_BUCKET: u8 = u8::MAX;

/// Shape records: by the type codes of characters -1, 0, +1 and the family-name case
/// (0: none, 1: a family name starting a word, 2: one standing alone).
const SHAPES: usize = NTYPES * NTYPES * NTYPES * 3;

#[inline]
fn shape_index(prev: u8, ty: u8, next: u8, surname: usize) -> usize {
    ((usize::from(prev) * NTYPES + usize::from(ty)) * NTYPES + usize::from(next)) * 3 + surname
}

/// The weights of a model, by lookup key.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// Per BMP code point, the packed information (see [`ID_MASK`]) and, in the high 32
    /// bits, the id of the one-character word.
    bmp: Vec<u64>,
    /// Ids of folded characters outside the BMP.
    astral: FxHashMap<char, u32>,
    /// Ids of one-character words outside the BMP.
    astral_words: FxHashMap<char, u32>,
    bos: u32,
    eos: u32,
    /// Per character id (0: none), the unigram weights by offset -2 ..= 2 (offset 0 is
    /// folded into `char_pos`).
    uni: Vec<[Row; 5]>,
    /// Per character id, C0 + CWP by the character's position code in its word.
    char_pos: Vec<[Row; 4]>,
    /// Per character id, WL (the id of a word's last character) by position code.
    last_pos: Vec<[Row; 4]>,
    pair_ids: IdTable,
    /// Per pair record (0: none), the bigram weights by the pair's start offset -2 ..= 1.
    pairs: Vec<[Row; 4]>,
    skip_ids: IdTable,
    skips: Vec<Row>,
    /// The bias + CT + SN by [`shape_index`].
    shape: Vec<Row>,
    /// SF by the suffix codes of this character and the next.
    suffix: [[Row; 4]; 4],
    /// SA by `class * 8 + bucket + 1` (index 0: none).
    ahead: [Row; 32],
    /// The bucket code of each distance of the suffix ahead ([`NO_BUCKET`]: none).
    ahead_codes: [u8; AHEAD_CODES],
    /// GZ by gazetteer class code and position code.
    gazetteer: [[Row; 4]; 4],
    /// POS tag ids (0: a tag the model has no weights for), `^` and `$` included.
    tag_ids: IdTable,
    ntag: usize,
    /// WT + WLT by `tag * LENGTHS + length - 1`, then position code.
    word_tags: Vec<[Row; 4]>,
    /// PWT by `previous tag * ntag + tag`.
    prev_tags: Vec<Row>,
    /// NWT by `tag * ntag + next tag`.
    next_tags: Vec<Row>,
    /// The ids of the sentence start and end as POS tags (`^`, `$`).
    start_tag: usize,
    end_tag: usize,
    word_ids: IdTable,
    words: Vec<WordRecord>,
    /// Transition weights, masked.
    pub trans: Trans,
}

/// Ids handed out in order of first sight, 0 reserved for "none".
#[derive(Default)]
struct Ids<K> {
    map: FxHashMap<K, u32>,
}

impl<K: std::hash::Hash + Eq> Ids<K> {
    fn get(&mut self, key: K) -> u32 {
        let next = u32::try_from(self.map.len() + 1).unwrap_or(u32::MAX);
        *self.map.entry(key).or_insert(next)
    }

    fn len(&self) -> usize {
        self.map.len() + 1
    }
}

impl Compiled {
    /// Folds the weight rows of a model (bias and transitions included) into records.
    /// The word classes' features (KW) are folded into the word records: every word with
    /// classes gets a record.
    pub fn new<'a>(
        rows: &[(Template, &'a str, [f32; NTAGS])],
        classes: &'a WordClasses,
    ) -> Compiled {
        // Every record is in lane order (what `viterbi` reads).
        let widen = |w: &[f32; NTAGS]| to_lanes(w);
        // Pass 1: ids of characters, tags and words.
        let mut chars: Ids<char> = Ids::default();
        let mut tags: Ids<&'a str> = Ids::default();
        let mut words: Ids<&'a str> = Ids::default();
        for &(template, value, _) in rows {
            let mut it = value.chars();
            match template {
                Template::CharM2
                | Template::CharM1
                | Template::Char0
                | Template::CharP1
                | Template::CharP2
                | Template::BigramM2M1
                | Template::BigramM10
                | Template::Bigram0P1
                | Template::BigramP1P2
                | Template::BigramM1P1 => {
                    for c in value.chars() {
                        chars.get(c);
                    }
                }
                Template::CharWordPos => {
                    if let Some(c) = it.next() {
                        chars.get(c);
                    }
                }
                Template::WordLast => {
                    if let Some(c) = it.nth(1) {
                        chars.get(c);
                    }
                }
                Template::WordPosTag => {
                    it.next();
                    tags.get(it.as_str());
                }
                Template::WordPosLenTag => {
                    it.next();
                    it.next();
                    tags.get(it.as_str());
                }
                Template::PrevWordTag | Template::NextWordTag => {
                    if let Some((a, b)) = value.split_once(' ') {
                        tags.get(a);
                        tags.get(b);
                    }
                }
                Template::WordPosWord => {
                    it.next();
                    words.get(it.as_str());
                }
                Template::PrevWord | Template::NextWord => {
                    words.get(value);
                }
                _ => {}
            }
        }
        for w in org_suffix_words() {
            words.get(w);
        }
        let class_words = if rows.iter().any(|r| r.0 == Template::WordClass) {
            classes.iter().collect()
        } else {
            Vec::new()
        };
        for (w, _) in &class_words {
            words.get(*w);
        }
        // KW weights by (which, position code, class), folded into the word records below.
        let mut kw: FxHashMap<(char, usize, u16), Weights> = FxHashMap::default();
        let ntag = tags.len();
        let mut pair_ids: FxHashMap<u64, u32> = FxHashMap::default();
        let mut skip_ids: FxHashMap<u64, u32> = FxHashMap::default();
        let mut bias = ZERO;
        let mut types = vec![ZERO; NTYPES * NTYPES * NTYPES];
        let mut surname = [[ZERO; NTYPES]; 4];
        let mut c = Compiled {
            bmp: Vec::new(),
            astral: FxHashMap::default(),
            astral_words: FxHashMap::default(),
            bos: chars.map.get(&BOS).copied().unwrap_or(0),
            eos: chars.map.get(&EOS).copied().unwrap_or(0),
            uni: vec![[R0; 5]; chars.len()],
            char_pos: vec![[R0; 4]; chars.len()],
            last_pos: vec![[R0; 4]; chars.len()],
            pair_ids: IdTable::new(&FxHashMap::default()),
            pairs: vec![[R0; 4]],
            skip_ids: IdTable::new(&FxHashMap::default()),
            skips: vec![R0],
            shape: Vec::new(),
            suffix: [[R0; 4]; 4],
            ahead: [R0; 32],
            ahead_codes: std::array::from_fn(|d| {
                u32::try_from(d)
                    .ok()
                    .and_then(ahead_bucket)
                    .and_then(|b| code_of(&BUCKETS, b))
                    .and_then(|b| u8::try_from(b).ok())
                    .unwrap_or(NO_BUCKET)
            }),
            gazetteer: [[R0; 4]; 4],
            tag_ids: IdTable::new(&tags.map.iter().map(|(k, v)| (StrHash::of(k), *v)).collect()),
            ntag,
            start_tag: tags.map.get("^").copied().unwrap_or(0) as usize,
            end_tag: tags.map.get("$").copied().unwrap_or(0) as usize,
            word_tags: vec![[R0; 4]; ntag * LENGTHS],
            prev_tags: vec![R0; ntag * ntag],
            next_tags: vec![R0; ntag * ntag],
            word_ids: IdTable::new(
                &words
                    .map
                    .iter()
                    .map(|(k, v)| (StrHash::of(k), *v))
                    .collect(),
            ),
            words: vec![WordRecord::default(); words.len()],
            trans: masked(&[[0.0; NTAGS]; NTAGS + 1]),
        };
        // Pass 2: the weights into their records. WT goes to every length of its tag.
        let mut trans = [[0.0f32; NTAGS]; NTAGS + 1];
        let char_id = |ch: char| chars.map.get(&ch).copied().unwrap_or(0) as usize;
        let tag_id = |t: &str| tags.map.get(t).copied().unwrap_or(0) as usize;
        for &(template, value, ref tag_ordered) in rows {
            let w = widen(tag_ordered);
            let v: Vec<char> = value.chars().collect();
            let first = v.first().copied().unwrap_or(' ');
            let pos = code_of(&POSITIONS, first);
            match template {
                Template::Bias => bias = w,
                Template::WordClass => {
                    if let Some((which, pos, class)) = parse_word_class_value(value) {
                        let pos = pos.and_then(|p| code_of(&POSITIONS, p)).unwrap_or(0);
                        add(kw.entry((which, pos, class)).or_insert(ZERO), &w);
                    }
                }
                Template::Transition => {
                    if let Some(row) = super::transition_row(&mut trans, value) {
                        *row = *tag_ordered;
                    }
                }
                Template::CharM2
                | Template::CharM1
                | Template::Char0
                | Template::CharP1
                | Template::CharP2 => {
                    let k = template as usize - Template::CharM2 as usize;
                    if let [ch] = v[..] {
                        add(&mut c.uni[char_id(ch)][k], &w);
                    }
                }
                Template::BigramM2M1
                | Template::BigramM10
                | Template::Bigram0P1
                | Template::BigramP1P2 => {
                    let k = template as usize - Template::BigramM2M1 as usize;
                    if let [a, b] = v[..] {
                        let key = pair_key(char_id(a) as u32, char_id(b) as u32);
                        let next = u32::try_from(c.pairs.len()).unwrap_or(u32::MAX);
                        let id = *pair_ids.entry(key).or_insert(next);
                        if id == next {
                            c.pairs.push([R0; 4]);
                        }
                        add(&mut c.pairs[id as usize][k], &w);
                    }
                }
                Template::BigramM1P1 => {
                    if let [a, b] = v[..] {
                        let key = pair_key(char_id(a) as u32, char_id(b) as u32);
                        let next = u32::try_from(c.skips.len()).unwrap_or(u32::MAX);
                        let id = *skip_ids.entry(key).or_insert(next);
                        if id == next {
                            c.skips.push(R0);
                        }
                        add(&mut c.skips[id as usize], &w);
                    }
                }
                Template::CharWordPos => {
                    if let (Some(&ch), Some(p)) =
                        (v.first(), v.get(1).and_then(|x| code_of(&POSITIONS, *x)))
                    {
                        add(&mut c.char_pos[char_id(ch)][p], &w);
                    }
                }
                Template::WordLast => {
                    if let (Some(p), Some(&ch)) = (pos, v.get(1)) {
                        add(&mut c.last_pos[char_id(ch)][p], &w);
                    }
                }
                Template::CharTypes => {
                    let t: Vec<Option<usize>> =
                        v.iter().map(|x| code_of(&TYPE_CHARS, *x)).collect();
                    if let [Some(a), Some(b), Some(d)] = t[..] {
                        add(&mut types[(a * NTYPES + b) * NTYPES + d], &w);
                    }
                }
                Template::WordPosTag => {
                    if let Some(pos) = pos {
                        let t = tag_id(&value[first.len_utf8()..]);
                        for len in 0..LENGTHS {
                            add(&mut c.word_tags[t * LENGTHS + len][pos], &w);
                        }
                    }
                }
                Template::WordPosLenTag => {
                    let len = v.get(1).and_then(|d| d.to_digit(10)).map(|d| d as usize);
                    if let (Some(pos), Some(len @ 1..=LENGTHS)) = (pos, len) {
                        let t = tag_id(&value[first.len_utf8() + 1..]);
                        add(&mut c.word_tags[t * LENGTHS + len - 1][pos], &w);
                    }
                }
                Template::PrevWordTag | Template::NextWordTag => {
                    if let Some((a, b)) = value.split_once(' ') {
                        let i = tag_id(a) * ntag + tag_id(b);
                        let table = if template == Template::PrevWordTag {
                            &mut c.prev_tags
                        } else {
                            &mut c.next_tags
                        };
                        add(&mut table[i], &w);
                    }
                }
                Template::WordPosWord => {
                    if let Some(pos @ 0..=2) = pos {
                        let id = words.map.get(&value[first.len_utf8()..]).copied();
                        if let Some(id) = id {
                            add(&mut c.words[id as usize].inside[pos], &w);
                        }
                    }
                }
                Template::PrevWord | Template::NextWord => {
                    if let Some(&id) = words.map.get(value) {
                        let r = &mut c.words[id as usize];
                        if template == Template::PrevWord {
                            add(&mut r.as_prev, &w);
                        } else {
                            add(&mut r.as_next, &w);
                        }
                    }
                }
                Template::Gazetteer => {
                    let p = v.get(1).and_then(|x| code_of(&POSITIONS, *x));
                    if let (Some(g @ 1..), Some(p)) = (code_of(&GAZETTEER, first), p) {
                        add(&mut c.gazetteer[g][p], &w);
                    }
                }
                Template::Surname => {
                    let t = v.get(1).and_then(|x| code_of(&TYPE_CHARS, *x));
                    if let (Some(p), Some(t)) = (pos, t) {
                        add(&mut surname[p][t], &w);
                    }
                }
                Template::Suffix => {
                    let s: Vec<Option<usize>> = v.iter().map(|x| code_of(&SUFFIXES, *x)).collect();
                    if let [Some(a), Some(b)] = s[..]
                        && (a, b) != (0, 0)
                    {
                        add(&mut c.suffix[a][b], &w);
                    }
                }
                Template::SuffixAhead => {
                    let b = v.get(1).and_then(|x| code_of(&BUCKETS, *x));
                    if let (Some(s @ 1..), Some(b)) = (code_of(&SUFFIXES, first), b) {
                        add(&mut c.ahead[s * 8 + b + 1], &w);
                    }
                }
            }
        }
        for (word, class) in &class_words {
            let (Some(&id), n) = (words.map.get(word), word.chars().count()) else {
                continue;
            };
            let Some(r) = c.words.get_mut(id as usize) else {
                continue;
            };
            let weights = |which: char, pos: usize, class: u16| kw.get(&(which, pos, class));
            if (2..WORD_CAP).contains(&n) {
                for (pos, inside) in r.inside.iter_mut().enumerate() {
                    for w in [
                        weights('L', pos, class.left),
                        weights('R', pos, class.right),
                    ]
                    .into_iter()
                    .flatten()
                    {
                        add(inside, w);
                    }
                }
            }
            if n <= CONTEXT_WORD {
                if let Some(w) = weights('p', 0, class.right) {
                    add(&mut r.as_prev, w);
                }
                if let Some(w) = weights('n', 0, class.left) {
                    add(&mut r.as_next, w);
                }
            }
        }
        c.trans = masked(&trans);
        // C0 of a character goes with its CWP (both read the character at offset 0).
        for (uni, pos) in c.uni.iter_mut().zip(c.char_pos.iter_mut()) {
            for p in pos.iter_mut() {
                add(p, &uni[2]);
            }
            uni[2] = R0;
        }
        // The bias, CT and SN: one record per shape.
        c.shape = (0..SHAPES)
            .map(|i| {
                let (rest, sn) = (i / 3, i % 3);
                let next = rest % NTYPES;
                let mut w = bias;
                add(&mut w, &types[rest]);
                match sn {
                    1 => add(&mut w, &surname[0][next]),
                    2 => add(&mut w, &surname[3][next]),
                    _ => {}
                }
                Row(w)
            })
            .collect();
        c.pair_ids = IdTable::new(&pair_ids);
        c.skip_ids = IdTable::new(&skip_ids);
        for (w, id) in &words.map {
            if let Some(r) = c.words.get_mut(*id as usize) {
                r.org = w.chars().count() >= 2 && is_org_suffix_word(w);
            }
        }
        let single = |ch: char| {
            let mut buf = [0u8; 4];
            words.map.get(&*ch.encode_utf8(&mut buf)).copied()
        };
        c.bmp = (0..=0xffffu32)
            .map(|cp| {
                char::from_u32(cp).map_or(0, |ch| {
                    let info = pack(ch, char_id(fold(ch)) as u32);
                    u64::from(info) | (u64::from(single(ch).unwrap_or(0)) << 32)
                })
            })
            .collect();
        c.astral = chars
            .map
            .iter()
            .filter(|(ch, _)| u32::from(**ch) > 0xffff)
            .map(|(ch, id)| (*ch, *id))
            .collect();
        c.astral_words = words
            .map
            .iter()
            .filter_map(|(w, id)| {
                let mut it = w.chars();
                match (it.next(), it.next()) {
                    (Some(ch), None) if u32::from(ch) > 0xffff => Some((ch, *id)),
                    _ => None,
                }
            })
            .collect();
        c
    }

    /// The packed information of a character of the text, and the id of the one-character
    /// word it is.
    #[inline(always)]
    fn info(&self, ch: char) -> (u32, u32) {
        match self.bmp.get(ch as usize) {
            Some(x) => (*x as u32, (*x >> 32) as u32),
            None => self.astral_info(ch),
        }
    }

    /// [`Compiled::info`] of a character outside the BMP.
    #[cold]
    fn astral_info(&self, ch: char) -> (u32, u32) {
        let id = self.astral.get(&fold(ch)).copied().unwrap_or(0);
        let word = self.astral_words.get(&ch).copied().unwrap_or(0);
        (pack(ch, id), word)
    }

    /// The number of records (characters, pairs, skip pairs, tags, words).
    pub fn records(&self) -> usize {
        self.uni.len() + self.pairs.len() + self.skips.len() + self.ntag + self.words.len()
    }

    /// Computes the emission scores of `text` with its jieba tokens into `work.emit` (lanes
    /// `NTAGS..` are zero).
    ///
    /// Two passes: the word-level records of each token are summed once per token into the
    /// rows of its characters (the word part), then the characters are read backwards and
    /// their character-level records added (the window of uni- and bigrams, the shape, the
    /// suffixes).
    pub fn emissions(&self, text: &str, tokens: &[Tag<'_>], work: &mut Work) {
        let Work {
            chars,
            tokens: toks,
            emit,
        } = work;
        chars.clear();
        toks.clear();
        emit.clear();
        chars.reserve(text.len() / 2 + 4);
        toks.reserve(tokens.len());
        let edge = |id: u32, ty: u8| CharRec {
            id,
            ty,
            ..CharRec::default()
        };
        chars.extend([edge(self.bos, 0), edge(self.bos, 0)]);
        let rec = |info: u32| CharRec {
            id: info & ID_MASK,
            ty: ((info >> TYPE_SHIFT) & 0xf) as u8,
            suffix: ((info >> SUFFIX_SHIFT) & 3) as u8,
            flags: if info & SURNAME_BIT != 0 { 4 | 1 } else { 1 },
        };
        for tag in tokens {
            let first = chars.len();
            let mut hash = StrHash::START;
            let mut single = 0;
            for ch in tag.word.chars() {
                let (info, word) = self.info(ch);
                chars.push(rec(info));
                hash = hash.push(ch);
                single = word;
            }
            let n = chars.len() - first;
            let word = match n {
                0 => continue,
                1 => {
                    chars[first].flags |= 3;
                    single
                }
                _ => {
                    chars[first].flags &= !3;
                    if let Some(last) = chars.last_mut() {
                        last.flags = (last.flags & !3) | 2;
                    }
                    if n < WORD_CAP {
                        self.word_ids.get(hash.finish())
                    } else {
                        0
                    }
                }
            };
            let record = &self.words[word as usize];
            if n >= 2
                && record.org
                && let Some(last) = chars.last_mut()
            {
                last.suffix = 3;
            }
            let gazetteer = if n >= 2 {
                match tag.tag.as_bytes() {
                    [b'n', b'r', ..] => 1,
                    [b'n', b's', ..] => 2,
                    [b'n', b't', ..] => 3,
                    _ => 0,
                }
            } else {
                0
            };
            let last = if n >= 2 {
                chars.last().map_or(0, |c| c.id)
            } else {
                0
            };
            let tag = self.tag_ids.get(StrHash::of(tag.tag));
            toks.push(Token {
                len: n as u32,
                tag,
                word,
                gazetteer,
                last,
                tags_row: tag * LENGTHS as u32 + n.min(LENGTHS) as u32 - 1,
            });
        }
        // Tokens that do not cover the text (never from jieba): the text's own characters.
        if chars.len() == 2 {
            for ch in text.chars() {
                chars.push(rec(self.info(ch).0));
                if let Some(last) = chars.last_mut() {
                    last.flags |= 3;
                }
            }
        }
        let n = chars.len() - 2;
        chars.extend([edge(self.eos, 1), edge(self.eos, 1)]);
        emit.resize(n, ZERO);
        self.word_part(toks, emit);
        self.char_part(chars, emit);
    }

    /// The word-level records of the tokens (WT + WLT, WL, WW, GZ; PWT + PW at a word's
    /// start, NWT + NW at its end) into the rows of their characters (`emit` is zero).
    fn word_part(&self, toks: &[Token], emit: &mut [Weights]) {
        let ntag = self.ntag as u32;
        let context = |t: &Token| {
            if t.len as usize <= CONTEXT_WORD {
                t.word
            } else {
                0
            }
        };
        let mut rows = emit.iter_mut();
        for (j, t) in toks.iter().enumerate() {
            let prev = j.checked_sub(1).and_then(|p| toks.get(p));
            let next = toks.get(j + 1);
            let pt = prev.map_or(self.start_tag as u32, |p| p.tag);
            let nt = next.map_or(self.end_tag as u32, |p| p.tag);
            let mut head = self.prev_tags[(pt * ntag + t.tag) as usize].0;
            add(
                &mut head,
                &self.words[prev.map_or(0, context) as usize].as_prev,
            );
            let mut tail = self.next_tags[(t.tag * ntag + nt) as usize].0;
            add(
                &mut tail,
                &self.words[next.map_or(0, context) as usize].as_next,
            );
            let tags = &self.word_tags[t.tags_row as usize];
            if t.len == 1 {
                if let Some(e) = rows.next() {
                    let mut x = tags[3].0;
                    add(&mut x, &head);
                    add(&mut x, &tail);
                    *e = x;
                }
                continue;
            }
            let word = &self.words[t.word as usize];
            let last = &self.last_pos[t.last as usize];
            let gazetteer = &self.gazetteer[usize::from(t.gazetteer)];
            // Position codes B = 0, M = 1, E = 2.
            let at = |pos: usize| {
                let mut e = tags[pos].0;
                add(&mut e, &last[pos]);
                add(&mut e, &word.inside[pos]);
                if t.gazetteer != 0 {
                    add(&mut e, &gazetteer[pos]);
                }
                e
            };
            if let Some(e) = rows.next() {
                let mut x = at(0);
                add(&mut x, &head);
                *e = x;
            }
            if t.len > 2 {
                let middle = at(1);
                for e in rows.by_ref().take(t.len as usize - 2) {
                    *e = middle;
                }
            }
            if let Some(e) = rows.next() {
                let mut x = at(2);
                add(&mut x, &tail);
                *e = x;
            }
        }
    }

    /// The character-level records into `emit` (holding the word part): backwards over the
    /// characters (padded with two sentence starts and two ends), the nearest suffix ahead in
    /// the clause (punctuation, space, end: clause ends) and the four pairs of the window as
    /// it slides.
    fn char_part(&self, chars: &[CharRec], emit: &mut [Weights]) {
        let n = emit.len();
        let pair = |a: &CharRec, b: &CharRec| {
            if a.id != 0 && b.id != 0 {
                self.pair_ids.get(pair_key(a.id, b.id))
            } else {
                0
            }
        };
        let mut ahead: Option<(usize, u32)> = None;
        // window[k]: the pair starting at offset k - 2 of the current position.
        let mut window = [0u32; 4];
        if n > 0 {
            for k in 1..4 {
                window[k - 1] = pair(&chars[n - 1 + k], &chars[n + k]);
            }
        }
        for (w, out) in chars.windows(5).zip(emit.iter_mut()).rev() {
            // Summed in a local (registers), stored once.
            let mut acc = *out;
            let e = &mut acc;
            window = [pair(&w[0], &w[1]), window[0], window[1], window[2]];
            let c = &w[2];
            let f = c.flags;
            let pos = usize::from(f & 3);
            // A family name at a word's start or alone (B = 0, S = 3).
            let sn = match (f & 4 != 0, pos) {
                (true, 0) => 1,
                (true, 3) => 2,
                _ => 0,
            };
            add(e, &self.shape[shape_index(w[1].ty, c.ty, w[3].ty, sn)]);
            add(e, &self.char_pos[c.id as usize][pos]);
            for k in [0, 1, 3, 4] {
                add(e, &self.uni[w[k].id as usize][k]);
            }
            for (k, p) in window.iter().enumerate() {
                add(e, &self.pairs[*p as usize][k]);
            }
            if w[1].id != 0 && w[3].id != 0 {
                let s = self.skip_ids.get(pair_key(w[1].id, w[3].id));
                add(e, &self.skips[s as usize]);
            }
            let (s0, s1) = (c.suffix, w[3].suffix);
            if s0 | s1 != 0 {
                add(e, &self.suffix[usize::from(s0)][usize::from(s1)]);
            }
            if matches!(c.ty, 1 | 7 | 8) {
                ahead = None;
            } else if s0 != 0 {
                ahead = Some((usize::from(s0), 0));
            } else if let Some((_, d)) = ahead.as_mut() {
                *d += 1;
            }
            if let Some((class, d)) = ahead {
                let b = self
                    .ahead_codes
                    .get(d as usize)
                    .copied()
                    .unwrap_or(NO_BUCKET);
                if b != NO_BUCKET {
                    add(e, &self.ahead[class * 8 + usize::from(b) + 1]);
                }
            }
            *out = acc;
        }
    }
}

/// The packed information of character `ch` whose folded form has id `id`.
fn pack(ch: char, id: u32) -> u32 {
    let f = fold(ch);
    let suffix = if is_org_suffix_char(ch) {
        2
    } else if is_place_suffix_char(ch) {
        1
    } else {
        0
    };
    (id & ID_MASK)
        | (u32::from(type_code(ch)) << TYPE_SHIFT)
        | if is_surname(f) { SURNAME_BIT } else { 0 }
        | (suffix << SUFFIX_SHIFT)
}
