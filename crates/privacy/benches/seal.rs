//! Cost of private bill bodies on one core: time to seal (three readers: the patient, the
//! issuer's copy, the regulator), to open, and to disclose (re-wrap the data key for a payer),
//! and the bytes a sealed body adds to the ledger, for a typical outpatient bill and a large
//! inpatient one.
//!
//! Run: `cargo bench -p medledger-privacy --bench seal`
//! Scale: `MEDLEDGER_BENCH_SCALE=0.1` for a quick run (default 1.0).
//!
//! Every timed operation's result is checked after the clock stops, so a broken run cannot
//! report a fast number.

// Counts here are small constants and scale factors; truncation cannot happen.
#![allow(clippy::cast_possible_truncation)]

#[path = "../tests/support/mod.rs"]
mod support;

use commonware_codec::{EncodeSize, FixedSize};
use medledger_privacy::{EncryptionSecret, PrivateBody, disclose, open_own, seal};
use medledger_types::{BillId, ChainId, Digest, EncryptionKey, KeyWrap};
use std::hint::black_box;
use std::time::Instant;

struct Case {
    name: &'static str,
    body: PrivateBody,
    rounds: usize,
}

fn main() {
    let scale: f64 =
        std::env::var("MEDLEDGER_BENCH_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let rounds = |n: f64| ((n * scale) as usize).max(10);
    let cases = [
        Case {
            name: "outpatient, 10 items",
            body: support::outpatient_body(),
            rounds: rounds(20_000.0),
        },
        Case {
            name: "inpatient, 200 items",
            body: support::inpatient_body(200),
            rounds: rounds(2_000.0),
        },
    ];
    let chain = ChainId::new("medledger-bench").expect("valid chain id");
    let patient = EncryptionSecret::derive(&[1; 32]);
    let issuer = EncryptionSecret::derive(&[2; 32]);
    let regulator = EncryptionSecret::derive(&[3; 32]);
    let payer = EncryptionSecret::derive(&[4; 32]);
    let readers = [patient.public(), issuer.public(), regulator.public()];

    println!("medledger privacy benchmark, one core, scale {scale}");
    println!(
        "seal: XChaCha20-Poly1305 body + one HPKE (X25519, HKDF-SHA256, ChaCha20-Poly1305) wrap per reader"
    );
    println!("readers: patient, issuer's copy, regulator");
    for case in &cases {
        let bills: Vec<BillId> = (0..case.rounds)
            .map(|n| BillId::new(44_010_126, n as u64).expect("valid bill id"))
            .collect();

        let start = Instant::now();
        let sealed: Vec<_> =
            bills.iter().map(|bill| seal(&chain, bill, black_box(&case.body), &readers)).collect();
        let seal_time = start.elapsed();
        let sealed: Vec<_> = sealed.into_iter().map(|s| s.expect("seals")).collect();

        let start = Instant::now();
        let opened: Vec<_> = bills
            .iter()
            .zip(&sealed)
            .map(|(bill, s)| open_own(&chain, bill, black_box(&s.body), &s.commitment, &patient))
            .collect();
        let open_time = start.elapsed();
        assert!(opened.iter().all(|o| o.as_ref() == Ok(&case.body)), "every body opens");

        let start = Instant::now();
        let consents: Vec<_> = bills
            .iter()
            .zip(&sealed)
            .map(|(bill, s)| disclose(&chain, bill, black_box(&s.body), &patient, &payer.public()))
            .collect();
        let disclose_time = start.elapsed();
        assert!(consents.iter().all(Result::is_ok), "every consent is made");

        let per_bill_us = |t: std::time::Duration| t.as_secs_f64() * 1e6 / case.rounds as f64;
        let plaintext = case.body.encode_size();
        let sealed_size = sealed[0].body.encode_size();
        let ciphertext = sealed[0].body.ciphertext.len();
        println!();
        println!("{} ({} bills)", case.name, case.rounds);
        println!("  seal, 3 readers        {:>9.1} µs/bill", per_bill_us(seal_time));
        println!("  open (unwrap+decrypt)  {:>9.1} µs/bill", per_bill_us(open_time));
        println!("  disclose (re-wrap)     {:>9.1} µs/bill", per_bill_us(disclose_time));
        println!("  canonical body         {plaintext:>9} bytes");
        println!("  ciphertext             {ciphertext:>9} bytes (32 salt + body + 16 tag)");
        println!(
            "  sealed body on ledger  {sealed_size:>9} bytes (encoded SealedBody: 24 nonce + \
             length + ciphertext + count + wraps)"
        );
        println!("  overhead over body     {:>9} bytes", sealed_size - plaintext);
    }
    println!();
    println!(
        "per reader: one KeyWrap = {} bytes (32 recipient + 32 encapsulated + 48 wrapped key)",
        dummy_wrap().encode_size()
    );
    println!(
        "the bill header's body commitment is another {} bytes, already counted with the header",
        Digest::SIZE
    );
}

fn dummy_wrap() -> KeyWrap {
    KeyWrap {
        recipient: EncryptionKey([0; 32]),
        encapsulated: EncryptionKey([0; 32]),
        wrapped_key: medledger_types::WrappedKey([0; 48]),
    }
}
