//! A bounded single-producer single-consumer queue: wait-free push and pop,
//! batch writes and reads with one atomic store per batch.
//!
//! Each side keeps its own position and a cached copy of the other side's,
//! and reads the other side's atomic only when the cache says the queue is
//! full (producer) or empty (consumer); in steady state a push or pop touches
//! no shared cache line but the slot itself.
//!
//! A consumer that keeps up with the producer finds its cache empty at every
//! pop. Rather than read the producer's tail then, it reads the stamp that
//! [`Producer::try_push`] leaves in the slot beside the item: the one cache
//! line it must fetch anyway says whether the item is there, where the tail
//! would move a second line between the cores for each item. Batches are
//! published by the tail alone ([`Producer::push_from`] stamps nothing), as
//! one tail read serves a whole batch.
//!
//! A single push publishes by the stamp alone, and leaves the tail as it
//! was: the tail moves with a batch push and when the producer goes. A
//! consumer counting what is ready (for [`Consumer::drain`] or
//! [`Consumer::available`]) reads the tail, then the stamps after it. The
//! producer thus stores into one cache line per item, not two, and the
//! tail's line stays put while a consumer that keeps up looks at it, and a
//! consumer draining single pushes in batches no longer reads a tail that
//! every push moves.
//!
//! The stamp costs 8 bytes a slot: it pays off for readings handed over one
//! by one between cores, and costs a little for small items and batches
//! when both threads share a core's caches.

use std::fmt;
use std::mem::MaybeUninit;
use std::slice;
use std::time::{Duration, Instant};

use crate::cache_padded::CachePadded;
use crate::error::{PopError, PushError};
use crate::sync::{Arc, AtomicBool, AtomicUsize, Ordering, UnsafeCell};
use crate::wait::{Signal, WaitStrategy};

/// Creates a queue holding at most `capacity` items whose waiting calls
/// block ([`WaitStrategy::Blocking`]); returns its two ends.
///
/// # Panics
///
/// If the slots (`capacity` rounded up to a power of two, times the size of
/// `T`) do not fit in memory, as `Vec::with_capacity` does.
///
/// # Examples
///
/// ```
/// use gasbao_ringbuf::spsc;
///
/// let (mut meters, mut billing) = spsc::channel::<u64>(2);
/// meters.try_push(350_125)?;
/// meters.try_push(350_250)?;
/// assert!(meters.try_push(350_375).is_err()); // full: the reading comes back
/// assert_eq!(billing.try_pop()?, 350_125);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn channel<T>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    with_wait_strategy(capacity, WaitStrategy::default())
}

/// Creates a queue whose waiting calls ([`Producer::push`], [`Consumer::pop`]
/// and their timeouts) wait as `strategy` says.
///
/// Only [`WaitStrategy::Blocking`] costs the non-waiting calls anything: a
/// load per push or pop to see whether the other side sleeps, and a fence
/// before it except on Linux, where a sleeper pays for that with
/// `membarrier` (the single producer publishes with a plain store, so there
/// is no read-modify-write a sleeper could mark, as in `mpmc`).
///
/// # Panics
///
/// As [`channel`].
pub fn with_wait_strategy<T>(capacity: usize, strategy: WaitStrategy) -> (Producer<T>, Consumer<T>) {
    // A power-of-two slot count turns "index mod slots" into a mask, and the
    // positions can wrap around `usize` without losing their slot.
    let slots = capacity.checked_next_power_of_two().unwrap_or(usize::MAX).max(1);
    let shared = Arc::new(Shared {
        head: CachePadded::new(AtomicUsize::new(0)),
        tail: CachePadded::new(Tail {
            position: AtomicUsize::new(0),
            stamped_past: AtomicBool::new(false),
        }),
        producer_gone: AtomicBool::new(false),
        strategy,
        not_empty: Signal::new(),
        not_full: Signal::new(),
        consumer_gone: AtomicBool::new(false),
        slots: (0..slots).map(|_| Slot::empty()).collect(),
        mask: slots.wrapping_sub(1),
        capacity,
    });
    let blocking = strategy == WaitStrategy::Blocking;
    let producer = Producer {
        shared: Arc::clone(&shared),
        tail: 0,
        cached_head: 0,
        blocking,
        stamped_past_tail: false,
    };
    let consumer = Consumer {
        shared,
        head: 0,
        cached_tail: 0,
        blocking,
    };
    (producer, consumer)
}

