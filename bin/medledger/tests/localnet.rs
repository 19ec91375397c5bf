//! The validator network as operators run it: real `medledger` processes on loopback, talking
//! over TCP, with data on disk (issue 3 acceptance).

mod support;

use medledger_testkit::{TxFactory, bill, claim, claim_id};
use medledger_types::{ChainId, Encode as _, MemberId, Payload};
use serde_json::Value;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use support::*;

const CHAIN: &str = "medledger-demo";
const BILL_CODE: u32 = medledger_testkit::DEMO_BILL_CODE;
const STARTUP: Duration = Duration::from_secs(90);

fn factory(net: &Net) -> TxFactory {
    let h = height(net.apis[0]).unwrap_or(0);
    TxFactory::new(ChainId::new(CHAIN).unwrap(), h + 1_000)
}

/// The committed receipt of `id` on `api`, waiting for it.
fn committed(api: SocketAddr, id: &str) -> Value {
    let path = format!("/v1/txs/{id}");
    let mut found = Value::Null;
    wait_until(&format!("{id} committed on {api}"), Duration::from_secs(60), || {
        match get_json(api, &path) {
            Some((200, v)) if v["status"] == "committed" => {
                found = v["committed"].clone();
                true
            }
            _ => false,
        }
    });
    found
}

