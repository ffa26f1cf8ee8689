//! SM2-signed checkpoints: a signature over the hash chain's head.
//!
//! A checkpoint record seals every record before it: it holds an SM2
//! signature (GB/T 32918, user ID `1234567812345678`, RFC 6979 nonces) over
//! [`checkpoint_message`], which names how many records precede it, the
//! chain hash after the last of them and its segment's checkpoint interval.
//! Anyone holding the public key can check that the journal up to there is
//! exactly what the key's owner wrote.

use std::fmt;

use sm2::dsa::signature::{Signer, Verifier};
use sm2::dsa::{Signature, SigningKey, VerifyingKey};
use sm2::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use sm2::{PublicKey, SecretKey};
use sm3::{Digest, Sm3};

use crate::journal::chain::{ChainHash, write_hex};
use crate::journal::error::{KeyError, SignatureError};

/// The SM2 user ID (distinguishing identifier) used for checkpoint
/// signatures: the standard's default, which other SM2 libraries also use.
pub const CHECKPOINT_USER_ID: &str = "1234567812345678";

/// The tag a version 2 checkpoint message starts with.
const MESSAGE_TAG_V2: &[u8; 26] = b"gasbao journal checkpoint\0";
/// The tag a version 3 checkpoint message starts with.
const MESSAGE_TAG_V3: &[u8; 26] = b"gasbao journal checkpoint\x03";

/// The bytes a checkpoint signs.
///
/// In a version 3 segment (`interval` is `Some`): the tag
/// `"gasbao journal checkpoint\x03"`, the number of records before the
/// checkpoint (`u64`, little-endian), the chain hash after the last of them,
/// and the segment's checkpoint interval (`u64`, little-endian), 74 bytes.
/// Signing the interval is what lets [`verify`](crate::journal::verify) tell
/// checkpoints removed by a forger from records not yet sealed. In a version 2
/// segment (`None`): the tag `"gasbao journal checkpoint\0"`, the count and
/// the chain hash, 66 bytes.
///
/// Sign or verify it with any SM2 implementation, using
/// [`CHECKPOINT_USER_ID`] as the user ID.
#[must_use]
pub fn checkpoint_message(records: u64, head: &ChainHash, interval: Option<u64>) -> Vec<u8> {
    let mut message = Vec::with_capacity(74);
    message.extend_from_slice(if interval.is_some() {
        MESSAGE_TAG_V3
    } else {
        MESSAGE_TAG_V2
    });
    message.extend_from_slice(&records.to_le_bytes());
    message.extend_from_slice(head.as_bytes());
    if let Some(interval) = interval {
        message.extend_from_slice(&interval.to_le_bytes());
    }
    message
}

/// Signs checkpoints for a journal: the built-in [`CheckpointSigningKey`], or
/// a key kept in an HSM or a KMS.
///
/// A signer must produce SM2 signatures (GB/T 32918) with
/// [`CHECKPOINT_USER_ID`] as the user ID. Unless
/// [`check_each_signature`](Self::check_each_signature) says otherwise, the
/// journal checks each signature it is given against
/// [`verifying_key`](Self::verifying_key) before writing it, so a signer that
/// returns a wrong one (another key's, a garbled reply) fails the append
/// rather than leaving a journal that no longer verifies.
pub trait CheckpointSigner: Send + Sync + fmt::Debug + 'static {
    /// The public half of the signing key.
    fn verifying_key(&self) -> CheckpointVerifyingKey;

    /// Signs `message`, a [`checkpoint_message`].
    ///
    /// # Errors
    ///
    /// [`SignatureError::Signing`] (or another variant that says why) if no
    /// signature could be made; the checkpoint and the records it would have
    /// sealed are then not appended.
    fn sign(&self, message: &[u8]) -> Result<CheckpointSignature, SignatureError>;

    /// Whether the journal verifies each signature before writing it: `true`
    /// unless overridden. A verification costs about as much as a signature
    /// and more, so a signer that cannot return a wrong one may say `false`.
    fn check_each_signature(&self) -> bool {
        true
    }
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

