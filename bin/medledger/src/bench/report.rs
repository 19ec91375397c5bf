//! What `medledger bench` reports: per phase throughput and latency, rejections against
//! expectation, validators' CPU, memory and disk, and (with `--compare`) the limits.

use super::BenchArgs;
use medledger_node::localnet::Localnet;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

/// Latency percentiles, milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Percentiles {
    pub samples: usize,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Percentiles {
    /// The percentiles of `values` (sorted in place); zeros when empty.
    pub fn of(values: &mut [f64]) -> Self {
        values.sort_by(f64::total_cmp);
        let at = |p: f64| {
            if values.is_empty() {
                return 0.0;
            }
            let last = values.len() - 1;
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // an index ≤ last
            let index = ((last as f64) * p).round() as usize;
            values[index.min(last)]
        };
        Self { samples: values.len(), p50: at(0.50), p90: at(0.90), p99: at(0.99), max: at(1.0) }
    }
}

/// One timed phase.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    pub name: String,
    /// Transactions executed (accepted or rejected by the ledger).
    pub committed: u64,
    pub accepted: u64,
    /// From the first submission to the last execution.
    pub seconds: f64,
    pub tx_per_s: f64,
    pub bills_per_s: Option<f64>,
    /// Submit-to-commit latency, as the client sees it.
    pub latency_ms: Percentiles,
    /// Claim submission to its settlement's commit (mixed; auto: claims settled by policy).
    pub submit_to_settled_ms: Option<Percentiles>,
    /// Claims the ledger settled by the payer's policy in the block that accepted them (auto).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_settled: Option<u64>,
}

/// One second of the run: transactions committed in it, and their submit-to-commit latency.
#[derive(Debug, Clone, Serialize)]
pub struct Second {
    pub second: u64,
    pub committed: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// What the validator processes used over the timed phases.
#[derive(Debug, Clone, Serialize)]
pub struct Resources {
    /// User + system CPU of all validators, per 1,000 committed transactions.
    pub cpu_seconds_per_1000_tx: f64,
    /// All validators' CPU over the run, seconds.
    pub cpu_seconds: f64,
    /// This process's CPU over the run (the load client: senders, event stream, bookkeeping),
    /// seconds; it shares the machine's cores with the validators.
    pub client_cpu_seconds: f64,
    /// Each validator's peak resident memory, MiB.
    pub peak_memory_mib: Vec<f64>,
    /// CPU per 1,000 bills issued, when the run issued bills.
    pub cpu_seconds_per_1000_bills: Option<f64>,
    /// What the run added to the validators' homes, per validator and per bill it issued (or,
    /// for the claims workload, per bill it set up and claimed).
    pub disk_bytes_per_bill: f64,
    #[serde(skip)]
    cpu_before: f64,
    #[serde(skip)]
    bytes_before: u64,
    #[serde(skip)]
    pids: Vec<u32>,
}

/// CPU seconds (user + system) a process has used, from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // Fields after the command name (which may hold spaces) start at state, field 3.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else { return 0.0 };
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after the state; 100 ticks a second
    // on Linux (USER_HZ).
    (ticks(11) + ticks(12)) / 100.0
}

