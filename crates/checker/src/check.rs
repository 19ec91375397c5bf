//! The checks: a cluster's chains and a client history against the promises of
//! `../shared/RELIABILITY.md`.
//!
//! ```text
//!  chains (one per node, from GET /v1/blocks/{h}/transactions)         history
//!    │  structure: heights 1, 2, 3, …, one receipt per transaction,       │
//!    │  parent links, timestamps and executed heights in order            │
//!    ├──► P3 agreement: the same block at every height two nodes hold,    │
//!    │    one state root per executed height                              │
//!    ├──► per node, the receipt that decided each transaction ◄───────────┴──► P1
//!    └──► replay of each distinct chain, block by block:
//!           reference model ──► P5 every receipt equal to the model's
//!                           └─► P2 on the model's state, per touched bill
//!           chain's account ──► P2 per bill reimbursed + reserved ≤ claimable,
//!           (its receipts)         each claim settled at most once
//!                           └─► P4 effect amounts; payer totals equal to the model's
//! ```
//!
//! Chains are untrusted input. A chain that breaks its own structure (a height out of order, a
//! receipt missing or for another transaction) is reported as malformed and checked only up to
//! that point; a broken parent link, a timestamp or executed height out of order is reported
//! and the chain still checked. Nothing in a chain makes the checker panic.

use crate::account::{Account, fen};
use crate::history::{Counts, History, Op, OpId, OpResult};
use medledger_model::Model;
use medledger_types::api::BlockTransactions;
use medledger_types::{
    BillId, ClaimId, Digest, Fen, Genesis, MemberId, Outcome, Payload, Receipt, Transaction, TxId,
};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// How many violations of each kind [`Report`]'s `Display` details.
pub const DETAILS_PER_PROPERTY: usize = 5;

/// P1: an operation acknowledged as committed that a node does not hold as acknowledged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Lost {
    /// The operation.
    pub op: OpId,
    /// Its transaction.
    pub tx_id: TxId,
    /// The node whose chain lacks it, or holds it with another receipt.
    pub node: usize,
    /// The receipt the client was given.
    pub acknowledged: Receipt,
    /// The receipt that decided the transaction on that node (the accepted inclusion, else the
    /// first); `None` when the transaction is not on the node's chain at all.
    pub on_chain: Option<Receipt>,
}

/// An operation the client was told was refused, whose transaction took effect anyway (every
/// operation sending that transaction was refused).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RefusedButApplied {
    /// The operation.
    pub op: OpId,
    /// Its transaction.
    pub tx_id: TxId,
    /// The refusal the client was given.
    pub refusal: String,
    /// The first node whose chain applied it.
    pub node: usize,
    /// At this height.
    pub height: u64,
}

/// Where a P2 finding comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The chain's own receipts, booked as they say (see the `account` module).
    Receipts,
    /// The reference model's state after replaying the chain.
    Model,
}

/// What was over-reimbursed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum OverKind {
    /// `reimbursed + reserved > claimable` on a bill (a bill never issued has nothing
    /// claimable).
    BillOverClaimed {
        /// The bill.
        bill: BillId,
        /// Its claimable amount (patient-pay; nothing for a red bill).
        claimable: Fen,
        /// Reserved at that point.
        reserved: Fen,
        /// Reimbursed at that point.
        reimbursed: Fen,
    },
    /// A voided or red bill with something reserved or reimbursed.
    VoidedWithClaims {
        /// The bill.
        bill: BillId,
        /// Reserved at that point.
        reserved: Fen,
        /// Reimbursed at that point.
        reimbursed: Fen,
    },
    /// A claim settled a second time.
    SettledTwice {
        /// The claim.
        claim: ClaimId,
    },
    /// A settlement of a claim that was never accepted, or was rejected or withdrawn.
    SettledWithoutOpenClaim {
        /// The claim.
        claim: ClaimId,
    },
    /// A claim id accepted a second time.
    ClaimIdReused {
        /// The claim.
        claim: ClaimId,
    },
    /// A bill id issued a second time (which would start its bookkeeping afresh).
    BillReissued {
        /// The bill.
        bill: BillId,
    },
}

/// P2: a bill paid (or reserved) beyond what may be claimed, or a claim paid twice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OverReimbursement {
    /// The node whose chain shows it (the first node holding that chain; see [`check`]).
    pub node: usize,
    /// The height of the block that caused it.
    pub height: u64,
    /// The transaction that caused it, when known.
    pub tx_id: Option<TxId>,
    /// Whether the chain's receipts or the model's replay shows it.
    pub source: Source,
    /// What happened.
    pub kind: OverKind,
}

