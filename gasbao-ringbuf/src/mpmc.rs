//! A bounded multi-producer multi-consumer work queue: each item goes to
//! exactly one consumer. Producers and consumers are cloned freely; batches
//! are claimed with one compare-and-swap.
//!
//! Each slot carries a stamp saying which lap of the ring it is ready for
//! (Dmitry Vyukov's bounded queue): a producer at position `p` may write the
//! slot when its stamp is `p`, and publishes it as `p + 1`; a consumer may
//! take it at `p + 1` and frees it as `p + slots`. Producers and consumers
//! claim positions by advancing `tail` and `head` with CAS, so neither side
//! waits for the other unless the queue is full or empty.
//!
//! `try_push` reports `Full` only if the queue was full at some instant
//! during the call, and `try_pop` `Empty` only if it was empty, as
//! crossbeam's `ArrayQueue` does: a slot whose position another thread
//! claimed a lap ago and is still writing or reading is waited for (it is
//! a matter of instructions), not reported. The waiting calls (`push`,
//! `pop`) do not wait it out that way: their strategy's wait ends when that
//! thread is done, and a timed-out call answers as `try_` does.
//!
//! A blocking consumer about to sleep sets the top bit of `tail`, and a
//! blocking producer that of `head`. The other side's next claim is a CAS
//! on that same counter, so it sees the mark without a fence, clears it, and
//! wakes the sleepers once its item (or free slot) is published. Pushes and
//! pops that find no sleeper pay nothing for the blocking strategy.

use std::fmt;
use std::mem::MaybeUninit;
use std::time::{Duration, Instant};

use crate::barrier::Barrier;
use crate::cache_padded::CachePadded;
use crate::error::{PopError, PushError};
use crate::sync::{Arc, AtomicUsize, Ordering, UnsafeCell, fence, spin_loop, yield_now};
use crate::wait::{Signal, WaitStrategy};

/// Creates a queue of at least `capacity` slots (rounded up to a power of
/// two, and at least 2) whose waiting calls block ([`WaitStrategy::Blocking`]).
///
/// # Panics
///
/// If the slots do not fit in memory, as `Vec::with_capacity` does.
///
/// # Examples
///
/// ```
/// use gasbao_ringbuf::mpmc;
///
/// let (ingest, billing) = mpmc::channel::<u64>(1024);
/// let workers: Vec<_> = (0..2)
///     .map(|_| {
///         let billing = billing.clone();
///         std::thread::spawn(move || {
///             let mut total = 0;
///             // `pop` waits; it fails once every producer is gone and the queue is empty.
///             while let Ok(milli_m3) = billing.pop() {
///                 total += milli_m3;
///             }
///             total
///         })
///     })
///     .collect();
/// drop(billing);
/// for milli_m3 in 1..=1000 {
///     ingest.push(milli_m3)?;
/// }
/// drop(ingest);
/// let total: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
/// assert_eq!(total, 500_500);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn channel<T>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    with_wait_strategy(capacity, WaitStrategy::default())
}

/// Creates a queue whose waiting calls wait as `strategy` says.
///
/// # Panics
///
/// As [`channel`].
pub fn with_wait_strategy<T>(capacity: usize, strategy: WaitStrategy) -> (Producer<T>, Consumer<T>) {
    // At least two slots: with one, "published at p" (stamp p + 1) and
    // "free for p + 1" would be the same stamp.
    let slots = capacity.checked_next_power_of_two().unwrap_or(usize::MAX).max(2);
    let shared = Arc::new(Shared {
        head: CachePadded::new(AtomicUsize::new(0)),
        tail: CachePadded::new(AtomicUsize::new(0)),
        slots: (0..slots)
            .map(|i| Slot {
                stamp: AtomicUsize::new(i),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            })
            .collect(),
        mask: slots - 1,
        producers: AtomicUsize::new(1),
        consumers: AtomicUsize::new(1),
        strategy,
        // Pushes and pops reach a sleeper through the mark on the counter
        // they claim from; `notify` runs only when the last producer or
        // consumer leaves, so it may fence, and a sleeper need not issue a
        // `membarrier` (about 5 us, and an interrupt on every core running
        // this process) for it.
        not_empty: Signal::with_barrier(Barrier::Symmetric),
        not_full: Signal::with_barrier(Barrier::Symmetric),
    });
    (
        Producer {
            shared: Arc::clone(&shared),
        },
        Consumer { shared },
    )
}

