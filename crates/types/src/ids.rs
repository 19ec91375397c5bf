//! Identifiers: bills, claims, members, patients, chains and transactions, plus short text.
//!
//! Each constructor validates, so a value of these types is always well formed. Decoding from
//! bytes goes through the same constructors: malformed input is a decode error, never a panic.

use crate::codec_util::read_bytes;
use crate::limits::{IDENT_BYTES_MAX, TEXT_BYTES_MAX};
use bytes::BufMut;
use commonware_codec::{Buf, EncodeSize, Error, FixedSize, Read, Write};
use medledger_crypto::{Digest, decode_hex, encode_hex};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error as _};
use std::fmt;

/// Why an identifier or text is not well formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// A bill code has eight decimal digits.
    #[error("bill code must be 8 digits (00000000-99999999), got {0:?}")]
    BillCode(String),
    /// A bill number has ten decimal digits.
    #[error("bill number must be 10 digits (0000000000-9999999999), got {0:?}")]
    BillNumber(String),
    /// Identifiers are short ASCII names.
    #[error("identifier must be 1-{IDENT_BYTES_MAX} characters of a-z A-Z 0-9 - _ . , got {0:?}")]
    Ident(String),
    /// Free text is short and printable.
    #[error(
        "text must be at most {TEXT_BYTES_MAX} bytes of printable characters, without control, \
         bidirectional or invisible formatting characters"
    )]
    Text,
    /// Fixed-size identifiers in hex.
    #[error("expected {0} hexadecimal characters, got {1:?}")]
    Hex(usize, String),
    /// Bill identifiers are written `CODE/NUMBER`.
    #[error("bill id must be written CODE/NUMBER (8 and 10 digits), got {0:?}")]
    BillId(String),
}

fn parse_digits(text: &str, digits: usize) -> Option<u64> {
    if text.len() == digits && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse().ok()
    } else {
        None
    }
}

/// An 8-digit bill code: region, bill type and year, as allocated by the finance bureau.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BillCode(u32);

impl BillCode {
    /// The largest valid code.
    pub const MAX: u32 = 99_999_999;

    /// A code from its numeric value.
    pub fn new(value: u32) -> Result<Self, IdError> {
        if value <= Self::MAX { Ok(Self(value)) } else { Err(IdError::BillCode(value.to_string())) }
    }

    /// The numeric value.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl std::str::FromStr for BillCode {
    type Err = IdError;
    fn from_str(text: &str) -> Result<Self, IdError> {
        let value = parse_digits(text, 8).ok_or_else(|| IdError::BillCode(text.to_string()))?;
        // Eight digits always fit in u32.
        Self::new(u32::try_from(value).map_err(|_| IdError::BillCode(text.to_string()))?)
    }
}

/// A 10-digit sequential bill number within a bill code.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BillNumber(u64);

impl BillNumber {
    /// The largest valid number.
    pub const MAX: u64 = 9_999_999_999;

    /// A number from its numeric value.
    pub fn new(value: u64) -> Result<Self, IdError> {
        if value <= Self::MAX {
            Ok(Self(value))
        } else {
            Err(IdError::BillNumber(value.to_string()))
        }
    }

    /// The numeric value.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl std::str::FromStr for BillNumber {
    type Err = IdError;
    fn from_str(text: &str) -> Result<Self, IdError> {
        let value = parse_digits(text, 10).ok_or_else(|| IdError::BillNumber(text.to_string()))?;
        Self::new(value)
    }
}

/// A bill's identity, unique forever: `(bill code, bill number)`, written `CODE/NUMBER`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BillId {
    /// The bill code.
    pub code: BillCode,
    /// The number within the code.
    pub number: BillNumber,
}

impl BillId {
    /// A bill id from raw values.
    pub fn new(code: u32, number: u64) -> Result<Self, IdError> {
        Ok(Self { code: BillCode::new(code)?, number: BillNumber::new(number)? })
    }
}

impl std::str::FromStr for BillId {
    type Err = IdError;
    fn from_str(text: &str) -> Result<Self, IdError> {
        let (code, number) =
            text.split_once('/').ok_or_else(|| IdError::BillId(text.to_string()))?;
        Ok(Self { code: code.parse()?, number: number.parse()? })
    }
}

