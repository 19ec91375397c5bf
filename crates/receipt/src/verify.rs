//! [`verify`]: the four links of a receipt, each checked in turn, each failure named.

use crate::finality::{FinalityError, verify_finalization};
use crate::{RECEIPT_VERSION, Receipt, Record, state_hasher, state_root};
use commonware_cryptography::sha256;
use commonware_storage::mmr::Location;
use medledger_crypto::{Digest, PublicKey};
use medledger_types::{ChainId, Genesis};

/// What a valid receipt shows: the record was this, in the state as of `as_of_height`, and a
/// quorum of the genesis validators finalized a block committing to that state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The record.
    pub record: Record,
    /// The height whose state the record is from. The record may have changed since.
    pub as_of_height: u64,
    /// The finalized block whose header commits to that state.
    pub block_height: u64,
    /// That block's consensus time, ms since the Unix epoch.
    pub block_time_ms: u64,
    /// How many validators signed the finalization.
    pub signers: u32,
    /// How many validators genesis names.
    pub validators: u32,
}

/// Why a receipt does not verify. Each says which link of the chain broke.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// A receipt format this verifier does not know.
    #[error(
        "receipt format version {version} is not known to this verifier (it reads version {RECEIPT_VERSION})"
    )]
    UnknownVersion {
        /// The receipt's version.
        version: u8,
    },
    /// The receipt is for another network.
    #[error("the receipt is for chain {receipt}, but this genesis is chain {genesis}")]
    WrongChain {
        /// The receipt's chain.
        receipt: ChainId,
        /// The genesis chain.
        genesis: ChainId,
    },
    /// The proof claims inactive peaks, which medledger's state never has.
    #[error(
        "the proof declares {0} inactive peaks; medledger's state proofs have none: the proof was altered"
    )]
    InactivePeaks(usize),
    /// The record's leaf is not under the MMR root at the claimed location.
    #[error(
        "the proof does not place this {kind}'s record at leaf {leaf} under the state root: the record or the proof was altered, or the record is not the one as of height {as_of_height}"
    )]
    ProofMismatch {
        /// `"bill"` or `"claim"`.
        kind: &'static str,
        /// The claimed leaf location.
        leaf: u64,
        /// The height the state is claimed to be as of.
        as_of_height: u64,
    },
    /// The roots do not hash to the header's state root.
    #[error(
        "the header's state root {header} does not commit to this MMR root and receipts root at height {executed_height} (they give {computed}): a root or the header was altered"
    )]
    StateRootMismatch {
        /// The header's `state_root`.
        header: Digest,
        /// What the receipt's roots give.
        computed: Digest,
        /// The header's `executed_height`.
        executed_height: u64,
    },
    /// The certificate does not show the header was finalized by the genesis validators.
    #[error("the block is not shown final: {0}")]
    Finality(#[from] FinalityError),
    /// An unsigned field of a node's JSON answer differs from what the receipt says.
    #[error(
        "the answer's {field} says {stated}, but the signed receipt says {signed}: the answer was altered (only the receipt itself is signed)"
    )]
    StatedField {
        /// The JSON field.
        field: &'static str,
        /// Its value in the answer.
        stated: String,
        /// What the verified receipt says.
        signed: String,
    },
    /// The record copied into a node's JSON answer differs from the signed record.
    #[error(
        "the answer's {kind} differs from the signed {kind}: {path} is {stated} in the answer but {signed} in the receipt; the answer was altered (only the receipt itself is signed)"
    )]
    StatedRecord {
        /// `"bill"` or `"claim"`.
        kind: &'static str,
        /// The first field that differs, e.g. `bill.reimbursed`.
        path: String,
        /// Its value in the answer (JSON).
        stated: String,
        /// Its value in the signed record (JSON).
        signed: String,
    },
}

/// Verifies a receipt against a genesis: the record's leaf is under the MMR root, the roots
/// hash to the header's state root, and a quorum of `genesis`'s validators signed the header's
/// finalization on its chain. Only the genesis's chain id and validator keys are used.
///
/// Checks, in order: version and chain; the proof; the state root; the certificate. The first
/// failure is returned.
pub fn verify(receipt: &Receipt, genesis: &Genesis) -> Result<Verified, VerifyError> {
    if receipt.version != RECEIPT_VERSION {
        return Err(VerifyError::UnknownVersion { version: receipt.version });
    }
    if receipt.chain_id != genesis.chain_id {
        return Err(VerifyError::WrongChain {
            receipt: receipt.chain_id.clone(),
            genesis: genesis.chain_id.clone(),
        });
    }

    // The record: its leaf is recomputed here from the record itself (kind, key and content),
    // never taken from the receipt.
    let header = &receipt.header;
    if receipt.proof.inactive_peaks != 0 {
        return Err(VerifyError::InactivePeaks(receipt.proof.inactive_peaks));
    }
    let leaf = receipt.record.leaf();
    let included = receipt.proof.verify_element_inclusion(
        &state_hasher(),
        &leaf.0,
        Location::new(receipt.leaf),
        &sha256::Digest(receipt.mmr_root.0),
    );
    if !included {
        return Err(VerifyError::ProofMismatch {
            kind: receipt.record.kind_name(),
            leaf: receipt.leaf,
            as_of_height: header.executed_height,
        });
    }

    // The roots.
    let computed = state_root(header.executed_height, &receipt.mmr_root, &receipt.receipts_root);
    if computed != header.state_root {
        return Err(VerifyError::StateRootMismatch {
            header: header.state_root,
            computed,
            executed_height: header.executed_height,
        });
    }

    // The header.
    let validators: Vec<PublicKey> =
        genesis.validators.iter().map(|validator| validator.public_key.clone()).collect();
    let finalized = verify_finalization(
        &receipt.finalization,
        &receipt.chain_id,
        &validators,
        &header.digest(),
    )?;

    Ok(Verified {
        record: receipt.record.clone(),
        as_of_height: header.executed_height,
        block_height: header.height,
        block_time_ms: header.timestamp_ms,
        signers: finalized.signers,
        validators: finalized.validators,
    })
}
