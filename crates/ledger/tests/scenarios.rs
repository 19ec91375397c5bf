//! Named scenarios: one per rule and per rejection reason. Each runs through the real ledger
//! and the reference model together (see `common::World`).

mod common;

use common::World;
use medledger_ledger::{BlockContext, MemoryState, StateReader, StateWriter, execute_block};
use medledger_testkit::{
    DEMO_BILL_CODE, bill, claim, claim_id, consent_submit, consent_withdraw, patient, stub_body,
    stub_disclosure, stub_issue,
};
use medledger_types::limits::{BILL_TOTAL_MAX_FEN, TX_LIFETIME_BLOCKS_MAX};
use medledger_types::{
    BillCode, BillId, BillKind, BillNumber, CategoryAmount, ChainId, ChargeCategory, ClaimStatus,
    Effect, Fen, MemberId, Outcome, Payload, Pseudonym, Rejection, Text, Transaction, TxBody,
};

const PAY: u64 = 10_000; // patient-pay part of the standard test bill: 100.00 yuan

fn number(n: u64) -> BillNumber {
    BillNumber::new(n).unwrap()
}

/// A world where hospital 0 has issued bill #1 (patient 0, 100.00 claimable) and #2 (patient 1).
fn world_with_bills() -> (World, BillId, BillId) {
    let mut w = World::new();
    let b1 = w.c.bill_id(0, 1);
    let b2 = w.c.bill_id(0, 2);
    let p0 = w.c.patients[0].pseudonym;
    let p1 = w.c.patients[1].pseudonym;
    let h = w.c.hospitals[0].key.clone();
    let effect = w.accept(&h, w.c.issue(vec![bill(b1, p0, PAY, 5_000), bill(b2, p1, PAY, 0)]));
    assert_eq!(effect, Effect::BillsIssued { count: 2 });
    (w, b1, b2)
}

fn submit(w: &World, id: u64, payer: &MemberId, items: &[(BillId, u64)]) -> Payload {
    Payload::SubmitClaim {
        claim: claim(claim_id(id), payer, w.c.patients[0].pseudonym, items),
        consent: None,
    }
}

fn settle(id: u64, approved: &[u64]) -> Payload {
    Payload::SettleClaim {
        claim_id: claim_id(id),
        approved: approved.iter().map(|a| Fen(*a)).collect(),
        payment_reference: Text::new("PAY-1").unwrap(),
    }
}

// ---- Envelope ---------------------------------------------------------------------------

#[test]
fn wrong_chain_id_is_refused() {
    let mut w = World::new();
    let key = w.c.hospitals[0].key.clone();
    let mut body = w.txs.body(&key, w.c.issue(vec![]));
    body.chain_id = ChainId::new("another-chain").unwrap();
    let tx = Transaction::sign(body, &key);
    let r = w.refuse(&tx);
    assert_eq!(
        r,
        Rejection::WrongChainId {
            expected: ChainId::new("medledger-test").unwrap(),
            got: ChainId::new("another-chain").unwrap()
        }
    );
    assert_eq!(r.code(), "wrong_chain_id");
}

/// The planted bug: with the chain id check off, a transaction signed for another chain is
/// executed and takes effect; the reference model still refuses it.
#[cfg(feature = "planted-bugs")]
#[test]
fn planted_wrong_chain_id_bug_executes_a_foreign_transaction() {
    let w = World::new();
    let key = w.c.hospitals[0].key.clone();
    let b = w.c.bill_id(0, 1);
    let mut foreign = medledger_testkit::TxFactory::new(ChainId::new("another-chain").unwrap(), 10);
    let tx = foreign.sign(&key, w.c.issue(vec![bill(b, w.c.patients[0].pseudonym, PAY, 0)]));
    let mut state = MemoryState::from_genesis(&w.c.genesis).unwrap();
    let ctx = w.next_ctx();
    medledger_ledger::planted::set_accept_wrong_chain_id(true);
    let planted = execute_block(&mut state, &ctx, std::slice::from_ref(&tx));
    medledger_ledger::planted::set_accept_wrong_chain_id(false);
    assert_eq!(planted[0].outcome, Outcome::Accepted(Effect::BillsIssued { count: 1 }));
    assert!(state.bill(&b).is_some(), "the foreign issuance took effect");
    let mut model = medledger_model::Model::new(&w.c.genesis);
    assert_eq!(
        model.apply_block(ctx.height, ctx.timestamp_ms, &[tx])[0].outcome.code(),
        "wrong_chain_id"
    );
}

#[test]
fn expired_transaction_is_refused() {
    let mut w = World::new();
    w.block(&[]);
    w.block(&[]);
    let key = w.c.regulator.key.clone();
    let mut body = w.txs.body(&key, Payload::FreezeMember { member: w.c.insurers[0].id.clone() });
    body.expires_at_height = 2;
    let r = w.refuse(&Transaction::sign(body, &key));
    assert_eq!(r, Rejection::Expired { expires_at_height: 2, height: 3 });
}

#[test]
fn expiry_too_far_ahead_is_refused() {
    let mut w = World::new();
    let key = w.c.regulator.key.clone();
    let mut body = w.txs.body(&key, Payload::FreezeMember { member: w.c.insurers[0].id.clone() });
    body.expires_at_height = 2 + TX_LIFETIME_BLOCKS_MAX;
    let r = w.refuse(&Transaction::sign(body, &key));
    assert_eq!(
        r,
        Rejection::ExpiryTooFar {
            expires_at_height: 2 + TX_LIFETIME_BLOCKS_MAX,
            max_height: 1 + TX_LIFETIME_BLOCKS_MAX
        }
    );
}

#[test]
fn bad_signature_is_refused() {
    let mut w = World::new();
    let regulator = w.c.regulator.key.clone();
    let hospital = w.c.hospitals[0].key.clone();
    // Claims to be the regulator but is signed by a hospital.
    let body = w.txs.body(&regulator, Payload::FreezeMember { member: w.c.insurers[0].id.clone() });
    let forged = Transaction::sign(body, &hospital);
    assert_eq!(w.refuse(&forged), Rejection::BadSignature);
}

#[test]
fn tampered_body_fails_signature() {
    let mut w = World::new();
    let regulator = w.c.regulator.key.clone();
    let tx = w.tx(&regulator, Payload::FreezeMember { member: w.c.insurers[0].id.clone() });
    let mut body = tx.body().clone();
    body.payload = Payload::FreezeMember { member: w.c.insurers[1].id.clone() };
    let tampered = Transaction::from_parts(body, tx.signature().clone());
    assert_eq!(w.refuse(&tampered), Rejection::BadSignature);
}

#[test]
fn replayed_transaction_has_no_second_effect() {
    let (mut w, b1, _) = world_with_bills();
    let patient_key = w.c.patients[0].key.clone();
    let ss = w.c.social_security.id.clone();
    let tx = w.tx(&patient_key, submit(&w, 1, &ss, &[(b1, 4_000)]));
    assert!(w.submit(&tx).is_accepted());
    // Again in a later block, and twice within one block.
    assert_eq!(w.refuse(&tx), Rejection::Replayed);
    let receipts = w.block(&[tx.clone(), tx.clone()]);
    assert!(receipts.iter().all(|r| r.outcome == Outcome::Rejected(Rejection::Replayed)));
    assert_eq!(w.state.bill(&b1).unwrap().reserved, Fen(4_000));
}

