//! The HTTP API's response bodies, shared by the node (which sends them) and the SDK (which
//! reads them), so the two cannot drift apart.

use crate::ids::{BillId, ChainId, ClaimId, MemberId, Pseudonym, Text, TxId};
use crate::money::Fen;
use crate::receipt::Receipt;
use medledger_crypto::Digest;
use serde::{Deserialize, Serialize};

/// Every API error: a stable machine code and a human message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiError {
    /// Stable code, e.g. `over_claim`, `malformed_transaction`, `mempool_full`.
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
}

/// `GET /v1/status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Status {
    /// The chain.
    pub chain_id: String,
    /// This validator's index in genesis.
    pub validator_index: usize,
    /// Height of the last executed block.
    pub height: u64,
    /// Its digest, hex.
    pub last_block_hash: String,
    /// The state root after it, hex.
    pub state_root: String,
    /// Its consensus time, ms since the Unix epoch.
    pub last_block_time_ms: u64,
    /// Number of validators.
    pub validators: u32,
    /// Validators this node is connected to right now (not counting itself).
    pub peers_connected: u32,
    /// Transactions waiting in this node's mempool.
    pub mempool_txs: usize,
    /// Their bytes.
    pub mempool_bytes: usize,
}

/// Where a committed transaction is and what it did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Committed {
    /// Height of the block that included it.
    pub height: u64,
    /// Position in that block.
    pub index: u32,
    /// The ledger's receipt.
    pub receipt: Receipt,
}

/// `POST /v1/txs` and `GET /v1/txs/{id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TxStatus {
    /// The transaction.
    pub tx_id: TxId,
    /// `pending` (in a mempool) or `committed`.
    pub status: String,
    /// The receipt, once committed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub committed: Option<Committed>,
}

/// `GET /v1/blocks/{height}/transactions`: a finalized block's transactions and what the
/// ledger made of each, for explorers, auditors and the fault-test checker, which replays a
/// node's whole chain through the reference model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BlockTransactions {
    /// Height.
    pub height: u64,
    /// The block's digest, hex.
    pub digest: String,
    /// The parent's digest, hex.
    pub parent: String,
    /// Consensus time.
    pub timestamp_ms: u64,
    /// The height whose post-execution state `state_root` commits to (the header's, below
    /// `height`: execution lags consensus).
    pub executed_height: u64,
    /// The header's state root: the state after executing block `executed_height`.
    pub state_root: Digest,
    /// The transactions, in execution order.
    pub txs: Vec<crate::Transaction>,
    /// The ledger's receipt for each, in the same order.
    pub receipts: Vec<Receipt>,
    /// Whether sealed bodies and access references were emptied (an unsigned request).
    #[serde(default)]
    pub redacted: bool,
}

/// `POST /v1/txs/batch`: one answer per submitted transaction, in the order submitted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchStatus {
    /// Transactions admitted to the mempool (or already waiting there).
    pub pending: u32,
    /// Transactions already committed (their receipts are in `results`).
    pub committed: u32,
    /// Transactions refused; each carries its error.
    pub refused: u32,
    /// One entry per transaction of the batch, in order.
    pub results: Vec<BatchItem>,
}

/// What became of one transaction of a batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchItem {
    /// The transaction.
    pub tx_id: TxId,
    /// `pending` (admitted to the mempool), `committed` or `refused`.
    pub status: String,
    /// The receipt, when already committed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub committed: Option<Committed>,
    /// Why it was refused: the same code and message `POST /v1/txs` gives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
}

/// `GET /v1/blocks/{height}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BlockSummary {
    /// Height.
    pub height: u64,
    /// The block's digest, hex.
    pub digest: String,
    /// The state root after executing it.
    pub state_root: Digest,
    /// Consensus time.
    pub timestamp_ms: u64,
    /// Transactions in it.
    pub txs: u32,
}

/// A page of a list endpoint, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    /// The items on this page.
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next (older) page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<u64>,
}

