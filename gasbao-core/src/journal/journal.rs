//! The journal: append, make durable, recover, read, drop what is acknowledged.

use std::collections::VecDeque;
use std::io;
use std::ops::Range;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use crate::journal::error::{AppendError, OpenError, ReadError};
use crate::journal::format::{HEADER_LEN, MAX_PAYLOAD, SegmentHeader, encode_record, segment_name};
use crate::journal::scan::{SegmentName, list_segments, read_segment, scan_segment};
use crate::journal::storage::{Storage, StorageFile};

/// When an append returns, relative to the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Durability {
    /// Appends return at once; records are written in large batches and made
    /// durable only by [`Journal::sync`].
    Buffered,
    /// Each append (or batch) is written and synced before it returns: one
    /// `fdatasync` per commit.
    SyncEachCommit,
    /// Each append returns once its record is durable, and appenders waiting
    /// at the same time share one `fdatasync`.
    #[default]
    GroupCommit,
}

/// How a journal is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct JournalOptions {
    /// When appends return.
    pub durability: Durability,
    /// A new segment starts once the current one would exceed this many bytes.
    pub segment_size: u64,
    /// In [`Durability::Buffered`] mode, appended records are written to the
    /// storage once this many bytes wait.
    pub buffer_size: usize,
    /// Segment files grow by this many bytes of zeros at a time, ahead of the
    /// records, so that most syncs need not commit a new file size.
    pub allocation_chunk: u64,
}

impl Default for JournalOptions {
    fn default() -> JournalOptions {
        JournalOptions {
            durability: Durability::GroupCommit,
            segment_size: 64 << 20,
            buffer_size: 1 << 20,
            allocation_chunk: 1 << 20,
        }
    }
}

impl JournalOptions {
    /// These options with `durability`.
    #[must_use]
    pub fn durability(mut self, durability: Durability) -> JournalOptions {
        self.durability = durability;
        self
    }

    /// These options, allocating segment space `bytes` at a time.
    #[must_use]
    pub fn allocation_chunk(mut self, bytes: u64) -> JournalOptions {
        self.allocation_chunk = bytes;
        self
    }

    /// These options with segments of about `bytes` bytes.
    #[must_use]
    pub fn segment_size(mut self, bytes: u64) -> JournalOptions {
        self.segment_size = bytes;
        self
    }
}

/// What opening a journal found and repaired.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecoveryReport {
    /// Segment files found.
    pub segments: usize,
    /// Sequence number of the oldest record kept.
    pub first_seq: u64,
    /// Sequence number the next append gets.
    pub next_seq: u64,
    /// A record torn by a crash and cut off, if there was one.
    pub torn_tail: Option<TornTail>,
}

/// A record at the end of the journal that a crash cut short; it was never
/// acknowledged as durable, and opening removed it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TornTail {
    /// The segment file.
    pub segment: String,
    /// Where the torn record started.
    pub offset: u64,
    /// How many bytes were cut off, up to the last non-zero one (zeros after
    /// it are space allocated ahead, not data).
    pub bytes: u64,
}

/// One record read back.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Record {
    /// Its sequence number.
    pub seq: u64,
    /// Its payload.
    pub payload: Vec<u8>,
}

/// A crash-safe, append-only log of records numbered from 0, in segment files.
///
/// Every record acknowledged as durable (an append that returned in
/// [`Durability::SyncEachCommit`] or [`Durability::GroupCommit`] mode, or any
/// record before a [`sync`](Self::sync) that returned) survives any crash.
/// `Journal` is `Send + Sync`: share it between appending threads.
///
/// # Examples
///
/// ```
/// use gasbao_core::journal::{Journal, JournalOptions, MemoryStorage};
///
/// let storage = MemoryStorage::new();
/// let (journal, _) = Journal::open(storage.clone(), JournalOptions::default())?;
/// let seq = journal.append(b"meter 17 read 350.125 m3")?;
/// journal.append_batch([&b"bill 9 issued"[..], b"bill 9 paid"])?;
/// drop(journal);
///
/// let (journal, report) = Journal::open(storage, JournalOptions::default())?;
/// assert_eq!(report.next_seq, 3);
/// let first = journal.read_from(seq)?.next().unwrap()?;
/// assert_eq!(first.payload, b"meter 17 read 350.125 m3");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Journal {
    storage: Arc<dyn Storage>,
    options: JournalOptions,
    writer: Mutex<Writer>,
    sync: Mutex<SyncState>,
    synced: Condvar,
    /// Group-commit appenders between the start of `append` and its return.
    appending: std::sync::atomic::AtomicU64,
}