#[test]
fn a_rejected_transaction_included_again_when_it_would_fit_has_no_effect() {
    // An over-claim is rejected; after the claim in its way is withdrawn it would fit. A
    // Byzantine proposer includes it again: inclusion is final, so it is `replayed`.
    let (mut w, b1, _) = world_with_bills();
    let patient_key = w.c.patients[0].key.clone();
    let ss = w.c.social_security.id.clone();
    let first = submit(&w, 1, &ss, &[(b1, 6_000)]);
    w.accept(&patient_key, first);
    let over = submit(&w, 2, &ss, &[(b1, 5_000)]);
    let over = w.tx(&patient_key, over);
    assert!(matches!(w.refuse(&over), Rejection::OverClaim { .. }));
    w.accept(&patient_key, Payload::WithdrawClaim { claim_id: claim_id(1), consent: None });
    assert_eq!(w.refuse(&over), Rejection::Replayed, "the first outcome stands");
    assert_eq!(w.state.bill(&b1).unwrap().reserved, Fen::ZERO);
    assert!(w.state.claim(&claim_id(2)).is_none());
}

#[test]
fn a_forged_copy_with_a_bad_signature_does_not_censor_the_genuine_transaction() {
    // Anyone can attach a bad signature to a genuine body (same id): that inclusion is
    // rejected and not remembered, so the genuine transaction still takes effect.
    let (mut w, b1, _) = world_with_bills();
    let patient_key = w.c.patients[0].key.clone();
    let ss = w.c.social_security.id.clone();
    let payload = submit(&w, 1, &ss, &[(b1, 4_000)]);
    let genuine = w.tx(&patient_key, payload);
    let stranger = medledger_crypto::SigningKey::from_label("stranger");
    let forged = Transaction::sign(genuine.body().clone(), &stranger);
    let forged = Transaction::from_parts(genuine.body().clone(), forged.signature().clone());
    assert_eq!(forged.id(), genuine.id());
    assert_eq!(w.refuse(&forged), Rejection::BadSignature);
    assert!(w.submit(&genuine).is_accepted());
    assert_eq!(w.state.bill(&b1).unwrap().reserved, Fen(4_000));
}

#[test]
fn same_transaction_twice_in_one_block_applies_once() {
    let mut w = World::new();
    let key = w.c.hospitals[0].key.clone();
    let p0 = w.c.patients[0].pseudonym;
    let b = w.c.bill_id(0, 9);
    let tx = w.tx(&key, w.c.issue(vec![bill(b, p0, PAY, 0)]));
    let receipts = w.block(&[tx.clone(), tx]);
    assert!(receipts[0].outcome.is_accepted());
    assert_eq!(receipts[1].outcome, Outcome::Rejected(Rejection::Replayed));
}

#[test]
fn accepted_ids_are_forgotten_after_expiry_and_replays_stay_refused() {
    let mut w = World::new();
    w.txs.expires_at_height = 3;
    let key = w.c.regulator.key.clone();
    let tx = w.tx(&key, Payload::FreezeMember { member: w.c.insurers[0].id.clone() });
    assert!(w.submit(&tx).is_accepted());
    assert_eq!(w.state.remembered_txs(), 1);
    w.block(&[]);
    w.block(&[]);
    w.block(&[]);
    assert_eq!(w.state.remembered_txs(), 0, "expired ids are pruned");
    assert!(matches!(w.refuse(&tx), Rejection::Expired { .. }));
}

#[test]
fn unknown_signer_is_refused() {
    let mut w = World::new();
    let stranger = medledger_crypto::SigningKey::from_label("stranger");
    let r = w.reject(&stranger, Payload::FreezeMember { member: w.c.insurers[0].id.clone() });
    assert_eq!(r, Rejection::UnknownSigner);
}

// ---- Governance -------------------------------------------------------------------------

#[test]
fn frozen_member_cannot_sign_until_unfrozen() {
    let (mut w, b1, _) = world_with_bills();
    let reg = w.c.regulator.key.clone();
    let h0 = w.c.hospitals[0].clone();
    assert_eq!(
        w.accept(&reg, Payload::FreezeMember { member: h0.id.clone() }),
        Effect::MemberFrozen
    );
    let r = w.reject(&h0.key, Payload::VoidBill { bill: b1, red_number: number(100) });
    assert_eq!(r, Rejection::SignerFrozen { member: h0.id.clone() });
    assert_eq!(
        w.reject(&reg, Payload::FreezeMember { member: h0.id.clone() }),
        Rejection::AlreadyFrozen { member: h0.id.clone() }
    );
    assert_eq!(
        w.accept(&reg, Payload::UnfreezeMember { member: h0.id.clone() }),
        Effect::MemberUnfrozen
    );
    assert_eq!(
        w.reject(&reg, Payload::UnfreezeMember { member: h0.id.clone() }),
        Rejection::NotFrozen { member: h0.id.clone() }
    );
    let red = w.c.bill_id(0, 100);
    assert!(matches!(
        w.accept(&h0.key, Payload::VoidBill { bill: b1, red_number: red.number }),
        Effect::BillVoided { .. }
    ));
}

#[test]
fn only_the_regulator_freezes_and_never_itself() {
    let mut w = World::new();
    let reg = w.c.regulator.clone();
    let ins = w.c.insurers[0].key.clone();
    let r = w.reject(&ins, Payload::FreezeMember { member: w.c.hospitals[0].id.clone() });
    assert_eq!(r.code(), "not_authorized");
    assert_eq!(
        w.reject(&reg.key, Payload::FreezeMember { member: reg.id.clone() }),
        Rejection::CannotFreezeSelf
    );
    let ghost = MemberId::new("ghost").unwrap();
    assert_eq!(
        w.reject(&reg.key, Payload::FreezeMember { member: ghost.clone() }),
        Rejection::UnknownMember { member: ghost }
    );
}

#[test]
fn frozen_payer_receives_no_claims() {
    let (mut w, b1, _) = world_with_bills();
    let reg = w.c.regulator.key.clone();
    let ss = w.c.social_security.id.clone();
    w.accept(&reg, Payload::FreezeMember { member: ss.clone() });
    let patient = w.c.patients[0].key.clone();
    let r = w.reject(&patient, submit(&w, 1, &ss, &[(b1, 100)]));
    assert_eq!(r, Rejection::PayerFrozen { member: ss });
}

// ---- Ranges -----------------------------------------------------------------------------

#[test]
fn regulator_allocates_ranges_and_refuses_overlaps() {
    let mut w = World::new();
    let reg = w.c.regulator.key.clone();
    let h1 = w.c.hospitals[1].id.clone();
    let code = BillCode::new(44_010_226).unwrap();
    let alloc = |hospital: &MemberId, first, last| Payload::AllocateRange {
        hospital: hospital.clone(),
        code,
        first: number(first),
        last: number(last),
    };
    assert_eq!(w.accept(&reg, alloc(&h1, 1, 100)), Effect::RangeAllocated);
    assert_eq!(
        w.reject(&reg, alloc(&h1, 100, 200)),
        Rejection::RangeOverlap {
            bill_code: code,
            first: number(1),
            last: number(100),
            owner: h1.clone()
        }
    );
    assert_eq!(
        w.reject(&reg, alloc(&h1, 300, 200)),
        Rejection::InvalidRange { first: number(300), last: number(200) }
    );
    let ss = w.c.social_security.id.clone();
    assert_eq!(w.reject(&reg, alloc(&ss, 500, 600)), Rejection::NotAHospital { member: ss });
    let h0 = w.c.hospitals[0].key.clone();
    assert_eq!(w.reject(&h0, alloc(&h1, 500, 600)).code(), "not_authorized");
    // The new range is usable by its owner.
    let p0 = w.c.patients[0].pseudonym;
    let b = BillId { code, number: number(50) };
    let h1_key = w.c.hospitals[1].key.clone();
    assert_eq!(
        w.accept(&h1_key, w.c.issue(vec![bill(b, p0, PAY, 0)])),
        Effect::BillsIssued { count: 1 }
    );
}

