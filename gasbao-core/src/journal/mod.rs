//! A crash-safe, append-only journal of records in segment files.
//!
//! See [`Journal`]. Its on-disk format is documented in [`on_disk_format`]
//! and is versioned: files written by earlier versions stay readable.
//!
//! # Writing and reading
//! [`Journal`] appends, with the [`Durability`] chosen in [`JournalOptions`],
//! and holds its storage's writer lock: one writer per directory.
//! [`ReadOnlyJournal`] reads beside it, or after it, and changes nothing.
//! Both read through a [`JournalReader`] of [`Record`]s.
//!
//! # Integrity
//! [`Integrity`] chooses what protects the records: CRC32C checksums (format
//! version 1), an SM3 hash chain ([`ChainHash`]; versions 2 and 3), or the
//! chain sealed by SM2-signed [`Checkpoint`]s. A [`CheckpointSigner`] signs
//! them ([`CheckpointSigningKey`] in memory, or an HSM or KMS); verifiers
//! trust a set of [`CheckpointVerifyingKey`]s, so keys can be rotated.
//! [`verify`] checks a journal without changing it and names the first
//! failure, and [`VerifyReport::contains`] checks an anchor exported by
//! [`Journal::anchor`]; [`salvage`] copies the part of a damaged journal that
//! passes every check to a new place.
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
pub mod on_disk_format;
mod read_only;
mod reader;
mod salvage;
mod scan;
mod storage;
mod verify;

pub use chain::ChainHash;
pub use checkpoint::{
    CHECKPOINT_USER_ID, Checkpoint, CheckpointSignature, CheckpointSigner, CheckpointSigningKey,
    CheckpointVerifyingKey, KeyId, checkpoint_message,
};
pub use crash_storage::CrashStorage;
pub use error::{
    AppendError, Corruption, CorruptionKind, IntegrityKind, KeyError, OpenError, ReadError, SalvageError,
    SignatureError, StorageError,
};
pub use file_storage::FileStorage;
pub use journal::{Durability, Integrity, Journal, JournalOptions, Record, RecoveryReport, TornTail};
pub use memory_storage::MemoryStorage;
pub use metered_storage::MeteredStorage;
pub use read_only::ReadOnlyJournal;
pub use reader::JournalReader;
pub use salvage::{SalvageReport, salvage};
pub use storage::{Storage, StorageFile, WriterLock};
pub use verify::{SealedRange, VerifyReport, verify};
