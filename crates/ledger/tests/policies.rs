//! Payer policies on the ledger: registration and versioning, adjudication when a claim is
//! accepted (auto-settlement under the ceiling, a recommendation above it), payment records,
//! yearly usage, and coordination of benefits between two payers. Every block runs through
//! the real ledger and the reference model together (see `common::World`).

mod common;

use common::World;
use medledger_ledger::StateReader;
use medledger_ledger::policy::{Lines, YearUsage};
use medledger_testkit::{Consortium, bill, claim, claim_id, sample_policy};
use medledger_types::{
    BillId, CategoryAmount, CategoryCoverage, ChargeCategory, ClaimStatus, Effect, Fen, MemberId,
    Payload, Policy, Rejection, Text,
};

/// The pilot's bill: 97.00 yuan, all paid by the patient, 30.00 of examinations and 67.00 of
/// western medicine.
fn pilot_bill(w: &mut World, n: u64, patient: usize, hospital: usize) -> BillId {
    let id = w.c.bill_id(hospital, n);
    let mut issue = bill(id, w.c.patients[patient].pseudonym, 9_700, 0);
    issue.categories = vec![
        CategoryAmount { category: ChargeCategory::Examination, amount: Fen(3_000) },
        CategoryAmount { category: ChargeCategory::WesternMedicine, amount: Fen(6_700) },
    ];
    let key = w.c.hospitals[hospital].key.clone();
    let payload = w.c.issue(vec![issue]);
    assert_eq!(w.accept(&key, payload), Effect::BillsIssued { count: 1 });
    id
}

fn hospitals(w: &World) -> Vec<MemberId> {
    w.c.hospitals.iter().map(|h| h.id.clone()).collect()
}

fn register(w: &mut World, policy: Policy) -> Effect {
    let key = w.c.actors().into_iter().find(|a| a.id == policy.payer).unwrap().key.clone();
    w.accept(&key, Payload::RegisterPolicy { policy })
}

fn submit(w: &World, id: u64, payer: &MemberId, items: &[(BillId, u64)]) -> Payload {
    Payload::SubmitClaim {
        claim: claim(claim_id(id), payer, w.c.patients[0].pseudonym, items),
        consent: None,
    }
}

fn pay(id: u64, reference: &str) -> Payload {
    Payload::RecordPayment {
        claim_id: claim_id(id),
        payment_reference: Text::new(reference).unwrap(),
    }
}

fn lines(submitted: u64, eligible: u64, deductible: u64, benefit: u64) -> Lines {
    Lines {
        submitted: Fen(submitted),
        eligible: Fen(eligible),
        deductible: Fen(deductible),
        benefit: Fen(benefit),
    }
}

#[test]
fn a_simple_claim_settles_in_the_block_that_accepts_it() {
    let mut w = World::new();
    let ss = w.c.social_security.clone();
    let policy = sample_policy(&ss.id, &hospitals(&w));
    assert_eq!(
        register(&mut w, policy),
        Effect::PolicyRegistered { payer: ss.id.clone(), version: 1 }
    );
    let b1 = pilot_bill(&mut w, 1, 0, 0);
    let patient = w.c.patients[0].key.clone();
    // 97.00 asked; 10.00 deductible; 87.00 × (30 × 70% + 67 × 60%) / 97 = 54.89.
    assert_eq!(
        w.accept(&patient, submit(&w, 1, &ss.id, &[(b1, 9_700)])),
        Effect::ClaimAutoSettled {
            claim_id: claim_id(1),
            requested: Fen(9_700),
            approved: vec![Fen(5_489)],
            paid: Fen(5_489),
        }
    );
    let settled_at = w.height;
    let bill = w.state.bill(&b1).unwrap();
    assert_eq!((bill.reserved, bill.reimbursed), (Fen::ZERO, Fen(5_489)));
    assert_eq!(w.state.payer_paid(&ss.id), Fen(5_489));
    let record = w.state.claim(&claim_id(1)).unwrap().clone();
    assert_eq!(
        record.status,
        ClaimStatus::Settled {
            approved: vec![Fen(5_489)],
            payment_reference: Text::default(),
            height: settled_at,
        }
    );
    let adjudication = record.adjudication.expect("adjudicated");
    assert!(adjudication.auto_approved);
    assert_eq!((adjudication.policy_version, adjudication.year), (1, 2026));
    assert_eq!(adjudication.items, vec![lines(9_700, 9_700, 1_000, 5_489)]);
    assert_eq!(adjudication.total, lines(9_700, 9_700, 1_000, 5_489));
    assert_eq!(
        w.state.year_usage(&ss.id, &w.c.patients[0].pseudonym, 2026),
        YearUsage { deductible: Fen(1_000), paid: Fen(5_489) }
    );

    // The payer's system records its payment reference, once.
    assert_eq!(
        w.accept(&ss.key, pay(1, "SSB-2026-000777")),
        Effect::PaymentRecorded { claim_id: claim_id(1) }
    );
    assert!(matches!(
        &w.state.claim(&claim_id(1)).unwrap().status,
        ClaimStatus::Settled { payment_reference, height, .. }
            if payment_reference.as_str() == "SSB-2026-000777" && *height == settled_at
    ));
    assert_eq!(
        w.reject(&ss.key, pay(1, "SSB-2026-000778")),
        Rejection::PaymentAlreadyRecorded { claim_id: claim_id(1) }
    );
}

