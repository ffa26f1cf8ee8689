//! The journal's on-disk format (documentation only).
//!
//! Everything is little-endian. A journal is a directory of segment files
//! named `{first_seq:020}.gbj`, after the sequence number of their first
//! record, plus the writer's lock file `journal.lock` (empty; only its lock
//! matters). Segment files are written in one of three format versions:
//!
//! | version | written by | records carry |
//! |---|---|---|
//! | 1 | [`Integrity::Checksums`](super::Integrity::Checksums) | CRC32C |
//! | 2 | earlier releases, for chained journals | CRC32C and the SM3 chain |
//! | 3 | [`Integrity::HashChain`](super::Integrity::HashChain) and [`Integrity::Signed`](super::Integrity::Signed) | CRC32C and the SM3 chain; the header names the checkpoint interval |
//!
//! # Segment header
//!
//! 40 bytes in version 1, 72 in version 2, 80 in version 3.
//!
//! | bytes | field |
//! |---|---|
//! | 0..8 | magic `b"GASBAOJ\n"` |
//! | 8..12 | format version: `1`, `2` or `3` |
//! | 12..16 | flags (reserved, `0`) |
//! | 16..24 | segment id (equal to the first sequence number) |
//! | 24..32 | sequence number of the segment's first record |
//! | 32..36 | CRC32C of bytes 0..32, then (versions 2 and 3) of bytes 40 to the end of the header |
//! | 36..40 | reserved, `0` |
//! | 40..72 | versions 2 and 3: the chain hash before the segment's first record |
//! | 72..80 | version 3: records between automatic checkpoints, `0` if the segment is not signed |
//!
//! # Record frame
//!
//! Each record is a frame header, 20 bytes in version 1 and 52 in versions 2
//! and 3, then its payload (at most 64 MiB):
//!
//! | bytes | field |
//! |---|---|
//! | 0..4 | payload length |
//! | 4..8 | CRC32C of bytes 0..4, then 8 to the end of the frame header, then the payload |
//! | 8..16 | sequence number (a checkpoint: the number of data records before it) |
//! | 16..20 | record kind: `0` data, `1` checkpoint (chained segments only) |
//! | 20..52 | versions 2 and 3: the chain hash before this record |
//! | then | payload |
//!
//! Records follow each other with no gap. A segment's records end at the end
//! of the file or where only zero bytes follow (space allocated ahead of
//! writing).
//!
//! # Hash chain
//!
//! A frame's chain hash is the SM3 of the whole frame except bytes 4..8 (the
//! CRC, which the hash makes redundant). The first record of a journal
//! commits 32 zero bytes ([`ChainHash::GENESIS`](super::ChainHash::GENESIS));
//! every later frame, checkpoints included, commits the chain hash of the
//! frame before it, across segment boundaries, and every segment header
//! repeats the hash its first frame commits.
//!
//! # Checkpoint
//!
//! A checkpoint frame (kind `1`) has a 96-byte payload: the signing key's id
//! ([`KeyId`](super::KeyId): SM3 of its uncompressed SEC1 public key, 32
//! bytes), then the SM2 signature `r || s` (64 bytes, big-endian, canonical)
//! over [`checkpoint_message`](super::checkpoint_message) of the number of
//! records before it, the chain hash after the last of them (the hash its own
//! frame commits) and, in version 3, its segment header's interval. Signing
//! uses the SM2 user ID [`CHECKPOINT_USER_ID`](super::CHECKPOINT_USER_ID).
//!
//! A signed journal's writer appends a checkpoint as soon as `interval`
//! records follow the last one, so a verifier holding the keys refuses a run
//! of more (the interval being signed, a forger cannot raise it).
//!
//! # Compatibility
//!
//! Every release reads every earlier format version, and a journal written
//! in an earlier version can be opened and appended to (new segments are
//! written in the current version). A file of a newer version than the code
//! knows is refused with
//! [`CorruptionKind::UnsupportedVersion`](super::CorruptionKind::UnsupportedVersion),
//! never misread. The layouts above change only with a new version number.
