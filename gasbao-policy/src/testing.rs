//! The bundle's own `test_` rules, run like `opa test`: on every load (any
//! failure rejects the bundle) and on demand with a coverage report.

use std::fmt;
use std::time::{Duration, Instant};

use crate::bundle::Bundle;
use crate::error::LoadError;
use crate::location::{Diagnostic, SourceLocation, rule_line};

/// Runs every `test_` rule of `bundle` and measures line coverage.
///
/// Unlike loading, a failing test does not stop the run: every test is
/// reported.
///
/// # Errors
///
/// A [`LoadError`] if the bundle does not parse or its data is refused;
/// failing tests are not errors, they are in the report.
///
/// # Examples
///
/// ```
/// use gasbao_policy::{Bundle, Manifest, run_tests};
///
/// let bundle = Bundle::new(Manifest::new("r1", ["p/allow"]))
///     .with_module("p.rego", "package p\nimport rego.v1\nallow if input.ok\n\ntest_allow if allow with input as {\"ok\": true}\ntest_deny if allow with input as {\"ok\": false}\n");
/// let report = run_tests(&bundle)?;
/// assert_eq!(report.passed(), 1);
/// assert_eq!(report.failed(), 1);
/// assert!(report.to_string().contains("FAIL data.p.test_deny"));
/// # Ok::<(), gasbao_policy::LoadError>(())
/// ```
pub fn run_tests(bundle: &Bundle) -> Result<TestReport, LoadError> {
    let entrypoints = bundle.check()?;
    let mut loaded = load_interpreter(bundle, &entrypoints)?;
    loaded.engine.set_enable_coverage(true);
    let tests = run_test_rules(&mut loaded);
    let coverage = match loaded.engine.get_coverage_report() {
        Ok(report) => report
            .files
            .into_iter()
            .map(|f| FileCoverage {
                file: f.path,
                covered: f.covered.len(),
                not_covered: f.not_covered.into_iter().collect(),
            })
            .collect(),
        // Coverage is an aid; a report without it still says what passed.
        Err(_) => Vec::new(),
    };
    Ok(TestReport { tests, coverage })
}

/// The outcome of every test of a bundle, with coverage.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TestReport {
    /// Each `test_` rule, in the order the modules define them.
    pub tests: Vec<TestOutcome>,
    /// Line coverage per module, from running the tests.
    pub coverage: Vec<FileCoverage>,
}

impl TestReport {
    /// How many tests passed.
    pub fn passed(&self) -> usize {
        self.tests.iter().filter(|t| t.status == TestStatus::Passed).count()
    }

    /// How many tests failed or raised an error.
    pub fn failed(&self) -> usize {
        self.tests.len() - self.passed()
    }
}

impl fmt::Display for TestReport {
    /// One line per test (`PASS`, `FAIL`, `ERROR`), a summary, and the lines
    /// of each module the tests did not reach.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for test in &self.tests {
            match &test.status {
                TestStatus::Passed => writeln!(f, "PASS {} ({:?})", test.rule, test.duration)?,
                TestStatus::Failed => writeln!(f, "FAIL {} at {}", test.rule, test.location)?,
                TestStatus::Error { location, message } => {
                    let at = location.as_ref().unwrap_or(&test.location);
                    writeln!(f, "ERROR {} at {at}: {message}", test.rule)?;
                }
            }
        }
        writeln!(
            f,
            "--------------------------------------------------------------------------------"
        )?;
        writeln!(f, "PASS: {}/{}", self.passed(), self.tests.len())?;
        if self.failed() > 0 {
            writeln!(f, "FAIL: {}/{}", self.failed(), self.tests.len())?;
        }
        writeln!(f, "\ncoverage:")?;
        for file in &self.coverage {
            write!(
                f,
                "  {}: {:.1}% of {} lines",
                file.file,
                file.percent(),
                file.covered + file.not_covered.len()
            )?;
            if file.not_covered.is_empty() {
                writeln!(f)?;
            } else {
                let lines: Vec<String> = file.not_covered.iter().map(u32::to_string).collect();
                writeln!(f, ", not reached: {}", lines.join(", "))?;
            }
        }
        Ok(())
    }
}

/// One test rule's outcome.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TestOutcome {
    /// The rule, as a `data.` path.
    pub rule: String,
    /// Where the rule is defined.
    pub location: SourceLocation,
    /// Passed, failed or raised an error.
    pub status: TestStatus,
    /// How long it ran.
    pub duration: Duration,
}

/// Whether a test passed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TestStatus {
    /// The rule is true.
    Passed,
    /// The rule is false or undefined.
    Failed,
    /// Evaluating the rule raised an error.
    Error {
        /// Where, when the engine said.
        location: Option<SourceLocation>,
        /// The engine's message.
        message: String,
    },
}

/// Line coverage of one module.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileCoverage {
    /// The module's path within the bundle.
    pub file: String,
    /// How many executable lines the tests reached.
    pub covered: usize,
    /// The executable lines they did not reach, ascending.
    pub not_covered: Vec<u32>,
}

