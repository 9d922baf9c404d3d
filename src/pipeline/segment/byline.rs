//! Byline grammar: inline leads (`本报讯(记者 孙 雄)`, `本报北京1月7日电 （记者丁怡婷）`,
//! `新华社北京2月24日电`, `据新华社…电（记者…）`), byline lines (`本报记者 付 炎`), photo
//! credits (`本报记者 常 奇 摄`, `王友恒摄（人民视觉）`, `新华社发`), trailing credits
//! (`(梁 浩)`, `（作者为本报记者）`, `（本报布鲁塞尔1月14日电）`) and the names inside them.
//!
//! Everything is hand-written over characters: no regular expressions, no panics on any input.

use super::shape::{
    ends_sentence, is_cjk, is_name_shape, trim, trim_end, trim_start, visible_at_most, visible_len,
};
use crate::model::Byline;

/// News agencies and papers that open an inline lead (`新华社北京…电`).
const AGENCIES: &[&str] = &[
    "本报",
    "新华社",
    "中新社",
    "中新网",
    "人民网",
    "新华网",
    "央视网",
    "光明网",
    "经济日报",
    "法治日报",
];

/// Role words of a byline, longest first so `见习记者` wins over `记者`.
const ROLES: &[(&str, Role)] = &[
    ("本报特约记者", Role::Reporter),
    ("本报见习记者", Role::Reporter),
    ("本报通讯员", Role::Correspondent),
    ("新华社记者", Role::Reporter),
    ("中新社记者", Role::Reporter),
    ("人民日报记者", Role::Reporter),
    ("本报记者", Role::Reporter),
    ("特约记者", Role::Reporter),
    ("见习记者", Role::Reporter),
    ("实习记者", Role::Reporter),
    ("通讯员", Role::Correspondent),
    ("实习生", Role::Correspondent),
    ("记者", Role::Reporter),
];

/// Suffixes that make a credit a photo credit, longest first.
const PHOTO_SUFFIXES: &[&str] = &["摄影报道", "摄影", "供图", "摄", "新华社发", "发"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Reporter,
    Correspondent,
}

/// An inline lead split off the start of a paragraph (parts of the paragraph, borrowed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lead<'a> {
    /// The lead as printed, trimmed (goes to `byline.raw`).
    pub raw: &'a str,
    /// The rest of the paragraph, trimmed.
    pub rest: &'a str,
    /// The dateline, text in `raw` (`北京1月7日`) or at the start of `rest` (`7月15日`).
    pub dateline: Option<&'a str>,
}

fn strip_bracket_group(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start();
    let close = if s.starts_with('（') {
        '）'
    } else if s.starts_with('(') {
        ')'
    } else {
        return None;
    };
    let end = s.find(close)?;
    let inner = &s[s.chars().next()?.len_utf8()..end];
    if !visible_at_most(inner, 40) || inner.contains(['。', '，', ',', '：']) {
        return None;
    }
    let group_end = end + close.len_utf8();
    Some((&s[..group_end], &s[group_end..]))
}

/// A date such as `7月15日`, `15日`, `7月14日至16日` at the start of `s`: its byte length.
pub fn leading_date(s: &str) -> Option<usize> {
    let mut len = 0;
    let mut saw_day = false;
    for (i, c) in s.char_indices() {
        if c.is_ascii_digit() {
            continue;
        }
        if (c == '月' || c == '日') && i > len {
            len = i + c.len_utf8();
            saw_day |= c == '日';
            if c == '日' {
                break;
            }
            continue;
        }
        break;
    }
    saw_day.then_some(len)
}

