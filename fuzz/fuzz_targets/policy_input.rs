//! Untrusted JSON input to the reference subsidy bundle: never panics, and
//! the compiled fast path and the interpreter give the same decision, or the
//! same kind of error.
#![no_main]

use std::sync::LazyLock;

use gasbao_policy::{Bundle, EvaluationError, FastPath, PolicyEngine, PreparedBundle, SUBSIDY_ENTRYPOINT};
use libfuzzer_sys::fuzz_target;

static ENGINES: LazyLock<[PolicyEngine; 2]> = LazyLock::new(|| {
    let bundle = Bundle::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../gasbao-policy/bundles/subsidy"))
        .expect("the reference bundle reads");
    [
        PolicyEngine::new(PreparedBundle::new(&bundle).expect("the reference bundle loads")),
        PolicyEngine::new(
            PreparedBundle::with_fast_path(&bundle, FastPath::Never).expect("the reference bundle loads"),
        ),
    ]
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let [compiled, interpreted] = &*ENGINES;
    let fast = compiled.evaluate_json(SUBSIDY_ENTRYPOINT, text);
    let slow = interpreted.evaluate_json(SUBSIDY_ENTRYPOINT, text);
    match (&fast, &slow) {
        (Ok(fast), Ok(slow)) => assert_eq!(fast.output, slow.output, "input {text}"),
        (Err(fast), Err(slow)) => assert_eq!(kind(fast), kind(slow), "input {text}: {fast} / {slow}"),
        _ => panic!("input {text}: {fast:?} / {slow:?}"),
    }
});

fn kind(error: &EvaluationError) -> std::mem::Discriminant<EvaluationError> {
    std::mem::discriminant(error)
}
