//! The client API as hospitals', payers' and operators' systems use it: every endpoint, the
//! event stream and its resume across a node restart, pagination, and each class of bad input,
//! against a real 4-validator network on loopback, through the Rust SDK.

mod support;

use medledger_client::{Client, ClientError};
use medledger_testkit::json_schema::Registry;
use medledger_testkit::{TxFactory, bill, claim, claim_id};
use medledger_types::api::{Event, EventEnvelope, EventFilter, ListQuery};
use medledger_types::{BillId, ChainId, Fen, MemberId, Payload, Text, Transaction, TxId};
use std::collections::BTreeSet;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::*;

const CHAIN: &str = "medledger-demo";
const STARTUP: Duration = Duration::from_secs(90);

fn bill_id(n: u64) -> BillId {
    BillId::new(medledger_testkit::DEMO_BILL_CODE, n).unwrap()
}

/// The HTTP status and error code of a call that must fail.
fn api_error<T: std::fmt::Debug>(result: Result<T, ClientError>) -> (u16, String) {
    match result {
        Err(ClientError::Api { status, error }) => (status, error.code),
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// Submits and waits; returns the ledger's outcome code (`accepted` or the rejection code).
fn outcome(node: &Client, tx: &Transaction) -> String {
    node.submit_and_wait(tx).expect("committed").receipt.outcome.code()
}

/// Reads events from `stream` on a thread until `until` has been seen (or 60 s pass).
fn collect_until(
    stream: medledger_client::EventStream,
    until: impl Fn(&EventEnvelope) -> bool + Send + 'static,
) -> mpsc::Receiver<Vec<EventEnvelope>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        for event in stream {
            let event = event.expect("event stream");
            let done = until(&event);
            seen.push(event);
            if done {
                break;
            }
        }
        let _ = tx.send(seen);
    });
    rx
}

/// A raw HTTP exchange, for what the SDK never sends (wrong methods, odd paths).
fn raw(addr: std::net::SocketAddr, request: &str) -> (u16, serde_json::Value) {
    raw_bytes(addr, request.as_bytes())
}

/// A raw `POST` of `body`, for bodies the SDK never sends (malformed or oversized batches).
fn raw_post(
    addr: std::net::SocketAddr,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> (u16, serde_json::Value) {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    raw_bytes(addr, &request)
}

/// Sends `request` as it is and reads the answer to the connection's end.
fn raw_bytes(addr: std::net::SocketAddr, request: &[u8]) -> (u16, serde_json::Value) {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(request).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer.split(' ').nth(1).unwrap().parse().unwrap();
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(serde_json::Value::Null))
}

