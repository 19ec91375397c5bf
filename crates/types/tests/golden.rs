//! Golden vectors for the wire format: one transaction of every payload type, built from
//! fixed keys, with its exact encoding and id. If any of these change, the wire format
//! changed: that must be a deliberate, versioned decision, never an accident.
//!
//! To accept a deliberate change, run with `MEDLEDGER_BLESS=1` and commit the new file.

use medledger_testkit::{
    Consortium, TxFactory, bill, claim, claim_id, consent_submit, consent_withdraw, patient,
};
use medledger_types::{
    BillCode, BillNumber, CategoryAmount, ChargeCategory, DecodeExt, Encode, Fen, Payload, Text,
    Transaction,
};
use proptest::prelude::*;

const GOLDEN: &str = "tests/golden/transactions.txt";

thread_local! {
    static CACHED: Vec<(&'static str, Transaction)> = vectors();
}

fn vectors() -> Vec<(&'static str, Transaction)> {
    let c = Consortium::demo("medledger-golden", 2);
    let mut f = TxFactory::new(c.chain_id().clone(), 1_000);
    let p0 = &c.patients[0];
    let b1 = c.bill_id(0, 1);
    let b2 = c.bill_id(0, 2);
    let mut with_categories = bill(b2, p0.pseudonym, 3_000, 7_000);
    with_categories.categories = vec![
        CategoryAmount { category: ChargeCategory::Examination, amount: Fen(4_000) },
        CategoryAmount { category: ChargeCategory::WesternMedicine, amount: Fen(6_000) },
    ];
    let sub = claim(claim_id(1), &c.social_security.id, p0.pseudonym, &[(b1, 2_500), (b2, 3_000)]);
    let consent = consent_submit(c.chain_id(), &p0.key, &sub);
    let newcomer = patient(9);
    vec![
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
                Payload::IssueBills {
                    bills: vec![bill(b1, p0.pseudonym, 10_000, 5_000), with_categories],
                },
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
    ]
}

fn render(vectors: &[(&str, Transaction)]) -> String {
    let mut out =
        String::from("# name id encoding (hex). Regenerate only for a deliberate format change.\n");
    for (name, tx) in vectors {
        out.push_str(&format!(
            "{name} {} {}\n",
            tx.id(),
            medledger_crypto::encode_hex(&tx.encode())
        ));
    }
    out
}

#[test]
fn wire_format_matches_golden_vectors() {
    let vectors = vectors();
    let rendered = render(&vectors);
    if std::env::var("MEDLEDGER_BLESS").is_ok() {
        std::fs::write(GOLDEN, &rendered).unwrap();
    }
    let golden =
        std::fs::read_to_string(GOLDEN).expect("golden file exists (MEDLEDGER_BLESS=1 creates it)");
    for (expected, actual) in golden.lines().zip(rendered.lines()) {
        assert_eq!(expected, actual, "wire format changed");
    }
    assert_eq!(golden.lines().count(), rendered.lines().count());

    // Every golden encoding decodes to the same transaction, re-encodes byte for byte, and
    // still verifies against its signer.
    for line in golden.lines().skip(1) {
        let mut parts = line.split(' ');
        let (name, id, hex) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
        let bytes = medledger_crypto::decode_hex(hex).unwrap();
        let tx = Transaction::decode_untrusted(&bytes).unwrap();
        assert_eq!(tx.id().to_string(), id, "{name}: id");
        assert_eq!(tx.encode().as_ref(), bytes.as_slice(), "{name}: re-encoding");
        let signer = &tx.body().signer;
        assert!(signer.verify(
            medledger_crypto::Namespace::Transaction,
            tx.signed_bytes(),
            tx.signature()
        ));
        let (_, built) = vectors.iter().find(|(n, _)| *n == name).unwrap();
        assert_eq!(&tx, built);
    }
}

#[test]
fn json_round_trips() {
    for (name, tx) in vectors() {
        let json = serde_json::to_string(&tx).unwrap();
        let back: Transaction = serde_json::from_str(&json).unwrap();
        assert_eq!(back, tx, "{name}");
        assert_eq!(back.id(), tx.id());
    }
}

#[test]
fn malformed_encodings_are_refused() {
    let vectors = vectors();
    let issue = vectors[1].1.encode().to_vec();
    // Truncated anywhere, or with a byte appended.
    for cut in [0, 1, 10, issue.len() / 2, issue.len() - 1] {
        assert!(Transaction::decode_untrusted(&issue[..cut]).is_err(), "truncated at {cut}");
    }
    let mut longer = issue.clone();
    longer.push(0);
    assert!(Transaction::decode_untrusted(&longer).is_err());
    // Oversized input is refused before decoding.
    assert!(
        Transaction::decode_untrusted(&vec![0u8; medledger_types::limits::TX_BYTES_MAX + 1])
            .is_err()
    );
}

#[test]
fn issuance_batch_over_the_limit_is_refused_by_the_decoder() {
    let c = Consortium::demo("medledger-golden", 1);
    let mut f = TxFactory::new(c.chain_id().clone(), 10);
    let max = medledger_types::limits::ISSUE_BATCH_BILLS_MAX as u64;
    let bills: Vec<_> =
        (1..=max + 1).map(|n| bill(c.bill_id(0, n), c.patients[0].pseudonym, 1, 0)).collect();
    let at_limit = f.sign(
        &c.hospitals[0].key,
        Payload::IssueBills { bills: bills[..bills.len() - 1].to_vec() },
    );
    assert!(Transaction::decode_untrusted(&at_limit.encode()).is_ok());
    let over = f.sign(&c.hospitals[0].key, Payload::IssueBills { bills });
    assert!(Transaction::decode_untrusted(&over.encode()).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5_000, failure_persistence: None, ..ProptestConfig::default() })]

    /// Untrusted bytes never panic the decoder: mutations of every valid encoding either decode
    /// to something that re-encodes canonically, or are refused.
    #[test]
    fn decoding_mutated_transactions_never_panics(
        which in 0usize..11,
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = CACHED.with(|v| v[which].1.encode().to_vec());
        for (index, value) in flips {
            let i = index.index(bytes.len());
            bytes[i] ^= value;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        if let Ok(tx) = Transaction::decode_untrusted(&bytes) {
            let again = Transaction::decode_untrusted(&tx.encode()).unwrap();
            prop_assert_eq!(again.id(), tx.id());
        }
    }

    /// Random bytes never panic the decoder.
    #[test]
    fn decoding_random_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = Transaction::decode_untrusted(&bytes);
        let _ = Payload::decode(bytes.as_slice().to_vec());
    }
}
