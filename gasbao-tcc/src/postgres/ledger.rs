//! The reference reservation ledger on PostgreSQL.

use std::fmt;
use std::marker::PhantomData;

use gasbao_core::Decimal;
use gasbao_core::postgres::SchemaName;
use gasbao_core::postgres::deadpool_postgres::Pool;
use gasbao_core::postgres::tokio_postgres::Row;
use gasbao_core::postgres::tokio_postgres::types::ToSql;

use super::{PgBarrier, PgError, migrate_participant};
use crate::barrier::{Admission, Barrier, BarrierRecord};
use crate::env::{BoxFuture, Environment};
use crate::ids::BranchKey;
use crate::ledger::{AccountId, Balance, Quantity, Reservation};
use crate::participant::{BranchCall, CallOutcome, Participant, Phase};

/// The reference participant of [`ReservationLedger`](crate::ReservationLedger)
/// on PostgreSQL: accounts in `ledger_accounts` under this ledger's name,
/// each call one SQL transaction holding the [`PgBarrier`] record and the
/// balance change. The table's CHECK constraints refuse a negative
/// balance whatever the code above does.
///
/// Several processes may serve one ledger at once: the barrier's row lock
/// orders calls for one branch, and each balance change is one `UPDATE`.
pub struct PgReservationLedger<Q> {
    pool: Pool,
    name: String,
    barrier: PgBarrier,
    env: Environment,
    sql: Statements,
    quantity: PhantomData<fn() -> Q>,
}

struct Statements {
    open: String,
    top_up: String,
    reserve: String,
    hold: String,
    take_hold: String,
    confirm: String,
    release: String,
    balance: String,
    balances: String,
    barrier_record: String,
}

impl<Q: Quantity> PgReservationLedger<Q> {
    /// The ledger `name` in `schema`, migrated if needed, with `barrier`'s
    /// grace period and `env`'s clock for deadlines.
    ///
    /// # Errors
    ///
    /// [`PgError`] if the database cannot be reached or migrated.
    pub async fn open(
        pool: Pool,
        schema: &SchemaName,
        name: &str,
        env: &Environment,
        barrier: Barrier,
    ) -> Result<Self, PgError> {
        let mut client = pool.get().await?;
        migrate_participant(&mut client, schema).await?;
        drop(client);
        let accounts = schema.table("ledger_accounts");
        let barriers = schema.table("tcc_barrier");
        let holds = schema.table("ledger_holds");
        let account = "ledger = $1 AND account = $2";
        let sql = Statements {
            open: format!(
                "INSERT INTO {accounts} (ledger, account, available, frozen, consumed) VALUES ($1, $2, $3, 0, 0)"
            ),
            top_up: format!("UPDATE {accounts} SET available = available + $3 WHERE {account}"),
            reserve: format!(
                "UPDATE {accounts} SET available = available - $3, frozen = frozen + $3 WHERE {account} AND available >= $3"
            ),
            hold: format!(
                "INSERT INTO {holds} (coordinator, number, branch, ledger, account, amount) VALUES ($1, $2, $3, $4, $5, $6)"
            ),
            take_hold: format!(
                "DELETE FROM {holds} WHERE coordinator = $1 AND number = $2 AND branch = $3 AND ledger = $4
                 RETURNING account, amount"
            ),
            confirm: format!("UPDATE {accounts} SET frozen = frozen - $3, consumed = consumed + $3 WHERE {account}"),
            release: format!("UPDATE {accounts} SET available = available + $3, frozen = frozen - $3 WHERE {account}"),
            balance: format!("SELECT account, available, frozen, consumed FROM {accounts} WHERE {account}"),
            balances: format!(
                "SELECT account, available, frozen, consumed FROM {accounts} WHERE ledger = $1 ORDER BY account"
            ),
            barrier_record: format!(
                "SELECT state, deadline_ms FROM {barriers} WHERE coordinator = $1 AND number = $2 AND branch = $3"
            ),
        };
        Ok(PgReservationLedger {
            pool,
            name: name.to_owned(),
            barrier: PgBarrier::new(schema, barrier),
            env: env.clone(),
            sql,
            quantity: PhantomData,
        })
    }

