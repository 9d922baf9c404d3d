//! Character- and line-shape predicates the segmenter's rules are built from: sentence ends,
//! heading length, enumeration and bullet markers, column tags, box labels.
//!
//! Everything here is structure or domain vocabulary of newspaper layout (never text of a
//! particular page).

/// Longest line (non-whitespace characters) still taken for a headline-block line.
pub const MAX_HEADING_CHARS: usize = 50;

/// Labels of boxes printed inside an article (`核心阅读` summary boxes, editor's notes). A
/// headline-block line equal to one of these opens body text, never a new article.
const BOX_LABELS: &[&str] = &[
    "核心阅读",
    "内容提要",
    "开栏的话",
    "题记",
    "编者按",
    "编者的话",
    "延伸阅读",
    "相关链接",
    "链接",
    "记者手记",
    "记者观察",
    "背景",
    "背景链接",
    "短评",
    "评论",
    "小贴士",
    "新闻链接",
    "新闻背景",
    "数据",
    "案情",
    "【案情】",
    "专家点评",
    "专家解读",
    "知识链接",
    "资料链接",
    "小资料",
    "历史背景",
    "参观贴士",
    "相关阅读",
];

pub use crate::pipeline::normalize::{is_cjk, is_space};

/// Number of characters that are not ASCII whitespace. In normalised text — all the segmenter
/// sees — every whitespace character is ASCII (`normalize` folds the others into spaces), so
/// this is the number of non-whitespace characters.
///
/// Counted on bytes, in blocks of at most 255 with a `u8` counter so the loop vectorises: a
/// character is a byte that is not a UTF-8 continuation byte.
pub fn visible_len(s: &str) -> usize {
    s.as_bytes()
        .chunks(255)
        .map(|block| {
            let n = block.iter().fold(0u8, |n, &x| {
                let lead = (x as i8) >= -0x40;
                // ' ', '\t', '\n', '\x0b', '\x0c', '\r'
                let space = (x == b' ') | (x.wrapping_sub(b'\t') <= 4);
                n.wrapping_add(u8::from(lead & !space))
            });
            usize::from(n)
        })
        .sum()
}

/// Whether `s` has at most `max` non-whitespace characters: `visible_len(s) <= max`, but a
/// long line is settled on a short prefix.
pub fn visible_at_most(s: &str, max: usize) -> bool {
    // Every character takes one to four bytes.
    if s.len() <= max {
        return true;
    }
    // A prefix long enough to hold more than `max` ideographs (three bytes each) and a few
    // spaces settles a long line; otherwise count it all.
    let mut cut = 3 * (max + 1) + 8;
    if cut < s.len() {
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        if s.get(..cut).is_some_and(|p| visible_len(p) > max) {
            return false;
        }
    }
    visible_len(s) <= max
}

/// Whether a character starting with byte `b` may be whitespace: ASCII whitespace, or the
/// lead byte of a non-ASCII one (U+0085 and U+00A0 start with `C2`, U+1680 with `E1`,
/// U+2000..U+205F with `E2`, U+3000 with `E3`).
fn may_start_space(b: u8) -> bool {
    matches!(b, b'\t'..=b'\r' | b' ' | 0xc2 | 0xe1 | 0xe2 | 0xe3)
}

/// Whether the character ending `s` is whitespace; the last byte settles most characters
/// (every non-ASCII whitespace character ends with one of a few bytes).
fn ends_with_space(s: &str) -> bool {
    match s.as_bytes().last() {
        Some(&b) if b < 0x80 => matches!(b, b'\t'..=b'\r' | b' '),
        Some(0x80..=0x8a | 0x9f | 0xa0 | 0xa8 | 0xa9 | 0xaf) => {
            s.chars().next_back().is_some_and(is_space)
        }
        _ => false,
    }
}

/// Whether the character starting `s` is whitespace.
fn starts_with_space(s: &str) -> bool {
    s.as_bytes().first().is_some_and(|&b| may_start_space(b))
        && s.chars().next().is_some_and(is_space)
}

/// `s.trim()`, settled by looking at the two end characters when there is nothing to trim
/// (normalised lines never have anything to trim).
pub fn trim(s: &str) -> &str {
    if starts_with_space(s) || ends_with_space(s) {
        s.trim()
    } else {
        s
    }
}

