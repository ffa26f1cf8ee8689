//! The SM3 chain and SM2 checkpoints against an independent implementation
//! (`sm-crypto`) and the published vectors: our signatures verify there,
//! theirs verify here, and malleated signatures are refused.
#![cfg(feature = "journal")]

mod frames;

use std::num::NonZeroU64;
use std::sync::Arc;

use frames::{chain_hash, frames};
use gasbao_core::journal::{
    ChainHash, CheckpointSignature, CheckpointSigner, CheckpointSigningKey, CheckpointVerifyingKey, Integrity, Journal,
    JournalOptions, KeyError, MemoryStorage, SignatureError, Storage, checkpoint_message,
};
use num_bigint::BigUint;
use sm_crypto::sm2 as their_sm2;
use sm_crypto::sm3 as their_sm3;

/// The SM2 group order n (GB/T 32918.5).
const ORDER: &str = "fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123";
const SECRET: &str = "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex<const N: usize>(text: &str) -> [u8; N] {
    let bytes: Vec<u8> = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect();
    bytes.try_into().unwrap()
}

fn key() -> CheckpointSigningKey {
    CheckpointSigningKey::from_secret_bytes(&unhex(SECRET)).unwrap()
}

/// sm-crypto's public key format: hex of `x || y`.
fn their_public_key(key: &CheckpointVerifyingKey) -> String {
    let sec1 = key.to_sec1_bytes();
    assert_eq!((sec1.len(), sec1[0]), (65, 0x04), "uncompressed SEC1");
    hex(&sec1[1..])
}

fn to_scalars(signature: &CheckpointSignature) -> (BigUint, BigUint) {
    let bytes = signature.to_bytes();
    (
        BigUint::from_bytes_be(&bytes[..32]),
        BigUint::from_bytes_be(&bytes[32..]),
    )
}

fn from_scalars(r: &BigUint, s: &BigUint) -> Result<CheckpointSignature, SignatureError> {
    let mut bytes = [0u8; 64];
    let (r, s) = (r.to_bytes_be(), s.to_bytes_be());
    if r.len() > 32 || s.len() > 32 {
        // Wider than the curve order: no 64-byte encoding exists.
        return Err(SignatureError::NonCanonical);
    }
    bytes[32 - r.len()..32].copy_from_slice(&r);
    bytes[64 - s.len()..].copy_from_slice(&s);
    CheckpointSignature::from_bytes(&bytes)
}

fn head() -> ChainHash {
    ChainHash::from_bytes(unhex(
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0",
    ))
}

