//! Sealing a bill body for its readers, opening it, and re-wrapping its key for a payer.
//!
//! ```text
//!  issuer                                   ledger                     reader
//!  ──────                                   ──────                     ──────
//!  salt, data key, nonce  (fresh, random)
//!  commitment = H(salt ‖ body)  ──────────▶ bill header
//!  ciphertext = XChaCha20-Poly1305(data key, nonce,
//!                 salt ‖ body, aad = tag ‖ chain ‖ bill) ─▶ SealedBody ──▶ unwrap, decrypt,
//!  wrap_r = HPKE(reader r, data key,                                        decode, check
//!                info = tag ‖ chain ‖ bill)  ───────────▶ SealedBody.wraps   the commitment
//! ```
//!
//! The chain and bill id are bound into both the body's associated data and every wrap's HPKE
//! info, so neither a ciphertext nor a wrap can be moved to another bill or network. The salt
//! makes the public commitment reveal nothing about a body that could be guessed (a common
//! diagnosis, a standard fee).

use crate::body::{BodyError, PrivateBody};
use crate::keys::EncryptionSecret;
use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use commonware_codec::{Copying, DecodeExt, Encode, EncodeSize, Write};
use hpke::aead::ChaCha20Poly1305 as HpkeChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem, OpModeR, OpModeS, Serializable};
use medledger_crypto::{Digest, Domain, hash};
use medledger_types::limits::{BODY_CIPHERTEXT_BYTES_MAX, BODY_WRAPS_MAX};
use medledger_types::{
    BillId, BodyNonce, ChainId, Disclosure, EncryptionKey, KeyWrap, SealedBody, WrappedKey,
};
use std::fmt;
use zeroize::Zeroizing;

/// Associated data prefix of a body's ciphertext; chain and bill id follow.
const BODY_AAD: &[u8] = b"medledger/bill-body/v1";

/// HPKE info prefix of a data key's wrap; chain and bill id follow.
const KEY_INFO: &[u8] = b"medledger/bill-key/v1";

/// Bytes of a body's salt.
pub const SALT_LEN: usize = 32;

/// Bytes of a data key.
pub const DATA_KEY_LEN: usize = 32;

/// Bytes of the Poly1305 tag the body's ciphertext ends with.
pub const TAG_LEN: usize = 16;

/// A bill's random salt: hashed with the body into the commitment and encrypted with it, so
/// only readers learn it. Its `Debug` output hides the bytes, which would let anyone test
/// guesses of the body against the public commitment.
#[derive(Clone, PartialEq, Eq)]
pub struct Salt(pub [u8; SALT_LEN]);

impl Salt {
    /// A fresh random salt.
    pub fn generate() -> Self {
        // Without OS randomness nothing can be sealed safely; this is a broken machine, not bad
        // input, so stopping is the right answer (as `SigningKey::generate` does).
        Self(<[u8; SALT_LEN]>::generate())
    }
}

impl fmt::Debug for Salt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Salt(..)")
    }
}

/// A bill's data key: the XChaCha20-Poly1305 key its body is encrypted under. Wiped when
/// dropped; its `Debug` output never shows it.
pub struct DataKey(Zeroizing<[u8; DATA_KEY_LEN]>);

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(..)")
    }
}

impl DataKey {
    fn generate() -> Self {
        // See `Salt::generate` on failing randomness.
        Self(Zeroizing::new(<[u8; DATA_KEY_LEN]>::generate()))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        // The cipher keeps its own copy of the key and wipes it on drop (the `zeroize` feature).
        XChaCha20Poly1305::new_from_slice(self.0.as_slice())
            .expect("a data key is 32 bytes, the XChaCha20-Poly1305 key size")
    }
}

/// A body sealed for its readers, with the commitment the bill's public header carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    /// The ciphertext and one wrap of its data key per reader, in the order the readers were
    /// given.
    pub body: SealedBody,
    /// `H(salt ‖ canonical body)`, for `BillIssue::body_commitment`.
    pub commitment: Digest,
}

/// Why a body could not be sealed (or a data key wrapped).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// A body nobody can read would be lost.
    #[error("a sealed body needs at least one reader")]
    NoReaders,
    /// Each reader gets exactly one wrap.
    #[error("reader {0} is listed twice")]
    DuplicateReader(EncryptionKey),
    /// More readers than a sealed body may carry.
    #[error("{count} readers, more than the limit of {BODY_WRAPS_MAX}")]
    TooManyReaders {
        /// How many were given.
        count: usize,
    },
    /// The sealed body would exceed the ledger's ciphertext limit.
    #[error(
        "the sealed body would be {bytes} bytes, more than the limit of {BODY_CIPHERTEXT_BYTES_MAX}"
    )]
    TooLarge {
        /// The ciphertext's size.
        bytes: usize,
    },
    /// The body is not well formed.
    #[error("invalid body: {0}")]
    InvalidBody(#[from] BodyError),
    /// HPKE refused the key (a low-order X25519 point, such as all zeros).
    #[error("{0} is not a usable encryption key")]
    BadReader(EncryptionKey),
}

