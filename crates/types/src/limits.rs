//! Every limit on input that grows, in one place, with the reason next to it.

/// Bills in one signed issuance batch. Hospitals issue thousands of bills a second at peak;
/// one signature over a thousand bills makes signature cost negligible per bill. With its sealed
/// body a typical outpatient bill takes about 1.4 KB, so batches are also cut by size to fit
/// [`TX_BYTES_MAX`] (about 650 such bills; `medledger bill issue` and the SDK's `seal_bills` cut
/// them).
pub const ISSUE_BATCH_BILLS_MAX: usize = 1_000;

/// Bills covered by one claim. An inpatient stay produces a few dozen bills at most.
pub const CLAIM_BILLS_MAX: usize = 64;

/// Charge categories listed on one bill's public header (there are fewer kinds than this).
pub const BILL_CATEGORIES_MAX: usize = 16;

/// Encoded size of one transaction: an issuance batch of about 650 typical sealed bills.
pub const TX_BYTES_MAX: usize = 1024 * 1024;

/// Transactions in one `POST /v1/txs/batch` request.
pub const SUBMIT_BATCH_TXS_MAX: usize = 1_000;

/// Ciphertext of one sealed bill body. An inpatient stay itemises a few hundred charges of about
/// 100 bytes each; 64 KiB leaves room for that and still bounds what one bill can add to a block.
pub const BODY_CIPHERTEXT_BYTES_MAX: usize = 64 * 1024;

/// Readers one sealed body is wrapped to: the patient, the issuer's copy, the genesis-defined
/// readers (the regulator), with room for a few more.
pub const BODY_WRAPS_MAX: usize = 8;

/// Members recorded as having accessed one bill's body (genesis-defined readers are few).
pub const BILL_ACCESSES_MAX: usize = 16;

/// How far ahead of the current height a transaction may set its expiry. The ledger remembers
/// the id of every accepted transaction until it expires, so this bounds that memory.
pub const TX_LIFETIME_BLOCKS_MAX: u64 = 2_000;

/// Length of member and chain identifiers (ASCII letters, digits, `-`, `_`, `.`).
pub const IDENT_BYTES_MAX: usize = 32;

/// Length of free text on the ledger: payment references and rejection reasons.
/// Short on purpose: free text must never carry patient data.
pub const TEXT_BYTES_MAX: usize = 128;

/// Members named in genesis.
pub const GENESIS_MEMBERS_MAX: usize = 1_024;

/// Signing keys one member may hold.
pub const MEMBER_KEYS_MAX: usize = 16;

/// Patients named in genesis.
pub const GENESIS_PATIENTS_MAX: usize = 1_000_000;

/// Synthetic bills a genesis may start with (capacity tests).
pub const GENESIS_SYNTHETIC_BILLS_MAX: u64 = 100_000_000;

/// Number ranges named in genesis.
pub const GENESIS_RANGES_MAX: usize = 10_000;

/// Human-readable member names.
pub const MEMBER_NAME_BYTES_MAX: usize = 128;

/// The largest bill total, in fen (10 billion yuan). Far above any real medical bill; it keeps
/// every sum the ledger forms (claims of up to [`CLAIM_BILLS_MAX`] bills, a bill's parts) far
/// from overflowing, so overflow is refused at the door instead of handled everywhere.
pub const BILL_TOTAL_MAX_FEN: u64 = 1_000_000_000_000;

/// Validators in one network. BFT message cost grows with the square of this; a consortium of
/// institutions runs tens of validators, not thousands.
pub const VALIDATORS_MAX: usize = 100;

/// Claims ever filed against one bill. Real bills see a handful (one per payer, a few
/// resubmissions); the cap stops a submit-and-withdraw loop from growing a bill's record, which
/// is copied on every change, without bound.
pub const BILL_CLAIMS_MAX: usize = 64;