#[test]
fn sm_crypto_agrees_on_the_sm3_vectors() {
    assert_eq!(
        their_sm3::sm3_hash(b"abc"),
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    );
    assert_eq!(
        their_sm3::sm3_hash(&b"abcd".repeat(16)),
        "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    );
}

#[test]
fn both_derive_the_same_public_key() {
    assert_eq!(their_public_key(key().verifying_key()), their_sm2::pk_from_sk(SECRET));
    let public = CheckpointVerifyingKey::from_sec1_bytes(&key().verifying_key().to_sec1_bytes()).unwrap();
    assert_eq!(&public, key().verifying_key());
}

#[test]
fn our_signatures_verify_in_sm_crypto() {
    let key = key();
    let verifier = their_sm2::Verify::new(&their_sm2::pk_from_sk(SECRET)).verify(&[], (1u8.into(), 1u8.into()), true);
    assert!(!verifier, "sm-crypto must not accept a made-up signature");
    // Version 2 messages, and version 3 ones that also sign the interval.
    for (records, interval) in [(0, None), (1, Some(10)), (1_000, None), (u64::MAX, Some(1_000))] {
        let message = checkpoint_message(records, &head(), interval);
        assert_eq!(message.len(), if interval.is_some() { 74 } else { 66 });
        let signature = key.sign(&message).unwrap();
        let public = their_sm2::pk_from_sk(SECRET);
        let theirs = their_sm2::Verify::new(&public);
        assert!(
            theirs.verify(&message, to_scalars(&signature), true),
            "records {records}"
        );
        // And as DER, as they exchange signatures.
        let der = dsa_der(&signature);
        assert!(theirs.verify_der(&message, &der, true), "records {records}");
        // A different message does not verify.
        let other = checkpoint_message(records.wrapping_add(1), &head(), interval);
        assert!(!theirs.verify(&other, to_scalars(&signature), true));
        // Nor does the same checkpoint with another interval.
        let other = checkpoint_message(records, &head(), Some(interval.map_or(1, |i| i + 1)));
        assert!(!theirs.verify(&other, to_scalars(&signature), true));
    }
}

#[test]
fn sm_crypto_signatures_verify_here() {
    let public = key().verifying_key().clone();
    let theirs = their_sm2::Sign::new(SECRET);
    for records in [0, 7, 123_456_789] {
        let message = checkpoint_message(records, &head(), None);
        let (r, s) = theirs.sign(&message, true);
        let signature = from_scalars(&r, &s).unwrap();
        public
            .verify(&checkpoint_message(records, &head(), None), &signature)
            .unwrap();
        // Their DER form, read with the RustCrypto decoder.
        let der = theirs.sign_der(&message, true);
        let decoded = ::sm2::dsa::Signature::from_der(&der).unwrap();
        let signature = CheckpointSignature::from_bytes(&decoded.to_bytes().into()).unwrap();
        public
            .verify(&checkpoint_message(records, &head(), None), &signature)
            .unwrap();
        assert_eq!(
            public.verify(&checkpoint_message(records + 1, &head(), None), &signature),
            Err(SignatureError::Mismatch)
        );
    }
}

#[test]
fn malleated_and_out_of_range_signatures_are_refused() {
    let key = key();
    let message = checkpoint_message(42, &head(), None);
    let order = BigUint::parse_bytes(ORDER.as_bytes(), 16).unwrap();
    let (r, s) = to_scalars(&key.sign(&message).unwrap());
    // s + n is congruent to s: a verifier that reduces scalars mod n would
    // take it for the same signature.
    let malleated = (r.clone(), &s + &order);
    assert!(their_sm2::Verify::new(&their_sm2::pk_from_sk(SECRET)).verify(&message, (r.clone(), s.clone()), true));
    assert_eq!(
        from_scalars(&malleated.0, &malleated.1),
        Err(SignatureError::NonCanonical)
    );
    // Every out-of-range scalar is refused at parse time, in r and in s.
    let one = BigUint::from(1u8);
    for bad in [
        BigUint::ZERO,
        order.clone(),
        &order + &one,
        (BigUint::from(1u8) << 256) - &one,
    ] {
        assert_eq!(from_scalars(&r, &bad), Err(SignatureError::NonCanonical), "s = {bad:x}");
        assert_eq!(from_scalars(&bad, &s), Err(SignatureError::NonCanonical), "r = {bad:x}");
    }
    // n - 1 is in range: it parses, and then simply does not verify.
    let top = from_scalars(&r, &(&order - &one)).unwrap();
    assert_eq!(
        key.verifying_key().verify(&checkpoint_message(42, &head(), None), &top),
        Err(SignatureError::Mismatch)
    );
    // A DER signature carrying s + n is refused by the decoder too.
    let der = der_of(&malleated.0, &malleated.1);
    assert!(::sm2::dsa::Signature::from_der(&der).is_err());
}

#[test]
fn invalid_keys_are_refused() {
    let order: [u8; 32] = unhex(ORDER);
    for secret in [[0u8; 32], order, [0xff; 32]] {
        assert_eq!(
            CheckpointSigningKey::from_secret_bytes(&secret).unwrap_err(),
            KeyError::InvalidSecret
        );
    }
    let mut off_curve = key().verifying_key().to_sec1_bytes();
    off_curve[64] ^= 1;
    for public in [&off_curve[..], &[4u8; 65][..], &[][..]] {
        assert_eq!(
            CheckpointVerifyingKey::from_sec1_bytes(public).unwrap_err(),
            KeyError::InvalidPublicKey
        );
    }
}

/// The chain of a real journal, recomputed from the documented format with
/// sm-crypto's SM3: the journal's head is the hash of the last frame without
/// its CRC field, and every frame carries the hash of the one before.
#[test]
fn the_chain_head_is_sm3_over_the_documented_frames() {
    let storage = MemoryStorage::new();
    let options = JournalOptions::default().integrity(Integrity::Signed {
        key: Arc::new(key()),
        every: NonZeroU64::new(4).unwrap(),
    });
    let (journal, _) = Journal::open(storage.clone(), options).unwrap();
    for i in 0..10u32 {
        journal
            .append(format!("meter {i} read {}.125 m3", 300 + i).as_bytes())
            .unwrap();
    }
    let head = journal.chain_head().unwrap();
    drop(journal);
    let name = storage.list().unwrap().pop().unwrap();
    let bytes = storage.contents(&name).unwrap();
    assert_eq!(
        &bytes[8..12],
        &3u32.to_le_bytes(),
        "chained journals are written in format version 3"
    );
    assert_eq!(&bytes[72..80], &4u64.to_le_bytes(), "the header names the interval");
    let mut chain = [0u8; 32];
    assert_eq!(&bytes[40..72], &chain, "the first segment starts from 32 zero bytes");
    let mut kinds = Vec::new();
    for frame in frames(&bytes) {
        let at = frame.offset;
        let frame_bytes = &bytes[at..at + frame.len];
        assert_eq!(&frame_bytes[20..52], &chain, "frame at {at} commits its predecessor");
        let crc = crc32c::crc32c_append(crc32c::crc32c(&frame_bytes[..4]), &frame_bytes[8..]);
        assert_eq!(&frame_bytes[4..8], &crc.to_le_bytes(), "frame at {at}");
        kinds.push(frame.kind);
        chain = chain_hash(frame_bytes);
    }
    // Ten records, a checkpoint after the fourth and the eighth.
    assert_eq!(kinds, [0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0]);
    assert_eq!(head.to_bytes(), chain);
}

/// DER `SEQUENCE { INTEGER r, INTEGER s }`, as sm-crypto's `sign_der` writes.
fn der_of(r: &BigUint, s: &BigUint) -> Vec<u8> {
    let integer = |value: &BigUint| {
        let mut bytes = value.to_bytes_be();
        if bytes[0] & 0x80 != 0 {
            bytes.insert(0, 0);
        }
        let mut out = vec![0x02, bytes.len() as u8];
        out.extend(bytes);
        out
    };
    let body: Vec<u8> = [integer(r), integer(s)].concat();
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

fn dsa_der(signature: &CheckpointSignature) -> Vec<u8> {
    let (r, s) = to_scalars(signature);
    der_of(&r, &s)
}
