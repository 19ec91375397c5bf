//! Signing keys, signatures, batch verification and domain-separated hashing for medledger.
//!
//! Everything cryptographic that the ledger needs passes through this one small interface:
//! [`SigningKey`], [`PublicKey`], [`Signature`], [`verify_batch`] and [`hash`]. Today the suite is
//! ed25519 (ZIP-215 validation rules, from `commonware-cryptography`) with SHA-256. The national
//! SM2/SM3 suite is meant to become a per-network option behind these same names: a network picks
//! one suite at genesis, so keys and signatures keep a fixed size within a network.
//!
//! Signatures always carry a namespace ([`Namespace`]), so a signature made for one purpose (a
//! transaction, a patient's consent to a claim) can never be replayed as another.
//!
//! With the `openapi` feature, [`PublicKey`], [`Signature`] and [`Digest`] implement
//! `utoipa::ToSchema` as the lowercase hex strings their JSON form is.

mod hex;
pub mod keyfile;
#[cfg(feature = "openapi")]
mod openapi;

pub use hex::{FromHexError, decode_hex, encode_hex};

use bytes::BufMut;
use commonware_codec::{
    Buf, Copying, DecodeExt, Encode, Error as CodecError, FixedSize, Read, Write,
};
use commonware_cryptography::{
    BatchEntry, BatchVerifier, Hasher, Sha256, Signer as _, Verifier as _, ed25519,
};
use commonware_parallel::Sequential;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::collections::HashMap;
use std::fmt;

/// Length in bytes of an encoded public key.
pub const PUBLIC_KEY_LEN: usize = 32;
/// Length in bytes of an encoded signature.
pub const SIGNATURE_LEN: usize = 64;
/// Length in bytes of a secret signing key seed.
pub const SIGNING_KEY_LEN: usize = 32;
/// Length in bytes of a digest.
pub const DIGEST_LEN: usize = 32;

/// What a signature is for. Each purpose signs under its own namespace so that no signature can
/// be replayed in another context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Namespace {
    /// The signer's authorisation of a ledger transaction.
    Transaction,
    /// A patient's consent to a claim (or its withdrawal) carried by the payment platform.
    PatientConsent,
    /// A caller's proof, on an API read of private data, that it controls a key.
    ApiRequest,
}

impl Namespace {
    /// The bytes mixed into the signed message.
    pub const fn as_bytes(self) -> &'static [u8] {
        match self {
            Namespace::Transaction => b"medledger/tx/v1",
            Namespace::PatientConsent => b"medledger/patient-consent/v1",
            Namespace::ApiRequest => b"medledger/api-request/v1",
        }
    }
}

/// A public verification key.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PublicKey(ed25519::PublicKey);

/// A signature over a namespaced message.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Signature(ed25519::Signature);

/// A secret signing key. Its `Debug` output never shows the secret.
#[derive(Clone)]
pub struct SigningKey(ed25519::PrivateKey);

/// A 32-byte digest.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Digest(pub [u8; DIGEST_LEN]);

/// Errors turning bytes into keys.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// The bytes have the wrong length.
    #[error("expected {expected} bytes, got {got}")]
    Length {
        /// Expected length.
        expected: usize,
        /// Length given.
        got: usize,
    },
    /// The bytes do not encode a valid curve point.
    #[error("not a valid public key")]
    InvalidPoint,
    /// The text is not hexadecimal.
    #[error("not hexadecimal: {0}")]
    Hex(#[from] FromHexError),
}

impl SigningKey {
    /// Generates a fresh key from the operating system's randomness.
    pub fn generate() -> Self {
        let mut seed = [0u8; SIGNING_KEY_LEN];
        // Without OS randomness no key can be made safely; this is a broken machine, not bad
        // input, so stopping is the right answer.
        getrandom::fill(&mut seed).expect("operating system randomness is unavailable");
        Self::from_seed(seed)
    }

    /// Builds a key from a 32-byte secret seed.
    pub fn from_seed(seed: [u8; SIGNING_KEY_LEN]) -> Self {
        // A 32-byte array always decodes into an ed25519 signing key.
        let key =
            ed25519::PrivateKey::decode(Copying(seed.as_slice())).expect("32-byte seed is a key");
        Self(key)
    }

    /// Derives a key deterministically from a label. For demos and tests only: anyone who
    /// knows the label knows the key.
    pub fn from_label(label: &str) -> Self {
        Self::from_seed(hash(Domain::TestKey, &[label.as_bytes()]).0)
    }

    /// The secret seed, for writing a key file.
    pub fn seed(&self) -> [u8; SIGNING_KEY_LEN] {
        let mut out = [0u8; SIGNING_KEY_LEN];
        out.copy_from_slice(&self.0.encode());
        out
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.public_key())
    }

    /// Signs `message` under `namespace`.
    pub fn sign(&self, namespace: Namespace, message: &[u8]) -> Signature {
        Signature(self.0.sign(namespace.as_bytes(), message))
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({})", self.public_key())
    }
}

