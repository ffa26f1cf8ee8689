//! The reference prepaid ledger as a participant: balances after each call,
//! worked out by hand, a call that asks for another amount than its branch
//! was tried with, and the same state after compaction and a reopen.

use gasbao_core::Money;
use gasbao_core::journal::{JournalOptions, MemoryStorage};
use gasbao_tcc::{
    AccountId, BranchCall, BranchId, CallOutcome, CoordinatorId, Environment, GlobalTxId, LedgerOptions, Participant,
    Phase, PrepaidLedger, Reservation, SyncStrategy, Timestamp,
};

const ACCOUNT: AccountId = AccountId(1001);

fn options() -> LedgerOptions {
    let mut journal = JournalOptions::default().segment_size(4096);
    journal.allocation_chunk = 1024;
    LedgerOptions::default().sync(SyncStrategy::Inline).journal(journal)
}

fn gtid(number: u64) -> GlobalTxId {
    GlobalTxId {
        coordinator: CoordinatorId(1),
        number,
    }
}

async fn call(ledger: &PrepaidLedger, phase: Phase, number: u64, fen: i64) -> CallOutcome {
    // Far ahead, and the same for every call of a branch.
    let deadline = Timestamp::from_unix_millis(u64::MAX / 2);
    let request = Reservation {
        account: ACCOUNT,
        amount: Money::from_fen(fen),
    };
    let call = BranchCall::new(gtid(number), BranchId(0), deadline, &request);
    match phase {
        Phase::Try => ledger.reserve(call).await,
        Phase::Confirm => ledger.confirm(call).await,
        Phase::Cancel => ledger.cancel(call).await,
    }
}

/// (available, frozen, consumed) in fen.
fn fen(ledger: &PrepaidLedger) -> (i64, i64, i64) {
    let balance = ledger.balance(ACCOUNT).expect("the account is open");
    let fen = |m: Money| m.to_fen().expect("whole fen");
    (fen(balance.available), fen(balance.frozen), fen(balance.consumed))
}

/// A ledger in memory with the account opened with `opening` fen.
async fn ledger_with(opening: i64) -> PrepaidLedger {
    let ledger = PrepaidLedger::open(MemoryStorage::new(), &Environment::system(), options()).expect("opens");
    ledger
        .open_account(ACCOUNT, Money::from_fen(opening))
        .await
        .expect("opens");
    ledger
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

#[test]
fn balances_after_each_call_as_worked_out_by_hand() {
    runtime().block_on(async {
        let ledger = ledger_with(10_000).await;
        // (phase, transaction, amount in fen, answer succeeded, balances after)
        let steps = [
            (Phase::Try, 1, 2_613, true, (7_387, 2_613, 0)),
            (Phase::Try, 2, 5_000, true, (2_387, 7_613, 0)),
            (Phase::Try, 3, 3_000, false, (2_387, 7_613, 0)), // 23.87 available, less than 30.00
            (Phase::Confirm, 1, 2_613, true, (2_387, 5_000, 2_613)),
            (Phase::Confirm, 1, 2_613, true, (2_387, 5_000, 2_613)), // duplicate: no second charge
            (Phase::Cancel, 2, 5_000, true, (7_387, 0, 2_613)),
            (Phase::Cancel, 2, 5_000, true, (7_387, 0, 2_613)), // duplicate: no second release
            (Phase::Cancel, 3, 3_000, true, (7_387, 0, 2_613)), // its Try was refused: empty rollback
            (Phase::Cancel, 4, 1_000, true, (7_387, 0, 2_613)), // never tried: empty rollback...
            (Phase::Try, 4, 1_000, false, (7_387, 0, 2_613)),   // ...so its late Try is refused
        ];
        for (index, (phase, number, amount, succeeded, after)) in steps.into_iter().enumerate() {
            let answer = call(&ledger, phase, number, amount).await;
            assert_eq!(
                answer == CallOutcome::Succeeded,
                succeeded,
                "step {index}: {phase} {number}: {answer}"
            );
            assert_eq!(fen(&ledger), after, "step {index}: {phase} {number}");
        }
    });
}

#[test]
fn a_call_asking_for_another_amount_than_its_try_is_refused() {
    runtime().block_on(async {
        let ledger = ledger_with(10_000).await;
        assert_eq!(call(&ledger, Phase::Try, 1, 1_000).await, CallOutcome::Succeeded);
        assert_eq!(call(&ledger, Phase::Try, 2, 4_000).await, CallOutcome::Succeeded);
        // A Confirm of branch 1 for 50.00 would take branch 2's frozen money.
        let forged = call(&ledger, Phase::Confirm, 1, 5_000).await;
        let CallOutcome::Failed { reason } = forged else {
            panic!("accepted: {forged}")
        };
        assert!(reason.contains("it was called with 10.00"), "{reason}");
        assert_eq!(fen(&ledger), (5_000, 5_000, 0));
        assert_eq!(call(&ledger, Phase::Confirm, 1, 1_000).await, CallOutcome::Succeeded);
        assert_eq!(fen(&ledger), (5_000, 4_000, 1_000));
    });
}

#[test]
fn compaction_and_reopening_keep_balances_and_barriers() {
    runtime().block_on(async {
        let env = Environment::system();
        let storage = MemoryStorage::new();
        let ledger = PrepaidLedger::open(storage.clone(), &env, options()).expect("opens");
        ledger
            .open_account(ACCOUNT, Money::from_fen(1_000_000))
            .await
            .expect("opens");
        // Enough calls to fill several 4 KiB segments.
        for number in 1..=60 {
            assert_eq!(call(&ledger, Phase::Try, number, 100).await, CallOutcome::Succeeded);
            if number % 2 == 0 {
                assert_eq!(call(&ledger, Phase::Confirm, number, 100).await, CallOutcome::Succeeded);
            }
        }
        let removed = ledger.compact().await.expect("compacts");
        assert!(removed > 0, "compaction removed no segment");
        let before = (fen(&ledger), ledger.barrier_records());
        drop(ledger);
        let ledger = PrepaidLedger::open(storage, &env, options()).expect("reopens");
        assert_eq!((fen(&ledger), ledger.barrier_records()), before);
        assert_eq!(before.0, (1_000_000 - 6_000, 3_000, 3_000));
        // The barriers came back with their amounts: duplicates and forgeries are still caught.
        assert_eq!(call(&ledger, Phase::Confirm, 2, 100).await, CallOutcome::Succeeded);
        assert!(matches!(
            call(&ledger, Phase::Confirm, 1, 200).await,
            CallOutcome::Failed { .. }
        ));
        assert_eq!(fen(&ledger), (1_000_000 - 6_000, 3_000, 3_000));
    });
}
