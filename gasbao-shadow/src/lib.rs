//! Device shadows for gas meters and valves.
//!
//! Crate docs are completed below.

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod commands;
mod device;
mod document;
mod error;
mod hlc;
mod journal_store;
mod json;
mod metadata;
mod names;
mod queue;
mod replay;
mod request;
mod response;
mod rules;
mod service;
mod store;
mod sync;
mod time;
mod topic;

pub use commands::{Command, CommandLog};
pub use device::{CloudLink, DeviceShadow, LinkError, SyncReport};
pub use document::{ConflictChoice, FieldConflict, Replayed, SectionName, ShadowDocument, UpdateOutcome, WriteContext};
pub use error::{
    DeviceError, NameError, QueueError, Rejection, ReplayError, ServiceError, StoreError, SyncRefusal, TopicError,
};
pub use hlc::{HybridClock, VersionStamp};
pub use journal_store::JournalStore;
pub use metadata::{Metadata, Written};
pub use names::{MAX_SHADOW_NAME_BYTES, MAX_THING_NAME_BYTES, ShadowId, ShadowName, ThingName};
pub use queue::{OfflineQueue, PayloadHash, QueueEntry, QueueOptions, TxId};
pub use replay::{Admission, AppliedIndex, EntryOutcome, ReplayReport, replay};
pub use request::{SectionUpdate, UpdateRequest};
pub use response::{DeleteAccepted, DeltaMessage, DocumentView, DocumentsMessage, ErrorDocument, UpdateAccepted};
pub use rules::{Decision, DesiredField, FieldPolicy, Limits, MergePolicy, ShadowRules, Side};
pub use service::{ShadowService, UpdateReply};
pub use store::{MemoryStore, ShadowStore, StoredShadow};
pub use sync::{ResolvedBy, SyncEvent, SyncMachine, SyncState, Transition};
pub use time::Timestamp;
pub use topic::{Operation, Reply, ShadowTopic};
