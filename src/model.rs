//! The public data model: a raw page in, article events out.
//!
//! [`RawPage`] is what the crawler sends (after decoding); [`ArticleEvent`] is the
//! `pagesift.article/v1` schema documented in the README. Every key of the event is always
//! present in its JSON form (`null` or empty when unknown), so consumers can rely on the shape.

use serde::{Deserialize, Serialize};

/// Schema identifier carried by every article event.
pub const ARTICLE_SCHEMA: &str = "pagesift.article/v1";

/// A decoded page, ready for the pipeline.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawPage {
    /// Identifier of the page, unique per page; event ids derive from it.
    pub page_id: String,
    /// The page's extracted text (UTF-8, not yet normalised).
    pub text: String,
    /// Metadata about the page (newspaper, date, page number, source URL).
    #[serde(flatten)]
    pub meta: PageMeta,
}

/// Metadata of a page, copied into every event as `page`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageMeta {
    /// Name of the newspaper, when known.
    #[serde(default)]
    pub newspaper: Option<String>,
    /// Edition date as given by the crawler (usually `YYYY-MM-DD`).
    #[serde(default)]
    pub edition_date: Option<String>,
    /// Page number (版次) as given by the crawler.
    #[serde(default)]
    pub page_no: Option<String>,
    /// URL of the e-paper page.
    #[serde(default)]
    pub source_url: Option<String>,
}

/// What kind of item the segmenter found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::VariantArray)]
#[strum(serialize_all = "snake_case")]
pub enum ItemKind {
    /// A feature with its own headline block.
    Article,
    /// A short news item, often led by `本报讯`.
    Brief,
    /// A photo caption with its credit.
    Photo,
}

impl ItemKind {
    /// The lowercase name used in events and logs (serde's name, from the same
    /// `snake_case` rule).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A parsed byline: the text as printed plus the names found in it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Byline {
    /// The byline as printed (e.g. `本报讯(记者 孙 雄)`).
    pub raw: String,
    /// Reporters' names with letter-spacing removed (`孙 雄` -> `孙雄`).
    pub reporters: Vec<String>,
    /// Correspondents (通讯员).
    pub correspondents: Vec<String>,
    /// Photographers (`… 摄`).
    pub photographers: Vec<String>,
}

/// A photo caption attached to an article.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caption {
    /// The caption text without its credit.
    pub text: String,
    /// The credit (`本报记者 常 奇 摄`, `新华社发`), if printed.
    pub credit: Option<String>,
}

/// One item of a page as the segmenter returns it (the `article` part of the event).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Article {
    /// Position of the item on the page, from 0, in page order.
    pub index: usize,
    /// Article, brief or photo.
    pub kind: ItemKind,
    /// The column label heading the run of items this one belongs to (e.g. `政务动态`).
    pub section: Option<String>,
    /// 引题: the line above the headline.
    pub kicker: Option<String>,
    /// The headline (null for an untitled photo).
    pub title: Option<String>,
    /// 副题: deck line under the headline.
    pub subtitle: Option<String>,
    /// The byline, parsed.
    pub byline: Option<Byline>,
    /// Dateline taken from an inline lead (`7月15日`, `北京1月7日`).
    pub dateline: Option<String>,
    /// Body paragraphs, column breaks repaired.
    pub paragraphs: Vec<String>,
    /// The paragraphs joined with `\n`.
    pub text: String,
    /// Photo captions that belong to this item.
    pub captions: Vec<Caption>,
    /// A credit printed at the end of the body, such as `(梁 浩)`.
    pub trailing_credit: Option<String>,
    /// Number of non-whitespace characters in `text`.
    pub char_count: usize,
    /// The segmenter's probability, in [0, 1], that this item's boundaries and headline are
    /// right (calibrated on generated pages of a corpus month the model was not fitted on;
    /// 1 when no learned decision made the item).
    #[serde(default = "full_confidence")]
    pub confidence: f64,
}

fn full_confidence() -> f64 {
    1.0
}

