//! Real tokio, real threads, real files: 1,000 concurrent charges against a
//! prepaid ledger and a gas quota in a child process, some refused, some
//! calls dropped, and the process killed (SIGKILL) half way. Reopened from
//! disk and recovered, every account's money and gas agree: each charge
//! used a distinct power of two of both, so the fen charged equal the litres
//! delivered exactly when every charge was confirmed at both or neither.
//!
//! Its own test binary: the child re-runs it with `GASBAO_TCC_CHILD` set.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use gasbao_core::journal::{FileStorage, JournalOptions};
use gasbao_core::{Money, Volume};
use gasbao_tcc::{
    AccountId, BoxFuture, BranchCall, CallOutcome, Coordinator, CoordinatorConfig, CoordinatorId, Environment,
    GasQuota, JournalLog, LedgerOptions, Participant, ParticipantRef, Participants, PrepaidLedger, Reservation,
    RetryPolicy, SyncStrategy,
};
use rust_decimal::Decimal;

const CHARGES: u64 = 1_000;
const ACCOUNTS: u64 = 50;
const CHILD: &str = "GASBAO_TCC_CHILD";

/// Drops every seventh call: the coordinator retries it.
struct Lossy<P> {
    inner: Arc<P>,
    calls: AtomicU64,
}

impl<P: Participant> Lossy<P> {
    fn lost(&self) -> bool {
        self.calls.fetch_add(1, Ordering::Relaxed) % 7 == 3
    }
}

impl<P: Participant> Participant for Lossy<P> {
    type Request = P::Request;

    fn reserve<'a>(&'a self, call: BranchCall<'a, P::Request>) -> BoxFuture<'a, CallOutcome> {
        if self.lost() {
            Box::pin(async { CallOutcome::unknown("lost") })
        } else {
            self.inner.reserve(call)
        }
    }

    fn confirm<'a>(&'a self, call: BranchCall<'a, P::Request>) -> BoxFuture<'a, CallOutcome> {
        if self.lost() {
            Box::pin(async { CallOutcome::unknown("lost") })
        } else {
            self.inner.confirm(call)
        }
    }

    fn cancel<'a>(&'a self, call: BranchCall<'a, P::Request>) -> BoxFuture<'a, CallOutcome> {
        if self.lost() {
            Box::pin(async { CallOutcome::unknown("lost") })
        } else {
            self.inner.cancel(call)
        }
    }
}

struct Node {
    coordinator: Coordinator,
    ledger: Arc<PrepaidLedger>,
    quota: Arc<GasQuota>,
    accounts: ParticipantRef<Reservation<Money>>,
    metering: ParticipantRef<Reservation<Volume>>,
}

fn storage(dir: &Path, name: &str) -> FileStorage {
    FileStorage::new(dir.join(name)).expect("a directory for the journal")
}

async fn open(dir: &Path) -> Node {
    let env = Environment::system();
    let ledger = Arc::new(PrepaidLedger::open(storage(dir, "ledger"), &env, LedgerOptions::default()).expect("ledger"));
    let quota = Arc::new(GasQuota::open(storage(dir, "quota"), &env, LedgerOptions::default()).expect("quota"));
    let mut participants = Participants::new();
    let lossy_ledger = Lossy {
        inner: Arc::clone(&ledger),
        calls: AtomicU64::new(0),
    };
    let lossy_quota = Lossy {
        inner: Arc::clone(&quota),
        calls: AtomicU64::new(0),
    };
    let accounts = participants.add("ledger", lossy_ledger).expect("distinct names");
    let metering = participants.add("quota", lossy_quota).expect("distinct names");
    let retry = RetryPolicy::new(
        Duration::from_millis(2),
        Duration::from_millis(50),
        Duration::from_secs(60),
        Duration::from_secs(1),
    );
    let config = CoordinatorConfig::new(CoordinatorId(1)).retry(retry).compact_every(200);
    let log = JournalLog::open(storage(dir, "log"), JournalOptions::default(), SyncStrategy::Thread).expect("log");
    let coordinator = Coordinator::open(config, log, env, participants, None)
        .await
        .expect("coordinator");
    Node {
        coordinator,
        ledger,
        quota,
        accounts,
        metering,
    }
}

