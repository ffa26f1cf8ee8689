//! Tariffs that change with the month (peak and off-season prices).

use serde::{Deserialize, Serialize};

use crate::date::Date;
use crate::error::ScheduleError;
use crate::tariff::tiered::TieredTariff;

/// A named set of months sharing one tiered tariff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Season {
    /// Name printed on bills, e.g. `"peak"`.
    pub name: String,
    /// Months (1-12) in this season; all twelve when empty.
    #[serde(default)]
    pub months: Vec<u8>,
    /// The tariff in force during these months.
    pub tariff: TieredTariff,
}

/// A tariff whose prices depend on the month: every month belongs to exactly
/// one [`Season`]. Tier thresholds stay cumulative over the billing cycle
/// across seasons. A plain [`TieredTariff`] converts into a one-season tariff.
///
/// # Examples
///
/// ```
/// use gasbao_core::{Date, Season, SeasonalTariff, TieredTariff, UnitPrice};
/// use gasbao_core::Decimal;
///
/// let price = |fen| UnitPrice::new(Decimal::new(fen, 2));
/// let seasonal = SeasonalTariff::new(vec![
///     Season { name: "peak".into(), months: vec![11, 12, 1, 2, 3], tariff: TieredTariff::flat(price(213)?) },
///     Season { name: "off-season".into(), months: vec![4, 5, 6, 7, 8, 9, 10], tariff: TieredTariff::flat(price(200)?) },
/// ])?;
/// assert_eq!(seasonal.season_on(Date::new(2024, 12, 1)?).name, "peak");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Season>", into = "Vec<Season>")]
pub struct SeasonalTariff {
    seasons: Vec<Season>,
    /// Index into `seasons` for each month, January first.
    by_month: [usize; 12],
}

impl SeasonalTariff {
    /// A tariff with these seasons.
    ///
    /// # Errors
    ///
    /// [`ScheduleError::InvalidMonth`], [`ScheduleError::MonthInTwoSeasons`] or
    /// [`ScheduleError::MonthWithoutSeason`] unless every month belongs to
    /// exactly one season. A season with no months covers the whole year.
    pub fn new(seasons: Vec<Season>) -> Result<SeasonalTariff, ScheduleError> {
        let mut by_month: [Option<usize>; 12] = [None; 12];
        for (index, season) in seasons.iter().enumerate() {
            let months: Vec<u8> = if season.months.is_empty() {
                (1..=12).collect()
            } else {
                season.months.clone()
            };
            for month in months {
                let slot = month
                    .checked_sub(1)
                    .and_then(|m| by_month.get_mut(usize::from(m)))
                    .ok_or(ScheduleError::InvalidMonth { month })?;
                if slot.replace(index).is_some() {
                    return Err(ScheduleError::MonthInTwoSeasons { month });
                }
            }
        }
        let mut resolved = [0usize; 12];
        for ((slot, season), month) in resolved.iter_mut().zip(by_month).zip(1u8..) {
            *slot = season.ok_or(ScheduleError::MonthWithoutSeason { month })?;
        }
        Ok(SeasonalTariff {
            seasons,
            by_month: resolved,
        })
    }

    /// The seasons, in the order given.
    #[must_use]
    pub fn seasons(&self) -> &[Season] {
        &self.seasons
    }

    /// The season in force on `date`.
    #[must_use]
    pub fn season_on(&self, date: Date) -> &Season {
        let index = self.season_index(date);
        // Construction checked that every month maps to an existing season.
        &self.seasons[index]
    }

    /// Index of the season in force on `date`.
    pub(crate) fn season_index(&self, date: Date) -> usize {
        // A Date's month is always 1-12.
        self.by_month[usize::from(date.month().saturating_sub(1))]
    }
}

impl From<TieredTariff> for SeasonalTariff {
    fn from(tariff: TieredTariff) -> SeasonalTariff {
        SeasonalTariff {
            seasons: vec![Season {
                name: "all year".to_owned(),
                months: Vec::new(),
                tariff,
            }],
            by_month: [0; 12],
        }
    }
}

impl TryFrom<Vec<Season>> for SeasonalTariff {
    type Error = ScheduleError;

    fn try_from(seasons: Vec<Season>) -> Result<SeasonalTariff, ScheduleError> {
        SeasonalTariff::new(seasons)
    }
}

impl From<SeasonalTariff> for Vec<Season> {
    fn from(t: SeasonalTariff) -> Vec<Season> {
        t.seasons
    }
}