macro_rules! display_debug {
    ($ty:ty, |$s:ident, $f:ident| $body:expr) => {
        impl fmt::Display for $ty {
            fn fmt(&self, $f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let $s = self;
                $body
            }
        }
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($ty), self)
            }
        }
    };
}

display_debug!(BillCode, |s, f| write!(f, "{:08}", s.0));
display_debug!(BillNumber, |s, f| write!(f, "{:010}", s.0));
display_debug!(BillId, |s, f| write!(f, "{}/{}", s.code, s.number));

/// Serializes through `Display` and deserializes through `FromStr`.
macro_rules! serde_via_str {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                text.parse().map_err(D::Error::custom)
            }
        }
    };
}
serde_via_str!(BillCode);
serde_via_str!(BillNumber);
serde_via_str!(BillId);

impl Write for BillCode {
    fn write(&self, buf: &mut impl BufMut) {
        self.0.write(buf);
    }
}
impl FixedSize for BillCode {
    const SIZE: usize = u32::SIZE;
}
impl Read for BillCode {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Self::new(u32::read_cfg(buf, &())?).map_err(|_| Error::Invalid("BillCode", "over 8 digits"))
    }
}
impl Write for BillNumber {
    fn write(&self, buf: &mut impl BufMut) {
        self.0.write(buf);
    }
}
impl FixedSize for BillNumber {
    const SIZE: usize = u64::SIZE;
}
impl Read for BillNumber {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Self::new(u64::read_cfg(buf, &())?)
            .map_err(|_| Error::Invalid("BillNumber", "over 10 digits"))
    }
}
impl Write for BillId {
    fn write(&self, buf: &mut impl BufMut) {
        self.code.write(buf);
        self.number.write(buf);
    }
}
impl FixedSize for BillId {
    const SIZE: usize = BillCode::SIZE + BillNumber::SIZE;
}
impl Read for BillId {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(Self { code: BillCode::read_cfg(buf, &())?, number: BillNumber::read_cfg(buf, &())? })
    }
}

/// Fixed-size byte identifiers shown as hex.
macro_rules! byte_id {
    ($(#[$doc:meta])* $name:ident, $len:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// Length in bytes.
            pub const LEN: usize = $len;
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(text: &str) -> Result<Self, IdError> {
                let err = || IdError::Hex(2 * $len, text.to_string());
                let bytes = decode_hex(text).map_err(|_| err())?;
                Ok(Self(bytes.as_slice().try_into().map_err(|_| err())?))
            }
        }
        display_debug!($name, |s, f| f.write_str(&encode_hex(&s.0)));
        serde_via_str!($name);

        impl Write for $name {
            fn write(&self, buf: &mut impl BufMut) {
                self.0.write(buf);
            }
        }
        impl FixedSize for $name {
            const SIZE: usize = $len;
        }
        impl Read for $name {
            type Cfg = ();
            fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
                <[u8; $len]>::read_cfg(buf, &()).map(Self)
            }
        }
    };
}

byte_id!(
    /// A claim's identity, chosen by whoever files it (16 random bytes). Filing the same claim
    /// id twice has no second effect.
    ClaimId,
    16
);
byte_id!(
    /// A patient's pseudonym: the only way the ledger knows a patient. Never a name or ID.
    Pseudonym,
    16
);

impl Pseudonym {
    /// The pseudonym of a patient's signing key: the first 16 bytes of its hash under
    /// `Domain::Pseudonym`. The ledger registers a pseudonym only with the key it is derived
    /// from, so whoever claims a pseudonym's bills must hold that key.
    pub fn of_key(key: &medledger_crypto::PublicKey) -> Self {
        let digest = medledger_crypto::hash(medledger_crypto::Domain::Pseudonym, &[key.as_bytes()]);
        let mut out = [0u8; Self::LEN];
        out.copy_from_slice(&digest.0[..Self::LEN]);
        Self(out)
    }
}

byte_id!(
    /// An X25519 public key that bill bodies are encrypted to (a patient's, a member's, or a
    /// hospital's per-patient key). Also the ephemeral key inside a [`crate::body::KeyWrap`].
    EncryptionKey,
    32
);
byte_id!(
    /// A bill's data key encrypted to one reader (32-byte key plus 16-byte tag).
    WrappedKey,
    48
);
byte_id!(
    /// The XChaCha20-Poly1305 nonce of a sealed body.
    BodyNonce,
    24
);