/// `s.trim_start()`, quick when there is nothing to trim.
pub fn trim_start(s: &str) -> &str {
    if starts_with_space(s) {
        s.trim_start()
    } else {
        s
    }
}

/// `s.trim_end()`, quick when there is nothing to trim.
pub fn trim_end(s: &str) -> &str {
    if ends_with_space(s) { s.trim_end() } else { s }
}

/// `s` without any whitespace (how truth files compare text).
pub fn squash(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// [`squash`], borrowing `s` when it has no whitespace.
pub fn squashed(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().any(is_space) {
        std::borrow::Cow::Owned(squash(s))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

fn last_char(s: &str) -> Option<char> {
    trim_end(s).chars().next_back()
}

/// Punctuation that ends a sentence.
fn is_sentence_punct(c: char) -> bool {
    matches!(c, '。' | '！' | '？' | '!' | '?' | '…' | '；' | ';')
}

/// The line ends a sentence: `。！？…；`, or a closing quote right after one of them.
pub fn ends_sentence(s: &str) -> bool {
    let mut rev = trim_end(s).chars().rev();
    match rev.next() {
        Some(c) if is_sentence_punct(c) => true,
        Some('”' | '’' | '」' | '』' | '"' | '\'') => {
            rev.next().is_some_and(is_sentence_punct)
        }
        _ => false,
    }
}

/// The line is complete: it cannot continue on the next line. Sentence ends, plus a colon
/// (a lead-in to a list), a closing bracket (credits), a dash (kickers).
pub fn ends_complete(s: &str) -> bool {
    ends_sentence(s)
        || matches!(
            last_char(s),
            Some('：' | ':' | '）' | ')' | '】' | '—' | '」' | '』' | '”')
        )
}

/// The line starts with a character no line can start with unless it continues the previous
/// one (a comma, a full stop, a closing bracket or quote…).
pub fn starts_as_continuation(s: &str) -> bool {
    matches!(
        s.chars().next(),
        Some(
            '，' | '、'
                | '。'
                | '；'
                | '：'
                | '！'
                | '？'
                | '）'
                | '】'
                | '”'
                | '’'
                | '》'
                | ','
                | '.'
        )
    )
}

/// Shape of a headline-block line: short and not ending a sentence.
pub fn is_heading_shape(s: &str) -> bool {
    !ends_sentence(s) && s.chars().any(|c| !is_space(c)) && visible_at_most(s, MAX_HEADING_CHARS)
}

/// Whether `s` with its whitespace removed equals `target` (no allocation).
pub fn eq_squashed(s: &str, target: &str) -> bool {
    s.chars().filter(|&c| !is_space(c)).eq(target.chars())
}

/// Longest box label (characters).
pub const MAX_BOX_LABEL_CHARS: usize = 5;

/// A box label such as `核心阅读`.
pub fn is_box_label(s: &str) -> bool {
    visible_at_most(s, MAX_BOX_LABEL_CHARS) && BOX_LABELS.iter().any(|l| eq_squashed(s, l))
}

/// A line that starts with an enumeration or bullet marker: `一、`, `（二）`, `3.`, `第五条`,
/// `第二章`, `▲`, `●`, `■`… Such lines are subheads or rule lines inside an article.
pub fn starts_with_marker(s: &str) -> bool {
    let s = trim_start(s);
    let Some(first) = s.chars().next() else {
        return false;
    };
    if matches!(
        first,
        '▲' | '△'
            | '●'
            | '○'
            | '■'
            | '□'
            | '◆'
            | '◇'
            | '★'
            | '☆'
            | '◎'
            | '•'
            | '·'
            | '※'
            | '►'
            | '▶'
    ) {
        return true;
    }
    if matches!(first, '①'..='⑳') {
        return true;
    }
    let numeral = |c: char| {
        c.is_ascii_digit()
            || matches!(
                c,
                '一' | '二'
                    | '三'
                    | '四'
                    | '五'
                    | '六'
                    | '七'
                    | '八'
                    | '九'
                    | '十'
                    | '百'
                    | '零'
                    | '〇'
            )
    };
    // The byte length of the numerals `s` starts with.
    let numerals = |s: &str| {
        s.char_indices()
            .find(|&(_, c)| !numeral(c))
            .map_or(s.len(), |(i, _)| i)
    };
    // 一、 / 1、 / 1. / 1．
    let head = numerals(s);
    if head > 0 {
        let rest = &s[head..];
        let mut after = rest.chars();
        if matches!(after.next(), Some('、' | '．' | '.')) {
            // "1.8万" is a number, not a marker.
            return !after.next().is_some_and(|c| c.is_ascii_digit() || c == '.');
        }
    }
    // （一） (1)
    if let Some(rest) = s.strip_prefix(['（', '(']) {
        let head = numerals(rest);
        if head > 0 && rest[head..].starts_with(['）', ')']) {
            return true;
        }
    }
    // 第X条 / 第X章 / 第X节 / 第X部分
    if let Some(rest) = s.strip_prefix('第') {
        let head = numerals(rest);
        if head > 0 {
            let after = rest[head..].trim_start();
            return after.starts_with(['条', '章', '节', '款', '编']) || after.starts_with("部分");
        }
    }
    false
}

/// A sign-off such as `——编者`: a dash followed by a short role.
pub fn is_signoff(s: &str) -> bool {
    trim_start(s).starts_with('—')
        && visible_at_most(s, MAX_SIGNOFF_CHARS)
        && squashed(s).starts_with("——")
}

/// Longest sign-off (characters).
pub const MAX_SIGNOFF_CHARS: usize = 6;

/// Longest column tag in brackets at the end of a headline.
const MAX_COLUMN_TAG_CHARS: usize = 14;
/// Longest series tag (with `·` or a dash inside) at the end of a headline.
const MAX_SERIES_TAG_CHARS: usize = 32;

/// The headline ends with a column tag in brackets, e.g. `（一线探民生）`, `(点赞新时代)`.
pub fn has_column_tag(s: &str) -> bool {
    let s = s.trim_end();
    let Some(close) = s.chars().next_back() else {
        return false;
    };
    let open = match close {
        '）' => '（',
        ')' => '(',
        _ => return false,
    };
    let Some(pos) = s.rfind(open) else {
        return false;
    };
    let inner = &s[pos + open.len_utf8()..s.len() - close.len_utf8()];
    let n = visible_len(inner);
    // A series tag (`人民论坛·70华诞·…`, `…指引下——新时代…`) may be longer.
    let max = if inner.contains(['·', '—']) {
        MAX_SERIES_TAG_CHARS
    } else {
        MAX_COLUMN_TAG_CHARS
    };
    pos > 0 && (2..=max).contains(&n) && !inner.contains(['，', '。', ','])
}

/// Column tags of a sidebar printed inside an article (a reporter's notes, a short comment).
const SIDEBAR_TAGS: &[&str] = &["记者手记", "短评", "编后", "编后语", "采访手记", "相关链接"];

/// The headline of an in-article sidebar: it ends with a sidebar tag (`…（记者手记）`).
pub fn has_sidebar_tag(s: &str) -> bool {
    let t = s.trim_end();
    let closed = |open: char, close: char| {
        t.strip_suffix(close).is_some_and(|t| {
            SIDEBAR_TAGS
                .iter()
                .any(|tag| t.strip_suffix(tag).is_some_and(|t| t.ends_with(open)))
        })
    };
    closed('（', '）') || closed('(', ')')
}

/// A column label (`政务动态`, `反馈`): two to four CJK characters and nothing else.
pub fn is_label_shape(s: &str) -> bool {
    let n = s.chars().count();
    (2..=4).contains(&n) && s.chars().all(is_cjk)
}

/// A name as printed on its own byline line: two to four CJK characters, possibly letter-spaced
/// (`付 炎`, `周秀枝`).
pub fn is_name_shape(s: &str) -> bool {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let joined: String = parts.concat();
    let n = joined.chars().count();
    (2..=4).contains(&n)
        && joined.chars().all(is_cjk)
        && (parts.len() == 1 || parts.iter().all(|p| p.chars().count() == 1))
}

/// Longest contact line (characters).
pub const MAX_CONTACT_CHARS: usize = 60;

/// A line that is page furniture or a credit rather than text: a contact address
/// (`栏目投稿邮箱：…@…`).
pub fn is_contact_line(s: &str) -> bool {
    visible_at_most(s, MAX_CONTACT_CHARS)
        && (s.contains('@') || s.contains("http") || s.contains("www."))
}

/// Whether a line opens more brackets or quotes than it closes (`为电网装上“超强`).
pub fn unclosed(line: &str) -> bool {
    let mut depth = 0i32;
    for c in line.chars() {
        match c {
            '（' | '(' | '《' | '“' | '【' | '‘' | '「' => depth += 1,
            '）' | ')' | '》' | '”' | '】' | '’' | '」' => depth -= 1,
            _ => {}
        }
    }
    depth > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_stop_inside_quotes_ends_a_sentence() {
        assert!(ends_sentence("他说：“好。”"));
        assert!(!ends_sentence("叫“连心桥”"));
        assert!(ends_complete("国防部："));
        assert!(!ends_complete("治本之"));
    }

    #[test]
    fn numbered_and_bulleted_lines_carry_markers() {
        assert!(starts_with_marker("一、出台条例"));
        assert!(starts_with_marker("（二）加强"));
        assert!(starts_with_marker("第十二条 本规定"));
        assert!(starts_with_marker("第一章 总 则"));
        assert!(starts_with_marker("▲不要在家中"));
        assert!(!starts_with_marker("1.8万起案件"));
        assert!(!starts_with_marker("第一时间确定各方分工。"));
    }

    #[test]
    fn column_tags_close_a_headline() {
        assert!(has_column_tag("让回乡的路更顺畅（民生观）"));
        assert!(has_column_tag("“摆渡”村医(点赞新时代)"));
        assert!(!has_column_tag("（作者为本报记者）"));
        assert!(!has_column_tag("市场研究机构——"));
    }

    #[test]
    fn quick_trims_trim_like_the_standard_library() {
        for s in [
            "",
            " ",
            "中文",
            " 中文\u{3000}",
            "\u{3000}a",
            "a\u{a0}",
            "。 x 。",
        ] {
            assert_eq!(trim(s), s.trim());
            assert_eq!(trim_start(s), s.trim_start());
            assert_eq!(trim_end(s), s.trim_end());
        }
    }

    #[test]
    fn box_labels_fit_the_length_checked_first() {
        assert!(
            BOX_LABELS
                .iter()
                .all(|l| visible_len(l) <= MAX_BOX_LABEL_CHARS)
        );
        assert!(is_box_label("核 心 阅 读"));
        assert!(!is_box_label("核心阅读文章"));
        assert!(has_sidebar_tag("老船长的记事本（记者手记）"));
        assert!(has_sidebar_tag("一句话(编后语)"));
        assert!(!has_sidebar_tag("记者手记）"));
    }

    #[test]
    fn visible_lengths_count_like_the_standard_library_on_normalised_text() {
        use crate::pipeline::normalize::normalize;
        let slow = |s: &str| s.chars().filter(|c| !c.is_whitespace()).count();
        let mut raw = String::new();
        for c in (0..=0x10_ffff).filter_map(char::from_u32) {
            raw.clear();
            raw.extend([c, '中', c, c, 'a', '，', ' ', c]);
            for line in &normalize(&raw).lines {
                assert_eq!(visible_len(&line.text), slow(&line.text), "{c:?}");
            }
        }
        let long = "一二三 四五\t六".repeat(100);
        assert_eq!(visible_len(&long), slow(&long));
        for max in [0, 1, 5, 50, 599, 600, 700] {
            assert_eq!(visible_at_most(&long, max), slow(&long) <= max, "{max}");
        }
    }

    #[test]
    fn visible_lengths_skip_ascii_whitespace() {
        let s = "a b\t中 文\n。 x";
        assert_eq!(visible_len(s), 6);
        assert!(visible_at_most(s, 6));
        assert!(!visible_at_most(s, 5));
        assert!(visible_at_most("", 0));
        for c in (0..=0x10_ffff).filter_map(char::from_u32) {
            assert_eq!(is_space(c), c.is_whitespace(), "{c:?}");
        }
    }

    #[test]
    fn letter_spaced_names_have_name_shape() {
        assert!(is_name_shape("付 炎"));
        assert!(is_name_shape("周秀枝"));
        assert!(!is_name_shape("清淤保畅通"));
        assert!(!is_name_shape("付 炎说"));
    }
}
