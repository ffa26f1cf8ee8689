//! Reading records back, oldest first, segment by segment.

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;

use crate::journal::error::ReadError;
use crate::journal::journal::Record;
use crate::journal::scan::{ScanContext, SegmentName, read_segment, scan_segment};
use crate::journal::storage::Storage;

/// Records read back from a [`Journal`](crate::journal::Journal) or a
/// [`ReadOnlyJournal`](crate::journal::ReadOnlyJournal), oldest first.
///
/// A segment is read whole when the reader reaches it, so a segment it has
/// started is always finished; one that retention removed before the reader
/// reached it ends the iteration with [`ReadError::RemovedWhileReading`].
pub struct JournalReader {
    storage: Arc<dyn Storage>,
    segments: VecDeque<SegmentName>,
    from: u64,
    end: u64,
    records: VecDeque<Record>,
}

impl std::fmt::Debug for JournalReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JournalReader")
            .field("from", &self.from)
            .field("end", &self.end)
            .finish_non_exhaustive()
    }
}

impl JournalReader {
    /// A reader of records `from..end` in `segments`.
    pub(crate) fn new(
        storage: Arc<dyn Storage>,
        segments: Vec<SegmentName>,
        from: u64,
        end: u64,
    ) -> Result<JournalReader, ReadError> {
        if let Some(first) = segments.first()
            && from < first.first_seq
        {
            return Err(ReadError::Removed {
                requested: from,
                first_seq: first.first_seq,
            });
        }
        Ok(JournalReader {
            storage,
            segments: segments.into(),
            from,
            end,
            records: VecDeque::new(),
        })
    }

    fn load(&mut self, segment: &SegmentName) -> Result<(), ReadError> {
        let io_error = |source| ReadError::Io {
            file: segment.name.clone(),
            source,
        };
        let file = match self.storage.open(&segment.name, false) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(ReadError::RemovedWhileReading {
                    seq: self.from.max(segment.first_seq),
                    segment: segment.name.clone(),
                });
            }
            Err(e) => return Err(io_error(e)),
        };
        let bytes = read_segment(&*file).map_err(io_error)?;
        let (from, end) = (self.from, self.end);
        let records = &mut self.records;
        // The segment being appended to may end in a record still being written.
        let context = ScanContext {
            previous: None,
            last: self.segments.is_empty(),
            keys: None,
        };
        scan_segment(segment, &bytes, context, |seq, payload| {
            if (from..end).contains(&seq) {
                records.push_back(Record {
                    seq,
                    payload: payload.to_vec(),
                });
            }
        })?;
        Ok(())
    }
}

impl Iterator for JournalReader {
    type Item = Result<Record, ReadError>;

    fn next(&mut self) -> Option<Result<Record, ReadError>> {
        loop {
            if let Some(record) = self.records.pop_front() {
                self.from = record.seq.saturating_add(1);
                return Some(Ok(record));
            }
            let segment = self.segments.pop_front()?;
            if self.segments.front().is_some_and(|next| next.first_seq <= self.from) {
                continue;
            }
            if let Err(e) = self.load(&segment) {
                self.segments.clear();
                return Some(Err(e));
            }
        }
    }
}
