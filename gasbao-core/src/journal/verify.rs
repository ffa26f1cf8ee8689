//! Checking a journal without changing it: checksums, chain, signatures.

use std::ops::Range;

use crate::journal::chain::ChainHash;
use crate::journal::checkpoint::{Checkpoint, CheckpointVerifyingKey, KeyId};
use crate::journal::error::OpenError;
use crate::journal::format::Layout;
use crate::journal::journal::TornTail;
use crate::journal::scan::{JournalScan, scan_journal};
use crate::journal::storage::Storage;

/// What [`verify`] found in a journal that passed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Segment files checked.
    pub segments: usize,
    /// Sequence number of the oldest record kept.
    pub first_seq: u64,
    /// Sequence number after the last whole record.
    pub next_seq: u64,
    /// The chain hash after the last record, if the journal is chained.
    pub chain_head: Option<ChainHash>,
    /// Checkpoints found; with a key, every one of them verified.
    pub checkpoints: u64,
    /// Whether checkpoint signatures were checked (a key was given).
    pub signatures_checked: bool,
    /// The newest checkpoint.
    pub last_checkpoint: Option<Checkpoint>,
    /// A record torn by a crash at the very end. [`verify`] leaves it in
    /// place; opening the journal cuts it off.
    pub torn_tail: Option<TornTail>,
    /// Which key sealed which records, oldest first: consecutive
    /// checkpoints by one key make one range. With keys given, each range's
    /// signatures verified.
    pub sealed: Vec<SealedRange>,
    /// Every checkpoint's `(records, head)`, for [`contains`](Self::contains).
    heads: Vec<(u64, ChainHash)>,
}

/// Records sealed by checkpoints of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SealedRange {
    /// The records sealed.
    pub records: Range<u64>,
    /// The key whose checkpoints sealed them.
    pub key_id: KeyId,
}

impl VerifyReport {
    /// Records after the newest checkpoint: covered by the chain and checksums
    /// but by no signature. All of them if there is no checkpoint.
    #[must_use]
    pub fn unsealed_records(&self) -> u64 {
        let sealed = self.last_checkpoint.map_or(self.first_seq, |c| c.records);
        self.next_seq.saturating_sub(sealed)
    }

    /// Whether the journal holds `anchor`, a checkpoint exported by
    /// [`Journal::anchor`](crate::journal::Journal::anchor): the same number
    /// of records and the same chain head. With signatures checked, that
    /// proves every record up to the anchor is still there, unchanged; a
    /// journal whose newest segments were removed no longer holds it.
    #[must_use]
    pub fn contains(&self, anchor: &Checkpoint) -> bool {
        self.heads.contains(&(anchor.records, anchor.head))
    }
}

/// Checks every record's checksum and sequence, the hash chain across all
/// segments, and, given `keys`, every checkpoint's signature and that no
/// checkpoints are missing; changes nothing and takes no lock, so it may run
/// beside the journal's writer.
///
/// With `keys` empty, signatures are not checked
/// ([`VerifyReport::signatures_checked`] is `false`). A journal without a hash
/// chain (format version 1) has only checksums to check;
/// [`VerifyReport::chain_head`] is then `None`.
///
/// What no check inside the directory can see is the removal of whole
/// segments at either end: compare [`VerifyReport::first_seq`] with what
/// retention allows, and check an anchor kept elsewhere with
/// [`VerifyReport::contains`].
///
/// # Errors
///
/// [`OpenError::Corrupt`] with the segment, byte offset and record of the
/// first failure: a checksum, a sequence gap, a broken chain
/// ([`CorruptionKind::ChainBroken`](crate::journal::CorruptionKind::ChainBroken))
/// or a bad or foreign signature
/// ([`CorruptionKind::BadCheckpoint`](crate::journal::CorruptionKind::BadCheckpoint)),
/// or a run of records longer than the signed checkpoint interval
/// ([`CorruptionKind::MissingCheckpoint`](crate::journal::CorruptionKind::MissingCheckpoint));
/// [`OpenError::Io`] if the storage fails.
///
/// # Examples
///
/// ```
/// use std::num::NonZeroU64;
/// use std::sync::Arc;
///
/// use gasbao_core::journal::{
///     verify, CheckpointSigningKey, Integrity, Journal, JournalOptions, MemoryStorage,
/// };
///
/// let key = Arc::new(CheckpointSigningKey::from_secret_bytes(&[7; 32])?);
/// let public = key.verifying_key().clone();
/// let options = JournalOptions::default().integrity(Integrity::Signed {
///     key,
///     every: NonZeroU64::new(100).unwrap(),
/// });
/// let storage = MemoryStorage::new();
/// let (journal, _) = Journal::open(storage.clone(), options)?;
/// journal.append(b"meter 17 read 350.125 m3")?;
/// journal.checkpoint()?;
/// drop(journal);
///
/// let report = verify(&storage, &[public])?;
/// assert_eq!((report.next_seq, report.checkpoints, report.unsealed_records()), (1, 1, 0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify(storage: &dyn Storage, keys: &[CheckpointVerifyingKey]) -> Result<VerifyReport, OpenError> {
    let scan = scan_journal(storage, (!keys.is_empty()).then_some(keys))?;
    if let Some(damage) = scan.damage.clone() {
        return Err(OpenError::Corrupt(damage));
    }
    Ok(report(&scan, !keys.is_empty()))
}

/// What a scan that found no damage says of the journal.
pub(crate) fn report(scan: &JournalScan, signatures_checked: bool) -> VerifyReport {
    let (checkpoints, last_checkpoint) = scan.checkpoints();
    let end = scan.end();
    let torn_tail = scan.segments.iter().find_map(|s| {
        s.scanned.torn.map(|(offset, bytes)| TornTail {
            segment: s.segment.name.clone(),
            offset,
            bytes,
        })
    });
    let chained = scan.segments.iter().any(|s| s.scanned.layout == Some(Layout::Chained));
    let first_seq = scan.segments.first().map_or(0, |s| s.segment.first_seq);
    let all: Vec<Checkpoint> = scan
        .segments
        .iter()
        .flat_map(|s| s.scanned.seals.iter().map(|seal| seal.checkpoint))
        .collect();
    let mut sealed: Vec<SealedRange> = Vec::new();
    let mut from = first_seq;
    for checkpoint in &all {
        match sealed.last_mut() {
            Some(range) if range.key_id == checkpoint.key_id => range.records.end = checkpoint.records,
            _ if checkpoint.records > from => sealed.push(SealedRange {
                records: from..checkpoint.records,
                key_id: checkpoint.key_id,
            }),
            _ => {}
        }
        from = from.max(checkpoint.records);
    }
    VerifyReport {
        segments: scan.segments.len(),
        first_seq,
        next_seq: end.map_or(0, |e| e.next_seq),
        chain_head: end.and_then(|e| e.chain).filter(|_| chained),
        checkpoints,
        signatures_checked,
        last_checkpoint,
        torn_tail,
        sealed,
        heads: all.iter().map(|c| (c.records, c.head)).collect(),
    }
}
