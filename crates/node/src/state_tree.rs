//! The authenticated state: a Merkle mountain range (commonware-storage's in-memory MMR) with
//! one leaf per bill and per claim. A leaf is assigned when its record is created, in block
//! order, and overwritten whenever the record changes, so the tree only ever holds current
//! records and an inclusion proof shows a record as it is in the state the root commits to.
//!
//! Two views are kept:
//! - **pending**: one speculative batch per executed block above the anchor, giving each
//!   block's root (the header's state root is computed from it);
//! - **anchor**: the committed tree, at the executed height named by the newest finalized
//!   header, which is what receipts prove against. Proofs come from the committed tree, and
//!   records as of the anchor come from the pending blocks' "previous record" logs.
//!
//! It is derived data, rebuilt by re-execution on restart like the rest of the state.

use commonware_cryptography::Sha256;
use commonware_parallel::Sequential;
use commonware_storage::mmr::{Location, MerkleizedBatch, Proof, StandardHasher, mem::Mmr};
use medledger_crypto::Digest;
use medledger_receipt::{Record, StateDigest, state_hasher};
use medledger_types::{BillId, ClaimId};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// What a leaf is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StateKey {
    /// A bill.
    Bill(BillId),
    /// A claim.
    Claim(ClaimId),
}

impl StateKey {
    /// The key of `record`.
    pub fn of(record: &Record) -> Self {
        match record {
            Record::Bill(bill) => StateKey::Bill(bill.issue.id),
            Record::Claim(claim) => StateKey::Claim(claim.submission.claim_id),
        }
    }
}

type Batch = Arc<MerkleizedBatch<StateDigest, Sequential>>;

/// One executed block above the anchor.
struct Pending {
    height: u64,
    batch: Batch,
    /// The records this block changed, as they were before it (`None`: created by it).
    previous: Vec<(StateKey, Option<Record>)>,
}

/// The authenticated state.
pub struct StateTree {
    hasher: StandardHasher<Sha256>,
    committed: Mmr<StateDigest>,
    anchor: u64,
    pending: VecDeque<Pending>,
    slots: HashMap<StateKey, Location>,
}

impl std::fmt::Debug for StateTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateTree")
            .field("leaves", &self.slots.len())
            .field("anchor", &self.anchor)
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl Default for StateTree {
    fn default() -> Self {
        Self {
            hasher: state_hasher(),
            committed: Mmr::new(),
            anchor: 0,
            pending: VecDeque::new(),
            slots: HashMap::new(),
        }
    }
}

fn to_digest(d: StateDigest) -> Digest {
    Digest(d.0)
}

impl StateTree {
    /// A tree that starts with `records` committed at height 0 (a genesis's synthetic bills).
    pub fn with_records(records: impl IntoIterator<Item = Record>) -> Self {
        let mut tree = Self::default();
        let mut batch = tree.committed.new_batch();
        for record in records {
            tree.slots.insert(StateKey::of(&record), batch.leaves());
            batch = batch.add(&tree.hasher, &record.leaf().0);
        }
        let batch = batch.merkleize(&tree.committed, &tree.hasher);
        tree.committed.apply_batch(&batch).expect("a fresh tree takes its first batch");
        tree
    }

    /// Adds an executed block's changes, in the order given (which must be the same on every
    /// node: block order), on top of the newest pending block. Returns the root after it.
    pub fn push_block(&mut self, height: u64, changes: Vec<(Record, Option<Record>)>) -> Digest {
        let mut batch = match self.pending.back() {
            Some(parent) => parent.batch.new_batch(),
            None => self.committed.new_batch(),
        };
        let mut previous = Vec::with_capacity(changes.len());
        for (record, before) in changes {
            let key = StateKey::of(&record);
            let leaf = record.leaf();
            batch = match self.slots.get(&key) {
                Some(&location) => batch
                    .update_leaf(&self.hasher, location, &leaf.0)
                    .expect("a live slot is an existing leaf"),
                None => {
                    self.slots.insert(key, batch.leaves());
                    batch.add(&self.hasher, &leaf.0)
                }
            };
            previous.push((key, before));
        }
        let batch = batch.merkleize(&self.committed, &self.hasher);
        let root = batch.root(&self.hasher, 0).expect("no inactive peaks");
        self.pending.push_back(Pending { height, batch, previous });
        to_digest(root)
    }

