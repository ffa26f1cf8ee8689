//! The update request document, parsed as AWS parses it.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use crate::error::Rejection;
use crate::json;
use crate::rules::Limits;

/// What an update does to one section (`desired` or `reported`).
#[derive(Debug, Clone, PartialEq)]
pub enum SectionUpdate {
    /// Merge these members: `null` deletes a member, objects merge, anything
    /// else replaces.
    Merge(Map<String, Value>),
    /// `null`: delete the whole section.
    Clear,
}

/// A parsed `update` request: `{"state": {"desired": ..., "reported": ...},
/// "clientToken": ..., "version": ...}`.
///
/// # Examples
///
/// ```
/// use gasbao_shadow::{Limits, UpdateRequest};
///
/// let request = UpdateRequest::parse(br#"{"state": {"desired": {"valve": "closed"}}, "version": 3}"#, &Limits::default())?;
/// assert_eq!(request.version, Some(3));
/// # Ok::<(), gasbao_shadow::Rejection>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct UpdateRequest {
    /// The change to `state.desired`, if the request has one.
    pub desired: Option<SectionUpdate>,
    /// The change to `state.reported`, if the request has one.
    pub reported: Option<SectionUpdate>,
    /// Echoed in every reply, to match it to this request.
    pub client_token: Option<String>,
    /// Apply only if the shadow is at this version (else 409).
    pub version: Option<u64>,
}

impl UpdateRequest {
    /// A request that merges `members` into `state.desired`.
    #[must_use]
    pub fn desired(members: Map<String, Value>) -> UpdateRequest {
        UpdateRequest {
            desired: Some(SectionUpdate::Merge(members)),
            ..UpdateRequest::default()
        }
    }

    /// A request that merges `members` into `state.reported`.
    #[must_use]
    pub fn reported(members: Map<String, Value>) -> UpdateRequest {
        UpdateRequest {
            reported: Some(SectionUpdate::Merge(members)),
            ..UpdateRequest::default()
        }
    }

    /// This request, applied only at `version`.
    #[must_use]
    pub fn at_version(mut self, version: u64) -> UpdateRequest {
        self.version = Some(version);
        self
    }

    /// This request with `token` echoed in its replies.
    #[must_use]
    pub fn client_token(mut self, token: impl Into<String>) -> UpdateRequest {
        self.client_token = Some(token.into());
        self
    }

    /// Parses a request payload, checking it as AWS does: size, UTF-8,
    /// JSON, structure, version, client token, nesting depth.
    ///
    /// # Errors
    ///
    /// The [`Rejection`] AWS would give (400, 413 or 415).
    pub fn parse(payload: &[u8], limits: &Limits) -> Result<UpdateRequest, Rejection> {
        if payload.len() > limits.max_request_bytes {
            return Err(Rejection::TooLarge {
                what: "request",
                bytes: payload.len(),
                max: limits.max_request_bytes,
            });
        }
        let text = std::str::from_utf8(payload).map_err(|e| Rejection::NotUtf8 {
            offset: e.valid_up_to(),
        })?;
        let value: Value = serde_json::from_str(text).map_err(|e| Rejection::InvalidJson { detail: e.to_string() })?;
        UpdateRequest::from_value(value, limits)
    }

    /// Checks an already parsed request document, as [`parse`](Self::parse) does.
    ///
    /// # Errors
    ///
    /// The [`Rejection`] AWS would give (400).
    pub fn from_value(value: Value, limits: &Limits) -> Result<UpdateRequest, Rejection> {
        let Value::Object(mut document) = value else {
            return Err(Rejection::MissingState);
        };
        let version = match document.remove("version") {
            None => None,
            Some(version) => Some(version.as_u64().ok_or(Rejection::InvalidVersion)?),
        };
        let client_token = match document.remove("clientToken") {
            None => None,
            Some(Value::String(token)) if token.len() <= limits.max_client_token_bytes => Some(token),
            Some(Value::String(token)) => {
                let reason = format!(
                    "it is {} bytes, the limit is {}",
                    token.len(),
                    limits.max_client_token_bytes
                );
                return Err(Rejection::InvalidClientToken { reason });
            }
            Some(_) => {
                return Err(Rejection::InvalidClientToken {
                    reason: "it is not a string".into(),
                });
            }
        };
        let (desired, reported) = match document.remove("state") {
            None => return Err(Rejection::MissingState),
            Some(Value::Null) => (Some(SectionUpdate::Clear), Some(SectionUpdate::Clear)),
            Some(Value::Object(mut state)) => {
                let desired = section(state.remove("desired"), "desired", Rejection::DesiredNotObject, limits)?;
                let reported = section(
                    state.remove("reported"),
                    "reported",
                    Rejection::ReportedNotObject,
                    limits,
                )?;
                if let Some(node) = state.keys().next() {
                    return Err(Rejection::InvalidStateNode { node: node.clone() });
                }
                (desired, reported)
            }
            Some(_) => return Err(Rejection::StateNotObject),
        };
        Ok(UpdateRequest {
            desired,
            reported,
            client_token,
            version,
        })
    }

    /// The request as JSON bytes, as a device publishes it.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        // A map of strings to JSON values always serializes.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

fn section(
    value: Option<Value>,
    name: &'static str,
    not_object: Rejection,
    limits: &Limits,
) -> Result<Option<SectionUpdate>, Rejection> {
    match value {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(SectionUpdate::Clear)),
        Some(Value::Object(members)) => {
            let depth = members.values().map(json::depth).max().unwrap_or(0) + 1;
            if depth > limits.max_depth {
                return Err(Rejection::TooDeep {
                    section: name,
                    depth,
                    max: limits.max_depth,
                });
            }
            Ok(Some(SectionUpdate::Merge(members)))
        }
        Some(_) => Err(not_object),
    }
}

impl Serialize for SectionUpdate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            SectionUpdate::Merge(members) => members.serialize(serializer),
            SectionUpdate::Clear => serializer.serialize_unit(),
        }
    }
}

impl Serialize for UpdateRequest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry(
            "state",
            &StateUpdate {
                desired: &self.desired,
                reported: &self.reported,
            },
        )?;
        if let Some(token) = &self.client_token {
            map.serialize_entry("clientToken", token)?;
        }
        if let Some(version) = self.version {
            map.serialize_entry("version", &version)?;
        }
        map.end()
    }
}

#[derive(Serialize)]
struct StateUpdate<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    desired: &'a Option<SectionUpdate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reported: &'a Option<SectionUpdate>,
}
