//! Rust SDK for medledger nodes: typed requests and responses (shared with the server through
//! `medledger_types::api`), transaction building and signing, submission and submit-and-wait,
//! paginated lists, and an event stream that resumes by itself.
//!
//! ```no_run
//! # fn main() -> Result<(), medledger_client::ClientError> {
//! let node = medledger_client::Client::new("http://127.0.0.1:8700")?;
//! println!("height {}", node.status()?.height);
//! # Ok(()) }
//! ```
//!
//! The transport is a deliberately small HTTP/1.1 client over `std::net` (keep-alive
//! connections reused across requests and clones, bounded response size, timeouts), enough for loopback and internal networks
//! without pulling an HTTP stack into every wallet and payer system that embeds the SDK.

mod events;
mod http;

pub use events::EventStream;

pub use medledger_privacy::{EncryptionSecret, IssuerKeystore, PrivateBody};

use medledger_types::api::{
    ApiError, BatchStatus, BillBody, BlockSummary, BlockTransactions, Committed, EventFilter,
    ListQuery, Page, PatientKeys, REQUEST_KEY_HEADER, REQUEST_SIGNATURE_HEADER,
    REQUEST_TIME_HEADER, ReceiptView, Status, TxStatus, request_message,
};
use medledger_types::limits::{ISSUE_BATCH_BILLS_MAX, TX_BYTES_MAX};
use medledger_types::{
    Bill, BillId, BillIssue, ChainId, Claim, ClaimId, ClaimSubmission, Disclosure, Encode as _,
    EncryptionKey, Member, MemberId, Payload, Policy, Pseudonym, SigningKey, Transaction, TxBody,
    TxId,
};
use serde::de::DeserializeOwned;
use std::net::{SocketAddr, ToSocketAddrs as _};
use std::time::Duration;

/// What can go wrong talking to a node.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL is not `http://host:port`.
    #[error("not a node URL (expected http://host:port): {0}")]
    Url(String),
    /// The node could not be reached or the connection failed.
    #[error("cannot reach {addr}: {source}")]
    Io {
        /// The node.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The node answered with an error.
    #[error("{status} {}: {}", error.code, error.message)]
    Api {
        /// HTTP status.
        status: u16,
        /// The node's error.
        error: ApiError,
    },
    /// The node's answer could not be understood.
    #[error("unexpected answer from the node: {0}")]
    Decode(String),
    /// A body could not be sealed, or the issuer's key store failed.
    #[error("cannot seal the body of bill {bill}: {reason}")]
    Seal {
        /// The bill.
        bill: BillId,
        /// Why.
        reason: String,
    },
    /// A private body could not be opened with the given key.
    #[error("cannot open the body of bill {bill}: {source}")]
    Open {
        /// The bill.
        bill: BillId,
        /// Why.
        source: medledger_privacy::OpenError,
    },
}

/// How many blocks after the node's current height a transaction built by [`Client::sign`]
/// expires: well under the ledger's 2,000-block limit, so a node some blocks ahead still takes
/// it, and minutes at the chain's pace, so a busy network has time to include it.
pub const TX_EXPIRY_BLOCKS: u64 = 1_000;

/// A connection to one node's API.
#[derive(Clone, Debug)]
pub struct Client {
    addr: SocketAddr,
    timeout: Duration,
    /// Idle keep-alive connections, shared by this client's clones.
    pool: std::sync::Arc<http::Pool>,
}

impl Client {
    /// A client for `url`, e.g. `http://127.0.0.1:8700`.
    pub fn new(url: &str) -> Result<Self, ClientError> {
        let rest = url.strip_prefix("http://").ok_or_else(|| ClientError::Url(url.to_string()))?;
        let host = rest.trim_end_matches('/');
        let addr = host
            .to_socket_addrs()
            .ok()
            .and_then(|mut addrs| addrs.next())
            .ok_or_else(|| ClientError::Url(url.to_string()))?;
        Ok(Self { addr, timeout: Duration::from_secs(30), pool: Default::default() })
    }

