//! Workloads, the senders and the commit recorder of `medledger bench`.

use super::report::{Percentiles, Phase, Report, Second};
use super::{BenchArgs, DRAIN_TIMEOUT};
use anyhow::Context as _;
use medledger_client::{Client, ClientError};
use medledger_node::init::{read_member_key, read_patients};
use medledger_node::localnet::Localnet;
use medledger_testkit::{
    TxFactory, bill, claim, claim_id, sample_body, sample_policy, stub_issue_for,
};
use medledger_types::api::{Event, EventFilter};
use medledger_types::{
    BillId, CategoryCoverage, ChainId, ChargeCategory, ClaimId, Fen, Genesis, MemberId, Payload,
    Policy, Pseudonym, Role, SigningKey, Text, Transaction, TxId,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What `medledger bench` drives.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Individually signed claims, then their settlements.
    Claims,
    /// Sealed bills in signed batches.
    Issue,
    /// Issue, then claim each bill, then settle each claim, driven by the event stream.
    Mixed,
    /// The social security bureau registers a policy, then individually signed claims that its
    /// policy settles in the block that accepts them (submit-to-settled is submit-to-commit).
    Auto,
}

/// The patient-pay part of every benchmark bill, in fen (100.00 yuan).
const CLAIMABLE: u64 = 10_000;
/// What each benchmark claim asks for (50.00 yuan).
const CLAIMED: u64 = 5_000;
/// Bills per setup batch (stand-in bodies, so small enough for one transaction).
const SETUP_BATCH: usize = 500;

/// What the recorder saw of one transaction.
#[derive(Clone, Copy)]
struct Seen {
    at: Instant,
    accepted: bool,
}

/// Shared between the senders, the recorder and the phase that waits.
#[derive(Default)]
struct Book {
    /// When each transaction of this run was submitted.
    submitted: HashMap<TxId, Instant>,
    /// When each was executed, and whether it was accepted.
    seen: HashMap<TxId, Seen>,
    /// Transactions to send once a transaction is accepted (mixed).
    followups: HashMap<TxId, Vec<Transaction>>,
    /// For a settlement: its claim's submission (submit-to-settled latency).
    settles_claim: HashMap<TxId, TxId>,
    /// Rejections by the ledger's code, for this run's transactions.
    rejections: BTreeMap<String, u64>,
    /// Bills issued by this run's transactions.
    bills: u64,
    /// Committed transactions per second since the run started.
    per_second: BTreeMap<u64, u64>,
    /// Claim submissions the ledger settled by the payer's policy as it accepted them.
    auto_settled: HashSet<TxId>,
}

struct Recorder {
    book: Arc<Mutex<Book>>,
    queue: mpsc::Sender<Transaction>,
    started: Instant,
}

impl Recorder {
    /// Follows node 0's events from `height` on, stamping this run's transactions.
    fn start(node: Client, height: u64, queue: mpsc::Sender<Transaction>) -> Self {
        let book = Arc::new(Mutex::new(Book::default()));
        let started = Instant::now();
        let (shared, followups) = (book.clone(), queue.clone());
        std::thread::spawn(move || {
            let filter = EventFilter { from_height: Some(height), ..EventFilter::default() };
            for envelope in node.events(filter).flatten() {
                let at = Instant::now();
                if let Event::ClaimSettled { tx_id, auto: true, .. } = &envelope.event {
                    let mut book = shared.lock().expect("the book is never poisoned");
                    book.auto_settled.insert(*tx_id);
                }
                let (tx_id, accepted, code, bills) = match &envelope.event {
                    Event::BillsIssued { tx_id, bills, .. } => (*tx_id, true, None, bills.len()),
                    Event::BillVoided { tx_id, .. }
                    | Event::ClaimSubmitted { tx_id, .. }
                    | Event::ClaimSettled { tx_id, .. }
                    | Event::ClaimRejected { tx_id, .. }
                    | Event::ClaimWithdrawn { tx_id, .. }
                    | Event::PaymentRecorded { tx_id, .. }
                    | Event::PolicyRegistered { tx_id, .. }
                    | Event::BodyAccessed { tx_id, .. } => (*tx_id, true, None, 0),
                    Event::TxRejected { tx_id, code, .. } => (*tx_id, false, Some(code.clone()), 0),
                    Event::Block { .. } => continue,
                };
                let mut book = shared.lock().expect("the book is never poisoned");
                if !book.submitted.contains_key(&tx_id) || book.seen.contains_key(&tx_id) {
                    continue;
                }
                book.seen.insert(tx_id, Seen { at, accepted });
                let second = at.duration_since(started).as_secs();
                *book.per_second.entry(second).or_default() += 1;
                book.bills += bills as u64;
                if let Some(code) = code {
                    *book.rejections.entry(code).or_default() += 1;
                }
                if accepted && let Some(next) = book.followups.remove(&tx_id) {
                    for tx in next {
                        let _ = followups.send(tx);
                    }
                }
            }
        });
        Self { book, queue, started }
    }
}