/// Splits an inline lead off the start of a paragraph, if it has one.
pub fn split_lead(para: &str) -> Option<Lead<'_>> {
    let body = trim_start(para);
    let after_ju = body.strip_prefix('据').unwrap_or(body);
    if let Some(rest) = after_ju.strip_prefix("本报讯") {
        let rest = match strip_bracket_group(rest) {
            Some((_, r)) => r,
            None => rest,
        };
        let raw_end = body.len() - rest.len();
        let rest = rest.trim_start();
        let dateline = leading_date(rest).and_then(|n| rest.get(..n));
        return Some(Lead {
            raw: body[..raw_end].trim_end(),
            rest,
            dateline,
        });
    }
    let agency = AGENCIES.iter().find(|a| after_ju.starts_with(**a))?;
    let tail = &after_ju[agency.len()..];
    // `本报电`, `新华社电（记者…）`: a lead without place or date.
    if let Some(after_dian) = tail.strip_prefix('电') {
        let rest = match strip_bracket_group(after_dian) {
            Some((_, r)) => r,
            None => after_dian,
        };
        let raw_end = body.len() - rest.len();
        return Some(Lead {
            raw: body[..raw_end].trim_end(),
            rest: rest.trim_start(),
            dateline: None,
        });
    }
    // place? (digits 月)? digits 日 电, within a short span.
    let dian = tail.char_indices().take(24).find(|&(_, c)| c == '电')?.0;
    let place_date = &tail[..dian];
    if !place_date.ends_with('日') || !place_date.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    if !place_date
        .chars()
        .all(|c| is_cjk(c) || c.is_ascii_digit() || c == '、' || c == '·')
    {
        return None;
    }
    let after_dian = &tail[dian + '电'.len_utf8()..];
    let rest = match strip_bracket_group(after_dian) {
        Some((_, r)) => r,
        None => after_dian,
    };
    let raw_end = body.len() - rest.len();
    Some(Lead {
        raw: body[..raw_end].trim_end(),
        rest: rest.trim_start(),
        dateline: Some(place_date).filter(|d| !d.is_empty()),
    })
}

/// A byline printed on its own line: role words and names (`本报记者 付 炎`,
/// `本报记者 沈童睿`).
pub fn is_byline_line(s: &str) -> bool {
    let s = trim(s);
    if !visible_at_most(s, 30) || s.contains(['。', '，', '：', '“']) {
        return false;
    }
    ROLES.iter().any(|(role, _)| s.starts_with(role)) && s.chars().any(is_cjk)
}

/// A photo credit: `… 摄`, `…摄（人民视觉）`, `…摄影报道`, `新华社发`, short, no sentence.
pub fn is_photo_credit(s: &str) -> bool {
    let s = trim(s);
    // The suffix first: it settles most lines at once.
    if !ends_like_photo_credit(s)
        || s.is_empty()
        || !visible_at_most(s, 26)
        || s.contains(['。', '，', '：', '“', '；'])
    {
        return false;
    }
    let core = credit_core(s);
    PHOTO_SUFFIXES.iter().any(|suf| {
        core.ends_with(suf) && {
            let before = visible_len(&core[..core.len() - suf.len()]);
            // `发` alone is common; only accept it after an agency (新华社发, 中新社发).
            if *suf == "发" {
                core.ends_with("社发")
            } else {
                before >= 1
            }
        }
    })
}

/// A credit without a trailing agency tag in brackets (`摄（人民视觉）` → `摄`).
fn credit_core(s: &str) -> &str {
    match s.ends_with(['）', ')']).then(|| s.rfind(['（', '('])) {
        Some(Some(pos)) if pos > 0 => trim_end(&s[..pos]),
        _ => s,
    }
}

/// Whether trimmed `s` ends as a photo credit does: a photo suffix, possibly before an agency
/// tag. Every line holding a photo credit at its end passes.
fn ends_like_photo_credit(s: &str) -> bool {
    let core = credit_core(s);
    PHOTO_SUFFIXES.iter().any(|suf| core.ends_with(suf))
}

/// Splits a caption line `text credit` (credit after the last sentence end and a space) into
/// its text and photo credit.
pub fn split_photo_credit(s: &str) -> Option<(String, String)> {
    let s = trim(s);
    // The credit ends the line: a line that does not end like one has none.
    if !ends_like_photo_credit(s) {
        return None;
    }
    for (i, _) in s.match_indices(' ') {
        let (head, tail) = (trim_end(&s[..i]), trim(&s[i..]));
        if !head.is_empty() && ends_sentence(head) && is_photo_credit(tail) {
            return Some((head.to_owned(), tail.to_owned()));
        }
    }
    None
}

/// Longest source credit (`据新华社`, `综合新华社、央视新闻报道`), in visible characters.
const MAX_SOURCE_CREDIT_CHARS: usize = 24;

/// Endings of a `据…` phrase that opens a sentence (`据了解`, `据介绍`) rather than naming a
/// source.
const HEARSAY: &[&str] = &["了解", "介绍", "悉", "统计", "测算", "称", "说", "报道称"];

