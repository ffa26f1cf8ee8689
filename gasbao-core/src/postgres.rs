//! Versioned schema migrations for the PostgreSQL backends of gasbao-tcc
//! and gasbao-shadow, and scratch schemas for tests.
//!
//! Each crate ships its migrations as plain SQL files with unqualified
//! table names; [`migrate`] applies the ones a schema lacks, in version
//! order, in one transaction with `search_path` set to that schema, and
//! records them in `<schema>.gasbao_migrations`. Several processes may
//! migrate at once: an advisory lock lets one apply, the others then find
//! nothing to do.
//!
//! ```no_run
//! # async fn example(client: &mut tokio_postgres::Client) -> Result<(), gasbao_core::postgres::MigrationError> {
//! use gasbao_core::postgres::{Migration, SchemaName, migrate};
//!
//! const MINE: &[Migration] = &[Migration { version: 1, name: "accounts", sql: "CREATE TABLE accounts (id bigint PRIMARY KEY)" }];
//! let schema = SchemaName::new("billing")?;
//! let applied = migrate(client, &schema, "my-service", MINE).await?;
//! # Ok(()) }
//! ```

use std::fmt;

pub use deadpool_postgres;
use thiserror::Error;
pub use tokio_postgres;

/// A connection pool for `url` (`postgres://user@host/database`, or the
/// `key=value` form) of at most `max_size` connections, without TLS: for
/// a database on the same host or a private network. Build a
/// [`deadpool_postgres::Pool`] yourself for TLS or other settings.
///
/// # Errors
///
/// What the pool's builder says of `url` or the settings.
pub fn pool(url: &str, max_size: usize) -> Result<deadpool_postgres::Pool, deadpool_postgres::CreatePoolError> {
    let mut config = deadpool_postgres::Config::new();
    config.url = Some(url.to_owned());
    config.pool = Some(deadpool_postgres::PoolConfig::new(max_size));
    config.create_pool(Some(deadpool_postgres::Runtime::Tokio1), tokio_postgres::NoTls)
}

/// One schema change: applied once per schema, in `version` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// Its version, from 1, increasing without gaps.
    pub version: i32,
    /// What it does, recorded beside the version.
    pub name: &'static str,
    /// The SQL, with unqualified names: it runs with `search_path` set to the schema.
    pub sql: &'static str,
}

/// A PostgreSQL schema name that needs no quoting: ASCII letters, digits
/// and `_`, not starting with a digit, at most 63 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SchemaName(String);

impl SchemaName {
    /// Checks `name`.
    ///
    /// # Errors
    ///
    /// [`MigrationError::SchemaName`] saying what is wrong with it.
    pub fn new(name: impl Into<String>) -> Result<SchemaName, MigrationError> {
        let name = name.into();
        let problem = if name.is_empty() {
            Some("is empty")
        } else if name.len() > 63 {
            Some("is longer than 63 bytes")
        } else if name.starts_with(|c: char| c.is_ascii_digit()) {
            Some("starts with a digit")
        } else if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            Some("has a character other than ASCII letters, digits and '_'")
        } else {
            None
        };
        match problem {
            Some(problem) => Err(MigrationError::SchemaName { name, problem }),
            None => Ok(SchemaName(name)),
        }
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `table` qualified with this schema, for SQL text.
    #[must_use]
    pub fn table(&self, table: &str) -> String {
        format!("{}.{table}", self.0)
    }
}

impl fmt::Display for SchemaName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A migration could not be applied.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum MigrationError {
    /// The schema name is not one [`SchemaName`] accepts.
    #[error("schema name {name:?} {problem}")]
    SchemaName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The migrations given are not numbered 1, 2, 3, ...
    #[error("migration {name:?} has version {version}, expected {expected}")]
    OutOfOrder {
        /// Its name.
        name: &'static str,
        /// Its version.
        version: i32,
        /// The version its position calls for.
        expected: i32,
    },
    /// The schema has a migration of `component` newer than any given: a
    /// newer release migrated it, and this one does not know its tables.
    #[error("schema {schema} is at version {found} of {component}, newer than this release's {known}")]
    NewerSchema {
        /// The schema.
        schema: String,
        /// Whose migrations.
        component: String,
        /// The version found.
        found: i32,
        /// The newest version this release has.
        known: i32,
    },
    /// The database refused a statement; no migration of this call was applied.
    #[error("migration {version} of {component} failed")]
    Database {
        /// Whose migrations.
        component: String,
        /// Which one (0: the bookkeeping before any).
        version: i32,
        /// What the database said.
        #[source]
        source: tokio_postgres::Error,
    },
}

