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
    /// When a safety topic and a tagged-only topic (public security, environment) are both over
    /// their thresholds, the safety topic is primary even if it scores lower: a crackdown on
    /// fake drugs is food safety, a police report on holiday road deaths is traffic.
    #[serde(default = "yes")]
    pub safety_first: bool,
    /// One scorer per topic.
    pub topics: BTreeMap<Topic, Scorer>,
    /// One scorer per event kind; the kind with the highest logit wins.
    pub event_kinds: BTreeMap<EventKind, Scorer>,
    /// Hyper-parameters `pagesift-dev train` uses when this file is the prior.
    #[serde(default)]
    pub training: Training,
    /// The incident layer (hazard, casualty and context vocabulary); empty switches it off.
    #[serde(default)]
    pub incident: super::incident::IncidentRules,
    /// The learned layer over all of an article's words ([`super::learned`]). In a lexicon it
    /// holds only the training parameters and makes `pagesift-dev train` fit it; when fitted,
    /// it scores the topics and kinds and the lexicon scorers above become its prior features.
    /// Absent: the lexicon scorers score on their own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learned: Option<super::learned::Learned>,
}

/// A logistic scorer over three position sums. For each position (headline block, lead,
/// rest of the body) the weights of the lexicon terms found there are summed (`S_p`), and
/// `score = sigmoid(bias + Σ_p alpha_p · slog(S_p))`, with [`super::slog`]`(x) = 2(√(1 + x) − 1)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scorer {
    /// The intercept (negative: no evidence means a low score).
    pub bias: f64,
    /// Topic scorers: the score a topic needs to become `primary` (in `(0, 1)`); unused for
    /// event kinds.
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    /// How much each position counts (`alpha_p`).
    #[serde(default)]
    pub positions: PositionWeights,
    /// Lexicon terms and their weights (negative weights push the score down).
    pub terms: BTreeMap<String, f64>,
}

fn yes() -> bool {
    true
}

fn default_threshold() -> f64 {
    0.5
}

/// Weights of the three positions of a term: the headline block (kicker, headline,
/// subtitle) and the lead count more than the rest of the body.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PositionWeights {
    /// Kicker, headline and subtitle.
    pub headline: f64,
    /// The first `lead_chars` characters of the body.
    pub lead: f64,
    /// The rest of the body and the captions (counts scaled down for long bodies).
    pub body: f64,
}

impl Default for PositionWeights {
    fn default() -> PositionWeights {
        PositionWeights {
            headline: 1.5,
            lead: 1.0,
            body: 0.6,
        }
    }
}

impl PositionWeights {
    /// The weights as an array in position order (headline, lead, body).
    pub fn to_array(self) -> [f64; 3] {
        [self.headline, self.lead, self.body]
    }

    /// Weights from an array in position order.
    pub fn from_array(a: [f64; 3]) -> PositionWeights {
        PositionWeights {
            headline: a[0],
            lead: a[1],
            body: a[2],
        }
    }
}

/// Where the lead ends and how long bodies are scaled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Positions {
    /// Length of the lead in characters.
    pub lead_chars: usize,
    /// Body counts are multiplied by `min(1, body_norm_chars / body length)`, so a long story
    /// that mentions a term in passing does not outweigh a short one about it.
    pub body_norm_chars: usize,
}

impl Default for Positions {
    fn default() -> Positions {
        Positions {
            lead_chars: 200,
            body_norm_chars: 1000,
        }
    }
}

/// Hyper-parameters of `pagesift-dev train` (logistic regression pulled toward the lexicon prior).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Training {
    /// L2 strength pulling each topic weight back to its lexicon value (per example).
    pub l2: f64,
    /// The same for the event-kind scorers (fewer examples: usually stronger).
    pub kind_l2: f64,
    /// Weight of a positive example in the loss (recall matters more than precision).
    pub positive_weight: f64,
    /// Gradient-descent passes.
    pub iterations: usize,
    /// Learning rate.
    pub learning_rate: f64,
}

impl Default for Training {
    fn default() -> Training {
        Training {
            l2: 0.02,
            kind_l2: 0.3,
            positive_weight: 2.5,
            iterations: 1500,
            learning_rate: 0.5,
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
        if self.mask.iter().any(|m| m.trim().is_empty()) {
            return Err(ModelError::EmptyTerm("mask".to_owned()));
        }
        for (topic, scorer) in &self.topics {
            scorer.check(topic.as_str(), true)?;
        }
        for (kind, scorer) in &self.event_kinds {
            scorer.check(kind.as_str(), false)?;
        }
        let rules = &self.incident;
        if rules.terms().any(|t| t.trim().is_empty()) {
            return Err(ModelError::EmptyTerm("incident".to_owned()));
        }
        let score_in_range = rules.score > 0.0 && rules.score < 1.0;
        if !rules.hazards.is_empty() && !score_in_range {
            return Err(ModelError::BadNumber("incident.score".to_owned()));
        }
        if !self.topics.is_empty() && self.event_kinds.is_empty() {
            return Err(ModelError::NoEventKinds);
        }
        if let Some(learned) = &self.learned {
            learned.check(self.prior_len())?;
        }
        Ok(())
    }

    /// Number of prior features the lexicon scorers give the learned layer (see
    /// `Classifier::prior_features`): three per topic and per kind, one more per topic; with
    /// [`super::learned::FeatureParams::subject`] two more per topic and two pooled over the
    /// safety topics.
    pub fn prior_len(&self) -> usize {
        let subject = self.learned.as_ref().is_some_and(|l| l.features.subject);
        let extra = if subject {
            2 * self.topics.len() + 2
        } else {
            0
        };
        4 * self.topics.len() + 3 * self.event_kinds.len() + extra
    }
}

impl Scorer {
    fn check(&self, name: &str, needs_threshold: bool) -> Result<(), ModelError> {
        if !self.bias.is_finite() {
            return Err(ModelError::BadNumber(format!("{name}.bias")));
        }
        if self.positions.to_array().iter().any(|a| !a.is_finite()) {
            return Err(ModelError::BadNumber(format!("{name}.positions")));
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
