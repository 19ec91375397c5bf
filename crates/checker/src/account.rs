//! The chain's own account of its bills and claims: what its receipts say happened.
//!
//! The reference model decides what *should* have happened, so a receipt claiming an effect the
//! ledger must never allow (a second claim over a bill's patient-pay, a second settlement)
//! shows up there as a model mismatch (P5), while the model's own state stays clean. P2 and P4
//! are about what the cluster *did*, so they are also checked here, on the chain's word: every
//! transaction its receipts call accepted is booked by the amounts it carries, with no rule
//! checked on the way in, and the invariants are checked after each one.
//!
//! Amounts are added in `u128`: the chain is untrusted input and its sums may overflow `u64`.

use crate::check::{ConservationError, ConservationKind, OverKind, OverReimbursement, Source};
use medledger_types::{
    BillId, ClaimId, ClaimItem, Effect, Fen, Genesis, MemberId, Outcome, Payload, Receipt,
    Transaction, TxId,
};
use std::collections::{BTreeMap, HashMap, HashSet};

/// `amount` as fen, saturated at the largest `Fen` (for reports only).
pub(crate) fn fen(amount: u128) -> Fen {
    Fen(u64::try_from(amount).unwrap_or(u64::MAX))
}

#[derive(Clone, Debug, Default)]
struct BillEntry {
    claimable: u128,
    reserved: u128,
    reimbursed: u128,
    /// Voided, or a red bill: nothing may be reserved or reimbursed on it.
    closed: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClaimState {
    Locked,
    Settled,
    Closed,
}

#[derive(Clone, Debug)]
struct ClaimEntry {
    payer: MemberId,
    items: Vec<ClaimItem>,
    state: ClaimState,
}

/// The kinds of bill violation, each reported once per bill and replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum BillFlag {
    Over,
    Closed,
}

/// Bookkeeping of one chain's accepted transactions, by their receipts.
#[derive(Debug)]
pub(crate) struct Account<'g> {
    genesis: &'g Genesis,
    node: usize,
    bills: HashMap<BillId, BillEntry>,
    claims: HashMap<ClaimId, ClaimEntry>,
    /// Paid per payer, by the settlements the chain accepted.
    paid: BTreeMap<MemberId, u128>,
    flagged: HashSet<(BillId, BillFlag)>,
}

/// Where a booking happens, for reports.
struct At {
    height: u64,
    tx_id: TxId,
}

impl<'g> Account<'g> {
    /// An empty account of `node`'s chain on `genesis`.
    pub(crate) fn new(genesis: &'g Genesis, node: usize) -> Self {
        Self {
            genesis,
            node,
            bills: HashMap::new(),
            claims: HashMap::new(),
            paid: BTreeMap::new(),
            flagged: HashSet::new(),
        }
    }

    /// Paid per payer so far.
    pub(crate) fn paid(&self) -> &BTreeMap<MemberId, u128> {
        &self.paid
    }

    /// A genesis synthetic bill's claimable amount, if `id` is one.
    fn synthetic(&self, id: BillId) -> Option<u128> {
        let s = self.genesis.synthetic_bills.as_ref()?;
        let n = id.number.get();
        (id.code == s.code && (1..=s.count).contains(&n)).then_some(u128::from(s.amount_fen))
    }

    fn is_issued(&self, id: BillId) -> bool {
        self.bills.contains_key(&id) || self.synthetic(id).is_some()
    }

    /// The bill's entry; a bill the chain never issued can be claimed for nothing.
    fn bill(&mut self, id: BillId) -> &mut BillEntry {
        let claimable = self.synthetic(id).unwrap_or(0);
        self.bills.entry(id).or_insert_with(|| BillEntry { claimable, ..BillEntry::default() })
    }

