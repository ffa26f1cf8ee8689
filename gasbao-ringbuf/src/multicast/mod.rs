//! A Disruptor-style multicast ring: every consumer sees every event, in
//! order, with dependencies between consumers (pipelines and diamonds).
//!
//! Events are pre-allocated and filled in place, so publishing allocates
//! nothing. Each consumer runs on its own thread, or, built with
//! [`Builder::poller`] (or [`Builder::exclusive_poller`]), on the caller's
//! thread as a [`Poller`] ([`ExclusivePoller`]) the caller polls. It
//! handles events in batches
//! (with an end-of-batch flag, to flush or commit once per batch), and
//! records how far it got; a consumer that depends on others handles an
//! event only after all of them have. Producers never lap the slowest
//! consumer. A consumer built with [`Builder::exclusive_consumer`] gets
//! `&mut E`: it is the event's only user while it holds it, which the
//! builder checks.
//!
//! When every producer is gone, consumers handle every event published and
//! then their threads end: shutting down never drops a published event. If a
//! handler panics, the ring halts: producers get
//! [`PushError::Disconnected`](crate::PushError::Disconnected), the other
//! consumers stop after what they can reach, and [`Consumers::join`] reports
//! the panic.
//!
//! # Examples
//!
//! A diamond: validation, then billing and storage side by side, then an
//! audit that runs after both.
//!
//! ```
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use std::sync::Arc;
//! use gasbao_ringbuf::multicast::Builder;
//!
//! #[derive(Default)]
//! struct Reading { meter: u64, milli_m3: u64, valid: bool }
//!
//! let billed = Arc::new(AtomicU64::new(0));
//! let mut builder = Builder::new(1024, Reading::default);
//! let validate = builder.exclusive_consumer("validate", &[], |r: &mut Reading, _seq, _end_of_batch| {
//!     r.valid = r.milli_m3 < 1_000_000;
//! });
//! let bill = builder.consumer("bill", &[validate], {
//!     let billed = billed.clone();
//!     move |r: &Reading, _seq, _end| if r.valid { billed.fetch_add(r.milli_m3, Ordering::Relaxed); }
//! });
//! let store = builder.consumer("store", &[validate], |_r: &Reading, _seq, _end_of_batch| {});
//! builder.consumer("audit", &[bill, store], |_r: &Reading, _seq, _end_of_batch| {});
//! let (mut producer, consumers) = builder.build_single_producer()?;
//!
//! for meter in 0..100 {
//!     producer.publish(move |r| { r.meter = meter; r.milli_m3 = 1_500; r.valid = false; })?;
//! }
//! drop(producer); // consumers finish every event, then stop
//! consumers.join()?;
//! assert_eq!(billed.load(Ordering::Relaxed), 150_000);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod consumer;
mod poller;
mod producer;
mod ring;

use std::error::Error;
use std::fmt;

pub use poller::{ExclusivePoller, Poller};
pub use producer::{MultiProducer, SingleProducer};

use crate::cache_padded::CachePadded;
use crate::sync::{Arc, AtomicBool, AtomicU64, JoinHandle, spawn};
use crate::wait::WaitStrategy;
use ring::{ConsumerState, Ring};

/// Reports how a consumer's thread ended, however it ended.
#[cfg(feature = "tracing")]
mod stopped {
    use super::Ring;
    use crate::sync::Arc;

    pub(super) struct Report<E> {
        pub(super) ring: Arc<Ring<E>>,
        pub(super) name: String,
    }

    impl<E> Drop for Report<E> {
        fn drop(&mut self) {
            let consumer = self.name.as_str();
            if std::thread::panicking() {
                tracing::error!(consumer, "multicast consumer panicked; the ring halts");
            } else if self.ring.is_halted() {
                tracing::warn!(consumer, "multicast consumer stopped: the ring halted");
            } else {
                tracing::debug!(
                    consumer,
                    "multicast consumer finished: producers gone, every event handled"
                );
            }
        }
    }
}

/// Names a consumer registered with a [`Builder`], to depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConsumerId(usize);

type Start<E> = Box<dyn FnOnce(Arc<Ring<E>>, usize, Option<NamedHook>) + Send>;
type ThreadStart = std::sync::Arc<dyn Fn(usize, &str) + Send + Sync>;
/// The thread-start hook with the consumer's name, passed to its thread.
pub(crate) type NamedHook = (ThreadStart, String);

