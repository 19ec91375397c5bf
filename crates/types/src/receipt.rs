//! Receipts: what the ledger answers for every transaction in a block.
//!
//! A transaction is either accepted, with the [`Effect`] it had, or rejected with a specific
//! [`Rejection`], in which case it changed nothing. Each rejection has a stable machine code
//! ([`Rejection::code`]) and a human message (its `Display`); the API passes both through.

use crate::claim::ClaimStatus;
use crate::ids::{BillCode, BillId, BillNumber, ChainId, ClaimId, MemberId, Pseudonym, TxId};
use crate::money::Fen;
use serde::{Deserialize, Serialize};

/// The ledger's answer for one transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Receipt {
    /// The transaction.
    pub tx_id: TxId,
    /// Accepted or rejected.
    pub outcome: Outcome,
}

/// Accepted with an effect, or rejected with a reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The transaction took effect.
    Accepted(Effect),
    /// The transaction changed nothing.
    Rejected(Rejection),
}

impl Outcome {
    /// Whether the transaction took effect.
    pub fn is_accepted(&self) -> bool {
        matches!(self, Outcome::Accepted(_))
    }

    /// `accepted`, or the rejection's stable code.
    pub fn code(&self) -> String {
        match self {
            Outcome::Accepted(_) => "accepted".to_string(),
            Outcome::Rejected(rejection) => rejection.code(),
        }
    }
}

/// What happened, for people: the effect, or why it was refused.
impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Accepted(effect) => effect.fmt(f),
            Outcome::Rejected(rejection) => rejection.fmt(f),
        }
    }
}

/// What an accepted transaction did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case", tag = "effect")]
pub enum Effect {
    /// A number range now belongs to a hospital.
    RangeAllocated,
    /// Bills were issued.
    BillsIssued {
        /// How many.
        count: u32,
    },
    /// A bill was voided by a red bill.
    BillVoided {
        /// The voided bill.
        bill: BillId,
        /// The red bill.
        red_bill: BillId,
    },
    /// A claim was accepted and its amounts locked.
    ClaimLocked {
        /// The claim.
        claim_id: ClaimId,
        /// The total reserved.
        reserved: Fen,
    },
    /// A claim was accepted and settled in the same transaction by the payer's policy (its
    /// benefit was within the auto-approve ceiling); the rest of the request was released.
    ClaimAutoSettled {
        /// The claim.
        claim_id: ClaimId,
        /// The total requested (locked, then released).
        requested: Fen,
        /// The amount paid per item, in item order (the adjudicated benefits).
        approved: Vec<Fen>,
        /// The total paid.
        paid: Fen,
    },
    /// A payer registered a version of its policy.
    PolicyRegistered {
        /// The payer.
        payer: MemberId,
        /// The version now in force.
        version: u32,
    },
    /// A payer recorded the payment of a claim the ledger settled by its policy.
    PaymentRecorded {
        /// The claim.
        claim_id: ClaimId,
    },
    /// A claim was paid.
    ClaimSettled {
        /// The claim.
        claim_id: ClaimId,
        /// The total paid.
        approved: Fen,
    },
    /// A claim was refused by its payer.
    ClaimRejected {
        /// The claim.
        claim_id: ClaimId,
        /// The reservation released.
        released: Fen,
    },
    /// A claim was withdrawn by the patient.
    ClaimWithdrawn {
        /// The claim.
        claim_id: ClaimId,
        /// The reservation released.
        released: Fen,
    },
    /// A patient's wallet key was registered.
    PatientRegistered,
    /// A genesis-defined reader recorded an access to a bill's body.
    BodyAccessed {
        /// The bill.
        bill: BillId,
    },
    /// A member was frozen.
    MemberFrozen,
    /// A member was unfrozen.
    MemberUnfrozen,
}

