//! Time of day, and time-of-use periods (peak, flat, valley) with their multipliers.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::{ConfigError, TimeError};

const SECONDS_PER_DAY: u32 = 86_400;

/// A local time of day, to the second. Serialized as `"HH:MM"` or `"HH:MM:SS"`.
///
/// # Examples
///
/// ```
/// use gasbao_pricing::LocalTime;
///
/// let t: LocalTime = "07:30".parse()?;
/// assert_eq!(t, LocalTime::from_hms(7, 30, 0).unwrap());
/// assert_eq!(t.to_string(), "07:30:00");
/// # Ok::<(), gasbao_pricing::TimeError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LocalTime {
    /// Seconds since midnight, below 86 400.
    seconds: u32,
}

impl LocalTime {
    /// Midnight.
    pub const MIDNIGHT: LocalTime = LocalTime { seconds: 0 };

    /// `hour:minute:second`, or `None` unless `hour < 24`, `minute < 60`, `second < 60`.
    #[must_use]
    pub fn from_hms(hour: u32, minute: u32, second: u32) -> Option<LocalTime> {
        if hour >= 24 || minute >= 60 || second >= 60 {
            return None;
        }
        let seconds = hour
            .checked_mul(3600)?
            .checked_add(minute.checked_mul(60)?)?
            .checked_add(second)?;
        Some(LocalTime { seconds })
    }

    /// Seconds since midnight (0 to 86 399).
    #[must_use]
    pub const fn seconds_since_midnight(self) -> u32 {
        self.seconds
    }

    /// Seconds from `self` forward to `later`, wrapping past midnight; zero
    /// when they are equal.
    fn seconds_until(self, later: LocalTime) -> u32 {
        // Both are below one day, so neither operation can saturate.
        if later.seconds >= self.seconds {
            later.seconds.saturating_sub(self.seconds)
        } else {
            SECONDS_PER_DAY.saturating_sub(self.seconds.saturating_sub(later.seconds))
        }
    }
}

impl fmt::Display for LocalTime {
    /// `HH:MM:SS`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.seconds;
        write!(f, "{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    }
}

impl FromStr for LocalTime {
    type Err = TimeError;

    fn from_str(text: &str) -> Result<LocalTime, TimeError> {
        let error = || TimeError {
            text: text.chars().take(32).collect(),
        };
        let mut parts = text.split(':');
        let mut field = |required: bool| -> Result<u32, TimeError> {
            match parts.next() {
                Some(p) if p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().map_err(|_| error()),
                None if !required => Ok(0),
                _ => Err(error()),
            }
        };
        let (hour, minute, second) = (field(true)?, field(true)?, field(false)?);
        if parts.next().is_some() {
            return Err(error());
        }
        LocalTime::from_hms(hour, minute, second).ok_or_else(error)
    }
}

impl TryFrom<String> for LocalTime {
    type Error = TimeError;

    fn try_from(text: String) -> Result<LocalTime, TimeError> {
        text.parse()
    }
}

impl From<LocalTime> for String {
    fn from(t: LocalTime) -> String {
        t.to_string()
    }
}

/// One time-of-use period: `[from, to)` in local time, wrapping past midnight
/// when `to` is not after `from` (valley 23:00-07:00). A period whose `to`
/// equals its `from` covers the whole day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeOfUsePeriod {
    /// Name shown in quotes, e.g. `"peak"`.
    pub name: Arc<str>,
    /// First second of the period.
    pub from: LocalTime,
    /// First second after the period.
    pub to: LocalTime,
    /// Price multiplier during the period.
    pub multiplier: Decimal,
}

/// Time-of-use periods covering the whole day exactly once.
///
/// # Examples
///
/// ```
/// use gasbao_pricing::{LocalTime, TimeOfUse, TimeOfUsePeriod};
/// use gasbao_core::Decimal;
///
/// let period = |name: &str, from: &str, to: &str, m: i64| TimeOfUsePeriod {
///     name: name.into(), from: from.parse().unwrap(), to: to.parse().unwrap(), multiplier: Decimal::new(m, 2),
/// };
/// let tou = TimeOfUse::new(vec![period("peak", "07:00", "23:00", 110), period("valley", "23:00", "07:00", 90)])?;
/// assert_eq!(&*tou.period_at("02:00".parse()?).name, "valley");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<TimeOfUsePeriod>", into = "Vec<TimeOfUsePeriod>")]
pub struct TimeOfUse {
    /// Sorted by `from`.
    periods: Vec<TimeOfUsePeriod>,
}

