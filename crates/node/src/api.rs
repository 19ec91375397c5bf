//! The node's HTTP API (minimal for now; the full API is its own piece of work):
//!
//! - `GET /v1/status`: height, last block hash, state root, peers, mempool size
//! - `POST /v1/txs`: submit a signed transaction, binary (`application/octet-stream`) or JSON;
//!   `?wait=commit` answers with the receipt once committed
//! - `GET /v1/txs/{id}`: a transaction's status and receipt
//! - `GET /v1/blocks/{height}`: an executed block's digest and state root (recent blocks)
//! - `GET /v1/bills/{code}/{number}`, `GET /v1/patients/{pseudonym}/bills`: bills
//! - `GET /v1/claims/{id}`, `GET /v1/payers/{member}/claims`: claims (newest 1,000)
//! - `GET /metrics` (Prometheus text), `GET /healthz`
//!
//! Every error is JSON `{"code": …, "message": …}` with a 4xx status; bad input never panics.

use crate::chain::{Chain, ExecutedBlock};
use crate::config::NodeConfig;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use futures::channel::mpsc;
use medledger_ledger::StateReader as _;
use medledger_types::api::{ApiError, Status, TxStatus};
use medledger_types::limits::TX_BYTES_MAX;
use medledger_types::{BillId, ClaimId, MemberId, Pseudonym, Transaction, TxId};
use serde::Deserialize;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// How long `?wait=commit` waits for the receipt.
pub const WAIT_COMMIT_MAX: Duration = Duration::from_secs(10);

#[derive(Clone)]
struct Api {
    chain: Arc<Chain>,
    gossip: mpsc::Sender<Transaction>,
    config: NodeConfig,
    validators: u32,
    metrics: Arc<dyn Fn() -> String + Send + Sync>,
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, Json(ApiError { code: code.to_string(), message: message.into() })).into_response()
}

/// Starts the API server on the configured address.
pub async fn start<E>(
    context: E,
    config: NodeConfig,
    chain: Arc<Chain>,
    gossip: mpsc::Sender<Transaction>,
    validators: u32,
) -> anyhow::Result<()>
where
    E: commonware_runtime::Spawner + commonware_runtime::Metrics + commonware_runtime::Supervisor,
{
    let listener = tokio::net::TcpListener::bind(config.api_address)
        .await
        .map_err(|e| anyhow::anyhow!("API address {}: {e}", config.api_address))?;
    let server = context.child("server");
    let metrics_context = context;
    let api = Api {
        chain,
        gossip,
        config,
        validators,
        metrics: Arc::new(move || metrics_context.encode()),
    };
    let router = Router::new()
        .route("/v1/status", get(status))
        .route("/v1/txs", post(submit))
        .route("/v1/txs/{id}", get(tx_status))
        .route("/v1/blocks/{height}", get(block))
        .route("/v1/bills/{code}/{number}", get(bill))
        .route("/v1/patients/{pseudonym}/bills", get(patient_bills))
        .route("/v1/claims/{id}", get(claim))
        .route("/v1/payers/{member}/claims", get(payer_claims))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(2 * TX_BYTES_MAX + 4096))
        .with_state(api);
    server.spawn(move |_| async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!("API server stopped: {e}");
        }
    });
    Ok(())
}

async fn status(State(api): State<Api>) -> Json<Status> {
    let tip = api.chain.executed().tip;
    let (mempool_txs, mempool_bytes) = {
        let pool = api.chain.mempool();
        (pool.len(), pool.bytes())
    };
    // The P2P layer reports each connected peer as one sample of this metric.
    let peers_connected = (api.metrics)()
        .lines()
        .filter(|line| line.starts_with("network_tracker_directory_connected{"))
        .count();
    Json(Status {
        peers_connected: u32::try_from(peers_connected).unwrap_or(u32::MAX),
        chain_id: api.config.chain_id.clone(),
        validator_index: api.config.validator_index,
        height: tip.height,
        last_block_hash: medledger_crypto::encode_hex(tip.digest.as_ref()),
        state_root: tip.state_root.to_hex(),
        last_block_time_ms: tip.timestamp_ms,
        validators: api.validators,
        mempool_txs,
        mempool_bytes,
    })
}

