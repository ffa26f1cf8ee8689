//! A quote and its itemised breakdown, and how one is made.

use std::fmt;
use std::sync::Arc;

use gasbao_core::UnitPrice;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::band::CustomerClass;
use crate::error::{PricingStep, QuoteError};
use crate::request::QuoteRequest;
use crate::setup::{PricingSetup, Weighting};
use crate::strategy::PriceComponent;
use crate::time_of_use::LocalTime;

/// Decimal places prices are carried at between steps: far below a fen, and
/// fixed so that every effect in the breakdown is an exact difference.
pub const CARRY_SCALE: u32 = 10;

/// A selling price per m3 and how it was made, item by item.
///
/// The items reproduce the price exactly:
/// `blended + sum(factor effects) + rounding + band effect == price`.
/// Serializable, to be stored as an audit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Quote {
    /// The configuration revision used.
    pub revision: Arc<str>,
    /// Local time quoted for.
    pub at: LocalTime,
    /// Customer class quoted for.
    pub customer: CustomerClass,
    /// Each source's price and weight, in configuration order.
    pub sources: Vec<SourceLine>,
    /// Weighted average of the source prices, before factors.
    pub blended: Decimal,
    /// Market factors in the order applied.
    pub factors: Vec<FactorLine>,
    /// Rounding to the fen: rounded price minus unrounded price.
    pub rounding: Decimal,
    /// The regulatory band and whether it bound.
    pub band: BandLine,
    /// The selling price per m3, whole fen.
    pub price: UnitPrice,
}

/// One source in a [`Quote`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SourceLine {
    /// Source id.
    pub id: Arc<str>,
    /// Strategy kind.
    pub kind: Arc<str>,
    /// Price per m3, carried at [`CARRY_SCALE`] decimals.
    pub price: Decimal,
    /// Weight in the blend (supply volume or configured weight).
    pub weight: Decimal,
    /// What the source's price is made of.
    pub components: Vec<PriceComponent>,
}

/// One market factor in a [`Quote`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FactorLine {
    /// Which factor.
    pub factor: Factor,
    /// Its multiplier.
    pub multiplier: Decimal,
    /// Price after minus price before.
    pub effect: Decimal,
}

/// A market factor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Factor {
    /// The time-of-use period in force.
    TimeOfUse {
        /// Period name.
        period: Arc<str>,
    },
    /// The inventory ratio.
    Inventory {
        /// Stock / capacity.
        ratio: Decimal,
    },
}

impl fmt::Display for Factor {
    /// `time of use (evening peak)`, `inventory (ratio 0.24)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Factor::TimeOfUse { period } => write!(f, "time of use ({period})"),
            Factor::Inventory { ratio } => write!(f, "inventory (ratio {ratio})"),
        }
    }
}

/// The regulatory band in a [`Quote`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BandLine {
    /// Highest allowed price, whole fen.
    pub cap: Option<Decimal>,
    /// Lowest allowed price, whole fen.
    pub floor: Option<Decimal>,
    /// Which limit bound, if one did.
    pub bound: Option<Bound>,
    /// Final price minus rounded price (zero unless a limit bound).
    pub effect: Decimal,
}

/// A limit that bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    /// The price was lowered to the cap.
    Cap,
    /// The price was raised to the floor.
    Floor,
}

/// Rounds to [`CARRY_SCALE`] decimals, half-even.
fn carry(value: Decimal) -> Decimal {
    value.round_dp(CARRY_SCALE)
}

fn overflow(step: PricingStep) -> QuoteError {
    QuoteError::Overflow { step }
}

