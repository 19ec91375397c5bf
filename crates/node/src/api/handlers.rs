//! The API's request handlers (see the module above for the list of endpoints).

use super::{Api, Refused, WAIT_COMMIT_MAX, error};
use crate::chain::ExecutedBlock;
use crate::chain::ReceiptError;
use crate::state_tree::StateKey;
use axum::Json;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use medledger_ledger::StateReader as _;
use medledger_receipt::Record;
use medledger_types::api::{
    ApiError, BatchItem, BatchStatus, BlockSummary, BlockTransactions, ListQuery, Page,
    ReceiptView, Status, TxStatus,
};
use medledger_types::{
    Bill, BillCode, BillId, BillNumber, Claim, ClaimId, MemberId, Policy, Pseudonym, Transaction,
    TxId,
};
use serde::Deserialize;
use std::sync::atomic::Ordering;

#[utoipa::path(get, path = "/openapi.json", tag = "operations", operation_id = "openapi",
    summary = "This document: OpenAPI 3.1, generated from the node's code",
    responses((status = 200, description = "The OpenAPI document", body = Object), (status = 429, description = "Over this client's request rate", body = ApiError)))]
pub(crate) async fn openapi(State(api): State<Api>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], api.openapi.as_str().to_owned()).into_response()
}

#[utoipa::path(get, path = "/healthz", tag = "operations", operation_id = "healthz",
    summary = "Liveness: `ok` while the API answers",
    responses((status = 200, description = "The node's API is up", body = String, content_type = "text/plain"), (status = 429, description = "Over this client's request rate", body = ApiError)))]
pub(crate) async fn healthz() -> &'static str {
    "ok"
}

#[utoipa::path(get, path = "/v1/status", tag = "chain", operation_id = "status",
    summary = "The node's chain height, last block, state root, peers and mempool",
    responses((status = 200, description = "Status", body = Status), (status = 429, description = "Over this client's request rate", body = ApiError)))]
pub(crate) async fn status(State(api): State<Api>) -> Json<Status> {
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
pub(crate) struct SubmitQuery {
    wait: Option<String>,
}

#[utoipa::path(post, path = "/v1/txs", tag = "transactions", operation_id = "submit_transaction",
    summary = "Submit a signed transaction (canonical binary or JSON)",
    description = "Binary with `Content-Type: application/octet-stream`, JSON otherwise. The node checks the envelope (chain id, expiry, signer, signature) and admits the transaction to its mempool (202), or answers with the receipt if it was already committed (200). With `?wait=commit` it answers with the receipt once committed, waiting up to 10 s.",
    params(("wait" = Option<WaitFor>, Query, description = "Answer once the transaction is committed (up to 10 s)")),
    request_body(content((Transaction = "application/json"), (Vec<u8> = "application/octet-stream")), description = "The signed transaction"),
    responses(
        (status = 200, description = "Committed: the ledger's receipt (accepted or rejected with its reason)", body = TxStatus),
        (status = 202, description = "Admitted to the mempool (or still pending after the wait)", body = TxStatus),
        (status = 400, description = "Malformed, wrongly signed, for another chain, expired or already included", body = ApiError),
        (status = 403, description = "Signed by a key the ledger does not know, by a frozen member, or by a key whose role may not send this kind of transaction (`unknown_signer`, `signer_frozen`, `not_authorized`: refused on admission, never put in a block)", body = ApiError),
        (status = 413, description = "Body larger than 1 MiB (1,052,672 bytes)", body = ApiError),
        (status = 429, description = "Over this client's request rate", body = ApiError),
        (status = 503, description = "Mempool full, or this signer's queue is", body = ApiError)))]
pub(crate) async fn submit(
    State(api): State<Api>,
    Query(query): Query<SubmitQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let binary = is_binary(&headers);
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
    match admit_all(&api, vec![tx]).remove(0) {
        // Already committed: answer with the receipt; nothing is admitted twice.
        Admitted::Committed(committed) => return committed_answer(id, committed),
        Admitted::Refused(status, refusal) => return (status, Json(refusal)).into_response(),
        Admitted::Pending => {}
    }
    #[cfg(feature = "planted-bugs")]
    if wait && crate::planted::ack_before_commit() {
        let receipt = medledger_types::Receipt {
            tx_id: id,
            // Whatever execution will say: the bug is answering before it.
            outcome: medledger_types::Outcome::Accepted(medledger_types::Effect::RangeAllocated),
        };
        let height = api.chain.executed_height() + 1;
        let committed = medledger_types::api::Committed { height, index: 0, receipt };
        return committed_answer(id, committed);
    }
    if !wait {
        return (
            StatusCode::ACCEPTED,
            Json(TxStatus { tx_id: id, status: "pending".to_string(), committed: None }),
        )
            .into_response();
    }
    let deadline = tokio::time::Instant::now() + WAIT_COMMIT_MAX;
    let mut executed = api.chain.watch_executed();
    loop {
        if let Some(committed) = api.chain.executed().receipts.get(&id).cloned() {
            return committed_answer(id, committed);
        }
        if tokio::time::Instant::now() >= deadline {
            // Still pending: the same answer as without the wait; the client polls GET /v1/txs.
            return (
                StatusCode::ACCEPTED,
                Json(TxStatus { tx_id: id, status: "pending".to_string(), committed: None }),
            )
                .into_response();
        }
        // Woken by the next executed block (or the deadline).
        let _ = tokio::time::timeout_at(deadline, executed.changed()).await;
    }
}

