//! Lock-free bounded ring buffers that carry meter readings from ingest
//! threads to the consumers that validate, bill, store and alert.
//!
//! - [`spsc`]: one producer, one consumer; wait-free [`push`](spsc::Producer::push)
//!   and [`pop`](spsc::Consumer::pop), batch writes
//!   ([`push_from`](spsc::Producer::push_from)) and reads
//!   ([`drain`](spsc::Consumer::drain)) with one atomic store per batch.
//!
//! When one end is dropped, the other learns it: a producer gets its item
//! back in [`PushError::Disconnected`], a consumer drains what is left and
//! then sees [`PopError::Disconnected`]. Dropping both ends drops every item
//! still queued, exactly once.
//!
//! The crate has no dependencies. All of the workspace's `unsafe` code lives
//! here; every block says which invariant makes it sound, loom explores the
//! interleavings (`RUSTFLAGS="--cfg gasbao_loom" cargo test --release -p
//! gasbao-ringbuf --test loom`) and Miri runs the tests.
//!
//! Still to come: the MPMC work queue, the Disruptor-style multicast ring,
//! and blocking wait strategies.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

/// The README's examples run as doctests, so the quick start stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod cache_padded;
mod error;
pub mod mpmc;
pub mod multicast;
pub mod spsc;
mod sync;
mod wait;

pub use error::{PopError, PushError};
pub use wait::WaitStrategy;
