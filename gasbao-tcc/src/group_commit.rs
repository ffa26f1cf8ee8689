//! Async group commit on a gasbao-core journal: appends return at once, and
//! each caller awaits the `fdatasync` that covers its record, shared with
//! every other record appended before it.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;

use gasbao_core::journal::{AppendError, Journal};

use crate::error::LogError;

/// Who makes a journal's records durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SyncStrategy {
    /// A background thread syncs whenever a caller waits, so that callers
    /// waiting at the same time share one `fdatasync` and no executor
    /// thread blocks on the disk.
    #[default]
    Thread,
    /// The waiting caller syncs, on its own thread: no thread of the
    /// library's own, for deterministic simulation and single-threaded hosts.
    Inline,
}

/// A journal in buffered mode with a syncer in front of it.
pub(crate) struct GroupCommit {
    journal: Arc<Journal>,
    syncer: Option<Arc<Syncer>>,
    thread: Option<JoinHandle<()>>,
}

struct Syncer {
    state: Mutex<SyncerState>,
    wanted: Condvar,
}

#[derive(Default)]
struct SyncerState {
    /// Waiters: the record each needs durable, and how to wake it.
    waiters: Vec<(u64, Waker)>,
    /// The journal failed: every waiter gets this.
    failed: Option<Arc<AppendError>>,
    stop: bool,
}

impl GroupCommit {
    pub(crate) fn new(journal: Journal, strategy: SyncStrategy) -> Result<GroupCommit, std::io::Error> {
        let journal = Arc::new(journal);
        if strategy == SyncStrategy::Inline {
            return Ok(GroupCommit {
                journal,
                syncer: None,
                thread: None,
            });
        }
        let syncer = Arc::new(Syncer {
            state: Mutex::new(SyncerState::default()),
            wanted: Condvar::new(),
        });
        let thread = std::thread::Builder::new().name("gasbao-tcc-sync".into()).spawn({
            let journal = Arc::clone(&journal);
            let syncer = Arc::clone(&syncer);
            move || syncer.run(&journal)
        })?;
        Ok(GroupCommit {
            journal,
            syncer: Some(syncer),
            thread: Some(thread),
        })
    }

    pub(crate) fn journal(&self) -> &Journal {
        &self.journal
    }

    /// Completes once every record before `through` is durable.
    pub(crate) fn durable(&self, through: u64) -> Durable<'_> {
        Durable { commit: self, through }
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        if let Some(syncer) = &self.syncer {
            syncer.lock().stop = true;
            syncer.wanted.notify_one();
        }
        if let Some(thread) = self.thread.take() {
            // The thread only syncs and wakes; a panic there has nothing to hand on.
            let _ = thread.join();
        }
    }
}

/// The future [`GroupCommit::durable`] returns.
pub(crate) struct Durable<'a> {
    commit: &'a GroupCommit,
    through: u64,
}

impl Future for Durable<'_> {
    type Output = Result<(), LogError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let journal = &self.commit.journal;
        if journal.durable_next() >= self.through {
            return Poll::Ready(Ok(()));
        }
        let Some(syncer) = &self.commit.syncer else {
            return Poll::Ready(journal.sync().map(drop).map_err(LogError::from));
        };
        let mut state = syncer.lock();
        if let Some(failed) = &state.failed {
            return Poll::Ready(Err(LogError::Append(Arc::clone(failed))));
        }
        // Checked again under the lock: the syncer wakes waiters under it.
        if journal.durable_next() >= self.through {
            return Poll::Ready(Ok(()));
        }
        state.waiters.push((self.through, cx.waker().clone()));
        drop(state);
        syncer.wanted.notify_one();
        Poll::Pending
    }
}

impl Syncer {
    fn lock(&self) -> std::sync::MutexGuard<'_, SyncerState> {
        // Whole-field assignments only: a panic cannot leave it half-changed.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn run(&self, journal: &Journal) {
        let mut state = self.lock();
        loop {
            if state.stop {
                return;
            }
            if state.waiters.is_empty() || state.failed.is_some() {
                state = self.wanted.wait(state).unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            drop(state);
            let synced = journal.sync();
            state = self.lock();
            match synced {
                Ok(durable_next) => {
                    let (done, waiting): (Vec<_>, Vec<_>) = state
                        .waiters
                        .drain(..)
                        .partition(|(through, _)| *through <= durable_next);
                    state.waiters = waiting;
                    done.into_iter().for_each(|(_, waker)| waker.wake());
                }
                Err(error) => {
                    state.failed = Some(Arc::new(error));
                    state.waiters.drain(..).for_each(|(_, waker)| waker.wake());
                }
            }
        }
    }
}