struct Writer {
    /// The segment being appended to.
    file: Arc<dyn StorageFile>,
    /// Where the next record goes in `file`.
    write_offset: u64,
    /// The file's size: zeros between `write_offset` and here.
    allocated: u64,
    segments: Vec<SegmentName>,
    /// Sequence number the next append gets.
    next_seq: u64,
    /// Encoded records not yet handed to the storage.
    pending: Vec<u8>,
    /// Sequence number of the first record in `pending`: everything before it
    /// has been written to the storage.
    written_next: u64,
    failed: Option<Arc<io::Error>>,
}

struct SyncState {
    /// Every record before this one is durable.
    durable_next: u64,
    /// An appender is flushing and syncing for everyone.
    syncing: bool,
    failed: Option<Arc<io::Error>>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("options", &self.options)
            .field("next_seq", &self.next_seq())
            .field("durable_next", &self.durable_next())
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // State is only changed by whole assignments under the lock, so a panic
    // elsewhere cannot leave it half-written.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Journal {
    /// Opens the journal in `storage`, creating it if empty, and recovers it:
    /// a record torn by a crash at the very end is cut off and reported.
    ///
    /// # Errors
    ///
    /// [`OpenError::Corrupt`] naming segment, offset and record for any damage
    /// a crash cannot explain; [`OpenError::Io`] if the storage fails.
    pub fn open(storage: impl Storage, options: JournalOptions) -> Result<(Journal, RecoveryReport), OpenError> {
        let storage: Arc<dyn Storage> = Arc::new(storage);
        let io_error = |operation, file: &str| {
            let file = file.to_owned();
            move |source| OpenError::Io {
                operation,
                file,
                source,
            }
        };
        let segments = list_segments(&*storage).map_err(io_error("listing", ""))?;
        let mut torn_tail = None;
        let mut next_seq = None;
        let mut last_file = None;
        let mut write_offset = HEADER_LEN as u64;
        let count = segments.len();
        let mut kept = Vec::with_capacity(count);
        for (index, segment) in segments.into_iter().enumerate() {
            let last = index.saturating_add(1) == count;
            let file = storage
                .open(&segment.name, false)
                .map_err(io_error("opening", &segment.name))?;
            let bytes = read_segment(&*file).map_err(io_error("reading", &segment.name))?;
            let scanned = scan_segment(&segment, &bytes, next_seq, last, |_, _| {})?;
            if let Some((offset, torn_bytes)) = scanned.torn {
                torn_tail = Some(TornTail {
                    segment: segment.name.clone(),
                    offset,
                    bytes: torn_bytes,
                });
                if offset < HEADER_LEN as u64 {
                    // A crash while the segment was being created: it holds no record.
                    drop(file);
                    storage
                        .remove(&segment.name)
                        .map_err(io_error("removing", &segment.name))?;
                    storage.sync_directory().map_err(io_error("syncing", ""))?;
                    next_seq = Some(scanned.next_seq);
                    continue;
                }
                file.truncate(offset)
                    .map_err(io_error("cutting the torn tail of", &segment.name))?;
            }
            next_seq = Some(scanned.next_seq);
            write_offset = scanned.data_end;
            last_file = Some(file);
            kept.push(segment);
        }
        let mut segments = kept;
        let next_seq = next_seq.unwrap_or(0);
        let file = match last_file {
            Some(file) => file,
            None => {
                let segment = create_segment(&*storage, next_seq, options.allocation_chunk.min(options.segment_size))
                    .map_err(io_error("creating", &segment_name(next_seq)))?;
                let file = storage
                    .open(&segment.name, false)
                    .map_err(io_error("opening", &segment.name))?;
                segments.push(segment);
                write_offset = HEADER_LEN as u64;
                file
            }
        };
        // At least one segment exists here: found, or created just above.
        let first_seq = segments.first().map_or(next_seq, |s| s.first_seq);
        // What recovery read may still sit in a cache the crash did not empty.
        file.sync().map_err(io_error("syncing", ""))?;
        let report = RecoveryReport {
            segments: segments.len(),
            first_seq,
            next_seq,
            torn_tail,
        };
        let file: Arc<dyn StorageFile> = Arc::from(file);
        let journal = Journal {
            writer: Mutex::new(Writer {
                allocated: file.size().map_err(io_error("sizing", ""))?,
                write_offset,
                file,
                segments,
                next_seq,
                pending: Vec::new(),
                written_next: next_seq,
                failed: None,
            }),
            sync: Mutex::new(SyncState {
                durable_next: next_seq,
                syncing: false,
                failed: None,
            }),
            synced: Condvar::new(),
            appending: std::sync::atomic::AtomicU64::new(0),
            storage,
            options,
        };
        Ok((journal, report))
    }

