//! jieba-rs enrichment: TF-IDF keywords; and the POS method of finding places, organisations
//! and people that the entity tagger ([`super::entities`]) replaced in the events, kept
//! callable as its baseline ([`Enricher::enrich_page_pos_entities`], scored by
//! `pagesift-dev eval-entities`). The pipeline calls [`Enricher::enrich_page`]: keywords only.
//!
//! ```text
//! each field of an article (kicker, headline, subtitle, body, captions)
//!   -> the article's one jieba.tag(field, false) pass, shared with the classifier
//!      ([`super::tokens`]): dictionary words with their dictionary POS tags
//!   -> words of two characters or more:
//!        keywords: counted when content words (POS, stop words); TF-IDF at the end
//!        places / organisations / people: POS ns / nt / nr*
//!   -> runs of single characters the dictionary left unjoined (where unknown words end up):
//!        jieba's segmentation HMM cuts the run into words (cheap: no part-of-speech model;
//!        a run of two is judged without it), and each unknown word ([`unknown_word`]) is
//!        people: family name + one or two given-name characters, or a transliterated
//!                name of three to six characters ([`person_name`])
//!        places / organisations: three characters or more ending in 区, 村, 河 … / 部, 局, 社 …
//!        (listed as entities by the baseline only; counted as keyword candidates always)
//!        or else a keyword candidate
//! ```
//!
//! The HMM of `tag` is off on purpose: with it, jieba-rs 0.11 runs its part-of-speech HMM
//! (`posseg::guess_tag`) over every out-of-vocabulary word — about 0.4 of a `cut` pass over
//! the same text — only to tag the few unknown words that are names. The structural
//! recogniser above finds those names in the runs of single characters instead; people also
//! come from bylines. TF-IDF is computed here from the counts and the IDF table loaded once by
//! [`Enricher::new`] (jieba-rs's own extractor would cut the text a second time).

use rustc_hash::FxHashMap;

use jieba_rs::{Jieba, Tag};

use super::normalize::is_cjk;
use super::tokens::ArticleTokens;
use super::{ResourceError, Resources};
use crate::model::{Article, Keyword, Nlp};

/// Whether words with this POS tag can be keywords: numerals, measure words, pronouns,
/// function words, punctuation and unknown symbols cannot.
fn keyword_pos(tag: &str) -> bool {
    // On bytes: this runs for every word of every article.
    !matches!(
        tag.as_bytes(),
        [b'm' | b'q' | b'r' | b'p' | b'c' | b'u' | b'd' | b'x']
            | [b'm', b'q']
            | [b'u', b'j' | b'l' | b'z' | b'd' | b'g']
    )
}

/// Function words that jieba tags as content words; they carry no topic. All are two CJK
/// characters (six bytes of UTF-8).
const STOP_WORDS: [&str; 24] = [
    "一个", "没有", "我们", "他们", "这个", "这些", "那些", "什么", "自己", "已经", "就是", "还是",
    "可以", "进行", "通过", "表示", "目前", "同时", "以及", "其中", "方面", "记者", "本报", "今年",
];

/// The bytes of a word of at most eight bytes as one integer (big-endian).
const fn word_key(word: &[u8]) -> u64 {
    let mut key = 0u64;
    let mut i = 0;
    while i < word.len() {
        key = (key << 8) | word[i] as u64;
        i += 1;
    }
    key
}

/// [`STOP_WORDS`] as sorted [`word_key`]s, computed at compile time.
const STOP_KEYS: [u64; STOP_WORDS.len()] = {
    let mut keys = [0u64; STOP_WORDS.len()];
    let mut i = 0;
    while i < keys.len() {
        keys[i] = word_key(STOP_WORDS[i].as_bytes());
        i += 1;
    }
    // Insertion sort (const context).
    let mut i = 1;
    while i < keys.len() {
        let mut j = i;
        while j > 0 && keys[j - 1] > keys[j] {
            let t = keys[j];
            keys[j] = keys[j - 1];
            keys[j - 1] = t;
            j -= 1;
        }
        i += 1;
    }
    keys
};

/// Whether `word` is one of [`STOP_WORDS`]. This runs for every word of every article: one
/// integer binary search instead of two dozen string comparisons.
fn stop_word(word: &str) -> bool {
    word.len() == 6 && STOP_KEYS.binary_search(&word_key(word.as_bytes())).is_ok()
}

