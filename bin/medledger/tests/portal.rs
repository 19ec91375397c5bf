//! The web portal in a real browser (headless Chromium driven by chromedriver) against a real
//! 4-validator network: a hospital issues a bill through the form, the patient sees it, reads
//! its decrypted details and files a claim, the payer reads the consented details and settles,
//! the patient sees it reimbursed, a second claim on the same money is refused, the explorer
//! shows the blocks and finds the bill, and the verify page accepts the bill's receipt and
//! names what is wrong with a tampered one. Every page is saved as a screenshot under
//! `target/portal-screenshots/`, at desk and at phone size.

mod support;

use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;
use support::webdriver::Browser;
use support::*;

const STARTUP: Duration = Duration::from_secs(90);
const COMMIT: Duration = Duration::from_secs(30);

fn screenshots_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/portal-screenshots")
}

/// Pastes a key into the sign-in card and signs in.
fn sign_in(browser: &Browser, key_json: &str) {
    browser.fill("#key-text", key_json);
    browser.click("#sign-in");
}

/// No error toast is showing: every error the portal met so far was expected and shown in place.
fn no_error_toast(browser: &Browser, page: &str) {
    let toast = browser.eval(
        "const t = document.querySelector('#toast'); return t.hidden ? '' : t.textContent;",
        vec![],
    );
    assert_eq!(toast, json!(""), "an unexpected error on {page}");
}

/// The page fits the window: nothing wider than the viewport (a phone must not scroll sideways).
fn fits_width(browser: &Browser) -> bool {
    browser
        .eval("return document.documentElement.scrollWidth <= window.innerWidth + 1;", vec![])
        .as_bool()
        .unwrap_or(false)
}