/// One thing that happened on the ledger, as `GET /v1/events` streams it. Every committed
/// block yields its transactions' events in block order, then one `block` event; a client
/// that has seen a block's `block` event has seen everything in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Event {
    /// Bills were issued (one event per issuance batch).
    BillsIssued {
        /// The transaction.
        tx_id: TxId,
        /// The issuing hospital.
        issuer: MemberId,
        /// The bills.
        bills: Vec<IssuedBill>,
    },
    /// A bill was voided by a red bill.
    BillVoided {
        /// The transaction.
        tx_id: TxId,
        /// The issuing hospital.
        issuer: MemberId,
        /// The voided bill.
        bill: BillId,
        /// The red bill.
        red_bill: BillId,
        /// The bill's patient.
        patient: Pseudonym,
    },
    /// A claim was accepted and its amount locked on its bills.
    ClaimSubmitted {
        /// The transaction.
        tx_id: TxId,
        /// The claim.
        claim_id: ClaimId,
        /// Who is asked to pay.
        payer: MemberId,
        /// The patient.
        patient: Pseudonym,
        /// The bills claimed against.
        bills: Vec<BillId>,
        /// The amount locked.
        reserved: Fen,
    },
    /// A claim was paid by its payer.
    ClaimSettled {
        /// The transaction.
        tx_id: TxId,
        /// The claim.
        claim_id: ClaimId,
        /// The payer.
        payer: MemberId,
        /// The patient.
        patient: Pseudonym,
        /// The amount paid.
        approved: Fen,
        /// Whether the ledger settled it by the payer's policy in the very transaction that
        /// submitted it (then `tx_id` is the submission, and the payer still records the
        /// payment's reference with `record_payment`).
        #[serde(default)]
        auto: bool,
    },
    /// The payer recorded the payment of a claim the ledger settled by its policy.
    PaymentRecorded {
        /// The transaction.
        tx_id: TxId,
        /// The claim.
        claim_id: ClaimId,
        /// The payer.
        payer: MemberId,
        /// The patient.
        patient: Pseudonym,
        /// The payer's payment reference.
        payment_reference: Text,
    },
    /// A payer registered a version of its claim policy.
    PolicyRegistered {
        /// The transaction.
        tx_id: TxId,
        /// The payer.
        payer: MemberId,
        /// The version now in force.
        version: u32,
    },
    /// A claim was refused by its payer.
    ClaimRejected {
        /// The transaction.
        tx_id: TxId,
        /// The claim.
        claim_id: ClaimId,
        /// The payer.
        payer: MemberId,
        /// The patient.
        patient: Pseudonym,
        /// The reservation released.
        released: Fen,
    },
    /// A claim was withdrawn by the patient.
    ClaimWithdrawn {
        /// The transaction.
        tx_id: TxId,
        /// The claim.
        claim_id: ClaimId,
        /// The payer.
        payer: MemberId,
        /// The patient.
        patient: Pseudonym,
        /// The reservation released.
        released: Fen,
    },
    /// A genesis-defined reader (the regulator) recorded an access to a bill's private body.
    BodyAccessed {
        /// The transaction.
        tx_id: TxId,
        /// The bill.
        bill: BillId,
        /// Who accessed it.
        reader: MemberId,
        /// The bill's issuer.
        issuer: MemberId,
        /// The bill's patient, who can see every access to their bills.
        patient: Pseudonym,
        /// Why (the reader's own reference is never published).
        purpose: crate::AccessPurpose,
    },
    /// A transaction was included in a block but refused by the ledger.
    TxRejected {
        /// The transaction.
        tx_id: TxId,
        /// What it tried to do (`submit_claim`, `issue_bills`, …).
        payload: String,
        /// The ledger's reason code.
        code: String,
        /// The ledger's message.
        message: String,
    },
    /// A block was committed and executed (always the last event of its block).
    Block {
        /// The block.
        #[serde(flatten)]
        block: BlockSummary,
    },
}

/// A bill in a [`Event::BillsIssued`] event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IssuedBill {
    /// The bill.
    pub id: BillId,
    /// Its patient.
    pub patient: Pseudonym,
    /// The amount the patient paid, which claims may be made against.
    pub claimable: Fen,
}