    /// Opens `account` with `opening` available.
    ///
    /// # Errors
    ///
    /// [`PgError::Database`] if it exists already or the database fails.
    pub async fn open_account(&self, account: AccountId, opening: Q) -> Result<(), PgError> {
        let client = self.pool.get().await?;
        client
            .execute(
                &self.sql.open,
                &[&self.name, &account_column(account), &opening.decimal()],
            )
            .await?;
        Ok(())
    }

    /// Adds `amount` to what `account` has available; false if there is no such account.
    ///
    /// # Errors
    ///
    /// [`PgError`] if the database fails.
    pub async fn top_up(&self, account: AccountId, amount: Q) -> Result<bool, PgError> {
        let client = self.pool.get().await?;
        let rows = client
            .execute(
                &self.sql.top_up,
                &[&self.name, &account_column(account), &amount.decimal()],
            )
            .await?;
        Ok(rows == 1)
    }

    /// `account`'s balances, if it is open.
    ///
    /// # Errors
    ///
    /// [`PgError`] if the database fails.
    pub async fn balance(&self, account: AccountId) -> Result<Option<Balance<Q>>, PgError> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(&self.sql.balance, &[&self.name, &account_column(account)])
            .await?;
        Ok(row.as_ref().and_then(balance_of).map(|(_, balance)| balance))
    }

    /// Every account's balances, by account.
    ///
    /// # Errors
    ///
    /// [`PgError`] if the database fails.
    pub async fn balances(&self) -> Result<Vec<(AccountId, Balance<Q>)>, PgError> {
        let client = self.pool.get().await?;
        let rows = client.query(&self.sql.balances, &[&self.name]).await?;
        Ok(rows.iter().filter_map(balance_of).collect())
    }

    /// The barrier record kept for `key`, if any.
    ///
    /// # Errors
    ///
    /// [`PgError`] if the database fails or the record does not decode.
    pub async fn barrier_record(&self, key: BranchKey) -> Result<Option<BarrierRecord>, PgError> {
        let client = self.pool.get().await?;
        let (coordinator, number, branch) = super::barrier::key_columns(key);
        let row = client
            .query_opt(&self.sql.barrier_record, &[&coordinator, &number, &branch])
            .await?;
        let Some(row) = row else { return Ok(None) };
        let state: i8 = row.get(0);
        let state = super::barrier::state_of(state).ok_or(super::PgBarrierError::Corrupt { key, state })?;
        let deadline = crate::ids::Timestamp::from_unix_millis(row.get::<_, i64>(1).cast_unsigned());
        Ok(Some(BarrierRecord { state, deadline }))
    }

    /// Removes the settled barrier records the barrier's grace period allows
    /// now (of every ledger in the schema); returns how many.
    ///
    /// # Errors
    ///
    /// [`PgError`] if the database fails.
    pub async fn remove_settled_barriers(&self) -> Result<u64, PgError> {
        let client = self.pool.get().await?;
        Ok(self.barrier.remove_settled(&client, self.env.now()).await?)
    }

    async fn call(&self, phase: Phase, call: BranchCall<'_, Reservation<Q>>) -> CallOutcome {
        match self.local_transaction(phase, call).await {
            Ok(outcome) => outcome,
            Err(error) => CallOutcome::unknown(format!("ledger {}: {}", self.name, error_chain(&error))),
        }
    }

    /// One call as one SQL transaction: barrier record and balance change
    /// commit together, or neither does.
    async fn local_transaction(
        &self,
        phase: Phase,
        call: BranchCall<'_, Reservation<Q>>,
    ) -> Result<CallOutcome, PgError> {
        let amount = call.request.amount;
        if amount <= Q::ZERO {
            return Ok(CallOutcome::failed(format!("the amount {amount} is not positive")));
        }
        let mut client = self.pool.get().await?;
        let transaction = client.transaction().await?;
        let admission = self
            .barrier
            .admit(&transaction, phase, call.key(), call.deadline, self.env.now())
            .await?;
        let outcome = match admission {
            Admission::Apply => {
                let account = account_column(call.request.account);
                let (coordinator, number, branch) = super::barrier::key_columns(call.key());
                let key: [&(dyn ToSql + Sync); 4] = [&coordinator, &number, &branch, &self.name];
                let change = match phase {
                    Phase::Try => {
                        let rows = transaction
                            .execute(
                                &transaction.prepare_cached(&self.sql.reserve).await?,
                                &[&self.name, &account, &amount.decimal()],
                            )
                            .await?;
                        if rows == 0 {
                            // Rolled back, barrier record included: nothing was reserved.
                            return Ok(CallOutcome::failed(format!(
                                "account {} is not open or has less than {amount} available",
                                call.request.account
                            )));
                        }
                        transaction
                            .execute(
                                &transaction.prepare_cached(&self.sql.hold).await?,
                                &[&coordinator, &number, &branch, &self.name, &account, &amount.decimal()],
                            )
                            .await?;
                        None
                    }
                    Phase::Confirm => Some(&self.sql.confirm),
                    Phase::Cancel => Some(&self.sql.release),
                };
                if let Some(change) = change {
                    let hold = transaction
                        .query_opt(&transaction.prepare_cached(&self.sql.take_hold).await?, &key)
                        .await?;
                    let held = hold.map(|row| (row.get::<_, i64>(0), row.get::<_, Decimal>(1)));
                    if held != Some((account, amount.decimal())) {
                        // Rolled back: the Try's reservation stays as it was.
                        return Ok(CallOutcome::failed(match held {
                            Some((account, amount)) => {
                                format!(
                                    "its Try held {amount} of account {}, not what this call says",
                                    account.cast_unsigned()
                                )
                            }
                            None => "no reservation is held for this branch".to_owned(),
                        }));
                    }
                    transaction
                        .execute(
                            &transaction.prepare_cached(change).await?,
                            &[&self.name, &account, &amount.decimal()],
                        )
                        .await?;
                }
                CallOutcome::Succeeded
            }
            Admission::AlreadyDone | Admission::EmptyRollback => CallOutcome::Succeeded,
            Admission::Refused(refusal) => CallOutcome::failed(refusal.to_string()),
        };
        transaction.commit().await?;
        Ok(outcome)
    }
}