/// The character of a one-character word that is a CJK ideograph.
fn single_han(word: &str) -> Option<char> {
    // Those are three bytes long in UTF-8, led by 0xE3..=0xE9 (0xEF for the compatibility
    // ideographs): most words are ruled out without decoding.
    if word.len() != 3 || !matches!(word.as_bytes().first(), Some(0xE3..=0xE9 | 0xEF)) {
        return None;
    }
    word.chars().next().filter(|c| is_cjk(*c))
}

/// Whether `word` has two characters or more.
fn two_chars_or_more(word: &str) -> bool {
    let first = match word.as_bytes().first() {
        None => return false,
        Some(b) if *b < 0x80 => 1,
        Some(b) if *b >= 0xF0 => 4,
        Some(b) if *b >= 0xE0 => 3,
        Some(_) => 2,
    };
    word.len() > first
}

/// Common single-character Chinese family names (vocabulary of the person-name recogniser).
/// Family names that are everyday words on their own (于, 向, 和, 时, 莫, 尤, 文, 包 …) or
/// stand for a place (欧) are left out: in a run of unjoined characters they are far more
/// often that word than a name.
pub fn is_surname(c: char) -> bool {
    matches!(
        c,
        '王' | '李'
            | '张'
            | '刘'
            | '陈'
            | '杨'
            | '黄'
            | '赵'
            | '吴'
            | '周'
            | '徐'
            | '孙'
            | '马'
            | '朱'
            | '胡'
            | '郭'
            | '何'
            | '高'
            | '林'
            | '罗'
            | '郑'
            | '梁'
            | '谢'
            | '宋'
            | '唐'
            | '许'
            | '韩'
            | '冯'
            | '邓'
            | '曹'
            | '彭'
            | '曾'
            | '肖'
            | '萧'
            | '田'
            | '董'
            | '袁'
            | '潘'
            | '蒋'
            | '蔡'
            | '余'
            | '杜'
            | '叶'
            | '程'
            | '苏'
            | '魏'
            | '吕'
            | '丁'
            | '任'
            | '沈'
            | '姚'
            | '卢'
            | '姜'
            | '崔'
            | '钟'
            | '谭'
            | '陆'
            | '汪'
            | '范'
            | '金'
            | '石'
            | '廖'
            | '贾'
            | '夏'
            | '韦'
            | '付'
            | '傅'
            | '邹'
            | '孟'
            | '熊'
            | '秦'
            | '邱'
            | '江'
            | '尹'
            | '薛'
            | '闫'
            | '阎'
            | '段'
            | '雷'
            | '侯'
            | '龙'
            | '史'
            | '陶'
            | '黎'
            | '贺'
            | '顾'
            | '毛'
            | '郝'
            | '龚'
            | '邵'
            | '钱'
            | '严'
            | '覃'
            | '武'
            | '戴'
            | '孔'
            | '汤'
            | '康'
            | '施'
            | '牛'
            | '樊'
            | '葛'
            | '邢'
            | '齐'
            | '乔'
            | '伍'
            | '庞'
            | '颜'
            | '倪'
            | '庄'
            | '聂'
            | '章'
            | '鲁'
            | '岳'
            | '翟'
            | '殷'
            | '詹'
            | '申'
            | '耿'
            | '焦'
            | '俞'
            | '柳'
            | '祝'
            | '舒'
            | '阮'
            | '柯'
            | '纪'
            | '梅'
            | '童'
            | '凌'
            | '毕'
            | '裴'
            | '霍'
            | '涂'
            | '苗'
            | '盛'
            | '翁'
            | '冉'
            | '骆'
            | '蓝'
            | '辛'
            | '靳'
            | '柴'
            | '蒙'
            | '鲍'
            | '喻'
            | '祁'
            | '蒲'
            | '滕'
            | '饶'
            | '牟'
            | '艾'
            | '穆'
            | '卓'
            | '缪'
            | '褚'
            | '娄'
            | '窦'
            | '戚'
            | '岑'
            | '瞿'
            | '卞'
            | '邬'
            | '栾'
            | '隋'
            | '刁'
            | '甄'
            | '佘'
            | '邝'
            | '谷'
            | '闵'
            | '臧'
            | '芦'
            | '麦'
            | '佟'
            | '晏'
            | '巩'
            | '虞'
            | '仇'
            | '寇'
            | '邸'
            | '兰'
            | '桂'
            | '奚'
            | '姬'
            | '景'
            | '赖'
            | '白'
            | '宣'
            | '左'
            | '甘'
            | '宁'
            | '柏'
            | '桑'
            | '温'
            | '尚'
            | '房'
            | '简'
            | '池'
            | '雍'
            | '郁'
    )
}

