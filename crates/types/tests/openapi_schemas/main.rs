//! The OpenAPI schemas describe the JSON that serde really writes and reads.
//!
//! Real values of every type the HTTP API sends or receives are serialized with serde_json and
//! checked against the generated schemas, with every `$ref` resolved, and read back with serde.
//! Wrong JSON (an amount as a string, an unknown event type, a short signature) must be refused
//! by the schema and by serde alike.
#![cfg(feature = "openapi")]

use medledger_testkit::json_schema::Registry;
use medledger_testkit::{Consortium, bill, claim, claim_id};
use medledger_types::api::{
    ApiError, BlockSummary, Committed, Event, EventEnvelope, EventFilter, IssuedBill, ListQuery,
    Page, Status, TxStatus,
};
use medledger_types::{Adjudication, Lines};
use medledger_types::{
    Bill, BillCode, BillId, BillIssue, BillKind, BillNumber, CategoryAmount, ChainId,
    ChargeCategory, CheckCode, Claim, ClaimId, ClaimStatus, Digest, Effect, Fen, Member, MemberId,
    Outcome, Pseudonym, PublicKey, Receipt, Rejection, Role, Roles, Signature, Text, Transaction,
    TxId,
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Value, json};
use std::fmt::Debug;
use utoipa::ToSchema;

/// Registering utoipa schemas by type.
trait Register {
    /// Registers `T` under its name, and every schema it refers to.
    fn add<T: ToSchema>(&mut self);
    /// Registers only the schemas `T` refers to: for a generic type such as `Page<T>`, whose
    /// name does not depend on `T`, the document names each instance itself.
    fn add_dependencies<T: ToSchema>(&mut self);
}

impl Register for Registry {
    fn add<T: ToSchema>(&mut self) {
        self.insert(T::name().into_owned(), schema_of::<T>());
        self.add_dependencies::<T>();
    }

    fn add_dependencies<T: ToSchema>(&mut self) {
        let mut found = Vec::new();
        T::schemas(&mut found);
        for (name, schema) in found {
            self.insert(name, serde_json::to_value(schema).expect("schemas serialize"));
        }
    }
}

/// Every schema of the API, registered as the node's OpenAPI document registers them.
fn registry() -> Registry {
    let mut registry = Registry::default();
    registry.add::<ApiError>();
    registry.add::<Status>();
    registry.add::<TxStatus>();
    registry.add::<BlockSummary>();
    registry.add::<EventEnvelope>();
    registry.add::<EventFilter>();
    registry.add::<ListQuery>();
    registry.add::<Bill>();
    registry.add::<Claim>();
    registry.add::<Member>();
    registry.add::<Transaction>();
    // `Page<T>` is named `Page` whatever `T` is, so the document names each page itself.
    registry.add_dependencies::<Page<Bill>>();
    registry.add_dependencies::<Page<Claim>>();
    registry
}

fn schema_of<T: ToSchema>() -> Value {
    serde_json::to_value(T::schema()).expect("schemas serialize")
}

/// `value`'s JSON matches `T`'s schema, and serde reads it back to the same value.
fn assert_matches<T>(registry: &Registry, value: &T) -> Value
where
    T: ToSchema + Serialize + DeserializeOwned + PartialEq + Debug,
{
    let json = serde_json::to_value(value).expect("serializes");
    if let Err(errors) = registry.validate(&schema_of::<T>(), &json) {
        panic!("{} does not match its schema:\n{}\n{json:#}", T::name(), errors.join("\n"));
    }
    let back: T = serde_json::from_value(json.clone()).expect("serde reads its own JSON");
    assert_eq!(&back, value);
    json
}

/// `json` is refused by `T`'s schema and by serde.
fn assert_refused<T: ToSchema + DeserializeOwned + Debug>(registry: &Registry, json: Value) {
    assert!(
        registry.validate(&schema_of::<T>(), &json).is_err(),
        "the {} schema accepts {json:#}",
        T::name()
    );
    let parsed = serde_json::from_value::<T>(json.clone());
    assert!(parsed.is_err(), "serde accepts {json:#} as {parsed:?}");
}

/// The demo consortium and one signed transaction of every payload type.
struct Fixture {
    consortium: Consortium,
    transactions: Vec<Transaction>,
}

fn fixture() -> Fixture {
    let (consortium, named) = medledger_testkit::every_payload("medledger-openapi");
    Fixture { consortium, transactions: named.into_iter().map(|(_, tx)| tx).collect() }
}

