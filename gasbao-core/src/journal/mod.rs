//! A crash-safe, append-only journal of records in segment files.
//!
//! See [`Journal`]. Its on-disk format is documented in the source of the
//! `format` module and is versioned: files written by version 1 stay readable.
//!
//! # Integrity
//! [`Integrity`] chooses what protects the records: CRC32C checksums (format
//! version 1), an SM3 hash chain ([`ChainHash`]; version 2), or the chain
//! sealed by SM2-signed [`Checkpoint`]s ([`CheckpointSigningKey`],
//! [`CheckpointVerifyingKey`]). [`verify`] checks a journal without changing
//! it and names the first failure; [`salvage`] copies its valid prefix to a
//! new place.
//!
//! # Storage
//! All I/O goes through [`Storage`] and [`StorageFile`]: [`FileStorage`] for a
//! directory on disk, [`MemoryStorage`] in memory, and [`CrashStorage`], which
//! simulates crashes, torn writes and I/O errors to prove what survives.
//! [`MeteredStorage`] wraps any of them to count `fdatasync`s.

mod chain;
mod checkpoint;
mod crash_storage;
mod durable;
mod error;
mod file_storage;
mod format;
mod gather;
#[allow(clippy::module_inception)]
mod journal;
mod memory_storage;
mod metered_storage;
mod salvage;
mod scan;
mod storage;
mod verify;

pub use chain::ChainHash;
pub use checkpoint::{
    CHECKPOINT_USER_ID, Checkpoint, CheckpointSignature, CheckpointSigningKey, CheckpointVerifyingKey, KeyId,
    checkpoint_message,
};
pub use crash_storage::CrashStorage;
pub use error::{
    AppendError, Corruption, CorruptionKind, KeyError, OpenError, ReadError, SalvageError, SignatureError, StorageError,
};
pub use file_storage::FileStorage;
pub use journal::{Durability, Integrity, Journal, JournalOptions, JournalReader, Record, RecoveryReport, TornTail};
pub use memory_storage::MemoryStorage;
pub use metered_storage::MeteredStorage;
pub use salvage::{SalvageReport, salvage};
pub use storage::{Storage, StorageFile};
pub use verify::{VerifyReport, verify};
