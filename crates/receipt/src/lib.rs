//! Bill and claim receipts that anyone can check offline, with nothing but the validators'
//! public keys from genesis.
//!
//! A receipt chains four facts, each checked by [`verify`]:
//!
//! ```text
//! record ──leaf──► proof ──► mmr_root ─┐
//!                          receipts_root ┼─► state_root == header.state_root (as of executed_height)
//!                                        │
//! header ──digest──► finalization.payload; a quorum of the validators signed the finalization
//! ```
//!
//! 1. The record (a bill or a claim, canonical encoding) hashes to a leaf of the authenticated
//!    state, a Merkle mountain range with one leaf per bill and per claim that is overwritten
//!    whenever the record changes, so it only ever holds current records.
//! 2. The proof places that leaf at its position under `mmr_root`.
//! 3. `mmr_root`, the receipts chain root and the executed height hash to the header's
//!    `state_root`; the header's `executed_height` says which height the state is as of.
//! 4. The header's digest is what the validators finalized: a quorum of the genesis validators
//!    signed the finalization certificate for it.
//!
//! The state a header commits to is the one after its proposer's last executed block
//! (`executed_height`, normally one or two blocks before the header's own height): a receipt
//! says what the bill was **as of that height**. Nothing offline can prove it is still so now.
//!
//! Use: [`Receipt::from_bytes`] or [`Receipt::from_hex`] checks the form of untrusted bytes
//! (a known version, every length within the limits below, nothing left over); [`verify`]
//! checks what the receipt claims against a [`Genesis`](medledger_types::Genesis) and returns
//! [`Verified`], or the [`VerifyError`] that names the first broken link. [`Presented`] reads
//! whatever form a receipt was handed over in, and also checks the unsigned fields of a node's
//! JSON answer against the receipt.
//!
//! The formats are specified byte for byte in `docs/formats/` (receipt container, records,
//! state tree, block header, certificate, hashing and signatures), enough to write another
//! verifier from; `tests/independent/verify_receipt.py` is one, in Python's standard library
//! alone, and `tests/independent.rs` checks that it agrees with this crate.
//!
//! This crate depends on commonware-storage's merkle module, commonware-cryptography and
//! commonware-utils without their `std` features, and never on commonware-consensus or the
//! node: a verifier pulls in no runtime and no tokio (`cargo tree -p medledger-receipt -e
//! normal` shows neither).

mod codec;
mod finality;
mod presented;
mod qr;
mod verify;

pub use codec::DecodeError;
pub use finality::{FinalityError, Finalized, finalize_namespace, verify_finalization};
pub use presented::{Presented, Stated};
pub use qr::{QR_PREFIX, base45_decode, base45_encode};
pub use verify::{Verified, VerifyError, verify};

use commonware_codec::Encode as _;
use medledger_crypto::{Digest, Domain, hash};
use medledger_types::{Bill, ChainId, Claim, Genesis};

/// The receipt format's version; a verifier refuses versions it does not know.
pub const RECEIPT_VERSION: u8 = 1;

/// The largest finality certificate a receipt may carry. An ed25519 certificate holds a signer
/// bitmap and one 64-byte signature per signer: about 6.5 KB for
/// [`VALIDATORS_MAX`](medledger_types::limits::VALIDATORS_MAX) validators, so this leaves ample
/// room while keeping a decoder of untrusted receipts from allocating without bound.
pub const FINALIZATION_BYTES_MAX: usize = 64 * 1024;

/// The largest encoded receipt: the certificate, a proof of at most
/// [`MAX_PROOF_DIGESTS_PER_ELEMENT`] digests (about 4 KB), a record (a few KB at its limits)
/// and the fixed fields. Checked before decoding anything.
pub const RECEIPT_BYTES_MAX: usize = FINALIZATION_BYTES_MAX + 16 * 1024;

/// The most sibling digests a state proof may carry (the storage crate's own bound for one
/// element of the largest possible tree).
pub use commonware_storage::mmr::MAX_PROOF_DIGESTS_PER_ELEMENT;

/// A state proof: the sibling and peak digests that place one leaf under the MMR root.
pub type StateProof = commonware_storage::mmr::Proof<StateDigest>;

/// The block header fields a block's digest covers (the transactions are represented by
/// `tx_root`). The node's blocks compute their digest with [`BlockHeader::digest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockHeader {
    /// The parent block's digest.
    pub parent: Digest,
    /// Height.
    pub height: u64,
    /// Consensus time, ms since the Unix epoch.
    pub timestamp_ms: u64,
    /// The root of the block's transaction ids and signatures.
    pub tx_root: Digest,
    /// The height whose state `state_root` commits to.
    pub executed_height: u64,
    /// The state root after `executed_height`.
    pub state_root: Digest,
}

impl BlockHeader {
    /// The block's digest: its identity in consensus, what the validators sign.
    pub fn digest(&self) -> Digest {
        hash(
            Domain::BlockDigest,
            &[
                &self.parent.0,
                &self.height.to_be_bytes(),
                &self.timestamp_ms.to_be_bytes(),
                &self.tx_root.0,
                &self.executed_height.to_be_bytes(),
                &self.state_root.0,
            ],
        )
    }
}