/// A bill as the ledger records it after issuance at `height`.
fn recorded(issue: BillIssue, issuer: &MemberId, height: u64, kind: BillKind) -> Bill {
    let sealed = matches!(kind, BillKind::Normal).then_some(Digest([5; 32]));
    Bill::issued(issue, issuer, height, 1_790_000_000_000 + height * 1_000, kind, sealed)
}

/// An open bill with categories and claims, a voided bill, and the red bill that voided it.
fn bills(c: &Consortium) -> Vec<Bill> {
    let hospital = &c.hospitals[0].id;
    let patient = c.patients[0].pseudonym;
    let mut open =
        recorded(bill(c.bill_id(0, 2), patient, 3_000, 7_000), hospital, 5, BillKind::Normal);
    open.issue.categories = vec![
        CategoryAmount { category: ChargeCategory::Examination, amount: Fen(4_000) },
        CategoryAmount { category: ChargeCategory::WesternMedicine, amount: Fen(6_000) },
    ];
    open.reserved = Fen(2_000);
    open.reimbursed = Fen(500);
    open.claims = vec![claim_id(1), claim_id(2)];
    let red_id = c.bill_id(0, 3);
    let mut voided =
        recorded(bill(c.bill_id(0, 1), patient, 10_000, 5_000), hospital, 5, BillKind::Normal);
    voided.voided_by = Some(red_id);
    let red = recorded(
        bill(red_id, patient, 10_000, 5_000),
        hospital,
        6,
        BillKind::Red { reverses: voided.id() },
    );
    vec![open, voided, red]
}

/// A claim in every status, filed by the patient or by the payment platform.
fn claims(c: &Consortium) -> Vec<Claim> {
    let submission = claim(
        claim_id(1),
        &c.social_security.id,
        c.patients[0].pseudonym,
        &[(c.bill_id(0, 1), 2_500), (c.bill_id(0, 2), 3_000)],
    );
    let text = |t: &str| Text::new(t).unwrap();
    [
        ClaimStatus::Locked,
        ClaimStatus::Settled {
            approved: vec![Fen(2_500), Fen(1_000)],
            payment_reference: text("SSB-2026-000001"),
            height: 9,
        },
        ClaimStatus::Rejected { reason: text("not covered"), height: 9 },
        ClaimStatus::Withdrawn { height: 9 },
    ]
    .into_iter()
    .enumerate()
    .map(|(i, status)| Claim {
        submission: submission.clone(),
        filed_by: (i % 2 == 0).then(|| c.platform.id.clone()),
        submitted_height: 7,
        // Adjudicated under a policy, as a recommendation or the settlement itself.
        adjudication: (i < 2).then(|| adjudication(i == 1)),
        status,
    })
    .collect()
}

fn adjudication(auto_approved: bool) -> Adjudication {
    let lines = |submitted, eligible, deductible, benefit| Lines {
        submitted: Fen(submitted),
        eligible: Fen(eligible),
        deductible: Fen(deductible),
        benefit: Fen(benefit),
    };
    Adjudication {
        policy_version: 1,
        year: 2026,
        items: vec![lines(2_500, 2_500, 1_000, 1_050), lines(3_000, 3_000, 0, 1_800)],
        total: lines(5_500, 5_500, 1_000, 2_850),
        auto_approved,
    }
}