/// Why a transaction was refused. Fields carry what a client needs to understand and fix it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case", tag = "code")]
pub enum Rejection {
    // Envelope checks, in the order the ledger applies them.
    /// Signed for another network.
    #[error("transaction is for chain {got}, this chain is {expected}")]
    WrongChainId {
        /// This chain.
        expected: ChainId,
        /// The transaction's chain.
        got: ChainId,
    },
    /// Included after its expiry height.
    #[error("transaction expired at height {expires_at_height}; block height is {height}")]
    Expired {
        /// The expiry.
        expires_at_height: u64,
        /// The block's height.
        height: u64,
    },
    /// Expiry further ahead than the ledger remembers transaction ids.
    #[error("expiry height {expires_at_height} is beyond the limit {max_height}")]
    ExpiryTooFar {
        /// The expiry.
        expires_at_height: u64,
        /// The furthest allowed.
        max_height: u64,
    },
    /// The signature does not verify against the signer's key.
    #[error("signature does not verify")]
    BadSignature,
    /// This exact transaction was already accepted.
    #[error("transaction was already accepted (replay)")]
    Replayed,
    /// The signing key belongs to no member and no registered patient.
    #[error("signing key is not registered to any member or patient")]
    UnknownSigner,
    /// The signing member is frozen.
    #[error("member {member} is frozen")]
    SignerFrozen {
        /// The member.
        member: MemberId,
    },

    // Authorisation.
    /// The signer lacks the role or ownership the action needs.
    #[error("not authorised to {action}: requires {required}")]
    NotAuthorized {
        /// The payload's name.
        action: String,
        /// Who may do it.
        required: String,
    },
    /// A member named in the transaction does not exist.
    #[error("unknown member {member}")]
    UnknownMember {
        /// The member.
        member: MemberId,
    },
    /// The member named as hospital is not a hospital.
    #[error("member {member} is not a hospital")]
    NotAHospital {
        /// The member.
        member: MemberId,
    },
    /// The member named as payer does not settle claims.
    #[error("member {member} is not a payer")]
    NotAPayer {
        /// The member.
        member: MemberId,
    },
    /// The payer named in the claim is frozen.
    #[error("payer {member} is frozen")]
    PayerFrozen {
        /// The member.
        member: MemberId,
    },

