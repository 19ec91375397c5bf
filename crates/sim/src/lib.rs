//! Deterministic simulation of a whole medledger cluster.
//!
//! The real validator core ([`medledger_node::node::start_core`]: simplex consensus, marshal,
//! mempool and gossip, execution, and storage through the runtime's storage traits) runs for
//! 4–7 validators inside Commonware's deterministic runtime, connected by its simulated
//! network. Only the HTTP API is left out: simulated clients admit transactions into a node's
//! mempool and wait for their receipts exactly as `POST /v1/txs?wait=commit` does.
//!
//! One seed decides everything: the cluster's size, link latency, jitter and loss, the
//! Byzantine validator (if any) and its behaviour (one of Commonware's voting mocks, or a real
//! validator whose proposals are malicious: [`proposer`]), the workload, and the nemesis's
//! schedule of crashes and restarts, partitions and heals, lossy links and storage faults. The runtime
//! hashes every event it schedules; the same seed gives the same hash, so a failing seed
//! replays exactly (`medledger-sim --seed N`).
//!
//! ```text
//! seed ─► Plan ─► deterministic runtime ─┬─ simulated network (links per seed)
//!                                        ├─ validators 0..n  (start_core; crash = abort)
//!                                        ├─ Byzantine mock   (conflicter / nuller / equivocator)
//!                                        │  or proposer      (start_core; malicious blocks)
//!                                        ├─ clients          (checker workload ─► History)
//!                                        └─ nemesis          (faults, one at a time)
//!        then: heal, restart, wait for every node ─► read every chain ─► medledger_checker::check
//! ```

use commonware_codec::DecodeExt as _;
use commonware_consensus::simplex::{
    elector::RoundRobin,
    mocks::{conflicter, equivocator, nuller, relay::Relay},
    scheme::ed25519::Scheme,
};
use commonware_consensus::types::{Epoch, Height};
use commonware_cryptography::{Sha256, Signer as _, ed25519};
use commonware_p2p::Manager as _;
use commonware_p2p::simulated::{self, Link, Oracle};
use commonware_runtime::{
    Blob as _, Clock as _, Handle, Runner as _, Spawner as _, Storage as _, Supervisor as _,
    deterministic,
};
use commonware_utils::ordered::Set;
use commonware_utils::{NZUsize, Probability};
use futures::channel::{mpsc, oneshot};
use medledger_checker::{History, OpResult, Report, WorkloadConfig, generate};
use medledger_node::app::Marshal;
use medledger_node::chain::Chain;
use medledger_node::config::MempoolConfig;
use medledger_node::node::{
    CONSENSUS_QUOTA, Channels, CoreConfig, MEMPOOL_QUOTA, channel, max_message_size, start_core,
};
use medledger_testkit::Consortium;
use medledger_types::api::BlockTransactions;
use medledger_types::{GenesisValidator, Transaction};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

pub mod proposer;
pub use proposer::ProposerReport;

/// Fewest validators a plan uses.
pub const VALIDATORS_MIN: usize = 4;
/// Most validators a plan uses.
pub const VALIDATORS_MAX: usize = 7;
/// Concurrent clients running the workload.
const CLIENTS: u64 = 4;
/// How long a client waits for a commit before calling the operation unknown (as the API's
/// `?wait=commit`).
const WAIT_COMMIT: Duration = Duration::from_secs(10);
/// How long the cluster gets, after the last fault is healed, to have every node committing
/// again before the seed fails for liveness.
const RECOVERY_MAX: Duration = Duration::from_secs(120);

/// What a Byzantine validator does (Commonware's simplex mocks).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Byzantine {
    /// Votes for every proposal it sees and for a random one in the same view.
    Conflicter,
    /// Votes to skip every view (nullify), never to notarize or finalize.
    Nuller,
    /// When it leads, proposes two different blocks to different validators.
    Equivocator,
}

/// Everything a seed decides before the run starts.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    /// The seed.
    pub seed: u64,
    /// Validators in the cluster.
    pub validators: usize,
    /// The Byzantine validator, if any, and its behaviour.
    pub byzantine: Option<(usize, Byzantine)>,
    /// A Byzantine proposer, if any (never with a Byzantine mock): a validator running the
    /// real node whose proposals are malicious ([`proposer`]).
    pub byzantine_proposer: Option<usize>,
    /// Mean one-way link latency.
    pub latency_ms: u64,
    /// Standard deviation of the latency.
    pub jitter_ms: u64,
    /// Share of messages delivered on a healthy link, in percent.
    pub delivery_percent: u64,
    /// Simulated time the workload and the nemesis run.
    pub workload_ms: u64,
    /// No nemesis.
    pub calm: bool,
    /// Trace faults to stderr.
    #[serde(skip)]
    pub trace: bool,
}

/// How a run is asked for.
#[derive(Clone, Debug)]
pub struct Options {
    /// The seed.
    pub seed: u64,
    /// Simulated seconds of workload and faults (then heal, recovery and the check).
    pub secs: u64,
    /// Force a cluster size (otherwise the seed picks 4–7).
    pub validators: Option<usize>,
    /// No faults and no Byzantine validator: the baseline a faulty run is compared with.
    pub calm: bool,
    /// Print every fault and heal, with the simulated time and each node's height, to stderr.
    pub trace: bool,
    /// A ledger bug planted in every validator of the run (`skip-over-claim-check` or
    /// `accept-wrong-chain-id`; needs the `planted-bugs` feature): the checker must catch it.
    pub planted: Option<String>,
    /// A Byzantine proposer in this seed whatever the seed says (in place of a Byzantine mock);
    /// otherwise a quarter of the seeds have one.
    pub byzantine_proposer: bool,
}

impl Options {
    /// The default run of `seed`: 30 simulated seconds of faults.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            secs: 30,
            validators: None,
            calm: false,
            trace: false,
            planted: None,
            byzantine_proposer: false,
        }
    }
}

/// What one seed's run found.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    /// The plan the seed gave.
    pub plan: Plan,
    /// Simulated time from start to the check, milliseconds.
    pub simulated_ms: u64,
    /// Faults injected, by type.
    pub faults: BTreeMap<String, u64>,
    /// After the heal: simulated milliseconds until every honest node had committed a new
    /// block.
    pub recovery_ms: u64,
    /// The runtime's hash of every event of the run: equal for equal seeds.
    pub event_hash: String,
    /// The checker's report over every honest node's chain and the clients' history.
    pub report: Report,
    /// A liveness failure: the cluster did not recover after the heal (a violation too).
    pub stalled: Option<String>,
    /// Validators that stopped by themselves with undamaged storage (each a violation: a
    /// panic or an ended task that no fault explains).
    pub unexplained_stops: Vec<String>,
    /// Validators that lost votes to a damaged journal whose chain differs from the others'
    /// (each a violation of agreement).
    pub faulty_divergences: Vec<String>,
    /// Panic messages caught during the run (a validator stopping on a damaged disk panics
    /// inside Commonware's storage; those are expected and counted as faults).
    pub panics: Vec<String>,
    /// What the Byzantine proposer proposed and what became of it, if the seed has one.
    pub byzantine_proposer: Option<ProposerReport>,
}

