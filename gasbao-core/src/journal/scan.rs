//! Reading a segment back: every record checked, damage located exactly.

use std::io;

use std::ops::Range;

use crate::journal::chain::{ChainFailure, ChainHash, ChainedFrame, check_chain};
use crate::journal::checkpoint::{Checkpoint, CheckpointVerifyingKey};
use crate::journal::error::{Corruption, CorruptionKind, IntegrityKind, StorageError};
use crate::journal::format::{
    Frame, HeaderProblem, KIND_CHECKPOINT, KIND_DATA, Layout, SegmentHeader, parse_segment_name,
};
use crate::journal::storage::{Storage, StorageFile, read_full};

/// A segment file and the first record it should hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentName {
    pub(crate) name: String,
    pub(crate) first_seq: u64,
}

/// The journal's segments, oldest first.
pub(crate) fn list_segments(storage: &dyn Storage) -> io::Result<Vec<SegmentName>> {
    let mut segments: Vec<SegmentName> = storage
        .list()?
        .into_iter()
        .filter_map(|name| parse_segment_name(&name).map(|first_seq| SegmentName { name, first_seq }))
        .collect();
    segments.sort_by_key(|s| s.first_seq);
    Ok(segments)
}

/// A segment and what scanning it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScannedSegment {
    pub(crate) segment: SegmentName,
    pub(crate) scanned: Scanned,
}

/// What scanning a whole journal found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JournalScan {
    /// The segments found valid, oldest first. The last may end in a torn
    /// record (or be only a torn header).
    pub(crate) segments: Vec<ScannedSegment>,
    /// The first damage no crash explains, if any: scanning stopped there.
    pub(crate) damage: Option<Corruption>,
}

impl JournalScan {
    /// Where the valid records end.
    pub(crate) fn end(&self) -> Option<SegmentEnd> {
        self.segments.last().map(|s| s.scanned.end)
    }

    /// What the journal was written with, if it holds a segment.
    pub(crate) fn integrity(&self) -> Option<IntegrityKind> {
        let layouts = self.segments.iter().filter_map(|s| s.scanned.layout);
        let signed = self
            .segments
            .iter()
            .any(|s| !s.scanned.seals.is_empty() || s.scanned.checkpoint_every.is_some_and(|every| every > 0));
        let mut kinds = layouts.map(|layout| match layout {
            _ if signed => IntegrityKind::Signed,
            Layout::Chained => IntegrityKind::HashChain,
            Layout::Plain => IntegrityKind::Checksums,
        });
        kinds.next()
    }

    /// Checkpoints found in all segments, and the newest.
    pub(crate) fn checkpoints(&self) -> (u64, Option<Checkpoint>) {
        self.segments.iter().fold((0, None), |(count, last), s| {
            (
                count.saturating_add(s.scanned.seals.len() as u64),
                s.scanned.seals.last().map(|seal| seal.checkpoint).or(last),
            )
        })
    }
}

/// Scans every segment of the journal in `storage`, oldest first, until the
/// first damage; checks checkpoint signatures against `keys` if given.
pub(crate) fn scan_journal(
    storage: &dyn Storage,
    keys: Option<&[CheckpointVerifyingKey]>,
) -> Result<JournalScan, StorageError> {
    let io_error = StorageError::during;
    let names = list_segments(storage).map_err(io_error("listing", ""))?;
    let count = names.len();
    let mut scan = JournalScan {
        segments: Vec::with_capacity(count),
        damage: None,
    };
    // One buffer for every segment: a fresh one would be faulted in page by
    // page on each read.
    let mut bytes = Vec::new();
    for (index, segment) in names.into_iter().enumerate() {
        let file = storage
            .open(&segment.name, false)
            .map_err(io_error("opening", &segment.name))?;
        read_segment_into(&*file, &mut bytes).map_err(io_error("reading", &segment.name))?;
        let context = ScanContext {
            previous: scan.end(),
            last: index.saturating_add(1) == count,
            keys,
        };
        match scan_segment(&segment, &bytes, context, |_, _| {}) {
            Ok(scanned) => scan.segments.push(ScannedSegment { segment, scanned }),
            Err(damage) => {
                scan.damage = Some(scan.blame_previous(damage));
                break;
            }
        }
    }
    Ok(scan)
}

