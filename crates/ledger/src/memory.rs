//! An in-memory implementation of the state traits, with an audit of every invariant.

use crate::state::{SignerRef, StateReader, StateWriter};
use medledger_types::policy::YearUsage;
use medledger_types::{
    Bill, BillCode, BillId, ChainId, Claim, ClaimId, ClaimStatus, EncryptionKey, Fen, Member,
    MemberId, Policy, Pseudonym, PublicKey, RangeAllocation, TxId,
};
use std::collections::{BTreeMap, HashMap};

/// The whole ledger state in hash maps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryState {
    chain_id: ChainId,
    height: u64,
    members: HashMap<MemberId, Member>,
    signers: HashMap<PublicKey, SignerRef>,
    patients: HashMap<Pseudonym, (PublicKey, EncryptionKey)>,
    bills: HashMap<BillId, Bill>,
    claims: HashMap<ClaimId, Claim>,
    ranges: HashMap<BillCode, Vec<RangeAllocation>>,
    included_txs: HashMap<TxId, u64>,
    expiries: BTreeMap<u64, Vec<TxId>>,
    payer_paid: HashMap<MemberId, Fen>,
    policies: HashMap<MemberId, Policy>,
    usage: HashMap<(MemberId, Pseudonym, u16), YearUsage>,
}

/// How many items of each kind a state holds (for metrics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StateSizes {
    /// Members.
    pub members: usize,
    /// Registered patients.
    pub patients: usize,
    /// Bills, red bills included.
    pub bills: usize,
    /// Claims.
    pub claims: usize,
    /// Payers' policies in force.
    pub policies: usize,
    /// Included transactions remembered until their expiry.
    pub included_txs: usize,
}

impl MemoryState {
    /// How many items of each kind the state holds.
    pub fn sizes(&self) -> StateSizes {
        StateSizes {
            members: self.members.len(),
            patients: self.patients.len(),
            bills: self.bills.len(),
            claims: self.claims.len(),
            policies: self.policies.len(),
            included_txs: self.included_txs.len(),
        }
    }

    /// Every range allocated to `hospital`, by code then first number.
    pub fn ranges_of(&self, hospital: &MemberId) -> Vec<RangeAllocation> {
        let mut out: Vec<RangeAllocation> =
            self.ranges.values().flatten().filter(|r| r.hospital == *hospital).cloned().collect();
        out.sort_by_key(|r| (r.code, r.first));
        out
    }

    /// An empty state for `chain_id` at height 0. Use [`crate::genesis::init`] to fill it.
    pub fn new(chain_id: ChainId) -> Self {
        Self {
            chain_id,
            height: 0,
            members: HashMap::new(),
            signers: HashMap::new(),
            patients: HashMap::new(),
            bills: HashMap::new(),
            claims: HashMap::new(),
            ranges: HashMap::new(),
            included_txs: HashMap::new(),
            expiries: BTreeMap::new(),
            payer_paid: HashMap::new(),
            policies: HashMap::new(),
            usage: HashMap::new(),
        }
    }

    /// Every bill.
    pub fn bills(&self) -> impl Iterator<Item = &Bill> {
        self.bills.values()
    }

    /// Every claim.
    pub fn claims(&self) -> impl Iterator<Item = &Claim> {
        self.claims.values()
    }

    /// Every member.
    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.members.values()
    }

    /// Number of accepted transaction ids still remembered for replay protection.
    pub fn remembered_txs(&self) -> usize {
        self.included_txs.len()
    }

    /// Checks every invariant of the ledger (../shared/DOMAIN.md, ../shared/RELIABILITY.md P2
    /// and P4) by recomputing reservations and payments from the claims. Returns the first
    /// violation found.
    pub fn audit(&self) -> Result<(), String> {
        let mut reserved: HashMap<BillId, u128> = HashMap::new();
        let mut reimbursed: HashMap<BillId, u128> = HashMap::new();
        let mut paid: HashMap<&MemberId, u128> = HashMap::new();
        for claim in self.claims.values() {
            let id = claim.submission.claim_id;
            for item in &claim.submission.items {
                let bill = self.bills.get(&item.bill).ok_or(format!("claim {id}: no bill"))?;
                if !bill.claims.contains(&id) {
                    return Err(format!("bill {} does not list claim {id}", item.bill));
                }
            }
            match &claim.status {
                ClaimStatus::Locked => {
                    for item in &claim.submission.items {
                        *reserved.entry(item.bill).or_default() += u128::from(item.amount.0);
                    }
                }
                ClaimStatus::Settled { approved, .. } => {
                    if approved.len() != claim.submission.items.len() {
                        return Err(format!("claim {id}: approved amounts do not match items"));
                    }
                    for (item, amount) in claim.submission.items.iter().zip(approved) {
                        if amount > &item.amount {
                            return Err(format!("claim {id}: approved more than requested"));
                        }
                        *reimbursed.entry(item.bill).or_default() += u128::from(amount.0);
                        *paid.entry(&claim.submission.payer).or_default() += u128::from(amount.0);
                    }
                }
                ClaimStatus::Rejected { .. } | ClaimStatus::Withdrawn { .. } => {}
            }
        }
        for bill in self.bills.values() {
            let id = bill.id();
            let red = matches!(bill.kind, medledger_types::BillKind::Red { .. });
            // Synthetic genesis bills (height 0, capacity tests) are the only ones without.
            let synthetic = bill.issued_height == 0;
            if red == bill.sealed_body.is_some() && !synthetic {
                return Err(format!(
                    "bill {id}: an ordinary bill has a sealed body, a red one not"
                ));
            }
            for (i, reader) in bill.accessed_by.iter().enumerate() {
                let is_reader = self.members.get(reader).is_some_and(|m| m.body_reader);
                if !is_reader || bill.accessed_by[..i].contains(reader) {
                    return Err(format!("bill {id}: access by {reader} recorded wrongly"));
                }
            }
            let want_reserved = reserved.get(&id).copied().unwrap_or(0);
            let want_reimbursed = reimbursed.get(&id).copied().unwrap_or(0);
            if u128::from(bill.reserved.0) != want_reserved {
                return Err(format!(
                    "bill {id}: reserved {} but open claims hold {want_reserved}",
                    bill.reserved.0
                ));
            }
            if u128::from(bill.reimbursed.0) != want_reimbursed {
                return Err(format!(
                    "bill {id}: reimbursed {} but settlements paid {want_reimbursed}",
                    bill.reimbursed.0
                ));
            }
            if want_reserved + want_reimbursed > u128::from(bill.claimable().0) {
                return Err(format!("bill {id}: reserved + reimbursed exceeds claimable"));
            }
            if bill.is_voided() && (bill.reserved != Fen::ZERO || bill.reimbursed != Fen::ZERO) {
                return Err(format!(
                    "bill {id}: voided but carries reserved or reimbursed amounts"
                ));
            }
            if let Some(red) = bill.voided_by
                && self.bills.get(&red).map(|r| r.kind)
                    != Some(medledger_types::BillKind::Red { reverses: id })
            {
                return Err(format!("bill {id}: red bill {red} missing or not linked"));
            }
        }
        for member in self.members.values() {
            let want = paid.get(&member.id).copied().unwrap_or(0);
            let have = u128::from(self.payer_paid(&member.id).0);
            if want != have {
                return Err(format!(
                    "payer {}: total paid {have} but settlements sum to {want}",
                    member.id
                ));
            }
        }
        Ok(())
    }
}

