//! The node's view of the executed chain: the ledger state, the last executed block, the
//! chained state root, receipts by transaction id, and the mempool. Shared by the consensus
//! application, the executor and the API behind short-lived locks (never held across `.await`).

use crate::block::{Block, BlockDigest};
use crate::events::{EventLog, block_events};
use crate::mempool::AdmitError;
use crate::mempool::Mempool;
use crate::state_tree::{StateKey, StateTree};
use medledger_crypto::{Digest, Domain, hash};
use medledger_ledger::{
    BlockContext, MemoryState, SignatureCheck, StateReader, execute_block_checked,
    verify_signatures,
};
use medledger_receipt::{BlockHeader, Record};
use medledger_types::{
    BillCode, BillId, BillNumber, ClaimId, Genesis, MemberId, Payload, Pseudonym, Receipt,
    Transaction, TxId,
};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub use medledger_types::api::Committed;

/// One executed block, as `/v1/status` and agreement checks see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExecutedBlock {
    /// Height.
    pub height: u64,
    /// The block's digest.
    pub digest: BlockDigest,
    /// The state root after executing it (commits to `receipts_root` and the state tree).
    pub state_root: Digest,
    /// The receipts chain root after it.
    pub receipts_root: Digest,
    /// Consensus time.
    pub timestamp_ms: u64,
    /// Transactions in it.
    pub txs: u32,
}

impl ExecutedBlock {
    /// The API's view of it.
    pub fn summary(&self) -> medledger_types::api::BlockSummary {
        medledger_types::api::BlockSummary {
            height: self.height,
            digest: medledger_crypto::encode_hex(self.digest.as_ref()),
            state_root: self.state_root,
            timestamp_ms: self.timestamp_ms,
            txs: self.txs,
        }
    }
}

/// How many recent executed blocks are kept in memory for `/v1/status` and agreement checks.
pub const RECENT_BLOCKS_MAX: usize = 100_000;

/// The executed chain.
#[derive(Debug)]
pub struct Executed {
    /// The ledger state after the last executed block.
    pub state: MemoryState,
    /// The last executed block.
    pub tip: ExecutedBlock,
    /// Recent executed blocks by height.
    pub recent: BTreeMap<u64, ExecutedBlock>,
    /// Receipts of committed transactions: for one included more than once, the inclusion
    /// that took effect (or else the first).
    pub receipts: HashMap<TxId, Committed>,
    /// Receipts of the other inclusions of such transactions, by height and index.
    pub other_inclusions: HashMap<(u64, u32), Receipt>,
    /// Bills by patient pseudonym, in issue order.
    pub bills_by_patient: HashMap<Pseudonym, Vec<BillId>>,
    /// Claims by payer, in submission order.
    pub claims_by_payer: HashMap<MemberId, Vec<ClaimId>>,
    /// How much of each allocated bill-number range is used, by (code, first number).
    pub range_use: HashMap<(BillCode, BillNumber), RangeUse>,
    /// Recent blocks' events.
    pub events: EventLog,
    /// The authenticated state of bills and claims.
    pub tree: StateTree,
    /// The newest finalized header the committed tree matches, with its certificate: what
    /// receipts prove against.
    pub anchor: Option<Anchor>,
}

/// A finalized block header whose state root the committed state tree matches.
#[derive(Clone, Debug)]
pub struct Anchor {
    /// The header.
    pub header: BlockHeader,
    /// The receipts chain root as of `header.executed_height`.
    pub receipts_root: Digest,
    /// The validators' finalization certificate of the header (codec bytes).
    pub finalization: Vec<u8>,
}

/// Why a receipt cannot be given.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    /// Nothing of that key exists.
    #[error("no such record")]
    Unknown,
    /// It exists, but no finalized header commits to it yet.
    #[error(
        "not yet provable: no finalized header commits to a state that includes it yet; retry in a moment"
    )]
    NotYetProvable,
}

impl Executed {
    /// What the executed chain says about admitting `tx`: not if it was already included in a
    /// block, nor if its signer is unknown or frozen.
    fn admission_check(&self, tx: &Transaction) -> Result<(), AdmitError> {
        if let Some(included) = self.receipts.get(&tx.id()) {
            return Err(AdmitError::AlreadyIncluded { height: included.height });
        }
        // Who signed it and what kind it is: a transaction no block would accept (a patient's
        // key posting an issuance batch) is refused here, never gossiped or stored.
        match medledger_ledger::admission_refusal(&self.state, tx) {
            Some(rejection) => Err(AdmitError::Rejected(rejection)),
            None => Ok(()),
        }
    }