#[test]
fn a_bill_is_issued_claimed_settled_and_verified_through_the_portal() {
    let mut net = Net::init("portal", 4, 14);
    for i in 0..4 {
        net.start(i);
    }
    let api = net.apis[0];
    wait_until("the network commits", STARTUP, || height(api).is_some_and(|h| h >= 2));
    let base = format!("http://{api}");
    let read = |path: &str| std::fs::read_to_string(net.dir.join(path)).unwrap();
    let hospital_key = read("keys/members/city-central-hospital.key.json");
    let payer_key = read("keys/members/social-security.key.json");
    let patients: Vec<Value> = serde_json::from_str(&read("keys/patients.json")).unwrap();
    let patient = patients
        .iter()
        .find(|p| p["institution"] == "city-central-hospital")
        .expect("a demo patient of City Central Hospital")
        .clone();
    let pseudonym = patient["pseudonym"].as_str().unwrap().to_string();
    let shots = screenshots_dir();
    let _ = std::fs::remove_dir_all(&shots);
    let browser = Browser::start(&shots, 1280, 1000);
    let wait = Duration::from_secs(20);

    // The home page links every desk.
    browser.goto(&format!("{base}/"));
    browser.wait_text("#chain-status", wait, |t| t.contains("height"));
    browser.screenshot("01-home");

    // A key that is not a hospital's is refused at the hospital desk, with the reason.
    browser.goto(&format!("{base}/#/hospital"));
    sign_in(&browser, &payer_key);
    let refusal = browser.wait_text("#sign-in-result", wait, |t| t.contains("not a hospital"));
    assert!(refusal.contains("Social Security"), "{refusal}");

    // The hospital issues a bill through the form.
    browser.fill("#key-text", "");
    sign_in(&browser, &hospital_key);
    browser.wait("#ranges-table", wait);
    let left_before = browser.page_text();
    browser.fill("#f-patient", &pseudonym);
    browser.fill("#f-pooled", "100.00");
    browser.fill("#f-name", "Portal Canary");
    browser.fill("#f-pid", "440106199001011234");
    browser.fill("#f-dept", "Cardiology");
    browser.fill("#f-diag", "I10 hypertension");
    browser.fill(".i-code", "250101001");
    browser.fill(".i-name", "Blood panel");
    browser.fill(".i-cat", "examination");
    browser.fill(".i-price", "125.00");
    browser.fill(".i-qty", "2");
    browser.click("#issue");
    let bill = browser.wait_text("#issued-bill", COMMIT, |t| !t.is_empty());
    assert!(bill.starts_with("44010126/"), "{bill}");
    let result = browser.wait_text("#issue-result", wait, |t| t.contains("Issued"));
    assert!(
        result.contains("total ¥250.00") && result.contains("patient paid ¥150.00"),
        "{result}"
    );
    browser.wait_text("#ranges-table", wait, |t| t.contains('1'));
    browser.screenshot("02-hospital-desk");
    assert_ne!(left_before, browser.page_text(), "the ranges table shows the number used");

    // The ledger has exactly that bill, sealed: its public header has no name.
    let (status, ledger_bill) = get_json(api, &format!("/v1/bills/{bill}")).unwrap();
    assert_eq!(status, 200, "{ledger_bill}");
    assert_eq!(ledger_bill["issue"]["amounts"]["patient_pay"], 15000);
    assert!(!ledger_bill.to_string().contains("Portal Canary"));

    // The patient sees it, opens its details and files a claim with the social security bureau.
    browser.goto(&format!("{base}/#/wallet"));
    sign_in(&browser, &patient.to_string());
    browser.wait(&format!("tr[data-bill=\"{bill}\"]"), wait);
    browser.screenshot("03-wallet");
    no_error_toast(&browser, "wallet");
    browser.click(&format!("tr[data-bill=\"{bill}\"]"));
    browser.click("#open-body");
    let body = browser.wait_text("#body", wait, |t| t.contains("Portal Canary"));
    assert!(body.contains("Blood panel") && body.contains("¥250.00"), "{body}");
    browser.fill("#claim-payer", "social-security");
    assert_eq!(
        browser.eval("return document.querySelector('#claim-amount').value;", vec![]),
        json!("150.00"),
        "the form offers the whole claimable amount"
    );
    browser.click("#claim-submit");
    let filed =
        browser.wait_text("#claim-result", COMMIT, |t| t.contains("filed") || t.contains(':'));
    assert!(filed.contains("filed"), "{filed}");
    browser.wait_text("#claims", wait, |t| t.contains("locked"));
    browser.screenshot("04-wallet-bill-claimed");

    // The payer sees it in the queue, reads the consented details and settles it.
    browser.goto(&format!("{base}/#/payer"));
    sign_in(&browser, &payer_key);
    browser.wait("#queue-table tr[data-claim]", wait);
    browser.screenshot("05-payer-queue");
    browser.click("#queue-table tr[data-claim]");
    browser.click(".open-body");
    browser.wait_text("#claim", wait, |t| t.contains("Portal Canary"));
    browser.fill("#pay-ref", "SSB-2026-0001");
    browser.screenshot("06-payer-claim");
    no_error_toast(&browser, "the payer desk");
    browser.click("#settle");
    let settled =
        browser.wait_text("#decide-result", COMMIT, |t| t.contains("Settled") || t.contains(':'));
    assert!(settled.contains("Settled: ¥150.00 paid"), "{settled}");
    browser.wait_text("#claim-status", wait, |t| t.contains("settled"));
    browser.goto(&format!("{base}/#/payer"));
    browser.wait_text("#total-paid", wait, |t| t == "¥150.00");

    // The patient sees it reimbursed; a second claim on the same money is refused, and says why.
    browser.goto(&format!("{base}/#/wallet/{bill}"));
    browser.wait_text("#bill-reimbursed", wait, |t| t == "¥150.00");
    browser.wait_text("#claims", wait, |t| t.contains("settled"));
    browser.fill("#claim-payer", "tai-insurance");
    browser.fill("#claim-amount", "150.00");
    browser.click("#claim-submit");
    let duplicate = browser.wait_text("#claim-result", COMMIT, |t| t.contains(':'));
    assert!(duplicate.contains("over_claim") || duplicate.contains("exceeds"), "{duplicate}");
    assert!(
        browser.eval("return document.querySelector('#claim-result').className;", vec![])
            == json!("result bad"),
        "the refusal is shown as an error"
    );
    browser.screenshot("07-wallet-duplicate-claim-refused");
    no_error_toast(&browser, "the bill page");
    let (_, after) = get_json(api, &format!("/v1/bills/{bill}")).unwrap();
    assert_eq!(after["reimbursed"], 15000, "the refused claim changed nothing");
    assert_eq!(after["reserved"], 0);

    // The hospital uploads a batch of two bills (the `bill issue` file) and voids the first.
    let (_, ranges) = get_json(api, "/v1/hospitals/city-central-hospital/ranges").unwrap();
    let next = &ranges[0]["next_number"];
    let first: u64 = next.as_u64().or_else(|| next.as_str()?.parse().ok()).expect("numbers left");
    let item = json!({"code": "310100001", "name": "X-ray", "category": "imaging",
        "unit_price": 8000, "quantity": 1, "amount": 8000, "self_paid": 0});
    let body = |name: &str| {
        json!({"patient_name": name, "patient_id": "440106199202021234",
        "department": "Radiology", "diagnosis": "S52 fracture", "payment_channel": "cash",
        "items": [item.clone()]})
    };
    let batch = json!({"code": "44010126", "first_number": first, "bills": [
        {"patient": pseudonym, "total": "80.00", "body": body("Batch One")},
        {"patient": pseudonym, "total": "80.00", "body": body("Batch Two")},
    ]});
    let batch_file = net.dir.join("batch.json");
    std::fs::write(&batch_file, batch.to_string()).unwrap();
    browser.goto(&format!("{base}/#/hospital"));
    browser.wait("#ranges-table", wait);
    browser.upload("#batch-file", &batch_file);
    browser.click("#batch-issue");
    let issued =
        browser.wait_text("#batch-result", COMMIT, |t| t.contains("Issued all") || t.contains(':'));
    assert!(issued.contains("Issued all 2 bills"), "{issued}");
    let voided_bill = format!("44010126/{first:010}");
    let batch_bill = format!("44010126/{:010}", first + 1);
    browser.wait_text("#ranges-table", wait, |t| t.contains(&format!("{:010}", first + 2)));
    browser.fill("#v-bill", &voided_bill);
    browser.click("#void");
    let voided =
        browser.wait_text("#void-result", COMMIT, |t| t.contains("Voided") || t.contains(':'));
    assert!(voided.starts_with("Voided"), "{voided}");
    browser.screenshot("07b-hospital-batch-and-void");
    let (_, red) = get_json(api, &format!("/v1/bills/{voided_bill}")).unwrap();
    assert!(red["voided_by"].is_string() || red["voided_by"].is_object(), "{red}");

    // The patient claims the other batch bill; the payer rejects it with a reason, which the
    // patient sees, and the reservation is released.
    browser.goto(&format!("{base}/#/wallet/{batch_bill}"));
    browser.fill("#claim-payer", "social-security");
    browser.click("#claim-submit");
    browser.wait_text("#claim-result", COMMIT, |t| t.contains("filed"));
    browser.goto(&format!("{base}/#/payer"));
    browser.wait("#queue-table tr[data-claim]", wait);
    browser.click("#queue-table tr[data-claim]");
    browser.fill("#reject-reason", "not covered: imaging outside the catalogue");
    browser.click("#reject");
    let rejected =
        browser.wait_text("#decide-result", COMMIT, |t| t.contains("Rejected") || t.contains(':'));
    assert!(rejected.starts_with("Rejected"), "{rejected}");
    browser.goto(&format!("{base}/#/wallet/{batch_bill}"));
    browser.wait_text("#claims", wait, |t| t.contains("rejected") && t.contains("not covered"));
    let (_, released) = get_json(api, &format!("/v1/bills/{batch_bill}")).unwrap();
    assert_eq!(released["reserved"], 0, "{released}");
    browser.screenshot("07c-wallet-claim-rejected");

    // The bureau registers a claim policy. The patient claims the released bill again, and the
    // ledger settles it by the policy in the block that accepts it: 80.00 of imaging (the
    // portal sums the bill's items by category), 10.00 deductible, 80 % of the rest. The payer
    // desk shows the adjudication and records the payment.
    let member = |id: &str| medledger_types::MemberId::new(id).unwrap();
    let mut policy = medledger_testkit::sample_policy(
        &member("social-security"),
        &[member("city-central-hospital")],
    );
    policy.coverage.push(medledger_types::CategoryCoverage {
        category: medledger_types::ChargeCategory::Imaging,
        ratio_bp: 8_000,
    });
    let chain = medledger_types::ChainId::new("medledger-demo").unwrap();
    let mut f = medledger_testkit::TxFactory::new(chain, height(api).unwrap() + 1_000);
    let register = f.sign(
        &net.member_key("social-security"),
        medledger_types::Payload::RegisterPolicy { policy },
    );
    let (status, answer) = submit(api, &register, true);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["committed"]["receipt"]["outcome"]["accepted"]["effect"],
        "policy_registered"
    );
    browser.goto(&format!("{base}/#/wallet/{batch_bill}"));
    browser.fill("#claim-payer", "social-security");
    browser.click("#claim-submit");
    let auto =
        browser.wait_text("#claim-result", COMMIT, |t| t.contains("filed") || t.contains(':'));
    assert!(
        auto.contains("settled at once by social-security's policy: ¥56.00 paid of ¥80.00"),
        "{auto}"
    );
    browser.wait_text("#claims", wait, |t| t.contains("settled"));
    browser.goto(&format!("{base}/#/payer"));
    browser.wait("#decided tr[data-claim]", wait);
    browser.click("#decided tr[data-claim]");
    let adjudication = browser.wait_text("#adjudication", wait, |t| t.contains("Benefit"));
    assert!(
        adjudication.contains("settled by it in the block that accepted the claim"),
        "{adjudication}"
    );
    assert!(
        adjudication.contains("¥80.00")
            && adjudication.contains("¥10.00")
            && adjudication.contains("¥56.00"),
        "{adjudication}"
    );
    browser.fill("#record-ref", "SSB-AUTO-0001");
    browser.screenshot("07d-payer-auto-settled");
    browser.click("#record-payment");
    let recorded =
        browser.wait_text("#record-result", COMMIT, |t| t.contains("recorded") || t.contains(':'));
    assert!(recorded.starts_with("Payment recorded: reference SSB-AUTO-0001"), "{recorded}");
    no_error_toast(&browser, "the payer desk");
    browser.goto(&format!("{base}/#/wallet/{bill}"));
    browser.wait("#get-receipt", wait);

    // The receipt: its QR code renders and the verify page accepts it.
    browser.click("#get-receipt");
    let qr_text = browser.wait_text("#receipt-qr", wait, |t| t.starts_with("ML1*"));
    let qr_loaded = browser.eval(
        "const img = document.querySelector('#receipt-qr-image'); return img.complete && img.naturalWidth > 0;",
        vec![],
    );
    let start = std::time::Instant::now();
    let mut qr_loaded = qr_loaded.as_bool().unwrap_or(false);
    while !qr_loaded && start.elapsed() < wait {
        std::thread::sleep(Duration::from_millis(200));
        qr_loaded = browser
            .eval("const img = document.querySelector('#receipt-qr-image'); return img.complete && img.naturalWidth > 0;", vec![])
            .as_bool()
            .unwrap_or(false);
    }
    assert!(qr_loaded, "the receipt's QR code image loads");
    browser.screenshot("08-wallet-receipt");

    browser.goto(&format!("{base}/#/verify"));
    browser.fill("#receipt-text", &qr_text);
    browser.click("#verify");
    let verdict = browser.wait_text("#verify-result", wait, |t| t.contains("alid"));
    assert!(verdict.starts_with("Valid.") && verdict.contains(&bill), "{verdict}");
    browser.screenshot("09-verify-valid");
    let mut tampered = qr_text.clone().into_bytes();
    let i = tampered.len() - 40;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    browser.fill("#receipt-text", &String::from_utf8(tampered).unwrap());
    browser.click("#verify");
    let verdict = browser.wait_text("#verify-result", wait, |t| t.starts_with("Not valid."));
    assert!(verdict.len() > "Not valid.".len() + 10, "the reason is given: {verdict}");
    browser.screenshot("10-verify-tampered");

    // The explorer shows the blocks live and finds the bill.
    browser.goto(&format!("{base}/#/explorer"));
    browser.wait("#blocks tr[data-height]", wait);
    browser.fill("#search", &bill);
    browser.click("#search-go");
    browser
        .wait_text("#search-result", wait, |t| t.contains("Reimbursed") && t.contains("¥150.00"));
    browser.wait_text("#validators-table", wait, |t| t.contains("signed"));
    browser.wait_text("#commit-latency", wait, |t| t.ends_with(" ms"));
    // Both charts have drawn lines: their pixels differ from a blank canvas of the same size.
    let drawn = |id: &str| {
        browser.eval(
            "const c = document.querySelector(arguments[0]); const blank = document.createElement('canvas');
             blank.width = c.width; blank.height = c.height;
             const px = (x) => x.getContext('2d').getImageData(0, 0, x.width, x.height).data;
             const a = px(c), b = px(blank); let differ = 0;
             for (let i = 3; i < a.length; i += 4) if (a[i] !== b[i]) differ++;
             return differ;",
            vec![json!(id)],
        )
    };
    for chart in ["#chart", "#latency-chart"] {
        // The latency chart needs two samples, 3 s apart.
        let start = std::time::Instant::now();
        while drawn(chart).as_u64().unwrap() <= 500 {
            assert!(start.elapsed() < wait, "{chart} is drawn");
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    browser.screenshot("11-explorer");

    // A validator that stops is shown missing from finality while the other three go on.
    net.kill9(3);
    browser.wait_text("#validator-3", Duration::from_secs(30), |t| t.contains("missing"));
    browser.eval("document.querySelector('#validators').scrollIntoView();", vec![]);
    browser.screenshot("11-explorer-validator-down");
    no_error_toast(&browser, "the explorer");

    // At phone size every page fits the screen.
    browser.resize(390, 844);
    for (page, ready) in [
        ("#/wallet", "#bills-table"),
        ("#/hospital", "#ranges-table"),
        ("#/payer", "#totals"),
        ("#/explorer", "#blocks"),
        ("#/verify", "#receipt-text"),
    ] {
        browser.goto(&format!("{base}/{page}"));
        browser.wait(ready, wait);
        std::thread::sleep(Duration::from_millis(300));
        let name = page.trim_start_matches("#/");
        browser.screenshot(&format!("12-phone-{name}"));
        no_error_toast(&browser, page);
        assert!(fits_width(&browser), "{page} scrolls sideways on a phone-sized screen");
    }

    // A node that stops answering is shown as such, not as a spinner forever.
    browser.goto(&format!("{base}/#/verify"));
    browser.wait("#receipt-text", wait);
    net.kill9(0);
    browser.wait_text("#chain-status", wait, |t| t.contains("unreachable"));
    browser.fill("#receipt-text", &qr_text);
    browser.click("#verify");
    let verdict = browser.wait_text("#verify-result", wait, |t| t.contains("did not answer"));
    assert!(verdict.contains("/v1/receipts/verify"), "{verdict}");
    browser.screenshot("13-node-unreachable");
    drop(browser);
    let listed: Vec<_> =
        std::fs::read_dir(&shots).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(listed.len() >= 16, "screenshots saved: {listed:?}");
}
