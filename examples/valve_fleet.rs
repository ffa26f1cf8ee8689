//! A fleet of gas meters with remotely operated valves, synchronised with
//! gasbao-shadow over flaky links.
//!
//! The back end keeps one shadow per meter in an embedded journal store.
//! Devices keep working offline: readings and local valve actions go to
//! each device's durable queue. Meanwhile the back end closes the valves of
//! unpaid accounts and reopens one after a top-up. On reconnect each device
//! replays its queue; the merge rules decide per field (the meter index
//! never goes back, a valve closed on a leak alarm stays closed), and the
//! example prints each device's journey through the sync state machine and
//! the final documents.
//!
//! `cargo run --example valve_fleet`

use std::error::Error;
use std::sync::{Arc, Mutex, PoisonError};

use gasbao::core::journal::{FileStorage, JournalOptions};
use gasbao::shadow::{
    DesiredField, DeviceShadow, DocumentView, FieldPolicy, JournalStore, QueueOptions, ShadowId, ShadowRules,
    ShadowService, SyncState, ThingName, Timestamp, Transition,
};
use serde_json::{Map, Value, json};

const METERS: u64 = 6;
const START_MS: u64 = 1_764_900_000_000;

/// The fleet's merge and command rules, shared by the back end and devices.
fn rules() -> ShadowRules {
    ShadowRules::default()
        .merge("meter.index", FieldPolicy::MaxWins)
        .merge("valve", FieldPolicy::SafetyFirst { safe: json!("closed") })
        // Every open and close reaches the valve, in order.
        .desired("valve", DesiredField::default().ordered())
        // A reporting interval the device confirmed is not re-sent.
        .desired("interval_s", DesiredField::clear_on_ack())
        .skip_no_op_updates()
}

/// One simulated meter: its shadow and the transitions it went through.
struct Meter {
    device: DeviceShadow,
    journey: Arc<Mutex<Vec<Transition>>>,
    index_m3: f64,
}

/// `Idle -> PendingSync (12 events) -> OfflineCommitting -> Idle`.
fn describe(journey: &[Transition]) -> String {
    let mut steps: Vec<(SyncState, usize)> = vec![(journey.first().map_or(SyncState::Idle, |t| t.from), 0)];
    for transition in journey {
        match steps.last_mut() {
            Some((state, count)) if *state == transition.to => *count += 1,
            _ => steps.push((transition.to, 1)),
        }
    }
    let steps: Vec<String> = steps
        .iter()
        .map(|(state, count)| {
            if *count > 1 {
                format!("{state:?} ({count} events)")
            } else {
                format!("{state:?}")
            }
        })
        .collect();
    steps.join(" -> ")
}

