//! Reads of private data: a bill's sealed body, served only to a caller who proves control of a
//! key entitled to it; and the public keys that bodies are wrapped to.
//!
//! A signed request carries the caller's public key, the time and a signature over
//! [`request_message`] (method, path with query, time, chain) in three headers. Entitled are:
//! the bill's patient (their registered wallet key), its issuing hospital (any of its keys), a
//! payer the patient disclosed the bill to in a claim, and a genesis-defined body reader (the
//! regulator) once its access to this bill is recorded on the ledger. The node answers with
//! ciphertext only; the caller opens it with its own secret, which the node never sees.

use super::{Api, Refused, error};
use axum::Json;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use medledger_crypto::Namespace;
use medledger_ledger::{SignerRef, StateReader as _};
use medledger_types::api::{
    ApiError, BillBody, PatientKeys, REQUEST_KEY_HEADER, REQUEST_SIGNATURE_HEADER,
    REQUEST_SKEW_MS_MAX, REQUEST_TIME_HEADER, request_message,
};
use medledger_types::{
    BillCode, BillId, BillNumber, Disclosure, Member, Payload, Pseudonym, PublicKey, SealedBody,
    Signature,
};
use std::time::{SystemTime, UNIX_EPOCH};

fn unauthenticated(code: &str, message: impl Into<String>) -> Refused {
    Refused::new(StatusCode::UNAUTHORIZED, code, message)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, Refused> {
    headers.get(name).and_then(|v| v.to_str().ok()).ok_or_else(|| {
        unauthenticated(
            "unauthenticated",
            format!(
                "this is private data: sign the request ({REQUEST_KEY_HEADER}, \
                 {REQUEST_TIME_HEADER}, {REQUEST_SIGNATURE_HEADER}); header {name} is missing"
            ),
        )
    })
}

/// The public key that signed this request, if the signature and time check out.
pub(crate) fn authenticate(
    api: &Api,
    headers: &HeaderMap,
    method: &str,
    path: &str,
) -> Result<PublicKey, Refused> {
    let key: PublicKey = PublicKey::from_hex(header(headers, REQUEST_KEY_HEADER)?)
        .map_err(|_| unauthenticated("bad_request_key", "the request key is not an ed25519 key"))?;
    let time: u64 = header(headers, REQUEST_TIME_HEADER)?.parse().map_err(|_| {
        unauthenticated("bad_request_time", "the request time must be milliseconds since 1970")
    })?;
    let signature = medledger_crypto::decode_hex(header(headers, REQUEST_SIGNATURE_HEADER)?)
        .ok()
        .and_then(|bytes| Signature::from_bytes(&bytes).ok())
        .ok_or_else(|| {
            unauthenticated("bad_request_signature", "the signature is not 64 bytes of hex")
        })?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    if now.abs_diff(time) > REQUEST_SKEW_MS_MAX {
        return Err(unauthenticated(
            "stale_request",
            format!(
                "the request time {time} is more than {} s from the node's clock ({now})",
                REQUEST_SKEW_MS_MAX / 1_000
            ),
        ));
    }
    let chain_id = api.chain.executed().state.chain_id().clone();
    let message = request_message(method, path, time, &chain_id);
    if !key.verify(Namespace::ApiRequest, &message, &signature) {
        return Err(unauthenticated(
            "bad_request_signature",
            "the signature does not verify over the method, path, time and chain",
        ));
    }
    // Each signed request is good once: its signature is remembered while its time is within
    // the window, so a third party who captured it cannot replay it.
    api.seen_requests.first_use(
        signature.as_bytes(),
        time.saturating_add(REQUEST_SKEW_MS_MAX),
        now,
    )?;
    Ok(key)
}

/// Signatures of signed requests seen within the clock window, each refused a second time.
#[derive(Debug, Default)]
pub(crate) struct SeenRequests {
    inner: std::sync::Mutex<SeenInner>,
}

#[derive(Debug, Default)]
struct SeenInner {
    signatures: std::collections::HashSet<Vec<u8>>,
    /// (forget after, in ms since 1970; signature), in arrival order.
    order: std::collections::VecDeque<(u64, Vec<u8>)>,
}

/// Signed requests remembered at most (about 100 bytes each): beyond it new signed reads are
/// refused with 503 until old ones leave the window.
const SEEN_REQUESTS_MAX: usize = 200_000;

impl SeenRequests {
    fn first_use(&self, signature: &[u8], forget_after: u64, now: u64) -> Result<(), Refused> {
        let mut seen = self.inner.lock().expect("seen requests lock poisoned");
        // Arrival order is close to time order; entries whose window ended leave from the front.
        while seen.order.front().is_some_and(|(until, _)| *until < now) {
            let (_, old) = seen.order.pop_front().expect("checked");
            seen.signatures.remove(&old);
        }
        if seen.signatures.contains(signature) {
            return Err(unauthenticated(
                "replayed_request",
                "this signed request was already answered: sign each request anew",
            ));
        }
        if seen.signatures.len() >= SEEN_REQUESTS_MAX {
            return Err(Refused::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "signed_requests_busy",
                "too many signed requests in the last 30 s; retry shortly",
            ));
        }
        seen.signatures.insert(signature.to_vec());
        seen.order.push_back((forget_after, signature.to_vec()));
        Ok(())
    }
}

