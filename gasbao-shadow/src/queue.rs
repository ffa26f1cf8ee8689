//! The device's offline write-ahead queue, on a gasbao-core journal.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use gasbao_core::journal::{Durability, Journal, JournalOptions, Storage};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::QueueError;
use crate::hlc::{HybridClock, VersionStamp};

/// The first byte of every record: its format version.
const FORMAT: u8 = 1;
const ENTRY: u8 = 1;
const ACK: u8 = 2;
const MARK: u8 = 3;
const SYNCED: u8 = 4;
const ENTRY_HEADER: usize = 2 + 8 + 8 + 8 + 4 + 32;

/// A queued transaction's globally unique id: the writing device's origin
/// number and that device's counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TxId {
    /// The device (unique per device, from configuration).
    pub origin: u64,
    /// Counts the device's transactions from 1.
    pub counter: u64,
}

impl fmt::Display for TxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:x}-{}", self.origin, self.counter)
    }
}

/// SHA-256 of a payload's canonical JSON (members sorted, no spaces).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PayloadHash(pub [u8; 32]);

impl PayloadHash {
    /// The hash of `payload` in canonical form.
    #[must_use]
    pub fn of(payload: &Value) -> PayloadHash {
        PayloadHash::of_canonical(&canonical(payload))
    }

    pub(crate) fn of_canonical(bytes: &[u8]) -> PayloadHash {
        PayloadHash(Sha256::digest(bytes).into())
    }

    /// Lowercase hex.
    #[must_use]
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn from_hex(hex: &str) -> Option<PayloadHash> {
        let bytes = hex.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0; 32];
        for (byte, pair) in out.iter_mut().zip(bytes.chunks(2)) {
            *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
        }
        Some(PayloadHash(out))
    }
}

impl fmt::Debug for PayloadHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for PayloadHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for PayloadHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<PayloadHash, D::Error> {
        let hex = String::deserialize(deserializer)?;
        PayloadHash::from_hex(&hex).ok_or_else(|| serde::de::Error::custom("a payload hash is 64 hex digits"))
    }
}

/// The canonical JSON of `payload`: members sorted by name, no whitespace.
pub(crate) fn canonical(payload: &Value) -> Vec<u8> {
    // serde_json's maps are sorted (no `preserve_order`), and a `Value`
    // always serializes.
    serde_json::to_vec(payload).unwrap_or_default()
}

/// One queued transaction.
///
/// On the wire (serde) the payload is embedded as JSON; in memory it is
/// kept as its canonical bytes, which are what the hash covers and what a
/// replay parses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueEntry {
    /// Its globally unique id.
    #[serde(rename = "txId")]
    pub tx_id: TxId,
    /// When the device wrote it.
    #[serde(rename = "versionStamp")]
    pub version_stamp: VersionStamp,
    /// SHA-256 of the canonical payload.
    #[serde(rename = "payloadHash")]
    pub payload_hash: PayloadHash,
    /// The payload's canonical JSON: for a shadow, an update request document.
    #[serde(with = "embedded_json")]
    pub payload: Arc<[u8]>,
}

impl QueueEntry {
    /// The payload, parsed.
    ///
    /// # Errors
    ///
    /// The parser's error if the bytes are not JSON (an entry not made by
    /// [`OfflineQueue::push`] or deserialized).
    pub fn payload(&self) -> Result<Value, serde_json::Error> {
        serde_json::from_slice(&self.payload)
    }
}

/// The payload as embedded JSON on the wire, canonical bytes in memory.
mod embedded_json {
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::Value;

    pub(super) fn serialize<S: Serializer>(bytes: &Arc<[u8]>, serializer: S) -> Result<S::Ok, S::Error> {
        let value: Value = serde_json::from_slice(bytes).map_err(serde::ser::Error::custom)?;
        value.serialize(serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Arc<[u8]>, D::Error> {
        Ok(Arc::from(super::canonical(&Value::deserialize(deserializer)?)))
    }
}

/// How an [`OfflineQueue`] is run.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct QueueOptions {
    /// The device's origin number: unique per device, it makes tx ids
    /// globally unique.
    pub origin: u64,
    /// The journal's options. Its durability is always
    /// [`Durability::SyncEachCommit`]: a push returns once it is on disk.
    pub journal: JournalOptions,
}

impl QueueOptions {
    /// Options for the device numbered `origin`.
    #[must_use]
    pub fn new(origin: u64) -> QueueOptions {
        QueueOptions {
            origin,
            journal: JournalOptions::default(),
        }
    }

