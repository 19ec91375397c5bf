//! The client-side history: every operation a test client attempted, as an invocation and
//! (usually) a completion.
//!
//! A fault test logs each request it sends to a node: [`History::invoke`] just before sending,
//! [`History::complete`] when the answer (or the lack of one) is known. The checker then holds
//! the cluster to what the clients were told: an operation completed [`OpResult::Ok`] must be
//! on every node's chain with that receipt (P1), and one completed [`OpResult::Fail`] must
//! not have taken effect. An operation never completed (the client crashed, the test ended)
//! counts as [`OpResult::Unknown`]: either outcome is allowed.
//!
//! The history is shared by the test's client tasks: it clones cheaply (an `Arc`) and locks
//! internally. It serializes to JSON so a failing run can keep it as an artifact.

use medledger_types::{BillId, ClaimId, Fen, MemberId, Payload, Receipt, TxId};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// An operation's number in its history, in invocation order from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OpId(pub u64);

impl std::fmt::Display for OpId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "op#{}", self.0)
    }
}

/// What an operation meant to do, in domain terms (the transaction says it exactly; this is
/// for people reading a report and for grouping operations by bill or claim).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum OpKind {
    /// A hospital issues these bills.
    Issue {
        /// The bills.
        bills: Vec<BillId>,
    },
    /// A claim is filed to a payer.
    SubmitClaim {
        /// The claim.
        claim: ClaimId,
        /// The payer asked to pay.
        payer: MemberId,
        /// Bills and requested amounts.
        items: Vec<(BillId, Fen)>,
    },
    /// A payer settles a claim.
    Settle {
        /// The claim.
        claim: ClaimId,
    },
    /// A payer rejects a claim.
    Reject {
        /// The claim.
        claim: ClaimId,
    },
    /// The patient (or the platform for them) withdraws a claim.
    Withdraw {
        /// The claim.
        claim: ClaimId,
    },
    /// A hospital voids a bill.
    Void {
        /// The bill.
        bill: BillId,
    },
    /// Anything else, by payload name (`allocate_range`, `freeze_member`, …).
    Other {
        /// The payload's name.
        payload: String,
    },
}

impl OpKind {
    /// The intent a payload expresses.
    pub fn of(payload: &Payload) -> Self {
        match payload {
            Payload::IssueBills { bills, .. } => {
                OpKind::Issue { bills: bills.iter().map(|b| b.id).collect() }
            }
            Payload::SubmitClaim { claim, .. } => OpKind::SubmitClaim {
                claim: claim.claim_id,
                payer: claim.payer.clone(),
                items: claim.items.iter().map(|i| (i.bill, i.amount)).collect(),
            },
            Payload::SettleClaim { claim_id, .. } => OpKind::Settle { claim: *claim_id },
            Payload::RejectClaim { claim_id, .. } => OpKind::Reject { claim: *claim_id },
            Payload::WithdrawClaim { claim_id, .. } => OpKind::Withdraw { claim: *claim_id },
            Payload::VoidBill { bill, .. } => OpKind::Void { bill: *bill },
            other => OpKind::Other { payload: other.name().to_string() },
        }
    }
}

/// A request about to be sent to a node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invocation {
    /// The operation.
    pub op: OpId,
    /// The signed transaction it sends.
    pub tx_id: TxId,
    /// The node (validator index) it is sent to.
    pub node: usize,
    /// When, in the test's clock (real or simulated), milliseconds.
    pub at_ms: u64,
    /// What it means to do.
    pub what: OpKind,
}

/// What the client learnt about an operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "result", content = "detail")]
pub enum OpResult {
    /// The node said the transaction is committed, with this receipt (accepted or rejected by
    /// the ledger: either way it is in a finalized block).
    Ok(Receipt),
    /// The node definitely refused it: it is not in a block and this request will not put it
    /// in one (an API 4xx code such as `bad_signature`, `expired`, `mempool_full`). Codes that
    /// mean the transaction is in flight or already included (`duplicate_in_mempool`,
    /// `already_included`) are not failures; [`OpResult::refusal`] sorts them out.
    Fail(String),
    /// No answer: timed out, connection lost, or an answer that does not say (5xx).
    Unknown,
}