    /// Moves the committed tree up to `height` (an executed height a finalized header names).
    /// Heights at or below the anchor are ignored.
    pub fn advance(&mut self, height: u64) {
        let Some(index) = self.pending.iter().rposition(|p| p.height <= height) else {
            return;
        };
        let batch = self.pending[index].batch.clone();
        self.committed.apply_batch(&batch).expect("pending batches apply in order");
        self.anchor = self.pending[index].height;
        self.pending.drain(..=index);
    }

    /// The height the committed tree is at.
    pub fn anchor(&self) -> u64 {
        self.anchor
    }

    /// Executed blocks above the anchor.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Leaves in the tree (bills and claims ever created, up to the newest pending block).
    pub fn leaves(&self) -> usize {
        self.slots.len()
    }

    /// The committed tree's root.
    pub fn anchor_root(&self) -> Digest {
        to_digest(self.committed.root(&self.hasher, 0).expect("no inactive peaks"))
    }

    /// The proof of `key`'s leaf in the committed tree, and that leaf's location; `None` if the
    /// key was created after the anchor (or never).
    pub fn prove(&self, key: &StateKey) -> Option<(u64, Proof<StateDigest>)> {
        let location = *self.slots.get(key)?;
        if location >= self.committed.leaves() {
            return None;
        }
        let proof = self.committed.proof(&self.hasher, location, 0).expect("a committed leaf");
        Some((*location, proof))
    }

    /// `key`'s record as of the anchor, given its record now (at the newest pending block):
    /// the record before the oldest pending block that changed it, else the record now.
    pub fn record_at_anchor(&self, key: &StateKey, now: Option<Record>) -> Option<Record> {
        for pending in &self.pending {
            if let Some((_, before)) = pending.previous.iter().find(|(k, _)| k == key) {
                return before.clone();
            }
        }
        now
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use medledger_testkit::{Consortium, bill};
    use medledger_types::{Bill, BillKind, Fen};

    fn record(n: u64, reimbursed: u64) -> Record {
        let c = Consortium::demo("tree", 2);
        let issue = bill(c.bill_id(0, n), c.patients[0].pseudonym, 10_000, 0);
        let sealed = Some(medledger_types::Digest([3; 32]));
        let mut record = Bill::issued(issue, &c.hospitals[0].id, 1, 0, BillKind::Normal, sealed);
        record.reimbursed = Fen(reimbursed);
        Record::Bill(record)
    }

    fn verifies(tree: &StateTree, record: &Record) -> bool {
        let (location, proof) = tree.prove(&StateKey::of(record)).expect("provable");
        let root = StateDigest::from(tree.anchor_root().0);
        proof.verify_element_inclusion(
            &state_hasher(),
            &record.leaf().0,
            Location::new(location),
            &root,
        )
    }

    #[test]
    fn proofs_follow_the_anchor_and_records_are_as_of_it() {
        let mut tree = StateTree::default();
        let (a, b) = (record(1, 0), record(2, 0));
        let r1 = tree.push_block(1, vec![(a.clone(), None), (b.clone(), None)]);
        let a_paid = record(1, 500);
        let r2 = tree.push_block(2, vec![(a_paid.clone(), Some(a.clone()))]);
        assert_ne!(r1, r2);
        assert!(tree.prove(&StateKey::of(&a)).is_none(), "nothing is committed before an anchor");

        tree.advance(1);
        assert_eq!((tree.anchor(), tree.anchor_root()), (1, r1));
        let key = StateKey::of(&a);
        let as_of_anchor = tree.record_at_anchor(&key, Some(a_paid.clone())).unwrap();
        assert_eq!(as_of_anchor, a, "the record as of height 1, not the newer one");
        assert!(verifies(&tree, &a) && verifies(&tree, &b));
        assert!(!verifies(&tree, &a_paid), "the newer record is not yet under the anchor");

        tree.advance(2);
        assert_eq!((tree.anchor(), tree.anchor_root(), tree.pending()), (2, r2, 0));
        assert_eq!(tree.record_at_anchor(&key, Some(a_paid.clone())).unwrap(), a_paid);
        assert!(verifies(&tree, &a_paid) && !verifies(&tree, &a), "the old record no longer");
    }

    #[test]
    fn the_same_changes_give_the_same_roots() {
        let build = || {
            let mut tree = StateTree::default();
            let r1 = tree.push_block(1, vec![(record(1, 0), None), (record(2, 0), None)]);
            let r2 = tree.push_block(2, vec![(record(2, 7), Some(record(2, 0)))]);
            (r1, r2)
        };
        assert_eq!(build(), build());
    }
}
