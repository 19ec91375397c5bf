//! Lowercase hexadecimal, the text form of keys, digests and signatures.

/// Why a text is not hexadecimal.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FromHexError {
    /// Hex needs two characters per byte.
    #[error("odd number of characters ({0})")]
    OddLength(usize),
    /// A character outside 0-9, a-f, A-F.
    #[error("invalid character {0:?} at position {1}")]
    InvalidChar(char, usize),
}

/// Encodes bytes as lowercase hexadecimal.
pub fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// Decodes hexadecimal (either case).
pub fn decode_hex(text: &str) -> Result<Vec<u8>, FromHexError> {
    let text = text.trim();
    if !text.len().is_multiple_of(2) {
        return Err(FromHexError::OddLength(text.len()));
    }
    let nibble = |pos: usize, c: u8| -> Result<u8, FromHexError> {
        match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            b'A'..=b'F' => Ok(c - b'A' + 10),
            _ => Err(FromHexError::InvalidChar(char::from(c), pos)),
        }
    };
    text.as_bytes()
        .chunks_exact(2)
        .enumerate()
        .map(|(i, pair)| Ok((nibble(2 * i, pair[0])? << 4) | nibble(2 * i + 1, pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        assert_eq!(encode_hex(&[0x00, 0xab, 0xff]), "00abff");
        assert_eq!(decode_hex("00ABff").unwrap(), vec![0x00, 0xab, 0xff]);
        assert_eq!(decode_hex("abc"), Err(FromHexError::OddLength(3)));
        assert_eq!(decode_hex("zz"), Err(FromHexError::InvalidChar('z', 0)));
    }
}
