//! Three coordinator processes share one PostgreSQL schema and settle
//! 2,000 charges against two ledgers there; one is killed (SIGKILL) mid
//! flight, another frozen (SIGSTOP) past its lease and resumed. At the end
//! every transaction is finished (Confirmed or Cancelled) or parked, the
//! ledgers add up, and the resumed coordinator's stale writes were all
//! refused by the fencing token.
//!
//! The processes are this test binary, started again to run
//! `coordinator_process` (ignored when run directly). `GASBAO_PG_TICKETS`
//! sets the number of charges (2,000 by default).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gasbao_core::postgres::deadpool_postgres::Pool;
use gasbao_core::postgres::{SchemaName, ScratchSchema, pool, test_database_url};
use gasbao_core::{Money, Volume};
use gasbao_tcc::postgres::{PgCoordinatorLog, PgLogOptions, PgReservationLedger};
use gasbao_tcc::{
    AccountId, Barrier, Coordinator, CoordinatorConfig, CoordinatorId, Environment, LogError, Participants,
    Reservation, RetryPolicy, RunError,
};

const ACCOUNTS: u64 = 40;
/// Each account can pay for 30 charges of 1.00 yuan: later ones are refused and cancelled.
const OPENING_FEN: i64 = 3_000;
const OPENING_M3: u64 = 1_000;
const LEASE: Duration = Duration::from_secs(2);
const WORKERS: usize = 16;

