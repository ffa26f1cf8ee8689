//! The coordinator log on PostgreSQL, shared by several coordinators.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use gasbao_core::postgres::deadpool_postgres::{GenericClient, Object, Pool};
use gasbao_core::postgres::tokio_postgres::Row;
use gasbao_core::postgres::tokio_postgres::types::ToSql;
use gasbao_core::postgres::{SchemaName, migrate};

use super::{COORDINATOR_MIGRATIONS, PgError};
use crate::codec::{Decoder, Encoder, decode_decision, decode_parking, decode_record, encode_decision};
use crate::codec::{encode_parking, encode_record};
use crate::env::BoxFuture;
use crate::error::{LogError, RecordDecodeError};
use crate::ids::{CoordinatorId, GlobalTxId};
use crate::log::{CoordinatorLog, Decision, LiveTransaction, LogEntry, RecoveredLog, Resolution, TransactionRecord};

/// Settings of a [`PgCoordinatorLog`].
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct PgLogOptions {
    /// How long a coordinator owns its transactions without renewing: after
    /// that, another coordinator may take them over. Renewed every third of it.
    pub lease: Duration,
    /// At most this many transactions claimed by one takeover query.
    pub claim_batch: u32,
}

impl Default for PgLogOptions {
    /// A 10 s lease; claims of 256.
    fn default() -> PgLogOptions {
        PgLogOptions {
            lease: Duration::from_secs(10),
            claim_batch: 256,
        }
    }
}

impl PgLogOptions {
    /// The same, with another lease.
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> PgLogOptions {
        self.lease = lease;
        self
    }
}

/// A [`CoordinatorLog`] in a PostgreSQL schema, shared by several
/// coordinator processes, each opening it under its own [`CoordinatorId`].
///
/// - **Ownership.** Each transaction row names its owner and carries a
///   fencing token (`epoch`). Every write says `WHERE epoch = <held>`; a
///   write refused by it returns [`LogError::NotOwner`] and is counted
///   ([`fenced_writes`](Self::fenced_writes)).
/// - **Leases.** A coordinator holds a lease on its id, renewed by a
///   background task every third of [`PgLogOptions::lease`] on a pool
///   connection it keeps for itself. Expiry is
///   judged by the database's clock. A lease that lapsed is never renewed:
///   the process stops acting (its [`owns`](CoordinatorLog::owns) answers
///   false, new transactions are refused) and must open the log again.
/// - **Takeover.** [`take_over`](CoordinatorLog::take_over) claims the
///   unfinished transactions of coordinators whose lease lapsed with
///   `SELECT ... FOR UPDATE SKIP LOCKED`, bumping each one's epoch, so that
///   each is claimed by exactly one coordinator and its former owner's
///   writes are refused from then on. A coordinator shutting down calls
///   [`release`](CoordinatorLog::release) (or
///   [`Coordinator::release`](crate::Coordinator::release)) so that the
///   others need not wait for its lease to run out.
///
/// Needs a tokio runtime (the renewal task and the database connections
/// run on it). Every write commits synchronously (`durable` is always met).
pub struct PgCoordinatorLog {
    shared: Arc<Shared>,
    renewal: tokio::task::JoinHandle<()>,
}

struct Shared {
    pool: Pool,
    sql: Statements,
    id: CoordinatorId,
    generation: i64,
    options: PgLogOptions,
    /// The epoch this process holds, per transaction it owns.
    held: Mutex<HashMap<GlobalTxId, i64>>,
    /// Until when the lease surely holds, by this process's clock.
    valid_until: Mutex<Instant>,
    lapsed: AtomicBool,
    fenced_writes: AtomicU64,
}

impl PgCoordinatorLog {
    /// Migrates `schema` if needed, takes the lease on coordinator `id`,
    /// and starts renewing it.
    ///
    /// # Errors
    ///
    /// [`PgError::CoordinatorInUse`] if another live process holds `id`;
    /// [`PgError::Migration`], [`PgError::Pool`] or [`PgError::Database`]
    /// if the database cannot be reached or migrated.
    pub async fn open(
        pool: Pool,
        schema: &SchemaName,
        id: CoordinatorId,
        options: PgLogOptions,
    ) -> Result<PgCoordinatorLog, PgError> {
        let mut client = pool.get().await?;
        migrate(&mut client, schema, "gasbao-tcc/coordinator", COORDINATOR_MIGRATIONS).await?;
        let sql = Statements::new(schema);
        let asked = Instant::now();
        let row = client
            .query_opt(
                &client.prepare_cached(&sql.acquire).await?,
                &[&coordinator_column(id), &lease_secs(options.lease)],
            )
            .await?;
        let Some(row) = row else {
            return Err(PgError::CoordinatorInUse { coordinator: id });
        };
        let shared = Arc::new(Shared {
            pool,
            sql,
            id,
            generation: row.get(0),
            options,
            held: Mutex::new(HashMap::new()),
            valid_until: Mutex::new(asked + options.lease),
            lapsed: AtomicBool::new(false),
            fenced_writes: AtomicU64::new(0),
        });
        let renewal = tokio::spawn(renew(Arc::downgrade(&shared), Some(client)));
        Ok(PgCoordinatorLog { shared, renewal })
    }

