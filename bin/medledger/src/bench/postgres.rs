//! The centralized baseline of `medledger bench --compare`: PostgreSQL on loopback doing the
//! claim work of the ledger, measured in the same run on the same machine.
//!
//! What it measures:
//!
//! 1. **Claims.** Each transaction does what the ledger does per claim: read and lock a random
//!    bill, check that it is not voided and that `reserved + reimbursed + amount ≤ patient_pay`,
//!    reserve the amount on the bill, record the claim and its item, and commit durably. pgbench
//!    runs it with the same number of clients as the ledger benchmark and reports transactions
//!    per second and average latency.
//! 2. **Bulk issuance.** Each transaction inserts one hospital batch of 1,000 bills, so the
//!    result compares with the ledger's batched `issue`.
//!
//! Why this is the fair comparison: a single database on one machine is what a consortium ledger
//! replaces, and it is the fastest the same work can be done with no replication and no
//! Byzantine fault tolerance. It is held to the same durability as the ledger: `fsync=on`,
//! `synchronous_commit=on` and `full_page_writes=on`, so a transaction counts only once its
//! commit record is on disk; the server settings are read back and checked before the run.
//! Clients talk to it over TCP on 127.0.0.1, as the ledger's clients talk to its API, so
//! neither side gets a network the other does not.
//!
//! How it runs: a throwaway cluster (`initdb`) in `<temp dir>/medledger-pg-<pid>` on a free port
//! in 31000..31999 (below Linux's ephemeral range, which starts at 32768), stopped and removed
//! afterwards, also on error. The programs `initdb`, `pg_ctl`, `postgres`, `psql` and `pgbench`
//! are searched in `PATH`, then in `/usr/lib/postgresql/<version>/bin` (newest version first),
//! where Debian and Ubuntu keep them. `initdb` refuses to run as root, so as root every
//! PostgreSQL program runs as the `postgres` system user (`runuser`, or `su` where `runuser`
//! is missing). Every program runs with a time limit and is killed past it.

use anyhow::{Context as _, bail, ensure};
use std::ffi::OsStr;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the centralized baseline measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PgBaseline {
    /// The server's version, e.g. "PostgreSQL 15.18".
    pub version: String,
    /// Concurrent client connections in both runs.
    pub clients: usize,
    /// Measured duration of the claim run in seconds (transactions / tps, as pgbench measured
    /// it, without connection set-up).
    pub seconds: f64,
    /// Durable claim transactions per second.
    pub claim_tps: f64,
    /// pgbench's average claim transaction latency in milliseconds.
    pub claim_latency_ms_avg: f64,
    /// Bills issued per second, 1,000 bills per durable transaction.
    pub bulk_bills_per_s: f64,
    /// Bulk transactions (of 1,000 bills each) completed.
    pub bulk_transactions: u64,
    /// Bills issued per second when each bill also stores a body of the size of our sealed
    /// body (1,293 bytes), 1,000 bills per durable transaction: the same bytes the ledger keeps.
    pub bulk_with_bodies_bills_per_s: f64,
    /// The server's `synchronous_commit` during the runs ("on").
    pub synchronous_commit: String,
    /// The server's `fsync` during the runs ("on").
    pub fsync: String,
}

/// Bills loaded before the claim run; each claim picks one of them at random. Many bills spread
/// the claims over many rows, as on the ledger, so clients rarely wait on one row's lock.
const BILLS_LOADED: u64 = 200_000;
/// Bill code of the loaded bills (region 4401, outpatient, 2026), the ones claims are filed on.
const BILL_CODE_CLAIMED: u32 = 44_010_126;
/// Bill code of the bulk-issued bills, apart from the claimed ones so the two runs never collide.
const BILL_CODE_BULK: u32 = 44_010_127;
/// Bills per bulk transaction: one hospital batch.
const BULK_BILLS_PER_TRANSACTION: u32 = 1_000;
/// Total and patient-pay amount of every bill, in fen.
const BILL_PATIENT_PAY_FEN: u64 = 10_000;
/// Amount of each claim, in fen: 1 fen so that no bill's 10,000 fen run out during a run and
/// every claim does the full work of an accepted claim.
const CLAIM_AMOUNT_FEN: u64 = 1;
/// The bulk run lasts half the claim run, but at least this many seconds.
const BULK_SECONDS_MIN: u64 = 3;
/// Ports tried for the server: below Linux's ephemeral range (32768 and up), so an outgoing
/// connection never takes the port between our probe and the server's bind.
const PORT_FIRST: u32 = 31_000;
/// Number of ports tried, from `PORT_FIRST`.
const PORT_COUNT: u32 = 1_000;
/// The start port is `PORT_FIRST + pid % PORT_SPREAD`, so concurrent runs start apart.
const PORT_SPREAD: u32 = 900;
/// The server's minimum `max_connections`; more when more clients need them.
const CONNECTIONS_MIN: usize = 50;
/// Connections kept beyond the clients, for psql and the server's own needs.
const CONNECTIONS_SPARE: usize = 10;
/// Time limit of initdb, pg_ctl and the small psql commands.
const SETUP_TIMEOUT: Duration = Duration::from_secs(120);
/// Time limit of the load (200,000 bills, ANALYZE, CHECKPOINT): seconds on any machine.
const LOAD_TIMEOUT: Duration = Duration::from_secs(600);
/// Time a pgbench run may take beyond its duration (connections, the last transactions).
const PGBENCH_TIMEOUT_SLACK: Duration = Duration::from_secs(120);
/// How often a running program is checked for having exited.
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// Characters of a failed program's output kept in the error.
const OUTPUT_TAIL_CHARS: usize = 2_000;
/// The system user that runs PostgreSQL when we are root.
const SYSTEM_USER: &str = "postgres";
/// The database role of the benchmark, the cluster's superuser.
const DB_ROLE: &str = "bench";
/// The database the benchmark uses, the one initdb creates.
const DB_NAME: &str = "postgres";

