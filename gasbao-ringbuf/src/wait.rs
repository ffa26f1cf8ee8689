//! How a side that cannot proceed waits: spinning, yielding, backing off to
//! sleep, or blocking until the other side wakes it.

use std::time::{Duration, Instant};

use crate::barrier::Barrier;
use crate::sync::{AtomicUsize, Condvar, Mutex, Ordering, spin_loop, yield_now};

/// How a producer waits for room, or a consumer for an item.
///
/// The choice trades latency against CPU: a busy-spinning consumer answers
/// within nanoseconds and burns a core while idle; a blocking one sleeps at
/// about 0% CPU and is woken by the next push.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum WaitStrategy {
    /// Spin with a CPU pause hint. Lowest latency; a full core per waiter.
    BusySpin,
    /// Give up the time slice between looks. Low latency when threads
    /// outnumber cores; still 100% CPU when alone.
    Yield,
    /// Spin, then yield, then sleep for growing intervals up to 1 ms. No one
    /// needs to wake the waiter, so the other side pays nothing; an idle
    /// waiter costs about a thousand wake-ups a second.
    Backoff,
    /// Spin briefly, yield a few times, then sleep until the other side
    /// signals. Idle waiters use about 0% CPU. In the SPSC queue and the
    /// multicast ring each push or pop loads a counter to see whether anyone
    /// sleeps, and, except on Linux, pays a fence before it (there the
    /// sleeper issues `membarrier` instead); in the MPMC queue a sleeper
    /// marks the counter the other side claims from, and pushes and pops
    /// that find no mark pay nothing.
    #[default]
    Blocking,
}

/// Spins before a blocking or backing-off waiter goes to sleep: a handoff
/// usually completes within this many pause hints. Under loom none: loom
/// runs the other thread at a spin or yield, so a waiter that spun first
/// would never be seen asleep, and its wake-up never checked.
const SPINS: u32 = if cfg!(gasbao_loom) { 0 } else { 64 };
/// Yields, after spinning, before a waiter sleeps: when threads outnumber
/// cores, the other side is often waiting for this core, and a yield hands it
/// over for far less than a sleep and a wake-up cost.
const YIELDS: u32 = if cfg!(gasbao_loom) { 0 } else { 128 };
/// The longest sleep of a backing-off waiter.
const MAX_BACKOFF: Duration = Duration::from_millis(1);

/// Where blocking waiters sleep, and how the other side wakes them.
///
/// The waiter announces itself (`sleepers += 1`), then looks once more
/// before sleeping; the notifier publishes, then looks for sleepers
/// ([`notify`](Self::notify)). A [`Barrier`] orders each side's write before
/// its read, so at least one of them sees the other: a waiter never sleeps
/// through the item that would have woken it. On Linux the waiter pays for
/// it, and a notifier that finds no sleeper pays a load.
///
/// A queue whose notifier already claims with a read-modify-write (the MPMC
/// queue's CAS) can skip that barrier: the waiter also marks the claimed
/// counter itself, and the claimer, seeing the mark, calls
/// [`wake_all`](Self::wake_all). Its [`notify`](Self::notify) then runs
/// only on rare paths (the last producer or consumer leaving), so it takes
/// [`Barrier::Symmetric`] ([`with_barrier`](Self::with_barrier)) rather
/// than have every sleeper issue a `membarrier` for them.
#[derive(Debug)]
pub(crate) struct Signal {
    sleepers: AtomicUsize,
    barrier: Barrier,
    lock: Mutex<()>,
    condvar: Condvar,
}

impl Signal {
    /// A signal for a queue that notifies on every push or pop: the
    /// cheapest barrier for the notifier this process has.
    pub(crate) fn new() -> Signal {
        Signal::with_barrier(Barrier::for_process())
    }

    /// A signal whose notifier and waiter order their store and load with
    /// `barrier`.
    pub(crate) fn with_barrier(barrier: Barrier) -> Signal {
        Signal {
            sleepers: AtomicUsize::new(0),
            barrier,
            lock: Mutex::new(()),
            condvar: Condvar::new(),
        }
    }

    /// Wakes every sleeper, if there is one. Call after publishing the change
    /// they wait for.
    #[inline]
    pub(crate) fn notify(&self) {
        self.barrier.light();
        if self.sleepers.load(Ordering::Relaxed) > 0 {
            self.wake_all();
        }
    }