    /// Writes refused because another coordinator had taken the
    /// transaction over (or this one's lease had lapsed): each a stale
    /// write that the fencing token stopped.
    #[must_use]
    pub fn fenced_writes(&self) -> u64 {
        self.shared.fenced_writes.load(Ordering::Relaxed)
    }

    /// Whether this process's lease lapsed: it no longer acts, and the log
    /// must be opened again for this coordinator id to work.
    #[must_use]
    pub fn lapsed(&self) -> bool {
        self.shared.lapsed.load(Ordering::Relaxed)
    }

    /// The coordinator id this log was opened for.
    #[must_use]
    pub fn coordinator(&self) -> CoordinatorId {
        self.shared.id
    }
}

impl Drop for PgCoordinatorLog {
    fn drop(&mut self) {
        self.renewal.abort();
    }
}

impl fmt::Debug for PgCoordinatorLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgCoordinatorLog")
            .field("coordinator", &self.shared.id)
            .field("generation", &self.shared.generation)
            .field("owned", &self.shared.held().len())
            .field("lapsed", &self.lapsed())
            .finish_non_exhaustive()
    }
}

/// Renews the lease every third of it until it lapses or the log is
/// dropped, on a connection of its own so that it never queues behind work.
async fn renew(shared: std::sync::Weak<Shared>, mut connection: Option<Object>) {
    loop {
        let Some(period) = shared.upgrade().map(|s| s.options.lease / 3) else {
            return;
        };
        tokio::time::sleep(period).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let asked = Instant::now();
        if asked >= *shared.valid_until() {
            shared.lapse();
            return;
        }
        if connection.as_ref().is_none_or(|client| client.is_closed()) {
            // Unreachable for now: try again while the lease lasts.
            connection = shared.pool.get().await.ok();
        }
        let Some(client) = &connection else { continue };
        let lease = lease_secs(shared.options.lease);
        let renewed = match client.prepare_cached(&shared.sql.renew).await {
            Ok(renew) => {
                client
                    .execute(&renew, &[&coordinator_column(shared.id), &shared.generation, &lease])
                    .await
            }
            Err(error) => Err(error),
        };
        match renewed {
            Ok(1) => *shared.valid_until() = asked + shared.options.lease,
            // Expired in the database: others may own our transactions now.
            Ok(_) => {
                shared.lapse();
                return;
            }
            Err(_) => connection = None,
        }
    }
}

impl Shared {
    fn held(&self) -> MutexGuard<'_, HashMap<GlobalTxId, i64>> {
        // Changed by single inserts and removals.
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn valid_until(&self) -> MutexGuard<'_, Instant> {
        self.valid_until.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lapse(&self) {
        self.lapsed.store(true, Ordering::Relaxed);
        #[cfg(feature = "tracing")]
        tracing::warn!(coordinator = %self.id, "tcc: the coordinator's lease lapsed; it stops acting");
    }

    fn fenced(&self, gtid: GlobalTxId) -> LogError {
        self.fenced_writes.fetch_add(1, Ordering::Relaxed);
        self.held().remove(&gtid);
        LogError::NotOwner { gtid }
    }

    fn epoch(&self, gtid: GlobalTxId) -> Result<i64, LogError> {
        let epoch = self.held().get(&gtid).copied();
        epoch.ok_or_else(|| self.fenced(gtid))
    }

    async fn client(&self) -> Result<Object, LogError> {
        self.pool.get().await.map_err(|error| database(PgError::Pool(error)))
    }