// ---- Issuance ---------------------------------------------------------------------------

#[test]
fn hospital_issues_a_batch_with_check_codes_and_consensus_time() {
    let (w, b1, b2) = world_with_bills();
    let first = w.state.bill(&b1).unwrap();
    let second = w.state.bill(&b2).unwrap();
    assert_eq!(first.issued_height, 1);
    assert_eq!(first.issued_at_ms, w.c.genesis.genesis_time_ms + common::BLOCK_TIME_MS);
    assert_eq!(first.issuer, w.c.hospitals[0].id);
    assert_eq!(first.claimable(), Fen(PAY));
    assert_ne!(first.check_code, second.check_code);
    assert_eq!(first.check_code.as_str().len(), 6);
}

#[test]
fn number_outside_the_issuers_range_is_refused() {
    let mut w = World::new();
    let h0 = w.c.hospitals[0].key.clone();
    let p0 = w.c.patients[0].pseudonym;
    // Hospital 1's number, and an unallocated code.
    let theirs = w.c.bill_id(1, 1);
    let r = w.reject(&h0, w.c.issue(vec![bill(theirs, p0, PAY, 0)]));
    assert_eq!(r, Rejection::NumberOutsideRange { bill: theirs });
    let other_code = BillId::new(DEMO_BILL_CODE + 1, 1).unwrap();
    let r = w.reject(&h0, w.c.issue(vec![bill(other_code, p0, PAY, 0)]));
    assert_eq!(r, Rejection::NumberOutsideRange { bill: other_code });
}

#[test]
fn duplicate_bill_is_refused_and_the_whole_batch_with_it() {
    let (mut w, b1, _) = world_with_bills();
    let h0 = w.c.hospitals[0].key.clone();
    let p0 = w.c.patients[0].pseudonym;
    let fresh = w.c.bill_id(0, 3);
    let r = w.reject(&h0, w.c.issue(vec![bill(fresh, p0, PAY, 0), bill(b1, p0, PAY, 0)]));
    assert_eq!(r, Rejection::DuplicateBill { bill: b1 });
    assert!(w.state.bill(&fresh).is_none(), "all or nothing");
    let r = w.reject(&h0, w.c.issue(vec![bill(fresh, p0, PAY, 0), bill(fresh, p0, 1, 0)]));
    assert_eq!(r, Rejection::DuplicateBill { bill: fresh });
}

#[test]
fn amounts_must_add_up() {
    let mut w = World::new();
    let h0 = w.c.hospitals[0].key.clone();
    let p0 = w.c.patients[0].pseudonym;
    let b = w.c.bill_id(0, 1);
    let mut bad = bill(b, p0, PAY, 100);
    bad.amounts.total = Fen(PAY);
    assert_eq!(
        w.reject(&h0, w.c.issue(vec![bad.clone()])),
        Rejection::AmountsDoNotAddUp { bill: b }
    );
    // Parts that overflow u64 do not add up either.
    bad.amounts.pooled_fund = Fen(u64::MAX);
    bad.amounts.total = Fen(BILL_TOTAL_MAX_FEN);
    assert_eq!(
        w.reject(&h0, w.c.issue(vec![bad.clone()])),
        Rejection::AmountsDoNotAddUp { bill: b }
    );
    bad.amounts.total = Fen(BILL_TOTAL_MAX_FEN + 1);
    assert_eq!(
        w.reject(&h0, w.c.issue(vec![bad])),
        Rejection::AmountTooLarge { bill: b, max: Fen(BILL_TOTAL_MAX_FEN) }
    );
}

#[test]
fn categories_must_add_up_and_not_repeat() {
    let mut w = World::new();
    let h0 = w.c.hospitals[0].key.clone();
    let p0 = w.c.patients[0].pseudonym;
    let b = w.c.bill_id(0, 1);
    let cat = |category, amount| CategoryAmount { category, amount: Fen(amount) };
    let mut issue = bill(b, p0, 300, 700);
    issue.categories =
        vec![cat(ChargeCategory::Examination, 400), cat(ChargeCategory::Examination, 600)];
    assert_eq!(
        w.reject(&h0, w.c.issue(vec![issue.clone()])),
        Rejection::CategoriesDoNotAddUp { bill: b }
    );
    issue.categories =
        vec![cat(ChargeCategory::Examination, 400), cat(ChargeCategory::WesternMedicine, 500)];
    assert_eq!(
        w.reject(&h0, w.c.issue(vec![issue.clone()])),
        Rejection::CategoriesDoNotAddUp { bill: b }
    );
    issue.categories =
        vec![cat(ChargeCategory::Examination, 400), cat(ChargeCategory::WesternMedicine, 600)];
    assert_eq!(w.accept(&h0, w.c.issue(vec![issue])), Effect::BillsIssued { count: 1 });
}

#[test]
fn empty_batch_is_refused_and_only_hospitals_issue() {
    let mut w = World::new();
    let h0 = w.c.hospitals[0].key.clone();
    assert_eq!(w.reject(&h0, w.c.issue(vec![])), Rejection::EmptyBatch);
    let ins = w.c.insurers[0].key.clone();
    let p0 = w.c.patients[0].pseudonym;
    let b = w.c.bill_id(0, 1);
    let r = w.reject(&ins, w.c.issue(vec![bill(b, p0, PAY, 0)]));
    assert_eq!(
        r,
        Rejection::NotAuthorized { action: "issue_bills".into(), required: "hospital".into() }
    );
    let patient_key = w.c.patients[0].key.clone();
    let r = w.reject(&patient_key, w.c.issue(vec![bill(b, p0, PAY, 0)]));
    assert_eq!(r.code(), "not_authorized");
}

// ---- Voids ------------------------------------------------------------------------------

