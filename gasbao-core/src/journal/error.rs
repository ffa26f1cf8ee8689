//! How the journal refuses to open, append or read, and where it found damage.

use std::io;
use std::sync::Arc;

use thiserror::Error;

/// Damage found in a journal: which segment, where in it, and what.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("segment {segment}, offset {offset}{}: {problem}", seq.map(|s| format!(", record {s}")).unwrap_or_default())]
#[non_exhaustive]
pub struct Corruption {
    /// The segment file's name.
    pub segment: String,
    /// Byte offset of the damaged header or record in the segment.
    pub offset: u64,
    /// The sequence number of the damaged record, when it is known.
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
    /// A record of a kind this code does not know.
    #[error("unknown record kind {0}")]
    UnknownKind(u32),
}

/// A journal that could not be opened.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The storage failed.
    #[error("I/O error while {operation} {file}")]
    Io {
        /// What the journal was doing.
        operation: &'static str,
        /// The file involved (empty for the directory).
        file: String,
        /// The storage's error.
        #[source]
        source: io::Error,
    },
    /// Damage before the tail: never skipped, never repaired silently.
    #[error("the journal is damaged")]
    Corrupt(#[from] Corruption),
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
    #[error("the journal is damaged")]
    Corrupt(#[from] Corruption),
    /// Flushing appended records before reading them failed.
    #[error("could not flush appended records before reading")]
    Flush(#[from] AppendError),
}
