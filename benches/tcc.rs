//! gasbao-tcc's coordinator settling charges against a prepaid ledger and a
//! gas quota, both in process, 64 transactions in flight.
//!
//! `cargo bench --bench tcc`:
//! - `durable/group_commit`: everything on the local disk, every log and
//!   ledger record made durable before it is acted on, `fdatasync`s shared
//!   by the transactions waiting at the same time (the embedded default).
//! - `durable/sync_per_record`: the same, with the coordinator's log
//!   syncing each record on its own.
//! - `in_memory/one_at_a_time`: the coordinator alone (memory log,
//!   participants that answer at once), one transaction at a time: what the
//!   coordinator costs beyond the disk.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gasbao::core::journal::{Durability, FileStorage, Journal, JournalOptions};
use gasbao::core::{Money, Volume};
use gasbao::tcc::{
    AccountId, BoxFuture, BranchCall, CallOutcome, Coordinator, CoordinatorConfig, CoordinatorId, CoordinatorLog,
    Environment, GasQuota, JournalLog, LedgerOptions, LogEntry, LogError, MemoryLog, Outcome, Participant,
    ParticipantRef, Participants, PrepaidLedger, RecoveredLog, Reservation, SyncStrategy,
};
use tokio::runtime::Runtime;

const IN_FLIGHT: u64 = 64;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gasbao-bench-tcc-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// A coordinator log that syncs every record before it returns: the
/// baseline that group commit is measured against.
struct SyncPerRecord {
    journal: Journal,
    state: std::sync::Mutex<RecoveredLog>,
}

impl CoordinatorLog for SyncPerRecord {
    fn write<'a>(&'a self, entries: &'a [LogEntry], _durable: bool) -> BoxFuture<'a, Result<(), LogError>> {
        Box::pin(async move {
            self.state.lock().expect("not poisoned").apply_all(entries)?;
            for entry in entries {
                // About the size of the real encoding; every record synced.
                self.journal.append(format!("{entry:?}").as_bytes())?;
            }
            Ok(())
        })
    }

    fn recover(&self) -> BoxFuture<'_, Result<RecoveredLog, LogError>> {
        Box::pin(async { Ok(RecoveredLog::default()) })
    }
}

struct Settlement {
    coordinator: Coordinator,
    accounts: ParticipantRef<Reservation<Money>>,
    metering: ParticipantRef<Reservation<Volume>>,
    dirs: Vec<PathBuf>,
}

async fn durable(name: &str, per_record: bool) -> Settlement {
    let env = Environment::system();
    let dirs: Vec<PathBuf> = ["log", "ledger", "quota"]
        .iter()
        .map(|d| scratch(&format!("{name}-{d}")))
        .collect();
    let storage = |dir: &PathBuf| FileStorage::new(dir).expect("scratch dir");
    let ledger = PrepaidLedger::open(storage(&dirs[1]), &env, LedgerOptions::default()).expect("ledger");
    let quota = GasQuota::open(storage(&dirs[2]), &env, LedgerOptions::default()).expect("quota");
    for account in 0..IN_FLIGHT {
        ledger
            .open_account(AccountId(account), Money::from_fen(i64::MAX / 4))
            .await
            .expect("account");
        quota
            .open_account(AccountId(account), Volume::from_whole_m3(u64::MAX / 4))
            .await
            .expect("account");
    }
    let mut participants = Participants::new();
    let accounts = participants.add("accounts", ledger).expect("distinct names");
    let metering = participants.add("metering", quota).expect("distinct names");
    let config = CoordinatorConfig::new(CoordinatorId(1));
    let coordinator = if per_record {
        let options = JournalOptions::default().durability(Durability::SyncEachCommit);
        let (journal, _) = Journal::open(storage(&dirs[0]), options).expect("journal");
        let log = SyncPerRecord {
            journal,
            state: Default::default(),
        };
        Coordinator::open(config, log, env, participants, None).await
    } else {
        let log = JournalLog::open(storage(&dirs[0]), JournalOptions::default(), SyncStrategy::Thread).expect("log");
        Coordinator::open(config, log, env, participants, None).await
    };
    Settlement {
        coordinator: coordinator.expect("coordinator"),
        accounts,
        metering,
        dirs,
    }
}