struct Shared<T> {
    /// Position of the next item to pop; written by the consumer only.
    head: CachePadded<AtomicUsize>,
    tail: CachePadded<Tail>,
    producer_gone: AtomicBool,
    consumer_gone: AtomicBool,
    strategy: WaitStrategy,
    /// The consumer sleeps here waiting for an item (blocking strategy).
    not_empty: Signal,
    /// The producer sleeps here waiting for room (blocking strategy).
    not_full: Signal,
    /// Items live at positions `head..tail` (modulo the slot count).
    slots: Box<[Slot<T>]>,
    mask: usize,
    capacity: usize,
}

/// What the producer tells a consumer counting items; written by the
/// producer only, so both share its cache line.
struct Tail {
    /// Position of the next item to push, as of the last batch push (or
    /// the producer's drop): single pushes leave it behind.
    position: AtomicUsize,
    /// Whether single pushes may have stamped items past `position`: set by
    /// the first single push, and never cleared. While it is clear a
    /// consumer trusts the tail alone, and does not read the slot past it,
    /// which a producer pushing only batches is about to write: reading it
    /// there made 1->1 batches of `u64` 0.99x and 0.91x as fast (two A/Bs,
    /// faster in 9 and 5 of 21 rounds). Clearing it at each batch push
    /// made them 0.64x-0.67x as fast, whether in the publishing guard's
    /// drop or after it (three A/Bs; the loop's instructions barely
    /// changed, and why is not known), so a producer that mixes single and
    /// batch pushes keeps paying that look.
    stamped_past: AtomicBool,
}

/// One place in the ring: an item and the stamp saying which position it holds.
struct Slot<T> {
    /// `position + 1` (wrapping) once a single push has written the item for
    /// `position`; 0 before the first. A batch push leaves it as it was. A
    /// stamp from an earlier lap is a multiple of the slot count short, so it
    /// never matches the position the consumer looks for.
    stamp: AtomicUsize,
    value: UnsafeCell<MaybeUninit<T>>,
}

impl<T> Slot<T> {
    fn empty() -> Slot<T> {
        Slot {
            stamp: AtomicUsize::new(0),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// Whether a single push has stamped this slot for `position`: its item
    /// is there.
    #[inline]
    fn is_stamped_for(&self, position: usize) -> bool {
        // Acquire: the producer's write of the item is visible.
        self.stamp.load(Ordering::Acquire) == position.wrapping_add(1)
    }
}

// SAFETY: the slots are only reached through `Producer` (positions not yet
// published) and `Consumer` (positions published and not yet released), and
// the head/tail protocol keeps those sets disjoint; items cross threads, so
// `T: Send` is required.
unsafe impl<T: Send> Sync for Shared<T> {}
// SAFETY: as above; `Shared` owns its items and drops them on whichever
// thread drops the last end.
unsafe impl<T: Send> Send for Shared<T> {}

/// The slots and the mask that maps a position to one, copied out of
/// [`Shared`]. A loop that writes items keeps these in registers: through
/// `&Shared` the compiler must assume that a write into a slot's
/// `UnsafeCell` could change `mask` or the slots' address, and reloaded
/// both for every item of a batch push.
struct Ring<'a, T> {
    slots: &'a [Slot<T>],
    mask: usize,
}

// Not derived: the derive would require `T: Copy`.
impl<T> Clone for Ring<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Ring<'_, T> {}

impl<'a, T> Ring<'a, T> {
    /// The slots of positions `start..start + count` (`count` at most the
    /// slot count) as two runs in memory: up to the end of the ring, then
    /// from its start (empty unless the positions wrap). A batch loop walks
    /// a run by pointer, with no mask or index per item: one thread's push
    /// and pop of 32 `u64` in a batch took 451 instructions this way, 554
    /// by masking each position (callgrind).
    #[inline]
    fn runs(self, start: usize, count: usize) -> (&'a [Slot<T>], &'a [Slot<T>]) {
        let (ring_start, ring_end) = self.slots.split_at(start & self.mask);
        let up_to_end = count.min(ring_end.len());
        (&ring_end[..up_to_end], &ring_start[..count - up_to_end])
    }

    #[inline]
    fn slot(self, position: usize) -> &'a Slot<T> {
        let index = position & self.mask;
        debug_assert!(index < self.slots.len());
        // SAFETY: the slot count is a power of two and `mask` is one less
        // (both set once, in `with_wait_strategy`), so the masked index is
        // below it. Skipping the bounds check lets the batch loops unroll:
        // measured, a push and pop in batches of 32 on one thread went from
        // 1.32 to 0.78 ns per item.
        unsafe { self.slots.get_unchecked(index) }
    }
}

