//! From normalised lines to layout units: headline runs, paragraphs (column breaks repaired,
//! displaced headline blocks lifted out), credit lines and photo captions.
//!
//! Two layouts are recognised: *blocks* (every block one line, blank lines between them; the
//! shape of a line tells headline from paragraph) and *indented* raw dumps (paragraphs indented
//! with full-width spaces, headline lines not indented, single newlines; indentation tells).

use super::byline::{is_credit_line, is_photo_credit, split_photo_credit};
use super::shape::{
    MAX_BOX_LABEL_CHARS, MAX_CONTACT_CHARS, MAX_SIGNOFF_CHARS, ends_complete, ends_sentence,
    is_box_label, is_cjk, is_contact_line, is_heading_shape, is_signoff, starts_as_continuation,
    starts_with_marker, unclosed, visible_at_most, visible_len,
};
use crate::pipeline::normalize::Normalized;

/// Longest dash subtitle (`——习近平总书记在…`) still read as a headline-block line.
const MAX_SUBTITLE_CHARS: usize = 90;
/// Most headline lines a displaced headline block may have.
const MAX_DISPLACED_LINES: usize = 3;

/// A layout unit of the page, in page order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unit {
    /// Consecutive headline-shaped lines. In the indented layout an empty string stands for an
    /// empty kicker or subtitle slot.
    Run(Vec<String>),
    /// A body paragraph.
    Para(Para),
    /// A standalone credit line (`（作者为…）`, `新华社记者 黄孝邦摄`, `栏目投稿邮箱：…`).
    Credit(String),
    /// A photo caption with its credit on one line.
    Caption {
        /// The caption text.
        text: String,
        /// The photo credit.
        credit: String,
    },
}

/// A body paragraph.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Para {
    /// The text, column breaks repaired.
    pub text: String,
    /// Headline lines that were lifted out of the middle of this paragraph.
    pub displaced: Vec<String>,
    /// Byte offset in `text` where the (first) lifted headline block stood.
    pub displaced_at: usize,
}

/// Which layout a page uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Blocks separated by blank lines.
    Blocks,
    /// Indented paragraphs, single newlines.
    Indented,
}

/// How a body line may continue on the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Join {
    /// Complete: never joined.
    No,
    /// Only with a line that starts as a continuation (`，…`): numbered lines, bullets.
    Continuation,
    /// With the next body line: a paragraph cut mid-sentence by a column break.
    Any,
}

