//! A storage wrapper that counts file syncs, to measure group commit.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use crate::journal::storage::{Storage, StorageFile, WriterLock};

/// Wraps a [`Storage`], counting the file syncs (`fdatasync`) it passes on and,
/// if asked, making each take longer.
///
/// Records appended divided by [`syncs`](Self::syncs) is how many records
/// each `fdatasync` made durable: the figure group commit exists to raise. A
/// [`sync_delay`](Self::sync_delay) stands in for a disk whose flush takes
/// milliseconds, to see how group commit gathers on one. Directory syncs are
/// passed on uncounted and undelayed. Clones share the count.
///
/// # Examples
///
/// ```
/// use gasbao_core::journal::{Durability, Journal, JournalOptions, MemoryStorage, MeteredStorage};
///
/// let disk = MeteredStorage::new(MemoryStorage::new());
/// let options = JournalOptions::default().durability(Durability::SyncEachCommit);
/// let (journal, _) = Journal::open(disk.clone(), options)?;
/// let before = disk.syncs();
/// journal.append(b"meter 42: 350125 l")?;
/// assert_eq!(disk.syncs() - before, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct MeteredStorage<S> {
    inner: S,
    syncs: Arc<AtomicU64>,
    delay: Duration,
}

impl<S: Storage> MeteredStorage<S> {
    /// Wraps `inner`, with no syncs counted yet and no delay.
    pub fn new(inner: S) -> MeteredStorage<S> {
        MeteredStorage {
            inner,
            syncs: Arc::default(),
            delay: Duration::ZERO,
        }
    }

    /// Makes each file sync sleep `delay` before it is passed on.
    #[must_use]
    pub fn sync_delay(mut self, delay: Duration) -> MeteredStorage<S> {
        self.delay = delay;
        self
    }

    /// File syncs passed on so far, by this wrapper and its clones.
    #[must_use]
    pub fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }
}

impl<S: Storage> Storage for MeteredStorage<S> {
    fn lock_writer(&self) -> io::Result<WriterLock> {
        self.inner.lock_writer()
    }

    fn list(&self) -> io::Result<Vec<String>> {
        self.inner.list()
    }

    fn open(&self, name: &str, create: bool) -> io::Result<Box<dyn StorageFile>> {
        Ok(Box::new(MeteredFile {
            inner: self.inner.open(name, create)?,
            syncs: Arc::clone(&self.syncs),
            delay: self.delay,
        }))
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        self.inner.remove(name)
    }

    fn sync_directory(&self) -> io::Result<()> {
        self.inner.sync_directory()
    }
}

struct MeteredFile {
    inner: Box<dyn StorageFile>,
    syncs: Arc<AtomicU64>,
    delay: Duration,
}

impl StorageFile for MeteredFile {
    fn size(&self) -> io::Result<u64> {
        self.inner.size()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read_at(offset, buf)
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.inner.write_at(offset, data)
    }

    fn allocate(&self, len: u64) -> io::Result<()> {
        self.inner.allocate(len)
    }

    fn sync(&self) -> io::Result<()> {
        if !self.delay.is_zero() {
            thread::sleep(self.delay);
        }
        self.syncs.fetch_add(1, Ordering::Relaxed);
        self.inner.sync()
    }

    fn truncate(&self, len: u64) -> io::Result<()> {
        self.inner.truncate(len)
    }
}