/// Measures the baseline: a throwaway cluster in a temporary directory on 127.0.0.1, removed
/// afterwards. Ok(None) (after printing why through `progress`) when PostgreSQL is not installed.
///
/// Runs the claim transaction for `seconds` with `clients` connections, then bulk issuance for
/// half as long (at least 3 s). Takes about `1.5 × seconds` plus 5–15 s for setting up the
/// cluster and loading 200,000 bills.
pub fn run(
    clients: usize,
    seconds: u64,
    progress: &dyn Fn(&str),
) -> anyhow::Result<Option<PgBaseline>> {
    ensure!(clients >= 1, "the PostgreSQL baseline needs at least one client");
    ensure!(seconds >= 1, "the PostgreSQL baseline needs a duration of at least 1 s");
    let started = Instant::now();
    let programs = match Programs::find() {
        Ok(programs) => programs,
        Err(missing) => {
            progress(&format!(
                "PostgreSQL not found ({} in neither PATH nor /usr/lib/postgresql/*/bin): \
                 skipping the baseline; install it, e.g. apt-get install postgresql",
                missing.join(", ")
            ));
            return Ok(None);
        }
    };
    let run_as = match RunAs::choose() {
        Ok(run_as) => run_as,
        Err(why) => {
            progress(&format!("PostgreSQL baseline skipped: {why}"));
            return Ok(None);
        }
    };
    let port = free_port().with_context(|| {
        format!(
            "no free port for PostgreSQL on 127.0.0.1 in {PORT_FIRST}..{}",
            PORT_FIRST + PORT_COUNT
        )
    })?;

    let mut cluster = Cluster::create(programs, run_as, port, progress)?;
    cluster.init()?;
    cluster.start(clients)?;
    let settings = cluster.settings()?;
    ensure!(
        settings.fsync == "on" && settings.synchronous_commit == "on",
        "PostgreSQL runs with fsync={} and synchronous_commit={}, not durably: no fair baseline",
        settings.fsync,
        settings.synchronous_commit
    );

    progress(&format!("{}: loading {} bills…", settings.version, thousands(BILLS_LOADED)));
    cluster.load()?;

    progress(&format!("{}: claim transactions, {clients} clients, {seconds} s…", settings.version));
    let claim = cluster.pgbench("claim.sql", &claim_script(), clients, seconds)?;
    cluster.check_claims(claim.transactions)?;

    let bulk_seconds = (seconds / 2).max(BULK_SECONDS_MIN);
    progress(&format!(
        "{}: bulk issuance, {} bills per transaction, {clients} clients, {bulk_seconds} s…",
        settings.version,
        thousands(u64::from(BULK_BILLS_PER_TRANSACTION))
    ));
    let bulk = cluster.pgbench("bulk.sql", &bulk_script(false), clients, bulk_seconds)?;
    progress(&format!(
        "{}: bulk issuance with {BODY_BYTES}-byte bodies, {clients} clients, {bulk_seconds} s…",
        settings.version
    ));
    let bodies = cluster.pgbench("bodies.sql", &bulk_script(true), clients, bulk_seconds)?;

    // Stop and remove the cluster now, so the time reported below includes it.
    drop(cluster);
    progress(&format!("{}: done in {:.1} s", settings.version, started.elapsed().as_secs_f64()));

    Ok(Some(PgBaseline {
        version: settings.version,
        clients,
        seconds: claim.seconds(),
        claim_tps: claim.tps,
        claim_latency_ms_avg: claim.latency_ms_avg,
        bulk_bills_per_s: bulk.tps * f64::from(BULK_BILLS_PER_TRANSACTION),
        bulk_transactions: bulk.transactions,
        bulk_with_bodies_bills_per_s: bodies.tps * f64::from(BULK_BILLS_PER_TRANSACTION),
        synchronous_commit: settings.synchronous_commit,
        fsync: settings.fsync,
    }))
}