impl<T> Shared<T> {
    #[inline]
    fn ring(&self) -> Ring<'_, T> {
        Ring {
            slots: &self.slots,
            mask: self.mask,
        }
    }

    #[inline]
    fn slot(&self, position: usize) -> &Slot<T> {
        self.ring().slot(position)
    }

    /// How many items from position `head` on the tail shows published.
    fn published_by_tail(&self, head: usize) -> usize {
        // Acquire: the producer's writes to the slots it published are visible.
        let ready = self.tail.position.load(Ordering::Acquire).wrapping_sub(head);
        // Single pushes do not move the tail, so pops that went by their
        // stamps leave `head` past it: then none is known to be ready (a
        // count above the capacity is that wrap-around).
        if ready > self.capacity { 0 } else { ready }
    }

    /// How many items from position `head` on are published, counting by
    /// the tail (batch pushes), then by the stamps after it (single pushes,
    /// which leave the tail behind) while fewer than `wanted` are known.
    fn published(&self, head: usize, wanted: usize) -> usize {
        let mut ready = self.published_by_tail(head);
        // Relaxed: a stale answer only undercounts, and each stamp is read
        // with Acquire.
        if ready >= wanted || !self.tail.stamped_past.load(Ordering::Relaxed) {
            return ready;
        }
        let ring = self.ring();
        // Ends within a capacity of `head` whatever `wanted` is: the
        // producer stamps no position that far ahead until the consumer
        // frees a slot.
        while ready < wanted
            && ring
                .slot(head.wrapping_add(ready))
                .is_stamped_for(head.wrapping_add(ready))
        {
            ready += 1;
        }
        ready
    }

    /// Whether the item for position `head` is published, by its stamp or
    /// by the tail.
    fn is_published(&self, head: usize) -> bool {
        self.slot(head).is_stamped_for(head) || self.published_by_tail(head) > 0
    }
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        // Both ends are gone: items at `head..tail` were pushed and never
        // popped. Drop each exactly once.
        let tail = self.tail.position.load(Ordering::Relaxed);
        let mut head = self.head.load(Ordering::Relaxed);
        while head != tail {
            // SAFETY: positions `head..tail` hold initialized items that no
            // one else can reach any more (we have `&mut self`).
            self.slot(head)
                .value
                .with_mut(|slot| unsafe { (*slot).assume_init_drop() });
            head = head.wrapping_add(1);
        }
    }
}

/// The pushing end of an SPSC queue. `Send` (if `T` is), not `Clone`.
pub struct Producer<T> {
    shared: Arc<Shared<T>>,
    /// Our copy of `shared.tail`: we are its only writer.
    tail: usize,
    /// The consumer's head as last seen; the queue holds at most
    /// `tail - cached_head` items.
    cached_head: usize,
    /// Whether the strategy is blocking, so that a push looks for a sleeping
    /// consumer. A copy of `shared.strategy` kept at hand: reading it
    /// through `shared` on each push measured 20-30% slower handoffs of
    /// 48-byte readings between two threads.
    blocking: bool,
    /// Our copy of `shared.tail.stamped_past`, so that only the first
    /// single push stores it.
    stamped_past_tail: bool,
}

impl<T> Producer<T> {
    /// Pushes `value` if there is room.
    ///
    /// # Errors
    ///
    /// [`PushError::Full`] or [`PushError::Disconnected`] (the consumer is
    /// gone), each with `value` handed back.
    #[inline]
    pub fn try_push(&mut self, value: T) -> Result<(), PushError<T>> {
        if self.shared.consumer_gone.load(Ordering::Relaxed) {
            return Err(PushError::Disconnected(value));
        }
        if self.writable() == 0 {
            return Err(PushError::Full(value));
        }
        self.publish(value);
        Ok(())
    }

