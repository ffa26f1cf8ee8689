//! The shared state of a multicast ring: the pre-allocated events, where the
//! producers are, and how far each consumer has got.

use std::time::{Duration, Instant};

use crate::cache_padded::CachePadded;
use crate::sync::{AtomicBool, AtomicU64, AtomicUsize, Ordering, UnsafeCell};
use crate::wait::{Signal, WaitStrategy};

/// Marks a multi-producer slot whose publisher panicked: consumers step over
/// it without calling a handler.
pub(crate) const SKIPPED: u64 = 1 << 63;

pub(crate) struct Ring<E> {
    events: Box<[UnsafeCell<E>]>,
    pub(crate) mask: u64,
    /// Single producer: events published (the next sequence to publish).
    /// Multiple producers: sequences claimed.
    pub(crate) cursor: CachePadded<AtomicU64>,
    /// Multiple producers only: per slot, `sequence + 1` (or'ed with
    /// [`SKIPPED`]) once that sequence is published in it.
    pub(crate) published: Option<Box<[AtomicU64]>>,
    pub(crate) consumers: Box<[ConsumerState]>,
    /// Consumers no other consumer depends on: producers may not lap them.
    pub(crate) gating: Box<[usize]>,
    pub(crate) producers: AtomicUsize,
    /// A consumer panicked: producers get `Disconnected`, consumers stop.
    pub(crate) halted: AtomicBool,
    pub(crate) strategy: WaitStrategy,
    /// Blocked consumers sleep here; woken when events are published or an
    /// upstream consumer moves on.
    pub(crate) arrivals: Signal,
    /// Blocked producers sleep here; woken when a gating consumer moves on.
    pub(crate) room: Signal,
}

/// One consumer's progress and what it waits for.
pub(crate) struct ConsumerState {
    /// Events this consumer has finished with (the next sequence it handles).
    pub(crate) sequence: CachePadded<AtomicU64>,
    /// Set when the consumer's thread ends; its `sequence` is then final.
    pub(crate) finished: AtomicBool,
    /// Consumers whose events this one handles only after them; empty means
    /// it follows the producers.
    pub(crate) depends_on: Box<[usize]>,
}

// SAFETY: an event is written only by the producer that claimed its sequence
// (before publishing, while every gating consumer is a lap behind) or by a
// consumer built with exclusive access (only after all consumers it depends
// on are past it and before any consumer depending on it reaches it; the
// builder refuses a mutating consumer with a concurrent sibling). Readers get
// shared references only between those windows. Events are reached from
// several threads at once, hence `E: Send + Sync`.
unsafe impl<E: Send + Sync> Sync for Ring<E> {}
// SAFETY: as above; the ring owns its events and drops them with itself.
unsafe impl<E: Send + Sync> Send for Ring<E> {}

impl<E> Ring<E> {
    pub(crate) fn new(
        slots: usize,
        mut factory: impl FnMut() -> E,
        multi_producer: bool,
        consumers: Box<[ConsumerState]>,
        gating: Box<[usize]>,
        strategy: WaitStrategy,
    ) -> Ring<E> {
        Ring {
            events: (0..slots).map(|_| UnsafeCell::new(factory())).collect(),
            mask: slots as u64 - 1,
            cursor: CachePadded::new(AtomicU64::new(0)),
            published: multi_producer.then(|| (0..slots).map(|_| AtomicU64::new(0)).collect()),
            consumers,
            gating,
            producers: AtomicUsize::new(1),
            halted: AtomicBool::new(false),
            strategy,
            arrivals: Signal::new(),
            room: Signal::new(),
        }
    }

    pub(crate) fn capacity(&self) -> u64 {
        self.mask + 1
    }

    /// Runs `f` with a pointer to the event for `sequence`; the caller holds
    /// the right to touch it (see the `Sync` impl).
    #[inline]
    pub(crate) fn with_event<R>(&self, sequence: u64, f: impl FnOnce(*mut E) -> R) -> R {
        // Truncation is the point: the mask keeps the index below the slot count.
        let index = (sequence & self.mask) as usize;
        debug_assert!(index < self.events.len());
        // SAFETY: the event count is a power of two and `mask` is one less,
        // so the masked index is below it (no bounds check, as in `spsc`).
        unsafe { self.events.get_unchecked(index) }.with_mut(f)
    }

    /// The slowest gating consumer's sequence: producers may fill up to a lap past it.
    #[inline]
    pub(crate) fn gating_sequence(&self) -> u64 {
        self.gating
            .iter()
            .map(|&c| self.consumers[c].sequence.load(Ordering::Acquire))
            .min()
            .unwrap_or(u64::MAX)
    }

    /// For consumers following the producers: sequences below the returned
    /// one, from `next` on, are published (or skipped).
    #[inline]
    pub(crate) fn published_before(&self, next: u64) -> u64 {
        match &self.published {
            None => self.cursor.load(Ordering::Acquire),
            Some(published) => {
                let claimed = self.cursor.load(Ordering::Acquire);
                let mut sequence = next;
                while sequence < claimed
                    && published[(sequence & self.mask) as usize].load(Ordering::Acquire) & !SKIPPED == sequence + 1
                {
                    sequence += 1;
                }
                sequence
            }
        }
    }

    /// Whether a consumer panicked, so that the ring takes no more events.
    pub(crate) fn is_halted(&self) -> bool {
        self.halted.load(Ordering::Acquire)
    }

    /// Waits, as the ring's strategy says, until `n` events from `next()`
    /// on fit within a lap of the slowest gating consumer, the ring halts,
    /// or `timeout` from now passes. `next` is read anew at each look: for
    /// several producers it is the claim cursor, which the others move.
    #[inline(never)]
    pub(crate) fn wait_for_room(&self, next: impl Fn() -> u64, n: u64, timeout: Option<Duration>) {
        let deadline = timeout.and_then(|timeout| Instant::now().checked_add(timeout));
        self.strategy.wait_until(
            &self.room,
            || (next() + n).saturating_sub(self.capacity()) <= self.gating_sequence() || self.is_halted(),
            deadline,
        );
    }

    /// Whether a multi-producer publisher skipped `sequence`.
    #[inline]
    pub(crate) fn is_skipped(&self, sequence: u64) -> bool {
        self.published
            .as_ref()
            .is_some_and(|p| p[(sequence & self.mask) as usize].load(Ordering::Relaxed) & SKIPPED != 0)
    }

    /// Events were published: wake blocked consumers.
    pub(crate) fn published(&self) {
        if self.strategy == WaitStrategy::Blocking {
            self.arrivals.notify();
        }
    }

    /// Consumer `me` moved on: wake those blocked on it, the consumers that
    /// depend on it or, for a gating consumer, the producers. Waking only
    /// those keeps a herd of sleepers from waking at every step.
    #[inline]
    pub(crate) fn consumed(&self, me: usize) {
        if self.strategy == WaitStrategy::Blocking {
            if self.gating.contains(&me) {
                self.room.notify();
            } else {
                self.arrivals.notify();
            }
        }
    }

    /// Something ended (a consumer, a producer, or the ring halted): wake
    /// every sleeper, whatever the strategy, so that each sees it.
    pub(crate) fn wake_all(&self) {
        self.arrivals.notify();
        self.room.notify();
    }
}