/// API error codes that mean the node has or had the transaction: the request neither
/// committed it nor refused it for good.
pub const IN_FLIGHT_CODES: [&str; 2] = ["duplicate_in_mempool", "already_included"];

impl OpResult {
    /// The result of a refusal with API error `code`: [`OpResult::Unknown`] for the codes in
    /// [`IN_FLIGHT_CODES`], [`OpResult::Fail`] otherwise.
    pub fn refusal(code: &str) -> Self {
        if IN_FLIGHT_CODES.contains(&code) {
            OpResult::Unknown
        } else {
            OpResult::Fail(code.to_string())
        }
    }
}

/// The answer to an operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Completion {
    /// The operation.
    pub op: OpId,
    /// When, in the test's clock, milliseconds.
    pub at_ms: u64,
    /// What the client learnt.
    pub result: OpResult,
}

/// One operation: its invocation and, once known, its completion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    /// The request.
    pub invocation: Invocation,
    /// The answer; `None` if the client never learnt one (counted as unknown).
    pub completion: Option<Completion>,
}

impl Op {
    /// The result, with a missing completion read as [`OpResult::Unknown`].
    pub fn result(&self) -> &OpResult {
        const UNKNOWN: &OpResult = &OpResult::Unknown;
        self.completion.as_ref().map_or(UNKNOWN, |c| &c.result)
    }
}

/// How the operations of a history ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Operations invoked.
    pub invoked: usize,
    /// Completed [`OpResult::Ok`].
    pub ok: usize,
    /// Completed [`OpResult::Fail`].
    pub fail: usize,
    /// Completed [`OpResult::Unknown`], or never completed.
    pub unknown: usize,
}

/// A thread-safe, cheaply cloned log of operations. Clones share the same log.
#[derive(Clone, Debug, Default)]
pub struct History {
    ops: Arc<Mutex<Vec<Op>>>,
}

impl History {
    /// An empty history.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Op>> {
        // A client task that panicked while logging leaves a consistent log behind (each
        // change is a single push or assignment), so a poisoned lock is still usable.
        self.ops.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Logs a request about to be sent: `tx_id` to `node` at `at_ms`, meaning `what`.
    pub fn invoke(&self, tx_id: TxId, node: usize, at_ms: u64, what: OpKind) -> OpId {
        let mut ops = self.lock();
        let op = OpId(u64::try_from(ops.len()).expect("fewer than 2^64 operations"));
        ops.push(Op { invocation: Invocation { op, tx_id, node, at_ms, what }, completion: None });
        op
    }

    /// Logs the answer to `op`.
    ///
    /// # Panics
    /// If `op` was not invoked on this history or is already complete: either is a bug in the
    /// test client, and a history that silently kept one of two answers would mislead.
    pub fn complete(&self, op: OpId, at_ms: u64, result: OpResult) {
        let mut ops = self.lock();
        let entry = usize::try_from(op.0).ok().and_then(|i| ops.get_mut(i));
        let Some(entry) = entry else { panic!("{op} was never invoked") };
        assert!(entry.completion.is_none(), "{op} completed twice");
        entry.completion = Some(Completion { op, at_ms, result });
    }

    /// A copy of every operation, in invocation order.
    pub fn ops(&self) -> Vec<Op> {
        self.lock().clone()
    }

    /// How the operations ended so far.
    pub fn counts(&self) -> Counts {
        let ops = self.lock();
        let mut counts = Counts { invoked: ops.len(), ..Counts::default() };
        for op in ops.iter() {
            match op.result() {
                OpResult::Ok(_) => counts.ok += 1,
                OpResult::Fail(_) => counts.fail += 1,
                OpResult::Unknown => counts.unknown += 1,
            }
        }
        counts
    }

