//! Genesis: the consortium the chain starts with.

use crate::ids::{BillCode, BillNumber, ChainId, EncryptionKey, MemberId, Pseudonym};
use crate::member::Roles;
use medledger_crypto::PublicKey;
use serde::{Deserialize, Serialize};

/// A member named in genesis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisMember {
    /// Its identifier.
    pub id: MemberId,
    /// Its public name.
    pub name: String,
    /// What it may do.
    pub roles: Roles,
    /// The keys that sign for it.
    pub keys: Vec<PublicKey>,
    /// Its key for reading bill bodies disclosed to it (payers) or wrapped to every bill
    /// (body readers).
    #[serde(default)]
    pub encryption_key: Option<EncryptionKey>,
    /// Whether every bill body must be wrapped to this member (the regulator's access, defined
    /// by genesis; each use is recorded on the ledger).
    #[serde(default)]
    pub body_reader: bool,
}

/// A patient known from the start.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisPatient {
    /// The pseudonym.
    pub pseudonym: Pseudonym,
    /// The wallet key.
    pub public_key: PublicKey,
    /// The key the patient's bill bodies are encrypted to.
    pub encryption_key: EncryptionKey,
}

/// A range of bill numbers of one code that belongs to one hospital.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeAllocation {
    /// The hospital.
    pub hospital: MemberId,
    /// The bill code.
    pub code: BillCode,
    /// First number.
    pub first: BillNumber,
    /// Last number (inclusive).
    pub last: BillNumber,
}

impl RangeAllocation {
    /// Whether `number` lies in the range.
    pub fn contains(&self, number: BillNumber) -> bool {
        self.first <= number && number <= self.last
    }

    /// Whether two ranges of the same code share a number.
    pub fn overlaps(&self, first: BillNumber, last: BillNumber) -> bool {
        self.first <= last && first <= self.last
    }
}

/// A validator: a consensus key run by a member institution, and where to reach it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisValidator {
    /// The member institution that runs it.
    pub member: MemberId,
    /// Its consensus (peer) key; separate from the member's transaction-signing keys.
    pub public_key: PublicKey,
    /// Its peer-to-peer address, e.g. `127.0.0.1:9700`.
    pub p2p_address: String,
    /// Its API address, e.g. `127.0.0.1:8700`.
    pub api_address: String,
}

/// The starting state of a chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genesis {
    /// The network's identity.
    pub chain_id: ChainId,
    /// Genesis time, milliseconds since the Unix epoch.
    pub genesis_time_ms: u64,
    /// The members.
    pub members: Vec<GenesisMember>,
    /// Patients registered from the start.
    #[serde(default)]
    pub patients: Vec<GenesisPatient>,
    /// Number ranges allocated from the start.
    #[serde(default)]
    pub ranges: Vec<RangeAllocation>,
    /// The validators that run consensus (empty for a ledger used on its own, as in tests).
    #[serde(default)]
    pub validators: Vec<GenesisValidator>,
    /// Bills the ledger starts with, generated rather than listed (capacity tests only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synthetic_bills: Option<SyntheticBills>,
}

/// Bills the ledger starts with, generated deterministically: for capacity tests and
/// benchmarks that need a large state (millions of bills) without issuing them block by block.
/// Bill `n` (1 to `count`) has code `code` and number `n`, is issued by `issuer` at height 0
/// to the genesis patient at index `n` modulo their number, for `amount_fen`, all of it paid
/// by the patient, with no private body. A real network's genesis leaves this out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyntheticBills {
    /// The hospital that issued them.
    pub issuer: MemberId,
    /// Their bill code; no genesis range may use it.
    pub code: BillCode,
    /// How many.
    pub count: u64,
    /// Each bill's total, all of it patient-paid, in fen.
    pub amount_fen: u64,
}
