//! A fixed price, for tests and simple markets.

use gasbao_core::UnitPrice;
use serde::{Deserialize, Serialize};

use crate::error::StrategyError;
use crate::strategy::{PricingStrategy, SourcePrice};

/// Always the same price; takes no input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixedPrice {
    /// The price per m3.
    pub price: UnitPrice,
}

impl PricingStrategy for FixedPrice {
    type Input = ();

    fn price(&self, (): &()) -> Result<SourcePrice, StrategyError> {
        SourcePrice::from_components(vec![("fixed".into(), self.price.value())])
    }

    fn kind(&self) -> &'static str {
        "fixed"
    }
}
