//! The strategy trait: how one kind of gas source is priced.

use std::borrow::Cow;
use std::fmt;

use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{PricingStep, StrategyError};

/// Prices one kind of gas source from its own typed market input.
///
/// A strategy's fields are its parameters (they come from the configuration
/// document when the strategy is registered through a
/// [`StrategyCatalog`](crate::StrategyCatalog)); `Input` is the market data it
/// needs for each quote. Because the input is an associated type, a
/// [`SourceHandle`](crate::SourceHandle) lets the compiler check that each
/// source gets the input its strategy expects.
///
/// Implement it for your own sources; the trait is object-safe once `Input`
/// is fixed, and methods added later will have default bodies.
///
/// # Examples
///
/// ```
/// use gasbao_pricing::{PricingStrategy, SourcePrice, StrategyError, PricingStep};
/// use gasbao_core::Decimal;
/// use serde::Deserialize;
///
/// /// LPG bought at a spot price per tonne and converted to m3 of gas.
/// #[derive(Debug, Deserialize)]
/// struct LpgSpot {
///     m3_per_tonne: Decimal,
/// }
///
/// #[derive(Deserialize)]
/// struct LpgInput {
///     price_per_tonne: Decimal,
/// }
///
/// impl PricingStrategy for LpgSpot {
///     type Input = LpgInput;
///
///     fn price(&self, input: &LpgInput) -> Result<SourcePrice, StrategyError> {
///         let per_m3 = input.price_per_tonne.checked_div(self.m3_per_tonne)
///             .ok_or(StrategyError::Overflow { step: PricingStep::SourcePrice })?;
///         SourcePrice::from_components(vec![("spot".into(), per_m3)])
///     }
///
///     fn validate(&self) -> Result<(), StrategyError> {
///         if self.m3_per_tonne <= Decimal::ZERO {
///             return Err(StrategyError::InvalidParameter { field: "m3_per_tonne", reason: "must be positive" });
///         }
///         Ok(())
///     }
/// }
/// ```
pub trait PricingStrategy: Send + Sync + fmt::Debug + 'static {
    /// The market data this strategy needs for each quote. A source whose
    /// request carries no input is priced from `null`, so `()` or an `Option`
    /// input needs none.
    type Input: DeserializeOwned + Send + Sync + 'static;

    /// The price per m3 of this source's gas for `input`, itemised.
    ///
    /// # Errors
    ///
    /// [`StrategyError`] when the input is out of range or the price cannot be computed.
    fn price(&self, input: &Self::Input) -> Result<SourcePrice, StrategyError>;

    /// Checks the parameters once, when the strategy is registered.
    ///
    /// # Errors
    ///
    /// [`StrategyError::InvalidParameter`] naming the parameter.
    fn validate(&self) -> Result<(), StrategyError> {
        Ok(())
    }

    /// The kind of source this is, as quotes and audit records name it when
    /// the source is registered in code (a configuration names it itself).
    /// A stable name of your choosing; `"custom"` unless overridden.
    fn kind(&self) -> &'static str {
        "custom"
    }
}

/// One item of a source's price, e.g. `("transport", 0.18)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceComponent {
    /// What the item is.
    pub name: Cow<'static, str>,
    /// CNY per m3 it contributes (negative for a discount).
    pub amount: Decimal,
}

/// A source's price per m3 and the components it is the exact sum of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourcePrice {
    price: Decimal,
    components: Vec<PriceComponent>,
}

impl SourcePrice {
    /// The price made of `components`, which it is the sum of.
    ///
    /// # Errors
    ///
    /// [`StrategyError::Overflow`] if the sum does not fit;
    /// [`StrategyError::NegativePrice`] if it is negative.
    pub fn from_components(components: Vec<(Cow<'static, str>, Decimal)>) -> Result<SourcePrice, StrategyError> {
        let price = components
            .iter()
            .try_fold(Decimal::ZERO, |sum, (_, amount)| sum.checked_add(*amount))
            .ok_or(StrategyError::Overflow {
                step: PricingStep::SourcePrice,
            })?;
        if price < Decimal::ZERO {
            return Err(StrategyError::NegativePrice { price });
        }
        Ok(SourcePrice {
            price,
            components: components
                .into_iter()
                .map(|(name, amount)| PriceComponent { name, amount })
                .collect(),
        })
    }

    /// CNY per m3, unrounded.
    #[must_use]
    pub fn price(&self) -> Decimal {
        self.price
    }

    /// The items the price is the sum of.
    #[must_use]
    pub fn components(&self) -> &[PriceComponent] {
        &self.components
    }

    /// The items, taken out.
    #[must_use]
    pub fn into_components(self) -> Vec<PriceComponent> {
        self.components
    }
}

/// Refuses a negative parameter, naming it.
pub(crate) fn non_negative(field: &'static str, value: Decimal) -> Result<(), StrategyError> {
    if value < Decimal::ZERO {
        return Err(StrategyError::InvalidParameter {
            field,
            reason: "must not be negative",
        });
    }
    Ok(())
}

/// `a x b`, or an overflow naming `step`.
pub(crate) fn mul(a: Decimal, b: Decimal, step: PricingStep) -> Result<Decimal, StrategyError> {
    a.checked_mul(b).ok_or(StrategyError::Overflow { step })
}
