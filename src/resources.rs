//! Reads the pipeline's model files (user dictionary, IDF table, classifier model) named by the
//! configuration, and builds a [`Pipeline`] from them. This is the IO the pure pipeline leaves to
//! its callers.

use std::path::{Path, PathBuf};

use crate::pipeline::{Limits, Pipeline, ResourceError, Resources};
use crate::settings::PipelineSettings;

/// Errors reading or parsing the model files.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// A file was read but does not parse.
    #[error(transparent)]
    Resource(#[from] ResourceError),
}

fn read(path: &Path) -> Result<String, LoadError> {
    std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads the files named in the settings. A missing file is an error: a worker must not start
/// with a silently empty model.
pub fn load_resources(settings: &PipelineSettings) -> Result<Resources, LoadError> {
    Ok(Resources {
        user_dict: read(&settings.user_dict)?,
        idf: read(&settings.idf)?,
        classifier: read(&settings.classifier)?,
        segmenter: settings.segmenter.as_deref().map(read).transpose()?,
        entities: read(&settings.entities)?,
        keywords_top_k: settings.keywords_top_k,
    })
}

/// The limits configured in the settings.
pub fn limits(settings: &PipelineSettings) -> Limits {
    Limits {
        max_page_bytes: settings.max_page_bytes,
        max_page_chars: settings.max_page_chars,
        max_paragraphs: settings.max_paragraphs,
        max_articles: settings.max_articles,
        max_page_id_bytes: settings.max_page_id_bytes,
    }
}

/// Reads the files and builds the pipeline.
pub fn build_pipeline(settings: &PipelineSettings) -> Result<Pipeline, LoadError> {
    let resources = load_resources(settings)?;
    Ok(Pipeline::new(&resources, limits(settings))?.with_review_below(settings.review_below))
}
