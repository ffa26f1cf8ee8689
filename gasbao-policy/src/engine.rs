//! The shared, hot-reloadable engine: one active bundle, swapped atomically,
//! evaluated on every thread at once.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bundle::Bundle;
use crate::error::{EvaluationError, LoadError};
use crate::evaluator::{self, Cached, Evaluator, Failure};
use crate::limits::Limits;
use crate::log::{DecisionLog, DecisionRecord, mask_personal_fields};
use crate::prepared::{ExecutionPath, FastPathRefusal, PreparedBundle};
use crate::{input, output};

/// Evaluates the active policy bundle for many threads at once.
///
/// Cloning is cheap and every clone shares the active bundle. The hot path
/// takes no lock: each thread keeps its own engine for the active bundle and
/// checks one atomic counter to learn of a reload.
///
/// # Examples
///
/// ```
/// use gasbao_policy::{Bundle, Manifest, PolicyEngine, PreparedBundle};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize)]
/// struct Household { low_income: bool }
///
/// let bundle = Bundle::new(Manifest::new("2026-11", ["tariff/tier_one"]))
///     .with_module("tariff.rego", "package tariff\nimport rego.v1\ndefault tier_one := false\ntier_one if input.low_income\n");
/// let engine = PolicyEngine::new(PreparedBundle::new(&bundle)?);
/// let decision = engine.evaluate::<bool>("tariff/tier_one", &Household { low_income: true })?;
/// assert!(decision.output);
/// assert_eq!(&*decision.revision, "2026-11");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct PolicyEngine {
    shared: Arc<Shared>,
}

struct Shared {
    /// Identifies this engine in each thread's evaluator cache.
    token: Arc<()>,
    /// Bumped after each activation; a thread whose evaluator is older
    /// fetches the active bundle once.
    generation: AtomicU64,
    /// The active bundle and its generation. Held for a pointer copy by
    /// readers and a pointer swap by `activate`, never while compiling.
    active: RwLock<(u64, Arc<PreparedBundle>)>,
    /// Serialises reloads, so that two reloads cannot interleave their swaps.
    reloading: Mutex<()>,
    limits: Limits,
    log: Option<Arc<dyn DecisionLog>>,
}

/// A decision with what it was made by.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Decision<O> {
    /// The policy's result.
    pub output: O,
    /// The revision of the bundle that decided.
    pub revision: Arc<str>,
    /// Which engine decided.
    pub path: ExecutionPath,
    /// Time spent evaluating, without converting input and output.
    pub duration: Duration,
}

/// What a [`PolicyEngine`] is built with besides its first bundle.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct EngineOptions {
    /// Bounds on each decision.
    pub limits: Limits,
    /// Where each decision is recorded; none by default.
    pub decision_log: Option<Arc<dyn DecisionLog>>,
}

impl fmt::Debug for EngineOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineOptions")
            .field("limits", &self.limits)
            .field("decision_log", &self.decision_log.as_ref().map(|_| "<dyn DecisionLog>"))
            .finish()
    }
}

impl EngineOptions {
    /// Sets the limits.
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> EngineOptions {
        self.limits = limits;
        self
    }

    /// Records every decision in `log`.
    #[must_use]
    pub fn decision_log(mut self, log: Arc<dyn DecisionLog>) -> EngineOptions {
        self.decision_log = Some(log);
        self
    }
}

impl fmt::Debug for PolicyEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyEngine")
            .field("active", &*self.active())
            .field("limits", &self.shared.limits)
            .finish()
    }
}

/// Reports a bundle becoming active, and whether it runs on the fast path.
#[cfg(feature = "tracing")]
fn trace_loaded(bundle: &PreparedBundle, replacing: Option<&str>) {
    tracing::info!(revision = %bundle.revision, replacing, path = ?bundle.execution_path(), "policy bundle active");
    if let Some(refusal) = bundle.fast_path_refusal() {
        tracing::info!(revision = %bundle.revision, %refusal, "policy bundle runs on the interpreter");
    }
}

impl PolicyEngine {
    /// An engine with `bundle` active, default limits and no decision log.
    pub fn new(bundle: PreparedBundle) -> PolicyEngine {
        PolicyEngine::with_options(bundle, EngineOptions::default())
    }