    /// One entry, as one statement on `client`.
    async fn write_entry(&self, client: &impl GenericClient, entry: &LogEntry) -> Result<(), LogError> {
        let db = |error| database(PgError::Database(error));
        // Every entry but Began changes a transaction this coordinator owns,
        // fenced by its epoch: the statement's fourth parameter is the change.
        let (gtid, sql, change): (GlobalTxId, &str, Box<dyn ToSql + Sync + Send>) = match entry {
            LogEntry::Began(record) => return self.begin(client, record).await,
            LogEntry::Decided { gtid, decision } => return self.decide(client, *gtid, decision).await,
            LogEntry::Settled { gtid, branch } => (*gtid, &self.sql.settle, Box::new(i32::from(branch.0) + 1)),
            LogEntry::Parked { gtid, parking } => {
                let mut encoded = Encoder::default();
                encode_parking(&mut encoded, parking);
                (*gtid, &self.sql.park, Box::new(encoded.bytes))
            }
            LogEntry::Resolved { gtid, resolution, .. } => {
                let all_settled = !matches!(resolution, Resolution::RetryNow);
                (*gtid, &self.sql.resolve, Box::new(all_settled))
            }
            LogEntry::Finished { gtid } => (*gtid, &self.sql.finish, Box::new(true)),
        };
        let statement = client.prepare_cached(sql).await.map_err(db)?;
        let key = (
            coordinator_column(gtid.coordinator),
            number_column(gtid)?,
            self.epoch(gtid)?,
        );
        let rows = client
            .execute(&statement, &[&key.0, &key.1, &key.2, &*change])
            .await
            .map_err(db)?;
        if rows != 1 {
            return Err(self.fenced(gtid));
        }
        if matches!(entry, LogEntry::Finished { .. }) {
            self.held().remove(&gtid);
        }
        Ok(())
    }

    /// Inserts a transaction owned by this coordinator, while its lease holds.
    async fn begin(&self, client: &impl GenericClient, record: &TransactionRecord) -> Result<(), LogError> {
        let db = |error| database(PgError::Database(error));
        let gtid = record.gtid;
        let mut encoded = Encoder::default();
        encode_record(&mut encoded, record);
        let settled = vec![false; record.branches.len()];
        let statement = client.prepare_cached(&self.sql.begin).await.map_err(db)?;
        let rows = client
            .execute(
                &statement,
                &[
                    &coordinator_column(gtid.coordinator),
                    &number_column(gtid)?,
                    &coordinator_column(self.id),
                    &encoded.bytes,
                    &settled,
                    &self.generation,
                ],
            )
            .await
            .map_err(db)?;
        if rows != 1 {
            return Err(self.fenced(gtid));
        }
        self.held().insert(gtid, 1);
        Ok(())
    }

    /// Records the decision unless one was recorded; a different one is refused.
    async fn decide(&self, client: &impl GenericClient, gtid: GlobalTxId, decision: &Decision) -> Result<(), LogError> {
        let db = |error| database(PgError::Database(error));
        let mut encoded = Encoder::default();
        encode_decision(&mut encoded, decision);
        let phase = phase_column(decision);
        let statement = client.prepare_cached(&self.sql.decide).await.map_err(db)?;
        let key = (
            coordinator_column(gtid.coordinator),
            number_column(gtid)?,
            self.epoch(gtid)?,
        );
        let row = client
            .query_opt(&statement, &[&key.0, &key.1, &key.2, &encoded.bytes, &phase])
            .await
            .map_err(db)?;
        let Some(row) = row else {
            return Err(self.fenced(gtid));
        };
        if row.get::<_, i8>(0) != phase {
            return Err(LogError::Inconsistent {
                gtid,
                problem: "decided twice, differently",
            });
        }
        Ok(())
    }

    async fn write(&self, entries: &[LogEntry]) -> Result<(), LogError> {
        let mut client = self.client().await?;
        if let [entry] = entries {
            return self.write_entry(&client, entry).await;
        }
        let db = |error| database(PgError::Database(error));
        let transaction = client.transaction().await.map_err(db)?;
        for entry in entries {
            self.write_entry(&transaction, entry).await?;
        }
        transaction.commit().await.map_err(db)
    }

    /// Claims unfinished transactions of lapsed coordinators (and, with
    /// `own`, those this coordinator id owned before this process opened it).
    async fn claim(&self, own: bool) -> Result<Vec<LiveTransaction>, LogError> {
        let client = self.client().await?;
        let db = |error| database(PgError::Database(error));
        let batch = i64::from(self.options.claim_batch.max(1));
        let mut claimed = Vec::new();
        loop {
            let rows = client
                .query(
                    &client.prepare_cached(&self.sql.claim).await.map_err(db)?,
                    &[&coordinator_column(self.id), &self.generation, &own, &batch],
                )
                .await
                .map_err(db)?;
            let full = rows.len() as i64 == batch;
            for row in rows {
                let (tx, epoch) = live_transaction(&row)?;
                self.held().insert(tx.record.gtid, epoch);
                claimed.push(tx);
            }
            if !full {
                return Ok(claimed);
            }
        }
    }
}