/// A classified line, borrowing its text from the normalised page.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Line<'a> {
    Heading(&'a str),
    Slot,
    Body { text: &'a str, joinable: Join },
    Credit(&'a str),
    Caption { text: String, credit: String },
}

/// Detects the layout: indented when at least a third of the non-empty lines are indented.
pub fn layout(text: &Normalized) -> Layout {
    let (mut lines, mut indented) = (0usize, 0usize);
    for l in text.lines.iter().filter(|l| !l.text.is_empty()) {
        lines += 1;
        indented += usize::from(l.indented);
    }
    if lines > 0 && indented * 3 >= lines {
        Layout::Indented
    } else {
        Layout::Blocks
    }
}

/// Classifies a body line of `visible` non-whitespace characters. The length guards repeat
/// the first test of the checks they stand before, from the count normalisation made.
fn classify_body(text: &str, visible: usize, joinable: Join) -> Line<'_> {
    if is_credit_line(text)
        || (visible <= MAX_CONTACT_CHARS && is_contact_line(text))
        || is_photo_credit(text)
        || (visible <= MAX_SIGNATURE_CHARS && is_signature(text))
        || (visible <= MAX_FURNITURE_CHARS && is_furniture(text))
    {
        return Line::Credit(text);
    }
    if let Some((text, credit)) = split_photo_credit(text) {
        return Line::Caption { text, credit };
    }
    Line::Body { text, joinable }
}

fn classify<'a>(text: &'a Normalized<'_>, layout: Layout) -> Vec<Line<'a>> {
    let mut out = Vec::new();
    for line in &text.lines {
        let t: &str = &line.text;
        match layout {
            Layout::Indented => {
                if t.is_empty() {
                    if !line.indented {
                        out.push(Line::Slot);
                    }
                } else if line.indented {
                    out.push(classify_body(t, line.visible, Join::No));
                } else if is_credit_line(t) || is_contact_line(t) || is_furniture(t) {
                    out.push(Line::Credit(t));
                } else {
                    out.push(Line::Heading(t));
                }
            }
            Layout::Blocks => {
                if t.is_empty() {
                    continue;
                }
                if is_closing_furniture(t) {
                    out.push(Line::Credit(t));
                    continue;
                }
                let after_body = matches!(out.last(), Some(Line::Body { .. }));
                // `——某某说` after a paragraph attributes a quote; a subtitle follows a headline.
                let attribution = after_body && t.starts_with('—');
                let fixed = (line.visible <= MAX_SIGNOFF_CHARS && is_signoff(t))
                    || (line.visible <= MAX_BOX_LABEL_CHARS && is_box_label(t))
                    || is_salutation(t)
                    || is_note(t)
                    || is_bracket_label(t)
                    || attribution;
                let lead = super::byline::split_lead(t).is_some();
                let marker = starts_with_marker(t);
                // A dash subtitle under a headline may be longer than a headline line.
                let dash_subtitle = t.starts_with('—')
                    && matches!(out.last(), Some(Line::Heading(_)))
                    && visible_at_most(t, MAX_SUBTITLE_CHARS)
                    && !has_inner_sentence_end(t)
                    && !ends_sentence(t);
                let heading = dash_subtitle || (!fixed && !marker && !lead && may_be_headline(t));
                if heading {
                    out.push(Line::Heading(t));
                } else {
                    // A paragraph closed by a run-on source credit (`…。据新华社`) is complete.
                    let joinable = if fixed
                        || ends_complete(t)
                        || super::byline::split_run_on_credit(t).is_some()
                    {
                        Join::No
                    } else if marker {
                        Join::Continuation
                    } else {
                        Join::Any
                    };
                    out.push(classify_body(t, line.visible, joinable));
                }
            }
        }
    }
    if layout == Layout::Blocks {
        promote_exclamations(&mut out);
    }
    out
}

/// A short exclamation or question (`真棒！`, `向上！向上！`) that opens the page, follows a
/// headline line or closes off a credit, and is followed by a paragraph, is a headline.
fn promote_exclamations(lines: &mut [Line]) {
    for i in 0..lines.len() {
        let Line::Body {
            text,
            joinable: Join::No,
        } = &lines[i]
        else {
            continue;
        };
        let short_cry = visible_at_most(text, 16)
            && text.trim_end().ends_with(['！', '？', '!', '?'])
            && !text.starts_with(['“', '"', '「'])
            && !text.contains('。');
        let after_head = i == 0
            || matches!(
                lines[i - 1],
                Line::Heading(_) | Line::Credit(_) | Line::Caption { .. }
            );
        let before_body = matches!(
            lines.get(i + 1),
            Some(Line::Body { .. } | Line::Caption { .. })
        );
        if short_cry && after_head && before_body {
            lines[i] = Line::Heading(text);
        }
    }
}

/// Whether a blocks-layout line can be a headline-block line: short, not ending a sentence or
/// a clause, no sentence end inside, and not a credit, caption or signature.
fn may_be_headline(t: &str) -> bool {
    if !is_heading_shape(t)
        || t.ends_with(['，', '、', ','])
        || has_inner_sentence_end(t)
        || is_number_callout(t)
    {
        return false;
    }
    if t.ends_with(['：', ':']) && !visible_at_most(t, 12) {
        return false;
    }
    // A news sentence opens with a date and a comma (`2月18日，…`); a headline does not.
    if let Some(n) = super::byline::leading_date(t)
        && t[n..].starts_with(['，', ','])
    {
        return false;
    }
    !(is_credit_line(t)
        || is_furniture(t)
        || ends_with_full_date(t)
        || is_contact_line(t)
        || is_photo_credit(t)
        || is_signature(t)
        || split_photo_credit(t).is_some())
}

/// Longest unit after the figure of a big-number callout (`826门`, `5万辆`, `53%`).
const MAX_CALLOUT_UNIT_CHARS: usize = 3;

/// A big-number callout printed over a paragraph of a feature (`63%`, `800亿`, `5万辆`): a
/// figure with at most a short unit. It is body text, never a headline.
pub fn is_number_callout(s: &str) -> bool {
    let t = s.trim();
    let digits = t
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | ',' | '．'))
        .count();
    if digits == 0 || !t.starts_with(|c: char| c.is_ascii_digit()) {
        return false;
    }
    let unit: Vec<char> = t.chars().skip(digits).collect();
    unit.len() <= MAX_CALLOUT_UNIT_CHARS
        && unit
            .iter()
            .all(|c| super::shape::is_cjk(*c) || matches!(c, '%' | '％' | '‰'))
}