    /// An engine with `bundle` active.
    pub fn with_options(bundle: PreparedBundle, options: EngineOptions) -> PolicyEngine {
        #[cfg(feature = "tracing")]
        trace_loaded(&bundle, None);
        PolicyEngine {
            shared: Arc::new(Shared {
                token: Arc::new(()),
                generation: AtomicU64::new(0),
                active: RwLock::new((0, Arc::new(bundle))),
                reloading: Mutex::new(()),
                limits: options.limits,
                log: options.decision_log,
            }),
        }
    }

    /// Loads `bundle` from a directory and makes it the active one.
    ///
    /// # Errors
    ///
    /// A [`LoadError`]; the engine is not created.
    pub fn from_dir(dir: impl AsRef<std::path::Path>, options: EngineOptions) -> Result<PolicyEngine, LoadError> {
        let bundle = Bundle::from_dir(dir)?;
        Ok(PolicyEngine::with_options(PreparedBundle::new(&bundle)?, options))
    }

    /// Prepares `bundle` and activates it; returns the revision it replaced.
    ///
    /// Decisions already running finish on the old bundle; later ones use the
    /// new one. No decision waits for the preparation.
    ///
    /// # Errors
    ///
    /// A [`LoadError`] naming what failed; the active bundle does not change.
    pub fn reload(&self, bundle: &Bundle) -> Result<Arc<str>, LoadError> {
        let prepared = match PreparedBundle::new(bundle) {
            Ok(prepared) => prepared,
            Err(error) => {
                #[cfg(feature = "tracing")]
                tracing::warn!(%error, "policy.reload refused a bundle; the active one stays");
                return Err(error);
            }
        };
        Ok(self.activate(prepared))
    }

    /// Makes a prepared bundle the active one; returns the revision it replaced.
    pub fn activate(&self, bundle: PreparedBundle) -> Arc<str> {
        let _one_reload_at_a_time = self.shared.reloading.lock().unwrap_or_else(PoisonError::into_inner);
        #[cfg(feature = "tracing")]
        trace_loaded(&bundle, Some(&self.revision()));
        let bundle = Arc::new(bundle);
        let old = {
            let mut active = self.shared.active.write().unwrap_or_else(PoisonError::into_inner);
            let generation = active.0 + 1;
            let old = std::mem::replace(&mut *active, (generation, bundle));
            // Published after the swap: a thread that sees the new number
            // finds the new bundle.
            self.shared.generation.store(generation, Ordering::Release);
            old
        };
        Arc::clone(&old.1.revision)
    }

    /// The active bundle: revision, entrypoints, execution path.
    pub fn active(&self) -> Arc<PreparedBundle> {
        Arc::clone(&self.shared.active.read().unwrap_or_else(PoisonError::into_inner).1)
    }

    /// The active bundle's revision.
    pub fn revision(&self) -> Arc<str> {
        Arc::clone(&self.active().revision)
    }

    /// Which engine evaluates the active bundle.
    pub fn execution_path(&self) -> ExecutionPath {
        self.active().execution_path()
    }

    /// Why the active bundle is not on the fast path, if it is not.
    pub fn fast_path_refusal(&self) -> Option<FastPathRefusal> {
        self.active().fast_path_refusal().cloned()
    }

    /// Evaluates `entrypoint` (`a/b/rule` or `data.a.b.rule`) for a typed
    /// input into a typed output.
    ///
    /// # Errors
    ///
    /// [`EvaluationError`] naming the entrypoint: unknown to the active
    /// bundle, an input that is not a JSON document (a map with non-string
    /// keys, an integer beyond 64 bits, or a NaN or infinite float, which
    /// Rego cannot represent), an undefined result, a
    /// limit exceeded, a policy runtime error, an output of the wrong shape,
    /// or a decision log that could not record the decision.
    pub fn evaluate<O: DeserializeOwned>(
        &self,
        entrypoint: &str,
        input: &(impl Serialize + ?Sized),
    ) -> Result<Decision<O>, EvaluationError> {
        let input = input::to_engine_value(input).map_err(|source| EvaluationError::Input { source })?;
        self.decide(entrypoint, input, None)
    }

    /// As [`evaluate`](Self::evaluate), with `correlation_id` (a request or
    /// application id of the caller's) in the decision log record, to join
    /// the decision to the caller's own records.
    ///
    /// # Errors
    ///
    /// As [`evaluate`](Self::evaluate).
    pub fn evaluate_correlated<O: DeserializeOwned>(
        &self,
        entrypoint: &str,
        input: &(impl Serialize + ?Sized),
        correlation_id: &str,
    ) -> Result<Decision<O>, EvaluationError> {
        let input = input::to_engine_value(input).map_err(|source| EvaluationError::Input { source })?;
        self.decide(entrypoint, input, Some(correlation_id))
    }