impl CoordinatorLog for PgCoordinatorLog {
    fn write<'a>(&'a self, entries: &'a [LogEntry], _durable: bool) -> BoxFuture<'a, Result<(), LogError>> {
        Box::pin(self.shared.write(entries))
    }

    fn recover(&self) -> BoxFuture<'_, Result<RecoveredLog, LogError>> {
        Box::pin(async move {
            let shared = &self.shared;
            let client = shared.client().await?;
            let last: i64 = client
                .query_one(&shared.sql.last_number, &[&coordinator_column(shared.id)])
                .await
                .map_err(|error| database(PgError::Database(error)))?
                .get(0);
            drop(client);
            let mut recovered = RecoveredLog::default();
            recovered
                .last_numbers
                .insert(shared.id, u64::try_from(last).unwrap_or_default());
            for tx in shared.claim(true).await? {
                recovered.live.insert(tx.record.gtid, tx);
            }
            Ok(recovered)
        })
    }

    fn compact(&self) -> BoxFuture<'_, Result<u64, LogError>> {
        Box::pin(async move {
            let client = self.shared.client().await?;
            let removed: i64 = client
                .query_one(&self.shared.sql.compact, &[])
                .await
                .map_err(|error| database(PgError::Database(error)))?
                .get(0);
            Ok(u64::try_from(removed).unwrap_or_default())
        })
    }

    fn take_over(&self) -> BoxFuture<'_, Result<Vec<LiveTransaction>, LogError>> {
        Box::pin(self.shared.claim(false))
    }

    fn release(&self) -> BoxFuture<'_, Result<(), LogError>> {
        Box::pin(async move {
            let shared = &self.shared;
            // Stop first: from here on this process neither acts nor renews.
            shared.lapsed.store(true, Ordering::Relaxed);
            self.renewal.abort();
            let client = shared.client().await?;
            client
                .execute(
                    &shared.sql.release,
                    &[&coordinator_column(shared.id), &shared.generation],
                )
                .await
                .map_err(|error| database(PgError::Database(error)))?;
            #[cfg(feature = "tracing")]
            tracing::info!(coordinator = %shared.id, "tcc: the coordinator released its lease");
            Ok(())
        })
    }

    fn owns(&self, gtid: GlobalTxId) -> bool {
        let shared = &self.shared;
        !shared.lapsed.load(Ordering::Relaxed)
            && Instant::now() < *shared.valid_until()
            && shared.held().contains_key(&gtid)
    }
}

fn database(error: PgError) -> LogError {
    LogError::Database(Arc::new(error))
}

/// Coordinator ids are `u32`; the column is `integer`, so the top half maps to negatives.
fn coordinator_column(id: CoordinatorId) -> i32 {
    id.0.cast_signed()
}

fn number_column(gtid: GlobalTxId) -> Result<i64, LogError> {
    i64::try_from(gtid.number).map_err(|_| LogError::Inconsistent {
        gtid,
        problem: "has a number beyond what the database keeps (2^63 - 1)",
    })
}

fn phase_column(decision: &Decision) -> i8 {
    (if matches!(decision, Decision::Confirm) {
        b'C'
    } else {
        b'X'
    })
    .cast_signed()
}

fn lease_secs(lease: Duration) -> f64 {
    lease.as_secs_f64()
}

/// A claimed row: the transaction and the epoch this coordinator now holds.
fn live_transaction(row: &Row) -> Result<(LiveTransaction, i64), LogError> {
    let gtid = GlobalTxId {
        coordinator: CoordinatorId(row.get::<_, i32>("coordinator").cast_unsigned()),
        number: u64::try_from(row.get::<_, i64>("number")).unwrap_or_default(),
    };
    let corrupt = |source| database(PgError::Corrupt { gtid, source });
    let record = decode_whole(row.get("record"), decode_record).map_err(corrupt)?;
    let decision = row
        .get::<_, Option<&[u8]>>("decision")
        .map(|bytes| decode_whole(bytes, decode_decision));
    let parked = row
        .get::<_, Option<&[u8]>>("parked")
        .map(|bytes| decode_whole(bytes, decode_parking));
    let (decision, parked) = (
        decision.transpose().map_err(corrupt)?,
        parked.transpose().map_err(corrupt)?,
    );
    let mut tx = LiveTransaction::new(Arc::new(record));
    tx.decision = decision;
    tx.settled = row.get("settled");
    tx.parked = parked;
    Ok((tx, row.get("epoch")))
}