/// Why a sealed body could not be opened (or disclosed). The messages never include any of
/// the body.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// The sealed body has no wrap for this key: it is not one of the body's readers.
    #[error("the body is not wrapped to this key")]
    NoWrapForKey,
    /// The wrap does not open with this secret: it is someone else's, or it was tampered with.
    #[error("the key wrap does not open with this secret (another reader's wrap, or tampered)")]
    UnwrapFailed,
    /// The ciphertext failed authentication: it, its nonce, or the bill or chain it is
    /// presented for is not what was sealed.
    #[error("the sealed body failed authentication (tampered, or presented for another bill)")]
    Tampered,
    /// The ciphertext authenticated but does not hold a valid body.
    #[error("the sealed body decrypted but is not a valid body: {0}")]
    Malformed(&'static str),
    /// The body is not the one the bill's header commits to.
    #[error("the body does not match the bill's commitment")]
    CommitmentMismatch,
    /// The data key could not be wrapped to the payer's key.
    #[error("{0} is not a usable encryption key")]
    BadRecipient(EncryptionKey),
}

/// The commitment a bill's header carries to its body: `H(salt ‖ canonical body)` under
/// [`Domain::BodyCommitment`].
pub fn commitment(salt: &Salt, body: &PrivateBody) -> Digest {
    let bytes = encode_private(body, 0);
    hash(Domain::BodyCommitment, &[&salt.0, &bytes])
}

/// Seals `body` of bill `bill` on chain `chain` for `readers`: encrypts it under a fresh data
/// key and wraps that key to each reader, in the order given.
///
/// Refuses a body that does not validate, no readers, a reader listed twice, more than
/// [`BODY_WRAPS_MAX`] readers, and a body whose ciphertext would exceed
/// [`BODY_CIPHERTEXT_BYTES_MAX`].
pub fn seal(
    chain: &ChainId,
    bill: &BillId,
    body: &PrivateBody,
    readers: &[EncryptionKey],
) -> Result<Sealed, SealError> {
    if readers.is_empty() {
        return Err(SealError::NoReaders);
    }
    if readers.len() > BODY_WRAPS_MAX {
        return Err(SealError::TooManyReaders { count: readers.len() });
    }
    for (i, reader) in readers.iter().enumerate() {
        if readers[..i].contains(reader) {
            return Err(SealError::DuplicateReader(*reader));
        }
    }
    body.validate()?;
    let bytes = SALT_LEN + body.encode_size() + TAG_LEN;
    if bytes > BODY_CIPHERTEXT_BYTES_MAX {
        return Err(SealError::TooLarge { bytes });
    }

    let key = DataKey::generate();
    let salt = Salt::generate();
    let nonce = BodyNonce(<[u8; 24]>::generate());
    let mut plaintext = encode_private(body, SALT_LEN);
    plaintext[..SALT_LEN].copy_from_slice(&salt.0);
    let commitment =
        hash(Domain::BodyCommitment, &[&plaintext[..SALT_LEN], &plaintext[SALT_LEN..]]);
    let aad = binding(BODY_AAD, chain, bill);
    let ciphertext = key
        .cipher()
        .encrypt(&XNonce::from(nonce.0), Payload { msg: &plaintext, aad: &aad })
        .expect("XChaCha20-Poly1305 encrypts any message under the size limit");
    assert_eq!(ciphertext.len(), bytes, "ciphertext is the plaintext and a tag");

    let wraps = readers
        .iter()
        .map(|reader| wrap_key(chain, bill, &key, reader))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Sealed { body: SealedBody { nonce, ciphertext, wraps }, commitment })
}

