//! Building the initial state from a [`Genesis`], refusing an inconsistent one.

use crate::memory::MemoryState;
use crate::state::StateWriter;
use medledger_crypto::Digest;
use medledger_types::limits::{
    BILL_TOTAL_MAX_FEN, BODY_WRAPS_MAX, GENESIS_MEMBERS_MAX, GENESIS_PATIENTS_MAX,
    GENESIS_RANGES_MAX, GENESIS_SYNTHETIC_BILLS_MAX, MEMBER_KEYS_MAX, MEMBER_NAME_BYTES_MAX,
    VALIDATORS_MAX,
};
use medledger_types::{
    Bill, BillAmounts, BillId, BillIssue, BillKind, BillNumber, Fen, Genesis, Member, PublicKey,
    Role, VisitType,
};
use std::collections::HashSet;

/// Why a genesis cannot start a chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenesisError {
    /// A list is longer than its limit.
    #[error("genesis lists too many {what} (limit {limit})")]
    TooMany {
        /// Which list.
        what: &'static str,
        /// Its limit.
        limit: usize,
    },
    /// Two members share an id.
    #[error("member {0} appears twice")]
    DuplicateMember(String),
    /// A member has no role, no key, too many keys or an over-long name.
    #[error(
        "member {0}: needs at least one role, 1-{MEMBER_KEYS_MAX} keys and a name of at most {MEMBER_NAME_BYTES_MAX} bytes"
    )]
    BadMember(String),
    /// A key is used twice (by members or patients).
    #[error("key {0} is used twice")]
    DuplicateKey(String),
    /// A patient pseudonym is used twice.
    #[error("patient {0} appears twice")]
    DuplicatePatient(String),
    /// A range is empty, overlaps another, or belongs to a non-hospital.
    #[error("range {0}: {1}")]
    BadRange(String, &'static str),
    /// A validator names no member, or repeats a key.
    #[error("validator {0}: {1}")]
    BadValidator(String, &'static str),
    /// No member may allocate ranges or freeze members.
    #[error("genesis has no regulator")]
    NoRegulator,
    /// A body reader without an encryption key, or more body readers than a body has room for.
    #[error(
        "member {0}: a body reader needs an encryption key, and at most {BODY_READERS_MAX} members may be body readers"
    )]
    BadBodyReader(String),
    /// Synthetic bills with a bad issuer, code, count or amount.
    #[error("synthetic bills: {0}")]
    BadSyntheticBills(&'static str),
}

/// Members every bill body must be wrapped to: leaves room in a body's wraps for the patient
/// and the issuer's copy.
pub const BODY_READERS_MAX: usize = BODY_WRAPS_MAX - 2;

