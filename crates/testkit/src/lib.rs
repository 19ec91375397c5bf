//! A deterministic demo consortium and transaction builders for medledger tests, benchmarks
//! and demos.
//!
//! Every key is derived from a label ([`SigningKey::from_label`]), so the same consortium comes
//! out on every run and machine. Never use these keys for anything real.

pub mod json_schema;

use medledger_crypto::{Domain, SigningKey, hash};
pub use medledger_privacy::EncryptionSecret;
use medledger_types::{
    BillAmounts, BillCode, BillId, BillIssue, BillNumber, BodyNonce, CategoryAmount, ChainId,
    ChargeCategory, ClaimId, ClaimItem, ClaimSubmission, Digest, Disclosure, EncryptionKey, Fen,
    Genesis, GenesisMember, GenesisPatient, KeyWrap, MemberId, PatientConsent, Payload, Policy,
    Pseudonym, RangeAllocation, Role, Roles, SealedBody, Text, Transaction, TxBody, VisitType,
    WrappedKey,
};

/// A member and its signing key.
#[derive(Clone, Debug)]
pub struct Actor {
    /// The member id.
    pub id: MemberId,
    /// Its key.
    pub key: SigningKey,
    /// Its body-reading key, derived from its signing key.
    pub encryption: EncryptionSecret,
}

impl Actor {
    /// The member `id` signing with `key` (its body-reading key derived from it).
    pub fn new(id: &str, key: SigningKey) -> Self {
        let encryption = EncryptionSecret::from_signing_key(&key);
        Self { id: MemberId::new(id).expect("demo ids are valid"), key, encryption }
    }
}

/// A patient and their wallet key.
#[derive(Clone, Debug)]
pub struct Patient {
    /// The pseudonym.
    pub pseudonym: Pseudonym,
    /// The wallet key.
    pub key: SigningKey,
    /// The key their bill bodies are wrapped to, derived from the wallet key.
    pub encryption: EncryptionSecret,
    /// The wallet the identity was derived from (generated consortia only).
    pub wallet: Option<medledger_privacy::Wallet>,
}

impl Patient {
    /// The patient `pseudonym` signing with `key` (no wallet).
    pub fn new(pseudonym: Pseudonym, key: SigningKey) -> Self {
        let encryption = EncryptionSecret::from_signing_key(&key);
        Self { pseudonym, key, encryption, wallet: None }
    }
}

/// The bill code used by the demo consortium: region 4401 (Guangzhou), type 01, year 26.
pub const DEMO_BILL_CODE: u32 = 44_010_126;

/// Bill numbers allocated to each demo hospital.
pub const DEMO_RANGE_SIZE: u64 = 10_000_000;

/// The demo consortium: a regulator, two hospitals, the social security bureau, two insurers,
/// the payment platform, and some patients.
#[derive(Clone, Debug)]
pub struct Consortium {
    /// The genesis describing it.
    pub genesis: Genesis,
    /// The local finance bureau.
    pub regulator: Actor,
    /// Two hospitals; hospital `i` owns numbers `i*DEMO_RANGE_SIZE+1 ..= (i+1)*DEMO_RANGE_SIZE`.
    pub hospitals: Vec<Actor>,
    /// The social security bureau.
    pub social_security: Actor,
    /// Two commercial insurers.
    pub insurers: Vec<Actor>,
    /// The payment platform.
    pub platform: Actor,
    /// Registered patients.
    pub patients: Vec<Patient>,
}

fn actor(id: &str) -> Actor {
    Actor::new(id, SigningKey::from_label(id))
}

fn member(actor: &Actor, name: &str, roles: &[Role]) -> GenesisMember {
    GenesisMember {
        id: actor.id.clone(),
        name: name.to_string(),
        roles: Roles::of(roles),
        keys: vec![actor.key.public_key()],
        encryption_key: Some(actor.encryption.public()),
        // The regulator reads every body (each access recorded on the ledger).
        body_reader: roles.contains(&Role::Regulator),
    }
}

