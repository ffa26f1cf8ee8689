//! A calendar date, enough for billing: validated, ordered, day-counted.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::DateError;

/// A day in the proleptic Gregorian calendar, years 1 to 9999.
///
/// Serialized as `"YYYY-MM-DD"`. Meter readings dated `d` are taken at the
/// start of day `d`, so the days between two readings are `later - earlier`.
///
/// # Examples
///
/// ```
/// use gasbao_core::Date;
///
/// let change: Date = "2018-07-10".parse()?;
/// let start = Date::new(2018, 1, 1)?;
/// assert_eq!(start.days_until(change), 190);
/// # Ok::<(), gasbao_core::DateError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Date {
    // Field order gives the derived ordering: year, then month, then day.
    year: u16,
    month: u8,
    day: u8,
}

impl Date {
    /// The date `year-month-day`.
    ///
    /// # Errors
    ///
    /// [`DateError`] naming the field that is out of range.
    pub fn new(year: i32, month: u8, day: u8) -> Result<Date, DateError> {
        let year16 = u16::try_from(year)
            .ok()
            .filter(|y| (1..=9999).contains(y))
            .ok_or(DateError::YearOutOfRange { year })?;
        if !(1..=12).contains(&month) {
            return Err(DateError::MonthOutOfRange { month });
        }
        if day == 0 || day > days_in_month(year16, month) {
            return Err(DateError::DayOutOfRange { year, month, day });
        }
        Ok(Date {
            year: year16,
            month,
            day,
        })
    }

    /// A date from literals known to be valid (published tariffs).
    pub(crate) const fn from_valid_ymd(year: i32, month: u8, day: u8) -> Date {
        debug_assert!(year >= 1 && year <= 9999 && month >= 1 && month <= 12 && day >= 1 && day <= 31);
        Date {
            year: year as u16,
            month,
            day,
        }
    }

    /// The year (1-9999).
    #[must_use]
    pub const fn year(self) -> i32 {
        self.year as i32
    }

    /// The month (1-12).
    #[must_use]
    pub const fn month(self) -> u8 {
        self.month
    }

    /// The day of the month (1-31).
    #[must_use]
    pub const fn day(self) -> u8 {
        self.day
    }

    /// Days from `self` to `later`; negative if `later` is earlier.
    #[must_use]
    pub fn days_until(self, later: Date) -> i32 {
        // Day numbers lie in 0..3_652_059, so the difference cannot saturate.
        later.day_number().saturating_sub(self.day_number())
    }

    /// The first day of the following month, or `None` after December 9999.
    #[must_use]
    pub fn first_of_next_month(self) -> Option<Date> {
        let (year, month) = if self.month == 12 {
            (self.year().checked_add(1)?, 1)
        } else {
            (self.year(), self.month.checked_add(1)?)
        };
        Date::new(year, month, 1).ok()
    }

    /// Days since 0001-01-01.
    fn day_number(self) -> i32 {
        // All terms are bounded (year <= 9999), so saturating ops never saturate.
        let y = i32::from(self.year).saturating_sub(1);
        let days_before_year = y
            .saturating_mul(365)
            .saturating_add(y / 4)
            .saturating_sub(y / 100)
            .saturating_add(y / 400);
        let leap_day = i32::from(self.month > 2 && is_leap_year(self.year));
        days_before_year
            .saturating_add(days_before_month(self.month))
            .saturating_add(leap_day)
            .saturating_add(i32::from(self.day))
            .saturating_sub(1)
    }
}

/// Whether `year` has a 29 February.
#[must_use]
pub(crate) const fn is_leap_year(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

const fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn days_before_month(month: u8) -> i32 {
    const CUMULATIVE: [i32; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    CUMULATIVE
        .get(usize::from(month.saturating_sub(1)))
        .copied()
        .unwrap_or(0)
}

impl fmt::Display for Date {
    /// `YYYY-MM-DD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl FromStr for Date {
    type Err = DateError;

    fn from_str(text: &str) -> Result<Date, DateError> {
        let syntax = || DateError::Syntax {
            text: text.chars().take(32).collect(),
        };
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
            return Err(syntax());
        }
        let number = |range: std::ops::Range<usize>| -> Result<u16, DateError> {
            let digits = text.get(range).ok_or_else(syntax)?;
            if !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(syntax());
            }
            digits.parse().map_err(|_| syntax())
        };
        let year = number(0..4)?;
        let month = u8::try_from(number(5..7)?).map_err(|_| syntax())?;
        let day = u8::try_from(number(8..10)?).map_err(|_| syntax())?;
        Date::new(i32::from(year), month, day)
    }
}

impl TryFrom<String> for Date {
    type Error = DateError;

    fn try_from(text: String) -> Result<Date, DateError> {
        text.parse()
    }
}

impl From<Date> for String {
    fn from(date: Date) -> String {
        date.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers_match_known_distances() {
        // Independently known: 1970-01-01 is day 719_162 after 0001-01-01
        // (the proleptic Gregorian ordinal of 1970-01-01 is 719_163).
        assert_eq!(Date::new(1970, 1, 1).unwrap().day_number(), 719_162);
        // 2000 is a leap year, 1900 is not.
        let d = |y, m, dd| Date::new(y, m, dd).unwrap();
        assert_eq!(d(2000, 2, 28).days_until(d(2000, 3, 1)), 2);
        assert_eq!(d(1900, 2, 28).days_until(d(1900, 3, 1)), 1);
        assert_eq!(d(2018, 1, 1).days_until(d(2019, 1, 1)), 365);
        assert_eq!(d(2020, 1, 1).days_until(d(2021, 1, 1)), 366);
    }

    #[test]
    fn consecutive_days_differ_by_one() {
        let mut date = Date::new(1999, 1, 1).unwrap();
        for _ in 0..(12 * 3) {
            let next = date.first_of_next_month().unwrap();
            assert_eq!(date.days_until(next), i32::from(days_in_month(date.year, date.month)));
            date = next;
        }
    }
}
