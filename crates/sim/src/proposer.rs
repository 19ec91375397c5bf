//! The Byzantine proposer: one validator of a seed runs the real node, and whenever it leads a
//! view its proposal is malicious. The block is built, stamped and broadcast by the node's own
//! proposer (`App::propose`); the simulation only replaces the transactions that proposer
//! selected, through the hook `medledger_node::app::byzantine_proposer`. Its proposals take
//! turns among five kinds:
//!
//! | Kind | What the block carries | What honest validators must do |
//! |---|---|---|
//! | `replay` | its selection plus transactions included before: over-claims rejected earlier that would fit now (the claim in their way withdrawn or rejected) first, other rejected ones, accepted ones | vote for it (nothing in it is malformed); every re-inclusion answered `replayed`, with no effect |
//! | `foreign` | its selection plus a bill issuance a hospital signed for another chain and a transaction signed by a key no member holds | vote for it; answered `wrong_chain_id` and `unknown_signer`, no effect |
//! | `forged` | a forged copy of every transaction it selected (the same body, so the same id, signed by another key) and one transaction with a corrupted signature | refuse it (`App::verify`: a signature does not verify); the genuine transactions still commit later, never answered `replayed` |
//! | `oversized_txs` | `BLOCK_TXS_MAX + 1` transactions | refuse it: the block decoder does not even accept it |
//! | `oversized_bytes` | `BLOCK_BYTES_MAX + 1` bytes of transactions, within the network's message limit | refuse it (`App::verify`: too many bytes) |
//!
//! It knows what a validator knows: its mempool (the honest selection) and the finalized
//! blocks it executed, read back from its marshal as an attacker would keep them. Its own
//! transactions (the other chain's, the stranger's) are made up with keys the simulation
//! holds: a member's transactions for another network that shares its keys, and a key of the
//! proposer's own that no member holds.
//!
//! After the run, [`Proposer::account`] looks for each proposal on the honest chain (its
//! height and transaction root) and reads the answers its transactions got there.

use crate::Rng;
use commonware_codec::Encode as _;
use commonware_cryptography::ed25519;
use medledger_checker::foreign_chain_id;
use medledger_crypto::Namespace;
use medledger_ledger::StateReader as _;
use medledger_node::app::byzantine_proposer::{self, Draft};
use medledger_node::block::{BLOCK_BYTES_MAX, BLOCK_TXS_MAX, tx_root};
use medledger_testkit::{Consortium, TxFactory, bill};
use medledger_types::api::BlockTransactions;
use medledger_types::{Digest, Payload, SigningKey, Transaction, TxId};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

/// The kinds of malicious proposal.
const KINDS: [Kind; 5] =
    [Kind::Replay, Kind::Foreign, Kind::Forged, Kind::OversizedTxs, Kind::OversizedBytes];

/// The order they take turns in: replays, the point of issue 21, twice as often as the rest;
/// once the oversized ones reach their cap, replays take their turns too.
const TURNS: [Kind; 6] = [
    Kind::Replay,
    Kind::Foreign,
    Kind::Replay,
    Kind::Forged,
    Kind::OversizedTxs,
    Kind::OversizedBytes,
];

/// Oversized proposals of each kind per seed: each is megabytes the whole cluster moves and
/// hashes, and one shows as much as ten.
const OVERSIZED_PER_KIND_MAX: u64 = 2;

/// Re-included transactions per `replay` proposal, by what they were.
const REPLAY_WOULD_FIT_MAX: usize = 3;
const REPLAY_REJECTED_MAX: usize = 2;
const REPLAY_ACCEPTED_MAX: usize = 2;

/// Ciphertext bytes of the sealed body in each filler transaction of an `oversized_bytes`
/// proposal; the last filler is cut to size between the two (the body's length prefix has
/// three bytes for any length in between, so each byte of ciphertext is a byte of block).
const FILLER_BODY_BYTES: usize = 40_000;
const FILLER_BODY_BYTES_MIN: usize = 20_000;

