//! Planted bugs, compiled only with the `planted-bugs` feature: a test switches one on for its
//! own thread and checks that the property tests notice (../shared/RELIABILITY.md, "Test the
//! tests").

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

/// The same switch for every thread of the process (a validator started with it planted).
static SKIP_OVER_CLAIM_CHECK_EVERYWHERE: AtomicBool = AtomicBool::new(false);

/// Turns the over-claim check off for every thread of this process.
pub fn skip_over_claim_check_everywhere() {
    SKIP_OVER_CLAIM_CHECK_EVERYWHERE.store(true, Ordering::SeqCst);
}

thread_local! {
    static SKIP_OVER_CLAIM_CHECK: Cell<bool> = const { Cell::new(false) };
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
