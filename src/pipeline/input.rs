//! Decoding a raw page message: JSON or bare text, UTF-8 (with or without BOM) or GB18030/GBK,
//! with the message size limit enforced before any real work; and the text limits
//! ([`check_text`]), which [`crate::pipeline::Pipeline::segment`] checks once per page before
//! segmenting. Pure: bytes and hints in, [`RawPage`] out.

use serde::Deserialize;

use crate::model::{PageMeta, RawPage};

/// Why a page message is rejected. Input errors are final: the page is dead-lettered with
/// [`InputError::class`] and the message as its reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// The message body is larger than `pipeline.max_page_bytes`.
    #[error("message is {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// Size of the message.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The text has more characters than `pipeline.max_page_chars`.
    #[error("page text has {chars} characters, over the limit of {limit}")]
    TooManyChars {
        /// Characters in the text.
        chars: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The text has more non-empty lines than `pipeline.max_paragraphs`.
    #[error("page has {lines} non-empty lines, over the limit of {limit}")]
    TooManyParagraphs {
        /// Non-empty lines in the text.
        lines: usize,
        /// The configured limit.
        limit: usize,
    },
    /// Segmentation found more items than `pipeline.max_articles`.
    #[error("page yields {articles} items, over the limit of {limit}")]
    TooManyArticles {
        /// Items found.
        articles: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The bytes are neither valid UTF-8 nor decodable in the declared or detected charset.
    #[error("cannot decode text: {0}")]
    Encoding(String),
    /// A JSON message did not parse.
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    /// A JSON message has no `text` field.
    #[error("JSON page has no `text` field")]
    MissingText,
    /// A JSON field has the wrong type (e.g. `text` is a number).
    #[error("JSON field has the wrong type: {0}")]
    WrongType(String),
    /// No page id in the message, its headers or the caller's hints.
    #[error("page has no page_id")]
    MissingPageId,
    /// The page id is blank or longer than `pipeline.max_page_id_bytes` (it goes into the
    /// headers of every event, which must fit the broker's frame).
    #[error("bad page_id: {0}")]
    BadPageId(String),
    /// The text is empty or whitespace only.
    #[error("page text is empty")]
    Empty,
}

impl InputError {
    /// A short, stable class name for dead-letter headers, metrics and logs.
    pub fn class(&self) -> &'static str {
        match self {
            InputError::TooLarge { .. } => "too_large",
            InputError::TooManyChars { .. } => "too_many_chars",
            InputError::TooManyParagraphs { .. } => "too_many_paragraphs",
            InputError::TooManyArticles { .. } => "too_many_articles",
            InputError::Encoding(_) => "bad_encoding",
            InputError::InvalidJson(_) => "invalid_json",
            InputError::MissingText => "missing_text",
            InputError::WrongType(_) => "wrong_type",
            InputError::MissingPageId => "missing_page_id",
            InputError::BadPageId(_) => "bad_page_id",
            InputError::Empty => "empty_text",
        }
    }
}

/// Limits enforced before the pipeline does any real work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest message in bytes.
    pub max_page_bytes: usize,
    /// Largest text in characters.
    pub max_page_chars: usize,
    /// Most non-empty lines.
    pub max_paragraphs: usize,
    /// Most items per page.
    pub max_articles: usize,
    /// Longest page id in bytes.
    pub max_page_id_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_page_bytes: 4 * 1024 * 1024,
            max_page_chars: 2_000_000,
            max_paragraphs: 50_000,
            max_articles: 2_000,
            max_page_id_bytes: 1024,
        }
    }
}

/// What the transport knows about a message besides its body (AMQP properties and headers,
/// or CLI flags and the file name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hints {
    /// MIME type, e.g. `application/json` or `text/plain; charset=gbk`.
    pub content_type: Option<String>,
    /// Declared charset (a `charset` header or content-encoding), e.g. `gb18030`.
    pub charset: Option<String>,
    /// Page id from headers or the file stem; a JSON `page_id` wins over it.
    pub page_id: Option<String>,
    /// Metadata from headers or flags; JSON fields win over it.
    pub meta: PageMeta,
}

/// The JSON page message, read field by field: no `serde_json::Value` tree of the whole
/// message is built (unknown fields and values of the wrong type are skipped without being
/// kept), so a page costs its text and little more.
#[derive(Deserialize)]
struct JsonPage {
    #[serde(default)]
    page_id: Option<Field>,
    #[serde(default)]
    text: Option<Field>,
    #[serde(default)]
    newspaper: Option<Field>,
    #[serde(default)]
    edition_date: Option<Field>,
    #[serde(default)]
    page_no: Option<Field>,
    #[serde(default)]
    source_url: Option<Field>,
}

