//! The journal: append, make durable, recover, read, drop what is acknowledged.

use std::collections::VecDeque;
use std::io;
use std::num::NonZeroU64;
use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::journal::chain::ChainHash;
use crate::journal::checkpoint::{CHECKPOINT_PAYLOAD_LEN, Checkpoint, CheckpointSigningKey};
use crate::journal::durable::DurablePoint;
use crate::journal::error::{AppendError, OpenError, ReadError, StorageError};
use crate::journal::format::{
    KIND_CHECKPOINT, KIND_DATA, Layout, MAX_PAYLOAD, SegmentHeader, encode_record, segment_name,
};
use crate::journal::gather::Gathering;
use crate::journal::scan::{
    ScanContext, ScannedSegment, SegmentEnd, SegmentName, read_segment, scan_journal, scan_segment,
};
use crate::journal::storage::{Storage, StorageFile};

/// When an append returns, relative to the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Durability {
    /// Appends return at once; records are written in large batches and made
    /// durable by [`Journal::sync`], and when their segment is full: a full
    /// segment is synced before the next one starts, so that damage in any
    /// segment but the last is always corruption, never a torn tail.
    Buffered,
    /// Each append (or batch) is written and synced before it returns: one
    /// `fdatasync` per commit.
    SyncEachCommit,
    /// Each append returns once its record is durable, and appenders waiting
    /// at the same time share one `fdatasync`.
    #[default]
    GroupCommit,
}

/// What protects a journal's records beyond their checksums.
///
/// Chosen when a journal is created; opening it again with a different choice
/// of chain is refused ([`OpenError::ChainMismatch`]).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum Integrity {
    /// CRC32C per record (format version 1): catches torn writes and bit rot.
    #[default]
    Checksums,
    /// An SM3 hash chain (format version 2): each record commits the chain
    /// hash of all before it, so any change, removal or insertion shows.
    HashChain,
    /// The hash chain, sealed by SM2-signed checkpoints: one after every
    /// `every` records, and on [`Journal::checkpoint`]. Opening checks every
    /// checkpoint against this key's public half.
    Signed {
        /// The key that signs checkpoints.
        key: Arc<CheckpointSigningKey>,
        /// Records between automatic checkpoints.
        every: NonZeroU64,
    },
}

impl Integrity {
    fn layout(&self) -> Layout {
        match self {
            Integrity::Checksums => Layout::Plain,
            Integrity::HashChain | Integrity::Signed { .. } => Layout::Chained,
        }
    }

    fn signing(&self) -> Option<(&CheckpointSigningKey, NonZeroU64)> {
        match self {
            Integrity::Signed { key, every } => Some((key, *every)),
            Integrity::Checksums | Integrity::HashChain => None,
        }
    }
}

/// How a journal is run.
#[derive(Debug, Clone)]
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
    /// Hash chain and signed checkpoints, or checksums only.
    pub integrity: Integrity,
    /// In [`Durability::GroupCommit`] mode, the longest the appender about
    /// to sync waits for the others inside `append` to queue their records,
    /// so that one sync carries them all (PostgreSQL's `commit_delay`). The
    /// wait ends as soon as the last of them queues. Default 100 us; a disk
    /// whose sync takes milliseconds can afford more.
    pub group_commit_window: Duration,
}