/// Every effect, and rejections with every kind of field the rejections carry.
fn outcomes(c: &Consortium) -> Vec<Outcome> {
    let bill = c.bill_id(0, 1);
    let member = c.insurers[0].id.clone();
    let effects = vec![
        Effect::RangeAllocated,
        Effect::BillsIssued { count: 2 },
        Effect::BillVoided { bill, red_bill: c.bill_id(0, 3) },
        Effect::ClaimLocked { claim_id: claim_id(1), reserved: Fen(5_500) },
        Effect::ClaimSettled { claim_id: claim_id(1), approved: Fen(3_500) },
        Effect::ClaimAutoSettled {
            claim_id: claim_id(4),
            requested: Fen(5_500),
            approved: vec![Fen(1_050), Fen(1_800)],
            paid: Fen(2_850),
        },
        Effect::PolicyRegistered { payer: c.social_security.id.clone(), version: 2 },
        Effect::PaymentRecorded { claim_id: claim_id(4) },
        Effect::ClaimRejected { claim_id: claim_id(2), released: Fen(1_000) },
        Effect::ClaimWithdrawn { claim_id: claim_id(3), released: Fen(1_000) },
        Effect::PatientRegistered,
        Effect::BodyAccessed { bill },
        Effect::MemberFrozen,
        Effect::MemberUnfrozen,
    ];
    let rejections = vec![
        Rejection::WrongChainId {
            expected: c.chain_id().clone(),
            got: ChainId::new("other-chain").unwrap(),
        },
        Rejection::Expired { expires_at_height: 10, height: 11 },
        Rejection::BadSignature,
        Rejection::SignerFrozen { member: member.clone() },
        Rejection::NotAuthorized {
            action: "settle_claim".to_string(),
            required: "the claim's payer".to_string(),
        },
        Rejection::InvalidRange {
            first: BillNumber::new(9).unwrap(),
            last: BillNumber::new(1).unwrap(),
        },
        Rejection::RangeOverlap {
            bill_code: bill.code,
            first: BillNumber::new(1).unwrap(),
            last: BillNumber::new(10_000_000).unwrap(),
            owner: c.hospitals[0].id.clone(),
        },
        Rejection::AmountTooLarge { bill, max: Fen(1_000_000_000_000) },
        Rejection::UnknownPatient { patient: c.patients[1].pseudonym },
        Rejection::DuplicateClaim { claim_id: claim_id(1) },
        Rejection::TooManyClaims { bill, max: 64 },
        Rejection::OverClaim {
            bill,
            claimable: Fen(10_000),
            reserved: Fen(8_000),
            reimbursed: Fen(0),
            requested: Fen(2_500),
        },
        Rejection::ClaimClosed { claim_id: claim_id(2), status: "rejected".to_string() },
        Rejection::ApprovedCountMismatch { expected: 2, got: 1 },
        Rejection::CannotFreezeSelf,
        Rejection::BodyCountMismatch { bills: 2, bodies: 1 },
        Rejection::MissingBodyWrap { bill, reader: "the patient".to_string() },
        Rejection::DisclosureWrongRecipient { bill, payer: member.clone() },
        Rejection::InvalidPolicy { reason: "coverage lists no category".to_string() },
        Rejection::PolicyVersionNotNext { expected: 2, got: 3 },
        Rejection::ClaimNotSettled { claim_id: claim_id(2), status: "locked".to_string() },
        Rejection::PaymentAlreadyRecorded { claim_id: claim_id(4) },
        Rejection::EmptyPaymentReference,
    ];
    effects
        .into_iter()
        .map(Outcome::Accepted)
        .chain(rejections.into_iter().map(Outcome::Rejected))
        .collect()
}

fn block_summary(height: u64) -> BlockSummary {
    BlockSummary {
        height,
        digest: Digest([0xab; 32]).to_hex(),
        state_root: Digest([0xcd; 32]),
        timestamp_ms: 1_790_000_012_000,
        txs: 3,
    }
}

/// One event of every kind.
fn events(fx: &Fixture) -> Vec<Event> {
    let c = &fx.consortium;
    let tx = |i: usize| fx.transactions[i].id();
    let patient = c.patients[0].pseudonym;
    let payer = c.social_security.id.clone();
    vec![
        Event::BillsIssued {
            tx_id: tx(1),
            issuer: c.hospitals[0].id.clone(),
            bills: vec![
                IssuedBill { id: c.bill_id(0, 1), patient, claimable: Fen(10_000) },
                IssuedBill { id: c.bill_id(0, 2), patient, claimable: Fen(3_000) },
            ],
        },
        Event::BillVoided {
            tx_id: tx(2),
            issuer: c.hospitals[0].id.clone(),
            bill: c.bill_id(0, 1),
            red_bill: c.bill_id(0, 3),
            patient,
        },
        Event::ClaimSubmitted {
            tx_id: tx(3),
            claim_id: claim_id(1),
            payer: payer.clone(),
            patient,
            bills: vec![c.bill_id(0, 1), c.bill_id(0, 2)],
            reserved: Fen(5_500),
        },
        Event::ClaimSettled {
            tx_id: tx(5),
            claim_id: claim_id(1),
            payer: payer.clone(),
            patient,
            approved: Fen(3_500),
            auto: true,
        },
        Event::ClaimRejected {
            tx_id: tx(6),
            claim_id: claim_id(2),
            payer: c.insurers[0].id.clone(),
            patient,
            released: Fen(1_000),
        },
        Event::ClaimWithdrawn {
            tx_id: tx(7),
            claim_id: claim_id(1),
            payer: payer.clone(),
            patient,
            released: Fen(5_500),
        },
        Event::PaymentRecorded {
            tx_id: tx(5),
            claim_id: claim_id(4),
            payer: payer.clone(),
            patient,
            payment_reference: Text::new("SSB-2026-000002").unwrap(),
        },
        Event::PolicyRegistered { tx_id: tx(5), payer: payer.clone(), version: 1 },
        Event::BodyAccessed {
            tx_id: tx(9),
            bill: c.bill_id(0, 2),
            reader: c.regulator.id.clone(),
            issuer: c.hospitals[0].id.clone(),
            patient,
            purpose: medledger_types::AccessPurpose::Audit,
        },
        Event::TxRejected {
            tx_id: tx(8),
            payload: "withdraw_claim".to_string(),
            code: "unknown_claim".to_string(),
            message: "unknown claim 00000000000000000000000000000003".to_string(),
        },
        Event::Block { block: block_summary(12) },
    ]
}

