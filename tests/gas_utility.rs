//! The README's main job, on a small district: the money adds up, the audit
//! journal verifies, the leak valve stays closed, and the same seed gives
//! the same bills.
#![cfg(all(
    feature = "core",
    feature = "pricing",
    feature = "policy",
    feature = "ringbuf",
    feature = "tcc",
    feature = "shadow"
))]
// The example's modules are compiled here as they are; what only its main
// prints goes unread.
#![allow(dead_code)]

#[path = "../examples/gas_utility/audit.rs"]
mod audit;
#[path = "../examples/gas_utility/billing.rs"]
mod billing;
#[path = "../examples/gas_utility/config.rs"]
mod config;
#[path = "../examples/gas_utility/devices.rs"]
mod devices;
#[path = "../examples/gas_utility/ingest.rs"]
mod ingest;
#[path = "../examples/gas_utility/meters.rs"]
mod meters;
#[path = "../examples/gas_utility/service.rs"]
mod service;
#[path = "../examples/gas_utility/settlement.rs"]
mod settlement;
#[path = "../examples/gas_utility/subsidy.rs"]
mod subsidy;

type Failure = Box<dyn std::error::Error + Send + Sync>;

fn small(seed: u64) -> config::Config {
    // Ten days: the leak alarm goes off on the ninth.
    let args = ["--meters", "60", "--days", "10", "--seed", &seed.to_string()];
    config::Config::from_args(args.map(str::to_owned)).unwrap()
}

#[test]
fn a_small_district_settles_and_everything_adds_up() {
    let summary = service::run(&small(11), false).unwrap();
    assert!(summary.conserved(), "{:#?}", summary.conservation);
    assert!(summary.audit_checkpoints > 0, "the audit journal is sealed");
    assert!(summary.leak_valve_kept_closed);
    assert!(
        summary.valves_closed.contains(&3),
        "account 3 cannot pay, so its valve closes"
    );
    assert_eq!(summary.rejected_readings, 1, "meter 7 goes back once");
    assert!(
        summary
            .alerts
            .iter()
            .any(|a| matches!(a, ingest::Alert::IndexWentBack { meter: 7, day: 3, .. }))
    );
    assert!(summary.charged_before_crash > 0 && summary.confirmed > summary.charged_before_crash);
}

#[test]
fn the_same_seed_gives_the_same_bills() {
    let first = service::run(&small(5), false).unwrap();
    let second = service::run(&small(5), false).unwrap();
    assert_eq!(first.bills, second.bills);
    let other = service::run(&small(6), false).unwrap();
    assert_ne!(first.bills, other.bills);
}
