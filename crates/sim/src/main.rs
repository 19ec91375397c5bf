//! `medledger-sim`: runs seeds of the deterministic cluster simulation and prints, per seed and
//! in total, what the fault tests report.

use clap::Parser;
use medledger_sim::{Options, Outcome, Summary, run};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Deterministic simulation of a whole medledger cluster under faults.
///
/// Each seed runs 4–7 real validator cores (consensus, mempool, execution, storage) in
/// Commonware's deterministic runtime and simulated network, with a seeded schedule of crashes,
/// partitions, lossy links, storage faults and (in three seeds in four) one Byzantine validator
/// (a voting mock, or a real validator proposing malicious blocks),
/// under the checker's contended workload; then heals everything and checks every chain
/// (P1–P5). A failing seed replays exactly with `--seed N`.
#[derive(Parser, Debug)]
#[command(name = "medledger-sim", version)]
struct Args {
    /// How many seeds to run, from --first.
    #[arg(long, default_value_t = 20)]
    seeds: u64,
    /// The first seed.
    #[arg(long, default_value_t = 1)]
    first: u64,
    /// Run this one seed only (replays a failure), printing the checker's whole report.
    #[arg(long, conflicts_with_all = ["seeds", "first"])]
    seed: Option<u64>,
    /// Simulated seconds of workload and faults per seed.
    #[arg(long, default_value_t = 30)]
    secs: u64,
    /// Force the cluster size (4–7); by default each seed picks one.
    #[arg(long, value_parser = clap::value_parser!(u64).range(4..=7))]
    validators: Option<u64>,
    /// Seeds run at once (each simulation is single-threaded).
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Run every seed twice and require the same event hash (determinism).
    #[arg(long)]
    twice: bool,
    /// No faults and no Byzantine validator (a baseline).
    #[arg(long)]
    calm: bool,
    /// Print every fault, with the simulated time and each node's height (with --seed).
    #[arg(long)]
    trace: bool,
    /// Give every seed a Byzantine proposer (in place of a Byzantine mock): a validator whose
    /// proposals re-include transactions, carry foreign or forged ones, or are oversized.
    #[arg(long)]
    byzantine_proposer: bool,
    /// Plant a ledger bug in every validator (skip-over-claim-check, accept-wrong-chain-id;
    /// needs a build with --features planted-bugs): the run must then fail.
    #[arg(long)]
    plant: Option<String>,
    /// Write every seed's outcome (plan, faults, checker report) as JSON lines to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    if args.trace {
        // Commonware's warnings (a peer blocked, and why) alongside the fault trace;
        // RUST_LOG overrides.
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    }
    let seeds: Vec<u64> = match args.seed {
        Some(seed) => vec![seed],
        None => (args.first..args.first.saturating_add(args.seeds)).collect(),
    };
    let options = |seed| Options {
        seed,
        secs: args.secs,
        validators: args.validators.map(|v| usize::try_from(v).expect("4-7")),
        calm: args.calm,
        trace: args.trace,
        planted: args.plant.clone(),
        byzantine_proposer: args.byzantine_proposer,
    };
    let started = Instant::now();
    let next = AtomicU64::new(0);
    let outcomes: Mutex<Vec<Outcome>> = Mutex::new(Vec::new());
    let nondeterministic: Mutex<Vec<u64>> = Mutex::new(Vec::new());
    let total = seeds.len();
    std::thread::scope(|scope| {
        for _ in 0..args.jobs.max(1) {
            scope.spawn(|| {
                loop {
                    let k = usize::try_from(next.fetch_add(1, Ordering::SeqCst)).expect("fits");
                    let Some(&seed) = seeds.get(k) else { break };
                    let outcome = run(&options(seed));
                    if args.twice {
                        let again = run(&options(seed));
                        if again.event_hash != outcome.event_hash {
                            nondeterministic.lock().expect("not poisoned").push(seed);
                            eprintln!(
                                "seed {seed}: NOT DETERMINISTIC: event hash {} then {}",
                                outcome.event_hash, again.event_hash
                            );
                        }
                    }
                    let mut outcomes = outcomes.lock().expect("not poisoned");
                    let done = outcomes.len() + 1;
                    let elapsed = started.elapsed().as_secs_f64();
                    let eta = elapsed / done as f64 * (total - done) as f64;
                    println!(
                        "[{done}/{total}, {elapsed:.0} s, ~{eta:.0} s left] {}",
                        outcome.line()
                    );
                    if outcome.violations() > 0 {
                        println!("  VIOLATIONS: {}", outcome.report.to_json());
                        println!(
                            "  replay: medledger-sim --seed {seed} --secs {}{} --trace",
                            args.secs,
                            args.validators.map_or(String::new(), |v| format!(" --validators {v}"))
                        );
                    } else if args.seed.is_some() {
                        println!("{}", outcome.report.to_json());
                    }
                    outcomes.push(outcome);
                }
            });
        }
    });
    let mut outcomes = outcomes.into_inner().expect("not poisoned");
    outcomes.sort_by_key(|o| o.plan.seed);
    if let Some(path) = &args.json {
        let lines: Vec<String> =
            outcomes.iter().map(|o| serde_json::to_string(o).expect("serializes")).collect();
        if let Err(e) = std::fs::write(path, lines.join("\n") + "\n") {
            eprintln!("error: writing {}: {e}", path.display());
            return std::process::ExitCode::FAILURE;
        }
    }
    let summary = Summary::of(&outcomes);
    println!("{}", summary.text(started.elapsed()));
    let nondeterministic = nondeterministic.into_inner().expect("not poisoned");
    if !nondeterministic.is_empty() {
        println!("nondeterministic seeds: {nondeterministic:?}");
    } else if args.twice {
        println!("determinism: every seed ran twice with the same event hash ({total} seeds)");
    }
    if summary.failing_seeds.is_empty() && nondeterministic.is_empty() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
