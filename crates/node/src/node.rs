//! Starting a validator: keys and genesis from the home directory, then the runtime, the
//! peer-to-peer network, consensus (simplex + marshal), the executor, the mempool gossip and
//! the API, in that order. Stops cleanly on SIGINT or SIGTERM.

use crate::api;
use crate::app::{App, Executor, Marshal, run_execution};
use crate::block::{Block, BlockDigest};
use crate::chain::Chain;
use crate::config::NodeConfig;
use crate::gossip;
use crate::mempool::Mempool;
use anyhow::{Context as _, bail};
use commonware_broadcast::buffered;
use commonware_codec::DecodeExt as _;
use commonware_consensus::marshal::{self, Start, core::Actor as MarshalActor, standard::Inline};
use commonware_consensus::simplex::{self, elector::RoundRobin, scheme::ed25519::Scheme};
use commonware_consensus::types::{Epoch, FixedEpocher, Height, ViewDelta};
use commonware_cryptography::certificate::{ConstantProvider, Verifier as _};
use commonware_cryptography::{ChaCha20Poly1305, Digested, Digestible as _, Sha256, ed25519};
use commonware_p2p::authenticated::{lookup, peer_set_limit};
use commonware_p2p::{Address, AddressableManager as _};
use commonware_parallel::Sequential;
use commonware_runtime::buffer::paged::CacheRef;
use commonware_runtime::{Quota, Runner as _, Supervisor as _};
use commonware_storage::archive::immutable;
use commonware_stream::cups::{self, Cups};
use commonware_stream::sake::{self, Sake};
use commonware_utils::ordered::Map;
use commonware_utils::{NZDuration, NZU16, NZU32, NZU64, NZUsize};
use medledger_types::Genesis;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Channel numbers on the peer-to-peer network; every validator of a network
/// must use the same.
pub mod channel {
    /// Consensus votes.
    pub const VOTES: u64 = 0;
    /// Consensus certificates.
    pub const CERTIFICATES: u64 = 1;
    /// Consensus resolver (fetching missing certificates).
    pub const RESOLVER: u64 = 2;
    /// Block broadcast.
    pub const BLOCKS: u64 = 3;
    /// Block backfill for lagging validators.
    pub const BACKFILL: u64 = 4;
    /// Transaction gossip.
    pub const MEMPOOL: u64 = 5;
}

/// Everything loaded from a node's home before the runtime starts.
struct Loaded {
    config: NodeConfig,
    genesis: Genesis,
    key: ed25519::PrivateKey,
    peers: Vec<(ed25519::PublicKey, SocketAddr)>,
}

fn load(home: &std::path::Path) -> anyhow::Result<Loaded> {
    let config = NodeConfig::load(home)?;
    let text = std::fs::read_to_string(&config.genesis)
        .with_context(|| format!("reading {}", config.genesis.display()))?;
    let genesis: Genesis = serde_json::from_str(&text)
        .with_context(|| format!("parsing {}", config.genesis.display()))?;
    if genesis.chain_id.as_str() != config.chain_id {
        bail!("config chain_id {} does not match genesis {}", config.chain_id, genesis.chain_id);
    }
    let signing = medledger_crypto::keyfile::read(&config.validator_key)?;
    let key = ed25519::PrivateKey::decode(commonware_codec::Copying(signing.seed().as_slice()))
        .map_err(|e| anyhow::anyhow!("validator key: {e}"))?;
    for index in config.peer_addresses.keys() {
        match index.parse::<usize>() {
            Ok(i) if i < genesis.validators.len() && i != config.validator_index => {}
            _ => bail!(
                "peer_addresses: {index:?} is not the index of another validator in the genesis"
            ),
        }
    }
    let mut peers = Vec::new();
    for (index, validator) in genesis.validators.iter().enumerate() {
        let public =
            ed25519::PublicKey::decode(commonware_codec::Copying(validator.public_key.as_bytes()))
                .map_err(|e| anyhow::anyhow!("validator key in genesis: {e}"))?;
        let address: SocketAddr = match config.peer_addresses.get(&index.to_string()) {
            Some(address) => *address,
            None => validator
                .p2p_address
                .parse()
                .with_context(|| format!("validator p2p address {:?}", validator.p2p_address))?,
        };
        peers.push((public, address));
    }
    let me = genesis
        .validators
        .get(config.validator_index)
        .with_context(|| format!("genesis has no validator {}", config.validator_index))?;
    if me.public_key != signing.public_key() {
        bail!("validator key does not match genesis validator {}", config.validator_index);
    }
    Ok(Loaded { config, genesis, key, peers })
}

