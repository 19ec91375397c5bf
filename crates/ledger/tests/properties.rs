//! Property tests: random sequences of blocks with deliberate contention (several payers on one
//! bill, partial claims summing to just over the claimable amount, retries of the same claim id,
//! replays of signed transactions, voids racing claims, forged and expired transactions) run
//! through the real ledger and the naive reference model side by side.
//!
//! After every block: every receipt equals the model's (P5), the ledger's audit passes
//! (P2 `reimbursed + reserved ≤ claimable`, voided bills carry nothing; P4 payer totals equal
//! the sum of settlements), and every bill's reserved and reimbursed amounts equal the model's.
//!
//! Cases: 10,000 by default; set `MEDLEDGER_PROPTEST_CASES` for more or fewer.

use medledger_crypto::SigningKey;
use medledger_ledger::{BlockContext, MemoryState, StateReader, execute_block};
use medledger_model::{Model, ModelStatus};
use medledger_testkit::{
    Consortium, DEMO_BILL_CODE, DEMO_RANGE_SIZE, EncryptionSecret, TxFactory, bill, claim,
    claim_id, consent_submit, consent_withdraw, patient, stub_body,
};
use medledger_types::{
    BillCode, BillId, BillNumber, CategoryCoverage, ChainId, ChargeCategory, ClaimStatus, Fen,
    MemberId, Payload, Policy, Text, Transaction,
};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// Whom an operation is signed by: its natural signer, or a given actor (often unauthorised).
#[derive(Clone, Debug)]
enum Who {
    Natural,
    Actor(usize),
}

#[derive(Clone, Debug)]
enum Fault {
    WrongChain,
    BadSignature,
    Expired,
}

#[derive(Clone, Debug)]
enum Op {
    Issue {
        who: Who,
        /// (bill, patient, patient-pay index, pooled-fund part, fault: see `issue`).
        bills: Vec<(usize, usize, usize, bool, u8)>,
    },
    Void {
        who: Who,
        bill: usize,
        red: usize,
    },
    Submit {
        who: Who,
        claim: usize,
        payer: usize,
        patient: usize,
        items: Vec<(bool, usize, usize)>,
        consent: u8,
    },
    Settle {
        who: Who,
        claim: usize,
        mode: u8,
    },
    Reject {
        who: Who,
        claim: usize,
    },
    Withdraw {
        who: Who,
        claim: usize,
        consent: u8,
    },
    Register {
        who: Who,
        patient: usize,
        key: usize,
    },
    Freeze {
        who: Who,
        member: usize,
        freeze: bool,
    },
    Allocate {
        who: Who,
        hospital: usize,
        first: u64,
        last: u64,
    },
    /// A payer registers a policy: `shape` picks its terms, `skew` its version (0: the next).
    Policy {
        who: Who,
        payer: usize,
        shape: u8,
        skew: u8,
    },
    /// The claim's payer records a payment (an empty reference when `empty`).
    Pay {
        who: Who,
        claim: usize,
        empty: bool,
    },
    Replay {
        back: usize,
    },
    Faulty {
        op: Box<Op>,
        fault: Fault,
    },
}

/// Actors: 0 regulator, 1-2 hospitals, 3 social security, 4-5 insurers, 6 platform,
/// 7-9 patients 0-2 (registered), 10 patient 3 (unregistered), 11 a stranger.
const ACTORS: usize = 12;
/// Claimable amounts: some zero, some tiny, so partial claims add up to just over them.
const PATIENT_PAY: [u64; 5] = [1_000, 1_000, 100, 1, 0];
/// Requested amounts around those values.
const REQUEST: [u64; 10] = [0, 1, 50, 99, 100, 101, 500, 999, 1_000, 1_001];
const CLAIM_IDS: usize = 6;
const BILLS: usize = 12;
const SECOND_CODE: u32 = DEMO_BILL_CODE + 1;

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![6 => Just(Who::Natural), 1 => (0..ACTORS).prop_map(Who::Actor)]
}

fn consent() -> impl Strategy<Value = u8> {
    // 0: the patient signs; 1: the platform with valid consent; 2-3: broken consent.
    prop_oneof![14 => Just(0u8), 3 => Just(1u8), 1 => Just(2u8), 1 => Just(3u8)]
}