/// The demo patient number `i`.
pub fn patient(i: usize) -> Patient {
    let label = format!("patient-{i}");
    let digest = hash(Domain::TestKey, &[b"pseudonym", label.as_bytes()]);
    let mut pseudonym = [0u8; 16];
    pseudonym.copy_from_slice(&digest.0[..16]);
    Patient::new(Pseudonym(pseudonym), SigningKey::from_label(&label))
}

/// A patient not in any genesis, whose pseudonym is derived from its key as registration
/// requires (`Pseudonym::of_key`); the same on every run.
pub fn newcomer(i: usize) -> Patient {
    let key = SigningKey::from_label(&format!("newcomer-{i}"));
    Patient::new(Pseudonym::of_key(&key.public_key()), key)
}

impl Consortium {
    /// The demo consortium on `chain_id` with `patients` registered patients, every key derived
    /// from a label (the same on every run).
    pub fn demo(chain_id: &str, patients: usize) -> Self {
        Self::build(chain_id, (0..patients).map(patient).collect(), actor)
    }

    /// The demo consortium's shape with fresh random keys, for a real (demo) network. Each
    /// patient has a wallet (a random seed, in [`Patient::wallet`]) and is registered with the
    /// identity it derives for City Central Hospital: pseudonym and keys that nothing on the
    /// ledger links to the identities the same wallet derives for other institutions.
    pub fn generate(chain_id: &str, patients: usize) -> Self {
        let home = MemberId::new("city-central-hospital").expect("demo ids are valid");
        let patients = (0..patients)
            .map(|_| {
                let wallet = medledger_privacy::Wallet::generate();
                let identity = wallet.identity(&home);
                let mut patient = Patient::new(identity.pseudonym, identity.signing_key);
                patient.wallet = Some(wallet);
                patient
            })
            .collect();
        Self::build(chain_id, patients, |id| Actor::new(id, SigningKey::generate()))
    }

    fn build(chain_id: &str, patients: Vec<Patient>, actor: impl Fn(&str) -> Actor) -> Self {
        let regulator = actor("finance-bureau");
        let hospitals = vec![actor("city-central-hospital"), actor("childrens-hospital")];
        let social_security = actor("social-security");
        let insurers = vec![actor("ping-health"), actor("tai-insurance")];
        let platform = actor("wallet-platform");
        let code = BillCode::new(DEMO_BILL_CODE).expect("valid code");
        let genesis = Genesis {
            chain_id: ChainId::new(chain_id).expect("valid chain id"),
            genesis_time_ms: 1_790_000_000_000,
            members: vec![
                member(&regulator, "Local Finance Bureau", &[Role::Regulator]),
                member(&hospitals[0], "City Central Hospital", &[Role::Hospital]),
                member(&hospitals[1], "Children's Hospital", &[Role::Hospital]),
                member(&social_security, "Social Security Bureau", &[Role::SocialSecurity]),
                member(&insurers[0], "Ping Health Insurance", &[Role::Insurer]),
                member(&insurers[1], "Tai Insurance", &[Role::Insurer]),
                member(&platform, "Wallet Payment Platform", &[Role::PaymentPlatform]),
            ],
            patients: patients
                .iter()
                .map(|p| GenesisPatient {
                    pseudonym: p.pseudonym,
                    public_key: p.key.public_key(),
                    encryption_key: p.encryption.public(),
                })
                .collect(),
            ranges: hospitals
                .iter()
                .enumerate()
                .map(|(i, h)| RangeAllocation {
                    hospital: h.id.clone(),
                    code,
                    first: number(i as u64 * DEMO_RANGE_SIZE + 1),
                    last: number((i as u64 + 1) * DEMO_RANGE_SIZE),
                })
                .collect(),
            validators: Vec::new(),
            synthetic_bills: None,
        };
        Self { genesis, regulator, hospitals, social_security, insurers, platform, patients }
    }

