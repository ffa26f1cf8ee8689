//! Shared by the policy tests: the reference bundle, a qualifying applicant,
//! and an oracle that decides as the reference policy's README says, written
//! in Rust from the published thresholds rather than from the Rego.

#![allow(dead_code, unreachable_pub)]

use gasbao_policy::{Bundle, SubsidyReason};
use serde_json::{Value, json};

pub const REFERENCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/bundles/subsidy");

pub fn reference() -> Bundle {
    Bundle::from_dir(REFERENCE).expect("the reference bundle reads")
}

/// Pudong, 3 people, 4,500 yuan a month, gas every month: eligible.
pub fn applicant() -> Value {
    json!({
        "household_id": "HH-0001",
        "name": "Wang Fang",
        "id_number": "310115198001010021",
        "region": "310115",
        "registered_resident": true,
        "fraud_flag": false,
        "low_income_certified": false,
        "monthly_income_fen": 450000,
        "members": 3,
        "monthly_usage_m3": [30, 28, 0, 12, 9, 15],
    })
}

/// `applicant()` with some fields replaced.
pub fn with(changes: Value) -> Value {
    let mut a = applicant();
    for (k, v) in changes.as_object().expect("changes are an object") {
        a[k] = v.clone();
    }
    a
}

/// The decision the reference bundle's rules call for, from its data.json
/// figures: eligible regions 310101, 310104, 310115, 320102, 330106; income
/// limit per member 2,000 yuan (310101, 310104), 1,800 (310115), else 1,500;
/// gas in any of the last 3 months (readings must be numbers); amount 120 yuan + 30 per member, at most
/// 240; low income means tier-1 pricing.
pub fn oracle(input: &Value) -> (bool, Vec<SubsidyReason>, Option<u64>, bool) {
    let tier_one = input.get("low_income_certified") == Some(&Value::Bool(true));
    let region = input.get("region").and_then(Value::as_str);
    let flag = |k: &str| input.get(k).and_then(Value::as_bool);
    let income = input
        .get("monthly_income_fen")
        .and_then(Value::as_f64)
        .filter(|i| *i >= 0.0);
    let members = input.get("members").and_then(Value::as_f64).filter(|m| *m >= 1.0);
    let usage = input
        .get("monthly_usage_m3")
        .and_then(Value::as_array)
        .filter(|u| u.iter().all(Value::is_number));
    let complete = region.is_some()
        && flag("registered_resident").is_some()
        && flag("fraud_flag").is_some()
        && flag("low_income_certified").is_some()
        && income.is_some()
        && members.is_some()
        && usage.is_some();
    if !complete {
        return (false, vec![SubsidyReason::IncompleteApplication], None, tier_one);
    }
    let (region, income, members, usage) = (region.unwrap(), income.unwrap(), members.unwrap(), usage.unwrap());
    let per_member = match region {
        "310101" | "310104" => 200_000.0,
        "310115" => 180_000.0,
        _ => 150_000.0,
    };
    let mut reasons = Vec::new();
    if flag("fraud_flag") == Some(true) {
        reasons.push(SubsidyReason::FraudFlag);
    }
    if income > per_member * members {
        reasons.push(SubsidyReason::IncomeAboveThreshold);
    }
    if flag("registered_resident") != Some(true) {
        reasons.push(SubsidyReason::NotRegisteredResident);
    }
    let recent = usage.iter().rev().take(3).any(|m| m.as_f64().is_some_and(|m| m > 0.0));
    if !recent {
        reasons.push(SubsidyReason::NoRecentGasUsage);
    }
    if !["310101", "310104", "310115", "320102", "330106"].contains(&region) {
        reasons.push(SubsidyReason::RegionNotEligible);
    }
    // Sorted as the policy sorts: by code.
    reasons.sort_by(|a, b| a.code().cmp(b.code()));
    let eligible = reasons.is_empty();
    let amount = eligible.then(|| (12_000.0 + 3_000.0 * members).min(24_000.0) as u64);
    (eligible, reasons, amount, tier_one)
}
