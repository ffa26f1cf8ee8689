//! Serializes a typed input straight into the engine's value.
//!
//! Going through `serde_json::Value` first costs a second tree of
//! allocations, a sizeable share of a decision on the reference bundle.
//! This serializer builds the `regorus::Value` in one pass and
//! produces exactly the value the detour would (a property test holds the
//! two to that), except that a non-finite float is refused as bad input where
//! `serde_json` would quietly turn it into `null`. Structs are filled in
//! from per-thread templates of their shape ([`struct_template`]).

use std::collections::BTreeMap;

use regorus::Value;
use serde::ser::{self, Error as _, Serialize};

use crate::struct_template;

/// The error type: `serde_json`'s, so that a bad input is reported as
/// [`EvaluationError::Input`](crate::EvaluationError::Input) whichever way it
/// came in.
type Error = serde_json::Error;

/// Converts `input` into the engine's value.
pub(crate) fn to_engine_value<T: Serialize + ?Sized>(input: &T) -> Result<Value, Error> {
    input.serialize(ValueSerializer)
}

/// Builds a [`Value`] from any `Serialize` type, following `serde_json`'s
/// data model: structs and maps are objects, sequences and tuples arrays,
/// enums externally tagged, `None` and `()` null.
struct ValueSerializer;

fn object_of(key: &'static str, value: Value) -> Value {
    Value::from(BTreeMap::from([(Value::from(key), value)]))
}

/// Integers the way `serde_json` stores them: non-negative ones as unsigned,
/// so that `5i64` and `5u64` become the same number.
fn signed(v: i64) -> Value {
    match u64::try_from(v) {
        Ok(unsigned) => Value::from(unsigned),
        Err(_) => Value::from(v),
    }
}

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = Error;
    type SerializeSeq = ArrayBuilder;
    type SerializeTuple = ArrayBuilder;
    type SerializeTupleStruct = ArrayBuilder;
    type SerializeTupleVariant = TaggedArrayBuilder;
    type SerializeMap = ObjectBuilder;
    type SerializeStruct = StructBuilder;
    type SerializeStructVariant = TaggedObjectBuilder;

    fn serialize_bool(self, v: bool) -> Result<Value, Error> {
        Ok(Value::from(v))
    }

    fn serialize_i8(self, v: i8) -> Result<Value, Error> {
        Ok(signed(v.into()))
    }

    fn serialize_i16(self, v: i16) -> Result<Value, Error> {
        Ok(signed(v.into()))
    }

    fn serialize_i32(self, v: i32) -> Result<Value, Error> {
        Ok(signed(v.into()))
    }

    fn serialize_i64(self, v: i64) -> Result<Value, Error> {
        Ok(signed(v))
    }

    fn serialize_i128(self, v: i128) -> Result<Value, Error> {
        if let Ok(unsigned) = u64::try_from(v) {
            Ok(Value::from(unsigned))
        } else if let Ok(v) = i64::try_from(v) {
            Ok(Value::from(v))
        } else {
            Err(Error::custom(format!("number {v} is out of range")))
        }
    }

    fn serialize_u8(self, v: u8) -> Result<Value, Error> {
        Ok(Value::from(u64::from(v)))
    }

    fn serialize_u16(self, v: u16) -> Result<Value, Error> {
        Ok(Value::from(u64::from(v)))
    }

    fn serialize_u32(self, v: u32) -> Result<Value, Error> {
        Ok(Value::from(u64::from(v)))
    }

    fn serialize_u64(self, v: u64) -> Result<Value, Error> {
        Ok(Value::from(v))
    }

    fn serialize_u128(self, v: u128) -> Result<Value, Error> {
        u64::try_from(v)
            .map(Value::from)
            .map_err(|_| Error::custom(format!("number {v} is out of range")))
    }

    fn serialize_f32(self, v: f32) -> Result<Value, Error> {
        self.serialize_f64(f64::from(v))
    }

    fn serialize_f64(self, v: f64) -> Result<Value, Error> {
        // Rego has no NaN or infinity, and a silent `null` would let a
        // broken reading decide as if it were missing.
        if v.is_finite() {
            Ok(Value::from(v))
        } else {
            Err(Error::custom(format!("non-finite number {v}")))
        }
    }

    fn serialize_char(self, v: char) -> Result<Value, Error> {
        Ok(Value::from(v.encode_utf8(&mut [0; 4]) as &str))
    }

    fn serialize_str(self, v: &str) -> Result<Value, Error> {
        Ok(Value::from(v))
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<Value, Error> {
        Ok(Value::from(
            v.iter().map(|&b| Value::from(u64::from(b))).collect::<Vec<_>>(),
        ))
    }

    fn serialize_none(self) -> Result<Value, Error> {
        Ok(Value::Null)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<Value, Error> {
        Ok(Value::Null)
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, Error> {
        Ok(Value::Null)
    }

    fn serialize_unit_variant(self, _name: &'static str, _index: u32, variant: &'static str) -> Result<Value, Error> {
        Ok(Value::from(variant))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, value: &T) -> Result<Value, Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, Error> {
        Ok(object_of(variant, value.serialize(self)?))
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<ArrayBuilder, Error> {
        Ok(ArrayBuilder(Vec::with_capacity(len.unwrap_or(0))))
    }

    fn serialize_tuple(self, len: usize) -> Result<ArrayBuilder, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<ArrayBuilder, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<TaggedArrayBuilder, Error> {
        Ok(TaggedArrayBuilder {
            variant,
            items: ArrayBuilder(Vec::with_capacity(len)),
        })
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<ObjectBuilder, Error> {
        Ok(ObjectBuilder::default())
    }

    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<StructBuilder, Error> {
        Ok(StructBuilder::with_capacity(len))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<TaggedObjectBuilder, Error> {
        Ok(TaggedObjectBuilder {
            variant,
            fields: StructBuilder::with_capacity(len),
        })
    }
}

/// The elements of an array being built.
struct ArrayBuilder(Vec<Value>);

impl ArrayBuilder {
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.0.push(value.serialize(ValueSerializer)?);
        Ok(())
    }
}

impl ser::SerializeSeq for ArrayBuilder {
    type Ok = Value;
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.push(value)
    }

    fn end(self) -> Result<Value, Error> {
        Ok(Value::from(self.0))
    }
}

impl ser::SerializeTuple for ArrayBuilder {
    type Ok = Value;
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.push(value)
    }

    fn end(self) -> Result<Value, Error> {
        Ok(Value::from(self.0))
    }
}

impl ser::SerializeTupleStruct for ArrayBuilder {
    type Ok = Value;
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.push(value)
    }

    fn end(self) -> Result<Value, Error> {
        Ok(Value::from(self.0))
    }
}

/// A tuple variant: `{"Variant": [..]}`.
struct TaggedArrayBuilder {
    variant: &'static str,
    items: ArrayBuilder,
}

impl ser::SerializeTupleVariant for TaggedArrayBuilder {
    type Ok = Value;
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.items.push(value)
    }

    fn end(self) -> Result<Value, Error> {
        Ok(object_of(self.variant, Value::from(self.items.0)))
    }
}