#[test]
fn social_security_pays_first_and_an_insurer_pays_up_to_the_remainder() {
    let mut w = World::new();
    let ss = w.c.social_security.clone();
    let ins = w.c.insurers[0].clone();
    let hs = hospitals(&w);
    register(&mut w, sample_policy(&ss.id, &hs));
    // The insurer covers all of every category with no deductible, settling up to 1,000 yuan.
    let mut top_up = sample_policy(&ins.id, &hs);
    top_up.coverage = ChargeCategory::ALL
        .iter()
        .map(|c| CategoryCoverage { category: *c, ratio_bp: 10_000 })
        .collect();
    top_up.deductible_yearly = Fen::ZERO;
    top_up.auto_approve_max = Fen(100_000);
    register(&mut w, top_up);
    let b1 = pilot_bill(&mut w, 1, 0, 0);
    let patient = w.c.patients[0].key.clone();
    w.accept(&patient, submit(&w, 1, &ss.id, &[(b1, 9_700)]));
    // The remainder is 97.00 − 54.89 = 42.11; one fen more is an over-claim.
    assert_eq!(
        w.reject(&patient, submit(&w, 2, &ins.id, &[(b1, 4_212)])),
        Rejection::OverClaim {
            bill: b1,
            claimable: Fen(9_700),
            reserved: Fen::ZERO,
            reimbursed: Fen(5_489),
            requested: Fen(4_212),
        }
    );
    assert_eq!(
        w.accept(&patient, submit(&w, 2, &ins.id, &[(b1, 4_211)])),
        Effect::ClaimAutoSettled {
            claim_id: claim_id(2),
            requested: Fen(4_211),
            approved: vec![Fen(4_211)],
            paid: Fen(4_211),
        }
    );
    let bill = w.state.bill(&b1).unwrap();
    assert_eq!((bill.reserved, bill.reimbursed), (Fen::ZERO, Fen(9_700)));
    assert_eq!(
        w.reject(&patient, submit(&w, 3, &ss.id, &[(b1, 1)])),
        Rejection::OverClaim {
            bill: b1,
            claimable: Fen(9_700),
            reserved: Fen::ZERO,
            reimbursed: Fen(9_700),
            requested: Fen(1),
        }
    );
}

