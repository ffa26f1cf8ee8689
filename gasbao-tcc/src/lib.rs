//! Try-Confirm-Cancel settlement for gas billing.
//!
//! A charge touches several services: the account service freezes the
//! amount on a prepaid balance (Try), the metering service reserves the gas
//! quota (Try), and only when both succeeded is the charge made real
//! (Confirm) or else released (Cancel). This crate makes that exact under
//! crashes, retries, timeouts and duplicate messages.
//!
//! # Quick start
//!
//! ```
//! use std::time::Duration;
//! use gasbao_core::journal::{JournalOptions, MemoryStorage};
//! use gasbao_core::{Money, Volume};
//! use gasbao_tcc::*;
//!
//! # let runtime = tokio::runtime::Builder::new_current_thread().build()?;
//! # runtime.block_on(async {
//! let env = Environment::system();
//! // Two participants; in production each is a client of a remote service.
//! let ledger = PrepaidLedger::open(MemoryStorage::new(), &env, LedgerOptions::default())?;
//! let quota = GasQuota::open(MemoryStorage::new(), &env, LedgerOptions::default())?;
//! ledger.open_account(AccountId(7), Money::from_fen(10_000)).await?;
//! quota.open_account(AccountId(7), Volume::from_whole_m3(300)).await?;
//! let (ledger, quota) = (std::sync::Arc::new(ledger), std::sync::Arc::new(quota));
//!
//! let mut participants = Participants::new();
//! let accounts = participants.add("accounts", ledger.clone())?;
//! let metering = participants.add("metering", quota.clone())?;
//! let log = JournalLog::open(MemoryStorage::new(), JournalOptions::default(), SyncStrategy::Thread)?;
//! let coordinator = Coordinator::open(CoordinatorConfig::new(CoordinatorId(1)), log, env, participants, None).await?;
//! coordinator.recover().await; // nothing to recover in a new log
//!
//! // Charge 26.13 yuan for 10 m3 of gas.
//! let mut charge = coordinator.begin(Duration::from_secs(30));
//! charge.add_branch(&accounts, &Reservation { account: AccountId(7), amount: Money::from_fen(2_613) })?;
//! charge.add_branch(&metering, &Reservation { account: AccountId(7), amount: Volume::from_whole_m3(10) })?;
//! assert_eq!(coordinator.run(charge).await?, Outcome::Confirmed);
//!
//! let balance = ledger.balance(AccountId(7)).unwrap();
//! assert_eq!((balance.available, balance.frozen, balance.consumed), (Money::from_fen(7_387), Money::ZERO, Money::from_fen(2_613)));
//!
//! // A charge the balance does not cover is refused at Try and cancelled everywhere.
//! let mut charge = coordinator.begin(Duration::from_secs(30));
//! charge.add_branch(&accounts, &Reservation { account: AccountId(7), amount: Money::from_fen(9_000) })?;
//! charge.add_branch(&metering, &Reservation { account: AccountId(7), amount: Volume::from_whole_m3(20) })?;
//! assert!(matches!(coordinator.run(charge).await?, Outcome::Cancelled(CancelReason::TryRefused { .. })));
//! assert_eq!(quota.balance(AccountId(7)).unwrap().available, Volume::from_whole_m3(290));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The protocol
//!
//! [`Coordinator::run`] logs the transaction and all its branches, then
//! sends every Try at once, each retried on an unknown answer until the
//! transaction's deadline. It decides Confirm if every Try succeeded, Cancel
//! at the first definite refusal or when a Try has no answer by the
//! deadline; logs the decision durably; then delivers it to every branch in
//! parallel, each retried with capped, jittered backoff until it
//! acknowledges. A branch still unsettled after [`RetryPolicy::max_age`]
//! parks the transaction: it is reported ([`Event::Parked`],
//! [`Coordinator::parked`]) and waits for an operator
//! ([`Coordinator::resolve`]).
//!
//! Participants keep a [`Barrier`] in their own local transaction: it makes
//! every call idempotent, turns a Cancel that overtook its Try into an empty
//! rollback, and refuses a Try that arrives after its Cancel or deadline.
//!
//! # Guarantees
//!
//! With a participant that uses the [`Barrier`] as documented, and a
//! [`CoordinatorLog`] whose durable writes survive crashes:
//!
//! | failure | what holds |
//! |---|---|
//! | lost, delayed, duplicated or reordered calls and replies | each branch's Confirm or Cancel takes effect at most once, never both; a duplicate answers as the original did |
//! | a call times out, or its reply is lost | it counts as unknown, never as a refusal: it is retried (Try until the deadline, phase two within the budget) |
//! | a Try arrives after its Cancel, or after the deadline | it is refused and reserves nothing, also after barrier cleanup |
//! | the coordinator crashes before the decision is durable | reopening cancels the transaction (presumed abort) |
//! | the coordinator crashes after the decision is durable | reopening delivers the same decision; a decision never changes |
//! | a participant crashes | its answer was given only after its record was durable; what it lost, it never acknowledged, and the coordinator's retries redo it |
//! | a branch never acknowledges phase two | after the retry budget the transaction is parked and reported, never retried silently forever |
//! | the log grows | finished transactions are compacted away; settled barrier records are removed after deadline + grace |
//!
//! Retries of one branch wait at least `base / 2` between calls. These
//! properties are checked by a deterministic simulation of crashes and
//! network faults (`tests/simulation.rs`; see the README).
//!
//! Known limits: one coordinator per embedded log (the journal's writer
//! lock enforces it for [`JournalLog`]; several share a `postgres::PgCoordinatorLog`); the deadline is checked against each
//! participant's own clock, so barrier grace periods must exceed clock
//! skew; a Try in flight when the coordinator crashes may hold its
//! reservation until recovery cancels it.
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
//! - [`Observer`], [`Event`], [`RecoveryRule`]: what it reports; with
//!   feature `tracing`, also a `tcc.transaction` span per transaction, a
//!   `tcc.branch` span per call and an event per [`Event`].
//! - [`Environment`], [`Clock`], [`Timer`], [`Entropy`], [`SystemClock`],
//!   [`ThreadTimer`], [`SystemEntropy`], [`BoxFuture`]: time, sleep and
//!   randomness from the host; no async runtime is required.
//! - `simulation` (feature `simulation`): a seeded executor with a
//!   simulated clock, for deterministic tests.
//! - `postgres` (feature `postgres`): a coordinator log shared by several
//!   coordinator processes (leases, fencing tokens, takeover with
//!   [`Coordinator::take_over`]), the barrier in a participant's SQL
//!   transaction, and the reference ledger on PostgreSQL.
//! - [`GlobalTxId`], [`CoordinatorId`], [`BranchId`], [`BranchKey`], [`Timestamp`].
//! - Errors: [`RunError`], [`OpenError`], [`ResolveError`], [`BranchError`],
//!   [`RegisterError`], [`LogError`], [`RequestDecodeError`],
//!   [`RecordDecodeError`], [`LedgerError`].
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

/// The README's examples run as doctests, so the quick start stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

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
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod postgres;
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
