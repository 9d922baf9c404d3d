//! The safety-topic classifier: lexicon terms found in an article, weighted by where they
//! stand, feed one logistic scorer per topic and per event kind.
//!
//! ```text
//! article fields -> Aho-Corasick (leftmost-longest; masks hide 国家安全, 中国机长, …)
//!   -> weighted count per term (headline > lead > body > tail)
//!   -> x = slog(weighted sum) -> topic logits -> primary (best over its threshold) -> event kind
//! ```
//!
//! The model is data ([`model::Model`], `config/classifier.json`): one automaton over every
//! term of every lexicon and of the incident rules is built once by
//! [`Classifier::from_model`] ([`scan::Scanner`]); classifying an article is one scan of its
//! text, with no jieba pass (the NLP pass tokenises once, see [`super::nlp`]).
//! [`fit`] fits the weights from labelled articles (`pagesift-dev train`).

pub mod fit;
pub mod incident;
pub mod learned;
pub mod model;
pub mod scan;

use jieba_rs::Jieba;

use super::ResourceError;
use super::tokens::ArticleTokens;
use crate::model::{Article, EventKind, ItemKind, Safety, Topic, TopicScore};

pub use model::{Model, ModelError};

/// Most evidence terms listed per topic.
const MAX_EVIDENCE: usize = 6;

/// The labels an article should get (from a labels file or a truth file).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gold {
    /// Whether the article is about safety.
    pub safety: bool,
    /// Its topics, main one first.
    pub topics: Vec<Topic>,
    /// Its event kind (safety articles only).
    pub event_kind: Option<EventKind>,
}

/// The lexicon terms found in one article: `(term id, [headline, lead, body] counts)`, sorted
/// by term id; body counts are already scaled for long bodies. Term ids index
/// [`Classifier::terms`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Features(pub Vec<(usize, [f64; 3])>);

/// The squashing of a position sum: `2(sqrt(1 + x) - 1)` for `x >= 0`, mirrored below. The
/// first terms count most, many terms still add up (a story told in its body).
pub fn slog(x: f64) -> f64 {
    let g = 2.0 * ((1.0 + x.abs()).sqrt() - 1.0);
    if x >= 0.0 { g } else { -g }
}

/// The derivative of [`slog`].
pub fn slog_derivative(x: f64) -> f64 {
    1.0 / (1.0 + x.abs()).sqrt()
}

/// Headline block, lead, rest of the body.
const HEADLINE: usize = 0;
const LEAD: usize = 1;
const BODY: usize = 2;

/// Buffers of [`Classifier::scan`], reused from one article to the next of a page.
#[derive(Debug, Default)]
struct Scratch {
    /// Every occurrence of every string in the field being scanned.
    hits: Vec<scan::Hit>,
    /// One family's leftmost-longest matches among them.
    matches: Vec<(usize, usize, u32)>,
}

/// The families of [`Classifier::scanner`]: topic lexicons, event-kind lexicons, incident
/// rules (each with the masks).
const TOPIC_FAMILY: usize = 0;
const KIND_FAMILY: usize = 1;
const INCIDENT_FAMILY: usize = 2;

/// The classifier, built once from its model file.
#[derive(Debug)]
pub struct Classifier {
    model: Model,
    /// Every term and mask, by term id. Topic lexicons and kind lexicons are two separate
    /// families with their own ids (a string in both has two ids), each matched
    /// leftmost-longest on its own (see [`scan`]), so a longer term of one family never hides
    /// a term of the other.
    terms: Vec<String>,
    /// Whether a term id belongs to the event-kind family.
    kind_family: Vec<bool>,
    /// One automaton over the topic family, the kind family and the incident rules.
    scanner: scan::Scanner,
    /// Per lexicon family (topics, kinds): the term id of each of the family's strings.
    family_terms: [Vec<usize>; 2],
    /// Per term: `(topic index, weight)` for the topics whose lexicon holds it.
    topic_weights: Vec<Vec<(usize, f64)>>,
    /// Per term: `(kind index, weight)`.
    kind_weights: Vec<Vec<(usize, f64)>>,
    /// Topics in model order with bias, threshold and position weights.
    topics: Vec<(Topic, f64, f64, [f64; 3])>,
    /// Kinds in model order with bias and position weights.
    kinds: Vec<(EventKind, f64, [f64; 3])>,
    /// The incident layer, compiled.
    incidents: incident::IncidentMatcher,
    /// The learned layer, when the model has a fitted one: it scores the topics and kinds, the
    /// lexicon sums above become its prior features.
    learned: Option<learned::LearnedLayer>,
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

impl Classifier {
    /// Parses the model file (JSON). An empty file gives a classifier that tags nothing
    /// (version `none`); a malformed one is an error.
    pub fn from_model(text: &str) -> Result<Classifier, ResourceError> {
        if text.trim().is_empty() {
            return Classifier::new(Model {
                version: "none".to_owned(),
                description: String::new(),
                positions: model::Positions::default(),
                mask: Vec::new(),
                safety_first: true,
                topics: Default::default(),
                event_kinds: Default::default(),
                training: model::Training::default(),
                incident: incident::IncidentRules::default(),
                learned: None,
            });
        }
        let model = Model::parse(text).map_err(|e| ResourceError::Classifier(e.to_string()))?;
        Classifier::new(model)
    }

