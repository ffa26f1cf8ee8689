//! Charges a batch of households' gas bills against their prepaid balances
//! with gasbao-tcc: the account service freezes each bill, the metering
//! service reserves the gas, and only then are both made real.
//!
//! The account service drops a call now and then, the metering service goes
//! down for a while (a charge is parked), and the process "crashes" half way
//! through the batch. It then reopens everything from disk, recovers, has
//! the operator retry the parked charge, and prints the balances.
//!
//! Run with `cargo run --example prepaid_charge`.

use std::error::Error;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use gasbao::core::journal::{FileStorage, JournalOptions};
use gasbao::core::{Household, Money, Volume, published};
use gasbao::tcc::{
    AccountId, BoxFuture, BranchCall, CallOutcome, Coordinator, CoordinatorConfig, CoordinatorId, Environment,
    GasQuota, JournalLog, LedgerOptions, Outcome, Participant, ParticipantRef, Participants, PrepaidLedger,
    Reservation, Resolution, RetryPolicy, SyncStrategy,
};

type Failure = Box<dyn Error + Send + Sync>;

/// (account, household size, gas used this year before, gas to bill, prepaid balance in fen).
const HOUSEHOLDS: [(u64, u32, u64, u64, i64); 8] = [
    (1001, 3, 120, 45, 50_000),
    (1002, 6, 480, 200, 40_000),
    (1003, 2, 300, 30, 5_000), // the balance does not cover the bill
    (1004, 4, 0, 60, 30_000),
    (1005, 5, 340, 80, 30_000),
    (1006, 3, 350, 40, 8_000),
    (1007, 1, 10, 15, 20_000),
    (1008, 6, 640, 20, 20_000),
];