fn archive_config<C>(
    prefix: &str,
    name: &str,
    page_cache: &CacheRef,
    codec_config: C,
) -> immutable::Config<C> {
    let p = |part: &str| format!("{prefix}-{name}-{part}");
    immutable::Config {
        metadata_partition: p("metadata"),
        freezer_table_partition: p("freezer-table"),
        freezer_table_initial_size: 65_536,
        freezer_table_resize_frequency: 4,
        freezer_table_resize_chunk_size: 16_384,
        freezer_key_partition: p("freezer-key"),
        freezer_key_page_cache: page_cache.clone(),
        freezer_value_partition: p("freezer-value"),
        freezer_value_target_size: 256 * 1024 * 1024,
        freezer_value_compression: None,
        ordinal_partition: p("ordinal"),
        items_per_section: NZU64!(4_096),
        codec_config,
        replay_buffer: NZUsize!(1 << 20),
        freezer_key_write_buffer: NZUsize!(1 << 20),
        freezer_value_write_buffer: NZUsize!(1 << 20),
        ordinal_write_buffer: NZUsize!(1 << 20),
    }
}

/// Marshal's two archives: finalization certificates and finalized blocks (held as `B`: marshal
/// keeps `Arc<Block>`, the check reads `Block`; the encoding is the same), by height.
type Archives<E, B> = (
    immutable::Archive<E, BlockDigest, simplex::types::Finalization<Scheme, BlockDigest>>,
    immutable::Archive<E, BlockDigest, B>,
);

/// Opens marshal's archives under `prefix`; storage the runtime finds corrupt is refused.
async fn open_archives<E, B>(
    context: &E,
    prefix: &str,
    page_cache: &CacheRef,
) -> anyhow::Result<Archives<E, B>>
where
    E: commonware_storage::Context + commonware_runtime::Supervisor,
    B: commonware_codec::CodecShared<Cfg = ()>,
{
    let finalizations = immutable::Archive::init(
        context.child("finalizations_by_height"),
        archive_config(
            prefix,
            "finalizations-by-height",
            page_cache,
            Scheme::certificate_codec_config_unbounded(),
        ),
    )
    .await
    .map_err(|e| damaged_storage("finalization certificates", &e))?;
    let blocks = immutable::Archive::init(
        context.child("finalized_blocks"),
        archive_config(prefix, "finalized-blocks", page_cache, ()),
    )
    .await
    .map_err(|e| damaged_storage("finalized blocks", &e))?;
    Ok((finalizations, blocks))
}

/// The error for stored data that cannot be opened: the storage found it corrupt (checksums,
/// headers) or unreadable. Nothing is served from it.
fn damaged_storage(what: &str, error: &dyn std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!(
        "the data directory is damaged: its {what} cannot be opened ({error}). Nothing was \
         served from it. Stop it and run `medledger resync --home <home>`, then start it \
         again: the block archives are moved aside (the journal of its own votes is kept) and \
         the node fetches every block from its peers, checking each against the validators' \
         certificates."
    )
}

/// What `medledger resync` moved aside.
#[derive(Debug, serde::Serialize)]
pub struct ResyncReport {
    /// Where the block archives went.
    pub moved_to: std::path::PathBuf,
    /// The partitions moved.
    pub moved: Vec<String>,
    /// The partition kept: consensus's journal of this validator's own votes.
    pub kept: String,
}

