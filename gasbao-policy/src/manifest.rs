//! The bundle manifest: which revision this is, what may be asked of it, and
//! which input fields are personal data.

use serde::{Deserialize, Serialize};

use crate::error::BundleError;

/// A bundle's `.manifest`, OPA's file name, with gasbao's fields.
///
/// ```json
/// {
///   "revision": "2026-11-shanghai-heating",
///   "entrypoints": ["gasbao/subsidy/decision"],
///   "personal_fields": ["name", "id_number", "household_id"],
///   "test_inputs": "test_inputs.json"
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Manifest {
    /// Reported with every decision, so that each can be traced to the rules
    /// that made it.
    pub revision: String,
    /// The rules a caller may evaluate, as `a/b/rule` (OPA's form) or
    /// `data.a.b.rule`.
    pub entrypoints: Vec<String>,
    /// Dotted paths of input fields that are personal data (`name`,
    /// `applicant.id_number`); decision logs mask them. A path through an
    /// array applies to each element.
    #[serde(default)]
    pub personal_fields: Vec<String>,
    /// A JSON file in the bundle holding an array of sample inputs, on which
    /// the compiled fast path must agree with the interpreter before it is
    /// used. Without it the fast path is checked on no input and refused.
    #[serde(default)]
    pub test_inputs: Option<String>,
}

impl Manifest {
    /// A manifest with a revision and entrypoints, and nothing personal.
    pub fn new(revision: impl Into<String>, entrypoints: impl IntoIterator<Item = impl Into<String>>) -> Manifest {
        Manifest {
            revision: revision.into(),
            entrypoints: entrypoints.into_iter().map(Into::into).collect(),
            personal_fields: Vec::new(),
            test_inputs: None,
        }
    }

    /// Marks input fields as personal (dotted paths).
    #[must_use]
    pub fn personal_fields(mut self, fields: impl IntoIterator<Item = impl Into<String>>) -> Manifest {
        self.personal_fields = fields.into_iter().map(Into::into).collect();
        self
    }

    /// Names the bundle file holding sample inputs for the fast-path check.
    #[must_use]
    pub fn test_inputs(mut self, file: impl Into<String>) -> Manifest {
        self.test_inputs = Some(file.into());
        self
    }

    /// The entrypoints as `data.` rule paths.
    pub(crate) fn rule_paths(&self) -> Result<Vec<String>, BundleError> {
        if self.entrypoints.is_empty() {
            return Err(BundleError::NoEntrypoint);
        }
        self.entrypoints.iter().map(|e| rule_path(e)).collect()
    }
}

/// `a/b/c` or `data.a.b.c` to `data.a.b.c`, refusing anything that is not a
/// plain path of identifiers.
pub(crate) fn rule_path(entrypoint: &str) -> Result<String, BundleError> {
    let bad = || BundleError::BadEntrypoint {
        entrypoint: entrypoint.to_owned(),
    };
    let parts: Vec<&str> = match entrypoint.strip_prefix("data.") {
        Some(dotted) => dotted.split('.').collect(),
        None => entrypoint.trim_start_matches('/').split('/').collect(),
    };
    let identifier = |p: &&str| {
        let mut chars = p.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if parts.len() < 2 || !parts.iter().all(identifier) {
        return Err(bad());
    }
    Ok(format!("data.{}", parts.join(".")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entrypoints_in_both_forms_become_data_paths() {
        let cases = [
            ("gasbao/subsidy/decision", Some("data.gasbao.subsidy.decision")),
            ("/gasbao/subsidy/decision", Some("data.gasbao.subsidy.decision")),
            ("data.gasbao.subsidy.decision", Some("data.gasbao.subsidy.decision")),
            ("decision", None),
            ("gasbao//decision", None),
            ("gasbao/sub-sidy/decision", None),
            ("data.gasbao[\"x\"].decision", None),
            ("", None),
        ];
        for (entrypoint, expected) in cases {
            assert_eq!(rule_path(entrypoint).ok().as_deref(), expected, "{entrypoint}");
        }
    }
}
