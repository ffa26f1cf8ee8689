//! The offline queue: ids, stamps, hashes, order, retention and damage.

use gasbao_core::journal::{Journal, JournalOptions, MemoryStorage};
use gasbao_shadow::{OfflineQueue, PayloadHash, QueueError, QueueOptions, TxId, VersionStamp};
use serde_json::json;

fn small() -> QueueOptions {
    let mut journal = JournalOptions::default();
    journal.allocation_chunk = 1024;
    journal.segment_size = 1024;
    QueueOptions::new(0xbeef).journal(journal)
}

#[test]
fn entries_get_unique_ids_monotonic_stamps_and_sha256_hashes() {
    let mut queue = OfflineQueue::open(MemoryStorage::new(), small()).unwrap();
    let walls = [5_000, 5_000, 4_000, 9_000];
    let entries: Vec<_> = walls
        .iter()
        .map(|&ms| queue.push(&json!({"state": {"reported": {"t": ms}}}), ms).unwrap())
        .collect();
    let ids: Vec<TxId> = entries.iter().map(|e| e.tx_id).collect();
    assert_eq!(
        ids,
        (1..=4)
            .map(|counter| TxId {
                origin: 0xbeef,
                counter
            })
            .collect::<Vec<_>>()
    );
    let stamps: Vec<VersionStamp> = entries.iter().map(|e| e.version_stamp).collect();
    let expected = [(5_000, 0), (5_000, 1), (5_000, 2), (9_000, 0)]
        .map(|(physical_ms, logical)| VersionStamp { physical_ms, logical });
    assert_eq!(stamps, expected, "the wall clock stepping back does not reorder");
    // SHA-256 of the canonical text {"state":{"reported":{"t":5000}}}, computed with coreutils' sha256sum.
    assert_eq!(
        entries[0].payload_hash.to_hex(),
        "ed77e09f84427fbc316943f79f3864b77ce475b453e09fc0711eec339a32d9fd"
    );
}