/// Prepares a stopped validator whose block archives are damaged to fetch every block again
/// from its peers: moves every partition of its data directory but consensus's journal into
/// `<data>.damaged-<unix seconds>` next to it. The journal stays: without it the validator could
/// contradict votes it cast before the damage, and its peers would block it as an equivocator.
/// Nothing is deleted.
pub fn resync(home: &std::path::Path) -> anyhow::Result<ResyncReport> {
    let loaded = load(home)?;
    let data = &loaded.config.data_dir;
    if !data.exists() {
        bail!("{} has no data directory yet", home.display());
    }
    let api = loaded.config.api_address;
    if std::net::TcpStream::connect_timeout(&api, Duration::from_millis(300)).is_ok() {
        bail!("the validator is running (its API answers at {api}); stop it before resyncing");
    }
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let name = data.file_name().map_or_else(|| "data".into(), |n| n.to_string_lossy().into_owned());
    let aside = data.with_file_name(format!("{name}.damaged-{seconds}"));
    std::fs::create_dir_all(&aside).with_context(|| format!("creating {}", aside.display()))?;
    let kept = consensus_journal_partition(PARTITION_PREFIX);
    let mut moved = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(data)
        .with_context(|| format!("reading {}", data.display()))?
        .collect::<Result<_, _>>()?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let partition = entry.file_name().to_string_lossy().into_owned();
        if partition == kept {
            continue;
        }
        std::fs::rename(entry.path(), aside.join(&partition))
            .with_context(|| format!("moving {} aside", entry.path().display()))?;
        moved.push(partition);
    }
    Ok(ResyncReport { moved_to: aside, moved, kept })
}

/// Runs the validator whose home is `home` until SIGINT or SIGTERM.
pub fn launch(home: &std::path::Path) -> anyhow::Result<()> {
    let loaded = load(home)?;
    #[cfg(feature = "planted-bugs")]
    if let Some(bug) = crate::planted::from_environment()? {
        tracing::warn!(
            "PLANTED BUG {bug}: this validator is deliberately wrong (fault-test check)"
        );
        eprintln!("warning: planted bug {bug} is active");
    }
    std::fs::create_dir_all(&loaded.config.data_dir)?;
    let runtime = commonware_runtime::tokio::Config::new()
        .with_storage_directory(loaded.config.data_dir.clone())
        .with_worker_threads(2);
    commonware_runtime::tokio::Runner::new(runtime).start(|context| async move {
        if let Err(error) = run(context, loaded).await {
            tracing::error!("node stopped: {error:#}");
            eprintln!("error: {error:#}");
            std::process::exit(1);
        }
    });
    Ok(())
}

async fn run(context: commonware_runtime::tokio::Context, loaded: Loaded) -> anyhow::Result<()> {
    let Loaded { config, genesis, key, peers } = loaded;
    let me = commonware_cryptography::Signer::public_key(&key);
    let peer_map: Map<ed25519::PublicKey, Address> = peers
        .iter()
        .map(|(pk, addr)| (pk.clone(), Address::from(*addr)))
        .collect::<Vec<_>>()
        .try_into()
        .map_err(|_| anyhow::anyhow!("genesis lists a validator key twice"))?;
    let participants = peer_map.keys().clone();
    let n = u32::try_from(participants.len())?;
    // P2P handshakes are bound to this chain: a connection from another network that reuses
    // validator keys is refused.
    let namespace = medledger_receipt::consensus_namespace(&genesis.chain_id);
    let handshake = Cups::<_, ChaCha20Poly1305>::new(
        Sake {
            signer: key.clone(),
            synchrony_bound: Duration::from_secs(5),
            max_handshake_age: Duration::from_secs(10),
            version: sake::Version::V1,
        },
        cups::Version::V1,
    );
    let p2p_config = lookup::Config::local(
        handshake,
        &namespace,
        config.p2p_address,
        peer_set_limit(&participants, &me),
        max_message_size(n),
        NZUsize!(4096),
    );
    let (mut network, mut oracle) = lookup::Network::new(context.child("network"), p2p_config);
    oracle.track(0, peer_map);
    let channels = Channels {
        votes: network.register(channel::VOTES, CONSENSUS_QUOTA),
        certificates: network.register(channel::CERTIFICATES, CONSENSUS_QUOTA),
        resolver: network.register(channel::RESOLVER, CONSENSUS_QUOTA),
        blocks: network.register(channel::BLOCKS, CONSENSUS_QUOTA),
        backfill: network.register(channel::BACKFILL, CONSENSUS_QUOTA),
        mempool: network.register(channel::MEMPOOL, MEMPOOL_QUOTA),
    };
    network.start();
    let api_genesis = std::sync::Arc::new(genesis.clone());
    let core = start_core(
        &context,
        CoreConfig {
            genesis,
            key,
            mempool: config.mempool.clone(),
            pacing: config.consensus.clone(),
            partition_prefix: PARTITION_PREFIX.to_string(),
        },
        channels,
        oracle.clone(),
        oracle,
    )
    .await?;
    let block_source: api::BlockSource = {
        let marshal = core.marshal.clone();
        std::sync::Arc::new(move |height| {
            let marshal = marshal.clone();
            Box::pin(async move {
                marshal.get_block(Height::new(height)).await.map(|b| b.inner().clone())
            })
        })
    };
    api::start(
        context.child("api"),
        config.clone(),
        core.chain.clone(),
        core.gossip.clone(),
        n,
        block_source,
        api_genesis,
    )
    .await?;
    tracing::info!(
        validator = config.validator_index,
        api = %config.api_address,
        p2p = %config.p2p_address,
        processed = core.processed,
        "validator started"
    );

    // Stop cleanly on SIGINT or SIGTERM.
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: stopping"),
        _ = terminate.recv() => tracing::info!("SIGTERM: stopping"),
        result = core.marshal_handle => tracing::error!(?result, "marshal stopped"),
        result = core.consensus_handle => tracing::error!(?result, "consensus stopped"),
    }
    use commonware_runtime::Spawner as _;
    let _ = context.stop(0, Some(Duration::from_secs(10))).await;
    Ok(())
}

