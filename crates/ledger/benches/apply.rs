//! Ledger throughput on one core: how many bills and claims `execute_block` applies per second,
//! with signature verification excluded (pre-verified, as on mempool admission) and included
//! (one ed25519 batch per block).
//!
//! Run: `cargo bench -p medledger-ledger --bench apply`
//! Scale: `MEDLEDGER_BENCH_SCALE=0.1` for a quick run (default 1.0).
//!
//! Every transaction is built and signed before the clock starts; only execution is timed.
//! Each phase also checks that every transaction was accepted, so a broken run cannot report a
//! fast number.

// Sizes here are small constants and scale factors; truncation cannot happen.
#![allow(clippy::cast_possible_truncation)]

use medledger_crypto::{SignedMessage, verify_batch};
use medledger_ledger::{
    BlockContext, MemoryState, SignatureCheck, execute_block, execute_block_checked,
};
use medledger_testkit::{Consortium, TxFactory, bill, claim, claim_id};
use medledger_types::{Fen, Payload, Receipt, Text, Transaction, limits::ISSUE_BATCH_BILLS_MAX};
use std::time::{Duration, Instant};

const PATIENTS: usize = 1_000;
const CLAIM_BLOCK_TXS: usize = 1_000;
const ISSUE_BLOCK_TXS: usize = 10;

struct Bench {
    c: Consortium,
    state: MemoryState,
    f: TxFactory,
    height: u64,
}

impl Bench {
    fn new() -> Self {
        let c = Consortium::demo("medledger-bench", PATIENTS);
        let state = MemoryState::from_genesis(&c.genesis).unwrap();
        let f = TxFactory::new(c.chain_id().clone(), 1_500);
        Self { c, state, f, height: 0 }
    }

    fn ctx(&mut self) -> BlockContext {
        self.height += 1;
        BlockContext { height: self.height, timestamp_ms: self.height * 100 }
    }

    /// Executes `txs` in blocks of `per_block`, timing only execution.
    fn run(&mut self, txs: &[Transaction], per_block: usize, verify: bool) -> Duration {
        let mut elapsed = Duration::ZERO;
        for block in txs.chunks(per_block) {
            let ctx = self.ctx();
            let start = Instant::now();
            let receipts: Vec<Receipt> = if verify {
                execute_block(&mut self.state, &ctx, block)
            } else {
                let checks = vec![SignatureCheck::VALID; block.len()];
                execute_block_checked(&mut self.state, &ctx, block, &checks)
            };
            elapsed += start.elapsed();
            let rejected = receipts.iter().find(|r| !r.outcome.is_accepted());
            assert!(rejected.is_none(), "benchmark transaction rejected: {rejected:?}");
        }
        elapsed
    }

    fn issue_txs(&mut self, batches: usize, first_number: u64) -> Vec<Transaction> {
        let key = self.c.hospitals[0].key.clone();
        (0..batches)
            .map(|b| {
                let bills = (0..ISSUE_BATCH_BILLS_MAX)
                    .map(|i| {
                        let n = first_number + (b * ISSUE_BATCH_BILLS_MAX + i) as u64;
                        let patient = self.c.patients[(n as usize) % PATIENTS].pseudonym;
                        bill(self.c.bill_id(0, n), patient, 10_000, 20_000)
                    })
                    .collect();
                self.f.sign(&key, self.c.issue(bills))
            })
            .collect()
    }

    /// One claim per bill, numbered from `first_number`, filed by the patient.
    fn submit_txs(&mut self, count: usize, first_number: u64) -> Vec<Transaction> {
        let payer = self.c.social_security.id.clone();
        (0..count)
            .map(|i| {
                let n = first_number + i as u64;
                let patient = self.c.patients[(n as usize) % PATIENTS].clone();
                let sub =
                    claim(claim_id(n), &payer, patient.pseudonym, &[(self.c.bill_id(0, n), 6_000)]);
                self.f.sign(&patient.key, Payload::SubmitClaim { claim: sub, consent: None })
            })
            .collect()
    }