#[derive(Deserialize)]
struct SubmitQuery {
    wait: Option<String>,
}

async fn submit(
    State(api): State<Api>,
    Query(query): Query<SubmitQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let binary = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/octet-stream"));
    let tx = if binary {
        match Transaction::decode_untrusted(&body) {
            Ok(tx) => tx,
            Err(e) => {
                return error(StatusCode::BAD_REQUEST, "malformed_transaction", e.to_string());
            }
        }
    } else {
        let parsed = match serde_json::from_slice::<Transaction>(&body) {
            Ok(tx) => tx,
            Err(e) => return error(StatusCode::BAD_REQUEST, "malformed_json", e.to_string()),
        };
        // JSON carries no length limits of its own: pass the canonical encoding through the
        // same bounded decoder as binary submissions, so nothing admitted is undecodable.
        use commonware_codec::Encode as _;
        match Transaction::decode_untrusted(&parsed.encode()) {
            Ok(tx) => tx,
            Err(e) => {
                return error(StatusCode::BAD_REQUEST, "malformed_transaction", e.to_string());
            }
        }
    };
    let id = tx.id();
    let wait = match query.wait.as_deref() {
        None => false,
        Some("commit") => true,
        Some(other) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_query",
                format!("wait={other}: only wait=commit is supported"),
            );
        }
    };
    // Already committed: answer with the receipt; nothing is admitted twice.
    if let Some(committed) = api.chain.executed().receipts.get(&id).cloned() {
        return (
            StatusCode::OK,
            Json(TxStatus {
                tx_id: id,
                status: "committed".to_string(),
                committed: Some(committed),
            }),
        )
            .into_response();
    }
    let result = api.chain.admit(vec![tx.clone()]).remove(0);
    match result {
        Ok(_) => {
            let mut gossip = api.gossip.clone();
            if gossip.try_send(tx).is_err() {
                tracing::warn!(%id, "gossip queue full; the transaction waits for this node to lead");
            }
        }
        Err(crate::mempool::AdmitError::DuplicateInMempool) => {}
        Err(e) => {
            api.chain.counters.admissions_refused.fetch_add(1, Ordering::Relaxed);
            let status = match e {
                crate::mempool::AdmitError::MempoolFull { .. } => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_REQUEST,
            };
            return error(status, &e.code(), e.to_string());
        }
    }
    if !wait {
        return (
            StatusCode::ACCEPTED,
            Json(TxStatus { tx_id: id, status: "pending".to_string(), committed: None }),
        )
            .into_response();
    }
    let deadline = tokio::time::Instant::now() + WAIT_COMMIT_MAX;
    loop {
        if let Some(committed) = api.chain.executed().receipts.get(&id).cloned() {
            return (
                StatusCode::OK,
                Json(TxStatus {
                    tx_id: id,
                    status: "committed".to_string(),
                    committed: Some(committed),
                }),
            )
                .into_response();
        }
        if tokio::time::Instant::now() >= deadline {
            return error(
                StatusCode::ACCEPTED,
                "not_yet_committed",
                format!("transaction {id} is pending; query GET /v1/txs/{id}"),
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn tx_status(State(api): State<Api>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<TxId>() else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_tx_id",
            "a transaction id is 64 hexadecimal characters",
        );
    };
    if let Some(committed) = api.chain.executed().receipts.get(&id).cloned() {
        return Json(TxStatus {
            tx_id: id,
            status: "committed".to_string(),
            committed: Some(committed),
        })
        .into_response();
    }
    if api.chain.mempool().contains(&id) {
        return Json(TxStatus { tx_id: id, status: "pending".to_string(), committed: None })
            .into_response();
    }
    error(
        StatusCode::NOT_FOUND,
        "unknown_transaction",
        format!("transaction {id} is neither committed nor pending here"),
    )
}

async fn block(State(api): State<Api>, Path(height): Path<u64>) -> Response {
    let found: Option<ExecutedBlock> = api.chain.executed().recent.get(&height).copied();
    match found {
        Some(block) => Json(block.summary()).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "unknown_block",
            format!("no executed block at height {height} is held"),
        ),
    }
}

/// Items a list endpoint returns at most (pagination arrives with the full API).
const LIST_ITEMS_MAX: usize = 1_000;