/// One phase: sends `txs` (and whatever they lead to) and waits until all were executed.
struct Driver<'a> {
    args: &'a BenchArgs,
    nodes: &'a [Client],
    recorder: &'a Recorder,
    queue: Arc<Mutex<mpsc::Receiver<Transaction>>>,
}

impl Driver<'_> {
    fn phase(&self, name: &str, txs: Vec<Transaction>, expected_total: usize) -> Phase {
        let count = txs.len();
        eprintln!("{name}: {count} pre-signed transactions, {expected_total} in all");
        let ids: Vec<TxId> = txs.iter().map(Transaction::id).collect();
        let start = Instant::now();
        let done = Arc::new(AtomicBool::new(false));
        let senders = self.senders(&done);
        match self.args.rate {
            None => {
                for tx in txs {
                    let _ = self.recorder.queue.send(tx);
                }
            }
            Some(rate) => {
                let interval = Duration::from_secs_f64(1.0 / rate.max(0.001));
                for (i, tx) in txs.into_iter().enumerate() {
                    let due = start + interval * u32::try_from(i).unwrap_or(u32::MAX);
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    let _ = self.recorder.queue.send(tx);
                }
            }
        }
        // Wait for every transaction of the phase, with progress each second.
        let mut last_progress = Instant::now();
        let mut last_seen = (0, Instant::now());
        loop {
            let (seen, total) = {
                let book = self.recorder.book.lock().expect("the book is never poisoned");
                let seen = book.seen.len();
                (seen, seen + book.followups.len())
            };
            if seen != last_seen.0 {
                last_seen = (seen, Instant::now());
            }
            let phase_seen = self.seen_of(&ids);
            if phase_seen >= count && self.all_followups_done(expected_total) {
                break;
            }
            if last_seen.1.elapsed() > DRAIN_TIMEOUT {
                eprintln!("{name}: nothing committed for {DRAIN_TIMEOUT:?}; stopping the phase");
                break;
            }
            if last_progress.elapsed() >= Duration::from_secs(1) {
                progress(name, start, seen, total.max(expected_total));
                last_progress = Instant::now();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let (seen, total) = {
            let book = self.recorder.book.lock().expect("the book is never poisoned");
            (book.seen.len(), book.submitted.len())
        };
        progress(name, start, seen, total.max(expected_total));
        done.store(true, Ordering::SeqCst);
        for sender in senders {
            let _ = sender.join();
        }
        self.summarize(name, start)
    }

    fn seen_of(&self, ids: &[TxId]) -> usize {
        let book = self.recorder.book.lock().expect("the book is never poisoned");
        ids.iter().filter(|id| book.seen.contains_key(id)).count()
    }

    /// Whether every transaction submitted so far was executed, and `expected_total` of them
    /// were submitted (mixed: follow-ups included).
    fn all_followups_done(&self, expected_total: usize) -> bool {
        let book = self.recorder.book.lock().expect("the book is never poisoned");
        book.followups.is_empty()
            && book.submitted.len() >= expected_total
            && book.submitted.keys().all(|id| book.seen.contains_key(id))
    }

    fn senders(&self, done: &Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<()>> {
        (0..self.args.clients.max(1))
            .map(|t| {
                let (queue, done) = (self.queue.clone(), done.clone());
                let nodes: Vec<Client> = self.nodes.to_vec();
                let book = self.recorder.book.clone();
                let per_request = usize::from(self.args.submit_batch.max(1));
                std::thread::spawn(move || {
                    let mut next = t;
                    while !done.load(Ordering::SeqCst) {
                        // One transaction, then whatever else is ready, up to the batch size.
                        let mut txs = Vec::with_capacity(per_request);
                        {
                            let queue = queue.lock().expect("the queue is never poisoned");
                            let Ok(first) = queue.recv_timeout(Duration::from_millis(20)) else {
                                continue;
                            };
                            txs.push(first);
                            while txs.len() < per_request {
                                match queue.try_recv() {
                                    Ok(tx) => txs.push(tx),
                                    Err(_) => break,
                                }
                            }
                        }
                        let node = &nodes[next % nodes.len()];
                        next += 1;
                        {
                            let now = Instant::now();
                            let mut book = book.lock().expect("the book is never poisoned");
                            for tx in &txs {
                                book.submitted.insert(tx.id(), now);
                            }
                        }
                        if per_request == 1 {
                            submit_one(node, &txs[0]);
                        } else {
                            submit_many(node, txs);
                        }
                    }
                })
            })
            .collect()
    }

    fn summarize(&self, name: &str, start: Instant) -> Phase {
        let book = self.recorder.book.lock().expect("the book is never poisoned");
        let mut latencies: Vec<f64> = Vec::new();
        let mut settled: Vec<f64> = Vec::new();
        let (mut committed, mut accepted, mut last) = (0u64, 0u64, start);
        for (id, sent) in &book.submitted {
            if *sent < start {
                continue;
            }
            let Some(seen) = book.seen.get(id) else { continue };
            committed += 1;
            accepted += u64::from(seen.accepted);
            last = last.max(seen.at);
            latencies.push(seen.at.duration_since(*sent).as_secs_f64() * 1_000.0);
            if let Some(claim) = book.settles_claim.get(id)
                && let Some(filed) = book.submitted.get(claim)
            {
                settled.push(seen.at.duration_since(*filed).as_secs_f64() * 1_000.0);
            }
            if book.auto_settled.contains(id) {
                settled.push(seen.at.duration_since(*sent).as_secs_f64() * 1_000.0);
            }
        }
        let seconds = last.duration_since(start).as_secs_f64().max(0.001);
        Phase {
            name: name.to_string(),
            committed,
            accepted,
            seconds,
            tx_per_s: committed as f64 / seconds,
            bills_per_s: None,
            latency_ms: Percentiles::of(&mut latencies),
            submit_to_settled_ms: (!settled.is_empty()).then(|| Percentiles::of(&mut settled)),
            auto_settled: None,
        }
    }
}

/// Submits one transaction, backing off while the node is full.
fn submit_one(node: &Client, tx: &Transaction) {
    loop {
        match node.submit(tx) {
            Err(ClientError::Api { status: 503 | 429, .. }) => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => {
                eprintln!("submission refused: {e}");
                return;
            }
            Ok(_) => return,
        }
    }
}

/// Submits transactions in one batch request, sending again those the node had no room for.
fn submit_many(node: &Client, mut txs: Vec<Transaction>) {
    while !txs.is_empty() {
        match node.submit_batch(&txs) {
            Err(ClientError::Api { status: 503 | 429, .. }) => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => {
                eprintln!("batch submission refused: {e}");
                return;
            }
            Ok(answer) => {
                let mut retry = Vec::new();
                for (tx, item) in txs.into_iter().zip(answer.results) {
                    match item.error {
                        Some(e)
                            if matches!(e.code.as_str(), "mempool_full" | "signer_queue_full") =>
                        {
                            retry.push(tx);
                        }
                        Some(e) => eprintln!("submission refused: {}: {}", e.code, e.message),
                        None => {}
                    }
                }
                if !retry.is_empty() {
                    std::thread::sleep(Duration::from_millis(20));
                }
                txs = retry;
            }
        }
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// One progress line: what the phase has seen committed so far.
fn progress(name: &str, start: Instant, seen: usize, total: usize) {
    let elapsed = start.elapsed().as_secs_f64();
    eprintln!(
        "  {name}: {elapsed:>5.1} s  {seen} of {total} committed ({:.0} tx/s)",
        seen as f64 / elapsed.max(0.001)
    );
}

/// The keys and parties a workload signs with.
struct Parties {
    genesis: Genesis,
    chain: ChainId,
    hospitals: Vec<(MemberId, SigningKey)>,
    payer: (MemberId, SigningKey),
    patients: Vec<(Pseudonym, SigningKey)>,
    /// Synthetic bills in the genesis state that claims go to (0: bills issued in setup).
    preloaded: u64,
    /// Each patient's index in `patients`.
    patient_index: HashMap<Pseudonym, usize>,
}

impl Parties {
    fn load(net: &Localnet, node: &Client) -> anyhow::Result<Self> {
        let genesis: Genesis =
            serde_json::from_str(&std::fs::read_to_string(net.dir.join("genesis.json"))?)?;
        let hospital = |id: &str| -> anyhow::Result<(MemberId, SigningKey)> {
            Ok((MemberId::new(id)?, read_member_key(&net.dir, id)?))
        };
        let patients = read_patients(&net.dir)?;
        let patient_index = patients.iter().enumerate().map(|(i, (p, _))| (*p, i)).collect();
        Ok(Self {
            chain: node.chain_id()?,
            hospitals: vec![hospital("city-central-hospital")?],
            payer: hospital("social-security")?,
            patients,
            preloaded: genesis.synthetic_bills.as_ref().map_or(0, |s| s.count),
            patient_index,
            genesis,
        })
    }

    /// The bill claim `n` (from 1) goes to, and its patient. With enough synthetic bills
    /// preloaded, a different one of them for each claim, spread over all of them (so claims
    /// touch the whole state, as they would a long-running ledger's); otherwise bill `n`
    /// issued in setup.
    fn claimed_bill(&self, n: u64, count: u64) -> (BillId, usize) {
        let Some(spec) = self.genesis.synthetic_bills.as_ref().filter(|_| self.preloaded >= count)
        else {
            return self.bill(n);
        };
        // A stride coprime with the number of bills visits each bill once.
        let mut stride = 1_000_003u64;
        while gcd(stride, self.preloaded) != 1 {
            stride += 2;
        }
        let number = 1 + (n % self.preloaded) * (stride % self.preloaded) % self.preloaded;
        let id = BillId::new(spec.code.get(), number).expect("synthetic numbers are valid");
        let owner = usize::try_from(number).map_or(0, |k| k % self.genesis.patients.len());
        let patient = self.patient_index[&self.genesis.patients[owner].pseudonym];
        (id, patient)
    }

    /// Bill `n` (from 1) of hospital 0, for patient `n % patients`.
    fn bill(&self, n: u64) -> (BillId, usize) {
        let id =
            BillId::new(medledger_testkit::DEMO_BILL_CODE, n).expect("bench numbers are valid");
        (id, usize::try_from(n).unwrap_or(0) % self.patients.len())
    }

    fn factory(&self, node: &Client) -> anyhow::Result<TxFactory> {
        // Signed just before each phase, expiring as late as the ledger allows.
        Ok(TxFactory::new(self.chain.clone(), node.status()?.height + 1_990))
    }
}

/// Issues bills `first..first+count` with stand-in bodies, untimed (the claims workload's
/// setup).
fn setup_bills(parties: &Parties, node: &Client, first: u64, count: u64) -> anyhow::Result<()> {
    let mut f = parties.factory(node)?;
    let numbers: Vec<u64> = (first..first + count).collect();
    for (i, chunk) in numbers.chunks(SETUP_BATCH).enumerate() {
        let bills = chunk
            .iter()
            .map(|n| {
                let (id, p) = parties.bill(*n);
                bill(id, parties.patients[p].0, CLAIMABLE, 0)
            })
            .collect();
        let tx = f.sign(&parties.hospitals[0].1, stub_issue_for(&parties.genesis, bills));
        let committed = node.submit_and_wait(&tx).context("setup issuance")?;
        anyhow::ensure!(
            committed.receipt.outcome.is_accepted(),
            "setup: {}",
            committed.receipt.outcome
        );
        if (i + 1) % 10 == 0 {
            eprintln!("setup: {} of {count} bills issued", (i + 1) * SETUP_BATCH);
        }
    }
    Ok(())
}

/// Sealed issuance batches of `count` bills from `first` (real encryption, before the clock).
fn sealed_batches(
    args: &BenchArgs,
    parties: &Parties,
    node: &Client,
    first: u64,
    count: u64,
) -> anyhow::Result<Vec<Payload>> {
    let started = Instant::now();
    let bills = (first..first + count)
        .map(|n| {
            let (id, p) = parties.bill(n);
            let issue = bill(id, parties.patients[p].0, CLAIMABLE, 0);
            (issue, sample_body("Bench Patient", "BENCH-ID", CLAIMABLE))
        })
        .collect();
    let payloads = node.seal_bills(bills, None, usize::from(args.batch))?;
    eprintln!(
        "sealed {count} bodies in {} batches ({:.1} s, {:.0} µs a bill)",
        payloads.len(),
        started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64() * 1e6 / count as f64
    );
    Ok(payloads)
}

fn submit_claim(
    f: &mut TxFactory,
    parties: &Parties,
    (bill_id, p): (BillId, usize),
    id: ClaimId,
    amount: u64,
) -> Transaction {
    let (patient, key) = &parties.patients[p];
    let sub = claim(id, &parties.payer.0, *patient, &[(bill_id, amount)]);
    f.sign(key, Payload::SubmitClaim { claim: sub, consent: None })
}

fn settle(f: &mut TxFactory, parties: &Parties, id: ClaimId, amount: u64) -> Transaction {
    let payment_reference = Text::new("BENCH").expect("valid text");
    let payload =
        Payload::SettleClaim { claim_id: id, approved: vec![Fen(amount)], payment_reference };
    f.sign(&parties.payer.1, payload)
}

/// Registers the payer's next policy version: every category at 70% after a 10-yuan yearly
/// deductible, every hospital covered, and every benchmark claim within the auto-settle
/// ceiling.
fn register_policy(parties: &Parties, node: &Client) -> anyhow::Result<()> {
    let payer = &parties.payer;
    let hospitals: Vec<MemberId> = parties
        .genesis
        .members
        .iter()
        .filter(|m| m.roles.has(Role::Hospital))
        .map(|m| m.id.clone())
        .collect();
    let policy = Policy {
        version: node.policy(&payer.0)?.map_or(1, |p| p.version + 1),
        coverage: ChargeCategory::ALL
            .iter()
            .map(|c| CategoryCoverage { category: *c, ratio_bp: 7_000 })
            .collect(),
        auto_approve_max: Fen(CLAIMABLE),
        ..sample_policy(&payer.0, &hospitals)
    };
    let tx = parties.factory(node)?.sign(&payer.1, Payload::RegisterPolicy { policy });
    let committed = node.submit_and_wait(&tx).context("registering the policy")?;
    anyhow::ensure!(
        committed.receipt.outcome.is_accepted(),
        "policy: {}",
        committed.receipt.outcome
    );
    eprintln!("setup: {} registered its policy: {}", payer.0, committed.receipt.outcome);
    Ok(())
}

/// Runs the workload on the running network and reports.
pub fn run(args: &BenchArgs, net: &Localnet, nodes: &[Client]) -> anyhow::Result<Report> {
    let parties = Parties::load(net, &nodes[0])?;
    let count = args.count as u64;
    let (queue, receiver) = mpsc::channel();
    let recorder = Recorder::start(nodes[0].clone(), nodes[0].status()?.height, queue);
    let driver = Driver { args, nodes, recorder: &recorder, queue: Arc::new(Mutex::new(receiver)) };
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    let claims_workload = matches!(args.workload, Workload::Claims | Workload::Auto);
    if claims_workload && parties.preloaded >= count {
        eprintln!(
            "claims go to {count} of the {} bills generated at genesis, spread over all of them",
            parties.preloaded
        );
    } else if claims_workload {
        eprintln!("setup: issuing {count} bills for the claims (untimed)");
        setup_bills(&parties, &nodes[0], 1, count)?;
    }
    let resources = super::report::Resources::start(net);
    let mut phases = Vec::new();
    match args.workload {
        Workload::Claims => {
            let mut f = parties.factory(&nodes[0])?;
            let (mut txs, mut claims) = (Vec::new(), Vec::new());
            let dup_every = 100 / u64::from(args.duplicates_percent.max(1));
            let over_every = 100 / u64::from(args.over_claims_percent.max(1));
            for n in 1..=count {
                let id = claim_id(n);
                let bill = parties.claimed_bill(n, count);
                txs.push(submit_claim(&mut f, &parties, bill, id, CLAIMED));
                claims.push(id);
                if args.duplicates_percent > 0 && n % dup_every == 0 {
                    txs.push(submit_claim(&mut f, &parties, bill, id, CLAIMED));
                    *expected.entry("duplicate_claim".into()).or_default() += 1;
                }
                if args.over_claims_percent > 0 && n % over_every == 0 {
                    // More than the bill's claimable amount, whatever else is claimed.
                    let over = claim_id(count + n);
                    txs.push(submit_claim(&mut f, &parties, bill, over, CLAIMABLE + 1));
                    *expected.entry("over_claim".into()).or_default() += 1;
                }
            }
            let total = txs.len();
            phases.push(driver.phase("claim submit", txs, total));
            let mut f = parties.factory(&nodes[0])?;
            let settles: Vec<Transaction> =
                claims.iter().map(|id| settle(&mut f, &parties, *id, CLAIMED)).collect();
            let total = total + settles.len();
            phases.push(driver.phase("claim settle", settles, total));
        }
        Workload::Auto => {
            register_policy(&parties, &nodes[0])?;
            let mut f = parties.factory(&nodes[0])?;
            let mut txs = Vec::new();
            let over_every = 100 / u64::from(args.over_claims_percent.max(1));
            for n in 1..=count {
                let bill = parties.claimed_bill(n, count);
                txs.push(submit_claim(&mut f, &parties, bill, claim_id(n), CLAIMED));
                if args.over_claims_percent > 0 && n % over_every == 0 {
                    let over = claim_id(count + n);
                    txs.push(submit_claim(&mut f, &parties, bill, over, CLAIMABLE + 1));
                    *expected.entry("over_claim".into()).or_default() += 1;
                }
            }
            let total = txs.len();
            let mut phase = driver.phase("claims settled by policy", txs, total);
            let auto = recorder.book.lock().expect("the book is never poisoned").auto_settled.len();
            eprintln!("{auto} of {count} claims were settled by the policy in their own block");
            phase.auto_settled = Some(auto as u64);
            phases.push(phase);
        }
        Workload::Issue => {
            let batches = sealed_batches(args, &parties, &nodes[0], 1, count)?;
            let mut f = parties.factory(&nodes[0])?;
            let txs: Vec<Transaction> =
                batches.into_iter().map(|p| f.sign(&parties.hospitals[0].1, p)).collect();
            let total = txs.len();
            let mut phase = driver.phase("issue", txs, total);
            phase.bills_per_s = Some(recorder.bills() as f64 / phase.seconds);
            phases.push(phase);
        }
        Workload::Mixed => {
            let batches = sealed_batches(args, &parties, &nodes[0], 1, count)?;
            let mut f = parties.factory(&nodes[0])?;
            let mut txs = Vec::new();
            let mut book = recorder.book.lock().expect("the book is never poisoned");
            let mut n = 1u64;
            for payload in batches {
                let bills = match &payload {
                    Payload::IssueBills { bills, .. } => bills.len() as u64,
                    _ => 0,
                };
                let issue = f.sign(&parties.hospitals[0].1, payload);
                let mut claims = Vec::new();
                for k in n..n + bills {
                    let id = claim_id(k);
                    let filed = submit_claim(&mut f, &parties, parties.bill(k), id, CLAIMED);
                    let settled = settle(&mut f, &parties, id, CLAIMED);
                    book.settles_claim.insert(settled.id(), filed.id());
                    book.followups.insert(filed.id(), vec![settled]);
                    claims.push(filed);
                }
                n += bills;
                book.followups.insert(issue.id(), claims);
                txs.push(issue);
            }
            drop(book);
            let total = txs.len() + 2 * args.count;
            let mut phase = driver.phase("issue → claim → settle", txs, total);
            phase.bills_per_s = Some(recorder.bills() as f64 / phase.seconds);
            phases.push(phase);
        }
    }
    let book = recorder.book.lock().expect("the book is never poisoned");
    let transactions = book.seen.len() as u64;
    let resources = resources.finish(net, transactions, book.bills.max(count), book.bills);
    // Latency of what committed in each second.
    let mut latencies: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
    for (id, seen) in &book.seen {
        if let Some(sent) = book.submitted.get(id) {
            let second = seen.at.duration_since(recorder.started).as_secs();
            let ms = seen.at.duration_since(*sent).as_secs_f64() * 1_000.0;
            latencies.entry(second).or_default().push(ms);
        }
    }
    let series: Vec<Second> = book
        .per_second
        .iter()
        .map(|(t, n)| {
            let mut values = latencies.remove(t).unwrap_or_default();
            let p = Percentiles::of(&mut values);
            Second { second: *t, committed: *n, p50_ms: p.p50, p99_ms: p.p99 }
        })
        .collect();
    Ok(Report {
        workload: format!("{:?}", args.workload).to_lowercase(),
        validators: args.validators,
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        mode: match args.rate {
            Some(rate) => format!("open loop at {rate} tx/s"),
            None => "closed loop (peak)".to_string(),
        },
        clients: args.clients,
        submit_batch: args.submit_batch,
        phases,
        rejections: book.rejections.clone(),
        expected_rejections: expected,
        resources,
        series,
        compare: None,
    })
}

impl Recorder {
    fn bills(&self) -> u64 {
        self.book.lock().expect("the book is never poisoned").bills
    }
}
