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

/// Limits of the HTTP API (docs/design/0005-api.md, "Limits"). Client addresses are counted
/// one by one and by network: an IPv4 address's /24, an IPv6 address's /64 (where one host
/// usually gets a whole /64). Every field has a default, so older files without the newer
/// fields still load.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Requests per second allowed to one client IP address (0: no limit). A batch of
    /// transactions counts as one request per transaction.
    pub rate_per_s: u32,
    /// Requests one client may send at once before the rate applies.
    pub rate_burst: u32,
    /// Requests per second allowed to one network (/24 or /64) in all (0: no limit).
    pub rate_prefix_per_s: u32,
    /// Requests one network may send at once before its rate applies.
    pub rate_prefix_burst: u32,
    /// Addresses (and, apart, networks) whose request rate is tracked at most; past it the
    /// longest idle are forgotten, so a flood from many addresses cannot grow the table.
    pub rate_clients_tracked_max: usize,
    /// Connections held open at most. When all are held, a client from a network holding
    /// fewer than the network holding most takes one of that network's; otherwise it is
    /// refused.
    pub connections_max: usize,
    /// Connections one client address may hold (429 `too_many_connections` past it).
    pub connections_per_address_max: usize,
    /// Connections one network may hold.
    pub connections_per_prefix_max: usize,
    /// Event streams (`/v1/events`) open at most, shared as fairly as connections.
    pub event_streams_max: usize,
    /// Event streams one client address may hold (429 `too_many_streams` past it).
    pub event_streams_per_address_max: usize,
    /// Event streams one network may hold.
    pub event_streams_per_prefix_max: usize,
    /// A connection with no request in progress is closed after this long.
    pub idle_timeout_ms: u64,
    /// A request head must arrive whole within this long of its first byte.
    pub head_timeout_ms: u64,
    /// A request body must arrive whole within this long of its head (408 past it).
    pub body_timeout_ms: u64,
    /// After `transfer_grace_ms`, a request head or body still arriving must have come at
    /// least this fast on average since then (0: no minimum rate).
    pub transfer_min_bytes_per_s: u64,
    /// How long a head or body may take before the minimum rate applies.
    pub transfer_grace_ms: u64,
    /// An answer the client does not read for this long (nothing can be sent) is abandoned
    /// and the connection closed.
    pub send_stall_timeout_ms: u64,
}

impl Default for ApiConfig {
    fn default() -> Self {
        // 5,000 requests/s per client is above what one client on this hardware submits
        // (individually signed claims commit at about 4,000/s across the whole network), so
        // only a runaway or hostile client meets it; a network gets four clients' worth.
        // Connections and streams: no address holds more than a sixteenth of the node's, no
        // network more than a quarter, and a full node still serves a network that holds
        // little (see `connections_max`). Deadlines: an honest head arrives in one packet and
        // a 2 MiB body in well under 30 s; a client that trickles bytes to hold a connection
        // (slowloris) is cut within a few seconds.
        Self {
            rate_per_s: 5_000,
            rate_burst: 10_000,
            rate_prefix_per_s: 20_000,
            rate_prefix_burst: 40_000,
            rate_clients_tracked_max: 65_536,
            connections_max: 1_024,
            connections_per_address_max: 64,
            connections_per_prefix_max: 256,
            event_streams_max: 256,
            event_streams_per_address_max: 16,
            event_streams_per_prefix_max: 64,
            idle_timeout_ms: 10_000,
            head_timeout_ms: 5_000,
            body_timeout_ms: 30_000,
            transfer_min_bytes_per_s: 1_024,
            transfer_grace_ms: 2_000,
            send_stall_timeout_ms: 30_000,
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
    /// Encoded bytes one signer may have admitted per second, on average (bursts of 2 MiB):
    /// about 500 bills a second per hospital (43 million a day), far above a real one's pace,
    /// and low enough that one key cannot saturate the validators' CPU.
    #[serde(default = "default_bytes_per_signer_per_s")]
    pub bytes_per_signer_per_s: usize,
}

fn default_bytes_per_signer_per_s() -> usize {
    512 * 1024
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
            bytes_per_signer_per_s: default_bytes_per_signer_per_s(),
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

#[cfg(test)]
mod tests {
    use super::ApiConfig;

    #[test]
    fn an_api_section_written_before_the_newer_limits_still_loads() {
        let old =
            "rate_per_s = 100\nrate_burst = 200\nconnections_max = 512\nevent_streams_max = 8\n";
        let api: ApiConfig = toml::from_str(old).unwrap();
        assert_eq!((api.rate_per_s, api.connections_max, api.event_streams_max), (100, 512, 8));
        let defaults = ApiConfig::default();
        assert_eq!(api.connections_per_address_max, defaults.connections_per_address_max);
        assert_eq!(api.body_timeout_ms, defaults.body_timeout_ms);
    }
}
