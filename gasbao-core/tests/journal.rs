//! The journal under crashes, torn writes, bit flips and I/O errors: every
//! acknowledged record survives, and nothing damaged is ever read as valid.
#![cfg(feature = "journal")]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread;

use gasbao_core::journal::{
    AppendError, CorruptionKind, CrashStorage, Durability, FileStorage, Journal, JournalOptions, MemoryStorage,
    OpenError, Storage,
};

/// The payload of record `seq` in every workload: its content is checkable.
fn payload(seq: u64) -> Vec<u8> {
    let len = (seq * 37 % 300) as usize;
    let mut bytes = format!("record {seq}:").into_bytes();
    bytes.extend((0..len).map(|i| (seq as usize + i) as u8));
    bytes
}

fn options(durability: Durability) -> JournalOptions {
    // Small segments so that workloads cross segment boundaries, and small
    // allocations so that some appends grow the file.
    JournalOptions::default()
        .durability(durability)
        .segment_size(2_000)
        .allocation_chunk(512)
}

/// Reads every record back and checks it is record `first_seq..` in order.
fn read_all(journal: &Journal) -> Vec<u64> {
    let records: Vec<_> = journal.read_from(0).unwrap().map(|r| r.unwrap()).collect();
    for record in &records {
        assert_eq!(record.payload, payload(record.seq), "record {} corrupted", record.seq);
    }
    let seqs: Vec<u64> = records.iter().map(|r| r.seq).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "gap in {seqs:?}");
    seqs
}

/// A mixed workload: single appends, batches and explicit syncs. Returns the
/// sequence numbers acknowledged as durable before the first failure.
fn workload(storage: impl Storage, durability: Durability) -> Vec<u64> {
    let Ok((journal, _)) = Journal::open(storage, options(durability)) else {
        return Vec::new();
    };
    let mut acknowledged = Vec::new();
    let mut unsynced = Vec::new();
    for round in 0..12u64 {
        let result = if round % 3 == 0 {
            let next = journal.next_seq();
            let payloads: Vec<Vec<u8>> = (next..next + 4).map(payload).collect();
            journal
                .append_batch(payloads.iter().map(Vec::as_slice))
                .map(|r| r.collect::<Vec<_>>())
        } else {
            journal.append(&payload(journal.next_seq())).map(|s| vec![s])
        };
        let Ok(seqs) = result else { break };
        match durability {
            Durability::Buffered => {
                unsynced.extend(seqs);
                if round % 4 == 3 {
                    if journal.sync().is_err() {
                        break;
                    }
                    acknowledged.append(&mut unsynced);
                }
            }
            _ => acknowledged.extend(seqs),
        }
    }
    acknowledged
}

#[test]
fn records_round_trip_across_segments_in_every_mode() {
    for durability in [
        Durability::Buffered,
        Durability::SyncEachCommit,
        Durability::GroupCommit,
    ] {
        let storage = MemoryStorage::new();
        let acknowledged = workload(storage.clone(), durability);
        let (journal, report) = Journal::open(storage.clone(), options(durability)).unwrap();
        assert!(report.segments > 1, "{durability:?}: the workload should span segments");
        assert_eq!(report.torn_tail, None);
        assert_eq!(read_all(&journal), acknowledged, "{durability:?}");
    }
}

#[test]
fn a_crash_at_every_sync_loses_no_acknowledged_record() {
    for durability in [
        Durability::Buffered,
        Durability::SyncEachCommit,
        Durability::GroupCommit,
    ] {
        let dry_run = CrashStorage::new();
        workload(dry_run.clone(), durability);
        let syncs = dry_run.syncs();
        assert!(syncs > 5, "{durability:?}: {syncs} syncs");
        for crash_at in 1..=syncs {
            for torn in [0, 1, 19, 20, 77, 10_000] {
                let disk = CrashStorage::new().crash_at_sync(crash_at).torn_bytes(torn);
                let acknowledged = workload(disk.clone(), durability);
                let after = disk.restart();
                let (journal, _) = Journal::open(after, options(durability))
                    .unwrap_or_else(|e| panic!("{durability:?}, crash at sync {crash_at}, torn {torn}: {e:?}"));
                let recovered = read_all(&journal);
                for seq in &acknowledged {
                    assert!(
                        recovered.contains(seq),
                        "{durability:?}, crash at sync {crash_at}, torn {torn}: lost acknowledged record {seq}"
                    );
                }
                // The recovered journal takes appends where it left off.
                let next = journal.append(&payload(journal.next_seq())).unwrap();
                assert_eq!(next, recovered.last().map_or(0, |s| s + 1));
            }
        }
    }
}

