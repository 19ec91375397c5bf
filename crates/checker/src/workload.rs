//! A seeded workload that creates contention on purpose (`../shared/RELIABILITY.md`).
//!
//! Each round a hospital issues a batch of one to three bills, then every bill gets one of a
//! few contention scenarios, and the scenarios' steps are interleaved at random:
//!
//! - **payers race**: the social security bureau and an insurer claim parts of one bill that add
//!   up to one fen over its patient-pay, a second insurer claims the exact remainder; each payer
//!   settles (some partially, some reject), and one settlement is retried re-signed;
//! - **retried claim**: a claim is sent again byte for byte (an exact resend, to another node)
//!   and again re-signed under the same claim id; after a partial settlement an insurer claims
//!   one fen more than what is left, then exactly what is left;
//! - **withdraw and reclaim**: the patient (or the payment platform with the patient's consent)
//!   withdraws a claim while its payer tries to settle it, and another payer claims the freed
//!   amount;
//! - **void race**: the hospital voids a bill while a claim on it is filed.
//!
//! With [`WorkloadConfig::register_policy`], the workload first registers a claim policy for the
//! second insurer (the one a payers race asks for the exact remainder), so those claims are
//! adjudicated as their blocks execute and, under its ceiling, settled at once: its settlement or
//! rejection that follows is then refused (`claim_already_settled`), and its payment record
//! accepted. Above the ceiling, the claim waits as before and the payment record is refused.
//!
//! About one step in four is one signed transaction sent to two nodes. Every transaction is
//! signed with the key its role requires, so what the ledger refuses (`over_claim`,
//! `duplicate_claim`, `claim_already_settled`, `claim_closed`, `bill_voided`, …) it refuses
//! because of the contention, in whatever order the cluster happens to commit the steps.
//!
//! One round in two also carries a **foreign** transaction: a claim on one of the round's
//! bills, or an issuance of a fresh bill, signed for another chain ([`foreign_chain_id`]) and
//! otherwise valid. An honest node refuses it on admission (`wrong_chain_id`, a definite
//! failure) and never commits it; a node that commits it takes an effect the reference model
//! refuses, which the checker reports as a model mismatch (P5).
//!
//! The same seed always gives the same steps, byte for byte: the transactions' signatures are
//! deterministic and the demo keys derive from labels.

use crate::history::OpKind;
use medledger_testkit::{
    Consortium, Patient, TxFactory, bill, claim, consent_submit, consent_withdraw,
};
use medledger_types::{
    BillId, ChainId, ClaimId, ClaimSubmission, Fen, MemberId, Payload, SigningKey, Text,
    Transaction,
};
use std::collections::VecDeque;

/// One request of the workload.
#[derive(Clone, Debug)]
pub struct Step {
    /// The signed transaction.
    pub tx: Transaction,
    /// What it means to do.
    pub what: OpKind,
    /// The nodes (validator indexes) to send it to: one, or two for the same signed
    /// transaction submitted twice at once.
    pub send_to: Vec<usize>,
    /// The earlier step this one retries: the same transaction resent (same id), or the same
    /// intent re-signed (a new id, the same claim id or bill).
    pub retry_of: Option<usize>,
}

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadConfig {
    /// Seed of the generator.
    pub seed: u64,
    /// Nodes in the cluster; steps are sent to indexes `0..nodes`.
    pub nodes: usize,
    /// Rounds, each one issuance of one to three bills and their claims (about twenty steps).
    pub rounds: usize,
    /// Expiry height of every transaction. It must lie within `TX_LIFETIME_BLOCKS_MAX` of the
    /// heights at which the steps are sent, and after the last of them.
    pub expires_at_height: u64,
    /// The first bill number used in each demo hospital's range (1-based), so that several
    /// workloads can run on one chain without reusing bills.
    pub first_bill_number: u64,
    /// Begin with the second insurer registering policy version 1 ([`policy`]); set it for one
    /// workload per chain (a second registration of version 1 is refused, harmlessly).
    pub register_policy: bool,
}

impl WorkloadConfig {
    /// Eight rounds from `seed` for `nodes` nodes, on a fresh chain.
    pub fn new(seed: u64, nodes: usize) -> Self {
        Self {
            seed,
            nodes,
            rounds: 8,
            expires_at_height: 1_000,
            first_bill_number: 1,
            register_policy: false,
        }
    }
}