fn tickets() -> i64 {
    std::env::var("GASBAO_PG_TICKETS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(2_000)
}

fn barrier() -> Barrier {
    Barrier::new(Duration::from_secs(3_600))
}

fn retry() -> RetryPolicy {
    RetryPolicy::new(
        Duration::from_millis(10),
        Duration::from_millis(200),
        Duration::from_secs(30),
        Duration::from_secs(2),
    )
}

async fn ledgers(pool: &Pool, schema: &SchemaName) -> (PgReservationLedger<Money>, PgReservationLedger<Volume>) {
    let env = Environment::system();
    let money = PgReservationLedger::open(pool.clone(), schema, "prepaid", &env, barrier())
        .await
        .expect("opens");
    let gas = PgReservationLedger::open(pool.clone(), schema, "quota", &env, barrier())
        .await
        .expect("opens");
    (money, gas)
}

/// One coordinator process: runs charges while tickets last, takes over
/// lapsed coordinators' transactions, and reports what its log refused.
#[test]
#[ignore = "a coordinator process of three_coordinators_survive_a_kill_and_a_freeze"]
fn coordinator_process() {
    let (Ok(url), Ok(schema), Ok(id)) = (
        std::env::var("DATABASE_URL"),
        std::env::var("GASBAO_CHILD_SCHEMA"),
        std::env::var("GASBAO_CHILD_COORDINATOR"),
    ) else {
        return;
    };
    let schema = SchemaName::new(schema).expect("a schema name");
    let id = CoordinatorId(id.parse().expect("a coordinator id"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let pool = pool(&url, WORKERS + 4).expect("a pool");
        let (money, gas) = ledgers(&pool, &schema).await;
        let mut participants = Participants::new();
        let accounts = participants.add("accounts", money).expect("registers");
        let metering = participants.add("metering", gas).expect("registers");
        let log = Arc::new(
            PgCoordinatorLog::open(pool.clone(), &schema, id, PgLogOptions::default().lease(LEASE))
                .await
                .expect("opens"),
        );
        let coordinator = Coordinator::open(
            CoordinatorConfig::new(id).retry(retry()).compact_every(0),
            SharedLog(Arc::clone(&log)),
            Environment::system(),
            participants,
            None,
        )
        .await
        .expect("opens");
        coordinator.recover().await;
        println!("READY");
        let stop = Arc::new(AtomicBool::new(false));
        let watcher = tokio::spawn({
            let (coordinator, stop, log) = (coordinator.clone(), Arc::clone(&stop), Arc::clone(&log));
            async move {
                while !stop.load(Ordering::Relaxed) && !log.lapsed() {
                    let _ = coordinator.take_over().await;
                    tokio::time::sleep(LEASE / 4).await;
                }
            }
        });
        let tickets_sql = format!("SELECT nextval('{}')", schema.table("tickets"));
        let mut workers = Vec::new();
        for _ in 0..WORKERS {
            let (coordinator, pool, tickets_sql) = (coordinator.clone(), pool.clone(), tickets_sql.clone());
            let (accounts, metering) = (accounts.clone(), metering.clone());
            workers.push(tokio::spawn(async move {
                let mut errors = 0_u64;
                loop {
                    let Ok(client) = pool.get().await else { continue };
                    let Ok(row) = client.query_one(&tickets_sql, &[]).await else {
                        continue;
                    };
                    drop(client);
                    let ticket: i64 = row.get(0);
                    if ticket > tickets() {
                        return errors;
                    }
                    let account = AccountId(ticket.cast_unsigned() % ACCOUNTS);
                    let mut charge = coordinator.begin(Duration::from_secs(5));
                    let money = Reservation {
                        account,
                        amount: Money::from_fen(100),
                    };
                    let volume = Reservation {
                        account,
                        amount: Volume::from_whole_m3(1),
                    };
                    charge.add_branch(&accounts, &money).expect("adds");
                    charge.add_branch(&metering, &volume).expect("adds");
                    match coordinator.run(charge).await {
                        Ok(_) => {}
                        // Lapsed: another coordinator has this one's work now.
                        Err(
                            RunError::NotBegun {
                                source: LogError::NotOwner { .. },
                                ..
                            }
                            | RunError::InDoubt {
                                source: LogError::NotOwner { .. },
                                ..
                            }
                            | RunError::Unrecorded {
                                source: LogError::NotOwner { .. },
                                ..
                            },
                        ) => return errors,
                        Err(_) => errors += 1,
                    }
                }
            }));
        }
        let mut errors = 0;
        for worker in workers {
            errors += worker.await.expect("a worker");
        }
        // Tickets are out: keep taking over until nothing is left unfinished.
        let unfinished = format!(
            "SELECT count(*) FROM {} WHERE NOT finished AND parked IS NULL",
            schema.table("transactions")
        );
        let started = Instant::now();
        while !log.lapsed() && started.elapsed() < Duration::from_secs(120) {
            let left: i64 = match pool.get().await {
                Ok(client) => client.query_one(&unfinished, &[]).await.map_or(1, |row| row.get(0)),
                Err(_) => 1,
            };
            if left == 0 {
                break;
            }
            tokio::time::sleep(LEASE / 4).await;
        }
        stop.store(true, Ordering::Relaxed);
        watcher.await.expect("the watcher");
        println!(
            "DONE coordinator={} fenced={} lapsed={} errors={errors}",
            id.0,
            log.fenced_writes(),
            log.lapsed()
        );
    });
}

/// The log behind an `Arc`, so the process can read its counters while the coordinator owns it.
struct SharedLog(Arc<PgCoordinatorLog>);

impl gasbao_tcc::CoordinatorLog for SharedLog {
    fn write<'a>(
        &'a self,
        entries: &'a [gasbao_tcc::LogEntry],
        durable: bool,
    ) -> gasbao_tcc::BoxFuture<'a, Result<(), LogError>> {
        self.0.write(entries, durable)
    }

    fn recover(&self) -> gasbao_tcc::BoxFuture<'_, Result<gasbao_tcc::RecoveredLog, LogError>> {
        self.0.recover()
    }

    fn compact(&self) -> gasbao_tcc::BoxFuture<'_, Result<u64, LogError>> {
        self.0.compact()
    }

    fn take_over(&self) -> gasbao_tcc::BoxFuture<'_, Result<Vec<gasbao_tcc::LiveTransaction>, LogError>> {
        self.0.take_over()
    }

    fn owns(&self, gtid: gasbao_tcc::GlobalTxId) -> bool {
        self.0.owns(gtid)
    }
}

