//! The receipt as text for a QR code: `ML1*KEY*CHECK*DATA`, where KEY is the bill
//! (`CODE/NUMBER`) or claim id, CHECK the bill's check code (`-` for a claim), both readable by
//! people and scanners, and DATA the receipt's bytes in Base45 (RFC 9285), whose alphabet is
//! exactly QR's alphanumeric mode: 1.5 characters a byte, so a receipt of about 1 KB is about
//! 1,500 characters, inside a version-40 QR code at error correction level M (3,391).

use crate::{DecodeError, Receipt, Record};

/// The alphabet of Base45 and of QR's alphanumeric mode.
const ALPHABET: &[u8; 45] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

/// The prefix of receipt QR texts (format 1).
pub const QR_PREFIX: &str = "ML1*";

/// Base45 (RFC 9285).
pub fn base45_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3 / 2 + 2);
    let digit = |n: usize| char::from(ALPHABET[n]);
    for pair in bytes.chunks(2) {
        if let [a, b] = *pair {
            let n = usize::from(a) * 256 + usize::from(b);
            out.extend([digit(n % 45), digit(n / 45 % 45), digit(n / 2025)]);
        } else {
            let n = usize::from(pair[0]);
            out.extend([digit(n % 45), digit(n / 45)]);
        }
    }
    out
}

/// Base45 back to bytes; `None` for text that is not Base45.
pub fn base45_decode(text: &str) -> Option<Vec<u8>> {
    let values: Vec<usize> =
        text.bytes().map(|c| ALPHABET.iter().position(|a| *a == c)).collect::<Option<_>>()?;
    let mut out = Vec::with_capacity(values.len() * 2 / 3);
    for group in values.chunks(3) {
        match *group {
            [c, d, e] => {
                let n = c + d * 45 + e * 2025;
                out.push(u8::try_from(n / 256).ok()?);
                out.push(u8::try_from(n % 256).ok()?);
            }
            [c, d] => out.push(u8::try_from(c + d * 45).ok()?),
            _ => return None,
        }
    }
    Some(out)
}

impl Receipt {
    /// The receipt as QR text, `ML1*KEY*CHECK*DATA`.
    pub fn to_qr_text(&self) -> String {
        let (key, check) = match &self.record {
            Record::Bill(bill) => (bill.issue.id.to_string(), bill.check_code.to_string()),
            Record::Claim(claim) => (claim.submission.claim_id.to_string(), "-".to_string()),
        };
        format!("{QR_PREFIX}{key}*{check}*{}", base45_encode(&self.to_bytes()))
    }

    /// Reads QR text written by [`Receipt::to_qr_text`]. The readable KEY and CHECK must
    /// match the record inside, so what a person reads is what is verified.
    pub fn from_qr_text(text: &str) -> Result<Self, DecodeError> {
        let rest = text
            .trim()
            .strip_prefix(QR_PREFIX)
            .ok_or_else(|| DecodeError::Qr(format!("it does not start with {QR_PREFIX}")))?;
        let mut parts = rest.splitn(3, '*');
        let (key, check, data) = match (parts.next(), parts.next(), parts.next()) {
            (Some(k), Some(c), Some(d)) => (k, c, d),
            _ => return Err(DecodeError::Qr("expected ML1*KEY*CHECK*DATA".to_string())),
        };
        if data.len() > crate::RECEIPT_BYTES_MAX.saturating_mul(3) / 2 + 2 {
            let len = data.len() * 2 / 3;
            return Err(DecodeError::TooLarge { len, max: crate::RECEIPT_BYTES_MAX });
        }
        let bytes = base45_decode(data).ok_or_else(|| {
            DecodeError::Qr("its data is not Base45 (a character was changed or cut off)".into())
        })?;
        let receipt = Self::from_bytes(&bytes)?;
        let readable = receipt.to_qr_text();
        let expected = format!("{QR_PREFIX}{key}*{check}*");
        if !readable.starts_with(&expected) {
            let inside = readable.splitn(4, '*').take(3).collect::<Vec<_>>().join("*");
            return Err(DecodeError::Qr(format!(
                "its readable part {} does not match the receipt inside ({inside}*…)",
                expected.trim_end_matches('*')
            )));
        }
        Ok(receipt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base45_matches_rfc_9285_and_round_trips() {
        assert_eq!(base45_encode(b"AB"), "BB8");
        assert_eq!(base45_encode(b"Hello!!"), "%69 VD92EX0");
        assert_eq!(base45_encode(b"ietf!"), "QED8WEX0");
        assert_eq!(base45_decode("QED8WEX0").unwrap(), b"ietf!");
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len).map(|i: u8| i.wrapping_mul(37)).collect();
            assert_eq!(base45_decode(&base45_encode(&bytes)).unwrap(), bytes);
        }
        assert!(base45_decode("GGW").is_none(), "65535 + 1 does not fit two bytes");
        assert!(base45_decode("a").is_none() && base45_decode("A").is_none());
    }
}
