//! The producers' side: claim sequences a lap ahead of the slowest gating
//! consumer at most, fill the events in place, publish.

use std::fmt;
use std::ops::Range;
use std::time::Duration;

use crate::error::PushError;
use crate::sync::{Arc, Ordering};

use super::ring::{Ring, SKIPPED};

/// The only producer of a multicast ring: publishing is a plain store.
/// `Send`, not `Clone`.
pub struct SingleProducer<E> {
    ring: Arc<Ring<E>>,
    /// The next sequence to publish; we are the only writer of the cursor.
    next: u64,
    /// The gating sequence as last seen; room up to a lap past it.
    cached_gating: u64,
}

impl<E> SingleProducer<E> {
    pub(crate) fn new(ring: Arc<Ring<E>>) -> SingleProducer<E> {
        SingleProducer {
            ring,
            next: 0,
            cached_gating: 0,
        }
    }

    /// Whether `n` more events fit without lapping a gating consumer,
    /// reading the consumers' sequences only when the cache says no.
    #[inline]
    fn has_room(&mut self, n: u64) -> bool {
        let needed = (self.next + n).saturating_sub(self.ring.capacity());
        if needed <= self.cached_gating {
            return true;
        }
        self.cached_gating = self.ring.gating_sequence();
        needed <= self.cached_gating
    }

    /// Fills the next event with `fill` and publishes it, if there is room
    /// now; returns its sequence.
    ///
    /// # Errors
    ///
    /// [`PushError::Full`] if the slowest consumer is a lap behind;
    /// [`PushError::Disconnected`] if a consumer panicked. Each hands `fill`
    /// back unrun.
    #[inline]
    pub fn try_publish<F: FnOnce(&mut E)>(&mut self, fill: F) -> Result<u64, PushError<F>> {
        if self.ring.halted.load(Ordering::Relaxed) {
            return Err(PushError::Disconnected(fill));
        }
        if !self.has_room(1) {
            return Err(PushError::Full(fill));
        }
        let sequence = self.next;
        // SAFETY: as in `try_publish_batch`, for one event.
        self.ring.with_event(sequence, |event| fill(unsafe { &mut *event }));
        self.commit(sequence + 1);
        Ok(sequence)
    }

    /// Publishes every event before `next`.
    #[inline]
    fn commit(&mut self, next: u64) {
        self.next = next;
        // Release: the events' contents are visible to a consumer that sees the cursor.
        self.ring.cursor.store(next, Ordering::Release);
        self.ring.published();
    }

    /// As [`try_publish`](Self::try_publish), waiting for room as the ring's
    /// [`WaitStrategy`](crate::WaitStrategy) says.
    ///
    /// # Errors
    ///
    /// [`PushError::Disconnected`] if a consumer panicked.
    #[inline]
    pub fn publish<F: FnOnce(&mut E)>(&mut self, fill: F) -> Result<u64, PushError<F>> {
        self.wait_for_room(1, None);
        self.try_publish(fill)
            .map_err(|e| PushError::Disconnected(e.into_inner()))
    }

    /// As [`publish`](Self::publish), waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`PushError::Full`] at the deadline; [`PushError::Disconnected`] if a
    /// consumer panicked.
    #[inline]
    pub fn publish_timeout<F: FnOnce(&mut E)>(&mut self, fill: F, timeout: Duration) -> Result<u64, PushError<F>> {
        self.wait_for_room(1, Some(timeout));
        self.try_publish(fill)
    }

    /// Fills `n` consecutive events (`fill(event, index)`, index from 0) and
    /// publishes them with one store, if they all fit now; returns their sequences.
    ///
    /// # Errors
    ///
    /// As [`try_publish`](Self::try_publish); also `Full` if `n` exceeds the capacity.
    pub fn try_publish_batch<F: FnMut(&mut E, usize)>(
        &mut self,
        n: usize,
        mut fill: F,
    ) -> Result<Range<u64>, PushError<F>> {
        let n = n as u64;
        if self.ring.halted.load(Ordering::Relaxed) {
            return Err(PushError::Disconnected(fill));
        }
        if n > self.ring.capacity() || !self.has_room(n) {
            return Err(PushError::Full(fill));
        }
        let start = self.next;
        for i in 0..n {
            // SAFETY: `has_room(n)`: every gating consumer (and so every
            // consumer) is past the previous lap of these slots, and no
            // consumer reads them before `commit`. If `fill` panics, nothing
            // is published and the slots stay ours.
            self.ring
                .with_event(start + i, |event| fill(unsafe { &mut *event }, i as usize));
        }
        self.commit(start + n);
        Ok(start..start + n)
    }

