//! The `medledger` command. Parses flags and hands off; the work lives in the modules and,
//! as the node grows, in library crates.

mod bench;
mod cli;
mod demo;
mod keygen;
mod scenario;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// medledger: a consortium ledger for medical e-bills and claims.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None, after_long_help = cli::HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// What `init` creates and `localnet` runs.
#[derive(clap::Args, Debug)]
struct NetworkArgs {
    /// Number of validators (4 tolerates one crashed or malicious validator).
    #[arg(long, default_value_t = 4)]
    validators: usize,
    /// The network's directory (`init` needs it empty or absent; `localnet` creates the
    /// network there when it is).
    #[arg(long, default_value = "localnet")]
    dir: PathBuf,
    /// API port of validator 0; validator I uses P+I for its API and P+1000+I for P2P.
    #[arg(long, default_value_t = 8700)]
    base_port: u16,
    /// Number of demo patients.
    #[arg(long, default_value_t = 300)]
    patients: usize,
    /// The chain id of a new network. Without it each new network gets its own,
    /// `medledger-` and 8 random hex digits, so nothing signed for one is accepted on another.
    #[arg(long)]
    chain_id: Option<String>,
    /// Capacity tests: the ledger starts with this many generated bills (code 99000001, issued
    /// by City Central Hospital to the demo patients in turn, 100.00 yuan each, no private
    /// body). Each validator holds about 600 bytes of memory per bill.
    #[arg(long, default_value_t = 0, value_name = "BILLS")]
    synthetic_bills: u64,
}

