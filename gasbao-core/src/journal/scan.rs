//! Reading a segment back: every record checked, damage located exactly.

use std::io;

use crate::journal::error::{Corruption, CorruptionKind};
use crate::journal::format::{FRAME_LEN, Frame, HEADER_LEN, HeaderProblem, SegmentHeader, parse_segment_name};
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

/// Reads a whole segment file.
pub(crate) fn read_segment(file: &dyn StorageFile) -> io::Result<Vec<u8>> {
    let len = usize::try_from(file.size()?).map_err(|_| io::Error::other("segment larger than memory"))?;
    let mut bytes = vec![0u8; len];
    let read = read_full(file, 0, &mut bytes)?;
    bytes.truncate(read);
    Ok(bytes)
}

/// The result of scanning one segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scanned {
    /// Sequence number after the segment's last whole record.
    pub(crate) next_seq: u64,
    /// Offset just after the last whole record: where writing continues.
    pub(crate) data_end: u64,
    /// A record torn by a crash, if one follows: its offset and how many
    /// non-zero bytes it left.
    pub(crate) torn: Option<(u64, u64)>,
}

/// Scans `segment`'s `bytes`, handing each valid record to `visit`.
///
/// Records end at the end of the file or where only zeros follow (space
/// allocated ahead of writing). In the `last` segment, a damaged record is
/// taken for the write a crash cut short, and cut off with whatever follows,
/// unless a valid later record follows it: that proves the damage is not at
/// the end, so it is a [`Corruption`], as is any damage in an earlier segment.
pub(crate) fn scan_segment(
    segment: &SegmentName,
    bytes: &[u8],
    expected_first: Option<u64>,
    last: bool,
    mut visit: impl FnMut(u64, &[u8]),
) -> Result<Scanned, Corruption> {
    let corrupt = |offset: usize, seq: Option<u64>, problem| Corruption {
        segment: segment.name.clone(),
        offset: offset as u64,
        seq,
        problem,
    };
    let header = match SegmentHeader::decode(bytes) {
        Ok(header) => header,
        Err(HeaderProblem::Short) if last => {
            return Ok(Scanned {
                next_seq: segment.first_seq,
                data_end: 0,
                torn: Some((0, non_zero_len(bytes))),
            });
        }
        Err(HeaderProblem::Version(version)) => {
            return Err(corrupt(0, None, CorruptionKind::UnsupportedVersion(version)));
        }
        Err(_) => return Err(corrupt(0, None, CorruptionKind::BadHeader)),
    };
    let expected = expected_first.unwrap_or(segment.first_seq);
    if header.first_seq != segment.first_seq || header.first_seq != expected {
        return Err(corrupt(0, None, CorruptionKind::SegmentOutOfPlace { expected }));
    }

    let mut next_seq = header.first_seq;
    let mut offset = HEADER_LEN;
    loop {
        let rest = bytes.get(offset..).unwrap_or(&[]);
        let end = Scanned {
            next_seq,
            data_end: offset as u64,
            torn: None,
        };
        if rest.iter().all(|&b| b == 0) {
            return Ok(end);
        }
        // Built only where a record is damaged: sizing the tail scans the segment.
        let torn = || {
            Ok(Scanned {
                torn: Some((offset as u64, non_zero_len(rest))),
                ..end
            })
        };
        // Only evaluated where a record is damaged.
        let is_tail = || last && !valid_record_after(rest.get(1..).unwrap_or(&[]), next_seq);
        let Some(header_bytes) = rest.get(..FRAME_LEN).and_then(|h| <&[u8; FRAME_LEN]>::try_from(h).ok()) else {
            return if is_tail() {
                torn()
            } else {
                Err(corrupt(offset, None, CorruptionKind::Truncated))
            };
        };
        let frame = Frame::decode(header_bytes);
        let record_end = FRAME_LEN.saturating_add(frame.payload_len);
        let Some(payload) = rest.get(FRAME_LEN..record_end) else {
            return if is_tail() {
                torn()
            } else {
                Err(corrupt(offset, None, CorruptionKind::Truncated))
            };
        };
        if !frame.checks(header_bytes, payload) {
            return if is_tail() {
                torn()
            } else {
                Err(corrupt(offset, None, CorruptionKind::ChecksumMismatch))
            };
        }
        if frame.kind != 0 {
            return Err(corrupt(
                offset,
                Some(frame.seq),
                CorruptionKind::UnknownKind(frame.kind),
            ));
        }
        if frame.seq != next_seq {
            return Err(corrupt(
                offset,
                Some(frame.seq),
                CorruptionKind::SequenceGap { expected: next_seq },
            ));
        }
        visit(frame.seq, payload);
        next_seq = next_seq.saturating_add(1);
        offset = offset.saturating_add(record_end);
    }
}

/// Whether a valid record numbered `after` or later starts anywhere in
/// `bytes`. Only called where damage was found, so the byte-by-byte search
/// costs nothing on the normal path.
fn valid_record_after(bytes: &[u8], after: u64) -> bool {
    // A record holds a non-zero checksum, so none starts past the last non-zero byte.
    let searched = usize::try_from(non_zero_len(bytes)).unwrap_or(bytes.len());
    (0..searched).any(|start| {
        let Some(header) = bytes
            .get(start..start.saturating_add(FRAME_LEN))
            .and_then(|h| <&[u8; FRAME_LEN]>::try_from(h).ok())
        else {
            return false;
        };
        let frame = Frame::decode(header);
        // A record can only be one of those after the damage; checking the
        // number first keeps the checksum off almost every offset.
        let plausible = frame.kind == 0 && frame.seq >= after && frame.seq.saturating_sub(after) < (1 << 32);
        plausible
            && bytes
                .get(start.saturating_add(FRAME_LEN)..start.saturating_add(FRAME_LEN).saturating_add(frame.payload_len))
                .is_some_and(|payload| frame.checks(header, payload))
    })
}

/// Length of `bytes` up to and including its last non-zero byte.
fn non_zero_len(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |i| (i as u64).saturating_add(1))
}