    /// Pushes the item `make` returns if there is room, calling `make` only
    /// then, so that the item is built straight into its slot.
    ///
    /// For large items (a meter reading of 48 bytes and up) this saves
    /// moving the item in and out of an error while the queue is full: a
    /// refused `make` is handed back unrun, and the caller retries with it.
    ///
    /// # Errors
    ///
    /// [`PushError::Full`] or [`PushError::Disconnected`] (the consumer is
    /// gone), each with `make` handed back unrun.
    ///
    /// # Examples
    ///
    /// ```
    /// use gasbao_ringbuf::spsc;
    ///
    /// let (mut meters, mut billing) = spsc::channel::<[u64; 6]>(1);
    /// meters.try_push_with(|| [42, 350_125, 18_500, 101_325, 0, 1])?;
    /// let refused = meters.try_push_with(|| [42, 350_250, 18_500, 101_325, 0, 2]);
    /// assert!(refused.is_err()); // full: the closure comes back, never called
    /// assert_eq!(billing.try_pop()?[1], 350_125);
    /// meters.try_push_with(refused.unwrap_err().into_inner())?;
    /// assert_eq!(billing.try_pop()?[5], 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn try_push_with<F: FnOnce() -> T>(&mut self, make: F) -> Result<(), PushError<F>> {
        if self.shared.consumer_gone.load(Ordering::Relaxed) {
            return Err(PushError::Disconnected(make));
        }
        if self.writable() == 0 {
            return Err(PushError::Full(make));
        }
        // If `make` panics, nothing was written and nothing is published.
        self.publish(make());
        Ok(())
    }

    /// Writes `value` at the tail and publishes it. The caller has seen
    /// `writable() > 0`.
    #[inline]
    fn publish(&mut self, value: T) {
        let slot = self.shared.slot(self.tail);
        // SAFETY: the caller saw `writable() > 0`, so the slot at `tail` is
        // outside `head..tail`: the consumer does not read it until we
        // publish it.
        slot.value.with_mut(|slot| unsafe { (*slot).write(value) });
        self.tail = self.tail.wrapping_add(1);
        // Release: the write above is visible to a consumer that sees the
        // stamp. The shared tail stays behind (see the module docs).
        slot.stamp.store(self.tail, Ordering::Release);
        if !self.stamped_past_tail {
            self.stamped_past_tail = true;
            self.shared.tail.stamped_past.store(true, Ordering::Relaxed);
        }
        if self.blocking {
            self.shared.not_empty.notify();
        }
    }

    /// Pushes `value`, waiting for room as the queue's [`WaitStrategy`] says.
    ///
    /// # Errors
    ///
    /// [`PushError::Disconnected`] with `value` if the consumer is gone.
    #[inline]
    pub fn push(&mut self, value: T) -> Result<(), PushError<T>> {
        self.push_within(value, None)
    }

    /// Pushes `value`, waiting at most `timeout` for room.
    ///
    /// # Errors
    ///
    /// [`PushError::Full`] if there was still no room at the deadline;
    /// [`PushError::Disconnected`] if the consumer is gone.
    #[inline]
    pub fn push_timeout(&mut self, value: T, timeout: Duration) -> Result<(), PushError<T>> {
        self.push_within(value, Some(timeout))
    }

    /// A push that finds room costs what [`try_push`](Self::try_push) does:
    /// only the wait is out of line. With the wait's loop in the same
    /// function, that function was not inlined, and each call saved and
    /// restored six registers and returned its result through memory:
    /// `push` took 24 instructions more than `try_push` and `pop` 30 more
    /// than `try_pop` (callgrind), and a pinned 1->1 handoff through them
    /// took 13.9-15.9 ns an item against 5.0-6.5 ns through the `try_`
    /// calls (6.1-8.0 ns since).
    #[inline]
    fn push_within(&mut self, value: T, timeout: Option<Duration>) -> Result<(), PushError<T>> {
        match self.try_push(value) {
            Err(PushError::Full(value)) => self.wait_to_push(value, timeout),
            done => done,
        }
    }

    /// The rest of a push that found the queue full: waits for room as the
    /// strategy says, for at most `timeout` from now, then pushes.
    #[inline(never)]
    fn wait_to_push(&mut self, mut value: T, timeout: Option<Duration>) -> Result<(), PushError<T>> {
        let deadline = timeout.and_then(|timeout| Instant::now().checked_add(timeout));
        loop {
            let shared = &*self.shared;
            let tail = self.tail;
            let room = shared.strategy.wait_until(
                &shared.not_full,
                || {
                    shared.consumer_gone.load(Ordering::Acquire)
                        || shared
                            .capacity
                            .wrapping_sub(tail.wrapping_sub(shared.head.load(Ordering::Acquire)))
                            > 0
                },
                deadline,
            );
            match self.try_push(value) {
                Err(PushError::Full(back)) if room || deadline.is_none() => value = back,
                other => return other,
            }
        }
    }

    /// Pushes items from `items` while there is room, publishing them all
    /// with one atomic store; returns how many were pushed. Items the queue
    /// had no room for stay in the iterator.
    ///
    /// If the consumer is gone, nothing is pushed and 0 is returned; see
    /// [`is_abandoned`](Self::is_abandoned).
    //
    // Always inlined: out of line, the caller's iterator lives in memory
    // and each item stores its state back (a batch of 32 `u64` pushed and
    // popped took 555 instructions against 451 inlined, callgrind), and
    // with its loop for each run `push_from` is too large for `#[inline]`
    // to take.
    #[inline(always)]
    pub fn push_from<I: Iterator<Item = T>>(&mut self, items: &mut I) -> usize {
        if self.shared.consumer_gone.load(Ordering::Relaxed) {
            return 0;
        }
        self.write_from(items)
    }

    /// Moves items from the front of `items` into the queue while there is
    /// room, publishing them with one atomic store; returns how many moved.
    /// Items keep their order; those that did not fit stay in `items`. The
    /// same call as [`mpmc::Producer::try_push_batch`](crate::mpmc::Producer::try_push_batch).
    ///
    /// If the consumer is gone, nothing moves and 0 is returned; see
    /// [`is_abandoned`](Self::is_abandoned).
    ///
    /// # Examples
    ///
    /// ```
    /// use gasbao_ringbuf::spsc;
    ///
    /// let (mut meters, mut billing) = spsc::channel::<u32>(4);
    /// let mut readings = vec![350, 351, 352, 353, 354, 355];
    /// assert_eq!(meters.try_push_batch(&mut readings), 4);
    /// assert_eq!(readings, [354, 355]); // no room: they stay with the caller
    ///
    /// let mut bill = Vec::new();
    /// assert_eq!(billing.try_pop_batch(3, &mut bill), Ok(3));
    /// assert_eq!(bill, [350, 351, 352]);
    /// ```
    pub fn try_push_batch(&mut self, items: &mut Vec<T>) -> usize {
        if items.is_empty() || self.shared.consumer_gone.load(Ordering::Relaxed) {
            return 0;
        }
        let count = self.writable_for(items.len()).min(items.len());
        // `count` items for at least `count` free slots: every one drained is written.
        self.write_from(&mut items.drain(..count))
    }

    /// [`push_from`](Self::push_from) without the look at the consumer.
    #[inline(always)]
    fn write_from<I: Iterator<Item = T>>(&mut self, items: &mut I) -> usize {
        // The cached head answers only when it already shows room for every
        // item; otherwise the consumer may have freed more than it shows.
        let room = match items.size_hint().1 {
            Some(most) => self.writable_for(most),
            None => self.free(),
        };
        // Publishes what was written even if `items` panics midway, so that
        // every written item is later popped or dropped, never leaked.
        struct Publish<'a, T> {
            shared: &'a Shared<T>,
            tail: &'a mut usize,
            written: usize,
            blocking: bool,
        }
        impl<T> Drop for Publish<'_, T> {
            fn drop(&mut self) {
                *self.tail = self.tail.wrapping_add(self.written);
                self.shared.tail.position.store(*self.tail, Ordering::Release);
                if self.blocking && self.written > 0 {
                    self.shared.not_empty.notify();
                }
            }
        }
        let (first, second) = self.shared.ring().runs(self.tail, room);
        let mut publish = Publish {
            shared: &self.shared,
            tail: &mut self.tail,
            written: 0,
            blocking: self.blocking,
        };
        for run in [first, second] {
            // `zip` asks the slots first, so no item is taken without a slot.
            for (slot, value) in run.iter().zip(items.by_ref()) {
                // SAFETY: the runs hold the `room` positions from the tail
                // on, which are free and unpublished.
                slot.value.with_mut(|slot| unsafe { (*slot).write(value) });
                publish.written += 1;
            }
            if publish.written < run.len() {
                // `items` ran out: asked again, it might not stay empty.
                break;
            }
        }
        publish.written
    }

    /// How many more items fit now (the consumer may free more at any time).
    pub fn free(&mut self) -> usize {
        // Acquire: the consumer has finished reading the slots it released.
        self.cached_head = self.shared.head.load(Ordering::Acquire);
        self.shared
            .capacity
            .wrapping_sub(self.tail.wrapping_sub(self.cached_head))
    }

    /// Room for at least one item if there is any, from the cached head when
    /// it shows room, so that a push in steady state reads no shared counter.
    #[inline]
    fn writable(&mut self) -> usize {
        self.writable_for(1)
    }

    /// The room there is now, or at least `wanted`: the cached head answers
    /// when it shows that much room, and the consumer's head is read otherwise.
    #[inline]
    fn writable_for(&mut self, wanted: usize) -> usize {
        let free = self
            .shared
            .capacity
            .wrapping_sub(self.tail.wrapping_sub(self.cached_head));
        if free >= wanted {
            return free;
        }
        self.free()
    }

    /// The most items the queue holds.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// Whether the consumer is gone: nothing pushed now would be popped.
    #[must_use]
    pub fn is_abandoned(&self) -> bool {
        self.shared.consumer_gone.load(Ordering::Acquire)
    }
}