/// A source credit printed at the end of an item: `据新华社`, `据新华社电`, `综合新华社等报道`,
/// `（据央视新闻客户端）` — `据` or `综合` and a short source, no clause punctuation.
pub fn is_source_credit(s: &str) -> bool {
    let mut t = trim(s);
    let mut bracketed = false;
    if let Some(inner) = t
        .strip_prefix(['（', '('])
        .and_then(|r| r.strip_suffix(['）', ')']))
    {
        t = inner.trim();
        bracketed = true;
    }
    let n = visible_len(t);
    if !(4..=MAX_SOURCE_CREDIT_CHARS).contains(&n)
        || !t
            .chars()
            .all(|c| is_cjk(c) || matches!(c, '、' | ' ' | '·' | '等'))
    {
        return false;
    }
    if let Some(rest) = t.strip_prefix("综合") {
        return bracketed || rest.ends_with("报道") || rest.ends_with("消息");
    }
    t.strip_prefix('据')
        .is_some_and(|rest| !HEARSAY.iter().any(|h| rest.ends_with(h)))
}

/// Splits a source credit run on at the end of a paragraph (`…正在调查中。据新华社`) off it.
pub fn split_run_on_credit(para: &str) -> Option<(String, String)> {
    let p = trim_end(para);
    // The credit starts after the last sentence end (or closing quote after one).
    let (at, c) = p
        .char_indices()
        .rev()
        .take(MAX_SOURCE_CREDIT_CHARS + 4)
        .find(|&(_, c)| matches!(c, '。' | '！' | '？' | '”' | '!' | '?'))?;
    let head = &p[..at + c.len_utf8()];
    let credit = p[at + c.len_utf8()..].trim();
    (ends_sentence(head) && is_source_credit(credit)).then(|| (head.to_owned(), credit.to_owned()))
}

/// A standalone credit line at the end of an item: `（作者为…）`, `（本报记者 徐 隽整理）`,
/// `（本报布鲁塞尔1月14日电）`, `（作者单位：…）`, a source credit (`综合新华社等报道`).
pub fn is_credit_line(s: &str) -> bool {
    let s = trim(s);
    if is_picture_text_credit(s) || matches!(s, "人民视觉" | "视觉中国") || is_source_credit(s)
    {
        return true;
    }
    let wrapped =
        (s.starts_with('（') && s.ends_with('）')) || (s.starts_with('(') && s.ends_with(')'));
    if !wrapped || !visible_at_most(s, 100) || s.contains('。') {
        return false;
    }
    // An author's name alone in brackets: `（周飞亚）`, `（狄 慧）`.
    let open_len = s.chars().next().map_or(0, char::len_utf8);
    let close_len = s.chars().next_back().map_or(0, char::len_utf8);
    if s.len() > open_len + close_len {
        let inner = &s[open_len..s.len() - close_len];
        // A name alone, or a closing note without a clause in it (`（本系列评论到此结束）`,
        // `（某某参与采写）`): never a kicker or headline.
        let note = (4..=MAX_NOTE_CHARS).contains(&visible_len(inner))
            && !inner.contains(['，', '；', '！', '？', '（', '(', '“'])
            && inner.chars().any(is_cjk);
        if is_name_shape(inner) || note {
            return true;
        }
    }
    [
        "作者",
        "记者",
        "电",
        "整理",
        "通讯员",
        "本报",
        "新华社",
        "编译",
        "供稿",
        "来源",
    ]
    .iter()
    .any(|w| s.contains(w))
}

/// Longest closing note in brackets read as a credit line.
const MAX_NOTE_CHARS: usize = 40;

/// A picture-and-text credit of an illustrated column: `曹 一图 杨立新文`,
/// `徐 骏图（新华社发） 苏 砥文` (a short name + `图`, a space, then a short name + `文`).
pub fn is_picture_text_credit(s: &str) -> bool {
    let s = trim(s);
    let Some(head) = s.strip_suffix('文') else {
        return false;
    };
    let Some(pos) = head.find('图') else {
        return false;
    };
    let (pic, rest) = (&head[..pos], &head[pos + '图'.len_utf8()..]);
    // An agency tag after the picture credit: `图（新华社发）`.
    let rest = match rest.trim_start().strip_prefix('（') {
        Some(r) => r.split_once('）').map_or("", |(_, after)| after),
        None => rest,
    };
    let name = |t: &str| {
        let n = visible_len(t);
        (1..=6).contains(&n) && t.chars().all(|c| is_cjk(c) || c == ' ')
    };
    // The two credits are set apart by a space: `…图 杨立新文`.
    rest.starts_with(char::is_whitespace)
        && visible_len(pic) >= 2
        && name(pic.trim())
        && name(rest.trim())
}

