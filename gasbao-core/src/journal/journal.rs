//! The journal: append, make durable, recover, read, drop what is acknowledged.

use std::io;
use std::num::NonZeroU64;
use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::journal::chain::ChainHash;
use crate::journal::checkpoint::{
    CHECKPOINT_PAYLOAD_LEN, Checkpoint, CheckpointSigner, CheckpointVerifyingKey, checkpoint_message,
};
use crate::journal::durable::DurablePoint;
use crate::journal::error::{AppendError, IntegrityKind, OpenError, ReadError, SignatureError, StorageError};
use crate::journal::format::{
    Frame, KIND_CHECKPOINT, KIND_DATA, Layout, MAX_PAYLOAD, SegmentHeader, encode_record, segment_name,
};
use crate::journal::gather::Gathering;
use crate::journal::reader::JournalReader;
use crate::journal::scan::{ScannedSegment, SegmentEnd, SegmentName, scan_journal};
use crate::journal::storage::{Storage, StorageFile, WriterLock};

/// When an append returns, relative to the disk.
///
/// | mode | an append returns | survives a process crash | survives power loss |
/// |---|---|---|---|
/// | [`Buffered`](Self::Buffered) | at once | records handed to the storage: by [`Journal::flush`], [`Journal::sync`], a full buffer, or dropping the journal | records before the last [`Journal::sync`] that returned, and every full segment |
/// | [`SyncEachCommit`](Self::SyncEachCommit) | after its own `fdatasync` | every acknowledged record | every acknowledged record |
/// | [`GroupCommit`](Self::GroupCommit) | after an `fdatasync` it shares | every acknowledged record | every acknowledged record |
///
/// In every mode, dropping a [`Journal`] hands whatever it still buffers to
/// the storage (best effort: an error there cannot be reported), and
/// [`Journal::sync`] makes everything appended so far, checkpoints included,
/// durable.
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
/// Chosen when a journal is created. Opening it again for writing with
/// weaker protection, or with a hash chain it lacks, is refused
/// ([`OpenError::IntegrityMismatch`]); a hash-chained journal may be opened
/// [`Signed`](Self::Signed) to start sealing it.
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
    /// `every` records (within a batch too), and on [`Journal::checkpoint`].
    /// Opening checks every checkpoint against this key's public half and
    /// the [trusted keys](JournalOptions::trust) of earlier ones, and that
    /// no more than `every` records ever follow a checkpoint without another.
    Signed {
        /// Signs new checkpoints: a [`CheckpointSigningKey`](crate::journal::CheckpointSigningKey)
        /// or any other [`CheckpointSigner`].
        key: Arc<dyn CheckpointSigner>,
        /// Records between automatic checkpoints.
        every: NonZeroU64,
    },
}

impl Integrity {
    /// Which protection this is, without its key.
    #[must_use]
    pub fn kind(&self) -> IntegrityKind {
        match self {
            Integrity::Checksums => IntegrityKind::Checksums,
            Integrity::HashChain => IntegrityKind::HashChain,
            Integrity::Signed { .. } => IntegrityKind::Signed,
        }
    }

    fn layout(&self) -> Layout {
        match self {
            Integrity::Checksums => Layout::Plain,
            Integrity::HashChain | Integrity::Signed { .. } => Layout::Chained,
        }
    }

    fn signing(&self) -> Option<(&dyn CheckpointSigner, NonZeroU64)> {
        match self {
            Integrity::Signed { key, every } => Some((&**key, *every)),
            Integrity::Checksums | Integrity::HashChain => None,
        }
    }