/// Bill numbers the proposer's made-up issuances use, far from the workload's.
const OWN_BILLS_FIRST: u64 = 9_000_000;

/// How long the made-up transactions stay valid, in blocks.
const OWN_LIFETIME_BLOCKS: u64 = 200;

/// A kind of malicious proposal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Transactions included before, again.
    Replay,
    /// Transactions for another chain or by an unknown signer.
    Foreign,
    /// Forged copies of genuine transactions and a corrupted signature.
    Forged,
    /// One transaction more than a block may carry.
    OversizedTxs,
    /// One byte more than a block may carry.
    OversizedBytes,
}

impl Kind {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Replay => "replay",
            Kind::Foreign => "foreign",
            Kind::Forged => "forged",
            Kind::OversizedTxs => "oversized_txs",
            Kind::OversizedBytes => "oversized_bytes",
        }
    }

    /// Whether honest validators must refuse it (otherwise they vote for it).
    fn refused(self) -> bool {
        matches!(self, Kind::Forged | Kind::OversizedTxs | Kind::OversizedBytes)
    }
}

/// A transaction the proposer put into a block, and the answer it must get if finalized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Added {
    /// Accepted earlier.
    ReplayAccepted,
    /// Rejected earlier, for another reason than `over_claim`, or an over-claim still too big.
    ReplayRejected,
    /// An over-claim rejected earlier that would fit the bill now.
    ReplayWouldFit,
    /// Signed by a member for another chain.
    WrongChain,
    /// Signed by a key no member holds.
    UnknownSigner,
    /// A genuine transaction's body with another key's signature.
    ForgedCopy,
    /// A signature with a flipped byte.
    CorruptSignature,
}

impl Added {
    fn name(self) -> &'static str {
        match self {
            Added::ReplayAccepted => "replay_of_accepted",
            Added::ReplayRejected => "replay_of_rejected",
            Added::ReplayWouldFit => "replay_of_rejected_over_claim_that_would_fit",
            Added::WrongChain => "other_chain",
            Added::UnknownSigner => "unknown_signer",
            Added::ForgedCopy => "forged_copy",
            Added::CorruptSignature => "corrupt_signature",
        }
    }

    /// The answer it must get in a finalized block.
    fn expected(self) -> &'static str {
        match self {
            Added::ReplayAccepted | Added::ReplayRejected | Added::ReplayWouldFit => "replayed",
            Added::WrongChain => "wrong_chain_id",
            Added::UnknownSigner => "unknown_signer",
            Added::ForgedCopy | Added::CorruptSignature => "bad_signature",
        }
    }
}

/// One malicious proposal.
#[derive(Clone, Debug)]
struct Proposal {
    kind: Kind,
    view: u64,
    height: u64,
    tx_root: Digest,
    txs: usize,
    bytes: usize,
    /// Positions of the transactions the proposer added, and what they are.
    added: Vec<(usize, Added)>,
}

/// What the Byzantine proposer did in one seed, and what became of it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ProposerReport {
    /// The validator.
    pub validator: usize,
    /// Malicious proposals made, by kind.
    pub proposed: BTreeMap<String, u64>,
    /// Of them, finalized on the honest chain, by kind.
    pub finalized: BTreeMap<String, u64>,
    /// Transactions the proposer added to blocks that were finalized, by what they were, with
    /// the answers they got there.
    pub answers: BTreeMap<String, BTreeMap<String, u64>>,
    /// Genuine transactions whose forged copies were proposed.
    pub forged_genuine: u64,
    /// Of them, committed later (first inclusion accepted, or rejected for its own reasons).
    pub forged_genuine_committed: u64,
    /// Of them, accepted.
    pub forged_genuine_accepted: u64,
    /// The most transactions in one proposal (`oversized_txs`: `BLOCK_TXS_MAX + 1`).
    pub most_txs: usize,
    /// The most bytes of transactions in one proposal (`oversized_bytes`: `BLOCK_BYTES_MAX +
    /// 1`).
    pub most_bytes: usize,
    /// What must not happen: a refused kind finalized, a malicious transaction answered
    /// otherwise than expected (so possibly with effect), a genuine transaction censored by
    /// its forged copy.
    pub violations: Vec<String>,
}

