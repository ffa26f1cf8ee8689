//! The journal under crashes, torn writes, bit flips and I/O errors: every
//! acknowledged record survives, and nothing damaged is ever read as valid.
#![cfg(feature = "journal")]

use std::collections::BTreeMap;
use std::num::NonZeroU64;
use std::sync::{Arc, LazyLock};
use std::thread;

use gasbao_core::journal::{
    AppendError, CheckpointSigningKey, CorruptionKind, CrashStorage, Durability, FileStorage, Integrity, Journal,
    JournalOptions, MemoryStorage, MeteredStorage, OpenError, Storage, verify,
};

static KEY: LazyLock<Arc<CheckpointSigningKey>> =
    LazyLock::new(|| Arc::new(CheckpointSigningKey::from_secret_bytes(&[0x5a; 32]).unwrap()));

/// Every way of protecting records; signed journals checkpoint every 3
/// records, so workloads hold many checkpoints.
fn integrities() -> [Integrity; 3] {
    [
        Integrity::Checksums,
        Integrity::HashChain,
        Integrity::Signed {
            key: Arc::clone(&KEY),
            every: NonZeroU64::new(3).unwrap(),
        },
    ]
}

/// Length of a record's frame before its payload.
fn frame_len(integrity: &Integrity) -> usize {
    if matches!(integrity, Integrity::Checksums) {
        20
    } else {
        52
    }
}

/// Length of a segment header.
fn header_len(integrity: &Integrity) -> usize {
    if matches!(integrity, Integrity::Checksums) {
        40
    } else {
        72
    }
}

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

