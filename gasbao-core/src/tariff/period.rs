//! A metering period: dated meter indexes, from which consumption on any day is derived.

use serde::{Deserialize, Serialize};

use crate::date::Date;
use crate::error::{BillingError, Step};
use crate::quantity::Volume;
use crate::rounding::RoundingMode;

/// A meter index (the register's cumulative m3) read at the start of `date`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeterReading {
    /// The day the reading was taken (at the start of the day).
    pub date: Date,
    /// The register value.
    pub index: Volume,
}

impl MeterReading {
    /// A reading of `index` m3 at the start of `date`.
    #[must_use]
    pub const fn new(date: Date, index: Volume) -> MeterReading {
        MeterReading { date, index }
    }
}

/// The consumption between two meter readings, with any readings taken in between.
///
/// Where a period must be split on a day without a reading (a price change, a
/// new billing cycle), the index on that day is interpolated linearly by days
/// between the nearest readings before and after it: every day of a span
/// weighs the same (actual/actual day count). Readings taken in between make
/// the split exact.
///
/// # Examples
///
/// ```
/// use gasbao_core::{Date, MeterPeriod, MeterReading, Volume};
/// use gasbao_core::Decimal;
///
/// let read = |y, m, d, idx| -> Result<MeterReading, Box<dyn std::error::Error>> {
///     Ok(MeterReading::new(Date::new(y, m, d)?, Volume::new(Decimal::from(idx))?))
/// };
/// let period = MeterPeriod::new(read(2018, 7, 1, 1000)?, read(2018, 8, 1, 1093)?)?
///     .with_reading(read(2018, 7, 10, 1030)?)?;
/// assert_eq!(period.consumption(), Volume::new(Decimal::from(93))?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<MeterReading>", into = "Vec<MeterReading>")]
pub struct MeterPeriod {
    /// At least two readings, dates strictly increasing, indexes non-decreasing.
    readings: Vec<MeterReading>,
    /// Last index minus first, checked representable at construction.
    consumption: Volume,
}

impl MeterPeriod {
    /// The period from `start` to `end`.
    ///
    /// # Errors
    ///
    /// [`BillingError::ReadingsOutOfOrder`] unless `end` is after `start`;
    /// [`BillingError::MeterWentBackwards`] if the index went down;
    /// [`BillingError::Overflow`] if the advance cannot be represented exactly.
    pub fn new(start: MeterReading, end: MeterReading) -> Result<MeterPeriod, BillingError> {
        let consumption = advance(&start, &end)?;
        Ok(MeterPeriod {
            readings: vec![start, end],
            consumption,
        })
    }

    /// The same period with a reading taken between its start and end.
    ///
    /// # Errors
    ///
    /// [`BillingError::ReadingOutsidePeriod`] unless `reading` falls strictly
    /// inside the period on a day without a reading;
    /// [`BillingError::MeterWentBackwards`] if it is inconsistent with its neighbours.
    pub fn with_reading(mut self, reading: MeterReading) -> Result<MeterPeriod, BillingError> {
        let outside = BillingError::ReadingOutsidePeriod {
            date: reading.date,
            start: self.start().date,
            end: self.end().date,
        };
        if reading.date <= self.start().date || reading.date >= self.end().date {
            return Err(outside);
        }
        let position = match self.readings.binary_search_by_key(&reading.date, |r| r.date) {
            Ok(_) => return Err(outside),
            Err(position) => position,
        };
        let before = position
            .checked_sub(1)
            .and_then(|p| self.readings.get(p))
            .ok_or(outside.clone())?;
        let after = self.readings.get(position).ok_or(outside)?;
        advance(before, &reading)?;
        advance(&reading, after)?;
        self.readings.insert(position, reading);
        Ok(self)
    }

    /// The first reading.
    #[must_use]
    pub fn start(&self) -> MeterReading {
        // Construction keeps at least two readings.
        self.readings[0]
    }

    /// The last reading.
    #[must_use]
    pub fn end(&self) -> MeterReading {
        self.readings[self.readings.len().saturating_sub(1)]
    }

    /// All readings, oldest first.
    #[must_use]
    pub fn readings(&self) -> &[MeterReading] {
        &self.readings
    }

    /// Volume used over the whole period: last index minus first.
    #[must_use]
    pub fn consumption(&self) -> Volume {
        self.consumption
    }

    /// The meter index at the start of `date` (within the period): the reading
    /// of that day, or the linear interpolation between its neighbours rounded
    /// to `scale` decimals with `mode`.
    ///
    /// Rounding is monotone, so interpolated indexes never decrease and the
    /// volumes between consecutive days always sum exactly to the consumption.
    pub(crate) fn index_on(&self, date: Date, scale: u32, mode: RoundingMode) -> Result<Volume, BillingError> {
        let after_position = match self.readings.binary_search_by_key(&date, |r| r.date) {
            Ok(exact) => return Ok(self.readings[exact].index),
            Err(position) => position,
        };
        let overflow = BillingError::Overflow { step: Step::Proration };
        let (Some(before), Some(after)) = (
            after_position.checked_sub(1).and_then(|p| self.readings.get(p)),
            self.readings.get(after_position),
        ) else {
            return Err(BillingError::ReadingOutsidePeriod {
                date,
                start: self.start().date,
                end: self.end().date,
            });
        };
        let advance = after.index.checked_sub(before.index).ok_or(overflow.clone())?;
        let elapsed = before.date.days_until(date);
        let span = before.date.days_until(after.date);
        let share = advance
            .value()
            .checked_mul(elapsed.into())
            .and_then(|v| v.checked_div(span.into()))
            .ok_or(overflow.clone())?;
        let interpolated = before
            .index
            .value()
            .checked_add(share)
            .map(|v| v.round_dp_with_strategy(scale, mode.strategy()))
            .ok_or(overflow.clone())?;
        // Clamp: rounding can never leave [before, after] when both are at
        // `scale`, but indexes read with more decimals could.
        let interpolated = Volume::new(interpolated).map_err(|_| overflow)?;
        Ok(interpolated.clamp(before.index, after.index))
    }
}

/// The volume used from `earlier` to `later`, checking that they are in order.
fn advance(earlier: &MeterReading, later: &MeterReading) -> Result<Volume, BillingError> {
    if later.date <= earlier.date {
        return Err(BillingError::ReadingsOutOfOrder {
            date: later.date,
            previous: earlier.date,
        });
    }
    if later.index < earlier.index {
        return Err(BillingError::MeterWentBackwards {
            date: later.date,
            index: later.index,
            previous: earlier.index,
        });
    }
    later.index.checked_sub(earlier.index).ok_or(BillingError::Overflow {
        step: Step::MeterAdvance,
    })
}

impl TryFrom<Vec<MeterReading>> for MeterPeriod {
    type Error = BillingError;

    fn try_from(mut readings: Vec<MeterReading>) -> Result<MeterPeriod, BillingError> {
        let end = readings.pop().ok_or(BillingError::NotEnoughReadings)?;
        let mut rest = readings.into_iter();
        let start = rest.next().ok_or(BillingError::NotEnoughReadings)?;
        rest.try_fold(MeterPeriod::new(start, end)?, MeterPeriod::with_reading)
    }
}

impl From<MeterPeriod> for Vec<MeterReading> {
    fn from(p: MeterPeriod) -> Vec<MeterReading> {
        p.readings
    }
}