    /// Operations completed [`OpResult::Ok`].
    pub fn ok(&self) -> usize {
        self.counts().ok
    }

    /// Operations completed [`OpResult::Fail`].
    pub fn fail(&self) -> usize {
        self.counts().fail
    }

    /// Operations completed [`OpResult::Unknown`] or not completed.
    pub fn unknown(&self) -> usize {
        self.counts().unknown
    }

    /// The history as pretty JSON, for a test artifact.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&*self.lock()).expect("a history always serializes")
    }

    /// A history read back from [`History::to_json`]'s output.
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        let ops: Vec<Op> = serde_json::from_str(json)?;
        Ok(Self { ops: Arc::new(Mutex::new(ops)) })
    }
}

impl Serialize for History {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.lock().serialize(s)
    }
}

impl<'de> Deserialize<'de> for History {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let ops = Vec::<Op>::deserialize(d)?;
        Ok(Self { ops: Arc::new(Mutex::new(ops)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use medledger_types::{Digest, Effect, Outcome};

    fn tx(n: u8) -> TxId {
        TxId(Digest([n; 32]))
    }

    #[test]
    fn counts_results_and_reads_missing_completions_as_unknown() {
        let history = History::new();
        let other = || OpKind::Other { payload: "freeze_member".to_string() };
        let a = history.invoke(tx(1), 0, 10, other());
        let b = history.invoke(tx(2), 1, 11, other());
        let c = history.invoke(tx(3), 2, 12, other());
        let _never_answered = history.invoke(tx(4), 0, 13, other());
        let receipt = Receipt { tx_id: tx(1), outcome: Outcome::Accepted(Effect::MemberFrozen) };
        history.complete(a, 20, OpResult::Ok(receipt));
        history.complete(b, 21, OpResult::refusal("bad_signature"));
        history.complete(c, 22, OpResult::refusal("already_included"));
        assert_eq!(history.counts(), Counts { invoked: 4, ok: 1, fail: 1, unknown: 2 });
        assert_eq!((history.ok(), history.fail(), history.unknown()), (1, 1, 2));
    }

    #[test]
    fn clones_share_one_log_across_threads() {
        let history = History::new();
        let threads: Vec<_> = (0..4u8)
            .map(|t| {
                let history = history.clone();
                std::thread::spawn(move || {
                    for i in 0..25u8 {
                        let op = history.invoke(
                            tx(t),
                            usize::from(t),
                            u64::from(i),
                            OpKind::Settle { claim: ClaimId([i; 16]) },
                        );
                        history.complete(op, u64::from(i) + 1, OpResult::Unknown);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("client thread");
        }
        let ops = history.ops();
        assert_eq!(ops.len(), 100);
        assert!(ops.iter().enumerate().all(|(i, op)| usize::try_from(op.invocation.op.0) == Ok(i)));
    }

    #[test]
    fn round_trips_through_json() {
        let history = History::new();
        let op = history.invoke(tx(9), 3, 5, OpKind::Issue { bills: Vec::new() });
        history.complete(op, 6, OpResult::Fail("expired".to_string()));
        history.invoke(tx(8), 1, 7, OpKind::Withdraw { claim: ClaimId([1; 16]) });
        let back = History::from_json(&history.to_json()).expect("parses");
        assert_eq!(back.ops(), history.ops());
    }

    #[test]
    #[should_panic(expected = "completed twice")]
    fn completing_twice_is_a_client_bug() {
        let history = History::new();
        let op = history.invoke(tx(1), 0, 0, OpKind::Settle { claim: ClaimId([0; 16]) });
        history.complete(op, 1, OpResult::Unknown);
        history.complete(op, 2, OpResult::Unknown);
    }
}