    // Number ranges and bills.
    /// The range's first number is after its last.
    #[error("range {first}..{last} is empty")]
    InvalidRange {
        /// First number.
        first: BillNumber,
        /// Last number.
        last: BillNumber,
    },
    /// The range overlaps one already allocated for the same code.
    #[error("range overlaps {bill_code} {first}..{last} allocated to {owner}")]
    RangeOverlap {
        /// The bill code.
        bill_code: BillCode,
        /// Existing range's first number.
        first: BillNumber,
        /// Existing range's last number.
        last: BillNumber,
        /// Existing range's owner.
        owner: MemberId,
    },
    /// An issuance batch with no bills.
    #[error("issuance batch has no bills")]
    EmptyBatch,
    /// The number is not in a range allocated to the issuer.
    #[error("bill {bill} is outside the issuer's allocated ranges")]
    NumberOutsideRange {
        /// The bill.
        bill: BillId,
    },
    /// The bill id is already used (on the ledger or earlier in the batch).
    #[error("bill {bill} already exists")]
    DuplicateBill {
        /// The bill.
        bill: BillId,
    },
    /// The parts of the amounts do not add up to the total.
    #[error("bill {bill}: pooled + personal + other + patient-pay does not equal the total")]
    AmountsDoNotAddUp {
        /// The bill.
        bill: BillId,
    },
    /// The bill's total is above [`BILL_TOTAL_MAX_FEN`](crate::limits::BILL_TOTAL_MAX_FEN).
    #[error("bill {bill}: total exceeds the limit of {max}")]
    AmountTooLarge {
        /// The bill.
        bill: BillId,
        /// The limit.
        max: Fen,
    },
    /// The category totals do not add up to the total, or a category repeats.
    #[error("bill {bill}: category amounts must list each category once and add up to the total")]
    CategoriesDoNotAddUp {
        /// The bill.
        bill: BillId,
    },
    /// An issuance batch must carry exactly one sealed body per bill.
    #[error("issuance batch has {bills} bills but {bodies} sealed bodies")]
    BodyCountMismatch {
        /// Bills in the batch.
        bills: u32,
        /// Sealed bodies in the batch.
        bodies: u32,
    },
    /// A sealed body with no ciphertext or no key wraps.
    #[error("bill {bill}: the sealed body has no ciphertext or no key wraps")]
    EmptyBody {
        /// The bill.
        bill: BillId,
    },
    /// The body's key is wrapped to the same reader twice.
    #[error("bill {bill}: the sealed body wraps its key to the same reader twice")]
    DuplicateBodyWrap {
        /// The bill.
        bill: BillId,
    },
    /// The body's key is not wrapped to someone entitled to read every body of this bill.
    #[error("bill {bill}: the sealed body is not wrapped to {reader}, who is entitled to read it")]
    MissingBodyWrap {
        /// The bill.
        bill: BillId,
        /// Who is missing: `patient` or a member id.
        reader: String,
    },
    /// The bill has no private body (a red bill).
    #[error("bill {bill} has no private body")]
    NoBody {
        /// The bill.
        bill: BillId,
    },
    /// No bill with this id.
    #[error("unknown bill {bill}")]
    UnknownBill {
        /// The bill.
        bill: BillId,
    },
    /// Only the issuer may void a bill.
    #[error("bill {bill} was issued by {issuer}")]
    NotBillIssuer {
        /// The bill.
        bill: BillId,
        /// Its issuer.
        issuer: MemberId,
    },
    /// The bill was voided.
    #[error("bill {bill} is voided")]
    BillVoided {
        /// The bill.
        bill: BillId,
    },
    /// The bill is a red (reversal) bill: it can be neither voided nor claimed.
    #[error("bill {bill} is a red (reversal) bill")]
    RedBill {
        /// The bill.
        bill: BillId,
    },
    /// A bill with reserved or reimbursed amounts cannot be voided.
    #[error("bill {bill} has {reserved} reserved and {reimbursed} reimbursed")]
    BillHasClaims {
        /// The bill.
        bill: BillId,
        /// Reserved by open claims.
        reserved: Fen,
        /// Already paid.
        reimbursed: Fen,
    },