    /// Updates the query indexes for an accepted transaction.
    fn index(&mut self, tx: &Transaction) {
        match &tx.body().payload {
            Payload::IssueBills { bills, .. } => {
                for bill in bills {
                    self.bills_by_patient.entry(bill.patient).or_default().push(bill.id);
                    self.use_number(bill.id);
                }
            }
            Payload::VoidBill { bill, red_number } => {
                let red = BillId { code: bill.code, number: *red_number };
                if let Some(patient) = self.state.bill(&red).map(|b| b.issue.patient) {
                    self.bills_by_patient.entry(patient).or_default().push(red);
                }
                self.use_number(red);
            }
            Payload::SubmitClaim { claim, .. } => {
                self.claims_by_payer.entry(claim.payer.clone()).or_default().push(claim.claim_id);
            }
            _ => {}
        }
    }
}

impl Executed {
    /// Counts a bill number as used in the range it belongs to.
    fn use_number(&mut self, id: BillId) {
        let Some(range) = self.state.ranges(id.code).iter().find(|r| r.contains(id.number)) else {
            return;
        };
        let entry = self.range_use.entry((id.code, range.first)).or_default();
        entry.used += 1;
        entry.highest = entry.highest.max(Some(id.number));
    }
}

/// How much of one bill-number range is used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RangeUse {
    /// Numbers used (bills and red bills).
    pub used: u64,
    /// The highest used number.
    pub highest: Option<BillNumber>,
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    /// Blocks executed.
    pub blocks: AtomicU64,
    /// Transactions executed.
    pub txs: AtomicU64,
    /// Transactions accepted by the ledger.
    pub txs_accepted: AtomicU64,
    /// Transactions rejected by the ledger.
    pub txs_rejected: AtomicU64,
    /// Transactions refused at mempool admission.
    pub admissions_refused: AtomicU64,
}

/// Signature checks made while verifying a proposal, kept until the block executes so that
/// its signatures are verified once. Bounded: entries at or below the executed height are
/// dropped, and at most this many are held.
pub const VERIFIED_BLOCKS_MAX: usize = 1_024;

/// Everything shared inside one node.
#[derive(Debug)]
pub struct Chain {
    executed: Mutex<Executed>,
    mempool: Mutex<Mempool>,
    verified: Mutex<HashMap<BlockDigest, (u64, Vec<SignatureCheck>)>>,
    /// The executed height, for waiters (event streams, `?wait=commit`).
    executed_watch: tokio::sync::watch::Sender<u64>,
    /// Counters for metrics.
    pub counters: Counters,
    /// Histograms and labelled counters for `/metrics`.
    pub metrics: crate::metrics::NodeMetrics,
}

/// The receipts chain after a block: a hash chain over every block's receipts. Deterministic
/// execution means equal receipts imply equal states, so it commits to everything the
/// validators agree on (members, ranges, the replay set) beside the state tree, which gives
/// proofs for bills and claims. Both go into the state root ([`medledger_receipt::state_root`]).
pub fn next_receipts_root(previous: &Digest, height: u64, receipts: &[Receipt]) -> Digest {
    let encoded = serde_json::to_vec(receipts).expect("receipts serialize");
    hash(Domain::StateRoot, &[&previous.0, &height.to_be_bytes(), &encoded])
}

/// Whether a transaction carries a patient's consent signature.
fn carries_consent(tx: &Transaction) -> bool {
    matches!(
        &tx.body().payload,
        Payload::SubmitClaim { consent: Some(_), .. }
            | Payload::WithdrawClaim { consent: Some(_), .. }
    )
}

/// The current record of `key`.
fn record(state: &MemoryState, key: &StateKey) -> Option<Record> {
    match key {
        StateKey::Bill(id) => state.bill(id).cloned().map(Record::Bill),
        StateKey::Claim(id) => state.claim(id).cloned().map(Record::Claim),
    }
}

