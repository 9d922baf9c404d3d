//! Text normalisation before segmentation: line endings, NUL and control characters,
//! non-breaking and full-width spaces. Leading indentation is kept as a marker because the
//! raw-dump layout uses it to mark paragraph starts.

/// Normalised page text: one entry per input line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Normalized {
    /// The lines, trimmed, control characters removed.
    pub lines: Vec<Line>,
}

/// One line of the page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Line {
    /// The line's text without leading/trailing whitespace; inner spaces folded to one ASCII space.
    pub text: String,
    /// The line was indented (leading full-width or ASCII spaces) in the input.
    pub indented: bool,
}

/// Normalises a page's text.
pub fn normalize(text: &str) -> Normalized {
    let lines = text
        .split('\n')
        .map(|raw| {
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            Line {
                text: clean(raw),
                indented: raw.starts_with(['\u{3000}', ' ', '\t', '\u{a0}']),
            }
        })
        .collect();
    Normalized { lines }
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

/// Whether `c` is dropped or folded into a space: whitespace, zero-width characters, control
/// characters.
#[inline]
fn is_special(c: char) -> bool {
    // Ideographs, kana, full-width forms…: nothing above U+3000 is special but these two.
    if c > '\u{3000}' {
        return c == '\u{feff}';
    }
    c.is_control() || c == '\u{200b}' || is_space(c)
}

/// One line trimmed, inner whitespace runs folded to one ASCII space, control characters
/// removed. Runs of ordinary characters are copied as slices.
fn clean(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut pending_space = false;
    let mut start = 0;
    fn flush(out: &mut String, pending_space: &mut bool, run: &str) {
        if run.is_empty() {
            return;
        }
        if *pending_space {
            out.push(' ');
            *pending_space = false;
        }
        out.push_str(run);
    }
    for (i, c) in raw.char_indices() {
        if !is_special(c) {
            continue;
        }
        flush(&mut out, &mut pending_space, &raw[start..i]);
        if c == '\u{feff}' || c == '\u{200b}' || is_space(c) {
            pending_space = !out.is_empty();
        }
        start = i + c.len_utf8();
    }
    flush(&mut out, &mut pending_space, &raw[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The character-by-character definition `clean` must agree with.
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
        ] {
            assert_eq!(clean(raw), reference(raw), "{raw:?}");
        }
    }
}
