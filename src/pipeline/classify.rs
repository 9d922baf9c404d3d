//! Safety-topic classifier (placeholder).

use jieba_rs::Jieba;

use super::ResourceError;
use crate::model::{Article, Safety};

/// The classifier, built once from its model file.
#[derive(Debug)]
pub struct Classifier {
    version: String,
}

impl Classifier {
    /// Parses the model file (JSON).
    pub fn from_model(model: &str) -> Result<Classifier, ResourceError> {
        let version = if model.trim().is_empty() {
            "none".to_owned()
        } else {
            let v: serde_json::Value = serde_json::from_str(model)
                .map_err(|e| ResourceError::Classifier(e.to_string()))?;
            v.get("version")
                .and_then(|v| v.as_str())
                .unwrap_or("unversioned")
                .to_owned()
        };
        Ok(Classifier { version })
    }

    /// The model's version string.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Scores one article.
    pub fn classify(&self, _jieba: &Jieba, _article: &Article) -> Safety {
        Safety::default()
    }
}