/// The top bit of `head` and `tail`: someone sleeps until the next claim on
/// this counter. Positions use the other bits; at a billion claims a second
/// they reach it after 292 years.
const SLEEPERS: usize = 1 << (usize::BITS - 1);

/// Waits for a thread that claimed a position a lap ago to finish with it,
/// the `waited`th time: spins for a few rounds, then yields, since on a
/// machine with fewer cores than threads that thread may be waiting for
/// this core. Returns the next count.
#[inline(never)]
fn wait_for_transit(waited: u32) -> u32 {
    if waited < 4 {
        for _ in 0..1u32 << waited {
            spin_loop();
        }
    } else {
        yield_now();
    }
    waited.saturating_add(1)
}

/// What a claim that finds its first slot a lap behind reports.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Settle {
    /// Nothing only if the queue is full (or empty) at that instant: what a
    /// `try_` call reports to its caller.
    Linearizable,
    /// Nothing at once: for a call that goes on to wait as its strategy
    /// says, which a position in another thread's hands ends as well.
    Waiting,
}

/// Positions claimed by one CAS.
struct Claim {
    first: usize,
    count: usize,
    /// The counter carried [`SLEEPERS`], now cleared: the claimer wakes them
    /// once it has published.
    sleepers: bool,
}

struct Slot<T> {
    /// The position this slot is ready for: `p` to be written, `p + 1` to be read.
    stamp: AtomicUsize,
    value: UnsafeCell<MaybeUninit<T>>,
}

struct Shared<T> {
    /// Next position to pop; consumers claim positions by CAS. Producers
    /// waiting for room mark it with [`SLEEPERS`].
    head: CachePadded<AtomicUsize>,
    /// Next position to push; producers claim positions by CAS. Consumers
    /// waiting for an item mark it with [`SLEEPERS`].
    tail: CachePadded<AtomicUsize>,
    slots: Box<[Slot<T>]>,
    mask: usize,
    producers: AtomicUsize,
    consumers: AtomicUsize,
    strategy: WaitStrategy,
    /// Consumers waiting for an item sleep here (blocking strategy).
    not_empty: Signal,
    /// Producers waiting for room sleep here (blocking strategy).
    not_full: Signal,
}

// SAFETY: a slot's value is touched only by the one thread that claimed its
// position by CAS, between the stamp that granted it (Acquire) and the stamp
// that hands it on (Release); items cross threads, so `T: Send` is required.
unsafe impl<T: Send> Sync for Shared<T> {}
// SAFETY: as above; `Shared` owns its items and drops them on whichever
// thread drops the last end.
unsafe impl<T: Send> Send for Shared<T> {}

impl<T> Shared<T> {
    #[inline]
    fn slot(&self, position: usize) -> &Slot<T> {
        let index = position & self.mask;
        debug_assert!(index < self.slots.len());
        // SAFETY: the slot count is a power of two and `mask` is one less,
        // so the masked index is below it (no bounds check, as in `spsc`).
        unsafe { self.slots.get_unchecked(index) }
    }

    fn laps(&self) -> usize {
        self.slots.len()
    }

    /// Items in the queue at one instant while this ran: claimed pushes
    /// not yet written count in, claimed pops not yet read count out.
    fn len(&self) -> usize {
        loop {
            // SeqCst, as `ArrayQueue` does: a tail read again unchanged means
            // head and tail were both these values at the head's load.
            let tail = self.tail.load(Ordering::SeqCst);
            let head = self.head.load(Ordering::SeqCst);
            if self.tail.load(Ordering::SeqCst) == tail {
                return (tail & !SLEEPERS).wrapping_sub(head & !SLEEPERS).min(self.laps());
            }
        }
    }