struct Pending<E> {
    name: String,
    depends_on: Vec<usize>,
    exclusive: bool,
    /// How the consumer runs: `None` for a poller, on the caller's thread.
    start: Option<Start<E>>,
}

/// Describes a multicast ring and its consumers, then starts them.
pub struct Builder<E> {
    slots: usize,
    factory: Box<dyn FnMut() -> E>,
    strategy: WaitStrategy,
    consumers: Vec<Pending<E>>,
    thread_start: Option<ThreadStart>,
}

impl<E: Send + Sync + 'static> Builder<E> {
    /// A ring of `capacity` events (rounded up to a power of two), each made
    /// by `factory`, whose consumers and producers wait by blocking
    /// ([`WaitStrategy::Blocking`]).
    pub fn new(capacity: usize, factory: impl FnMut() -> E + 'static) -> Builder<E> {
        Builder {
            slots: capacity
                .checked_next_power_of_two()
                .unwrap_or(1 << (usize::BITS - 1))
                .max(1),
            factory: Box::new(factory),
            strategy: WaitStrategy::default(),
            consumers: Vec::new(),
            thread_start: None,
        }
    }

    /// Runs `hook(index, name)` on each consumer's thread before it handles
    /// anything: to pin it to a core, set its priority or name it in a
    /// profiler. `index` counts consumers (pollers too, which have no
    /// thread of their own) in the order they were added.
    #[must_use]
    pub fn on_thread_start(mut self, hook: impl Fn(usize, &str) + Send + Sync + 'static) -> Builder<E> {
        self.thread_start = Some(std::sync::Arc::new(hook));
        self
    }

    /// How consumers wait for events and producers for room.
    #[must_use]
    pub fn wait_strategy(mut self, strategy: WaitStrategy) -> Builder<E> {
        self.strategy = strategy;
        self
    }

    /// Adds a consumer that reads every event after the consumers in `after`
    /// (or after the producers, if empty) have handled it. `handler` gets the
    /// event, its sequence, and whether it is the last of the batch at hand.
    pub fn consumer(
        &mut self,
        name: &str,
        after: &[ConsumerId],
        mut handler: impl FnMut(&E, u64, bool) + Send + 'static,
    ) -> ConsumerId {
        self.add(
            name,
            after,
            false,
            Some(Box::new(move |ring, me, hook| {
                consumer::run(ring, me, hook, move |ring, sequence, end_of_batch| {
                    // SAFETY: `run` calls us only for sequences published and
                    // handled by every consumer we depend on; no one writes the
                    // event until we and those after us are past it (the builder
                    // let no exclusive consumer run beside us).
                    ring.with_event(sequence, |event| handler(unsafe { &*event }, sequence, end_of_batch));
                });
            })),
        )
    }

    /// Adds a consumer that runs on the caller's thread: after the build,
    /// [`Consumers::take_poller`] hands over its [`Poller`], which reads
    /// every event after the consumers in `after` (or after the producers,
    /// if empty) have handled it, in batches, when the caller polls.
    pub fn poller(&mut self, name: &str, after: &[ConsumerId]) -> ConsumerId {
        self.add(name, after, false, None)
    }

    /// Adds a poller that may change every event, as
    /// [`exclusive_consumer`](Self::exclusive_consumer) does, on the
    /// caller's thread: after the build, [`Consumers::take_exclusive_poller`]
    /// hands over its [`ExclusivePoller`]. The build refuses it unless every
    /// other consumer runs before or after it, never beside it.
    pub fn exclusive_poller(&mut self, name: &str, after: &[ConsumerId]) -> ConsumerId {
        self.add(name, after, true, None)
    }

    /// Adds a consumer that may change every event, after the consumers in
    /// `after` have handled it and before any consumer that depends on it.
    /// [`build`](Self::build_single_producer) refuses it unless every other
    /// consumer runs before or after it, never beside it.
    pub fn exclusive_consumer(
        &mut self,
        name: &str,
        after: &[ConsumerId],
        mut handler: impl FnMut(&mut E, u64, bool) + Send + 'static,
    ) -> ConsumerId {
        self.add(
            name,
            after,
            true,
            Some(Box::new(move |ring, me, hook| {
                consumer::run(ring, me, hook, move |ring, sequence, end_of_batch| {
                    ring.with_event(sequence, |event| {
                        // SAFETY: as for `consumer`, and the builder checked
                        // that every other consumer is before us (done with
                        // this event) or after us (not yet at it): we are its
                        // only user.
                        let event = unsafe { &mut *event };
                        handler(event, sequence, end_of_batch)
                    });
                });
            })),
        )
    }

    fn add(&mut self, name: &str, after: &[ConsumerId], exclusive: bool, start: Option<Start<E>>) -> ConsumerId {
        let id = self.consumers.len();
        self.consumers.push(Pending {
            name: name.to_owned(),
            depends_on: after.iter().map(|c| c.0).collect(),
            exclusive,
            start,
        });
        ConsumerId(id)
    }

    /// Starts the consumers; returns the only producer and the consumers' handle.
    ///
    /// # Errors
    ///
    /// [`BuildError`] if there is no consumer, a dependency names a consumer
    /// of another builder, or an exclusive consumer has a concurrent sibling.
    pub fn build_single_producer(self) -> Result<(SingleProducer<E>, Consumers<E>), BuildError> {
        let (ring, consumers) = self.start(false)?;
        Ok((SingleProducer::new(ring), consumers))
    }

    /// Starts the consumers; returns a producer to clone for each producing thread.
    ///
    /// # Errors
    ///
    /// As [`build_single_producer`](Self::build_single_producer).
    pub fn build_multi_producer(self) -> Result<(MultiProducer<E>, Consumers<E>), BuildError> {
        let (ring, consumers) = self.start(true)?;
        Ok((MultiProducer::new(ring), consumers))
    }

    fn start(mut self, multi_producer: bool) -> Result<(Arc<Ring<E>>, Consumers<E>), BuildError> {
        self.check()?;
        let n = self.consumers.len();
        let mut depended_on = vec![false; n];
        for c in &self.consumers {
            c.depends_on.iter().for_each(|&d| depended_on[d] = true);
        }
        let states: Box<[ConsumerState]> = self
            .consumers
            .iter()
            .map(|c| ConsumerState {
                sequence: CachePadded::new(AtomicU64::new(0)),
                finished: AtomicBool::new(false),
                depends_on: c.depends_on.clone().into_boxed_slice(),
            })
            .collect();
        let gating: Box<[usize]> = (0..n).filter(|&c| !depended_on[c]).collect();
        let ring = Arc::new(Ring::new(
            self.slots,
            &mut self.factory,
            multi_producer,
            states,
            gating,
            self.strategy,
        ));
        let mut threads = Vec::new();
        let mut pollers = Vec::new();
        for (me, c) in self.consumers.into_iter().enumerate() {
            let Some(start) = c.start else {
                pollers.push((me, Poller::new(Arc::clone(&ring), me, c.exclusive, c.name)));
                continue;
            };
            threads.push({
                let ring = Arc::clone(&ring);
                let hook = self.thread_start.clone();
                let name = c.name.clone();
                #[cfg(feature = "tracing")]
                let _stopped = stopped::Report {
                    ring: Arc::clone(&ring),
                    name: name.clone(),
                };
                let thread = spawn(move || {
                    #[cfg(feature = "tracing")]
                    let _stopped = _stopped;
                    start(ring, me, hook.map(|hook| (hook, name)));
                });
                (c.name, thread)
            });
        }
        Ok((ring, Consumers { threads, pollers }))
    }

    fn check(&self) -> Result<(), BuildError> {
        let n = self.consumers.len();
        if n == 0 {
            return Err(BuildError::NoConsumers);
        }
        // Dependencies point to earlier consumers, so the graph has no cycle.
        for (i, c) in self.consumers.iter().enumerate() {
            if let Some(&bad) = c.depends_on.iter().find(|&&d| d >= i) {
                return Err(BuildError::UnknownDependency {
                    consumer: c.name.clone(),
                    dependency: bad,
                });
            }
        }
        // before[i][j]: consumer j handles each event before consumer i does.
        let mut before = vec![vec![false; n]; n];
        for i in 0..n {
            for &d in &self.consumers[i].depends_on {
                // Dependencies come earlier, so `before[d]` is complete.
                let upstream = before[d].clone();
                before[i][d] = true;
                for (j, is_before) in upstream.into_iter().enumerate() {
                    before[i][j] |= is_before;
                }
            }
        }
        for (i, c) in self.consumers.iter().enumerate() {
            if !c.exclusive {
                continue;
            }
            if let Some(j) = (0..n).find(|&j| j != i && !before[i][j] && !before[j][i]) {
                return Err(BuildError::ExclusiveWithSibling {
                    consumer: c.name.clone(),
                    sibling: self.consumers[j].name.clone(),
                });
            }
        }
        Ok(())
    }
}

