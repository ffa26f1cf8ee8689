//! Deliberate changes to a sealed journal: each is found, and named by
//! segment, offset and record; salvage keeps exactly the valid prefix.
#![cfg(feature = "journal")]

mod frames;

use std::num::NonZeroU64;
use std::sync::{Arc, LazyLock};

use frames::{FrameAt, fix_crc, frames, rechain, set_interval, strip_checkpoints};
use gasbao_core::journal::{
    AppendError, CheckpointSigningKey, Corruption, CorruptionKind, Durability, Integrity, IntegrityKind, Journal,
    JournalOptions, MemoryStorage, OpenError, ReadOnlyJournal, SalvageError, SignatureError, Storage, salvage, verify,
};

static KEY: LazyLock<Arc<CheckpointSigningKey>> =
    LazyLock::new(|| Arc::new(CheckpointSigningKey::from_secret_bytes(&[0x17; 32]).unwrap()));

fn signed() -> JournalOptions {
    JournalOptions::default().integrity(Integrity::Signed {
        key: KEY.clone(),
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
    let verified = match verify(storage, std::slice::from_ref(KEY.verifying_key())) {
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
    let report = verify(&storage, std::slice::from_ref(KEY.verifying_key())).unwrap();
    assert_eq!(
        (report.next_seq, report.checkpoints, report.unsealed_records()),
        (25, 2, 5)
    );
    assert!(report.signatures_checked);
    assert_eq!(report.last_checkpoint.unwrap().records, 20);
}

#[test]
fn a_changed_record_is_named_itself_not_the_record_after_it() {
    let (_, name, mut bytes, frames) = sealed_journal();
    let five = frame(&frames, 5, 0);
    bytes[five.offset + 60] ^= 0x01;
    fix_crc(&mut bytes, five);
    let c = failure(&damaged(&name, bytes.clone()));
    assert_eq!(
        (c.segment.as_str(), c.offset, c.seq, c.problem),
        (name.as_str(), five.offset as u64, Some(5), CorruptionKind::ChainBroken)
    );
    assert_eq!(
        c.to_string(),
        format!(
            "the journal is damaged in segment {name} at offset {} (record 5): the hash chain is broken",
            five.offset
        )
    );
    // Opening says the same, in the same words.
    match Journal::open(damaged(&name, bytes), signed()) {
        Err(e) => assert_eq!(e.to_string(), c.to_string()),
        Ok(_) => panic!("a changed record opened"),
    }
}

#[test]
fn a_changed_last_record_of_a_segment_is_named_there_not_in_the_next_header() {
    let storage = MemoryStorage::new();
    let options = JournalOptions::default()
        .integrity(Integrity::HashChain)
        .segment_size(600)
        .durability(Durability::SyncEachCommit);
    let (journal, _) = Journal::open(storage.clone(), options.clone()).unwrap();
    for seq in 0..20 {
        journal.append(&payload(seq)).unwrap();
    }
    drop(journal);
    let mut names = storage.list().unwrap();
    names.retain(|n| n.ends_with(".gbj"));
    names.sort();
    assert!(names.len() >= 3, "{names:?}");
    let first = &names[0];
    let mut bytes = storage.contents(first).unwrap();
    let last = *frames(&bytes).last().unwrap();
    bytes[last.offset + 60] ^= 0x01;
    fix_crc(&mut bytes, last);
    storage.set_contents(first, bytes);
    match verify(&storage, &[]) {
        Err(OpenError::Corrupt(c)) => assert_eq!(
            (c.segment.as_str(), c.offset, c.seq, c.problem),
            (
                first.as_str(),
                last.offset as u64,
                Some(last.seq),
                CorruptionKind::ChainBroken
            )
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_rechained_forgery_fails_at_the_next_checkpoint_signature() {
    let (_, name, mut bytes, frames) = sealed_journal();
    let five = frame(&frames, 5, 0);
    bytes[five.offset + 60] ^= 0x01;
    rechain(&mut bytes, 5);
    let storage = damaged(&name, bytes);
    // Without the key the forgery is consistent: only a signature catches it.
    assert!(verify(&storage, &[]).is_ok());
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
    match verify(&storage, std::slice::from_ref(stranger.verifying_key())) {
        Err(OpenError::Corrupt(c)) => {
            assert_eq!((c.segment, c.offset), (name, frame(&frames, 10, 1).offset as u64));
            assert_eq!(
                c.problem,
                CorruptionKind::BadCheckpoint(SignatureError::UntrustedKey(KEY.verifying_key().key_id()))
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

    // Without keys: every record before the damaged one.
    let unkeyed = MemoryStorage::new();
    let report = salvage(&storage, &unkeyed, &[]).unwrap();
    assert_eq!((report.next_seq, report.unsealed_left_out.clone()), (victim.seq, None));
    assert_eq!(verify(&unkeyed, &[]).unwrap().next_seq, victim.seq);

    // With the key: only what a checkpoint (every 10 records) seals.
    let sealed = victim.seq / 10 * 10;
    assert!(
        sealed < victim.seq,
        "the victim {} must follow unsealed records",
        victim.seq
    );
    let copy = MemoryStorage::new();
    let report = salvage(&storage, &copy, std::slice::from_ref(KEY.verifying_key())).unwrap();
    assert_eq!(report.damage, Some(damage));
    assert_eq!(report.next_seq, sealed);
    assert_eq!(report.unsealed_left_out, Some(sealed..victim.seq));
    let verified = verify(&copy, std::slice::from_ref(KEY.verifying_key())).unwrap();
    assert_eq!((verified.next_seq, verified.unsealed_records()), (sealed, 0));

    let (journal, recovery) = Journal::open(copy.clone(), options).unwrap();
    assert_eq!(recovery.next_seq, sealed);
    let read: Vec<Vec<u8>> = journal.read_from(0).unwrap().map(|r| r.unwrap().payload).collect();
    assert_eq!(read, (0..sealed).map(payload).collect::<Vec<_>>());
    assert_eq!(journal.append(b"after salvage").unwrap(), sealed);
    journal.checkpoint().unwrap();
    drop(journal);
    assert_eq!(
        verify(&copy, std::slice::from_ref(KEY.verifying_key()))
            .unwrap()
            .unsealed_records(),
        0
    );

    // The source is untouched and salvage never writes over a journal.
    assert!(matches!(failure(&storage).problem, CorruptionKind::ChecksumMismatch));
    assert!(matches!(
        salvage(&storage, &copy, &[]),
        Err(SalvageError::TargetNotEmpty { .. })
    ));
}

#[test]
fn salvage_of_an_intact_journal_copies_all_of_it() {
    let (storage, _, _, _) = sealed_journal();
    let copy = MemoryStorage::new();
    let report = salvage(&storage, &copy, std::slice::from_ref(KEY.verifying_key())).unwrap();
    assert_eq!(
        (
            report.damage,
            report.next_seq,
            report.segments_left_out,
            report.unsealed_left_out
        ),
        (None, 25, 0, None)
    );
    assert_eq!(
        verify(&copy, std::slice::from_ref(KEY.verifying_key()))
            .unwrap()
            .checkpoints,
        2
    );
}

#[test]
fn a_journal_reopened_with_another_chain_choice_is_refused() {
    let (storage, _, _, _) = sealed_journal();
    assert!(matches!(
        Journal::open(storage, JournalOptions::default()),
        Err(OpenError::IntegrityMismatch {
            journal: IntegrityKind::Signed,
            requested: IntegrityKind::Checksums
        })
    ));
    let plain = MemoryStorage::new();
    let (journal, _) = Journal::open(plain.clone(), JournalOptions::default()).unwrap();
    journal.append(b"x").unwrap();
    assert!(matches!(journal.checkpoint(), Err(AppendError::NotSigned)));
    drop(journal);
    let refused = Journal::open(plain, signed()).unwrap_err();
    assert!(matches!(
        refused,
        OpenError::IntegrityMismatch {
            journal: IntegrityKind::Checksums,
            requested: IntegrityKind::Signed
        }
    ));
    assert_eq!(
        refused.to_string(),
        "the journal was written with checksums only; it cannot be opened for writing with signed checkpoints"
    );
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
                (frames[1].offset as u64, Some(1), CorruptionKind::ChainBroken)
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
    let report = verify(&storage, &[]).unwrap();
    assert_eq!((report.next_seq, report.chain_head), (4_000, head));

    let name = storage.list().unwrap().pop().unwrap();
    let pristine = storage.contents(&name).unwrap();
    let frames = frames(&pristine);
    let change = |bytes: &mut Vec<u8>, seq: usize| {
        bytes[frames[seq].offset + 100] ^= 1;
        fix_crc(bytes, frames[seq]);
    };
    for (changed, named) in [
        (vec![3_900], 3_900),
        (vec![100, 3_900], 100),
        (vec![1_999, 2_000], 1_999),
    ] {
        let mut bytes = pristine.clone();
        for seq in changed.iter().copied() {
            change(&mut bytes, seq);
        }
        match verify(&damaged(&name, bytes), &[]) {
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
        key: KEY.clone(),
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
    match verify(
        &damaged(&name, bytes.clone()),
        std::slice::from_ref(KEY.verifying_key()),
    ) {
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
    match verify(&damaged(&name, bytes), std::slice::from_ref(KEY.verifying_key())) {
        Err(OpenError::Corrupt(c)) => assert_eq!((c.seq, c.problem), (Some(200), CorruptionKind::ChainBroken)),
        other => panic!("{other:?}"),
    }
}

/// What the copy holds, record by record.
fn payloads_of(storage: &MemoryStorage) -> Vec<Vec<u8>> {
    let (journal, _) = ReadOnlyJournal::open(storage.clone(), std::slice::from_ref(KEY.verifying_key())).unwrap();
    journal.read_from(0).unwrap().map(|r| r.unwrap().payload).collect()
}

/// A payload edit with its CRC recomputed: salvage keeps only what the last
/// checkpoint before it seals, so the copy never carries the edit.
#[test]
fn salvage_leaves_out_an_edited_record_and_everything_unsealed_before_it() {
    let (_, name, mut bytes, frames) = sealed_journal();
    let fifteen = frame(&frames, 15, 0);
    bytes[fifteen.offset + 60] ^= 0x01;
    fix_crc(&mut bytes, fifteen);
    let storage = damaged(&name, bytes);
    let copy = MemoryStorage::new();
    let report = salvage(&storage, &copy, std::slice::from_ref(KEY.verifying_key())).unwrap();
    assert_eq!(
        report.damage.map(|d| (d.seq, d.problem)),
        Some((Some(15), CorruptionKind::ChainBroken))
    );
    assert_eq!((report.next_seq, report.unsealed_left_out), (10, Some(10..15)));
    assert_eq!(payloads_of(&copy), (0..10).map(payload).collect::<Vec<_>>());
    let verified = verify(&copy, std::slice::from_ref(KEY.verifying_key())).unwrap();
    assert_eq!((verified.next_seq, verified.unsealed_records()), (10, 0));
}

/// A forger rewrites record 12 and rechains everything after it: checksums
/// and chain agree, only the checkpoint after record 20 fails. The copy keeps
/// records 0..10, the last ones a valid signature vouches for.
#[test]
fn salvage_leaves_out_a_rechained_forgery() {
    let (_, name, mut bytes, frames) = sealed_journal();
    let twelve = frame(&frames, 12, 0);
    bytes[twelve.offset + 60] ^= 0x01;
    rechain(&mut bytes, frames.iter().position(|f| *f == twelve).unwrap());
    let storage = damaged(&name, bytes);
    let copy = MemoryStorage::new();
    let report = salvage(&storage, &copy, std::slice::from_ref(KEY.verifying_key())).unwrap();
    assert_eq!(
        report.damage.map(|d| d.problem),
        Some(CorruptionKind::BadCheckpoint(SignatureError::Mismatch))
    );
    assert_eq!((report.next_seq, report.unsealed_left_out), (10, Some(10..20)));
    assert_eq!(payloads_of(&copy), (0..10).map(payload).collect::<Vec<_>>());
    assert!(verify(&copy, std::slice::from_ref(KEY.verifying_key())).is_ok());
}

/// The forgery above with the failing checkpoints removed, so that the forged
/// records would pass as merely unsealed: more records follow the last
/// checkpoint than its signed interval allows, and that is a failure.
#[test]
fn stripped_checkpoints_are_a_failure_not_unsealed_records() {
    let (_, name, mut bytes, frames) = sealed_journal();
    let twelve = frame(&frames, 12, 0);
    bytes[twelve.offset + 60] ^= 0x01;
    strip_checkpoints(&mut bytes, twelve.offset);
    let storage = damaged(&name, bytes);
    // Without keys the chain holds, and the forgery reads as records
    // unsealed since the checkpoint after record 10.
    assert_eq!(verify(&storage, &[]).unwrap().unsealed_records(), 15);
    let c = failure(&storage);
    // Record 20 is the eleventh after the checkpoint at 10, every 10.
    assert_eq!(
        (c.seq, c.problem),
        (Some(20), CorruptionKind::MissingCheckpoint { interval: 10 })
    );
}

/// Raising the interval in the header to cover the stripped checkpoints
/// breaks every checkpoint of the segment: the interval is signed.
#[test]
fn a_raised_checkpoint_interval_fails_the_signatures() {
    let (_, name, mut bytes, frames) = sealed_journal();
    strip_checkpoints(&mut bytes, frame(&frames, 20, 1).offset);
    set_interval(&mut bytes, 1_000);
    let c = failure(&damaged(&name, bytes));
    assert_eq!(
        (c.seq, c.problem),
        (Some(10), CorruptionKind::BadCheckpoint(SignatureError::Mismatch))
    );
}

/// A signed journal opened for writing with only a hash chain would append
/// unsealed records unchecked: refused. Read-only, unverified, it opens.
#[test]
fn a_signed_journal_cannot_be_reopened_with_weaker_integrity() {
    let (storage, _, _, _) = sealed_journal();
    let hash_chain = JournalOptions::default().integrity(Integrity::HashChain);
    assert!(matches!(
        Journal::open(storage.clone(), hash_chain),
        Err(OpenError::IntegrityMismatch {
            journal: IntegrityKind::Signed,
            requested: IntegrityKind::HashChain
        })
    ));
    let (journal, report) = ReadOnlyJournal::open(storage.clone(), &[]).unwrap();
    assert!(!report.signatures_checked);
    assert_eq!(journal.read_from(0).unwrap().count(), 25);
    // Nothing was appended by the refused open.
    assert_eq!(
        verify(&storage, std::slice::from_ref(KEY.verifying_key()))
            .unwrap()
            .next_seq,
        25
    );
}

/// Removing the newest segment leaves a journal that verifies; an anchor kept
/// elsewhere is what shows it.
#[test]
fn a_removed_last_segment_is_caught_by_the_anchor_kept_elsewhere() {
    let storage = MemoryStorage::new();
    let options = signed().segment_size(1_200).durability(Durability::SyncEachCommit);
    let (journal, _) = Journal::open(storage.clone(), options).unwrap();
    for seq in 0..40 {
        journal.append(&payload(seq)).unwrap();
    }
    let anchor = journal.anchor().unwrap();
    assert_eq!(anchor.records, 40);
    drop(journal);
    let keys = std::slice::from_ref(KEY.verifying_key());
    assert!(verify(&storage, keys).unwrap().contains(&anchor));

    let mut names = storage.list().unwrap();
    names.sort();
    storage.remove(names.last().unwrap()).unwrap();
    let report = verify(&storage, keys).unwrap();
    assert!(report.next_seq < 40);
    assert!(!report.contains(&anchor));
}
