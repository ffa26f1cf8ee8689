//! Reloading while threads decide: every decision is the whole answer of one
//! revision, the one it reports, and no decision waits for a bundle to load.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use gasbao_policy::{Bundle, Decision, Manifest, PolicyEngine, PreparedBundle, SUBSIDY_ENTRYPOINT};
use serde_json::{Value, json};
use support::{reference, with};

/// The reference bundle under another revision, with Pudong's limit lowered
/// from 1,800 to 1,500 yuan per member, so that incomes in between change answer.
fn revision_b() -> Bundle {
    let a = reference();
    let mut data = a.data().clone();
    data["subsidy"]["income_per_member_fen"]["310115"] = json!(150000);
    let manifest = Manifest::new("2026-12-pudong-cut", ["gasbao/subsidy/decision"]);
    let mut b = Bundle::new(manifest)
        .with_data(data)
        .unwrap()
        .with_test_inputs(a.test_inputs().to_vec());
    for m in a.modules() {
        // The tests pin Pudong's old limit; revision B brings its own.
        let source = m.source.replace("540000", "450000").replace("540001", "450001");
        b = b.with_module(m.path.clone(), source);
    }
    b
}

fn inputs() -> Vec<Value> {
    (0..64)
        .map(|i| with(json!({"monthly_income_fen": 420_000 + i * 2_000})))
        .collect()
}

#[test]
fn every_decision_during_1000_reloads_is_one_revisions_answer() {
    let (a, b) = (
        PreparedBundle::new(&reference()).unwrap(),
        PreparedBundle::new(&revision_b()).unwrap(),
    );
    let inputs = inputs();
    // Each revision's answers, from engines nobody reloads.
    let mut expected: HashMap<String, Vec<Value>> = HashMap::new();
    for prepared in [&a, &b] {
        let engine = PolicyEngine::new(prepared.clone());
        let answers = inputs
            .iter()
            .map(|i| engine.evaluate::<Value>(SUBSIDY_ENTRYPOINT, i).unwrap().output)
            .collect();
        expected.insert(prepared.revision().to_owned(), answers);
    }
    let differing = (0..inputs.len())
        .filter(|&i| expected[a.revision()][i] != expected[b.revision()][i])
        .count();
    assert!(
        differing > 10,
        "the revisions must disagree on many inputs, not {differing}"
    );

    let engine = PolicyEngine::new(a.clone());
    let done = AtomicBool::new(false);
    let seen = std::thread::scope(|s| {
        let deciders: Vec<_> = (0..3)
            .map(|t| {
                let (engine, inputs, expected, done) = (&engine, &inputs, &expected, &done);
                s.spawn(move || {
                    let mut seen: HashMap<String, usize> = HashMap::new();
                    let mut i = t;
                    while !done.load(Ordering::Relaxed) {
                        let input = &inputs[i % inputs.len()];
                        let d: Decision<Value> = engine.evaluate(SUBSIDY_ENTRYPOINT, input).unwrap();
                        assert_eq!(
                            d.output,
                            expected[&*d.revision][i % inputs.len()],
                            "revision {}",
                            d.revision
                        );
                        *seen.entry(d.revision.to_string()).or_default() += 1;
                        i += 7;
                    }
                    seen
                })
            })
            .collect();
        for n in 0..1000 {
            let next = if n % 2 == 0 { &b } else { &a };
            engine.activate(next.clone());
            if n % 100 == 0 {
                // Now and then the whole way: parse, compile, test, swap.
                let bundle = if n % 200 == 0 { revision_b() } else { reference() };
                engine.reload(&bundle).unwrap();
            }
            std::thread::yield_now();
        }
        done.store(true, Ordering::Relaxed);
        deciders.into_iter().map(|d| d.join().unwrap()).collect::<Vec<_>>()
    });
    for per_thread in &seen {
        assert!(per_thread.len() == 2, "each thread saw both revisions: {per_thread:?}");
    }
}

#[test]
fn a_reload_is_seen_by_every_clone_and_reports_what_it_replaced() {
    let engine = PolicyEngine::new(PreparedBundle::new(&reference()).unwrap());
    let clone = engine.clone();
    let replaced = engine.reload(&revision_b()).unwrap();
    assert_eq!(&*replaced, "2026-11-heating-v1");
    assert_eq!(&*clone.revision(), "2026-12-pudong-cut");
    // 4,600 yuan for 3 people: within 3 x 1,800, above 3 x 1,500.
    let input = with(json!({"monthly_income_fen": 460_000}));
    let d: Decision<Value> = clone.evaluate(SUBSIDY_ENTRYPOINT, &input).unwrap();
    assert_eq!(
        (&*d.revision, &d.output["reasons"]),
        ("2026-12-pudong-cut", &json!(["INCOME_ABOVE_THRESHOLD"]))
    );
}