impl Outcome {
    /// Violations of P1–P5 plus a stall.
    pub fn violations(&self) -> usize {
        self.report.violations()
            + usize::from(self.stalled.is_some())
            + self.unexplained_stops.len()
            + self.faulty_divergences.len()
            + self.byzantine_proposer.as_ref().map_or(0, |p| p.violations.len())
    }

    /// The report's lost acknowledged operations (P1).
    pub fn lost(&self) -> usize {
        self.report.lost.len()
    }

    /// Over-reimbursements (P2).
    pub fn over_reimbursed(&self) -> usize {
        self.report.over_reimbursed.len()
    }

    /// Divergences between honest nodes (P3).
    pub fn divergences(&self) -> usize {
        self.report.divergences.len() + self.faulty_divergences.len()
    }

    /// One line for a terminal.
    pub fn line(&self) -> String {
        let faults: Vec<String> = self.faults.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!(
            "seed {} · {} validators{} · {:.0} s simulated · ops ok {} fail {} unknown {} · \
             lost {} over-reimbursed {} divergences {} other {} · longest commit gap {} ms · \
             recovery {} ms · faults {} · events {}{}{}{}",
            self.plan.seed,
            self.plan.validators,
            match (self.plan.byzantine, self.plan.byzantine_proposer) {
                (Some((i, kind)), _) => format!(" (validator {i} {kind:?})"),
                (None, Some(i)) => format!(" (validator {i} Byzantine proposer)"),
                (None, None) => String::new(),
            },
            self.simulated_ms as f64 / 1000.0,
            self.report.ok,
            self.report.fail,
            self.report.unknown,
            self.lost(),
            self.over_reimbursed(),
            self.divergences(),
            self.report.violations() - self.lost() - self.over_reimbursed() - self.divergences(),
            self.report.longest_commit_gap_ms,
            self.recovery_ms,
            faults.join(" "),
            &self.event_hash[..16.min(self.event_hash.len())],
            match &self.stalled {
                Some(why) => format!(" · STALLED: {why}"),
                None => String::new(),
            },
            if self.unexplained_stops.is_empty() && self.faulty_divergences.is_empty() {
                String::new()
            } else {
                format!(
                    " · UNEXPLAINED STOPS: {:?} · DIVERGING: {:?}",
                    self.unexplained_stops, self.faulty_divergences
                )
            },
            match &self.byzantine_proposer {
                Some(p) if p.violations.is_empty() =>
                    format!("\n  byzantine proposer: {}", p.line()),
                Some(p) =>
                    format!("\n  byzantine proposer: {} · VIOLATIONS: {:?}", p.line(), p.violations),
                None => String::new(),
            },
        )
    }
}

/// splitmix64: the plan's own generator, so a plan is known before the runtime starts.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }

    fn index(&mut self, len: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(len).expect("fits")).expect("below len")
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

impl Plan {
    /// The plan of `options.seed`.
    pub fn of(options: &Options) -> Self {
        let mut rng = Rng(options.seed ^ 0x6d65_646c_6564_6765);
        let validators = options.validators.unwrap_or_else(|| {
            usize::try_from(rng.between(VALIDATORS_MIN as u64, VALIDATORS_MAX as u64))
                .expect("small")
        });
        // Half the seeds have a Byzantine validator; it is never validator 0, which the
        // clients prefer.
        let byzantine = (rng.chance(50) && !options.calm).then(|| {
            let kind = match rng.next() % 3 {
                0 => Byzantine::Conflicter,
                1 => Byzantine::Nuller,
                _ => Byzantine::Equivocator,
            };
            (1 + rng.index(validators - 1), kind)
        });
        // Of the other seeds, half have a Byzantine proposer, from a generator of its own so
        // that adding it changed no other seed's plan. It counts against f like a mock, so a
        // seed has one or the other.
        let mut proposer_rng = Rng(options.seed ^ 0x7072_6f70_6f73_6572);
        let byzantine_proposer = (!options.calm
            && (options.byzantine_proposer || (byzantine.is_none() && proposer_rng.chance(50))))
        .then(|| 1 + proposer_rng.index(validators - 1));
        let byzantine = if byzantine_proposer.is_some() { None } else { byzantine };
        let latency_ms = rng.between(5, 60);
        let jitter_ms = rng.between(0, latency_ms / 2);
        // Healthy links are TCP connections: most seeds lose nothing; a quarter lose a few
        // percent of messages everywhere (the lossy-links fault is far worse, on one node).
        let delivery_percent = if rng.chance(75) { 100 } else { rng.between(95, 99) };
        Self {
            seed: options.seed,
            validators,
            byzantine,
            byzantine_proposer,
            latency_ms,
            jitter_ms,
            delivery_percent,
            workload_ms: options.secs.saturating_mul(1000),
            calm: options.calm,
            trace: options.trace,
        }
    }

    fn honest(&self) -> Vec<usize> {
        (0..self.validators)
            .filter(|i| {
                self.byzantine.map(|(b, _)| b) != Some(*i) && self.byzantine_proposer != Some(*i)
            })
            .collect()
    }

    /// Byzantine validators (a mock or a proposer): at most one.
    fn byzantine_count(&self) -> usize {
        usize::from(self.byzantine.is_some()) + usize::from(self.byzantine_proposer.is_some())
    }

    fn link(&self) -> Link {
        Link {
            latency: Duration::from_millis(self.latency_ms),
            jitter: Duration::from_millis(self.jitter_ms),
            success_rate: Probability::new(self.delivery_percent, 100).expect("a percentage"),
        }
    }
}

/// A running validator's handles, as its clients and the final read need them.
#[derive(Clone)]
struct NodeIo {
    chain: Arc<Chain>,
    marshal: Marshal,
    gossip: mpsc::Sender<Transaction>,
}

type Net = Oracle<ed25519::PublicKey, deterministic::Context>;

/// One validator slot of the cluster.
struct Node {
    index: usize,
    key: ed25519::PrivateKey,
    incarnation: u64,
    task: Option<Handle<()>>,
}