impl Article {
    /// An item with only a kind, a headline and paragraphs (every other field empty); `text`
    /// and `char_count` are derived from the paragraphs. For tools and tests that build
    /// articles from labelled data rather than from a page.
    pub fn new(kind: ItemKind, title: Option<String>, paragraphs: Vec<String>) -> Article {
        let text = paragraphs.join("\n");
        Article {
            index: 0,
            kind,
            section: None,
            kicker: None,
            title,
            subtitle: None,
            byline: None,
            dateline: None,
            char_count: text.chars().filter(|c| !c.is_whitespace()).count(),
            paragraphs,
            text,
            captions: Vec::new(),
            trailing_credit: None,
            confidence: 1.0,
        }
    }
}

/// A keyword with its TF-IDF weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Keyword {
    /// The term.
    pub term: String,
    /// Its TF-IDF weight.
    pub weight: f64,
}

/// The `nlp` part of an event: what jieba-rs found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Nlp {
    /// Top-k TF-IDF keywords.
    pub keywords: Vec<Keyword>,
    /// Place names (entity tagger), in order of first appearance; places printed together
    /// (`浙江省杭州市`) are one, a place inside a longer listed one is left out.
    pub places: Vec<String>,
    /// Organisation names (entity tagger), in order of first appearance.
    pub organizations: Vec<String>,
    /// Person names (entity tagger) found in the text, in order of first appearance; byline
    /// names are in `article.byline`, here only when the text names them too.
    pub people: Vec<String>,
}

/// Safety topics (see `truth/LABELS.md`). The first six count as safety.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::EnumString, strum::VariantArray)]
#[strum(serialize_all = "snake_case")]
pub enum Topic {
    /// 安全生产: workplace and industrial accidents and their prevention.
    WorkSafety,
    /// Natural disasters, flood control, emergency management.
    DisasterEmergency,
    /// Fires and fire safety.
    Fire,
    /// Road, rail, water and air safety.
    Traffic,
    /// Food, drug, vaccine and product safety.
    FoodDrug,
    /// Epidemics, infectious-disease control, health emergencies.
    PublicHealth,
    /// Crime and policing: tagged, not counted as safety.
    PublicSecurity,
    /// Pollution and ecology: tagged, not counted as safety.
    Environment,
}

impl Topic {
    /// All topics in their canonical order.
    pub const ALL: [Topic; 8] = [
        Topic::WorkSafety,
        Topic::DisasterEmergency,
        Topic::Fire,
        Topic::Traffic,
        Topic::FoodDrug,
        Topic::PublicHealth,
        Topic::PublicSecurity,
        Topic::Environment,
    ];

    /// The label as written in events, labels and routing keys (serde's name, from the same
    /// `snake_case` rule).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Parses a label; `None` for an unknown one.
    pub fn parse(label: &str) -> Option<Topic> {
        label.parse().ok()
    }

    /// Whether this topic makes an article a safety article.
    pub fn is_safety(self) -> bool {
        !matches!(self, Topic::PublicSecurity | Topic::Environment)
    }
}

/// What kind of safety news an article is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::EnumString, strum::VariantArray)]
#[strum(serialize_all = "snake_case")]
pub enum EventKind {
    /// An accident, disaster or incident that happened.
    Accident,
    /// A forecast, alert or risk warning.
    Warning,
    /// Inspections, enforcement, hidden-hazard rectification.
    Inspection,
    /// Meetings, plans, rules, campaigns.
    Governance,
    /// Training, drills, publicity and education.
    Training,
    /// Relief, reconstruction, compensation after an event.
    Recovery,
}

impl EventKind {
    /// All kinds in canonical order.
    pub const ALL: [EventKind; 6] = [
        EventKind::Accident,
        EventKind::Warning,
        EventKind::Inspection,
        EventKind::Governance,
        EventKind::Training,
        EventKind::Recovery,
    ];

    /// The label as written in events, labels and routing keys (serde's name, from the same
    /// `snake_case` rule).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Parses a label; `None` for an unknown one.
    pub fn parse(label: &str) -> Option<EventKind> {
        label.parse().ok()
    }
}

/// One topic's score with the terms that raised it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicScore {
    /// The topic.
    pub label: Topic,
    /// Score in `[0, 1]`.
    pub score: f64,
    /// Terms of the article that raised the score, strongest first.
    pub evidence: Vec<String>,
}

