//! The offline queue on storage that loses power at its nth sync, for every
//! n the workload reaches, with torn tails: after the restart no entry whose
//! push returned is lost, and none takes effect twice in the cloud.

use std::collections::HashMap;

use gasbao_core::journal::{CrashStorage, JournalOptions};
use gasbao_shadow::{
    CloudLink, DeviceShadow, EntryOutcome, LinkError, MemoryStore, QueueEntry, QueueOptions, ReplayReport,
    ShadowDocument, ShadowId, ShadowRules, ShadowService, SyncState, ThingName, TxId,
};
use serde_json::json;

/// The cloud, counting how often each transaction took effect.
struct CountingCloud {
    service: ShadowService<MemoryStore>,
    applied: HashMap<TxId, u32>,
}

impl CloudLink for CountingCloud {
    fn replay(
        &mut self,
        id: &ShadowId,
        entries: &[&QueueEntry],
        base: u64,
    ) -> Result<(ReplayReport, ShadowDocument), LinkError> {
        let (report, shadow) = self
            .service
            .replay(id, entries, base)
            .map_err(|e| LinkError::Failed(e.to_string()))?;
        for (tx_id, outcome) in &report.outcomes {
            if matches!(outcome, EntryOutcome::Applied { .. } | EntryOutcome::Unchanged) {
                *self.applied.entry(*tx_id).or_default() += 1;
            }
        }
        Ok((report, shadow.document.clone()))
    }
}

fn meter() -> ShadowId {
    ShadowId::classic(ThingName::new("meter-9").unwrap())
}

fn options() -> QueueOptions {
    let mut journal = JournalOptions::default();
    journal.allocation_chunk = 1024;
    journal.segment_size = 2048;
    QueueOptions::new(11).journal(journal)
}

const READINGS: u64 = 24;

/// Pushes readings, syncing every fifth; stops at the first failure (the
/// crash). Returns the transactions whose push returned.
fn workload(disk: &CrashStorage, cloud: &mut CountingCloud) -> Vec<TxId> {
    let mut pushed = Vec::new();
    let Ok(mut device) = DeviceShadow::open(meter(), disk.clone(), options(), ShadowRules::default()) else {
        return pushed;
    };
    for n in 0..READINGS {
        match device.report(
            json!({"index": n * 10, "reading": n}).as_object().unwrap().clone(),
            1_000 * n,
        ) {
            Ok(entry) => pushed.push(entry.tx_id),
            Err(_) => return pushed,
        }
        if n % 5 == 4 {
            if device.network_ready().is_err() || device.sync(cloud, 3).is_err() {
                return pushed;
            }
            let _ = device.network_lost();
        }
    }
    pushed
}

fn check(crash_at: u64, torn: usize) -> u64 {
    let disk = if crash_at == 0 {
        CrashStorage::new()
    } else {
        CrashStorage::new().crash_at_sync(crash_at).torn_bytes(torn)
    };
    let mut cloud = CountingCloud {
        service: ShadowService::in_memory(ShadowRules::default()),
        applied: HashMap::new(),
    };
    let pushed = workload(&disk, &mut cloud);
    let syncs = disk.syncs();
    if std::env::var("CRASH_DEBUG").is_ok() {
        eprintln!(
            "crash at {crash_at} torn {torn}: {} pushed, {syncs} syncs",
            pushed.len()
        );
    }

    // Power back: reopen and sync whatever survived.
    let disk = disk.restart();
    let mut device = DeviceShadow::open(meter(), disk, options(), ShadowRules::default())
        .unwrap_or_else(|e| panic!("crash at sync {crash_at}, torn {torn}: reopen failed: {e}"));
    device.network_ready().unwrap();
    device.sync(&mut cloud, 4).unwrap();
    assert_eq!(device.state(), SyncState::Idle, "crash at sync {crash_at}");
    assert!(device.queue().is_empty());

    for tx_id in &pushed {
        assert_eq!(
            cloud.applied.get(tx_id),
            Some(&1),
            "crash at sync {crash_at}, torn {torn}: {tx_id} was acknowledged to the caller"
        );
    }
    for (tx_id, count) in &cloud.applied {
        assert_eq!(
            *count, 1,
            "crash at sync {crash_at}, torn {torn}: {tx_id} took effect {count} times"
        );
    }
    // Counters never repeat: ids are unique even across the crash.
    let mut counters: Vec<u64> = cloud.applied.keys().map(|t| t.counter).collect();
    counters.sort_unstable();
    counters.dedup();
    assert_eq!(counters.len(), cloud.applied.len());
    syncs
}

#[test]
fn no_acknowledged_entry_is_lost_and_none_applies_twice_at_any_crash() {
    let total = check(0, 0);
    assert!(
        total > READINGS,
        "the workload syncs at least once per reading ({total})"
    );
    for crash_at in 1..=total {
        for torn in [0, 7, 100] {
            check(crash_at, torn);
        }
    }
}