    /// Whether the slot for `position` carries the stamp `position + offset`
    /// (Acquire: whatever the stamp's writer did to the slot is visible).
    #[inline]
    fn has_stamp(&self, position: usize, offset: usize) -> bool {
        self.slot(position).stamp.load(Ordering::Acquire) == position.wrapping_add(offset)
    }

    /// Whether a producer at `position` may write its slot: the last lap's
    /// consumer has finished reading it.
    #[inline]
    fn is_free(&self, position: usize) -> bool {
        self.has_stamp(position, 0)
    }

    /// Whether the item for `position` is published, its value visible.
    #[inline]
    fn is_ready(&self, position: usize) -> bool {
        self.has_stamp(position, 1)
    }

    /// Whether the next push would find room, as far as can be seen now.
    fn tail_free(&self) -> bool {
        self.is_free(self.tail.load(Ordering::Relaxed) & !SLEEPERS)
    }

    /// Whether the next pop would find an item, as far as can be seen now.
    fn head_ready(&self) -> bool {
        self.is_ready(self.head.load(Ordering::Relaxed) & !SLEEPERS)
    }

    /// Claims up to `max` consecutive free positions from the tail (none if
    /// the queue is full; see [`claim`](Self::claim) for `settle`).
    #[inline]
    fn claim_free(&self, max: usize, settle: Settle) -> Claim {
        self.claim(&self.tail, 0, max, settle)
    }

    /// Claims up to `max` consecutive published positions from the head
    /// (none if the queue is empty; see [`claim`](Self::claim) for `settle`).
    #[inline]
    fn claim_ready(&self, max: usize, settle: Settle) -> Claim {
        self.claim(&self.head, 1, max, settle)
    }

    /// Claims up to `max` consecutive positions from `counter` whose slots
    /// carry the stamp `position + offset`: 0 for free slots (the tail), 1
    /// for published ones (the head). None if the first slot is still a lap
    /// behind: with [`Settle::Linearizable`] only if the queue is full (or
    /// empty) then, waiting out a position still in another thread's hands.
    #[inline]
    fn claim(&self, counter: &AtomicUsize, offset: usize, max: usize, settle: Settle) -> Claim {
        let mut seen = counter.load(Ordering::Relaxed);
        // Times this claim waited for a position a lap behind.
        let mut in_transit = 0;
        if max == 0 {
            return Claim {
                first: seen & !SLEEPERS,
                count: 0,
                sleepers: false,
            };
        }
        loop {
            let first = seen & !SLEEPERS;
            let mut count = 0;
            while count < max && self.has_stamp(first.wrapping_add(count), offset) {
                count += 1;
            }
            if count == 0 {
                // The slot is a lap behind, or another thread claimed it
                // since we read the counter (then try again). A lap behind,
                // the queue is full (or empty), or a thread on the other side
                // claimed the position a lap ago and is still writing (or
                // reading) it: only the first means there is nothing to
                // claim, and the second is waited out, as `ArrayQueue` does.
                let stamp = self.slot(first).stamp.load(Ordering::Acquire);
                let now = counter.load(Ordering::Relaxed);
                if now & !SLEEPERS == first && stamp.wrapping_sub(first.wrapping_add(offset)) as isize <= 0 {
                    if settle == Settle::Waiting || self.at_limit(first, offset) {
                        return Claim {
                            first,
                            count: 0,
                            sleepers: false,
                        };
                    }
                    in_transit = wait_for_transit(in_transit);
                }
                seen = counter.load(Ordering::Relaxed);
                continue;
            }
            // The new value drops the mark: this claimer wakes its sleepers.
            // SeqCst, as `ArrayQueue`'s claims are: `at_limit`'s fence then
            // sees every claim ordered before it (on x86 the same
            // instruction as Relaxed).
            match counter.compare_exchange_weak(seen, first.wrapping_add(count), Ordering::SeqCst, Ordering::Relaxed) {
                Ok(_) => {
                    return Claim {
                        first,
                        count,
                        sleepers: seen & SLEEPERS != 0,
                    };
                }
                Err(now) => seen = now,
            }
        }
    }