    /// These options with `journal`.
    #[must_use]
    pub fn journal(mut self, journal: JournalOptions) -> QueueOptions {
        self.journal = journal;
        self
    }
}

/// A device's durable queue of transactions written while offline.
///
/// Each [`push`](Self::push) is on disk when it returns, with a new
/// [`TxId`], a [`VersionStamp`] from the queue's hybrid logical clock, and
/// the payload's [`PayloadHash`]. [`pending`](Self::pending) lists what the
/// cloud has not acknowledged, in stamp order;
/// [`acknowledge`](Self::acknowledge) removes entries, and retention drops
/// journal segments that hold nothing pending.
///
/// # Examples
///
/// ```
/// use gasbao_core::journal::MemoryStorage;
/// use gasbao_shadow::{OfflineQueue, QueueOptions};
/// use serde_json::json;
///
/// let storage = MemoryStorage::new();
/// let mut queue = OfflineQueue::open(storage.clone(), QueueOptions::new(7))?;
/// let reading = queue.push(&json!({"state": {"reported": {"index": 1042.5}}}), 1_700_000_000_000)?;
/// drop(queue);
///
/// let mut queue = OfflineQueue::open(storage, QueueOptions::new(7))?; // after a power cut
/// assert_eq!(queue.pending().next(), Some(&reading));
/// queue.acknowledge(&[reading.tx_id])?;
/// assert!(queue.is_empty());
/// # Ok::<(), gasbao_shadow::QueueError>(())
/// ```
pub struct OfflineQueue {
    journal: Journal,
    origin: u64,
    clock: HybridClock,
    next_counter: u64,
    /// The shadow version the device last synchronised with.
    synced_version: u64,
    /// Pending entries by counter (counter order is stamp order) with the
    /// sequence number of their record.
    pending: BTreeMap<u64, (u64, QueueEntry)>,
}

impl OfflineQueue {
    /// Opens the queue in `storage`, recovering what was pushed and not
    /// acknowledged.
    ///
    /// # Errors
    ///
    /// [`QueueError::Open`] if the journal cannot be opened (another writer,
    /// damage); [`QueueError::Corrupt`] for a record this crate did not write.
    pub fn open(storage: impl Storage, options: QueueOptions) -> Result<OfflineQueue, QueueError> {
        let journal_options = options.journal.durability(Durability::SyncEachCommit);
        let (journal, _) = Journal::open(storage, journal_options).map_err(|e| QueueError::Open(Arc::new(e)))?;
        let mut queue = OfflineQueue {
            journal,
            origin: options.origin,
            clock: HybridClock::new(),
            next_counter: 1,
            synced_version: 0,
            pending: BTreeMap::new(),
        };
        queue.recover()?;
        #[cfg(feature = "tracing")]
        tracing::info!(
            origin = queue.origin,
            pending = queue.pending.len(),
            next_counter = queue.next_counter,
            "shadow.queue recovered"
        );
        Ok(queue)
    }

    /// Queues `payload` (JSON) written at wall time `wall_ms`; returns once
    /// it is durable.
    ///
    /// # Errors
    ///
    /// [`QueueError::Append`] if the journal fails: the entry is not queued;
    /// [`QueueError::IdsExhausted`] if the journal holds a counter so high
    /// that no new id is left (only a damaged or forged journal does).
    pub fn push(&mut self, payload: &Value, wall_ms: u64) -> Result<QueueEntry, QueueError> {
        // u64::MAX is never issued: reaching it means every id was used.
        if self.next_counter == u64::MAX {
            return Err(QueueError::IdsExhausted { origin: self.origin });
        }
        let canonical: Arc<[u8]> = Arc::from(canonical(payload));
        let mut clock = self.clock.clone();
        let entry = QueueEntry {
            tx_id: TxId {
                origin: self.origin,
                counter: self.next_counter,
            },
            version_stamp: clock.tick(wall_ms),
            payload_hash: PayloadHash::of_canonical(&canonical),
            payload: canonical,
        };
        let seq = self
            .journal
            .append(&encode_entry(&entry))
            .map_err(|e| QueueError::Append(Arc::new(e)))?;
        self.clock = clock;
        self.next_counter += 1;
        self.pending.insert(entry.tx_id.counter, (seq, entry.clone()));
        Ok(entry)
    }

    /// Entries not yet acknowledged, oldest stamp first.
    pub fn pending(&self) -> impl Iterator<Item = &QueueEntry> {
        self.pending.values().map(|(_, entry)| entry)
    }