#[test]
fn every_reference_resolves_and_every_api_type_is_named() {
    let registry = registry();
    let page = schema_of::<Page<Bill>>();
    assert_eq!(registry.dangling_refs(&[&page]), Vec::<String>::new());
    let names: Vec<&str> = registry.names().collect();
    for expected in [
        "ApiError",
        "Status",
        "TxStatus",
        "Committed",
        "Receipt",
        "Outcome",
        "Effect",
        "Rejection",
        "BlockSummary",
        "EventEnvelope",
        "Event",
        "IssuedBill",
        "EventFilter",
        "ListQuery",
        "Bill",
        "BillIssue",
        "BillAmounts",
        "CategoryAmount",
        "ChargeCategory",
        "VisitType",
        "BillKind",
        "Claim",
        "ClaimSubmission",
        "ClaimItem",
        "ClaimStatus",
        "PatientConsent",
        "Member",
        "Role",
        "Roles",
        "Transaction",
        "TxBody",
        "Payload",
        "BillCode",
        "BillNumber",
        "BillId",
        "CheckCode",
        "ClaimId",
        "Pseudonym",
        "MemberId",
        "ChainId",
        "Text",
        "TxId",
        "Fen",
        "Digest",
        "PublicKey",
        "Signature",
    ] {
        assert!(names.contains(&expected), "{expected} is not in the document: {names:?}");
    }
}

/// The example of a hand-written schema is valid by its own schema and parses with serde.
fn assert_example_parses<T: ToSchema + DeserializeOwned + Serialize>(registry: &Registry) {
    let schema = schema_of::<T>();
    let examples = schema["examples"].as_array().expect("hand-written schemas have examples");
    assert!(!examples.is_empty());
    for example in examples {
        registry.validate(&schema, example).unwrap_or_else(|e| {
            panic!("{}'s example {example} does not match its schema: {e:?}", T::name())
        });
        let value: T = serde_json::from_value(example.clone())
            .unwrap_or_else(|e| panic!("{}'s example {example} does not parse: {e}", T::name()));
        assert_eq!(&serde_json::to_value(value).unwrap(), example, "{} example", T::name());
    }
}

#[test]
fn hand_written_schemas_have_examples_that_parse() {
    let registry = registry();
    assert_example_parses::<BillCode>(&registry);
    assert_example_parses::<BillNumber>(&registry);
    assert_example_parses::<BillId>(&registry);
    assert_example_parses::<CheckCode>(&registry);
    assert_example_parses::<ClaimId>(&registry);
    assert_example_parses::<Pseudonym>(&registry);
    assert_example_parses::<MemberId>(&registry);
    assert_example_parses::<ChainId>(&registry);
    assert_example_parses::<Text>(&registry);
    assert_example_parses::<TxId>(&registry);
    assert_example_parses::<Fen>(&registry);
    assert_example_parses::<Roles>(&registry);
    assert_example_parses::<Digest>(&registry);
    assert_example_parses::<PublicKey>(&registry);
    assert_example_parses::<Signature>(&registry);
}

