//! The private body of a bill: who the patient is, what was diagnosed, what was charged.
//!
//! This is the part of a bill that never travels in plaintext. It has one JSON form (what
//! `medledger bill issue` reads and `bill show` prints) and one canonical binary form, which is
//! what gets committed to (see [`crate::commitment`]) and encrypted. The binary form is decoded
//! only after decryption, but the bytes still come from another institution, so every string
//! and list is bounded on decode.

use bytes::BufMut;
use commonware_codec::{Buf, EncodeSize, Error as CodecError, Read, ReadRangeExt, Write};
use medledger_types::{ChargeCategory, Fen};
use serde::{Deserialize, Serialize};

/// Bytes (UTF-8) of each short text of a body: names, identifiers, department, charge codes
/// and names, payment channel. The longest real values are item names of about 40 Chinese
/// characters (120 bytes); 256 leaves room without letting one field dominate a body.
pub const BODY_TEXT_BYTES_MAX: usize = 256;

/// Bytes (UTF-8) of the diagnosis. A diagnosis may list several conditions with their codes
/// (for example ICD-10 codes and names), so it gets more room than the other texts.
pub const BODY_DIAGNOSIS_BYTES_MAX: usize = 1_024;

/// Itemised charges in one body. A long inpatient stay itemises a few hundred charges; the
/// 64 KiB ciphertext limit (`BODY_CIPHERTEXT_BYTES_MAX`) is usually the tighter bound, this
/// one stops a decoder from allocating for a huge count before reading any item.
pub const BODY_ITEMS_MAX: usize = 1_000;

/// One itemised charge of a bill.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub struct ChargeItem {
    /// The hospital's (or the national catalogue's) charge code.
    pub code: String,
    /// The charge's name, as printed on the itemised list.
    pub name: String,
    /// Its public category (the header's per-category totals are sums of these).
    pub category: ChargeCategory,
    /// Price of one unit.
    pub unit_price: Fen,
    /// Units charged.
    pub quantity: u32,
    /// `unit_price × quantity`.
    pub amount: Fen,
    /// The part of `amount` the patient pays themselves (not covered by the insurance catalogue).
    pub self_paid: Fen,
}

/// The private part of a bill, as the issuing hospital writes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub struct PrivateBody {
    /// The patient's name.
    pub patient_name: String,
    /// The patient's national ID or hospital record number.
    pub patient_id: String,
    /// The department that treated the patient.
    pub department: String,
    /// The diagnosis.
    pub diagnosis: String,
    /// The itemised charges.
    pub items: Vec<ChargeItem>,
    /// How the bill was paid (for example "医保卡" or "微信支付").
    pub payment_channel: String,
}

/// Why a body is not well formed. The messages name fields and positions, never their
/// content, so that they can be shown and logged without leaking the body.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// A text field is longer than its limit.
    #[error("{field} is {len} bytes, more than the limit of {max}")]
    TextTooLong {
        /// The field (`items[3].name` for an item's field).
        field: String,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// More items than [`BODY_ITEMS_MAX`].
    #[error("{count} itemised charges, more than the limit of {BODY_ITEMS_MAX}")]
    TooManyItems {
        /// How many there are.
        count: usize,
    },
    /// `unit_price × quantity` does not fit in a `u64` of fen.
    #[error("items[{index}]: unit price × quantity overflows")]
    AmountOverflow {
        /// The item's position.
        index: usize,
    },
    /// An item's amount is not its unit price times its quantity.
    #[error("items[{index}]: amount {amount} is not unit price × quantity = {expected}")]
    AmountMismatch {
        /// The item's position.
        index: usize,
        /// The amount given.
        amount: Fen,
        /// `unit_price × quantity`.
        expected: Fen,
    },
    /// An item's self-paid part is larger than its amount.
    #[error("items[{index}]: self-paid {self_paid} is more than the amount {amount}")]
    SelfPaidOverAmount {
        /// The item's position.
        index: usize,
        /// The self-paid part given.
        self_paid: Fen,
        /// The item's amount.
        amount: Fen,
    },
}

fn check_text(field: impl FnOnce() -> String, text: &str, max: usize) -> Result<(), BodyError> {
    if text.len() > max {
        return Err(BodyError::TextTooLong { field: field(), len: text.len(), max });
    }
    Ok(())
}

impl ChargeItem {
    /// Checks the item's texts against their limits and its arithmetic; `index` names it in
    /// errors.
    fn validate(&self, index: usize) -> Result<(), BodyError> {
        check_text(|| format!("items[{index}].code"), &self.code, BODY_TEXT_BYTES_MAX)?;
        check_text(|| format!("items[{index}].name"), &self.name, BODY_TEXT_BYTES_MAX)?;
        let expected = self
            .unit_price
            .0
            .checked_mul(u64::from(self.quantity))
            .map(Fen)
            .ok_or(BodyError::AmountOverflow { index })?;
        if self.amount != expected {
            return Err(BodyError::AmountMismatch { index, amount: self.amount, expected });
        }
        if self.self_paid > self.amount {
            return Err(BodyError::SelfPaidOverAmount {
                index,
                self_paid: self.self_paid,
                amount: self.amount,
            });
        }
        Ok(())
    }
}

