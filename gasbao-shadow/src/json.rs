//! JSON helpers with the shadow's rules: numbers compare by value, objects
//! that end up empty are removed, arrays are values.

use std::io;

use serde_json::{Map, Number, Value};

/// Equality as the delta sees it: `2` and `2.0` are the same number.
pub(crate) fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(a), Value::Number(b)) => numbers_equal(a, b),
        (Value::Array(a), Value::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(a, b)| values_equal(a, b)),
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(key, a)| b.get(key).is_some_and(|b| values_equal(a, b)))
        }
        (a, b) => a == b,
    }
}

fn numbers_equal(a: &Number, b: &Number) -> bool {
    match (integer(a), integer(b)) {
        (Some(a), Some(b)) => a == b,
        (Some(i), None) => float_equals_integer(b.as_f64(), i),
        (None, Some(i)) => float_equals_integer(a.as_f64(), i),
        (None, None) => a.as_f64() == b.as_f64(),
    }
}

fn integer(n: &Number) -> Option<i128> {
    n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from))
}

fn float_equals_integer(float: Option<f64>, integer: i128) -> bool {
    // Exact: the float must be whole and convert back to the same integer.
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
    float.is_some_and(|f| f.fract() == 0.0 && f == integer as f64 && f as i128 == integer)
}

/// Nesting levels of a section's content: `{"a": 1}` is 1, `{"a": {"b": 1}}`
/// is 2, and an array counts as a level like an object.
pub(crate) fn depth(value: &Value) -> usize {
    match value {
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Bytes of `value` in compact JSON, as serde_json writes it.
pub(crate) fn encoded_len(value: &Value) -> usize {
    match value {
        Value::Null => 4,
        Value::Bool(true) => 4,
        Value::Bool(false) => 5,
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => digits(u),
            (None, Some(i)) => 1 + digits(i.unsigned_abs()),
            // Floats are formatted by ryu: count what it writes.
            (None, None) => written_len(n),
        },
        Value::String(s) => string_len(s),
        Value::Array(items) => 2 + items.iter().map(encoded_len).sum::<usize>() + items.len().saturating_sub(1),
        Value::Object(map) => {
            2 + map.iter().map(|(k, v)| member_len(k, v)).sum::<usize>() + map.len().saturating_sub(1)
        }
    }
}

/// Bytes one `"key":value` member adds to an object, without its comma.
pub(crate) fn member_len(key: &str, value: &Value) -> usize {
    string_len(key) + 1 + encoded_len(value)
}

fn digits(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

/// A string's length quoted and escaped as serde_json escapes it.
fn string_len(s: &str) -> usize {
    2 + s
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..0x20 => 6,
            _ => 1,
        })
        .sum::<usize>()
}

fn written_len(value: &impl serde::Serialize) -> usize {
    let mut counter = ByteCounter(0);
    // Writing to a counter cannot fail, and a number always serializes.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

struct ByteCounter(usize);

impl io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `existing` after merging `update` into it, or `None` if the field is gone.
///
/// `null` deletes; objects merge key by key; anything else (arrays too)
/// replaces. An object that ends up empty is removed; an update object with
/// no value in it leaves a field that is not an object unchanged.
pub(crate) fn merged(existing: Option<Value>, update: Value) -> Option<Value> {
    match update {
        Value::Null => None,
        Value::Object(update) => match existing {
            Some(Value::Object(mut map)) => {
                merge_into(&mut map, update);
                (!map.is_empty()).then_some(Value::Object(map))
            }
            other => {
                let mut map = Map::new();
                merge_into(&mut map, update);
                if map.is_empty() {
                    other
                } else {
                    Some(Value::Object(map))
                }
            }
        },
        value => Some(value),
    }
}

/// Merges `update` into `map` member by member.
pub(crate) fn merge_into(map: &mut Map<String, Value>, update: Map<String, Value>) {
    for (key, value) in update {
        let existing = map.remove(&key);
        if let Some(value) = merged(existing, value) {
            map.insert(key, value);
        }
    }
}

/// The part of `desired` that `reported` does not match, or `None` if all
/// of it does.
pub(crate) fn delta(desired: &Value, reported: Option<&Value>) -> Option<Value> {
    match (desired, reported) {
        (Value::Object(desired), Some(Value::Object(reported))) => {
            let delta: Map<String, Value> = desired
                .iter()
                .filter_map(|(key, value)| Some((key.clone(), self::delta(value, reported.get(key))?)))
                .collect();
            (!delta.is_empty()).then_some(Value::Object(delta))
        }
        (desired, Some(reported)) if values_equal(desired, reported) => None,
        (desired, _) => Some(desired.clone()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn numbers_compare_by_value() {
        let cases = [
            (json!(2), json!(2.0), true),
            (json!(2), json!(2.5), false),
            (json!(-1), json!(-1.0), true),
            (json!(u64::MAX), json!(18446744073709551615.0), false),
            (json!(9007199254740993_u64), json!(9007199254740992.0), false),
            (json!(0.1), json!(0.1), true),
            (json!([1, 2]), json!([1.0, 2.0]), true),
            (json!({"a": 1}), json!({"a": 1.0}), true),
            (json!("2"), json!(2), false),
        ];
        for (a, b, equal) in cases {
            assert_eq!(values_equal(&a, &b), equal, "{a} vs {b}");
        }
    }

    #[test]
    fn depth_counts_objects_and_arrays() {
        let cases = [
            (json!(1), 0),
            (json!({}), 1),
            (json!({"a": 1}), 1),
            (json!({"a": {"b": 1}}), 2),
            (json!({"a": [1, 2]}), 2),
            (json!({"a": [{"b": 1}]}), 3),
        ];
        for (value, expected) in cases {
            assert_eq!(depth(&value), expected, "{value}");
        }
    }

    #[test]
    fn encoded_len_is_what_serde_json_writes() {
        let values = [
            json!({"a": [1, "x\"y"], "b": null, "c": {"d": true, "e": false}}),
            json!("é\u{1}\u{7f}\\/\n\r\t\u{8}\u{c}"),
            json!(1.5),
            json!(-0.0),
            json!(1e300),
            json!(0),
            json!(9),
            json!(10),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(-1),
            json!([]),
            json!({}),
        ];
        for value in values {
            assert_eq!(encoded_len(&value), value.to_string().len(), "{value}");
        }
    }
}
