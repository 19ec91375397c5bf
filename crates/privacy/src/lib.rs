//! Private bill bodies, patient pseudonyms and erasure.
//!
//! A bill's private body (patient name and identifiers, department, diagnosis, itemised
//! charges, payment channel) is encrypted by the issuing hospital under a fresh per-bill data
//! key with XChaCha20-Poly1305. The data key is wrapped to each entitled reader's X25519 key with
//! HPKE (RFC 9180, base mode). The public header commits to the body with a salted hash. See
//! `docs/design/0007-privacy.md`.
//!
//! ```text
//!  PrivateBody ──seal(chain, bill, readers)──▶ Sealed { SealedBody, commitment }
//!                                                  │            └─▶ BillIssue.body_commitment
//!                                                  └─▶ on the ledger (ciphertext + wraps)
//!  reader's EncryptionSecret ──open_own──▶ PrivateBody   (checked against the commitment)
//!  patient's EncryptionSecret ──disclose(payer)──▶ Disclosure (inside a claim)
//!  payer's EncryptionSecret + Disclosure.wrap ──open──▶ PrivateBody
//! ```
//!
//! - [`body`]: the private body, its JSON and canonical binary forms, and its checks.
//! - [`seal`](mod@seal): sealing, opening, disclosing.
//! - [`wallet`]: a patient's per-institution identities from one seed.
//! - [`keystore`]: a hospital's per-patient keys, and erasure.

pub mod body;
mod keys;
pub mod keystore;
pub mod seal;
pub mod wallet;

pub use body::{BodyError, ChargeItem, PrivateBody};
pub use keys::EncryptionSecret;
pub use keystore::{IssuerKeystore, shred_file};
pub use seal::{
    DataKey, OpenError, Salt, SealError, Sealed, commitment, disclose, open, open_own,
    open_with_key, seal, unwrap_key, wrap_key,
};
pub use wallet::{PatientIdentity, Wallet, pseudonym_of};