struct Process {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Process {
    fn start(url: &str, schema: &SchemaName, id: u32) -> Process {
        let mut child = Command::new(std::env::current_exe().expect("this test binary"))
            .args([
                "coordinator_process",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("DATABASE_URL", url)
            .env("GASBAO_CHILD_SCHEMA", schema.as_str())
            .env("GASBAO_CHILD_COORDINATOR", id.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("a coordinator process starts");
        let stdout = child.stdout.take().expect("piped");
        let (send, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = send.send(line);
            }
        });
        Process { child, lines }
    }

    /// Waits for a line with `prefix`; returns it from there.
    fn line(&self, prefix: &str, timeout: Duration) -> Option<String> {
        let until = Instant::now() + timeout;
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                // libtest may have written `test ... ` on the same line.
                Ok(line) => {
                    if let Some(at) = line.find(prefix) {
                        return Some(line[at..].to_owned());
                    }
                }
                Err(_) => return None,
            }
        }
        None
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal} failed");
    }
}

fn field(line: &str, name: &str) -> u64 {
    line.split_whitespace()
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("{name} in {line:?}"))
}

#[test]
fn three_coordinators_survive_a_kill_and_a_freeze() {
    let Some(url) = test_database_url("three_coordinators_survive_a_kill_and_a_freeze") else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let pool = pool(&url, 4).expect("a pool");
    let (schema, money, gas) = runtime.block_on(async {
        let client = pool.get().await.expect("PostgreSQL answers at DATABASE_URL");
        let schema = ScratchSchema::create(&client, "three_coordinators")
            .await
            .expect("a schema");
        let (money, gas) = ledgers(&pool, schema.name()).await;
        for account in 0..ACCOUNTS {
            money
                .open_account(AccountId(account), Money::from_fen(OPENING_FEN))
                .await
                .expect("opens");
            gas.open_account(AccountId(account), Volume::from_whole_m3(OPENING_M3))
                .await
                .expect("opens");
        }
        client
            .batch_execute(&format!("CREATE SEQUENCE {}", schema.name().table("tickets")))
            .await
            .expect("a ticket sequence");
        (schema, money, gas)
    });
    let issued = |pool: &Pool| -> i64 {
        runtime.block_on(async {
            let client = pool.get().await.expect("a connection");
            let sql = format!("SELECT last_value FROM {}", schema.name().table("tickets"));
            client.query_one(&sql, &[]).await.expect("reads").get(0)
        })
    };
    let total = tickets();
    let mut processes: Vec<Process> = (1..=3).map(|id| Process::start(&url, schema.name(), id)).collect();
    for process in &processes {
        assert!(
            process.line("READY", Duration::from_secs(60)).is_some(),
            "a coordinator did not start"
        );
    }
    let wait_for = |tickets: i64| {
        let started = Instant::now();
        while issued(&pool) < tickets {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "stuck before ticket {tickets}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    wait_for(total * 15 / 100);
    processes[2].signal("-KILL");
    processes[2].child.wait().expect("reaped");
    wait_for(total * 30 / 100);
    processes[1].signal("-STOP");
    std::thread::sleep(LEASE * 3);
    processes[1].signal("-CONT");

    let survivor = processes[0]
        .line("DONE", Duration::from_secs(240))
        .expect("coordinator 1 finishes");
    let resumed = processes[1]
        .line("DONE", Duration::from_secs(240))
        .expect("coordinator 2 finishes");
    for process in &mut processes[..2] {
        assert!(
            process.child.wait().expect("exits").success(),
            "a coordinator process failed"
        );
    }
    assert_eq!(field(&survivor, "fenced"), 0, "{survivor}");
    assert!(
        resumed.contains("lapsed=true"),
        "the frozen coordinator did not notice its lease lapsed: {resumed}"
    );
    let stale_refused = field(&resumed, "fenced");
    assert!(
        stale_refused > 0,
        "the resumed coordinator wrote nothing stale: {resumed}"
    );

    let report = runtime.block_on(check_final_state(&pool, schema.name(), &money, &gas));
    eprintln!(
        "{} transactions began ({} tickets): {} confirmed, {} cancelled, {} parked; {stale_refused} stale writes refused",
        report.began, total, report.confirmed, report.cancelled, report.parked
    );
    // A ticket drawn by the killed process before it logged its transaction begins nothing.
    assert!(
        report.began + WORKERS as i64 >= total,
        "{} of {total} began",
        report.began
    );
    runtime.block_on(async {
        let client = pool.get().await.expect("a connection");
        schema.drop_with(&client).await.expect("drops");
    });
}

struct Report {
    began: i64,
    confirmed: i64,
    cancelled: i64,
    parked: i64,
}

/// T1-T7 of the embedded simulation, as far as the final state shows them.
async fn check_final_state(
    pool: &Pool,
    schema: &SchemaName,
    money: &PgReservationLedger<Money>,
    gas: &PgReservationLedger<Volume>,
) -> Report {
    let client = pool.get().await.expect("a connection");
    let transactions = schema.table("transactions");
    let barrier = schema.table("tcc_barrier");
    let count = |sql: String| {
        let client = &client;
        async move { client.query_one(&sql, &[]).await.expect("counts").get::<_, i64>(0) }
    };
    let began = count(format!("SELECT count(*) FROM {transactions}")).await;
    let confirmed = count(format!(
        "SELECT count(*) FROM {transactions} WHERE finished AND phase = 'C'"
    ))
    .await;
    let cancelled = count(format!(
        "SELECT count(*) FROM {transactions} WHERE finished AND phase = 'X'"
    ))
    .await;
    let parked = count(format!(
        "SELECT count(*) FROM {transactions} WHERE NOT finished AND parked IS NOT NULL"
    ))
    .await;
    // T7: everything ended.
    assert_eq!(confirmed + cancelled + parked, began, "unfinished transactions remain");
    assert_eq!(parked, 0, "a transaction was parked");
    // T4: both branches of a confirmed transaction confirmed; none of a cancelled one.
    let mixed = count(format!(
        "SELECT count(*) FROM {transactions} t JOIN {barrier} b USING (coordinator, number)
         WHERE (t.phase = 'C' AND b.state <> 'C') OR (t.phase = 'X' AND b.state = 'C')"
    ))
    .await;
    assert_eq!(mixed, 0, "a branch settled against its transaction's decision");
    let confirmed_branches = count(format!(
        "SELECT count(*) FROM {transactions} t JOIN {barrier} b USING (coordinator, number) WHERE t.phase = 'C'"
    ))
    .await;
    assert_eq!(
        confirmed_branches,
        2 * confirmed,
        "a confirmed transaction lacks a confirmed branch"
    );
    // T5: no reservation left hanging.
    let tried = count(format!("SELECT count(*) FROM {barrier} WHERE state = 'T'")).await;
    assert_eq!(tried, 0, "Tried barrier records remain");
    // T1, T2, T3: each account adds up, nothing negative or frozen, and
    // everything consumed is one charge per confirmed transaction.
    let mut consumed_fen = 0;
    for (account, balance) in money.balances().await.expect("reads") {
        let fen = |m: Money| m.to_fen().expect("whole fen");
        let (available, frozen, consumed) = (fen(balance.available), fen(balance.frozen), fen(balance.consumed));
        assert_eq!(
            available + frozen + consumed,
            OPENING_FEN,
            "account {account}: {balance:?}"
        );
        assert!(
            available >= 0 && frozen == 0 && consumed >= 0,
            "account {account}: {balance:?}"
        );
        consumed_fen += consumed;
    }
    assert_eq!(
        consumed_fen,
        100 * confirmed,
        "money consumed is not one charge per confirmed transaction"
    );
    let mut consumed_m3 = Volume::ZERO;
    for (account, balance) in gas.balances().await.expect("reads") {
        let sum = balance
            .available
            .checked_add(balance.frozen)
            .and_then(|v| v.checked_add(balance.consumed));
        assert_eq!(
            sum,
            Some(Volume::from_whole_m3(OPENING_M3)),
            "quota account {account}: {balance:?}"
        );
        assert_eq!(balance.frozen, Volume::ZERO, "quota account {account}: {balance:?}");
        consumed_m3 = consumed_m3.checked_add(balance.consumed).expect("fits");
    }
    assert_eq!(
        consumed_m3,
        Volume::from_whole_m3(u64::try_from(confirmed).expect("positive")),
        "gas consumed is not one m3 per confirmed transaction"
    );
    // Refusals happened: accounts ran out of money.
    assert!(
        cancelled > 0 && confirmed > 0,
        "{confirmed} confirmed, {cancelled} cancelled"
    );
    Report {
        began,
        confirmed,
        cancelled,
        parked,
    }
}
