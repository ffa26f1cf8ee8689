//! Per-field merge of replayed device writes against the cloud, judged
//! against the version the device last synchronised with.

use gasbao_shadow::{
    Decision, FieldPolicy, MergePolicy, Replayed, SectionName, ShadowDocument, ShadowRules, Side, Timestamp,
    UpdateRequest, VersionStamp, WriteContext,
};
use serde_json::{Value, json};

const BASE_TIME: u64 = 1_000;

fn request(state: Value) -> UpdateRequest {
    UpdateRequest::from_value(json!({ "state": state }), &Default::default()).unwrap()
}

fn stamp(ms: u64) -> VersionStamp {
    VersionStamp {
        physical_ms: ms,
        logical: 0,
    }
}

/// A shadow synced at version 1 with `base` reported, then (optionally) a
/// cloud write of `cloud` at `cloud_ms`, then a device write of `device`
/// stamped `device_ms` replayed against base version 1.
fn run(
    rules: &ShadowRules,
    section: &str,
    base: Value,
    cloud: Option<(Value, u64)>,
    device: (Value, u64),
) -> ShadowDocument {
    let mut shadow = ShadowDocument::new();
    let at = |ms: u64| WriteContext {
        at: Timestamp::from_secs(ms / 1000),
        stamp: stamp(ms),
        replay: None,
    };
    shadow
        .apply(request(json!({ section: base })), at(BASE_TIME), rules)
        .unwrap();
    if let Some((cloud, ms)) = cloud {
        shadow.apply(request(json!({ section: cloud })), at(ms), rules).unwrap();
    }
    let (device, ms) = device;
    let replay = WriteContext {
        replay: Some(Replayed {
            base_version: 1,
            origin: 42,
        }),
        ..at(ms)
    };
    shadow
        .apply(request(json!({ section: device })), replay, rules)
        .unwrap();
    shadow
}

struct Case {
    name: &'static str,
    policy: FieldPolicy,
    base: Value,
    cloud: Option<(Value, u64)>,
    device: (Value, u64),
    /// The field `f` afterwards, in `reported`.
    expect: Value,
    conflict: bool,
}