    /// Builds the classifier from a checked model.
    pub fn new(model: Model) -> Result<Classifier, ResourceError> {
        model
            .check()
            .map_err(|e| ResourceError::Classifier(e.to_string()))?;
        let mut terms: Vec<String> = Vec::new();
        let mut kind_family: Vec<bool> = Vec::new();
        let mut topic_weights: Vec<Vec<(usize, f64)>> = Vec::new();
        let mut kind_weights: Vec<Vec<(usize, f64)>> = Vec::new();
        let topics = model
            .topics
            .iter()
            .map(|(t, s)| (*t, s.bias, s.threshold, s.positions.to_array()))
            .collect();
        let kinds = model
            .event_kinds
            .iter()
            .map(|(k, s)| (*k, s.bias, s.positions.to_array()))
            .collect();
        let families = [
            (false, model.topics.values().collect::<Vec<_>>()),
            (true, model.event_kinds.values().collect::<Vec<_>>()),
        ];
        let mut family_terms: [Vec<usize>; 2] = Default::default();
        for (is_kind, scorers) in families {
            let mut ids: std::collections::BTreeMap<&str, usize> = Default::default();
            for (i, scorer) in scorers.iter().enumerate() {
                for (term, w) in &scorer.terms {
                    let id = *ids.entry(term.as_str()).or_insert_with(|| {
                        terms.push(term.clone());
                        kind_family.push(is_kind);
                        topic_weights.push(Vec::new());
                        kind_weights.push(Vec::new());
                        terms.len() - 1
                    });
                    if is_kind {
                        kind_weights[id].push((i, *w));
                    } else {
                        topic_weights[id].push((i, *w));
                    }
                }
            }
            for m in &model.mask {
                ids.entry(m.as_str()).or_insert_with(|| {
                    terms.push(m.clone());
                    kind_family.push(is_kind);
                    topic_weights.push(Vec::new());
                    kind_weights.push(Vec::new());
                    terms.len() - 1
                });
            }
            family_terms[usize::from(is_kind)] = ids.into_values().collect();
        }
        let incidents = incident::IncidentMatcher::new(&model.incident, &model.mask)
            .map_err(ResourceError::Classifier)?;
        let strings = |ids: &[usize]| -> Vec<&str> {
            ids.iter()
                .filter_map(|id| terms.get(*id).map(String::as_str))
                .collect()
        };
        let scanner = scan::Scanner::new(&[
            strings(&family_terms[TOPIC_FAMILY]),
            strings(&family_terms[KIND_FAMILY]),
            incidents.patterns().iter().map(String::as_str).collect(),
        ])
        .map_err(ResourceError::Classifier)?;
        let learned = model
            .learned
            .as_ref()
            .filter(|l| l.is_fitted())
            .map(learned::LearnedLayer::new);
        Ok(Classifier {
            incidents,
            learned,
            model,
            terms,
            kind_family,
            scanner,
            family_terms,
            topic_weights,
            kind_weights,
            topics,
            kinds,
        })
    }

    /// The model's version string.
    pub fn version(&self) -> &str {
        &self.model.version
    }

    /// The model this classifier was built from.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Every term the classifier looks for (lexicon terms and masks), by term id.
    pub fn terms(&self) -> &[String] {
        &self.terms
    }

    /// Whether term `id` belongs to the event-kind family (else to the topic family).
    pub fn is_kind_term(&self, id: usize) -> bool {
        self.kind_family.get(id).copied().unwrap_or(false)
    }

