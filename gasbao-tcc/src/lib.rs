//! Try-Confirm-Cancel settlement for gas billing.
//!
//! A charge touches several services: the account service freezes the
//! amount on a prepaid balance (Try), the metering service reserves the gas
//! quota (Try), and only when both succeeded is the charge made real
//! (Confirm) or else released (Cancel). This crate makes that exact under
//! crashes, retries, timeouts and duplicate messages.
//!
//! # Map
//!
//! - [`Participant`]: Try ([`reserve`](Participant::reserve)), Confirm,
//!   Cancel of one branch; async and object-safe. [`BranchCall`],
//!   [`CallOutcome`], [`Phase`], [`BranchRequest`].
//! - [`Barrier`], [`BarrierStore`], [`BarrierRecord`], [`BarrierState`],
//!   [`Admission`], [`BarrierRefusal`]: the participant side, kept in the
//!   participant's own local transaction.
//! - [`Coordinator`], [`CoordinatorConfig`], [`GlobalTransaction`],
//!   [`Participants`], [`ParticipantRef`], [`Outcome`],
//!   [`ParkedTransaction`], [`RetryPolicy`]: the coordinator.
//! - [`CoordinatorLog`], [`LogEntry`], [`RecoveredLog`], [`LiveTransaction`],
//!   [`TransactionRecord`], [`BranchRecord`], [`Decision`],
//!   [`CancelReason`], [`Parking`], [`Resolution`]: what it keeps durably;
//!   [`JournalLog`] on the gasbao-core journal, [`MemoryLog`] in memory.
//! - [`ReservationLedger`] ([`PrepaidLedger`] of money, [`GasQuota`] of gas),
//!   [`Reservation`], [`Balance`], [`AccountId`], [`LedgerOptions`],
//!   [`Quantity`]: reference participants on the barrier, durable on the journal.
//! - [`Observer`], [`Event`], [`RecoveryRule`]: what it reports.
//! - [`Environment`], [`Clock`], [`Timer`], [`Entropy`], [`SystemClock`],
//!   [`ThreadTimer`], [`SystemEntropy`], [`BoxFuture`]: time, sleep and
//!   randomness from the host; no async runtime is required.
//! - [`simulation`] (feature `simulation`): a seeded executor with a
//!   simulated clock, for deterministic tests.
//! - [`GlobalTxId`], [`CoordinatorId`], [`BranchId`], [`BranchKey`], [`Timestamp`].
//! - Errors: [`RunError`], [`OpenError`], [`ResolveError`], [`BranchError`],
//!   [`RegisterError`], [`LogError`], [`RequestDecodeError`],
//!   [`RecordDecodeError`], [`LedgerError`].
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

mod barrier;
mod codec;
mod coordinator;
mod env;
mod error;
mod group_commit;
mod ids;
mod journal_log;
mod ledger;
mod log;
mod memory_log;
mod observer;
mod parallel;
mod participant;
mod participants;
mod retry;
#[cfg(feature = "simulation")]
#[cfg_attr(docsrs, doc(cfg(feature = "simulation")))]
pub mod simulation;
mod snapshot;

pub use barrier::{Admission, Barrier, BarrierRecord, BarrierRefusal, BarrierState, BarrierStore};
pub use coordinator::{Coordinator, CoordinatorConfig, GlobalTransaction, Outcome, ParkedTransaction};
pub use env::{BoxFuture, Clock, Entropy, Environment, SystemClock, SystemEntropy, ThreadTimer, Timer};
pub use error::{
    BranchError, LedgerError, LogError, OpenError, RecordDecodeError, RegisterError, RequestDecodeError, ResolveError,
    RunError,
};
pub use group_commit::SyncStrategy;
pub use ids::{BranchId, BranchKey, CoordinatorId, GlobalTxId, Timestamp};
pub use journal_log::JournalLog;
pub use ledger::{
    AccountId, Balance, GasQuota, LedgerOptions, PrepaidLedger, Quantity, Reservation, ReservationLedger,
};
pub use log::{
    BranchRecord, CancelReason, CoordinatorLog, Decision, LiveTransaction, LogEntry, Parking, RecoveredLog, Resolution,
    TransactionRecord,
};
pub use memory_log::MemoryLog;
pub use observer::{Event, Observer, RecoveryRule};
pub use participant::{BranchCall, BranchRequest, CallOutcome, Participant, Phase};
pub use participants::{ParticipantRef, Participants};
pub use retry::RetryPolicy;
