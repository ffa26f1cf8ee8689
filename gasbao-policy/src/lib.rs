//! Rego subsidy decisions for gas utilities, on [regorus].
//!
//! Analysts write eligibility rules in Rego (the Open Policy Agent language);
//! a service evaluates them here, typed in and typed out, with the bundle's
//! own tests run on every load, atomic hot reload, a decision log with
//! personal data masked, and regorus's compiled VM as a fast path where it
//! agrees with the interpreter.
//!
//! # Map
//!
//! - [`Bundle`], [`Manifest`], [`PolicyModule`]: modules, data, revision,
//!   entrypoints, personal fields, sample inputs; read from a directory or built in memory.
//! - [`PreparedBundle`]: a bundle parsed, compiled and tested; the slow half of a reload.
//! - [`PolicyEngine`]: the shared engine; [`evaluate`](PolicyEngine::evaluate),
//!   [`reload`](PolicyEngine::reload), [`activate`](PolicyEngine::activate).
//! - [`Decision`]: an output with the revision and [`ExecutionPath`] that produced it.
//! - [`FastPath`], [`FastPathRefusal`]: whether and why not the compiled path is used.
//! - [`SubsidyApplication`], [`SubsidyDecision`], [`SubsidyReason`],
//!   [`SUBSIDY_ENTRYPOINT`]: the model of the reference bundle `bundles/subsidy`.
//! - [`DecisionLog`], [`DecisionRecord`], [`JsonLinesLog`], and with feature
//!   `journal-log` `JournalDecisionLog`: where decisions are recorded.
//! - [`run_tests`], [`TestReport`]: the bundle's `test_` rules with coverage, like
//!   `opa test`; each may run [`TEST_TIME_LIMIT`].
//! - [`Limits`]: time and instruction bounds per decision; [`MAX_NESTING`]: the
//!   deepest bracket nesting a module may have (regorus parses deeper nesting
//!   in exponential time).
//! - Errors: [`BundleError`], [`LoadError`], [`EvaluationError`], [`DecisionLogError`],
//!   with [`SourceLocation`].
//!
//! # Loading
//!
//! [`PreparedBundle::new`] parses every module, adds `data.json`, checks the
//! manifest's entrypoints exist, and runs every rule whose name starts with
//! `test_`; any failure is a [`LoadError`] naming file, line and rule, and an
//! engine keeps its active bundle. It then compiles the entrypoints for
//! regorus's VM and evaluates every entrypoint on every sample input
//! (`test_inputs` in the manifest) with both engines; only if all agree does
//! the bundle run [`ExecutionPath::Compiled`].
//!
//! # Concurrency
//!
//! [`PolicyEngine`] is `Send + Sync` and cloned cheaply. Each thread keeps its
//! own engine for the active bundle; a decision reads one atomic counter and
//! takes no lock. After a reload, each thread's next decision fetches the new
//! bundle under a read lock held for a pointer copy, and builds its engine
//! (a clone of a prepared one) once.
//!
//! With feature `tracing`, each bundle that becomes active (and whether it
//! runs on the fast path, and if not why) and each refused reload is an
//! event.
//!
//! # Examples
//!
//! ```
//! use gasbao_core::Volume;
//! use gasbao_policy::{PolicyEngine, EngineOptions, SubsidyApplication, SubsidyDecision, SUBSIDY_ENTRYPOINT};
//!
//! let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/bundles/subsidy");
//! let engine = PolicyEngine::from_dir(dir, EngineOptions::default())?;
//!
//! let mut application = SubsidyApplication::new("HH-0001", "310115", 3);
//! application.registered_resident = true;
//! application.monthly_income_fen = 450_000;
//! application.monthly_usage_m3 = [30, 28, 12].map(Volume::from_whole_m3).to_vec();
//!
//! let decision = engine.evaluate::<SubsidyDecision>(SUBSIDY_ENTRYPOINT, &application)?;
//! assert!(decision.output.eligible);
//! assert_eq!(decision.output.amount_fen, Some(21_000)); // 120 yuan + 3 x 30 yuan
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [regorus]: https://docs.rs/regorus

#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod bundle;
mod engine;
mod error;
mod evaluator;
mod input;
#[cfg(feature = "journal-log")]
mod journal_log;
mod limits;
mod location;
mod log;
mod manifest;
mod nesting;
mod output;
mod prepared;
mod recursion;
mod struct_template;
mod subsidy;
#[cfg(test)]
mod test_documents;
mod testing;

pub use bundle::{Bundle, DATA_FILE, MANIFEST_FILE, PolicyModule};
pub use engine::{Decision, EngineOptions, PolicyEngine};
pub use error::{BundleError, DecisionLogError, EvaluationError, LoadError};
#[cfg(feature = "journal-log")]
#[cfg_attr(docsrs, doc(cfg(feature = "journal-log")))]
pub use journal_log::JournalDecisionLog;
pub use limits::Limits;
pub use location::SourceLocation;
pub use log::{DecisionLog, DecisionRecord, JsonLinesLog, MASKED};
pub use manifest::Manifest;
pub use nesting::MAX_NESTING;
pub use prepared::{ExecutionPath, FastPath, FastPathRefusal, PreparedBundle};
pub use subsidy::{SUBSIDY_ENTRYPOINT, SubsidyApplication, SubsidyDecision, SubsidyReason};
pub use testing::{FileCoverage, TEST_TIME_LIMIT, TestOutcome, TestReport, TestStatus, run_tests};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