#[test]
fn issuer_voids_a_bill_with_a_linked_red_bill() {
    let (mut w, b1, _) = world_with_bills();
    let h0 = w.c.hospitals[0].key.clone();
    let red = w.c.bill_id(0, 50);
    let effect = w.accept(&h0, Payload::VoidBill { bill: b1, red_number: red.number });
    assert_eq!(effect, Effect::BillVoided { bill: b1, red_bill: red });
    assert_eq!(w.state.bill(&b1).unwrap().voided_by, Some(red));
    let red_bill = w.state.bill(&red).unwrap();
    assert_eq!(red_bill.kind, BillKind::Red { reverses: b1 });
    assert_eq!(red_bill.claimable(), Fen::ZERO);
    // Nothing is deleted; voiding again, voiding the red bill and claiming either are refused.
    let red2 = w.c.bill_id(0, 51);
    assert_eq!(
        w.reject(&h0, Payload::VoidBill { bill: b1, red_number: red2.number }),
        Rejection::BillVoided { bill: b1 }
    );
    assert_eq!(
        w.reject(&h0, Payload::VoidBill { bill: red, red_number: red2.number }),
        Rejection::RedBill { bill: red }
    );
    let patient = w.c.patients[0].key.clone();
    let ss = w.c.social_security.id.clone();
    assert_eq!(
        w.reject(&patient, submit(&w, 1, &ss, &[(b1, 100)])),
        Rejection::BillVoided { bill: b1 }
    );
    assert_eq!(
        w.reject(&patient, submit(&w, 2, &ss, &[(red, 100)])),
        Rejection::RedBill { bill: red }
    );
}

#[test]
fn only_the_issuer_voids() {
    let (mut w, b1, _) = world_with_bills();
    let h1 = w.c.hospitals[1].key.clone();
    let red = w.c.bill_id(1, 1);
    assert_eq!(
        w.reject(&h1, Payload::VoidBill { bill: b1, red_number: red.number }),
        Rejection::NotBillIssuer { bill: b1, issuer: w.c.hospitals[0].id.clone() }
    );
    let patient = w.c.patients[0].key.clone();
    assert_eq!(
        w.reject(&patient, Payload::VoidBill { bill: b1, red_number: red.number }).code(),
        "not_authorized"
    );
    let unknown = w.c.bill_id(0, 999);
    let h0 = w.c.hospitals[0].key.clone();
    assert_eq!(
        w.reject(&h0, Payload::VoidBill { bill: unknown, red_number: number(77) }),
        Rejection::UnknownBill { bill: unknown }
    );
}

#[test]
fn red_bill_number_must_be_in_range_and_unused() {
    let (mut w, b1, b2) = world_with_bills();
    let h0 = w.c.hospitals[0].key.clone();
    let outside = w.c.bill_id(1, 5);
    assert_eq!(
        w.reject(&h0, Payload::VoidBill { bill: b1, red_number: outside.number }),
        Rejection::NumberOutsideRange { bill: outside }
    );
    assert_eq!(
        w.reject(&h0, Payload::VoidBill { bill: b1, red_number: b2.number }),
        Rejection::DuplicateBill { bill: b2 }
    );
}

#[test]
fn bill_with_a_locked_or_reimbursed_claim_cannot_be_voided() {
    let (mut w, b1, _) = world_with_bills();
    let patient = w.c.patients[0].key.clone();
    let ss = w.c.social_security.clone();
    let h0 = w.c.hospitals[0].key.clone();
    w.accept(&patient, submit(&w, 1, &ss.id, &[(b1, 3_000)]));
    let red = w.c.bill_id(0, 60).number;
    assert_eq!(
        w.reject(&h0, Payload::VoidBill { bill: b1, red_number: red }),
        Rejection::BillHasClaims { bill: b1, reserved: Fen(3_000), reimbursed: Fen::ZERO }
    );
    w.accept(&ss.key, settle(1, &[2_500]));
    assert_eq!(
        w.reject(&h0, Payload::VoidBill { bill: b1, red_number: red }),
        Rejection::BillHasClaims { bill: b1, reserved: Fen::ZERO, reimbursed: Fen(2_500) }
    );
}

// ---- Claims -----------------------------------------------------------------------------

#[test]
fn patient_claims_and_payer_settles() {
    let (mut w, b1, _) = world_with_bills();
    let patient = w.c.patients[0].key.clone();
    let ss = w.c.social_security.clone();
    assert_eq!(
        w.accept(&patient, submit(&w, 1, &ss.id, &[(b1, 6_000)])),
        Effect::ClaimLocked { claim_id: claim_id(1), reserved: Fen(6_000) }
    );
    assert_eq!(w.state.bill(&b1).unwrap().reserved, Fen(6_000));
    assert_eq!(
        w.accept(&ss.key, settle(1, &[6_000])),
        Effect::ClaimSettled { claim_id: claim_id(1), approved: Fen(6_000) }
    );
    let bill = w.state.bill(&b1).unwrap();
    assert_eq!((bill.reserved, bill.reimbursed), (Fen::ZERO, Fen(6_000)));
    assert_eq!(w.state.payer_paid(&ss.id), Fen(6_000));
    assert!(matches!(w.state.claim(&claim_id(1)).unwrap().status, ClaimStatus::Settled { .. }));
}

#[test]
fn several_payers_share_a_bill_but_never_beyond_claimable() {
    let (mut w, b1, _) = world_with_bills();
    let patient = w.c.patients[0].key.clone();
    let ss = w.c.social_security.clone();
    let ins = w.c.insurers[0].clone();
    let ins2 = w.c.insurers[1].clone();
    // Social security first, then an insurer for the remainder, then a second insurer tries
    // to claim just one fen more than is left.
    w.accept(&patient, submit(&w, 1, &ss.id, &[(b1, 7_000)]));
    w.accept(&ss.key, settle(1, &[7_000]));
    w.accept(&patient, submit(&w, 2, &ins.id, &[(b1, 2_999)]));
    let r = w.reject(&patient, submit(&w, 3, &ins2.id, &[(b1, 2)]));
    assert_eq!(
        r,
        Rejection::OverClaim {
            bill: b1,
            claimable: Fen(PAY),
            reserved: Fen(2_999),
            reimbursed: Fen(7_000),
            requested: Fen(2)
        }
    );
    assert_eq!(r.code(), "over_claim");
    w.accept(&patient, submit(&w, 4, &ins2.id, &[(b1, 1)]));
    w.accept(&ins.key, settle(2, &[2_999]));
    w.accept(&ins2.key, settle(4, &[1]));
    let bill = w.state.bill(&b1).unwrap();
    assert_eq!((bill.reserved, bill.reimbursed), (Fen::ZERO, Fen(PAY)));
    assert_eq!(bill.claims.len(), 3);
}

#[test]
fn duplicate_claim_id_has_no_second_effect() {
    let (mut w, b1, _) = world_with_bills();
    let patient = w.c.patients[0].key.clone();
    let ss = w.c.social_security.id.clone();
    w.accept(&patient, submit(&w, 1, &ss, &[(b1, 1_000)]));
    // A fresh transaction (new nonce) reusing the claim id.
    assert_eq!(
        w.reject(&patient, submit(&w, 1, &ss, &[(b1, 1_000)])),
        Rejection::DuplicateClaim { claim_id: claim_id(1) }
    );
    assert_eq!(w.state.bill(&b1).unwrap().reserved, Fen(1_000));
}