/// Wraps a bill's data key to `to` with HPKE (base mode), bound to the chain and bill.
pub fn wrap_key(
    chain: &ChainId,
    bill: &BillId,
    key: &DataKey,
    to: &EncryptionKey,
) -> Result<KeyWrap, SealError> {
    let bad = |_| SealError::BadReader(*to);
    let public = <X25519HkdfSha256 as Kem>::PublicKey::from_bytes(&to.0).map_err(bad)?;
    let info = binding(KEY_INFO, chain, bill);
    let (encapsulated, wrapped) = hpke::single_shot_seal::<
        HpkeChaCha20Poly1305,
        HkdfSha256,
        X25519HkdfSha256,
    >(&OpModeS::Base, &public, &info, key.0.as_slice(), &[])
    .map_err(bad)?;
    let mut out = KeyWrap {
        recipient: *to,
        encapsulated: EncryptionKey([0; 32]),
        wrapped_key: WrappedKey([0; 48]),
    };
    out.encapsulated.0.copy_from_slice(&encapsulated.to_bytes());
    out.wrapped_key.0.copy_from_slice(&wrapped);
    Ok(out)
}

/// Unwraps a bill's data key from `wrap` with the reader's `secret`.
///
/// A wrap addressed to another key fails as [`OpenError::UnwrapFailed`] without trying it,
/// as does any wrap HPKE does not open (tampered, or for another bill or chain).
pub fn unwrap_key(
    chain: &ChainId,
    bill: &BillId,
    wrap: &KeyWrap,
    secret: &EncryptionSecret,
) -> Result<DataKey, OpenError> {
    if wrap.recipient != secret.public() {
        return Err(OpenError::UnwrapFailed);
    }
    let encapsulated = <X25519HkdfSha256 as Kem>::EncappedKey::from_bytes(&wrap.encapsulated.0)
        .map_err(|_| OpenError::UnwrapFailed)?;
    let info = binding(KEY_INFO, chain, bill);
    let opened = Zeroizing::new(
        hpke::single_shot_open::<HpkeChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
            &OpModeR::Base,
            secret.hpke_secret(),
            &encapsulated,
            &info,
            &wrap.wrapped_key.0,
            &[],
        )
        .map_err(|_| OpenError::UnwrapFailed)?,
    );
    let mut key = DataKey(Zeroizing::new([0; DATA_KEY_LEN]));
    if opened.len() != DATA_KEY_LEN {
        return Err(OpenError::UnwrapFailed);
    }
    key.0.copy_from_slice(&opened);
    Ok(key)
}

/// Opens a sealed body with one of its wraps (the reader's own, or a payer's disclosure):
/// unwraps the data key, decrypts, decodes, and checks the body against the bill's
/// `commitment`.
pub fn open(
    chain: &ChainId,
    bill: &BillId,
    sealed: &SealedBody,
    commitment: &Digest,
    wrap: &KeyWrap,
    secret: &EncryptionSecret,
) -> Result<PrivateBody, OpenError> {
    let key = unwrap_key(chain, bill, wrap, secret)?;
    open_with_key(chain, bill, sealed, commitment, &key)
}

/// Opens a sealed body with the wrap addressed to `secret`'s public key.
pub fn open_own(
    chain: &ChainId,
    bill: &BillId,
    sealed: &SealedBody,
    commitment: &Digest,
    secret: &EncryptionSecret,
) -> Result<PrivateBody, OpenError> {
    let wrap = sealed.wrap_for(&secret.public()).ok_or(OpenError::NoWrapForKey)?;
    open(chain, bill, sealed, commitment, wrap, secret)
}

/// Opens a sealed body with its already unwrapped data key: decrypts, decodes, and checks the
/// body against the bill's `commitment`.
pub fn open_with_key(
    chain: &ChainId,
    bill: &BillId,
    sealed: &SealedBody,
    commitment: &Digest,
    key: &DataKey,
) -> Result<PrivateBody, OpenError> {
    let aad = binding(BODY_AAD, chain, bill);
    let plaintext = Zeroizing::new(
        key.cipher()
            .decrypt(&XNonce::from(sealed.nonce.0), Payload { msg: &sealed.ciphertext, aad: &aad })
            .map_err(|_| OpenError::Tampered)?,
    );
    if plaintext.len() < SALT_LEN {
        return Err(OpenError::Malformed("shorter than its salt"));
    }
    let (salt, encoded) = plaintext.split_at(SALT_LEN);
    let body = PrivateBody::decode(Copying(encoded))
        .map_err(|_| OpenError::Malformed("not a canonical body encoding"))?;
    body.validate()
        .map_err(|_| OpenError::Malformed("a limit or an item's arithmetic does not hold"))?;
    // The decoded bytes are the body's canonical encoding (decoding consumed all of them), so
    // hashing them is hashing `body.encode()`, without encoding it again.
    if hash(Domain::BodyCommitment, &[salt, encoded]) != *commitment {
        return Err(OpenError::CommitmentMismatch);
    }
    Ok(body)
}

