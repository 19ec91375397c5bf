//! A deliberately naive reference model of the medledger ledger, for checking the real one.
//!
//! It is written for obviousness, not speed: state is a handful of vectors searched linearly,
//! signatures are verified one at a time, and a bill's reserved and reimbursed amounts are never
//! stored but recomputed from the claims every time they are needed. It follows the rules and
//! the order of checks documented in `medledger-ledger`, and shares only the data types with
//! the real ledger, so a bug in the real ledger's bookkeeping shows up as a different receipt.
//! (After TigerBeetle's auditor and redb's fuzzer, which keep a simple model in step.)
//!
//! Adjudication under a payer's policy uses the shared `policy::adjudicate`, which has its own
//! property test against a reference calculation; what the model keeps independent is the
//! bookkeeping around it: a patient's yearly usage is never stored but summed from the settled
//! claims every time, and policy versions are counted from the list of every one registered.

use medledger_crypto::Namespace;
use medledger_types::claim::{consent_to_submit, consent_to_withdraw};
use medledger_types::limits::{BILL_CLAIMS_MAX, BILL_TOTAL_MAX_FEN, TX_LIFETIME_BLOCKS_MAX};
use medledger_types::policy::{ItemInput, YearUsage, adjudicate, benefit_year};
use medledger_types::{
    Adjudication, BillId, BillNumber, CategoryAmount, ChainId, ClaimId, ClaimItem, ClaimSubmission,
    Effect, EncryptionKey, Fen, Genesis, MemberId, Outcome, PatientConsent, Payload, Policy,
    Pseudonym, PublicKey, RangeAllocation, Receipt, Rejection, Role, Roles, SealedBody, Text,
    Transaction, TxId,
};

/// A member in the model.
#[derive(Clone, Debug)]
struct Member {
    id: MemberId,
    roles: Roles,
    keys: Vec<PublicKey>,
    frozen: bool,
    encryption_key: Option<EncryptionKey>,
    body_reader: bool,
}

/// A bill in the model: only what the rules need.
#[derive(Clone, Debug)]
pub struct ModelBill {
    /// Its id.
    pub id: BillId,
    /// Its issuer.
    pub issuer: MemberId,
    /// Its patient.
    pub patient: Pseudonym,
    /// Patient-pay amount.
    pub patient_pay: Fen,
    /// The bill's total.
    pub total: Fen,
    /// Its public category totals.
    pub categories: Vec<CategoryAmount>,
    /// Set for red bills: the bill reversed.
    pub reverses: Option<BillId>,
    /// Set when voided: the red bill.
    pub voided_by: Option<BillId>,
    /// Whether it was issued with a sealed body (red bills are not).
    pub has_body: bool,
}

/// Where a model claim stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelStatus {
    /// Amounts reserved.
    Locked,
    /// Paid these amounts.
    Settled(Vec<Fen>),
    /// Refused or withdrawn.
    Closed(&'static str),
}

/// A claim in the model.
#[derive(Clone, Debug)]
pub struct ModelClaim {
    /// Its id.
    pub id: ClaimId,
    /// Its payer.
    pub payer: MemberId,
    /// Its patient.
    pub patient: Pseudonym,
    /// Bills and requested amounts.
    pub items: Vec<ClaimItem>,
    /// Status.
    pub status: ModelStatus,
    /// The adjudication under the payer's policy, if it had one.
    pub adjudication: Option<Adjudication>,
    /// The payment reference, once recorded (settled claims only).
    pub payment_reference: Option<Text>,
}

/// The model ledger.
#[derive(Clone, Debug)]
pub struct Model {
    chain_id: ChainId,
    height: u64,
    members: Vec<Member>,
    patients: Vec<(Pseudonym, PublicKey, EncryptionKey)>,
    ranges: Vec<RangeAllocation>,
    /// Every bill, in issue order.
    pub bills: Vec<ModelBill>,
    /// Every claim, in submission order.
    pub claims: Vec<ModelClaim>,
    included: Vec<(TxId, u64)>,
    /// Every policy version registered, in order.
    policies: Vec<Policy>,
    timestamp_ms: u64,
}

enum Signer {
    Member(usize),
    Patient(Pseudonym),
}

fn auth(payload: &Payload, required: &str) -> Rejection {
    Rejection::NotAuthorized { action: payload.name().to_string(), required: required.to_string() }
}