/// 200 with a committed transaction's receipt.
fn committed_answer(tx_id: TxId, committed: medledger_types::api::Committed) -> Response {
    let status = TxStatus { tx_id, status: "committed".to_string(), committed: Some(committed) };
    (StatusCode::OK, Json(status)).into_response()
}

/// Whether a submission is binary (canonical encoding) rather than JSON.
fn is_binary(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/octet-stream"))
}

/// What the node made of one submitted transaction, before any wait.
enum Admitted {
    /// In the mempool (admitted now, or already waiting there).
    Pending,
    /// Already committed, with its receipt.
    Committed(medledger_types::api::Committed),
    /// Refused, with the status and error to answer.
    Refused(StatusCode, ApiError),
}

/// Admits `txs` in one go (their signatures verified as one batch), gossips the newly
/// admitted ones and says what became of each, in order.
fn admit_all(api: &Api, txs: Vec<Transaction>) -> Vec<Admitted> {
    use crate::mempool::AdmitError;
    use medledger_types::Rejection;
    let mut answers: Vec<Option<Admitted>> = {
        let executed = api.chain.executed();
        txs.iter()
            .map(|tx| executed.receipts.get(&tx.id()).cloned().map(Admitted::Committed))
            .collect()
    };
    let fresh: Vec<Transaction> = txs
        .into_iter()
        .zip(&answers)
        .filter(|(_, answer)| answer.is_none())
        .map(|(tx, _)| tx)
        .collect();
    let results = api.chain.admit(fresh.clone());
    let mut refused = 0u64;
    let mut fresh_answers = fresh.into_iter().zip(results).map(|(tx, result)| match result {
        Ok(_) => {
            let id = tx.id();
            if api.gossip.clone().try_send(tx).is_err() {
                tracing::warn!(%id, "gossip queue full; the transaction waits for this node to lead");
            }
            Admitted::Pending
        }
        Err(AdmitError::DuplicateInMempool) => Admitted::Pending,
        Err(e) => {
            refused += 1;
            let status = match e {
                AdmitError::MempoolFull { .. }
                | AdmitError::SignerQueueFull { .. }
                | AdmitError::SignerBytesFull { .. } => StatusCode::SERVICE_UNAVAILABLE,
                AdmitError::SignerRateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
                // Well formed, but from a key the ledger does not let in, or whose role may
                // not send this kind of transaction.
                AdmitError::Rejected(
                    Rejection::UnknownSigner
                    | Rejection::SignerFrozen { .. }
                    | Rejection::NotAuthorized { .. },
                ) => StatusCode::FORBIDDEN,
                _ => StatusCode::BAD_REQUEST,
            };
            Admitted::Refused(status, ApiError { code: e.code(), message: e.to_string() })
        }
    });
    let answers: Vec<Admitted> = answers
        .iter_mut()
        .map(|answer| {
            answer.take().unwrap_or_else(|| {
                fresh_answers.next().expect("one admission result per transaction not committed")
            })
        })
        .collect();
    api.chain.counters.admissions_refused.fetch_add(refused, Ordering::Relaxed);
    answers
}

/// The JSON body of `POST /v1/txs/batch` as the document describes it: 1 to
/// [`SUBMIT_BATCH_TXS_MAX`](medledger_types::limits::SUBMIT_BATCH_TXS_MAX) transactions (the
/// handler parses the body itself, so the bounds are written here).
pub(crate) struct TxBatch;

impl utoipa::PartialSchema for TxBatch {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::ArrayBuilder;
        ArrayBuilder::new()
            .items(<Transaction as utoipa::PartialSchema>::schema())
            .min_items(Some(1))
            .max_items(Some(medledger_types::limits::SUBMIT_BATCH_TXS_MAX))
            .description(Some("Signed transactions, at least one"))
            .into()
    }
}

impl utoipa::ToSchema for TxBatch {}

