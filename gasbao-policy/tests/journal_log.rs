//! Decisions logged to gasbao-core's journal survive reopening, verify, and
//! keep personal fields masked.

mod support;

use std::sync::Arc;

use gasbao_core::journal::{FileStorage, Journal, JournalOptions, verify};
use gasbao_policy::{EngineOptions, JournalDecisionLog, MASKED, PolicyEngine, PreparedBundle, SUBSIDY_ENTRYPOINT};
use serde_json::{Value, json};
use support::{reference, with};

#[test]
fn decisions_are_durable_journal_records() {
    let dir = tempfile::tempdir().unwrap();
    let (journal, _) = Journal::open(FileStorage::new(dir.path()).unwrap(), JournalOptions::default()).unwrap();
    let log = Arc::new(JournalDecisionLog::new(Arc::new(journal)));
    let engine = PolicyEngine::with_options(
        PreparedBundle::new(&reference()).unwrap(),
        EngineOptions::default().decision_log(log.clone()),
    );
    let incomes = [300_000u64, 600_000, 450_000];
    let answers: Vec<Value> = incomes
        .iter()
        .map(|&income| {
            engine
                .evaluate::<Value>(SUBSIDY_ENTRYPOINT, &with(json!({"monthly_income_fen": income})))
                .unwrap()
                .output
        })
        .collect();
    drop(engine);
    drop(log);

    // Reopened from disk, the journal holds one record per decision, in order.
    let storage = FileStorage::new(dir.path()).unwrap();
    let report = verify(&storage, &[]).unwrap();
    assert_eq!((report.first_seq, report.next_seq), (0, 3));
    let (journal, _) = Journal::open(storage, JournalOptions::default()).unwrap();
    let records: Vec<Value> = journal
        .read_from(0)
        .unwrap()
        .map(|r| serde_json::from_slice(&r.unwrap().payload).unwrap())
        .collect();
    for ((record, income), answer) in records.iter().zip(incomes).zip(&answers) {
        assert_eq!(record["input"]["monthly_income_fen"], income);
        assert_eq!(record["input"]["name"], MASKED);
        assert_eq!(&record["result"], answer);
    }
}
