//! The ledger's state, read and written through two small traits.
//!
//! The state machine never knows where state lives. Tests use [`crate::MemoryState`]; the node
//! will back the same traits with durable storage. Readers hand out references, so an
//! implementation keeps its working set in memory and persists the writes it receives.

use medledger_types::policy::YearUsage;
use medledger_types::{
    Bill, BillCode, BillId, ChainId, Claim, ClaimId, EncryptionKey, Fen, Member, MemberId, Policy,
    Pseudonym, PublicKey, RangeAllocation, TxId,
};

/// Who a signing key belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignerRef {
    /// A consortium member.
    Member(MemberId),
    /// A patient's wallet.
    Patient(Pseudonym),
}

/// Read access to the ledger state.
pub trait StateReader {
    /// The chain this state belongs to.
    fn chain_id(&self) -> &ChainId;
    /// Height of the last executed block (0 = genesis).
    fn height(&self) -> u64;
    /// A member by id.
    fn member(&self, id: &MemberId) -> Option<&Member>;
    /// The members every bill body must be wrapped to (defined by genesis), ordered by id.
    fn body_readers(&self) -> Vec<&Member>;
    /// Who a key belongs to.
    fn signer(&self, key: &PublicKey) -> Option<&SignerRef>;
    /// A registered patient's wallet key.
    fn patient_key(&self, patient: &Pseudonym) -> Option<&PublicKey>;
    /// A registered patient's key for reading their bill bodies.
    fn patient_encryption_key(&self, patient: &Pseudonym) -> Option<&EncryptionKey>;
    /// A bill by id.
    fn bill(&self, id: &BillId) -> Option<&Bill>;
    /// A claim by id.
    fn claim(&self, id: &ClaimId) -> Option<&Claim>;
    /// The ranges allocated for a bill code, in allocation order.
    fn ranges(&self, code: BillCode) -> &[RangeAllocation];
    /// Whether a transaction with this id was included (accepted or rejected, its signature
    /// valid) and has not yet expired.
    fn tx_included(&self, id: &TxId) -> bool;
    /// Total paid so far by a payer.
    fn payer_paid(&self, payer: &MemberId) -> Fen;
    /// The payer's policy in force (its newest version), if it registered one.
    fn policy(&self, payer: &MemberId) -> Option<&Policy>;
    /// What a patient has used of a payer's policy in a benefit year (zero if nothing).
    fn year_usage(&self, payer: &MemberId, patient: &Pseudonym, year: u16) -> YearUsage;
}

/// Write access to the ledger state. Only the state machine writes, and only whole values.
pub trait StateWriter: StateReader {
    /// Records the height of the block being executed.
    fn set_height(&mut self, height: u64);
    /// Inserts or replaces a member (and indexes its keys).
    fn put_member(&mut self, member: Member);
    /// Registers a patient's wallet key and body-reading key.
    fn put_patient(&mut self, patient: Pseudonym, key: PublicKey, encryption_key: EncryptionKey);
    /// Inserts or replaces a bill.
    fn put_bill(&mut self, bill: Bill);
    /// Inserts or replaces a claim.
    fn put_claim(&mut self, claim: Claim);
    /// Adds a range allocation.
    fn put_range(&mut self, range: RangeAllocation);
    /// Remembers an included transaction until its expiry height.
    fn record_tx(&mut self, id: TxId, expires_at_height: u64);
    /// Forgets included transactions that expired before `height`; they can never be included
    /// again, because expiry is checked before replay.
    fn forget_txs_expiring_before(&mut self, height: u64);
    /// Sets a payer's total paid.
    fn set_payer_paid(&mut self, payer: MemberId, total: Fen);
    /// Puts a payer's policy in force, replacing the previous version.
    fn put_policy(&mut self, policy: Policy);
    /// Sets what a patient has used of a payer's policy in a benefit year.
    fn set_year_usage(&mut self, payer: MemberId, patient: Pseudonym, year: u16, usage: YearUsage);
}