/// The newest `LIST_ITEMS_MAX` of `ids` (kept oldest first), looked up with `get`.
fn newest<I, T>(ids: Option<&Vec<I>>, get: impl Fn(&I) -> Option<T>) -> Vec<T> {
    ids.map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .rev()
        .take(LIST_ITEMS_MAX)
        .filter_map(get)
        .collect()
}

/// A request refused with a ready error response (boxed: responses are large).
struct Refused(Box<Response>);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        *self.0
    }
}

/// Parses a path segment, or refuses with 400, `code` and the parser's reason.
fn parse<T: std::str::FromStr>(text: &str, code: &str) -> Result<T, Refused>
where
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|e: T::Err| Refused(Box::new(error(StatusCode::BAD_REQUEST, code, e.to_string()))))
}

async fn bill(
    State(api): State<Api>,
    Path((code, number)): Path<(String, String)>,
) -> Result<Response, Refused> {
    let id: BillId = parse(&format!("{code}/{number}"), "bad_bill_id")?;
    Ok(match api.chain.executed().state.bill(&id).cloned() {
        Some(bill) => Json(bill).into_response(),
        None => error(StatusCode::NOT_FOUND, "unknown_bill", format!("no bill {id}")),
    })
}

async fn patient_bills(
    State(api): State<Api>,
    Path(pseudonym): Path<String>,
) -> Result<Response, Refused> {
    let patient: Pseudonym = parse(&pseudonym, "bad_pseudonym")?;
    let executed = api.chain.executed();
    let bills =
        newest(executed.bills_by_patient.get(&patient), |id| executed.state.bill(id).cloned());
    Ok(Json(bills).into_response())
}

async fn claim(State(api): State<Api>, Path(id): Path<String>) -> Result<Response, Refused> {
    let id: ClaimId = parse(&id, "bad_claim_id")?;
    Ok(match api.chain.executed().state.claim(&id).cloned() {
        Some(claim) => Json(claim).into_response(),
        None => error(StatusCode::NOT_FOUND, "unknown_claim", format!("no claim {id}")),
    })
}

async fn payer_claims(
    State(api): State<Api>,
    Path(member): Path<String>,
) -> Result<Response, Refused> {
    let payer: MemberId = parse(&member, "bad_member_id")?;
    let executed = api.chain.executed();
    let claims =
        newest(executed.claims_by_payer.get(&payer), |id| executed.state.claim(id).cloned());
    Ok(Json(claims).into_response())
}

async fn metrics(State(api): State<Api>) -> Response {
    let c = &api.chain.counters;
    let (mempool_txs, mempool_bytes) = {
        let pool = api.chain.mempool();
        (pool.len(), pool.bytes())
    };
    let height = api.chain.executed().state.height();
    let mut text = (api.metrics)();
    let mut line = |name: &str, kind: &str, help: &str, value: u64| {
        text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"));
    };
    line("medledger_height", "gauge", "Height of the last executed block.", height);
    line(
        "medledger_blocks_executed_total",
        "counter",
        "Blocks executed since start.",
        c.blocks.load(Ordering::Relaxed),
    );
    line(
        "medledger_txs_executed_total",
        "counter",
        "Transactions executed since start.",
        c.txs.load(Ordering::Relaxed),
    );
    line(
        "medledger_txs_accepted_total",
        "counter",
        "Transactions accepted by the ledger.",
        c.txs_accepted.load(Ordering::Relaxed),
    );
    line(
        "medledger_txs_rejected_total",
        "counter",
        "Transactions rejected by the ledger.",
        c.txs_rejected.load(Ordering::Relaxed),
    );
    line(
        "medledger_mempool_txs",
        "gauge",
        "Transactions waiting in the mempool.",
        mempool_txs as u64,
    );
    line("medledger_mempool_bytes", "gauge", "Bytes waiting in the mempool.", mempool_bytes as u64);
    line(
        "medledger_admissions_refused_total",
        "counter",
        "Transactions refused at admission.",
        c.admissions_refused.load(Ordering::Relaxed),
    );
    line(
        "medledger_commit_latency_ms_sum",
        "counter",
        "Sum over blocks of execution time minus block time, ms.",
        c.commit_latency_ms_sum.load(Ordering::Relaxed),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