/// Characters that end a given name where they stand: function words, and the verbs of
/// speech that follow a name in reporting (`张三说`, `李四在`, `王五的`). jieba's HMM
/// sometimes glues one to the name before it.
fn ends_name(c: char) -> bool {
    matches!(
        c,
        '的' | '了'
            | '是'
            | '在'
            | '和'
            | '与'
            | '及'
            | '或'
            | '等'
            | '也'
            | '都'
            | '就'
            | '又'
            | '还'
            | '而'
            | '但'
            | '并'
            | '将'
            | '把'
            | '被'
            | '对'
            | '向'
            | '从'
            | '到'
            | '给'
            | '让'
            | '为'
            | '以'
            | '由'
            | '于'
            | '之'
            | '其'
            | '这'
            | '那'
            | '此'
            | '个'
            | '们'
            | '着'
            | '过'
            | '得'
            | '地'
            | '吗'
            | '呢'
            | '吧'
            | '啊'
            | '不'
            | '没'
            | '说'
            | '称'
            | '表'
            | '认'
            | '指'
            | '时'
            | '岁'
            | '人'
            | '告'
            | '介'
            | '问'
            | '笑'
            | '很'
            | '后'
            | '系'
            | '带'
            | '比'
            | '至'
    )
}

/// The person's name in `word`, a word jieba's HMM found in a run of characters the
/// dictionary left unjoined, as its length in characters: a family name and one or two
/// given-name characters that are not function words, or three to six characters that
/// transcribe a foreign name; a function word the HMM glued to the end (`…说`) is left off.
pub fn person_name(word: &[char]) -> Option<usize> {
    let mut len = word.len();
    while len > 2 && word.get(len - 1).is_some_and(|c| ends_name(*c)) {
        len -= 1;
    }
    let name = word.get(..len)?;
    let [c, given @ ..] = name else {
        return None;
    };
    let han =
        is_surname(*c) && matches!(given.len(), 1 | 2) && !given.iter().any(|g| ends_name(*g));
    // A transliterated name (尼加甫, 帕热哈提): three to six transcription characters.
    let transliterated = (3..=6).contains(&len) && name.iter().all(|c| is_transliteration(*c));
    (han || transliterated).then_some(len)
}

/// Characters that transcribe the sounds of names from other languages (Uyghur, Kazakh,
/// English …): vocabulary of the recogniser of transliterated names.
fn is_transliteration(c: char) -> bool {
    matches!(
        c,
        '阿' | '玉'
            | '雷'
            | '艾'
            | '安'
            | '奥'
            | '巴'
            | '拜'
            | '贝'
            | '比'
            | '波'
            | '布'
            | '卜'
            | '达'
            | '德'
            | '登'
            | '迪'
            | '蒂'
            | '尔'
            | '法'
            | '菲'
            | '夫'
            | '甫'
            | '戈'
            | '格'
            | '哈'
            | '汗'
            | '赫'
            | '基'
            | '吉'
            | '加'
            | '杰'
            | '卡'
            | '凯'
            | '科'
            | '克'
            | '库'
            | '拉'
            | '莱'
            | '兰'
            | '里'
            | '利'
            | '丽'
            | '卢'
            | '鲁'
            | '洛'
            | '玛'
            | '麦'
            | '曼'
            | '梅'
            | '米'
            | '姆'
            | '穆'
            | '纳'
            | '娜'
            | '尼'
            | '努'
            | '诺'
            | '帕'
            | '佩'
            | '普'
            | '奇'
            | '热'
            | '萨'
            | '赛'
            | '莎'
            | '什'
            | '斯'
            | '苏'
            | '索'
            | '塔'
            | '泰'
            | '特'
            | '提'
            | '吐'
            | '托'
            | '瓦'
            | '威'
            | '维'
            | '沃'
            | '乌'
            | '吾'
            | '希'
            | '雅'
            | '亚'
            | '伊'
            | '依'
            | '约'
            | '扎'
            | '孜'
            | '兹'
    )
}

