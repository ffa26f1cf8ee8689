//! The regulatory band: the price limits a regulator sets per customer class.

use gasbao_core::{RoundingMode, UnitPrice};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::{ConfigError, PricingStep, QuoteError};

/// Who the gas is sold to; the regulator limits each class differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CustomerClass {
    /// Households: a government-set price acts as a cap.
    Residential,
    /// Industry and commerce: the city-gate benchmark may rise by at most a
    /// percentage.
    NonResidential,
}

impl CustomerClass {
    fn name(self) -> &'static str {
        match self {
            CustomerClass::Residential => "residential",
            CustomerClass::NonResidential => "non-residential",
        }
    }
}

/// Limits for non-residential customers: at most `benchmark` raised by
/// `max_rise_percent` (20 in China), and no floor unless one is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NonResidentialBand {
    /// The city-gate benchmark price.
    pub benchmark: UnitPrice,
    /// How far above the benchmark the price may go, in percent.
    #[serde(default = "twenty")]
    pub max_rise_percent: Decimal,
    /// Lowest price, where a market has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor: Option<UnitPrice>,
}

fn twenty() -> Decimal {
    Decimal::from(20)
}

/// The regulator's limits per customer class. A class without a rule is
/// refused at quote time rather than quoted without limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "BandConfig", into = "BandConfig")]
pub struct RegulatoryBand {
    residential_cap: Option<UnitPrice>,
    non_residential: Option<NonResidentialBand>,
}

/// The limits that apply to one quote, in whole fen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) floor: Option<Decimal>,
    pub(crate) cap: Option<Decimal>,
}

impl RegulatoryBand {
    /// A band with these rules.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidBand`] if the rise is negative, or no whole-fen
    /// price lies between the floor and the cap.
    pub fn new(
        residential_cap: Option<UnitPrice>,
        non_residential: Option<NonResidentialBand>,
    ) -> Result<RegulatoryBand, ConfigError> {
        let band = RegulatoryBand {
            residential_cap,
            non_residential,
        };
        if let Some(rule) = non_residential {
            if rule.max_rise_percent < Decimal::ZERO {
                return Err(ConfigError::InvalidBand {
                    field: "non_residential.max_rise_percent",
                    reason: "must not be negative",
                });
            }
            let limits = band
                .limits(CustomerClass::NonResidential)
                .map_err(|_| ConfigError::InvalidBand {
                    field: "non_residential.benchmark",
                    reason: "is too large to raise by the percentage",
                })?;
            if let (Some(floor), Some(cap)) = (limits.floor, limits.cap)
                && floor > cap
            {
                return Err(ConfigError::InvalidBand {
                    field: "non_residential.floor",
                    reason: "leaves no whole-fen price at or below the cap",
                });
            }
        }
        Ok(band)
    }

    /// The residential cap, if any.
    #[must_use]
    pub fn residential_cap(&self) -> Option<UnitPrice> {
        self.residential_cap
    }

    /// The non-residential rule, if any.
    #[must_use]
    pub fn non_residential(&self) -> Option<NonResidentialBand> {
        self.non_residential
    }

    /// The limits for `class`, brought inside to whole fen (cap rounded down,
    /// floor rounded up) so that a rounded price within them is within the band.
    pub(crate) fn limits(&self, class: CustomerClass) -> Result<Limits, QuoteError> {
        let fen = |price: Decimal, mode: RoundingMode| price.round_dp_with_strategy(2, mode.strategy());
        let missing = || QuoteError::NoBandForClass { class: class.name() };
        match class {
            CustomerClass::Residential => Ok(Limits {
                floor: None,
                cap: Some(fen(
                    self.residential_cap.ok_or_else(missing)?.value(),
                    RoundingMode::Down,
                )),
            }),
            CustomerClass::NonResidential => {
                let rule = self.non_residential.ok_or_else(missing)?;
                let factor = Decimal::ONE_HUNDRED
                    .checked_add(rule.max_rise_percent)
                    .and_then(|p| p.checked_div(Decimal::ONE_HUNDRED));
                let cap = factor
                    .and_then(|f| rule.benchmark.value().checked_mul(f))
                    .ok_or(QuoteError::Overflow {
                        step: PricingStep::NonResidentialCap,
                    })?;
                Ok(Limits {
                    floor: rule.floor.map(|f| fen(f.value(), RoundingMode::Up)),
                    cap: Some(fen(cap, RoundingMode::Down)),
                })
            }
        }
    }
}

/// The `band` section of a configuration document, before validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BandConfig {
    /// The government-set residential price, a cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residential_cap: Option<UnitPrice>,
    /// The non-residential rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub non_residential: Option<NonResidentialBand>,
}

impl TryFrom<BandConfig> for RegulatoryBand {
    type Error = ConfigError;

    fn try_from(config: BandConfig) -> Result<RegulatoryBand, ConfigError> {
        RegulatoryBand::new(config.residential_cap, config.non_residential)
    }
}

impl From<RegulatoryBand> for BandConfig {
    fn from(b: RegulatoryBand) -> BandConfig {
        BandConfig {
            residential_cap: b.residential_cap,
            non_residential: b.non_residential,
        }
    }
}