#[test]
fn the_insurer_first_leaves_social_security_the_remainder_whatever_the_order() {
    let mut w = World::new();
    let ss = w.c.social_security.clone();
    let ins = w.c.insurers[0].clone();
    let hs = hospitals(&w);
    register(&mut w, sample_policy(&ss.id, &hs));
    register(&mut w, sample_policy(&ins.id, &hs));
    let b1 = pilot_bill(&mut w, 1, 0, 0);
    let patient = w.c.patients[0].key.clone();
    // Both claims arrive in one block, insurer first. Each locks what it asks within what is
    // left, settles by its payer's policy, and releases what its payer does not pay.
    let txs = [
        w.tx(&patient, submit(&w, 1, &ins.id, &[(b1, 6_000)])),
        w.tx(&patient, submit(&w, 2, &ss.id, &[(b1, 6_547)])),
        w.tx(&patient, submit(&w, 3, &ss.id, &[(b1, 6_546)])),
    ];
    let receipts = w.block(&txs);
    // (60.00 − 10.00) × 63.09% = 31.54 is paid and 28.46 released at once, so 97.00 − 31.54
    // = 65.46 is left: social security gets (65.46 − 10.00) × 63.09% = 34.99.
    let insurer = Effect::ClaimAutoSettled {
        claim_id: claim_id(1),
        requested: Fen(6_000),
        approved: vec![Fen(3_154)],
        paid: Fen(3_154),
    };
    assert_eq!(receipts[0].outcome, medledger_types::Outcome::Accepted(insurer));
    assert_eq!(receipts[1].outcome.code(), "over_claim");
    let social = Effect::ClaimAutoSettled {
        claim_id: claim_id(3),
        requested: Fen(6_546),
        approved: vec![Fen(3_499)],
        paid: Fen(3_499),
    };
    assert_eq!(receipts[2].outcome, medledger_types::Outcome::Accepted(social));
    // Whatever is left (97.00 − 66.53) is claimable once more, and not a fen beyond.
    let left = 9_700 - 3_154 - 3_499;
    assert_eq!(w.reject(&patient, submit(&w, 4, &ins.id, &[(b1, left + 1)])).code(), "over_claim");
    w.accept(&patient, submit(&w, 4, &ins.id, &[(b1, left)]));
    let bill = w.state.bill(&b1).unwrap();
    let paid = w.state.payer_paid(&ins.id).0 + w.state.payer_paid(&ss.id).0;
    assert_eq!(bill.reimbursed, Fen(paid));
    assert!(bill.reimbursed <= bill.claimable());
}

#[test]
fn above_the_ceiling_the_claim_waits_with_the_recommendation() {
    let mut w = World::new();
    let ss = w.c.social_security.clone();
    let mut policy = sample_policy(&ss.id, &hospitals(&w));
    policy.auto_approve_max = Fen(5_000);
    register(&mut w, policy);
    let b1 = pilot_bill(&mut w, 1, 0, 0);
    let b2 = pilot_bill(&mut w, 2, 0, 0);
    let patient = w.c.patients[0].key.clone();
    assert_eq!(
        w.accept(&patient, submit(&w, 1, &ss.id, &[(b1, 9_700)])),
        Effect::ClaimLocked { claim_id: claim_id(1), reserved: Fen(9_700) }
    );
    let record = w.state.claim(&claim_id(1)).unwrap().clone();
    assert_eq!(record.status, ClaimStatus::Locked);
    let recommendation = record.adjudication.expect("recommendation attached");
    assert!(!recommendation.auto_approved);
    assert_eq!(recommendation.total.benefit, Fen(5_489));
    // Nothing is used of the year until the payer decides.
    let p0 = w.c.patients[0].pseudonym;
    assert_eq!(w.state.year_usage(&ss.id, &p0, 2026), YearUsage::default());
    // Recording a payment needs a settled claim.
    assert_eq!(
        w.reject(&ss.key, pay(1, "X-1")),
        Rejection::ClaimNotSettled { claim_id: claim_id(1), status: "locked".to_string() }
    );
    // The payer follows the recommendation by hand.
    let approve = Payload::SettleClaim {
        claim_id: claim_id(1),
        approved: vec![Fen(5_489)],
        payment_reference: Text::new("SSB-77").unwrap(),
    };
    w.accept(&ss.key, approve);
    assert_eq!(
        w.state.year_usage(&ss.id, &p0, 2026),
        YearUsage { deductible: Fen(1_000), paid: Fen(5_489) }
    );
    // The next claim of the year bears no deductible: 97.00 × 63.09% = 61.20, above the
    // ceiling again.
    w.accept(&patient, submit(&w, 2, &ss.id, &[(b2, 9_700)]));
    let second = w.state.claim(&claim_id(2)).unwrap().adjudication.clone().unwrap();
    assert_eq!(second.total, lines(9_700, 9_700, 0, 6_120));
    // A payment reference given at settlement is already recorded.
    assert_eq!(
        w.reject(&ss.key, pay(1, "SSB-78")),
        Rejection::PaymentAlreadyRecorded { claim_id: claim_id(1) }
    );
}

