//! Where durability stands, and how appenders wait for it: one appender syncs
//! for all who wait (group commit), and each is woken only when its own
//! records are durable.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread::{self, Thread};

use crate::journal::error::AppendError;

/// Every record before [`get`](Self::get) is durable; waiters park until their
/// own record is.
///
/// Waiters are woken one by one (`unpark`), not through a condition variable:
/// after a group sync a dozen appenders return at once, and a shared mutex to
/// reacquire on waking would make them return one after another.
#[derive(Debug, Default)]
pub(crate) struct DurablePoint {
    durable_next: AtomicU64,
    /// An appender is flushing and syncing for everyone.
    syncing: AtomicBool,
    failed: OnceLock<Arc<io::Error>>,
    /// Parked appenders and the sequence number each waits to become durable.
    waiters: Mutex<Vec<(u64, Thread)>>,
}

impl DurablePoint {
    pub(crate) fn new(durable_next: u64) -> DurablePoint {
        DurablePoint {
            durable_next: AtomicU64::new(durable_next),
            ..DurablePoint::default()
        }
    }

    /// Every record before this sequence number is durable.
    pub(crate) fn get(&self) -> u64 {
        self.durable_next.load(Ordering::SeqCst)
    }

    /// Records that every record before `through` is durable.
    pub(crate) fn advance(&self, through: u64) {
        self.durable_next.fetch_max(through, Ordering::SeqCst);
        self.wake();
    }

    /// Returns once every record before `through` is durable. When no one is
    /// syncing, the caller leads: `lead` flushes and syncs everything queued
    /// and returns the new durable point.
    pub(crate) fn wait(
        &self,
        through: u64,
        mut lead: impl FnMut() -> Result<u64, AppendError>,
    ) -> Result<(), AppendError> {
        loop {
            if self.get() >= through {
                return Ok(());
            }
            if let Some(source) = self.failed.get() {
                return Err(AppendError::Failed {
                    source: Arc::clone(source),
                });
            }
            if self
                .syncing
                .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                let result = lead();
                match result {
                    Ok(durable) => {
                        self.durable_next.fetch_max(durable, Ordering::SeqCst);
                    }
                    Err(AppendError::Failed { source }) => {
                        // The first failure is the one every waiter reports.
                        let _ = self.failed.set(source);
                    }
                    Err(other) => {
                        self.syncing.store(false, Ordering::SeqCst);
                        self.wake();
                        return Err(other);
                    }
                }
                self.syncing.store(false, Ordering::SeqCst);
                self.wake();
                continue;
            }
            self.waiters
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((through, thread::current()));
            // A leader that finished before we were listed will not wake us:
            // look again before parking. A stale listing only costs a
            // spurious wake-up later, after which this loop looks again.
            if self.get() >= through || self.failed.get().is_some() || !self.syncing.load(Ordering::SeqCst) {
                continue;
            }
            thread::park();
        }
    }

    /// Wakes every waiter whose record is durable (all of them after a
    /// failure), and one still waiting, to lead the next sync.
    fn wake(&self) {
        let durable = self.get();
        let failed = self.failed.get().is_some();
        let mut next_leader = true;
        let woken: Vec<(u64, Thread)> = {
            let mut waiters = self.waiters.lock().unwrap_or_else(PoisonError::into_inner);
            let (woken, waiting) = std::mem::take(&mut *waiters)
                .into_iter()
                .partition(|(through, _)| failed || *through <= durable || std::mem::take(&mut next_leader));
            *waiters = waiting;
            woken
        };
        // Unparked after the lock is released: the first woken appenders
        // list themselves again for their next record while the rest are
        // being woken, instead of sleeping on this lock.
        for (_, thread) in woken {
            thread.unpark();
        }
    }
}
