//! The receipt's canonical binary encoding (commonware-codec), bounded for untrusted input.
//!
//! ```text
//! Receipt     = version (1) || chain_id || Record || leaf (u64) || Proof || mmr_root (32)
//!               || receipts_root (32) || BlockHeader (120) || finalization (varint length, bytes)
//! Record      = 1 || Bill  |  2 || Claim
//! BlockHeader = parent (32) || height (u64) || timestamp_ms (u64) || tx_root (32)
//!               || executed_height (u64) || state_root (32)
//! Proof       = leaves (varint) || inactive_peaks (varint) || digests (varint count, 32 each)
//! ```
//!
//! Integers without a note are 8 bytes, big-endian.

use crate::{
    BlockHeader, FINALIZATION_BYTES_MAX, MAX_PROOF_DIGESTS_PER_ELEMENT, RECEIPT_BYTES_MAX,
    RECEIPT_VERSION, Receipt, Record, StateProof,
};
use bytes::BufMut;
use commonware_codec::{
    Buf, Copying, DecodeExt as _, EncodeSize, Error as CodecError, FixedSize, Read, ReadRangeExt,
    Write,
};
use medledger_crypto::{Digest, FromHexError};
use medledger_types::{Bill, ChainId, Claim};

/// Why bytes are not a receipt this verifier can read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Larger than any receipt: refused before decoding.
    #[error("the receipt is {len} bytes, more than the {max} a receipt can be")]
    TooLarge {
        /// Its length in bytes.
        len: usize,
        /// [`RECEIPT_BYTES_MAX`].
        max: usize,
    },
    /// The text is not hexadecimal.
    #[error("the receipt is not hexadecimal: {0}")]
    Hex(#[from] FromHexError),
    /// Nothing to decode.
    #[error("no receipt: the input is empty (expected hex, QR text (ML1*…), proof JSON or bytes)")]
    Empty,
    /// Text or bytes in none of the forms a receipt comes in.
    #[error(
        "not a receipt: expected hex, QR text (ML1*…), a node's proof JSON or the receipt's bytes"
    )]
    NotAReceipt,
    /// Text that starts like a receipt's QR text but is not one.
    #[error("not a receipt's QR text: {0}")]
    Qr(String),
    /// A format version this verifier does not know (a newer one, or corrupted bytes).
    #[error(
        "receipt format version {version} is not known to this verifier (it reads version {RECEIPT_VERSION})"
    )]
    UnknownVersion {
        /// The version byte found.
        version: u8,
    },
    /// Not a well-formed receipt: truncated, a length over its limit, an unknown tag, an
    /// invalid identifier, or bytes left over.
    #[error("not a well-formed receipt (truncated, altered, or not a receipt at all): {0}")]
    Malformed(CodecError),
    /// JSON that is not a node's receipt answer.
    #[error("not a node's receipt answer (JSON with a `receipt` field in hex): {0}")]
    Json(String),
}

pub(crate) fn decode_untrusted(bytes: &[u8]) -> Result<Receipt, DecodeError> {
    if bytes.len() > RECEIPT_BYTES_MAX {
        return Err(DecodeError::TooLarge { len: bytes.len(), max: RECEIPT_BYTES_MAX });
    }
    match bytes.first() {
        None => return Err(DecodeError::Empty),
        Some(&version) if version != RECEIPT_VERSION => {
            return Err(DecodeError::UnknownVersion { version });
        }
        Some(_) => {}
    }
    Receipt::decode(Copying(bytes)).map_err(DecodeError::Malformed)
}

impl Write for BlockHeader {
    fn write(&self, buf: &mut impl BufMut) {
        self.parent.write(buf);
        self.height.write(buf);
        self.timestamp_ms.write(buf);
        self.tx_root.write(buf);
        self.executed_height.write(buf);
        self.state_root.write(buf);
    }
}
impl FixedSize for BlockHeader {
    const SIZE: usize = 3 * Digest::SIZE + 3 * u64::SIZE;
}
impl Read for BlockHeader {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(Self {
            parent: Digest::read_cfg(buf, &())?,
            height: u64::read_cfg(buf, &())?,
            timestamp_ms: u64::read_cfg(buf, &())?,
            tx_root: Digest::read_cfg(buf, &())?,
            executed_height: u64::read_cfg(buf, &())?,
            state_root: Digest::read_cfg(buf, &())?,
        })
    }
}