    /// Every member with its key, regulator first.
    pub fn actors(&self) -> Vec<&Actor> {
        let mut all = vec![&self.regulator];
        all.extend(&self.hospitals);
        all.push(&self.social_security);
        all.extend(&self.insurers);
        all.push(&self.platform);
        all
    }

    /// The chain id.
    pub fn chain_id(&self) -> &ChainId {
        &self.genesis.chain_id
    }

    /// The keys the ledger requires a body of `patient`'s bill to be wrapped to: the patient's
    /// (when one of this consortium's patients) and the regulator's.
    pub fn required_readers(&self, patient: &Pseudonym) -> Vec<EncryptionKey> {
        required_readers(&self.genesis, patient)
    }

    /// An issuance of `bills` with stand-in sealed bodies addressed to the readers the ledger
    /// requires (see [`stub_body`]). For ledger tests and benchmarks, where nobody opens them.
    pub fn issue(&self, bills: Vec<BillIssue>) -> Payload {
        stub_issue(bills, |b| self.required_readers(&b.patient))
    }

    /// The `n`th bill id (1-based) in hospital `h`'s demo range.
    pub fn bill_id(&self, h: usize, n: u64) -> BillId {
        BillId {
            code: BillCode::new(DEMO_BILL_CODE).expect("valid code"),
            number: number(h as u64 * DEMO_RANGE_SIZE + n),
        }
    }
}

fn number(n: u64) -> BillNumber {
    BillNumber::new(n).expect("demo numbers are valid")
}

/// An outpatient bill whose total is `patient_pay + pooled_fund`.
pub fn bill(id: BillId, patient: Pseudonym, patient_pay: u64, pooled_fund: u64) -> BillIssue {
    BillIssue {
        id,
        visit_type: VisitType::Outpatient,
        patient,
        amounts: BillAmounts {
            total: Fen(patient_pay + pooled_fund),
            pooled_fund: Fen(pooled_fund),
            personal_account: Fen::ZERO,
            other_fund: Fen::ZERO,
            patient_pay: Fen(patient_pay),
        },
        categories: Vec::new(),
        body_commitment: Digest([7; 32]),
    }
}

/// A stand-in for a sealed body: deterministic bytes of a typical body's size, with key wraps
/// addressed to `readers` and to an issuer's copy. It has the shape the ledger checks, but
/// nothing opens it: real bodies come from `medledger_privacy::seal`.
pub fn stub_body(bill: &BillIssue, readers: &[EncryptionKey]) -> SealedBody {
    let id = bill.id.to_string();
    let seed = |what: &[u8], i: usize| {
        hash(Domain::TestKey, &[what, id.as_bytes(), &(i as u64).to_be_bytes()]).0
    };
    let mut ciphertext = Vec::with_capacity(STUB_CIPHERTEXT_BYTES);
    for i in 0..STUB_CIPHERTEXT_BYTES.div_ceil(32) {
        ciphertext.extend_from_slice(&seed(b"ciphertext", i));
    }
    ciphertext.truncate(STUB_CIPHERTEXT_BYTES);
    let mut nonce = [0u8; 24];
    nonce.copy_from_slice(&seed(b"nonce", 0)[..24]);
    let issuer_copy = EncryptionKey(seed(b"issuer-copy", 0));
    let wraps = readers
        .iter()
        .chain(std::iter::once(&issuer_copy))
        .enumerate()
        .map(|(i, recipient)| stub_wrap(recipient, &seed(b"wrap", i)))
        .collect();
    SealedBody { nonce: BodyNonce(nonce), ciphertext, wraps }
}

/// Ciphertext size of a [`stub_body`]: an outpatient body of a few itemised charges.
pub const STUB_CIPHERTEXT_BYTES: usize = 400;

