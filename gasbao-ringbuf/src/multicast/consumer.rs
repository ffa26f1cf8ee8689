//! What every consumer does, on a thread of its own or on the caller's:
//! find the events it may handle, hand them over in a batch, then say how
//! far it got.

use std::time::Instant;

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
            finish(self.ring, self.me);
        }
    }
    let _finish = Finish { ring: &ring, me };
    if let Some((hook, name)) = hook {
        hook(me, &name);
    }
    let mut next = ring.consumers[me].sequence.load(Ordering::Relaxed);
    while let Ready::Before(available) = wait_ready(&ring, me, next, None) {
        handle_batch(&ring, me, next, available, &mut handle);
        next = available;
    }
}

/// What consumer `me` may do from sequence `next` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ready {
    /// The sequences from `next` up to (not including) this one.
    Before(u64),
    /// None yet; more may come.
    NotYet,
    /// None will come: the upstream finished and every event it let
    /// through is handled, or the ring halted.
    End,
}

/// One look at what consumer `me` may handle from `next` on; never waits.
#[inline]
pub(crate) fn look<E>(ring: &Ring<E>, me: usize, next: u64) -> Ready {
    let now = available(ring, me, next);
    if now > next {
        return Ready::Before(now);
    }
    look_past_the_last(ring, me, next)
}

/// The rest of [`look`], when nothing is ready: whether more can come.
#[inline(never)]
fn look_past_the_last<E>(ring: &Ring<E>, me: usize, next: u64) -> Ready {
    if ring.is_halted() || upstream_finished(ring, me) {
        // Both were published after the progress made before them
        // (Release/Acquire): one more look reaches everything upstream
        // handed over before it halted or finished. Without it, a consumer
        // that read its upstream's sequence just before a poller moved it and
        // was dropped missed the events the poller had let through.
        let last = available(ring, me, next);
        return if last > next { Ready::Before(last) } else { Ready::End };
    }
    Ready::NotYet
}

/// As [`look`], waiting as the ring's strategy says while the answer is
/// [`Ready::NotYet`] and `deadline` (if any) has not passed.
pub(crate) fn wait_ready<E>(ring: &Ring<E>, me: usize, next: u64, deadline: Option<Instant>) -> Ready {
    loop {
        let ready = look(ring, me, next);
        if ready != Ready::NotYet {
            return ready;
        }
        let woken = ring.strategy.wait_until(
            &ring.arrivals,
            || available(ring, me, next) > next || ring.is_halted() || upstream_finished(ring, me),
            deadline,
        );
        if !woken {
            // Timed out: the answer is the one a last look gives.
            return look(ring, me, next);
        }
    }
}

/// Hands consumer `me` the events from `next` up to `before`, skipping
/// those whose publisher panicked, then records that it got there; returns
/// how many it handled.
#[inline]
pub(crate) fn handle_batch<E>(
    ring: &Ring<E>,
    me: usize,
    next: u64,
    before: u64,
    mut handle: impl FnMut(&Ring<E>, u64, bool),
) -> usize {
    let mut handled = 0;
    if ring.published.is_none() {
        // One producer: it skips no sequence.
        for sequence in next..before {
            handle(ring, sequence, sequence + 1 == before);
        }
        handled = (before - next) as usize;
    } else {
        // The batch ends at its last handled event: a skipped sequence (its
        // publisher panicked) at the end must not swallow `end_of_batch`.
        let last = (next..before).rev().find(|&sequence| !ring.is_skipped(sequence));
        for sequence in next..before {
            if !ring.is_skipped(sequence) {
                handle(ring, sequence, Some(sequence) == last);
                handled += 1;
            }
        }
    }
    // Release: our reads (and writes, for an exclusive consumer) of these
    // events happen before a downstream consumer or a producer sees this.
    ring.consumers[me].sequence.store(before, Ordering::Release);
    ring.consumed(me);
    handled
}

/// Consumer `me` will handle nothing more: its sequence is final.
pub(crate) fn finish<E>(ring: &Ring<E>, me: usize) {
    ring.consumers[me].finished.store(true, Ordering::Release);
    // Always: blocked waiters must see the change whatever the strategy.
    ring.wake_all();
}

/// Sequences below the returned one (and from `next` on) are published and
/// handled by every consumer `me` depends on.
#[inline]
fn available<E>(ring: &Ring<E>, me: usize, next: u64) -> u64 {
    let deps = &ring.consumers[me].depends_on;
    if deps.is_empty() {
        ring.published_before(next)
    } else {
        deps.iter()
            .map(|&d| ring.consumers[d].sequence.load(Ordering::Acquire))
            .min()
            .unwrap_or(next)
    }
}

/// Whether everything that feeds consumer `me` is gone: the producers, or
/// every consumer it depends on.
#[inline]
fn upstream_finished<E>(ring: &Ring<E>, me: usize) -> bool {
    let deps = &ring.consumers[me].depends_on;
    if deps.is_empty() {
        ring.producers.load(Ordering::Acquire) == 0
    } else {
        deps.iter().all(|&d| ring.consumers[d].finished.load(Ordering::Acquire))
    }
}
