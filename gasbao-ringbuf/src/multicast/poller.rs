//! A consumer that runs on the caller's thread: the caller asks for the
//! events that are ready, when it chooses, instead of a thread the ring
//! spawns waiting for them.

use std::fmt;
use std::time::{Duration, Instant};

use crate::error::PopError;
use crate::sync::{Arc, Ordering};

use super::consumer::{self, Ready};
use super::ring::Ring;

/// A consumer of a multicast ring that the caller drives: each poll hands
/// the events ready now, as one batch, to a handler shaped like a
/// [`consumer`](super::Builder::consumer)'s. Made by
/// [`Builder::poller`](super::Builder::poller), taken from
/// [`Consumers::take_poller`](super::Consumers::take_poller) once the ring
/// is built.
///
/// It is a consumer like any other: producers do not lap it, consumers that
/// depend on it wait for it. Poll it until it reports
/// [`PopError::Disconnected`]; dropping it before then halts the ring, as a
/// panicking handler does, because the events it has not handled could
/// never reach the consumers after it. A handler that panics halts the ring
/// too. `Send`, not `Clone`.
///
/// # Examples
///
/// Billing on the caller's thread, after validation on the ring's own:
///
/// ```
/// use gasbao_ringbuf::PopError;
/// use gasbao_ringbuf::multicast::Builder;
///
/// let mut builder = Builder::new(64, || 0u64);
/// let validate = builder.exclusive_consumer("validate", &[], |milli_m3: &mut u64, _seq, _end| {
///     *milli_m3 = (*milli_m3).min(1_000_000);
/// });
/// let bill = builder.poller("bill", &[validate]);
/// let (mut producer, mut consumers) = builder.build_single_producer()?;
/// let mut bill = consumers.take_poller(bill).expect("a poller, taken once");
///
/// for milli_m3 in [1_500, 2_000_000, 250] {
///     producer.publish(move |event| *event = milli_m3)?;
/// }
/// drop(producer);
/// let mut billed = 0;
/// loop {
///     match bill.poll(|milli_m3: &u64, _seq, _end_of_batch| billed += milli_m3) {
///         Ok(_handled) => {}
///         Err(PopError::Disconnected) => break, // every event handled
///         Err(other) => return Err(other.into()),
///     }
/// }
/// assert_eq!(billed, 1_500 + 1_000_000 + 250);
/// consumers.join()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Poller<E> {
    ring: Arc<Ring<E>>,
    me: usize,
    /// Registered with [`Builder::exclusive_poller`](super::Builder::exclusive_poller):
    /// taken as an [`ExclusivePoller`].
    pub(super) exclusive: bool,
    /// The next sequence to handle; the ring's copy follows each batch.
    next: u64,
    /// Whether this poller is finished: it saw the end, or a handler panicked.
    ended: bool,
    #[cfg(feature = "tracing")]
    _stopped: super::stopped::Report<E>,
}

impl<E> Poller<E> {
    pub(crate) fn new(
        ring: Arc<Ring<E>>,
        me: usize,
        exclusive: bool,
        #[allow(unused_variables)] name: String,
    ) -> Poller<E> {
        Poller {
            #[cfg(feature = "tracing")]
            _stopped: super::stopped::Report {
                ring: Arc::clone(&ring),
                name,
            },
            ring,
            me,
            exclusive,
            next: 0,
            ended: false,
        }
    }

    /// Hands every event ready now to `handler`, as one batch; returns how
    /// many it handled. `handler` gets the event, its sequence, and whether
    /// it is the last of the batch.
    ///
    /// # Errors
    ///
    /// [`PopError::Empty`] if no event is ready; [`PopError::Disconnected`]
    /// once none will come: every producer (or every consumer this one
    /// depends on) is gone and every event is handled, or the ring halted.
    ///
    /// # Panics
    ///
    /// If `handler` panics; the ring then halts.
    #[inline]
    pub fn try_poll(&mut self, mut handler: impl FnMut(&E, u64, bool)) -> Result<usize, PopError> {
        self.poll_events(Wait::No, |event, sequence, end| {
            // SAFETY: a shared poll gets only events published and handled by
            // every consumer it depends on, which no one writes until it and
            // those after it are past them (no exclusive consumer runs beside it).
            handler(unsafe { &*event }, sequence, end)
        })
    }