/// Everything the tasks of a run share.
struct Cluster {
    plan: Plan,
    genesis: medledger_types::Genesis,
    keys: Vec<ed25519::PrivateKey>,
    oracle: Net,
    /// Live honest validators' handles (None while crashed).
    io: Mutex<Vec<Option<NodeIo>>>,
    faults: Mutex<BTreeMap<String, u64>>,
    /// Validators whose storage a fault damaged (and that were not wiped since).
    damaged: Mutex<Vec<bool>>,
    /// Validators that stopped by themselves on damaged storage: the operator finds the damage
    /// (`medledger check`) and resyncs them at their next restart.
    stopped_on_damage: Mutex<Vec<bool>>,
    /// Validators whose consensus journal a storage fault hit (they may have lost votes).
    journal_damaged: Mutex<std::collections::BTreeSet<usize>>,
    /// Validators that stopped by themselves although their storage was intact.
    unexplained: Mutex<Vec<String>>,
    /// A context of the run's root task. Validators are spawned from it: a task spawned from
    /// the nemesis' context would be aborted when the nemesis ends (supervision).
    root: deterministic::Context,
}

impl Cluster {
    fn count(&self, fault: &str) {
        self.trace(fault);
        *self.faults.lock().expect("not poisoned").entry(fault.to_string()).or_default() += 1;
    }

    /// With `--trace`: prints `what` with the simulated time and every node's height.
    fn trace(&self, what: &str) {
        if !self.plan.trace {
            return;
        }
        let heights: Vec<String> = self
            .io
            .lock()
            .expect("not poisoned")
            .iter()
            .map(|io| {
                io.as_ref().map_or("-".to_string(), |io| io.chain.executed_height().to_string())
            })
            .collect();
        let now = now_ms(&self.root);
        eprintln!("[{:>8.3} s] heights [{}] {what}", now as f64 / 1000.0, heights.join(" "));
    }

    /// The highest height a running honest validator has executed.
    fn height(&self) -> u64 {
        self.plan
            .honest()
            .iter()
            .filter_map(|&i| self.io(i))
            .map(|io| io.chain.executed_height())
            .max()
            .unwrap_or(0)
    }

    fn io(&self, i: usize) -> Option<NodeIo> {
        self.io.lock().expect("not poisoned")[i].clone()
    }

    fn prefix(i: usize) -> String {
        format!("v{i}-medledger")
    }

    /// The partitions validator `i` writes, which a storage fault may hit.
    fn partitions(i: usize) -> Vec<String> {
        medledger_node::node::partitions(&Self::prefix(i))
    }

    /// Starts validator `node` (again): registers its channels, then runs the core in a task
    /// of its own. `Err` if the core refuses to start (damaged storage).
    async fn start(self: &Arc<Self>, node: &mut Node) -> Result<(), String> {
        let me = node.key.public_key();
        let control = self.oracle.control(me);
        let register = async |channel: u64, quota| {
            control.register(channel, quota).await.expect("the simulated network runs")
        };
        let channels = Channels {
            votes: register(channel::VOTES, CONSENSUS_QUOTA).await,
            certificates: register(channel::CERTIFICATES, CONSENSUS_QUOTA).await,
            resolver: register(channel::RESOLVER, CONSENSUS_QUOTA).await,
            blocks: register(channel::BLOCKS, CONSENSUS_QUOTA).await,
            backfill: register(channel::BACKFILL, CONSENSUS_QUOTA).await,
            mempool: register(channel::MEMPOOL, MEMPOOL_QUOTA).await,
        };
        let config = CoreConfig {
            genesis: self.genesis.clone(),
            key: node.key.clone(),
            mempool: MempoolConfig::default(),
            pacing: medledger_node::config::ConsensusConfig {
                idle_block_interval_ms: 200,
                ..Default::default()
            },
            partition_prefix: Self::prefix(node.index),
        };
        node.incarnation += 1;
        let (started, result) = oneshot::channel();
        let cluster = self.clone();
        let index = node.index;
        let manager = self.oracle.manager();
        let task = self
            .root
            .child("validator")
            .with_attribute("index", index)
            .with_attribute("incarnation", node.incarnation)
            .spawn(move |context| async move {
                match start_core(&context, config, channels, manager, control).await {
                    Ok(core) => {
                        cluster.io.lock().expect("not poisoned")[index] = Some(NodeIo {
                            chain: core.chain.clone(),
                            marshal: core.marshal.clone(),
                            gossip: core.gossip.clone(),
                        });
                        let _ = started.send(Ok(()));
                        // Runs until aborted (a crash); if marshal or consensus ends by itself
                        // (a panic), the validator has stopped.
                        let which = match futures::future::select(
                            core.marshal_handle,
                            core.consensus_handle,
                        )
                        .await
                        {
                            futures::future::Either::Left(_) => "marshal",
                            futures::future::Either::Right(_) => "consensus",
                        };
                        cluster.io.lock().expect("not poisoned")[index] = None;
                        if cluster.plan.byzantine_proposer == Some(index) {
                            // Byzantine: what it does to itself is no promise of ours.
                            cluster.trace(&format!("v{index} (Byzantine proposer) stopped"));
                            cluster.count("byzantine_proposer_stopped");
                        } else if cluster.damaged.lock().expect("not poisoned")[index] {
                            cluster.count("stopped_on_damaged_storage");
                            cluster.stopped_on_damage.lock().expect("not poisoned")[index] = true;
                        } else {
                            let at = now_ms(&cluster.root);
                            cluster.trace(&format!("v{index} stopped: its {which} ended"));
                            cluster.unexplained.lock().expect("not poisoned").push(format!(
                                "v{index} at {at} ms: its {which} ended with intact storage"
                            ));
                        }
                    }
                    Err(error) => {
                        let _ = started.send(Err(format!("{error:#}")));
                    }
                }
            });
        node.task = Some(task);
        result.await.unwrap_or_else(|_| Err("the validator task ended".to_string()))
    }

    /// Crashes validator `node`: every task of it stops at once; what it had not synced to
    /// storage is lost (the simulated storage reopens only synced contents).
    async fn crash(&self, node: &mut Node) {
        self.io.lock().expect("not poisoned")[node.index] = None;
        if let Some(task) = node.task.take() {
            task.abort();
            let _ = task.await;
            // The runtime drops the aborted descendants (and closes their blobs) on its next
            // turns; a damaged disk is only touched after.
            self.root.sleep(Duration::from_millis(10)).await;
        }
    }

    /// Starts the Byzantine validator `b` as Commonware's mock `kind`.
    async fn start_byzantine(&self, context: &deterministic::Context, b: usize, kind: Byzantine) {
        let key = self.keys[b].clone();
        let control = self.oracle.control(key.public_key());
        let votes = control.register(channel::VOTES, CONSENSUS_QUOTA).await.expect("network");
        let certificates =
            control.register(channel::CERTIFICATES, CONSENSUS_QUOTA).await.expect("network");
        let namespace = medledger_receipt_namespace(&self.genesis);
        let participants = participants(&self.keys);
        let scheme = Scheme::signer(&namespace, participants, key).expect("a validator");
        let context = context.child("byzantine");
        match kind {
            Byzantine::Conflicter => {
                conflicter::Conflicter::<_, _, Sha256>::new(context, conflicter::Config { scheme })
                    .start(votes);
            }
            Byzantine::Nuller => {
                nuller::Nuller::<_, _, Sha256>::new(context, nuller::Config { scheme })
                    .start(votes);
            }
            Byzantine::Equivocator => {
                equivocator::Equivocator::<_, _, RoundRobin<Sha256>, Sha256>::new(
                    context,
                    equivocator::Config {
                        scheme,
                        elector: RoundRobin::<Sha256>::default(),
                        epoch: Epoch::zero(),
                        relay: Arc::new(Relay::new()),
                    },
                )
                .start(votes, certificates);
            }
        }
    }