#[test]
fn each_policy_decides_as_documented() {
    let closed = json!("closed");
    let cases = vec![
        Case {
            name: "a field only the device changed takes the device's value, even if older",
            policy: FieldPolicy::LastWriterWins,
            base: json!({"f": 1, "g": 1}),
            cloud: Some((json!({"g": 2}), 5_000)),
            device: (json!({"f": 3}), 2_000),
            expect: json!(3),
            conflict: false,
        },
        Case {
            name: "a field only the device changed never conflicts, even under Manual",
            policy: FieldPolicy::Manual,
            base: json!({"f": 1, "g": 1}),
            cloud: Some((json!({"g": 2}), 5_000)),
            device: (json!({"f": 3}), 2_000),
            expect: json!(3),
            conflict: false,
        },
        Case {
            name: "last writer wins: the later device write",
            policy: FieldPolicy::LastWriterWins,
            base: json!({"f": 1}),
            cloud: Some((json!({"f": 2}), 3_000)),
            device: (json!({"f": 3}), 4_000),
            expect: json!(3),
            conflict: false,
        },
        Case {
            name: "last writer wins: the later cloud write",
            policy: FieldPolicy::LastWriterWins,
            base: json!({"f": 1}),
            cloud: Some((json!({"f": 2}), 4_000)),
            device: (json!({"f": 3}), 3_000),
            expect: json!(2),
            conflict: false,
        },
        Case {
            name: "last writer wins: a tie keeps the cloud's",
            policy: FieldPolicy::LastWriterWins,
            base: json!({"f": 1}),
            cloud: Some((json!({"f": 2}), 4_000)),
            device: (json!({"f": 3}), 4_000),
            expect: json!(2),
            conflict: false,
        },
        Case {
            name: "max wins: an old replayed reading never moves the index back",
            policy: FieldPolicy::MaxWins,
            base: json!({"f": 1000}),
            cloud: Some((json!({"f": 1050}), 3_000)),
            device: (json!({"f": 1020}), 4_000),
            expect: json!(1050),
            conflict: false,
        },
        Case {
            name: "max wins even when only the device wrote",
            policy: FieldPolicy::MaxWins,
            base: json!({"f": 1000}),
            cloud: None,
            device: (json!({"f": 990}), 4_000),
            expect: json!(1000),
            conflict: false,
        },
        Case {
            name: "max wins: a higher device reading is taken",
            policy: FieldPolicy::MaxWins,
            base: json!({"f": 1000}),
            cloud: Some((json!({"f": 1050}), 5_000)),
            device: (json!({"f": 1060.5}), 4_000),
            expect: json!(1060.5),
            conflict: false,
        },
        Case {
            name: "safety first: a device close beats a later cloud open",
            policy: FieldPolicy::SafetyFirst { safe: closed.clone() },
            base: json!({"f": "open"}),
            cloud: Some((json!({"f": "half"}), 9_000)),
            device: (json!({"f": "closed"}), 2_000),
            expect: json!("closed"),
            conflict: false,
        },
        Case {
            name: "safety first: a cloud close beats a later device open",
            policy: FieldPolicy::SafetyFirst { safe: closed.clone() },
            base: json!({"f": "half"}),
            cloud: Some((json!({"f": "closed"}), 2_000)),
            device: (json!({"f": "open"}), 9_000),
            expect: json!("closed"),
            conflict: false,
        },
        Case {
            name: "safety first: between unsafe values the later wins",
            policy: FieldPolicy::SafetyFirst { safe: closed.clone() },
            base: json!({"f": "closed"}),
            cloud: Some((json!({"f": "half"}), 2_000)),
            device: (json!({"f": "open"}), 9_000),
            expect: json!("open"),
            conflict: false,
        },
        Case {
            name: "manual: both changed, the cloud keeps its value and a conflict is recorded",
            policy: FieldPolicy::Manual,
            base: json!({"f": 1}),
            cloud: Some((json!({"f": 2}), 3_000)),
            device: (json!({"f": 3}), 4_000),
            expect: json!(2),
            conflict: true,
        },
        Case {
            name: "manual: both wrote the same value, no conflict",
            policy: FieldPolicy::Manual,
            base: json!({"f": 1}),
            cloud: Some((json!({"f": 2}), 3_000)),
            device: (json!({"f": 2}), 4_000),
            expect: json!(2),
            conflict: false,
        },
    ];
    for case in cases {
        let rules = ShadowRules::default().merge("f", case.policy);
        let shadow = run(&rules, "reported", case.base, case.cloud, case.device);
        assert_eq!(shadow.reported()["f"], case.expect, "{}", case.name);
        assert_eq!(!shadow.conflicts().is_empty(), case.conflict, "{}", case.name);
        assert_eq!(shadow.invariant_violation(), None, "{}", case.name);
    }
}

#[test]
fn a_conflict_keeps_both_values_until_resolved() {
    let rules = ShadowRules::default().merge("meter", FieldPolicy::Manual);
    let mut shadow = run(
        &rules,
        "reported",
        json!({"meter": {"index": 1}}),
        Some((json!({"meter": {"index": 2}}), 3_000)),
        (json!({"meter": {"index": 3}}), 4_000),
    );
    let conflict = &shadow.conflicts()[0];
    assert_eq!(
        (conflict.section, conflict.path.as_str()),
        (SectionName::Reported, "meter.index")
    );
    assert_eq!(
        (conflict.cloud.clone(), conflict.device.clone()),
        (Some(json!(2)), Some(json!(3)))
    );
    let version = shadow.version();
    let outcome = shadow
        .resolve_conflict(
            SectionName::Reported,
            "meter.index",
            gasbao_shadow::ConflictChoice::Device,
            WriteContext::at(Timestamp::from_secs(9)),
            &rules,
        )
        .unwrap()
        .unwrap();
    assert!(outcome.changed);
    assert_eq!(shadow.reported()["meter"], json!({"index": 3}));
    assert!(shadow.conflicts().is_empty());
    assert_eq!(shadow.version(), version + 1);
}

