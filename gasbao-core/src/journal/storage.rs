//! The storage a journal writes through: a flat directory of append-only files.

use std::fmt;
use std::io;

/// A directory of files, as the journal needs it. Implement it to put a journal
/// somewhere else (a test double, an encrypted volume); every method added
/// later will have a default body.
pub trait Storage: Send + Sync + 'static {
    /// Takes the directory's writer lock: while the returned guard lives, no
    /// other journal (in this process or another) may open it for writing.
    /// The lock must end when the guard drops or the process dies.
    ///
    /// # Errors
    ///
    /// An error of kind [`io::ErrorKind::WouldBlock`] if another holder has
    /// the lock; the underlying I/O error otherwise. The default body refuses
    /// with [`io::ErrorKind::Unsupported`]: a storage that cannot keep a
    /// second writer out must say so rather than let two writers in.
    fn lock_writer(&self) -> io::Result<WriterLock> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this storage has no writer lock; implement Storage::lock_writer",
        ))
    }

    /// Names of the files in the directory, in any order.
    ///
    /// # Errors
    ///
    /// The underlying I/O error.
    fn list(&self) -> io::Result<Vec<String>>;

    /// Opens file `name`, creating it empty if `create` is set and it does not exist.
    ///
    /// # Errors
    ///
    /// The underlying I/O error; `NotFound` if it does not exist and `create` is unset.
    fn open(&self, name: &str, create: bool) -> io::Result<Box<dyn StorageFile>>;

    /// Removes file `name`.
    ///
    /// # Errors
    ///
    /// The underlying I/O error.
    fn remove(&self, name: &str) -> io::Result<()>;

    /// Makes the creation and removal of files durable (`fsync` of the directory).
    ///
    /// # Errors
    ///
    /// The underlying I/O error.
    fn sync_directory(&self) -> io::Result<()>;
}

/// A storage's writer lock, held until dropped; see [`Storage::lock_writer`].
pub struct WriterLock {
    _held: Box<dyn Send + Sync>,
}

impl WriterLock {
    /// A lock held as long as `held` lives: dropping `held` must release it
    /// (a locked file, a guard that clears a flag).
    pub fn new(held: impl Send + Sync + 'static) -> WriterLock {
        WriterLock { _held: Box::new(held) }
    }
}

impl fmt::Debug for WriterLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriterLock").finish_non_exhaustive()
    }
}

/// Sets a shared flag while held and clears it when dropped: the writer lock
/// of storages that live in one process.
#[derive(Debug)]
pub(crate) struct FlagLock(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl FlagLock {
    /// Takes `flag`, or fails with `WouldBlock` if it is already set.
    pub(crate) fn take(flag: &std::sync::Arc<std::sync::atomic::AtomicBool>) -> io::Result<WriterLock> {
        use std::sync::atomic::Ordering;
        if flag.swap(true, Ordering::AcqRel) {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "the journal's writer lock is held",
            ));
        }
        Ok(WriterLock::new(FlagLock(std::sync::Arc::clone(flag))))
    }
}

impl Drop for FlagLock {
    fn drop(&mut self) {
        self.0.store(false, std::sync::atomic::Ordering::Release);
    }
}

/// One append-only file of a [`Storage`].
pub trait StorageFile: Send + Sync {
    /// Current length in bytes, including data not yet synced.
    ///
    /// # Errors
    ///
    /// The underlying I/O error.
    fn size(&self) -> io::Result<u64>;

    /// Reads up to `buf.len()` bytes at `offset`; returns how many were read
    /// (fewer only at the end of the file).
    ///
    /// # Errors
    ///
    /// The underlying I/O error.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;

    /// Writes all of `data` at `offset`, overwriting what is there and growing
    /// the file (with zeros before `offset`, if it lies past the end) as needed.
    ///
    /// # Errors
    ///
    /// The underlying I/O error; part of `data` may have been written.
    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()>;

    /// Grows the file to at least `len` bytes of zeros, allocated on the device,
    /// so that later writes inside it need not change the file's size: their
    /// `sync` then does not have to commit metadata.
    ///
    /// # Errors
    ///
    /// The underlying I/O error.
    fn allocate(&self, len: u64) -> io::Result<()>;

    /// Makes everything appended so far durable (`fdatasync`).
    ///
    /// # Errors
    ///
    /// The underlying I/O error; the data's durability is then unknown.
    fn sync(&self) -> io::Result<()>;

    /// Cuts the file to `len` bytes.
    ///
    /// # Errors
    ///
    /// The underlying I/O error.
    fn truncate(&self, len: u64) -> io::Result<()>;
}

/// Reads exactly `buf.len()` bytes at `offset`, or fewer at the end of the file;
/// returns how many were read.
pub(crate) fn read_full(file: &dyn StorageFile, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let at = offset.saturating_add(filled as u64);
        let Some(rest) = buf.get_mut(filled..) else { break };
        match file.read_at(at, rest) {
            Ok(0) => break,
            Ok(n) => filled = filled.saturating_add(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
