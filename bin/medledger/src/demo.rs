//! `medledger demo`: the bill-and-claim story on a real 4-validator network.
//!
//! Starts (or reuses) a local network in the directory it names, then plays the story through
//! the SDK, every step a signed transaction committed by consensus, printing each step's
//! outcome and its submit-to-commit latency: a hospital issues bills, the patient finds them,
//! claims part of one from the social security bureau, which settles; the wallet platform files
//! the rest with an insurer, which settles; a duplicate claim, an over-claim and voiding a
//! reimbursed bill are refused with their reasons. Then both payers register policies, and a
//! 97-yuan claim is settled by the ledger in the block that accepts it, the remainder by the
//! insurer's policy. Then it keeps the network running (or exits with `--exit`).

use anyhow::Context as _;
use medledger_client::{Client, ClientError, EncryptionSecret, IssuerKeystore};
use medledger_node::init::{InitOptions, read_member_key, read_patients};
use medledger_node::localnet::Localnet;
use medledger_testkit::{
    TxFactory, bill, claim, claim_id, consent_submit, sample_body, sample_policy,
};
use medledger_types::api::{ApiError, Committed, ListQuery};
use medledger_types::{
    BillId, CategoryAmount, CategoryCoverage, ChainId, ChargeCategory, ClaimId, ClaimStatus, Fen,
    MemberId, Payload, Policy, Pseudonym, SigningKey, Text, Transaction,
};
use serde::Serialize;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Serialize)]
struct Step {
    step: usize,
    description: String,
    expected: String,
    outcome: String,
    detail: String,
    ok: bool,
    height: u64,
    latency_ms: f64,
}

#[derive(Serialize)]
struct Summary {
    chain_id: String,
    directory: String,
    apis: Vec<String>,
    steps: Vec<Step>,
    all_ok: bool,
    claim_submit_to_settled_ms: Vec<f64>,
    bill: serde_json::Value,
}

struct Story {
    nodes: Vec<Client>,
    steps: Vec<Step>,
    json: bool,
    /// The highest height at which one of the story's transactions committed: every read
    /// first waits until its node has executed it (read-your-writes across nodes).
    seen_height: u64,
}

/// How long a read waits for its node to catch up with the story's last commit.
const READ_CATCH_UP_MAX: Duration = Duration::from_secs(30);

impl Story {
    /// Node `node % n`, once it has executed every block the story committed a transaction in.
    fn at(&self, node: usize) -> anyhow::Result<&Client> {
        let client = &self.nodes[node % self.nodes.len()];
        client.wait_for_height(self.seen_height, READ_CATCH_UP_MAX).with_context(|| {
            format!("node{} did not reach height {}", node % self.nodes.len(), self.seen_height)
        })?;
        Ok(client)
    }

    /// Submits `tx` to node `node % n`, waits for its receipt, records the step.
    fn step(
        &mut self,
        node: usize,
        description: &str,
        expected: &str,
        tx: &Transaction,
    ) -> anyhow::Result<f64> {
        let client = &self.nodes[node % self.nodes.len()];
        let start = Instant::now();
        let committed: Committed =
            client.submit_and_wait(tx).with_context(|| description.to_string())?;
        let latency_ms = start.elapsed().as_secs_f64() * 1_000.0;
        self.seen_height = self.seen_height.max(committed.height);
        let outcome = &committed.receipt.outcome;
        let (code, detail) = (outcome.code(), outcome.to_string());
        let place = format!("block {}, ", committed.height);
        self.record(
            node,
            description,
            expected,
            (code, detail),
            committed.height,
            &place,
            latency_ms,
        );
        Ok(latency_ms)
    }

