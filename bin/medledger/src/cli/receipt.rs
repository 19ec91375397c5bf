//! Receipts: `bill receipt` / `claim receipt` fetch one from a node and save it; `verify`
//! checks one offline with nothing but the genesis file (the validators' public keys).

use super::{emit, print_json};
use anyhow::Context as _;
use medledger_receipt::{Receipt, Record, verify};
use medledger_types::Genesis;
use medledger_types::api::ReceiptView;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Receipt files larger than this are refused (a receipt is a few kilobytes).
const RECEIPT_FILE_BYTES_MAX: u64 = 1024 * 1024;

/// Long help of `verify`.
pub const VERIFY_HELP: &str = "Example:
  medledger bill receipt 44010126/0000000001 --out bill.receipt
  medledger verify bill.receipt --genesis localnet/genesis.json

The receipt may be the binary file `--out` writes, its hex, the text of its QR code
(ML1*…, `--qr`), or the JSON a node answers at /v1/bills/CODE/NUMBER/proof. Verification needs no node: it checks that the record hashes to a
leaf, that the proof places the leaf under the state tree's root, that the root and the
receipts chain give the block header's state root, and that a quorum of the genesis validators
signed the finalization of that header. The record is shown as of the height the header's
state root commits to.

Exit status: 0 verified, 1 not verified (one line on standard error says which check failed)";

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

/// Reads a receipt: binary, hex, or a node's JSON answer.
fn read_receipt(path: &Path) -> anyhow::Result<Receipt> {
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
    Receipt::parse(&bytes).map_err(|e| anyhow::anyhow!("not a valid receipt: {e}"))
}

#[derive(Serialize)]
struct VerifiedView {
    verified: bool,
    chain_id: String,
    as_of_height: u64,
    block_height: u64,
    block_time_ms: u64,
    signers: u32,
    validators: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    bill: Option<medledger_types::Bill>,
    #[serde(skip_serializing_if = "Option::is_none")]
    claim: Option<medledger_types::Claim>,
}

/// `medledger verify RECEIPT --genesis FILE`.
pub fn run_verify(receipt: &Path, genesis: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(genesis)
        .with_context(|| format!("reading {}", genesis.display()))?;
    let genesis: Genesis = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a genesis file", genesis.display()))?;
    let receipt = read_receipt(receipt)?;
    let verified = verify(&receipt, &genesis).map_err(|e| anyhow::anyhow!("not verified: {e}"))?;
    let (bill, claim) = match &verified.record {
        Record::Bill(bill) => (Some(bill.clone()), None),
        Record::Claim(claim) => (None, Some(claim.clone())),
    };
    let view = VerifiedView {
        verified: true,
        chain_id: genesis.chain_id.to_string(),
        as_of_height: verified.as_of_height,
        block_height: verified.block_height,
        block_time_ms: verified.block_time_ms,
        signers: verified.signers,
        validators: verified.validators,
        bill,
        claim,
    };
    if json {
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
    match (&view.bill, &view.claim) {
        (Some(bill), _) => println!(
            "bill {} as of height {}: {}, claimable {}, reserved {}, reimbursed {}, {} claim(s)",
            bill.issue.id,
            view.as_of_height,
            bill.status_name(),
            bill.claimable(),
            bill.reserved,
            bill.reimbursed,
            bill.claims.len()
        ),
        (_, Some(claim)) => println!(
            "claim {} as of height {}: {} with {}, requested {}",
            claim.submission.claim_id,
            view.as_of_height,
            claim.status.name(),
            claim.submission.payer,
            claim.requested_total()
        ),
        _ => {}
    }
    Ok(ExitCode::SUCCESS)
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