    /// Whether a claim at `first` from the tail (`offset` 0) finds the queue
    /// full, or one from the head (`offset` 1) finds it empty, now.
    #[inline]
    fn at_limit(&self, first: usize, offset: usize) -> bool {
        // SeqCst, as `ArrayQueue` does: with the claims' SeqCst CAS, the
        // other counter read after this fence shows every claim ordered
        // before it, not an older view that would make the queue look full.
        fence(Ordering::SeqCst);
        if offset == 0 {
            first.wrapping_sub(self.head.load(Ordering::Relaxed) & !SLEEPERS) == self.laps()
        } else {
            self.tail.load(Ordering::Relaxed) & !SLEEPERS == first
        }
    }

    /// A consumer about to sleep marks `tail`; returns whether it may sleep
    /// now: no item is claimed that it has not seen. A producer claiming
    /// later sees the mark in its CAS and wakes it.
    fn announce_hungry_consumer(&self) -> bool {
        let tail = self.tail.fetch_or(SLEEPERS, Ordering::Relaxed) & !SLEEPERS;
        tail == self.head.load(Ordering::Relaxed) & !SLEEPERS
    }

    /// A producer about to sleep marks `head`; returns whether it may sleep
    /// now: the queue is full and no consumer is still releasing a slot it
    /// claimed. A consumer claiming later sees the mark and wakes it.
    fn announce_waiting_producer(&self) -> bool {
        let head = self.head.fetch_or(SLEEPERS, Ordering::Relaxed) & !SLEEPERS;
        (self.tail.load(Ordering::Relaxed) & !SLEEPERS).wrapping_sub(head) == self.laps()
    }

    /// Writes `value` at a claimed position and publishes it.
    #[inline]
    fn publish(&self, position: usize, value: T) {
        let slot = self.slot(position);
        // SAFETY: we claimed `position` by CAS while its stamp was `position`:
        // no consumer reads it before we publish, no producer claims it again.
        slot.value.with_mut(|v| unsafe { (*v).write(value) });
        // Release: the write above is visible to the consumer that sees the stamp.
        slot.stamp.store(position.wrapping_add(1), Ordering::Release);
    }

    /// Takes the value at a claimed position and frees the slot for the next lap.
    #[inline]
    fn take(&self, position: usize) -> T {
        let slot = self.slot(position);
        // SAFETY: we claimed `position` by CAS while its stamp was
        // `position + 1` (published, Acquire): the value is initialized and
        // no other consumer claims it.
        let value = slot.value.with_mut(|v| unsafe { (*v).assume_init_read() });
        // Release: our read happens before the next lap's producer writes.
        slot.stamp.store(position.wrapping_add(self.laps()), Ordering::Release);
        value
    }

    /// Wakes the consumers that marked the tail this claim cleared.
    #[inline]
    fn pushed(&self, claim: &Claim) {
        if claim.sleepers {
            self.not_empty.wake_all();
        }
    }

    /// Wakes the producers that marked the head this claim cleared.
    #[inline]
    fn popped(&self, claim: &Claim) {
        if claim.sleepers {
            self.not_full.wake_all();
        }
    }

    fn producers_gone(&self) -> bool {
        self.producers.load(Ordering::Acquire) == 0
    }

