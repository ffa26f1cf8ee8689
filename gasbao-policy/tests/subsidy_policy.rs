//! The reference subsidy policy decides as its rules say, on both engines.

mod support;

use gasbao_core::Volume;
use gasbao_policy::{
    Decision, ExecutionPath, FastPath, PolicyEngine, PreparedBundle, SUBSIDY_ENTRYPOINT, SubsidyApplication,
    SubsidyDecision, SubsidyReason,
};
use serde_json::json;
use support::{oracle, reference, with};

use SubsidyReason::*;

fn engines() -> [PolicyEngine; 2] {
    let bundle = reference();
    let compiled = PolicyEngine::new(PreparedBundle::new(&bundle).unwrap());
    let interpreted = PolicyEngine::new(PreparedBundle::with_fast_path(&bundle, FastPath::Never).unwrap());
    assert_eq!(
        compiled.execution_path(),
        ExecutionPath::Compiled,
        "{:?}",
        compiled.fast_path_refusal()
    );
    assert_eq!(interpreted.execution_path(), ExecutionPath::Interpreted);
    [compiled, interpreted]
}

/// Each case: what changes from the qualifying applicant, and the decision
/// worked out by hand from data.json.
#[test]
fn every_reason_code_and_the_combinations_that_matter() {
    // (case, changes, eligible, reasons, amount in fen, tier-1 pricing)
    type Case = (
        &'static str,
        serde_json::Value,
        bool,
        Vec<SubsidyReason>,
        Option<u64>,
        bool,
    );
    let cases: Vec<Case> = vec![
        (
            "qualifies: 120 + 3 x 30 yuan",
            json!({}),
            true,
            vec![],
            Some(21_000),
            false,
        ),
        (
            "4 members: 120 + 4 x 30 = 240, at the cap",
            json!({"members": 4}),
            true,
            vec![],
            Some(24_000),
            false,
        ),
        (
            "6 members: 300 capped at 240",
            json!({"members": 6, "monthly_income_fen": 900000}),
            true,
            vec![],
            Some(24_000),
            false,
        ),
        (
            "1 member, 1,800 yuan exactly",
            json!({"members": 1, "monthly_income_fen": 180000}),
            true,
            vec![],
            Some(15_000),
            false,
        ),
        (
            "income 1 fen over 3 x 1,800",
            json!({"monthly_income_fen": 540001}),
            false,
            vec![IncomeAboveThreshold],
            None,
            false,
        ),
        (
            "income exactly 3 x 1,800",
            json!({"monthly_income_fen": 540000}),
            true,
            vec![],
            Some(21_000),
            false,
        ),
        (
            "Huangpu limit is 2,000 per member",
            json!({"region": "310101", "monthly_income_fen": 600000}),
            true,
            vec![],
            Some(21_000),
            false,
        ),
        (
            "Nanjing uses the 1,500 default",
            json!({"region": "320102", "monthly_income_fen": 450001}),
            false,
            vec![IncomeAboveThreshold],
            None,
            false,
        ),
        (
            "not a registered resident",
            json!({"registered_resident": false}),
            false,
            vec![NotRegisteredResident],
            None,
            false,
        ),
        (
            "no gas in the last 3 months",
            json!({"monthly_usage_m3": [40, 30, 20, 0, 0, 0]}),
            false,
            vec![NoRecentGasUsage],
            None,
            false,
        ),
        (
            "gas only 3 months ago",
            json!({"monthly_usage_m3": [0, 0, 0, 0.4, 0, 0]}),
            true,
            vec![],
            Some(21_000),
            false,
        ),
        (
            "gas only 4 months ago",
            json!({"monthly_usage_m3": [0, 0, 7, 0, 0, 0]}),
            false,
            vec![NoRecentGasUsage],
            None,
            false,
        ),
        (
            "new account, no readings",
            json!({"monthly_usage_m3": []}),
            false,
            vec![NoRecentGasUsage],
            None,
            false,
        ),
        (
            "fraud flag",
            json!({"fraud_flag": true}),
            false,
            vec![FraudFlag],
            None,
            false,
        ),
        (
            "Beijing is not in the programme",
            json!({"region": "110101"}),
            false,
            vec![RegionNotEligible],
            None,
            false,
        ),
        (
            "members missing",
            json!({"members": null}),
            false,
            vec![IncompleteApplication],
            None,
            false,
        ),
        (
            "income as text",
            json!({"monthly_income_fen": "450000"}),
            false,
            vec![IncompleteApplication],
            None,
            false,
        ),
        (
            "negative income",
            json!({"monthly_income_fen": -1}),
            false,
            vec![IncompleteApplication],
            None,
            false,
        ),
        (
            "no one lives there",
            json!({"members": 0}),
            false,
            vec![IncompleteApplication],
            None,
            false,
        ),
        (
            "fraud and not resident, sorted by code",
            json!({"fraud_flag": true, "registered_resident": false}),
            false,
            vec![FraudFlag, NotRegisteredResident],
            None,
            false,
        ),
        (
            "rich, idle, outside the programme",
            json!({"region": "330106", "monthly_income_fen": 450001, "monthly_usage_m3": [0]}),
            false,
            vec![IncomeAboveThreshold, NoRecentGasUsage],
            None,
            false,
        ),
        (
            "all five substantive reasons",
            json!({"region": "110101", "registered_resident": false, "fraud_flag": true, "monthly_income_fen": 99999999, "monthly_usage_m3": [0, 0, 0]}),
            false,
            vec![
                FraudFlag,
                IncomeAboveThreshold,
                NotRegisteredResident,
                NoRecentGasUsage,
                RegionNotEligible,
            ],
            None,
            false,
        ),
        (
            "low income: tier 1 and subsidy",
            json!({"low_income_certified": true}),
            true,
            vec![],
            Some(21_000),
            true,
        ),
        (
            "low income: tier 1 even when refused",
            json!({"low_income_certified": true, "fraud_flag": true}),
            false,
            vec![FraudFlag],
            None,
            true,
        ),
        (
            "low income: tier 1 even when incomplete",
            json!({"low_income_certified": true, "members": "three"}),
            false,
            vec![IncompleteApplication],
            None,
            true,
        ),
    ];
    for engine in engines() {
        for (name, changes, eligible, reasons, amount, tier_one) in &cases {
            let input = with(changes.clone());
            let decision: Decision<SubsidyDecision> = engine.evaluate(SUBSIDY_ENTRYPOINT, &input).unwrap();
            let got = &decision.output;
            let path = decision.path;
            assert_eq!(got.eligible, *eligible, "{name} ({path})");
            assert_eq!(&got.reasons, reasons, "{name} ({path})");
            assert_eq!(got.amount_fen, *amount, "{name} ({path})");
            assert_eq!(got.tier_one_pricing, *tier_one, "{name} ({path})");
            // The table and the oracle were written separately; they agree.
            assert_eq!(
                oracle(&input),
                (*eligible, reasons.clone(), *amount, *tier_one),
                "oracle: {name}"
            );
        }
    }
}

