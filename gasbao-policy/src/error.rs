//! Errors, split by operation: reading a bundle, loading it, evaluating it,
//! and recording a decision.

use std::path::PathBuf;
use std::time::Duration;

use crate::location::SourceLocation;

/// Why a bundle could not be read from a directory or assembled in memory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// A file of the bundle could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The manifest is not valid JSON of the expected shape.
    #[error("{file}: invalid manifest")]
    Manifest {
        /// The manifest file (`.manifest`).
        file: String,
        /// Where and why parsing failed.
        #[source]
        source: serde_json::Error,
    },
    /// A JSON file of the bundle (`data.json`, the test inputs) is malformed.
    #[error("{file}: invalid JSON")]
    Json {
        /// The file.
        file: String,
        /// Where and why parsing failed.
        #[source]
        source: serde_json::Error,
    },
    /// The manifest names an entrypoint that is not a rule path.
    #[error("manifest entrypoint {entrypoint:?} is not a rule path like `gasbao/subsidy/decision`")]
    BadEntrypoint {
        /// The entrypoint as written.
        entrypoint: String,
    },
    /// The manifest names no entrypoint.
    #[error("manifest names no entrypoint")]
    NoEntrypoint,
    /// The bundle has no `.rego` module.
    #[error("bundle has no .rego module")]
    NoModules,
    /// `data.json` is not a JSON object (Rego's `data` is a document).
    #[error("{file}: data must be a JSON object")]
    DataNotObject {
        /// The data file.
        file: String,
    },
    /// The test-input file is not a JSON array of inputs.
    #[error("{file}: test inputs must be a JSON array")]
    TestInputsNotArray {
        /// The test-input file.
        file: String,
    },
}

/// Why a bundle was rejected on load. The previously active bundle, if any,
/// stays active.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The bundle is incomplete (no module, no entrypoint, a bad entrypoint).
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// A module does not parse.
    #[error("{location}: {message}")]
    Parse {
        /// File, line and column of the error.
        location: SourceLocation,
        /// The parser's message.
        message: String,
    },
    /// `data.json` was refused by the engine (for example, it clashes with a rule).
    #[error("data.json: {message}")]
    Data {
        /// The engine's message.
        message: String,
    },
    /// An entrypoint of the manifest names no rule in the bundle.
    #[error("entrypoint {entrypoint} is not defined by any module")]
    MissingEntrypoint {
        /// The entrypoint, as a `data.` path.
        entrypoint: String,
    },
    /// The bundle does not compile (unknown function, recursion, conflicts).
    #[error("{}{message}", location.as_ref().map(|l| format!("{l}: ")).unwrap_or_default())]
    Compile {
        /// Where, when the engine said.
        location: Option<SourceLocation>,
        /// The compiler's message.
        message: String,
    },
    /// Rules or functions refer to each other in a cycle, which Rego forbids
    /// and which would overflow the engine's stack.
    #[error("{location}: recursion: {}", rules.join(" -> "))]
    Recursion {
        /// The cycle, as `data.` paths, ending where it started.
        rules: Vec<String>,
        /// Where the first rule of the cycle is defined.
        location: SourceLocation,
    },
    /// A `test_` rule of the bundle is false or undefined.
    #[error("{location}: test {rule} failed")]
    TestFailed {
        /// The test rule, as a `data.` path.
        rule: String,
        /// Where the rule is defined.
        location: SourceLocation,
    },
    /// A `test_` rule raised an error while evaluating.
    #[error("{location}: test {rule} raised an error: {message}")]
    TestError {
        /// The test rule, as a `data.` path.
        rule: String,
        /// Where the error was raised (or the rule is defined).
        location: SourceLocation,
        /// The engine's message.
        message: String,
    },
}

/// Why a decision could not be made. Nothing was logged as decided.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvaluationError {
    /// The active bundle's manifest does not list this entrypoint.
    #[error("entrypoint {entrypoint} is not in bundle revision {revision}")]
    UnknownEntrypoint {
        /// The entrypoint asked for.
        entrypoint: String,
        /// The revision that was active.
        revision: String,
    },
    /// The input could not be turned into a JSON document.
    #[error("input is not a JSON document")]
    Input {
        /// Where and why.
        #[source]
        source: serde_json::Error,
    },
    /// The policy produced no value for this input (a rule without default
    /// whose conditions all failed).
    #[error("{entrypoint} is undefined for this input")]
    Undefined {
        /// The entrypoint.
        entrypoint: String,
    },
    /// Evaluation ran longer than [`Limits::time`](crate::Limits::time).
    #[error("{entrypoint} exceeded the time limit of {limit:?}")]
    TimeLimit {
        /// The entrypoint.
        entrypoint: String,
        /// The limit that was exceeded.
        limit: Duration,
    },
    /// Evaluation executed more instructions than
    /// [`Limits::instructions`](crate::Limits::instructions).
    #[error("{entrypoint} exceeded the limit of {limit} instructions")]
    InstructionLimit {
        /// The entrypoint.
        entrypoint: String,
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The policy raised an error (division by zero, conflicting values, a
    /// builtin given the wrong type with strict errors).
    #[error("{entrypoint}: {}{message}", location.as_ref().map(|l| format!("{l}: ")).unwrap_or_default())]
    Runtime {
        /// The entrypoint.
        entrypoint: String,
        /// Where in the policy, when the engine said.
        location: Option<SourceLocation>,
        /// The engine's message.
        message: String,
    },
    /// The policy's result does not have the shape of the requested output type.
    #[error("{entrypoint} returned a value of the wrong shape")]
    Output {
        /// The entrypoint.
        entrypoint: String,
        /// Which field and why.
        #[source]
        source: serde_json::Error,
    },
    /// The decision was made but could not be logged, so it is not returned:
    /// a subsidy decision that leaves no audit record is not given.
    #[error("decision could not be logged")]
    DecisionLog(#[source] DecisionLogError),
}

/// Why a [`DecisionLog`](crate::DecisionLog) could not record a decision.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecisionLogError {
    /// Writing the log failed.
    #[error("cannot write the decision log")]
    Io(#[source] std::io::Error),
    /// The caller's own sink (a message bus, a database) failed.
    #[error("the decision log's sink failed")]
    Sink(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The journal refused the record.
    #[cfg(feature = "journal-log")]
    #[cfg_attr(docsrs, doc(cfg(feature = "journal-log")))]
    #[error("cannot append to the decision journal")]
    Journal(#[source] gasbao_core::journal::AppendError),
}
