//! Arbitrary sequences of charges, clock advances, crashes of the
//! coordinator and of a participant, and barrier cleanups, with the
//! coordinator's disk crashing after a countdown: nothing panics, and after
//! the last restart and recovery every account's money and gas agree (each
//! charge takes a distinct power of two of both), nothing stays frozen, and
//! nothing is negative.
#![no_main]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use arbitrary::Arbitrary;
use gasbao_core::journal::{CrashStorage, JournalOptions};
use gasbao_core::{Money, Volume};
use gasbao_tcc::simulation::Simulation;
use gasbao_tcc::{
    AccountId, Barrier, Coordinator, CoordinatorConfig, CoordinatorId, GasQuota, JournalLog, LedgerOptions,
    ParticipantRef, Participants, PrepaidLedger, Reservation, RetryPolicy, SyncStrategy, Timestamp,
};
use libfuzzer_sys::fuzz_target;
use rust_decimal::Decimal;

const ACCOUNTS: u8 = 3;
const OPENING: i64 = 1 << 12;

#[derive(Debug, Arbitrary)]
enum Operation {
    Charge { account: u8, timeout_ms: u16 },
    Advance { ms: u16 },
    CrashCoordinator,
    CrashLedger,
    Cleanup,
}

#[derive(Debug, Arbitrary)]
struct Input {
    /// The coordinator's disk crashes at this sync (never, if 0).
    crash_at_sync: u8,
    operations: Vec<Operation>,
}

type Refs = (ParticipantRef<Reservation<Money>>, ParticipantRef<Reservation<Volume>>);
type Running = Arc<Mutex<Option<(Coordinator, Refs)>>>;

struct World {
    sim: Simulation,
    ledger_disk: CrashStorage,
    ledger: Arc<Mutex<Arc<PrepaidLedger>>>,
    quota: Arc<GasQuota>,
    disk: CrashStorage,
    running: Running,
}

/// Small segments and allocations: the default megabyte of zeros per
/// segment, copied at every simulated sync, dominates a run.
fn journal() -> JournalOptions {
    let mut options = JournalOptions::default().segment_size(2048);
    options.allocation_chunk = 1024;
    options
}

fn options() -> LedgerOptions {
    LedgerOptions::default()
        .sync(SyncStrategy::Inline)
        .barrier(Barrier::new(Duration::from_millis(500)))
        .journal(journal())
}

fn litres(n: i64) -> Volume {
    Volume::new(Decimal::new(n, 3)).expect("not negative")
}

impl World {
    fn start_coordinator(&mut self) {
        let (env, disk, running) = (self.sim.environment(), self.disk.clone(), Arc::clone(&self.running));
        let (ledger, quota) = (self.ledger.lock().expect("lock").clone(), Arc::clone(&self.quota));
        self.sim.spawn(1, async move {
            let mut participants = Participants::new();
            let refs = (
                participants.add("ledger", ledger).expect("name"),
                participants.add("quota", quota).expect("name"),
            );
            let Ok(log) = JournalLog::open(disk, journal(), SyncStrategy::Inline) else {
                return;
            };
            let retry = RetryPolicy::new(
                Duration::from_millis(20),
                Duration::from_millis(200),
                Duration::from_secs(5),
                Duration::from_millis(100),
            );
            let config = CoordinatorConfig::new(CoordinatorId(1)).retry(retry).compact_every(4);
            let Ok(coordinator) = Coordinator::open(config, log, env, participants, None).await else {
                return;
            };
            *running.lock().expect("lock") = Some((coordinator.clone(), refs));
            coordinator.recover().await;
        });
        self.sim.run_until_idle();
    }

    fn restart_coordinator(&mut self) {
        self.sim.kill(1);
        *self.running.lock().expect("lock") = None;
        self.disk.crash();
        self.disk = self.disk.restart();
        self.start_coordinator();
    }
}

