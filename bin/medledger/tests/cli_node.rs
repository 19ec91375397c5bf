//! The client commands against a real 4-validator network: an operator and a wallet drive
//! bills and claims through `medledger status | bill | claim | watch`, and every answer is
//! checked against what the ledger recorded.

mod support;

use medledger_crypto::keyfile;
use medledger_testkit::sample_body;
use medledger_types::{BillId, Pseudonym};
use serde_json::{Value, json};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use support::*;

const STARTUP: Duration = Duration::from_secs(90);
const CODE: u32 = medledger_testkit::DEMO_BILL_CODE;
/// Exit status of a transaction the ledger committed and rejected.
const REJECTED: i32 = 3;

fn bill_id(number: u64) -> String {
    BillId::new(CODE, number).unwrap().to_string()
}

/// A `medledger watch` child, killed if the test ends first.
struct Watcher(Child);

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Watcher {
    /// Waits up to `timeout` for the watcher to exit by itself; its standard output.
    fn output(mut self, timeout: Duration) -> String {
        let start = Instant::now();
        while self.0.try_wait().unwrap().is_none() {
            assert!(start.elapsed() < timeout, "watch did not see its events in {timeout:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut text = String::new();
        self.0.stdout.take().unwrap().read_to_string(&mut text).unwrap();
        text
    }
}

/// 2,500 bills: number 1 is a 970.00 outpatient bill of which the patient paid 250.00; the
/// others, numbered from 2 by the file's first_number, are 100.00 with 60.00 patient pay.
/// Bill n belongs to patient (n - 1) % 20.
fn write_bills(path: &Path, patients: &[Pseudonym]) {
    let body = |total| serde_json::to_value(sample_body("Patient", "P-1", total)).unwrap();
    let mut bills = vec![json!({
        "number": 1,
        "patient": patients[0].to_string(),
        "total": "970.00",
        "pooled_fund": "600.00",
        "personal_account": "120.00",
        "categories": {"examination": "300.00", "western_medicine": "670.00"},
        "body": body(97_000),
    })];
    bills.extend((2..=2_500).map(|n: usize| {
        json!({
            "patient": patients[(n - 1) % patients.len()].to_string(),
            "visit_type": "registration",
            "total": "100.00",
            "pooled_fund": "40.00",
            "body": body(10_000),
        })
    }));
    let file = json!({"code": CODE.to_string(), "first_number": 2, "bills": bills});
    std::fs::write(path, file.to_string()).unwrap();
}

#[test]
fn operator_and_wallet_drive_bills_and_claims_through_the_cli() {
    let started = Instant::now();
    let mut net = Net::init("cli-node", 4, 5);
    for i in 0..4 {
        net.start(i);
    }
    wait_until("all four validators finalize blocks", STARTUP, || {
        net.apis.iter().all(|api| height(*api).is_some_and(|h| h >= 2))
    });
    let cli = Cli { node: format!("http://{}", net.apis[0]) };
    let key = |member: &str| -> String {
        net.dir.join("keys/members").join(format!("{member}.key.json")).display().to_string()
    };
    let (hospital, ssb, ping, platform) = (
        key("city-central-hospital"),
        key("social-security"),
        key("ping-health"),
        key("wallet-platform"),
    );
    let patients: Vec<Pseudonym> = net.patients().into_iter().map(|(p, _)| p).collect();
    let patients_file = net.dir.join("keys/patients.json").display().to_string();
    let dir = net.dir.display().to_string();
    let patient_key_file: PathBuf = net.dir.join("patient0.key.json");
    keyfile::write(&patient_key_file, &net.patients()[0].1).unwrap();
    let patient_key_file = patient_key_file.display().to_string();

    // Status, from the flag and from the environment.
    let status = cli.json(&["status"]);
    assert_eq!(status["chain_id"], "medledger-demo");
    assert_eq!(status["validators"], 4);
    assert!(status["height"].as_u64().unwrap() >= 2);
    let text = String::from_utf8(
        medledger()
            .arg("status")
            .env("MEDLEDGER_NODE", net.apis[1].to_string())
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(text.contains("chain       medledger-demo"), "{text}");
    assert!(text.contains(&format!("node        http://{}", net.apis[1])), "{text}");

    // A payer's system follows settlements from the current block on.
    let from = status["height"].to_string();
    let watcher = Watcher(
        medledger()
            .args(["watch", "--json", "--payer", "social-security", "--types", "claim_settled"])
            .args(["--from-height", &from, "--count", "1", "--node", &cli.node])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    // The hospital issues 2,500 bills in three signed batches.
    let bills_file = net.dir.join("bills.json");
    write_bills(&bills_file, &patients);
    let bills_path = bills_file.display().to_string();
    let issued =
        cli.ok(&["bill", "issue", "--key", &hospital, "--file", &bills_path, "--batch", "1000"]);
    assert!(issued.contains("batch 1/3  1000 bills 44010126/0000000001 … 0000001000  accepted"));
    assert!(issued.contains("batch 2/3  1000 bills 44010126/0000001001 … 0000002000  accepted"));
    assert!(issued.contains("batch 3/3  500 bills 44010126/0000002001 … 0000002500  accepted"));
    assert!(issued.contains("issued 2500 of 2500 bills in 3 batches"), "{issued}");
    let last = cli.json(&["bill", "show", &bill_id(2_500)]);
    assert_eq!(last["bill"]["issue"]["patient"], patients[2_499 % 20].to_string());
    assert_eq!(last["bill"]["issue"]["visit_type"], "registration");
    assert_eq!(last["bill"]["issue"]["amounts"]["patient_pay"], 6_000);

    // A batch with one number already used is rejected whole, with the ledger's reason.
    let again = net.dir.join("again.json");
    let twice = json!({"code": CODE.to_string(), "bills": [
        {"number": "0000002500", "patient": patients[0].to_string(), "total": "1.00",
         "body": sample_body("Patient", "P-1", 100)},
        {"number": 2_501, "patient": patients[0].to_string(), "total": "1.00",
         "body": sample_body("Patient", "P-1", 100)},
    ]});
    std::fs::write(&again, twice.to_string()).unwrap();
    let again = again.display().to_string();
    let (error, stdout) =
        cli.fails(&["bill", "issue", "--key", &hospital, "--file", &again, "--json"], REJECTED);
    assert!(error.starts_with("error: duplicate_bill: bill 44010126/0000002500 already exists"));
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["bills_issued"], 0);
    assert_eq!(summary["batches"][0]["code"], "duplicate_bill");
    let (error, _) = cli.fails(&["bill", "show", &bill_id(2_501)], 1);
    assert_eq!(error, "error: 404 unknown_bill: no bill 44010126/0000002501");

    // The bill, before any claim.
    let shown = cli.ok(&["bill", "show", "44010126/1"]);
    assert!(shown.contains("= pooled fund 600.00 + personal account 120.00"), "{shown}");
    assert!(shown.contains("claimable   250.00: reimbursed 0.00, reserved 0.00, remaining 250.00"));
    assert!(shown.contains("categories  examination 300.00, western_medicine 670.00"));

    // The patient claims 150.00 from the social security bureau, which settles it.
    let filed = cli.json(&[
        "claim",
        "submit",
        "--bill",
        &bill_id(1),
        "--amount",
        "150.00",
        "--payer",
        "social-security",
        "--patient",
        &patients[0].to_string(),
        "--patients",
        &dir,
    ]);
    assert_eq!(filed["accepted"], true);
    let first = filed["claim_id"].as_str().unwrap().to_string();
    let claim = cli.json(&["claim", "show", &first]);
    assert_eq!(claim["status"]["status"], "locked");
    assert_eq!(claim["filed_by"], Value::Null);
    assert_eq!(claim["submission"]["items"][0]["amount"], 15_000);
    assert_eq!(cli.json(&["bill", "show", &bill_id(1)])["bill"]["reserved"], 15_000);
    let settled = cli.ok(&["claim", "settle", &first, "--key", &ssb, "--reference", "SSB-2026-1"]);
    assert!(settled.starts_with(&format!("accepted: claim {first} settled, 150.00 paid")));
    let claim = cli.json(&["claim", "show", &first]);
    assert_eq!(claim["status"]["status"], "settled");
    assert_eq!(claim["status"]["approved"], json!([15_000]));
    assert_eq!(claim["status"]["payment_reference"], "SSB-2026-1");

    // The wallet platform files the remaining 100.00 with Ping Health, with consent.
    let filed = cli.json(&[
        "claim",
        "submit",
        "--item",
        &format!("{}=100.00", bill_id(1)),
        "--payer",
        "ping-health",
        "--key",
        &platform,
        "--patient-key",
        &patient_key_file,
    ]);
    let second = filed["claim_id"].as_str().unwrap().to_string();
    let claim = cli.json(&["claim", "show", &second]);
    assert_eq!(claim["filed_by"], "wallet-platform");
    assert_eq!(claim["submission"]["patient"], patients[0].to_string());
    let bill = cli.json(&["bill", "show", &bill_id(1)]);
    assert_eq!(
        (&bill["bill"]["reimbursed"], &bill["bill"]["reserved"]),
        (&json!(15_000), &json!(10_000))
    );
    assert_eq!(bill["remaining"], 0);

    // Asking for one fen more is an over-claim.
    let over = [
        "claim",
        "submit",
        "--bill",
        &bill_id(1),
        "--amount",
        "0.01",
        "--payer",
        "tai-insurance",
        "--patient-key",
        &patient_key_file,
    ];
    let (error, _) = cli.fails(&over, REJECTED);
    assert!(
        error.starts_with("error: over_claim: over-claim on bill 44010126/0000000001"),
        "{error}"
    );
    let (_, stdout) = cli.fails(&[&over[..], &["--json"]].concat(), REJECTED);
    assert_eq!(serde_json::from_str::<Value>(&stdout).unwrap()["code"], "over_claim");

    // Wrong keys: the patient cannot settle (refused on admission: a patient's key may never
    // settle), another payer cannot (the ledger refuses: it is not this claim's payer), a
    // stranger is not admitted.
    let settle_second = |key: &str| -> (String, String) {
        let args = ["claim", "settle", &second, "--key", key, "--reference", "X"];
        let status = if key == ssb { REJECTED } else { 1 };
        cli.fails(&args, status)
    };
    let (error, _) = settle_second(&patient_key_file);
    assert!(
        error.starts_with("error: 403 not_authorized: not authorised to settle_claim"),
        "{error}"
    );
    let (error, _) = settle_second(&ssb);
    assert!(error.starts_with("error: not_claim_payer:"), "{error}");
    let stranger = net.dir.join("stranger.key.json");
    assert!(
        medledger().args(["keygen", "--out"]).arg(&stranger).output().unwrap().status.success()
    );
    let (error, _) = settle_second(&stranger.display().to_string());
    assert!(error.starts_with("error: 403 unknown_signer: "), "{error}");

    // Ping Health rejects; the reservation is released.
    let rejected = cli.ok(&[
        "claim",
        "reject",
        &second,
        "--key",
        &ping,
        "--reason",
        "not covered by the policy",
    ]);
    assert!(rejected.starts_with(&format!("accepted: claim {second} rejected, 100.00 released")));
    let claim = cli.json(&["claim", "show", &second]);
    assert_eq!(claim["status"]["status"], "rejected");
    assert_eq!(claim["status"]["reason"], "not covered by the policy");
    let bill = cli.json(&["bill", "show", &bill_id(1)]);
    assert_eq!(
        (&bill["bill"]["reimbursed"], &bill["bill"]["reserved"]),
        (&json!(15_000), &json!(0))
    );
    assert_eq!(bill["claims"].as_array().unwrap().len(), 2);
    let shown = cli.ok(&["claim", "show", &first]);
    assert!(
        shown.contains("approved 150.00") && shown.contains("filed by    the patient"),
        "{shown}"
    );

    // Another patient files and withdraws; withdrawing again (through the platform) is refused.
    let p1 = patients[1].to_string();
    let filed = cli.json(&[
        "claim",
        "submit",
        "--bill",
        &bill_id(2),
        "--amount",
        "60",
        "--payer",
        "ping-health",
        "--patient",
        &p1,
        "--patients",
        &patients_file,
    ]);
    let third = filed["claim_id"].as_str().unwrap().to_string();
    let withdraw = ["claim", "withdraw", &third, "--patient", &p1, "--patients", &patients_file];
    let withdrawn = cli.ok(&withdraw);
    assert!(withdrawn.starts_with(&format!("accepted: claim {third} withdrawn, 60.00 released")));
    assert_eq!(cli.json(&["claim", "show", &third])["status"]["status"], "withdrawn");
    let (error, _) = cli.fails(&[&withdraw[..], &["--key", &platform]].concat(), REJECTED);
    assert!(error.starts_with("error: claim_closed:"), "{error}");

    // Voiding: accepted on an unclaimed bill, refused on a reimbursed one.
    let voided = cli.json(&["bill", "void", &bill_id(3), "--red", "9000001", "--key", &hospital]);
    assert_eq!(voided["red_bill"], "44010126/0009000001");
    let bill = cli.json(&["bill", "show", &bill_id(3)]);
    assert_eq!(bill["status"], "voided");
    assert_eq!(bill["bill"]["voided_by"], "44010126/0009000001");
    assert_eq!(cli.json(&["bill", "show", "44010126/9000001"])["status"], "red");
    let (error, _) =
        cli.fails(&["bill", "void", &bill_id(1), "--red", "9000002", "--key", &hospital], REJECTED);
    assert_eq!(
        error.split(" (transaction").next().unwrap(),
        "error: bill_has_claims: bill 44010126/0000000001 has 0.00 reserved and 150.00 reimbursed"
    );

    // The bureau's claims team registers a policy from the template; claims then settle by it.
    let template = cli.json(&["policy", "template"]);
    assert!(template.get("payer").is_none() && template.get("version").is_none(), "{template}");
    assert!(template["hospitals"].as_array().unwrap().contains(&json!("city-central-hospital")));
    let policy_file = net.dir.join("policy.json");
    std::fs::write(&policy_file, template.to_string()).unwrap();
    let policy_path = policy_file.display().to_string();
    let registered = cli.ok(&["policy", "register", "--file", &policy_path, "--key", &ssb]);
    assert!(
        registered.starts_with("accepted: policy version 1 of social-security registered"),
        "{registered}"
    );
    let shown = cli.ok(&["policy", "show", "social-security"]);
    assert!(shown.contains("policy of social-security, version 1"), "{shown}");
    assert!(shown.contains("examination") && shown.contains("70.00%"), "{shown}");
    assert!(shown.contains("deductible        10.00 a year per patient"), "{shown}");
    // The next registration takes the next version; an explicit stale one is refused.
    cli.ok(&["policy", "register", "--file", &policy_path, "--key", &ssb]);
    assert_eq!(cli.json(&["policy", "show", "social-security"])["version"], 2);
    let mut stale = template.clone();
    stale["version"] = json!(1);
    std::fs::write(&policy_file, stale.to_string()).unwrap();
    let (error, _) =
        cli.fails(&["policy", "register", "--file", &policy_path, "--key", &ssb], REJECTED);
    assert!(
        error
            .starts_with("error: policy_version_not_next: policy version 1 is not the next one, 3"),
        "{error}"
    );
    let mut empty = template.clone();
    empty["coverage"] = json!([]);
    std::fs::write(&policy_file, empty.to_string()).unwrap();
    let (error, _) =
        cli.fails(&["policy", "register", "--file", &policy_path, "--key", &ssb], REJECTED);
    assert!(
        error.starts_with("error: invalid_policy: invalid policy: coverage lists no category"),
        "{error}"
    );
    let (error, _) = cli.fails(&["policy", "show", "tai-insurance"], 1);
    assert!(error.contains("tai-insurance has registered no policy"), "{error}");
    // 100.00 left on bill 1: 10.00 deductible, then 90.00 × (300 × 70% + 670 × 60%) / 970.
    let filed = cli.json(&[
        "claim",
        "submit",
        "--bill",
        &bill_id(1),
        "--amount",
        "100",
        "--payer",
        "social-security",
        "--patient-key",
        &patient_key_file,
    ]);
    assert_eq!(filed["outcome"]["accepted"]["effect"], "claim_auto_settled", "{filed}");
    assert_eq!(filed["outcome"]["accepted"]["paid"], 5_678, "{filed}");
    let auto = filed["claim_id"].as_str().unwrap().to_string();
    let shown = cli.ok(&["claim", "show", &auto]);
    for expected in [
        "settled by the payer's policy in block",
        "56.78 to pay, payment not yet recorded",
        "adjudication under policy version 2",
        "submitted     eligible   deductible      benefit",
        "100.00       100.00        10.00        56.78",
    ] {
        assert!(shown.contains(expected), "{expected:?} in\n{shown}");
    }
    let paid = cli.ok(&["claim", "pay", &auto, "--reference", "SSB-AUTO-1", "--key", &ssb]);
    assert!(paid.starts_with(&format!("accepted: payment of claim {auto} recorded")), "{paid}");
    assert!(cli.ok(&["claim", "show", &auto]).contains("56.78 paid, reference SSB-AUTO-1"));
    let (error, _) =
        cli.fails(&["claim", "pay", &auto, "--reference", "SSB-AUTO-2", "--key", &ssb], REJECTED);
    assert!(error.starts_with("error: payment_already_recorded:"), "{error}");

    // Bad command lines are usage errors.
    cli.fails(&["bill", "show", "44010126"], 2);
    cli.fails(
        &[
            "claim",
            "submit",
            "--bill",
            &bill_id(1),
            "--amount",
            "1.234",
            "--payer",
            "x",
            "--patient-key",
            "k",
        ],
        2,
    );

    // The payer's watcher saw the settlement.
    let seen = watcher.output(Duration::from_secs(30));
    let event: Value = serde_json::from_str(seen.lines().next().unwrap()).unwrap();
    assert_eq!(event["event"]["type"], "claim_settled");
    assert_eq!(event["event"]["claim_id"], first);
    assert_eq!(event["event"]["approved"], 15_000);

    println!("cli_node: {:.1} s", started.elapsed().as_secs_f64());
}
