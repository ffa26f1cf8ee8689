//! Arbitrary records as a TCC coordinator's log: opening it never panics,
//! and what it recovers never holds a decision no record made. Whatever
//! opens, a coordinator can keep writing to.
#![no_main]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use gasbao_core::journal::{Journal, JournalOptions, MemoryStorage};
use gasbao_tcc::{CoordinatorLog, JournalLog, LogEntry, SyncStrategy};
use libfuzzer_sys::fuzz_target;

/// The log's futures never wait with the inline strategy.
fn ready<T>(future: impl Future<Output = T>) -> T {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("an inline log waited"),
    }
}

/// Splits the input into records, each prefixed by one length byte.
fn records(mut data: &[u8]) -> Vec<&[u8]> {
    let mut records = Vec::new();
    while let Some((&len, rest)) = data.split_first() {
        let len = usize::from(len).min(rest.len());
        records.push(&rest[..len]);
        data = &rest[len..];
    }
    records
}

/// Small allocations: the default megabyte of zeros per segment dominates a run.
fn options() -> JournalOptions {
    let mut options = JournalOptions::default();
    options.allocation_chunk = 4096;
    options
}

fuzz_target!(|data: &[u8]| {
    let storage = MemoryStorage::new();
    let records = records(data);
    {
        let (journal, _) = Journal::open(storage.clone(), options()).expect("a new journal");
        journal
            .append_batch(records.iter().copied())
            .expect("memory accepts records");
    }
    // Record kinds that can carry a decision: an entry (1, 2) or a snapshot's transaction (1, 0x11).
    let deciding = records
        .iter()
        .filter(|r| matches!(r.get(..2), Some([1, 2] | [1, 0x11])))
        .count();
    let Ok(log) = JournalLog::open(storage, options(), SyncStrategy::Inline) else {
        return;
    };
    let recovered = ready(log.recover()).expect("recovering an open log does not fail");
    let decided = recovered.live.values().filter(|tx| tx.decision.is_some()).count();
    assert!(
        decided <= deciding,
        "{decided} decisions recovered from {deciding} records that could hold one"
    );
    for tx in recovered.live.values() {
        assert_eq!(tx.settled.len(), tx.record.branches.len());
        assert!(
            tx.parked.is_none() || tx.decision.is_some(),
            "parked without a decision"
        );
    }
    // The log accepts new work after whatever it recovered.
    if let Some(tx) = recovered.live.values().find(|tx| tx.decision.is_some()) {
        ready(log.write(&[LogEntry::Finished { gtid: tx.record.gtid }], true))
            .expect("finishing a decided transaction");
    }
    ready(log.compact()).expect("compaction");
});