#[test]
fn uncovered_hospital_settles_at_zero_and_releases_the_bill() {
    let mut w = World::new();
    let ss = w.c.social_security.clone();
    let only_h0 = vec![w.c.hospitals[0].id.clone()];
    register(&mut w, sample_policy(&ss.id, &only_h0));
    let b = pilot_bill(&mut w, 1, 0, 1);
    let patient = w.c.patients[0].key.clone();
    assert_eq!(
        w.accept(&patient, submit(&w, 1, &ss.id, &[(b, 9_700)])),
        Effect::ClaimAutoSettled {
            claim_id: claim_id(1),
            requested: Fen(9_700),
            approved: vec![Fen::ZERO],
            paid: Fen::ZERO,
        }
    );
    let record = w.state.claim(&claim_id(1)).unwrap();
    assert_eq!(record.adjudication.as_ref().unwrap().total, lines(9_700, 0, 0, 0));
    let bill = w.state.bill(&b).unwrap();
    assert_eq!((bill.reserved, bill.reimbursed), (Fen::ZERO, Fen::ZERO));
    // The whole bill is still claimable elsewhere.
    let ins = w.c.insurers[0].id.clone();
    w.accept(&patient, submit(&w, 2, &ins, &[(b, 9_700)]));
}

#[test]
fn yearly_cap_and_deductible_reset_with_the_benefit_year() {
    let mut c = Consortium::demo("medledger-test", 4);
    // Ten blocks before midnight of 2026-12-31 in Beijing (blocks are 100 ms apart).
    c.genesis.genesis_time_ms = 1_798_732_800_000 - 10 * common::BLOCK_TIME_MS;
    let mut w = World::with(c);
    let ss = w.c.social_security.clone();
    let mut policy = sample_policy(&ss.id, &hospitals(&w));
    policy.yearly_cap = Fen(6_000);
    register(&mut w, policy);
    let bills: Vec<BillId> = (1..=3).map(|n| pilot_bill(&mut w, n, 0, 0)).collect();
    let patient = w.c.patients[0].key.clone();
    w.accept(&patient, submit(&w, 1, &ss.id, &[(bills[0], 9_700)]));
    // 60.00 a year: 54.89 paid, so only 5.11 is left this year.
    assert_eq!(
        w.accept(&patient, submit(&w, 2, &ss.id, &[(bills[1], 9_700)])),
        Effect::ClaimAutoSettled {
            claim_id: claim_id(2),
            requested: Fen(9_700),
            approved: vec![Fen(511)],
            paid: Fen(511),
        }
    );
    let p0 = w.c.patients[0].pseudonym;
    assert_eq!(w.state.year_usage(&ss.id, &p0, 2026).paid, Fen(6_000));
    while w.height < 10 {
        w.block(&[]);
    }
    // 2027: the deductible and the cap start again.
    assert_eq!(
        w.accept(&patient, submit(&w, 3, &ss.id, &[(bills[2], 9_700)])),
        Effect::ClaimAutoSettled {
            claim_id: claim_id(3),
            requested: Fen(9_700),
            approved: vec![Fen(5_489)],
            paid: Fen(5_489),
        }
    );
    let third = w.state.claim(&claim_id(3)).unwrap().adjudication.clone().unwrap();
    assert_eq!(third.year, 2027);
    assert_eq!(
        w.state.year_usage(&ss.id, &p0, 2027),
        YearUsage { deductible: Fen(1_000), paid: Fen(5_489) }
    );
}

#[test]
fn a_new_version_applies_to_claims_accepted_after_it() {
    let mut w = World::new();
    let ss = w.c.social_security.clone();
    let hs = hospitals(&w);
    let mut v1 = sample_policy(&ss.id, &hs);
    v1.auto_approve_max = Fen(1);
    register(&mut w, v1.clone());
    let b1 = pilot_bill(&mut w, 1, 0, 0);
    let b2 = pilot_bill(&mut w, 2, 0, 0);
    let patient = w.c.patients[0].key.clone();
    w.accept(&patient, submit(&w, 1, &ss.id, &[(b1, 9_700)]));
    let v2 = Policy { version: 2, ..sample_policy(&ss.id, &hs) };
    assert_eq!(register(&mut w, v2), Effect::PolicyRegistered { payer: ss.id.clone(), version: 2 });
    assert_eq!(w.state.policy(&ss.id).unwrap().version, 2);
    // The claim accepted under version 1 keeps its recommendation; the new one settles.
    let first = w.state.claim(&claim_id(1)).unwrap();
    assert_eq!(first.adjudication.as_ref().unwrap().policy_version, 1);
    assert_eq!(first.status, ClaimStatus::Locked);
    let effect = w.accept(&patient, submit(&w, 2, &ss.id, &[(b2, 9_700)]));
    assert!(matches!(effect, Effect::ClaimAutoSettled { .. }));
    assert_eq!(
        w.state.claim(&claim_id(2)).unwrap().adjudication.as_ref().unwrap().policy_version,
        2
    );
}

