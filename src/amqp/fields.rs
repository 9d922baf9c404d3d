//! Field tables as they go over the wire: the encoded size of a header (to keep what we publish
//! inside the broker's `frame_max`), the nesting depth of a table, and the strings the patched
//! parser could only read lossily (`patches/amq-protocol-types`: invalid UTF-8 in a short string
//! becomes U+FFFD). Iterative, so that no table a producer sends can exhaust the stack here.

use lapin::types::{AMQPValue, FieldTable};

/// The key under which the patched parser keeps a table it could not parse.
pub use lapin::types::parsing::UNPARSED_TABLE_KEY;

/// What a lossily parsed short string contains in place of bytes that were not UTF-8.
pub const REPLACEMENT: char = char::REPLACEMENT_CHARACTER;

/// Encoded size in bytes of `value` as a field value (type octet included).
pub fn value_len(value: &AMQPValue) -> usize {
    let mut total = 0usize;
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        total = total.saturating_add(1 + scalar_len(v));
        match v {
            AMQPValue::FieldArray(items) => stack.extend(items.as_slice()),
            AMQPValue::FieldTable(table) => {
                for (key, item) in table.inner() {
                    total = total.saturating_add(1 + key.as_str().len());
                    stack.push(item);
                }
            }
            _ => {}
        }
    }
    total
}

/// Encoded size in bytes of one table entry (key and value).
pub fn entry_len(key: &str, value: &AMQPValue) -> usize {
    1 + key.len() + value_len(value)
}

/// Encoded size in bytes of a whole table (its 4-byte length included).
pub fn table_len(table: &FieldTable) -> usize {
    table.inner().iter().fold(4usize, |n, (k, v)| {
        n.saturating_add(entry_len(k.as_str(), v))
    })
}

/// Bytes of a value's own encoding, without the type octet and without nested values.
fn scalar_len(value: &AMQPValue) -> usize {
    match value {
        AMQPValue::Boolean(_) | AMQPValue::ShortShortInt(_) | AMQPValue::ShortShortUInt(_) => 1,
        AMQPValue::ShortInt(_) | AMQPValue::ShortUInt(_) => 2,
        AMQPValue::LongInt(_) | AMQPValue::LongUInt(_) | AMQPValue::Float(_) => 4,
        AMQPValue::LongLongInt(_) | AMQPValue::Double(_) | AMQPValue::Timestamp(_) => 8,
        AMQPValue::DecimalValue(_) => 5,
        AMQPValue::ShortString(s) => 1 + s.as_str().len(),
        AMQPValue::LongString(s) => 4 + s.len(),
        AMQPValue::ByteArray(b) => 4 + b.len(),
        AMQPValue::FieldArray(_) | AMQPValue::FieldTable(_) => 4,
        AMQPValue::Void => 0,
    }
}

/// How many tables and arrays `value` nests (0 for a scalar, 1 for a flat table).
pub fn depth(value: &AMQPValue) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 0usize)];
    while let Some((v, above)) = stack.pop() {
        match v {
            AMQPValue::FieldArray(items) => {
                deepest = deepest.max(above + 1);
                stack.extend(items.as_slice().iter().map(|i| (i, above + 1)));
            }
            AMQPValue::FieldTable(table) => {
                deepest = deepest.max(above + 1);
                stack.extend(table.inner().values().map(|i| (i, above + 1)));
            }
            _ => {}
        }
    }
    deepest
}

/// The first key, at any depth of `value`, that was not valid UTF-8 on the wire (it holds
/// [`REPLACEMENT`]), as the path of keys leading to it.
pub fn lossy_key(value: &AMQPValue) -> Option<String> {
    find_key(value, |key| key.contains(REPLACEMENT))
}

/// The path of the first table, at any depth of `value`, whose content the parser could not
/// read (it kept it as bytes under `UNPARSED_TABLE_KEY`).
pub fn unparsed_table(value: &AMQPValue) -> Option<String> {
    find_key(value, |key| key == UNPARSED_TABLE_KEY)
}

/// The path (keys joined by `.`) of the first key at any depth of `value` that `matches`.
fn find_key(value: &AMQPValue, matches: impl Fn(&str) -> bool) -> Option<String> {
    let mut stack = vec![(value, String::new())];
    while let Some((v, path)) = stack.pop() {
        match v {
            AMQPValue::FieldArray(items) => {
                stack.extend(items.as_slice().iter().map(|i| (i, path.clone())));
            }
            AMQPValue::FieldTable(table) => {
                for (key, item) in table.inner() {
                    let key = key.as_str();
                    let here = if path.is_empty() {
                        key.to_owned()
                    } else {
                        format!("{path}.{key}")
                    };
                    if matches(key) {
                        return Some(here);
                    }
                    stack.push((item, here));
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use lapin::types::{FieldArray, LongString, ShortString};

    /// A table nesting `levels` tables under key `n`, with a string at the bottom.
    pub(crate) fn nested(levels: usize) -> FieldTable {
        let mut table = FieldTable::default();
        table.insert("leaf".into(), AMQPValue::LongString("x".into()));
        for _ in 1..levels {
            let mut outer = FieldTable::default();
            outer.insert("n".into(), AMQPValue::FieldTable(table));
            table = outer;
        }
        table
    }

    #[test]
    fn sizes_match_the_encoder() {
        let mut table = FieldTable::default();
        table.insert("s".into(), AMQPValue::LongString(LongString::from("版面")));
        table.insert("k".into(), AMQPValue::ShortString(ShortString::from("ab")));
        table.insert("n".into(), AMQPValue::LongLongInt(5));
        table.insert("t".into(), AMQPValue::Boolean(true));
        let mut array = FieldArray::default();
        array.push(AMQPValue::LongUInt(1));
        array.push(AMQPValue::FieldTable(nested(3)));
        table.insert("a".into(), AMQPValue::FieldArray(array));
        let encoded = cookie_factory::gen_simple(
            lapin::types::generation::gen_field_table(&table),
            Vec::new(),
        )
        .expect("encodes");
        assert_eq!(table_len(&table), encoded.len());
        for (key, value) in table.inner() {
            let encoded =
                cookie_factory::gen_simple(lapin::types::generation::gen_value(value), Vec::new())
                    .expect("encodes");
            assert_eq!(value_len(value), encoded.len(), "{key}");
        }
    }

    #[test]
    fn depth_counts_tables_and_arrays_without_recursion() {
        assert_eq!(depth(&AMQPValue::LongInt(1)), 0);
        assert_eq!(depth(&AMQPValue::FieldTable(nested(1))), 1);
        assert_eq!(depth(&AMQPValue::FieldTable(nested(40))), 40);
        assert_eq!(depth(&AMQPValue::FieldTable(nested(1000))), 1000);
    }

    #[test]
    fn lossy_keys_are_found_at_any_depth_with_their_path() {
        let mut table = nested(3);
        assert_eq!(lossy_key(&AMQPValue::FieldTable(table.clone())), None);
        let mut inner = FieldTable::default();
        inner.insert("ok\u{fffd}".into(), AMQPValue::Boolean(true));
        table.insert("outer".into(), AMQPValue::FieldTable(inner));
        assert_eq!(
            lossy_key(&AMQPValue::FieldTable(table)).as_deref(),
            Some("outer.ok\u{fffd}")
        );
    }
}