#[test]
fn claim_items_are_checked() {
    let (mut w, b1, b2) = world_with_bills();
    let patient = w.c.patients[0].key.clone();
    let ss = w.c.social_security.id.clone();
    assert_eq!(w.reject(&patient, submit(&w, 1, &ss, &[])), Rejection::EmptyClaim);
    assert_eq!(
        w.reject(&patient, submit(&w, 1, &ss, &[(b1, 0)])),
        Rejection::ZeroAmount { bill: b1 }
    );
    assert_eq!(
        w.reject(&patient, submit(&w, 1, &ss, &[(b1, 5), (b1, 5)])),
        Rejection::DuplicateBillInClaim { bill: b1 }
    );
    let unknown = w.c.bill_id(0, 404);
    assert_eq!(
        w.reject(&patient, submit(&w, 1, &ss, &[(unknown, 5)])),
        Rejection::UnknownBill { bill: unknown }
    );
    // b2 belongs to patient 1.
    assert_eq!(
        w.reject(&patient, submit(&w, 1, &ss, &[(b2, 5)])),
        Rejection::NotPatientsBill { bill: b2 }
    );
    let h0 = w.c.hospitals[0].id.clone();
    assert_eq!(
        w.reject(&patient, submit(&w, 1, &h0, &[(b1, 5)])),
        Rejection::NotAPayer { member: h0 }
    );
    let ghost = MemberId::new("ghost-insurer").unwrap();
    assert_eq!(
        w.reject(&patient, submit(&w, 1, &ghost, &[(b1, 5)])),
        Rejection::UnknownMember { member: ghost }
    );
}

#[test]
fn one_claim_over_several_bills_is_all_or_nothing() {
    let (mut w, b1, _) = world_with_bills();
    let h0 = w.c.hospitals[0].key.clone();
    let p0 = w.c.patients[0].pseudonym;
    let b3 = w.c.bill_id(0, 3);
    w.accept(&h0, w.c.issue(vec![bill(b3, p0, 500, 0)]));
    let patient = w.c.patients[0].key.clone();
    let ss = w.c.social_security.clone();
    let r = w.reject(&patient, submit(&w, 1, &ss.id, &[(b1, 100), (b3, 501)]));
    assert!(matches!(r, Rejection::OverClaim { bill, .. } if bill == b3));
    assert_eq!(w.state.bill(&b1).unwrap().reserved, Fen::ZERO);
    w.accept(&patient, submit(&w, 1, &ss.id, &[(b1, 100), (b3, 500)]));
    w.accept(&ss.key, settle(1, &[100, 400]));
    assert_eq!(w.state.bill(&b3).unwrap().reimbursed, Fen(400));
    assert_eq!(w.state.payer_paid(&ss.id), Fen(500));
}

#[test]
fn a_bill_takes_a_bounded_number_of_claims() {
    // A patient cycling submit and withdraw cannot grow a bill's record without bound.
    let (mut w, b1, _) = world_with_bills();
    let patient = w.c.patients[0].key.clone();
    let ss = w.c.social_security.id.clone();
    let max = medledger_types::limits::BILL_CLAIMS_MAX as u64;
    for n in 0..max {
        let txs = [
            w.tx(&patient, submit(&w, n, &ss, &[(b1, 1)])),
            w.tx(&patient, Payload::WithdrawClaim { claim_id: claim_id(n), consent: None }),
        ];
        assert!(w.block(&txs).iter().all(|r| r.outcome.is_accepted()));
    }
    let r = w.reject(&patient, submit(&w, max, &ss, &[(b1, 1)]));
    assert_eq!(r, Rejection::TooManyClaims { bill: b1, max: u32::try_from(max).unwrap() });
    assert_eq!(w.state.bill(&b1).unwrap().claims.len() as u64, max);
}

#[test]
fn someone_else_cannot_claim_for_a_patient() {
    let (mut w, b1, _) = world_with_bills();
    let other_patient = w.c.patients[1].key.clone();
    let ss = w.c.social_security.id.clone();
    let r = w.reject(&other_patient, submit(&w, 1, &ss, &[(b1, 5)]));
    assert_eq!(r.code(), "not_authorized");
    let hospital = w.c.hospitals[0].key.clone();
    assert_eq!(w.reject(&hospital, submit(&w, 1, &ss, &[(b1, 5)])).code(), "not_authorized");
}

#[test]
fn payment_platform_files_with_the_patients_consent() {
    let (mut w, b1, _) = world_with_bills();
    let platform = w.c.platform.key.clone();
    let patient = w.c.patients[0].clone();
    let chain = w.c.chain_id().clone();
    let ss = w.c.social_security.id.clone();
    let sub = claim(claim_id(1), &ss, patient.pseudonym, &[(b1, 2_000)]);

    let r = w.reject(&platform, Payload::SubmitClaim { claim: sub.clone(), consent: None });
    assert_eq!(r, Rejection::MissingConsent);
    let wrong_key = consent_submit(&chain, &w.c.patients[1].key, &sub);
    let r =
        w.reject(&platform, Payload::SubmitClaim { claim: sub.clone(), consent: Some(wrong_key) });
    assert_eq!(r, Rejection::ConsentKeyMismatch);
    // Consent to a different amount does not cover this claim.
    let other = claim(claim_id(1), &ss, patient.pseudonym, &[(b1, 9_000)]);
    let stale = consent_submit(&chain, &patient.key, &other);
    let r = w.reject(&platform, Payload::SubmitClaim { claim: sub.clone(), consent: Some(stale) });
    assert_eq!(r, Rejection::BadConsentSignature);

    let good = consent_submit(&chain, &patient.key, &sub);
    let effect = w.accept(&platform, Payload::SubmitClaim { claim: sub, consent: Some(good) });
    assert_eq!(effect, Effect::ClaimLocked { claim_id: claim_id(1), reserved: Fen(2_000) });
    assert_eq!(w.state.claim(&claim_id(1)).unwrap().filed_by, Some(w.c.platform.id.clone()));
}

#[test]
fn platform_cannot_file_for_an_unregistered_patient() {
    let mut w = World::new();
    let platform = w.c.platform.key.clone();
    let stranger = patient(99);
    let ss = w.c.social_security.id.clone();
    let sub = claim(claim_id(1), &ss, stranger.pseudonym, &[(w.c.bill_id(0, 1), 1)]);
    let consent = consent_submit(w.c.chain_id(), &stranger.key, &sub);
    let r = w.reject(&platform, Payload::SubmitClaim { claim: sub, consent: Some(consent) });
    assert_eq!(r, Rejection::UnknownPatient { patient: stranger.pseudonym });
}

#[test]
fn claim_settles_at_most_once() {
    let (mut w, b1, _) = world_with_bills();
    let patient = w.c.patients[0].key.clone();
    let ss = w.c.social_security.clone();
    w.accept(&patient, submit(&w, 1, &ss.id, &[(b1, 5_000)]));
    w.accept(&ss.key, settle(1, &[5_000]));
    assert_eq!(
        w.reject(&ss.key, settle(1, &[5_000])),
        Rejection::ClaimAlreadySettled { claim_id: claim_id(1) }
    );
    assert_eq!(w.state.payer_paid(&ss.id), Fen(5_000));
}

#[test]
fn settlement_is_checked() {
    let (mut w, b1, _) = world_with_bills();
    let patient = w.c.patients[0].key.clone();
    let ss = w.c.social_security.clone();
    let ins = w.c.insurers[0].key.clone();
    w.accept(&patient, submit(&w, 1, &ss.id, &[(b1, 5_000)]));
    assert_eq!(
        w.reject(&ins, settle(1, &[5_000])),
        Rejection::NotClaimPayer { claim_id: claim_id(1), payer: ss.id.clone() }
    );
    assert_eq!(
        w.reject(&ss.key, settle(1, &[5_001])),
        Rejection::ApprovedExceedsRequested {
            bill: b1,
            requested: Fen(5_000),
            approved: Fen(5_001)
        }
    );
    assert_eq!(
        w.reject(&ss.key, settle(1, &[1, 1])),
        Rejection::ApprovedCountMismatch { expected: 1, got: 2 }
    );
    assert_eq!(
        w.reject(&ss.key, settle(2, &[1])),
        Rejection::UnknownClaim { claim_id: claim_id(2) }
    );
    assert_eq!(w.reject(&patient, settle(1, &[1])).code(), "not_authorized");
}

