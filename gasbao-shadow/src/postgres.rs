//! Shadows in PostgreSQL, shared by many API nodes.

use std::fmt;
use std::sync::Arc;

use gasbao_core::postgres::deadpool_postgres::{Pool, PoolError};
use gasbao_core::postgres::{Migration, MigrationError, SchemaName, migrate, tokio_postgres};
use thiserror::Error;

use crate::error::StoreError;
use crate::names::{ShadowId, ShadowName, ThingName};
use crate::store::{ShadowRecord, ShadowStore, StoredShadow};

/// The shadow store's migrations.
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "shadows",
    sql: include_str!("../migrations/0001_shadows.sql"),
}];

/// A [`ShadowStore`] in the `shadows` table of a PostgreSQL schema, for
/// several API nodes sharing their shadows.
///
/// Compare-and-set is one statement (`UPDATE ... WHERE revision = $n`, or
/// `INSERT ... ON CONFLICT DO NOTHING` for a new shadow), so two nodes
/// updating one shadow never both win: the loser's
/// [`ShadowService`](crate::ShadowService) reads again and re-applies the
/// request, and a request naming a version that moved gets AWS's 409. The
/// merge, delta and limits run in Rust, never in SQL.
///
/// | column | what |
/// |---|---|
/// | `thing`, `shadow` | the [`ShadowId`]; `''` for the classic shadow |
/// | `revision` | bumped by every write, deletes included |
/// | `version` | the document's version, for queries |
/// | `deleted` | deleted, and not written since |
/// | `record` | the document, its metadata and replay index, as `jsonb` |
///
/// # Blocking
///
/// [`ShadowStore`] is synchronous, so each call blocks its thread on the
/// tokio runtime that [`open`](Self::open) ran on. Call the service from a
/// thread of your own or from `tokio::task::spawn_blocking`, never from
/// async code directly (tokio refuses to block a runtime thread).
pub struct PgShadowStore {
    pool: Pool,
    runtime: tokio::runtime::Handle,
    load: String,
    insert: String,
    update: String,
    ids: String,
}

/// [`PgShadowStore::open`] failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PgStoreError {
    /// Not called from within a tokio runtime.
    #[error("PgShadowStore::open must run on a tokio runtime")]
    NoRuntime,
    /// The schema could not be migrated.
    #[error("the schema could not be migrated")]
    Migration(#[from] MigrationError),
    /// No connection could be had from the pool.
    #[error("no database connection")]
    Pool(#[from] PoolError),
}

impl PgShadowStore {
    /// Migrates `schema` if needed and opens the store on it.
    ///
    /// # Errors
    ///
    /// [`PgStoreError`] if there is no runtime, or the database cannot be
    /// reached or migrated.
    pub async fn open(pool: Pool, schema: &SchemaName) -> Result<PgShadowStore, PgStoreError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| PgStoreError::NoRuntime)?;
        let mut client = pool.get().await?;
        migrate(&mut client, schema, "gasbao-shadow", MIGRATIONS).await?;
        drop(client);
        let table = schema.table("shadows");
        Ok(PgShadowStore {
            pool,
            runtime,
            load: format!("SELECT record::text FROM {table} WHERE thing = $1 AND shadow = $2"),
            insert: format!(
                "INSERT INTO {table} (thing, shadow, revision, version, deleted, record)
                 VALUES ($1, $2, $3, $4, $5, $6::text::jsonb) ON CONFLICT DO NOTHING"
            ),
            update: format!(
                "UPDATE {table} SET revision = $3, version = $4, deleted = $5, record = $6::text::jsonb, updated_at = now()
                 WHERE thing = $1 AND shadow = $2 AND revision = $7"
            ),
            ids: format!("SELECT thing, shadow FROM {table} ORDER BY thing, shadow"),
        })
    }

    fn block_on<T>(
        &self,
        work: impl Future<Output = Result<T, Box<dyn std::error::Error + Send + Sync>>>,
    ) -> Result<T, StoreError> {
        self.runtime.block_on(work).map_err(StoreError::Database)
    }
}

fn key(id: &ShadowId) -> (&str, &str) {
    (id.thing.as_str(), id.name.as_ref().map_or("", ShadowName::as_str))
}

impl ShadowStore for PgShadowStore {
    fn load(&self, id: &ShadowId) -> Result<Option<Arc<StoredShadow>>, StoreError> {
        let (thing, shadow) = key(id);
        let text: Option<String> = self.block_on(async {
            let client = self.pool.get().await?;
            let row = client.query_opt(&self.load, &[&thing, &shadow]).await?;
            Ok(row.map(|row| row.get(0)))
        })?;
        let Some(text) = text else { return Ok(None) };
        let record: ShadowRecord = serde_json::from_str(&text).map_err(|error| StoreError::CorruptRow {
            shadow: id.to_string(),
            reason: error.to_string(),
        })?;
        Ok(Some(Arc::new(record.into_stored().1)))
    }

    fn compare_and_set(&self, id: &ShadowId, expected: u64, next: StoredShadow) -> Result<bool, StoreError> {
        let (thing, shadow) = key(id);
        let record =
            serde_json::to_string(&ShadowRecord::new(id, &next)).map_err(|e| StoreError::Database(e.into()))?;
        let column = |value: u64| i64::try_from(value).map_err(|e| StoreError::Database(e.into()));
        let (revision, version, expected) = (
            column(next.revision)?,
            column(next.document.version())?,
            column(expected)?,
        );
        self.block_on(async {
            let client = self.pool.get().await?;
            let rows = if expected == 0 {
                let values: [&(dyn tokio_postgres::types::ToSql + Sync); 6] =
                    [&thing, &shadow, &revision, &version, &next.deleted, &record];
                client.execute(&self.insert, &values).await?
            } else {
                let values: [&(dyn tokio_postgres::types::ToSql + Sync); 7] =
                    [&thing, &shadow, &revision, &version, &next.deleted, &record, &expected];
                client.execute(&self.update, &values).await?
            };
            Ok(rows == 1)
        })
    }

    fn ids(&self) -> Result<Vec<ShadowId>, StoreError> {
        let keys: Vec<(String, String)> = self.block_on(async {
            let client = self.pool.get().await?;
            let rows = client.query(&self.ids, &[]).await?;
            Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
        })?;
        keys.into_iter()
            .map(|(thing, shadow)| {
                let corrupt = |reason: String| StoreError::CorruptRow {
                    shadow: format!("{thing}/{shadow}"),
                    reason,
                };
                let thing = ThingName::new(thing.clone()).map_err(|e| corrupt(e.to_string()))?;
                Ok(match shadow.as_str() {
                    "" => ShadowId::classic(thing),
                    _ => ShadowId::named(
                        thing,
                        ShadowName::new(shadow.clone()).map_err(|e| corrupt(e.to_string()))?,
                    ),
                })
            })
            .collect()
    }
}

impl fmt::Debug for PgShadowStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgShadowStore").finish_non_exhaustive()
    }
}