/// P3: a node whose block at some height differs from another node's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Divergence {
    /// The height.
    pub height: u64,
    /// The node that differs.
    pub node: usize,
    /// The node it is compared with: the lowest-numbered node holding that height.
    pub reference_node: usize,
    /// What differs: `digest`, `parent`, `executed_height`, `state_root`, `timestamp`, `txs`,
    /// `receipts`, or the state root of an executed height that another block commits to
    /// differently.
    pub differs: Vec<String>,
}

/// What does not add up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ConservationKind {
    /// A receipt's amount differs from what its transaction carries (a lock that is not the
    /// sum requested, a payment that is not the sum approved, a release that is not what was
    /// reserved).
    EffectAmount {
        /// The transaction.
        tx_id: TxId,
        /// The effect (`claim_locked`, `claim_settled`, `claim_rejected`, `claim_withdrawn`).
        effect: String,
        /// What the receipt says.
        stated: Fen,
        /// What the transaction carries.
        expected: Fen,
    },
    /// A reservation released (a rejection or withdrawal accepted) that was not held: the
    /// reserved amount would go negative.
    ReleasedWithoutReservation {
        /// The transaction.
        tx_id: TxId,
        /// The claim.
        claim: ClaimId,
    },
    /// A settlement pays more for an item than was requested (and reserved) for it.
    ApprovedExceedsRequested {
        /// The transaction.
        tx_id: TxId,
        /// The claim.
        claim: ClaimId,
        /// Requested for the item (nothing for an item the claim does not have).
        requested: Fen,
        /// Approved for it.
        approved: Fen,
    },
    /// A payer's total paid by the chain's settlements differs from the model's.
    PayerTotal {
        /// The payer.
        payer: MemberId,
        /// The sum of the settlements the chain accepted.
        settlements: Fen,
        /// The model's total paid after replay.
        model_paid: Fen,
    },
}

/// P4: money that is not conserved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConservationError {
    /// The node whose chain shows it (the first node holding that chain).
    pub node: usize,
    /// The height, for findings about one transaction.
    pub height: Option<u64>,
    /// What does not add up.
    pub kind: ConservationKind,
}

/// P5: a receipt on a chain that is not what the reference model gives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ModelMismatch {
    /// The node whose chain shows it (the first node holding that chain).
    pub node: usize,
    /// The height.
    pub height: u64,
    /// The transaction's position in the block.
    pub index: usize,
    /// The transaction.
    pub tx_id: TxId,
    /// The chain's receipt.
    pub chain: Receipt,
    /// The model's.
    pub model: Receipt,
}

/// A transaction whose inclusion was not final on one chain: it took effect more than once,
/// or took effect after an earlier inclusion was refused (`heights`: that refusal, then the
/// acceptance).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AppliedTwice {
    /// The node.
    pub node: usize,
    /// The transaction.
    pub tx_id: TxId,
    /// The heights at which its receipts say it was accepted.
    pub heights: Vec<u64>,
}

/// A chain that breaks its own structure, or that the checker could not replay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Malformed {
    /// The node.
    pub node: usize,
    /// The position in the chain (0 for height 1) of the block concerned.
    pub position: usize,
    /// What is wrong.
    pub problem: String,
}

/// What the checker found. [`Report::violations`] is zero when every property holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Nodes checked.
    pub nodes: usize,
    /// Each node's height (its last well-formed block; 0 for an empty chain).
    pub heights: Vec<u64>,
    /// Operations in the history.
    pub ops: usize,
    /// Of which acknowledged committed.
    pub ok: usize,
    /// Of which refused.
    pub fail: usize,
    /// Of which without a definite answer.
    pub unknown: usize,
    /// Transactions in the longest chain (inclusions, counting a repeated one each time).
    pub committed_txs: usize,
    /// Receipts of the longest chain by outcome: `accepted` or the rejection's code.
    pub outcomes: BTreeMap<String, usize>,
    /// Per node, inclusions of a transaction already included earlier in its chain. Allowed:
    /// a leader far behind may propose a transaction again, and the ledger answers it
    /// `replayed` with no effect (see [`Report::applied_twice`] for the violation).
    pub repeated_txs: Vec<usize>,
    /// The longest time between two consecutive blocks on any chain, by block timestamps;
    /// liveness (L1) bounds are the caller's to judge.
    pub longest_commit_gap_ms: u64,
    /// P1 violations.
    pub lost: Vec<Lost>,
    /// P1's converse: refused operations that took effect.
    pub refused_but_applied: Vec<RefusedButApplied>,
    /// P2 violations.
    pub over_reimbursed: Vec<OverReimbursement>,
    /// P3 violations.
    pub divergences: Vec<Divergence>,
    /// P4 violations.
    pub conservation: Vec<ConservationError>,
    /// P5 violations.
    pub model_mismatches: Vec<ModelMismatch>,
    /// Transactions that took effect twice on one chain, or after a refusal.
    pub applied_twice: Vec<AppliedTwice>,
    /// Chains that break their own structure.
    pub malformed: Vec<Malformed>,
}