const RECORD_BILL: u8 = 1;
const RECORD_CLAIM: u8 = 2;

impl Write for Record {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            Record::Bill(bill) => {
                RECORD_BILL.write(buf);
                bill.write(buf);
            }
            Record::Claim(claim) => {
                RECORD_CLAIM.write(buf);
                claim.write(buf);
            }
        }
    }
}
impl EncodeSize for Record {
    fn encode_size(&self) -> usize {
        1 + match self {
            Record::Bill(bill) => bill.encode_size(),
            Record::Claim(claim) => claim.encode_size(),
        }
    }
}
impl Read for Record {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        match u8::read_cfg(buf, &())? {
            RECORD_BILL => Ok(Record::Bill(Bill::read_cfg(buf, &())?)),
            RECORD_CLAIM => Ok(Record::Claim(Claim::read_cfg(buf, &())?)),
            other => Err(CodecError::InvalidEnum(other)),
        }
    }
}

impl Write for Receipt {
    fn write(&self, buf: &mut impl BufMut) {
        self.version.write(buf);
        self.chain_id.write(buf);
        self.record.write(buf);
        self.leaf.write(buf);
        self.proof.write(buf);
        self.mmr_root.write(buf);
        self.receipts_root.write(buf);
        self.header.write(buf);
        self.finalization.as_slice().write(buf);
    }
}
impl EncodeSize for Receipt {
    fn encode_size(&self) -> usize {
        self.version.encode_size()
            + self.chain_id.encode_size()
            + self.record.encode_size()
            + self.leaf.encode_size()
            + self.proof.encode_size()
            + self.mmr_root.encode_size()
            + self.receipts_root.encode_size()
            + self.header.encode_size()
            + self.finalization.as_slice().encode_size()
    }
}
impl Read for Receipt {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        let version = u8::read_cfg(buf, &())?;
        // Later versions may lay the fields out differently: refuse rather than misread.
        if version != RECEIPT_VERSION {
            return Err(CodecError::Invalid("Receipt", "unknown receipt version"));
        }
        Ok(Self {
            version,
            chain_id: ChainId::read_cfg(buf, &())?,
            record: Record::read_cfg(buf, &())?,
            leaf: u64::read_cfg(buf, &())?,
            proof: StateProof::read_cfg(buf, &MAX_PROOF_DIGESTS_PER_ELEMENT)?,
            mmr_root: Digest::read_cfg(buf, &())?,
            receipts_root: Digest::read_cfg(buf, &())?,
            header: BlockHeader::read_cfg(buf, &())?,
            finalization: Vec::<u8>::read_range(buf, 0..=FINALIZATION_BYTES_MAX)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::Encode as _;

    #[test]
    fn header_is_120_bytes_in_field_order() {
        let header = BlockHeader {
            parent: Digest([1; 32]),
            height: 2,
            timestamp_ms: 3,
            tx_root: Digest([4; 32]),
            executed_height: 5,
            state_root: Digest([6; 32]),
        };
        let bytes = header.encode();
        assert_eq!(bytes.len(), 120);
        assert_eq!(&bytes[..32], &[1; 32]);
        assert_eq!(&bytes[32..40], &2u64.to_be_bytes());
        assert_eq!(&bytes[80..88], &5u64.to_be_bytes());
        assert_eq!(BlockHeader::decode(bytes).unwrap(), header);
    }

    #[test]
    fn oversized_empty_and_unknown_versions_are_refused_before_decoding() {
        assert!(matches!(
            decode_untrusted(&vec![RECEIPT_VERSION; RECEIPT_BYTES_MAX + 1]),
            Err(DecodeError::TooLarge { .. })
        ));
        assert!(matches!(decode_untrusted(&[]), Err(DecodeError::Empty)));
        assert!(matches!(
            decode_untrusted(&[2, 0, 0]),
            Err(DecodeError::UnknownVersion { version: 2 })
        ));
        assert!(matches!(decode_untrusted(&[RECEIPT_VERSION]), Err(DecodeError::Malformed(_))));
    }
}