    /// As [`try_publish_batch`](Self::try_publish_batch), waiting for room.
    ///
    /// # Errors
    ///
    /// [`PushError::Disconnected`] if a consumer panicked;
    /// [`PushError::Full`] if `n` exceeds the capacity (it would never fit).
    pub fn publish_batch<F: FnMut(&mut E, usize)>(&mut self, n: usize, fill: F) -> Result<Range<u64>, PushError<F>> {
        if n as u64 > self.ring.capacity() {
            return Err(PushError::Full(fill));
        }
        self.wait_for_room(n as u64, None);
        self.try_publish_batch(n, fill)
            .map_err(|e| PushError::Disconnected(e.into_inner()))
    }

    /// Waits until `n` events fit, for at most `timeout` from now. When
    /// the cache already shows room this is a comparison: the wait, and
    /// reading the clock for a deadline, happen out of line only when the
    /// ring looks full.
    #[inline]
    fn wait_for_room(&mut self, n: u64, timeout: Option<Duration>) {
        if !self.has_room(n) {
            let next = self.next;
            self.ring.wait_for_room(|| next, n, timeout);
        }
    }

    /// The number of events in the ring.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.ring.capacity() as usize
    }

    /// Whether a consumer panicked: nothing published now would be handled.
    #[must_use]
    pub fn is_abandoned(&self) -> bool {
        self.ring.is_halted()
    }
}

impl<E> Drop for SingleProducer<E> {
    fn drop(&mut self) {
        // AcqRel: consumers that see no producers see every event published.
        self.ring.producers.fetch_sub(1, Ordering::AcqRel);
        self.ring.wake_all();
    }
}

impl<E> fmt::Debug for SingleProducer<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SingleProducer")
            .field("capacity", &self.capacity())
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

/// One of several producers of a multicast ring: sequences are claimed by
/// compare-and-swap and each event is published on its own. Clone it for
/// more producers.
pub struct MultiProducer<E> {
    ring: Arc<Ring<E>>,
}

impl<E> MultiProducer<E> {
    pub(crate) fn new(ring: Arc<Ring<E>>) -> MultiProducer<E> {
        MultiProducer { ring }
    }

    /// Claims `n` sequences if they fit now; returns the first.
    fn try_claim(&self, n: u64) -> Option<u64> {
        let ring = &*self.ring;
        let mut claimed = ring.cursor.load(Ordering::Relaxed);
        loop {
            if (claimed + n).saturating_sub(ring.capacity()) > ring.gating_sequence() {
                return None;
            }
            match ring
                .cursor
                .compare_exchange_weak(claimed, claimed + n, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return Some(claimed),
                Err(now) => claimed = now,
            }
        }
    }

    /// Fills the next event with `fill` and publishes it, if there is room now.
    ///
    /// # Errors
    ///
    /// As [`SingleProducer::try_publish`].
    pub fn try_publish<F: FnOnce(&mut E)>(&self, fill: F) -> Result<u64, PushError<F>> {
        let start = match self.try_claim_or_refuse(1) {
            Ok(start) => start,
            Err(refusal) => return Err(refusal(fill)),
        };
        let mut fill = Some(fill);
        self.fill_claimed(start, 1, |event, _| {
            if let Some(fill) = fill.take() {
                fill(event);
            }
        });
        Ok(start)
    }

    /// As [`try_publish`](Self::try_publish), waiting for room.
    ///
    /// # Errors
    ///
    /// [`PushError::Disconnected`] if a consumer panicked.
    pub fn publish<F: FnOnce(&mut E)>(&self, fill: F) -> Result<u64, PushError<F>> {
        let mut fill = fill;
        loop {
            match self.try_publish(fill) {
                Err(PushError::Full(back)) => fill = back,
                other => return other,
            }
            self.wait_for_room(1);
        }
    }

