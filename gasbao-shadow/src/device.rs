//! The device side: local writes queue offline, replay on reconnect.

use std::fmt;

use gasbao_core::journal::Storage;
use serde_json::{Map, Value};

use crate::document::{FieldConflict, ShadowDocument, WriteContext};
use crate::error::{DeviceError, ServiceError, SyncRefusal};
use crate::names::ShadowId;
use crate::queue::{OfflineQueue, QueueEntry, QueueOptions, TxId};
use crate::replay::{EntryOutcome, ReplayReport};
use crate::request::UpdateRequest;
use crate::rules::ShadowRules;
use crate::service::ShadowService;
use crate::store::ShadowStore;
use crate::sync::{ResolvedBy, SyncEvent, SyncMachine, SyncState, Transition};
use crate::time::Timestamp;

/// The cloud as a device reaches it: replay a batch of queued entries,
/// get back what took effect and the shadow as it now is. A host
/// implements it over MQTT or HTTP; [`ShadowService`] implements it in
/// process.
pub trait CloudLink {
    /// Replays `entries` into the shadow `id`, given the version the
    /// device last synchronised with.
    ///
    /// # Errors
    ///
    /// [`LinkError`] if the cloud did not answer; the batch may or may not
    /// have taken effect, and replaying it again is safe.
    fn replay(
        &mut self,
        id: &ShadowId,
        entries: &[&QueueEntry],
        base: u64,
    ) -> Result<(ReplayReport, ShadowDocument), LinkError>;
}

/// A link failure: the outcome of the batch is unknown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// No answer in time.
    #[error("the cloud did not answer in time")]
    Timeout,
    /// The cloud answered with a failure.
    #[error("the cloud failed: {0}")]
    Failed(String),
}

impl<S: ShadowStore> CloudLink for &ShadowService<S> {
    fn replay(
        &mut self,
        id: &ShadowId,
        entries: &[&QueueEntry],
        base: u64,
    ) -> Result<(ReplayReport, ShadowDocument), LinkError> {
        match ShadowService::replay(self, id, entries, base) {
            Ok((report, shadow)) => Ok((report, shadow.document.clone())),
            Err(ServiceError::Rejected(rejection)) => Err(LinkError::Failed(rejection.to_string())),
            Err(ServiceError::Store(error)) => Err(LinkError::Failed(error.to_string())),
        }
    }
}

/// A device's shadow: its own view of the document, its offline queue,
/// and its sync state.
///
/// Local writes apply to the local view at once and are queued durably.
/// When the link comes up ([`network_ready`](Self::network_ready)),
/// [`sync`](Self::sync) replays the queue in batches; the cloud applies
/// each entry once (by tx id) and merges fields by its rules; the device
/// then adopts the cloud's document as its view and base. A timeout or a
/// field that cannot be merged leaves the device in
/// [`SyncState::SyncConflict`] with both values kept, until
/// [`resolved`](Self::resolved).
pub struct DeviceShadow {
    id: ShadowId,
    view: ShadowDocument,
    base_version: u64,
    queue: OfflineQueue,
    machine: SyncMachine,
    conflicts: Vec<FieldConflict>,
    refused: Vec<TxId>,
    rules: ShadowRules,
}

/// What one [`DeviceShadow::sync`] did.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct SyncReport {
    /// Entries the cloud applied.
    pub applied: usize,
    /// Entries it had applied before (a replay after a lost answer).
    pub skipped: usize,
    /// Entries it refused for good (bad request, too large).
    pub rejected: usize,
    /// Fields left in conflict.
    pub conflicts: Vec<FieldConflict>,
}

impl DeviceShadow {
    /// Opens the device's queue in `storage`. The device starts in
    /// `PendingSync` if entries wait from before, else `Idle`, with the base
    /// version it last adopted; its view is empty until it adopts the
    /// cloud's document again (or syncs).
    ///
    /// # Errors
    ///
    /// [`DeviceError::Queue`] if the queue cannot be opened.
    pub fn open(
        id: ShadowId,
        storage: impl Storage,
        options: QueueOptions,
        rules: ShadowRules,
    ) -> Result<DeviceShadow, DeviceError> {
        let queue = OfflineQueue::open(storage, options)?;
        let state = if queue.is_empty() {
            SyncState::Idle
        } else {
            SyncState::PendingSync
        };
        let base_version = queue.synced_version();
        Ok(DeviceShadow {
            id,
            view: ShadowDocument::new(),
            base_version,
            queue,
            machine: SyncMachine::starting_at(state),
            conflicts: Vec::new(),
            refused: Vec::new(),
            rules,
        })
    }

