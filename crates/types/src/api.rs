//! The HTTP API's response bodies, shared by the node (which sends them) and the SDK (which
//! reads them), so the two cannot drift apart.

use crate::ids::TxId;
use crate::receipt::Receipt;
use medledger_crypto::Digest;
use serde::{Deserialize, Serialize};

/// Every API error: a stable machine code and a human message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// Stable code, e.g. `over_claim`, `malformed_transaction`, `mempool_full`.
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
}

/// `GET /v1/status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The chain.
    pub chain_id: String,
    /// This validator's index in genesis.
    pub validator_index: usize,
    /// Height of the last executed block.
    pub height: u64,
    /// Its digest, hex.
    pub last_block_hash: String,
    /// The state root after it, hex.
    pub state_root: String,
    /// Its consensus time, ms since the Unix epoch.
    pub last_block_time_ms: u64,
    /// Number of validators.
    pub validators: u32,
    /// Validators this node is connected to right now (not counting itself).
    pub peers_connected: u32,
    /// Transactions waiting in this node's mempool.
    pub mempool_txs: usize,
    /// Their bytes.
    pub mempool_bytes: usize,
}

/// Where a committed transaction is and what it did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Committed {
    /// Height of the block that included it.
    pub height: u64,
    /// Position in that block.
    pub index: u32,
    /// The ledger's receipt.
    pub receipt: Receipt,
}

/// `POST /v1/txs` and `GET /v1/txs/{id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxStatus {
    /// The transaction.
    pub tx_id: TxId,
    /// `pending` (in a mempool) or `committed`.
    pub status: String,
    /// The receipt, once committed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub committed: Option<Committed>,
}

/// `GET /v1/blocks/{height}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockSummary {
    /// Height.
    pub height: u64,
    /// The block's digest, hex.
    pub digest: String,
    /// The state root after executing it.
    pub state_root: Digest,
    /// Consensus time.
    pub timestamp_ms: u64,
    /// Transactions in it.
    pub txs: u32,
}