#[test]
fn transactions_of_every_payload_match_their_schema() {
    let registry = registry();
    let fx = fixture();
    for tx in &fx.transactions {
        let json = assert_matches(&registry, tx);
        assert_eq!(json["id"], json!(tx.id().to_string()), "responses carry the id");
        // Requests may leave the id out.
        let mut request = json.clone();
        request.as_object_mut().unwrap().remove("id");
        registry.validate(&schema_of::<Transaction>(), &request).expect("a request without id");
        assert_eq!(&serde_json::from_value::<Transaction>(request).unwrap(), tx);
    }
}

#[test]
fn tx_status_pending_and_committed_with_every_effect_matches() {
    let registry = registry();
    let fx = fixture();
    let tx_id = fx.transactions[0].id();
    assert_matches(&registry, &TxStatus { tx_id, status: "pending".to_string(), committed: None });
    for (index, outcome) in outcomes(&fx.consortium).into_iter().enumerate() {
        let receipt = Receipt { tx_id, outcome };
        let status = TxStatus {
            tx_id,
            status: "committed".to_string(),
            committed: Some(Committed {
                height: 12,
                index: u32::try_from(index).unwrap(),
                receipt,
            }),
        };
        assert_matches(&registry, &status);
    }
}

#[test]
fn bills_and_pages_of_bills_match() {
    let registry = registry();
    let fx = fixture();
    let bills = bills(&fx.consortium);
    for bill in &bills {
        assert_matches(&registry, bill);
    }
    assert_matches(&registry, &Page { items: bills.clone(), next_cursor: Some(41) });
    assert_matches(&registry, &Page::<Bill> { items: Vec::new(), next_cursor: None });
}

#[test]
fn claims_in_every_status_and_pages_of_claims_match() {
    let registry = registry();
    let fx = fixture();
    let claims = claims(&fx.consortium);
    for claim in &claims {
        assert_matches(&registry, claim);
    }
    assert_matches(&registry, &Page { items: claims, next_cursor: None });
}

#[test]
fn events_of_every_kind_match() {
    let registry = registry();
    let fx = fixture();
    let events = events(&fx);
    let kinds: Vec<&str> = events.iter().map(Event::kind).collect();
    assert_eq!(kinds, Event::KINDS, "one event of every kind, in order");
    for (index, event) in events.into_iter().enumerate() {
        let index = u32::try_from(index).unwrap();
        let envelope = EventEnvelope { id: format!("12:{index}"), height: 12, index, event };
        let json = assert_matches(&registry, &envelope);
        assert_eq!(json["event"]["type"], json!(envelope.event.kind()));
    }
}

#[test]
fn members_status_errors_blocks_and_queries_match() {
    let registry = registry();
    let fx = fixture();
    let c = &fx.consortium;
    assert_matches(
        &registry,
        &Member {
            id: c.social_security.id.clone(),
            name: "Social Security Bureau".to_string(),
            roles: Roles::of(&[Role::SocialSecurity, Role::Insurer, Role::Hospital]),
            keys: vec![c.social_security.key.public_key(), c.insurers[0].key.public_key()],
            frozen: true,
            encryption_key: Some(c.social_security.encryption.public()),
            body_reader: false,
        },
    );
    assert_matches(
        &registry,
        &Status {
            chain_id: c.chain_id().to_string(),
            validator_index: 2,
            height: 12,
            last_block_hash: Digest([0xab; 32]).to_hex(),
            state_root: Digest([0xcd; 32]).to_hex(),
            last_block_time_ms: 1_790_000_012_000,
            validators: 4,
            peers_connected: 3,
            mempool_txs: 17,
            mempool_bytes: 4_096,
        },
    );
    assert_matches(
        &registry,
        &ApiError { code: "over_claim".to_string(), message: "over-claim on bill …".to_string() },
    );
    assert_matches(&registry, &block_summary(12));
    assert_matches(&registry, &EventFilter::default());
    assert_matches(
        &registry,
        &EventFilter {
            types: Some("claim_settled,block".to_string()),
            payer: Some(c.social_security.id.clone()),
            patient: Some(c.patients[0].pseudonym),
            issuer: Some(c.hospitals[0].id.clone()),
            from_height: Some(3),
        },
    );
    assert_matches(&registry, &ListQuery::default());
    assert_matches(
        &registry,
        &ListQuery { limit: Some(50), cursor: Some(41), status: Some("locked".to_string()) },
    );
}