/// The claim transaction as a pgbench script: one claim of 1 fen on a random bill.
///
/// The check is done twice, as the ledger's validation and its state update would: the client
/// decides from the locked row, and the UPDATE enforces the same rule in SQL. Claim identifiers
/// come from a sequence, unique by construction, and are hashed so that the primary-key index
/// sees random 32-byte keys as the ledger's claim identifiers are.
fn claim_script() -> String {
    let code = BILL_CODE_CLAIMED;
    let amount = CLAIM_AMOUNT_FEN;
    format!(
        "-- One claim of {amount} fen against a random bill: check the bill, check the cumulative \
         amount, record the claim, reserve the amount, commit durably.
\\set n random(1, {BILLS_LOADED})
BEGIN;
SELECT (NOT voided AND reserved + reimbursed + {amount} <= patient_pay)::int AS claimable
  FROM bills WHERE code = {code} AND number = :n FOR UPDATE \\gset
\\if :claimable
UPDATE bills SET reserved = reserved + {amount}
  WHERE code = {code} AND number = :n AND NOT voided
    AND reserved + reimbursed + {amount} <= patient_pay;
INSERT INTO claims (claim_id, payer, patient, status)
  SELECT sha256(int8send(nextval('claim_seq'))), 'social-security', patient, 'locked'
  FROM bills WHERE code = {code} AND number = :n;
INSERT INTO claim_items (claim_id, code, number, amount)
  VALUES (sha256(int8send(currval('claim_seq'))), {code}, :n, {amount});
\\endif
COMMIT;
"
    )
}

/// Bytes of the body stored with each bill in the bulk run with bodies: the encoded size of
/// our sealed outpatient body (10 charge items, 3 readers), rounded up to whole MD5 digests.
const BODY_BYTES: usize = 81 * 16;

/// Bulk issuance as a pgbench script: one hospital batch of 1,000 bills per durable transaction,
/// with or without a body per bill. Each batch takes a fresh range of bill numbers from a
/// sequence, so batches never collide.
fn bulk_script(bodies: bool) -> String {
    let code = BILL_CODE_BULK;
    let per = BULK_BILLS_PER_TRANSACTION;
    let last = per - 1;
    let pay = BILL_PATIENT_PAY_FEN;
    let sequence = if bodies { "bodies_seq" } else { "bulk_seq" };
    // Under 2 KB a row is stored as it is (PostgreSQL compresses only larger rows), so the
    // repeated digest costs what random bytes would.
    let body = if bodies {
        format!("decode(repeat(md5((b.base + g)::text), {}), 'hex')", BODY_BYTES / 16)
    } else {
        "NULL".to_string()
    };
    format!(
        "-- One hospital batch: {per} bills with consecutive numbers in one durable transaction.
INSERT INTO bills (code, number, patient, total, patient_pay, body_commitment, body)
  SELECT {code}, b.base + g, decode(md5((b.base + g)::text), 'hex'), {pay}, {pay},
         sha256(int8send(b.base + g)), {body}
  FROM (SELECT nextval('{sequence}') * {per} + 100000000 * {offset} AS base) b,
       generate_series(0, {last}) g;
",
        offset = u8::from(bodies)
    )
}

/// The schema and the loaded bills. Patients are pseudonyms (16 bytes) and bodies are
/// commitments (32 bytes), the sizes the ledger stores.
fn load_script() -> String {
    let code = BILL_CODE_CLAIMED;
    let pay = BILL_PATIENT_PAY_FEN;
    format!(
        "CREATE TABLE bills (
  code int, number bigint, patient bytea, total bigint, patient_pay bigint,
  reserved bigint NOT NULL DEFAULT 0, reimbursed bigint NOT NULL DEFAULT 0,
  voided bool NOT NULL DEFAULT false, body_commitment bytea, body bytea,
  PRIMARY KEY (code, number));
CREATE TABLE claims (
  claim_id bytea PRIMARY KEY, payer text NOT NULL, patient bytea NOT NULL,
  status text NOT NULL, created_at timestamptz DEFAULT now());
CREATE TABLE claim_items (
  claim_id bytea REFERENCES claims, code int, number bigint, amount bigint,
  PRIMARY KEY (claim_id, code, number));
CREATE SEQUENCE claim_seq;
CREATE SEQUENCE bulk_seq;
CREATE SEQUENCE bodies_seq;
INSERT INTO bills (code, number, patient, total, patient_pay, body_commitment)
  SELECT {code}, n, decode(md5(n::text), 'hex'), {pay}, {pay}, sha256(int8send(n))
  FROM generate_series(1, {BILLS_LOADED}) n;
ANALYZE;
-- Write the load out now, so that its dirty pages do not burden the first measured run.
CHECKPOINT;
"
    )
}