/// A sentence end in the middle of a line (`…工程。新绛县要…`): headlines have none.
fn has_inner_sentence_end(s: &str) -> bool {
    let t = s.trim_end();
    t.char_indices()
        .any(|(i, c)| c == '。' && i + c.len_utf8() < t.len())
}

/// Page furniture printed inside an item: graphics credits (`本版制图：…`, `制图：…`) and
/// advertisement marks (`·广告·`).
fn is_furniture(s: &str) -> bool {
    // Every kind below is short and has a colon, names an advertisement (`广告`) or a page
    // (`版`): most lines are settled without looking further.
    if !visible_at_most(s, MAX_FURNITURE_CHARS)
        || !(s.contains('：') || s.contains(':') || s.contains('广') || s.contains('版'))
    {
        return false;
    }
    let t = super::shape::squashed(s);
    let unprefixed = t.strip_prefix("本版");
    let credit = [
        "制图：",
        "制图:",
        "设计：",
        "责任编辑：",
        "美术编辑：",
        "版式设计：",
        "图片来源：",
        "剧照摄影：",
    ]
    .iter()
    .any(|p| t.starts_with(p) || unprefixed.is_some_and(|u| u.starts_with(p)));
    let colon = split_at_colon(&t);
    // A joint credit (`版式、制图：…`): the roles listed before the colon.
    let joint = colon.is_some_and(|(roles, _)| {
        roles.contains('、')
            && ["制图", "版式", "设计", "编辑"]
                .iter()
                .any(|r| roles.contains(r))
    });
    // A telephone line (`咨询电话：028—…`).
    let phone = colon.is_some_and(|(label, number)| {
        label.ends_with("电话") && number.starts_with(|c: char| c.is_ascii_digit())
    });
    credit || joint || phone || is_page_header(&t) || matches!(&*t, "·广告·" | "广告" | "（广告）")
}

/// A page header line: a page number (`第5版`) with a weekday or a date (`23日 星期五 第5版`,
/// `2019年10月10日 第05版`), whitespace removed.
fn is_page_header(t: &str) -> bool {
    let Some(at) = t.find('第') else {
        return false;
    };
    let rest = &t[at + '第'.len_utf8()..];
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    let page_no = digits > 0 && rest[digits..].starts_with('版');
    page_no && (t.contains("星期") || (t.contains('月') && t.contains('日')))
}

/// `t.split_once(['：', ':'])`, each colon found with `memchr`.
fn split_at_colon(t: &str) -> Option<(&str, &str)> {
    let at = match (t.find('：'), t.find(':')) {
        (Some(full), Some(half)) if half < full => (half, ':'.len_utf8()),
        (Some(full), _) => (full, '：'.len_utf8()),
        (None, Some(half)) => (half, ':'.len_utf8()),
        (None, None) => return None,
    };
    Some((t.get(..at.0)?, t.get(at.0 + at.1..)?))
}

/// Longest furniture line (non-whitespace characters).
const MAX_FURNITURE_CHARS: usize = 24;