/// Outbound rate of each consensus channel, per peer.
pub const CONSENSUS_QUOTA: Quota = Quota::per_second(NZU32!(1_000));
/// Outbound rate of mempool gossip, per peer.
pub const MEMPOOL_QUOTA: Quota = Quota::per_second(NZU32!(10_000));

/// The largest P2P message a network of `n` validators needs.
pub fn max_message_size(n: u32) -> u32 {
    commonware_p2p::max_message_size(&[
        simplex::max_payload_size::<Scheme, BlockDigest>(n),
        marshal::max_payload_size::<marshal::standard::Standard<Block>, Scheme>(n, &()),
    ])
}

/// One sender and receiver per P2P channel the validator uses, from whichever network carries
/// them: the authenticated TCP network in a real validator, the simulated one in `medledger-sim`.
#[derive(Debug)]
pub struct Channels<S, R> {
    /// Consensus votes.
    pub votes: (S, R),
    /// Consensus certificates.
    pub certificates: (S, R),
    /// Consensus certificate fetches.
    pub resolver: (S, R),
    /// Block broadcast.
    pub blocks: (S, R),
    /// Block backfill.
    pub backfill: (S, R),
    /// Mempool gossip.
    pub mempool: (S, R),
}

/// What the validator core needs besides its network and its storage.
#[derive(Clone, Debug)]
pub struct CoreConfig {
    /// The network's genesis.
    pub genesis: Genesis,
    /// This validator's consensus key; it must be in the genesis validator set.
    pub key: ed25519::PrivateKey,
    /// Mempool limits.
    pub mempool: crate::config::MempoolConfig,
    /// How the leader paces blocks.
    pub pacing: crate::config::ConsensusConfig,
    /// The prefix of every storage partition this validator uses ([`PARTITION_PREFIX`] in a
    /// real validator, which owns its storage directory; one per validator in a simulation,
    /// where they share one storage).
    pub partition_prefix: String,
}

/// The prefix of a real validator's storage partitions.
pub const PARTITION_PREFIX: &str = "medledger";

/// Every storage partition a validator core with partition prefix `prefix` writes: its
/// consensus journal, marshal's two archives of finalized certificates and blocks, and
/// marshal's caches of blocks and certificates not yet finalized.
pub fn partitions(prefix: &str) -> Vec<String> {
    let mut names = vec![
        consensus_journal_partition(prefix),
        format!("{prefix}-cache-metadata"),
        format!("{prefix}-application-metadata"),
    ];
    for archive in ["finalizations-by-height", "finalized-blocks"] {
        for part in ["metadata", "freezer-table", "freezer-key", "freezer-value", "ordinal"] {
            names.push(format!("{prefix}-{archive}-{part}"));
        }
    }
    for cache in ["verified", "notarized", "certified", "notarizations", "finalizations"] {
        for part in ["metadata", "key", "value"] {
            names.push(format!("{prefix}-cache-0-{cache}-{part}"));
        }
    }
    names
}

