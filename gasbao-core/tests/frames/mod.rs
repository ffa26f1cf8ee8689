//! The documented version 2 segment format, read and rewritten by hand: an
//! independent reading of the format, and the tools of a forger who knows it
//! but holds no signing key.
#![allow(dead_code)]

/// Length of a version 2 segment header.
pub(crate) const HEADER: usize = 72;
/// Length of a version 2 frame header.
pub(crate) const FRAME: usize = 52;

/// One frame in a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameAt {
    pub(crate) offset: usize,
    pub(crate) len: usize,
    pub(crate) seq: u64,
    pub(crate) kind: u32,
}

/// The frames of a version 2 segment, up to the zeros allocated after them.
pub(crate) fn frames(bytes: &[u8]) -> Vec<FrameAt> {
    let mut at = HEADER;
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
