//! The web portal's cryptography (`crates/node/portal/crypto.js`) against this crate: the same
//! identities, signatures, hashes, body encodings and error messages, and sealed bodies and
//! disclosures that open in both directions.
//!
//! ```text
//!  Rust: vectors.json ──node crates/node/portal/tests/crypto_check.mjs──▶ out.json ──▶ Rust
//!  (inputs, a body sealed by Rust)   (JS computes, opens, seals, discloses)   (compares, opens)
//! ```
//!
//! The JavaScript side also checks the primitives against RFC 8439, draft-irtf-cfrg-xchacha and
//! RFC 9180 test vectors before anything else. Node.js 20 or newer must be on `PATH`: without
//! it the test fails, saying so, rather than passing without having checked anything.

mod support;

use commonware_codec::Encode;
use medledger_crypto::{Domain, Namespace, SigningKey, encode_hex, hash};
use medledger_privacy::{
    EncryptionSecret, OpenError, PrivateBody, SealError, Wallet, disclose, open, open_own,
    pseudonym_of, seal,
};
use medledger_types::{
    BillId, ChainId, ChargeCategory, Digest, Disclosure, EncryptionKey, MemberId, SealedBody,
};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use support::charge;

/// The oldest Node.js whose WebCrypto has Ed25519 and X25519 as `crypto.js` uses them.
const NODE_MAJOR_MIN: u32 = 20;

/// The published test vectors (and the Poly1305 reference) `crypto_check.mjs` must report
/// having checked.
const RFC_VECTORS: [&str; 7] = [
    "rfc8439 2.4.2 chacha20",
    "rfc8439 2.5.2 poly1305",
    "rfc8439 2.8.2 chacha20-poly1305",
    "xchacha 2.2.1 hchacha20",
    "xchacha a.3.1 xchacha20-poly1305",
    "rfc9180 a.2.1 base x25519 hkdf-sha256 chacha20poly1305",
    "poly1305 bigint reference",
];

const INSTITUTION: &str = "city-central-hospital";

/// A body with multi-byte text, a diagnosis longer than 127 bytes (a two-byte length) and an
/// amount above 2^32 fen (both halves of a u64).
fn body() -> PrivateBody {
    PrivateBody {
        patient_name: "李雷".into(),
        patient_id: "440106198703152846".into(),
        department: "心血管内科".into(),
        diagnosis: "I21.000 急性前壁心肌梗死；I10.x00 高血压病3级（极高危）；E11.900 2型糖尿病；\
                    经皮冠状动脉介入治疗术后"
            .into(),
        items: vec![
            charge(
                "330802003",
                "经皮冠状动脉支架置入术",
                ChargeCategory::Surgery,
                2_500_000_000,
                3,
                10,
            ),
            charge("250101015", "血细胞分析（五分类）", ChargeCategory::Examination, 2_000, 1, 0),
        ],
        payment_channel: "医保卡".into(),
    }
}

/// Bodies `PrivateBody::validate` refuses, one reason each.
fn invalid_bodies() -> Vec<PrivateBody> {
    let mut mismatch = body();
    mismatch.items[1].amount.0 += 1;
    let mut overpaid = body();
    overpaid.items[0].self_paid.0 = overpaid.items[0].amount.0 + 1;
    let mut long = body();
    long.items[1].name = "超".repeat(86);
    // Under 2^53 fen, so that JavaScript's JSON numbers hold it exactly; times 4,000 it is
    // over 2^64.
    let mut overflow = body();
    overflow.items[1].unit_price.0 = 9_000_000_000_000_000;
    overflow.items[1].quantity = 4_000;
    vec![mismatch, overpaid, long, overflow]
}

/// Bodies whose encodings are compared: the sealed one, one item of every category, and one
/// with every text empty and no items.
fn bodies() -> Vec<PrivateBody> {
    let categories = ChargeCategory::ALL;
    let mut every_category = body();
    every_category.items = categories
        .iter()
        .enumerate()
        .map(|(i, category)| charge(&format!("{i:09}"), "项目", *category, 100 + i as u64, 2, 50))
        .collect();
    let empty = PrivateBody {
        patient_name: String::new(),
        patient_id: String::new(),
        department: String::new(),
        diagnosis: String::new(),
        items: vec![],
        payment_channel: String::new(),
    };
    vec![body(), every_category, empty]
}

fn chain() -> ChainId {
    ChainId::new("medledger-portal-test").unwrap()
}

fn bill() -> BillId {
    BillId::new(44_010_126, 42).unwrap()
}

fn other_bill() -> BillId {
    BillId::new(44_010_126, 43).unwrap()
}

/// Everyone who holds a key in the test.
struct Keys {
    /// The patient's encryption secret at the institution: the Rust-sealed body's first reader,
    /// and the secret JavaScript opens and discloses with.
    patient: EncryptionSecret,
    issuer: EncryptionSecret,
    regulator: EncryptionSecret,
    payer: EncryptionSecret,
    outsider: EncryptionSecret,
}