#[test]
fn a_typed_application_is_decided_and_reports_its_revision() {
    let [engine, _] = engines();
    let mut application = SubsidyApplication::new("HH-7", "310104", 2);
    application.registered_resident = true;
    application.monthly_income_fen = 400_000; // 2 x 2,000 yuan: at the limit
    application.monthly_usage_m3 = vec![Volume::from_milli_m3(3_500)];
    let decision: Decision<SubsidyDecision> = engine.evaluate(SUBSIDY_ENTRYPOINT, &application).unwrap();
    assert!(decision.output.eligible);
    assert_eq!(decision.output.amount_fen, Some(18_000));
    assert_eq!(&*decision.revision, "2026-11-heating-v1");
    assert_eq!(decision.path, ExecutionPath::Compiled);
    // OPA's slash form names the same entrypoint.
    let again: Decision<SubsidyDecision> = engine.evaluate("gasbao/subsidy/decision", &application).unwrap();
    assert_eq!(again.output, decision.output);
}

#[test]
fn the_engine_is_send_sync_and_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<PolicyEngine>();
    assert_send_sync::<PreparedBundle>();
    let [engine, _] = engines();
    let engine = &engine;
    std::thread::scope(|s| {
        for t in 0..4u64 {
            s.spawn(move || {
                for i in 0..200u64 {
                    let input = with(json!({"monthly_income_fen": 539_000 + (t * 200 + i) * 3}));
                    let d: Decision<SubsidyDecision> = engine.evaluate(SUBSIDY_ENTRYPOINT, &input).unwrap();
                    assert_eq!(
                        (
                            d.output.eligible,
                            d.output.reasons.clone(),
                            d.output.amount_fen,
                            d.output.tier_one_pricing
                        ),
                        oracle(&input)
                    );
                }
            });
        }
    });
}

#[test]
fn monthly_use_reaches_the_policy_as_numbers_and_is_read_back_exactly() {
    let mut application = SubsidyApplication::new("HH-8", "310104", 2);
    application.monthly_usage_m3 = vec![
        Volume::from_whole_m3(30),
        Volume::from_milli_m3(30_000), // 30.000: still a whole number
        Volume::from_milli_m3(9_500),
        Volume::from_milli_m3(1),
        Volume::ZERO,
        Volume::from_milli_m3(123_456_789),
    ];
    let written = serde_json::to_value(&application).unwrap();
    assert_eq!(
        written["monthly_usage_m3"],
        json!([30, 30, 9.5, 0.001, 0, 123456.789]),
        "numbers, not decimal strings, for the policy's is_number checks"
    );
    let read: SubsidyApplication = serde_json::from_value(written).unwrap();
    assert_eq!(read, application);
}

#[test]
fn monthly_use_that_is_not_a_volume_is_refused_with_its_month() {
    let base = serde_json::to_value(SubsidyApplication::new("HH-9", "310104", 2)).unwrap();
    let cases = [
        (json!([12, -2]), "monthly_usage_m3[1]: volume must not be negative"),
        (json!([12, 3, -0.5]), "monthly_usage_m3[2]: volume must not be negative"),
        (json!(["3"]), "invalid type: string \"3\", expected a number of m3"),
        (
            json!({"jan": 3}),
            "invalid type: map, expected a list of monthly gas use in m3",
        ),
    ];
    for (usage, expected) in cases {
        let mut input = base.clone();
        input["monthly_usage_m3"] = usage.clone();
        let error = serde_json::from_value::<SubsidyApplication>(input)
            .unwrap_err()
            .to_string();
        assert!(error.starts_with(expected), "{usage}: {error}");
    }
}
