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
///     producer.publish(|event| *event = milli_m3)?;
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
    /// The next sequence to handle; the ring's copy follows each batch.
    next: u64,
    /// Whether this poller is finished: it saw the end, or a handler panicked.
    ended: bool,
    #[cfg(feature = "tracing")]
    _stopped: super::stopped::Report<E>,
}

impl<E> Poller<E> {
    pub(crate) fn new(ring: Arc<Ring<E>>, me: usize, #[allow(unused_variables)] name: String) -> Poller<E> {
        Poller {
            #[cfg(feature = "tracing")]
            _stopped: super::stopped::Report {
                ring: Arc::clone(&ring),
                name,
            },
            ring,
            me,
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
    pub fn try_poll(&mut self, handler: impl FnMut(&E, u64, bool)) -> Result<usize, PopError> {
        let ready = self.ready(|ring, me, next| consumer::look(ring, me, next));
        self.handle(ready, handler)
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
    pub fn poll(&mut self, handler: impl FnMut(&E, u64, bool)) -> Result<usize, PopError> {
        let ready = self.ready(|ring, me, next| consumer::wait_ready(ring, me, next, None));
        self.handle(ready, handler)
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
    pub fn poll_timeout(&mut self, timeout: Duration, handler: impl FnMut(&E, u64, bool)) -> Result<usize, PopError> {
        let deadline = Instant::now().checked_add(timeout);
        let ready = self.ready(|ring, me, next| consumer::wait_ready(ring, me, next, deadline));
        self.handle(ready, handler)
    }

    /// The number of events the ring holds.
    #[must_use]
    pub fn capacity(&self) -> usize {
        // The ring's events are a `Box<[E]>`, so their count fits a `usize`.
        self.ring.capacity() as usize
    }

    #[inline]
    fn ready(&self, find: impl FnOnce(&Ring<E>, usize, u64) -> Ready) -> Ready {
        if self.ended {
            return Ready::End;
        }
        find(&self.ring, self.me, self.next)
    }

    #[inline]
    fn handle(&mut self, ready: Ready, mut handler: impl FnMut(&E, u64, bool)) -> Result<usize, PopError> {
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
            // SAFETY: `handle_batch` calls us only for sequences published
            // and handled by every consumer we depend on; no one writes the
            // event until we and those after us are past it (a poller is
            // never exclusive, and the builder let no exclusive consumer
            // run beside us).
            ring.with_event(sequence, |event| handler(unsafe { &*event }, sequence, end_of_batch));
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

impl<E> fmt::Debug for Poller<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Poller")
            .field("next", &self.next)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}