impl TimeOfUse {
    /// Periods that must cover the day without gap or overlap, in any order.
    ///
    /// # Errors
    ///
    /// [`ConfigError::TimeOfUseGap`] or [`ConfigError::TimeOfUseOverlap`] naming
    /// where; [`ConfigError::NonPositiveMultiplier`] for a multiplier not above zero.
    pub fn new(mut periods: Vec<TimeOfUsePeriod>) -> Result<TimeOfUse, ConfigError> {
        periods.sort_by_key(|p| p.from);
        if periods.is_empty() {
            return Err(ConfigError::TimeOfUseGap {
                at: LocalTime::MIDNIGHT,
            });
        }
        for period in &periods {
            if period.multiplier <= Decimal::ZERO {
                return Err(ConfigError::NonPositiveMultiplier {
                    field: format!("time_of_use.{}", period.name),
                    multiplier: period.multiplier,
                });
            }
        }
        for (index, period) in periods.iter().enumerate() {
            // The period after the last is the first: the day wraps.
            let Some(next) = periods.get(index.saturating_add(1)).or(periods.first()) else {
                break;
            };
            let length = match period.from.seconds_until(period.to) {
                0 => SECONDS_PER_DAY,
                n => n,
            };
            let until_next = match period.from.seconds_until(next.from) {
                0 => SECONDS_PER_DAY,
                n => n,
            };
            if length < until_next {
                return Err(ConfigError::TimeOfUseGap { at: period.to });
            }
            if length > until_next {
                return Err(ConfigError::TimeOfUseOverlap {
                    first: period.name.to_string(),
                    second: next.name.to_string(),
                    at: next.from,
                });
            }
        }
        Ok(TimeOfUse { periods })
    }

    /// The periods, sorted by start.
    #[must_use]
    pub fn periods(&self) -> &[TimeOfUsePeriod] {
        &self.periods
    }

    /// The period in force at `at`.
    #[must_use]
    pub fn period_at(&self, at: LocalTime) -> &TimeOfUsePeriod {
        // The last period starting at or before `at`; before the first start,
        // the last period (which wraps past midnight).
        let index = self.periods.partition_point(|p| p.from <= at);
        let starting_before = index.checked_sub(1).and_then(|i| self.periods.get(i));
        // `new` refuses an empty list, so `last` always exists and the
        // closure never runs.
        starting_before
            .or(self.periods.last())
            .unwrap_or_else(|| &self.periods[0])
    }
}

impl TryFrom<Vec<TimeOfUsePeriod>> for TimeOfUse {
    type Error = ConfigError;

    fn try_from(periods: Vec<TimeOfUsePeriod>) -> Result<TimeOfUse, ConfigError> {
        TimeOfUse::new(periods)
    }
}

impl From<TimeOfUse> for Vec<TimeOfUsePeriod> {
    fn from(t: TimeOfUse) -> Vec<TimeOfUsePeriod> {
        t.periods
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn period(name: &str, from: &str, to: &str) -> TimeOfUsePeriod {
        TimeOfUsePeriod {
            name: name.into(),
            from: from.parse().unwrap(),
            to: to.parse().unwrap(),
            multiplier: Decimal::ONE,
        }
    }

    #[test]
    fn every_second_of_the_day_has_exactly_the_expected_period() {
        let tou = TimeOfUse::new(vec![
            period("valley", "23:00", "07:00"),
            period("peak", "07:00", "11:00"),
            period("flat", "11:00", "23:00"),
        ])
        .unwrap();
        for (at, name) in [
            ("00:00", "valley"),
            ("06:59:59", "valley"),
            ("07:00", "peak"),
            ("10:59:59", "peak"),
            ("11:00", "flat"),
            ("22:59:59", "flat"),
            ("23:00", "valley"),
        ] {
            assert_eq!(&*tou.period_at(at.parse().unwrap()).name, name, "{at}");
        }
    }

    #[test]
    fn gaps_and_overlaps_are_named() {
        assert_eq!(
            TimeOfUse::new(vec![period("a", "00:00", "12:00"), period("b", "13:00", "00:00")]),
            Err(ConfigError::TimeOfUseGap {
                at: "12:00".parse().unwrap()
            })
        );
        assert_eq!(
            TimeOfUse::new(vec![period("a", "00:00", "13:00"), period("b", "12:00", "00:00")]),
            Err(ConfigError::TimeOfUseOverlap {
                first: "a".into(),
                second: "b".into(),
                at: "12:00".parse().unwrap()
            })
        );
        assert!(TimeOfUse::new(vec![period("all day", "06:00", "06:00")]).is_ok());
        assert_eq!(
            TimeOfUse::new(vec![]),
            Err(ConfigError::TimeOfUseGap {
                at: LocalTime::MIDNIGHT
            }),
            "no period leaves the whole day uncovered"
        );
    }

    #[test]
    fn times_parse_strictly() {
        assert_eq!(
            "23:59:59".parse::<LocalTime>().unwrap().seconds_since_midnight(),
            86_399
        );
        for bad in ["24:00", "7:00", "07:60", "07:00:00:00", "", "ab:cd"] {
            assert!(bad.parse::<LocalTime>().is_err(), "{bad}");
        }
    }
}
