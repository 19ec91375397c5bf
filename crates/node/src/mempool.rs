//! The mempool: signed transactions waiting for a block.
//!
//! - **Bounded** in count and bytes ([`MempoolConfig`]): when full it refuses with
//!   [`AdmitError::Full`] instead of growing; clients retry later (backpressure).
//! - **Deduplicated** by transaction id.
//! - **Checked once on admission**: chain id, expiry and the signature (batch-verified when many
//!   arrive together). Only transactions that could be accepted are held.
//! - **Fair**: blocks are filled round-robin across signers, so one busy hospital cannot starve
//!   a patient's claim.
//! - Transactions leave when a finalized block includes them, or when they expire.

use crate::config::MempoolConfig;
use commonware_codec::EncodeSize as _;
use medledger_crypto::{SignedMessage, verify_batch};
use medledger_types::limits::TX_LIFETIME_BLOCKS_MAX;
use medledger_types::{ChainId, PublicKey, Rejection, Transaction, TxId};
use serde::Serialize;
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

/// Why a transaction was not admitted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(rename_all = "snake_case", tag = "code")]
pub enum AdmitError {
    /// The mempool holds as much as it may.
    #[error("mempool is full ({txs} transactions, {bytes} bytes); retry later")]
    MempoolFull {
        /// Transactions held.
        txs: usize,
        /// Bytes held.
        bytes: usize,
    },
    /// Already waiting in the mempool.
    #[error("transaction is already in the mempool")]
    DuplicateInMempool,
    /// This signer already has as many transactions waiting as allowed.
    #[error("this signer already has {waiting} transactions waiting; retry later")]
    SignerQueueFull {
        /// Transactions waiting for the signer.
        waiting: usize,
    },
    /// This signer sent more bytes than its rate allows; retry after `wait_ms`.
    #[error("this signer is over its byte rate; retry in {wait_ms} ms")]
    SignerRateLimited {
        /// How long until the transaction would fit the signer's rate.
        wait_ms: u64,
    },
    /// This signer already has as many bytes waiting as allowed.
    #[error("this signer already has {bytes} bytes waiting (at most {max}); retry later")]
    SignerBytesFull {
        /// Bytes waiting for the signer.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// Already included in a block (accepted or rejected there); inclusion is final.
    #[error("transaction was already included in block {height}")]
    AlreadyIncluded {
        /// The block.
        height: u64,
    },
    /// An envelope check the ledger would fail too (chain id, expiry, signature): the same
    /// rejection, with the same code and message, is given now instead of after a block.
    #[error("{0}")]
    #[serde(untagged)]
    Rejected(Rejection),
}

impl AdmitError {
    /// The stable machine code, shared with the ledger's rejections where they overlap.
    pub fn code(&self) -> String {
        match self {
            AdmitError::MempoolFull { .. } => "mempool_full".to_string(),
            AdmitError::DuplicateInMempool => "duplicate_in_mempool".to_string(),
            AdmitError::SignerQueueFull { .. } => "signer_queue_full".to_string(),
            AdmitError::SignerBytesFull { .. } => "signer_bytes_full".to_string(),
            AdmitError::SignerRateLimited { .. } => "signer_rate_limited".to_string(),
            AdmitError::AlreadyIncluded { .. } => "already_included".to_string(),
            AdmitError::Rejected(rejection) => rejection.code(),
        }
    }
}

#[derive(Debug)]
struct Entry {
    tx: Transaction,
    bytes: usize,
    /// When it was admitted, for the submit-to-commit histogram.
    admitted: Instant,
}

/// The mempool.
#[derive(Debug)]
pub struct Mempool {
    chain_id: ChainId,
    limits: MempoolConfig,
    entries: HashMap<TxId, Entry>,
    /// Waiting ids per signer, oldest first.
    queues: HashMap<PublicKey, VecDeque<TxId>>,
    /// Bytes waiting per signer (present exactly when its queue is).
    signer_bytes: HashMap<PublicKey, usize>,
    /// Per signer, the bytes of admission credit left and when it was last refilled (a token
    /// bucket of `bytes_per_signer_per_s`, up to [`SIGNER_BURST_BYTES`]). Entries of signers
    /// with nothing waiting and a full bucket are dropped, so it stays bounded by the pool.
    signer_credit: HashMap<PublicKey, (f64, Instant)>,
    /// Signers with waiting transactions, in round-robin order.
    signers: VecDeque<PublicKey>,
    bytes: usize,
}

impl Mempool {
    /// An empty mempool for `chain_id`.
    pub fn new(chain_id: ChainId, limits: MempoolConfig) -> Self {
        Self {
            chain_id,
            limits,
            entries: HashMap::new(),
            queues: HashMap::new(),
            signer_bytes: HashMap::new(),
            signer_credit: HashMap::new(),
            signers: VecDeque::new(),
            bytes: 0,
        }
    }