fn issue() -> impl Strategy<Value = Op> {
    // Mostly bills in the signing hospital's own range, sometimes any bill at all.
    let bill = (0..2usize, 0..6usize, prop::bool::weighted(0.1), 0..BILLS).prop_map(
        |(hospital, i, any, raw)| {
            if any {
                raw
            } else if hospital == 0 {
                i
            } else {
                6 + i % 3
            }
        },
    );
    let item = (
        bill,
        prop_oneof![6 => 0..3usize, 1 => Just(3usize)],
        0..PATIENT_PAY.len(),
        any::<bool>(),
        // 0: a well-formed bill; 1: amounts that do not add up; 2-3: a sealed body missing the
        // patient's or the regulator's key wrap.
        prop_oneof![60 => Just(0u8), 3 => Just(1u8), 1 => Just(2u8), 1 => Just(3u8)],
    );
    (who(), 0..2usize, prop_oneof![9 => prop::collection::vec(item.clone(), 1..5), 1 => prop::collection::vec(item, 0..1)]).prop_map(|(who, hospital, mut bills)| {
        // Keep a batch within one hospital's range unless a raw pick says otherwise.
        for b in &mut bills {
            if b.0 < 9 {
                b.0 = if hospital == 0 { b.0 % 6 } else { 6 + b.0 % 3 };
            }
        }
        Op::Issue { who, bills }
    })
}

fn claim_selector() -> impl Strategy<Value = usize> {
    prop_oneof![6 => CLAIM_IDS..CLAIM_IDS * 20, 1 => 0..CLAIM_IDS]
}

