//! Per-leaf update times, shaped like the state they describe.

use std::collections::BTreeMap;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::hlc::VersionStamp;
use crate::time::Timestamp;

/// When and by which write a leaf was last written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// Wall-clock time, the `timestamp` AWS shows.
    pub at: Timestamp,
    /// The shadow version the write made.
    pub version: u64,
    /// The write's hybrid-logical-clock stamp, for last-writer-wins.
    pub stamp: VersionStamp,
    /// The device whose replayed write it was; `None` for a plain update.
    pub origin: Option<u64>,
}

/// When each leaf of a section was last written: a tree of the same shape
/// as the section, each leaf `{"timestamp": t}` on the wire.
///
/// An array's metadata is an array with one entry per element, as AWS
/// writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Metadata {
    /// A leaf.
    Leaf(Written),
    /// An object's members.
    Object(BTreeMap<String, Metadata>),
    /// An array's elements.
    Array(Vec<Metadata>),
}

impl Metadata {
    /// Metadata of `value` written whole at `at`.
    pub(crate) fn of(value: &Value, at: Written) -> Metadata {
        match value {
            Value::Object(map) => Metadata::Object(map.iter().map(|(k, v)| (k.clone(), Metadata::of(v, at))).collect()),
            Value::Array(items) => Metadata::Array(items.iter().map(|v| Metadata::of(v, at)).collect()),
            _ => Metadata::Leaf(at),
        }
    }

    /// `existing` after an update of `update` at `at`, mirroring
    /// `json::merged` so that both trees keep one shape.
    pub(crate) fn merged(existing: Option<Metadata>, update: &Value, at: Written) -> Option<Metadata> {
        match update {
            Value::Null => None,
            Value::Object(update) => match existing {
                Some(Metadata::Object(mut members)) => {
                    merge_members(&mut members, update, at);
                    (!members.is_empty()).then_some(Metadata::Object(members))
                }
                other => {
                    let mut members = BTreeMap::new();
                    merge_members(&mut members, update, at);
                    if members.is_empty() {
                        other
                    } else {
                        Some(Metadata::Object(members))
                    }
                }
            },
            value => Some(Metadata::of(value, at)),
        }
    }

    /// The newest write anywhere in this tree, by version.
    pub(crate) fn newest(&self) -> Option<Written> {
        match self {
            Metadata::Leaf(written) => Some(*written),
            Metadata::Object(members) => members.values().filter_map(Metadata::newest).max_by_key(|w| w.version),
            Metadata::Array(items) => items.iter().filter_map(Metadata::newest).max_by_key(|w| w.version),
        }
    }

    /// The leaf written at `path` (dotted), or the newest write under it.
    pub(crate) fn at_path<'a>(members: &'a BTreeMap<String, Metadata>, path: &str) -> Option<&'a Metadata> {
        let mut parts = path.split('.');
        let mut node = members.get(parts.next()?)?;
        for part in parts {
            match node {
                Metadata::Object(members) => node = members.get(part)?,
                _ => return None,
            }
        }
        Some(node)
    }

    /// This metadata restricted to the shape of `value` (a delta).
    pub(crate) fn project(&self, value: &Value) -> Metadata {
        match (self, value) {
            (Metadata::Object(members), Value::Object(map)) => Metadata::Object(
                map.iter()
                    .filter_map(|(key, value)| Some((key.clone(), members.get(key)?.project(value))))
                    .collect(),
            ),
            (other, _) => other.clone(),
        }
    }

    /// True if this tree has exactly the shape of `value`.
    pub(crate) fn matches(&self, value: &Value) -> bool {
        match (self, value) {
            (Metadata::Object(members), Value::Object(map)) => {
                members.len() == map.len() && map.iter().all(|(k, v)| members.get(k).is_some_and(|m| m.matches(v)))
            }
            (Metadata::Array(items), Value::Array(values)) => {
                items.len() == values.len() && items.iter().zip(values).all(|(m, v)| m.matches(v))
            }
            (Metadata::Leaf(_), value) => !value.is_object() && !value.is_array(),
            _ => false,
        }
    }
}

pub(crate) fn merge_members(
    members: &mut BTreeMap<String, Metadata>,
    update: &serde_json::Map<String, Value>,
    at: Written,
) {
    for (key, value) in update {
        let existing = members.remove(key);
        if let Some(merged) = Metadata::merged(existing, value, at) {
            members.insert(key.clone(), merged);
        }
    }
}

impl Serialize for Metadata {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Metadata::Leaf(written) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("timestamp", &written.at)?;
                map.end()
            }
            Metadata::Object(members) => {
                let mut map = serializer.serialize_map(Some(members.len()))?;
                for (key, value) in members {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
            Metadata::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Metadata {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Metadata, D::Error> {
        from_value(Value::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

fn from_value(value: Value) -> Result<Metadata, &'static str> {
    match value {
        Value::Object(map) if map.len() == 1 && map.get("timestamp").is_some_and(Value::is_u64) => {
            let at = Timestamp::from_secs(map["timestamp"].as_u64().unwrap_or_default());
            Ok(Metadata::Leaf(Written {
                at,
                version: 0,
                stamp: VersionStamp::from_timestamp(at),
                origin: None,
            }))
        }
        Value::Object(map) => map
            .into_iter()
            .map(|(k, v)| Ok((k, from_value(v)?)))
            .collect::<Result<_, _>>()
            .map(Metadata::Object),
        Value::Array(items) => items
            .into_iter()
            .map(from_value)
            .collect::<Result<_, _>>()
            .map(Metadata::Array),
        _ => Err("metadata must be objects, arrays and {\"timestamp\": seconds} leaves"),
    }
}

/// Metadata as the store writes it: with each leaf's version and stamp,
/// which the AWS wire form leaves out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum StoredMetadata {
    /// `[at, version, physical_ms, logical, origin]`.
    L(u64, u64, u64, u32, Option<u64>),
    O(BTreeMap<String, StoredMetadata>),
    A(Vec<StoredMetadata>),
}

impl From<&Metadata> for StoredMetadata {
    fn from(metadata: &Metadata) -> StoredMetadata {
        match metadata {
            Metadata::Leaf(w) => StoredMetadata::L(
                w.at.as_secs(),
                w.version,
                w.stamp.physical_ms,
                w.stamp.logical,
                w.origin,
            ),
            Metadata::Object(members) => {
                StoredMetadata::O(members.iter().map(|(k, m)| (k.clone(), m.into())).collect())
            }
            Metadata::Array(items) => StoredMetadata::A(items.iter().map(StoredMetadata::from).collect()),
        }
    }
}

impl From<StoredMetadata> for Metadata {
    fn from(stored: StoredMetadata) -> Metadata {
        match stored {
            StoredMetadata::L(at, version, physical_ms, logical, origin) => Metadata::Leaf(Written {
                at: Timestamp::from_secs(at),
                version,
                stamp: VersionStamp { physical_ms, logical },
                origin,
            }),
            StoredMetadata::O(members) => Metadata::Object(members.into_iter().map(|(k, m)| (k, m.into())).collect()),
            StoredMetadata::A(items) => Metadata::Array(items.into_iter().map(Metadata::from).collect()),
        }
    }
}