/// The PostgreSQL programs the baseline runs.
#[derive(Debug)]
struct Programs {
    initdb: PathBuf,
    pg_ctl: PathBuf,
    postgres: PathBuf,
    psql: PathBuf,
    pgbench: PathBuf,
}

impl Programs {
    /// Finds every program, or names those missing.
    fn find() -> Result<Self, Vec<&'static str>> {
        let dirs = search_dirs();
        let mut missing = Vec::new();
        let mut find = |name: &'static str, first: Option<PathBuf>| {
            let found = first
                .into_iter()
                .chain(dirs.iter().cloned())
                .map(|dir| dir.join(name))
                .find(|path| is_executable(path));
            if found.is_none() {
                missing.push(name);
            }
            found.unwrap_or_default()
        };
        let initdb = find("initdb", None);
        let pg_ctl = find("pg_ctl", None);
        // The server must be the one pg_ctl belongs to: look beside pg_ctl's real file first
        // (Debian links /usr/local/bin/pg_ctl to /usr/lib/postgresql/15/bin/pg_ctl).
        let beside_pg_ctl = std::fs::canonicalize(&pg_ctl)
            .ok()
            .and_then(|path| path.parent().map(Path::to_path_buf));
        let postgres = find("postgres", beside_pg_ctl);
        let psql = find("psql", None);
        let pgbench = find("pgbench", None);
        if missing.is_empty() {
            Ok(Self { initdb, pg_ctl, postgres, psql, pgbench })
        } else {
            Err(missing)
        }
    }
}

/// `PATH`, then `/usr/lib/postgresql/<version>/bin`, newest version first.
fn search_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default();
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versions.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
    dirs.extend(versions.into_iter().map(|(_, dir)| dir));
    dirs
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// Whose rights the PostgreSQL programs run with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunAs {
    /// Our own: we are not root.
    Me,
    /// The `postgres` system user through `runuser -u postgres --`.
    Runuser,
    /// The `postgres` system user through `su postgres -s /bin/sh -c`.
    Su,
}

impl RunAs {
    /// `Me` unless we are root; as root, the `postgres` user through `runuser` or `su`.
    /// Err says why the baseline cannot run.
    fn choose() -> Result<Self, String> {
        if !is_root() {
            return Ok(Self::Me);
        }
        if !user_exists(SYSTEM_USER) {
            return Err(format!(
                "running as root, and initdb refuses root, but there is no `{SYSTEM_USER}` user \
                 to run PostgreSQL as (the postgresql package creates it; or run as another user)"
            ));
        }
        if program_in_path("runuser") {
            Ok(Self::Runuser)
        } else if program_in_path("su") {
            Ok(Self::Su)
        } else {
            Err(format!(
                "running as root, and initdb refuses root, but neither runuser nor su is there \
                 to run PostgreSQL as `{SYSTEM_USER}`"
            ))
        }
    }

    /// A command that runs `program args` with these rights.
    fn command(self, program: &Path, args: &[String]) -> Command {
        match self {
            Self::Me => {
                let mut command = Command::new(program);
                command.args(args);
                command
            }
            Self::Runuser => {
                let mut command = Command::new("runuser");
                command.args(["-u", SYSTEM_USER, "--"]).arg(program).args(args);
                command
            }
            Self::Su => {
                let mut line = format!("exec {}", shell_quote(&program.to_string_lossy()));
                for arg in args {
                    line.push(' ');
                    line.push_str(&shell_quote(arg));
                }
                let mut command = Command::new("su");
                command.args([SYSTEM_USER, "-s", "/bin/sh", "-c", &line]);
                command
            }
        }
    }
}

/// Whether the effective user is root: `/proc/self/status`, else `id -u`.
fn is_root() -> bool {
    let from_proc = std::fs::read_to_string("/proc/self/status").ok().and_then(|status| {
        // "Uid:\treal\teffective\tsaved\tfilesystem"; initdb checks the effective one.
        let line = status.lines().find(|line| line.starts_with("Uid:"))?;
        line.split_whitespace().nth(2).map(|uid| uid == "0")
    });
    from_proc.unwrap_or_else(|| {
        Command::new("id")
            .arg("-u")
            .stderr(Stdio::null())
            .output()
            .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
    })
}

/// Whether the system user `name` exists: `id -u name`, else `/etc/passwd`.
fn user_exists(name: &str) -> bool {
    match Command::new("id").args(["-u", name]).stdout(Stdio::null()).stderr(Stdio::null()).status()
    {
        Ok(status) => status.success(),
        Err(_) => std::fs::read_to_string("/etc/passwd")
            .is_ok_and(|passwd| passwd.lines().any(|line| line.split(':').next() == Some(name))),
    }
}