/// Characters that end a place name: administrative units and water bodies
/// (vocabulary of the place-name recogniser).
fn is_place_suffix(c: char) -> bool {
    matches!(
        c,
        '省' | '市' | '县' | '区' | '镇' | '乡' | '村' | '河' | '湖' | '江'
    )
}

/// Characters that end an organisation's name: bodies of government, agencies, press
/// (vocabulary of the organisation recogniser).
fn is_org_suffix(c: char) -> bool {
    matches!(c, '部' | '局' | '委' | '厅' | '社' | '院' | '署' | '办')
}

/// Whether `word`, a word jieba's HMM found in a run of characters the dictionary left
/// unjoined, is an organisation's name: three to eight characters ending in an
/// organisation suffix (`…部`, `…社`).
pub fn is_org_name(word: &[char]) -> bool {
    (3..=8).contains(&word.len()) && word.last().is_some_and(|c| is_org_suffix(*c))
}

/// Whether `word`, a word jieba's HMM found in a run of characters the dictionary left
/// unjoined, is a place name: three to six characters ending in a place suffix (`…区`,
/// `…河`); two-character ones are too often a verb and its object (`入县`).
pub fn is_place_name(word: &[char]) -> bool {
    (3..=6).contains(&word.len()) && word.last().is_some_and(|c| is_place_suffix(*c))
}

/// A word of at most 15 bytes (five CJK characters) as one integer: its bytes and, in the
/// top byte, its length, so equal keys are equal words. Hashing and comparing it is cheaper
/// than hashing and comparing the string, and the maps below do it for every word.
fn short_key(word: &str) -> Option<u128> {
    let bytes = word.as_bytes();
    let len = u8::try_from(bytes.len()).ok().filter(|n| *n <= 15)?;
    let mut buf = [0u8; 16];
    buf.get_mut(..bytes.len())?.copy_from_slice(bytes);
    buf[15] = len;
    Some(u128::from_le_bytes(buf))
}

/// Keyword candidates and how often each occurs in one article.
#[derive(Default)]
struct Counts<'a> {
    /// Words with a [`short_key`]: the count and the word.
    short: FxHashMap<u128, (u32, &'a str)>,
    /// Longer words.
    long: FxHashMap<&'a str, u32>,
    /// Number of candidates counted.
    total: u32,
}

impl<'a> Counts<'a> {
    fn add(&mut self, word: &'a str) {
        match short_key(word) {
            Some(key) => self.short.entry(key).or_insert((0, word)).0 += 1,
            None => *self.long.entry(word).or_default() += 1,
        }
        self.total += 1;
    }

    fn clear(&mut self) {
        self.short.clear();
        self.long.clear();
        self.total = 0;
    }
}

/// The IDF table, keyed like [`Counts`].
#[derive(Debug, Default)]
struct IdfTable {
    short: FxHashMap<u128, f64>,
    long: FxHashMap<String, f64>,
}

impl IdfTable {
    fn new(table: FxHashMap<String, f64>) -> IdfTable {
        let mut idf = IdfTable::default();
        for (word, value) in table {
            match short_key(&word) {
                Some(key) => {
                    idf.short.insert(key, value);
                }
                None => {
                    idf.long.insert(word, value);
                }
            }
        }
        idf
    }
}

/// The best `k` of a stream of scored terms, best first: descending weight, then ascending
/// term (a total order, so the result does not depend on the stream's order).
struct TopK<'a> {
    k: usize,
    best: Vec<(&'a str, f64)>,
}

impl<'a> TopK<'a> {
    fn better(a: &(&str, f64), b: &(&str, f64)) -> bool {
        a.1.total_cmp(&b.1).then_with(|| b.0.cmp(a.0)).is_gt()
    }