/// The fields of an object being built, and a key waiting for its value.
#[derive(Default)]
struct ObjectBuilder {
    fields: BTreeMap<Value, Value>,
    key: Option<Value>,
}

impl ObjectBuilder {
    fn insert<T: Serialize + ?Sized>(&mut self, key: Value, value: &T) -> Result<(), Error> {
        self.fields.insert(key, value.serialize(ValueSerializer)?);
        Ok(())
    }
}

impl ser::SerializeMap for ObjectBuilder {
    type Ok = Value;
    type Error = Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.key = Some(key.serialize(KeySerializer)?);
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let key = self
            .key
            .take()
            .ok_or_else(|| Error::custom("map value serialized before its key"))?;
        self.insert(key, value)
    }

    fn end(self) -> Result<Value, Error> {
        Ok(Value::from(self.fields))
    }
}

/// The fields of a struct being built: its field names are fixed, so the
/// object is filled in from a template (see [`struct_template`]).
struct StructBuilder {
    names: Vec<&'static str>,
    values: Vec<Value>,
}

impl StructBuilder {
    fn with_capacity(fields: usize) -> StructBuilder {
        StructBuilder {
            names: Vec::with_capacity(fields),
            values: Vec::with_capacity(fields),
        }
    }
}

impl ser::SerializeStruct for StructBuilder {
    type Ok = Value;
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        self.values.push(value.serialize(ValueSerializer)?);
        self.names.push(key);
        Ok(())
    }

    fn end(self) -> Result<Value, Error> {
        Ok(struct_template::object(&self.names, self.values))
    }
}

/// A struct variant: `{"Variant": {..}}`.
struct TaggedObjectBuilder {
    variant: &'static str,
    fields: StructBuilder,
}

impl ser::SerializeStructVariant for TaggedObjectBuilder {
    type Ok = Value;
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        ser::SerializeStruct::serialize_field(&mut self.fields, key, value)
    }

    fn end(self) -> Result<Value, Error> {
        Ok(object_of(self.variant, ser::SerializeStruct::end(self.fields)?))
    }
}