    /// Records a read of private data through node `node % n`: `ok` with what was read, or the
    /// node's refusal code.
    fn read(
        &mut self,
        node: usize,
        description: &str,
        expected: &str,
        read: impl FnOnce(&Client) -> Result<String, ClientError>,
    ) -> anyhow::Result<()> {
        let client = self.at(node)?;
        let start = Instant::now();
        let answer = match read(client) {
            Ok(detail) => ("ok".to_string(), detail),
            Err(ClientError::Api { error, .. }) => (error.code, error.message),
            Err(other) => ("error".to_string(), other.to_string()),
        };
        let latency_ms = start.elapsed().as_secs_f64() * 1_000.0;
        let height = client.status().map_or(0, |s| s.height);
        self.record(node, description, expected, answer, height, "", latency_ms);
        Ok(())
    }

    /// Prints (unless JSON) and keeps one step: `(outcome, detail)` against `expected`.
    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        node: usize,
        description: &str,
        expected: &str,
        (outcome, detail): (String, String),
        height: u64,
        place: &str,
        latency_ms: f64,
    ) {
        let step = Step {
            step: self.steps.len() + 1,
            description: description.to_string(),
            ok: outcome == expected,
            expected: expected.to_string(),
            outcome,
            detail,
            height,
            latency_ms,
        };
        if !self.json {
            let mark = if step.ok { "ok " } else { "FAIL" };
            println!("{:>2}. [{mark}] {}", step.step, step.description);
            println!(
                "          {} — {} ({place}{:.0} ms via node{})",
                step.outcome,
                step.detail,
                step.latency_ms,
                node % self.nodes.len()
            );
            if !step.ok {
                println!("          expected: {}", step.expected);
            }
        }
        self.steps.push(step);
    }
}

/// `ok` with the adjudication when the claim was settled by its payer's policy in the block
/// that accepted it; an error naming what happened otherwise.
fn settled_in_its_block(client: &Client, id: ClaimId) -> Result<String, ClientError> {
    let claim = client.claim(id)?;
    let not = |why: String| ClientError::Api {
        status: 200,
        error: ApiError { code: "not_settled_in_its_block".to_string(), message: why },
    };
    let adjudication =
        claim.adjudication.as_ref().ok_or_else(|| not("no policy applied".into()))?;
    match &claim.status {
        ClaimStatus::Settled { height, .. }
            if *height == claim.submitted_height && adjudication.auto_approved =>
        {
            let t = &adjudication.total;
            Ok(format!(
                "settled in block {height}: submitted {}, eligible {}, deductible {}, benefit {} \
                 (policy version {})",
                t.submitted, t.eligible, t.deductible, t.benefit, adjudication.policy_version
            ))
        }
        other => Err(not(format!(
            "claim is {} (submitted in block {})",
            other.name(),
            claim.submitted_height
        ))),
    }
}

