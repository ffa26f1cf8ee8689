//! How often, and for how long, an unanswered call is tried again.

use std::time::Duration;

/// Capped, jittered exponential backoff with a time budget.
///
/// The `n`th retry (from 1) waits a random time in `[d/2, d]`, where
/// `d = min(cap, base * 2^(n-1))`: never less than half the step, so that
/// a branch is called at most `2 / base` times a second, and never in
/// lockstep with other branches. Phase two gives up on a branch after
/// `max_age` and parks the transaction; a Try is retried until the
/// transaction's deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// The first wait.
    pub base: Duration,
    /// The longest wait.
    pub cap: Duration,
    /// How long phase two keeps calling one branch before parking.
    pub max_age: Duration,
    /// How long one call may take before its answer counts as unknown.
    pub call_timeout: Duration,
}

impl Default for RetryPolicy {
    /// 100 ms doubling to 10 s, parked after 1 hour, 5 s per call.
    fn default() -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(10),
            max_age: Duration::from_secs(3600),
            call_timeout: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// A policy with these waits, budget and call timeout.
    #[must_use]
    pub const fn new(base: Duration, cap: Duration, max_age: Duration, call_timeout: Duration) -> RetryPolicy {
        RetryPolicy {
            base,
            cap,
            max_age,
            call_timeout,
        }
    }

    /// The wait before retry `attempt` (from 1), using `random` for the jitter.
    #[must_use]
    pub fn delay(&self, attempt: u32, random: u64) -> Duration {
        let doublings = attempt.saturating_sub(1).min(32);
        let step = self.base.saturating_mul(2u32.saturating_pow(doublings)).min(self.cap);
        let step_nanos = u64::try_from(step.as_nanos()).unwrap_or(u64::MAX);
        let half = step_nanos / 2;
        Duration::from_nanos(half + random % (step_nanos - half + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_from_base_to_cap_and_stay_in_the_upper_half() {
        let policy = RetryPolicy::new(
            Duration::from_millis(100),
            Duration::from_millis(1000),
            Duration::from_secs(60),
            Duration::from_secs(1),
        );
        // (attempt, step in ms): 100, 200, 400, 800, then the cap.
        for (attempt, step) in [(1, 100u64), (2, 200), (3, 400), (4, 800), (5, 1000), (40, 1000)] {
            let shortest = policy.delay(attempt, 0);
            let longest = policy.delay(attempt, step * 1_000_000 / 2);
            assert_eq!(shortest, Duration::from_millis(step / 2), "attempt {attempt}");
            assert_eq!(longest, Duration::from_millis(step), "attempt {attempt}");
        }
    }
}
