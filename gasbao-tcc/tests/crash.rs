//! The coordinator's log on storage that crashes at its nth sync, for every
//! n a mixed workload reaches: after the restart and recovery, balances add
//! up (T1), none is negative (T2), each account's consumption is exactly its
//! confirmed charges (T3), and no decision observed before the crash
//! changed (T4).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use gasbao_core::Money;
use gasbao_core::journal::{CrashStorage, JournalOptions, MemoryStorage};
use gasbao_tcc::simulation::Simulation;
use gasbao_tcc::{
    AccountId, Coordinator, CoordinatorConfig, CoordinatorId, Decision, Event, GlobalTxId, JournalLog, LedgerOptions,
    Observer, Participants, PrepaidLedger, Reservation, RetryPolicy, SyncStrategy, Timestamp,
};

const ACCOUNTS: u64 = 3;
const OPENING_FEN: i64 = 40;

#[derive(Default)]
struct Decisions(Mutex<BTreeMap<GlobalTxId, Decision>>);

impl Observer for Decisions {
    fn observe(&self, event: &Event<'_>) {
        if std::env::var("CRASH_DEBUG").is_ok() {
            eprintln!("{event:?}");
        }
        if let Event::Decided { gtid, decision } = event {
            let mut seen = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            let before = seen.insert(*gtid, (*decision).clone());
            assert!(
                before.as_ref().is_none_or(|b| b.phase() == decision.phase()),
                "T4: {gtid} was decided {before:?}, now {decision}"
            );
        }
    }
}

/// Runs the workload with the log crashing at sync `crash_at` (never, if 0);
/// returns how many syncs the log made before it crashed or finished.
fn run(crash_at: u64) -> u64 {
    let mut sim = Simulation::new(crash_at, Timestamp::from_unix_millis(1_000_000));
    let env = sim.environment();
    let options = LedgerOptions::default().sync(SyncStrategy::Inline);
    let ledger = Arc::new(PrepaidLedger::open(MemoryStorage::new(), &env, options).expect("ledger"));
    let other = Arc::new(
        PrepaidLedger::open(
            MemoryStorage::new(),
            &env,
            LedgerOptions::default().sync(SyncStrategy::Inline),
        )
        .expect("ledger"),
    );
    for account in 0..ACCOUNTS {
        let (a, b) = (Arc::clone(&ledger), Arc::clone(&other));
        sim.spawn(0, async move {
            a.open_account(AccountId(account), Money::from_fen(OPENING_FEN))
                .await
                .expect("open");
            b.open_account(AccountId(account), Money::from_fen(OPENING_FEN))
                .await
                .expect("open");
        });
    }
    sim.run_until_idle();
    let decisions = Arc::new(Decisions::default());
    let disk = if crash_at == 0 {
        CrashStorage::new()
    } else {
        CrashStorage::new().crash_at_sync(crash_at)
    };
    let retry = RetryPolicy::new(
        Duration::from_millis(50),
        Duration::from_millis(400),
        Duration::from_secs(30),
        Duration::from_millis(200),
    );
    let start = |disk: CrashStorage, sim: &mut Simulation| {
        let (env, decisions) = (sim.environment(), Arc::clone(&decisions));
        let (a, b) = (Arc::clone(&ledger), Arc::clone(&other));
        sim.spawn(1, async move {
            let mut participants = Participants::new();
            let first = participants.add("first", a).expect("distinct");
            let second = participants.add("second", b).expect("distinct");
            let log =
                JournalLog::open(disk, JournalOptions::default().segment_size(4096), SyncStrategy::Inline).ok()?;
            let config = CoordinatorConfig::new(CoordinatorId(1)).retry(retry).compact_every(3);
            let observer: Arc<dyn Observer> = decisions;
            let coordinator = Coordinator::open(config, log, env, participants, Some(observer))
                .await
                .ok()?;
            coordinator.recover().await;
            Some((coordinator, first, second))
        })
    };
    let opened = start(disk.clone(), &mut sim);
    sim.run_until_idle();
    let (disk, opened) = match opened.take().flatten() {
        Some(opened) => (disk, opened),
        None => {
            // The crash came while the log was being created: start again.
            assert!(disk.crashed(), "opening failed without a crash");
            let disk = disk.restart();
            let reopened = start(disk.clone(), &mut sim);
            sim.run_until_idle();
            (
                disk,
                reopened
                    .take()
                    .flatten()
                    .expect("the log opens after a crash at its creation"),
            )
        }
    };
    let (coordinator, first, second) = opened;
    // Charges of 1, 2, 4, ... fen: the opening 40 fen covers some of them.
    let charges = Arc::new(Mutex::new(BTreeMap::new()));
    for charge in 0..12u32 {
        let (coordinator, first, second) = (coordinator.clone(), first.clone(), second.clone());
        let charges = Arc::clone(&charges);
        sim.spawn(1, async move {
            let mut tx = coordinator.begin(Duration::from_secs(5));
            let account = AccountId(u64::from(charge) % ACCOUNTS);
            let amount = Money::from_fen(1 << (charge / 3));
            charges
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(tx.gtid(), (account, amount));
            tx.add_branch(&first, &Reservation { account, amount }).expect("branch");
            tx.add_branch(&second, &Reservation { account, amount })
                .expect("branch");
            let _ = coordinator.run(tx).await;
        });
    }
    sim.run_until_idle();
    let syncs = disk.syncs();
    if disk.crashed() {
        sim.kill(1);
        drop(coordinator);
        let reopened = start(disk.restart(), &mut sim);
        sim.run_until_idle();
        let (coordinator, ..) = reopened.take().flatten().expect("the log reopens after the crash");
        assert_eq!(
            coordinator.unfinished(),
            0,
            "crash at sync {crash_at}: recovery left work"
        );
    }
    // T1-T3 on both ledgers: the same branch amounts on both.
    let decided = decisions.0.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let mut confirmed: BTreeMap<AccountId, Money> = BTreeMap::new();
    for (gtid, (account, amount)) in charges.lock().unwrap_or_else(PoisonError::into_inner).iter() {
        if decided.get(gtid) == Some(&Decision::Confirm) {
            let sum = confirmed.entry(*account).or_insert(Money::ZERO);
            *sum = sum.checked_add(*amount).expect("small sums");
        }
    }
    for ledger in [&ledger, &other] {
        for (account, balance) in ledger.balances() {
            let want = confirmed.get(&account).copied().unwrap_or(Money::ZERO);
            assert_eq!(
                (
                    balance.consumed,
                    balance.frozen,
                    balance.available.checked_add(balance.consumed)
                ),
                (want, Money::ZERO, Some(Money::from_fen(OPENING_FEN))),
                "crash at sync {crash_at}: account {account}"
            );
        }
    }
    syncs
}

#[test]
fn a_crash_at_every_sync_of_the_log_recovers_to_balanced_accounts() {
    let total = run(0);
    assert!(total > 20, "the workload makes {total} syncs");
    let only: Option<u64> = std::env::var("CRASH_AT").ok().and_then(|v| v.parse().ok());
    for crash_at in (1..=total).filter(|n| only.is_none_or(|o| o == *n)) {
        run(crash_at);
    }
}
