//! One Aho-Corasick pass for several vocabularies ("families") that each want their own
//! leftmost-longest matches.
//!
//! ```text
//! union of every family's strings -> one automaton (standard semantics, overlapping search)
//!   -> every occurrence of every string, once per text
//!   -> per family: keep its strings, order by (start, longest first), take greedily
//!      = exactly what a leftmost-longest scan with that family's automaton finds
//! ```
//!
//! The classifier has three families (topic lexicons, event-kind lexicons, incident rules; the
//! masks belong to each): scanning an article once instead of three times is what makes the
//! classifier cheap. A family only ever sees its own strings, so a longer string of another
//! family never hides one of its terms.

use aho_corasick::automaton::Automaton;
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, MatchKind};

/// No member of this family.
const NONE: u32 = u32::MAX;

/// The compiled union of the families.
#[derive(Debug, Clone)]
pub struct Scanner {
    /// Over the distinct non-empty strings of all families (standard semantics, unanchored
    /// starts only, no prefilter: the search loop below is the whole search); `None` when
    /// there are none.
    automaton: Option<DFA>,
    /// Per automaton pattern, per family: the string's id in that family, or [`NONE`].
    members: Vec<Vec<u32>>,
    /// Number of families.
    families: usize,
}

/// One occurrence of a string of the union.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Byte offset where it starts.
    pub start: usize,
    /// Byte offset just past its end.
    pub end: usize,
    /// The automaton pattern (see [`Scanner::member`]).
    pub pattern: u32,
}

impl Scanner {
    /// Compiles the families: `families[f][i]` is string `i` of family `f` (a family's
    /// strings are expected to be distinct; empty strings never match).
    pub fn new(families: &[Vec<&str>]) -> Result<Scanner, String> {
        let mut index: std::collections::BTreeMap<&str, usize> = Default::default();
        let mut members: Vec<Vec<u32>> = Vec::new();
        for (f, strings) in families.iter().enumerate() {
            for (i, s) in strings.iter().enumerate() {
                if s.is_empty() {
                    continue;
                }
                let p = *index.entry(s).or_insert_with(|| {
                    members.push(vec![NONE; families.len()]);
                    members.len() - 1
                });
                let id = u32::try_from(i).map_err(|_| "too many strings".to_owned())?;
                members[p][f] = id;
            }
        }
        let mut patterns = vec![""; members.len()];
        for (s, p) in &index {
            patterns[*p] = s;
        }
        let automaton = if patterns.is_empty() {
            None
        } else {
            Some(
                DFA::builder()
                    .match_kind(MatchKind::Standard)
                    .prefilter(false)
                    .build(&patterns)
                    .map_err(|e| e.to_string())?,
            )
        };
        Ok(Scanner {
            automaton,
            members,
            families: families.len(),
        })
    }

    /// Every occurrence of every string in `text`, appended to `hits` (in the automaton's
    /// order: by end, then longest first).
    pub fn scan(&self, text: &str, hits: &mut Vec<Hit>) {
        let Some(dfa) = &self.automaton else { return };
        // The overlapping search of the `aho-corasick` crate, minus its per-match iterator
        // bookkeeping: one transition per byte, matches read off the match states.
        let Ok(mut sid) = dfa.start_state(Anchored::No) else {
            return;
        };
        for (at, &byte) in text.as_bytes().iter().enumerate() {
            sid = dfa.next_state(Anchored::No, sid, byte);
            if !dfa.is_special(sid) {
                continue;
            }
            if dfa.is_dead(sid) {
                return;
            }
            let end = at + 1;
            for i in 0..dfa.match_len(sid) {
                let pattern = dfa.match_pattern(sid, i);
                // A pattern ends here, so it is at most `end` bytes long.
                let start = end.saturating_sub(dfa.pattern_len(pattern));
                // The automaton has fewer than 2^32 patterns: `new` numbered them with `u32`s.
                #[allow(clippy::cast_possible_truncation)]
                let pattern = pattern.as_usize() as u32;
                hits.push(Hit {
                    start,
                    end,
                    pattern,
                });
            }
        }
    }