/// Why a caller may read a bill's body, with the payer's disclosures.
enum Entitlement {
    Patient,
    Issuer,
    Payer(Vec<Disclosure>),
    BodyReader,
}

impl Entitlement {
    fn name(&self) -> &'static str {
        match self {
            Entitlement::Patient => "patient",
            Entitlement::Issuer => "issuer",
            Entitlement::Payer(_) => "payer",
            Entitlement::BodyReader => "body_reader",
        }
    }
}

#[utoipa::path(get, path = "/v1/bills/{code}/{number}/body", tag = "privacy", operation_id = "get_bill_body",
    summary = "A bill's sealed private body, for a caller entitled to it (signed request)",
    description = "Sign the request: `x-medledger-key` (your ed25519 public key, hex), `x-medledger-time` (ms since 1970, within 30 s of the node's clock; each signed request is answered once) and `x-medledger-signature` (hex ed25519 signature, namespace `medledger/api-request/v1`, over `GET\\n<path>\\n<time>\\n<chain id>`). Entitled: the bill's patient, its issuer, a payer the patient disclosed it to in a claim, and a genesis-defined body reader once its access is recorded with an `access_body` transaction. The answer is ciphertext; `medledger bill show --key` opens it.",
    params(("code" = BillCode, Path, description = "Bill code: 8 digits"), ("number" = BillNumber, Path, description = "Bill number: 10 digits")),
    responses((status = 200, description = "The sealed body", body = BillBody),
        (status = 401, description = "Unsigned, badly signed, stale or replayed request (`unauthenticated`, `bad_request_signature`, `stale_request`, `replayed_request`, …)", body = ApiError),
        (status = 403, description = "Not entitled (`not_entitled`), a frozen member (`signer_frozen`), or a body reader whose access is not yet recorded (`access_not_recorded`)", body = ApiError),
        (status = 404, description = "No such bill, or a red bill, which has no body", body = ApiError), super::handlers::ReadErrors))]
pub(crate) async fn bill_body(
    State(api): State<Api>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Path((code, number)): Path<(String, String)>,
) -> Result<Response, Refused> {
    let id: BillId =
        format!("{code}/{number}").parse().map_err(|e: medledger_types::ids::IdError| {
            Refused::new(StatusCode::BAD_REQUEST, "bad_bill_id", e.to_string())
        })?;
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str()).to_string();
    let caller = authenticate(&api, &headers, "GET", &path)?;
    let (bill, entitlement) = {
        let executed = api.chain.executed();
        let state = &executed.state;
        let bill = state.bill(&id).cloned().ok_or_else(|| {
            Refused::new(StatusCode::NOT_FOUND, "unknown_bill", format!("no bill {id}"))
        })?;
        let entitlement = entitlement(state, &bill, &caller)?;
        (bill, entitlement)
    };
    let Some(digest) = bill.sealed_body else {
        return Err(Refused::new(
            StatusCode::NOT_FOUND,
            "no_body",
            format!("bill {id} is a red bill: it has no private body"),
        ));
    };
    let sealed = find_body(&api, bill.issued_height, &id).await.filter(|b| b.digest() == digest);
    let Some(sealed_body) = sealed else {
        return Err(Refused::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "body_unavailable",
            format!("the block that issued bill {id} is not available on this node"),
        ));
    };
    let name = entitlement.name().to_string();
    let disclosures = match entitlement {
        Entitlement::Payer(disclosures) => disclosures,
        _ => Vec::new(),
    };
    Ok(Json(BillBody {
        bill: id,
        body_commitment: bill.issue.body_commitment,
        sealed_body,
        disclosures,
        entitlement: name,
    })
    .into_response())
}