/// The HTTP status and error code of a call that must fail.
fn api_error<T: std::fmt::Debug>(
    result: Result<T, medledger_client::ClientError>,
) -> (u16, String) {
    match result {
        Err(medledger_client::ClientError::Api { status, error }) => (status, error.code),
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn outcome_code(committed: &Value) -> String {
    let outcome = &committed["receipt"]["outcome"];
    if outcome.get("accepted").is_some() {
        "accepted".to_string()
    } else {
        outcome["rejected"]["code"].as_str().unwrap_or("?").to_string()
    }
}

#[test]
fn validators_commit_agree_survive_a_kill_and_catch_up() {
    let mut net = Net::init("net-a", 4, 0);
    for i in 0..4 {
        net.start(i);
    }
    wait_until("all four validators finalize blocks", STARTUP, || {
        net.apis.iter().all(|api| height(*api).is_some_and(|h| h >= 2))
    });
    wait_until("every validator reports its three peers", STARTUP, || {
        net.apis
            .iter()
            .all(|api| get_json(*api, "/v1/status").is_some_and(|(_, s)| s["peers_connected"] == 3))
    });

    // A hospital issues a batch; the patient claims part of a bill.
    let hospital = net.member_key("city-central-hospital");
    let patients = net.patients();
    let (patient, patient_key) = patients[0].clone();
    let mut f = factory(&net);
    let bill_id = |n: u64| medledger_types::BillId::new(BILL_CODE, n).unwrap();
    let bills = (1..=50)
        .map(|n| {
            bill(
                bill_id(n),
                patients[usize::try_from(n).unwrap() % patients.len()].0,
                10_000,
                5_000,
            )
        })
        .collect::<Vec<_>>();
    let mut bills = bills;
    bills[0].patient = patient;
    let issue = f.sign(&hospital, net.issue(bills));
    let (status, body) = submit(net.apis[0], &issue, true);
    assert_eq!(status, 200, "{body}");
    assert_eq!(outcome_code(&body["committed"]), "accepted", "{body}");

    // One signed claim sent to two different validators commits once.
    let ss = MemberId::new("social-security").unwrap();
    let first = claim(claim_id(1), &ss, patient, &[(bill_id(1), 6_000)]);
    let claim_tx = f.sign(&patient_key, Payload::SubmitClaim { claim: first, consent: None });
    submit(net.apis[1], &claim_tx, false);
    submit(net.apis[2], &claim_tx, false);
    let id = claim_tx.id().to_string();
    let receipts: Vec<Value> = net.apis.iter().map(|api| committed(*api, &id)).collect();
    for receipt in &receipts {
        assert_eq!(receipt, &receipts[0], "every validator has the same receipt");
        assert_eq!(outcome_code(receipt), "accepted");
    }
    // Only 60.00 was reserved: exactly the remaining 40.00 fits, one fen more does not.
    let rest = claim(claim_id(2), &ss, patient, &[(bill_id(1), 4_000)]);
    let rest = f.sign(&patient_key, Payload::SubmitClaim { claim: rest, consent: None });
    let (_, body) = submit(net.apis[3], &rest, true);
    assert_eq!(outcome_code(&body["committed"]), "accepted", "{body}");
    let over =
        claim(claim_id(3), &MemberId::new("ping-health").unwrap(), patient, &[(bill_id(1), 1)]);
    let over = f.sign(&patient_key, Payload::SubmitClaim { claim: over, consent: None });
    submit(net.apis[0], &over, false);
    for api in &net.apis {
        let receipt = committed(*api, &over.id().to_string());
        assert_eq!(outcome_code(&receipt), "over_claim", "over-claim refused on {api}");
    }

    // Every validator shows the bill fully claimed, once, and finds it by the patient.
    for api in &net.apis {
        let (status, bill) = get_json(*api, &format!("/v1/bills/{BILL_CODE}/0000000001")).unwrap();
        assert_eq!(status, 200);
        assert_eq!(bill["reserved"], 10_000, "60.00 + 40.00 reserved on {api}: {bill}");
        assert_eq!(bill["claims"].as_array().unwrap().len(), 2);
        let (_, list) = get_json(*api, &format!("/v1/patients/{patient}/bills")).unwrap();
        assert!(
            list["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|b| b["issue"]["id"] == format!("{BILL_CODE}/0000000001"))
        );
        let (_, claims) = get_json(*api, "/v1/payers/social-security/claims").unwrap();
        assert_eq!(claims["items"].as_array().unwrap().len(), 2);
    }

    // Bad input gets a specific 4xx with a stable code, and the node carries on.
    let node = client(net.apis[0]);
    assert_eq!(
        api_error(node.submit_bytes(b"garbage")),
        (400, "malformed_transaction".to_string())
    );
    assert_eq!(api_error(node.submit_json("{\"body\": 1}")), (400, "malformed_json".to_string()));
    // A committed transaction re-sent with a mangled signature just gets its receipt back (the
    // id covers the signed body, not the signature); a new one with a bad signature is refused.
    let mut resent = issue.encode().to_vec();
    let last = resent.len() - 1;
    resent[last] ^= 1;
    assert_eq!(node.submit_bytes(&resent).unwrap().status, "committed");
    let fresh = f.sign(&hospital, net.issue(vec![bill(bill_id(77), patient, 1, 0)]));
    let mut forged = fresh.encode().to_vec();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    assert_eq!(api_error(node.submit_bytes(&forged)), (400, "bad_signature".to_string()));
    assert_eq!(api_error(node.submit_bytes(&vec![0u8; 3 * 1024 * 1024])).0, 413);
    assert_eq!(api_error(node.get_value("/v1/txs/not-an-id")), (400, "bad_tx_id".to_string()));
    assert_eq!(api_error(node.get_value("/v1/bills/1/2")), (400, "bad_bill_id".to_string()));
    assert_eq!(api_error(node.get_value("/v1/claims/00")).0, 400);
    assert_eq!(
        api_error(node.get_value("/v1/bills/44010126/0999999999")),
        (404, "unknown_bill".to_string())
    );
    // JSON has no length limits of its own: 65 amounts (the codec allows 64) are refused.
    let oversized = f.sign(
        &net.member_key("social-security"),
        Payload::SettleClaim {
            claim_id: claim_id(1),
            approved: vec![medledger_types::Fen(1); 65],
            payment_reference: medledger_types::Text::new("X").unwrap(),
        },
    );
    let json = serde_json::to_string(&oversized).unwrap();
    assert_eq!(api_error(node.submit_json(&json)), (400, "malformed_transaction".to_string()));
    // A key the ledger does not know never reaches the mempool.
    let stranger = medledger_crypto::SigningKey::generate();
    let unknown = f.sign(&stranger, Payload::FreezeMember { member: ss.clone() });
    assert_eq!(api_error(node.submit(&unknown)), (403, "unknown_signer".to_string()));
    assert!(node.status().is_ok(), "the node still answers");

    // kill -9 one validator while transactions flow: the other three keep committing.
    net.kill9(3);
    let before = height(net.apis[0]).unwrap();
    let started = Instant::now();
    let mut committed_while_down = 0;
    for n in 0..20u64 {
        let batch = (0..10).map(|k| bill(bill_id(1_000 + n * 10 + k), patient, 100, 0)).collect();
        let tx = f.sign(&hospital, net.issue(batch));
        let (status, body) = submit(net.apis[(n % 3) as usize], &tx, true);
        if status == 200 && outcome_code(&body["committed"]) == "accepted" {
            committed_while_down += 1;
        }
    }
    let after = height(net.apis[0]).unwrap();
    println!(
        "with one validator killed: {committed_while_down}/20 batches committed, {} blocks in {:.1} s",
        after - before,
        started.elapsed().as_secs_f64()
    );
    assert_eq!(committed_while_down, 20, "three of four validators keep committing");
    assert!(after > before);

    // The killed validator restarts, catches up and agrees on hash and state root.
    let target = height(net.apis[0]).unwrap();
    let restart = Instant::now();
    net.start(3);
    wait_until("the restarted validator catches up", STARTUP, || {
        height(net.apis[3]).is_some_and(|h| h >= target)
    });
    println!(
        "restarted validator caught up {target} blocks in {:.1} s",
        restart.elapsed().as_secs_f64()
    );
    let common = net.apis.iter().map(|api| height(*api).unwrap()).min().unwrap();
    let blocks: Vec<Value> = net
        .apis
        .iter()
        .map(|api| get_json(*api, &format!("/v1/blocks/{common}")).expect("block query").1)
        .collect();
    for (i, block) in blocks.iter().enumerate() {
        assert_eq!(block["digest"], blocks[0]["digest"], "node{i} block hash at {common}");
        assert_eq!(block["state_root"], blocks[0]["state_root"], "node{i} state root at {common}");
    }
    // Its rebuilt ledger holds the earlier claim with the same receipt.
    assert_eq!(committed(net.apis[3], &id), receipts[0]);
}

#[test]
fn localnet_runs_and_stops_validators_and_refuses_a_stranger() {
    let dir = temp_dir("localnet");
    let port = base_port(1);
    let mut localnet = medledger()
        .args(["localnet", "--validators", "4", "--base-port", &port.to_string(), "--dir"])
        .arg(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let manifest = dir.join("localnet.json");
    wait_until("localnet.json", STARTUP, || manifest.exists());
    let nodes: Value = serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    let nodes = nodes["nodes"].as_array().unwrap().clone();
    assert_eq!(nodes.len(), 4);
    let apis: Vec<SocketAddr> = nodes
        .iter()
        .map(|n| n["api"].as_str().unwrap().trim_start_matches("http://").parse().unwrap())
        .collect();
    wait_until("the localnet finalizes blocks", STARTUP, || {
        apis.iter().all(|a| height(*a).is_some_and(|h| h >= 2))
    });

    // A stranger: validator 0's configuration with a key that is not in genesis, listing
    // itself in its own copy of genesis, tries to join.
    let stranger_home = dir.join("stranger");
    std::fs::create_dir_all(&stranger_home).unwrap();
    let key = medledger_crypto::SigningKey::generate();
    medledger_crypto::keyfile::write(&stranger_home.join("validator.key.json"), &key).unwrap();
    let mut genesis = genesis_dir(&dir);
    let stranger_api = SocketAddr::from(([127, 0, 0, 1], port + 50));
    let stranger_p2p = SocketAddr::from(([127, 0, 0, 1], port + 51));
    genesis.validators[3].public_key = key.public_key();
    genesis.validators[3].p2p_address = stranger_p2p.to_string();
    std::fs::write(stranger_home.join("genesis.json"), serde_json::to_string(&genesis).unwrap())
        .unwrap();
    let config = std::fs::read_to_string(dir.join("node0/config.toml"))
        .unwrap()
        .replace("validator_index = 0", "validator_index = 3")
        .replace(&apis[0].to_string(), &stranger_api.to_string())
        .replace(&format!("127.0.0.1:{}", port + 1000), &stranger_p2p.to_string());
    std::fs::write(stranger_home.join("config.toml"), config).unwrap();
    let mut stranger = medledger()
        .arg("node")
        .arg("--home")
        .arg(&stranger_home)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(8));
    let stranger_hex = key.public_key().to_hex();
    for api in &apis {
        let metrics = metrics(*api);
        let connected = metrics.lines().any(|l| {
            l.starts_with("network_tracker_directory_connected") && l.contains(&stranger_hex)
        });
        assert!(!connected, "validator {api} connected to a key that is not in genesis");
    }
    assert_eq!(height(stranger_api), Some(0), "the stranger finalizes nothing");
    let before = apis.iter().map(|a| height(*a).unwrap()).min().unwrap();
    wait_until("the consortium keeps finalizing", Duration::from_secs(30), || {
        apis.iter().all(|a| height(*a).unwrap() > before)
    });
    stranger.kill().unwrap();
    stranger.wait().unwrap();

    // SIGTERM stops localnet and every validator it started.
    std::process::Command::new("kill")
        .arg("-TERM")
        .arg(localnet.id().to_string())
        .status()
        .unwrap();
    let stopped = Instant::now();
    while localnet.try_wait().unwrap().is_none() {
        assert!(stopped.elapsed() < Duration::from_secs(30), "localnet did not stop");
        std::thread::sleep(Duration::from_millis(100));
    }
    for node in &nodes {
        let pid = node["pid"].as_u64().unwrap().to_string();
        let alive = std::process::Command::new("kill")
            .args(["-0", &pid])
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(!alive, "validator process {pid} still running after localnet stopped");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn demo_plays_the_story_on_a_real_network_and_exits() {
    let dir = temp_dir("demo");
    let output = medledger()
        .args(["demo", "--exit", "--json", "--base-port", &base_port(2).to_string(), "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    // Standard output is the JSON summary and nothing else (progress goes to standard error).
    let summary: Value = serde_json::from_str(&stdout).expect("stdout is one JSON document");
    assert_eq!(summary["all_ok"], true, "{summary}");
    let outcomes: Vec<&str> = summary["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        [
            "accepted",
            "accepted",
            "accepted",
            "accepted",
            "accepted",
            "duplicate_claim",
            "over_claim",
            "bill_has_claims",
            // Privacy: the patient and the consented payer read the body, an unconsented
            // insurer cannot, the regulator only after recording its access.
            "ok",
            "ok",
            "not_entitled",
            "access_not_recorded",
            "accepted",
            "ok",
            // Second-level settlement: two policies, the pilot's bill, a claim settled by the
            // bureau's policy in its own block, the payment recorded, the rest paid by the
            // insurer's policy, and not a fen more.
            "accepted",
            "accepted",
            "accepted",
            "accepted",
            "ok",
            "accepted",
            "accepted",
            "ok",
            "over_claim"
        ]
    );
    assert_eq!(summary["bill"]["reimbursed"], "250.00");
    let auto = summary["steps"][18]["detail"].as_str().unwrap();
    assert!(
        auto.contains("submitted 97.00, eligible 97.00, deductible 10.00, benefit 54.89"),
        "{auto}"
    );
    let rest = summary["steps"][21]["detail"].as_str().unwrap();
    assert!(rest.contains("benefit 42.11"), "{rest}");
    assert!(summary["claim_submit_to_settled_ms"][0].as_f64().unwrap() > 0.0);
    // The network was stopped: nothing answers any more.
    let api: SocketAddr =
        summary["apis"][0].as_str().unwrap().trim_start_matches("http://").parse().unwrap();
    assert!(client(api).status().is_err(), "validators still running");
    let _ = std::fs::remove_dir_all(&dir);
}