    // Patients and claims.
    /// No patient registered under the pseudonym.
    #[error("unknown patient {patient}")]
    UnknownPatient {
        /// The pseudonym.
        patient: Pseudonym,
    },
    /// The pseudonym is already registered.
    #[error("patient {patient} is already registered")]
    PatientAlreadyRegistered {
        /// The pseudonym.
        patient: Pseudonym,
    },
    /// The key already belongs to a member or patient.
    #[error("key is already registered")]
    KeyAlreadyRegistered,
    /// A pseudonym is registered only with the key it is derived from (`Pseudonym::of_key`),
    /// so no one can take over a pseudonym a hospital issued bills to.
    #[error(
        "pseudonym {patient} is not derived from the key being registered (expected {expected})"
    )]
    PseudonymNotOfKey {
        /// The pseudonym asked for.
        patient: Pseudonym,
        /// The pseudonym of the key.
        expected: Pseudonym,
    },
    /// The payment platform acted for a patient without the patient's consent.
    #[error("patient consent is required when the signer is not the patient")]
    MissingConsent,
    /// The consent's key is not the patient's registered key.
    #[error("consent is signed with a key that is not the patient's")]
    ConsentKeyMismatch,
    /// The consent signature does not verify.
    #[error("patient consent signature does not verify")]
    BadConsentSignature,
    /// The claim id was used before.
    #[error("claim {claim_id} already exists")]
    DuplicateClaim {
        /// The claim.
        claim_id: ClaimId,
    },
    /// A disclosure for a bill the claim does not cover, or a second one for the same bill.
    #[error("disclosure for bill {bill} does not match one claim item")]
    BadDisclosure {
        /// The bill.
        bill: BillId,
    },
    /// A disclosure wrapped to a key that is not the payer's encryption key.
    #[error("disclosure for bill {bill} is not wrapped to the encryption key of payer {payer}")]
    DisclosureWrongRecipient {
        /// The bill.
        bill: BillId,
        /// The claim's payer.
        payer: MemberId,
    },
    /// A disclosure to a payer with no encryption key in genesis.
    #[error("payer {payer} has no encryption key: file the claim without disclosures")]
    PayerCannotRead {
        /// The payer.
        payer: MemberId,
    },
    /// A claim with no items.
    #[error("claim has no bills")]
    EmptyClaim,
    /// A claim item asking for nothing.
    #[error("claim item for bill {bill} requests zero")]
    ZeroAmount {
        /// The bill.
        bill: BillId,
    },
    /// The same bill twice in one claim.
    #[error("bill {bill} appears twice in the claim")]
    DuplicateBillInClaim {
        /// The bill.
        bill: BillId,
    },
    /// The bill has had as many claims filed against it as allowed.
    #[error("bill {bill} already has {max} claims filed against it")]
    TooManyClaims {
        /// The bill.
        bill: BillId,
        /// The limit.
        max: u32,
    },
    /// The bill belongs to another patient.
    #[error("bill {bill} does not belong to the claiming patient")]
    NotPatientsBill {
        /// The bill.
        bill: BillId,
    },
    /// The request exceeds what is left of the claimable amount.
    #[error(
        "over-claim on bill {bill}: requested {requested}, claimable {claimable}, \
         already reserved {reserved}, already reimbursed {reimbursed}"
    )]
    OverClaim {
        /// The bill.
        bill: BillId,
        /// Its claimable (patient-pay) amount.
        claimable: Fen,
        /// Reserved by open claims.
        reserved: Fen,
        /// Already paid.
        reimbursed: Fen,
        /// This request.
        requested: Fen,
    },
    /// No claim with this id.
    #[error("unknown claim {claim_id}")]
    UnknownClaim {
        /// The claim.
        claim_id: ClaimId,
    },
    /// Only the claim's payer may settle or reject it.
    #[error("claim {claim_id} is addressed to {payer}")]
    NotClaimPayer {
        /// The claim.
        claim_id: ClaimId,
        /// Its payer.
        payer: MemberId,
    },
    /// Only the claim's patient (or the platform with consent) may withdraw it.
    #[error("claim {claim_id} belongs to another patient")]
    NotClaimPatient {
        /// The claim.
        claim_id: ClaimId,
    },
    /// The claim was settled already: a claim settles at most once.
    #[error("claim {claim_id} is already settled")]
    ClaimAlreadySettled {
        /// The claim.
        claim_id: ClaimId,
    },
    /// The claim is rejected or withdrawn.
    #[error("claim {claim_id} is {status}")]
    ClaimClosed {
        /// The claim.
        claim_id: ClaimId,
        /// Its status's name.
        status: String,
    },
    /// The settlement lists a different number of amounts than the claim has items.
    #[error("settlement has {got} amounts, claim has {expected} items")]
    ApprovedCountMismatch {
        /// Items in the claim.
        expected: u32,
        /// Amounts given.
        got: u32,
    },
    /// An approved amount exceeds the requested amount.
    #[error("approved {approved} for bill {bill} exceeds the requested {requested}")]
    ApprovedExceedsRequested {
        /// The bill.
        bill: BillId,
        /// Requested.
        requested: Fen,
        /// Approved.
        approved: Fen,
    },

    /// The policy is inconsistent (the reason names the field).
    #[error("invalid policy: {reason}")]
    InvalidPolicy {
        /// What is wrong, naming the field.
        reason: String,
    },
    /// Policy versions go 1, 2, 3, … per payer, with no gap and no reuse.
    #[error("policy version {got} is not the next one, {expected}")]
    PolicyVersionNotNext {
        /// The version the ledger expects.
        expected: u32,
        /// The version given.
        got: u32,
    },
    /// Only a settled claim has a payment to record.
    #[error("claim {claim_id} is {status}, not settled: there is no payment to record")]
    ClaimNotSettled {
        /// The claim.
        claim_id: ClaimId,
        /// Its status's name.
        status: String,
    },
    /// The claim's payment reference is already on the ledger.
    #[error("the payment of claim {claim_id} is already recorded")]
    PaymentAlreadyRecorded {
        /// The claim.
        claim_id: ClaimId,
    },
    /// A payment record without a reference records nothing.
    #[error("the payment reference is empty")]
    EmptyPaymentReference,

    /// A running total (a payer's total paid) would overflow.
    #[error("amount overflow in a running total")]
    AmountOverflow,

    // Governance.
    /// The member is already frozen.
    #[error("member {member} is already frozen")]
    AlreadyFrozen {
        /// The member.
        member: MemberId,
    },
    /// The member is not frozen.
    #[error("member {member} is not frozen")]
    NotFrozen {
        /// The member.
        member: MemberId,
    },
    /// A regulator cannot freeze itself (no one could unfreeze it).
    #[error("a member cannot freeze itself")]
    CannotFreezeSelf,
}