const PATIENT_OR_PLATFORM: &str =
    "the claim's patient, or the payment platform with the patient's consent";

impl Model {
    /// A model at height 0. The genesis is assumed valid (the real ledger checks it).
    pub fn new(genesis: &Genesis) -> Self {
        Self {
            chain_id: genesis.chain_id.clone(),
            height: 0,
            members: genesis
                .members
                .iter()
                .map(|m| Member {
                    id: m.id.clone(),
                    roles: m.roles,
                    keys: m.keys.clone(),
                    frozen: false,
                    encryption_key: m.encryption_key,
                    body_reader: m.body_reader,
                })
                .collect(),
            patients: genesis
                .patients
                .iter()
                .map(|p| (p.pseudonym, p.public_key.clone(), p.encryption_key))
                .collect(),
            ranges: genesis.ranges.clone(),
            // Synthetic bills: bill n to patient n mod patients, all patient-paid, no body.
            bills: genesis
                .synthetic_bills
                .iter()
                // No patients: an invalid genesis the ledger refuses; no bills rather than a panic.
                .filter(|_| !genesis.patients.is_empty())
                .flat_map(|s| {
                    (1..=s.count).map(move |n| ModelBill {
                        id: BillId {
                            code: s.code,
                            number: BillNumber::new(n).expect("the ledger checked the count"),
                        },
                        issuer: s.issuer.clone(),
                        patient: genesis.patients
                            [usize::try_from(n).map_or(0, |n| n % genesis.patients.len())]
                        .pseudonym,
                        patient_pay: Fen(s.amount_fen),
                        total: Fen(s.amount_fen),
                        categories: Vec::new(),
                        reverses: None,
                        voided_by: None,
                        has_body: false,
                    })
                })
                .collect(),
            claims: Vec::new(),
            included: Vec::new(),
            policies: Vec::new(),
            timestamp_ms: genesis.genesis_time_ms,
        }
    }

    /// A registered patient's body-reading key.
    pub fn patient_encryption_key(&self, patient: &Pseudonym) -> Option<EncryptionKey> {
        self.patients.iter().find(|(p, _, _)| p == patient).map(|(_, _, k)| *k)
    }

    /// Reserved on a bill: the sum over its locked claims.
    pub fn reserved(&self, bill: BillId) -> Fen {
        let mut sum = 0u64;
        for claim in &self.claims {
            if claim.status == ModelStatus::Locked {
                for item in &claim.items {
                    if item.bill == bill {
                        sum += item.amount.0;
                    }
                }
            }
        }
        Fen(sum)
    }

    /// Reimbursed on a bill: the sum over its settled claims.
    pub fn reimbursed(&self, bill: BillId) -> Fen {
        let mut sum = 0u64;
        for claim in &self.claims {
            if let ModelStatus::Settled(approved) = &claim.status {
                for (item, amount) in claim.items.iter().zip(approved) {
                    if item.bill == bill {
                        sum += amount.0;
                    }
                }
            }
        }
        Fen(sum)
    }

    /// The payer's newest policy.
    pub fn policy(&self, payer: &MemberId) -> Option<&Policy> {
        self.policies.iter().rev().find(|p| &p.payer == payer)
    }

    /// What a patient used of a payer's policy in `year`: summed over the settled claims
    /// adjudicated in that year.
    pub fn year_usage(&self, payer: &MemberId, patient: &Pseudonym, year: u16) -> YearUsage {
        let mut usage = YearUsage::default();
        for claim in &self.claims {
            if let (ModelStatus::Settled(approved), Some(adjudication)) =
                (&claim.status, &claim.adjudication)
                && &claim.payer == payer
                && claim.patient == *patient
                && adjudication.year == year
            {
                usage.deductible.0 += adjudication.total.deductible.0;
                usage.paid.0 += approved.iter().map(|a| a.0).sum::<u64>();
            }
        }
        usage
    }

    /// Total paid by a payer.
    pub fn paid_by(&self, payer: &MemberId) -> Fen {
        let mut sum = 0u64;
        for claim in &self.claims {
            if let ModelStatus::Settled(approved) = &claim.status
                && &claim.payer == payer
            {
                sum += approved.iter().map(|a| a.0).sum::<u64>();
            }
        }
        Fen(sum)
    }

