//! `medledger bill issue`: a JSON file of bills, sealed and issued in signed batches.
//!
//! The whole file is read and checked before the first batch is signed, so a typo on bill
//! 2,000 does not leave bills 1 to 1,999 issued. The ledger still has the last word on each
//! batch (numbers in range and unused, categories adding up, bodies wrapped to their readers).
//!
//! Each bill's private body (patient name and ID, department, diagnosis, itemised charges,
//! payment channel) is encrypted here, before anything leaves the hospital: under a fresh data
//! key, wrapped to the patient's registered key, to every genesis body reader (the regulator)
//! and, unless `--no-issuer-copy`, to the hospital's own per-patient key in its key store. The
//! header carries the salted commitment to the body.

use super::amount::Yuan;
use super::bill::parse_number;
use super::{Node, Rejected, Submitted, print_json};
use anyhow::{Context as _, bail};
use medledger_crypto::SigningKey;
use medledger_privacy::{IssuerKeystore, PrivateBody};
use medledger_types::{
    BillAmounts, BillCode, BillId, BillIssue, BillNumber, CategoryAmount, ChargeCategory, Fen,
    Payload, Pseudonym, SealedBody, VisitType,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

/// Largest bills file read: about 200 bytes of JSON a bill, so room for the most bills below.
const BILLS_FILE_BYTES_MAX: u64 = 256 * 1024 * 1024;

/// Most bills in one file: a thousand full batches, about a day of a large hospital's bills.
/// Larger runs are split into several files, each resumable on its own.
const BILLS_FILE_BILLS_MAX: usize = 1_000_000;

/// Long help of `medledger bill issue`.
pub const HELP: &str = concat!(
    r#"Example:
  medledger bill issue --key localnet/keys/members/city-central-hospital.key.json \
      --file bills.json --batch 500

The file (amounts are strings in yuan; at most 1,000,000 bills):
  {
    "code": "44010126",           bill code: region, bill type, year (8 digits)
    "first_number": 1001,         optional: bills without "number" get 1001, 1002, … in order
    "bills": [
      {
        "number": 1000,           optional when first_number is given (up to 10 digits)
        "patient": "9f2c…",       the patient's pseudonym (32 hex characters)
        "visit_type": "outpatient",  optional: registration, outpatient (default),
                                  inpatient, check_up
        "total": "970.00",
        "pooled_fund": "600.00",  optional parts paid at the counter (default 0.00):
        "personal_account": "120.00",  pooled_fund, personal_account, other_fund
        "patient_pay": "250.00",  optional: default total minus the other parts;
                                  the only part a claim can ask for
        "categories": {"examination": "300.00", "western_medicine": "670.00"},
                                  optional: per category, adding up to the total
                                  (consultation, examination, imaging, treatment,
                                  surgery, western_medicine, chinese_medicine,
                                  materials, bed, other)
        "body": {                 the private body: encrypted before it leaves this
                                  machine; only its salted commitment is public
          "patient_name": "张三",
          "patient_id": "440106199001011234",
          "department": "心内科 Cardiology",
          "diagnosis": "I10 原发性高血压",
          "payment_channel": "wechat_pay",
          "items": [
            {"code": "250101001", "name": "血常规", "category": "examination",
             "unit_price": 2500, "quantity": 1, "amount": 2500, "self_paid": 500}
          ]                       item amounts in fen; amount = unit_price × quantity
        }
      }
    ]
  }

Bodies are wrapped to the patient's registered key (GET /v1/patients/{pseudonym}), to each
genesis body reader (the regulator, GET /v1/members) and to the hospital's own key for that
patient in --keystore (default: next to the key file, KEY.bodies/). Erase a patient's issuer
copy with `medledger erase --keystore DIR --patient PSEUDONYM`.

"#,
    super::exit_codes_help!()
);

/// Digits written as a JSON number or as text (`1001` or `"0000001001"`, keeping leading zeros).
struct Digits(String);

impl<'de> Deserialize<'de> for Digits {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Digits;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("digits, as a number (1001) or text (\"0000001001\")")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Digits, E> {
                Ok(Digits(n.to_string()))
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Digits, E> {
                if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
                    Ok(Digits(text.to_string()))
                } else {
                    Err(E::invalid_value(serde::de::Unexpected::Str(text), &self))
                }
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl Digits {
    /// A bill number: up to 10 digits.
    fn number(&self) -> anyhow::Result<BillNumber> {
        parse_number(&self.0).map_err(anyhow::Error::msg)
    }

    /// A bill code: exactly 8 digits (a code with a leading zero is written as text).
    fn code(&self) -> anyhow::Result<BillCode> {
        self.0.parse().context("\"code\"")
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BillsFile {
    code: Digits,
    first_number: Option<Digits>,
    bills: Vec<BillEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BillEntry {
    number: Option<Digits>,
    patient: Pseudonym,
    visit_type: Option<VisitType>,
    total: Yuan,
    pooled_fund: Option<Yuan>,
    personal_account: Option<Yuan>,
    other_fund: Option<Yuan>,
    patient_pay: Option<Yuan>,
    #[serde(default)]
    categories: BTreeMap<ChargeCategory, Yuan>,
    body: PrivateBody,
}

/// Reads and checks the bills file.
fn read_bills(path: &Path) -> anyhow::Result<Vec<(BillIssue, PrivateBody)>> {
    let file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut text = String::new();
    file.take(BILLS_FILE_BYTES_MAX + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("reading {}", path.display()))?;
    if text.len() as u64 > BILLS_FILE_BYTES_MAX {
        bail!("{}: larger than {BILLS_FILE_BYTES_MAX} bytes; split it", path.display());
    }
    let file: BillsFile =
        serde_json::from_str(&text).with_context(|| format!("{}", path.display()))?;
    if file.bills.is_empty() || file.bills.len() > BILLS_FILE_BILLS_MAX {
        bail!(
            "{}: holds {} bills; a file holds 1 to {BILLS_FILE_BILLS_MAX}",
            path.display(),
            file.bills.len()
        );
    }
    let code = file.code.code()?;
    let first =
        file.first_number.as_ref().map(Digits::number).transpose().context("\"first_number\"")?;
    let mut next = first.map(BillNumber::get);
    file.bills
        .into_iter()
        .enumerate()
        .map(|(i, entry)| {
            let number = match &entry.number {
                Some(n) => n.number(),
                None => next
                    .context("no \"number\", and the file has no \"first_number\"")
                    .and_then(|n| {
                        next = n.checked_add(1);
                        Ok(BillNumber::new(n)?)
                    }),
            }
            .with_context(|| format!("bills[{i}]"))?;
            let id = BillId { code, number };
            entry.into_issue(id).with_context(|| format!("bills[{i}] ({id})"))
        })
        .collect()
}

impl BillEntry {
    fn into_issue(self, id: BillId) -> anyhow::Result<(BillIssue, PrivateBody)> {
        self.body.validate().context("\"body\"")?;
        let part = |p: Option<Yuan>| p.map_or(Fen::ZERO, |y| y.0);
        let (pooled_fund, personal_account, other_fund) =
            (part(self.pooled_fund), part(self.personal_account), part(self.other_fund));
        let counter = Fen::checked_sum([pooled_fund, personal_account, other_fund])
            .context("amounts overflow")?;
        let total = self.total.0;
        let patient_pay = match self.patient_pay {
            Some(pay) => pay.0,
            None => total.checked_sub(counter).with_context(|| {
                format!("the funds' parts ({counter}) are more than the total ({total})")
            })?,
        };
        let amounts = BillAmounts { total, pooled_fund, personal_account, other_fund, patient_pay };
        if amounts.parts_sum() != Some(total) {
            bail!(
                "pooled fund + personal account + other funds + patient pay \
                 is not the total {total}"
            );
        }
        let issue = BillIssue {
            id,
            visit_type: self.visit_type.unwrap_or(VisitType::Outpatient),
            patient: self.patient,
            amounts,
            categories: self
                .categories
                .into_iter()
                .map(|(category, amount)| CategoryAmount { category, amount: amount.0 })
                .collect(),
            // Set when the body is sealed.
            body_commitment: medledger_types::Digest::default(),
        };
        Ok((issue, self.body))
    }
}

/// One batch's outcome.
#[derive(Serialize)]
struct Batch {
    batch: usize,
    bills: usize,
    first: BillId,
    last: BillId,
    #[serde(flatten)]
    submitted: Submitted,
}

#[derive(Serialize)]
struct Summary {
    bills_in_file: usize,
    bills_issued: usize,
    batches_total: usize,
    elapsed_ms: u64,
    batches: Vec<Batch>,
}

/// Where the issuer keeps its per-patient body keys unless told: next to its key file.
pub fn default_keystore(key_path: &Path) -> std::path::PathBuf {
    let name = key_path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let stem = name.strip_suffix(".key.json").unwrap_or(&name);
    key_path.with_file_name(format!("{stem}.bodies"))
}

pub fn run(
    node: &Node,
    key: &SigningKey,
    file: &Path,
    batch: usize,
    keystore: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let bills = read_bills(file)?;
    let total = bills.len();
    let keystore = keystore
        .map(|dir| {
            IssuerKeystore::open(dir)
                .with_context(|| format!("opening the key store {}", dir.display()))
        })
        .transpose()?;
    let batches = seal(node, bills, keystore.as_ref(), batch)?;
    let batches_total = batches.len();
    let start = Instant::now();
    let mut summary = Summary {
        bills_in_file: total,
        bills_issued: 0,
        batches_total,
        elapsed_ms: 0,
        batches: Vec::new(),
    };
    let mut rejected = None;
    for (i, (chunk, bodies)) in batches.into_iter().enumerate() {
        let tx = node.sign(key, Payload::IssueBills { bills: chunk.clone(), bodies })?;
        let submitted = node.submit(&tx)?;
        let (first, last) = (chunk[0].id, chunk[chunk.len() - 1].id);
        if !node.json {
            println!(
                "batch {}/{batches_total}  {} bill{} {first} … {}  {}  block {}  {} ms",
                i + 1,
                chunk.len(),
                if chunk.len() == 1 { "" } else { "s" },
                last.number,
                if submitted.accepted { "accepted" } else { "REJECTED" },
                submitted.height,
                submitted.latency_ms
            );
        }
        if submitted.accepted {
            summary.bills_issued += chunk.len();
        } else {
            rejected = Some(Rejected::from(&submitted));
        }
        summary.batches.push(Batch { batch: i + 1, bills: chunk.len(), first, last, submitted });
        if rejected.is_some() {
            break;
        }
    }
    summary.elapsed_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    if node.json {
        print_json(&summary)?;
    } else {
        let seconds = start.elapsed().as_secs_f64();
        println!(
            "issued {} of {total} bills in {} batches, {seconds:.1} s ({:.0} bills/s)",
            summary.bills_issued,
            summary.batches.len() - usize::from(rejected.is_some()),
            summary.bills_issued as f64 / seconds.max(0.001)
        );
    }
    match rejected {
        None => Ok(ExitCode::SUCCESS),
        Some(rejected) => Err(rejected.into()),
    }
}

/// Seals every body (`Client::seal_bills`) and cuts the bills into batches of at most `batch`
/// bills that fit a transaction, printing progress every ten batches' worth.
fn seal(
    node: &Node,
    bills: Vec<(BillIssue, PrivateBody)>,
    keystore: Option<&IssuerKeystore>,
    batch: usize,
) -> anyhow::Result<Vec<(Vec<BillIssue>, Vec<SealedBody>)>> {
    let (total, start) = (bills.len(), Instant::now());
    let mut out = Vec::new();
    let mut sealed = 0;
    let mut bills = bills.into_iter().peekable();
    while bills.peek().is_some() {
        // Whole batches at a time, so the cut is the same as sealing the file at once.
        let group: Vec<_> = bills.by_ref().take(batch * 10).collect();
        sealed += group.len();
        for payload in node.client.seal_bills(group, keystore, batch)? {
            if let Payload::IssueBills { bills, bodies } = payload {
                out.push((bills, bodies));
            }
        }
        if !node.json && sealed < total {
            eprintln!("sealed {sealed} of {total} bodies ({:.1} s)", start.elapsed().as_secs_f64());
        }
    }
    Ok(out)
}
