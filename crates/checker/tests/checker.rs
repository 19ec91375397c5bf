//! The checker against chains built by the real ledger: a clean run passes, and each planted
//! fault is caught by the property meant to catch it.

use medledger_checker::check::{ConservationKind, OverKind, Source};
use medledger_checker::{
    History, OpKind, OpResult, Report, Step, WorkloadConfig, check, foreign_chain_id, generate,
};
use medledger_crypto::{Domain, hash};
use medledger_ledger::{BlockContext, MemoryState, execute_block};
use medledger_testkit::{Consortium, TxFactory, bill, claim, claim_id};
use medledger_types::api::BlockTransactions;
use medledger_types::{
    Digest, Effect, Fen, Outcome, Payload, Receipt, Rejection, Text, Transaction, TxId,
};
use std::collections::{HashMap, HashSet};

const BLOCK_TIME_MS: u64 = 100;
const NODES: usize = 3;

fn consortium() -> Consortium {
    Consortium::demo("medledger-checker-test", 4)
}

/// Runs `blocks` through the real ledger, as every honest node would. Digests and state roots
/// are stand-ins derived from the contents (all the checker compares); as in the node, block
/// `h` carries the state root of height `h - 1`.
fn run(c: &Consortium, blocks: &[Vec<Transaction>]) -> Vec<BlockTransactions> {
    let mut state = MemoryState::from_genesis(&c.genesis).expect("demo genesis is valid");
    let mut chain: Vec<BlockTransactions> = Vec::new();
    let mut parent = hash(Domain::Genesis, &[c.chain_id().as_str().as_bytes()]).to_hex();
    let mut root = hash(Domain::StateRoot, &[b"genesis"]);
    for (height, txs) in (1u64..).zip(blocks) {
        let timestamp_ms = c.genesis.genesis_time_ms + height * BLOCK_TIME_MS;
        let ctx = BlockContext { height, timestamp_ms };
        let receipts = execute_block(&mut state, &ctx, txs);
        state.audit().expect("ledger invariants hold");
        let height_bytes = height.to_be_bytes();
        let mut parts: Vec<&[u8]> = vec![parent.as_bytes(), &height_bytes];
        parts.extend(txs.iter().map(|tx| tx.signed_bytes()));
        let digest = hash(Domain::BlockDigest, &parts).to_hex();
        chain.push(BlockTransactions {
            height,
            digest: digest.clone(),
            parent,
            timestamp_ms,
            executed_height: height - 1,
            state_root: root,
            txs: txs.clone(),
            receipts: receipts.clone(),
            redacted: false,
        });
        let results = serde_json::to_vec(&receipts).expect("receipts serialize");
        root = hash(Domain::StateRoot, &[&root.0, &results]);
        parent = digest;
    }
    chain
}

/// The workload's distinct transactions in the order first sent, `per_block` to a block: what
/// a cluster whose mempools deduplicate would commit.
fn blocks_of(steps: &[Step], per_block: usize) -> Vec<Vec<Transaction>> {
    let mut seen = HashSet::new();
    let distinct: Vec<Transaction> =
        steps.iter().filter(|s| seen.insert(s.tx.id())).map(|s| s.tx.clone()).collect();
    distinct.chunks(per_block).map(<[Transaction]>::to_vec).collect()
}

/// The receipt each transaction of `chain` got first.
fn receipts_of(chain: &[BlockTransactions]) -> HashMap<TxId, Receipt> {
    let mut receipts = HashMap::new();
    for r in chain.iter().flat_map(|b| &b.receipts) {
        receipts.entry(r.tx_id).or_insert_with(|| r.clone());
    }
    receipts
}

/// A history in which every step was sent to its nodes and acknowledged with the receipt
/// `chain` gives it.
fn acknowledged(steps: &[Step], chain: &[BlockTransactions]) -> History {
    let receipts = receipts_of(chain);
    let history = History::new();
    for (at_ms, step) in (0u64..).zip(steps) {
        for &node in &step.send_to {
            let op = history.invoke(step.tx.id(), node, at_ms, step.what.clone());
            let receipt = receipts[&step.tx.id()].clone();
            history.complete(op, at_ms + 1, OpResult::Ok(receipt));
        }
    }
    history
}

/// Each transaction of `blocks` as a step sent to node 0.
fn steps_of(blocks: &[Vec<Transaction>]) -> Vec<Step> {
    blocks
        .iter()
        .flatten()
        .map(|tx| Step {
            tx: tx.clone(),
            what: OpKind::of(&tx.body().payload),
            send_to: vec![0],
            retry_of: None,
        })
        .collect()
}