fn stub_wrap(recipient: &EncryptionKey, seed: &[u8; 32]) -> KeyWrap {
    let mut wrapped = [0u8; 48];
    wrapped[..32].copy_from_slice(seed);
    wrapped[32..].copy_from_slice(&seed[..16]);
    KeyWrap {
        recipient: *recipient,
        encapsulated: EncryptionKey(*seed),
        wrapped_key: WrappedKey(wrapped),
    }
}

/// The keys the ledger requires a body of `patient`'s bill to be wrapped to, as far as
/// `genesis` tells: its body readers' and, for a patient it registers, the patient's.
pub fn required_readers(genesis: &Genesis, patient: &Pseudonym) -> Vec<EncryptionKey> {
    let mut readers: Vec<EncryptionKey> =
        genesis.members.iter().filter(|m| m.body_reader).filter_map(|m| m.encryption_key).collect();
    if let Some(p) = genesis.patients.iter().find(|p| p.pseudonym == *patient) {
        readers.push(p.encryption_key);
    }
    readers
}

/// An issuance of `bills` with [`stub_body`]s addressed to the readers `genesis` requires.
pub fn stub_issue_for(genesis: &Genesis, bills: Vec<BillIssue>) -> Payload {
    stub_issue(bills, |b| required_readers(genesis, &b.patient))
}

/// An issuance of `bills`, each with a [`stub_body`] addressed to `readers(bill)`.
pub fn stub_issue(
    bills: Vec<BillIssue>,
    readers: impl Fn(&BillIssue) -> Vec<EncryptionKey>,
) -> Payload {
    let bodies = bills.iter().map(|b| stub_body(b, &readers(b))).collect();
    Payload::IssueBills { bills, bodies }
}

/// A stand-in disclosure of `bill` to `payer_key` (shape only, like [`stub_body`]).
pub fn stub_disclosure(bill: BillId, payer_key: &EncryptionKey) -> Disclosure {
    let seed = hash(Domain::TestKey, &[b"disclosure", bill.to_string().as_bytes()]).0;
    Disclosure { bill, wrap: stub_wrap(payer_key, &seed) }
}

/// A realistic outpatient body for `patient_name` (ID `patient_id`) whose three itemised
/// charges add up to `total` fen, for demos and end-to-end tests.
pub fn sample_body(
    patient_name: &str,
    patient_id: &str,
    total: u64,
) -> medledger_privacy::PrivateBody {
    use medledger_privacy::ChargeItem;
    let item = |code: &str, name: &str, category, amount: u64, self_paid: u64| ChargeItem {
        code: code.to_string(),
        name: name.to_string(),
        category,
        unit_price: Fen(amount),
        quantity: 1,
        amount: Fen(amount),
        self_paid: Fen(self_paid),
    };
    let consultation = total / 10;
    let examination = total * 3 / 10;
    let medicine = total - consultation - examination;
    medledger_privacy::PrivateBody {
        patient_name: patient_name.to_string(),
        patient_id: patient_id.to_string(),
        department: "呼吸内科门诊 Respiratory outpatient".to_string(),
        diagnosis: "J18.900 社区获得性肺炎 community-acquired pneumonia".to_string(),
        items: vec![
            item(
                "110200001",
                "副主任医师诊查费 consultation",
                ChargeCategory::Consultation,
                consultation,
                0,
            ),
            item(
                "250101015",
                "血细胞分析 blood count",
                ChargeCategory::Examination,
                examination,
                0,
            ),
            item(
                "XJ01DDA032A001",
                "头孢克肟胶囊 cefixime",
                ChargeCategory::WesternMedicine,
                medicine,
                medicine / 5,
            ),
        ],
        payment_channel: "wallet".to_string(),
    }
}

/// A claim id from a number.
pub fn claim_id(n: u64) -> ClaimId {
    let mut id = [0u8; 16];
    id[8..].copy_from_slice(&n.to_be_bytes());
    ClaimId(id)
}