    /// Transactions waiting.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes waiting.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether `id` is waiting.
    pub fn contains(&self, id: &TxId) -> bool {
        self.entries.contains_key(id)
    }

    /// Whether this exact transaction (the same signed body and the same signature bytes) is
    /// waiting here, so its envelope signature verified on admission.
    pub fn holds_verified(&self, tx: &Transaction) -> bool {
        self.entries.get(&tx.id()).is_some_and(|e| e.tx.signature() == tx.signature())
    }

    /// Admits `txs` in one step: checks, batch signature verification, insertion. Holds the
    /// pool throughout; the node uses `Chain::admit`, which verifies outside the lock.
    pub fn admit(&mut self, txs: Vec<Transaction>, height: u64) -> Vec<Result<TxId, AdmitError>> {
        let checked: Vec<Result<(), AdmitError>> =
            txs.iter().map(|tx| self.precheck(tx, height)).collect();
        let checked = verify_signatures(&txs, checked);
        txs.into_iter().zip(checked).map(|(tx, ok)| ok.and_then(|()| self.insert(tx))).collect()
    }

    /// The checks that need the pool: chain id, expiry at chain height `height`, duplicates.
    pub fn precheck(&self, tx: &Transaction, height: u64) -> Result<(), AdmitError> {
        let body = tx.body();
        let wrong_chain = body.chain_id != self.chain_id;
        #[cfg(feature = "planted-bugs")]
        let wrong_chain = wrong_chain && !medledger_ledger::planted::accept_wrong_chain_id();
        if wrong_chain {
            return Err(AdmitError::Rejected(Rejection::WrongChainId {
                expected: self.chain_id.clone(),
                got: body.chain_id.clone(),
            }));
        }
        // The next block is at least `height + 1`.
        let next = height.saturating_add(1);
        if body.expires_at_height < next {
            let expires_at_height = body.expires_at_height;
            return Err(AdmitError::Rejected(Rejection::Expired {
                expires_at_height,
                height: next,
            }));
        }
        let max_height = next.saturating_add(TX_LIFETIME_BLOCKS_MAX);
        if body.expires_at_height > max_height {
            let expires_at_height = body.expires_at_height;
            return Err(AdmitError::Rejected(Rejection::ExpiryTooFar {
                expires_at_height,
                max_height,
            }));
        }
        if self.entries.contains_key(&tx.id()) {
            return Err(AdmitError::DuplicateInMempool);
        }
        Ok(())
    }