impl Report {
    /// Every violation found, of every property.
    pub fn violations(&self) -> usize {
        self.lost.len()
            + self.refused_but_applied.len()
            + self.over_reimbursed.len()
            + self.divergences.len()
            + self.conservation.len()
            + self.model_mismatches.len()
            + self.applied_twice.len()
            + self.malformed.len()
    }

    /// The report as pretty JSON, for a test artifact.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serializes")
    }
}

/// Checks `chains` (one per node, each from height 1 up) and `history` against `genesis`.
///
/// Every chain is replayed through the reference model, except that a chain equal to a prefix
/// of one already replayed is not replayed again: its receipts were compared already. Findings
/// of the replay (P2, P4, P5) name the first node, longest chain first, whose chain shows them.
pub fn check(genesis: &Genesis, chains: &[Vec<BlockTransactions>], history: &History) -> Report {
    let counts: Counts = history.counts();
    let mut report = Report {
        nodes: chains.len(),
        ops: counts.invoked,
        ok: counts.ok,
        fail: counts.fail,
        unknown: counts.unknown,
        ..Report::default()
    };
    let chains: Vec<&[BlockTransactions]> = chains
        .iter()
        .enumerate()
        .map(|(node, chain)| well_formed_prefix(node, chain, &mut report.malformed))
        .collect();
    report.heights = chains.iter().map(|c| c.last().map_or(0, |b| b.height)).collect();
    report.longest_commit_gap_ms = chains
        .iter()
        .flat_map(|c| c.windows(2).map(|w| w[1].timestamp_ms.saturating_sub(w[0].timestamp_ms)))
        .max()
        .unwrap_or(0);
    if let Some(longest) = chains.iter().max_by_key(|c| c.len()) {
        report.committed_txs = longest.iter().map(|b| b.txs.len()).sum();
        for receipt in longest.iter().flat_map(|b| &b.receipts) {
            *report.outcomes.entry(receipt.outcome.code()).or_insert(0) += 1;
        }
    }

    check_agreement(&chains, &mut report.divergences);
    let indexes: Vec<TxIndex> =
        chains.iter().enumerate().map(|(node, c)| TxIndex::of(node, c)).collect();
    for index in &indexes {
        report.repeated_txs.push(index.repeated);
        report.applied_twice.extend(index.applied_twice.iter().cloned());
    }
    check_acknowledgements(&history.ops(), &indexes, &mut report);

    // Longest first, so that shorter chains that are prefixes of it need no replay.
    let mut order: Vec<usize> = (0..chains.len()).collect();
    order.sort_by_key(|&node| std::cmp::Reverse(chains[node].len()));
    let mut replayed: Vec<usize> = Vec::new();
    for node in order {
        let chain = chains[node];
        let covered = replayed
            .iter()
            .any(|&r| chains[r].len() >= chain.len() && chains[r].starts_with(chain));
        if !covered {
            replay(genesis, node, chain, &mut report);
            replayed.push(node);
        }
    }
    report
}