/// One field of a JSON page as read: a string, a number (as JSON writes it), or the name of
/// another type (whose content is skipped, not kept).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Field {
    Null,
    Str(String),
    Num(String),
    Other(&'static str),
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Field, D::Error> {
        d.deserialize_any(FieldVisitor)
    }
}

struct FieldVisitor;

impl<'de> serde::de::Visitor<'de> for FieldVisitor {
    type Value = Field;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Field, E> {
        Ok(Field::Other("a boolean"))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Field, E> {
        Ok(Field::Num(v.to_string()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Field, E> {
        Ok(Field::Num(v.to_string()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Field, E> {
        // As serde_json writes the number (`4.0`, not `4`).
        Ok(Field::Num(
            serde_json::Number::from_f64(v).map_or_else(|| v.to_string(), |n| n.to_string()),
        ))
    }

    fn visit_str<E>(self, v: &str) -> Result<Field, E> {
        Ok(Field::Str(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Field, E> {
        Ok(Field::Str(v))
    }

    fn visit_unit<E>(self) -> Result<Field, E> {
        Ok(Field::Null)
    }

    fn visit_none<E>(self) -> Result<Field, E> {
        Ok(Field::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Field, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(Field::Other("an array"))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Field, A::Error> {
        while map
            .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
            .is_some()
        {}
        Ok(Field::Other("an object"))
    }
}

/// Decodes a page message.
///
/// JSON is recognised by `content_type` (`…json`) or, when none is given, by a body whose first
/// non-blank byte is `{`. Anything else is bare text with metadata from `hints`. Only the
/// message size and the page id are checked here; the text limits (characters, paragraphs, emptiness) are
/// checked once, by the pipeline before it segments ([`check_text`]).
pub fn decode(bytes: &[u8], hints: &Hints, limits: &Limits) -> Result<RawPage, InputError> {
    if bytes.len() > limits.max_page_bytes {
        return Err(InputError::TooLarge {
            size: bytes.len(),
            limit: limits.max_page_bytes,
        });
    }
    let declared = hints
        .charset
        .clone()
        .or_else(|| hints.content_type.as_deref().and_then(charset_of));
    let body = decode_text(bytes, declared.as_deref())?;
    let is_json = match hints.content_type.as_deref() {
        Some(ct) if ct.to_ascii_lowercase().contains("json") => true,
        Some(ct) if ct.to_ascii_lowercase().starts_with("text/") => false,
        _ => body.trim_start().starts_with('{'),
    };
    let page = if is_json {
        from_json(&body, hints)?
    } else {
        RawPage {
            page_id: hints.page_id.clone().ok_or(InputError::MissingPageId)?,
            text: body,
            meta: hints.meta.clone(),
        }
    };
    check_page_id(&page.page_id, limits)?;
    Ok(page)
}

/// Checks that a page id is not blank and at most `max_page_id_bytes` long.
pub fn check_page_id(page_id: &str, limits: &Limits) -> Result<(), InputError> {
    if page_id.chars().all(is_blank) {
        return Err(InputError::BadPageId("it is blank".to_owned()));
    }
    if page_id.len() > limits.max_page_id_bytes {
        return Err(InputError::BadPageId(format!(
            "it is {} bytes, over the limit of {}",
            page_id.len(),
            limits.max_page_id_bytes
        )));
    }
    Ok(())
}

/// Checks the text limits and emptiness (once per page, before segmentation:
/// [`crate::pipeline::Pipeline::segment`]).
pub fn check_text(text: &str, limits: &Limits) -> Result<(), InputError> {
    if text.len() > limits.max_page_bytes {
        return Err(InputError::TooLarge {
            size: text.len(),
            limit: limits.max_page_bytes,
        });
    }
    // A character takes at least one byte: only a longer text needs counting.
    if text.len() > limits.max_page_chars {
        let chars = text.chars().count();
        if chars > limits.max_page_chars {
            return Err(InputError::TooManyChars {
                chars,
                limit: limits.max_page_chars,
            });
        }
    }
    if text.chars().all(is_blank) {
        return Err(InputError::Empty);
    }
    // A non-blank line takes at least one byte and, but for the last, a line break: only a
    // longer text needs counting.
    if text.len() / 2 + 1 > limits.max_paragraphs {
        // Single-character patterns search with memchr.
        let lines = text
            .split('\n')
            .flat_map(|l| l.split('\r'))
            .filter(|l| !l.chars().all(is_blank))
            .count();
        if lines > limits.max_paragraphs {
            return Err(InputError::TooManyParagraphs {
                lines,
                limit: limits.max_paragraphs,
            });
        }
    }
    Ok(())
}

/// Whitespace, including full-width and non-breaking spaces, and control characters.
pub fn is_blank(c: char) -> bool {
    c.is_whitespace() || c.is_control() || c == '\u{feff}' || c == '\u{200b}'
}

fn charset_of(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (k, v) = param.split_once('=')?;
        (k.trim().eq_ignore_ascii_case("charset"))
            .then(|| v.trim().trim_matches('"').to_ascii_lowercase())
    })
}

/// Decodes bytes to text: the declared charset when given, otherwise UTF-8 (BOM stripped) and,
/// when that fails, GB18030 (a superset of GBK and GB2312) if the bytes decode without errors.
pub fn decode_text(bytes: &[u8], declared: Option<&str>) -> Result<String, InputError> {
    if let Some(label) = declared {
        let enc = encoding_rs::Encoding::for_label(label.trim().as_bytes())
            .ok_or_else(|| InputError::Encoding(format!("unknown charset `{label}`")))?;
        let (text, _, had_errors) = enc.decode(bytes);
        if had_errors {
            return Err(InputError::Encoding(format!(
                "bytes are not valid {}",
                enc.name()
            )));
        }
        // Many charsets (UTF-16, single-byte ones) decode almost any bytes without an error:
        // a declared charset that yields no text while the bytes read as text in a detectable
        // encoding is a wrong declaration, not a page.
        if !looks_like_text(&text)
            && let Some(actual) = detected_charset(bytes).filter(|actual| *actual != enc)
        {
            return Err(InputError::Encoding(format!(
                "declared charset {} does not match the text, which reads as {}",
                enc.name(),
                actual.name()
            )));
        }
        return Ok(text.into_owned());
    }
    let without_bom = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(without_bom) {
        Ok(s) => Ok(s.to_owned()),
        Err(utf8_err) => {
            let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
            if had_errors || !looks_like_text(&text) {
                Err(InputError::Encoding(format!(
                    "not UTF-8 ({utf8_err}) and not GB18030 text"
                )))
            } else {
                Ok(text.into_owned())
            }
        }
    }
}

/// The encoding the bytes read as text in without a declaration (UTF-8, with or without BOM,
/// else GB18030), if any.
fn detected_charset(bytes: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let without_bom = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(text) = std::str::from_utf8(without_bom) {
        return looks_like_text(text).then_some(encoding_rs::UTF_8);
    }
    let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
    (!had_errors && looks_like_text(&text)).then_some(encoding_rs::GB18030)
}

/// GB18030 maps almost any byte sequence to some character, so random binary decodes "fine";
/// real text has few control characters and a fair share of CJK or ASCII.
fn looks_like_text(text: &str) -> bool {
    let mut total = 0usize;
    let mut bad = 0usize;
    let mut good = 0usize;
    for c in text.chars() {
        total += 1;
        if c.is_control() && !matches!(c, '\n' | '\r' | '\t') {
            bad += 1;
        }
        if c.is_ascii_graphic()
            || c.is_whitespace()
            || super::normalize::is_cjk(c)
            || ('\u{3000}'..='\u{303f}').contains(&c)
            || ('\u{ff00}'..='\u{ffef}').contains(&c)
            || ('\u{2000}'..='\u{206f}').contains(&c)
        {
            good += 1;
        }
    }
    total > 0 && bad * 100 <= total && good * 100 >= total * 90
}

fn json_string(field: &str, v: Option<Field>) -> Result<Option<String>, InputError> {
    match v {
        None | Some(Field::Null) => Ok(None),
        Some(Field::Str(s)) => Ok(Some(s)),
        Some(Field::Num(n)) if field != "text" => Ok(Some(n)),
        Some(Field::Num(_)) => Err(InputError::WrongType(format!(
            "`{field}` must be a string, not a number"
        ))),
        Some(Field::Other(kind)) => Err(InputError::WrongType(format!(
            "`{field}` must be a string, not {kind}"
        ))),
    }
}

/// The JSON type a (valid) JSON text starts with.
fn json_type_of(body: &str) -> &'static str {
    match body.trim_start().as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

fn from_json(body: &str, hints: &Hints) -> Result<RawPage, InputError> {
    let body = body.trim_start_matches('\u{feff}');
    let kind = json_type_of(body);
    if kind != "an object" {
        // Validate without keeping anything, to tell bad JSON from the wrong type.
        serde_json::from_str::<serde::de::IgnoredAny>(body)
            .map_err(|e| InputError::InvalidJson(e.to_string()))?;
        return Err(InputError::WrongType(format!(
            "page message must be a JSON object, not {kind}"
        )));
    }
    let json: JsonPage =
        serde_json::from_str(body).map_err(|e| InputError::InvalidJson(e.to_string()))?;
    let text = json_string("text", json.text)?.ok_or(InputError::MissingText)?;
    let page_id = json_string("page_id", json.page_id)?
        .filter(|s| !s.trim().is_empty())
        .or_else(|| hints.page_id.clone())
        .ok_or(InputError::MissingPageId)?;
    let meta = PageMeta {
        newspaper: json_string("newspaper", json.newspaper)?.or(hints.meta.newspaper.clone()),
        edition_date: json_string("edition_date", json.edition_date)?
            .or(hints.meta.edition_date.clone()),
        page_no: json_string("page_no", json.page_no)?.or(hints.meta.page_no.clone()),
        source_url: json_string("source_url", json.source_url)?.or(hints.meta.source_url.clone()),
    };
    Ok(RawPage {
        page_id,
        text,
        meta,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hints(id: &str) -> Hints {
        Hints {
            page_id: Some(id.to_owned()),
            ..Hints::default()
        }
    }

    #[test]
    fn bare_utf8_text_with_bom_takes_the_hinted_id() {
        let page = decode(
            "\u{feff}标题\n\n正文。".as_bytes(),
            &hints("p1"),
            &Limits::default(),
        )
        .expect("decodes");
        assert_eq!(page.page_id, "p1");
        assert_eq!(page.text, "标题\n\n正文。");
    }

    #[test]
    fn gbk_is_detected_when_utf8_fails_and_decoded_when_declared() {
        let (gbk, _, _) = encoding_rs::GBK.encode("本报讯 暴雨预警发布。");
        let page = decode(&gbk, &hints("g"), &Limits::default()).expect("detected");
        assert_eq!(page.text, "本报讯 暴雨预警发布。");
        let declared = Hints {
            charset: Some("GBK".into()),
            ..hints("g")
        };
        assert_eq!(
            decode(&gbk, &declared, &Limits::default())
                .expect("declared")
                .text,
            "本报讯 暴雨预警发布。"
        );
    }

    #[test]
    fn json_fields_win_over_hints_and_numbers_are_accepted_for_metadata() {
        let body = br#"{"page_id":"x-1","text":"abc","page_no":4,"newspaper":"N"}"#;
        let page = decode(body, &hints("ignored"), &Limits::default()).expect("json");
        assert_eq!(page.page_id, "x-1");
        assert_eq!(page.meta.page_no.as_deref(), Some("4"));
        assert_eq!(page.meta.newspaper.as_deref(), Some("N"));
    }

    #[test]
    fn each_bad_input_has_its_class() {
        let l = Limits::default();
        let json = Hints {
            content_type: Some("application/json".into()),
            ..hints("p")
        };
        let cases: Vec<(&[u8], &Hints, &str)> = vec![
            (b"{\"text\": ", &json, "invalid_json"),
            (b"{\"page_id\":\"a\"}", &json, "missing_text"),
            (b"{\"page_id\":\"a\",\"text\":5}", &json, "wrong_type"),
            (b"[1,2]", &json, "wrong_type"),
            (b"\n\n   \n", &json, "invalid_json"),
            (b"\x00\x01\x02\xff\xfe\x80\x81", &json, "bad_encoding"),
        ];
        for (body, h, class) in cases {
            let err = decode(body, h, &l).expect_err("must fail");
            assert_eq!(err.class(), class, "{err}");
        }
        for body in [&b"\n\n\n"[..], b"{\"page_id\":\"a\",\"text\":\"  \\n \"}"] {
            let page = decode(body, &hints("p"), &l).expect("decodes");
            let err = check_text(&page.text, &l).expect_err("blank");
            assert_eq!(err.class(), "empty_text");
        }
        let small = Limits {
            max_page_bytes: 4,
            ..l
        };
        assert_eq!(
            decode(b"12345", &hints("p"), &small)
                .expect_err("big")
                .class(),
            "too_large"
        );
    }

    #[test]
    fn character_and_line_limits_count_exactly_at_the_edge() {
        let l = Limits {
            max_page_chars: 8,
            max_paragraphs: 2,
            ..Limits::default()
        };
        // 18 bytes but 8 characters; 3 lines but 2 of them not blank.
        assert!(check_text("中文\r\n\u{3000}\n字符", &l).is_ok());
        let chars = check_text("中文字符号中文字符", &l).expect_err("9 characters");
        assert_eq!(chars.class(), "too_many_chars");
        let lines = check_text("a\nb\rc", &l).expect_err("3 lines");
        assert_eq!(lines.class(), "too_many_paragraphs");
    }

    #[test]
    fn a_declared_charset_that_does_not_match_the_text_is_rejected() {
        let utf8 = "本报讯 今日全市开展消防安全检查，排查隐患三百余处。".as_bytes();
        let declared = |charset: &str| Hints {
            charset: Some(charset.to_owned()),
            ..hints("c")
        };
        let err = decode(utf8, &declared("utf-16le"), &Limits::default()).expect_err("garbage");
        assert_eq!(err.class(), "bad_encoding");
        assert!(err.to_string().contains("UTF-8"), "{err}");
        let (mut gbk, _, _) = encoding_rs::GBK.encode("本报讯 暴雨预警发布，请市民注意防范。");
        if gbk.len() % 2 == 1 {
            gbk.to_mut().push(b' ');
        }
        let err = decode(&gbk, &declared("utf-16be"), &Limits::default()).expect_err("garbage");
        assert_eq!(err.class(), "bad_encoding");
        assert!(err.to_string().contains("gb18030"), "{err}");
        let mut utf16 = Vec::new();
        for unit in "本报讯 暴雨预警发布。".encode_utf16() {
            utf16.extend_from_slice(&unit.to_le_bytes());
        }
        let page = decode(&utf16, &declared("utf-16le"), &Limits::default()).expect("right");
        assert_eq!(page.text, "本报讯 暴雨预警发布。");
    }

    #[test]
    fn a_blank_or_overlong_page_id_is_a_bad_page_id() {
        let l = Limits {
            max_page_id_bytes: 8,
            ..Limits::default()
        };
        for id in [" ", "\u{3000}\t", "123456789"] {
            let err = decode("正文".as_bytes(), &hints(id), &l).expect_err(id);
            assert_eq!(err.class(), "bad_page_id", "{id:?}");
        }
        let json = br#"{"page_id":"  ","text":"t"}"#;
        assert_eq!(
            decode(json, &hints(" "), &l).expect_err("blank").class(),
            "bad_page_id"
        );
        assert_eq!(
            decode("正文".as_bytes(), &hints("12345678"), &l)
                .expect("8 bytes")
                .page_id,
            "12345678"
        );
    }

    #[test]
    fn json_pages_are_read_field_by_field_with_the_old_rules() {
        let l = Limits::default();
        let body = br#"{"extra":{"deep":[1,{"x":[true,null]}]},"page_id":4.0,"page_no":-3,"newspaper":7,"text":"t"}"#;
        let page = decode(body, &hints("h"), &l).expect("json");
        assert_eq!(page.page_id, "4.0", "numbers as JSON writes them");
        assert_eq!(page.meta.page_no.as_deref(), Some("-3"));
        assert_eq!(page.meta.newspaper.as_deref(), Some("7"));
        let null_id = br#"{"page_id":null,"text":"t"}"#;
        assert_eq!(decode(null_id, &hints("h"), &l).expect("null").page_id, "h");
        for (body, class, says) in [
            (
                &br#"{"page_id":"a","text":{"a":1}}"#[..],
                "wrong_type",
                "an object",
            ),
            (br#"{"page_id":"a","text":[1]}"#, "wrong_type", "an array"),
            (
                br#"{"page_id":"a","text":false}"#,
                "wrong_type",
                "a boolean",
            ),
            (br#"{"page_id":"a","text":5}"#, "wrong_type", "a number"),
            (br#""just a string""#, "wrong_type", "a string"),
            (br#"[1,"#, "invalid_json", "EOF"),
            (br#"{"text":"t","#, "invalid_json", "EOF"),
        ] {
            let json = Hints {
                content_type: Some("application/json".into()),
                ..hints("p")
            };
            let err = decode(body, &json, &l).expect_err("bad");
            assert_eq!(err.class(), class, "{err}");
            assert!(err.to_string().contains(says), "{err}");
        }
    }

    #[test]
    fn bare_text_needs_a_page_id() {
        let err =
            decode("正文".as_bytes(), &Hints::default(), &Limits::default()).expect_err("no id");
        assert_eq!(err.class(), "missing_page_id");
    }
}
