//! The incident layer: an accident report is recognised from its structure and from domain
//! vocabulary, whatever the learned weights say.
//!
//! ```text
//! hazard term (起火, 坍塌, 追尾, 地震 …) in the headline block or the lead
//!   + a casualty / rescue term (死亡, 遇难, 被困, 搜救, 扑灭 …) or the hazard again in the lead
//!   - no prevention / drill / anniversary word (防范, 演练, 周年 …)
//!   -> safety, event kind `accident`, topic of the hazard (a context such as a mine or a meal
//!      turns an ambiguous hazard — a collapse, a poisoning — into work safety or food safety)
//! ```
//!
//! Metaphors do not fire: single characters (`火`) are never hazards, the model's masks
//! (`红火`, `火车` …) hide the terms inside them, and a hazard needs a casualty or rescue word
//! beside it. The rules are data ([`IncidentRules`], the `incident` section of the model file).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::scan::Scanner;

use crate::model::{Article, Topic};

/// The incident vocabulary of a model file. Empty (the default) switches the layer off.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IncidentRules {
    /// The score an incident report's topic gets at least (in `(0, 1)` when hazards exist).
    pub score: f64,
    /// Hazard terms by the topic of the incident they name.
    pub hazards: BTreeMap<Topic, Vec<String>>,
    /// Hazard topics that are ambiguous (a collapse, a poisoning, a landslide): a context
    /// term in the headline block or lead decides their topic.
    pub soft: Vec<Topic>,
    /// Context terms, tried in order: the first context found gives the topic of a soft hazard.
    pub contexts: Vec<IncidentContext>,
    /// Casualty and rescue terms that make a hazard an event that happened.
    pub events: Vec<String>,
    /// Terms that, in the headline block, make the article about prevention, not an incident.
    pub suppress_headline: Vec<String>,
    /// Terms that, in the headline block or lead, make the article a drill or a retrospective.
    pub suppress: Vec<String>,
    /// Terms that, in the headline block, make the article no safety report at all whatever
    /// its lexicon score (a film, a page of history).
    pub veto: Vec<String>,
}

/// One context of [`IncidentRules::contexts`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentContext {
    /// The topic a soft hazard takes in this context.
    pub topic: Topic,
    /// The terms of the context (a mine, a building site, a meal …).
    pub terms: Vec<String>,
}

impl IncidentRules {
    /// Every term of the rules, for the model check.
    pub fn terms(&self) -> impl Iterator<Item = &String> {
        self.hazards
            .values()
            .flatten()
            .chain(self.contexts.iter().flat_map(|c| c.terms.iter()))
            .chain(&self.events)
            .chain(&self.suppress_headline)
            .chain(&self.suppress)
            .chain(&self.veto)
    }
}

/// What a pattern of the incident rules stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Hazard(Topic),
    Context(usize),
    Event,
    SuppressHeadline,
    Suppress,
    Veto,
    Mask,
}

/// The incident rules compiled (built once with the classifier). The classifier scans an
/// article once for its lexicons and these rules together (see [`Scanner`]) and hands the
/// matches to [`IncidentMatcher::collect`]; [`IncidentMatcher::verdict`] scans on its own.
#[derive(Debug)]
pub struct IncidentMatcher {
    /// Over [`IncidentMatcher::patterns`]; `None` when there is no hazard (layer off).
    scanner: Option<Scanner>,
    roles: Vec<Role>,
    patterns: Vec<String>,
    soft: Vec<Topic>,
    contexts: Vec<Topic>,
    score: f64,
}

/// What the incident layer says about an article.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// An incident report.
    Incident(Incident),
    /// No safety report at all (a vetoing term in the headline block).
    NotSafety,
    /// Nothing to say: the lexicon scores decide.
    Undecided,
}

