//! The SM3 hash chain: each record commits the hash of everything before it.

use std::fmt;
use std::num::NonZeroUsize;
use std::ops::Range;
use std::thread;

use sm3::{Digest, Sm3};

use crate::journal::checkpoint::{Checkpoint, CheckpointVerifyingKey};
use crate::journal::error::CorruptionKind;

/// The SM3 hash that ends a journal's hash chain at some record.
///
/// In a chained journal every record stores the chain hash before it, and its
/// own chain hash is the SM3 of its frame (all of it except the CRC field,
/// which the hash makes redundant). Changing, removing or reordering any
/// record therefore changes every later chain hash, and a signed
/// [`Checkpoint`](crate::journal::Checkpoint) over one chain hash vouches for
/// every record before it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ChainHash([u8; 32]);

impl ChainHash {
    /// The chain hash before a journal's first record: 32 zero bytes.
    pub const GENESIS: ChainHash = ChainHash([0; 32]);

    /// The hash from its 32 bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 32]) -> ChainHash {
        ChainHash(bytes)
    }

    /// The hash's 32 bytes.
    #[must_use]
    pub const fn to_bytes(self) -> [u8; 32] {
        self.0
    }

    /// The hash's bytes, borrowed.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The chain hash of a frame: SM3 of its bytes with the CRC field (bytes
    /// 4..8) left out.
    pub(crate) fn of_frame(frame: &[u8]) -> ChainHash {
        let mut hasher = Sm3::new();
        hasher.update(frame.get(..4).unwrap_or(&[]));
        hasher.update(frame.get(8..).unwrap_or(&[]));
        ChainHash(hasher.finalize().into())
    }
}

/// Lowercase hex, as `sm3sum` prints.
impl fmt::Display for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

/// Writes `bytes` as lowercase hex.
pub(crate) fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    bytes.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
}

impl fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainHash({self})")
    }
}

/// A chained frame whose checksum and number have been checked. Kept small:
/// a segment holds tens of thousands.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChainedFrame {
    pub(crate) offset: usize,
    pub(crate) len: usize,
    pub(crate) seq: u64,
}

impl ChainedFrame {
    fn bytes<'a>(&self, segment: &'a [u8]) -> &'a [u8] {
        segment
            .get(self.offset..self.offset.saturating_add(self.len))
            .unwrap_or(&[])
    }

    /// The chain hash the frame says comes before it.
    fn chain(&self, segment: &[u8]) -> Option<ChainHash> {
        let field = self.bytes(segment).get(20..52)?;
        Some(ChainHash(field.try_into().ok()?))
    }
}

/// The first frame (by index) where the chain or a signature fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChainFailure {
    pub(crate) index: usize,
    pub(crate) problem: CorruptionKind,
}

/// What checking part of a segment's frames found.
#[derive(Debug, Clone, Copy)]
struct Part {
    /// The first failure: frame index, then 0 for a broken link, which comes
    /// before a bad signature (1) on the same frame.
    failure: Option<(usize, u8, CorruptionKind)>,
    /// The chain hash after the part's last frame, if it passed.
    last: Option<ChainHash>,
}

/// Below this many bytes a segment's chain is checked on the calling thread:
/// starting threads would cost more than they save.
const PARALLEL_FROM: usize = 1 << 20;