/// A claim submission.
pub fn claim(
    id: ClaimId,
    payer: &MemberId,
    patient: Pseudonym,
    items: &[(BillId, u64)],
) -> ClaimSubmission {
    ClaimSubmission {
        claim_id: id,
        payer: payer.clone(),
        patient,
        items: items
            .iter()
            .map(|(bill, amount)| ClaimItem { bill: *bill, amount: Fen(*amount) })
            .collect(),
        disclosures: Vec::new(),
    }
}

/// The patient's consent to `claim`.
pub fn consent_submit(
    chain_id: &ChainId,
    patient: &SigningKey,
    claim: &ClaimSubmission,
) -> PatientConsent {
    PatientConsent::to_submit(chain_id, patient, claim)
}

/// The patient's consent to withdrawing `claim_id`.
pub fn consent_withdraw(
    chain_id: &ChainId,
    patient: &SigningKey,
    claim_id: &ClaimId,
) -> PatientConsent {
    PatientConsent::to_withdraw(chain_id, patient, claim_id)
}

/// Builds signed transactions with fresh nonces.
#[derive(Debug)]
pub struct TxFactory {
    chain_id: ChainId,
    next_nonce: u64,
    /// Expiry given to new transactions.
    pub expires_at_height: u64,
}

impl TxFactory {
    /// A factory for `chain_id`, with transactions expiring at `expires_at_height`.
    pub fn new(chain_id: ChainId, expires_at_height: u64) -> Self {
        Self { chain_id, next_nonce: 1, expires_at_height }
    }

    /// The body of the next transaction.
    pub fn body(&mut self, signer: &SigningKey, payload: Payload) -> TxBody {
        let nonce = self.next_nonce;
        self.next_nonce += 1;
        TxBody {
            chain_id: self.chain_id.clone(),
            signer: signer.public_key(),
            nonce,
            expires_at_height: self.expires_at_height,
            payload,
        }
    }

    /// Signs `payload` with `signer`.
    pub fn sign(&mut self, signer: &SigningKey, payload: Payload) -> Transaction {
        Transaction::sign(self.body(signer, payload), signer)
    }
}
/// The demo consortium on `chain_id`, and one signed transaction of every payload type (named
/// by payload), built from fixed keys: the wire-format golden vectors and the API's schema tests
/// share them.
/// A payer's first policy, shaped like a city's basic medical insurance: 70% of examinations
/// and treatment, 60% of medicines, 50% of anything else; a 10-yuan yearly deductible; 5,000
/// yuan a claim, 50,000 a year; claims paying up to 500 yuan settle by themselves.
pub fn sample_policy(payer: &MemberId, hospitals: &[MemberId]) -> Policy {
    use medledger_types::CategoryCoverage;
    let ratio = |category, ratio_bp| CategoryCoverage { category, ratio_bp };
    Policy {
        payer: payer.clone(),
        version: 1,
        coverage: vec![
            ratio(ChargeCategory::Consultation, 7_000),
            ratio(ChargeCategory::Examination, 7_000),
            ratio(ChargeCategory::Treatment, 7_000),
            ratio(ChargeCategory::WesternMedicine, 6_000),
            ratio(ChargeCategory::ChineseMedicine, 6_000),
            ratio(ChargeCategory::Other, 5_000),
        ],
        deductible_yearly: Fen(1_000),
        claim_cap: Fen(500_000),
        yearly_cap: Fen(5_000_000),
        hospitals: hospitals.to_vec(),
        auto_approve_max: Fen(50_000),
    }
}

