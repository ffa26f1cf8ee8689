//! What the coordinator must keep durably, as a trait any store can
//! implement: the embedded [`JournalLog`](crate::JournalLog), memory, or a
//! database.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::env::BoxFuture;
use crate::error::LogError;
use crate::ids::{BranchId, GlobalTxId, Timestamp};
use crate::participant::Phase;

/// The coordinator's durable state, written as entries in order.
///
/// An implementation keeps, for every transaction not yet finished, what the
/// entries say of it ([`LiveTransaction`]), and the highest transaction
/// number ever begun. Nothing in it is about files: a database implements
/// `write` as one SQL transaction over a few tables.
pub trait CoordinatorLog: Send + Sync + 'static {
    /// Writes `entries` atomically and in order. With `durable`, returns
    /// only once they, and every entry written before them, survive a
    /// crash; without, they may be lost in a crash, but only with
    /// everything written after them.
    fn write<'a>(&'a self, entries: &'a [LogEntry], durable: bool) -> BoxFuture<'a, Result<(), LogError>>;

    /// What survived: every transaction begun and not finished, and the
    /// highest transaction number ever begun. Called once, when a
    /// coordinator opens the log.
    fn recover(&self) -> BoxFuture<'_, Result<RecoveredLog, LogError>>;

    /// Forgets finished transactions so that the log does not grow without
    /// bound; returns how many entries' worth of storage was released, as
    /// the store counts it. The default does nothing.
    fn compact(&self) -> BoxFuture<'_, Result<u64, LogError>> {
        Box::pin(async { Ok(0) })
    }

    /// For a log shared by several coordinators: the unfinished
    /// transactions of coordinators whose lease lapsed (crashed, frozen,
    /// cut off), now owned by this one. Each is claimed by exactly one
    /// coordinator, and the claim fences the former owner off: its later
    /// writes for them fail with [`LogError::NotOwner`]. A log with a single
    /// coordinator returns none, which is the default.
    fn take_over(&self) -> BoxFuture<'_, Result<Vec<LiveTransaction>, LogError>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    /// For a log shared by several coordinators: stops this coordinator
    /// acting and lets the others take its unfinished transactions over at
    /// once, instead of after its lease. Afterwards [`owns`](Self::owns)
    /// answers false and new transactions are refused. The default, for a
    /// log with a single coordinator, does nothing.
    fn release(&self) -> BoxFuture<'_, Result<(), LogError>> {
        Box::pin(async { Ok(()) })
    }

    /// Whether this coordinator may still act for `gtid`: false once its
    /// lease lapsed or another coordinator took `gtid` over, and the
    /// coordinator then stops calling its participants. Writes are fenced
    /// by the log regardless; this only saves calls. The default is true.
    fn owns(&self, gtid: GlobalTxId) -> bool {
        let _ = gtid;
        true
    }
}

/// One change to the coordinator's state.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogEntry {
    /// A transaction began, with all its branches; written before any Try.
    Began(Arc<TransactionRecord>),
    /// Confirm or Cancel was decided; written before any phase-two call.
    Decided {
        /// The transaction.
        gtid: GlobalTxId,
        /// Confirm or Cancel, and why.
        decision: Decision,
    },
    /// A branch acknowledged phase two.
    Settled {
        /// The transaction.
        gtid: GlobalTxId,
        /// The branch.
        branch: BranchId,
    },
    /// Phase two stopped retrying: an operator must look.
    Parked {
        /// The transaction.
        gtid: GlobalTxId,
        /// Why, and where it stood.
        parking: Parking,
    },
    /// An operator resolved a parked transaction.
    Resolved {
        /// The transaction.
        gtid: GlobalTxId,
        /// What the operator did.
        resolution: Resolution,
        /// When.
        at: Timestamp,
    },
    /// Every branch settled (or an operator closed it): nothing is left to do.
    Finished {
        /// The transaction.
        gtid: GlobalTxId,
    },
}

/// A transaction as it began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionRecord {
    /// Its id.
    pub gtid: GlobalTxId,
    /// When it began.
    pub began: Timestamp,
    /// Its global deadline: without a decision by then, it is cancelled.
    pub deadline: Timestamp,
    /// Its branches, in [`BranchId`] order.
    pub branches: Vec<BranchRecord>,
}

/// One branch as registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchRecord {
    /// The name its participant was registered under.
    pub participant: Arc<str>,
    /// Its request, as [`BranchRequest::encode`](crate::BranchRequest::encode) wrote it.
    pub request: Vec<u8>,
}

/// What a coordinator decided, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// Every Try succeeded.
    Confirm,
    /// Release every reservation.
    Cancel(CancelReason),
}

impl Decision {
    /// The phase this decision delivers.
    #[must_use]
    pub fn phase(&self) -> Phase {
        match self {
            Decision::Confirm => Phase::Confirm,
            Decision::Cancel(_) => Phase::Cancel,
        }
    }
}

/// Why a transaction was cancelled.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CancelReason {
    /// A participant refused its Try (a definite failure).
    TryRefused {
        /// The branch.
        branch: BranchId,
        /// The participant's reason.
        reason: String,
    },
    /// A Try had no definite answer by the deadline.
    DeadlinePassed {
        /// The first branch still without an answer.
        branch: BranchId,
    },
    /// The coordinator found the transaction undecided when it reopened its
    /// log (presumed abort): whoever began it is gone.
    Recovered,
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Confirm => f.write_str("confirm"),
            Decision::Cancel(CancelReason::TryRefused { branch, reason }) => {
                write!(f, "cancel: branch {branch} refused its Try: {reason}")
            }
            Decision::Cancel(CancelReason::DeadlinePassed { branch }) => {
                write!(f, "cancel: branch {branch} had no answer to its Try by the deadline")
            }
            Decision::Cancel(CancelReason::Recovered) => {
                f.write_str("cancel: undecided when the coordinator recovered")
            }
        }
    }
}

