//! Text normalisation before segmentation: line endings, NUL and control characters,
//! non-breaking and full-width spaces. Leading indentation is kept as a marker because the
//! raw-dump layout uses it to mark paragraph starts.

use std::borrow::Cow;

/// Normalised page text: one entry per input line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Normalized<'a> {
    /// The lines, trimmed, control characters removed.
    pub lines: Vec<Line<'a>>,
}

/// One line of the page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Line<'a> {
    /// The line's text without leading/trailing whitespace; inner spaces folded to one ASCII
    /// space. Borrowed from the input when it is already so (most lines).
    pub text: Cow<'a, str>,
    /// The line was indented (leading full-width or ASCII spaces) in the input.
    pub indented: bool,
    /// Number of non-whitespace characters in `text`, counted while normalising (the
    /// segmenter's length checks read it instead of counting again).
    pub visible: usize,
}

/// Normalises a page's text.
pub fn normalize(text: &str) -> Normalized<'_> {
    // One scan finds the line ends, whether each line is already clean and how many
    // characters it shows; only the lines that are not clean are scanned again, by
    // `clean_owned`.
    let b = text.as_bytes();
    // A guess that saves most reallocations: lines are rarely shorter on average.
    let mut lines = Vec::with_capacity(b.len() / 32 + 1);
    let mut start = 0;
    let mut is_clean = true;
    // Characters and spaces of the current line so far (while it is clean).
    let (mut chars, mut spaces) = (0usize, 0usize);
    let mut i = 0;
    while i < b.len() {
        let lead = b[i];
        let step = ORDINARY_LEN[usize::from(lead)];
        if step != 0 {
            i += usize::from(step);
            chars += 1;
            continue;
        }
        if lead == b'\n' {
            let raw = text.get(start..i).unwrap_or_default();
            lines.push(line(raw, is_clean.then(|| chars - spaces)));
            i += 1;
            start = i;
            is_clean = true;
            (chars, spaces) = (0, 0);
            continue;
        }
        // Common punctuation shares lead bytes with the special characters: `。` and `、`
        // (`E3 80 8x`), full-width forms (`EF xx xx`), quotes and dashes (`E2 80 xx`).
        let plain_3 = match lead {
            0xe3 => b.get(i + 1..i + 3) != Some(&[0x80, 0x80]),
            0xef => b.get(i + 1) != Some(&0xbb),
            _ => false,
        };
        if plain_3 {
            i += 3;
            chars += 1;
            continue;
        }
        if !is_clean {
            // The rest of the line is read by `clean_owned`: go to its end.
            i = text
                .get(i..)
                .and_then(|rest| rest.find('\n'))
                .map_or(b.len(), |n| i + n);
            continue;
        }
        match special(&b[i..]) {
            None => {
                i += utf8_len(lead);
                chars += 1;
            }
            // A single space between two ordinary characters stays (the character before is
            // ordinary, or the line would not be clean any more).
            Some(_)
                if lead == b' '
                    && i > start
                    && i + 1 < b.len()
                    && special(&b[i + 1..]).is_none() =>
            {
                i += 1;
                (chars, spaces) = (chars + 1, spaces + 1);
            }
            Some((_, len)) => {
                is_clean = false;
                i += len;
            }
        }
    }
    let raw = text.get(start..).unwrap_or_default();
    lines.push(line(raw, is_clean.then(|| chars - spaces)));
    Normalized { lines }
}

/// One line of the page (without its `\n`): `visible` is its count of non-whitespace
/// characters when the line is known to be clean, `None` when it must be cleaned.
fn line(raw: &str, visible: Option<usize>) -> Line<'_> {
    let indented = raw.starts_with(['\u{3000}', ' ', '\t', '\u{a0}']);
    let stripped = raw.strip_suffix('\r');
    let (text, visible) = match (visible, stripped) {
        (Some(visible), None) => (Cow::Borrowed(raw), visible),
        // A `\r` before the line break stopped the scan: the line itself may be clean.
        (_, Some(line)) if is_clean(line) => (
            Cow::Borrowed(line),
            line.chars().filter(|&c| c != ' ').count(),
        ),
        (_, line) => {
            let (text, visible) = clean_owned(line.unwrap_or(raw));
            (Cow::Owned(text), visible)
        }
    };
    Line {
        text,
        indented,
        visible,
    }
}

