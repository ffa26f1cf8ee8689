//! The PostgreSQL shadow store against a real server (`DATABASE_URL`;
//! skipped with a message without it, a failure in CI): several API nodes
//! writing the same shadows lose no update, and every 409 they get is a
//! version that really moved. Each test works in a schema of its own.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use gasbao_core::postgres::{ScratchSchema, pool, test_database_url};
use gasbao_shadow::postgres::PgShadowStore;
use gasbao_shadow::{
    Rejection, ServiceError, ShadowId, ShadowName, ShadowRules, ShadowService, ShadowStore, StoreError, ThingName,
    Timestamp,
};

const WRITERS: usize = 4;
const UPDATES: u64 = 60;

fn shadows() -> Vec<ShadowId> {
    let meter = ThingName::new("meter-1").expect("a name");
    vec![
        ShadowId::classic(meter.clone()),
        ShadowId::named(meter, ShadowName::new("valve").expect("a name")),
    ]
}

/// A store in a scratch schema of its own, with the runtime it blocks on;
/// `None` (the test skips) without `DATABASE_URL`.
struct Scratch {
    runtime: tokio::runtime::Runtime,
    pool: gasbao_core::postgres::deadpool_postgres::Pool,
    schema: ScratchSchema,
}

impl Scratch {
    fn open(test: &str, schema: &str, connections: usize) -> Option<(Scratch, PgShadowStore)> {
        let url = test_database_url(test)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let pool = pool(&url, connections).expect("a pool");
        let (schema, store) = runtime.block_on(async {
            let client = pool.get().await.expect("PostgreSQL answers at DATABASE_URL");
            let schema = ScratchSchema::create(&client, schema).await.expect("a schema");
            let store = PgShadowStore::open(pool.clone(), schema.name()).await.expect("opens");
            (schema, store)
        });
        Some((Scratch { runtime, pool, schema }, store))
    }

    /// Runs SQL on the store's schema, as another program would.
    fn execute(&self, sql: &str, params: &[&(dyn gasbao_core::postgres::tokio_postgres::types::ToSql + Sync)]) {
        self.runtime.block_on(async {
            let client = self.pool.get().await.expect("a connection");
            client.execute(sql, params).await.expect("runs");
        });
    }

    fn drop_schema(self) {
        self.runtime.block_on(async {
            let client = self.pool.get().await.expect("a connection");
            self.schema.drop_with(&client).await.expect("drops");
        });
    }
}

#[test]
fn four_nodes_writing_the_same_shadows_lose_no_update_and_get_only_real_conflicts() {
    let Some((scratch, store)) = Scratch::open("four_nodes_writing_the_same_shadows", "shadow_writers", 8) else {
        return;
    };
    // Each node is a service of its own on the shared table.
    let service = Arc::new(ShadowService::new(store, ShadowRules::default()));
    // Per shadow: the versions accepted updates produced, and the 409s as (expected, current).
    let accepted = Arc::new(Mutex::new(vec![BTreeSet::new(); shadows().len()]));
    let conflicts = Arc::new(Mutex::new(vec![Vec::new(); shadows().len()]));
    std::thread::scope(|scope| {
        for writer in 0..WRITERS {
            let (service, accepted, conflicts) = (&service, &accepted, &conflicts);
            scope.spawn(move || {
                for (index, id) in shadows().iter().enumerate() {
                    for update in 1..=UPDATES {
                        // Read, then write with the version read: the optimistic
                        // pattern AWS documents; on 409, read again.
                        loop {
                            let version = service.get(id).map_or(0, |shadow| shadow.document.version());
                            let payload = format!(
                                r#"{{"state": {{"reported": {{"writer{writer}": {update}}}}}, "version": {version}}}"#
                            );
                            let payload = if version == 0 {
                                format!(r#"{{"state": {{"reported": {{"writer{writer}": {update}}}}}}}"#)
                            } else {
                                payload
                            };
                            match service.update(id, payload.as_bytes(), Timestamp::from_secs(update)) {
                                Ok(reply) => {
                                    let fresh =
                                        accepted.lock().unwrap()[index].insert(reply.current.document.version());
                                    assert!(fresh, "version {} accepted twice", reply.current.document.version());
                                    break;
                                }
                                Err(ServiceError::Rejected(Rejection::VersionConflict { expected, current })) => {
                                    conflicts.lock().unwrap()[index].push((expected, current));
                                }
                                Err(other) => panic!("writer {writer}, update {update}: {other}"),
                            }
                        }
                    }
                }
            });
        }
    });
    let accepted = accepted.lock().unwrap();
    let conflicts = conflicts.lock().unwrap();
    let mut total_conflicts = 0;
    for (index, id) in shadows().iter().enumerate() {
        let shadow = service.get(id).expect("stored");
        let reported = shadow.document.reported();
        // No lost update: each writer's last value is there, and every
        // accepted update made exactly one version, 1 to the last.
        for writer in 0..WRITERS {
            assert_eq!(reported[&format!("writer{writer}")], UPDATES, "{id}: writer {writer}");
        }
        let versions = &accepted[index];
        let count = u64::try_from(versions.len()).expect("fits");
        assert_eq!(count, WRITERS as u64 * UPDATES, "{id}: accepted updates");
        assert_eq!(
            versions.iter().copied().collect::<Vec<_>>(),
            (1..=count).collect::<Vec<_>>(),
            "{id}"
        );
        assert_eq!(shadow.document.version(), count, "{id}");
        // Every 409 is real: the shadow had moved past the version the
        // writer read, to a version an accepted update made.
        for &(expected, current) in &conflicts[index] {
            assert!(current > expected, "{id}: 409 expecting {expected} at {current}");
            assert!(
                versions.contains(&current),
                "{id}: 409 names version {current}, which no update made"
            );
        }
        total_conflicts += conflicts[index].len();
    }
    eprintln!(
        "{} accepted updates over {} shadows by {WRITERS} writers; {total_conflicts} real 409s",
        accepted.iter().map(BTreeSet::len).sum::<usize>(),
        accepted.len()
    );
    assert!(total_conflicts > 0, "the writers never raced");
    let ids = service.store().ids().expect("lists");
    assert_eq!(ids, shadows());
    drop(service);
    scratch.drop_schema();
}

#[test]
fn rows_changed_behind_the_store_are_refused_naming_the_shadow() {
    let Some((scratch, store)) = Scratch::open("rows_changed_behind_the_store", "shadow_corrupt", 2) else {
        return;
    };
    // Another program's rows: a record that is no shadow, and a thing name
    // that AWS IoT would refuse.
    let insert = format!(
        "INSERT INTO {} (thing, shadow, revision, version, deleted, record)
         VALUES ($1, $2, 1, 1, false, $3::text::jsonb)",
        scratch.schema.name().table("shadows")
    );
    for (thing, shadow, record) in [("meter-1", "", r#"{"valve": "open"}"#), ("meter 2!", "", "{}")] {
        scratch.execute(&insert, &[&thing, &shadow, &record]);
    }

    let meter = ShadowId::classic(ThingName::new("meter-1").expect("a name"));
    match store.load(&meter) {
        Err(StoreError::CorruptRow { shadow, reason }) => {
            assert_eq!(shadow, "meter-1");
            assert!(!reason.is_empty());
        }
        other => panic!("{other:?}"),
    }
    match store.ids() {
        Err(StoreError::CorruptRow { shadow, .. }) => assert_eq!(shadow, "meter 2!/"),
        other => panic!("{other:?}"),
    }
    drop(store);
    scratch.drop_schema();
}
