//! Arbitrary bytes as a sequence of shadow update requests: nothing panics;
//! each request is either an AWS-style rejection that changes nothing, or
//! accepted with the version one higher and the document's invariants
//! (metadata shape, no empty object, fresh delta, size within the limit).
#![no_main]

use gasbao_shadow::{DocumentView, ErrorDocument, Limits, ShadowDocument, ShadowRules, Timestamp, UpdateRequest};
use libfuzzer_sys::fuzz_target;

/// Splits the input into requests, each prefixed by a two-byte length.
fn requests(mut data: &[u8]) -> Vec<&[u8]> {
    let mut requests = Vec::new();
    while data.len() >= 2 {
        let len = usize::from(u16::from_le_bytes([data[0], data[1]])).min(data.len() - 2);
        requests.push(&data[2..2 + len]);
        data = &data[2 + len..];
    }
    requests
}

fuzz_target!(|data: &[u8]| {
    // Small limits so that size and depth rejections are reached.
    let rules = ShadowRules::default()
        .limits(Limits::default().max_state_bytes(512).max_depth(4))
        .skip_no_op_updates();
    let mut shadow = ShadowDocument::new();
    for (i, payload) in requests(data).into_iter().enumerate() {
        let at = Timestamp::from_secs(i as u64);
        let before = shadow.clone();
        let result =
            UpdateRequest::parse(payload, &rules.limits).and_then(|request| shadow.update(request, at, &rules));
        match result {
            Ok(outcome) => {
                let expected = if outcome.changed {
                    before.version() + 1
                } else {
                    before.version()
                };
                assert_eq!(shadow.version(), expected);
                assert!(shadow.state_len() <= 512);
                if let Some(problem) = shadow.invariant_violation() {
                    panic!("{problem}");
                }
                let _ = serde_json::to_vec(&outcome.accepted).expect("accepted serializes");
                let _ = serde_json::to_vec(&outcome.delta).expect("delta serializes");
            }
            Err(rejection) => {
                assert!(matches!(rejection.code(), 400 | 409 | 413 | 415), "{rejection}");
                assert!(!rejection.message().is_empty());
                assert_eq!(shadow, before, "a rejection changed the shadow");
                let _ = serde_json::to_vec(&ErrorDocument::new(&rejection, at, None)).expect("error serializes");
            }
        }
    }
    let view = serde_json::to_vec(&DocumentView::new(&shadow, Timestamp::from_secs(0), None)).expect("view serializes");
    let _: serde_json::Value = serde_json::from_slice(&view).expect("the view is JSON");
});
