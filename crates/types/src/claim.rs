//! Claims: a patient's request to one payer for reimbursement of one or more bills.

use crate::body::Disclosure;
use crate::codec_util::read_vec;
use crate::ids::{BillId, ChainId, ClaimId, MemberId, Pseudonym, Text};
use crate::limits::CLAIM_BILLS_MAX;
use crate::money::Fen;
use crate::policy::Adjudication;
use bytes::BufMut;
use commonware_codec::{Buf, Encode, EncodeSize, Error, Read, Write};
use medledger_crypto::{PublicKey, Signature, SigningKey};
use serde::{Deserialize, Serialize};

use crate::codec_util::codec_struct;

/// One bill in a claim and the amount requested for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClaimItem {
    /// The bill.
    pub bill: BillId,
    /// The amount requested (at most the bill's unreserved claimable amount).
    pub amount: Fen,
}
codec_struct!(ClaimItem { bill: BillId, amount: Fen });

/// What a claim asks for. This is also what the patient signs when the payment platform files
/// the claim on their behalf.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClaimSubmission {
    /// The claim's identity, chosen by the filer.
    pub claim_id: ClaimId,
    /// The payer asked to pay.
    pub payer: MemberId,
    /// The patient, who must own every bill.
    pub patient: Pseudonym,
    /// The bills and amounts.
    pub items: Vec<ClaimItem>,
    /// The patient's consent for the payer to read bill bodies: each bill's data key wrapped
    /// to the payer's encryption key. Optional; a bill not disclosed stays unreadable to it.
    #[serde(default)]
    pub disclosures: Vec<Disclosure>,
}

impl Write for ClaimSubmission {
    fn write(&self, buf: &mut impl BufMut) {
        self.claim_id.write(buf);
        self.payer.write(buf);
        self.patient.write(buf);
        self.items.write(buf);
        self.disclosures.write(buf);
    }
}
impl EncodeSize for ClaimSubmission {
    fn encode_size(&self) -> usize {
        self.claim_id.encode_size()
            + self.payer.encode_size()
            + self.patient.encode_size()
            + self.items.encode_size()
            + self.disclosures.encode_size()
    }
}
impl Read for ClaimSubmission {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(Self {
            claim_id: ClaimId::read_cfg(buf, &())?,
            payer: MemberId::read_cfg(buf, &())?,
            patient: Pseudonym::read_cfg(buf, &())?,
            items: read_vec(buf, CLAIM_BILLS_MAX)?,
            disclosures: read_vec(buf, CLAIM_BILLS_MAX)?,
        })
    }
}

impl ClaimSubmission {
    /// The total requested, or `None` on overflow.
    pub fn total(&self) -> Option<Fen> {
        Fen::checked_sum(self.items.iter().map(|item| item.amount))
    }
}

/// A patient's signed consent, carried by the payment platform when it acts for the patient.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PatientConsent {
    /// The patient's key; it must be the key registered for the patient's pseudonym.
    pub public_key: PublicKey,
    /// The patient's signature over [`consent_to_submit`] or [`consent_to_withdraw`].
    pub signature: Signature,
}
codec_struct!(PatientConsent { public_key: PublicKey, signature: Signature });

impl PatientConsent {
    /// The patient's consent to `claim` being filed for them on `chain_id`.
    pub fn to_submit(chain_id: &ChainId, patient: &SigningKey, claim: &ClaimSubmission) -> Self {
        Self::signed(patient, &consent_to_submit(chain_id, claim))
    }

    /// The patient's consent to `claim_id` being withdrawn for them on `chain_id`.
    pub fn to_withdraw(chain_id: &ChainId, patient: &SigningKey, claim_id: &ClaimId) -> Self {
        Self::signed(patient, &consent_to_withdraw(chain_id, claim_id))
    }

    fn signed(patient: &SigningKey, message: &[u8]) -> Self {
        Self {
            public_key: patient.public_key(),
            signature: patient.sign(medledger_crypto::Namespace::PatientConsent, message),
        }
    }
}

/// The bytes a patient signs to consent to a claim being filed for them.
pub fn consent_to_submit(chain_id: &ChainId, claim: &ClaimSubmission) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + claim.encode_size());
    out.extend_from_slice(b"submit");
    out.extend_from_slice(&chain_id.encode());
    out.extend_from_slice(&claim.encode());
    out
}