/// The part of `chain` that is well formed: heights 1, 2, 3, … and one receipt per
/// transaction, for that transaction. What follows the first broken block is not checked.
fn well_formed_prefix<'c>(
    node: usize,
    chain: &'c [BlockTransactions],
    malformed: &mut Vec<Malformed>,
) -> &'c [BlockTransactions] {
    let mut problem = |position: usize, problem: String| {
        malformed.push(Malformed { node, position, problem });
    };
    for (position, block) in chain.iter().enumerate() {
        let expected = u64::try_from(position).ok().and_then(|p| p.checked_add(1));
        if Some(block.height) != expected {
            problem(
                position,
                format!("height {} where {} was expected", block.height, position + 1),
            );
            return &chain[..position];
        }
        if block.receipts.len() != block.txs.len() {
            let (receipts, txs) = (block.receipts.len(), block.txs.len());
            problem(position, format!("{receipts} receipts for {txs} transactions"));
            return &chain[..position];
        }
        let stray = block.txs.iter().zip(&block.receipts).position(|(t, r)| t.id() != r.tx_id);
        if let Some(index) = stray {
            problem(position, format!("receipt {index} is for another transaction"));
            return &chain[..position];
        }
        // Consensus refuses blocks like the following, but the chain can still be replayed:
        // they are reported and the check goes on.
        if block.executed_height >= block.height {
            let executed = block.executed_height;
            problem(position, format!("state root of height {executed}, not below the block"));
        }
        let Some(parent) = position.checked_sub(1).map(|p| &chain[p]) else { continue };
        if block.parent != parent.digest {
            problem(position, format!("parent {} is not the previous block", block.parent));
        }
        if block.timestamp_ms <= parent.timestamp_ms {
            problem(position, format!("timestamp {} not after its parent's", block.timestamp_ms));
        }
        if block.executed_height < parent.executed_height {
            let executed = block.executed_height;
            problem(position, format!("state root of height {executed}, older than its parent's"));
        }
    }
    chain
}

/// P3: at every height two nodes hold, the same block with the same results; and one state
/// root for each executed height, whichever block carries it (execution lags consensus, so
/// several blocks may commit to the same executed height).
fn check_agreement(chains: &[&[BlockTransactions]], divergences: &mut Vec<Divergence>) {
    let longest = chains.iter().map(|c| c.len()).max().unwrap_or(0);
    // Executed height → the first (node, height, root) seen for it.
    let mut roots: HashMap<u64, (usize, u64, Digest)> = HashMap::new();
    for position in 0..longest {
        for (node, block) in
            chains.iter().enumerate().filter_map(|(n, c)| Some((n, c.get(position)?)))
        {
            let first = *roots.entry(block.executed_height).or_insert((
                node,
                block.height,
                block.state_root,
            ));
            // Blocks of the same height are compared field by field below.
            if first.2 != block.state_root && first.1 != block.height {
                divergences.push(Divergence {
                    height: block.height,
                    node,
                    reference_node: first.0,
                    differs: vec![format!(
                        "state_root of executed height {} (vs height {})",
                        block.executed_height, first.1
                    )],
                });
            }
        }
        let mut holders =
            chains.iter().enumerate().filter_map(|(n, c)| Some((n, c.get(position)?)));
        let Some((reference_node, reference)) = holders.next() else { continue };
        for (node, block) in holders {
            let mut differs = Vec::new();
            if block.digest != reference.digest {
                differs.push("digest".to_string());
            }
            if block.parent != reference.parent {
                differs.push("parent".to_string());
            }
            if block.executed_height != reference.executed_height {
                differs.push("executed_height".to_string());
            }
            if block.state_root != reference.state_root {
                differs.push("state_root".to_string());
            }
            if block.timestamp_ms != reference.timestamp_ms {
                differs.push("timestamp".to_string());
            }
            if block.txs != reference.txs {
                differs.push("txs".to_string());
            }
            if block.receipts != reference.receipts {
                differs.push("receipts".to_string());
            }
            if !differs.is_empty() {
                divergences.push(Divergence {
                    height: block.height,
                    node,
                    reference_node,
                    differs,
                });
            }
        }
    }
}

/// One node's transactions by id: the receipt that decided each one.
struct TxIndex {
    /// The accepted inclusion if there is one, else the first; with its height.
    decided: HashMap<TxId, (u64, Receipt)>,
    repeated: usize,
    applied_twice: Vec<AppliedTwice>,
}