impl Event {
    /// The event's type name, as in its JSON `type` field and the `types` filter.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::BillsIssued { .. } => "bills_issued",
            Event::BillVoided { .. } => "bill_voided",
            Event::ClaimSubmitted { .. } => "claim_submitted",
            Event::ClaimSettled { .. } => "claim_settled",
            Event::ClaimRejected { .. } => "claim_rejected",
            Event::ClaimWithdrawn { .. } => "claim_withdrawn",
            Event::PaymentRecorded { .. } => "payment_recorded",
            Event::PolicyRegistered { .. } => "policy_registered",
            Event::BodyAccessed { .. } => "body_accessed",
            Event::TxRejected { .. } => "tx_rejected",
            Event::Block { .. } => "block",
        }
    }

    /// Every type name.
    pub const KINDS: [&'static str; 11] = [
        "bills_issued",
        "bill_voided",
        "claim_submitted",
        "claim_settled",
        "claim_rejected",
        "claim_withdrawn",
        "payment_recorded",
        "policy_registered",
        "body_accessed",
        "tx_rejected",
        "block",
    ];
}

/// An event with its position: `id` is `HEIGHT:INDEX`, the value to resume after (SSE's
/// `Last-Event-ID`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventEnvelope {
    /// `HEIGHT:INDEX`.
    pub id: String,
    /// The block's height.
    pub height: u64,
    /// Position among the block's events.
    pub index: u32,
    /// What happened.
    pub event: Event,
}

/// Where an event stream resumes: after the event `HEIGHT:INDEX`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventPosition {
    /// The block's height.
    pub height: u64,
    /// Position among the block's events.
    pub index: u32,
}

impl std::fmt::Display for EventPosition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.height, self.index)
    }
}

impl std::str::FromStr for EventPosition {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("event id {s:?}: expected HEIGHT:INDEX");
        let (height, index) = s.split_once(':').ok_or_else(bad)?;
        Ok(Self {
            height: height.parse().map_err(|_| bad())?,
            index: index.parse().map_err(|_| bad())?,
        })
    }
}

/// `GET /v1/events` query: which events, from where. Every filter given must match; a
/// `block` event passes every filter but `types`, so a filtered stream still shows progress.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema, utoipa::IntoParams),
    into_params(parameter_in = Query)
)]
pub struct EventFilter {
    /// Comma-separated event types (see [`Event::KINDS`]); all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub types: Option<String>,
    /// Only events about claims to this payer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer: Option<MemberId>,
    /// Only events about this patient's bills and claims.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<Pseudonym>,
    /// Only events of bills issued or voided by this hospital.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<MemberId>,
    /// Start with the events of this block; without it (and without `Last-Event-ID`), the
    /// stream starts after the current block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_height: Option<u64>,
}

