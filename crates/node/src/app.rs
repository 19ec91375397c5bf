//! The consensus application: how a validator proposes and verifies blocks, and how finalized
//! blocks reach the ledger.
//!
//! ```text
//! simplex ──(Inline wrapper)──► App::propose / App::verify      build / check a block
//! marshal ──Update::Block──────► Executor::report ─► execution task ─► Chain::execute ─► ack
//! ```

use crate::block::{BLOCK_BYTES_MAX, BLOCK_TXS_MAX, Block, BlockDigest, tx_root};
use crate::chain::Chain;
use commonware_consensus::marshal::Update;
use commonware_consensus::marshal::ancestry::Ancestry;
use commonware_consensus::simplex::scheme::ed25519::Scheme;
use commonware_consensus::simplex::types::Context;
use commonware_consensus::types::Height;
use commonware_consensus::{Application, Reporter};
use commonware_cryptography::{Digested, Digestible as _, ed25519};
use commonware_runtime::Clock;
use commonware_utils::Acknowledgement as _;
use futures::StreamExt as _;
use futures::channel::mpsc;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// The marshal mailbox of this node.
pub type Marshal = commonware_consensus::marshal::core::Mailbox<
    Scheme,
    commonware_consensus::marshal::standard::Standard<Block>,
>;

/// The longest an idle leader waits for transactions: it must stay well below the consensus
/// leader timeout (1 s), or followers would time the leader out first. Also the cap of
/// `ConsensusConfig::idle_block_interval_ms`.
pub const IDLE_BLOCK_INTERVAL_MAX_MS: u64 = 800;

/// How many unexecuted ancestors a proposer inspects for transactions already proposed.
const ANCESTORS_EXCLUDED_MAX: usize = 32;

/// How often an idle leader looks at the mempool while it waits.
const IDLE_POLL: std::time::Duration = std::time::Duration::from_millis(5);

/// How far ahead of a validator's clock a proposed timestamp may be, in milliseconds.
pub const TIMESTAMP_DRIFT_MS: u64 = 5_000;

fn millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The application consensus drives.
#[derive(Clone, Debug)]
pub struct App {
    chain: Arc<Chain>,
    idle_block_interval_ms: u64,
    heartbeat_ms: u64,
}

impl App {
    /// An application over `chain`, paced by `idle_block_interval_ms` (capped at
    /// [`IDLE_BLOCK_INTERVAL_MAX_MS`]) and `heartbeat_ms`.
    ///
    /// A leader with transactions proposes them at once. A leader whose parent leaves
    /// transactions whose state no header commits to yet (the parent's `executed_height` is
    /// below them) proposes an empty block `idle_block_interval_ms` after the parent: that
    /// follow-up block carries the state root receipts are proven against. Otherwise the
    /// chain is idle: the leader waits for transactions up to [`IDLE_BLOCK_INTERVAL_MAX_MS`]
    /// and then proposes nothing (consensus skips the view and the next leader asks again),
    /// unless `heartbeat_ms` have passed since the parent, when it proposes an empty block so
    /// that an idle chain still shows it is alive. `heartbeat_ms = 0` makes an empty block
    /// every idle interval, as before heartbeats existed.
    pub fn new(chain: Arc<Chain>, idle_block_interval_ms: u64, heartbeat_ms: u64) -> Self {
        Self {
            chain,
            idle_block_interval_ms: idle_block_interval_ms.min(IDLE_BLOCK_INTERVAL_MAX_MS),
            heartbeat_ms,
        }
    }
}

