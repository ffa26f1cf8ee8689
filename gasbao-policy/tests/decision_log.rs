//! Every decision reaches the log with personal fields masked; a decision
//! that cannot be logged is not given.

mod support;

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use gasbao_policy::{
    DecisionLog, DecisionLogError, DecisionRecord, EngineOptions, EvaluationError, JsonLinesLog, MASKED, PolicyEngine,
    PreparedBundle, SUBSIDY_ENTRYPOINT, SubsidyDecision,
};
use serde_json::{Value, json};
use support::{applicant, reference, with};

/// A writer shared with the test, to read what the log wrote.
#[derive(Clone, Default)]
struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn each_decision_is_one_json_line_with_personal_fields_masked() {
    let buffer = SharedBuffer::default();
    let options = EngineOptions::default().decision_log(Arc::new(JsonLinesLog::new(buffer.clone())));
    let engine = PolicyEngine::with_options(PreparedBundle::new(&reference()).unwrap(), options);
    let inputs = [applicant(), with(json!({"fraud_flag": true}))];
    let decisions: Vec<SubsidyDecision> = inputs
        .iter()
        .map(|i| engine.evaluate(SUBSIDY_ENTRYPOINT, i).unwrap().output)
        .collect();

    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    for ((line, input), decision) in lines.iter().zip(&inputs).zip(&decisions) {
        assert_eq!(line["revision"], "2026-11-heating-v1");
        assert_eq!(line["entrypoint"], SUBSIDY_ENTRYPOINT);
        assert_eq!(line["path"], "compiled");
        assert!(line["duration_ns"].as_u64().unwrap() > 0);
        assert_eq!(
            serde_json::from_value::<SubsidyDecision>(line["result"].clone()).unwrap(),
            *decision
        );
        // The manifest's personal fields are masked; everything else is as given.
        let mut masked = input.clone();
        for field in ["household_id", "name", "id_number"] {
            masked[field] = json!(MASKED);
        }
        assert_eq!(line["input"], masked);
    }
    assert!(!text.contains("Wang Fang") && !text.contains("310115198001010021"));
}

struct FullDisk;

impl DecisionLog for FullDisk {
    fn record(&self, _: &DecisionRecord<'_>) -> Result<(), DecisionLogError> {
        Err(DecisionLogError::Io(io::Error::new(
            io::ErrorKind::StorageFull,
            "disk full",
        )))
    }
}

#[test]
fn a_decision_that_cannot_be_logged_is_not_given() {
    let options = EngineOptions::default().decision_log(Arc::new(FullDisk));
    let engine = PolicyEngine::with_options(PreparedBundle::new(&reference()).unwrap(), options);
    match engine
        .evaluate::<SubsidyDecision>(SUBSIDY_ENTRYPOINT, &applicant())
        .unwrap_err()
    {
        EvaluationError::DecisionLog(DecisionLogError::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::StorageFull),
        other => panic!("{other:?}"),
    }
}

/// A log that itself asks the engine something must not deadlock or panic.
struct Reentrant(Mutex<Option<PolicyEngine>>, Mutex<u32>);

impl DecisionLog for Reentrant {
    fn record(&self, _: &DecisionRecord<'_>) -> Result<(), DecisionLogError> {
        let engine = self.0.lock().unwrap().clone();
        let mut depth = self.1.lock().unwrap();
        if *depth == 0 {
            *depth += 1;
            drop(depth);
            if let Some(engine) = engine {
                let _ = engine.evaluate::<Value>(SUBSIDY_ENTRYPOINT, &applicant()).unwrap();
            }
        }
        Ok(())
    }
}

#[test]
fn a_log_may_ask_the_engine_again() {
    let log = Arc::new(Reentrant(Mutex::new(None), Mutex::new(0)));
    let engine = PolicyEngine::with_options(
        PreparedBundle::new(&reference()).unwrap(),
        EngineOptions::default().decision_log(log.clone()),
    );
    *log.0.lock().unwrap() = Some(engine.clone());
    assert!(
        engine
            .evaluate::<SubsidyDecision>(SUBSIDY_ENTRYPOINT, &applicant())
            .unwrap()
            .output
            .eligible
    );
    assert_eq!(*log.1.lock().unwrap(), 1);
    // Break the cycle engine -> log -> engine.
    log.0.lock().unwrap().take();
}

#[test]
fn a_record_carries_when_it_was_decided_and_the_callers_correlation_id() {
    let buffer = SharedBuffer::default();
    let options = EngineOptions::default().decision_log(Arc::new(JsonLinesLog::new(buffer.clone())));
    let engine = PolicyEngine::with_options(PreparedBundle::new(&reference()).unwrap(), options);
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    engine
        .evaluate::<SubsidyDecision>(SUBSIDY_ENTRYPOINT, &applicant())
        .unwrap();
    engine
        .evaluate_correlated::<SubsidyDecision>(SUBSIDY_ENTRYPOINT, &applicant(), "application-2026-0042")
        .unwrap();
    let after = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;

    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    for line in &lines {
        let at = line["decided_at_ms"].as_u64().unwrap();
        assert!((before..=after).contains(&at), "{at} not within {before}..={after}");
    }
    assert_eq!(lines[0].get("correlation_id"), None);
    assert_eq!(lines[1]["correlation_id"], "application-2026-0042");
}

/// A sink of the caller's own that is down.
struct BusDown;

impl DecisionLog for BusDown {
    fn record(&self, _decision: &DecisionRecord<'_>) -> Result<(), DecisionLogError> {
        Err(DecisionLogError::Sink("the message bus refused the connection".into()))
    }
}

#[test]
fn a_callers_own_sink_failing_fails_the_decision_with_its_error() {
    let options = EngineOptions::default().decision_log(Arc::new(BusDown));
    let engine = PolicyEngine::with_options(PreparedBundle::new(&reference()).unwrap(), options);
    let error = engine
        .evaluate::<SubsidyDecision>(SUBSIDY_ENTRYPOINT, &applicant())
        .unwrap_err();
    match error {
        EvaluationError::DecisionLog(DecisionLogError::Sink(cause)) => {
            assert_eq!(cause.to_string(), "the message bus refused the connection");
        }
        other => panic!("{other:?}"),
    }
}