impl PrivateBody {
    /// Checks every limit (so that a body that validates always encodes to bytes that decode)
    /// and every item's arithmetic: `amount = unit_price × quantity` and `self_paid ≤ amount`.
    ///
    /// Whether the items add up to the public header's amounts is the issuer's check, where
    /// both are at hand; this one needs only the body.
    pub fn validate(&self) -> Result<(), BodyError> {
        check_text(|| "patient_name".into(), &self.patient_name, BODY_TEXT_BYTES_MAX)?;
        check_text(|| "patient_id".into(), &self.patient_id, BODY_TEXT_BYTES_MAX)?;
        check_text(|| "department".into(), &self.department, BODY_TEXT_BYTES_MAX)?;
        check_text(|| "diagnosis".into(), &self.diagnosis, BODY_DIAGNOSIS_BYTES_MAX)?;
        check_text(|| "payment_channel".into(), &self.payment_channel, BODY_TEXT_BYTES_MAX)?;
        if self.items.len() > BODY_ITEMS_MAX {
            return Err(BodyError::TooManyItems { count: self.items.len() });
        }
        self.items.iter().enumerate().try_for_each(|(index, item)| item.validate(index))
    }
}

// Canonical binary form. Strings are a varint length and UTF-8 bytes; numbers are fixed-width
// big-endian; the category is one byte; the item list is a varint count and the items. Fields
// are written in declaration order.

fn write_text(text: &str, buf: &mut impl BufMut) {
    text.as_bytes().write(buf);
}

fn text_size(text: &str) -> usize {
    text.as_bytes().encode_size()
}

fn read_text(buf: &mut impl Buf, max: usize, what: &'static str) -> Result<String, CodecError> {
    let bytes = Vec::<u8>::read_range(buf, 0..=max)?;
    String::from_utf8(bytes).map_err(|_| CodecError::Invalid(what, "not UTF-8"))
}

impl Write for ChargeItem {
    fn write(&self, buf: &mut impl BufMut) {
        write_text(&self.code, buf);
        write_text(&self.name, buf);
        self.category.write(buf);
        self.unit_price.write(buf);
        self.quantity.write(buf);
        self.amount.write(buf);
        self.self_paid.write(buf);
    }
}

impl EncodeSize for ChargeItem {
    fn encode_size(&self) -> usize {
        text_size(&self.code)
            + text_size(&self.name)
            + self.category.encode_size()
            + self.unit_price.encode_size()
            + self.quantity.encode_size()
            + self.amount.encode_size()
            + self.self_paid.encode_size()
    }
}

impl Read for ChargeItem {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(Self {
            code: read_text(buf, BODY_TEXT_BYTES_MAX, "ChargeItem.code")?,
            name: read_text(buf, BODY_TEXT_BYTES_MAX, "ChargeItem.name")?,
            category: ChargeCategory::read_cfg(buf, &())?,
            unit_price: Fen::read_cfg(buf, &())?,
            quantity: u32::read_cfg(buf, &())?,
            amount: Fen::read_cfg(buf, &())?,
            self_paid: Fen::read_cfg(buf, &())?,
        })
    }
}

impl Write for PrivateBody {
    fn write(&self, buf: &mut impl BufMut) {
        write_text(&self.patient_name, buf);
        write_text(&self.patient_id, buf);
        write_text(&self.department, buf);
        write_text(&self.diagnosis, buf);
        self.items.write(buf);
        write_text(&self.payment_channel, buf);
    }
}

impl EncodeSize for PrivateBody {
    fn encode_size(&self) -> usize {
        text_size(&self.patient_name)
            + text_size(&self.patient_id)
            + text_size(&self.department)
            + text_size(&self.diagnosis)
            + self.items.encode_size()
            + text_size(&self.payment_channel)
    }
}