    fn bill(&self, id: BillId) -> Option<&ModelBill> {
        self.bills.iter().find(|b| b.id == id)
    }

    fn claimable(bill: &ModelBill) -> Fen {
        if bill.reverses.is_some() { Fen::ZERO } else { bill.patient_pay }
    }

    fn member(&self, id: &MemberId) -> Option<usize> {
        self.members.iter().position(|m| &m.id == id)
    }

    fn patient_key(&self, patient: &Pseudonym) -> Option<&PublicKey> {
        self.patients.iter().find(|(p, _, _)| p == patient).map(|(_, k, _)| k)
    }

    /// The rules a sealed body meets: ciphertext and wraps, each reader once, the patient (when
    /// registered) and every genesis body reader (in id order) among them.
    fn check_body(
        &self,
        bill: BillId,
        patient: &Pseudonym,
        body: &SealedBody,
    ) -> Result<(), Rejection> {
        if body.ciphertext.is_empty() || body.wraps.is_empty() {
            return Err(Rejection::EmptyBody { bill });
        }
        for (i, w) in body.wraps.iter().enumerate() {
            if body.wraps[..i].iter().any(|e| e.recipient == w.recipient) {
                return Err(Rejection::DuplicateBodyWrap { bill });
            }
        }
        let has = |key: &EncryptionKey| body.wraps.iter().any(|w| w.recipient == *key);
        if let Some((_, _, key)) = self.patients.iter().find(|(p, _, _)| p == patient)
            && !has(key)
        {
            return Err(Rejection::MissingBodyWrap { bill, reader: "the patient".to_string() });
        }
        let mut readers: Vec<&Member> = self.members.iter().filter(|m| m.body_reader).collect();
        readers.sort_by(|a, b| a.id.cmp(&b.id));
        for reader in readers {
            if !has(&reader.encryption_key.expect("genesis gives body readers a key")) {
                return Err(Rejection::MissingBodyWrap { bill, reader: reader.id.to_string() });
            }
        }
        Ok(())
    }

    /// Disclosures: each for a different claimed bill, each to the payer's key.
    fn check_disclosures(claim: &ClaimSubmission, payer: &Member) -> Result<(), Rejection> {
        for (i, d) in claim.disclosures.iter().enumerate() {
            let Some(key) = payer.encryption_key else {
                return Err(Rejection::PayerCannotRead { payer: payer.id.clone() });
            };
            if !claim.items.iter().any(|item| item.bill == d.bill)
                || claim.disclosures[..i].iter().any(|e| e.bill == d.bill)
            {
                return Err(Rejection::BadDisclosure { bill: d.bill });
            }
            if d.wrap.recipient != key {
                return Err(Rejection::DisclosureWrongRecipient {
                    bill: d.bill,
                    payer: payer.id.clone(),
                });
            }
        }
        Ok(())
    }

    fn in_range(&self, hospital: &MemberId, bill: BillId) -> bool {
        self.ranges
            .iter()
            .any(|r| &r.hospital == hospital && r.code == bill.code && r.contains(bill.number))
    }

    /// Applies the block at `height`, with consensus time `timestamp_ms`, and returns a receipt
    /// per transaction.
    pub fn apply_block(
        &mut self,
        height: u64,
        timestamp_ms: u64,
        txs: &[Transaction],
    ) -> Vec<Receipt> {
        assert_eq!(height, self.height + 1);
        self.height = height;
        self.timestamp_ms = timestamp_ms;
        self.included.retain(|(_, expiry)| *expiry >= height);
        txs.iter()
            .map(|tx| {
                let outcome = match self.step(tx) {
                    Ok(effect) => Outcome::Accepted(effect),
                    Err(rejection) => Outcome::Rejected(rejection),
                };
                // Every transaction its signer really sent, for this chain and unexpired, is
                // remembered until its expiry, accepted or not: inclusion is final.
                let body = tx.body();
                let genuine = body.chain_id == self.chain_id
                    && body.expires_at_height >= height
                    && body.signer.verify(
                        Namespace::Transaction,
                        tx.signed_bytes(),
                        tx.signature(),
                    );
                let again = self.included.iter().any(|(id, _)| *id == tx.id());
                if genuine && !again {
                    self.included.push((tx.id(), body.expires_at_height));
                }
                Receipt { tx_id: tx.id(), outcome }
            })
            .collect()
    }

