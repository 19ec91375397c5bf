//! Planted bugs, compiled only with the `planted-bugs` feature: a test switches one on for its
//! own thread and checks that the property tests notice (../shared/RELIABILITY.md, "Test the
//! tests").

use std::cell::Cell;

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
}