    /// Inserts a checked, signature-verified transaction, within the limits.
    pub fn insert(&mut self, tx: Transaction) -> Result<TxId, AdmitError> {
        let id = tx.id();
        // A duplicate within the same batch is caught here.
        if self.entries.contains_key(&id) {
            return Err(AdmitError::DuplicateInMempool);
        }
        let bytes = tx.encode_size();
        if self.entries.len() >= self.limits.txs_max
            || self.bytes.saturating_add(bytes) > self.limits.bytes_max
        {
            return Err(AdmitError::MempoolFull { txs: self.entries.len(), bytes: self.bytes });
        }
        let signer = tx.body().signer.clone();
        let waiting_bytes = self.signer_bytes.get(&signer).copied().unwrap_or(0);
        if waiting_bytes.saturating_add(bytes) > self.limits.bytes_per_signer_max {
            return Err(AdmitError::SignerBytesFull {
                bytes: waiting_bytes,
                max: self.limits.bytes_per_signer_max,
            });
        }
        // The signer's byte rate: a token bucket, refilled at `bytes_per_signer_per_s`.
        let now = Instant::now();
        let rate = self.limits.bytes_per_signer_per_s as f64;
        let burst = SIGNER_BURST_BYTES.max(2 * self.limits.bytes_per_signer_per_s) as f64;
        let credit = self.signer_credit.entry(signer.clone()).or_insert((burst, now));
        credit.0 = (credit.0 + now.duration_since(credit.1).as_secs_f64() * rate).min(burst);
        credit.1 = now;
        if credit.0 < bytes as f64 {
            let wait = Duration::from_secs_f64((bytes as f64 - credit.0) / rate.max(1.0));
            let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).saturating_add(1);
            return Err(AdmitError::SignerRateLimited { wait_ms });
        }
        let queue = self.queues.entry(signer.clone()).or_default();
        if queue.len() >= self.limits.txs_per_signer_max {
            return Err(AdmitError::SignerQueueFull { waiting: queue.len() });
        }
        if queue.is_empty() {
            self.signers.push_back(signer.clone());
        }
        queue.push_back(id);
        if let Some(credit) = self.signer_credit.get_mut(&signer) {
            credit.0 -= bytes as f64;
        }
        *self.signer_bytes.entry(signer).or_default() += bytes;
        if self.signer_credit.len() > self.limits.txs_max {
            // Only signers with something waiting, or a bucket not yet full, need an entry.
            let queues = &self.queues;
            self.signer_credit.retain(|s, (left, _)| queues.contains_key(s) || *left < burst);
        }
        self.bytes = self.bytes.saturating_add(bytes);
        self.entries.insert(id, Entry { tx, bytes, admitted: Instant::now() });
        Ok(id)
    }

    /// Picks transactions for a block: one per signer in turn, skipping `exclude` (those already
    /// in blocks that are proposed but not yet executed), within the count and byte limits. No
    /// signer takes more than [`block_share_bytes`] of the block while others wait, and a
    /// transaction too large for what is left does not stop smaller ones of other signers.
    pub fn select(
        &self,
        txs_max: usize,
        bytes_max: usize,
        exclude: &HashSet<TxId>,
    ) -> Vec<Transaction> {
        let share = block_share_bytes(bytes_max);
        let mut picked = Vec::new();
        let mut bytes = 0usize;
        // (next position in the signer's queue, the queue, bytes taken for the signer)
        let mut cursors: Vec<(usize, &VecDeque<TxId>, usize)> =
            self.signers.iter().filter_map(|s| self.queues.get(s)).map(|q| (0, q, 0)).collect();
        let alone = cursors.len() == 1;
        while !cursors.is_empty() {
            let mut next_round = Vec::with_capacity(cursors.len());
            for (mut at, queue, mut taken) in cursors {
                while let Some(id) = queue.get(at) {
                    if exclude.contains(id) {
                        at = at.saturating_add(1);
                        continue;
                    }
                    let entry = &self.entries[id];
                    if picked.len() >= txs_max {
                        return picked;
                    }
                    let fits = bytes.saturating_add(entry.bytes) <= bytes_max;
                    let fair = alone || taken == 0 || taken.saturating_add(entry.bytes) <= share;
                    if fits && fair {
                        at = at.saturating_add(1);
                        bytes = bytes.saturating_add(entry.bytes);
                        taken = taken.saturating_add(entry.bytes);
                        picked.push(entry.tx.clone());
                        if at < queue.len() {
                            next_round.push((at, queue, taken));
                        }
                    }
                    // A signer whose next transaction does not fit (in the block, or in its
                    // share) is done for this block: its order is kept.
                    break;
                }
            }
            cursors = next_round;
        }
        picked
    }

    /// How long each of `ids` that is held here has waited since its admission.
    pub fn waited(&self, ids: impl IntoIterator<Item = TxId>) -> Vec<Duration> {
        ids.into_iter()
            .filter_map(|id| self.entries.get(&id))
            .map(|e| e.admitted.elapsed())
            .collect()
    }