/// Why phase two stopped retrying a transaction, and where it stood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parking {
    /// The first branch that did not settle within the budget.
    pub branch: BranchId,
    /// The phase it was being sent.
    pub phase: Phase,
    /// Calls made to it in this delivery.
    pub attempts: u32,
    /// Its last answer.
    pub last_answer: String,
    /// When it was parked.
    pub at: Timestamp,
}

/// What an operator did about a parked transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Resolution {
    /// Deliver the recorded decision again now, with a fresh retry budget.
    RetryNow,
    /// The operator applied the recorded decision at the unsettled
    /// participants by other means (force confirm or cancel as recorded).
    AppliedByHand {
        /// What was done, for the audit trail.
        note: String,
    },
    /// The operator closed the transaction without it being applied (mark
    /// done by hand).
    ClosedByHand {
        /// Why, for the audit trail.
        note: String,
    },
}

/// What a log holds when a coordinator opens it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecoveredLog {
    /// Every transaction begun and not finished, by id.
    pub live: BTreeMap<GlobalTxId, LiveTransaction>,
    /// The highest transaction number ever begun, per coordinator.
    pub last_numbers: BTreeMap<crate::CoordinatorId, u64>,
}

/// A transaction not yet finished, as the log's entries describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LiveTransaction {
    /// As it began.
    pub record: Arc<TransactionRecord>,
    /// The decision, once made.
    pub decision: Option<Decision>,
    /// Per branch, whether it acknowledged phase two.
    pub settled: Vec<bool>,
    /// Why it is parked, while it is.
    pub parked: Option<Parking>,
}

impl LiveTransaction {
    /// A transaction that has just begun.
    #[must_use]
    pub fn new(record: Arc<TransactionRecord>) -> LiveTransaction {
        let settled = vec![false; record.branches.len()];
        LiveTransaction {
            record,
            decision: None,
            settled,
            parked: None,
        }
    }
}

impl RecoveredLog {
    /// Applies `entries` all or none.
    ///
    /// # Errors
    ///
    /// As [`apply`](Self::apply), with nothing applied.
    pub fn apply_all(&mut self, entries: &[LogEntry]) -> Result<(), LogError> {
        if let [entry] = entries {
            // `apply` checks before it changes anything.
            return self.apply(entry);
        }
        let mut next = self.clone();
        entries.iter().try_for_each(|entry| next.apply(entry))?;
        *self = next;
        Ok(())
    }

    /// Applies one entry, or nothing if it is refused: the reference
    /// semantics of the entries, which every implementation follows. Entries for unknown transactions, or that
    /// contradict the state (a second, different decision), are refused.
    ///
    /// # Errors
    ///
    /// [`LogError::Inconsistent`] naming the entry's transaction and what
    /// it contradicts.
    pub fn apply(&mut self, entry: &LogEntry) -> Result<(), LogError> {
        let inconsistent = |gtid: GlobalTxId, problem: &'static str| LogError::Inconsistent { gtid, problem };
        match entry {
            LogEntry::Began(record) => {
                // Concurrent transactions may log their start out of number order.
                if self.live.contains_key(&record.gtid) {
                    return Err(inconsistent(record.gtid, "began twice"));
                }
                let last = self.last_numbers.entry(record.gtid.coordinator).or_default();
                *last = (*last).max(record.gtid.number);
                self.live.insert(record.gtid, LiveTransaction::new(Arc::clone(record)));
            }
            LogEntry::Decided { gtid, decision } => {
                let tx = self
                    .live
                    .get_mut(gtid)
                    .ok_or(inconsistent(*gtid, "decided but never began"))?;
                match &tx.decision {
                    Some(recorded) if recorded.phase() != decision.phase() => {
                        return Err(inconsistent(*gtid, "decided twice, differently"));
                    }
                    Some(_) => {}
                    None => tx.decision = Some(decision.clone()),
                }
            }
            LogEntry::Settled { gtid, branch } => {
                let tx = self
                    .live
                    .get_mut(gtid)
                    .ok_or(inconsistent(*gtid, "settled but never began"))?;
                if tx.decision.is_none() {
                    return Err(inconsistent(*gtid, "settled before a decision"));
                }
                let slot = tx
                    .settled
                    .get_mut(usize::from(branch.0))
                    .ok_or(inconsistent(*gtid, "settled a branch it does not have"))?;
                *slot = true;
            }
            LogEntry::Parked { gtid, parking } => {
                let tx = self
                    .live
                    .get_mut(gtid)
                    .ok_or(inconsistent(*gtid, "parked but never began"))?;
                if tx.decision.is_none() {
                    return Err(inconsistent(*gtid, "parked before a decision"));
                }
                tx.parked = Some(parking.clone());
            }
            LogEntry::Resolved { gtid, resolution, .. } => {
                let tx = self
                    .live
                    .get_mut(gtid)
                    .ok_or(inconsistent(*gtid, "resolved but never began"))?;
                if tx.decision.is_none() {
                    return Err(inconsistent(*gtid, "resolved before a decision"));
                }
                tx.parked = None;
                if !matches!(resolution, Resolution::RetryNow) {
                    tx.settled.iter_mut().for_each(|settled| *settled = true);
                }
            }
            LogEntry::Finished { gtid } => {
                let tx = self
                    .live
                    .get(gtid)
                    .ok_or(inconsistent(*gtid, "finished but never began"))?;
                if tx.decision.is_none() {
                    return Err(inconsistent(*gtid, "finished before a decision"));
                }
                self.live.remove(gtid);
            }
        }
        Ok(())
    }
}