impl TxIndex {
    fn of(node: usize, chain: &[BlockTransactions]) -> Self {
        let mut decided: HashMap<TxId, (u64, Receipt)> = HashMap::new();
        let mut revived = Vec::new();
        let mut accepted_at: BTreeMap<TxId, Vec<u64>> = BTreeMap::new();
        let mut repeated = 0;
        for block in chain {
            for receipt in &block.receipts {
                let accepted = receipt.outcome.is_accepted();
                if accepted {
                    accepted_at.entry(receipt.tx_id).or_default().push(block.height);
                }
                match decided.get_mut(&receipt.tx_id) {
                    None => {
                        decided.insert(receipt.tx_id, (block.height, receipt.clone()));
                    }
                    Some(entry) => {
                        repeated += 1;
                        // Inclusion is final: a transaction's first inclusion is its answer.
                        // Only a forged copy (a bad signature on the genuine body, which has
                        // the same id) is not: the genuine transaction may still take effect.
                        // Accepted after any other refusal, it was not final: a violation.
                        let forged = matches!(
                            entry.1.outcome,
                            medledger_types::Outcome::Rejected(
                                medledger_types::Rejection::BadSignature
                            )
                        );
                        if accepted && forged {
                            *entry = (block.height, receipt.clone());
                        } else if accepted && !entry.1.outcome.is_accepted() {
                            revived.push(AppliedTwice {
                                node,
                                tx_id: receipt.tx_id,
                                heights: vec![entry.0, block.height],
                            });
                        }
                    }
                }
            }
        }
        let applied_twice = accepted_at
            .into_iter()
            .filter(|(_, heights)| heights.len() > 1)
            .map(|(tx_id, heights)| AppliedTwice { node, tx_id, heights })
            .chain(revived)
            .collect();
        Self { decided, repeated, applied_twice }
    }
}

/// P1: every acknowledged operation on every node with its receipt; and no refused operation
/// applied.
fn check_acknowledgements(ops: &[Op], indexes: &[TxIndex], report: &mut Report) {
    let not_refused: HashSet<TxId> = ops
        .iter()
        .filter(|op| !matches!(op.result(), OpResult::Fail(_)))
        .map(|op| op.invocation.tx_id)
        .collect();
    for op in ops {
        let tx_id = op.invocation.tx_id;
        match op.result() {
            OpResult::Ok(acknowledged) => {
                for (node, index) in indexes.iter().enumerate() {
                    let on_chain = index.decided.get(&tx_id).map(|(_, r)| r);
                    if on_chain != Some(acknowledged) {
                        report.lost.push(Lost {
                            op: op.invocation.op,
                            tx_id,
                            node,
                            acknowledged: acknowledged.clone(),
                            on_chain: on_chain.cloned(),
                        });
                    }
                }
            }
            OpResult::Fail(refusal) if !not_refused.contains(&tx_id) => {
                let applied = indexes.iter().enumerate().find_map(|(node, index)| {
                    let (height, receipt) = index.decided.get(&tx_id)?;
                    receipt.outcome.is_accepted().then_some((node, *height))
                });
                if let Some((node, height)) = applied {
                    report.refused_but_applied.push(RefusedButApplied {
                        op: op.invocation.op,
                        tx_id,
                        refusal: refusal.clone(),
                        node,
                        height,
                    });
                }
            }
            OpResult::Fail(_) | OpResult::Unknown => {}
        }
    }
}

/// Replays one well-formed chain through the model (P5, P2 on the model's state) and the
/// chain's own account (P2, P4).
fn replay(genesis: &Genesis, node: usize, chain: &[BlockTransactions], report: &mut Report) {
    let mut model = Model::new(genesis);
    let mut account = Account::new(genesis, node);
    let mut flagged: HashSet<BillId> = HashSet::new();
    for (position, block) in chain.iter().enumerate() {
        // The model asserts its own invariants; a chain that trips one is reported, never a
        // reason for the checker to stop the test with a panic.
        let applied = catch_unwind(AssertUnwindSafe(|| {
            model.apply_block(block.height, block.timestamp_ms, &block.txs)
        }));
        let Ok(expected) = applied else {
            report.malformed.push(Malformed {
                node,
                position,
                problem: "the reference model panicked on this block; replay stopped".to_string(),
            });
            return;
        };
        for (index, ((tx, receipt), model_receipt)) in
            block.txs.iter().zip(&block.receipts).zip(expected).enumerate()
        {
            if *receipt != model_receipt {
                report.model_mismatches.push(ModelMismatch {
                    node,
                    height: block.height,
                    index,
                    tx_id: tx.id(),
                    chain: receipt.clone(),
                    model: model_receipt,
                });
            }
            account.book(
                block.height,
                tx,
                receipt,
                &mut report.over_reimbursed,
                &mut report.conservation,
            );
        }
        audit_model(&model, node, block, &mut flagged, &mut report.over_reimbursed);
    }
    let payers: BTreeSet<MemberId> = genesis
        .members
        .iter()
        .map(|m| m.id.clone())
        .chain(account.paid().keys().cloned())
        .collect();
    for payer in payers {
        let settlements = account.paid().get(&payer).copied().unwrap_or(0);
        let model_paid = model.paid_by(&payer);
        if settlements != u128::from(model_paid.0) {
            report.conservation.push(ConservationError {
                node,
                height: None,
                kind: ConservationKind::PayerTotal {
                    payer,
                    settlements: fen(settlements),
                    model_paid,
                },
            });
        }
    }
}

