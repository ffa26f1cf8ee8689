//! A coordinator log in memory: no I/O, nothing survives the process.

use std::sync::{Mutex, PoisonError};

use crate::env::BoxFuture;
use crate::error::LogError;
use crate::log::{CoordinatorLog, LogEntry, RecoveredLog};

/// A [`CoordinatorLog`] that keeps its state in memory: for tests, and to
/// measure what the coordinator costs beyond the disk. Clones share the state.
#[derive(Debug, Clone, Default)]
pub struct MemoryLog {
    state: std::sync::Arc<Mutex<RecoveredLog>>,
}

impl MemoryLog {
    /// An empty log.
    #[must_use]
    pub fn new() -> MemoryLog {
        MemoryLog::default()
    }
}

impl CoordinatorLog for MemoryLog {
    fn write<'a>(&'a self, entries: &'a [LogEntry], _durable: bool) -> BoxFuture<'a, Result<(), LogError>> {
        Box::pin(async move {
            self.state
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .apply_all(entries)
        })
    }

    fn recover(&self) -> BoxFuture<'_, Result<RecoveredLog, LogError>> {
        Box::pin(async move { Ok(self.state.lock().unwrap_or_else(PoisonError::into_inner).clone()) })
    }
}
