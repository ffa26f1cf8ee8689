//! gasbao-policy on the reference subsidy bundle beside the regorus engines it
//! drives, in one binary, over 100,000 varied applications.
//!
//! `cargo bench --bench policy`. Groups:
//! - `decision`: regorus's interpreter (`eval_rule`) and VM given inputs
//!   already converted to regorus values (the engines alone); the VM with the
//!   typed conversion a regorus user writes (struct to value, value to
//!   struct); gasbao typed, on both paths.
//! - `scaling`: decisions per second on 1 and 2 threads sharing one engine,
//!   on each path.
//! - `reload`: activating a prepared bundle then the first decision on it;
//!   and a whole reload (parse, compile, tests, agreement, swap).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gasbao::policy::{
    Bundle, FastPath, PolicyEngine, PreparedBundle, SUBSIDY_ENTRYPOINT, SubsidyApplication, SubsidyDecision,
};

#[path = "support/subsidy.rs"]
mod subsidy;

use subsidy::{BUNDLE, INPUTS, applications, bare_engines, engine_values};

fn decision(c: &mut Criterion) {
    let applications = applications();
    let values = engine_values(&applications);
    let bundle = Bundle::from_dir(BUNDLE).unwrap();
    let (mut interpreter, mut vm) = bare_engines(&bundle);

    let compiled = PolicyEngine::new(PreparedBundle::new(&bundle).unwrap());
    let interpreted = PolicyEngine::new(PreparedBundle::with_fast_path(&bundle, FastPath::Never).unwrap());

    let mut group = c.benchmark_group("policy_decision");
    group.throughput(Throughput::Elements(1));
    let mut i = 0;
    group.bench_function("regorus_eval_rule", |b| {
        b.iter(|| {
            i = (i + 1) % INPUTS;
            interpreter.set_input(values[i].clone());
            black_box(interpreter.eval_rule(SUBSIDY_ENTRYPOINT.to_owned()).unwrap())
        })
    });
    group.bench_function("gasbao_interpreted", |b| {
        b.iter(|| {
            i = (i + 1) % INPUTS;
            black_box(
                interpreted
                    .evaluate::<SubsidyDecision>(SUBSIDY_ENTRYPOINT, &applications[i])
                    .unwrap(),
            )
        })
    });
    group.bench_function("regorus_rvm", |b| {
        b.iter(|| {
            i = (i + 1) % INPUTS;
            vm.set_input(values[i].clone());
            black_box(vm.execute_entry_point_by_name(SUBSIDY_ENTRYPOINT).unwrap())
        })
    });
    group.bench_function("regorus_rvm_typed", |b| {
        b.iter(|| {
            i = (i + 1) % INPUTS;
            vm.set_input(regorus::Value::from(serde_json::to_value(&applications[i]).unwrap()));
            let value = vm.execute_entry_point_by_name(SUBSIDY_ENTRYPOINT).unwrap();
            black_box(serde_json::from_value::<SubsidyDecision>(serde_json::to_value(&value).unwrap()).unwrap())
        })
    });
    group.bench_function("gasbao_compiled", |b| {
        b.iter(|| {
            i = (i + 1) % INPUTS;
            black_box(
                compiled
                    .evaluate::<SubsidyDecision>(SUBSIDY_ENTRYPOINT, &applications[i])
                    .unwrap(),
            )
        })
    });
    group.finish();
}

/// Decisions on `threads` threads sharing one engine, each thread taking its
/// share of `iters` decisions; the time is the wall clock of the slowest.
fn decide_on_threads(
    engine: &PolicyEngine,
    applications: &Arc<Vec<SubsidyApplication>>,
    threads: u64,
    iters: u64,
) -> Duration {
    let per_thread = iters.div_ceil(threads);
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                for k in 0..per_thread {
                    let a = &applications[((t * 7919 + k) as usize) % INPUTS];
                    black_box(engine.evaluate::<SubsidyDecision>(SUBSIDY_ENTRYPOINT, a).unwrap());
                }
            });
        }
    });
    started.elapsed()
}

fn scaling(c: &mut Criterion) {
    let applications = Arc::new(applications());
    let bundle = Bundle::from_dir(BUNDLE).unwrap();
    let compiled = PolicyEngine::new(PreparedBundle::new(&bundle).unwrap());
    let interpreted = PolicyEngine::new(PreparedBundle::with_fast_path(&bundle, FastPath::Never).unwrap());
    let mut group = c.benchmark_group("policy_scaling");
    group.throughput(Throughput::Elements(1));
    group.sample_size(20);
    for (path, engine) in [("compiled", &compiled), ("interpreted", &interpreted)] {
        for threads in [1, 2] {
            group.bench_function(format!("{path}_{threads}_threads"), |b| {
                b.iter_custom(|iters| decide_on_threads(engine, &applications, threads, iters.max(threads)))
            });
        }
    }
    group.finish();
}

fn reload(c: &mut Criterion) {
    let bundle = Bundle::from_dir(BUNDLE).unwrap();
    let prepared = PreparedBundle::new(&bundle).unwrap();
    let engine = PolicyEngine::new(prepared.clone());
    let application = applications().swap_remove(0);
    let mut group = c.benchmark_group("policy_reload");
    group.bench_function("activate_then_first_decision", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                // Cloning the prepared bundle is setup, not part of a reload.
                let next = prepared.clone();
                let started = Instant::now();
                engine.activate(next);
                black_box(
                    engine
                        .evaluate::<SubsidyDecision>(SUBSIDY_ENTRYPOINT, &application)
                        .unwrap(),
                );
                total += started.elapsed();
            }
            total
        })
    });
    group.sample_size(10);
    group.bench_function("reload_whole", |b| {
        b.iter(|| engine.reload(black_box(&bundle)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, decision, scaling, reload);
criterion_main!(benches);
