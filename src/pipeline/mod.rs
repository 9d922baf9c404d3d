//! The pure page pipeline: bytes in, article events out. No IO, no clock, no environment, no
//! global state — the worker, the CLI, the benchmarks and the tests all call [`Pipeline`].
//!
//! ```text
//! input::decode -> normalize -> segment -> tokens (one jieba pass) -> nlp, classify -> ArticleEvent
//! ```
//!
//! The expensive parts (the jieba dictionary, the IDF table, the classifier model) are built
//! once by [`Pipeline::new`] from [`Resources`] (text the caller has read) and shared by
//! reference: `Pipeline` is `Send + Sync`.

pub mod classify;
pub mod entities;
pub mod input;
pub mod nlp;
pub mod normalize;
pub mod segment;
pub mod tokens;

use jieba_rs::Jieba;
use sha2::{Digest, Sha256};

use crate::model::{
    ARTICLE_SCHEMA, Article, ArticleEvent, Nlp, PageRef, PipelineInfo, RawPage, Safety,
};

pub use input::{Hints, InputError, Limits};

/// pagesift's version, written into every event.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The text of the model files, read by the caller (the pipeline does no IO).
#[derive(Debug, Clone, Default)]
pub struct Resources {
    /// jieba user dictionary (`word [freq] [tag]` per line); empty for none.
    pub user_dict: String,
    /// IDF table (`word idf` per line, from `pagesift-dev build-idf`); empty gives every word the
    /// same IDF.
    pub idf: String,
    /// Classifier model file (JSON).
    pub classifier: String,
    /// Segmenter model file (JSON, `config/segmenter.json`); `None`: the built-in model.
    pub segmenter: Option<String>,
    /// Entity tagger model file (from `pagesift-dev train-entities`, see [`entities`]).
    pub entities: String,
    /// Keywords per article.
    pub keywords_top_k: usize,
}

