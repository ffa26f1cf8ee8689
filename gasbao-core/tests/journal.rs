//! The journal under crashes, torn writes, bit flips and I/O errors: every
//! acknowledged record survives, and nothing damaged is ever read as valid.
#![cfg(feature = "journal")]

use std::collections::BTreeMap;
use std::num::NonZeroU64;
use std::sync::{Arc, LazyLock};
use std::thread;

use gasbao_core::journal::{
    AppendError, CheckpointSigningKey, CorruptionKind, CrashStorage, Durability, FileStorage, Integrity, Journal,
    JournalOptions, MemoryStorage, MeteredStorage, OpenError, ReadError, Storage, verify,
};

static KEY: LazyLock<Arc<CheckpointSigningKey>> =
    LazyLock::new(|| Arc::new(CheckpointSigningKey::from_secret_bytes(&[0x5a; 32]).unwrap()));
/// The key a workload rotates to half way.
static NEXT_KEY: LazyLock<Arc<CheckpointSigningKey>> =
    LazyLock::new(|| Arc::new(CheckpointSigningKey::from_secret_bytes(&[0x5b; 32]).unwrap()));

/// Every way of protecting records; signed journals checkpoint every 3
/// records, so workloads hold many checkpoints.
fn integrities() -> [Integrity; 3] {
    [
        Integrity::Checksums,
        Integrity::HashChain,
        Integrity::Signed {
            key: KEY.clone(),
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

/// Length of a segment header: format version 1, or version 3.
fn header_len(integrity: &Integrity) -> usize {
    if matches!(integrity, Integrity::Checksums) {
        40
    } else {
        80
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
    let records: Vec<_> = journal
        .read_from(journal.first_seq())
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    for record in &records {
        assert_eq!(record.payload, payload(record.seq), "record {} corrupted", record.seq);
    }
    let seqs: Vec<u64> = records.iter().map(|r| r.seq).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "gap in {seqs:?}");
    seqs
}

/// `options` after the workload's key rotation: signed by the next key,
/// trusting the first. Other integrities are unchanged.
fn rotated(options: &JournalOptions) -> JournalOptions {
    match options.integrity {
        Integrity::Signed { every, .. } => options
            .clone()
            .integrity(Integrity::Signed {
                key: NEXT_KEY.clone(),
                every,
            })
            .trust(KEY.verifying_key().clone()),
        _ => options.clone(),
    }
}

/// A mixed workload: single appends, batches, flushes and explicit syncs; half
/// way, the journal is closed and opened again (taking its writer lock
/// again), signed ones with the next key. Returns the sequence numbers
/// acknowledged as durable before the first failure.
fn workload(storage: impl Storage + Clone, options: JournalOptions) -> Vec<u64> {
    let durability = options.durability;
    let mut acknowledged = Vec::new();
    let mut unsynced = Vec::new();
    let first_half = workload_rounds(storage.clone(), options.clone(), 0..6, &mut acknowledged, &mut unsynced);
    if first_half {
        workload_rounds(storage, rotated(&options), 6..12, &mut acknowledged, &mut unsynced);
    }
    if durability != Durability::Buffered {
        assert!(unsynced.is_empty());
    }
    acknowledged
}

/// Rounds `rounds` of [`workload`]; false if the storage failed.
fn workload_rounds(
    storage: impl Storage,
    options: JournalOptions,
    rounds: std::ops::Range<u64>,
    acknowledged: &mut Vec<u64>,
    unsynced: &mut Vec<u64>,
) -> bool {
    let durability = options.durability;
    let Ok((journal, _)) = Journal::open(storage, options) else {
        return false;
    };
    for round in rounds {
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
        let Ok(seqs) = result else { return false };
        match durability {
            Durability::Buffered => {
                unsynced.extend(seqs);
                // A flush hands records to the storage but acknowledges nothing.
                if round % 4 == 1 && journal.flush().is_err() {
                    return false;
                }
                if round % 4 == 3 {
                    if journal.sync().is_err() {
                        return false;
                    }
                    acknowledged.append(unsynced);
                }
            }
            _ => acknowledged.extend(seqs),
        }
    }
    true
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
            let (journal, report) =
                Journal::open(storage.clone(), rotated(&options_with(durability, &integrity))).unwrap();
            assert!(report.segments > 1, "{durability:?}: the workload should span segments");
            assert_eq!(report.torn_tail, None);
            assert_eq!(read_all(&journal), acknowledged, "{durability:?} {integrity:?}");
            if let Integrity::Signed { .. } = integrity {
                // Automatic whenever 3 records are unsealed, inside batches
                // too, and on demand in rounds 4 and 9. The first key seals
                // after records 3 (in batch 0..4), 6, 9 (in batch 6..10) and,
                // on demand, 11; reopened half way, the next key seals record
                // 11 at once, then after 15 (in batch 12..16), 18, 21 (in
                // batch 18..22) and, on demand, 22; reopened here, 22..24.
                let keys = [KEY.verifying_key().clone(), NEXT_KEY.verifying_key().clone()];
                let verified = verify(&storage, &keys).unwrap();
                let sealed: Vec<(std::ops::Range<u64>, bool)> = verified
                    .sealed
                    .iter()
                    .map(|s| (s.records.clone(), s.key_id == KEY.verifying_key().key_id()))
                    .collect();
                assert_eq!(sealed, [(0..11, true), (11..24, false)], "{durability:?}");
                assert_eq!(report.last_checkpoint.unwrap().records, 24);
            }
        }
    }
}

/// Power loss at every sync: the crash storage keeps only what was synced
/// (and a torn prefix of what was not), through flushes, a close and reopen
/// that takes the writer lock again, and a key rotation.
#[test]
fn power_loss_at_every_sync_loses_no_acknowledged_record() {
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
                    let options = rotated(&options);
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
        // Record 2 is the last written. (A signed journal seals records 0 and
        // 1 when it is reopened, so no checkpoint follows record 2.)
        let last = payload(2);
        let written = frame_len(&integrity) + last.len();
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
    // Appends of one record each: a checkpoint after every third, whoever
    // appends it, and on reopening one over the records left after the last.
    assert_eq!(report.checkpoints, (8 * per_thread as u64).div_ceil(3), "{report:?}");
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
        assert!(
            matches!(journal.append(b"after"), Err(AppendError::Failed { .. })),
            "fail at sync {fail_at}: a failed journal refuses appends"
        );
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
        let verified = verify(&storage, std::slice::from_ref(KEY.verifying_key())).unwrap();
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
    let report = verify(&storage, std::slice::from_ref(KEY.verifying_key())).unwrap();
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

/// Dropping a buffered journal hands its records to the storage: a process
/// that exits after dropping it loses nothing, though nothing was synced.
#[test]
fn a_dropped_buffered_journal_keeps_what_it_buffered() {
    for integrity in integrities() {
        let storage = MemoryStorage::new();
        let options = options_with(Durability::Buffered, &integrity).segment_size(1 << 20);
        let (journal, _) = Journal::open(storage.clone(), options.clone()).unwrap();
        for seq in 0..100 {
            journal.append(&payload(seq)).unwrap();
        }
        drop(journal);
        let (journal, _) = Journal::open(storage, options).unwrap();
        assert_eq!(read_all(&journal), (0..100).collect::<Vec<_>>(), "{integrity:?}");
    }
}

/// `flush` survives the process (the storage has the records) but not power
/// loss; `sync` survives both.
#[test]
fn flush_reaches_the_storage_and_sync_reaches_the_disk() {
    let disk = CrashStorage::new();
    let options = options(Durability::Buffered).segment_size(1 << 20);
    let (journal, _) = Journal::open(disk.clone(), options.clone()).unwrap();
    for seq in 0..10 {
        journal.append(&payload(seq)).unwrap();
    }
    journal.flush().unwrap();
    // Another reader sees the flushed records; power loss takes them.
    let (view, _) = gasbao_core::journal::ReadOnlyJournal::open(disk.clone(), &[]).unwrap();
    assert_eq!(view.next_seq(), 10);
    let (after_power_loss, _) = Journal::open(disk.restart(), options.clone()).unwrap();
    assert_eq!(read_all(&after_power_loss), Vec::<u64>::new());
    drop(after_power_loss);
    assert_eq!(journal.sync().unwrap(), 10);
    let (after_power_loss, _) = Journal::open(disk.restart(), options).unwrap();
    assert_eq!(read_all(&after_power_loss), (0..10).collect::<Vec<_>>());
}

/// A checkpoint in buffered mode is made durable by the next `sync`, even
/// though it moves no record count.
#[test]
fn sync_makes_a_buffered_checkpoint_durable() {
    let disk = CrashStorage::new();
    let options = options_with(Durability::Buffered, &integrities()[2]).segment_size(1 << 20);
    let (journal, _) = Journal::open(disk.clone(), options.clone()).unwrap();
    journal.append(&payload(0)).unwrap();
    journal.sync().unwrap();
    let checkpoint = journal.checkpoint().unwrap();
    assert_eq!(checkpoint.records, 1);
    journal.sync().unwrap();
    let after = disk.restart();
    let report = verify(&after, std::slice::from_ref(KEY.verifying_key())).unwrap();
    assert_eq!((report.checkpoints, report.unsealed_records()), (1, 0));
    assert_eq!(report.last_checkpoint, Some(checkpoint));
}

/// However large the buffer, no segment grows past `segment_size` but by a
/// single record larger than a segment.
#[test]
fn buffered_flushes_keep_segments_within_their_size() {
    for integrity in integrities() {
        let storage = MemoryStorage::new();
        let options = options_with(Durability::Buffered, &integrity)
            .segment_size(8 << 10)
            .allocation_chunk(1 << 10);
        let (journal, _) = Journal::open(storage.clone(), options.clone()).unwrap();
        for seq in 0..400 {
            journal.append(&payload(seq)).unwrap();
        }
        let big = vec![7u8; 10 << 10];
        journal.append(&big).unwrap();
        journal.append(&payload(401)).unwrap();
        journal.sync().unwrap();
        drop(journal);
        let mut sizes = Vec::new();
        for name in storage.list().unwrap() {
            // Written bytes only: the zeros allocated ahead are not data.
            let bytes = storage.contents(&name).unwrap();
            sizes.push(bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1));
        }
        let oversized: Vec<usize> = sizes.iter().copied().filter(|&len| len > 8 << 10).collect();
        // Only the segment of the 10 KiB record, which holds it alone.
        assert_eq!(oversized.len(), 1, "{integrity:?}: {sizes:?}");
        assert!(oversized[0] < (10 << 10) + 300, "{integrity:?}: {sizes:?}");
        assert!(sizes.len() > 10, "{integrity:?}: {sizes:?}");
        let (journal, _) = Journal::open(storage, options).unwrap();
        assert_eq!(journal.next_seq(), 402);
    }
}

/// Reading from before what retention kept is an error that says so, not a
/// silent start at the oldest record kept.
#[test]
fn reading_before_retention_says_the_records_were_removed() {
    let storage = MemoryStorage::new();
    let (journal, _) = Journal::open(storage.clone(), options(Durability::GroupCommit)).unwrap();
    for seq in 0..60 {
        journal.append(&payload(seq)).unwrap();
    }
    assert!(journal.remove_before(30).unwrap() > 0);
    let first = journal.first_seq();
    assert!(first > 0 && first <= 30);
    match journal.read_from(0) {
        Err(ReadError::Removed { requested, first_seq }) => assert_eq!((requested, first_seq), (0, first)),
        other => panic!("{other:?}"),
    }
    assert_eq!(journal.read_from(first).unwrap().next().unwrap().unwrap().seq, first);
    // A reader started before retention finishes the segment it is in, then
    // says why it stops.
    let mut reader = journal.read_from(first).unwrap();
    assert_eq!(reader.next().unwrap().unwrap().seq, first);
    journal.remove_before(60).unwrap();
    let mut read = vec![first];
    let stopped = loop {
        match reader.next() {
            Some(Ok(record)) => read.push(record.seq),
            Some(Err(e)) => break Some(e),
            None => break None,
        }
    };
    match stopped {
        Some(ReadError::RemovedWhileReading { seq, segment }) => {
            assert_eq!(seq, read.last().unwrap() + 1, "stopped at {segment}");
            assert_eq!(read, (first..seq).collect::<Vec<_>>());
        }
        other => panic!("{other:?} after {read:?}"),
    }
}