fn program_in_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| is_executable(&dir.join(name))))
}

/// `arg` quoted for /bin/sh.
fn shell_quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

/// The first port in 31000..31999 that 127.0.0.1 can bind, starting at `31000 + pid % 900`.
fn free_port() -> Option<u16> {
    let start = std::process::id() % PORT_SPREAD;
    (0..PORT_COUNT)
        .filter_map(|i| u16::try_from(PORT_FIRST + (start + i) % PORT_COUNT).ok())
        .find(|&port| TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok())
}

/// The server settings the baseline reports.
#[derive(Debug)]
struct Settings {
    version: String,
    fsync: String,
    synchronous_commit: String,
}

/// What pgbench reported for one run.
#[derive(Debug, Clone, PartialEq)]
struct PgbenchReport {
    /// Transactions completed.
    transactions: u64,
    /// Transactions per second, without connection set-up.
    tps: f64,
    /// Average transaction latency in milliseconds.
    latency_ms_avg: f64,
}

impl PgbenchReport {
    /// The measured duration: transactions over their rate.
    fn seconds(&self) -> f64 {
        if self.tps > 0.0 {
            // Transaction counts stay far below 2^53, where f64 is exact.
            let transactions = self.transactions as f64;
            transactions / self.tps
        } else {
            0.0
        }
    }
}

/// Reads pgbench's summary (PostgreSQL 10 and later).
fn parse_pgbench(stdout: &str) -> anyhow::Result<PgbenchReport> {
    let mut transactions = None;
    let mut failed = 0u64;
    let mut latency_ms_avg = None;
    let mut tps_without_connections = None;
    let mut tps_any = None;
    for line in stdout.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("number of transactions actually processed:") {
            // "12345", or "12345/20000" when a transaction count was given.
            let done = rest.trim().split('/').next().unwrap_or_default();
            transactions = done.parse::<u64>().ok();
        } else if let Some(rest) = line.strip_prefix("number of failed transactions:") {
            // "0 (0.000%)", PostgreSQL 15 and later.
            failed = first_number(rest).unwrap_or(0);
        } else if let Some(rest) = line.strip_prefix("latency average =") {
            latency_ms_avg =
                rest.trim().strip_suffix("ms").and_then(|ms| ms.trim().parse::<f64>().ok());
        } else if let Some(rest) = line.strip_prefix("tps =") {
            let value = rest.split_whitespace().next().and_then(|tps| tps.parse::<f64>().ok());
            // PostgreSQL 14 and later: "(without initial connection time)"; earlier versions
            // print "(including connections establishing)" and "(excluding …)".
            if rest.contains("without initial connection time")
                || rest.contains("excluding connections establishing")
            {
                tps_without_connections = value;
            } else if tps_any.is_none() {
                tps_any = value;
            }
        }
    }
    let transactions = transactions.context("pgbench printed no transaction count")?;
    ensure!(failed == 0, "{failed} pgbench transactions failed");
    ensure!(transactions > 0, "pgbench completed no transaction");
    Ok(PgbenchReport {
        transactions,
        tps: tps_without_connections.or(tps_any).context("pgbench printed no tps")?,
        latency_ms_avg: latency_ms_avg.context("pgbench printed no average latency")?,
    })
}

fn first_number(text: &str) -> Option<u64> {
    text.split_whitespace().next()?.parse().ok()
}

/// A throwaway cluster: its directory, and the server once started. Dropping it stops the server
/// and removes the directory, also when the run fails half-way.
struct Cluster<'a> {
    programs: Programs,
    run_as: RunAs,
    /// `<temp dir>/medledger-pg-<pid>`: `data/` (the cluster), `log`, the scripts, the socket.
    dir: PathBuf,
    /// `dir` as a string, for the programs' arguments.
    dir_arg: String,
    port: u16,
    /// Whether `pg_ctl start` was attempted, so that drop stops the server.
    started: bool,
    progress: &'a dyn Fn(&str),
}

impl std::fmt::Debug for Cluster<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("programs", &self.programs)
            .field("run_as", &self.run_as)
            .field("dir", &self.dir)
            .field("port", &self.port)
            .field("started", &self.started)
            .finish_non_exhaustive()
    }
}

