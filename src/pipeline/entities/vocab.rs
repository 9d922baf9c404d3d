//! Domain vocabulary of the entity features: family names, and the characters and words that
//! end administrative units and organisations. Vocabulary only — no names from any data.

pub use crate::pipeline::nlp::is_surname;

/// Characters that end a place name: administrative units, settlements, land and water.
pub fn is_place_suffix_char(c: char) -> bool {
    matches!(
        c,
        '省' | '市'
            | '县'
            | '区'
            | '镇'
            | '乡'
            | '村'
            | '州'
            | '旗'
            | '盟'
            | '岛'
            | '山'
            | '河'
            | '湖'
            | '江'
            | '海'
            | '街'
            | '路'
            | '港'
            | '湾'
    )
}

/// Characters that end an organisation's name: bodies of government, agencies, units.
pub fn is_org_suffix_char(c: char) -> bool {
    matches!(
        c,
        '局' | '委'
            | '厅'
            | '院'
            | '部'
            | '署'
            | '办'
            | '会'
            | '社'
            | '所'
            | '站'
            | '队'
            | '校'
            | '处'
            | '司'
            | '馆'
            | '团'
            | '厂'
            | '台'
            | '党'
    )
}

/// Words that end an organisation's name (companies, schools, hospitals, courts …).
const ORG_SUFFIX_WORDS: [&str; 36] = [
    "公司",
    "集团",
    "大学",
    "学院",
    "中学",
    "小学",
    "医院",
    "银行",
    "政府",
    "法院",
    "检察院",
    "委员会",
    "协会",
    "学会",
    "联合会",
    "研究所",
    "研究院",
    "研究中心",
    "中心",
    "总局",
    "党委",
    "公安局",
    "派出所",
    "电视台",
    "报社",
    "出版社",
    "基金会",
    "俱乐部",
    "代表团",
    "部队",
    "支队",
    "大队",
    "组织",
    "联盟",
    "议会",
    "工厂",
];

/// The words that end an organisation's name.
pub fn org_suffix_words() -> &'static [&'static str] {
    &ORG_SUFFIX_WORDS
}

/// Whether `word` is one of the words that end an organisation's name.
pub fn is_org_suffix_word(word: &str) -> bool {
    // Most words are ruled out by their length (two to four CJK characters) and last
    // character before any comparison.
    (6..=12).contains(&word.len())
        && word
            .chars()
            .next_back()
            .is_some_and(|c| ORG_SUFFIX_ENDS.contains(&c))
        && ORG_SUFFIX_WORDS.contains(&word)
}

/// The last characters of [`ORG_SUFFIX_WORDS`].
const ORG_SUFFIX_ENDS: [char; 18] = [
    '司', '团', '学', '院', '行', '府', '会', '所', '心', '局', '委', '社', '部', '队', '织', '盟',
    '台', '厂',
];

/// Characters no person's name ends in: administrative units, bodies, buildings.
pub fn ends_non_person(c: char) -> bool {
    matches!(
        c,
        '省' | '市'
            | '县'
            | '区'
            | '镇'
            | '乡'
            | '村'
            | '局'
            | '委'
            | '厅'
            | '院'
            | '部'
            | '署'
            | '办'
            | '社'
            | '所'
            | '站'
            | '校'
            | '司'
            | '馆'
            | '厂'
            | '庙'
            | '寺'
            | '宫'
            | '殿'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_organisation_word_is_recognised_and_others_are_not() {
        for w in ORG_SUFFIX_WORDS {
            assert!(is_org_suffix_word(w), "{w}");
        }
        for w in ["公", "司", "有限", "会议", "大学生", ""] {
            assert!(!is_org_suffix_word(w), "{w}");
        }
    }
}
