//! Deliberate changes to a sealed journal: each is found, and named by
//! segment, offset and record; salvage keeps exactly the valid prefix.
#![cfg(feature = "journal")]

mod frames;

use std::num::NonZeroU64;
use std::sync::{Arc, LazyLock};

use frames::{FrameAt, fix_crc, frames, rechain};
use gasbao_core::journal::{
    AppendError, CheckpointSigningKey, Corruption, CorruptionKind, Durability, Integrity, Journal, JournalOptions,
    MemoryStorage, OpenError, SalvageError, SignatureError, Storage, salvage, verify,
};

static KEY: LazyLock<Arc<CheckpointSigningKey>> =
    LazyLock::new(|| Arc::new(CheckpointSigningKey::from_secret_bytes(&[0x17; 32]).unwrap()));

fn signed() -> JournalOptions {
    JournalOptions::default().integrity(Integrity::Signed {
        key: Arc::clone(&KEY),
        every: NonZeroU64::new(10).unwrap(),
    })
}

fn payload(seq: u64) -> Vec<u8> {
    format!("meter {seq} read {}.{:03} m3", 100 + seq * 7, seq * 37 % 1000).into_bytes()
}

/// A one-segment sealed journal of 25 records: checkpoints after records
/// 10 and 20 (automatic), so frames are records 0..10, a checkpoint, 10..20,
/// a checkpoint, 20..25.
fn sealed_journal() -> (MemoryStorage, String, Vec<u8>, Vec<FrameAt>) {
    let storage = MemoryStorage::new();
    let (journal, _) = Journal::open(storage.clone(), signed()).unwrap();
    for seq in 0..25 {
        journal.append(&payload(seq)).unwrap();
    }
    drop(journal);
    let name = storage.list().unwrap().pop().unwrap();
    let bytes = storage.contents(&name).unwrap();
    let frames = frames(&bytes);
    let kinds: Vec<(u64, u32)> = frames.iter().map(|f| (f.seq, f.kind)).collect();
    let mut expected: Vec<(u64, u32)> = (0..25).map(|s| (s, 0)).collect();
    expected.insert(20, (20, 1));
    expected.insert(10, (10, 1));
    assert_eq!(kinds, expected, "the layout these tests assume");
    (storage, name, bytes, frames)
}

/// The frame of data record `seq` (or of the checkpoint after `seq` records).
fn frame(frames: &[FrameAt], seq: u64, kind: u32) -> FrameAt {
    *frames.iter().find(|f| f.seq == seq && f.kind == kind).unwrap()
}

fn damaged(name: &str, bytes: Vec<u8>) -> MemoryStorage {
    let storage = MemoryStorage::new();
    storage.set_contents(name, bytes);
    storage
}

/// What verifying with the key and opening with it both report.
fn failure(storage: &MemoryStorage) -> Corruption {
    let verified = match verify(storage, Some(KEY.verifying_key())) {
        Err(OpenError::Corrupt(c)) => c,
        other => panic!("verify should fail, got {other:?}"),
    };
    match Journal::open(storage.clone(), signed()) {
        Err(OpenError::Corrupt(c)) => assert_eq!(c, verified),
        other => panic!("open should fail as verify did, got {other:?}"),
    }
    verified
}

#[test]
fn an_intact_journal_verifies() {
    let (storage, _, _, _) = sealed_journal();
    let report = verify(&storage, Some(KEY.verifying_key())).unwrap();
    assert_eq!(
        (report.next_seq, report.checkpoints, report.unsealed_records()),
        (25, 2, 5)
    );
    assert!(report.signatures_checked);
    assert_eq!(report.last_checkpoint.unwrap().records, 20);
}

#[test]
fn a_changed_record_breaks_the_chain_at_the_next_record() {
    let (_, name, mut bytes, frames) = sealed_journal();
    let five = frame(&frames, 5, 0);
    bytes[five.offset + 60] ^= 0x01;
    fix_crc(&mut bytes, five);
    let c = failure(&damaged(&name, bytes));
    let six = frame(&frames, 6, 0);
    assert_eq!(
        (c.segment.as_str(), c.offset, c.seq, c.problem),
        (name.as_str(), six.offset as u64, Some(6), CorruptionKind::ChainBroken)
    );
    assert_eq!(
        c.to_string(),
        format!(
            "segment {name}, offset {}, record 6: the hash chain is broken",
            six.offset
        )
    );
}

#[test]
fn a_rechained_forgery_fails_at_the_next_checkpoint_signature() {
    let (_, name, mut bytes, frames) = sealed_journal();
    let five = frame(&frames, 5, 0);
    bytes[five.offset + 60] ^= 0x01;
    rechain(&mut bytes, 5);
    let storage = damaged(&name, bytes);
    // Without the key the forgery is consistent: only a signature catches it.
    assert!(verify(&storage, None).is_ok());
    let c = failure(&storage);
    let checkpoint = frame(&frames, 10, 1);
    assert_eq!(
        (c.offset, c.seq, c.problem),
        (
            checkpoint.offset as u64,
            Some(10),
            CorruptionKind::BadCheckpoint(SignatureError::Mismatch)
        )
    );
}

