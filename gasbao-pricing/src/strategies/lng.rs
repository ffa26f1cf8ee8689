//! LNG: landed or ex-ship cost, trucking, regasification and storage.

use gasbao_core::UnitPrice;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::{PricingStep, StrategyError};
use crate::strategy::{PricingStrategy, SourcePrice, mul};

/// LNG priced as cargo cost (+ shipping when bought ex-ship) + trucking +
/// regasification + a storage premium per day held in the tank.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LngStrategy {
    /// Regasification fee, CNY per m3.
    pub regasification_fee: UnitPrice,
    /// Storage premium, CNY per m3 per day in storage.
    pub storage_premium_per_day: UnitPrice,
    /// Trucking rate, CNY per m3 per km from the terminal.
    pub trucking_rate_per_km: UnitPrice,
}

/// How an LNG cargo was bought.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum LngCargo {
    /// Delivered to the terminal: the cost includes shipping.
    Landed {
        /// CNY per m3 of regasified gas.
        cost: UnitPrice,
    },
    /// Bought at the loading port: shipping is paid separately.
    ExShip {
        /// CNY per m3 of regasified gas.
        cost: UnitPrice,
        /// Shipping, CNY per m3.
        shipping: UnitPrice,
    },
}

/// Market data for an LNG quote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LngInput {
    /// The cargo's cost basis.
    pub cargo: LngCargo,
    /// Trucking distance from the terminal, km (0 when piped from it).
    #[serde(default)]
    pub trucking_km: Decimal,
    /// Days the gas is held in storage.
    #[serde(default)]
    pub days_in_storage: u32,
}

impl PricingStrategy for LngStrategy {
    type Input = LngInput;

    fn price(&self, input: &LngInput) -> Result<SourcePrice, StrategyError> {
        if input.trucking_km < Decimal::ZERO {
            return Err(StrategyError::InvalidInput {
                field: "trucking_km",
                reason: "must not be negative",
            });
        }
        let mut components = match input.cargo {
            LngCargo::Landed { cost } => vec![("landed cost".into(), cost.value())],
            LngCargo::ExShip { cost, shipping } => {
                vec![
                    ("ex-ship cost".into(), cost.value()),
                    ("shipping".into(), shipping.value()),
                ]
            }
        };
        components.extend([
            (
                "trucking".into(),
                mul(
                    self.trucking_rate_per_km.value(),
                    input.trucking_km,
                    PricingStep::Trucking,
                )?,
            ),
            ("regasification".into(), self.regasification_fee.value()),
            (
                "storage".into(),
                mul(
                    self.storage_premium_per_day.value(),
                    input.days_in_storage.into(),
                    PricingStep::StoragePremium,
                )?,
            ),
        ]);
        SourcePrice::from_components(components)
    }

    fn kind(&self) -> &'static str {
        "lng"
    }
}
