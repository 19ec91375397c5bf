//! The e-bill (fiscal medical receipt): what a hospital issues and what the ledger records.

use crate::codec_util::{codec_struct, read_vec};
use crate::ids::{BillId, CheckCode, ClaimId, MemberId, Pseudonym};
use crate::limits::{BILL_ACCESSES_MAX, BILL_CATEGORIES_MAX, BILL_CLAIMS_MAX};
use crate::money::Fen;
use bytes::BufMut;
use commonware_codec::{Buf, EncodeSize, Error, FixedSize, Read, Write};
use medledger_crypto::{Digest, Domain, hash};
use serde::{Deserialize, Serialize};

/// The kind of visit a bill is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum VisitType {
    /// Registration fee.
    Registration,
    /// Outpatient visit.
    Outpatient,
    /// Inpatient stay.
    Inpatient,
    /// Health check-up.
    CheckUp,
}

/// Public category of a charge, so that payers can apply coverage ratios per category without
/// seeing the itemised (private) charges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChargeCategory {
    /// Registration and consultation.
    Consultation,
    /// Examinations and laboratory tests.
    Examination,
    /// Imaging.
    Imaging,
    /// Treatment and procedures.
    Treatment,
    /// Surgery.
    Surgery,
    /// Western medicine.
    WesternMedicine,
    /// Traditional Chinese medicine.
    ChineseMedicine,
    /// Medical materials.
    Materials,
    /// Bed and nursing.
    Bed,
    /// Anything else.
    Other,
}

/// Encodes a field-less enum as one byte, in the order listed.
macro_rules! codec_enum_u8 {
    ($name:ident { $($variant:ident = $tag:expr),+ $(,)? }) => {
        impl Write for $name {
            fn write(&self, buf: &mut impl BufMut) {
                let tag: u8 = match self { $($name::$variant => $tag),+ };
                tag.write(buf);
            }
        }
        impl FixedSize for $name {
            const SIZE: usize = 1;
        }
        impl Read for $name {
            type Cfg = ();
            fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
                match u8::read_cfg(buf, &())? {
                    $($tag => Ok($name::$variant),)+
                    other => Err(Error::InvalidEnum(other)),
                }
            }
        }
    };
}

impl ChargeCategory {
    /// Every category, in tag order.
    pub const ALL: [ChargeCategory; 10] = [
        ChargeCategory::Consultation,
        ChargeCategory::Examination,
        ChargeCategory::Imaging,
        ChargeCategory::Treatment,
        ChargeCategory::Surgery,
        ChargeCategory::WesternMedicine,
        ChargeCategory::ChineseMedicine,
        ChargeCategory::Materials,
        ChargeCategory::Bed,
        ChargeCategory::Other,
    ];
}

codec_enum_u8!(VisitType { Registration = 0, Outpatient = 1, Inpatient = 2, CheckUp = 3 });
codec_enum_u8!(ChargeCategory {
    Consultation = 0,
    Examination = 1,
    Imaging = 2,
    Treatment = 3,
    Surgery = 4,
    WesternMedicine = 5,
    ChineseMedicine = 6,
    Materials = 7,
    Bed = 8,
    Other = 9,
});

/// How a bill's total was paid at the counter. The parts must add up to the total.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BillAmounts {
    /// The whole bill.
    pub total: Fen,
    /// Paid by the pooled medical-insurance fund.
    pub pooled_fund: Fen,
    /// Paid from the patient's personal medical account.
    pub personal_account: Fen,
    /// Paid by other funds (critical-illness insurance, medical aid).
    pub other_fund: Fen,
    /// Paid by the patient: the only part that can be claimed.
    pub patient_pay: Fen,
}
codec_struct!(BillAmounts {
    total: Fen,
    pooled_fund: Fen,
    personal_account: Fen,
    other_fund: Fen,
    patient_pay: Fen,
});

impl BillAmounts {
    /// The sum of the parts, or `None` on overflow.
    pub fn parts_sum(&self) -> Option<Fen> {
        Fen::checked_sum([
            self.pooled_fund,
            self.personal_account,
            self.other_fund,
            self.patient_pay,
        ])
    }
}

