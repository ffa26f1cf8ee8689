//! A decision log kept in gasbao-core's journal: crash-safe, and tamper-evident
//! when the journal is hash-chained and signed.

use std::sync::Arc;

use gasbao_core::journal::Journal;

use crate::error::DecisionLogError;
use crate::log::{DecisionLog, DecisionRecord};

/// Appends each decision to a [`Journal`] as one JSON record
/// ([`DecisionRecord::to_json`]).
///
/// A decision is returned only once its record is appended as the journal's
/// durability says: with group commit, many deciding threads share one
/// `fdatasync`.
#[derive(Debug, Clone)]
pub struct JournalDecisionLog {
    journal: Arc<Journal>,
}

impl JournalDecisionLog {
    /// Logs to `journal`.
    pub fn new(journal: Arc<Journal>) -> JournalDecisionLog {
        JournalDecisionLog { journal }
    }

    /// The journal, to read the log back or to checkpoint it.
    pub fn journal(&self) -> &Arc<Journal> {
        &self.journal
    }
}

impl DecisionLog for JournalDecisionLog {
    fn record(&self, decision: &DecisionRecord<'_>) -> Result<(), DecisionLogError> {
        self.journal
            .append(&decision.to_json())
            .map(drop)
            .map_err(DecisionLogError::Journal)
    }
}