impl Default for JournalOptions {
    fn default() -> JournalOptions {
        JournalOptions {
            durability: Durability::GroupCommit,
            segment_size: 64 << 20,
            buffer_size: 1 << 20,
            allocation_chunk: 1 << 20,
            integrity: Integrity::Checksums,
            group_commit_window: Duration::from_micros(100),
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

    /// These options with `integrity`.
    #[must_use]
    pub fn integrity(mut self, integrity: Integrity) -> JournalOptions {
        self.integrity = integrity;
        self
    }

    /// These options, waiting at most `window` to gather appenders before a
    /// group sync; see [`group_commit_window`](Self::group_commit_window).
    #[must_use]
    pub fn group_commit_window(mut self, window: Duration) -> JournalOptions {
        self.group_commit_window = window;
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
    /// In a chained journal, the chain hash after the last record.
    pub chain_head: Option<ChainHash>,
    /// Checkpoints found (their signatures checked if the journal is
    /// [`Integrity::Signed`]), and the newest.
    pub checkpoints: u64,
    /// The newest checkpoint.
    pub last_checkpoint: Option<Checkpoint>,
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
    durable: DurablePoint,
    /// Group-commit appenders, and a leader waiting for them to queue.
    gathering: Gathering,
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
    /// In a chained journal, the chain hash after the last record encoded...
    chain: Option<ChainHash>,
    /// ... and after the last record written to the storage.
    written_chain: Option<ChainHash>,
    /// How many records the newest checkpoint seals.
    sealed_through: u64,
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
            let during = StorageError::during(operation, file);
            move |source| OpenError::Io(during(source))
        };
        let verifying = options.integrity.signing().map(|(key, _)| key.verifying_key());
        let scan = scan_journal(&*storage, verifying)?;
        if let Some(damage) = scan.damage.clone() {
            return Err(OpenError::Corrupt(damage));
        }
        let layout = options.integrity.layout();
        if let Some(found) = scan.segments.iter().find_map(|s| s.scanned.layout)
            && found != layout
        {
            return Err(OpenError::ChainMismatch {
                journal_chained: found == Layout::Chained,
            });
        }
        let (checkpoints, last_checkpoint) = scan.checkpoints();
        let mut segments: Vec<SegmentName> = Vec::with_capacity(scan.segments.len());
        let mut torn_tail = None;
        let mut end = None;
        let mut write_offset = 0;
        for ScannedSegment { segment, scanned } in scan.segments {
            end = Some(scanned.end);
            if let Some((offset, bytes)) = scanned.torn {
                torn_tail = Some(TornTail {
                    segment: segment.name.clone(),
                    offset,
                    bytes,
                });
                if scanned.layout.is_none() {
                    // A crash while the segment was being created: it holds no record.
                    storage
                        .remove(&segment.name)
                        .map_err(io_error("removing", &segment.name))?;
                    storage.sync_directory().map_err(io_error("syncing", ""))?;
                    continue;
                }
                let file = storage
                    .open(&segment.name, false)
                    .map_err(io_error("opening", &segment.name))?;
                file.truncate(offset)
                    .map_err(io_error("cutting the torn tail of", &segment.name))?;
            }
            write_offset = scanned.data_end;
            segments.push(segment);
        }
        let end = end.unwrap_or(SegmentEnd {
            next_seq: 0,
            chain: None,
        });
        let next_seq = end.next_seq;
        let chain = match layout {
            Layout::Plain => None,
            Layout::Chained => Some(end.chain.unwrap_or(ChainHash::GENESIS)),
        };
        if segments.is_empty() {
            let segment = create_segment(
                &*storage,
                next_seq,
                chain,
                options.allocation_chunk.min(options.segment_size),
            )
            .map_err(io_error("creating", &segment_name(next_seq)))?;
            write_offset = layout.header_len() as u64;
            segments.push(segment);
        }
        // At least one segment exists here: found, or created just above.
        let first_seq = segments.first().map_or(next_seq, |s| s.first_seq);
        let last_name = segments.last().map(|s| s.name.clone()).unwrap_or_default();
        let file: Arc<dyn StorageFile> = Arc::from(
            storage
                .open(&last_name, false)
                .map_err(io_error("opening", &last_name))?,
        );
        // What recovery read may still sit in a cache the crash did not empty.
        file.sync().map_err(io_error("syncing", &last_name))?;
        let report = RecoveryReport {
            segments: segments.len(),
            first_seq,
            next_seq,
            torn_tail,
            chain_head: chain,
            checkpoints,
            last_checkpoint,
        };
        let journal = Journal {
            writer: Mutex::new(Writer {
                allocated: file.size().map_err(io_error("sizing", &last_name))?,
                write_offset,
                file,
                segments,
                next_seq,
                pending: Vec::new(),
                written_next: next_seq,
                chain,
                written_chain: chain,
                sealed_through: last_checkpoint.map_or(first_seq, |c| c.records),
                failed: None,
            }),
            durable: DurablePoint::new(next_seq),
            gathering: Gathering::default(),
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
        let appending = (self.options.durability == Durability::GroupCommit)
            .then(|| self.gathering.enter(|| self.queued_records()));
        let range = self.enqueue(payloads)?;
        if let Some(appending) = &appending {
            appending.queued();
        }
        self.commit(range.end)?;
        Ok(range)
    }

    /// Signs the chain head now, appending a checkpoint that seals every
    /// record so far; returns it once the journal's [`Durability`] says so.
    ///
    /// # Errors
    ///
    /// [`AppendError::NotSigned`] unless the journal is [`Integrity::Signed`];
    /// [`AppendError::Failed`] if the storage failed, now or before.
    pub fn checkpoint(&self) -> Result<Checkpoint, AppendError> {
        let (key, _) = self.options.integrity.signing().ok_or(AppendError::NotSigned)?;
        let checkpoint = {
            let mut writer = lock(&self.writer);
            refuse_if_failed(&writer)?;
            append_checkpoint(&mut writer, key)?
        };
        if self.options.durability != Durability::Buffered {
            // Durability is counted in records, and a checkpoint is not one:
            // sync it here rather than wait for a record count it does not move.
            let through = self.flush_and_sync()?;
            self.mark_durable(through);
        }
        Ok(checkpoint)
    }

    /// Waits as the journal's [`Durability`] says for what was just enqueued:
    /// records before `through`, and whatever was enqueued with them.
    fn commit(&self, through: u64) -> Result<(), AppendError> {
        match self.options.durability {
            Durability::Buffered => Ok(()),
            Durability::SyncEachCommit => {
                let mut writer = lock(&self.writer);
                self.flush(&mut writer)?;
                let file = Arc::clone(&writer.file);
                let through = writer.written_next;
                sync_file(&mut writer, &*file)?;
                self.mark_durable(through);
                Ok(())
            }
            Durability::GroupCommit => {
                // A checkpoint enqueued after the records goes out in the same
                // flush: a group sync writes everything pending.
                self.wait_durable(through)
            }
        }
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
        self.durable.get()
    }

    /// In a chained journal, the chain hash after the last record appended.
    #[must_use]
    pub fn chain_head(&self) -> Option<ChainHash> {
        lock(&self.writer).chain
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
        refuse_if_failed(&writer)?;
        let first = writer.next_seq;
        let rollback = (writer.pending.len(), writer.chain);
        let undo = |writer: &mut Writer| {
            writer.pending.truncate(rollback.0);
            writer.chain = rollback.1;
            writer.next_seq = first;
        };
        for payload in payloads {
            if payload.len() > MAX_PAYLOAD {
                undo(&mut writer);
                return Err(AppendError::TooLarge {
                    len: payload.len(),
                    max: MAX_PAYLOAD,
                });
            }
            let seq = writer.next_seq;
            let Writer { pending, chain, .. } = &mut *writer;
            encode_record(pending, seq, KIND_DATA, chain.as_mut(), payload);
            writer.next_seq = seq.saturating_add(1);
        }
        let range = first..writer.next_seq;
        if let Some((key, every)) = self.options.integrity.signing()
            && writer.next_seq.saturating_sub(writer.sealed_through) >= every.get()
            && let Err(e) = append_checkpoint(&mut writer, key)
        {
            undo(&mut writer);
            return Err(e);
        }
        if self.options.durability == Durability::Buffered && writer.pending.len() >= self.options.buffer_size {
            self.flush(&mut writer)?;
        }
        Ok(range)
    }

    /// Hands pending records to the storage, starting a new segment first if
    /// the current one is full.
    fn flush(&self, writer: &mut Writer) -> Result<(), AppendError> {
        refuse_if_failed(writer)?;
        if writer.pending.is_empty() {
            return Ok(());
        }
        let batch = writer.pending.len() as u64;
        let grown = writer.write_offset.saturating_add(batch);
        let header_len = self.options.integrity.layout().header_len() as u64;
        // Segments are named by their first record's number, so a segment
        // holding no record yet (only checkpoints, which take no number) is
        // never left: the next would have the same name.
        let holds_records = writer
            .segments
            .last()
            .is_some_and(|s| writer.written_next > s.first_seq);
        if holds_records && grown > self.options.segment_size {
            // The old segment must be durable before the next one exists.
            let old = Arc::clone(&writer.file);
            sync_file(writer, &*old)?;
            let segment = create_segment(
                &*self.storage,
                writer.written_next,
                writer.written_chain,
                self.first_allocation(),
            )
            .map_err(|e| fail(writer, e))?;
            let file: Arc<dyn StorageFile> =
                Arc::from(self.storage.open(&segment.name, false).map_err(|e| fail(writer, e))?);
            writer.allocated = file.size().map_err(|e| fail(writer, e))?;
            writer.file = file;
            writer.write_offset = header_len;
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
        writer.written_chain = writer.chain;
        // Keep the allocation for the next batch.
        writer.pending = pending;
        writer.pending.clear();
        Ok(())
    }

    /// Returns once every record before `through` is durable, flushing and
    /// syncing for every waiting appender when no one else is.
    fn wait_durable(&self, through: u64) -> Result<(), AppendError> {
        self.durable.wait(through, || {
            self.gathering
                .gather(self.options.group_commit_window, || self.queued_records());
            self.flush_and_sync()
        })
    }

    /// Records queued and not yet handed to the storage.
    fn queued_records(&self) -> u64 {
        let writer = lock(&self.writer);
        writer.next_seq.saturating_sub(writer.written_next)
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
        self.durable.advance(through);
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
        let context = ScanContext {
            previous: None,
            last,
            key: None,
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

fn create_segment(
    storage: &dyn Storage,
    first_seq: u64,
    chain: Option<ChainHash>,
    allocation: u64,
) -> io::Result<SegmentName> {
    let name = segment_name(first_seq);
    let file = storage.open(&name, true)?;
    file.truncate(0)?;
    let header = SegmentHeader {
        segment_id: first_seq,
        first_seq,
        chain,
    };
    file.write_at(0, &header.encode())?;
    file.allocate(allocation)?;
    file.sync()?;
    storage.sync_directory()?;
    Ok(SegmentName { name, first_seq })
}

/// Encodes a checkpoint sealing every record encoded so far.
fn append_checkpoint(writer: &mut Writer, key: &CheckpointSigningKey) -> Result<Checkpoint, AppendError> {
    // Only signed journals checkpoint, and they are chained.
    let head = writer.chain.unwrap_or(ChainHash::GENESIS);
    let records = writer.next_seq;
    let signature = key.sign(records, &head).map_err(AppendError::Signing)?;
    let checkpoint = Checkpoint {
        records,
        head,
        key_id: key.verifying_key().key_id(),
        signature,
    };
    let payload: [u8; CHECKPOINT_PAYLOAD_LEN] = checkpoint.encode_payload();
    let Writer { pending, chain, .. } = writer;
    encode_record(pending, records, KIND_CHECKPOINT, chain.as_mut(), &payload);
    writer.sealed_through = records;
    Ok(checkpoint)
}

/// The error a failed journal answers every append with.
fn refuse_if_failed(writer: &Writer) -> Result<(), AppendError> {
    match &writer.failed {
        Some(source) => Err(AppendError::Failed {
            source: Arc::clone(source),
        }),
        None => Ok(()),
    }
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