fn peak_memory_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmHWM:")
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn bytes_under(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => bytes_under(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

impl Resources {
    pub fn start(net: &Localnet) -> Self {
        let pids = net.pids();
        Self {
            cpu_seconds_per_1000_tx: 0.0,
            cpu_seconds: 0.0,
            client_cpu_seconds: -cpu_seconds(std::process::id()),
            peak_memory_mib: Vec::new(),
            cpu_seconds_per_1000_bills: None,
            disk_bytes_per_bill: 0.0,
            cpu_before: pids.iter().map(|p| cpu_seconds(*p)).sum(),
            bytes_before: net.homes.iter().map(|h| bytes_under(h)).sum(),
            pids,
        }
    }

    /// What the validators used since [`Resources::start`]: `transactions` committed, `bills`
    /// on the ledger of which `issued` by the timed phases.
    pub fn finish(mut self, net: &Localnet, transactions: u64, bills: u64, issued: u64) -> Self {
        let cpu: f64 = self.pids.iter().map(|p| cpu_seconds(*p)).sum::<f64>() - self.cpu_before;
        self.cpu_seconds = cpu;
        self.client_cpu_seconds += cpu_seconds(std::process::id());
        self.cpu_seconds_per_1000_tx = cpu * 1_000.0 / transactions.max(1) as f64;
        self.cpu_seconds_per_1000_bills = (issued > 0).then(|| cpu * 1_000.0 / issued as f64);
        self.peak_memory_mib = self.pids.iter().map(|p| peak_memory_mib(*p)).collect();
        let bytes: u64 = net.homes.iter().map(|h| bytes_under(h)).sum();
        let added = bytes.saturating_sub(self.bytes_before);
        self.disk_bytes_per_bill =
            added as f64 / net.homes.len().max(1) as f64 / bills.max(1) as f64;
        self
    }
}

/// The limits and baseline of `--compare`, and our ratios to them.
#[derive(Debug, Clone, Serialize)]
pub struct Compare {
    /// Batch ed25519 verifications per second on one core of this machine.
    pub batch_verify_per_core: f64,
    /// That × cores ÷ validators: what validators sharing these cores can verify, each
    /// checking every transaction's signature once.
    pub signature_bound_tx_per_s: f64,
    /// Our signed claims per second (claims workload) over that bound.
    pub ratio_to_signature_bound: Option<f64>,
    /// The PostgreSQL baseline, when PostgreSQL is installed.
    pub postgres: Option<super::postgres::PgBaseline>,
    /// Our signed claims/s over PostgreSQL's durable claim transactions/s.
    pub ratio_claims_to_postgres: Option<f64>,
    /// Our issued bills/s over PostgreSQL's bulk-insert bills/s.
    pub ratio_bills_to_postgres: Option<f64>,
    /// Our issued bills/s over PostgreSQL's bulk-insert bills/s with bodies of our size.
    pub ratio_bills_to_postgres_with_bodies: Option<f64>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub workload: String,
    pub validators: usize,
    pub cores: usize,
    pub mode: String,
    pub clients: usize,
    /// Transactions per HTTP request.
    pub submit_batch: u16,
    pub phases: Vec<Phase>,
    /// The ledger's rejections of this run's transactions, by code.
    pub rejections: BTreeMap<String, u64>,
    /// What the workload planted.
    pub expected_rejections: BTreeMap<String, u64>,
    pub resources: Resources,
    pub series: Vec<Second>,
    pub compare: Option<Compare>,
}

impl Report {
    /// Every transaction executed, and the rejections exactly those planted.
    pub fn checks_ok(&self) -> bool {
        self.rejections == self.expected_rejections
    }
}

/// Measures the signature bound and (where installed) the PostgreSQL baseline.
pub fn compare(args: &BenchArgs, report: &Report) -> Compare {
    let per_core = batch_verify_rate();
    let bound = per_core * report.cores.max(1) as f64 / args.validators.max(1) as f64;
    let first = report.phases.first().map_or(0.0, |p| p.tx_per_s);
    let claims = (args.workload == super::Workload::Claims).then_some(first);
    let postgres = match super::postgres::run(args.clients.max(1), 10, &|line| eprintln!("{line}"))
    {
        Ok(baseline) => baseline,
        Err(e) => {
            eprintln!("PostgreSQL baseline failed: {e:#}");
            None
        }
    };
    let bills = report.phases.iter().find_map(|p| p.bills_per_s);
    Compare {
        batch_verify_per_core: per_core,
        signature_bound_tx_per_s: bound,
        ratio_to_signature_bound: claims.map(|ours| ours / bound.max(f64::MIN_POSITIVE)),
        ratio_claims_to_postgres: postgres
            .as_ref()
            .zip(claims)
            .map(|(pg, ours)| ours / pg.claim_tps.max(f64::MIN_POSITIVE)),
        ratio_bills_to_postgres: postgres
            .as_ref()
            .zip(bills)
            .map(|(pg, ours)| ours / pg.bulk_bills_per_s.max(f64::MIN_POSITIVE)),
        ratio_bills_to_postgres_with_bodies: postgres
            .as_ref()
            .zip(bills)
            .map(|(pg, ours)| ours / pg.bulk_with_bodies_bills_per_s.max(f64::MIN_POSITIVE)),
        postgres,
    }
}

/// Batch ed25519 verifications per second on this thread (batches of 1,000 claim-sized
/// messages, for about two seconds).
fn batch_verify_rate() -> f64 {
    use medledger_crypto::{Namespace, SignedMessage, SigningKey, verify_batch};
    let keys: Vec<SigningKey> =
        (0..1_000).map(|i| SigningKey::from_label(&format!("b{i}"))).collect();
    let messages: Vec<Vec<u8>> =
        (0..1_000u32).map(|i| [i.to_be_bytes().as_slice(); 40].concat()).collect();
    let public: Vec<_> = keys.iter().map(SigningKey::public_key).collect();
    let signatures: Vec<_> =
        keys.iter().zip(&messages).map(|(k, m)| k.sign(Namespace::Transaction, m)).collect();
    let items: Vec<SignedMessage<'_>> = (0..1_000)
        .map(|i| SignedMessage {
            namespace: Namespace::Transaction,
            message: &messages[i],
            public_key: &public[i],
            signature: &signatures[i],
        })
        .collect();
    let started = Instant::now();
    let mut verified = 0u64;
    while started.elapsed().as_secs_f64() < 2.0 {
        let valid = verify_batch(&items);
        assert!(valid.iter().all(|v| *v), "benchmark signatures verify");
        verified += valid.len() as u64;
    }
    verified as f64 / started.elapsed().as_secs_f64()
}

/// Prints the report for people.
pub fn print(report: &Report) {
    println!(
        "\nmedledger bench: {} workload, {} validators on {} cores, {}, {} client threads, {}",
        report.workload,
        report.validators,
        report.cores,
        report.mode,
        report.clients,
        match report.submit_batch {
            1 => "one transaction per request".to_string(),
            n => format!("up to {n} transactions per request"),
        }
    );
    for phase in &report.phases {
        let l = &phase.latency_ms;
        println!("\n  {}", phase.name);
        println!(
            "    committed      {} transactions ({} accepted) in {:.2} s: {:.0} tx/s{}",
            phase.committed,
            phase.accepted,
            phase.seconds,
            phase.tx_per_s,
            phase.bills_per_s.map_or(String::new(), |b| format!(", {b:.0} bills/s"))
        );
        println!(
            "    submit→commit  p50 {:.0} ms  p90 {:.0} ms  p99 {:.0} ms  max {:.0} ms",
            l.p50, l.p90, l.p99, l.max
        );
        if let Some(auto) = phase.auto_settled {
            println!("    claims settled by the payer's policy in their own block: {auto}");
        }
        if let Some(s) = &phase.submit_to_settled_ms {
            println!(
                "    claim submit→settled  p50 {:.0} ms  p90 {:.0} ms  p99 {:.0} ms  max {:.0} ms",
                s.p50, s.p90, s.p99, s.max
            );
        }
    }
    println!("\n  rejections by the ledger (expected in brackets)");
    let codes: std::collections::BTreeSet<&String> =
        report.rejections.keys().chain(report.expected_rejections.keys()).collect();
    if codes.is_empty() {
        println!("    none [none]");
    }
    for code in codes {
        println!(
            "    {code:<20} {} [{}]",
            report.rejections.get(code).copied().unwrap_or(0),
            report.expected_rejections.get(code).copied().unwrap_or(0)
        );
    }
    let r = &report.resources;
    println!(
        "\n  validators: {:.2} CPU s per 1,000 tx{} ({:.1} CPU s in all; the load client {:.1}); peak memory {} MiB; {:.0} bytes on disk per bill per validator",
        r.cpu_seconds_per_1000_tx,
        r.cpu_seconds_per_1000_bills.map_or(String::new(), |b| format!(", {b:.2} per 1,000 bills")),
        r.cpu_seconds,
        r.client_cpu_seconds,
        r.peak_memory_mib.iter().map(|m| format!("{m:.0}")).collect::<Vec<_>>().join(" / "),
        r.disk_bytes_per_bill
    );
    if let Some(c) = &report.compare {
        println!("\n  limits and baseline, same machine, same run");
        println!(
            "    ed25519 batch verification {:.0}/s per core → bound {:.0} tx/s for {} validators on {} cores{}",
            c.batch_verify_per_core,
            c.signature_bound_tx_per_s,
            report.validators,
            report.cores,
            c.ratio_to_signature_bound
                .map_or(String::new(), |r| format!("; our signed claims {:.1} % of it", r * 100.0))
        );
        match &c.postgres {
            Some(pg) => {
                println!(
                    "    {} on loopback (fsync {}, synchronous_commit {}): {:.0} claim tx/s ({:.1} ms avg), bulk issuance {:.0} bills/s ({:.0} bills/s with bodies)",
                    pg.version,
                    pg.fsync,
                    pg.synchronous_commit,
                    pg.claim_tps,
                    pg.claim_latency_ms_avg,
                    pg.bulk_bills_per_s,
                    pg.bulk_with_bodies_bills_per_s
                );
                if let Some(ratio) = c.ratio_claims_to_postgres {
                    println!("    signed claims, ours / PostgreSQL durable claims: {ratio:.2}×");
                }
                if let Some(ratio) = c.ratio_bills_to_postgres {
                    println!(
                        "    issued bills, ours (4-way replicated) / PostgreSQL bulk: {ratio:.2}×"
                    );
                }
                if let Some(ratio) = c.ratio_bills_to_postgres_with_bodies {
                    println!(
                        "    issued bills, ours / PostgreSQL bulk with bodies of the same size: {ratio:.2}×"
                    );
                }
            }
            None => println!("    PostgreSQL: not measured (not installed)"),
        }
    }
    println!(
        "\n  checks: rejections {} the planted ones",
        if report.checks_ok() { "match" } else { "DO NOT match" }
    );
}