/// A line ending with a full date (`2019年10月15日`): the date of a letter, notice or speech,
/// never a headline.
fn ends_with_full_date(s: &str) -> bool {
    let t = s.trim_end();
    let Some(head) = t.strip_suffix('日') else {
        return false;
    };
    let digits = |s: &str| s.chars().rev().take_while(char::is_ascii_digit).count();
    let d = digits(head);
    let Some(head) = head[..head.len() - d].strip_suffix('月') else {
        return false;
    };
    let m = digits(head);
    let Some(head) = head[..head.len() - m].strip_suffix('年') else {
        return false;
    };
    (1..=2).contains(&d) && (1..=2).contains(&m) && digits(head) == 4
}

/// A run-in label in square brackets (`【点评】…`, `【人物】…`): an element of the article it
/// stands in — headlines never open with one.
fn is_bracket_label(s: &str) -> bool {
    s.trim_start()
        .strip_prefix('【')
        .is_some_and(|rest| rest.contains('】'))
}

/// Longest data-source line or QR-code prompt read as closing furniture.
const MAX_CLOSING_FURNITURE_CHARS: usize = 30;

/// A line of its own that closes an item and is not its text: a data-source line under a
/// chart or a story (`数据来源：国家统计局`), a QR-code prompt (`扫码参与讨论`, `扫一扫，看视频`).
/// It ends the item like a credit and goes to its `trailing_credit`.
fn is_closing_furniture(s: &str) -> bool {
    let t = super::shape::trim(s);
    if !visible_at_most(t, MAX_CLOSING_FURNITURE_CHARS) || t.contains('。') {
        return false;
    }
    let source = ["数据来源：", "数据来源:", "资料来源：", "资料来源:"]
        .iter()
        .any(|p| t.starts_with(p) && t.len() > p.len());
    let prompt = ["扫码", "扫一扫", "扫描二维码", "长按二维码", "长按识别"]
        .iter()
        .any(|p| t.starts_with(p));
    source || prompt
}

/// A source note or footnote (`数据来源：…`, `注：…`): body text, never a headline.
fn is_note(s: &str) -> bool {
    let t = s.trim_start();
    [
        "注：",
        "注:",
        "数据来源：",
        "资料来源：",
        "来源：",
        "图片来源：",
        "（注：",
    ]
    .iter()
    .any(|p| t.starts_with(p))
}

/// A letter's salutation (`编辑同志：`).
fn is_salutation(s: &str) -> bool {
    let t = s.trim();
    t.ends_with(['：', ':'])
        && visible_at_most(t, 12)
        && (t.contains("同志")
            || t.starts_with("尊敬的")
            || t.starts_with("亲爱的")
            || t.contains("编辑"))
}

/// Longest signature: a place of at most 12 characters and a name of at most 4.
const MAX_SIGNATURE_CHARS: usize = 16;

/// A letter's signature: a place and a name (`山东济南市 马洪利`).
pub fn is_signature(s: &str) -> bool {
    let t = super::shape::trim(s);
    if !visible_at_most(t, MAX_SIGNATURE_CHARS) {
        return false;
    }
    let Some((place, name)) = t.rsplit_once(' ') else {
        return false;
    };
    let place = place.trim();
    visible_at_most(place, 12)
        && place.ends_with(['省', '市', '县', '区', '州', '镇', '乡', '村', '旗', '盟'])
        && place.chars().all(|c| super::shape::is_cjk(c) || c == ' ')
        && super::shape::is_name_shape(name)
}

/// Joins two halves of a paragraph cut by a column break: no space between CJK characters,
/// one space between two ASCII words.
pub fn join_break(a: &str, b: &str) -> String {
    let mut out = a.to_owned();
    join_onto(&mut out, b);
    out
}

/// [`join_break`] in place: appends `b` to `a`.
fn join_onto(a: &mut String, b: &str) {
    a.truncate(super::shape::trim_end(a).len());
    let b = super::shape::trim_start(b);
    let ascii_word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if ascii_word(a.chars().next_back()) && ascii_word(b.chars().next()) {
        a.push(' ');
    }
    a.push_str(b);
}

fn join_of(line: &Line<'_>, text: &str) -> Join {
    match line {
        Line::Body { joinable, .. } => *joinable,
        _ if ends_complete(text) => Join::No,
        _ => Join::Any,
    }
}