/// A transaction's identity: the hash of its signed body (see `tx.rs` for why not of the
/// whole envelope).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TxId(pub Digest);

display_debug!(TxId, |s, f| f.write_str(&s.0.to_hex()));

impl std::str::FromStr for TxId {
    type Err = IdError;
    fn from_str(text: &str) -> Result<Self, IdError> {
        Digest::from_hex(text).map(TxId).map_err(|_| IdError::Hex(64, text.to_string()))
    }
}

/// The 6-character check code printed on a bill, derived from the hash of its content.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CheckCode(pub [u8; 6]);

impl CheckCode {
    /// Digits and capital letters without the easily confused I, L, O and U.
    pub const ALPHABET: &'static [u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

    /// Derives a check code from a digest: 6 characters of 5 bits each.
    pub fn from_digest(digest: &Digest) -> Self {
        let bits = u64::from_be_bytes(digest.0[..8].try_into().expect("digest has 8 bytes"));
        let mut out = [0u8; 6];
        for (i, slot) in out.iter_mut().enumerate() {
            let shift = 59 - 5 * i;
            *slot = Self::ALPHABET[usize::try_from((bits >> shift) & 31).expect("5 bits")];
        }
        Self(out)
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Built only from ALPHABET (or checked on decode), which is ASCII.
        std::str::from_utf8(&self.0).expect("check code is ASCII")
    }
}

impl std::str::FromStr for CheckCode {
    type Err = IdError;
    fn from_str(text: &str) -> Result<Self, IdError> {
        let bytes: [u8; 6] =
            text.as_bytes().try_into().map_err(|_| IdError::Hex(6, text.to_string()))?;
        if bytes.iter().all(|b| Self::ALPHABET.contains(b)) {
            Ok(Self(bytes))
        } else {
            Err(IdError::Hex(6, text.to_string()))
        }
    }
}
display_debug!(CheckCode, |s, f| f.write_str(s.as_str()));
serde_via_str!(CheckCode);

impl Write for CheckCode {
    fn write(&self, buf: &mut impl BufMut) {
        self.0.write(buf);
    }
}
impl FixedSize for CheckCode {
    const SIZE: usize = 6;
}
impl Read for CheckCode {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        let bytes = <[u8; 6]>::read_cfg(buf, &())?;
        // `as_str` relies on every check code being ASCII from the alphabet.
        if bytes.iter().all(|b| Self::ALPHABET.contains(b)) {
            Ok(Self(bytes))
        } else {
            Err(Error::Invalid("CheckCode", "not in the check code alphabet"))
        }
    }
}

/// Short ASCII identifiers: member ids and chain ids.
macro_rules! ident {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Validates an identifier.
            pub fn new(text: impl Into<String>) -> Result<Self, IdError> {
                let text = text.into();
                let ok = !text.is_empty()
                    && text.len() <= IDENT_BYTES_MAX
                    && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
                if ok { Ok(Self(text)) } else { Err(IdError::Ident(text)) }
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(text: &str) -> Result<Self, IdError> {
                Self::new(text)
            }
        }
        display_debug!($name, |s, f| f.write_str(&s.0));
        serde_via_str!($name);

        impl Write for $name {
            fn write(&self, buf: &mut impl BufMut) {
                self.0.as_bytes().write(buf);
            }
        }
        impl EncodeSize for $name {
            fn encode_size(&self) -> usize {
                self.0.as_bytes().encode_size()
            }
        }
        impl Read for $name {
            type Cfg = ();
            fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
                let bytes = read_bytes(buf, IDENT_BYTES_MAX)?;
                let text = String::from_utf8(bytes)
                    .map_err(|_| Error::Invalid(stringify!($name), "not UTF-8"))?;
                Self::new(text).map_err(|_| Error::Invalid(stringify!($name), "bad identifier"))
            }
        }
    };
}

ident!(
    /// A consortium member: a hospital, the finance bureau, a payer or the payment platform.
    MemberId
);
ident!(
    /// The network a transaction is meant for. A transaction signed for one chain is refused
    /// on every other.
    ChainId
);

/// Short printable free text: payment references and reasons. Bounded by
/// [`TEXT_BYTES_MAX`]; control characters are refused so that text cannot forge log lines.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Text(String);