fn options_with(durability: Durability, integrity: &Integrity) -> JournalOptions {
    options(durability).integrity(integrity.clone())
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
fn workload(storage: impl Storage, options: JournalOptions) -> Vec<u64> {
    let durability = options.durability;
    let Ok((journal, _)) = Journal::open(storage, options) else {
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
        // A checkpoint on demand, now and then, where the journal is signed.
        let result = result.and_then(|seqs| match round % 5 {
            4 => match journal.checkpoint() {
                Ok(_) | Err(AppendError::NotSigned) => Ok(seqs),
                Err(e) => Err(e),
            },
            _ => Ok(seqs),
        });
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
    for integrity in integrities() {
        for durability in [
            Durability::Buffered,
            Durability::SyncEachCommit,
            Durability::GroupCommit,
        ] {
            let storage = MemoryStorage::new();
            let acknowledged = workload(storage.clone(), options_with(durability, &integrity));
            let (journal, report) = Journal::open(storage.clone(), options_with(durability, &integrity)).unwrap();
            assert!(report.segments > 1, "{durability:?}: the workload should span segments");
            assert_eq!(report.torn_tail, None);
            assert_eq!(read_all(&journal), acknowledged, "{durability:?} {integrity:?}");
            if let Integrity::Signed { .. } = integrity {
                // Automatic once 3 records are unsealed after an append: after
                // records 4 (batch 0..4), 10 (batch 6..10), 16 and 22; on demand
                // in rounds 4 and 9, after 11 and 22 records.
                assert_eq!(report.checkpoints, 6, "{report:?}");
                assert_eq!(report.last_checkpoint.unwrap().records, 22);
            }
        }
    }
}

#[test]
fn a_crash_at_every_sync_loses_no_acknowledged_record() {
    for integrity in integrities() {
        for durability in [
            Durability::Buffered,
            Durability::SyncEachCommit,
            Durability::GroupCommit,
        ] {
            let options = options_with(durability, &integrity);
            let dry_run = CrashStorage::new();
            workload(dry_run.clone(), options.clone());
            let syncs = dry_run.syncs();
            assert!(syncs > 5, "{durability:?}: {syncs} syncs");
            for crash_at in 1..=syncs {
                for torn in [0, 1, 19, 20, 52, 77, 10_000] {
                    let case = format!("{integrity:?}, {durability:?}, crash at sync {crash_at}, torn {torn}");
                    let disk = CrashStorage::new().crash_at_sync(crash_at).torn_bytes(torn);
                    let acknowledged = workload(disk.clone(), options.clone());
                    let after = disk.restart();
                    let (journal, _) =
                        Journal::open(after.clone(), options.clone()).unwrap_or_else(|e| panic!("{case}: {e:?}"));
                    let recovered = read_all(&journal);
                    for seq in &acknowledged {
                        assert!(recovered.contains(seq), "{case}: lost acknowledged record {seq}");
                    }
                    // The recovered journal takes appends where it left off,
                    // its chain and checkpoints continuing.
                    let next = journal.append(&payload(journal.next_seq())).unwrap();
                    assert_eq!(next, recovered.last().map_or(0, |s| s + 1), "{case}");
                    journal.sync().unwrap();
                    drop(journal);
                    let (_, report) = Journal::open(after.restart(), options.clone())
                        .unwrap_or_else(|e| panic!("{case}, reopened after an append: {e:?}"));
                    assert_eq!(report.next_seq, next + 1, "{case}");
                }
            }
        }
    }
}

#[test]
fn a_torn_last_record_is_cut_at_every_byte() {
    for integrity in integrities() {
        // Space allocated ahead for all of it, so the torn write is the record's.
        let sync_each = options_with(Durability::SyncEachCommit, &integrity).allocation_chunk(4096);
        let buffered = options_with(Durability::Buffered, &integrity).allocation_chunk(4096);
        let base = CrashStorage::new();
        let (journal, _) = Journal::open(base.clone(), sync_each).unwrap();
        for seq in 0..2 {
            journal.append(&payload(seq)).unwrap();
        }
        drop(journal);
        // Record 2 is the last written; in a signed journal a checkpoint
        // (96-byte payload) follows it, so the torn write covers both.
        let last = payload(2);
        let mut written = frame_len(&integrity) + last.len();
        if let Integrity::Signed { .. } = integrity {
            written += frame_len(&integrity) + 96;
        }
        for kept in 0..=written {
            // Write record 2 without syncing, then crash keeping `kept` bytes of it.
            let disk = base.restart().torn_bytes(kept);
            let (journal, _) = Journal::open(disk.clone(), buffered.clone()).unwrap();
            journal.append(&last).unwrap();
            journal.read_from(0).unwrap(); // hands the record to the storage
            drop(journal);
            let (journal, report) = Journal::open(disk.restart(), buffered.clone()).unwrap();
            let record_whole = kept >= frame_len(&integrity) + last.len();
            let expected: Vec<u64> = if record_whole { vec![0, 1, 2] } else { vec![0, 1] };
            assert_eq!(read_all(&journal), expected, "{integrity:?} kept {kept}");
            let torn = kept > 0 && kept < written && kept != frame_len(&integrity) + last.len();
            assert_eq!(report.torn_tail.is_some(), torn, "{integrity:?} kept {kept}");
        }
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
    for integrity in integrities() {
        let options = options_with(Durability::GroupCommit, &integrity);
        let storage = MemoryStorage::new();
        let (journal, _) = Journal::open(storage.clone(), options.clone()).unwrap();
        for seq in 0..3 {
            journal.append(&payload(seq)).unwrap();
        }
        drop(journal);
        let name = storage.list().unwrap().pop().unwrap();
        // Where each data record ends: the header, then frames and payloads
        // (and in a signed journal, a checkpoint after the third).
        let ends: Vec<usize> = (0..3u64)
            .scan(header_len(&integrity), |end, seq| {
                *end += frame_len(&integrity) + payload(seq).len();
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
            match Journal::open(damaged_disk, options.clone()) {
                Err(OpenError::Corrupt(corruption)) => assert_eq!(corruption.segment, name),
                Err(other) => panic!("{integrity:?} bit {bit}: {other:?}"),
                // Accepted only as a crash would leave it: the damage and what
                // follows cut off as a torn tail, every record before it intact.
                Ok((journal, report)) => {
                    assert!(report.torn_tail.is_some(), "{integrity:?} bit {bit} went unnoticed");
                    let whole_before = ends.iter().filter(|&&end| end <= bit / 8).count();
                    assert!(read_all(&journal).len() >= whole_before, "{integrity:?} bit {bit}");
                }
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
    for (integrity, disk) in integrities().into_iter().flat_map(|integrity| {
        [
            CrashStorage::new().fail_write_at(3),
            CrashStorage::new().fail_sync_at(4),
        ]
        .map(|disk| (integrity.clone(), disk))
    }) {
        let options = options_with(Durability::GroupCommit, &integrity);
        let (journal, _) = Journal::open(disk.clone(), options.clone()).unwrap();
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
        assert!(failed, "{integrity:?}");
        drop(journal);
        let (journal, _) = Journal::open(disk.restart(), options).unwrap();
        let recovered = read_all(&journal);
        assert!(acknowledged.iter().all(|s| recovered.contains(s)));
    }
}

#[test]
fn concurrent_group_commit_appenders_get_unique_durable_records() {
    // Signed, so that automatic checkpoints interleave with the appenders.
    let signed = options_with(Durability::GroupCommit, &integrities()[2]);
    let storage = MemoryStorage::new();
    let (journal, _) = Journal::open(storage.clone(), signed.clone()).unwrap();
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
    let (journal, report) = Journal::open(storage, signed).unwrap();
    // Appends of one record each: a checkpoint after every third, whoever appends it.
    assert_eq!(report.checkpoints, (8 * per_thread as u64) / 3, "{report:?}");
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

/// A sync failing under many group-commit appenders wakes every one of them:
/// none hangs, none is told a record is durable that the failed sync carried,
/// and every record acknowledged before the failure survives.
#[test]
fn a_failed_group_sync_releases_every_waiting_appender() {
    // Opening a new journal takes the first three syncs.
    for fail_at in [4, 7, 15] {
        let disk = CrashStorage::new().fail_sync_at(fail_at);
        let (journal, _) = Journal::open(disk.clone(), options(Durability::GroupCommit)).unwrap();
        let journal = Arc::new(journal);
        let acknowledged: Vec<u64> = thread::scope(|scope| {
            let workers: Vec<_> = (0..8)
                .map(|_| {
                    let journal = Arc::clone(&journal);
                    scope.spawn(move || {
                        let mut mine = Vec::new();
                        for _ in 0..50 {
                            match journal.append(b"valve 7 closed") {
                                Ok(seq) => mine.push(seq),
                                Err(AppendError::Failed { .. }) => break,
                                Err(other) => panic!("{other:?}"),
                            }
                        }
                        mine
                    })
                })
                .collect();
            workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
        });
        assert!(journal.append(b"after").is_err(), "fail at sync {fail_at}");
        drop(journal);
        let (journal, _) = Journal::open(disk.restart(), options(Durability::GroupCommit)).unwrap();
        let recovered: Vec<u64> = journal.read_from(0).unwrap().map(|r| r.unwrap().seq).collect();
        for seq in &acknowledged {
            assert!(recovered.contains(seq), "fail at sync {fail_at}: lost {seq}");
        }
    }
}

#[test]
fn retention_drops_acknowledged_segments_only() {
    for integrity in integrities() {
        let options = options_with(Durability::GroupCommit, &integrity);
        let storage = MemoryStorage::new();
        let (journal, _) = Journal::open(storage.clone(), options.clone()).unwrap();
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
        // The oldest segment left starts from the chain hash it always had.
        let verified = verify(&storage, Some(KEY.verifying_key())).unwrap();
        assert_eq!((verified.first_seq, verified.next_seq), (journal_first(&storage), 60));
        let (journal, report) = Journal::open(storage, options).unwrap();
        assert_eq!(report.next_seq, 60);
        assert_eq!(read_all(&journal).first().copied(), Some(report.first_seq));
    }
}

/// The first sequence number the oldest segment file names.
fn journal_first(storage: &MemoryStorage) -> u64 {
    let mut names = storage.list().unwrap();
    names.sort();
    names[0].trim_end_matches(".gbj").parse().unwrap()
}

/// Found by fuzzing: a segment holding only a checkpoint was rotated away
/// from, and the next segment, named by the same first record, overwrote it.
#[test]
fn checkpoints_alone_never_start_a_segment_twice() {
    let options = options_with(Durability::SyncEachCommit, &integrities()[2]).segment_size(64);
    let storage = MemoryStorage::new();
    let (journal, _) = Journal::open(storage.clone(), options.clone()).unwrap();
    journal.append(&payload(0)).unwrap();
    journal.checkpoint().unwrap();
    journal.checkpoint().unwrap();
    journal.append(&payload(1)).unwrap();
    journal.append(&payload(2)).unwrap();
    drop(journal);
    let report = verify(&storage, Some(KEY.verifying_key())).unwrap();
    assert_eq!((report.next_seq, report.checkpoints), (3, 2));
    let (journal, _) = Journal::open(storage, options).unwrap();
    assert_eq!(read_all(&journal), [0, 1, 2]);
}

#[test]
fn journals_keys_and_readers_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Journal>();
    send_sync::<CheckpointSigningKey>();
    send_sync::<gasbao_core::journal::CheckpointVerifyingKey>();
    send::<gasbao_core::journal::JournalReader>();
    send_sync::<AppendError>();
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

/// Group commit's point: appenders waiting at once share a sync. The window
/// is far longer than the test needs, so it also checks that the last
/// appender to queue wakes the gathering leader (a leader left to time out
/// would wait 2 s per sync; the test takes about 0.1 s).
#[test]
fn group_commit_gathers_the_appenders_into_shared_syncs_and_wakes_its_leader() {
    const WRITERS: u64 = 8;
    const EACH: u64 = 25;
    // A disk whose flush takes 2 ms, so that appenders pile up behind each sync.
    let disk = MeteredStorage::new(MemoryStorage::new()).sync_delay(std::time::Duration::from_millis(2));
    let window = std::time::Duration::from_secs(2);
    let options = JournalOptions::default()
        .durability(Durability::GroupCommit)
        .group_commit_window(window);
    let (journal, _) = Journal::open(disk.clone(), options).unwrap();
    let syncs_before = disk.syncs();
    let started = std::time::Instant::now();
    thread::scope(|scope| {
        for writer in 0..WRITERS {
            let journal = &journal;
            scope.spawn(move || {
                for i in 0..EACH {
                    journal
                        .append(format!("meter {writer} reading {i}").as_bytes())
                        .unwrap();
                }
            });
        }
    });
    let took = started.elapsed();
    let syncs = disk.syncs() - syncs_before;
    assert!(
        took < window / 2,
        "took {took:?}: a gathering leader waited out its window"
    );
    // One sync per record would be 200; every writer in every sync, 25.
    // Three quarters of the writers per sync on average is what the issue asks.
    let per_sync = (WRITERS * EACH) as f64 / syncs as f64;
    assert!(
        per_sync >= 0.75 * WRITERS as f64,
        "{per_sync:.1} records per sync ({syncs} syncs)"
    );
    assert_eq!(journal.durable_next(), WRITERS * EACH);
}

/// An append that fails stops counting as an appender: the next group sync
/// does not wait for it to queue (with a 2 s window, a leaked count would
/// hold every later append for the whole window).
#[test]
fn a_failed_group_append_is_not_waited_for() {
    let options = JournalOptions::default()
        .durability(Durability::GroupCommit)
        .group_commit_window(std::time::Duration::from_secs(2));
    let (journal, _) = Journal::open(MemoryStorage::new(), options).unwrap();
    let too_large = vec![0u8; (64 << 20) + 1];
    assert!(matches!(journal.append(&too_large), Err(AppendError::TooLarge { .. })));
    let started = std::time::Instant::now();
    assert_eq!(journal.append(b"meter 7 read 12.5 m3").unwrap(), 0);
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(1), "took {took:?}");
}