impl<T> Drop for Producer<T> {
    fn drop(&mut self) {
        // The tail catches up with the single pushes, so that the last
        // owner of `Shared` knows which slots hold items to drop.
        self.shared.tail.position.store(self.tail, Ordering::Release);
        // Release: a consumer that sees this also sees every item published.
        self.shared.producer_gone.store(true, Ordering::Release);
        // Whatever the strategy: a sleeping consumer must learn of it.
        self.shared.not_empty.notify();
    }
}

impl<T> fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("capacity", &self.shared.capacity)
            .field("tail", &self.tail)
            .finish_non_exhaustive()
    }
}

/// The popping end of an SPSC queue. `Send` (if `T` is), not `Clone`.
pub struct Consumer<T> {
    shared: Arc<Shared<T>>,
    /// Our copy of `shared.head`: we are its only writer.
    head: usize,
    /// The producer's tail as last seen: items up to it are readable.
    cached_tail: usize,
    /// Whether a pop looks for a sleeping producer; see `Producer::blocking`.
    blocking: bool,
}

impl<T> Consumer<T> {
    /// Pops the oldest item.
    ///
    /// # Errors
    ///
    /// [`PopError::Empty`]; or [`PopError::Disconnected`] once the producer
    /// is gone and every item it pushed has been popped.
    #[inline]
    pub fn try_pop(&mut self) -> Result<T, PopError> {
        let head = self.head;
        // The slot is found once, before any atomic load: the compiler does
        // not carry loads across an Acquire, so finding it again after the
        // stamp's load cost 4 more instructions a push and pop (46 against
        // 50 by callgrind; the disruptor's publish and poll take 53).
        let shared = &*self.shared;
        let slot = shared.slot(head);
        if self.cached_tail == head {
            // The cached tail is used up. In steady state the slot's stamp
            // says the item is there, read from the line the item is read
            // from anyway, so no shared counter is read.
            if slot.is_stamped_for(head) {
                // Keeps `cached_tail` at or past `head`, which the other counts need.
                self.cached_tail = head.wrapping_add(1);
            } else if Self::refresh_cached_tail(shared, head, 0, &mut self.cached_tail) == 0 {
                // No stamps wanted: the one at `head` was just read, so only
                // a batch push's tail can show an item.
                return Err(self.why_empty());
            }
        }
        // SAFETY: the item at `head` is published (the cached tail, the
        // stamp or the tail says so, each read with Acquire) and is ours
        // until we release it.
        let value = slot.value.with_mut(|slot| unsafe { (*slot).assume_init_read() });
        self.head = head.wrapping_add(1);
        // Release: our read of the slot happens before the producer reuses it.
        shared.head.store(self.head, Ordering::Release);
        if self.blocking {
            shared.not_full.notify();
        }
        Ok(value)
    }

