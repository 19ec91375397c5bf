//! The independent verifier: `tests/independent/verify_receipt.py`, written from
//! `docs/formats/` alone in Python's standard library (its own ed25519 under ZIP-215 rules,
//! SHA-256 and SHA-512 from hashlib), shares no code with this crate. These tests run it with
//! `python3` (and fail, never skip, without it) and check that it judges receipts as the Rust
//! verifier does: the golden receipt and fresh receipts of every record shape in every text form
//! are valid; altered records, proof digests, headers, signatures, too few signers, another
//! chain or another validator set are invalid, each at the link the documents say; and edge-case
//! ed25519 signatures get the same verdict from both.

mod common;

use common::*;
use commonware_codec::{Decode as _, Encode as _};
use commonware_consensus::simplex::{scheme::ed25519::Scheme, types::Finalization};
use commonware_cryptography::{certificate::Signers, ed25519::certificate::Certificate, sha256};
use medledger_crypto::{Namespace, PublicKey, Signature, SigningKey, decode_hex};
use medledger_receipt::{Presented, Receipt, Record, VerifyError, genesis_digest, verify};
use medledger_testkit::{Consortium, bill, claim, claim_id};
use medledger_types::{
    Adjudication, Bill, BillKind, CategoryAmount, ChainId, ChargeCategory, Claim, ClaimStatus,
    Disclosure, EncryptionKey, Fen, Genesis, KeyWrap, Lines, Text, VisitType, WrappedKey,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/independent/verify_receipt.py");
const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/receipt.txt");

/// A scratch directory for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("medledger-independent-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `python3` with `args`. Without Python the test fails: the point of the test is that a
/// verifier written from the documents agrees, and a skipped run would show nothing.
fn python3<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new("python3").args(args).output().unwrap_or_else(|e| {
        panic!("python3 is needed to run the independent verifier ({e}): install Python 3")
    })
}

fn write_genesis(dir: &Path, genesis: &Genesis) -> PathBuf {
    let path = dir.join("genesis.json");
    std::fs::write(&path, serde_json::to_string_pretty(genesis).unwrap()).unwrap();
    path
}

/// The Python verifier's verdict on one receipt file: exit code and standard output.
fn verify_file(receipt: &Path, genesis: &Path, extra: &[&str]) -> (i32, String) {
    let mut args = vec![SCRIPT.into(), receipt.as_os_str().to_owned(), genesis.as_os_str().into()];
    args.extend(extra.iter().map(std::ffi::OsString::from));
    let out = python3(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.is_empty(), "the Python verifier failed: {stderr}");
    (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap())
}

/// The Python verifier's verdict on each of `inputs` (one receipt per line, `--each-line`):
/// `Ok(line)` for `valid: …`, `Err("link: reason")` for `invalid: …`.
fn verdicts(dir: &Path, genesis: &Genesis, inputs: &[String]) -> Vec<Result<String, String>> {
    let file = dir.join("receipts.txt");
    std::fs::write(&file, inputs.join("\n")).unwrap();
    let genesis = write_genesis(dir, genesis);
    let (code, stdout) = verify_file(&file, &genesis, &["--each-line"]);
    let verdicts: Vec<_> = stdout
        .lines()
        .map(|line| {
            let (_, verdict) = line.split_once(": ").expect("N: verdict");
            match verdict.strip_prefix("invalid: ") {
                Some(reason) => Err(reason.to_string()),
                None => Ok(verdict.to_string()),
            }
        })
        .collect();
    assert_eq!(verdicts.len(), inputs.len(), "one verdict per receipt: {stdout}");
    assert_eq!(code == 0, verdicts.iter().all(Result::is_ok), "exit code {code}: {stdout}");
    verdicts
}

fn golden() -> Receipt {
    let text = std::fs::read_to_string(GOLDEN).unwrap();
    Receipt::from_hex(text.lines().nth(1).unwrap()).unwrap()
}

fn subject(receipt: &Receipt) -> String {
    match &receipt.record {
        Record::Bill(bill) => format!("bill {}", bill.id()),
        Record::Claim(claim) => format!("claim {}", claim.submission.claim_id),
    }
}

