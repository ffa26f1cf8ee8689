//! Bad input, policy errors and runaway policies give typed errors naming the
//! entrypoint; none panics and the engine keeps deciding afterwards.

use std::collections::HashMap;
use std::time::Duration;

use gasbao_policy::{
    Bundle, EngineOptions, EvaluationError, ExecutionPath, FastPath, FastPathRefusal, Limits, Manifest, PolicyEngine,
    PreparedBundle, SubsidyDecision,
};
use serde_json::json;

const POLICY: &str = r#"package p
import rego.v1

ratio := input.a / input.b

conflict := 1 if input.first
conflict := 2 if input.second

only_when_root if input.user == "root"

number := 5

# n^2 iterations over two ranges of n numbers each.
pairs := count([1 | some a in numbers.range(1, input.n); some b in numbers.range(1, input.n)])
"#;

fn engine(fast_path: FastPath, limits: Limits) -> PolicyEngine {
    let bundle = Bundle::new(Manifest::new(
        "r",
        ["p/ratio", "p/conflict", "p/only_when_root", "p/number", "p/pairs"],
    ))
    .with_module("p.rego", POLICY)
    .with_test_inputs(vec![json!({"a": 6, "b": 3, "n": 4, "user": "root"})]);
    let prepared = PreparedBundle::with_fast_path(&bundle, fast_path).unwrap();
    PolicyEngine::with_options(prepared, EngineOptions::default().limits(limits))
}

fn both(limits: Limits) -> [PolicyEngine; 2] {
    let compiled = engine(FastPath::WhenAgreed, limits);
    assert_eq!(
        compiled.execution_path(),
        ExecutionPath::Compiled,
        "{:?}",
        compiled.fast_path_refusal()
    );
    [compiled, engine(FastPath::Never, limits)]
}

#[test]
fn a_policy_answers_within_limits() {
    for engine in both(Limits::default()) {
        assert_eq!(
            engine
                .evaluate::<f64>("p/ratio", &json!({"a": 6, "b": 4}))
                .unwrap()
                .output,
            1.5
        );
        assert_eq!(
            engine.evaluate::<u64>("p/pairs", &json!({"n": 30})).unwrap().output,
            900
        );
    }
}

