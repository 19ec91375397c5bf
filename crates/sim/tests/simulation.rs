//! The deterministic simulation in CI: many seeds of the whole cluster under every fault type
//! (a Byzantine proposer among them), determinism, and (with the `planted-bugs` feature) the
//! planted ledger bugs caught.
//!
//! `MEDLEDGER_SIM_SEEDS` sets how many seeds (default 24) and `MEDLEDGER_SIM_SECS` the simulated
//! seconds of faults per seed (default 30). The long run is the binary:
//! `cargo run --release -p medledger-sim -- --seeds 1000 --jobs 2`.

use medledger_sim::{Options, Outcome, Summary, run};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Runs `seeds` on two threads (each simulation is single-threaded), printing a line each.
fn run_all(seeds: &[u64], options: impl Fn(u64) -> Options + Sync) -> Vec<Outcome> {
    let next = AtomicUsize::new(0);
    let outcomes = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                while let Some(&seed) = seeds.get(next.fetch_add(1, Ordering::SeqCst)) {
                    let outcome = run(&options(seed));
                    println!("{}", outcome.line());
                    outcomes.lock().unwrap().push(outcome);
                }
            });
        }
    });
    let mut outcomes = outcomes.into_inner().unwrap();
    outcomes.sort_by_key(|o| o.plan.seed);
    outcomes
}

#[test]
fn seeds_under_every_fault_type_keep_every_property() {
    let count = env_number("MEDLEDGER_SIM_SEEDS", 24);
    let secs = env_number("MEDLEDGER_SIM_SECS", 30);
    let seeds: Vec<u64> = (1..=count).collect();
    let started = Instant::now();
    let outcomes = run_all(&seeds, |seed| Options { secs, ..Options::new(seed) });
    let summary = Summary::of(&outcomes);
    println!("{}", summary.text(started.elapsed()));
    for outcome in outcomes.iter().filter(|o| o.violations() > 0) {
        println!("seed {} violations: {}", outcome.plan.seed, outcome.report.to_json());
    }
    assert!(
        summary.failing_seeds.is_empty(),
        "failing seeds {:?}; replay one with `cargo run --release -p medledger-sim -- --seed N \
         --secs {secs} --trace`",
        summary.failing_seeds
    );
    assert_eq!(summary.seeds, seeds.len());
    assert!(summary.ok > 100 * seeds.len(), "too little work acknowledged: {}", summary.ok);
    if count >= 20 {
        // Every fault type, over the default seeds (fixed, so this is deterministic).
        for fault in [
            "crash",
            "partition_isolate",
            "partition_split",
            "lossy_links",
            "storage_torn_tail",
            "storage_corrupt_byte",
            "byzantine_conflicter",
            "byzantine_nuller",
            "byzantine_equivocator",
            "byzantine_proposer",
        ] {
            assert!(
                summary.faults.get(fault).copied().unwrap_or(0) > 0,
                "no {fault} in {count} seeds: {:?}",
                summary.faults
            );
        }
        byzantine_proposals_were_made_and_answered(&summary);
    }
}

/// The Byzantine proposer made every kind of malicious proposal; honest validators refused
/// the forged and oversized ones and finalized replays and foreign transactions only as
/// answered rejections. (A malicious transaction answered otherwise, a refused kind
/// finalized or a genuine transaction censored by its forged copy is a violation, which the
/// caller already found absent.)
fn byzantine_proposals_were_made_and_answered(summary: &Summary) {
    let proposed = |kind: &str| summary.malicious_proposed.get(kind).copied().unwrap_or(0);
    let finalized = |kind: &str| summary.malicious_finalized.get(kind).copied().unwrap_or(0);
    let answered = |what: &str, code: &str| {
        summary.malicious_answers.get(what).and_then(|c| c.get(code)).copied().unwrap_or(0)
    };
    for kind in ["replay", "foreign", "forged", "oversized_txs", "oversized_bytes"] {
        assert!(proposed(kind) > 0, "no {kind} proposal: {:?}", summary.malicious_proposed);
    }
    for kind in ["forged", "oversized_txs", "oversized_bytes"] {
        assert_eq!(finalized(kind), 0, "a {kind} proposal was finalized");
    }
    assert!(finalized("replay") > 0 && finalized("foreign") > 0, "{summary:?}");
    assert!(answered("replay_of_accepted", "replayed") > 0, "{:?}", summary.malicious_answers);
    assert!(answered("replay_of_rejected", "replayed") > 0, "{:?}", summary.malicious_answers);
    assert!(answered("other_chain", "wrong_chain_id") > 0, "{:?}", summary.malicious_answers);
    assert!(answered("unknown_signer", "unknown_signer") > 0, "{:?}", summary.malicious_answers);
    let [forged, committed, _] = summary.forged_genuine;
    assert!(forged > 0 && committed > 0, "forged copies {forged}, committed later {committed}");
}

#[test]
fn the_same_seed_replays_exactly() {
    let options = |seed| Options { secs: 10, ..Options::new(seed) };
    let first = run(&options(7));
    let again = run(&options(7));
    println!("seed 7 twice: {} and {}", first.event_hash, again.event_hash);
    assert_eq!(first.event_hash, again.event_hash, "seed 7 is not deterministic");
    assert_eq!(first.report.to_json(), again.report.to_json());
    assert_eq!(first.faults, again.faults);
    let other = run(&options(8));
    assert_ne!(first.event_hash, other.event_hash, "two seeds ran the same events");
}

/// Test the tests: a ledger bug planted in every validator must be reported, by the property
/// that catches it.
#[cfg(feature = "planted-bugs")]
#[test]
fn planted_bugs_are_caught() {
    for (bug, caught_by) in
        [("skip-over-claim-check", "P2 over_reimbursed"), ("accept-wrong-chain-id", "P5 model")]
    {
        let started = Instant::now();
        let outcomes = run_all(&[1, 2, 3, 4], |seed| Options {
            secs: 10,
            calm: true,
            planted: Some(bug.to_string()),
            ..Options::new(seed)
        });
        let caught: Vec<&Outcome> = outcomes.iter().filter(|o| o.violations() > 0).collect();
        let over = outcomes.iter().map(Outcome::over_reimbursed).sum::<usize>();
        let mismatches = outcomes.iter().map(|o| o.report.model_mismatches.len()).sum::<usize>();
        println!(
            "planted {bug}: caught in {} of {} seeds ({:.1} s wall, 10 simulated s each): \
             P2 over-reimbursed {over}, P5 model mismatches {mismatches}, all violations {}",
            caught.len(),
            outcomes.len(),
            started.elapsed().as_secs_f64(),
            outcomes.iter().map(Outcome::violations).sum::<usize>()
        );
        assert_eq!(caught.len(), outcomes.len(), "{bug} slipped through a seed");
        match bug {
            "skip-over-claim-check" => assert!(over > 0, "{bug} not caught by {caught_by}"),
            _ => assert!(mismatches > 0, "{bug} not caught by {caught_by}"),
        }
    }
}
