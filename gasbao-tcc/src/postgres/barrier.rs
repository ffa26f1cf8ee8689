//! The participant barrier on a PostgreSQL table, in the participant's own transaction.

use std::fmt;

use gasbao_core::postgres::SchemaName;
use gasbao_core::postgres::deadpool_postgres::GenericClient;
use gasbao_core::postgres::tokio_postgres;
use thiserror::Error;

use crate::barrier::{Admission, Barrier, BarrierRecord, BarrierState};
use crate::ids::{BranchKey, Timestamp};
use crate::participant::Phase;

/// A [`Barrier`] whose records live in the `tcc_barrier` table of a schema
/// (see [`migrate_participant`](super::migrate_participant)), written in
/// the transaction you pass, so that the record commits or rolls back with
/// your business change.
///
/// [`admit`](Self::admit) locks the branch's row (`SELECT ... FOR UPDATE`),
/// so concurrent deliveries of calls for one branch take turns. Two first
/// calls for a branch with no row yet cannot both lock it: the second one's
/// insert finds the first one's row and fails with
/// [`PgBarrierError::Concurrent`]; roll back and answer
/// [`CallOutcome::Unknown`](crate::CallOutcome::Unknown), and the
/// coordinator's retry finds the record.
#[derive(Clone)]
pub struct PgBarrier {
    barrier: Barrier,
    load: String,
    insert: String,
    update: String,
    remove: String,
}

/// A [`PgBarrier`] call failed; roll the transaction back and answer
/// [`CallOutcome::Unknown`](crate::CallOutcome::Unknown).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PgBarrierError {
    /// The database failed.
    #[error("the barrier record could not be read or written")]
    Database(#[from] tokio_postgres::Error),
    /// Another call for the same branch wrote its first record meanwhile.
    #[error("another call for branch {key} recorded it first")]
    Concurrent {
        /// The branch.
        key: BranchKey,
    },
    /// A stored record is not one this crate wrote.
    #[error("the barrier record of {key} has unknown state {state:?}")]
    Corrupt {
        /// The branch.
        key: BranchKey,
        /// The state found.
        state: i8,
    },
}

impl PgBarrier {
    /// A barrier on `schema.tcc_barrier` that keeps settled records `barrier.grace()` past their deadline.
    #[must_use]
    pub fn new(schema: &SchemaName, barrier: Barrier) -> PgBarrier {
        let table = schema.table("tcc_barrier");
        let key = "coordinator = $1 AND number = $2 AND branch = $3";
        PgBarrier {
            barrier,
            load: format!("SELECT state, deadline_ms FROM {table} WHERE {key} FOR UPDATE"),
            insert: format!(
                "INSERT INTO {table} (coordinator, number, branch, state, deadline_ms) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT DO NOTHING"
            ),
            update: format!("UPDATE {table} SET state = $4 WHERE {key}"),
            remove: format!("DELETE FROM {table} WHERE state <> 'T' AND deadline_ms < $1"),
        }
    }

    /// The barrier's rules.
    #[must_use]
    pub fn barrier(&self) -> Barrier {
        self.barrier
    }

    /// Decides what to do with a `phase` call for `key`, as
    /// [`Barrier::admit`] does, and records it in `transaction`: apply your
    /// change in the same transaction on [`Admission::Apply`], then commit.
    ///
    /// # Errors
    ///
    /// [`PgBarrierError`]: roll back and answer unknown.
    pub async fn admit(
        &self,
        transaction: &impl GenericClient,
        phase: Phase,
        key: BranchKey,
        deadline: Timestamp,
        now: Timestamp,
    ) -> Result<Admission, PgBarrierError> {
        let (coordinator, number, branch) = key_columns(key);
        let row = transaction
            .query_opt(
                &transaction.prepare_cached(&self.load).await?,
                &[&coordinator, &number, &branch],
            )
            .await?;
        let recorded = match row {
            Some(row) => {
                let state: i8 = row.get(0);
                let state = state_of(state).ok_or(PgBarrierError::Corrupt { key, state })?;
                let deadline = Timestamp::from_unix_millis(row.get::<_, i64>(1).cast_unsigned());
                Some(BarrierRecord { state, deadline })
            }
            None => None,
        };
        let (admission, next) = self.barrier.decide(recorded, phase, deadline, now);
        let Some(next) = next else {
            return Ok(admission);
        };
        let state = state_column(next);
        if recorded.is_some() {
            transaction
                .execute(
                    &transaction.prepare_cached(&self.update).await?,
                    &[&coordinator, &number, &branch, &state],
                )
                .await?;
        } else {
            let deadline = deadline.unix_millis().cast_signed();
            let inserted = transaction
                .execute(
                    &transaction.prepare_cached(&self.insert).await?,
                    &[&coordinator, &number, &branch, &state, &deadline],
                )
                .await?;
            if inserted == 0 {
                return Err(PgBarrierError::Concurrent { key });
            }
        }
        Ok(admission)
    }

    /// Removes the settled records that [`Barrier::may_remove`] allows at
    /// `now`; returns how many.
    ///
    /// # Errors
    ///
    /// What the database says.
    pub async fn remove_settled(&self, client: &impl GenericClient, now: Timestamp) -> Result<u64, PgBarrierError> {
        let grace = u64::try_from(self.barrier.grace().as_millis()).unwrap_or(u64::MAX);
        let before = now.unix_millis().saturating_sub(grace).cast_signed();
        Ok(client
            .execute(&client.prepare_cached(&self.remove).await?, &[&before])
            .await?)
    }
}

impl fmt::Debug for PgBarrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgBarrier")
            .field("barrier", &self.barrier)
            .finish_non_exhaustive()
    }
}

pub(super) fn key_columns(key: BranchKey) -> (i32, i64, i32) {
    (
        key.gtid.coordinator.0.cast_signed(),
        key.gtid.number.cast_signed(),
        i32::from(key.branch.0),
    )
}

fn state_column(state: BarrierState) -> i8 {
    let code = match state {
        BarrierState::Tried => b'T',
        BarrierState::Confirmed => b'C',
        BarrierState::Cancelled { tried: true } => b'X',
        BarrierState::Cancelled { tried: false } => b'F',
    };
    code.cast_signed()
}

pub(super) fn state_of(code: i8) -> Option<BarrierState> {
    match code.cast_unsigned() {
        b'T' => Some(BarrierState::Tried),
        b'C' => Some(BarrierState::Confirmed),
        b'X' => Some(BarrierState::Cancelled { tried: true }),
        b'F' => Some(BarrierState::Cancelled { tried: false }),
        _ => None,
    }
}
