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
    let mut lines = Vec::new();
    for raw in text.split('\n') {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let indented = raw.starts_with(['\u{3000}', ' ', '\t', '\u{a0}']);
        let mut out = String::with_capacity(raw.len());
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
        lines.push(Line {
            text: out,
            indented,
        });
    }
    Normalized { lines }
}