    /// Whether term `id` is in some lexicon (not only a mask).
    pub fn is_lexicon_term(&self, id: usize) -> bool {
        self.topic_weights.get(id).is_some_and(|w| !w.is_empty())
            || self.kind_weights.get(id).is_some_and(|w| !w.is_empty())
    }

    /// The lexicon terms of one article with their counts per position (one scan of each
    /// field).
    pub fn features(&self, article: &Article) -> Features {
        self.scan(article, false, &mut Scratch::default()).0
    }

    /// One scan of every field of an article: the lexicon features and, with `incident`, what
    /// the incident layer finds in the headline block and in the lead.
    fn scan(
        &self,
        article: &Article,
        incident: bool,
        scratch: &mut Scratch,
    ) -> (Features, Option<(incident::Found, incident::Found)>) {
        let p = &self.model.positions;
        let mut counts: Vec<(usize, [f64; 3])> = Vec::new();
        let text = article.text.as_str();
        let lead_end = text
            .char_indices()
            .nth(p.lead_chars)
            .map_or(text.len(), |(i, _)| i);
        let body_chars = text.len().saturating_sub(lead_end) / 3
            + article
                .captions
                .iter()
                .map(|c| c.text.len() / 3)
                .sum::<usize>();
        // Lengths are far below 2^52: the conversions are exact.
        #[allow(clippy::cast_precision_loss)]
        let body_scale = if body_chars > p.body_norm_chars {
            p.body_norm_chars as f64 / body_chars as f64
        } else {
            1.0
        };
        let Scratch { hits, matches } = scratch;
        let mut add_family = |hits: &[scan::Hit],
                              limit: usize,
                              weigh: &dyn Fn(usize) -> (usize, f64),
                              matches: &mut Vec<(usize, usize, u32)>| {
            for family in [TOPIC_FAMILY, KIND_FAMILY] {
                self.scanner.leftmost_longest(hits, family, limit, matches);
                for &(start, _, member) in matches.iter() {
                    let Some(&id) = self.family_terms[family].get(member as usize) else {
                        continue;
                    };
                    if !self.is_lexicon_term(id) {
                        continue;
                    }
                    let (position, w) = weigh(start);
                    match counts.iter_mut().find(|(t, _)| *t == id) {
                        Some((_, c)) => c[position] += w,
                        None => {
                            let mut c = [0.0; 3];
                            c[position] = w;
                            counts.push((id, c));
                        }
                    }
                }
            }
        };
        let mut found = incident.then(<(incident::Found, incident::Found)>::default);
        for field in [&article.kicker, &article.title, &article.subtitle]
            .into_iter()
            .flatten()
        {
            hits.clear();
            self.scanner.scan(field, hits);
            add_family(hits, field.len(), &|_| (HEADLINE, 1.0), matches);
            if let Some((head, _)) = found.as_mut() {
                self.scanner
                    .leftmost_longest(hits, INCIDENT_FAMILY, field.len(), matches);
                self.incidents.collect(field, matches, head);
            }
        }
        hits.clear();
        self.scanner.scan(text, hits);
        let in_text = |start: usize| {
            if start < lead_end {
                (LEAD, 1.0)
            } else {
                (BODY, body_scale)
            }
        };
        add_family(hits, text.len(), &in_text, matches);
        if let Some((_, lead)) = found.as_mut() {
            self.scanner
                .leftmost_longest(hits, INCIDENT_FAMILY, lead_end, matches);
            // The lead alone: a hazard that ends the lead has no closing quote after it.
            self.incidents
                .collect(text.get(..lead_end).unwrap_or(text), matches, lead);
        }
        for caption in &article.captions {
            hits.clear();
            self.scanner.scan(&caption.text, hits);
            add_family(hits, caption.text.len(), &|_| (BODY, body_scale), matches);
        }
        counts.sort_by_key(|(id, _)| *id);
        (Features(counts), found)
    }

    /// Scores one article (tokenising it with `jieba`, which should be the pipeline's: the
    /// learned layer was fitted on its tokens).
    pub fn classify(&self, jieba: &Jieba, article: &Article) -> Safety {
        let tokens = ArticleTokens::new(jieba, article);
        self.classify_tokens(article, &tokens, &mut Scratch::default())
    }

