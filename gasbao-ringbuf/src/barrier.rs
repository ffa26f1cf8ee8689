//! The store-then-load barrier between a side that publishes on every push
//! or pop and a side that only rarely goes to sleep, split unevenly between
//! them.
//!
//! A notifier stores its item, then loads whether anyone sleeps; a waiter
//! announces itself, then loads whether an item came. One of the two loads
//! must see the other side's store, or the waiter sleeps through its item.
//! A SeqCst fence on each side gives that, but the notifier's fence costs
//! every push and pop: it waits for the store before it to leave the core,
//! a noticeable share of a blocking queue's one-by-one handoff.
//!
//! On Linux, `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)` makes every
//! running thread of the process execute a full memory barrier before the
//! call returns, and a thread not running passed one when it was switched
//! out. So the waiter issues it ([`Barrier::heavy`], a few microseconds,
//! before a sleep that costs more), and the notifier needs only to keep the
//! compiler from swapping its store and load ([`Barrier::light`]). This is
//! the pairing the `membarrier(2)` manual page describes, and that folly's
//! `asymmetricHeavyBarrier` and userspace RCU (liburcu) use.
//!
//! The cost moves to the sleeper, and from it to the process's other
//! threads: each `membarrier` interrupts every CPU that is running one of
//! them, a few microseconds a call when another thread is busy, which
//! slows that thread while calls come back to back. A waiter
//! calls it once per sleep, after spinning and yielding for longer than
//! that; a service whose consumers fall asleep thousands of times a second
//! pays it on its other threads, and one whose consumers keep up, or sleep
//! through long idle spells, gains on every item.
//!
//! Where the call is not available (other systems, kernels before 4.14, a
//! seccomp filter, Miri, loom), both sides fence.

use std::sync::OnceLock;
use std::time::Duration;

use crate::sync::{Ordering, fence};

/// How a queue's two sides order their store before their load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Barrier {
    /// Both sides fence.
    Symmetric,
    /// The waiter issues `membarrier`; the notifier only a compiler fence.
    Asymmetric,
}

/// Whether the process has decided (registered for `membarrier` or not).
static REGISTERED: OnceLock<bool> = OnceLock::new();

/// Whether the first blocking queue may register the process.
static ALLOWED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Allows or forbids the process-wide `membarrier` registration that
/// blocking queues make on Linux (see the crate documentation). Call it
/// before creating the first queue; returns false if that already
/// happened, and the choice made then stands.
pub fn allow_membarrier(allow: bool) -> bool {
    if REGISTERED.get().is_some() {
        return false;
    }
    ALLOWED.store(allow, std::sync::atomic::Ordering::SeqCst);
    // A queue created meanwhile on another thread may have decided first.
    REGISTERED.get().is_none()
}

impl Barrier {
    /// The barrier this process can use: asymmetric if it registered for
    /// `membarrier` (once, at the first queue, unless forbidden).
    pub(crate) fn for_process() -> Barrier {
        let registered =
            REGISTERED.get_or_init(|| ALLOWED.load(std::sync::atomic::Ordering::SeqCst) && membarrier::register());
        if *registered {
            Barrier::Asymmetric
        } else {
            Barrier::Symmetric
        }
    }

    /// The notifier's side, between publishing and looking for sleepers.
    #[inline]
    pub(crate) fn light(self) {
        match self {
            Barrier::Symmetric => fence(Ordering::SeqCst),
            // The store and the load stay in program order; the waiter's
            // `membarrier` orders them against its own.
            Barrier::Asymmetric => std::sync::atomic::compiler_fence(Ordering::SeqCst),
        }
    }

    /// The waiter's side, between announcing itself and its last look.
    /// Returns the longest it may then sleep without a notifier's wake-up:
    /// `None` (until woken) unless the barrier could not be made, which
    /// the kernel does not do once the process has registered; then a
    /// millisecond, so that a missed wake-up costs at most that.
    pub(crate) fn heavy(self) -> Option<Duration> {
        match self {
            Barrier::Symmetric => {
                fence(Ordering::SeqCst);
                None
            }
            Barrier::Asymmetric => {
                if membarrier::private_expedited() {
                    None
                } else {
                    Some(Duration::from_millis(1))
                }
            }
        }
    }
}

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64"),
    not(miri),
    not(gasbao_loom)
))]
mod membarrier {
    use std::ffi::{c_int, c_long, c_uint};

