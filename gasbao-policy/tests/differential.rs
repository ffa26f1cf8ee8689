//! The compiled fast path and the interpreter agree exactly on 10,000
//! generated applications, well-formed and not, and both match an oracle
//! written from the published rules.

mod support;

use gasbao_policy::{
    EvaluationError, ExecutionPath, FastPath, PolicyEngine, PreparedBundle, SUBSIDY_ENTRYPOINT, SubsidyDecision,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Value, json};
use support::{oracle, reference};

/// Mostly well-formed applications near every threshold, with a field now
/// and then missing or of the wrong type.
fn application() -> impl Strategy<Value = Value> {
    let region = prop_oneof![
        Just("310101"),
        Just("310104"),
        Just("310115"),
        Just("320102"),
        Just("330106"),
        Just("110101"),
        Just("440305")
    ];
    let income = prop_oneof![
        0u64..600_000,
        0u64..2_000_000,
        Just(150_000),
        Just(180_000),
        Just(200_000),
        Just(540_000),
        Just(540_001)
    ];
    let usage = prop::collection::vec(prop_oneof![Just(0.0), 0.0f64..80.0], 0..8);
    let damage = prop_oneof![
        8 => Just(None),
        1 => Just(Some(("members", json!(0)))),
        1 => Just(Some(("members", Value::Null))),
        1 => Just(Some(("monthly_income_fen", json!("450000")))),
        1 => Just(Some(("monthly_income_fen", json!(-5)))),
        1 => Just(Some(("region", json!(310115)))),
        1 => Just(Some(("monthly_usage_m3", json!({"jan": 3})))),
        1 => Just(Some(("monthly_usage_m3", json!(["3", null, true])))),
        1 => Just(Some(("registered_resident", json!("yes")))),
    ];
    let flags = (
        prop::bool::weighted(0.85),
        prop::bool::weighted(0.1),
        any::<bool>(),
        any::<bool>(),
    );
    (region, income, 1u32..8, flags, usage, damage).prop_map(
        |(region, income, members, (resident, fraud, low_income, drop_name), usage, damage)| {
            let mut a = json!({
                "household_id": "HH-1",
                "name": "Li Na",
                "region": region,
                "registered_resident": resident,
                "fraud_flag": fraud,
                "low_income_certified": low_income,
                "monthly_income_fen": income,
                "members": members,
                "monthly_usage_m3": usage,
            });
            if drop_name {
                a.as_object_mut().unwrap().remove("name");
            }
            if let Some((field, value)) = damage {
                a[field] = value;
            }
            a
        },
    )
}

#[test]
fn fast_path_and_interpreter_agree_on_10_000_applications() {
    let bundle = reference();
    let compiled = PolicyEngine::new(PreparedBundle::new(&bundle).unwrap());
    let interpreted = PolicyEngine::new(PreparedBundle::with_fast_path(&bundle, FastPath::Never).unwrap());
    assert_eq!(compiled.execution_path(), ExecutionPath::Compiled);

    let cases = if cfg!(debug_assertions) { 10_000 } else { 20_000 };
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    let eligible = std::cell::Cell::new(0u32);
    runner
        .run(&application(), |input| {
            let fast = compiled.evaluate::<Value>(SUBSIDY_ENTRYPOINT, &input).map(|d| d.output);
            let slow = interpreted
                .evaluate::<Value>(SUBSIDY_ENTRYPOINT, &input)
                .map(|d| d.output);
            match (&fast, &slow) {
                (Ok(fast), Ok(slow)) => prop_assert_eq!(fast, slow, "input {}", input),
                _ => prop_assert!(
                    false,
                    "an error on {}: {:?} / {:?}",
                    input,
                    fast.err(),
                    slow.err().map(|e: EvaluationError| e.to_string())
                ),
            }
            let decision: SubsidyDecision = serde_json::from_value(slow.unwrap()).unwrap();
            eligible.set(eligible.get() + u32::from(decision.eligible));
            prop_assert_eq!(
                (
                    decision.eligible,
                    decision.reasons,
                    decision.amount_fen,
                    decision.tier_one_pricing
                ),
                oracle(&input),
                "input {}",
                input
            );
            Ok(())
        })
        .unwrap();
    // The generator reaches both outcomes often enough for the agreement to mean something.
    assert!(
        eligible.get() > cases / 20,
        "only {} eligible of {cases}",
        eligible.get()
    );
}
