//! Money: an integer count of fen (1/100 yuan). Never floating point.

use bytes::BufMut;
use commonware_codec::{Buf, Error, FixedSize, Read, Write};
use serde::{Deserialize, Serialize};
use std::fmt;

/// An amount of money in fen (1/100 yuan). Arithmetic is checked: it never wraps.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Fen(pub u64);

impl Fen {
    /// Nothing.
    pub const ZERO: Fen = Fen(0);

    /// `self + other`, or `None` on overflow.
    pub fn checked_add(self, other: Fen) -> Option<Fen> {
        self.0.checked_add(other.0).map(Fen)
    }

    /// `self - other`, or `None` if it would go below zero.
    pub fn checked_sub(self, other: Fen) -> Option<Fen> {
        self.0.checked_sub(other.0).map(Fen)
    }

    /// The sum of `amounts`, or `None` on overflow.
    pub fn checked_sum(amounts: impl IntoIterator<Item = Fen>) -> Option<Fen> {
        amounts.into_iter().try_fold(Fen::ZERO, Fen::checked_add)
    }

    /// True for zero.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

/// Shown as yuan with two decimals: `Fen(9750)` is `97.50`.
impl fmt::Display for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl Write for Fen {
    fn write(&self, buf: &mut impl BufMut) {
        self.0.write(buf);
    }
}
impl FixedSize for Fen {
    const SIZE: usize = u64::SIZE;
}
impl Read for Fen {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        u64::read_cfg(buf, &()).map(Fen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_arithmetic_and_display() {
        assert_eq!(Fen(u64::MAX).checked_add(Fen(1)), None);
        assert_eq!(Fen(1).checked_sub(Fen(2)), None);
        assert_eq!(Fen::checked_sum([Fen(1), Fen(2)]), Some(Fen(3)));
        assert_eq!(Fen(9750).to_string(), "97.50");
        assert_eq!(Fen(5).to_string(), "0.05");
    }
}