impl<E> fmt::Debug for Builder<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.consumers.iter().map(|c| c.name.as_str()).collect();
        f.debug_struct("Builder")
            .field("slots", &self.slots)
            .field("strategy", &self.strategy)
            .field("consumers", &names)
            .finish()
    }
}

/// The running consumers of a multicast ring, and the pollers not yet taken.
pub struct Consumers<E> {
    threads: Vec<(String, JoinHandle<()>)>,
    pollers: Vec<(usize, Poller<E>)>,
}

impl<E> Consumers<E> {
    /// The [`Poller`] registered as `id` with [`Builder::poller`]; `None`
    /// if `id` is not such a poller's or it was taken already.
    pub fn take_poller(&mut self, id: ConsumerId) -> Option<Poller<E>> {
        self.take(id, false)
    }

    /// The [`ExclusivePoller`] registered as `id` with
    /// [`Builder::exclusive_poller`]; `None` if `id` is not such a poller's
    /// or it was taken already.
    pub fn take_exclusive_poller(&mut self, id: ConsumerId) -> Option<ExclusivePoller<E>> {
        self.take(id, true).map(ExclusivePoller)
    }

    fn take(&mut self, id: ConsumerId, exclusive: bool) -> Option<Poller<E>> {
        let at = self
            .pollers
            .iter()
            .position(|(me, poller)| *me == id.0 && poller.exclusive == exclusive)?;
        Some(self.pollers.swap_remove(at).1)
    }

