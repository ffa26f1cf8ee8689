//! No ghost commands, no collapsed commands, no version storms.

use gasbao_shadow::{DesiredField, ShadowDocument, ShadowRules, Timestamp, UpdateRequest};
use serde_json::{Value, json};

fn update(shadow: &mut ShadowDocument, state: Value, secs: u64, rules: &ShadowRules) -> gasbao_shadow::UpdateOutcome {
    let request = UpdateRequest::from_value(json!({ "state": state }), &rules.limits).unwrap();
    shadow.update(request, Timestamp::from_secs(secs), rules).unwrap()
}

#[test]
fn without_clear_on_ack_an_old_command_comes_back_as_a_ghost() {
    // AWS's own behaviour, which the rule below exists to avoid.
    let rules = ShadowRules::default();
    let mut shadow = ShadowDocument::new();
    update(&mut shadow, json!({"desired": {"valve": "closed"}}), 1, &rules);
    update(&mut shadow, json!({"reported": {"valve": "closed"}}), 2, &rules);
    // A technician opens the valve by hand a week later.
    update(&mut shadow, json!({"reported": {"valve": "open"}}), 600_000, &rules);
    assert_eq!(shadow.delta().get("valve"), Some(&json!("closed")));
}

#[test]
fn an_acknowledged_command_is_cleared_and_never_fires_again() {
    let rules = ShadowRules::default().desired("valve", DesiredField::clear_on_ack());
    let mut shadow = ShadowDocument::new();
    update(
        &mut shadow,
        json!({"desired": {"valve": "closed", "interval": 900}}),
        1,
        &rules,
    );
    let outcome = update(&mut shadow, json!({"reported": {"valve": "closed"}}), 2, &rules);
    assert_eq!(outcome.cleared, ["valve"]);
    assert_eq!(
        outcome.accepted.version, 2,
        "the clearing is part of the acknowledging update"
    );
    assert_eq!(shadow.desired().get("valve"), None);
    update(&mut shadow, json!({"reported": {"valve": "open"}}), 600_000, &rules);
    assert_eq!(shadow.delta().get("valve"), None);
    assert_eq!(shadow.desired()["interval"], 900, "fields without the rule stay");
}

#[test]
fn a_report_that_differs_does_not_clear() {
    let rules = ShadowRules::default().desired("valve", DesiredField::clear_on_ack());
    let mut shadow = ShadowDocument::new();
    update(&mut shadow, json!({"desired": {"valve": "closed"}}), 1, &rules);
    let outcome = update(&mut shadow, json!({"reported": {"valve": "open"}}), 2, &rules);
    assert!(outcome.cleared.is_empty());
    assert_eq!(shadow.delta()["valve"], "closed");
}

#[test]
fn a_nested_desired_field_clears_and_prunes_its_parent() {
    let rules = ShadowRules::default().desired("valve.position", DesiredField::clear_on_ack());
    let mut shadow = ShadowDocument::new();
    update(
        &mut shadow,
        json!({"desired": {"valve": {"position": "closed"}}}),
        1,
        &rules,
    );
    update(
        &mut shadow,
        json!({"reported": {"valve": {"position": "closed", "torque": 3}}}),
        2,
        &rules,
    );
    assert!(shadow.desired().is_empty());
    assert_eq!(shadow.invariant_violation(), None);
}

#[test]
fn a_desired_field_expires_after_its_time_to_live() {
    let rules = ShadowRules::default().desired("firmware", DesiredField::default().ttl_secs(3_600));
    let mut shadow = ShadowDocument::new();
    update(
        &mut shadow,
        json!({"desired": {"firmware": "2.1", "interval": 900}}),
        1_000,
        &rules,
    );
    assert!(shadow.expire(Timestamp::from_secs(4_599), &rules).is_empty());
    assert_eq!(shadow.version(), 1);
    assert_eq!(shadow.expire(Timestamp::from_secs(4_600), &rules), ["firmware"]);
    assert_eq!(shadow.version(), 2);
    assert_eq!(shadow.desired().get("firmware"), None);
    assert_eq!(shadow.delta().get("firmware"), None);
    // An update after the deadline also drops it.
    update(&mut shadow, json!({"desired": {"firmware": "2.2"}}), 5_000, &rules);
    let outcome = update(&mut shadow, json!({"reported": {"battery": 80}}), 8_601, &rules);
    assert_eq!(outcome.cleared, ["firmware"]);
}

#[test]
fn the_command_log_keeps_close_then_open_in_order() {
    let rules = ShadowRules::default().desired("valve", DesiredField::default().ordered());
    let mut shadow = ShadowDocument::new();
    update(&mut shadow, json!({"desired": {"valve": "closed"}}), 1, &rules);
    update(&mut shadow, json!({"desired": {"interval": 300}}), 2, &rules);
    update(&mut shadow, json!({"desired": {"valve": "open"}}), 3, &rules);
    // The document holds only the latest; the log holds both, in order.
    assert_eq!(shadow.desired()["valve"], "open");
    let log: Vec<(u64, Option<Value>, u64)> = shadow
        .commands()
        .since(0)
        .map(|c| (c.seq, c.value.clone(), c.version))
        .collect();
    assert_eq!(log, [(1, Some(json!("closed")), 1), (2, Some(json!("open")), 3)]);
    shadow.acknowledge_commands(1);
    let rest: Vec<u64> = shadow.commands().since(0).map(|c| c.seq).collect();
    assert_eq!(rest, [2]);
}

#[test]
fn a_no_op_update_bumps_the_version_unless_the_rules_skip_it() {
    let aws = ShadowRules::default();
    let mut shadow = ShadowDocument::new();
    update(&mut shadow, json!({"desired": {"valve": "closed"}}), 1, &aws);
    let outcome = update(&mut shadow, json!({"desired": {"valve": "closed"}}), 2, &aws);
    assert!(outcome.changed);
    assert_eq!(shadow.version(), 2);
    assert!(outcome.delta.is_some(), "AWS republishes the delta");

    let quiet = ShadowRules::default().skip_no_op_updates();
    let outcome = update(&mut shadow, json!({"desired": {"valve": "closed"}}), 3, &quiet);
    assert!(!outcome.changed);
    assert_eq!((outcome.accepted.version, shadow.version()), (2, 2));
    assert_eq!(outcome.delta, None);
    let outcome = update(&mut shadow, json!({"desired": {"gone": null}}), 4, &quiet);
    assert!(!outcome.changed, "deleting an absent field changes nothing");
    let outcome = update(&mut shadow, json!({"desired": {"valve": "open"}}), 5, &quiet);
    assert!(outcome.changed);
    assert_eq!(shadow.version(), 3);
}