    fn offer(&mut self, item: (&'a str, f64)) {
        if self.best.len() == self.k
            && !self
                .best
                .last()
                .is_some_and(|last| Self::better(&item, last))
        {
            return;
        }
        let at = self.best.partition_point(|b| Self::better(b, &item));
        self.best.insert(at, item);
        self.best.truncate(self.k);
    }
}

/// What one article's tokens give, gathered field by field.
struct Collector<'a> {
    /// The tokenizer, for the runs of unjoined characters.
    jieba: &'a Jieba,
    /// Keyword candidates and their counts.
    counts: Counts<'a>,
    /// The entities so far (keywords come last).
    nlp: Nlp,
    /// Whether to gather entities by POS tags and name shapes (the baseline of the entity
    /// tagger, [`Enricher::enrich_page_pos_entities`]); otherwise only keywords.
    entities: bool,
    /// The characters of the current run of unjoined single characters.
    run: Vec<char>,
}

impl<'a> Collector<'a> {
    fn count(&mut self, word: &'a str) {
        self.counts.add(word);
    }

    /// A word of two characters or more, with its dictionary tag.
    fn word(&mut self, word: &'a str, tag: &str) {
        let list = match tag.as_bytes() {
            _ if !self.entities => None,
            b"ns" => Some(&mut self.nlp.places),
            b"nt" => Some(&mut self.nlp.organizations),
            [b'n', b'r', ..] => Some(&mut self.nlp.people),
            _ => None,
        };
        if let Some(list) = list {
            push_unique(list, word);
        }
        if keyword_pos(tag) && !stop_word(word) && has_letters(word) {
            self.count(word);
        }
    }

    /// The run of one-character tokens `run` of `field` (`self.run` holds its characters):
    /// jieba's HMM cuts it into words (as `tag` with the HMM on would have; a run of two is
    /// judged without it), see [`unknown_word`].
    fn flush_run(&mut self, field: &'a str, run: &[Tag<'a>]) {
        let n = self.run.len();
        // A family name that some character follows, or a place or organisation suffix after
        // two characters.
        if n >= 2
            && run.len() == n
            && let (Some(first), Some(last)) = (run.first(), run.last())
            && let Some(text) = field.get(first.byte_start..last.byte_end)
        {
            if n == 2 {
                // The HMM would join the two characters or leave them apart: one word unless
                // one is a function word — without the cost of a jieba call.
                let nlp = self.entities.then_some(&mut self.nlp);
                unknown_word(nlp, &mut self.counts, text, &self.run);
            } else {
                for word in self.jieba.cut(text, true) {
                    if let Some(chars) = self.run.get(word.start..word.end) {
                        let nlp = self.entities.then_some(&mut self.nlp);
                        unknown_word(nlp, &mut self.counts, word.word, chars);
                    }
                }
            }
        }
        self.run.clear();
    }

    /// One field's tokens, in order.
    fn field(&mut self, field: &'a str, tags: &[Tag<'a>]) {
        let mut skip = 0;
        for (i, tag) in tags.iter().enumerate() {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            if let Some(c) = single_han(tag.word) {
                self.run.push(c);
                continue;
            }
            if !self.run.is_empty() {
                let run = tags.get(i - self.run.len()..i).unwrap_or_default();
                self.flush_run(field, run);
            }
            if let Some(word) = with_decimals(field, tags, i) {
                self.word(word, tag.tag);
                skip = 2;
            } else if two_chars_or_more(tag.word) {
                self.word(tag.word, tag.tag);
            }
        }
        let run = tags.get(tags.len() - self.run.len()..).unwrap_or_default();
        self.flush_run(field, run);
    }
}

/// A word out of jieba's dictionary (`chars` are its characters), found in a run of
/// characters the dictionary left unjoined: the name of a person, a place or an
/// organisation when shaped like one (listed in `nlp` when given); a keyword candidate unless
/// it holds a function word.
fn unknown_word<'a>(nlp: Option<&mut Nlp>, counts: &mut Counts<'a>, word: &'a str, chars: &[char]) {
    if let Some(len) = person_name(chars) {
        let end = word.char_indices().nth(len).map_or(word.len(), |(i, _)| i);
        if let Some(name) = word.get(..end) {
            if let Some(nlp) = nlp {
                push_unique(&mut nlp.people, name);
            }
            counts.add(name);
        }
    } else if is_place_name(chars) {
        if let Some(nlp) = nlp {
            push_unique(&mut nlp.places, word);
        }
        counts.add(word);
    } else if is_org_name(chars) {
        if let Some(nlp) = nlp {
            push_unique(&mut nlp.organizations, word);
        }
        counts.add(word);
    } else if chars.len() >= 2 && !chars.iter().any(|c| ends_name(*c)) {
        counts.add(word);
    }
}

