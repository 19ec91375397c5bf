//! Four validator processes on loopback under load: committed blocks/s and transactions/s,
//! client-observed submit-to-commit latency, and how long a killed validator needs to catch
//! up 10,000 blocks.
//!
//! Run: `cargo bench -p medledger --bench localnet` (release build of the real binary).
//! Quick: `MEDLEDGER_BENCH_SCALE=0.1 cargo bench -p medledger --bench localnet`.
//!
//! Every transaction is signed before the clock starts. Each phase checks that what it sent
//! was committed and accepted, so a broken run cannot print a good number.

#![allow(clippy::cast_possible_truncation)] // sizes and rates printed for people

#[path = "../tests/support/mod.rs"]
mod support;

use medledger_testkit::{TxFactory, bill, claim, claim_id};
use medledger_types::{BillId, ChainId, MemberId, Payload, Transaction};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use support::*;

const CLIENT_THREADS: usize = 8;

fn metric(api: SocketAddr, name: &str) -> u64 {
    metrics(api)
        .lines()
        .find_map(|line| line.strip_prefix(name).and_then(|rest| rest.trim().parse().ok()))
        .unwrap_or(0)
}

/// Submits `txs` from several client threads, round-robin across the validators, and waits
/// until validator 0 has executed them all, plus the `probes` transactions another thread has
/// seen committed meanwhile. Returns the elapsed time.
fn load(net: &Net, txs: Vec<Transaction>, probes: &AtomicU64) -> Duration {
    let count = txs.len() as u64;
    let before = metric(net.apis[0], "medledger_txs_executed_total");
    let probes_before = probes.load(Ordering::SeqCst);
    let txs = Arc::new(txs);
    let start = Instant::now();
    let threads: Vec<_> = (0..CLIENT_THREADS)
        .map(|t| {
            let txs = txs.clone();
            let apis = net.apis.clone();
            std::thread::spawn(move || {
                for (i, tx) in txs.iter().enumerate().skip(t).step_by(CLIENT_THREADS) {
                    loop {
                        let (status, _) = submit(apis[i % apis.len()], tx, false);
                        // 503: the mempool is full; back off and retry (backpressure).
                        if status != 503 {
                            assert!(status == 202 || status == 200, "submission refused: {status}");
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    wait_until("every submitted transaction executed", Duration::from_secs(600), || {
        let extra = probes.load(Ordering::SeqCst) - probes_before;
        metric(net.apis[0], "medledger_txs_executed_total") >= before + count + extra
    });
    start.elapsed()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let scale: f64 =
        std::env::var("MEDLEDGER_BENCH_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let mut net = Net::init("bench-localnet", 4, 7);
    // Propose as fast as consensus allows, even when idle, so that catching up has many
    // blocks to fetch.
    for i in 0..4 {
        let path = net.home(i).join("config.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("idle_block_interval_ms = 500"), "init writes the default pacing");
        assert!(text.contains("heartbeat_ms = 10000"), "init writes the default heartbeat");
        let text = text
            .replace("idle_block_interval_ms = 500", "idle_block_interval_ms = 0")
            .replace("heartbeat_ms = 10000", "heartbeat_ms = 0");
        std::fs::write(path, text).unwrap();
    }
    for i in 0..4 {
        net.start(i);
    }
    wait_until("four validators finalize", Duration::from_secs(120), || {
        net.apis.iter().all(|a| height(*a).is_some_and(|h| h >= 2))
    });
    println!("medledger localnet benchmark: 4 validator processes on loopback, scale {scale}");
    println!(
        "machine: {} cores shared by the validators and the load client",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );

    // Empty-block rate.
    let h0 = height(net.apis[0]).unwrap();
    std::thread::sleep(Duration::from_secs(5));
    let h1 = height(net.apis[0]).unwrap();
    println!("{:<56} {:>10.1} blocks/s", "finalized empty blocks", (h1 - h0) as f64 / 5.0);

    let hospital = net.member_key("city-central-hospital");
    let patients = net.patients();
    // Each phase signs its transactions just before it starts, expiring as late as allowed.
    let factory = |net: &Net| {
        TxFactory::new(
            ChainId::new("medledger-demo").unwrap(),
            height(net.apis[0]).unwrap() + 1_990,
        )
    };
    let mut f = factory(&net);
    let code = medledger_testkit::DEMO_BILL_CODE;

    // Issuance: batches of 100 bills.
    let batches = ((200.0 * scale) as usize).max(10);
    let issue: Vec<Transaction> = (0..batches)
        .map(|b| {
            let bills = (0..100)
                .map(|k| {
                    let n = (b * 100 + k + 1) as u64;
                    bill(
                        BillId::new(code, n).unwrap(),
                        patients[(n as usize) % patients.len()].0,
                        10_000,
                        5_000,
                    )
                })
                .collect();
            f.sign(&hospital, net.issue(bills))
        })
        .collect();
    let no_probes = AtomicU64::new(0);
    let accepted_before = metric(net.apis[0], "medledger_txs_accepted_total");
    let blocks_before = height(net.apis[0]).unwrap();
    let t = load(&net, issue, &no_probes);
    let accepted = metric(net.apis[0], "medledger_txs_accepted_total") - accepted_before;
    assert_eq!(accepted, batches as u64, "every issuance batch is accepted");
    let blocks = height(net.apis[0]).unwrap() - blocks_before;
    println!(
        "{:<56} {:>10.0} bills/s  ({batches} txs of 100 bills in {:.2} s, {blocks} blocks)",
        "issue bills (batches of 100), committed",
        (batches * 100) as f64 / t.as_secs_f64(),
        t.as_secs_f64()
    );

    // Individually signed claims, one per bill, filed by the bill's patient.
    let mut f = factory(&net);
    let claims = ((batches * 100) as f64 * 0.8) as usize;
    let ss = MemberId::new("social-security").unwrap();
    // The claim on bill `i + 1`, filed by that bill's patient.
    let mut claim_on = |i: usize| {
        let n = (i + 1) as u64;
        let (patient, key) = &patients[(n as usize) % patients.len()];
        let sub = claim(claim_id(n), &ss, *patient, &[(BillId::new(code, n).unwrap(), 6_000)]);
        f.sign(key, Payload::SubmitClaim { claim: sub, consent: None })
    };
    let claim_txs: Vec<Transaction> = (0..claims).map(&mut claim_on).collect();
    // Latency probe: claims on the remaining bills, one at a time with ?wait=commit, while the
    // load runs.
    let probe: Vec<Transaction> =
        (claims..(batches * 100).min(claims + 200)).map(&mut claim_on).collect();
    let probe_api = net.apis[1];
    let probes_done = Arc::new(AtomicU64::new(0));
    let probe_count = probe.len() as u64;
    let prober = std::thread::spawn({
        let probes_done = probes_done.clone();
        move || {
            let mut latencies: Vec<f64> = Vec::new();
            for tx in &probe {
                let start = Instant::now();
                let (status, body) = submit(probe_api, tx, true);
                assert_eq!(status, 200, "{body}");
                latencies.push(start.elapsed().as_secs_f64() * 1_000.0);
                probes_done.fetch_add(1, Ordering::SeqCst);
            }
            latencies
        }
    });
    let accepted_before = metric(net.apis[0], "medledger_txs_accepted_total");
    let blocks_before = height(net.apis[0]).unwrap();
    let t = load(&net, claim_txs, &probes_done);
    let blocks = height(net.apis[0]).unwrap() - blocks_before;
    let mut latencies = prober.join().unwrap();
    wait_until("the probes executed on validator 0", Duration::from_secs(60), || {
        metric(net.apis[0], "medledger_txs_accepted_total") - accepted_before
            >= claims as u64 + probe_count
    });
    let accepted = metric(net.apis[0], "medledger_txs_accepted_total") - accepted_before;
    assert_eq!(accepted, claims as u64 + probe_count, "every claim is accepted");
    latencies.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "{:<56} {:>10.0} tx/s     ({claims} claims in {:.2} s, {blocks} blocks, {:.1} blocks/s)",
        "claims (individually signed), committed",
        claims as f64 / t.as_secs_f64(),
        t.as_secs_f64(),
        blocks as f64 / t.as_secs_f64()
    );
    println!(
        "{:<56} p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} probes)",
        "claim submit-to-commit latency under that load",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.9),
        percentile(&latencies, 0.99),
        latencies.last().unwrap(),
        latencies.len()
    );

    // Catch-up: kill a validator, let the others finalize 10,000 blocks, restart it.
    let gap = ((10_000.0 * scale) as u64).max(200);
    net.kill9(3);
    let killed_at = height(net.apis[0]).unwrap();
    let produced = Instant::now();
    let mut last_report = Instant::now();
    wait_until("the others finalize the gap", Duration::from_secs(3_600), || {
        let h = height(net.apis[0]).unwrap();
        if last_report.elapsed() > Duration::from_secs(30) {
            println!("  … {} of {gap} blocks finalized while validator 3 is down", h - killed_at);
            last_report = Instant::now();
        }
        h >= killed_at + gap
    });
    let target = height(net.apis[0]).unwrap();
    println!(
        "{:<56} {:>10.1} blocks/s  (3 of 4 validators, {} blocks)",
        "finalized empty blocks with one validator down",
        (target - killed_at) as f64 / produced.elapsed().as_secs_f64(),
        target - killed_at
    );
    let restart = Instant::now();
    net.start(3);
    wait_until("validator 3 catches up", Duration::from_secs(3_600), || {
        height(net.apis[3]).is_some_and(|h| h >= target)
    });
    println!(
        "{:<56} {:>10.1} s     ({} blocks behind, restart included)",
        "restarted validator catches up",
        restart.elapsed().as_secs_f64(),
        target - killed_at
    );
    let common = net.apis.iter().map(|a| height(*a).unwrap()).min().unwrap();
    let roots: Vec<_> = net
        .apis
        .iter()
        .map(|a| get_json(*a, &format!("/v1/blocks/{common}")).unwrap().1["state_root"].clone())
        .collect();
    assert!(roots.iter().all(|r| *r == roots[0]), "validators disagree at {common}");
    println!("all four validators agree on the state root at height {common}");
}