    #[cfg(target_arch = "x86_64")]
    const SYS_MEMBARRIER: c_long = 324;
    #[cfg(target_arch = "aarch64")]
    const SYS_MEMBARRIER: c_long = 283;

    // From <linux/membarrier.h>.
    const CMD_QUERY: c_int = 0;
    const CMD_PRIVATE_EXPEDITED: c_int = 1 << 3;
    const CMD_REGISTER_PRIVATE_EXPEDITED: c_int = 1 << 4;

    unsafe extern "C" {
        /// glibc's and musl's `syscall(2)`, which std links on Linux.
        fn syscall(number: c_long, ...) -> c_long;
    }

    fn membarrier(command: c_int) -> c_long {
        // SAFETY: `membarrier(cmd, flags, cpu_id)` takes three integers and
        // touches no memory of ours; the variadic arguments are passed as
        // the C types the kernel reads (int, unsigned int, int).
        unsafe { syscall(SYS_MEMBARRIER, command, 0 as c_uint, 0 as c_int) }
    }

    /// Registers the process for private expedited barriers, if the kernel
    /// offers them; returns whether it did.
    pub(super) fn register() -> bool {
        let offered = membarrier(CMD_QUERY);
        offered >= 0
            && offered & c_long::from(CMD_PRIVATE_EXPEDITED) != 0
            && membarrier(CMD_REGISTER_PRIVATE_EXPEDITED) == 0
    }

    /// A full barrier on every running thread of the process; false if the
    /// kernel refused it even after registering again, in case this
    /// process's registration was lost.
    pub(super) fn private_expedited() -> bool {
        membarrier(CMD_PRIVATE_EXPEDITED) == 0 || (register() && membarrier(CMD_PRIVATE_EXPEDITED) == 0)
    }
}

#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64"),
    not(miri),
    not(gasbao_loom)
)))]
mod membarrier {
    pub(super) fn register() -> bool {
        false
    }

    pub(super) fn private_expedited() -> bool {
        false
    }
}

#[cfg(all(test, not(miri), not(gasbao_loom)))]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::thread;

    use super::Barrier;

    const ROUNDS: usize = 100_000;

    /// Dekker's litmus test, `ROUNDS` times: one thread stores its flag,
    /// runs `notifier`, loads the other's; the other stores, runs `waiter`,
    /// loads. Returns the rounds in which neither load saw the other's store.
    fn rounds_both_missed(notifier: impl Fn() + Sync, waiter: impl Fn() + Sync) -> usize {
        let flags = [AtomicUsize::new(0), AtomicUsize::new(0)];
        // Both threads finish round `r` before either starts `r + 1`.
        let arrived = AtomicUsize::new(0);
        let saw = |me: usize, barrier: &dyn Fn()| -> Vec<bool> {
            (1..=ROUNDS)
                .map(|round| {
                    arrived.fetch_add(1, Ordering::SeqCst);
                    while arrived.load(Ordering::SeqCst) < 2 * round {
                        std::hint::spin_loop();
                    }
                    flags[me].store(round, Ordering::Relaxed);
                    barrier();
                    flags[1 - me].load(Ordering::Relaxed) >= round
                })
                .collect()
        };
        let (a, b) = thread::scope(|s| {
            let a = s.spawn(|| saw(0, &notifier));
            let b = s.spawn(|| saw(1, &waiter));
            (a.join().unwrap(), b.join().unwrap())
        });
        a.iter().zip(&b).filter(|(a, b)| !**a && !**b).count()
    }

    /// The pairing the blocking strategy relies on. The test has teeth: with
    /// a compiler fence on both sides instead, both loads missed in 1,033 of
    /// 100,000 rounds on the 2-core VM this was written on.
    #[test]
    fn the_light_and_heavy_sides_never_both_miss() {
        let barrier = Barrier::for_process();
        let missed = rounds_both_missed(
            || barrier.light(),
            || {
                barrier.heavy();
            },
        );
        assert_eq!(
            missed, 0,
            "{barrier:?}: both sides missed in {missed} of {ROUNDS} rounds"
        );
    }
}