    /// The checkpoint interval new segments record: `0` where unsigned.
    fn checkpoint_every(&self) -> u64 {
        self.signing().map_or(0, |(_, every)| every.get())
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
    /// Public keys of earlier signing keys whose checkpoints are still
    /// accepted, for key rotation; the current key's own is always trusted.
    pub trusted_keys: Vec<CheckpointVerifyingKey>,
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
            trusted_keys: Vec::new(),
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

    /// These options, also accepting checkpoints signed by `key`: a key the
    /// journal was signed with before the current one.
    ///
    /// # Examples
    ///
    /// Rotating the signing key: the new key signs from now on, the old
    /// one's checkpoints still verify, and [`verify`](crate::journal::verify)
    /// says which key sealed which records.
    ///
    /// ```
    /// use std::num::NonZeroU64;
    /// use std::sync::Arc;
    ///
    /// use gasbao_core::journal::{verify, CheckpointSigningKey, Integrity, Journal, JournalOptions, MemoryStorage};
    ///
    /// let every = NonZeroU64::new(100).unwrap();
    /// let (old, new) = (CheckpointSigningKey::generate()?, CheckpointSigningKey::generate()?);
    /// let storage = MemoryStorage::new();
    /// let signed_by = |key: &CheckpointSigningKey| {
    ///     JournalOptions::default().integrity(Integrity::Signed { key: Arc::new(key.clone()), every })
    /// };
    ///
    /// let (journal, _) = Journal::open(storage.clone(), signed_by(&old))?;
    /// journal.append(b"valve 3 closed")?;
    /// journal.checkpoint()?;
    /// drop(journal);
    ///
    /// let rotated = signed_by(&new).trust(old.verifying_key().clone());
    /// let (journal, _) = Journal::open(storage.clone(), rotated)?;
    /// journal.append(b"valve 3 opened")?;
    /// journal.checkpoint()?;
    /// drop(journal);
    ///
    /// let keys = [old.verifying_key().clone(), new.verifying_key().clone()];
    /// let report = verify(&storage, &keys)?;
    /// let by_key: Vec<_> = report.sealed.iter().map(|s| (s.records.clone(), s.key_id)).collect();
    /// assert_eq!(by_key, [(0..1, old.verifying_key().key_id()), (1..2, new.verifying_key().key_id())]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn trust(mut self, key: CheckpointVerifyingKey) -> JournalOptions {
        self.trusted_keys.push(key);
        self
    }