impl EventFilter {
    /// The accepted type names, or an error naming the unknown one.
    pub fn kinds(&self) -> Result<Option<Vec<&'static str>>, String> {
        let Some(types) = &self.types else { return Ok(None) };
        types
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| {
                Event::KINDS.iter().copied().find(|k| *k == t).ok_or_else(|| {
                    format!("unknown event type {t:?}; known: {}", Event::KINDS.join(", "))
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// `event` as this filter lets it through: `None` if filtered out. Issuance events keep
    /// only the patient's bills when filtered by patient.
    pub fn apply(&self, kinds: Option<&[&str]>, event: &Event) -> Option<Event> {
        if kinds.is_some_and(|k| !k.contains(&event.kind())) {
            return None;
        }
        let payer_ok = |payer: &MemberId| self.payer.as_ref().is_none_or(|p| p == payer);
        let patient_ok = |patient: &Pseudonym| self.patient.as_ref().is_none_or(|p| p == patient);
        let issuer_ok = |issuer: &MemberId| self.issuer.as_ref().is_none_or(|i| i == issuer);
        match event {
            // Block events mark progress. Empty blocks (an idle chain's heartbeat) only come
            // when `block` is asked for by name; other blocks also come on an unfiltered
            // stream, never on one filtered by payer, patient or issuer unless asked for.
            Event::Block { block } => {
                let asked = kinds.is_some_and(|k| k.contains(&"block"));
                let unfiltered = kinds.is_none()
                    && self.payer.is_none()
                    && self.patient.is_none()
                    && self.issuer.is_none();
                (asked || (unfiltered && block.txs > 0)).then(|| event.clone())
            }
            Event::BillsIssued { tx_id, issuer, bills } => {
                if self.payer.is_some() || !issuer_ok(issuer) {
                    return None;
                }
                let bills: Vec<IssuedBill> =
                    bills.iter().filter(|b| patient_ok(&b.patient)).cloned().collect();
                (!bills.is_empty()).then(|| Event::BillsIssued {
                    tx_id: *tx_id,
                    issuer: issuer.clone(),
                    bills,
                })
            }
            Event::BillVoided { issuer, patient, .. } => {
                (self.payer.is_none() && issuer_ok(issuer) && patient_ok(patient))
                    .then(|| event.clone())
            }
            Event::ClaimSubmitted { payer, patient, .. }
            | Event::ClaimSettled { payer, patient, .. }
            | Event::ClaimRejected { payer, patient, .. }
            | Event::ClaimWithdrawn { payer, patient, .. }
            | Event::PaymentRecorded { payer, patient, .. } => {
                (self.issuer.is_none() && payer_ok(payer) && patient_ok(patient))
                    .then(|| event.clone())
            }
            Event::PolicyRegistered { payer, .. } => {
                (self.issuer.is_none() && self.patient.is_none() && payer_ok(payer))
                    .then(|| event.clone())
            }
            Event::BodyAccessed { issuer, patient, .. } => {
                (self.payer.is_none() && issuer_ok(issuer) && patient_ok(patient))
                    .then(|| event.clone())
            }
            Event::TxRejected { .. } => {
                (self.payer.is_none() && self.patient.is_none() && self.issuer.is_none())
                    .then(|| event.clone())
            }
        }
    }
}

/// Query of the list endpoints (`/v1/patients/{p}/bills`, `/v1/payers/{m}/claims`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema, utoipa::IntoParams),
    into_params(parameter_in = Query)
)]
pub struct ListQuery {
    /// Items per page, 1 to 1,000 (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// From a previous page's `next_cursor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<u64>,
    /// Only items with this status: a bill's `valid`/`voided`/`red`, a claim's
    /// `locked`/`settled`/`rejected`/`withdrawn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// `GET /v1/bills/{code}/{number}/proof` and `GET /v1/claims/{id}/proof`: a receipt anyone
/// can verify offline with the validators' public keys (`medledger verify`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReceiptView {
    /// The receipt's canonical encoding, hex: record, proof, state roots, block header and
    /// the validators' finalization certificate.
    pub receipt: String,
    /// Its size in bytes.
    pub size_bytes: u32,
    /// The receipt as QR-code text: `ML1*BILL*CHECK-CODE*BASE45` (about 1.5 characters a
    /// byte, QR's alphanumeric mode).
    pub qr: String,
    /// The height the record is as of (the state the finalized header commits to).
    pub as_of_height: u64,
    /// The finalized block whose header commits to that state.
    pub block_height: u64,
    /// That block's consensus time, ms since the Unix epoch.
    pub block_time_ms: u64,
    /// The bill, as of `as_of_height`, if the receipt is for a bill.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bill: Option<crate::Bill>,
    /// The claim, as of `as_of_height`, if the receipt is for a claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<crate::Claim>,
}

/// `GET /v1/patients/{pseudonym}`: the keys registered for a pseudonym. Issuing hospitals wrap
/// bill bodies to `encryption_key`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PatientKeys {
    /// The pseudonym.
    pub pseudonym: Pseudonym,
    /// The patient's wallet (signing) key.
    pub public_key: crate::PublicKey,
    /// The key the patient's bill bodies are wrapped to.
    pub encryption_key: crate::EncryptionKey,
}

/// `GET /v1/bills/{code}/{number}/body`: a bill's sealed private body, served only to a caller
/// entitled to it. Opening it needs the caller's own secret; nothing here is plaintext.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BillBody {
    /// The bill.
    pub bill: BillId,
    /// The bill header's salted commitment to the body, to check the opened body against.
    pub body_commitment: crate::Digest,
    /// The sealed body as issued (its digest is the bill record's `sealed_body`).
    pub sealed_body: crate::SealedBody,
    /// For a payer: the patient's disclosures of this bill to it, from the payer's claims.
    pub disclosures: Vec<crate::Disclosure>,
    /// Why the caller may read it: `patient`, `issuer`, `payer` or `body_reader`.
    pub entitlement: String,
}