/// Whether `c` is whitespace (`char::is_whitespace`), without the Unicode table lookup: the
/// non-ASCII whitespace characters are listed.
#[inline]
pub fn is_space(c: char) -> bool {
    if c.is_ascii() {
        matches!(c, ' ' | '\t'..='\r')
    } else {
        matches!(
            c,
            '\u{85}' | '\u{a0}' | '\u{1680}' | '\u{2000}'
                ..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
        )
    }
}

/// Whether `c` is a CJK ideograph: the unified block, extension A and the compatibility
/// ideographs. The one definition the decoder, the segmenter and the NLP pass share.
#[inline]
pub fn is_cjk(c: char) -> bool {
    matches!(c, '\u{4e00}'..='\u{9fff}' | '\u{3400}'..='\u{4dbf}' | '\u{f900}'..='\u{faff}')
}

/// What a whitespace, zero-width or control character does to a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Special {
    /// Whitespace and zero-width characters: folded into one ASCII space, dropped at the ends.
    Space,
    /// Control characters: removed.
    Drop,
}

/// The special character whose UTF-8 encoding starts at `b[0]`, with its length; `None` for
/// an ordinary character. Byte patterns: C0 controls and ASCII whitespace; `C2 80..9F` (C1
/// controls, `C2 85` is whitespace); `C2 A0`; `E1 9A 80` (U+1680); `E2 80 80..8B` (U+2000 to
/// the zero-width space U+200B); `E2 80 A8|A9|AF`; `E2 81 9F` (U+205F); `E3 80 80` (U+3000);
/// `EF BB BF` (U+FEFF).
#[inline]
fn special(b: &[u8]) -> Option<(Special, usize)> {
    use Special::{Drop, Space};
    match *b {
        [b' ' | b'\t'..=b'\r', ..] => Some((Space, 1)),
        [0x00..=0x1f | 0x7f, ..] => Some((Drop, 1)),
        [0xc2, 0x85 | 0xa0, ..] => Some((Space, 2)),
        [0xc2, 0x80..=0x9f, ..] => Some((Drop, 2)),
        [0xe1, 0x9a, 0x80, ..]
        | [0xe2, 0x80, 0x80..=0x8b | 0xa8 | 0xa9 | 0xaf, ..]
        | [0xe2, 0x81, 0x9f, ..]
        | [0xe3, 0x80, 0x80, ..]
        | [0xef, 0xbb, 0xbf, ..] => Some((Space, 3)),
        _ => None,
    }
}

/// Length of the UTF-8 sequence a lead byte starts.
#[inline]
pub(crate) const fn utf8_len(lead: u8) -> usize {
    match lead {
        0xf0..=0xff => 4,
        0xe0..=0xef => 3,
        0xc0..=0xdf => 2,
        _ => 1,
    }
}

/// For each lead byte: the length of its character when that character can never be
/// [special], 0 when it may be (ASCII space and controls, and the lead bytes `C2`, `E1`, `E2`,
/// `E3`, `EF`). One table look-up settles most characters.
const ORDINARY_LEN: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] = match b {
            0x00..=0x20 | 0x7f | 0xc2 | 0xe1 | 0xe2 | 0xe3 | 0xef => 0,
            // At most 4: the cast cannot truncate.
            _ => utf8_len(b) as u8,
        };
        i += 1;
    }
    table
};

/// Whether cleaning ([`clean_owned`]) would leave `raw` as it is: no special character but
/// single ASCII spaces between two ordinary characters.
fn is_clean(raw: &str) -> bool {
    let b = raw.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let lead = b[i];
        let step = ORDINARY_LEN[usize::from(lead)];
        if step != 0 {
            i += usize::from(step);
            continue;
        }
        match special(&b[i..]) {
            None => i += utf8_len(lead),
            // The character before was ordinary, or this scan would have stopped there.
            Some(_)
                if lead == b' ' && i > 0 && i + 1 < b.len() && special(&b[i + 1..]).is_none() =>
            {
                i += 1;
            }
            Some(_) => return false,
        }
    }
    true
}

