//! Process chaos on loopback (../shared/RELIABILITY.md): four real validator processes under a
//! contended workload (several payers on one bill, retries, one transaction sent to two nodes,
//! claims adding up to just over a bill, transactions signed for another chain), while a
//! nemesis injects one fault per 10 s cycle: two cycles in three it `kill -9`s a random
//! validator and restarts it 2 s later (the second of them also pausing another with SIGSTOP
//! for 5 s once the restarted one has caught up); every third cycle it partitions the network.
//!
//! Validators reach each other only through fault-injecting TCP proxies, one per ordered pair
//! (`support::proxy`, wired in through `[peer_addresses]`). A partition isolates a random
//! validator for 5–15 s; every third partition instead splits the network 2 | 2 for 4–6 s,
//! which stops progress. During a partition the side without a quorum must commit nothing;
//! after the heal, commits resume and the cut-off validators catch up. At most one fault at a
//! time (f = 1 of 4, or a split that heals). Then everything heals, every node's chain is read
//! back and the checker (`medledger-checker`) replays it: no acknowledged commit lost, nothing
//! over-reimbursed, all nodes agreeing, the model agreeing with every receipt.
//!
//! It runs 150 s by default (15 faults: 10 kills, 5 pauses, 5 partitions);
//! `MEDLEDGER_CHAOS_SECS=1800` runs the long mode. With the `planted-bugs` feature (on in CI,
//! which tests with `--all-features`), a second test plants bugs in the validators and
//! requires the checker to catch each.

mod support;

use medledger_checker::{History, OpResult, WorkloadConfig, check, generate};
use medledger_client::{Client, ClientError};
use medledger_testkit::{Actor, Consortium, Patient};
use medledger_types::TxId;
use medledger_types::api::BlockTransactions;
use std::collections::HashSet;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use support::proxy::Mesh;
use support::*;

const NODES: usize = 4;