/// Checks that each frame in `bytes` commits the chain hash of the one before
/// (the first, `start`), and with `keys` each checkpoint's signature (given
/// with the index of its frame, in order); returns the chain hash after the
/// last frame.
///
/// A broken link is laid at the frame before it: its content no longer
/// hashes to what the next frame committed. Only a first frame that does
/// not commit `start` is itself at fault.
///
/// Every frame stores the hash before it, so each frame's hash can be computed
/// on its own: large segments are split between threads, one per core, and
/// the earliest failure wins.
pub(crate) fn check_chain(
    bytes: &[u8],
    start: ChainHash,
    frames: &[ChainedFrame],
    checkpoints: &[(usize, Checkpoint)],
    keys: Option<&[CheckpointVerifyingKey]>,
) -> Result<ChainHash, ChainFailure> {
    if frames.first().is_some_and(|f| f.chain(bytes) != Some(start)) {
        return Err(ChainFailure {
            index: 0,
            problem: CorruptionKind::ChainBroken,
        });
    }
    let covered = frames
        .last()
        .map_or(0, |f| f.offset.saturating_add(f.len))
        .saturating_sub(frames.first().map_or(0, |f| f.offset));
    let threads = thread::available_parallelism().map_or(1, NonZeroUsize::get).min(8);
    let parts = threads.min(covered / PARALLEL_FROM).max(1);
    let per_part = frames.len().div_ceil(parts).max(1);
    let results: Vec<Part> = if parts == 1 {
        vec![check_part(bytes, frames, 0..frames.len(), checkpoints, keys)]
    } else {
        thread::scope(|scope| {
            let workers: Vec<_> = (0..parts)
                .map(|part| {
                    let from = part.saturating_mul(per_part).min(frames.len());
                    let to = from.saturating_add(per_part).min(frames.len());
                    scope.spawn(move || check_part(bytes, frames, from..to, checkpoints, keys))
                })
                .collect();
            workers
                .into_iter()
                .map(|worker| {
                    // A worker only hashes and compares; should it panic all
                    // the same, its part counts as unchecked, never as valid.
                    worker.join().unwrap_or(Part {
                        failure: Some((0, 0, CorruptionKind::ChainBroken)),
                        last: None,
                    })
                })
                .collect()
        })
    };
    if let Some((index, _, problem)) = results
        .iter()
        .filter_map(|part| part.failure)
        .min_by_key(|(index, order, _)| (*index, *order))
    {
        return Err(ChainFailure { index, problem });
    }
    Ok(results.iter().rev().find_map(|part| part.last).unwrap_or(start))
}

/// Checks frames `part`: the signatures of the checkpoints among them, and
/// that each next frame commits its hash.
fn check_part(
    bytes: &[u8],
    frames: &[ChainedFrame],
    part: Range<usize>,
    checkpoints: &[(usize, Checkpoint)],
    keys: Option<&[CheckpointVerifyingKey]>,
) -> Part {
    if let Some(keys) = keys {
        let first = checkpoints.partition_point(|(index, _)| *index < part.start);
        let mine = checkpoints
            .get(first..)
            .unwrap_or(&[])
            .iter()
            .take_while(|(index, _)| *index < part.end);
        for (index, checkpoint) in mine {
            if let Err(problem) = checkpoint.check(keys) {
                // Reported only if no broken link comes first.
                return check_links(bytes, frames, part.start..*index).or(Part {
                    failure: Some((*index, 1, CorruptionKind::BadCheckpoint(problem))),
                    last: None,
                });
            }
        }
    }
    check_links(bytes, frames, part)
}

/// Hashes frames `part`, checking that each next frame commits the hash.
fn check_links(bytes: &[u8], frames: &[ChainedFrame], part: Range<usize>) -> Part {
    let mut last = None;
    for index in part {
        let Some(frame) = frames.get(index) else { break };
        let hash = ChainHash::of_frame(frame.bytes(bytes));
        let next = index.saturating_add(1);
        if frames.get(next).is_some_and(|f| f.chain(bytes) != Some(hash)) {
            return Part {
                failure: Some((index, 0, CorruptionKind::ChainBroken)),
                last: None,
            };
        }
        last = Some(hash);
    }
    Part { failure: None, last }
}

impl Part {
    /// This part if it failed, else `other`.
    fn or(self, other: Part) -> Part {
        if self.failure.is_some() { self } else { other }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GB/T 32905-2016 appendix A, as listed in the shared vectors.
    #[test]
    fn sm3_matches_the_standard_vectors() {
        let hash = |message: &[u8]| ChainHash(Sm3::digest(message).into()).to_string();
        assert_eq!(
            hash(b"abc"),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
        assert_eq!(
            hash(&b"abcd".repeat(16)),
            "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
        );
    }

    #[test]
    fn a_frame_hash_leaves_out_the_crc_and_covers_everything_else() {
        let frame: Vec<u8> = (0u8..80).collect();
        let mut other_crc = frame.clone();
        other_crc[5] ^= 0xff;
        assert_eq!(ChainHash::of_frame(&frame), ChainHash::of_frame(&other_crc));
        let mut expected = frame[..4].to_vec();
        expected.extend_from_slice(&frame[8..]);
        assert_eq!(ChainHash::of_frame(&frame).0, <[u8; 32]>::from(Sm3::digest(&expected)));
        for byte in (0..4).chain(8..80) {
            let mut changed = frame.clone();
            changed[byte] ^= 1;
            assert_ne!(
                ChainHash::of_frame(&frame),
                ChainHash::of_frame(&changed),
                "byte {byte}"
            );
        }
    }
}
