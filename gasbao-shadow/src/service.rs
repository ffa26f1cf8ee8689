//! The cloud side: AWS shadow operations over any store.

use std::sync::Arc;

use crate::document::{ConflictChoice, SectionName, ShadowDocument, UpdateOutcome, WriteContext};
use crate::error::{Rejection, ServiceError, StoreError};
use crate::names::ShadowId;
use crate::queue::QueueEntry;
use crate::replay::{ReplayReport, replay};
use crate::request::UpdateRequest;
use crate::response::{DeleteAccepted, DocumentsMessage};
use crate::rules::ShadowRules;
use crate::store::{ShadowStore, StoredShadow};
use crate::time::Timestamp;

/// How many times an update is retried when another writer changed the
/// shadow between its read and its write.
const CAS_ATTEMPTS: usize = 64;

/// The shadow service: get, update and delete as AWS does them, plus
/// idempotent replay of devices' offline queues and conflict resolution,
/// over a [`ShadowStore`].
///
/// Concurrent writers to one shadow are safe: each write is a
/// compare-and-set, retried on a lost race. A request that names a
/// `version` gets 409 if another write came first, as AWS does.
#[derive(Debug)]
pub struct ShadowService<S> {
    store: S,
    rules: ShadowRules,
}

/// An accepted update: what to publish on the reply topics.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UpdateReply {
    /// The accepted reply, the delta message, what was cleared or logged.
    pub outcome: UpdateOutcome,
    /// The document before the update.
    pub previous: Arc<StoredShadow>,
    /// The document after it.
    pub current: Arc<StoredShadow>,
}

impl UpdateReply {
    /// The `/update/documents` message.
    #[must_use]
    pub fn documents(&self) -> DocumentsMessage<'_> {
        DocumentsMessage {
            previous: &self.previous.document,
            current: &self.current.document,
            timestamp: self.outcome.accepted.timestamp,
            client_token: self.outcome.accepted.client_token.as_deref(),
        }
    }
}