/// Token `i` of `tags` joined with a decimal part that follows it (`PM2` `.` `5`: jieba
/// without its HMM cuts `PM2.5` in three), when it is an ASCII word with a letter.
fn with_decimals<'a>(field: &'a str, tags: &[Tag<'a>], i: usize) -> Option<&'a str> {
    let word = tags.get(i)?;
    if !word.word.as_bytes().first()?.is_ascii_alphabetic() {
        return None;
    }
    let (dot, decimals) = (tags.get(i + 1)?, tags.get(i + 2)?);
    let joined = word.word.bytes().all(|b| b.is_ascii_alphanumeric())
        && dot.word == "."
        && !decimals.word.is_empty()
        && decimals.word.bytes().all(|b| b.is_ascii_digit());
    if joined {
        field.get(word.byte_start..decimals.byte_end)
    } else {
        None
    }
}

/// Whether `word` has a letter (a CJK ideograph counts): not only digits and symbols.
fn has_letters(word: &str) -> bool {
    // A lead byte 0xE5..=0xE9 starts a character of U+5000..U+9FFF, all CJK ideographs:
    // most words are decided without decoding.
    matches!(word.as_bytes().first(), Some(0xE5..=0xE9))
        || word.chars().any(|c| is_cjk(c) || c.is_alphabetic())
}

fn push_unique(list: &mut Vec<String>, name: &str) {
    if !list.iter().any(|n| n == name) {
        list.push(name.to_owned());
    }
}

/// Keyword and entity extraction, built once.
#[derive(Debug)]
pub struct Enricher {
    top_k: usize,
    idf: IdfTable,
    /// IDF of a word missing from the table (the table's median, as jieba does).
    default_idf: f64,
}

/// Parses an IDF table: `word idf` per line; blank lines and `#` comments are skipped.
pub fn parse_idf(text: &str) -> Result<FxHashMap<String, f64>, ResourceError> {
    let mut idf = FxHashMap::default();
    for (no, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.split_whitespace();
        let (Some(word), Some(value), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(ResourceError::Idf(format!(
                "line {}: expected `word idf`",
                no + 1
            )));
        };
        let value: f64 = value
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| {
                ResourceError::Idf(format!("line {}: `{value}` is not an IDF", no + 1))
            })?;
        idf.insert(word.to_owned(), value);
    }
    Ok(idf)
}

impl Enricher {
    /// Builds the enricher from the IDF table (empty: every word gets the same IDF).
    pub fn new(resources: &Resources) -> Result<Enricher, ResourceError> {
        let idf = parse_idf(&resources.idf)?;
        let mut values: Vec<f64> = idf.values().copied().collect();
        values.sort_by(f64::total_cmp);
        let default_idf = values.get(values.len() / 2).copied().unwrap_or(1.0);
        Ok(Enricher {
            top_k: resources.keywords_top_k,
            idf: IdfTable::new(idf),
            default_idf,
        })
    }

    /// Keywords and POS-method entities ([`Enricher::enrich_page_pos_entities`]) of one
    /// article: one `jieba.tag` pass (HMM off) over each field.
    pub fn enrich(&self, jieba: &Jieba, article: &Article) -> Nlp {
        let tokens = ArticleTokens::new(jieba, article);
        self.enrich_page_pos_entities(
            jieba,
            std::slice::from_ref(article),
            std::slice::from_ref(&tokens),
        )
        .pop()
        .unwrap_or_default()
    }

    /// The keywords of the items of one page, in order, from their tokens (one
    /// [`ArticleTokens`] per article, as [`ArticleTokens::page`] makes them), reusing the
    /// counting buffers from one item to the next. `jieba` cuts the runs of characters the
    /// dictionary left unjoined. The entity lists stay empty: the entity tagger
    /// ([`super::entities`]) fills them.
    pub fn enrich_page<'a>(
        &self,
        jieba: &'a Jieba,
        articles: &[Article],
        tokens: &[ArticleTokens<'a>],
    ) -> Vec<Nlp> {
        self.collect(jieba, articles, tokens, false)
    }

