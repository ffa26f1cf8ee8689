//! How a shadow treats updates: AWS's limits, and what AWS leaves to users.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use crate::hlc::VersionStamp;

/// AWS IoT Device Shadow service limits, checked locally.
///
/// The defaults are AWS's documented ones (AWS General Reference, "AWS IoT
/// Core endpoints and quotas", Device Shadow section).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Levels of nesting in `state.desired` or `state.reported`: 6.
    pub max_depth: usize,
    /// Bytes of the state document (`desired` and `reported`, compact JSON,
    /// metadata not counted): 8 KiB.
    pub max_state_bytes: usize,
    /// Bytes of one request payload: 128 KiB, the MQTT message limit.
    pub max_request_bytes: usize,
    /// Bytes of a `clientToken`: 64.
    pub max_client_token_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_depth: 6,
            max_state_bytes: 8 * 1024,
            max_request_bytes: 128 * 1024,
            max_client_token_bytes: 64,
        }
    }
}

impl Limits {
    /// These limits with a state document of up to `bytes` (AWS raises it
    /// to 30 KiB on request).
    #[must_use]
    pub fn max_state_bytes(mut self, bytes: usize) -> Limits {
        self.max_state_bytes = bytes;
        self
    }

    /// These limits with `levels` of nesting.
    #[must_use]
    pub fn max_depth(mut self, levels: usize) -> Limits {
        self.max_depth = levels;
        self
    }

    /// These limits with requests of up to `bytes`.
    #[must_use]
    pub fn max_request_bytes(mut self, bytes: usize) -> Limits {
        self.max_request_bytes = bytes;
        self
    }
}

/// The limits plus the rules AWS leaves to its users, per field.
///
/// Field paths are member names joined by dots (`valve`, `meter.index`).
/// A merge policy on a path covers everything under it, and the longest
/// matching path wins; a desired-field rule applies to its exact path.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ShadowRules {
    /// AWS's limits.
    pub limits: Limits,
    /// An update that changes no value neither bumps the version nor
    /// produces a delta (AWS bumps it; off by default).
    pub skip_no_op_updates: bool,
    /// How a write replayed from a device's offline queue meets a field the
    /// cloud changed since the device's last sync. Fields not listed use
    /// [`FieldPolicy::LastWriterWins`].
    pub merge: BTreeMap<String, FieldPolicy>,
    /// Desired fields that clear themselves or keep their history.
    pub desired: BTreeMap<String, DesiredField>,
}

impl ShadowRules {
    /// These rules with `limits`.
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> ShadowRules {
        self.limits = limits;
        self
    }

    /// These rules with no-op updates skipped.
    #[must_use]
    pub fn skip_no_op_updates(mut self) -> ShadowRules {
        self.skip_no_op_updates = true;
        self
    }

    /// These rules with `policy` for the field at `path`.
    #[must_use]
    pub fn merge(mut self, path: impl Into<String>, policy: FieldPolicy) -> ShadowRules {
        self.merge.insert(path.into(), policy);
        self
    }

    /// These rules with `field` for the desired field at `path`.
    #[must_use]
    pub fn desired(mut self, path: impl Into<String>, field: DesiredField) -> ShadowRules {
        self.desired.insert(path.into(), field);
        self
    }

    pub(crate) fn policy(&self, path: &str) -> &FieldPolicy {
        static DEFAULT: FieldPolicy = FieldPolicy::LastWriterWins;
        longest_match(&self.merge, path).unwrap_or(&DEFAULT)
    }
}

fn longest_match<'a, T>(rules: &'a BTreeMap<String, T>, path: &str) -> Option<&'a T> {
    if rules.is_empty() {
        return None;
    }
    let mut prefix = path;
    loop {
        if let Some(rule) = rules.get(prefix) {
            return Some(rule);
        }
        prefix = &prefix[..prefix.rfind('.')?];
    }
}

/// What to do when a replayed device write and a cloud write changed the
/// same field since the device last synchronised.
#[derive(Clone)]
#[non_exhaustive]
pub enum FieldPolicy {
    /// The write with the later [`VersionStamp`] wins; on a tie, the cloud's.
    LastWriterWins,
    /// The larger number wins, whichever side wrote it and even when only
    /// the device did: for meter indexes and cumulative volumes, which a
    /// replayed old reading must never move back.
    MaxWins,
    /// This value beats any other from either side (a closed valve beats an
    /// open one); between other values, the later write wins.
    SafetyFirst {
        /// The safe value, e.g. `"closed"`.
        safe: Value,
    },
    /// Neither wins: the cloud keeps its value, both are kept as a
    /// [`FieldConflict`](crate::FieldConflict) until someone resolves it.
    Manual,
    /// The user's own rule.
    Custom(Arc<dyn MergePolicy>),
}

impl fmt::Debug for FieldPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldPolicy::LastWriterWins => f.write_str("LastWriterWins"),
            FieldPolicy::MaxWins => f.write_str("MaxWins"),
            FieldPolicy::SafetyFirst { safe } => f.debug_struct("SafetyFirst").field("safe", safe).finish(),
            FieldPolicy::Manual => f.write_str("Manual"),
            FieldPolicy::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

/// One side of a concurrent change to a field.
#[derive(Debug, Clone, Copy)]
pub struct Side<'a> {
    /// The value (`None` if that side deleted the field).
    pub value: Option<&'a Value>,
    /// When it was written.
    pub stamp: VersionStamp,
}

/// What a [`MergePolicy`] decides.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Decision {
    /// Keep the cloud's value.
    KeepCloud,
    /// Take the device's value.
    TakeDevice,
    /// Store this value instead of either.
    Replace(Value),
    /// Keep both until someone resolves the conflict.
    Conflict,
}

/// A user-defined merge rule for one field.
pub trait MergePolicy: Send + Sync + 'static {
    /// Decides between the cloud's value and a replayed device write that
    /// both changed the field at `path` since the device's last sync.
    fn decide(&self, path: &str, cloud: Side<'_>, device: Side<'_>) -> Decision;
}

/// Rules for a desired field, against ghost and collapsed commands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DesiredField {
    /// Remove the desired value once the device reports the same value, so
    /// a later report that differs does not bring the old command back as a
    /// delta.
    pub clear_on_ack: bool,
    /// Remove the desired value this many seconds after it was written,
    /// acknowledged or not.
    pub ttl_secs: Option<u64>,
    /// Keep every value written, in order, in the shadow's
    /// [`CommandLog`](crate::CommandLog), for devices that must act on each
    /// one (close, then open) rather than on the latest.
    pub ordered: bool,
}

impl DesiredField {
    /// A field cleared when acknowledged.
    #[must_use]
    pub fn clear_on_ack() -> DesiredField {
        DesiredField {
            clear_on_ack: true,
            ..DesiredField::default()
        }
    }

    /// This field, also expiring `secs` after it was written.
    #[must_use]
    pub fn ttl_secs(mut self, secs: u64) -> DesiredField {
        self.ttl_secs = Some(secs);
        self
    }

    /// This field, also kept in order in the command log.
    #[must_use]
    pub fn ordered(mut self) -> DesiredField {
        self.ordered = true;
        self
    }
}
