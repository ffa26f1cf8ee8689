//! The on-disk format, as [`crate::journal::on_disk_format`] documents it.

use crate::journal::chain::ChainHash;

/// Largest payload a record may carry (the length must fit well inside `u32`).
pub(crate) const MAX_PAYLOAD: usize = 64 << 20;
/// A data record.
pub(crate) const KIND_DATA: u32 = 0;
/// A signed checkpoint (chained segments only).
pub(crate) const KIND_CHECKPOINT: u32 = 1;

const MAGIC: [u8; 8] = *b"GASBAOJ\n";
const SUFFIX: &str = ".gbj";
const V1_HEADER_LEN: usize = 40;
const V2_HEADER_LEN: usize = 72;
const V3_HEADER_LEN: usize = 80;
/// The format version new chained segments are written in.
pub(crate) const CHAINED_VERSION: u32 = 3;

/// How a segment's records are laid out: the format version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// Version 1: checksummed records.
    Plain,
    /// Version 2: records that carry the SM3 chain hash before them.
    Chained,
}

impl Layout {
    /// The format version a new segment of this layout is written in.
    pub(crate) const fn version(self) -> u32 {
        match self {
            Layout::Plain => 1,
            Layout::Chained => CHAINED_VERSION,
        }
    }

    /// The header length of a new segment of this layout.
    pub(crate) const fn header_len(self) -> usize {
        header_len(self.version())
    }

    pub(crate) const fn frame_len(self) -> usize {
        match self {
            Layout::Plain => 20,
            Layout::Chained => 52,
        }
    }
}

/// The header length of format `version` (1, 2 or 3).
const fn header_len(version: u32) -> usize {
    match version {
        1 => V1_HEADER_LEN,
        2 => V2_HEADER_LEN,
        _ => V3_HEADER_LEN,
    }
}

/// What a segment header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SegmentHeader {
    /// Format version: 1 plain, 2 and 3 chained.
    pub(crate) version: u32,
    pub(crate) segment_id: u64,
    pub(crate) first_seq: u64,
    /// In a chained segment, the chain hash before its first record.
    pub(crate) chain: Option<ChainHash>,
    /// Version 3: records between the segment's automatic checkpoints, `0`
    /// if it is not signed. Versions 1 and 2 do not say.
    pub(crate) checkpoint_every: Option<u64>,
}

/// Why a segment header was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeaderProblem {
    Short,
    Magic,
    Checksum,
    Version(u32),
    Flags(u32),
}

impl SegmentHeader {
    /// The header of a new segment: version 1 without a chain, else version 3.
    pub(crate) fn new(first_seq: u64, chain: Option<ChainHash>, checkpoint_every: u64) -> SegmentHeader {
        let layout = if chain.is_some() {
            Layout::Chained
        } else {
            Layout::Plain
        };
        SegmentHeader {
            version: layout.version(),
            segment_id: first_seq,
            first_seq,
            chain,
            checkpoint_every: chain.map(|_| checkpoint_every),
        }
    }

    pub(crate) fn layout(&self) -> Layout {
        if self.chain.is_some() {
            Layout::Chained
        } else {
            Layout::Plain
        }
    }

