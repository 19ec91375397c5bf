//! `medledger claim`: file a claim (as the patient, or as the payment platform with the
//! patient's consent), show it, and settle, reject or withdraw it.

use super::amount::parse_fen;
use super::bill::parse_bill_id;
use super::{Node, NodeArgs, print_json, random_bytes, read_key};
use anyhow::Context as _;
use medledger_crypto::SigningKey;
use medledger_types::{
    BillId, ChainId, Claim, ClaimId, ClaimItem, ClaimStatus, ClaimSubmission, Fen, MemberId,
    PatientConsent, Payload, Pseudonym, Text,
};
use std::path::PathBuf;
use std::process::ExitCode;

/// `medledger claim …`.
#[derive(clap::Args, Debug)]
pub struct ClaimArgs {
    #[command(flatten)]
    node: NodeArgs,
    #[command(subcommand)]
    command: ClaimCommand,
}

#[derive(clap::Subcommand, Debug)]
enum ClaimCommand {
    /// File a claim with one payer for one or more bills; prints the claim id.
    ///
    /// Signed by the patient, or by the payment platform (--key) carrying the patient's
    /// consent, which the patient's key signs. On acceptance the amounts are reserved on the
    /// bills until the payer settles or rejects the claim, or the patient withdraws it.
    #[command(after_long_help = SUBMIT_HELP)]
    Submit {
        /// The bill, CODE/NUMBER (with --amount).
        #[arg(long, value_parser = parse_bill_id, requires = "amount")]
        bill: Option<BillId>,
        /// The amount claimed from --bill, in yuan (at most what is left of its patient pay).
        #[arg(long, value_parser = parse_fen, requires = "bill")]
        amount: Option<Fen>,
        /// A further bill and amount, CODE/NUMBER=AMOUNT; may be repeated.
        #[arg(long = "item", value_name = "CODE/NUMBER=AMOUNT", value_parser = parse_item)]
        items: Vec<(BillId, Fen)>,
        /// The payer asked to pay: a member id, e.g. social-security.
        #[arg(long, value_name = "MEMBER")]
        payer: MemberId,
        /// The claim's id (32 hex characters). Default: random. Filing the same id twice has no
        /// second effect, so a retry with the same id is safe.
        #[arg(long, value_name = "CLAIM_ID")]
        claim_id: Option<ClaimId>,
        /// Do not disclose the bills' private bodies to the payer. By default the patient's
        /// consent lets this payer, and no one else, read each claimed bill's body: the patient's
        /// wallet re-wraps each bill's data key to the payer's encryption key.
        #[arg(long)]
        no_disclose: bool,
        #[command(flatten)]
        patient: PatientSigner,
    },
    /// Show a claim: payer, patient, bills, requested and approved amounts, status.
    #[command(after_long_help = SHOW_HELP)]
    Show {
        /// The claim id (32 hex characters).
        claim_id: ClaimId,
    },
    /// Fetch a receipt for the claim that anyone can verify offline (`medledger verify`).
    #[command(after_long_help = super::receipt::VERIFY_HELP)]
    Receipt {
        /// The claim id (32 hex characters).
        claim_id: ClaimId,
        #[command(flatten)]
        out: super::receipt::ReceiptOut,
    },
    /// Settle (pay) a claim, as its payer.
    #[command(after_long_help = SETTLE_HELP)]
    Settle {
        /// The claim id (32 hex characters).
        claim_id: ClaimId,
        /// The payer's signing key file.
        #[arg(long, value_name = "PAYER_KEY")]
        key: PathBuf,
        /// Approved amount in yuan, once per item of the claim in its order (each at most the
        /// requested amount). Without it: the recommendation of the payer's policy when the
        /// claim carries one, else every requested amount.
        #[arg(long = "amount", value_name = "AMOUNT", value_parser = parse_fen)]
        amounts: Vec<Fen>,
        /// The payment reference (at most 128 bytes; never patient data).
        #[arg(long, value_name = "REF")]
        reference: Text,
    },
    /// Record the payment of a claim the ledger settled by the payer's policy, as its payer.
    #[command(after_long_help = PAY_HELP)]
    Pay {
        /// The claim id (32 hex characters).
        claim_id: ClaimId,
        /// The payer's signing key file.
        #[arg(long, value_name = "PAYER_KEY")]
        key: PathBuf,
        /// The payment reference (1 to 128 bytes; never patient data).
        #[arg(long, value_name = "REF")]
        reference: Text,
    },
    /// Reject a claim, as its payer; the reserved amounts are released.
    #[command(after_long_help = REJECT_HELP)]
    Reject {
        /// The claim id (32 hex characters).
        claim_id: ClaimId,
        /// The payer's signing key file.
        #[arg(long, value_name = "PAYER_KEY")]
        key: PathBuf,
        /// Why (at most 128 bytes; never patient data).
        #[arg(long, value_name = "TEXT")]
        reason: Text,
    },
    /// Withdraw a claim, as the patient (or the payment platform with the patient's consent);
    /// the reserved amounts are released.
    #[command(after_long_help = WITHDRAW_HELP)]
    Withdraw {
        /// The claim id (32 hex characters).
        claim_id: ClaimId,
        #[command(flatten)]
        patient: PatientSigner,
    },
}