    /// The id in `family` of the string of automaton pattern `pattern`, if it belongs to it.
    pub fn member(&self, pattern: u32, family: usize) -> Option<u32> {
        if family >= self.families {
            return None;
        }
        self.members
            .get(pattern as usize)
            .and_then(|m| m.get(family))
            .copied()
            .filter(|id| *id != NONE)
    }

    /// The leftmost-longest matches of `family` among `hits` (from [`Scanner::scan`] over one
    /// text) that end at or before `limit`, as `(start, end, id in the family)` in text order;
    /// `out` is cleared first. The same matches a leftmost-longest automaton of the family's
    /// strings finds in `text[..limit]`.
    pub fn leftmost_longest(
        &self,
        hits: &[Hit],
        family: usize,
        limit: usize,
        out: &mut Vec<(usize, usize, u32)>,
    ) {
        out.clear();
        out.extend(hits.iter().filter(|h| h.end <= limit).filter_map(|h| {
            self.member(h.pattern, family)
                .map(|id| (h.start, h.end, id))
        }));
        out.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let mut pos = 0;
        out.retain(|&(start, end, _)| {
            if start < pos {
                return false;
            }
            pos = end;
            true
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftmost_longest_alone(strings: &[&str], text: &str) -> Vec<(usize, usize, u32)> {
        let ac = aho_corasick::AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(strings)
            .expect("builds");
        ac.find_iter(text)
            .map(|m| (m.start(), m.end(), m.pattern().as_usize() as u32))
            .collect()
    }

    #[test]
    fn each_family_gets_what_its_own_leftmost_longest_automaton_finds() {
        let topics = vec!["安全", "安全生产", "国家安全", "生产"];
        let kinds = vec!["生产安全", "事故", "安全"];
        let scanner = Scanner::new(&[topics.clone(), kinds.clone()]).expect("builds");
        let text = "国家安全生产安全事故，安全生产事故和生产安全";
        let mut hits = Vec::new();
        scanner.scan(text, &mut hits);
        let mut out = Vec::new();
        for (f, strings) in [topics, kinds].iter().enumerate() {
            scanner.leftmost_longest(&hits, f, text.len(), &mut out);
            assert_eq!(out, leftmost_longest_alone(strings, text), "family {f}");
            let limit = "国家安全生产".len() + 3;
            scanner.leftmost_longest(&hits, f, limit, &mut out);
            assert_eq!(out, leftmost_longest_alone(strings, &text[..limit]), "{f}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_text_gets_the_matches_of_separate_leftmost_longest_scans(
            text in "[安全生产事故国家]{0,40}",
            cut in 0usize..40,
        ) {
            let topics = vec!["安全", "安全生产", "国家安全", "生产", "全"];
            let kinds = vec!["生产安全", "事故", "安全", "家"];
            let scanner = Scanner::new(&[topics.clone(), kinds.clone()]).expect("builds");
            let mut hits = Vec::new();
            scanner.scan(&text, &mut hits);
            let limit = text.char_indices().nth(cut).map_or(text.len(), |(i, _)| i);
            let mut out = Vec::new();
            for (f, strings) in [topics, kinds].iter().enumerate() {
                scanner.leftmost_longest(&hits, f, limit, &mut out);
                proptest::prop_assert_eq!(&out, &leftmost_longest_alone(strings, &text[..limit]));
            }
        }
    }

    #[test]
    fn no_strings_find_nothing_and_empty_strings_are_skipped() {
        let scanner = Scanner::new(&[vec![], vec![""]]).expect("builds");
        let mut hits = Vec::new();
        scanner.scan("任何文本", &mut hits);
        assert!(hits.is_empty());
        assert_eq!(scanner.member(0, 5), None);
    }
}