    fn settle_txs(&mut self, count: usize, first_number: u64) -> Vec<Transaction> {
        let key = self.c.social_security.key.clone();
        (0..count)
            .map(|i| {
                let n = first_number + i as u64;
                let payload = Payload::SettleClaim {
                    claim_id: claim_id(n),
                    approved: vec![Fen(6_000)],
                    payment_reference: Text::new("SSB-BENCH").unwrap(),
                };
                self.f.sign(&key, payload)
            })
            .collect()
    }
}

fn rate(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

fn line(what: &str, count: usize, unit: &str, elapsed: Duration, target: Option<f64>) {
    let per_s = rate(count, elapsed);
    let verdict = match target {
        Some(t) if per_s >= t => format!("target {t:>9.0}  met"),
        Some(t) => format!("target {t:>9.0}  MISSED"),
        None => String::new(),
    };
    println!(
        "{what:<58} {count:>9} {unit:<7} {:>8.3} s {per_s:>12.0} {unit}/s  {verdict}",
        elapsed.as_secs_f64()
    );
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument is a filter we do not need.
    let scale: f64 =
        std::env::var("MEDLEDGER_BENCH_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let batches = ((200.0 * scale) as usize).max(2);
    let claims = ((100_000.0 * scale) as usize).max(1_000);
    let mut b = Bench::new();
    println!("medledger ledger benchmark, one core, scale {scale}");
    println!("(building and signing transactions before the clock starts)");

    // Issuance.
    let bills = batches * ISSUE_BATCH_BILLS_MAX;
    let unsigned = b.issue_txs(batches, 1);
    let signed = b.issue_txs(batches, 1 + bills as u64);
    println!();
    let t = b.run(&unsigned, ISSUE_BLOCK_TXS, false);
    line("issue bills, batches of 1000, signatures excluded", bills, "bills", t, Some(500_000.0));
    let t = b.run(&signed, ISSUE_BLOCK_TXS, true);
    line("issue bills, batches of 1000, signatures verified", bills, "bills", t, None);

    // Claims against the first `claims` bills (excluded) and the next `claims` (verified).
    let submit_a = b.submit_txs(claims, 1);
    let settle_a = b.settle_txs(claims, 1);
    let submit_b = b.submit_txs(claims, 1 + claims as u64);
    let settle_b = b.settle_txs(claims, 1 + claims as u64);
    let t_submit = b.run(&submit_a, CLAIM_BLOCK_TXS, false);
    let t_settle = b.run(&settle_a, CLAIM_BLOCK_TXS, false);
    line("claim submit (lock), signatures excluded", claims, "claims", t_submit, None);
    line("claim settle, signatures excluded", claims, "claims", t_settle, None);
    line(
        "claim applications (submit + settle), signatures excluded",
        2 * claims,
        "txs",
        t_submit + t_settle,
        Some(300_000.0),
    );
    let t_submit = b.run(&submit_b, CLAIM_BLOCK_TXS, true);
    let t_settle = b.run(&settle_b, CLAIM_BLOCK_TXS, true);
    line(
        "claim submit, individually signed, batch-verified",
        claims,
        "claims",
        t_submit,
        Some(40_000.0),
    );
    line("claim settle, individually signed, batch-verified", claims, "claims", t_settle, None);
    line(
        "claim applications (submit + settle), batch-verified",
        2 * claims,
        "txs",
        t_submit + t_settle,
        Some(40_000.0),
    );

    // The signature bound on its own, for context.
    let sample = &submit_b[..CLAIM_BLOCK_TXS.min(submit_b.len())];
    let items: Vec<SignedMessage<'_>> = sample.iter().map(Transaction::signed_message).collect();
    let rounds = 20;
    let start = Instant::now();
    for _ in 0..rounds {
        assert!(verify_batch(&items).iter().all(|v| *v));
    }
    line(
        "ed25519 batch verification (batches of 1000)",
        rounds * items.len(),
        "sigs",
        start.elapsed(),
        None,
    );
    let start = Instant::now();
    for item in &items {
        assert!(item.public_key.verify(item.namespace, item.message, item.signature));
    }
    line("ed25519 single verification", items.len(), "sigs", start.elapsed(), None);

    b.state.audit().expect("ledger invariants hold after the benchmark");
    println!();
    println!(
        "state after the run: {} bills, {} claims",
        b.state.bills().count(),
        b.state.claims().count()
    );
}