fn assert_counts(
    report: &Report,
    lost: usize,
    over: usize,
    diverged: usize,
    conservation: usize,
    model: usize,
) {
    let got = (
        report.lost.len(),
        report.over_reimbursed.len(),
        report.divergences.len(),
        report.conservation.len(),
        report.model_mismatches.len(),
    );
    assert_eq!(got, (lost, over, diverged, conservation, model), "(P1, P2, P3, P4, P5)\n{report}");
}

/// A short story on one bill of 100.00 patient-pay:
///
/// - height 1: the bill is issued;
/// - height 2: social security claims 60.00 (accepted), Ping Health 40.01 (`over_claim`), then
///   40.00 under another claim id (accepted);
/// - height 3: social security settles its claim (accepted) and again re-signed
///   (`claim_already_settled`); Ping Health settles 30.00 of its 40.00 (accepted).
struct Story {
    c: Consortium,
    blocks: Vec<Vec<Transaction>>,
}

const SOCIAL: u64 = 1;
const OVER: u64 = 2;
const EXACT: u64 = 3;

impl Story {
    fn new() -> Self {
        let c = consortium();
        let mut f = TxFactory::new(c.chain_id().clone(), 1_000);
        let p = &c.patients[0];
        let b = c.bill_id(0, 1);
        let submit =
            |f: &mut TxFactory, id: u64, payer: &medledger_types::MemberId, amount: u64| {
                let sub = claim(claim_id(id), payer, p.pseudonym, &[(b, amount)]);
                f.sign(&p.key, Payload::SubmitClaim { claim: sub, consent: None })
            };
        let settle = |id: u64, amount: u64| Payload::SettleClaim {
            claim_id: claim_id(id),
            approved: vec![Fen(amount)],
            payment_reference: Text::new(format!("REF-{id}")).expect("valid text"),
        };
        let blocks = vec![
            vec![f.sign(&c.hospitals[0].key, c.issue(vec![bill(b, p.pseudonym, 10_000, 5_000)]))],
            vec![
                submit(&mut f, SOCIAL, &c.social_security.id, 6_000),
                submit(&mut f, OVER, &c.insurers[0].id, 4_001),
                submit(&mut f, EXACT, &c.insurers[0].id, 4_000),
            ],
            vec![
                f.sign(&c.social_security.key, settle(SOCIAL, 6_000)),
                f.sign(&c.social_security.key, settle(SOCIAL, 6_000)),
                f.sign(&c.insurers[0].key, settle(EXACT, 3_000)),
            ],
        ];
        Self { c, blocks }
    }

    /// The real chain, on every node.
    fn chains(&self) -> Vec<Vec<BlockTransactions>> {
        let chain = run(&self.c, &self.blocks);
        let codes: Vec<String> =
            chain.iter().flat_map(|b| &b.receipts).map(|r| r.outcome.code()).collect();
        assert_eq!(
            codes,
            [
                "accepted",
                "accepted",
                "over_claim",
                "accepted",
                "accepted",
                "claim_already_settled",
                "accepted"
            ],
            "the story's chain"
        );
        vec![chain; NODES]
    }

    /// Every transaction sent to node 0 and acknowledged with `chain`'s receipt.
    fn history(&self, chain: &[BlockTransactions]) -> History {
        acknowledged(&steps_of(&self.blocks), chain)
    }

    fn check(&self, chains: &[Vec<BlockTransactions>], history: &History) -> Report {
        check(&self.c.genesis, chains, history)
    }
}

/// Replaces the receipt of the transaction at `height`, `index` on every chain.
fn tamper_everywhere(
    chains: &mut [Vec<BlockTransactions>],
    height: usize,
    index: usize,
    outcome: Outcome,
) {
    for chain in chains {
        chain[height - 1].receipts[index].outcome = outcome.clone();
    }
}

