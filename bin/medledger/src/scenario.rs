//! `medledger scenario`: the bill-and-claim story on an in-process ledger.
//!
//! Until the validator node exists this is the quickest way to see the rules work: every step
//! is a real signed transaction executed by the real state machine, and the step passes only
//! if the ledger answers what the rules of ../shared/DOMAIN.md say it must.

use medledger_ledger::{BlockContext, MemoryState, StateReader, execute_block};
use medledger_testkit::{Consortium, TxFactory, bill, claim, claim_id, consent_submit};
use medledger_types::{BillAmounts, BillId, Fen, Payload, Pseudonym, Text, Transaction, VisitType};
use serde::Serialize;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Serialize)]
struct Step {
    step: usize,
    description: String,
    expected: String,
    outcome: String,
    detail: String,
    ok: bool,
    latency_us: u128,
}

#[derive(Serialize)]
struct Summary {
    chain_id: String,
    steps: Vec<Step>,
    all_ok: bool,
    invariants_ok: bool,
    bill: BillSummary,
}

#[derive(Serialize)]
struct BillSummary {
    id: String,
    check_code: String,
    claimable: String,
    reimbursed: String,
    reserved: String,
}

struct Story {
    state: MemoryState,
    txs: TxFactory,
    height: u64,
    genesis_time_ms: u64,
    steps: Vec<Step>,
    json: bool,
}

impl Story {
    /// Executes `tx` in its own block and records whether the outcome is `expected`
    /// ("accepted" or a rejection code).
    fn step(&mut self, description: &str, expected: &str, tx: &Transaction) {
        self.height += 1;
        let ctx = BlockContext {
            height: self.height,
            timestamp_ms: self.genesis_time_ms + self.height * 100,
        };
        let start = Instant::now();
        let receipt = execute_block(&mut self.state, &ctx, std::slice::from_ref(tx)).remove(0);
        let latency_us = start.elapsed().as_micros();
        let (outcome, detail) = (receipt.outcome.code(), receipt.outcome.to_string());
        let step = Step {
            step: self.steps.len() + 1,
            description: description.to_string(),
            ok: outcome == expected,
            expected: expected.to_string(),
            outcome,
            detail,
            latency_us,
        };
        if !self.json {
            let mark = if step.ok { "ok " } else { "FAIL" };
            println!("{:>2}. [{mark}] {}", step.step, step.description);
            println!("          {} — {} ({} µs)", step.outcome, step.detail, step.latency_us);
            if !step.ok {
                println!("          expected: {}", step.expected);
            }
        }
        self.steps.push(step);
    }

    fn note(&self, text: &str) {
        if !self.json {
            println!("          {text}");
        }
    }
}

fn outpatient(
    id: BillId,
    patient: Pseudonym,
    total: u64,
    pooled: u64,
    personal: u64,
    patient_pay: u64,
) -> medledger_types::BillIssue {
    let mut issue = bill(id, patient, patient_pay, pooled);
    issue.visit_type = VisitType::Outpatient;
    issue.amounts = BillAmounts {
        total: Fen(total),
        pooled_fund: Fen(pooled),
        personal_account: Fen(personal),
        other_fund: Fen::ZERO,
        patient_pay: Fen(patient_pay),
    };
    issue
}