#[test]
fn a_torn_last_record_is_cut_at_every_byte() {
    let base = CrashStorage::new();
    let (journal, _) = Journal::open(base.clone(), options(Durability::SyncEachCommit)).unwrap();
    for seq in 0..3 {
        journal.append(&payload(seq)).unwrap();
    }
    let last = payload(3);
    let frame_len = 20 + last.len();
    drop(journal);
    for kept in 0..=frame_len {
        // Write record 3 without syncing, then crash keeping `kept` bytes of it.
        let disk = base.restart().torn_bytes(kept);
        let (journal, _) = Journal::open(disk.clone(), options(Durability::Buffered)).unwrap();
        journal.append(&last).unwrap();
        journal.read_from(0).unwrap(); // hands the record to the storage
        drop(journal);
        let (journal, report) = Journal::open(disk.restart(), options(Durability::Buffered)).unwrap();
        let expected: Vec<u64> = if kept == frame_len {
            vec![0, 1, 2, 3]
        } else {
            vec![0, 1, 2]
        };
        assert_eq!(read_all(&journal), expected, "kept {kept}");
        assert_eq!(report.torn_tail.is_some(), kept > 0 && kept < frame_len, "kept {kept}");
    }
}

#[test]
fn a_segment_torn_while_being_created_is_dropped() {
    let storage = MemoryStorage::new();
    let (journal, _) = Journal::open(storage.clone(), options(Durability::GroupCommit)).unwrap();
    for seq in 0..5 {
        journal.append(&payload(seq)).unwrap();
    }
    drop(journal);
    // The next segment's file exists, but only 13 bytes of its header made it,
    // the last four of them zeros.
    let next = "00000000000000000005.gbj";
    storage.set_contents(next, b"GASBAOJ\n\x01\0\0\0\0".to_vec());
    let (journal, report) = Journal::open(storage.clone(), options(Durability::GroupCommit)).unwrap();
    let torn = report.torn_tail.unwrap();
    assert_eq!((torn.segment.as_str(), torn.offset, torn.bytes), (next, 0, 9));
    assert_eq!(read_all(&journal), (0..5).collect::<Vec<_>>());
    assert_eq!(journal.append(&payload(5)).unwrap(), 5);
    assert!(storage.contents(next).is_none_or(|bytes| bytes.len() != 13));
}

#[test]
fn every_flipped_bit_is_detected() {
    let storage = MemoryStorage::new();
    let (journal, _) = Journal::open(storage.clone(), options(Durability::GroupCommit)).unwrap();
    for seq in 0..3 {
        journal.append(&payload(seq)).unwrap();
    }
    drop(journal);
    let name = storage.list().unwrap().pop().unwrap();
    // Where each record ends: the header, then 20-byte frames and payloads.
    let ends: Vec<usize> = (0..3u64)
        .scan(40, |end, seq| {
            *end += 20 + payload(seq).len();
            Some(*end)
        })
        .collect();
    let pristine = storage.contents(&name).unwrap();
    // The records and a stretch of the zeros allocated after them.
    let data_len = pristine.iter().rposition(|&b| b != 0).unwrap() + 1 + 64;
    for bit in 0..data_len * 8 {
        let damaged_disk = MemoryStorage::new();
        let mut damaged = pristine.clone();
        damaged[bit / 8] ^= 1 << (bit % 8);
        damaged_disk.set_contents(&name, damaged);
        match Journal::open(damaged_disk, options(Durability::GroupCommit)) {
            Err(OpenError::Corrupt(corruption)) => assert_eq!(corruption.segment, name),
            Err(other) => panic!("bit {bit}: {other:?}"),
            // Accepted only as a crash would leave it: the damage and what
            // follows cut off as a torn tail, every record before it intact.
            Ok((journal, report)) => {
                assert!(report.torn_tail.is_some(), "bit {bit} went unnoticed");
                let whole_before = ends.iter().filter(|&&end| end <= bit / 8).count();
                assert!(read_all(&journal).len() >= whole_before, "bit {bit}");
            }
        }
    }
}

#[test]
fn damage_before_the_tail_is_a_hard_error_naming_the_place() {
    let storage = MemoryStorage::new();
    let (journal, _) = Journal::open(storage.clone(), options(Durability::GroupCommit)).unwrap();
    for seq in 0..40 {
        journal.append(&payload(seq)).unwrap();
    }
    drop(journal);
    let mut names = storage.list().unwrap();
    names.sort();
    assert!(names.len() > 2);
    // Damage the second record of the first segment (header 40 + first frame).
    let first = &names[0];
    let mut bytes = storage.contents(first).unwrap();
    let offset = 40 + 20 + payload(0).len();
    bytes[offset + 25] ^= 0x10;
    storage.set_contents(first, bytes);
    match Journal::open(storage, JournalOptions::default()) {
        Err(OpenError::Corrupt(c)) => {
            assert_eq!(
                (c.segment.as_str(), c.offset, c.problem),
                (first.as_str(), offset as u64, CorruptionKind::ChecksumMismatch)
            );
            assert!(c.to_string().contains(&format!("offset {offset}")), "{c}");
        }
        other => panic!("expected corruption, got {other:?}"),
    }
}

