//! Checkpoint keys: generated, stored as PKCS#8, rotated, and held behind a
//! signer the journal does not trust blindly.
#![cfg(feature = "journal")]

use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

use gasbao_core::journal::{
    AppendError, CheckpointSignature, CheckpointSigner, CheckpointSigningKey, CheckpointVerifyingKey, CorruptionKind,
    Integrity, Journal, JournalOptions, KeyError, MemoryStorage, OpenError, SignatureError, verify,
};

/// Made by `openssl genpkey -algorithm SM2` (OpenSSL 3.0.19), with the
/// scalar and point `openssl pkey -text` printed for them.
const OPENSSL_PRIVATE: &str = include_str!("data/openssl-sm2-private.pem");
const OPENSSL_PUBLIC: &str = include_str!("data/openssl-sm2-public.pem");
const OPENSSL_SECRET_HEX: &str = "54e2e1108190b0b9fb9c113ff065727d7313b85db19fbc28b43a376de5ea9bf7";
const OPENSSL_POINT_HEX: &str = "04fa7b1f717c4bbee382f420bbc6a46ee0ddecb99d45f7edb9a2a84c07b95178c8a18a48228a5b4430adac723bcabe220fd8e6ceff5c4cd446e63d2d18d0f735fc";

static OLD: LazyLock<CheckpointSigningKey> =
    LazyLock::new(|| CheckpointSigningKey::from_secret_bytes(&[0x41; 32]).unwrap());
static NEW: LazyLock<CheckpointSigningKey> =
    LazyLock::new(|| CheckpointSigningKey::from_secret_bytes(&[0x42; 32]).unwrap());

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn signed_by(key: &CheckpointSigningKey) -> JournalOptions {
    JournalOptions::default().integrity(Integrity::Signed {
        key: Arc::new(key.clone()),
        every: NonZeroU64::new(4).unwrap(),
    })
}

#[test]
fn keys_made_by_openssl_read_back_as_the_same_key() {
    let key = CheckpointSigningKey::from_pkcs8_pem(OPENSSL_PRIVATE).unwrap();
    assert_eq!(hex(&key.verifying_key().to_sec1_bytes()), OPENSSL_POINT_HEX);
    let secret: [u8; 32] = (0..32)
        .map(|i| u8::from_str_radix(&OPENSSL_SECRET_HEX[2 * i..2 * i + 2], 16).unwrap())
        .collect::<Vec<_>>()
        .try_into()
        .unwrap();
    assert_eq!(
        CheckpointSigningKey::from_secret_bytes(&secret)
            .unwrap()
            .verifying_key(),
        key.verifying_key()
    );
    let public = CheckpointVerifyingKey::from_public_key_pem(OPENSSL_PUBLIC).unwrap();
    assert_eq!(&public, key.verifying_key());
    // What we write, OpenSSL's documents say again: the same DER inside.
    assert_eq!(public.to_public_key_pem().unwrap().trim(), OPENSSL_PUBLIC.trim());
}

#[test]
fn generated_keys_round_trip_through_der_and_pem() {
    let a = CheckpointSigningKey::generate().unwrap();
    let b = CheckpointSigningKey::generate().unwrap();
    assert_ne!(a.verifying_key(), b.verifying_key(), "two draws gave one key");
    let der = a.to_pkcs8_der().unwrap();
    assert_eq!(
        CheckpointSigningKey::from_pkcs8_der(&der).unwrap().verifying_key(),
        a.verifying_key()
    );
    let pem = a.to_pkcs8_pem().unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{pem}");
    assert_eq!(
        CheckpointSigningKey::from_pkcs8_pem(&pem).unwrap().verifying_key(),
        a.verifying_key()
    );
    let public_der = a.verifying_key().to_public_key_der().unwrap();
    assert_eq!(
        &CheckpointVerifyingKey::from_public_key_der(&public_der).unwrap(),
        a.verifying_key()
    );
}

#[test]
fn malformed_key_documents_are_refused() {
    let der = OLD.to_pkcs8_der().unwrap();
    for (case, bytes) in [
        ("empty", Vec::new()),
        ("cut short", der[..der.len() - 1].to_vec()),
        ("a public key", OLD.verifying_key().to_public_key_der().unwrap()),
    ] {
        assert_eq!(
            CheckpointSigningKey::from_pkcs8_der(&bytes).unwrap_err(),
            KeyError::Encoding,
            "{case}"
        );
    }
    assert_eq!(
        CheckpointVerifyingKey::from_public_key_der(&der).unwrap_err(),
        KeyError::Encoding
    );
    assert_eq!(
        CheckpointVerifyingKey::from_public_key_pem(OPENSSL_PRIVATE).unwrap_err(),
        KeyError::Encoding
    );
    assert_eq!(
        CheckpointSigningKey::from_pkcs8_pem(OPENSSL_PUBLIC).unwrap_err(),
        KeyError::Encoding
    );
}