impl ProposerReport {
    /// Finalized transactions the proposer added, answered `code`.
    pub fn answered(&self, code: &str) -> u64 {
        self.answers.values().filter_map(|codes| codes.get(code)).sum()
    }

    /// One line: made/finalized by kind, then the answers.
    pub fn line(&self) -> String {
        let kinds: Vec<String> = KINDS
            .iter()
            .map(|k| {
                let made = self.proposed.get(k.name()).copied().unwrap_or(0);
                let finalized = self.finalized.get(k.name()).copied().unwrap_or(0);
                format!("{} {made}/{finalized}", k.name())
            })
            .collect();
        let answers: Vec<String> = self
            .answers
            .iter()
            .map(|(what, codes)| {
                let codes: Vec<String> = codes.iter().map(|(c, n)| format!("{c} {n}")).collect();
                format!("{what}: {}", codes.join(", "))
            })
            .collect();
        format!(
            "proposals made/finalized {} (at most {} transactions, {} bytes); in finalized \
             blocks {}; forged copies of {} genuine transactions, {} committed later ({} \
             accepted)",
            kinds.join(" "),
            self.most_txs,
            self.most_bytes,
            if answers.is_empty() { "nothing added".to_string() } else { answers.join("; ") },
            self.forged_genuine,
            self.forged_genuine_committed,
            self.forged_genuine_accepted,
        )
    }
}

/// The proposer's memory and its made-up transactions.
pub(crate) struct Proposer {
    index: usize,
    rng: Rng,
    turn: usize,
    consortium: Arc<Consortium>,
    /// Signs for another chain.
    other_chain: TxFactory,
    /// Signs for this chain, with `stranger`.
    own: TxFactory,
    /// A key no member holds.
    stranger: SigningKey,
    own_bills: u64,
    /// Full-size filler transactions for `oversized_bytes`, made once.
    filler: Vec<Transaction>,
    /// Every transaction in a finalized block this validator executed, first inclusions in
    /// chain order, with the code of the answer it got.
    included: Vec<(Transaction, String)>,
    included_ids: HashSet<TxId>,
    /// The last height read from its marshal.
    pub(crate) watched: u64,
    proposals: Vec<Proposal>,
    oversized: BTreeMap<Kind, u64>,
    /// Genuine transactions whose forged copies were proposed, each once.
    forged: Vec<TxId>,
    forged_ids: HashSet<TxId>,
    /// Proposals that came out otherwise than intended (a bug of this harness).
    errors: Vec<String>,
}

impl Proposer {
    /// The proposer of validator `index` in seed `seed`.
    pub(crate) fn new(index: usize, seed: u64, consortium: Arc<Consortium>) -> Self {
        let mut rng = Rng(seed ^ 0x6279_7a61_6e74_696e);
        let turn = rng.index(TURNS.len());
        let chain = consortium.chain_id().clone();
        Self {
            index,
            rng,
            turn,
            other_chain: TxFactory::new(foreign_chain_id(&chain), 0),
            own: TxFactory::new(chain, 0),
            stranger: SigningKey::from_label(&format!("byzantine-proposer-{seed}")),
            consortium,
            own_bills: 0,
            filler: Vec::new(),
            included: Vec::new(),
            included_ids: HashSet::new(),
            watched: 0,
            proposals: Vec::new(),
            oversized: BTreeMap::new(),
            forged: Vec::new(),
            forged_ids: HashSet::new(),
            errors: Vec::new(),
        }
    }