const SUBMIT_HELP: &str = concat!(
    "Examples:
  # the patient files, with a key from the demo network's patients file
  medledger claim submit --bill 44010126/0000000001 --amount 150.00 --payer social-security \\
      --patient 9f2c… --patients localnet
  # the wallet platform files for the patient, who signs only the consent
  medledger claim submit --item 44010126/0000000001=100.00 --item 44010126/0000000002=30.00 \\
      --payer ping-health --key localnet/keys/members/wallet-platform.key.json \\
      --patient-key patient.key.json

",
    super::exit_codes_help!()
);

const SHOW_HELP: &str = concat!(
    "Example:
  medledger claim show 6c0d8e2f4a9b1c3d5e7f8091a2b3c4d5 --json

",
    super::exit_codes_help!()
);

const SETTLE_HELP: &str = concat!(
    "Examples:
  medledger claim settle 6c0d8e2f4a9b1c3d5e7f8091a2b3c4d5 --reference SSB-2026-0042 \\
      --key localnet/keys/members/social-security.key.json
  medledger claim settle 6c0d8e2f4a9b1c3d5e7f8091a2b3c4d5 --amount 120.00 --amount 0 \\
      --reference PING-77 --key localnet/keys/members/ping-health.key.json

",
    super::exit_codes_help!()
);

const PAY_HELP: &str = concat!(
    "Example (the payer's system, after paying a claim the ledger settled by its policy):
  medledger claim pay 6c0d8e2f4a9b1c3d5e7f8091a2b3c4d5 --reference SSB-2026-0043 \\
      --key localnet/keys/members/social-security.key.json

",
    super::exit_codes_help!()
);

const REJECT_HELP: &str = concat!(
    "Example:
  medledger claim reject 6c0d8e2f4a9b1c3d5e7f8091a2b3c4d5 --reason \"not covered by the policy\" \\
      --key localnet/keys/members/ping-health.key.json

",
    super::exit_codes_help!()
);

const WITHDRAW_HELP: &str = concat!(
    "Example:
  medledger claim withdraw 6c0d8e2f4a9b1c3d5e7f8091a2b3c4d5 --patient-key patient.key.json

",
    super::exit_codes_help!()
);

/// Whose key signs for the patient: the patient's own, and optionally the payment platform's.
#[derive(clap::Args, Debug)]
struct PatientSigner {
    /// The patient's wallet key file.
    #[arg(long, value_name = "FILE", required_unless_present = "patient")]
    patient_key: Option<PathBuf>,
    /// The patient's pseudonym (32 hex characters); without --patient-key, its key is looked
    /// up in --patients.
    #[arg(long, value_name = "PSEUDONYM")]
    patient: Option<Pseudonym>,
    /// The demo patients' keys written by `medledger init`: the network directory or its
    /// keys/patients.json.
    #[arg(long, value_name = "PATH", default_value = "localnet")]
    patients: PathBuf,
    /// File as the payment platform with this key file; the patient's key then signs only the
    /// patient's consent.
    #[arg(long, value_name = "PLATFORM_KEY")]
    key: Option<PathBuf>,
}