#[test]
fn policy_registration_refusals() {
    let mut w = World::new();
    let ss = w.c.social_security.clone();
    let ins = w.c.insurers[0].clone();
    let hs = hospitals(&w);
    let policy = sample_policy(&ss.id, &hs);
    let register_tx = |p: Policy| Payload::RegisterPolicy { policy: p };
    let not_authorized = |required: &str| Rejection::NotAuthorized {
        action: "register_policy".to_string(),
        required: required.to_string(),
    };
    // Only a payer, and only for itself.
    let h0 = w.c.hospitals[0].key.clone();
    assert_eq!(w.reject(&h0, register_tx(policy.clone())), not_authorized("a payer"));
    let patient = w.c.patients[0].key.clone();
    assert_eq!(w.reject(&patient, register_tx(policy.clone())), not_authorized("a payer"));
    assert_eq!(
        w.reject(&ins.key, register_tx(policy.clone())),
        not_authorized("the policy's payer")
    );
    // Inconsistent data, named.
    let empty = Policy { coverage: vec![], ..policy.clone() };
    assert_eq!(
        w.reject(&ss.key, register_tx(empty)),
        Rejection::InvalidPolicy { reason: "coverage lists no category".to_string() }
    );
    let over = Policy {
        coverage: vec![CategoryCoverage { category: ChargeCategory::Bed, ratio_bp: 10_001 }],
        ..policy.clone()
    };
    assert_eq!(w.reject(&ss.key, register_tx(over)).code(), "invalid_policy");
    // Versions start at 1 and go up by one.
    let v2 = Policy { version: 2, ..policy.clone() };
    assert_eq!(
        w.reject(&ss.key, register_tx(v2.clone())),
        Rejection::PolicyVersionNotNext { expected: 1, got: 2 }
    );
    // Hospitals must be hospitals on the ledger.
    let stranger = MemberId::new("no-such-hospital").unwrap();
    let unknown = Policy { hospitals: vec![stranger.clone()], ..policy.clone() };
    assert_eq!(
        w.reject(&ss.key, register_tx(unknown)),
        Rejection::UnknownMember { member: stranger }
    );
    let not_hospital = Policy { hospitals: vec![ins.id.clone()], ..policy.clone() };
    assert_eq!(
        w.reject(&ss.key, register_tx(not_hospital)),
        Rejection::NotAHospital { member: ins.id.clone() }
    );
    w.accept(&ss.key, register_tx(policy.clone()));
    assert_eq!(
        w.reject(&ss.key, register_tx(policy)),
        Rejection::PolicyVersionNotNext { expected: 2, got: 1 }
    );
    w.accept(&ss.key, register_tx(v2));
}

#[test]
fn payment_record_refusals() {
    let mut w = World::new();
    let ss = w.c.social_security.clone();
    let ins = w.c.insurers[0].clone();
    let hs = hospitals(&w);
    register(&mut w, sample_policy(&ss.id, &hs));
    let b1 = pilot_bill(&mut w, 1, 0, 0);
    let patient = w.c.patients[0].key.clone();
    w.accept(&patient, submit(&w, 1, &ss.id, &[(b1, 9_700)]));
    assert_eq!(
        w.reject(&patient, pay(1, "X")),
        Rejection::NotAuthorized {
            action: "record_payment".to_string(),
            required: "the claim's payer".to_string()
        }
    );
    assert_eq!(w.reject(&ss.key, pay(1, "")), Rejection::EmptyPaymentReference);
    assert_eq!(w.reject(&ss.key, pay(9, "X")), Rejection::UnknownClaim { claim_id: claim_id(9) });
    assert_eq!(
        w.reject(&ins.key, pay(1, "X")),
        Rejection::NotClaimPayer { claim_id: claim_id(1), payer: ss.id.clone() }
    );
    // A rejected claim has no payment.
    let b2 = pilot_bill(&mut w, 2, 0, 0);
    w.accept(&patient, submit(&w, 2, &ins.id, &[(b2, 100)]));
    w.accept(
        &ins.key,
        Payload::RejectClaim { claim_id: claim_id(2), reason: Text::new("no").unwrap() },
    );
    assert_eq!(
        w.reject(&ins.key, pay(2, "X")),
        Rejection::ClaimNotSettled { claim_id: claim_id(2), status: "rejected".to_string() }
    );
    w.accept(&ss.key, pay(1, "SSB-1"));
}
