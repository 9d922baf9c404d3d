//! The one jieba pass per article that every consumer of words shares: keywords and entities
//! ([`super::nlp`]), the entity tagger and the classifier ([`super::classify`]) all read the
//! same [`ArticleTokens`] instead of tokenising again.
//!
//! ```text
//! article -> fields in reading order: kicker, headline, subtitle, body, captions
//!   -> jieba.tag(field, false) per field (dictionary words with their dictionary POS tags,
//!      HMM off: a word the dictionary does not know comes out as single characters)
//!   -> ArticleTokens { fields: [FieldTokens { field, text, tokens: [Tag] }] }
//! ```

use jieba_rs::{Jieba, Tag};

use crate::model::Article;

/// Which field of an article a run of tokens comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// 引题, the line above the headline.
    Kicker,
    /// The headline.
    Title,
    /// 副题, the deck under the headline.
    Subtitle,
    /// The body (`Article::text`: the paragraphs joined with `\n`).
    Body,
    /// Photo caption number `n` of the article (`Article::captions[n].text`).
    Caption(usize),
}

impl Field {
    /// Whether the field belongs to the headline block (kicker, headline, subtitle).
    pub fn is_headline(self) -> bool {
        matches!(self, Field::Kicker | Field::Title | Field::Subtitle)
    }
}

/// The tokens of one field of an article.
///
/// `tokens` are jieba-rs [`Tag`]s of `jieba.tag(text, false)`, in text order, covering `text`
/// without gaps or overlaps. For each token:
/// - `word`: the token's text, a slice of `text`;
/// - `tag`: its **dictionary** part-of-speech tag (`n`, `v`, `ns`, `nr`, `nt`, `x` …). With
///   the HMM off, a word missing from the dictionary is not recognised: it comes out as a run
///   of one-character tokens (each tagged as jieba's dictionary tags that character, `x` for
///   punctuation and unknown symbols). Finding unknown words in those runs is the consumer's
///   job (see [`super::nlp`]);
/// - `start` / `end`: **character** offsets of the token in `text` (Unicode scalar values);
/// - `byte_start` / `byte_end`: **byte** offsets in `text` (`&text[byte_start..byte_end] ==
///   word`).
///
/// Offsets are relative to the field's own text, not to the article: pair them with `field`
/// (a body offset indexes `Article::text`, a caption offset `Article::captions[n].text`).
#[derive(Debug, Clone)]
pub struct FieldTokens<'a> {
    /// The field these tokens come from.
    pub field: Field,
    /// The field's text (what the offsets index).
    pub text: &'a str,
    /// The tokens, in text order.
    pub tokens: Vec<Tag<'a>>,
}

/// Every field of one article, tokenised once: the present fields in reading order (kicker,
/// headline, subtitle, body, then each caption). An absent kicker, headline or subtitle has no
/// entry; the body always has one (possibly with no tokens).
#[derive(Debug, Clone, Default)]
pub struct ArticleTokens<'a> {
    /// The fields, in reading order.
    pub fields: Vec<FieldTokens<'a>>,
}

impl<'a> ArticleTokens<'a> {
    /// Tokenises every field of `article` with one `jieba.tag(field, false)` pass each.
    pub fn new(jieba: &'a Jieba, article: &'a Article) -> ArticleTokens<'a> {
        let heads = [
            (Field::Kicker, &article.kicker),
            (Field::Title, &article.title),
            (Field::Subtitle, &article.subtitle),
        ];
        let texts = heads
            .into_iter()
            .filter_map(|(f, t)| t.as_deref().map(|t| (f, t)))
            .chain(std::iter::once((Field::Body, article.text.as_str())))
            .chain(
                article
                    .captions
                    .iter()
                    .enumerate()
                    .map(|(n, c)| (Field::Caption(n), c.text.as_str())),
            );
        ArticleTokens {
            fields: texts
                .map(|(field, text)| FieldTokens {
                    field,
                    text,
                    tokens: jieba.tag(text, false),
                })
                .collect(),
        }
    }

    /// The tokens of the items of one page, in page order.
    pub fn page(jieba: &'a Jieba, articles: &'a [Article]) -> Vec<ArticleTokens<'a>> {
        articles
            .iter()
            .map(|a| ArticleTokens::new(jieba, a))
            .collect()
    }

    /// The tokens of one field, if the article has it.
    pub fn field(&self, field: Field) -> Option<&FieldTokens<'a>> {
        self.fields.iter().find(|f| f.field == field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Caption, ItemKind};

    #[test]
    fn every_field_is_tokenised_once_in_reading_order_with_offsets_into_its_text() {
        let jieba = Jieba::new();
        let mut a = Article::new(
            ItemKind::Article,
            Some("山区发生泥石流".to_owned()),
            vec![
                "昨日，村民安全转移。".to_owned(),
                "道路已经抢通。".to_owned(),
            ],
        );
        a.kicker = Some("防汛一线".to_owned());
        a.captions.push(Caption {
            text: "救援现场".to_owned(),
            credit: None,
        });
        let tokens = ArticleTokens::new(&jieba, &a);
        let order: Vec<Field> = tokens.fields.iter().map(|f| f.field).collect();
        assert_eq!(
            order,
            [Field::Kicker, Field::Title, Field::Body, Field::Caption(0)]
        );
        for f in &tokens.fields {
            let mut byte = 0;
            let mut chars = 0;
            for t in &f.tokens {
                assert_eq!(t.byte_start, byte, "{:?}", f.field);
                assert_eq!(t.start, chars, "{:?}", f.field);
                assert_eq!(&f.text[t.byte_start..t.byte_end], t.word);
                byte = t.byte_end;
                chars = t.end;
            }
            assert_eq!(byte, f.text.len(), "the tokens cover the field");
        }
        let body = tokens.field(Field::Body).expect("a body");
        assert_eq!(body.text, a.text);
        assert!(body.tokens.iter().any(|t| t.word == "村民"));
        assert!(tokens.field(Field::Subtitle).is_none());
        assert!(Field::Kicker.is_headline() && !Field::Body.is_headline());
    }

    #[test]
    fn an_empty_article_still_has_a_body_entry() {
        let jieba = Jieba::new();
        let a = Article::new(ItemKind::Photo, None, Vec::new());
        let tokens = ArticleTokens::new(&jieba, &a);
        assert_eq!(tokens.fields.len(), 1);
        assert!(tokens.fields[0].tokens.is_empty());
    }
}