    /// Sets every link between `from` and `to` (both directions) to `link`, or cuts it.
    async fn set_links(&self, from: &[usize], to: &[usize], link: Option<Link>) {
        for &a in from {
            for &b in to {
                if a == b {
                    continue;
                }
                for (x, y) in [(a, b), (b, a)] {
                    let (x, y) = (self.keys[x].public_key(), self.keys[y].public_key());
                    let _ = self.oracle.remove_link(x.clone(), y.clone()).await;
                    if let Some(link) = &link {
                        self.oracle.add_link(x, y, link.clone()).await.expect("a new link");
                    }
                }
            }
        }
    }
}

fn medledger_receipt_namespace(genesis: &medledger_types::Genesis) -> Vec<u8> {
    medledger_receipt::consensus_namespace(&genesis.chain_id)
}

fn participants(keys: &[ed25519::PrivateKey]) -> Set<ed25519::PublicKey> {
    Set::try_from(keys.iter().map(|k| k.public_key()).collect::<Vec<_>>()).expect("distinct keys")
}

fn now_ms(context: &deterministic::Context) -> u64 {
    context
        .current()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Submits `tx` to validator `i` and waits for its commit, as `POST /v1/txs?wait=commit`.
async fn submit(
    context: &deterministic::Context,
    cluster: &Cluster,
    i: usize,
    tx: &Transaction,
) -> OpResult {
    let Some(io) = cluster.io(i) else {
        // The connection is refused: the node never saw the request.
        return OpResult::Fail("unavailable".to_string());
    };
    let id = tx.id();
    let committed = io.chain.executed().receipts.get(&id).cloned();
    if let Some(committed) = committed {
        return OpResult::Ok(committed.receipt);
    }
    match io.chain.admit(vec![tx.clone()]).remove(0) {
        Ok(_) => {
            let _ = io.gossip.clone().try_send(tx.clone());
        }
        Err(medledger_node::mempool::AdmitError::DuplicateInMempool) => {}
        Err(error) => return OpResult::refusal(&error.code()),
    }
    let deadline = context.current() + WAIT_COMMIT;
    loop {
        // A crash drops the connection: the answer is unknown.
        let Some(io) = cluster.io(i) else { return OpResult::Unknown };
        if !Arc::ptr_eq(&io.chain, &io.chain) {
            return OpResult::Unknown;
        }
        let committed = io.chain.executed().receipts.get(&id).cloned();
        if let Some(committed) = committed {
            return OpResult::Ok(committed.receipt);
        }
        if context.current() >= deadline {
            return OpResult::Unknown;
        }
        context.sleep(Duration::from_millis(20)).await;
    }
}

/// One client: batches of the checker's workload, each step sent where it says (to two nodes
/// at once when it says two), until `until_ms`.
async fn client(
    context: deterministic::Context,
    cluster: Arc<Cluster>,
    consortium: Arc<Consortium>,
    history: Arc<History>,
    w: u64,
    until_ms: u64,
) {
    let honest = cluster.plan.honest();
    let mut batch = 0u64;
    while now_ms(&context) < until_ms {
        let height = cluster.height();
        let config = WorkloadConfig {
            rounds: 2,
            expires_at_height: height + 1_500,
            first_bill_number: 1 + w * 2_000_000 + batch * 1_000,
            register_policy: w == 0 && batch == 0,
            ..WorkloadConfig::new(
                cluster.plan.seed.wrapping_mul(1_000_003) ^ (w << 32 | batch),
                honest.len(),
            )
        };
        batch += 1;
        for step in generate(&consortium, &config) {
            if now_ms(&context) >= until_ms {
                return;
            }
            send_step(&context, &cluster, &history, &honest, step).await;
        }
    }
}

/// Sends one workload step where it says (`send_to` indexes `honest`), logging each send in
/// `history`, and waits for every answer.
async fn send_step(
    context: &deterministic::Context,
    cluster: &Arc<Cluster>,
    history: &Arc<History>,
    honest: &[usize],
    step: medledger_checker::Step,
) {
    let mut sends = Vec::new();
    for &k in &step.send_to {
        let i = honest[k];
        let (tx, what) = (step.tx.clone(), step.what.clone());
        let (cluster, history) = (cluster.clone(), history.clone());
        sends.push(context.child("send").spawn(move |context| async move {
            let op = history.invoke(tx.id(), i, now_ms(&context), what);
            let result = submit(&context, &cluster, i, &tx).await;
            history.complete(op, now_ms(&context), result);
        }));
    }
    for send in sends {
        let _ = send.await;
    }
}

/// In a seed with a Byzantine proposer, a client that keeps making what such a proposer most
/// wants to include again: an over-claim rejected because another claim holds the bill, then
/// that claim withdrawn, so that the over-claim would fit (`proposer::would_fit_steps`).
async fn would_fit_client(
    context: deterministic::Context,
    cluster: Arc<Cluster>,
    consortium: Arc<Consortium>,
    history: Arc<History>,
    until_ms: u64,
) {
    let honest = cluster.plan.honest();
    let mut round = 0u64;
    while now_ms(&context) < until_ms {
        let expires_at_height = cluster.height() + 1_500;
        let steps = proposer::would_fit_steps(&consortium, round, expires_at_height, honest.len());
        for step in steps {
            if now_ms(&context) >= until_ms {
                return;
            }
            send_step(&context, &cluster, &history, &honest, step).await;
        }
        round += 1;
        context.sleep(Duration::from_secs(2)).await;
    }
}

/// The nemesis: one fault at a time until `until_ms`, each healed before the next.
async fn nemesis(
    context: deterministic::Context,
    cluster: Arc<Cluster>,
    nodes: Arc<futures::lock::Mutex<Vec<Node>>>,
    until_ms: u64,
) {
    let mut rng = Rng(cluster.plan.seed ^ 0x6e65_6d65_7369_7321);
    let honest = cluster.plan.honest();
    let all: Vec<usize> = (0..cluster.plan.validators).collect();
    let healthy = cluster.plan.link();
    let mut kinds = [0usize, 1, 2, 3];
    // Every seed injects every kind at least once, in a seeded order, then at random.
    for i in (1..kinds.len()).rev() {
        kinds.swap(i, rng.index(i + 1));
    }
    let mut round = 0usize;
    if cluster.plan.calm {
        return;
    }
    loop {
        context.sleep(Duration::from_millis(rng.between(1_500, 4_000))).await;
        if now_ms(&context) >= until_ms {
            return;
        }
        let kind = kinds.get(round).copied().unwrap_or_else(|| rng.index(kinds.len()));
        round += 1;
        let victim = honest[rng.index(honest.len())];
        cluster.trace(&format!("fault kind {kind} on v{victim}"));
        match kind {
            0 => {
                // Crash and restart.
                let mut nodes = nodes.lock().await;
                cluster.crash(&mut nodes[victim]).await;
                cluster.count("crash");
                context.sleep(Duration::from_millis(rng.between(500, 5_000))).await;
                restart(&context, &cluster, &mut nodes[victim], &mut rng).await;
            }
            1 => {
                if rng.chance(25) {
                    // A split with no quorum on either side: progress must stop, then resume.
                    let mut shuffled = all.clone();
                    for i in (1..shuffled.len()).rev() {
                        shuffled.swap(i, rng.index(i + 1));
                    }
                    let (left, right) = shuffled.split_at(shuffled.len() / 2);
                    cluster.set_links(left, right, None).await;
                    cluster.count("partition_split");
                    context.sleep(Duration::from_millis(rng.between(1_000, 6_000))).await;
                    cluster.set_links(left, right, Some(healthy.clone())).await;
                    cluster.trace(&format!("healed the split {left:?} | {right:?}"));
                } else {
                    let others: Vec<usize> = all.iter().copied().filter(|&j| j != victim).collect();
                    cluster.set_links(&[victim], &others, None).await;
                    cluster.count("partition_isolate");
                    context.sleep(Duration::from_millis(rng.between(2_000, 8_000))).await;
                    cluster.set_links(&[victim], &others, Some(healthy.clone())).await;
                    cluster.trace(&format!("healed the isolation of v{victim}"));
                }
            }
            2 => {
                // A lossy, slow link to one validator.
                let others: Vec<usize> = all.iter().copied().filter(|&j| j != victim).collect();
                let bad = Link {
                    latency: Duration::from_millis(cluster.plan.latency_ms * 4),
                    jitter: Duration::from_millis(cluster.plan.latency_ms * 2),
                    success_rate: Probability::new(rng.between(40, 80), 100).expect("a percentage"),
                };
                cluster.set_links(&[victim], &others, Some(bad)).await;
                cluster.count("lossy_links");
                context.sleep(Duration::from_millis(rng.between(2_000, 6_000))).await;
                cluster.set_links(&[victim], &others, Some(healthy.clone())).await;
                cluster.trace(&format!("healed the lossy links of v{victim}"));
            }
            _ => {
                // A storage fault: the validator crashes and its disk is damaged.
                let mut nodes = nodes.lock().await;
                cluster.crash(&mut nodes[victim]).await;
                // Damage to the consensus journal loses votes: the validator may then contradict
                // itself and be blocked as an equivocator, a Byzantine fault by accident. It
                // is allowed only while the faulty validators stay within f.
                let journal_allowed = {
                    let mut lost = cluster.journal_damaged.lock().expect("not poisoned").clone();
                    lost.insert(victim);
                    lost.len() + cluster.plan.byzantine_count() <= (cluster.plan.validators - 1) / 3
                };
                let (what, journal) = damage(&context, victim, &mut rng, journal_allowed).await;
                if what != "storage_fault_no_data" {
                    cluster.damaged.lock().expect("not poisoned")[victim] = true;
                }
                if journal {
                    cluster.journal_damaged.lock().expect("not poisoned").insert(victim);
                    cluster.count("storage_fault_in_consensus_journal");
                }
                cluster.count(what);
                context.sleep(Duration::from_millis(rng.between(500, 3_000))).await;
                restart(&context, &cluster, &mut nodes[victim], &mut rng).await;
            }
        }
    }
}

/// Restarts a crashed validator. If it refuses its damaged storage, does what the operator
/// is told to (`medledger resync`): moves the block archives aside (here: removes them),
/// keeping the consensus journal, whose votes stop the validator from ever contradicting what
/// it voted before, and starts again, fetching every block from the peers. Only if it still
/// refuses (the journal itself is damaged) is everything removed.
async fn restart(
    context: &deterministic::Context,
    cluster: &Arc<Cluster>,
    node: &mut Node,
    _: &mut Rng,
) {
    let stopped_on_damage =
        std::mem::take(&mut cluster.stopped_on_damage.lock().expect("not poisoned")[node.index]);
    let restarted = if stopped_on_damage {
        // It crashed reading its damaged storage: started as it is, it would again.
        Err("stopped on damaged storage before".to_string())
    } else {
        cluster.start(node).await
    };
    cluster.trace(&format!("restarted v{}: {restarted:?}", node.index));
    if restarted.is_err() {
        cluster.crash(node).await;
        let journal =
            medledger_node::node::consensus_journal_partition(&Cluster::prefix(node.index));
        wipe(context, node.index, |partition| partition != journal).await;
        let resynced = cluster.start(node).await;
        cluster.trace(&format!("resynced v{} keeping its journal: {resynced:?}", node.index));
        if resynced.is_ok() {
            cluster.count("storage_refused_then_resynced");
        } else {
            cluster.crash(node).await;
            wipe(context, node.index, |_| true).await;
            cluster.count("storage_refused_then_wiped");
            cluster.start(node).await.expect("a validator with empty storage starts");
        }
        cluster.damaged.lock().expect("not poisoned")[node.index] = false;
    }
}

/// Removes the partitions of validator `i` that `which` selects.
async fn wipe(context: &deterministic::Context, i: usize, which: impl Fn(&str) -> bool) {
    for partition in medledger_node::node::partitions(&Cluster::prefix(i)) {
        if which(&partition) {
            let _ = context.remove(&partition, None).await;
        }
    }
}

/// Damages the storage of (crashed) validator `i`: a torn tail (the last bytes of a blob lost)
/// or a flipped byte inside a blob, in a non-empty blob the seed picks among all its
/// partitions (the consensus journal only if `journal_allowed`). Returns the fault's name and
/// whether it hit the journal.
async fn damage(
    context: &deterministic::Context,
    i: usize,
    rng: &mut Rng,
    journal_allowed: bool,
) -> (&'static str, bool) {
    let journal = medledger_node::node::consensus_journal_partition(&Cluster::prefix(i));
    let versions =
        commonware_runtime::BlobVersion::new(0)..=commonware_runtime::BlobVersion::new(u16::MAX);
    let mut candidates = Vec::new();
    for partition in Cluster::partitions(i) {
        if partition == journal && !journal_allowed {
            continue;
        }
        let Ok(names) = context.scan(&partition).await else { continue };
        for name in names {
            if let Ok((_, len, _)) =
                context.open_versioned(&partition, &name, versions.clone()).await
                && len > 0
            {
                candidates.push((partition.clone(), name, len));
            }
        }
    }
    if candidates.is_empty() {
        return ("storage_fault_no_data", false);
    }
    let (partition, name, len) = candidates.swap_remove(rng.index(candidates.len()));
    let in_journal = partition == journal;
    let Ok((blob, _, _)) = context.open_versioned(&partition, &name, versions).await else {
        return ("storage_fault_no_data", false);
    };
    if rng.chance(50) {
        let cut = rng.between(1, len.min(4096));
        if blob.resize(len - cut).await.is_ok() && blob.sync().await.is_ok() {
            return ("storage_torn_tail", in_journal);
        }
    } else {
        let at = rng.between(0, len - 1);
        let flip = u8::try_from(rng.between(1, 255)).expect("a byte");
        if let Ok(old) = blob.read_at(at, 1, commonware_runtime::ReadOptions::default()).await {
            let old = old.coalesce();
            let byte = old.as_ref()[0] ^ flip;
            if blob
                .write_at(at, vec![byte], commonware_runtime::WriteOptions::default())
                .await
                .is_ok()
                && blob.sync().await.is_ok()
            {
                return ("storage_corrupt_byte", in_journal);
            }
        }
    }
    ("storage_fault_no_data", false)
}

/// Reads validator `i`'s chain from height 1 to its executed height.
async fn read_chain(io: &NodeIo) -> Vec<BlockTransactions> {
    let top = io.chain.executed_height();
    let mut chain = Vec::new();
    for height in 1..=top {
        let Some(block) = io.marshal.get_block(Height::new(height)).await else { break };
        match io.chain.block_transactions(block.inner().clone(), height) {
            Some(block) => chain.push(block),
            None => break,
        }
    }
    chain
}

/// A planted bug, switched on for this thread while alive.
struct Planted(bool);

impl Planted {
    #[cfg(feature = "planted-bugs")]
    fn switch(bug: Option<&str>) -> Self {
        use medledger_ledger::planted;
        match bug {
            None => return Self(false),
            Some("skip-over-claim-check") => planted::set_skip_over_claim_check(true),
            Some("accept-wrong-chain-id") => planted::set_accept_wrong_chain_id(true),
            Some(other) => panic!("no such planted bug in the simulation: {other}"),
        }
        Self(true)
    }

    #[cfg(not(feature = "planted-bugs"))]
    fn switch(bug: Option<&str>) -> Self {
        assert!(bug.is_none(), "planting a bug needs the planted-bugs feature");
        Self(false)
    }
}

impl Drop for Planted {
    fn drop(&mut self) {
        #[cfg(feature = "planted-bugs")]
        if self.0 {
            medledger_ledger::planted::set_skip_over_claim_check(false);
            medledger_ledger::planted::set_accept_wrong_chain_id(false);
        }
    }
}

/// Removes this thread's Byzantine proposer hook when dropped.
struct Unhook;

impl Drop for Unhook {
    fn drop(&mut self) {
        medledger_node::app::byzantine_proposer::set(None);
    }
}

thread_local! {
    /// Panic messages of the simulation running on this thread.
    static PANICS: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Records every panic's message for the seed running on the panicking thread (each seed runs
/// on one thread), then prints it as the default hook would, on one line.
fn capture_panics() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_string());
            let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line()));
            let line = format!("{message}{}", at.unwrap_or_default());
            eprintln!("  (a task panicked: {line})");
            PANICS.with(|panics| panics.borrow_mut().push(line));
        }));
    });
}

