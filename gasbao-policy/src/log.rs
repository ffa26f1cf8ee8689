//! The decision log: every decision, with personal input fields masked, handed
//! to a sink the host chooses (a file, the journal, a message bus).

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::error::DecisionLogError;
use crate::prepared::ExecutionPath;

/// What replaces a personal field's value in a logged input.
pub const MASKED: &str = "<masked>";

/// Receives each decision an engine makes.
///
/// Called on the evaluating thread after the decision is made and before it
/// is returned. An error fails the decision
/// ([`EvaluationError::DecisionLog`](crate::EvaluationError::DecisionLog)):
/// a subsidy decision that leaves no audit record is not given.
pub trait DecisionLog: Send + Sync + 'static {
    /// Records one decision.
    ///
    /// # Errors
    ///
    /// [`DecisionLogError`] if the record could not be kept.
    fn record(&self, decision: &DecisionRecord<'_>) -> Result<(), DecisionLogError>;
}

/// One decision as logged.
#[derive(Debug, Clone, Copy, Serialize)]
#[non_exhaustive]
pub struct DecisionRecord<'a> {
    /// The bundle revision that decided.
    pub revision: &'a str,
    /// The entrypoint, as a `data.` path.
    pub entrypoint: &'a str,
    /// The input, with the manifest's personal fields replaced by [`MASKED`].
    pub input: &'a serde_json::Value,
    /// The policy's result.
    pub result: &'a serde_json::Value,
    /// Which engine decided.
    #[serde(serialize_with = "display")]
    pub path: ExecutionPath,
    /// Time spent evaluating.
    #[serde(rename = "duration_ns", serialize_with = "nanos")]
    pub duration: Duration,
    /// When the decision was made (the system clock).
    #[serde(rename = "decided_at_ms", serialize_with = "unix_millis")]
    pub decided_at: SystemTime,
    /// The caller's id for the request, if it gave one
    /// ([`PolicyEngine::evaluate_correlated`](crate::PolicyEngine::evaluate_correlated)).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<&'a str>,
}

impl DecisionRecord<'_> {
    /// The record as one line of JSON, without the newline:
    /// `{"revision":…,"entrypoint":…,"input":…,"result":…,"path":"compiled","duration_ns":…,"decided_at_ms":…}`,
    /// with `"correlation_id"` last when there is one.
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising borrowed JSON values and strings cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

fn display<S: serde::Serializer>(path: &ExecutionPath, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(path)
}

fn unix_millis<S: serde::Serializer>(at: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    let millis = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    s.serialize_u64(u64::try_from(millis).unwrap_or(u64::MAX))
}

fn nanos<S: serde::Serializer>(duration: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX))
}

/// A decision log writing one JSON line per decision to any writer.
///
/// Lines are written whole under a lock and flushed, so that concurrent
/// decisions never interleave within a line.
#[derive(Debug)]
pub struct JsonLinesLog<W> {
    writer: Mutex<W>,
}

impl<W: Write + Send + 'static> JsonLinesLog<W> {
    /// Logs to `writer`.
    pub fn new(writer: W) -> JsonLinesLog<W> {
        JsonLinesLog {
            writer: Mutex::new(writer),
        }
    }

    /// Gives the writer back.
    pub fn into_inner(self) -> W {
        self.writer
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl<W: Write + Send + 'static> DecisionLog for JsonLinesLog<W> {
    fn record(&self, decision: &DecisionRecord<'_>) -> Result<(), DecisionLogError> {
        let mut line = decision.to_json();
        line.push(b'\n');
        let mut writer = self.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        writer
            .write_all(&line)
            .and_then(|()| writer.flush())
            .map_err(DecisionLogError::Io)
    }
}

/// Replaces each personal field's value with [`MASKED`]. A path that meets an
/// array applies to each element; a path that is absent masks nothing.
pub(crate) fn mask_personal_fields(input: &mut serde_json::Value, fields: &[Vec<String>]) {
    for path in fields {
        mask(input, path);
    }
}

fn mask(value: &mut serde_json::Value, path: &[String]) {
    match value {
        serde_json::Value::Array(items) => items.iter_mut().for_each(|item| mask(item, path)),
        serde_json::Value::Object(map) => {
            let Some((first, rest)) = path.split_first() else {
                return;
            };
            if let Some(field) = map.get_mut(first) {
                if rest.is_empty() {
                    *field = serde_json::Value::String(MASKED.to_owned());
                } else {
                    mask(field, rest);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn paths(fields: &[&str]) -> Vec<Vec<String>> {
        fields
            .iter()
            .map(|f| f.split('.').map(str::to_owned).collect())
            .collect()
    }

    #[test]
    fn masks_top_level_nested_and_per_element_fields() {
        let mut input = json!({
            "name": "Wang Fang",
            "region": "310115",
            "applicant": {"id_number": "310115198001010021", "age": 46},
            "members": [{"name": "Li Lei"}, {"name": "Han Meimei"}, 3],
        });
        mask_personal_fields(
            &mut input,
            &paths(&["name", "applicant.id_number", "members.name", "absent.field"]),
        );
        assert_eq!(
            input,
            json!({
                "name": MASKED,
                "region": "310115",
                "applicant": {"id_number": MASKED, "age": 46},
                "members": [{"name": MASKED}, {"name": MASKED}, 3],
            })
        );
    }

    #[test]
    fn a_masked_object_is_masked_whole() {
        let mut input = json!({"applicant": {"name": "x", "id": "y"}});
        mask_personal_fields(&mut input, &paths(&["applicant"]));
        assert_eq!(input, json!({"applicant": MASKED}));
    }
}