/// P2 on the model's state after `block`, for the bills its transactions touch.
fn audit_model(
    model: &Model,
    node: usize,
    block: &BlockTransactions,
    flagged: &mut HashSet<BillId>,
    over: &mut Vec<OverReimbursement>,
) {
    let touched: BTreeSet<BillId> =
        block.txs.iter().flat_map(|tx| touched_bills(model, tx)).collect();
    for bill in touched {
        let Some(b) = model.bills.iter().find(|b| b.id == bill) else { continue };
        let (reserved, reimbursed) = (model.reserved(bill), model.reimbursed(bill));
        let carried = u128::from(reserved.0) + u128::from(reimbursed.0);
        let closed = b.reverses.is_some() || b.voided_by.is_some();
        let claimable = if b.reverses.is_some() { Fen::ZERO } else { b.patient_pay };
        let kind = if carried > u128::from(claimable.0) {
            OverKind::BillOverClaimed { bill, claimable, reserved, reimbursed }
        } else if closed && carried > 0 {
            OverKind::VoidedWithClaims { bill, reserved, reimbursed }
        } else {
            continue;
        };
        if flagged.insert(bill) {
            over.push(OverReimbursement {
                node,
                height: block.height,
                tx_id: None,
                source: Source::Model,
                kind,
            });
        }
    }
}

/// The bills a transaction may change the reservations of, as the model knows them.
fn touched_bills(model: &Model, tx: &Transaction) -> Vec<BillId> {
    let claim_bills = |id: &ClaimId| -> Vec<BillId> {
        model
            .claims
            .iter()
            .filter(|c| c.id == *id)
            .flat_map(|c| c.items.iter().map(|i| i.bill))
            .collect()
    };
    match &tx.body().payload {
        Payload::IssueBills { bills, .. } => bills.iter().map(|b| b.id).collect(),
        Payload::VoidBill { bill, .. } => vec![*bill],
        Payload::SubmitClaim { claim, .. } => claim.items.iter().map(|i| i.bill).collect(),
        Payload::SettleClaim { claim_id, .. }
        | Payload::RejectClaim { claim_id, .. }
        | Payload::WithdrawClaim { claim_id, .. } => claim_bills(claim_id),
        _ => Vec::new(),
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "checked {} nodes at heights {:?}; {} transactions on the longest chain",
            self.nodes, self.heights, self.committed_txs
        )?;
        writeln!(
            f,
            "history: {} operations: {} ok, {} fail, {} unknown",
            self.ops, self.ok, self.fail, self.unknown
        )?;
        let outcomes: Vec<String> = self.outcomes.iter().map(|(k, v)| format!("{k} {v}")).collect();
        writeln!(f, "outcomes: {}", outcomes.join(", "))?;
        writeln!(
            f,
            "longest commit gap: {} ms; repeated inclusions per node: {:?}",
            self.longest_commit_gap_ms, self.repeated_txs
        )?;
        writeln!(
            f,
            "P1 no lost commit:        {} (lost or other receipt {}, refused but applied {})",
            self.lost.len() + self.refused_but_applied.len(),
            self.lost.len(),
            self.refused_but_applied.len()
        )?;
        writeln!(f, "P2 no over-reimbursement: {}", self.over_reimbursed.len())?;
        writeln!(f, "P3 agreement:             {}", self.divergences.len())?;
        writeln!(f, "P4 conservation:          {}", self.conservation.len())?;
        writeln!(f, "P5 model match:           {}", self.model_mismatches.len())?;
        writeln!(f, "inclusion final:          {}", self.applied_twice.len())?;
        writeln!(f, "malformed chains:         {}", self.malformed.len())?;
        write!(f, "violations: {}", self.violations())?;
        details(f, "P1", &self.lost)?;
        details(f, "P1", &self.refused_but_applied)?;
        details(f, "P2", &self.over_reimbursed)?;
        details(f, "P3", &self.divergences)?;
        details(f, "P4", &self.conservation)?;
        details(f, "P5", &self.model_mismatches)?;
        details(f, "twice", &self.applied_twice)?;
        details(f, "malformed", &self.malformed)
    }
}

