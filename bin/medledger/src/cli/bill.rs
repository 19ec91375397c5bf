//! `medledger bill`: issue bills from a file, show one, void one.

use super::{Node, NodeArgs, print_json, read_key, utc};
use medledger_types::{Bill, BillId, BillKind, BillNumber, Claim, Fen, Payload};
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;

/// `medledger bill …`.
#[derive(clap::Args, Debug)]
pub struct BillArgs {
    #[command(flatten)]
    node: NodeArgs,
    #[command(subcommand)]
    command: BillCommand,
}

#[derive(clap::Subcommand, Debug)]
enum BillCommand {
    /// Issue the bills in a JSON file, in signed batches, each committed before the next.
    ///
    /// Prints each batch as it is committed (bills, block, latency) and a summary. Batches are
    /// all or nothing: when the ledger rejects one, the command stops there with the ledger's
    /// reason and exit status 3; the batches before it stay issued.
    #[command(after_long_help = super::issue::HELP)]
    Issue {
        /// The hospital's signing key file.
        #[arg(long, value_name = "HOSPITAL_KEY")]
        key: PathBuf,
        /// The bills (format below).
        #[arg(long, value_name = "BILLS.json")]
        file: PathBuf,
        /// Bills per signed batch (at most 1000, the ledger's limit).
        #[arg(long, value_name = "N", default_value_t = 1_000,
              value_parser = clap::value_parser!(u16).range(1..=1_000))]
        batch: u16,
    },
    /// Show a bill: its public header, status, reserved and reimbursed amounts, and its claims.
    #[command(after_long_help = SHOW_HELP)]
    Show {
        /// The bill, CODE/NUMBER.
        #[arg(value_parser = parse_bill_id)]
        bill: BillId,
    },
    /// Fetch a receipt for the bill that anyone can verify offline (`medledger verify`).
    #[command(after_long_help = super::receipt::VERIFY_HELP)]
    Receipt {
        /// The bill, CODE/NUMBER.
        #[arg(value_parser = parse_bill_id)]
        bill: BillId,
        #[command(flatten)]
        out: super::receipt::ReceiptOut,
    },
    /// Void a bill with a linked red bill (only the issuing hospital, only while nothing is
    /// reserved or reimbursed against it).
    #[command(after_long_help = VOID_HELP)]
    Void {
        /// The bill to void, CODE/NUMBER.
        #[arg(value_parser = parse_bill_id)]
        bill: BillId,
        /// The red bill's number: same code, unused, in the hospital's range.
        #[arg(long, value_name = "NUMBER", value_parser = parse_number)]
        red: BillNumber,
        /// The issuing hospital's signing key file.
        #[arg(long, value_name = "HOSPITAL_KEY")]
        key: PathBuf,
    },
}

const SHOW_HELP: &str = concat!(
    "Example:
  medledger bill show 44010126/0000000001
  medledger bill show 44010126/1 --json

",
    super::exit_codes_help!()
);

const VOID_HELP: &str = concat!(
    "Example:
  medledger bill void 44010126/0000000001 --red 9000001 \\
      --key localnet/keys/members/city-central-hospital.key.json

",
    super::exit_codes_help!()
);

/// Parses `CODE/NUMBER`: an 8-digit code and a number of up to 10 digits (leading zeros
/// optional, as people copy them from the paper bill or not).
pub fn parse_bill_id(text: &str) -> Result<BillId, String> {
    let (code, number) = text.split_once('/').ok_or_else(|| {
        format!("a bill is written CODE/NUMBER, e.g. 44010126/0000000001: {text:?}")
    })?;
    Ok(BillId { code: code.parse().map_err(|e| format!("{e}"))?, number: parse_number(number)? })
}

/// Parses a bill number of up to 10 digits.
pub fn parse_number(text: &str) -> Result<BillNumber, String> {
    let value = text
        .parse::<u64>()
        .ok()
        .filter(|_| text.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| format!("a bill number is up to 10 digits: {text:?}"))?;
    BillNumber::new(value).map_err(|e| e.to_string())
}

