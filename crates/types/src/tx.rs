//! Signed transactions: the only way anything changes on the ledger.
//!
//! ```text
//! Transaction = TxBody || signature (64 bytes)
//! TxBody      = chain_id || signer || nonce || expires_at_height || payload
//! id          = H("medledger/tx-id/v1", TxBody)
//! ```
//!
//! The id hashes the signed body, not the whole envelope. ed25519 under ZIP-215 accepts a few
//! different byte strings as signatures over the same message, so an id that covered the
//! signature could be changed by anyone who relays the transaction, letting them replay it
//! under a new id. Hashing only what the signer signed makes the id a property of the signer's
//! intent.
//!
//! Replay protection: the signer picks any unused `nonce` and an `expires_at_height` no more
//! than [`TX_LIFETIME_BLOCKS_MAX`](crate::limits::TX_LIFETIME_BLOCKS_MAX) ahead; the ledger
//! remembers accepted ids until they expire and refuses them again. Unordered nonces let a
//! hospital submit thousands of transactions at once without coordinating a counter.

use crate::bill::BillIssue;
use crate::body::SealedBody;
use crate::claim::{ClaimSubmission, PatientConsent};
use crate::codec_util::read_vec;
use crate::ids::{
    BillCode, BillId, BillNumber, ChainId, ClaimId, EncryptionKey, MemberId, Pseudonym, Text, TxId,
};
use crate::limits::{ISSUE_BATCH_BILLS_MAX, TX_BYTES_MAX};
use crate::money::Fen;
use crate::policy::Policy;
use bytes::{BufMut, Bytes};
use commonware_codec::{Buf, Copying, DecodeExt, Encode, EncodeSize, Error, Read, Write};
use medledger_crypto::{Domain, Namespace, PublicKey, Signature, SignedMessage, SigningKey, hash};
use serde::{Deserialize, Serialize};

/// What a transaction asks the ledger to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Payload {
    /// The regulator allocates bill numbers `first..=last` of `code` to a hospital.
    AllocateRange {
        /// The hospital receiving the range.
        hospital: MemberId,
        /// The bill code.
        code: BillCode,
        /// First number of the range.
        first: BillNumber,
        /// Last number of the range (inclusive).
        last: BillNumber,
    },
    /// A hospital issues a batch of bills under one signature. All or nothing.
    IssueBills {
        /// The bills' public headers, 1 to `ISSUE_BATCH_BILLS_MAX`.
        bills: Vec<BillIssue>,
        /// Each bill's sealed private body, in the same order (one per bill).
        bodies: Vec<SealedBody>,
    },
    /// The issuing hospital voids a bill by issuing a linked red bill.
    VoidBill {
        /// The bill to void.
        bill: BillId,
        /// The red bill's number (same code, in the hospital's range, unused).
        red_number: BillNumber,
    },
    /// A claim is filed by the patient, or by the payment platform with the patient's consent.
    SubmitClaim {
        /// What is claimed.
        claim: ClaimSubmission,
        /// The patient's consent; required when the signer is not the patient.
        consent: Option<PatientConsent>,
    },
    /// The claim's payer pays (part of) it.
    SettleClaim {
        /// The claim.
        claim_id: ClaimId,
        /// Approved amount per item, in item order, each at most the requested amount.
        approved: Vec<Fen>,
        /// The payer's payment reference.
        payment_reference: Text,
    },
    /// The claim's payer refuses it; the reservation is released.
    RejectClaim {
        /// The claim.
        claim_id: ClaimId,
        /// Why.
        reason: Text,
    },
    /// The patient withdraws the claim; the reservation is released.
    WithdrawClaim {
        /// The claim.
        claim_id: ClaimId,
        /// The patient's consent; required when the signer is not the patient.
        consent: Option<PatientConsent>,
    },
    /// The payment platform registers a patient's wallet key under a pseudonym.
    RegisterPatient {
        /// The pseudonym.
        patient: Pseudonym,
        /// The patient's wallet key.
        public_key: PublicKey,
        /// The patient's key for reading their bill bodies.
        encryption_key: EncryptionKey,
    },
    /// The regulator freezes a member: its transactions are refused.
    FreezeMember {
        /// The member.
        member: MemberId,
    },
    /// The regulator lifts a freeze.
    UnfreezeMember {
        /// The member.
        member: MemberId,
    },
    /// A genesis-defined reader (the regulator) records that it opens a bill's body, and why.
    /// The API serves it the body only once this is committed.
    AccessBody {
        /// The bill.
        bill: BillId,
        /// Why, from a fixed list: public (the patient sees every access to their bills).
        purpose: AccessPurpose,
        /// The reader's own case or file reference (may be empty). Never patient data; the
        /// API never serves it on a public route (events carry the purpose only).
        reference: Text,
    },
    /// A payer registers the next version of its claim policy; claims accepted from the next
    /// transaction on are adjudicated under it.
    RegisterPolicy {
        /// The policy; its payer must be the signer and its version the next one.
        policy: Policy,
    },
    /// The payer records the payment reference of a claim the ledger settled by its policy.
    RecordPayment {
        /// The claim.
        claim_id: ClaimId,
        /// The payer's payment reference (not empty).
        payment_reference: Text,
    },
}