fn details<T: fmt::Display>(f: &mut fmt::Formatter<'_>, label: &str, items: &[T]) -> fmt::Result {
    for item in items.iter().take(DETAILS_PER_PROPERTY) {
        write!(f, "\n  {label}: {item}")?;
    }
    if items.len() > DETAILS_PER_PROPERTY {
        write!(f, "\n  {label}: … and {} more", items.len() - DETAILS_PER_PROPERTY)?;
    }
    Ok(())
}

fn receipt_text(receipt: &Receipt) -> String {
    match &receipt.outcome {
        Outcome::Accepted(effect) => format!("accepted ({effect})"),
        Outcome::Rejected(rejection) => format!("{} ({rejection})", rejection.code()),
    }
}

impl fmt::Display for Lost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} tx {} acknowledged {}, ",
            self.op,
            self.tx_id,
            receipt_text(&self.acknowledged)
        )?;
        match &self.on_chain {
            None => write!(f, "missing on node {}", self.node),
            Some(r) => write!(f, "node {} has {}", self.node, receipt_text(r)),
        }
    }
}

impl fmt::Display for RefusedButApplied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} tx {} refused ({}), yet applied on node {} at height {}",
            self.op, self.tx_id, self.refusal, self.node, self.height
        )
    }
}

impl fmt::Display for OverKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OverKind::BillOverClaimed { bill, claimable, reserved, reimbursed } => write!(
                f,
                "bill {bill}: reimbursed {reimbursed} + reserved {reserved} > claimable {claimable}"
            ),
            OverKind::VoidedWithClaims { bill, reserved, reimbursed } => write!(
                f,
                "voided or red bill {bill} carries reserved {reserved}, reimbursed {reimbursed}"
            ),
            OverKind::SettledTwice { claim } => write!(f, "claim {claim} settled twice"),
            OverKind::SettledWithoutOpenClaim { claim } => {
                write!(f, "claim {claim} settled while not locked")
            }
            OverKind::ClaimIdReused { claim } => write!(f, "claim id {claim} accepted twice"),
            OverKind::BillReissued { bill } => write!(f, "bill {bill} issued twice"),
        }
    }
}

impl fmt::Display for OverReimbursement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match self.source {
            Source::Receipts => "receipts",
            Source::Model => "model",
        };
        write!(f, "node {} height {} ({source}): {}", self.node, self.height, self.kind)?;
        if let Some(tx_id) = &self.tx_id {
            write!(f, " by tx {tx_id}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "height {}: node {} differs from node {} in {}",
            self.height,
            self.node,
            self.reference_node,
            self.differs.join(", ")
        )
    }
}

impl fmt::Display for ConservationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node {}", self.node)?;
        if let Some(height) = self.height {
            write!(f, " height {height}")?;
        }
        match &self.kind {
            ConservationKind::EffectAmount { tx_id, effect, stated, expected } => write!(
                f,
                ": tx {tx_id} {effect} states {stated}, its transaction carries {expected}"
            ),
            ConservationKind::ReleasedWithoutReservation { tx_id, claim } => {
                write!(f, ": tx {tx_id} released claim {claim}, which held nothing")
            }
            ConservationKind::ApprovedExceedsRequested { tx_id, claim, requested, approved } => {
                write!(f, ": tx {tx_id} pays {approved} on claim {claim} for {requested} requested")
            }
            ConservationKind::PayerTotal { payer, settlements, model_paid } => {
                write!(f, ": payer {payer} settled {settlements}, the model paid {model_paid}")
            }
        }
    }
}

impl fmt::Display for ModelMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "node {} height {} #{} tx {}: chain {}, model {}",
            self.node,
            self.height,
            self.index,
            self.tx_id,
            receipt_text(&self.chain),
            receipt_text(&self.model)
        )
    }
}

impl fmt::Display for AppliedTwice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node {}: tx {} accepted at heights {:?}", self.node, self.tx_id, self.heights)
    }
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node {} block #{}: {}", self.node, self.position, self.problem)
    }
}