/// The bills and claims `txs` may change, each once, in order of first mention, with their
/// records before the block. A superset: a rejected transaction changes nothing, and unchanged
/// records are dropped after execution.
fn touched_records(state: &MemoryState, txs: &[Transaction]) -> Vec<(StateKey, Option<Record>)> {
    let mut keys: Vec<StateKey> = Vec::new();
    let claim_bills = |id: &ClaimId| -> Vec<StateKey> {
        state
            .claim(id)
            .map(|c| c.submission.items.iter().map(|i| StateKey::Bill(i.bill)).collect())
            .unwrap_or_default()
    };
    for tx in txs {
        match &tx.body().payload {
            Payload::IssueBills { bills, .. } => {
                keys.extend(bills.iter().map(|b| StateKey::Bill(b.id)));
            }
            Payload::AccessBody { bill, .. } => keys.push(StateKey::Bill(*bill)),
            Payload::VoidBill { bill, red_number } => {
                keys.push(StateKey::Bill(*bill));
                keys.push(StateKey::Bill(BillId { code: bill.code, number: *red_number }));
            }
            Payload::SubmitClaim { claim, .. } => {
                keys.push(StateKey::Claim(claim.claim_id));
                keys.extend(claim.items.iter().map(|i| StateKey::Bill(i.bill)));
            }
            Payload::SettleClaim { claim_id, .. }
            | Payload::RejectClaim { claim_id, .. }
            | Payload::WithdrawClaim { claim_id, .. } => {
                keys.push(StateKey::Claim(*claim_id));
                keys.extend(claim_bills(claim_id));
            }
            _ => {}
        }
    }
    let mut seen = std::collections::HashSet::with_capacity(keys.len());
    keys.into_iter()
        .filter(|key| seen.insert(*key))
        .map(|key| {
            let before = record(state, &key);
            (key, before)
        })
        .collect()
}

impl Chain {
    /// A chain at genesis.
    pub fn new(genesis: &Genesis, genesis_block: &Block, mempool: Mempool) -> anyhow::Result<Self> {
        use commonware_cryptography::Digestible as _;
        let state = MemoryState::from_genesis(genesis)?;
        // A genesis's synthetic bills are leaves of the state tree and listed by patient, as
        // issued bills are.
        let synthetic = || medledger_ledger::genesis::synthetic_bills(genesis);
        let tree = StateTree::with_records(synthetic()?.map(Record::Bill));
        let mut bills_by_patient: HashMap<Pseudonym, Vec<BillId>> = HashMap::new();
        let mut synthetic_ids = Vec::new();
        for bill in synthetic()? {
            bills_by_patient.entry(bill.issue.patient).or_default().push(bill.issue.id);
            synthetic_ids.push(bill.issue.id);
        }
        let tip = ExecutedBlock {
            height: 0,
            digest: genesis_block.digest(),
            state_root: genesis_block.state_root,
            receipts_root: genesis_block.state_root,
            timestamp_ms: genesis_block.timestamp_ms,
            txs: 0,
        };
        let mut executed = Executed {
            state,
            tip,
            recent: BTreeMap::from([(0, tip)]),
            receipts: HashMap::new(),
            other_inclusions: HashMap::new(),
            bills_by_patient,
            claims_by_payer: HashMap::new(),
            range_use: HashMap::new(),
            events: EventLog::default(),
            tree,
            anchor: None,
        };
        for id in synthetic_ids {
            executed.use_number(id);
        }
        Ok(Self {
            executed: Mutex::new(executed),
            mempool: Mutex::new(mempool),
            verified: Mutex::new(HashMap::new()),
            executed_watch: tokio::sync::watch::Sender::new(0),
            counters: Counters::default(),
            metrics: crate::metrics::NodeMetrics::new(),
        })
    }

    /// Block `block`, executed here at `height`, with every transaction's receipt (for a
    /// transaction included more than once, the receipt of this inclusion). `None` if a receipt
    /// is missing: the block is not (yet) executed here.
    pub fn block_transactions(
        &self,
        block: Block,
        height: u64,
    ) -> Option<medledger_types::api::BlockTransactions> {
        use commonware_cryptography::Digestible as _;
        let receipts = {
            let executed = self.executed();
            block
                .txs
                .iter()
                .enumerate()
                .map(|(index, tx)| {
                    let index = u32::try_from(index).ok()?;
                    let answer = executed.receipts.get(&tx.id());
                    match answer.filter(|c| c.height == height && c.index == index) {
                        Some(c) => Some(c.receipt.clone()),
                        // Another inclusion of a transaction included more than once.
                        None => executed.other_inclusions.get(&(height, index)).cloned(),
                    }
                })
                .collect::<Option<Vec<_>>>()?
        };
        Some(medledger_types::api::BlockTransactions {
            height,
            digest: medledger_crypto::encode_hex(block.digest().as_ref()),
            parent: medledger_crypto::encode_hex(block.parent.as_ref()),
            timestamp_ms: block.timestamp_ms,
            executed_height: block.executed_height,
            state_root: block.state_root,
            txs: block.txs,
            receipts,
            redacted: false,
        })
    }