/// The second insurer's policy in the workload: half of everything after a 5.00 deductible, at
/// most 80.00 a claim, settling by itself up to 60.00, at every demo hospital. Bills of 10.00 to
/// 200.00 make some claims settle at once and leave others waiting.
pub fn policy(c: &Consortium) -> medledger_types::Policy {
    use medledger_types::{CategoryCoverage, ChargeCategory, Policy};
    Policy {
        payer: c.insurers[1].id.clone(),
        version: 1,
        coverage: vec![CategoryCoverage { category: ChargeCategory::Other, ratio_bp: 5_000 }],
        deductible_yearly: Fen(500),
        claim_cap: Fen(8_000),
        yearly_cap: Fen(1_000_000),
        hospitals: c.hospitals.iter().map(|h| h.id.clone()).collect(),
        auto_approve_max: Fen(6_000),
    }
}

/// The chain id the workload's foreign transactions are signed for: `chain`'s id with
/// `-foreign` appended (shortened to fit an identifier), never `chain` itself.
pub fn foreign_chain_id(chain: &ChainId) -> ChainId {
    const SUFFIX: &str = "-foreign";
    let keep = medledger_types::limits::IDENT_BYTES_MAX - SUFFIX.len();
    let base = chain.as_str();
    // Chain ids are ASCII, so any byte index is a character boundary.
    let base = &base[..base.len().min(keep)];
    ChainId::new(format!("{base}{SUFFIX}")).expect("an ASCII identifier within the limit")
}

/// The steps of the workload `config` describes, on the demo consortium `c`.
///
/// # Panics
/// If `config.nodes` is zero, or `c` has no hospital, insurer or patient: the scenarios need
/// each of them.
pub fn generate(c: &Consortium, config: &WorkloadConfig) -> Vec<Step> {
    assert!(config.nodes > 0, "a workload needs at least one node");
    assert!(
        !c.hospitals.is_empty() && c.insurers.len() >= 2 && !c.patients.is_empty(),
        "the workload needs a hospital, two insurers and a patient"
    );
    let mut generator = Generator {
        c,
        rng: SplitMix64(config.seed),
        factory: TxFactory::new(c.chain_id().clone(), config.expires_at_height),
        foreign: TxFactory::new(foreign_chain_id(c.chain_id()), config.expires_at_height),
        foreign_sent: 0,
        nodes: config.nodes,
        next_number: vec![config.first_bill_number; c.hospitals.len()],
        references: 0,
    };
    let mut steps = Vec::new();
    if config.register_policy {
        let mut drafts = Vec::new();
        let payload = Payload::RegisterPolicy { policy: policy(c) };
        generator.sign(&mut drafts, &c.insurers[1].key, payload);
        generator.interleave(vec![drafts], &mut steps);
    }
    for round in 0..config.rounds {
        generator.round(round % c.hospitals.len(), &mut steps);
    }
    steps
}

/// splitmix64 (Steele, Lea and Flood): small, fast and good enough to pick test inputs; no
/// dependency needed.
#[derive(Clone, Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `low..=high` (slightly biased; irrelevant here).
    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next_u64() % (high - low + 1)
    }

    /// An index below `len` (> 0).
    fn index(&mut self, len: usize) -> usize {
        let len = u64::try_from(len).expect("usize fits u64");
        usize::try_from(self.next_u64() % len).expect("below a usize")
    }

    /// True with probability `numerator / denominator`.
    fn chance(&mut self, numerator: u64, denominator: u64) -> bool {
        self.next_u64() % denominator < numerator
    }
}

/// A step of one scenario, before the scenarios are interleaved: `retry_of` indexes the
/// scenario's own drafts.
struct Draft {
    tx: Transaction,
    send_to: Vec<usize>,
    retry_of: Option<usize>,
}

/// A bill as the scenarios need it.
#[derive(Clone, Copy)]
struct NewBill<'a> {
    id: BillId,
    hospital: usize,
    patient: &'a Patient,
    patient_pay: u64,
}

struct Generator<'a> {
    c: &'a Consortium,
    rng: SplitMix64,
    factory: TxFactory,
    /// Signs for another chain ([`foreign_chain_id`]).
    foreign: TxFactory,
    /// Foreign transactions so far: they alternate between claims and issuances.
    foreign_sent: u64,
    nodes: usize,
    next_number: Vec<u64>,
    references: u64,
}