pub fn every_payload(chain_id: &str) -> (Consortium, Vec<(&'static str, Transaction)>) {
    let c = Consortium::demo(chain_id, 2);
    let mut f = TxFactory::new(c.chain_id().clone(), 1_000);
    let p0 = &c.patients[0];
    let b1 = c.bill_id(0, 1);
    let b2 = c.bill_id(0, 2);
    let mut with_categories = bill(b2, p0.pseudonym, 3_000, 7_000);
    with_categories.categories = vec![
        CategoryAmount { category: ChargeCategory::Examination, amount: Fen(4_000) },
        CategoryAmount { category: ChargeCategory::WesternMedicine, amount: Fen(6_000) },
    ];
    let mut sub =
        claim(claim_id(1), &c.social_security.id, p0.pseudonym, &[(b1, 2_500), (b2, 3_000)]);
    sub.disclosures = vec![stub_disclosure(b1, &c.social_security.encryption.public())];
    let consent = consent_submit(c.chain_id(), &p0.key, &sub);
    let newcomer = newcomer(9);
    let transactions = vec![
        (
            "allocate_range",
            f.sign(
                &c.regulator.key,
                Payload::AllocateRange {
                    hospital: c.hospitals[1].id.clone(),
                    code: BillCode::new(44_010_226).unwrap(),
                    first: BillNumber::new(1).unwrap(),
                    last: BillNumber::new(500_000).unwrap(),
                },
            ),
        ),
        (
            "issue_bills",
            f.sign(
                &c.hospitals[0].key,
                c.issue(vec![bill(b1, p0.pseudonym, 10_000, 5_000), with_categories]),
            ),
        ),
        (
            "void_bill",
            f.sign(
                &c.hospitals[0].key,
                Payload::VoidBill { bill: b1, red_number: c.bill_id(0, 3).number },
            ),
        ),
        (
            "submit_claim_by_patient",
            f.sign(&p0.key, Payload::SubmitClaim { claim: sub.clone(), consent: None }),
        ),
        (
            "submit_claim_by_platform",
            f.sign(&c.platform.key, Payload::SubmitClaim { claim: sub, consent: Some(consent) }),
        ),
        (
            "settle_claim",
            f.sign(
                &c.social_security.key,
                Payload::SettleClaim {
                    claim_id: claim_id(1),
                    approved: vec![Fen(2_500), Fen(1_000)],
                    payment_reference: Text::new("SSB-2026-000001").unwrap(),
                },
            ),
        ),
        (
            "reject_claim",
            f.sign(
                &c.insurers[0].key,
                Payload::RejectClaim {
                    claim_id: claim_id(2),
                    reason: Text::new("not covered").unwrap(),
                },
            ),
        ),
        (
            "withdraw_claim",
            f.sign(
                &c.platform.key,
                Payload::WithdrawClaim {
                    claim_id: claim_id(1),
                    consent: Some(consent_withdraw(c.chain_id(), &p0.key, &claim_id(1))),
                },
            ),
        ),
        (
            "register_patient",
            f.sign(
                &c.platform.key,
                Payload::RegisterPatient {
                    patient: newcomer.pseudonym,
                    public_key: newcomer.key.public_key(),
                    encryption_key: newcomer.encryption.public(),
                },
            ),
        ),
        (
            "freeze_member",
            f.sign(&c.regulator.key, Payload::FreezeMember { member: c.insurers[1].id.clone() }),
        ),
        (
            "unfreeze_member",
            f.sign(&c.regulator.key, Payload::UnfreezeMember { member: c.insurers[1].id.clone() }),
        ),
        (
            "access_body",
            f.sign(
                &c.regulator.key,
                Payload::AccessBody {
                    bill: b2,
                    purpose: medledger_types::AccessPurpose::Audit,
                    reference: Text::new("audit 2026-17").unwrap(),
                },
            ),
        ),
        (
            "register_policy",
            f.sign(
                &c.social_security.key,
                Payload::RegisterPolicy {
                    policy: sample_policy(
                        &c.social_security.id,
                        &c.hospitals.iter().map(|h| h.id.clone()).collect::<Vec<_>>(),
                    ),
                },
            ),
        ),
        (
            "record_payment",
            f.sign(
                &c.social_security.key,
                Payload::RecordPayment {
                    claim_id: claim_id(1),
                    payment_reference: Text::new("SSB-2026-000002").unwrap(),
                },
            ),
        ),
    ];
    (c, transactions)
}