impl Payload {
    /// The payload's name, as used in messages and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Payload::AllocateRange { .. } => "allocate_range",
            Payload::IssueBills { .. } => "issue_bills",
            Payload::VoidBill { .. } => "void_bill",
            Payload::SubmitClaim { .. } => "submit_claim",
            Payload::SettleClaim { .. } => "settle_claim",
            Payload::RejectClaim { .. } => "reject_claim",
            Payload::WithdrawClaim { .. } => "withdraw_claim",
            Payload::RegisterPatient { .. } => "register_patient",
            Payload::FreezeMember { .. } => "freeze_member",
            Payload::UnfreezeMember { .. } => "unfreeze_member",
            Payload::AccessBody { .. } => "access_body",
            Payload::RegisterPolicy { .. } => "register_policy",
            Payload::RecordPayment { .. } => "record_payment",
        }
    }

    const fn tag(&self) -> u8 {
        match self {
            Payload::AllocateRange { .. } => 1,
            Payload::IssueBills { .. } => 2,
            Payload::VoidBill { .. } => 3,
            Payload::SubmitClaim { .. } => 4,
            Payload::SettleClaim { .. } => 5,
            Payload::RejectClaim { .. } => 6,
            Payload::WithdrawClaim { .. } => 7,
            Payload::RegisterPatient { .. } => 8,
            Payload::FreezeMember { .. } => 9,
            Payload::UnfreezeMember { .. } => 10,
            Payload::AccessBody { .. } => 11,
            Payload::RegisterPolicy { .. } => 12,
            Payload::RecordPayment { .. } => 13,
        }
    }
}

impl Write for Payload {
    fn write(&self, buf: &mut impl BufMut) {
        self.tag().write(buf);
        match self {
            Payload::AllocateRange { hospital, code, first, last } => {
                hospital.write(buf);
                code.write(buf);
                first.write(buf);
                last.write(buf);
            }
            Payload::IssueBills { bills, bodies } => {
                bills.write(buf);
                bodies.write(buf);
            }
            Payload::VoidBill { bill, red_number } => {
                bill.write(buf);
                red_number.write(buf);
            }
            Payload::SubmitClaim { claim, consent } => {
                claim.write(buf);
                consent.write(buf);
            }
            Payload::SettleClaim { claim_id, approved, payment_reference } => {
                claim_id.write(buf);
                approved.write(buf);
                payment_reference.write(buf);
            }
            Payload::RejectClaim { claim_id, reason } => {
                claim_id.write(buf);
                reason.write(buf);
            }
            Payload::WithdrawClaim { claim_id, consent } => {
                claim_id.write(buf);
                consent.write(buf);
            }
            Payload::RegisterPatient { patient, public_key, encryption_key } => {
                patient.write(buf);
                public_key.write(buf);
                encryption_key.write(buf);
            }
            Payload::FreezeMember { member } | Payload::UnfreezeMember { member } => {
                member.write(buf)
            }
            Payload::AccessBody { bill, purpose, reference } => {
                bill.write(buf);
                purpose.write(buf);
                reference.write(buf);
            }
            Payload::RegisterPolicy { policy } => policy.write(buf),
            Payload::RecordPayment { claim_id, payment_reference } => {
                claim_id.write(buf);
                payment_reference.write(buf);
            }
        }
    }
}