impl JournalScan {
    /// A segment whose header does not continue the chain was preceded by a
    /// record whose content changed: that record is the damage, and its
    /// segment is no longer among the valid ones.
    fn blame_previous(&mut self, damage: Corruption) -> Corruption {
        if damage.problem != CorruptionKind::ChainBroken || damage.offset != 0 {
            return damage;
        }
        let Some(previous) = self.segments.last() else {
            return damage;
        };
        let Some((offset, seq)) = previous.scanned.last_frame else {
            return damage;
        };
        let segment = previous.segment.name.clone();
        self.segments.pop();
        Corruption {
            segment,
            offset,
            seq: Some(seq),
            problem: CorruptionKind::ChainBroken,
        }
    }
}

/// Reads a whole segment file.
pub(crate) fn read_segment(file: &dyn StorageFile) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    read_segment_into(file, &mut bytes)?;
    Ok(bytes)
}

/// Reads a whole segment file into `bytes`, reusing its allocation.
pub(crate) fn read_segment_into(file: &dyn StorageFile, bytes: &mut Vec<u8>) -> io::Result<()> {
    let len = usize::try_from(file.size()?).map_err(|_| io::Error::other("segment larger than memory"))?;
    bytes.clear();
    bytes.resize(len, 0);
    let read = read_full(file, 0, bytes)?;
    bytes.truncate(read);
    Ok(())
}

/// Where the previous segment ended, which the next must continue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SegmentEnd {
    /// Sequence number after its last record.
    pub(crate) next_seq: u64,
    /// Its chain hash after its last record, if it is chained.
    pub(crate) chain: Option<ChainHash>,
    /// Records since the newest checkpoint (or the oldest record kept).
    pub(crate) unsealed: u64,
    /// How many records may follow a checkpoint before the next, as the
    /// newest checkpoint signed it (or the oldest segment's header says,
    /// before any); `None` where the journal does not say.
    pub(crate) seal_limit: Option<u64>,
}

/// How to scan a segment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScanContext<'a> {
    /// Where the segment before this one ended; `None` for the oldest kept.
    pub(crate) previous: Option<SegmentEnd>,
    /// Whether this is the newest segment, whose end a crash may have torn.
    pub(crate) last: bool,
    /// The keys one of which must have signed each checkpoint; without them,
    /// checkpoints are parsed but neither their signatures nor the number of
    /// records between them are checked.
    pub(crate) keys: Option<&'a [CheckpointVerifyingKey]>,
}

/// A checkpoint found in a segment, and the offset just after its frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Seal {
    pub(crate) checkpoint: Checkpoint,
    pub(crate) end: u64,
}

/// The result of scanning one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scanned {
    /// Where the segment's last whole record leaves the journal.
    pub(crate) end: SegmentEnd,
    /// Offset just after the last whole record: where writing continues.
    pub(crate) data_end: u64,
    /// A record torn by a crash, if one follows: its offset and how many
    /// non-zero bytes it left.
    pub(crate) torn: Option<(u64, u64)>,
    /// The segment's record layout (format version); `None` if its header was torn.
    pub(crate) layout: Option<Layout>,
    /// The header's checkpoint interval (format version 3).
    pub(crate) checkpoint_every: Option<u64>,
    /// The header's chain hash: the one before the segment's first frame.
    pub(crate) header_chain: Option<ChainHash>,
    /// Checkpoints found, oldest first.
    pub(crate) seals: Vec<Seal>,
    /// The offset and number of the last chained frame, if there is one.
    pub(crate) last_frame: Option<(u64, u64)>,
}

impl Scanned {
    /// Whether the segment holds a data record.
    pub(crate) fn holds_records(&self, segment: &SegmentName) -> bool {
        self.end.next_seq > segment.first_seq
    }
}