    /// Fills `n` consecutive events and publishes them, if they all fit now.
    ///
    /// # Errors
    ///
    /// As [`SingleProducer::try_publish_batch`].
    pub fn try_publish_batch<F: FnMut(&mut E, usize)>(
        &self,
        n: usize,
        mut fill: F,
    ) -> Result<Range<u64>, PushError<F>> {
        let n = n as u64;
        let start = match self.try_claim_or_refuse(n) {
            Ok(start) => start,
            Err(refusal) => return Err(refusal(fill)),
        };
        self.fill_claimed(start, n, &mut fill);
        Ok(start..start + n)
    }

    /// As [`try_publish_batch`](Self::try_publish_batch), waiting for room.
    ///
    /// # Errors
    ///
    /// As [`SingleProducer::publish_batch`].
    pub fn publish_batch<F: FnMut(&mut E, usize)>(&self, n: usize, fill: F) -> Result<Range<u64>, PushError<F>> {
        if n as u64 > self.ring.capacity() {
            return Err(PushError::Full(fill));
        }
        let mut fill = fill;
        loop {
            match self.try_publish_batch(n, fill) {
                Err(PushError::Full(back)) => fill = back,
                other => return other,
            }
            self.wait_for_room(n as u64);
        }
    }

    /// Claims `n` sequences, or says which error refuses them.
    fn try_claim_or_refuse<F>(&self, n: u64) -> Result<u64, fn(F) -> PushError<F>> {
        if self.ring.halted.load(Ordering::Relaxed) {
            return Err(PushError::Disconnected);
        }
        if n > self.ring.capacity() {
            return Err(PushError::Full);
        }
        self.try_claim(n).ok_or(PushError::Full)
    }

    /// Fills and publishes the claimed sequences `start..start + n`, all at
    /// once after the last is filled, as a single producer does. If `fill`
    /// panics they are all published as skipped, so that consumers never
    /// wait for a hole and never see half a batch.
    fn fill_claimed(&self, start: u64, n: u64, mut fill: impl FnMut(&mut E, usize)) {
        struct Publish<'a, E> {
            ring: &'a Ring<E>,
            start: u64,
            end: u64,
            flag: u64,
        }
        impl<E> Drop for Publish<'_, E> {
            fn drop(&mut self) {
                if let Some(published) = &self.ring.published {
                    for sequence in self.start..self.end {
                        // Release: the event's contents are visible with the flag.
                        published[(sequence & self.ring.mask) as usize]
                            .store((sequence + 1) | self.flag, Ordering::Release);
                    }
                }
                self.ring.published();
            }
        }
        let ring = &*self.ring;
        let mut publish = Publish {
            ring,
            start,
            end: start + n,
            flag: SKIPPED,
        };
        for i in 0..n {
            // SAFETY: we claimed `start + i` by CAS while it was within a lap
            // of the gating sequence; no consumer reads it before we publish.
            ring.with_event(start + i, |event| fill(unsafe { &mut *event }, i as usize));
        }
        publish.flag = 0;
    }

    fn wait_for_room(&self, n: u64) {
        let ring = &*self.ring;
        ring.wait_for_room(|| ring.cursor.load(Ordering::Relaxed), n, None);
    }

    /// The number of events in the ring.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.ring.capacity() as usize
    }

    /// Whether a consumer panicked: nothing published now would be handled.
    #[must_use]
    pub fn is_abandoned(&self) -> bool {
        self.ring.is_halted()
    }
}

impl<E> Clone for MultiProducer<E> {
    fn clone(&self) -> MultiProducer<E> {
        self.ring.producers.fetch_add(1, Ordering::Relaxed);
        MultiProducer {
            ring: Arc::clone(&self.ring),
        }
    }
}

impl<E> Drop for MultiProducer<E> {
    fn drop(&mut self) {
        self.ring.producers.fetch_sub(1, Ordering::AcqRel);
        self.ring.wake_all();
    }
}

impl<E> fmt::Debug for MultiProducer<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MultiProducer")
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}