fn body_text<'a>(line: &Line<'a>) -> Option<&'a str> {
    match *line {
        Line::Body { text, .. } => Some(text),
        Line::Heading(text) if starts_as_continuation(text) => Some(text),
        _ => None,
    }
}

/// Shortest fragment (visible characters) checked for a column break that made it look like a
/// headline line.
const MIN_FRAGMENT_CHARS: usize = 12;

/// Whether a dictionary word runs across the end of `a` and the start of `b` (`…开展安全生` /
/// `产大检查…`): the two are one text cut mid-word. `words` answers whether a string is a word.
pub fn word_across(a: &str, b: &str, words: &dyn Fn(&str) -> bool) -> bool {
    let tail: Vec<char> = a.trim_end().chars().rev().take(3).collect();
    let head: Vec<char> = b.trim_start().chars().take(3).collect();
    let (Some(&last), Some(&first)) = (tail.first(), head.first()) else {
        return false;
    };
    if !is_cjk(last) || !is_cjk(first) {
        return false;
    }
    let mut s = String::with_capacity(16);
    for k in 1..=tail.len() {
        for m in 1..=head.len() {
            if k + m > 4 {
                break;
            }
            s.clear();
            s.extend(tail[..k].iter().rev());
            s.extend(&head[..m]);
            if s.chars().all(is_cjk) && words(&s) {
                return true;
            }
        }
    }
    false
}

/// A paragraph cut by a column break early enough that its first part is short enough to pass
/// for a headline line: a clause (a comma inside, no end) directly before body text — or
/// before a displaced headline block and then body text — that continues it mid-word. Such a
/// line goes back to the body, so the break is repaired and the headline lifted out.
fn reclaim_fragments(lines: &mut [Line<'_>], words: &dyn Fn(&str) -> bool) {
    for i in 0..lines.len() {
        let Line::Heading(x) = lines[i] else {
            continue;
        };
        let after_heading = i > 0 && matches!(lines[i - 1], Line::Heading(_) | Line::Slot);
        if after_heading
            || !x.contains(['，', '、', ','])
            || ends_complete(x)
            || visible_len(x) < MIN_FRAGMENT_CHARS
        {
            continue;
        }
        let mut j = i + 1;
        while matches!(lines.get(j), Some(Line::Heading(t)) if !starts_as_continuation(t)) {
            j += 1;
        }
        if j - i - 1 > MAX_DISPLACED_LINES {
            continue;
        }
        if let Some(y) = lines.get(j).and_then(body_text)
            && super::byline::split_lead(y).is_none()
            && word_across(x, y, words)
        {
            lines[i] = Line::Body {
                text: x,
                joinable: Join::Any,
            };
        }
    }
}

/// Whether headline line `t`, which starts with a mark that continues a text, is the rest of
/// the headline line `prev` above it, wrapped: `prev` leaves a bracket or quote open that `t`
/// closes (`香港订立《禁止蒙面规例` / `》于法有据合乎情理`), or a number is cut at its decimal
/// point (`前6天全国发送旅客5` / `.2亿人次`). Other such lines end the run.
fn wraps_from(prev: &str, t: &str) -> bool {
    let t = t.trim_start();
    let closes = t.starts_with(['）', ')', '》', '”', '】', '’', '」']) && unclosed(prev);
    let decimal = prev.trim_end().ends_with(|c: char| c.is_ascii_digit())
        && t.strip_prefix('.')
            .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()));
    closes || decimal
}

