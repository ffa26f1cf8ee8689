//! Where the cloud keeps shadows: a compare-and-set store trait.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};

use crate::document::{DocumentRecord, ShadowDocument};
use crate::error::StoreError;
use crate::names::ShadowId;
use crate::replay::AppliedIndex;

/// A shadow as a store keeps it.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct StoredShadow {
    /// Bumped by every write, deletes included: what compare-and-set compares.
    pub revision: u64,
    /// The document. After a delete it is empty but keeps its version, as
    /// AWS does not reset a deleted shadow's version.
    pub document: ShadowDocument,
    /// Which replayed offline transactions already took effect.
    pub applied: AppliedIndex,
    /// True once deleted, until the next update.
    pub deleted: bool,
}

/// Storage for shadows, keyed by [`ShadowId`], with compare-and-set on a
/// revision: the whole contract a backend must keep. The shadow logic
/// (merge, delta, limits, replay) runs in Rust above it, in
/// [`ShadowService`](crate::ShadowService).
///
/// Implementations: [`MemoryStore`], [`JournalStore`](crate::JournalStore).
pub trait ShadowStore: Send + Sync + 'static {
    /// The shadow's current state, or `None` if it was never written.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails.
    fn load(&self, id: &ShadowId) -> Result<Option<Arc<StoredShadow>>, StoreError>;

    /// Stores `next` if the stored revision is `expected` (0: not stored
    /// yet). Returns false, storing nothing, if another writer got there
    /// first. `next.revision` is `expected + 1`.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails: the write may or may not have
    /// happened.
    fn compare_and_set(&self, id: &ShadowId, expected: u64, next: StoredShadow) -> Result<bool, StoreError>;

    /// Every stored shadow id.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails.
    fn ids(&self) -> Result<Vec<ShadowId>, StoreError>;
}

/// A [`ShadowStore`] in memory: for tests, and for devices that keep a
/// local copy of their own shadow.
#[derive(Debug, Default)]
pub struct MemoryStore {
    shadows: Mutex<HashMap<ShadowId, Arc<StoredShadow>>>,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }
}

impl ShadowStore for MemoryStore {
    fn load(&self, id: &ShadowId) -> Result<Option<Arc<StoredShadow>>, StoreError> {
        Ok(lock(&self.shadows).get(id).cloned())
    }

    fn compare_and_set(&self, id: &ShadowId, expected: u64, next: StoredShadow) -> Result<bool, StoreError> {
        let mut shadows = lock(&self.shadows);
        let current = shadows.get(id).map_or(0, |s| s.revision);
        if current != expected {
            return Ok(false);
        }
        shadows.insert(id.clone(), Arc::new(next));
        Ok(true)
    }

    fn ids(&self) -> Result<Vec<ShadowId>, StoreError> {
        Ok(lock(&self.shadows).keys().cloned().collect())
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves the map whole: it inserts or reads.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A stored shadow as the journal store writes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ShadowRecord {
    pub(crate) id: ShadowId,
    pub(crate) revision: u64,
    pub(crate) document: DocumentRecord,
    pub(crate) applied: AppliedIndex,
    pub(crate) deleted: bool,
}

impl ShadowRecord {
    pub(crate) fn new(id: &ShadowId, shadow: &StoredShadow) -> ShadowRecord {
        ShadowRecord {
            id: id.clone(),
            revision: shadow.revision,
            document: shadow.document.to_record(),
            applied: shadow.applied.clone(),
            deleted: shadow.deleted,
        }
    }

    pub(crate) fn into_stored(self) -> (ShadowId, StoredShadow) {
        let shadow = StoredShadow {
            revision: self.revision,
            document: ShadowDocument::from_record(self.document),
            applied: self.applied,
            deleted: self.deleted,
        };
        (self.id, shadow)
    }
}