/// Key serializer methods that write an integer key in decimal.
macro_rules! decimal_keys {
    ($($method:ident: $integer:ty),* $(,)?) => {
        $(
            fn $method(self, v: $integer) -> Result<Value, Error> {
                Ok(Value::from(v.to_string()))
            }
        )*
    };
}

/// Map keys, which JSON (and so the policy's `input`) only has as strings:
/// strings and chars as they are, integers and booleans in decimal, as
/// `serde_json` writes them.
struct KeySerializer;

fn key_must_be_a_string() -> Error {
    Error::custom("key must be a string")
}

impl ser::Serializer for KeySerializer {
    type Ok = Value;
    type Error = Error;
    type SerializeSeq = ser::Impossible<Value, Error>;
    type SerializeTuple = ser::Impossible<Value, Error>;
    type SerializeTupleStruct = ser::Impossible<Value, Error>;
    type SerializeTupleVariant = ser::Impossible<Value, Error>;
    type SerializeMap = ser::Impossible<Value, Error>;
    type SerializeStruct = ser::Impossible<Value, Error>;
    type SerializeStructVariant = ser::Impossible<Value, Error>;

    fn serialize_bool(self, v: bool) -> Result<Value, Error> {
        Ok(Value::from(if v { "true" } else { "false" }))
    }

    decimal_keys! {
        serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64, serialize_i128: i128,
        serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64, serialize_u128: u128,
    }

    fn serialize_f32(self, _v: f32) -> Result<Value, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_f64(self, _v: f64) -> Result<Value, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_char(self, v: char) -> Result<Value, Error> {
        ValueSerializer.serialize_char(v)
    }

    fn serialize_str(self, v: &str) -> Result<Value, Error> {
        Ok(Value::from(v))
    }

    fn serialize_bytes(self, _v: &[u8]) -> Result<Value, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_none(self) -> Result<Value, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<Value, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_unit(self) -> Result<Value, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_unit_variant(self, _name: &'static str, _index: u32, variant: &'static str) -> Result<Value, Error> {
        Ok(Value::from(variant))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, value: &T) -> Result<Value, Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<Value, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<Self::SerializeTupleStruct, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self::SerializeStruct, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(key_must_be_a_string())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;
    use serde::Serialize;
    use serde_json::json;

    use super::to_engine_value;
    use crate::test_documents::json_documents;

    /// What the engine received before this serializer: the detour through
    /// `serde_json::Value`, which regorus itself provides.
    fn through_json<T: Serialize>(input: &T) -> regorus::Value {
        regorus::Value::from(serde_json::to_value(input).unwrap())
    }

    proptest! {
        /// Any JSON document reaches the engine as the same value both ways.
        #[test]
        fn json_documents_convert_as_regorus_converts_them(document in json_documents(-1e12f64..1e12)) {
            prop_assert_eq!(to_engine_value(&document).unwrap(), through_json(&document));
        }

        /// Structs of changing shapes, one after another on one thread as the
        /// template cache sees them: fields skipped, repeated, reordered, and
        /// more shapes than the cache keeps.
        #[test]
        fn structs_of_any_shape_convert_as_regorus_converts_them(
            structs in prop::collection::vec(
                prop::collection::vec((0..FIELD_NAMES.len(), json_documents(-1e6f64..1e6)), 0..7),
                1..48,
            )
        ) {
            for fields in structs {
                let record = Fields(fields);
                prop_assert_eq!(to_engine_value(&record).unwrap(), through_json(&record));
                let variant = FieldsVariant(record);
                prop_assert_eq!(to_engine_value(&variant).unwrap(), through_json(&variant));
            }
        }
    }

    /// Field names a generated struct draws from.
    const FIELD_NAMES: [&str; 6] = ["household_id", "region", "members", "income", "usage", "flag"];

    /// A struct whose fields are picked by index from [`FIELD_NAMES`], as a
    /// hand-written `Serialize` (or `skip_serializing_if`) may produce.
    struct Fields(Vec<(usize, serde_json::Value)>);

