//! The web portal in a real browser (headless Chromium driven by chromedriver) against a real
//! 4-validator network: a hospital issues a bill through the form, keeping its own copy in its
//! key store as the CLI does (and the CLI reopens it with the hospital's key), the patient sees
//! it, reads its decrypted details and files a claim with consent, the payer reads the
//! consented details and settles with a reference it types, the patient sees it reimbursed, a
//! second claim on the same money is refused in plain words, a claim settled by the payer's
//! policy is explained line by line in the wallet, the explorer shows the blocks that carry
//! transactions and finds the bill, and the verify page accepts the bill's receipt and names
//! what is wrong with a tampered one and with text that is no receipt at all.
//!
//! Throughout: the browser's log holds no error on any page (script errors, failed requests,
//! Content-Security-Policy refusals), no key is ever shown, and people read names, not member
//! ids, codes or JSON. Every page is saved as a screenshot under `target/portal-screenshots/`,
//! at desk and at phone size. The test fails, never skips, without chromium and chromedriver.

mod support;

use medledger_privacy::EncryptionSecret;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use support::webdriver::{Browser, require_browser};
use support::*;

const STARTUP: Duration = Duration::from_secs(90);
const COMMIT: Duration = Duration::from_secs(30);

/// What people must not be shown where they expect names: member ids, category, visit, role,
/// channel and rejection codes, raw JSON.
const CODES: &[&str] = &[
    "city-central-hospital",
    "social-security",
    "tai-insurance",
    "finance-bureau",
    "western_medicine",
    "chinese_medicine",
    "check_up",
    "social_security",
    "payment_platform",
    "wechat_pay",
    "over_claim",
    "claim_auto_settled",
    "{\"",
];

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

/// The browser logged no error since the previous check: no script error, no failed request,
/// no style or script the Content-Security-Policy refused.
fn no_console_errors(browser: &Browser, page: &str) {
    only_expected_errors(browser, page, &[]);
}

