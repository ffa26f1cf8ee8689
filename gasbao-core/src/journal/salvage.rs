//! Copying the valid prefix of a damaged journal to a new place.

use crate::journal::checkpoint::CheckpointVerifyingKey;
use crate::journal::error::{Corruption, SalvageError, StorageError};
use crate::journal::format::parse_segment_name;
use crate::journal::scan::{ScanContext, SegmentName, list_segments, read_segment, scan_journal, scan_segment};
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
    /// Segment files at or after the damage that were left out whole.
    pub segments_left_out: usize,
}

/// Copies the valid prefix of the journal in `from` to the empty `to`: every
/// record before the first damage (checksum, sequence, chain, and with `key`
/// checkpoint signatures), byte for byte, so the copy's chain and checkpoints
/// still verify. A torn tail is left out. `from` is only read.
///
/// Open the copy with [`Journal::open`](crate::journal::Journal::open) to go
/// on appending after the last valid record. Records after the damage are not
/// copied, even where they are intact: they cannot be vouched for. If nothing
/// before the damage is valid, the copy is empty.
///
/// # Errors
///
/// [`SalvageError::TargetNotEmpty`] if `to` holds a segment file;
/// [`SalvageError::Io`] if reading or writing fails.
pub fn salvage(
    from: &dyn Storage,
    to: &dyn Storage,
    key: Option<&CheckpointVerifyingKey>,
) -> Result<SalvageReport, SalvageError> {
    if let Some(existing) = list_segments(to)
        .map_err(StorageError::during("listing", "the target"))?
        .first()
    {
        return Err(SalvageError::TargetNotEmpty {
            file: existing.name.clone(),
        });
    }
    let scan = scan_journal(from, key)?;
    let total = list_segments(from).map_err(StorageError::during("listing", ""))?.len();
    // Whole segments up to the damage, each without any torn tail...
    let mut copies: Vec<(String, u64)> = scan
        .segments
        .iter()
        .filter(|s| s.scanned.layout.is_some())
        .map(|s| (s.segment.name.clone(), s.scanned.data_end))
        .collect();
    // ... and the damaged one up to the damaged record, if its header is sound.
    if let Some(damage) = &scan.damage
        && damage.offset > 0
    {
        copies.push((damage.segment.clone(), damage.offset));
    }
    let mut next_seq = scan.end().map_or(0, |e| e.next_seq);
    for (name, len) in &copies {
        let source = from.open(name, false).map_err(StorageError::during("opening", name))?;
        let mut bytes = read_segment(&*source).map_err(StorageError::during("reading", name))?;
        bytes.truncate(usize::try_from(*len).unwrap_or(usize::MAX));
        if let (Some(damage), Some(first_seq)) = (&scan.damage, parse_segment_name(name))
            && damage.segment == *name
        {
            // The prefix before the damage was checked by the scan; scanning
            // it again alone counts its records.
            let segment = SegmentName {
                name: name.clone(),
                first_seq,
            };
            let context = ScanContext {
                previous: scan.end(),
                last: true,
                key: None,
            };
            if let Ok(prefix) = scan_segment(&segment, &bytes, context, |_, _| {}) {
                next_seq = prefix.end.next_seq;
            }
        }
        let target = to.open(name, true).map_err(StorageError::during("creating", name))?;
        target
            .write_at(0, &bytes)
            .map_err(StorageError::during("writing", name))?;
        target.sync().map_err(StorageError::during("syncing", name))?;
    }
    to.sync_directory()
        .map_err(StorageError::during("syncing", "the target"))?;
    Ok(SalvageReport {
        segments: copies.len(),
        first_seq: scan.segments.first().map_or(0, |s| s.segment.first_seq),
        next_seq,
        segments_left_out: total.saturating_sub(copies.len()),
        damage: scan.damage,
    })
}
