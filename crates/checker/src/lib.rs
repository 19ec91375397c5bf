//! The checker of the fault tests: it logs what clients were told, drives a workload with
//! deliberate contention, and checks a cluster's chains against the promises of
//! `../shared/RELIABILITY.md`.
//!
//! ```text
//!   workload::generate ──► Steps ──► test client ──► nodes
//!                                        │ invoke / complete
//!                                        ▼
//!                                     History ──┐
//!   GET /v1/blocks/{h}/transactions per node ───┴──► check::check ──► Report (P1–P5)
//! ```
//!
//! | | Property | Checked by |
//! |---|---|---|
//! | P1 | No lost commit: every `ok` operation is on every node, with its receipt | the history against each node's transaction index |
//! | P2 | Per bill reimbursed + reserved ≤ claimable; each claim settles at most once | the chain's receipts booked as they say, and the model's state |
//! | P3 | The same block, state root and receipts at every height two nodes hold | comparing chains height by height (a shorter chain is allowed) |
//! | P4 | Payer totals equal the sum of settlements; nothing negative | the chain's receipts against their transactions and the model |
//! | P5 | Every receipt equals the reference model's | replaying each distinct chain through `medledger-model` |
//!
//! L1 (liveness) is the caller's to judge; the report gives the longest gap between blocks.
//! The checker uses the reference model, never the real ledger: the point is to compare them.

mod account;
pub mod check;
pub mod history;
pub mod workload;

pub use check::{Report, check};
pub use history::{Completion, Counts, History, Invocation, Op, OpId, OpKind, OpResult};
pub use workload::{Step, WorkloadConfig, foreign_chain_id, generate, policy};
