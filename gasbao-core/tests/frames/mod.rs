//! The documented chained segment format (versions 2 and 3), read and
//! rewritten by hand: an independent reading of the format, and the tools of
//! a forger who knows it but holds no signing key.
#![allow(dead_code)]

/// Length of a chained frame header.
pub(crate) const FRAME: usize = 52;

/// Length of a segment's header: 72 bytes in version 2, 80 in version 3.
pub(crate) fn header_len(bytes: &[u8]) -> usize {
    match u32::from_le_bytes(bytes[8..12].try_into().unwrap()) {
        2 => 72,
        3 => 80,
        other => panic!("not a chained segment: version {other}"),
    }
}

/// Rewrites a version 3 header's checkpoint interval, and its CRC to match.
pub(crate) fn set_interval(bytes: &mut [u8], interval: u64) {
    bytes[72..80].copy_from_slice(&interval.to_le_bytes());
    let crc = crc32c::crc32c_append(crc32c::crc32c(&bytes[..32]), &bytes[40..80]);
    bytes[32..36].copy_from_slice(&crc.to_le_bytes());
}

/// Removes every checkpoint frame from `first_byte` on, then rechains what
/// follows: a forger hiding that the next signatures would fail.
pub(crate) fn strip_checkpoints(bytes: &mut Vec<u8>, first_byte: usize) {
    let before = frames(bytes);
    for frame in before.iter().rev().filter(|f| f.kind == 1 && f.offset >= first_byte) {
        bytes.drain(frame.offset..frame.offset + frame.len);
    }
    let first = frames(bytes).iter().position(|f| f.offset >= first_byte).unwrap_or(0);
    rechain(bytes, first);
}

/// One frame in a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameAt {
    pub(crate) offset: usize,
    pub(crate) len: usize,
    pub(crate) seq: u64,
    pub(crate) kind: u32,
}

/// The frames of a chained segment, up to the zeros allocated after them.
pub(crate) fn frames(bytes: &[u8]) -> Vec<FrameAt> {
    let mut at = header_len(bytes);
    let mut out = Vec::new();
    while at + FRAME <= bytes.len() && bytes[at..at + 4] != [0; 4] {
        let payload = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        out.push(FrameAt {
            offset: at,
            len: FRAME + payload,
            seq: u64::from_le_bytes(bytes[at + 8..at + 16].try_into().unwrap()),
            kind: u32::from_le_bytes(bytes[at + 16..at + 20].try_into().unwrap()),
        });
        at += FRAME + payload;
    }
    out
}

/// The chain hash of a frame: SM3 of it without bytes 4..8 (sm-crypto's SM3).
pub(crate) fn chain_hash(frame: &[u8]) -> [u8; 32] {
    let mut hashed = frame[..4].to_vec();
    hashed.extend_from_slice(&frame[8..]);
    sm_crypto::sm3::sm3_hash_raw(&hashed).try_into().unwrap()
}

/// Rewrites a frame's CRC to match its contents.
pub(crate) fn fix_crc(bytes: &mut [u8], frame: FrameAt) {
    let f = &bytes[frame.offset..frame.offset + frame.len];
    let crc = crc32c::crc32c_append(crc32c::crc32c(&f[..4]), &f[8..]);
    bytes[frame.offset + 4..frame.offset + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Rewrites every frame from `first` on so that checksums and the chain agree
/// again: all a forger without the key can do.
pub(crate) fn rechain(bytes: &mut [u8], first: usize) {
    let frames = frames(bytes);
    for (i, frame) in frames.iter().enumerate().skip(first) {
        if i > 0 {
            let before = frames[i - 1];
            let hash = chain_hash(&bytes[before.offset..before.offset + before.len]);
            bytes[frame.offset + 20..frame.offset + 52].copy_from_slice(&hash);
        }
        fix_crc(bytes, *frame);
    }
}