    /// Scores one article from the tokens of the pipeline's jieba pass.
    fn classify_tokens(
        &self,
        article: &Article,
        tokens: &ArticleTokens<'_>,
        scratch: &mut Scratch,
    ) -> Safety {
        let (features, found) = self.scan(article, self.incidents.is_active(), scratch);
        let verdict = match found {
            Some((head, lead)) => self.incidents.judge(&head, &lead),
            None => incident::Verdict::Undecided,
        };
        let mut safety = match &self.learned {
            Some(layer) => {
                let incident = match &verdict {
                    incident::Verdict::Incident(i) => Some(i.topic),
                    _ => None,
                };
                let prior = self.prior_vector(&features, incident);
                let scores = layer.score(&layer.values(tokens), &prior);
                self.learned_safety(scores, &features)
            }
            None => self.classify_features(&features),
        };
        match verdict {
            incident::Verdict::Incident(incident) => apply_incident(&incident, &mut safety),
            incident::Verdict::NotSafety => {
                safety.is_safety = false;
                safety.primary = None;
                safety.score = 0.0;
                safety.event_kind = None;
            }
            incident::Verdict::Undecided => {}
        }
        safety
    }

    /// Number of prior features the lexicon part of the model gives the learned layer.
    pub fn prior_len(&self) -> usize {
        self.model.prior_len()
    }

    /// The prior features of an article for the learned layer: per lexicon topic, then per
    /// lexicon kind, the squashed headline / lead / body sums of its lexicon weights; then per
    /// lexicon topic, 1 when the incident layer names that topic.
    pub fn prior_features(&self, article: &Article) -> Vec<f64> {
        let (features, found) =
            self.scan(article, self.incidents.is_active(), &mut Scratch::default());
        let incident = match found.map(|(head, lead)| self.incidents.judge(&head, &lead)) {
            Some(incident::Verdict::Incident(i)) => Some(i.topic),
            _ => None,
        };
        self.prior_vector(&features, incident)
    }

    fn prior_vector(&self, features: &Features, incident: Option<Topic>) -> Vec<f64> {
        let mut topic_sums: Vec<[f64; 3]> = vec![[0.0; 3]; self.topics.len()];
        let mut kind_sums: Vec<[f64; 3]> = vec![[0.0; 3]; self.kinds.len()];
        for (id, c) in &features.0 {
            let lists = [
                (self.topic_weights.get(*id), &mut topic_sums),
                (self.kind_weights.get(*id), &mut kind_sums),
            ];
            for (weights, sums) in lists {
                for &(t, w) in weights.map_or(&[][..], Vec::as_slice) {
                    if let Some(sum) = sums.get_mut(t) {
                        for p in 0..3 {
                            sum[p] += w * c[p];
                        }
                    }
                }
            }
        }
        let mut out: Vec<f64> = topic_sums
            .iter()
            .chain(&kind_sums)
            .flat_map(|s| s.map(slog))
            .collect();
        out.extend(
            self.topics
                .iter()
                .map(|(t, ..)| if Some(*t) == incident { 1.0 } else { 0.0 }),
        );
        if self
            .model
            .learned
            .as_ref()
            .is_some_and(|l| l.features.subject)
        {
            let safety: Vec<bool> = self.topics.iter().map(|(t, ..)| t.is_safety()).collect();
            out.extend(learned::subject_features(&topic_sums, &safety));
        }
        out
    }

    /// The lexicon terms of `features` with a positive weight for `topic`, strongest first.
    fn lexicon_evidence(&self, features: &Features, topic: Topic) -> Vec<String> {
        let Some(t) = self.topics.iter().position(|(l, ..)| *l == topic) else {
            return Vec::new();
        };
        let mut ev: Vec<(f64, usize)> = Vec::new();
        for (id, c) in &features.0 {
            for &(i, w) in self.topic_weights.get(*id).map_or(&[][..], Vec::as_slice) {
                if i == t && w > 0.0 {
                    ev.push((w * c.iter().sum::<f64>(), *id));
                }
            }
        }
        ev.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        ev.iter()
            .take(MAX_EVIDENCE)
            .filter_map(|(_, id)| self.terms.get(*id).cloned())
            .collect()
    }

