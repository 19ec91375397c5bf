//! The world the receipt tests cut receipts from: a state MMR of bills and claims, a block
//! header committing to it, and a finalization certificate signed by four validators with
//! simplex's own ed25519 scheme (`verify.rs`, `independent.rs`).

#![allow(dead_code)]

use commonware_codec::{Decode as _, DecodeExt as _, Encode as _};
use commonware_consensus::{
    simplex::{
        scheme::ed25519::Scheme,
        types::{Finalization, Finalize, Proposal},
    },
    types::{Epoch, Round, View},
};
use commonware_cryptography::{Signer as _, ed25519, sha256};
use commonware_parallel::Sequential;
use commonware_storage::mmr::{Location, mem::Mmr};
use commonware_utils::{non_empty, ordered::Set};
use medledger_crypto::{Digest, Domain, SigningKey, hash};
use medledger_receipt::{
    BlockHeader, RECEIPT_VERSION, Receipt, Record, VerifyError, consensus_namespace, state_hasher,
    state_root, verify,
};
use medledger_testkit::{Consortium, bill, claim, claim_id, stub_body};
use medledger_types::{
    Bill, BillKind, ChainId, Claim, ClaimStatus, Fen, Genesis, GenesisValidator, Text,
};

/// The chain the receipts are on.
pub const CHAIN: &str = "medledger-receipts";

/// Validators' signing keys, from labels so that every run (and the golden vector) is the same.
pub fn validator_keys(label: &str, n: usize) -> Vec<SigningKey> {
    (0..n).map(|i| SigningKey::from_label(&format!("{label}-{i}"))).collect()
}

pub fn ed25519_key(key: &SigningKey) -> ed25519::PrivateKey {
    ed25519::PrivateKey::decode(key.seed().as_slice().to_vec()).unwrap()
}

/// Simplex's participant set: the keys in byte order, as the node builds it.
pub fn participants(keys: &[SigningKey]) -> Set<ed25519::PublicKey> {
    Set::try_from(keys.iter().map(|k| ed25519_key(k).public_key()).collect::<Vec<_>>()).unwrap()
}

pub fn genesis_with(keys: &[SigningKey]) -> Genesis {
    let mut genesis = Consortium::demo(CHAIN, 2).genesis;
    genesis.validators = keys
        .iter()
        .enumerate()
        .map(|(i, key)| GenesisValidator {
            member: genesis.members[i % genesis.members.len()].id.clone(),
            public_key: key.public_key(),
            p2p_address: format!("127.0.0.1:{}", 9700 + i),
            api_address: format!("127.0.0.1:{}", 8700 + i),
        })
        .collect();
    genesis
}

/// Everything a receipt is cut from: the records and their slots, the tree, a header and its
/// finalization.
pub struct World {
    pub genesis: Genesis,
    pub keys: Vec<SigningKey>,
    /// Records in leaf order, as of the header's executed height.
    pub records: Vec<Record>,
    /// Leaf 0's record before it was overwritten.
    pub stale: Record,
    pub mmr: Mmr<sha256::Digest>,
    pub mmr_root: Digest,
    pub receipts_root: Digest,
    pub header: BlockHeader,
    pub proposal: Proposal<sha256::Digest>,
    pub finalization: Vec<u8>,
}

/// Filler bills after the named records, so that proofs have a realistic depth.
pub const FILLER_BILLS: u64 = 1_000;

pub fn issued(c: &Consortium, n: u64, patient_pay: u64, kind: BillKind) -> Bill {
    let issue = bill(c.bill_id(0, n), c.patients[(n % 2) as usize].pseudonym, patient_pay, 1_000);
    let sealed = match kind {
        BillKind::Normal => Some(stub_body(&issue, &c.required_readers(&issue.patient)).digest()),
        BillKind::Red { .. } => None,
    };
    Bill::issued(issue, &c.hospitals[0].id, 3, 1_790_000_000_000 + n * 1_000, kind, sealed)
}

pub fn world() -> World {
    world_with(Vec::new())
}