/// Whether `text[start..end]` stands between quotation marks (`“地震”`): a metaphor.
fn quoted(text: &str, start: usize, end: usize) -> bool {
    let before = text.get(..start).and_then(|t| t.chars().next_back());
    let after = text.get(end..).and_then(|t| t.chars().next());
    matches!(before, Some('“' | '"' | '「' | '‘' | '『' | '\''))
        && matches!(after, Some('”' | '"' | '」' | '’' | '』' | '\''))
}

/// A recognised incident report.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    /// The topic of the incident.
    pub topic: Topic,
    /// The hazard term that named it (it occurs in the article).
    pub hazard: String,
    /// The least score its topic gets.
    pub score: f64,
}

/// What the scan of the headline block, or of the lead, found.
#[derive(Debug, Default)]
pub struct Found {
    hazards: Vec<(Topic, usize)>,
    events: bool,
    contexts: Vec<usize>,
    suppress: bool,
    suppress_headline: bool,
    veto: bool,
    quoted: bool,
}

impl IncidentMatcher {
    /// Compiles the rules; `masks` hide the terms inside them (leftmost-longest).
    pub fn new(rules: &IncidentRules, masks: &[String]) -> Result<IncidentMatcher, String> {
        let mut roles: BTreeMap<&str, Role> = BTreeMap::new();
        for t in &rules.veto {
            roles.insert(t.as_str(), Role::Veto);
        }
        for (topic, terms) in &rules.hazards {
            for t in terms {
                roles.entry(t.as_str()).or_insert(Role::Hazard(*topic));
            }
        }
        for (i, c) in rules.contexts.iter().enumerate() {
            for t in &c.terms {
                roles.entry(t.as_str()).or_insert(Role::Context(i));
            }
        }
        let lists = [
            (&rules.events, Role::Event),
            (&rules.suppress_headline, Role::SuppressHeadline),
            (&rules.suppress, Role::Suppress),
            (&masks.to_vec(), Role::Mask),
        ];
        for (list, role) in lists {
            for t in list {
                roles.entry(t.as_str()).or_insert(role);
            }
        }
        let has_hazards = roles.values().any(|r| matches!(r, Role::Hazard(_)));
        let (patterns, roles): (Vec<String>, Vec<Role>) =
            roles.into_iter().map(|(t, r)| (t.to_owned(), r)).unzip();
        let scanner = if has_hazards {
            Some(Scanner::new(&[patterns
                .iter()
                .map(String::as_str)
                .collect()])?)
        } else {
            None
        };
        Ok(IncidentMatcher {
            scanner,
            roles,
            patterns,
            soft: rules.soft.clone(),
            contexts: rules.contexts.iter().map(|c| c.topic).collect(),
            score: rules.score,
        })
    }

    /// Every string of the rules (hazards, contexts, events, suppressing and vetoing terms,
    /// masks), by pattern id.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Whether the layer can fire at all (the rules name some hazard).
    pub fn is_active(&self) -> bool {
        self.scanner.is_some()
    }

    /// Adds to `found` the leftmost-longest `matches` of [`IncidentMatcher::patterns`] in
    /// `text`, as `(start, end, pattern id)` in text order.
    pub fn collect(&self, text: &str, matches: &[(usize, usize, u32)], found: &mut Found) {
        for &(start, end, id) in matches {
            let id = id as usize;
            match self.roles.get(id) {
                Some(Role::Hazard(_)) if quoted(text, start, end) => found.quoted = true,
                Some(Role::Hazard(t)) => found.hazards.push((*t, id)),
                Some(Role::Context(c)) => found.contexts.push(*c),
                Some(Role::Event) => found.events = true,
                Some(Role::SuppressHeadline) => found.suppress_headline = true,
                Some(Role::Suppress) => found.suppress = true,
                Some(Role::Veto) => found.veto = true,
                Some(Role::Mask) | None => {}
            }
        }
    }

