//! The documents the shadow service publishes, serialized as AWS's.

use std::collections::BTreeMap;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::document::ShadowDocument;
use crate::error::{Rejection, ServiceError};
use crate::metadata::Metadata;
use crate::request::SectionUpdate;
use crate::time::Timestamp;

/// The `/update/accepted` reply: the request's state as applied, a
/// timestamp for each leaf it wrote, and the new version.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct UpdateAccepted {
    /// `state.desired` as applied.
    pub desired: Option<SectionUpdate>,
    /// `state.reported` as applied.
    pub reported: Option<SectionUpdate>,
    /// The shadow's version after the update.
    pub version: u64,
    /// When the update was applied.
    pub timestamp: Timestamp,
    /// The request's client token.
    pub client_token: Option<String>,
}

/// The `/update/delta` message: the desired fields an update wrote that
/// differ from reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeltaMessage {
    /// The differing desired fields.
    pub state: Map<String, Value>,
    /// When each was written.
    pub metadata: BTreeMap<String, Metadata>,
    /// The shadow's version.
    pub version: u64,
    /// When the update was applied.
    pub timestamp: Timestamp,
    /// The client token of the update that caused it.
    #[serde(rename = "clientToken", default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
}

/// The `/delete/accepted` reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteAccepted {
    /// The version of the deleted shadow.
    pub version: u64,
    /// When it was deleted.
    pub timestamp: Timestamp,
}

/// The error document of a `/rejected` reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDocument {
    /// The HTTP status code.
    pub code: u16,
    /// AWS's message.
    pub message: String,
    /// When the request was rejected.
    pub timestamp: Timestamp,
    /// The request's client token, if it could be read.
    #[serde(rename = "clientToken", default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
}

impl ErrorDocument {
    /// The error document for `rejection`.
    #[must_use]
    pub fn new(rejection: &Rejection, timestamp: Timestamp, client_token: Option<String>) -> ErrorDocument {
        ErrorDocument {
            code: rejection.code(),
            message: rejection.message(),
            timestamp,
            client_token,
        }
    }

    /// The error document for a failed service call (500 for a store failure).
    #[must_use]
    pub fn for_service_error(
        error: &ServiceError,
        timestamp: Timestamp,
        client_token: Option<String>,
    ) -> ErrorDocument {
        ErrorDocument {
            code: error.code(),
            message: error.message(),
            timestamp,
            client_token,
        }
    }
}

/// A whole shadow as `/get/accepted` shows it: state with delta,
/// metadata, version, timestamp.
#[derive(Debug, Clone, Copy)]
pub struct DocumentView<'a> {
    document: &'a ShadowDocument,
    timestamp: Timestamp,
    client_token: Option<&'a str>,
}

impl<'a> DocumentView<'a> {
    /// `document` as read at `timestamp` by a request with `client_token`.
    #[must_use]
    pub fn new(document: &'a ShadowDocument, timestamp: Timestamp, client_token: Option<&'a str>) -> DocumentView<'a> {
        DocumentView {
            document,
            timestamp,
            client_token,
        }
    }
}

/// The `/update/documents` message: the shadow before and after an update.
#[derive(Debug, Clone, Copy)]
pub struct DocumentsMessage<'a> {
    /// The document before.
    pub previous: &'a ShadowDocument,
    /// The document after.
    pub current: &'a ShadowDocument,
    /// When the update was applied.
    pub timestamp: Timestamp,
    /// The update's client token.
    pub client_token: Option<&'a str>,
}

impl Serialize for UpdateAccepted {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        let mut state = Map::new();
        let mut metadata = BTreeMap::new();
        for (name, section) in [("desired", &self.desired), ("reported", &self.reported)] {
            if let Some(section) = section {
                let value = match section {
                    SectionUpdate::Merge(members) => Value::Object(members.clone()),
                    SectionUpdate::Clear => Value::Null,
                };
                metadata.insert(name, PatchMetadata(value.clone(), self.timestamp));
                state.insert(name.to_owned(), value);
            }
        }
        map.serialize_entry("state", &state)?;
        map.serialize_entry("metadata", &metadata)?;
        map.serialize_entry("version", &self.version)?;
        map.serialize_entry("timestamp", &self.timestamp)?;
        if let Some(token) = &self.client_token {
            map.serialize_entry("clientToken", token)?;
        }
        map.end()
    }
}

/// Metadata of a patch: a `{"timestamp": t}` for every leaf it wrote,
/// deletions included.
struct PatchMetadata(Value, Timestamp);

impl Serialize for PatchMetadata {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Value::Object(members) => {
                let mut map = serializer.serialize_map(Some(members.len()))?;
                for (key, value) in members {
                    map.serialize_entry(key, &PatchMetadata(value.clone(), self.1))?;
                }
                map.end()
            }
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&PatchMetadata(item.clone(), self.1))?;
                }
                seq.end()
            }
            _ => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("timestamp", &self.1)?;
                map.end()
            }
        }
    }
}

/// `{"desired": .., "reported": .., "delta": ..}` with empty sections left out.
struct StateView<'a>(&'a ShadowDocument, bool);

impl Serialize for StateView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let document = self.0;
        let mut map = serializer.serialize_map(None)?;
        if !document.desired().is_empty() {
            map.serialize_entry("desired", document.desired())?;
        }
        if !document.reported().is_empty() {
            map.serialize_entry("reported", document.reported())?;
        }
        if self.1 && !document.delta().is_empty() {
            map.serialize_entry("delta", document.delta())?;
        }
        map.end()
    }
}

struct MetadataView<'a>(&'a ShadowDocument);

impl Serialize for MetadataView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use crate::document::SectionName;
        let mut map = serializer.serialize_map(None)?;
        for (name, section) in [("desired", SectionName::Desired), ("reported", SectionName::Reported)] {
            let metadata = self.0.metadata(section);
            if !metadata.is_empty() {
                map.serialize_entry(name, metadata)?;
            }
        }
        map.end()
    }
}

impl Serialize for DocumentView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("state", &StateView(self.document, true))?;
        map.serialize_entry("metadata", &MetadataView(self.document))?;
        map.serialize_entry("version", &self.document.version())?;
        map.serialize_entry("timestamp", &self.timestamp)?;
        if let Some(token) = self.client_token {
            map.serialize_entry("clientToken", token)?;
        }
        map.end()
    }
}

struct Snapshot<'a>(&'a ShadowDocument);

impl Serialize for Snapshot<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("state", &StateView(self.0, false))?;
        map.serialize_entry("metadata", &MetadataView(self.0))?;
        map.serialize_entry("version", &self.0.version())?;
        map.end()
    }
}

impl Serialize for DocumentsMessage<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("previous", &Snapshot(self.previous))?;
        map.serialize_entry("current", &Snapshot(self.current))?;
        map.serialize_entry("timestamp", &self.timestamp)?;
        if let Some(token) = self.client_token {
            map.serialize_entry("clientToken", token)?;
        }
        map.end()
    }
}
