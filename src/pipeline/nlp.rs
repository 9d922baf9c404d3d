//! jieba-rs enrichment: keywords, places, organisations, people (placeholder).

use jieba_rs::Jieba;

use super::{ResourceError, Resources};
use crate::model::{Article, Nlp};

/// Keyword and entity extraction, built once.
#[derive(Debug)]
pub struct Enricher {
    top_k: usize,
}

impl Enricher {
    /// Builds the enricher from the IDF table.
    pub fn new(resources: &Resources) -> Result<Enricher, ResourceError> {
        Ok(Enricher {
            top_k: resources.keywords_top_k,
        })
    }

    /// Keywords and entities of one article.
    pub fn enrich(&self, _jieba: &Jieba, _article: &Article) -> Nlp {
        let _ = self.top_k;
        Nlp::default()
    }
}
