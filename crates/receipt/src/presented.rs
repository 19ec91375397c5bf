//! Reading a receipt in whatever form it was handed over, and never trusting what came beside
//! it.
//!
//! A node's `/proof` answer is JSON: the receipt's hex (signed, through its certificate) and
//! convenience copies of what it says (`bill`, `claim`, `as_of_height`, `block_height`,
//! `block_time_ms`, `size_bytes`, `qr`) that nobody signed. Anyone who passes the answer on can
//! change those copies without touching the receipt, so [`Presented::verify`] compares each
//! copy that is present with what the verified receipt says, and refuses the answer if one
//! differs. Fields it does not know are ignored: only the verified record is ever shown.

use crate::{DecodeError, QR_PREFIX, RECEIPT_VERSION, Receipt, Record, Verified, VerifyError};
use medledger_types::{Bill, Claim, Genesis};
use serde::Deserialize;

/// The unsigned fields of a node's `/proof` JSON answer, as they were handed over.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Stated {
    /// The receipt's size in bytes.
    pub size_bytes: Option<u64>,
    /// The receipt's QR text.
    pub qr: Option<String>,
    /// The height the record is said to be as of.
    pub as_of_height: Option<u64>,
    /// The finalized block said to commit to it.
    pub block_height: Option<u64>,
    /// That block's time, as stated.
    pub block_time_ms: Option<u64>,
    /// The bill, as stated.
    pub bill: Option<Bill>,
    /// The claim, as stated.
    pub claim: Option<Claim>,
}

/// A receipt as someone handed it over: its bytes, hex, QR text or a node's JSON answer, with
/// the answer's unsigned fields when it was one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Presented {
    /// The receipt.
    pub receipt: Receipt,
    /// The unsigned fields that came with it (a node's JSON answer), to be checked against it.
    pub stated: Option<Stated>,
}

/// A node's JSON answer: the receipt and the unsigned copies beside it.
#[derive(Deserialize)]
struct Answer {
    receipt: String,
    #[serde(flatten)]
    stated: Stated,
}

impl Presented {
    /// Reads a receipt in any form people hand around: its bytes, its hex, the text of its QR
    /// code (`ML1*…`), or the JSON a node answers at `…/proof`. Text in none of these forms is
    /// [`DecodeError::NotAReceipt`].
    pub fn parse(input: &[u8]) -> Result<Self, DecodeError> {
        let bare = |receipt| Ok(Self { receipt, stated: None });
        let Ok(text) = std::str::from_utf8(input).map(str::trim) else {
            return bare(binary(input)?);
        };
        if text.is_empty() {
            return Err(DecodeError::Empty);
        }
        if text.starts_with(QR_PREFIX) {
            return bare(Receipt::from_qr_text(text)?);
        }
        if text.starts_with('{') {
            let answer: Answer =
                serde_json::from_str(text).map_err(|e| DecodeError::Json(e.to_string()))?;
            return Ok(Self {
                receipt: Receipt::from_hex(&answer.receipt)?,
                stated: Some(answer.stated),
            });
        }
        if text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return bare(Receipt::from_hex(text)?);
        }
        bare(binary(input)?)
    }

    /// Verifies the receipt against `genesis` ([`crate::verify`]), then each unsigned field
    /// that came with it against what the receipt says.
    pub fn verify(&self, genesis: &Genesis) -> Result<Verified, VerifyError> {
        let verified = crate::verify(&self.receipt, genesis)?;
        if let Some(stated) = &self.stated {
            check_stated(stated, &self.receipt)?;
        }
        Ok(verified)
    }
}

/// Bytes that are a receipt's own encoding: they start with a version byte. Text forms never
/// start with a control character, so a small first byte is a (maybe newer) receipt format and
/// anything else is not a receipt at all.
fn binary(input: &[u8]) -> Result<Receipt, DecodeError> {
    match input.first() {
        None => Err(DecodeError::Empty),
        Some(&RECEIPT_VERSION) => Receipt::from_bytes(input),
        Some(&version) if version < 0x20 && !b"\t\n\r".contains(&version) => {
            Err(DecodeError::UnknownVersion { version })
        }
        Some(_) => Err(DecodeError::NotAReceipt),
    }
}

fn mismatch(field: &'static str, stated: impl ToString, signed: impl ToString) -> VerifyError {
    VerifyError::StatedField { field, stated: stated.to_string(), signed: signed.to_string() }
}

/// Compares each stated field with the receipt (already verified).
fn check_stated(stated: &Stated, receipt: &Receipt) -> Result<(), VerifyError> {
    let header = &receipt.header;
    let size = u64::try_from(receipt.to_bytes().len()).unwrap_or(u64::MAX);
    let numbers = [
        ("size_bytes", stated.size_bytes, size),
        ("as_of_height", stated.as_of_height, header.executed_height),
        ("block_height", stated.block_height, header.height),
        ("block_time_ms", stated.block_time_ms, header.timestamp_ms),
    ];
    for (field, stated, signed) in numbers {
        if let Some(stated) = stated.filter(|value| *value != signed) {
            return Err(mismatch(field, stated, signed));
        }
    }
    if let Some(qr) = &stated.qr {
        let signed = receipt.to_qr_text();
        if qr.trim() != signed {
            let shown = |text: &str| text.chars().take(40).collect::<String>() + "…";
            return Err(mismatch("qr", shown(qr), shown(&signed)));
        }
    }
    match (&receipt.record, &stated.bill, &stated.claim) {
        (Record::Bill(_), _, Some(claim)) => {
            Err(mismatch("claim", format!("claim {}", claim.submission.claim_id), "a bill"))
        }
        (Record::Claim(_), Some(bill), _) => {
            Err(mismatch("bill", format!("bill {}", bill.id()), "a claim"))
        }
        (Record::Bill(signed), Some(stated), _) if stated != signed => {
            Err(record_mismatch("bill", stated, signed))
        }
        (Record::Claim(signed), _, Some(stated)) if stated != signed => {
            Err(record_mismatch("claim", stated, signed))
        }
        _ => Ok(()),
    }
}

/// The first field where a stated record differs from the signed one, for the message.
fn record_mismatch<T: serde::Serialize>(kind: &'static str, stated: &T, signed: &T) -> VerifyError {
    let (stated, signed) = (serde_json::to_value(stated), serde_json::to_value(signed));
    let (Ok(stated), Ok(signed)) = (stated, signed) else {
        return mismatch(kind, "another record", "this one");
    };
    let (path, stated, signed) = first_difference(kind.to_string(), &stated, &signed)
        .unwrap_or_else(|| (kind.to_string(), stated.to_string(), signed.to_string()));
    VerifyError::StatedRecord { kind, path, stated, signed }
}

fn first_difference(
    path: String,
    a: &serde_json::Value,
    b: &serde_json::Value,
) -> Option<(String, String, String)> {
    use serde_json::Value;
    match (a, b) {
        _ if a == b => None,
        (Value::Object(x), Value::Object(y)) => {
            let keys = x.keys().chain(y.keys().filter(|k| !x.contains_key(*k)));
            keys.into_iter().find_map(|key| {
                let null = Value::Null;
                let (p, q) = (x.get(key).unwrap_or(&null), y.get(key).unwrap_or(&null));
                first_difference(format!("{path}.{key}"), p, q)
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_difference(format!("{path}[{i}]"), p, q)),
        _ => Some((path, a.to_string(), b.to_string())),
    }
}