    /// [`Enricher::enrich_page`] with entities found the way pagesift found them before the
    /// entity tagger, kept as its baseline (`pagesift-dev eval-entities`): dictionary POS
    /// tags (`nr*`, `ns`, `nt`), name shapes in the runs of characters the dictionary left
    /// unjoined, and byline names as people.
    pub fn enrich_page_pos_entities<'a>(
        &self,
        jieba: &'a Jieba,
        articles: &[Article],
        tokens: &[ArticleTokens<'a>],
    ) -> Vec<Nlp> {
        self.collect(jieba, articles, tokens, true)
    }

    fn collect<'a>(
        &self,
        jieba: &'a Jieba,
        articles: &[Article],
        tokens: &[ArticleTokens<'a>],
        entities: bool,
    ) -> Vec<Nlp> {
        let mut collector = Collector {
            jieba,
            counts: Counts::default(),
            nlp: Nlp::default(),
            entities,
            run: Vec::new(),
        };
        articles
            .iter()
            .zip(tokens)
            .map(|(article, tokens)| {
                collector.counts.clear();
                if let Some(byline) = article.byline.as_ref().filter(|_| entities) {
                    for name in byline
                        .reporters
                        .iter()
                        .chain(&byline.correspondents)
                        .chain(&byline.photographers)
                    {
                        let name: String = name.chars().filter(|c| !c.is_whitespace()).collect();
                        if !name.is_empty() {
                            push_unique(&mut collector.nlp.people, &name);
                        }
                    }
                }
                for field in &tokens.fields {
                    collector.field(field.text, &field.tokens);
                }
                let mut nlp = std::mem::take(&mut collector.nlp);
                nlp.keywords = self.keywords(&collector.counts);
                nlp
            })
            .collect()
    }

