//! The AWS IoT Device Shadow rules, one case per documented rule, each
//! citing the AWS IoT Developer Guide page it comes from. Expected
//! documents are written by hand from the page, not from this crate.

use gasbao_shadow::{
    Limits, Rejection, ServiceError, ShadowId, ShadowRules, ShadowService, ThingName, Timestamp, UpdateRequest,
};
use serde_json::{Value, json};

const DOCUMENT: &str = "https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-document.html";
const ERRORS: &str = "https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-error-messages.html";
const LIMITS: &str = "https://docs.aws.amazon.com/general/latest/gr/iot-core.html#device-shadow-limits";
const DATA_FLOW: &str = "https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-data-flow.html";
const OURS: &str = "our documented choice where the guide is silent (crate docs, 'Where AWS is ambiguous')";

/// What a case expects after its last request.
enum Expect {
    /// Accepted: the shadow's `state` (desired, reported, delta) and version.
    State(Value, u64),
    /// Rejected with this code and message.
    Rejected(u16, &'static str),
}

struct Case {
    rule: &'static str,
    source: &'static str,
    before: &'static [&'static str],
    request: &'static str,
    expect: Expect,
}

fn cases() -> Vec<Case> {
    use Expect::{Rejected, State};
    vec![
        // Document properties and merging.
        Case {
            rule: "a first update creates the shadow at version 1",
            source: DOCUMENT,
            before: &[],
            request: r#"{"state": {"reported": {"valve": "open"}}}"#,
            expect: State(json!({"reported": {"valve": "open"}}), 1),
        },
        Case {
            rule: "updates affect only the fields specified",
            source: DOCUMENT,
            before: &[r#"{"state": {"reported": {"valve": "open", "battery": 90}}}"#],
            request: r#"{"state": {"reported": {"battery": 88}}}"#,
            expect: State(json!({"reported": {"valve": "open", "battery": 88}}), 2),
        },
        Case {
            rule: "nested objects merge member by member",
            source: DOCUMENT,
            before: &[r#"{"state": {"reported": {"meter": {"index": 10, "unit": "m3"}}}}"#],
            request: r#"{"state": {"reported": {"meter": {"index": 11}}}}"#,
            expect: State(json!({"reported": {"meter": {"index": 11, "unit": "m3"}}}), 2),
        },
        Case {
            rule: "null deletes a field",
            source: DOCUMENT,
            before: &[r#"{"state": {"reported": {"valve": "open", "battery": 90}}}"#],
            request: r#"{"state": {"reported": {"battery": null}}}"#,
            expect: State(json!({"reported": {"valve": "open"}}), 2),
        },
        Case {
            rule: "null deletes a nested field",
            source: DOCUMENT,
            before: &[r#"{"state": {"reported": {"meter": {"index": 10, "unit": "m3"}}}}"#],
            request: r#"{"state": {"reported": {"meter": {"unit": null}}}}"#,
            expect: State(json!({"reported": {"meter": {"index": 10}}}), 2),
        },
        Case {
            rule: "an object whose last member is deleted is removed",
            source: DOCUMENT,
            before: &[r#"{"state": {"reported": {"meter": {"index": 10}, "valve": "open"}}}"#],
            request: r#"{"state": {"reported": {"meter": {"index": null}}}}"#,
            expect: State(json!({"reported": {"valve": "open"}}), 2),
        },
        Case {
            rule: "a section whose last field is deleted is removed",
            source: DOCUMENT,
            before: &[r#"{"state": {"desired": {"valve": "closed"}, "reported": {"valve": "closed"}}}"#],
            request: r#"{"state": {"desired": {"valve": null}}}"#,
            expect: State(json!({"reported": {"valve": "closed"}}), 2),
        },
        Case {
            rule: "desired: null deletes the whole desired section",
            source: DOCUMENT,
            before: &[r#"{"state": {"desired": {"valve": "closed", "interval": 900}, "reported": {"valve": "open"}}}"#],
            request: r#"{"state": {"desired": null}}"#,
            expect: State(json!({"reported": {"valve": "open"}}), 2),
        },
        Case {
            rule: "reported: null deletes the whole reported section",
            source: DOCUMENT,
            before: &[r#"{"state": {"desired": {"valve": "closed"}, "reported": {"valve": "open"}}}"#],
            request: r#"{"state": {"reported": null}}"#,
            expect: State(json!({"desired": {"valve": "closed"}, "delta": {"valve": "closed"}}), 2),
        },
        Case {
            rule: "state: null deletes all state and keeps the version",
            source: DOCUMENT,
            before: &[r#"{"state": {"desired": {"valve": "closed"}, "reported": {"valve": "open"}}}"#],
            request: r#"{"state": null}"#,
            expect: State(json!({}), 2),
        },
        Case {
            rule: "arrays are replaced whole, not merged",
            source: DOCUMENT,
            before: &[r#"{"state": {"desired": {"tariff": [2.61, 3.13, 3.92]}}}"#],
            request: r#"{"state": {"desired": {"tariff": [2.75]}}}"#,
            expect: State(json!({"desired": {"tariff": [2.75]}, "delta": {"tariff": [2.75]}}), 2),
        },
        Case {
            rule: "an array may hold objects and nulls as values",
            source: DOCUMENT,
            before: &[],
            request: r#"{"state": {"reported": {"alarms": [{"code": 7}, null]}}}"#,
            expect: State(json!({"reported": {"alarms": [{"code": 7}, null]}}), 1),
        },
        Case {
            rule: "an update may set both desired and reported",
            source: DOCUMENT,
            before: &[],
            request: r#"{"state": {"desired": {"valve": "closed"}, "reported": {"valve": "open"}}}"#,
            expect: State(
                json!({"desired": {"valve": "closed"}, "reported": {"valve": "open"}, "delta": {"valve": "closed"}}),
                1,
            ),
        },
        Case {
            rule: "a scalar replaces an object",
            source: DOCUMENT,
            before: &[r#"{"state": {"reported": {"meter": {"index": 10}}}}"#],
            request: r#"{"state": {"reported": {"meter": 10}}}"#,
            expect: State(json!({"reported": {"meter": 10}}), 2),
        },
        Case {
            rule: "an object replaces a scalar",
            source: DOCUMENT,
            before: &[r#"{"state": {"reported": {"meter": 10}}}"#],
            request: r#"{"state": {"reported": {"meter": {"index": 10}}}}"#,
            expect: State(json!({"reported": {"meter": {"index": 10}}}), 2),
        },
        // Delta.
        Case {
            rule: "delta holds desired fields that differ from reported",
            source: DOCUMENT,
            before: &[r#"{"state": {"reported": {"valve": "open", "interval": 900}}}"#],
            request: r#"{"state": {"desired": {"valve": "closed", "interval": 900}}}"#,
            expect: State(
                json!({"desired": {"valve": "closed", "interval": 900}, "reported": {"valve": "open", "interval": 900}, "delta": {"valve": "closed"}}),
                2,
            ),
        },
        Case {
            rule: "desired fields missing from reported are in the delta",
            source: DOCUMENT,
            before: &[r#"{"state": {"reported": {"valve": "open"}}}"#],
            request: r#"{"state": {"desired": {"interval": 900}}}"#,
            expect: State(
                json!({"desired": {"interval": 900}, "reported": {"valve": "open"}, "delta": {"interval": 900}}),
                2,
            ),
        },
        Case {
            rule: "reported fields missing from desired are not in the delta",
            source: DOCUMENT,
            before: &[r#"{"state": {"desired": {"valve": "closed"}}}"#],
            request: r#"{"state": {"reported": {"valve": "closed", "battery": 80}}}"#,
            expect: State(
                json!({"desired": {"valve": "closed"}, "reported": {"valve": "closed", "battery": 80}}),
                2,
            ),
        },
        Case {
            rule: "nested delta keeps the path to the root",
            source: DOCUMENT,
            before: &[r#"{"state": {"reported": {"meter": {"interval": 900, "unit": "m3"}}}}"#],
            request: r#"{"state": {"desired": {"meter": {"interval": 300, "unit": "m3"}}}}"#,
            expect: State(
                json!({"desired": {"meter": {"interval": 300, "unit": "m3"}}, "reported": {"meter": {"interval": 900, "unit": "m3"}}, "delta": {"meter": {"interval": 300}}}),
                2,
            ),
        },
        Case {
            rule: "an array in desired that differs is in the delta whole",
            source: DOCUMENT,
            before: &[r#"{"state": {"reported": {"tariff": [1, 2, 3]}}}"#],
            request: r#"{"state": {"desired": {"tariff": [1, 2, 4]}}}"#,
            expect: State(
                json!({"desired": {"tariff": [1, 2, 4]}, "reported": {"tariff": [1, 2, 3]}, "delta": {"tariff": [1, 2, 4]}}),
                2,
            ),
        },
        Case {
            rule: "a report matching desired clears that field from the delta",
            source: DATA_FLOW,
            before: &[r#"{"state": {"desired": {"valve": "closed"}, "reported": {"valve": "open"}}}"#],
            request: r#"{"state": {"reported": {"valve": "closed"}}}"#,
            expect: State(
                json!({"desired": {"valve": "closed"}, "reported": {"valve": "closed"}}),
                2,
            ),
        },
        Case {
            rule: "2 and 2.0 are the same number: no delta",
            source: OURS,
            before: &[r#"{"state": {"reported": {"interval": 900.0}}}"#],
            request: r#"{"state": {"desired": {"interval": 900}}}"#,
            expect: State(
                json!({"desired": {"interval": 900}, "reported": {"interval": 900.0}}),
                2,
            ),
        },
        Case {
            rule: "\"2\" and 2 differ: a string is not a number",
            source: OURS,
            before: &[r#"{"state": {"reported": {"interval": "900"}}}"#],
            request: r#"{"state": {"desired": {"interval": 900}}}"#,
            expect: State(
                json!({"desired": {"interval": 900}, "reported": {"interval": "900"}, "delta": {"interval": 900}}),
                2,
            ),
        },
        Case {
            rule: "desired: {} is accepted, changes no field, and bumps the version",
            source: OURS,
            before: &[r#"{"state": {"desired": {"valve": "closed"}}}"#],
            request: r#"{"state": {"desired": {}}}"#,
            expect: State(json!({"desired": {"valve": "closed"}, "delta": {"valve": "closed"}}), 2),
        },
        Case {
            rule: "an empty object does not replace a scalar",
            source: OURS,
            before: &[r#"{"state": {"reported": {"meter": 10}}}"#],
            request: r#"{"state": {"reported": {"meter": {}}}}"#,
            expect: State(json!({"reported": {"meter": 10}}), 2),
        },
        // Versions and client tokens.
        Case {
            rule: "every update increments the version",
            source: DOCUMENT,
            before: &[
                r#"{"state": {"reported": {"a": 1}}}"#,
                r#"{"state": {"reported": {"a": 2}}}"#,
            ],
            request: r#"{"state": {"reported": {"a": 3}}}"#,
            expect: State(json!({"reported": {"a": 3}}), 3),
        },
        Case {
            rule: "a matching version is accepted",
            source: DOCUMENT,
            before: &[r#"{"state": {"reported": {"a": 1}}}"#],
            request: r#"{"state": {"reported": {"a": 2}}, "version": 1}"#,
            expect: State(json!({"reported": {"a": 2}}), 2),
        },
        Case {
            rule: "a stale version is a 409",
            source: ERRORS,
            before: &[
                r#"{"state": {"reported": {"a": 1}}}"#,
                r#"{"state": {"reported": {"a": 2}}}"#,
            ],
            request: r#"{"state": {"reported": {"a": 3}}, "version": 1}"#,
            expect: Rejected(409, "Version conflict"),
        },
        Case {
            rule: "a version ahead of the shadow is a 409",
            source: ERRORS,
            before: &[r#"{"state": {"reported": {"a": 1}}}"#],
            request: r#"{"state": {"reported": {"a": 3}}, "version": 5}"#,
            expect: Rejected(409, "Version conflict"),
        },
        Case {
            rule: "a version that is not a whole number is a 400",
            source: ERRORS,
            before: &[],
            request: r#"{"state": {"reported": {"a": 1}}, "version": "1"}"#,
            expect: Rejected(400, "Invalid version"),
        },
        Case {
            rule: "a negative version is a 400",
            source: ERRORS,
            before: &[],
            request: r#"{"state": {"reported": {"a": 1}}, "version": -1}"#,
            expect: Rejected(400, "Invalid version"),
        },
        Case {
            rule: "a client token of 64 bytes is accepted",
            source: ERRORS,
            before: &[],
            request: r#"{"state": {"reported": {"a": 1}}, "clientToken": "0123456789012345678901234567890123456789012345678901234567890123"}"#,
            expect: State(json!({"reported": {"a": 1}}), 1),
        },
        Case {
            rule: "a client token longer than 64 bytes is a 400",
            source: ERRORS,
            before: &[],
            request: r#"{"state": {"reported": {"a": 1}}, "clientToken": "01234567890123456789012345678901234567890123456789012345678901234"}"#,
            expect: Rejected(400, "Invalid clientToken"),
        },
        Case {
            rule: "a client token that is not a string is a 400",
            source: ERRORS,
            before: &[],
            request: r#"{"state": {"reported": {"a": 1}}, "clientToken": 12}"#,
            expect: Rejected(400, "Invalid clientToken"),
        },
        // Malformed requests.
        Case {
            rule: "a payload that is not JSON is a 400",
            source: ERRORS,
            before: &[],
            request: r#"{"state": {"reported": "#,
            expect: Rejected(400, "Invalid JSON"),
        },
        Case {
            rule: "a request without state is a 400",
            source: ERRORS,
            before: &[],
            request: r#"{"version": 1}"#,
            expect: Rejected(400, "Missing required node: state"),
        },
        Case {
            rule: "a request that is not an object has no state: 400",
            source: ERRORS,
            before: &[],
            request: r#"[1, 2]"#,
            expect: Rejected(400, "Missing required node: state"),
        },
        Case {
            rule: "state that is not an object is a 400",
            source: ERRORS,
            before: &[],
            request: r#"{"state": "on"}"#,
            expect: Rejected(400, "State node must be an object"),
        },
        Case {
            rule: "desired that is not an object is a 400",
            source: ERRORS,
            before: &[],
            request: r#"{"state": {"desired": [1]}}"#,
            expect: Rejected(400, "Desired node must be an object"),
        },
        Case {
            rule: "reported that is not an object is a 400",
            source: ERRORS,
            before: &[],
            request: r#"{"state": {"reported": 5}}"#,
            expect: Rejected(400, "Reported node must be an object"),
        },
        Case {
            rule: "state with another node (even delta) is a 400",
            source: ERRORS,
            before: &[],
            request: r#"{"state": {"delta": {"valve": "closed"}}}"#,
            expect: Rejected(400, "State contains an invalid node"),
        },
        // Limits.
        Case {
            rule: "six levels of nesting are accepted",
            source: LIMITS,
            before: &[],
            request: r#"{"state": {"reported": {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}}}"#,
            expect: State(json!({"reported": {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}}), 1),
        },
        Case {
            rule: "seven levels of nesting are a 400",
            source: ERRORS,
            before: &[],
            request: r#"{"state": {"desired": {"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}}}"#,
            expect: Rejected(400, "JSON contains too many levels of nesting; maximum is 6"),
        },
        Case {
            rule: "an array counts as a level of nesting",
            source: OURS,
            before: &[],
            request: r#"{"state": {"reported": {"a": {"b": {"c": {"d": {"e": {"f": [1]}}}}}}}}"#,
            expect: Rejected(400, "JSON contains too many levels of nesting; maximum is 6"),
        },
        Case {
            rule: "a state document over 8 KB is a 413",
            source: LIMITS,
            before: &[],
            request: Box::leak(
                format!(r#"{{"state": {{"reported": {{"blob": "{}"}}}}}}"#, "x".repeat(8200)).into_boxed_str(),
            ),
            expect: Rejected(413, "The payload exceeds the maximum size allowed"),
        },
        Case {
            rule: "the 8 KB limit counts the whole state, not the request",
            source: LIMITS,
            before: one(format!(
                r#"{{"state": {{"reported": {{"blob": "{}"}}}}}}"#,
                "x".repeat(5000)
            )),
            request: Box::leak(
                format!(r#"{{"state": {{"desired": {{"blob": "{}"}}}}}}"#, "y".repeat(4000)).into_boxed_str(),
            ),
            expect: Rejected(413, "The payload exceeds the maximum size allowed"),
        },
        Case {
            rule: "deleting fields from a shadow at the limit is accepted",
            source: LIMITS,
            before: one(format!(
                r#"{{"state": {{"reported": {{"blob": "{}", "a": 1}}}}}}"#,
                "x".repeat(8100)
            )),
            request: r#"{"state": {"reported": {"blob": null}}}"#,
            expect: State(json!({"reported": {"a": 1}}), 2),
        },
        Case {
            rule: "a request over 128 KB is a 413 before it is parsed",
            source: LIMITS,
            before: &[],
            request: Box::leak(
                format!(
                    r#"{{"state": {{"reported": {{"a": 1}}}}, "pad": "{}"}}"#,
                    " ".repeat(128 * 1024)
                )
                .into_boxed_str(),
            ),
            expect: Rejected(413, "The payload exceeds the maximum size allowed"),
        },
    ]
}

fn one(request: String) -> &'static [&'static str] {
    Box::leak(Box::new([&*Box::leak(request.into_boxed_str())]))
}

fn meter() -> ShadowId {
    ShadowId::classic(ThingName::new("meter-7").unwrap())
}

/// The state as `get` shows it.
fn state_of(service: &ShadowService<gasbao_shadow::MemoryStore>) -> (Value, u64) {
    let shadow = service.get(&meter()).unwrap();
    let view = gasbao_shadow::DocumentView::new(&shadow.document, Timestamp::from_secs(0), None);
    let json = serde_json::to_value(view).unwrap();
    (json["state"].clone(), json["version"].as_u64().unwrap())
}

#[test]
fn every_documented_rule_holds() {
    let cases = cases();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    for case in cases {
        let context = format!("{} ({})", case.rule, case.source);
        let service = ShadowService::in_memory(ShadowRules::default());
        for (i, before) in case.before.iter().enumerate() {
            service
                .update(&meter(), before.as_bytes(), Timestamp::from_secs(100 + i as u64))
                .expect(&context);
        }
        let before = service.get(&meter()).ok();
        let result = service.update(&meter(), case.request.as_bytes(), Timestamp::from_secs(200));
        match (case.expect, result) {
            (Expect::State(state, version), Ok(_)) => {
                assert_eq!(state_of(&service), (state, version), "{context}");
            }
            (Expect::Rejected(code, message), Err(error)) => {
                assert_eq!(
                    (error.code(), error.message().as_str()),
                    (code, message),
                    "{context}: {error}"
                );
                // A rejected update changes nothing.
                assert_eq!(service.get(&meter()).ok(), before, "{context}");
            }
            (Expect::State(..), Err(error)) => panic!("{context}: rejected with {error}"),
            (Expect::Rejected(code, _), Ok(_)) => panic!("{context}: accepted, expected {code}"),
        }
    }
}

#[test]
fn a_payload_that_is_not_utf8_is_a_415() {
    // Source: ERRORS, 415 Unsupported Media Type.
    let service = ShadowService::in_memory(ShadowRules::default());
    let error = service
        .update(
            &meter(),
            b"{\"state\": {\"reported\": {\"a\": \"\xff\"}}}",
            Timestamp::from_secs(1),
        )
        .unwrap_err();
    assert_eq!(error.code(), 415);
    assert_eq!(
        error.message(),
        "Unsupported documented encoding; supported encoding is UTF-8"
    );
    assert!(
        matches!(error, ServiceError::Rejected(Rejection::NotUtf8 { offset: 30 })),
        "{error:?}"
    );
}

#[test]
fn get_and_delete_of_a_missing_shadow_are_404() {
    // Source: ERRORS, 404 Not Found.
    let service = ShadowService::in_memory(ShadowRules::default());
    let error = service.get(&meter()).unwrap_err();
    assert_eq!(
        (error.code(), error.message()),
        (404, "No shadow exists with name: 'meter-7'".to_owned())
    );
    let named = ShadowId::named(
        ThingName::new("meter-7").unwrap(),
        gasbao_shadow::ShadowName::new("valve").unwrap(),
    );
    let error = service.delete(&named, Timestamp::from_secs(1)).unwrap_err();
    assert_eq!(
        (error.code(), error.message()),
        (404, "No shadow exists with name: 'meter-7~valve'".to_owned())
    );
}

#[test]
fn a_deleted_shadow_is_404_and_an_update_recreates_it_with_the_next_version() {
    // Source: DATA_FLOW ("Deleting a shadow doesn't reset its version number to 0").
    let service = ShadowService::in_memory(ShadowRules::default());
    for i in 0..3 {
        service
            .update(
                &meter(),
                br#"{"state": {"reported": {"a": 1}}}"#,
                Timestamp::from_secs(i),
            )
            .unwrap();
    }
    let deleted = service.delete(&meter(), Timestamp::from_secs(10)).unwrap();
    assert_eq!(deleted.version, 3);
    assert!(matches!(
        service.get(&meter()),
        Err(ServiceError::Rejected(Rejection::NotFound { .. }))
    ));
    assert!(matches!(
        service.delete(&meter(), Timestamp::from_secs(11)),
        Err(ServiceError::Rejected(Rejection::NotFound { .. }))
    ));
    let reply = service
        .update(
            &meter(),
            br#"{"state": {"reported": {"b": 2}}}"#,
            Timestamp::from_secs(12),
        )
        .unwrap();
    assert_eq!(reply.outcome.accepted.version, 4);
    assert_eq!(state_of(&service), (json!({"reported": {"b": 2}}), 4));
}

#[test]
fn limits_are_configurable() {
    // Source: LIMITS (the state document quota can be raised to 30 KB).
    let rules = ShadowRules::default().limits(Limits::default().max_state_bytes(30 * 1024).max_depth(8));
    let service = ShadowService::in_memory(rules);
    let big = format!(r#"{{"state": {{"reported": {{"blob": "{}"}}}}}}"#, "x".repeat(20_000));
    service
        .update(&meter(), big.as_bytes(), Timestamp::from_secs(1))
        .unwrap();
    let deep = r#"{"state": {"reported": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": 1}}}}}}}}}}"#;
    service
        .update(&meter(), deep.as_bytes(), Timestamp::from_secs(2))
        .unwrap();
    let deeper = r#"{"state": {"reported": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": 1}}}}}}}}}}}"#;
    let error = service
        .update(&meter(), deeper.as_bytes(), Timestamp::from_secs(3))
        .unwrap_err();
    assert_eq!(
        error.message(),
        "JSON contains too many levels of nesting; maximum is 8"
    );
    assert!(matches!(
        error,
        ServiceError::Rejected(Rejection::TooDeep {
            section: "reported",
            depth: 9,
            max: 8
        })
    ));
}

#[test]
fn update_accepted_echoes_the_request_with_leaf_timestamps() {
    // Source: DOCUMENT, "/accepted response state document".
    let service = ShadowService::in_memory(ShadowRules::default());
    let request = br#"{"state": {"desired": {"valve": "closed", "meter": {"interval": 300}, "tariff": [1, 2]}}, "clientToken": "t-1"}"#;
    let reply = service
        .update(&meter(), request, Timestamp::from_secs(1_700_000_000))
        .unwrap();
    let accepted = serde_json::to_value(&reply.outcome.accepted).unwrap();
    let t = json!({"timestamp": 1_700_000_000});
    assert_eq!(
        accepted,
        json!({
            "state": {"desired": {"valve": "closed", "meter": {"interval": 300}, "tariff": [1, 2]}},
            "metadata": {"desired": {"valve": t, "meter": {"interval": t}, "tariff": [t, t]}},
            "version": 1,
            "timestamp": 1_700_000_000,
            "clientToken": "t-1"
        })
    );
}

#[test]
fn update_delta_carries_only_the_differing_fields_of_this_update() {
    // Source: DOCUMENT, "/delta response state document"; DATA_FLOW.
    let service = ShadowService::in_memory(ShadowRules::default());
    service
        .update(
            &meter(),
            br#"{"state": {"reported": {"valve": "open", "interval": 900}}}"#,
            Timestamp::from_secs(5),
        )
        .unwrap();
    let request = br#"{"state": {"desired": {"valve": "closed", "interval": 900}}, "clientToken": "c"}"#;
    let reply = service.update(&meter(), request, Timestamp::from_secs(9)).unwrap();
    let delta = serde_json::to_value(reply.outcome.delta.unwrap()).unwrap();
    assert_eq!(
        delta,
        json!({"state": {"valve": "closed"}, "metadata": {"valve": {"timestamp": 9}}, "version": 2, "timestamp": 9, "clientToken": "c"})
    );
    // A reported update publishes no delta.
    let reply = service
        .update(
            &meter(),
            br#"{"state": {"reported": {"battery": 50}}}"#,
            Timestamp::from_secs(10),
        )
        .unwrap();
    assert_eq!(reply.outcome.delta, None);
}

#[test]
fn update_documents_shows_previous_and_current() {
    // Source: DOCUMENT, "/documents response state document".
    let service = ShadowService::in_memory(ShadowRules::default());
    service
        .update(
            &meter(),
            br#"{"state": {"reported": {"valve": "open"}}}"#,
            Timestamp::from_secs(1),
        )
        .unwrap();
    let reply = service
        .update(
            &meter(),
            br#"{"state": {"reported": {"valve": "closed"}}}"#,
            Timestamp::from_secs(2),
        )
        .unwrap();
    let documents = serde_json::to_value(reply.documents()).unwrap();
    assert_eq!(
        documents,
        json!({
            "previous": {"state": {"reported": {"valve": "open"}}, "metadata": {"reported": {"valve": {"timestamp": 1}}}, "version": 1},
            "current": {"state": {"reported": {"valve": "closed"}}, "metadata": {"reported": {"valve": {"timestamp": 2}}}, "version": 2},
            "timestamp": 2
        })
    );
}

#[test]
fn get_accepted_has_state_delta_metadata_version_timestamp() {
    // Source: DOCUMENT, "/get/accepted" example.
    let service = ShadowService::in_memory(ShadowRules::default());
    service
        .update(
            &meter(),
            br#"{"state": {"desired": {"valve": "closed"}, "reported": {"valve": "open"}}}"#,
            Timestamp::from_secs(3),
        )
        .unwrap();
    let shadow = service.get(&meter()).unwrap();
    let view = serde_json::to_value(gasbao_shadow::DocumentView::new(
        &shadow.document,
        Timestamp::from_secs(4),
        Some("g"),
    ))
    .unwrap();
    assert_eq!(
        view,
        json!({
            "state": {"desired": {"valve": "closed"}, "reported": {"valve": "open"}, "delta": {"valve": "closed"}},
            "metadata": {"desired": {"valve": {"timestamp": 3}}, "reported": {"valve": {"timestamp": 3}}},
            "version": 1,
            "timestamp": 4,
            "clientToken": "g"
        })
    );
}

#[test]
fn error_documents_carry_code_message_and_token() {
    // Source: DOCUMENT, "Error response document".
    let rejection = Rejection::VersionConflict {
        expected: 1,
        current: 2,
    };
    let document = gasbao_shadow::ErrorDocument::new(&rejection, Timestamp::from_secs(7), Some("tok".into()));
    assert_eq!(
        serde_json::to_value(document).unwrap(),
        json!({"code": 409, "message": "Version conflict", "timestamp": 7, "clientToken": "tok"})
    );
}

#[test]
fn a_request_round_trips_through_its_wire_form() {
    let limits = Limits::default();
    let text = br#"{"state": {"desired": {"valve": "closed"}, "reported": null}, "clientToken": "x", "version": 4}"#;
    let request = UpdateRequest::parse(text, &limits).unwrap();
    let again = UpdateRequest::parse(&request.to_bytes(), &limits).unwrap();
    assert_eq!(again, request);
}