/// Settles `count` charges, `IN_FLIGHT` at a time; returns how long it took.
async fn settle(settlement: &Arc<Settlement>, count: u64) -> Duration {
    let started = Instant::now();
    let workers: Vec<_> = (0..IN_FLIGHT)
        .map(|worker| {
            let settlement = Arc::clone(settlement);
            tokio::spawn(async move {
                let mut n = worker;
                while n < count {
                    let account = AccountId(worker);
                    let mut charge = settlement.coordinator.begin(Duration::from_secs(30));
                    let amount = Money::from_fen(1);
                    charge
                        .add_branch(&settlement.accounts, &Reservation { account, amount })
                        .expect("branch");
                    let volume = Volume::from_whole_m3(1);
                    charge
                        .add_branch(
                            &settlement.metering,
                            &Reservation {
                                account,
                                amount: volume,
                            },
                        )
                        .expect("branch");
                    let outcome = settlement.coordinator.run(charge).await.expect("settled");
                    assert_eq!(outcome, Outcome::Confirmed);
                    n += IN_FLIGHT;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("worker");
    }
    started.elapsed()
}

fn durable_throughput(c: &mut Criterion) {
    let runtime = runtime();
    let mut group = c.benchmark_group("tcc/durable");
    group
        .throughput(Throughput::Elements(1))
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for (name, per_record) in [("group_commit", false), ("sync_per_record", true)] {
        let settlement = Arc::new(runtime.block_on(durable(name, per_record)));
        group.bench_function(name, |b| {
            b.iter_custom(|iters| runtime.block_on(settle(&settlement, iters)))
        });
        let dirs = settlement.dirs.clone();
        drop(settlement);
        dirs.iter().for_each(|dir| drop(std::fs::remove_dir_all(dir)));
    }
    group.finish();
}

/// A participant that answers at once: what is left is the coordinator.
struct Instant_;

impl Participant for Instant_ {
    type Request = Reservation<Money>;

    fn reserve<'a>(&'a self, _: BranchCall<'a, Self::Request>) -> BoxFuture<'a, CallOutcome> {
        Box::pin(async { CallOutcome::Succeeded })
    }

    fn confirm<'a>(&'a self, _: BranchCall<'a, Self::Request>) -> BoxFuture<'a, CallOutcome> {
        Box::pin(async { CallOutcome::Succeeded })
    }

    fn cancel<'a>(&'a self, _: BranchCall<'a, Self::Request>) -> BoxFuture<'a, CallOutcome> {
        Box::pin(async { CallOutcome::Succeeded })
    }
}

fn in_memory_overhead(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut participants = Participants::new();
    let first = participants.add("first", Instant_).expect("distinct names");
    let second = participants.add("second", Instant_).expect("distinct names");
    let config = CoordinatorConfig::new(CoordinatorId(1));
    let coordinator = runtime
        .block_on(Coordinator::open(
            config,
            MemoryLog::new(),
            Environment::system(),
            participants,
            None,
        ))
        .expect("coordinator");
    let request = Reservation {
        account: AccountId(7),
        amount: Money::from_fen(2_613),
    };
    let mut group = c.benchmark_group("tcc/in_memory");
    group.throughput(Throughput::Elements(1));
    group.bench_function("one_at_a_time", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let mut charge = coordinator.begin(Duration::from_secs(30));
                charge.add_branch(&first, &request).expect("branch");
                charge.add_branch(&second, &request).expect("branch");
                coordinator.run(charge).await.expect("settled")
            })
        })
    });
    group.finish();
}

criterion_group!(benches, durable_throughput, in_memory_overhead);
criterion_main!(benches);