/// The private key that signs checkpoints, held in memory.
///
/// Its `Debug` output shows only the [`KeyId`]. For a key that must never be
/// in the process's memory, implement [`CheckpointSigner`] over the HSM or
/// KMS that holds it.
///
/// # Examples
///
/// ```
/// use gasbao_core::journal::{CheckpointSigningKey, CheckpointVerifyingKey};
///
/// let key = CheckpointSigningKey::generate()?;
/// let pem = key.to_pkcs8_pem()?;
/// assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
/// let again = CheckpointSigningKey::from_pkcs8_pem(&pem)?;
/// assert_eq!(again.verifying_key(), key.verifying_key());
///
/// let public = CheckpointVerifyingKey::from_public_key_pem(&key.verifying_key().to_public_key_pem()?)?;
/// assert_eq!(public.key_id(), key.verifying_key().key_id());
/// # Ok::<(), gasbao_core::journal::KeyError>(())
/// ```
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

    /// A new key from the operating system's random number generator.
    ///
    /// # Errors
    ///
    /// [`KeyError::Randomness`] if the system's generator fails.
    pub fn generate() -> Result<CheckpointSigningKey, KeyError> {
        loop {
            let mut secret = [0u8; 32];
            getrandom::fill(&mut secret).map_err(|e| KeyError::Randomness {
                os_error: e.raw_os_error(),
            })?;
            // About one draw in 2^32 is not below the curve order: draw again.
            if let Ok(key) = CheckpointSigningKey::from_secret_bytes(&secret) {
                return Ok(key);
            }
        }
    }

    /// The key from a PKCS#8 `PrivateKeyInfo` in DER (RFC 5208/5915, SM2 curve).
    ///
    /// # Errors
    ///
    /// [`KeyError::Encoding`] if the bytes are not an SM2 PKCS#8 private key.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<CheckpointSigningKey, KeyError> {
        let secret = SecretKey::from_pkcs8_der(der).map_err(|_| KeyError::Encoding)?;
        CheckpointSigningKey::from_secret_bytes(&secret.to_bytes().into())
    }

    /// The key from a PKCS#8 PEM document (`-----BEGIN PRIVATE KEY-----`).
    ///
    /// # Errors
    ///
    /// [`KeyError::Encoding`] if the text is not an SM2 PKCS#8 private key.
    pub fn from_pkcs8_pem(pem: &str) -> Result<CheckpointSigningKey, KeyError> {
        let secret = SecretKey::from_pkcs8_pem(pem).map_err(|_| KeyError::Encoding)?;
        CheckpointSigningKey::from_secret_bytes(&secret.to_bytes().into())
    }

    /// The key as a PKCS#8 `PrivateKeyInfo` in DER. The bytes are the secret:
    /// store them as such.
    ///
    /// # Errors
    ///
    /// [`KeyError::Encoding`] if encoding fails.
    pub fn to_pkcs8_der(&self) -> Result<Vec<u8>, KeyError> {
        let secret = SecretKey::from(self.key.as_nonzero_scalar());
        let document = secret.to_pkcs8_der().map_err(|_| KeyError::Encoding)?;
        Ok(document.as_bytes().to_vec())
    }

    /// The key as a PKCS#8 PEM document, lines ending in `\n`.
    ///
    /// # Errors
    ///
    /// [`KeyError::Encoding`] if encoding fails.
    pub fn to_pkcs8_pem(&self) -> Result<String, KeyError> {
        let secret = SecretKey::from(self.key.as_nonzero_scalar());
        let pem = secret.to_pkcs8_pem(LineEnding::LF).map_err(|_| KeyError::Encoding)?;
        Ok(pem.as_str().to_owned())
    }

    /// The public half, for verifying.
    #[must_use]
    pub fn verifying_key(&self) -> &CheckpointVerifyingKey {
        &self.verifying
    }
}

impl CheckpointSigner for CheckpointSigningKey {
    fn verifying_key(&self) -> CheckpointVerifyingKey {
        self.verifying.clone()
    }

    fn sign(&self, message: &[u8]) -> Result<CheckpointSignature, SignatureError> {
        self.key
            .try_sign(message)
            .map(CheckpointSignature)
            .map_err(|_| SignatureError::Signing)
    }