/// Fills an empty `state` from `genesis`.
pub fn init<S: StateWriter>(state: &mut S, genesis: &Genesis) -> Result<(), GenesisError> {
    let too_many = |what, limit| GenesisError::TooMany { what, limit };
    if genesis.members.len() > GENESIS_MEMBERS_MAX {
        return Err(too_many("members", GENESIS_MEMBERS_MAX));
    }
    if genesis.patients.len() > GENESIS_PATIENTS_MAX {
        return Err(too_many("patients", GENESIS_PATIENTS_MAX));
    }
    if genesis.ranges.len() > GENESIS_RANGES_MAX {
        return Err(too_many("ranges", GENESIS_RANGES_MAX));
    }
    if !genesis.members.iter().any(|m| m.roles.has(Role::Regulator)) {
        return Err(GenesisError::NoRegulator);
    }
    let mut ids = HashSet::new();
    let mut keys: HashSet<&PublicKey> = HashSet::new();
    for member in &genesis.members {
        if !ids.insert(&member.id) {
            return Err(GenesisError::DuplicateMember(member.id.to_string()));
        }
        let roles_ok = Role::ALL.iter().any(|r| member.roles.has(*r));
        if !roles_ok
            || member.keys.is_empty()
            || member.keys.len() > MEMBER_KEYS_MAX
            || member.name.len() > MEMBER_NAME_BYTES_MAX
        {
            return Err(GenesisError::BadMember(member.id.to_string()));
        }
        for key in &member.keys {
            if !keys.insert(key) {
                return Err(GenesisError::DuplicateKey(key.to_hex()));
            }
        }
    }
    let mut readers = 0usize;
    for member in genesis.members.iter().filter(|m| m.body_reader) {
        readers += 1;
        if member.encryption_key.is_none() || readers > BODY_READERS_MAX {
            return Err(GenesisError::BadBodyReader(member.id.to_string()));
        }
    }
    let mut pseudonyms = HashSet::new();
    for patient in &genesis.patients {
        if !pseudonyms.insert(patient.pseudonym) {
            return Err(GenesisError::DuplicatePatient(patient.pseudonym.to_string()));
        }
        if !keys.insert(&patient.public_key) {
            return Err(GenesisError::DuplicateKey(patient.public_key.to_hex()));
        }
    }
    for (i, range) in genesis.ranges.iter().enumerate() {
        let name = format!("{} {}..{}", range.code, range.first, range.last);
        let owner = genesis.members.iter().find(|m| m.id == range.hospital);
        if !owner.is_some_and(|m| m.roles.has(Role::Hospital)) {
            return Err(GenesisError::BadRange(name, "owner is not a hospital member"));
        }
        if range.first > range.last {
            return Err(GenesisError::BadRange(name, "first number is after last"));
        }
        let overlap = genesis.ranges[..i]
            .iter()
            .any(|r| r.code == range.code && r.overlaps(range.first, range.last));
        if overlap {
            return Err(GenesisError::BadRange(name, "overlaps an earlier range"));
        }
    }

    let mut validator_keys = HashSet::new();
    for validator in &genesis.validators {
        let name = validator.public_key.to_hex();
        if !ids.contains(&validator.member) {
            return Err(GenesisError::BadValidator(name, "is run by no member of the genesis"));
        }
        if !validator_keys.insert(&validator.public_key) {
            return Err(GenesisError::BadValidator(name, "key appears twice"));
        }
    }
    if genesis.validators.len() > VALIDATORS_MAX {
        return Err(too_many("validators", VALIDATORS_MAX));
    }

    for member in &genesis.members {
        state.put_member(Member {
            id: member.id.clone(),
            name: member.name.clone(),
            roles: member.roles,
            keys: member.keys.clone(),
            frozen: false,
            encryption_key: member.encryption_key,
            body_reader: member.body_reader,
        });
    }
    for patient in &genesis.patients {
        state.put_patient(patient.pseudonym, patient.public_key.clone(), patient.encryption_key);
    }
    for range in &genesis.ranges {
        state.put_range(range.clone());
    }
    for bill in synthetic_bills(genesis)? {
        state.put_bill(bill);
    }
    Ok(())
}

/// The bills a genesis starts with ([`medledger_types::SyntheticBills`]), checked and
/// generated in number order; none if it has no synthetic bills.
pub fn synthetic_bills(genesis: &Genesis) -> Result<impl Iterator<Item = Bill> + '_, GenesisError> {
    let bad = GenesisError::BadSyntheticBills;
    let spec = genesis.synthetic_bills.as_ref();
    if let Some(spec) = spec {
        let issuer = genesis.members.iter().find(|m| m.id == spec.issuer);
        if !issuer.is_some_and(|m| m.roles.has(Role::Hospital)) {
            return Err(bad("the issuer is not a hospital member"));
        }
        if genesis.ranges.iter().any(|r| r.code == spec.code) {
            return Err(bad("a genesis range uses their code"));
        }
        if spec.count == 0 {
            return Err(bad("the count is zero"));
        }
        if spec.count > GENESIS_SYNTHETIC_BILLS_MAX || BillNumber::new(spec.count).is_err() {
            return Err(bad("too many"));
        }
        if genesis.patients.is_empty() {
            return Err(bad("there are no genesis patients to issue them to"));
        }
        if spec.amount_fen == 0 || spec.amount_fen > BILL_TOTAL_MAX_FEN {
            return Err(bad("the amount is zero or above a bill's maximum"));
        }
    }
    let count = spec.map_or(0, |s| s.count);
    Ok((1..=count).filter_map(move |n| {
        let spec = spec?;
        let patient = &genesis.patients[usize::try_from(n).ok()? % genesis.patients.len()];
        let amount = Fen(spec.amount_fen);
        let issue = BillIssue {
            id: BillId { code: spec.code, number: BillNumber::new(n).ok()? },
            visit_type: VisitType::Outpatient,
            patient: patient.pseudonym,
            amounts: BillAmounts {
                total: amount,
                pooled_fund: Fen::ZERO,
                personal_account: Fen::ZERO,
                other_fund: Fen::ZERO,
                patient_pay: amount,
            },
            categories: Vec::new(),
            body_commitment: Digest([0; 32]),
        };
        Some(Bill::issued(issue, &spec.issuer, 0, genesis.genesis_time_ms, BillKind::Normal, None))
    }))
}

impl MemoryState {
    /// A state at height 0 built from `genesis`.
    pub fn from_genesis(genesis: &Genesis) -> Result<Self, GenesisError> {
        let mut state = MemoryState::new(genesis.chain_id.clone());
        init(&mut state, genesis)?;
        Ok(state)
    }
}