fn keys() -> Keys {
    let wallet = Wallet::from_seed([0x5a; 32]);
    Keys {
        patient: wallet.identity(&MemberId::new(INSTITUTION).unwrap()).encryption,
        issuer: EncryptionSecret::derive(&[2; 32]),
        regulator: EncryptionSecret::derive(&[3; 32]),
        payer: EncryptionSecret::derive(&[4; 32]),
        outsider: EncryptionSecret::derive(&[5; 32]),
    }
}

fn hex_of(bytes: &[u8]) -> Value {
    Value::String(encode_hex(bytes))
}

/// The snake_case name of an `OpenError` variant, as `crypto.js` gives it in `error.kind`.
fn open_kind(error: &OpenError) -> &'static str {
    match error {
        OpenError::NoWrapForKey => "no_wrap_for_key",
        OpenError::UnwrapFailed => "unwrap_failed",
        OpenError::Tampered => "tampered",
        OpenError::Malformed(_) => "malformed",
        OpenError::CommitmentMismatch => "commitment_mismatch",
        OpenError::BadRecipient(_) => "bad_recipient",
    }
}

/// The snake_case name of a `SealError` variant, as `crypto.js` gives it in `error.kind`.
fn seal_kind(error: &SealError) -> &'static str {
    match error {
        SealError::NoReaders => "no_readers",
        SealError::DuplicateReader(_) => "duplicate_reader",
        SealError::TooManyReaders { .. } => "too_many_readers",
        SealError::TooLarge { .. } => "too_large",
        SealError::InvalidBody(_) => "invalid_body",
        SealError::BadReader(_) => "bad_reader",
    }
}

/// What `crypto_check.mjs` writes for a refusal: the error's kind and message.
fn refusal(kind: &str, message: String) -> Value {
    json!({ "kind": kind, "message": message })
}