impl PatientSigner {
    /// The patient's wallet key.
    fn patient_key(&self) -> anyhow::Result<SigningKey> {
        match (&self.patient_key, self.patient) {
            (Some(path), _) => read_key(path),
            (None, Some(patient)) => super::read_patients(&self.patients)?
                .into_iter()
                .find_map(|(p, key)| (p == patient).then_some(key))
                .with_context(|| format!("no patient {patient} in {}", self.patients.display())),
            (None, None) => anyhow::bail!("give --patient-key or --patient"),
        }
    }

    /// Signs, submits and reports `payload(consent)`: signed by the patient with no consent,
    /// or by the platform with the consent `consent(chain, patient key)`.
    fn transact(
        &self,
        node: &Node,
        payload: impl FnOnce(Option<PatientConsent>) -> Payload,
        consent: impl FnOnce(&ChainId, &SigningKey) -> PatientConsent,
        extra: &[(&str, String)],
    ) -> anyhow::Result<ExitCode> {
        let patient = self.patient_key()?;
        match &self.key {
            None => node.transact(&patient, payload(None), extra),
            Some(platform) => {
                let (chain, _) = node.tip()?;
                let consent = consent(&chain, &patient);
                node.transact(&read_key(platform)?, payload(Some(consent)), extra)
            }
        }
    }
}

/// The patient's consent for the claim's payer to read each claimed bill's body (see
/// `Client::disclosures`); none, with a note, when the payer has no encryption key.
fn disclose(
    node: &Node,
    patient: &SigningKey,
    claim: &ClaimSubmission,
) -> anyhow::Result<Vec<medledger_types::Disclosure>> {
    let disclosures = node
        .client
        .disclosures(patient, claim)
        .with_context(|| format!("disclosing the claimed bills to {}", claim.payer))?;
    if disclosures.is_empty() && !node.json {
        eprintln!("payer {} has no encryption key: its bodies stay undisclosed", claim.payer);
    }
    Ok(disclosures)
}

/// Parses `CODE/NUMBER=AMOUNT`.
fn parse_item(text: &str) -> Result<(BillId, Fen), String> {
    let (bill, amount) =
        text.split_once('=').ok_or_else(|| format!("expected CODE/NUMBER=AMOUNT: {text:?}"))?;
    Ok((parse_bill_id(bill)?, parse_fen(amount)?))
}

pub fn run(args: ClaimArgs) -> anyhow::Result<ExitCode> {
    let node = args.node.connect()?;
    match args.command {
        ClaimCommand::Submit { bill, amount, items, payer, claim_id, no_disclose, patient } => {
            let items: Vec<ClaimItem> = bill
                .zip(amount)
                .into_iter()
                .chain(items)
                .map(|(bill, amount)| ClaimItem { bill, amount })
                .collect();
            let first = items.first().context("give --bill and --amount, or --item")?.bill;
            let claim = ClaimSubmission {
                claim_id: claim_id.unwrap_or_else(|| ClaimId(random_bytes())),
                payer,
                // Without --patient the first bill says whose it is.
                patient: match patient.patient {
                    Some(p) => p,
                    None => node.client.bill(first)?.issue.patient,
                },
                disclosures: Vec::new(),
                items,
            };
            let mut claim = claim;
            if !no_disclose {
                claim.disclosures = disclose(&node, &patient.patient_key()?, &claim)?;
            }
            let extra = [("claim_id", claim.claim_id.to_string())];
            let consent_to = claim.clone();
            patient.transact(
                &node,
                |consent| Payload::SubmitClaim { claim, consent },
                |chain, key| PatientConsent::to_submit(chain, key, &consent_to),
                &extra,
            )
        }
        ClaimCommand::Receipt { claim_id, out } => {
            super::receipt::save(&node.client.claim_receipt(claim_id)?, &out, node.json)
        }
        ClaimCommand::Show { claim_id } => {
            let claim = node.client.claim(claim_id)?;
            if node.json {
                print_json(&claim)?;
            } else {
                print_claim(&claim);
            }
            Ok(ExitCode::SUCCESS)
        }
        ClaimCommand::Settle { claim_id, key, amounts, reference } => {
            let approved = if amounts.is_empty() {
                let claim = node.client.claim(claim_id)?;
                match &claim.adjudication {
                    Some(adjudication) => adjudication.items.iter().map(|l| l.benefit).collect(),
                    None => claim.submission.items.iter().map(|i| i.amount).collect(),
                }
            } else {
                amounts
            };
            let payload = Payload::SettleClaim { claim_id, approved, payment_reference: reference };
            node.transact(&read_key(&key)?, payload, &[])
        }
        ClaimCommand::Pay { claim_id, key, reference } => {
            let payload = Payload::RecordPayment { claim_id, payment_reference: reference };
            node.transact(&read_key(&key)?, payload, &[])
        }
        ClaimCommand::Reject { claim_id, key, reason } => {
            node.transact(&read_key(&key)?, Payload::RejectClaim { claim_id, reason }, &[])
        }
        ClaimCommand::Withdraw { claim_id, patient } => patient.transact(
            &node,
            |consent| Payload::WithdrawClaim { claim_id, consent },
            |chain, key| PatientConsent::to_withdraw(chain, key, &claim_id),
            &[],
        ),
    }
}

