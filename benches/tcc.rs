//! gasbao-tcc's coordinator settling charges against a prepaid ledger and a
//! gas quota, both in process, 64 transactions in flight.
//!
//! `cargo bench --bench tcc`:
//! - `durable/group_commit`: everything on the local disk, every log and
//!   ledger record made durable before it is acted on, `fdatasync`s shared
//!   by the transactions waiting at the same time (the embedded default).
//! - `durable/sync_per_record`: the same, with the coordinator's log
//!   syncing each record on its own.
//! - `durable/dtmrs_sqlite`: dtmrs's embedded coordinator on SQLite over the
//!   same two participants, each transaction timed until both Confirms ran
//!   (dtmrs runs phase two in the background).
//! - `in_memory/one_at_a_time`: the coordinator alone (memory log,
//!   participants that answer at once), one transaction at a time: what the
//!   coordinator costs beyond the disk.
//! - `postgres/processes_{1,2,3}` (feature `postgres`, with `DATABASE_URL`):
//!   1, 2 and 3 coordinator processes sharing a `PgCoordinatorLog`, both
//!   participants `PgReservationLedger`s with their barriers in the same
//!   database, 32 transactions in flight per process:
//!   `DATABASE_URL=postgres://postgres@127.0.0.1/test cargo bench --bench tcc --features postgres`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use gasbao::core::journal::{Durability, FileStorage, Journal, JournalOptions};
use gasbao::core::{Money, Volume};
use gasbao::tcc::{
    AccountId, BoxFuture, BranchCall, CallOutcome, Coordinator, CoordinatorConfig, CoordinatorId, CoordinatorLog,
    Environment, GasQuota, JournalLog, LedgerOptions, LogEntry, LogError, MemoryLog, Outcome, Participant,
    ParticipantRef, Participants, PrepaidLedger, RecoveredLog, Reservation, SyncStrategy,
};
use tokio::runtime::Runtime;

use gasbao::tcc::{BranchId, GlobalTxId, Phase, Quantity, ReservationLedger, Timestamp};
use std::sync::atomic::{AtomicU64, Ordering};

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