fn members(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(members) => members,
        _ => Map::new(),
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::env::temp_dir().join(format!("gasbao-valve-fleet-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = JournalStore::open(FileStorage::new(dir.join("cloud"))?, JournalOptions::default())?;
    let cloud = ShadowService::new(store, rules());

    // Day 0: every meter is online, open, and in sync.
    let mut fleet = Vec::new();
    for n in 0..METERS {
        let id = ShadowId::classic(ThingName::new(format!("meter-{n:03}"))?);
        let initial = json!({"state": {"desired": {"valve": "open"}, "reported": {"valve": "open", "meter": {"index": 1000.0 + n as f64}}}});
        cloud.update(
            &id,
            initial.to_string().as_bytes(),
            Timestamp::from_secs(START_MS / 1000),
        )?;
        let journey = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&journey);
        let storage = FileStorage::new(dir.join(format!("device-{n}")))?;
        let mut device = DeviceShadow::open(id.clone(), storage, QueueOptions::new(n + 1), rules())?
            .observe(move |t| seen.lock().unwrap_or_else(PoisonError::into_inner).push(*t));
        device.adopt(cloud.get(&id)?.document.clone())?;
        fleet.push(Meter {
            device,
            journey,
            index_m3: 1000.0 + n as f64,
        });
    }

    // Meters 0-3 lose their link for the day and keep reading offline.
    for hour in 1..=12u64 {
        let wall_ms = START_MS + hour * 3_600_000;
        for meter in fleet.iter_mut().take(4) {
            meter.index_m3 += 1.25;
            let reading = json!({"meter": {"index": meter.index_m3}, "battery_pct": 97 - hour / 4});
            meter.device.report(members(reading), wall_ms)?;
        }
    }
    // Meter 2 smells gas at 09:00 and closes its own valve.
    let leak_ms = START_MS + 9 * 3_600_000;
    fleet[2].device.desire(members(json!({"valve": "closed"})), leak_ms)?;
    fleet[2]
        .device
        .report(members(json!({"valve": "closed", "alarm": "gas-leak"})), leak_ms)?;

    // Meanwhile the back end: accounts 1, 2 and 4 are unpaid; 1 tops up later.
    let back_end = |n: u64, desired: Value, at_ms: u64| -> Result<(), Box<dyn Error>> {
        let id = ShadowId::classic(ThingName::new(format!("meter-{n:03}"))?);
        let body = json!({"state": {"desired": desired}});
        cloud.update(&id, body.to_string().as_bytes(), Timestamp::from_secs(at_ms / 1000))?;
        Ok(())
    };
    for n in [1, 2, 4] {
        back_end(
            n,
            json!({"valve": "closed", "interval_s": 900}),
            START_MS + 6 * 3_600_000,
        )?;
    }
    back_end(1, json!({"valve": "open"}), START_MS + 10 * 3_600_000)?;
    // An operator reopens meter 2 at 11:00, not knowing about the leak.
    back_end(2, json!({"valve": "open"}), START_MS + 11 * 3_600_000)?;

    // Evening: every link comes back; each device replays its queue.
    for meter in &mut fleet {
        meter.device.network_ready()?;
        let report = meter.device.sync(&mut &cloud, 4)?;
        if report.applied > 0 {
            println!(
                "{}: replayed {} entries, {} skipped",
                meter.device.id(),
                report.applied,
                report.skipped
            );
        }
    }

    // Online devices act on the delta and report back; the interval they
    // confirm is cleared, so it never returns as a ghost command.
    for meter in &mut fleet {
        let id = meter.device.id().clone();
        let shadow = cloud.get(&id)?;
        let commands: Vec<&str> = shadow
            .document
            .commands()
            .since(0)
            .filter_map(|c| c.value.as_ref().and_then(Value::as_str))
            .collect();
        if !shadow.document.delta().is_empty() {
            let applied = Value::Object(shadow.document.delta().clone());
            let body = json!({"state": {"reported": applied}});
            cloud.update(
                &id,
                body.to_string().as_bytes(),
                Timestamp::from_secs(START_MS / 1000 + 13 * 3_600),
            )?;
        }
        println!("{id}: valve commands in order: {}", commands.join(", "));
    }

    println!();
    for meter in &fleet {
        let id = meter.device.id();
        let journey = meter.journey.lock().unwrap_or_else(PoisonError::into_inner);
        println!("{id}: {}", describe(&journey));
        assert_ne!(
            meter.device.state(),
            SyncState::SyncConflict,
            "no field of this fleet is merged by hand"
        );
    }

    println!("\nFinal documents:");
    for meter in &fleet {
        let shadow = cloud.get(meter.device.id())?;
        let view = DocumentView::new(
            &shadow.document,
            Timestamp::from_secs(START_MS / 1000 + 14 * 3_600),
            None,
        );
        let json = serde_json::to_value(view)?;
        println!(
            "{}: v{} {}",
            meter.device.id(),
            shadow.document.version(),
            json["state"]
        );
    }
    let leaking = cloud.get(fleet[2].device.id())?;
    assert_eq!(
        leaking.document.desired()["valve"],
        "closed",
        "the leak close outranks the operator's open"
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
