//! How an exact amount is brought to a whole number of fen.

use rust_decimal::RoundingStrategy;
use serde::{Deserialize, Serialize};

/// How an exact amount is rounded to the fen (or to any scale).
///
/// Names follow accounting usage; each maps to one `rust_decimal` strategy.
/// Chinese retail gas bills round half-up (四舍五入), which is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RoundingMode {
    /// Nearest; exact halves away from zero (`0.125 -> 0.13`, `-0.125 -> -0.13`).
    #[default]
    HalfUp,
    /// Nearest; exact halves to the even neighbour (banker's rounding:
    /// `0.125 -> 0.12`, `0.135 -> 0.14`).
    HalfEven,
    /// Nearest; exact halves toward zero (`0.125 -> 0.12`).
    HalfDown,
    /// Toward zero, i.e. truncate (`0.129 -> 0.12`, `-0.129 -> -0.12`).
    Down,
    /// Away from zero (`0.121 -> 0.13`, `-0.121 -> -0.13`).
    Up,
    /// Toward negative infinity (`-0.121 -> -0.13`).
    Floor,
    /// Toward positive infinity (`-0.129 -> -0.12`).
    Ceiling,
}

impl RoundingMode {
    /// Every mode, in declaration order (an iterator, so that new modes
    /// do not change its type).
    pub fn all() -> impl Iterator<Item = RoundingMode> {
        [
            RoundingMode::HalfUp,
            RoundingMode::HalfEven,
            RoundingMode::HalfDown,
            RoundingMode::Down,
            RoundingMode::Up,
            RoundingMode::Floor,
            RoundingMode::Ceiling,
        ]
        .into_iter()
    }

    /// The equivalent `rust_decimal` strategy.
    #[must_use]
    pub const fn strategy(self) -> RoundingStrategy {
        match self {
            RoundingMode::HalfUp => RoundingStrategy::MidpointAwayFromZero,
            RoundingMode::HalfEven => RoundingStrategy::MidpointNearestEven,
            RoundingMode::HalfDown => RoundingStrategy::MidpointTowardZero,
            RoundingMode::Down => RoundingStrategy::ToZero,
            RoundingMode::Up => RoundingStrategy::AwayFromZero,
            RoundingMode::Floor => RoundingStrategy::ToNegativeInfinity,
            RoundingMode::Ceiling => RoundingStrategy::ToPositiveInfinity,
        }
    }

    /// Whether a truncated quotient moves one unit away from zero, given the
    /// discarded remainder compared with half a unit.
    ///
    /// `negative` is the sign of the exact value; `remainder` classifies the
    /// discarded magnitude.
    #[inline(always)]
    pub(crate) const fn bumps_away_from_zero(self, negative: bool, remainder: Remainder) -> bool {
        match remainder {
            Remainder::Zero => false,
            Remainder::BelowHalf => matches!(
                (self, negative),
                (RoundingMode::Up, _) | (RoundingMode::Floor, true) | (RoundingMode::Ceiling, false)
            ),
            Remainder::Half { odd } => match self {
                RoundingMode::HalfUp | RoundingMode::Up => true,
                RoundingMode::HalfEven => odd,
                RoundingMode::HalfDown | RoundingMode::Down => false,
                RoundingMode::Floor => negative,
                RoundingMode::Ceiling => !negative,
            },
            Remainder::AboveHalf => match self {
                RoundingMode::Down => false,
                RoundingMode::Floor => negative,
                RoundingMode::Ceiling => !negative,
                _ => true,
            },
        }
    }
}

/// The discarded part of a division, relative to half the divisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Remainder {
    Zero,
    BelowHalf,
    /// Exactly half; `odd` tells whether the truncated quotient is odd.
    Half {
        odd: bool,
    },
    AboveHalf,
}
