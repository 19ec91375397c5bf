//! The node's HTTP API, versioned under `/v1`, JSON by default, described by the OpenAPI
//! document it serves at `/openapi.json`:
//!
//! - `GET /v1/status`: height, last block hash, state root, peers, mempool size
//! - `POST /v1/txs`: submit a signed transaction, binary (`application/octet-stream`) or JSON;
//!   `?wait=commit` answers with the receipt once committed
//! - `POST /v1/txs/batch`: up to 1,000 signed transactions in one request, each checked
//!   as by `POST /v1/txs`
//! - `GET /v1/txs/{id}`: a transaction's status and receipt
//! - `GET /v1/blocks/{height}`: an executed block's digest and state root (recent blocks)
//! - `GET /v1/blocks/{height}/transactions`: a block's transactions and their receipts
//! - `GET /v1/bills/{code}/{number}`, `GET /v1/patients/{pseudonym}/bills`: bills
//! - `GET /v1/claims/{id}`, `GET /v1/payers/{member}/claims`: claims (paginated, by status),
//!   with their adjudication under the payer's policy
//! - `GET /v1/payers/{member}/policy`: the payer's policy in force
//! - `GET /v1/events`: server-sent events, filterable, resumable from a height or event id
//! - `GET /v1/validators`: which genesis validators signed the newest finalization
//! - `POST /v1/txs/encode`, `POST /v1/receipts/verify`, `GET /v1/hospitals/{member}/ranges`:
//!   what the web portal needs beyond the rest (see [`portal`])
//! - `GET /` and `GET /portal/{file}`: the web portal
//! - `GET /metrics` (Prometheus text), `GET /healthz`
//!
//! Every error is JSON `{"code": …, "message": …}` with a 4xx status (503 when the node is
//! full); bad input never panics. Bodies, page sizes, connections and event streams are
//! bounded, per client address and per network as well as in all; request heads and bodies
//! have deadlines (408); each client address and network has a request rate, a batch
//! costing its transactions (429 past it). See [`guard`].

mod events;
mod guard;
mod handlers;
mod portal;
mod private;

use crate::chain::Chain;
use crate::config::NodeConfig;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use futures::channel::mpsc;
use medledger_types::Transaction;
use medledger_types::api::ApiError;
use medledger_types::limits::TX_BYTES_MAX;
use std::sync::Arc;
use std::time::Duration;

/// How long `?wait=commit` waits for the receipt.
pub const WAIT_COMMIT_MAX: Duration = Duration::from_secs(10);

/// Request bodies larger than this are refused with 413 (a transaction in JSON is at most
/// about twice its binary size).
pub const BODY_BYTES_MAX: usize = 2 * TX_BYTES_MAX + 4096;

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct Api {
    chain: Arc<Chain>,
    gossip: mpsc::Sender<Transaction>,
    config: NodeConfig,
    validators: u32,
    metrics: Arc<dyn Fn() -> String + Send + Sync>,
    limiter: Arc<guard::RateLimiter>,
    streams: Arc<guard::FairShare>,
    openapi: Arc<String>,
    blocks: BlockSource,
    genesis: Arc<medledger_types::Genesis>,
    /// Signed requests answered within the clock window (each is good once).
    seen_requests: Arc<private::SeenRequests>,
}

/// Fetches a finalized block by height (from marshal's archive), for reading sealed bodies.
pub type BlockSource = Arc<
    dyn Fn(u64) -> futures::future::BoxFuture<'static, Option<crate::block::Block>> + Send + Sync,
>;

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, Json(ApiError { code: code.to_string(), message: message.into() })).into_response()
}

/// A request refused with a ready error response (boxed: responses are large).
pub(crate) struct Refused(Box<Response>);

impl Refused {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self(Box::new(error(status, code, message)))
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        *self.0
    }
}

/// The document's header; the paths and schemas come from the handlers' annotations.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "medledger node API",
        description = "Issue medical e-bills, file and settle claims, and follow the ledger. Every error is JSON `{code, message}`; the ledger's rejection codes pass through unchanged.",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    components(schemas(handlers::BillStatusName, handlers::ClaimStatusName, handlers::ReceiptFormat, handlers::WaitFor)),
    tags(
        (name = "transactions", description = "Signed transactions and their receipts"),
        (name = "bills", description = "Bills as the ledger records them"),
        (name = "claims", description = "Claims against bills"),
        (name = "events", description = "What happens on the ledger, as it happens"),
        (name = "chain", description = "Blocks and the node's view of the chain"),
        (name = "operations", description = "Health, metrics and this document")
    )
)]
struct Document;

