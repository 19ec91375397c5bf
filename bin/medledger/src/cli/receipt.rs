//! Receipts: `bill receipt` / `claim receipt` fetch one from a node and save it; `verify`
//! checks one offline with nothing but the genesis file (the validators' public keys), never
//! trusting the unsigned fields beside it, and optionally that it is the one expected, recent
//! enough, and checked against the network's own genesis (its pinned digest).

use super::{emit, print_json};
use anyhow::Context as _;
use medledger_crypto::Digest;
use medledger_receipt::{Presented, Record, Verified, genesis_digest};
use medledger_types::api::ReceiptView;
use medledger_types::{Bill, BillId, BillKind, Claim, ClaimId, ClaimStatus, Fen, Genesis, Lines};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Receipt files larger than this are refused (a receipt is a few kilobytes).
const RECEIPT_FILE_BYTES_MAX: u64 = 1024 * 1024;

/// Long help of `verify`.
pub const VERIFY_HELP: &str = "Example:
  medledger bill receipt 44010126/0000000001 --out bill.receipt
  medledger verify bill.receipt --genesis localnet/genesis.json \\
      --genesis-digest HEX --expect-bill 44010126/0000000001 --max-age 1h

The receipt may be the binary file `--out` writes, its hex, the text of its QR code
(ML1*…, `--qr`), or the JSON a node answers at /v1/bills/CODE/NUMBER/proof. Verification needs
no node: it checks that the record hashes to a leaf, that the proof places the leaf under the
state tree's root, that the root and the receipts chain give the block header's state root,
and that a quorum of the genesis validators signed the finalization of that header. A node's
JSON answer carries unsigned copies of the record and heights beside the receipt: each one
present must agree with the signed receipt, or the answer is refused as altered. Only what the
receipt proves is printed: the record as of the height the header's state root commits to,
and the block that finalized it. The formats are specified in docs/formats/.

What the signatures alone cannot tell, the flags check:
  --genesis-digest HEX  the genesis file is the network's own (the digest `medledger init`
                        printed, published by the consortium); without it, whoever hands you
                        the genesis file chooses the validators you trust
  --expect-bill CODE/NUMBER, --expect-claim ID
                        the receipt is about the bill or claim you asked for, not another
  --max-age DURATION    the block that finalized the record is at most this old by its signed
                        consensus time, against this machine's clock (90s, 30m, 1h, 7d)
  --max-age-blocks N --current-height H
                        the record is as of height H - N or later, H being a height you trust
                        (your own node's `medledger status`); no clock involved
A receipt shows the record as it was then; only a recent one shows it is still so.

Exit status: 0 verified and every check passed, 1 not (one line on standard error says which
check failed), 2 the command line is wrong";

/// `medledger verify`'s flags.
#[derive(clap::Args, Debug, Clone)]
pub struct VerifyArgs {
    /// The receipt: a file (binary, hex, QR text or a node's JSON answer), or - for standard
    /// input.
    pub receipt: PathBuf,
    /// The network's genesis file (its chain id and validators' public keys).
    #[arg(long)]
    pub genesis: PathBuf,
    /// Refuse a genesis file whose digest is not this one (64 hex digits, as `medledger init`
    /// prints it).
    #[arg(long, value_name = "HEX", value_parser = parse_digest)]
    pub genesis_digest: Option<Digest>,
    /// Fail unless the receipt is for this bill.
    #[arg(long, value_name = "CODE/NUMBER", conflicts_with = "expect_claim")]
    pub expect_bill: Option<BillId>,
    /// Fail unless the receipt is for this claim (32 hex digits).
    #[arg(long, value_name = "ID")]
    pub expect_claim: Option<ClaimId>,
    /// Fail if the block that finalized the record is older than this by its signed time
    /// (a number and a unit: s, m, h or d; e.g. 90s, 30m, 1h, 7d).
    #[arg(long, value_name = "DURATION", value_parser = parse_age)]
    pub max_age: Option<Duration>,
    /// Fail if the record is as of a height more than N blocks below --current-height.
    #[arg(long, value_name = "N", requires = "current_height")]
    pub max_age_blocks: Option<u64>,
    /// The chain's current height, from a source you trust, for --max-age-blocks.
    #[arg(long, value_name = "HEIGHT", requires = "max_age_blocks")]
    pub current_height: Option<u64>,
    /// Print the verified record as JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_digest(text: &str) -> Result<Digest, String> {
    Digest::from_hex(text.trim()).map_err(|e| format!("expected 64 hexadecimal digits: {e}"))
}

/// A duration written as a number and a unit: `90s`, `30m`, `1h`, `7d`.
fn parse_age(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected a number and a unit, e.g. 90s, 30m, 1h, 7d"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(format!("{text:?}: the unit is s, m, h or d (e.g. 90s, 30m, 1h, 7d)")),
    };
    number
        .checked_mul(seconds)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{text:?} is too long"))
}