/// Splits a trailing author credit such as `(梁 浩)` off the end of a paragraph.
pub fn split_trailing_credit(para: &str) -> Option<(String, String)> {
    let p = para.trim_end();
    let close = p.chars().next_back()?;
    let open = match close {
        ')' => '(',
        '）' => '（',
        _ => return None,
    };
    let pos = p.rfind(open)?;
    let head = p[..pos].trim_end();
    let group = &p[pos..];
    let inner = &group[open.len_utf8()..group.len() - close.len_utf8()];
    let names_only = inner
        .split(['、', ' '])
        .filter(|t| !t.is_empty())
        .all(|t| t.chars().all(is_cjk));
    let credit_words = ["记者", "通讯员", "作者"].iter().any(|w| inner.contains(w));
    let n = visible_len(inner);
    if head.is_empty() || !ends_sentence(head) || n == 0 || n > 24 {
        return None;
    }
    if (names_only && n <= 12) || credit_words {
        return Some((head.to_owned(), group.to_owned()));
    }
    None
}

/// Parses the names of a byline, lead or credit into a [`Byline`].
pub fn parse_byline(raw: &str) -> Byline {
    let mut byline = Byline {
        raw: raw.trim().to_owned(),
        ..Byline::default()
    };
    let photo = is_photo_credit(raw);
    // A photo credit's bracket names the agency (`摄（人民视觉）`): the names come before it.
    let raw = match raw.rfind(['（', '(']) {
        Some(pos) if photo && pos > 0 && raw.trim_end().ends_with(['）', ')']) => &raw[..pos],
        _ => raw,
    };
    // Take the part inside brackets when there is one (`本报讯(记者 孙 雄)`).
    let inner = match (raw.find(['（', '(']), raw.rfind(['）', ')'])) {
        (Some(a), Some(b)) if a < b => {
            let open_len = raw[a..].chars().next().map_or(1, char::len_utf8);
            &raw[a + open_len..b]
        }
        _ => raw,
    };
    let mut body = trim(inner);
    if photo {
        for suf in PHOTO_SUFFIXES {
            if let Some(stripped) = body.strip_suffix(suf) {
                body = trim_end(stripped);
                break;
            }
        }
    }
    // An inline lead before the bracket holds no names.
    if (raw.contains('电') || raw.trim_start().starts_with("本报讯")) && inner.len() == raw.len()
    {
        return byline;
    }
    if body.starts_with("作者") || body.ends_with("整理") && !body.contains("记者") {
        return byline;
    }
    let body = body.strip_suffix("整理").unwrap_or(body);
    let mut role = if photo { None } else { Some(Role::Reporter) };
    let mut pending: Vec<&str> = Vec::new();
    let flush = |pending: &mut Vec<&str>, role: Option<Role>, b: &mut Byline| {
        if pending.is_empty() {
            return;
        }
        let singles = pending.iter().all(|p| p.chars().count() == 1);
        if singles {
            add_name(b, role, &pending.concat());
        } else {
            for name in pending.iter() {
                add_name(b, role, name);
            }
        }
        pending.clear();
    };
    for token in body.split([' ', '、', '，', ',']).filter(|t| !t.is_empty()) {
        let mut token = token;
        if let Some((word, r)) = ROLES.iter().find(|(w, _)| token.starts_with(*w)) {
            flush(&mut pending, role, &mut byline);
            if !photo {
                role = Some(*r);
            }
            token = &token[word.len()..];
        }
        if !token.is_empty() {
            pending.push(token);
        }
    }
    flush(&mut pending, role, &mut byline);
    byline
}

/// Adds a name (two to five ideographs; anything else is not a name) to the list of `role`.
fn add_name(b: &mut Byline, role: Option<Role>, name: &str) {
    if !(2..=5).contains(&name.chars().count()) || !name.chars().all(is_cjk) {
        return;
    }
    let name = name.to_owned();
    match role {
        None => b.photographers.push(name),
        Some(Role::Reporter) => b.reporters.push(name),
        Some(Role::Correspondent) => b.correspondents.push(name),
    }
}