#[utoipa::path(post, path = "/v1/txs/batch", tag = "transactions", operation_id = "submit_transactions",
    summary = "Submit up to 1,000 signed transactions in one request",
    description = "For systems that file many transactions (a hospital's billing system, the payment platform filing claims for patients, a payer's settlement run): each transaction is still individually signed and checked exactly as by `POST /v1/txs`, but the request overhead is paid once and the signatures are verified as one batch. Binary with `Content-Type: application/octet-stream` (the canonical encoding of a list of transactions: a varint count, then each transaction), JSON (an array of transactions) otherwise. The answer lists, in order, what became of each: `pending`, `committed` (with its receipt) or `refused` (with the error `POST /v1/txs` would give). One refused transaction does not refuse the others.",
    request_body(content((TxBatch = "application/json"), (Vec<u8> = "application/octet-stream")), description = "The signed transactions"),
    responses(
        (status = 200, description = "Every transaction's outcome, in order", body = BatchStatus),
        (status = 400, description = "The batch cannot be read (`malformed_batch`, `malformed_json`), one of its transactions is malformed or over 1 MiB (`malformed_transaction`), or it is empty (`empty_batch`)", body = ApiError),
        (status = 413, description = "More than 1,000 transactions (`batch_too_large`), or a body larger than 2 MiB", body = ApiError),
        (status = 429, description = "Over this client's request rate, a batch counting one request per transaction", body = ApiError)))]
pub(crate) async fn submit_batch(
    State(api): State<Api>,
    axum::extract::ConnectInfo(client): axum::extract::ConnectInfo<super::guard::ClientAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    use commonware_codec::{Decode as _, Encode as _, EncodeSize as _, RangeCfg, Read as _};
    use medledger_types::limits::{SUBMIT_BATCH_TXS_MAX, TX_BYTES_MAX};
    let binary = is_binary(&headers);
    let too_large = |count: usize| {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!("{count} transactions; a batch holds at most {SUBMIT_BATCH_TXS_MAX}"),
        )
    };
    let txs: Vec<Transaction> = if binary {
        // The count first, so an oversized batch is named as such, not as malformed.
        match usize::read_cfg(&mut commonware_codec::Copying(body.as_ref()), &RangeCfg::from(..)) {
            Ok(count) if count > SUBMIT_BATCH_TXS_MAX => return too_large(count),
            Ok(_) => {}
            Err(e) => return error(StatusCode::BAD_REQUEST, "malformed_batch", e.to_string()),
        }
        match Vec::<Transaction>::decode_cfg(
            commonware_codec::Copying(body.as_ref()),
            &(RangeCfg::new(0..=SUBMIT_BATCH_TXS_MAX), ()),
        ) {
            Ok(txs) => txs,
            Err(e) => return error(StatusCode::BAD_REQUEST, "malformed_batch", e.to_string()),
        }
    } else {
        let parsed = match serde_json::from_slice::<Vec<Transaction>>(&body) {
            Ok(txs) => txs,
            Err(e) => return error(StatusCode::BAD_REQUEST, "malformed_json", e.to_string()),
        };
        if parsed.len() > SUBMIT_BATCH_TXS_MAX {
            return too_large(parsed.len());
        }
        // As for one transaction: through the bounded decoder, so nothing admitted is
        // undecodable.
        let mut txs = Vec::with_capacity(parsed.len());
        for (i, tx) in parsed.iter().enumerate() {
            match Transaction::decode_untrusted(&tx.encode()) {
                Ok(tx) => txs.push(tx),
                Err(e) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "malformed_transaction",
                        format!("transaction {i}: {e}"),
                    );
                }
            }
        }
        txs
    };
    if txs.is_empty() {
        return error(StatusCode::BAD_REQUEST, "empty_batch", "the batch holds no transaction");
    }
    // A batch costs one request per transaction against the client's rate (the rate layer
    // charged the first), before its signatures are verified.
    let cost = u32::try_from(txs.len() - 1).unwrap_or(u32::MAX);
    if let Err(refused) = super::guard::charge(&api, client, cost) {
        return refused.into_response();
    }
    // Each transaction within the single-transaction limit, as `POST /v1/txs` requires.
    if let Some((i, tx)) = txs.iter().enumerate().find(|(_, tx)| tx.encode_size() > TX_BYTES_MAX) {
        return error(
            StatusCode::BAD_REQUEST,
            "malformed_transaction",
            format!("transaction {i} is {} bytes; at most {TX_BYTES_MAX}", tx.encode_size()),
        );
    }
    let ids: Vec<TxId> = txs.iter().map(Transaction::id).collect();
    let mut answer = BatchStatus { pending: 0, committed: 0, refused: 0, results: Vec::new() };
    for (tx_id, admitted) in ids.into_iter().zip(admit_all(&api, txs)) {
        let item = match admitted {
            Admitted::Pending => {
                answer.pending += 1;
                BatchItem { tx_id, status: "pending".into(), committed: None, error: None }
            }
            Admitted::Committed(committed) => {
                answer.committed += 1;
                BatchItem {
                    tx_id,
                    status: "committed".into(),
                    committed: Some(committed),
                    error: None,
                }
            }
            Admitted::Refused(_, refusal) => {
                answer.refused += 1;
                BatchItem { tx_id, status: "refused".into(), committed: None, error: Some(refusal) }
            }
        };
        answer.results.push(item);
    }
    let wrong = answer
        .results
        .iter()
        .filter(|item| item.error.as_ref().is_some_and(|error| error.code == "bad_signature"));
    super::guard::charge_wrong_signatures(&api, client, answer.results.len(), wrong.count());
    (StatusCode::OK, Json(answer)).into_response()
}

