//! Scoring the pipeline against labelled data: segmentation against truth files
//! ([`segmentation`]), the classifier against labelled articles ([`classifier`]) and the entity
//! tagger against BIO sentences or events ([`entities`]). Used by `pagesift-dev eval` /
//! `eval-classifier` / `eval-entities` and by the golden, classifier and entity tests.

pub mod classifier;
pub mod entities;
pub mod segmentation;

/// F1, the harmonic mean of `precision` and `recall` (0 when both are 0).
pub fn f1(precision: f64, recall: f64) -> f64 {
    if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn f1_is_the_harmonic_mean_and_zero_without_hits() {
        assert_eq!(super::f1(0.0, 0.0), 0.0);
        assert_eq!(super::f1(1.0, 1.0), 1.0);
        assert!((super::f1(0.5, 1.0) - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(super::f1(0.0, 1.0), 0.0);
    }
}