fn base_op() -> impl Strategy<Value = Op> {
    // Items pick the patient's own bills by position (see `Harness::build`), or a raw bill.
    let amount = prop_oneof![3 => 1..5usize, 1 => 0..REQUEST.len()];
    let items = prop_oneof![
        12 => prop::collection::vec((prop::bool::weighted(0.1), 0..BILLS, amount), 1..3),
        1 => Just(Vec::new()),
    ];
    prop_oneof![
        4 => issue(),
        1 => (who(), prop_oneof![4 => BILLS..BILLS * 10, 1 => 0..BILLS], 0..BILLS).prop_map(|(who, bill, red)| Op::Void { who, bill, red }),
        10 => (who(), 0..CLAIM_IDS, prop_oneof![6 => Just(0usize), 4 => 1..3usize, 1 => Just(3usize)], prop_oneof![8 => 100..200usize, 1 => 0..4usize], items, consent())
            .prop_map(|(who, claim, payer, patient, items, consent)| Op::Submit { who, claim, payer, patient, items, consent }),
        6 => (who(), claim_selector(), prop_oneof![4 => Just(0u8), 3 => 1..3u8, 1 => 3..5u8]).prop_map(|(who, claim, mode)| Op::Settle { who, claim, mode }),
        1 => (who(), claim_selector()).prop_map(|(who, claim)| Op::Reject { who, claim }),
        1 => (who(), claim_selector(), prop_oneof![4 => Just(0u8), 2 => Just(1u8), 1 => Just(2u8)]).prop_map(|(who, claim, consent)| Op::Withdraw { who, claim, consent }),
        1 => (who(), 2..5usize, 0..ACTORS).prop_map(|(who, patient, key)| Op::Register { who, patient, key }),
        1 => (who(), 0..7usize, prop::bool::weighted(0.3)).prop_map(|(who, member, freeze)| Op::Freeze { who, member, freeze }),
        1 => (who(), 0..4usize, 1..6u64, 1..6u64).prop_map(|(who, hospital, first, last)| Op::Allocate { who, hospital, first, last }),
        2 => (0..64usize).prop_map(|back| Op::Replay { back }),
        1 => (who(), 0..4usize, 0..4u8, prop_oneof![8 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)]).prop_map(|(who, payer, shape, skew)| Op::Policy { who, payer, shape, skew }),
        2 => (who(), claim_selector(), prop::bool::weighted(0.1)).prop_map(|(who, claim, empty)| Op::Pay { who, claim, empty }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let fault =
        prop_oneof![Just(Fault::WrongChain), Just(Fault::BadSignature), Just(Fault::Expired)];
    prop_oneof![
        24 => base_op(),
        1 => (base_op(), fault).prop_map(|(op, fault)| Op::Faulty { op: Box::new(op), fault }),
    ]
}

fn blocks() -> impl Strategy<Value = Vec<Vec<Op>>> {
    // The first block always issues some bills so that claims have something to contend for.
    (issue(), prop::collection::vec(prop::collection::vec(op(), 0..6), 1..10)).prop_map(
        |(first, mut blocks)| {
            blocks[0].insert(0, first);
            blocks
        },
    )
}

struct Harness {
    c: Consortium,
    keys: Vec<SigningKey>,
    members: Vec<MemberId>,
    f: TxFactory,
    history: Vec<Transaction>,
}

impl Harness {
    fn new() -> Self {
        let c = Consortium::demo("medledger-prop", 3);
        let mut keys = vec![c.regulator.key.clone()];
        keys.extend(c.hospitals.iter().map(|a| a.key.clone()));
        keys.push(c.social_security.key.clone());
        keys.extend(c.insurers.iter().map(|a| a.key.clone()));
        keys.push(c.platform.key.clone());
        keys.extend((0..4).map(|i| patient(i).key));
        keys.push(SigningKey::from_label("stranger"));
        let mut members = vec![c.regulator.id.clone()];
        members.extend(c.hospitals.iter().map(|a| a.id.clone()));
        members.push(c.social_security.id.clone());
        members.extend(c.insurers.iter().map(|a| a.id.clone()));
        members.push(c.platform.id.clone());
        let f = TxFactory::new(c.chain_id().clone(), 0);
        Self { c, keys, members, f, history: Vec::new() }
    }

    /// Bills 0-5 lie in hospital 0's range, 6-8 in hospital 1's, 9-11 under a second code
    /// that only an `Allocate` op opens.
    fn bill_id(&self, i: usize) -> BillId {
        let i = i as u64;
        match i {
            0..=5 => BillId::new(DEMO_BILL_CODE, 1 + i).unwrap(),
            6..=8 => BillId::new(DEMO_BILL_CODE, DEMO_RANGE_SIZE + i - 5).unwrap(),
            _ => BillId::new(SECOND_CODE, i - 8).unwrap(),
        }
    }

    fn payer(&self, i: usize) -> MemberId {
        // 0: social security, 1-2: insurers, 3: a hospital (not a payer).
        [3, 4, 5, 1].map(|m| self.members[m].clone())[i].clone()
    }

    fn key_of(&self, who: &Who, natural: usize) -> SigningKey {
        match who {
            Who::Natural => self.keys[natural].clone(),
            Who::Actor(i) => self.keys[*i].clone(),
        }
    }

    /// Claim selectors below `CLAIM_IDS` name a claim id directly; larger ones pick an
    /// existing claim by position, so that decisions usually meet a claim that exists.
    fn claim_pick(&self, model: &Model, c: usize) -> medledger_types::ClaimId {
        if c >= CLAIM_IDS && !model.claims.is_empty() {
            model.claims[c % model.claims.len()].id
        } else {
            claim_id((c % CLAIM_IDS) as u64)
        }
    }

    /// Bill selectors below `BILLS` name a bill directly; larger ones pick an issued bill.
    fn bill_pick(&self, model: &Model, b: usize) -> BillId {
        if b >= BILLS && !model.bills.is_empty() {
            model.bills[b % model.bills.len()].id
        } else {
            self.bill_id(b % BILLS)
        }
    }

    /// The actor index of the payer of claim `id` (social security when there is no such claim).
    fn payer_index(&self, model: &Model, id: medledger_types::ClaimId) -> usize {
        model.claims.iter().find(|x| x.id == id).map(|x| self.actor_index(&x.payer)).unwrap_or(3)
    }

    fn actor_index(&self, member: &MemberId) -> usize {
        self.members.iter().position(|m| m == member).unwrap_or(0)
    }

    /// Builds the transaction for `op`, consulting the model for natural signers.
    fn build(&mut self, op: &Op, model: &Model, height: u64) -> Option<Transaction> {
        let chain = self.c.chain_id().clone();
        let tx = match op {
            Op::Issue { who, bills } => {
                let natural =
                    if bills.first().is_some_and(|b| (6..=8).contains(&b.0)) { 2 } else { 1 };
                let mut issues = Vec::new();
                let mut bodies = Vec::new();
                for &(b, p, pay, pooled, fault) in bills {
                    let mut issue = bill(
                        self.bill_id(b),
                        patient(p).pseudonym,
                        PATIENT_PAY[pay],
                        if pooled { 500 } else { 0 },
                    );
                    if fault == 1 {
                        issue.amounts.total = Fen(issue.amounts.total.0 + 1);
                    }
                    // The readers the ledger requires: the patient as registered now, and the
                    // regulator; a fault leaves one out.
                    let mut readers = vec![self.c.regulator.encryption.public()];
                    readers.extend(model.patient_encryption_key(&issue.patient));
                    match fault {
                        2 => readers.truncate(1),
                        3 => {
                            readers.remove(0);
                        }
                        _ => {}
                    }
                    bodies.push(stub_body(&issue, &readers));
                    issues.push(issue);
                }
                let key = self.key_of(who, natural);
                self.f.sign(&key, Payload::IssueBills { bills: issues, bodies })
            }
            Op::Void { who, bill, red } => {
                let id = self.bill_pick(model, *bill);
                let natural = model
                    .bills
                    .iter()
                    .find(|b| b.id == id)
                    .map(|b| self.actor_index(&b.issuer))
                    .unwrap_or(1);
                let red_number = self.bill_id(*red).number;
                let key = self.key_of(who, natural);
                self.f.sign(&key, Payload::VoidBill { bill: id, red_number })
            }
            Op::Submit { who, claim: c, payer, patient: p, items, consent } => {
                // 100 and above: the owner of an issued bill, picked by position.
                let p = &if *p >= 100 && !model.bills.is_empty() {
                    let owner = model.bills[(*p - 100) % model.bills.len()].patient;
                    (0..4).find(|i| patient(*i).pseudonym == owner).unwrap_or(0)
                } else {
                    *p % 4
                };
                let own: Vec<BillId> = model
                    .bills
                    .iter()
                    .filter(|b| b.patient == patient(*p).pseudonym)
                    .map(|b| b.id)
                    .collect();
                let items: Vec<(BillId, u64)> = items
                    .iter()
                    .map(|&(raw, b, a)| {
                        let id = if raw || own.is_empty() {
                            self.bill_id(b)
                        } else {
                            own[b % own.len()]
                        };
                        (id, REQUEST[a])
                    })
                    .collect();
                let patient_key = patient(*p).key;
                let sub =
                    claim(claim_id(*c as u64), &self.payer(*payer), patient(*p).pseudonym, &items);
                let (signer, consent) = match consent {
                    0 => (self.key_of(who, 7 + p), None),
                    1 => (self.keys[6].clone(), Some(consent_submit(&chain, &patient_key, &sub))),
                    2 => (
                        self.keys[6].clone(),
                        Some(consent_submit(&chain, &patient(p + 1).key, &sub)),
                    ),
                    _ => {
                        let mut other = sub.clone();
                        other.items.reverse();
                        other.claim_id = claim_id(*c as u64 + 100);
                        (self.keys[6].clone(), Some(consent_submit(&chain, &patient_key, &other)))
                    }
                };
                self.f.sign(&signer, Payload::SubmitClaim { claim: sub, consent })
            }
            Op::Settle { who, claim: c, mode } => {
                let id = self.claim_pick(model, *c);
                let found = model.claims.iter().find(|x| x.id == id);
                let natural = found.map(|x| self.actor_index(&x.payer)).unwrap_or(3);
                let requested: Vec<u64> = found
                    .map(|x| x.items.iter().map(|i| i.amount.0).collect())
                    .unwrap_or_else(|| vec![1]);
                let approved: Vec<Fen> = match mode {
                    0 => requested.iter().map(|a| Fen(*a)).collect(),
                    1 => requested.iter().map(|a| Fen(a / 2)).collect(),
                    2 => requested.iter().map(|_| Fen(0)).collect(),
                    3 => requested.iter().map(|a| Fen(a + 1)).collect(),
                    _ => requested.iter().chain([&1]).map(|a| Fen(*a)).collect(),
                };
                let key = self.key_of(who, natural);
                let payment_reference = Text::new("PAY").unwrap();
                self.f
                    .sign(&key, Payload::SettleClaim { claim_id: id, approved, payment_reference })
            }
            Op::Reject { who, claim: c } => {
                let id = self.claim_pick(model, *c);
                let natural = self.payer_index(model, id);
                let key = self.key_of(who, natural);
                self.f.sign(
                    &key,
                    Payload::RejectClaim { claim_id: id, reason: Text::new("no").unwrap() },
                )
            }
            Op::Withdraw { who, claim: c, consent } => {
                let id = self.claim_pick(model, *c);
                let p = model.claims.iter().find(|x| x.id == id).map(|x| x.patient);
                let p_index = (0..4).find(|i| Some(patient(*i).pseudonym) == p).unwrap_or(0);
                match consent {
                    0 => {
                        let key = self.key_of(who, 7 + p_index);
                        self.f.sign(&key, Payload::WithdrawClaim { claim_id: id, consent: None })
                    }
                    1 => {
                        let consent = consent_withdraw(&chain, &patient(p_index).key, &id);
                        let key = self.keys[6].clone();
                        self.f.sign(
                            &key,
                            Payload::WithdrawClaim { claim_id: id, consent: Some(consent) },
                        )
                    }
                    _ => {
                        let consent =
                            consent_withdraw(&chain, &patient(p_index).key, &claim_id(99));
                        let key = self.keys[6].clone();
                        self.f.sign(
                            &key,
                            Payload::WithdrawClaim { claim_id: id, consent: Some(consent) },
                        )
                    }
                }
            }
            Op::Register { who, patient: p, key } => {
                // Mostly the pseudonym of the key being registered (as the ledger requires);
                // sometimes another patient's, which must be refused.
                let pseudonym = if *p == 2 {
                    patient(*p).pseudonym
                } else {
                    medledger_types::Pseudonym::of_key(&self.keys[*key].public_key())
                };
                let payload = Payload::RegisterPatient {
                    patient: pseudonym,
                    public_key: self.keys[*key].public_key(),
                    encryption_key: EncryptionSecret::from_signing_key(&self.keys[*key]).public(),
                };
                let signer = self.key_of(who, 6);
                self.f.sign(&signer, payload)
            }
            Op::Freeze { who, member, freeze } => {
                let member = self.members[*member].clone();
                let payload = if *freeze {
                    Payload::FreezeMember { member }
                } else {
                    Payload::UnfreezeMember { member }
                };
                let key = self.key_of(who, 0);
                self.f.sign(&key, payload)
            }
            Op::Allocate { who, hospital, first, last } => {
                let payload = Payload::AllocateRange {
                    hospital: self.members[[1, 2, 3, 1][*hospital]].clone(),
                    code: BillCode::new(SECOND_CODE).unwrap(),
                    first: BillNumber::new(*first).unwrap(),
                    last: BillNumber::new(*last).unwrap(),
                };
                let key = self.key_of(who, 0);
                self.f.sign(&key, payload)
            }
            Op::Policy { who, payer, shape, skew } => {
                let payer = self.payer(*payer);
                let next = model.policy(&payer).map_or(1, |p| p.version + 1);
                let version = match skew {
                    0 => next,
                    1 => next - 1,
                    _ => next + 1,
                };
                let shape = usize::from(*shape);
                let hospitals = [
                    vec![self.members[1].clone(), self.members[2].clone()],
                    vec![self.members[1].clone()],
                ][shape % 2]
                    .clone();
                let ratio = |category, ratio_bp| CategoryCoverage { category, ratio_bp };
                let policy = Policy {
                    payer: payer.clone(),
                    version,
                    coverage: vec![
                        ratio(ChargeCategory::Other, [10_000, 5_000, 7_000, 0][shape]),
                        ratio(ChargeCategory::Examination, 6_000),
                    ],
                    deductible_yearly: Fen([0, 100, 0, 1_000][shape]),
                    claim_cap: Fen([1_000, 400, 5_000, 1][shape]),
                    yearly_cap: Fen([2_000, 700, 100_000, 10][shape]),
                    hospitals,
                    auto_approve_max: Fen([100_000, 300, 0, 100_000][shape]),
                };
                let key = self.key_of(who, self.actor_index(&payer));
                self.f.sign(&key, Payload::RegisterPolicy { policy })
            }
            Op::Pay { who, claim: c, empty } => {
                let id = self.claim_pick(model, *c);
                let natural = self.payer_index(model, id);
                let key = self.key_of(who, natural);
                let reference = Text::new(if *empty { "" } else { "PAID-1" }).unwrap();
                self.f.sign(
                    &key,
                    Payload::RecordPayment { claim_id: id, payment_reference: reference },
                )
            }
            Op::Replay { back } => {
                if self.history.is_empty() {
                    return None;
                }
                return Some(
                    self.history[self.history.len() - 1 - back % self.history.len()].clone(),
                );
            }
            Op::Faulty { op, fault } => {
                let tx = self.build(op, model, height)?;
                let mut body = tx.body().clone();
                let key = self.keys
                    [self.keys.iter().position(|k| k.public_key() == body.signer).unwrap_or(0)]
                .clone();
                let faulty = match fault {
                    Fault::WrongChain => {
                        body.chain_id = ChainId::new("other-chain").unwrap();
                        Transaction::sign(body, &key)
                    }
                    Fault::BadSignature => {
                        body.nonce ^= 1 << 63;
                        Transaction::from_parts(body, tx.signature().clone())
                    }
                    Fault::Expired => {
                        body.expires_at_height = height.saturating_sub(1);
                        Transaction::sign(body, &key)
                    }
                };
                self.history.pop();
                self.history.push(faulty.clone());
                return Some(faulty);
            }
        };
        self.history.push(tx.clone());
        Some(tx)
    }
}

/// Runs one generated case; any disagreement or broken invariant fails it.
fn run_case(blocks: &[Vec<Op>]) -> Result<(), TestCaseError> {
    let mut h = Harness::new();
    let mut state = MemoryState::from_genesis(&h.c.genesis).expect("valid genesis");
    let mut model = Model::new(&h.c.genesis);
    for (i, ops) in blocks.iter().enumerate() {
        let height = i as u64 + 1;
        h.f.expires_at_height = height + 3;
        let txs: Vec<Transaction> =
            ops.iter().filter_map(|op| h.build(op, &model, height)).collect();
        let ctx = BlockContext { height, timestamp_ms: 1_000 * height };
        let receipts = execute_block(&mut state, &ctx, &txs);
        let expected = model.apply_block(height, ctx.timestamp_ms, &txs);
        for (got, want) in receipts.iter().zip(&expected) {
            prop_assert_eq!(got, want, "receipt differs from the model at height {}", height);
        }
        prop_assert_eq!(receipts.len(), expected.len());
        if let Err(violation) = state.audit() {
            return Err(TestCaseError::fail(format!(
                "invariant broken at height {height}: {violation}"
            )));
        }
        for b in &model.bills {
            let real = state.bill(&b.id).ok_or_else(|| TestCaseError::fail("bill missing"))?;
            prop_assert_eq!(real.reserved, model.reserved(b.id));
            prop_assert_eq!(real.reimbursed, model.reimbursed(b.id));
            prop_assert_eq!(real.voided_by, b.voided_by);
        }
        for c in &model.claims {
            let real = state.claim(&c.id).ok_or_else(|| TestCaseError::fail("claim missing"))?;
            let same = matches!(
                (&real.status, &c.status),
                (ClaimStatus::Locked, ModelStatus::Locked)
                    | (ClaimStatus::Settled { .. }, ModelStatus::Settled(_))
                    | (ClaimStatus::Rejected { .. }, ModelStatus::Closed("rejected"))
                    | (ClaimStatus::Withdrawn { .. }, ModelStatus::Closed("withdrawn"))
            );
            prop_assert!(same, "claim {} status differs", c.id);
            prop_assert_eq!(&real.adjudication, &c.adjudication, "claim {} adjudication", c.id);
            if let ClaimStatus::Settled { payment_reference, .. } = &real.status {
                prop_assert_eq!(Some(payment_reference), c.payment_reference.as_ref());
            }
            // Stored yearly usage equals the model's, summed from the settled claims.
            let year = medledger_ledger::policy::benefit_year(1_000 * height);
            prop_assert_eq!(
                state.year_usage(&c.payer, &c.patient, year),
                model.year_usage(&c.payer, &c.patient, year)
            );
        }
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("MEDLEDGER_PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000)
}

#[test]
fn ledger_matches_model_and_keeps_invariants() {
    let config = Config { cases: cases(), failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new(config);
    let start = std::time::Instant::now();
    let result = runner.run(&blocks(), |blocks| run_case(&blocks));
    println!("property cases run: {}, {:.1} s", cases(), start.elapsed().as_secs_f64());
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

/// The generator must actually reach the interesting outcomes, or the property above proves
/// little. Counts outcomes over a fixed sample and requires each kind to appear.
#[test]
fn workload_reaches_acceptances_and_every_common_rejection() {
    use std::collections::BTreeMap;
    let mut runner = TestRunner::deterministic();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for _ in 0..400 {
        let blocks = blocks().new_tree(&mut runner).unwrap().current();
        let mut h = Harness::new();
        let mut model = Model::new(&h.c.genesis);
        // Transactions whose first inclusion was rejected: included again, they must be
        // `replayed` (inclusion is final), which the model and the ledger agree on.
        let mut rejected_first = std::collections::HashSet::new();
        for (i, ops) in blocks.iter().enumerate() {
            let height = i as u64 + 1;
            h.f.expires_at_height = height + 3;
            let txs: Vec<Transaction> =
                ops.iter().filter_map(|op| h.build(op, &model, height)).collect();
            for receipt in model.apply_block(height, 1_000 * height, &txs) {
                match &receipt.outcome {
                    medledger_types::Outcome::Rejected(medledger_types::Rejection::Replayed) => {
                        if rejected_first.contains(&receipt.tx_id) {
                            *seen.entry("replayed_after_a_rejection".into()).or_default() += 1;
                        }
                    }
                    medledger_types::Outcome::Rejected(_) => {
                        rejected_first.insert(receipt.tx_id);
                    }
                    medledger_types::Outcome::Accepted(_) => {}
                }
                let key = match receipt.outcome {
                    medledger_types::Outcome::Accepted(effect) => {
                        format!("{effect:?}").split([' ', '{']).next().unwrap().to_string()
                    }
                    medledger_types::Outcome::Rejected(r) => r.code(),
                };
                *seen.entry(key).or_default() += 1;
            }
        }
    }
    println!("outcomes over 400 generated cases: {seen:?}");
    for needed in [
        "BillsIssued",
        "ClaimLocked",
        "ClaimSettled",
        "ClaimRejected",
        "ClaimWithdrawn",
        "BillVoided",
        "over_claim",
        "duplicate_claim",
        "replayed",
        "bad_signature",
        "wrong_chain_id",
        "expired",
        "claim_already_settled",
        "duplicate_bill",
        "not_authorized",
        "bill_has_claims",
        "bill_voided",
        "number_outside_range",
        "missing_body_wrap",
        "bad_consent_signature",
        "consent_key_mismatch",
        "ClaimAutoSettled",
        "PolicyRegistered",
        "PaymentRecorded",
        "policy_version_not_next",
        "payment_already_recorded",
        "claim_not_settled",
        "replayed_after_a_rejection",
        "pseudonym_not_of_key",
    ] {
        assert!(seen.contains_key(needed), "the workload never produced {needed}: {seen:?}");
    }
}

/// Test the test: with the over-claim check disabled, the property must fail.
#[cfg(feature = "planted-bugs")]
#[test]
fn planted_over_claim_bug_is_caught() {
    medledger_ledger::planted::set_skip_over_claim_check(true);
    let config = Config { cases: cases(), failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&blocks(), |blocks| run_case(&blocks));
    medledger_ledger::planted::set_skip_over_claim_check(false);
    match result {
        Err(failure) => println!("planted over-claim bug caught: {failure}"),
        Ok(()) => panic!("the property tests did not notice a disabled over-claim check"),
    }
}