fn litres(n: i64) -> Volume {
    Volume::new(Decimal::new(n, 3)).expect("not negative")
}

/// The child: open accounts, then run every charge, 64 at a time, until killed.
async fn child(dir: PathBuf) {
    let node = Arc::new(open(&dir).await);
    for account in 0..ACCOUNTS {
        // Enough for about half of each account's charges.
        let opening = 1i64 << (CHARGES / ACCOUNTS - 1);
        node.ledger
            .open_account(AccountId(account), Money::from_fen(opening))
            .await
            .expect("account");
        node.quota
            .open_account(AccountId(account), litres(opening))
            .await
            .expect("account");
    }
    let (next, settled) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let workers: Vec<_> = (0..64)
        .map(|_| {
            let (node, next, settled) = (Arc::clone(&node), Arc::clone(&next), Arc::clone(&settled));
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= CHARGES {
                        return;
                    }
                    let account = AccountId(n % ACCOUNTS);
                    let amount = 1i64 << (n / ACCOUNTS);
                    let mut tx = node.coordinator.begin(Duration::from_secs(20));
                    tx.add_branch(
                        &node.accounts,
                        &Reservation {
                            account,
                            amount: Money::from_fen(amount),
                        },
                    )
                    .expect("branch");
                    tx.add_branch(
                        &node.metering,
                        &Reservation {
                            account,
                            amount: litres(amount),
                        },
                    )
                    .expect("branch");
                    let _ = node.coordinator.run(tx).await;
                    if settled.fetch_add(1, Ordering::Relaxed) + 1 == CHARGES / 4 {
                        println!("a quarter settled");
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.await;
    }
    println!("finished");
}

#[test]
fn child_process() {
    if let Ok(dir) = std::env::var(CHILD) {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(child(dir.into()));
    }
}

#[test]
fn killed_mid_batch_the_balances_agree_after_recovery() {
    let dir = std::env::temp_dir().join(format!("gasbao-tcc-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let mut child = Command::new(std::env::current_exe().expect("this test binary"))
        .args(["--exact", "child_process", "--nocapture", "--test-threads=1"])
        .env(CHILD, &dir)
        .stdout(Stdio::piped())
        .spawn()
        .expect("the child starts");
    // Kill it once a quarter of the charges are settled: the rest are in flight.
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("piped")).lines();
    let quarter = lines.find(|line| line.as_deref().is_ok_and(|l| l.contains("a quarter settled")));
    assert!(quarter.is_some(), "the child stopped before settling a quarter");
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("the child is reaped");
    assert!(!status.success(), "the child finished before it was killed");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let node = open(&dir).await;
        let recovered = node.coordinator.recover().await;
        assert!(!recovered.is_empty(), "the kill left charges in flight");
        assert!(recovered.iter().all(|(_, outcome)| outcome.is_ok()), "{recovered:?}");
        assert_eq!(node.coordinator.unfinished(), 0, "recovery settles everything");
        let balances = node.ledger.balances();
        assert_eq!(
            balances.len(),
            usize::try_from(ACCOUNTS).expect("small"),
            "every account survived"
        );
        let mut confirmed = 0;
        for (account, money) in balances {
            let gas = node.quota.balance(account).expect("the same accounts");
            assert_eq!(money.frozen, Money::ZERO, "account {account}: nothing stays frozen");
            assert_eq!(gas.frozen, Volume::ZERO, "account {account}: no gas stays reserved");
            let opening = Decimal::new(1i64 << (CHARGES / ACCOUNTS - 1), 2);
            assert_eq!(
                money.available.yuan() + money.consumed.yuan(),
                opening,
                "account {account}: money adds up"
            );
            // Fen charged = litres delivered: the same charges, confirmed at both.
            let fen = money.consumed.yuan() * Decimal::from(100);
            let litres = gas.consumed.value() * Decimal::from(1_000);
            assert_eq!(fen, litres, "account {account}: {money:?} vs {gas:?}");
            confirmed += u64::from(!money.consumed.is_zero());
        }
        assert!(confirmed > 0, "some charges were confirmed before the kill");
    });
    let _ = std::fs::remove_dir_all(&dir);
}