/// A claim's status in a few words: `locked`, `settled: 150.00 paid (reference SSB-1)`, …
pub fn status_line(claim: &Claim) -> String {
    match &claim.status {
        ClaimStatus::Locked => "locked (amounts reserved, awaiting the payer)".to_string(),
        ClaimStatus::Settled { approved, payment_reference, height } => {
            let paid = Fen::checked_sum(approved.iter().copied()).unwrap_or(Fen::ZERO);
            let how = if claim.adjudication.as_ref().is_some_and(|a| a.auto_approved) {
                "settled by the payer's policy"
            } else {
                "settled"
            };
            if payment_reference.as_str().is_empty() {
                format!("{how} in block {height}: {paid} to pay, payment not yet recorded")
            } else {
                format!("{how} in block {height}: {paid} paid, reference {payment_reference}")
            }
        }
        ClaimStatus::Rejected { reason, height } => {
            format!("rejected in block {height}: {reason}")
        }
        ClaimStatus::Withdrawn { height } => format!("withdrawn in block {height}"),
    }
}

fn print_claim(claim: &Claim) {
    let s = &claim.submission;
    println!("claim {}", s.claim_id);
    println!("  status      {}", status_line(claim));
    println!("  payer       {}", s.payer);
    println!("  patient     {}", s.patient);
    match &claim.filed_by {
        Some(platform) => println!("  filed by    {platform}, with the patient's consent"),
        None => println!("  filed by    the patient"),
    }
    println!("  submitted   in block {}", claim.submitted_height);
    let approved = match &claim.status {
        ClaimStatus::Settled { approved, .. } => approved.as_slice(),
        _ => &[],
    };
    for (i, item) in s.items.iter().enumerate() {
        let paid = approved.get(i).map(|a| format!(", approved {a}")).unwrap_or_default();
        println!("  item {}      {}  requested {}{paid}", i + 1, item.bill, item.amount);
    }
    println!("  requested   {} in total", claim.requested_total());
    if let Some(adjudication) = &claim.adjudication {
        print_adjudication(adjudication);
    }
}

/// The adjudication lines, as FHIR `ClaimResponse.adjudication`: per item and in total.
fn print_adjudication(adjudication: &medledger_types::Adjudication) {
    let what = if adjudication.auto_approved {
        "settled by it"
    } else {
        "above its auto-settle ceiling: a recommendation for the payer"
    };
    println!(
        "  adjudication under policy version {}, benefit year {} ({what})",
        adjudication.policy_version, adjudication.year
    );
    println!(
        "    {:<8} {:>12} {:>12} {:>12} {:>12}",
        "", "submitted", "eligible", "deductible", "benefit"
    );
    let row = |name: String, l: &medledger_types::Lines| {
        println!(
            "    {name:<8} {:>12} {:>12} {:>12} {:>12}",
            l.submitted.to_string(),
            l.eligible.to_string(),
            l.deductible.to_string(),
            l.benefit.to_string()
        );
    };
    for (i, lines) in adjudication.items.iter().enumerate() {
        row(format!("item {}", i + 1), lines);
    }
    row("total".to_string(), &adjudication.total);
}
