//! Reads a typed output straight from the engine's value.
//!
//! regorus serializes each number by formatting it as decimal text and
//! parsing that back, so the detour through `serde_json::Value` cost about
//! 0.6 us per subsidy decision (measured); reading the value in place costs
//! a fraction of that. It follows `serde_json`'s data model, so an output
//! type reads as it would from the same JSON, except that a float keeps
//! every digit where regorus's decimal text may round the last one.

use regorus::Value;
use serde::de::{self, DeserializeSeed, Error as _, IntoDeserializer, Visitor};

/// Same error type as the JSON detour, so that
/// [`EvaluationError::Output`](crate::EvaluationError::Output) does not change.
type Error = serde_json::Error;

/// Deserializes `O` from the value a policy produced.
pub(crate) fn from_engine_value<O: de::DeserializeOwned>(value: &Value) -> Result<O, Error> {
    O::deserialize(ValueDeserializer(value))
}

/// A borrowed engine value as a serde `Deserializer`.
#[derive(Clone, Copy)]
struct ValueDeserializer<'a>(&'a Value);

impl<'de> de::Deserializer<'de> for ValueDeserializer<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            // regorus keeps its number type private; read it as JSON would:
            // integers as integers, the rest as floats.
            Value::Number(n) => {
                if let Some(unsigned) = n.as_u64() {
                    visitor.visit_u64(unsigned)
                } else if let Some(signed) = n.as_i64() {
                    visitor.visit_i64(signed)
                } else if let Some(float) = n.as_f64() {
                    visitor.visit_f64(float)
                } else {
                    Err(Error::custom("number has no JSON form"))
                }
            }
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Array(items) => visitor.visit_seq(Items(items.iter())),
            // Rego sets reach JSON as arrays, in the set's order.
            Value::Set(items) => visitor.visit_seq(Items(items.iter())),
            Value::Object(fields) => visitor.visit_map(Fields {
                fields: fields.iter_sorted(),
                value: None,
            }),
            Value::Undefined => Err(Error::custom("undefined value in the policy's output")),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            // `"Variant"`: a unit variant.
            Value::String(variant) => visitor.visit_enum((&**variant).into_deserializer()),
            // `{"Variant": content}`: externally tagged, as serde writes it.
            Value::Object(fields) if fields.len() == 1 => {
                let Some((Value::String(variant), content)) = fields.iter_sorted().next() else {
                    return Err(Error::custom("an enum's variant name must be a string"));
                };
                visitor.visit_enum(Variant { variant, content })
            }
            _ => Err(Error::custom(
                "expected an enum: a variant name or an object with one entry",
            )),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

/// The elements of an array or set.
struct Items<I>(I);

impl<'de, I: Iterator<Item = &'de Value>> de::SeqAccess<'de> for Items<I> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Error> {
        self.0
            .next()
            .map(|item| seed.deserialize(ValueDeserializer(item)))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint().1
    }
}

/// The entries of an object, in key order as JSON would list them.
struct Fields<'de, I> {
    fields: I,
    value: Option<&'de Value>,
}

impl<'de, I: Iterator<Item = (&'de Value, &'de Value)>> de::MapAccess<'de> for Fields<'de, I> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        let Some((key, value)) = self.fields.next() else {
            return Ok(None);
        };
        self.value = Some(value);
        seed.deserialize(ValueDeserializer(key)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let value = self
            .value
            .take()
            .ok_or_else(|| Error::custom("object value read before its key"))?;
        seed.deserialize(ValueDeserializer(value))
    }
}

/// An externally tagged enum variant and what it holds.
struct Variant<'de> {
    variant: &'de str,
    content: &'de Value,
}

impl<'de> de::EnumAccess<'de> for Variant<'de> {
    type Error = Error;
    type Variant = ValueDeserializer<'de>;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Self::Variant), Error> {
        let variant = seed.deserialize(self.variant.into_deserializer())?;
        Ok((variant, ValueDeserializer(self.content)))
    }
}

