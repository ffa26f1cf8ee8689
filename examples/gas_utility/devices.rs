//! Devices: a shadow per meter in the back end's store, and the meters
//! that spend the month offline, queueing their readings locally.

use std::path::Path;

use gasbao::core::journal::{FileStorage, JournalOptions};
use gasbao::shadow::{
    DesiredField, DeviceShadow, FieldPolicy, JournalStore, QueueOptions, ShadowId, ShadowRules, ShadowService,
    SyncState, ThingName, Timestamp,
};
use serde_json::{Map, Value, json};

use crate::Failure;
use crate::ingest::Usage;
use crate::meters::{LEAKING_METER, Meter, MeterClock};

/// The fleet's rules, shared by the back end and the meters' firmware.
pub(crate) fn rules() -> ShadowRules {
    ShadowRules::default()
        // A replayed old reading never moves a meter back.
        .merge("meter.index_m3", FieldPolicy::MaxWins)
        // A valve closed on a leak alarm stays closed whatever the cloud says.
        .merge("valve", FieldPolicy::SafetyFirst { safe: json!("closed") })
        .desired("valve", DesiredField::default().ordered())
        .skip_no_op_updates()
}

pub(crate) fn shadow_id(meter: u32) -> Result<ShadowId, Failure> {
    Ok(ShadowId::classic(ThingName::new(format!("meter-{meter:05}"))?))
}

fn members(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(members) => members,
        _ => Map::new(),
    }
}

/// The back end's shadows, kept in a journal under `data_dir`.
pub(crate) fn open_store(data_dir: &Path) -> Result<ShadowService<JournalStore>, Failure> {
    let store = JournalStore::open(FileStorage::new(data_dir.join("shadows"))?, JournalOptions::default())?;
    Ok(ShadowService::new(store, rules()))
}

/// Day 0: every meter's shadow exists, valve open.
pub(crate) fn commission(
    service: &ShadowService<JournalStore>,
    meters: &[Meter],
    at: Timestamp,
) -> Result<(), Failure> {
    for meter in meters {
        let index = meter.opening_index_milli_m3 as f64 / 1000.0;
        let body = json!({"state": {"desired": {"valve": "open"}, "reported": {"valve": "open", "meter": {"index_m3": index}}}});
        service.update(&shadow_id(meter.id)?, body.to_string().as_bytes(), at)?;
    }
    Ok(())
}

/// End of the month: each online meter's shadow gets its closing index.
pub(crate) fn report_month(
    service: &ShadowService<JournalStore>,
    meters: &[Meter],
    usage: &Usage,
    at: Timestamp,
) -> Result<(), Failure> {
    for meter in meters.iter().filter(|m| !m.offline) {
        let index = usage.closing_index_milli_m3[meter.id as usize] as f64 / 1000.0;
        let body = json!({"state": {"reported": {"meter": {"index_m3": index}, "battery_pct": 96}}});
        service.update(&shadow_id(meter.id)?, body.to_string().as_bytes(), at)?;
    }
    Ok(())
}

/// Opens the offline meters' firmware shadows, each with its own queue
/// under `data_dir`.
pub(crate) fn open_offline(data_dir: &Path, meters: &[Meter]) -> Result<Vec<DeviceShadow>, Failure> {
    meters
        .iter()
        .filter(|m| m.offline)
        .map(|meter| {
            let storage = FileStorage::new(data_dir.join(format!("device-{:05}", meter.id)))?;
            let options = QueueOptions::new(u64::from(meter.id) + 1);
            Ok(DeviceShadow::open(shadow_id(meter.id)?, storage, options, rules())?)
        })
        .collect()
}

/// The offline meters' month: a reading a day into the local queue; the
/// leaking meter closes its own valve on its alarm.
pub(crate) fn live_offline(
    devices: &mut [DeviceShadow],
    meters: &[Meter],
    seed: u64,
    days: u8,
    month_start_ms: u64,
) -> Result<(), Failure> {
    for device in devices.iter_mut() {
        let id = device.id().thing.as_str().trim_start_matches("meter-").parse::<u32>()?;
        let meter = meters.get(id as usize).ok_or("a device without a meter")?;
        let mut clock = MeterClock::new(meter.clone(), seed);
        for day in 1..=days {
            let at = month_start_ms + u64::from(day) * 86_400_000;
            for hour in 0..24 {
                let reading = clock.next(day, hour);
                if meter.id == LEAKING_METER && reading.alarm != crate::meters::Alarm::None {
                    let leak_at = at - 86_400_000 + u64::from(hour) * 3_600_000;
                    device.desire(members(json!({"valve": "closed"})), leak_at)?;
                    device.report(members(json!({"valve": "closed", "alarm": "gas-leak"})), leak_at)?;
                }
            }
            let index = clock.index() as f64 / 1000.0;
            device.report(
                members(json!({"meter": {"index_m3": index}, "battery_pct": reading_battery(day)})),
                at,
            )?;
        }
    }
    Ok(())
}

fn reading_battery(day: u8) -> u8 {
    100 - day / 8
}

/// The back end asks for a valve to be closed (or opened) and says why.
pub(crate) fn set_valve(
    service: &ShadowService<JournalStore>,
    meter: u32,
    valve: &str,
    at: Timestamp,
) -> Result<(), Failure> {
    let body = json!({"state": {"desired": {"valve": valve}}});
    service.update(&shadow_id(meter)?, body.to_string().as_bytes(), at)?;
    Ok(())
}

/// Shadows by where they stand: in sync, waiting for the device to act on
/// a command, or (offline devices) by sync state.
#[derive(Debug, Default)]
pub(crate) struct Census {
    pub(crate) in_sync: usize,
    pub(crate) command_pending: usize,
    pub(crate) offline_idle: usize,
    pub(crate) offline_conflict: usize,
    pub(crate) offline_pending: usize,
}

pub(crate) fn census(
    service: &ShadowService<JournalStore>,
    meters: &[Meter],
    devices: &[DeviceShadow],
) -> Result<Census, Failure> {
    let mut census = Census::default();
    for meter in meters.iter().filter(|m| !m.offline) {
        let shadow = service.get(&shadow_id(meter.id)?)?;
        if shadow.document.delta().is_empty() {
            census.in_sync += 1
        } else {
            census.command_pending += 1
        }
    }
    for device in devices {
        match device.state() {
            SyncState::Idle => census.offline_idle += 1,
            SyncState::SyncConflict => census.offline_conflict += 1,
            _ => census.offline_pending += 1,
        }
    }
    Ok(census)
}
