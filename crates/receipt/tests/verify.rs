//! Receipts built from scratch with real cryptography: a state MMR of bills and claims, a block
//! header committing to it, and a finalization certificate signed by four validators with
//! simplex's own ed25519 scheme (the world in `common/`). Every valid receipt verifies; every
//! tampering fails with the error that names it; and on every certificate, simplex's own
//! verifier (the oracle) agrees with ours.
//!
//! `cargo test -p medledger-receipt --release -- --nocapture` prints the receipt's size and
//! the time one verification takes.

mod common;

use common::*;
use commonware_codec::Encode as _;
use commonware_consensus::simplex::{
    scheme::ed25519::Scheme,
    types::{Finalization, Notarization, Notarize},
};
use commonware_cryptography::{certificate::Signers, ed25519::certificate::Certificate, sha256};
use commonware_parallel::Sequential;
use commonware_utils::non_empty;
use medledger_receipt::{DecodeError, FinalityError, Receipt, Record, VerifyError, verify};
use medledger_types::ChainId;
use std::time::Instant;

const GOLDEN: &str = "tests/golden/receipt.txt";

fn finality_error(result: Result<(), VerifyError>) -> FinalityError {
    match result {
        Err(VerifyError::Finality(error)) => error,
        other => panic!("expected a finality error, got {other:?}"),
    }
}

#[test]
fn valid_receipts_verify_for_bills_and_claims() {
    let w = world();
    // Genesis lists the validators out of byte order: signer indices must follow the sorted
    // set, as simplex's do, not genesis order.
    let listed: Vec<_> = w.genesis.validators.iter().map(|v| v.public_key.clone()).collect();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_ne!(listed, sorted, "pick labels whose keys are not already sorted");

    for index in [0, 1, 3, 4, 5, 6, 7, 500, w.records.len() - 1] {
        let receipt = w.receipt(index);
        let verified = verify(&receipt, &w.genesis).unwrap();
        assert_eq!(verified.record, w.records[index]);
        assert_eq!(verified.as_of_height, 41);
        assert_eq!(verified.block_height, 42);
        assert_eq!(verified.block_time_ms, 1_790_000_042_000);
        assert_eq!((verified.signers, verified.validators), (4, 4));
        // And after a round trip through bytes and hex.
        assert_eq!(Receipt::from_bytes(&receipt.to_bytes()).unwrap(), receipt);
        assert_eq!(Receipt::from_hex(&receipt.to_hex()).unwrap(), receipt);
    }
    assert!(matches!(w.receipt(5).record, Record::Claim(_)));
    assert!(w.oracle_accepts(&w.finalization));
}

#[test]
fn a_quorum_of_three_of_four_is_enough() {
    let w = world();
    let three = finalize(&w.keys, &w.genesis.chain_id, &w.proposal, 3).encode().to_vec();
    w.verify_with_certificate(three).unwrap();
}

#[test]
fn flipping_any_byte_of_a_receipt_fails_to_decode_or_to_verify() {
    let w = world();
    let bytes = w.receipt(1).to_bytes();
    let (mut refused_by_decoder, mut refused_by_verify) = (0, 0);
    for position in 0..bytes.len() {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut flipped = bytes.clone();
            flipped[position] ^= mask;
            match Receipt::from_bytes(&flipped) {
                Err(_) => refused_by_decoder += 1,
                Ok(receipt) => {
                    assert!(
                        verify(&receipt, &w.genesis).is_err(),
                        "byte {position} ^ {mask:#04x} still verifies"
                    );
                    refused_by_verify += 1;
                }
            }
        }
    }
    println!(
        "{} bytes x 3 flips: {refused_by_decoder} refused by the decoder, {refused_by_verify} by verify",
        bytes.len()
    );
}

#[test]
fn flipping_any_byte_of_the_certificate_fails_and_the_oracle_agrees() {
    let w = world();
    for position in 0..w.finalization.len() {
        for mask in [0x01u8, 0x80] {
            let mut flipped = w.finalization.clone();
            flipped[position] ^= mask;
            assert!(w.verify_with_certificate(flipped).is_err(), "byte {position} ^ {mask:#04x}");
        }
    }
}

