//! Fitting the model files from data: the classifier's weights ([`classifier`]) and the keyword
//! IDF table ([`idf`]). The `pagesift-dev` binary's `train` and `build-idf` commands read the
//! inputs, call these, and write the files; every fit is deterministic (same data, same file).

pub mod classifier;
pub mod clusters;
pub mod idf;
pub mod logistic;
