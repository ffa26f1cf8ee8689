//! Arbitrary records as a device's offline queue journal: opening it never
//! panics; whatever opens can be replayed into a shadow without panicking,
//! and accepts new entries whose ids come after every id it holds.
#![no_main]

use gasbao_fuzz::{journal_holding, length_prefixed_records, small_journal_options};
use gasbao_shadow::{AppliedIndex, OfflineQueue, QueueError, QueueOptions, ShadowDocument, ShadowRules, replay};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let storage = journal_holding(&length_prefixed_records(data));
    // The origin is the first eight bytes of the input (zero if short), so
    // that entries of "this" device are reachable.
    let origin = data
        .get(3..11)
        .map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap_or_default()));
    let Ok(mut queue) = OfflineQueue::open(storage, QueueOptions::new(origin).journal(small_journal_options())) else {
        return;
    };
    let highest = queue.pending().map(|e| e.tx_id.counter).max().unwrap_or(0);
    let entries: Vec<_> = queue.pending().cloned().collect();
    let refs: Vec<_> = entries.iter().collect();
    let mut shadow = ShadowDocument::new();
    let report = replay(&mut shadow, &mut AppliedIndex::new(), &refs, 0, &ShadowRules::default());
    assert_eq!(report.outcomes.len(), entries.len());
    assert_eq!(shadow.invariant_violation(), None);
    match queue.push(&serde_json::json!({"state": {"reported": {"i": 1}}}), 0) {
        Ok(next) => {
            assert!(next.tx_id.counter > highest, "{} reused after {highest}", next.tx_id);
            queue.acknowledge(&[next.tx_id]).expect("memory appends");
        }
        // A forged record can claim the last counter; then no id is reused.
        Err(QueueError::IdsExhausted { .. }) => {}
        Err(other) => panic!("{other}"),
    }
});