impl<Q: Quantity> Participant for PgReservationLedger<Q> {
    type Request = Reservation<Q>;

    fn reserve<'a>(&'a self, call: BranchCall<'a, Reservation<Q>>) -> BoxFuture<'a, CallOutcome> {
        Box::pin(self.call(Phase::Try, call))
    }

    fn confirm<'a>(&'a self, call: BranchCall<'a, Reservation<Q>>) -> BoxFuture<'a, CallOutcome> {
        Box::pin(self.call(Phase::Confirm, call))
    }

    fn cancel<'a>(&'a self, call: BranchCall<'a, Reservation<Q>>) -> BoxFuture<'a, CallOutcome> {
        Box::pin(self.call(Phase::Cancel, call))
    }
}

impl<Q> fmt::Debug for PgReservationLedger<Q> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgReservationLedger")
            .field("name", &self.name)
            .field("barrier", &self.barrier)
            .finish_non_exhaustive()
    }
}

fn account_column(account: AccountId) -> i64 {
    account.0.cast_signed()
}

fn balance_of<Q: Quantity>(row: &Row) -> Option<(AccountId, Balance<Q>)> {
    let account = AccountId(row.get::<_, i64>(0).cast_unsigned());
    let balance = Balance {
        available: Q::from_decimal(row.get(1))?,
        frozen: Q::from_decimal(row.get(2))?,
        consumed: Q::from_decimal(row.get(3))?,
    };
    Some((account, balance))
}

/// The error and its sources, for an operator reading a call's answer.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
