//! `medledger bill`: issue bills from a file, show one, void one.

use super::{Node, NodeArgs, print_json, read_key, utc};
use anyhow::Context as _;
use medledger_client::ClientError;
use medledger_privacy::{EncryptionSecret, IssuerKeystore, PrivateBody};
use medledger_types::{
    AccessPurpose, Bill, BillId, BillKind, BillNumber, Claim, Fen, Payload, Pseudonym, Text,
};
use serde::Serialize;
use std::path::{Path, PathBuf};
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
        /// Bills per signed batch (at most 1000, the ledger's limit; batches are also cut
        /// by size, as sealed bodies are about 1.3 KB a bill).
        #[arg(long, value_name = "N", default_value_t = 1_000,
              value_parser = clap::value_parser!(u16).range(1..=1_000))]
        batch: u16,
        /// The hospital's per-patient body keys (its copy of each body). Default: next to
        /// the key file, KEY.bodies/.
        #[arg(long, value_name = "DIR")]
        keystore: Option<PathBuf>,
        /// Keep no issuer copy: only the patient and the genesis body readers can read the
        /// bodies.
        #[arg(long, conflicts_with = "keystore")]
        no_issuer_copy: bool,
    },
    /// Show a bill: its public header, status, reserved and reimbursed amounts, and its claims;
    /// with a key entitled to it, also its private body, decrypted here and checked against
    /// the header's commitment.
    #[command(after_long_help = SHOW_HELP)]
    Show {
        /// The bill, CODE/NUMBER.
        #[arg(value_parser = parse_bill_id)]
        bill: BillId,
        /// Open the private body with this key file: the issuing hospital's, a payer's the
        /// patient disclosed the bill to, the regulator's (its access is recorded on the
        /// ledger first), or the patient's wallet key.
        #[arg(long, value_name = "KEY")]
        key: Option<PathBuf>,
        /// Open the private body as this patient, whose key is in --patients.
        #[arg(long, value_name = "PSEUDONYM", conflicts_with = "key")]
        patient: Option<Pseudonym>,
        /// The demo patients' keys written by `medledger init`: the network directory or its
        /// keys/patients.json.
        #[arg(long, value_name = "PATH", default_value = "localnet")]
        patients: PathBuf,
        /// The issuing hospital's key store (default: next to --key, KEY.bodies/).
        #[arg(long, value_name = "DIR")]
        keystore: Option<PathBuf>,
        /// Why a body reader (the regulator) opens the body, as recorded on the ledger: audit,
        /// fraud_investigation, complaint, legal_request or data_quality.
        #[arg(long, value_name = "PURPOSE", default_value = "audit")]
        purpose: AccessPurpose,
        /// The reader's own case or file reference, recorded with the access but never
        /// published by the API (never patient data).
        #[arg(long, value_name = "TEXT", default_value = "")]
        reference: String,
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
  medledger bill show 44010126/1 --key localnet/keys/members/city-central-hospital.key.json
  medledger bill show 44010126/1 --patient 9f86d081884c7d659a2feaa0c55ad015
  medledger bill show 44010126/1 --key localnet/keys/members/finance-bureau.key.json \
      --purpose audit --reference \"case 2026-17\"

Private bodies are served only to a signed request from an entitled key, and decrypted here;
the node never sees a secret. A regulator's first read of a bill records an access_body
transaction, which the patient sees in their event stream.

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
        BillCommand::Issue { key: key_path, file, batch, keystore, no_issuer_copy } => {
            let keystore = (!no_issuer_copy)
                .then(|| keystore.unwrap_or_else(|| super::issue::default_keystore(&key_path)));
            let key = read_key(&key_path)?;
            super::issue::run(&node, &key, &file, usize::from(batch), keystore.as_deref())
        }
        BillCommand::Show { bill, key, patient, patients, keystore, purpose, reference } => {
            let reader = match (key, patient) {
                (Some(path), _) => {
                    let keystore =
                        keystore.unwrap_or_else(|| super::issue::default_keystore(&path));
                    Some(Reader { key: read_key(&path)?, keystore: Some(keystore) })
                }
                (None, Some(patient)) => {
                    let key = super::read_patients(&patients)?
                        .into_iter()
                        .find_map(|(p, key)| (p == patient).then_some(key))
                        .with_context(|| {
                            format!("no patient {patient} in {}", patients.display())
                        })?;
                    Some(Reader { key, keystore: None })
                }
                (None, None) => None,
            };
            show(&node, bill, reader.as_ref(), (purpose, &reference))
        }
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
    /// The private body, when opened with an entitled key.
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<OpenedBody>,
}

/// Who opens a private body: a signing key, and a hospital's key store for its own copies.
struct Reader {
    key: medledger_types::SigningKey,
    keystore: Option<PathBuf>,
}

/// An opened body and how the reader was entitled to it.
#[derive(Serialize)]
struct OpenedBody {
    entitlement: String,
    commitment_verified: bool,
    #[serde(flatten)]
    body: PrivateBody,
}

