//! Sealed bill bodies: what the ledger carries of the private part of a bill.
//!
//! The private body (names, identifiers, diagnosis, itemised charges, payment channel) never
//! travels in plaintext. The issuing hospital encrypts it under a fresh per-bill data key with
//! XChaCha20-Poly1305 and wraps that key to each entitled reader with HPKE (X25519,
//! HKDF-SHA256, ChaCha20-Poly1305). The ledger sees only the ciphertext, the wraps and who
//! each wrap is for; the bill's public header carries a salted hash commitment to the body.
//! Sealing and opening live in `medledger-privacy`; these are the on-ledger shapes.

use crate::codec_util::{codec_struct, read_bytes, read_vec};
use crate::ids::{BillId, BodyNonce, EncryptionKey, WrappedKey};
use crate::limits::{BODY_CIPHERTEXT_BYTES_MAX, BODY_WRAPS_MAX};
use bytes::BufMut;
use commonware_codec::{Buf, Encode, EncodeSize, Error, Read, Write};
use medledger_crypto::{Digest, Domain, decode_hex, encode_hex, hash};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error as _};

/// A bill's data key wrapped to one reader with HPKE (base mode).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyWrap {
    /// The reader's X25519 public key.
    pub recipient: EncryptionKey,
    /// HPKE's encapsulated (ephemeral) key.
    pub encapsulated: EncryptionKey,
    /// The data key, encrypted to the reader.
    pub wrapped_key: WrappedKey,
}
codec_struct!(KeyWrap {
    recipient: EncryptionKey,
    encapsulated: EncryptionKey,
    wrapped_key: WrappedKey,
});

/// A bill body encrypted under its data key, with that key wrapped to each entitled reader.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SealedBody {
    /// XChaCha20-Poly1305 nonce.
    pub nonce: BodyNonce,
    /// The encrypted salt and canonical body, with its 16-byte tag (hex in JSON).
    #[serde(serialize_with = "hex_ser", deserialize_with = "hex_de")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = "hex"))]
    pub ciphertext: Vec<u8>,
    /// The data key for each reader (the patient, the issuer's copy, genesis-defined readers).
    pub wraps: Vec<KeyWrap>,
}

impl Write for SealedBody {
    fn write(&self, buf: &mut impl BufMut) {
        self.nonce.write(buf);
        self.ciphertext.write(buf);
        self.wraps.write(buf);
    }
}
impl EncodeSize for SealedBody {
    fn encode_size(&self) -> usize {
        self.nonce.encode_size() + self.ciphertext.encode_size() + self.wraps.encode_size()
    }
}
impl Read for SealedBody {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(Self {
            nonce: BodyNonce::read_cfg(buf, &())?,
            ciphertext: read_bytes(buf, BODY_CIPHERTEXT_BYTES_MAX)?,
            wraps: read_vec(buf, BODY_WRAPS_MAX)?,
        })
    }
}

impl SealedBody {
    /// The digest a bill record stores: the sealed body's identity on the ledger.
    pub fn digest(&self) -> Digest {
        hash(Domain::SealedBody, &[&self.encode()])
    }

    /// The wrap addressed to `reader`, if any.
    pub fn wrap_for(&self, reader: &EncryptionKey) -> Option<&KeyWrap> {
        self.wraps.iter().find(|w| w.recipient == *reader)
    }
}

/// The patient's consent, inside a claim, for the claim's payer to read one bill's body: the
/// bill's data key wrapped to the payer's encryption key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Disclosure {
    /// The bill (one of the claim's items).
    pub bill: BillId,
    /// Its data key, wrapped to the payer.
    pub wrap: KeyWrap,
}
codec_struct!(Disclosure { bill: BillId, wrap: KeyWrap });

fn hex_ser<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&encode_hex(bytes))
}

fn hex_de<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let text = String::deserialize(d)?;
    if text.len() > 2 * BODY_CIPHERTEXT_BYTES_MAX {
        return Err(D::Error::custom("ciphertext is longer than the limit"));
    }
    decode_hex(&text).map_err(|_| D::Error::custom("ciphertext must be hex"))
}
