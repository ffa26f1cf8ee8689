//! The service: wires the components, runs the month, crashes half way
//! through settlement, restarts from its journals and finishes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gasbao::core::{Date, Money, Volume};
use gasbao::shadow::{ResolvedBy, SyncState, Timestamp};
use gasbao::tcc::{AccountId, Decision, Outcome, Resolution};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::Failure;
use crate::audit::{Audit, AuditRecord};
use crate::billing::{self, Bill};
use crate::config::Config;
use crate::devices::{self, Census};
use crate::ingest::{self, Alert};
use crate::meters::{self, LEAKING_METER, Meter};
use crate::settlement::{Settlement, cancel_reason};
use crate::subsidy::{self, Subsidies};

/// Charges in flight at once.
const IN_FLIGHT: usize = 64;

/// What a run did, for the summary and the report.
#[derive(Debug, Default)]
pub(crate) struct Summary {
    pub(crate) meters: usize,
    pub(crate) readings: u64,
    pub(crate) rejected_readings: u64,
    pub(crate) lowest_battery_pct: u8,
    pub(crate) ingest_rate: f64,
    pub(crate) alerts: Vec<Alert>,
    pub(crate) hourly_m3: Vec<f64>,
    pub(crate) business_prices: Vec<f64>,
    pub(crate) bills: Vec<Bill>,
    pub(crate) subsidies: Subsidies,
    pub(crate) confirmed: usize,
    pub(crate) covered_by_subsidy: usize,
    pub(crate) cancelled_no_money: usize,
    pub(crate) cancelled_other: usize,
    pub(crate) parked_then_resolved: usize,
    pub(crate) calls_retried: u64,
    pub(crate) recovered_after_crash: usize,
    pub(crate) charged_before_crash: usize,
    pub(crate) balances_before: Vec<i64>,
    pub(crate) balances_after: Vec<i64>,
    pub(crate) census: Census,
    pub(crate) valves_closed: Vec<u32>,
    pub(crate) leak_valve_kept_closed: bool,
    pub(crate) offline_replayed: usize,
    pub(crate) audit_records: u64,
    pub(crate) audit_checkpoints: u64,
    pub(crate) conservation: Vec<String>,
    pub(crate) stages: Vec<(&'static str, Duration)>,
}

impl Summary {
    /// True if every conservation check held.
    pub(crate) fn conserved(&self) -> bool {
        self.conservation.is_empty()
    }
}

/// Runs the month. `show_progress` draws progress bars on the terminal.
pub(crate) fn run(config: &Config, show_progress: bool) -> Result<Summary, Failure> {
    let (data_dir, temporary) = match &config.data_dir {
        Some(dir) => (dir.clone(), false),
        None => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let name = format!("gasbao-gas-utility-{}-{nanos}", std::process::id());
            (std::env::temp_dir().join(name), true)
        }
    };
    if data_dir.exists() {
        return Err(format!(
            "{} exists: the service starts on an empty data directory",
            data_dir.display()
        )
        .into());
    }
    std::fs::create_dir_all(&data_dir)?;
    let result = run_in(config, &data_dir, show_progress);
    if temporary {
        let _ = std::fs::remove_dir_all(&data_dir);
    }
    result
}

fn run_in(config: &Config, data_dir: &Path, show_progress: bool) -> Result<Summary, Failure> {
    let meters = meters::fleet(config);
    let mut summary = Summary {
        meters: meters.len(),
        ..Summary::default()
    };
    summary.balances_before = meters.iter().map(|m| m.opening_fen).collect();
    let (month_start, _) = billing::period(config)?;
    let start_secs = u64::try_from(Date::new(1970, 1, 1)?.days_until(month_start))? * 86_400;
    let end_of_month = Timestamp::from_secs(start_secs + u64::from(config.district.days) * 86_400);

    let run = Run {
        config,
        data_dir,
        meters: &meters,
        start_secs,
        end_of_month,
        show_progress,
    };
    first_life(&run, &mut summary)?;
    // The crash: every task stopped where it was; only the journals remain.
    second_life(&run, &mut summary)?;
    Ok(summary)
}

/// What both lives of the process share: configuration and the simulated world.
struct Run<'a> {
    config: &'a Config,
    data_dir: &'a Path,
    meters: &'a [Meter],
    start_secs: u64,
    end_of_month: Timestamp,
    show_progress: bool,
}

/// Charges `bills`, `IN_FLIGHT` at a time, each task ticking `progress`.
fn spawn_charges(
    settlement: &Settlement,
    bills: Vec<Bill>,
    progress: &ProgressBar,
) -> JoinSet<Result<Outcome, Failure>> {
    let limit = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut charges = JoinSet::new();
    for bill in bills {
        let (settlement, limit, progress) = (settlement.clone(), Arc::clone(&limit), progress.clone());
        charges.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let outcome = settlement.charge(&bill).await;
            progress.inc(1);
            outcome
        });
    }
    charges
}