/// `bytes` read by `decode`, with nothing left over.
fn decode_whole<T>(
    bytes: &[u8],
    decode: impl FnOnce(&mut Decoder<'_>) -> Result<T, RecordDecodeError>,
) -> Result<T, RecordDecodeError> {
    let mut input = Decoder::new(bytes);
    let value = decode(&mut input)?;
    input.finish()?;
    Ok(value)
}

/// The SQL, with this log's schema in every name.
struct Statements {
    acquire: String,
    renew: String,
    release: String,
    begin: String,
    decide: String,
    settle: String,
    park: String,
    resolve: String,
    finish: String,
    claim: String,
    last_number: String,
    compact: String,
}

impl Statements {
    fn new(schema: &SchemaName) -> Statements {
        let coordinators = schema.table("coordinators");
        let transactions = schema.table("transactions");
        let key = "coordinator = $1 AND number = $2 AND epoch = $3";
        Statements {
            // A new generation, unless a live process holds the lease.
            acquire: format!(
                "INSERT INTO {coordinators} AS c (id, generation, lease_until)
                 VALUES ($1, 1, now() + make_interval(secs => $2))
                 ON CONFLICT (id) DO UPDATE SET generation = c.generation + 1, lease_until = EXCLUDED.lease_until
                 WHERE c.lease_until < now()
                 RETURNING generation"
            ),
            renew: format!(
                "UPDATE {coordinators} SET lease_until = now() + make_interval(secs => $3)
                 WHERE id = $1 AND generation = $2 AND lease_until > now()"
            ),
            // Lapsed at once: takeover and a new opening need not wait.
            release: format!("UPDATE {coordinators} SET lease_until = '-infinity' WHERE id = $1 AND generation = $2"),
            // Only while the lease holds: a lapsed process must not start work.
            begin: format!(
                "INSERT INTO {transactions} (coordinator, number, owner, epoch, record, settled)
                 SELECT $1, $2, $3, 1, $4, $5 FROM {coordinators}
                 WHERE id = $3 AND generation = $6 AND lease_until > now()"
            ),
            decide: format!(
                "UPDATE {transactions} SET decision = coalesce(decision, $4), phase = coalesce(phase, $5)
                 WHERE {key} RETURNING phase"
            ),
            settle: format!("UPDATE {transactions} SET settled[$4] = true WHERE {key} AND decision IS NOT NULL"),
            park: format!("UPDATE {transactions} SET parked = $4 WHERE {key} AND decision IS NOT NULL"),
            resolve: format!(
                "UPDATE {transactions} SET parked = NULL,
                 settled = CASE WHEN $4 THEN array_fill(true, ARRAY[cardinality(settled)]) ELSE settled END
                 WHERE {key} AND decision IS NOT NULL"
            ),
            finish: format!("UPDATE {transactions} SET finished = $4 WHERE {key} AND decision IS NOT NULL"),
            claim: format!(
                "WITH due AS (
                     SELECT t.coordinator, t.number FROM {transactions} t
                     WHERE NOT t.finished
                       AND (t.owner IN (SELECT id FROM {coordinators} WHERE lease_until < now() AND id <> $1)
                            OR ($3 AND t.owner = $1))
                       AND EXISTS (SELECT 1 FROM {coordinators}
                                   WHERE id = $1 AND generation = $2 AND lease_until > now())
                     ORDER BY t.coordinator, t.number
                     LIMIT $4
                     FOR UPDATE OF t SKIP LOCKED)
                 UPDATE {transactions} t SET owner = $1, epoch = t.epoch + 1
                 FROM due WHERE t.coordinator = due.coordinator AND t.number = due.number
                 RETURNING t.coordinator, t.number, t.epoch, t.record, t.decision, t.settled, t.parked"
            ),
            last_number: format!(
                "SELECT greatest(
                     (SELECT coalesce(max(last_number), 0) FROM {coordinators} WHERE id = $1),
                     (SELECT coalesce(max(number), 0) FROM {transactions} WHERE coordinator = $1))"
            ),
            // Removes finished transactions, remembering each coordinator's
            // highest number so that none is ever issued twice.
            compact: format!(
                "WITH gone AS (DELETE FROM {transactions} WHERE finished RETURNING coordinator, number),
                 top AS (SELECT coordinator, max(number) AS number, count(*) AS removed FROM gone GROUP BY coordinator),
                 kept AS (UPDATE {coordinators} c SET last_number = greatest(c.last_number, top.number)
                          FROM top WHERE c.id = top.coordinator)
                 SELECT coalesce(sum(removed), 0)::bigint FROM top"
            ),
        }
    }
}
