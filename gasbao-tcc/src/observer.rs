//! What a coordinator reports as it works, for metrics and alerts.

use std::time::Duration;

use crate::ids::{BranchId, GlobalTxId};
use crate::log::{Decision, Parking, Resolution};
use crate::participant::{CallOutcome, Phase};

/// Receives a coordinator's [`Event`]s, on the task that caused them: keep
/// it quick (count, or hand off to a channel).
pub trait Observer: Send + Sync + 'static {
    /// One event.
    fn observe(&self, event: &Event<'_>);
}

/// Something a coordinator did.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A transaction was logged and its Trys are being sent.
    Began {
        /// The transaction.
        gtid: GlobalTxId,
        /// How many branches it has.
        branches: usize,
    },
    /// A decision was made durable.
    Decided {
        /// The transaction.
        gtid: GlobalTxId,
        /// The decision.
        decision: &'a Decision,
    },
    /// A call got no success and will be made again after `delay`.
    Retrying {
        /// The transaction.
        gtid: GlobalTxId,
        /// The branch.
        branch: BranchId,
        /// The call.
        phase: Phase,
        /// Calls made so far.
        attempt: u32,
        /// The wait before the next.
        delay: Duration,
        /// The answer that was not a success.
        answer: &'a CallOutcome,
    },
    /// A transaction stopped retrying and waits for an operator.
    Parked {
        /// The transaction.
        gtid: GlobalTxId,
        /// Why.
        parking: &'a Parking,
    },
    /// Reopening the log found a transaction unfinished, and what was done.
    Recovered {
        /// The transaction.
        gtid: GlobalTxId,
        /// Which rule applied.
        rule: RecoveryRule,
    },
    /// An operator resolved a parked transaction.
    Resolved {
        /// The transaction.
        gtid: GlobalTxId,
        /// What the operator did.
        resolution: &'a Resolution,
    },
    /// Every branch settled.
    Finished {
        /// The transaction.
        gtid: GlobalTxId,
        /// The decision that was applied.
        decision: &'a Decision,
    },
    /// Compacting the log failed; it is tried again later.
    CompactionFailed {
        /// The error, displayed.
        error: &'a crate::LogError,
    },
}

/// What recovery does with an unfinished transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecoveryRule {
    /// No decision was logged: it is cancelled (presumed abort).
    PresumedAbort,
    /// Its decision is delivered again to the branches that did not acknowledge it.
    Redeliver,
    /// It was parked and stays parked until an operator resolves it.
    StaysParked,
}
