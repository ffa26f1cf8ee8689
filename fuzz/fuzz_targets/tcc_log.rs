//! Arbitrary records as a TCC coordinator's log: opening it never panics,
//! and what it recovers never holds a decision no record made. Whatever
//! opens, a coordinator can keep writing to.
#![no_main]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use gasbao_fuzz::{journal_holding, length_prefixed_records, small_journal_options};
use gasbao_tcc::{CoordinatorLog, JournalLog, LogEntry, SyncStrategy};
use libfuzzer_sys::fuzz_target;

/// The log's futures never wait with the inline strategy.
fn ready<T>(future: impl Future<Output = T>) -> T {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("an inline log waited"),
    }
}

fuzz_target!(|data: &[u8]| {
    let records = length_prefixed_records(data);
    let storage = journal_holding(&records);
    // Record kinds that can carry a decision: an entry (1, 2) or a snapshot's transaction (1, 0x11).
    let deciding = records
        .iter()
        .filter(|r| matches!(r.get(..2), Some([1, 2] | [1, 0x11])))
        .count();
    let Ok(log) = JournalLog::open(storage, small_journal_options(), SyncStrategy::Inline) else {
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