impl<E: Clock + Send + 'static> Application<E> for App {
    type SigningScheme = Scheme;
    type Context = Context<BlockDigest, ed25519::PublicKey>;
    type Block = Block;
    type Input = ();

    async fn propose(
        &mut self,
        (runtime, context): (E, Self::Context),
        mut ancestry: impl Ancestry<Self::Block>,
        _: (),
    ) -> Option<Digested<Self::Block>> {
        let parent = ancestry.next().await?;
        // Transactions already in proposed-but-unexecuted ancestors are not proposed again. The
        // walk is capped: a leader far behind (catching up) must still propose in time, and a
        // transaction included twice is answered `replayed` the second time, with no effect.
        // The same walk finds whether an ancestor above the parent's committed state holds
        // transactions (then a follow-up block is needed to commit to their state).
        let executed = self.chain.executed_height();
        let committed = parent.inner().executed_height;
        // The first block after genesis comes at once: clients wait for height 1.
        let mut unanchored = parent.inner().height == 0;
        let mut exclude = HashSet::new();
        let mut ancestor = Some(parent.clone());
        let mut walked = 0usize;
        while let Some(block) = ancestor {
            walked = walked.saturating_add(1);
            let height = block.inner().height;
            if height <= executed && height <= committed {
                break;
            }
            if walked > ANCESTORS_EXCLUDED_MAX {
                // Far behind: not idle, whatever the ancestors hold.
                unanchored = true;
                break;
            }
            if height > committed && !block.inner().txs.is_empty() {
                unanchored = true;
            }
            if height > executed {
                exclude.extend(block.inner().txs.iter().map(|tx| tx.id()));
            }
            ancestor = ancestry.next().await;
        }
        // When an empty block is due: `idle_block_interval_ms` after the parent for a follow-up
        // (never later than that from now: a parent stamped ahead of this node's clock, allowed
        // up to the drift, must not make this leader miss its timeout), `heartbeat_ms` after
        // the parent on an idle chain.
        let started = millis(runtime.current());
        let parent_ms = parent.inner().timestamp_ms;
        let empty_due = if unanchored || self.heartbeat_ms == 0 {
            parent_ms
                .saturating_add(self.idle_block_interval_ms)
                .min(started.saturating_add(self.idle_block_interval_ms))
        } else {
            parent_ms.saturating_add(self.heartbeat_ms)
        };
        let give_up = started.saturating_add(IDLE_BLOCK_INTERVAL_MAX_MS);
        let txs = loop {
            let txs = self.chain.mempool().select(BLOCK_TXS_MAX, BLOCK_BYTES_MAX, &exclude);
            let now = millis(runtime.current());
            if !txs.is_empty() || now >= empty_due {
                break txs;
            }
            if now >= give_up {
                // Nothing to propose: the view is skipped, and the next leader asks again.
                return None;
            }
            runtime.sleep(IDLE_POLL).await;
        };
        let txs = byzantine_proposer::apply(
            byzantine_proposer::Draft {
                leader: &context.leader,
                view: context.round.view().get(),
                height: parent.inner().height.saturating_add(1),
                chain: &self.chain,
            },
            txs,
        );
        let now = millis(runtime.current());
        let timestamp_ms = now.max(parent.inner().timestamp_ms.saturating_add(1));
        // Commit to the newest state root this node has, never older than the parent's.
        let (mut executed_height, mut state_root) = self.chain.executed_root();
        if executed_height < parent.inner().executed_height
            || executed_height > parent.inner().height
        {
            (executed_height, state_root) =
                (parent.inner().executed_height, parent.inner().state_root);
        }
        let block = Block::child(
            parent.inner(),
            parent.digest(),
            timestamp_ms,
            (executed_height, state_root),
            txs,
        );
        let digest = block.digest();
        // The proposer does not verify its own block; its transactions came from its mempool.
        let checks = self.chain.block_checks(&block.txs);
        self.chain.remember_checks(digest, block.height, checks);
        Some(Digested::precomputed(block, digest))
    }

    async fn verify(
        &mut self,
        (runtime, _): (E, Self::Context),
        mut ancestry: impl Ancestry<Self::Block>,
    ) -> bool {
        let Some(block) = ancestry.next().await else { return false };
        let Some(parent) = ancestry.next().await else { return false };
        let digest = block.digest();
        let (block, parent) = (block.inner(), parent.inner());
        if block.txs_bytes() > BLOCK_BYTES_MAX {
            tracing::warn!(height = block.height, "refusing block: too many bytes");
            return false;
        }
        if block.tx_root != tx_root(&block.txs) {
            tracing::warn!(height = block.height, "refusing block: transaction root mismatch");
            return false;
        }
        if block.timestamp_ms <= parent.timestamp_ms {
            tracing::warn!(height = block.height, "refusing block: timestamp not after parent");
            return false;
        }
        let limit = millis(runtime.current()).saturating_add(TIMESTAMP_DRIFT_MS);
        if block.timestamp_ms > limit {
            tracing::warn!(height = block.height, "refusing block: timestamp too far ahead");
            return false;
        }
        if block.executed_height < parent.executed_height || block.executed_height >= block.height {
            tracing::warn!(height = block.height, "refusing block: state-root height out of order");
            return false;
        }
        // The claimed height is finalized (its proposer executed it), so this node will execute
        // it too; wait for that rather than guess. Waiting is cancellation-safe.
        while self.chain.executed_height() < block.executed_height {
            runtime.sleep(IDLE_POLL).await;
        }
        let root_ok = match self.chain.executed_at(block.executed_height) {
            Some(executed) if executed.state_root == block.state_root => true,
            Some(_) => {
                tracing::warn!(
                    height = block.height,
                    executed_height = block.executed_height,
                    "refusing block: state root differs from this node's execution"
                );
                false
            }
            // Older than the blocks this node holds in memory: it was checked when the parent
            // (which carries the same or an older height) was verified, by this or another node.
            None => {
                block.executed_height == parent.executed_height
                    && block.state_root == parent.state_root
            }
        };
        if !root_ok {
            return false;
        }
        // Honest leaders propose only transactions whose signatures verified on admission; a
        // block carrying a forged one is refused rather than left to waste block space.
        let checks = self.chain.block_checks(&block.txs);
        if checks.iter().any(|check| !check.signature) {
            tracing::warn!(height = block.height, "refusing block: a signature does not verify");
            return false;
        }
        self.chain.remember_checks(digest, block.height, checks);
        true
    }
}

