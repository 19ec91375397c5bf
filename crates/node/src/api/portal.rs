//! The web portal every node serves at `/`, and the three endpoints it needs beyond the rest of
//! the API: encoding an unsigned transaction body (the browser signs it itself), checking a
//! receipt against this network's genesis, and a hospital's bill-number ranges.
//!
//! The portal is plain files compiled into the binary (`crates/node/portal/`): no build step,
//! nothing fetched from the internet. Keys never leave the browser: it signs transactions and
//! seals, opens and discloses bill bodies with WebCrypto and its own ChaCha20-Poly1305
//! (`crypto.js`). A node serving the portal is trusted with what it serves, exactly as a wallet
//! app's publisher is; a user who is not runs the CLI instead.

use super::{Api, Refused, error};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use commonware_codec::Encode as _;
use medledger_crypto::Namespace;
use medledger_receipt::{Presented, Record};
use medledger_types::api::{
    ApiError, EncodedTx, RangeView, ReceiptCheck, ValidatorView, ValidatorsView,
};
use medledger_types::{BillNumber, MemberId, Transaction, TxBody};

/// The portal's files: path under `/portal/`, content type, content.
const FILES: &[(&str, &str, &str)] = &[
    ("app.js", "text/javascript; charset=utf-8", include_str!("../../portal/app.js")),
    ("crypto.js", "text/javascript; charset=utf-8", include_str!("../../portal/crypto.js")),
    ("style.css", "text/css; charset=utf-8", include_str!("../../portal/style.css")),
];

/// `GET /`: the portal's single page.
pub(crate) async fn index() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            // Scripts and styles only from this node's files: no inline script or style
            // attribute (the portal's look is all in style.css), no third-party origin.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
            ),
        ],
        include_str!("../../portal/index.html"),
    )
        .into_response()
}

/// `GET /portal/{file}`: the portal's scripts and style sheet.
pub(crate) async fn file(Path(name): Path<String>) -> Response {
    match FILES.iter().find(|(path, _, _)| *path == name) {
        Some((_, content_type, content)) => {
            ([(header::CONTENT_TYPE, *content_type), (header::CACHE_CONTROL, "no-cache")], *content)
                .into_response()
        }
        None => error(StatusCode::NOT_FOUND, "unknown_route", format!("no portal file {name}")),
    }
}

#[utoipa::path(post, path = "/v1/txs/encode", tag = "transactions", operation_id = "encode_transaction",
    summary = "Encode an unsigned transaction body into the bytes its signer signs",
    description = "For wallets without a codec of their own (the web portal). The node checks the body's form and limits, and answers its canonical bytes and the id the signed transaction will have. Sign `body` under the `medledger/tx/v1` namespace and submit `body ‖ signature` to `POST /v1/txs` as `application/octet-stream`. Nothing is stored or admitted.",
    request_body(content = TxBody, content_type = "application/json", description = "The unsigned transaction body"),
    responses((status = 200, description = "The body's canonical bytes", body = EncodedTx),
        (status = 400, description = "Not a transaction body, or over a limit", body = ApiError),
        (status = 429, description = "Over this client's request rate", body = ApiError)))]
pub(crate) async fn encode_tx(body: Bytes) -> Result<Json<EncodedTx>, Refused> {
    let tx_body: TxBody = serde_json::from_slice(&body)
        .map_err(|e| Refused::new(StatusCode::BAD_REQUEST, "malformed_json", e.to_string()))?;
    let bytes = tx_body.encode();
    // The same bounded decoder a submission goes through, with a placeholder signature: a body
    // that could never be admitted is refused here, not after the user has signed it.
    let mut envelope = bytes.to_vec();
    envelope.extend_from_slice(&[0; medledger_crypto::SIGNATURE_LEN]);
    let tx = Transaction::decode_untrusted(&envelope).map_err(|e| {
        Refused::new(StatusCode::BAD_REQUEST, "malformed_transaction", e.to_string())
    })?;
    Ok(Json(EncodedTx {
        tx_id: tx.id(),
        body: medledger_crypto::encode_hex(&bytes),
        namespace: String::from_utf8_lossy(Namespace::Transaction.as_bytes()).into_owned(),
    }))
}

#[utoipa::path(post, path = "/v1/receipts/verify", tag = "chain", operation_id = "verify_receipt",
    summary = "Check a bill or claim receipt against this network's genesis, and say why not",
    description = "The receipt as its bytes, hex, QR text (`ML1*…`) or the JSON of `…/proof`. The node runs the same checks as `medledger verify`: record → state root → finalized header → a quorum of the genesis validators. A `…/proof` answer's unsigned fields (`bill`, `claim`, `as_of_height`, `block_height`, `block_time_ms`, `size_bytes`, `qr`) are compared with the signed receipt, and an altered one makes the answer invalid. A receipt that does not verify is answered 200 with `valid: false` and the link that broke; a body that is no receipt at all (empty, or in none of these forms) is refused with 400 `not_a_receipt`. Verification never needs this node's state, so anyone can also run it offline (docs/formats/receipt.md).",
    request_body(content = String, content_type = "text/plain", description = "The receipt"),
    responses((status = 200, description = "Whether it verifies, and what it shows", body = ReceiptCheck),
        (status = 400, description = "Not a receipt: an empty body, or one in none of the forms above", body = ApiError),
        (status = 429, description = "Over this client's request rate", body = ApiError)))]
