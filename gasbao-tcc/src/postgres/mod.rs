//! PostgreSQL backends: a coordinator log shared by several coordinator
//! processes, the participant barrier inside the participant's own SQL
//! transaction, and the reference ledger on it.
//!
//! - [`PgCoordinatorLog`]: a [`CoordinatorLog`](crate::CoordinatorLog) with
//!   leases, fencing tokens and takeover; run
//!   [`Coordinator::take_over`](crate::Coordinator::take_over) periodically
//!   in every coordinator process.
//! - [`PgBarrier`]: [`Barrier`](crate::Barrier) semantics on a
//!   `tcc_barrier` table, in a transaction of yours.
//! - [`PgReservationLedger`]: the reference participant, with balances in a
//!   `ledger_accounts` table whose CHECK constraints refuse negatives.
//!
//! Built on `tokio-postgres` with a `deadpool-postgres` pool: plain SQL, no
//! compile-time database, and a [`Transaction`](tokio_postgres::Transaction)
//! a participant can put its barrier record and its business change in.
//! Needs a tokio runtime.
//!
//! # Schema
//!
//! Each part migrates its own tables into the schema you name, on open
//! (see [`gasbao_core::postgres::migrate`]):
//!
//! | table | what | migrated by |
//! |---|---|---|
//! | `coordinators` | one row per coordinator id: `generation`, `lease_until` (database clock), `last_number` kept past compaction | [`PgCoordinatorLog::open`] |
//! | `transactions` | one row per global transaction until compacted: `owner`, `epoch` (fencing token), encoded `record`, `decision` and `phase`, `settled boolean[]`, `parked`, `finished` | [`PgCoordinatorLog::open`] |
//! | `tcc_barrier` | one row per branch a participant was called for: `state` (`T` tried, `C` confirmed, `X` cancelled, `F` fenced), `deadline_ms` | [`migrate_participant`] |
//! | `ledger_accounts` | the reference ledger: `available`, `frozen`, `consumed` (`numeric`, each `CHECK (>= 0)`) | [`migrate_participant`] |
//!
//! The SQL files are in the crate's `migrations/` directory.
//!
//! # Known limits
//!
//! Every write commits synchronously, so a global transaction costs about
//! five commits at the coordinator and two per branch at participants.
//! Coordinators sharing a log must register the same participants. A
//! coordinator whose lease lapsed stops acting for good; open the log again
//! (a new process, or a new [`Coordinator`](crate::Coordinator)) to resume.

mod barrier;
mod ledger;
mod log;

use gasbao_core::postgres::deadpool_postgres::PoolError;
use gasbao_core::postgres::{Migration, MigrationError, SchemaName, migrate, tokio_postgres};
use thiserror::Error;

pub use barrier::{PgBarrier, PgBarrierError};
pub use ledger::PgReservationLedger;
pub use log::{PgCoordinatorLog, PgLogOptions};

use crate::error::RecordDecodeError;
use crate::ids::{CoordinatorId, GlobalTxId};

/// The coordinator log's migrations.
pub const COORDINATOR_MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "coordinator log",
    sql: include_str!("../../migrations/coordinator/0001_coordinator_log.sql"),
}];

/// A participant's migrations: the barrier table and the reference ledger's accounts.
pub const PARTICIPANT_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "barrier",
        sql: include_str!("../../migrations/participant/0001_barrier.sql"),
    },
    Migration {
        version: 2,
        name: "reservation ledger",
        sql: include_str!("../../migrations/participant/0002_ledger.sql"),
    },
];

/// Creates or updates a participant's tables (`tcc_barrier`,
/// `ledger_accounts`) in `schema`; returns how many migrations were applied.
///
/// # Errors
///
/// As [`migrate`].
pub async fn migrate_participant(
    client: &mut tokio_postgres::Client,
    schema: &SchemaName,
) -> Result<u32, MigrationError> {
    migrate(client, schema, "gasbao-tcc/participant", PARTICIPANT_MIGRATIONS).await
}

/// What the PostgreSQL backends fail with.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PgError {
    /// The schema could not be migrated.
    #[error("the schema could not be migrated")]
    Migration(#[from] MigrationError),
    /// No connection could be had from the pool.
    #[error("no database connection")]
    Pool(#[from] PoolError),
    /// A statement failed; its effect is unknown unless it was in a
    /// transaction that rolled back.
    #[error("the database refused or lost a statement")]
    Database(#[from] tokio_postgres::Error),
    /// A barrier record could not be read or written.
    #[error("the barrier failed")]
    Barrier(#[from] PgBarrierError),
    /// Another live process holds this coordinator id's lease.
    #[error("coordinator {coordinator} is in use by another process whose lease has not expired")]
    CoordinatorInUse {
        /// The id.
        coordinator: CoordinatorId,
    },
    /// A stored transaction does not decode: written by something else.
    #[error("transaction {gtid} as stored does not decode")]
    Corrupt {
        /// The transaction.
        gtid: GlobalTxId,
        /// What could not be read.
        #[source]
        source: RecordDecodeError,
    },
}
