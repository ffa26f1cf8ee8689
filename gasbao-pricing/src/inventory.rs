//! The inventory-ratio factor: storage fullness moves the price, band by band.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// One inventory band: ratios below `below` (and at or above the previous
/// band's bound) get `multiplier`. The last band has no bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InventoryBand {
    /// Exclusive upper bound of the inventory ratio; `None` for the last band.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub below: Option<Decimal>,
    /// Price multiplier in this band.
    pub multiplier: Decimal,
}

/// A piecewise-constant price factor of the inventory ratio (stock / capacity):
/// scarce stock raises the price, ample stock lowers it.
///
/// # Examples
///
/// ```
/// use gasbao_pricing::{InventoryBand, InventoryFactor};
/// use gasbao_core::Decimal;
///
/// let factor = InventoryFactor::new(vec![
///     InventoryBand { below: Some(Decimal::new(2, 1)), multiplier: Decimal::new(105, 2) },
///     InventoryBand { below: None, multiplier: Decimal::ONE },
/// ])?;
/// assert_eq!(factor.multiplier_at(Decimal::new(1, 1)), Decimal::new(105, 2));
/// assert_eq!(factor.multiplier_at(Decimal::new(2, 1)), Decimal::ONE);
/// # Ok::<(), gasbao_pricing::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<InventoryBand>", into = "Vec<InventoryBand>")]
pub struct InventoryFactor {
    bands: Vec<InventoryBand>,
}

impl InventoryFactor {
    /// Bands with increasing bounds, the last open-ended.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidInventoryBand`] naming the band;
    /// [`ConfigError::NonPositiveMultiplier`] for a multiplier not above zero.
    pub fn new(bands: Vec<InventoryBand>) -> Result<InventoryFactor, ConfigError> {
        let last = bands.len().checked_sub(1).ok_or(ConfigError::InvalidInventoryBand {
            band: 0,
            reason: "at least one band is needed",
        })?;
        let mut previous: Option<Decimal> = None;
        for (index, band) in bands.iter().enumerate() {
            if band.multiplier <= Decimal::ZERO {
                return Err(ConfigError::NonPositiveMultiplier {
                    field: format!("inventory[{index}]"),
                    multiplier: band.multiplier,
                });
            }
            let invalid = |reason| ConfigError::InvalidInventoryBand { band: index, reason };
            match (band.below, index == last) {
                (None, true) => {}
                (None, false) => return Err(invalid("only the last band may be open-ended")),
                (Some(_), true) => return Err(invalid("the last band must be open-ended")),
                (Some(below), false) => {
                    if previous.is_some_and(|p| below <= p) || below <= Decimal::ZERO {
                        return Err(invalid("bounds must be positive and increasing"));
                    }
                    previous = Some(below);
                }
            }
        }
        Ok(InventoryFactor { bands })
    }

    /// The bands, lowest first.
    #[must_use]
    pub fn bands(&self) -> &[InventoryBand] {
        &self.bands
    }

    /// The multiplier for inventory ratio `ratio`.
    #[must_use]
    pub fn multiplier_at(&self, ratio: Decimal) -> Decimal {
        self.bands
            .iter()
            .find(|b| b.below.is_none_or(|below| ratio < below))
            .map_or(Decimal::ONE, |b| b.multiplier)
    }
}

impl TryFrom<Vec<InventoryBand>> for InventoryFactor {
    type Error = ConfigError;

    fn try_from(bands: Vec<InventoryBand>) -> Result<InventoryFactor, ConfigError> {
        InventoryFactor::new(bands)
    }
}

impl From<InventoryFactor> for Vec<InventoryBand> {
    fn from(f: InventoryFactor) -> Vec<InventoryBand> {
        f.bands
    }
}