/// Fault tests only: a hook that turns this node into a Byzantine proposer.
///
/// The deterministic simulation (`crates/sim`) runs every validator of a seed on one thread.
/// To make one of them propose malicious blocks through the real proposer, it installs a hook
/// on that thread with [`set`](byzantine_proposer::set): whenever a validator running there
/// leads a view, the hook receives the transactions the honest proposer selected (after its
/// pacing and exclusions) and returns those to put in the block instead; the block is then
/// built, stamped and broadcast exactly as an honest one. The hook decides by `leader` which
/// validator misbehaves. Nothing installs it outside the simulation (a real validator's
/// runtime threads never call `set`), and with no hook installed the selection passes
/// through unchanged.
pub mod byzantine_proposer {
    use crate::chain::Chain;
    use commonware_cryptography::ed25519;
    use medledger_types::Transaction;
    use std::cell::RefCell;

    /// What a leader is about to propose.
    #[derive(Debug)]
    pub struct Draft<'a> {
        /// The proposing validator's consensus key.
        pub leader: &'a ed25519::PublicKey,
        /// The consensus view it leads.
        pub view: u64,
        /// The height of the block being built.
        pub height: u64,
        /// The proposer's own chain: its executed state and its mempool.
        pub chain: &'a Chain,
    }

    /// Replaces the honest selection of transactions with the ones to propose.
    pub type Hook = Box<dyn FnMut(Draft<'_>, Vec<Transaction>) -> Vec<Transaction>>;

    thread_local! {
        static HOOK: RefCell<Option<Hook>> = const { RefCell::new(None) };
    }

    /// Installs `hook` (or removes it, with `None`) for every validator running on this
    /// thread; returns the one it replaces.
    pub fn set(hook: Option<Hook>) -> Option<Hook> {
        HOOK.with(|installed| installed.replace(hook))
    }

    /// The transactions to propose: `txs`, or what the installed hook makes of them.
    pub(crate) fn apply(draft: Draft<'_>, txs: Vec<Transaction>) -> Vec<Transaction> {
        HOOK.with(|installed| match installed.borrow_mut().as_mut() {
            Some(hook) => hook(draft, txs),
            None => txs,
        })
    }
}

/// Receives finalized blocks from marshal and hands them to the execution task.
#[derive(Clone, Debug)]
pub struct Executor {
    sender: mpsc::UnboundedSender<Update<Block>>,
}

impl Executor {
    /// An executor and the receiving end for [`run_execution`].
    pub fn new() -> (Self, mpsc::UnboundedReceiver<Update<Block>>) {
        let (sender, receiver) = mpsc::unbounded();
        (Self { sender }, receiver)
    }
}

impl Reporter for Executor {
    type Activity = Update<Block>;

    fn report(&mut self, activity: Self::Activity) -> commonware_actor::Feedback {
        // Marshal bounds the blocks awaiting acknowledgement (`max_pending_acks`), so this
        // channel cannot grow without bound.
        match self.sender.unbounded_send(activity) {
            Ok(()) => commonware_actor::Feedback::Ok,
            Err(_) => commonware_actor::Feedback::Closed,
        }
    }
}