    /// Removes transactions (included in a finalized block). Linear in the removed ids plus the
    /// queues they touch: each touched queue is compacted once.
    pub fn remove(&mut self, ids: impl IntoIterator<Item = TxId>) {
        let mut touched = HashSet::new();
        for id in ids {
            let Some(entry) = self.entries.remove(&id) else { continue };
            self.bytes = self.bytes.saturating_sub(entry.bytes);
            let signer = &entry.tx.body().signer;
            if let Some(bytes) = self.signer_bytes.get_mut(signer) {
                *bytes = bytes.saturating_sub(entry.bytes);
            }
            touched.insert(signer.clone());
        }
        if touched.is_empty() {
            return;
        }
        for signer in &touched {
            if let Some(queue) = self.queues.get_mut(signer) {
                queue.retain(|queued| self.entries.contains_key(queued));
                if queue.is_empty() {
                    self.queues.remove(signer);
                    self.signer_bytes.remove(signer);
                }
            }
        }
        let queues = &self.queues;
        self.signers.retain(|s| queues.contains_key(s));
    }

    /// Drops transactions that can no longer be included after `height`.
    pub fn prune_expired(&mut self, height: u64) {
        let next = height.saturating_add(1);
        let expired: Vec<TxId> = self
            .entries
            .iter()
            .filter(|(_, e)| e.tx.body().expires_at_height < next)
            .map(|(id, _)| *id)
            .collect();
        self.remove(expired);
    }
}

/// The bytes one signer may have admitted at once beyond its rate (two full issuance batches).
pub const SIGNER_BURST_BYTES: usize = 2 * 1024 * 1024;

/// The bytes one signer may take of a block of `bytes_max` while other signers have
/// transactions waiting: a quarter, and always at least its first transaction. One hospital
/// posting full issuance batches then leaves room for everyone else's claims.
pub fn block_share_bytes(bytes_max: usize) -> usize {
    bytes_max / 4
}

/// Batch-verifies the signatures of the transactions whose checks passed so far. Needs no lock.
pub fn verify_signatures(
    txs: &[Transaction],
    checked: Vec<Result<(), AdmitError>>,
) -> Vec<Result<(), AdmitError>> {
    let pending: Vec<usize> = (0..txs.len()).filter(|i| checked[*i].is_ok()).collect();
    let items: Vec<SignedMessage<'_>> = pending.iter().map(|i| txs[*i].signed_message()).collect();
    let valid = verify_batch(&items);
    let mut checked = checked;
    for (i, ok) in pending.iter().zip(valid) {
        if !ok {
            checked[*i] = Err(AdmitError::Rejected(Rejection::BadSignature));
        }
    }
    checked
}

#[cfg(test)]
mod tests {
    use super::*;
    use medledger_testkit::{Consortium, TxFactory};
    use medledger_types::Payload;

    fn setup(limits: MempoolConfig) -> (Consortium, TxFactory, Mempool) {
        let c = Consortium::demo("medledger-mempool", 3);
        let f = TxFactory::new(c.chain_id().clone(), 50);
        let pool = Mempool::new(c.chain_id().clone(), limits);
        (c, f, pool)
    }

    fn freeze(c: &Consortium, f: &mut TxFactory) -> Transaction {
        f.sign(&c.regulator.key, Payload::FreezeMember { member: c.insurers[0].id.clone() })
    }

    #[test]
    fn admits_deduplicates_and_checks() {
        let (c, mut f, mut pool) = setup(MempoolConfig::default());
        let tx = freeze(&c, &mut f);
        assert!(pool.admit(vec![tx.clone()], 0)[0].is_ok());
        assert_eq!(pool.admit(vec![tx.clone()], 0)[0], Err(AdmitError::DuplicateInMempool));
        let forged =
            Transaction::from_parts(freeze(&c, &mut f).body().clone(), tx.signature().clone());
        assert_eq!(
            pool.admit(vec![forged], 0)[0],
            Err(AdmitError::Rejected(Rejection::BadSignature))
        );
        let late = freeze(&c, &mut f);
        assert!(matches!(
            pool.admit(vec![late], 50)[0],
            Err(AdmitError::Rejected(Rejection::Expired { .. }))
        ));
        let mut other = TxFactory::new(medledger_types::ChainId::new("elsewhere").unwrap(), 50);
        let wrong = freeze(&c, &mut other);
        assert!(matches!(
            pool.admit(vec![wrong], 0)[0],
            Err(AdmitError::Rejected(Rejection::WrongChainId { .. }))
        ));
        assert_eq!(pool.len(), 1);
    }