    /// Books one transaction at `height` if its receipt says it was accepted.
    pub(crate) fn book(
        &mut self,
        height: u64,
        tx: &Transaction,
        receipt: &Receipt,
        over: &mut Vec<OverReimbursement>,
        conservation: &mut Vec<ConservationError>,
    ) {
        let Outcome::Accepted(effect) = &receipt.outcome else { return };
        let at = At { height, tx_id: tx.id() };
        match &tx.body().payload {
            Payload::IssueBills { bills, .. } => {
                for b in bills {
                    if self.is_issued(b.id) {
                        over.push(self.over(&at, OverKind::BillReissued { bill: b.id }));
                    } else {
                        let claimable = u128::from(b.amounts.patient_pay.0);
                        self.bills.insert(b.id, BillEntry { claimable, ..BillEntry::default() });
                    }
                }
            }
            Payload::VoidBill { bill, red_number } => {
                self.bill(*bill).closed = true;
                self.check_bill(&at, *bill, over);
                let red = BillId { code: bill.code, number: *red_number };
                if self.is_issued(red) {
                    over.push(self.over(&at, OverKind::BillReissued { bill: red }));
                } else {
                    self.bills.insert(red, BillEntry { closed: true, ..BillEntry::default() });
                }
            }
            Payload::SubmitClaim { claim, .. } => {
                if self.claims.contains_key(&claim.claim_id) {
                    over.push(self.over(&at, OverKind::ClaimIdReused { claim: claim.claim_id }));
                    return;
                }
                for item in &claim.items {
                    let entry = self.bill(item.bill);
                    entry.reserved = entry.reserved.saturating_add(u128::from(item.amount.0));
                    self.check_bill(&at, item.bill, over);
                }
                let requested = sum(claim.items.iter().map(|i| i.amount));
                if let Effect::ClaimLocked { reserved, .. } = effect {
                    self.check_amount(&at, "claim_locked", *reserved, requested, conservation);
                }
                self.claims.insert(
                    claim.claim_id,
                    ClaimEntry {
                        payer: claim.payer.clone(),
                        items: claim.items.clone(),
                        state: ClaimState::Locked,
                    },
                );
                // Settled by the payer's policy in the same transaction: book the payment at
                // once, as if the payer had settled the locked claim.
                if let Effect::ClaimAutoSettled { requested: stated, approved, paid, .. } = effect {
                    self.check_amount(&at, "claim_auto_settled", *stated, requested, conservation);
                    let total = sum(approved.iter().copied());
                    self.check_amount(&at, "claim_auto_settled_paid", *paid, total, conservation);
                    self.settle(&at, claim.claim_id, approved, over, conservation);
                }
            }
            Payload::SettleClaim { claim_id, approved, .. } => {
                let total = sum(approved.iter().copied());
                if let Effect::ClaimSettled { approved: stated, .. } = effect {
                    self.check_amount(&at, "claim_settled", *stated, total, conservation);
                }
                self.settle(&at, *claim_id, approved, over, conservation);
            }
            Payload::RejectClaim { claim_id, .. } | Payload::WithdrawClaim { claim_id, .. } => {
                let Some(claim) = self.claims.get_mut(claim_id) else {
                    conservation.push(self.released_nothing(&at, *claim_id));
                    return;
                };
                if claim.state != ClaimState::Locked {
                    conservation.push(self.released_nothing(&at, *claim_id));
                    return;
                }
                claim.state = ClaimState::Closed;
                let items = claim.items.clone();
                for item in &items {
                    let entry = self.bill(item.bill);
                    entry.reserved = entry.reserved.saturating_sub(u128::from(item.amount.0));
                }
                let requested = sum(items.iter().map(|i| i.amount));
                match effect {
                    Effect::ClaimRejected { released, .. } => {
                        self.check_amount(&at, "claim_rejected", *released, requested, conservation)
                    }
                    Effect::ClaimWithdrawn { released, .. } => self.check_amount(
                        &at,
                        "claim_withdrawn",
                        *released,
                        requested,
                        conservation,
                    ),
                    _ => {}
                }
            }
            _ => {}
        }
    }

