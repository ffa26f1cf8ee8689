//! The audit journal: every bill, settlement intent, decision and valve
//! command, hash-chained with SM3 and sealed by SM2-signed checkpoints. It
//! is also the service's memory across a crash.

use std::num::NonZeroU64;
use std::path::Path;
use std::sync::Arc;

use gasbao::core::journal::{
    CheckpointSigningKey, CheckpointVerifyingKey, FileStorage, Integrity, Journal, JournalOptions, VerifyReport, verify,
};
use serde::{Deserialize, Serialize};

use crate::Failure;
use crate::billing::Bill;

/// One audit record, as JSON in the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum AuditRecord {
    /// A bill was issued.
    Bill(Bill),
    /// A settlement is about to run as `gtid` (before its transaction is logged).
    Intent { account: u64, gtid: String },
    /// The coordinator made a decision durable.
    Decided {
        gtid: String,
        confirm: bool,
        reason: String,
    },
    /// The back end set a valve's desired state.
    Valve { meter: u32, valve: String, why: String },
}

/// The signed journal and the key that verifies it.
#[derive(Debug, Clone)]
pub(crate) struct Audit {
    journal: Arc<Journal>,
    verifying_key: CheckpointVerifyingKey,
    dir: std::path::PathBuf,
}

impl Audit {
    /// Opens the audit journal under `data_dir`, with the service's signing
    /// key (made on first start and kept beside it).
    pub(crate) fn open(data_dir: &Path) -> Result<Audit, Failure> {
        let key_path = data_dir.join("audit-signing-key.der");
        let key = match std::fs::read(&key_path) {
            Ok(der) => CheckpointSigningKey::from_pkcs8_der(&der)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = CheckpointSigningKey::generate()?;
                std::fs::write(&key_path, key.to_pkcs8_der()?)?;
                key
            }
            Err(e) => return Err(e.into()),
        };
        let verifying_key = key.verifying_key().clone();
        let every = NonZeroU64::new(256).ok_or("a checkpoint interval is not zero")?;
        let options = JournalOptions::default().integrity(Integrity::Signed {
            key: Arc::new(key),
            every,
        });
        let dir = data_dir.join("audit");
        let (journal, _) = Journal::open(FileStorage::new(&dir)?, options)?;
        Ok(Audit {
            journal: Arc::new(journal),
            verifying_key,
            dir,
        })
    }

    /// Appends `record`; it is durable when this returns.
    pub(crate) fn append(&self, record: &AuditRecord) -> Result<(), Failure> {
        self.journal.append(&serde_json::to_vec(record)?)?;
        Ok(())
    }

    /// Appends every record at once, durable when this returns.
    pub(crate) fn append_all(&self, records: &[AuditRecord]) -> Result<(), Failure> {
        let payloads = records.iter().map(serde_json::to_vec).collect::<Result<Vec<_>, _>>()?;
        self.journal.append_batch(payloads.iter().map(Vec::as_slice))?;
        Ok(())
    }

    /// Every record, oldest first.
    pub(crate) fn records(&self) -> Result<Vec<AuditRecord>, Failure> {
        let mut records = Vec::new();
        for record in self.journal.read_from(self.journal.first_seq())? {
            records.push(serde_json::from_slice(&record?.payload)?);
        }
        Ok(records)
    }

    /// Seals what is written and checks the whole journal: chain, and every
    /// checkpoint's signature against the service's key.
    pub(crate) fn seal_and_verify(&self) -> Result<VerifyReport, Failure> {
        self.journal.anchor()?;
        Ok(verify(
            &FileStorage::new(&self.dir)?,
            std::slice::from_ref(&self.verifying_key),
        )?)
    }
}