/// Errors building a [`Pipeline`] from its resources.
#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    /// The user dictionary does not parse.
    #[error("user dictionary: {0}")]
    UserDict(String),
    /// The IDF table does not parse.
    #[error("IDF table: {0}")]
    Idf(String),
    /// The classifier model does not parse or is inconsistent.
    #[error("classifier model: {0}")]
    Classifier(String),
    /// The segmenter model does not parse or does not match this build's features.
    #[error(transparent)]
    Segmenter(#[from] segment::learned::ModelError),
    /// The entity tagger model does not parse.
    #[error(transparent)]
    Entities(#[from] entities::ModelError),
}

/// The page pipeline, built once and shared.
pub struct Pipeline {
    jieba: Jieba,
    enricher: nlp::Enricher,
    classifier: classify::Classifier,
    segmenter: segment::learned::Model,
    review_below: Option<f64>,
    tagger: entities::Tagger,
    limits: Limits,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("classifier", &self.classifier.version())
            .field("entities", &self.tagger.version())
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// The result of processing one page.
#[derive(Debug, Clone)]
pub struct Processed {
    /// One event per item, in page order.
    pub events: Vec<ArticleEvent>,
}

impl Processed {
    /// Number of safety articles.
    pub fn safety_count(&self) -> usize {
        self.events.iter().filter(|e| e.safety.is_safety).count()
    }
}

impl Pipeline {
    /// Builds the pipeline: jieba with the user dictionary, the keyword extractor, the
    /// classifier, the entity tagger.
    pub fn new(resources: &Resources, limits: Limits) -> Result<Pipeline, ResourceError> {
        let jieba = build_jieba(&resources.user_dict)?;
        let enricher = nlp::Enricher::new(resources)?;
        let classifier = classify::Classifier::from_model(&resources.classifier)?;
        let segmenter = match &resources.segmenter {
            Some(text) => segment::learned::Model::from_json(text)?,
            None => segment::learned::Model::from_json(segment::learned::BUILTIN)?,
        };
        let tagger = entities::Tagger::from_model(&resources.entities)?;
        Ok(Pipeline {
            jieba,
            enricher,
            classifier,
            segmenter,
            review_below: None,
            tagger,
            limits,
        })
    }

    /// The entity tagger's version string (goes into `pipeline.entities`).
    pub fn entities_version(&self) -> &str {
        self.tagger.version()
    }

    /// The entity tagger (for evaluation tools).
    pub fn tagger(&self) -> &entities::Tagger {
        &self.tagger
    }

    /// The limits this pipeline enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The classifier's version string (goes into `pipeline.classifier`).
    pub fn classifier_version(&self) -> &str {
        self.classifier.version()
    }

    /// Marks events whose `article.confidence` is below `threshold` for review
    /// ([`ArticleEvent::review`]); `None` (the default) marks none.
    pub fn with_review_below(mut self, threshold: Option<f64>) -> Pipeline {
        self.review_below = threshold;
        self
    }

    /// The segmenter model's version string (goes into `pipeline.segmenter`).
    pub fn segmenter_version(&self) -> &str {
        &self.segmenter.version
    }

    /// The segmenter model (for evaluation and training tools).
    pub fn segmenter(&self) -> &segment::learned::Model {
        &self.segmenter
    }

    /// The jieba tokenizer (shared; for benchmarks and tools).
    pub fn jieba(&self) -> &Jieba {
        &self.jieba
    }

    /// The classifier (for evaluation and training tools).
    pub fn classifier(&self) -> &classify::Classifier {
        &self.classifier
    }

    /// The NLP enricher (for evaluation and training tools).
    pub fn enricher(&self) -> &nlp::Enricher {
        &self.enricher
    }

    /// Decodes a message body with this pipeline's limits.
    pub fn decode(&self, bytes: &[u8], hints: &Hints) -> Result<RawPage, InputError> {
        input::decode(bytes, hints, &self.limits)
    }

    /// Segments a page's text into its items (no NLP, no classification).
    pub fn segment(&self, text: &str) -> Result<Vec<Article>, InputError> {
        input::check_text(text, &self.limits)?;
        let normalized = normalize::normalize(text);
        let jieba = &self.jieba;
        let articles =
            segment::segment_with(&normalized, &|w| jieba.has_word(w), Some(&self.segmenter));
        if articles.len() > self.limits.max_articles {
            return Err(InputError::TooManyArticles {
                articles: articles.len(),
                limit: self.limits.max_articles,
            });
        }
        Ok(articles)
    }

    /// The NLP and classification parts of the events of one page's items (in page order):
    /// what [`Pipeline::process`] adds to [`Pipeline::segment`]'s output.
    pub fn enrich(&self, articles: &[Article]) -> Vec<(Nlp, Safety)> {
        let tokens = tokens::ArticleTokens::page(&self.jieba, articles);
        let safety = self.classifier.classify_page_tokens(articles, &tokens);
        let nlp = self.enricher.enrich_page(&self.jieba, articles, &tokens);
        let mut scratch = entities::Scratch::default();
        nlp.into_iter()
            .zip(&tokens)
            .map(|(mut nlp, tokens)| {
                let found = self.tagger.article_entities_with(tokens, &mut scratch);
                nlp.people = found.people;
                nlp.places = found.places;
                nlp.organizations = found.organizations;
                nlp
            })
            .zip(safety)
            .collect()
    }

    /// Runs the whole pipeline on a decoded page. `processed_at` is the caller's clock reading
    /// (RFC 3339); it is the only non-deterministic field of the events.
    pub fn process(&self, page: &RawPage, processed_at: &str) -> Result<Processed, InputError> {
        let articles = self.segment(&page.text)?;
        let page_ref = PageRef {
            id: page.page_id.clone(),
            newspaper: page.meta.newspaper.clone(),
            edition_date: page.meta.edition_date.clone(),
            page_no: page.meta.page_no.clone(),
            source_url: page.meta.source_url.clone(),
        };
        let info = PipelineInfo {
            version: VERSION.to_owned(),
            classifier: self.classifier.version().to_owned(),
            segmenter: self.segmenter.version.clone(),
            entities: self.tagger.version().to_owned(),
            processed_at: processed_at.to_owned(),
        };
        let enriched = self.enrich(&articles);
        let events = articles
            .into_iter()
            .zip(enriched)
            .map(|(article, (nlp, safety))| ArticleEvent {
                schema: ARTICLE_SCHEMA.to_owned(),
                event_id: event_id(&page.page_id, article.index),
                page: page_ref.clone(),
                review: self.review_below.is_some_and(|t| article.confidence < t),
                article,
                nlp,
                safety,
                pipeline: info.clone(),
            })
            .collect();
        Ok(Processed { events })
    }
}

/// jieba with its default dictionary and the user dictionary `user_dict` (`word [freq] [tag]`
/// per line; empty for none), its part-of-speech tables built.
pub fn build_jieba(user_dict: &str) -> Result<Jieba, ResourceError> {
    let mut jieba = Jieba::new();
    if !user_dict.trim().is_empty() {
        let mut reader = std::io::BufReader::new(user_dict.as_bytes());
        jieba
            .load_dict(&mut reader)
            .map_err(|e| ResourceError::UserDict(e.to_string()))?;
    }
    // jieba-rs builds its part-of-speech tables lazily (~150M instructions) the first time
    // `tag` meets a word it has no tag for — with the HMM off as in `nlp`, a character
    // missing from the dictionary; pay that at start-up, not on some page.
    let _ = jieba.tag("预热词性标注表", true);
    Ok(jieba)
}

/// The deterministic id of article `index` of page `page_id`: the first 128 bits of
/// SHA-256(`pagesift.article/v1` NUL page_id NUL index), as 32 hex digits.
pub fn event_id(page_id: &str, index: usize) -> String {
    let mut h = Sha256::new();
    h.update(ARTICLE_SCHEMA.as_bytes());
    h.update([0]);
    h.update(page_id.as_bytes());
    h.update([0]);
    h.update(index.to_string().as_bytes());
    let digest = h.finalize();
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut id = String::with_capacity(32);
    for b in digest.iter().take(16) {
        id.push(char::from(HEX[usize::from(b >> 4)]));
        id.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipeline_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Pipeline>();
    }

    #[test]
    fn event_ids_are_deterministic_and_distinct() {
        assert_eq!(event_id("p", 0), event_id("p", 0));
        assert_ne!(event_id("p", 0), event_id("p", 1));
        assert_ne!(event_id("p1", 0), event_id("p", 10));
        assert_eq!(event_id("p", 0).len(), 32);
        // The id of the first item of page `001`, as published since schema v1.
        assert_eq!(event_id("001", 0), "ff66ed5e7500edcefd4c34310b964ad7");
    }
}
