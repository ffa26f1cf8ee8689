//! Idempotent replay of queued entries into a shadow.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::document::{FieldConflict, Replayed, ShadowDocument, WriteContext};
use crate::error::{Rejection, ReplayError};
use crate::queue::{PayloadHash, QueueEntry, TxId};
use crate::request::UpdateRequest;
use crate::rules::ShadowRules;
use crate::time::Timestamp;

/// How many recent transactions per device the index keeps hashes of.
const RECENT_PER_ORIGIN: usize = 1024;

/// Which queued transactions already took effect, per device: enough to
/// skip a replayed entry and to refuse a reused tx id.
///
/// For each device it keeps the hashes of its most recent 1,024
/// transactions; older ones are remembered only as "at or below this
/// counter", which is enough because a device replays in counter order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedIndex {
    origins: HashMap<u64, OriginWindow>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct OriginWindow {
    /// Every counter at or below this one took effect (hashes forgotten).
    forgotten_through: u64,
    recent: BTreeMap<u64, PayloadHash>,
}

/// Whether a replayed entry is new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Admission {
    /// It has not taken effect: apply it.
    New,
    /// It already took effect: skip it.
    AlreadyApplied,
}

impl AppliedIndex {
    /// An index that has seen nothing.
    #[must_use]
    pub fn new() -> AppliedIndex {
        AppliedIndex::default()
    }

    /// Whether `tx_id` with `hash` is new.
    ///
    /// # Errors
    ///
    /// [`ReplayError::TxIdReused`] if it took effect with another payload.
    pub fn admit(&self, tx_id: TxId, hash: &PayloadHash) -> Result<Admission, ReplayError> {
        let Some(window) = self.origins.get(&tx_id.origin) else {
            return Ok(Admission::New);
        };
        match window.recent.get(&tx_id.counter) {
            Some(applied) if applied == hash => Ok(Admission::AlreadyApplied),
            Some(applied) => Err(ReplayError::TxIdReused {
                tx_id,
                applied: applied.to_hex(),
                replayed: hash.to_hex(),
            }),
            None if tx_id.counter <= window.forgotten_through => Ok(Admission::AlreadyApplied),
            None => Ok(Admission::New),
        }
    }

    /// Records that `tx_id` took effect.
    pub fn record(&mut self, tx_id: TxId, hash: PayloadHash) {
        let window = self.origins.entry(tx_id.origin).or_default();
        window.recent.insert(tx_id.counter, hash);
        while window.recent.len() > RECENT_PER_ORIGIN {
            if let Some((counter, _)) = window.recent.pop_first() {
                window.forgotten_through = window.forgotten_through.max(counter);
            }
        }
    }
}

/// What replaying one entry did.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EntryOutcome {
    /// Applied; the shadow moved to this version.
    Applied {
        /// The new version.
        version: u64,
    },
    /// It changed nothing (a no-op the rules skip).
    Unchanged,
    /// It had taken effect before; skipped.
    Skipped,
    /// The shadow refused it (bad request, too large); it will never apply,
    /// so it counts as done.
    Rejected(Rejection),
    /// The tx id was used before with another payload; not applied.
    Refused(ReplayError),
}

/// What a replay did, entry by entry.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ReplayReport {
    /// Each entry's outcome, in replay order.
    pub outcomes: Vec<(TxId, EntryOutcome)>,
    /// Fields left in conflict.
    pub conflicts: Vec<FieldConflict>,
}

impl ReplayReport {
    /// Entries the device may drop from its queue: every one that took
    /// effect, was skipped, or can never apply.
    #[must_use]
    pub fn acknowledged(&self) -> Vec<TxId> {
        self.outcomes
            .iter()
            .filter(|(_, outcome)| !matches!(outcome, EntryOutcome::Refused(_)))
            .map(|(tx_id, _)| *tx_id)
            .collect()
    }

    /// How many entries were applied.
    #[must_use]
    pub fn applied(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|(_, o)| matches!(o, EntryOutcome::Applied { .. }))
            .count()
    }
}

/// Replays `entries` (in the order given: stamp order from
/// [`OfflineQueue::pending`](crate::OfflineQueue::pending)) into `document`,
/// skipping those `applied` has seen. `base` is the shadow version the
/// device last synchronised with.
pub fn replay(
    document: &mut ShadowDocument,
    applied: &mut AppliedIndex,
    entries: &[&QueueEntry],
    base: u64,
    rules: &ShadowRules,
) -> ReplayReport {
    let mut report = ReplayReport::default();
    for entry in entries {
        let outcome = replay_one(document, applied, entry, base, rules, &mut report.conflicts);
        #[cfg(feature = "tracing")]
        if let EntryOutcome::Refused(refusal) = &outcome {
            tracing::warn!(tx_id = %entry.tx_id, %refusal, "shadow.replay refused an entry");
        }
        report.outcomes.push((entry.tx_id, outcome));
    }
    #[cfg(feature = "tracing")]
    {
        for conflict in &report.conflicts {
            tracing::warn!(section = ?conflict.section, path = %conflict.path, "shadow.replay left a field in conflict");
        }
        tracing::debug!(
            entries = entries.len(),
            applied = report.applied(),
            base,
            version = document.version(),
            "shadow.replay"
        );
    }
    report
}

fn replay_one(
    document: &mut ShadowDocument,
    applied: &mut AppliedIndex,
    entry: &QueueEntry,
    base: u64,
    rules: &ShadowRules,
    conflicts: &mut Vec<FieldConflict>,
) -> EntryOutcome {
    if PayloadHash::of_canonical(&entry.payload) != entry.payload_hash {
        return EntryOutcome::Refused(ReplayError::HashMismatch { tx_id: entry.tx_id });
    }
    match applied.admit(entry.tx_id, &entry.payload_hash) {
        Ok(Admission::AlreadyApplied) => return EntryOutcome::Skipped,
        Ok(Admission::New) => {}
        Err(refusal) => return EntryOutcome::Refused(refusal),
    }
    let context = WriteContext {
        at: Timestamp::from_secs(entry.version_stamp.physical_ms / 1000),
        stamp: entry.version_stamp,
        replay: Some(Replayed {
            base_version: base,
            origin: entry.tx_id.origin,
        }),
    };
    let outcome = entry
        .payload()
        .map_err(|e| Rejection::InvalidJson { detail: e.to_string() })
        .and_then(|payload| UpdateRequest::from_value(payload, &rules.limits))
        .and_then(|request| document.apply(request, context, rules));
    applied.record(entry.tx_id, entry.payload_hash);
    match outcome {
        Ok(outcome) if outcome.changed => {
            conflicts.extend(outcome.conflicts);
            EntryOutcome::Applied {
                version: document.version(),
            }
        }
        Ok(_) => EntryOutcome::Unchanged,
        Err(rejection) => EntryOutcome::Rejected(rejection),
    }
}
