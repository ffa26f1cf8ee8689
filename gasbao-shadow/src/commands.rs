//! The ordered log of desired values, so that close-then-open is not
//! collapsed into open.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::time::Timestamp;

/// One desired value as it was written, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Command {
    /// Its place in the shadow's command log, from 1.
    pub seq: u64,
    /// The desired field's dotted path.
    pub path: String,
    /// The value written (`None`: the field was deleted).
    pub value: Option<Value>,
    /// The shadow version that wrote it.
    pub version: u64,
    /// When.
    pub at: Timestamp,
}

/// Every desired value written to an ordered field
/// ([`DesiredField::ordered`](crate::DesiredField::ordered)) that the
/// device has not acknowledged yet, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CommandLog {
    pending: VecDeque<Command>,
    next_seq: u64,
}

impl CommandLog {
    /// Commands after `seq`, oldest first.
    pub fn since(&self, seq: u64) -> impl Iterator<Item = &Command> {
        self.pending.iter().filter(move |command| command.seq > seq)
    }

    /// How many commands wait.
    #[must_use]
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// True if no command waits.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    pub(crate) fn push(&mut self, path: String, value: Option<Value>, version: u64, at: Timestamp) -> Command {
        self.next_seq += 1;
        let command = Command {
            seq: self.next_seq,
            path,
            value,
            version,
            at,
        };
        self.pending.push_back(command.clone());
        command
    }

    pub(crate) fn acknowledge(&mut self, seq: u64) {
        while self.pending.front().is_some_and(|command| command.seq <= seq) {
            self.pending.pop_front();
        }
    }
}