impl EncodeSize for Payload {
    fn encode_size(&self) -> usize {
        1 + match self {
            Payload::AllocateRange { hospital, code, first, last } => {
                hospital.encode_size()
                    + code.encode_size()
                    + first.encode_size()
                    + last.encode_size()
            }
            Payload::IssueBills { bills, bodies } => bills.encode_size() + bodies.encode_size(),
            Payload::VoidBill { bill, red_number } => bill.encode_size() + red_number.encode_size(),
            Payload::SubmitClaim { claim, consent } => claim.encode_size() + consent.encode_size(),
            Payload::SettleClaim { claim_id, approved, payment_reference } => {
                claim_id.encode_size() + approved.encode_size() + payment_reference.encode_size()
            }
            Payload::RejectClaim { claim_id, reason } => {
                claim_id.encode_size() + reason.encode_size()
            }
            Payload::WithdrawClaim { claim_id, consent } => {
                claim_id.encode_size() + consent.encode_size()
            }
            Payload::RegisterPatient { patient, public_key, encryption_key } => {
                patient.encode_size() + public_key.encode_size() + encryption_key.encode_size()
            }
            Payload::FreezeMember { member } | Payload::UnfreezeMember { member } => {
                member.encode_size()
            }
            Payload::AccessBody { bill, purpose, reference } => {
                bill.encode_size() + purpose.encode_size() + reference.encode_size()
            }
            Payload::RegisterPolicy { policy } => policy.encode_size(),
            Payload::RecordPayment { claim_id, payment_reference } => {
                claim_id.encode_size() + payment_reference.encode_size()
            }
        }
    }
}

impl Read for Payload {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        fn r<T: Read<Cfg = ()>>(buf: &mut impl Buf) -> Result<T, Error> {
            T::read_cfg(buf, &())
        }
        Ok(match u8::read_cfg(buf, &())? {
            1 => Payload::AllocateRange {
                hospital: r(buf)?,
                code: r(buf)?,
                first: r(buf)?,
                last: r(buf)?,
            },
            2 => Payload::IssueBills {
                bills: read_vec(buf, ISSUE_BATCH_BILLS_MAX)?,
                bodies: read_vec(buf, ISSUE_BATCH_BILLS_MAX)?,
            },
            3 => Payload::VoidBill { bill: r(buf)?, red_number: r(buf)? },
            4 => Payload::SubmitClaim { claim: r(buf)?, consent: r(buf)? },
            5 => Payload::SettleClaim {
                claim_id: r(buf)?,
                approved: read_vec(buf, crate::limits::CLAIM_BILLS_MAX)?,
                payment_reference: r(buf)?,
            },
            6 => Payload::RejectClaim { claim_id: r(buf)?, reason: r(buf)? },
            7 => Payload::WithdrawClaim { claim_id: r(buf)?, consent: r(buf)? },
            8 => Payload::RegisterPatient {
                patient: r(buf)?,
                public_key: r(buf)?,
                encryption_key: r(buf)?,
            },
            9 => Payload::FreezeMember { member: r(buf)? },
            10 => Payload::UnfreezeMember { member: r(buf)? },
            11 => Payload::AccessBody { bill: r(buf)?, purpose: r(buf)?, reference: r(buf)? },
            12 => Payload::RegisterPolicy { policy: r(buf)? },
            13 => Payload::RecordPayment { claim_id: r(buf)?, payment_reference: r(buf)? },
            other => return Err(Error::InvalidEnum(other)),
        })
    }
}

/// Why a body reader (the regulator) opens a bill's private body: a code from a fixed list,
/// so that free text (which could name a patient) never goes on a public record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AccessPurpose {
    /// A routine audit of the issuer's billing.
    Audit,
    /// The investigation of suspected fraud (a claim, a bill, a member).
    FraudInvestigation,
    /// A complaint by the patient or a member.
    Complaint,
    /// A court order or another legal request.
    LegalRequest,
    /// Checking the quality of the data a hospital reports.
    DataQuality,
}

impl AccessPurpose {
    /// Every purpose, in code order.
    pub const ALL: [AccessPurpose; 5] = [
        AccessPurpose::Audit,
        AccessPurpose::FraudInvestigation,
        AccessPurpose::Complaint,
        AccessPurpose::LegalRequest,
        AccessPurpose::DataQuality,
    ];

    /// Its code on the wire (one byte, 1 to 5).
    pub fn code(self) -> u8 {
        match self {
            AccessPurpose::Audit => 1,
            AccessPurpose::FraudInvestigation => 2,
            AccessPurpose::Complaint => 3,
            AccessPurpose::LegalRequest => 4,
            AccessPurpose::DataQuality => 5,
        }
    }

    /// Its name, as in JSON (`fraud_investigation`).
    pub fn name(self) -> &'static str {
        match self {
            AccessPurpose::Audit => "audit",
            AccessPurpose::FraudInvestigation => "fraud_investigation",
            AccessPurpose::Complaint => "complaint",
            AccessPurpose::LegalRequest => "legal_request",
            AccessPurpose::DataQuality => "data_quality",
        }
    }
}

impl std::str::FromStr for AccessPurpose {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        Self::ALL.into_iter().find(|p| p.name() == text).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|p| p.name()).collect();
            format!("unknown purpose {text:?}; one of {}", names.join(", "))
        })
    }
}

