//! Identifiers, money, bills, claims, members, limits and signed transactions of medledger.
//!
//! These are the nouns of `../shared/DOMAIN.md` as Rust types. Every type that travels between
//! institutions has one canonical binary encoding (commonware-codec), and every decoder of
//! untrusted bytes is bounded by the limits in [`limits`]. A value that exists is valid: bill
//! codes have eight digits, money cannot be negative, identifiers have a fixed alphabet.
//!
//! With the `openapi` feature, every type the HTTP API sends or receives also implements
//! `utoipa::ToSchema`, describing exactly the JSON serde writes; the ledger builds without it.

pub mod api;
pub mod bill;
pub mod body;
pub mod claim;
mod codec_util;
pub mod genesis;
pub mod ids;
pub mod limits;
pub mod member;
pub mod money;
#[cfg(feature = "openapi")]
mod openapi;
pub mod policy;
pub mod receipt;
pub mod tx;

pub use bill::{Bill, BillAmounts, BillIssue, BillKind, CategoryAmount, ChargeCategory, VisitType};
pub use body::{Disclosure, KeyWrap, SealedBody};
pub use claim::{Claim, ClaimItem, ClaimStatus, ClaimSubmission, PatientConsent};
pub use genesis::{
    Genesis, GenesisMember, GenesisPatient, GenesisValidator, RangeAllocation, SyntheticBills,
};
pub use ids::{
    BillCode, BillId, BillNumber, BodyNonce, ChainId, CheckCode, ClaimId, EncryptionKey, MemberId,
    Pseudonym, Text, TxId, WrappedKey,
};
pub use member::{Member, Role, Roles};
pub use money::Fen;
pub use policy::{Adjudication, CategoryCoverage, Lines, Policy};
pub use receipt::{Effect, Outcome, Receipt, Rejection};
pub use tx::{AccessPurpose, Payload, Transaction, TxBody};

pub use commonware_codec::{Decode, DecodeExt, Encode, Error as CodecError};
pub use medledger_crypto::{Digest, PublicKey, Signature, SigningKey};
