//! Arbitrary operation sequences on a disk that fails or crashes after a
//! countdown: nothing panics, failures are returned, and after a restart every
//! acknowledged record is there, intact.
#![no_main]

use arbitrary::Arbitrary;
use gasbao_core::journal::{CrashStorage, Durability, Journal, JournalOptions};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
enum Operation {
    Append { len: u8 },
    Batch { count: u8 },
    Sync,
    Read { from: u8 },
    RemoveBefore { seq: u8 },
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
    let options = JournalOptions::default()
        .durability(durability)
        .segment_size(u64::from(input.segment_size % 4096).max(64))
        .allocation_chunk(u64::from(input.allocation_chunk % 4096));
    // Acknowledged durable: seq -> payload length.
    let mut durable = std::collections::BTreeMap::new();
    let mut pending = Vec::new();
    if let Ok((journal, _)) = Journal::open(disk.clone(), options) {
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
    let (journal, _) = Journal::open(disk.restart(), options).expect("a crashed journal reopens");
    let first = journal.first_seq();
    let recovered: std::collections::BTreeMap<u64, Vec<u8>> = journal
        .read_from(0)
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