/// Fetches (with a signed request) and opens `bill`'s body. A body reader's first read records
/// its access on the ledger.
fn open_body(
    node: &Node,
    bill: &Bill,
    reader: &Reader,
    (purpose, reference): (AccessPurpose, &str),
) -> anyhow::Result<OpenedBody> {
    let id = bill.id();
    let fetched = match node.client.bill_body(id, &reader.key) {
        Err(ClientError::Api { error, .. }) if error.code == "access_not_recorded" => {
            let reference = Text::new(reference).context("--reference")?;
            if !node.json {
                eprintln!(
                    "recording this access to bill {id} on the ledger (purpose: {})",
                    purpose.name()
                );
            }
            let tx =
                node.sign(&reader.key, Payload::AccessBody { bill: id, purpose, reference })?;
            let submitted = node.submit(&tx)?;
            if !submitted.accepted {
                anyhow::bail!("the ledger refused to record the access: {}", submitted.message);
            }
            node.client.bill_body(id, &reader.key)?
        }
        other => other?,
    };
    // The reader's own key opens its wrap or a disclosure to it; a hospital's copy is under its
    // per-patient key in its key store.
    let mut secrets = vec![EncryptionSecret::from_signing_key(&reader.key)];
    if let Some(dir) = reader.keystore.as_deref().filter(|d| d.is_dir())
        && let Some(copy) = keystore_copy(dir, &bill.issue.patient)?
    {
        secrets.push(copy);
    }
    let chain = node.tip()?.0;
    let sealed = &fetched.sealed_body;
    let mut last = medledger_privacy::OpenError::NoWrapForKey;
    for secret in &secrets {
        let wrap = sealed.wrap_for(&secret.public()).or_else(|| {
            fetched.disclosures.iter().map(|d| &d.wrap).find(|w| w.recipient == secret.public())
        });
        let Some(wrap) = wrap else { continue };
        match medledger_privacy::open(
            &chain,
            &id,
            sealed,
            &bill.issue.body_commitment,
            wrap,
            secret,
        ) {
            Ok(body) => {
                return Ok(OpenedBody {
                    entitlement: fetched.entitlement,
                    commitment_verified: true,
                    body,
                });
            }
            Err(e) => last = e,
        }
    }
    Err(anyhow::anyhow!(
        "cannot open the body of bill {id} as {}: {last} (was this key's copy erased?)",
        fetched.entitlement
    ))
}

fn keystore_copy(dir: &Path, patient: &Pseudonym) -> anyhow::Result<Option<EncryptionSecret>> {
    let store = IssuerKeystore::open(dir).with_context(|| format!("opening {}", dir.display()))?;
    Ok(store.existing(patient)?)
}

fn show(
    node: &Node,
    id: BillId,
    reader: Option<&Reader>,
    purpose: (AccessPurpose, &str),
) -> anyhow::Result<ExitCode> {
    let bill = node.client.bill(id)?;
    let body = match reader {
        Some(reader) if bill.sealed_body.is_some() => {
            Some(open_body(node, &bill, reader, purpose)?)
        }
        _ => None,
    };
    // Bounded: the ledger caps claims per bill (BILL_CLAIMS_MAX, 64).
    let claims =
        bill.claims.iter().map(|c| node.client.claim(*c)).collect::<Result<Vec<_>, _>>()?;
    let status = bill.status_name();
    let remaining = Fen::checked_sum([bill.reserved, bill.reimbursed])
        .and_then(|used| bill.claimable().checked_sub(used))
        .unwrap_or(Fen::ZERO);
    let view = BillView { status, remaining, bill, claims, body };
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
    println!("  visit       {}", super::api_name(&bill.issue.visit_type));
    println!("  patient     {}", bill.issue.patient);
    println!(
        "  total       {} = pooled fund {} + personal account {} + other funds {} + patient pay {}",
        a.total, a.pooled_fund, a.personal_account, a.other_fund, a.patient_pay
    );
    if let Some(categories) = super::categories_line(bill) {
        println!("  categories  {categories}");
    }
    println!(
        "  claimable   {}: reimbursed {}, reserved {}, remaining {}",
        bill.claimable(),
        bill.reimbursed,
        bill.reserved,
        view.remaining
    );
    println!("  body        commitment {}", bill.issue.body_commitment);
    if let Some(digest) = bill.sealed_body {
        println!("              sealed {digest}");
    }
    if !bill.accessed_by.is_empty() {
        let readers: Vec<String> = bill.accessed_by.iter().map(ToString::to_string).collect();
        println!("  accessed by {}", readers.join(", "));
    }
    if let Some(opened) = &view.body {
        print_body(opened);
    }
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

fn print_body(opened: &OpenedBody) {
    let body = &opened.body;
    println!("  private     opened as {}; matches the header's commitment", opened.entitlement);
    println!("    patient   {} ({})", body.patient_name, body.patient_id);
    println!("    dept      {}", body.department);
    println!("    diagnosis {}", body.diagnosis);
    println!("    paid by   {}", body.payment_channel);
    for item in &body.items {
        let category = serde_json::to_value(item.category).unwrap_or_default();
        println!(
            "    {:<12} {:<24} {:<16} {} × {} = {} (self-paid {})",
            item.code,
            item.name,
            category.as_str().unwrap_or("?"),
            item.unit_price,
            item.quantity,
            item.amount,
            item.self_paid
        );
    }
}