/// The patient's consent for a payer to read one bill: unwraps the data key with the wrap
/// addressed to `reader` (the patient's own key) and wraps it again to `payer`.
///
/// It does not decrypt the body: a patient who wants to be sure of what they disclose opens
/// it first.
pub fn disclose(
    chain: &ChainId,
    bill: &BillId,
    sealed: &SealedBody,
    reader: &EncryptionSecret,
    payer: &EncryptionKey,
) -> Result<Disclosure, OpenError> {
    let own = sealed.wrap_for(&reader.public()).ok_or(OpenError::NoWrapForKey)?;
    let key = unwrap_key(chain, bill, own, reader)?;
    let wrap = wrap_key(chain, bill, &key, payer).map_err(|_| OpenError::BadRecipient(*payer))?;
    Ok(Disclosure { bill: *bill, wrap })
}

/// `prefix ‖ chain ‖ bill`, with the chain id length-prefixed as it is encoded, so that no
/// two (chain, bill) pairs give the same bytes.
fn binding(prefix: &[u8], chain: &ChainId, bill: &BillId) -> Vec<u8> {
    let mut out = Vec::with_capacity(prefix.len() + chain.encode_size() + bill.encode_size());
    out.extend_from_slice(prefix);
    out.extend_from_slice(&chain.encode());
    out.extend_from_slice(&bill.encode());
    out
}

/// The canonical encoding of `body` after `reserve` zero bytes, in a buffer wiped on drop.
fn encode_private(body: &PrivateBody, reserve: usize) -> Zeroizing<Vec<u8>> {
    let size = body.encode_size();
    let mut out = Zeroizing::new(Vec::with_capacity(reserve + size));
    out.resize(reserve, 0);
    body.write(&mut *out);
    assert_eq!(out.len(), reserve + size, "encode_size matches what write writes");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::ChargeItem;
    use medledger_types::{ChargeCategory, Fen};

    /// Encrypts arbitrary bytes as an issuer would encrypt a body: what a faulty or malicious
    /// issuer could put on the ledger.
    fn seal_bytes(chain: &ChainId, bill: &BillId, key: &DataKey, plaintext: &[u8]) -> SealedBody {
        let nonce = BodyNonce([5; 24]);
        let aad = binding(BODY_AAD, chain, bill);
        let ciphertext = key
            .cipher()
            .encrypt(&XNonce::from(nonce.0), Payload { msg: plaintext, aad: &aad })
            .unwrap();
        SealedBody { nonce, ciphertext, wraps: vec![] }
    }

    #[test]
    fn authentic_but_invalid_plaintext_is_malformed() {
        let chain = ChainId::new("medledger-test").unwrap();
        let bill = BillId::new(1, 1).unwrap();
        let key = DataKey::generate();
        let any = Digest([0; 32]);
        let open = |plaintext: &[u8]| {
            open_with_key(&chain, &bill, &seal_bytes(&chain, &bill, &key, plaintext), &any, &key)
        };

        assert!(matches!(open(&[1; 10]), Err(OpenError::Malformed(_))));
        assert!(matches!(open(&[1; 64]), Err(OpenError::Malformed(_))));

        // A well-encoded body whose item does not add up.
        let body = PrivateBody {
            patient_name: String::new(),
            patient_id: String::new(),
            department: String::new(),
            diagnosis: String::new(),
            items: vec![ChargeItem {
                code: "1".into(),
                name: "x".into(),
                category: ChargeCategory::Other,
                unit_price: Fen(10),
                quantity: 2,
                amount: Fen(21),
                self_paid: Fen(0),
            }],
            payment_channel: String::new(),
        };
        let plaintext = encode_private(&body, SALT_LEN);
        assert!(matches!(open(&plaintext), Err(OpenError::Malformed(_))));

        // The same body made valid opens, and only under its own commitment.
        let mut valid = body;
        valid.items[0].amount = Fen(20);
        let plaintext = encode_private(&valid, SALT_LEN);
        assert_eq!(open(&plaintext), Err(OpenError::CommitmentMismatch));
        let salt = Salt([0; SALT_LEN]);
        let sealed = seal_bytes(&chain, &bill, &key, &plaintext);
        let right = commitment(&salt, &valid);
        assert_eq!(open_with_key(&chain, &bill, &sealed, &right, &key), Ok(valid));
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        assert_eq!(format!("{:?}", DataKey::generate()), "DataKey(..)");
        assert_eq!(format!("{:?}", Salt([9; SALT_LEN])), "Salt(..)");
    }
}
