//! The pure, synchronous bill and claim state machine of medledger.
//!
//! ```text
//!            consensus hands in (height, time, transactions)
//!                                │
//!   verify_signatures ──► execute_block_checked ──► Vec<Receipt>
//!   (one ed25519 batch)          │  for each transaction:
//!                                │    validate(state) ─► Plan | Rejection   (read only)
//!                                │    Plan.apply(state)                     (only if accepted)
//!                                ▼
//!                      StateReader / StateWriter  (MemoryState here; durable in the node)
//! ```
//!
//! No async, no clock, no disk, no network, no randomness: the same blocks applied to the same
//! state give the same receipts on every validator. The rules are those of
//! `../shared/DOMAIN.md`; above all, for every bill at every height,
//! `reimbursed + reserved ≤ claimable`, a claim settles at most once, a voided bill carries
//! nothing, and the same transaction or claim id has no second effect.
//!
//! A claim to a payer that registered a policy is adjudicated in the transaction that accepts
//! it ([`policy::adjudicate`]): within the policy's auto-approve ceiling it settles there and
//! then (`claim_auto_settled`), otherwise it stays locked with the computed recommendation
//! attached for the payer to decide.
//!
//! # Order of checks
//!
//! The first failing check decides the rejection, so the order is part of the specification
//! (the reference model in `medledger-model` follows it).
//!
//! Every transaction: `wrong_chain_id` → `expired` → `expiry_too_far` → `bad_signature` →
//! `replayed` → `unknown_signer` → `signer_frozen`; then by payload. Every transaction with a
//! valid signature, for this chain and unexpired, is remembered until its expiry whatever its
//! outcome: inclusion is final, so a second inclusion is `replayed` (a rejected over-claim
//! re-included once it would fit has no effect). Admission runs the signer and role checks
//! first ([`admission_refusal`]), with the same codes.
//!
//! | payload | checks, in order |
//! |---|---|
//! | allocate_range | signer is regulator → hospital exists → is hospital → first ≤ last → no overlap |
//! | issue_bills | signer is hospital → batch not empty → one sealed body per bill → per bill: in signer's range → not a duplicate (state or batch) → total ≤ limit → parts add up → categories add up → body has ciphertext and wraps → no reader wrapped twice → wrapped to the patient (when registered) → wrapped to each genesis body reader, in id order |
//! | void_bill | signer is a member → bill exists → signer issued it → not red → not voided → nothing reserved or reimbursed → red number in range → red number unused |
//! | submit_claim | signer is the patient, or the payment platform (consent present → patient registered → consent key is the patient's → consent verifies) → claim id unused → payer exists → is payer → payer not frozen → items not empty → per item: amount > 0 → bill not repeated → bill exists → patient's bill → not red → not voided → fewer than 64 claims on the bill → within claimable → disclosures (if any): payer has an encryption key → per disclosure: a claimed bill, once → wrapped to the payer's key → (payer has a policy and the benefit is within its auto-approve ceiling) payer total does not overflow |
//! | settle_claim | signer is a member → claim exists → signer is its payer → claim locked → one amount per item → each ≤ requested → payer total does not overflow |
//! | register_policy | signer is a payer → the policy's payer is the signer → policy valid (`Policy::validate`, naming the field) → version is the next → per hospital: exists → is a hospital |
//! | record_payment | signer is a member → reference not empty → claim exists → signer is its payer → claim settled → no reference recorded yet |
//! | reject_claim | signer is a member → claim exists → signer is its payer → claim locked |
//! | withdraw_claim | claim exists → signer is its patient, or the payment platform with consent (as for submit) → claim locked |
//! | register_patient | signer is payment platform → pseudonym is the key's (`Pseudonym::of_key`) → pseudonym unused → key unused |
//! | access_body | signer is a genesis body reader → bill exists → bill has a body (not red) |
//! | freeze_member / unfreeze_member | signer is regulator → member exists → (freeze) not self → not already frozen / (unfreeze) frozen |

pub mod execute;
pub mod genesis;
mod memory;
#[cfg(feature = "planted-bugs")]
pub mod planted;
pub mod state;

pub use execute::{
    BlockContext, SignatureCheck, admission_refusal, execute_block, execute_block_checked,
    verify_signatures,
};
pub use genesis::GenesisError;
/// Payer policies and adjudication (defined with the types, as transactions carry policies).
pub use medledger_types::policy;
pub use memory::MemoryState;
pub use state::{SignerRef, StateReader, StateWriter};
