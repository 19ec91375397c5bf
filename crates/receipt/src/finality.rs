//! Checking a simplex finalization certificate with commonware-cryptography alone.
//!
//! The node's consensus (commonware-consensus simplex with the ed25519 scheme) stores a
//! `Finalization<Scheme, sha256::Digest>` for each finalized block. Its encoding is
//!
//! ```text
//! Finalization = Proposal || Certificate
//! Proposal     = epoch (varint) || view (varint) || parent view (varint) || payload (32)
//! Certificate  = signers (bitmap: u64 bit length || bytes) || count (varint) || 64 × count
//! ```
//!
//! and each signature is an ed25519 signature over the proposal's encoding under the namespace
//! `consensus_namespace(chain_id) || "_FINALIZE"`. The signer with index `i` is the `i`-th
//! validator key in byte order (simplex's participant set is sorted), not in genesis order.
//! These checks mirror simplex's own certificate verification (`Generic::verify_certificate`
//! in commonware-cryptography), without pulling in the consensus crate and its runtime; the
//! tests check both agree.

use crate::consensus_namespace;
use commonware_codec::{
    Copying, DecodeExt as _, Error as CodecError, Read, ReadExt as _, varint::UInt,
};
use commonware_cryptography::{
    Verifier as _,
    ed25519::{self, certificate::Certificate},
    sha256,
};
use commonware_utils::{
    N3f1,
    ordered::{Quorum as _, Set},
};
use medledger_crypto::{Digest, PublicKey};
use medledger_types::ChainId;
use medledger_types::limits::VALIDATORS_MAX;

/// The only epoch medledger runs: the validator set is fixed at genesis.
const EPOCH: u64 = 0;

/// Simplex's suffix for finalize votes and certificates (`simplex/scheme/mod.rs`).
const FINALIZE_SUFFIX: &[u8] = b"_FINALIZE";

/// Simplex's suffix for notarize votes and certificates: a notarized block may still be on a
/// dead fork, so a notarization is never accepted in place of a finalization.
const NOTARIZE_SUFFIX: &[u8] = b"_NOTARIZE";

/// The namespace validators sign finalizations of `chain_id`'s blocks under.
pub fn finalize_namespace(chain_id: &ChainId) -> Vec<u8> {
    let mut namespace = consensus_namespace(chain_id);
    namespace.extend_from_slice(FINALIZE_SUFFIX);
    namespace
}

fn notarize_namespace(chain_id: &ChainId) -> Vec<u8> {
    let mut namespace = consensus_namespace(chain_id);
    namespace.extend_from_slice(NOTARIZE_SUFFIX);
    namespace
}

/// Why a finality certificate does not show that the validators finalized a header.
#[derive(Debug, thiserror::Error)]
pub enum FinalityError {
    /// Genesis names no validators, so nothing can be finalized.
    #[error("genesis names no validators: no certificate can be checked against it")]
    NoValidators,
    /// Genesis names more validators than any network runs.
    #[error("genesis names {count} validators, more than the {VALIDATORS_MAX} a network can have")]
    TooManyValidators {
        /// How many.
        count: usize,
    },
    /// Genesis names a validator key twice.
    #[error("genesis names validator key {key} twice")]
    DuplicateValidator {
        /// The key (boxed: an ed25519 key keeps its decompressed point, ~200 bytes).
        key: Box<PublicKey>,
    },
    /// The bytes are not a finalization for this many validators.
    #[error(
        "the finality certificate does not decode as a certificate for {validators} validators: {error}"
    )]
    Malformed {
        /// The number of genesis validators.
        validators: usize,
        /// What the decoder found.
        error: CodecError,
    },
    /// Bytes after the certificate.
    #[error("the finality certificate has {0} bytes after its end")]
    TrailingBytes(usize),
    /// Not epoch 0.
    #[error("the certificate is for epoch {0}; medledger runs a single epoch, 0")]
    WrongEpoch(u64),
    /// The certificate finalizes another block.
    #[error(
        "the certificate finalizes block {certified}, not this header (digest {header}): the header was altered or the certificate is for another block"
    )]
    WrongBlock {
        /// The payload the certificate signs.
        certified: Digest,
        /// The header's digest.
        header: Digest,
    },
    /// The signer bitmap is for another number of validators.
    #[error(
        "the certificate's signer bitmap covers {bitmap} validators but genesis names {validators}: it was made by another validator set"
    )]
    SignerBitmapLength {
        /// The bitmap's length.
        bitmap: usize,
        /// The number of genesis validators.
        validators: usize,
    },
    /// The bitmap and the signatures disagree.
    #[error("the certificate marks {signers} signers but carries {signatures} signatures")]
    SignatureCount {
        /// Signers marked in the bitmap.
        signers: usize,
        /// Signatures carried.
        signatures: usize,
    },
    /// Fewer signers than a quorum.
    #[error(
        "only {signers} of {validators} validators signed the certificate; finality needs {quorum}"
    )]
    NoQuorum {
        /// Signers.
        signers: usize,
        /// The quorum, n − ⌊(n − 1)/3⌋.
        quorum: usize,
        /// The number of genesis validators.
        validators: usize,
    },
    /// The certificate is a notarization: a quorum voted for the block, but it may not be final.
    #[error(
        "the certificate is a notarization, not a finalization: a notarized block may still be abandoned, only a finalized one is final"
    )]
    Notarization,
    /// A signature does not verify.
    #[error(
        "the signature of validator {index} ({key}) does not verify as a finalization of this block on chain {chain_id}: the certificate is forged, from another chain, or from another validator set"
    )]
    BadSignature {
        /// The signer's index in the sorted validator set.
        index: u32,
        /// The signer's key (boxed, as above).
        key: Box<PublicKey>,
        /// The chain whose namespace was checked.
        chain_id: ChainId,
    },
}

