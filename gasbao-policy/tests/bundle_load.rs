//! Loading refuses a bad bundle with an error that names the file, line and
//! rule, and a failed reload leaves the active bundle in place.

mod support;

use std::fs;

use gasbao_policy::{
    Bundle, BundleError, ExecutionPath, FastPathRefusal, LoadError, Manifest, PolicyEngine, PreparedBundle,
    SUBSIDY_ENTRYPOINT, SubsidyDecision,
};
use serde_json::json;
use support::{REFERENCE, applicant, reference};

/// The 1-based line on which `needle` starts in `text`, found by plain search.
fn line_of(text: &str, needle: &str) -> u32 {
    let at = text.find(needle).unwrap_or_else(|| panic!("{needle:?} not in text"));
    text[..at].matches('\n').count() as u32 + 1
}

fn reference_with(file: &str, edit: impl Fn(String) -> String) -> Bundle {
    let b = reference();
    let mut out = Bundle::new(b.manifest().clone())
        .with_data(b.data().clone())
        .unwrap()
        .with_test_inputs(b.test_inputs().to_vec());
    for m in b.modules() {
        let source = if m.path == file {
            edit(m.source.clone())
        } else {
            m.source.clone()
        };
        out = out.with_module(m.path.clone(), source);
    }
    out
}

#[test]
fn the_reference_bundle_loads_on_the_fast_path_with_all_tests_passing() {
    let prepared = PreparedBundle::new(&reference()).unwrap();
    assert_eq!(prepared.revision(), "2026-11-heating-v1");
    assert_eq!(prepared.entrypoints().collect::<Vec<_>>(), [SUBSIDY_ENTRYPOINT]);
    assert_eq!(prepared.execution_path(), ExecutionPath::Compiled);
    let rego = fs::read_to_string(format!("{REFERENCE}/subsidy_test.rego")).unwrap();
    assert_eq!(
        prepared.tests_passed(),
        rego.lines().filter(|l| l.starts_with("test_")).count()
    );
}