/// The `safety` part of an event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Safety {
    /// True when the primary topic is one of the six safety topics.
    pub is_safety: bool,
    /// Score of the primary topic (0 when none).
    pub score: f64,
    /// The best topic over its threshold, or null.
    pub primary: Option<Topic>,
    /// Every topic with a non-zero score, best first.
    pub topics: Vec<TopicScore>,
    /// What kind of safety news this is (null when not safety).
    pub event_kind: Option<EventKind>,
}

/// The `page` part of an event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRef {
    /// The page id.
    pub id: String,
    /// Name of the newspaper.
    pub newspaper: Option<String>,
    /// Edition date.
    pub edition_date: Option<String>,
    /// Page number.
    pub page_no: Option<String>,
    /// URL of the e-paper page.
    pub source_url: Option<String>,
}

/// The `pipeline` part of an event: what produced it and when.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineInfo {
    /// pagesift's version.
    pub version: String,
    /// Version string of the classifier model that scored the article.
    pub classifier: String,
    /// Version string of the segmenter model that cut the page into items.
    #[serde(default)]
    pub segmenter: String,
    /// Version string of the entity tagger model that found `nlp.people`, `nlp.places` and
    /// `nlp.organizations`.
    #[serde(default)]
    pub entities: String,
    /// RFC 3339 time of processing (the only non-deterministic field).
    pub processed_at: String,
}

/// One enriched article event (`pagesift.article/v1`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArticleEvent {
    /// Always [`ARTICLE_SCHEMA`].
    pub schema: String,
    /// Deterministic id: the same page id and article index always give the same id.
    pub event_id: String,
    /// The page the article comes from.
    pub page: PageRef,
    /// The segmented article.
    pub article: Article,
    /// Keywords and named entities.
    pub nlp: Nlp,
    /// Safety classification.
    pub safety: Safety,
    /// Provenance.
    pub pipeline: PipelineInfo,
    /// The segmentation is doubtful: `article.confidence` is below `pipeline.review_below`.
    /// Such events carry a `review` header and the routing-key suffix `.review`.
    #[serde(default)]
    pub review: bool,
}

impl ArticleEvent {
    /// The routing key of this event on the output topic exchange:
    /// `article.safety.<primary>.<event_kind>` or `article.general.<primary|none>`, with
    /// `.review` appended when [`ArticleEvent::review`] is set.
    pub fn routing_key(&self) -> String {
        let primary = self.safety.primary.map_or("none", Topic::as_str);
        let suffix = if self.review { ".review" } else { "" };
        if self.safety.is_safety {
            let kind = self.safety.event_kind.map_or("unknown", EventKind::as_str);
            format!("article.safety.{primary}.{kind}{suffix}")
        } else {
            format!("article.general.{primary}{suffix}")
        }
    }
}

#[cfg(test)]
mod label_tests {
    use strum::VariantArray;

    use super::*;

    /// serde's name of a value (its JSON string).
    fn serde_name<T: Serialize>(value: T) -> String {
        match serde_json::to_value(value) {
            Ok(serde_json::Value::String(s)) => s,
            other => panic!("not a string: {other:?}"),
        }
    }

    #[test]
    fn labels_are_serde_names_and_every_variant_is_listed() {
        assert_eq!(Topic::ALL.as_slice(), Topic::VARIANTS);
        assert_eq!(EventKind::ALL.as_slice(), EventKind::VARIANTS);
        for &t in Topic::VARIANTS {
            assert_eq!(t.as_str(), serde_name(t));
            assert_eq!(Topic::parse(t.as_str()), Some(t));
        }
        for &k in EventKind::VARIANTS {
            assert_eq!(k.as_str(), serde_name(k));
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
        }
        for &i in ItemKind::VARIANTS {
            assert_eq!(i.as_str(), serde_name(i));
        }
        assert_eq!(Topic::FoodDrug.as_str(), "food_drug");
        assert_eq!(Topic::parse("food-drug"), None);
        assert_eq!(EventKind::parse("Accident"), None);
    }
}
