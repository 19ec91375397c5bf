//! Amounts as people write them: yuan with at most two decimals (`123.45`), read into [`Fen`]
//! without ever passing through floating point.

use medledger_types::Fen;
use serde::{Deserialize, Deserializer};

/// Parses `123.45`, `123.4` or `123` (yuan) into fen. No sign, exponent or separators.
pub fn parse_fen(text: &str) -> Result<Fen, String> {
    let bad = || format!("not an amount in yuan with at most two decimals (e.g. 123.45): {text:?}");
    let (yuan, decimals) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(yuan) || decimals.len() > 2 || (text.contains('.') && !digits(decimals)) {
        return Err(bad());
    }
    let yuan: u64 = yuan.parse().map_err(|_| bad())?;
    // "5" after the point is 50 fen, "05" is 5.
    let fen: u64 = format!("{decimals:0<2}").parse().map_err(|_| bad())?;
    yuan.checked_mul(100).and_then(|y| y.checked_add(fen)).map(Fen).ok_or_else(bad)
}

/// An amount read from JSON as a string in yuan (`"123.45"`). JSON numbers are refused: they
/// are floating point to most JSON writers, and money never is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Yuan(pub Fen);

impl<'de> Deserialize<'de> for Yuan {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Yuan;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an amount in yuan as a string, e.g. \"123.45\"")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Yuan, E> {
                parse_fen(text).map(Yuan).map_err(E::custom)
            }
        }
        d.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_text_becomes_fen_exactly() {
        assert_eq!(parse_fen("123.45"), Ok(Fen(12_345)));
        assert_eq!(parse_fen("0.5"), Ok(Fen(50)));
        assert_eq!(parse_fen("0.05"), Ok(Fen(5)));
        assert_eq!(parse_fen("7"), Ok(Fen(700)));
        assert_eq!(parse_fen("184467440737095516.15"), Ok(Fen(u64::MAX)));
        for bad in [
            "",
            ".",
            "1.",
            ".5",
            "1.234",
            "-1",
            "+1",
            "1e3",
            "1,000",
            " 1",
            "184467440737095516.16",
        ] {
            assert!(parse_fen(bad).is_err(), "{bad:?} parsed");
        }
        let json: Vec<Yuan> = serde_json::from_str(r#"["1.10", "0"]"#).unwrap();
        assert_eq!(json, [Yuan(Fen(110)), Yuan(Fen(0))]);
        assert!(serde_json::from_str::<Yuan>("1.10").is_err());
    }
}