#[test]
fn partial_approval_frees_the_rest_for_another_payer() {
    let (mut w, b1, _) = world_with_bills();
    let patient = w.c.patients[0].key.clone();
    let ss = w.c.social_security.clone();
    let ins = w.c.insurers[0].clone();
    w.accept(&patient, submit(&w, 1, &ss.id, &[(b1, PAY)]));
    w.accept(&ss.key, settle(1, &[6_000]));
    assert!(matches!(
        w.reject(&patient, submit(&w, 2, &ins.id, &[(b1, 4_001)])),
        Rejection::OverClaim { .. }
    ));
    w.accept(&patient, submit(&w, 2, &ins.id, &[(b1, 4_000)]));
}

#[test]
fn rejection_releases_the_reservation_and_closes_the_claim() {
    let (mut w, b1, _) = world_with_bills();
    let patient = w.c.patients[0].key.clone();
    let ss = w.c.social_security.clone();
    w.accept(&patient, submit(&w, 1, &ss.id, &[(b1, PAY)]));
    let reason = Text::new("not covered").unwrap();
    assert_eq!(
        w.accept(&ss.key, Payload::RejectClaim { claim_id: claim_id(1), reason: reason.clone() }),
        Effect::ClaimRejected { claim_id: claim_id(1), released: Fen(PAY) }
    );
    assert_eq!(w.state.bill(&b1).unwrap().reserved, Fen::ZERO);
    assert_eq!(
        w.reject(&ss.key, settle(1, &[PAY])),
        Rejection::ClaimClosed { claim_id: claim_id(1), status: "rejected".into() }
    );
    assert_eq!(
        w.reject(&ss.key, Payload::RejectClaim { claim_id: claim_id(1), reason }),
        Rejection::ClaimClosed { claim_id: claim_id(1), status: "rejected".into() }
    );
    // The whole amount can be claimed again.
    w.accept(&patient, submit(&w, 2, &ss.id, &[(b1, PAY)]));
}

#[test]
fn patient_withdraws_a_claim() {
    let (mut w, b1, _) = world_with_bills();
    let patient = w.c.patients[0].key.clone();
    let ss = w.c.social_security.clone();
    w.accept(&patient, submit(&w, 1, &ss.id, &[(b1, 3_000)]));
    let other = w.c.patients[1].key.clone();
    let withdraw = |id| Payload::WithdrawClaim { claim_id: claim_id(id), consent: None };
    assert_eq!(w.reject(&other, withdraw(1)), Rejection::NotClaimPatient { claim_id: claim_id(1) });
    assert_eq!(w.reject(&ss.key, withdraw(1)).code(), "not_authorized");
    assert_eq!(w.reject(&patient, withdraw(9)), Rejection::UnknownClaim { claim_id: claim_id(9) });
    assert_eq!(
        w.accept(&patient, withdraw(1)),
        Effect::ClaimWithdrawn { claim_id: claim_id(1), released: Fen(3_000) }
    );
    assert_eq!(
        w.reject(&patient, withdraw(1)),
        Rejection::ClaimClosed { claim_id: claim_id(1), status: "withdrawn".into() }
    );
    assert_eq!(w.state.bill(&b1).unwrap().reserved, Fen::ZERO);
}

#[test]
fn settled_claim_cannot_be_withdrawn() {
    let (mut w, b1, _) = world_with_bills();
    let patient = w.c.patients[0].key.clone();
    let ss = w.c.social_security.clone();
    w.accept(&patient, submit(&w, 1, &ss.id, &[(b1, 3_000)]));
    w.accept(&ss.key, settle(1, &[3_000]));
    let r = w.reject(&patient, Payload::WithdrawClaim { claim_id: claim_id(1), consent: None });
    assert_eq!(r, Rejection::ClaimAlreadySettled { claim_id: claim_id(1) });
}

#[test]
fn platform_withdraws_with_consent() {
    let (mut w, b1, _) = world_with_bills();
    let patient = w.c.patients[0].key.clone();
    let platform = w.c.platform.key.clone();
    let ss = w.c.social_security.id.clone();
    w.accept(&patient, submit(&w, 1, &ss, &[(b1, 3_000)]));
    let r = w.reject(&platform, Payload::WithdrawClaim { claim_id: claim_id(1), consent: None });
    assert_eq!(r, Rejection::MissingConsent);
    let consent = consent_withdraw(w.c.chain_id(), &patient, &claim_id(1));
    let effect = w.accept(
        &platform,
        Payload::WithdrawClaim { claim_id: claim_id(1), consent: Some(consent) },
    );
    assert!(matches!(effect, Effect::ClaimWithdrawn { .. }));
}

// ---- Patients ---------------------------------------------------------------------------

#[test]
fn platform_registers_a_patient_who_can_then_claim() {
    let mut w = World::new();
    let platform = w.c.platform.key.clone();
    let newcomer = medledger_testkit::newcomer(50);
    let register = |p: &medledger_testkit::Patient| Payload::RegisterPatient {
        patient: p.pseudonym,
        public_key: p.key.public_key(),
        encryption_key: p.encryption.public(),
    };
    let h0 = w.c.hospitals[0].key.clone();
    assert_eq!(w.reject(&h0, register(&newcomer)).code(), "not_authorized");
    assert_eq!(w.accept(&platform, register(&newcomer)), Effect::PatientRegistered);
    assert_eq!(
        w.reject(&platform, register(&newcomer)),
        Rejection::PatientAlreadyRegistered { patient: newcomer.pseudonym }
    );
    let mut reuse = medledger_testkit::newcomer(51);
    reuse.key = w.c.hospitals[0].key.clone();
    reuse.pseudonym = Pseudonym::of_key(&reuse.key.public_key());
    assert_eq!(w.reject(&platform, register(&reuse)), Rejection::KeyAlreadyRegistered);
    // A pseudonym is registered only with the key it is derived from: the platform cannot
    // take over a pseudonym a hospital issued bills to (an insider's fraud).
    let mut taken = medledger_testkit::newcomer(52);
    let victim = patient(53).pseudonym;
    taken.pseudonym = victim;
    assert_eq!(
        w.reject(&platform, register(&taken)),
        Rejection::PseudonymNotOfKey {
            patient: victim,
            expected: Pseudonym::of_key(&taken.key.public_key())
        }
    );

    let b = w.c.bill_id(0, 1);
    // Once registered, the patient's bodies must be wrapped to their key.
    let regulator = w.c.regulator.encryption.public();
    assert_eq!(
        w.reject(&h0, w.c.issue(vec![bill(b, newcomer.pseudonym, PAY, 0)])),
        Rejection::MissingBodyWrap { bill: b, reader: "the patient".to_string() }
    );
    let readers = vec![regulator, newcomer.encryption.public()];
    w.accept(&h0, stub_issue(vec![bill(b, newcomer.pseudonym, PAY, 0)], |_| readers.clone()));
    let ss = w.c.social_security.id.clone();
    let sub = claim(claim_id(1), &ss, newcomer.pseudonym, &[(b, PAY)]);
    assert!(matches!(
        w.accept(&newcomer.key, Payload::SubmitClaim { claim: sub, consent: None }),
        Effect::ClaimLocked { .. }
    ));
}

