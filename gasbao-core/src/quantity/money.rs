//! An exact amount of Chinese yuan.

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::QuantityError;
use crate::rounding::RoundingMode;

/// An exact amount of money in CNY (yuan).
///
/// Any `Decimal` is a valid amount: negative amounts are credits and refunds,
/// and amounts may carry fractions of a fen while a computation is under way.
/// Bills and fees produced by this crate are always whole fen.
///
/// # Examples
///
/// ```
/// use gasbao_core::{Money, RoundingMode};
/// use gasbao_core::Decimal;
///
/// let m = Money::from_fen(26_135);
/// assert_eq!(m.yuan(), Decimal::new(26_135, 2));
/// assert_eq!(Money::new(Decimal::new(1_005, 3)).round_to_fen(RoundingMode::HalfEven).to_fen(), Ok(100));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Money(Decimal);

impl Money {
    /// Zero yuan.
    pub const ZERO: Money = Money(Decimal::ZERO);

    /// An amount of yuan.
    #[must_use]
    pub const fn new(yuan: Decimal) -> Money {
        Money(yuan)
    }

    /// An amount of whole fen (1 fen = 0.01 yuan); every `i64` fits.
    #[must_use]
    pub const fn from_fen(fen: i64) -> Money {
        // An i64 (at most 19 digits) always fits Decimal's 96-bit mantissa.
        Money(Decimal::from_parts(
            fen.unsigned_abs() as u32,
            (fen.unsigned_abs() >> 32) as u32,
            0,
            fen < 0,
            2,
        ))
    }

    /// The amount in yuan.
    #[must_use]
    pub const fn yuan(self) -> Decimal {
        self.0
    }

    /// The amount in whole fen.
    ///
    /// # Errors
    ///
    /// [`QuantityError::NotWholeFen`] if the amount has a fraction of a fen
    /// (round it with [`round_to_fen`](Self::round_to_fen) first), and
    /// [`QuantityError::FenOutOfRange`] if it does not fit in an `i64`.
    pub fn to_fen(self) -> Result<i64, QuantityError> {
        let normalized = self.0.normalize();
        let missing_scale = 2u32
            .checked_sub(normalized.scale())
            .ok_or(QuantityError::NotWholeFen { amount: self.0 })?;
        crate::exact::pow10(missing_scale)
            .and_then(|factor| normalized.mantissa().checked_mul(factor))
            .and_then(|fen| i64::try_from(fen).ok())
            .ok_or(QuantityError::FenOutOfRange { amount: self.0 })
    }

    /// The amount rounded to whole fen with `mode`.
    #[must_use]
    pub fn round_to_fen(self, mode: RoundingMode) -> Money {
        // Reducing the scale can never overflow the mantissa.
        Money(self.0.round_dp_with_strategy(2, mode.strategy()))
    }

    /// `self + rhs` exactly, or `None` if the exact sum does not fit a `Decimal`.
    #[must_use]
    pub fn checked_add(self, rhs: Money) -> Option<Money> {
        crate::exact::add(self.0, rhs.0).map(Money)
    }

    /// `self - rhs` exactly, or `None` if the exact difference does not fit a `Decimal`.
    #[must_use]
    pub fn checked_sub(self, rhs: Money) -> Option<Money> {
        crate::exact::sub(self.0, rhs.0).map(Money)
    }

    /// The sum of `amounts`, or `None` on overflow.
    pub fn checked_sum<I: IntoIterator<Item = Money>>(amounts: I) -> Option<Money> {
        amounts.into_iter().try_fold(Money::ZERO, Money::checked_add)
    }

    /// Whether the amount is zero.
    #[must_use]
    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }
}

impl fmt::Display for Money {
    /// The amount in yuan, e.g. `261.35`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::str::FromStr for Money {
    type Err = QuantityError;

    /// Parses a decimal amount of yuan such as `"-12.30"`.
    fn from_str(text: &str) -> Result<Money, QuantityError> {
        super::parse_decimal(text, crate::error::Quantity::Money).map(Money)
    }
}

impl From<Money> for Decimal {
    fn from(m: Money) -> Decimal {
        m.0
    }
}