impl PublicKey {
    /// Parses and validates 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        if bytes.len() != PUBLIC_KEY_LEN {
            return Err(KeyError::Length { expected: PUBLIC_KEY_LEN, got: bytes.len() });
        }
        Self::decode(Copying(bytes)).map_err(|_| KeyError::InvalidPoint)
    }

    /// Parses and validates 64 hexadecimal characters.
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        Self::from_bytes(&decode_hex(text)?)
    }

    /// The encoded key.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_ref()
    }

    /// The key as lowercase hexadecimal.
    pub fn to_hex(&self) -> String {
        encode_hex(self.as_bytes())
    }

    /// Verifies one signature. Prefer [`verify_batch`] when there are many.
    pub fn verify(&self, namespace: Namespace, message: &[u8], signature: &Signature) -> bool {
        self.0.verify(namespace.as_bytes(), message, &signature.0)
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

impl Signature {
    /// Parses 64 bytes. Any 64 bytes parse; validity is decided by verification.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        if bytes.len() != SIGNATURE_LEN {
            return Err(KeyError::Length { expected: SIGNATURE_LEN, got: bytes.len() });
        }
        ed25519::Signature::decode(Copying(bytes)).map(Self).map_err(|_| KeyError::InvalidPoint)
    }

    /// The encoded signature.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_ref()
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", encode_hex(self.as_bytes()))
    }
}

impl Digest {
    /// The digest as lowercase hexadecimal.
    pub fn to_hex(&self) -> String {
        encode_hex(&self.0)
    }

    /// Parses 64 hexadecimal characters.
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        let bytes = decode_hex(text)?;
        let array: [u8; DIGEST_LEN] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::Length { expected: DIGEST_LEN, got: bytes.len() })?;
        Ok(Self(array))
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.to_hex())
    }
}

/// What a hash is for. Each use hashes under its own domain tag so that no two kinds of object
/// can ever share a digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Domain {
    /// The identifier of a transaction (hash of its signed body).
    TransactionId,
    /// The check code printed on a bill.
    BillCheckCode,
    /// The deterministic seed of a block's batch signature verification.
    BatchVerifySeed,
    /// Keys derived from labels, for demos and tests.
    TestKey,
    /// A salted commitment to a private bill body.
    BodyCommitment,
    /// Digest of a sealed (encrypted) bill body, as a bill record stores it.
    SealedBody,
    /// A patient's per-institution pseudonym, derived from the patient's own key.
    Pseudonym,
    /// The root of a block's transaction ids.
    BlockTxRoot,
    /// A block's digest (its identity in consensus).
    BlockDigest,
    /// The chained commitment to execution results.
    StateRoot,
    /// The digest of the genesis configuration.
    Genesis,
    /// A leaf of the authenticated state: one bill's or claim's current record.
    StateLeaf,
    /// The state root in block headers: the authenticated state's root and the receipts chain.
    StateCommitment,
}

impl Domain {
    const fn tag(self) -> &'static [u8] {
        match self {
            Domain::TransactionId => b"medledger/tx-id/v1",
            Domain::BillCheckCode => b"medledger/bill-check-code/v1",
            Domain::BatchVerifySeed => b"medledger/batch-verify-seed/v1",
            Domain::TestKey => b"medledger/test-key/v1",
            Domain::BodyCommitment => b"medledger/body-commitment/v1",
            Domain::SealedBody => b"medledger/sealed-body/v1",
            Domain::Pseudonym => b"medledger/pseudonym/v1",
            Domain::BlockTxRoot => b"medledger/block-tx-root/v1",
            Domain::BlockDigest => b"medledger/block/v1",
            Domain::StateLeaf => b"medledger/state-leaf/v1",
            Domain::StateCommitment => b"medledger/state-root/v2",
            Domain::StateRoot => b"medledger/state-root/v1",
            Domain::Genesis => b"medledger/genesis/v1",
        }
    }
}

/// Hashes `parts` under `domain`. The tag's length is hashed first, so tags cannot run into
/// the data that follows them.
pub fn hash(domain: Domain, parts: &[&[u8]]) -> Digest {
    let tag = domain.tag();
    // Tags are short constants; a tag over 255 bytes is a programming error.
    let tag_len = [u8::try_from(tag.len()).expect("domain tags are shorter than 256 bytes")];
    let mut hasher = Sha256::default();
    hasher.update(&tag_len);
    hasher.update(tag);
    for part in parts {
        hasher.update(part);
    }
    let (_, digest) = hasher.finalize();
    let mut out = [0u8; DIGEST_LEN];
    out.copy_from_slice(digest.as_ref());
    Digest(out)
}