/// A line trimmed, inner whitespace runs folded to one ASCII space, control characters removed,
/// as a new string, with its number of non-whitespace characters. Works on
/// bytes: only lead bytes that can start a special character are looked at closely, runs of
/// ordinary characters are copied as slices.
fn clean_owned(raw: &str) -> (String, usize) {
    let b = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut visible = 0;
    let mut pending_space = false;
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        let lead = b[i];
        let step = ORDINARY_LEN[usize::from(lead)];
        if step != 0 {
            i += usize::from(step);
            visible += 1;
            continue;
        }
        let Some((kind, len)) = special(&b[i..]) else {
            i += utf8_len(lead);
            visible += 1;
            continue;
        };
        if let Some(run) = raw.get(start..i)
            && !run.is_empty()
        {
            if pending_space {
                out.push(' ');
            }
            out.push_str(run);
            pending_space = false;
        }
        if kind == Special::Space {
            pending_space = !out.is_empty();
        }
        i += len;
        start = i;
    }
    if let Some(run) = raw.get(start..)
        && !run.is_empty()
    {
        if pending_space {
            out.push(' ');
        }
        out.push_str(run);
    }
    (out, visible)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line cleaned as [`normalize`] cleans it: borrowed when it is already clean.
    fn clean(raw: &str) -> Cow<'_, str> {
        if is_clean(raw) {
            Cow::Borrowed(raw)
        } else {
            Cow::Owned(clean_owned(raw).0)
        }
    }

    /// The character-by-character definition cleaning must agree with.
    fn reference(raw: &str) -> String {
        let mut out = String::new();
        let mut pending_space = false;
        for c in raw.chars() {
            if c.is_whitespace() || c == '\u{feff}' || c == '\u{200b}' {
                pending_space = !out.is_empty();
            } else if c.is_control() {
                continue;
            } else {
                if pending_space {
                    out.push(' ');
                    pending_space = false;
                }
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn spaces_fold_and_control_characters_vanish_like_the_reference() {
        for raw in [
            "",
            "   ",
            "\u{3000}\u{3000}正文 第一段。",
            "a\u{1}b",
            "a \u{1} b",
            "\u{feff}标题\u{200b}一\u{a0}\u{a0}二\t ",
            "x\u{85}y\u{7f}z\u{2009}\u{3000}",
            "中文\u{9f}，English words  here。",
            "😀 \u{10ffff}\u{3001}\u{2010}",
        ] {
            assert_eq!(clean(raw), reference(raw), "{raw:?}");
            assert_eq!(clean_owned(raw).0, reference(raw), "{raw:?}");
        }
    }

    #[test]
    fn pages_split_into_lines_cleaned_like_the_reference() {
        for page in [
            "",
            "\n",
            "a\r\nb \r\n\r\n c\n",
            "标题\n\n\u{3000}\u{3000}正文 第一段。\r\n  x  y \t\n末行 ",
            "a b\nc  d\n\u{feff}e\u{200b}f\n g",
        ] {
            let got = normalize(page);
            let want: Vec<(String, bool)> = page
                .split('\n')
                .map(|raw| {
                    let raw = raw.strip_suffix('\r').unwrap_or(raw);
                    (
                        reference(raw),
                        raw.starts_with(['\u{3000}', ' ', '\t', '\u{a0}']),
                    )
                })
                .collect();
            let got: Vec<(String, bool)> = got
                .lines
                .iter()
                .map(|l| (l.text.to_string(), l.indented))
                .collect();
            assert_eq!(got, want, "{page:?}");
            for l in &normalize(page).lines {
                assert_eq!(
                    l.visible,
                    l.text.chars().filter(|c| !c.is_whitespace()).count()
                );
            }
        }
    }

    #[test]
    fn every_character_is_kept_folded_or_dropped_like_the_reference() {
        let mut raw = String::new();
        for c in (0..=0x10_ffff).filter_map(char::from_u32) {
            raw.clear();
            for piece in ["a", "", "中", "", ""] {
                raw.push_str(piece);
                raw.push(c);
            }
            assert_eq!(clean(&raw), reference(&raw), "{c:?}");
            // Borrowed exactly when nothing changes.
            assert_eq!(is_clean(&raw), reference(&raw) == raw, "{c:?}");
            raw.insert(0, ' ');
            assert_eq!(clean(&raw), reference(&raw), "{c:?}");
            let page = format!("x\n{raw}\ny{c}\n{c}");
            let normalized = normalize(&page);
            for l in &normalized.lines {
                let visible = l.text.chars().filter(|c| !c.is_whitespace()).count();
                assert_eq!(l.visible, visible, "{c:?}");
            }
            let got: Vec<String> = normalized
                .lines
                .iter()
                .map(|l| l.text.to_string())
                .collect();
            let want: Vec<String> = page
                .split('\n')
                .map(|l| reference(l.strip_suffix('\r').unwrap_or(l)))
                .collect();
            assert_eq!(got, want, "{c:?}");
        }
    }
}