#[test]
fn the_longest_configured_path_decides() {
    let rules = ShadowRules::default()
        .merge("meter", FieldPolicy::Manual)
        .merge("meter.index", FieldPolicy::MaxWins);
    let shadow = run(
        &rules,
        "reported",
        json!({"meter": {"index": 1, "unit": "m3"}}),
        Some((json!({"meter": {"index": 5, "unit": "ft3"}}), 3_000)),
        (json!({"meter": {"index": 4, "unit": "m3"}}), 4_000),
    );
    assert_eq!(shadow.reported()["meter"], json!({"index": 5, "unit": "ft3"}));
    let paths: Vec<&str> = shadow.conflicts().iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, ["meter.unit"]);
}

/// Averages two readings: a user-defined policy.
struct Average;

impl MergePolicy for Average {
    fn decide(&self, _path: &str, cloud: Side<'_>, device: Side<'_>) -> Decision {
        match (
            cloud.value.and_then(Value::as_f64),
            device.value.and_then(Value::as_f64),
        ) {
            (Some(a), Some(b)) => Decision::Replace(json!((a + b) / 2.0)),
            _ => Decision::Conflict,
        }
    }
}

#[test]
fn a_user_defined_policy_decides_its_fields() {
    let rules = ShadowRules::default().merge("temperature", FieldPolicy::Custom(std::sync::Arc::new(Average)));
    let shadow = run(
        &rules,
        "reported",
        json!({"temperature": 10}),
        Some((json!({"temperature": 14}), 3_000)),
        (json!({"temperature": 18}), 4_000),
    );
    assert_eq!(shadow.reported()["temperature"], json!(16.0));
    let shadow = run(
        &rules,
        "reported",
        json!({"temperature": 10}),
        Some((json!({"temperature": 14}), 3_000)),
        (json!({"temperature": "hot"}), 4_000),
    );
    assert_eq!(shadow.reported()["temperature"], json!(14));
    assert_eq!(shadow.conflicts().len(), 1);
}

#[test]
fn a_device_close_on_a_leak_survives_the_clouds_later_open() {
    // The valve story end to end at document level: the device closes on a
    // leak alarm while offline (desired and reported), the back end asks to
    // open it meanwhile; the replay must leave it closed with no open delta.
    let rules = ShadowRules::default().merge("valve", FieldPolicy::SafetyFirst { safe: json!("closed") });
    let mut shadow = ShadowDocument::new();
    let at = |ms: u64| WriteContext {
        at: Timestamp::from_secs(ms / 1000),
        stamp: stamp(ms),
        replay: None,
    };
    shadow
        .apply(
            request(json!({"desired": {"valve": "open"}, "reported": {"valve": "open"}})),
            at(1_000),
            &rules,
        )
        .unwrap();
    shadow
        .apply(request(json!({"desired": {"valve": "open"}})), at(9_000), &rules)
        .unwrap();
    let replay = WriteContext {
        replay: Some(Replayed {
            base_version: 1,
            origin: 42,
        }),
        ..at(5_000)
    };
    shadow
        .apply(
            request(json!({"desired": {"valve": "closed"}, "reported": {"valve": "closed", "alarm": "leak"}})),
            replay,
            &rules,
        )
        .unwrap();
    assert_eq!(shadow.desired()["valve"], "closed");
    assert_eq!(shadow.reported()["valve"], "closed");
    assert!(shadow.delta().get("valve").is_none());
}