/// As [`no_console_errors`], except for errors containing one of `expected` (a request the
/// page makes knowing the node will refuse it).
fn only_expected_errors(browser: &Browser, page: &str, expected: &[&str]) {
    let errors: Vec<_> = browser
        .errors()
        .into_iter()
        .filter(|e| !expected.iter().any(|x| e.message.contains(x)))
        .collect();
    assert!(
        errors.is_empty(),
        "the browser logged errors on {page}:\n{}",
        errors
            .iter()
            .map(|e| format!("  [{}] {}", e.source, e.message))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Saves a screenshot of the page and checks it is clean: no error toast, no logged error.
fn page_done(browser: &Browser, name: &str) {
    browser.screenshot(name);
    no_error_toast(browser, name);
    no_console_errors(browser, name);
}

/// The visible text of `css` names things as people know them.
fn no_codes(browser: &Browser, css: &str) {
    let text = browser.wait_text(css, Duration::from_secs(10), |_| true);
    for code in CODES {
        assert!(!text.contains(code), "{css} shows {code:?} where a name belongs:\n{text}");
    }
}

/// Everything the page shows or holds in a field: its markup, every field's value, its text.
fn everything_shown(browser: &Browser) -> String {
    browser
        .eval(
            "return document.documentElement.outerHTML + '\\n'
               + [...document.querySelectorAll('input, textarea, select')].map((e) => e.value).join('\\n')
               + '\\n' + document.body.innerText;",
            vec![],
        )
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// The page fits the window: nothing wider than the viewport (a phone must not scroll sideways).
fn fits_width(browser: &Browser) -> bool {
    browser
        .eval("return document.documentElement.scrollWidth <= window.innerWidth + 1;", vec![])
        .as_bool()
        .unwrap_or(false)
}

/// Gives the hospital desk its key store folder. WebDriver cannot drive the browser's folder
/// picker, so the page gets a folder of the origin-private file system instead: the same
/// `FileSystemDirectoryHandle` the picker returns, named like the CLI's key store.
fn choose_keystore(browser: &Browser) {
    browser.eval(
        "window.showDirectoryPicker = async () => (await navigator.storage.getDirectory())
           .getDirectoryHandle('city-central-hospital.bodies', { create: true });",
        vec![],
    );
    browser.click("#keystore-choose");
    browser.wait_text("#keystore-name", Duration::from_secs(10), |t| {
        t == "city-central-hospital.bodies"
    });
}

/// The hex of a file in that folder.
fn keystore_file(browser: &Browser, name: &str) -> String {
    browser
        .eval(
            "const name = arguments[0];
             return (async () => {
               const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('city-central-hospital.bodies');
               const file = await (await dir.getFileHandle(name)).getFile();
               return Array.from(new Uint8Array(await file.arrayBuffer()), (b) => b.toString(16).padStart(2, '0')).join('');
             })();",
            vec![json!(name)],
        )
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// Bill numbers the hospital has used, from the API.
fn used_numbers(api: std::net::SocketAddr) -> u64 {
    let (_, ranges) = get_json(api, "/v1/hospitals/city-central-hospital/ranges").unwrap();
    ranges.as_array().unwrap().iter().map(|r| r["used"].as_u64().unwrap()).sum()
}

#[test]
fn a_bill_is_issued_claimed_settled_and_verified_through_the_portal() {
    require_browser();
    let mut net = Net::init("portal", 4, 14);
    for i in 0..4 {
        net.start(i);
    }
    let api = net.apis[0];
    wait_until("the network commits", STARTUP, || height(api).is_some_and(|h| h >= 2));
    let base = format!("http://{api}");
    let cli = Cli { node: base.clone() };
    let read = |path: &str| std::fs::read_to_string(net.dir.join(path)).unwrap();
    let hospital_key_path = net.dir.join("keys/members/city-central-hospital.key.json");
    let hospital_key: Value =
        serde_json::from_str(&read("keys/members/city-central-hospital.key.json")).unwrap();
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
    page_done(&browser, "01-home");

    // A key that is not a hospital's is refused at the hospital desk, with the reason in
    // words. A pasted key goes into a field that hides it.
    browser.goto(&format!("{base}/#/hospital"));
    assert_eq!(
        browser.eval("return document.querySelector('#key-text').type;", vec![]),
        json!("password"),
        "a pasted key is hidden"
    );
    sign_in(&browser, &payer_key);
    let refusal = browser.wait_text("#sign-in-result", wait, |t| t.contains("not a hospital"));
    assert!(refusal.contains("Social Security Bureau, a social security bureau"), "{refusal}");
    no_codes(&browser, "#sign-in-result");

    // The hospital's key file is chosen: the page says which key it is, never its secret.
    browser.fill("#key-text", "");
    browser.upload("#key-file", &hospital_key_path);
    browser.wait_text("#key-chosen", wait, |t| t.contains("city-central-hospital.key.json"));
    let secret = hospital_key["secret_key"].as_str().unwrap();
    assert!(!everything_shown(&browser).contains(secret), "the secret key is on the page");
    browser.screenshot("02a-hospital-key-chosen");
    browser.click("#sign-in");
    browser.wait("#ranges-table", wait);
    assert!(!everything_shown(&browser).contains(secret), "the secret key is on the page");
    no_console_errors(&browser, "the hospital's sign-in");

    // The form holds no invented value: what is written to the ledger is what the clerk types
    // (the number is the next free one, from the ledger).
    let prefilled = browser.eval(
        "return [...document.querySelectorAll('#issue-form input:not(#f-number), #issue-form select:not(#f-code)')]
           .filter((e) => e.value !== '').map((e) => e.id || e.className);",
        vec![],
    );
    assert_eq!(prefilled, json!([]), "fields prefilled with values nobody typed");

    // The hospital issues a bill through the form. Without its key store it is told to choose
    // it (or to go without its copy) and nothing is issued.
    let used_before = used_numbers(api);
    {
        browser.fill("#f-patient", &pseudonym);
        browser.fill("#f-visit", "outpatient");
        browser.fill("#f-pooled", "100.00");
        browser.fill("#f-name", "Portal Canary");
        browser.fill("#f-pid", "440106199001011234");
        browser.fill("#f-dept", "Cardiology");
        browser.fill("#f-diag", "I10 hypertension");
        browser.fill("#f-channel", "wechat_pay");
        browser.fill(".i-code", "250101001");
        browser.fill(".i-name", "Blood panel");
        browser.fill(".i-cat", "examination");
        browser.fill(".i-price", "125.00");
        browser.fill(".i-qty", "2");
    }
    browser.click("#issue");
    let refused = browser.wait_text("#issue-result", wait, |t| t.contains("key store"));
    assert!(refused.contains("choose the hospital's key store folder first"), "{refused}");
    choose_keystore(&browser);
    browser.click("#issue");
    let bill = browser.wait_text("#issued-bill", COMMIT, |t| !t.is_empty());
    assert!(bill.starts_with("44010126/"), "{bill}");
    let result = browser.wait_text("#issue-result", wait, |t| t.contains("Issued"));
    assert!(
        result.contains("total ¥250.00")
            && result.contains("patient paid ¥150.00")
            && result.contains("The hospital keeps its copy"),
        "{result}"
    );
    browser.wait_text("#ranges-table", wait, |t| t.contains('1'));
    assert_eq!(used_numbers(api), used_before + 1);

    // The form is cleared, so a second click issues nothing.
    let left = browser.eval(
        "return [...document.querySelectorAll('#issue-form input:not(#f-number), #issue-form select:not(#f-code)')]
           .filter((e) => e.value !== '').map((e) => e.id || e.className);",
        vec![],
    );
    assert_eq!(left, json!([]), "the form still holds the issued bill");
    browser
        .eval("document.querySelector('#issue-result').scrollIntoView({block: 'center'});", vec![]);
    page_done(&browser, "02-hospital-desk");
    browser.click("#issue");
    let again = browser.wait_text("#issue-result", wait, |t| t.contains("empty"));
    assert!(again.contains(&format!("Bill {bill} was issued")), "{again}");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(used_numbers(api), used_before + 1, "a second click issued another bill");
    page_done(&browser, "02b-hospital-second-click");

    // The ledger has exactly that bill, sealed: its public header has no name.
    let (status, ledger_bill) = get_json(api, &format!("/v1/bills/{bill}")).unwrap();
    assert_eq!(status, 200, "{ledger_bill}");
    assert_eq!(ledger_bill["issue"]["amounts"]["patient_pay"], 15000);
    assert!(!ledger_bill.to_string().contains("Portal Canary"));

    // The portal sealed it for the same readers, in the same order, as the CLI seals a bill
    // (`Client::seal_bills`): the genesis body readers, the patient, and the hospital's key
    // for this patient in its key store. With that key file in the CLI's default key store
    // (next to the key file), `medledger bill show --key` opens it as the issuer.
    let copy_hex = keystore_file(&browser, &format!("{pseudonym}.key"));
    let copy_bytes: [u8; 32] = medledger_crypto::decode_hex(&copy_hex)
        .ok()
        .and_then(|b| b.try_into().ok())
        .unwrap_or_else(|| panic!("the key store file is 32 bytes: {copy_hex}"));
    let copy = EncryptionSecret::from_bytes(&copy_bytes).expect("an X25519 secret");
    let sdk = client(api);
    let patient_id: medledger_types::Pseudonym = pseudonym.parse().unwrap();
    let mut expected = sdk.required_readers(&sdk.members().unwrap(), patient_id).unwrap();
    expected.push(copy.public());
    let sealed =
        sdk.bill_body(bill.parse().unwrap(), &net.member_key("city-central-hospital")).unwrap();
    let recipients: Vec<_> = sealed.sealed_body.wraps.iter().map(|w| w.recipient).collect();
    assert_eq!(recipients, expected, "the portal wraps to the CLI's readers");
    let keystore = net.dir.join("keys/members/city-central-hospital.bodies");
    std::fs::create_dir_all(&keystore).unwrap();
    std::fs::write(keystore.join(format!("{pseudonym}.key")), copy_bytes).unwrap();
    let shown = cli.ok(&["bill", "show", &bill, "--key", hospital_key_path.to_str().unwrap()]);
    assert!(
        shown.contains("Portal Canary") && shown.contains("opened as issuer"),
        "the CLI opens the portal's bill with the hospital's key: {shown}"
    );

    // The patient sees it, opens its details and files a claim with the social security
    // bureau, ticking the consent box, which starts unticked.
    browser.goto(&format!("{base}/#/wallet"));
    sign_in(&browser, &patient.to_string());
    browser.wait(&format!("tr[data-bill=\"{bill}\"]"), wait);
    no_codes(&browser, "#bills");
    page_done(&browser, "03-wallet");
    browser.click(&format!("tr[data-bill=\"{bill}\"]"));
    browser.click("#open-body");
    let body = browser.wait_text("#body", wait, |t| t.contains("Portal Canary"));
    assert!(body.contains("Blood panel") && body.contains("¥250.00"), "{body}");
    assert!(body.contains("WeChat Pay") && body.contains("Examinations and tests"), "{body}");
    no_codes(&browser, "#bill");
    let header = browser.wait_text("#bill", wait, |_| true);
    assert!(header.contains("City Central Hospital") && header.contains("Outpatient visit"));
    assert_eq!(
        browser.eval("return document.querySelector('#claim-disclose').checked;", vec![]),
        json!(false),
        "the consent box starts unticked"
    );
    browser.fill("#claim-payer", "social-security");
    assert_eq!(
        browser.eval("return document.querySelector('#claim-amount').value;", vec![]),
        json!("150.00"),
        "the form offers the whole claimable amount"
    );
    browser.click("#claim-disclose");
    browser.click("#claim-submit");
    let filed =
        browser.wait_text("#claim-result", COMMIT, |t| t.contains("filed") || t.contains(':'));
    assert!(filed.contains("filed with Social Security Bureau"), "{filed}");
    browser.wait_text("#claims", wait, |t| t.contains("locked"));
    no_codes(&browser, "#claims");
    page_done(&browser, "04-wallet-bill-claimed");

    // The payer sees it in the queue, reads the consented details and settles it with the
    // payment reference it types: none is offered.
    browser.goto(&format!("{base}/#/payer"));
    sign_in(&browser, &payer_key);
    browser.wait("#queue-table tr[data-claim]", wait);
    no_codes(&browser, "#queue");
    page_done(&browser, "05-payer-queue");
    browser.click("#queue-table tr[data-claim] td:nth-child(3)");
    browser.click(".open-body");
    browser.wait_text("#claim", wait, |t| t.contains("Portal Canary"));
    no_codes(&browser, "#claim");
    assert_eq!(
        browser.eval("return document.querySelector('#pay-ref').value;", vec![]),
        json!(""),
        "no payment reference is made up"
    );
    browser.click("#settle");
    let unreferenced = browser.wait_text("#decide-result", wait, |t| t.contains("reference"));
    assert!(unreferenced.contains("enter the payment reference"), "{unreferenced}");
    browser.fill("#pay-ref", "SSB-2026-0001");
    page_done(&browser, "06-payer-claim");
    browser.click("#settle");
    let settled =
        browser.wait_text("#decide-result", COMMIT, |t| t.contains("Settled") || t.contains(':'));
    assert!(settled.contains("Settled: ¥150.00 paid"), "{settled}");
    browser.wait_text("#claim-status", wait, |t| t.contains("settled"));
    browser.goto(&format!("{base}/#/payer"));
    browser.wait_text("#total-paid", wait, |t| t == "¥150.00");

    // The patient sees it reimbursed; a second claim on the same money is refused, and says
    // why with the amounts the bill page shows.
    browser.goto(&format!("{base}/#/wallet/{bill}"));
    browser.wait_text("#bill-reimbursed", wait, |t| t == "¥150.00");
    browser.wait_text("#bill-claimable", wait, |t| t == "¥0.00");
    browser.wait_text("#claims", wait, |t| t.contains("settled"));
    browser.fill("#claim-payer", "tai-insurance");
    browser.fill("#claim-amount", "150.00");
    browser.click("#claim-submit");
    let duplicate = browser.wait_text("#claim-result", COMMIT, |t| t.contains(':'));
    assert!(
        duplicate.contains("¥150.00 asked exceeds the ¥0.00 still claimable")
            && duplicate.contains("the patient paid ¥150.00; ¥150.00 already reimbursed"),
        "{duplicate}"
    );
    assert!(
        browser.eval("return document.querySelector('#claim-result').className;", vec![])
            == json!("result bad"),
        "the refusal is shown as an error"
    );
    no_codes(&browser, "#claim-result");
    page_done(&browser, "07-wallet-duplicate-claim-refused");
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
    if browser.eval("return !document.querySelector('#keystore-name');", vec![]) == json!(true) {
        choose_keystore(&browser);
    }
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
    page_done(&browser, "07b-hospital-batch-and-void");
    let (_, red) = get_json(api, &format!("/v1/bills/{voided_bill}")).unwrap();
    assert!(red["voided_by"].is_string() || red["voided_by"].is_object(), "{red}");

    // The patient claims the other batch bill (without consent: the payer sees amounts only);
    // the payer rejects it with a reason, which the patient sees, and the reservation is
    // released.
    browser.goto(&format!("{base}/#/wallet/{batch_bill}"));
    browser.fill("#claim-payer", "social-security");
    browser.click("#claim-submit");
    browser.wait_text("#claim-result", COMMIT, |t| t.contains("filed"));
    browser.goto(&format!("{base}/#/payer"));
    browser.wait("#queue-table tr[data-claim]", wait);
    browser.click("#queue-table tr[data-claim] td:nth-child(3)");
    let undisclosed = browser.wait_text("#claim", wait, |t| t.contains("did not consent"));
    assert!(!undisclosed.contains("Batch Two"), "{undisclosed}");
    browser.fill("#reject-reason", "not covered: imaging outside the catalogue");
    browser.click("#reject");
    let rejected =
        browser.wait_text("#decide-result", COMMIT, |t| t.contains("Rejected") || t.contains(':'));
    assert!(rejected.starts_with("Rejected"), "{rejected}");
    browser.goto(&format!("{base}/#/wallet/{batch_bill}"));
    browser.wait_text("#claims", wait, |t| t.contains("rejected") && t.contains("not covered"));
    let (_, released) = get_json(api, &format!("/v1/bills/{batch_bill}")).unwrap();
    assert_eq!(released["reserved"], 0, "{released}");
    page_done(&browser, "07c-wallet-claim-rejected");

    // The bureau registers a claim policy. The patient claims the released bill again, and the
    // ledger settles it by the policy in the block that accepts it: 80.00 of imaging (the
    // portal sums the bill's items by category), 10.00 deductible, 80 % of the rest. The wallet
    // explains the payout line by line; the payer desk shows the adjudication and records the
    // payment with the reference the payer types.
    let member = |id: &str| medledger_types::MemberId::new(id).unwrap();
    let policy_for = |version: u32| {
        let mut policy = medledger_testkit::sample_policy(
            &member("social-security"),
            &[member("city-central-hospital")],
        );
        policy.coverage.push(medledger_types::CategoryCoverage {
            category: medledger_types::ChargeCategory::Imaging,
            ratio_bp: 8_000,
        });
        policy.version = version;
        policy
    };
    let chain = medledger_types::ChainId::new("medledger-demo").unwrap();
    let mut f = medledger_testkit::TxFactory::new(chain, height(api).unwrap() + 1_000);
    let ssb = net.member_key("social-security");
    let register = f.sign(&ssb, medledger_types::Payload::RegisterPolicy { policy: policy_for(1) });
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
        auto.contains("settled at once by Social Security Bureau's policy: ¥56.00 paid of ¥80.00"),
        "{auto}"
    );
    let explained =
        browser.wait_text("#claims", wait, |t| t.contains("Why ¥56.00 of ¥80.00 was paid"));
    for line in [
        "Submitted ¥80.00",
        "Eligible ¥80.00: City Central Hospital is covered by Social Security Bureau's policy",
        "Deductible ¥10.00",
        "Benefit ¥56.00: the policy pays 80% (Imaging 80%) of the remaining ¥70.00",
        "The other ¥24.00 was released",
    ] {
        assert!(explained.contains(line), "the wallet explains {line:?}:\n{explained}");
    }
    no_codes(&browser, "#claims");
    browser.eval("document.querySelector('.payout').scrollIntoView();", vec![]);
    page_done(&browser, "07d-wallet-payout-explained");
    browser.goto(&format!("{base}/#/payer"));
    browser.wait("#decided tr[data-claim]", wait);
    browser.click("#decided tr[data-claim] td:nth-child(3)");
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
    assert_eq!(
        browser.eval("return document.querySelector('#record-ref').value;", vec![]),
        json!(""),
        "no payment reference is made up"
    );
    browser.fill("#record-ref", "SSB-AUTO-0001");
    page_done(&browser, "07e-payer-auto-settled");
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
    let qr_loaded = || {
        browser
            .eval("const img = document.querySelector('#receipt-qr-image'); return img.complete && img.naturalWidth > 0;", vec![])
            .as_bool()
            .unwrap_or(false)
    };
    let start = Instant::now();
    while !qr_loaded() {
        assert!(start.elapsed() < wait, "the receipt's QR code image loads");
        std::thread::sleep(Duration::from_millis(200));
    }
    page_done(&browser, "08-wallet-receipt");

    browser.goto(&format!("{base}/#/verify"));
    browser.fill("#receipt-text", &qr_text);
    browser.click("#verify");
    let verdict = browser.wait_text("#verify-result", wait, |t| t.contains("alid"));
    assert!(verdict.starts_with("Valid.") && verdict.contains(&bill), "{verdict}");
    page_done(&browser, "09-verify-valid");
    let mut tampered = qr_text.clone().into_bytes();
    let i = tampered.len() - 40;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    browser.fill("#receipt-text", &String::from_utf8(tampered).unwrap());
    browser.click("#verify");
    let verdict = browser.wait_text("#verify-result", wait, |t| t.starts_with("Not valid."));
    assert!(verdict.len() > "Not valid.".len() + 10, "the reason is given: {verdict}");
    page_done(&browser, "10-verify-tampered");
    // Text that is no receipt at all: the node's reason, and what can be pasted. (The node
    // refuses it with 400 not_a_receipt, which the browser logs as a failed request.)
    browser.fill("#receipt-text", "hello");
    browser.click("#verify");
    let verdict = browser.wait_text("#verify-result", wait, |t| t.starts_with("Not valid."));
    assert!(!verdict.contains("not_a_receipt"), "the node's words, not its code: {verdict}");
    let hint = browser.wait_text("#verify-hint", wait, |t| t.contains("ML1*"));
    assert!(hint.contains("receipt file") && hint.contains("hex"), "{verdict}");
    browser.screenshot("10b-verify-not-a-receipt");
    no_error_toast(&browser, "the verify page");
    only_expected_errors(
        &browser,
        "the verify page",
        &["/v1/receipts/verify - Failed to load resource"],
    );

    // The explorer shows the blocks that carry transactions (empty ones on request), finds the
    // bill, and shows every validator's part in finality by name.
    browser.goto(&format!("{base}/#/explorer"));
    browser.wait("#blocks tr[data-height]", wait);
    let txs = |browser: &Browser| {
        browser.eval(
            "return [...document.querySelectorAll('#blocks tr[data-height]')].map((tr) => Number(tr.dataset.txs));",
            vec![],
        )
    };
    let shown = txs(&browser);
    assert!(
        shown.as_array().unwrap().iter().all(|n| n.as_u64().unwrap() > 0),
        "empty blocks are hidden by default: {shown}"
    );
    browser.wait_text("#blocks-note", wait, |t| t.contains("empty block"));
    browser.eval("document.querySelector('#blocks-note').scrollIntoView();", vec![]);
    page_done(&browser, "11a-explorer-latest-blocks");
    browser.click("#show-empty");
    let note = browser.wait_text("#blocks-note", wait, |t| t.starts_with("Showing every block"));
    page_done(&browser, "11b-explorer-empty-blocks-shown");
    if !note.contains("(0 of") {
        let all = txs(&browser);
        assert!(
            all.as_array().unwrap().iter().any(|n| n.as_u64() == Some(0)),
            "the toggle shows empty blocks: {note} {all}"
        );
    }
    browser.click("#show-empty");
    browser.wait_text("#blocks-note", wait, |t| t.contains("hidden"));
    browser.fill("#search", &bill);
    browser.click("#search-go");
    browser
        .wait_text("#search-result", wait, |t| t.contains("Reimbursed") && t.contains("¥150.00"));
    no_codes(&browser, "#search-result");
    browser.wait_text("#validators-table", wait, |t| t.contains("signed"));
    no_codes(&browser, "#validators");
    browser.wait_text("#commit-latency", wait, |t| {
        t.strip_suffix(" ms").and_then(|ms| ms.parse::<f64>().ok()).is_some()
    });
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
        let start = Instant::now();
        while drawn(chart).as_u64().unwrap() <= 500 {
            assert!(start.elapsed() < wait, "{chart} is drawn");
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    // With every validator up, none is shown missing, though many certificates carry 3 of 4
    // signatures (the quorum). Watched over several refreshes.
    for _ in 0..4 {
        let missing = browser.eval(
            "return document.querySelectorAll('#validators-table .badge.bad').length;",
            vec![],
        );
        assert_eq!(missing, json!(0), "a healthy validator is shown missing");
        std::thread::sleep(Duration::from_secs(2));
    }
    page_done(&browser, "11-explorer");

    // A validator that stops is shown missing once it has been out of the certificates for
    // many blocks, while the other three go on (the bureau's policy versions give the chain
    // blocks to finalize).
    net.kill9(3);
    let start = Instant::now();
    let mut version = 2;
    loop {
        let text = browser.wait_text("#validator-3", wait, |_| true);
        if text.contains("missing") {
            assert!(text.contains("in no certificate for"), "{text}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "validator 3 is not shown missing: {text}"
        );
        let tx =
            f.sign(&ssb, medledger_types::Payload::RegisterPolicy { policy: policy_for(version) });
        version += 1;
        let (status, answer) = submit(api, &tx, true);
        assert_eq!(status, 200, "{answer}");
        std::thread::sleep(Duration::from_millis(500));
    }
    browser.eval("document.querySelector('#validators').scrollIntoView();", vec![]);
    page_done(&browser, "11-explorer-validator-down");

    // At phone size every page fits the screen; detail lists wrap between words and the
    // hospital's inputs are wide enough to type in.
    browser.resize(390, 844);
    let bill_page = format!("#/wallet/{bill}");
    for (page, ready) in [
        ("#/wallet", "#bills-table"),
        (bill_page.as_str(), "#bill .kv"),
        ("#/hospital", "#ranges-table"),
        ("#/payer", "#totals"),
        ("#/explorer", "#blocks"),
        ("#/verify", "#receipt-text"),
    ] {
        browser.goto(&format!("{base}/{page}"));
        browser.wait(ready, wait);
        std::thread::sleep(Duration::from_millis(300));
        let name = page.trim_start_matches("#/").replace('/', "-");
        page_done(&browser, &format!("12-phone-{name}"));
        assert!(fits_width(&browser), "{page} scrolls sideways on a phone-sized screen");
        let cut = browser.eval(
            "return [...document.querySelectorAll('.table-wrap')].filter((w) => w.scrollWidth > w.clientWidth + 1).map((w) => w.id || w.parentElement.id || w.textContent.slice(0, 40));",
            vec![],
        );
        assert_eq!(cut, json!([]), "{page}: tables wider than a phone");
        let broken = browser.eval(
            "return [...document.querySelectorAll('.kv dd')].filter((dd) => getComputedStyle(dd).wordBreak === 'break-all').length;",
            vec![],
        );
        assert_eq!(broken, json!(0), "{page}: detail lists break words anywhere");
    }
    browser.goto(&format!("{base}/#/hospital"));
    browser.wait("#ranges-table", wait);
    let narrowest = browser.eval(
        "return Math.min(...[...document.querySelectorAll('#issue-form input, #issue-form select')].map((e) => e.getBoundingClientRect().width));",
        vec![],
    );
    assert!(
        narrowest.as_f64().unwrap() >= 120.0,
        "a hospital input is {narrowest} px wide on a phone"
    );
    browser.eval("document.querySelector('#items').scrollIntoView();", vec![]);
    page_done(&browser, "12-phone-hospital-charges");

    // A node that stops answering is shown as such, not as a spinner forever. (The browser
    // logs the refused connections; those are the only errors it may log.)
    browser.goto(&format!("{base}/#/verify"));
    browser.wait("#receipt-text", wait);
    no_console_errors(&browser, "the verify page");
    net.kill9(0);
    browser.wait_text("#chain-status", wait, |t| t.contains("unreachable"));
    browser.fill("#receipt-text", &qr_text);
    browser.click("#verify");
    let verdict = browser.wait_text("#verify-result", wait, |t| t.contains("did not answer"));
    assert!(verdict.contains("/v1/receipts/verify"), "{verdict}");
    browser.screenshot("13-node-unreachable");
    for error in browser.errors() {
        assert!(
            error.message.contains("ERR_CONNECTION_REFUSED"),
            "an error other than the refused connection: [{}] {}",
            error.source,
            error.message
        );
    }
    drop(browser);
    let listed: Vec<_> =
        std::fs::read_dir(&shots).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(listed.len() >= 28, "screenshots saved: {listed:?}");
}