fn first_life(run: &Run<'_>, summary: &mut Summary) -> Result<(), Failure> {
    let &Run {
        config,
        data_dir,
        meters,
        start_secs,
        end_of_month,
        show_progress,
    } = run;
    let audit = Audit::open(data_dir)?;
    let stage = Instant::now();
    let shadows = devices::open_store(data_dir)?;
    devices::commission(&shadows, meters, Timestamp::from_secs(start_secs))?;
    let mut offline = devices::open_offline(data_dir, meters)?;
    for device in &mut offline {
        let document = shadows.get(device.id())?.document.clone();
        device.adopt(document)?;
    }
    devices::live_offline(
        &mut offline,
        meters,
        config.district.seed,
        config.district.days,
        start_secs * 1000,
    )?;
    summary.stages.push(("devices", stage.elapsed()));

    let stage = Instant::now();
    let online: Vec<Meter> = meters.iter().filter(|m| !m.offline).cloned().collect();
    let total = online.len() as u64 * u64::from(config.district.days) * 24;
    let progress = bar(show_progress, total, "ingest  ");
    let usage = ingest::ingest(
        meters,
        &online,
        config.district.days,
        config.district.seed,
        config.ingest.producers,
        config.ingest.ring_slots,
        &progress,
    )?;
    progress.finish_and_clear();
    devices::report_month(&shadows, meters, &usage, end_of_month)?;
    summary.readings = usage.readings;
    summary.rejected_readings = usage.rejected;
    summary.lowest_battery_pct = usage.lowest_battery_pct;
    summary.ingest_rate = usage.readings as f64 / usage.elapsed.as_secs_f64().max(1e-9);
    summary.alerts = usage.alerts.clone();
    summary.hourly_m3 = usage.hourly_m3.clone();
    summary.stages.push(("ingest", stage.elapsed()));

    let stage = Instant::now();
    let mut bills = billing::bill_households(config, meters, &usage)?;
    let prices = billing::hourly_business_prices(config)?;
    summary.business_prices = prices.iter().map(|p| p.value().try_into().unwrap_or(0.0)).collect();
    bills.extend(billing::bill_commercial(meters, &usage, &prices)?);
    summary.stages.push(("billing", stage.elapsed()));
    let stage = Instant::now();
    summary.subsidies = subsidy::apply(config, data_dir, meters, &mut bills)?;
    audit.append_all(&bills.iter().cloned().map(AuditRecord::Bill).collect::<Vec<_>>())?;
    summary.stages.push(("subsidy", stage.elapsed()));

    // Settlement, until the crash.
    let stage = Instant::now();
    let to_charge = chargeable(&bills);
    let before_crash = (to_charge.len() as f64 * config.settlement.crash_after_share) as usize;
    let runtime = runtime()?;
    let progress = bar(show_progress, bills.len() as u64, "settle  ");
    runtime.block_on(async {
        let settlement = Settlement::open(data_dir, &audit, config.settlement.drop_one_in).await?;
        settlement.open_accounts(meters, config.prepaid.quota_m3).await?;
        let mut finished = spawn_charges(
            &settlement,
            to_charge.into_iter().take(before_crash).collect(),
            &progress,
        );
        // The process dies when most of these are done and the rest in flight.
        let crash_when_done = before_crash - before_crash.min(IN_FLIGHT) / 2;
        let mut done = 0;
        while done < crash_when_done {
            match finished.join_next().await {
                Some(joined) => {
                    joined??;
                    done += 1;
                }
                None => break,
            }
        }
        summary.charged_before_crash = done;
        summary.calls_retried += settlement.retries.load(std::sync::atomic::Ordering::Relaxed);
        Ok::<_, Failure>(())
    })?;
    runtime.shutdown_timeout(Duration::from_millis(100));
    progress.abandon();
    summary.stages.push(("settle (before crash)", stage.elapsed()));
    drop((audit, shadows, offline));
    Ok(())
}