/// A self-contained receipt for one bill or claim: everything [`verify`] needs, besides the
/// validators' public keys from genesis, to show what the record was as of a finalized height.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// The format's version: [`RECEIPT_VERSION`].
    pub version: u8,
    /// The network the record is on.
    pub chain_id: ChainId,
    /// The record, as of `header.executed_height`.
    pub record: Record,
    /// The record's leaf: its location (0-based leaf index) in the state MMR.
    pub leaf: u64,
    /// The proof that the record's leaf is at `leaf` under `mmr_root`.
    pub proof: StateProof,
    /// The state MMR's root after `header.executed_height`.
    pub mmr_root: Digest,
    /// The receipts chain root after `header.executed_height`.
    pub receipts_root: Digest,
    /// The finalized block header whose `state_root` commits to both roots.
    pub header: BlockHeader,
    /// The codec bytes of the simplex finalization certificate of `header` (proposal, then
    /// the ed25519 certificate), at most [`FINALIZATION_BYTES_MAX`].
    pub finalization: Vec<u8>,
}

impl Receipt {
    /// The receipt's canonical encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.encode().to_vec()
    }

    /// Decodes a receipt from untrusted bytes: at most [`RECEIPT_BYTES_MAX`], a known version,
    /// every length bounded, nothing left over. Decoding checks form only; [`verify`] checks
    /// what the receipt claims.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        codec::decode_untrusted(bytes)
    }

    /// The receipt as lowercase hexadecimal, for text channels (QR codes, JSON, e-mail).
    pub fn to_hex(&self) -> String {
        medledger_crypto::encode_hex(&self.to_bytes())
    }

    /// Decodes a receipt from hexadecimal (either case), refusing text longer than
    /// [`RECEIPT_BYTES_MAX`] bytes' worth before decoding it.
    pub fn from_hex(text: &str) -> Result<Self, DecodeError> {
        let text = text.trim();
        if text.len() > 2 * RECEIPT_BYTES_MAX {
            return Err(DecodeError::TooLarge { len: text.len() / 2, max: RECEIPT_BYTES_MAX });
        }
        let bytes = medledger_crypto::decode_hex(text)?;
        Self::from_bytes(&bytes)
    }

    /// Reads a receipt in any form people hand around: its bytes, its hex, the text of its QR
    /// code (`ML1*…`), or the JSON a node answers at `…/proof` (its `receipt` field; the
    /// answer's unsigned copies of the record and heights are dropped unread; use
    /// [`Presented`] to check them).
    pub fn parse(input: &[u8]) -> Result<Self, DecodeError> {
        Presented::parse(input).map(|presented| presented.receipt)
    }
}

/// The genesis digest that verifiers pin: `H("medledger/genesis/v1" ‖ canonical JSON)`, the
/// canonical JSON being the genesis as serde writes it without whitespace (fields in
/// declaration order, defaults filled in; `docs/formats/genesis.md`). It is also the
/// `tx_root` of the chain's block 0, so every block of the chain descends from it.
pub fn genesis_digest(genesis: &Genesis) -> Digest {
    let canonical = serde_json::to_vec(genesis).expect("a genesis serializes to JSON");
    hash(Domain::Genesis, &[&canonical])
}

/// The state root in a block header: the authenticated state's root and the receipts chain
/// root (which commits to everything else the validators agree on: members, ranges, the replay
/// set) after `executed_height`.
pub fn state_root(executed_height: u64, mmr_root: &Digest, receipts_root: &Digest) -> Digest {
    hash(Domain::StateCommitment, &[&executed_height.to_be_bytes(), &mmr_root.0, &receipts_root.0])
}

/// What a leaf of the authenticated state holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// A bill's current record.
    Bill(Bill),
    /// A claim's current record.
    Claim(Claim),
}

impl Record {
    /// What the record is, for messages: `"bill"` or `"claim"`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Record::Bill(_) => "bill",
            Record::Claim(_) => "claim",
        }
    }

    /// The leaf element: the record's kind and key bound to the hash of its canonical encoding.
    pub fn leaf(&self) -> Digest {
        let (kind, key, bytes): (u8, Vec<u8>, Vec<u8>) = match self {
            Record::Bill(bill) => (1, bill.issue.id.encode().to_vec(), bill.encode().to_vec()),
            Record::Claim(claim) => {
                (2, claim.submission.claim_id.encode().to_vec(), claim.encode().to_vec())
            }
        };
        hash(Domain::StateLeaf, &[&[kind], &key, &bytes])
    }
}

/// The authenticated state's digest type (SHA-256).
pub type StateDigest = commonware_cryptography::sha256::Digest;

/// The authenticated state's hasher: SHA-256, peaks bagged from newest to oldest so that a
/// leaf in an old, large peak has a short proof.
pub fn state_hasher() -> commonware_storage::mmr::StandardHasher<commonware_cryptography::Sha256> {
    commonware_storage::mmr::StandardHasher::new(commonware_storage::merkle::Bagging::BackwardFold)
}

/// The namespace the validators sign consensus messages under, specific to the chain so that a
/// certificate from another network that reuses validator keys never verifies here. Simplex
/// appends `_FINALIZE` to it for finalizations.
pub fn consensus_namespace(chain_id: &ChainId) -> Vec<u8> {
    format!("medledger:{}", chain_id.as_str()).into_bytes()
}