pub fn run(args: BillArgs) -> anyhow::Result<ExitCode> {
    let node = args.node.connect()?;
    match args.command {
        BillCommand::Issue { key, file, batch } => {
            super::issue::run(&node, &read_key(&key)?, &file, usize::from(batch))
        }
        BillCommand::Show { bill } => show(&node, bill),
        BillCommand::Receipt { bill, out } => {
            super::receipt::save(&node.client.bill_receipt(bill)?, &out, node.json)
        }
        BillCommand::Void { bill, red, key } => node.transact(
            &read_key(&key)?,
            Payload::VoidBill { bill, red_number: red },
            &[("red_bill", BillId { code: bill.code, number: red }.to_string())],
        ),
    }
}

/// A bill with what people ask about it first.
#[derive(Serialize)]
struct BillView {
    /// `valid`, `voided` or `red`.
    status: &'static str,
    /// What is left to claim: claimable − reserved − reimbursed.
    remaining: Fen,
    bill: Bill,
    /// Every claim against it, oldest first.
    claims: Vec<Claim>,
}

fn show(node: &Node, id: BillId) -> anyhow::Result<ExitCode> {
    let bill = node.client.bill(id)?;
    // Bounded: the ledger caps claims per bill (BILL_CLAIMS_MAX, 64).
    let claims =
        bill.claims.iter().map(|c| node.client.claim(*c)).collect::<Result<Vec<_>, _>>()?;
    let status = bill.status_name();
    let remaining = Fen::checked_sum([bill.reserved, bill.reimbursed])
        .and_then(|used| bill.claimable().checked_sub(used))
        .unwrap_or(Fen::ZERO);
    let view = BillView { status, remaining, bill, claims };
    if node.json {
        print_json(&view)?;
    } else {
        print_bill(&view);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_bill(view: &BillView) {
    let (bill, a) = (&view.bill, &view.bill.issue.amounts);
    println!("bill {}  check code {}", bill.id(), bill.check_code);
    let status = match (bill.kind, bill.voided_by) {
        (BillKind::Red { reverses }, _) => format!("red bill, reverses {reverses}"),
        (_, Some(red)) => format!("voided by red bill {red}"),
        _ => view.status.to_string(),
    };
    println!("  status      {status}");
    println!(
        "  issued      by {} in block {} at {}",
        bill.issuer,
        bill.issued_height,
        utc(bill.issued_at_ms)
    );
    let visit = serde_json::to_value(bill.issue.visit_type).unwrap_or_default();
    println!("  visit       {}", visit.as_str().unwrap_or("?"));
    println!("  patient     {}", bill.issue.patient);
    println!(
        "  total       {} = pooled fund {} + personal account {} + other funds {} + patient pay {}",
        a.total, a.pooled_fund, a.personal_account, a.other_fund, a.patient_pay
    );
    if !bill.issue.categories.is_empty() {
        let categories: Vec<String> = bill
            .issue
            .categories
            .iter()
            .map(|c| {
                let name = serde_json::to_value(c.category).unwrap_or_default();
                format!("{} {}", name.as_str().unwrap_or("?"), c.amount)
            })
            .collect();
        println!("  categories  {}", categories.join(", "));
    }
    println!(
        "  claimable   {}: reimbursed {}, reserved {}, remaining {}",
        bill.claimable(),
        bill.reimbursed,
        bill.reserved,
        view.remaining
    );
    println!("  body        commitment {}", bill.issue.body_commitment);
    println!("  claims      {}", view.claims.len());
    for claim in &view.claims {
        let requested = claim
            .submission
            .items
            .iter()
            .find(|item| item.bill == bill.id())
            .map_or(Fen::ZERO, |item| item.amount);
        println!(
            "    {}  {}  {} requested of this bill  {}",
            claim.submission.claim_id,
            claim.submission.payer,
            requested,
            super::claim::status_line(claim)
        );
    }
}