    /// The labels from the learned layer's scores: `primary` is the best topic over its
    /// threshold (a safety topic first with `safety_first`); `topics` lists the topics over
    /// half their threshold that have evidence (learned words, else lexicon terms). With a
    /// safety scorer, that scorer decides whether the article is safety (with
    /// `combine_safety`, its score is the geometric mean with the best safety topic's), and
    /// `primary` is then the safety topic with the highest score that has evidence.
    fn learned_safety(&self, scores: learned::Scores, features: &Features) -> Safety {
        let safety_vote = scores.safety.map(|(p, t)| (p >= t, p));
        // Every topic with its evidence: learned words, else lexicon terms.
        let scored: Vec<(Topic, f64, f64, Vec<String>)> = scores
            .topics
            .into_iter()
            .map(|(label, score, threshold, evidence)| {
                let wanted = score >= threshold / 2.0
                    || (label.is_safety() && safety_vote.is_some_and(|(yes, _)| yes));
                let evidence = if evidence.is_empty() && wanted {
                    self.lexicon_evidence(features, label)
                } else {
                    evidence
                };
                (label, score, threshold, evidence)
            })
            .collect();
        // With a safety scorer that says safety: the best safety topic that has evidence.
        let chosen = scored
            .iter()
            .filter(|(label, .., evidence)| label.is_safety() && !evidence.is_empty())
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(label, ..)| *label)
            .filter(|_| safety_vote.is_some_and(|(yes, _)| yes));
        let mut listed: Vec<(TopicScore, bool)> = Vec::new();
        for (label, score, threshold, evidence) in scored {
            let is_chosen = chosen == Some(label);
            if (score < threshold / 2.0 && !is_chosen) || evidence.is_empty() {
                continue;
            }
            // With a safety scorer, a safety topic is primary only when that scorer says so.
            let over = if safety_vote.is_some() && label.is_safety() {
                is_chosen
            } else {
                score >= threshold
            };
            listed.push((
                TopicScore {
                    label,
                    score: round6(score),
                    evidence,
                },
                over,
            ));
        }
        listed.sort_by(|a, b| b.0.score.total_cmp(&a.0.score));
        let over = || listed.iter().filter(|(_, over)| *over).map(|(t, _)| t);
        let primary = over()
            .find(|t| t.label.is_safety() || !self.model.safety_first)
            .or_else(|| over().next())
            .map(|t| (t.label, t.score));
        let is_safety = primary.is_some_and(|(t, _)| t.is_safety());
        let score = match (is_safety, safety_vote) {
            (true, Some((_, p))) => round6(p),
            _ => primary.map_or(0.0, |(_, s)| s),
        };
        Safety {
            is_safety,
            score,
            primary: primary.map(|(t, _)| t),
            topics: listed.into_iter().map(|(t, _)| t).collect(),
            event_kind: if is_safety { scores.event_kind } else { None },
        }
    }

    /// The learned layer's raw scores of an article (`safety` first when the model has a safety
    /// scorer, then every topic in model order; empty without a learned layer), for analysis
    /// (`pagesift-dev eval-classifier --dump`).
    pub fn raw_scores(&self, jieba: &Jieba, article: &Article) -> Vec<(String, f64)> {
        let Some(layer) = &self.learned else {
            return Vec::new();
        };
        let tokens = ArticleTokens::new(jieba, article);
        let (features, found) =
            self.scan(article, self.incidents.is_active(), &mut Scratch::default());
        let incident = match found.map(|(head, lead)| self.incidents.judge(&head, &lead)) {
            Some(incident::Verdict::Incident(i)) => Some(i.topic),
            _ => None,
        };
        let prior = self.prior_vector(&features, incident);
        let scores = layer.score(&layer.values(&tokens), &prior);
        scores
            .safety
            .map(|(p, _)| ("safety".to_owned(), p))
            .into_iter()
            .chain(
                scores
                    .topics
                    .iter()
                    .map(|(t, p, ..)| (t.as_str().to_owned(), *p)),
            )
            .chain(incident.map(|t| (format!("incident:{}", t.as_str()), 1.0)))
            .collect()
    }