/// Header carrying the caller's public key on a signed API request (reads of private data).
pub const REQUEST_KEY_HEADER: &str = "x-medledger-key";
/// Header carrying the request time, milliseconds since the Unix epoch.
pub const REQUEST_TIME_HEADER: &str = "x-medledger-time";
/// Header carrying the caller's signature over [`request_message`], hex.
pub const REQUEST_SIGNATURE_HEADER: &str = "x-medledger-signature";
/// How far a signed request's time may be from the node's clock. Narrow: the node remembers
/// every signed request for this long and refuses it a second time, so a captured request
/// cannot be replayed by a third party.
pub const REQUEST_SKEW_MS_MAX: u64 = 30 * 1_000;

/// The bytes a caller signs (namespace `ApiRequest`) to read private data: the method, the path
/// with its query, the time and the chain, so that a signature is good for one request on one
/// network, once (the node refuses a signature it has seen within [`REQUEST_SKEW_MS_MAX`]).
pub fn request_message(method: &str, path: &str, time_ms: u64, chain_id: &ChainId) -> Vec<u8> {
    format!("{method}\n{path}\n{time_ms}\n{chain_id}").into_bytes()
}

/// `POST /v1/txs/encode`: an unsigned transaction body in its canonical bytes, for wallets that
/// sign without a codec of their own (the web portal). The node only encodes; the caller signs
/// `body` under the `medledger/tx/v1` namespace and submits `body ‖ signature` as binary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EncodedTx {
    /// The transaction's id once signed: `H(tx-id, body)`.
    pub tx_id: TxId,
    /// The body's canonical encoding, hex.
    pub body: String,
    /// The namespace the signature must be made under.
    pub namespace: String,
}

/// `GET /v1/hospitals/{member}/ranges`: one bill-number range allocated to a hospital and how
/// much of it is used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RangeView {
    /// The bill code.
    pub code: crate::BillCode,
    /// First number of the range.
    pub first: crate::BillNumber,
    /// Last number (inclusive).
    pub last: crate::BillNumber,
    /// Numbers used by issued bills and red (voiding) bills.
    pub used: u64,
    /// Numbers never used.
    pub remaining: u64,
    /// The number after the highest used one, if the range has one: where a hospital's next
    /// batch can start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_number: Option<crate::BillNumber>,
}

/// `POST /v1/receipts/verify`: what checking a receipt against this network's genesis found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReceiptCheck {
    /// Whether every link verified: record → state root → finalized header → quorum.
    pub valid: bool,
    /// Why not, naming the link that broke (absent when valid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What the receipt is about: `bill CODE/NUMBER` or `claim ID` (when it could be read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The chain the receipt names (when it could be read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_id: Option<String>,
    /// The height whose state the record is from (when valid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of_height: Option<u64>,
    /// The finalized block committing to it (when valid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_height: Option<u64>,
    /// That block's time, ms since the Unix epoch (when valid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_time_ms: Option<u64>,
    /// Validators that signed the finalization, and how many genesis names (when valid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signers: Option<String>,
    /// The bill, when the receipt is a valid bill receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bill: Option<crate::Bill>,
    /// The claim, when the receipt is a valid claim receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<crate::Claim>,
}

/// `GET /v1/validators`: the genesis validators, and which of them signed the newest
/// finalization this node holds a certificate for (what a regulator watches: who is taking
/// part in finality right now).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ValidatorsView {
    /// The newest finalized height this node holds a certificate for (absent before the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finalized_height: Option<u64>,
    /// Its consensus time, ms since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finalized_time_ms: Option<u64>,
    /// Signatures on that finalization, and the quorum it needed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signers: Option<u32>,
    /// The quorum: 2f + 1 of the validators.
    pub quorum: u32,
    /// Every genesis validator, in genesis order.
    pub validators: Vec<ValidatorView>,
}

/// One validator in [`ValidatorsView`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ValidatorView {
    /// Its position in genesis.
    pub index: u32,
    /// The member institution that runs it.
    pub member: MemberId,
    /// Its consensus key.
    pub public_key: crate::PublicKey,
    /// Its API address (from genesis).
    pub api_address: String,
    /// Whether it is the node answering.
    pub this_node: bool,
    /// Whether its signature is on the newest finalization (absent before the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_latest: Option<bool>,
}