impl FileCoverage {
    /// Reached lines as a percentage of executable lines (100 for none).
    pub fn percent(&self) -> f64 {
        let total = self.covered + self.not_covered.len();
        if total == 0 {
            100.0
        } else {
            self.covered as f64 * 100.0 / total as f64
        }
    }
}

/// An interpreter holding a bundle, with what is needed to find its rules.
pub(crate) struct LoadedInterpreter {
    pub(crate) engine: regorus::Engine,
    /// Every rule path the bundle defines, sorted.
    pub(crate) rules: Vec<String>,
    /// (path, package, source) of each module.
    modules: Vec<(String, String, String)>,
}

impl LoadedInterpreter {
    pub(crate) fn test_rules(&self) -> impl Iterator<Item = &String> {
        self.rules
            .iter()
            .filter(|r| r.rsplit('.').next().is_some_and(|name| name.starts_with("test_")))
    }

    /// Where `rule` (a `data.` path) is defined.
    fn locate(&self, rule: &str) -> SourceLocation {
        let (package, name) = rule.rsplit_once('.').unwrap_or(("", rule));
        self.modules
            .iter()
            .filter(|(_, p, _)| p == package)
            .find_map(|(file, _, source)| {
                rule_line(source, name).map(|line| SourceLocation {
                    file: file.clone(),
                    line,
                    column: 1,
                })
            })
            .unwrap_or_else(|| SourceLocation {
                file: package.to_owned(),
                line: 1,
                column: 1,
            })
    }
}

/// How long one `test_` rule may run: a bundle whose test runs away is
/// rejected rather than stalling the reload.
pub const TEST_TIME_LIMIT: Duration = Duration::from_secs(1);

/// Parses every module and adds the data.
pub(crate) fn load_interpreter(bundle: &Bundle, entrypoints: &[String]) -> Result<LoadedInterpreter, LoadError> {
    let mut engine = regorus::Engine::new();
    engine.set_execution_timer_config(crate::evaluator::timer(TEST_TIME_LIMIT));
    let mut modules = Vec::with_capacity(bundle.modules().len());
    for module in bundle.modules() {
        crate::nesting::check_nesting(&module.path, &module.source)?;
        let package = engine
            .add_policy(module.path.clone(), module.source.clone())
            .map_err(|e| {
                let d = Diagnostic::from_engine(&e);
                let location = d.location.unwrap_or(SourceLocation {
                    file: module.path.clone(),
                    line: 1,
                    column: 1,
                });
                LoadError::Parse {
                    location,
                    message: d.message,
                }
            })?;
        modules.push((module.path.clone(), package, module.source.clone()));
    }
    let packages: Vec<String> = modules.iter().map(|(_, package, _)| package.clone()).collect();
    crate::recursion::check_recursion(engine.get_modules(), &packages)?;
    engine
        .add_data(regorus::Value::from(bundle.data().clone()))
        .map_err(|e| LoadError::Data {
            message: Diagnostic::from_engine(&e).message,
        })?;
    // Compiling from an entrypoint analyses the whole bundle and lists every
    // rule, tests included.
    let first: regorus::Rc<str> = regorus::Rc::from(entrypoints[0].as_str());
    let mut rules: Vec<String> = match engine.compile_with_entrypoint(&first) {
        Ok(policy) => policy.get_rules().keys().cloned().collect(),
        Err(e) => {
            let d = Diagnostic::from_engine(&e);
            if d.location.is_none() && d.message == "not a valid rule path" {
                return Err(LoadError::MissingEntrypoint {
                    entrypoint: entrypoints[0].clone(),
                });
            }
            return Err(LoadError::Compile {
                location: d.location,
                message: d.message,
            });
        }
    };
    rules.sort();
    if let Some(missing) = entrypoints.iter().find(|e| rules.binary_search(e).is_err()) {
        return Err(LoadError::MissingEntrypoint {
            entrypoint: missing.clone(),
        });
    }
    Ok(LoadedInterpreter { engine, rules, modules })
}

/// Evaluates every `test_` rule; the engine should have no input set.
pub(crate) fn run_test_rules(loaded: &mut LoadedInterpreter) -> Vec<TestOutcome> {
    let tests: Vec<String> = loaded.test_rules().cloned().collect();
    let mut outcomes = Vec::with_capacity(tests.len());
    for rule in tests {
        let location = loaded.locate(&rule);
        let started = Instant::now();
        let status = match loaded.engine.eval_rule(rule.clone()) {
            Ok(regorus::Value::Bool(true)) => TestStatus::Passed,
            Ok(_) => TestStatus::Failed,
            Err(e) => {
                let d = Diagnostic::from_engine(&e);
                TestStatus::Error {
                    location: d.location,
                    message: d.message,
                }
            }
        };
        outcomes.push(TestOutcome {
            rule,
            location,
            status,
            duration: started.elapsed(),
        });
    }
    outcomes.sort_by(|a, b| (&a.location.file, a.location.line).cmp(&(&b.location.file, b.location.line)));
    outcomes
}