/// Rebuilds the ledger state after a restart by re-executing the finalized blocks that marshal
/// already recorded as processed (`1..=processed`), read back from its archive; marshal then
/// resumes delivery at `processed + 1`. `Err` (with what an operator must do) if the stored
/// data fails its integrity checks: nothing has been served from it.
pub async fn replay(chain: &Chain, marshal: &Marshal, processed: u64) -> anyhow::Result<()> {
    if processed > 0 {
        tracing::info!(processed, "replaying finalized blocks to rebuild the ledger state");
    }
    let mut parent = chain.executed().tip.digest;
    let mut last = None;
    for height in 1..=processed {
        let Some(block) = marshal.get_block(Height::new(height)).await else {
            return Err(damaged(height, "the finalized block is missing"));
        };
        // Integrity at rest: each stored block must continue its parent's digest and, once
        // re-executed, reproduce the state roots the validators agreed on; the last one must be
        // the block its stored finalization certifies, which by the digest chain vouches for
        // every block before it.
        if block.inner().parent != parent {
            return Err(damaged(height, "the stored block does not continue its parent's digest"));
        }
        parent = block.digest();
        chain.execute(block.inner(), block.digest(), None);
        if !chain.anchor(block.inner(), None) {
            return Err(damaged(
                height,
                "re-executing the stored blocks does not reproduce the finalized state root",
            ));
        }
        last = Some(block);
    }
    if let Some(block) = last {
        let finalization = marshal.get_finalization(Height::new(block.inner().height)).await;
        if finalization.as_ref().is_some_and(|f| f.proposal.payload != block.digest()) {
            return Err(damaged(
                block.inner().height,
                "the stored block is not the one its finalization certifies",
            ));
        }
        anchor(chain, block.inner(), finalization);
    }
    Ok(())
}

/// Executes finalized blocks in order (after [`replay`]) and acknowledges each only after it
/// is applied, so a crash before the acknowledgement makes marshal deliver the block again
/// (and the chain skips what it already executed).
pub async fn run_execution<E: Clock>(
    runtime: E,
    chain: Arc<Chain>,
    marshal: Marshal,
    mut updates: mpsc::UnboundedReceiver<Update<Block>>,
) {
    // On the runtime's clock, so that a simulation replays exactly.
    let mut last_anchor: Option<SystemTime> = None;
    while let Some(update) = updates.next().await {
        let mut newest = None;
        let mut next = Some(update);
        // Execute what marshal has delivered; fetch a certificate once caught up (one archive
        // read per batch of blocks, not per block, while catching up).
        while let Some(update) = next {
            if let Update::Block(block, ack) = update {
                let now = millis(runtime.current());
                chain.execute(block.inner(), block.digest(), Some(now));
                ack.acknowledge();
                newest = Some(block);
            }
            next = updates.try_recv().ok();
        }
        // At most a few certificate reads a second: each is a round trip through marshal,
        // which is busy delivering blocks; receipts then trail the tip by at most that much.
        let now = runtime.current();
        if let Some(block) = newest
            && last_anchor
                .is_none_or(|last| now.duration_since(last).unwrap_or_default() >= ANCHOR_INTERVAL)
        {
            last_anchor = Some(now);
            let finalization = marshal.get_finalization(Height::new(block.inner().height)).await;
            anchor(&chain, block.inner(), finalization);
        }
    }
}

/// How often, at most, the receipts' anchor moves to a newer finalized header.
const ANCHOR_INTERVAL: std::time::Duration = std::time::Duration::from_millis(200);

/// The error that stops a node whose stored data fails its integrity checks, before it serves
/// anything.
fn damaged(height: u64, what: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "the data directory is damaged at finalized block {height}: {what}. Nothing was \
         served from it. Stop it and run `medledger resync --home <home>`, then start it \
         again: the block archives are moved aside (the journal of its own votes is kept) and \
         the node fetches every block from its peers, checking each against the validators' \
         certificates."
    )
}