    /// Scores an article from its features (see [`Classifier::features`]); term ids this
    /// classifier does not know are ignored.
    pub fn classify_features(&self, features: &Features) -> Safety {
        let mut sums: Vec<[f64; 3]> = vec![[0.0; 3]; self.topics.len()];
        let mut evidence: Vec<Vec<(f64, usize)>> = vec![Vec::new(); self.topics.len()];
        for (id, c) in &features.0 {
            for &(t, w) in self.topic_weights.get(*id).map_or(&[][..], Vec::as_slice) {
                for p in 0..3 {
                    sums[t][p] += w * c[p];
                }
                if w > 0.0 {
                    let alpha = self.topics[t].3;
                    let strength = w * (0..3).map(|p| alpha[p] * c[p]).sum::<f64>();
                    evidence[t].push((strength, *id));
                }
            }
        }
        let mut topics: Vec<(usize, TopicScore)> = Vec::new();
        for (t, ev) in evidence.iter_mut().enumerate() {
            if ev.is_empty() {
                continue;
            }
            let (label, bias, _, alpha) = self.topics[t];
            let logit = bias + (0..3).map(|p| alpha[p] * slog(sums[t][p])).sum::<f64>();
            ev.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            topics.push((
                t,
                TopicScore {
                    label,
                    score: round6(sigmoid(logit)),
                    evidence: ev
                        .iter()
                        .take(MAX_EVIDENCE)
                        .filter_map(|(_, id)| self.terms.get(*id).cloned())
                        .collect(),
                },
            ));
        }
        topics.sort_by(|a, b| b.1.score.total_cmp(&a.1.score).then(a.0.cmp(&b.0)));
        let over = |(t, s): &&(usize, TopicScore)| s.score >= self.topics[*t].2;
        let primary = topics
            .iter()
            .filter(over)
            .find(|(_, s)| s.label.is_safety() || !self.model.safety_first)
            .or_else(|| topics.iter().find(over))
            .map(|(_, s)| (s.label, s.score));
        let is_safety = primary.is_some_and(|(t, _)| t.is_safety());
        let event_kind = if is_safety {
            self.event_kind(features)
        } else {
            None
        };
        Safety {
            is_safety,
            score: primary.map_or(0.0, |(_, s)| s),
            primary: primary.map(|(t, _)| t),
            topics: topics.into_iter().map(|(_, s)| s).collect(),
            event_kind,
        }
    }

    /// Scores the items of one page in order (tokenising them with `jieba`). A photo caption
    /// is printed beside the story it illustrates, so an untitled photo that is not safety on
    /// its own but whose evidence points at the topic of the safety story just before it takes
    /// that story's labels.
    pub fn classify_page(&self, jieba: &Jieba, articles: &[Article]) -> Vec<Safety> {
        let tokens = ArticleTokens::page(jieba, articles);
        self.classify_page_tokens(articles, &tokens)
    }