/// One signature to check: who signed what, under which namespace.
#[derive(Clone, Copy, Debug)]
pub struct SignedMessage<'a> {
    /// The purpose of the signature.
    pub namespace: Namespace,
    /// The signed bytes.
    pub message: &'a [u8],
    /// The claimed signer.
    pub public_key: &'a PublicKey,
    /// The signature.
    pub signature: &'a Signature,
}

/// Verifies many signatures at once and says which are valid.
///
/// The whole set is first checked as one batch (about twice as fast per signature as checking
/// one by one). Only when the batch fails is it split in halves, recursively, to find the bad
/// signatures, so honest traffic pays the batch price and a forger only slows their own block.
///
/// The random coefficients of batch verification come from a ChaCha20 generator seeded with a
/// hash of every item in the batch (Fiat–Shamir style), so the result is deterministic, which a
/// replicated state machine needs, while an attacker still cannot predict the coefficients
/// before fixing the signatures. With ZIP-215 rules the batch accepts exactly what single
/// verification accepts.
pub fn verify_batch(items: &[SignedMessage<'_>]) -> Vec<bool> {
    let mut valid = vec![false; items.len()];
    verify_range(items, 0, &mut valid);
    valid
}

fn verify_range(items: &[SignedMessage<'_>], offset: usize, valid: &mut [bool]) {
    match items.len() {
        0 => {}
        1 => {
            let item = &items[0];
            valid[offset] = item.public_key.verify(item.namespace, item.message, item.signature);
        }
        len => {
            if batch_is_valid(items) {
                valid[offset..offset + len].fill(true);
            } else {
                let half = len / 2;
                verify_range(&items[..half], offset, valid);
                verify_range(&items[half..], offset + half, valid);
            }
        }
    }
}

fn batch_is_valid(items: &[SignedMessage<'_>]) -> bool {
    let mut hasher = Sha256::default();
    for item in items {
        hasher.update(item.namespace.as_bytes());
        hasher.update(&(item.message.len() as u64).to_be_bytes());
        hasher.update(item.message);
        hasher.update(item.public_key.as_bytes());
        hasher.update(item.signature.as_bytes());
    }
    let (_, seed) = hasher.finalize();
    let mut seed_bytes = [0u8; DIGEST_LEN];
    seed_bytes.copy_from_slice(seed.as_ref());
    let seed = hash(Domain::BatchVerifySeed, &[&seed_bytes]);
    let mut rng = ChaCha20Rng::from_seed(seed.0);
    ed25519::PublicKey::verify_batch(
        &mut rng,
        items,
        |_, item| BatchEntry {
            namespace: item.namespace.as_bytes(),
            message: item.message,
            public_key: &item.public_key.0,
            signature: &item.signature.0,
        },
        &Sequential,
    )
}

// Canonical binary encoding (commonware-codec): fixed-size raw bytes.

impl Write for PublicKey {
    fn write(&self, buf: &mut impl BufMut) {
        self.0.write(buf);
    }
}
impl FixedSize for PublicKey {
    const SIZE: usize = PUBLIC_KEY_LEN;
}
/// Public keys decoded before, by their bytes. Decoding a key decompresses a curve point, a
/// field square root of about 10 µs, and a validator decodes the same signers' keys over and
/// over: each transaction as it arrives, as it is gossiped, in the block it proposes or
/// verifies, and when it executes it. Profiled under the claims benchmark, decompression was
/// 10-13 % of a validator's CPU. Only valid keys are kept, keyed by their exact bytes, so the
/// cache changes no result; past [`DECODED_KEYS_MAX`] it starts over.
static DECODED_KEYS: std::sync::OnceLock<
    std::sync::Mutex<HashMap<[u8; PUBLIC_KEY_LEN], ed25519::PublicKey>>,
> = std::sync::OnceLock::new();

/// Keys the decode cache holds at most (each about 200 bytes).
const DECODED_KEYS_MAX: usize = 100_000;

impl Read for PublicKey {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        let bytes = <[u8; PUBLIC_KEY_LEN]>::read_cfg(buf, &())?;
        let cache = DECODED_KEYS.get_or_init(Default::default);
        if let Some(key) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&bytes) {
            return Ok(Self(key.clone()));
        }
        let key = ed25519::PublicKey::decode(Copying(bytes.as_slice()))?;
        let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= DECODED_KEYS_MAX {
            cache.clear();
        }
        cache.insert(bytes, key.clone());
        Ok(Self(key))
    }
}

impl Write for Signature {
    fn write(&self, buf: &mut impl BufMut) {
        self.0.write(buf);
    }
}
impl FixedSize for Signature {
    const SIZE: usize = SIGNATURE_LEN;
}
impl Read for Signature {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        ed25519::Signature::read_cfg(buf, &()).map(Self)
    }
}

