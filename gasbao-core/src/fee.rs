//! A fee: a base charge plus a unit price times a volume, rounded once.

use crate::error::{Step, TariffError};
use crate::exact;
use crate::quantity::{Money, UnitPrice, Volume};
use crate::rounding::RoundingMode;

/// `base + price x volume`, computed exactly and rounded once to the fen with `mode`.
///
/// The product is never rounded on its own, whatever the number of decimals of
/// its inputs, so a fee is the correctly rounded value of the exact amount.
///
/// # Errors
///
/// [`TariffError::Overflow`] with [`Step::Fee`] if the rounded result does not
/// fit a `Decimal` (about 7.9e28 CNY).
///
/// # Examples
///
/// ```
/// use gasbao_core::{fee, Money, RoundingMode, UnitPrice, Volume};
/// use gasbao_core::Decimal;
///
/// // A 5.00 CNY meter charge plus 12.345 m3 at 2.61 CNY/m3 = 37.22045 -> 37.22.
/// let price = UnitPrice::new(Decimal::new(261, 2))?;
/// let volume = Volume::new(Decimal::new(12_345, 3))?;
/// let total = fee(Money::from_fen(500), price, volume, RoundingMode::HalfUp)?;
/// assert_eq!(total, Money::from_fen(3_722));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[inline]
pub fn fee(base: Money, price: UnitPrice, volume: Volume, mode: RoundingMode) -> Result<Money, TariffError> {
    match exact::mul_add_round(price.value(), volume.value(), base.yuan(), 2, mode) {
        Some(amount) => Ok(Money::new(amount)),
        None => Err(TariffError::Overflow { step: Step::Fee }),
    }
}

/// `price x volume` rounded once to the fen; the amount of one bill line.
pub(crate) fn line_amount(price: UnitPrice, volume: Volume, mode: RoundingMode) -> Result<Money, TariffError> {
    exact::mul_add_round(price.value(), volume.value(), rust_decimal::Decimal::ZERO, 2, mode)
        .map(Money::new)
        .ok_or(TariffError::Overflow { step: Step::LineAmount })
}