    impl Serialize for Fields {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeStruct;
            let mut record = serializer.serialize_struct("Fields", self.0.len())?;
            for (name, value) in &self.0 {
                record.serialize_field(FIELD_NAMES[*name], value)?;
            }
            record.end()
        }
    }

    /// The same fields as a struct variant of an enum.
    struct FieldsVariant(Fields);

    impl Serialize for FieldsVariant {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeStructVariant;
            let mut record = serializer.serialize_struct_variant("Reading", 3, "Measured", self.0.0.len())?;
            for (name, value) in &self.0.0 {
                record.serialize_field(FIELD_NAMES[*name], value)?;
            }
            record.end()
        }
    }

    #[test]
    fn a_repeated_field_takes_its_later_value_as_json_does() {
        let record = Fields(vec![(0, json!("HH-1")), (2, json!(3)), (0, json!("HH-2"))]);
        let expected = regorus::Value::from(json!({"household_id": "HH-2", "members": 3}));
        assert_eq!(to_engine_value(&record).unwrap(), expected);
        // The second time the shape comes from the template.
        assert_eq!(to_engine_value(&record).unwrap(), expected);
    }

    #[test]
    fn structs_convert_during_thread_teardown_without_the_template_cache() {
        struct ConvertOnDrop(std::sync::mpsc::Sender<regorus::Value>);
        impl Drop for ConvertOnDrop {
            fn drop(&mut self) {
                let record = Fields(vec![(1, json!("310115")), (5, json!(true))]);
                let _ = self.0.send(to_engine_value(&record).unwrap());
            }
        }
        thread_local! {
            static ON_EXIT: std::cell::RefCell<Option<ConvertOnDrop>> = const { std::cell::RefCell::new(None) };
        }
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Registered before the template cache, so (thread-local
            // destructors running in reverse order) dropped after it is gone.
            ON_EXIT.with(|slot| *slot.borrow_mut() = Some(ConvertOnDrop(sender)));
            to_engine_value(&Fields(vec![(1, json!("320102"))])).unwrap();
        })
        .join()
        .unwrap();
        let expected = regorus::Value::from(json!({"region": "310115", "flag": true}));
        assert_eq!(receiver.recv().unwrap(), expected);
    }

    #[derive(Serialize)]
    enum Reading {
        Missing,
        Estimated(f64),
        Pair(u32, i16),
        Measured { m3: f32, meter: char },
    }

    #[derive(Serialize)]
    struct Unit;

    #[derive(Serialize)]
    struct Account(String);

    #[derive(Serialize)]
    struct Everything {
        account: Account,
        unit: Unit,
        nothing: (),
        maybe: Option<u8>,
        some: Option<i128>,
        negative: i64,
        small: i8,
        big: u128,
        readings: Vec<Reading>,
        tuple: (bool, &'static str),
        by_meter: HashMap<u32, bool>,
        by_flag: HashMap<bool, i32>,
        #[serde(with = "serde_bytes_as_seq")]
        raw: Vec<u8>,
    }

    /// Serializes bytes through `serialize_bytes`, as serde_bytes would.
    mod serde_bytes_as_seq {
        pub(super) fn serialize<S: serde::Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
            serializer.serialize_bytes(bytes)
        }
    }

    #[test]
    fn every_shape_of_the_serde_model_converts_as_regorus_converts_it() {
        let everything = Everything {
            account: Account("HH-000042".into()),
            unit: Unit,
            nothing: (),
            maybe: None,
            some: Some(-7),
            negative: -350,
            small: 5,
            big: u128::from(u64::MAX),
            readings: vec![
                Reading::Missing,
                Reading::Estimated(12.5),
                Reading::Pair(3, -4),
                Reading::Measured { m3: 0.25, meter: 'G' },
            ],
            tuple: (true, "tier-1"),
            by_meter: HashMap::from([(7, true), (11, false)]),
            by_flag: HashMap::from([(true, 1), (false, 0)]),
            raw: vec![0, 1, 255],
        };
        assert_eq!(to_engine_value(&everything).unwrap(), through_json(&everything));
        // And, independently of either serializer, the shapes Rego sees:
        let expected = regorus::Value::from(json!({
            "account": "HH-000042", "unit": null, "nothing": null, "maybe": null,
            "some": -7, "negative": -350, "small": 5, "big": u64::MAX,
            "readings": ["Missing", {"Estimated": 12.5}, {"Pair": [3, -4]},
                         {"Measured": {"m3": 0.25, "meter": "G"}}],
            "tuple": [true, "tier-1"],
            "by_meter": {"7": true, "11": false},
            "by_flag": {"true": 1, "false": 0},
            "raw": [0, 1, 255],
        }));
        assert_eq!(to_engine_value(&everything).unwrap(), expected);
    }

    #[test]
    fn bad_inputs_are_refused_with_what_was_wrong() {
        let cases: [(Result<regorus::Value, serde_json::Error>, &str); 5] = [
            (to_engine_value(&f64::NAN), "non-finite number NaN"),
            (to_engine_value(&vec![1.0, f64::INFINITY]), "non-finite number inf"),
            (to_engine_value(&u128::MAX), "out of range"),
            (to_engine_value(&i128::MIN), "out of range"),
            (to_engine_value(&HashMap::from([((1, 2), 3)])), "key must be a string"),
        ];
        for (result, message) in cases {
            let error = result.unwrap_err().to_string();
            assert!(error.contains(message), "{error:?} should say {message:?}");
        }
    }
}