    fn consent_ok(
        &self,
        patient: &Pseudonym,
        consent: Option<&PatientConsent>,
        message: impl FnOnce() -> Vec<u8>,
    ) -> Result<(), Rejection> {
        let Some(consent) = consent else { return Err(Rejection::MissingConsent) };
        let Some(key) = self.patient_key(patient) else {
            return Err(Rejection::UnknownPatient { patient: *patient });
        };
        if &consent.public_key != key {
            return Err(Rejection::ConsentKeyMismatch);
        }
        if !key.verify(Namespace::PatientConsent, &message(), &consent.signature) {
            return Err(Rejection::BadConsentSignature);
        }
        Ok(())
    }

    fn step(&mut self, tx: &Transaction) -> Result<Effect, Rejection> {
        let body = tx.body();
        let height = self.height;
        if body.chain_id != self.chain_id {
            return Err(Rejection::WrongChainId {
                expected: self.chain_id.clone(),
                got: body.chain_id.clone(),
            });
        }
        if body.expires_at_height < height {
            return Err(Rejection::Expired { expires_at_height: body.expires_at_height, height });
        }
        if body.expires_at_height > height + TX_LIFETIME_BLOCKS_MAX {
            return Err(Rejection::ExpiryTooFar {
                expires_at_height: body.expires_at_height,
                max_height: height + TX_LIFETIME_BLOCKS_MAX,
            });
        }
        if !body.signer.verify(Namespace::Transaction, tx.signed_bytes(), tx.signature()) {
            return Err(Rejection::BadSignature);
        }
        if self.included.iter().any(|(id, _)| *id == tx.id()) {
            return Err(Rejection::Replayed);
        }
        let signer = if let Some(i) =
            self.members.iter().position(|m| m.keys.contains(&body.signer))
        {
            if self.members[i].frozen {
                return Err(Rejection::SignerFrozen { member: self.members[i].id.clone() });
            }
            Signer::Member(i)
        } else if let Some((p, _, _)) = self.patients.iter().find(|(_, k, _)| *k == body.signer) {
            Signer::Patient(*p)
        } else {
            return Err(Rejection::UnknownSigner);
        };
        let member_with = |role: Role| match signer {
            Signer::Member(i) if self.members[i].roles.has(role) => {
                Some(self.members[i].id.clone())
            }
            _ => None,
        };
        let payload = &body.payload;
        match payload {
            Payload::AllocateRange { hospital, code, first, last } => {
                member_with(Role::Regulator).ok_or_else(|| auth(payload, "regulator"))?;
                let Some(h) = self.member(hospital) else {
                    return Err(Rejection::UnknownMember { member: hospital.clone() });
                };
                if !self.members[h].roles.has(Role::Hospital) {
                    return Err(Rejection::NotAHospital { member: hospital.clone() });
                }
                if first > last {
                    return Err(Rejection::InvalidRange { first: *first, last: *last });
                }
                for r in &self.ranges {
                    if r.code == *code && !(r.last < *first || *last < r.first) {
                        return Err(Rejection::RangeOverlap {
                            bill_code: *code,
                            first: r.first,
                            last: r.last,
                            owner: r.hospital.clone(),
                        });
                    }
                }
                self.ranges.push(RangeAllocation {
                    hospital: hospital.clone(),
                    code: *code,
                    first: *first,
                    last: *last,
                });
                Ok(Effect::RangeAllocated)
            }
            Payload::IssueBills { bills, bodies } => {
                let hospital =
                    member_with(Role::Hospital).ok_or_else(|| auth(payload, "hospital"))?;
                if bills.is_empty() {
                    return Err(Rejection::EmptyBatch);
                }
                if bodies.len() != bills.len() {
                    return Err(Rejection::BodyCountMismatch {
                        bills: u32::try_from(bills.len()).unwrap(),
                        bodies: u32::try_from(bodies.len()).unwrap(),
                    });
                }
                for (i, (b, sealed)) in bills.iter().zip(bodies).enumerate() {
                    if !self.in_range(&hospital, b.id) {
                        return Err(Rejection::NumberOutsideRange { bill: b.id });
                    }
                    if self.bill(b.id).is_some() || bills[..i].iter().any(|e| e.id == b.id) {
                        return Err(Rejection::DuplicateBill { bill: b.id });
                    }
                    let a = &b.amounts;
                    if a.total.0 > BILL_TOTAL_MAX_FEN {
                        return Err(Rejection::AmountTooLarge {
                            bill: b.id,
                            max: Fen(BILL_TOTAL_MAX_FEN),
                        });
                    }
                    let parts = u128::from(a.pooled_fund.0)
                        + u128::from(a.personal_account.0)
                        + u128::from(a.other_fund.0)
                        + u128::from(a.patient_pay.0);
                    if parts != u128::from(a.total.0) {
                        return Err(Rejection::AmountsDoNotAddUp { bill: b.id });
                    }
                    if !b.categories.is_empty() {
                        let mut sum = 0u128;
                        for (j, c) in b.categories.iter().enumerate() {
                            if b.categories[..j].iter().any(|e| e.category == c.category) {
                                return Err(Rejection::CategoriesDoNotAddUp { bill: b.id });
                            }
                            sum += u128::from(c.amount.0);
                        }
                        if sum != u128::from(a.total.0) {
                            return Err(Rejection::CategoriesDoNotAddUp { bill: b.id });
                        }
                    }
                    self.check_body(b.id, &b.patient, sealed)?;
                }
                for b in bills {
                    self.bills.push(ModelBill {
                        id: b.id,
                        issuer: hospital.clone(),
                        patient: b.patient,
                        patient_pay: b.amounts.patient_pay,
                        total: b.amounts.total,
                        categories: b.categories.clone(),
                        reverses: None,
                        voided_by: None,
                        has_body: true,
                    });
                }
                Ok(Effect::BillsIssued { count: u32::try_from(bills.len()).unwrap() })
            }
            Payload::VoidBill { bill, red_number } => {
                let Signer::Member(m) = signer else {
                    return Err(auth(payload, "the issuing hospital"));
                };
                let me = self.members[m].id.clone();
                let Some(b) = self.bill(*bill) else {
                    return Err(Rejection::UnknownBill { bill: *bill });
                };
                if b.issuer != me {
                    return Err(Rejection::NotBillIssuer { bill: *bill, issuer: b.issuer.clone() });
                }
                if b.reverses.is_some() {
                    return Err(Rejection::RedBill { bill: *bill });
                }
                if b.voided_by.is_some() {
                    return Err(Rejection::BillVoided { bill: *bill });
                }
                let (reserved, reimbursed) = (self.reserved(*bill), self.reimbursed(*bill));
                if reserved.0 > 0 || reimbursed.0 > 0 {
                    return Err(Rejection::BillHasClaims { bill: *bill, reserved, reimbursed });
                }
                let red = BillId { code: bill.code, number: *red_number };
                if !self.in_range(&me, red) {
                    return Err(Rejection::NumberOutsideRange { bill: red });
                }
                if self.bill(red).is_some() {
                    return Err(Rejection::DuplicateBill { bill: red });
                }
                let mut red_bill = b.clone();
                red_bill.id = red;
                red_bill.reverses = Some(*bill);
                red_bill.has_body = false;
                self.bills.iter_mut().find(|x| x.id == *bill).unwrap().voided_by = Some(red);
                self.bills.push(red_bill);
                Ok(Effect::BillVoided { bill: *bill, red_bill: red })
            }
            Payload::SubmitClaim { claim, consent } => {
                let filed_by_platform = match signer {
                    Signer::Patient(p) if p == claim.patient => false,
                    Signer::Member(m) if self.members[m].roles.has(Role::PaymentPlatform) => true,
                    _ => return Err(auth(payload, PATIENT_OR_PLATFORM)),
                };
                if filed_by_platform {
                    self.consent_ok(&claim.patient, consent.as_ref(), || {
                        consent_to_submit(&body.chain_id, claim)
                    })?;
                }
                if self.claims.iter().any(|c| c.id == claim.claim_id) {
                    return Err(Rejection::DuplicateClaim { claim_id: claim.claim_id });
                }
                let Some(payer) = self.member(&claim.payer) else {
                    return Err(Rejection::UnknownMember { member: claim.payer.clone() });
                };
                let payer = &self.members[payer];
                if !(payer.roles.has(Role::SocialSecurity) || payer.roles.has(Role::Insurer)) {
                    return Err(Rejection::NotAPayer { member: claim.payer.clone() });
                }
                if payer.frozen {
                    return Err(Rejection::PayerFrozen { member: claim.payer.clone() });
                }
                if claim.items.is_empty() {
                    return Err(Rejection::EmptyClaim);
                }
                for (i, item) in claim.items.iter().enumerate() {
                    if item.amount.0 == 0 {
                        return Err(Rejection::ZeroAmount { bill: item.bill });
                    }
                    if claim.items[..i].iter().any(|e| e.bill == item.bill) {
                        return Err(Rejection::DuplicateBillInClaim { bill: item.bill });
                    }
                    let Some(b) = self.bill(item.bill) else {
                        return Err(Rejection::UnknownBill { bill: item.bill });
                    };
                    if b.patient != claim.patient {
                        return Err(Rejection::NotPatientsBill { bill: item.bill });
                    }
                    if b.reverses.is_some() {
                        return Err(Rejection::RedBill { bill: item.bill });
                    }
                    if b.voided_by.is_some() {
                        return Err(Rejection::BillVoided { bill: item.bill });
                    }
                    let filed = self
                        .claims
                        .iter()
                        .filter(|c| c.items.iter().any(|i| i.bill == item.bill))
                        .count();
                    if filed >= BILL_CLAIMS_MAX {
                        return Err(Rejection::TooManyClaims {
                            bill: item.bill,
                            max: u32::try_from(BILL_CLAIMS_MAX).unwrap(),
                        });
                    }
                    let (reserved, reimbursed) =
                        (self.reserved(item.bill), self.reimbursed(item.bill));
                    let claimable = Self::claimable(b);
                    if u128::from(reserved.0) + u128::from(reimbursed.0) + u128::from(item.amount.0)
                        > u128::from(claimable.0)
                    {
                        return Err(Rejection::OverClaim {
                            bill: item.bill,
                            claimable,
                            reserved,
                            reimbursed,
                            requested: item.amount,
                        });
                    }
                }
                Self::check_disclosures(claim, payer)?;
                let reserved = Fen(claim.items.iter().map(|i| i.amount.0).sum());
                let mut record = ModelClaim {
                    id: claim.claim_id,
                    payer: claim.payer.clone(),
                    patient: claim.patient,
                    items: claim.items.clone(),
                    status: ModelStatus::Locked,
                    adjudication: None,
                    payment_reference: None,
                };
                let mut effect = Effect::ClaimLocked { claim_id: claim.claim_id, reserved };
                if let Some(policy) = self.policy(&claim.payer) {
                    let inputs: Vec<ItemInput> = claim
                        .items
                        .iter()
                        .map(|item| {
                            let b = self.bill(item.bill).unwrap();
                            ItemInput {
                                requested: item.amount,
                                issuer: b.issuer.clone(),
                                bill_total: b.total,
                                categories: b.categories.clone(),
                            }
                        })
                        .collect();
                    let year = benefit_year(self.timestamp_ms);
                    let usage = self.year_usage(&claim.payer, &claim.patient, year);
                    let adjudication = adjudicate(policy, &inputs, usage, year);
                    if adjudication.auto_approved {
                        let total = adjudication.total.benefit;
                        if self.paid_by(&claim.payer).0.checked_add(total.0).is_none() {
                            return Err(Rejection::AmountOverflow);
                        }
                        let approved: Vec<Fen> =
                            adjudication.items.iter().map(|l| l.benefit).collect();
                        record.status = ModelStatus::Settled(approved.clone());
                        record.payment_reference = Some(Text::default());
                        effect = Effect::ClaimAutoSettled {
                            claim_id: claim.claim_id,
                            requested: reserved,
                            approved,
                            paid: total,
                        };
                    }
                    record.adjudication = Some(adjudication);
                }
                self.claims.push(record);
                Ok(effect)
            }
            Payload::SettleClaim { claim_id, approved, payment_reference } => {
                let Signer::Member(m) = signer else {
                    return Err(auth(payload, "the claim's payer"));
                };
                let c = self.open_claim_of(&self.members[m].id.clone(), claim_id)?;
                let items = self.claims[c].items.clone();
                if approved.len() != items.len() {
                    return Err(Rejection::ApprovedCountMismatch {
                        expected: u32::try_from(items.len()).unwrap(),
                        got: u32::try_from(approved.len()).unwrap(),
                    });
                }
                for (item, a) in items.iter().zip(approved) {
                    if a > &item.amount {
                        return Err(Rejection::ApprovedExceedsRequested {
                            bill: item.bill,
                            requested: item.amount,
                            approved: *a,
                        });
                    }
                }
                let total: u64 = approved.iter().map(|a| a.0).sum();
                if self.paid_by(&self.members[m].id).0.checked_add(total).is_none() {
                    return Err(Rejection::AmountOverflow);
                }
                self.claims[c].status = ModelStatus::Settled(approved.clone());
                self.claims[c].payment_reference = Some(payment_reference.clone());
                Ok(Effect::ClaimSettled { claim_id: *claim_id, approved: Fen(total) })
            }
            Payload::RejectClaim { claim_id, reason } => {
                let Signer::Member(m) = signer else {
                    return Err(auth(payload, "the claim's payer"));
                };
                let _: &Text = reason;
                let c = self.open_claim_of(&self.members[m].id.clone(), claim_id)?;
                let released = Fen(self.claims[c].items.iter().map(|i| i.amount.0).sum());
                self.claims[c].status = ModelStatus::Closed("rejected");
                Ok(Effect::ClaimRejected { claim_id: *claim_id, released })
            }
            Payload::WithdrawClaim { claim_id, consent } => {
                let Some(c) = self.claims.iter().position(|c| c.id == *claim_id) else {
                    return Err(Rejection::UnknownClaim { claim_id: *claim_id });
                };
                let patient = self.claims[c].patient;
                match signer {
                    Signer::Patient(p) if p == patient => {}
                    Signer::Patient(_) => {
                        return Err(Rejection::NotClaimPatient { claim_id: *claim_id });
                    }
                    Signer::Member(m) if self.members[m].roles.has(Role::PaymentPlatform) => {
                        self.consent_ok(&patient, consent.as_ref(), || {
                            consent_to_withdraw(&body.chain_id, claim_id)
                        })?;
                    }
                    Signer::Member(_) => return Err(auth(payload, PATIENT_OR_PLATFORM)),
                }
                self.require_locked(c)?;
                let released = Fen(self.claims[c].items.iter().map(|i| i.amount.0).sum());
                self.claims[c].status = ModelStatus::Closed("withdrawn");
                Ok(Effect::ClaimWithdrawn { claim_id: *claim_id, released })
            }
            Payload::RegisterPatient { patient, public_key, encryption_key } => {
                member_with(Role::PaymentPlatform)
                    .ok_or_else(|| auth(payload, "payment_platform"))?;
                // The pseudonym must be the first 16 bytes of the key's hash.
                let digest = medledger_crypto::hash(
                    medledger_crypto::Domain::Pseudonym,
                    &[public_key.as_bytes()],
                );
                let expected = Pseudonym(digest.0[..16].try_into().expect("16 bytes"));
                if *patient != expected {
                    return Err(Rejection::PseudonymNotOfKey { patient: *patient, expected });
                }
                if self.patient_key(patient).is_some() {
                    return Err(Rejection::PatientAlreadyRegistered { patient: *patient });
                }
                let used = self.members.iter().any(|m| m.keys.contains(public_key))
                    || self.patients.iter().any(|(_, k, _)| k == public_key);
                if used {
                    return Err(Rejection::KeyAlreadyRegistered);
                }
                self.patients.push((*patient, public_key.clone(), *encryption_key));
                Ok(Effect::PatientRegistered)
            }
            Payload::FreezeMember { member } | Payload::UnfreezeMember { member } => {
                let me = member_with(Role::Regulator).ok_or_else(|| auth(payload, "regulator"))?;
                let Some(t) = self.member(member) else {
                    return Err(Rejection::UnknownMember { member: member.clone() });
                };
                let freeze = matches!(payload, Payload::FreezeMember { .. });
                if freeze {
                    if *member == me {
                        return Err(Rejection::CannotFreezeSelf);
                    }
                    if self.members[t].frozen {
                        return Err(Rejection::AlreadyFrozen { member: member.clone() });
                    }
                } else if !self.members[t].frozen {
                    return Err(Rejection::NotFrozen { member: member.clone() });
                }
                self.members[t].frozen = freeze;
                Ok(if freeze { Effect::MemberFrozen } else { Effect::MemberUnfrozen })
            }
            Payload::AccessBody { bill, .. } => {
                let reader = match signer {
                    Signer::Member(m) if self.members[m].body_reader => m,
                    _ => return Err(auth(payload, "a genesis-defined body reader")),
                };
                let _ = reader;
                let Some(b) = self.bill(*bill) else {
                    return Err(Rejection::UnknownBill { bill: *bill });
                };
                if !b.has_body {
                    return Err(Rejection::NoBody { bill: *bill });
                }
                Ok(Effect::BodyAccessed { bill: *bill })
            }
            Payload::RegisterPolicy { policy } => {
                let payer = match signer {
                    Signer::Member(m)
                        if self.members[m].roles.has(Role::SocialSecurity)
                            || self.members[m].roles.has(Role::Insurer) =>
                    {
                        self.members[m].id.clone()
                    }
                    _ => return Err(auth(payload, "a payer")),
                };
                if policy.payer != payer {
                    return Err(auth(payload, "the policy's payer"));
                }
                if let Err(e) = policy.validate() {
                    return Err(Rejection::InvalidPolicy { reason: e.to_string() });
                }
                let registered = self.policies.iter().filter(|p| p.payer == payer).count();
                let expected = u32::try_from(registered + 1).unwrap();
                if policy.version != expected {
                    return Err(Rejection::PolicyVersionNotNext { expected, got: policy.version });
                }
                for hospital in &policy.hospitals {
                    let Some(h) = self.member(hospital) else {
                        return Err(Rejection::UnknownMember { member: hospital.clone() });
                    };
                    if !self.members[h].roles.has(Role::Hospital) {
                        return Err(Rejection::NotAHospital { member: hospital.clone() });
                    }
                }
                self.policies.push(policy.clone());
                Ok(Effect::PolicyRegistered { payer, version: policy.version })
            }
            Payload::RecordPayment { claim_id, payment_reference } => {
                let Signer::Member(m) = signer else {
                    return Err(auth(payload, "the claim's payer"));
                };
                if payment_reference.as_str().is_empty() {
                    return Err(Rejection::EmptyPaymentReference);
                }
                let Some(c) = self.claims.iter().position(|c| c.id == *claim_id) else {
                    return Err(Rejection::UnknownClaim { claim_id: *claim_id });
                };
                if self.claims[c].payer != self.members[m].id {
                    return Err(Rejection::NotClaimPayer {
                        claim_id: *claim_id,
                        payer: self.claims[c].payer.clone(),
                    });
                }
                let status = match &self.claims[c].status {
                    ModelStatus::Settled(_) => None,
                    ModelStatus::Locked => Some("locked"),
                    ModelStatus::Closed(status) => Some(*status),
                };
                if let Some(status) = status {
                    return Err(Rejection::ClaimNotSettled {
                        claim_id: *claim_id,
                        status: status.to_string(),
                    });
                }
                if self.claims[c].payment_reference.as_ref().is_some_and(|r| !r.as_str().is_empty())
                {
                    return Err(Rejection::PaymentAlreadyRecorded { claim_id: *claim_id });
                }
                self.claims[c].payment_reference = Some(payment_reference.clone());
                Ok(Effect::PaymentRecorded { claim_id: *claim_id })
            }
        }
    }

    fn require_locked(&self, c: usize) -> Result<(), Rejection> {
        let claim_id = self.claims[c].id;
        match &self.claims[c].status {
            ModelStatus::Locked => Ok(()),
            ModelStatus::Settled(_) => Err(Rejection::ClaimAlreadySettled { claim_id }),
            ModelStatus::Closed(status) => {
                Err(Rejection::ClaimClosed { claim_id, status: (*status).to_string() })
            }
        }
    }

    fn open_claim_of(&self, payer: &MemberId, claim_id: &ClaimId) -> Result<usize, Rejection> {
        let Some(c) = self.claims.iter().position(|c| c.id == *claim_id) else {
            return Err(Rejection::UnknownClaim { claim_id: *claim_id });
        };
        if &self.claims[c].payer != payer {
            return Err(Rejection::NotClaimPayer {
                claim_id: *claim_id,
                payer: self.claims[c].payer.clone(),
            });
        }
        self.require_locked(c)?;
        Ok(c)
    }
}