#[test]
fn a_removed_record_is_a_sequence_gap() {
    let (_, name, mut bytes, frames) = sealed_journal();
    let seven = frame(&frames, 7, 0);
    bytes.drain(seven.offset..seven.offset + seven.len);
    let c = failure(&damaged(&name, bytes));
    assert_eq!(
        (c.offset, c.seq, c.problem),
        (
            seven.offset as u64,
            Some(8),
            CorruptionKind::SequenceGap { expected: 7 }
        )
    );
}

#[test]
fn a_non_canonical_checkpoint_signature_is_refused() {
    let (_, name, mut bytes, frames) = sealed_journal();
    let checkpoint = frame(&frames, 20, 1);
    // s := n, the group order: congruent to 0, never valid.
    let s_at = checkpoint.offset + 52 + 32 + 32;
    let order = "fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123";
    for (i, byte) in bytes[s_at..s_at + 32].iter_mut().enumerate() {
        *byte = u8::from_str_radix(&order[2 * i..2 * i + 2], 16).unwrap();
    }
    fix_crc(&mut bytes, checkpoint);
    let c = failure(&damaged(&name, bytes));
    assert_eq!(
        (c.offset, c.seq, c.problem),
        (
            checkpoint.offset as u64,
            Some(20),
            CorruptionKind::BadCheckpoint(SignatureError::NonCanonical)
        )
    );
}

