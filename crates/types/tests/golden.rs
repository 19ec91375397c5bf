//! Golden vectors for the wire format: one transaction of every payload type, built from
//! fixed keys, with its exact encoding and id; and one ledger record (bill, claim) of every
//! shape, whose encoding the authenticated state hashes and receipts carry. If any of these
//! change, the wire format changed: that must be a deliberate, versioned decision, never an
//! accident.
//!
//! To accept a deliberate change, run with `MEDLEDGER_BLESS=1` and commit the new file.

use commonware_codec::{Copying, EncodeSize};
use medledger_testkit::{Consortium, TxFactory, bill, claim, claim_id};
use medledger_types::{Adjudication, Lines};
use medledger_types::{
    Bill, BillKind, CategoryAmount, ChargeCategory, Claim, ClaimStatus, DecodeExt, Encode, Fen,
    Payload, Text, Transaction,
};
use proptest::prelude::*;

const GOLDEN: &str = "tests/golden/transactions.txt";
const GOLDEN_RECORDS: &str = "tests/golden/records.txt";

thread_local! {
    static CACHED: Vec<(&'static str, Transaction)> = vectors();
}

fn vectors() -> Vec<(&'static str, Transaction)> {
    medledger_testkit::every_payload("medledger-golden").1
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
    let at_limit = f.sign(&c.hospitals[0].key, c.issue(bills[..bills.len() - 1].to_vec()));
    assert!(Transaction::decode_untrusted(&at_limit.encode()).is_ok());
    let over = f.sign(&c.hospitals[0].key, c.issue(bills));
    assert!(Transaction::decode_untrusted(&over.encode()).is_err());
}

/// A ledger record: what the authenticated state hashes into its leaves and bill receipts
/// carry, so its encoding is as fixed as the wire format's.
#[derive(Clone, Debug, PartialEq)]
enum Record {
    Bill(Bill),
    Claim(Claim),
}

impl Record {
    fn encode(&self) -> Vec<u8> {
        match self {
            Record::Bill(bill) => bill.encode().to_vec(),
            Record::Claim(claim) => claim.encode().to_vec(),
        }
    }

    /// Decodes bytes as the same kind of record as `self`.
    fn decode_like(&self, bytes: &[u8]) -> Result<Record, medledger_types::CodecError> {
        match self {
            Record::Bill(_) => Bill::decode(Copying(bytes)).map(Record::Bill),
            Record::Claim(_) => Claim::decode(Copying(bytes)).map(Record::Claim),
        }
    }
}

thread_local! {
    static CACHED_RECORDS: Vec<(&'static str, Record)> = record_vectors();
}

/// One record of every shape: each bill kind and state, each claim status, with and without
/// optional fields.
fn record_vectors() -> Vec<(&'static str, Record)> {
    let c = Consortium::demo("medledger-golden", 2);
    let p0 = &c.patients[0];
    let hospital = &c.hospitals[0].id;
    let (b1, b2, red) = (c.bill_id(0, 1), c.bill_id(0, 2), c.bill_id(0, 3));
    let issued = |issue: medledger_types::BillIssue, kind: BillKind| {
        let sealed = match kind {
            BillKind::Normal => Some(medledger_types::Digest([9; 32])),
            BillKind::Red { .. } => None,
        };
        Bill::issued(issue, hospital, 7, 1_790_000_123_456, kind, sealed)
    };
    let fresh = issued(bill(b1, p0.pseudonym, 10_000, 5_000), BillKind::Normal);
    let mut with_categories = bill(b2, p0.pseudonym, 3_000, 7_000);
    with_categories.categories = vec![
        CategoryAmount { category: ChargeCategory::Examination, amount: Fen(4_000) },
        CategoryAmount { category: ChargeCategory::WesternMedicine, amount: Fen(6_000) },
    ];
    let mut claimed = issued(with_categories, BillKind::Normal);
    claimed.reserved = Fen(1_000);
    claimed.reimbursed = Fen(2_000);
    claimed.claims = vec![claim_id(1), claim_id(2)];
    let mut voided = fresh.clone();
    voided.voided_by = Some(red);
    voided.accessed_by = vec![c.regulator.id.clone()];
    let red_bill = issued(bill(red, p0.pseudonym, 10_000, 5_000), BillKind::Red { reverses: b1 });

    let submission =
        claim(claim_id(1), &c.social_security.id, p0.pseudonym, &[(b1, 2_500), (b2, 3_000)]);
    let claim_with = |filed_by: Option<&medledger_types::MemberId>, status: ClaimStatus| Claim {
        submission: submission.clone(),
        filed_by: filed_by.cloned(),
        submitted_height: 9,
        status,
        adjudication: None,
    };
    let lines = |submitted, eligible, deductible, benefit| Lines {
        submitted: Fen(submitted),
        eligible: Fen(eligible),
        deductible: Fen(deductible),
        benefit: Fen(benefit),
    };
    let adjudication = |auto_approved| Adjudication {
        policy_version: 3,
        year: 2026,
        items: vec![lines(2_500, 2_500, 1_000, 1_050), lines(3_000, 0, 0, 0)],
        total: lines(5_500, 2_500, 1_000, 1_050),
        auto_approved,
    };
    vec![
        ("bill_valid", Record::Bill(fresh)),
        ("bill_claimed_with_categories", Record::Bill(claimed)),
        ("bill_voided", Record::Bill(voided)),
        ("bill_red", Record::Bill(red_bill)),
        ("claim_locked_by_patient", Record::Claim(claim_with(None, ClaimStatus::Locked))),
        (
            "claim_settled_by_platform",
            Record::Claim(claim_with(
                Some(&c.platform.id),
                ClaimStatus::Settled {
                    approved: vec![Fen(2_500), Fen(1_000)],
                    payment_reference: Text::new("SSB-2026-000001").unwrap(),
                    height: 12,
                },
            )),
        ),
        (
            "claim_rejected",
            Record::Claim(claim_with(
                None,
                ClaimStatus::Rejected { reason: Text::new("not covered").unwrap(), height: 13 },
            )),
        ),
        ("claim_withdrawn", Record::Claim(claim_with(None, ClaimStatus::Withdrawn { height: 14 }))),
        (
            "claim_locked_with_recommendation",
            Record::Claim(Claim {
                adjudication: Some(adjudication(false)),
                ..claim_with(None, ClaimStatus::Locked)
            }),
        ),
        (
            "claim_auto_settled_awaiting_payment",
            Record::Claim(Claim {
                adjudication: Some(adjudication(true)),
                ..claim_with(
                    None,
                    ClaimStatus::Settled {
                        approved: vec![Fen(1_050), Fen(0)],
                        payment_reference: Text::default(),
                        height: 9,
                    },
                )
            }),
        ),
    ]
}

#[test]
fn record_format_matches_golden_vectors() {
    let vectors = record_vectors();
    let mut rendered = String::from(
        "# name encoding (hex) of ledger records (bills, claims). Regenerate only for a deliberate format change.\n",
    );
    for (name, record) in &vectors {
        rendered.push_str(&format!("{name} {}\n", medledger_crypto::encode_hex(&record.encode())));
    }
    if std::env::var("MEDLEDGER_BLESS").is_ok() {
        std::fs::write(GOLDEN_RECORDS, &rendered).unwrap();
    }
    let golden = std::fs::read_to_string(GOLDEN_RECORDS)
        .expect("golden file exists (MEDLEDGER_BLESS=1 creates it)");
    for (expected, actual) in golden.lines().zip(rendered.lines()) {
        assert_eq!(expected, actual, "record format changed");
    }
    assert_eq!(golden.lines().count(), rendered.lines().count());

    // Every golden encoding decodes to the record it was built from and re-encodes byte for
    // byte.
    for line in golden.lines().skip(1) {
        let (name, hex) = line.split_once(' ').unwrap();
        let bytes = medledger_crypto::decode_hex(hex).unwrap();
        let (_, built) = vectors.iter().find(|(n, _)| *n == name).unwrap();
        let decoded = built.decode_like(&bytes).unwrap();
        assert_eq!(&decoded, built, "{name}");
        assert_eq!(decoded.encode(), bytes, "{name}: re-encoding");
    }
}

#[test]
fn malformed_records_are_refused() {
    for (name, record) in record_vectors() {
        let bytes = record.encode();
        for cut in 0..bytes.len() {
            assert!(record.decode_like(&bytes[..cut]).is_err(), "{name}: truncated at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(record.decode_like(&longer).is_err(), "{name}: trailing byte");
    }
    // Unknown tags, and lists over their limits, are refused by the decoder.
    let Record::Bill(mut bill) = record_vectors().swap_remove(0).1 else { unreachable!() };
    let mut unknown_kind = bill.encode().to_vec();
    // From the end: no accessor (1), the sealed body digest (1 + 32), no claims (1), reserved
    // and reimbursed (8 + 8), not voided (1), then the kind.
    let kind_at = unknown_kind.len() - (1 + 33 + 1 + 8 + 8 + 1 + 1);
    assert_eq!(unknown_kind[kind_at], 0, "the kind tag of an ordinary, unvoided bill");
    unknown_kind[kind_at] = 2;
    assert!(Bill::decode(unknown_kind).is_err());
    bill.claims = (0..=medledger_types::limits::BILL_CLAIMS_MAX as u64).map(claim_id).collect();
    assert!(Bill::decode(bill.encode()).is_err());
    bill.claims.pop();
    assert!(Bill::decode(bill.encode()).is_ok());
    let reader = bill.issuer.clone();
    bill.accessed_by = vec![reader; medledger_types::limits::BILL_ACCESSES_MAX + 1];
    assert!(Bill::decode(bill.encode()).is_err());
    let Record::Claim(mut claim) = record_vectors().swap_remove(5).1 else { unreachable!() };
    let mut unknown_status = claim.encode().to_vec();
    unknown_status
        [claim.submission.encode_size() + 1 + claim.filed_by.as_ref().unwrap().encode_size() + 8] =
        4;
    assert!(Claim::decode(unknown_status).is_err());
    claim.status = ClaimStatus::Settled {
        approved: vec![Fen(1); medledger_types::limits::CLAIM_BILLS_MAX + 1],
        payment_reference: Text::new("x").unwrap(),
        height: 1,
    };
    assert!(Claim::decode(claim.encode()).is_err());
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

    /// Mutated records never panic the decoder, and whatever decodes re-encodes canonically.
    #[test]
    fn decoding_mutated_records_never_panics(
        which in 0usize..8,
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let record = CACHED_RECORDS.with(|v| v[which].1.clone());
        let mut bytes = record.encode();
        for (index, value) in flips {
            let i = index.index(bytes.len());
            bytes[i] ^= value;
        }
        if let Ok(decoded) = record.decode_like(&bytes) {
            prop_assert_eq!(decoded.encode(), bytes);
        }
    }

    /// Random bytes never panic the decoder.
    #[test]
    fn decoding_random_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = Transaction::decode_untrusted(&bytes);
        let _ = Payload::decode(bytes.as_slice().to_vec());
        let _ = Bill::decode(Copying(&bytes));
        let _ = Claim::decode(Copying(&bytes));
    }
}
