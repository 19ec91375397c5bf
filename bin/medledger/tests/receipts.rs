//! Verifiable receipts and integrity at rest, on a real 4-validator network: a bill's receipt
//! from one node verifies offline with nothing but genesis; altered receipts and foreign
//! genesis files fail with their reason; a byte corrupted in a stopped node's data directory is
//! found by `medledger check`, and the node refuses to serve from it.

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
    assert!(run(&["verify", claim_file, "--genesis", genesis]).status.success());

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
    let foreign_genesis = foreign.join("genesis.json");
    let out = run(&["verify", file, "--genesis", foreign_genesis.to_str().unwrap()]);
    assert!(!out.status.success(), "verified against another network's validators");
    println!("foreign genesis: {}", text(&out).trim());
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