    fn consumers_gone(&self) -> bool {
        self.consumers.load(Ordering::Acquire) == 0
    }
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        // Every end is gone: published items from head onward were never
        // popped. Drop each exactly once.
        let mut position = self.head.load(Ordering::Relaxed) & !SLEEPERS;
        while self.slot(position).stamp.load(Ordering::Relaxed) == position.wrapping_add(1) {
            // SAFETY: the stamp says published and unread; we have `&mut self`.
            self.slot(position)
                .value
                .with_mut(|v| unsafe { (*v).assume_init_drop() });
            position = position.wrapping_add(1);
        }
    }
}

/// A pushing end of an MPMC queue. Clone it for more producers.
pub struct Producer<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Producer<T> {
    /// Pushes `value` if there is room now.
    ///
    /// # Errors
    ///
    /// [`PushError::Full`], or [`PushError::Disconnected`] if every consumer
    /// is gone; each hands `value` back.
    #[inline]
    pub fn try_push(&self, value: T) -> Result<(), PushError<T>> {
        self.push_now(value, Settle::Linearizable)
    }

    #[inline]
    fn push_now(&self, value: T, settle: Settle) -> Result<(), PushError<T>> {
        if self.shared.consumers_gone() {
            return Err(PushError::Disconnected(value));
        }
        let claim = self.shared.claim_free(1, settle);
        if claim.count == 0 {
            return Err(PushError::Full(value));
        }
        self.shared.publish(claim.first, value);
        self.shared.pushed(&claim);
        Ok(())
    }

    /// Pushes `value`, waiting for room as the queue's [`WaitStrategy`] says.
    ///
    /// # Errors
    ///
    /// [`PushError::Disconnected`] with `value` if every consumer is gone.
    #[inline]
    pub fn push(&self, value: T) -> Result<(), PushError<T>> {
        self.push_within(value, None)
    }

    /// Pushes `value`, waiting at most `timeout` for room.
    ///
    /// # Errors
    ///
    /// [`PushError::Full`] if there was still no room at the deadline;
    /// [`PushError::Disconnected`] if every consumer is gone.
    #[inline]
    pub fn push_timeout(&self, value: T, timeout: Duration) -> Result<(), PushError<T>> {
        self.push_within(value, Some(timeout))
    }

    /// A push that finds room costs what [`try_push`](Self::try_push) does:
    /// only the wait is out of line. With the wait's loop in the same
    /// function, which was then not inlined, `push` took 25 instructions
    /// more than `try_push` and `pop` 33 more than `try_pop` (callgrind, a
    /// push and pop on one thread: 61 instructions through the `try_`
    /// calls or, now, the waiting ones).
    #[inline]
    fn push_within(&self, value: T, timeout: Option<Duration>) -> Result<(), PushError<T>> {
        match self.push_now(value, Settle::Waiting) {
            Err(PushError::Full(value)) => self.wait_to_push(value, timeout),
            done => done,
        }
    }

    /// The rest of a push that found the queue full: waits for room as the
    /// strategy says, for at most `timeout` from now, then pushes.
    #[inline(never)]
    fn wait_to_push(&self, mut value: T, timeout: Option<Duration>) -> Result<(), PushError<T>> {
        let deadline = timeout.and_then(|timeout| Instant::now().checked_add(timeout));
        let shared = &*self.shared;
        loop {
            let room = shared.strategy.wait_until_announced(
                &shared.not_full,
                || shared.consumers_gone() || shared.tail_free(),
                || shared.announce_waiting_producer(),
                deadline,
            );
            match self.push_now(value, Settle::Waiting) {
                Err(PushError::Full(back)) if room || deadline.is_none() => value = back,
                // Timed out: the answer the caller gets is a linearizable one.
                Err(PushError::Full(back)) => return self.try_push(back),
                other => return other,
            }
        }
    }