    /// `false`: it signs in this process with the very code that verifies.
    fn check_each_signature(&self) -> bool {
        false
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

    /// The key from an X.509 `SubjectPublicKeyInfo` in DER (SM2 curve).
    ///
    /// # Errors
    ///
    /// [`KeyError::Encoding`] if the bytes are not an SM2 public key.
    pub fn from_public_key_der(der: &[u8]) -> Result<CheckpointVerifyingKey, KeyError> {
        let public = PublicKey::from_public_key_der(der).map_err(|_| KeyError::Encoding)?;
        CheckpointVerifyingKey::from_sec1_bytes(&public.to_sec1_bytes())
    }

    /// The key from a PEM document (`-----BEGIN PUBLIC KEY-----`).
    ///
    /// # Errors
    ///
    /// [`KeyError::Encoding`] if the text is not an SM2 public key.
    pub fn from_public_key_pem(pem: &str) -> Result<CheckpointVerifyingKey, KeyError> {
        let public = PublicKey::from_public_key_pem(pem).map_err(|_| KeyError::Encoding)?;
        CheckpointVerifyingKey::from_sec1_bytes(&public.to_sec1_bytes())
    }

    /// The key as an X.509 `SubjectPublicKeyInfo` in DER.
    ///
    /// # Errors
    ///
    /// [`KeyError::Encoding`] if encoding fails.
    pub fn to_public_key_der(&self) -> Result<Vec<u8>, KeyError> {
        let document = self.key.to_public_key_der().map_err(|_| KeyError::Encoding)?;
        Ok(document.as_bytes().to_vec())
    }

    /// The key as a PEM document, lines ending in `\n`.
    ///
    /// # Errors
    ///
    /// [`KeyError::Encoding`] if encoding fails.
    pub fn to_public_key_pem(&self) -> Result<String, KeyError> {
        self.key
            .to_public_key_pem(LineEnding::LF)
            .map_err(|_| KeyError::Encoding)
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

    /// Checks `signature` on `message`, a [`checkpoint_message`].
    ///
    /// # Errors
    ///
    /// [`SignatureError::Mismatch`] if this key did not sign that message.
    pub fn verify(&self, message: &[u8], signature: &CheckpointSignature) -> Result<(), SignatureError> {
        self.key
            .verify(message, &signature.0)
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
    /// Its segment's checkpoint interval, which the signature covers; `None`
    /// in a format version 2 segment, whose checkpoints did not sign it.
    pub interval: Option<u64>,
    /// The key that signed it.
    pub key_id: KeyId,
    /// The signature over [`message`](Self::message).
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

    /// The bytes its signature covers: [`checkpoint_message`] of its fields.
    #[must_use]
    pub fn message(&self) -> Vec<u8> {
        checkpoint_message(self.records, &self.head, self.interval)
    }

    /// The checkpoint a record's payload holds, or why it cannot be one.
    pub(crate) fn decode_payload(
        records: u64,
        head: ChainHash,
        interval: Option<u64>,
        payload: &[u8],
    ) -> Result<Checkpoint, SignatureError> {
        let payload: &[u8; CHECKPOINT_PAYLOAD_LEN] = payload.try_into().map_err(|_| SignatureError::Malformed)?;
        let (id, signature) = payload.split_at(32);
        let key_id = KeyId(id.try_into().map_err(|_| SignatureError::Malformed)?);
        let signature = CheckpointSignature::from_bytes(signature.try_into().map_err(|_| SignatureError::Malformed)?)?;
        Ok(Checkpoint {
            records,
            head,
            interval,
            key_id,
            signature,
        })
    }

    /// Checks this checkpoint against the one of `trusted` that it names.
    pub(crate) fn check(&self, trusted: &[CheckpointVerifyingKey]) -> Result<(), SignatureError> {
        let key = trusted
            .iter()
            .find(|key| key.key_id == self.key_id)
            .ok_or(SignatureError::UntrustedKey(self.key_id))?;
        key.verify(&self.message(), &self.signature)
    }
}