#[test]
fn a_header_signed_by_two_of_four_is_not_final() {
    let w = world();
    let full = finalize(&w.keys, &w.genesis.chain_id, &w.proposal, 4);
    // Simplex refuses to assemble fewer than a quorum, so cut a full certificate down.
    let two = Finalization::<Scheme, sha256::Digest> {
        proposal: full.proposal.clone(),
        certificate: Certificate {
            signers: Signers::new(4, full.certificate.signers.iter().take(2)).unwrap(),
            signatures: full.certificate.signatures[..2].to_vec(),
        },
    };
    let error = finality_error(w.verify_with_certificate(two.encode().to_vec()));
    assert!(
        matches!(error, FinalityError::NoQuorum { signers: 2, quorum: 3, validators: 4 }),
        "{error}"
    );
}

#[test]
fn a_certificate_from_another_validator_set_is_refused() {
    let w = world();
    // Four other keys: the same shape, other signatures.
    let others = validator_keys("impostor", 4);
    let forged = finalize(&others, &w.genesis.chain_id, &w.proposal, 4).encode().to_vec();
    let error = finality_error(w.verify_with_certificate(forged));
    assert!(matches!(error, FinalityError::BadSignature { .. }), "{error}");

    // Three other keys: the bitmap is for three validators.
    let three = validator_keys("impostor", 3);
    let forged = finalize(&three, &w.genesis.chain_id, &w.proposal, 3).encode().to_vec();
    let error = finality_error(w.verify_with_certificate(forged));
    assert!(
        matches!(error, FinalityError::SignerBitmapLength { bitmap: 3, validators: 4 }),
        "{error}"
    );

    // Five: more signers than there are validators does not even decode.
    let five = validator_keys("impostor", 5);
    let forged = finalize(&five, &w.genesis.chain_id, &w.proposal, 5).encode().to_vec();
    let error = finality_error(w.verify_with_certificate(forged));
    assert!(matches!(error, FinalityError::Malformed { validators: 4, .. }), "{error}");
}

#[test]
fn a_certificate_under_another_chains_namespace_is_refused() {
    let w = world();
    let other = ChainId::new("medledger-other").unwrap();
    let foreign = finalize(&w.keys, &other, &w.proposal, 4).encode().to_vec();
    let error = finality_error(w.verify_with_certificate(foreign));
    assert!(
        matches!(&error, FinalityError::BadSignature { chain_id, .. } if *chain_id == w.genesis.chain_id),
        "{error}"
    );
}

#[test]
fn signatures_in_genesis_order_instead_of_key_order_are_refused() {
    let w = world();
    let full = finalize(&w.keys, &w.genesis.chain_id, &w.proposal, 4);
    let mut swapped = full.clone();
    swapped.certificate.signatures.swap(0, 1);
    let error = finality_error(w.verify_with_certificate(swapped.encode().to_vec()));
    assert!(matches!(error, FinalityError::BadSignature { index: 0, .. }), "{error}");
}

#[test]
fn a_notarization_is_not_a_finalization() {
    let w = world();
    let schemes = schemes(&w.keys, &w.genesis.chain_id);
    let votes: Vec<_> =
        schemes.iter().map(|s| Notarize::sign(s, w.proposal.clone()).unwrap()).collect();
    let notarization =
        Notarization::from_notarizes(&schemes[0], non_empty![@votes.iter()], &Sequential).unwrap();
    // Byte for byte it has the shape of a finalization; only the signed namespace differs.
    let error = finality_error(w.verify_with_certificate(notarization.encode().to_vec()));
    assert!(matches!(error, FinalityError::Notarization), "{error}");
}

#[test]
fn a_certificate_for_another_block_or_epoch_is_refused() {
    let w = world();
    // A real finalization, of another block.
    let mut other_header = w.header.clone();
    other_header.height += 1;
    let other = finalize(&w.keys, &w.genesis.chain_id, &proposal_for(&other_header, 0), 4);
    let error = finality_error(w.verify_with_certificate(other.encode().to_vec()));
    assert!(matches!(error, FinalityError::WrongBlock { .. }), "{error}");

    // A real finalization of this block in epoch 1, which medledger never runs.
    let later = finalize(&w.keys, &w.genesis.chain_id, &proposal_for(&w.header, 1), 4);
    let error = finality_error(w.verify_with_certificate(later.encode().to_vec()));
    assert!(matches!(error, FinalityError::WrongEpoch(1)), "{error}");

    // Bytes after the certificate.
    let mut longer = w.finalization.clone();
    longer.push(0);
    let error = finality_error(w.verify_with_certificate(longer));
    assert!(matches!(error, FinalityError::TrailingBytes(1)), "{error}");
}