    /// Appends one record; returns its sequence number once the journal's
    /// [`Durability`] says so.
    ///
    /// # Errors
    ///
    /// [`AppendError::TooLarge`] for a payload over 64 MiB;
    /// [`AppendError::Failed`] if the storage failed, now or before.
    pub fn append(&self, payload: &[u8]) -> Result<u64, AppendError> {
        self.append_batch([payload]).map(|range| range.start)
    }

    /// Appends records atomically as to order (no other append interleaves);
    /// returns their sequence numbers once the journal's [`Durability`] says so.
    ///
    /// # Errors
    ///
    /// As [`append`](Self::append); a batch with one payload too large appends nothing.
    pub fn append_batch<'a>(&self, payloads: impl IntoIterator<Item = &'a [u8]>) -> Result<Range<u64>, AppendError> {
        if self.options.durability == Durability::GroupCommit {
            // Counted before queueing, so that a gathering leader waits for us.
            self.appending.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let range = match self.enqueue(payloads) {
            Ok(range) => range,
            Err(e) => {
                if self.options.durability == Durability::GroupCommit {
                    self.appending.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                }
                return Err(e);
            }
        };
        match self.options.durability {
            Durability::Buffered => {}
            Durability::SyncEachCommit => {
                let mut writer = lock(&self.writer);
                self.flush(&mut writer)?;
                let file = Arc::clone(&writer.file);
                let through = writer.written_next;
                sync_file(&mut writer, &*file)?;
                self.mark_durable(through);
            }
            Durability::GroupCommit => {
                let result = self.wait_durable(range.end);
                self.appending.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                result?;
            }
        }
        Ok(range)
    }

    /// Makes every record appended so far durable; returns the sequence number
    /// after the last durable record.
    ///
    /// # Errors
    ///
    /// [`AppendError::Failed`] if the storage failed, now or before.
    pub fn sync(&self) -> Result<u64, AppendError> {
        let through = self.next_seq();
        self.wait_durable(through)?;
        Ok(through)
    }

    /// Sequence number the next append gets.
    #[must_use]
    pub fn next_seq(&self) -> u64 {
        lock(&self.writer).next_seq
    }

    /// Every record before this sequence number is durable.
    #[must_use]
    pub fn durable_next(&self) -> u64 {
        lock(&self.sync).durable_next
    }

    /// Sequence number of the oldest record still kept.
    #[must_use]
    pub fn first_seq(&self) -> u64 {
        lock(&self.writer).segments.first().map_or(0, |s| s.first_seq)
    }

    /// Reads records from `seq` onward, up to those appended when called.
    ///
    /// # Errors
    ///
    /// [`ReadError::Flush`] if records waiting in memory could not be written
    /// out to be read. Damage found while reading comes from the iterator.
    pub fn read_from(&self, seq: u64) -> Result<JournalReader, ReadError> {
        let mut writer = lock(&self.writer);
        self.flush(&mut writer)?;
        Ok(JournalReader {
            storage: Arc::clone(&self.storage),
            segments: writer.segments.clone().into(),
            from: seq,
            end: writer.written_next,
            records: VecDeque::new(),
        })
    }

    /// Drops whole segments holding only records before `seq` (records its
    /// consumers have acknowledged); returns how many segments were removed.
    /// The segment being written is always kept.
    ///
    /// # Errors
    ///
    /// [`AppendError::Failed`] if the storage fails.
    pub fn remove_before(&self, seq: u64) -> Result<usize, AppendError> {
        let mut writer = lock(&self.writer);
        let removable = writer
            .segments
            .windows(2)
            .take_while(|pair| pair[1].first_seq <= seq)
            .count();
        for segment in writer.segments.drain(..removable).collect::<Vec<_>>() {
            self.storage.remove(&segment.name).map_err(|e| fail(&mut writer, e))?;
        }
        if removable > 0 {
            self.storage.sync_directory().map_err(|e| fail(&mut writer, e))?;
        }
        Ok(removable)
    }

    fn enqueue<'a>(&self, payloads: impl IntoIterator<Item = &'a [u8]>) -> Result<Range<u64>, AppendError> {
        let mut writer = lock(&self.writer);
        if let Some(source) = &writer.failed {
            return Err(AppendError::Failed {
                source: Arc::clone(source),
            });
        }
        let first = writer.next_seq;
        let rollback = writer.pending.len();
        for payload in payloads {
            if payload.len() > MAX_PAYLOAD {
                writer.pending.truncate(rollback);
                writer.next_seq = first;
                return Err(AppendError::TooLarge {
                    len: payload.len(),
                    max: MAX_PAYLOAD,
                });
            }
            let seq = writer.next_seq;
            encode_record(&mut writer.pending, seq, payload);
            writer.next_seq = seq.saturating_add(1);
        }
        let range = first..writer.next_seq;
        if self.options.durability == Durability::Buffered && writer.pending.len() >= self.options.buffer_size {
            self.flush(&mut writer)?;
        }
        Ok(range)
    }

    /// Hands pending records to the storage, starting a new segment first if
    /// the current one is full.
    fn flush(&self, writer: &mut Writer) -> Result<(), AppendError> {
        if let Some(source) = &writer.failed {
            return Err(AppendError::Failed {
                source: Arc::clone(source),
            });
        }
        if writer.pending.is_empty() {
            return Ok(());
        }
        let batch = writer.pending.len() as u64;
        let grown = writer.write_offset.saturating_add(batch);
        if writer.write_offset > HEADER_LEN as u64 && grown > self.options.segment_size {
            // The old segment must be durable before the next one exists.
            let old = Arc::clone(&writer.file);
            sync_file(writer, &*old)?;
            let segment = create_segment(&*self.storage, writer.written_next, self.first_allocation())
                .map_err(|e| fail(writer, e))?;
            let file: Arc<dyn StorageFile> =
                Arc::from(self.storage.open(&segment.name, false).map_err(|e| fail(writer, e))?);
            writer.allocated = file.size().map_err(|e| fail(writer, e))?;
            writer.file = file;
            writer.write_offset = HEADER_LEN as u64;
            writer.segments.push(segment);
        }
        let needed = writer.write_offset.saturating_add(batch);
        if needed > writer.allocated {
            // Allocate ahead, so that most syncs do not change the file's size.
            let ahead = writer.allocated.saturating_add(self.options.allocation_chunk);
            let target = needed.max(ahead.min(self.options.segment_size));
            writer.file.allocate(target).map_err(|e| fail(writer, e))?;
            writer.allocated = target;
        }
        let pending = std::mem::take(&mut writer.pending);
        writer
            .file
            .write_at(writer.write_offset, &pending)
            .map_err(|e| fail(writer, e))?;
        writer.write_offset = needed;
        writer.written_next = writer.next_seq;
        // Keep the allocation for the next batch.
        writer.pending = pending;
        writer.pending.clear();
        Ok(())
    }

    /// Returns once every record before `through` is durable, flushing and
    /// syncing for every waiting appender when no one else is.
    fn wait_durable(&self, through: u64) -> Result<(), AppendError> {
        let mut state = lock(&self.sync);
        loop {
            if state.durable_next >= through {
                return Ok(());
            }
            if let Some(source) = &state.failed {
                return Err(AppendError::Failed {
                    source: Arc::clone(source),
                });
            }
            if state.syncing {
                state = self.synced.wait(state).unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            state.syncing = true;
            drop(state);
            self.gather_batch();
            let result = self.flush_and_sync();
            state = lock(&self.sync);
            state.syncing = false;
            match result {
                Ok(durable) => state.durable_next = state.durable_next.max(durable),
                Err(AppendError::Failed { source }) => state.failed = Some(source),
                Err(other) => return Err(other),
            }
            self.synced.notify_all();
        }
    }

    /// Before a group sync, gives every appender that is inside `append` a
    /// moment to queue its record, so that one sync carries them all (as
    /// PostgreSQL's `commit_delay` does). Bounded by a short deadline.
    fn gather_batch(&self) {
        const WINDOW: std::time::Duration = std::time::Duration::from_micros(100);
        let deadline = std::time::Instant::now().checked_add(WINDOW);
        loop {
            let queued = {
                let writer = lock(&self.writer);
                writer.next_seq.saturating_sub(writer.written_next)
            };
            let appending = self.appending.load(std::sync::atomic::Ordering::Relaxed);
            if queued >= appending || deadline.is_none_or(|d| std::time::Instant::now() >= d) {
                return;
            }
            std::thread::yield_now();
        }
    }

    /// Flushes under the writer lock, then syncs without it, so that other
    /// appenders can queue the next batch meanwhile. Returns the new durable point.
    fn flush_and_sync(&self) -> Result<u64, AppendError> {
        let (file, through) = {
            let mut writer = lock(&self.writer);
            self.flush(&mut writer)?;
            (Arc::clone(&writer.file), writer.written_next)
        };
        if let Err(e) = file.sync() {
            return Err(fail(&mut lock(&self.writer), e));
        }
        Ok(through)
    }

    /// Space a new segment starts with: one chunk, never more than a segment.
    fn first_allocation(&self) -> u64 {
        self.options.allocation_chunk.min(self.options.segment_size)
    }

    fn mark_durable(&self, through: u64) {
        let mut state = lock(&self.sync);
        state.durable_next = state.durable_next.max(through);
        self.synced.notify_all();
    }
}

