//! Planted bugs for testing the fault tests (../shared/RELIABILITY.md, "Test the tests"),
//! compiled only with the `planted-bugs` feature and switched on only by the environment
//! variable `MEDLEDGER_PLANTED_BUG` when a validator starts:
//!
//! - `ack-before-commit`: `POST /v1/txs?wait=commit` answers "committed" with an accepted
//!   receipt as soon as the transaction is in the mempool;
//! - `skip-over-claim-check`: the ledger accepts claims above a bill's claimable amount;
//! - `accept-wrong-chain-id`: the chain id check is skipped wherever it is enforced (mempool
//!   admission from the API and gossip, and block execution in the ledger), so a transaction
//!   signed for another chain is admitted, committed and takes effect.
//!
//! The checker must report a violation for each (bin/medledger/tests/chaos.rs).

use std::sync::atomic::{AtomicBool, Ordering};

static ACK_BEFORE_COMMIT: AtomicBool = AtomicBool::new(false);

/// The variable that plants a bug.
pub const VARIABLE: &str = "MEDLEDGER_PLANTED_BUG";

/// Plants the bug the environment names, if any; says which.
pub fn from_environment() -> anyhow::Result<Option<String>> {
    let Ok(bug) = std::env::var(VARIABLE) else { return Ok(None) };
    match bug.as_str() {
        "ack-before-commit" => ACK_BEFORE_COMMIT.store(true, Ordering::SeqCst),
        "skip-over-claim-check" => medledger_ledger::planted::skip_over_claim_check_everywhere(),
        "accept-wrong-chain-id" => medledger_ledger::planted::accept_wrong_chain_id_everywhere(),
        other => anyhow::bail!("{VARIABLE}={other}: no such planted bug"),
    }
    Ok(Some(bug))
}

/// Whether submissions are acknowledged before they commit.
pub fn ack_before_commit() -> bool {
    ACK_BEFORE_COMMIT.load(Ordering::Relaxed)
}
