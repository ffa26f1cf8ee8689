//! The billing cycle: when cumulative tier volume starts again from zero.

use serde::{Deserialize, Serialize};

use crate::date::Date;
use crate::error::ScheduleError;

/// The yearly billing cycle: cumulative volume for the tiers restarts at zero
/// every year on `start_month`/`start_day` (1 January by default).
///
/// # Examples
///
/// ```
/// use gasbao_core::{BillingCycle, Date};
///
/// let heating_year = BillingCycle::starting(10, 1)?;
/// assert_eq!(heating_year.start_on_or_before(Date::new(2025, 3, 15)?), Date::new(2024, 10, 1)?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "CycleSpec", into = "CycleSpec")]
pub struct BillingCycle {
    start_month: u8,
    start_day: u8,
}

impl Default for BillingCycle {
    fn default() -> BillingCycle {
        BillingCycle {
            start_month: 1,
            start_day: 1,
        }
    }
}

impl BillingCycle {
    /// A cycle starting every year on `month`/`day`.
    ///
    /// # Errors
    ///
    /// [`ScheduleError::InvalidCycleStart`] unless the day exists in every year
    /// (29 February does not).
    pub fn starting(month: u8, day: u8) -> Result<BillingCycle, ScheduleError> {
        // 2001 is not a leap year, so a day valid in it exists every year.
        Date::new(2001, month, day).map_err(|_| ScheduleError::InvalidCycleStart { month, day })?;
        Ok(BillingCycle {
            start_month: month,
            start_day: day,
        })
    }

    /// Month the cycle starts (1-12).
    #[must_use]
    pub const fn start_month(&self) -> u8 {
        self.start_month
    }

    /// Day of month the cycle starts.
    #[must_use]
    pub const fn start_day(&self) -> u8 {
        self.start_day
    }

    /// The start of the cycle that contains `date`.
    #[must_use]
    pub fn start_on_or_before(&self, date: Date) -> Date {
        let this_year = self.start_in(date.year()).unwrap_or(date);
        if this_year <= date {
            return this_year;
        }
        // Before year 1's cycle start, the cycle is cut at the calendar's edge.
        date.year()
            .checked_sub(1)
            .and_then(|year| self.start_in(year))
            .unwrap_or_else(|| Date::new(1, 1, 1).unwrap_or(date))
    }

    /// The first cycle start strictly after `date`, if within the calendar.
    #[must_use]
    pub fn next_start_after(&self, date: Date) -> Option<Date> {
        let this_year = self.start_in(date.year())?;
        if this_year > date {
            return Some(this_year);
        }
        self.start_in(date.year().checked_add(1)?)
    }

    fn start_in(&self, year: i32) -> Option<Date> {
        Date::new(year, self.start_month, self.start_day).ok()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CycleSpec {
    start_month: u8,
    start_day: u8,
}

impl TryFrom<CycleSpec> for BillingCycle {
    type Error = ScheduleError;

    fn try_from(spec: CycleSpec) -> Result<BillingCycle, ScheduleError> {
        BillingCycle::starting(spec.start_month, spec.start_day)
    }
}

impl From<BillingCycle> for CycleSpec {
    fn from(c: BillingCycle) -> CycleSpec {
        CycleSpec {
            start_month: c.start_month,
            start_day: c.start_day,
        }
    }
}
