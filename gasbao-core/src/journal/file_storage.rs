//! The journal's storage on a real file system directory.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use crate::journal::storage::{Storage, StorageFile, WriterLock};

/// The file in a journal directory whose lock marks its writer.
pub(crate) const LOCK_FILE: &str = "journal.lock";

/// A directory on the local file system. `sync` is `fdatasync`, and creating
/// or removing a file is made durable by `fsync` of the directory.
///
/// The writer lock is an exclusive lock ([`File::try_lock`]: `flock` on
/// Unix, `LockFileEx` on Windows) on the file `journal.lock` in the
/// directory. The operating system releases it when the process dies, so a
/// crash never leaves the journal locked. Like every advisory lock, it
/// keeps out only programs that take it, and network file systems may not
/// honour it. A child process forked while the lock is held shares it until
/// it execs or exits (`std::process::Command` execs at once), so a journal
/// reopened at that moment may be refused as in use.
#[derive(Debug, Clone)]
pub struct FileStorage {
    directory: PathBuf,
}

impl FileStorage {
    /// Storage in `directory`, created if missing.
    ///
    /// # Errors
    ///
    /// The I/O error from creating the directory.
    pub fn new(directory: impl AsRef<Path>) -> io::Result<FileStorage> {
        let directory = directory.as_ref().to_path_buf();
        fs::create_dir_all(&directory)?;
        Ok(FileStorage { directory })
    }

    /// The directory.
    #[must_use]
    pub fn directory(&self) -> &Path {
        &self.directory
    }

    /// Opens file `name` for reading and writing, never truncating it.
    fn open_file(&self, name: &str, create: bool) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .truncate(false)
            .open(self.directory.join(name))
    }
}

impl Storage for FileStorage {
    fn lock_writer(&self) -> io::Result<WriterLock> {
        let file = self.open_file(LOCK_FILE, true)?;
        match file.try_lock() {
            Ok(()) => Ok(WriterLock::new(file)),
            Err(fs::TryLockError::WouldBlock) => Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "{} is locked by another writer",
                    self.directory.join(LOCK_FILE).display()
                ),
            )),
            Err(fs::TryLockError::Error(e)) => Err(e),
        }
    }

    fn list(&self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.directory)? {
            let entry = entry?;
            if entry.file_type()?.is_file()
                && let Ok(name) = entry.file_name().into_string()
            {
                names.push(name);
            }
        }
        Ok(names)
    }

    fn open(&self, name: &str, create: bool) -> io::Result<Box<dyn StorageFile>> {
        let file = self.open_file(name, create)?;
        Ok(Box::new(DiskFile { file }))
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        fs::remove_file(self.directory.join(name))
    }

    fn sync_directory(&self) -> io::Result<()> {
        #[cfg(unix)]
        File::open(&self.directory)?.sync_all()?;
        Ok(())
    }
}

#[derive(Debug)]
struct DiskFile {
    file: File,
}

impl StorageFile for DiskFile {
    fn size(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        #[cfg(unix)]
        {
            std::os::unix::fs::FileExt::read_at(&self.file, buf, offset)
        }
        #[cfg(windows)]
        {
            std::os::windows::fs::FileExt::seek_read(&self.file, buf, offset)
        }
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        #[cfg(unix)]
        {
            std::os::unix::fs::FileExt::write_all_at(&self.file, data, offset)
        }
        #[cfg(windows)]
        {
            let mut written = 0;
            while written < data.len() {
                let rest = &data[written..];
                written += std::os::windows::fs::FileExt::seek_write(&self.file, rest, offset + written as u64)?;
            }
            Ok(())
        }
    }

    fn allocate(&self, len: u64) -> io::Result<()> {
        // Real zeros rather than a sparse `set_len`: writing into a hole would
        // still make each sync allocate blocks.
        static ZEROS: [u8; 64 << 10] = [0; 64 << 10];
        let mut size = self.size()?;
        while size < len {
            let missing = len.saturating_sub(size);
            let n = usize::try_from(missing).map_or(ZEROS.len(), |m| m.min(ZEROS.len()));
            self.write_at(size, ZEROS.get(..n).unwrap_or(&[]))?;
            size = size.saturating_add(n as u64);
        }
        Ok(())
    }

    fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn truncate(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)?;
        self.file.sync_all()
    }
}