    /// Top-k TF-IDF keywords from the candidate counts: term frequency times IDF; ties are
    /// broken by the term so the output is deterministic.
    fn keywords(&self, counts: &Counts<'_>) -> Vec<Keyword> {
        if counts.total == 0 || self.top_k == 0 {
            return Vec::new();
        }
        let total = f64::from(counts.total);
        let mut top = TopK {
            k: self.top_k,
            best: Vec::with_capacity(self.top_k + 1),
        };
        for (key, (n, word)) in &counts.short {
            let idf = self.idf.short.get(key).copied();
            top.offer((
                word,
                f64::from(*n) / total * idf.unwrap_or(self.default_idf),
            ));
        }
        for (word, n) in &counts.long {
            let idf = self.idf.long.get(*word).copied();
            top.offer((
                word,
                f64::from(*n) / total * idf.unwrap_or(self.default_idf),
            ));
        }
        top.best
            .into_iter()
            .map(|(term, weight)| Keyword {
                term: term.to_owned(),
                weight: (weight * 1e6).round() / 1e6,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Byline, ItemKind};

    fn article(title: &str, text: &str) -> Article {
        Article::new(
            ItemKind::Article,
            Some(title.to_owned()),
            vec![text.to_owned()],
        )
    }

    fn enricher(idf: &str, top_k: usize) -> Enricher {
        Enricher::new(&Resources {
            idf: idf.to_owned(),
            keywords_top_k: top_k,
            ..Resources::default()
        })
        .expect("idf parses")
    }

    #[test]
    fn rare_words_outrank_common_ones_at_equal_frequency() {
        let jieba = Jieba::new();
        let a = article("防汛工作", "防汛工作很重要，防汛工作要抓好。");
        let kw = enricher("防汛 8.0\n工作 1.0\n", 2)
            .enrich(&jieba, &a)
            .keywords;
        assert_eq!(kw.len(), 2);
        assert_eq!(kw[0].term, "防汛");
        assert!(kw[0].weight > kw[1].weight);
    }

    #[test]
    fn keywords_skip_numbers_punctuation_and_single_characters() {
        let jieba = Jieba::new();
        let a = article("", "2019年，我们的工作。");
        let kw = enricher("", 10).enrich(&jieba, &a).keywords;
        for k in &kw {
            assert!(k.term.chars().count() >= 2, "{k:?}");
            assert!(!k.term.chars().all(|c| c.is_ascii_digit()), "{k:?}");
            assert_ne!(k.term, "我们");
        }
    }

    #[test]
    fn entities_come_from_pos_tags_in_order_without_duplicates() {
        let jieba = Jieba::new();
        let a = article("北京和上海", "北京市政府在北京召开会议，上海也参加。");
        let nlp = enricher("", 5).enrich(&jieba, &a);
        let beijing = nlp.places.iter().position(|p| p == "北京");
        let shanghai = nlp.places.iter().position(|p| p == "上海");
        assert!(beijing.is_some() && shanghai.is_some(), "{:?}", nlp.places);
        assert!(beijing < shanghai);
        assert_eq!(nlp.places.iter().filter(|p| *p == "北京").count(), 1);
    }

    #[test]
    fn byline_names_are_people_without_letter_spacing() {
        let jieba = Jieba::new();
        let mut a = article("消息", "会议召开。");
        a.byline = Some(Byline {
            raw: "本报讯(记者 孙 雄)".to_owned(),
            reporters: vec!["孙 雄".to_owned()],
            ..Byline::default()
        });
        let nlp = enricher("", 5).enrich(&jieba, &a);
        assert_eq!(nlp.people.first().map(String::as_str), Some("孙雄"));
    }

    #[test]
    fn unknown_names_are_found_in_the_runs_of_single_characters() {
        let jieba = Jieba::new();
        // Self-written names that are not in jieba's dictionary.
        let a = article("消息", "村民卞菁值班。记者程腾峰报道，吴亚琴说，她在山上。");
        let nlp = enricher("", 5).enrich(&jieba, &a);
        for name in ["卞菁", "程腾峰", "吴亚琴"] {
            assert!(
                nlp.people.iter().any(|p| p == name),
                "{name}: {:?}",
                nlp.people
            );
        }
    }

    #[test]
    fn a_name_is_a_family_name_and_one_or_two_given_characters_but_no_function_word() {
        let name = |s: &str| person_name(&s.chars().collect::<Vec<char>>());
        assert_eq!(name("胡伟华"), Some(3));
        assert_eq!(name("卞菁"), Some(2));
        assert_eq!(name("王某"), Some(2));
        assert_eq!(name("刘浩说"), Some(2));
        assert_eq!(name("胡伟华时"), Some(3));
        assert_eq!(name("王某某某"), None);
        assert_eq!(name("张说"), None);
        assert_eq!(name("新华"), None);
        assert_eq!(name("王"), None);
        assert_eq!(name("尼加甫"), Some(3));
        assert_eq!(name("尼加"), None);
    }

    #[test]
    fn the_stop_word_search_finds_exactly_the_stop_words() {
        for w in STOP_WORDS {
            assert!(stop_word(w), "{w}");
        }
        for w in ["安全", "一", "我们的", "", "abcdef"] {
            assert!(!stop_word(w), "{w}");
        }
    }

    #[test]
    fn short_keys_tell_words_apart_by_bytes_and_length() {
        assert_eq!(short_key("安全"), short_key("安全"));
        assert_ne!(short_key("安全"), short_key("安全\0"));
        assert_ne!(short_key("ab"), short_key("ba"));
        assert!(short_key("一二三四五").is_some());
        assert!(short_key("一二三四五六").is_none());
    }

    #[test]
    fn top_k_keeps_the_best_in_order_whatever_the_order_they_come_in() {
        let items = [("b", 1.0), ("a", 1.0), ("c", 3.0), ("d", 0.5), ("e", 2.0)];
        for rotation in 0..items.len() {
            let mut top = TopK {
                k: 3,
                best: Vec::new(),
            };
            for i in 0..items.len() {
                top.offer(items[(i + rotation) % items.len()]);
            }
            assert_eq!(top.best, vec![("c", 3.0), ("e", 2.0), ("a", 1.0)]);
        }
    }

    #[test]
    fn an_ascii_word_keeps_its_decimal_part() {
        let jieba = Jieba::new();
        let a = article("PM2.5浓度", "PM2.5浓度下降，PM2.5达标。");
        let kw = enricher("", 10).enrich(&jieba, &a).keywords;
        assert!(kw.iter().any(|k| k.term == "PM2.5"), "{kw:?}");
        assert!(!kw.iter().any(|k| k.term == "PM2"), "{kw:?}");
    }

    #[test]
    fn malformed_idf_lines_are_errors() {
        for bad in ["word", "word x", "word 1 2", "word -1", "word NaN"] {
            assert!(parse_idf(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_idf("# c\n\na 1.5\n").expect("ok").get("a"),
            Some(&1.5)
        );
    }
}