impl Text {
    /// Validates text.
    pub fn new(text: impl Into<String>) -> Result<Self, IdError> {
        let text = text.into();
        if text.len() <= TEXT_BYTES_MAX && !text.chars().any(text_refuses) {
            Ok(Self(text))
        } else {
            Err(IdError::Text)
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Characters free text refuses: controls (Unicode Cc), and the invisible formatting
/// characters that make a stored text read differently from what it holds: bidirectional
/// marks, embeddings, overrides and isolates (U+061C, U+200E, U+200F, U+202A–U+202E,
/// U+2066–U+2069), zero-width and joining characters (U+200B–U+200D, U+2060–U+2064, U+FEFF),
/// the soft hyphen (U+00AD), the Mongolian vowel separator (U+180E) and interlinear
/// annotation marks (U+FFF9–U+FFFB).
pub fn text_refuses(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
        )
}

impl Default for Text {
    /// The empty text.
    fn default() -> Self {
        Self(String::new())
    }
}

impl std::str::FromStr for Text {
    type Err = IdError;
    fn from_str(text: &str) -> Result<Self, IdError> {
        Self::new(text)
    }
}
display_debug!(Text, |s, f| f.write_str(&s.0));
serde_via_str!(Text);

impl Write for Text {
    fn write(&self, buf: &mut impl BufMut) {
        self.0.as_bytes().write(buf);
    }
}
impl EncodeSize for Text {
    fn encode_size(&self) -> usize {
        self.0.as_bytes().encode_size()
    }
}
impl Read for Text {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        let bytes = read_bytes(buf, TEXT_BYTES_MAX)?;
        let text = String::from_utf8(bytes).map_err(|_| Error::Invalid("Text", "not UTF-8"))?;
        Self::new(text).map_err(|_| {
            Error::Invalid("Text", "control, bidirectional or invisible formatting characters")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{DecodeExt, Encode};

    #[test]
    fn text_refuses_control_bidirectional_and_invisible_characters() {
        assert!(Text::new("SSB-2026-0043 报销").is_ok());
        for bad in ["a\u{202E}b", "a\u{2066}b", "a\u{200B}b", "a\u{200F}b", "a\u{FEFF}", "a\nb"] {
            assert_eq!(Text::new(bad), Err(IdError::Text), "{bad:?}");
            // Decoding refuses it too: no transaction can carry it.
            let mut encoded = Vec::new();
            bad.as_bytes().write(&mut encoded);
            assert!(Text::decode(bytes::Bytes::from(encoded)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bill_ids_parse_and_print() {
        let id: BillId = "44010126/0000000042".parse().unwrap();
        assert_eq!(id.to_string(), "44010126/0000000042");
        assert!("4401012/0000000042".parse::<BillId>().is_err());
        assert!("44010126-0000000042".parse::<BillId>().is_err());
        assert!(BillNumber::new(10_000_000_000).is_err());
        assert!(BillCode::new(100_000_000).is_err());
    }

    #[test]
    fn out_of_range_numbers_do_not_decode() {
        let bytes = 10_000_000_000u64.encode();
        assert!(BillNumber::decode(bytes).is_err());
    }

    #[test]
    fn identifiers_are_checked() {
        assert!(MemberId::new("hosp-central").is_ok());
        assert!(MemberId::new("").is_err());
        assert!(MemberId::new("has space").is_err());
        assert!(MemberId::new("x".repeat(33)).is_err());
        assert!(Text::new("line\nbreak").is_err());
        assert!(Text::new("PAY-2026-001").is_ok());
        let long = "y".repeat(40).into_bytes().encode();
        assert!(MemberId::decode(long).is_err());
    }

    #[test]
    fn check_codes_use_the_alphabet() {
        let code = CheckCode::from_digest(&Digest([0xff; 32]));
        assert_eq!(code.as_str(), "ZZZZZZ");
        assert_eq!(code.as_str().parse::<CheckCode>().unwrap(), code);
        assert_eq!(CheckCode::decode(code.encode()).unwrap(), code);
        // Decoding refuses bytes outside the alphabet, as parsing does.
        assert!(CheckCode::decode(commonware_codec::Copying(b"ZZZZZI")).is_err());
        assert!(CheckCode::decode(commonware_codec::Copying(b"ZZZZZ\xff")).is_err());
    }
}