/// Makes a quote for `request` under `setup`.
pub(crate) fn make(setup: &PricingSetup, request: &QuoteRequest) -> Result<Quote, QuoteError> {
    let registry = setup.sources();
    if let Some(unknown) = request.mentioned_ids().find(|id| !registry.contains(id)) {
        return Err(QuoteError::UnknownSource {
            source_id: unknown.to_owned(),
        });
    }
    let rules = setup.rules();
    let mut sources = Vec::with_capacity(registry.len());
    for source in registry.sources() {
        let priced = source
            .strategy
            .price_erased(&source.id, request.input_for(&source.id))?;
        let weight = match rules.weighting {
            // Validated present and non-negative when the setup was built.
            Weighting::Configured => source.weight.unwrap_or(Decimal::ZERO),
            Weighting::SupplyVolume => request
                .supply_for(&source.id)
                .ok_or_else(|| QuoteError::MissingSupply {
                    source_id: source.id.to_string(),
                })?
                .value(),
        };
        let price = carry(priced.price());
        sources.push(SourceLine {
            id: Arc::clone(&source.id),
            kind: Arc::clone(&source.kind),
            price,
            weight,
            components: priced.into_components(),
        });
    }
    let blended = blend(&sources)?;

    let mut price = blended;
    let mut factors = Vec::new();
    let mut apply = |factor: Factor, multiplier: Decimal| -> Result<(), QuoteError> {
        let after = carry(
            price
                .checked_mul(multiplier)
                .ok_or_else(|| overflow(PricingStep::MarketFactor))?,
        );
        let effect = after
            .checked_sub(price)
            .ok_or_else(|| overflow(PricingStep::MarketFactor))?;
        factors.push(FactorLine {
            factor,
            multiplier,
            effect,
        });
        price = after;
        Ok(())
    };
    if let Some(time_of_use) = &rules.time_of_use {
        let period = time_of_use.period_at(request.at);
        apply(
            Factor::TimeOfUse {
                period: Arc::clone(&period.name),
            },
            period.multiplier,
        )?;
    }
    if let Some(inventory) = &rules.inventory {
        let ratio = request.inventory_ratio.ok_or(QuoteError::MissingInventoryRatio)?;
        if ratio < Decimal::ZERO {
            return Err(QuoteError::NegativeInventoryRatio { ratio });
        }
        apply(Factor::Inventory { ratio }, inventory.multiplier_at(ratio))?;
    }

    let rounded = price.round_dp_with_strategy(2, rules.rounding.strategy());
    let rounding = rounded
        .checked_sub(price)
        .ok_or_else(|| overflow(PricingStep::Rounding))?;
    let limits = rules.band.limits(request.customer)?;
    let (final_price, bound) = match (limits.floor, limits.cap) {
        (_, Some(cap)) if rounded > cap => (cap, Some(Bound::Cap)),
        (Some(floor), _) if rounded < floor => (floor, Some(Bound::Floor)),
        _ => (rounded, None),
    };
    let band = BandLine {
        cap: limits.cap,
        floor: limits.floor,
        bound,
        effect: final_price
            .checked_sub(rounded)
            .ok_or_else(|| overflow(PricingStep::Band))?,
    };
    Ok(Quote {
        revision: setup.revision_arc(),
        at: request.at,
        customer: request.customer,
        sources,
        blended,
        factors,
        rounding,
        band,
        // Every source price is non-negative and every multiplier positive;
        // a floor, if any, is positive too.
        price: UnitPrice::new(final_price).map_err(|_| overflow(PricingStep::FinalPrice))?,
    })
}

/// The weighted average of the source prices, carried at [`CARRY_SCALE`] and
/// kept between the cheapest and dearest source.
fn blend(sources: &[SourceLine]) -> Result<Decimal, QuoteError> {
    let total_weight = sources
        .iter()
        .try_fold(Decimal::ZERO, |sum, s| sum.checked_add(s.weight))
        .ok_or_else(|| overflow(PricingStep::TotalWeight))?;
    if total_weight.is_zero() {
        return Err(QuoteError::NoSupply);
    }
    let weighted = sources
        .iter()
        .try_fold(Decimal::ZERO, |sum, s| {
            s.price.checked_mul(s.weight).and_then(|p| sum.checked_add(p))
        })
        .ok_or_else(|| overflow(PricingStep::WeightedPrice))?;
    let average = carry(
        weighted
            .checked_div(total_weight)
            .ok_or_else(|| overflow(PricingStep::Blend))?,
    );
    // Exactly in range in exact arithmetic; this only absorbs Decimal's own
    // rounding of very long products.
    let priced = sources.iter().filter(|s| !s.weight.is_zero()).map(|s| s.price);
    let (low, high) = priced.fold((None, None), |(lo, hi): (Option<Decimal>, Option<Decimal>), p| {
        (Some(lo.map_or(p, |l| l.min(p))), Some(hi.map_or(p, |h| h.max(p))))
    });
    Ok(match (low, high) {
        (Some(low), Some(high)) => average.clamp(low, high),
        _ => average,
    })
}
