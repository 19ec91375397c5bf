//! The client commands (`status`, `bill`, `claim`, `watch`): the Rust SDK driven from the shell.
//!
//! ```text
//! flags ─▶ NodeArgs::connect ─▶ Node ─┬─ reads: status, bill, claim (printed as is or for people)
//!                                     └─ writes: Node::sign (key file, chain, expiry, nonce)
//!                                        ─▶ Node::submit (submit-and-wait) ─▶ Node::report
//! ```
//!
//! Every command talks to one node and prints for people, or with `--json` one JSON document
//! on standard output (amounts in integer fen, as in the API). A transaction the ledger rejects
//! becomes the [`Rejected`] error, which `main` turns into exit status [`EXIT_REJECTED`].

pub mod amount;
pub mod bill;
pub mod claim;
pub mod erase;
mod issue;
mod node;
pub mod policy;
pub mod receipt;
pub mod status;
pub mod watch;

pub use node::{Node, NodeArgs, Rejected, Submitted};

use medledger_crypto::{SigningKey, keyfile};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Exit status when a transaction was committed but the ledger rejected it, so scripts can
/// tell "the ledger said no" (final; retrying the same request changes nothing) from
/// "something went wrong on the way" (status 1; retrying may help).
pub const EXIT_REJECTED: u8 = 3;

/// The exit statuses, for the long help of every client command.
macro_rules! exit_codes_help {
    () => {
        "Exit status:
  0  done
  1  error: bad input, a file or the node cannot be read, or the node refused the request
     (one line on standard error, `error: HTTP-STATUS CODE: MESSAGE` when the node refused)
  2  the command line is wrong
  3  the transaction was committed but the ledger rejected it; standard error says
     `error: CODE: MESSAGE (…)` with the ledger's rejection code, e.g. over_claim"
    };
}
pub(crate) use exit_codes_help;

/// Long help of `medledger` itself: what the client commands share.
pub const HELP: &str = concat!(
    "The client commands (status, bill, claim, watch) talk to one node: --node URL, else the
environment variable MEDLEDGER_NODE, else the first node in ./localnet/localnet.json, else
http://127.0.0.1:8700. With --json they print JSON on standard output.

",
    exit_codes_help!()
);

/// `error` and its causes on one line, each cause once. (The SDK's errors repeat their cause
/// in their own message, which `{:#}` would print twice.)
pub fn error_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line.replace(['\r', '\n'], " ")
}

/// Writes one line to standard output. `Ok(false)` when the reader has gone away (`watch |
/// head`), so a follower stops quietly instead of panicking on a broken pipe.
pub fn emit(line: &str) -> anyhow::Result<bool> {
    use std::io::Write as _;
    match writeln!(std::io::stdout().lock(), "{line}") {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Prints `value` as pretty JSON on standard output.
pub fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Reads a signing key file (as written by `medledger keygen` or `medledger init`).
pub fn read_key(path: &Path) -> anyhow::Result<SigningKey> {
    Ok(keyfile::read(path)?)
}

/// `N` bytes from the operating system's randomness.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).expect("the operating system provides randomness");
    out
}

/// The name a value has in the API's JSON (`western_medicine`), or `?`.
pub fn api_name(value: &impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => "?".to_string(),
    }
}

/// A bill's public totals per category, `examination 30.00, western_medicine 67.00`, if it
/// gave any.
pub fn categories_line(bill: &medledger_types::Bill) -> Option<String> {
    let categories = &bill.issue.categories;
    (!categories.is_empty()).then(|| {
        let parts: Vec<String> =
            categories.iter().map(|c| format!("{} {}", api_name(&c.category), c.amount)).collect();
        parts.join(", ")
    })
}

/// `ms` since the Unix epoch as `YYYY-MM-DD hh:mm:ss UTC`.
pub fn utc(ms: u64) -> String {
    let secs = ms / 1_000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = medledger_types::policy::civil_date(days);
    let (h, m, s) = (rest / 3_600, rest % 3_600 / 60, rest % 60);
    format!("{year:04}-{month:02}-{day:02} {h:02}:{m:02}:{s:02} UTC")
}

/// The demo patients' keys written by `medledger init`, from the network directory or the
/// file `DIR/keys/patients.json` itself.
pub fn read_patients(path: &Path) -> anyhow::Result<Vec<(medledger_types::Pseudonym, SigningKey)>> {
    let dir: PathBuf = if path.is_dir() {
        path.to_path_buf()
    } else if path.ends_with("keys/patients.json") {
        path.parent().and_then(Path::parent).unwrap_or(Path::new(".")).to_path_buf()
    } else {
        anyhow::bail!("{}: expected a network directory or its keys/patients.json", path.display());
    };
    medledger_node::init::read_patients(&dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_790_000_000_123), "2026-09-21 14:13:20 UTC");
    }
}