/// Records read back from a [`Journal`], oldest first.
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

impl Iterator for JournalReader {
    type Item = Result<Record, ReadError>;

    fn next(&mut self) -> Option<Result<Record, ReadError>> {
        loop {
            if let Some(record) = self.records.pop_front() {
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

impl JournalReader {
    fn load(&mut self, segment: &SegmentName) -> Result<(), ReadError> {
        let io_error = |source| ReadError::Io {
            file: segment.name.clone(),
            source,
        };
        let file = self.storage.open(&segment.name, false).map_err(io_error)?;
        let bytes = read_segment(&*file).map_err(io_error)?;
        let (from, end) = (self.from, self.end);
        let records = &mut self.records;
        // The segment being appended to may end in a record still being written.
        let last = self.segments.is_empty();
        scan_segment(segment, &bytes, None, last, |seq, payload| {
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

fn create_segment(storage: &dyn Storage, first_seq: u64, allocation: u64) -> io::Result<SegmentName> {
    let name = segment_name(first_seq);
    let file = storage.open(&name, true)?;
    file.truncate(0)?;
    let header = SegmentHeader {
        segment_id: first_seq,
        first_seq,
    };
    file.write_at(0, &header.encode())?;
    file.allocate(allocation)?;
    file.sync()?;
    storage.sync_directory()?;
    Ok(SegmentName { name, first_seq })
}

fn sync_file(writer: &mut Writer, file: &dyn StorageFile) -> Result<(), AppendError> {
    file.sync().map_err(|e| fail(writer, e))
}

/// Records a storage failure: the journal refuses appends from now on.
fn fail(writer: &mut Writer, error: io::Error) -> AppendError {
    let source = Arc::new(error);
    writer.failed = Some(Arc::clone(&source));
    AppendError::Failed { source }
}