impl Write for AccessPurpose {
    fn write(&self, buf: &mut impl BufMut) {
        self.code().write(buf);
    }
}
impl EncodeSize for AccessPurpose {
    fn encode_size(&self) -> usize {
        1
    }
}
impl Read for AccessPurpose {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        let code = u8::read_cfg(buf, &())?;
        Self::ALL.into_iter().find(|p| p.code() == code).ok_or(Error::InvalidEnum(code))
    }
}

/// Everything the signer signs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TxBody {
    /// The network the transaction is for.
    pub chain_id: ChainId,
    /// The signer's public key (a member's key, or a patient's wallet key).
    pub signer: PublicKey,
    /// Any value that makes the body unique for this signer.
    pub nonce: u64,
    /// The last height at which the transaction may be included.
    pub expires_at_height: u64,
    /// What to do.
    pub payload: Payload,
}
crate::codec_util::codec_struct!(TxBody {
    chain_id: ChainId,
    signer: PublicKey,
    nonce: u64,
    expires_at_height: u64,
    payload: Payload,
});

/// A signed transaction. Immutable once built: its encoded body and id are computed once.
#[derive(Clone, Debug)]
pub struct Transaction {
    body: TxBody,
    signature: Signature,
    body_bytes: Bytes,
    id: TxId,
}

impl PartialEq for Transaction {
    fn eq(&self, other: &Self) -> bool {
        self.body_bytes == other.body_bytes && self.signature == other.signature
    }
}
impl Eq for Transaction {}

impl Transaction {
    /// Signs `body` with `key`. The body's `signer` should be `key`'s public key; if it is not,
    /// the ledger will refuse the transaction as badly signed.
    pub fn sign(body: TxBody, key: &SigningKey) -> Self {
        let body_bytes = body.encode();
        let signature = key.sign(Namespace::Transaction, &body_bytes);
        Self::assemble(body, body_bytes, signature)
    }

    /// Joins a body and a signature made elsewhere (a wallet, a hardware key).
    pub fn from_parts(body: TxBody, signature: Signature) -> Self {
        let body_bytes = body.encode();
        Self::assemble(body, body_bytes, signature)
    }

    fn assemble(body: TxBody, body_bytes: Bytes, signature: Signature) -> Self {
        let id = TxId(hash(Domain::TransactionId, &[&body_bytes]));
        Self { body, signature, body_bytes, id }
    }

    /// Decodes a transaction from untrusted bytes, refusing anything over
    /// [`TX_BYTES_MAX`] before looking inside.
    pub fn decode_untrusted(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() > TX_BYTES_MAX {
            return Err(Error::InvalidLength(bytes.len()));
        }
        Self::decode(Copying(bytes))
    }

    /// The id: hash of the signed body.
    pub fn id(&self) -> TxId {
        self.id
    }

    /// The signed body.
    pub fn body(&self) -> &TxBody {
        &self.body
    }

    /// The bytes the signature covers.
    pub fn signed_bytes(&self) -> &[u8] {
        &self.body_bytes
    }

    /// The signature.
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The envelope signature as an item for batch verification.
    pub fn signed_message(&self) -> SignedMessage<'_> {
        SignedMessage {
            namespace: Namespace::Transaction,
            message: &self.body_bytes,
            public_key: &self.body.signer,
            signature: &self.signature,
        }
    }
}

impl Write for Transaction {
    fn write(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.body_bytes);
        self.signature.write(buf);
    }
}
impl EncodeSize for Transaction {
    fn encode_size(&self) -> usize {
        self.body_bytes.len() + self.signature.encode_size()
    }
}
impl Read for Transaction {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        let body = TxBody::read_cfg(buf, &())?;
        let signature = Signature::read_cfg(buf, &())?;
        // The signature is checked against the re-encoded (canonical) body, and the id hashes
        // it too, so any non-canonical encoding of the same body is the same transaction.
        Ok(Self::from_parts(body, signature))
    }
}

/// JSON form of a transaction: the body, the signature and (on output) the id.
#[derive(Serialize, Deserialize)]
struct TransactionJson {
    #[serde(default, skip_deserializing)]
    id: Option<TxId>,
    body: TxBody,
    signature: Signature,
}

impl Serialize for Transaction {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        TransactionJson {
            id: Some(self.id),
            body: self.body.clone(),
            signature: self.signature.clone(),
        }
        .serialize(s)
    }
}
impl<'de> Deserialize<'de> for Transaction {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let json = TransactionJson::deserialize(d)?;
        Ok(Transaction::from_parts(json.body, json.signature))
    }
}