impl<'a> Generator<'a> {
    /// One round: an issuance by `hospital`, then its bills' scenarios interleaved.
    fn round(&mut self, hospital: usize, steps: &mut Vec<Step>) {
        let count = self.rng.between(1, 3);
        let bills: Vec<NewBill<'a>> = (0..count)
            .map(|_| {
                let id = self.next_bill(hospital);
                let patient = &self.c.patients[self.rng.index(self.c.patients.len())];
                NewBill { id, hospital, patient, patient_pay: self.rng.between(1_000, 20_000) }
            })
            .collect();
        let issues = bills
            .iter()
            .map(|b| bill(b.id, b.patient.pseudonym, b.patient_pay, self.rng.between(0, 30_000)))
            .collect();
        let c = self.c;
        let mut issuance = Vec::new();
        self.sign(&mut issuance, &c.hospitals[hospital].key, c.issue(issues));
        if self.rng.chance(1, 3) {
            self.resend(&mut issuance, 0);
        }
        let mut scenarios = Vec::new();
        if self.rng.chance(1, 2) {
            let mut drafts = Vec::new();
            self.foreign_transaction(&mut drafts, hospital, &bills);
            scenarios.push(drafts);
        }
        for b in bills {
            let mut drafts = Vec::new();
            match self.rng.index(4) {
                0 => self.payers_race(&mut drafts, b),
                1 => self.retried_claim(&mut drafts, b),
                2 => self.withdraw_and_reclaim(&mut drafts, b),
                _ => self.void_race(&mut drafts, b),
            }
            scenarios.push(drafts);
        }
        // The issuance goes first; then the bills' scenarios race each other.
        self.interleave(vec![issuance], steps);
        self.interleave(scenarios, steps);
    }

    fn next_bill(&mut self, hospital: usize) -> BillId {
        let n = self.next_number[hospital];
        self.next_number[hospital] += 1;
        self.c.bill_id(hospital, n)
    }

    /// Merges scenarios into `steps` in a random order that keeps each scenario's own order.
    fn interleave(&mut self, scenarios: Vec<Vec<Draft>>, steps: &mut Vec<Step>) {
        let mut global: Vec<Vec<usize>> = vec![Vec::new(); scenarios.len()];
        let mut queues: Vec<VecDeque<Draft>> = scenarios.into_iter().map(VecDeque::from).collect();
        loop {
            let open: Vec<usize> = (0..queues.len()).filter(|&i| !queues[i].is_empty()).collect();
            if open.is_empty() {
                break;
            }
            let q = open[self.rng.index(open.len())];
            let draft = queues[q].pop_front().expect("the queue is not empty");
            let retry_of = draft.retry_of.map(|local| global[q][local]);
            global[q].push(steps.len());
            let what = OpKind::of(&draft.tx.body().payload);
            steps.push(Step { tx: draft.tx, what, send_to: draft.send_to, retry_of });
        }
    }

    fn send_to(&mut self) -> Vec<usize> {
        let first = self.rng.index(self.nodes);
        if self.nodes > 1 && self.rng.chance(1, 4) {
            let second = (first + 1 + self.rng.index(self.nodes - 1)) % self.nodes;
            vec![first, second]
        } else {
            vec![first]
        }
    }

    /// Signs a new transaction; returns its draft index.
    fn sign(&mut self, drafts: &mut Vec<Draft>, signer: &SigningKey, payload: Payload) -> usize {
        let tx = self.factory.sign(signer, payload);
        let send_to = self.send_to();
        drafts.push(Draft { tx, send_to, retry_of: None });
        drafts.len() - 1
    }

    /// Signs `payload` again (a new nonce, so a new transaction id) as a retry of `of`.
    fn resign(
        &mut self,
        drafts: &mut Vec<Draft>,
        of: usize,
        signer: &SigningKey,
        payload: Payload,
    ) {
        let i = self.sign(drafts, signer, payload);
        drafts[i].retry_of = Some(of);
    }

    /// Sends draft `of` again, byte for byte, to one node.
    fn resend(&mut self, drafts: &mut Vec<Draft>, of: usize) {
        let tx = drafts[of].tx.clone();
        let node = self.rng.index(self.nodes);
        drafts.push(Draft { tx, send_to: vec![node], retry_of: Some(of) });
    }

