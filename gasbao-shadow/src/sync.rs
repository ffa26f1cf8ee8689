//! The device-side sync state machine: an explicit, total transition table.

use std::fmt;

use crate::error::SyncRefusal;

/// Where a device stands with the cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyncState {
    /// Nothing waits to be sent.
    Idle,
    /// Local writes wait in the offline queue; no link to send them on.
    PendingSync,
    /// The link is up and queued writes are being replayed.
    OfflineCommitting,
    /// A replay timed out or a field could not be merged; writes keep
    /// queueing until the conflict is resolved.
    SyncConflict,
}

/// How a conflict was resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResolvedBy {
    /// An operator chose.
    Manual,
    /// The device retried or a policy decided.
    Automatic,
}

/// What happens to a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SyncEvent {
    /// The device wrote locally and queued the write.
    LocalWrite,
    /// The link to the cloud came up.
    NetworkReady,
    /// The link went down.
    NetworkLost,
    /// The cloud acknowledged every queued write.
    AllAcknowledged,
    /// A replay got no answer in time.
    Timeout,
    /// The cloud reported a field it could not merge.
    Conflict,
    /// The conflict is settled; `queued` says whether writes still wait.
    Resolved {
        /// Who settled it.
        by: ResolvedBy,
        /// True if the offline queue is not empty.
        queued: bool,
    },
}

impl SyncEvent {
    /// Every event, each `Resolved` combination included, for tables and
    /// tests (an iterator, so that new events do not change its type).
    pub fn all() -> impl Iterator<Item = SyncEvent> {
        let resolved = [ResolvedBy::Manual, ResolvedBy::Automatic]
            .into_iter()
            .flat_map(|by| [false, true].map(|queued| SyncEvent::Resolved { by, queued }));
        [
            SyncEvent::LocalWrite,
            SyncEvent::NetworkReady,
            SyncEvent::NetworkLost,
            SyncEvent::AllAcknowledged,
            SyncEvent::Timeout,
            SyncEvent::Conflict,
        ]
        .into_iter()
        .chain(resolved)
    }
}

impl SyncState {
    /// Every state.
    pub fn all() -> impl Iterator<Item = SyncState> {
        [
            SyncState::Idle,
            SyncState::PendingSync,
            SyncState::OfflineCommitting,
            SyncState::SyncConflict,
        ]
        .into_iter()
    }

    /// The state after `event`, or why `event` cannot happen now. This is
    /// the whole table: every event in every state is one or the other.
    ///
    /// # Errors
    ///
    /// [`SyncRefusal`] naming the state, the event and the reason.
    pub fn on(self, event: SyncEvent) -> Result<SyncState, SyncRefusal> {
        use SyncEvent as E;
        use SyncState as S;
        let refuse = |reason| {
            Err(SyncRefusal {
                state: self,
                event,
                reason,
            })
        };
        match (self, event) {
            (S::Idle | S::PendingSync, E::LocalWrite) => Ok(S::PendingSync),
            (S::OfflineCommitting, E::LocalWrite) => Ok(S::OfflineCommitting),
            (S::SyncConflict, E::LocalWrite) => Ok(S::SyncConflict),

            (S::Idle, E::NetworkReady) => Ok(S::Idle),
            (S::PendingSync | S::OfflineCommitting, E::NetworkReady) => Ok(S::OfflineCommitting),
            (S::SyncConflict, E::NetworkReady) => Ok(S::SyncConflict),

            (S::Idle, E::NetworkLost) => Ok(S::Idle),
            (S::PendingSync | S::OfflineCommitting, E::NetworkLost) => Ok(S::PendingSync),
            (S::SyncConflict, E::NetworkLost) => Ok(S::SyncConflict),

            (S::OfflineCommitting, E::AllAcknowledged) => Ok(S::Idle),
            (S::SyncConflict, E::AllAcknowledged) => Ok(S::SyncConflict),
            (S::Idle | S::PendingSync, E::AllAcknowledged) => refuse("nothing was being sent"),

            (S::OfflineCommitting | S::SyncConflict, E::Timeout | E::Conflict) => Ok(S::SyncConflict),
            (S::Idle | S::PendingSync, E::Timeout) => refuse("nothing was being sent"),
            (S::Idle | S::PendingSync, E::Conflict) => refuse("conflicts arise only while replaying"),

            (S::SyncConflict, E::Resolved { queued: false, .. }) => Ok(S::Idle),
            (S::SyncConflict, E::Resolved { queued: true, .. }) => Ok(S::PendingSync),
            (S::Idle | S::PendingSync | S::OfflineCommitting, E::Resolved { .. }) => refuse("there is no conflict"),
        }
    }
}

/// One step of the machine, as observers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// The state before.
    pub from: SyncState,
    /// What happened.
    pub event: SyncEvent,
    /// The state after (may equal `from`).
    pub to: SyncState,
}

/// Called after every transition.
type TransitionObserver = Box<dyn FnMut(&Transition) + Send>;

/// A sync state with an observer that sees every transition.
pub struct SyncMachine {
    state: SyncState,
    observer: Option<TransitionObserver>,
}

impl SyncMachine {
    /// A machine in `Idle`.
    #[must_use]
    pub fn new() -> SyncMachine {
        SyncMachine::starting_at(SyncState::Idle)
    }

    /// A machine in `state` (recovered from a device's queue).
    #[must_use]
    pub fn starting_at(state: SyncState) -> SyncMachine {
        SyncMachine { state, observer: None }
    }

    /// This machine, calling `observer` after every transition.
    #[must_use]
    pub fn observe(mut self, observer: impl FnMut(&Transition) + Send + 'static) -> SyncMachine {
        self.observer = Some(Box::new(observer));
        self
    }

    /// The current state.
    #[must_use]
    pub fn state(&self) -> SyncState {
        self.state
    }

    /// Takes `event`: moves and tells the observer, or refuses and stays.
    ///
    /// # Errors
    ///
    /// [`SyncRefusal`] if the table does not allow `event` now; the state
    /// does not change and the observer is not called.
    pub fn handle(&mut self, event: SyncEvent) -> Result<Transition, SyncRefusal> {
        let to = self.state.on(event)?;
        let transition = Transition {
            from: self.state,
            event,
            to,
        };
        #[cfg(feature = "tracing")]
        tracing::debug!(from = ?transition.from, ?event, ?to, "shadow.sync transition");
        self.state = to;
        if let Some(observer) = &mut self.observer {
            observer(&transition);
        }
        Ok(transition)
    }
}

impl Default for SyncMachine {
    fn default() -> SyncMachine {
        SyncMachine::new()
    }
}

impl fmt::Debug for SyncMachine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncMachine")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}