    /// Evaluates `entrypoint` for an input given as JSON text.
    ///
    /// # Errors
    ///
    /// [`EvaluationError::Input`] if `input` is not JSON; otherwise as
    /// [`evaluate`](Self::evaluate).
    pub fn evaluate_json(&self, entrypoint: &str, input: &str) -> Result<Decision<serde_json::Value>, EvaluationError> {
        // Parsed straight into the engine's value: no intermediate tree.
        let input = serde_json::from_str(input).map_err(|source| EvaluationError::Input { source })?;
        self.decide(entrypoint, input, None)
    }

    fn decide<O: DeserializeOwned>(
        &self,
        entrypoint: &str,
        input: regorus::Value,
        correlation_id: Option<&str>,
    ) -> Result<Decision<O>, EvaluationError> {
        let shared = &*self.shared;
        let generation = shared.generation.load(Ordering::Acquire);
        let mut cached = match evaluator::take(&shared.token, generation) {
            Some(cached) => cached,
            None => {
                // Off the hot path: the moment to drop entries of engines
                // that no longer exist.
                evaluator::prune();
                let (generation, bundle) = {
                    let active = shared.active.read().unwrap_or_else(PoisonError::into_inner);
                    (active.0, Arc::clone(&active.1))
                };
                let evaluator = Evaluator::new(&bundle, &shared.limits);
                Cached {
                    owner: Arc::downgrade(&shared.token),
                    generation,
                    bundle,
                    evaluator,
                }
            }
        };
        let result = decide_with(
            &mut cached.evaluator,
            &cached.bundle,
            entrypoint,
            input,
            shared.log.as_deref().map(|log| (log, correlation_id)),
        );
        evaluator::put_back(cached);
        result
    }
}

fn decide_with<O: DeserializeOwned>(
    evaluator: &mut Evaluator,
    bundle: &PreparedBundle,
    entrypoint: &str,
    input: regorus::Value,
    log: Option<(&dyn DecisionLog, Option<&str>)>,
) -> Result<Decision<O>, EvaluationError> {
    let Some(index) = bundle.entrypoint_index(entrypoint) else {
        return Err(EvaluationError::UnknownEntrypoint {
            entrypoint: entrypoint.to_owned(),
            revision: bundle.revision.to_string(),
        });
    };
    let rule = &*bundle.entrypoints[index];
    // The log needs the input afterwards, as JSON; the engine consumes its copy.
    let logged_input = match log {
        Some(_) => Some(serde_json::to_value(&input).map_err(|source| EvaluationError::Input { source })?),
        None => None,
    };
    let started = Instant::now();
    let value = evaluator.evaluate(rule, input).map_err(|failure| match failure {
        Failure::Undefined => EvaluationError::Undefined {
            entrypoint: rule.to_owned(),
        },
        Failure::TimeLimit(limit) => EvaluationError::TimeLimit {
            entrypoint: rule.to_owned(),
            limit,
        },
        Failure::InstructionLimit(limit) => EvaluationError::InstructionLimit {
            entrypoint: rule.to_owned(),
            limit,
        },
        Failure::Runtime { location, message } => EvaluationError::Runtime {
            entrypoint: rule.to_owned(),
            location,
            message,
        },
    })?;
    let duration = started.elapsed();
    let output_error = |source| EvaluationError::Output {
        entrypoint: rule.to_owned(),
        source,
    };
    let output = output::from_engine_value(&value).map_err(output_error)?;
    let path = evaluator.path();
    if let (Some((log, correlation_id)), Some(mut input)) = (log, logged_input) {
        mask_personal_fields(&mut input, &bundle.personal_fields);
        let result = serde_json::to_value(&value).map_err(output_error)?;
        let record = DecisionRecord {
            revision: &bundle.revision,
            entrypoint: rule,
            input: &input,
            result: &result,
            path,
            duration,
            decided_at: SystemTime::now(),
            correlation_id,
        };
        log.record(&record).map_err(EvaluationError::DecisionLog)?;
    }
    Ok(Decision {
        output,
        revision: Arc::clone(&bundle.revision),
        path,
        duration,
    })
}
