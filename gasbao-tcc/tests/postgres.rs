//! The PostgreSQL backends against a real server (`DATABASE_URL`; skipped
//! with a message without it, a failure in CI): the barrier's truth table,
//! the ledger's balances, takeover with fencing, and a database that drops
//! connections mid-transaction. Each test works in a schema of its own.

use std::sync::Arc;
use std::time::Duration;

use gasbao_core::postgres::deadpool_postgres::Pool;
use gasbao_core::postgres::{SchemaName, ScratchSchema, pool, test_database_url};
use gasbao_core::{Money, Volume};
use gasbao_tcc::postgres::{PgBarrier, PgBarrierError, PgCoordinatorLog, PgError, PgLogOptions, PgReservationLedger};
use gasbao_tcc::{
    AccountId, Admission, Barrier, BarrierRefusal, BoxFuture, BranchCall, BranchId, BranchKey, CallOutcome,
    CancelReason, Coordinator, CoordinatorConfig, CoordinatorId, CoordinatorLog, Environment, GlobalTxId, LogEntry,
    LogError, Outcome, Participant, Participants, Phase, Reservation, RetryPolicy, RunError, Timestamp,
    TransactionRecord,
};

struct Database {
    pool: Pool,
    schema: ScratchSchema,
}

impl Database {
    /// A pool and a fresh schema, or `None` (with a message) without a server.
    async fn open(test: &str) -> Option<Database> {
        let url = test_database_url(test)?;
        let pool = pool(&url, 16).expect("a pool");
        let client = pool.get().await.expect("PostgreSQL answers at DATABASE_URL");
        let schema = ScratchSchema::create(&client, test).await.expect("a schema");
        Some(Database { pool, schema })
    }

    fn schema(&self) -> &SchemaName {
        self.schema.name()
    }

    async fn close(self) {
        let client = self.pool.get().await.expect("a connection");
        self.schema.drop_with(&client).await.expect("the schema drops");
    }

    /// Ends coordinator `id`'s lease now, as if its process had been frozen past it.
    async fn expire_lease(&self, id: CoordinatorId) {
        let client = self.pool.get().await.expect("a connection");
        let sql = format!(
            "UPDATE {} SET lease_until = now() - interval '1 second' WHERE id = $1",
            self.schema().table("coordinators")
        );
        let rows = client.execute(&sql, &[&(id.0 as i32)]).await.expect("updates");
        assert_eq!(rows, 1, "coordinator {id} has a lease row");
    }
}

const ACCOUNT: AccountId = AccountId(7);
const FAR: Timestamp = Timestamp::from_unix_millis(u64::MAX / 4);

fn gtid(coordinator: u32, number: u64) -> GlobalTxId {
    GlobalTxId {
        coordinator: CoordinatorId(coordinator),
        number,
    }
}

fn key(number: u64, branch: u16) -> BranchKey {
    BranchKey {
        gtid: gtid(1, number),
        branch: BranchId(branch),
    }
}

