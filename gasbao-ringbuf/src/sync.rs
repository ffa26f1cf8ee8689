//! The atomics and cells the ring buffers use: std's, or loom's under
//! `--cfg gasbao_loom`, so that loom can explore every interleaving.

#[cfg(not(gasbao_loom))]
pub(crate) use std::sync::Arc;
#[cfg(not(gasbao_loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};
#[cfg(not(gasbao_loom))]
pub(crate) use std::sync::{Condvar, Mutex};

#[cfg(not(gasbao_loom))]
pub(crate) use std::hint::spin_loop;
#[cfg(not(gasbao_loom))]
pub(crate) use std::thread::{JoinHandle, spawn, yield_now};

#[cfg(gasbao_loom)]
pub(crate) use loom::hint::spin_loop;
#[cfg(gasbao_loom)]
pub(crate) use loom::sync::Arc;
#[cfg(gasbao_loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};
#[cfg(gasbao_loom)]
pub(crate) use loom::sync::{Condvar, Mutex};
#[cfg(gasbao_loom)]
pub(crate) use loom::thread::{JoinHandle, spawn, yield_now};

/// An `UnsafeCell` with loom's closure-based access, on both backends.
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(
    #[cfg(not(gasbao_loom))] std::cell::UnsafeCell<T>,
    #[cfg(gasbao_loom)] loom::cell::UnsafeCell<T>,
);

impl<T> UnsafeCell<T> {
    pub(crate) fn new(value: T) -> UnsafeCell<T> {
        #[cfg(not(gasbao_loom))]
        return UnsafeCell(std::cell::UnsafeCell::new(value));
        #[cfg(gasbao_loom)]
        return UnsafeCell(loom::cell::UnsafeCell::new(value));
    }

    /// Runs `f` with a raw pointer to the contents; the caller of the pointer
    /// upholds the aliasing rules.
    #[inline]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        #[cfg(not(gasbao_loom))]
        return f(self.0.get());
        #[cfg(gasbao_loom)]
        return self.0.with_mut(f);
    }
}