fn main() -> Result<(), Failure> {
    let dir = std::env::temp_dir().join(format!("gasbao-prepaid-charge-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let metering_down = Arc::new(AtomicBool::new(false));

    println!("== before the crash ==");
    let runtime = new_runtime()?;
    runtime.block_on(async {
        let service = Service::open(&dir, &metering_down).await?;
        for &(account, _, _, quota_m3, fen) in &HOUSEHOLDS {
            service
                .ledger
                .open_account(AccountId(account), Money::from_fen(fen))
                .await?;
            // The metering service allows this year's usage plus the bill.
            service
                .quota
                .open_account(AccountId(account), Volume::from_whole_m3(quota_m3 + 100))
                .await?;
        }
        // The first half settles; the metering service cannot confirm the
        // fourth charge for longer than the retry budget, which parks it.
        for (index, household) in HOUSEHOLDS[..4].iter().enumerate() {
            metering_down.store(index == 3, Ordering::SeqCst);
            let outcome = service.charge(household).await?;
            println!("account {}: {}", household.0, describe(&outcome));
        }
        metering_down.store(false, Ordering::SeqCst);
        // The second half is under way when the process dies.
        for household in &HOUSEHOLDS[4..] {
            let service = service.clone();
            let household = *household;
            tokio::spawn(async move { service.charge(&household).await });
        }
        tokio::time::sleep(Duration::from_millis(3)).await;
        Ok::<_, Failure>(())
    })?;
    // The crash: tasks stop where they are; only what reached the disk is kept.
    runtime.shutdown_timeout(Duration::from_secs(1));
    println!("-- the process crashes --");

    println!("== after the restart ==");
    let runtime = new_runtime()?;
    runtime.block_on(async {
        let service = Service::open(&dir, &metering_down).await?;
        for (gtid, outcome) in service.coordinator.recover().await {
            println!("recovered {gtid}: {}", describe(&outcome?));
        }
        for parked in service.coordinator.parked() {
            println!(
                "parked {}: {} at branch {}, {} tries, last: {}",
                parked.gtid,
                parked.decision,
                parked.parking.branch,
                parked.parking.attempts,
                parked.parking.last_answer
            );
            let outcome = service.coordinator.resolve(parked.gtid, Resolution::RetryNow).await?;
            println!("operator retried {}: {}", parked.gtid, describe(&outcome));
        }
        println!(
            "{:>8} {:>10} {:>10} {:>10} {:>12}",
            "account", "available", "frozen", "charged", "gas delivered"
        );
        for &(account, ..) in &HOUSEHOLDS {
            let money = service.ledger.balance(AccountId(account)).ok_or("account missing")?;
            let gas = service.quota.balance(AccountId(account)).ok_or("account missing")?;
            println!(
                "{account:>8} {:>10} {:>10} {:>10} {:>9} m3",
                yuan(money.available),
                yuan(money.frozen),
                yuan(money.consumed),
                gas.consumed.to_string()
            );
        }
        Ok::<_, Failure>(())
    })?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn new_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// The coordinator and the two services it settles with, on disk.
#[derive(Clone)]
struct Service {
    coordinator: Coordinator,
    ledger: Arc<PrepaidLedger>,
    quota: Arc<GasQuota>,
    accounts: ParticipantRef<Reservation<Money>>,
    metering: ParticipantRef<Reservation<Volume>>,
}

impl Service {
    async fn open(dir: &Path, metering_down: &Arc<AtomicBool>) -> Result<Service, Failure> {
        let env = Environment::system();
        let storage = |name: &str| -> Result<FileStorage, Failure> { Ok(FileStorage::new(dir.join(name))?) };
        let ledger = Arc::new(PrepaidLedger::open(
            storage("accounts")?,
            &env,
            LedgerOptions::default(),
        )?);
        let quota = Arc::new(GasQuota::open(storage("metering")?, &env, LedgerOptions::default())?);
        let mut participants = Participants::new();
        let accounts = participants.add(
            "accounts",
            Flaky {
                inner: Arc::clone(&ledger),
                calls: AtomicU64::new(0),
                down: Arc::new(AtomicBool::new(false)),
            },
        )?;
        let metering = participants.add(
            "metering",
            Flaky {
                inner: Arc::clone(&quota),
                calls: AtomicU64::new(1),
                down: Arc::clone(metering_down),
            },
        )?;
        let retry = RetryPolicy::new(
            Duration::from_millis(20),
            Duration::from_millis(200),
            Duration::from_millis(600),
            Duration::from_millis(100),
        );
        let log = JournalLog::open(storage("coordinator")?, JournalOptions::default(), SyncStrategy::Thread)?;
        let config = CoordinatorConfig::new(CoordinatorId(1)).retry(retry);
        let coordinator = Coordinator::open(config, log, env, participants, None).await?;
        Ok(Service {
            coordinator,
            ledger,
            quota,
            accounts,
            metering,
        })
    }

    /// Bills a household on Beijing's tariff and settles the bill.
    async fn charge(
        &self,
        &(account, members, prior, used, _): &(u64, u32, u64, u64, i64),
    ) -> Result<Outcome, Failure> {
        let tariff = published::beijing_residential().for_household(&Household::of(members))?;
        let bill = tariff.bill(Volume::from_whole_m3(prior), Volume::from_whole_m3(used))?;
        let mut charge = self.coordinator.begin(Duration::from_secs(10));
        let account = AccountId(account);
        charge.add_branch(
            &self.accounts,
            &Reservation {
                account,
                amount: bill.total(),
            },
        )?;
        charge.add_branch(
            &self.metering,
            &Reservation {
                account,
                amount: Volume::from_whole_m3(used),
            },
        )?;
        Ok(self.coordinator.run(charge).await?)
    }
}

fn yuan(amount: Money) -> String {
    format!("{:.2}", amount.yuan())
}

fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Confirmed => "charged".into(),
        Outcome::Cancelled(reason) => format!("not charged ({reason:?})"),
        Outcome::Parked { parking, .. } => format!("parked at branch {} ({})", parking.branch, parking.last_answer),
        other => format!("{other:?}"),
    }
}

/// A service that drops every fifth call, and cannot confirm or cancel while `down`.
struct Flaky<P> {
    inner: Arc<P>,
    calls: AtomicU64,
    down: Arc<AtomicBool>,
}

impl<P: Participant> Flaky<P> {
    fn dropped(&self) -> bool {
        self.calls.fetch_add(1, Ordering::SeqCst) % 5 == 4
    }

    fn dropped_in_phase_two(&self) -> bool {
        self.down.load(Ordering::SeqCst) || self.dropped()
    }
}

impl<P: Participant> Participant for Flaky<P> {
    type Request = P::Request;

    fn reserve<'a>(&'a self, call: BranchCall<'a, P::Request>) -> BoxFuture<'a, CallOutcome> {
        match self.dropped() {
            true => Box::pin(async { CallOutcome::unknown("connection reset") }),
            false => self.inner.reserve(call),
        }
    }

    fn confirm<'a>(&'a self, call: BranchCall<'a, P::Request>) -> BoxFuture<'a, CallOutcome> {
        match self.dropped_in_phase_two() {
            true => Box::pin(async { CallOutcome::unknown("connection reset") }),
            false => self.inner.confirm(call),
        }
    }

    fn cancel<'a>(&'a self, call: BranchCall<'a, P::Request>) -> BoxFuture<'a, CallOutcome> {
        match self.dropped_in_phase_two() {
            true => Box::pin(async { CallOutcome::unknown("connection reset") }),
            false => self.inner.cancel(call),
        }
    }
}
