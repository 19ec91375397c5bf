//! `medledger watch`: the node's event stream, one line per event.

use super::NodeArgs;
use medledger_types::api::{Event, EventEnvelope, EventFilter, EventPosition};
use medledger_types::{MemberId, Pseudonym};
use std::process::ExitCode;

/// `medledger watch`.
#[derive(clap::Args, Debug)]
pub struct WatchArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// Only these event types, comma-separated: bills_issued, bill_voided, claim_submitted,
    /// claim_settled, claim_rejected, claim_withdrawn, tx_rejected, block.
    #[arg(long, value_name = "TYPES")]
    types: Option<String>,
    /// Only claims filed with this payer.
    #[arg(long, value_name = "MEMBER")]
    payer: Option<MemberId>,
    /// Only this patient's bills and claims.
    #[arg(long, value_name = "PSEUDONYM")]
    patient: Option<Pseudonym>,
    /// Only bills issued or voided by this hospital.
    #[arg(long, value_name = "MEMBER")]
    issuer: Option<MemberId>,
    /// Start with the events of this block (default: after the node's current block).
    #[arg(long, value_name = "HEIGHT", conflicts_with = "after")]
    from_height: Option<u64>,
    /// Resume after this event id (HEIGHT:INDEX, as printed first on each line).
    #[arg(long, value_name = "EVENT_ID")]
    after: Option<EventPosition>,
    /// Stop after this many events (default: follow until interrupted).
    #[arg(long, value_name = "N")]
    count: Option<usize>,
}

/// Long help of `medledger watch`.
pub const HELP: &str = concat!(
    "Each line starts with the event id (HEIGHT:INDEX); pass the last one seen to --after to
resume there. A dropped connection or a restarted node is resumed by itself; the command
gives up with an error after a minute without the node.

Examples:
  medledger watch
  medledger watch --payer social-security --types claim_submitted,claim_withdrawn
  medledger watch --json --from-height 1 --count 100 > events.jsonl

",
    super::exit_codes_help!()
);

pub fn run(args: WatchArgs) -> anyhow::Result<ExitCode> {
    let node = args.node.connect()?;
    let filter = EventFilter {
        types: args.types,
        payer: args.payer,
        patient: args.patient,
        issuer: args.issuer,
        from_height: args.from_height,
    };
    // Refuse unknown type names here, with the list of known ones, rather than from the node.
    filter.kinds().map_err(anyhow::Error::msg)?;
    let mut stream = node.client.events(filter);
    if let Some(after) = args.after {
        stream = stream.resume_after(after.to_string());
    }
    for envelope in stream.take(args.count.unwrap_or(usize::MAX)) {
        let envelope = envelope?;
        let text = if node.json { serde_json::to_string(&envelope)? } else { line(&envelope) };
        if !super::emit(&text)? {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One event for people: `12:3  claim_settled  claim … settled by social-security: 150.00 paid`.
fn line(envelope: &EventEnvelope) -> String {
    let what = match &envelope.event {
        Event::BillsIssued { issuer, bills, .. } => match (bills.first(), bills.last()) {
            (Some(first), Some(last)) if bills.len() > 1 => {
                format!("{issuer} issued {} bills, {} … {}", bills.len(), first.id, last.id.number)
            }
            (Some(only), _) => format!("{issuer} issued bill {}", only.id),
            _ => format!("{issuer} issued no bills"),
        },
        Event::BillVoided { issuer, bill, red_bill, .. } => {
            format!("{issuer} voided bill {bill} with red bill {red_bill}")
        }
        Event::ClaimSubmitted { claim_id, payer, patient, bills, reserved, .. } => format!(
            "claim {claim_id} filed with {payer} for patient {patient}: \
             {reserved} reserved on {} bill(s)",
            bills.len()
        ),
        Event::ClaimSettled { claim_id, payer, approved, auto: false, .. } => {
            format!("claim {claim_id} settled by {payer}: {approved} paid")
        }
        Event::ClaimSettled { claim_id, payer, approved, auto: true, .. } => {
            format!("claim {claim_id} settled by {payer}'s policy on submission: {approved} to pay")
        }
        Event::PaymentRecorded { claim_id, payer, payment_reference, .. } => {
            format!("{payer} paid claim {claim_id}: reference {payment_reference}")
        }
        Event::PolicyRegistered { payer, version, .. } => {
            format!("{payer} registered policy version {version}")
        }
        Event::ClaimRejected { claim_id, payer, released, .. } => {
            format!("claim {claim_id} rejected by {payer}: {released} released")
        }
        Event::ClaimWithdrawn { claim_id, released, .. } => {
            format!("claim {claim_id} withdrawn: {released} released")
        }
        Event::BodyAccessed { bill, reader, purpose, .. } => {
            format!("{reader} opened the private body of bill {bill} ({})", purpose.name())
        }
        Event::TxRejected { tx_id, payload, code, message } => {
            format!("transaction {tx_id} ({payload}) rejected: {code}: {message}")
        }
        Event::Block { block } => format!(
            "block {} committed: {} transactions, state root {}",
            block.height, block.txs, block.state_root
        ),
    };
    format!("{:<10} {:<16} {what}", envelope.id, envelope.event.kind())
}
