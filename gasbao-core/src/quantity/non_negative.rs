//! Quantities that are never negative: gas volume and unit price.

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::{Quantity, QuantityError};
use crate::rounding::RoundingMode;

/// Defines a newtype over `Decimal` that refuses negative values, both on
/// construction and when deserialized.
macro_rules! non_negative_decimal {
    ($(#[$doc:meta])* $name:ident, $unit:literal, $quantity:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
        #[serde(try_from = "Decimal", into = "Decimal")]
        pub struct $name(Decimal);

        impl $name {
            /// Zero.
            pub const ZERO: $name = $name(Decimal::ZERO);

            #[doc = concat!("A value in ", $unit, ".")]
            ///
            /// # Errors
            ///
            /// [`QuantityError::Negative`] if `value < 0`. Negative zero is accepted
            /// and stored as zero.
            pub fn new(value: Decimal) -> Result<$name, QuantityError> {
                if value.is_sign_negative() {
                    if value.is_zero() {
                        return Ok($name(value.abs()));
                    }
                    return Err(QuantityError::Negative { quantity: $quantity, value });
                }
                Ok($name(value))
            }

            #[doc = concat!("The value in ", $unit, ".")]
            #[must_use]
            pub const fn value(self) -> Decimal {
                self.0
            }

            /// `self + rhs` exactly, or `None` if the exact sum does not fit a `Decimal`.
            #[must_use]
            pub fn checked_add(self, rhs: $name) -> Option<$name> {
                crate::exact::add(self.0, rhs.0).map($name)
            }

            /// `self - rhs` exactly, or `None` if the result would be negative or
            /// does not fit a `Decimal`.
            #[must_use]
            pub fn checked_sub(self, rhs: $name) -> Option<$name> {
                if rhs.0 > self.0 {
                    return None;
                }
                // Both are non-negative and rhs <= self: the exact difference fits.
                crate::exact::sub(self.0, rhs.0).map(|d| $name(d.abs()))
            }

            /// The value rounded to `dp` decimal places with `mode`.
            #[must_use]
            pub fn round_dp(self, dp: u32, mode: RoundingMode) -> $name {
                // Rounding a non-negative value never makes it negative.
                $name(self.0.round_dp_with_strategy(dp, mode.strategy()))
            }

            /// Whether the value is zero.
            #[must_use]
            pub fn is_zero(self) -> bool {
                self.0.is_zero()
            }
        }

        impl std::str::FromStr for $name {
            type Err = QuantityError;

            /// Parses a decimal number such as `"350.5"`; negative values are refused.
            fn from_str(text: &str) -> Result<$name, QuantityError> {
                $name::new(super::parse_decimal(text, $quantity)?)
            }
        }

        impl TryFrom<Decimal> for $name {
            type Error = QuantityError;

            fn try_from(value: Decimal) -> Result<$name, QuantityError> {
                $name::new(value)
            }
        }

        impl From<$name> for Decimal {
            fn from(v: $name) -> Decimal {
                v.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

impl Volume {
    /// A whole number of m3; every `u64` is a valid volume.
    #[must_use]
    pub const fn from_whole_m3(m3: u64) -> Volume {
        Volume(Decimal::from_parts(m3 as u32, (m3 >> 32) as u32, 0, false, 0))
    }

    /// A volume in litres, i.e. thousandths of a m3 (`1_250` is 1.250 m3),
    /// the resolution smart meters report in; every `u64` is valid.
    ///
    /// ```
    /// use gasbao_core::Volume;
    /// assert_eq!(Volume::from_milli_m3(1_250).to_string(), "1.250");
    /// ```
    #[must_use]
    pub const fn from_milli_m3(milli_m3: u64) -> Volume {
        Volume(Decimal::from_parts(
            milli_m3 as u32,
            (milli_m3 >> 32) as u32,
            0,
            false,
            3,
        ))
    }
}

impl UnitPrice {
    /// A price in fen per m3 (`261` is 2.61 CNY/m3); every `u64` is valid.
    #[must_use]
    pub const fn from_fen_per_m3(fen: u64) -> UnitPrice {
        UnitPrice(Decimal::from_parts(fen as u32, (fen >> 32) as u32, 0, false, 2))
    }
}

non_negative_decimal!(
    /// A volume of gas in cubic metres (m3); never negative.
    ///
    /// # Examples
    ///
    /// ```
    /// use gasbao_core::{Decimal, QuantityError, Volume};
    ///
    /// let v = Volume::new(Decimal::new(3505, 1))?;
    /// assert_eq!(v.to_string(), "350.5");
    /// assert!(matches!(Volume::new(Decimal::NEGATIVE_ONE), Err(QuantityError::Negative { .. })));
    /// # Ok::<(), gasbao_core::QuantityError>(())
    /// ```
    Volume,
    "m3",
    Quantity::Volume
);

non_negative_decimal!(
    /// A price in CNY per cubic metre; never negative.
    ///
    /// # Examples
    ///
    /// ```
    /// use gasbao_core::UnitPrice;
    /// use gasbao_core::Decimal;
    ///
    /// let beijing_tier_1 = UnitPrice::new(Decimal::new(261, 2))?;
    /// assert_eq!(beijing_tier_1.value(), Decimal::new(261, 2));
    /// # Ok::<(), gasbao_core::QuantityError>(())
    /// ```
    UnitPrice,
    "CNY per m3",
    Quantity::UnitPrice
);