#[utoipa::path(get, path = "/v1/txs/{id}", tag = "transactions", operation_id = "get_transaction",
    summary = "A transaction's status and, once committed, its receipt",
    params(("id" = TxId, Path, description = "Transaction id: 64 hex digits")),
    responses((status = 200, description = "Pending or committed", body = TxStatus), (status = 404, description = "Neither committed nor pending here", body = ApiError), ReadErrors))]
pub(crate) async fn tx_status(
    State(api): State<Api>,
    Path(id): Path<String>,
) -> Result<Response, Refused> {
    let id: TxId = parse(&id, "bad_tx_id")?;
    Ok(if let Some(committed) = api.chain.executed().receipts.get(&id).cloned() {
        Json(TxStatus { tx_id: id, status: "committed".to_string(), committed: Some(committed) })
            .into_response()
    } else if api.chain.mempool().contains(&id) {
        Json(TxStatus { tx_id: id, status: "pending".to_string(), committed: None }).into_response()
    } else {
        error(
            StatusCode::NOT_FOUND,
            "unknown_transaction",
            format!("transaction {id} is neither committed nor pending here"),
        )
    })
}

#[utoipa::path(get, path = "/v1/blocks/{height}", tag = "chain", operation_id = "get_block",
    summary = "An executed block's digest, state root, time and size",
    params(("height" = u64, Path, description = "Block height")),
    responses((status = 200, description = "The block", body = BlockSummary), (status = 404, description = "Not executed, or no longer held", body = ApiError), ReadErrors))]
pub(crate) async fn block(
    State(api): State<Api>,
    Path(height): Path<String>,
) -> Result<Response, Refused> {
    let height: u64 = parse(&height, "bad_height")?;
    let found: Option<ExecutedBlock> = api.chain.executed().recent.get(&height).copied();
    Ok(match found {
        Some(block) => Json(block.summary()).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "unknown_block",
            format!("no executed block at height {height} is held"),
        ),
    })
}

#[utoipa::path(get, path = "/v1/blocks/{height}/transactions", tag = "chain", operation_id = "get_block_transactions",
    summary = "A finalized, executed block's transactions and their receipts",
    description = "The block's header fields, its transactions in execution order and the ledger's receipt for each. Explorers and auditors read the chain with it. Unsigned, sealed bill bodies (ciphertext and key wraps) and the regulator's access references are emptied (`redacted: true`; such transactions no longer verify): bodies are served only through `GET /v1/bills/{code}/{number}/body`. A request signed as for that route by a genesis validator's key gets whole transactions (the fault tests replay every node's chain through the reference model this way).",
    params(("height" = u64, Path, description = "Block height, from 1")),
    responses((status = 200, description = "The block's transactions", body = BlockTransactions), (status = 401, description = "A signed request that does not verify (`bad_request_signature`, `stale_request`, `replayed_request`, …)", body = ApiError), (status = 403, description = "Signed by a key that is not a validator's (`not_a_validator`)", body = ApiError), (status = 404, description = "Not yet executed here (`unknown_block`)", body = ApiError), (status = 503, description = "The block is not available from this node's archive right now (`block_unavailable`)", body = ApiError), ReadErrors))]
pub(crate) async fn block_transactions(
    State(api): State<Api>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Path(height): Path<String>,
) -> Result<Response, Refused> {
    let height: u64 = parse(&height, "bad_height")?;
    // Whole transactions (sealed bodies and the regulator's references included) only for a
    // request signed by a genesis validator: validators hold every block anyway, and the
    // fault tests replay chains from them. Everyone else gets them redacted, so the signed
    // body read and the regulator's recorded access cannot be bypassed here.
    let whole = if headers.contains_key(medledger_types::api::REQUEST_SIGNATURE_HEADER) {
        let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str()).to_string();
        let caller = super::private::authenticate(&api, &headers, "GET", &path)?;
        if !api.genesis.validators.iter().any(|v| v.public_key == caller) {
            return Err(Refused::new(
                StatusCode::FORBIDDEN,
                "not_a_validator",
                "whole transactions are served to the network's validators only; unsigned \
                 requests get them with sealed bodies and access references redacted",
            ));
        }
        true
    } else {
        false
    };
    if height == 0 || height > api.chain.executed_height() {
        return Err(Refused::new(
            StatusCode::NOT_FOUND,
            "unknown_block",
            format!("no executed block at height {height}"),
        ));
    }
    let unavailable = || {
        Refused::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "block_unavailable",
            format!("block {height} cannot be read from this node's archive now; retry"),
        )
    };
    let block = (api.blocks)(height).await.ok_or_else(unavailable)?;
    // Every transaction of an executed block has its receipt; a gap is this node's fault.
    let mut answer = api.chain.block_transactions(block, height).ok_or_else(unavailable)?;
    if !whole {
        redact(&mut answer);
    }
    Ok(Json(answer).into_response())
}

