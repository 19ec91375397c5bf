//! Privacy on a real 4-validator network, driven as its users drive it (the CLI):
//!
//! - the canary: a unique name and ID planted in a bill body, then issue, claim (disclosed to
//!   the payer), settle, a regulator's recorded read, a restart of every validator; then every
//!   file in every node's data directory (blocks, certificates, logs), every metrics page and
//!   every API answer an unentitled caller can get is searched, and none holds the canary;
//! - entitlement: the patient, the issuer, the consented payer and the recorded regulator open
//!   the body and check it against the commitment; an unconsented payer and a stranger cannot;
//! - erasure: once the hospital's copy and the patient's key are erased, neither can read the
//!   body, while its receipt still verifies offline.

mod support;

use medledger_crypto::{Namespace, SigningKey, encode_hex, keyfile};
use medledger_privacy::Wallet;
use medledger_types::api::{REQUEST_KEY_HEADER, REQUEST_SIGNATURE_HEADER, REQUEST_TIME_HEADER};
use medledger_types::{MemberId, Payload};
use serde_json::json;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use support::*;

const STARTUP: Duration = Duration::from_secs(90);
const CODE: u32 = medledger_testkit::DEMO_BILL_CODE;

/// Every regular file under `dir`, recursively.
fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            files_under(&path, out);
        } else if kind.is_file() {
            out.push(path);
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A raw GET with extra header lines: the whole answer (head and body), read until the node
/// closes the connection or `within` has passed (the event stream never closes).
fn raw_get(addr: SocketAddr, path: &str, headers: &str, within: Duration) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\r\n")
        .unwrap();
    let deadline = std::time::Instant::now() + within;
    let mut out = Vec::new();
    let mut buf = [0u8; 65_536];
    while std::time::Instant::now() < deadline {
        match stream.read(&mut buf) {
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                continue;
            }
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    out
}

/// Headers of a request to `path` signed by `key` for `chain`.
fn signed(key: &SigningKey, path: &str, chain: &str) -> String {
    let time =
        u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap();
    let chain = medledger_types::ChainId::new(chain).unwrap();
    let message = medledger_types::api::request_message("GET", path, time, &chain);
    let signature = key.sign(Namespace::ApiRequest, &message);
    format!(
        "{REQUEST_KEY_HEADER}: {}\r\n{REQUEST_TIME_HEADER}: {time}\r\n{REQUEST_SIGNATURE_HEADER}: {}\r\n",
        key.public_key().to_hex(),
        encode_hex(signature.as_bytes())
    )
}

fn start_all(net: &mut Net) {
    for i in 0..net.nodes.len() {
        net.start(i);
    }
    let started = std::time::Instant::now();
    while !net.apis.iter().all(|api| height(*api).is_some_and(|h| h >= 2)) {
        if started.elapsed() > STARTUP {
            let logs: Vec<String> = (0..net.nodes.len()).map(|i| net.log_tail(i)).collect();
            panic!(
                "the validators did not finalize blocks in {STARTUP:?}:\n{}",
                logs.join("\n---\n")
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_until("every validator reports its three peers", STARTUP, || {
        net.apis
            .iter()
            .all(|api| get_json(*api, "/v1/status").is_some_and(|(_, s)| s["peers_connected"] == 3))
    });
}

#[test]
fn a_canary_in_a_bill_body_is_read_only_by_the_entitled_and_found_nowhere_else() {
    let mut net = Net::init("privacy", 4, 6);
    start_all(&mut net);
    let cli = Cli { node: format!("http://{}", net.apis[0]) };
    let dir = net.dir.clone();
    let key_path = |member: &str| {
        dir.join("keys/members").join(format!("{member}.key.json")).display().to_string()
    };
    let (hospital, ssb, ping, regulator) = (
        key_path("city-central-hospital"),
        key_path("social-security"),
        key_path("ping-health"),
        key_path("finance-bureau"),
    );
    let chain =
        get_json(net.apis[0], "/v1/status").unwrap().1["chain_id"].as_str().unwrap().to_string();

    // The canary: a name and an ID that exist nowhere else.
    let tag = encode_hex(&rand_bytes());
    let name = format!("Canary Zhang {tag}");
    let id = format!("CANARYID{tag}");
    let reference = format!("CANARY-REF-{}", &tag[..8]);
    let (patient, patient_key) = net.patients()[0].clone();
    // The patient's wallet holds their key in a file of its own.
    let wallet = dir.join("wallet.key.json");
    keyfile::write(&wallet, &patient_key).unwrap();
    let wallet = wallet.display().to_string();

    // Issue: the CLI seals the body before the batch leaves the hospital.
    let body = serde_json::to_value(medledger_testkit::sample_body(&name, &id, 50_000)).unwrap();
    let bills = json!({"code": CODE.to_string(), "bills": [
        {"number": 101, "patient": patient.to_string(), "total": "500.00", "pooled_fund": "300.00", "body": body},
        {"number": 102, "patient": patient.to_string(), "total": "80.00", "body": body},
    ]});
    let file = dir.join("bills.json");
    std::fs::write(&file, bills.to_string()).unwrap();
    let issued = cli.ok(&["bill", "issue", "--key", &hospital, "--file", file.to_str().unwrap()]);
    assert!(issued.contains("issued 2 of 2 bills"), "{issued}");
    let bill = medledger_types::BillId::new(CODE, 101).unwrap().to_string();
    let undisclosed = medledger_types::BillId::new(CODE, 102).unwrap().to_string();

    // The patient claims from the social security bureau, disclosing the body to it alone.
    let filed = cli.json(&[
        "claim",
        "submit",
        "--bill",
        &bill,
        "--amount",
        "100.00",
        "--payer",
        "social-security",
        "--patient-key",
        &wallet,
    ]);
    assert_eq!(filed["accepted"], true, "{filed}");
    let claim_id = filed["claim_id"].as_str().unwrap().to_string();
    let claim = cli.json(&["claim", "show", &claim_id]);
    assert_eq!(claim["submission"]["disclosures"].as_array().unwrap().len(), 1, "{claim}");
    let settled = cli.ok(&["claim", "settle", &claim_id, "--key", &ssb, "--reference", &reference]);
    assert!(settled.starts_with("accepted"), "{settled}");

    // Entitled readers open it and check it against the header's commitment; the regulator's
    // first read records its access on the ledger.
    for (who, args) in [
        ("patient", vec!["--key", &wallet]),
        ("issuer", vec!["--key", &hospital]),
        ("payer", vec!["--key", &ssb]),
        (
            "body_reader",
            vec!["--key", &regulator, "--purpose", "audit", "--reference", "canary audit"],
        ),
    ] {
        let shown = cli.ok(&[&["bill", "show", &bill][..], &args].concat());
        assert!(shown.contains(&name) && shown.contains(&id), "{who} could not read: {shown}");
        assert!(shown.contains(&format!("opened as {who}; matches the header's commitment")));
    }
    let shown = cli.json(&["bill", "show", &bill]);
    assert_eq!(shown["bill"]["accessed_by"], json!(["finance-bureau"]), "access recorded");

    // The unentitled cannot: a payer the patient did not disclose to, a payer asking for a bill
    // disclosed to another, and an unsigned request.
    let (error, _) = cli.fails(&["bill", "show", &bill, "--key", &ping], 1);
    assert!(error.contains("403 not_entitled"), "{error}");
    let (error, _) = cli.fails(&["bill", "show", &undisclosed, "--key", &ssb], 1);
    assert!(error.contains("403 not_entitled"), "{error}");
    let public_show = cli.ok(&["bill", "show", &bill]);

    // A signed read is good once, and only near the node's clock: a third party who captured
    // the patient's request cannot replay it (issue 21).
    {
        let (code, number) = bill.split_once('/').unwrap();
        let path = format!("/v1/bills/{code}/{number}/body");
        let patient_headers = signed(&patient_key, &path, &chain);
        let first = raw_get(net.apis[0], &path, &patient_headers, Duration::from_secs(5));
        assert!(String::from_utf8_lossy(&first).starts_with("HTTP/1.1 200"), "the patient reads");
        let again = raw_get(net.apis[0], &path, &patient_headers, Duration::from_secs(5));
        let again = String::from_utf8_lossy(&again);
        assert!(again.starts_with("HTTP/1.1 401") && again.contains("replayed_request"), "{again}");
    }
    // A frozen member reads nothing, whatever it was entitled to before.
    let regulator_key = keyfile::read(Path::new(&regulator)).unwrap();
    let node0 = client(net.apis[0]);
    let freeze = medledger_types::Payload::FreezeMember {
        member: medledger_types::MemberId::new("social-security").unwrap(),
    };
    assert!(node0.transact(&regulator_key, freeze).unwrap().receipt.outcome.is_accepted());
    let (error, _) = cli.fails(&["bill", "show", &bill, "--key", &ssb], 1);
    assert!(error.contains("403 signer_frozen"), "{error}");
    let unfreeze = medledger_types::Payload::UnfreezeMember {
        member: medledger_types::MemberId::new("social-security").unwrap(),
    };
    assert!(node0.transact(&regulator_key, unfreeze).unwrap().receipt.outcome.is_accepted());
    let shown = cli.ok(&["bill", "show", &bill, "--key", &ssb]);
    assert!(shown.contains(&name), "unfrozen, the payer reads again: {shown}");

    // Every validator restarts; the entitled still read (through another node).
    for i in 0..4 {
        net.kill9(i);
    }
    start_all(&mut net);
    let cli1 = Cli { node: format!("http://{}", net.apis[1]) };
    let shown = cli1.ok(&["bill", "show", &bill, "--key", &wallet]);
    assert!(shown.contains(&name), "{shown}");

    // Everything an unentitled party can see: every answer of every node's API without an
    // entitled key, every metrics page, and every file of every node's data directory.
    let mut seen: Vec<(String, Vec<u8>)> = vec![("bill show (public)".into(), public_show.into())];
    let stranger = SigningKey::generate();
    let ping_key = keyfile::read(Path::new(&ping)).unwrap();
    let (code, number) = bill.split_once('/').unwrap();
    let body_path = format!("/v1/bills/{code}/{number}/body");
    for (i, api) in net.apis.iter().enumerate() {
        let tip = height(*api).unwrap();
        let mut paths = vec![
            "/v1/status".to_string(),
            "/v1/members".to_string(),
            "/metrics".to_string(),
            "/openapi.json".to_string(),
            format!("/v1/bills/{code}/{number}"),
            format!("/v1/bills/{code}/{number}/proof"),
            format!("/v1/patients/{patient}"),
            format!("/v1/patients/{patient}/bills"),
            format!("/v1/claims/{claim_id}"),
            format!("/v1/claims/{claim_id}/proof"),
            "/v1/payers/social-security/claims".to_string(),
        ];
        paths.extend((1..=tip).map(|h| format!("/v1/blocks/{h}")));
        for path in &paths {
            seen.push((format!("node{i} {path}"), raw_get(*api, path, "", Duration::from_secs(5))));
        }
        let events = raw_get(*api, "/v1/events?from_height=1", "", Duration::from_secs(2));
        assert!(contains(&events, b"claim_settled"), "the event stream was read");
        seen.push((format!("node{i} events"), events));
        for (who, headers) in [
            ("unsigned", String::new()),
            ("stranger", signed(&stranger, &body_path, &chain)),
            ("unconsented payer", signed(&ping_key, &body_path, &chain)),
        ] {
            let answer = raw_get(*api, &body_path, &headers, Duration::from_secs(5));
            let head = String::from_utf8_lossy(&answer[..answer.len().min(15)]).to_string();
            assert!(head.contains("401") || head.contains("403"), "{who}: {head}");
            seen.push((format!("node{i} body as {who}"), answer));
        }
    }
    let mut files = Vec::new();
    for i in 0..4 {
        files_under(&net.home(i), &mut files);
    }
    let mut data_bytes = 0;
    let mut reference_found = false;
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        data_bytes += bytes.len();
        reference_found |= contains(&bytes, reference.as_bytes());
        seen.push((path.display().to_string(), bytes));
    }
    // Control: the scan sees what blocks hold (the settlement's public payment reference).
    assert!(reference_found, "the public payment reference is in no data file: the scan is blind");

    let needles: Vec<Vec<u8>> = vec![
        name.as_bytes().to_vec(),
        id.as_bytes().to_vec(),
        tag.as_bytes().to_vec(),
        encode_hex(id.as_bytes()).into_bytes(),
    ];
    let hits: Vec<&String> = seen
        .iter()
        .filter(|(_, bytes)| needles.iter().any(|n| contains(bytes, n)))
        .map(|(place, _)| place)
        .collect();
    println!(
        "canary search: {} places ({} files, {data_bytes} bytes of node data, {} API answers), {} hits",
        seen.len(),
        files.len(),
        seen.len() - files.len(),
        hits.len()
    );
    assert!(hits.is_empty(), "the canary leaked to: {hits:?}");

    // One wallet, two hospitals: a pseudonym and keys per institution, which nothing on the
    // ledger links; the platform registers both, and the wallet reads its bills at each.
    let node = client(net.apis[2]);
    let platform = keyfile::read(Path::new(&key_path("wallet-platform"))).unwrap();
    let person = Wallet::generate();
    let hospitals = ["city-central-hospital", "childrens-hospital"];
    let identities: Vec<_> =
        hospitals.iter().map(|h| person.identity(&MemberId::new(*h).unwrap())).collect();
    assert_ne!(identities[0].pseudonym, identities[1].pseudonym);
    let mut issued = Vec::new();
    for (i, (identity, hospital)) in identities.iter().zip(hospitals).enumerate() {
        let register = Payload::RegisterPatient {
            patient: identity.pseudonym,
            public_key: identity.signing_key.public_key(),
            encryption_key: identity.encryption.public(),
        };
        assert!(node.transact(&platform, register).unwrap().receipt.outcome.is_accepted());
        let number = u64::try_from(i).unwrap() * medledger_testkit::DEMO_RANGE_SIZE + 301;
        let id = medledger_types::BillId::new(CODE, number).unwrap();
        let body = medledger_testkit::sample_body("Wallet Holder", "W-1", 2_000);
        let payload = node
            .seal_bills(
                vec![(medledger_testkit::bill(id, identity.pseudonym, 2_000, 0), body)],
                None,
                1,
            )
            .unwrap()
            .remove(0);
        let key = keyfile::read(Path::new(&key_path(hospital))).unwrap();
        assert!(node.transact(&key, payload).unwrap().receipt.outcome.is_accepted());
        issued.push(id);
    }
    for (identity, id) in identities.iter().zip(&issued) {
        let found = node.patient_bills(identity.pseudonym).unwrap();
        assert_eq!(found.iter().map(|b| b.id()).collect::<Vec<_>>(), vec![*id]);
        let (_, body) =
            node.open_bill_body(*id, &identity.signing_key, &identity.encryption).unwrap();
        assert_eq!(body.patient_name, "Wallet Holder");
    }
    let cross = node.bill_body(issued[1], &identities[0].signing_key).unwrap_err();
    assert!(cross.to_string().contains("not_entitled"), "{cross}");
    for (i, id) in issued.iter().enumerate() {
        let record = serde_json::to_string(&node.bill(*id).unwrap()).unwrap();
        let other = &identities[1 - i];
        for link in [
            other.pseudonym.to_string(),
            other.signing_key.public_key().to_hex(),
            other.encryption.public().to_string(),
        ] {
            assert!(!record.contains(&link), "bill {id} links to the other institution's identity");
        }
    }

    // Erasure: the hospital erases its copy of the patient's bodies, the patient their key.
    let keystore = dir.join("keys/members/city-central-hospital.bodies");
    let erase = |args: &[&str]| {
        let out = medledger().arg("erase").args(args).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let erased =
        erase(&["--keystore", keystore.to_str().unwrap(), "--patient", &patient.to_string()]);
    assert!(erased.contains("erased the issuer's key"), "{erased}");
    let (error, _) = cli.fails(&["bill", "show", &undisclosed, "--key", &hospital], 1);
    assert!(error.contains("cannot open the body"), "issuer after erasure: {error}");
    erase(&["--key-file", &wallet]);
    assert!(!Path::new(&wallet).exists());
    let (error, _) = cli.fails(&["bill", "show", &undisclosed, "--key", &wallet], 1);
    assert!(error.contains("wallet.key.json"), "patient after erasure: {error}");
    // The regulator's statutory copy remains by design (docs/design/0007-privacy.md).
    let shown = cli.ok(&["bill", "show", &undisclosed, "--key", &regulator]);
    assert!(shown.contains(&name), "{shown}");

    // The chain still verifies: the erased bill's receipt, offline, with only the genesis.
    let receipt = dir.join("erased.receipt");
    cli.ok(&["bill", "receipt", &undisclosed, "--out", receipt.to_str().unwrap()]);
    let verified = medledger()
        .args(["verify", receipt.to_str().unwrap(), "--genesis"])
        .arg(dir.join("genesis.json"))
        .output()
        .unwrap();
    assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stderr));
    let text = String::from_utf8_lossy(&verified.stdout);
    assert!(text.contains(&undisclosed), "{text}");
}

fn rand_bytes() -> [u8; 8] {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).unwrap();
    bytes
}
