//! The journal's storage in memory, for tests and ephemeral journals.

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, PoisonError};

use crate::journal::storage::{FlagLock, Storage, StorageFile, WriterLock};

type Files = Arc<Mutex<BTreeMap<String, Arc<Mutex<Vec<u8>>>>>>;

/// Files kept in memory; `sync` does nothing. Clones share the same files and
/// the same writer lock, so a journal can be dropped and reopened on a clone,
/// and a second writer on a clone is refused as it would be on disk.
#[derive(Debug, Clone, Default)]
pub struct MemoryStorage {
    files: Files,
    writer: Arc<AtomicBool>,
}

impl MemoryStorage {
    /// An empty directory.
    #[must_use]
    pub fn new() -> MemoryStorage {
        MemoryStorage::default()
    }

    /// A copy of file `name`'s bytes, if it exists.
    #[must_use]
    pub fn contents(&self, name: &str) -> Option<Vec<u8>> {
        let files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        let file = files.get(name)?;
        Some(file.lock().unwrap_or_else(PoisonError::into_inner).clone())
    }

    /// Replaces file `name`'s bytes (creating it), to plant damage in tests.
    pub fn set_contents(&self, name: &str, bytes: Vec<u8>) {
        let mut files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        files.insert(name.to_owned(), Arc::new(Mutex::new(bytes)));
    }
}

impl Storage for MemoryStorage {
    fn lock_writer(&self) -> io::Result<WriterLock> {
        FlagLock::take(&self.writer)
    }

    fn list(&self) -> io::Result<Vec<String>> {
        Ok(self
            .files
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect())
    }

    fn open(&self, name: &str, create: bool) -> io::Result<Box<dyn StorageFile>> {
        let mut files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        let data = match files.get(name) {
            Some(data) => Arc::clone(data),
            None if create => Arc::clone(files.entry(name.to_owned()).or_default()),
            None => return Err(io::Error::new(io::ErrorKind::NotFound, name.to_owned())),
        };
        Ok(Box::new(MemoryFile { data }))
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        let mut files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        files
            .remove(name)
            .map(drop)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, name.to_owned()))
    }

    fn sync_directory(&self) -> io::Result<()> {
        Ok(())
    }
}

#[derive(Debug)]
struct MemoryFile {
    data: Arc<Mutex<Vec<u8>>>,
}

impl StorageFile for MemoryFile {
    fn size(&self) -> io::Result<u64> {
        Ok(self.data.lock().unwrap_or_else(PoisonError::into_inner).len() as u64)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let data = self.data.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(copy_out(&data, offset, buf))
    }

    fn write_at(&self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        write_into(
            &mut self.data.lock().unwrap_or_else(PoisonError::into_inner),
            offset,
            bytes,
        )
    }

    fn allocate(&self, len: u64) -> io::Result<()> {
        let mut data = self.data.lock().unwrap_or_else(PoisonError::into_inner);
        let len = usize::try_from(len).map_err(|_| io::Error::other("file larger than memory"))?;
        if data.len() < len {
            data.resize(len, 0);
        }
        Ok(())
    }

    fn sync(&self) -> io::Result<()> {
        Ok(())
    }

    fn truncate(&self, len: u64) -> io::Result<()> {
        let mut data = self.data.lock().unwrap_or_else(PoisonError::into_inner);
        data.truncate(usize::try_from(len).unwrap_or(usize::MAX));
        Ok(())
    }
}

/// Writes `bytes` into `data` at `offset`, growing it with zeros as needed.
pub(crate) fn write_into(data: &mut Vec<u8>, offset: u64, bytes: &[u8]) -> io::Result<()> {
    let start = usize::try_from(offset).map_err(|_| io::Error::other("file larger than memory"))?;
    let end = start
        .checked_add(bytes.len())
        .ok_or_else(|| io::Error::other("file larger than memory"))?;
    if data.len() < end {
        data.resize(end, 0);
    }
    if let Some(dst) = data.get_mut(start..end) {
        dst.copy_from_slice(bytes);
    }
    Ok(())
}

/// Copies what `data` holds at `offset` into `buf`; returns the count.
pub(crate) fn copy_out(data: &[u8], offset: u64, buf: &mut [u8]) -> usize {
    let start = usize::try_from(offset).unwrap_or(usize::MAX).min(data.len());
    let available = data.get(start..).unwrap_or(&[]);
    let n = available.len().min(buf.len());
    if let (Some(dst), Some(src)) = (buf.get_mut(..n), available.get(..n)) {
        dst.copy_from_slice(src);
    }
    n
}