fn retry() -> RetryPolicy {
    RetryPolicy::new(
        Duration::from_millis(5),
        Duration::from_millis(50),
        Duration::from_secs(5),
        Duration::from_secs(2),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_barrier_table_follows_the_barrier_rules() {
    let Some(db) = Database::open("barrier_rules").await else {
        return;
    };
    let mut client = db.pool.get().await.expect("a connection");
    gasbao_tcc::postgres::migrate_participant(&mut client, db.schema())
        .await
        .expect("migrates");
    let barrier = PgBarrier::new(db.schema(), Barrier::new(Duration::from_secs(60)));
    let deadline = Timestamp::from_unix_millis(100_000);
    let before = Timestamp::from_unix_millis(50_000);
    let after = Timestamp::from_unix_millis(100_001);
    // (branch, phase, now, admission): the barrier's truth table, worked out
    // from its rules, one committed transaction per call.
    let cases = [
        (1, Phase::Try, before, Admission::Apply),
        (1, Phase::Try, before, Admission::AlreadyDone),
        (1, Phase::Confirm, before, Admission::Apply),
        (1, Phase::Confirm, after, Admission::AlreadyDone),
        (
            1,
            Phase::Cancel,
            before,
            Admission::Refused(BarrierRefusal::CancelAfterConfirm),
        ),
        (2, Phase::Cancel, before, Admission::EmptyRollback),
        (
            2,
            Phase::Try,
            before,
            Admission::Refused(BarrierRefusal::TryAfterCancel),
        ),
        (
            2,
            Phase::Confirm,
            before,
            Admission::Refused(BarrierRefusal::ConfirmAfterCancel),
        ),
        (
            3,
            Phase::Try,
            after,
            Admission::Refused(BarrierRefusal::TryAfterDeadline { deadline, now: after }),
        ),
        (
            3,
            Phase::Try,
            before,
            Admission::Refused(BarrierRefusal::TryAfterCancel),
        ),
        (
            4,
            Phase::Confirm,
            before,
            Admission::Refused(BarrierRefusal::ConfirmWithoutTry),
        ),
        (5, Phase::Try, before, Admission::Apply),
        (5, Phase::Cancel, before, Admission::Apply),
        (5, Phase::Cancel, before, Admission::AlreadyDone),
    ];
    for (index, (branch, phase, now, want)) in cases.into_iter().enumerate() {
        let transaction = client.transaction().await.expect("begins");
        let got = barrier
            .admit(&transaction, phase, key(1, branch), deadline, now)
            .await
            .expect("admits");
        transaction.commit().await.expect("commits");
        assert_eq!(got, want, "case {index}: {phase} of branch {branch}");
    }
    // Another deadline for a recorded branch is refused.
    let transaction = client.transaction().await.expect("begins");
    let other = Timestamp::from_unix_millis(200_000);
    let got = barrier
        .admit(&transaction, Phase::Confirm, key(1, 5), other, before)
        .await
        .expect("admits");
    assert_eq!(
        got,
        Admission::Refused(BarrierRefusal::DeadlineMismatch {
            recorded: deadline,
            called: other
        })
    );
    drop(transaction);
    // Settled records go only past deadline + grace; the Tried one never.
    let transaction = client.transaction().await.expect("begins");
    assert_eq!(
        barrier
            .admit(&transaction, Phase::Try, key(2, 0), deadline, before)
            .await
            .expect("admits"),
        Admission::Apply
    );
    transaction.commit().await.expect("commits");
    let within_grace = Timestamp::from_unix_millis(100_000 + 59_000);
    assert_eq!(barrier.remove_settled(&client, within_grace).await.expect("removes"), 0);
    let past_grace = Timestamp::from_unix_millis(100_000 + 61_000);
    // Branches 1 (confirmed), 2 and 3 (fenced), 5 (cancelled).
    assert_eq!(barrier.remove_settled(&client, past_grace).await.expect("removes"), 4);
    drop(client);
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_first_calls_for_one_branch_cannot_both_record_it() {
    let Some(db) = Database::open("barrier_race").await else {
        return;
    };
    let mut first = db.pool.get().await.expect("a connection");
    let second = db.pool.get().await.expect("a connection");
    gasbao_tcc::postgres::migrate_participant(&mut first, db.schema())
        .await
        .expect("migrates");
    let barrier = PgBarrier::new(db.schema(), Barrier::new(Duration::from_secs(60)));
    let now = Timestamp::from_unix_millis(1);
    // A Try and a Cancel overtaking it, both finding no record.
    let try_call = first.transaction().await.expect("begins");
    assert_eq!(
        barrier
            .admit(&try_call, Phase::Try, key(9, 0), FAR, now)
            .await
            .expect("admits"),
        Admission::Apply
    );
    let racing = tokio::spawn({
        let barrier = barrier.clone();
        async move {
            let mut second = second;
            let cancel = second.transaction().await.expect("begins");
            barrier.admit(&cancel, Phase::Cancel, key(9, 0), FAR, now).await
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    try_call.commit().await.expect("commits");
    let cancel = racing.await.expect("joins");
    assert!(
        matches!(cancel, Err(PgBarrierError::Concurrent { key: k }) if k == key(9, 0)),
        "{cancel:?}"
    );
    // Retried, the Cancel finds the Try and releases it.
    let mut second = db.pool.get().await.expect("a connection");
    let cancel = second.transaction().await.expect("begins");
    assert_eq!(
        barrier
            .admit(&cancel, Phase::Cancel, key(9, 0), FAR, now)
            .await
            .expect("admits"),
        Admission::Apply
    );
    drop(cancel);
    drop((first, second));
    db.close().await;
}

async fn ledger<Q: gasbao_tcc::Quantity>(db: &Database, name: &str) -> PgReservationLedger<Q> {
    PgReservationLedger::open(
        db.pool.clone(),
        db.schema(),
        name,
        &Environment::system(),
        Barrier::new(Duration::from_secs(3600)),
    )
    .await
    .expect("the ledger opens")
}

async fn call(ledger: &PgReservationLedger<Money>, phase: Phase, number: u64, fen: i64) -> CallOutcome {
    let request = Reservation {
        account: ACCOUNT,
        amount: Money::from_fen(fen),
    };
    let call = BranchCall::new(gtid(1, number), BranchId(0), FAR, &request);
    match phase {
        Phase::Try => ledger.reserve(call).await,
        Phase::Confirm => ledger.confirm(call).await,
        Phase::Cancel => ledger.cancel(call).await,
    }
}

async fn fen(ledger: &PgReservationLedger<Money>) -> (i64, i64, i64) {
    let balance = ledger
        .balance(ACCOUNT)
        .await
        .expect("reads")
        .expect("the account is open");
    let fen = |m: Money| m.to_fen().expect("whole fen");
    (fen(balance.available), fen(balance.frozen), fen(balance.consumed))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_balances_after_each_call_as_worked_out_by_hand() {
    let Some(db) = Database::open("ledger_balances").await else {
        return;
    };
    let ledger = ledger::<Money>(&db, "prepaid").await;
    ledger
        .open_account(ACCOUNT, Money::from_fen(10_000))
        .await
        .expect("opens");
    // (phase, transaction, fen, succeeded, (available, frozen, consumed) after)
    let steps = [
        (Phase::Try, 1, 2_613, true, (7_387, 2_613, 0)),
        (Phase::Try, 2, 5_000, true, (2_387, 7_613, 0)),
        (Phase::Try, 3, 3_000, false, (2_387, 7_613, 0)), // 23.87 available, less than 30.00
        (Phase::Confirm, 1, 2_613, true, (2_387, 5_000, 2_613)),
        (Phase::Confirm, 1, 2_613, true, (2_387, 5_000, 2_613)), // duplicate: no second charge
        (Phase::Confirm, 2, 4_000, false, (2_387, 5_000, 2_613)), // not what its Try held
        (Phase::Cancel, 2, 5_000, true, (7_387, 0, 2_613)),
        (Phase::Cancel, 2, 5_000, true, (7_387, 0, 2_613)), // duplicate: no second release
        (Phase::Cancel, 3, 3_000, true, (7_387, 0, 2_613)), // its Try was refused: empty rollback
        (Phase::Cancel, 4, 1_000, true, (7_387, 0, 2_613)), // never tried: empty rollback...
        (Phase::Try, 4, 1_000, false, (7_387, 0, 2_613)),   // ...so its late Try is refused
        (Phase::Try, 5, 0, false, (7_387, 0, 2_613)),       // nothing to reserve
    ];
    for (index, (phase, number, amount, succeeded, after)) in steps.into_iter().enumerate() {
        let answer = call(&ledger, phase, number, amount).await;
        assert_eq!(
            answer == CallOutcome::Succeeded,
            succeeded,
            "step {index}: {phase} {number}: {answer}"
        );
        assert!(!matches!(answer, CallOutcome::Unknown { .. }), "step {index}: {answer}");
        assert_eq!(fen(&ledger).await, after, "step {index}: {phase} {number}");
    }
    db.close().await;
}

fn record(gtid: GlobalTxId) -> Arc<TransactionRecord> {
    let mut request = Vec::new();
    gasbao_tcc::BranchRequest::encode(
        &Reservation {
            account: ACCOUNT,
            amount: Money::from_fen(1),
        },
        &mut request,
    );
    Arc::new(TransactionRecord {
        gtid,
        began: Timestamp::from_unix_millis(1),
        deadline: FAR,
        branches: vec![gasbao_tcc::BranchRecord {
            participant: "accounts".into(),
            request,
        }],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_over_transaction_refuses_its_former_owners_writes() {
    let Some(db) = Database::open("takeover").await else {
        return;
    };
    let options = PgLogOptions::default().lease(Duration::from_secs(30));
    let first = PgCoordinatorLog::open(db.pool.clone(), db.schema(), CoordinatorId(1), options)
        .await
        .expect("opens");
    // The id is held: a second process cannot open it.
    let again = PgCoordinatorLog::open(db.pool.clone(), db.schema(), CoordinatorId(1), options).await;
    assert!(
        matches!(
            again,
            Err(PgError::CoordinatorInUse {
                coordinator: CoordinatorId(1)
            })
        ),
        "{again:?}"
    );
    let second = PgCoordinatorLog::open(db.pool.clone(), db.schema(), CoordinatorId(2), options)
        .await
        .expect("opens");
    assert!(second.recover().await.expect("recovers").live.is_empty());

    let (undecided, decided) = (gtid(1, 1), gtid(1, 2));
    first
        .write(
            &[LogEntry::Began(record(undecided)), LogEntry::Began(record(decided))],
            true,
        )
        .await
        .expect("writes");
    first
        .write(
            &[LogEntry::Decided {
                gtid: decided,
                decision: gasbao_tcc::Decision::Confirm,
            }],
            true,
        )
        .await
        .expect("writes");
    // Nothing to take over while the first coordinator's lease holds.
    assert!(second.take_over().await.expect("asks").is_empty());
    assert!(first.owns(undecided));

    db.expire_lease(CoordinatorId(1)).await;
    let mut claimed = second.take_over().await.expect("claims");
    claimed.sort_by_key(|tx| tx.record.gtid);
    assert_eq!(
        claimed.iter().map(|tx| tx.record.gtid).collect::<Vec<_>>(),
        [undecided, decided]
    );
    assert_eq!(claimed[0].decision, None);
    assert_eq!(claimed[1].decision, Some(gasbao_tcc::Decision::Confirm));
    assert!(second.take_over().await.expect("asks").is_empty(), "claimed twice");

    // The former owner wakes: each of its writes is refused, and counted.
    let stale = [
        LogEntry::Decided {
            gtid: undecided,
            decision: gasbao_tcc::Decision::Confirm,
        },
        LogEntry::Settled {
            gtid: decided,
            branch: BranchId(0),
        },
        LogEntry::Finished { gtid: decided },
    ];
    for entry in &stale {
        let refused = first.write(std::slice::from_ref(entry), true).await;
        assert!(
            matches!(refused, Err(LogError::NotOwner { .. })),
            "{entry:?}: {refused:?}"
        );
    }
    assert_eq!(first.fenced_writes(), 3);
    // Its lease lapsed in the database: it is never renewed, and it begins nothing.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let began = first.write(&[LogEntry::Began(record(gtid(1, 3)))], true).await;
    assert!(matches!(began, Err(LogError::NotOwner { .. })), "{began:?}");
    assert!(!first.owns(undecided));

    // The new owner decides as presumed abort would, and its writes go through.
    let cancel = gasbao_tcc::Decision::Cancel(CancelReason::Recovered);
    second
        .write(
            &[LogEntry::Decided {
                gtid: undecided,
                decision: cancel,
            }],
            true,
        )
        .await
        .expect("writes");
    let differently = second
        .write(
            &[LogEntry::Decided {
                gtid: undecided,
                decision: gasbao_tcc::Decision::Confirm,
            }],
            true,
        )
        .await;
    assert!(
        matches!(
            differently,
            Err(LogError::Inconsistent {
                problem: "decided twice, differently",
                ..
            })
        ),
        "{differently:?}"
    );
    second
        .write(
            &[
                LogEntry::Settled {
                    gtid: decided,
                    branch: BranchId(0),
                },
                LogEntry::Finished { gtid: decided },
            ],
            true,
        )
        .await
        .expect("writes");
    assert_eq!(second.compact().await.expect("compacts"), 1);
    assert_eq!(second.fenced_writes(), 0);
    drop((first, second));

    // Coordinator 1 opens again after its lease: numbering continues past
    // the compacted transaction 2, and its undecided one is now 2's.
    let reopened = PgCoordinatorLog::open(db.pool.clone(), db.schema(), CoordinatorId(1), options)
        .await
        .expect("reopens");
    let recovered = reopened.recover().await.expect("recovers");
    assert_eq!(recovered.last_numbers.get(&CoordinatorId(1)), Some(&2));
    drop(reopened);
    db.close().await;
}

/// Terminates the ledger's database connections before every `every`-th call.
struct Severing {
    inner: Arc<PgReservationLedger<Money>>,
    killer: Pool,
    application: String,
    calls: std::sync::atomic::AtomicU32,
    every: u32,
}

impl Severing {
    async fn sever(&self) {
        let n = self.calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if n.is_multiple_of(self.every) {
            let client = self.killer.get().await.expect("a connection");
            client
                .execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
                    &[&self.application],
                )
                .await
                .expect("terminates");
        }
    }
}

impl Participant for Severing {
    type Request = Reservation<Money>;

    fn reserve<'a>(&'a self, call: BranchCall<'a, Reservation<Money>>) -> BoxFuture<'a, CallOutcome> {
        Box::pin(async move {
            self.sever().await;
            self.inner.reserve(call).await
        })
    }

    fn confirm<'a>(&'a self, call: BranchCall<'a, Reservation<Money>>) -> BoxFuture<'a, CallOutcome> {
        Box::pin(async move {
            self.sever().await;
            self.inner.confirm(call).await
        })
    }

    fn cancel<'a>(&'a self, call: BranchCall<'a, Reservation<Money>>) -> BoxFuture<'a, CallOutcome> {
        Box::pin(async move {
            self.sever().await;
            self.inner.cancel(call).await
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_coordinator_is_taken_over_without_waiting_for_its_lease() {
    let Some(db) = Database::open("release").await else {
        return;
    };
    // A lease far longer than the test: only the release can end it.
    let options = PgLogOptions::default().lease(Duration::from_secs(600));
    let leaving = PgCoordinatorLog::open(db.pool.clone(), db.schema(), CoordinatorId(1), options)
        .await
        .expect("opens");
    let staying = PgCoordinatorLog::open(db.pool.clone(), db.schema(), CoordinatorId(2), options)
        .await
        .expect("opens");
    let unfinished = gtid(1, 1);
    leaving
        .write(&[LogEntry::Began(record(unfinished))], true)
        .await
        .expect("writes");
    assert!(staying.take_over().await.expect("asks").is_empty());

    leaving.release().await.expect("releases");
    assert!(leaving.lapsed());
    assert!(!leaving.owns(unfinished));
    let claimed = staying.take_over().await.expect("claims");
    assert_eq!(
        claimed.iter().map(|tx| tx.record.gtid).collect::<Vec<_>>(),
        [unfinished]
    );
    // Fenced off, and it begins nothing more.
    let stale = leaving
        .write(
            &[LogEntry::Decided {
                gtid: unfinished,
                decision: gasbao_tcc::Decision::Confirm,
            }],
            true,
        )
        .await;
    assert!(matches!(stale, Err(LogError::NotOwner { .. })), "{stale:?}");
    let began = leaving.write(&[LogEntry::Began(record(gtid(1, 2)))], true).await;
    assert!(matches!(began, Err(LogError::NotOwner { .. })), "{began:?}");
    // Its id is free again at once, for the process that replaces it.
    let replacement = PgCoordinatorLog::open(db.pool.clone(), db.schema(), CoordinatorId(1), options).await;
    assert!(replacement.is_ok(), "{replacement:?}");
    drop((leaving, staying, replacement));
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_cut_mid_transaction_give_unknown_outcomes_that_retries_settle() {
    let Some(db) = Database::open("severed").await else {
        return;
    };
    let url = test_database_url("severed").expect("checked above");
    let application = format!("gasbao_severed_{}", std::process::id());
    let victim = pool(&format!("{url}?application_name={application}"), 16).expect("a pool");
    let env = Environment::system();
    let accounts = Arc::new(
        PgReservationLedger::<Money>::open(
            victim.clone(),
            db.schema(),
            "prepaid",
            &env,
            Barrier::new(Duration::from_secs(3600)),
        )
        .await
        .expect("opens"),
    );
    let quota = Arc::new(ledger::<Volume>(&db, "quota").await);
    accounts
        .open_account(ACCOUNT, Money::from_fen(100_000))
        .await
        .expect("opens");
    quota
        .open_account(ACCOUNT, Volume::from_whole_m3(1_000))
        .await
        .expect("opens");
    let mut participants = Participants::new();
    let severing = Severing {
        inner: Arc::clone(&accounts),
        killer: db.pool.clone(),
        application: application.clone(),
        calls: std::sync::atomic::AtomicU32::new(0),
        every: 3,
    };
    let money = participants.add("accounts", severing).expect("registers");
    let gas = participants.add("metering", Arc::clone(&quota)).expect("registers");
    let log = PgCoordinatorLog::open(db.pool.clone(), db.schema(), CoordinatorId(1), PgLogOptions::default())
        .await
        .expect("opens");
    let coordinator = Coordinator::open(
        CoordinatorConfig::new(CoordinatorId(1)).retry(retry()),
        log,
        env,
        participants,
        None,
    )
    .await
    .expect("opens");
    // 20 charges of 1.00 yuan and 1 m3, the ledger's connections cut before every third call.
    let mut confirmed = 0;
    for _ in 0..20 {
        let mut charge = coordinator.begin(Duration::from_secs(10));
        charge
            .add_branch(
                &money,
                &Reservation {
                    account: ACCOUNT,
                    amount: Money::from_fen(100),
                },
            )
            .expect("adds");
        charge
            .add_branch(
                &gas,
                &Reservation {
                    account: ACCOUNT,
                    amount: Volume::from_whole_m3(1),
                },
            )
            .expect("adds");
        match coordinator.run(charge).await {
            Ok(Outcome::Confirmed) => confirmed += 1,
            other => panic!("a charge did not confirm: {other:?}"),
        }
    }
    assert_eq!(confirmed, 20);
    let balance = accounts.balance(ACCOUNT).await.expect("reads").expect("open");
    assert_eq!(
        (balance.available, balance.frozen, balance.consumed),
        (Money::from_fen(98_000), Money::ZERO, Money::from_fen(2_000))
    );
    let gas_balance = quota.balance(ACCOUNT).await.expect("reads").expect("open");
    assert_eq!(
        (gas_balance.available, gas_balance.consumed),
        (Volume::from_whole_m3(980), Volume::from_whole_m3(20))
    );
    drop(coordinator);
    db.close().await;
}

/// Cuts the coordinator log off its database when a Try arrives: the
/// log's role may no longer connect, and its connections are terminated.
struct CutsTheLog {
    inner: Arc<PgReservationLedger<Money>>,
    admin: Pool,
    role: String,
}

impl Participant for CutsTheLog {
    type Request = Reservation<Money>;

    fn reserve<'a>(&'a self, call: BranchCall<'a, Reservation<Money>>) -> BoxFuture<'a, CallOutcome> {
        Box::pin(async move {
            let admin = self.admin.get().await.expect("a connection");
            let cut = format!(
                "ALTER ROLE {role} CONNECTION LIMIT 0;
                 SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'",
                role = self.role
            );
            admin.batch_execute(&cut).await.expect("cuts");
            self.inner.reserve(call).await
        })
    }

    fn confirm<'a>(&'a self, call: BranchCall<'a, Reservation<Money>>) -> BoxFuture<'a, CallOutcome> {
        self.inner.confirm(call)
    }

    fn cancel<'a>(&'a self, call: BranchCall<'a, Reservation<Money>>) -> BoxFuture<'a, CallOutcome> {
        self.inner.cancel(call)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_that_loses_its_database_mid_transaction_leaves_it_in_doubt_and_recovery_cancels_it() {
    let Some(db) = Database::open("log_cut").await else {
        return;
    };
    let url = test_database_url("log_cut").expect("checked above");
    let role = format!("gasbao_log_cut_{}", std::process::id());
    let admin = db.pool.get().await.expect("a connection");
    admin
        .batch_execute(&format!(
            "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN; GRANT ALL ON SCHEMA {schema} TO {role}",
            schema = db.schema()
        ))
        .await
        .expect("a role for the log");
    let log_url = url.replacen("://", &format!("://{role}@"), 1);
    let log_url = match log_url.find('@').map(|at| (at, log_url[at + 1..].find('@'))) {
        // The URL named a user already: keep only ours.
        Some((at, Some(second))) => format!("postgres://{role}@{}", &log_url[at + second + 2..]),
        _ => log_url,
    };
    let log_pool = pool(&log_url, 4).expect("a pool");
    // The log migrates first, so that its role owns the bookkeeping table.
    let lease = PgLogOptions::default().lease(Duration::from_secs(1));
    let log = PgCoordinatorLog::open(log_pool, db.schema(), CoordinatorId(1), lease)
        .await
        .expect("opens");
    let env = Environment::system();
    let accounts = Arc::new(ledger::<Money>(&db, "prepaid").await);
    accounts
        .open_account(ACCOUNT, Money::from_fen(10_000))
        .await
        .expect("opens");
    let mut participants = Participants::new();
    let cutting = CutsTheLog {
        inner: Arc::clone(&accounts),
        admin: db.pool.clone(),
        role: role.clone(),
    };
    let money = participants.add("accounts", cutting).expect("registers");
    let coordinator = Coordinator::open(
        CoordinatorConfig::new(CoordinatorId(1)).retry(retry()),
        log,
        env.clone(),
        participants,
        None,
    )
    .await
    .expect("opens");
    let mut charge = coordinator.begin(Duration::from_secs(10));
    let gtid = charge.gtid();
    charge
        .add_branch(
            &money,
            &Reservation {
                account: ACCOUNT,
                amount: Money::from_fen(2_500),
            },
        )
        .expect("adds");
    let outcome = coordinator.run(charge).await;
    assert!(
        matches!(&outcome, Err(RunError::InDoubt { gtid: g, source: LogError::Database(_) }) if *g == gtid),
        "{outcome:?}"
    );
    // The Try's reservation is held until someone decides.
    let balance = accounts.balance(ACCOUNT).await.expect("reads").expect("open");
    assert_eq!(
        (balance.available, balance.frozen),
        (Money::from_fen(7_500), Money::from_fen(2_500))
    );
    drop(coordinator);

    // Another process opens the log after the lease and cancels it (presumed abort).
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let mut participants = Participants::new();
    participants.add("accounts", Arc::clone(&accounts)).expect("registers");
    let log = PgCoordinatorLog::open(db.pool.clone(), db.schema(), CoordinatorId(1), PgLogOptions::default())
        .await
        .expect("reopens");
    let coordinator = Coordinator::open(
        CoordinatorConfig::new(CoordinatorId(1)).retry(retry()),
        log,
        env,
        participants,
        None,
    )
    .await
    .expect("opens");
    let recovered = coordinator.recover().await;
    assert_eq!(recovered.len(), 1);
    assert!(
        matches!(&recovered[0], (g, Ok(Outcome::Cancelled(CancelReason::Recovered))) if *g == gtid),
        "{recovered:?}"
    );
    let balance = accounts.balance(ACCOUNT).await.expect("reads").expect("open");
    assert_eq!(
        (balance.available, balance.frozen, balance.consumed),
        (Money::from_fen(10_000), Money::ZERO, Money::ZERO)
    );
    drop(coordinator);
    db.close().await;
    admin
        .batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE {role}"))
        .await
        .expect("the role drops");
}
