//! One writer per journal: a second open for writing is refused, in this
//! process and in another, until the first writer drops its journal or dies;
//! readers open beside the writer and change nothing. (Another process's
//! writer: `journal_ownership_process.rs`, apart, since a child forked
//! while a test here holds a lock would hold it too until it execs.)
#![cfg(feature = "journal")]

use std::io;

use gasbao_core::journal::{
    CrashStorage, FileStorage, Journal, JournalOptions, MemoryStorage, OpenError, ReadOnlyJournal, Storage, StorageFile,
};

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("gasbao-lock-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn assert_in_use(result: Result<(Journal, gasbao_core::journal::RecoveryReport), OpenError>, case: &str) {
    match result {
        Err(OpenError::InUse { source }) => assert_eq!(source.kind(), io::ErrorKind::WouldBlock, "{case}"),
        Err(other) => panic!("{case}: expected InUse, got {other:?}"),
        Ok(_) => panic!("{case}: a second writer was let in"),
    }
}

/// Each storage refuses a second writer, and takes a new one once the first
/// is dropped; the records of the first are all there.
#[test]
fn a_second_writer_is_refused_until_the_first_is_dropped() {
    let dir = scratch("in-process");
    refuses_a_second_writer(MemoryStorage::new(), "memory");
    refuses_a_second_writer(CrashStorage::new(), "crash");
    refuses_a_second_writer(FileStorage::new(&dir).unwrap(), "file");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Clones of `storage` are the same directory opened again.
fn refuses_a_second_writer(storage: impl Storage + Clone, case: &str) {
    let (first, _) = Journal::open(storage.clone(), JournalOptions::default()).unwrap();
    first.append(b"meter 1: 10.000 m3").unwrap();
    assert_in_use(Journal::open(storage.clone(), JournalOptions::default()), case);
    // The refused open changed nothing: the writer goes on.
    assert_eq!(first.append(b"meter 1: 11.000 m3").unwrap(), 1, "{case}");
    drop(first);
    let (second, report) = Journal::open(storage, JournalOptions::default()).unwrap();
    assert_eq!(report.next_seq, 2, "{case}");
    assert_eq!(second.append(b"meter 1: 12.500 m3").unwrap(), 2, "{case}");
}

/// The refused open's error names the problem in words.
#[test]
fn the_refusal_says_the_journal_is_in_use() {
    let dir = scratch("message");
    let (_writer, _) = Journal::open(FileStorage::new(&dir).unwrap(), JournalOptions::default()).unwrap();
    let error = Journal::open(FileStorage::new(&dir).unwrap(), JournalOptions::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the journal is in use: another writer holds its lock"
    );
    let cause = std::error::Error::source(&error).unwrap().to_string();
    assert!(cause.contains("journal.lock"), "{cause}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A read-only open repairs nothing: the torn tail a writer would cut stays.
#[test]
fn a_read_only_open_leaves_a_torn_tail_in_place() {
    let storage = MemoryStorage::new();
    let (journal, _) = Journal::open(storage.clone(), JournalOptions::default()).unwrap();
    journal.append(b"meter 9: 1.000 m3").unwrap();
    journal.append(b"meter 9: 2.000 m3").unwrap();
    drop(journal);
    let name = storage.list().unwrap().pop().unwrap();
    let mut bytes = storage.contents(&name).unwrap();
    let end = bytes.iter().rposition(|&b| b != 0).unwrap() + 1;
    bytes[end - 1] ^= 0xff; // the last record's last byte
    storage.set_contents(&name, bytes.clone());

    let (view, report) = ReadOnlyJournal::open(storage.clone(), &[]).unwrap();
    assert_eq!(report.next_seq, 1);
    assert!(report.torn_tail.is_some());
    assert_eq!(view.read_from(0).unwrap().count(), 1);
    assert_eq!(
        storage.contents(&name).unwrap(),
        bytes,
        "the read-only open changed the file"
    );
}

/// A storage that has no writer lock refuses writers instead of letting two in.
#[test]
fn a_storage_without_a_writer_lock_refuses_writers() {
    let error = Journal::open(NoLock(MemoryStorage::new()), JournalOptions::default()).unwrap_err();
    match error {
        OpenError::Io(e) => assert_eq!(e.source.kind(), io::ErrorKind::Unsupported),
        other => panic!("{other:?}"),
    }
    // Reading needs no lock.
    assert!(ReadOnlyJournal::open(NoLock(MemoryStorage::new()), &[]).is_ok());
}

/// A user's storage written before writer locks existed: the default body.
struct NoLock(MemoryStorage);

impl Storage for NoLock {
    fn list(&self) -> io::Result<Vec<String>> {
        self.0.list()
    }
    fn open(&self, name: &str, create: bool) -> io::Result<Box<dyn StorageFile>> {
        self.0.open(name, create)
    }
    fn remove(&self, name: &str) -> io::Result<()> {
        self.0.remove(name)
    }
    fn sync_directory(&self) -> io::Result<()> {
        self.0.sync_directory()
    }
}