fn second_life(run: &Run<'_>, summary: &mut Summary) -> Result<(), Failure> {
    let &Run {
        config,
        data_dir,
        meters,
        start_secs,
        end_of_month,
        show_progress,
    } = run;
    let stage = Instant::now();
    let audit = Audit::open(data_dir)?;
    let runtime = runtime()?;
    runtime.block_on(async {
        // Opening decides every transaction the crash left undecided
        // (presumed abort); recovery delivers every decision not delivered.
        let settlement = Settlement::open(data_dir, &audit, config.settlement.drop_one_in).await?;
        // A decision made durable just before the crash may have missed
        // the audit journal; recovery's outcome is recorded for each.
        for (gtid, outcome) in settlement.coordinator.recover().await {
            let outcome = outcome?;
            let (confirm, reason) = match &outcome {
                Outcome::Confirmed
                | Outcome::Parked {
                    decision: Decision::Confirm,
                    ..
                } => (true, String::new()),
                Outcome::Cancelled(reason) => (false, cancel_reason(reason)),
                other => (false, format!("{other:?}")),
            };
            audit.append(&AuditRecord::Decided {
                gtid: gtid.to_string(),
                confirm,
                reason,
            })?;
            summary.recovered_after_crash += 1;
        }
        let pending = unsettled(&audit.records()?);
        let progress = bar(show_progress, pending.len() as u64, "settle  ");
        let mut finished = spawn_charges(&settlement, pending, &progress);
        while let Some(joined) = finished.join_next().await {
            joined??;
        }
        progress.finish_and_clear();
        // The operator retries whatever exhausted its retry budget.
        for parked in settlement.coordinator.parked() {
            settlement
                .coordinator
                .resolve(parked.gtid, Resolution::RetryNow)
                .await?;
            summary.parked_then_resolved += 1;
        }
        summary.calls_retried += settlement.retries.load(std::sync::atomic::Ordering::Relaxed);
        summary.balances_after = meters
            .iter()
            .map(|m| {
                settlement
                    .ledger
                    .balance(AccountId(u64::from(m.id)))
                    .map_or(0, |b| fen(b.available))
            })
            .collect();
        summary.conservation = conservation(meters, &audit.records()?, &settlement, config.prepaid.quota_m3);
        Ok::<_, Failure>(())
    })?;
    summary.stages.push(("settle (after restart)", stage.elapsed()));

    let records = audit.records()?;
    let decided = decisions(&records);
    let mut no_money = BTreeSet::new();
    for (account, gtids) in intents(&records) {
        let outcomes: Vec<&(bool, String)> = gtids.iter().filter_map(|g| decided.get(g)).collect();
        if outcomes.iter().any(|(confirm, _)| *confirm) {
            summary.confirmed += 1;
        } else if outcomes.iter().any(|(_, reason)| reason == "refused") {
            summary.cancelled_no_money += 1;
            no_money.insert(account);
        } else {
            summary.cancelled_other += 1;
        }
    }
    summary.bills = bills_of(&records);
    summary.covered_by_subsidy = summary.bills.len() - chargeable(&summary.bills).len();

    // Devices: valves of accounts that ran out close; the leaking meter's
    // owner topped up, so the back end asks for its valve to open; the
    // offline meters come back and replay their month.
    let stage = Instant::now();
    let shadows = devices::open_store(data_dir)?;
    for &account in &no_money {
        let meter = u32::try_from(account)?;
        devices::set_valve(&shadows, meter, "closed", end_of_month)?;
        audit.append(&AuditRecord::Valve {
            meter,
            valve: "closed".into(),
            why: "prepaid balance exhausted".into(),
        })?;
        summary.valves_closed.push(meter);
    }
    let top_up = Timestamp::from_secs(start_secs + 12 * 86_400);
    devices::set_valve(&shadows, LEAKING_METER, "open", top_up)?;
    audit.append(&AuditRecord::Valve {
        meter: LEAKING_METER,
        valve: "open".into(),
        why: "balance topped up".into(),
    })?;
    let mut offline = devices::open_offline(data_dir, meters)?;
    for device in &mut offline {
        device.network_ready()?;
        let report = device.sync(&mut &shadows, 16)?;
        summary.offline_replayed += report.applied;
        if device.state() == SyncState::SyncConflict {
            device.resolved(ResolvedBy::Automatic)?;
        }
    }
    let leak = shadows.get(&devices::shadow_id(LEAKING_METER)?)?;
    summary.leak_valve_kept_closed = leak.document.desired().get("valve").and_then(|v| v.as_str()) == Some("closed");
    summary.census = devices::census(&shadows, meters, &offline)?;
    summary.stages.push(("devices (after restart)", stage.elapsed()));

    let stage = Instant::now();
    let report = audit.seal_and_verify()?;
    summary.audit_records = report.next_seq - report.first_seq;
    summary.audit_checkpoints = report.checkpoints;
    summary.stages.push(("audit", stage.elapsed()));
    Ok(())
}

/// Bills with no charge decided Confirm, and none refused for want of
/// money: never started, or cancelled by the crash (presumed abort) or a
/// deadline, so charged again.
fn unsettled(records: &[AuditRecord]) -> Vec<Bill> {
    let decided = decisions(records);
    let intents = intents(records);
    chargeable(&bills_of(records))
        .into_iter()
        .filter(|bill| {
            let gtids = intents.get(&bill.account).map(Vec::as_slice).unwrap_or_default();
            !gtids
                .iter()
                .filter_map(|g| decided.get(g))
                .any(|(confirm, reason)| *confirm || reason == "refused")
        })
        .collect()
}

