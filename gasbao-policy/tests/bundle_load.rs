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
    let d = engine.evaluate::<_, bool>("p/allow", &json!({"user": "root"})).unwrap();
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