/// The world with `extra` records appended after the filler bills (leaf 1,007 on): more
/// shapes of record for a verifier to decode, leaving [`world`]'s receipts as they are.
pub fn world_with(extra: Vec<Record>) -> World {
    let keys = validator_keys("validator", 4);
    let genesis = genesis_with(&keys);
    let c = Consortium::demo(CHAIN, 2);
    let p0 = c.patients[0].pseudonym;

    // Four bills, a red bill, and two claims, then filler bills.
    let mut records: Vec<Record> =
        (1..=4).map(|n| Record::Bill(issued(&c, n, 10_000 * n, BillKind::Normal))).collect();
    records.push(Record::Bill(issued(&c, 5, 10_000, BillKind::Red { reverses: c.bill_id(0, 4) })));
    let submission = claim(claim_id(1), &c.social_security.id, p0, &[(c.bill_id(0, 1), 2_500)]);
    records.push(Record::Claim(Claim {
        submission: submission.clone(),
        filed_by: None,
        submitted_height: 4,
        status: ClaimStatus::Settled {
            approved: vec![Fen(2_000)],
            payment_reference: Text::new("SSB-2026-000001").unwrap(),
            height: 6,
        },
        adjudication: None,
    }));
    records.push(Record::Claim(Claim {
        submission: claim(claim_id(2), &c.insurers[0].id, p0, &[(c.bill_id(0, 3), 1_000)]),
        filed_by: Some(c.platform.id.clone()),
        submitted_height: 5,
        status: ClaimStatus::Locked,
        adjudication: None,
    }));
    for n in 0..FILLER_BILLS {
        records.push(Record::Bill(issued(&c, 100 + n, 500, BillKind::Normal)));
    }
    records.extend(extra);

    let hasher = state_hasher();
    let mut mmr = Mmr::new();
    let batch = {
        let mut batch = mmr.new_batch();
        for record in &records {
            batch = batch.add(&hasher, &record.leaf().0);
        }
        batch.merkleize(&mmr, &hasher)
    };
    mmr.apply_batch(&batch).unwrap();

    // A later block settles claim 1 against bill 1: the bill's slot is overwritten in place.
    let stale = records[0].clone();
    let Record::Bill(mut settled) = stale.clone() else { unreachable!() };
    settled.reimbursed = Fen(2_000);
    settled.claims = vec![claim_id(1)];
    records[0] = Record::Bill(settled);
    let batch = mmr
        .new_batch()
        .update_leaf(&hasher, Location::new(0), &records[0].leaf().0)
        .unwrap()
        .merkleize(&mmr, &hasher);
    mmr.apply_batch(&batch).unwrap();

    let mmr_root = Digest(mmr.root(&hasher, 0).unwrap().0);
    let receipts_root = hash(Domain::TestKey, &[b"receipts chain at height 41"]);
    let executed_height = 41;
    let header = BlockHeader {
        parent: hash(Domain::TestKey, &[b"block 41"]),
        height: 42,
        timestamp_ms: 1_790_000_042_000,
        tx_root: hash(Domain::TestKey, &[b"transactions of block 42"]),
        executed_height,
        state_root: state_root(executed_height, &mmr_root, &receipts_root),
    };
    let proposal = proposal_for(&header, 0);
    let finalization = finalize(&keys, &genesis.chain_id, &proposal, keys.len()).encode().to_vec();
    World {
        genesis,
        keys,
        records,
        stale,
        mmr,
        mmr_root,
        receipts_root,
        header,
        proposal,
        finalization,
    }
}

pub fn proposal_for(header: &BlockHeader, epoch: u64) -> Proposal<sha256::Digest> {
    Proposal::new(
        Round::new(Epoch::new(epoch), View::new(57)),
        View::new(56),
        sha256::Digest(header.digest().0),
    )
}

/// Simplex signers for `keys` on `chain_id`.
pub fn schemes(keys: &[SigningKey], chain_id: &ChainId) -> Vec<Scheme> {
    let participants = participants(keys);
    let namespace = consensus_namespace(chain_id);
    keys.iter()
        .map(|key| Scheme::signer(&namespace, participants.clone(), ed25519_key(key)).unwrap())
        .collect()
}

/// A finalization by the first `signers` of `keys`, assembled as simplex does.
pub fn finalize(
    keys: &[SigningKey],
    chain_id: &ChainId,
    proposal: &Proposal<sha256::Digest>,
    signers: usize,
) -> Finalization<Scheme, sha256::Digest> {
    let schemes = schemes(keys, chain_id);
    let votes: Vec<_> =
        schemes[..signers].iter().map(|s| Finalize::sign(s, proposal.clone()).unwrap()).collect();
    Finalization::from_finalizes(&schemes[0], non_empty![@votes.iter()], &Sequential).unwrap()
}

impl World {
    pub fn receipt(&self, index: usize) -> Receipt {
        self.receipt_of(index, self.records[index].clone())
    }

    pub fn receipt_of(&self, index: usize, record: Record) -> Receipt {
        let leaf = Location::new(index as u64);
        Receipt {
            version: RECEIPT_VERSION,
            chain_id: self.genesis.chain_id.clone(),
            record,
            leaf: index as u64,
            proof: self.mmr.proof(&state_hasher(), leaf, 0).unwrap(),
            mmr_root: self.mmr_root,
            receipts_root: self.receipts_root,
            header: self.header.clone(),
            finalization: self.finalization.clone(),
        }
    }

    /// Simplex's own verdict on a finalization for this world's header and validators: it
    /// decodes, is for epoch 0, finalizes this header, and its certificate verifies.
    pub fn oracle_accepts(&self, bytes: &[u8]) -> bool {
        let participants = participants(&self.keys);
        let n = participants.len();
        let verifier = Scheme::verifier(&consensus_namespace(&self.genesis.chain_id), participants);
        let Ok(finalization) =
            Finalization::<Scheme, sha256::Digest>::decode_cfg(bytes.to_vec(), &n)
        else {
            return false;
        };
        finalization.proposal.round.epoch() == Epoch::new(0)
            && finalization.proposal.payload.0 == self.header.digest().0
            && finalization.verify(&mut commonware_utils::test_rng(), &verifier, &Sequential)
    }

    /// Verifies this world's receipt for leaf 0 with `finalization` in place of the real one,
    /// and checks the oracle agrees.
    pub fn verify_with_certificate(&self, finalization: Vec<u8>) -> Result<(), VerifyError> {
        let mut receipt = self.receipt(0);
        receipt.finalization = finalization.clone();
        let ours = verify(&receipt, &self.genesis).map(|_| ());
        assert_eq!(
            ours.is_ok(),
            self.oracle_accepts(&finalization),
            "the oracle disagrees: ours says {ours:?}"
        );
        ours
    }
}