#[test]
fn every_endpoint_and_error_class_over_a_real_network() {
    let mut net = Net::init("api", 4, 3);
    // Validator 3 gets a tight per-client rate, to show the 429.
    let config = net.home(3).join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text.replace("rate_per_s = 5000", "rate_per_s = 20");
    let text = text.replace("rate_burst = 10000", "rate_burst = 20");
    assert!(text.contains("rate_burst = 20"), "{text}");
    std::fs::write(&config, text).unwrap();
    for i in 0..4 {
        net.start(i);
    }
    wait_until("all four validators finalize blocks", STARTUP, || {
        net.apis.iter().all(|api| height(*api).is_some_and(|h| h >= 2))
    });
    let nodes: Vec<Client> = net.apis.iter().map(|a| client(*a)).collect();
    let node = &nodes[0];
    let status = node.status().unwrap();
    assert_eq!(status.chain_id, CHAIN);
    assert_eq!(status.validators, 4);

    // A payer's system follows claims from block 1 on validator 1 (it will be restarted).
    let ss = MemberId::new("social-security").unwrap();
    let payer_filter = EventFilter {
        types: Some("claim_submitted,claim_settled".into()),
        payer: Some(ss.clone()),
        from_height: Some(1),
        ..EventFilter::default()
    };
    let payer_stream = collect_until(
        nodes[1].events(payer_filter),
        |e| matches!(&e.event, Event::ClaimSettled { approved, .. } if *approved == Fen(2_500)),
    );
    // An explorer follows everything on validator 0.
    let all_stream = collect_until(
        node.events(EventFilter { from_height: Some(1), ..EventFilter::default() }),
        |e| matches!(&e.event, Event::ClaimSettled { approved, .. } if *approved == Fen(2_500)),
    );

    let hospital = net.member_key("city-central-hospital");
    let payer = net.member_key("social-security");
    let patients = net.patients();
    let (patient, patient_key) = patients[0].clone();
    let mut f = TxFactory::new(ChainId::new(CHAIN).unwrap(), status.height + 1_000);

    // Issue 30 bills to the patient; look them up every way the API offers.
    let bills = (1..=30).map(|n| bill(bill_id(n), patient, 10_000, 0)).collect();
    let issue = f.sign(&hospital, net.issue(bills));
    let committed = node.submit_and_wait(&issue).unwrap();
    assert_eq!(committed.receipt.outcome.code(), "accepted");
    let tx = node.tx(issue.id()).unwrap();
    assert_eq!((tx.status.as_str(), tx.committed.unwrap().height), ("committed", committed.height));
    let block = node.block(committed.height).unwrap();
    assert_eq!((block.height, block.txs), (committed.height, 1));
    assert_eq!(node.bill(bill_id(7)).unwrap().issue.amounts.patient_pay, Fen(10_000));

    // Pagination: pages of 7, newest first, cover all 30 exactly once.
    let mut seen = Vec::new();
    let mut query = ListQuery { limit: Some(7), ..ListQuery::default() };
    loop {
        let page = node.patient_bills_page(patient, &query).unwrap();
        assert!(page.items.len() <= 7);
        seen.extend(page.items.iter().map(|b| b.issue.id.number.get()));
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => break,
        }
    }
    assert_eq!(seen, (1..=30).rev().collect::<Vec<_>>(), "every bill once, newest first");
    assert_eq!(
        api_error(
            node.patient_bills_page(patient, &ListQuery { limit: Some(0), ..ListQuery::default() })
        )
        .1,
        "bad_limit"
    );
    assert_eq!(
        api_error(node.patient_bills_page(
            patient,
            &ListQuery { limit: Some(1_001), ..ListQuery::default() }
        ))
        .1,
        "bad_limit"
    );
    assert_eq!(
        api_error(node.patient_bills_page(
            patient,
            &ListQuery { status: Some("paid".into()), ..ListQuery::default() }
        ))
        .1,
        "bad_status"
    );

    // The patient claims 60.00 of bill 1, then 25.00 more; the payer settles the second and
    // rejects the first.
    let patient_claim = |f: &mut TxFactory, n: u64, payer: &MemberId, amount: u64| {
        let submission = claim(claim_id(n), payer, patient, &[(bill_id(1), amount)]);
        f.sign(&patient_key, Payload::SubmitClaim { claim: submission, consent: None })
    };
    let first = patient_claim(&mut f, 1, &ss, 6_000);
    assert_eq!(outcome(&nodes[2], &first), "accepted");
    let second = patient_claim(&mut f, 2, &ss, 2_500);
    assert_eq!(outcome(&nodes[2], &second), "accepted");
    assert_eq!(node.claim(claim_id(1)).unwrap().status.name(), "locked");

    // Validator 1 (serving the payer's stream) is killed and restarted while claims settle.
    net.kill9(1);
    let reject = f.sign(
        &payer,
        Payload::RejectClaim { claim_id: claim_id(1), reason: Text::new("not covered").unwrap() },
    );
    assert_eq!(outcome(node, &reject), "accepted");
    let settle = f.sign(
        &payer,
        Payload::SettleClaim {
            claim_id: claim_id(2),
            approved: vec![Fen(2_500)],
            payment_reference: Text::new("PAY-2").unwrap(),
        },
    );
    assert_eq!(outcome(node, &settle), "accepted");
    net.start(1);

    // Ledger rejections pass through with their codes: over-claim, duplicate, unauthorised.
    let over = patient_claim(&mut f, 3, &ss, 7_501);
    assert_eq!(outcome(node, &over), "over_claim");
    let duplicate = patient_claim(&mut f, 2, &ss, 100);
    assert_eq!(outcome(node, &duplicate), "duplicate_claim");
    let impostor = f.sign(
        &hospital,
        Payload::SettleClaim {
            claim_id: claim_id(2),
            approved: vec![Fen(1)],
            payment_reference: Text::new("X").unwrap(),
        },
    );
    let refused = outcome(node, &impostor);
    assert!(["not_authorized", "not_claim_payer"].contains(&refused.as_str()), "{refused}");
    // The same transaction again gets its receipt back, not a second execution.
    assert_eq!(node.submit(&settle).unwrap().status, "committed");

    // Claims by payer, filtered by status.
    let settled = node
        .payer_claims(&ss, &ListQuery { status: Some("settled".into()), ..ListQuery::default() })
        .unwrap();
    assert_eq!(settled.items.len(), 1);
    assert_eq!(settled.items[0].submission.claim_id, claim_id(2));
    let rejected = node
        .payer_claims(&ss, &ListQuery { status: Some("rejected".into()), ..ListQuery::default() })
        .unwrap();
    assert_eq!(rejected.items[0].submission.claim_id, claim_id(1));
    let claimed = node.bill(bill_id(1)).unwrap();
    assert_eq!((claimed.reserved, claimed.reimbursed), (Fen::ZERO, Fen(2_500)));

    // The explorer saw the story in order, each block's events closed by its block event.
    let all = all_stream.recv_timeout(Duration::from_secs(60)).expect("explorer stream");
    let kinds: Vec<&str> = all.iter().map(|e| e.event.kind()).collect();
    for kind in ["bills_issued", "claim_submitted", "claim_rejected", "claim_settled", "block"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    let positions: Vec<(u64, u32)> = all.iter().map(|e| (e.height, e.index)).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "strictly ordered, no repeats");
    let heights: BTreeSet<u64> = all.iter().map(|e| e.height).collect();
    let blocks = all.iter().filter(|e| e.event.kind() == "block").count();
    assert!(blocks + 1 >= heights.len(), "every block but the last is closed by its block event");

    // The payer's stream lived through its node's restart and missed nothing.
    let payer_seen = payer_stream.recv_timeout(Duration::from_secs(90)).expect("payer stream");
    let payer_kinds: Vec<&str> = payer_seen.iter().map(|e| e.event.kind()).collect();
    assert_eq!(
        payer_kinds,
        ["claim_submitted", "claim_submitted", "claim_settled"],
        "the payer saw each of its claim events once, across the restart"
    );

    // Resume after a given event: the next event is the one that followed it.
    let submitted = all.iter().find(|e| e.event.kind() == "claim_submitted").unwrap();
    let position = all.iter().position(|e| e.id == submitted.id).unwrap();
    let mut resumed = node.events(EventFilter::default()).resume_after(submitted.id.clone());
    assert_eq!(resumed.next().unwrap().unwrap(), all[position + 1]);
    // A filter on a patient shows only that patient's bills.
    let other = patients[1].0;
    let mut for_other = node.events(EventFilter {
        patient: Some(other),
        from_height: Some(1),
        types: Some("bills_issued".into()),
        ..EventFilter::default()
    });
    let blank_node = client(net.apis[2]);
    let filler = f.sign(&hospital, net.issue(vec![bill(bill_id(99), other, 100, 0)]));
    assert_eq!(outcome(&blank_node, &filler), "accepted");
    match for_other.next().unwrap().unwrap().event {
        Event::BillsIssued { bills, .. } => {
            assert_eq!(bills.len(), 1, "only the other patient's bill");
            assert_eq!(bills[0].id, bill_id(99));
        }
        other => panic!("expected bills_issued, got {other:?}"),
    }
    assert_eq!(
        api_error(
            node.events(EventFilter { types: Some("gossip".into()), ..EventFilter::default() })
                .next()
                .unwrap()
        ),
        (400, "bad_event_type".to_string())
    );

    // Every error is JSON with a stable code: envelope errors refused at admission…
    let mut wrong_chain = TxFactory::new(ChainId::new("another-chain").unwrap(), 1_000_000);
    let foreign = wrong_chain.sign(&hospital, net.issue(vec![bill(bill_id(98), patient, 1, 0)]));
    assert_eq!(api_error(node.submit(&foreign)), (400, "wrong_chain_id".to_string()));
    assert_eq!(api_error(node.submit_json("{not json")), (400, "malformed_json".to_string()));
    // …an oversized body is a 413 with a JSON body…
    assert_eq!(
        api_error(node.submit_bytes(&vec![0u8; 3 * 1024 * 1024])),
        (413, "body_too_large".to_string())
    );
    // …unknown routes, wrong methods, bad path segments and bad queries too.
    assert_eq!(api_error(node.get_value("/v2/nothing")), (404, "unknown_route".to_string()));
    let (status, body) =
        raw(net.apis[0], "DELETE /v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!((status, body["code"].as_str()), (405, Some("method_not_allowed")));
    assert_eq!(api_error(node.get_value("/v1/blocks/minus-one")), (400, "bad_height".to_string()));
    assert_eq!(
        api_error(node.get_value("/v1/blocks/999999999")),
        (404, "unknown_block".to_string())
    );
    assert_eq!(api_error(node.get_value("/v1/claims/ff")).1, "bad_claim_id");
    assert_eq!(api_error(node.get_value("/v1/payers/bad%20id/claims")).1, "bad_member_id");
    assert_eq!(api_error(node.get_value("/v1/patients/xyz/bills")).1, "bad_pseudonym");
    assert_eq!(
        api_error(node.get_value("/v1/payers/social-security/claims?limit=x")).1,
        "bad_query"
    );
    assert_eq!(
        api_error(node.get_value(&format!(
            "/v1/txs/{}",
            f.sign(&hospital, Payload::FreezeMember { member: ss.clone() }).id()
        ))),
        (404, "unknown_transaction".to_string())
    );

    // A client over its rate is told to slow down, with a JSON body and Retry-After.
    let limited = &nodes[3];
    let started = Instant::now();
    // 60 requests at once from 6 threads: at 20 a second with bursts of 20, most are refused
    // however slow each request is on a loaded machine.
    let answers: Vec<Result<_, _>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..6)
            .map(|_| scope.spawn(|| (0..10).map(|_| limited.status()).collect::<Vec<_>>()))
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    });
    let refused = answers.iter().filter(|a| matches!(a, Err(ClientError::Api { status: 429, error }) if error.code == "rate_limited")).count();
    assert!(refused > 0 && refused < 60, "{refused} of 60 refused in {:?}", started.elapsed());
    std::thread::sleep(Duration::from_millis(1_100));
    assert!(limited.status().is_ok(), "the limit refills");

    // The OpenAPI document is well formed and lists exactly the routes the node serves, and
    // what the node answers matches the schemas it documents, errors included.
    let document = check_openapi(net.apis[0]);
    requests_the_document_allows_are_served(
        net.apis[0],
        &document,
        &net.member_key("social-security"),
    );
    let claim_hex = |n: u64| claim_id(n).to_string();
    let calls = [
        ("GET", "/v1/status".to_string(), "/v1/status", 200),
        ("GET", format!("/v1/txs/{}", settle.id()), "/v1/txs/{id}", 200),
        ("GET", format!("/v1/txs/{}", "ab".repeat(32)), "/v1/txs/{id}", 404),
        ("GET", "/v1/txs/zz".into(), "/v1/txs/{id}", 400),
        ("GET", format!("/v1/blocks/{}", committed.height), "/v1/blocks/{height}", 200),
        ("GET", "/v1/blocks/x".into(), "/v1/blocks/{height}", 400),
        (
            "GET",
            format!("/v1/blocks/{}/transactions", committed.height),
            "/v1/blocks/{height}/transactions",
            200,
        ),
        ("GET", "/v1/blocks/0/transactions".into(), "/v1/blocks/{height}/transactions", 404),
        (
            "GET",
            "/v1/blocks/999999999/transactions".into(),
            "/v1/blocks/{height}/transactions",
            404,
        ),
        ("GET", "/v1/blocks/x/transactions".into(), "/v1/blocks/{height}/transactions", 400),
        ("GET", format!("/v1/bills/{}", bill_id(1)), "/v1/bills/{code}/{number}", 200),
        ("GET", format!("/v1/bills/{}", bill_id(12_345)), "/v1/bills/{code}/{number}", 404),
        (
            "GET",
            format!("/v1/patients/{patient}/bills?limit=3"),
            "/v1/patients/{pseudonym}/bills",
            200,
        ),
        ("GET", format!("/v1/claims/{}", claim_hex(1)), "/v1/claims/{id}", 200),
        ("GET", format!("/v1/claims/{}", claim_hex(2)), "/v1/claims/{id}", 200),
        ("GET", format!("/v1/claims/{}", claim_hex(3)), "/v1/claims/{id}", 404),
        ("GET", "/v1/payers/social-security/claims".into(), "/v1/payers/{member}/claims", 200),
        ("GET", "/v1/payers/social-security/policy".into(), "/v1/payers/{member}/policy", 404),
        ("GET", "/v1/payers/bad%20id/policy".into(), "/v1/payers/{member}/policy", 400),
        ("GET", "/v1/members".into(), "/v1/members", 200),
        ("GET", format!("/v1/patients/{patient}"), "/v1/patients/{pseudonym}", 200),
        ("GET", format!("/v1/patients/{}", "ab".repeat(16)), "/v1/patients/{pseudonym}", 404),
        ("GET", format!("/v1/bills/{}/body", bill_id(1)), "/v1/bills/{code}/{number}/body", 401),
        (
            "GET",
            "/v1/payers/social-security/claims?limit=0".into(),
            "/v1/payers/{member}/claims",
            400,
        ),
    ];
    for (method, path, template, expected) in calls {
        let (status, body) = raw(
            net.apis[0],
            &format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        );
        assert_eq!(status, expected, "{method} {path}: {body}");
        document.check(method, template, status, &body);
    }
    // A block's transactions: the issuance committed above, at its index, with its receipt, the
    // same on every node.
    let validator_key = net.validator_key(0);
    let first = node.block_transactions_whole(committed.height, &validator_key).unwrap();
    let index = usize::try_from(committed.index).unwrap();
    assert_eq!(first.height, committed.height);
    assert_eq!(first.txs.len(), first.receipts.len());
    assert_eq!(first.txs[index], issue);
    assert_eq!(first.receipts[index], committed.receipt);
    assert!(!first.redacted);
    // Unsigned, the sealed bodies are emptied (the signed body read is the only way to them);
    // signed by a member that is not a validator, refused.
    let public = node.block_transactions(committed.height).unwrap();
    assert!(public.redacted);
    let medledger_types::Payload::IssueBills { bodies, .. } = &public.txs[index].body().payload
    else {
        panic!("the issuance")
    };
    assert!(bodies.iter().all(|b| b.ciphertext.is_empty() && b.wraps.is_empty()), "{bodies:?}");
    assert_eq!(public.receipts, first.receipts);
    let refused = node.block_transactions_whole(committed.height, &hospital).unwrap_err();
    assert!(
        matches!(&refused, ClientError::Api { status: 403, error } if error.code == "not_a_validator"),
        "{refused}"
    );
    for api in &net.apis[1..] {
        let client = Client::new(&format!("http://{api}")).unwrap();
        wait_until("the node executes the block", Duration::from_secs(30), || {
            client.status().is_ok_and(|s| s.height >= committed.height)
        });
        let same = client.block_transactions_whole(committed.height, &validator_key).unwrap();
        assert_eq!(same, first, "every node serves the same block");
    }
    // A signed read of a private body: the patient gets the sealed body, another patient not.
    let sealed = node.bill_body(bill_id(1), &patient_key).unwrap();
    assert_eq!(sealed.entitlement, "patient");
    document.check(
        "GET",
        "/v1/bills/{code}/{number}/body",
        200,
        &serde_json::to_value(&sealed).unwrap(),
    );
    let refused = node.bill_body(bill_id(1), &patients[1].1).unwrap_err();
    let medledger_client::ClientError::Api { status, error } = refused else { panic!("{refused}") };
    assert_eq!((status, error.code.as_str()), (403, "not_entitled"));
    document.check(
        "GET",
        "/v1/bills/{code}/{number}/body",
        403,
        &serde_json::to_value(&error).unwrap(),
    );
    // Signed requests that do not hold: each is a 401 with its own code.
    let body_path = format!("/v1/bills/{}/body", bill_id(1));
    let now = u64::try_from(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis(),
    )
    .unwrap();
    let sign_at = |time: u64, path: &str| {
        let message =
            medledger_types::api::request_message("GET", path, time, &ChainId::new(CHAIN).unwrap());
        let signature = patient_key.sign(medledger_crypto::Namespace::ApiRequest, &message);
        medledger_crypto::encode_hex(signature.as_bytes())
    };
    let key = patient_key.public_key().to_hex();
    for (time, signature, code) in [
        (None, None, "unauthenticated"),
        (Some("soon".to_string()), Some(sign_at(now, &body_path)), "bad_request_time"),
        (
            Some((now - 600_000).to_string()),
            Some(sign_at(now - 600_000, &body_path)),
            "stale_request",
        ),
        (Some(now.to_string()), Some(sign_at(now, "/v1/other")), "bad_request_signature"),
        (Some(now.to_string()), Some("zz".to_string()), "bad_request_signature"),
    ] {
        let mut headers = format!("x-medledger-key: {key}\r\n");
        if let Some(time) = time {
            headers += &format!("x-medledger-time: {time}\r\n");
        }
        if let Some(signature) = signature {
            headers += &format!("x-medledger-signature: {signature}\r\n");
        }
        let (status, body) = raw(
            net.apis[0],
            &format!("GET {body_path} HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n"),
        );
        assert_eq!((status, body["code"].as_str()), (401, Some(code)), "{body}");
        document.check("GET", "/v1/bills/{code}/{number}/body", 401, &body);
    }
    // A submission's answers: committed (200), malformed (400), unknown signer (403).
    let submitted = serde_json::to_value(node.submit(&settle).unwrap()).unwrap();
    document.check("POST", "/v1/txs", 200, &submitted);
    for (answer, status) in [
        (node.submit_json("{"), 400),
        (
            node.submit(&f.sign(
                &medledger_crypto::SigningKey::generate(),
                Payload::FreezeMember { member: ss.clone() },
            )),
            403,
        ),
    ] {
        let Err(ClientError::Api { status: got, error }) = answer else { panic!("{answer:?}") };
        assert_eq!(got, status);
        document.check("POST", "/v1/txs", status, &serde_json::to_value(error).unwrap());
    }

    // Batches (`POST /v1/txs/batch`): up to 1,000 transactions in one request, each checked as
    // by `POST /v1/txs`. Claims of a patient and issuances of a hospital, in one binary request
    // through the SDK: all pending, then all committed and accepted.
    let claim_on = |f: &mut TxFactory, n: u64, bill_number: u64, amount: u64| {
        let submission = claim(claim_id(n), &ss, patient, &[(bill_id(bill_number), amount)]);
        f.sign(&patient_key, Payload::SubmitClaim { claim: submission, consent: None })
    };
    let issue_one = |f: &mut TxFactory, n: u64| {
        f.sign(&hospital, net.issue(vec![bill(bill_id(n), patient, 5_000, 0)]))
    };
    let batch = vec![
        claim_on(&mut f, 10, 3, 1_000),
        claim_on(&mut f, 11, 4, 2_000),
        claim_on(&mut f, 12, 5, 3_000),
        issue_one(&mut f, 201),
        issue_one(&mut f, 202),
    ];
    let ids_of = |txs: &[Transaction]| txs.iter().map(Transaction::id).collect::<Vec<TxId>>();
    let answer = node.submit_batch(&batch).unwrap();
    document.check("POST", "/v1/txs/batch", 200, &serde_json::to_value(&answer).unwrap());
    assert_eq!((answer.pending, answer.committed, answer.refused), (5, 0, 0), "{answer:?}");
    assert_eq!(answer.results.iter().map(|r| r.tx_id).collect::<Vec<_>>(), ids_of(&batch));
    assert!(
        answer
            .results
            .iter()
            .all(|r| r.status == "pending" && r.committed.is_none() && r.error.is_none()),
        "{answer:?}"
    );
    for tx in &batch {
        let committed = node.wait(tx.id(), Duration::from_secs(60)).unwrap();
        assert_eq!(committed.receipt.outcome.code(), "accepted", "{}", tx.id());
    }
    for (n, amount) in [(10, 1_000), (11, 2_000), (12, 3_000)] {
        let filed = node.claim(claim_id(n)).unwrap();
        assert_eq!(filed.status.name(), "locked");
        assert_eq!(filed.submission.items[0].amount, Fen(amount));
    }
    assert_eq!(node.bill(bill_id(3)).unwrap().reserved, Fen(1_000));
    assert_eq!(node.bill(bill_id(202)).unwrap().issue.amounts.patient_pay, Fen(5_000));

    // One refused transaction does not refuse the others: a valid claim, a claim whose
    // signature does not verify, a claim for another chain and a transaction committed long
    // ago (answered with its receipt) in one batch.
    let valid = claim_on(&mut f, 13, 6, 1_000);
    let forged = {
        let submission = claim(claim_id(14), &ss, patient, &[(bill_id(7), 1_000)]);
        let body = f.body(&patient_key, Payload::SubmitClaim { claim: submission, consent: None });
        let signature = patient_key.sign(medledger_crypto::Namespace::Transaction, b"another body");
        Transaction::from_parts(body, signature)
    };
    let elsewhere = {
        let submission = claim(claim_id(15), &ss, patient, &[(bill_id(8), 1_000)]);
        wrong_chain.sign(&patient_key, Payload::SubmitClaim { claim: submission, consent: None })
    };
    let mixed = [valid.clone(), forged.clone(), elsewhere.clone(), settle.clone()];
    let answer = node.submit_batch(&mixed).unwrap();
    document.check("POST", "/v1/txs/batch", 200, &serde_json::to_value(&answer).unwrap());
    assert_eq!((answer.pending, answer.committed, answer.refused), (1, 1, 2), "{answer:?}");
    assert_eq!(answer.results.iter().map(|r| r.tx_id).collect::<Vec<_>>(), ids_of(&mixed));
    let outcomes: Vec<(&str, Option<&str>)> = answer
        .results
        .iter()
        .map(|r| (r.status.as_str(), r.error.as_ref().map(|e| e.code.as_str())))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("pending", None),
            ("refused", Some("bad_signature")),
            ("refused", Some("wrong_chain_id")),
            ("committed", None),
        ]
    );
    assert!(answer.results[..3].iter().all(|r| r.committed.is_none()));
    let first_receipt = node.tx(settle.id()).unwrap().committed.expect("settle committed");
    assert_eq!(answer.results[3].committed.as_ref(), Some(&first_receipt), "its first receipt");
    // Each refusal is the one `POST /v1/txs` gives for that transaction alone.
    for (i, tx) in [(1, &forged), (2, &elsewhere)] {
        let Err(ClientError::Api { status, error }) = node.submit(tx) else {
            panic!("{} admitted alone", tx.id())
        };
        assert_eq!(status, 400);
        assert_eq!(answer.results[i].error.as_ref(), Some(&error));
    }
    let valid_at = node.wait(valid.id(), Duration::from_secs(60)).unwrap();
    assert_eq!(valid_at.receipt.outcome.code(), "accepted");
    // Once every validator has executed that block, the refused ones are nowhere: neither
    // committed nor pending, and their claims were never filed.
    wait_until("every validator executes the batch's block", Duration::from_secs(60), || {
        net.apis.iter().all(|api| height(*api).is_some_and(|h| h >= valid_at.height))
    });
    for api in &net.apis {
        let there = client(*api);
        for tx in [&forged, &elsewhere] {
            assert_eq!(api_error(there.tx(tx.id())), (404, "unknown_transaction".to_string()));
        }
        for n in [14, 15] {
            assert_eq!(api_error(there.claim(claim_id(n))), (404, "unknown_claim".to_string()));
        }
        assert_eq!(there.claim(claim_id(13)).unwrap().status.name(), "locked");
    }
    assert_eq!(node.bill(bill_id(7)).unwrap().reserved, Fen::ZERO, "nothing reserved");
    assert_eq!(node.tx(settle.id()).unwrap().committed, Some(first_receipt), "not run twice");

    // A JSON batch (an array of transactions) is read the same way.
    let json_batch = [claim_on(&mut f, 16, 9, 1_000), issue_one(&mut f, 203), issue.clone()];
    let (status, body) = raw_post(
        net.apis[0],
        "/v1/txs/batch",
        "application/json",
        serde_json::to_string(&json_batch).unwrap().as_bytes(),
    );
    assert_eq!(status, 200, "{body}");
    document.check("POST", "/v1/txs/batch", 200, &body);
    let answer: medledger_types::api::BatchStatus = serde_json::from_value(body).unwrap();
    assert_eq!((answer.pending, answer.committed, answer.refused), (2, 1, 0), "{answer:?}");
    assert_eq!(answer.results.iter().map(|r| r.tx_id).collect::<Vec<_>>(), ids_of(&json_batch));
    assert_eq!(
        answer.results.iter().map(|r| r.status.as_str()).collect::<Vec<_>>(),
        ["pending", "pending", "committed"]
    );
    assert_eq!(answer.results[2].committed.as_ref().map(|c| c.height), Some(committed.height));
    for tx in &json_batch[..2] {
        let done = node.wait(tx.id(), Duration::from_secs(60)).unwrap();
        assert_eq!(done.receipt.outcome.code(), "accepted", "{}", tx.id());
    }
    assert_eq!(node.claim(claim_id(16)).unwrap().status.name(), "locked");

    // Batches that cannot be taken: empty, over 1,000, unreadable. Each is JSON with its code,
    // as documented.
    assert_eq!(api_error(node.submit_batch(&[])), (400, "empty_batch".to_string()));
    let mut with_trailing_byte = vec![1u8];
    with_trailing_byte.extend_from_slice(&medledger_types::Encode::encode(&valid));
    with_trailing_byte.push(0);
    let too_many = serde_json::to_string(&vec![&valid; 1_001]).unwrap();
    let octets = "application/octet-stream";
    let refusals: [(&str, &[u8], u16, &str); 10] = [
        (octets, &[0], 400, "empty_batch"),
        ("application/json", b"[]", 400, "empty_batch"),
        // A varint count of 1,001 and nothing after it: refused for its count alone.
        (octets, &[0xE9, 0x07], 413, "batch_too_large"),
        ("application/json", too_many.as_bytes(), 413, "batch_too_large"),
        (octets, &[0xFF; 16], 400, "malformed_batch"),
        (octets, b"\x02garbage", 400, "malformed_batch"),
        (octets, &with_trailing_byte, 400, "malformed_batch"),
        (octets, b"", 400, "malformed_batch"),
        ("application/json", b"{not json", 400, "malformed_json"),
        ("application/json", br#"[{"body": 1}]"#, 400, "malformed_json"),
    ];
    for (content_type, body, status, code) in refusals {
        let (got, answer) = raw_post(net.apis[0], "/v1/txs/batch", content_type, body);
        assert_eq!((got, answer["code"].as_str()), (status, Some(code)), "{body:?}: {answer}");
        document.check("POST", "/v1/txs/batch", status, &answer);
    }

    // Every event the explorer saw matches the documented envelope.
    for envelope in &all {
        document.check_schema("EventEnvelope", &serde_json::to_value(envelope).unwrap());
    }

    // A payer registers a policy: it is served as documented, and adjudicates the next claim,
    // which settles in the block that accepts it.
    let tai = MemberId::new("tai-insurance").unwrap();
    let hospitals = [MemberId::new("city-central-hospital").unwrap()];
    let policy = medledger_testkit::sample_policy(&tai, &hospitals);
    let register = Payload::RegisterPolicy { policy: policy.clone() };
    assert_eq!(outcome(node, &f.sign(&net.member_key("tai-insurance"), register)), "accepted");
    let get = |path: &str| {
        raw(net.apis[0], &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
    };
    let (status, body) = get("/v1/payers/tai-insurance/policy");
    assert_eq!(status, 200, "{body}");
    document.check("GET", "/v1/payers/{member}/policy", 200, &body);
    assert_eq!(node.policy(&tai).unwrap(), Some(policy));
    assert_eq!(node.policy(&MemberId::new("ping-health").unwrap()).unwrap(), None);
    let asked = claim(claim_id(40), &tai, patient, &[(bill_id(20), 9_700)]);
    let asked = f.sign(&patient_key, Payload::SubmitClaim { claim: asked, consent: None });
    let committed = node.submit_and_wait(&asked).unwrap();
    // No categories on the bill: it counts as `other`, 50 %, after the 10.00 deductible.
    assert_eq!(
        committed.receipt.outcome,
        medledger_types::Outcome::Accepted(medledger_types::Effect::ClaimAutoSettled {
            claim_id: claim_id(40),
            requested: Fen(9_700),
            approved: vec![Fen(4_350)],
            paid: Fen(4_350),
        })
    );
    let (status, body) = get(&format!("/v1/claims/{}", claim_hex(40)));
    assert_eq!(status, 200, "{body}");
    document.check("GET", "/v1/claims/{id}", 200, &body);
    assert_eq!(body["status"]["height"], committed.height, "settled in the block that accepted it");
    assert_eq!(body["submitted_height"], committed.height);
    assert_eq!(body["adjudication"]["total"]["deductible"], 1_000, "{body}");
    assert_eq!(body["adjudication"]["auto_approved"], true);

    // A stream filtered down to rare events still moves its resume point with every block:
    // id-only messages (no data, so no event for the client) follow the filtered blocks.
    let settled_at = all.iter().find(|e| e.event.kind() == "claim_settled").unwrap().height;
    let sse = raw_stream(
        net.apis[0],
        &format!("/v1/events?types=claim_settled&from_height={settled_at}"),
        Duration::from_millis(1_500),
    );
    let ids: Vec<(u64, bool)> = sse
        .split("\n\n")
        .filter_map(|message| {
            let id = message.lines().find_map(|l| l.strip_prefix("id: "))?;
            let height = id.split(':').next()?.parse().ok()?;
            Some((height, message.contains("data:")))
        })
        .collect();
    assert_eq!(ids.first().map(|(h, data)| (*h, *data)), Some((settled_at, true)), "{sse}");
    assert!(ids.iter().any(|(h, data)| *h > settled_at && !data), "id-only messages: {sse}");

    // Operators' endpoints. The metrics pass `promtool check metrics` (documented, named by
    // Prometheus' conventions) and include the ledger's histograms and labelled counters.
    let metrics = node.metrics().unwrap();
    assert!(metrics.contains("medledger_height "), "{metrics}");
    for series in [
        "medledger_submit_to_commit_seconds_bucket",
        "medledger_block_execution_seconds_count",
        "medledger_propose_to_commit_seconds_sum",
        "medledger_txs_rejected_by_code_total{code=\"over_claim\"}",
        "medledger_api_requests_total{route=\"/v1/txs\",method=\"POST\",status=\"200\"}",
        "medledger_api_request_duration_seconds_count{route=\"/v1/bills/{code}/{number}\"}",
        "medledger_state_items{kind=\"bills\"}",
    ] {
        assert!(metrics.contains(series), "{series} in /metrics:\n{metrics}");
    }
    assert_eq!(promtool_problems(&metrics), "", "promtool check metrics");
    let (status, _) =
        raw(net.apis[0], "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(status, 200);
    assert!(node.status().is_ok(), "the node still answers after all of it");

    // Connections are bounded: one client address holds at most 64 of a node's 1,024
    // connections (more are answered 429 `too_many_connections` and closed at once), and a
    // connection that sends no request head is closed after 10 s, so the node serves others
    // again.
    use std::io::Read as _;
    let idle: Vec<std::net::TcpStream> =
        (0..260).map(|_| std::net::TcpStream::connect(net.apis[2]).unwrap()).collect();
    let closed_at_once = idle[250..]
        .iter()
        .filter(|c| {
            let mut c = *c;
            c.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
            let mut answer = [0u8; 512];
            let n = c.read(&mut answer).unwrap_or(0);
            let answer = String::from_utf8_lossy(&answer[..n]);
            answer.starts_with("HTTP/1.1 429") && answer.contains("too_many_connections")
        })
        .count();
    assert_eq!(closed_at_once, 10, "of the connections past 64, {closed_at_once} were refused");
    let started = Instant::now();
    let mut first = &idle[0];
    first.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    assert_eq!(first.read(&mut [0u8; 1]).unwrap_or(0), 0, "an idle connection is closed");
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(15), "closed after {waited:?}");
    drop(idle);
    wait_until("the node serves again", Duration::from_secs(10), || {
        client(net.apis[2]).status().is_ok()
    });
}

/// Reads a server-sent event stream for `duration` and returns what arrived.
fn raw_stream(addr: std::net::SocketAddr, path: &str, duration: Duration) -> String {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
    stream.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let started = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while started.elapsed() < duration {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every `$ref` in `value`.
/// What `promtool check metrics` says of `text` (empty: no problem). Fails if promtool is not
/// installed (`scripts/test` installs it).
fn promtool_problems(text: &str) -> String {
    use std::io::Write as _;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus; scripts/test installs it)");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let said =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.success() { String::new() } else { said }
}

/// Requests at the edges of what the document allows (found by generating requests from it):
/// one it allows is never refused as malformed, one it forbids is always refused with a 4xx,
/// so the document and the node cannot drift apart on them again.
fn requests_the_document_allows_are_served(
    addr: std::net::SocketAddr,
    document: &Document,
    payer_key: &medledger_types::SigningKey,
) {
    let allows = |schema: &serde_json::Value, value: &serde_json::Value| {
        document.schemas.validate(schema, value).is_ok()
    };
    let body_schema = |path: &str, content_type: &str| {
        document.json["paths"][path]["post"]["requestBody"]["content"][content_type]["schema"]
            .clone()
    };
    let expect = |what: &str, allowed: bool, (status, body): (u16, serde_json::Value)| {
        if allowed {
            assert!(
                status != 400 && status != 422,
                "{what}: allowed by the document, refused: {status} {body}"
            );
        } else {
            assert!(
                (400..500).contains(&status),
                "{what}: forbidden by the document, answered {status} {body}"
            );
        }
    };

    // An empty batch: the document says at least one transaction, the node refuses it.
    let batch = body_schema("/v1/txs/batch", "application/json");
    assert!(!allows(&batch, &serde_json::json!([])), "the batch schema has minItems: {batch}");
    expect(
        "POST /v1/txs/batch []",
        false,
        raw_post(addr, "/v1/txs/batch", "application/json", b"[]"),
    );

    // An empty filter: `payer=` is not a member id, in the document and at the node.
    let events = &document.json["paths"]["/v1/events"]["get"]["parameters"];
    let payer = events.as_array().unwrap().iter().find(|p| p["name"] == "payer").unwrap();
    let allowed = allows(&payer["schema"], &serde_json::json!(""));
    expect(
        "GET /v1/events?payer=",
        allowed,
        raw(addr, "GET /v1/events?payer= HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    );
    assert!(!allowed, "an empty payer is documented as refused");

    // Amounts: the document's bound on money is the node's, at both sides of it.
    let encode = body_schema("/v1/txs/encode", "application/json");
    let mut policy = medledger_testkit::sample_policy(
        &MemberId::new("social-security").unwrap(),
        &[MemberId::new("city-central-hospital").unwrap()],
    );
    policy.yearly_cap = Fen(u64::MAX);
    let mut f = TxFactory::new(ChainId::new(CHAIN).unwrap(), 1_000);
    let tx = f.sign(payer_key, Payload::RegisterPolicy { policy });
    let body = serde_json::to_value(tx.body()).unwrap();
    assert!(allows(&encode, &body), "a yearly cap of 2^64 - 1 fen is allowed");
    let text = serde_json::to_string(&body).unwrap();
    expect(
        "encode, yearly_cap 2^64 - 1",
        true,
        raw_post(addr, "/v1/txs/encode", "application/json", text.as_bytes()),
    );
    let over = text.replace(&u64::MAX.to_string(), "18446744073709551616");
    let over_value: serde_json::Value = serde_json::from_str(&over).unwrap();
    expect(
        "encode, yearly_cap 2^64",
        allows(&encode, &over_value),
        raw_post(addr, "/v1/txs/encode", "application/json", over.as_bytes()),
    );

    // A receipt check with no receipt is refused, as the document's required body says.
    let verify = &document.json["paths"]["/v1/receipts/verify"]["post"]["requestBody"];
    assert_eq!(verify["required"], true, "{verify}");
    expect(
        "POST /v1/receipts/verify, no body",
        false,
        raw_post(addr, "/v1/receipts/verify", "text/plain", b""),
    );
}

fn refs<'a>(value: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    match value {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::String(r)) = map.get("$ref") {
                out.push(r);
            }
            map.values().for_each(|v| refs(v, out));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

/// The served OpenAPI document, to check answers against.
struct Document {
    json: serde_json::Value,
    schemas: Registry,
}

impl Document {
    /// `body` matches the schema documented for `status` of `method path`.
    fn check(&self, method: &str, path: &str, status: u16, body: &serde_json::Value) {
        let operation = &self.json["paths"][path][method.to_lowercase()];
        let response = &operation["responses"][status.to_string()];
        assert!(response.is_object(), "{method} {path} documents status {status}");
        let schema = &response["content"]["application/json"]["schema"];
        if let Err(errors) = self.schemas.validate(schema, body) {
            panic!(
                "{method} {path} {status}: the answer does not match the document:\n{}\n{body:#}",
                errors.join("\n")
            );
        }
    }

    /// `value` matches the component schema `name`.
    fn check_schema(&self, name: &str, value: &serde_json::Value) {
        let schema = serde_json::json!({ "$ref": format!("#/components/schemas/{name}") });
        if let Err(errors) = self.schemas.validate(&schema, value) {
            panic!("{name}: does not match the document:\n{}\n{value:#}", errors.join("\n"));
        }
    }
}

/// Checks the served document's structure, then that every documented route is served (a
/// request to it is never `unknown_route` or 405) and that routes it does not document are not.
fn check_openapi(addr: std::net::SocketAddr) -> Document {
    let get = |path: &str| {
        raw(addr, &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
    };
    let (status, doc) = get("/openapi.json");
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "OpenAPI 3.1");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let schemas = doc["components"]["schemas"].as_object().expect("components.schemas");
    let mut all_refs = Vec::new();
    refs(&doc, &mut all_refs);
    for r in &all_refs {
        let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("{r}"));
        assert!(schemas.contains_key(name), "$ref {r} resolves");
    }
    let mut operation_ids = BTreeSet::new();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            documented.insert((method.to_uppercase(), path.clone()));
            let id = operation["operationId"].as_str().expect("operationId");
            assert!(operation_ids.insert(id.to_string()), "operationId {id} is unique");
            assert!(!operation["responses"].as_object().unwrap().is_empty(), "{id}: responses");
            let params = operation["parameters"].as_array().cloned().unwrap_or_default();
            for segment in path.split('/').filter(|s| s.starts_with('{')) {
                let name = segment.trim_matches(['{', '}']);
                assert!(
                    params
                        .iter()
                        .any(|p| p["name"] == name && p["in"] == "path" && p["required"] == true),
                    "{id}: path parameter {name} declared"
                );
            }
        }
    }
    let expected: BTreeSet<(String, String)> = [
        ("GET", "/healthz"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
        ("GET", "/v1/status"),
        ("POST", "/v1/txs"),
        ("GET", "/v1/txs/{id}"),
        ("GET", "/v1/blocks/{height}"),
        ("GET", "/v1/blocks/{height}/transactions"),
        ("GET", "/v1/bills/{code}/{number}"),
        ("GET", "/v1/bills/{code}/{number}/proof"),
        ("GET", "/v1/claims/{id}/proof"),
        ("GET", "/v1/patients/{pseudonym}/bills"),
        ("GET", "/v1/claims/{id}"),
        ("GET", "/v1/payers/{member}/claims"),
        ("GET", "/v1/payers/{member}/policy"),
        ("GET", "/v1/events"),
        ("GET", "/v1/members"),
        ("GET", "/v1/patients/{pseudonym}"),
        ("GET", "/v1/bills/{code}/{number}/body"),
        ("POST", "/v1/txs/batch"),
        ("POST", "/v1/txs/encode"),
        ("POST", "/v1/receipts/verify"),
        ("GET", "/v1/hospitals/{member}/ranges"),
        ("GET", "/v1/validators"),
    ]
    .iter()
    .map(|(m, p)| (m.to_string(), p.to_string()))
    .collect();
    assert_eq!(documented, expected, "the document lists the API's routes");
    assert_eq!(documented.len(), 24, "24 routes");
    // Each documented route is served: with placeholder parameters it answers, but never with
    // `unknown_route` or 405.
    for (method, path) in &documented {
        let concrete = path
            .replace("{id}", "00")
            .replace("{height}", "1")
            .replace("{code}", "44010126")
            .replace("{number}", "0000000001")
            .replace("{pseudonym}", "00")
            .replace("{member}", "social-security");
        if concrete == "/v1/events" {
            continue; // a stream: checked through the SDK above
        }
        let (status, body) = raw(
            addr,
            &format!(
                "{method} {concrete} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            ),
        );
        assert!(
            status != 405 && body["code"] != "unknown_route",
            "{method} {path} is served: {status} {body}"
        );
    }
    // A route the document does not list is not served.
    assert_eq!(get("/v1/admin").1["code"], "unknown_route");
    // The portal's endpoints refuse bad input with specific codes and change nothing.
    let (status, body) = raw_post(addr, "/v1/txs/encode", "application/json", b"{\"chain_id\": 1}");
    assert_eq!((status, body["code"].as_str()), (400, Some("malformed_json")), "{body}");
    let (status, body) = raw_post(addr, "/v1/receipts/verify", "text/plain", b"ML1*not a receipt");
    assert_eq!((status, body["code"].as_str()), (400, Some("not_a_receipt")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("ML1*KEY*CHECK*DATA"), "{body}");
    let (status, body) = get("/v1/hospitals/no-such-member/ranges");
    assert_eq!((status, body["code"].as_str()), (404, Some("unknown_member")), "{body}");
    let (status, body) = get("/v1/hospitals/Not%20An%20Id/ranges");
    assert_eq!((status, body["code"].as_str()), (400, Some("bad_member_id")), "{body}");
    let (status, body) = get("/v1/validators");
    assert_eq!(status, 200);
    assert_eq!(body["validators"].as_array().unwrap().len(), 4, "{body}");
    assert_eq!(body["quorum"], 3);
    let schemas = Registry::from_document(&doc);
    assert_eq!(schemas.dangling_refs(&[&doc["paths"]]), Vec::<String>::new());
    Document { json: doc, schemas }
}
