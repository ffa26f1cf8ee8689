//! A tiered (block) tariff: each slice of the year's cumulative volume has its price.

use std::num::NonZeroU32;

use serde::{Deserialize, Serialize};

use crate::error::{Step, TariffError, TierProblem};
use crate::fee::line_amount;
use crate::quantity::{Money, UnitPrice, Volume};
use crate::rounding::RoundingMode;
use crate::tariff::bill::{Bill, BillLine};
use crate::tariff::household::Household;

/// One tier: its price applies to cumulative volume up to `up_to` (m3), above
/// the previous tier's threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// Cumulative annual threshold where this tier ends; `None` for the last,
    /// open-ended tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up_to: Option<Volume>,
    /// Price of each m3 in this tier.
    pub price: UnitPrice,
}

impl Tier {
    /// A tier ending at cumulative volume `up_to`.
    #[must_use]
    pub const fn up_to(up_to: Volume, price: UnitPrice) -> Tier {
        Tier {
            up_to: Some(up_to),
            price,
        }
    }

    /// The open-ended last tier.
    #[must_use]
    pub const fn above(price: UnitPrice) -> Tier {
        Tier { up_to: None, price }
    }
}

/// Extra volume added to every tier threshold for households of at least
/// `min_members` people (Beijing: +150 m3 from 6 people; Shanghai: from 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LargeHouseholdAllowance {
    /// Smallest household that gets the allowance.
    pub min_members: NonZeroU32,
    /// Volume added to each threshold.
    pub extra: Volume,
}

/// A tiered tariff with cumulative thresholds over the billing cycle.
///
/// Tier `i` covers cumulative volume in `(threshold[i-1], threshold[i]]`; the
/// last tier is open-ended.
///
/// # Rounding
///
/// Each [`BillLine`] amount is its volume times its price, computed exactly and
/// rounded once to the fen with the tariff's [`RoundingMode`]. The bill total
/// is the exact sum of the line amounts, so the total always equals what the
/// printed lines add up to. (Rounding the exact total instead could differ
/// from the lines' sum by up to half a fen per line.)
///
/// # Examples
///
/// ```
/// use gasbao_core::{published, Money, Volume};
/// use gasbao_core::Decimal;
///
/// // 100 m3 after 300 m3 already used this year: 50 m3 at 2.61 and 50 m3 at 2.83.
/// let beijing = published::beijing_residential();
/// let bill = beijing.bill(Volume::new(Decimal::from(300))?, Volume::new(Decimal::from(100))?)?;
/// assert_eq!(bill.lines().len(), 2);
/// assert_eq!(bill.total(), Money::from_fen(130_50 + 141_50));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "TieredTariffSpec", into = "TieredTariffSpec")]
pub struct TieredTariff {
    tiers: Vec<Tier>,
    large_household: Option<LargeHouseholdAllowance>,
    rounding: RoundingMode,
}

impl TieredTariff {
    /// A tariff with these tiers, rounding half-up, without household allowance.
    ///
    /// # Errors
    ///
    /// [`TariffError::NoTiers`] for an empty list; [`TariffError::InvalidTier`]
    /// if thresholds do not strictly increase, a tier other than the last is
    /// open-ended, or the last is bounded.
    pub fn new(tiers: Vec<Tier>) -> Result<TieredTariff, TariffError> {
        validate_tiers(&tiers)?;
        Ok(TieredTariff {
            tiers,
            large_household: None,
            rounding: RoundingMode::default(),
        })
    }

    /// A tariff from literals known to be valid (published tariffs); rounds half-up.
    pub(crate) fn from_valid_parts(tiers: Vec<Tier>, large_household: Option<LargeHouseholdAllowance>) -> TieredTariff {
        debug_assert!(validate_tiers(&tiers).is_ok());
        TieredTariff {
            tiers,
            large_household,
            rounding: RoundingMode::default(),
        }
    }

    /// A single-tier tariff: every m3 at `price`.
    #[must_use]
    pub fn flat(price: UnitPrice) -> TieredTariff {
        TieredTariff {
            tiers: vec![Tier::above(price)],
            large_household: None,
            rounding: RoundingMode::default(),
        }
    }

    /// The same tariff with a large-household allowance.
    #[must_use]
    pub fn with_large_household_allowance(mut self, allowance: LargeHouseholdAllowance) -> TieredTariff {
        self.large_household = Some(allowance);
        self
    }

    /// The same tariff, rounding line amounts with `mode`.
    #[must_use]
    pub fn with_rounding(mut self, mode: RoundingMode) -> TieredTariff {
        self.rounding = mode;
        self
    }

    /// The tiers, lowest first.
    #[must_use]
    pub fn tiers(&self) -> &[Tier] {
        &self.tiers
    }

    /// The large-household allowance, if any.
    #[must_use]
    pub fn large_household_allowance(&self) -> Option<LargeHouseholdAllowance> {
        self.large_household
    }