/// A prepaid ledger and a gas quota on disk, one account per transaction in flight.
async fn participants_on_disk(
    env: &Environment,
    ledger_dir: &PathBuf,
    quota_dir: &PathBuf,
) -> (PrepaidLedger, GasQuota) {
    let storage = |dir: &PathBuf| FileStorage::new(dir).expect("scratch dir");
    let ledger = PrepaidLedger::open(storage(ledger_dir), env, LedgerOptions::default()).expect("ledger");
    let quota = GasQuota::open(storage(quota_dir), env, LedgerOptions::default()).expect("quota");
    for account in (0..IN_FLIGHT).map(AccountId) {
        ledger
            .open_account(account, Money::from_fen(i64::MAX / 4))
            .await
            .expect("account");
        quota
            .open_account(account, Volume::from_whole_m3(u64::MAX / 4))
            .await
            .expect("account");
    }
    (ledger, quota)
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
    let (ledger, quota) = participants_on_disk(&env, &dirs[1], &dirs[2]).await;
    let mut participants = Participants::new();
    let accounts = participants.add("accounts", ledger).expect("distinct names");
    let metering = participants.add("metering", quota).expect("distinct names");
    let config = CoordinatorConfig::new(CoordinatorId(1));
    let coordinator = if per_record {
        let options = JournalOptions::default().durability(Durability::SyncEachCommit);
        let (journal, _) = Journal::open(FileStorage::new(&dirs[0]).expect("scratch dir"), options).expect("journal");
        let log = SyncPerRecord {
            journal,
            state: Default::default(),
        };
        Coordinator::open(config, log, env, participants, None).await
    } else {
        let storage = FileStorage::new(&dirs[0]).expect("scratch dir");
        let log = JournalLog::open(storage, JournalOptions::default(), SyncStrategy::Thread).expect("log");
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
    let dtm = Arc::new(runtime.block_on(dtmrs_settlement()));
    group.bench_function("dtmrs_sqlite", |b| {
        b.iter_custom(|iters| runtime.block_on(settle_dtmrs(&dtm, iters)))
    });
    let dirs = dtm.dirs.clone();
    drop(dtm);
    dirs.iter().for_each(|dir| drop(std::fs::remove_dir_all(dir)));
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

/// dtmrs's embedded coordinator over the same participants: gtid `n` is
/// our transaction `9-n`, branch `01` the ledger and `02` the quota.
struct Dtmrs {
    tc: dtmrs::Embedded,
    ledger: Arc<PrepaidLedger>,
    quota: Arc<GasQuota>,
    confirmed: Arc<AtomicU64>,
    next: AtomicU64,
    dirs: Vec<PathBuf>,
}

fn branch_of(gid: &str, branch: &str) -> (GlobalTxId, BranchId) {
    let number = gid.parse().unwrap_or(0);
    let branch = branch.parse().unwrap_or(0);
    (
        GlobalTxId {
            coordinator: CoordinatorId(9),
            number,
        },
        BranchId(branch),
    )
}

/// `account deadline` as the branch payload carries them.
fn payload_of(payload: &str) -> (AccountId, Timestamp) {
    let mut fields = payload.split(' ').map(|f| f.parse().unwrap_or(0));
    (
        AccountId(fields.next().unwrap_or(0)),
        Timestamp::from_unix_millis(fields.next().unwrap_or(0)),
    )
}

/// A dtmrs handler that delivers `phase` to `ledger`, counting Confirms in `confirmed`.
fn phase_two<Q: Quantity>(
    ledger: &Arc<ReservationLedger<Q>>,
    amount: Q,
    phase: Phase,
    confirmed: &Arc<AtomicU64>,
) -> impl Fn(dtmrs::BranchCtx) -> BoxFuture<'static, dtmrs::BranchResult> + Send + Sync + 'static {
    let (ledger, confirmed) = (Arc::clone(ledger), Arc::clone(confirmed));
    move |ctx| {
        let (ledger, confirmed) = (Arc::clone(&ledger), Arc::clone(&confirmed));
        Box::pin(async move {
            let (gtid, branch) = branch_of(&ctx.gid, &ctx.branch_id);
            let (account, deadline) = payload_of(&ctx.payload);
            let request = Reservation { account, amount };
            let call = BranchCall::new(gtid, branch, deadline, &request);
            let outcome = match phase {
                Phase::Confirm => ledger.confirm(call).await,
                _ => ledger.cancel(call).await,
            };
            if phase == Phase::Confirm {
                confirmed.fetch_add(1, Ordering::Relaxed);
            }
            match outcome {
                CallOutcome::Succeeded => dtmrs::BranchResult::Success,
                CallOutcome::Failed { .. } => dtmrs::BranchResult::Failure,
                _ => dtmrs::BranchResult::Ongoing,
            }
        })
    }
}

async fn dtmrs_settlement() -> Dtmrs {
    let env = Environment::system();
    let dirs: Vec<PathBuf> = ["db", "ledger", "quota"]
        .iter()
        .map(|d| scratch(&format!("dtmrs-{d}")))
        .collect();
    std::fs::create_dir_all(&dirs[0]).expect("scratch dir");
    let (ledger, quota) = participants_on_disk(&env, &dirs[1], &dirs[2]).await;
    let (ledger, quota) = (Arc::new(ledger), Arc::new(quota));
    let confirmed = Arc::new(AtomicU64::new(0));
    let url = format!("sqlite:{}?mode=rwc", dirs[0].join("dtmrs.db").display());
    let tc = dtmrs::Embedded::builder(&url)
        .tick(Duration::from_millis(1))
        .handler(
            "ledger_confirm",
            phase_two(&ledger, Money::from_fen(1), Phase::Confirm, &confirmed),
        )
        .handler(
            "ledger_cancel",
            phase_two(&ledger, Money::from_fen(1), Phase::Cancel, &confirmed),
        )
        .handler(
            "quota_confirm",
            phase_two(&quota, Volume::from_whole_m3(1), Phase::Confirm, &confirmed),
        )
        .handler(
            "quota_cancel",
            phase_two(&quota, Volume::from_whole_m3(1), Phase::Cancel, &confirmed),
        )
        .start()
        .await
        .expect("dtmrs starts");
    Dtmrs {
        tc,
        ledger,
        quota,
        confirmed,
        next: AtomicU64::new(1),
        dirs,
    }
}

/// One transaction's identity in both coordinators.
struct Target<'a> {
    gtid: GlobalTxId,
    deadline: Timestamp,
    payload: &'a str,
}

/// Registers a branch with dtmrs and runs its Try on `ledger`.
async fn try_at<Q: Quantity>(
    tcc: &mut dtmrs::server::embedded::Tcc<'_>,
    ledger: &Arc<ReservationLedger<Q>>,
    name: &str,
    target: &Target<'_>,
    request: Reservation<Q>,
) {
    let (confirm, cancel) = (format!("local://{name}_confirm"), format!("local://{name}_cancel"));
    let (gtid, deadline) = (target.gtid, target.deadline);
    let tried = tcc
        .try_branch_with(&confirm, &cancel, target.payload, |branch| async move {
            let branch = BranchId(branch.parse().unwrap_or(0));
            match ledger.reserve(BranchCall::new(gtid, branch, deadline, &request)).await {
                CallOutcome::Succeeded => dtmrs::BranchResult::Success,
                _ => dtmrs::BranchResult::Failure,
            }
        })
        .await
        .expect("dtmrs registers");
    assert!(matches!(tried, dtmrs::BranchResult::Success));
}

/// Settles `count` charges through dtmrs, `IN_FLIGHT` at a time, until
/// both Confirms of each have run.
async fn settle_dtmrs(dtm: &Arc<Dtmrs>, count: u64) -> Duration {
    let started = Instant::now();
    let target = dtm.confirmed.load(Ordering::Relaxed) + 2 * count;
    let workers: Vec<_> = (0..IN_FLIGHT)
        .map(|worker| {
            let dtm = Arc::clone(dtm);
            tokio::spawn(async move {
                let mut n = worker;
                while n < count {
                    let number = dtm.next.fetch_add(1, Ordering::Relaxed);
                    let gid = number.to_string();
                    let deadline = Environment::system().now().saturating_add(Duration::from_secs(30));
                    let payload = format!("{worker} {}", deadline.unix_millis());
                    let (account, gtid) = (
                        AccountId(worker),
                        GlobalTxId {
                            coordinator: CoordinatorId(9),
                            number,
                        },
                    );
                    let mut tcc = dtm.tc.tcc(&gid).await.expect("dtmrs begins");
                    let target = Target {
                        gtid,
                        deadline,
                        payload: &payload,
                    };
                    let charge = Reservation {
                        account,
                        amount: Money::from_fen(1),
                    };
                    try_at(&mut tcc, &dtm.ledger, "ledger", &target, charge).await;
                    let hold = Reservation {
                        account,
                        amount: Volume::from_whole_m3(1),
                    };
                    try_at(&mut tcc, &dtm.quota, "quota", &target, hold).await;
                    tcc.submit().await.expect("dtmrs submits");
                    n += IN_FLIGHT;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("worker");
    }
    while dtm.confirmed.load(Ordering::Relaxed) < target {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    started.elapsed()
}

#[cfg(feature = "postgres")]
#[path = "support/pg_coordinators.rs"]
mod pg_coordinators;

fn postgres_throughput(c: &mut Criterion) {
    #[cfg(feature = "postgres")]
    {
        let Ok(url) = std::env::var("DATABASE_URL") else {
            eprintln!("tcc/postgres skipped: it needs PostgreSQL; set DATABASE_URL");
            return;
        };
        let runtime = runtime();
        let mut database = pg_coordinators::Database::open(&runtime, &url);
        let mut group = c.benchmark_group("tcc/postgres");
        group
            .throughput(Throughput::Elements(1))
            .sample_size(10)
            .measurement_time(Duration::from_secs(10));
        for processes in 1..=3 {
            let mut coordinators = database.coordinators(processes);
            group.bench_function(format!("processes_{processes}"), |b| {
                b.iter_custom(|iters| pg_coordinators::settle(&mut coordinators, iters))
            });
        }
        group.finish();
        database.close(&runtime);
    }
    #[cfg(not(feature = "postgres"))]
    let _ = c;
}

criterion_group!(benches, durable_throughput, in_memory_overhead, postgres_throughput);

fn main() {
    // The postgres cases start this binary again as coordinator processes.
    #[cfg(feature = "postgres")]
    if pg_coordinators::run_if_child() {
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
