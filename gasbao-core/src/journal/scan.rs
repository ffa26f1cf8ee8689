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

/// How a segment's records ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SegmentEnd {
    /// At the end of the file, after the last whole record.
    Clean,
    /// At a torn record starting at this offset: a crash cut its write short.
    Torn { offset: u64 },
}

/// The result of scanning one segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scanned {
    /// Sequence number after the segment's last whole record.
    pub(crate) next_seq: u64,
    pub(crate) end: SegmentEnd,
}

/// Scans `segment`'s `bytes`, handing each valid record to `visit`.
///
/// A torn record is accepted only in the `last` segment, and only where a
/// crash can leave one: a record that runs past the end of the file, or a
/// stretch of zeros to the end (a file extended but not written). Any other
/// damage, anywhere, is a [`Corruption`].
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
                end: SegmentEnd::Torn { offset: 0 },
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
        if rest.is_empty() {
            return Ok(Scanned {
                next_seq,
                end: SegmentEnd::Clean,
            });
        }
        let torn = Ok(Scanned {
            next_seq,
            end: SegmentEnd::Torn { offset: offset as u64 },
        });
        if last && rest.iter().all(|&b| b == 0) {
            return torn;
        }
        let Some(header_bytes) = rest.get(..FRAME_LEN).and_then(|h| <&[u8; FRAME_LEN]>::try_from(h).ok()) else {
            return if last {
                torn
            } else {
                Err(corrupt(offset, None, CorruptionKind::Truncated))
            };
        };
        let frame = Frame::decode(header_bytes);
        let Some(payload) = rest.get(FRAME_LEN..FRAME_LEN.saturating_add(frame.payload_len)) else {
            return if last {
                torn
            } else {
                Err(corrupt(offset, None, CorruptionKind::Truncated))
            };
        };
        if !frame.checks(header_bytes, payload) {
            return Err(corrupt(offset, None, CorruptionKind::ChecksumMismatch));
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
        offset = offset.saturating_add(FRAME_LEN).saturating_add(payload.len());
    }
}