impl<'a> Cluster<'a> {
    /// Creates the directory, mode 0700 and owned by whoever runs PostgreSQL.
    fn create(
        programs: Programs,
        run_as: RunAs,
        port: u16,
        progress: &'a dyn Fn(&str),
    ) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("medledger-pg-{}", std::process::id()));
        let dir_arg = dir
            .to_str()
            .with_context(|| format!("temporary directory {} is not UTF-8", dir.display()))?
            .to_owned();
        if dir.exists() {
            // Left by an earlier process with our pid that was killed: nothing of ours.
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("could not remove the stale {}", dir.display()))?;
        }
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("could not create {}", dir.display()))?;
        // From here on, drop removes the directory.
        let cluster = Self { programs, run_as, dir, dir_arg, port, started: false, progress };
        std::fs::set_permissions(&cluster.dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("could not set the mode of {}", cluster.dir.display()))?;
        if run_as != RunAs::Me {
            let mut chown = Command::new("chown");
            chown.arg(format!("{SYSTEM_USER}:")).arg(&cluster.dir);
            check(execute(chown, SETUP_TIMEOUT)?)?;
        }
        Ok(cluster)
    }

    fn data_arg(&self) -> String {
        format!("{}/data", self.dir_arg)
    }

    /// Runs a PostgreSQL program with the cluster's rights, in the cluster's directory (the
    /// `postgres` user may not enter ours). Ok(stdout) when it succeeds.
    fn pg(&self, program: &Path, args: &[String], timeout: Duration) -> anyhow::Result<String> {
        let mut command = self.run_as.command(program, args);
        command.current_dir(&self.dir);
        let finished = execute(command, timeout)?;
        check(finished)
    }

    /// `initdb`: the cluster, with the `bench` superuser trusted on loopback. `--no-sync`: the
    /// cluster is thrown away, and the load's CHECKPOINT writes what the runs touch.
    fn init(&self) -> anyhow::Result<()> {
        let args = strings(&[
            "-D",
            &self.data_arg(),
            "-A",
            "trust",
            "-U",
            DB_ROLE,
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        ]);
        self.pg(&self.programs.initdb, &args, SETUP_TIMEOUT).map_err(|error| {
            if self.run_as == RunAs::Me {
                error
            } else {
                error.context(format!(
                    "initdb runs as `{SYSTEM_USER}`, which must be able to enter {}; set TMPDIR \
                     to a directory it can reach, such as /tmp",
                    self.dir.display()
                ))
            }
        })?;
        Ok(())
    }

    /// `pg_ctl start`, durable, listening on 127.0.0.1 only, its socket in our directory.
    fn start(&mut self, clients: usize) -> anyhow::Result<()> {
        let max_connections = (clients + CONNECTIONS_SPARE).max(CONNECTIONS_MIN);
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=on -c synchronous_commit=on \
             -c full_page_writes=on -c max_connections={max_connections} -c shared_buffers=256MB",
            self.port, self.dir_arg
        );
        let args = vec![
            "-D".to_owned(),
            self.data_arg(),
            "-l".to_owned(),
            format!("{}/log", self.dir_arg),
            "-p".to_owned(),
            self.programs.postgres.to_string_lossy().into_owned(),
            "-o".to_owned(),
            options,
            "-w".to_owned(),
            "-t".to_owned(),
            "90".to_owned(),
            "start".to_owned(),
        ];
        self.started = true;
        self.pg(&self.programs.pg_ctl, &args, SETUP_TIMEOUT).map_err(|error| {
            let log = std::fs::read_to_string(self.dir.join("log")).unwrap_or_default();
            error.context(format!("PostgreSQL did not start; its log ends:\n{}", tail(&log)))
        })?;
        Ok(())
    }

    /// psql's connection arguments: TCP on loopback, no ~/.psqlrc, stop at the first error.
    fn psql_args(&self) -> Vec<String> {
        strings(&[
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-U",
            DB_ROLE,
            "-d",
            DB_NAME,
        ])
    }

    /// Runs `sql` statements with psql, unaligned and tuples only; Ok(stdout).
    fn psql(&self, sqls: &[&str], timeout: Duration) -> anyhow::Result<String> {
        let mut args = self.psql_args();
        args.extend(strings(&["-A", "-t"]));
        for sql in sqls {
            args.push("-c".to_owned());
            args.push((*sql).to_owned());
        }
        self.pg(&self.programs.psql, &args, timeout)
    }

    /// The server's version and durability settings, as the server reports them.
    fn settings(&self) -> anyhow::Result<Settings> {
        let out = self.psql(
            &["SHOW server_version", "SHOW fsync", "SHOW synchronous_commit"],
            SETUP_TIMEOUT,
        )?;
        let lines: Vec<&str> = out.lines().map(str::trim).collect();
        let [version, fsync, synchronous_commit] = lines[..] else {
            bail!("unexpected answer from PostgreSQL to SHOW: {out:?}");
        };
        // "15.18 (Debian 15.18-0+deb12u1)" → "PostgreSQL 15.18".
        let number = version.split_whitespace().next().unwrap_or(version);
        Ok(Settings {
            version: format!("PostgreSQL {number}"),
            fsync: fsync.to_owned(),
            synchronous_commit: synchronous_commit.to_owned(),
        })
    }

    /// Creates the schema and loads the bills.
    fn load(&self) -> anyhow::Result<()> {
        let file = self.write_script("load.sql", &load_script())?;
        let mut args = self.psql_args();
        args.extend(["-f".to_owned(), file]);
        self.pg(&self.programs.psql, &args, LOAD_TIMEOUT)?;
        Ok(())
    }

    /// Checks that the claim run did its work: at least one claim row per transaction that
    /// pgbench counted (a client may finish one more after the deadline), one item per claim,
    /// and no bill claimed beyond its patient-pay amount.
    fn check_claims(&self, transactions: u64) -> anyhow::Result<()> {
        let out = self.psql(
            &[
                "SELECT count(*) FROM claims",
                "SELECT count(*) FROM claim_items",
                "SELECT count(*) FROM bills WHERE reserved + reimbursed > patient_pay",
            ],
            SETUP_TIMEOUT,
        )?;
        let counts: Vec<u64> = out
            .lines()
            .map(|line| line.trim().parse::<u64>())
            .collect::<Result<_, _>>()
            .with_context(|| format!("unexpected answer from PostgreSQL: {out:?}"))?;
        let [claims, items, over_claimed] = counts[..] else {
            bail!("unexpected answer from PostgreSQL: {out:?}");
        };
        ensure!(
            claims >= transactions && items == claims && over_claimed == 0,
            "the claim run left {claims} claims and {items} items for {transactions} \
             transactions, and {over_claimed} over-claimed bills"
        );
        Ok(())
    }

    /// Runs pgbench with `script` for `seconds`; its report.
    fn pgbench(
        &self,
        name: &str,
        script: &str,
        clients: usize,
        seconds: u64,
    ) -> anyhow::Result<PgbenchReport> {
        let file = self.write_script(name, script)?;
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let threads = clients.min(cores);
        let args = strings(&[
            "-n",
            "-f",
            &file,
            "-c",
            &clients.to_string(),
            "-j",
            &threads.to_string(),
            "-T",
            &seconds.to_string(),
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-U",
            DB_ROLE,
            DB_NAME,
        ]);
        let timeout = Duration::from_secs(seconds) + PGBENCH_TIMEOUT_SLACK;
        let out = self.pg(&self.programs.pgbench, &args, timeout)?;
        parse_pgbench(&out).with_context(|| format!("pgbench {name} printed:\n{}", tail(&out)))
    }

    /// Writes `text` to `name` in the cluster's directory (readable by the `postgres` user);
    /// its path.
    fn write_script(&self, name: &str, text: &str) -> anyhow::Result<String> {
        let path = self.dir.join(name);
        std::fs::write(&path, text)
            .with_context(|| format!("could not write {}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
            .with_context(|| format!("could not set the mode of {}", path.display()))?;
        Ok(format!("{}/{name}", self.dir_arg))
    }

    /// `pg_ctl stop`: fast (rolls back open transactions), else immediate.
    fn stop(&self) -> anyhow::Result<()> {
        let stop = |mode: &str| {
            let args = strings(&["-D", &self.data_arg(), "-m", mode, "-w", "-t", "60", "stop"]);
            self.pg(&self.programs.pg_ctl, &args, SETUP_TIMEOUT)
        };
        match stop("fast") {
            Ok(_) => Ok(()),
            Err(fast) => stop("immediate")
                .map(drop)
                .map_err(|immediate| immediate.context(format!("after: {fast:#}"))),
        }
    }
}

impl Drop for Cluster<'_> {
    fn drop(&mut self) {
        if self.started {
            let running = self.dir.join("data/postmaster.pid").exists();
            if let Err(error) = self.stop()
                && running
            {
                (self.progress)(&format!(
                    "PostgreSQL baseline: could not stop the server in {}: {error:#}",
                    self.dir.display()
                ));
            }
        }
        if let Err(error) = std::fs::remove_dir_all(&self.dir) {
            (self.progress)(&format!(
                "PostgreSQL baseline: could not remove {}: {error}",
                self.dir.display()
            ));
        }
    }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|arg| (*arg).to_owned()).collect()
}