impl Rejection {
    /// A stable machine-readable code, e.g. `over_claim`.
    pub fn code(&self) -> String {
        // The serde tag is the code; keeping one source avoids two lists drifting apart.
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(map)) => {
                map.get("code").and_then(|v| v.as_str()).unwrap_or("unknown").to_string()
            }
            _ => "unknown".to_string(),
        }
    }

    /// A shorthand for status errors on a claim.
    pub fn claim_not_open(claim_id: ClaimId, status: &ClaimStatus) -> Rejection {
        match status {
            ClaimStatus::Settled { .. } => Rejection::ClaimAlreadySettled { claim_id },
            other => Rejection::ClaimClosed { claim_id, status: other.name().to_string() },
        }
    }
}

impl std::fmt::Display for Effect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Effect::RangeAllocated => write!(f, "number range allocated"),
            Effect::BillsIssued { count } => write!(f, "{count} bills issued"),
            Effect::BillVoided { bill, red_bill } => {
                write!(f, "bill {bill} voided by red bill {red_bill}")
            }
            Effect::ClaimLocked { claim_id, reserved } => {
                write!(f, "claim {claim_id} locked, {reserved} reserved")
            }
            Effect::ClaimSettled { claim_id, approved } => {
                write!(f, "claim {claim_id} settled, {approved} paid")
            }
            Effect::ClaimAutoSettled { claim_id, requested, paid, .. } => write!(
                f,
                "claim {claim_id} settled by the payer's policy: {paid} paid of {requested} asked"
            ),
            Effect::PolicyRegistered { payer, version } => {
                write!(f, "policy version {version} of {payer} registered")
            }
            Effect::PaymentRecorded { claim_id } => {
                write!(f, "payment of claim {claim_id} recorded")
            }
            Effect::ClaimRejected { claim_id, released } => {
                write!(f, "claim {claim_id} rejected, {released} released")
            }
            Effect::ClaimWithdrawn { claim_id, released } => {
                write!(f, "claim {claim_id} withdrawn, {released} released")
            }
            Effect::PatientRegistered => write!(f, "patient registered"),
            Effect::BodyAccessed { bill } => {
                write!(f, "access to the body of bill {bill} recorded")
            }
            Effect::MemberFrozen => write!(f, "member frozen"),
            Effect::MemberUnfrozen => write!(f, "member unfrozen"),
        }
    }
}
