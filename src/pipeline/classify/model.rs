//! The classifier's model file (`config/classifier.json`, and its untrained source
//! `config/lexicon.json`): lexicons with weights, position weights, masking phrases,
//! biases, thresholds and a version string. It is data an analyst can edit; [`Model::parse`]
//! checks it and reports every problem as an error, never a panic.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{EventKind, Topic};

/// The whole model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// Version string written into every event's `pipeline.classifier`.
    pub version: String,
    /// Free-text description for analysts (ignored by the code).
    #[serde(default)]
    pub description: String,
    /// How much a term counts depending on where it stands.
    #[serde(default)]
    pub positions: Positions,
    /// Phrases that hide the terms inside them (`国家安全` hides `安全`): matching is
    /// leftmost-longest, so a mask that starts earlier or is longer wins over a lexicon term.
    #[serde(default)]
    pub mask: Vec<String>,
    /// One scorer per topic.
    pub topics: BTreeMap<Topic, Scorer>,
    /// One scorer per event kind; the kind with the highest logit wins.
    pub event_kinds: BTreeMap<EventKind, Scorer>,
    /// Hyper-parameters `pagesift train` uses when this file is the prior.
    #[serde(default)]
    pub training: Training,
}

/// A logistic scorer: `sigmoid(bias + Σ weight(term) · ln(1 + weighted count(term)))`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scorer {
    /// The intercept (negative: no evidence means a low score).
    pub bias: f64,
    /// Topic scorers: the score a topic needs to become `primary` (in `(0, 1)`); unused for
    /// event kinds.
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    /// Lexicon terms and their weights (negative weights push the score down).
    pub terms: BTreeMap<String, f64>,
}

fn default_threshold() -> f64 {
    0.5
}

/// Position weights: where a term stands decides how much one occurrence counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Positions {
    /// Kicker, headline and subtitle.
    pub headline: f64,
    /// The first `lead_chars` characters of the body.
    pub lead: f64,
    /// The body after the lead, up to `tail_from`.
    pub body: f64,
    /// The body from `tail_from` (a fraction of its length) to the end, and captions.
    pub tail: f64,
    /// Length of the lead in characters.
    pub lead_chars: usize,
    /// Where the tail starts, as a fraction of the body's length in bytes (`0..=1`).
    pub tail_from: f64,
}

impl Default for Positions {
    fn default() -> Positions {
        Positions {
            headline: 3.0,
            lead: 2.0,
            body: 1.0,
            tail: 0.5,
            lead_chars: 200,
            tail_from: 0.5,
        }
    }
}

/// Hyper-parameters of `pagesift train` (logistic regression pulled toward the lexicon prior).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Training {
    /// L2 strength pulling each weight back to its lexicon value (per example).
    pub l2: f64,
    /// Weight of a positive example in the loss (recall matters more than precision).
    pub positive_weight: f64,
    /// Gradient-descent passes.
    pub iterations: usize,
    /// Learning rate.
    pub learning_rate: f64,
    /// Weights smaller than this (in absolute value) are dropped from the written model.
    pub min_weight: f64,
}

impl Default for Training {
    fn default() -> Training {
        Training {
            l2: 0.05,
            positive_weight: 2.0,
            iterations: 600,
            learning_rate: 0.5,
            min_weight: 0.01,
        }
    }
}

/// Why a model file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// Not valid JSON, or fields of the wrong shape.
    #[error("does not parse: {0}")]
    Parse(String),
    /// The version string is empty.
    #[error("the version string is empty")]
    NoVersion,
    /// A number is NaN, infinite or out of range.
    #[error("{0} must be a finite number in range")]
    BadNumber(String),
    /// A term or mask is empty (it would match everywhere).
    #[error("an empty term in {0}")]
    EmptyTerm(String),
    /// No event-kind scorer although topics are defined.
    #[error("no event kinds: a safety article would get no event_kind")]
    NoEventKinds,
}

impl Model {
    /// Parses and checks a model file.
    pub fn parse(text: &str) -> Result<Model, ModelError> {
        let model: Model =
            serde_json::from_str(text).map_err(|e| ModelError::Parse(e.to_string()))?;
        model.check()?;
        Ok(model)
    }

    /// Checks the numbers and terms of a model.
    pub fn check(&self) -> Result<(), ModelError> {
        if self.version.trim().is_empty() {
            return Err(ModelError::NoVersion);
        }
        let p = &self.positions;
        for (name, v) in [
            ("positions.headline", p.headline),
            ("positions.lead", p.lead),
            ("positions.body", p.body),
            ("positions.tail", p.tail),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(ModelError::BadNumber(name.to_owned()));
            }
        }
        if !(0.0..=1.0).contains(&p.tail_from) {
            return Err(ModelError::BadNumber("positions.tail_from".to_owned()));
        }
        if self.mask.iter().any(|m| m.trim().is_empty()) {
            return Err(ModelError::EmptyTerm("mask".to_owned()));
        }
        for (topic, scorer) in &self.topics {
            scorer.check(topic.as_str(), true)?;
        }
        for (kind, scorer) in &self.event_kinds {
            scorer.check(kind.as_str(), false)?;
        }
        if !self.topics.is_empty() && self.event_kinds.is_empty() {
            return Err(ModelError::NoEventKinds);
        }
        Ok(())
    }
}

impl Scorer {
    fn check(&self, name: &str, needs_threshold: bool) -> Result<(), ModelError> {
        if !self.bias.is_finite() {
            return Err(ModelError::BadNumber(format!("{name}.bias")));
        }
        if needs_threshold && !(self.threshold > 0.0 && self.threshold < 1.0) {
            return Err(ModelError::BadNumber(format!("{name}.threshold")));
        }
        for (term, weight) in &self.terms {
            if term.trim().is_empty() {
                return Err(ModelError::EmptyTerm(name.to_owned()));
            }
            if !weight.is_finite() {
                return Err(ModelError::BadNumber(format!("{name}.terms.{term}")));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"{"version":"t1","topics":{"fire":{"bias":-2,"terms":{"火灾":3}}},
        "event_kinds":{"accident":{"bias":0,"terms":{"起火":1}}}}"#;

    #[test]
    fn a_small_model_parses_with_defaults() {
        let m = Model::parse(SMALL).expect("parses");
        assert_eq!(m.version, "t1");
        assert_eq!(m.topics[&Topic::Fire].threshold, 0.5);
        assert_eq!(m.positions, Positions::default());
    }

    #[test]
    fn unknown_topics_and_fields_are_refused() {
        assert!(Model::parse(&SMALL.replace("\"fire\"", "\"fires\"")).is_err());
        assert!(Model::parse(&SMALL.replace("\"bias\":-2", "\"bias\":-2,\"x\":1")).is_err());
    }

    #[test]
    fn bad_numbers_and_empty_terms_are_refused() {
        assert!(matches!(
            Model::parse(&SMALL.replace("\"bias\":-2", "\"bias\":-2,\"threshold\":1.5")),
            Err(ModelError::BadNumber(_))
        ));
        assert!(matches!(
            Model::parse(&SMALL.replace("\"火灾\"", "\" \"")),
            Err(ModelError::EmptyTerm(_))
        ));
        assert!(matches!(
            Model::parse(&SMALL.replace("\"t1\"", "\"\"")),
            Err(ModelError::NoVersion)
        ));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for text in ["", "{", "[]", "null", "{\"version\":3}", "\u{0}\u{ffff}"] {
            assert!(Model::parse(text).is_err(), "{text:?}");
        }
    }
}