    /// Pops the oldest item, waiting for one as the queue's [`WaitStrategy`] says.
    ///
    /// # Errors
    ///
    /// [`PopError::Disconnected`] once the producer is gone and the queue is empty.
    #[inline]
    pub fn pop(&mut self) -> Result<T, PopError> {
        self.pop_within(None)
    }

    /// Pops the oldest item, waiting at most `timeout` for one.
    ///
    /// # Errors
    ///
    /// [`PopError::Empty`] if none came in time; [`PopError::Disconnected`]
    /// once the producer is gone and the queue is empty.
    #[inline]
    pub fn pop_timeout(&mut self, timeout: Duration) -> Result<T, PopError> {
        self.pop_within(Some(timeout))
    }

    /// A pop that finds an item costs what [`try_pop`](Self::try_pop)
    /// does; see [`Producer::push_within`].
    #[inline]
    fn pop_within(&mut self, timeout: Option<Duration>) -> Result<T, PopError> {
        match self.try_pop() {
            Err(PopError::Empty) => self.wait_to_pop(timeout),
            done => done,
        }
    }

    /// The rest of a pop that found the queue empty: waits for an item as
    /// the strategy says, for at most `timeout` from now, then pops.
    #[inline(never)]
    fn wait_to_pop(&mut self, timeout: Option<Duration>) -> Result<T, PopError> {
        let deadline = timeout.and_then(|timeout| Instant::now().checked_add(timeout));
        loop {
            let shared = &*self.shared;
            let head = self.head;
            let ready = shared.strategy.wait_until(
                &shared.not_empty,
                || shared.producer_gone.load(Ordering::Acquire) || shared.is_published(head),
                deadline,
            );
            match self.try_pop() {
                Err(PopError::Empty) if ready || deadline.is_none() => {}
                other => return other,
            }
        }
    }