    /// Wakes every sleeper, without looking whether there is one: for a
    /// notifier that learned of sleepers from a waiter's announcement.
    #[cold]
    pub(crate) fn wake_all(&self) {
        // Taking the lock orders this wake-up after a sleeper's last look.
        drop(self.lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        self.condvar.notify_all();
    }

    /// Sleeps until `ready` holds or `deadline` passes; returns whether it
    /// holds, or `None` if `announce` found that sleeping now could miss a
    /// wake-up (the caller looks again).
    ///
    /// `announce` runs under the lock before each sleep: for a queue whose
    /// other side learns of sleepers from an atomic it already modifies
    /// (see `mpmc`), it marks the waiter there. Otherwise it is `|| true`
    /// and `sleepers` with the [`Barrier`] do the work.
    fn block_until(
        &self,
        ready: &mut impl FnMut() -> bool,
        announce: &mut impl FnMut() -> bool,
        deadline: Option<Instant>,
    ) -> Option<bool> {
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        // Until woken, or for at most `nap` if the barrier could not be made.
        let nap = self.barrier.heavy();
        let mut guard = self.lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let result = loop {
            if ready() {
                break Some(true);
            }
            if !announce() {
                break None;
            }
            let left = match deadline {
                None => None,
                Some(deadline) => match deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) {
                    Some(left) => Some(left),
                    None => break Some(ready()),
                },
            };
            guard = match left.into_iter().chain(nap).min() {
                None => self
                    .condvar
                    .wait(guard)
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
                Some(timeout) => self
                    .condvar
                    .wait_timeout(guard, timeout)
                    .map(|(guard, _)| guard)
                    .unwrap_or_else(|e| e.into_inner().0),
            };
        };
        drop(guard);
        self.sleepers.fetch_sub(1, Ordering::Relaxed);
        result
    }
}

impl WaitStrategy {
    /// Waits, as this strategy says, until `ready` returns true or `deadline`
    /// passes; returns whether `ready` held. `signal` is where a blocking
    /// waiter sleeps; the other side notifies it.
    pub(crate) fn wait_until(self, signal: &Signal, ready: impl FnMut() -> bool, deadline: Option<Instant>) -> bool {
        self.wait_until_announced(signal, ready, || true, deadline)
    }

    /// As [`wait_until`](Self::wait_until), except that a blocking waiter
    /// calls `announce` before each sleep to mark itself where the other
    /// side will see it without a fence; `announce` returns false when a
    /// change is under way that could be missed, and the waiter looks again.
    pub(crate) fn wait_until_announced(
        self,
        signal: &Signal,
        mut ready: impl FnMut() -> bool,
        mut announce: impl FnMut() -> bool,
        deadline: Option<Instant>,
    ) -> bool {
        let expired = || deadline.is_some_and(|d| Instant::now() >= d);
        let mut attempt: u32 = 0;
        loop {
            if ready() {
                return true;
            }
            if expired() {
                return false;
            }
            attempt = attempt.saturating_add(1);
            match self {
                WaitStrategy::BusySpin => spin_loop(),
                WaitStrategy::Yield => yield_now(),
                WaitStrategy::Backoff => {
                    if attempt > SPINS + YIELDS {
                        // 1 us, 2 us, 4 us, ... up to 1 ms.
                        let doublings = (attempt - SPINS - YIELDS).min(10);
                        let sleep = Duration::from_micros(1 << doublings).min(MAX_BACKOFF);
                        std::thread::sleep(
                            deadline.map_or(sleep, |d| sleep.min(d.saturating_duration_since(Instant::now()))),
                        );
                    } else if attempt > SPINS {
                        yield_now();
                    } else {
                        spin_loop();
                    }
                }
                WaitStrategy::Blocking => {
                    if attempt > SPINS + YIELDS {
                        match signal.block_until(&mut ready, &mut announce, deadline) {
                            Some(held) => return held,
                            // The other side is between claiming and publishing.
                            None => yield_now(),
                        }
                    } else if attempt > SPINS {
                        // The other side may be waiting for this core.
                        yield_now();
                    } else {
                        spin_loop();
                    }
                }
            }
        }
    }
}
