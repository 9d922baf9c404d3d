//! Scoring the pipeline against labelled data: segmentation against truth files
//! ([`segmentation`]) and the classifier against labelled articles ([`classifier`]). Used by
//! `pagesift-dev eval` / `eval-classifier` and by the golden and classifier tests.

pub mod classifier;
pub mod segmentation;