    /// As [`try_poll`](Self::try_poll), waiting for an event as the ring's
    /// [`WaitStrategy`](crate::WaitStrategy) says when none is ready.
    ///
    /// # Errors
    ///
    /// [`PopError::Disconnected`] once none will come.
    ///
    /// # Panics
    ///
    /// If `handler` panics; the ring then halts.
    pub fn poll(&mut self, mut handler: impl FnMut(&E, u64, bool)) -> Result<usize, PopError> {
        self.poll_events(Wait::Forever, |event, sequence, end| {
            // SAFETY: a shared poll gets only events published and handled by
            // every consumer it depends on, which no one writes until it and
            // those after it are past them (no exclusive consumer runs beside it).
            handler(unsafe { &*event }, sequence, end)
        })
    }

    /// As [`poll`](Self::poll), waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`PopError::Empty`] if no event came in time; [`PopError::Disconnected`]
    /// once none will come.
    ///
    /// # Panics
    ///
    /// If `handler` panics; the ring then halts.
    pub fn poll_timeout(
        &mut self,
        timeout: Duration,
        mut handler: impl FnMut(&E, u64, bool),
    ) -> Result<usize, PopError> {
        let wait = Wait::Until(Instant::now().checked_add(timeout));
        self.poll_events(wait, |event, sequence, end| {
            // SAFETY: a shared poll gets only events published and handled by
            // every consumer it depends on, which no one writes until it and
            // those after it are past them (no exclusive consumer runs beside it).
            handler(unsafe { &*event }, sequence, end)
        })
    }

    /// The number of events the ring holds.
    #[must_use]
    pub fn capacity(&self) -> usize {
        // The ring's events are a `Box<[E]>`, so their count fits a `usize`.
        self.ring.capacity() as usize
    }

    /// Finds the events ready (waiting as `wait` says) and hands each to
    /// `touch` as a pointer, which the caller may turn into the reference
    /// its registration allows.
    #[inline]
    fn poll_events(&mut self, wait: Wait, mut touch: impl FnMut(*mut E, u64, bool)) -> Result<usize, PopError> {
        let ready = match (self.ended, wait) {
            (true, _) => Ready::End,
            (false, Wait::No) => consumer::look(&self.ring, self.me, self.next),
            (false, Wait::Forever) => consumer::wait_ready(&self.ring, self.me, self.next, None),
            (false, Wait::Until(deadline)) => consumer::wait_ready(&self.ring, self.me, self.next, deadline),
        };
        let before = match ready {
            Ready::Before(before) => before,
            Ready::NotYet => return Err(PopError::Empty),
            Ready::End => {
                self.end();
                return Err(PopError::Disconnected);
            }
        };
        // A panicking handler halts the ring, and this poller stops: its
        // batch is half handled and cannot be handed out again.
        struct HaltOnPanic<'a, E> {
            poller: &'a mut Poller<E>,
        }
        impl<E> Drop for HaltOnPanic<'_, E> {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    self.poller.ring.halted.store(true, Ordering::Release);
                    self.poller.end();
                }
            }
        }
        let guard = HaltOnPanic { poller: self };
        let (ring, me, next) = (&*guard.poller.ring, guard.poller.me, guard.poller.next);
        let handled = consumer::handle_batch(ring, me, next, before, |ring, sequence, end_of_batch| {
            ring.with_event(sequence, |event| touch(event, sequence, end_of_batch));
        });
        guard.poller.next = before;
        Ok(handled)
    }

    /// Marks this poller finished, once.
    fn end(&mut self) {
        if !self.ended {
            self.ended = true;
            consumer::finish(&self.ring, self.me);
        }
    }
}

