//! A journal damaged arbitrarily (or replaced by arbitrary bytes), with
//! checksums only, a hash chain, or signed checkpoints: opening and verifying
//! never panic, and no record is ever read back different from what was
//! written: damage is reported or cut off, never served. A read-only open
//! agrees with `verify`, and `salvage` copies only records that were written
//! and that every check passes.
#![no_main]

use arbitrary::Arbitrary;
use std::num::NonZeroU64;
use std::sync::{Arc, LazyLock};

use gasbao_core::journal::{
    CheckpointSigningKey, Integrity, Journal, JournalOptions, MemoryStorage, ReadOnlyJournal, salvage, verify,
};
use libfuzzer_sys::fuzz_target;

static KEY: LazyLock<Arc<CheckpointSigningKey>> =
    LazyLock::new(|| Arc::new(CheckpointSigningKey::from_secret_bytes(&[0x5a; 32]).expect("a valid key")));

fn options(integrity: u8) -> JournalOptions {
    let integrity = match integrity % 3 {
        0 => Integrity::Checksums,
        1 => Integrity::HashChain,
        _ => Integrity::Signed {
            key: KEY.clone(),
            every: NonZeroU64::new(3).expect("non-zero"),
        },
    };
    JournalOptions::default().allocation_chunk(256).integrity(integrity)
}

#[derive(Debug, Arbitrary)]
enum Damage {
    Flip { at: u16, mask: u8 },
    Cut { at: u16 },
    Zero { at: u16, len: u8 },
    Insert { at: u16, byte: u8 },
}

#[derive(Debug, Arbitrary)]
enum Input {
    Damaged { records: Vec<Vec<u8>>, damage: Vec<Damage> },
    Raw(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
struct Case {
    integrity: u8,
    input: Input,
}

fuzz_target!(|case: Case| {
    let Case { integrity, input } = case;
    let storage = MemoryStorage::new();
    let name = "00000000000000000000.gbj";
    let written = match input {
        Input::Raw(bytes) => {
            storage.set_contents(name, bytes);
            Vec::new()
        }
        Input::Damaged { records, damage } => {
            let records: Vec<Vec<u8>> = records.into_iter().take(16).collect();
            {
                let Ok((journal, _)) = Journal::open(storage.clone(), options(integrity)) else {
                    return;
                };
                for record in &records {
                    journal.append(record).expect("appending to memory");
                }
            }
            let Some(mut bytes) = storage.contents(name) else {
                return;
            };
            for d in damage.into_iter().take(4) {
                let len = bytes.len().max(1);
                match d {
                    Damage::Flip { at, mask } => {
                        if let Some(b) = bytes.get_mut(usize::from(at) % len) {
                            *b ^= mask;
                        }
                    }
                    Damage::Cut { at } => bytes.truncate(usize::from(at) % len),
                    Damage::Zero { at, len: n } => {
                        let start = usize::from(at) % len;
                        let end = start.saturating_add(usize::from(n)).min(bytes.len());
                        if let Some(range) = bytes.get_mut(start..end) {
                            range.fill(0);
                        }
                    }
                    Damage::Insert { at, byte } => bytes.insert(usize::from(at) % len, byte),
                }
            }
            storage.set_contents(name, bytes);
            records
        }
    };
    let keys = std::slice::from_ref(KEY.verifying_key());
    // Salvage copies only what was written, and its copy verifies.
    let copy = MemoryStorage::new();
    if let Ok(report) = salvage(&storage, &copy, keys) {
        let copied = verify(&copy, keys).expect("a salvaged copy verifies");
        assert_eq!(copied.next_seq, report.next_seq);
        let (view, _) = ReadOnlyJournal::open(copy, keys).expect("a salvaged copy opens");
        for record in view.read_from(view.first_seq()).expect("reading the copy") {
            let record = record.expect("a salvaged copy reads back");
            if let Some(original) = usize::try_from(record.seq).ok().and_then(|i| written.get(i)) {
                assert_eq!(&record.payload, original, "salvage kept record {} damaged", record.seq);
            } else {
                assert!(written.is_empty(), "salvage kept record {}, never written", record.seq);
            }
        }
    }
    // Verifying reads the same records as opening, and changes nothing.
    let verified = verify(&storage, keys);
    let read_only = ReadOnlyJournal::open(storage.clone(), keys).map(|(_, report)| report);
    assert_eq!(
        verified.as_ref().map(|r| r.next_seq).ok(),
        read_only.as_ref().map(|r| r.next_seq).ok(),
        "verify and a read-only open disagree"
    );
    let Ok((journal, report)) = Journal::open(storage.clone(), options(integrity)) else {
        return;
    };
    if let Ok(verified) = verified {
        assert_eq!(verified.next_seq, report.next_seq, "verify and open disagree");
    }
    let Ok(reader) = journal.read_from(0) else { return };
    let mut count = 0u64;
    for record in reader {
        let Ok(record) = record else { break };
        if let Some(original) = usize::try_from(record.seq).ok().and_then(|i| written.get(i)) {
            assert_eq!(&record.payload, original, "record {} served damaged", record.seq);
        } else {
            // Only arbitrary bytes can hold records nobody wrote here.
            assert!(written.is_empty(), "record {} was never written", record.seq);
        }
        count += 1;
    }
    assert_eq!(count, report.next_seq.saturating_sub(report.first_seq));
});