fuzz_target!(|input: Input| {
    let mut sim = Simulation::new(u64::from(input.crash_at_sync), Timestamp::from_unix_millis(1 << 40));
    let env = sim.environment();
    let ledger_disk = CrashStorage::new();
    let ledger = Arc::new(PrepaidLedger::open(ledger_disk.clone(), &env, options()).expect("ledger"));
    let quota = Arc::new(GasQuota::open(CrashStorage::new(), &env, options()).expect("quota"));
    for account in 0..ACCOUNTS {
        let (ledger, quota) = (Arc::clone(&ledger), Arc::clone(&quota));
        sim.spawn(0, async move {
            ledger
                .open_account(AccountId(account.into()), Money::from_fen(OPENING))
                .await
                .expect("open");
            quota
                .open_account(AccountId(account.into()), litres(OPENING))
                .await
                .expect("open");
        });
    }
    sim.run_until_idle();
    let disk = match input.crash_at_sync {
        0 => CrashStorage::new(),
        n => CrashStorage::new().crash_at_sync(u64::from(n)),
    };
    let mut world = World {
        sim,
        ledger_disk,
        ledger: Arc::new(Mutex::new(ledger)),
        quota,
        disk,
        running: Running::default(),
    };
    world.start_coordinator();
    let mut exponents = [0u32; ACCOUNTS as usize];
    for operation in input.operations.iter().take(64) {
        match operation {
            Operation::Charge { account, timeout_ms } => {
                let index = usize::from(account % ACCOUNTS);
                let Some((coordinator, (accounts, metering))) = world.running.lock().expect("lock").clone() else {
                    continue;
                };
                if exponents[index] > 40 {
                    continue;
                }
                let amount = 1i64 << exponents[index];
                exponents[index] += 1;
                let (account, timeout) = (
                    AccountId(u64::from(account % ACCOUNTS)),
                    Duration::from_millis(u64::from(*timeout_ms)),
                );
                world.sim.spawn(1, async move {
                    let mut tx = coordinator.begin(timeout);
                    tx.add_branch(
                        &accounts,
                        &Reservation {
                            account,
                            amount: Money::from_fen(amount),
                        },
                    )
                    .expect("branch");
                    tx.add_branch(
                        &metering,
                        &Reservation {
                            account,
                            amount: litres(amount),
                        },
                    )
                    .expect("branch");
                    let _ = coordinator.run(tx).await;
                });
            }
            Operation::Advance { ms } => {
                let until = world.sim.now().saturating_add(Duration::from_millis(u64::from(*ms)));
                world.sim.run_until(until);
            }
            Operation::CrashCoordinator => world.restart_coordinator(),
            Operation::CrashLedger => {
                world.ledger_disk.crash();
                world.ledger_disk = world.ledger_disk.restart();
                let reopened = PrepaidLedger::open(world.ledger_disk.clone(), &world.sim.environment(), options());
                // The participants registered with the coordinator keep the
                // old ledger: restart the coordinator onto the new one.
                *world.ledger.lock().expect("lock") = Arc::new(reopened.expect("a crashed ledger reopens"));
                world.restart_coordinator();
            }
            Operation::Cleanup => {
                let (ledger, quota) = (world.ledger.lock().expect("lock").clone(), Arc::clone(&world.quota));
                world.sim.spawn(2, async move {
                    let _ = ledger.remove_settled_barriers().await;
                    let _ = quota.remove_settled_barriers().await;
                });
            }
        }
        if world.disk.crashed() {
            world.restart_coordinator();
        }
    }
    world.sim.run_until_idle();
    if world.disk.crashed() || world.running.lock().expect("lock").is_none() {
        world.restart_coordinator();
        world.sim.run_until_idle();
    }
    let running = world.running.lock().expect("lock").clone();
    let (coordinator, _) = running.expect("the coordinator is running at the end");
    assert_eq!(coordinator.unfinished(), coordinator.parked().len());
    let ledger = world.ledger.lock().expect("lock").clone();
    for account in 0..u64::from(ACCOUNTS) {
        let money = ledger.balance(AccountId(account)).expect("account");
        let gas = world.quota.balance(AccountId(account)).expect("account");
        if coordinator.parked().is_empty() {
            assert_eq!(
                (money.frozen, gas.frozen),
                (Money::ZERO, Volume::ZERO),
                "account {account}"
            );
        }
        assert!(money.available >= Money::ZERO && money.frozen >= Money::ZERO);
        let total = money.available.yuan() + money.frozen.yuan() + money.consumed.yuan();
        assert_eq!(
            total,
            Money::from_fen(OPENING).yuan(),
            "account {account}: money adds up"
        );
        assert_eq!(
            money.consumed.yuan() * Decimal::from(100),
            gas.consumed.value() * Decimal::from(1_000),
            "account {account}: {money:?} {gas:?}"
        );
    }
});
