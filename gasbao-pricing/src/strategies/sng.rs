//! Coal-to-gas SNG: a contract price escalated on each contract anniversary.

use gasbao_core::{Date, UnitPrice};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::{PricingStep, StrategyError};
use crate::strategy::{PricingStrategy, SourcePrice};

/// SNG under a long-term contract: `contract_price x (1 + escalation)^n`,
/// where `n` is the number of whole contract years since `contract_start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SngStrategy {
    /// Price in the first contract year, CNY per m3.
    pub contract_price: UnitPrice,
    /// First day of the contract.
    pub contract_start: Date,
    /// Escalation per contract year, percent (compounded).
    pub escalation_percent_per_year: Decimal,
}

/// Market data for an SNG quote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SngInput {
    /// The day of delivery.
    pub date: Date,
}

impl SngStrategy {
    /// Whole contract years from the start to `date`.
    fn contract_years(&self, date: Date) -> u32 {
        let start = self.contract_start;
        let mut years = date.year().saturating_sub(start.year());
        if (date.month(), date.day()) < (start.month(), start.day()) {
            years = years.saturating_sub(1);
        }
        u32::try_from(years).unwrap_or(0)
    }
}

impl PricingStrategy for SngStrategy {
    type Input = SngInput;

    fn price(&self, input: &SngInput) -> Result<SourcePrice, StrategyError> {
        if input.date < self.contract_start {
            return Err(StrategyError::InvalidInput {
                field: "date",
                reason: "is before the contract starts",
            });
        }
        let overflow = StrategyError::Overflow {
            step: PricingStep::Escalation,
        };
        let factor = Decimal::ONE_HUNDRED
            .checked_add(self.escalation_percent_per_year)
            .and_then(|p| p.checked_div(Decimal::ONE_HUNDRED))
            .ok_or(overflow.clone())?;
        let mut price = self.contract_price.value();
        for _ in 0..self.contract_years(input.date) {
            // Rounded to 1e-10 CNY each year, as the contract's yearly prices would be.
            price = price.checked_mul(factor).ok_or(overflow.clone())?.round_dp(10);
        }
        let escalation = price.checked_sub(self.contract_price.value()).ok_or(overflow)?;
        SourcePrice::from_components(vec![
            ("contract price".into(), self.contract_price.value()),
            ("escalation".into(), escalation),
        ])
    }

    fn validate(&self) -> Result<(), StrategyError> {
        // Contracts may de-escalate, but never to nothing.
        if self.escalation_percent_per_year <= Decimal::from(-100) {
            return Err(StrategyError::InvalidParameter {
                field: "escalation_percent_per_year",
                reason: "must be above -100",
            });
        }
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "sng"
    }
}