impl<E> Drop for Poller<E> {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        // Dropped before it saw the end: unless there is truly nothing left,
        // what it has not handled would never reach those after it.
        if consumer::look(&self.ring, self.me, self.next) != Ready::End {
            self.ring.halted.store(true, Ordering::Release);
        }
        self.end();
    }
}

/// How long a poll waits for an event.
#[derive(Clone, Copy)]
enum Wait {
    No,
    Forever,
    Until(Option<Instant>),
}

/// A poller that may change the events it holds, as an
/// [`exclusive_consumer`](super::Builder::exclusive_consumer) may: made by
/// [`Builder::exclusive_poller`](super::Builder::exclusive_poller), taken
/// from [`Consumers::take_exclusive_poller`](super::Consumers::take_exclusive_poller).
/// The build refuses it unless every other consumer runs before or after
/// it. Otherwise it is a [`Poller`]: the same calls, answers and rules for
/// dropping it early.
///
/// # Examples
///
/// ```
/// use gasbao_ringbuf::multicast::Builder;
///
/// let mut builder = Builder::new(64, || 0u64);
/// let validate = builder.exclusive_poller("validate", &[]);
/// builder.consumer("bill", &[validate], |milli_m3: &u64, _seq, _end| assert!(*milli_m3 <= 1_000_000));
/// let (mut producer, mut consumers) = builder.build_single_producer()?;
/// let mut validate = consumers.take_exclusive_poller(validate).expect("taken once");
///
/// producer.publish(|event| *event = 2_000_000)?;
/// drop(producer);
/// while validate.poll(|milli_m3: &mut u64, _seq, _end| *milli_m3 = (*milli_m3).min(1_000_000)).is_ok() {}
/// consumers.join()?; // bill saw the capped reading
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ExclusivePoller<E>(pub(super) Poller<E>);

impl<E> ExclusivePoller<E> {
    /// As [`Poller::try_poll`], with each event to change.
    ///
    /// # Errors
    ///
    /// As [`Poller::try_poll`].
    ///
    /// # Panics
    ///
    /// If `handler` panics; the ring then halts.
    #[inline]
    pub fn try_poll(&mut self, mut handler: impl FnMut(&mut E, u64, bool)) -> Result<usize, PopError> {
        self.0.poll_events(Wait::No, |event, sequence, end| {
            // SAFETY: as for a shared poll, and the builder checked that every
            // other consumer runs before this one or after it: it is the
            // event's only user.
            handler(unsafe { &mut *event }, sequence, end)
        })
    }

    /// As [`Poller::poll`], with each event to change.
    ///
    /// # Errors
    ///
    /// As [`Poller::poll`].
    ///
    /// # Panics
    ///
    /// If `handler` panics; the ring then halts.
    pub fn poll(&mut self, mut handler: impl FnMut(&mut E, u64, bool)) -> Result<usize, PopError> {
        self.0.poll_events(Wait::Forever, |event, sequence, end| {
            // SAFETY: as for a shared poll, and the builder checked that every
            // other consumer runs before this one or after it: it is the
            // event's only user.
            handler(unsafe { &mut *event }, sequence, end)
        })
    }

    /// As [`Poller::poll_timeout`], with each event to change.
    ///
    /// # Errors
    ///
    /// As [`Poller::poll_timeout`].
    ///
    /// # Panics
    ///
    /// If `handler` panics; the ring then halts.
    pub fn poll_timeout(
        &mut self,
        timeout: Duration,
        mut handler: impl FnMut(&mut E, u64, bool),
    ) -> Result<usize, PopError> {
        let wait = Wait::Until(Instant::now().checked_add(timeout));
        self.0.poll_events(wait, |event, sequence, end| {
            // SAFETY: as for a shared poll, and the builder checked that every
            // other consumer runs before this one or after it: it is the
            // event's only user.
            handler(unsafe { &mut *event }, sequence, end)
        })
    }

    /// The number of events the ring holds.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.0.capacity()
    }
}

impl<E> fmt::Debug for Poller<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Poller")
            .field("next", &self.next)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}