// ---- Overflow and determinism -----------------------------------------------------------

#[test]
fn payer_total_overflow_is_refused_not_wrapped() {
    // Not reachable through the model in reasonable time: the payer total is set directly.
    let c = medledger_testkit::Consortium::demo("medledger-test", 2);
    let mut state = MemoryState::from_genesis(&c.genesis).unwrap();
    let mut f = medledger_testkit::TxFactory::new(c.chain_id().clone(), 100);
    let b1 = c.bill_id(0, 1);
    let p0 = &c.patients[0];
    let txs = vec![
        f.sign(&c.hospitals[0].key, c.issue(vec![bill(b1, p0.pseudonym, PAY, 0)])),
        f.sign(
            &p0.key,
            Payload::SubmitClaim {
                claim: claim(claim_id(1), &c.social_security.id, p0.pseudonym, &[(b1, PAY)]),
                consent: None,
            },
        ),
    ];
    let ctx = BlockContext { height: 1, timestamp_ms: 1 };
    assert!(execute_block(&mut state, &ctx, &txs).iter().all(|r| r.outcome.is_accepted()));
    state.set_payer_paid(c.social_security.id.clone(), Fen(u64::MAX - 10));
    let tx = f.sign(&c.social_security.key, settle(1, &[PAY]));
    let receipts = execute_block(&mut state, &BlockContext { height: 2, timestamp_ms: 2 }, &[tx]);
    assert_eq!(receipts[0].outcome, Outcome::Rejected(Rejection::AmountOverflow));
    assert_eq!(state.bill(&b1).unwrap().reserved, Fen(PAY));
}

#[test]
#[should_panic(expected = "blocks execute in order")]
fn executing_a_block_twice_is_a_bug_not_a_rejection() {
    let c = medledger_testkit::Consortium::demo("medledger-test", 1);
    let mut state = MemoryState::from_genesis(&c.genesis).unwrap();
    let ctx = BlockContext { height: 1, timestamp_ms: 1 };
    execute_block(&mut state, &ctx, &[]);
    execute_block(&mut state, &ctx, &[]);
}