/// The partition of consensus's journal: the votes this validator cast. Unlike the block
/// archives, it cannot be fetched again from peers; losing it lets the validator contradict
/// its own earlier votes, for which its peers block it.
pub fn consensus_journal_partition(prefix: &str) -> String {
    format!("{prefix}-consensus-0")
}

/// A started validator core: consensus (simplex + marshal), execution and mempool gossip.
#[allow(missing_debug_implementations)]
pub struct Core {
    /// The ledger, its mempool and its receipts.
    pub chain: Arc<Chain>,
    /// Marshal's mailbox: finalized blocks by height.
    pub marshal: Marshal,
    /// Where newly admitted transactions go to be gossiped.
    pub gossip: futures::channel::mpsc::Sender<medledger_types::Transaction>,
    /// Finalized blocks already processed before this start (replayed into the ledger).
    pub processed: u64,
    /// Marshal's task: it ends only if marshal stops.
    pub marshal_handle: commonware_runtime::Handle<()>,
    /// Consensus's task: it ends only if consensus stops.
    pub consensus_handle: commonware_runtime::Handle<()>,
}

/// Starts the validator core in `context`, the same code for a real validator (tokio runtime,
/// disk, TCP) and a simulated one (Commonware's deterministic runtime, in-memory storage with
/// faults, simulated network): opens its storage (refusing damaged data), replays finalized
/// blocks into the ledger, and starts consensus, marshal, execution and gossip. Every task is
/// spawned under a child of `context`, so aborting the task that owns `context` stops them all
/// (a crash).
pub async fn start_core<E, S, R, P, B>(
    context: &E,
    config: CoreConfig,
    channels: Channels<S, R>,
    peers: P,
    blocker: B,
) -> anyhow::Result<Core>
where
    E: commonware_runtime::Spawner
        + commonware_runtime::Clock
        + commonware_runtime::Storage
        + commonware_runtime::Metrics
        + rand_core::CryptoRng,
    S: commonware_p2p::Sender<PublicKey = ed25519::PublicKey>,
    R: commonware_p2p::Receiver<PublicKey = ed25519::PublicKey>,
    P: commonware_p2p::Provider<PublicKey = ed25519::PublicKey> + Clone,
    B: commonware_p2p::Blocker<PublicKey = ed25519::PublicKey> + Clone,
{
    let CoreConfig { genesis, key, mempool, pacing, partition_prefix } = config;
    let me = commonware_cryptography::Signer::public_key(&key);
    let mut validators = Vec::with_capacity(genesis.validators.len());
    for validator in &genesis.validators {
        validators.push(
            ed25519::PublicKey::decode(commonware_codec::Copying(validator.public_key.as_bytes()))
                .map_err(|e| anyhow::anyhow!("validator key in genesis: {e}"))?,
        );
    }
    let participants = commonware_utils::ordered::Set::try_from(validators)
        .map_err(|_| anyhow::anyhow!("genesis lists a validator key twice"))?;
    // Consensus signatures are bound to this chain: a certificate from another network that
    // reuses validator keys is worthless here.
    let namespace = medledger_receipt::consensus_namespace(&genesis.chain_id);
    let scheme = Scheme::signer(&namespace, participants, key)
        .context("this validator's key is not in the genesis validator set")?;

    let page_cache = CacheRef::new(NZU16!(4096), NZUsize!(8192));
    let prefix = partition_prefix.as_str();
    let genesis_block = Block::genesis(&genesis);
    let genesis_digest = genesis_block.digest();
    let chain = Arc::new(Chain::new(
        &genesis,
        &genesis_block,
        Mempool::new(genesis.chain_id.clone(), mempool),
    )?);

    let (finalizations_by_height, finalized_blocks) =
        open_archives(context, prefix, &page_cache).await?;

    let epocher = FixedEpocher::new(NZU64!(u64::MAX));
    let (marshal_actor, marshal_mailbox, floor): (_, Marshal, _) = MarshalActor::init(
        context.child("marshal"),
        finalizations_by_height,
        finalized_blocks,
        marshal::Config {
            provider: ConstantProvider::<Scheme, Epoch>::new(scheme.clone()),
            epocher: epocher.clone(),
            start: Start::Genesis(Digested::precomputed(genesis_block.clone(), genesis_digest)),
            partition_prefix: prefix.to_string(),
            mailbox_size: NZUsize!(1024),
            view_retention: ViewDelta::new(100),
            prunable_items_per_section: NZU64!(4096),
            page_cache: page_cache.clone(),
            replay_buffer: NZUsize!(1 << 20),
            key_write_buffer: NZUsize!(1 << 20),
            value_write_buffer: NZUsize!(1 << 20),
            block_codec_config: (),
            max_repair: NZUsize!(32),
            max_pending_acks: NZUsize!(16),
            strategy: Sequential,
        },
    )
    .await;
    let processed = floor.processed().map(|p| p.height().get()).unwrap_or(0);

    let (resolver_receiver, resolver_mailbox) = marshal::resolver::p2p::init(
        context.child("backfill"),
        marshal::resolver::p2p::Config {
            public_key: me.clone(),
            peer_provider: peers.clone(),
            blocker: blocker.clone(),
            mailbox_size: NZUsize!(1024),
            fetch_timeout: NZDuration!(Duration::from_secs(2)),
            fetch_retry_delay: Duration::from_millis(100),
            priority_requests: false,
            priority_responses: false,
        },
        channels.backfill,
    );
    let (buffer_engine, buffer_mailbox) = buffered::Engine::new(
        context.child("buffer"),
        buffered::Config {
            public_key: me.clone(),
            mailbox_size: NZUsize!(1024),
            deque_size: 10,
            priority: false,
            codec_config: (),
            peer_provider: peers,
            strategy: Sequential,
        },
    );

    let (executor, updates) = Executor::new();
    let wrapper = Inline::new(
        context.child("application"),
        App::new(chain.clone(), pacing.idle_block_interval_ms, pacing.heartbeat_ms),
        marshal_mailbox.clone(),
        epocher,
    );
    let engine = simplex::Engine::new(
        context.child("consensus"),
        simplex::Config {
            scheme,
            elector: RoundRobin::<Sha256>::default(),
            blocker,
            automaton: wrapper.clone(),
            relay: wrapper.clone(),
            reporter: wrapper,
            track_historical_votes: false,
            strategy: Sequential,
            partition: consensus_journal_partition(prefix),
            mailbox_size: NZUsize!(1024),
            epoch: Epoch::zero(),
            floor: simplex::Floor::Genesis(genesis_digest),
            replay_buffer: NZUsize!(1 << 20),
            write_buffer: NZUsize!(1 << 20),
            page_cache,
            leader_timeout: Duration::from_secs(1),
            certification_timeout: Duration::from_secs(2),
            timeout_retry: Duration::from_secs(10),
            view_retention: ViewDelta::new(100),
            skip: simplex::SkipPolicy::Enabled {
                timeout: Duration::from_secs(11),
                budget: simplex::SkipBudget::Participants,
            },
            fetch_timeout: NZDuration!(Duration::from_secs(1)),
            fetch_retry_delay: Duration::from_millis(100),
            forward: simplex::ForwardPolicy::Disabled,
        },
    );

    buffer_engine.start(channels.blocks);
    let marshal_handle =
        marshal_actor.start(executor, buffer_mailbox, (resolver_receiver, resolver_mailbox));
    // The ledger state is rebuilt (and the stored blocks checked) before this validator votes
    // or serves anything; damaged data stops it here.
    crate::app::replay(&chain, &marshal_mailbox, processed).await?;
    let consensus_handle = engine.start(channels.votes, channels.certificates, channels.resolver);
    context.child("execution").spawn({
        let chain = chain.clone();
        let marshal = marshal_mailbox.clone();
        move |runtime| run_execution(runtime, chain, marshal, updates)
    });
    let gossip = gossip::start(context.child("gossip"), chain.clone(), channels.mempool);
    Ok(Core {
        chain,
        marshal: marshal_mailbox,
        gossip,
        processed,
        marshal_handle,
        consensus_handle,
    })
}

