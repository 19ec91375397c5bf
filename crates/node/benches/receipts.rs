//! Receipts with a large state: the cost of keeping the authenticated state tree while blocks
//! execute, and of producing a bill's receipt, with 1,000,000 bills in state.
//!
//! Run: `cargo bench -p medledger-node --bench receipts`
//! Scale: `MEDLEDGER_BENCH_SCALE=0.1` for 100,000 bills (default 1.0).
//!
//! Bills are issued through `Chain::execute` exactly as finalized blocks are (1,000-bill signed
//! batches, ten batches a block), so the timings include execution, the state tree and the
//! state root. Then a header naming the executed state anchors the tree, and receipts for
//! random bills are produced and checked against the state root, so a broken tree cannot
//! report a fast number. The finalization certificate is stubbed (its bytes are copied into
//! the receipt as they are); `cargo test -p medledger-receipt -- --nocapture` measures real
//! certificates and verification.

#![allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]

use commonware_codec::Encode as _;
use commonware_cryptography::Digestible as _;
use medledger_node::block::Block;
use medledger_node::chain::Chain;
use medledger_node::config::MempoolConfig;
use medledger_node::mempool::Mempool;
use medledger_node::state_tree::StateKey;
use medledger_testkit::{Consortium, TxFactory, bill};
use medledger_types::{ChainId, Transaction};
use std::time::{Duration, Instant};

const BATCH: u64 = 1_000;
const BATCHES_PER_BLOCK: u64 = 10;
const RECEIPTS: usize = 1_000;

fn scale() -> f64 {
    std::env::var("MEDLEDGER_BENCH_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0)
}

fn main() {
    let bills = ((1_000_000.0 * scale()) as u64).max(BATCH * BATCHES_PER_BLOCK);
    let blocks = bills / (BATCH * BATCHES_PER_BLOCK);
    let c = Consortium::demo("medledger-bench", 1_000);
    let chain_id: ChainId = c.chain_id().clone();
    let genesis = Block::genesis(&c.genesis);
    let chain =
        Chain::new(&c.genesis, &genesis, Mempool::new(chain_id.clone(), MempoolConfig::default()))
            .unwrap();
    let mut f = TxFactory::new(chain_id.clone(), blocks + 100);

    println!("signing {bills} bills in {blocks} blocks of {BATCHES_PER_BLOCK} x {BATCH}…");
    let mut planned: Vec<Vec<Transaction>> = Vec::new();
    let mut n = 0u64;
    for _ in 0..blocks {
        let txs = (0..BATCHES_PER_BLOCK)
            .map(|_| {
                let batch = (0..BATCH)
                    .map(|_| {
                        n += 1;
                        let patient = c.patients[(n % 1_000) as usize].pseudonym;
                        bill(c.bill_id(0, n), patient, 10_000, 5_000)
                    })
                    .collect();
                f.sign(&c.hospitals[0].key, c.issue(batch))
            })
            .collect();
        planned.push(txs);
    }

    println!("executing…");
    let mut parent = genesis.clone();
    let mut slowest = Duration::ZERO;
    let started = Instant::now();
    for (i, txs) in planned.into_iter().enumerate() {
        let block = Block::child(
            &parent,
            parent.digest(),
            parent.timestamp_ms + 1,
            chain.executed_root(),
            txs,
        );
        let t = Instant::now();
        assert!(chain.execute(&block, block.digest(), None));
        slowest = slowest.max(t.elapsed());
        parent = block;
        if (i + 1) % 20 == 0 {
            println!("  {} bills executed", (i as u64 + 1) * BATCH * BATCHES_PER_BLOCK);
        }
    }
    let elapsed = started.elapsed();
    println!(
        "executed {bills} bills in {:.2} s: {:.0} bills/s including the state tree; slowest block ({} bills) {:.1} ms",
        elapsed.as_secs_f64(),
        bills as f64 / elapsed.as_secs_f64(),
        BATCH * BATCHES_PER_BLOCK,
        slowest.as_secs_f64() * 1e3
    );

    // A header naming the executed state anchors the tree (certificate stubbed).
    let header_block = Block::child(
        &parent,
        parent.digest(),
        parent.timestamp_ms + 1,
        chain.executed_root(),
        vec![],
    );
    let t = Instant::now();
    chain.anchor(&header_block, Some(vec![0; 230]));
    println!(
        "anchoring the tree at height {}: {:.1} ms",
        header_block.executed_height,
        t.elapsed().as_secs_f64() * 1e3
    );

    let mut sizes = Vec::with_capacity(RECEIPTS);
    let mut times = Vec::with_capacity(RECEIPTS);
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..RECEIPTS {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let id = c.bill_id(0, 1 + x % bills);
        let t = Instant::now();
        let receipt = chain.receipt(&chain_id, StateKey::Bill(id)).expect("a receipt");
        let bytes = receipt.encode();
        times.push(t.elapsed());
        sizes.push(bytes.len());
        let root = medledger_receipt::state_root(
            receipt.header.executed_height,
            &receipt.mmr_root,
            &receipt.receipts_root,
        );
        assert_eq!(root, receipt.header.state_root, "the receipt's roots match its header");
        let leaf = receipt.record.leaf();
        let mmr_root = medledger_receipt::StateDigest::from(receipt.mmr_root.0);
        assert!(receipt.proof.verify_element_inclusion(
            &medledger_receipt::state_hasher(),
            &leaf.0,
            commonware_storage::mmr::Location::new(receipt.leaf),
            &mmr_root,
        ));
    }
    times.sort();
    sizes.sort_unstable();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "receipt for a random bill of {bills}: p50 {:.0} µs, p99 {:.0} µs to build and encode; {}–{} bytes ({} of them the stubbed 4-validator certificate)",
        us(times[RECEIPTS / 2]),
        us(times[RECEIPTS * 99 / 100]),
        sizes[0],
        sizes[RECEIPTS - 1],
        230
    );
}