impl Write for Digest {
    fn write(&self, buf: &mut impl BufMut) {
        self.0.write(buf);
    }
}
impl FixedSize for Digest {
    const SIZE: usize = DIGEST_LEN;
}
impl Read for Digest {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        <[u8; DIGEST_LEN]>::read_cfg(buf, &()).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(n: usize) -> Vec<(SigningKey, Vec<u8>, Signature)> {
        (0..n)
            .map(|i| {
                let key = SigningKey::from_label(&format!("k{i}"));
                let msg = format!("message {i}").into_bytes();
                let sig = key.sign(Namespace::Transaction, &msg);
                (key, msg, sig)
            })
            .collect()
    }

    #[test]
    fn decoding_a_key_again_gives_the_same_key_and_an_invalid_one_stays_invalid() {
        use commonware_codec::{DecodeExt as _, Encode as _};
        let key = SigningKey::from_label("cached").public_key();
        let bytes = key.encode();
        for _ in 0..3 {
            let decoded = PublicKey::decode(Copying(&bytes[..])).expect("a valid key");
            assert_eq!(decoded, key);
            let (message, signature) =
                (b"m", SigningKey::from_label("cached").sign(Namespace::Transaction, b"m"));
            assert!(decoded.verify(Namespace::Transaction, message, &signature));
        }
        // Not a point on the curve (y = 2): refused every time, never remembered.
        let mut not_a_point = [0u8; PUBLIC_KEY_LEN];
        not_a_point[0] = 2;
        for _ in 0..2 {
            assert!(PublicKey::decode(Copying(&not_a_point[..])).is_err());
        }
        assert!(PublicKey::decode(Copying(&bytes[..31])).is_err(), "truncated");
    }

    #[test]
    fn batch_finds_exactly_the_bad_signatures() {
        let mut items = signed(37);
        items[3].1.push(0);
        items[30].2 = items[29].2.clone();
        let keys: Vec<PublicKey> = items.iter().map(|(k, _, _)| k.public_key()).collect();
        let batch: Vec<SignedMessage<'_>> = items
            .iter()
            .zip(&keys)
            .map(|((_, m, s), pk)| SignedMessage {
                namespace: Namespace::Transaction,
                message: m,
                public_key: pk,
                signature: s,
            })
            .collect();
        let valid = verify_batch(&batch);
        let bad: Vec<usize> = (0..valid.len()).filter(|&i| !valid[i]).collect();
        assert_eq!(bad, vec![3, 30]);
    }

    #[test]
    fn namespaces_do_not_cross() {
        let key = SigningKey::from_label("a");
        let sig = key.sign(Namespace::Transaction, b"m");
        assert!(key.public_key().verify(Namespace::Transaction, b"m", &sig));
        assert!(!key.public_key().verify(Namespace::PatientConsent, b"m", &sig));
    }

    #[test]
    fn hash_domains_differ() {
        assert_ne!(hash(Domain::TransactionId, &[b"x"]), hash(Domain::BillCheckCode, &[b"x"]));
        assert_eq!(
            hash(Domain::TransactionId, &[b"ab"]),
            hash(Domain::TransactionId, &[b"a", b"b"])
        );
    }

    #[test]
    fn seed_round_trips() {
        let key = SigningKey::generate();
        let again = SigningKey::from_seed(key.seed());
        assert_eq!(key.public_key(), again.public_key());
    }

    #[test]
    fn bad_public_key_bytes_are_refused() {
        assert!(matches!(PublicKey::from_bytes(&[1u8; 31]), Err(KeyError::Length { .. })));
        // y = 2 is not on the curve.
        let mut not_a_point = [0u8; 32];
        not_a_point[0] = 2;
        assert_eq!(PublicKey::from_bytes(&not_a_point), Err(KeyError::InvalidPoint));
    }
}

// JSON form: keys, signatures and digests are lowercase hex strings.
mod serde_hex {
    use super::*;
    use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error as _};

    impl Serialize for PublicKey {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&self.to_hex())
        }
    }
    impl<'de> Deserialize<'de> for PublicKey {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
            PublicKey::from_hex(&text).map_err(D::Error::custom)
        }
    }
    impl Serialize for Signature {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&encode_hex(self.as_bytes()))
        }
    }
    impl<'de> Deserialize<'de> for Signature {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
            let bytes = decode_hex(&text).map_err(D::Error::custom)?;
            Signature::from_bytes(&bytes).map_err(D::Error::custom)
        }
    }
    impl Serialize for Digest {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&self.to_hex())
        }
    }
    impl<'de> Deserialize<'de> for Digest {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
            Digest::from_hex(&text).map_err(D::Error::custom)
        }
    }
}