fn take_panics() -> Vec<String> {
    PANICS.with(|panics| std::mem::take(&mut *panics.borrow_mut()))
}

/// Runs one seed to the end and checks it.
pub fn run(options: &Options) -> Outcome {
    capture_panics();
    let _ = take_panics();
    // The simulation runs on this thread only: a thread's switch plants the bug in every
    // simulated validator, and no other seed running at the same time.
    let _planted = Planted::switch(options.planted.as_deref());
    // The Byzantine proposer's hook, installed for this thread by the seed that has one, is
    // removed when the seed ends however it ends.
    let _unhook = Unhook;
    let plan = Plan::of(options);
    let config = deterministic::Config::new()
        .with_seed(plan.seed)
        // A validator task that panics stops that validator, not the run (as a process crash).
        .with_catch_panics(true)
        // A stuck run fails instead of spinning forever.
        .with_timeout(Some(Duration::from_millis(plan.workload_ms) + Duration::from_secs(900)));
    deterministic::Runner::new(config).start(|context| async move { simulate(context, plan).await })
}

async fn simulate(context: deterministic::Context, plan: Plan) -> Outcome {
    let n = plan.validators;
    let mut consortium = Consortium::demo(&format!("medledger-sim-{}", plan.seed), 4);
    // The deterministic runtime's clock starts at the Unix epoch.
    consortium.genesis.genesis_time_ms = 0;
    let keys: Vec<ed25519::PrivateKey> = (0..n)
        .map(|i| ed25519::PrivateKey::from_seed(plan.seed.wrapping_mul(31).wrapping_add(i as u64)))
        .collect();
    for (i, key) in keys.iter().enumerate() {
        use commonware_codec::Encode as _;
        consortium.genesis.validators.push(GenesisValidator {
            member: consortium.regulator.id.clone(),
            public_key: medledger_types::PublicKey::decode(key.public_key().encode())
                .expect("an ed25519 key"),
            p2p_address: format!("10.0.0.{i}:9000"),
            api_address: format!("10.0.0.{i}:8000"),
        });
    }
    let (network, oracle) = simulated::Network::new(
        context.child("network"),
        simulated::Config {
            max_size: max_message_size(u32::try_from(n).expect("small")),
            max_peers_per_set: NZUsize!(VALIDATORS_MAX),
            disconnect_on_block: true,
            tracked_peer_sets: NZUsize!(1),
        },
    );
    network.start();
    let _ = oracle.manager().track(0, participants(&keys));
    let cluster = Arc::new(Cluster {
        plan: plan.clone(),
        genesis: consortium.genesis.clone(),
        keys: keys.clone(),
        oracle,
        io: Mutex::new(vec![None; n]),
        faults: Mutex::new(BTreeMap::new()),
        root: context.child("cluster"),
        damaged: Mutex::new(vec![false; n]),
        stopped_on_damage: Mutex::new(vec![false; n]),
        journal_damaged: Mutex::new(std::collections::BTreeSet::new()),
        unexplained: Mutex::new(Vec::new()),
    });
    let all: Vec<usize> = (0..n).collect();
    cluster.set_links(&all, &all, Some(plan.link())).await;

    let mut nodes: Vec<Node> = keys
        .iter()
        .enumerate()
        .map(|(index, key)| Node { index, key: key.clone(), incarnation: 0, task: None })
        .collect();
    let consortium = Arc::new(consortium);
    let proposer = plan.byzantine_proposer.map(|b| {
        let proposer =
            Arc::new(Mutex::new(proposer::Proposer::new(b, plan.seed, consortium.clone())));
        proposer::Proposer::install(proposer.clone(), keys[b].public_key());
        proposer
    });
    for node in nodes.iter_mut() {
        if plan.byzantine_proposer == Some(node.index) {
            cluster.start(node).await.expect("a fresh validator starts");
            cluster.count("byzantine_proposer");
            continue;
        }
        match plan.byzantine {
            Some((b, kind)) if b == node.index => {
                cluster.start_byzantine(&context, b, kind).await;
                cluster.count(match kind {
                    Byzantine::Conflicter => "byzantine_conflicter",
                    Byzantine::Nuller => "byzantine_nuller",
                    Byzantine::Equivocator => "byzantine_equivocator",
                });
            }
            _ => cluster.start(node).await.expect("a fresh validator starts"),
        }
    }
    let nodes = Arc::new(futures::lock::Mutex::new(nodes));

    let history = Arc::new(History::new());
    let watcher = proposer.as_ref().map(|proposer| {
        let (cluster, proposer) = (cluster.clone(), proposer.clone());
        context.child("byzantine_proposer").spawn(move |context| watch(context, cluster, proposer))
    });
    let until_ms = now_ms(&context) + plan.workload_ms;
    let mut tasks = Vec::new();
    for w in 0..CLIENTS {
        let (cluster, consortium, history) = (cluster.clone(), consortium.clone(), history.clone());
        tasks.push(
            context
                .child("client")
                .with_attribute("index", w)
                .spawn(move |context| client(context, cluster, consortium, history, w, until_ms)),
        );
    }
    if plan.byzantine_proposer.is_some() {
        let (cluster, consortium, history) = (cluster.clone(), consortium.clone(), history.clone());
        tasks.push(context.child("would_fit_client").spawn(move |context| {
            would_fit_client(context, cluster, consortium, history, until_ms)
        }));
    }
    let nemesis_task = context.child("nemesis").spawn({
        let (cluster, nodes) = (cluster.clone(), nodes.clone());
        move |context| nemesis(context, cluster, nodes, until_ms)
    });
    let _ = nemesis_task.await;
    for task in tasks {
        let _ = task.await;
    }

    // Heal: every link healthy, every honest validator running.
    cluster.set_links(&all, &all, Some(plan.link())).await;
    {
        let mut nodes = nodes.lock().await;
        for &i in &plan.honest() {
            if cluster.io(i).is_none() {
                let mut rng = Rng(plan.seed);
                restart(&context, &cluster, &mut nodes[i], &mut rng).await;
            }
        }
    }
    let healed_at = now_ms(&context);
    if plan.trace {
        let blocked = cluster.oracle.blocked().await.unwrap_or_default();
        let index = |k: &ed25519::PublicKey| keys.iter().position(|x| &x.public_key() == k);
        let pairs: Vec<String> = blocked
            .iter()
            .map(|(a, b)| format!("v{:?} blocks v{:?}", index(a), index(b)))
            .collect();
        cluster.trace(&format!("healed everything; blocked pairs: {pairs:?}"));
    }
    // Validators whose consensus journal was damaged may have contradicted their own votes and
    // been blocked as equivocators: Byzantine by accident, within f by the nemesis' budget. Like
    // the Byzantine mock they need not recover; their chains must still agree with the others.
    let lost_votes = cluster.journal_damaged.lock().expect("not poisoned").clone();
    let correct: Vec<usize> =
        plan.honest().into_iter().filter(|i| !lost_votes.contains(i)).collect();
    let start_heights: Vec<u64> =
        correct.iter().map(|&i| cluster.io(i).map_or(0, |io| io.chain.executed_height())).collect();
    let target = start_heights.iter().copied().max().unwrap_or(0) + 2;
    let mut stalled = None;
    loop {
        let heights: Vec<u64> = correct
            .iter()
            .map(|&i| cluster.io(i).map_or(0, |io| io.chain.executed_height()))
            .collect();
        if heights.iter().all(|&h| h >= target) {
            break;
        }
        if now_ms(&context) - healed_at > RECOVERY_MAX.as_secs() * 1000 {
            stalled = Some(format!(
                "not every node reached height {target} within {} s of the heal: heights {heights:?}",
                RECOVERY_MAX.as_secs()
            ));
            break;
        }
        if (now_ms(&context) - healed_at) % 10_000 < 50 {
            cluster.trace("recovering");
        }
        context.sleep(Duration::from_millis(50)).await;
    }
    let recovery_ms = now_ms(&context) - healed_at;

    let mut chains = Vec::new();
    for &i in &correct {
        match cluster.io(i) {
            Some(io) => chains.push(read_chain(&io).await),
            None => chains.push(Vec::new()),
        }
    }
    let mut faulty_divergences = Vec::new();
    let longest = chains.iter().max_by_key(|c| c.len()).cloned().unwrap_or_default();
    // The Byzantine proposer executes as every validator does: its chain must agree too.
    for &i in lost_votes.iter().chain(&plan.byzantine_proposer) {
        let Some(io) = cluster.io(i) else { continue };
        for block in read_chain(&io).await {
            let at = usize::try_from(block.height).expect("fits") - 1;
            if longest.get(at).is_some_and(|other| other != &block) {
                faulty_divergences.push(format!("v{i} differs at height {}", block.height));
                break;
            }
        }
    }
    if let Some(watcher) = watcher {
        watcher.abort();
    }
    let byzantine_proposer =
        proposer.map(|proposer| proposer.lock().expect("not poisoned").account(&longest));
    let report = medledger_checker::check(&cluster.genesis, &chains, &history);
    let simulated_ms = now_ms(&context);
    let faults = cluster.faults.lock().expect("not poisoned").clone();
    Outcome {
        plan,
        simulated_ms,
        faults,
        recovery_ms,
        event_hash: context.auditor().state(),
        report,
        stalled,
        unexplained_stops: cluster.unexplained.lock().expect("not poisoned").clone(),
        faulty_divergences,
        panics: take_panics(),
        byzantine_proposer,
    }
}