fn not_entitled(id: &BillId) -> Refused {
    Refused::new(
        StatusCode::FORBIDDEN,
        "not_entitled",
        format!(
            "the signing key may not read the body of bill {id}: only its patient, its issuer, a \
             payer it was disclosed to and a recorded body reader may"
        ),
    )
}

fn entitlement(
    state: &medledger_ledger::MemoryState,
    bill: &medledger_types::Bill,
    caller: &PublicKey,
) -> Result<Entitlement, Refused> {
    let id = bill.id();
    // A frozen member reads nothing, whatever it was entitled to before.
    if let Some(SignerRef::Member(m)) = state.signer(caller)
        && state.member(m).is_some_and(|member| member.frozen)
    {
        return Err(Refused::new(
            StatusCode::FORBIDDEN,
            "signer_frozen",
            format!("member {m} is frozen: it may not read bill bodies"),
        ));
    }
    match state.signer(caller) {
        Some(SignerRef::Patient(p)) if *p == bill.issue.patient => Ok(Entitlement::Patient),
        Some(SignerRef::Member(m)) if *m == bill.issuer => Ok(Entitlement::Issuer),
        Some(SignerRef::Member(m)) => {
            let member: &Member = state.member(m).ok_or_else(|| not_entitled(&id))?;
            if member.body_reader {
                return if bill.accessed_by.contains(m) {
                    Ok(Entitlement::BodyReader)
                } else {
                    Err(Refused::new(
                        StatusCode::FORBIDDEN,
                        "access_not_recorded",
                        format!(
                            "record this access on the ledger first: submit an access_body \
                             transaction for bill {id} (medledger bill show does this)"
                        ),
                    ))
                };
            }
            let disclosures: Vec<Disclosure> = bill
                .claims
                .iter()
                .filter_map(|c| state.claim(c))
                .filter(|c| c.submission.payer == *m)
                .flat_map(|c| c.submission.disclosures.iter().filter(|d| d.bill == id).cloned())
                .collect();
            if disclosures.is_empty() {
                Err(not_entitled(&id))
            } else {
                Ok(Entitlement::Payer(disclosures))
            }
        }
        _ => Err(not_entitled(&id)),
    }
}

/// The sealed body of `bill` in the block at `height` that issued it.
async fn find_body(api: &Api, height: u64, bill: &BillId) -> Option<SealedBody> {
    let block = (api.blocks)(height).await?;
    block.txs.iter().find_map(|tx| match &tx.body().payload {
        Payload::IssueBills { bills, bodies } => {
            bills.iter().position(|b| b.id == *bill).and_then(|i| bodies.get(i).cloned())
        }
        _ => None,
    })
}

#[utoipa::path(get, path = "/v1/patients/{pseudonym}", tag = "privacy", operation_id = "get_patient_keys",
    summary = "The keys registered for a pseudonym: hospitals wrap bill bodies to its encryption key",
    params(("pseudonym" = Pseudonym, Path, description = "Patient pseudonym: 32 hex digits")),
    responses((status = 200, description = "The keys", body = PatientKeys), (status = 404, description = "No patient registered under this pseudonym", body = ApiError), super::handlers::ReadErrors))]
pub(crate) async fn patient_keys(
    State(api): State<Api>,
    Path(pseudonym): Path<String>,
) -> Result<Response, Refused> {
    let pseudonym: Pseudonym = pseudonym.parse().map_err(|e: medledger_types::ids::IdError| {
        Refused::new(StatusCode::BAD_REQUEST, "bad_pseudonym", e.to_string())
    })?;
    let executed = api.chain.executed();
    let state = &executed.state;
    let keys = state
        .patient_key(&pseudonym)
        .cloned()
        .zip(state.patient_encryption_key(&pseudonym).copied());
    Ok(match keys {
        Some((public_key, encryption_key)) => {
            Json(PatientKeys { pseudonym, public_key, encryption_key }).into_response()
        }
        None => error(
            StatusCode::NOT_FOUND,
            "unknown_patient",
            format!("no patient is registered as {pseudonym}"),
        ),
    })
}

#[utoipa::path(get, path = "/v1/members", tag = "chain", operation_id = "list_members",
    summary = "The consortium's members: roles, signing keys, encryption keys, and which members every bill body is wrapped to",
    responses((status = 200, description = "Every member, by id", body = Vec<Member>), (status = 429, description = "Over this client's request rate", body = ApiError)))]
pub(crate) async fn members(State(api): State<Api>) -> Json<Vec<Member>> {
    let executed = api.chain.executed();
    let mut members: Vec<Member> = executed.state.members().cloned().collect();
    members.sort_by(|a, b| a.id.cmp(&b.id));
    Json(members)
}
