//! Every way a shadow operation can fail.

use std::sync::Arc;

use gasbao_core::journal::{AppendError, OpenError, ReadError};

use crate::names::ShadowId;
use crate::queue::TxId;
use crate::sync::{SyncEvent, SyncState};

/// A request the shadow service refuses, with AWS's status code and message.
///
/// [`code`](Self::code) and [`message`](Self::message) are exactly what the
/// AWS IoT Device Shadow service puts in its error document; `Display` adds
/// where the request went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The payload is not JSON.
    #[error("400 Invalid JSON: {detail}")]
    InvalidJson {
        /// The parser's complaint, with line and column.
        detail: String,
    },
    /// The request has no `state` member.
    #[error("400 Missing required node: state")]
    MissingState,
    /// `state` is neither an object nor `null`.
    #[error("400 State node must be an object")]
    StateNotObject,
    /// `state.desired` is neither an object nor `null`.
    #[error("400 Desired node must be an object")]
    DesiredNotObject,
    /// `state.reported` is neither an object nor `null`.
    #[error("400 Reported node must be an object")]
    ReportedNotObject,
    /// `state` has a member other than `desired` and `reported`.
    #[error("400 State contains an invalid node: {node:?}")]
    InvalidStateNode {
        /// The member's name.
        node: String,
    },
    /// `version` is not a whole number from 0 to 2^64-1.
    #[error("400 Invalid version")]
    InvalidVersion,
    /// `clientToken` is not a string, or is longer than the limit.
    #[error("400 Invalid clientToken: {reason}")]
    InvalidClientToken {
        /// What is wrong with it.
        reason: String,
    },
    /// A section nests deeper than the limit.
    #[error("400 JSON contains too many levels of nesting; maximum is {max}: state.{section} has {depth}")]
    TooDeep {
        /// `desired` or `reported`.
        section: &'static str,
        /// Its nesting depth.
        depth: usize,
        /// The limit.
        max: usize,
    },
    /// The shadow does not exist (get or delete of a shadow never written, or deleted).
    #[error("404 No shadow exists with name: {shadow}")]
    NotFound {
        /// Which shadow.
        shadow: ShadowId,
    },
    /// The request names a version other than the shadow's.
    #[error("409 Version conflict: the request expects version {expected}, the shadow is at {current}")]
    VersionConflict {
        /// The version the request named.
        expected: u64,
        /// The shadow's version.
        current: u64,
    },
    /// The request, or the state document it would make, is over its size limit.
    #[error("413 The payload exceeds the maximum size allowed: {what} would be {bytes} bytes, the limit is {max}")]
    TooLarge {
        /// `request` or `state document`.
        what: &'static str,
        /// Its size.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// The payload is not UTF-8.
    #[error("415 Unsupported documented encoding; supported encoding is UTF-8: invalid byte at offset {offset}")]
    NotUtf8 {
        /// Where the first invalid byte is.
        offset: usize,
    },
}

impl Rejection {
    /// The HTTP status code AWS uses for this rejection.
    #[must_use]
    pub fn code(&self) -> u16 {
        match self {
            Rejection::InvalidJson { .. }
            | Rejection::MissingState
            | Rejection::StateNotObject
            | Rejection::DesiredNotObject
            | Rejection::ReportedNotObject
            | Rejection::InvalidStateNode { .. }
            | Rejection::InvalidVersion
            | Rejection::InvalidClientToken { .. }
            | Rejection::TooDeep { .. } => 400,
            Rejection::NotFound { .. } => 404,
            Rejection::VersionConflict { .. } => 409,
            Rejection::TooLarge { .. } => 413,
            Rejection::NotUtf8 { .. } => 415,
        }
    }

    /// The message AWS puts in the error document, word for word.
    #[must_use]
    pub fn message(&self) -> String {
        match self {
            Rejection::InvalidJson { .. } => "Invalid JSON".into(),
            Rejection::MissingState => "Missing required node: state".into(),
            Rejection::StateNotObject => "State node must be an object".into(),
            Rejection::DesiredNotObject => "Desired node must be an object".into(),
            Rejection::ReportedNotObject => "Reported node must be an object".into(),
            Rejection::InvalidStateNode { .. } => "State contains an invalid node".into(),
            Rejection::InvalidVersion => "Invalid version".into(),
            Rejection::InvalidClientToken { .. } => "Invalid clientToken".into(),
            Rejection::TooDeep { max, .. } => format!("JSON contains too many levels of nesting; maximum is {max}"),
            Rejection::NotFound { shadow } => match &shadow.name {
                Some(name) => format!("No shadow exists with name: '{}~{name}'", shadow.thing),
                None => format!("No shadow exists with name: '{}'", shadow.thing),
            },
            Rejection::VersionConflict { .. } => "Version conflict".into(),
            Rejection::TooLarge { .. } => "The payload exceeds the maximum size allowed".into(),
            Rejection::NotUtf8 { .. } => "Unsupported documented encoding; supported encoding is UTF-8".into(),
        }
    }
}

