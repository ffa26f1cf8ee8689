//! Shadow stores: recovery, compaction, crashes, concurrent writers.

use std::sync::Arc;

use gasbao_core::journal::{CrashStorage, JournalOptions, MemoryStorage};
use gasbao_shadow::{
    DesiredField, FieldPolicy, JournalStore, OfflineQueue, QueueOptions, Rejection, ServiceError, ShadowId,
    ShadowRules, ShadowService, ShadowStore, ThingName, Timestamp,
};
use serde_json::json;

fn small() -> JournalOptions {
    let mut options = JournalOptions::default();
    options.allocation_chunk = 1024;
    options.segment_size = 4096;
    options
}

fn shadow(n: u32) -> ShadowId {
    ShadowId::classic(ThingName::new(format!("valve-{n}")).unwrap())
}

fn rules() -> ShadowRules {
    ShadowRules::default()
        .desired("valve", DesiredField::default().ordered())
        .merge("label", FieldPolicy::Manual)
}

#[test]
fn a_reopened_store_holds_every_document_as_it_was() {
    let storage = MemoryStorage::new();
    let service = ShadowService::new(JournalStore::open(storage.clone(), small()).unwrap(), rules());
    for i in 0..30u32 {
        let body = json!({"state": {"desired": {"valve": if i % 2 == 0 { "closed" } else { "open" }}, "reported": {"index": i, "label": "x"}}});
        service
            .update(
                &shadow(i % 3),
                body.to_string().as_bytes(),
                Timestamp::from_secs(u64::from(i)),
            )
            .unwrap();
    }
    // A replay leaves a conflict, an applied index and metadata origins behind.
    let mut queue = OfflineQueue::open(MemoryStorage::new(), QueueOptions::new(4)).unwrap();
    let entry = queue
        .push(&json!({"state": {"reported": {"label": "y"}}}), 99_000)
        .unwrap();
    service.replay(&shadow(0), &[&entry], 1).unwrap();
    service.delete(&shadow(2), Timestamp::from_secs(100)).unwrap();
    let before: Vec<_> = (0..3)
        .map(|n| service.store().load(&shadow(n)).unwrap().unwrap())
        .collect();
    assert_eq!(before[0].document.conflicts().len(), 1);
    drop(service);

    let service = ShadowService::new(JournalStore::open(storage, small()).unwrap(), rules());
    for (n, before) in before.iter().enumerate() {
        let after = service.store().load(&shadow(n as u32)).unwrap().unwrap();
        assert_eq!(&*after, &**before, "shadow {n}");
    }
    let (report, _) = service.replay(&shadow(0), &[&entry], 1).unwrap();
    assert_eq!(
        report.outcomes[0].1,
        gasbao_shadow::EntryOutcome::Skipped,
        "the applied index survived"
    );
    assert!(matches!(
        service.get(&shadow(2)),
        Err(ServiceError::Rejected(Rejection::NotFound { .. }))
    ));
}

#[test]
fn compaction_drops_old_segments_and_loses_nothing() {
    let storage = MemoryStorage::new();
    let store = JournalStore::open(storage.clone(), small()).unwrap().compact_every(7);
    let service = ShadowService::new(store, rules());
    for i in 0..200u32 {
        let body = json!({"state": {"reported": {"index": i, "pad": "x".repeat(40)}}});
        service
            .update(
                &shadow(i % 5),
                body.to_string().as_bytes(),
                Timestamp::from_secs(u64::from(i)),
            )
            .unwrap();
    }
    assert!(
        service.store().journal().first_seq() > 0,
        "segments before a snapshot were removed"
    );
    drop(service);
    let service = ShadowService::new(JournalStore::open(storage, small()).unwrap(), rules());
    for n in 0..5 {
        let shadow = service.get(&shadow(n)).unwrap();
        assert_eq!(shadow.document.version(), 40);
        assert_eq!(shadow.document.reported()["index"], 195 + n);
    }
}

#[test]
fn an_acknowledged_update_survives_a_crash_at_any_sync() {
    let run = |disk: &CrashStorage| -> Vec<(u32, u64)> {
        let mut acknowledged = Vec::new();
        let Ok(store) = JournalStore::open(disk.clone(), small()) else {
            return acknowledged;
        };
        let service = ShadowService::new(store.compact_every(4), rules());
        for i in 0..20u32 {
            let body = json!({"state": {"reported": {"index": i}}});
            match service.update(
                &shadow(i % 2),
                body.to_string().as_bytes(),
                Timestamp::from_secs(u64::from(i)),
            ) {
                Ok(reply) => acknowledged.push((i % 2, reply.outcome.accepted.version)),
                Err(_) => break,
            }
        }
        acknowledged
    };
    let clean = CrashStorage::new();
    run(&clean);
    for crash_at in 1..=clean.syncs() {
        let disk = CrashStorage::new().crash_at_sync(crash_at).torn_bytes(13);
        let acknowledged = run(&disk);
        let store = JournalStore::open(disk.restart(), small()).unwrap_or_else(|e| panic!("crash at {crash_at}: {e}"));
        for (n, version) in acknowledged {
            let stored = store
                .load(&shadow(n))
                .unwrap()
                .unwrap_or_else(|| panic!("crash at {crash_at}: shadow {n} lost"));
            assert!(
                stored.document.version() >= version,
                "crash at {crash_at}: shadow {n} went back before version {version}"
            );
            assert_eq!(stored.document.invariant_violation(), None);
        }
    }
}

#[test]
fn concurrent_writers_lose_no_update_and_every_409_is_real() {
    const WRITERS: u32 = 4;
    const INCREMENTS: u64 = 50;
    let service = Arc::new(ShadowService::new(
        JournalStore::open(MemoryStorage::new(), small()).unwrap(),
        ShadowRules::default(),
    ));
    service
        .update(
            &shadow(0),
            br#"{"state": {"reported": {"count": 0}}}"#,
            Timestamp::from_secs(0),
        )
        .unwrap();
    let threads: Vec<_> = (0..WRITERS)
        .map(|_| {
            let service = Arc::clone(&service);
            std::thread::spawn(move || {
                let mut conflicts = 0;
                for _ in 0..INCREMENTS {
                    loop {
                        let current = service.get(&shadow(0)).unwrap();
                        let count = current.document.reported()["count"].as_u64().unwrap();
                        let version = current.document.version();
                        let body = json!({"state": {"reported": {"count": count + 1}}, "version": version});
                        match service.update(&shadow(0), body.to_string().as_bytes(), Timestamp::from_secs(1)) {
                            Ok(_) => break,
                            Err(ServiceError::Rejected(Rejection::VersionConflict { expected, current })) => {
                                assert!(
                                    current > expected,
                                    "a 409 with nothing in between: {expected} vs {current}"
                                );
                                conflicts += 1;
                            }
                            Err(other) => panic!("{other}"),
                        }
                    }
                }
                conflicts
            })
        })
        .collect();
    let conflicts: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let end = service.get(&shadow(0)).unwrap();
    assert_eq!(end.document.reported()["count"], u64::from(WRITERS) * INCREMENTS);
    assert_eq!(end.document.version(), 1 + u64::from(WRITERS) * INCREMENTS);
    eprintln!("{conflicts} version conflicts, each retried");
}