/// Reopening with a new key refuses the old key's checkpoints until the old
/// key is trusted; then the new key signs on and `verify` says who sealed what.
#[test]
fn a_rotated_key_signs_on_and_the_old_one_stays_trusted() {
    let storage = MemoryStorage::new();
    let (journal, _) = Journal::open(storage.clone(), signed_by(&OLD)).unwrap();
    for i in 0..8u8 {
        journal.append(&[i]).unwrap();
    }
    drop(journal);

    match Journal::open(storage.clone(), signed_by(&NEW)) {
        Err(OpenError::Corrupt(c)) => assert_eq!(
            (c.seq, c.problem),
            (
                Some(4),
                CorruptionKind::BadCheckpoint(SignatureError::UntrustedKey(OLD.verifying_key().key_id()))
            )
        ),
        other => panic!("{other:?}"),
    }

    let rotated = signed_by(&NEW).trust(OLD.verifying_key().clone());
    let (journal, _) = Journal::open(storage.clone(), rotated.clone()).unwrap();
    for i in 8..13u8 {
        journal.append(&[i]).unwrap();
    }
    drop(journal);
    let both = [OLD.verifying_key().clone(), NEW.verifying_key().clone()];
    let report = verify(&storage, &both).unwrap();
    let sealed: Vec<_> = report.sealed.iter().map(|s| (s.records.clone(), s.key_id)).collect();
    // The old key after records 4 and 8; the new after 12.
    assert_eq!(
        sealed,
        [
            (0..8, OLD.verifying_key().key_id()),
            (8..12, NEW.verifying_key().key_id())
        ]
    );
    assert_eq!(report.unsealed_records(), 1);
    // An auditor with only the new key cannot vouch for the old records.
    assert!(matches!(
        verify(&storage, std::slice::from_ref(NEW.verifying_key())),
        Err(OpenError::Corrupt(c)) if c.problem == CorruptionKind::BadCheckpoint(SignatureError::UntrustedKey(OLD.verifying_key().key_id()))
    ));
    // Reopened again with the rotated options, the journal goes on.
    assert!(Journal::open(storage, rotated).is_ok());
}

/// A key in an HSM: the journal calls it for every checkpoint.
#[derive(Debug)]
struct Hsm {
    key: CheckpointSigningKey,
    calls: AtomicU64,
}

impl CheckpointSigner for Hsm {
    fn verifying_key(&self) -> CheckpointVerifyingKey {
        self.key.verifying_key().clone()
    }

    fn sign(&self, message: &[u8]) -> Result<CheckpointSignature, SignatureError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        CheckpointSigner::sign(&self.key, message)
    }
}

#[test]
fn an_external_signer_signs_every_checkpoint() {
    let hsm = Arc::new(Hsm {
        key: NEW.clone(),
        calls: AtomicU64::new(0),
    });
    let options = JournalOptions::default().integrity(Integrity::Signed {
        key: hsm.clone(),
        every: NonZeroU64::new(4).unwrap(),
    });
    let storage = MemoryStorage::new();
    let (journal, _) = Journal::open(storage.clone(), options).unwrap();
    for i in 0..9u8 {
        journal.append(&[i]).unwrap();
    }
    journal.checkpoint().unwrap();
    drop(journal);
    assert_eq!(hsm.calls.load(Ordering::Relaxed), 3);
    let report = verify(&storage, std::slice::from_ref(NEW.verifying_key())).unwrap();
    assert_eq!((report.checkpoints, report.unsealed_records()), (3, 0));
}

/// A signer answering with another key's signatures: caught before anything
/// is written, so the journal never holds a checkpoint that fails.
#[derive(Debug)]
struct WrongKey;

impl CheckpointSigner for WrongKey {
    fn verifying_key(&self) -> CheckpointVerifyingKey {
        NEW.verifying_key().clone()
    }

    fn sign(&self, message: &[u8]) -> Result<CheckpointSignature, SignatureError> {
        CheckpointSigner::sign(&*OLD, message)
    }
}

#[test]
fn a_signer_that_signs_with_another_key_fails_the_append() {
    let options = JournalOptions::default().integrity(Integrity::Signed {
        key: Arc::new(WrongKey),
        every: NonZeroU64::new(2).unwrap(),
    });
    let storage = MemoryStorage::new();
    let (journal, _) = Journal::open(storage.clone(), options).unwrap();
    journal.append(b"a").unwrap();
    assert!(matches!(
        journal.append(b"b"),
        Err(AppendError::Signing(SignatureError::Mismatch))
    ));
    assert_eq!(journal.next_seq(), 1, "the refused append took no number");
    drop(journal);
    assert_eq!(
        verify(&storage, std::slice::from_ref(NEW.verifying_key()))
            .unwrap()
            .next_seq,
        1
    );
}