/// Reads the finalized blocks the Byzantine proposer executed into its memory, as an attacker
/// keeps them, until aborted.
async fn watch(
    context: deterministic::Context,
    cluster: Arc<Cluster>,
    proposer: Arc<Mutex<proposer::Proposer>>,
) {
    let Some(b) = cluster.plan.byzantine_proposer else { return };
    loop {
        context.sleep(Duration::from_millis(200)).await;
        let Some(io) = cluster.io(b) else { continue };
        let from = proposer.lock().expect("not poisoned").watched + 1;
        for height in from..=io.chain.executed_height() {
            let Some(block) = io.marshal.get_block(Height::new(height)).await else { break };
            let Some(block) = io.chain.block_transactions(block.inner().clone(), height) else {
                break;
            };
            proposer.lock().expect("not poisoned").saw(block);
        }
    }
}

/// What many seeds found together.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    /// Seeds run.
    pub seeds: usize,
    /// Simulated time, all seeds together, milliseconds.
    pub simulated_ms: u64,
    /// Faults injected by type, all seeds together.
    pub faults: BTreeMap<String, u64>,
    /// Operations acknowledged committed.
    pub ok: usize,
    /// Operations definitely refused.
    pub fail: usize,
    /// Operations without a definite answer.
    pub unknown: usize,
    /// P1: acknowledged operations missing or different on some node.
    pub lost: usize,
    /// P2: over-reimbursements.
    pub over_reimbursed: usize,
    /// P3: divergences between honest nodes.
    pub divergences: usize,
    /// Every other violation (P1's converse, P4, P5, double application, malformed chains,
    /// stalls).
    pub other_violations: usize,
    /// The longest time between consecutive blocks on any chain of any seed.
    pub longest_commit_gap_ms: u64,
    /// The longest recovery after the heal.
    pub longest_recovery_ms: u64,
    /// Seeds with a Byzantine validator (a mock or a proposer).
    pub byzantine_seeds: usize,
    /// Of them, seeds with a Byzantine proposer.
    pub byzantine_proposer_seeds: usize,
    /// The Byzantine proposers' malicious proposals, by kind.
    pub malicious_proposed: BTreeMap<String, u64>,
    /// Of them, finalized, by kind.
    pub malicious_finalized: BTreeMap<String, u64>,
    /// Transactions the Byzantine proposers added to finalized blocks, by what they were, with
    /// the answers they got.
    pub malicious_answers: BTreeMap<String, BTreeMap<String, u64>>,
    /// Genuine transactions whose forged copies were proposed; committed later; accepted.
    pub forged_genuine: [u64; 3],
    /// Seeds by cluster size.
    pub validators: BTreeMap<usize, usize>,
    /// Seeds that found a violation.
    pub failing_seeds: Vec<u64>,
}