/// Makes an executed finalized block the receipts' anchor, with its certificate from marshal's
/// archive (absent for blocks repaired by walking back from a later finalization). False if
/// the state tree does not reproduce the block's state root.
fn anchor(
    chain: &Chain,
    block: &Block,
    finalization: Option<commonware_consensus::simplex::types::Finalization<Scheme, BlockDigest>>,
) -> bool {
    use commonware_codec::Encode as _;
    chain.anchor(block, finalization.map(|f| f.encode().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MempoolConfig;
    use crate::mempool::Mempool;
    use commonware_consensus::simplex::types::Context as SimplexContext;
    use commonware_consensus::types::{Epoch, Round, View};
    use commonware_cryptography::{Signer as _, ed25519::PrivateKey};
    use commonware_math::algebra::Random as _;
    use commonware_runtime::{Runner as _, deterministic};
    use futures::Stream;
    use medledger_crypto::Digest;
    use medledger_testkit::{Consortium, TxFactory};
    use medledger_types::{Payload, Transaction};
    use std::pin::Pin;
    use std::task::{Context as TaskContext, Poll};

    /// Newest first: the candidate, then its parent.
    #[derive(Clone)]
    struct Blocks(Vec<Digested<Block>>);

    impl Stream for Blocks {
        type Item = Digested<Block>;
        fn poll_next(
            mut self: Pin<&mut Self>,
            _: &mut TaskContext<'_>,
        ) -> Poll<Option<Self::Item>> {
            Poll::Ready(if self.0.is_empty() { None } else { Some(self.0.remove(0)) })
        }
    }

    impl Ancestry<Block> for Blocks {
        fn peek(&self) -> Option<&Digested<Block>> {
            self.0.first()
        }
    }

    fn digested(block: Block) -> Digested<Block> {
        let digest = block.digest();
        Digested::precomputed(block, digest)
    }

    fn context(parent: BlockDigest) -> SimplexContext<BlockDigest, ed25519::PublicKey> {
        let leader = PrivateKey::random(rand_chacha::ChaCha20Rng::seed_from_u64(1)).public_key();
        SimplexContext {
            round: Round::new(Epoch::zero(), View::new(1)),
            leader,
            parent: (View::zero(), parent),
        }
    }

    /// Runs `verify` on `edit(valid child of genesis)`.
    fn verify_child(edit: impl FnOnce(&mut Block, &mut Vec<Transaction>)) -> bool {
        let mut c = Consortium::demo("medledger-verify", 1);
        // The deterministic runtime's clock starts at the Unix epoch.
        c.genesis.genesis_time_ms = 0;
        let genesis = Block::genesis(&c.genesis);
        let chain = Arc::new(
            Chain::new(
                &c.genesis,
                &genesis,
                Mempool::new(c.chain_id().clone(), MempoolConfig::default()),
            )
            .unwrap(),
        );
        let mut f = TxFactory::new(c.chain_id().clone(), 10);
        let mut txs =
            vec![f.sign(
                &c.regulator.key,
                Payload::FreezeMember { member: c.insurers[0].id.clone() },
            )];
        let mut child = Block::child(
            &genesis,
            genesis.digest(),
            genesis.timestamp_ms + 1,
            (0, genesis.state_root),
            txs.clone(),
        );
        edit(&mut child, &mut txs);
        child.txs = txs;
        let genesis_digest = genesis.digest();
        deterministic::Runner::seeded(7).start(|runtime| async move {
            let mut app = App::new(chain, 0, 0);
            let ancestry = Blocks(vec![digested(child), digested(genesis)]);
            app.verify((runtime, context(genesis_digest)), ancestry).await
        })
    }

    use rand_core::SeedableRng as _;

    #[test]
    fn verify_accepts_a_well_formed_block() {
        assert!(verify_child(|_, _| {}));
    }

    #[test]
    fn verify_refuses_a_wrong_state_root() {
        assert!(!verify_child(|block, _| block.state_root = Digest([1; 32])));
    }

    #[test]
    fn verify_refuses_a_state_root_height_that_is_not_below_the_block() {
        assert!(!verify_child(|block, _| block.executed_height = 1));
    }

    #[test]
    fn verify_refuses_a_tampered_transaction_list() {
        assert!(!verify_child(|_, txs| {
            txs.push(txs[0].clone());
        }));
    }

    #[test]
    fn verify_refuses_a_forged_signature() {
        assert!(!verify_child(|block, txs| {
            let c = Consortium::demo("medledger-verify", 1);
            let mut body = txs[0].body().clone();
            body.payload = Payload::FreezeMember { member: c.insurers[1].id.clone() };
            txs[0] = Transaction::from_parts(body, txs[0].signature().clone());
            block.tx_root = tx_root(txs);
        }));
    }

    #[test]
    fn verify_refuses_timestamps_out_of_order_or_ahead() {
        assert!(!verify_child(|block, _| block.timestamp_ms -= 1));
        assert!(!verify_child(|block, _| block.timestamp_ms = u64::MAX));
    }
}