    /// The planted bug admits a transaction signed for another chain.
    #[cfg(feature = "planted-bugs")]
    #[test]
    fn planted_bug_admits_the_wrong_chain_id() {
        let (c, _, mut pool) = setup(MempoolConfig::default());
        let mut other = TxFactory::new(medledger_types::ChainId::new("elsewhere").unwrap(), 50);
        let wrong = freeze(&c, &mut other);
        medledger_ledger::planted::set_accept_wrong_chain_id(true);
        let admitted = pool.admit(vec![wrong], 0);
        medledger_ledger::planted::set_accept_wrong_chain_id(false);
        assert!(admitted[0].is_ok(), "{admitted:?}");
    }

    #[test]
    fn one_signer_cannot_fill_the_pool() {
        let (c, mut f, mut pool) = setup(MempoolConfig {
            txs_max: 100,
            bytes_max: 1 << 20,
            txs_per_signer_max: 2,
            ..MempoolConfig::default()
        });
        let txs: Vec<_> = (0..3).map(|_| freeze(&c, &mut f)).collect();
        let results = pool.admit(txs, 0);
        assert_eq!(results[2], Err(AdmitError::SignerQueueFull { waiting: 2 }));
    }

    #[test]
    fn refuses_when_full_instead_of_growing() {
        let (c, mut f, mut pool) = setup(MempoolConfig {
            txs_max: 2,
            bytes_max: 1 << 20,
            txs_per_signer_max: 100,
            ..MempoolConfig::default()
        });
        let txs: Vec<_> = (0..3).map(|_| freeze(&c, &mut f)).collect();
        let results = pool.admit(txs, 0);
        assert!(results[0].is_ok() && results[1].is_ok());
        assert!(matches!(results[2], Err(AdmitError::MempoolFull { txs: 2, .. })));
        assert_eq!(pool.len(), 2);
    }

    #[test]
    fn one_signer_holds_at_most_its_bytes_and_a_quarter_of_a_block() {
        let (c, mut f, _) = setup(MempoolConfig::default());
        let busy: Vec<_> = (0..6).map(|_| freeze(&c, &mut f)).collect();
        let size = busy[0].encode_size();
        let (_, _, mut pool) =
            setup(MempoolConfig { bytes_per_signer_max: 5 * size, ..MempoolConfig::default() });
        let results = pool.admit(busy.clone(), 0);
        assert!(results[..5].iter().all(Result::is_ok), "{results:?}");
        assert_eq!(results[5], Err(AdmitError::SignerBytesFull { bytes: 5 * size, max: 5 * size }));
        // Alone, a signer may fill the block; with another signer waiting, it takes a quarter.
        assert_eq!(pool.select(100, 4 * size, &HashSet::new()).len(), 4);
        let quiet = f.sign(
            &c.patients[0].key,
            Payload::WithdrawClaim { claim_id: medledger_testkit::claim_id(1), consent: None },
        );
        assert!(pool.admit(vec![quiet.clone()], 0)[0].is_ok());
        let picked = pool.select(100, 4 * size, &HashSet::new());
        assert_eq!(picked, vec![busy[0].clone(), quiet]);
        pool.remove(busy.iter().map(Transaction::id));
        assert_eq!(pool.len(), 1);
    }

    #[test]
    fn selection_is_round_robin_across_signers() {
        let (c, mut f, mut pool) = setup(MempoolConfig::default());
        let busy: Vec<_> = (0..5).map(|_| freeze(&c, &mut f)).collect();
        let patient = &c.patients[0];
        let quiet = f.sign(
            &patient.key,
            Payload::WithdrawClaim { claim_id: medledger_testkit::claim_id(1), consent: None },
        );
        pool.admit(busy.clone(), 0);
        pool.admit(vec![quiet.clone()], 0);
        let picked = pool.select(2, usize::MAX, &HashSet::new());
        assert_eq!(picked, vec![busy[0].clone(), quiet.clone()]);
        let exclude: HashSet<TxId> = [busy[0].id()].into();
        let picked = pool.select(10, usize::MAX, &exclude);
        assert_eq!(picked.len(), 5);
        assert!(!picked.contains(&busy[0]));
        pool.remove([busy[0].id(), quiet.id()]);
        assert_eq!(pool.len(), 4);
        pool.prune_expired(50);
        assert!(pool.is_empty());
        assert_eq!(pool.bytes(), 0);
    }
}
