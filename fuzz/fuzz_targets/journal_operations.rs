//! Arbitrary operation sequences on a disk that fails or crashes after a
//! countdown: nothing panics, failures are returned, a second writer is always
//! refused, readers beside the writer see only whole records, and after a
//! restart every acknowledged record is there, intact. Signed journals are
//! reopened with the next key (trusting the ones before) along the way.
#![no_main]

use arbitrary::Arbitrary;
use std::num::NonZeroU64;
use std::sync::{Arc, LazyLock};

use gasbao_core::journal::{
    CheckpointSigningKey, CheckpointVerifyingKey, CrashStorage, Durability, Integrity, Journal, JournalOptions,
    OpenError, ReadOnlyJournal, verify,
};
use libfuzzer_sys::fuzz_target;

/// The keys a journal is signed with, one after another.
static KEYS: LazyLock<Vec<Arc<CheckpointSigningKey>>> = LazyLock::new(|| {
    (0x5a..0x5e)
        .map(|secret| Arc::new(CheckpointSigningKey::from_secret_bytes(&[secret; 32]).expect("a valid key")))
        .collect()
});

fn public_keys() -> Vec<CheckpointVerifyingKey> {
    KEYS.iter().map(|key| key.verifying_key().clone()).collect()
}

#[derive(Debug, Arbitrary)]
enum Operation {
    Append {
        len: u8,
    },
    Batch {
        count: u8,
    },
    Sync,
    Read {
        from: u8,
    },
    RemoveBefore {
        seq: u8,
    },
    Checkpoint,
    Flush,
    /// Close the journal and open it again; signed ones with the next key.
    Reopen,
    /// Another writer tries to open the same disk.
    SecondWriter,
    /// A reader opens the disk beside the writer.
    ReadOnly,
}

#[derive(Debug, Arbitrary)]
enum Fault {
    CrashAtSync(u8),
    FailSync(u8),
    FailWrite(u8),
}

#[derive(Debug, Arbitrary)]
struct Input {
    durability: u8,
    /// 0: checksums; 1: hash chain; otherwise signed, a checkpoint every `integrity` records.
    integrity: u8,
    segment_size: u16,
    allocation_chunk: u16,
    fault: Fault,
    torn_bytes: u16,
    operations: Vec<Operation>,
}

fn payload(seq: u64, len: u8) -> Vec<u8> {
    let mut bytes = seq.to_le_bytes().to_vec();
    bytes.extend((0..len).map(|i| i ^ seq as u8));
    bytes
}