    /// Where the segment's first record starts.
    pub(crate) fn len(&self) -> usize {
        header_len(self.version)
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = vec![0u8; self.len()];
        put(&mut out, 0, &MAGIC);
        put(&mut out, 8, &self.version.to_le_bytes());
        put(&mut out, 16, &self.segment_id.to_le_bytes());
        put(&mut out, 24, &self.first_seq.to_le_bytes());
        if let Some(chain) = &self.chain {
            put(&mut out, 40, chain.as_bytes());
        }
        if self.version >= 3 {
            put(&mut out, 72, &self.checkpoint_every.unwrap_or(0).to_le_bytes());
        }
        let crc = header_crc(&out);
        put(&mut out, 32, &crc.to_le_bytes());
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<SegmentHeader, HeaderProblem> {
        let header = bytes.get(..V1_HEADER_LEN).ok_or(HeaderProblem::Short)?;
        if header.get(..8) != Some(&MAGIC[..]) {
            return Err(HeaderProblem::Magic);
        }
        let version = u32_at(header, 8);
        let layout = match version {
            1 => Some(Layout::Plain),
            2 | 3 => Some(Layout::Chained),
            _ => None,
        };
        // A header of an unknown version is checked as far as version 1 goes,
        // to tell a newer file from a damaged one.
        let header = bytes
            .get(..layout.map_or(V1_HEADER_LEN, |_| header_len(version)))
            .ok_or(HeaderProblem::Short)?;
        let checked = if layout.is_some() {
            header
        } else {
            header.get(..36).unwrap_or(&[])
        };
        if header_crc(checked) != u32_at(header, 32) || u32_at(header, 36) != 0 {
            return Err(HeaderProblem::Checksum);
        }
        let Some(layout) = layout else {
            return Err(HeaderProblem::Version(version));
        };
        let flags = u32_at(header, 12);
        if flags != 0 {
            return Err(HeaderProblem::Flags(flags));
        }
        let chain = match layout {
            Layout::Plain => None,
            Layout::Chained => Some(ChainHash::from_bytes(bytes32_at(header, 40))),
        };
        Ok(SegmentHeader {
            version,
            segment_id: u64_at(header, 16),
            first_seq: u64_at(header, 24),
            chain,
            checkpoint_every: (version >= 3).then(|| u64_at(header, 72)),
        })
    }
}

/// CRC32C of a header: bytes 0..32, then from 40 on.
fn header_crc(header: &[u8]) -> u32 {
    let crc = crc32c::crc32c(header.get(..32).unwrap_or(&[]));
    crc32c::crc32c_append(crc, header.get(40..).unwrap_or(&[]))
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

/// Appends the frame of a record to `out`. In a chained journal, `chain` is
/// the chain hash before the record, and becomes the record's own.
pub(crate) fn encode_record(out: &mut Vec<u8>, seq: u64, kind: u32, chain: Option<&mut ChainHash>, payload: &[u8]) {
    let start = out.len();
    // The caller checked `payload.len() <= MAX_PAYLOAD`, so it fits a u32.
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX).to_le_bytes();
    out.extend_from_slice(&len);
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&kind.to_le_bytes());
    if let Some(chain) = &chain {
        out.extend_from_slice(chain.as_bytes());
    }
    out.extend_from_slice(payload);
    let frame = out.get(start..).unwrap_or(&[]);
    let crc = crc32c::crc32c_append(crc32c::crc32c(&len), frame.get(8..).unwrap_or(&[]));
    if let Some(chain) = chain {
        *chain = ChainHash::of_frame(frame);
    }
    put(out.get_mut(start..).unwrap_or(&mut []), 4, &crc.to_le_bytes());
}

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Frame {
    pub(crate) payload_len: usize,
    pub(crate) crc: u32,
    pub(crate) seq: u64,
    pub(crate) kind: u32,
    /// In a chained segment, the chain hash before this record.
    pub(crate) chain: Option<ChainHash>,
}

impl Frame {
    /// Decodes the frame header at the start of `bytes`, if they hold one.
    pub(crate) fn decode(layout: Layout, bytes: &[u8]) -> Option<Frame> {
        let header = bytes.get(..layout.frame_len())?;
        Some(Frame {
            payload_len: usize::try_from(u32_at(header, 0)).unwrap_or(usize::MAX),
            crc: u32_at(header, 4),
            seq: u64_at(header, 8),
            kind: u32_at(header, 16),
            chain: match layout {
                Layout::Plain => None,
                Layout::Chained => Some(ChainHash::from_bytes(bytes32_at(header, 20))),
            },
        })
    }

