//! Loading a bundle: parse, add data, check entrypoints, run the bundle's own
//! tests, then try the compiled fast path and keep it only if it agrees with
//! the interpreter. Everything slow happens here, before a bundle is active.

use std::fmt;
use std::sync::Arc;

use regorus::languages::rego::compiler::Compiler;
use regorus::rvm::Program;

use crate::bundle::Bundle;
use crate::error::LoadError;
use crate::evaluator::Evaluator;
use crate::limits::Limits;
use crate::testing::{self, TestStatus};

/// Which engine evaluates a bundle's decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExecutionPath {
    /// regorus's register VM running the bundle compiled to bytecode: the fast path.
    Compiled,
    /// regorus's tree-walking interpreter: supports all of the language.
    Interpreted,
}

impl fmt::Display for ExecutionPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExecutionPath::Compiled => "compiled",
            ExecutionPath::Interpreted => "interpreted",
        })
    }
}

/// Why a bundle runs on the interpreter rather than the compiled fast path.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FastPathRefusal {
    /// The caller asked for the interpreter.
    NotRequested,
    /// The compiler does not support something in the bundle.
    Unsupported {
        /// The compiler's message.
        message: String,
    },
    /// The bundle has no test inputs, so agreement could not be checked.
    NoTestInputs,
    /// On a test input, the compiled program's result differs from the
    /// interpreter's (a different value, or an error on one side only).
    Disagreement {
        /// The entrypoint.
        entrypoint: String,
        /// Index of the input in the bundle's test inputs.
        input_index: usize,
        /// The interpreter's result, as JSON or as the error message.
        interpreted: String,
        /// The compiled program's result, as JSON or as the error message.
        compiled: String,
    },
}

impl fmt::Display for FastPathRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FastPathRefusal::NotRequested => f.write_str("the interpreter was requested"),
            FastPathRefusal::Unsupported { message } => {
                write!(f, "the compiler does not support the bundle: {message}")
            }
            FastPathRefusal::NoTestInputs => f.write_str("the bundle has no test inputs to check agreement on"),
            FastPathRefusal::Disagreement {
                entrypoint,
                input_index,
                interpreted,
                compiled,
            } => write!(
                f,
                "on test input {input_index}, {entrypoint} is {interpreted} interpreted but {compiled} compiled"
            ),
        }
    }
}

/// Whether to try the compiled fast path when preparing a bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FastPath {
    /// Use the compiled path when it compiles and agrees with the interpreter
    /// on every test input.
    #[default]
    WhenAgreed,
    /// Always interpret: for differential testing, or for a policy whose test
    /// inputs do not cover it well enough to trust a second engine.
    Never,
}

/// A bundle that parsed, compiled and passed its tests, ready to be activated
/// with [`PolicyEngine::activate`](crate::PolicyEngine::activate).
///
/// Preparing is the slow part of a reload; activating is a pointer swap.
/// Cloning is cheap (the modules and program are shared), so one prepared
/// bundle can be activated on several engines.
#[derive(Clone)]
pub struct PreparedBundle {
    pub(crate) revision: Arc<str>,
    /// `data.` paths of the manifest's entrypoints.
    pub(crate) entrypoints: Vec<Arc<str>>,
    /// Personal input fields, split at dots.
    pub(crate) personal_fields: Vec<Vec<String>>,
    /// An interpreter with every module and the data, already prepared by
    /// running the tests; cloned for each thread.
    pub(crate) interpreter: regorus::Engine,
    pub(crate) program: Option<Arc<Program>>,
    /// The program as bytes, from which each thread makes its own copy.
    pub(crate) program_bytes: Option<Arc<[u8]>>,
    /// The data document as JSON, from which each thread makes its own copy.
    pub(crate) data_json: Arc<str>,
    refusal: Option<FastPathRefusal>,
    tests_passed: usize,
}

impl fmt::Debug for PreparedBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedBundle")
            .field("revision", &self.revision)
            .field("entrypoints", &self.entrypoints)
            .field("path", &self.execution_path())
            .field("fast_path_refusal", &self.refusal)
            .field("tests_passed", &self.tests_passed)
            .finish_non_exhaustive()
    }
}

impl PreparedBundle {
    /// Parses, compiles and tests `bundle`, and uses the compiled fast path
    /// if it agrees with the interpreter on the bundle's test inputs.
    ///
    /// # Errors
    ///
    /// A [`LoadError`] naming the file, line and rule that failed: a parse
    /// error, data the engine refuses, a missing entrypoint, a compile error,
    /// or a failing `test_` rule.
    pub fn new(bundle: &Bundle) -> Result<PreparedBundle, LoadError> {
        PreparedBundle::with_fast_path(bundle, FastPath::WhenAgreed)
    }

    /// As [`new`](Self::new), choosing whether to try the fast path.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn with_fast_path(bundle: &Bundle, fast_path: FastPath) -> Result<PreparedBundle, LoadError> {
        let entrypoints = bundle.check()?;
        let mut loaded = testing::load_interpreter(bundle, &entrypoints)?;
        for outcome in testing::run_test_rules(&mut loaded) {
            match outcome.status {
                TestStatus::Passed => {}
                TestStatus::Failed => {
                    return Err(LoadError::TestFailed {
                        rule: outcome.rule,
                        location: outcome.location,
                    });
                }
                TestStatus::Error { location, message } => {
                    return Err(LoadError::TestError {
                        rule: outcome.rule,
                        location: location.unwrap_or(outcome.location),
                        message,
                    });
                }
            }
        }
        let tests_passed = loaded.test_rules().count();
        let interpreter = loaded.engine;
        let data_json: Arc<str> = Arc::from(serde_json::to_string(bundle.data()).unwrap_or_default());

