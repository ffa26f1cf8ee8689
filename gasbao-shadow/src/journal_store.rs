//! The embedded shadow store: a gasbao-core journal plus an in-memory index.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use gasbao_core::journal::{Durability, Journal, JournalOptions, Storage};

use crate::error::StoreError;
use crate::names::ShadowId;
use crate::store::{ShadowRecord, ShadowStore, StoredShadow, lock};

/// The first byte of every record: its format version.
const FORMAT: u8 = 1;
const PUT: u8 = 1;
const SNAPSHOT_START: u8 = 0x10;
const SNAPSHOT_END: u8 = 0x12;

/// A [`ShadowStore`] on a gasbao-core [`Journal`]: every write is one
/// durable record, the index of current shadows lives in memory and is
/// rebuilt on open, and every `compact_every` writes a snapshot of all
/// shadows lets the journal drop what came before.
///
/// Writes are serialized: one `fdatasync` each.
///
/// # Examples
///
/// ```
/// use gasbao_core::journal::{JournalOptions, MemoryStorage};
/// use gasbao_shadow::{JournalStore, ShadowId, ShadowRules, ShadowService, ThingName, Timestamp};
///
/// let storage = MemoryStorage::new();
/// let meter = ShadowId::classic(ThingName::new("meter-7")?);
/// let service = ShadowService::new(JournalStore::open(storage.clone(), JournalOptions::default())?, ShadowRules::default());
/// service.update(&meter, br#"{"state": {"desired": {"valve": "closed"}}}"#, Timestamp::from_secs(60))?;
/// drop(service);
///
/// let service = ShadowService::new(JournalStore::open(storage, JournalOptions::default())?, ShadowRules::default());
/// assert_eq!(service.get(&meter)?.document.desired()["valve"], "closed");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct JournalStore {
    journal: Journal,
    shadows: Mutex<Index>,
    compact_every: u64,
}

#[derive(Default)]
struct Index {
    shadows: HashMap<ShadowId, Arc<StoredShadow>>,
    writes_since_snapshot: u64,
}

impl JournalStore {
    /// Opens the store in `storage` and rebuilds its index. Writes are
    /// durable when they return, whatever `options.durability` says.
    ///
    /// # Errors
    ///
    /// [`StoreError::Open`] if the journal cannot be opened;
    /// [`StoreError::Corrupt`] for a record this crate did not write;
    /// [`StoreError::MissingSnapshot`] if records were removed with no
    /// snapshot after them.
    pub fn open(storage: impl Storage, options: JournalOptions) -> Result<JournalStore, StoreError> {
        let (journal, _) =
            Journal::open(storage, options.durability(Durability::SyncEachCommit)).map_err(StoreError::Open)?;
        let shadows = replay(&journal)?;
        #[cfg(feature = "tracing")]
        tracing::info!(
            shadows = shadows.len(),
            first_seq = journal.first_seq(),
            next_seq = journal.next_seq(),
            "shadow.store recovered"
        );
        Ok(JournalStore {
            journal,
            shadows: Mutex::new(Index {
                shadows,
                writes_since_snapshot: 0,
            }),
            compact_every: 10_000,
        })
    }

    /// This store, writing a snapshot (and dropping older segments) every
    /// `writes` writes (at least 1).
    #[must_use]
    pub fn compact_every(mut self, writes: u64) -> JournalStore {
        self.compact_every = writes.max(1);
        self
    }

    /// The journal underneath, to verify or anchor it.
    #[must_use]
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    fn snapshot(&self, index: &Index) -> Result<(), StoreError> {
        let start = self
            .journal
            .append(&[FORMAT, SNAPSHOT_START])
            .map_err(StoreError::Append)?;
        let records: Vec<Vec<u8>> = index
            .shadows
            .iter()
            .map(|(id, shadow)| encode(&ShadowRecord::new(id, shadow)))
            .collect();
        self.journal
            .append_batch(records.iter().map(Vec::as_slice))
            .map_err(StoreError::Append)?;
        self.journal
            .append(&[FORMAT, SNAPSHOT_END])
            .map_err(StoreError::Append)?;
        let removed = self.journal.remove_before(start).map_err(StoreError::Append)?;
        #[cfg(feature = "tracing")]
        tracing::debug!(
            shadows = index.shadows.len(),
            start,
            removed_segments = removed,
            "shadow.store snapshot"
        );
        let _ = removed;
        Ok(())
    }
}

impl ShadowStore for JournalStore {
    fn load(&self, id: &ShadowId) -> Result<Option<Arc<StoredShadow>>, StoreError> {
        Ok(lock(&self.shadows).shadows.get(id).cloned())
    }

    fn compare_and_set(&self, id: &ShadowId, expected: u64, next: StoredShadow) -> Result<bool, StoreError> {
        let mut index = lock(&self.shadows);
        if index.shadows.get(id).map_or(0, |s| s.revision) != expected {
            return Ok(false);
        }
        self.journal
            .append(&encode(&ShadowRecord::new(id, &next)))
            .map_err(StoreError::Append)?;
        index.shadows.insert(id.clone(), Arc::new(next));
        index.writes_since_snapshot += 1;
        if index.writes_since_snapshot >= self.compact_every {
            self.snapshot(&index)?;
            index.writes_since_snapshot = 0;
        }
        Ok(true)
    }

    fn ids(&self) -> Result<Vec<ShadowId>, StoreError> {
        Ok(lock(&self.shadows).shadows.keys().cloned().collect())
    }
}

impl fmt::Debug for JournalStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JournalStore")
            .field("shadows", &lock(&self.shadows).shadows.len())
            .field("journal", &self.journal)
            .finish()
    }
}

fn encode(record: &ShadowRecord) -> Vec<u8> {
    let mut out = vec![FORMAT, PUT];
    // A record of maps, strings and numbers always serializes.
    let _ = serde_json::to_writer(&mut out, record);
    out
}

/// Rebuilds the index from the newest complete snapshot onward.
fn replay(journal: &Journal) -> Result<HashMap<ShadowId, Arc<StoredShadow>>, StoreError> {
    let first_seq = journal.first_seq();
    let read = |from| journal.read_from(from).map_err(StoreError::Read);
    let mut start = None;
    let mut open = None;
    for record in read(first_seq)? {
        let record = record.map_err(StoreError::Read)?;
        match record.payload.as_slice() {
            [FORMAT, SNAPSHOT_START] => open = Some(record.seq),
            [FORMAT, SNAPSHOT_END] => start = open.take(),
            _ => {}
        }
    }
    let start = match start {
        Some(seq) => seq,
        None if first_seq == 0 => 0,
        None => return Err(StoreError::MissingSnapshot { first_seq }),
    };
    let mut shadows = HashMap::new();
    for record in read(start)? {
        let record = record.map_err(StoreError::Read)?;
        let corrupt = |reason: String| StoreError::Corrupt {
            seq: record.seq,
            reason,
        };
        match record.payload.as_slice() {
            [FORMAT, SNAPSHOT_START] | [FORMAT, SNAPSHOT_END] => {}
            [FORMAT, PUT, body @ ..] => {
                let record: ShadowRecord = serde_json::from_slice(body).map_err(|e| corrupt(e.to_string()))?;
                let (id, shadow) = record.into_stored();
                shadows.insert(id, Arc::new(shadow));
            }
            _ => return Err(corrupt("not a shadow store record".into())),
        }
    }
    Ok(shadows)
}
