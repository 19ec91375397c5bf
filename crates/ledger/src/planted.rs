//! Planted bugs, compiled only with the `planted-bugs` feature: a test switches one on for its
//! own thread and checks that the property tests notice (../shared/RELIABILITY.md, "Test the
//! tests").
//!
//! - skip the over-claim check: claims above a bill's claimable amount are accepted;
//! - accept the wrong chain id: a transaction signed for another chain is executed as if it
//!   were signed for this one (the node's mempool asks the same switch, so such a transaction
//!   is admitted, included and takes effect).

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

/// The same switch for every thread of the process (a validator started with it planted).
static SKIP_OVER_CLAIM_CHECK_EVERYWHERE: AtomicBool = AtomicBool::new(false);
/// Likewise for the chain id check.
static ACCEPT_WRONG_CHAIN_ID_EVERYWHERE: AtomicBool = AtomicBool::new(false);

/// Turns the over-claim check off for every thread of this process.
pub fn skip_over_claim_check_everywhere() {
    SKIP_OVER_CLAIM_CHECK_EVERYWHERE.store(true, Ordering::SeqCst);
}

/// Turns the chain id check off for every thread of this process.
pub fn accept_wrong_chain_id_everywhere() {
    ACCEPT_WRONG_CHAIN_ID_EVERYWHERE.store(true, Ordering::SeqCst);
}

thread_local! {
    static SKIP_OVER_CLAIM_CHECK: Cell<bool> = const { Cell::new(false) };
    static ACCEPT_WRONG_CHAIN_ID: Cell<bool> = const { Cell::new(false) };
}

/// Turns the over-claim check off (`true`) or back on for the current thread.
pub fn set_skip_over_claim_check(skip: bool) {
    SKIP_OVER_CLAIM_CHECK.with(|flag| flag.set(skip));
}

/// Whether the over-claim check is off on the current thread.
pub fn skip_over_claim_check() -> bool {
    SKIP_OVER_CLAIM_CHECK.with(Cell::get)
        || SKIP_OVER_CLAIM_CHECK_EVERYWHERE.load(Ordering::Relaxed)
}

/// Turns the chain id check off (`true`) or back on for the current thread.
pub fn set_accept_wrong_chain_id(accept: bool) {
    ACCEPT_WRONG_CHAIN_ID.with(|flag| flag.set(accept));
}

/// Whether transactions signed for another chain are accepted on the current thread.
pub fn accept_wrong_chain_id() -> bool {
    ACCEPT_WRONG_CHAIN_ID.with(Cell::get)
        || ACCEPT_WRONG_CHAIN_ID_EVERYWHERE.load(Ordering::Relaxed)
}