/// The bytes a patient signs to consent to withdrawing a claim.
pub fn consent_to_withdraw(chain_id: &ChainId, claim_id: &ClaimId) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(b"withdraw");
    out.extend_from_slice(&chain_id.encode());
    out.extend_from_slice(&claim_id.0);
    out
}

/// Where a claim stands. Locked is the only open state; the others are final.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum ClaimStatus {
    /// Accepted into a block; the requested amounts are reserved on the bills.
    Locked,
    /// Paid: the approved amounts became reimbursed amounts.
    Settled {
        /// Approved amount per item, in item order (each at most the requested amount).
        approved: Vec<Fen>,
        /// The payer's payment reference. Empty for a claim the ledger settled by the payer's
        /// policy until the payer records its payment (`record_payment`).
        payment_reference: Text,
        /// Height of the settling block.
        height: u64,
    },
    /// Refused by the payer; the reservation was released.
    Rejected {
        /// The payer's reason.
        reason: Text,
        /// Height of the rejecting block.
        height: u64,
    },
    /// Withdrawn by the patient; the reservation was released.
    Withdrawn {
        /// Height of the withdrawing block.
        height: u64,
    },
}

impl Write for ClaimStatus {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            ClaimStatus::Locked => 0u8.write(buf),
            ClaimStatus::Settled { approved, payment_reference, height } => {
                1u8.write(buf);
                approved.write(buf);
                payment_reference.write(buf);
                height.write(buf);
            }
            ClaimStatus::Rejected { reason, height } => {
                2u8.write(buf);
                reason.write(buf);
                height.write(buf);
            }
            ClaimStatus::Withdrawn { height } => {
                3u8.write(buf);
                height.write(buf);
            }
        }
    }
}
impl EncodeSize for ClaimStatus {
    fn encode_size(&self) -> usize {
        1 + match self {
            ClaimStatus::Locked => 0,
            ClaimStatus::Settled { approved, payment_reference, height } => {
                approved.encode_size() + payment_reference.encode_size() + height.encode_size()
            }
            ClaimStatus::Rejected { reason, height } => reason.encode_size() + height.encode_size(),
            ClaimStatus::Withdrawn { height } => height.encode_size(),
        }
    }
}
impl Read for ClaimStatus {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        match u8::read_cfg(buf, &())? {
            0 => Ok(ClaimStatus::Locked),
            1 => Ok(ClaimStatus::Settled {
                approved: read_vec(buf, CLAIM_BILLS_MAX)?,
                payment_reference: Text::read_cfg(buf, &())?,
                height: u64::read_cfg(buf, &())?,
            }),
            2 => Ok(ClaimStatus::Rejected {
                reason: Text::read_cfg(buf, &())?,
                height: u64::read_cfg(buf, &())?,
            }),
            3 => Ok(ClaimStatus::Withdrawn { height: u64::read_cfg(buf, &())? }),
            other => Err(Error::InvalidEnum(other)),
        }
    }
}

impl ClaimStatus {
    /// The status's name.
    pub fn name(&self) -> &'static str {
        match self {
            ClaimStatus::Locked => "locked",
            ClaimStatus::Settled { .. } => "settled",
            ClaimStatus::Rejected { .. } => "rejected",
            ClaimStatus::Withdrawn { .. } => "withdrawn",
        }
    }
}

/// A claim as the ledger records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Claim {
    /// What was asked.
    pub submission: ClaimSubmission,
    /// Who filed it: the patient, or the payment platform acting for them.
    pub filed_by: Option<MemberId>,
    /// Height of the block that locked it.
    pub submitted_height: u64,
    /// Where it stands.
    pub status: ClaimStatus,
    /// The payer's policy applied when the claim was accepted, if the payer had registered one:
    /// the settlement when `auto_approved`, otherwise the recommendation for the payer.
    #[serde(default)]
    pub adjudication: Option<Adjudication>,
}

codec_struct!(Claim {
    submission: ClaimSubmission,
    filed_by: Option<MemberId>,
    submitted_height: u64,
    status: ClaimStatus,
    adjudication: Option<Adjudication>,
});

impl Claim {
    /// The total requested.
    pub fn requested_total(&self) -> Fen {
        // Checked when the claim was accepted: the items fit within bills' claimable amounts.
        self.submission.total().expect("accepted claim total fits u64")
    }
}