    /// [`Classifier::classify_page`] on the tokens of the pipeline's jieba pass (`tokens[i]`
    /// are the tokens of `articles[i]`).
    pub fn classify_page_tokens(
        &self,
        articles: &[Article],
        tokens: &[ArticleTokens<'_>],
    ) -> Vec<Safety> {
        let mut scratch = Scratch::default();
        let none = ArticleTokens::default();
        let mut out: Vec<Safety> = articles
            .iter()
            .enumerate()
            .map(|(i, a)| self.classify_tokens(a, tokens.get(i).unwrap_or(&none), &mut scratch))
            .collect();
        apply_photo_context(articles, &mut out);
        out
    }

    /// The event kind with the highest logit (biases decide when no kind term occurs).
    pub fn event_kind(&self, features: &Features) -> Option<EventKind> {
        let mut sums: Vec<[f64; 3]> = vec![[0.0; 3]; self.kinds.len()];
        for (id, c) in &features.0 {
            for &(k, w) in self.kind_weights.get(*id).map_or(&[][..], Vec::as_slice) {
                for p in 0..3 {
                    sums[k][p] += w * c[p];
                }
            }
        }
        self.kinds
            .iter()
            .zip(&sums)
            .map(|((kind, bias, alpha), s)| {
                let logit = bias + (0..3).map(|p| alpha[p] * slog(s[p])).sum::<f64>();
                (*kind, logit)
            })
            .reduce(|best, next| if next.1 > best.1 { next } else { best })
            .map(|(kind, _)| kind)
    }
}

/// Makes `safety` an incident report: safety, primary topic the incident's, event kind
/// `accident`, the topic scored at least the incident score with the hazard as evidence.
pub fn apply_incident(incident: &incident::Incident, safety: &mut Safety) {
    let topic = incident.topic;
    let at = match safety.topics.iter().position(|t| t.label == topic) {
        Some(at) => at,
        None => {
            safety.topics.push(TopicScore {
                label: topic,
                score: 0.0,
                evidence: Vec::new(),
            });
            safety.topics.len() - 1
        }
    };
    let entry = &mut safety.topics[at];
    entry.score = entry.score.max(round6(incident.score));
    if !entry.evidence.contains(&incident.hazard) {
        entry.evidence.insert(0, incident.hazard.clone());
        entry.evidence.truncate(MAX_EVIDENCE);
    }
    let score = entry.score;
    safety.topics.sort_by(|a, b| b.score.total_cmp(&a.score));
    safety.is_safety = true;
    safety.primary = Some(topic);
    safety.score = score;
    safety.event_kind = Some(EventKind::Accident);
}

/// The page-context rule of [`Classifier::classify_page`], on labels already computed for the
/// items of one page (in page order).
pub fn apply_photo_context(articles: &[Article], labels: &mut [Safety]) {
    let mut host: Option<usize> = None;
    for (i, article) in articles.iter().enumerate().take(labels.len()) {
        if article.kind != ItemKind::Photo || article.title.is_some() {
            host = Some(i);
            continue;
        }
        let Some(h) = host else { continue };
        let (Some(topic), false) = (labels[h].primary, labels[i].is_safety) else {
            continue;
        };
        if !labels[h].is_safety || !labels[i].topics.iter().any(|t| t.label == topic) {
            continue;
        }
        let (score, kind) = (labels[h].score, labels[h].event_kind);
        let own = &mut labels[i];
        own.is_safety = true;
        own.primary = Some(topic);
        own.score = score;
        own.event_kind = kind;
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One jieba for the tests of the module and its submodules.
    pub(crate) static JIEBA: std::sync::LazyLock<Jieba> = std::sync::LazyLock::new(Jieba::new);

    const MODEL: &str = r#"{
        "version": "test-1",
        "mask": ["国家安全", "中国机长"],
        "topics": {
            "work_safety": {"bias": -3, "terms": {"安全": 1.0, "安全生产": 3.0}},
            "traffic": {"bias": -3, "terms": {"机长": 2.0, "交通事故": 3.0}},
            "public_security": {"bias": -3, "terms": {"诈骗": 3.0}}
        },
        "event_kinds": {
            "accident": {"bias": 0, "terms": {"交通事故": 2.0}},
            "governance": {"bias": 0.5, "terms": {}}
        }
    }"#;

    /// A one-paragraph article with a headline (shared by the tests of the submodules).
    pub(crate) fn article(title: &str, text: &str) -> Article {
        Article::new(
            ItemKind::Article,
            Some(title.to_owned()),
            vec![text.to_owned()],
        )
    }

    fn classifier() -> Classifier {
        Classifier::from_model(MODEL).expect("model parses")
    }

    #[test]
    fn a_headline_term_makes_the_article_safety_with_its_evidence() {
        let s = classifier().classify(&JIEBA, &article("全面加强安全生产", "会议部署工作。"));
        assert!(s.is_safety);
        assert_eq!(s.primary, Some(Topic::WorkSafety));
        assert_eq!(s.topics[0].evidence, vec!["安全生产".to_owned()]);
        assert_eq!(s.event_kind, Some(EventKind::Governance));
    }

    #[test]
    fn with_a_safety_scorer_it_decides_safety_and_the_topics_pick_the_primary() {
        let scorer =
            |bias: f64, threshold: f64, words: &[(&str, [f64; 3])]| learned::LearnedScorer {
                bias,
                threshold,
                prior: Vec::new(),
                words: words.iter().map(|(w, x)| ((*w).to_owned(), *x)).collect(),
            };
        let mut model = Model::parse(MODEL).expect("model");
        model.learned = Some(learned::Learned {
            topics: [
                (
                    Topic::WorkSafety,
                    scorer(-3.0, 0.1, &[("车间", [1.0, 1.0, 0.0])]),
                ),
                (
                    Topic::Traffic,
                    scorer(-3.0, 0.9, &[("公路", [2.0, 2.0, 0.0])]),
                ),
                (Topic::PublicSecurity, scorer(-3.0, 0.5, &[])),
            ]
            .into_iter()
            .collect(),
            event_kinds: [(EventKind::Governance, scorer(0.0, 0.5, &[]))]
                .into_iter()
                .collect(),
            safety: Some(scorer(-1.0, 0.5, &[("公路", [3.0, 3.0, 0.0])])),
            ..learned::Learned::default()
        });
        let c = Classifier::new(model).expect("loads");
        // Traffic scores under its threshold, the safety scorer over its own: safety, with the
        // best safety topic as primary.
        let s = c.classify(&JIEBA, &article("公路", "公路。"));
        assert!(s.is_safety, "{s:?}");
        assert_eq!(s.primary, Some(Topic::Traffic));
        assert_eq!(s.event_kind, Some(EventKind::Governance));
        // Work safety over its threshold, the safety scorer under its own: not safety.
        let s = c.classify(&JIEBA, &article("车间", "车间。"));
        assert!(!s.is_safety, "{s:?}");
        assert_eq!(s.primary, None);
    }

    #[test]
    fn masked_phrases_hide_the_terms_inside_them() {
        let c = classifier();
        let s = c.classify(&JIEBA, &article("维护国家安全", "观看电影中国机长。"));
        assert!(!s.is_safety);
        assert!(s.topics.is_empty(), "{:?}", s.topics);
    }

    #[test]
    fn the_same_term_counts_more_in_the_headline_than_in_the_tail() {
        let c = classifier();
        let long_tail = "其他内容。".repeat(100);
        let head = c.classify(&JIEBA, &article("交通事故", &long_tail));
        let tail = c.classify(&JIEBA, &article("新闻", &format!("{long_tail}交通事故")));
        assert!(head.topics[0].score > tail.topics[0].score);
        assert!(head.is_safety);
        assert!(!tail.is_safety);
    }

    #[test]
    fn evidence_terms_occur_in_the_article() {
        let c = classifier();
        let a = article("安全生产与交通事故", "诈骗案件。安全。");
        let s = c.classify(&JIEBA, &a);
        let all = format!("{}{}", a.title.as_deref().unwrap_or(""), a.text);
        for t in &s.topics {
            for e in &t.evidence {
                assert!(all.contains(e.as_str()), "{e}");
            }
        }
        assert_eq!(s.topics.len(), 3);
    }

    #[test]
    fn a_tagged_non_safety_topic_is_primary_but_not_safety() {
        let s = classifier().classify(&JIEBA, &article("电信诈骗", "诈骗。"));
        assert_eq!(s.primary, Some(Topic::PublicSecurity));
        assert!(!s.is_safety);
        assert_eq!(s.event_kind, None);
    }

    #[test]
    fn an_untitled_photo_takes_the_labels_of_the_safety_story_it_illustrates() {
        let c = classifier();
        let story = article("交通事故", "交通事故造成拥堵。");
        let mut photo = article("", "现场的交通事故车辆。");
        photo.title = None;
        photo.kind = ItemKind::Photo;
        let mut unrelated = photo.clone();
        unrelated.text = "市民在公园散步。".to_owned();
        let page = c.classify_page(&JIEBA, &[story.clone(), photo.clone(), unrelated]);
        assert!(!c.classify(&JIEBA, &photo).is_safety);
        assert!(page[1].is_safety);
        assert_eq!(page[1].primary, page[0].primary);
        assert!(!page[2].is_safety);
        let alone = c.classify_page(&JIEBA, &[photo]);
        assert!(!alone[0].is_safety);
    }

    #[test]
    fn features_with_unknown_term_ids_are_ignored_not_a_panic() {
        let c = classifier();
        let stray = Features(vec![
            (usize::MAX, [1.0, 1.0, 1.0]),
            (10_000, [2.0, 0.0, 0.0]),
        ]);
        assert_eq!(c.classify_features(&stray), Safety::default());
    }

    #[test]
    fn an_incident_report_becomes_an_accident_of_the_hazard_topic_with_the_hazard_as_evidence() {
        let with_rules = MODEL.replacen(
            "\"event_kinds\"",
            r#""incident": {"score": 0.9, "hazards": {"traffic": ["追尾"]}, "events": ["受伤"],
                "veto": ["上映"]},
            "event_kinds""#,
            1,
        );
        let c = Classifier::from_model(&with_rules).expect("model parses");
        let s = c.classify(&JIEBA, &article("两车追尾", "造成三人受伤。"));
        assert!(s.is_safety);
        assert_eq!(s.primary, Some(Topic::Traffic));
        assert_eq!(s.event_kind, Some(EventKind::Accident));
        assert_eq!(s.topics[0].evidence[0], "追尾");
        let film = c.classify(&JIEBA, &article("交通事故电影上映", "交通事故。"));
        assert!(!film.is_safety);
        assert!(
            classifier()
                .classify(&JIEBA, &article("交通事故电影上映", "交通事故。"))
                .is_safety
        );
    }

    #[test]
    fn an_empty_model_tags_nothing() {
        let c = Classifier::from_model("  ").expect("empty is allowed");
        assert_eq!(c.version(), "none");
        assert_eq!(
            c.classify(&JIEBA, &article("安全生产", "火灾")),
            Safety::default()
        );
    }

    #[test]
    fn a_bad_model_is_an_error() {
        assert!(Classifier::from_model("{\"version\":\"x\"}").is_err());
        assert!(Classifier::from_model("not json").is_err());
    }
}