/// Empties what a public reader of blocks must not get: every sealed body's ciphertext and key
/// wraps (the bill headers keep their commitments; the body is served only through the
/// signed read of `GET /v1/bills/{code}/{number}/body`) and the regulator's own access
/// references. Redacted transactions no longer verify against their signatures.
fn redact(block: &mut medledger_types::api::BlockTransactions) {
    use medledger_types::{Payload, Text};
    let mut redacted = false;
    for tx in &mut block.txs {
        let mut body = tx.body().clone();
        match &mut body.payload {
            Payload::IssueBills { bodies, .. } => {
                for sealed in bodies {
                    sealed.ciphertext.clear();
                    sealed.wraps.clear();
                }
            }
            Payload::AccessBody { reference, .. } => *reference = Text::default(),
            _ => continue,
        }
        *tx = medledger_types::Transaction::from_parts(body, tx.signature().clone());
        redacted = true;
    }
    block.redacted = redacted;
}

/// The errors every read endpoint may answer besides its own.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // describes responses; the handlers build them with `error`
pub(crate) enum ReadErrors {
    /// Malformed input: `code` says which part (`bad_tx_id`, `bad_limit`, `bad_query`, …).
    #[response(status = 400)]
    BadInput(#[to_schema] ApiError),
    /// Over this client's request rate; `Retry-After` says when to retry.
    #[response(status = 429)]
    RateLimited(#[to_schema] ApiError),
}

/// Items a list page holds by default, and at most.
const PAGE_ITEMS_DEFAULT: u32 = 100;
const PAGE_ITEMS_MAX: u32 = 1_000;
/// Entries one list request scans at most while filtering by status (under the executed-chain
/// lock, so kept short); past it, the page ends early with a cursor to continue from.
const PAGE_SCAN_MAX: usize = 10_000;

/// One page, newest first, of the items `ids` (kept oldest first) refer to, looked up with
/// `get` and kept when `status` is wanted; only kept items are copied. The cursor is a position
/// in `ids`.
fn page<'a, I, T: Clone + 'a>(
    ids: Option<&Vec<I>>,
    query: &ListQuery,
    statuses: &[&str],
    get: impl Fn(&I) -> Option<&'a T>,
    status: impl Fn(&T) -> &'static str,
) -> Result<Page<T>, Refused> {
    let limit = query.limit.unwrap_or(PAGE_ITEMS_DEFAULT);
    if !(1..=PAGE_ITEMS_MAX).contains(&limit) {
        return Err(Refused::new(
            StatusCode::BAD_REQUEST,
            "bad_limit",
            format!("limit={limit}: a page holds 1 to {PAGE_ITEMS_MAX} items"),
        ));
    }
    if let Some(wanted) = &query.status
        && !statuses.contains(&wanted.as_str())
    {
        return Err(Refused::new(
            StatusCode::BAD_REQUEST,
            "bad_status",
            format!("status={wanted}: expected one of {}", statuses.join(", ")),
        ));
    }
    if query.cursor.is_some_and(|c| i64::try_from(c).is_err()) {
        return Err(Refused::new(
            StatusCode::BAD_REQUEST,
            "bad_cursor",
            "a cursor is a previous page's next_cursor",
        ));
    }
    let ids = ids.map(Vec::as_slice).unwrap_or(&[]);
    let end = query.cursor.map_or(ids.len(), |c| usize::try_from(c).unwrap_or(usize::MAX));
    let end = end.min(ids.len());
    let mut items = Vec::new();
    let mut position = end;
    let mut scanned = 0;
    while position > 0 && items.len() < limit as usize && scanned < PAGE_SCAN_MAX {
        position -= 1;
        scanned += 1;
        if let Some(item) = get(&ids[position])
            && query.status.as_deref().is_none_or(|wanted| status(item) == wanted)
        {
            items.push(item.clone());
        }
    }
    let next_cursor = (position > 0).then_some(position as u64);
    Ok(Page { items, next_cursor })
}

/// What `POST /v1/txs` may wait for, as the document describes the `wait` parameter.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // describes the query parameter; the handler reads it as text
pub(crate) enum WaitFor {
    /// The transaction's receipt, once a block including it is committed.
    #[schema(rename = "commit")]
    Commit,
}

/// The form of a receipt answer, as the document describes the `format` parameter.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // describes the query parameter; the handler reads it as text
pub(crate) enum ReceiptFormat {
    /// JSON with the receipt's hex, its QR text and the record (`ReceiptView`).
    #[schema(rename = "json")]
    Json,
    /// The receipt's bytes (`application/octet-stream`).
    #[schema(rename = "binary")]
    Binary,
    /// The receipt's QR code (`image/svg+xml`), for printing or showing on a screen.
    #[schema(rename = "svg")]
    Svg,
}

/// A bill's status, as the document describes the `status` filter.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // describes the query parameter; the handler reads it as text
pub(crate) enum BillStatusName {
    /// Issued and not voided.
    #[schema(rename = "valid")]
    Valid,
    /// Voided by a red bill.
    #[schema(rename = "voided")]
    Voided,
    /// A red (reversal) bill.
    #[schema(rename = "red")]
    Red,
}

/// A claim's status, as the document describes the `status` filter.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // describes the query parameter; the handler reads it as text
pub(crate) enum ClaimStatusName {
    /// Its amount is reserved on the bills, waiting for the payer.
    #[schema(rename = "locked")]
    Locked,
    /// Paid.
    #[schema(rename = "settled")]
    Settled,
    /// Refused by the payer.
    #[schema(rename = "rejected")]
    Rejected,
    /// Withdrawn by the patient.
    #[schema(rename = "withdrawn")]
    Withdrawn,
}

/// Bill statuses a list can be filtered by.
const BILL_STATUSES: [&str; 3] = ["valid", "voided", "red"];
/// Claim statuses a list can be filtered by.
const CLAIM_STATUSES: [&str; 4] = ["locked", "settled", "rejected", "withdrawn"];

/// Parses a path segment, or refuses with 400, `code` and the parser's reason.
fn parse<T: std::str::FromStr>(text: &str, code: &str) -> Result<T, Refused>
where
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|e: T::Err| Refused::new(StatusCode::BAD_REQUEST, code, e.to_string()))
}