    /// Moves items from the front of `items` into the queue while there is
    /// room, claiming them with one CAS; returns how many moved. Items keep
    /// their order; those that did not fit stay in `items`.
    ///
    /// If every consumer is gone, nothing moves and 0 is returned; see
    /// [`is_abandoned`](Self::is_abandoned).
    ///
    /// The same call as [`spsc::Producer::try_push_batch`](crate::spsc::Producer::try_push_batch).
    pub fn try_push_batch(&self, items: &mut Vec<T>) -> usize {
        if items.is_empty() || self.shared.consumers_gone() {
            return 0;
        }
        let claim = self.shared.claim_free(items.len(), Settle::Linearizable);
        for (offset, value) in items.drain(..claim.count).enumerate() {
            self.shared.publish(claim.first.wrapping_add(offset), value);
        }
        self.shared.pushed(&claim);
        claim.count
    }

    /// The number of slots.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.shared.laps()
    }

    /// How many items the queue holds: a snapshot, which other producers
    /// and consumers may change at once.
    #[must_use]
    pub fn len(&self) -> usize {
        self.shared.len()
    }

    /// Whether the queue is empty: a snapshot, as [`len`](Self::len).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the queue is full: a snapshot, as [`len`](Self::len).
    #[must_use]
    pub fn is_full(&self) -> bool {
        self.len() == self.shared.laps()
    }

    /// Whether every consumer is gone: nothing pushed now would be popped.
    #[must_use]
    pub fn is_abandoned(&self) -> bool {
        self.shared.consumers_gone()
    }
}

