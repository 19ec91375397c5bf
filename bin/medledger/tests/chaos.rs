//! Process chaos on loopback (../shared/RELIABILITY.md): four real validator processes under a
//! contended workload (several payers on one bill, retries, one transaction sent to two nodes,
//! claims adding up to just over a bill), while a nemesis `kill -9`s a random validator every
//! 10 s and restarts it, and every other cycle pauses another with SIGSTOP for 5 s. At most
//! one validator is faulty at a time (f = 1 of 4). Then everything heals, every node's chain is
//! read back and the checker (`medledger-checker`) replays it: no acknowledged commit lost,
//! nothing over-reimbursed, all nodes agreeing, the model agreeing with every receipt.
//!
//! It runs 120 s by default (12 kills); `MEDLEDGER_CHAOS_SECS=1800` runs the long mode.

mod support;

use medledger_checker::{History, OpResult, WorkloadConfig, check, generate};
use medledger_client::{Client, ClientError};
use medledger_testkit::{Actor, Consortium, Patient};
use medledger_types::api::BlockTransactions;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use support::*;

const NODES: usize = 4;
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

#[test]
fn kills_and_pauses_under_load_lose_nothing_and_nodes_agree() {
    let seconds: u64 =
        std::env::var("MEDLEDGER_CHAOS_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(120);
    let mut net = Net::init("chaos", NODES, 10);
    for i in 0..NODES {
        net.start(i);
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
    eprintln!("chaos: {seconds} s, nemesis seed {seed}");
    let mut rng = seed;
    let mut next = move |n: u64| {
        rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        usize::try_from((rng >> 33) % n).unwrap()
    };
    let (kills, pauses) = (AtomicU64::new(0), AtomicU64::new(0));
    let started = Instant::now();
    let mut cycle = 0u64;
    while started.elapsed() < Duration::from_secs(seconds) {
        let cycle_start = Instant::now();
        let victim = next(NODES as u64);
        net.kill9(victim);
        kills.fetch_add(1, Ordering::Relaxed);
        std::thread::sleep(Duration::from_secs(2));
        net.start(victim);
        wait_up(&net, victim);
        if cycle % 2 == 1 {
            let paused = (victim + 1 + next(NODES as u64 - 1)) % NODES;
            signal(&net, paused, "-STOP");
            pauses.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(Duration::from_secs(5));
            signal(&net, paused, "-CONT");
        }
        cycle += 1;
        if let Some(rest) = CYCLE.checked_sub(cycle_start.elapsed()) {
            std::thread::sleep(rest);
        }
    }
    let (kills, pauses) = (kills.load(Ordering::Relaxed), pauses.load(Ordering::Relaxed));

    // Heal: the workload stops, every node is up, and commits resume on every node.
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.join().unwrap();
    }
    let healed = Instant::now();
    let target = nodes.iter().filter_map(|n| n.status().ok()).map(|s| s.height).max().unwrap() + 3;
    wait_until("every node commits after the heal", Duration::from_secs(120), || {
        nodes.iter().all(|n| n.status().is_ok_and(|s| s.height >= target))
    });
    let recovery = healed.elapsed();

    let chains: Vec<Vec<BlockTransactions>> = nodes.iter().map(chain_of).collect();
    let report = check(&c.genesis, &chains, &history);
    let counts = history.counts();
    eprintln!(
        "chaos: {:.0} s, faults: {kills} kills, {pauses} pauses; operations ok {} / fail {} / unknown {}; \
         all nodes committing again {:.1} s after the heal",
        started.elapsed().as_secs_f64(),
        counts.ok,
        counts.fail,
        counts.unknown,
        recovery.as_secs_f64()
    );
    eprintln!("{report}");
    assert_eq!(report.violations(), 0, "{report}");
    assert!(counts.ok > 50, "the workload made progress under faults: {counts:?}");
    assert!(kills >= seconds / 10, "a kill every 10 s: {kills}");
    for i in 0..NODES {
        net.kill9(i);
    }
    let _ = std::fs::remove_dir_all(&net.dir);
}