/// Whether a byline line holds only a name (`周秀枝`, `付 炎`).
pub fn is_bare_name(s: &str) -> bool {
    is_name_shape(s.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_credits_are_told_from_sentence_openers() {
        for c in [
            "据新华社",
            "据新华社电",
            "综合新华社等报道",
            "（据央视新闻客户端）",
            "据中新社",
        ] {
            assert!(is_source_credit(c), "{c}");
            assert!(is_credit_line(c), "{c}");
        }
        for c in [
            "据了解",
            "据介绍",
            "据悉",
            "综合施策",
            "据新华社报道称",
            "据统计，全市共有",
        ] {
            assert!(!is_source_credit(c), "{c}");
        }
        assert_eq!(
            split_run_on_credit("事故原因正在进一步调查中。据新华社"),
            Some((
                "事故原因正在进一步调查中。".to_owned(),
                "据新华社".to_owned()
            ))
        );
        assert_eq!(
            split_run_on_credit("他说：“一定办好。”（综合新华社、央视新闻）").map(|(_, c)| c),
            Some("（综合新华社、央视新闻）".to_owned())
        );
        assert_eq!(split_run_on_credit("据新华社"), None);
        assert_eq!(split_run_on_credit("会议指出。据了解"), None);
        assert_eq!(split_run_on_credit("大家都说据新华社"), None);
    }

    #[test]
    fn a_local_lead_keeps_its_bracket_and_copies_the_date() {
        let lead = split_lead("本报讯(记者 孙 雄)7月15日，揭牌仪式举行。").expect("lead");
        assert_eq!(lead.raw, "本报讯(记者 孙 雄)");
        assert_eq!(lead.rest, "7月15日，揭牌仪式举行。");
        assert_eq!(lead.dateline, Some("7月15日"));
        let bare = split_lead("本报讯 7月16日，副市长调研。").expect("lead");
        assert_eq!(bare.raw, "本报讯");
    }

    #[test]
    fn an_agency_lead_gives_place_and_date() {
        let lead = split_lead("本报北京1月7日电 （记者丁怡婷）近日，会议召开。").expect("lead");
        assert_eq!(lead.raw, "本报北京1月7日电 （记者丁怡婷）");
        assert_eq!(lead.dateline, Some("北京1月7日"));
        assert_eq!(lead.rest, "近日，会议召开。");
        let xinhua = split_lead("据新华社联合国1月13日电 （记者尚绪谦）联合国邮政").expect("lead");
        assert_eq!(xinhua.rest, "联合国邮政");
        assert!(split_lead("本报记者从会上获悉，今年以来").is_none());
    }

    #[test]
    fn byline_names_are_joined_and_sorted_by_role() {
        let b = parse_byline("本报讯(记者 吴 娜 通讯员 张 泽)");
        assert_eq!(b.reporters, vec!["吴娜"]);
        assert_eq!(b.correspondents, vec!["张泽"]);
        assert!(parse_byline("本报讯").reporters.is_empty());
        let b = parse_byline("本报记者 付 炎");
        assert_eq!(b.reporters, vec!["付炎"]);
        let b = parse_byline("本报记者 常 奇 摄");
        assert_eq!(b.photographers, vec!["常奇"]);
        assert_eq!(
            parse_byline("杨武魁摄（影像中国）").photographers,
            vec!["杨武魁"]
        );
        let b = parse_byline("据新华社开罗3月2日电 （记者王明远、李华）");
        assert_eq!(b.reporters, vec!["王明远", "李华"]);
    }

    #[test]
    fn photo_credits_split_off_captions() {
        let (text, credit) =
            split_photo_credit("小朋友在参观。 本报记者 常 奇 摄").expect("caption");
        assert_eq!(text, "小朋友在参观。");
        assert_eq!(credit, "本报记者 常 奇 摄");
        assert!(is_photo_credit("王友恒摄（人民视觉）"));
        assert!(is_photo_credit("新华社发"));
        assert!(is_credit_line("（狄 慧）"));
        assert!(!is_credit_line("（上）"));
        assert!(!is_photo_credit("开发"));
    }

    #[test]
    fn closing_notes_and_picture_text_credits_are_credit_lines_not_headlines() {
        assert!(is_credit_line("（本组稿件到此结束）"));
        assert!(is_credit_line("（某研究院研究员 王五）"));
        assert!(is_credit_line("甲 乙图 丙丁文"));
        assert!(is_credit_line("张 三图（新华社发） 李 四文"));
        // A bracketed clause or a short tag is not a closing note.
        assert!(!is_credit_line("（上）"));
        assert!(!is_credit_line("（一份报告，两种读法）"));
        // A headline that happens to end in 文 has no picture credit before it.
        assert!(!is_picture_text_credit("地图上的说明文"));
    }

    #[test]
    fn a_bracketed_name_after_the_last_sentence_is_a_trailing_credit() {
        let (head, credit) = split_trailing_credit("推动绿色低碳发展。(梁 浩)").expect("credit");
        assert_eq!(head, "推动绿色低碳发展。");
        assert_eq!(credit, "(梁 浩)");
        assert!(split_trailing_credit("设立了示范园（区）").is_none());
    }
}