    /// Whether `frame` (header and payload) matches this frame's checksum.
    pub(crate) fn checks(&self, frame: &[u8]) -> bool {
        let crc = crc32c::crc32c(frame.get(..4).unwrap_or(&[]));
        crc32c::crc32c_append(crc, frame.get(8..).unwrap_or(&[])) == self.crc
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

fn bytes32_at(bytes: &[u8], at: usize) -> [u8; 32] {
    let mut word = [0u8; 32];
    if let Some(src) = bytes.get(at..at.saturating_add(32)) {
        word.copy_from_slice(src);
    }
    word
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

    fn headers() -> [SegmentHeader; 4] {
        let plain = SegmentHeader {
            version: 1,
            segment_id: 7,
            first_seq: 1_000,
            chain: None,
            checkpoint_every: None,
        };
        let version_2 = SegmentHeader {
            version: 2,
            chain: Some(ChainHash::from_bytes([0xa5; 32])),
            ..plain
        };
        let chained = SegmentHeader {
            version: 3,
            checkpoint_every: Some(0),
            ..version_2
        };
        let signed = SegmentHeader {
            checkpoint_every: Some(1_000),
            ..chained
        };
        [plain, version_2, chained, signed]
    }

    #[test]
    fn headers_round_trip_and_detect_damage() {
        for header in headers() {
            let bytes = header.encode();
            assert_eq!(bytes.len(), header.len());
            assert_eq!(SegmentHeader::decode(&bytes), Ok(header));
            for bit in 0..(bytes.len() * 8) {
                let mut damaged = bytes.clone();
                damaged[bit / 8] ^= 1 << (bit % 8);
                assert!(
                    SegmentHeader::decode(&damaged).is_err(),
                    "version {} bit {bit}",
                    header.version
                );
            }
            assert_eq!(
                SegmentHeader::decode(&bytes[..bytes.len() - 1]),
                Err(HeaderProblem::Short)
            );
        }
    }

    #[test]
    fn a_version_1_header_is_laid_out_as_documented() {
        let bytes = headers()[0].encode();
        assert_eq!(&bytes[..8], b"GASBAOJ\n");
        assert_eq!(bytes[8..12], 1u32.to_le_bytes());
        assert_eq!(bytes[24..32], 1_000u64.to_le_bytes());
        assert_eq!(bytes[32..36], crc32c::crc32c(&bytes[..32]).to_le_bytes());
    }

    #[test]
    fn a_version_3_header_holds_the_checkpoint_interval() {
        let bytes = headers()[3].encode();
        assert_eq!(bytes.len(), 80);
        assert_eq!(bytes[8..12], 3u32.to_le_bytes());
        assert_eq!(bytes[72..80], 1_000u64.to_le_bytes());
        let mut crc_input = bytes[..32].to_vec();
        crc_input.extend_from_slice(&bytes[40..80]);
        assert_eq!(bytes[32..36], crc32c::crc32c(&crc_input).to_le_bytes());
    }

    #[test]
    fn a_newer_version_is_told_apart_from_damage() {
        let mut bytes = headers()[0].encode();
        bytes[8] = 4;
        let crc = crc32c::crc32c(&bytes[..32]);
        bytes[32..36].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(SegmentHeader::decode(&bytes), Err(HeaderProblem::Version(4)));
        bytes[8] = 1;
        bytes[12] = 1;
        let crc = crc32c::crc32c(&bytes[..32]);
        bytes[32..36].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(SegmentHeader::decode(&bytes), Err(HeaderProblem::Flags(1)));
    }

    #[test]
    fn frames_round_trip_and_checksums_cover_every_field() {
        for layout in [Layout::Plain, Layout::Chained] {
            let mut out = Vec::new();
            let mut chain = ChainHash::from_bytes([3; 32]);
            let chain = (layout == Layout::Chained).then_some(&mut chain);
            encode_record(&mut out, 42, KIND_DATA, chain, b"meter 17: 350.125 m3");
            assert_eq!(out.len(), layout.frame_len() + 20);
            let frame = Frame::decode(layout, &out).unwrap();
            assert_eq!((frame.payload_len, frame.seq, frame.kind), (20, 42, 0));
            assert!(frame.checks(&out));
            for bit in 0..(out.len() * 8) {
                let mut damaged = out.clone();
                damaged[bit / 8] ^= 1 << (bit % 8);
                assert!(!Frame::decode(layout, &damaged).unwrap().checks(&damaged), "bit {bit}");
            }
        }
    }

    #[test]
    fn a_chained_frame_commits_the_previous_hash_and_yields_its_own() {
        let before = ChainHash::from_bytes([9; 32]);
        let mut chain = before;
        let mut out = Vec::new();
        encode_record(&mut out, 5, KIND_DATA, Some(&mut chain), b"valve 3 closed");
        let frame = Frame::decode(Layout::Chained, &out).unwrap();
        assert_eq!(frame.chain, Some(before));
        assert_eq!(chain, ChainHash::of_frame(&out));
        assert_ne!(chain, before);
    }

    #[test]
    fn segment_names_sort_by_sequence() {
        assert_eq!(segment_name(12), "00000000000000000012.gbj");
        assert_eq!(parse_segment_name(&segment_name(u64::MAX)), Some(u64::MAX));
        assert_eq!(parse_segment_name("12.gbj"), None);
        assert_eq!(parse_segment_name("0000000000000000001x.gbj"), None);
    }
}
