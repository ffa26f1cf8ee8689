//! Published residential tariffs, ready to bill with.
//!
//! Source: the published notices summarised in the project's reference data.
//! Only what those notices state is encoded; where a notice leaves a value out
//! (Chongqing's thresholds and off-season prices) the constructor asks for it.

use std::num::NonZeroU32;

use crate::date::Date;
use crate::error::ScheduleError;
use crate::quantity::{UnitPrice, Volume};
use crate::tariff::cycle::BillingCycle;
use crate::tariff::schedule::{ScheduleEntry, TariffSchedule};
use crate::tariff::seasonal::{Season, SeasonalTariff};
use crate::tariff::tiered::{LargeHouseholdAllowance, Tier, TieredTariff};

const fn price(fen: u64) -> UnitPrice {
    UnitPrice::from_fen_per_m3(fen)
}

const fn m3(volume: u64) -> Volume {
    Volume::from_whole_m3(volume)
}

/// Beijing ordinary household use: 0-350 m3 at 2.61, 350-500 at 2.83, above
/// 500 at 4.23 CNY/m3; households of 6 or more get +150 m3 on each threshold.
#[must_use]
pub fn beijing_residential() -> TieredTariff {
    three_tiers([350, 500], [261, 283, 423], (6, 150))
}

/// Beijing ordinary household use after the rise of 2018-07-10: every tier
/// 0.35 CNY/m3 dearer (2.96, 3.18, 4.58), same thresholds and allowance.
#[must_use]
pub fn beijing_residential_from_2018_07_10() -> TieredTariff {
    three_tiers([350, 500], [296, 318, 458], (6, 150))
}

/// Beijing's 2018 billing year, calendar-year cycle: the old prices from
/// 2018-01-01 (the reference data does not say since when they applied) and the
/// new ones from 2018-07-10. Thresholds stay cumulative across the change.
#[must_use]
pub fn beijing_residential_2018() -> TariffSchedule {
    TariffSchedule::from_valid_parts(
        BillingCycle::default(),
        vec![
            entry((2018, 1, 1), beijing_residential()),
            entry((2018, 7, 10), beijing_residential_from_2018_07_10()),
        ],
    )
}

/// Shanghai residential use from 2014-09-01: 0-310 m3 at 3.00, 310-520 at
/// 3.30, above 520 at 4.20 CNY/m3; households of 5 or more get +150 m3 on each
/// threshold.
#[must_use]
pub fn shanghai_residential() -> TieredTariff {
    three_tiers([310, 520], [300, 330, 420], (5, 150))
}

/// [`shanghai_residential`] as a schedule effective from 2014-09-01, on a
/// calendar-year cycle.
#[must_use]
pub fn shanghai_residential_from_2014_09_01() -> TariffSchedule {
    TariffSchedule::from_valid_parts(
        BillingCycle::default(),
        vec![entry((2014, 9, 1), shanghai_residential())],
    )
}

/// Shanghai schools and care homes: a flat 3.05 CNY/m3.
#[must_use]
pub fn shanghai_schools_and_care_homes() -> TieredTariff {
    TieredTariff::flat(price(305))
}

/// Chongqing's peak-season (November to March) tier prices: 2.13, 2.30, 2.65 CNY/m3.
#[must_use]
pub fn chongqing_peak_season_prices() -> [UnitPrice; 3] {
    [price(213), price(230), price(265)]
}

/// Chongqing's seasonal tariff: [`chongqing_peak_season_prices`] from November
/// to March, `off_season_prices` from April to October, both with the tier
/// `thresholds` (cumulative over the year). The reference data gives neither
/// the thresholds nor the off-season prices, so the caller supplies them.
/// Low-income households pay the tier-1 price throughout: bill them with
/// [`Household::billed_at_tier_one`](crate::Household::billed_at_tier_one).
///
/// # Errors
///
/// [`ScheduleError::InvalidSeasonTariff`] if the thresholds do not increase.
pub fn chongqing_residential(
    thresholds: [Volume; 2],
    off_season_prices: [UnitPrice; 3],
) -> Result<SeasonalTariff, ScheduleError> {
    let [low, high] = thresholds;
    let season = |index: usize, name: &str, months: Vec<u8>, [p1, p2, p3]: [UnitPrice; 3]| {
        let tariff = TieredTariff::new(vec![Tier::up_to(low, p1), Tier::up_to(high, p2), Tier::above(p3)])
            .map_err(|source| ScheduleError::InvalidSeasonTariff { season: index, source })?;
        Ok::<Season, ScheduleError>(Season {
            name: name.to_owned(),
            months,
            tariff,
        })
    };
    SeasonalTariff::new(vec![
        season(0, "peak", vec![11, 12, 1, 2, 3], chongqing_peak_season_prices())?,
        season(1, "off-season", (4..=10).collect(), off_season_prices)?,
    ])
}

fn three_tiers([t1, t2]: [u64; 2], [p1, p2, p3]: [u64; 3], (members, extra): (u32, u64)) -> TieredTariff {
    TieredTariff::from_valid_parts(
        vec![
            Tier::up_to(m3(t1), price(p1)),
            Tier::up_to(m3(t2), price(p2)),
            Tier::above(price(p3)),
        ],
        NonZeroU32::new(members).map(|min_members| LargeHouseholdAllowance {
            min_members,
            extra: m3(extra),
        }),
    )
}

fn entry((year, month, day): (i32, u8, u8), tariff: TieredTariff) -> ScheduleEntry {
    ScheduleEntry {
        effective_from: Date::from_valid_ymd(year, month, day),
        tariff: tariff.into(),
    }
}