#[utoipa::path(get, path = "/v1/bills/{code}/{number}", tag = "bills", operation_id = "get_bill",
    summary = "A bill's public header, status, reserved and reimbursed amounts, and its claims",
    params(("code" = BillCode, Path, description = "Bill code: 8 digits"), ("number" = BillNumber, Path, description = "Bill number: 10 digits")),
    responses((status = 200, description = "The bill", body = Bill), (status = 404, description = "No such bill", body = ApiError), ReadErrors))]
pub(crate) async fn bill(
    State(api): State<Api>,
    Path((code, number)): Path<(String, String)>,
) -> Result<Response, Refused> {
    let id: BillId = parse(&format!("{code}/{number}"), "bad_bill_id")?;
    Ok(match api.chain.executed().state.bill(&id).cloned() {
        Some(bill) => Json(bill).into_response(),
        None => error(StatusCode::NOT_FOUND, "unknown_bill", format!("no bill {id}")),
    })
}

#[utoipa::path(get, path = "/v1/bills/{code}/{number}/proof", tag = "bills", operation_id = "get_bill_receipt",
    summary = "A receipt for a bill that anyone can verify offline: the bill, its proof to the state root, the finalized block header and the validators' certificate",
    description = "The bill is as of the state the newest finalized header commits to (`as_of_height`, normally a block or two behind the tip). `?format=binary` answers with the receipt's bytes. Verify with `medledger verify`.",
    params(("code" = BillCode, Path, description = "Bill code: 8 digits"), ("number" = BillNumber, Path, description = "Bill number: 10 digits"),
        ("format" = Option<ReceiptFormat>, Query, description = "The answer's form (default json)")),
    responses((status = 200, description = "The receipt (its bytes with `?format=binary`, its QR code with `?format=svg`)", content((ReceiptView = "application/json"), (Vec<u8> = "application/octet-stream"), (String = "image/svg+xml"))), (status = 404, description = "No such bill", body = ApiError),
        (status = 503, description = "Not yet provable: no finalized header commits to it yet; retry shortly", body = ApiError), ReadErrors))]
pub(crate) async fn bill_receipt(
    State(api): State<Api>,
    Path((code, number)): Path<(String, String)>,
    Query(query): Query<ReceiptQuery>,
) -> Result<Response, Refused> {
    let id: BillId = parse(&format!("{code}/{number}"), "bad_bill_id")?;
    receipt(&api, StateKey::Bill(id), &query)
}