#[test]
fn canonical_hashes_ignore_member_order_and_whitespace() {
    let a: serde_json::Value = serde_json::from_str(r#"{"b": 1, "a": [1, 2]}"#).unwrap();
    let b: serde_json::Value = serde_json::from_str(r#"{ "a":[1,2],"b":1 }"#).unwrap();
    assert_eq!(PayloadHash::of(&a), PayloadHash::of(&b));
    assert_ne!(PayloadHash::of(&a), PayloadHash::of(&json!({"a": [2, 1], "b": 1})));
}

#[test]
fn pending_survives_reopen_in_stamp_order_and_counters_continue() {
    let storage = MemoryStorage::new();
    let mut queue = OfflineQueue::open(storage.clone(), small()).unwrap();
    let pushed: Vec<_> = (0..10)
        .map(|i| queue.push(&json!({"i": i}), 1_000 + i).unwrap())
        .collect();
    queue.acknowledge(&[pushed[0].tx_id, pushed[3].tx_id]).unwrap();
    drop(queue);
    let mut queue = OfflineQueue::open(storage, small()).unwrap();
    let left: Vec<u64> = queue.pending().map(|e| e.tx_id.counter).collect();
    assert_eq!(left, [2, 3, 5, 6, 7, 8, 9, 10]);
    let batches: Vec<Vec<u64>> = queue
        .batches(3)
        .map(|b| b.iter().map(|e| e.tx_id.counter).collect())
        .collect();
    assert_eq!(batches, [vec![2, 3, 5], vec![6, 7, 8], vec![9, 10]]);
    let next = queue.push(&json!({"i": 11}), 500).unwrap();
    assert_eq!(next.tx_id.counter, 11);
    assert!(
        next.version_stamp > pushed[9].version_stamp,
        "the clock resumes after the newest stamp"
    );
}

#[test]
fn retention_drops_acknowledged_segments_and_keeps_the_counter() {
    let storage = MemoryStorage::new();
    let mut queue = OfflineQueue::open(storage.clone(), small()).unwrap();
    let mut last = None;
    for i in 0..200 {
        let entry = queue
            .push(&json!({"state": {"reported": {"index": i}}}), 1_000 + i)
            .unwrap();
        queue.acknowledge(&[entry.tx_id]).unwrap();
        last = Some(entry);
    }
    assert!(queue.journal().first_seq() > 0, "old segments were removed");
    assert!(queue.is_empty());
    drop(queue);
    let mut queue = OfflineQueue::open(storage, small()).unwrap();
    let next = queue.push(&json!({}), 0).unwrap();
    assert_eq!(next.tx_id.counter, 201);
    assert!(next.version_stamp > last.unwrap().version_stamp);
}

#[test]
fn a_record_the_queue_did_not_write_is_a_typed_error() {
    let storage = MemoryStorage::new();
    {
        let mut queue = OfflineQueue::open(storage.clone(), small()).unwrap();
        queue.push(&json!({"i": 1}), 1).unwrap();
    }
    {
        let (journal, _) = Journal::open(storage.clone(), JournalOptions::default()).unwrap();
        journal.append(&[1, 9, 9, 9]).unwrap();
    }
    let error = OfflineQueue::open(storage, small()).unwrap_err();
    assert!(
        matches!(
            error,
            QueueError::Corrupt {
                seq: 1,
                reason: "an unknown record type"
            }
        ),
        "{error}"
    );
}

#[test]
fn an_entry_of_another_device_is_refused_on_open() {
    let storage = MemoryStorage::new();
    OfflineQueue::open(storage.clone(), small())
        .unwrap()
        .push(&json!({}), 1)
        .unwrap();
    let error = OfflineQueue::open(storage, QueueOptions::new(1)).unwrap_err();
    assert!(
        matches!(
            error,
            QueueError::Corrupt {
                seq: 0,
                reason: "an entry of another device"
            }
        ),
        "{error}"
    );
}

#[test]
fn a_forged_counter_at_the_limit_exhausts_ids_instead_of_reusing_one() {
    let storage = MemoryStorage::new();
    let mut queue = OfflineQueue::open(storage.clone(), small()).unwrap();
    let real = queue.push(&json!({"i": 1}), 1).unwrap();
    drop(queue);
    {
        // An entry record claiming counter u64::MAX, with a valid hash.
        let payload = br#"{"i":2}"#;
        let mut record = vec![1, 1];
        record.extend_from_slice(&0xbeef_u64.to_le_bytes());
        record.extend_from_slice(&u64::MAX.to_le_bytes());
        record.extend_from_slice(&2_u64.to_le_bytes());
        record.extend_from_slice(&0_u32.to_le_bytes());
        record.extend_from_slice(&PayloadHash::of(&json!({"i": 2})).0);
        record.extend_from_slice(payload);
        let (journal, _) = Journal::open(storage.clone(), JournalOptions::default()).unwrap();
        journal.append(&record).unwrap();
    }
    let mut queue = OfflineQueue::open(storage, small()).unwrap();
    assert_eq!(queue.len(), 2);
    let error = queue.push(&json!({"i": 3}), 3).unwrap_err();
    assert!(matches!(error, QueueError::IdsExhausted { origin: 0xbeef }), "{error}");
    assert_eq!(queue.pending().next().map(|e| e.tx_id), Some(real.tx_id));
}

#[test]
fn the_synced_version_survives_restarts_and_retention() {
    let storage = MemoryStorage::new();
    let mut queue = OfflineQueue::open(storage.clone(), small()).unwrap();
    assert_eq!(queue.synced_version(), 0);
    queue.record_synced(41).unwrap();
    for i in 0..100 {
        let entry = queue
            .push(&json!({"state": {"reported": {"index": i}}}), 1_000 + i)
            .unwrap();
        queue.acknowledge(&[entry.tx_id]).unwrap();
    }
    assert!(
        queue.journal().first_seq() > 0,
        "the record of version 41 was in a removed segment"
    );
    drop(queue);
    let mut queue = OfflineQueue::open(storage.clone(), small()).unwrap();
    assert_eq!(queue.synced_version(), 41);
    queue.record_synced(44).unwrap();
    drop(queue);
    assert_eq!(OfflineQueue::open(storage, small()).unwrap().synced_version(), 44);
}
