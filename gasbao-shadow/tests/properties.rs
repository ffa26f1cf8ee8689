//! Properties of shadows, queues and sync, against oracles written here.

use std::collections::BTreeMap;

use gasbao_core::journal::{JournalOptions, MemoryStorage};
use gasbao_shadow::{
    DesiredField, DeviceShadow, EntryOutcome, FieldPolicy, Limits, OfflineQueue, QueueOptions, Rejection, ServiceError,
    ShadowDocument, ShadowId, ShadowRules, ShadowService, ShadowStore, SyncState, ThingName, Timestamp, UpdateRequest,
};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn small_journal() -> JournalOptions {
    let mut options = JournalOptions::default();
    options.allocation_chunk = 4096;
    options.segment_size = 16 * 1024;
    options
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (0u32..5).prop_map(|n| json!(n)),
        (0u32..5).prop_map(|n| json!(f64::from(n))),
        "[ab]{0,2}".prop_map(Value::String),
        proptest::collection::vec((0u32..3).prop_map(|n| json!(n)), 0..3).prop_map(Value::Array),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 12, 3, |inner| {
        proptest::collection::btree_map("[xyz]", inner, 0..3).prop_map(|m| Value::Object(m.into_iter().collect()))
    })
}

fn members() -> impl Strategy<Value = Map<String, Value>> {
    proptest::collection::btree_map("valve|interval|meter|tariff", value(), 0..3).prop_map(|m| m.into_iter().collect())
}

#[derive(Debug, Clone)]
enum Section {
    Desired(Map<String, Value>),
    Reported(Map<String, Value>),
    ClearDesired,
}

fn section_update() -> impl Strategy<Value = Section> {
    prop_oneof![
        6 => members().prop_map(Section::Desired),
        6 => members().prop_map(Section::Reported),
        1 => Just(Section::ClearDesired),
    ]
}

fn to_request(update: &Section) -> Value {
    match update {
        Section::Desired(m) => json!({"state": {"desired": m}}),
        Section::Reported(m) => json!({"state": {"reported": m}}),
        Section::ClearDesired => json!({"state": {"desired": null}}),
    }
}

// The oracle: AWS merge and delta written out directly, on whole values.

fn oracle_merge(target: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (key, value) in patch {
        match value {
            Value::Null => {
                target.remove(key);
            }
            Value::Object(inner) => {
                let mut base = match target.get(key) {
                    Some(Value::Object(existing)) => existing.clone(),
                    _ => Map::new(),
                };
                let was_object = matches!(target.get(key), Some(Value::Object(_)));
                oracle_merge(&mut base, inner);
                if base.is_empty() {
                    if was_object {
                        target.remove(key);
                    }
                } else {
                    target.insert(key.clone(), Value::Object(base));
                }
            }
            other => {
                target.insert(key.clone(), other.clone());
            }
        }
    }
}

fn same_number(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_number(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_number(v, w)))
        }
        _ => a == b,
    }
}

fn oracle_delta(desired: &Map<String, Value>, reported: &Map<String, Value>) -> Map<String, Value> {
    let mut delta = Map::new();
    for (key, want) in desired {
        match (want, reported.get(key)) {
            (Value::Object(inner), Some(Value::Object(have))) => {
                let inner = oracle_delta(inner, have);
                if !inner.is_empty() {
                    delta.insert(key.clone(), Value::Object(inner));
                }
            }
            (want, Some(have)) if same_number(want, have) => {}
            (want, _) => {
                delta.insert(key.clone(), want.clone());
            }
        }
    }
    delta
}

fn meter() -> ShadowId {
    ShadowId::classic(ThingName::new("meter-1").unwrap())
}

