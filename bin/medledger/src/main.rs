//! The `medledger` command. Parses flags and hands off; the work lives in the modules and,
//! as the node grows, in library crates.

mod keygen;
mod scenario;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// medledger: a consortium ledger for medical e-bills and claims.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Generate an ed25519 signing key and write it as a key file (owner-only permissions).
    Keygen {
        /// Where to write the key file. Without it, the key file is printed to standard output.
        #[arg(long, short)]
        out: Option<PathBuf>,
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
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keygen { out } => keygen::run(out.as_deref()),
        Command::Scenario { json } => scenario::run(json),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
