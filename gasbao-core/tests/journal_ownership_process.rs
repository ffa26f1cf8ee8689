//! The writer lock is the operating system's: a writer in another process
//! keeps this one out, and its death (SIGKILL, no cleanup) lets it in. Apart
//! from the other lock tests, whose locks a forked child would hold too
//! until it execs.
#![cfg(all(feature = "journal", unix))]

use std::io;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gasbao_core::journal::{FileStorage, Journal, JournalOptions, OpenError, ReadOnlyJournal};

const CHILD_DIR: &str = "GASBAO_LOCK_CHILD_DIR";

/// The lock is the operating system's: another process's writer keeps this
/// one out, and its death (SIGKILL, no cleanup) lets it in.
#[test]
fn a_writer_in_another_process_holds_the_journal_until_it_dies() {
    if let Some(dir) = std::env::var_os(CHILD_DIR) {
        let (journal, _) = Journal::open(FileStorage::new(dir).unwrap(), JournalOptions::default()).unwrap();
        journal.append(b"valve 3 closed").unwrap();
        println!("open");
        std::thread::sleep(Duration::from_secs(60));
        return;
    }
    let dir = std::env::temp_dir().join(format!("gasbao-lock-process-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_writer_in_another_process_holds_the_journal_until_it_dies",
            "--nocapture",
        ])
        .env(CHILD_DIR, &dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut stdout = io::BufReader::new(child.stdout.take().unwrap());
    while !line.contains("open") {
        line.clear();
        assert!(
            io::BufRead::read_line(&mut stdout, &mut line).unwrap() > 0,
            "the child died"
        );
    }
    match Journal::open(FileStorage::new(&dir).unwrap(), JournalOptions::default()) {
        Err(OpenError::InUse { source }) => assert_eq!(source.kind(), io::ErrorKind::WouldBlock),
        other => panic!("a writer in another process was not seen: {other:?}"),
    }
    // Readers need no lock.
    let (view, report) = ReadOnlyJournal::open(FileStorage::new(&dir).unwrap(), &[]).unwrap();
    assert_eq!((report.next_seq, view.read_from(0).unwrap().count()), (1, 1));
    child.kill().unwrap();
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let (journal, report) = loop {
        match Journal::open(FileStorage::new(&dir).unwrap(), JournalOptions::default()) {
            Ok(opened) => break opened,
            Err(OpenError::InUse { .. }) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => panic!("{e:?}"),
        }
    };
    assert_eq!(report.next_seq, 1);
    assert_eq!(
        journal.read_from(0).unwrap().next().unwrap().unwrap().payload,
        b"valve 3 closed"
    );
    drop(journal);
    std::fs::remove_dir_all(&dir).unwrap();
}
