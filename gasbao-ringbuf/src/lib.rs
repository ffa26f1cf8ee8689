//! Lock-free bounded ring buffers that carry meter readings from ingest
//! threads to the consumers that validate, bill, store and alert.
//!
//! - [`spsc`]: one producer, one consumer; wait-free
//!   [`try_push`](spsc::Producer::try_push) and [`try_pop`](spsc::Consumer::try_pop),
//!   waiting `push`/`pop` and `_timeout` variants, and batches with one
//!   atomic store each, from an iterator ([`push_from`](spsc::Producer::push_from))
//!   and through one ([`drain`](spsc::Consumer::drain)).
//! - [`mpmc`]: a work queue; each item goes to exactly one of many consumers.
//!   Non-blocking [`try_push`](mpmc::Producer::try_push) and
//!   [`try_pop`](mpmc::Consumer::try_pop), waiting `push`/`pop` and
//!   `_timeout` variants, and batches claimed with one compare-and-swap.
//!
//! Both queues take and give batches the same way:
//! `try_push_batch(&mut Vec<T>)` moves what fits from the front of the
//! `Vec` and leaves the rest, and `try_pop_batch(max, &mut Vec<T>)` appends
//! up to `max` items. An MPMC batch cannot be an iterator: a claimed item
//! cannot go back, so dropping a half-read iterator would lose items. The
//! SPSC queue can, hence its `push_from` and `drain` beside them.
//! - [`multicast`]: a Disruptor-style ring of pre-allocated events that every
//!   consumer sees, with dependencies between consumers, single- and
//!   multi-producer publishing, batches with an end-of-batch flag, and
//!   consumers that may change events they alone hold; each consumer runs
//!   on a thread the ring spawns or is polled on the caller's thread.
//! - [`WaitStrategy`]: how a waiting side waits: busy-spin, yield, back off
//!   to sleep, or block at about 0% CPU until woken.
//! - [`PushError`], [`PopError`]: what did not happen, with the item handed back.
//! - [`allow_membarrier`]: opt out of the process-wide `membarrier` registration (below).
//!
//! When one end is dropped, the other learns it: a producer gets its item
//! back in [`PushError::Disconnected`], a consumer drains what is left and
//! then sees [`PopError::Disconnected`]. Dropping every end drops every item
//! still queued, exactly once.
//!
//! # A process-wide side effect
//!
//! On Linux (x86-64 and AArch64), the first SPSC queue or multicast ring
//! (whatever its wait strategy) registers
//! the whole process for `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`, so
//! that pushes and pops need no fence (a sleeping consumer pays instead).
//! The registration cannot be undone, and each sleep then briefly
//! interrupts every CPU running another thread of the process: noticeable
//! for latency-critical threads that share the process with consumers that
//! sleep thousands of times a second. [`allow_membarrier`]`(false)`, called
//! before the first queue, keeps the process unregistered: both sides then
//! fence, and pushes and pops cost a little more.
//!
//! The crate has no dependencies. With feature `tracing`, each multicast
//! consumer that stops (finished, halted, or panicked) is an event. All of the workspace's `unsafe` code lives
//! here; every block says which invariant makes it sound, loom explores the
//! interleavings (`RUSTFLAGS="--cfg gasbao_loom" cargo test --release -p
//! gasbao-ringbuf --test loom`) and Miri runs the tests.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

/// The README's examples run as doctests, so the quick start stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod barrier;
mod cache_padded;
mod error;
pub mod mpmc;
pub mod multicast;
pub mod spsc;
mod sync;
mod wait;

pub use barrier::allow_membarrier;
pub use error::{PopError, PushError};
pub use wait::WaitStrategy;