/// What `medledger check` found in a stopped node's data directory.
#[derive(Debug, Default, serde::Serialize)]
pub struct CheckReport {
    /// Finalized blocks read, checked and re-executed.
    pub blocks: u64,
    /// Of them, those whose finalization certificate was stored and verified.
    pub certified: u64,
    /// The state root after the last block re-executed, hex.
    pub state_root: String,
    /// What failed, if anything (the check stops at the first damaged block).
    pub problems: Vec<String>,
}

/// Checks a stopped node's stored blocks and certificates: each block must be readable,
/// continue its parent's digest, be the block its finalization certifies, carry a certificate
/// signed by a quorum of the genesis validators (where one is stored), and, re-executed from
/// genesis, reproduce the state roots the validators agreed on.
pub fn check(home: &std::path::Path) -> anyhow::Result<CheckReport> {
    let loaded = load(home)?;
    if !loaded.config.data_dir.exists() {
        bail!("{} has no data directory yet", home.display());
    }
    let api = loaded.config.api_address;
    if std::net::TcpStream::connect_timeout(&api, Duration::from_millis(300)).is_ok() {
        bail!("the validator is running (its API answers at {api}); stop it before checking");
    }
    let runtime = commonware_runtime::tokio::Config::new()
        .with_storage_directory(loaded.config.data_dir.clone())
        .with_worker_threads(2);
    commonware_runtime::tokio::Runner::new(runtime)
        .start(|context| async move { check_archives(context, loaded).await })
}