/// The tests of this file run one at a time: each runs four validators on a 2-core machine.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
/// Seconds between faults.
const CYCLE: Duration = Duration::from_secs(10);
/// How long after a partition starts its minority's height must have stopped: blocks
/// finalized just before the cut may still be executing until then.
const SETTLE: Duration = Duration::from_secs(2);
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
/// at once when it says two), until `stop`. Returns the ids of the transactions it sent that
/// are signed for another chain.
fn worker(
    w: u64,
    c: &Consortium,
    nodes: &[Client],
    history: &History,
    stop: &AtomicBool,
) -> HashSet<TxId> {
    let mut foreign = HashSet::new();
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
            register_policy: w == 0 && batch == 0,
            ..WorkloadConfig::new(w * 1_000_000 + batch, NODES)
        };
        batch += 1;
        for step in generate(c, &config) {
            if stop.load(Ordering::SeqCst) {
                return foreign;
            }
            if step.tx.body().chain_id != *c.chain_id() {
                foreign.insert(step.tx.id());
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
    foreign
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
/// Every block of `node`, whole (read with a validator's key: the fault checker replays the
/// sealed bodies through the model).
fn chain_of(node: &Client, validator_key: &medledger_types::SigningKey) -> Vec<BlockTransactions> {
    let top = node.status().unwrap().height;
    (1..=top)
        .map(|h| {
            let mut tries = 0;
            loop {
                match node.block_transactions_whole(h, validator_key) {
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
    foreign: Foreign,
    kills: u64,
    pauses: u64,
    partitions: Partitions,
    recovery: Duration,
    seconds: f64,
}

/// How the operations sending a transaction signed for another chain ended.
#[derive(Debug, Default)]
struct Foreign {
    /// Refused with `wrong_chain_id`, as an honest node must.
    refused: u64,
    /// Acknowledged as committed.
    ok: u64,
    /// Refused for another reason, or no definite answer (a node down).
    other: u64,
}

/// The partitions of one run.
#[derive(Debug, Default)]
struct Partitions {
    /// One validator cut off from the other three.
    isolations: u64,
    /// The network split 2 | 2.
    splits: u64,
    /// Blocks the side without a quorum committed once settled (must be 0).
    minority_commits: u64,
    /// Blocks the three connected validators committed while the fourth was isolated.
    majority_commits: u64,
    /// The longest time from a heal until every validator is caught up again.
    longest_recovery: Duration,
}

impl Partitions {
    fn total(&self) -> u64 {
        self.isolations + self.splits
    }
}

/// The height of the highest of `which` that answers.
fn top(nodes: &[Client], which: impl IntoIterator<Item = usize>) -> Option<u64> {
    which.into_iter().filter_map(|i| nodes[i].status().ok()).map(|s| s.height).max()
}

/// One partition: validator `v` alone for 5–15 s, or (`split`) `v` and another against the
/// other two for 4–6 s. Checks that the side without a quorum commits nothing once settled,
/// then heals and waits until every validator has caught up.
fn partition(
    mesh: &Mesh,
    nodes: &[Client],
    next: &mut impl FnMut(u64) -> usize,
    split: bool,
    seen: &mut Partitions,
) {
    // One fault at a time: the previous one's victim has caught up.
    for i in 0..NODES {
        caught_up(nodes, i);
    }
    let v = next(NODES as u64);
    let side: Vec<usize> = if split {
        let w = (v + 1 + next(NODES as u64 - 1)) % NODES;
        vec![v.min(w), v.max(w)]
    } else {
        vec![v]
    };
    let others: Vec<usize> = (0..NODES).filter(|i| !side.contains(i)).collect();
    let length = if split {
        Duration::from_secs(4 + next(3) as u64)
    } else {
        Duration::from_secs(5 + next(11) as u64)
    };
    mesh.split(&side);
    let cut = Instant::now();
    std::thread::sleep(SETTLE);
    // Without a quorum nothing commits: the whole network in a split, the isolated one alone.
    let minority: Vec<usize> = if split { (0..NODES).collect() } else { side.clone() };
    let minority_before = top(nodes, minority.iter().copied());
    let majority_before = top(nodes, others.iter().copied());
    std::thread::sleep(length.saturating_sub(cut.elapsed()));
    let minority_after = top(nodes, minority.iter().copied());
    let majority_after = top(nodes, others.iter().copied());
    mesh.heal_all();
    let healed = Instant::now();
    let advanced = |before: Option<u64>, after: Option<u64>| match (before, after) {
        (Some(before), Some(after)) => after.saturating_sub(before),
        _ => 0,
    };
    let minority_commits = advanced(minority_before, minority_after);
    seen.minority_commits += minority_commits;
    let what = if split {
        seen.splits += 1;
        format!("split {side:?} | {others:?}")
    } else {
        seen.isolations += 1;
        let majority = advanced(majority_before, majority_after);
        seen.majority_commits += majority;
        format!("isolated {v} (the other three committed {majority} blocks)")
    };
    // Commits resume: every validator, the cut-off ones included, moves past the highest
    // height seen at the heal and catches up.
    let target = top(nodes, 0..NODES).unwrap_or(0) + 2;
    wait_until("every validator commits again after a partition", Duration::from_secs(60), || {
        nodes.iter().all(|n| n.status().is_ok_and(|s| s.height >= target))
    });
    let recovery = healed.elapsed();
    seen.longest_recovery = seen.longest_recovery.max(recovery);
    eprintln!(
        "partition: {what} for {:.1} s; {minority_commits} commits without a quorum; all \
         committing again {:.1} s after the heal",
        length.as_secs_f64(),
        recovery.as_secs_f64()
    );
}

/// Runs the workload on a fresh 4-validator network for `seconds`, with the nemesis or without,
/// with a planted bug in every validator or none; heals, reads every chain and checks it.
fn chaos(name: &str, slot: u16, seconds: u64, nemesis: bool, planted: Option<&str>) -> Run {
    let mut net = Net::init(name, NODES, slot);
    // Every validator reaches every other through its own proxy, so links can be cut.
    let mesh = Mesh::route(&net);
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
    let mut partitions = Partitions::default();
    let started = Instant::now();
    let mut cycle = 0u64;
    // At least the time asked for, and at least a fault per 10 s of it: a cycle stretches when
    // a restarted validator is slow to catch up (30 min gave 155 kills in 1,800 s).
    let faults_wanted = if nemesis { seconds / 10 } else { 0 };
    while started.elapsed() < Duration::from_secs(seconds) || cycle < faults_wanted {
        let cycle_start = Instant::now();
        if nemesis && cycle % 3 == 2 {
            // Every third partition is a 2 | 2 split, the others isolate one validator.
            let split = partitions.total() % 3 == 1;
            partition(&mesh, &nodes, &mut next, split, &mut partitions);
        } else if nemesis {
            let victim = next(NODES as u64);
            net.kill9(victim);
            kills += 1;
            std::thread::sleep(Duration::from_secs(2));
            net.start_with(victim, &env);
            wait_up(&net, victim);
            if cycle % 3 == 1 {
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

    // Heal: the workload stops, every node is up and connected, and commits resume on every
    // node.
    mesh.heal_all();
    stop.store(true, Ordering::SeqCst);
    let foreign_txs: HashSet<TxId> = workers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    let healed = Instant::now();
    let highest = nodes.iter().filter_map(|n| n.status().ok()).map(|s| s.height).max();
    let target = highest.expect("a validator answers after the heal") + 3;
    wait_until("every node commits after the heal", Duration::from_secs(120), || {
        nodes.iter().all(|n| n.status().is_ok_and(|s| s.height >= target))
    });
    let recovery = healed.elapsed();
    let seconds = started.elapsed().as_secs_f64();

    let chains: Vec<Vec<BlockTransactions>> =
        nodes.iter().enumerate().map(|(i, n)| chain_of(n, &net.validator_key(i))).collect();
    let report = check(&c.genesis, &chains, &history);
    let counts = history.counts();
    let mut foreign = Foreign::default();
    for op in history.ops().iter().filter(|op| foreign_txs.contains(&op.invocation.tx_id)) {
        match op.result() {
            OpResult::Ok(_) => foreign.ok += 1,
            OpResult::Fail(code) if code == "wrong_chain_id" => foreign.refused += 1,
            OpResult::Fail(_) | OpResult::Unknown => foreign.other += 1,
        }
    }
    let (forwarded, refused) = mesh.traffic();
    eprintln!(
        "{name}: {seconds:.0} s, faults: {kills} kills, {pauses} pauses, {} partitions ({} \
         isolations, {} 2|2 splits; {} commits without a quorum, {} by the connected three, \
         longest recovery {:.1} s); proxies forwarded {forwarded} connections, refused \
         {refused}; operations ok {} / fail {} / unknown {} (signed for another chain: {} \
         refused wrong_chain_id, {} committed, {} otherwise); all nodes committing again {:.1} s \
         after the heal",
        partitions.total(),
        partitions.isolations,
        partitions.splits,
        partitions.minority_commits,
        partitions.majority_commits,
        partitions.longest_recovery.as_secs_f64(),
        counts.ok,
        counts.fail,
        counts.unknown,
        foreign.refused,
        foreign.ok,
        foreign.other,
        recovery.as_secs_f64()
    );
    eprintln!("{report}");
    for i in 0..NODES {
        net.kill9(i);
    }
    let _ = std::fs::remove_dir_all(&net.dir);
    drop(mesh);
    Run { report, counts, foreign, kills, pauses, partitions, recovery, seconds }
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
        std::env::var("MEDLEDGER_CHAOS_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(150);
    let run = chaos("chaos", 10, seconds, true, None);
    assert_eq!(run.report.violations(), 0, "{}", run.report);
    assert!(run.counts.ok > 50, "the workload made progress under faults: {:?}", run.counts);
    // Transactions signed for another chain are refused with a definite reason, never committed.
    assert!(run.foreign.refused > 0, "foreign transactions were sent: {:?}", run.foreign);
    assert_eq!(run.foreign.ok, 0, "a foreign transaction acknowledged: {:?}", run.foreign);
    let faults = run.kills + run.partitions.total();
    assert!(faults >= seconds / 10, "a fault every 10 s: {faults}");
    assert!(run.kills >= (faults * 2 / 3).saturating_sub(1), "{} kills", run.kills);
    assert!(run.pauses >= (run.kills / 2).saturating_sub(1), "{} pauses", run.pauses);
    assert!(run.partitions.total() >= 1, "a partition: {:?}", run.partitions);
    if seconds >= 150 {
        assert!(run.kills >= 10, "at least 10 kills in the default run: {}", run.kills);
    }
    if seconds >= 60 {
        assert!(run.partitions.splits >= 1, "a 2 | 2 split: {:?}", run.partitions);
    }
    assert_eq!(run.partitions.minority_commits, 0, "no commit without a quorum");
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
    let run = chaos("planted-chain", 13, 10, false, Some("accept-wrong-chain-id"));
    // Transactions signed for another chain were committed, and took effect where the reference
    // model refuses them (`wrong_chain_id`).
    let foreign: Vec<_> = run
        .report
        .model_mismatches
        .iter()
        .filter(|m| m.model.outcome.code() == "wrong_chain_id")
        .collect();
    assert!(!foreign.is_empty(), "P5 catches a foreign chain's transactions: {}", run.report);
    assert!(run.foreign.ok > 0, "validators acknowledged them: {:?}", run.foreign);
    eprintln!(
        "planted accept-wrong-chain-id: caught by P5 ({} mismatches, {} of them transactions of \
         another chain the model refuses; {} such sends acknowledged) in a {:.0} s run",
        run.report.model_mismatches.len(),
        foreign.len(),
        run.foreign.ok,
        run.seconds
    );
}