/// Scans `segment`'s `bytes`, handing each valid data record to `visit`.
///
/// Records end at the end of the file or where only zeros follow (space
/// allocated ahead of writing). In the `last` segment, a damaged record is
/// taken for the write a crash cut short, and cut off with whatever follows,
/// unless a valid later record follows it: that proves the damage is not at
/// the end, so it is a [`Corruption`], as is any damage in an earlier segment.
/// A record with a valid checksum that breaks the hash chain, or a checkpoint
/// whose signature fails, is always a [`Corruption`]: no crash makes one. So
/// is, when signatures are checked, a run of more records without a
/// checkpoint than the last checkpoint's signed interval allows: a writer
/// never leaves one, so checkpoints were removed.
pub(crate) fn scan_segment(
    segment: &SegmentName,
    bytes: &[u8],
    context: ScanContext<'_>,
    mut visit: impl FnMut(u64, &[u8]),
) -> Result<Scanned, Corruption> {
    let corrupt = |offset: usize, seq: Option<u64>, problem| Corruption {
        segment: segment.name.clone(),
        offset: offset as u64,
        seq,
        problem,
    };
    // A damaged header stops the segment's first record from being read.
    let header_damage = |problem| Err(corrupt(0, Some(segment.first_seq), problem));
    let header = match SegmentHeader::decode(bytes) {
        Ok(header) => header,
        Err(HeaderProblem::Short) if context.last => {
            return Ok(Scanned {
                end: context.previous.unwrap_or(SegmentEnd {
                    next_seq: segment.first_seq,
                    chain: None,
                    unsealed: 0,
                    seal_limit: None,
                }),
                data_end: 0,
                torn: Some((0, non_zero_len(bytes))),
                layout: None,
                checkpoint_every: None,
                header_chain: None,
                seals: Vec::new(),
                last_frame: None,
            });
        }
        Err(HeaderProblem::Version(version)) => return header_damage(CorruptionKind::UnsupportedVersion(version)),
        Err(HeaderProblem::Flags(flags)) => return header_damage(CorruptionKind::UnsupportedFlags(flags)),
        Err(_) => return header_damage(CorruptionKind::BadHeader),
    };
    let expected = context.previous.map_or(segment.first_seq, |p| p.next_seq);
    if header.first_seq != segment.first_seq || header.first_seq != expected {
        return header_damage(CorruptionKind::SegmentOutOfPlace { expected });
    }
    if let Some(previous) = context.previous
        && previous.chain != header.chain
    {
        return header_damage(CorruptionKind::ChainBroken);
    }

    let layout = header.layout();
    let signed_interval = header.checkpoint_every.filter(|&every| every > 0);
    let mut scanned = Scanned {
        end: context.previous.map_or(
            SegmentEnd {
                next_seq: header.first_seq,
                chain: header.chain,
                unsealed: 0,
                seal_limit: signed_interval,
            },
            |previous| SegmentEnd {
                chain: header.chain,
                ..previous
            },
        ),
        data_end: 0,
        torn: None,
        layout: Some(layout),
        checkpoint_every: header.checkpoint_every,
        header_chain: header.chain,
        seals: Vec::new(),
        last_frame: None,
    };
    // First pass: frames, checksums, numbering. The chain hashes, the costly
    // part, are checked after it, in parallel; records are handed to `visit`
    // only once everything before them has passed.
    // Sized for records of about 200 bytes, so most segments never regrow.
    let expected_records = bytes.len() / 256;
    let mut frames: Vec<ChainedFrame> = Vec::with_capacity(if header.chain.is_some() { expected_records } else { 0 });
    let mut checkpoints: Vec<(usize, Checkpoint)> = Vec::new();
    let mut seal_ends: Vec<usize> = Vec::new();
    let mut data: Vec<(u64, Range<usize>)> = Vec::with_capacity(expected_records);
    let mut offset = header.len();
    let walked: Result<(), Corruption> = loop {
        let rest = bytes.get(offset..).unwrap_or(&[]);
        scanned.data_end = offset as u64;
        if rest.iter().all(|&b| b == 0) {
            break Ok(());
        }
        let next_seq = scanned.end.next_seq;
        // Only evaluated where a record is damaged: sizing the tail and
        // searching past it scan the rest of the segment.
        let damaged = |scanned: &mut Scanned, problem| {
            if context.last && !valid_record_after(layout, rest.get(1..).unwrap_or(&[]), next_seq) {
                scanned.torn = Some((offset as u64, non_zero_len(rest)));
                Ok(())
            } else {
                // Whatever its kind, the frame here should carry this number.
                Err(corrupt(offset, Some(next_seq), problem))
            }
        };
        let Some(frame) = Frame::decode(layout, rest) else {
            break damaged(&mut scanned, CorruptionKind::Truncated);
        };
        let Some(record) = rest.get(..layout.frame_len().saturating_add(frame.payload_len)) else {
            break damaged(&mut scanned, CorruptionKind::Truncated);
        };
        if !frame.checks(record) {
            break damaged(&mut scanned, CorruptionKind::ChecksumMismatch);
        }
        let at = |problem| Err(corrupt(offset, Some(frame.seq), problem));
        if frame.seq != next_seq {
            break at(CorruptionKind::SequenceGap { expected: next_seq });
        }
        let payload_start = offset.saturating_add(layout.frame_len());
        let record_end = offset.saturating_add(record.len());
        let payload = bytes.get(payload_start..record_end).unwrap_or(&[]);
        match (frame.kind, frame.chain) {
            (KIND_DATA, _) => {
                let unsealed = scanned.end.unsealed.saturating_add(1);
                if let (Some(_), Some(interval)) = (context.keys, scanned.end.seal_limit)
                    && unsealed > interval
                {
                    break at(CorruptionKind::MissingCheckpoint { interval });
                }
                data.push((frame.seq, payload_start..record_end));
                scanned.end.next_seq = next_seq.saturating_add(1);
                scanned.end.unsealed = unsealed;
            }
            (KIND_CHECKPOINT, Some(head)) => {
                match Checkpoint::decode_payload(frame.seq, head, header.checkpoint_every, payload) {
                    Ok(checkpoint) => {
                        checkpoints.push((frames.len(), checkpoint));
                        seal_ends.push(record_end);
                        scanned.end.unsealed = 0;
                        scanned.end.seal_limit = checkpoint.interval.filter(|&every| every > 0);
                    }
                    Err(problem) => break at(CorruptionKind::BadCheckpoint(problem)),
                }
            }
            (kind, _) => break at(CorruptionKind::UnknownKind(kind)),
        }
        if frame.chain.is_some() {
            frames.push(ChainedFrame {
                offset,
                len: record.len(),
                seq: frame.seq,
            });
        }
        offset = record_end;
    };

    // Second pass: the chain and the signatures of what the first accepted.
    // Damage there comes before anything the first pass found further on.
    if let Some(start) = header.chain {
        match check_chain(bytes, start, &frames, &checkpoints, context.keys) {
            Ok(end) => scanned.end.chain = Some(end),
            Err(ChainFailure { index, problem }) => {
                let frame = frames.get(index);
                return Err(corrupt(frame.map_or(0, |f| f.offset), frame.map(|f| f.seq), problem));
            }
        }
        scanned.seals = checkpoints
            .iter()
            .zip(&seal_ends)
            .map(|((_, checkpoint), end)| Seal {
                checkpoint: *checkpoint,
                end: *end as u64,
            })
            .collect();
        scanned.last_frame = frames.last().map(|f| (f.offset as u64, f.seq));
    }
    walked?;
    for (seq, range) in data {
        visit(seq, bytes.get(range).unwrap_or(&[]));
    }
    Ok(scanned)
}

/// Whether a valid record numbered `after` or later starts anywhere in
/// `bytes`. Only called where damage was found, so the byte-by-byte search
/// costs nothing on the normal path.
fn valid_record_after(layout: Layout, bytes: &[u8], after: u64) -> bool {
    // A record holds a non-zero checksum, so none starts past the last non-zero byte.
    let searched = usize::try_from(non_zero_len(bytes)).unwrap_or(bytes.len());
    (0..searched).any(|start| {
        let rest = bytes.get(start..).unwrap_or(&[]);
        let Some(frame) = Frame::decode(layout, rest) else {
            return false;
        };
        // A record can only be one of those after the damage; checking the
        // number first keeps the checksum off almost every offset.
        let plausible =
            frame.kind <= KIND_CHECKPOINT && frame.seq >= after && frame.seq.saturating_sub(after) < (1 << 32);
        plausible
            && rest
                .get(..layout.frame_len().saturating_add(frame.payload_len))
                .is_some_and(|record| frame.checks(record))
    })
}

/// Length of `bytes` up to and including its last non-zero byte.
fn non_zero_len(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |i| (i as u64).saturating_add(1))
}
