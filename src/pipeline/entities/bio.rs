//! BIO files: one `character<TAB>tag` per line, a blank line between sentences (the format
//! of `shared/ner/`, see its README).

use super::{Span, spans, tag_index};

/// One tagged sentence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BioSentence {
    /// The sentence's text (its characters in order).
    pub text: String,
    /// One tag index (see [`super::TAGS`]) per character.
    pub tags: Vec<u8>,
}

impl BioSentence {
    /// The gold spans.
    pub fn spans(&self) -> Vec<Span> {
        spans(&self.tags)
    }
}

/// A line of a BIO file that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("BIO line {line}: {message}")]
pub struct BioError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Parses a BIO file. Empty sentences are skipped; a line that is not one character, a tab
/// (or a space) and a known tag is an error.
pub fn parse(text: &str) -> Result<Vec<BioSentence>, BioError> {
    let mut out = Vec::new();
    let mut current = BioSentence::default();
    for (no, line) in text.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            if !current.tags.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            continue;
        }
        let bad = |message: String| BioError {
            line: no + 1,
            message,
        };
        let mut chars = line.chars();
        let c = chars.next().ok_or_else(|| bad("empty line".to_owned()))?;
        let rest: &str = chars.as_str();
        let tag = rest
            .strip_prefix('\t')
            .or_else(|| rest.strip_prefix(' '))
            .ok_or_else(|| bad(format!("expected `character<TAB>tag`, got `{line}`")))?;
        let tag = tag_index(tag.trim()).ok_or_else(|| bad(format!("unknown tag `{tag}`")))?;
        current.text.push(c);
        current.tags.push(tag);
    }
    if !current.tags.is_empty() {
        out.push(current);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::entities::Kind;

    #[test]
    fn sentences_are_split_at_blank_lines() {
        let s = parse("甲\tB-PER\n乙\tI-PER\n说\tO\n\n\n丙\tB-LOC\r\n").expect("parses");
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].text, "甲乙说");
        assert_eq!(s[0].spans()[0].kind, Kind::Person);
        assert_eq!((s[0].spans()[0].start, s[0].spans()[0].end), (0, 2));
        assert_eq!(s[1].tags, vec![3]);
    }

    #[test]
    fn bad_lines_are_errors_with_their_number() {
        let e = parse("甲\tB-PER\n乙\tB-XYZ\n").expect_err("unknown tag");
        assert_eq!(e.line, 2);
        assert!(parse("甲B-PER\n").is_err());
    }
}