/// The API's routes and the OpenAPI document describing exactly them: every route is
/// registered through `routes!`, which records its annotation in the document.
fn routes() -> (Router<Api>, utoipa::openapi::OpenApi) {
    use utoipa::OpenApi as _;
    use utoipa_axum::routes;
    utoipa_axum::router::OpenApiRouter::with_openapi(Document::openapi())
        .routes(routes!(handlers::status))
        .routes(routes!(handlers::submit))
        .routes(routes!(handlers::submit_batch))
        .routes(routes!(portal::encode_tx))
        .routes(routes!(portal::verify_receipt))
        .routes(routes!(portal::hospital_ranges))
        .routes(routes!(portal::validators))
        .routes(routes!(handlers::tx_status))
        .routes(routes!(handlers::block))
        .routes(routes!(handlers::block_transactions))
        .routes(routes!(handlers::bill))
        .routes(routes!(handlers::bill_receipt))
        .routes(routes!(private::bill_body))
        .routes(routes!(private::patient_keys))
        .routes(routes!(private::members))
        .routes(routes!(handlers::claim_receipt))
        .routes(routes!(handlers::patient_bills))
        .routes(routes!(handlers::claim))
        .routes(routes!(handlers::payer_claims))
        .routes(routes!(handlers::payer_policy))
        .routes(routes!(events::events))
        .routes(routes!(handlers::metrics))
        .routes(routes!(handlers::healthz))
        .routes(routes!(handlers::openapi))
        .split_for_parts()
}

/// The OpenAPI 3.1 document the node serves at `/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().1
}

/// Starts the API server on the configured address.
pub async fn start<E>(
    context: E,
    config: NodeConfig,
    chain: Arc<Chain>,
    gossip: mpsc::Sender<Transaction>,
    validators: u32,
    blocks: BlockSource,
    genesis: Arc<medledger_types::Genesis>,
) -> anyhow::Result<()>
where
    E: commonware_runtime::Spawner + commonware_runtime::Metrics + commonware_runtime::Supervisor,
{
    let listener = guard::listen(config.api_address)
        .map_err(|e| anyhow::anyhow!("API address {}: {e}", config.api_address))?;
    let server = context.child("server");
    let limits = config.api.clone();
    let metrics_context = context;
    let (routes, document) = routes();
    let document = document.to_json().map_err(|e| anyhow::anyhow!("OpenAPI document: {e}"))?;
    let api = Api {
        openapi: Arc::new(document),
        chain,
        gossip,
        limiter: Arc::new(guard::RateLimiter::new(&limits)),
        streams: Arc::new(guard::FairShare::new(
            "event streams",
            "too_many_streams",
            limits.event_streams_max,
            limits.event_streams_per_address_max,
            limits.event_streams_per_prefix_max,
        )),
        config,
        validators,
        metrics: Arc::new(move || metrics_context.encode()),
        blocks,
        genesis,
        seen_requests: Arc::default(),
    };
    let router = routes
        .route("/", axum::routing::get(portal::index))
        .route("/portal/{file}", axum::routing::get(portal::file))
        .fallback(guard::unknown_route)
        .layer(axum::middleware::from_fn_with_state(api.clone(), guard::rate_limit))
        .layer(DefaultBodyLimit::max(BODY_BYTES_MAX))
        .layer(axum::middleware::from_fn(guard::json_errors))
        .layer(axum::middleware::from_fn_with_state(api.clone(), guard::request_timeout))
        .layer(axum::middleware::from_fn_with_state(api.clone(), guard::observe))
        .with_state(api);
    server.spawn(move |_| guard::serve(listener, router, limits));
    Ok(())
}

#[cfg(test)]
mod tests {
    use medledger_testkit::json_schema::Registry;

    #[test]
    fn the_document_lists_every_route_and_every_reference_resolves() {
        let document = serde_json::to_value(super::openapi()).unwrap();
        let paths: Vec<&String> = document["paths"].as_object().unwrap().keys().collect();
        assert_eq!(paths.len(), 24, "{paths:?}");
        let schemas = Registry::from_document(&document);
        assert_eq!(schemas.dangling_refs(&[&document["paths"]]), Vec::<String>::new());
    }
}