    /// The node's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn request<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<(u16, T), ClientError> {
        self.request_with(method, path, "", content_type, body)
    }

    fn request_with<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        extra_headers: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<(u16, T), ClientError> {
        let (status, bytes) = http::request(
            &self.pool,
            self.addr,
            method,
            path,
            extra_headers,
            content_type,
            body,
            self.timeout,
        )
        .map_err(|source| ClientError::Io { addr: self.addr, source })?;
        if status >= 400 {
            let error = serde_json::from_slice::<ApiError>(&bytes).unwrap_or_else(|_| ApiError {
                code: format!("http_{status}"),
                message: String::from_utf8_lossy(&bytes).chars().take(200).collect(),
            });
            return Err(ClientError::Api { status, error });
        }
        let value =
            serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode(e.to_string()))?;
        Ok((status, value))
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.request("GET", path, "application/json", b"").map(|(_, v)| v)
    }

    /// Any `GET` endpoint as raw JSON, for tools that print what the node says.
    pub fn get_value(&self, path: &str) -> Result<serde_json::Value, ClientError> {
        self.get(path)
    }

    /// `GET /metrics`: Prometheus text.
    pub fn metrics(&self) -> Result<String, ClientError> {
        let (status, bytes) = http::request(
            &self.pool,
            self.addr,
            "GET",
            "/metrics",
            "",
            "text/plain",
            b"",
            self.timeout,
        )
        .map_err(|source| ClientError::Io { addr: self.addr, source })?;
        if status != 200 {
            return Err(ClientError::Decode(format!("/metrics answered {status}")));
        }
        String::from_utf8(bytes).map_err(|e| ClientError::Decode(e.to_string()))
    }

    /// `GET /v1/status`.
    pub fn status(&self) -> Result<Status, ClientError> {
        self.get("/v1/status")
    }

    /// Waits up to `timeout` until the node has executed block `height`, and answers its
    /// height. This is read-your-writes across nodes: after a transaction committed at height
    /// `h` through one node, `wait_for_height(h, ..)` on another makes its reads include it.
    pub fn wait_for_height(&self, height: u64, timeout: Duration) -> Result<u64, ClientError> {
        let start = std::time::Instant::now();
        loop {
            let now = self.status()?.height;
            if now >= height {
                return Ok(now);
            }
            if start.elapsed() >= timeout {
                return Err(ClientError::Decode(format!(
                    "the node is at height {now}, not {height}, after {timeout:?}"
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `GET /v1/blocks/{height}/transactions`: a block's transactions and their receipts.
    pub fn block_transactions(&self, height: u64) -> Result<BlockTransactions, ClientError> {
        self.get(&format!("/v1/blocks/{height}/transactions"))
    }

    /// Builds and signs a transaction for the node's chain: it expires
    /// [`TX_EXPIRY_BLOCKS`] after the node's current height and carries a random nonce, so
    /// signing the same payload twice gives two distinct transactions.
    pub fn sign(&self, key: &SigningKey, payload: Payload) -> Result<Transaction, ClientError> {
        let status = self.status()?;
        let chain_id = ChainId::new(status.chain_id)
            .map_err(|e| ClientError::Decode(format!("the node's chain id: {e}")))?;
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce)
            .map_err(|e| ClientError::Decode(format!("no randomness for a nonce: {e}")))?;
        let body = TxBody {
            chain_id,
            signer: key.public_key(),
            nonce: u64::from_le_bytes(nonce),
            expires_at_height: status.height.saturating_add(TX_EXPIRY_BLOCKS),
            payload,
        };
        Ok(Transaction::sign(body, key))
    }

    /// Signs `payload` with `key` ([`Client::sign`]), submits it and waits for its receipt.
    pub fn transact(&self, key: &SigningKey, payload: Payload) -> Result<Committed, ClientError> {
        self.submit_and_wait(&self.sign(key, payload)?)
    }

    /// Submits a signed transaction; answers once it is in the node's mempool (`pending`), or
    /// with its receipt if it was already committed.
    pub fn submit(&self, tx: &Transaction) -> Result<TxStatus, ClientError> {
        self.request("POST", "/v1/txs", "application/octet-stream", &tx.encode()).map(|(_, v)| v)
    }

    /// Submits up to 1,000 signed transactions in one request (`POST /v1/txs/batch`). Each is
    /// checked as by [`Client::submit`]; the answer says, in order, which are pending, which
    /// were already committed and which were refused and why.
    pub fn submit_batch(&self, txs: &[Transaction]) -> Result<BatchStatus, ClientError> {
        use commonware_codec::{EncodeSize as _, Write as _};
        let mut encoded = Vec::with_capacity(
            txs.len().encode_size() + txs.iter().map(|t| t.encode_size()).sum::<usize>(),
        );
        txs.len().write(&mut encoded);
        for tx in txs {
            tx.write(&mut encoded);
        }
        self.request("POST", "/v1/txs/batch", "application/octet-stream", &encoded).map(|(_, v)| v)
    }

    /// Submits an already encoded transaction (canonical binary), as produced by another
    /// system or a hardware signer.
    pub fn submit_bytes(&self, encoded: &[u8]) -> Result<TxStatus, ClientError> {
        self.request("POST", "/v1/txs", "application/octet-stream", encoded).map(|(_, v)| v)
    }

    /// Submits a transaction in its JSON form.
    pub fn submit_json(&self, json: &str) -> Result<TxStatus, ClientError> {
        self.request("POST", "/v1/txs", "application/json", json.as_bytes()).map(|(_, v)| v)
    }

    /// Submits a signed transaction and waits (up to the node's limit, 10 s) for its receipt.
    pub fn submit_and_wait(&self, tx: &Transaction) -> Result<Committed, ClientError> {
        let (status, answer): (u16, serde_json::Value) =
            self.request("POST", "/v1/txs?wait=commit", "application/octet-stream", &tx.encode())?;
        if status == 200
            && let Ok(done) = serde_json::from_value::<TxStatus>(answer.clone())
            && let Some(committed) = done.committed
        {
            return Ok(committed);
        }
        // Still pending after the node's wait: keep polling.
        self.wait(tx.id(), Duration::from_secs(60))
    }

    /// Waits up to `timeout` for `id` to be committed.
    pub fn wait(&self, id: TxId, timeout: Duration) -> Result<Committed, ClientError> {
        let start = std::time::Instant::now();
        loop {
            match self.tx(id) {
                Ok(TxStatus { committed: Some(committed), .. }) => return Ok(committed),
                Ok(_) | Err(ClientError::Api { status: 404, .. }) if start.elapsed() < timeout => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(_) => {
                    return Err(ClientError::Decode(format!(
                        "transaction {id} not committed after {timeout:?}"
                    )));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// `GET /v1/txs/{id}`.
    pub fn tx(&self, id: TxId) -> Result<TxStatus, ClientError> {
        self.get(&format!("/v1/txs/{id}"))
    }

    /// `GET /v1/blocks/{height}`.
    pub fn block(&self, height: u64) -> Result<BlockSummary, ClientError> {
        self.get(&format!("/v1/blocks/{height}"))
    }

    /// `GET /v1/bills/{code}/{number}`.
    pub fn bill(&self, id: BillId) -> Result<Bill, ClientError> {
        self.get(&format!("/v1/bills/{}/{}", id.code, id.number))
    }

    /// The newest page (100) of `GET /v1/patients/{pseudonym}/bills`, newest first.
    pub fn patient_bills(&self, patient: Pseudonym) -> Result<Vec<Bill>, ClientError> {
        Ok(self.patient_bills_page(patient, &ListQuery::default())?.items)
    }

    /// One page of a patient's bills, newest first; pass `next_cursor` back for the next.
    pub fn patient_bills_page(
        &self,
        patient: Pseudonym,
        query: &ListQuery,
    ) -> Result<Page<Bill>, ClientError> {
        self.get(&format!("/v1/patients/{patient}/bills{}", query_string(query)))
    }

    /// One page of the claims filed with a payer, newest first, optionally by status.
    pub fn payer_claims(
        &self,
        payer: &MemberId,
        query: &ListQuery,
    ) -> Result<Page<Claim>, ClientError> {
        self.get(&format!("/v1/payers/{payer}/claims{}", query_string(query)))
    }

    /// Follows `GET /v1/events` with `filter`, resuming by itself after dropped connections.
    /// Without `from_height` it starts after the node's current block.
    pub fn events(&self, filter: EventFilter) -> EventStream {
        EventStream::new(self.clone(), filter)
    }

    /// `GET /v1/bills/{code}/{number}/proof`: a receipt for the bill that anyone can verify
    /// offline (`medledger_receipt::verify`).
    pub fn bill_receipt(&self, id: BillId) -> Result<ReceiptView, ClientError> {
        self.get(&format!("/v1/bills/{}/{}/proof", id.code, id.number))
    }

    /// `GET /v1/claims/{id}/proof`: a receipt for the claim.
    pub fn claim_receipt(&self, id: ClaimId) -> Result<ReceiptView, ClientError> {
        self.get(&format!("/v1/claims/{id}/proof"))
    }

    /// `GET /v1/claims/{id}`.
    pub fn claim(&self, id: ClaimId) -> Result<Claim, ClientError> {
        self.get(&format!("/v1/claims/{id}"))
    }

    /// `GET /v1/payers/{member}/policy`: the payer's policy in force, or `None` when it has
    /// registered none (its claims then wait for its decision).
    pub fn policy(&self, payer: &MemberId) -> Result<Option<Policy>, ClientError> {
        match self.get(&format!("/v1/payers/{payer}/policy")) {
            Ok(policy) => Ok(Some(policy)),
            Err(ClientError::Api { status: 404, error }) if error.code == "no_policy" => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// `GET /v1/members`: every member, with its encryption key and whether every bill body is
    /// wrapped to it.
    pub fn members(&self) -> Result<Vec<Member>, ClientError> {
        self.get("/v1/members")
    }

    /// `GET /v1/patients/{pseudonym}`: the keys registered for a patient.
    pub fn patient_keys(&self, patient: Pseudonym) -> Result<PatientKeys, ClientError> {
        self.get(&format!("/v1/patients/{patient}"))
    }

    /// The keys a new bill body for `patient` must be wrapped to: the patient's (when
    /// registered) and each genesis-defined body reader's, from `members` ([`Client::members`]).
    pub fn required_readers(
        &self,
        members: &[Member],
        patient: Pseudonym,
    ) -> Result<Vec<EncryptionKey>, ClientError> {
        let mut readers: Vec<EncryptionKey> =
            members.iter().filter(|m| m.body_reader).filter_map(|m| m.encryption_key).collect();
        match self.patient_keys(patient) {
            Ok(keys) => readers.push(keys.encryption_key),
            Err(ClientError::Api { status: 404, .. }) => {}
            Err(e) => return Err(e),
        }
        Ok(readers)
    }

    /// `GET /v1/blocks/{height}/transactions` signed with a validator's consensus key: the
    /// block's whole transactions (unsigned, sealed bodies and access references are redacted).
    pub fn block_transactions_whole(
        &self,
        height: u64,
        validator_key: &SigningKey,
    ) -> Result<BlockTransactions, ClientError> {
        self.signed_get(&format!("/v1/blocks/{height}/transactions"), validator_key)
    }

    /// A `GET` signed with `key` (see `request_message`): each signature is good once.
    fn signed_get<T: DeserializeOwned>(
        &self,
        path: &str,
        key: &SigningKey,
    ) -> Result<T, ClientError> {
        let chain_id = self.chain_id()?;
        let time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let message = request_message("GET", path, time, &chain_id);
        let signature = key.sign(medledger_crypto::Namespace::ApiRequest, &message);
        let headers = format!(
            "{REQUEST_KEY_HEADER}: {}\r\n{REQUEST_TIME_HEADER}: {time}\r\n{REQUEST_SIGNATURE_HEADER}: {}\r\n",
            key.public_key().to_hex(),
            medledger_crypto::encode_hex(signature.as_bytes()),
        );
        self.request_with("GET", path, &headers, "application/json", b"").map(|(_, v)| v)
    }

    /// `GET /v1/bills/{code}/{number}/body`, signed with `key`: the bill's sealed body, if the
    /// key is entitled to it (its patient, issuer, a payer it was disclosed to, or a body reader
    /// whose access is recorded).
    pub fn bill_body(&self, id: BillId, key: &SigningKey) -> Result<BillBody, ClientError> {
        self.signed_get(&format!("/v1/bills/{}/{}/body", id.code, id.number), key)
    }

    /// Fetches a bill's sealed body with a request signed by `key` and opens it with `secret`:
    /// the wrap addressed to `secret`, or a disclosure to it. The opened body is checked against
    /// the bill's commitment.
    pub fn open_bill_body(
        &self,
        id: BillId,
        key: &SigningKey,
        secret: &EncryptionSecret,
    ) -> Result<(BillBody, PrivateBody), ClientError> {
        let body = self.bill_body(id, key)?;
        let chain_id = self.chain_id()?;
        let wrap = body
            .sealed_body
            .wrap_for(&secret.public())
            .or_else(|| {
                body.disclosures.iter().map(|d| &d.wrap).find(|w| w.recipient == secret.public())
            })
            .cloned()
            .ok_or(ClientError::Open {
                bill: id,
                source: medledger_privacy::OpenError::NoWrapForKey,
            })?;
        let opened = medledger_privacy::open(
            &chain_id,
            &id,
            &body.sealed_body,
            &body.body_commitment,
            &wrap,
            secret,
        )
        .map_err(|source| ClientError::Open { bill: id, source })?;
        Ok((body, opened))
    }

    /// Issuances of `bills`: each private body sealed to the readers the ledger requires
    /// ([`Client::required_readers`]) and, with `issuer_copy`, to the hospital's own key for the
    /// patient; each header's commitment set to its body; cut into batches that fit a
    /// transaction (at most `batch_max` bills, capped at the ledger's 1,000, and 7/8 of the size
    /// limit). Sign each with the hospital's key. Nothing of the bodies leaves this process
    /// unencrypted.
    pub fn seal_bills(
        &self,
        bills: Vec<(BillIssue, PrivateBody)>,
        issuer_copy: Option<&IssuerKeystore>,
        batch_max: usize,
    ) -> Result<Vec<Payload>, ClientError> {
        let batch_max = batch_max.clamp(1, ISSUE_BATCH_BILLS_MAX);
        let chain_id = self.chain_id()?;
        let members = self.members()?;
        let mut readers: std::collections::HashMap<Pseudonym, Vec<EncryptionKey>> =
            std::collections::HashMap::new();
        let (mut batches, mut issues, mut bodies, mut bytes) =
            (Vec::new(), Vec::new(), Vec::new(), 0usize);
        for (mut issue, body) in bills {
            let seal_error = |reason: String| ClientError::Seal { bill: issue.id, reason };
            let patient_readers = match readers.entry(issue.patient) {
                std::collections::hash_map::Entry::Occupied(known) => known.into_mut(),
                std::collections::hash_map::Entry::Vacant(slot) => {
                    let mut keys = self.required_readers(&members, issue.patient)?;
                    if let Some(store) = issuer_copy {
                        let copy =
                            store.key_for(&issue.patient).map_err(|e| seal_error(e.to_string()))?;
                        keys.push(copy.public());
                    }
                    slot.insert(keys)
                }
            };
            let sealed = medledger_privacy::seal(&chain_id, &issue.id, &body, patient_readers)
                .map_err(|e| seal_error(e.to_string()))?;
            issue.body_commitment = sealed.commitment;
            let size = issue.encode().len() + sealed.body.encode().len();
            if !issues.is_empty()
                && (issues.len() == batch_max || bytes + size > TX_BYTES_MAX * 7 / 8)
            {
                let (bills, bodies) = (std::mem::take(&mut issues), std::mem::take(&mut bodies));
                batches.push(Payload::IssueBills { bills, bodies });
                bytes = 0;
            }
            bytes += size;
            issues.push(issue);
            bodies.push(sealed.body);
        }
        if !issues.is_empty() {
            batches.push(Payload::IssueBills { bills: issues, bodies });
        }
        Ok(batches)
    }

    /// The patient's consent for `claim`'s payer to read each claimed bill's body: the data
    /// key, unwrapped with the patient's key, wrapped again to the payer's encryption key. Empty
    /// when the payer has no encryption key. Set it as the claim's `disclosures` before the
    /// claim (and any consent over it) is signed.
    pub fn disclosures(
        &self,
        patient: &SigningKey,
        claim: &ClaimSubmission,
    ) -> Result<Vec<Disclosure>, ClientError> {
        let members = self.members()?;
        let payer = members.iter().find(|m| m.id == claim.payer);
        let Some(payer_key) = payer.and_then(|m| m.encryption_key) else {
            return Ok(Vec::new());
        };
        let chain_id = self.chain_id()?;
        let secret = EncryptionSecret::from_signing_key(patient);
        claim
            .items
            .iter()
            .map(|item| {
                let fetched = self.bill_body(item.bill, patient)?;
                medledger_privacy::disclose(
                    &chain_id,
                    &item.bill,
                    &fetched.sealed_body,
                    &secret,
                    &payer_key,
                )
                .map_err(|source| ClientError::Open { bill: item.bill, source })
            })
            .collect()
    }

    /// The node's chain id.
    pub fn chain_id(&self) -> Result<ChainId, ClientError> {
        ChainId::new(self.status()?.chain_id)
            .map_err(|e| ClientError::Decode(format!("the node's chain id: {e}")))
    }
}

/// `?a=1&b=x` from a query struct's JSON form (absent fields left out), percent-encoded.
pub(crate) fn query_string(query: &impl serde::Serialize) -> String {
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(query) else {
        return String::new();
    };
    let pairs: Vec<String> = fields
        .iter()
        .filter_map(|(key, value)| {
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => return None,
                other => other.to_string(),
            };
            Some(format!("{key}={}", percent_encode(&text)))
        })
        .collect();
    if pairs.is_empty() { String::new() } else { format!("?{}", pairs.join("&")) }
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b',' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_leave_out_absent_fields_and_escape_values() {
        let query = ListQuery { limit: Some(5), cursor: None, status: Some("a b/c".into()) };
        assert_eq!(query_string(&query), "?limit=5&status=a%20b%2Fc");
        assert_eq!(query_string(&ListQuery::default()), "");
    }
}
