//! SM2-signed checkpoints: a signature over the hash chain's head.
//!
//! A checkpoint record seals every record before it: it holds an SM2
//! signature (GB/T 32918, user ID `1234567812345678`, RFC 6979 nonces) over
//! [`checkpoint_message`], which names how many records precede it and the
//! chain hash after the last of them. Anyone holding the public key can check
//! that the journal up to there is exactly what the key's owner wrote.

use std::fmt;

use sm2::dsa::signature::{Signer, Verifier};
use sm2::dsa::{Signature, SigningKey, VerifyingKey};
use sm3::{Digest, Sm3};

use crate::journal::chain::{ChainHash, write_hex};
use crate::journal::error::{KeyError, SignatureError};

/// The SM2 user ID (distinguishing identifier) used for checkpoint
/// signatures: the standard's default, which other SM2 libraries also use.
pub const CHECKPOINT_USER_ID: &str = "1234567812345678";

/// Length of the message a checkpoint signs.
const MESSAGE_LEN: usize = 66;
const MESSAGE_TAG: &[u8; 26] = b"gasbao journal checkpoint\0";

/// The bytes a checkpoint signs: the tag `"gasbao journal checkpoint\0"`, the
/// number of records before the checkpoint (`u64`, little-endian) and the
/// chain hash after the last of them.
///
/// Sign or verify it with any SM2 implementation, using
/// [`CHECKPOINT_USER_ID`] as the user ID.
#[must_use]
pub fn checkpoint_message(records: u64, head: &ChainHash) -> [u8; MESSAGE_LEN] {
    let mut message = [0u8; MESSAGE_LEN];
    let (tag, rest) = message.split_at_mut(MESSAGE_TAG.len());
    tag.copy_from_slice(MESSAGE_TAG);
    let (count, hash) = rest.split_at_mut(8);
    count.copy_from_slice(&records.to_le_bytes());
    hash.copy_from_slice(head.as_bytes());
    message
}

/// Identifies a checkpoint key: the SM3 hash of its uncompressed SEC1 public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId([u8; 32]);

impl KeyId {
    /// The id from its 32 bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 32]) -> KeyId {
        KeyId(bytes)
    }

    /// The id's 32 bytes.
    #[must_use]
    pub const fn to_bytes(self) -> [u8; 32] {
        self.0
    }

    fn of(key: &VerifyingKey) -> KeyId {
        KeyId(Sm3::digest(key.to_sec1_bytes()).into())
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// An SM2 signature in its fixed 64-byte form, `r` then `s`, big-endian.
///
/// Only the canonical form is accepted: `r` and `s` each in `[1, n-1]`. A
/// signature with `s + n` in place of `s` (which some libraries accept) is
/// refused, so one signed checkpoint has exactly one valid encoding.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CheckpointSignature(Signature);

impl CheckpointSignature {
    /// Parses `r || s`.
    ///
    /// # Errors
    ///
    /// [`SignatureError::NonCanonical`] if `r` or `s` is 0 or not below the
    /// curve order.
    pub fn from_bytes(bytes: &[u8; 64]) -> Result<CheckpointSignature, SignatureError> {
        Signature::from_slice(bytes)
            .map(CheckpointSignature)
            .map_err(|_| SignatureError::NonCanonical)
    }

    /// The signature as `r || s`.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; 64] {
        self.0.to_bytes().into()
    }
}

impl fmt::Debug for CheckpointSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CheckpointSignature(")?;
        write_hex(f, &self.to_bytes())?;
        f.write_str(")")
    }
}

/// The private key that signs checkpoints.
///
/// Its `Debug` output shows only the [`KeyId`].
#[derive(Clone)]
pub struct CheckpointSigningKey {
    key: SigningKey,
    verifying: CheckpointVerifyingKey,
}