fuzz_target!(|input: Input| {
    let disk = match input.fault {
        Fault::CrashAtSync(n) => CrashStorage::new().crash_at_sync(u64::from(n)),
        Fault::FailSync(n) => CrashStorage::new().fail_sync_at(u64::from(n)),
        Fault::FailWrite(n) => CrashStorage::new().fail_write_at(u64::from(n)),
    }
    .torn_bytes(usize::from(input.torn_bytes));
    let durability = [
        Durability::Buffered,
        Durability::SyncEachCommit,
        Durability::GroupCommit,
    ][usize::from(input.durability % 3)];
    // Signed by key `generation`, trusting every key before it.
    let options = |generation: usize| {
        let base = JournalOptions::default()
            .durability(durability)
            .segment_size(u64::from(input.segment_size % 4096).max(64))
            .allocation_chunk(u64::from(input.allocation_chunk % 4096));
        match input.integrity {
            0 => base.integrity(Integrity::Checksums),
            1 => base.integrity(Integrity::HashChain),
            every => KEYS[..generation].iter().fold(
                base.integrity(Integrity::Signed {
                    key: KEYS[generation].clone(),
                    every: NonZeroU64::from(std::num::NonZeroU8::new(every).expect("0 and 1 matched above")),
                }),
                |options, old| options.trust(old.verifying_key().clone()),
            ),
        }
    };
    let mut generation = 0;
    // Acknowledged durable: seq -> payload length.
    let mut durable = std::collections::BTreeMap::new();
    let mut pending = Vec::new();
    if let Ok((mut journal, _)) = Journal::open(disk.clone(), options(generation)) {
        for operation in input.operations.into_iter().take(64) {
            match operation {
                Operation::Append { len } => match journal.append(&payload(journal.next_seq(), len)) {
                    Ok(seq) => pending.push((seq, len)),
                    Err(_) => break,
                },
                Operation::Batch { count } => {
                    let next = journal.next_seq();
                    let payloads: Vec<Vec<u8>> = (0..u64::from(count % 8)).map(|i| payload(next + i, 3)).collect();
                    match journal.append_batch(payloads.iter().map(Vec::as_slice)) {
                        Ok(range) => pending.extend(range.map(|seq| (seq, 3))),
                        Err(_) => break,
                    }
                }
                Operation::Sync => {
                    if journal.sync().is_err() {
                        break;
                    }
                    durable.extend(pending.drain(..));
                }
                Operation::Read { from } => {
                    if let Ok(reader) = journal.read_from(u64::from(from)) {
                        for record in reader {
                            let Ok(record) = record else { break };
                            assert!(record.seq >= u64::from(from));
                        }
                    }
                }
                Operation::Checkpoint => {
                    // Refused without a key; otherwise durable like an append.
                    if journal.checkpoint().is_err() && input.integrity > 1 {
                        break;
                    }
                }
                Operation::Flush => {
                    if journal.flush().is_err() {
                        break;
                    }
                }
                Operation::Reopen => {
                    // Dropping flushes, but only a sync acknowledges.
                    drop(journal);
                    generation = (generation + 1).min(KEYS.len() - 1);
                    journal = match Journal::open(disk.clone(), options(generation)) {
                        Ok((journal, _)) => journal,
                        Err(_) => break,
                    };
                }
                Operation::SecondWriter => {
                    match Journal::open(disk.clone(), options(generation)) {
                        Err(OpenError::InUse { .. }) => {}
                        // A crashed disk refuses everything, the lock included.
                        Err(_) if disk.crashed() => {}
                        other => panic!("a second writer was not refused: {other:?}"),
                    }
                }
                Operation::ReadOnly => {
                    if let Ok((reader, report)) = ReadOnlyJournal::open(disk.clone(), &public_keys()) {
                        let from = reader.first_seq();
                        if let Ok(records) = reader.read_from(from) {
                            let mut count = 0;
                            for record in records {
                                let Ok(record) = record else { break };
                                assert_eq!(record.seq, from + count, "a reader skipped a record");
                                count += 1;
                            }
                            assert!(from + count <= report.next_seq);
                        }
                    }
                }
                Operation::RemoveBefore { seq } => {
                    if journal.remove_before(u64::from(seq)).is_err() {
                        break;
                    }
                    durable.retain(|s, _| *s >= journal.first_seq());
                }
            }
            if durability != Durability::Buffered {
                durable.extend(pending.drain(..));
            }
        }
    }
    let after = disk.restart();
    let verified = verify(&after, &public_keys()).expect("a crashed journal verifies");
    let (journal, report) = Journal::open(after, options(generation)).expect("a crashed journal reopens");
    assert_eq!(verified.next_seq, report.next_seq);
    let first = journal.first_seq();
    let recovered: std::collections::BTreeMap<u64, Vec<u8>> = journal
        .read_from(first)
        .expect("reading after restart")
        .map(|r| {
            let r = r.expect("no damage after a crash");
            (r.seq, r.payload)
        })
        .collect();
    for (seq, len) in durable.into_iter().filter(|(seq, _)| *seq >= first) {
        assert_eq!(
            recovered.get(&seq),
            Some(&payload(seq, len)),
            "lost acknowledged record {seq}"
        );
    }
});
