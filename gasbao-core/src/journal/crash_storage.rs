//! A storage that crashes on demand, for proving what survives a crash.

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, PoisonError};

use crate::journal::memory_storage::{copy_out, write_into};
use crate::journal::storage::{FlagLock, Storage, StorageFile, WriterLock};

/// A simulated disk with a durable and a volatile image of every file.
///
/// Writes reach the volatile image; `sync` copies a file's volatile image to
/// its durable one; a file's existence becomes durable only at
/// `sync_directory`. Faults are planned by count: crash at the Nth sync (that
/// sync does not happen, and every later operation fails), fail the Nth write
/// or sync with an I/O error. [`restart`](Self::restart) gives the disk as a
/// machine would find it after the crash: durable images only, plus the first
/// [`torn_bytes`](Self::torn_bytes) bytes of each file's unsynced writes, in
/// the order they were made, as a write torn by power loss leaves them.
/// Clones share one writer lock; the restarted disk's is free, as the
/// operating system frees a dead process's locks.
///
/// # Examples
///
/// ```
/// use gasbao_core::journal::{CrashStorage, Storage};
///
/// let disk = CrashStorage::new().crash_at_sync(2);
/// let file = disk.open("a", true)?;
/// disk.sync_directory()?; // sync 1
/// file.write_at(0, b"hello")?;
/// assert!(file.sync().is_err()); // sync 2: the crash
/// let after = disk.restart();
/// assert_eq!(after.open("a", false)?.size()?, 0);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct CrashStorage {
    state: Arc<Mutex<Disk>>,
    writer: Arc<AtomicBool>,
}

#[derive(Debug, Default)]
struct Disk {
    /// Files as a running process sees them.
    files: BTreeMap<String, Arc<Mutex<FileImages>>>,
    /// Files as of the last directory sync.
    durable_directory: BTreeMap<String, Arc<Mutex<FileImages>>>,
    plan: FaultPlan,
    syncs: u64,
    writes: u64,
    crashed: bool,
}

#[derive(Debug, Default, Clone, Copy)]
struct FaultPlan {
    crash_at_sync: Option<u64>,
    fail_sync: Option<u64>,
    fail_write: Option<u64>,
    torn_bytes: usize,
}

#[derive(Debug, Default)]
struct FileImages {
    durable: Vec<u8>,
    volatile: Vec<u8>,
    /// Writes since the last sync, in order: `(offset, bytes)`.
    unsynced: Vec<(u64, Vec<u8>)>,
}

impl FileImages {
    /// What survives a crash: the durable image and the first `budget` bytes
    /// of the unsynced writes.
    fn after_crash(&self, mut budget: usize) -> Vec<u8> {
        let mut survived = self.durable.clone();
        for (offset, bytes) in &self.unsynced {
            let kept = budget.min(bytes.len());
            // Writes that fitted the volatile image fit a copy of the durable one.
            let _ = write_into(&mut survived, *offset, bytes.get(..kept).unwrap_or(&[]));
            budget = budget.saturating_sub(kept);
            if kept < bytes.len() {
                break;
            }
        }
        survived
    }
}

impl CrashStorage {
    /// An empty disk with no faults planned.
    #[must_use]
    pub fn new() -> CrashStorage {
        CrashStorage::default()
    }

    /// The same disk, crashing at the `n`th sync (1-based, file and directory
    /// syncs counted together).
    #[must_use]
    pub fn crash_at_sync(self, n: u64) -> CrashStorage {
        self.disk().plan.crash_at_sync = Some(n);
        self
    }

    /// The same disk, failing the `n`th sync with an I/O error (nothing is made
    /// durable by it), without crashing.
    #[must_use]
    pub fn fail_sync_at(self, n: u64) -> CrashStorage {
        self.disk().plan.fail_sync = Some(n);
        self
    }

    /// The same disk, failing the `n`th write with an I/O error; nothing of
    /// that write is done.
    #[must_use]
    pub fn fail_write_at(self, n: u64) -> CrashStorage {
        self.disk().plan.fail_write = Some(n);
        self
    }

    /// The same disk, keeping the first `bytes` bytes of each file's unsynced
    /// writes at a crash, as a torn write would.
    #[must_use]
    pub fn torn_bytes(self, bytes: usize) -> CrashStorage {
        self.disk().plan.torn_bytes = bytes;
        self
    }

    /// Crashes now.
    pub fn crash(&self) {
        self.disk().crashed = true;
    }

    /// Whether the disk has crashed.
    #[must_use]
    pub fn crashed(&self) -> bool {
        self.disk().crashed
    }

    /// Syncs performed or attempted so far.
    #[must_use]
    pub fn syncs(&self) -> u64 {
        self.disk().syncs
    }