    /// Whether the article reports an incident, looking at its headline block and at the
    /// first `lead_chars` characters of its body.
    pub fn verdict(&self, article: &Article, lead_chars: usize) -> Verdict {
        let Some(scanner) = self.scanner.as_ref() else {
            return Verdict::Undecided;
        };
        let (mut hits, mut matches) = (Vec::new(), Vec::new());
        let mut scan = |text: &str, limit: usize, found: &mut Found| {
            hits.clear();
            scanner.scan(text, &mut hits);
            scanner.leftmost_longest(&hits, 0, limit, &mut matches);
            self.collect(text.get(..limit).unwrap_or(text), &matches, found);
        };
        let mut head = Found::default();
        for field in [&article.kicker, &article.title, &article.subtitle]
            .into_iter()
            .flatten()
        {
            scan(field, field.len(), &mut head);
        }
        let text = article.text.as_str();
        let lead_end = text
            .char_indices()
            .nth(lead_chars)
            .map_or(text.len(), |(i, _)| i);
        let mut lead = Found::default();
        scan(text, lead_end, &mut lead);
        self.judge(&head, &lead)
    }

    /// The verdict from what the headline block and the lead hold.
    pub fn judge(&self, head: &Found, lead: &Found) -> Verdict {
        if !self.is_active() {
            return Verdict::Undecided;
        }
        let in_head = !head.hazards.is_empty();
        let events = head.events || lead.events;
        // A film, a page of history; or a headline that quotes a hazard as a metaphor (`行业
        // “地震”`) and tells no hazard in it unquoted and no casualty.
        let metaphor = head.quoted && !in_head && !events;
        if head.veto || metaphor {
            return Verdict::NotSafety;
        }
        if head.suppress || head.suppress_headline || lead.suppress {
            return Verdict::Undecided;
        }
        // A hazard in the headline block needs a casualty or rescue word, or a lead that
        // tells the hazard twice; a hazard only in the lead needs a casualty or rescue word
        // in the lead.
        let fires = (in_head && (events || lead.hazards.len() >= 2))
            || (lead.events && !lead.hazards.is_empty());
        let first = head.hazards.first().or(lead.hazards.first());
        let (true, Some(&(hazard_topic, id))) = (fires, first) else {
            return Verdict::Undecided;
        };
        let soft_rank = |t: &Topic| self.soft.iter().position(|s| s == t);
        let topic = if soft_rank(&hazard_topic).is_some() {
            let context = head
                .contexts
                .iter()
                .chain(&lead.contexts)
                .min()
                .and_then(|c| self.contexts.get(*c).copied());
            // Without a context, the first soft topic found in `soft` order wins (a house
            // that collapses in an earthquake is a disaster).
            let soft_first = head
                .hazards
                .iter()
                .chain(&lead.hazards)
                .filter_map(|(t, _)| soft_rank(t).map(|r| (r, *t)))
                .min_by_key(|(r, _)| *r)
                .map(|(_, t)| t);
            context.or(soft_first).unwrap_or(hazard_topic)
        } else {
            hazard_topic
        };
        match self.patterns.get(id) {
            Some(hazard) => Verdict::Incident(Incident {
                topic,
                hazard: hazard.clone(),
                score: self.score,
            }),
            None => Verdict::Undecided,
        }
    }