    /// Pops up to `max` items through an iterator that releases their slots
    /// with one atomic store when it is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use gasbao_ringbuf::spsc;
    ///
    /// let (mut meters, mut billing) = spsc::channel::<u32>(64);
    /// assert_eq!(meters.push_from(&mut (1..=40)), 40);
    /// let total: u32 = billing.drain(32).sum();
    /// assert_eq!(total, (1..=32).sum());
    /// assert_eq!(billing.drain(usize::MAX).count(), 8);
    /// ```
    #[inline]
    pub fn drain(&mut self, max: usize) -> Drain<'_, T> {
        let count = self.readable_for(max).min(max);
        let start = self.head;
        let (run, wrapped) = self.shared.ring().runs(start, count);
        Drain {
            shared: &self.shared,
            head: &mut self.head,
            start,
            run: run.iter(),
            wrapped: wrapped.len(),
            count,
            blocking: self.blocking,
        }
    }

    /// Pops up to `max` items that are ready now, releasing their slots with
    /// one atomic store, and appends them to `out` in order; returns how
    /// many. The same call as [`mpmc::Consumer::try_pop_batch`](crate::mpmc::Consumer::try_pop_batch);
    /// [`drain`](Self::drain) hands the items out without a `Vec`.
    ///
    /// # Errors
    ///
    /// As [`try_pop`](Self::try_pop) when no item is ready and `max` is not 0.
    ///
    /// # Panics
    ///
    /// If `out` cannot grow (capacity overflow); the items not yet moved
    /// stay in the queue.
    pub fn try_pop_batch(&mut self, max: usize, out: &mut Vec<T>) -> Result<usize, PopError> {
        let batch = self.drain(max);
        let count = batch.len();
        if count == 0 {
            drop(batch);
            return if max == 0 { Ok(0) } else { Err(self.why_empty()) };
        }
        out.reserve(count);
        // `for_each` walks each run in a loop of its own (`Drain::fold`);
        // `extend` would call `next` for each item.
        batch.for_each(|value| out.push(value));
        Ok(count)
    }

    /// The oldest item, left in the queue: `None` if none is ready now.
    ///
    /// # Examples
    ///
    /// ```
    /// use gasbao_ringbuf::spsc;
    ///
    /// let (mut meters, mut billing) = spsc::channel::<u32>(4);
    /// assert_eq!(billing.peek(), None);
    /// meters.try_push(350).unwrap();
    /// assert_eq!(billing.peek(), Some(&350));
    /// assert_eq!(billing.try_pop(), Ok(350));
    /// ```
    pub fn peek(&mut self) -> Option<&T> {
        if self.readable_for(1) == 0 {
            return None;
        }
        let slot = self.shared.slot(self.head);
        // SAFETY: the item at `head` is published (counted with Acquire
        // loads) and stays in its slot until a pop, which the borrow of
        // `self` rules out while the reference lives.
        Some(slot.value.with_mut(|value| unsafe { (*value).assume_init_ref() }))
    }

    /// How many items can be popped now (the producer may add more at any time).
    pub fn available(&mut self) -> usize {
        Self::refresh_cached_tail(&self.shared, self.head, usize::MAX, &mut self.cached_tail)
    }

    /// Counts the published items from `head` on into `cached_tail`, by
    /// the producer's tail and then, while fewer than `wanted` are known,
    /// by the stamps after it; returns the count. Takes the fields, not
    /// `&mut self`, so that `try_pop` can call it while it holds its slot.
    #[inline]
    fn refresh_cached_tail(shared: &Shared<T>, head: usize, wanted: usize, cached_tail: &mut usize) -> usize {
        let ready = shared.published(head, wanted);
        *cached_tail = head.wrapping_add(ready);
        ready
    }

    /// The items readable now, or at least `wanted`: the cached tail answers
    /// when it shows that many, and the producer's tail and the stamps are
    /// read otherwise.
    #[inline]
    fn readable_for(&mut self, wanted: usize) -> usize {
        let available = self.cached_tail.wrapping_sub(self.head);
        if available >= wanted {
            return available;
        }
        Self::refresh_cached_tail(&self.shared, self.head, wanted, &mut self.cached_tail)
    }

    /// The most items the queue holds.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// Whether the producer is gone; items it pushed may still wait.
    #[must_use]
    pub fn is_abandoned(&self) -> bool {
        self.shared.producer_gone.load(Ordering::Acquire)
    }

    #[cold]
    fn why_empty(&mut self) -> PopError {
        if !self.shared.producer_gone.load(Ordering::Acquire) {
            return PopError::Empty;
        }
        // The producer is gone; its last items were published before it said
        // so (Release/Acquire on `producer_gone`), so one more look finds them.
        if self.available() > 0 {
            PopError::Empty
        } else {
            PopError::Disconnected
        }
    }
}