/// A thing or shadow name AWS would not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// The name is empty.
    #[error("a {kind} name cannot be empty")]
    Empty {
        /// `thing` or `shadow`.
        kind: &'static str,
    },
    /// The name is too long.
    #[error("a {kind} name is at most {max_bytes} bytes; this one is {bytes}")]
    TooLong {
        /// `thing` or `shadow`.
        kind: &'static str,
        /// Its length.
        bytes: usize,
        /// The limit.
        max_bytes: usize,
    },
    /// The name has a character outside `a-z A-Z 0-9 : _ -`.
    #[error("a {kind} name may hold only a-z A-Z 0-9 : _ -; {character:?} at byte {at} is not one of them")]
    InvalidCharacter {
        /// `thing` or `shadow`.
        kind: &'static str,
        /// The character.
        character: char,
        /// Its byte offset.
        at: usize,
    },
}

/// A string that is not a shadow topic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TopicError {
    /// Not of the form `$aws/things/{thing}/shadow[/name/{name}]/{operation}[/{reply}]`.
    #[error("{topic:?} is not a shadow topic")]
    NotShadowTopic {
        /// The topic.
        topic: String,
    },
    /// The thing or shadow name in it is not valid.
    #[error("{topic:?} names an invalid thing or shadow")]
    Name {
        /// The topic.
        topic: String,
        /// What is wrong with the name.
        #[source]
        source: NameError,
    },
    /// Only update has delta and documents replies.
    #[error("{topic:?} does not exist: only update has delta and documents replies")]
    NoSuchReply {
        /// The topic that was asked for.
        topic: String,
    },
}

/// A failure of the offline queue.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// The journal could not be opened.
    #[error("the offline queue's journal could not be opened")]
    Open(#[source] Arc<OpenError>),
    /// The journal could not be written; nothing after this call is acknowledged.
    #[error("the offline queue's journal could not be written")]
    Append(#[source] Arc<AppendError>),
    /// The journal could not be read back.
    #[error("the offline queue's journal could not be read")]
    Read(#[source] Arc<ReadError>),
    /// A record in the journal is not one this crate writes.
    #[error("record {seq} of the offline queue is not a queue record: {reason}")]
    Corrupt {
        /// Its sequence number.
        seq: u64,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Every transaction id of this origin has been issued.
    #[error("origin {origin:x} has no transaction id left")]
    IdsExhausted {
        /// The device's origin number.
        origin: u64,
    },
}

/// A replayed entry that must not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The transaction was applied before with a different payload.
    #[error("transaction {tx_id} was applied before with another payload (hash {applied}, now {replayed})")]
    TxIdReused {
        /// The transaction.
        tx_id: TxId,
        /// The hash applied first, in hex.
        applied: String,
        /// The hash replayed now, in hex.
        replayed: String,
    },
    /// The payload's hash does not match the one stored with it.
    #[error("transaction {tx_id}'s payload does not match its hash")]
    HashMismatch {
        /// The transaction.
        tx_id: TxId,
    },
}

/// A failure of a [`ShadowStore`](crate::ShadowStore).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The journal could not be opened.
    #[error("the shadow store's journal could not be opened")]
    Open(#[source] OpenError),
    /// The journal could not be written; the update is not applied.
    #[error("the shadow store's journal could not be written")]
    Append(#[source] AppendError),
    /// The journal could not be read back.
    #[error("the shadow store's journal could not be read")]
    Read(#[source] ReadError),
    /// A record in the journal is not one this crate writes.
    #[error("record {seq} of the shadow store is not a store record: {reason}")]
    Corrupt {
        /// Its sequence number.
        seq: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A database row of the store does not hold a shadow this crate wrote
    /// (changed by hand, or by another program).
    #[error("the stored row of shadow {shadow} is not a shadow record: {reason}")]
    CorruptRow {
        /// The shadow the row is for, as its key columns name it.
        shadow: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A database behind the store failed: a write may or may not have happened.
    #[error("the shadow store's database failed")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Other writers kept changing the shadow between this write's read
    /// and its compare-and-set.
    #[error("shadow {id} changed under {attempts} attempts to write it")]
    Contended {
        /// Which shadow.
        id: ShadowId,
        /// How many times the write was tried.
        attempts: usize,
    },
    /// Records were removed and no complete snapshot follows them.
    #[error("the shadow store starts at record {first_seq} but has no snapshot of what came before")]
    MissingSnapshot {
        /// The oldest record kept.
        first_seq: u64,
    },
}

/// Why a [`ShadowService`](crate::ShadowService) operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The request is refused as AWS would refuse it; nothing changed.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// The store failed; a write may or may not have happened. AWS answers
    /// this with 500 "Internal service failure".
    #[error("the shadow store failed")]
    Store(#[from] StoreError),
}

impl ServiceError {
    /// The HTTP status code to answer with.
    #[must_use]
    pub fn code(&self) -> u16 {
        match self {
            ServiceError::Rejected(rejection) => rejection.code(),
            ServiceError::Store(_) => 500,
        }
    }

    /// AWS's message for it.
    #[must_use]
    pub fn message(&self) -> String {
        match self {
            ServiceError::Rejected(rejection) => rejection.message(),
            ServiceError::Store(_) => "Internal service failure".into(),
        }
    }
}

/// Why a [`DeviceShadow`](crate::DeviceShadow) operation failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// The write breaks a shadow rule; nothing was queued.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// The offline queue failed.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// The sync state machine does not allow this now.
    #[error(transparent)]
    Refused(#[from] SyncRefusal),
}

/// An event the sync state machine does not accept in its current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{event:?} is not allowed in state {state:?}: {reason}")]
pub struct SyncRefusal {
    /// The state.
    pub state: SyncState,
    /// The event.
    pub event: SyncEvent,
    /// Why not.
    pub reason: &'static str,
}
