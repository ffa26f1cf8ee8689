//! A journal opened to be read, not written: no lock taken, nothing repaired.

use std::sync::Arc;

use crate::journal::checkpoint::CheckpointVerifyingKey;
use crate::journal::error::{OpenError, ReadError};
use crate::journal::reader::JournalReader;
use crate::journal::scan::{SegmentName, scan_journal};
use crate::journal::storage::Storage;
use crate::journal::verify::{VerifyReport, report};

/// A journal opened for reading only, beside its writer or after it.
///
/// Opening checks the journal as [`verify`](crate::journal::verify) does and
/// changes nothing: it takes no writer lock, cuts no torn tail, writes no
/// checkpoint. With no keys it reads a signed journal without checking its
/// signatures, an explicit choice the report records
/// ([`VerifyReport::signatures_checked`]). It reads the records that were in
/// the journal when it was opened.
///
/// # Examples
///
/// ```
/// use gasbao_core::journal::{Journal, JournalOptions, MemoryStorage, ReadOnlyJournal};
///
/// let storage = MemoryStorage::new();
/// let (journal, _) = Journal::open(storage.clone(), JournalOptions::default())?;
/// journal.append(b"meter 17 read 350.125 m3")?;
///
/// // The writer still holds the journal; an inspector reads beside it.
/// let (view, report) = ReadOnlyJournal::open(storage, &[])?;
/// assert_eq!(report.next_seq, 1);
/// let first = view.read_from(0)?.next().unwrap()?;
/// assert_eq!(first.payload, b"meter 17 read 350.125 m3");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ReadOnlyJournal {
    storage: Arc<dyn Storage>,
    segments: Vec<SegmentName>,
    next_seq: u64,
}

impl std::fmt::Debug for ReadOnlyJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadOnlyJournal")
            .field("first_seq", &self.first_seq())
            .field("next_seq", &self.next_seq)
            .finish_non_exhaustive()
    }
}

impl ReadOnlyJournal {
    /// Opens the journal in `storage` for reading, checking every record and,
    /// given `keys`, every checkpoint.
    ///
    /// # Errors
    ///
    /// As [`verify`](crate::journal::verify): [`OpenError::Corrupt`] for the
    /// first damage, [`OpenError::Io`] if the storage fails.
    pub fn open(
        storage: impl Storage,
        keys: &[CheckpointVerifyingKey],
    ) -> Result<(ReadOnlyJournal, VerifyReport), OpenError> {
        let storage: Arc<dyn Storage> = Arc::new(storage);
        let scan = scan_journal(&*storage, (!keys.is_empty()).then_some(keys))?;
        if let Some(damage) = scan.damage.clone() {
            return Err(OpenError::Corrupt(damage));
        }
        let report = report(&scan, !keys.is_empty());
        let journal = ReadOnlyJournal {
            storage,
            segments: scan.segments.into_iter().map(|s| s.segment).collect(),
            next_seq: report.next_seq,
        };
        Ok((journal, report))
    }

    /// Reads records from `seq` onward, up to those there when it was opened.
    ///
    /// # Errors
    ///
    /// [`ReadError::Removed`] if `seq` is before the oldest record kept.
    pub fn read_from(&self, seq: u64) -> Result<JournalReader, ReadError> {
        JournalReader::new(Arc::clone(&self.storage), self.segments.clone(), seq, self.next_seq)
    }

    /// Sequence number of the oldest record kept.
    #[must_use]
    pub fn first_seq(&self) -> u64 {
        self.segments.first().map_or(self.next_seq, |s| s.first_seq)
    }

    /// Sequence number after the last whole record.
    #[must_use]
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }
}
