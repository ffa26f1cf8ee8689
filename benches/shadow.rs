//! gasbao-shadow's hot paths.
//!
//! `cargo bench --bench shadow`:
//! - `report_5_of_40/gasbao`: a 5-field reported update applied to a
//!   40-field meter shadow (40 desired, 40 reported), delta included, as
//!   [`ShadowDocument::update`] does it (metadata, size limit, version).
//! - `report_5_of_40/serde_json_baseline`: the straightforward way, in the
//!   same run: merge the update into a `serde_json::Value` document, then
//!   diff desired against reported from scratch.
//! - `replay/100k_from_journal`: open an offline queue of 100,000 readings
//!   (journal in memory) and replay every entry into a shadow, idempotency
//!   index and hash check included.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use gasbao::core::journal::MemoryStorage;
use gasbao::shadow::{
    AppliedIndex, OfflineQueue, QueueOptions, ShadowDocument, ShadowRules, Timestamp, UpdateRequest, replay,
};
use serde_json::{Map, Value, json};

const FIELDS: usize = 40;

/// A meter shadow: 40 settings desired, the same 40 reported, a third of
/// them still different.
fn meter_state() -> (Map<String, Value>, Map<String, Value>) {
    let mut desired = Map::new();
    let mut reported = Map::new();
    for i in 0..FIELDS {
        let key = format!("field_{i:02}");
        let value = match i % 4 {
            0 => json!(i * 10),
            1 => json!(format!("mode-{i}")),
            2 => json!(i % 3 == 0),
            _ => json!(f64::from(u32::try_from(i).unwrap_or(0)) * 1.5),
        };
        desired.insert(key.clone(), value.clone());
        reported.insert(key, if i % 3 == 0 { json!("pending") } else { value });
    }
    (desired, reported)
}

/// Five reported fields, alternating between two values so that every
/// iteration changes them.
fn report(round: u64) -> Map<String, Value> {
    let mut update = Map::new();
    for i in [3usize, 11, 19, 27, 35] {
        update.insert(format!("field_{i:02}"), json!(round % 2 + i as u64));
    }
    update
}

fn report_5_of_40(c: &mut Criterion) {
    let rules = ShadowRules::default();
    let (desired, reported) = meter_state();
    let mut shadow = ShadowDocument::new();
    let setup = UpdateRequest::from_value(
        json!({"state": {"desired": desired, "reported": reported}}),
        &rules.limits,
    )
    .expect("a 40-field shadow fits the limits");
    shadow.update(setup, Timestamp::from_secs(1), &rules).expect("accepted");

    let mut group = c.benchmark_group("report_5_of_40");
    let mut round = 0u64;
    group.bench_function("gasbao", |b| {
        b.iter_batched(
            || {
                round += 1;
                UpdateRequest::reported(report(round))
            },
            |request| {
                let outcome = shadow
                    .update(request, Timestamp::from_secs(2), &rules)
                    .expect("accepted");
                std::hint::black_box((outcome.accepted.version, shadow.delta().len()))
            },
            BatchSize::SmallInput,
        );
    });

    let mut document = json!({"state": {"desired": desired, "reported": reported}, "version": 1});
    let mut round = 0u64;
    group.bench_function("serde_json_baseline", |b| {
        b.iter_batched(
            || {
                round += 1;
                Value::Object(report(round))
            },
            |update| {
                merge(&mut document["state"]["reported"], update);
                let delta = diff(&document["state"]["desired"], &document["state"]["reported"]);
                document["state"]["delta"] = delta.unwrap_or(Value::Null);
                document["version"] = json!(document["version"].as_u64().unwrap_or(0) + 1);
                std::hint::black_box(document["state"]["delta"].as_object().map(Map::len))
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

/// RFC 7386 merge: objects merge, null deletes, anything else replaces.
fn merge(target: &mut Value, patch: Value) {
    let Value::Object(patch) = patch else {
        *target = patch;
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(map) = target {
        for (key, value) in patch {
            if value.is_null() {
                map.remove(&key);
            } else {
                merge(map.entry(key).or_insert(Value::Null), value);
            }
        }
    }
}

/// The desired leaves reported does not match, recomputed in full.
fn diff(desired: &Value, reported: &Value) -> Option<Value> {
    match (desired, reported) {
        (Value::Object(d), Value::Object(r)) => {
            let delta: Map<String, Value> = d
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), diff(v, r.get(k).unwrap_or(&Value::Null))?)))
                .collect();
            (!delta.is_empty()).then_some(Value::Object(delta))
        }
        (d, r) if d == r => None,
        (d, _) => Some(d.clone()),
    }
}

fn replay_100k(c: &mut Criterion) {
    const ENTRIES: u64 = 100_000;
    let storage = MemoryStorage::new();
    {
        let mut queue = OfflineQueue::open(storage.clone(), QueueOptions::new(7)).expect("queue");
        for i in 0..ENTRIES {
            let reading = json!({"state": {"reported": {"index": i * 3, "ts": 1_700_000_000 + i, "battery": 90}}});
            queue.push(&reading, 1_700_000_000_000 + i).expect("push");
        }
    }
    let rules = ShadowRules::default();
    let mut group = c.benchmark_group("replay");
    group.throughput(Throughput::Elements(ENTRIES));
    group.sample_size(10);
    group.bench_function("100k_from_journal", |b| {
        b.iter(|| {
            let queue = OfflineQueue::open(storage.clone(), QueueOptions::new(7)).expect("queue");
            let entries: Vec<_> = queue.pending().collect();
            let mut shadow = ShadowDocument::new();
            let mut applied = AppliedIndex::new();
            let report = replay(&mut shadow, &mut applied, &entries, 0, &rules);
            assert_eq!(report.applied(), ENTRIES as usize);
            std::hint::black_box(shadow.version())
        });
    });
    group.finish();
}

criterion_group!(benches, report_5_of_40, replay_100k);
criterion_main!(benches);