#[test]
fn an_unknown_entrypoint_names_it_and_the_revision() {
    for engine in both(Limits::default()) {
        match engine.evaluate::<bool>("p/secret", &json!({})).unwrap_err() {
            EvaluationError::UnknownEntrypoint { entrypoint, revision } => {
                assert_eq!((entrypoint.as_str(), revision.as_str()), ("p/secret", "r"));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn input_that_is_not_a_json_document_is_refused() {
    for engine in both(Limits::default()) {
        for text in ["{", "", "{\"a\": 1} trailing", "[1, 2"] {
            assert!(
                matches!(
                    engine.evaluate_json("p/ratio", text),
                    Err(EvaluationError::Input { .. })
                ),
                "{text:?}"
            );
        }
        // JSON objects need string keys.
        let tuple_keys: HashMap<(u8, u8), u8> = HashMap::from([((1, 2), 3)]);
        assert!(matches!(
            engine.evaluate::<bool>("p/number", &tuple_keys),
            Err(EvaluationError::Input { .. })
        ));
        // Rego has no NaN or infinity: a broken reading is refused, not
        // decided on as if it were null.
        for broken in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let input = HashMap::from([("a", 6.0), ("b", broken)]);
            match engine.evaluate::<f64>("p/ratio", &input) {
                Err(EvaluationError::Input { source }) => {
                    assert!(source.to_string().contains("non-finite"), "{source}")
                }
                other => panic!("{broken}: {other:?}"),
            }
        }
        // And the engine decides on afterwards.
        let input = HashMap::from([("a", 6.0), ("b", 3.0)]);
        assert_eq!(engine.evaluate::<f64>("p/ratio", &input).unwrap().output, 2.0);
    }
}

#[test]
fn an_undefined_result_is_an_error_not_a_default() {
    for engine in both(Limits::default()) {
        match engine
            .evaluate::<bool>("p/only_when_root", &json!({"user": "guest"}))
            .unwrap_err()
        {
            EvaluationError::Undefined { entrypoint } => assert_eq!(entrypoint, "data.p.only_when_root"),
            other => panic!("{other:?}"),
        }
        // A missing field makes the division undefined too.
        assert!(matches!(
            engine.evaluate::<f64>("p/ratio", &json!({"a": 1})),
            Err(EvaluationError::Undefined { .. })
        ));
    }
}

#[test]
fn policy_runtime_errors_are_typed() {
    for engine in both(Limits::default()) {
        let path = engine.execution_path();
        let conflict = engine.evaluate::<i64>("p/conflict", &json!({"first": true, "second": true}));
        // Division by zero: an error on the interpreter, which names the line.
        if path == ExecutionPath::Interpreted {
            match conflict.unwrap_err() {
                EvaluationError::Runtime {
                    entrypoint, message, ..
                } => {
                    assert_eq!(entrypoint, "data.p.conflict");
                    assert!(!message.is_empty());
                }
                other => panic!("{other:?}"),
            }
            match engine.evaluate::<f64>("p/ratio", &json!({"a": 1, "b": 0})).unwrap_err() {
                EvaluationError::Runtime {
                    location: Some(location),
                    message,
                    ..
                } => {
                    assert_eq!((location.file.as_str(), location.line), ("p.rego", 4));
                    assert!(message.contains("divide by zero"), "{message}");
                }
                other => panic!("{other:?}"),
            }
        } else {
            // regorus's VM answers "undefined" where the interpreter raises an
            // error: still an error, but a different one. A bundle whose test
            // inputs show that difference is refused the fast path (see
            // `a_disagreement_on_a_test_input_refuses_the_fast_path`).
            assert!(
                matches!(&conflict, Err(EvaluationError::Undefined { entrypoint }) if entrypoint == "data.p.conflict"),
                "{conflict:?}"
            );
            let ratio = engine.evaluate::<f64>("p/ratio", &json!({"a": 1, "b": 0}));
            assert!(
                matches!(&ratio, Err(EvaluationError::Undefined { entrypoint }) if entrypoint == "data.p.ratio"),
                "{ratio:?}"
            );
        }
    }
}

#[test]
fn an_output_of_the_wrong_shape_names_the_field() {
    for engine in both(Limits::default()) {
        match engine.evaluate::<SubsidyDecision>("p/number", &json!({})).unwrap_err() {
            EvaluationError::Output { entrypoint, source } => {
                assert_eq!(entrypoint, "data.p.number");
                assert!(source.to_string().contains("struct SubsidyDecision"), "{source}");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_runaway_policy_hits_the_instruction_limit_on_the_compiled_path() {
    let engine = engine(FastPath::WhenAgreed, Limits::unbounded().instructions(10_000));
    match engine.evaluate::<u64>("p/pairs", &json!({"n": 100_000})).unwrap_err() {
        EvaluationError::InstructionLimit { entrypoint, limit } => {
            assert_eq!((entrypoint.as_str(), limit), ("data.p.pairs", 10_000));
        }
        other => panic!("{other:?}"),
    }
    // The engine is unharmed.
    assert_eq!(
        engine.evaluate::<u64>("p/pairs", &json!({"n": 10})).unwrap().output,
        100
    );
}

#[test]
fn a_runaway_policy_hits_the_time_limit_on_both_paths() {
    let limit = Duration::from_millis(20);
    for engine in both(Limits::unbounded().time(limit)) {
        let started = std::time::Instant::now();
        // 10^10 iterations: hours, unless stopped.
        match engine.evaluate::<u64>("p/pairs", &json!({"n": 100_000})).unwrap_err() {
            EvaluationError::TimeLimit {
                entrypoint,
                limit: reported,
            } => {
                assert_eq!((entrypoint.as_str(), reported), ("data.p.pairs", limit));
            }
            other => panic!("{other:?}"),
        }
        // Stopped promptly, allowing for a slow shared machine.
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        assert_eq!(
            engine.evaluate::<u64>("p/pairs", &json!({"n": 10})).unwrap().output,
            100
        );
    }
}

#[test]
fn a_disagreement_on_a_test_input_refuses_the_fast_path() {
    let bundle = Bundle::new(Manifest::new("r", ["p/conflict", "p/number"]))
        .with_module("p.rego", POLICY)
        .with_test_inputs(vec![json!({"first": true}), json!({"first": true, "second": true})]);
    let prepared = PreparedBundle::new(&bundle).unwrap();
    assert_eq!(prepared.execution_path(), ExecutionPath::Interpreted);
    match prepared.fast_path_refusal() {
        Some(FastPathRefusal::Disagreement {
            entrypoint,
            input_index,
            interpreted,
            compiled,
        }) => {
            assert_eq!((entrypoint.as_str(), *input_index), ("data.p.conflict", 1));
            assert_ne!(interpreted, compiled);
        }
        other => panic!("{other:?}"),
    }
}