impl<'de> de::VariantAccess<'de> for ValueDeserializer<'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        match self.0 {
            Value::Null => Ok(()),
            _ => Err(Error::custom("a unit variant holds no value")),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_seq(self, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(self, _fields: &'static [&'static str], visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_map(self, visitor)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use serde::Deserialize;

    use super::from_engine_value;
    use crate::SubsidyDecision;
    use crate::test_documents::json_documents;

    /// What the output went through before: regorus's JSON form, then serde_json.
    fn through_json<O: serde::de::DeserializeOwned>(value: &regorus::Value) -> Result<O, serde_json::Error> {
        serde_json::from_value(serde_json::to_value(value)?)
    }

    /// JSON documents whose floats all have a fraction: Rego does not tell
    /// `3.0` from `3`, and reads both back as the integer.
    fn documents() -> impl Strategy<Value = serde_json::Value> {
        json_documents((-1e12f64..1e12).prop_filter("has a fraction", |f| f.fract() != 0.0))
    }

    proptest! {
        /// A document a policy produces reads back as exactly that document.
        /// (The JSON detour does not always: regorus's decimal text for a
        /// float can differ from it in the last digit.)
        #[test]
        fn documents_read_back_exactly(document in documents()) {
            let value = regorus::Value::from(document.clone());
            let read: serde_json::Value = from_engine_value(&value).unwrap();
            prop_assert_eq!(read, document);
        }
    }

    #[derive(Debug, PartialEq, Deserialize)]
    enum Tariff {
        Standard,
        Tiered(u32),
        Pair(u8, i16),
        Capped { limit_m3: f64 },
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Everything {
        name: String,
        maybe: Option<u64>,
        missing: Option<u64>,
        negative: i32,
        whole_float: f64,
        tariffs: Vec<Tariff>,
        by_region: BTreeMap<String, bool>,
        pair: (bool, String),
    }

    #[test]
    fn typed_outputs_read_as_serde_json_reads_them() {
        let value = regorus::Value::from_json_str(
            r#"{"name": "Pudong", "maybe": 7, "missing": null, "negative": -3, "whole_float": 12,
                "tariffs": ["Standard", {"Tiered": 2}, {"Pair": [1, -1]}, {"Capped": {"limit_m3": 30.5}}],
                "by_region": {"310115": true, "320102": false}, "pair": [true, "x"], "extra": [1, 2]}"#,
        )
        .unwrap();
        let expected = Everything {
            name: "Pudong".into(),
            maybe: Some(7),
            missing: None,
            negative: -3,
            whole_float: 12.0,
            tariffs: vec![
                Tariff::Standard,
                Tariff::Tiered(2),
                Tariff::Pair(1, -1),
                Tariff::Capped { limit_m3: 30.5 },
            ],
            by_region: BTreeMap::from([("310115".into(), true), ("320102".into(), false)]),
            pair: (true, "x".into()),
        };
        assert_eq!(from_engine_value::<Everything>(&value).unwrap(), expected);
        assert_eq!(through_json::<Everything>(&value).unwrap(), expected);

        let decision = regorus::Value::from_json_str(
            r#"{"eligible": false, "reasons": ["FRAUD_FLAG", "SOMETHING_NEW"], "tier_one_pricing": true}"#,
        )
        .unwrap();
        assert_eq!(
            from_engine_value::<SubsidyDecision>(&decision).unwrap(),
            through_json::<SubsidyDecision>(&decision).unwrap()
        );
    }

    #[test]
    fn mismatched_outputs_are_errors_not_guesses() {
        let cases = [
            (r#"{"eligible": "yes", "reasons": []}"#, "invalid type"),
            (r#"{"reasons": []}"#, "missing field `eligible`"),
            (
                r#"{"eligible": true, "reasons": [], "amount_fen": -5}"#,
                "invalid value",
            ),
            (r#""eligible""#, "invalid type"),
        ];
        for (json, message) in cases {
            let value = regorus::Value::from_json_str(json).unwrap();
            let error = from_engine_value::<SubsidyDecision>(&value).unwrap_err().to_string();
            assert!(error.contains(message), "{json}: {error:?} should say {message:?}");
        }
        let error = from_engine_value::<u64>(&regorus::Value::Undefined)
            .unwrap_err()
            .to_string();
        assert!(error.contains("undefined"), "{error}");
    }
}
