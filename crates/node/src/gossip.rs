//! Mempool gossip: transactions admitted by this node's API are sent to every other validator
//! on their own channel, in small batches, so whichever validator leads next can include them.
//! Validators are directly connected, so nothing is forwarded a second time.

use crate::chain::Chain;
use commonware_codec::{Decode as _, Encode as _, EncodeSize as _, RangeCfg};
use commonware_cryptography::ed25519;
use commonware_p2p::{Receiver, Recipients, Sender};
use commonware_runtime::{Clock, Spawner};
use futures::StreamExt as _;
use futures::channel::mpsc;
use medledger_types::Transaction;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Transactions in one gossip message.
pub const GOSSIP_BATCH_TXS_MAX: usize = 256;
/// Encoded bytes in one gossip message (well under the P2P message limit).
pub const GOSSIP_BATCH_BYTES_MAX: usize = 1024 * 1024;
/// Transactions waiting to be gossiped; beyond this, gossip is dropped (the transaction stays in
/// this node's mempool and is still proposed when this node leads).
pub const GOSSIP_QUEUE_MAX: usize = 65_536;
/// How long a partial batch waits for more transactions.
const FLUSH_INTERVAL: Duration = Duration::from_millis(5);

/// Starts gossip on `channel`; returns where to put newly admitted transactions.
pub fn start<E, S, R>(
    context: E,
    chain: Arc<Chain>,
    (mut sender, mut receiver): (S, R),
) -> mpsc::Sender<Transaction>
where
    E: Spawner + Clock + commonware_runtime::Supervisor,
    S: Sender<PublicKey = ed25519::PublicKey>,
    R: Receiver<PublicKey = ed25519::PublicKey>,
{
    let (outbound, mut queue) = mpsc::channel::<Transaction>(GOSSIP_QUEUE_MAX);
    context.child("outbound").spawn(move |context| async move {
        while let Some(first) = queue.next().await {
            let mut bytes = first.encode_size();
            let mut batch = vec![first];
            // Collect whatever else is ready, briefly, within the count and byte limits.
            let deadline = context.current() + FLUSH_INTERVAL;
            while batch.len() < GOSSIP_BATCH_TXS_MAX && bytes < GOSSIP_BATCH_BYTES_MAX {
                match queue.try_recv() {
                    Ok(tx) => {
                        bytes = bytes.saturating_add(tx.encode_size());
                        batch.push(tx);
                    }
                    Err(mpsc::TryRecvError::Closed) => break,
                    Err(_) if context.current() < deadline => {
                        context.sleep(Duration::from_millis(1)).await
                    }
                    Err(_) => break,
                }
            }
            sender.send(Recipients::All, batch.encode(), false);
        }
    });
    context.child("inbound").spawn(move |_| async move {
        loop {
            let Ok((peer, message)) = receiver.recv().await else { break };
            let txs = match Vec::<Transaction>::decode_cfg(
                commonware_codec::Copying(message.as_ref()),
                &(RangeCfg::new(0..=GOSSIP_BATCH_TXS_MAX), ()),
            ) {
                Ok(txs) => txs,
                Err(error) => {
                    tracing::warn!(%peer, %error, "undecodable mempool gossip");
                    continue;
                }
            };
            let refused = chain.admit(txs).iter().filter(|r| r.is_err()).count();
            chain.counters.admissions_refused.fetch_add(refused as u64, Ordering::Relaxed);
        }
    });
    outbound
}