    /// Installs the hook that makes validator `key` propose through `proposer`, on this
    /// thread (the simulation's).
    pub(crate) fn install(proposer: Arc<Mutex<Self>>, key: ed25519::PublicKey) {
        byzantine_proposer::set(Some(Box::new(move |draft: Draft<'_>, txs| {
            if *draft.leader != key {
                return txs;
            }
            proposer.lock().expect("not poisoned").propose(&draft, txs)
        })));
    }

    /// Records a finalized block this validator executed.
    pub(crate) fn saw(&mut self, block: BlockTransactions) {
        for (tx, receipt) in block.txs.into_iter().zip(block.receipts) {
            if self.included_ids.insert(tx.id()) {
                self.included.push((tx, receipt.outcome.code()));
            }
        }
        self.watched = block.height;
    }

    fn next_kind(&mut self) -> Kind {
        for _ in 0..TURNS.len() {
            let kind = TURNS[self.turn % TURNS.len()];
            self.turn += 1;
            let used = self.oversized.get(&kind).copied().unwrap_or(0);
            if !matches!(kind, Kind::OversizedTxs | Kind::OversizedBytes)
                || used < OVERSIZED_PER_KIND_MAX
            {
                return kind;
            }
        }
        Kind::Replay
    }

    /// The malicious version of `txs`, the honest selection for `draft`.
    fn propose(&mut self, draft: &Draft<'_>, txs: Vec<Transaction>) -> Vec<Transaction> {
        let mut kind = self.next_kind();
        let mut added = Vec::new();
        let mut txs = txs;
        if kind == Kind::Replay && !self.replay(draft, &mut txs, &mut added) {
            // Nothing included yet to replay.
            kind = Kind::Foreign;
        }
        match kind {
            Kind::Replay => {}
            Kind::Foreign => self.foreign(draft, &mut txs, &mut added),
            Kind::Forged => self.forge(draft, &mut txs, &mut added),
            Kind::OversizedTxs => self.pad_count(draft, &mut txs),
            Kind::OversizedBytes => self.pad_bytes(draft, &mut txs),
        }
        if matches!(kind, Kind::OversizedTxs | Kind::OversizedBytes) {
            *self.oversized.entry(kind).or_default() += 1;
        }
        let bytes = txs.iter().map(commonware_codec::EncodeSize::encode_size).sum();
        // Over exactly one limit, by exactly one, and never beyond what a network message holds
        // (else the simulation tests something else than it says: a failure of the seed).
        let exact = match kind {
            Kind::OversizedTxs => txs.len() == BLOCK_TXS_MAX + 1 && bytes <= BLOCK_BYTES_MAX,
            Kind::OversizedBytes => bytes == BLOCK_BYTES_MAX + 1,
            _ => true,
        };
        if !exact {
            self.errors.push(format!(
                "the {} proposal at view {} has {} transactions, {bytes} bytes",
                kind.name(),
                draft.view,
                txs.len()
            ));
        }
        self.proposals.push(Proposal {
            kind,
            view: draft.view,
            height: draft.height,
            tx_root: tx_root(&txs),
            txs: txs.len(),
            bytes,
            added,
        });
        txs
    }

    /// Puts transactions included before at the front of `txs`; false if there are none.
    fn replay(
        &mut self,
        draft: &Draft<'_>,
        txs: &mut Vec<Transaction>,
        added: &mut Vec<(usize, Added)>,
    ) -> bool {
        let (mut would_fit, mut rejected, mut accepted) = (Vec::new(), Vec::new(), Vec::new());
        {
            let executed = draft.chain.executed();
            let state = &executed.state;
            for (i, (tx, code)) in self.included.iter().enumerate() {
                match code.as_str() {
                    "accepted" => accepted.push(i),
                    // Never remembered by the ledger (not genuinely for this chain, or
                    // forged): including them again is not a replay.
                    "wrong_chain_id" | "bad_signature" | "expired" | "expiry_too_far" => {}
                    "over_claim" if fits_now(state, tx) => would_fit.push(i),
                    _ => rejected.push(i),
                }
            }
        }
        let mut picked = Vec::new();
        for (pool, max, what) in [
            (&mut would_fit, REPLAY_WOULD_FIT_MAX, Added::ReplayWouldFit),
            (&mut rejected, REPLAY_REJECTED_MAX, Added::ReplayRejected),
            (&mut accepted, REPLAY_ACCEPTED_MAX, Added::ReplayAccepted),
        ] {
            for _ in 0..max {
                if pool.is_empty() {
                    break;
                }
                let i = pool.swap_remove(self.rng.index(pool.len()));
                picked.push((self.included[i].0.clone(), what));
            }
        }
        if picked.is_empty() {
            return false;
        }
        let honest = std::mem::take(txs);
        for (position, (tx, what)) in picked.into_iter().enumerate() {
            added.push((position, what));
            txs.push(tx);
        }
        txs.extend(honest);
        true
    }

    /// Adds a hospital's issuance signed for another chain and a stranger's transaction.
    fn foreign(
        &mut self,
        draft: &Draft<'_>,
        txs: &mut Vec<Transaction>,
        added: &mut Vec<(usize, Added)>,
    ) {
        let c = self.consortium.clone();
        let hospital = self.rng.index(c.hospitals.len());
        let patient = &c.patients[self.rng.index(c.patients.len())];
        self.own_bills += 1;
        let id = c.bill_id(hospital, OWN_BILLS_FIRST + self.own_bills);
        let amount = self.rng.between(1_000, 20_000);
        self.other_chain.expires_at_height = draft.height + OWN_LIFETIME_BLOCKS;
        let other = self.other_chain.sign(
            &c.hospitals[hospital].key,
            c.issue(vec![bill(id, patient.pseudonym, amount, 0)]),
        );
        let stranger = self.stranger_tx(draft.height);
        added.push((txs.len(), Added::WrongChain));
        txs.push(other);
        added.push((txs.len(), Added::UnknownSigner));
        txs.push(stranger);
    }

    /// Replaces every transaction with a forged copy and adds one with a corrupted signature.
    fn forge(
        &mut self,
        draft: &Draft<'_>,
        txs: &mut Vec<Transaction>,
        added: &mut Vec<(usize, Added)>,
    ) {
        for (position, tx) in txs.iter_mut().enumerate() {
            let signature = self.stranger.sign(Namespace::Transaction, tx.signed_bytes());
            let forged = Transaction::from_parts(tx.body().clone(), signature);
            if self.forged_ids.insert(tx.id()) {
                self.forged.push(tx.id());
            }
            *tx = forged;
            added.push((position, Added::ForgedCopy));
        }
        let mut bytes = self.stranger_tx(draft.height).encode().to_vec();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        let corrupt = Transaction::decode_untrusted(&bytes).expect("only the signature changed");
        added.push((txs.len(), Added::CorruptSignature));
        txs.push(corrupt);
    }

    /// Pads `txs` with copies of one small transaction to one more than a block may carry,
    /// within the byte limit (so that only the count is wrong, and the block still fits a
    /// network message): the smallest it selected if that fits (it is in the mempool, so
    /// the proposer's own signature check is free), else a stranger's.
    fn pad_count(&mut self, draft: &Draft<'_>, txs: &mut Vec<Transaction>) {
        let size = |tx: &Transaction| commonware_codec::EncodeSize::encode_size(tx);
        let have: usize = txs.iter().map(size).sum();
        let missing = (BLOCK_TXS_MAX + 1).saturating_sub(txs.len());
        let fits = |tx: &Transaction| have + missing * size(tx) <= BLOCK_BYTES_MAX;
        let pad = match txs.iter().min_by_key(|tx| size(tx)) {
            Some(tx) if fits(tx) => tx.clone(),
            _ => self.stranger_tx(draft.height),
        };
        txs.extend(std::iter::repeat_n(pad, missing));
    }

    /// Adds filler transactions (a stranger's issuances with large sealed bodies) up to one
    /// byte more than a block may carry.
    fn pad_bytes(&mut self, draft: &Draft<'_>, txs: &mut Vec<Transaction>) {
        let size = |tx: &Transaction| commonware_codec::EncodeSize::encode_size(tx);
        let have: usize = txs.iter().map(size).sum();
        let Some(mut need) = (BLOCK_BYTES_MAX + 1).checked_sub(have) else { return };
        let smallest = size(&self.filler_tx(draft.height, FILLER_BODY_BYTES_MIN));
        let mut used = 0;
        while need >= smallest + FILLER_BODY_BYTES {
            if used == self.filler.len() {
                let tx = self.filler_tx(draft.height, FILLER_BODY_BYTES);
                self.filler.push(tx);
            }
            let tx = self.filler[used].clone();
            used += 1;
            need -= size(&tx);
            txs.push(tx);
        }
        if need < smallest {
            // The selection alone left less room than the smallest filler (never in the
            // simulation's workload): the block is oversized anyway, by a little more.
            need = smallest;
        }
        // The last filler is cut to the bytes left. Its nonce and expiry may encode a byte
        // longer or shorter than the smallest filler's, so measure and correct.
        let mut body_bytes = FILLER_BODY_BYTES_MIN + (need - smallest);
        let mut last = self.filler_tx(draft.height, body_bytes);
        for _ in 0..4 {
            let got = size(&last);
            if got == need {
                break;
            }
            body_bytes = (body_bytes + need).saturating_sub(got);
            last = self.filler_tx(draft.height, body_bytes);
        }
        txs.push(last);
    }

    /// A transaction signed for this chain by a key no member holds.
    fn stranger_tx(&mut self, height: u64) -> Transaction {
        self.own.expires_at_height = height + OWN_LIFETIME_BLOCKS;
        let member = self.consortium.insurers[0].id.clone();
        self.own.sign(&self.stranger, Payload::FreezeMember { member })
    }

    /// A stranger's issuance of one bill whose sealed body has `body_bytes` of ciphertext.
    fn filler_tx(&mut self, height: u64, body_bytes: usize) -> Transaction {
        let c = self.consortium.clone();
        let patient = c.patients[0].pseudonym;
        let mut payload = c.issue(vec![bill(c.bill_id(0, OWN_BILLS_FIRST), patient, 1_000, 0)]);
        if let Payload::IssueBills { bodies, .. } = &mut payload {
            bodies[0].ciphertext = vec![0x5a; body_bytes];
        }
        self.own.expires_at_height = height + OWN_LIFETIME_BLOCKS;
        self.own.sign(&self.stranger, payload)
    }

    /// What became of the proposals, read from `chain`, the longest honest chain.
    pub(crate) fn account(&self, chain: &[BlockTransactions]) -> ProposerReport {
        let mut report = ProposerReport {
            validator: self.index,
            violations: self.errors.clone(),
            ..ProposerReport::default()
        };
        for proposal in &self.proposals {
            let kind = proposal.kind.name();
            *report.proposed.entry(kind.to_string()).or_default() += 1;
            report.most_txs = report.most_txs.max(proposal.txs);
            report.most_bytes = report.most_bytes.max(proposal.bytes);
            let at = usize::try_from(proposal.height).ok().and_then(|h| h.checked_sub(1));
            let Some(block) = at.and_then(|at| chain.get(at)) else { continue };
            if tx_root(&block.txs) != proposal.tx_root {
                continue;
            }
            *report.finalized.entry(kind.to_string()).or_default() += 1;
            if proposal.kind.refused() {
                report.violations.push(format!(
                    "a {kind} proposal (view {}, {} transactions, {} bytes) was finalized at \
                     height {}",
                    proposal.view, proposal.txs, proposal.bytes, proposal.height
                ));
            }
            for &(position, what) in &proposal.added {
                let Some(receipt) = block.receipts.get(position) else { continue };
                let code = receipt.outcome.code();
                *report
                    .answers
                    .entry(what.name().to_string())
                    .or_default()
                    .entry(code.clone())
                    .or_default() += 1;
                if code != what.expected() {
                    report.violations.push(format!(
                        "height {}: a {} transaction {} was answered {code}, not {}",
                        proposal.height,
                        what.name(),
                        receipt.tx_id,
                        what.expected()
                    ));
                }
            }
        }
        // A forged copy must never stand in for the genuine transaction: its first inclusion on
        // the honest chain is its own answer, never `replayed` (nor `bad_signature`: the
        // genuine one is correctly signed).
        let mut first: BTreeMap<TxId, String> = BTreeMap::new();
        let forged: HashSet<TxId> = self.forged.iter().copied().collect();
        for block in chain {
            for (tx, receipt) in block.txs.iter().zip(&block.receipts) {
                if forged.contains(&tx.id()) && !first.contains_key(&tx.id()) {
                    first.insert(tx.id(), receipt.outcome.code());
                }
            }
        }
        report.forged_genuine = self.forged.len() as u64;
        for (id, code) in &first {
            report.forged_genuine_committed += 1;
            report.forged_genuine_accepted += u64::from(code == "accepted");
            if code == "replayed" || code == "bad_signature" {
                report.violations.push(format!(
                    "transaction {id}, whose forged copy was proposed, was answered {code} at \
                     its first inclusion"
                ));
            }
        }
        report
    }
}

