//! jieba-rs enrichment: TF-IDF keywords, places, organisations and people.
//!
//! An article is tokenised ONCE ([`tokenize`]: one `jieba.tag` pass over its headline block,
//! body and captions); keywords and entities are both read from those tokens. TF-IDF is
//! computed here from the token counts and the IDF table loaded once by [`Enricher::new`]
//! (jieba-rs's own extractor would cut the text a second time).

use rustc_hash::FxHashMap;

use jieba_rs::{Jieba, Tag};

use super::{ResourceError, Resources};
use crate::model::{Article, Keyword, Nlp};

/// Whether words with this POS tag can be keywords: numerals, measure words, pronouns,
/// function words, punctuation and unknown symbols cannot.
fn keyword_pos(tag: &str) -> bool {
    !matches!(
        tag,
        "m" | "mq" | "q" | "r" | "p" | "c" | "u" | "uj" | "ul" | "uz" | "ud" | "ug" | "d" | "x"
    )
}

/// Function words that jieba tags as content words; they carry no topic.
fn stop_word(word: &str) -> bool {
    matches!(
        word,
        "一个"
            | "没有"
            | "我们"
            | "他们"
            | "这个"
            | "这些"
            | "那些"
            | "什么"
            | "自己"
            | "已经"
            | "就是"
            | "还是"
            | "可以"
            | "进行"
            | "通过"
            | "表示"
            | "目前"
            | "同时"
            | "以及"
            | "其中"
            | "方面"
            | "记者"
            | "本报"
            | "今年"
    )
}

/// The tokens of one article (all its fields), from one jieba pass.
#[derive(Debug, Clone, Default)]
pub struct Tokens<'a> {
    /// Tagged words in reading order: kicker, headline, subtitle, body, captions.
    pub tags: Vec<Tag<'a>>,
}

/// Tokenises an article once (HMM on, so unknown names are found).
pub fn tokenize<'a>(jieba: &'a Jieba, article: &'a Article) -> Tokens<'a> {
    let mut tags = Vec::new();
    let fields = [&article.kicker, &article.title, &article.subtitle]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .chain(std::iter::once(article.text.as_str()))
        .chain(article.captions.iter().map(|c| c.text.as_str()));
    for field in fields {
        tags.extend(jieba.tag(field, true));
    }
    Tokens { tags }
}

/// Keyword and entity extraction, built once.
#[derive(Debug)]
pub struct Enricher {
    top_k: usize,
    idf: FxHashMap<String, f64>,
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

fn is_keyword_candidate(tag: &Tag<'_>) -> bool {
    tag.word.chars().nth(1).is_some()
        && keyword_pos(tag.tag)
        && !stop_word(tag.word)
        && tag.word.chars().any(char::is_alphabetic)
}

fn push_unique(list: &mut Vec<String>, name: &str) {
    if !list.iter().any(|n| n == name) {
        list.push(name.to_owned());
    }
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
            idf,
            default_idf,
        })
    }

    /// Keywords and entities of one article, from its tokens.
    pub fn enrich(&self, tokens: &Tokens<'_>, article: &Article) -> Nlp {
        let mut nlp = Nlp {
            keywords: self.keywords(tokens),
            ..Nlp::default()
        };
        if let Some(byline) = &article.byline {
            for name in byline
                .reporters
                .iter()
                .chain(&byline.correspondents)
                .chain(&byline.photographers)
            {
                let name: String = name.chars().filter(|c| !c.is_whitespace()).collect();
                if !name.is_empty() {
                    push_unique(&mut nlp.people, &name);
                }
            }
        }
        for tag in &tokens.tags {
            if tag.word.chars().nth(1).is_none() {
                continue;
            }
            let list = match tag.tag {
                "ns" => &mut nlp.places,
                "nt" => &mut nlp.organizations,
                t if t.starts_with("nr") => &mut nlp.people,
                _ => continue,
            };
            push_unique(list, tag.word);
        }
        nlp
    }

    /// Top-k TF-IDF keywords: term frequency over the candidate tokens times IDF; ties are
    /// broken by the term so the output is deterministic.
    pub fn keywords(&self, tokens: &Tokens<'_>) -> Vec<Keyword> {
        let mut counts: FxHashMap<&str, usize> =
            FxHashMap::with_capacity_and_hasher(tokens.tags.len() / 2, Default::default());
        let mut total = 0usize;
        for tag in tokens.tags.iter().filter(|t| is_keyword_candidate(t)) {
            *counts.entry(tag.word).or_default() += 1;
            total += 1;
        }
        if total == 0 || self.top_k == 0 {
            return Vec::new();
        }
        // Token counts are far below 2^52: the conversions are exact.
        #[allow(clippy::cast_precision_loss)]
        let total = total as f64;
        #[allow(clippy::cast_precision_loss)]
        let mut scored: Vec<(&str, f64)> = counts
            .into_iter()
            .map(|(word, n)| {
                let idf = self.idf.get(word).copied().unwrap_or(self.default_idf);
                (word, n as f64 / total * idf)
            })
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        scored
            .into_iter()
            .take(self.top_k)
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
        let tokens = tokenize(&jieba, &a);
        let kw = enricher("防汛 8.0\n工作 1.0\n", 2).keywords(&tokens);
        assert_eq!(kw.len(), 2);
        assert_eq!(kw[0].term, "防汛");
        assert!(kw[0].weight > kw[1].weight);
    }

    #[test]
    fn keywords_skip_numbers_punctuation_and_single_characters() {
        let jieba = Jieba::new();
        let a = article("", "2019年，我们的工作。");
        let kw = enricher("", 10).keywords(&tokenize(&jieba, &a));
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
        let nlp = enricher("", 5).enrich(&tokenize(&jieba, &a), &a);
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
        let nlp = enricher("", 5).enrich(&tokenize(&jieba, &a), &a);
        assert_eq!(nlp.people.first().map(String::as_str), Some("孙雄"));
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