    /// The executed chain (short critical sections only).
    pub fn executed(&self) -> MutexGuard<'_, Executed> {
        self.executed.lock().expect("executed-chain lock poisoned")
    }

    /// The mempool (short critical sections only).
    pub fn mempool(&self) -> MutexGuard<'_, Mempool> {
        self.mempool.lock().expect("mempool lock poisoned")
    }

    /// Follows the executed height: changes after every executed block.
    pub fn watch_executed(&self) -> tokio::sync::watch::Receiver<u64> {
        self.executed_watch.subscribe()
    }

    /// The height of the last executed block.
    pub fn executed_height(&self) -> u64 {
        self.executed().tip.height
    }

    /// Admits transactions (from the API or gossip) into the mempool. Refused here, before any
    /// block space is spent on them: transactions already included in a block, signers the
    /// ledger does not know or has frozen, and everything `Mempool::precheck` refuses.
    /// Signatures are verified without holding any lock.
    pub fn admit(&self, txs: Vec<Transaction>) -> Vec<Result<TxId, AdmitError>> {
        let (height, mut checked) = {
            let executed = self.executed();
            let checked: Vec<Result<(), AdmitError>> =
                txs.iter().map(|tx| executed.admission_check(tx)).collect();
            (executed.tip.height, checked)
        };
        {
            let pool = self.mempool();
            for (tx, check) in txs.iter().zip(checked.iter_mut()) {
                if check.is_ok() {
                    *check = pool.precheck(tx, height);
                }
            }
        }
        let checked = crate::mempool::verify_signatures(&txs, checked);
        let mut pool = self.mempool();
        let admitted: Vec<Result<TxId, AdmitError>> = txs
            .into_iter()
            .zip(checked)
            .map(|(tx, ok)| ok.and_then(|()| pool.insert(tx)))
            .collect();
        drop(pool);
        for refused in admitted.iter().filter_map(|r| r.as_ref().err()) {
            crate::metrics::NodeMetrics::count(&self.metrics.admissions_refused, refused.code());
        }
        admitted
    }

    /// The signature checks of a block's transactions, verifying only what was not verified
    /// before: a transaction waiting in this node's mempool with the same signature bytes
    /// passed its envelope check on admission (a relayer's re-encoded signature is checked
    /// again). Consent signatures are not checked on admission, so transactions carrying one
    /// are verified whole. Under the claims benchmark a validator spent about a fifth of its
    /// CPU verifying every signature a second and third time.
    pub fn block_checks(&self, txs: &[Transaction]) -> Vec<SignatureCheck> {
        let known: Vec<bool> = {
            let pool = self.mempool();
            txs.iter().map(|tx| pool.holds_verified(tx) && !carries_consent(tx)).collect()
        };
        let unknown: Vec<Transaction> =
            txs.iter().zip(&known).filter(|(_, k)| !**k).map(|(tx, _)| tx.clone()).collect();
        let mut verified = verify_signatures(&unknown).into_iter();
        known
            .iter()
            .map(|known| {
                if *known {
                    SignatureCheck { signature: true, consent: None }
                } else {
                    verified.next().expect("one check per unknown transaction")
                }
            })
            .collect()
    }

    /// Remembers the signature checks of a verified proposal until it executes.
    pub fn remember_checks(&self, digest: BlockDigest, height: u64, checks: Vec<SignatureCheck>) {
        let executed = self.executed_height();
        let mut verified = self.verified.lock().expect("verified lock poisoned");
        verified.retain(|_, (h, _)| *h > executed);
        if verified.len() < VERIFIED_BLOCKS_MAX {
            verified.insert(digest, (height, checks));
        }
    }

    /// The last executed height and the state root after it.
    pub fn executed_root(&self) -> (u64, Digest) {
        let tip = self.executed().tip;
        (tip.height, tip.state_root)
    }

    /// The executed block at `height`, if executed and still held.
    pub fn executed_at(&self, height: u64) -> Option<ExecutedBlock> {
        self.executed().recent.get(&height).copied()
    }

    /// Records that `block` (executed, finalized) is the newest finalized header: the committed
    /// state tree moves to the height its state root names, and, with its finalization
    /// certificate, it becomes what receipts prove against. Checks that the tree's root and the
    /// receipts chain reproduce the header's state root, and serves no receipts if they do not.
    pub fn anchor(&self, block: &Block, finalization: Option<Vec<u8>>) -> bool {
        let mut executed = self.executed();
        let executed = &mut *executed;
        let height = block.executed_height;
        executed.tree.advance(height);
        if executed.tree.anchor() != height || height == 0 {
            return true; // an older state than the anchor (a lagging proposer), or nothing yet
        }
        let Some(receipts_root) = executed.recent.get(&height).map(|b| b.receipts_root) else {
            executed.anchor = None;
            return true;
        };
        let root =
            medledger_receipt::state_root(height, &executed.tree.anchor_root(), &receipts_root);
        if root != block.state_root {
            tracing::error!(
                height = block.height,
                executed_height = height,
                "the state tree does not reproduce a finalized state root; receipts are withheld"
            );
            executed.anchor = None;
            return false;
        }
        match finalization {
            Some(finalization) => {
                executed.anchor =
                    Some(Anchor { header: block.header(), receipts_root, finalization });
            }
            // No certificate stored for this block (repaired by walking back); keep the current
            // anchor only if it names the same state.
            None => {
                if executed.anchor.as_ref().is_some_and(|a| a.header.executed_height != height) {
                    executed.anchor = None;
                }
            }
        }
        true
    }

    /// A receipt for `key`: its record as of the anchor, the proof, the header and certificate.
    pub fn receipt(
        &self,
        chain_id: &medledger_types::ChainId,
        key: StateKey,
    ) -> Result<medledger_receipt::Receipt, ReceiptError> {
        let executed = self.executed();
        let now = record(&executed.state, &key).ok_or(ReceiptError::Unknown)?;
        let anchor = executed.anchor.as_ref().ok_or(ReceiptError::NotYetProvable)?;
        let (leaf, proof) = executed.tree.prove(&key).ok_or(ReceiptError::NotYetProvable)?;
        let record =
            executed.tree.record_at_anchor(&key, Some(now)).ok_or(ReceiptError::NotYetProvable)?;
        Ok(medledger_receipt::Receipt {
            version: medledger_receipt::RECEIPT_VERSION,
            chain_id: chain_id.clone(),
            record,
            leaf,
            proof,
            mmr_root: executed.tree.anchor_root(),
            receipts_root: anchor.receipts_root,
            header: anchor.header.clone(),
            finalization: anchor.finalization.clone(),
        })
    }

    /// Executes a finalized block exactly once: a block at or below the executed height (a
    /// redelivery after a restart) is skipped. Returns whether it was executed. `now_ms` is the
    /// wall-clock time of a live execution, for the latency metrics; `None` when replaying
    /// stored blocks, whose latency would say nothing.
    ///
    /// # Panics
    /// If the block skips a height: marshal delivers finalized blocks in order, so a gap is a
    /// bug of ours.
    pub fn execute(&self, block: &Block, digest: BlockDigest, now_ms: Option<u64>) -> bool {
        let started = Instant::now();
        if block.height <= self.executed_height() {
            return false;
        }
        // Signatures are checked before taking the state lock, so API reads are not held up.
        let cached = self.verified.lock().expect("verified lock poisoned").remove(&digest);
        let checks = match cached {
            Some((_, checks)) if checks.len() == block.txs.len() => checks,
            _ => verify_signatures(&block.txs),
        };
        let mut executed = self.executed();
        if block.height <= executed.tip.height {
            return false;
        }
        assert_eq!(block.height, executed.tip.height + 1, "finalized blocks arrive in order");
        let ctx = BlockContext { height: block.height, timestamp_ms: block.timestamp_ms };
        let touched = touched_records(&executed.state, &block.txs);
        let receipts = execute_block_checked(&mut executed.state, &ctx, &block.txs, &checks);
        let changes: Vec<(Record, Option<Record>)> = touched
            .into_iter()
            .filter_map(|(key, before)| {
                let after = record(&executed.state, &key)?;
                (before.as_ref() != Some(&after)).then_some((after, before))
            })
            .collect();
        let mmr_root = executed.tree.push_block(block.height, changes);
        let receipts_root =
            next_receipts_root(&executed.tip.receipts_root, block.height, &receipts);
        let state_root = medledger_receipt::state_root(block.height, &mmr_root, &receipts_root);
        let tip = ExecutedBlock {
            height: block.height,
            digest,
            state_root,
            receipts_root,
            timestamp_ms: block.timestamp_ms,
            txs: u32::try_from(block.txs.len()).expect("block size is bounded"),
        };
        let events = block_events(&executed.state, &tip, &block.txs, &receipts);
        executed.events.push(block.height, events);
        let mut accepted = 0u64;
        for (index, (receipt, tx)) in receipts.into_iter().zip(&block.txs).enumerate() {
            if receipt.outcome.is_accepted() {
                accepted += 1;
                executed.index(tx);
            } else {
                crate::metrics::NodeMetrics::count(
                    &self.metrics.txs_rejected,
                    receipt.outcome.code(),
                );
            }
            let index = u32::try_from(index).expect("block size is bounded");
            let committed = Committed { height: block.height, index, receipt };
            // A transaction may be included more than once (two proposers held it). Its answer
            // is the inclusion that took effect, or else the first; the other inclusions' receipts
            // are kept apart so every block's receipts can still be served.
            let id = committed.receipt.tx_id;
            match executed.receipts.get(&id) {
                None => {
                    executed.receipts.insert(id, committed);
                }
                Some(first)
                    if !first.receipt.outcome.is_accepted()
                        && committed.receipt.outcome.is_accepted() =>
                {
                    let first = executed.receipts.insert(id, committed).expect("present");
                    executed.other_inclusions.insert((first.height, first.index), first.receipt);
                }
                Some(_) => {
                    executed.other_inclusions.insert((block.height, index), committed.receipt);
                }
            }
        }
        executed.tip = tip;
        executed.recent.insert(block.height, tip);
        while executed.recent.len() > RECENT_BLOCKS_MAX {
            executed.recent.pop_first();
        }
        let height = executed.state.height();
        drop(executed);
        self.executed_watch.send_replace(height);

        let mut mempool = self.mempool();
        for waited in mempool.waited(block.txs.iter().map(|tx| tx.id())) {
            self.metrics.submit_to_commit.observe(waited.as_secs_f64());
        }
        mempool.remove(block.txs.iter().map(|tx| tx.id()));
        mempool.prune_expired(height);
        drop(mempool);

        let n = block.txs.len() as u64;
        self.counters.blocks.fetch_add(1, Ordering::Relaxed);
        self.counters.txs.fetch_add(n, Ordering::Relaxed);
        self.counters.txs_accepted.fetch_add(accepted, Ordering::Relaxed);
        self.counters.txs_rejected.fetch_add(n - accepted, Ordering::Relaxed);
        if let Some(now_ms) = now_ms {
            let delay = Duration::from_millis(now_ms.saturating_sub(block.timestamp_ms));
            self.metrics.propose_to_commit.observe(delay.as_secs_f64());
            self.metrics.block_execution.observe(started.elapsed().as_secs_f64());
        }
        tracing::debug!(
            height = block.height,
            txs = n,
            accepted,
            elapsed_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            "executed block"
        );
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MempoolConfig;
    use commonware_codec::Encode as _;
    use commonware_cryptography::Digestible as _;
    use medledger_testkit::{Consortium, TxFactory, bill, claim, claim_id};

    fn at_genesis() -> (Consortium, Block, Chain) {
        let c = Consortium::demo("medledger-chain", 1);
        let genesis = Block::genesis(&c.genesis);
        let pool = Mempool::new(c.chain_id().clone(), MempoolConfig::default());
        let chain = Chain::new(&c.genesis, &genesis, pool).unwrap();
        (c, genesis, chain)
    }

    #[test]
    fn block_checks_trust_only_the_exact_transactions_verified_on_admission() {
        let (c, _, chain) = at_genesis();
        let mut f = TxFactory::new(c.chain_id().clone(), 10);
        let issue = |n| c.issue(vec![bill(c.bill_id(0, n), c.patients[0].pseudonym, 100, 0)]);
        let admitted = f.sign(&c.hospitals[0].key, issue(1));
        assert!(chain.admit(vec![admitted.clone()])[0].is_ok());
        // Same signed body, another signature: the same id, not the transaction admitted.
        let forged = medledger_types::Transaction::from_parts(
            admitted.body().clone(),
            c.hospitals[1].key.sign(medledger_crypto::Namespace::Transaction, b"other"),
        );
        assert_eq!(forged.id(), admitted.id());
        let unseen = f.sign(&c.hospitals[0].key, issue(2));
        let mut bad = f.sign(&c.hospitals[0].key, issue(3)).encode().to_vec();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        let bad = medledger_types::Transaction::decode_untrusted(&bad).unwrap();
        let checks = chain.block_checks(&[admitted, forged, unseen, bad]);
        let signatures: Vec<bool> = checks.iter().map(|c| c.signature).collect();
        assert_eq!(signatures, [true, false, true, false]);
    }

    #[test]
    fn a_transaction_included_again_is_answered_by_its_first_inclusion() {
        let (c, genesis, chain) = at_genesis();
        let mut f = TxFactory::new(c.chain_id().clone(), 10);
        let bill_id = c.bill_id(0, 1);
        let patient = &c.patients[0];
        let issue =
            f.sign(&c.hospitals[0].key, c.issue(vec![bill(bill_id, patient.pseudonym, 100, 0)]));
        let payer = c.social_security.id.clone();
        let filed = f.sign(
            &patient.key,
            Payload::SubmitClaim {
                claim: claim(claim_id(1), &payer, patient.pseudonym, &[(bill_id, 60)]),
                consent: None,
            },
        );
        let settle = f.sign(
            &c.social_security.key,
            Payload::SettleClaim {
                claim_id: claim_id(1),
                approved: vec![medledger_types::Fen(60)],
                payment_reference: medledger_types::Text::new("PAY").unwrap(),
            },
        );
        // Two proposers held the settlement: it is included before its claim (refused), and
        // again after it. Inclusion is final: the second inclusion is `replayed`, with no effect.
        let mut parent = genesis.clone();
        for txs in [vec![issue, settle.clone()], vec![filed], vec![settle.clone()]] {
            let block = Block::child(
                &parent,
                parent.digest(),
                parent.timestamp_ms + 1,
                (0, genesis.state_root),
                txs,
            );
            assert!(chain.execute(&block, block.digest(), None));
            parent = block;
        }
        let executed = chain.executed();
        let answer = &executed.receipts[&settle.id()];
        assert_eq!((answer.height, answer.index), (1, 1));
        assert!(!answer.receipt.outcome.is_accepted(), "{:?}", answer.receipt);
        let again = &executed.other_inclusions[&(3, 0)];
        assert_eq!(again.outcome.code(), "replayed", "{again:?}");
        let claim = executed.state.claim(&claim_id(1)).expect("the claim");
        assert_eq!(claim.status, medledger_types::ClaimStatus::Locked);
    }

    #[test]
    fn a_block_delivered_twice_executes_once() {
        let (c, genesis, chain) = at_genesis();
        let mut f = TxFactory::new(c.chain_id().clone(), 10);
        let issue = f.sign(
            &c.hospitals[0].key,
            c.issue(vec![bill(c.bill_id(0, 1), c.patients[0].pseudonym, 100, 0)]),
        );
        let block = Block::child(
            &genesis,
            genesis.digest(),
            genesis.timestamp_ms + 1,
            (0, genesis.state_root),
            vec![issue.clone()],
        );
        assert!(chain.execute(&block, block.digest(), None));
        let root = chain.executed_root();
        assert!(!chain.execute(&block, block.digest(), None), "a redelivered block is skipped");
        assert_eq!(chain.executed_root(), root);
        let executed = chain.executed();
        assert_eq!(executed.receipts[&issue.id()].height, 1);
        assert_eq!(executed.bills_by_patient[&c.patients[0].pseudonym].len(), 1);
    }

    #[test]
    #[should_panic(expected = "finalized blocks arrive in order")]
    fn a_gap_in_heights_is_a_bug() {
        let (_, genesis, chain) = at_genesis();
        let mut skipped =
            Block::child(&genesis, genesis.digest(), 1, (0, genesis.state_root), vec![]);
        skipped.height = 2;
        chain.execute(&skipped, skipped.digest(), None);
    }
}