    /// Waits for every consumer thread to finish: after every producer is
    /// gone and every published event is handled, or after a handler
    /// panicked. Pollers not taken are dropped first, which halts the ring
    /// unless they had nothing left to handle.
    ///
    /// # Errors
    ///
    /// [`ConsumerPanicked`] naming the first consumer whose handler panicked.
    pub fn join(mut self) -> Result<(), ConsumerPanicked> {
        self.pollers.clear();
        let mut first_panic = None;
        for (name, thread) in self.threads {
            if thread.join().is_err() && first_panic.is_none() {
                first_panic = Some(ConsumerPanicked { consumer: name });
            }
        }
        first_panic.map_or(Ok(()), Err)
    }
}

impl<E> fmt::Debug for Consumers<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumers")
            .field(
                "threads",
                &self.threads.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            )
            .field("pollers", &self.pollers.len())
            .finish()
    }
}

/// Why a multicast ring could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// A ring needs at least one consumer; producers gate on consumers.
    NoConsumers,
    /// A consumer depends on an id this builder did not hand out.
    UnknownDependency {
        /// The consumer.
        consumer: String,
        /// The id it named.
        dependency: usize,
    },
    /// An exclusive consumer would run beside another consumer that reads
    /// the same events.
    ExclusiveWithSibling {
        /// The exclusive consumer.
        consumer: String,
        /// A consumer neither before nor after it.
        sibling: String,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::NoConsumers => f.write_str("a multicast ring needs at least one consumer"),
            BuildError::UnknownDependency { consumer, dependency } => {
                write!(f, "consumer {consumer:?} depends on unknown consumer #{dependency}")
            }
            BuildError::ExclusiveWithSibling { consumer, sibling } => write!(
                f,
                "exclusive consumer {consumer:?} would run beside {sibling:?}; make one depend on the other"
            ),
        }
    }
}

impl Error for BuildError {}

/// A consumer's handler panicked; the ring halted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerPanicked {
    /// The consumer's name.
    pub consumer: String,
}

impl fmt::Display for ConsumerPanicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "consumer {:?} panicked", self.consumer)
    }
}

impl Error for ConsumerPanicked {}
