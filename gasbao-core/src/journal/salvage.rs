//! Copying the part of a damaged journal that passes every check to a new place.

use std::ops::Range;

use crate::journal::checkpoint::CheckpointVerifyingKey;
use crate::journal::error::{Corruption, SalvageError, StorageError};
use crate::journal::format::parse_segment_name;
use crate::journal::scan::{ScanContext, Seal, SegmentName, list_segments, read_segment, scan_journal, scan_segment};
use crate::journal::storage::Storage;

/// What [`salvage`] copied and where it stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SalvageReport {
    /// Segment files written to the target.
    pub segments: usize,
    /// Sequence number of the oldest record copied.
    pub first_seq: u64,
    /// Sequence number after the last record copied: the copy's next append.
    pub next_seq: u64,
    /// The damage that ended the valid prefix; `None` if the whole journal
    /// was valid and copied.
    pub damage: Option<Corruption>,
    /// Records before the damage that passed their checksums and the chain
    /// but that no valid checkpoint sealed, left out of the copy: a forger
    /// could have written them. Only with keys and damage.
    pub unsealed_left_out: Option<Range<u64>>,
    /// Segment files at or after the damage that were left out whole.
    pub segments_left_out: usize,
}

/// Copies the part of the journal in `from` that passes every check to the
/// empty `to`, byte for byte, so the copy's chain and checkpoints still
/// verify. `from` is only read.
///
/// Without damage, the whole journal is copied, less any torn tail. With
/// damage, records from the damaged one on are left out, even where they are
/// intact: they cannot be vouched for. Given `keys`, so are the records
/// between the last valid checkpoint and the damage, which only a signature
/// could vouch for (a forger who rewrote them and their chain leaves only the
/// next checkpoint's signature wrong); [`SalvageReport::unsealed_left_out`]
/// names them. If nothing before the damage is valid, the copy is empty.
///
/// Open the copy with [`Journal::open`](crate::journal::Journal::open) to go
/// on appending after the last record copied.
///
/// # Errors
///
/// [`SalvageError::TargetNotEmpty`] if `to` holds a segment file;
/// [`SalvageError::Io`] if reading or writing fails.
pub fn salvage(
    from: &dyn Storage,
    to: &dyn Storage,
    keys: &[CheckpointVerifyingKey],
) -> Result<SalvageReport, SalvageError> {
    if let Some(existing) = list_segments(to)
        .map_err(StorageError::during("listing", "the target"))?
        .first()
    {
        return Err(SalvageError::TargetNotEmpty {
            file: existing.name.clone(),
        });
    }
    let scan = scan_journal(from, (!keys.is_empty()).then_some(keys))?;
    let total = list_segments(from).map_err(StorageError::during("listing", ""))?.len();
    // Whole segments up to the damage, each without any torn tail, and the
    // checkpoints in each...
    let mut copies: Vec<Copy> = scan
        .segments
        .iter()
        .filter(|s| s.scanned.layout.is_some())
        .map(|s| Copy {
            name: s.segment.name.clone(),
            len: s.scanned.data_end,
            seals: s.scanned.seals.clone(),
            next_seq: s.scanned.end.next_seq,
        })
        .collect();
    // ... and the damaged one up to the damaged record, if its header is sound.
    if let Some(damage) = &scan.damage
        && damage.offset > 0
        && let Some(first_seq) = parse_segment_name(&damage.segment)
    {
        let segment = SegmentName {
            name: damage.segment.clone(),
            first_seq,
        };
        let source = from
            .open(&segment.name, false)
            .map_err(StorageError::during("opening", &segment.name))?;
        let mut bytes = read_segment(&*source).map_err(StorageError::during("reading", &segment.name))?;
        bytes.truncate(usize::try_from(damage.offset).unwrap_or(usize::MAX));
        // The scan checked this prefix; scanning it again alone finds its
        // records and checkpoints.
        let context = ScanContext {
            previous: scan.end(),
            last: true,
            keys: None,
        };
        if let Ok(prefix) = scan_segment(&segment, &bytes, context, |_, _| {}) {
            copies.push(Copy {
                name: segment.name,
                len: damage.offset,
                seals: prefix.seals,
                next_seq: prefix.end.next_seq,
            });
        }
    }
    let valid_end = copies.last().map_or(0, |c| c.next_seq);
    let mut unsealed_left_out = None;
    if scan.damage.is_some() && !keys.is_empty() {
        // Keep only what the last valid checkpoint seals.
        let last_seal = copies
            .iter()
            .enumerate()
            .rev()
            .find_map(|(index, copy)| copy.seals.last().map(|seal| (index, *seal)));
        let sealed_end = match last_seal {
            Some((index, Seal { checkpoint, end })) => {
                copies.truncate(index.saturating_add(1));
                if let Some(copy) = copies.last_mut() {
                    copy.len = end;
                    copy.next_seq = checkpoint.records;
                }
                checkpoint.records
            }
            None => {
                let first = copies.first().map_or(0, |c| parse_segment_name(&c.name).unwrap_or(0));
                copies.clear();
                first
            }
        };
        if sealed_end < valid_end {
            unsealed_left_out = Some(sealed_end..valid_end);
        }
    }
    for copy in &copies {
        let source = from
            .open(&copy.name, false)
            .map_err(StorageError::during("opening", &copy.name))?;
        let mut bytes = read_segment(&*source).map_err(StorageError::during("reading", &copy.name))?;
        bytes.truncate(usize::try_from(copy.len).unwrap_or(usize::MAX));
        let target = to
            .open(&copy.name, true)
            .map_err(StorageError::during("creating", &copy.name))?;
        target
            .write_at(0, &bytes)
            .map_err(StorageError::during("writing", &copy.name))?;
        target.sync().map_err(StorageError::during("syncing", &copy.name))?;
    }
    to.sync_directory()
        .map_err(StorageError::during("syncing", "the target"))?;
    let first_seq = scan.segments.first().map_or(0, |s| s.segment.first_seq);
    Ok(SalvageReport {
        segments: copies.len(),
        first_seq,
        next_seq: copies.last().map_or(first_seq, |c| c.next_seq),
        segments_left_out: total.saturating_sub(copies.len()),
        unsealed_left_out,
        damage: scan.damage,
    })
}

/// A segment file to copy, up to `len` bytes.
struct Copy {
    name: String,
    len: u64,
    seals: Vec<Seal>,
    /// Sequence number after its last record copied.
    next_seq: u64,
}