    /// The pending entries in batches of at most `size` (at least 1).
    pub fn batches(&self, size: usize) -> impl Iterator<Item = Vec<&QueueEntry>> {
        let entries: Vec<&QueueEntry> = self.pending().collect();
        let size = size.max(1);
        let batches: Vec<Vec<&QueueEntry>> = entries.chunks(size).map(<[&QueueEntry]>::to_vec).collect();
        batches.into_iter()
    }

    /// How many entries wait.
    #[must_use]
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// True if nothing waits.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// The shadow version the device last synchronised with, as recorded
    /// by [`record_synced`](Self::record_synced): the base a replay is
    /// merged against, kept across restarts.
    #[must_use]
    pub fn synced_version(&self) -> u64 {
        self.synced_version
    }

    /// Records that the device now holds the cloud's document at `version`;
    /// durable when it returns.
    ///
    /// # Errors
    ///
    /// [`QueueError::Append`] if the journal fails: the previous version stays.
    pub fn record_synced(&mut self, version: u64) -> Result<(), QueueError> {
        if version == self.synced_version {
            return Ok(());
        }
        self.journal
            .append(&encode_synced(version))
            .map_err(|e| QueueError::Append(Arc::new(e)))?;
        self.synced_version = version;
        Ok(())
    }

    /// The queue's clock: the stamp of the newest entry, at least.
    #[must_use]
    pub fn clock(&self) -> &HybridClock {
        &self.clock
    }

    /// Takes in a stamp seen from the cloud, so later entries come after it.
    pub fn observe(&mut self, remote: VersionStamp, wall_ms: u64) {
        self.clock.observe(remote, wall_ms);
    }

    /// Removes acknowledged entries; durable when it returns. Ids not
    /// queued (acknowledged before) are ignored. Segments that hold only
    /// acknowledged entries are then deleted.
    ///
    /// # Errors
    ///
    /// [`QueueError::Append`] if the journal fails: entries not yet
    /// recorded as acknowledged stay pending (a replay skips them).
    pub fn acknowledge(&mut self, tx_ids: &[TxId]) -> Result<(), QueueError> {
        let acknowledged: Vec<u64> = tx_ids
            .iter()
            .filter(|id| id.origin == self.origin && self.pending.contains_key(&id.counter))
            .map(|id| id.counter)
            .collect();
        if acknowledged.is_empty() {
            return Ok(());
        }
        let records: Vec<[u8; 18]> = acknowledged
            .iter()
            .map(|&counter| encode_ack(self.origin, counter))
            .collect();
        self.journal
            .append_batch(records.iter().map(|r| r.as_slice()))
            .map_err(|e| QueueError::Append(Arc::new(e)))?;
        for counter in acknowledged {
            self.pending.remove(&counter);
        }
        self.retain()
    }

    /// Deletes the segments before the oldest pending entry, after a mark
    /// that keeps the counter and clock in the segment being written.
    fn retain(&mut self) -> Result<(), QueueError> {
        let oldest = self.pending.values().next().map_or(u64::MAX, |(seq, _)| *seq);
        let current = self.journal.next_seq();
        let keep_from = oldest.min(current);
        // Only worth a mark once a whole segment can go.
        if keep_from <= self.journal.first_seq() {
            return Ok(());
        }
        let mark = encode_mark(self.next_counter, self.clock.last());
        let synced = encode_synced(self.synced_version);
        let mark_seq = self
            .journal
            .append_batch([mark.as_slice(), synced.as_slice()])
            .map_err(|e| QueueError::Append(Arc::new(e)))?
            .start;
        self.journal
            .remove_before(keep_from.min(mark_seq))
            .map_err(|e| QueueError::Append(Arc::new(e)))?;
        Ok(())
    }

    fn recover(&mut self) -> Result<(), QueueError> {
        let reader = self
            .journal
            .read_from(self.journal.first_seq())
            .map_err(|e| QueueError::Read(Arc::new(e)))?;
        for record in reader {
            let record = record.map_err(|e| QueueError::Read(Arc::new(e)))?;
            let corrupt = |reason| QueueError::Corrupt {
                seq: record.seq,
                reason,
            };
            match decode(&record.payload).map_err(corrupt)? {
                Record::Entry(entry) => {
                    if entry.tx_id.origin != self.origin {
                        return Err(corrupt("an entry of another device"));
                    }
                    self.next_counter = self.next_counter.max(entry.tx_id.counter.saturating_add(1));
                    self.clock.observe(entry.version_stamp, 0);
                    if self.pending.insert(entry.tx_id.counter, (record.seq, entry)).is_some() {
                        return Err(corrupt("a transaction queued twice"));
                    }
                }
                // An acknowledgement of an entry retention already removed is expected.
                Record::Ack(counter) => {
                    self.pending.remove(&counter);
                }
                Record::Synced(version) => self.synced_version = version,
                Record::Mark { next_counter, stamp } => {
                    self.next_counter = self.next_counter.max(next_counter);
                    self.clock.observe(stamp, 0);
                }
            }
        }
        Ok(())
    }