#[test]
fn io_errors_are_returned_and_then_appends_are_refused() {
    for disk in [
        CrashStorage::new().fail_write_at(3),
        CrashStorage::new().fail_sync_at(4),
    ] {
        let (journal, _) = Journal::open(disk.clone(), options(Durability::GroupCommit)).unwrap();
        let mut acknowledged = Vec::new();
        let mut failed = false;
        for _ in 0..10 {
            match journal.append(&payload(journal.next_seq())) {
                Ok(seq) => {
                    assert!(!failed, "an append succeeded after a storage failure");
                    acknowledged.push(seq);
                }
                Err(AppendError::Failed { .. }) => failed = true,
                Err(other) => panic!("{other:?}"),
            }
        }
        assert!(failed);
        drop(journal);
        let (journal, _) = Journal::open(disk.restart(), options(Durability::GroupCommit)).unwrap();
        let recovered = read_all(&journal);
        assert!(acknowledged.iter().all(|s| recovered.contains(s)));
    }
}

#[test]
fn concurrent_group_commit_appenders_get_unique_durable_records() {
    let storage = MemoryStorage::new();
    let (journal, _) = Journal::open(storage.clone(), options(Durability::GroupCommit)).unwrap();
    let journal = Arc::new(journal);
    let per_thread = if cfg!(miri) { 5 } else { 200 };
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let journal = Arc::clone(&journal);
            thread::spawn(move || {
                (0..per_thread)
                    .map(|i| {
                        let body = format!("thread {t} item {i}");
                        let seq = journal.append(body.as_bytes()).unwrap();
                        assert!(journal.durable_next() > seq, "returned before durable");
                        (seq, body)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let written: BTreeMap<u64, String> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    assert_eq!(written.len(), 8 * per_thread);
    drop(journal);
    let (journal, _) = Journal::open(storage, JournalOptions::default()).unwrap();
    let read: BTreeMap<u64, String> = journal
        .read_from(0)
        .unwrap()
        .map(|r| {
            let r = r.unwrap();
            (r.seq, String::from_utf8(r.payload).unwrap())
        })
        .collect();
    assert_eq!(read, written);
}

#[test]
fn retention_drops_acknowledged_segments_only() {
    let storage = MemoryStorage::new();
    let (journal, _) = Journal::open(storage.clone(), options(Durability::GroupCommit)).unwrap();
    for seq in 0..60 {
        journal.append(&payload(seq)).unwrap();
    }
    let before = storage.list().unwrap().len();
    let removed = journal.remove_before(30).unwrap();
    assert!(removed > 0 && removed < before);
    assert!(journal.first_seq() <= 30 && journal.first_seq() > 0);
    let from_30: Vec<u64> = journal.read_from(30).unwrap().map(|r| r.unwrap().seq).collect();
    assert_eq!(from_30, (30..60).collect::<Vec<_>>());
    drop(journal);
    let (journal, report) = Journal::open(storage, options(Durability::GroupCommit)).unwrap();
    assert_eq!(report.next_seq, 60);
    assert_eq!(read_all(&journal).first().copied(), Some(report.first_seq));
}

#[test]
fn oversized_payloads_are_refused_without_appending() {
    let (journal, _) = Journal::open(MemoryStorage::new(), JournalOptions::default()).unwrap();
    let huge = vec![0u8; (64 << 20) + 1];
    assert!(matches!(
        journal.append_batch([&b"ok"[..], &huge]),
        Err(AppendError::TooLarge { .. })
    ));
    assert_eq!(journal.next_seq(), 0);
}

#[test]
fn a_real_directory_round_trips() {
    let dir = std::env::temp_dir().join(format!("gasbao-journal-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    {
        let (journal, _) = Journal::open(FileStorage::new(&dir).unwrap(), options(Durability::GroupCommit)).unwrap();
        for seq in 0..50 {
            journal.append(&payload(seq)).unwrap();
        }
    }
    let (journal, report) = Journal::open(FileStorage::new(&dir).unwrap(), JournalOptions::default()).unwrap();
    assert_eq!(report.next_seq, 50);
    assert_eq!(read_all(&journal), (0..50).collect::<Vec<_>>());
    std::fs::remove_dir_all(&dir).unwrap();
}