    /// How line amounts are rounded to the fen.
    #[must_use]
    pub fn rounding(&self) -> RoundingMode {
        self.rounding
    }

    /// The tariff that applies to `household`: thresholds raised by the
    /// large-household allowance when the household is large enough, or only
    /// the tier-1 price when the household is billed at tier 1 throughout.
    ///
    /// The result has no allowance of its own, so it is never applied twice.
    ///
    /// # Errors
    ///
    /// [`TariffError::Overflow`] with [`Step::TierThreshold`] if a raised
    /// threshold does not fit.
    pub fn for_household(&self, household: &Household) -> Result<TieredTariff, TariffError> {
        if household.tier_one_only() {
            let first = self.tiers.first().ok_or(TariffError::NoTiers)?;
            return Ok(TieredTariff::flat(first.price).with_rounding(self.rounding));
        }
        let mut adjusted = TieredTariff {
            large_household: None,
            ..self.clone()
        };
        if let Some(allowance) = self
            .large_household
            .filter(|a| household.members() >= a.min_members.get())
        {
            for tier in &mut adjusted.tiers {
                if let Some(up_to) = tier.up_to.as_mut() {
                    *up_to = up_to.checked_add(allowance.extra).ok_or(TariffError::Overflow {
                        step: Step::TierThreshold,
                    })?;
                }
            }
        }
        Ok(adjusted)
    }

    /// Bills `consumption` m3 used after `prior_cumulative` m3 already billed in
    /// the same billing cycle.
    ///
    /// The bill has one line per tier the consumption touches, lowest first;
    /// line volumes sum exactly to `consumption`. Zero consumption gives a bill
    /// with no lines and a zero total.
    ///
    /// # Errors
    ///
    /// [`TariffError::Overflow`] naming the step, for volumes or amounts too
    /// large for a `Decimal`.
    pub fn bill(&self, prior_cumulative: Volume, consumption: Volume) -> Result<Bill, TariffError> {
        let end = prior_cumulative.checked_add(consumption).ok_or(TariffError::Overflow {
            step: Step::CumulativeVolume,
        })?;
        let mut lines = Vec::new();
        let mut total = Money::ZERO;
        // Summed as we go so that a bill that exists always sums exactly.
        let mut billed = Volume::ZERO;
        let mut lower = Volume::ZERO;
        for (index, tier) in self.tiers.iter().enumerate() {
            let upper = tier.up_to.map_or(end, |up_to| up_to.min(end));
            let from = prior_cumulative.max(lower);
            if upper > from {
                let volume = upper
                    .checked_sub(from)
                    .ok_or(TariffError::Overflow { step: Step::LineVolume })?;
                billed = billed
                    .checked_add(volume)
                    .ok_or(TariffError::Overflow { step: Step::LineVolume })?;
                let amount = line_amount(tier.price, volume, self.rounding)?;
                total = total
                    .checked_add(amount)
                    .ok_or(TariffError::Overflow { step: Step::BillTotal })?;
                lines.push(BillLine {
                    tier: index.saturating_add(1),
                    volume,
                    price: tier.price,
                    amount,
                });
            }
            match tier.up_to {
                Some(up_to) if up_to < end => lower = up_to,
                _ => break,
            }
        }
        Ok(Bill::from_parts(lines, total, consumption))
    }
}

fn validate_tiers(tiers: &[Tier]) -> Result<(), TariffError> {
    let last = tiers.len().checked_sub(1).ok_or(TariffError::NoTiers)?;
    let mut previous = Volume::ZERO;
    for (index, tier) in tiers.iter().enumerate() {
        let invalid = |problem| TariffError::InvalidTier {
            tier: index.saturating_add(1),
            problem,
        };
        match (tier.up_to, index == last) {
            (None, true) => {}
            (None, false) => return Err(invalid(TierProblem::OpenEndedBeforeLast)),
            (Some(threshold), true) => return Err(invalid(TierProblem::LastTierBounded { threshold })),
            (Some(threshold), false) => {
                if threshold <= previous {
                    return Err(invalid(TierProblem::NotIncreasing { threshold, previous }));
                }
                previous = threshold;
            }
        }
    }
    Ok(())
}

/// The serialized form of a [`TieredTariff`], validated into one on the way in.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TieredTariffSpec {
    tiers: Vec<Tier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    large_household: Option<LargeHouseholdAllowance>,
    #[serde(default)]
    rounding: RoundingMode,
}

impl TryFrom<TieredTariffSpec> for TieredTariff {
    type Error = TariffError;

    fn try_from(spec: TieredTariffSpec) -> Result<TieredTariff, TariffError> {
        Ok(TieredTariff {
            large_household: spec.large_household,
            ..TieredTariff::new(spec.tiers)?.with_rounding(spec.rounding)
        })
    }
}

impl From<TieredTariff> for TieredTariffSpec {
    fn from(t: TieredTariff) -> TieredTariffSpec {
        TieredTariffSpec {
            tiers: t.tiers,
            large_household: t.large_household,
            rounding: t.rounding,
        }
    }
}