#[utoipa::path(get, path = "/v1/claims/{id}/proof", tag = "claims", operation_id = "get_claim_receipt",
    summary = "A receipt for a claim that anyone can verify offline (see the bill receipt)",
    params(("id" = ClaimId, Path, description = "Claim id: 32 hex digits"),
        ("format" = Option<ReceiptFormat>, Query, description = "The answer's form (default json)")),
    responses((status = 200, description = "The receipt (its bytes with `?format=binary`, its QR code with `?format=svg`)", content((ReceiptView = "application/json"), (Vec<u8> = "application/octet-stream"), (String = "image/svg+xml"))), (status = 404, description = "No such claim", body = ApiError),
        (status = 503, description = "Not yet provable: no finalized header commits to it yet; retry shortly", body = ApiError), ReadErrors))]
pub(crate) async fn claim_receipt(
    State(api): State<Api>,
    Path(id): Path<String>,
    Query(query): Query<ReceiptQuery>,
) -> Result<Response, Refused> {
    let id: ClaimId = parse(&id, "bad_claim_id")?;
    receipt(&api, StateKey::Claim(id), &query)
}

#[derive(Deserialize)]
pub(crate) struct ReceiptQuery {
    format: Option<String>,
}

fn receipt(api: &Api, key: StateKey, query: &ReceiptQuery) -> Result<Response, Refused> {
    use commonware_codec::Encode as _;
    let format = query.format.as_deref().unwrap_or("json");
    if !["json", "binary", "svg"].contains(&format) {
        return Err(Refused::new(
            StatusCode::BAD_REQUEST,
            "bad_query",
            format!("format={format}: expected json, binary or svg"),
        ));
    }
    let chain_id = medledger_types::ChainId::new(api.config.chain_id.clone())
        .map_err(|e| Refused::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    let receipt = api.chain.receipt(&chain_id, key).map_err(|e| match e {
        ReceiptError::Unknown => {
            let (code, what) = match key {
                StateKey::Bill(id) => ("unknown_bill", format!("no bill {id}")),
                StateKey::Claim(id) => ("unknown_claim", format!("no claim {id}")),
            };
            Refused::new(StatusCode::NOT_FOUND, code, what)
        }
        ReceiptError::NotYetProvable => {
            Refused::new(StatusCode::SERVICE_UNAVAILABLE, "not_yet_provable", e.to_string())
        }
    })?;
    let bytes = receipt.encode().to_vec();
    match format {
        "binary" => {
            return Ok(
                ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response()
            );
        }
        "svg" => return qr_svg(&receipt.to_qr_text()),
        _ => {}
    }
    let (bill, claim) = match &receipt.record {
        Record::Bill(bill) => (Some(bill.clone()), None),
        Record::Claim(claim) => (None, Some(claim.clone())),
    };
    Ok(Json(ReceiptView {
        receipt: medledger_crypto::encode_hex(&bytes),
        size_bytes: u32::try_from(bytes.len()).unwrap_or(u32::MAX),
        qr: receipt.to_qr_text(),
        as_of_height: receipt.header.executed_height,
        block_height: receipt.header.height,
        block_time_ms: receipt.header.timestamp_ms,
        bill,
        claim,
    })
    .into_response())
}

/// The QR code of a receipt's text, as SVG. Receipt texts use QR's alphanumeric alphabet and fit
/// a version-40 code at level M; a text that does not is answered 503 with the reason.
fn qr_svg(text: &str) -> Result<Response, Refused> {
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M)
        .or_else(|_| {
            qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::L)
        })
        .map_err(|e| {
            Refused::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "receipt_too_large_for_qr",
                format!(
                    "the receipt's QR text ({} characters) does not fit a QR code: {e}",
                    text.len()
                ),
            )
        })?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build();
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
}

#[utoipa::path(get, path = "/v1/patients/{pseudonym}/bills", tag = "bills", operation_id = "list_patient_bills",
    summary = "A patient's bills, newest first, paginated",
    params(("pseudonym" = Pseudonym, Path, description = "The patient's pseudonym: 32 hex digits"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "Items per page, 1 to 1000 (default 100)"),
        ("cursor" = Option<u64>, Query, description = "A previous page's `next_cursor`"),
        ("status" = Option<BillStatusName>, Query, description = "Only bills with this status")),
    responses((status = 200, description = "One page", body = Page<Bill>), ReadErrors))]
pub(crate) async fn patient_bills(
    State(api): State<Api>,
    Path(pseudonym): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Page<Bill>>, Refused> {
    let patient: Pseudonym = parse(&pseudonym, "bad_pseudonym")?;
    let executed = api.chain.executed();
    let ids = executed.bills_by_patient.get(&patient);
    page(ids, &query, &BILL_STATUSES, |id| executed.state.bill(id), Bill::status_name).map(Json)
}

#[utoipa::path(get, path = "/v1/claims/{id}", tag = "claims", operation_id = "get_claim",
    summary = "A claim: what was asked, by whom, and where it stands",
    params(("id" = ClaimId, Path, description = "Claim id: 32 hex digits")),
    responses((status = 200, description = "The claim", body = Claim), (status = 404, description = "No such claim", body = ApiError), ReadErrors))]
