//! The SM3 hash chain: each record commits the hash of everything before it.

use std::fmt;

use sm3::{Digest, Sm3};

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
