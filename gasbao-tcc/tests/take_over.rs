//! `Coordinator::take_over` with a log that hands it another coordinator's
//! transactions: undecided ones are cancelled, decided ones delivered, and
//! when the presumed-abort decision cannot be logged, what was claimed is
//! kept and adopted by the next call instead of being lost.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gasbao_core::Money;
use gasbao_tcc::{
    AccountId, BoxFuture, BranchCall, BranchRecord, BranchRequest, CallOutcome, CancelReason, Coordinator,
    CoordinatorConfig, CoordinatorId, CoordinatorLog, Decision, Environment, GlobalTxId, LiveTransaction, LogEntry,
    LogError, MemoryLog, Outcome, Participant, Participants, RecoveredLog, Reservation, Timestamp, TransactionRecord,
};

/// A memory log with orphans to hand out and writes that can be made to fail.
#[derive(Clone, Default)]
struct SharedLog {
    log: MemoryLog,
    orphans: Arc<Mutex<Vec<LiveTransaction>>>,
    refuse_writes: Arc<AtomicBool>,
}

impl CoordinatorLog for SharedLog {
    fn write<'a>(&'a self, entries: &'a [LogEntry], durable: bool) -> BoxFuture<'a, Result<(), LogError>> {
        if self.refuse_writes.load(Ordering::SeqCst) {
            let error = LogError::Database(Arc::new(std::io::Error::other("the database is down")));
            return Box::pin(async move { Err(error) });
        }
        self.log.write(entries, durable)
    }

    fn recover(&self) -> BoxFuture<'_, Result<RecoveredLog, LogError>> {
        self.log.recover()
    }

    fn take_over(&self) -> BoxFuture<'_, Result<Vec<LiveTransaction>, LogError>> {
        let orphans = std::mem::take(&mut *self.orphans.lock().unwrap());
        Box::pin(async move { Ok(orphans) })
    }
}

/// Counts each phase's calls; answers every one.
#[derive(Default)]
struct Counting {
    confirms: AtomicU32,
    cancels: AtomicU32,
}

impl Participant for Counting {
    type Request = Reservation<Money>;

    fn reserve<'a>(&'a self, _: BranchCall<'a, Self::Request>) -> BoxFuture<'a, CallOutcome> {
        Box::pin(async { CallOutcome::Succeeded })
    }

    fn confirm<'a>(&'a self, _: BranchCall<'a, Self::Request>) -> BoxFuture<'a, CallOutcome> {
        self.confirms.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { CallOutcome::Succeeded })
    }

    fn cancel<'a>(&'a self, _: BranchCall<'a, Self::Request>) -> BoxFuture<'a, CallOutcome> {
        self.cancels.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { CallOutcome::Succeeded })
    }
}

/// Transaction `number` of coordinator 9 (gone), one branch at "accounts".
fn orphan(number: u64, decision: Option<Decision>) -> (LiveTransaction, LogEntry) {
    let mut request = Vec::new();
    Reservation {
        account: AccountId(1),
        amount: Money::from_fen(100),
    }
    .encode(&mut request);
    let record = Arc::new(TransactionRecord {
        gtid: GlobalTxId {
            coordinator: CoordinatorId(9),
            number,
        },
        began: Timestamp::from_unix_millis(1),
        deadline: Timestamp::from_unix_millis(u64::MAX / 2),
        branches: vec![BranchRecord {
            participant: "accounts".into(),
            request,
        }],
    });
    let mut tx = LiveTransaction::new(Arc::clone(&record));
    tx.decision = decision;
    (tx, LogEntry::Began(record))
}

#[tokio::test]
async fn taken_over_transactions_are_settled_and_a_failed_adoption_is_retried() {
    let log = SharedLog::default();
    let accounts = Arc::new(Counting::default());
    let mut participants = Participants::new();
    participants.add("accounts", Arc::clone(&accounts)).unwrap();
    let coordinator = Coordinator::open(
        CoordinatorConfig::new(CoordinatorId(1)),
        log.clone(),
        Environment::system(),
        participants,
        None,
    )
    .await
    .unwrap();
    // What coordinator 9 left: one undecided, one decided Confirm.
    let (undecided, began_1) = orphan(1, None);
    let (decided, began_2) = orphan(2, Some(Decision::Confirm));
    log.log.write(&[began_1, began_2], true).await.unwrap();
    let confirm = LogEntry::Decided {
        gtid: decided.record.gtid,
        decision: Decision::Confirm,
    };
    log.log.write(&[confirm], true).await.unwrap();
    *log.orphans.lock().unwrap() = vec![undecided.clone(), decided.clone()];

    // The presumed-abort decision cannot be logged: nothing is delivered, nothing lost.
    log.refuse_writes.store(true, Ordering::SeqCst);
    let refused = coordinator.take_over().await;
    assert!(matches!(refused, Err(LogError::Database(_))), "{refused:?}");
    assert_eq!(
        accounts.cancels.load(Ordering::SeqCst) + accounts.confirms.load(Ordering::SeqCst),
        0
    );

    log.refuse_writes.store(false, Ordering::SeqCst);
    let outcomes = tokio::time::timeout(Duration::from_secs(10), coordinator.take_over())
        .await
        .unwrap()
        .unwrap();
    let outcomes: Vec<_> = outcomes
        .into_iter()
        .map(|(gtid, outcome)| (gtid, outcome.expect("settles")))
        .collect();
    assert_eq!(
        outcomes,
        [
            (undecided.record.gtid, Outcome::Cancelled(CancelReason::Recovered)),
            (decided.record.gtid, Outcome::Confirmed),
        ]
    );
    assert_eq!(
        (
            accounts.cancels.load(Ordering::SeqCst),
            accounts.confirms.load(Ordering::SeqCst)
        ),
        (1, 1)
    );
    assert!(
        log.log.recover().await.unwrap().live.is_empty(),
        "both are finished in the log"
    );
    // Nothing is left to adopt.
    assert!(coordinator.take_over().await.unwrap().is_empty());
}