impl Summary {
    /// Adds up `outcomes`.
    pub fn of(outcomes: &[Outcome]) -> Self {
        let mut s = Self { seeds: outcomes.len(), ..Self::default() };
        for o in outcomes {
            s.simulated_ms += o.simulated_ms;
            for (fault, count) in &o.faults {
                *s.faults.entry(fault.clone()).or_default() += count;
            }
            s.ok += o.report.ok;
            s.fail += o.report.fail;
            s.unknown += o.report.unknown;
            s.lost += o.lost();
            s.over_reimbursed += o.over_reimbursed();
            s.divergences += o.divergences();
            s.other_violations += o.violations() - o.lost() - o.over_reimbursed() - o.divergences();
            s.longest_commit_gap_ms = s.longest_commit_gap_ms.max(o.report.longest_commit_gap_ms);
            s.longest_recovery_ms = s.longest_recovery_ms.max(o.recovery_ms);
            s.byzantine_seeds += o.plan.byzantine_count();
            if let Some(p) = &o.byzantine_proposer {
                s.byzantine_proposer_seeds += 1;
                for (kind, n) in &p.proposed {
                    *s.malicious_proposed.entry(kind.clone()).or_default() += n;
                }
                for (kind, n) in &p.finalized {
                    *s.malicious_finalized.entry(kind.clone()).or_default() += n;
                }
                for (what, codes) in &p.answers {
                    for (code, n) in codes {
                        *s.malicious_answers
                            .entry(what.clone())
                            .or_default()
                            .entry(code.clone())
                            .or_default() += n;
                    }
                }
                s.forged_genuine[0] += p.forged_genuine;
                s.forged_genuine[1] += p.forged_genuine_committed;
                s.forged_genuine[2] += p.forged_genuine_accepted;
            }
            *s.validators.entry(o.plan.validators).or_default() += 1;
            if o.violations() > 0 {
                s.failing_seeds.push(o.plan.seed);
            }
        }
        s
    }

