//! What gasbao adds to the regorus VM it drives, per decision, measured in
//! pairs so that the shared machine's noise cancels.
//!
//! `cargo bench --bench policy_overhead` (set `GASBAO_BENCH_ROUNDS`, default 21).
//!
//! Each round times a block of decisions on each case in turn, rotating
//! which goes first, and takes gasbao's time over the bare VM's in that
//! round. Criterion's separate runs of each case (`cargo bench --bench
//! policy`) drift by more than the 10% being measured; a ratio within one
//! round does not. The table gives the median over the rounds.
//!
//! Cases, all on the reference subsidy bundle and the same 100,000 inputs:
//! - `vm`: regorus's VM given inputs already converted to its values, no limits;
//! - `vm_typed`: the same VM with the typed conversion a regorus user writes
//!   (struct through `serde_json::Value` to a value, value back to a struct);
//! - `gasbao`: `PolicyEngine::evaluate` typed in and out, on the compiled
//!   path, with the default time and instruction limits.

use std::hint::black_box;
use std::time::{Duration, Instant};

use gasbao::policy::{Bundle, PolicyEngine, PreparedBundle, SUBSIDY_ENTRYPOINT, SubsidyDecision};

#[path = "support/subsidy.rs"]
mod subsidy;

use subsidy::{BUNDLE, INPUTS, applications, bare_engines, engine_values};

/// Decisions per case per round: about 20 ms, long enough for the clock,
/// short enough that a noisy moment rarely spans two cases.
const BLOCK: usize = 1_000;

/// One case: makes the decision on input number `i`.
type Decide<'a> = Box<dyn FnMut(usize) + 'a>;

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let rounds: usize = std::env::var("GASBAO_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(21);
    let applications = applications();
    let values = engine_values(&applications);
    let bundle = Bundle::from_dir(BUNDLE).unwrap();
    let (_, mut vm) = bare_engines(&bundle);
    let engine = PolicyEngine::new(PreparedBundle::new(&bundle).unwrap());

    let mut cases: [(&str, Decide); 3] = [
        (
            "vm",
            Box::new(|i| {
                vm.set_input(values[i].clone());
                black_box(vm.execute_entry_point_by_name(SUBSIDY_ENTRYPOINT).unwrap());
            }),
        ),
        ("vm_typed", {
            let (_, mut vm) = bare_engines(&bundle);
            let applications = &applications;
            Box::new(move |i| {
                vm.set_input(regorus::Value::from(serde_json::to_value(&applications[i]).unwrap()));
                let value = vm.execute_entry_point_by_name(SUBSIDY_ENTRYPOINT).unwrap();
                black_box(serde_json::from_value::<SubsidyDecision>(serde_json::to_value(&value).unwrap()).unwrap());
            })
        }),
        (
            "gasbao",
            Box::new(|i| {
                black_box(
                    engine
                        .evaluate::<SubsidyDecision>(SUBSIDY_ENTRYPOINT, &applications[i])
                        .unwrap(),
                );
            }),
        ),
    ];

    // per_case[c][r]: nanoseconds per decision of case c in round r.
    let mut per_case = vec![Vec::with_capacity(rounds); cases.len()];
    for round in 0..rounds {
        // Every case decides the same block of inputs in a round, so that a
        // ratio compares like with like.
        let first = round * BLOCK;
        for k in 0..cases.len() {
            let c = (round + k) % cases.len();
            let started = Instant::now();
            for i in first..first + BLOCK {
                (cases[c].1)(i % INPUTS);
            }
            let elapsed: Duration = started.elapsed();
            per_case[c].push(elapsed.as_nanos() as f64 / BLOCK as f64);
        }
    }

    let vm_times = per_case[0].clone();
    println!("| case | per decision (median of {rounds} rounds) | over `vm` (median of per-round ratios) |");
    println!("|---|---|---|");
    for (c, (name, _)) in cases.iter().enumerate() {
        let mut ratios: Vec<f64> = per_case[c].iter().zip(&vm_times).map(|(t, v)| t / v).collect();
        println!(
            "| {name} | {:.2} us | {:+.1}% |",
            median(&mut per_case[c].clone()) / 1000.0,
            (median(&mut ratios) - 1.0) * 100.0
        );
    }
}