/// Bills with something to pay: a subsidy can cover a whole bill.
fn chargeable(bills: &[Bill]) -> Vec<Bill> {
    bills.iter().filter(|b| b.due() > Money::ZERO).cloned().collect()
}

fn bills_of(records: &[AuditRecord]) -> Vec<Bill> {
    records
        .iter()
        .filter_map(|r| match r {
            AuditRecord::Bill(bill) => Some(bill.clone()),
            _ => None,
        })
        .collect()
}

fn intents(records: &[AuditRecord]) -> BTreeMap<u64, Vec<String>> {
    let mut intents: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for record in records {
        if let AuditRecord::Intent { account, gtid } = record {
            intents.entry(*account).or_default().push(gtid.clone());
        }
    }
    intents
}

fn decisions(records: &[AuditRecord]) -> BTreeMap<String, (bool, String)> {
    records
        .iter()
        .filter_map(|r| match r {
            AuditRecord::Decided { gtid, confirm, reason } => Some((gtid.clone(), (*confirm, reason.clone()))),
            _ => None,
        })
        .collect()
}

/// The conservation laws, each broken one described: money and gas only
/// move between an account's available, frozen and consumed; what was
/// consumed is exactly the bills charged, each once; bills are exactly
/// subsidies plus what was due.
fn conservation(meters: &[Meter], records: &[AuditRecord], settlement: &Settlement, quota_m3: u64) -> Vec<String> {
    let mut broken = Vec::new();
    let decided = decisions(records);
    let intents = intents(records);
    let bills: BTreeMap<u64, Bill> = bills_of(records).into_iter().map(|b| (b.account, b)).collect();
    for meter in meters {
        let account = u64::from(meter.id);
        let Some(money) = settlement.ledger.balance(AccountId(account)) else {
            broken.push(format!("account {account} has no balance"));
            continue;
        };
        let held = money
            .available
            .checked_add(money.frozen)
            .and_then(|m| m.checked_add(money.consumed));
        if held != Some(Money::from_fen(meter.opening_fen)) {
            broken.push(format!(
                "account {account}: {held:?} held against {} opened",
                Money::from_fen(meter.opening_fen)
            ));
        }
        if money.frozen != Money::ZERO {
            broken.push(format!("account {account}: {} still frozen", money.frozen));
        }
        let confirmed = intents
            .get(&account)
            .map(|gtids| {
                gtids
                    .iter()
                    .filter(|g| decided.get(*g).is_some_and(|(c, _)| *c))
                    .count()
            })
            .unwrap_or(0);
        if confirmed > 1 {
            broken.push(format!("account {account}: charged {confirmed} times"));
        }
        let expected = match (confirmed, bills.get(&account)) {
            (1, Some(bill)) => bill.due(),
            _ => Money::ZERO,
        };
        if money.consumed != expected {
            broken.push(format!(
                "account {account}: consumed {} but its confirmed bill is {expected}",
                money.consumed
            ));
        }
        if let Some(gas) = settlement.quota.balance(AccountId(account)) {
            let quota = Volume::from_whole_m3(if meter.commercial { quota_m3 * 50 } else { quota_m3 });
            let held = gas
                .available
                .checked_add(gas.frozen)
                .and_then(|v| v.checked_add(gas.consumed));
            if held != Some(quota) {
                broken.push(format!(
                    "account {account}: gas {held:?} held against a quota of {quota}"
                ));
            }
        }
    }
    let (mut amounts, mut split) = (Money::ZERO, Money::ZERO);
    for bill in bills.values() {
        amounts = amounts.checked_add(bill.amount).unwrap_or(amounts);
        split = split
            .checked_add(bill.subsidy)
            .and_then(|s| s.checked_add(bill.due()))
            .unwrap_or(split);
    }
    if amounts != split {
        broken.push(format!(
            "bills total {amounts} but subsidies plus amounts due are {split}"
        ));
    }
    broken
}

fn fen(amount: Money) -> i64 {
    use rust_decimal::prelude::ToPrimitive;
    (amount.yuan() * rust_decimal::Decimal::ONE_HUNDRED)
        .to_i64()
        .unwrap_or(0)
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

fn bar(show: bool, total: u64, label: &'static str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        Some(total),
        if show {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    let style =
        ProgressStyle::with_template("{prefix} [{bar:40}] {pos}/{len} {per_sec}").map(|s| s.progress_chars("=> "));
    if let Ok(style) = style {
        bar.set_style(style);
    }
    bar.set_prefix(label);
    bar
}