    fn claim_id(&mut self) -> ClaimId {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&self.rng.next_u64().to_be_bytes());
        id[8..].copy_from_slice(&self.rng.next_u64().to_be_bytes());
        ClaimId(id)
    }

    /// A claim on `b` to `payer` for `amount`, filed by the patient or, half the time, by the
    /// payment platform with the patient's consent.
    fn submission(&mut self, b: NewBill<'a>, payer: &MemberId, amount: u64) -> ClaimSubmission {
        claim(self.claim_id(), payer, b.patient.pseudonym, &[(b.id, amount)])
    }

    fn file(&mut self, b: NewBill<'a>, submission: ClaimSubmission) -> (&'a SigningKey, Payload) {
        if self.rng.chance(1, 2) {
            (&b.patient.key, Payload::SubmitClaim { claim: submission, consent: None })
        } else {
            let consent = consent_submit(self.c.chain_id(), &b.patient.key, &submission);
            (
                &self.c.platform.key,
                Payload::SubmitClaim { claim: submission, consent: Some(consent) },
            )
        }
    }

    /// Files a new claim; returns its id and draft index.
    fn submit(
        &mut self,
        drafts: &mut Vec<Draft>,
        b: NewBill<'a>,
        payer: &MemberId,
        amount: u64,
    ) -> (ClaimId, usize) {
        let submission = self.submission(b, payer, amount);
        let id = submission.claim_id;
        let (signer, payload) = self.file(b, submission);
        (id, self.sign(drafts, signer, payload))
    }

    fn settlement(&mut self, claim_id: ClaimId, approved: u64) -> Payload {
        self.references += 1;
        Payload::SettleClaim {
            claim_id,
            approved: vec![Fen(approved)],
            payment_reference: Text::new(format!("PAY-{:08}", self.references))
                .expect("a short reference is valid text"),
        }
    }

    fn withdrawal(&mut self, b: NewBill<'a>, claim_id: ClaimId) -> (&'a SigningKey, Payload) {
        if self.rng.chance(1, 2) {
            (&b.patient.key, Payload::WithdrawClaim { claim_id, consent: None })
        } else {
            let consent = consent_withdraw(self.c.chain_id(), &b.patient.key, &claim_id);
            (&self.c.platform.key, Payload::WithdrawClaim { claim_id, consent: Some(consent) })
        }
    }

    /// Two payers claim parts adding up to one fen over the bill; a third claims the exact
    /// remainder.
    fn payers_race(&mut self, drafts: &mut Vec<Draft>, b: NewBill<'a>) {
        let c = self.c;
        let first = (b.patient_pay * self.rng.between(30, 70) / 100).max(1);
        let remainder = b.patient_pay - first;
        let (social, _) = self.submit(drafts, b, &c.social_security.id, first);
        let (over, _) = self.submit(drafts, b, &c.insurers[0].id, remainder + 1);
        let (exact, _) = self.submit(drafts, b, &c.insurers[1].id, remainder);
        let approved = if self.rng.chance(1, 2) { first } else { first * 3 / 4 };
        let payload = self.settlement(social, approved);
        let settle = self.sign(drafts, &c.social_security.key, payload);
        let payload = self.settlement(over, remainder + 1);
        self.sign(drafts, &c.insurers[0].key, payload);
        if self.rng.chance(1, 3) {
            let reason = Text::new("not covered by the policy").expect("valid text");
            self.sign(drafts, &c.insurers[1].key, Payload::RejectClaim { claim_id: exact, reason });
        } else {
            let payload = self.settlement(exact, remainder / 2);
            self.sign(drafts, &c.insurers[1].key, payload);
        }
        if self.rng.chance(1, 2) {
            // Its payment system records the payment: accepted when the insurer's policy
            // settled the claim as it was accepted, refused otherwise.
            self.references += 1;
            let payment_reference = Text::new(format!("AUTO-{:08}", self.references))
                .expect("a short reference is valid text");
            let payload = Payload::RecordPayment { claim_id: exact, payment_reference };
            self.sign(drafts, &c.insurers[1].key, payload);
        }
        // The payer's system retries its settlement under a new signature.
        let payload = self.settlement(social, approved);
        self.resign(drafts, settle, &c.social_security.key, payload);
    }

    /// A claim resent byte for byte and re-signed under the same claim id; then a partial
    /// settlement and two claims on what is left, one of them a fen too many.
    fn retried_claim(&mut self, drafts: &mut Vec<Draft>, b: NewBill<'a>) {
        let c = self.c;
        let submission = self.submission(b, &c.social_security.id, b.patient_pay);
        let id = submission.claim_id;
        let (signer, payload) = self.file(b, submission.clone());
        let first = self.sign(drafts, signer, payload);
        self.resend(drafts, first);
        let (signer, payload) = self.file(b, submission);
        self.resign(drafts, first, signer, payload);
        let approved = b.patient_pay * self.rng.between(50, 90) / 100;
        let payload = self.settlement(id, approved);
        self.sign(drafts, &c.social_security.key, payload);
        let left = b.patient_pay - approved;
        let (over, _) = self.submit(drafts, b, &c.insurers[0].id, left + 1);
        let (exact, _) = self.submit(drafts, b, &c.insurers[0].id, left);
        let payload = self.settlement(exact, left);
        self.sign(drafts, &c.insurers[0].key, payload);
        // Settling the refused over-claim is refused too (`unknown_claim`).
        let payload = self.settlement(over, left + 1);
        self.sign(drafts, &c.insurers[0].key, payload);
    }

    /// A claim withdrawn while its payer settles it; another payer claims the freed amount.
    fn withdraw_and_reclaim(&mut self, drafts: &mut Vec<Draft>, b: NewBill<'a>) {
        let c = self.c;
        let (first, _) = self.submit(drafts, b, &c.insurers[1].id, b.patient_pay);
        let (signer, payload) = self.withdrawal(b, first);
        let withdraw = self.sign(drafts, signer, payload);
        let payload = self.settlement(first, b.patient_pay);
        self.sign(drafts, &c.insurers[1].key, payload);
        let (second, _) = self.submit(drafts, b, &c.social_security.id, b.patient_pay);
        let payload = self.settlement(second, b.patient_pay);
        self.sign(drafts, &c.social_security.key, payload);
        let (signer, payload) = self.withdrawal(b, first);
        self.resign(drafts, withdraw, signer, payload);
    }

    /// A transaction signed for another chain, otherwise valid: in turn a claim on one of the
    /// round's bills (filed by the patient, or by the platform with the patient's consent to
    /// that chain) and an issuance of a fresh bill by the round's hospital.
    fn foreign_transaction(
        &mut self,
        drafts: &mut Vec<Draft>,
        hospital: usize,
        bills: &[NewBill<'a>],
    ) {
        let c = self.c;
        self.foreign_sent += 1;
        let (signer, payload) = if self.foreign_sent % 2 == 1 {
            let b = bills[self.rng.index(bills.len())];
            let payers = [&c.social_security.id, &c.insurers[0].id, &c.insurers[1].id];
            let payer = payers[self.rng.index(payers.len())];
            let amount = self.rng.between(1, b.patient_pay);
            let submission = self.submission(b, payer, amount);
            if self.rng.chance(1, 2) {
                (&b.patient.key, Payload::SubmitClaim { claim: submission, consent: None })
            } else {
                let chain = foreign_chain_id(c.chain_id());
                let consent = consent_submit(&chain, &b.patient.key, &submission);
                let payload = Payload::SubmitClaim { claim: submission, consent: Some(consent) };
                (&c.platform.key, payload)
            }
        } else {
            let id = self.next_bill(hospital);
            let patient = &c.patients[self.rng.index(c.patients.len())];
            let issue = bill(id, patient.pseudonym, self.rng.between(1_000, 20_000), 0);
            (&c.hospitals[hospital].key, c.issue(vec![issue]))
        };
        let tx = self.foreign.sign(signer, payload);
        let send_to = self.send_to();
        drafts.push(Draft { tx, send_to, retry_of: None });
    }

    /// The hospital voids the bill while a claim on it is filed; the void is retried.
    fn void_race(&mut self, drafts: &mut Vec<Draft>, b: NewBill<'a>) {
        let c = self.c;
        let red_number = self.next_bill(b.hospital).number;
        let key = &c.hospitals[b.hospital].key;
        let void = self.sign(drafts, key, Payload::VoidBill { bill: b.id, red_number });
        let (claimed, _) = self.submit(drafts, b, &c.social_security.id, b.patient_pay);
        let payload = self.settlement(claimed, b.patient_pay);
        self.sign(drafts, &c.social_security.key, payload);
        self.resign(drafts, void, key, Payload::VoidBill { bill: b.id, red_number });
    }
}
