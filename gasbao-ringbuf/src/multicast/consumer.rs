//! A consumer's thread: wait until the events it may handle are there, hand
//! them over in a batch, then say how far it got.

use crate::sync::{Arc, Ordering};

use super::NamedHook;
use super::ring::Ring;

/// Runs consumer `me` until its upstream is finished and every event it
/// published has been handled, or until the ring halts. `handle` gets each
/// event's sequence and whether it ends the batch.
/// `hook` runs first, under the same guard, so that a panicking hook halts
/// the ring like a panicking handler.
pub(crate) fn run<E>(
    ring: Arc<Ring<E>>,
    me: usize,
    hook: Option<NamedHook>,
    mut handle: impl FnMut(&Ring<E>, u64, bool),
) {
    // Whatever ends the loop (including a panicking handler), downstream
    // consumers and producers must learn of it.
    struct Finish<'a, E> {
        ring: &'a Ring<E>,
        me: usize,
    }
    impl<E> Drop for Finish<'_, E> {
        fn drop(&mut self) {
            if std::thread::panicking() {
                self.ring.halted.store(true, Ordering::Release);
            }
            self.ring.consumers[self.me].finished.store(true, Ordering::Release);
            // Always: blocked waiters must see the change whatever the strategy.
            self.ring.wake_all();
        }
    }
    let _finish = Finish { ring: &ring, me };
    if let Some((hook, name)) = hook {
        hook(me, &name);
    }
    let state = &ring.consumers[me];
    let mut next = state.sequence.load(Ordering::Relaxed);
    while let Some(available) = wait_for(&ring, me, next) {
        // The batch ends at its last handled event: a skipped sequence (its
        // publisher panicked) at the end must not swallow `end_of_batch`.
        let last = (next..available).rev().find(|&sequence| !ring.is_skipped(sequence));
        for sequence in next..available {
            if !ring.is_skipped(sequence) {
                handle(&ring, sequence, Some(sequence) == last);
            }
        }
        next = available;
        // Release: our reads (and writes, for an exclusive consumer) of these
        // events happen before a downstream consumer or a producer sees this.
        state.sequence.store(next, Ordering::Release);
        ring.consumed(me);
    }
}

/// Sequences below the returned one (and from `next` on) are ready for
/// consumer `me`; waits while there are none. `None` once no more will come.
fn wait_for<E>(ring: &Ring<E>, me: usize, next: u64) -> Option<u64> {
    let deps = &ring.consumers[me].depends_on;
    let available = || {
        if deps.is_empty() {
            ring.published_before(next)
        } else {
            deps.iter()
                .map(|&d| ring.consumers[d].sequence.load(Ordering::Acquire))
                .min()
                .unwrap_or(next)
        }
    };
    let upstream_finished = || {
        if deps.is_empty() {
            ring.producers.load(Ordering::Acquire) == 0
        } else {
            deps.iter().all(|&d| ring.consumers[d].finished.load(Ordering::Acquire))
        }
    };
    loop {
        let now = available();
        if now > next {
            return Some(now);
        }
        if ring.is_halted() {
            return None;
        }
        if upstream_finished() {
            // Finished was published after the last sequence (Release/Acquire):
            // one more look sees everything upstream will ever provide.
            let last = available();
            return (last > next).then_some(last);
        }
        ring.strategy.wait_until(
            &ring.arrivals,
            || available() > next || ring.is_halted() || upstream_finished(),
            None,
        );
    }
}