proptest! {
    /// After every update the state is the oracle's merge, the delta is the
    /// oracle's delta from scratch, and the document's own invariants hold.
    #[test]
    fn state_and_delta_match_the_oracle(updates in proptest::collection::vec(section_update(), 1..20)) {
        let rules = ShadowRules::default();
        let mut shadow = ShadowDocument::new();
        let (mut desired, mut reported) = (Map::new(), Map::new());
        for (i, update) in updates.iter().enumerate() {
            let request = UpdateRequest::from_value(to_request(update), &rules.limits).unwrap();
            shadow.update(request, Timestamp::from_secs(i as u64), &rules).unwrap();
            match update {
                Section::Desired(m) => oracle_merge(&mut desired, m),
                Section::Reported(m) => oracle_merge(&mut reported, m),
                Section::ClearDesired => desired.clear(),
            }
            prop_assert_eq!(shadow.desired(), &desired);
            prop_assert_eq!(shadow.reported(), &reported);
            prop_assert_eq!(shadow.delta(), &oracle_delta(&desired, &reported));
            prop_assert_eq!(shadow.invariant_violation(), None);
        }
    }

    /// S3: an accepted update bumps the version by exactly one; a rejected
    /// one (stale version, too large) changes nothing at all.
    #[test]
    fn versions_move_by_one_and_rejections_change_nothing(
        updates in proptest::collection::vec((section_update(), proptest::option::of(0u64..6)), 1..24),
    ) {
        let rules = ShadowRules::default().limits(Limits::default().max_state_bytes(120));
        let mut shadow = ShadowDocument::new();
        for (i, (update, version)) in updates.iter().enumerate() {
            let mut request = UpdateRequest::from_value(to_request(update), &rules.limits).unwrap();
            request.version = *version;
            let before = shadow.clone();
            match shadow.update(request, Timestamp::from_secs(i as u64), &rules) {
                Ok(outcome) => {
                    prop_assert!(version.is_none_or(|v| v == before.version()));
                    prop_assert_eq!(shadow.version(), before.version() + 1);
                    prop_assert_eq!(outcome.accepted.version, shadow.version());
                    prop_assert!(shadow.state_len() <= 120);
                }
                Err(Rejection::VersionConflict { expected, current }) => {
                    prop_assert_eq!((Some(expected), current), (*version, before.version()));
                    prop_assert_eq!(&shadow, &before);
                }
                Err(Rejection::TooLarge { bytes, max, .. }) => {
                    prop_assert!(bytes > max);
                    prop_assert_eq!(&shadow, &before);
                }
                Err(other) => prop_assert!(false, "unexpected rejection {other}"),
            }
        }
    }

    /// S1: replaying the offline queue twice (or a batch again after a lost
    /// answer) leaves the shadow exactly as replaying it once.
    #[test]
    fn replaying_the_queue_twice_equals_once(
        updates in proptest::collection::vec(prop_oneof![members().prop_map(Section::Reported), members().prop_map(Section::Desired)], 1..16),
        split in 0usize..16,
    ) {
        let mut queue = OfflineQueue::open(MemoryStorage::new(), QueueOptions::new(9).journal(small_journal())).unwrap();
        for (i, update) in updates.iter().enumerate() {
            queue.push(&to_request(update), 1_000 * i as u64).unwrap();
        }
        let entries: Vec<_> = queue.pending().collect();
        let once = ShadowService::in_memory(ShadowRules::default());
        once.replay(&meter(), &entries, 0).unwrap();

        let twice = ShadowService::in_memory(ShadowRules::default());
        let split = split.min(entries.len());
        twice.replay(&meter(), &entries[..split], 0).unwrap();
        let (report, _) = twice.replay(&meter(), &entries, 0).unwrap();
        let (again, _) = twice.replay(&meter(), &entries, 0).unwrap();
        prop_assert_eq!(&twice.store().load(&meter()).unwrap().unwrap().document, &once.store().load(&meter()).unwrap().unwrap().document);
        for (i, (_, outcome)) in report.outcomes.iter().enumerate() {
            if i < split {
                prop_assert_eq!(outcome, &EntryOutcome::Skipped);
            }
        }
        prop_assert!(again.outcomes.iter().all(|(_, o)| *o == EntryOutcome::Skipped));
    }

    /// S2: after offline device writes and concurrent cloud writes, a sync
    /// either converges (device view = cloud document, monotone fields at
    /// the maximum ever written, the device's close kept) or leaves the
    /// device in SyncConflict with both values kept.
    #[test]
    fn device_and_cloud_converge_or_keep_both_values(
        device_writes in proptest::collection::vec((0u64..2_000, 0u32..3, prop_oneof![Just("open"), Just("closed")], "[ab]"), 1..8),
        cloud_writes in proptest::collection::vec((0u64..2_000, 0u32..3, prop_oneof![Just("open"), Just("closed")], "[ab]"), 0..6),
        manual_label in any::<bool>(),
    ) {
        let mut rules = ShadowRules::default()
            .merge("index", FieldPolicy::MaxWins)
            .merge("valve", FieldPolicy::SafetyFirst { safe: json!("closed") });
        if manual_label {
            rules = rules.merge("label", FieldPolicy::Manual);
        }
        let service = ShadowService::in_memory(rules.clone());
        service.update(&meter(), br#"{"state": {"reported": {"index": 0, "label": "z"}, "desired": {"valve": "open"}}}"#, Timestamp::from_secs(1)).unwrap();

        let storage = MemoryStorage::new();
        let mut device = DeviceShadow::open(meter(), storage, QueueOptions::new(3).journal(small_journal()), rules).unwrap();
        device.adopt(service.get(&meter()).unwrap().document.clone()).unwrap();

        // MaxWins arbitrates replayed writes; plain cloud updates are AWS's.
        let mut max_index = 0u32;
        let mut cloud_index = 0u32;
        let mut device_closed = false;
        let mut device_label = None;
        for (ms, step, valve, label) in &device_writes {
            let index = max_index + step;
            max_index = max_index.max(index);
            device.report(json!({"index": index, "label": label}).as_object().unwrap().clone(), 10_000 + ms).unwrap();
            device.desire(json!({"valve": valve}).as_object().unwrap().clone(), 10_000 + ms).unwrap();
            device_closed = *valve == "closed";
            device_label = Some(label.clone());
        }
        let mut cloud_label = None;
        for (ms, step, valve, label) in &cloud_writes {
            let index = step * 2;
            cloud_index = index;
            let body = json!({"state": {"reported": {"index": index, "label": label}, "desired": {"valve": valve}}});
            service.update(&meter(), body.to_string().as_bytes(), Timestamp::from_secs((10_000 + ms) / 1000)).unwrap();
            cloud_label = Some(label.clone());
        }
        prop_assert_eq!(device.state(), SyncState::PendingSync);
        device.network_ready().unwrap();
        device.sync(&mut &service, 3).unwrap();

        let cloud = service.get(&meter()).unwrap();
        prop_assert!(device.queue().is_empty() || device.state() == SyncState::SyncConflict);
        prop_assert_eq!(cloud.document.reported()["index"].as_u64(), Some(u64::from(max_index.max(cloud_index))));
        if device_closed {
            prop_assert_eq!(&cloud.document.desired()["valve"], "closed");
        }
        match device.state() {
            SyncState::Idle => {
                prop_assert_eq!(device.view().desired(), cloud.document.desired());
                prop_assert_eq!(device.view().reported(), cloud.document.reported());
                prop_assert!(device.conflicts().is_empty());
            }
            SyncState::SyncConflict => {
                prop_assert!(manual_label);
                let conflict = &device.conflicts()[0];
                prop_assert_eq!(conflict.path.as_str(), "label");
                // Both values kept: the cloud's in the document, the device's in the conflict.
                let (device_value, cloud_value) = (device_label.map(|l| json!(l)), cloud_label.map(|l| json!(l)));
                prop_assert_eq!(conflict.device.as_ref(), device_value.as_ref());
                prop_assert_eq!(Some(&cloud.document.reported()["label"]), cloud_value.as_ref());
                prop_assert!(!cloud.document.conflicts().is_empty());
            }
            other => prop_assert!(false, "sync ended in {other:?}"),
        }
    }

    /// S5: once an acknowledgement cleared a desired field, later local
    /// reports of that field never produce a delta for it.
    #[test]
    fn an_acknowledged_field_never_returns_as_a_delta(reports in proptest::collection::vec(prop_oneof![Just("open"), Just("closed"), Just("half")], 0..12)) {
        let rules = ShadowRules::default().desired("valve", DesiredField::clear_on_ack());
        let service = ShadowService::in_memory(rules);
        service.update(&meter(), br#"{"state": {"desired": {"valve": "closed"}}}"#, Timestamp::from_secs(1)).unwrap();
        let reply = service.update(&meter(), br#"{"state": {"reported": {"valve": "closed"}}}"#, Timestamp::from_secs(2)).unwrap();
        prop_assert_eq!(reply.outcome.cleared, vec!["valve".to_owned()]);
        for (i, valve) in reports.iter().enumerate() {
            let body = json!({"state": {"reported": {"valve": valve}}});
            let reply = service.update(&meter(), body.to_string().as_bytes(), Timestamp::from_secs(3 + i as u64)).unwrap();
            prop_assert_eq!(reply.outcome.delta, None);
            prop_assert!(reply.current.document.delta().get("valve").is_none());
        }
    }
}

#[test]
fn a_reused_tx_id_with_another_payload_is_refused_and_not_applied() {
    let service = ShadowService::in_memory(ShadowRules::default());
    let mut queue = OfflineQueue::open(MemoryStorage::new(), QueueOptions::new(5)).unwrap();
    let first = queue
        .push(&json!({"state": {"reported": {"index": 1}}}), 1_000)
        .unwrap();
    service.replay(&meter(), &[&first], 0).unwrap();

    // A second device misconfigured with the same origin writes its own counter 1.
    let mut clone = OfflineQueue::open(MemoryStorage::new(), QueueOptions::new(5)).unwrap();
    let forged = clone
        .push(&json!({"state": {"reported": {"index": 999}}}), 2_000)
        .unwrap();
    assert_eq!(forged.tx_id, first.tx_id);
    let (report, shadow) = service.replay(&meter(), &[&forged], 0).unwrap();
    assert!(
        matches!(&report.outcomes[0].1, EntryOutcome::Refused(gasbao_shadow::ReplayError::TxIdReused { tx_id, .. }) if *tx_id == first.tx_id)
    );
    assert!(report.acknowledged().is_empty());
    assert_eq!(shadow.document.reported()["index"], 1);
}

#[test]
fn a_replayed_entry_that_breaks_a_limit_is_rejected_once_and_acknowledged() {
    let rules = ShadowRules::default().limits(Limits::default().max_state_bytes(40));
    let service = ShadowService::new(gasbao_shadow::MemoryStore::new(), rules);
    let mut queue = OfflineQueue::open(MemoryStorage::new(), QueueOptions::new(5)).unwrap();
    let big = queue
        .push(&json!({"state": {"reported": {"blob": "x".repeat(100)}}}), 1_000)
        .unwrap();
    let small = queue
        .push(&json!({"state": {"reported": {"index": 7}}}), 2_000)
        .unwrap();
    let (report, shadow) = service.replay(&meter(), &[&big, &small], 0).unwrap();
    assert!(matches!(
        report.outcomes[0].1,
        EntryOutcome::Rejected(Rejection::TooLarge { .. })
    ));
    assert_eq!(report.acknowledged(), [big.tx_id, small.tx_id]);
    assert_eq!(shadow.document.reported()["index"], 7);
    let _ = ServiceError::Rejected(Rejection::MissingState);
    let _: BTreeMap<(), ()> = BTreeMap::new();
}