    /// The summary for a terminal, `wall` being the real time the run took.
    pub fn text(&self, wall: Duration) -> String {
        let faults: Vec<String> = self.faults.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let sizes: Vec<String> =
            self.validators.iter().map(|(n, seeds)| format!("{n}: {seeds}")).collect();
        let kinds: Vec<String> = self
            .malicious_proposed
            .iter()
            .map(|(kind, n)| {
                let finalized = self.malicious_finalized.get(kind).copied().unwrap_or(0);
                format!("{kind} {n} ({finalized} finalized, {} not)", n - finalized)
            })
            .collect();
        let answers: Vec<String> = self
            .malicious_answers
            .iter()
            .map(|(what, codes)| {
                let codes: Vec<String> = codes.iter().map(|(c, n)| format!("{c} {n}")).collect();
                format!("{what}: {}", codes.join(", "))
            })
            .collect();
        let proposer = if self.byzantine_proposer_seeds == 0 {
            String::new()
        } else {
            format!(
                "\nbyzantine proposer ({} seeds): proposals {}\n  \
                 its transactions in finalized blocks: {}\n  \
                 forged copies of {} genuine transactions proposed; {} of them committed later \
                 ({} accepted), none answered replayed unless listed as a violation",
                self.byzantine_proposer_seeds,
                kinds.join(", "),
                if answers.is_empty() { "none".to_string() } else { answers.join("; ") },
                self.forged_genuine[0],
                self.forged_genuine[1],
                self.forged_genuine[2],
            )
        };
        format!(
            "== simulation: {} seeds ({} with a Byzantine validator; validators {}), {:.2} \
             simulated hours in {:.0} s\n\
             faults injected: {}\n\
             operations: ok {} / fail {} / unknown {}\n\
             lost = {}, over-reimbursed = {}, divergences = {}, other violations = {}\n\
             longest commit gap {} ms, longest recovery after the heal {} ms{}\n\
             failing seeds: {:?}",
            self.seeds,
            self.byzantine_seeds,
            sizes.join(", "),
            self.simulated_ms as f64 / 3_600_000.0,
            wall.as_secs_f64(),
            faults.join(", "),
            self.ok,
            self.fail,
            self.unknown,
            self.lost,
            self.over_reimbursed,
            self.divergences,
            self.other_violations,
            self.longest_commit_gap_ms,
            self.longest_recovery_ms,
            proposer,
            self.failing_seeds,
        )
    }
}