/// Turns a normalised page into layout units, repairing column breaks and lifting displaced
/// headline blocks out of the paragraphs they landed in. `words` tells whether a string is a
/// dictionary word (it confirms column breaks inside short fragments; `|_| false` skips that).
pub fn units(text: &Normalized, words: &dyn Fn(&str) -> bool) -> (Layout, Vec<Unit>) {
    let layout = layout(text);
    let mut lines = classify(text, layout);
    if layout == Layout::Blocks {
        reclaim_fragments(&mut lines, words);
    }
    let mut out: Vec<Unit> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        match &lines[i] {
            Line::Heading(_) | Line::Slot => {
                let mut run: Vec<String> = Vec::new();
                while let Some(l @ (Line::Heading(_) | Line::Slot)) = lines.get(i) {
                    if let Line::Heading(t) = l {
                        if !run.is_empty()
                            && starts_as_continuation(t)
                            && !run.last().is_some_and(|p| wraps_from(p, t))
                        {
                            break;
                        }
                        run.push((*t).to_owned());
                    } else {
                        run.push(String::new());
                    }
                    i += 1;
                }
                if run.is_empty() {
                    // A continuation line with no paragraph before it: keep it as body.
                    if let Some(Line::Heading(t)) = lines.get(i) {
                        out.push(Unit::Para(Para {
                            text: (*t).to_owned(),
                            displaced: Vec::new(),
                            displaced_at: 0,
                        }));
                        i += 1;
                    }
                    continue;
                }
                if run.iter().any(|t| !t.is_empty()) || layout == Layout::Indented {
                    out.push(Unit::Run(run));
                }
            }
            Line::Credit(t) => {
                out.push(Unit::Credit((*t).to_owned()));
                i += 1;
            }
            Line::Caption { text, credit } => {
                out.push(Unit::Caption {
                    text: text.clone(),
                    credit: credit.clone(),
                });
                i += 1;
            }
            Line::Body { text, joinable } => {
                let mut para = Para {
                    text: (*text).to_owned(),
                    displaced: Vec::new(),
                    displaced_at: 0,
                };
                let mut joinable = *joinable;
                i += 1;
                while joinable != Join::No {
                    // A column break: the next body line continues this one.
                    if let Some(next) = lines.get(i).and_then(body_text)
                        && (joinable == Join::Any || starts_as_continuation(next))
                    {
                        join_onto(&mut para.text, next);
                        joinable = join_of(&lines[i], next);
                        i += 1;
                        continue;
                    }
                    if joinable != Join::Any {
                        break;
                    }
                    // A displaced headline block: headline lines, then the rest of the sentence.
                    let mut j = i;
                    while matches!(lines.get(j), Some(Line::Heading(t)) if !starts_as_continuation(t))
                    {
                        j += 1;
                    }
                    let n = j - i;
                    if (1..=MAX_DISPLACED_LINES).contains(&n)
                        && let Some(next) = lines.get(j).and_then(body_text)
                        && super::byline::split_lead(next).is_none()
                    {
                        if para.displaced.is_empty() {
                            para.displaced_at = para.text.len();
                        }
                        for l in &lines[i..j] {
                            if let Line::Heading(t) = l {
                                para.displaced.push((*t).to_owned());
                            }
                        }
                        join_onto(&mut para.text, next);
                        joinable = join_of(&lines[j], next);
                        i = j + 1;
                        continue;
                    }
                    break;
                }
                out.push(Unit::Para(para));
            }
        }
    }
    (layout, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_headline_wrapped_inside_brackets_or_a_number_stays_one_run() {
        assert!(wraps_from("香港订立《禁止蒙面规例", "》于法有据合乎情理"));
        assert!(wraps_from("前6天全国发送旅客5", ".2亿人次"));
        assert!(!wraps_from("香港订立禁止蒙面规例", "》于法有据合乎情理"));
        assert!(!wraps_from("发送旅客", ".2亿人次"));
        assert!(!wraps_from("在这里", "，我们看到"));
    }
    use crate::pipeline::normalize::normalize;

    fn paras(units: &[Unit]) -> Vec<&Para> {
        units
            .iter()
            .filter_map(|u| match u {
                Unit::Para(p) => Some(p),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn big_number_callouts_and_joint_credits_are_not_headlines() {
        assert!(is_number_callout("63%"));
        assert!(is_number_callout("5万辆"));
        assert!(is_number_callout("826门"));
        assert!(!is_number_callout("2019年春运大幕开启"));
        assert!(!is_number_callout("新动能"));
        assert!(!may_be_headline("800亿"));
        assert!(is_furniture("版式、制图：某某"));
        assert!(is_furniture("咨询电话：010—12345678"));
        assert!(!is_furniture("电话里的乡愁"));
        assert!(is_furniture("23日 星期五 第5版"));
        assert!(is_furniture("2019年10月10日 第05版"));
        assert!(!is_furniture("第5版"));
        assert!(!is_furniture("再版发行"));
        assert!(is_bracket_label("【点评】小事见担当"));
        assert!(!is_bracket_label("小事见担当【点评】"));
        let page = "标题\n\n第一段写完了。\n\n【点评】小事见担当\n\n第二段也写完了。\n";
        let (_, units) = units(&normalize(page), &|_| false);
        assert_eq!(
            units.iter().filter(|u| matches!(u, Unit::Run(_))).count(),
            1,
            "{units:#?}"
        );
        for t in ["a：b:c", "a:b：c", "ab", "：", "x:"] {
            assert_eq!(split_at_colon(t), t.split_once(['：', ':']), "{t}");
        }
    }

    #[test]
    fn a_paragraph_cut_mid_word_is_joined_without_a_space() {
        let long = "又通过落实一批“人防、技防、工程防、管理防”措施，".repeat(3);
        let page = format!("标题\n\n{long}治本之\n\n策，从根本上补齐短板弱项。\n");
        let (_, units) = units(&normalize(&page), &|_| false);
        let ps = paras(&units);
        assert_eq!(ps.len(), 1);
        assert!(ps[0].text.ends_with("治本之策，从根本上补齐短板弱项。"));
    }

    #[test]
    fn a_headline_inside_a_paragraph_is_lifted_out() {
        let long = "在几处积水较深的路段，养护人员分组开展排水清淤作业，".repeat(2);
        let page = format!("{long}在最\n\n排水保通行\n\n李青山\n\n短时间内恢复道路通行。\n");
        let (_, units) = units(&normalize(&page), &|_| false);
        let ps = paras(&units);
        assert_eq!(ps.len(), 1);
        assert!(ps[0].text.ends_with("在最短时间内恢复道路通行。"));
        assert_eq!(ps[0].displaced, vec!["排水保通行", "李青山"]);
    }

    #[test]
    fn a_short_fragment_cut_mid_word_before_a_displaced_headline_is_body() {
        let long = "在几处积水较深的路段，养护人员分组开展排水清淤作业。".repeat(3);
        let page = format!(
            "{long}\n\n各镇街在全市范围内，组织开展安全生\n\n排水保通行\n\n产大检查，消除隐患。\n"
        );
        let words = |w: &str| w == "生产";
        let (_, with) = units(&normalize(&page), &words);
        let ps = paras(&with);
        assert_eq!(ps.len(), 2, "{with:#?}");
        assert!(ps[1].text.ends_with("组织开展安全生产大检查，消除隐患。"));
        assert_eq!(ps[1].displaced, vec!["排水保通行"]);
        // Without a word across the cut, the fragment stays a headline line.
        let (_, without) = units(&normalize(&page), &|_| false);
        assert!(
            matches!(&without[1], Unit::Run(r) if r.len() == 2),
            "{without:#?}"
        );
    }

    #[test]
    fn indented_pages_take_unindented_lines_as_headlines() {
        let page = "\n欧洲电动汽车销量增长\n\n\u{3000}\u{3000}第一段。\n\u{3000}\u{3000}小标题\n\u{3000}\u{3000}第二段。\n";
        let (layout, units) = units(&normalize(page), &|_| false);
        assert_eq!(layout, Layout::Indented);
        assert!(matches!(&units[0], Unit::Run(r) if r.len() == 3));
        assert_eq!(paras(&units).len(), 3);
    }

    #[test]
    fn data_source_lines_and_qr_prompts_close_the_item_as_credits() {
        let page = "第一段文字，说明情况。\n\n数据来源：某某部门\n\n扫码参与讨论\n\n数据来源\n";
        let (_, u) = units(&normalize(page), &|_| false);
        assert_eq!(
            u[1..3],
            [
                Unit::Credit("数据来源：某某部门".to_owned()),
                Unit::Credit("扫码参与讨论".to_owned())
            ],
            "{u:#?}"
        );
        // A bare label is not a source line.
        assert!(!matches!(&u[3], Unit::Credit(_)), "{u:#?}");
    }
}
