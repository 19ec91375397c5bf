//! Process chaos on loopback (../shared/RELIABILITY.md): four real validator processes under a
//! contended workload (several payers on one bill, retries, one transaction sent to two nodes,
//! claims adding up to just over a bill), while a nemesis `kill -9`s a random validator every
//! 10 s and restarts it, and every other cycle pauses another with SIGSTOP for 5 s. At most
//! one validator is faulty at a time (f = 1 of 4). Then everything heals, every node's chain is
//! read back and the checker (`medledger-checker`) replays it: no acknowledged commit lost,
//! nothing over-reimbursed, all nodes agreeing, the model agreeing with every receipt.
//!
//! It runs 120 s by default (12 kills); `MEDLEDGER_CHAOS_SECS=1800` runs the long mode. With
//! the `planted-bugs` feature (on in CI, which tests with `--all-features`), a second test
//! plants bugs in the validators and requires the checker to catch each.

mod support;

use medledger_checker::{History, OpResult, WorkloadConfig, check, generate};
use medledger_client::{Client, ClientError};
use medledger_testkit::{Actor, Consortium, Patient};
use medledger_types::api::BlockTransactions;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use support::*;

const NODES: usize = 4;

/// The tests of this file run one at a time: each runs four validators on a 2-core machine.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
/// Seconds between kills.
const CYCLE: Duration = Duration::from_secs(10);
/// Client threads driving the workload.
const WORKERS: u64 = 4;

fn now_ms() -> u64 {
    u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

/// The consortium `medledger init` wrote, with its keys, as the workload generator needs it.
fn consortium(net: &Net) -> Consortium {
    let genesis = genesis_dir(&net.dir);
    let actor = |id: &str| Actor::new(id, net.member_key(id));
    Consortium {
        regulator: actor("finance-bureau"),
        hospitals: vec![actor("city-central-hospital"), actor("childrens-hospital")],
        social_security: actor("social-security"),
        insurers: vec![actor("ping-health"), actor("tai-insurance")],
        platform: actor("wallet-platform"),
        patients: net.patients().into_iter().map(|(p, key)| Patient::new(p, key)).collect(),
        genesis,
    }
}

/// Sends `tx` to `node` and waits for its commit; what the client was told.
fn send(node: &Client, tx: &medledger_types::Transaction) -> OpResult {
    match node.submit_and_wait(tx) {
        Ok(committed) => OpResult::Ok(committed.receipt),
        Err(ClientError::Api { status, error }) if status < 500 && status != 429 => {
            OpResult::refusal(&error.code)
        }
        // Still pending after the wait, a node that is down or paused, a timeout: unknown.
        Err(_) => OpResult::Unknown,
    }
}

/// One client thread: batches of generated steps, each sent where the step says (to two nodes
/// at once when it says two), until `stop`.
fn worker(w: u64, c: &Consortium, nodes: &[Client], history: &History, stop: &AtomicBool) {
    let mut batch = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let Some(height) = nodes.iter().find_map(|n| n.status().ok()).map(|s| s.height) else {
            std::thread::sleep(Duration::from_millis(200));
            continue;
        };
        let config = WorkloadConfig {
            rounds: 4,
            expires_at_height: height + 1_500,
            first_bill_number: 1 + w * 2_000_000 + batch * 1_000,
            ..WorkloadConfig::new(w * 1_000_000 + batch, NODES)
        };
        batch += 1;
        for step in generate(c, &config) {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            std::thread::scope(|scope| {
                for &i in &step.send_to {
                    let (tx, what) = (&step.tx, step.what.clone());
                    scope.spawn(move || {
                        let op = history.invoke(tx.id(), i, now_ms(), what);
                        let result = send(&nodes[i], tx);
                        history.complete(op, now_ms(), result);
                    });
                }
            });
        }
    }
}

fn signal(net: &Net, i: usize, sig: &str) {
    let pid = net.nodes[i].as_ref().expect("running").id().to_string();
    let status = Command::new("kill").args([sig, &pid]).status().unwrap();
    assert!(status.success(), "kill {sig} {pid}");
}

fn wait_up(net: &Net, i: usize) {
    wait_until("the validator answers again", Duration::from_secs(60), || {
        height(net.apis[i]).is_some()
    });
}