/// A program that has exited, and what it wrote.
#[derive(Debug)]
struct Finished {
    /// The command line, for errors.
    what: String,
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `command` to its end, killing it (and what it started) past `timeout`. Its stdin is
/// empty; its output is captured. `PG*` variables are removed from its environment, so that
/// neither `PGOPTIONS` (which could turn off synchronous commit) nor a service file changes
/// what is measured; the C locale keeps pgbench's summary in English for parsing.
fn execute(mut command: Command, timeout: Duration) -> anyhow::Result<Finished> {
    let what = describe(&command);
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(|key| key.starts_with("PG")) {
            command.env_remove(key);
        }
    }
    command
        .env("LC_ALL", "C")
        .env("LANG", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so that a timeout kills runuser's child too.
        .process_group(0);
    let mut child = command.spawn().with_context(|| format!("could not start `{what}`"))?;
    let stdout = read_to_end(child.stdout.take());
    let stderr = read_to_end(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) =
            child.try_wait().with_context(|| format!("could not wait for `{what}`"))?
        {
            break status;
        }
        if Instant::now() >= deadline {
            // A negative pid names the process group.
            let _ = Command::new("kill")
                .args(["-s", "KILL", "--", &format!("-{}", child.id())])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let _ = child.kill();
            let _ = child.wait();
            let stderr = stderr.join().unwrap_or_default();
            bail!(
                "`{what}` did not finish within {} s and was killed; it wrote:\n{}",
                timeout.as_secs(),
                tail(&stderr)
            );
        }
        std::thread::sleep(POLL_INTERVAL);
    };
    Ok(Finished {
        what,
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// Ok(stdout) when the program succeeded; else an error with the command and its output's tail.
fn check(finished: Finished) -> anyhow::Result<String> {
    if finished.status.success() {
        return Ok(finished.stdout);
    }
    let output =
        if finished.stderr.trim().is_empty() { &finished.stdout } else { &finished.stderr };
    bail!("`{}` failed ({}):\n{}", finished.what, finished.status, tail(output))
}

/// Reads a pipe to its end on a thread, so that a full pipe never blocks the program.
fn read_to_end(pipe: Option<impl std::io::Read + Send + 'static>) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

fn describe(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(OsStr::to_string_lossy)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The last `OUTPUT_TAIL_CHARS` characters of `text`, trimmed.
fn tail(text: &str) -> &str {
    let text = text.trim_end();
    let start = text.char_indices().rev().nth(OUTPUT_TAIL_CHARS - 1).map_or(0, |(index, _)| index);
    &text[start..]
}

/// `200000` → `"200,000"`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgbench_15_summary_is_read() {
        let out = "pgbench (15.18 (Debian 15.18-0+deb12u1))
transaction type: /tmp/medledger-pg-1/claim.sql
scaling factor: 1
query mode: simple
number of clients: 4
number of threads: 2
maximum number of tries: 1
duration: 5 s
number of transactions actually processed: 12345
number of failed transactions: 0 (0.000%)
latency average = 1.620 ms
initial connection time = 10.232 ms
tps = 2469.000000 (without initial connection time)
";
        let report = parse_pgbench(out).unwrap();
        assert_eq!(report.transactions, 12_345);
        assert!((report.tps - 2469.0).abs() < 1e-9);
        assert!((report.latency_ms_avg - 1.62).abs() < 1e-9);
        assert!((report.seconds() - 5.0).abs() < 0.01);
    }

    #[test]
    fn pgbench_13_summary_uses_tps_excluding_connections() {
        let out = "number of transactions actually processed: 1000/1000
latency average = 2.000 ms
tps = 400.0 (including connections establishing)
tps = 500.0 (excluding connections establishing)
";
        let report = parse_pgbench(out).unwrap();
        assert_eq!(report.transactions, 1000);
        assert!((report.tps - 500.0).abs() < 1e-9);
    }

    #[test]
    fn pgbench_failed_transactions_are_an_error() {
        let out = "number of transactions actually processed: 10
number of failed transactions: 3 (23.077%)
latency average = 2.000 ms
tps = 5.0 (without initial connection time)
";
        assert!(parse_pgbench(out).is_err());
        assert!(parse_pgbench("").is_err());
    }

    #[test]
    fn a_program_past_its_time_is_killed_with_its_children() {
        // The shell's child keeps the output pipes open: unless the whole process group is
        // killed, reading the output would wait the full 30 s.
        let mut command = Command::new("sh");
        command.args(["-c", "sleep 30 & wait"]);
        let started = Instant::now();
        let error = execute(command, Duration::from_millis(300)).unwrap_err();
        assert!(error.to_string().contains("was killed"), "{error:#}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_failing_program_reports_its_command_and_output() {
        let mut command = Command::new("sh");
        command.args(["-c", "echo partial; echo broken >&2; exit 3"]);
        let error = check(execute(command, Duration::from_secs(10)).unwrap()).unwrap_err();
        let message = format!("{error:#}");
        assert!(message.contains("sh -c") && message.contains("broken"), "{message}");
    }

    #[test]
    fn shell_quote_survives_quotes() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(200_000), "200,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn tail_keeps_the_end() {
        let long = "x".repeat(OUTPUT_TAIL_CHARS + 10) + "end";
        assert!(tail(&long).ends_with("end"));
        assert_eq!(tail(&long).chars().count(), OUTPUT_TAIL_CHARS);
        assert_eq!(tail("short\n"), "short");
    }

    #[test]
    fn scripts_use_the_constants() {
        assert!(claim_script().contains("random(1, 200000)"));
        assert!(bulk_script(false).contains("generate_series(0, 999)"));
        assert!(bulk_script(true).contains("repeat(md5"));
        assert!(load_script().contains("generate_series(1, 200000)"));
    }
}