#[test]
fn every_rejection_code_is_distinct_snake_case() {
    // The codes are an API: check a representative sample renders as expected.
    let b = BillId::new(DEMO_BILL_CODE, 1).unwrap();
    let samples = [
        (Rejection::BadSignature, "bad_signature"),
        (Rejection::Replayed, "replayed"),
        (Rejection::UnknownBill { bill: b }, "unknown_bill"),
        (Rejection::DuplicateBill { bill: b }, "duplicate_bill"),
        (Rejection::ClaimAlreadySettled { claim_id: claim_id(1) }, "claim_already_settled"),
    ];
    for (rejection, code) in samples {
        assert_eq!(rejection.code(), code);
    }
    let json = serde_json::to_string(&Rejection::UnknownBill { bill: b }).unwrap();
    assert_eq!(json, r#"{"code":"unknown_bill","bill":"44010126/0000000001"}"#);
}

#[test]
fn hand_built_transaction_body_is_accepted() {
    // A wallet or hospital system builds the body itself, field by field, and signs it.
    let mut w = World::new();
    let key = w.c.regulator.key.clone();
    let body = TxBody {
        chain_id: ChainId::new("medledger-test").unwrap(),
        signer: key.public_key(),
        nonce: 42,
        expires_at_height: 10,
        payload: Payload::FreezeMember { member: w.c.insurers[0].id.clone() },
    };
    let tx = Transaction::sign(body, &key);
    assert!(w.submit(&tx).is_accepted());
}

#[test]
fn audit_detects_corrupted_bookkeeping() {
    // The audit is what the property tests rely on; show that it notices each kind of damage.
    let (mut w, b1, _) = world_with_bills();
    let patient = w.c.patients[0].key.clone();
    let ss = w.c.social_security.clone();
    w.accept(&patient, submit(&w, 1, &ss.id, &[(b1, 4_000)]));
    w.accept(&ss.key, settle(1, &[4_000]));
    assert!(w.state.audit().is_ok());

    let mut reserved = w.state.clone();
    let mut bill = reserved.bill(&b1).unwrap().clone();
    bill.reserved = Fen(1);
    reserved.put_bill(bill);
    assert!(reserved.audit().unwrap_err().contains("reserved"));

    let mut over = w.state.clone();
    let mut bill = over.bill(&b1).unwrap().clone();
    bill.reimbursed = Fen(PAY + 1);
    over.put_bill(bill);
    assert!(over.audit().is_err());

    let mut paid = w.state.clone();
    paid.set_payer_paid(ss.id.clone(), Fen(1));
    assert!(paid.audit().unwrap_err().contains("total paid"));
}

// ---- Private bodies -----------------------------------------------------------------------

#[test]
fn every_bill_carries_one_sealed_body_wrapped_to_the_patient_and_the_regulator() {
    let mut w = World::new();
    let h0 = w.c.hospitals[0].key.clone();
    let p0 = w.c.patients[0].pseudonym;
    let b = w.c.bill_id(0, 1);
    let issue = bill(b, p0, PAY, 0);
    let body = stub_body(&issue, &w.c.required_readers(&p0));

    let none = Payload::IssueBills { bills: vec![issue.clone()], bodies: vec![] };
    assert_eq!(w.reject(&h0, none), Rejection::BodyCountMismatch { bills: 1, bodies: 0 });

    let mut empty = body.clone();
    empty.ciphertext.clear();
    let payload = Payload::IssueBills { bills: vec![issue.clone()], bodies: vec![empty] };
    assert_eq!(w.reject(&h0, payload), Rejection::EmptyBody { bill: b });

    let mut twice = body.clone();
    twice.wraps.push(twice.wraps[0].clone());
    let payload = Payload::IssueBills { bills: vec![issue.clone()], bodies: vec![twice] };
    assert_eq!(w.reject(&h0, payload), Rejection::DuplicateBodyWrap { bill: b });

    let without_regulator = stub_body(&issue, &[w.c.patients[0].encryption.public()]);
    let payload =
        Payload::IssueBills { bills: vec![issue.clone()], bodies: vec![without_regulator] };
    assert_eq!(
        w.reject(&h0, payload),
        Rejection::MissingBodyWrap { bill: b, reader: w.c.regulator.id.to_string() }
    );

    let without_patient = stub_body(&issue, &[w.c.regulator.encryption.public()]);
    let payload = Payload::IssueBills { bills: vec![issue.clone()], bodies: vec![without_patient] };
    assert_eq!(
        w.reject(&h0, payload),
        Rejection::MissingBodyWrap { bill: b, reader: "the patient".to_string() }
    );

    let payload = Payload::IssueBills { bills: vec![issue], bodies: vec![body.clone()] };
    assert_eq!(w.accept(&h0, payload), Effect::BillsIssued { count: 1 });
    let record = w.state.bill(&b).unwrap();
    assert_eq!(record.sealed_body, Some(body.digest()), "the record commits to the sealed body");
}

#[test]
fn a_claim_discloses_bodies_only_to_its_payer_and_only_for_its_bills() {
    let (mut w, b1, b2) = world_with_bills();
    let p0 = w.c.patients[0].clone();
    let ss = w.c.social_security.clone();
    let insurer = w.c.insurers[0].encryption.public();
    let submit = |sub| Payload::SubmitClaim { claim: sub, consent: None };

    let mut sub = claim(claim_id(1), &ss.id, p0.pseudonym, &[(b1, 100)]);
    sub.disclosures = vec![stub_disclosure(b2, &ss.encryption.public())];
    assert_eq!(w.reject(&p0.key, submit(sub.clone())), Rejection::BadDisclosure { bill: b2 });

    sub.disclosures =
        vec![stub_disclosure(b1, &ss.encryption.public()), stub_disclosure(b1, &insurer)];
    assert_eq!(w.reject(&p0.key, submit(sub.clone())), Rejection::BadDisclosure { bill: b1 });

    sub.disclosures = vec![stub_disclosure(b1, &insurer)];
    assert_eq!(
        w.reject(&p0.key, submit(sub.clone())),
        Rejection::DisclosureWrongRecipient { bill: b1, payer: ss.id.clone() }
    );

    sub.disclosures = vec![stub_disclosure(b1, &ss.encryption.public())];
    assert!(matches!(w.accept(&p0.key, submit(sub)), Effect::ClaimLocked { .. }));
    let record = w.state.claim(&claim_id(1)).unwrap();
    assert_eq!(record.submission.disclosures.len(), 1, "the consent is on the ledger");
}

#[test]
fn only_genesis_body_readers_record_an_access_and_each_is_recorded_once() {
    let (mut w, b1, _) = world_with_bills();
    let reference = Text::new("audit 2026-17").unwrap();
    let access = |bill| Payload::AccessBody {
        bill,
        purpose: medledger_types::AccessPurpose::Audit,
        reference: reference.clone(),
    };
    let h0 = w.c.hospitals[0].key.clone();
    assert_eq!(w.reject(&h0, access(b1)).code(), "not_authorized");
    let ss = w.c.social_security.key.clone();
    assert_eq!(w.reject(&ss, access(b1)).code(), "not_authorized");

    let regulator = w.c.regulator.key.clone();
    let unknown = w.c.bill_id(0, 99);
    assert_eq!(w.reject(&regulator, access(unknown)), Rejection::UnknownBill { bill: unknown });
    assert_eq!(w.accept(&regulator, access(b1)), Effect::BodyAccessed { bill: b1 });
    assert_eq!(w.accept(&regulator, access(b1)), Effect::BodyAccessed { bill: b1 });
    assert_eq!(w.state.bill(&b1).unwrap().accessed_by, vec![w.c.regulator.id.clone()]);

    let red = w.c.bill_id(0, 50);
    w.accept(&h0, Payload::VoidBill { bill: b1, red_number: red.number });
    assert_eq!(w.reject(&regulator, access(red)), Rejection::NoBody { bill: red });
}

// ---- Synthetic genesis bills (capacity tests) --------------------------------------------

fn synthetic(count: u64) -> medledger_types::SyntheticBills {
    medledger_types::SyntheticBills {
        issuer: MemberId::new("city-central-hospital").unwrap(),
        code: BillCode::new(99_000_001).unwrap(),
        count,
        amount_fen: PAY,
    }
}

#[test]
fn synthetic_genesis_bills_are_claimed_and_settled_like_issued_ones() {
    let mut c = medledger_testkit::Consortium::demo("medledger-test", 4);
    c.genesis.synthetic_bills = Some(synthetic(1_000));
    let mut w = World::with(c);
    let id = |n| BillId { code: BillCode::new(99_000_001).unwrap(), number: number(n) };
    // Bill n belongs to genesis patient n mod patients (4 here), issued at height 0.
    let bill = w.state.bill(&id(7)).expect("generated").clone();
    assert_eq!(bill.issue.patient, w.c.patients[7 % 4].pseudonym);
    assert_eq!((bill.issued_height, bill.issue.amounts.patient_pay), (0, Fen(PAY)));
    assert_eq!(bill.issuer.as_str(), "city-central-hospital");
    assert!(w.state.bill(&id(1_000)).is_some() && w.state.bill(&id(1_001)).is_none());
    // Claimed by its patient, settled by the payer, over-claimed: as any bill (the model agrees).
    let payer = w.c.social_security.id.clone();
    let patient = w.c.patients[3].key.clone();
    let owner = w.c.patients[3].pseudonym;
    let filed = |claim_n: u64, amount: u64| Payload::SubmitClaim {
        claim: claim(claim_id(claim_n), &payer, owner, &[(id(7), amount)]),
        consent: None,
    };
    w.accept(&patient, filed(1, 6_000));
    assert_eq!(
        w.reject(&patient, filed(2, 4_001)),
        Rejection::OverClaim {
            bill: id(7),
            claimable: Fen(PAY),
            reserved: Fen(6_000),
            reimbursed: Fen::ZERO,
            requested: Fen(4_001),
        }
    );
    w.accept(&w.c.social_security.key.clone(), settle(1, &[6_000]));
    assert_eq!(w.state.bill(&id(7)).unwrap().reimbursed, Fen(6_000));
    // Nobody can issue into the synthetic code: no range allocates it.
    let hospital = w.c.hospitals[0].key.clone();
    let p0 = w.c.patients[0].pseudonym;
    let issue = w.c.issue(vec![medledger_testkit::bill(id(1_001), p0, PAY, 0)]);
    let refused = w.reject(&hospital, issue);
    assert_eq!(refused, Rejection::NumberOutsideRange { bill: id(1_001) });
}

#[test]
fn bad_synthetic_genesis_bills_are_refused() {
    use medledger_ledger::GenesisError::BadSyntheticBills;
    let check = |change: &dyn Fn(&mut medledger_types::SyntheticBills)| {
        let mut c = medledger_testkit::Consortium::demo("medledger-test", 4);
        let mut spec = synthetic(10);
        change(&mut spec);
        c.genesis.synthetic_bills = Some(spec);
        MemoryState::from_genesis(&c.genesis).map(|_| ())
    };
    assert_eq!(check(&|_| {}), Ok(()));
    let not_hospital = check(&|s| s.issuer = MemberId::new("social-security").unwrap());
    assert_eq!(not_hospital, Err(BadSyntheticBills("the issuer is not a hospital member")));
    let ranged = check(&|s| s.code = BillCode::new(DEMO_BILL_CODE).unwrap());
    assert_eq!(ranged, Err(BadSyntheticBills("a genesis range uses their code")));
    assert_eq!(check(&|s| s.count = 0), Err(BadSyntheticBills("the count is zero")));
    let many = check(&|s| s.count = medledger_types::limits::GENESIS_SYNTHETIC_BILLS_MAX + 1);
    assert_eq!(many, Err(BadSyntheticBills("too many")));
    let free = check(&|s| s.amount_fen = 0);
    assert_eq!(free, Err(BadSyntheticBills("the amount is zero or above a bill's maximum")));
    let huge = check(&|s| s.amount_fen = BILL_TOTAL_MAX_FEN + 1);
    assert_eq!(huge, Err(BadSyntheticBills("the amount is zero or above a bill's maximum")));
}