#[test]
fn a_header_altered_after_finalization_is_refused() {
    let w = world();
    let mut receipt = w.receipt(0);
    receipt.header.timestamp_ms += 1;
    let error = verify(&receipt, &w.genesis).unwrap_err();
    assert!(matches!(&error, VerifyError::Finality(FinalityError::WrongBlock { .. })), "{error}");
}

#[test]
fn a_proof_for_another_bill_does_not_prove_this_one() {
    let w = world();
    // Bill 2's record presented with bill 3's proof, and at bill 3's leaf.
    let receipt = w.receipt_of(2, w.records[1].clone());
    let error = verify(&receipt, &w.genesis).unwrap_err();
    assert!(matches!(error, VerifyError::ProofMismatch { kind: "bill", leaf: 2, .. }), "{error}");
    let mut receipt = w.receipt(1);
    receipt.leaf = 2;
    let error = verify(&receipt, &w.genesis).unwrap_err();
    assert!(matches!(error, VerifyError::ProofMismatch { .. }), "{error}");
    // A claim's record at a bill's leaf.
    let receipt = w.receipt_of(0, w.records[5].clone());
    let error = verify(&receipt, &w.genesis).unwrap_err();
    assert!(matches!(error, VerifyError::ProofMismatch { kind: "claim", .. }), "{error}");
}

#[test]
fn a_stale_record_does_not_verify_after_its_slot_was_overwritten() {
    let w = world();
    assert_ne!(w.stale, w.records[0]);
    let receipt = w.receipt_of(0, w.stale.clone());
    let error = verify(&receipt, &w.genesis).unwrap_err();
    assert!(matches!(error, VerifyError::ProofMismatch { kind: "bill", leaf: 0, .. }), "{error}");
    assert_eq!(
        error.to_string(),
        "the proof does not place this bill's record at leaf 0 under the state root: the record \
         or the proof was altered, or the record is not the one as of height 41"
    );
    verify(&w.receipt(0), &w.genesis).unwrap();
}

#[test]
fn altered_roots_do_not_match_the_header() {
    let w = world();
    let mut receipt = w.receipt(0);
    receipt.receipts_root.0[0] ^= 1;
    let error = verify(&receipt, &w.genesis).unwrap_err();
    assert!(matches!(error, VerifyError::StateRootMismatch { executed_height: 41, .. }), "{error}");
    // The MMR root is checked by the proof first.
    let mut receipt = w.receipt(0);
    receipt.mmr_root.0[0] ^= 1;
    assert!(matches!(verify(&receipt, &w.genesis), Err(VerifyError::ProofMismatch { .. })));
    // The executed height is hashed into the state root.
    let mut receipt = w.receipt(0);
    receipt.header.executed_height = 40;
    assert!(matches!(verify(&receipt, &w.genesis), Err(VerifyError::StateRootMismatch { .. })));
}

#[test]
fn version_chain_and_proof_shape_are_checked_first() {
    let w = world();
    let mut receipt = w.receipt(0);
    receipt.version = 2;
    assert!(matches!(
        verify(&receipt, &w.genesis),
        Err(VerifyError::UnknownVersion { version: 2 })
    ));
    assert!(matches!(
        Receipt::from_bytes(&receipt.to_bytes()),
        Err(DecodeError::UnknownVersion { version: 2 })
    ));

    let mut other = w.genesis.clone();
    other.chain_id = ChainId::new("medledger-other").unwrap();
    let error = verify(&w.receipt(0), &other).unwrap_err();
    assert!(matches!(error, VerifyError::WrongChain { .. }), "{error}");

    let mut receipt = w.receipt(0);
    receipt.proof.inactive_peaks = 1;
    assert!(matches!(verify(&receipt, &w.genesis), Err(VerifyError::InactivePeaks(1))));
}

#[test]
fn a_genesis_without_a_usable_validator_set_verifies_nothing() {
    let w = world();
    let mut none = w.genesis.clone();
    none.validators.clear();
    let error = verify(&w.receipt(0), &none).unwrap_err();
    assert!(matches!(error, VerifyError::Finality(FinalityError::NoValidators)), "{error}");

    let mut twice = w.genesis.clone();
    twice.validators[3] = twice.validators[0].clone();
    let error = verify(&w.receipt(0), &twice).unwrap_err();
    assert!(
        matches!(error, VerifyError::Finality(FinalityError::DuplicateValidator { .. })),
        "{error}"
    );
}