/// Bill numbers of [`would_fit_steps`] (the second demo hospital's), far from the workload's.
const WOULD_FIT_BILLS_FIRST: u64 = 8_000_000;

/// Round `round` of the scenario a Byzantine proposer feeds on, for a cluster of `nodes` honest
/// validators: the second hospital issues a bill; the patient claims 60 % of it from the social
/// security bureau, then 50 % from the first insurer (`over_claim`: the first claim holds the
/// bill), then withdraws the first claim. The over-claim would fit now; included again it must
/// be `replayed`. Each step goes to one node, in turn.
pub(crate) fn would_fit_steps(
    c: &Consortium,
    round: u64,
    expires_at_height: u64,
    nodes: usize,
) -> Vec<medledger_checker::Step> {
    use medledger_checker::OpKind;
    let mut factory = TxFactory::new(c.chain_id().clone(), expires_at_height);
    let patient = &c.patients[usize::try_from(round).unwrap_or(0) % c.patients.len()];
    let bill_id = c.bill_id(1, WOULD_FIT_BILLS_FIRST + round);
    let patient_pay = 10_000 + round % 7 * 1_000;
    let claim_id = |n: u8| {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(b"wouldfit");
        id[8..15].copy_from_slice(&round.to_be_bytes()[1..]);
        id[15] = n;
        medledger_types::ClaimId(id)
    };
    let submit = |n: u8, payer: &medledger_types::MemberId, amount: u64| Payload::SubmitClaim {
        claim: medledger_testkit::claim(
            claim_id(n),
            payer,
            patient.pseudonym,
            &[(bill_id, amount)],
        ),
        consent: None,
    };
    let issue = c.issue(vec![bill(bill_id, patient.pseudonym, patient_pay, 0)]);
    let steps = [
        factory.sign(&c.hospitals[1].key, issue),
        factory.sign(&patient.key, submit(1, &c.social_security.id, patient_pay * 6 / 10)),
        factory.sign(&patient.key, submit(2, &c.insurers[0].id, patient_pay / 2)),
        factory.sign(&patient.key, Payload::WithdrawClaim { claim_id: claim_id(1), consent: None }),
    ];
    let first = usize::try_from(round).unwrap_or(0);
    steps
        .into_iter()
        .enumerate()
        .map(|(i, tx)| medledger_checker::Step {
            what: OpKind::of(&tx.body().payload),
            tx,
            send_to: vec![(first + i) % nodes],
            retry_of: None,
        })
        .collect()
}

/// Whether the over-claim `tx` would fit its bills now: each unvoided, with at least the
/// requested amount neither reserved nor reimbursed, and its claim id unused.
fn fits_now(state: &medledger_ledger::MemoryState, tx: &Transaction) -> bool {
    let Payload::SubmitClaim { claim, .. } = &tx.body().payload else { return false };
    state.claim(&claim.claim_id).is_none()
        && claim.items.iter().all(|item| {
            state.bill(&item.bill).is_some_and(|b| {
                !b.is_voided() && b.reserved.0 + b.reimbursed.0 + item.amount.0 <= b.claimable().0
            })
        })
}