    /// The keys whose checkpoints this journal accepts: the signer's and the
    /// trusted ones. Empty unless the journal is signed.
    fn accepted_keys(&self) -> Vec<CheckpointVerifyingKey> {
        match self.integrity.signing() {
            Some((signer, _)) => std::iter::once(signer.verifying_key())
                .chain(self.trusted_keys.iter().cloned())
                .collect(),
            None => Vec::new(),
        }
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
    /// The newest checkpoint; opening a signed journal whose newest records
    /// are unsealed, or that was signed with another interval, seals them
    /// with a new one first.
    pub last_checkpoint: Option<Checkpoint>,
}

/// A damaged record at the end of the journal, cut off with everything after
/// it when the journal was opened for writing.
///
/// Usually a write that a crash cut short, and so never acknowledged. But
/// a checksum cannot tell that from an acknowledged record whose last bytes
/// the disk later damaged: both are cut the same way. Where that matters,
/// seal records with [`Integrity::Signed`] and anchor the chain head
/// ([`Journal::anchor`]) outside the journal's directory.
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
/// record before a [`sync`](Self::sync) that returned) survives any crash;
/// [`Durability`] says what each mode guarantees at drop, flush and sync.
/// `Journal` is `Send + Sync`: share it between appending threads.
///
/// A storage has one writer at a time: opening takes its writer lock
/// ([`Storage::lock_writer`]) and holds it until the journal is dropped, so
/// a second [`open`](Self::open) of the same directory, in this process or
/// another, fails with [`OpenError::InUse`]. [`ReadOnlyJournal`](crate::journal::ReadOnlyJournal)
/// reads without the lock.
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
    /// The signer's public key: each new signature is checked against it.
    signer_key: Option<CheckpointVerifyingKey>,
    /// Released last, after the drop has flushed.
    _lock: WriterLock,
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
    /// Opens the journal in `storage` for writing, creating it if empty, and
    /// recovers it: a record torn by a crash at the very end is cut off and
    /// reported. A signed journal whose newest records are unsealed gets a
    /// checkpoint first.
    ///
    /// # Errors
    ///
    /// [`OpenError::InUse`] if another journal holds the storage's writer
    /// lock; [`OpenError::Corrupt`] naming segment, offset and record for
    /// any damage a crash cannot explain (with a signed journal: a bad or
    /// untrusted signature, or missing checkpoints);
    /// [`OpenError::IntegrityMismatch`] if the options are weaker than what
    /// the journal was written with; [`OpenError::Sealing`] if the new
    /// checkpoint could not be made; [`OpenError::Io`] if the storage fails.
    pub fn open(storage: impl Storage, options: JournalOptions) -> Result<(Journal, RecoveryReport), OpenError> {
        let storage: Arc<dyn Storage> = Arc::new(storage);
        let io_error = |operation, file: &str| {
            let during = StorageError::during(operation, file);
            move |source| OpenError::Io(during(source))
        };
        let writer_lock = storage.lock_writer().map_err(|source| {
            if source.kind() == io::ErrorKind::WouldBlock {
                OpenError::InUse { source }
            } else {
                io_error("locking", "")(source)
            }
        })?;
        let accepted = options.accepted_keys();
        let signed = options.integrity.signing().is_some();
        let scan = scan_journal(&*storage, signed.then_some(accepted.as_slice()))?;
        if let Some(damage) = scan.damage.clone() {
            return Err(OpenError::Corrupt(damage));
        }
        let layout = options.integrity.layout();
        let requested = options.integrity.kind();
        if let Some(journal) = scan.integrity()
            && (requested < journal || (journal == IntegrityKind::Checksums) != (requested == IntegrityKind::Checksums))
        {
            return Err(OpenError::IntegrityMismatch { journal, requested });
        }
        let (mut checkpoints, mut last_checkpoint) = scan.checkpoints();
        let Recovered {
            mut segments,
            torn_tail,
            end,
            mut write_offset,
            last,
        } = recover_segments(&*storage, scan.segments)?;
        let next_seq = end.next_seq;
        let mut chain = match layout {
            Layout::Plain => None,
            Layout::Chained => Some(end.chain.unwrap_or(ChainHash::GENESIS)),
        };
        let every = options.integrity.checkpoint_every();
        let first_allocation = options.allocation_chunk.min(options.segment_size);
        // A signed journal's segments record the interval its checkpoints
        // sign; one written with another starts a segment of its own.
        let new_segment = last
            .as_ref()
            .is_none_or(|last| signed && last.checkpoint_every != Some(every));
        // Records left unsealed: a new interval must not stretch their run.
        let mut unsealed = end.unsealed;
        if new_segment {
            match (last, segments.last()) {
                (Some(last), Some(segment)) if last.holds_records => {
                    // The old segment must be durable before the next one exists.
                    storage
                        .open(&segment.name, false)
                        .and_then(|file| file.sync())
                        .map_err(io_error("syncing", &segment.name))?;
                }
                (Some(last), Some(_)) => {
                    // It holds no record, so it would share the new segment's
                    // name: it is written again, without the checkpoints it
                    // may hold, which the seal below replaces.
                    segments.pop();
                    chain = last.header_chain.or(chain);
                    unsealed = next_seq.saturating_sub(segments.first().map_or(next_seq, |s| s.first_seq));
                }
                _ => {}
            }
            let segment = create_segment(&*storage, next_seq, chain, every, first_allocation)
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
                sealed_through: next_seq.saturating_sub(end.unsealed),
                failed: None,
            }),
            durable: DurablePoint::new(next_seq),
            gathering: Gathering::default(),
            signer_key: accepted.first().cloned(),
            storage,
            options,
            _lock: writer_lock,
        };
        if signed && unsealed > 0 {
            let checkpoint = journal.seal_now().map_err(OpenError::Sealing)?;
            checkpoints = checkpoints.saturating_add(1);
            last_checkpoint = Some(checkpoint);
        }
        let (segments, chain_head) = {
            let writer = lock(&journal.writer);
            (writer.segments.len(), writer.chain)
        };
        let report = RecoveryReport {
            segments,
            first_seq,
            next_seq,
            torn_tail,
            chain_head,
            checkpoints,
            last_checkpoint,
        };
        #[cfg(feature = "tracing")]
        {
            if let Some(torn) = &report.torn_tail {
                tracing::warn!(segment = %torn.segment, offset = torn.offset, bytes = torn.bytes, "journal.open cut a torn tail");
            }
            tracing::info!(segments, first_seq, next_seq, checkpoints, "journal.open recovered");
        }
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
    /// record so far; returns it once the journal's [`Durability`] says so
    /// (in [`Durability::Buffered`] mode, at once: [`sync`](Self::sync)
    /// makes it durable).
    ///
    /// # Errors
    ///
    /// [`AppendError::NotSigned`] unless the journal is [`Integrity::Signed`];
    /// [`AppendError::Signing`] if the signer fails or (where it is checked)
    /// returns a signature its own public key does not accept; [`AppendError::Failed`] if the
    /// storage failed, now or before.
    pub fn checkpoint(&self) -> Result<Checkpoint, AppendError> {
        if self.options.durability == Durability::Buffered {
            let mut writer = lock(&self.writer);
            refuse_if_failed(&writer)?;
            return self.append_checkpoint(&mut writer);
        }
        self.seal_now()
    }

    /// Seals every record so far with a durable checkpoint, and returns it:
    /// the signed chain head to keep outside the journal's directory.
    ///
    /// The chain and checkpoints catch any change to the records they cover,
    /// but not the removal of whole segments at the end of the journal (nor
    /// at its start, which is what retention does). To detect that, store
    /// the anchor somewhere the journal's writer cannot reach (another
    /// machine, a notary, a ledger) and later check
    /// [`VerifyReport::contains`](crate::journal::VerifyReport::contains).
    ///
    /// # Errors
    ///
    /// As [`checkpoint`](Self::checkpoint).
    pub fn anchor(&self) -> Result<Checkpoint, AppendError> {
        self.seal_now()
    }

    /// Appends a checkpoint and makes it durable, whatever the mode.
    fn seal_now(&self) -> Result<Checkpoint, AppendError> {
        let checkpoint = {
            let mut writer = lock(&self.writer);
            refuse_if_failed(&writer)?;
            self.append_checkpoint(&mut writer)?
        };
        // Durability is counted in records, and a checkpoint is not one:
        // sync it here rather than wait for a record count it does not move.
        let through = self.flush_and_sync()?;
        self.mark_durable(through);
        Ok(checkpoint)
    }

    /// Waits as the journal's [`Durability`] says for what was just enqueued:
    /// records before `through`, and whatever was enqueued with them.
    fn commit(&self, through: u64) -> Result<(), AppendError> {
        match self.options.durability {
            Durability::Buffered => Ok(()),
            Durability::SyncEachCommit => {
                let mut writer = lock(&self.writer);
                self.write_pending(&mut writer)?;
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

    /// Makes everything appended so far durable, records and checkpoints;
    /// returns the sequence number after the last durable record.
    ///
    /// # Errors
    ///
    /// [`AppendError::Failed`] if the storage failed, now or before.
    pub fn sync(&self) -> Result<u64, AppendError> {
        let through = self.flush_and_sync()?;
        self.mark_durable(through);
        Ok(through)
    }

    /// Hands every record appended so far to the storage, without waiting
    /// for the disk: in [`Durability::Buffered`] mode they then survive the
    /// process crashing, but not the machine losing power (that takes
    /// [`sync`](Self::sync)).
    ///
    /// # Errors
    ///
    /// [`AppendError::Failed`] if the storage failed, now or before.
    pub fn flush(&self) -> Result<(), AppendError> {
        self.write_pending(&mut lock(&self.writer))
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
    /// To read everything kept, start at [`first_seq`](Self::first_seq).
    ///
    /// # Errors
    ///
    /// [`ReadError::Removed`] if `seq` is before the oldest record kept
    /// (retention removed it); [`ReadError::Flush`] if records waiting in
    /// memory could not be written out to be read. Damage found while
    /// reading comes from the iterator, as does
    /// [`ReadError::RemovedWhileReading`] if retention removes a segment
    /// the reader has not reached.
    pub fn read_from(&self, seq: u64) -> Result<JournalReader, ReadError> {
        let mut writer = lock(&self.writer);
        self.write_pending(&mut writer)?;
        JournalReader::new(
            Arc::clone(&self.storage),
            writer.segments.clone(),
            seq,
            writer.written_next,
        )
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
        let rollback = (writer.pending.len(), writer.chain, writer.sealed_through);
        let undo = |writer: &mut Writer| {
            writer.pending.truncate(rollback.0);
            writer.chain = rollback.1;
            writer.sealed_through = rollback.2;
            writer.next_seq = first;
        };
        let every = self.options.integrity.signing().map(|(_, every)| every.get());
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
            // Within a batch too: no more than `every` records go unsealed.
            if let Some(every) = every
                && writer.next_seq.saturating_sub(writer.sealed_through) >= every
                && let Err(e) = self.append_checkpoint(&mut writer)
            {
                undo(&mut writer);
                return Err(e);
            }
        }
        let range = first..writer.next_seq;
        if self.options.durability == Durability::Buffered && writer.pending.len() >= self.options.buffer_size {
            self.write_pending(&mut writer)?;
        }
        Ok(range)
    }

    /// Encodes a checkpoint sealing every record encoded so far, its
    /// signature checked before it is kept.
    fn append_checkpoint(&self, writer: &mut Writer) -> Result<Checkpoint, AppendError> {
        let (signer, every) = self.options.integrity.signing().ok_or(AppendError::NotSigned)?;
        // Only signed journals checkpoint, and they are chained.
        let head = writer.chain.unwrap_or(ChainHash::GENESIS);
        let records = writer.next_seq;
        let interval = Some(every.get());
        let message = checkpoint_message(records, &head, interval);
        let signature = signer.sign(&message).map_err(AppendError::Signing)?;
        let key = self.signer_key.as_ref().ok_or(AppendError::NotSigned)?;
        if signer.check_each_signature() {
            key.verify(&message, &signature)
                .map_err(|_| AppendError::Signing(SignatureError::Mismatch))?;
        }
        let checkpoint = Checkpoint {
            records,
            head,
            interval,
            key_id: key.key_id(),
            signature,
        };
        let payload: [u8; CHECKPOINT_PAYLOAD_LEN] = checkpoint.encode_payload();
        let Writer { pending, chain, .. } = writer;
        encode_record(pending, records, KIND_CHECKPOINT, chain.as_mut(), &payload);
        writer.sealed_through = records;
        Ok(checkpoint)
    }

    /// Hands pending records to the storage, starting a new segment wherever
    /// the next record would take the current one past `segment_size`.
    fn write_pending(&self, writer: &mut Writer) -> Result<(), AppendError> {
        refuse_if_failed(writer)?;
        if writer.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut writer.pending);
        let written = self.write_frames(writer, &pending);
        // Keep the allocation for the next batch.
        writer.pending = pending;
        writer.pending.clear();
        written?;
        writer.written_next = writer.next_seq;
        writer.written_chain = writer.chain;
        Ok(())
    }

    fn write_frames(&self, writer: &mut Writer, mut frames: &[u8]) -> Result<(), AppendError> {
        let layout = self.options.integrity.layout();
        while !frames.is_empty() {
            let room = self.options.segment_size.saturating_sub(writer.write_offset);
            let mut take = if frames.len() as u64 <= room {
                frames.len()
            } else {
                frames_within(layout, frames, room)
            };
            if take == 0 {
                // Segments are named by their first record's number, so a
                // segment holding no record yet (only checkpoints, which take
                // no number) is never left: the next would have the same name.
                let holds_records = writer
                    .segments
                    .last()
                    .is_some_and(|s| writer.written_next > s.first_seq);
                if holds_records {
                    self.start_segment(writer)?;
                    continue;
                }
                take = frame_len(layout, frames);
            }
            let (chunk, rest) = frames.split_at(take.min(frames.len()));
            let needed = writer.write_offset.saturating_add(chunk.len() as u64);
            if needed > writer.allocated {
                // Allocate ahead, so that most syncs do not change the file's size.
                let ahead = writer.allocated.saturating_add(self.options.allocation_chunk);
                let target = needed.max(ahead.min(self.options.segment_size));
                writer.file.allocate(target).map_err(|e| fail(writer, e))?;
                writer.allocated = target;
            }
            writer
                .file
                .write_at(writer.write_offset, chunk)
                .map_err(|e| fail(writer, e))?;
            writer.write_offset = needed;
            frames = rest;
            if let Some(next) = Frame::decode(layout, frames) {
                // A checkpoint's number is the count of records before it, so
                // either kind of frame says where the written records end.
                writer.written_next = next.seq;
                writer.written_chain = next.chain;
            }
        }
        Ok(())
    }

    /// Syncs the full segment and starts the next at the first unwritten frame.
    fn start_segment(&self, writer: &mut Writer) -> Result<(), AppendError> {
        // The old segment must be durable before the next one exists.
        let old = Arc::clone(&writer.file);
        sync_file(writer, &*old)?;
        let segment = create_segment(
            &*self.storage,
            writer.written_next,
            writer.written_chain,
            self.options.integrity.checkpoint_every(),
            self.first_allocation(),
        )
        .map_err(|e| fail(writer, e))?;
        let file: Arc<dyn StorageFile> =
            Arc::from(self.storage.open(&segment.name, false).map_err(|e| fail(writer, e))?);
        writer.allocated = file.size().map_err(|e| fail(writer, e))?;
        writer.file = file;
        writer.write_offset = self.options.integrity.layout().header_len() as u64;
        writer.segments.push(segment);
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
            self.write_pending(&mut writer)?;
            (Arc::clone(&writer.file), writer.written_next)
        };
        if let Err(e) = file.sync() {
            return Err(fail(&mut lock(&self.writer), e));
        }
        #[cfg(feature = "tracing")]
        tracing::trace!(
            records = through.saturating_sub(self.durable.get()),
            through,
            "journal.sync"
        );
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

impl Drop for Journal {
    /// Hands buffered records to the storage, so that dropping a journal
    /// loses nothing to a process exit; an error here cannot be reported.
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// The segments a journal goes on with, once recovery cut its torn tail.
struct Recovered {
    segments: Vec<SegmentName>,
    torn_tail: Option<TornTail>,
    /// Where the last whole record leaves the journal.
    end: SegmentEnd,
    /// Where writing continues in the last segment.
    write_offset: u64,
    last: Option<LastSegment>,
}

/// What opening needs to know of the last segment kept.
#[derive(Clone, Copy)]
struct LastSegment {
    holds_records: bool,
    checkpoint_every: Option<u64>,
    header_chain: Option<ChainHash>,
}

/// Cuts the torn tail off the last scanned segment (removing the segment if
/// only its header was torn) and says where the journal goes on.
fn recover_segments(storage: &dyn Storage, scanned: Vec<ScannedSegment>) -> Result<Recovered, OpenError> {
    let io_error = |operation, file: &str| {
        let during = StorageError::during(operation, file);
        move |source| OpenError::Io(during(source))
    };
    let mut recovered = Recovered {
        segments: Vec::with_capacity(scanned.len()),
        torn_tail: None,
        end: SegmentEnd {
            next_seq: 0,
            chain: None,
            unsealed: 0,
            seal_limit: None,
        },
        write_offset: 0,
        last: None,
    };
    for ScannedSegment { segment, scanned } in scanned {
        recovered.end = scanned.end;
        if let Some((offset, bytes)) = scanned.torn {
            recovered.torn_tail = Some(TornTail {
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
        recovered.write_offset = scanned.data_end;
        recovered.last = Some(LastSegment {
            holds_records: scanned.holds_records(&segment),
            checkpoint_every: scanned.checkpoint_every,
            header_chain: scanned.header_chain,
        });
        recovered.segments.push(segment);
    }
    Ok(recovered)
}

/// The length of the frame at the start of `frames`.
fn frame_len(layout: Layout, frames: &[u8]) -> usize {
    Frame::decode(layout, frames).map_or(frames.len(), |f| layout.frame_len().saturating_add(f.payload_len))
}

/// How many bytes of whole frames from the start of `frames` fit in `room`.
fn frames_within(layout: Layout, frames: &[u8], room: u64) -> usize {
    let mut taken = 0usize;
    while let Some(rest) = frames.get(taken..).filter(|rest| !rest.is_empty()) {
        let next = taken.saturating_add(frame_len(layout, rest));
        if next as u64 > room {
            break;
        }
        taken = next;
    }
    taken
}

fn create_segment(
    storage: &dyn Storage,
    first_seq: u64,
    chain: Option<ChainHash>,
    checkpoint_every: u64,
    allocation: u64,
) -> io::Result<SegmentName> {
    let name = segment_name(first_seq);
    let file = storage.open(&name, true)?;
    file.truncate(0)?;
    let header = SegmentHeader::new(first_seq, chain, checkpoint_every);
    file.write_at(0, &header.encode())?;
    file.allocate(allocation)?;
    file.sync()?;
    storage.sync_directory()?;
    Ok(SegmentName { name, first_seq })
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
