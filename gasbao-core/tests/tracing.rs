//! With feature `tracing`, opening a journal says what recovery found.
#![cfg(all(feature = "tracing", feature = "journal"))]

use gasbao_core::journal::{Journal, JournalOptions, MemoryStorage};
use tracing_test::traced_test;

#[test]
#[traced_test]
fn recovery_reports_the_torn_tail_it_cut_and_what_it_kept() {
    let storage = MemoryStorage::new();
    let (journal, _) = Journal::open(storage.clone(), JournalOptions::default()).unwrap();
    for reading in 0..5u8 {
        journal.append(&[reading; 16]).unwrap();
    }
    drop(journal);
    // The next segment's file exists, but only 13 bytes of its header made it.
    storage.set_contents("00000000000000000005.gbj", b"GASBAOJ\n\x01\0\0\0\0".to_vec());
    Journal::open(storage, JournalOptions::default()).unwrap();
    assert!(logs_contain("journal.open cut a torn"));
    assert!(logs_contain(r#"segment=00000000000000000005.gbj offset=0 bytes=9"#));
    assert!(logs_contain("journal.open recovered"));
    assert!(logs_contain("next_seq=5"));
}
