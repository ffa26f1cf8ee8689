//! Device shadows for gas meters and valves.
//!
//! The back end keeps, for each device, what it wants (`desired`: close the
//! valve, a new reporting interval) and what the device last said
//! (`reported`: valve position, meter index, battery, alarms); the device
//! acts on the difference (`delta`) and reports back. This crate implements
//! that document exactly as the AWS IoT Device Shadow service does, and adds
//! what AWS leaves to its users: an offline write-ahead queue on the device,
//! idempotent replay, per-field merge rules, and desired fields that do not
//! come back as ghost commands. It is used on both sides: in the cloud
//! service that stores shadows and in gateway or device firmware.
//!
//! # Quick start
//!
//! ```
//! use gasbao_core::journal::MemoryStorage;
//! use gasbao_shadow::*;
//! use serde_json::json;
//!
//! let rules = ShadowRules::default()
//!     .merge("meter.index", FieldPolicy::MaxWins)
//!     .merge("valve", FieldPolicy::SafetyFirst { safe: json!("closed") });
//! let meter = ShadowId::classic(ThingName::new("meter-7")?);
//! let cloud = ShadowService::in_memory(rules.clone());
//! cloud.update(&meter, br#"{"state": {"desired": {"valve": "open"}}}"#, Timestamp::from_secs(1_700_000_000))?;
//!
//! // The device goes offline, reads the meter and closes its valve on a leak alarm.
//! let mut device = DeviceShadow::open(meter.clone(), MemoryStorage::new(), QueueOptions::new(7), rules)?;
//! device.adopt(cloud.get(&meter)?.document.clone())?;
//! device.report(json!({"meter": {"index": 1042.5}}).as_object().unwrap().clone(), 1_700_000_100_000)?;
//! device.desire(json!({"valve": "closed"}).as_object().unwrap().clone(), 1_700_000_200_000)?;
//!
//! // Meanwhile an operator asks for the valve to open.
//! cloud.update(&meter, br#"{"state": {"desired": {"valve": "open", "interval_s": 900}}}"#, Timestamp::from_secs(1_700_000_300))?;
//!
//! // Back online: the queue replays, closed beats open, the device adopts the result.
//! device.network_ready()?;
//! device.sync(&mut &cloud, 16)?;
//! assert_eq!(device.state(), SyncState::Idle);
//! let shadow = cloud.get(&meter)?;
//! assert_eq!(shadow.document.desired()["valve"], "closed");
//! assert_eq!(shadow.document.delta()["interval_s"], 900);
//! assert_eq!(device.view().desired(), shadow.document.desired());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # AWS semantics
//!
//! [`ShadowDocument`] applies an [`UpdateRequest`] as the AWS IoT Device
//! Shadow service does: members merge one by one; `null` deletes a member,
//! and `"desired": null` or `"state": null` a whole section; arrays are
//! replaced whole; an object or section left empty is removed; `delta`
//! holds exactly the desired leaves that `reported` does not match, with the
//! path to them; every leaf has a `metadata` timestamp; a request that names
//! a `version` other than the shadow's is refused with 409; the documented
//! limits ([`Limits`]: 8 KiB of state, 6 levels, 64-byte client tokens,
//! 128 KiB requests) are checked locally and can be changed. Every
//! [`Rejection`] carries AWS's status code and message word for word.
//! Deleting a shadow keeps its version: the next update makes the one after.
//! [`ShadowTopic`] builds and parses the MQTT topic names, and the response
//! types ([`UpdateAccepted`], [`DeltaMessage`], [`DocumentsMessage`],
//! [`DocumentView`], [`DeleteAccepted`], [`ErrorDocument`]) serialize as
//! AWS's documents. The crate has no MQTT or network dependency: the host
//! moves the bytes.
//!
//! # Where AWS is ambiguous
//!
//! | question | this crate |
//! |---|---|
//! | how nesting depth is counted | the section object is level 1: `{"a": {"b": 1}}` under `desired` is 2 levels; an array is a level like an object |
//! | `2` against `2.0` | the same number: no delta (the stored value keeps the form it was written in) |
//! | `"desired": {}` | accepted, changes no field, bumps the version (unless no-op updates are skipped) |
//! | an empty object sent for a field that holds a scalar | changes nothing |
//! | members of `state` other than `desired` and `reported` (even `delta`) | 400 "State contains an invalid node" |
//! | top-level members other than `state`, `clientToken`, `version` | ignored |
//! | what the size limit counts | `{"desired":..,"reported":..}` in compact JSON, without metadata or delta |
//! | which fields an `/update/delta` message lists | those the update wrote that differ from reported; an update that writes no desired field publishes none |
//!
//! # Beyond AWS
//!
//! - **Offline queue** ([`OfflineQueue`]): each local write is durable when
//!   [`push`](OfflineQueue::push) returns, with a globally unique [`TxId`]
//!   (the device's origin number and its counter), a hybrid-logical-clock
//!   [`VersionStamp`] that stays monotonic when the wall clock steps back, and
//!   the SHA-256 of the canonical payload ([`PayloadHash`]). Acknowledged
//!   entries are removed and their journal segments deleted.
//! - **Idempotent replay** ([`replay`], [`ShadowService::replay`]): entries
//!   apply in stamp order; one that took effect before is skipped by tx id
//!   ([`AppliedIndex`]); the same tx id with another payload is refused
//!   ([`ReplayError::TxIdReused`]) and never applied.
//! - **Per-field merge** ([`FieldPolicy`]): a replayed write meets each field
//!   the cloud changed after the device's last sync (three-way: a field
//!   changed on one side only never conflicts) under the field's policy:
//!   last writer wins by stamp, max wins for meter indexes, safety first
//!   for valves, manual (a [`FieldConflict`] keeps both values until
//!   [`ShadowDocument::resolve_conflict`]), or the user's own
//!   [`MergePolicy`].
//! - **No ghost or collapsed commands** ([`DesiredField`]): a desired field
//!   can clear itself when the device reports the same value, expire after a
//!   time to live, or keep every value written, in order, in the shadow's
//!   [`CommandLog`]. [`ShadowRules::skip_no_op_updates`] stops version storms
//!   from updates that change nothing.
//! - **Device side** ([`DeviceShadow`]): local writes, the queue and the sync
//!   state machine ([`SyncState`]: `Idle`, `PendingSync`,
//!   `OfflineCommitting`, `SyncConflict`), whose transition table is total
//!   ([`SyncState::on`]) and observable ([`Transition`]).
//! - **Cloud side** ([`ShadowService`]): AWS's get, update and delete, replay
//!   and conflict resolution over a [`ShadowStore`], a compare-and-set
//!   store trait; [`JournalStore`] keeps shadows in a gasbao-core journal
//!   with an in-memory index rebuilt on open, [`MemoryStore`] in memory,
//!   and `postgres::PgShadowStore` (feature `postgres`) in a PostgreSQL
//!   table shared by many API nodes.
//!
//! # Guarantees
//!
//! | failure | what holds |
//! |---|---|
//! | a rejected request (any code) | the shadow is unchanged: nothing is applied, the version does not move |
//! | an accepted request | the version moves by exactly one (none if it changed nothing and no-op updates are skipped) |
//! | the device loses power at any moment | every entry whose `push` returned survives; counters and stamps continue after the newest |
//! | a replay is repeated (lost answer, retry, crash before the acknowledgement was written) | each entry takes effect once |
//! | two writers update one shadow at once | each write is a compare-and-set; a request with a `version` gets 409 if another came first, never a lost update |
//! | the cloud store crashes | every update that returned is in the store when it reopens |
//!
//! # Known limits
//!
//! - Merge policies judge replayed writes only; a plain update is applied as
//!   AWS applies it. A field the cloud deleted after the device's base leaves
//!   no metadata, so a replayed write to it is taken as the device's change.
//! - The applied index keeps payload hashes for each device's latest 1,024
//!   transactions; an older tx id replayed again is skipped without
//!   comparing its payload.
//! - [`JournalStore`] writes one record per update (the whole document) with
//!   one `fdatasync` each, serialized: fine for one gateway or a test
//!   service, not for a fleet's cloud (that is what the PostgreSQL store
//!   is for).
//! - `postgres::PgShadowStore` blocks its caller on the tokio runtime it was
//!   opened on (the store trait is synchronous): call the service from a
//!   thread of your own or `spawn_blocking`.
//! - Desired-field rules apply to their exact path; merge policies to the
//!   path and everything under it.
//! - Authentication, authorization and the 429 in-flight limit belong to the
//!   host's MQTT or HTTP layer.
//!
//! # Map
//!
//! - Documents: [`ShadowDocument`], [`UpdateRequest`], [`SectionUpdate`],
//!   [`SectionName`], [`UpdateOutcome`], [`WriteContext`], [`Replayed`],
//!   [`Metadata`], [`Written`], [`Timestamp`].
//! - Rules: [`ShadowRules`], [`Limits`], [`FieldPolicy`], [`MergePolicy`],
//!   [`Side`], [`Decision`], [`DesiredField`], [`CommandLog`], [`Command`],
//!   [`FieldConflict`], [`ConflictChoice`].
//! - Wire: [`UpdateAccepted`], [`DeltaMessage`], [`DocumentsMessage`],
//!   [`DocumentView`], [`DeleteAccepted`], [`ErrorDocument`],
//!   [`ShadowTopic`], [`Operation`], [`Reply`], [`ShadowId`], [`ThingName`],
//!   [`ShadowName`].
//! - Offline queue and replay: [`OfflineQueue`], [`QueueOptions`],
//!   [`QueueEntry`], [`TxId`], [`PayloadHash`], [`HybridClock`],
//!   [`VersionStamp`], [`replay`], [`AppliedIndex`], [`Admission`],
//!   [`ReplayReport`], [`EntryOutcome`].
//! - Device: [`DeviceShadow`], [`CloudLink`], [`LinkError`], [`SyncReport`],
//!   [`SyncMachine`], [`SyncState`], [`SyncEvent`], [`ResolvedBy`],
//!   [`Transition`].
//! - Cloud: [`ShadowService`], [`UpdateReply`], [`ShadowStore`],
//!   [`StoredShadow`], [`JournalStore`], [`MemoryStore`].
//! - With feature `postgres`: `postgres::PgShadowStore`, its migrations.
//! - With feature `tracing`: events for queue and store recovery, store
//!   snapshots, replays (with a warning per refused entry and per field
//!   left in conflict), lost compare-and-set races and sync transitions.
//! - Errors: [`Rejection`], [`ServiceError`], [`StoreError`],
//!   [`QueueError`], [`ReplayError`], [`DeviceError`], [`SyncRefusal`],
//!   [`NameError`], [`TopicError`].

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The README's examples run as doctests, so the quick start stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod commands;
mod device;
mod document;
mod error;
mod hlc;
mod journal_store;
mod json;
mod metadata;
mod names;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod postgres;
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
