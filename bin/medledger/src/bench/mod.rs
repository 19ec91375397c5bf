//! `medledger bench`: a local network of real validator processes driven by pre-signed
//! transactions, with throughput, latency, rejections and resource use in one report.
//!
//! Every transaction is built and signed before the clock starts. Senders submit them
//! round-robin to the validators, open-loop at `--rate` or closed-loop (as fast as the network
//! accepts them, backing off on 503: the peak). One thread follows node 0's event stream and
//! stamps each transaction when its block is executed, so submit-to-commit latency is measured
//! per transaction, and the rejections the ledger gives are counted by reason and checked
//! against the duplicates and over-claims the workload planted.

mod load;
mod plot;
mod png;
mod postgres;
mod report;

use anyhow::Context as _;
use medledger_client::Client;
use medledger_node::init::InitOptions;
use medledger_node::localnet::Localnet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

pub use load::Workload;

/// `medledger bench …`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// What to drive: `claims` (individually signed claims, then their settlements, with a
    /// share of duplicates and over-claims that must be rejected), `issue` (hospitals issue
    /// sealed bills in signed batches) or `mixed` (issue → claim → settle, each claim filed
    /// when its bill is seen committed and each settlement when its claim is) or `auto` (the
    /// social security bureau registers a policy; claims then settle in the block that accepts
    /// them, and submit-to-settled is measured for those).
    #[arg(long, value_enum, default_value = "claims")]
    pub workload: Workload,
    /// How much: claims (claims), bills (issue, mixed).
    #[arg(long, default_value_t = 10_000)]
    pub count: usize,
    /// Open loop: submit this many transactions per second. Without it, closed loop: as fast
    /// as the network takes them, which finds the peak.
    #[arg(long, value_name = "TX_PER_S")]
    pub rate: Option<f64>,
    /// Validators in the local network.
    #[arg(long, default_value_t = 4)]
    pub validators: usize,
    /// Client threads submitting.
    #[arg(long, default_value_t = 8)]
    pub clients: usize,
    /// Transactions per HTTP request: 1 submits each with its own `POST /v1/txs`; more sends
    /// up to that many per `POST /v1/txs/batch`, as a billing system or the payment platform
    /// would (each transaction is still individually signed and checked).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1_000))]
    pub submit_batch: u16,
    /// Bills per issuance batch (issue, mixed).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..=1_000))]
    pub batch: u16,
    /// Share of claims filed twice (the second is a duplicate and must be rejected), percent.
    #[arg(long, default_value_t = 5)]
    pub duplicates_percent: u8,
    /// Share of extra claims asking for more than the bill's claimable amount, percent.
    #[arg(long, default_value_t = 5)]
    pub over_claims_percent: u8,
    /// The network's directory (default: a fresh one in the system's temporary directory,
    /// removed afterwards).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// API port of validator 0 (P2P ports are 1,000 above).
    #[arg(long, default_value_t = 18_700)]
    pub base_port: u16,
    /// Also write the report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Draw committed tx/s and latency over time into this file: a PNG or an SVG, by its
    /// extension.
    #[arg(long, value_name = "FILE.png|FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Start the ledger with this many bills already in its state (generated at genesis; see
    /// `medledger init --synthetic-bills`), to measure how cost grows with state.
    #[arg(long, default_value_t = 0, value_name = "BILLS")]
    pub preload_bills: u64,
    /// Measure the limits and a PostgreSQL baseline in the same run and report the ratios.
    #[arg(long)]
    pub compare: bool,
}

/// Long help of `medledger bench`.
pub const HELP: &str = "Examples:
  medledger bench                                  # 10,000 signed claims + settlements, peak
  medledger bench --workload claims --rate 1000    # open loop at 1,000 tx/s
  medledger bench --workload issue --count 50000 --batch 500
  medledger bench --workload mixed --count 5000 --json bench.json
  medledger bench --workload auto --count 5000 --rate 500   # claims settled by the policy
  medledger bench --compare                        # with the signature bound and PostgreSQL

Signing happens before the clock starts. The report gives committed tx/s (and bills/s),
submit-to-commit latency p50/p90/p99/max, claim submit-to-settled latency (mixed, and auto,
where the payer's policy settles each claim in the block that accepts it), the ledger's
rejections by reason checked against what the workload planted, validator CPU seconds per
1,000 transactions, each validator's peak memory and the bytes on disk per bill.
See docs/BENCHMARKS.md.";

pub fn run(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.validators >= 1, "--validators must be at least 1");
    anyhow::ensure!(args.count >= 1, "--count must be at least 1");
    let plot_format = args.plot.as_deref().map(plot::Format::check).transpose()?;
    let (dir, temporary) = match &args.dir {
        Some(dir) => (dir.clone(), false),
        None => {
            (std::env::temp_dir().join(format!("medledger-bench-{}", std::process::id())), true)
        }
    };
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let options = InitOptions {
        validators: args.validators,
        dir: dir.clone(),
        base_port: args.base_port,
        patients: 1_000,
        synthetic_bills: args.preload_bills,
        ..InitOptions::default()
    };
    let net = Localnet::start(&options).context("starting the local network")?;
    let nodes: Vec<Client> =
        net.apis.iter().map(|a| Client::new(&format!("http://{a}"))).collect::<Result<_, _>>()?;
    let height = crate::demo::wait_ready(&nodes, &net)?;
    eprintln!(
        "{} validators ready at height {height} in {}; {} cores on this machine",
        args.validators,
        dir.display(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let result = load::run(args, &net, &nodes);
    let mut net = net;
    net.stop();
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let mut report = result?;
    if args.compare {
        report.compare = Some(report::compare(args, &report));
    }
    report::print(&report);
    if let (Some(path), Some(format)) = (&args.plot, plot_format) {
        plot::write(&report, path, format)?;
        eprintln!("plot written to {}", path.display());
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("report written to {}", path.display());
    }
    Ok(if report.checks_ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// How long the run waits for the last transactions after the senders finish.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(120);
