//! One thread's engine for one bundle, and the per-thread cache that keeps it
//! between decisions so that the hot path takes no lock.

use std::cell::RefCell;
use std::fmt;
use std::num::NonZeroU32;
use std::sync::{Arc, Weak};
use std::time::Duration;

use regorus::rvm::Program;
use regorus::rvm::program::DeserializationResult;
use regorus::rvm::vm::{RegoVM, VmError};
use regorus::utils::limits::ExecutionTimerConfig;

use crate::limits::Limits;
use crate::location::{Diagnostic, SourceLocation};
use crate::prepared::{ExecutionPath, PreparedBundle};

/// How often the engines look at the clock, in instructions or steps: every
/// few microseconds of work, so that reading the clock costs nothing
/// measurable and a runaway policy still stops within microseconds of its limit.
const TIMER_CHECK_INTERVAL: NonZeroU32 = NonZeroU32::new(1024).unwrap();

/// An engine owned by one thread.
pub(crate) enum Evaluator {
    Compiled(Box<RegoVM>),
    Interpreted(Box<regorus::Engine>),
}

/// Why one evaluation failed, before it is tied to an entrypoint.
#[derive(Debug)]
pub(crate) enum Failure {
    Undefined,
    TimeLimit(Duration),
    InstructionLimit(usize),
    Runtime {
        location: Option<SourceLocation>,
        message: String,
    },
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Undefined => f.write_str("undefined"),
            Failure::TimeLimit(limit) => write!(f, "time limit {limit:?} exceeded"),
            Failure::InstructionLimit(limit) => write!(f, "instruction limit {limit} exceeded"),
            Failure::Runtime { message, .. } => f.write_str(message),
        }
    }
}

impl Evaluator {
    /// The bundle's fast path if it has one, else its interpreter.
    ///
    /// The compiled path gets its own copy of the program and the data:
    /// regorus shares values by reference count, and two threads counting
    /// references to the same values contend on those counts at every
    /// instruction (measured: 1.2x instead of 1.9x on two threads).
    pub(crate) fn new(bundle: &PreparedBundle, limits: &Limits) -> Evaluator {
        match &bundle.program {
            Some(shared) => {
                let own = bundle
                    .program_bytes
                    .as_deref()
                    .and_then(|bytes| match Program::deserialize_binary(bytes) {
                        Ok(DeserializationResult::Complete(program)) => Some(Arc::new(program)),
                        _ => None,
                    })
                    .unwrap_or_else(|| Arc::clone(shared));
                // The data was accepted when the bundle was prepared (else it
                // would have no program); should that change, interpret.
                Evaluator::compiled(own, &bundle.data_json, limits)
                    .unwrap_or_else(|_| Evaluator::interpreter(bundle, limits))
            }
            None => Evaluator::interpreter(bundle, limits),
        }
    }

    pub(crate) fn interpreter(bundle: &PreparedBundle, limits: &Limits) -> Evaluator {
        let mut engine = bundle.interpreter.clone();
        if let Some(limit) = limits.time {
            engine.set_execution_timer_config(ExecutionTimerConfig {
                limit,
                check_interval: TIMER_CHECK_INTERVAL,
            });
        }
        Evaluator::Interpreted(Box::new(engine))
    }

    /// A VM running `program` over the data document.
    ///
    /// # Errors
    ///
    /// What the VM said if it refused the data: a VM without its data would
    /// decide on an empty document.
    pub(crate) fn compiled(program: Arc<Program>, data_json: &str, limits: &Limits) -> Result<Evaluator, String> {
        let mut vm = RegoVM::new();
        vm.load_program(program);
        let data = regorus::Value::from_json_str(data_json).map_err(|e| format!("data.json does not parse: {e}"))?;
        vm.set_data(data)
            .map_err(|e| format!("the VM refused data.json: {e}"))?;
        vm.set_max_instructions(limits.instructions.unwrap_or(usize::MAX));
        vm.set_execution_timer_config(limits.time.map(|limit| ExecutionTimerConfig {
            limit,
            check_interval: TIMER_CHECK_INTERVAL,
        }));
        Ok(Evaluator::Compiled(Box::new(vm)))
    }

    pub(crate) fn path(&self) -> ExecutionPath {
        match self {
            Evaluator::Compiled(_) => ExecutionPath::Compiled,
            Evaluator::Interpreted(_) => ExecutionPath::Interpreted,
        }
    }