/// A category's share of a bill's total.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CategoryAmount {
    /// The category.
    pub category: ChargeCategory,
    /// Its amount.
    pub amount: Fen,
}
codec_struct!(CategoryAmount { category: ChargeCategory, amount: Fen });

/// One bill as a hospital issues it (inside a signed batch).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BillIssue {
    /// The bill's identity; the number must lie in a range allocated to the issuer.
    pub id: BillId,
    /// The kind of visit.
    pub visit_type: VisitType,
    /// Who the bill is for.
    pub patient: Pseudonym,
    /// The amounts and how they were paid.
    pub amounts: BillAmounts,
    /// Per-category totals (optional; when given they add up to the total, each category once).
    pub categories: Vec<CategoryAmount>,
    /// Salted hash commitment to the private body (names, diagnosis, itemised charges).
    pub body_commitment: Digest,
}

impl Write for BillIssue {
    fn write(&self, buf: &mut impl BufMut) {
        self.id.write(buf);
        self.visit_type.write(buf);
        self.patient.write(buf);
        self.amounts.write(buf);
        self.categories.write(buf);
        self.body_commitment.write(buf);
    }
}
impl EncodeSize for BillIssue {
    fn encode_size(&self) -> usize {
        self.id.encode_size()
            + self.visit_type.encode_size()
            + self.patient.encode_size()
            + self.amounts.encode_size()
            + self.categories.encode_size()
            + self.body_commitment.encode_size()
    }
}
impl Read for BillIssue {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(Self {
            id: BillId::read_cfg(buf, &())?,
            visit_type: VisitType::read_cfg(buf, &())?,
            patient: Pseudonym::read_cfg(buf, &())?,
            amounts: BillAmounts::read_cfg(buf, &())?,
            categories: read_vec(buf, BILL_CATEGORIES_MAX)?,
            body_commitment: Digest::read_cfg(buf, &())?,
        })
    }
}

/// Whether a bill is an ordinary bill or a red (reversal) bill.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum BillKind {
    /// An ordinary bill.
    Normal,
    /// A red bill that reverses (voids) another; it can never be claimed.
    Red {
        /// The bill it reverses.
        reverses: BillId,
    },
}

impl Write for BillKind {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            BillKind::Normal => 0u8.write(buf),
            BillKind::Red { reverses } => {
                1u8.write(buf);
                reverses.write(buf);
            }
        }
    }
}
impl EncodeSize for BillKind {
    fn encode_size(&self) -> usize {
        1 + match self {
            BillKind::Normal => 0,
            BillKind::Red { reverses } => reverses.encode_size(),
        }
    }
}
impl Read for BillKind {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        match u8::read_cfg(buf, &())? {
            0 => Ok(BillKind::Normal),
            1 => Ok(BillKind::Red { reverses: BillId::read_cfg(buf, &())? }),
            other => Err(Error::InvalidEnum(other)),
        }
    }
}

/// A bill as the ledger records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Bill {
    /// What the hospital issued.
    pub issue: BillIssue,
    /// The issuing hospital.
    pub issuer: MemberId,
    /// Height of the block that issued it.
    pub issued_height: u64,
    /// Consensus time of that block, milliseconds since the Unix epoch.
    pub issued_at_ms: u64,
    /// The 6-character check code printed on the bill.
    pub check_code: CheckCode,
    /// Ordinary or red.
    pub kind: BillKind,
    /// The red bill that voided this bill, if any.
    pub voided_by: Option<BillId>,
    /// Amount locked by claims in progress.
    pub reserved: Fen,
    /// Amount already paid by payers.
    pub reimbursed: Fen,
    /// Every claim ever filed against the bill, oldest first.
    pub claims: Vec<ClaimId>,
    /// Digest of the sealed (encrypted) private body issued with the bill; none for a red bill.
    pub sealed_body: Option<Digest>,
    /// Genesis-defined readers (the regulator) who recorded an access to the body, first first.
    pub accessed_by: Vec<MemberId>,
}