/// What a valid finalization certificate shows: how many of how many validators signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finalized {
    /// How many validators signed.
    pub signers: u32,
    /// How many validators there are.
    pub validators: u32,
    /// The keys of the validators that signed, in simplex's order (by key bytes).
    pub signed_by: Vec<PublicKey>,
}

/// The genesis validators as simplex orders them: by key bytes.
fn participants(validators: &[PublicKey]) -> Result<Set<ed25519::PublicKey>, FinalityError> {
    if validators.is_empty() {
        return Err(FinalityError::NoValidators);
    }
    if validators.len() > VALIDATORS_MAX {
        return Err(FinalityError::TooManyValidators { count: validators.len() });
    }
    let keys = validators
        .iter()
        .map(|key| {
            // A medledger public key is a validated ed25519 key, so this always decodes.
            ed25519::PublicKey::decode(Copying(key.as_bytes()))
                .expect("a medledger public key is an ed25519 public key")
        })
        .collect::<Vec<_>>();
    Set::try_from(keys).map_err(|_| {
        let mut sorted = validators.to_vec();
        sorted.sort();
        let key = sorted
            .windows(2)
            .find(|pair| pair[0] == pair[1])
            .map(|pair| pair[0].clone())
            .expect("the set refused a duplicate");
        FinalityError::DuplicateValidator { key: Box::new(key) }
    })
}

/// Checks that `bytes` (a simplex `Finalization<ed25519::Scheme, sha256::Digest>`'s encoding)
/// is a finalization, by a quorum of `validators` (genesis's, in any order) on `chain_id`, of
/// the block whose digest is `block`. [`verify`](crate::verify) calls it for a receipt's
/// header; a node can call it on the certificates it stores.
pub fn verify_finalization(
    bytes: &[u8],
    chain_id: &ChainId,
    validators: &[PublicKey],
    block: &Digest,
) -> Result<Finalized, FinalityError> {
    let participants = participants(validators)?;
    let n = participants.len();
    let malformed = |error| FinalityError::Malformed { validators: n, error };

    // The proposal: the signed message is exactly its encoding, which the decoder only accepts
    // in canonical form, so the consumed bytes are what the validators signed.
    let mut buf = Copying(bytes);
    let epoch = UInt::<u64>::read(&mut buf).map_err(malformed)?.0;
    let _view = UInt::<u64>::read(&mut buf).map_err(malformed)?;
    let _parent_view = UInt::<u64>::read(&mut buf).map_err(malformed)?;
    let payload = sha256::Digest::read(&mut buf).map_err(malformed)?;
    let proposal = &bytes[..bytes.len() - bytes::Buf::remaining(&buf)];
    // The decoder bounds the bitmap and the signatures by `n`; the exact checks follow.
    let certificate = Certificate::read_cfg(&mut buf, &n).map_err(malformed)?;
    let trailing = bytes::Buf::remaining(&buf);
    if trailing != 0 {
        return Err(FinalityError::TrailingBytes(trailing));
    }

    if epoch != EPOCH {
        return Err(FinalityError::WrongEpoch(epoch));
    }
    let certified = Digest(payload.0);
    if certified != *block {
        return Err(FinalityError::WrongBlock { certified, header: *block });
    }
    let signers = &certificate.signers;
    if signers.len() != n {
        return Err(FinalityError::SignerBitmapLength { bitmap: signers.len(), validators: n });
    }
    if signers.count() != certificate.signatures.len() {
        return Err(FinalityError::SignatureCount {
            signers: signers.count(),
            signatures: certificate.signatures.len(),
        });
    }
    let quorum = usize::try_from(participants.quorum::<N3f1>()).expect("quorum fits usize");
    if signers.count() < quorum {
        return Err(FinalityError::NoQuorum { signers: signers.count(), quorum, validators: n });
    }

    // One signature at a time: with tens of validators at most, batching would save little
    // and need a random number generator.
    let finalize = finalize_namespace(chain_id);
    let mut signed_by = Vec::with_capacity(certificate.signatures.len());
    for (index, signature) in signers.iter().zip(&certificate.signatures) {
        let key = participants.key(index).expect("the bitmap length equals the set size");
        signed_by.push(PublicKey::from_bytes(key.as_ref()).expect("a set key is a valid key"));
        let valid = signature.get().is_some_and(|sig| key.verify(&finalize, proposal, sig));
        if !valid {
            let notarized = signature
                .get()
                .is_some_and(|sig| key.verify(&notarize_namespace(chain_id), proposal, sig));
            if notarized {
                return Err(FinalityError::Notarization);
            }
            return Err(FinalityError::BadSignature {
                index: index.get(),
                key: Box::new(
                    PublicKey::from_bytes(key.as_ref()).expect("a set key is a valid key"),
                ),
                chain_id: chain_id.clone(),
            });
        }
    }
    Ok(Finalized {
        signers: u32::try_from(signers.count()).expect("at most VALIDATORS_MAX signers"),
        validators: u32::try_from(n).expect("at most VALIDATORS_MAX validators"),
        signed_by,
    })
}