impl From<NetworkArgs> for medledger_node::init::InitOptions {
    fn from(a: NetworkArgs) -> Self {
        Self {
            validators: a.validators,
            dir: a.dir,
            base_port: a.base_port,
            patients: a.patients,
            chain_id: a.chain_id,
            synthetic_bills: a.synthetic_bills,
        }
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a demo consortium with fresh keys: genesis.json, one home per validator, and the
    /// members' and demo patients' keys.
    ///
    /// Validator I serves its API on 127.0.0.1:(P+I) and P2P on 127.0.0.1:(P+1000+I), where P is
    /// --base-port (8700 by default). Key files are written with owner-only permissions.
    Init(NetworkArgs),
    /// Run one validator from its home directory (created by `init`).
    Node {
        /// The validator's home: config.toml, genesis.json, validator.key.json, data/.
        #[arg(long)]
        home: PathBuf,
    },
    /// Run a local network: one process per validator, on loopback.
    ///
    /// Creates the consortium first when --dir is empty or absent. Writes DIR/localnet.json with
    /// each node's API and P2P addresses, process id and home; logs go to DIR/nodeI/node.log.
    /// Ctrl-C or SIGTERM stops every validator cleanly.
    Localnet(NetworkArgs),
    /// Generate an ed25519 signing key and write it as a key file (owner-only permissions).
    Keygen {
        /// Where to write the key file. Without it, the key file is printed to standard output.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Start a 4-validator local network and play the bill-and-claim story on it.
    ///
    /// Each step is a signed transaction committed by consensus; the outcome and latency of
    /// each are printed, then a summary. The network keeps running until Ctrl-C (or stops at
    /// once with --exit). Reuses the network in --dir if there is one.
    Demo {
        #[command(flatten)]
        network: NetworkArgs,
        /// Print a machine-readable JSON summary.
        #[arg(long)]
        json: bool,
        /// Stop the network after the story.
        #[arg(long)]
        exit: bool,
    },
    /// Play the bill-and-claim story on an in-process ledger and check every outcome.
    ///
    /// A hospital issues a batch of bills, a patient finds them and claims part of one from the
    /// social security bureau, then the rest from an insurer; duplicates, over-claims, replays
    /// and voiding a reimbursed bill are refused with their reasons. Exits non-zero if any step
    /// does not turn out as the rules say.
    Scenario {
        /// Print a machine-readable JSON summary instead of the narrated story.
        #[arg(long)]
        json: bool,
    },
    /// Show a node's status: height, last block, state root, peers, mempool.
    #[command(after_long_help = cli::status::HELP)]
    Status(cli::NodeArgs),
    /// Issue bills from a file, show a bill, void a bill.
    Bill(cli::bill::BillArgs),
    /// File, show, settle, reject and withdraw claims; record payments of auto-settled ones.
    Claim(cli::claim::ClaimArgs),
    /// Register and show payers' claim policies (adjudication and auto-settlement terms).
    Policy(cli::policy::PolicyArgs),
    /// Follow the node's events (bills issued, claims filed and settled, blocks), one line each.
    #[command(after_long_help = cli::watch::HELP)]
    Watch(cli::watch::WatchArgs),
    /// Check a stopped validator's stored blocks and certificates, and re-execute them.
    ///
    /// Every finalized block must be readable, continue its parent's digest, be the block its
    /// finalization certifies, carry a certificate signed by a quorum of the genesis validators
    /// (where one is stored), and, re-executed from genesis, reproduce the state roots the
    /// validators agreed on. Exit status 1 names the first damaged block. A node runs the same
    /// checks (but the certificates' signatures) when it starts, and refuses to start on damage.
    Check {
        /// The validator's home (created by `init`); stop the validator first.
        #[arg(long)]
        home: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Prepare a stopped validator whose stored blocks are damaged (it refuses to start, or
    /// `check` fails) to fetch every block again from its peers.
    ///
    /// Moves every part of the data directory but consensus's journal into
    /// `<data>.damaged-<unix seconds>` beside it; nothing is deleted. The journal of the
    /// validator's own votes stays: without it the validator could contradict a vote it cast
    /// before, and its peers would block it as an equivocator (for an hour). Start the validator
    /// again afterwards; `medledger status` shows it catching up.
    Resync {
        /// The validator's home (created by `init`); stop the validator first.
        #[arg(long)]
        home: PathBuf,
    },
    /// Verify a bill or claim receipt offline, with nothing but the genesis file.
    #[command(after_long_help = cli::receipt::VERIFY_HELP)]
    Verify(cli::receipt::VerifyArgs),
    /// Print the API's OpenAPI 3.1 document (the one every node serves at /openapi.json), to
    /// generate clients or browse the API without a running node.
    Openapi,
    /// Erase keys so that bill bodies become unreadable (crypto-shredding): a hospital's copy
    /// of one patient's bodies, or a patient's own key file.
    ///
    /// The ledger never deletes anything: blocks, state roots and receipts keep verifying. What
    /// goes is the ability to decrypt: once every copy of the key a body is wrapped to is gone,
    /// its ciphertext is noise. See docs/design/0007-privacy.md for what remains and why.
    #[command(after_long_help = cli::erase::HELP)]
    Erase(cli::erase::EraseArgs),
    /// Benchmark a local network of real validators: throughput, latency, rejections, CPU,
    /// memory and disk, with pre-signed transactions (and, with --compare, the signature bound
    /// and a PostgreSQL baseline measured in the same run).
    #[command(after_long_help = bench::HELP)]
    Bench(bench::BenchArgs),
}

fn init(options: medledger_node::init::InitOptions) -> anyhow::Result<std::process::ExitCode> {
    let report = medledger_node::init::init(&options)?;
    println!("created chain {} in {}", report.chain_id, options.dir.display());
    println!("  genesis: {}", report.genesis.display());
    println!(
        "  genesis digest: {} (publish it: receipt verifiers pin it with --genesis-digest)",
        report.genesis_digest
    );
    for node in &report.nodes {
        println!(
            "  {}  api http://{}  p2p {}",
            node.home.display(),
            node.api_address,
            node.p2p_address
        );
    }
    println!("  member keys: {}", options.dir.join("keys").display());
    Ok(std::process::ExitCode::SUCCESS)
}

fn check(home: &std::path::Path, json: bool) -> anyhow::Result<std::process::ExitCode> {
    let started = std::time::Instant::now();
    let report = medledger_node::node::check(home)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{}: {} finalized blocks checked and re-executed ({} with a verified certificate) in {:.1} s; state root {}",
            home.display(),
            report.blocks,
            report.certified,
            started.elapsed().as_secs_f64(),
            report.state_root
        );
    }
    if let Some(problem) = report.problems.first() {
        eprintln!("error: damaged: {problem}");
        return Ok(std::process::ExitCode::FAILURE);
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// Structured logs to standard error; `RUST_LOG` overrides the default level (info).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_ansi(ansi).init();
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Init(args) => init(args.into()),
        Command::Node { home } => {
            init_logging();
            medledger_node::node::launch(&home).map(|()| std::process::ExitCode::SUCCESS)
        }
        Command::Localnet(args) => {
            medledger_node::localnet::run(args.into()).map(|()| std::process::ExitCode::SUCCESS)
        }
        Command::Demo { network, json, exit } => demo::run(network.into(), json, exit),
        Command::Keygen { out } => keygen::run(out.as_deref()),
        Command::Scenario { json } => scenario::run(json),
        Command::Status(args) => cli::status::run(&args),
        Command::Bill(args) => cli::bill::run(args),
        Command::Claim(args) => cli::claim::run(args),
        Command::Policy(args) => cli::policy::run(args),
        Command::Watch(args) => cli::watch::run(args),
        Command::Check { home, json } => check(&home, json),
        Command::Resync { home } => medledger_node::node::resync(&home).map(|report| {
            println!(
                "moved {} parts of {}'s data aside to {} (kept {}); start the validator again \
                 and it fetches every block from its peers",
                report.moved.len(),
                home.display(),
                report.moved_to.display(),
                report.kept
            );
            std::process::ExitCode::SUCCESS
        }),
        Command::Verify(args) => cli::receipt::run_verify(&args),
        Command::Erase(args) => cli::erase::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Openapi => medledger_node::api::openapi()
            .to_pretty_json()
            .map_err(Into::into)
            .and_then(|text| cli::emit(&text))
            .map(|_| std::process::ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", cli::error_line(&error));
            match error.downcast_ref::<cli::Rejected>() {
                Some(_) => std::process::ExitCode::from(cli::EXIT_REJECTED),
                None => std::process::ExitCode::FAILURE,
            }
        }
    }
}