impl Read for PrivateBody {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(Self {
            patient_name: read_text(buf, BODY_TEXT_BYTES_MAX, "PrivateBody.patient_name")?,
            patient_id: read_text(buf, BODY_TEXT_BYTES_MAX, "PrivateBody.patient_id")?,
            department: read_text(buf, BODY_TEXT_BYTES_MAX, "PrivateBody.department")?,
            diagnosis: read_text(buf, BODY_DIAGNOSIS_BYTES_MAX, "PrivateBody.diagnosis")?,
            items: Vec::<ChargeItem>::read_range(buf, 0..=BODY_ITEMS_MAX)?,
            payment_channel: read_text(buf, BODY_TEXT_BYTES_MAX, "PrivateBody.payment_channel")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{Copying, DecodeExt, Encode};

    fn item(unit_price: u64, quantity: u32) -> ChargeItem {
        ChargeItem {
            code: "250101001".into(),
            name: "血常规".into(),
            category: ChargeCategory::Examination,
            unit_price: Fen(unit_price),
            quantity,
            amount: Fen(unit_price * u64::from(quantity)),
            self_paid: Fen(0),
        }
    }

    fn body(items: Vec<ChargeItem>) -> PrivateBody {
        PrivateBody {
            patient_name: "张三".into(),
            patient_id: "440101199001011234".into(),
            department: "内科".into(),
            diagnosis: "上呼吸道感染".into(),
            items,
            payment_channel: "医保卡".into(),
        }
    }

    #[test]
    fn validate_checks_each_items_arithmetic() {
        assert_eq!(body(vec![item(2_500, 2)]).validate(), Ok(()));

        let mut wrong = item(2_500, 2);
        wrong.amount = Fen(4_999);
        assert!(matches!(
            body(vec![item(1, 1), wrong]).validate(),
            Err(BodyError::AmountMismatch { index: 1, expected: Fen(5_000), .. })
        ));

        let mut overpaid = item(2_500, 2);
        overpaid.self_paid = Fen(5_001);
        assert!(matches!(
            body(vec![overpaid]).validate(),
            Err(BodyError::SelfPaidOverAmount { index: 0, .. })
        ));

        let mut huge = item(1, 2);
        huge.unit_price = Fen(u64::MAX);
        assert!(matches!(
            body(vec![huge]).validate(),
            Err(BodyError::AmountOverflow { index: 0, .. })
        ));
    }

    #[test]
    fn validate_checks_limits() {
        let mut long = body(vec![]);
        long.patient_name = "x".repeat(BODY_TEXT_BYTES_MAX + 1);
        assert!(matches!(long.validate(), Err(BodyError::TextTooLong { .. })));

        let mut diagnosis = body(vec![]);
        diagnosis.diagnosis = "x".repeat(BODY_DIAGNOSIS_BYTES_MAX);
        assert_eq!(diagnosis.validate(), Ok(()));

        let many = body(vec![item(1, 1); BODY_ITEMS_MAX + 1]);
        assert_eq!(many.validate(), Err(BodyError::TooManyItems { count: BODY_ITEMS_MAX + 1 }));
    }

    #[test]
    fn decoding_refuses_oversize_and_malformed_input() {
        // A name one byte over the limit: the encoder writes it, the decoder refuses it.
        let mut long = body(vec![item(1, 1)]);
        long.items[0].name = "x".repeat(BODY_TEXT_BYTES_MAX + 1);
        assert!(PrivateBody::decode(long.encode()).is_err());

        // A body with more items than the limit.
        let many = body(vec![item(1, 1); BODY_ITEMS_MAX + 1]);
        assert!(PrivateBody::decode(many.encode()).is_err());

        // A count that claims far more items than there are bytes.
        let mut forged = Vec::new();
        for _ in 0..4 {
            write_text("", &mut forged);
        }
        4_000_000_000usize.write(&mut forged);
        assert!(PrivateBody::decode(Copying(forged.as_slice())).is_err());

        // Invalid UTF-8 in a string.
        let mut bad_utf8 = Vec::new();
        [0xffu8, 0xfe].as_slice().write(&mut bad_utf8);
        assert!(PrivateBody::decode(Copying(bad_utf8.as_slice())).is_err());

        // Every truncation of a valid encoding fails cleanly, and so does trailing data.
        let bytes = body(vec![item(2_500, 2), item(100, 3)]).encode();
        for len in 0..bytes.len() {
            assert!(PrivateBody::decode(Copying(&bytes[..len])).is_err());
        }
        let mut extra = bytes.to_vec();
        extra.push(0);
        assert!(PrivateBody::decode(extra).is_err());

        // An unknown category byte.
        let mut bad_category = body(vec![item(1, 1)]).encode().to_vec();
        let at = bad_category.len() - text_size("医保卡") - 3 * 8 - 4 - 1;
        bad_category[at] = 200;
        assert!(PrivateBody::decode(bad_category).is_err());
    }

    #[test]
    fn canonical_encoding_round_trips() {
        let original = body(vec![item(2_500, 2), item(100, 3)]);
        let bytes = original.encode();
        assert_eq!(bytes.len(), original.encode_size());
        assert_eq!(PrivateBody::decode(bytes).unwrap(), original);
    }

    #[test]
    fn json_is_snake_case_and_refuses_unknown_fields() {
        let original = body(vec![item(2_500, 2)]);
        let json = serde_json::to_value(&original).unwrap();
        assert_eq!(json["items"][0]["unit_price"], 2_500);
        assert_eq!(json["items"][0]["category"], "examination");
        assert_eq!(serde_json::from_value::<PrivateBody>(json.clone()).unwrap(), original);
        let mut typo = json;
        typo["items"][0]["self_payed"] = 0.into();
        assert!(serde_json::from_value::<PrivateBody>(typo).is_err());
    }
}