#[test]
fn malformed_text_and_bytes_are_refused() {
    let w = world();
    let hex = w.receipt(0).to_hex();
    assert!(matches!(Receipt::from_hex(&hex[1..]), Err(DecodeError::Hex(_))));
    assert!(matches!(Receipt::from_hex(&hex[..hex.len() - 2]), Err(DecodeError::Malformed(_))));
    assert!(matches!(Receipt::from_hex(&format!("{hex}00")), Err(DecodeError::Malformed(_))));
    let huge = "01".repeat(medledger_receipt::RECEIPT_BYTES_MAX + 1);
    assert!(matches!(Receipt::from_hex(&huge), Err(DecodeError::TooLarge { .. })));
    // A record tag that is neither a bill (1) nor a claim (2).
    let mut bytes = w.receipt(0).to_bytes();
    let tag_at = 1 + w.genesis.chain_id.encode().len();
    assert_eq!(bytes[tag_at], 1);
    bytes[tag_at] = 3;
    assert!(matches!(Receipt::from_bytes(&bytes), Err(DecodeError::Malformed(_))));
}

#[test]
fn garbage_is_called_not_a_receipt_in_plain_words() {
    let said = |input: &[u8]| Receipt::parse(input).unwrap_err().to_string();
    for garbage in [&b"hello"[..], b"{not json", b"\xff\xfe\x00", b"GET / HTTP/1.1"] {
        let message = said(garbage);
        assert!(
            message.starts_with("not a receipt") || message.contains("receipt answer"),
            "{message}"
        );
        assert!(!message.contains("version"), "{message}");
    }
    assert!(said(b"hello").contains("expected hex, QR text (ML1*"), "{}", said(b"hello"));
    assert!(said(b"").starts_with("no receipt: the input is empty"));
    assert!(said(b"  \n").starts_with("no receipt: the input is empty"));
    let qr = said(b"ML1*not a receipt");
    assert_eq!(qr, "not a receipt's QR text: expected ML1*KEY*CHECK*DATA");
    let qr = said(b"ML1*44010126/0000000001*ABCDEF*a lowercase letter");
    assert!(qr.contains("not Base45"), "{qr}");
    // A newer binary format is still named as such.
    assert!(said(&[2, 0, 0]).contains("version 2 is not known"));

    // The readable part of a QR text must be the record inside.
    let w = world();
    let text = w.receipt(1).to_qr_text();
    let relabelled = text.replacen("0000000002*", "0000000003*", 1);
    let message = said(relabelled.as_bytes());
    assert!(message.contains("does not match the receipt inside"), "{message}");
}

/// A fixed receipt (labelled keys, deterministic ed25519 signatures) with its exact encoding.
/// If it changes, the receipt format, the MMR's hashing, the record encoding or the header
/// digest changed, and receipts already handed out would stop verifying.
/// `MEDLEDGER_BLESS=1` rewrites it for a deliberate, versioned change.
#[test]
fn receipt_format_matches_golden_vector() {
    let w = world();
    let receipt = w.receipt(1);
    let rendered = format!(
        "# A bill receipt (leaf 1 of {} leaves). Regenerate only for a deliberate format change.\n{}\n",
        w.records.len(),
        receipt.to_hex()
    );
    if std::env::var("MEDLEDGER_BLESS").is_ok() {
        std::fs::create_dir_all("tests/golden").unwrap();
        std::fs::write(GOLDEN, &rendered).unwrap();
    }
    let golden =
        std::fs::read_to_string(GOLDEN).expect("golden file exists (MEDLEDGER_BLESS=1 creates it)");
    assert_eq!(golden, rendered, "receipt format changed");
    let hex = golden.lines().nth(1).unwrap();
    let decoded = Receipt::from_hex(hex).unwrap();
    assert_eq!(decoded, receipt);
    verify(&decoded, &w.genesis).unwrap();
}

#[test]
fn receipt_size_and_verification_time() {
    let w = world();
    let receipt = w.receipt(1);
    let bytes = receipt.to_bytes();
    const RUNS: u32 = 200;
    let start = Instant::now();
    for _ in 0..RUNS {
        let decoded = Receipt::from_bytes(&bytes).unwrap();
        verify(&decoded, &w.genesis).unwrap();
    }
    let per_receipt = start.elapsed() / RUNS;
    println!(
        "receipt: {} bytes ({} leaves, {} proof digests, {}-byte finalization by {} validators); \
         decode + verify: {per_receipt:?} per receipt (mean of {RUNS})",
        bytes.len(),
        w.records.len(),
        receipt.proof.digests.len(),
        receipt.finalization.len(),
        w.keys.len(),
    );
}
