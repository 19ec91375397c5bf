//! A node's configuration file, `config.toml` in the node's home directory.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Default API port of validator 0; validator `i` listens on `API_BASE_PORT + i`.
pub const API_BASE_PORT: u16 = 8700;
/// Offset from the API port to the peer-to-peer port.
pub const P2P_PORT_OFFSET: u16 = 1000;

/// Everything a validator needs to start, relative paths resolved against its home directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// The chain this node belongs to; must equal the genesis chain id.
    pub chain_id: String,
    /// This validator's position in the genesis validator list.
    pub validator_index: usize,
    /// Where the API listens.
    pub api_address: SocketAddr,
    /// Where the peer-to-peer network listens.
    pub p2p_address: SocketAddr,
    /// The genesis file.
    pub genesis: PathBuf,
    /// This validator's consensus key file (owner-only permissions).
    pub validator_key: PathBuf,
    /// Where blocks and state are stored.
    pub data_dir: PathBuf,
    /// Mempool limits.
    #[serde(default)]
    pub mempool: MempoolConfig,
    /// Consensus pacing.
    #[serde(default)]
    pub consensus: ConsensusConfig,
    /// API limits.
    #[serde(default)]
    pub api: ApiConfig,
    /// Where to dial other validators instead of their genesis `p2p_address`, by validator
    /// index (as a decimal string key): for a validator reached through NAT, a tunnel or a
    /// fault-injecting proxy. Connections stay authenticated by the validators' keys.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub peer_addresses: std::collections::BTreeMap<String, SocketAddr>,
}

/// Limits of the HTTP API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Requests per second allowed to one client IP address (0: no limit).
    pub rate_per_s: u32,
    /// Requests one client may send at once before the rate applies.
    pub rate_burst: u32,
    /// Connections held open at most; more wait until one closes.
    pub connections_max: usize,
    /// Event streams (`/v1/events`) open at most; more are refused with 503.
    pub event_streams_max: usize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        // 5,000 requests/s per client is above what one client on this hardware submits
        // (individually signed claims commit at about 4,000/s across the whole network), so
        // only a runaway or hostile client meets it.
        Self {
            rate_per_s: 5_000,
            rate_burst: 10_000,
            connections_max: 1_024,
            event_streams_max: 256,
        }
    }
}

/// Consensus pacing (see `App::new`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsensusConfig {
    /// After a block with transactions, the leader waits this long after the parent's
    /// timestamp before proposing the empty follow-up block that commits to their state
    /// (0 = propose at once). Must stay well below the 1 s leader timeout; values above 800
    /// are capped.
    pub idle_block_interval_ms: u64,
    /// An idle chain (no transactions waiting, none left to commit to) makes one empty block
    /// this often, as a sign of life; between them no block is made. 0 makes an empty block
    /// every idle interval (about 63 million a year).
    #[serde(default = "heartbeat_ms_default")]
    pub heartbeat_ms: u64,
}

fn heartbeat_ms_default() -> u64 {
    10_000
}

impl Default for ConsensusConfig {
    fn default() -> Self {
        Self { idle_block_interval_ms: 500, heartbeat_ms: heartbeat_ms_default() }
    }
}

/// Limits of the mempool: it refuses new transactions rather than grow past them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MempoolConfig {
    /// Transactions held at most.
    pub txs_max: usize,
    /// Encoded bytes held at most.
    pub bytes_max: usize,
    /// Transactions held at most for one signer, so that no one key can fill the pool.
    #[serde(default = "default_txs_per_signer_max")]
    pub txs_per_signer_max: usize,
    /// Encoded bytes held at most for one signer: a hospital posting 1 MiB issuance batches
    /// as fast as it can holds at most this much, however few transactions that is.
    #[serde(default = "default_bytes_per_signer_max")]
    pub bytes_per_signer_max: usize,
}

fn default_txs_per_signer_max() -> usize {
    10_000
}

fn default_bytes_per_signer_max() -> usize {
    16 * 1024 * 1024
}

impl Default for MempoolConfig {
    fn default() -> Self {
        // 100,000 transactions is several seconds of peak load; 256 MiB bounds memory even if
        // every transaction is a full issuance batch; 10,000 per signer keeps a busy hospital
        // from crowding everyone else out.
        Self {
            txs_max: 100_000,
            bytes_max: 256 * 1024 * 1024,
            txs_per_signer_max: default_txs_per_signer_max(),
            bytes_per_signer_max: default_bytes_per_signer_max(),
        }
    }
}

impl NodeConfig {
    /// Reads `home/config.toml` and resolves its paths against `home`.
    pub fn load(home: &Path) -> anyhow::Result<Self> {
        let path = home.join("config.toml");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let mut config: NodeConfig =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        for field in [&mut config.genesis, &mut config.validator_key, &mut config.data_dir] {
            if field.is_relative() {
                *field = home.join(&*field);
            }
        }
        Ok(config)
    }
}