#[test]
fn a_journal_signed_by_another_key_is_refused() {
    let (storage, name, _, frames) = sealed_journal();
    let stranger = CheckpointSigningKey::from_secret_bytes(&[0x18; 32]).unwrap();
    match verify(&storage, Some(stranger.verifying_key())) {
        Err(OpenError::Corrupt(c)) => {
            assert_eq!((c.segment, c.offset), (name, frame(&frames, 10, 1).offset as u64));
            assert_eq!(
                c.problem,
                CorruptionKind::BadCheckpoint(SignatureError::OtherKey(KEY.verifying_key().key_id()))
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn salvage_copies_the_valid_prefix_which_then_verifies_and_grows() {
    // Three segments' worth, damaged in the middle one.
    let storage = MemoryStorage::new();
    let options = signed().segment_size(1_200).durability(Durability::SyncEachCommit);
    let (journal, _) = Journal::open(storage.clone(), options.clone()).unwrap();
    for seq in 0..40 {
        journal.append(&payload(seq)).unwrap();
    }
    drop(journal);
    let mut names = storage.list().unwrap();
    names.sort();
    assert!(names.len() >= 3, "{names:?}");
    let middle = &names[1];
    let mut bytes = storage.contents(middle).unwrap();
    let victim = frames(&bytes)[2];
    bytes[victim.offset + 60] ^= 0x40;
    storage.set_contents(middle, bytes);
    let damage = failure(&storage);
    assert_eq!(
        (damage.segment.as_str(), damage.offset),
        (middle.as_str(), victim.offset as u64)
    );

    let copy = MemoryStorage::new();
    let report = salvage(&storage, &copy, Some(KEY.verifying_key())).unwrap();
    assert_eq!(report.damage, Some(damage));
    assert_eq!(report.next_seq, victim.seq, "every record before the damaged one");
    assert_eq!((report.segments, report.segments_left_out), (2, names.len() - 2));
    let verified = verify(&copy, Some(KEY.verifying_key())).unwrap();
    assert_eq!(verified.next_seq, victim.seq);

    let (journal, recovery) = Journal::open(copy.clone(), options).unwrap();
    assert_eq!(recovery.next_seq, victim.seq);
    let read: Vec<Vec<u8>> = journal.read_from(0).unwrap().map(|r| r.unwrap().payload).collect();
    assert_eq!(read, (0..victim.seq).map(payload).collect::<Vec<_>>());
    assert_eq!(journal.append(b"after salvage").unwrap(), victim.seq);
    journal.checkpoint().unwrap();
    drop(journal);
    assert_eq!(verify(&copy, Some(KEY.verifying_key())).unwrap().unsealed_records(), 0);

    // The source is untouched and salvage never writes over a journal.
    assert!(matches!(failure(&storage).problem, CorruptionKind::ChecksumMismatch));
    assert!(matches!(
        salvage(&storage, &copy, None),
        Err(SalvageError::TargetNotEmpty { .. })
    ));
}

#[test]
fn salvage_of_an_intact_journal_copies_all_of_it() {
    let (storage, _, _, _) = sealed_journal();
    let copy = MemoryStorage::new();
    let report = salvage(&storage, &copy, Some(KEY.verifying_key())).unwrap();
    assert_eq!(
        (report.damage, report.next_seq, report.segments_left_out),
        (None, 25, 0)
    );
    assert_eq!(verify(&copy, Some(KEY.verifying_key())).unwrap().checkpoints, 2);
}

#[test]
fn a_journal_reopened_with_another_chain_choice_is_refused() {
    let (storage, _, _, _) = sealed_journal();
    assert!(matches!(
        Journal::open(storage, JournalOptions::default()),
        Err(OpenError::ChainMismatch { journal_chained: true })
    ));
    let plain = MemoryStorage::new();
    let (journal, _) = Journal::open(plain.clone(), JournalOptions::default()).unwrap();
    journal.append(b"x").unwrap();
    assert!(matches!(journal.checkpoint(), Err(AppendError::NotSigned)));
    drop(journal);
    assert!(matches!(
        Journal::open(plain, signed()),
        Err(OpenError::ChainMismatch { journal_chained: false })
    ));
}

#[test]
fn a_hash_chain_without_key_still_catches_a_changed_record() {
    let storage = MemoryStorage::new();
    let options = JournalOptions::default().integrity(Integrity::HashChain);
    let (journal, _) = Journal::open(storage.clone(), options.clone()).unwrap();
    for seq in 0..5 {
        journal.append(&payload(seq)).unwrap();
    }
    drop(journal);
    let name = storage.list().unwrap().pop().unwrap();
    let mut bytes = storage.contents(&name).unwrap();
    let frames = frames(&bytes);
    bytes[frames[1].offset + 60] ^= 1;
    fix_crc(&mut bytes, frames[1]);
    storage.set_contents(&name, bytes);
    match Journal::open(storage, options) {
        Err(OpenError::Corrupt(c)) => {
            assert_eq!(
                (c.offset, c.seq, c.problem),
                (frames[2].offset as u64, Some(2), CorruptionKind::ChainBroken)
            )
        }
        other => panic!("{other:?}"),
    }
}

/// Segments over a megabyte have their chain checked on several threads:
/// the earliest break is still the one named, wherever the split falls.
#[test]
fn large_segments_checked_in_parallel_name_the_earliest_break() {
    let storage = MemoryStorage::new();
    let options = JournalOptions::default().integrity(Integrity::HashChain);
    let (journal, _) = Journal::open(storage.clone(), options.clone()).unwrap();
    let record = [0x42u8; 1000];
    for _ in 0..4_000 {
        journal.append_batch([&record[..]]).unwrap();
    }
    let head = journal.chain_head();
    drop(journal);
    let report = verify(&storage, None).unwrap();
    assert_eq!((report.next_seq, report.chain_head), (4_000, head));

    let name = storage.list().unwrap().pop().unwrap();
    let pristine = storage.contents(&name).unwrap();
    let frames = frames(&pristine);
    let change = |bytes: &mut Vec<u8>, seq: usize| {
        bytes[frames[seq].offset + 100] ^= 1;
        fix_crc(bytes, frames[seq]);
    };
    for (changed, named) in [
        (vec![3_900], 3_901),
        (vec![100, 3_900], 101),
        (vec![1_999, 2_000], 2_000),
    ] {
        let mut bytes = pristine.clone();
        for seq in changed.iter().copied() {
            change(&mut bytes, seq);
        }
        match verify(&damaged(&name, bytes), None) {
            Err(OpenError::Corrupt(c)) => assert_eq!(
                (c.offset, c.seq, c.problem),
                (
                    frames[named].offset as u64,
                    Some(named as u64),
                    CorruptionKind::ChainBroken
                ),
                "records {changed:?} changed"
            ),
            other => panic!("records {changed:?} changed: {other:?}"),
        }
    }
}

/// The same with signatures: a bad signature late is named only when no
/// earlier link is broken, whichever thread finds what.
#[test]
fn large_signed_segments_name_the_earliest_of_break_and_bad_signature() {
    let storage = MemoryStorage::new();
    let options = JournalOptions::default().integrity(Integrity::Signed {
        key: Arc::clone(&KEY),
        every: NonZeroU64::new(500).unwrap(),
    });
    let (journal, _) = Journal::open(storage.clone(), options).unwrap();
    let record = [0x24u8; 1000];
    for _ in 0..4_000 {
        journal.append(&record).unwrap();
    }
    drop(journal);
    let name = storage.list().unwrap().pop().unwrap();
    let pristine = storage.contents(&name).unwrap();
    let frames = frames(&pristine);
    let late_checkpoint = frame(&frames, 3_500, 1);
    let early = frame(&frames, 200, 0);
    let forge_signature = |bytes: &mut Vec<u8>| {
        // Swap r's last byte for another: still canonical, no longer valid.
        bytes[late_checkpoint.offset + 52 + 63] ^= 0x01;
        fix_crc(bytes, late_checkpoint);
    };
    let mut bytes = pristine.clone();
    forge_signature(&mut bytes);
    match verify(&damaged(&name, bytes.clone()), Some(KEY.verifying_key())) {
        Err(OpenError::Corrupt(c)) => assert_eq!(
            (c.offset, c.problem),
            (
                late_checkpoint.offset as u64,
                CorruptionKind::BadCheckpoint(SignatureError::Mismatch)
            )
        ),
        other => panic!("{other:?}"),
    }
    bytes[early.offset + 100] ^= 1;
    fix_crc(&mut bytes, early);
    match verify(&damaged(&name, bytes), Some(KEY.verifying_key())) {
        Err(OpenError::Corrupt(c)) => assert_eq!((c.seq, c.problem), (Some(201), CorruptionKind::ChainBroken)),
        other => panic!("{other:?}"),
    }
}