    /// This device, calling `observer` on every state transition.
    #[must_use]
    pub fn observe(mut self, observer: impl FnMut(&Transition) + Send + 'static) -> DeviceShadow {
        self.machine = SyncMachine::starting_at(self.machine.state()).observe(observer);
        self
    }

    /// The shadow's id.
    #[must_use]
    pub fn id(&self) -> &ShadowId {
        &self.id
    }

    /// The device's view: the cloud document at the last sync plus local
    /// writes since.
    #[must_use]
    pub fn view(&self) -> &ShadowDocument {
        &self.view
    }

    /// The cloud version the device last synchronised with.
    #[must_use]
    pub fn base_version(&self) -> u64 {
        self.base_version
    }

    /// The sync state.
    #[must_use]
    pub fn state(&self) -> SyncState {
        self.machine.state()
    }

    /// The offline queue.
    #[must_use]
    pub fn queue(&self) -> &OfflineQueue {
        &self.queue
    }

    /// Conflicts waiting to be resolved.
    #[must_use]
    pub fn conflicts(&self) -> &[FieldConflict] {
        &self.conflicts
    }

    /// Records what the device observed (`state.reported`) at `wall_ms`:
    /// applied to the view and queued durably.
    ///
    /// # Errors
    ///
    /// [`DeviceError::Rejected`] if the write breaks a limit (nothing
    /// queued); [`DeviceError::Queue`] if it could not be queued.
    pub fn report(&mut self, members: Map<String, Value>, wall_ms: u64) -> Result<QueueEntry, DeviceError> {
        self.write(UpdateRequest::reported(members), wall_ms)
    }

    /// Records a local desire (`state.desired`), such as a valve closed by
    /// the device on a leak alarm, at `wall_ms`.
    ///
    /// # Errors
    ///
    /// As [`report`](Self::report).
    pub fn desire(&mut self, members: Map<String, Value>, wall_ms: u64) -> Result<QueueEntry, DeviceError> {
        self.write(UpdateRequest::desired(members), wall_ms)
    }

    fn write(&mut self, request: UpdateRequest, wall_ms: u64) -> Result<QueueEntry, DeviceError> {
        // A request of JSON values always converts to a JSON value.
        let payload = serde_json::to_value(&request).unwrap_or_default();
        let mut view = self.view.clone();
        view.apply(
            request,
            WriteContext::at(Timestamp::from_secs(wall_ms / 1000)),
            &self.rules,
        )?;
        let entry = self.queue.push(&payload, wall_ms)?;
        self.view = view;
        self.machine.handle(SyncEvent::LocalWrite)?;
        Ok(entry)
    }

    /// The link came up.
    ///
    /// # Errors
    ///
    /// None in practice: the table accepts it in every state.
    pub fn network_ready(&mut self) -> Result<Transition, SyncRefusal> {
        self.machine.handle(SyncEvent::NetworkReady)
    }

    /// The link went down.
    ///
    /// # Errors
    ///
    /// None in practice: the table accepts it in every state.
    pub fn network_lost(&mut self) -> Result<Transition, SyncRefusal> {
        self.machine.handle(SyncEvent::NetworkLost)
    }