/// A temporary directory removed when the test ends, however it ends.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir()
            .join(format!("medledger-portal-crypto-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `node` with `args`, failing with instructions when Node.js is missing or too old.
fn node(args: &[&Path]) -> std::process::Output {
    let install = "install Node.js 20 or newer (for example `apt-get install nodejs`) so that \
                   `node` is on PATH: this test runs the web portal's crypto.js";
    let version = match Command::new("node").arg("--version").output() {
        Ok(output) => String::from_utf8_lossy(&output.stdout).trim().to_string(),
        Err(error) => panic!("cannot run `node` ({error}); {install}"),
    };
    let major = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|major| major.parse::<u32>().ok());
    assert!(
        major.is_some_and(|major| major >= NODE_MAJOR_MIN),
        "`node --version` says {version:?}; {install}"
    );
    Command::new("node").args(args).output().expect("run node")
}

/// Writes the vectors, runs `crypto_check.mjs` on them and returns its output file's JSON.
fn run_javascript(vectors: &Value) -> Value {
    let dir = TempDir::new();
    let vectors_path = dir.0.join("vectors.json");
    let out_path = dir.0.join("out.json");
    std::fs::write(&vectors_path, serde_json::to_vec_pretty(vectors).unwrap()).unwrap();
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../node/portal/tests/crypto_check.mjs");
    let output = node(&[&script, &vectors_path, &out_path]);
    assert!(
        output.status.success(),
        "crypto_check.mjs failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&std::fs::read(&out_path).expect("crypto_check.mjs wrote its output"))
        .expect("crypto_check.mjs wrote JSON")
}

#[test]
fn portal_crypto_js_computes_what_rust_computes_and_sealed_bodies_open_both_ways() {
    let keys = keys();
    let (chain, bill) = (chain(), bill());
    let body = body();
    let body_json = serde_json::to_value(&body).unwrap();

    // What Rust computes, kept here; only the inputs go to JavaScript.
    let wallet_seed = [0x5a; 32];
    let identity = Wallet::from_seed(wallet_seed).identity(&MemberId::new(INSTITUTION).unwrap());

    let namespaces = [Namespace::Transaction, Namespace::PatientConsent, Namespace::ApiRequest];
    let messages: [&[u8]; 3] = [b"", b"claim 7 for bill 44010126/0000000042", &[0xa5; 300]];
    let signers = [identity.signing_key.seed(), SigningKey::from_label("portal").seed()];
    let mut signature_inputs = Vec::new();
    let mut signatures = Vec::new();
    for seed in signers {
        let key = SigningKey::from_seed(seed);
        for namespace in namespaces {
            for message in messages {
                let namespace_text = std::str::from_utf8(namespace.as_bytes()).unwrap();
                signature_inputs.push(json!({
                    "seed": hex_of(&seed),
                    "namespace": namespace_text,
                    "message": hex_of(message),
                }));
                signatures.push(json!({
                    "public_key": key.public_key().to_hex(),
                    "signature": hex_of(key.sign(namespace, message).as_bytes()),
                }));
            }
        }
    }

    let encryption_seeds = [[0u8; 32], [0xff; 32], identity.signing_key.seed()];
    let encryption_keys: Vec<Value> = encryption_seeds
        .iter()
        .map(|seed| {
            let secret = EncryptionSecret::from_signing_key(&SigningKey::from_seed(*seed));
            json!({ "secret": hex_of(secret.to_bytes().as_slice()), "public": secret.public() })
        })
        .collect();

    // The domain tags are private to medledger-crypto; writing them out here pins them.
    let domains = [
        (Domain::Pseudonym, "medledger/pseudonym/v1"),
        (Domain::BodyCommitment, "medledger/body-commitment/v1"),
        (Domain::SealedBody, "medledger/sealed-body/v1"),
        (Domain::TransactionId, "medledger/tx-id/v1"),
    ];
    let parts: [&[u8]; 3] = [b"", "医保卡".as_bytes(), &[7; 200]];
    let domain_inputs: Vec<Value> =
        domains.iter().map(|(_, tag)| json!({ "tag": tag, "parts": parts.map(hex_of) })).collect();
    let domain_hashes: Vec<Value> =
        domains.iter().map(|(domain, _)| Value::String(hash(*domain, &parts).to_hex())).collect();

    let pseudonym_keys =
        [identity.signing_key.public_key(), SigningKey::from_label("p").public_key()];
    let pseudonyms: Vec<Value> =
        pseudonym_keys.iter().map(|key| Value::String(pseudonym_of(key).to_string())).collect();

    let invalid = invalid_bodies();
    let invalid_errors: Vec<Value> =
        invalid.iter().map(|b| Value::String(b.validate().unwrap_err().to_string())).collect();

    let binding = |prefix: &[u8]| {
        let mut out = prefix.to_vec();
        out.extend_from_slice(&chain.encode());
        out.extend_from_slice(&bill.encode());
        encode_hex(&out)
    };

    let readers = [keys.patient.public(), keys.issuer.public(), keys.regulator.public()];
    let rust_sealed = seal(&chain, &bill, &body, &readers).unwrap();

    let vectors = json!({
        "wallet": { "seed": hex_of(&wallet_seed), "institution": INSTITUTION },
        "signatures": signature_inputs,
        "encryption_seeds": encryption_seeds.map(|seed| hex_of(&seed)),
        "domain_hashes": domain_inputs,
        "pseudonym_keys": pseudonym_keys.iter().map(|key| key.to_hex()).collect::<Vec<_>>(),
        "body": body_json,
        "bodies": bodies(),
        "body_encodings": bodies().iter().map(|b| hex_of(&b.encode())).collect::<Vec<_>>(),
        "invalid_bodies": invalid,
        "chain": chain,
        "bill": bill,
        "other_bill": other_bill(),
        "rust_sealed": { "sealed": rust_sealed.body, "commitment": rust_sealed.commitment },
        "reader_secret": hex_of(keys.patient.to_bytes().as_slice()),
        "other_readers": [keys.issuer.public(), keys.regulator.public()],
        "payer_public": keys.payer.public(),
        "outsider_secret": hex_of(keys.outsider.to_bytes().as_slice()),
    });

    let js = run_javascript(&vectors);

    // The primitives passed their published vectors.
    assert_eq!(js["rfc_vectors"], json!(RFC_VECTORS), "test vectors crypto_check.mjs checked");

    // Identities, signatures and hashes.
    assert_eq!(
        js["wallet"],
        json!({
            "pseudonym": identity.pseudonym,
            "public_key": identity.signing_key.public_key(),
            "signing_seed": hex_of(&identity.signing_key.seed()),
            "encryption_secret": hex_of(identity.encryption.to_bytes().as_slice()),
            "encryption_public": identity.encryption.public(),
        }),
        "Wallet::identity at {INSTITUTION}"
    );
    assert_eq!(js["signatures"], json!(signatures), "signatures under each namespace");
    assert_eq!(js["encryption_keys"], json!(encryption_keys), "EncryptionSecret::from_signing_key");
    assert_eq!(js["domain_hashes"], json!(domain_hashes), "medledger_crypto::hash");
    assert_eq!(js["pseudonyms"], json!(pseudonyms), "pseudonym_of");

    // The body's canonical form, its checks, and the bytes binding a body to its bill.
    assert_eq!(js["body_encodings"], vectors["body_encodings"], "encodeBody");
    assert_eq!(js["bodies_decoded"], vectors["bodies"], "decodeBody");
    assert_eq!(js["body_validation"], Value::Null, "validateBody of a valid body");
    assert_eq!(js["invalid_body_errors"], json!(invalid_errors), "validateBody's messages");
    assert_eq!(
        js["bindings"],
        json!({
            "body_aad": binding(b"medledger/bill-body/v1"),
            "key_info": binding(b"medledger/bill-key/v1"),
        }),
        "binding"
    );

    // JavaScript opened and disclosed the body Rust sealed.
    assert_eq!(js["opened_rust_sealed"], vectors["body"], "openBody of the Rust-sealed body");
    let (sealed, commitment) = (&rust_sealed.body, &rust_sealed.commitment);
    let disclosure: Disclosure =
        serde_json::from_value(js["disclosure_of_rust_sealed"].clone()).unwrap();
    assert_eq!(serde_json::to_value(&disclosure).unwrap(), js["disclosure_of_rust_sealed"]);
    assert_eq!((disclosure.bill, disclosure.wrap.recipient), (bill, keys.payer.public()));
    let opened = open(&chain, &bill, sealed, commitment, &disclosure.wrap, &keys.payer);
    assert_eq!(opened.unwrap(), body, "the payer opens the JS disclosure of the Rust-sealed body");

    // Rust opens the body JavaScript sealed, as each reader, and checks its commitment.
    let js_sealed: SealedBody = serde_json::from_value(js["js_sealed"]["sealed"].clone()).unwrap();
    let js_commitment: Digest =
        serde_json::from_value(js["js_sealed"]["commitment"].clone()).unwrap();
    assert_eq!(
        serde_json::to_value(&js_sealed).unwrap(),
        js["js_sealed"]["sealed"],
        "sealBody writes SealedBody's JSON exactly as serde does"
    );
    let recipients: Vec<EncryptionKey> = js_sealed.wraps.iter().map(|w| w.recipient).collect();
    assert_eq!(recipients, readers, "one wrap per reader, in order");
    assert_eq!(js_sealed.ciphertext.len(), 32 + body.encode().len() + 16, "salt, body, tag");
    for reader in [&keys.patient, &keys.issuer, &keys.regulator] {
        let opened = open_own(&chain, &bill, &js_sealed, &js_commitment, reader);
        assert_eq!(opened.unwrap(), body, "open_own of the JS-sealed body");
    }
    assert_eq!(
        open_own(&chain, &bill, &js_sealed, &Digest([0; 32]), &keys.patient),
        Err(OpenError::CommitmentMismatch),
        "the JS-sealed body opens only under its own commitment"
    );
    assert_eq!(js["opened_js_sealed"], vectors["body"], "openBody of the JS-sealed body");
    let disclosure: Disclosure =
        serde_json::from_value(js["disclosure_of_js_sealed"].clone()).unwrap();
    let opened = open(&chain, &bill, &js_sealed, &js_commitment, &disclosure.wrap, &keys.payer);
    assert_eq!(opened.unwrap(), body, "the payer opens the JS disclosure of the JS-sealed body");

    // JavaScript refuses what Rust refuses, with the same kind of error and the same message.
    let mut tampered = sealed.clone();
    tampered.ciphertext[0] ^= 1;
    let open_refusals = [
        ("tampered", open_own(&chain, &bill, &tampered, commitment, &keys.patient).map(|_| ())),
        (
            "wrong_commitment",
            open_own(&chain, &bill, sealed, &Digest([0; 32]), &keys.patient).map(|_| ()),
        ),
        ("outsider", open_own(&chain, &bill, sealed, commitment, &keys.outsider).map(|_| ())),
        (
            "other_bill",
            open_own(&chain, &other_bill(), sealed, commitment, &keys.patient).map(|_| ()),
        ),
        (
            "disclose_by_outsider",
            disclose(&chain, &bill, sealed, &keys.outsider, &keys.payer.public()).map(|_| ()),
        ),
        (
            "disclose_to_bad_key",
            disclose(&chain, &bill, sealed, &keys.patient, &EncryptionKey([0; 32])).map(|_| ()),
        ),
    ];
    for (name, result) in open_refusals {
        let error = result.expect_err(name);
        assert_eq!(
            js["open_refusals"][name],
            refusal(open_kind(&error), error.to_string()),
            "open refusal {name}"
        );
    }
    let seal_refusals = [
        ("no_readers", seal(&chain, &bill, &body, &[])),
        ("duplicate_reader", seal(&chain, &bill, &body, &[readers[0], readers[0]])),
        ("bad_reader", seal(&chain, &bill, &body, &[EncryptionKey([0; 32])])),
        ("invalid_body", seal(&chain, &bill, &invalid_bodies()[0], &readers[..1])),
    ];
    for (name, result) in seal_refusals {
        let error = result.expect_err(name);
        assert_eq!(
            js["seal_refusals"][name],
            refusal(seal_kind(&error), error.to_string()),
            "seal refusal {name}"
        );
    }
}