    /// The disk after a crash (now, if it has not crashed): durable files with
    /// their durable images plus the planned torn tail, and no faults planned.
    #[must_use]
    pub fn restart(&self) -> CrashStorage {
        let disk = self.disk();
        let files = disk
            .durable_directory
            .iter()
            .map(|(name, images)| {
                let survived = images
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .after_crash(disk.plan.torn_bytes);
                let file = Arc::new(Mutex::new(FileImages {
                    durable: survived.clone(),
                    volatile: survived,
                    unsynced: Vec::new(),
                }));
                (name.clone(), file)
            })
            .collect::<BTreeMap<_, _>>();
        CrashStorage {
            state: Arc::new(Mutex::new(Disk {
                durable_directory: files.clone(),
                files,
                ..Disk::default()
            })),
            writer: Arc::default(),
        }
    }

    fn disk(&self) -> std::sync::MutexGuard<'_, Disk> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn crashed_error() -> io::Error {
    io::Error::other("simulated crash: the disk is gone")
}

impl Disk {
    fn check_alive(&self) -> io::Result<()> {
        if self.crashed { Err(crashed_error()) } else { Ok(()) }
    }

    /// Counts a sync; says whether it may take effect.
    fn count_sync(&mut self) -> io::Result<()> {
        self.check_alive()?;
        self.syncs = self.syncs.saturating_add(1);
        if self.plan.crash_at_sync == Some(self.syncs) {
            self.crashed = true;
            return Err(crashed_error());
        }
        if self.plan.fail_sync == Some(self.syncs) {
            return Err(io::Error::other("simulated sync failure"));
        }
        Ok(())
    }

    fn count_write(&mut self) -> io::Result<()> {
        self.check_alive()?;
        self.writes = self.writes.saturating_add(1);
        if self.plan.fail_write == Some(self.writes) {
            return Err(io::Error::other("simulated write failure"));
        }
        Ok(())
    }
}

impl Storage for CrashStorage {
    fn lock_writer(&self) -> io::Result<WriterLock> {
        self.disk().check_alive()?;
        FlagLock::take(&self.writer)
    }

    fn list(&self) -> io::Result<Vec<String>> {
        let disk = self.disk();
        disk.check_alive()?;
        Ok(disk.files.keys().cloned().collect())
    }

    fn open(&self, name: &str, create: bool) -> io::Result<Box<dyn StorageFile>> {
        let mut disk = self.disk();
        disk.check_alive()?;
        let images = match disk.files.get(name) {
            Some(images) => Arc::clone(images),
            None if create => Arc::clone(disk.files.entry(name.to_owned()).or_default()),
            None => return Err(io::Error::new(io::ErrorKind::NotFound, name.to_owned())),
        };
        Ok(Box::new(CrashFile {
            disk: self.clone(),
            images,
        }))
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        let mut disk = self.disk();
        disk.check_alive()?;
        disk.files
            .remove(name)
            .map(drop)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, name.to_owned()))
    }

    fn sync_directory(&self) -> io::Result<()> {
        let mut disk = self.disk();
        disk.count_sync()?;
        disk.durable_directory = disk.files.clone();
        Ok(())
    }
}

#[derive(Debug)]
struct CrashFile {
    disk: CrashStorage,
    images: Arc<Mutex<FileImages>>,
}

impl CrashFile {
    fn images(&self) -> std::sync::MutexGuard<'_, FileImages> {
        self.images.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl StorageFile for CrashFile {
    fn size(&self) -> io::Result<u64> {
        self.disk.disk().check_alive()?;
        Ok(self.images().volatile.len() as u64)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.disk.disk().check_alive()?;
        Ok(copy_out(&self.images().volatile, offset, buf))
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.disk.disk().count_write()?;
        let mut images = self.images();
        write_into(&mut images.volatile, offset, data)?;
        images.unsynced.push((offset, data.to_vec()));
        Ok(())
    }

    fn allocate(&self, len: u64) -> io::Result<()> {
        let size = self.size()?;
        if size < len {
            let zeros = vec![0u8; usize::try_from(len.saturating_sub(size)).unwrap_or(0)];
            self.write_at(size, &zeros)?;
        }
        Ok(())
    }

    fn sync(&self) -> io::Result<()> {
        self.disk.disk().count_sync()?;
        let mut images = self.images();
        images.durable = images.volatile.clone();
        images.unsynced.clear();
        Ok(())
    }

    fn truncate(&self, len: u64) -> io::Result<()> {
        self.disk.disk().check_alive()?;
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        let mut images = self.images();
        // Truncation is made durable at once, as FileStorage does.
        images.volatile.truncate(len);
        images.durable.truncate(len);
        images.unsynced.clear();
        Ok(())
    }
}