async fn check_archives(
    context: commonware_runtime::tokio::Context,
    loaded: Loaded,
) -> anyhow::Result<CheckReport> {
    use commonware_codec::Encode as _;
    use commonware_storage::archive::{Archive as _, Identifier};
    let Loaded { config, genesis, .. } = loaded;
    let page_cache = CacheRef::new(NZU16!(4096), NZUsize!(8192));
    let (finalizations, blocks) =
        open_archives::<_, Block>(&context, PARTITION_PREFIX, &page_cache).await?;
    let genesis_block = Block::genesis(&genesis);
    let chain = Chain::new(
        &genesis,
        &genesis_block,
        Mempool::new(genesis.chain_id.clone(), config.mempool.clone()),
    )?;
    let validators: Vec<_> = genesis.validators.iter().map(|v| v.public_key.clone()).collect();
    let mut report = CheckReport::default();
    let mut parent = genesis_block.digest();
    let last = blocks.last_index().unwrap_or(0);
    for height in 1..=last {
        let problem = |what: &str| format!("block {height}: {what}");
        let block = match blocks.get(Identifier::Index(height)).await {
            Ok(Some(block)) => block,
            Ok(None) => {
                report.problems.push(problem("missing"));
                break;
            }
            Err(e) => {
                report.problems.push(problem(&format!("unreadable: {e}")));
                break;
            }
        };
        if block.parent != parent {
            report.problems.push(problem("does not continue its parent's digest"));
            break;
        }
        let digest = block.digest();
        let finalization = match finalizations.get(Identifier::Index(height)).await {
            Ok(found) => found,
            Err(e) => {
                report.problems.push(problem(&format!("its certificate is unreadable: {e}")));
                break;
            }
        };
        let certificate = finalization.map(|f| f.encode().to_vec());
        if let Some(bytes) = &certificate {
            if let Err(e) = medledger_receipt::verify_finalization(
                bytes,
                &genesis.chain_id,
                &validators,
                &medledger_crypto::Digest(digest.0),
            ) {
                report.problems.push(problem(&format!("its finalization does not verify: {e}")));
                break;
            }
            report.certified += 1;
        }
        chain.execute(&block, digest, None);
        if !chain.anchor(&block, certificate) {
            report.problems.push(problem(
                "re-executing the blocks does not reproduce the state root the validators agreed on",
            ));
            break;
        }
        report.blocks += 1;
        parent = digest;
    }
    report.state_root = chain.executed().tip.state_root.to_hex();
    Ok(report)
}
