//! Pipeline gas: regulated city-gate price, distance transport tariff, and a
//! surcharge when the pipeline runs near capacity.

use gasbao_core::UnitPrice;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::{PricingStep, StrategyError};
use crate::strategy::{PricingStrategy, SourcePrice, mul, non_negative};

/// Pipeline gas priced as city-gate benchmark + transport + utilisation surcharge.
///
/// Transport is `rate_per_1000m3_km x distance_km / 1000` (pipeline tariffs are
/// quoted per thousand m3 and km). The surcharge is that of the highest
/// `utilisation_surcharges` entry whose `from` the current utilisation reaches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineStrategy {
    /// The regulated city-gate benchmark price, CNY per m3.
    pub city_gate_price: UnitPrice,
    /// Transport tariff, CNY per thousand m3 per km.
    pub transport_rate_per_1000m3_km: Decimal,
    /// Surcharges by capacity utilisation, in increasing `from` order.
    #[serde(default)]
    pub utilisation_surcharges: Vec<UtilisationSurcharge>,
}

/// A surcharge applying from a capacity utilisation upward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UtilisationSurcharge {
    /// Utilisation (0 to 1) from which the surcharge applies.
    pub from: Decimal,
    /// CNY per m3.
    pub surcharge: UnitPrice,
}

/// Market data for a pipeline quote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineInput {
    /// Distance from the city gate's supply point, km.
    pub distance_km: Decimal,
    /// Current capacity utilisation of the pipeline, 0 to 1.
    pub utilisation: Decimal,
}

impl PricingStrategy for PipelineStrategy {
    type Input = PipelineInput;

    fn price(&self, input: &PipelineInput) -> Result<SourcePrice, StrategyError> {
        if input.distance_km < Decimal::ZERO {
            return Err(StrategyError::InvalidInput {
                field: "distance_km",
                reason: "must not be negative",
            });
        }
        if input.utilisation < Decimal::ZERO || input.utilisation > Decimal::ONE {
            return Err(StrategyError::InvalidInput {
                field: "utilisation",
                reason: "must be between 0 and 1",
            });
        }
        let transport = mul(
            self.transport_rate_per_1000m3_km,
            input.distance_km,
            PricingStep::Transport,
        )?
        .checked_div(Decimal::ONE_THOUSAND)
        .ok_or(StrategyError::Overflow {
            step: PricingStep::Transport,
        })?;
        let surcharge = self
            .utilisation_surcharges
            .iter()
            .rev()
            .find(|s| input.utilisation >= s.from)
            .map_or(Decimal::ZERO, |s| s.surcharge.value());
        SourcePrice::from_components(vec![
            ("city-gate".into(), self.city_gate_price.value()),
            ("transport".into(), transport),
            ("utilisation surcharge".into(), surcharge),
        ])
    }

    fn validate(&self) -> Result<(), StrategyError> {
        non_negative("transport_rate_per_1000m3_km", self.transport_rate_per_1000m3_km)?;
        let increasing = self.utilisation_surcharges.windows(2).all(|w| w[0].from < w[1].from);
        let in_range = self
            .utilisation_surcharges
            .iter()
            .all(|s| s.from >= Decimal::ZERO && s.from <= Decimal::ONE);
        if !increasing || !in_range {
            return Err(StrategyError::InvalidParameter {
                field: "utilisation_surcharges",
                reason: "must have increasing `from` between 0 and 1",
            });
        }
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "pipeline"
    }
}