    /// Evaluates `entrypoint` (a `data.` path the bundle defines) for `input`.
    pub(crate) fn evaluate(&mut self, entrypoint: &str, input: regorus::Value) -> Result<regorus::Value, Failure> {
        let value = match self {
            Evaluator::Compiled(vm) => {
                vm.set_input(input);
                vm.execute_entry_point_by_name(entrypoint).map_err(vm_failure)?
            }
            Evaluator::Interpreted(engine) => {
                engine.set_input(input);
                engine
                    .eval_rule(entrypoint.to_owned())
                    .map_err(|e| engine_failure(&e))?
            }
        };
        if value == regorus::Value::Undefined {
            Err(Failure::Undefined)
        } else {
            Ok(value)
        }
    }
}

pub(crate) fn timer(limit: Duration) -> ExecutionTimerConfig {
    ExecutionTimerConfig {
        limit,
        check_interval: TIMER_CHECK_INTERVAL,
    }
}

fn vm_failure(error: VmError) -> Failure {
    match error {
        VmError::InstructionLimitExceeded { limit, .. } => Failure::InstructionLimit(limit),
        VmError::TimeLimitExceeded { limit, .. } => Failure::TimeLimit(limit),
        other => Failure::Runtime {
            location: None,
            message: other.to_string(),
        },
    }
}

fn engine_failure(error: &anyhow::Error) -> Failure {
    if let Some(regorus::LimitError::TimeLimitExceeded { limit, .. }) = error.downcast_ref::<regorus::LimitError>() {
        return Failure::TimeLimit(*limit);
    }
    let d = Diagnostic::from_engine(error);
    Failure::Runtime {
        location: d.location,
        message: d.message,
    }
}

/// A thread's evaluator for one engine at one generation of its bundle.
pub(crate) struct Cached {
    /// Which engine; a dead weak reference lets the cache drop the entry.
    pub(crate) owner: Weak<()>,
    pub(crate) generation: u64,
    pub(crate) bundle: Arc<PreparedBundle>,
    pub(crate) evaluator: Evaluator,
}

/// Entries kept per thread; beyond it the oldest go. Services have one or a
/// few engines, so this is never reached in practice.
const CACHE_ENTRIES: usize = 8;

thread_local! {
    static CACHE: RefCell<Vec<Cached>> = const { RefCell::new(Vec::new()) };
}

/// Takes this thread's evaluator for `owner` if it is at `generation`. It is
/// taken out, not borrowed, so that a decision log that itself evaluates
/// cannot find the cache borrowed.
pub(crate) fn take(owner: &Arc<()>, generation: u64) -> Option<Cached> {
    CACHE
        .try_with(|cache| {
            let mut cache = cache.borrow_mut();
            let index = cache
                .iter()
                .position(|c| Weak::as_ptr(&c.owner) == Arc::as_ptr(owner))?;
            let entry = cache.swap_remove(index);
            // A stale generation is dropped here; the caller builds a new one.
            (entry.generation == generation).then_some(entry)
        })
        .ok()
        .flatten()
}

/// Returns an evaluator to this thread's cache.
pub(crate) fn put_back(entry: Cached) {
    // During thread teardown the cache is gone; the evaluator is simply dropped.
    let _ = CACHE.try_with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.len() >= CACHE_ENTRIES {
            cache.remove(0);
        }
        cache.push(entry);
    });
}

/// Drops this thread's evaluators for engines that no longer exist, and the
/// bundles they hold. Called when an evaluator is about to be built, not on
/// every decision.
pub(crate) fn prune() {
    let _ = CACHE.try_with(|cache| cache.borrow_mut().retain(|c| c.owner.strong_count() > 0));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Bundle, Manifest, PreparedBundle};

    #[test]
    fn a_vm_without_its_data_is_refused_not_run_on_an_empty_document() {
        let bundle = Bundle::new(Manifest::new("r", ["p/x"]))
            .with_module("p.rego", "package p\nx := data.limit\n")
            .with_test_inputs(vec![serde_json::json!({})])
            .with_data(serde_json::json!({"limit": 3}))
            .unwrap();
        let prepared = PreparedBundle::new(&bundle).unwrap();
        let program = prepared
            .program
            .clone()
            .expect("a bundle this simple takes the fast path");
        let limits = Limits::default();
        assert!(Evaluator::compiled(Arc::clone(&program), &prepared.data_json, &limits).is_ok());
        let refused = Evaluator::compiled(program, "{\"limit\": ", &limits)
            .err()
            .unwrap_or_default();
        assert!(refused.starts_with("data.json does not parse"), "{refused}");
    }
}
