//! Where replaying a compacted journal starts: its newest complete snapshot.

use gasbao_core::journal::Journal;

use crate::error::LogError;

/// The tags that open and close a snapshot, after the format byte.
pub(crate) struct SnapshotTags {
    pub(crate) format: u8,
    pub(crate) start: u8,
    pub(crate) end: u8,
}

/// The sequence number of the newest snapshot whose end was written, or 0
/// if there is none and no record was ever removed.
///
/// A snapshot cut off by a crash is ignored: the records before it are kept
/// until a later snapshot is complete and durable.
pub(crate) fn replay_start(journal: &Journal, tags: &SnapshotTags) -> Result<u64, LogError> {
    let first_seq = journal.first_seq();
    let mut newest = None;
    let mut open = None;
    for record in journal.read_from(first_seq)? {
        let record = record?;
        match record.payload.get(..2) {
            Some(&[format, tag]) if format == tags.format && tag == tags.start => open = Some(record.seq),
            Some(&[format, tag]) if format == tags.format && tag == tags.end => newest = open.take(),
            _ => {}
        }
    }
    match newest {
        Some(seq) => Ok(seq),
        None if first_seq == 0 => Ok(0),
        None => Err(LogError::MissingSnapshot { first_seq }),
    }
}