impl CheckpointSigningKey {
    /// The key from its 32-byte secret scalar, big-endian.
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidSecret`] if the scalar is 0 or not below the curve order.
    pub fn from_secret_bytes(secret: &[u8; 32]) -> Result<CheckpointSigningKey, KeyError> {
        let key = SigningKey::from_slice(CHECKPOINT_USER_ID, secret).map_err(|_| KeyError::InvalidSecret)?;
        let verifying = CheckpointVerifyingKey::new(key.verifying_key().clone());
        Ok(CheckpointSigningKey { key, verifying })
    }

    /// The public half, for verifying.
    #[must_use]
    pub fn verifying_key(&self) -> &CheckpointVerifyingKey {
        &self.verifying
    }

    /// Signs a checkpoint after `records` records whose chain ends in `head`.
    ///
    /// # Errors
    ///
    /// [`SignatureError::Signing`] in the (cryptographically negligible) case
    /// that the deterministic nonce yields no valid signature.
    pub fn sign(&self, records: u64, head: &ChainHash) -> Result<CheckpointSignature, SignatureError> {
        self.key
            .try_sign(&checkpoint_message(records, head))
            .map(CheckpointSignature)
            .map_err(|_| SignatureError::Signing)
    }
}

impl fmt::Debug for CheckpointSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckpointSigningKey")
            .field("key_id", &self.verifying.key_id)
            .finish_non_exhaustive()
    }
}

/// The public key that checks checkpoint signatures.
#[derive(Clone)]
pub struct CheckpointVerifyingKey {
    key: VerifyingKey,
    key_id: KeyId,
}

impl CheckpointVerifyingKey {
    fn new(key: VerifyingKey) -> CheckpointVerifyingKey {
        let key_id = KeyId::of(&key);
        CheckpointVerifyingKey { key, key_id }
    }

    /// The key from its SEC1 encoding (65 bytes uncompressed, `04 || x || y`,
    /// or 33 bytes compressed).
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidPublicKey`] if the bytes are not a point on the curve.
    pub fn from_sec1_bytes(bytes: &[u8]) -> Result<CheckpointVerifyingKey, KeyError> {
        VerifyingKey::from_sec1_bytes(CHECKPOINT_USER_ID, bytes)
            .map(CheckpointVerifyingKey::new)
            .map_err(|_| KeyError::InvalidPublicKey)
    }

    /// The key's uncompressed SEC1 encoding, `04 || x || y`.
    #[must_use]
    pub fn to_sec1_bytes(&self) -> Vec<u8> {
        self.key.to_sec1_bytes().into_vec()
    }

    /// Which key this is.
    #[must_use]
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// Checks `signature` on a checkpoint after `records` records whose chain
    /// ends in `head`.
    ///
    /// # Errors
    ///
    /// [`SignatureError::Mismatch`] if this key did not sign that checkpoint.
    pub fn verify(
        &self,
        records: u64,
        head: &ChainHash,
        signature: &CheckpointSignature,
    ) -> Result<(), SignatureError> {
        self.key
            .verify(&checkpoint_message(records, head), &signature.0)
            .map_err(|_| SignatureError::Mismatch)
    }
}

impl fmt::Debug for CheckpointVerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckpointVerifyingKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl PartialEq for CheckpointVerifyingKey {
    fn eq(&self, other: &CheckpointVerifyingKey) -> bool {
        self.key_id == other.key_id
    }
}

impl Eq for CheckpointVerifyingKey {}

/// A checkpoint found in a journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Checkpoint {
    /// How many records precede it: it seals records `0..records`.
    pub records: u64,
    /// The chain hash after the last of them.
    pub head: ChainHash,
    /// The key that signed it.
    pub key_id: KeyId,
    /// The signature over [`checkpoint_message`]`(records, head)`.
    pub signature: CheckpointSignature,
}

/// Length of a checkpoint record's payload: key id, then `r || s`.
pub(crate) const CHECKPOINT_PAYLOAD_LEN: usize = 96;

impl Checkpoint {
    /// A checkpoint record's payload.
    pub(crate) fn encode_payload(&self) -> [u8; CHECKPOINT_PAYLOAD_LEN] {
        let mut payload = [0u8; CHECKPOINT_PAYLOAD_LEN];
        let (id, signature) = payload.split_at_mut(32);
        id.copy_from_slice(&self.key_id.0);
        signature.copy_from_slice(&self.signature.to_bytes());
        payload
    }

    /// The checkpoint a record's payload holds, or why it cannot be one.
    pub(crate) fn decode_payload(records: u64, head: ChainHash, payload: &[u8]) -> Result<Checkpoint, SignatureError> {
        let payload: &[u8; CHECKPOINT_PAYLOAD_LEN] = payload.try_into().map_err(|_| SignatureError::Malformed)?;
        let (id, signature) = payload.split_at(32);
        let key_id = KeyId(id.try_into().map_err(|_| SignatureError::Malformed)?);
        let signature = CheckpointSignature::from_bytes(signature.try_into().map_err(|_| SignatureError::Malformed)?)?;
        Ok(Checkpoint {
            records,
            head,
            key_id,
            signature,
        })
    }

    /// Checks this checkpoint against `key`.
    pub(crate) fn check(&self, key: &CheckpointVerifyingKey) -> Result<(), SignatureError> {
        if self.key_id != key.key_id {
            return Err(SignatureError::OtherKey(self.key_id));
        }
        key.verify(self.records, &self.head, &self.signature)
    }
}