/// Waits until every validator finalizes blocks and is connected to all the others (before
/// that, a round led by a validator still connecting times out, seconds); returns the height.
pub fn wait_ready(nodes: &[Client], net: &Localnet) -> anyhow::Result<u64> {
    let started = Instant::now();
    loop {
        let statuses: Vec<_> = nodes.iter().filter_map(|n| n.status().ok()).collect();
        let ready = statuses.len() == nodes.len()
            && statuses.iter().all(|s| s.height >= 1 && s.peers_connected + 1 >= s.validators);
        if ready {
            return Ok(statuses.iter().map(|s| s.height).max().unwrap_or(1));
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(120),
            "the network did not start; see the node logs in {}",
            net.dir.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Opens `bill`'s body as the holder of `key`, describing what was read.
fn open_as(client: &Client, bill: BillId, key: &SigningKey) -> Result<String, ClientError> {
    let secret = EncryptionSecret::from_signing_key(key);
    let (fetched, body) = client.open_bill_body(bill, key, &secret)?;
    Ok(format!(
        "decrypted as {}: {}, {} itemised charges, matches the header's commitment",
        fetched.entitlement,
        body.department,
        body.items.len()
    ))
}

/// Plays the story; `exit` stops the network afterwards instead of waiting for Ctrl-C.
pub fn run(options: InitOptions, json: bool, exit: bool) -> anyhow::Result<ExitCode> {
    let mut net = Localnet::start(&options)?;
    let nodes: Vec<Client> =
        net.apis.iter().map(|a| Client::new(&format!("http://{a}"))).collect::<Result<_, _>>()?;
    let height = wait_ready(&nodes, &net)?;
    if !json {
        net.describe();
        println!("\nThe story, each step a signed transaction committed by 4 validators:\n");
    }
    let apis: Vec<String> = net.apis.iter().map(|a| format!("http://{a}")).collect();
    // A story that cannot go on (a node unreachable, a read that never caught up) still ends
    // with an answer: the steps so far were printed, and the JSON says why it stopped.
    let (code, bill) = match play(&net, nodes, height, json) {
        Ok((all_ok, bill)) => {
            (if all_ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }, Some(bill))
        }
        Err(error) => {
            if json {
                let answer = serde_json::json!({
                    "directory": net.dir.display().to_string(),
                    "apis": apis,
                    "all_ok": false,
                    "error": format!("{error:#}"),
                });
                println!("{}", serde_json::to_string_pretty(&answer)?);
            } else {
                println!("\nThe story stopped: {error:#}");
            }
            (ExitCode::FAILURE, None)
        }
    };
    if exit {
        net.stop();
        return Ok(code);
    }
    let dir = net.dir.display().to_string();
    println!("\nThe network keeps running. Its APIs: {}", apis.join("  "));
    println!(
        "  the web portal:         {}/  (sign in with {dir}/keys/members/<member>.key.json, or a patient of {dir}/keys/patients.json)",
        apis[0]
    );
    println!("  the API's description:  {}/openapi.json", apis[0]);
    println!("  follow the ledger:      medledger watch --node {}", apis[0]);
    if let Some(bill) = bill {
        println!("  this bill:              medledger bill show {bill} --node {}", apis[0]);
    }
    println!("  status:                 medledger status --node {}", apis[0]);
    println!("Ctrl-C stops it.");
    net.wait_for_signal()?;
    net.stop();
    Ok(code)
}

/// The first demo patient with no bills yet, so that a rerun on the same network starts from
/// an untouched wallet (no deductible used, no yearly cap spent); the last one once every
/// patient has bills.
fn fresh_patient(
    client: &Client,
    patients: &[(Pseudonym, SigningKey)],
) -> anyhow::Result<(Pseudonym, SigningKey)> {
    for (pseudonym, key) in patients {
        let page = client
            .patient_bills_page(*pseudonym, &ListQuery { limit: Some(1), ..Default::default() })?;
        if page.items.is_empty() {
            return Ok((*pseudonym, key.clone()));
        }
    }
    patients.last().cloned().context("the network has no demo patients")
}

/// The story itself, on a ready network; answers whether every step turned out as the rules
/// require, and the first bill.
fn play(
    net: &Localnet,
    nodes: Vec<Client>,
    height: u64,
    json: bool,
) -> anyhow::Result<(bool, BillId)> {
    let dir = net.dir.clone();
    let chain = ChainId::new(nodes[0].status()?.chain_id)?;
    let hospital = read_member_key(&dir, "city-central-hospital")?;
    let regulator = read_member_key(&dir, "finance-bureau")?;
    let tai = read_member_key(&dir, "tai-insurance")?;
    // The hospital's own copy of each patient's bodies, erasable per patient.
    let keystore = IssuerKeystore::open(dir.join("keys/members/city-central-hospital.bodies"))?;
    let platform = read_member_key(&dir, "wallet-platform")?;
    let ss = (MemberId::new("social-security")?, read_member_key(&dir, "social-security")?);
    let insurer = (MemberId::new("ping-health")?, read_member_key(&dir, "ping-health")?);
    let patients = read_patients(&dir)?;
    let (patient, patient_key) = fresh_patient(&nodes[0], &patients)?;
    let mut f = TxFactory::new(chain.clone(), height + 1_000);
    // Fresh numbers on every run of the same network: ten per height.
    let base = (height + 1) * 10;
    let code = medledger_testkit::DEMO_BILL_CODE;
    let (a, b, red) =
        (BillId::new(code, base + 1)?, BillId::new(code, base + 2)?, BillId::new(code, base + 9)?);
    let mut story = Story { nodes, steps: Vec::new(), json, seen_height: height };

    // A payer's policy left by an earlier run on this network would settle the next claims by
    // itself; for the part of the story settled by hand, it moves to review every claim.
    for ((payer, key), name) in [(&ss, "The social security bureau"), (&insurer, "Ping Health")] {
        if let Some(policy) = story.at(0)?.policy(payer)? {
            let review =
                Policy { version: policy.version + 1, auto_approve_max: Fen::ZERO, ..policy };
            let version = review.version;
            let register = f.sign(key, Payload::RegisterPolicy { policy: review });
            story.step(
                0,
                &format!(
                    "{name}'s policy from an earlier run would settle the next claims by itself: \
                     version {version} sends every claim with a benefit to review by hand"
                ),
                "accepted",
                &register,
            )?;
        }
    }

    // 970.00 outpatient bill: the pooled fund paid 600.00 and the personal account 120.00 at
    // the counter; the patient paid 250.00, all that can ever be claimed.
    let mut first = bill(a, patient, 25_000, 60_000);
    first.amounts.personal_account = Fen(12_000);
    first.amounts.total = Fen(97_000);
    // The private bodies (name, ID, diagnosis, itemised charges) are encrypted here, in the
    // hospital, before the batch is signed: the ledger gets ciphertext and commitments.
    let sealed = story.at(0)?.seal_bills(
        vec![
            (first, sample_body("李明华 Li Minghua", "440106198512250037", 97_000)),
            (
                bill(b, patient, 8_000, 10_000),
                sample_body("李明华 Li Minghua", "440106198512250037", 18_000),
            ),
        ],
        Some(&keystore),
        2,
    )?;
    let sealed = sealed.into_iter().next().context("two bills make one batch")?;
    let issue = f.sign(&hospital, sealed);
    story.step(
        0,
        "City Central Hospital issues a signed batch of bills, their private bodies encrypted",
        "accepted",
        &issue,
    )?;

    let found = story.at(1)?.patient_bills(patient)?;
    let listed: Vec<String> = found
        .iter()
        .filter(|bill| bill.id() == a || bill.id() == b)
        .map(|bill| bill.summary())
        .collect();
    if !json {
        println!(
            "          the patient's wallet finds {} new bills: {}",
            listed.len(),
            listed.join("; ")
        );
    }

    let mut first_claim = claim(claim_id(base + 1), &ss.0, patient, &[(a, 15_000)]);
    // The patient's consent lets this payer, and only it, read the bill's body.
    first_claim.disclosures = story.at(0)?.disclosures(&patient_key, &first_claim)?;
    let submit_first =
        f.sign(&patient_key, Payload::SubmitClaim { claim: first_claim, consent: None });
    let t1 = story.step(
        1,
        "The patient claims 150.00 of the bill from the social security bureau",
        "accepted",
        &submit_first,
    )?;
    let settle = f.sign(
        &ss.1,
        Payload::SettleClaim {
            claim_id: claim_id(base + 1),
            approved: vec![Fen(15_000)],
            payment_reference: Text::new("SSB-DEMO-1")?,
        },
    );
    let t2 = story.step(2, "The social security bureau settles 150.00", "accepted", &settle)?;

    let mut second = claim(claim_id(base + 2), &insurer.0, patient, &[(a, 10_000)]);
    second.disclosures = story.at(0)?.disclosures(&patient_key, &second)?;
    let consent = consent_submit(&chain, &patient_key, &second);
    let submit_second = f.sign(
        &platform,
        Payload::SubmitClaim { claim: second.clone(), consent: Some(consent.clone()) },
    );
    let t3 = story.step(3, "The wallet platform files the remaining 100.00 with Ping Health, with the patient's consent", "accepted", &submit_second)?;
    let settle = f.sign(
        &insurer.1,
        Payload::SettleClaim {
            claim_id: claim_id(base + 2),
            approved: vec![Fen(10_000)],
            payment_reference: Text::new("PING-DEMO-2")?,
        },
    );
    let t4 = story.step(0, "Ping Health settles 100.00", "accepted", &settle)?;

    let duplicate =
        f.sign(&platform, Payload::SubmitClaim { claim: second, consent: Some(consent) });
    story.step(1, "The same claim is filed again", "duplicate_claim", &duplicate)?;
    let over = claim(claim_id(base + 3), &MemberId::new("tai-insurance")?, patient, &[(a, 1)]);
    let over = f.sign(&patient_key, Payload::SubmitClaim { claim: over, consent: None });
    story.step(
        2,
        "Tai Insurance is asked for 0.01 more on the fully reimbursed bill",
        "over_claim",
        &over,
    )?;
    let void = f.sign(&hospital, Payload::VoidBill { bill: a, red_number: red.number });
    story.step(3, "The hospital tries to void the reimbursed bill", "bill_has_claims", &void)?;

    // Privacy: who can read the bill's private body.
    story.read(0, "The patient opens the bill's private body in the wallet", "ok", |c| {
        open_as(c, a, &patient_key)
    })?;
    story.read(
        1,
        "The social security bureau, to which the patient disclosed it, opens it",
        "ok",
        |c| open_as(c, a, &ss.1),
    )?;
    story.read(2, "Tai Insurance, with no disclosure, asks for the body", "not_entitled", |c| {
        open_as(c, a, &tai)
    })?;
    story.read(
        3,
        "The finance bureau asks without recording its access",
        "access_not_recorded",
        |c| open_as(c, a, &regulator),
    )?;
    let access = f.sign(
        &regulator,
        Payload::AccessBody {
            bill: a,
            purpose: medledger_types::AccessPurpose::Audit,
            reference: Text::new("demo audit 2026-01")?,
        },
    );
    story.step(0, "The finance bureau records its access on the ledger", "accepted", &access)?;
    // Through the node that committed the access: another may not have executed that block yet.
    story.read(
        0,
        "The finance bureau opens the body, its access now on the ledger",
        "ok",
        |c| open_as(c, a, &regulator),
    )?;

    // Second-level settlement: payers register policies, and a claim within a policy's
    // auto-settle ceiling is paid in the block that accepts it. The pilot took 5 s for this.
    let covered = vec![MemberId::new("city-central-hospital")?];
    let next_version = |client: &Client, payer: &MemberId| -> anyhow::Result<u32> {
        Ok(client.policy(payer)?.map_or(1, |p| p.version + 1))
    };
    let ss_policy =
        Policy { version: next_version(story.at(0)?, &ss.0)?, ..sample_policy(&ss.0, &covered) };
    let register = f.sign(&ss.1, Payload::RegisterPolicy { policy: ss_policy.clone() });
    story.step(
        1,
        &format!(
            "The social security bureau registers its claim policy (version {}): 70% of \
             examinations, 60% of medicines, 10.00 deductible a year, claims paying up to 500.00 \
             settle by themselves",
            ss_policy.version
        ),
        "accepted",
        &register,
    )?;
    let top_up = Policy {
        version: next_version(story.at(0)?, &insurer.0)?,
        coverage: ChargeCategory::ALL
            .iter()
            .map(|c| CategoryCoverage { category: *c, ratio_bp: 10_000 })
            .collect(),
        deductible_yearly: Fen::ZERO,
        auto_approve_max: Fen(20_000),
        ..sample_policy(&insurer.0, &covered)
    };
    let register = f.sign(&insurer.1, Payload::RegisterPolicy { policy: top_up.clone() });
    story.step(
        2,
        &format!(
            "Ping Health registers a top-up policy (version {}): all of what is left, up to 200.00 \
             by itself",
            top_up.version
        ),
        "accepted",
        &register,
    )?;
    let pilot_id = BillId::new(code, base + 3)?;
    let mut pilot = bill(pilot_id, patient, 9_700, 0);
    pilot.categories = vec![
        CategoryAmount { category: ChargeCategory::Examination, amount: Fen(3_000) },
        CategoryAmount { category: ChargeCategory::WesternMedicine, amount: Fen(6_700) },
    ];
    let sealed = story
        .at(0)?
        .seal_bills(
            vec![(pilot, sample_body("李明华 Li Minghua", "440106198512250037", 9_700))],
            Some(&keystore),
            1,
        )?
        .into_iter()
        .next()
        .context("one bill makes one batch")?;
    let issue = f.sign(&hospital, sealed);
    story.step(
        3,
        "The hospital issues a 97.00 bill: 30.00 of examinations, 67.00 of western medicine",
        "accepted",
        &issue,
    )?;
    let mut pilot_claim = claim(claim_id(base + 4), &ss.0, patient, &[(pilot_id, 9_700)]);
    pilot_claim.disclosures = story.at(0)?.disclosures(&patient_key, &pilot_claim)?;
    let submit = f.sign(&patient_key, Payload::SubmitClaim { claim: pilot_claim, consent: None });
    let t5 = story.step(
        0,
        "The patient claims the 97.00 from the social security bureau",
        "accepted",
        &submit,
    )?;
    story.read(0, "The bureau's policy settled it in the block that accepted it", "ok", |c| {
        settled_in_its_block(c, claim_id(base + 4))
    })?;
    let pay = f.sign(
        &ss.1,
        Payload::RecordPayment {
            claim_id: claim_id(base + 4),
            payment_reference: Text::new("SSB-DEMO-AUTO-4")?,
        },
    );
    story.step(1, "The bureau's payment system records its payment reference", "accepted", &pay)?;
    let left = story.at(1)?.bill(pilot_id)?;
    let left = Fen(left.claimable().0 - left.reimbursed.0 - left.reserved.0);
    let rest = claim(claim_id(base + 5), &insurer.0, patient, &[(pilot_id, left.0)]);
    let consent = consent_submit(&chain, &patient_key, &rest);
    let submit_rest =
        f.sign(&platform, Payload::SubmitClaim { claim: rest, consent: Some(consent) });
    let t6 = story.step(
        2,
        &format!("The wallet platform files the remaining {left} with Ping Health"),
        "accepted",
        &submit_rest,
    )?;
    story.read(2, "Ping Health's policy paid it in the same block", "ok", |c| {
        settled_in_its_block(c, claim_id(base + 5))
    })?;
    let one_more = claim(claim_id(base + 6), &ss.0, patient, &[(pilot_id, 1)]);
    let one_more = f.sign(&patient_key, Payload::SubmitClaim { claim: one_more, consent: None });
    story.step(3, "0.01 more is claimed on the fully reimbursed bill", "over_claim", &one_more)?;

    let final_bill = story.at(2)?.bill(a)?;
    let summary = Summary {
        chain_id: chain.to_string(),
        directory: dir.display().to_string(),
        apis: net.apis.iter().map(|a| format!("http://{a}")).collect(),
        all_ok: story.steps.iter().all(|s| s.ok),
        claim_submit_to_settled_ms: vec![t1 + t2, t3 + t4, t5, t6],
        bill: serde_json::json!({
            "id": a.to_string(),
            "claimable": final_bill.claimable().to_string(),
            "reimbursed": final_bill.reimbursed.to_string(),
            "reserved": final_bill.reserved.to_string(),
        }),
        steps: story.steps,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        let passed = summary.steps.iter().filter(|s| s.ok).count();
        println!(
            "\nbill {a}: claimable {}, reimbursed {} by two payers, reserved {}",
            final_bill.claimable(),
            final_bill.reimbursed,
            final_bill.reserved
        );
        println!(
            "claim submit-to-settled: {:.0} ms (social security), {:.0} ms (Ping Health), by \
             hand; {:.0} ms and {:.0} ms settled by their policies",
            summary.claim_submit_to_settled_ms[0],
            summary.claim_submit_to_settled_ms[1],
            summary.claim_submit_to_settled_ms[2],
            summary.claim_submit_to_settled_ms[3]
        );
        println!("{passed} of {} steps turned out as the rules require", summary.steps.len());
    }
    Ok((summary.all_ok, a))
}
