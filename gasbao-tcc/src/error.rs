//! Every way gasbao-tcc can fail, split by operation.

use std::sync::Arc;

use gasbao_core::journal::{AppendError, OpenError as JournalOpenError, ReadError};
use thiserror::Error;

use crate::ids::GlobalTxId;

/// A [`BranchRequest`](crate::BranchRequest) could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("the request does not decode: {what}")]
#[non_exhaustive]
pub struct RequestDecodeError {
    /// What was wrong.
    pub what: &'static str,
}

impl RequestDecodeError {
    /// An error saying what was wrong.
    #[must_use]
    pub const fn new(what: &'static str) -> RequestDecodeError {
        RequestDecodeError { what }
    }
}

/// A log record could not be read: which field, at which byte.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("cannot read the {what} at byte {offset}")]
#[non_exhaustive]
pub struct RecordDecodeError {
    /// The field being read.
    pub what: &'static str,
    /// Its offset in the record.
    pub offset: usize,
}

/// A coordinator log or a reference participant's journal failed.
#[derive(Debug, Clone, Error)]
#[non_exhaustive]
pub enum LogError {
    /// The journal could not be opened.
    #[error("the journal could not be opened")]
    Open(#[source] Arc<JournalOpenError>),
    /// An append or sync failed; the journal refuses writes from now on,
    /// and what was not acknowledged as durable may be lost.
    #[error("the journal could not be written")]
    Append(#[source] Arc<AppendError>),
    /// Reading the journal back failed.
    #[error("the journal could not be read")]
    Read(#[source] Arc<ReadError>),
    /// A record passed the journal's checksums but is not one this crate wrote.
    #[error("record {seq} is not a valid entry")]
    Corrupt {
        /// Its sequence number in the journal.
        seq: u64,
        /// What could not be read.
        #[source]
        source: RecordDecodeError,
    },
    /// An entry contradicts the entries before it.
    #[error("transaction {gtid} {problem}")]
    Inconsistent {
        /// The transaction.
        gtid: GlobalTxId,
        /// What the entry contradicts.
        problem: &'static str,
    },
    /// The background sync thread could not be started.
    #[error("the journal's sync thread could not be started")]
    SyncThread(#[source] Arc<std::io::Error>),
    /// Another coordinator owns the transaction now (this one's lease
    /// lapsed and it was taken over): the write was refused, and this
    /// coordinator must leave the transaction alone.
    #[error("transaction {gtid} is owned by another coordinator now; the write was refused")]
    NotOwner {
        /// The transaction.
        gtid: GlobalTxId,
    },
    /// A database behind the log failed; a write may or may not have taken effect.
    #[error("the coordinator log's database failed")]
    Database(#[source] Arc<dyn std::error::Error + Send + Sync>),
    /// The journal's oldest records were removed without a snapshot of what
    /// they held.
    #[error("records before {first_seq} were removed and no snapshot replaces them")]
    MissingSnapshot {
        /// The oldest record kept.
        first_seq: u64,
    },
}

impl From<AppendError> for LogError {
    fn from(error: AppendError) -> LogError {
        LogError::Append(Arc::new(error))
    }
}

impl From<ReadError> for LogError {
    fn from(error: ReadError) -> LogError {
        LogError::Read(Arc::new(error))
    }
}

impl From<JournalOpenError> for LogError {
    fn from(error: JournalOpenError) -> LogError {
        LogError::Open(Arc::new(error))
    }
}

/// A [`Coordinator`](crate::Coordinator) could not open.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum OpenError {
    /// Its log could not be read.
    #[error("the coordinator log could not be recovered")]
    Log(#[source] LogError),
    /// A transaction in the log has a branch at a participant not registered.
    #[error("transaction {gtid} has a branch at participant {participant:?}, which is not registered")]
    UnknownParticipant {
        /// The transaction.
        gtid: GlobalTxId,
        /// The participant's name.
        participant: String,
    },
}

/// A branch could not be added to a [`GlobalTransaction`](crate::GlobalTransaction).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BranchError {
    /// The participant is registered with another coordinator.
    #[error("participant {participant:?} is not registered with this coordinator")]
    ForeignParticipant {
        /// Its name.
        participant: String,
    },
    /// A transaction has at most 65,536 branches.
    #[error("a transaction has at most {max} branches")]
    TooManyBranches {
        /// The limit.
        max: usize,
    },
}

/// [`Coordinator::run`](crate::Coordinator::run) could not bring a transaction to an outcome.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RunError {
    /// The transaction has no branches.
    #[error("a transaction needs at least one branch")]
    NoBranches,
    /// Its beginning could not be logged: no participant was called, and it
    /// does not exist.
    #[error("transaction {gtid} could not be logged; no participant was called")]
    NotBegun {
        /// The transaction.
        gtid: GlobalTxId,
        /// Why.
        #[source]
        source: LogError,
    },
    /// Its decision could not be made durable: the outcome is settled when
    /// the coordinator reopens its log (the decision if it survived, else
    /// Cancel).
    #[error("the decision of transaction {gtid} could not be logged; recovery will settle it")]
    InDoubt {
        /// The transaction.
        gtid: GlobalTxId,
        /// Why.
        #[source]
        source: LogError,
    },
    /// The decision is durable and was delivered as far as it went, but the
    /// progress could not be logged: reopening the log delivers it again.
    #[error("transaction {gtid} was decided ({decision}) but its progress could not be logged")]
    Unrecorded {
        /// The transaction.
        gtid: GlobalTxId,
        /// The durable decision.
        decision: crate::Decision,
        /// Why.
        #[source]
        source: LogError,
    },
}

/// [`Coordinator::resolve`](crate::Coordinator::resolve) was refused.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// No such transaction is parked.
    #[error("transaction {gtid} is not parked")]
    NotParked {
        /// The transaction.
        gtid: GlobalTxId,
    },
    /// The resolution could not be logged; nothing changed.
    #[error("the resolution of transaction {gtid} could not be logged")]
    Log {
        /// The transaction.
        gtid: GlobalTxId,
        /// Why.
        #[source]
        source: LogError,
    },
}

/// A participant could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RegisterError {
    /// Another participant has that name.
    #[error("a participant named {name:?} is already registered")]
    Duplicate {
        /// The name.
        name: String,
    },
}

/// A reference participant ([`PrepaidLedger`](crate::PrepaidLedger),
/// [`GasQuota`](crate::GasQuota)) refused a change or could not log it.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// Its journal failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// No such account.
    #[error("account {account} does not exist")]
    UnknownAccount {
        /// The account.
        account: crate::AccountId,
    },
    /// The account was opened before.
    #[error("account {account} is already open")]
    AccountExists {
        /// The account.
        account: crate::AccountId,
    },
    /// A top-up or opening balance must be positive (an opening may be zero).
    #[error("the amount for account {account} is not positive")]
    NotPositive {
        /// The account.
        account: crate::AccountId,
    },
    /// A balance would exceed what a decimal holds.
    #[error("a balance of account {account} would overflow")]
    Overflow {
        /// The account.
        account: crate::AccountId,
    },
    /// The balance does not cover the amount.
    #[error("account {account} has {have}, less than {need}")]
    Insufficient {
        /// The account.
        account: crate::AccountId,
        /// What the balance holds.
        have: rust_decimal::Decimal,
        /// What was asked for.
        need: rust_decimal::Decimal,
    },
    /// A record is out of place in the journal.
    #[error("the journal is not a ledger's: {problem}")]
    Replay {
        /// What is out of place.
        problem: &'static str,
    },
    /// A journal record does not apply to the state before it.
    #[error("record {seq} does not apply")]
    ReplayAt {
        /// The record's sequence number.
        seq: u64,
        /// Why.
        #[source]
        source: Box<LedgerError>,
    },
}