impl StateReader for MemoryState {
    fn chain_id(&self) -> &ChainId {
        &self.chain_id
    }
    fn height(&self) -> u64 {
        self.height
    }
    fn member(&self, id: &MemberId) -> Option<&Member> {
        self.members.get(id)
    }
    fn body_readers(&self) -> Vec<&Member> {
        let mut readers: Vec<&Member> = self.members.values().filter(|m| m.body_reader).collect();
        readers.sort_by(|a, b| a.id.cmp(&b.id));
        readers
    }
    fn signer(&self, key: &PublicKey) -> Option<&SignerRef> {
        self.signers.get(key)
    }
    fn patient_key(&self, patient: &Pseudonym) -> Option<&PublicKey> {
        self.patients.get(patient).map(|(key, _)| key)
    }
    fn patient_encryption_key(&self, patient: &Pseudonym) -> Option<&EncryptionKey> {
        self.patients.get(patient).map(|(_, key)| key)
    }
    fn bill(&self, id: &BillId) -> Option<&Bill> {
        self.bills.get(id)
    }
    fn claim(&self, id: &ClaimId) -> Option<&Claim> {
        self.claims.get(id)
    }
    fn ranges(&self, code: BillCode) -> &[RangeAllocation] {
        self.ranges.get(&code).map(Vec::as_slice).unwrap_or(&[])
    }
    fn tx_included(&self, id: &TxId) -> bool {
        self.included_txs.contains_key(id)
    }
    fn payer_paid(&self, payer: &MemberId) -> Fen {
        self.payer_paid.get(payer).copied().unwrap_or(Fen::ZERO)
    }
    fn policy(&self, payer: &MemberId) -> Option<&Policy> {
        self.policies.get(payer)
    }
    fn year_usage(&self, payer: &MemberId, patient: &Pseudonym, year: u16) -> YearUsage {
        self.usage.get(&(payer.clone(), *patient, year)).copied().unwrap_or_default()
    }
}

impl StateWriter for MemoryState {
    fn set_height(&mut self, height: u64) {
        self.height = height;
    }
    fn put_member(&mut self, member: Member) {
        for key in &member.keys {
            self.signers.insert(key.clone(), SignerRef::Member(member.id.clone()));
        }
        self.members.insert(member.id.clone(), member);
    }
    fn put_patient(&mut self, patient: Pseudonym, key: PublicKey, encryption_key: EncryptionKey) {
        self.signers.insert(key.clone(), SignerRef::Patient(patient));
        self.patients.insert(patient, (key, encryption_key));
    }
    fn put_bill(&mut self, bill: Bill) {
        self.bills.insert(bill.id(), bill);
    }
    fn put_claim(&mut self, claim: Claim) {
        self.claims.insert(claim.submission.claim_id, claim);
    }
    fn put_range(&mut self, range: RangeAllocation) {
        self.ranges.entry(range.code).or_default().push(range);
    }
    fn record_tx(&mut self, id: TxId, expires_at_height: u64) {
        self.included_txs.insert(id, expires_at_height);
        self.expiries.entry(expires_at_height).or_default().push(id);
    }
    fn forget_txs_expiring_before(&mut self, height: u64) {
        let keep = self.expiries.split_off(&height);
        for ids in std::mem::replace(&mut self.expiries, keep).into_values() {
            for id in ids {
                self.included_txs.remove(&id);
            }
        }
    }
    fn set_payer_paid(&mut self, payer: MemberId, total: Fen) {
        self.payer_paid.insert(payer, total);
    }
    fn put_policy(&mut self, policy: Policy) {
        self.policies.insert(policy.payer.clone(), policy);
    }
    fn set_year_usage(&mut self, payer: MemberId, patient: Pseudonym, year: u16, usage: YearUsage) {
        self.usage.insert((payer, patient, year), usage);
    }
}
