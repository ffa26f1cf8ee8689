//! Bounds on one evaluation, so that a policy cannot stall the service.

use std::time::Duration;

/// How long and how far one decision may run.
///
/// A decision over a limit fails with
/// [`EvaluationError::TimeLimit`](crate::EvaluationError::TimeLimit) or
/// [`EvaluationError::InstructionLimit`](crate::EvaluationError::InstructionLimit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Wall-clock time per decision, on both paths. `None`: unbounded.
    pub time: Option<Duration>,
    /// VM instructions per decision. Only the compiled path counts
    /// instructions; the interpreter is bounded by `time` alone.
    pub instructions: Option<usize>,
}

impl Default for Limits {
    /// 50 ms and 1,000,000 instructions: a thousand times what the reference
    /// subsidy policy needs, far below what would stall a request.
    fn default() -> Limits {
        Limits {
            time: Some(Duration::from_millis(50)),
            instructions: Some(1_000_000),
        }
    }
}

impl Limits {
    /// No limits at all (for trusted policies in batch jobs).
    pub fn unbounded() -> Limits {
        Limits {
            time: None,
            instructions: None,
        }
    }

    /// Sets the time limit.
    #[must_use]
    pub fn time(mut self, limit: Duration) -> Limits {
        self.time = Some(limit);
        self
    }

    /// Sets the instruction limit.
    #[must_use]
    pub fn instructions(mut self, limit: usize) -> Limits {
        self.instructions = Some(limit);
        self
    }
}