impl<T> Clone for Producer<T> {
    fn clone(&self) -> Producer<T> {
        self.shared.producers.fetch_add(1, Ordering::Relaxed);
        Producer {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> Drop for Producer<T> {
    fn drop(&mut self) {
        // AcqRel: the last producer's Release covers every producer's items.
        if self.shared.producers.fetch_sub(1, Ordering::AcqRel) == 1 {
            // Waiting consumers must wake to see that no item will come.
            self.shared.not_empty.notify();
        }
    }
}

impl<T> fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("mpmc::Producer")
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}

/// A popping end of an MPMC queue. Clone it for more consumers.
pub struct Consumer<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Consumer<T> {
    /// Pops the oldest item if there is one now.
    ///
    /// # Errors
    ///
    /// [`PopError::Empty`]; or [`PopError::Disconnected`] once every
    /// producer is gone and every item pushed has been popped.
    #[inline]
    pub fn try_pop(&self) -> Result<T, PopError> {
        self.pop_now(Settle::Linearizable)
    }

    #[inline]
    fn pop_now(&self, settle: Settle) -> Result<T, PopError> {
        let claim = self.shared.claim_ready(1, settle);
        if claim.count == 0 {
            return Err(self.why_empty());
        }
        let value = self.shared.take(claim.first);
        self.shared.popped(&claim);
        Ok(value)
    }

    /// Pops the oldest item, waiting for one as the queue's [`WaitStrategy`] says.
    ///
    /// # Errors
    ///
    /// [`PopError::Disconnected`] once every producer is gone and the queue is empty.
    #[inline]
    pub fn pop(&self) -> Result<T, PopError> {
        self.pop_within(None)
    }

    /// Pops the oldest item, waiting at most `timeout` for one.
    ///
    /// # Errors
    ///
    /// [`PopError::Empty`] if none came in time; [`PopError::Disconnected`]
    /// once every producer is gone and the queue is empty.
    #[inline]
    pub fn pop_timeout(&self, timeout: Duration) -> Result<T, PopError> {
        self.pop_within(Some(timeout))
    }

    /// A pop that finds an item costs what [`try_pop`](Self::try_pop)
    /// does; see [`Producer::push_within`].
    #[inline]
    fn pop_within(&self, timeout: Option<Duration>) -> Result<T, PopError> {
        match self.pop_now(Settle::Waiting) {
            Err(PopError::Empty) => self.wait_to_pop(timeout),
            done => done,
        }
    }

    /// The rest of a pop that found the queue empty: waits for an item as
    /// the strategy says, for at most `timeout` from now, then pops.
    #[inline(never)]
    fn wait_to_pop(&self, timeout: Option<Duration>) -> Result<T, PopError> {
        let deadline = timeout.and_then(|timeout| Instant::now().checked_add(timeout));
        let shared = &*self.shared;
        loop {
            let ready = shared.strategy.wait_until_announced(
                &shared.not_empty,
                || shared.producers_gone() || shared.head_ready(),
                || shared.announce_hungry_consumer(),
                deadline,
            );
            match self.pop_now(Settle::Waiting) {
                Err(PopError::Empty) if ready || deadline.is_none() => {}
                // Timed out: the answer the caller gets is a linearizable one.
                Err(PopError::Empty) => return self.try_pop(),
                other => return other,
            }
        }
    }

    /// Pops up to `max` items that are ready now, claiming them with one CAS,
    /// and appends them to `out` in order; returns how many.
    ///
    /// `out` is a `Vec` because a claimed item cannot go back into the
    /// queue: a sink that could refuse some would make them vanish. The
    /// same call as [`spsc::Consumer::try_pop_batch`](crate::spsc::Consumer::try_pop_batch).
    ///
    /// # Errors
    ///
    /// As [`try_pop`](Self::try_pop) when no item is ready.
    ///
    /// # Panics
    ///
    /// If `out` cannot grow (capacity overflow); the claimed items are then
    /// dropped and their slots freed.
    pub fn try_pop_batch(&self, max: usize, out: &mut Vec<T>) -> Result<usize, PopError> {
        let claim = self.shared.claim_ready(max, Settle::Linearizable);
        if claim.count == 0 {
            return if max == 0 { Ok(0) } else { Err(self.why_empty()) };
        }
        // Every claimed item is taken even if growing `out` panics: the guard
        // takes (and drops) what the loop did not reach.
        struct TakeRest<'a, T> {
            shared: &'a Shared<T>,
            next: usize,
            end: usize,
            claim: Claim,
        }
        impl<T> Iterator for TakeRest<'_, T> {
            type Item = T;
            fn next(&mut self) -> Option<T> {
                (self.next != self.end).then(|| {
                    let value = self.shared.take(self.next);
                    self.next = self.next.wrapping_add(1);
                    value
                })
            }
        }
        impl<T> Drop for TakeRest<'_, T> {
            fn drop(&mut self) {
                self.for_each(drop);
                self.shared.popped(&self.claim);
            }
        }
        let claimed = claim.count;
        out.extend(TakeRest {
            shared: &self.shared,
            next: claim.first,
            end: claim.first.wrapping_add(claimed),
            claim,
        });
        Ok(claimed)
    }

    /// The number of slots.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.shared.laps()
    }

    /// How many items the queue holds: a snapshot, which other producers
    /// and consumers may change at once.
    #[must_use]
    pub fn len(&self) -> usize {
        self.shared.len()
    }

    /// Whether the queue is empty: a snapshot, as [`len`](Self::len).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the queue is full: a snapshot, as [`len`](Self::len).
    #[must_use]
    pub fn is_full(&self) -> bool {
        self.len() == self.shared.laps()
    }

    /// Whether every producer is gone; items they pushed may still wait.
    #[must_use]
    pub fn is_abandoned(&self) -> bool {
        self.shared.producers_gone()
    }

    #[cold]
    fn why_empty(&self) -> PopError {
        if !self.shared.producers_gone() {
            return PopError::Empty;
        }
        // Every producer published before it left (Release/Acquire on the
        // count); one more look finds anything they pushed.
        if self.shared.head_ready() {
            PopError::Empty
        } else {
            PopError::Disconnected
        }
    }
}

impl<T> Clone for Consumer<T> {
    fn clone(&self) -> Consumer<T> {
        self.shared.consumers.fetch_add(1, Ordering::Relaxed);
        Consumer {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> Drop for Consumer<T> {
    fn drop(&mut self) {
        if self.shared.consumers.fetch_sub(1, Ordering::AcqRel) == 1 {
            // Waiting producers must wake to hand their items back.
            self.shared.not_full.notify();
        }
    }
}

impl<T> fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("mpmc::Consumer")
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}
