//! The node a client command talks to: which one (`--node`), and signing, submitting and
//! reporting transactions there.

use super::print_json;
use anyhow::Context as _;
use medledger_client::Client;
use medledger_crypto::SigningKey;
use medledger_types::api::Committed;
use medledger_types::{ChainId, Outcome, Payload, Transaction, TxId};
use serde::Serialize;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

/// The node used when neither `--node` nor `MEDLEDGER_NODE` names one and there is no
/// `./localnet/localnet.json`.
const NODE_URL_DEFAULT: &str = "http://127.0.0.1:8700";

/// The manifest `medledger localnet` writes; its first node is the default.
const LOCALNET_MANIFEST: &str = "localnet/localnet.json";

/// Which node to talk to and how to print. Shared by every client command.
#[derive(clap::Args, Debug, Clone)]
pub struct NodeArgs {
    /// The node's API, e.g. http://127.0.0.1:8700. Default: the first node in
    /// ./localnet/localnet.json when that file exists, else http://127.0.0.1:8700.
    #[arg(long, global = true, value_name = "URL", env = "MEDLEDGER_NODE")]
    pub node: Option<String>,
    /// Machine-readable output: JSON on standard output, amounts in integer fen as in the API.
    #[arg(long, global = true)]
    pub json: bool,
}

impl NodeArgs {
    /// A client for the chosen node.
    pub fn connect(&self) -> anyhow::Result<Node> {
        let url = match self.node.clone() {
            Some(url) => url,
            None => default_node_url()?,
        };
        // `127.0.0.1:8700` is as clear as `http://127.0.0.1:8700`.
        let url = if url.contains("://") { url } else { format!("http://{url}") };
        Ok(Node { client: Client::new(&url)?, url, json: self.json })
    }
}

fn default_node_url() -> anyhow::Result<String> {
    let path = Path::new(LOCALNET_MANIFEST);
    if !path.exists() {
        return Ok(NODE_URL_DEFAULT.to_string());
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {LOCALNET_MANIFEST}"))?;
    let manifest: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {LOCALNET_MANIFEST}"))?;
    manifest["nodes"][0]["api"]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("{LOCALNET_MANIFEST} names no node (nodes[0].api)"))
}

/// One node, and how to print what it says.
#[derive(Debug)]
pub struct Node {
    /// The SDK client.
    pub client: Client,
    /// The URL it was reached at, for messages.
    pub url: String,
    /// Print JSON instead of text.
    pub json: bool,
}

/// A committed transaction and what the ledger made of it.
#[derive(Debug, Serialize)]
pub struct Submitted {
    /// The transaction.
    pub tx_id: TxId,
    /// The block that included it.
    pub height: u64,
    /// From submission to the committed receipt.
    pub latency_ms: u64,
    /// Whether the ledger accepted it.
    pub accepted: bool,
    /// `accepted`, or the rejection's stable code.
    pub code: String,
    /// The effect, or the reason for the rejection, for people.
    pub message: String,
    /// The ledger's receipt outcome, as the API gives it.
    pub outcome: Outcome,
}

/// A transaction the ledger committed and rejected: the final answer, not a failure on the way.
#[derive(Debug)]
pub struct Rejected {
    /// The rejection's stable code, e.g. `over_claim`.
    pub code: String,
    /// The ledger's message.
    pub message: String,
    /// The transaction.
    pub tx_id: TxId,
    /// The block that included it.
    pub height: u64,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} (transaction {} rejected by the ledger in block {})",
            self.code, self.message, self.tx_id, self.height
        )
    }
}

impl std::error::Error for Rejected {}

impl From<&Submitted> for Rejected {
    fn from(sent: &Submitted) -> Self {
        Self {
            code: sent.code.clone(),
            message: sent.message.clone(),
            tx_id: sent.tx_id,
            height: sent.height,
        }
    }
}

impl Node {
    /// The chain id and current height.
    pub fn tip(&self) -> anyhow::Result<(ChainId, u64)> {
        let status = self.client.status()?;
        Ok((ChainId::new(status.chain_id)?, status.height))
    }

    /// Signs `payload` with `key` for this node's chain (see [`Client::sign`]).
    pub fn sign(&self, key: &SigningKey, payload: Payload) -> anyhow::Result<Transaction> {
        Ok(self.client.sign(key, payload)?)
    }

    /// Submits `tx` and waits for consensus to commit it.
    pub fn submit(&self, tx: &Transaction) -> anyhow::Result<Submitted> {
        let start = Instant::now();
        let Committed { height, receipt, .. } = self.client.submit_and_wait(tx)?;
        let latency_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        Ok(Submitted {
            tx_id: tx.id(),
            height,
            latency_ms,
            accepted: receipt.outcome.is_accepted(),
            code: receipt.outcome.code(),
            message: receipt.outcome.to_string(),
            outcome: receipt.outcome,
        })
    }

    /// Signs, submits and reports one transaction; `extra` adds fields to the JSON output
    /// (and a line each to the text) such as the claim id.
    pub fn transact(
        &self,
        key: &SigningKey,
        payload: Payload,
        extra: &[(&str, String)],
    ) -> anyhow::Result<ExitCode> {
        let tx = self.sign(key, payload)?;
        self.report(&self.submit(&tx)?, extra)
    }

    /// Prints a transaction's result. A rejection becomes the [`Rejected`] error.
    fn report(&self, sent: &Submitted, extra: &[(&str, String)]) -> anyhow::Result<ExitCode> {
        if self.json {
            let mut out = serde_json::to_value(sent)?;
            for (name, value) in extra {
                out[*name] = serde_json::Value::String(value.clone());
            }
            print_json(&out)?;
        } else if sent.accepted {
            println!("accepted: {}", sent.message);
            for (name, value) in extra {
                println!("  {}: {value}", name.replace('_', " "));
            }
            println!(
                "  transaction {} in block {}, {} ms",
                sent.tx_id, sent.height, sent.latency_ms
            );
        }
        if sent.accepted { Ok(ExitCode::SUCCESS) } else { Err(Rejected::from(sent).into()) }
    }
}