    /// The incident an article reports, if any (see [`IncidentMatcher::verdict`]).
    pub fn detect(&self, article: &Article, lead_chars: usize) -> Option<Incident> {
        match self.verdict(article, lead_chars) {
            Verdict::Incident(i) => Some(i),
            Verdict::NotSafety | Verdict::Undecided => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::article;
    use super::*;

    fn rules() -> IncidentRules {
        let mut hazards = BTreeMap::new();
        hazards.insert(Topic::Fire, vec!["起火".to_owned(), "火灾".to_owned()]);
        hazards.insert(Topic::WorkSafety, vec!["坍塌".to_owned()]);
        hazards.insert(Topic::DisasterEmergency, vec!["地震".to_owned()]);
        IncidentRules {
            score: 0.9,
            hazards,
            soft: vec![Topic::DisasterEmergency, Topic::WorkSafety],
            contexts: vec![IncidentContext {
                topic: Topic::FoodDrug,
                terms: vec!["聚餐".to_owned()],
            }],
            events: vec!["死亡".to_owned(), "被困".to_owned()],
            suppress_headline: vec!["防范".to_owned()],
            suppress: vec!["周年".to_owned()],
            veto: vec!["上映".to_owned()],
        }
    }

    fn matcher() -> IncidentMatcher {
        IncidentMatcher::new(&rules(), &["防火墙".to_owned()]).expect("compiles")
    }

    #[test]
    fn a_hazard_with_casualties_in_the_lead_is_an_incident_of_its_topic() {
        let i = matcher().detect(&article("新闻", "昨日一栋楼起火，造成两人死亡。"), 200);
        assert_eq!(
            i.map(|i| (i.topic, i.hazard)),
            Some((Topic::Fire, "起火".to_owned()))
        );
    }

    #[test]
    fn a_context_word_decides_the_topic_of_a_soft_hazard() {
        let m = matcher();
        let meal = m.detect(&article("房屋坍塌", "聚餐时多人被困。"), 200);
        assert_eq!(meal.map(|i| i.topic), Some(Topic::FoodDrug));
        let plain = m.detect(&article("房屋坍塌", "多人被困。"), 200);
        assert_eq!(plain.map(|i| i.topic), Some(Topic::WorkSafety));
    }

    #[test]
    fn without_a_context_the_first_soft_topic_wins() {
        let quake = matcher().detect(&article("房屋坍塌", "地震后多人被困。"), 200);
        assert_eq!(quake.map(|i| i.topic), Some(Topic::DisasterEmergency));
    }

    #[test]
    fn a_hazard_without_an_event_prevention_and_anniversaries_do_not_fire() {
        let m = matcher();
        assert!(
            m.detect(&article("新闻", "会议讨论火灾风险。"), 200)
                .is_none()
        );
        assert!(
            m.detect(&article("防范火灾", "火灾致人死亡。"), 200)
                .is_none()
        );
        assert!(
            m.detect(&article("火灾十周年", "火灾致人死亡。"), 200)
                .is_none()
        );
    }

    #[test]
    fn a_quoted_hazard_is_a_metaphor_and_a_veto_term_says_not_safety() {
        let m = matcher();
        assert!(
            m.detect(&article("行业“地震”", "多家企业被困。"), 200)
                .is_none()
        );
        let metaphor = article("行业“地震”", "新规出台。");
        assert_eq!(m.verdict(&metaphor, 200), Verdict::NotSafety);
        assert!(
            m.detect(&article("行业地震", "多家企业被困。"), 200)
                .is_some()
        );
        let film = article("火灾电影上映", "起火，两人死亡。");
        assert_eq!(m.verdict(&film, 200), Verdict::NotSafety);
    }

    #[test]
    fn a_headline_hazard_without_casualties_needs_the_lead_to_tell_it_twice() {
        let m = matcher();
        assert!(m.detect(&article("起火", "楼里冒烟。"), 200).is_none());
        assert!(
            m.detect(&article("起火", "楼里起火，火灾蔓延。"), 200)
                .is_some()
        );
    }

    #[test]
    fn a_hazard_past_the_lead_does_not_fire() {
        let text = format!("{}起火，两人死亡。", "其他内容。".repeat(60));
        assert!(matcher().detect(&article("新闻", &text), 200).is_none());
        assert!(matcher().detect(&article("新闻", &text), 1000).is_some());
    }

    #[test]
    fn empty_rules_never_fire() {
        let m = IncidentMatcher::new(&IncidentRules::default(), &[]).expect("compiles");
        assert!(m.detect(&article("起火", "死亡"), 200).is_none());
    }
}
