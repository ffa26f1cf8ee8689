//! Objects whose keys are a struct's field names, built by filling in a
//! per-thread template instead of from scratch.
//!
//! regorus keeps an object as a sorted slice of key-value pairs, and the only
//! public way to make one is to build a `BTreeMap` and convert it. For a
//! struct that was most of the input conversion: a string allocation per
//! field name, the tree's nodes and searches, then a copy into the slice.
//! A struct's field names are the same on every call, so the first object of
//! each shape is kept as a template; later ones clone it (one allocation, the
//! names shared by reference count) and put their values in place.

use std::cell::RefCell;
use std::collections::BTreeMap;

use regorus::Value;
use regorus::value::Object;

/// Shapes kept per thread: more than the structs of any realistic input, few
/// enough that a thread serializing endless shapes stays small.
const SHAPES: usize = 32;

/// One struct's field names, in the order they are serialized, and an object
/// with those keys.
struct Shape {
    names: Box<[&'static str]>,
    /// `names` as engine values, in the same order.
    keys: Box<[Value]>,
    /// Every field mapped to `null`.
    template: Object,
}

impl Shape {
    fn new(names: &[&'static str]) -> Shape {
        let keys: Box<[Value]> = names.iter().map(|&name| Value::from(name)).collect();
        let template = match Value::from(null_fields(&keys)) {
            Value::Object(object) => (*object).clone(),
            _ => Object::new(),
        };
        Shape {
            names: names.into(),
            keys,
            template,
        }
    }

    fn fits(&self, names: &[&'static str]) -> bool {
        // Usually the very same literals; equal text is the same key anyway.
        self.names.len() == names.len()
            && self
                .names
                .iter()
                .zip(names)
                .all(|(kept, name)| std::ptr::eq(*kept, *name) || kept == name)
    }

    fn fill(&self, values: Vec<Value>) -> Value {
        let mut object = self.template.clone();
        // A name given twice takes its later value, as a map insert would.
        for (key, value) in self.keys.iter().zip(values) {
            if let Some(slot) = object.get_mut(key) {
                *slot = value;
            }
        }
        Value::from(object)
    }
}

fn null_fields(keys: &[Value]) -> BTreeMap<Value, Value> {
    keys.iter().map(|key| (key.clone(), Value::Null)).collect()
}

thread_local! {
    static SHAPE_CACHE: RefCell<Vec<Shape>> = const { RefCell::new(Vec::new()) };
}

/// The object mapping `names[i]` to `values[i]`; a name given twice takes its
/// later value.
pub(crate) fn object(names: &[&'static str], values: Vec<Value>) -> Value {
    let mut pending = Some(values);
    let filled = SHAPE_CACHE.try_with(|cache| {
        let mut cache = cache.borrow_mut();
        let index = match cache.iter().position(|shape| shape.fits(names)) {
            Some(index) => index,
            None => {
                if cache.len() >= SHAPES {
                    cache.swap_remove(0);
                }
                cache.push(Shape::new(names));
                cache.len().saturating_sub(1)
            }
        };
        Some(cache.get(index)?.fill(pending.take()?))
    });
    match (filled, pending) {
        (Ok(Some(object)), _) => object,
        // During thread teardown there is no cache: build it the plain way.
        (_, values) => Value::from(
            names
                .iter()
                .zip(values.unwrap_or_default())
                .map(|(&name, value)| (Value::from(name), value))
                .collect::<BTreeMap<_, _>>(),
        ),
    }
}
