//! A gas utility's month for a city district, as a host service that
//! embeds every gasbao crate, end to end, on embedded storage.
//!
//! - **Ingest**: thousands of smart meters publish hourly readings from
//!   producer threads into a gasbao-ringbuf multicast ring; validation and
//!   PTZ correction (gasbao-core) run first, then usage and alerts side by
//!   side (a gas-leak alarm, a meter going backwards).
//! - **Bill**: households on Beijing's published 2018 tariff, whose price
//!   rose on July 10 (the month splits in two); businesses at gasbao-pricing's
//!   time-of-use quotes from a TOML configuration.
//! - **Subsidy**: eligibility from the reference Rego bundle (gasbao-policy),
//!   every decision in a journal.
//! - **Settle**: each bill charged against the prepaid balance and gas
//!   quota with gasbao-tcc, through an account service that drops calls;
//!   one account runs out of money.
//! - **Crash and recover**: half way through settlement the process dies;
//!   it reopens its journals, recovers in-flight charges and goes on.
//! - **Devices**: gasbao-shadow valves and meters; the account that ran
//!   out gets its valve closed; offline meters replay their month, and a
//!   valve closed locally on a leak alarm stays closed.
//! - **Audit**: every bill, charge and valve command in an SM2-sealed
//!   journal, verified at the end, and the money checked to add up.
//!
//! `cargo run --release --example gas_utility [-- --meters N --days N
//! --seed N --data-dir DIR --report PATH --config FILE]`

mod audit;
mod billing;
mod config;
mod devices;
mod ingest;
mod meters;
mod report;
mod service;
mod settlement;
mod subsidy;

use std::process::ExitCode;

use crate::ingest::Alert;
use crate::service::Summary;

/// Any failure, with its message.
type Failure = Box<dyn std::error::Error + Send + Sync>;

fn main() -> ExitCode {
    let config = match config::Config::from_args(std::env::args().skip(1)) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("gas_utility: {error}");
            return ExitCode::from(2);
        }
    };
    match service::run(&config, true) {
        Ok(summary) => {
            print(&summary);
            if let Some(path) = &config.report {
                match report::write(&summary, path) {
                    Ok(()) => println!("  report       {}", path.display()),
                    Err(error) => {
                        eprintln!("gas_utility: the report: {error}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            if summary.conserved() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("gas_utility: {error}");
            ExitCode::FAILURE
        }
    }
}

fn print(s: &Summary) {
    println!("gas utility, {} meters, one month", s.meters);
    println!(
        "  ingest       {} readings ({} rejected) at {:.0} readings/s; lowest battery {}%",
        s.readings, s.rejected_readings, s.ingest_rate, s.lowest_battery_pct
    );
    for alert in &s.alerts {
        match alert {
            Alert::GasLeak { meter, day, hour } => {
                println!("  alert        gas leak at meter {meter}, day {day} {hour:02}:00")
            }
            Alert::IndexWentBack {
                meter,
                day,
                hour,
                from_milli_m3,
                to_milli_m3,
            } => println!(
                "  alert        meter {meter} went back from {:.3} to {:.3} m3 on day {day} {hour:02}:00 (reading rejected)",
                *from_milli_m3 as f64 / 1000.0,
                *to_milli_m3 as f64 / 1000.0
            ),
        }
    }
    let total: gasbao::core::Money = s.bills.iter().fold(gasbao::core::Money::ZERO, |sum, b| {
        sum.checked_add(b.amount).unwrap_or(sum)
    });
    let split = s.bills.iter().filter(|b| b.segments > 1).count();
    println!(
        "  bills        {} totalling {total} CNY ({split} split at the price change)",
        s.bills.len()
    );
    println!(
        "  subsidies    {} granted, {} CNY, bundle {}",
        s.subsidies.eligible, s.subsidies.granted, s.subsidies.revision
    );
    for (reason, count) in &s.subsidies.refusals {
        println!("               {count} refused: {reason}");
    }
    println!(
        "  settlement   {} confirmed, {} refused for want of money, {} cancelled otherwise, {} parked and retried; {} covered by the subsidy",
        s.confirmed, s.cancelled_no_money, s.cancelled_other, s.parked_then_resolved, s.covered_by_subsidy
    );
    println!(
        "  crash        {} charges done before it, {} recovered after it; {} calls lost on the network and retried",
        s.charged_before_crash, s.recovered_after_crash, s.calls_retried
    );
    let c = &s.census;
    println!(
        "  shadows      {} in sync, {} with a command pending; offline meters: {} idle, {} in conflict, {} pending ({} entries replayed)",
        c.in_sync, c.command_pending, c.offline_idle, c.offline_conflict, c.offline_pending, s.offline_replayed
    );
    let shown: Vec<String> = s.valves_closed.iter().take(8).map(|m| format!("meter {m}")).collect();
    let more = s.valves_closed.len().saturating_sub(shown.len());
    println!(
        "  valves       closed for want of money: {}{}; closed on a leak alarm: {}",
        if shown.is_empty() {
            "none".to_owned()
        } else {
            shown.join(", ")
        },
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        },
        if s.leak_valve_kept_closed {
            "stayed closed against the back end's open"
        } else {
            "REOPENED"
        }
    );
    println!(
        "  audit        {} records, {} signed checkpoints, verified",
        s.audit_records, s.audit_checkpoints
    );
    if s.conserved() {
        println!("  conservation every balance, bill and subsidy adds up");
    } else {
        println!("  conservation BROKEN:");
        for broken in &s.conservation {
            println!("               {broken}");
        }
    }
    let stages: Vec<String> = s
        .stages
        .iter()
        .map(|(name, took)| format!("{name} {:.2}s", took.as_secs_f64()))
        .collect();
    println!("  time         {}", stages.join(", "));
}
