//! Blocks: what consensus orders. A block carries signed transactions; its digest commits to
//! its parent, height, consensus time and the ids of its transactions.
//!
//! ```text
//! digest  = H("medledger/block/v1" || parent || height || timestamp_ms || tx_root
//!             || executed_height || state_root)
//! tx_root = H("medledger/block-tx-root/v1" || id_1 || … || id_n)
//! ```
//!
//! **State root.** Each header carries `state_root`, the state root after executing block
//! `executed_height`: the proposer's latest executed (finalized) height, usually the parent or
//! the one before. Every validator checks it against its own execution before voting, so
//! finalizing a block certifies the state at `executed_height`. The root cannot be that of the
//! block itself without executing unfinalized blocks speculatively, and waiting for the parent
//! to finalize first could stall consensus (simplex may finalize a block only through its
//! descendants); see docs/design/0004-node.md.
//!
//! The genesis block (height 0) has no transactions; its `tx_root` is the digest of the genesis
//! configuration, so two networks with different genesis files never share a block.

use bytes::BufMut;
use commonware_codec::{Buf, EncodeSize, Error, FixedSize, RangeCfg, Read, Write};
use commonware_consensus::types::Height;
use commonware_cryptography::{Digestible, sha256};
use medledger_crypto::{Digest, Domain, hash};
use medledger_receipt::BlockHeader;
use medledger_types::{Genesis, Transaction};

/// Transactions in one block. Blocks of 10,000 claims took 0.4-2.7 s each under the claims
/// benchmark (the leader builds and sends the block, every validator checks it before voting,
/// so one big block holds consensus up longer than its share of work); at 3,000 the same run
/// committed almost twice as many claims per second (docs/BENCHMARKS.md, fix 5).
pub const BLOCK_TXS_MAX: usize = 3_000;

/// Encoded size of one block's transactions: about 3,000 bills with their sealed bodies (1.3 KB
/// each), or thousands of individually signed claims.
pub const BLOCK_BYTES_MAX: usize = 4 * 1024 * 1024;

/// The consensus digest type.
pub type BlockDigest = sha256::Digest;

/// A block of transactions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// The parent's digest.
    pub parent: BlockDigest,
    /// Height: the parent's plus one; genesis is 0.
    pub height: u64,
    /// Consensus time chosen by the proposer, checked by every validator: after the parent's,
    /// and not ahead of the validator's own clock by more than the allowed drift.
    pub timestamp_ms: u64,
    /// Root of the transaction ids (see the module documentation).
    pub tx_root: Digest,
    /// The height whose post-execution state `state_root` commits to (below `height`).
    pub executed_height: u64,
    /// The state root after executing block `executed_height`.
    pub state_root: Digest,
    /// The transactions, in execution order.
    pub txs: Vec<Transaction>,
}

/// The state root at genesis (height 0): bound to the genesis configuration.
pub fn genesis_state_root(genesis_tx_root: &Digest) -> Digest {
    hash(Domain::StateRoot, &[&genesis_tx_root.0])
}

/// The root of a list of transactions: each transaction's id (which covers its signed body)
/// followed by its signature bytes, so a block's digest binds exactly the bytes it carries.
pub fn tx_root(txs: &[Transaction]) -> Digest {
    let ids: Vec<[u8; 32]> = txs.iter().map(|tx| tx.id().0.0).collect();
    let mut parts: Vec<&[u8]> = Vec::with_capacity(2 * txs.len());
    for (id, tx) in ids.iter().zip(txs) {
        parts.push(id.as_slice());
        parts.push(tx.signature().as_bytes());
    }
    hash(Domain::BlockTxRoot, &parts)
}

impl Block {
    /// The genesis block of `genesis`.
    pub fn genesis(genesis: &Genesis) -> Self {
        let config = serde_json::to_vec(genesis).expect("genesis serializes");
        let tx_root = hash(Domain::Genesis, &[&config]);
        Self {
            parent: sha256::Digest([0; 32]),
            height: 0,
            timestamp_ms: genesis.genesis_time_ms,
            tx_root,
            executed_height: 0,
            state_root: genesis_state_root(&tx_root),
            txs: Vec::new(),
        }
    }