#[test]
fn a_syntax_error_names_file_line_and_column() {
    let bundle = reference_with("subsidy.rego", |s| {
        s.replace("eligible if count(reasons) == 0", "eligible if count(reasons) == )")
    });
    let source = &bundle.modules()[0].source;
    let line = line_of(source, "eligible if count(reasons) == )");
    let column = source.lines().nth(line as usize - 1).unwrap().rfind(')').unwrap() as u32;
    match PreparedBundle::new(&bundle).unwrap_err() {
        LoadError::Parse { location, message } => {
            assert_eq!(location.file, "subsidy.rego");
            assert_eq!((location.line, location.column), (line, column + 1), "{message}");
            assert!(!message.is_empty());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_failing_test_names_its_rule_file_and_line() {
    // At 1,600 yuan per member Pudong's limit for 3 is 4,800 yuan: the
    // qualifying household (4,500) still passes, the one at 5,400 does not.
    let bundle = reference();
    let mut data = bundle.data().clone();
    data["subsidy"]["income_per_member_fen"]["310115"] = json!(160000);
    let bundle = reference_with("none", |s| s).with_data(data).unwrap();
    let tests = fs::read_to_string(format!("{REFERENCE}/subsidy_test.rego")).unwrap();
    match PreparedBundle::new(&bundle).unwrap_err() {
        LoadError::TestFailed { rule, location } => {
            assert_eq!(rule, "data.gasbao.subsidy_test.test_income_at_threshold_is_within");
            assert_eq!(location.file, "subsidy_test.rego");
            assert_eq!(location.line, line_of(&tests, "test_income_at_threshold_is_within if"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_test_that_raises_an_error_names_where() {
    let bundle = Bundle::new(Manifest::new("r", ["p/x"])).with_module(
        "p.rego",
        "package p\nimport rego.v1\nx := 1\n\ntest_divides if {\n  x / 0 > 1\n}\n",
    );
    match PreparedBundle::new(&bundle).unwrap_err() {
        LoadError::TestError {
            rule,
            location,
            message,
        } => {
            assert_eq!(rule, "data.p.test_divides");
            assert_eq!((location.file.as_str(), location.line), ("p.rego", 6));
            assert!(message.contains("divide by zero"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_missing_entrypoint_is_named() {
    let manifest = Manifest::new("r", ["gasbao/subsidy/decision", "gasbao/subsidy/verdict"]);
    let b = reference();
    let mut bundle = Bundle::new(manifest).with_data(b.data().clone()).unwrap();
    for m in b.modules() {
        bundle = bundle.with_module(m.path.clone(), m.source.clone());
    }
    match PreparedBundle::new(&bundle).unwrap_err() {
        LoadError::MissingEntrypoint { entrypoint } => assert_eq!(entrypoint, "data.gasbao.subsidy.verdict"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn malformed_bundle_directories_are_refused_by_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    assert!(matches!(Bundle::from_dir(path), Err(BundleError::Io { path: p, .. }) if p.ends_with(".manifest")));

    fs::write(path.join(".manifest"), "{\"revision\": 7}").unwrap();
    assert!(matches!(Bundle::from_dir(path), Err(BundleError::Manifest { .. })));

    fs::write(path.join(".manifest"), "{\"revision\": \"r\", \"entrypoints\": []}").unwrap();
    fs::write(path.join("p.rego"), "package p\nx := 1\n").unwrap();
    assert!(matches!(Bundle::from_dir(path), Err(BundleError::NoEntrypoint)));

    fs::write(
        path.join(".manifest"),
        "{\"revision\": \"r\", \"entrypoints\": [\"x\"]}",
    )
    .unwrap();
    assert!(matches!(Bundle::from_dir(path), Err(BundleError::BadEntrypoint { entrypoint }) if entrypoint == "x"));

    fs::write(
        path.join(".manifest"),
        "{\"revision\": \"r\", \"entrypoints\": [\"p/x\"], \"test_inputs\": \"in.json\"}",
    )
    .unwrap();
    fs::write(path.join("data.json"), "[1, 2]").unwrap();
    assert!(matches!(Bundle::from_dir(path), Err(BundleError::DataNotObject { .. })));

    fs::write(path.join("data.json"), "{\"a\": ").unwrap();
    assert!(matches!(Bundle::from_dir(path), Err(BundleError::Json { file, .. }) if file == "data.json"));

    fs::write(path.join("data.json"), "{}").unwrap();
    fs::write(path.join("in.json"), "{}").unwrap();
    assert!(matches!(Bundle::from_dir(path), Err(BundleError::TestInputsNotArray { file }) if file == "in.json"));

    fs::write(path.join("in.json"), "[]").unwrap();
    fs::remove_file(path.join("p.rego")).unwrap();
    assert!(matches!(Bundle::from_dir(path), Err(BundleError::NoModules)));

    // Modules in subdirectories load, named by their relative path.
    fs::create_dir(path.join("lib")).unwrap();
    fs::write(path.join("lib/p.rego"), "package p\nx := 1\n").unwrap();
    let bundle = Bundle::from_dir(path).unwrap();
    assert_eq!(bundle.modules()[0].path, "lib/p.rego");
}

#[test]
fn a_failed_reload_keeps_the_active_bundle_and_its_decisions() {
    let engine = PolicyEngine::new(PreparedBundle::new(&reference()).unwrap());
    let before: SubsidyDecision = engine.evaluate(SUBSIDY_ENTRYPOINT, &applicant()).unwrap().output;
    let mut broken = reference_with("subsidy.rego", |s| {
        s.replace("package gasbao.subsidy", "package gasbao.subsidy\nx := [")
    });
    assert!(matches!(engine.reload(&broken), Err(LoadError::Parse { .. })));
    broken = reference_with("subsidy_test.rego", |s| {
        s.replace("d.amount_fen == 21000", "d.amount_fen == 21001")
    });
    assert!(matches!(engine.reload(&broken), Err(LoadError::TestFailed { .. })));
    assert_eq!(&*engine.revision(), "2026-11-heating-v1");
    let after: SubsidyDecision = engine.evaluate(SUBSIDY_ENTRYPOINT, &applicant()).unwrap().output;
    assert_eq!(after, before);
}

#[test]
fn the_fast_path_is_refused_without_test_inputs_or_where_unsupported() {
    let no_inputs = reference().with_test_inputs(Vec::new());
    let prepared = PreparedBundle::new(&no_inputs).unwrap();
    assert_eq!(prepared.execution_path(), ExecutionPath::Interpreted);
    assert_eq!(prepared.fast_path_refusal(), Some(&FastPathRefusal::NoTestInputs));

    // regorus's VM has no `print`; the interpreter has.
    let printing = Bundle::new(Manifest::new("r", ["p/allow"]))
        .with_module("p.rego", "package p\nimport rego.v1\ndefault allow := false\nallow if {\n  print(\"checking\", input.user)\n  input.user == \"root\"\n}\n")
        .with_test_inputs(vec![json!({"user": "root"})]);
    let prepared = PreparedBundle::new(&printing).unwrap();
    assert_eq!(prepared.execution_path(), ExecutionPath::Interpreted);
    assert!(
        matches!(prepared.fast_path_refusal(), Some(FastPathRefusal::Unsupported { message }) if message.contains("print")),
        "{:?}",
        prepared.fast_path_refusal()
    );
    let engine = PolicyEngine::new(prepared);
    let d = engine.evaluate::<bool>("p/allow", &json!({"user": "root"})).unwrap();
    assert!(d.output);
    assert_eq!(d.path, ExecutionPath::Interpreted);
}

#[test]
fn deeply_nested_text_is_refused_before_the_parser_stalls() {
    // regorus 0.14.1 takes about 28 s to parse 20 nested brackets.
    let depth = 20;
    let source = format!(
        "package p\nimport rego.v1\nx := {}1{}\n",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let bundle = Bundle::new(Manifest::new("r", ["p/x"])).with_module("deep.rego", source);
    let started = std::time::Instant::now();
    match PreparedBundle::new(&bundle).unwrap_err() {
        LoadError::Parse { location, message } => {
            assert_eq!((location.file.as_str(), location.line), ("deep.rego", 3));
            assert_eq!(location.column, 6 + gasbao_policy::MAX_NESTING as u32);
            assert!(message.contains("nested"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
}

#[test]
fn recursion_is_refused_before_it_can_overflow_the_stack() {
    // Each of these aborts the process in regorus 0.14.1 if evaluated.
    let cases = [
        (
            "rule cycle",
            "package p\nimport rego.v1\nx if y\ny if x\n",
            vec!["data.p.x", "data.p.y", "data.p.x"],
        ),
        (
            "set and count",
            "package p\nimport rego.v1\nx := count(r)\nr contains 1 if x == 0\n",
            vec!["data.p.x", "data.p.r", "data.p.x"],
        ),
        (
            "function",
            "package p\nimport rego.v1\nx := f(3)\nf(n) := f(n - 1)\n",
            vec!["data.p.f", "data.p.f"],
        ),
        (
            "through a comprehension and a with",
            "package p\nimport rego.v1\nx := [v | some v in input.a; v > z]\nz := 1 if { x with input as {} }\n",
            vec!["data.p.x", "data.p.z", "data.p.x"],
        ),
    ];
    for (name, source, cycle) in cases {
        let bundle = Bundle::new(Manifest::new("r", ["p/x"])).with_module("p.rego", source);
        match PreparedBundle::new(&bundle) {
            Err(LoadError::Recursion { rules, location }) => {
                // The cycle may be reported from any of its rules; it is the same cycle.
                assert_eq!(rules.len(), cycle.len(), "{name}: {rules:?}");
                assert_eq!(rules.first(), rules.last(), "{name}");
                let mut got: Vec<_> = rules[1..].to_vec();
                let mut want: Vec<_> = cycle[1..].iter().map(|s| s.to_string()).collect();
                got.sort();
                want.sort();
                assert_eq!(got, want, "{name}");
                assert_eq!(location.file, "p.rego", "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn recursion_across_packages_through_an_import_is_refused() {
    let bundle = Bundle::new(Manifest::new("r", ["a/x"]))
        .with_module(
            "a.rego",
            "package a\nimport rego.v1\nimport data.b as other\nx := other.y + 1\n",
        )
        .with_module("b.rego", "package b\nimport rego.v1\ny := data.a.x * 2\n");
    match PreparedBundle::new(&bundle) {
        Err(LoadError::Recursion { rules, .. }) => assert_eq!(rules.len(), 3, "{rules:?}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn rules_that_share_names_with_locals_elsewhere_still_load() {
    // `x` the local in `y` is not the rule `x` of another package.
    let bundle = Bundle::new(Manifest::new("r", ["a/x"]))
        .with_module("a.rego", "package a\nimport rego.v1\nx := data.b.y\n")
        .with_module("b.rego", "package b\nimport rego.v1\ny := [x | some x in [1, 2]]\n");
    let engine = PolicyEngine::new(PreparedBundle::new(&bundle).unwrap());
    assert_eq!(engine.evaluate::<Vec<u8>>("a/x", &json!({})).unwrap().output, [1, 2]);
}