#[test]
fn clean_run_of_three_identical_chains_has_no_violations() {
    let c = consortium();
    let steps = generate(&c, &WorkloadConfig::new(7, NODES));
    let blocks = blocks_of(&steps, 5);
    let chain = run(&c, &blocks);
    let history = acknowledged(&steps, &chain);
    let report = check(&c.genesis, &vec![chain.clone(); NODES], &history);
    assert_eq!(report.violations(), 0, "{report}");
    let height = u64::try_from(blocks.len()).expect("fits");
    assert_eq!(report.heights, vec![height; NODES]);
    assert_eq!(report.nodes, NODES);
    let sends: usize = steps.iter().map(|s| s.send_to.len()).sum();
    assert_eq!((report.ops, report.ok, report.fail, report.unknown), (sends, sends, 0, 0));
    assert_eq!(report.committed_txs, blocks.iter().map(Vec::len).sum::<usize>());
    assert_eq!(report.longest_commit_gap_ms, BLOCK_TIME_MS);
    assert_eq!(report.repeated_txs, vec![0; NODES]);
    // The contention shows in the ledger's answers.
    // The foreign transactions are refused by the ledger too (an honest node refuses them
    // before any block; here the stand-in cluster commits every step).
    for code in
        ["accepted", "over_claim", "duplicate_claim", "claim_already_settled", "wrong_chain_id"]
    {
        assert!(report.outcomes.get(code).is_some_and(|&n| n > 0), "no {code}: {report}");
    }
    let text = report.to_string();
    for line in [
        "P1 no lost commit",
        "P2 no over-reimbursement",
        "P3 agreement",
        "P4 conservation",
        "P5 model match",
        "violations: 0",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}

#[test]
fn chains_read_back_from_json_check_the_same() {
    let c = consortium();
    let steps = generate(&c, &WorkloadConfig { rounds: 3, ..WorkloadConfig::new(11, NODES) });
    let chain = run(&c, &blocks_of(&steps, 4));
    let history = acknowledged(&steps, &chain);
    let json = serde_json::to_string(&vec![chain; NODES]).expect("serializes");
    let chains: Vec<Vec<BlockTransactions>> = serde_json::from_str(&json).expect("parses");
    let history = History::from_json(&history.to_json()).expect("parses");
    let report = check(&c.genesis, &chains, &history);
    assert_eq!(report.violations(), 0, "{report}");
    assert!(report.to_json().contains("\"model_mismatches\""));
}

#[test]
fn workload_is_deterministic_and_contended() {
    let c = consortium();
    let config = WorkloadConfig { rounds: 12, ..WorkloadConfig::new(42, 4) };
    let ids = |steps: &[Step]| -> Vec<(TxId, Vec<usize>, Option<usize>)> {
        steps.iter().map(|s| (s.tx.id(), s.send_to.clone(), s.retry_of)).collect()
    };
    let steps = generate(&c, &config);
    assert_eq!(ids(&steps), ids(&generate(&c, &config)), "same seed, same steps");
    assert_ne!(ids(&steps), ids(&generate(&c, &WorkloadConfig { seed: 43, ..config.clone() })));
    assert!(steps.iter().all(|s| !s.send_to.is_empty() && s.send_to.iter().all(|&n| n < 4)));
    assert!(steps.iter().any(|s| s.send_to.len() == 2), "one transaction sent to two nodes");
    let resent = steps.iter().any(|s| s.retry_of.is_some_and(|i| steps[i].tx.id() == s.tx.id()));
    assert!(resent, "an exact resend");
    let resigned = steps.iter().any(|s| {
        s.retry_of.is_some_and(|i| {
            steps[i].tx.id() != s.tx.id()
                && matches!(&s.what, OpKind::SubmitClaim { .. })
                && steps[i].what == s.what
        })
    });
    assert!(resigned, "a claim re-signed under the same claim id");
    assert!(steps.iter().all(|s| s.retry_of.is_none_or(|i| i < steps.len())));
    // Several payers claim the same bill.
    let mut payers: HashMap<medledger_types::BillId, HashSet<String>> = HashMap::new();
    for s in &steps {
        if let OpKind::SubmitClaim { payer, items, .. } = &s.what {
            for (bill, _) in items {
                payers.entry(*bill).or_default().insert(payer.to_string());
            }
        }
    }
    assert!(payers.values().any(|p| p.len() >= 3), "three payers on one bill");
    // Some transactions are signed for another chain: claims and issuances.
    let other = foreign_chain_id(c.chain_id());
    assert_ne!(&other, c.chain_id());
    let foreign: Vec<&Step> = steps.iter().filter(|s| s.tx.body().chain_id == other).collect();
    assert!(foreign.iter().any(|s| matches!(s.what, OpKind::SubmitClaim { .. })), "a claim");
    assert!(foreign.iter().any(|s| matches!(s.what, OpKind::Issue { .. })), "an issuance");
    assert!(foreign.len() < steps.len() / 10, "a few: {} of {}", foreign.len(), steps.len());
    let ours = |s: &&Step| s.tx.body().chain_id == other || &s.tx.body().chain_id == c.chain_id();
    assert!(steps.iter().all(|s| ours(&s)));
    // The foreign id fits an identifier whatever the chain's own id.
    let long = medledger_types::ChainId::new("a".repeat(32)).expect("valid");
    assert_eq!(foreign_chain_id(&long).as_str(), format!("{}-foreign", "a".repeat(24)));
}

#[test]
fn dropped_acknowledged_tx_is_a_lost_commit() {
    let story = Story::new();
    let mut chains = story.chains();
    let history = story.history(&chains[0]);
    // Node 1 lost Ping Health's settlement (the last transaction of height 3).
    let dropped = chains[1][2].txs.pop().expect("a transaction").id();
    chains[1][2].receipts.pop();
    let report = story.check(&chains, &history);
    // P1, and P3 because node 1's block at height 3 is not the others'.
    assert_counts(&report, 1, 0, 1, 0, 0);
    let lost = &report.lost[0];
    assert_eq!((lost.node, lost.tx_id, &lost.on_chain), (1, dropped, &None));
    assert_eq!(report.divergences[0].differs, ["txs", "receipts"]);
}

#[test]
fn node_that_lost_its_last_block_misses_acknowledged_commits_without_diverging() {
    let story = Story::new();
    let mut chains = story.chains();
    let history = story.history(&chains[0]);
    chains[2].pop();
    let report = story.check(&chains, &history);
    // A node behind is not a divergence, but what was acknowledged must be on it.
    assert_counts(&report, 3, 0, 0, 0, 0);
    assert!(report.lost.iter().all(|l| l.node == 2 && l.on_chain.is_none()));
    assert_eq!(report.heights, [3, 3, 2]);
}

#[test]
fn acknowledged_before_commit_is_a_lost_commit_on_every_node() {
    let story = Story::new();
    let chains = story.chains();
    let history = story.history(&chains[0]);
    // A node acknowledged a claim that no block holds.
    let c = &story.c;
    let p = &c.patients[1];
    let sub = claim(claim_id(99), &c.insurers[1].id, p.pseudonym, &[(c.bill_id(0, 1), 100)]);
    let tx = TxFactory::new(c.chain_id().clone(), 1_000)
        .sign(&p.key, Payload::SubmitClaim { claim: sub, consent: None });
    let op = history.invoke(tx.id(), 0, 100, OpKind::of(&tx.body().payload));
    let effect = Effect::ClaimLocked { claim_id: claim_id(99), reserved: Fen(100) };
    let receipt = Receipt { tx_id: tx.id(), outcome: Outcome::Accepted(effect) };
    history.complete(op, 101, OpResult::Ok(receipt));
    let report = story.check(&chains, &history);
    assert_counts(&report, NODES, 0, 0, 0, 0);
    assert!(report.lost.iter().all(|l| l.op == op && l.on_chain.is_none()));
}

#[test]
fn changed_state_root_is_a_divergence() {
    let story = Story::new();
    let mut chains = story.chains();
    let history = story.history(&chains[0]);
    chains[1][1].state_root = Digest([0xab; 32]);
    let report = story.check(&chains, &history);
    assert_counts(&report, 0, 0, 1, 0, 0);
    let divergence = &report.divergences[0];
    assert_eq!((divergence.height, divergence.node, divergence.reference_node), (2, 1, 0));
    assert_eq!(divergence.differs, ["state_root"]);
    assert!(report.to_string().contains("height 2: node 1 differs from node 0 in state_root"));

    // A chain whose block 3 commits to height 1 with another root than block 2 did.
    let mut chain = story.chains().remove(0);
    chain[2].executed_height = 1;
    let report = story.check(&[chain], &history);
    assert_counts(&report, 0, 0, 1, 0, 0);
    let divergence = &report.divergences[0];
    assert_eq!((divergence.height, divergence.node, divergence.reference_node), (3, 0, 0));
}

#[test]
fn receipt_the_model_disagrees_with_is_a_model_mismatch() {
    let story = Story::new();
    let mut chains = story.chains();
    // Every node gives the over-claim a wrong reason (a shared bug in the ledger), and so
    // acknowledges it to the client.
    let wrong = Rejection::DuplicateClaim { claim_id: claim_id(OVER) };
    tamper_everywhere(&mut chains, 2, 1, Outcome::Rejected(wrong));
    let history = story.history(&chains[0]);
    let report = story.check(&chains, &history);
    assert_counts(&report, 0, 0, 0, 0, 1);
    let mismatch = &report.model_mismatches[0];
    assert_eq!((mismatch.height, mismatch.index), (2, 1));
    assert_eq!(mismatch.model.outcome.code(), "over_claim");
}

#[test]
fn over_claim_receipt_marked_accepted_is_an_over_reimbursement() {
    let story = Story::new();
    let mut chains = story.chains();
    // Every node accepts Ping Health's 40.01 on top of social security's 60.00.
    let effect = Effect::ClaimLocked { claim_id: claim_id(OVER), reserved: Fen(4_001) };
    tamper_everywhere(&mut chains, 2, 1, Outcome::Accepted(effect));
    let history = story.history(&chains[0]);
    let report = story.check(&chains, &history);
    // The model refuses it (P5) and so stays within the bill; the chain's own receipts do not.
    assert_counts(&report, 0, 1, 0, 0, 1);
    let over = &report.over_reimbursed[0];
    assert_eq!((over.height, over.source), (2, Source::Receipts));
    let OverKind::BillOverClaimed { claimable, reserved, reimbursed, .. } = over.kind else {
        panic!("expected an over-claimed bill: {over}");
    };
    assert_eq!((claimable, reserved, reimbursed), (Fen(10_000), Fen(10_001), Fen(0)));
}

#[test]
fn second_settlement_of_a_claim_is_an_over_reimbursement() {
    let story = Story::new();
    let mut chains = story.chains();
    // Every node pays social security's claim twice.
    let effect = Effect::ClaimSettled { claim_id: claim_id(SOCIAL), approved: Fen(6_000) };
    tamper_everywhere(&mut chains, 3, 1, Outcome::Accepted(effect));
    let history = story.history(&chains[0]);
    let report = story.check(&chains, &history);
    // P2: settled twice, and the bill is paid 120.00 of 100.00; P4: social security's total
    // paid by the chain's settlements is not the model's; P5: the model refused it.
    assert_counts(&report, 0, 2, 0, 1, 1);
    let kinds: Vec<&OverKind> = report.over_reimbursed.iter().map(|o| &o.kind).collect();
    assert!(matches!(kinds[0], OverKind::SettledTwice { claim } if *claim == claim_id(SOCIAL)));
    assert!(matches!(kinds[1], OverKind::BillOverClaimed { reimbursed: Fen(12_000), .. }));
    let ConservationKind::PayerTotal { payer, settlements, model_paid } =
        &report.conservation[0].kind
    else {
        panic!("expected a payer total: {}", report.conservation[0]);
    };
    assert_eq!(
        (payer, *settlements, *model_paid),
        (&story.c.social_security.id, Fen(12_000), Fen(6_000))
    );
}

#[test]
fn transaction_of_another_chain_that_took_effect_is_a_model_mismatch() {
    let story = Story::new();
    let c = &story.c;
    // Between the claims and the settlements, the hospital issues a second bill, signed for
    // another chain: an honest ledger refuses it.
    let foreign = foreign_chain_id(c.chain_id());
    let second = c.bill_id(0, 2);
    let issue = c.issue(vec![bill(second, c.patients[1].pseudonym, 5_000, 0)]);
    let stranger = TxFactory::new(foreign.clone(), 1_000).sign(&c.hospitals[0].key, issue);
    let mut blocks = story.blocks.clone();
    blocks[1].push(stranger.clone());
    let honest = run(c, &blocks);
    assert_eq!(honest[1].receipts[3].outcome.code(), "wrong_chain_id");
    let history = acknowledged(&steps_of(&blocks), &honest);
    assert_eq!(story.check(&vec![honest.clone(); NODES], &history).violations(), 0);

    // The planted bug (`accept-wrong-chain-id`): every node skips the chain id check, issues
    // the bill and acknowledges it to the client.
    let mut chains = vec![honest; NODES];
    let effect = Effect::BillsIssued { count: 1 };
    tamper_everywhere(&mut chains, 2, 3, Outcome::Accepted(effect));
    let history = acknowledged(&steps_of(&blocks), &chains[0]);
    let report = story.check(&chains, &history);
    // P5 alone: the nodes agree and kept what they acknowledged, and the bill is within its
    // amounts; only the reference model refuses the transaction.
    assert_counts(&report, 0, 0, 0, 0, 1);
    assert_eq!(report.violations(), 1, "{report}");
    let mismatch = &report.model_mismatches[0];
    assert_eq!((mismatch.height, mismatch.index, mismatch.tx_id), (2, 3, stranger.id()));
    assert!(mismatch.chain.outcome.is_accepted());
    assert_eq!(
        mismatch.model.outcome,
        Outcome::Rejected(Rejection::WrongChainId { expected: c.chain_id().clone(), got: foreign })
    );
    assert!(report.to_string().contains("model wrong_chain_id"), "{report}");
}

#[test]
fn settlement_receipt_paying_more_than_approved_breaks_conservation() {
    let story = Story::new();
    let mut chains = story.chains();
    // Ping Health approved 30.00; every node's receipt says 50.00 was paid.
    let effect = Effect::ClaimSettled { claim_id: claim_id(EXACT), approved: Fen(5_000) };
    tamper_everywhere(&mut chains, 3, 2, Outcome::Accepted(effect));
    let history = story.history(&chains[0]);
    let report = story.check(&chains, &history);
    assert_counts(&report, 0, 0, 0, 1, 1);
    let ConservationKind::EffectAmount { stated, expected, .. } = &report.conservation[0].kind
    else {
        panic!("expected an effect amount: {}", report.conservation[0]);
    };
    assert_eq!((*stated, *expected), (Fen(5_000), Fen(3_000)));
}

#[test]
fn refused_operation_that_took_effect_is_flagged() {
    let story = Story::new();
    let chains = story.chains();
    let receipts = receipts_of(&chains[0]);
    let steps = steps_of(&story.blocks);
    let (last, acked) = steps.split_last().expect("steps");
    // Every step acknowledged but the last, Ping Health's settlement (on every chain), which
    // is sent once per answer in `answers`.
    let history_with = |answers: &[&str]| {
        let history = History::new();
        for step in acked {
            let op = history.invoke(step.tx.id(), 0, 0, step.what.clone());
            history.complete(op, 1, OpResult::Ok(receipts[&step.tx.id()].clone()));
        }
        for (node, code) in answers.iter().enumerate() {
            let op = history.invoke(last.tx.id(), node, 0, last.what.clone());
            history.complete(op, 1, OpResult::refusal(code));
        }
        history
    };

    // The client was told it was refused.
    let report = story.check(&chains, &history_with(&["mempool_full"]));
    assert_eq!(report.refused_but_applied.len(), 1, "{report}");
    assert_eq!(report.refused_but_applied[0].height, 3);
    assert_eq!(report.violations(), 1, "{report}");

    // An in-flight answer to another send is no refusal: the client cannot tell.
    let report = story.check(&chains, &history_with(&["mempool_full", "duplicate_in_mempool"]));
    assert_eq!(report.violations(), 0, "{report}");
}

#[test]
fn transaction_included_again_and_answered_replayed_is_allowed() {
    let story = Story::new();
    let mut blocks = story.blocks.clone();
    // A leader far behind proposes social security's settlement again.
    blocks.push(vec![blocks[2][0].clone()]);
    let chain = run(&story.c, &blocks);
    assert_eq!(chain[3].receipts[0].outcome.code(), "replayed");
    let history = acknowledged(&steps_of(&story.blocks), &chain);
    let chains = vec![chain; NODES];
    let report = story.check(&chains, &history);
    assert_eq!(report.violations(), 0, "{report}");
    assert_eq!(report.repeated_txs, [1; NODES]);

    // Had the second inclusion taken effect, the settlement would have been applied twice.
    let mut chains = chains;
    let effect = Effect::ClaimSettled { claim_id: claim_id(SOCIAL), approved: Fen(6_000) };
    tamper_everywhere(&mut chains, 4, 0, Outcome::Accepted(effect));
    let report = story.check(&chains, &history);
    assert_eq!(report.applied_twice.len(), NODES, "{report}");
    assert!(report.applied_twice.iter().all(|a| a.heights == [3, 4]));
}

#[test]
fn a_transaction_included_again_is_answered_by_its_first_inclusion() {
    let story = Story::new();
    let c = &story.c;
    // Social security's settlement arrives before its claim and is refused; included again
    // after the claim, it is `replayed`: inclusion is final.
    let settle = story.blocks[2][0].clone();
    let blocks = vec![
        story.blocks[0].clone(),
        vec![settle.clone(), story.blocks[1][0].clone()],
        vec![settle.clone()],
    ];
    let chain = run(c, &blocks);
    assert_eq!(chain[1].receipts[0].outcome.code(), "unknown_claim");
    assert_eq!(chain[2].receipts[0].outcome.code(), "replayed");
    let chains = vec![chain.clone(); NODES];

    // The client was told "refused": that is what every chain says.
    let history = History::new();
    let op = history.invoke(settle.id(), 0, 0, OpKind::of(&settle.body().payload));
    history.complete(op, 1, OpResult::Ok(chain[1].receipts[0].clone()));
    let report = story.check(&chains, &history);
    assert_eq!(report.violations(), 0, "{report}");

    // A chain where the refused settlement took effect later (a ledger that forgot refused
    // transactions) is reported: its inclusion was not final.
    let mut revived = chain.clone();
    let accepted = story.chains().remove(0)[2].receipts[0].clone();
    assert!(accepted.outcome.is_accepted() && accepted.tx_id == settle.id());
    revived[2].receipts[0] = accepted;
    let report = story.check(&vec![revived; NODES], &History::new());
    assert_eq!(report.applied_twice.len(), NODES, "{report}");
    assert_eq!(report.applied_twice[0].heights, vec![2, 3]);
}

#[test]
fn malformed_chains_are_reported_without_panicking() {
    let story = Story::new();
    let good = story.chains().remove(0);
    let history = story.history(&good);
    let check = |chain: Vec<BlockTransactions>| story.check(&[good.clone(), chain], &history);

    // Starts at height 2.
    let report = check(good[1..].to_vec());
    assert_eq!((report.malformed.len(), report.heights[1]), (1, 0), "{report}");
    assert_eq!(report.lost.len(), 7, "nothing of node 1's chain is checked: {report}");

    // A gap: height 3 follows height 1.
    let report = check(vec![good[0].clone(), good[2].clone()]);
    assert_eq!((report.malformed.len(), report.heights[1]), (1, 1), "{report}");

    // A receipt missing.
    let mut chain = good.clone();
    chain[1].receipts.pop();
    let report = check(chain);
    assert_eq!((report.malformed.len(), report.heights[1]), (1, 1), "{report}");

    // Receipts in the wrong order.
    let mut chain = good.clone();
    chain[2].receipts.swap(0, 2);
    let report = check(chain);
    assert_eq!((report.malformed.len(), report.heights[1]), (1, 2), "{report}");

    // A timestamp going back: reported, and the chain is still replayed.
    let mut chain = good.clone();
    chain[2].timestamp_ms = chain[1].timestamp_ms;
    let report = check(chain);
    assert_eq!((report.malformed.len(), report.heights[1]), (1, 3), "{report}");
    assert_eq!(report.model_mismatches.len(), 0);

    // A block whose parent is not the block before it: reported, and still checked.
    let mut chain = good.clone();
    chain[1].parent = "00".repeat(32);
    let report = check(chain);
    assert_eq!((report.malformed.len(), report.heights[1]), (1, 3), "{report}");
    assert!(report.malformed[0].problem.contains("is not the previous block"));

    // A transaction signed for another chain, with the receipt of a valid one.
    let mut chain = good.clone();
    let mut f = TxFactory::new(medledger_types::ChainId::new("other").expect("valid"), 1_000);
    let stranger = f.sign(
        &story.c.regulator.key,
        Payload::FreezeMember { member: story.c.insurers[1].id.clone() },
    );
    chain[0].txs.push(stranger.clone());
    chain[0]
        .receipts
        .push(Receipt { tx_id: stranger.id(), outcome: Outcome::Accepted(Effect::MemberFrozen) });
    let report = check(chain);
    assert_eq!(report.model_mismatches.len(), 1, "{report}");

    // No chains at all, and empty chains.
    assert_eq!(story.check(&[], &history).violations(), 0);
    let report = story.check(&[Vec::new(), Vec::new()], &History::new());
    assert_eq!((report.violations(), report.heights.clone()), (0, vec![0, 0]), "{report}");
}

#[test]
fn report_details_name_the_first_violations() {
    let story = Story::new();
    let mut chains = story.chains();
    let history = story.history(&chains[0]);
    for chain in &mut chains[1..] {
        chain.truncate(1);
    }
    let report = story.check(&chains, &history);
    let text = report.to_string();
    assert!(text.contains("P1 no lost commit:        12"), "{text}");
    assert!(text.contains("… and 7 more"), "{text}");
    assert!(text.contains("missing on node 1"), "{text}");
    // Serializes for an artifact.
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("json");
    assert_eq!(json["lost"].as_array().map(Vec::len), Some(12));
}

/// Social security's policy settles its 100.00 claim in the block that accepts it (45.00 after
/// the 10.00 deductible, 50 % of `other`), releasing 55.00 that Ping Health then claims exactly;
/// one fen more is an over-claim. Heights: 1 bill, 2 policy, 3 claims.
fn auto_settled_chain(c: &Consortium) -> (Vec<Vec<Transaction>>, Vec<BlockTransactions>) {
    let mut f = TxFactory::new(c.chain_id().clone(), 1_000);
    let p = &c.patients[0];
    let b = c.bill_id(0, 1);
    let submit = |f: &mut TxFactory, id: u64, payer: &medledger_types::MemberId, amount: u64| {
        let sub = claim(claim_id(id), payer, p.pseudonym, &[(b, amount)]);
        f.sign(&p.key, Payload::SubmitClaim { claim: sub, consent: None })
    };
    let hospitals: Vec<_> = c.hospitals.iter().map(|h| h.id.clone()).collect();
    let policy = medledger_testkit::sample_policy(&c.social_security.id, &hospitals);
    let blocks = vec![
        vec![f.sign(&c.hospitals[0].key, c.issue(vec![bill(b, p.pseudonym, 10_000, 0)]))],
        vec![f.sign(&c.social_security.key, Payload::RegisterPolicy { policy })],
        vec![
            submit(&mut f, SOCIAL, &c.social_security.id, 10_000),
            submit(&mut f, EXACT, &c.insurers[0].id, 5_500),
            submit(&mut f, OVER, &c.insurers[0].id, 1),
        ],
    ];
    let chain = run(c, &blocks);
    let outcomes: Vec<&Outcome> = chain[2].receipts.iter().map(|r| &r.outcome).collect();
    let auto = Effect::ClaimAutoSettled {
        claim_id: claim_id(SOCIAL),
        requested: Fen(10_000),
        approved: vec![Fen(4_500)],
        paid: Fen(4_500),
    };
    assert_eq!(outcomes[0], &Outcome::Accepted(auto), "the policy settled the claim");
    assert_eq!(outcomes[1].code(), "accepted");
    assert_eq!(outcomes[2].code(), "over_claim");
    (blocks, chain)
}

#[test]
fn claims_settled_by_a_policy_are_booked_as_payments() {
    let c = consortium();
    let (blocks, chain) = auto_settled_chain(&c);
    let mut chains = vec![chain; NODES];
    let history = acknowledged(&steps_of(&blocks), &chains[0]);
    let report = check(&c.genesis, &chains, &history);
    assert_counts(&report, 0, 0, 0, 0, 0);
    // A receipt that pays the whole 100.00 by policy over-reimburses the bill once Ping Health's
    // 55.00 is reserved beside it (P2), and its total is not what its items add up to (P4).
    let inflated = Effect::ClaimAutoSettled {
        claim_id: claim_id(SOCIAL),
        requested: Fen(10_000),
        approved: vec![Fen(10_000)],
        paid: Fen(4_500),
    };
    tamper_everywhere(&mut chains, 3, 0, Outcome::Accepted(inflated));
    let report = check(&c.genesis, &chains, &history);
    assert!(!report.over_reimbursed.is_empty(), "{report}");
    assert!(
        report.conservation.iter().any(|e| e.to_string().contains("claim_auto_settled_paid")),
        "{report}"
    );
    assert!(!report.model_mismatches.is_empty(), "{report}");
}

#[test]
fn workload_with_a_policy_settles_some_claims_at_once_and_stays_clean() {
    let c = consortium();
    let config =
        WorkloadConfig { rounds: 24, register_policy: true, ..WorkloadConfig::new(7, NODES) };
    let steps = generate(&c, &config);
    assert!(matches!(&steps[0].tx.body().payload, Payload::RegisterPolicy { .. }));
    let blocks = blocks_of(&steps, 5);
    let chain = run(&c, &blocks);
    let history = acknowledged(&steps, &chain);
    let report = check(&c.genesis, &vec![chain.clone(); NODES], &history);
    assert_eq!(report.violations(), 0, "{report}");
    let mut effects: HashMap<String, usize> = HashMap::new();
    for receipt in chain.iter().flat_map(|b| &b.receipts) {
        let name = match &receipt.outcome {
            Outcome::Accepted(effect) => {
                format!("{effect:?}").split([' ', '{']).next().unwrap().to_string()
            }
            Outcome::Rejected(rejection) => rejection.code(),
        };
        *effects.entry(name).or_default() += 1;
    }
    // Claims to the insurer with the policy settle at once or wait, by their benefit; its
    // later decisions meet claims already settled, and its payment records are accepted.
    for needed in [
        "PolicyRegistered",
        "ClaimAutoSettled",
        "PaymentRecorded",
        "ClaimLocked",
        "claim_already_settled",
    ] {
        assert!(effects.get(needed).is_some_and(|&n| n > 0), "no {needed}: {effects:?}");
    }
}