impl<S: ShadowStore> ShadowService<S> {
    /// A service over `store` with `rules`.
    pub fn new(store: S, rules: ShadowRules) -> ShadowService<S> {
        ShadowService { store, rules }
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The rules.
    pub fn rules(&self) -> &ShadowRules {
        &self.rules
    }

    /// The shadow, as `get` returns it.
    ///
    /// # Errors
    ///
    /// [`ServiceError::Rejected`] with [`Rejection::NotFound`] if it was
    /// never written or is deleted; [`ServiceError::Store`] if the store fails.
    pub fn get(&self, id: &ShadowId) -> Result<Arc<StoredShadow>, ServiceError> {
        match self.store.load(id)? {
            Some(shadow) if !shadow.deleted => Ok(shadow),
            _ => Err(Rejection::NotFound { shadow: id.clone() }.into()),
        }
    }

    /// Applies an update request payload at `now`.
    ///
    /// # Errors
    ///
    /// [`ServiceError::Rejected`] with AWS's code and message;
    /// [`ServiceError::Store`] if the store fails (the update may or may
    /// not have been applied: retry it with its `version`).
    pub fn update(&self, id: &ShadowId, payload: &[u8], now: Timestamp) -> Result<UpdateReply, ServiceError> {
        let request = UpdateRequest::parse(payload, &self.rules.limits)?;
        self.apply(id, request, WriteContext::at(now))
    }

    /// Applies a parsed request in `context`.
    ///
    /// # Errors
    ///
    /// As [`update`](Self::update).
    pub fn apply(
        &self,
        id: &ShadowId,
        request: UpdateRequest,
        context: WriteContext,
    ) -> Result<UpdateReply, ServiceError> {
        let written = self.write(id, |shadow| {
            let outcome = shadow.document.apply(request.clone(), context, &self.rules)?;
            shadow.deleted = false;
            Ok((outcome.changed, outcome))
        })?;
        Ok(UpdateReply {
            outcome: written.value,
            previous: written.previous,
            current: written.current,
        })
    }

    /// Deletes the shadow at `now`. Its version is kept: the next update
    /// makes the version after it.
    ///
    /// # Errors
    ///
    /// [`Rejection::NotFound`] if there is no such shadow; [`ServiceError::Store`].
    pub fn delete(&self, id: &ShadowId, now: Timestamp) -> Result<DeleteAccepted, ServiceError> {
        let reply = self.write(id, |shadow| {
            if shadow.deleted || shadow.revision == 0 {
                return Err(Rejection::NotFound { shadow: id.clone() });
            }
            shadow.document.clear(now);
            shadow.deleted = true;
            Ok((true, ()))
        })?;
        Ok(DeleteAccepted {
            version: reply.current.document.version(),
            timestamp: now,
        })
    }

    /// Replays a device's queued entries in order, skipping those that took
    /// effect before; `base` is the version the device last synchronised
    /// with. The report says which entries the device may drop.
    ///
    /// # Errors
    ///
    /// [`ServiceError::Store`] if the store fails: nothing of this batch is
    /// acknowledged, and replaying it again is safe.
    pub fn replay(
        &self,
        id: &ShadowId,
        entries: &[&QueueEntry],
        base: u64,
    ) -> Result<(ReplayReport, Arc<StoredShadow>), ServiceError> {
        let reply = self.write(id, |shadow| {
            let report = replay(&mut shadow.document, &mut shadow.applied, entries, base, &self.rules);
            if !report.outcomes.is_empty() {
                shadow.deleted = shadow.deleted && shadow.document.is_empty();
            }
            Ok((true, report))
        })?;
        Ok((reply.value, reply.current))
    }

    /// Settles a conflict left by a replay.
    ///
    /// # Errors
    ///
    /// [`Rejection::TooLarge`] if the chosen value does not fit; [`ServiceError::Store`].
    pub fn resolve_conflict(
        &self,
        id: &ShadowId,
        section: SectionName,
        path: &str,
        choice: ConflictChoice,
        now: Timestamp,
    ) -> Result<Option<UpdateReply>, ServiceError> {
        let reply = self.write(id, |shadow| {
            let outcome =
                shadow
                    .document
                    .resolve_conflict(section, path, choice.clone(), WriteContext::at(now), &self.rules)?;
            Ok((outcome.is_some(), outcome))
        })?;
        Ok(reply.value.map(|outcome| UpdateReply {
            outcome,
            previous: reply.previous,
            current: reply.current,
        }))
    }

    /// Removes expired desired fields of the shadow at `now`.
    ///
    /// # Errors
    ///
    /// [`ServiceError::Store`].
    pub fn expire(&self, id: &ShadowId, now: Timestamp) -> Result<Vec<String>, ServiceError> {
        let reply = self.write(id, |shadow| {
            let expired = shadow.document.expire(now, &self.rules);
            Ok((!expired.is_empty(), expired))
        })?;
        Ok(reply.value)
    }

    /// Reads, changes and compare-and-sets the shadow until no other writer
    /// came between. `change` says whether it changed anything.
    fn write<T>(
        &self,
        id: &ShadowId,
        mut change: impl FnMut(&mut StoredShadow) -> Result<(bool, T), Rejection>,
    ) -> Result<WriteResult<T>, ServiceError> {
        for _ in 0..CAS_ATTEMPTS {
            let previous = self.store.load(id)?.unwrap_or_default();
            let mut next = StoredShadow::clone(&previous);
            let (changed, value) = change(&mut next)?;
            if !changed {
                let current = Arc::clone(&previous);
                return Ok(WriteResult {
                    value,
                    previous,
                    current,
                });
            }
            next.revision = previous.revision + 1;
            let expected = previous.revision;
            if self.store.compare_and_set(id, expected, next.clone())? {
                return Ok(WriteResult {
                    value,
                    previous,
                    current: Arc::new(next),
                });
            }
            #[cfg(feature = "tracing")]
            tracing::debug!(shadow = %id, revision = expected, "shadow.service lost a compare-and-set race; retrying");
        }
        #[cfg(feature = "tracing")]
        tracing::warn!(shadow = %id, attempts = CAS_ATTEMPTS, "shadow.service gave up on a contended shadow");
        Err(ServiceError::Store(StoreError::Contended {
            id: id.clone(),
            attempts: CAS_ATTEMPTS,
        }))
    }
}

/// What a write produced, with the shadow before and after.
struct WriteResult<T> {
    value: T,
    previous: Arc<StoredShadow>,
    current: Arc<StoredShadow>,
}

impl ShadowService<crate::store::MemoryStore> {
    /// A service on a fresh [`MemoryStore`](crate::MemoryStore).
    #[must_use]
    pub fn in_memory(rules: ShadowRules) -> Self {
        ShadowService::new(crate::store::MemoryStore::new(), rules)
    }
}

impl From<ShadowDocument> for StoredShadow {
    fn from(document: ShadowDocument) -> StoredShadow {
        StoredShadow {
            document,
            ..StoredShadow::default()
        }
    }
}