/// Applies those of `migrations` that `schema` lacks (creating the schema
/// if needed); returns how many were applied.
///
/// # Errors
///
/// [`MigrationError::OutOfOrder`] before touching the database;
/// [`MigrationError::NewerSchema`] if a newer release migrated `schema`;
/// [`MigrationError::Database`] if a statement failed (nothing of this
/// call is applied: the migrations run in one transaction).
pub async fn migrate(
    client: &mut tokio_postgres::Client,
    schema: &SchemaName,
    component: &str,
    migrations: &[Migration],
) -> Result<u32, MigrationError> {
    for (expected, migration) in (1..).zip(migrations) {
        if migration.version != expected {
            return Err(MigrationError::OutOfOrder {
                name: migration.name,
                version: migration.version,
                expected,
            });
        }
    }
    let database = |version: i32| {
        let component = component.to_owned();
        move |source| MigrationError::Database {
            component,
            version,
            source,
        }
    };
    let transaction = client.transaction().await.map_err(database(0))?;
    // One migrator per schema at a time; the lock ends with the transaction.
    transaction
        .execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&schema.as_str()])
        .await
        .map_err(database(0))?;
    let exists = transaction
        .query_opt("SELECT 1 FROM pg_namespace WHERE nspname = $1", &[&schema.as_str()])
        .await
        .map_err(database(0))?
        .is_some();
    if !exists {
        // Only then: a role that owns its schema may lack CREATE on the database.
        let create = format!("CREATE SCHEMA {schema}");
        transaction.batch_execute(&create).await.map_err(database(0))?;
    }
    let setup = format!(
        "CREATE TABLE IF NOT EXISTS {schema}.gasbao_migrations (
             component text NOT NULL,
             version integer NOT NULL,
             name text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now(),
             PRIMARY KEY (component, version))"
    );
    transaction.batch_execute(&setup).await.map_err(database(0))?;
    let found: i32 = transaction
        .query_one(
            &format!("SELECT coalesce(max(version), 0) FROM {schema}.gasbao_migrations WHERE component = $1"),
            &[&component],
        )
        .await
        .map_err(database(0))?
        .get(0);
    let known = i32::try_from(migrations.len()).unwrap_or(i32::MAX);
    if found > known {
        return Err(MigrationError::NewerSchema {
            schema: schema.to_string(),
            component: component.to_owned(),
            found,
            known,
        });
    }
    let mut applied: u32 = 0;
    for migration in migrations.iter().filter(|m| m.version > found) {
        let statements = format!("SET LOCAL search_path TO {schema}; {}", migration.sql);
        transaction
            .batch_execute(&statements)
            .await
            .map_err(database(migration.version))?;
        transaction
            .execute(
                &format!("INSERT INTO {schema}.gasbao_migrations (component, version, name) VALUES ($1, $2, $3)"),
                &[&component, &migration.version, &migration.name],
            )
            .await
            .map_err(database(migration.version))?;
        applied = applied.saturating_add(1);
    }
    transaction.commit().await.map_err(database(0))?;
    Ok(applied)
}

/// A schema of its own for one test, so that tests sharing a database do not
/// see each other's tables. Dropped with everything in it by
/// [`drop_with`](Self::drop_with); a test that fails before that leaves it
/// for inspection.
#[derive(Debug)]
pub struct ScratchSchema {
    name: SchemaName,
}

impl ScratchSchema {
    /// Creates a schema named after `test`, this process and a counter.
    ///
    /// # Errors
    ///
    /// What the database says if the schema cannot be created.
    pub async fn create(client: &tokio_postgres::Client, test: &str) -> Result<ScratchSchema, tokio_postgres::Error> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let stem: String = test
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(32)
            .collect();
        let name = format!(
            "t_{stem}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let name = SchemaName(name);
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"))
            .await?;
        Ok(ScratchSchema { name })
    }

    /// Its name.
    #[must_use]
    pub fn name(&self) -> &SchemaName {
        &self.name
    }

    /// Drops it and everything in it.
    ///
    /// # Errors
    ///
    /// What the database says if it cannot be dropped.
    pub async fn drop_with(self, client: &tokio_postgres::Client) -> Result<(), tokio_postgres::Error> {
        client
            .batch_execute(&format!("DROP SCHEMA {} CASCADE", self.name))
            .await
    }
}

/// The database a test should use: `DATABASE_URL`, or `None` after saying
/// on stderr that `test` is skipped and why.
///
/// # Panics
///
/// When `CI` is set and `DATABASE_URL` is not: in CI a skipped database
/// test is a failure.
#[must_use]
#[allow(clippy::panic, reason = "test support: a skip in CI must fail the run")]
pub fn test_database_url(test: &str) -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("{test} needs PostgreSQL and CI is set: set DATABASE_URL (postgres://postgres@127.0.0.1/test)")
        }
        _ => {
            eprintln!(
                "skipped {test}: it needs PostgreSQL; set DATABASE_URL (e.g. postgres://postgres@127.0.0.1/test) to run it"
            );
            None
        }
    }
}