/// Replaces the value at `path` (object keys and array indices) in `json`.
fn with(mut json: Value, path: &[&str], new: Value) -> Value {
    let mut at = &mut json;
    for key in path {
        at = match key.parse::<usize>() {
            Ok(i) => &mut at[i],
            Err(_) => &mut at[*key],
        };
    }
    *at = new;
    json
}

#[test]
fn wrong_json_is_refused_by_the_schema_and_by_serde() {
    let registry = registry();
    let fx = fixture();
    let bill = serde_json::to_value(&bills(&fx.consortium)[0]).unwrap();
    let claim = serde_json::to_value(&claims(&fx.consortium)[1]).unwrap();
    let tx = serde_json::to_value(&fx.transactions[5]).unwrap();
    let event = serde_json::to_value(&events(&fx)[2]).unwrap();
    // The unchanged values are valid, so each refusal below is the change's doing.
    registry.validate(&schema_of::<Bill>(), &bill).expect("bill");
    registry.validate(&schema_of::<Claim>(), &claim).expect("claim");
    registry.validate(&schema_of::<Transaction>(), &tx).expect("transaction");
    registry.validate(&schema_of::<Event>(), &event).expect("event");
    let total = &["issue", "amounts", "total"];

    // Money is an integer in fen: not a string, not a decimal, not negative.
    assert_refused::<Bill>(&registry, with(bill.clone(), total, json!("15000")));
    assert_refused::<Bill>(&registry, with(bill.clone(), total, json!(150.5)));
    assert_refused::<Bill>(&registry, with(bill.clone(), &["reserved"], json!(-1)));
    // Identifiers have a fixed shape.
    assert_refused::<Bill>(&registry, with(bill.clone(), &["issue", "id"], json!("44010126-1")));
    assert_refused::<Bill>(&registry, with(bill.clone(), &["issuer"], json!("x".repeat(33))));
    assert_refused::<Bill>(&registry, with(bill.clone(), &["check_code"], json!("ILOU00")));
    // Required fields are required; tags must be known.
    let mut no_claims = bill.clone();
    no_claims.as_object_mut().unwrap().remove("claims");
    assert_refused::<Bill>(&registry, no_claims);
    assert_refused::<Bill>(&registry, with(bill, &["kind", "kind"], json!("blue")));
    assert_refused::<Claim>(&registry, with(claim.clone(), &["status", "status"], json!("paid")));
    assert_refused::<Claim>(
        &registry,
        with(claim, &["status", "payment_reference"], json!("line\nbreak")),
    );
    assert_refused::<Event>(&registry, with(event.clone(), &["type"], json!("bill_burned")));
    assert_refused::<Event>(&registry, with(event, &["bills"], json!("44010126/0000000001")));
    // A signature is 64 bytes; the payload's approved amounts are amounts.
    let short = "ab".repeat(63) + "a";
    assert_refused::<Transaction>(&registry, with(tx.clone(), &["signature"], json!(short)));
    assert_refused::<Transaction>(
        &registry,
        with(tx.clone(), &["body", "payload", "approved", "0"], json!("2500")),
    );
    assert_refused::<Transaction>(&registry, with(tx, &["body", "payload", "type"], json!("pay")));
    // An accepted effect needs its fields; a page needs its items.
    assert_refused::<Receipt>(
        &registry,
        json!({"tx_id": TxId(Digest([1; 32])), "outcome": {"accepted": {"effect": "bills_issued"}}}),
    );
    assert_refused::<Page<Bill>>(&registry, json!({"next_cursor": 3}));
}

/// The query types are also `IntoParams`: one optional query parameter per field, named as
/// serde reads them, with schemas whose references resolve.
fn assert_query_params<T: ToSchema + utoipa::IntoParams>(registry: &Registry) {
    let params = serde_json::to_value(T::into_params(|| None)).unwrap();
    let names: Vec<&str> =
        params.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    let schema = schema_of::<T>();
    let fields: Vec<&str> =
        schema["properties"].as_object().unwrap().keys().map(String::as_str).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, fields, "{} parameters", T::name());
    for param in params.as_array().unwrap() {
        assert_eq!(param["in"], "query");
        assert_eq!(param["required"], false, "{param}");
    }
    assert_eq!(registry.dangling_refs(&[&params]), Vec::<String>::new());
}

#[test]
fn query_types_are_optional_query_parameters() {
    let registry = registry();
    assert_query_params::<EventFilter>(&registry);
    assert_query_params::<ListQuery>(&registry);
}