// The canonical encoding of a ledger record: what the authenticated state hashes into its
// leaves and what a bill receipt carries, so it is bounded like any untrusted input.
impl Write for Bill {
    fn write(&self, buf: &mut impl BufMut) {
        self.issue.write(buf);
        self.issuer.write(buf);
        self.issued_height.write(buf);
        self.issued_at_ms.write(buf);
        self.check_code.write(buf);
        self.kind.write(buf);
        self.voided_by.write(buf);
        self.reserved.write(buf);
        self.reimbursed.write(buf);
        self.claims.write(buf);
        self.sealed_body.write(buf);
        self.accessed_by.write(buf);
    }
}
impl EncodeSize for Bill {
    fn encode_size(&self) -> usize {
        self.issue.encode_size()
            + self.issuer.encode_size()
            + self.issued_height.encode_size()
            + self.issued_at_ms.encode_size()
            + self.check_code.encode_size()
            + self.kind.encode_size()
            + self.voided_by.encode_size()
            + self.reserved.encode_size()
            + self.reimbursed.encode_size()
            + self.claims.encode_size()
            + self.sealed_body.encode_size()
            + self.accessed_by.encode_size()
    }
}
impl Read for Bill {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(Self {
            issue: BillIssue::read_cfg(buf, &())?,
            issuer: MemberId::read_cfg(buf, &())?,
            issued_height: u64::read_cfg(buf, &())?,
            issued_at_ms: u64::read_cfg(buf, &())?,
            check_code: CheckCode::read_cfg(buf, &())?,
            kind: BillKind::read_cfg(buf, &())?,
            voided_by: Option::<BillId>::read_cfg(buf, &())?,
            reserved: Fen::read_cfg(buf, &())?,
            reimbursed: Fen::read_cfg(buf, &())?,
            claims: read_vec(buf, BILL_CLAIMS_MAX)?,
            sealed_body: Option::<Digest>::read_cfg(buf, &())?,
            accessed_by: read_vec(buf, BILL_ACCESSES_MAX)?,
        })
    }
}

impl Bill {
    /// A bill as the ledger records it when `issuer` issues it at `issued_height`, time
    /// `issued_at_ms` with the sealed body whose digest is `sealed_body`: nothing claimed, not
    /// voided, its check code derived.
    pub fn issued(
        issue: BillIssue,
        issuer: &MemberId,
        issued_height: u64,
        issued_at_ms: u64,
        kind: BillKind,
        sealed_body: Option<Digest>,
    ) -> Bill {
        Bill {
            check_code: Bill::derive_check_code(&issue, issuer, issued_at_ms),
            issue,
            issuer: issuer.clone(),
            issued_height,
            issued_at_ms,
            kind,
            voided_by: None,
            reserved: Fen::ZERO,
            reimbursed: Fen::ZERO,
            claims: Vec::new(),
            sealed_body,
            accessed_by: Vec::new(),
        }
    }

    /// Where the bill stands: `red` (a reversal bill), `voided`, or `valid`.
    pub fn status_name(&self) -> &'static str {
        match (self.kind, self.voided_by) {
            (BillKind::Red { .. }, _) => "red",
            (BillKind::Normal, Some(_)) => "voided",
            (BillKind::Normal, None) => "valid",
        }
    }

    /// What can be claimed: the patient-pay part of an ordinary bill; nothing of a red one.
    pub fn claimable(&self) -> Fen {
        match self.kind {
            BillKind::Normal => self.issue.amounts.patient_pay,
            BillKind::Red { .. } => Fen::ZERO,
        }
    }

    /// One line for people: id, check code and claimable amount.
    pub fn summary(&self) -> String {
        format!("{} (check code {}, claimable {})", self.id(), self.check_code, self.claimable())
    }

    /// The bill's id.
    pub fn id(&self) -> BillId {
        self.issue.id
    }

    /// Whether a red bill has voided this bill.
    pub fn is_voided(&self) -> bool {
        self.voided_by.is_some()
    }

    /// The check code of a bill: a hash of everything public about it at issuance.
    pub fn derive_check_code(issue: &BillIssue, issuer: &MemberId, issued_at_ms: u64) -> CheckCode {
        use commonware_codec::Encode;
        let digest = hash(
            Domain::BillCheckCode,
            &[&issue.encode(), &issuer.encode(), &issued_at_ms.to_be_bytes()],
        );
        CheckCode::from_digest(&digest)
    }
}