    /// The journal underneath, to verify or inspect it.
    #[must_use]
    pub fn journal(&self) -> &Journal {
        &self.journal
    }
}

impl fmt::Debug for OfflineQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OfflineQueue")
            .field("origin", &self.origin)
            .field("pending", &self.pending.len())
            .field("next_counter", &self.next_counter)
            .finish_non_exhaustive()
    }
}

enum Record {
    Entry(QueueEntry),
    Synced(u64),
    Ack(u64),
    Mark { next_counter: u64, stamp: VersionStamp },
}

fn encode_entry(entry: &QueueEntry) -> Vec<u8> {
    let canonical = &entry.payload;
    let mut out = Vec::with_capacity(ENTRY_HEADER + canonical.len());
    out.extend_from_slice(&[FORMAT, ENTRY]);
    out.extend_from_slice(&entry.tx_id.origin.to_le_bytes());
    out.extend_from_slice(&entry.tx_id.counter.to_le_bytes());
    out.extend_from_slice(&entry.version_stamp.physical_ms.to_le_bytes());
    out.extend_from_slice(&entry.version_stamp.logical.to_le_bytes());
    out.extend_from_slice(&entry.payload_hash.0);
    out.extend_from_slice(canonical);
    out
}

fn encode_ack(origin: u64, counter: u64) -> [u8; 18] {
    let mut out = [0; 18];
    out[..2].copy_from_slice(&[FORMAT, ACK]);
    out[2..10].copy_from_slice(&origin.to_le_bytes());
    out[10..].copy_from_slice(&counter.to_le_bytes());
    out
}

fn encode_synced(version: u64) -> [u8; 10] {
    let mut out = [0; 10];
    out[..2].copy_from_slice(&[FORMAT, SYNCED]);
    out[2..].copy_from_slice(&version.to_le_bytes());
    out
}

fn encode_mark(next_counter: u64, stamp: VersionStamp) -> [u8; 22] {
    let mut out = [0; 22];
    out[..2].copy_from_slice(&[FORMAT, MARK]);
    out[2..10].copy_from_slice(&next_counter.to_le_bytes());
    out[10..18].copy_from_slice(&stamp.physical_ms.to_le_bytes());
    out[18..].copy_from_slice(&stamp.logical.to_le_bytes());
    out
}

fn decode(bytes: &[u8]) -> Result<Record, &'static str> {
    let u64_at = |at: usize| {
        bytes
            .get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    };
    let u32_at = |at: usize| {
        bytes
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
    };
    match bytes.get(..2) {
        Some(&[FORMAT, ENTRY]) => {
            let short = "an entry record cut short";
            let tx_id = TxId {
                origin: u64_at(2).ok_or(short)?,
                counter: u64_at(10).ok_or(short)?,
            };
            let version_stamp = VersionStamp {
                physical_ms: u64_at(18).ok_or(short)?,
                logical: u32_at(26).ok_or(short)?,
            };
            let hash: [u8; 32] = bytes.get(30..62).and_then(|b| b.try_into().ok()).ok_or(short)?;
            let canonical = &bytes[ENTRY_HEADER..];
            if PayloadHash::of_canonical(canonical).0 != hash {
                return Err("an entry whose payload does not match its hash");
            }
            Ok(Record::Entry(QueueEntry {
                tx_id,
                version_stamp,
                payload_hash: PayloadHash(hash),
                payload: Arc::from(canonical),
            }))
        }
        Some(&[FORMAT, ACK]) if bytes.len() == 18 => Ok(Record::Ack(u64_at(10).ok_or("an acknowledgement cut short")?)),
        Some(&[FORMAT, MARK]) if bytes.len() == 22 => {
            let short = "a mark cut short";
            let stamp = VersionStamp {
                physical_ms: u64_at(10).ok_or(short)?,
                logical: u32_at(18).ok_or(short)?,
            };
            Ok(Record::Mark {
                next_counter: u64_at(2).ok_or(short)?,
                stamp,
            })
        }
        Some(&[FORMAT, SYNCED]) if bytes.len() == 10 => {
            Ok(Record::Synced(u64_at(2).ok_or("a synced version cut short")?))
        }
        Some(&[FORMAT, _]) => Err("an unknown record type"),
        Some(_) => Err("an unknown format version"),
        None => Err("a record shorter than its header"),
    }
}