/// A duration for people: `42s`, `3m 12s`, `2h 5m`, `1h`, `4d 1h`.
fn human(duration: Duration) -> String {
    let s = duration.as_secs();
    let (major, major_unit, minor, minor_unit) = match s {
        0..60 => return format!("{s}s"),
        60..3_600 => (s / 60, "m", s % 60, "s"),
        3_600..86_400 => (s / 3_600, "h", s % 3_600 / 60, "m"),
        _ => (s / 86_400, "d", s % 86_400 / 3_600, "h"),
    };
    match minor {
        0 => format!("{major}{major_unit}"),
        _ => format!("{major}{major_unit} {minor}{minor_unit}"),
    }
}

/// A value's name as the API spells it (`western_medicine`, `check_up`).
/// Saves the receipt a node gave to `out` (binary), or prints it (hex, its QR text with
/// `--qr`, or JSON with `--json`).
pub fn save(view: &ReceiptView, out: &ReceiptOut, json: bool) -> anyhow::Result<ExitCode> {
    if out.qr {
        emit(&view.qr)?;
        return Ok(ExitCode::SUCCESS);
    }
    let out = out.out.as_deref();
    if let Some(path) = out {
        let bytes = medledger_crypto::decode_hex(&view.receipt)?;
        std::fs::write(path, &bytes).with_context(|| format!("writing {}", path.display()))?;
        if !json {
            println!(
                "receipt written to {} ({} bytes), as of height {} (block {})",
                path.display(),
                bytes.len(),
                view.as_of_height,
                view.block_height
            );
        }
    }
    if json {
        print_json(view)?;
    } else if out.is_none() {
        emit(&view.receipt)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads a receipt in any form, with the unsigned fields of a node's JSON answer.
fn read_receipt(path: &Path) -> anyhow::Result<Presented> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    let reader: Box<dyn std::io::Read> = if path == Path::new("-") {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?)
    };
    reader.take(RECEIPT_FILE_BYTES_MAX + 1).read_to_end(&mut bytes)?;
    anyhow::ensure!(
        bytes.len() as u64 <= RECEIPT_FILE_BYTES_MAX,
        "{} is larger than a receipt can be",
        path.display()
    );
    Presented::parse(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

#[derive(Serialize)]
struct VerifiedView {
    verified: bool,
    chain_id: String,
    /// The digest of the genesis file the receipt was checked against.
    genesis_digest: String,
    as_of_height: u64,
    block_height: u64,
    block_time_ms: u64,
    signers: u32,
    validators: u32,
    /// How long ago the block was finalized, by this machine's clock (with `--max-age`).
    #[serde(skip_serializing_if = "Option::is_none")]
    age_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bill: Option<Bill>,
    #[serde(skip_serializing_if = "Option::is_none")]
    claim: Option<Claim>,
}

/// `medledger verify RECEIPT --genesis FILE [checks]`.
pub fn run_verify(args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let path = &args.genesis;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let genesis: Genesis = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a genesis file", path.display()))?;
    let digest = genesis_digest(&genesis);
    if let Some(pinned) = args.genesis_digest {
        anyhow::ensure!(
            digest == pinned,
            "not verified: {} has genesis digest {digest}, not the pinned {pinned}: it is not \
             that network's genesis, or it was edited",
            path.display()
        );
    }
    let presented = read_receipt(&args.receipt)?;
    let verified = presented.verify(&genesis).map_err(|e| anyhow::anyhow!("not verified: {e}"))?;
    check_subject(&verified.record, args)?;
    let age_ms = check_age(&verified, args)?;
    let (bill, claim) = match &verified.record {
        Record::Bill(bill) => (Some(bill.clone()), None),
        Record::Claim(claim) => (None, Some(claim.clone())),
    };
    let view = VerifiedView {
        verified: true,
        chain_id: genesis.chain_id.to_string(),
        genesis_digest: digest.to_hex(),
        as_of_height: verified.as_of_height,
        block_height: verified.block_height,
        block_time_ms: verified.block_time_ms,
        signers: verified.signers,
        validators: verified.validators,
        age_ms,
        bill,
        claim,
    };
    if args.json {
        print_json(&view)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "verified: finalized by {} of {} validators of {} in block {} ({})",
        view.signers,
        view.validators,
        view.chain_id,
        view.block_height,
        super::utc(view.block_time_ms)
    );
    let pinned = if args.genesis_digest.is_some() { "pinned" } else { "not pinned" };
    println!("genesis digest {} ({pinned})", view.genesis_digest);
    println!(
        "as of height {}, the state block {} commits to (the record may have changed since)",
        view.as_of_height, view.block_height
    );
    if let Some(age) = view.age_ms {
        println!("finalized {} ago", human(Duration::from_millis(age)));
    }
    match &verified.record {
        Record::Bill(bill) => print_bill(bill),
        Record::Claim(claim) => print_claim(claim),
    }
    Ok(ExitCode::SUCCESS)
}

/// `--expect-bill`, `--expect-claim`: the receipt is about what was asked for.
fn check_subject(record: &Record, args: &VerifyArgs) -> anyhow::Result<()> {
    let what = match record {
        Record::Bill(bill) => format!("bill {}", bill.id()),
        Record::Claim(claim) => format!("claim {}", claim.submission.claim_id),
    };
    if let Some(expected) = args.expect_bill {
        let matches = matches!(record, Record::Bill(bill) if bill.id() == expected);
        anyhow::ensure!(matches, "not the expected receipt: it is for {what}, not bill {expected}");
    }
    if let Some(expected) = args.expect_claim {
        let matches =
            matches!(record, Record::Claim(claim) if claim.submission.claim_id == expected);
        anyhow::ensure!(
            matches,
            "not the expected receipt: it is for {what}, not claim {expected}"
        );
    }
    Ok(())
}

/// `--max-age-blocks` and `--max-age`: the record is recent enough. Returns its age by this
/// machine's clock when `--max-age` was given.
fn check_age(verified: &Verified, args: &VerifyArgs) -> anyhow::Result<Option<u64>> {
    if let (Some(max), Some(current)) = (args.max_age_blocks, args.current_height) {
        let behind = current.saturating_sub(verified.as_of_height);
        anyhow::ensure!(
            behind <= max,
            "too old: the record is as of height {}, {behind} blocks below the current height \
             {current}, more than --max-age-blocks {max}; fetch a recent receipt",
            verified.as_of_height
        );
    }
    let Some(max) = args.max_age else {
        return Ok(None);
    };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    // A block time ahead of this clock (clock skew) counts as no age at all.
    let age_ms = now_ms.saturating_sub(verified.block_time_ms);
    anyhow::ensure!(
        u128::from(age_ms) <= max.as_millis(),
        "too old: finalized in block {} at {}, {} ago, more than --max-age {}; fetch a recent \
         receipt",
        verified.block_height,
        super::utc(verified.block_time_ms),
        human(Duration::from_millis(age_ms)),
        human(max)
    );
    Ok(Some(age_ms))
}

/// Everything a bill's signed record says.
fn print_bill(bill: &Bill) {
    let a = &bill.issue.amounts;
    println!("bill {} (check code {})", bill.id(), bill.check_code);
    println!(
        "  issued by {} in block {} ({}), {} visit, patient {}",
        bill.issuer,
        bill.issued_height,
        super::utc(bill.issued_at_ms),
        super::api_name(&bill.issue.visit_type),
        bill.issue.patient
    );
    println!(
        "  total {} = pooled fund {} + personal account {} + other fund {} + patient paid {}",
        a.total, a.pooled_fund, a.personal_account, a.other_fund, a.patient_pay
    );
    if let Some(categories) = super::categories_line(bill) {
        println!("  categories: {categories}");
    }
    let kind = match (&bill.kind, &bill.voided_by) {
        (BillKind::Red { reverses }, _) => format!("red bill reversing {reverses}"),
        (BillKind::Normal, Some(red)) => format!("voided by red bill {red}"),
        (BillKind::Normal, None) => "valid".to_string(),
    };
    println!(
        "  {kind}: claimable {}, reserved {}, reimbursed {}",
        bill.claimable(),
        bill.reserved,
        bill.reimbursed
    );
    let claims: Vec<String> = bill.claims.iter().map(ToString::to_string).collect();
    println!("  {} claim(s){}", claims.len(), list(&claims));
    println!("  body commitment {}", bill.issue.body_commitment);
    match &bill.sealed_body {
        Some(sealed) => println!("  sealed body {sealed}"),
        None => println!("  no sealed body"),
    }
    if !bill.accessed_by.is_empty() {
        let readers: Vec<String> = bill.accessed_by.iter().map(ToString::to_string).collect();
        println!("  body accessed by {}", readers.join(", "));
    }
}

/// Everything a claim's signed record says, approved amounts and payment reference included.
fn print_claim(claim: &Claim) {
    let s = &claim.submission;
    let filer = match &claim.filed_by {
        Some(platform) => format!("filed by {platform} for the patient"),
        None => "filed by the patient".to_string(),
    };
    println!("claim {} to {} for patient {}", s.claim_id, s.payer, s.patient);
    println!("  {filer}, accepted in block {}", claim.submitted_height);
    for (i, item) in s.items.iter().enumerate() {
        println!("  item {}: bill {}, requested {}", i + 1, item.bill, item.amount);
    }
    println!("  requested {} in all", claim.requested_total());
    if !s.disclosures.is_empty() {
        let bills: Vec<String> = s.disclosures.iter().map(|d| d.bill.to_string()).collect();
        println!("  bodies disclosed to the payer: {}", bills.join(", "));
    }
    match &claim.status {
        ClaimStatus::Locked => println!("  locked: the requested amounts are reserved"),
        ClaimStatus::Settled { approved, payment_reference, height } => {
            let amounts: Vec<String> = approved.iter().map(ToString::to_string).collect();
            let total = Fen::checked_sum(approved.iter().copied()).unwrap_or(Fen(u64::MAX));
            let reference = if payment_reference.as_str().is_empty() {
                "no payment reference recorded yet".to_string()
            } else {
                format!("payment reference {payment_reference}")
            };
            println!(
                "  settled in block {height}: approved {} = {total}, {reference}",
                amounts.join(" + ")
            );
        }
        ClaimStatus::Rejected { reason, height } => {
            println!("  rejected in block {height}: {reason}");
        }
        ClaimStatus::Withdrawn { height } => println!("  withdrawn in block {height}"),
    }
    if let Some(a) = &claim.adjudication {
        let outcome = if a.auto_approved { "settled by it" } else { "a recommendation" };
        println!(
            "  adjudicated under the payer's policy version {} (benefit year {}), {outcome}:",
            a.policy_version, a.year
        );
        let line = |name: &str, l: &Lines| {
            println!(
                "    {name}: submitted {}, eligible {}, deductible {}, benefit {}",
                l.submitted, l.eligible, l.deductible, l.benefit
            );
        };
        for (i, item) in a.items.iter().enumerate() {
            line(&format!("item {}", i + 1), item);
        }
        line("total", &a.total);
    }
}

/// `: a, b, c`, or nothing for no items.
fn list(items: &[String]) -> String {
    if items.is_empty() { String::new() } else { format!(": {}", items.join(", ")) }
}

/// `--out FILE` of the receipt commands.
#[derive(clap::Args, Debug, Clone)]
pub struct ReceiptOut {
    /// Write the receipt's bytes to this file (without it, its hex is printed).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print the receipt as the text of a QR code (ML1*BILL*CHECK-CODE*BASE45) instead.
    #[arg(long, conflicts_with = "out")]
    pub qr: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_parse_with_a_unit_and_print_for_people() {
        assert_eq!(parse_age("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_age("30m"), Ok(Duration::from_secs(1_800)));
        assert_eq!(parse_age("1h"), Ok(Duration::from_secs(3_600)));
        assert_eq!(parse_age("7d"), Ok(Duration::from_secs(604_800)));
        for bad in ["", "1", "h", "1w", "-1h", "1.5h", "99999999999999999999d"] {
            assert!(parse_age(bad).is_err(), "{bad}");
        }
        assert_eq!(human(Duration::from_secs(42)), "42s");
        assert_eq!(human(Duration::from_secs(192)), "3m 12s");
        assert_eq!(human(Duration::from_secs(7_500)), "2h 5m");
        assert_eq!(human(Duration::from_secs(349_200)), "4d 1h");
        assert_eq!(human(Duration::from_secs(3_600)), "1h");
        assert_eq!(
            crate::cli::api_name(&medledger_types::ChargeCategory::WesternMedicine),
            "western_medicine"
        );
    }
}
