//! Before a group sync, the leading appender waits a moment for the others
//! to queue their records, so that one sync carries them all (as
//! PostgreSQL's `commit_delay` does); the last of them to queue wakes it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// Appenders inside a group-commit `append`, and the leader waiting for them.
///
/// The leader sleeps until woken, not in a `yield_now` loop: with more
/// appenders than cores, a yield on Linux's EEVDF scheduler (6.6 and later)
/// can wait out every other runnable thread's slice. With 16 appenders on a
/// 2-core VM, a 100 us window measured 1.1-1.3 ms per sync that way.
#[derive(Debug, Default)]
pub(crate) struct Gathering {
    /// Group-commit appenders between the start of `append` and its return.
    appending: AtomicU64,
    /// A leader is gathering: appenders that queue look whether to wake it.
    gathering: AtomicBool,
    leader: Mutex<Option<Thread>>,
}

impl Gathering {
    /// An appender starts: counted before it queues, so that a gathering
    /// leader waits for it, until the returned guard is dropped. `queued`
    /// counts the records queued and not yet written.
    pub(crate) fn enter<F: Fn() -> u64>(&self, queued: F) -> Appending<'_, F> {
        self.appending.fetch_add(1, Ordering::SeqCst);
        Appending {
            gathering: self,
            queued,
        }
    }

    /// Wakes a gathering leader once every appender has queued; `queued`
    /// counts the records queued and not yet written.
    fn wake_leader_if_all_queued(&self, queued: impl FnOnce() -> u64) {
        // SeqCst, paired with the leader's store: either the leader sees our
        // change in its own look, or we see it gathering.
        if !self.gathering.load(Ordering::SeqCst) {
            return;
        }
        if queued() >= self.appending.load(Ordering::SeqCst)
            && let Some(leader) = &*self.leader.lock().unwrap_or_else(PoisonError::into_inner)
        {
            leader.unpark();
        }
    }

    /// Waits until `queued()` reaches the number of appenders, or `window`
    /// has passed. Called by the one appender leading the next sync.
    pub(crate) fn gather(&self, window: Duration, queued: impl Fn() -> u64) {
        // A window too long to add to the clock has no deadline.
        let deadline = Instant::now().checked_add(window);
        *self.leader.lock().unwrap_or_else(PoisonError::into_inner) = Some(thread::current());
        self.gathering.store(true, Ordering::SeqCst);
        loop {
            if queued() >= self.appending.load(Ordering::SeqCst) {
                break;
            }
            // A wake-up sent before we park is kept for the park (an
            // unpark token), so none is lost.
            match deadline {
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        break;
                    }
                    thread::park_timeout(deadline.saturating_duration_since(now));
                }
                None => thread::park(),
            }
        }
        self.gathering.store(false, Ordering::SeqCst);
        *self.leader.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

/// An appender inside `append`. Dropping it, on return or in a panic, stops
/// counting the appender, so that no leader waits for one that is gone.
pub(crate) struct Appending<'a, F: Fn() -> u64> {
    gathering: &'a Gathering,
    queued: F,
}

impl<F: Fn() -> u64> Appending<'_, F> {
    /// The appender has queued its records: wakes a gathering leader if it
    /// was the last one awaited.
    pub(crate) fn queued(&self) {
        self.gathering.wake_leader_if_all_queued(&self.queued);
    }
}

impl<F: Fn() -> u64> Drop for Appending<'_, F> {
    fn drop(&mut self) {
        self.gathering.appending.fetch_sub(1, Ordering::SeqCst);
        // An appender woken by the last sync may still be on its way out
        // when the next leader counts it: its leaving can complete the count.
        self.gathering.wake_leader_if_all_queued(&self.queued);
    }
}