    /// Replays the queue to `cloud` in batches of `batch` entries. Each
    /// acknowledged batch is dropped from the queue and the cloud's
    /// document becomes the view. Ends in `Idle` once all is acknowledged;
    /// in `SyncConflict` on a timeout (at once), or after the last batch if
    /// a field is in conflict or an entry was refused.
    ///
    /// # Errors
    ///
    /// [`DeviceError::Refused`] in `PendingSync` (no link) or
    /// `SyncConflict`; in `Idle` there is nothing to do;
    /// [`DeviceError::Queue`] if acknowledgements cannot be written (the
    /// entries stay queued; replaying them again is safe).
    pub fn sync(&mut self, cloud: &mut impl CloudLink, batch: usize) -> Result<SyncReport, DeviceError> {
        if self.machine.state() == SyncState::Idle {
            return Ok(SyncReport::default());
        }
        if self.machine.state() != SyncState::OfflineCommitting {
            return Err(SyncRefusal {
                state: self.machine.state(),
                event: SyncEvent::AllAcknowledged,
                reason: "sync runs only while OfflineCommitting",
            }
            .into());
        }
        let mut report = SyncReport::default();
        loop {
            let entries: Vec<QueueEntry> = self
                .queue
                .pending()
                .filter(|e| !self.refused.contains(&e.tx_id))
                .take(batch.max(1))
                .cloned()
                .collect();
            if entries.is_empty() {
                break;
            }
            let refs: Vec<&QueueEntry> = entries.iter().collect();
            let (replayed, document) = match cloud.replay(&self.id, &refs, self.base_version) {
                Ok(answer) => answer,
                Err(_) => {
                    self.machine.handle(SyncEvent::Timeout)?;
                    return Ok(report);
                }
            };
            for (tx_id, outcome) in &replayed.outcomes {
                match outcome {
                    EntryOutcome::Applied { .. } | EntryOutcome::Unchanged => report.applied += 1,
                    EntryOutcome::Skipped => report.skipped += 1,
                    EntryOutcome::Rejected(_) => report.rejected += 1,
                    EntryOutcome::Refused(_) => self.refused.push(*tx_id),
                }
            }
            self.queue.acknowledge(&replayed.acknowledged())?;
            self.conflicts = document.conflicts().to_vec();
            self.adopt(document)?;
            report.conflicts.extend(replayed.conflicts);
        }
        // Every batch is delivered before conflicts are looked at: a disputed
        // label must not hold back the meter readings queued after it.
        if self.conflicts.is_empty() && self.refused.is_empty() {
            self.machine.handle(SyncEvent::AllAcknowledged)?;
        } else {
            self.machine.handle(SyncEvent::Conflict)?;
        }
        Ok(report)
    }

    /// Takes the cloud's document (from a `get`, or a sync with nothing
    /// queued) as the view and base, keeping local writes still queued. The
    /// base version is recorded in the queue, so that a restarted device
    /// merges against it.
    ///
    /// # Errors
    ///
    /// [`DeviceError::Queue`] if the base cannot be recorded; the view and
    /// base stay as they were.
    pub fn adopt(&mut self, document: ShadowDocument) -> Result<(), DeviceError> {
        self.queue.record_synced(document.version())?;
        self.base_version = document.version();
        self.view = document;
        for entry in self.queue.pending() {
            let at = WriteContext::at(Timestamp::from_secs(entry.version_stamp.physical_ms / 1000));
            // Each was applied to the view once before it was queued.
            if let Ok(payload) = entry.payload() {
                let request = UpdateRequest::from_value(payload, &self.rules.limits);
                let _ = request.and_then(|request| self.view.apply(request, at, &self.rules));
            }
        }
        Ok(())
    }

    /// The conflict was settled (in the cloud, by an operator, or by a
    /// retry after a timeout): forget the device's copy of it. Entries the
    /// cloud refused are dropped from the queue.
    ///
    /// # Errors
    ///
    /// [`DeviceError::Refused`] unless the device is `SyncConflict`;
    /// [`DeviceError::Queue`] if dropping refused entries fails.
    pub fn resolved(&mut self, by: ResolvedBy) -> Result<Transition, DeviceError> {
        if self.machine.state() != SyncState::SyncConflict {
            return Err(SyncRefusal {
                state: self.machine.state(),
                event: SyncEvent::Resolved { by, queued: false },
                reason: "there is no conflict",
            }
            .into());
        }
        let refused = std::mem::take(&mut self.refused);
        self.queue.acknowledge(&refused)?;
        self.conflicts.clear();
        Ok(self.machine.handle(SyncEvent::Resolved {
            by,
            queued: !self.queue.is_empty(),
        })?)
    }
}

impl fmt::Debug for DeviceShadow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceShadow")
            .field("id", &self.id)
            .field("state", &self.machine.state())
            .field("base_version", &self.base_version)
            .field("queued", &self.queue.len())
            .field("conflicts", &self.conflicts.len())
            .finish_non_exhaustive()
    }
}