pub fn run(json: bool) -> anyhow::Result<ExitCode> {
    let c = Consortium::demo("medledger-demo", 200);
    let state = MemoryState::from_genesis(&c.genesis)?;
    let mut s = Story {
        state,
        txs: TxFactory::new(c.chain_id().clone(), 100),
        height: 0,
        genesis_time_ms: c.genesis.genesis_time_ms,
        steps: Vec::new(),
        json,
    };
    if !json {
        println!(
            "medledger scenario on chain {} — {} members, {} patients",
            c.chain_id(),
            c.genesis.members.len(),
            c.patients.len()
        );
        println!("Every step is a signed transaction executed by the ledger state machine.\n");
    }
    let hospital = &c.hospitals[0];
    let patient = &c.patients[0];
    let (a, b, d) = (c.bill_id(0, 1), c.bill_id(0, 2), c.bill_id(0, 3));

    // 970.00 outpatient bill: the pooled fund paid 600.00 and the personal account 120.00 at
    // the counter; the patient paid 250.00, which is all that can ever be claimed.
    // Stand-in sealed bodies: this in-process story is about the rules; `medledger demo`
    // seals and opens real ones.
    let issue = s.txs.sign(
        &hospital.key,
        c.issue(vec![
            outpatient(a, patient.pseudonym, 97_000, 60_000, 12_000, 25_000),
            outpatient(b, patient.pseudonym, 18_000, 10_000, 0, 8_000),
            outpatient(d, c.patients[1].pseudonym, 5_000, 0, 0, 5_000),
        ]),
    );
    s.step("City Central Hospital issues a signed batch of 3 bills", "accepted", &issue);

    let found: Vec<String> = s
        .state
        .bills()
        .filter(|bill| bill.issue.patient == patient.pseudonym)
        .map(|bill| bill.summary())
        .collect();
    s.note(&format!(
        "patient {} finds {} bills: {}",
        patient.pseudonym,
        found.len(),
        found.join("; ")
    ));

    let ss = &c.social_security;
    let first = claim(claim_id(1), &ss.id, patient.pseudonym, &[(a, 15_000)]);
    let tx_first = s.txs.sign(&patient.key, Payload::SubmitClaim { claim: first, consent: None });
    s.step(
        "Patient claims 150.00 of bill A from the social security bureau",
        "accepted",
        &tx_first,
    );
    let settle = s.txs.sign(
        &ss.key,
        Payload::SettleClaim {
            claim_id: claim_id(1),
            approved: vec![Fen(15_000)],
            payment_reference: Text::new("SSB-2026-000001")?,
        },
    );
    s.step("Social security bureau settles 150.00", "accepted", &settle);

    let insurer = &c.insurers[0];
    let second = claim(claim_id(2), &insurer.id, patient.pseudonym, &[(a, 10_000)]);
    let consent = consent_submit(c.chain_id(), &patient.key, &second);
    let tx_second = s.txs.sign(
        &c.platform.key,
        Payload::SubmitClaim { claim: second.clone(), consent: Some(consent.clone()) },
    );
    s.step(
        "Wallet platform files the remaining 100.00 with Ping Health, with the patient's consent",
        "accepted",
        &tx_second,
    );
    let settle = s.txs.sign(
        &insurer.key,
        Payload::SettleClaim {
            claim_id: claim_id(2),
            approved: vec![Fen(10_000)],
            payment_reference: Text::new("PING-88231")?,
        },
    );
    s.step("Ping Health settles 100.00", "accepted", &settle);

    let dup =
        s.txs.sign(&c.platform.key, Payload::SubmitClaim { claim: second, consent: Some(consent) });
    s.step("The same claim id is filed again", "duplicate_claim", &dup);

    let over = claim(claim_id(3), &c.insurers[1].id, patient.pseudonym, &[(a, 1)]);
    let over = s.txs.sign(&patient.key, Payload::SubmitClaim { claim: over, consent: None });
    s.step(
        "A second insurer is asked for 0.01 more on the fully reimbursed bill",
        "over_claim",
        &over,
    );

    s.step("The first claim's signed transaction is replayed", "replayed", &tx_first);

    let void = s
        .txs
        .sign(&hospital.key, Payload::VoidBill { bill: a, red_number: c.bill_id(0, 100).number });
    s.step("The hospital tries to void the reimbursed bill A", "bill_has_claims", &void);

    let void = s
        .txs
        .sign(&hospital.key, Payload::VoidBill { bill: d, red_number: c.bill_id(0, 100).number });
    s.step("The hospital voids unclaimed bill C with a red bill", "accepted", &void);

    let late = claim(claim_id(4), &ss.id, c.patients[1].pseudonym, &[(d, 100)]);
    let late = s.txs.sign(&c.patients[1].key, Payload::SubmitClaim { claim: late, consent: None });
    s.step("A claim against the voided bill C", "bill_voided", &late);

    let invariants = s.state.audit();
    let final_bill = s.state.bill(&a).expect("bill A exists");
    let summary = Summary {
        chain_id: c.chain_id().to_string(),
        all_ok: s.steps.iter().all(|step| step.ok) && invariants.is_ok(),
        invariants_ok: invariants.is_ok(),
        bill: BillSummary {
            id: a.to_string(),
            check_code: final_bill.check_code.to_string(),
            claimable: final_bill.claimable().to_string(),
            reimbursed: final_bill.reimbursed.to_string(),
            reserved: final_bill.reserved.to_string(),
        },
        steps: s.steps,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!();
        println!(
            "bill {}: claimable {}, reimbursed {} (150.00 social security + 100.00 Ping Health), reserved {}",
            summary.bill.id, summary.bill.claimable, summary.bill.reimbursed, summary.bill.reserved
        );
        match &invariants {
            Ok(()) => println!(
                "invariants: reimbursed + reserved <= claimable on every bill; payer totals match settlements"
            ),
            Err(violation) => println!("INVARIANT BROKEN: {violation}"),
        }
        let passed = summary.steps.iter().filter(|step| step.ok).count();
        println!("{passed} of {} steps turned out as the rules require", summary.steps.len());
    }
    Ok(if summary.all_ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