    /// A child of `parent` carrying `txs`, committing to the state root after `executed_height`.
    pub fn child(
        parent: &Block,
        parent_digest: BlockDigest,
        timestamp_ms: u64,
        (executed_height, state_root): (u64, Digest),
        txs: Vec<Transaction>,
    ) -> Self {
        Self {
            parent: parent_digest,
            height: parent.height.checked_add(1).expect("height fits u64"),
            timestamp_ms,
            tx_root: tx_root(&txs),
            executed_height,
            state_root,
            txs,
        }
    }

    /// Total encoded size of the transactions.
    pub fn txs_bytes(&self) -> usize {
        self.txs.iter().map(EncodeSize::encode_size).sum()
    }
}

impl Write for Block {
    fn write(&self, buf: &mut impl BufMut) {
        // The header's fields, as receipts carry them, then the transactions.
        self.header().write(buf);
        self.txs.write(buf);
    }
}

impl EncodeSize for Block {
    fn encode_size(&self) -> usize {
        BlockHeader::SIZE + self.txs.encode_size()
    }
}

impl Read for Block {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        let BlockHeader { parent, height, timestamp_ms, tx_root, executed_height, state_root } =
            BlockHeader::read_cfg(buf, &())?;
        let parent = sha256::Digest(parent.0);
        let txs = Vec::<Transaction>::read_cfg(buf, &(RangeCfg::new(0..=BLOCK_TXS_MAX), ()))?;
        // The digest covers `tx_root`, not the transactions themselves; a block whose
        // transactions do not match its root is refused here, wherever it came from (proposal,
        // broadcast or backfill). Genesis commits to the configuration instead and is never
        // fetched from peers.
        if height > 0 && tx_root != self::tx_root(&txs) {
            return Err(Error::Invalid("Block", "transactions do not match the transaction root"));
        }
        Ok(Self { parent, height, timestamp_ms, tx_root, executed_height, state_root, txs })
    }
}

impl Block {
    /// The fields the digest covers, as receipts carry them.
    pub fn header(&self) -> BlockHeader {
        BlockHeader {
            parent: Digest(self.parent.0),
            height: self.height,
            timestamp_ms: self.timestamp_ms,
            tx_root: self.tx_root,
            executed_height: self.executed_height,
            state_root: self.state_root,
        }
    }
}

impl Digestible for Block {
    type Digest = BlockDigest;
    fn digest(&self) -> BlockDigest {
        sha256::Digest(self.header().digest().0)
    }
}

impl commonware_consensus::Heightable for Block {
    fn height(&self) -> Height {
        Height::new(self.height)
    }
}

impl commonware_consensus::Block for Block {
    fn parent(&self) -> BlockDigest {
        self.parent
    }
}

impl commonware_consensus::BoundedBlock for Block {
    fn max_encode_size(_: &()) -> usize {
        // Header (32 + 8 + 8 + 32 + 8 + 32), the length prefix, and the transactions.
        32 + 8 + 8 + 32 + 8 + 32 + 5 + BLOCK_BYTES_MAX
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{DecodeExt, Encode};
    use medledger_testkit::{Consortium, TxFactory};
    use medledger_types::Payload;

    #[test]
    fn blocks_round_trip_and_digests_bind_content() {
        let c = Consortium::demo("medledger-block", 1);
        let genesis = Block::genesis(&c.genesis);
        let mut f = TxFactory::new(c.chain_id().clone(), 10);
        let tx =
            f.sign(&c.regulator.key, Payload::FreezeMember { member: c.insurers[0].id.clone() });
        let root = (0, genesis.state_root);
        let child =
            Block::child(&genesis, genesis.digest(), genesis.timestamp_ms + 1, root, vec![tx]);
        let bytes = child.encode();
        let back = Block::decode(bytes.clone()).unwrap();
        assert_eq!(back, child);
        assert_eq!(back.digest(), child.digest());
        assert_eq!(back.encode(), bytes);
        let mut other = child.clone();
        other.timestamp_ms += 1;
        assert_ne!(other.digest(), child.digest());
        let mut other = child.clone();
        other.state_root = Digest([9; 32]);
        assert_ne!(other.digest(), child.digest());
        // Swapping the transactions under an unchanged header is refused by the decoder.
        let mut swapped = child.clone();
        swapped.txs.clear();
        assert!(Block::decode(swapped.encode()).is_err());
        let other_chain = Consortium::demo("medledger-other", 1);
        assert_ne!(Block::genesis(&other_chain.genesis).digest(), genesis.digest());
    }
}