pub(crate) async fn claim(
    State(api): State<Api>,
    Path(id): Path<String>,
) -> Result<Response, Refused> {
    let id: ClaimId = parse(&id, "bad_claim_id")?;
    Ok(match api.chain.executed().state.claim(&id).cloned() {
        Some(claim) => Json(claim).into_response(),
        None => error(StatusCode::NOT_FOUND, "unknown_claim", format!("no claim {id}")),
    })
}

#[utoipa::path(get, path = "/v1/payers/{member}/claims", tag = "claims", operation_id = "list_payer_claims",
    summary = "Claims filed with a payer, newest first, paginated, by status",
    params(("member" = MemberId, Path, description = "The payer's member id"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "Items per page, 1 to 1000 (default 100)"),
        ("cursor" = Option<u64>, Query, description = "A previous page's `next_cursor`"),
        ("status" = Option<ClaimStatusName>, Query, description = "Only claims with this status")),
    responses((status = 200, description = "One page", body = Page<Claim>), ReadErrors))]
pub(crate) async fn payer_claims(
    State(api): State<Api>,
    Path(member): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Page<Claim>>, Refused> {
    let payer: MemberId = parse(&member, "bad_member_id")?;
    let executed = api.chain.executed();
    let ids = executed.claims_by_payer.get(&payer);
    page(ids, &query, &CLAIM_STATUSES, |id| executed.state.claim(id), |c| c.status.name()).map(Json)
}

#[utoipa::path(get, path = "/v1/payers/{member}/policy", tag = "claims", operation_id = "get_payer_policy",
    summary = "The payer's claim policy in force (its newest version), which adjudicates its claims on acceptance",
    params(("member" = MemberId, Path, description = "The payer's member id")),
    responses((status = 200, description = "The policy", body = Policy), (status = 404, description = "The payer registered no policy", body = ApiError), ReadErrors))]
pub(crate) async fn payer_policy(
    State(api): State<Api>,
    Path(member): Path<String>,
) -> Result<Response, Refused> {
    let payer: MemberId = parse(&member, "bad_member_id")?;
    Ok(match api.chain.executed().state.policy(&payer).cloned() {
        Some(policy) => Json(policy).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "no_policy",
            format!("{payer} has registered no policy: its claims wait for its decision"),
        ),
    })
}

#[utoipa::path(get, path = "/metrics", tag = "operations", operation_id = "metrics",
    summary = "Prometheus metrics: consensus, P2P, storage, execution, mempool",
    responses((status = 200, description = "Prometheus text format 0.0.4", body = String, content_type = "text/plain"), (status = 429, description = "Over this client's request rate", body = ApiError)))]
pub(crate) async fn metrics(State(api): State<Api>) -> Response {
    use crate::metrics::StateKind;
    let c = &api.chain.counters;
    let m = &api.chain.metrics;
    {
        let pool = api.chain.mempool();
        m.mempool_txs.set(i64::try_from(pool.len()).unwrap_or(i64::MAX));
        m.mempool_bytes.set(i64::try_from(pool.bytes()).unwrap_or(i64::MAX));
    }
    {
        let executed = api.chain.executed();
        m.height.set(i64::try_from(executed.state.height()).unwrap_or(i64::MAX));
        let sizes = executed.state.sizes();
        m.state_size(StateKind::members, sizes.members);
        m.state_size(StateKind::patients, sizes.patients);
        m.state_size(StateKind::bills, sizes.bills);
        m.state_size(StateKind::claims, sizes.claims);
        m.state_size(StateKind::policies, sizes.policies);
        m.state_size(StateKind::replay_set, sizes.included_txs);
        m.state_size(StateKind::receipts, executed.receipts.len());
    }
    let mut text = crate::metrics::exposition(&[&(api.metrics)(), &m.encode()]);
    let mut line = |name: &str, help: &str, value: u64| {
        text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n"));
    };
    line(
        "medledger_blocks_executed_total",
        "Blocks executed since start.",
        c.blocks.load(Ordering::Relaxed),
    );
    line(
        "medledger_txs_executed_total",
        "Transactions executed since start.",
        c.txs.load(Ordering::Relaxed),
    );
    line(
        "medledger_txs_accepted_total",
        "Transactions accepted by the ledger.",
        c.txs_accepted.load(Ordering::Relaxed),
    );
    line(
        "medledger_txs_rejected_total",
        "Transactions rejected by the ledger.",
        c.txs_rejected.load(Ordering::Relaxed),
    );
    line(
        "medledger_admissions_refused_total",
        "Transactions refused at admission.",
        c.admissions_refused.load(Ordering::Relaxed),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}
