//! The keyword IDF table (`config/idf.txt`) from a corpus of articles, with the same jieba and
//! user dictionary the pipeline uses (`pagesift-dev build-idf`). `idf(word) = ln(N / df(word))`;
//! words in fewer than `min_df` articles are left out (they get the table's median IDF). The
//! table is sorted by word and the articles are read in id order, so the same corpus always
//! gives the same file.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

use jieba_rs::Jieba;

/// The command that writes the table, named in its header line.
pub const COMMAND: &str = "pagesift-dev build-idf";

/// A built IDF table.
#[derive(Debug, Clone, PartialEq)]
pub struct IdfTable {
    /// The file's text: a `#` header line, then `word idf` lines sorted by word.
    pub text: String,
    /// Words in the table.
    pub words: usize,
    /// Articles the document frequencies were counted over.
    pub articles: usize,
}

/// Whether a token can be a keyword at all (two characters or more, not a number).
fn counts(word: &str) -> bool {
    word.chars().nth(1).is_some() && word.chars().any(|c| c.is_alphabetic())
}

/// Counts in how many of `texts` (article id -> text) each word occurs and writes the table;
/// `None` when there is no article.
pub fn build(jieba: &Jieba, texts: &HashMap<String, String>, min_df: usize) -> Option<IdfTable> {
    if texts.is_empty() {
        return None;
    }
    let mut ids: Vec<&String> = texts.keys().collect();
    ids.sort();
    let mut df: BTreeMap<String, usize> = BTreeMap::new();
    for id in &ids {
        let words: HashSet<&str> = jieba
            .cut(&texts[*id], true)
            .into_iter()
            .map(|t| t.word)
            .filter(|w| counts(w))
            .collect();
        for w in words {
            *df.entry(w.to_owned()).or_default() += 1;
        }
    }
    // Article counts are small: the conversions are exact.
    #[allow(clippy::cast_precision_loss)]
    let n = ids.len() as f64;
    let mut text = format!(
        "# IDF table built by `{COMMAND}` from {} articles (min df {min_df}).\n",
        ids.len(),
    );
    let mut words = 0;
    for (word, d) in df.iter().filter(|(_, d)| **d >= min_df) {
        #[allow(clippy::cast_precision_loss)]
        let idf = (n / *d as f64).ln();
        // Writing to a String cannot fail.
        let _ = writeln!(text, "{word} {idf:.4}");
        words += 1;
    }
    Some(IdfTable {
        text,
        words,
        articles: ids.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_below_the_minimum_document_frequency_are_left_out() {
        let jieba = Jieba::new();
        let texts: HashMap<String, String> = [
            ("b", "安全生产检查"),
            ("a", "安全生产培训"),
            ("c", "防汛演练"),
        ]
        .into_iter()
        .map(|(id, t)| (id.to_owned(), t.to_owned()))
        .collect();
        let table = build(&jieba, &texts, 2).expect("a table");
        assert_eq!(table.articles, 3);
        assert!(table.text.starts_with("# IDF table built by"));
        assert!(table.words > 0, "{}", table.text);
        assert!(!table.text.contains("防汛"), "df 1 < min df 2");
        assert!(build(&jieba, &texts, 1).is_some_and(|t| t.text.contains("防汛")));
        assert_eq!(table.words, table.text.lines().count() - 1);
        assert_eq!(build(&jieba, &texts, 2), Some(table), "deterministic");
        assert_eq!(build(&jieba, &HashMap::new(), 1), None);
    }
}
