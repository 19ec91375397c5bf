//! Verifiable receipts and integrity at rest, on a real 4-validator network: a bill's receipt
//! from one node verifies offline with nothing but genesis; altered receipts, altered fields of
//! a node's JSON answer and foreign genesis files fail with their reason; `verify` checks the
//! pinned genesis digest, the record expected and its age, and prints everything signed;
//! `POST /v1/receipts/verify` refuses what is no receipt with 400; a byte corrupted in a stopped
//! node's data directory is found by `medledger check`, and the node refuses to serve from it.

mod support;

use medledger_client::ClientError;
use medledger_testkit::{TxFactory, bill, claim, claim_id};
use medledger_types::api::ReceiptView;
use medledger_types::{BillId, ChainId, Fen, MemberId, Payload, Text};
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};
use support::*;

const STARTUP: Duration = Duration::from_secs(90);

fn bill_id(n: u64) -> BillId {
    BillId::new(medledger_testkit::DEMO_BILL_CODE, n).unwrap()
}

fn run(args: &[&str]) -> Output {
    medledger().args(args).output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Waits until `fetch` gives a receipt as of at least `height` (receipts trail the tip by the
/// block or two it takes a header naming the state to be finalized).
fn receipt_as_of(height: u64, fetch: impl Fn() -> Result<ReceiptView, ClientError>) -> ReceiptView {
    let start = Instant::now();
    loop {
        match fetch() {
            Ok(view) if view.as_of_height >= height => return view,
            Ok(_) | Err(ClientError::Api { status: 503, .. }) => {}
            Err(e) => panic!("receipt: {e}"),
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no receipt as of {height}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A raw `POST` of `body` to the node at `addr`: (HTTP status, JSON body or null).
fn post(addr: std::net::SocketAddr, path: &str, body: &[u8]) -> (u16, serde_json::Value) {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(&[head.as_bytes(), body].concat()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer.split(' ').nth(1).unwrap().parse().unwrap();
    let json = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    (status, serde_json::from_str(json).unwrap_or(serde_json::Value::Null))
}

/// The largest file under `dir` whose path contains `part`.
fn largest_file(dir: &Path, part: &str) -> std::path::PathBuf {
    let mut found: Vec<(u64, std::path::PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() && path.to_string_lossy().contains(part) {
            for file in std::fs::read_dir(&path).unwrap() {
                let file = file.unwrap().path();
                found.push((std::fs::metadata(&file).unwrap().len(), file));
            }
        }
    }
    found.sort();
    found.pop().unwrap_or_else(|| panic!("no file under {part}")).1
}

#[test]
fn receipts_verify_offline_and_damaged_data_is_never_served() {
    let mut net = Net::init("receipts", 4, 4);
    for i in 0..4 {
        net.start(i);
    }
    wait_until("all four validators finalize blocks", STARTUP, || {
        net.apis.iter().all(|api| height(*api).is_some_and(|h| h >= 2))
    });
    let node = client(net.apis[0]);
    let url = format!("http://{}", net.apis[0]);
    let genesis = net.dir.join("genesis.json");
    let genesis = genesis.to_str().unwrap();
    let hospital = net.member_key("city-central-hospital");
    let payer = net.member_key("social-security");
    let ss = MemberId::new("social-security").unwrap();
    let (patient, patient_key) = net.patients()[0].clone();
    let mut f = TxFactory::new(ChainId::new("medledger-demo").unwrap(), 1_000);

    // A bill is issued, claimed and settled.
    let bills = (1..=20).map(|n| bill(bill_id(n), patient, 10_000, 0)).collect();
    node.submit_and_wait(&f.sign(&hospital, net.issue(bills))).unwrap();
    let submission = claim(claim_id(1), &ss, patient, &[(bill_id(1), 6_000)]);
    let filed = f.sign(&patient_key, Payload::SubmitClaim { claim: submission, consent: None });
    node.submit_and_wait(&filed).unwrap();
    let settle = f.sign(
        &payer,
        Payload::SettleClaim {
            claim_id: claim_id(1),
            approved: vec![Fen(6_000)],
            payment_reference: Text::new("SSB-1").unwrap(),
        },
    );
    let settled = node.submit_and_wait(&settle).unwrap();
    assert_eq!(settled.receipt.outcome.code(), "accepted");

    // The receipt, from another node, shows the bill as reimbursed once settled.
    let other = client(net.apis[2]);
    let view = receipt_as_of(settled.height, || other.bill_receipt(bill_id(1)));
    let bill = view.bill.clone().expect("a bill receipt");
    assert_eq!((bill.reimbursed, bill.reserved), (Fen(6_000), Fen::ZERO));
    println!("bill receipt: {} bytes, as of height {}", view.size_bytes, view.as_of_height);

    // Saved by the CLI and verified offline with nothing but genesis.
    let file = net.dir.join("bill.receipt");
    let file = file.to_str().unwrap();
    let saved = run(&["bill", "receipt", "44010126/1", "--out", file, "--node", &url]);
    assert!(saved.status.success(), "{}", text(&saved));
    let verified = run(&["verify", file, "--genesis", genesis]);
    assert!(verified.status.success(), "{}", text(&verified));
    let said = text(&verified);
    assert!(said.starts_with("verified: finalized by"), "{said}");
    assert!(said.contains("reimbursed 60.00"), "{said}");
    let json = run(&["verify", file, "--genesis", genesis, "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["bill"]["reimbursed"], 6_000);
    assert!(json["signers"].as_u64().unwrap() >= 3);

    // So does the text of its QR code, which fits a QR code; its readable bill number must be
    // the one inside.
    assert!(view.qr.starts_with("ML1*44010126/0000000001*"), "{}", view.qr);
    assert!(
        view.qr.len() < 3_391,
        "{} characters: too long for a version-40 QR (level M)",
        view.qr.len()
    );
    let qr = net.dir.join("bill.qr");
    std::fs::write(&qr, &view.qr).unwrap();
    assert!(run(&["verify", qr.to_str().unwrap(), "--genesis", genesis]).status.success());
    std::fs::write(&qr, view.qr.replace("0000000001*", "0000000002*")).unwrap();
    let relabelled = run(&["verify", qr.to_str().unwrap(), "--genesis", genesis]);
    assert!(!relabelled.status.success(), "a QR text relabelled with another bill verified");
    println!("QR text: {} characters", view.qr.len());

    // The node's JSON answer verifies as it is, and so does a claim receipt.
    let answer = net.dir.join("bill.json");
    std::fs::write(&answer, serde_json::to_vec(&view).unwrap()).unwrap();
    assert!(run(&["verify", answer.to_str().unwrap(), "--genesis", genesis]).status.success());
    let claim_view = receipt_as_of(settled.height, || node.claim_receipt(claim_id(1)));
    assert_eq!(claim_view.claim.unwrap().status.name(), "settled");
    let claim_file = net.dir.join("claim.receipt");
    let claim_file = claim_file.to_str().unwrap();
    let cid = claim_id(1).to_string();
    assert!(run(&["claim", "receipt", &cid, "--out", claim_file, "--node", &url]).status.success());
    let claim_said = run(&["verify", claim_file, "--genesis", genesis, "--expect-claim", &cid]);
    assert!(claim_said.status.success(), "{}", text(&claim_said));
    // Everything the claim's record says is printed, its settlement included.
    let claim_said = text(&claim_said);
    for part in [
        "item 1: bill 44010126/0000000001, requested 60.00",
        "filed by the patient",
        "settled in block",
        "approved 60.00 = 60.00, payment reference SSB-1",
    ] {
        assert!(claim_said.contains(part), "{part}: {claim_said}");
    }
    for part in ["check code", "issued by city-central-hospital", "patient paid 100.00"] {
        assert!(said.contains(part), "{part}: {said}");
    }

    // What the signatures alone cannot tell: that the genesis is the network's own (its pinned
    // digest), that the receipt is the one asked for, and that it is recent.
    let genesis_file: medledger_types::Genesis =
        serde_json::from_str(&std::fs::read_to_string(genesis).unwrap()).unwrap();
    let digest = medledger_receipt::genesis_digest(&genesis_file).to_hex();
    let as_of = json["as_of_height"].as_u64().unwrap();
    let checked = run(&[
        "verify",
        file,
        "--genesis",
        genesis,
        "--genesis-digest",
        &digest,
        "--expect-bill",
        "44010126/0000000001",
        "--max-age",
        "1h",
        "--max-age-blocks",
        "3",
        "--current-height",
        &(as_of + 3).to_string(),
    ]);
    assert!(checked.status.success(), "{}", text(&checked));
    assert!(text(&checked).contains(&format!("genesis digest {digest} (pinned)")));
    assert!(text(&checked).contains(" ago"), "{}", text(&checked));
    let refused = |args: &[&str], why: &str| {
        let out = run(&[&["verify", file, "--genesis", genesis][..], args].concat());
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
        let said = text(&out);
        assert!(said.starts_with("error: ") && said.contains(why), "{args:?}: {said}");
    };
    refused(
        &["--expect-bill", "44010126/0000000002"],
        "not the expected receipt: it is for bill 44010126/0000000001, not bill 44010126/0000000002",
    );
    refused(&["--expect-claim", &cid], "not the expected receipt: it is for bill");
    refused(&["--max-age", "0s"], "too old: finalized in block");
    refused(
        &["--max-age-blocks", "2", "--current-height", &(as_of + 3).to_string()],
        &format!("too old: the record is as of height {as_of}, 3 blocks below"),
    );
    refused(&["--genesis-digest", &"ab".repeat(32)], "not the pinned");
    for wrong in
        [&["--max-age-blocks", "3"][..], &["--max-age", "1w"], &["--genesis-digest", "xyz"]]
    {
        let out = run(&[&["verify", file, "--genesis", genesis][..], wrong].concat());
        assert_eq!(out.status.code(), Some(2), "{wrong:?}: {}", text(&out));
    }

    // The JSON answer's unsigned copies are checked against the receipt: altering one makes
    // the answer invalid, offline and at the node alike.
    let altered_answer = |change: &dyn Fn(&mut serde_json::Value)| {
        let mut value = serde_json::to_value(&view).unwrap();
        change(&mut value);
        value.to_string()
    };
    let later = altered_answer(&|v| v["as_of_height"] = (view.as_of_height + 1).into());
    let richer = altered_answer(&|v| v["bill"]["reimbursed"] = 10_000.into());
    for (altered, why) in [
        (&later, "the answer's as_of_height says"),
        (&richer, "bill.reimbursed is 10000 in the answer but 6000 in the receipt"),
    ] {
        std::fs::write(&answer, altered).unwrap();
        let out = run(&["verify", answer.to_str().unwrap(), "--genesis", genesis]);
        assert!(!out.status.success(), "an altered answer verified");
        assert!(text(&out).contains(why) && text(&out).contains("altered"), "{}", text(&out));
        let (status, check) = post(net.apis[1], "/v1/receipts/verify", altered.as_bytes());
        assert_eq!((status, &check["valid"]), (200, &serde_json::json!(false)), "{check}");
        assert!(check["reason"].as_str().unwrap().contains(why), "{check}");
    }
    let (status, check) =
        post(net.apis[1], "/v1/receipts/verify", serde_json::to_string(&view).unwrap().as_bytes());
    assert_eq!((status, &check["valid"]), (200, &serde_json::json!(true)), "{check}");
    assert_eq!(check["bill"]["reimbursed"], 6_000);
    // What is no receipt at all is refused with 400 and a sentence, not 200 or codec jargon.
    for garbage in [&b""[..], b"hello, is this a receipt?", b"ML1*not a receipt", b"\x7fELF"] {
        let (status, error) = post(net.apis[1], "/v1/receipts/verify", garbage);
        assert_eq!((status, error["code"].as_str()), (400, Some("not_a_receipt")), "{error}");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains("receipt") && !message.contains("version"), "{message}");
    }
    let (_, error) = post(net.apis[1], "/v1/receipts/verify", b"hello");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("not a receipt: expected hex, QR text (ML1*"),
        "{error}"
    );

    // An altered receipt fails, whichever byte was changed, and says which check failed.
    let bytes = std::fs::read(file).unwrap();
    let altered = net.dir.join("altered.receipt");
    for position in (0..bytes.len()).step_by(bytes.len() / 23 + 1) {
        let mut copy = bytes.clone();
        copy[position] ^= 0x01;
        std::fs::write(&altered, &copy).unwrap();
        let out = run(&["verify", altered.to_str().unwrap(), "--genesis", genesis]);
        assert!(!out.status.success(), "byte {position} altered, yet verified");
        assert!(text(&out).starts_with("error:"), "{}", text(&out));
    }
    // Another network's genesis (other validators) does not vouch for it.
    let foreign = temp_dir("receipts-foreign");
    let created =
        run(&["init", "--validators", "4", "--patients", "2", "--dir", foreign.to_str().unwrap()]);
    assert!(created.status.success(), "{}", text(&created));
    // A new network gets its own chain id, and init prints the digest verifiers pin.
    let created = text(&created);
    let foreign_digest = created
        .lines()
        .find_map(|line| line.trim().strip_prefix("genesis digest: "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("init prints the genesis digest: {created}"));
    assert!(!created.contains("medledger-demo"), "{created}");
    let foreign_genesis = foreign.join("genesis.json");
    let out = run(&["verify", file, "--genesis", foreign_genesis.to_str().unwrap()]);
    assert!(!out.status.success(), "verified against another network's validators");
    assert!(text(&out).contains("the receipt is for chain medledger-demo"), "{}", text(&out));
    println!("foreign genesis: {}", text(&out).trim());
    // Our genesis pinned to the other network's digest is refused before the receipt is read.
    refused(&["--genesis-digest", foreign_digest], "not the pinned");
    std::fs::remove_dir_all(&foreign).unwrap();

    // Integrity at rest: a stopped validator's data checks clean, then a byte of its stored
    // blocks is corrupted; the check finds it and the node refuses to start on it.
    let target = height(net.apis[0]).unwrap();
    wait_until("validator 3 has the latest blocks", STARTUP, || {
        height(net.apis[3]).is_some_and(|h| h >= target)
    });
    net.kill9(3);
    let home = net.home(3);
    let home = home.to_str().unwrap();
    let clean = run(&["check", "--home", home, "--json"]);
    assert!(clean.status.success(), "{}", text(&clean));
    let report: serde_json::Value = serde_json::from_slice(&clean.stdout).unwrap();
    assert!(report["blocks"].as_u64().unwrap() >= target - 2, "{report}");
    assert!(report["certified"].as_u64().unwrap() > 0, "{report}");

    let blocks = largest_file(&net.home(3).join("data"), "finalized-blocks-freezer-value");
    let mut stored = std::fs::read(&blocks).unwrap();
    let middle = stored.len() / 2;
    stored[middle] ^= 0xff;
    std::fs::write(&blocks, &stored).unwrap();
    let damaged = run(&["check", "--home", home]);
    assert!(!damaged.status.success(), "the check found nothing: {}", text(&damaged));
    assert!(text(&damaged).contains("damaged"), "{}", text(&damaged));
    println!("check: {}", text(&damaged).trim());

    // Restarted on the damaged data, the node stops before serving anything.
    net.start(3);
    let start = Instant::now();
    let mut exited = None;
    while start.elapsed() < Duration::from_secs(60) {
        if let Some(status) = net.nodes[3].as_mut().unwrap().try_wait().unwrap() {
            exited = Some(status);
            break;
        }
        // Whatever it answers meanwhile must agree with the healthy validators.
        if let Ok(bill) = client(net.apis[3]).bill(bill_id(1)) {
            assert_eq!(bill, node.bill(bill_id(1)).unwrap(), "a damaged node served a bill");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = exited.expect("the node on damaged data kept running");
    assert!(!status.success());
    assert!(net.log_tail(3).contains("data directory is damaged"), "{}", net.log_tail(3));
    net.nodes[3] = None;

    // `resync` moves the block archives aside (keeping the journal of its votes); the blocks
    // are fetched again from the peers, and the node agrees with them.
    let resync = run(&["resync", "--home", home]);
    assert!(resync.status.success(), "{}", text(&resync));
    println!("resync: {}", text(&resync).trim());
    assert!(net.home(3).join("data").join("medledger-consensus-0").is_dir(), "journal kept");
    assert!(
        !net.home(3)
            .join("data")
            .read_dir()
            .unwrap()
            .any(|e| { e.unwrap().file_name().to_string_lossy().contains("finalized-blocks") }),
        "the damaged archive was moved aside"
    );
    net.start(3);
    let target = height(net.apis[0]).unwrap();
    wait_until("validator 3 resyncs from its peers", STARTUP, || {
        height(net.apis[3]).is_some_and(|h| h >= target)
    });
    let healthy = node.block(target).unwrap();
    assert_eq!(client(net.apis[3]).block(target).unwrap(), healthy, "same block and state root");
    assert_eq!(client(net.apis[3]).bill(bill_id(1)).unwrap(), node.bill(bill_id(1)).unwrap());
}
