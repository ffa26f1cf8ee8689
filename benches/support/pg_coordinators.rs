//! Coordinator processes on one PostgreSQL schema, for `tcc/postgres`: the
//! bench binary starts itself as each process, which opens a
//! `PgCoordinatorLog` and two `PgReservationLedger`s, then settles the
//! charges it is told to on stdin (`RUN n`), answering `DONE`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gasbao::core::postgres::deadpool_postgres::Pool;
use gasbao::core::postgres::{SchemaName, ScratchSchema, pool};
use gasbao::core::{Money, Volume};
use gasbao::tcc::postgres::{PgCoordinatorLog, PgLogOptions, PgReservationLedger};
use gasbao::tcc::{
    AccountId, Barrier, Coordinator, CoordinatorConfig, CoordinatorId, Environment, Outcome, Participants, Reservation,
};

/// Transactions in flight per coordinator process.
pub(crate) const IN_FLIGHT: u64 = 32;
const ACCOUNTS: u64 = 256;
const CHILD: &str = "GASBAO_BENCH_PG_COORDINATOR";
const SCHEMA: &str = "GASBAO_BENCH_PG_SCHEMA";

async fn ledgers(pool: &Pool, schema: &SchemaName) -> (PgReservationLedger<Money>, PgReservationLedger<Volume>) {
    let env = Environment::system();
    let barrier = Barrier::new(Duration::from_secs(3_600));
    let money = PgReservationLedger::open(pool.clone(), schema, "prepaid", &env, barrier)
        .await
        .expect("opens");
    let gas = PgReservationLedger::open(pool.clone(), schema, "quota", &env, barrier)
        .await
        .expect("opens");
    (money, gas)
}

/// The schema the processes share, with accounts that never run out.
pub(crate) struct Database {
    url: String,
    pool: Pool,
    schema: Option<ScratchSchema>,
    next_id: u32,
}

impl Database {
    pub(crate) fn open(runtime: &tokio::runtime::Runtime, url: &str) -> Database {
        let pool = pool(url, 4).expect("a pool");
        let schema = runtime.block_on(async {
            let client = pool.get().await.expect("PostgreSQL answers at DATABASE_URL");
            let schema = ScratchSchema::create(&client, "bench_tcc").await.expect("a schema");
            let (money, gas) = ledgers(&pool, schema.name()).await;
            for account in (0..ACCOUNTS).map(AccountId) {
                money
                    .open_account(account, Money::from_fen(i64::MAX / 4))
                    .await
                    .expect("opens");
                gas.open_account(account, Volume::from_whole_m3(u64::MAX / 4))
                    .await
                    .expect("opens");
            }
            schema
        });
        Database {
            url: url.to_owned(),
            pool,
            schema: Some(schema),
            next_id: 1,
        }
    }

    /// `count` coordinator processes, each with an id never used before.
    pub(crate) fn coordinators(&mut self, count: u32) -> Vec<Process> {
        let schema = self.schema.as_ref().expect("open").name().as_str().to_owned();
        (0..count)
            .map(|_| {
                self.next_id += 1;
                Process::start(&self.url, &schema, self.next_id)
            })
            .collect()
    }

    pub(crate) fn close(mut self, runtime: &tokio::runtime::Runtime) {
        let schema = self.schema.take().expect("open");
        runtime.block_on(async {
            let client = self.pool.get().await.expect("a connection");
            schema.drop_with(&client).await.expect("drops");
        });
    }
}

pub(crate) struct Process {
    child: Child,
    stdin: ChildStdin,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Process {
    fn start(url: &str, schema: &str, id: u32) -> Process {
        let mut child = Command::new(std::env::current_exe().expect("this bench binary"))
            .env("DATABASE_URL", url)
            .env(SCHEMA, schema)
            .env(CHILD, id.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("a coordinator process starts");
        let stdin = child.stdin.take().expect("piped");
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let ready = lines.next().expect("a line").expect("readable");
        assert_eq!(ready, "READY", "coordinator {id} did not start");
        Process { child, stdin, lines }
    }

    fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("the process reads");
    }

    fn done(&mut self) {
        let line = self.lines.next().expect("a line").expect("readable");
        assert_eq!(line, "DONE", "a coordinator process failed");
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "EXIT");
        let _ = self.child.wait();
    }
}

/// Settles `count` charges spread over `processes`; how long it took.
pub(crate) fn settle(processes: &mut [Process], count: u64) -> Duration {
    let started = Instant::now();
    let each = count.div_ceil(processes.len() as u64);
    for process in processes.iter_mut() {
        process.send(&format!("RUN {each}"));
    }
    for process in processes.iter_mut() {
        process.done();
    }
    started.elapsed()
}

/// If this process was started as a coordinator, runs as one and returns true.
pub(crate) fn run_if_child() -> bool {
    let Ok(id) = std::env::var(CHILD) else {
        return false;
    };
    let id = CoordinatorId(id.parse().expect("a coordinator id"));
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let schema = SchemaName::new(std::env::var(SCHEMA).expect("a schema")).expect("a schema name");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let pool = pool(&url, 24).expect("a pool");
        let (money, gas) = ledgers(&pool, &schema).await;
        let mut participants = Participants::new();
        let accounts = participants.add("accounts", money).expect("registers");
        let metering = participants.add("metering", gas).expect("registers");
        let log = PgCoordinatorLog::open(pool.clone(), &schema, id, PgLogOptions::default())
            .await
            .expect("opens");
        let config = CoordinatorConfig::new(id).compact_every(10_000);
        let coordinator = Coordinator::open(config, log, Environment::system(), participants, None)
            .await
            .expect("opens");
        println!("READY");
        let mut stdin = BufReader::new(std::io::stdin()).lines();
        while let Some(Ok(line)) = stdin.next() {
            let Some(count) = line.strip_prefix("RUN ") else { break };
            let count: u64 = count.parse().expect("a count");
            let next = Arc::new(AtomicU64::new(0));
            let workers: Vec<_> = (0..IN_FLIGHT)
                .map(|worker| {
                    let (coordinator, next) = (coordinator.clone(), Arc::clone(&next));
                    let (accounts, metering) = (accounts.clone(), metering.clone());
                    tokio::spawn(async move {
                        while next.fetch_add(1, Ordering::Relaxed) < count {
                            let account = AccountId((u64::from(id.0) * IN_FLIGHT + worker) % ACCOUNTS);
                            let mut charge = coordinator.begin(Duration::from_secs(30));
                            let money = Reservation {
                                account,
                                amount: Money::from_fen(1),
                            };
                            let gas = Reservation {
                                account,
                                amount: Volume::from_whole_m3(1),
                            };
                            charge.add_branch(&accounts, &money).expect("adds");
                            charge.add_branch(&metering, &gas).expect("adds");
                            assert_eq!(coordinator.run(charge).await.expect("settles"), Outcome::Confirmed);
                        }
                    })
                })
                .collect();
            for worker in workers {
                worker.await.expect("a worker");
            }
            println!("DONE");
        }
    });
    true
}