#[test]
fn the_golden_receipt_verifies_independently_and_its_genesis_digest_pins_it() {
    let dir = scratch("golden");
    let w = world();
    let genesis = write_genesis(&dir, &w.genesis);
    let receipt = golden();
    verify(&receipt, &w.genesis).unwrap();
    let file = dir.join("golden.hex");
    std::fs::write(&file, receipt.to_hex()).unwrap();

    let (code, said) = verify_file(&file, &genesis, &[]);
    assert_eq!(code, 0, "{said}");
    let expected = format!(
        "valid: {} on chain {CHAIN} as of height 41, finalized in block 42",
        subject(&receipt)
    );
    assert!(said.starts_with(&expected), "{said}");
    assert!(said.contains("by 4 of 4 validators"), "{said}");

    // The genesis digest the Rust code computes is the one the documents define.
    let digest = genesis_digest(&w.genesis).to_hex();
    let (code, said) = verify_file(&file, &genesis, &["--genesis-digest", &digest]);
    assert_eq!(code, 0, "{said}");
    let other = genesis_digest(&world_genesis_of_another_chain()).to_hex();
    let (code, said) = verify_file(&file, &genesis, &["--genesis-digest", &other]);
    assert_eq!(code, 1, "{said}");
    assert!(said.starts_with("invalid: genesis: the genesis file's digest is"), "{said}");

    // `--dump` lays the receipt out field by field (the worked example in docs/formats).
    let (code, dump) = verify_file(&file, &genesis, &["--dump"]);
    assert_eq!(code, 0);
    assert!(dump.contains("bill.check_code"), "{dump}");
    assert!(dump.contains("proof.digests[9]"), "{dump}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn world_genesis_of_another_chain() -> Genesis {
    let mut genesis = world().genesis;
    genesis.chain_id = ChainId::new("medledger-other").unwrap();
    genesis
}

/// The golden receipt's certificate cut down to its first two signers.
fn two_signers(receipt: &Receipt) -> Vec<u8> {
    let full = Finalization::<Scheme, sha256::Digest>::decode_cfg(receipt.finalization.clone(), &4)
        .unwrap();
    Finalization::<Scheme, sha256::Digest> {
        proposal: full.proposal.clone(),
        certificate: Certificate {
            signers: Signers::new(4, full.certificate.signers.iter().take(2)).unwrap(),
            signatures: full.certificate.signatures[..2].to_vec(),
        },
    }
    .encode()
    .to_vec()
}

#[test]
fn tampered_receipts_are_invalid_in_both_verifiers_at_the_same_link() {
    let dir = scratch("tampered");
    let w = world();
    let good = golden();
    let alter = |change: &dyn Fn(&mut Receipt)| {
        let mut receipt = good.clone();
        change(&mut receipt);
        receipt
    };
    let cases: Vec<(&str, Receipt, &str)> = vec![
        (
            "a byte of the record",
            alter(&|r| {
                let Record::Bill(bill) = &mut r.record else { unreachable!() };
                bill.issue.patient.0[3] ^= 0x10;
            }),
            "proof: the proof does not place this bill's record at leaf 1",
        ),
        (
            "the reimbursed amount",
            alter(&|r| {
                let Record::Bill(bill) = &mut r.record else { unreachable!() };
                bill.reimbursed = Fen(bill.reimbursed.0 + 1);
            }),
            "proof:",
        ),
        ("the leaf's location", alter(&|r| r.leaf = 2), "proof:"),
        ("a proof digest", alter(&|r| r.proof.digests[4].0[7] ^= 1), "proof:"),
        ("the bag of newer peaks", alter(&|r| r.proof.digests[0].0[0] ^= 1), "proof:"),
        ("the MMR root", alter(&|r| r.mmr_root.0[31] ^= 1), "proof:"),
        ("the receipts root", alter(&|r| r.receipts_root.0[0] ^= 1), "state root:"),
        ("the executed height", alter(&|r| r.header.executed_height += 1), "state root:"),
        (
            "the header's time",
            alter(&|r| r.header.timestamp_ms += 1),
            "finality: the certificate finalizes block",
        ),
        ("the header's parent", alter(&|r| r.header.parent.0[5] ^= 1), "finality:"),
        (
            "a signature",
            alter(&|r| {
                let last = r.finalization.len() - 1;
                r.finalization[last] ^= 0x01;
            }),
            "finality: the signature of validator",
        ),
        (
            "too few signers",
            alter(&|r| r.finalization = two_signers(r)),
            "finality: only 2 of 4 validators signed; finality needs 3",
        ),
    ];
    let inputs: Vec<String> = cases.iter().map(|(_, receipt, _)| receipt.to_hex()).collect();
    for ((what, receipt, link), verdict) in cases.iter().zip(verdicts(&dir, &w.genesis, &inputs)) {
        assert!(verify(receipt, &w.genesis).is_err(), "Rust accepts {what}");
        let reason = verdict.expect_err(what);
        assert!(reason.starts_with(link), "{what}: {reason}");
    }

    // The golden receipt against a genesis of another chain, or of other validators.
    let golden_hex = vec![good.to_hex()];
    let foreign = world_genesis_of_another_chain();
    let verdict = verdicts(&dir, &foreign, &golden_hex).remove(0).unwrap_err();
    assert!(verdict.starts_with("chain: the receipt is for chain medledger-receipts"), "{verdict}");
    assert!(verify(&good, &foreign).is_err());
    let mut impostors = w.genesis.clone();
    for (validator, key) in impostors.validators.iter_mut().zip(validator_keys("impostor", 4)) {
        validator.public_key = key.public_key();
    }
    let verdict = verdicts(&dir, &impostors, &golden_hex).remove(0).unwrap_err();
    assert!(verdict.starts_with("finality: the signature of validator"), "{verdict}");
    assert!(verify(&good, &impostors).is_err());

    // Every fifth byte flipped: refused by both, whether by the decoder or the checks.
    let bytes = good.to_bytes();
    let flipped: Vec<Vec<u8>> = (0..bytes.len())
        .step_by(5)
        .map(|position| {
            let mut copy = bytes.clone();
            copy[position] ^= 0x04;
            copy
        })
        .collect();
    let inputs: Vec<String> = flipped.iter().map(|b| medledger_crypto::encode_hex(b)).collect();
    for (copy, verdict) in flipped.iter().zip(verdicts(&dir, &w.genesis, &inputs)) {
        let rust = Receipt::from_bytes(copy).ok().map(|r| verify(&r, &w.genesis));
        assert!(!matches!(rust, Some(Ok(_))), "Rust accepts a flipped byte");
        assert!(verdict.is_err(), "Python accepts a flipped byte: {verdict:?}");
    }
    println!("{} single-byte alterations refused by both verifiers", flipped.len());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Records of every shape the decoder has a branch for, appended to the world.
fn more_records() -> Vec<Record> {
    let c = Consortium::demo(CHAIN, 2);
    let p0 = c.patients[0].pseudonym;
    let mut voided = Bill::issued(
        medledger_types::BillIssue {
            visit_type: VisitType::Inpatient,
            categories: vec![
                CategoryAmount { category: ChargeCategory::Surgery, amount: Fen(60_000) },
                CategoryAmount { category: ChargeCategory::Bed, amount: Fen(40_000) },
            ],
            ..bill(c.bill_id(1, 7), p0, 30_000, 70_000)
        },
        &c.hospitals[1].id,
        9,
        1_790_000_009_000,
        BillKind::Normal,
        Some(medledger_crypto::hash(medledger_crypto::Domain::TestKey, &[b"sealed"])),
    );
    voided.voided_by = Some(c.bill_id(1, 8));
    voided.claims = vec![claim_id(3), claim_id(4), claim_id(5)];
    voided.accessed_by = vec![c.regulator.id.clone()];
    let lines = |asked: u64, benefit: u64| Lines {
        submitted: Fen(asked),
        eligible: Fen(asked),
        deductible: Fen(asked - benefit),
        benefit: Fen(benefit),
    };
    let adjudication = |auto_approved| Adjudication {
        policy_version: 3,
        year: 2026,
        items: vec![lines(1_000, 800), lines(2_000, 1_900)],
        total: lines(3_000, 2_700),
        auto_approved,
    };
    let two_bills = [(c.bill_id(0, 1), 1_000), (c.bill_id(0, 3), 2_000)];
    let mut disclosed = claim(claim_id(4), &c.insurers[1].id, p0, &two_bills);
    disclosed.disclosures = vec![Disclosure {
        bill: c.bill_id(0, 1),
        wrap: KeyWrap {
            recipient: EncryptionKey([1; 32]),
            encapsulated: EncryptionKey([2; 32]),
            wrapped_key: WrappedKey([3; 48]),
        },
    }];
    let claim_record = |submission, filed_by, status, adjudication| {
        Record::Claim(Claim { submission, filed_by, submitted_height: 12, status, adjudication })
    };
    vec![
        Record::Bill(voided),
        claim_record(
            claim(claim_id(3), &c.insurers[0].id, p0, &[(c.bill_id(0, 2), 700)]),
            None,
            ClaimStatus::Rejected {
                reason: Text::new("not covered: cosmetic").unwrap(),
                height: 14,
            },
            None,
        ),
        claim_record(
            claim(claim_id(5), &c.insurers[0].id, p0, &[(c.bill_id(0, 4), 900)]),
            Some(c.platform.id.clone()),
            ClaimStatus::Withdrawn { height: 15 },
            None,
        ),
        claim_record(
            disclosed,
            Some(c.platform.id.clone()),
            ClaimStatus::Locked,
            Some(adjudication(false)),
        ),
        claim_record(
            claim(claim_id(6), &c.social_security.id, p0, &two_bills),
            None,
            ClaimStatus::Settled {
                approved: vec![Fen(800), Fen(1_900)],
                payment_reference: Text::default(),
                height: 12,
            },
            Some(adjudication(true)),
        ),
    ]
}

fn bill_of(record: &Record) -> &Bill {
    match record {
        Record::Bill(bill) => bill,
        Record::Claim(_) => panic!("a bill's record"),
    }
}

/// A node's `/proof` JSON answer for `receipt`, as `handlers.rs` writes it.
fn proof_answer(receipt: &Receipt) -> serde_json::Value {
    let bytes = receipt.to_bytes();
    let mut answer = serde_json::json!({
        "receipt": receipt.to_hex(),
        "size_bytes": bytes.len(),
        "qr": receipt.to_qr_text(),
        "as_of_height": receipt.header.executed_height,
        "block_height": receipt.header.height,
        "block_time_ms": receipt.header.timestamp_ms,
    });
    match &receipt.record {
        Record::Bill(bill) => answer["bill"] = serde_json::to_value(bill).unwrap(),
        Record::Claim(claim) => answer["claim"] = serde_json::to_value(claim).unwrap(),
    }
    answer
}

#[test]
fn fresh_receipts_of_every_shape_verify_independently_in_every_form() {
    let dir = scratch("fresh");
    let extra = more_records();
    let extra_count = extra.len();
    let w = world_with(extra);
    let last = w.records.len() - 1;
    let mut indices: Vec<usize> = (0..7).chain([8, 255, 511, 512, 1_000]).collect();
    indices.extend(last + 1 - extra_count..=last);
    let receipts: Vec<Receipt> = indices.iter().map(|&i| w.receipt(i)).collect();
    let mut inputs = Vec::new();
    for receipt in &receipts {
        verify(receipt, &w.genesis).unwrap();
        inputs.push(receipt.to_hex());
        inputs.push(receipt.to_qr_text());
        inputs.push(proof_answer(receipt).to_string());
    }
    // A certificate signed by a bare quorum, three of four.
    let mut three = w.receipt(3);
    three.finalization = finalize(&w.keys, &w.genesis.chain_id, &w.proposal, 3).encode().to_vec();
    verify(&three, &w.genesis).unwrap();
    inputs.push(three.to_hex());

    let verdicts = verdicts(&dir, &w.genesis, &inputs);
    for (i, receipt) in receipts.iter().enumerate() {
        for verdict in &verdicts[3 * i..3 * i + 3] {
            let said = verdict.as_ref().unwrap_or_else(|e| panic!("{}: {e}", subject(receipt)));
            assert!(said.starts_with(&format!("valid: {} ", subject(receipt))), "{said}");
            assert!(said.contains("as of height 41"), "{said}");
        }
    }
    assert!(verdicts.last().unwrap().as_ref().unwrap().contains("by 3 of 4 validators"));
    println!("{} receipts verified by the Python verifier", verdicts.len());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn altered_unsigned_fields_of_a_proof_answer_are_refused_by_both() {
    let dir = scratch("stated");
    let w = world();
    let receipt = w.receipt(5);
    let answer = proof_answer(&receipt);
    let altered = |field: &str, value: serde_json::Value| {
        let mut copy = answer.clone();
        copy[field] = value;
        copy.to_string()
    };
    let mut richer = answer.clone();
    richer["claim"]["status"]["approved"][0] = serde_json::json!(2_500);
    let inputs = vec![
        altered("as_of_height", serde_json::json!(42)),
        altered("block_height", serde_json::json!(43)),
        altered("block_time_ms", serde_json::json!(1_790_000_000_000u64)),
        altered("size_bytes", serde_json::json!(1)),
        altered("qr", serde_json::json!(w.receipt(6).to_qr_text())),
        altered("bill", serde_json::to_value(bill_of(&w.records[0])).unwrap()),
        richer.to_string(),
    ];
    let python = verdicts(&dir, &w.genesis, &inputs);
    for (input, verdict) in inputs.iter().zip(&python) {
        let presented = Presented::parse(input.as_bytes()).unwrap();
        let rust = presented.verify(&w.genesis).unwrap_err();
        assert!(
            matches!(rust, VerifyError::StatedField { .. } | VerifyError::StatedRecord { .. }),
            "{rust}"
        );
        // The Python verifier shows only what it decoded from the signed bytes, so the copied
        // record (the last input) is ignored there; every other field is compared.
        if input == inputs.last().unwrap() {
            assert!(verdict.is_ok(), "{verdict:?}");
        } else {
            assert!(verdict.as_ref().unwrap_err().starts_with("stated field:"), "{verdict:?}");
        }
    }
    assert!(matches!(
        Presented::parse(inputs.last().unwrap().as_bytes()).unwrap().verify(&w.genesis),
        Err(VerifyError::StatedRecord { ref path, .. }) if path == "claim.status.approved[0]"
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Checks the other golden vectors with the Python module's decoder and hashes: every
/// transaction's id and signature (transactions.md), every record decoded to its last byte and
/// every bill's check code recomputed (records.md).
const GOLDEN_TYPES_CHECK: &str = r#"
import sys
sys.path.insert(0, sys.argv[1])
import verify_receipt as v
golden = sys.argv[2]
ns = b"medledger/tx/v1"
for line in open(golden + "/transactions.txt").read().splitlines()[1:]:
    if not line.strip():
        continue
    name, tx_id, hex_ = line.split()
    tx = bytes.fromhex(hex_)
    body, signature = tx[:-64], tx[-64:]
    signer = body[1 + body[0] : 33 + body[0]]
    ok = v.tagged_hash("medledger/tx-id/v1", body).hex() == tx_id
    ok = ok and v.ed25519_verify(signer, v.varint(len(ns)) + ns + body, signature)
    print(("ok " if ok else "bad ") + name)
alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
for line in open(golden + "/records.txt").read().splitlines()[1:]:
    if not line.strip():
        continue
    name, hex_ = line.split()
    data = bytes.fromhex(hex_)
    r = v.Reader(data)
    try:
        key, record = (v.read_bill if name.startswith("bill") else v.read_claim)(r)
        r.end()
    except v.Invalid as e:
        print("bad " + name + " " + str(e))
        continue
    ok = key == data[: len(key)]
    if name.startswith("bill"):
        issue_end = 70 + 9 * data[69] + 32
        issuer_end = issue_end + 1 + data[issue_end]
        issued_at = data[issuer_end + 8 : issuer_end + 16]
        d = v.tagged_hash("medledger/bill-check-code/v1", data[:issue_end], data[issue_end:issuer_end], issued_at)
        bits = int.from_bytes(d[:8], "big")
        code = "".join(alphabet[(bits >> (59 - 5 * i)) & 31] for i in range(6))
        ok = ok and code == record["check_code"]
    print(("ok " if ok else "bad ") + name)
"#;

#[test]
fn golden_transactions_and_records_check_out_independently() {
    let golden = concat!(env!("CARGO_MANIFEST_DIR"), "/../types/tests/golden");
    let script_dir = Path::new(SCRIPT).parent().unwrap();
    let out = python3([
        std::ffi::OsStr::new("-c"),
        std::ffi::OsStr::new(GOLDEN_TYPES_CHECK),
        script_dir.as_os_str(),
        std::ffi::OsStr::new(golden),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = said.lines().collect();
    assert!(lines.iter().all(|line| line.starts_with("ok ")), "{said}");
    assert_eq!(lines.len(), 14 + 10, "fourteen transactions and ten records: {said}");
}

/// Edge cases of ed25519 verification, made with the Python module's own curve arithmetic:
/// (name, public key, signature over "zip215" under the transaction namespace, valid).
/// ZIP-215 accepts the small-order and non-canonical encodings that strict RFC 8032 libraries
/// (OpenSSL, libsodium) refuse; both refuse S ≥ L. An honest signer's signature passes all.
const ZIP215: &[(&str, &str, &str, bool)] = &[
    (
        "honest",
        "ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c",
        "ccc94aeb9037b54ee49369749848a2a93611d04bf79a8737b34eeafa85585d4e436138f07cec13cd573b26ce05a2e262c927cacfea8d43392522451a088d1308",
        true,
    ),
    (
        "mixed-order R (cofactored accepts, cofactorless rejects)",
        "ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c",
        "0df9fcd1256b0b7eb8fb9587a09ab09fb401a0f72ecd1b10cb593e49aa1c8bef713a3779eb84d2383631dbf4d4f619349c181c4a1abbe0bf6f6b44a2f5a6460a",
        true,
    ),
    (
        "S at or above L",
        "ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c",
        "ccc94aeb9037b54ee49369749848a2a93611d04bf79a8737b34eeafa85585d4e30352e4d974f26252ed81d71e49bc177c927cacfea8d43392522451a088d1318",
        false,
    ),
    (
        "small-order A, non-canonical R",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f0000000000000000000000000000000000000000000000000000000000000000",
        true,
    ),
    (
        "non-canonical A",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "01000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
        true,
    ),
    (
        "x = 0 with the sign bit set",
        "0100000000000000000000000000000000000000000000000000000000000080",
        "01000000000000000000000000000000000000000000000000000000000000800000000000000000000000000000000000000000000000000000000000000000",
        true,
    ),
    (
        "small-order A, canonical R, wrong S",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "01000000000000000000000000000000000000000000000000000000000000000100000000000000000000000000000000000000000000000000000000000000",
        false,
    ),
    (
        "honest R with S = 0",
        "ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c",
        "ccc94aeb9037b54ee49369749848a2a93611d04bf79a8737b34eeafa85585d4e0000000000000000000000000000000000000000000000000000000000000000",
        false,
    ),
];

#[test]
fn zip215_edge_cases_get_the_same_verdict_from_both_verifiers() {
    // The honest vector is what medledger's own signer makes (ed25519 is deterministic), so
    // the namespace framing of the documents is the one the Rust code signs under.
    let signer = SigningKey::from_seed([7; 32]);
    assert_eq!(signer.public_key().to_hex(), ZIP215[0].1);
    let honest = signer.sign(Namespace::Transaction, b"zip215");
    assert_eq!(medledger_crypto::encode_hex(honest.as_bytes()), ZIP215[0].2);

    let mut program = String::from(
        "import sys\nsys.path.insert(0, sys.argv[1])\nimport verify_receipt as v\n\
         ns = b'medledger/tx/v1'\nm = v.varint(len(ns)) + ns + b'zip215'\n",
    );
    for (_, key, signature, _) in ZIP215 {
        program.push_str(&format!(
            "print(v.ed25519_verify(bytes.fromhex('{key}'), m, bytes.fromhex('{signature}')))\n"
        ));
    }
    let script_dir = Path::new(SCRIPT).parent().unwrap();
    let out = python3([
        std::ffi::OsStr::new("-c"),
        std::ffi::OsStr::new(&program),
        script_dir.as_os_str(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let python: Vec<bool> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| l == "True").collect();
    assert_eq!(python.len(), ZIP215.len());
    for ((name, key, signature, valid), python) in ZIP215.iter().zip(python) {
        let key = PublicKey::from_bytes(&decode_hex(key).unwrap()).unwrap();
        let signature = Signature::from_bytes(&decode_hex(signature).unwrap()).unwrap();
        let rust = key.verify(Namespace::Transaction, b"zip215", &signature);
        assert_eq!((rust, python), (*valid, *valid), "{name}: Rust {rust}, Python {python}");
    }
}
