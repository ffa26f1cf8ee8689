//! The on-disk format, version 1. Little-endian throughout.
//!
//! A segment file is named `{first_seq:020}.gbj` and starts with a 40-byte header:
//!
//! | bytes | field |
//! |---|---|
//! | 0..8 | magic `b"GASBAOJ\n"` |
//! | 8..12 | format version, `1` |
//! | 12..16 | flags (reserved, `0`) |
//! | 16..24 | segment id |
//! | 24..32 | sequence number of the segment's first record |
//! | 32..36 | CRC32C of bytes 0..32 |
//! | 36..40 | reserved, `0` |
//!
//! Then records, each a 20-byte frame header and the payload:
//!
//! | bytes | field |
//! |---|---|
//! | 0..4 | payload length |
//! | 4..8 | CRC32C of bytes 0..4 and 8..20, then the payload |
//! | 8..16 | sequence number |
//! | 16..20 | record kind (`0` data) |
//! | 20.. | payload |

/// Segment header length.
pub(crate) const HEADER_LEN: usize = 40;
/// Record frame header length.
pub(crate) const FRAME_LEN: usize = 20;
/// The format version this code writes.
pub(crate) const VERSION: u32 = 1;
/// Largest payload a record may carry (the length must fit well inside `u32`).
pub(crate) const MAX_PAYLOAD: usize = 64 << 20;

const MAGIC: [u8; 8] = *b"GASBAOJ\n";
const SUFFIX: &str = ".gbj";

/// What a segment header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SegmentHeader {
    pub(crate) segment_id: u64,
    pub(crate) first_seq: u64,
}

/// Why a segment header was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeaderProblem {
    Short,
    Magic,
    Checksum,
    Version(u32),
}

impl SegmentHeader {
    pub(crate) fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        put(&mut out, 0, &MAGIC);
        put(&mut out, 8, &VERSION.to_le_bytes());
        put(&mut out, 16, &self.segment_id.to_le_bytes());
        put(&mut out, 24, &self.first_seq.to_le_bytes());
        let crc = crc32c::crc32c(out.get(..32).unwrap_or(&[]));
        put(&mut out, 32, &crc.to_le_bytes());
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<SegmentHeader, HeaderProblem> {
        let header = bytes.get(..HEADER_LEN).ok_or(HeaderProblem::Short)?;
        if header.get(..8) != Some(&MAGIC[..]) {
            return Err(HeaderProblem::Magic);
        }
        if crc32c::crc32c(header.get(..32).unwrap_or(&[])) != u32_at(header, 32) {
            return Err(HeaderProblem::Checksum);
        }
        if u32_at(header, 36) != 0 {
            return Err(HeaderProblem::Checksum);
        }
        let version = u32_at(header, 8);
        if version != VERSION {
            return Err(HeaderProblem::Version(version));
        }
        Ok(SegmentHeader {
            segment_id: u64_at(header, 16),
            first_seq: u64_at(header, 24),
        })
    }
}

/// The file name of the segment whose first record is `first_seq`.
pub(crate) fn segment_name(first_seq: u64) -> String {
    format!("{first_seq:020}{SUFFIX}")
}

/// The first sequence number named by a segment file name, if it is one.
pub(crate) fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Appends the frame of record `seq` with `payload` to `out`.
pub(crate) fn encode_record(out: &mut Vec<u8>, seq: u64, payload: &[u8]) {
    // The caller checked `payload.len() <= MAX_PAYLOAD`, so it fits a u32.
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX).to_le_bytes();
    let seq = seq.to_le_bytes();
    let kind = 0u32.to_le_bytes();
    let mut crc = crc32c::crc32c(&len);
    crc = crc32c::crc32c_append(crc, &seq);
    crc = crc32c::crc32c_append(crc, &kind);
    crc = crc32c::crc32c_append(crc, payload);
    out.extend_from_slice(&len);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&seq);
    out.extend_from_slice(&kind);
    out.extend_from_slice(payload);
}

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Frame {
    pub(crate) payload_len: usize,
    pub(crate) crc: u32,
    pub(crate) seq: u64,
    pub(crate) kind: u32,
}

impl Frame {
    pub(crate) fn decode(bytes: &[u8; FRAME_LEN]) -> Frame {
        Frame {
            payload_len: usize::try_from(u32_at(bytes, 0)).unwrap_or(usize::MAX),
            crc: u32_at(bytes, 4),
            seq: u64_at(bytes, 8),
            kind: u32_at(bytes, 16),
        }
    }

    /// Whether `payload` matches this frame's checksum.
    pub(crate) fn checks(&self, header: &[u8; FRAME_LEN], payload: &[u8]) -> bool {
        let mut crc = crc32c::crc32c(header.get(..4).unwrap_or(&[]));
        crc = crc32c::crc32c_append(crc, header.get(8..20).unwrap_or(&[]));
        crc = crc32c::crc32c_append(crc, payload);
        crc == self.crc
    }
}

fn put(out: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(dst) = out.get_mut(at..at.saturating_add(bytes.len())) {
        dst.copy_from_slice(bytes);
    }
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    if let Some(src) = bytes.get(at..at.saturating_add(4)) {
        word.copy_from_slice(src);
    }
    u32::from_le_bytes(word)
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    if let Some(src) = bytes.get(at..at.saturating_add(8)) {
        word.copy_from_slice(src);
    }
    u64::from_le_bytes(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_detects_damage() {
        let header = SegmentHeader {
            segment_id: 7,
            first_seq: 1_000,
        };
        let bytes = header.encode();
        assert_eq!(SegmentHeader::decode(&bytes), Ok(header));
        for bit in 0..(HEADER_LEN * 8) {
            let mut damaged = bytes;
            damaged[bit / 8] ^= 1 << (bit % 8);
            assert!(SegmentHeader::decode(&damaged).is_err(), "bit {bit}");
        }
        assert_eq!(SegmentHeader::decode(&bytes[..39]), Err(HeaderProblem::Short));
    }

    #[test]
    fn frames_round_trip_and_checksums_cover_every_field() {
        let mut out = Vec::new();
        encode_record(&mut out, 42, b"meter 17: 350.125 m3");
        let header: [u8; FRAME_LEN] = out[..FRAME_LEN].try_into().unwrap();
        let frame = Frame::decode(&header);
        assert_eq!((frame.payload_len, frame.seq, frame.kind), (20, 42, 0));
        assert!(frame.checks(&header, &out[FRAME_LEN..]));
        for bit in 0..(out.len() * 8) {
            let mut damaged = out.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            let header: [u8; FRAME_LEN] = damaged[..FRAME_LEN].try_into().unwrap();
            let payload = damaged.get(FRAME_LEN..).unwrap();
            assert!(!Frame::decode(&header).checks(&header, payload), "bit {bit}");
        }
    }

    #[test]
    fn segment_names_sort_by_sequence() {
        assert_eq!(segment_name(12), "00000000000000000012.gbj");
        assert_eq!(parse_segment_name(&segment_name(u64::MAX)), Some(u64::MAX));
        assert_eq!(parse_segment_name("12.gbj"), None);
        assert_eq!(parse_segment_name("0000000000000000001x.gbj"), None);
    }
}