pub(crate) async fn verify_receipt(
    State(api): State<Api>,
    body: Bytes,
) -> Result<Json<ReceiptCheck>, Refused> {
    let presented = Presented::parse(&body)
        .map_err(|e| Refused::new(StatusCode::BAD_REQUEST, "not_a_receipt", e.to_string()))?;
    let receipt = &presented.receipt;
    let subject = Some(match &receipt.record {
        Record::Bill(bill) => format!("bill {}", bill.id()),
        Record::Claim(claim) => format!("claim {}", claim.submission.claim_id),
    });
    let chain_id = Some(receipt.chain_id.to_string());
    let check = ReceiptCheck {
        valid: false,
        reason: None,
        subject,
        chain_id,
        as_of_height: None,
        block_height: None,
        block_time_ms: None,
        signers: None,
        bill: None,
        claim: None,
    };
    // Only what verified is shown: the record from the signed receipt, never the copies a
    // JSON answer carried beside it.
    Ok(Json(match presented.verify(&api.genesis) {
        Ok(verified) => {
            let (bill, claim) = match verified.record {
                Record::Bill(bill) => (Some(bill), None),
                Record::Claim(claim) => (None, Some(claim)),
            };
            ReceiptCheck {
                valid: true,
                as_of_height: Some(verified.as_of_height),
                block_height: Some(verified.block_height),
                block_time_ms: Some(verified.block_time_ms),
                signers: Some(format!("{} of {}", verified.signers, verified.validators)),
                bill,
                claim,
                ..check
            }
        }
        Err(e) => ReceiptCheck { reason: Some(e.to_string()), ..check },
    }))
}

#[utoipa::path(get, path = "/v1/hospitals/{member}/ranges", tag = "bills", operation_id = "list_hospital_ranges",
    summary = "The bill-number ranges allocated to a hospital, how much of each is used, and where its next batch can start",
    params(("member" = MemberId, Path, description = "The hospital's member id")),
    responses((status = 200, description = "Its ranges, by code and first number", body = Vec<RangeView>),
        (status = 400, description = "Not a member id", body = ApiError),
        (status = 404, description = "No such member", body = ApiError),
        (status = 429, description = "Over this client's request rate", body = ApiError)))]
pub(crate) async fn hospital_ranges(
    State(api): State<Api>,
    Path(member): Path<String>,
) -> Result<Json<Vec<RangeView>>, Refused> {
    use medledger_ledger::StateReader as _;
    let hospital: MemberId = member
        .parse()
        .map_err(|e| Refused::new(StatusCode::BAD_REQUEST, "bad_member_id", format!("{e}")))?;
    let executed = api.chain.executed();
    if executed.state.member(&hospital).is_none() {
        return Err(Refused::new(
            StatusCode::NOT_FOUND,
            "unknown_member",
            format!("no member {hospital}"),
        ));
    }
    let views = executed
        .state
        .ranges_of(&hospital)
        .into_iter()
        .map(|range| {
            let usage = executed.range_use.get(&(range.code, range.first)).copied();
            let used = usage.map_or(0, |u| u.used);
            let size = range.last.get() - range.first.get() + 1;
            let next_number = match usage.and_then(|u| u.highest) {
                None => Some(range.first),
                Some(highest) if highest < range.last => BillNumber::new(highest.get() + 1).ok(),
                Some(_) => None,
            };
            RangeView {
                code: range.code,
                first: range.first,
                last: range.last,
                used,
                remaining: size.saturating_sub(used),
                next_number,
            }
        })
        .collect();
    Ok(Json(views))
}

#[utoipa::path(get, path = "/v1/validators", tag = "chain", operation_id = "list_validators",
    summary = "The genesis validators, and which of them signed the newest finalization this node holds",
    description = "A finalization needs a quorum (2f + 1) of signatures, not all of them: a validator whose vote arrived after the quorum formed is left out of that one certificate, which is normal. One absent from the finalizations of many consecutive blocks is crashed, partitioned, lagging or withholding its vote; the chain stays final while a quorum signs. The portal's explorer polls this route and marks a validator missing only after many blocks without its signature.",
    responses((status = 200, description = "Every validator", body = ValidatorsView),
        (status = 429, description = "Over this client's request rate", body = ApiError)))]
pub(crate) async fn validators(State(api): State<Api>) -> Json<ValidatorsView> {
    let keys: Vec<_> = api.genesis.validators.iter().map(|v| v.public_key.clone()).collect();
    let n = u32::try_from(keys.len()).unwrap_or(u32::MAX);
    let quorum = n - (n.saturating_sub(1)) / 3;
    let anchor = api.chain.executed().anchor.clone();
    let finalized = anchor.as_ref().and_then(|anchor| {
        medledger_receipt::verify_finalization(
            &anchor.finalization,
            &api.genesis.chain_id,
            &keys,
            &anchor.header.digest(),
        )
        .ok()
    });
    Json(ValidatorsView {
        finalized_height: anchor.as_ref().map(|a| a.header.height),
        finalized_time_ms: anchor.as_ref().map(|a| a.header.timestamp_ms),
        signers: finalized.as_ref().map(|f| f.signers),
        quorum,
        validators: api
            .genesis
            .validators
            .iter()
            .enumerate()
            .map(|(index, v)| ValidatorView {
                index: u32::try_from(index).unwrap_or(u32::MAX),
                member: v.member.clone(),
                public_key: v.public_key.clone(),
                api_address: v.api_address.clone(),
                this_node: index == api.config.validator_index,
                signed_latest: finalized.as_ref().map(|f| f.signed_by.contains(&v.public_key)),
            })
            .collect(),
    })
}
