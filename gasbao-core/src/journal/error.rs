//! How the journal refuses to open, append or read, and where it found damage.

use std::io;
use std::sync::Arc;

use thiserror::Error;

use crate::journal::checkpoint::KeyId;

/// Damage found in a journal: which segment, where in it, and what.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("the journal is damaged in segment {segment} at offset {offset}{}: {problem}", seq.map(|s| format!(" (record {s})")).unwrap_or_default())]
#[non_exhaustive]
pub struct Corruption {
    /// The segment file's name.
    pub segment: String,
    /// Byte offset of the damaged header or record in the segment.
    pub offset: u64,
    /// The sequence number of the damaged record: the one its frame holds
    /// or, where the frame cannot be trusted, the one it should hold. For a
    /// damaged segment header, the segment's first record. A checkpoint's
    /// number is the count of records before it.
    pub seq: Option<u64>,
    /// What is wrong.
    pub problem: CorruptionKind,
}

/// What is wrong at a [`Corruption`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CorruptionKind {
    /// The segment header is missing, has the wrong magic or a bad checksum.
    #[error("the segment header is damaged")]
    BadHeader,
    /// The segment was written by a format version this code does not read.
    #[error("format version {0} is not supported")]
    UnsupportedVersion(u32),
    /// The segment header has flags this code does not know.
    #[error("unknown segment flags {0:#x}")]
    UnsupportedFlags(u32),
    /// The segment's name and header disagree, or it does not start where the
    /// previous segment ended.
    #[error("the segment should start at record {expected}")]
    SegmentOutOfPlace {
        /// The record the segment should start with.
        expected: u64,
    },
    /// A record's checksum does not match its contents.
    #[error("the record's checksum does not match")]
    ChecksumMismatch,
    /// A record runs past the end of a segment that is not the last.
    #[error("the record is cut short")]
    Truncated,
    /// A record has an impossible length.
    #[error("the record's length {0} exceeds the limit")]
    TooLong(u64),
    /// Records are out of sequence.
    #[error("expected record {expected}")]
    SequenceGap {
        /// The sequence number that should be here.
        expected: u64,
    },
    /// A record of a kind this code does not know, or a checkpoint in a
    /// journal without a hash chain.
    #[error("unknown record kind {0}")]
    UnknownKind(u32),
    /// A record does not commit the chain hash of the record before it (or a
    /// segment does not start with the hash its predecessor ends with): a
    /// record was changed, removed or inserted.
    #[error("the hash chain is broken")]
    ChainBroken,
    /// A checkpoint's signature does not verify.
    #[error("checkpoint: {0}")]
    BadCheckpoint(SignatureError),
    /// More records follow a checkpoint without another than its signed
    /// interval allows: checkpoints were removed.
    #[error("more than {interval} records without a checkpoint: checkpoints were removed")]
    MissingCheckpoint {
        /// The checkpoint interval the journal was written with.
        interval: u64,
    },
}

/// What protects a journal's records, from weakest to strongest; the kind of
/// an [`Integrity`](crate::journal::Integrity).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum IntegrityKind {
    /// CRC32C checksums only.
    Checksums,
    /// The SM3 hash chain.
    HashChain,
    /// The hash chain sealed by signed checkpoints.
    Signed,
}

impl std::fmt::Display for IntegrityKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            IntegrityKind::Checksums => "checksums only",
            IntegrityKind::HashChain => "a hash chain",
            IntegrityKind::Signed => "signed checkpoints",
        })
    }
}

/// Why a checkpoint signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// `r` or `s` is 0 or not below the curve order: not the canonical encoding.
    #[error("the signature is not canonical (r or s outside [1, n-1])")]
    NonCanonical,
    /// The signature does not match the message and key.
    #[error("the signature does not verify")]
    Mismatch,
    /// The checkpoint was signed by a key that is not among the trusted ones.
    #[error("signed by key {0}, which is not trusted")]
    UntrustedKey(KeyId),
    /// A checkpoint record's payload has the wrong length.
    #[error("the checkpoint record is malformed")]
    Malformed,
    /// Signing failed.
    #[error("signing failed")]
    Signing,
}

/// A key that could not be read, written or made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The secret scalar is 0 or not below the curve order.
    #[error("the secret key is not a valid SM2 scalar")]
    InvalidSecret,
    /// The bytes are not an SM2 public key.
    #[error("the public key is not a point on the SM2 curve")]
    InvalidPublicKey,
    /// The DER or PEM is not a PKCS#8 private key or an SPKI public key on
    /// the SM2 curve, or could not be encoded.
    #[error("not an SM2 key in PKCS#8 (private) or SPKI (public) form")]
    Encoding,
    /// The operating system's random number generator failed.
    #[error("the system's random number generator failed (OS error {os_error:?})")]
    Randomness {
        /// The OS error code, if there was one.
        os_error: Option<i32>,
    },
}