/// Reads node `i`'s whole chain, retrying blocks its archive cannot serve this instant.
fn chain_of(node: &Client) -> Vec<BlockTransactions> {
    let top = node.status().unwrap().height;
    (1..=top)
        .map(|h| {
            let mut tries = 0;
            loop {
                match node.block_transactions(h) {
                    Ok(block) => return block,
                    Err(e) if tries < 50 => {
                        tries += 1;
                        eprintln!("block {h}: {e}; retrying");
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    Err(e) => panic!("block {h} cannot be read: {e}"),
                }
            }
        })
        .collect()
}

/// What one chaos run saw.
struct Run {
    report: medledger_checker::Report,
    counts: medledger_checker::Counts,
    kills: u64,
    pauses: u64,
    recovery: Duration,
    seconds: f64,
}

/// Runs the workload on a fresh 4-validator network for `seconds`, with the nemesis or without,
/// with a planted bug in every validator or none; heals, reads every chain and checks it.
fn chaos(name: &str, slot: u16, seconds: u64, nemesis: bool, planted: Option<&str>) -> Run {
    let mut net = Net::init(name, NODES, slot);
    let env: Vec<(&str, &str)> =
        planted.map(|bug| ("MEDLEDGER_PLANTED_BUG", bug)).into_iter().collect();
    for i in 0..NODES {
        net.start_with(i, &env);
    }
    for i in 0..NODES {
        wait_up(&net, i);
    }
    let c = Arc::new(consortium(&net));
    let nodes: Arc<Vec<Client>> = Arc::new(net.apis.iter().map(|a| client(*a)).collect());
    let history = History::new();
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (c, nodes, history, stop) =
                (c.clone(), nodes.clone(), history.clone(), stop.clone());
            std::thread::spawn(move || worker(w, &c, &nodes, &history, &stop))
        })
        .collect();

    // The nemesis: one fault at a time, from a seed printed so a run can be told apart.
    let seed = now_ms();
    eprintln!("{name}: {seconds} s, nemesis {}, seed {seed}", if nemesis { "on" } else { "off" });
    let mut rng = seed;
    let mut next = move |n: u64| {
        rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        usize::try_from((rng >> 33) % n).unwrap()
    };
    let (mut kills, mut pauses) = (0u64, 0u64);
    let started = Instant::now();
    let mut cycle = 0u64;
    // At least the time asked for, and at least a kill per 10 s of it: a cycle stretches when a
    // restarted validator is slow to catch up (30 min gave 155 kills in 1,800 s).
    let kills_wanted = if nemesis { seconds / 10 } else { 0 };
    while started.elapsed() < Duration::from_secs(seconds) || kills < kills_wanted {
        let cycle_start = Instant::now();
        if nemesis {
            let victim = next(NODES as u64);
            net.kill9(victim);
            kills += 1;
            std::thread::sleep(Duration::from_secs(2));
            net.start_with(victim, &env);
            wait_up(&net, victim);
            if cycle % 2 == 1 {
                // Only once the restarted validator has caught up: one fault at a time.
                caught_up(&nodes, victim);
                let paused = (victim + 1 + next(NODES as u64 - 1)) % NODES;
                signal(&net, paused, "-STOP");
                pauses += 1;
                std::thread::sleep(Duration::from_secs(5));
                signal(&net, paused, "-CONT");
            }
        }
        cycle += 1;
        if let Some(rest) = CYCLE.checked_sub(cycle_start.elapsed()) {
            std::thread::sleep(
                rest.min(Duration::from_secs(seconds).saturating_sub(started.elapsed())),
            );
        }
    }

    // Heal: the workload stops, every node is up, and commits resume on every node.
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.join().unwrap();
    }
    let healed = Instant::now();
    let highest = nodes.iter().filter_map(|n| n.status().ok()).map(|s| s.height).max();
    let target = highest.expect("a validator answers after the heal") + 3;
    wait_until("every node commits after the heal", Duration::from_secs(120), || {
        nodes.iter().all(|n| n.status().is_ok_and(|s| s.height >= target))
    });
    let recovery = healed.elapsed();
    let seconds = started.elapsed().as_secs_f64();

    let chains: Vec<Vec<BlockTransactions>> = nodes.iter().map(chain_of).collect();
    let report = check(&c.genesis, &chains, &history);
    let counts = history.counts();
    eprintln!(
        "{name}: {seconds:.0} s, faults: {kills} kills, {pauses} pauses; operations ok {} / fail {} / unknown {}; \
         all nodes committing again {:.1} s after the heal",
        counts.ok,
        counts.fail,
        counts.unknown,
        recovery.as_secs_f64()
    );
    eprintln!("{report}");
    for i in 0..NODES {
        net.kill9(i);
    }
    let _ = std::fs::remove_dir_all(&net.dir);
    Run { report, counts, kills, pauses, recovery, seconds }
}

/// Waits until validator `i` is within a few blocks of the highest.
fn caught_up(nodes: &[Client], i: usize) {
    wait_until("the restarted validator catches up", Duration::from_secs(60), || {
        let top = nodes.iter().filter_map(|n| n.status().ok()).map(|s| s.height).max().unwrap_or(0);
        nodes[i].status().is_ok_and(|s| s.height + 3 >= top)
    });
}

#[test]
fn kills_and_pauses_under_load_lose_nothing_and_nodes_agree() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let seconds: u64 =
        std::env::var("MEDLEDGER_CHAOS_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(120);
    let run = chaos("chaos", 10, seconds, true, None);
    assert_eq!(run.report.violations(), 0, "{}", run.report);
    assert!(run.counts.ok > 50, "the workload made progress under faults: {:?}", run.counts);
    assert!(run.kills >= seconds / 10, "a kill every 10 s: {}", run.kills);
    assert!(run.pauses >= (run.kills / 2).saturating_sub(1), "{} pauses", run.pauses);
    assert!(run.recovery < Duration::from_secs(30), "commits resume after the heal");
}

/// Test the tests: each planted bug, in every validator, is reported by the property it breaks.
#[cfg(feature = "planted-bugs")]
#[test]
fn planted_bugs_are_caught_by_the_checker() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let run = chaos("planted-ack", 11, 10, false, Some("ack-before-commit"));
    assert!(!run.report.lost.is_empty(), "P1 catches acknowledging before commit: {}", run.report);
    eprintln!(
        "planted ack-before-commit: caught by P1 ({} lost of {} ok) in a {:.0} s run",
        run.report.lost.len(),
        run.counts.ok,
        run.seconds
    );
    let run = chaos("planted-over", 12, 10, false, Some("skip-over-claim-check"));
    assert!(!run.report.over_reimbursed.is_empty(), "P2 catches over-claims: {}", run.report);
    assert!(!run.report.model_mismatches.is_empty(), "P5 too: {}", run.report);
    eprintln!(
        "planted skip-over-claim-check: caught by P2 ({}) and P5 ({}) in a {:.0} s run",
        run.report.over_reimbursed.len(),
        run.report.model_mismatches.len(),
        run.seconds
    );
}