impl<T> Drop for Consumer<T> {
    fn drop(&mut self) {
        // A forgotten drain moved our head past items it handed out, which
        // the shared head still counts as queued: the queue's own drop must
        // not drop them again.
        self.shared.head.store(self.head, Ordering::Release);
        self.shared.consumer_gone.store(true, Ordering::Release);
        self.shared.not_full.notify();
    }
}

impl<T> fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("capacity", &self.shared.capacity)
            .field("head", &self.head)
            .finish_non_exhaustive()
    }
}

/// Items popped in one batch; see [`Consumer::drain`]. Dropping it releases
/// the slots of the items taken so far; the rest stay in the queue.
///
/// Forgetting it (`mem::forget`) is safe: the consumer's next pop or drain
/// goes on after the items it handed out, and releases their slots.
pub struct Drain<'a, T> {
    shared: &'a Shared<T>,
    /// The consumer's head, moved past each item as it is handed out, so
    /// that no item can be handed out twice even if the drain is forgotten;
    /// the shared head follows when the drain is dropped.
    head: &'a mut usize,
    /// The position of the drain's first item.
    start: usize,
    /// The slots of the items not yet taken, up to the end of the ring.
    run: slice::Iter<'a, Slot<T>>,
    /// How many more items wait at the start of the ring once `run` is
    /// used up (the positions wrap there).
    wrapped: usize,
    /// How many items the drain holds, taken or not.
    count: usize,
    /// The consumer's `blocking`: whether releasing slots looks for a
    /// sleeping producer.
    blocking: bool,
}

impl<T> Drain<'_, T> {
    fn left(&self) -> usize {
        self.run.len() + self.wrapped
    }

    /// Moves on to the slots at the start of the ring, if the drain's
    /// positions wrap there and `run` is used up; returns whether it did.
    #[inline]
    fn start_wrapped_run(&mut self) -> bool {
        if self.wrapped == 0 {
            return false;
        }
        self.run = self.shared.slots[..self.wrapped].iter();
        self.wrapped = 0;
        true
    }
}

/// Moves the item out of `slot`.
///
/// # Safety
///
/// `slot` is one of a drain's slots, which hold items published (`drain`
/// counted them with Acquire loads) and not yet released, and its
/// iterator has just moved past it, so that no one takes it again.
#[inline]
unsafe fn take<T>(slot: &Slot<T>) -> T {
    // SAFETY: the caller's promise.
    slot.value.with_mut(|slot| unsafe { (*slot).assume_init_read() })
}

impl<T> Iterator for Drain<'_, T> {
    type Item = T;

    #[inline]
    fn next(&mut self) -> Option<T> {
        let slot = match self.run.next() {
            Some(slot) => slot,
            None if self.start_wrapped_run() => self.run.next()?,
            None => return None,
        };
        *self.head = self.head.wrapping_add(1);
        // SAFETY: a slot of this drain, just passed.
        Some(unsafe { take(slot) })
    }

    /// Walks each run in a loop of its own, without the test for the wrap
    /// that `next` makes at every item (`sum`, `for_each` and most adapters
    /// come here). A panicking `f` leaves the runs past what it was given.
    /// The consumer's head is left to `drop`, which runs here even if `f`
    /// panics: a drain moved into `fold` can no longer be forgotten.
    #[inline]
    fn fold<B, F: FnMut(B, T) -> B>(mut self, init: B, mut f: F) -> B {
        let mut acc = init;
        loop {
            for slot in self.run.by_ref() {
                // SAFETY: a slot of this drain, just passed.
                acc = f(acc, unsafe { take(slot) });
            }
            if !self.start_wrapped_run() {
                return acc;
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.left();
        (left, Some(left))
    }
}

impl<T> ExactSizeIterator for Drain<'_, T> {}

impl<T> Drop for Drain<'_, T> {
    fn drop(&mut self) {
        let read = self.count - self.left();
        *self.head = self.start.wrapping_add(read);
        self.shared.head.store(*self.head, Ordering::Release);
        if self.blocking && read > 0 {
            self.shared.not_full.notify();
        }
    }
}

impl<T> fmt::Debug for Drain<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Drain")
            .field("left", &self.left())
            .finish_non_exhaustive()
    }
}