/// A journal that could not be opened.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The storage failed.
    #[error(transparent)]
    Io(#[from] StorageError),
    /// Damage before the tail: never skipped, never repaired silently.
    #[error(transparent)]
    Corrupt(#[from] Corruption),
    /// The options ask for weaker protection than the journal was written
    /// with, or for a hash chain in a journal without one (or the reverse).
    /// [`ReadOnlyJournal`](crate::journal::ReadOnlyJournal) reads it without
    /// checking signatures, if that is what is wanted.
    #[error("the journal was written with {journal}; it cannot be opened for writing with {requested}")]
    IntegrityMismatch {
        /// What the journal on disk was written with.
        journal: IntegrityKind,
        /// What the options ask for.
        requested: IntegrityKind,
    },
    /// Opening a signed journal appends a checkpoint over its unsealed
    /// records, and that failed.
    #[error("could not seal the journal's newest records on opening")]
    Sealing(#[source] AppendError),
    /// Another journal, in this process or another, has the storage open for
    /// writing: it holds the writer lock.
    #[error("the journal is in use: another writer holds its lock")]
    InUse {
        /// The storage's error, which may name the lock file.
        #[source]
        source: io::Error,
    },
}

/// A journal whose damaged copy could not be salvaged.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SalvageError {
    /// Reading the damaged journal or writing the copy failed.
    #[error(transparent)]
    Io(#[from] StorageError),
    /// The target already holds journal segments; salvage never overwrites.
    #[error("the target already holds journal segment {file}")]
    TargetNotEmpty {
        /// A segment found in the target.
        file: String,
    },
}

/// The storage failed while opening, verifying or salvaging a journal.
#[derive(Debug, Error)]
#[error("I/O error while {operation} {file}")]
#[non_exhaustive]
pub struct StorageError {
    /// What the journal was doing.
    pub operation: &'static str,
    /// The file involved (empty for the directory).
    pub file: String,
    /// The storage's error.
    #[source]
    pub source: io::Error,
}

impl StorageError {
    /// Builds the error for `operation` on `file` from an I/O error.
    pub(crate) fn during(operation: &'static str, file: &str) -> impl FnOnce(io::Error) -> StorageError + use<> {
        let file = file.to_owned();
        move |source| StorageError {
            operation,
            file,
            source,
        }
    }
}

/// An append, or a wait for durability, that failed.
#[derive(Debug, Clone, Error)]
#[non_exhaustive]
pub enum AppendError {
    /// The payload is larger than a record may be.
    #[error("a {len}-byte record exceeds the {max}-byte limit")]
    TooLarge {
        /// The payload's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A checkpoint was asked of a journal without a signing key.
    #[error("the journal has no checkpoint signing key")]
    NotSigned,
    /// A checkpoint could not be signed; nothing was appended.
    #[error("could not sign a checkpoint")]
    Signing(#[source] SignatureError),
    /// Writing or syncing failed. The journal refuses further appends, since it
    /// can no longer tell what reached the disk; reopen it to recover.
    #[error("the journal's storage failed; reopen the journal")]
    Failed {
        /// The storage's error, shared by every caller it failed.
        #[source]
        source: Arc<io::Error>,
    },
}

/// A read that failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The storage failed.
    #[error("I/O error reading {file}")]
    Io {
        /// The file involved.
        file: String,
        /// The storage's error.
        #[source]
        source: io::Error,
    },
    /// The journal is damaged where it was read.
    #[error(transparent)]
    Corrupt(#[from] Corruption),
    /// Flushing appended records before reading them failed.
    #[error("could not flush appended records before reading")]
    Flush(#[from] AppendError),
    /// The records asked for were removed by retention
    /// ([`Journal::remove_before`](crate::journal::Journal::remove_before)).
    #[error("record {requested} was removed by retention; the oldest kept is {first_seq}")]
    Removed {
        /// The first record asked for.
        requested: u64,
        /// The oldest record still kept.
        first_seq: u64,
    },
    /// Retention removed a segment this reader had not reached yet.
    #[error("segment {segment}, which holds record {seq}, was removed by retention while being read")]
    RemovedWhileReading {
        /// The next record the reader would have returned.
        seq: u64,
        /// The segment file removed.
        segment: String,
    },
}