    fn settle(
        &mut self,
        at: &At,
        claim_id: ClaimId,
        approved: &[Fen],
        over: &mut Vec<OverReimbursement>,
        conservation: &mut Vec<ConservationError>,
    ) {
        let Some(claim) = self.claims.get(&claim_id).cloned() else {
            // No accepted claim to pay: the money cannot be traced to a bill or a payer.
            over.push(self.over(at, OverKind::SettledWithoutOpenClaim { claim: claim_id }));
            return;
        };
        match claim.state {
            ClaimState::Locked => {}
            ClaimState::Settled => {
                over.push(self.over(at, OverKind::SettledTwice { claim: claim_id }));
            }
            ClaimState::Closed => {
                over.push(self.over(at, OverKind::SettledWithoutOpenClaim { claim: claim_id }));
            }
        }
        // A second or late settlement still pays: book it so the bill shows what was paid.
        let release = claim.state == ClaimState::Locked;
        let count = claim.items.len().max(approved.len());
        for i in 0..count {
            let requested = claim.items.get(i).map_or(Fen::ZERO, |item| item.amount);
            let paid = approved.get(i).copied().unwrap_or(Fen::ZERO);
            if paid > requested {
                conservation.push(ConservationError {
                    node: self.node,
                    height: Some(at.height),
                    kind: ConservationKind::ApprovedExceedsRequested {
                        tx_id: at.tx_id,
                        claim: claim_id,
                        requested,
                        approved: paid,
                    },
                });
            }
            let Some(item) = claim.items.get(i) else { continue };
            let entry = self.bill(item.bill);
            if release {
                entry.reserved = entry.reserved.saturating_sub(u128::from(requested.0));
            }
            entry.reimbursed = entry.reimbursed.saturating_add(u128::from(paid.0));
            self.check_bill(at, item.bill, over);
        }
        let total = approved.iter().fold(0u128, |sum, a| sum.saturating_add(u128::from(a.0)));
        let payer = self.paid.entry(claim.payer.clone()).or_insert(0);
        *payer = payer.saturating_add(total);
        if let Some(entry) = self.claims.get_mut(&claim_id) {
            entry.state = ClaimState::Settled;
        }
    }

    /// Checks `reimbursed + reserved ≤ claimable` and that a closed bill carries nothing.
    fn check_bill(&mut self, at: &At, bill: BillId, over: &mut Vec<OverReimbursement>) {
        let entry = self.bill(bill).clone();
        let carried = entry.reserved.saturating_add(entry.reimbursed);
        let (reserved, reimbursed) = (fen(entry.reserved), fen(entry.reimbursed));
        if carried > entry.claimable && self.flagged.insert((bill, BillFlag::Over)) {
            let claimable = fen(entry.claimable);
            let kind = OverKind::BillOverClaimed { bill, claimable, reserved, reimbursed };
            over.push(self.over(at, kind));
        }
        if entry.closed && carried > 0 && self.flagged.insert((bill, BillFlag::Closed)) {
            over.push(self.over(at, OverKind::VoidedWithClaims { bill, reserved, reimbursed }));
        }
    }

    fn check_amount(
        &self,
        at: &At,
        effect: &str,
        stated: Fen,
        expected: u128,
        conservation: &mut Vec<ConservationError>,
    ) {
        if u128::from(stated.0) != expected {
            conservation.push(ConservationError {
                node: self.node,
                height: Some(at.height),
                kind: ConservationKind::EffectAmount {
                    tx_id: at.tx_id,
                    effect: effect.to_string(),
                    stated,
                    expected: fen(expected),
                },
            });
        }
    }

    fn released_nothing(&self, at: &At, claim: ClaimId) -> ConservationError {
        ConservationError {
            node: self.node,
            height: Some(at.height),
            kind: ConservationKind::ReleasedWithoutReservation { tx_id: at.tx_id, claim },
        }
    }

    fn over(&self, at: &At, kind: OverKind) -> OverReimbursement {
        OverReimbursement {
            node: self.node,
            height: at.height,
            tx_id: Some(at.tx_id),
            source: Source::Receipts,
            kind,
        }
    }
}

fn sum(amounts: impl Iterator<Item = Fen>) -> u128 {
    amounts.fold(0u128, |sum, a| sum.saturating_add(u128::from(a.0)))
}