        let mut prepared = PreparedBundle {
            revision: Arc::from(bundle.manifest().revision.as_str()),
            entrypoints: entrypoints.iter().map(|e| Arc::from(e.as_str())).collect(),
            personal_fields: bundle
                .manifest()
                .personal_fields
                .iter()
                .map(|f| f.split('.').map(str::to_owned).collect())
                .collect(),
            interpreter,
            program: None,
            program_bytes: None,
            data_json,
            refusal: None,
            tests_passed,
        };
        match fast_path {
            FastPath::Never => prepared.refusal = Some(FastPathRefusal::NotRequested),
            FastPath::WhenAgreed => match prepared.compile(&entrypoints) {
                Ok(program) => match prepared.check_agreement(&program, bundle.test_inputs()) {
                    None => {
                        prepared.program_bytes = program.serialize_binary().ok().map(Arc::from);
                        prepared.program = Some(program);
                    }
                    Some(refusal) => prepared.refusal = Some(refusal),
                },
                Err(refusal) => prepared.refusal = Some(refusal),
            },
        }
        Ok(prepared)
    }

    /// The manifest's revision.
    pub fn revision(&self) -> &str {
        &self.revision
    }

    /// The entrypoints a caller may evaluate, as `data.` paths.
    pub fn entrypoints(&self) -> impl Iterator<Item = &str> {
        self.entrypoints.iter().map(|e| &**e)
    }

    /// Which engine will evaluate this bundle.
    pub fn execution_path(&self) -> ExecutionPath {
        if self.program.is_some() {
            ExecutionPath::Compiled
        } else {
            ExecutionPath::Interpreted
        }
    }

    /// Why the fast path is not used, if it is not.
    pub fn fast_path_refusal(&self) -> Option<&FastPathRefusal> {
        self.refusal.as_ref()
    }

    /// How many `test_` rules passed on load.
    pub fn tests_passed(&self) -> usize {
        self.tests_passed
    }

    /// Index of `entrypoint` (either form) among the manifest's entrypoints.
    pub(crate) fn entrypoint_index(&self, entrypoint: &str) -> Option<usize> {
        if let Some(i) = self.entrypoints.iter().position(|e| &**e == entrypoint) {
            return Some(i);
        }
        let path = crate::manifest::rule_path(entrypoint).ok()?;
        self.entrypoints.iter().position(|e| **e == *path)
    }

    fn compile(&self, entrypoints: &[String]) -> Result<Arc<Program>, FastPathRefusal> {
        let unsupported = |message: String| FastPathRefusal::Unsupported { message };
        // The interpreter is cloned so that compiling does not disturb the
        // template every thread copies.
        let mut engine = self.interpreter.clone();
        let first: regorus::Rc<str> = regorus::Rc::from(entrypoints[0].as_str());
        let policy = engine
            .compile_with_entrypoint(&first)
            .map_err(|e| unsupported(format!("{e:#}")))?;
        let names: Vec<&str> = entrypoints.iter().map(String::as_str).collect();
        Compiler::compile_from_policy(&policy, &names).map_err(|e| unsupported(e.to_string()))
    }

    /// Evaluates every entrypoint on every test input with both engines;
    /// the first difference refuses the fast path.
    fn check_agreement(&self, program: &Arc<Program>, inputs: &[serde_json::Value]) -> Option<FastPathRefusal> {
        if inputs.is_empty() {
            return Some(FastPathRefusal::NoTestInputs);
        }
        let limits = Limits::default();
        let mut interpreted = Evaluator::interpreter(self, &limits);
        let mut compiled = match Evaluator::compiled(Arc::clone(program), &self.data_json, &limits) {
            Ok(compiled) => compiled,
            Err(message) => return Some(FastPathRefusal::Unsupported { message }),
        };
        for (input_index, input) in inputs.iter().enumerate() {
            let input = regorus::Value::from(input.clone());
            for entrypoint in &self.entrypoints {
                let a = interpreted.evaluate(entrypoint, input.clone());
                let b = compiled.evaluate(entrypoint, input.clone());
                let same = match (&a, &b) {
                    (Ok(a), Ok(b)) => a == b,
                    // The caller must see the same kind of error either way;
                    // messages differ between the engines.
                    (Err(a), Err(b)) => std::mem::discriminant(a) == std::mem::discriminant(b),
                    _ => false,
                };
                if !same {
                    return Some(FastPathRefusal::Disagreement {
                        entrypoint: entrypoint.to_string(),
                        input_index,
                        interpreted: describe(&a),
                        compiled: describe(&b),
                    });
                }
            }
        }
        None
    }
}

fn describe(result: &Result<regorus::Value, crate::evaluator::Failure>) -> String {
    match result {
        Ok(value) => value.to_json_str().unwrap_or_else(|_| value.to_string()),
        Err(failure) => failure.to_string(),
    }
}
