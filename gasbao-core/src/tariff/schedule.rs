//! Tariffs over time: effective dates, seasons and billing cycles, and the
//! splitting of a metering period between them.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::date::Date;
use crate::error::{BillingError, ScheduleError, Step};
use crate::quantity::{Money, Volume};
use crate::rounding::RoundingMode;
use crate::tariff::bill::Bill;
use crate::tariff::cycle::BillingCycle;
use crate::tariff::household::Household;
use crate::tariff::period::MeterPeriod;
use crate::tariff::seasonal::SeasonalTariff;
use crate::tariff::tiered::TieredTariff;

/// A tariff and the day it takes effect; it stays in force until the next entry's day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleEntry {
    /// First day the tariff applies.
    pub effective_from: Date,
    /// The tariff, possibly seasonal.
    pub tariff: SeasonalTariff,
}

/// Tariffs with effective dates, a yearly billing cycle, and how consumption
/// is split when a period spans a change.
///
/// # Splitting a period
///
/// [`bill`](Self::bill) cuts a [`MeterPeriod`] into segments wherever the
/// tariff in force changes (a new entry takes effect, or the season changes at
/// the start of a month) and wherever a new billing cycle starts. Each segment's
/// volume is the difference of the meter index at its ends: a reading taken
/// that day when there is one, otherwise the index interpolated pro rata by
/// days between the nearest readings (see [`MeterPeriod`]), rounded to
/// 0.001 m3 half-even by default ([`with_proration`](Self::with_proration)).
/// Segment volumes therefore always sum exactly to the period's consumption.
///
/// Tier thresholds are cumulative over the billing cycle: a segment after a
/// price change continues from the volume billed before it, and a segment that
/// starts a new cycle starts from zero.
///
/// # Examples
///
/// ```
/// use gasbao_core::{published, Date, Household, MeterPeriod, MeterReading, Money, Volume};
/// use gasbao_core::Decimal;
///
/// // 40 m3 read on 2018-07-01 and 2018-07-21: the price rose on 07-10, so 9 of
/// // 20 days (18 m3) are billed at 2.61 and 11 days (22 m3) at 2.96, all tier 1.
/// let schedule = published::beijing_residential_2018();
/// let read = |d, idx| MeterReading::new(Date::new(2018, 7, d).unwrap(), Volume::new(Decimal::from(idx)).unwrap());
/// let period = MeterPeriod::new(read(1, 100), read(21, 140))?;
/// let bill = schedule.bill(&period, Volume::new(Decimal::from(100))?, &Household::of(3))?;
/// assert_eq!(bill.segments().len(), 2);
/// assert_eq!(bill.total(), Money::from_fen(18 * 261 + 22 * 296));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ScheduleSpec", into = "ScheduleSpec")]
pub struct TariffSchedule {
    /// Sorted by `effective_from`, no two on the same day.
    entries: Vec<ScheduleEntry>,
    cycle: BillingCycle,
    proration_scale: u32,
    proration_rounding: RoundingMode,
}

/// The bill for one [`MeterPeriod`]: one [`SegmentBill`] per stretch of days
/// under one tariff, season and billing cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PeriodBillRecord", into = "PeriodBillRecord")]
pub struct PeriodBill {
    segments: Vec<SegmentBill>,
    total: Money,
    volume: Volume,
    cumulative_after: Volume,
}

/// The part of a [`PeriodBill`] billed under one tariff, season and cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SegmentBill {
    /// First day of the segment.
    pub start: Date,
    /// Day after the last day of the segment.
    pub end: Date,
    /// Effective date of the schedule entry used.
    pub tariff_effective_from: Date,
    /// Name of the season used.
    pub season: String,
    /// Start of the billing cycle the segment belongs to.
    pub cycle_start: Date,
    /// Cumulative cycle volume billed before this segment.
    pub prior_cumulative: Volume,
    /// The segment's bill.
    pub bill: Bill,
}

impl PeriodBill {
    /// The segments, oldest first.
    #[must_use]
    pub fn segments(&self) -> &[SegmentBill] {
        &self.segments
    }

    /// Amount due for the period: the sum of the segment totals.
    #[must_use]
    pub fn total(&self) -> Money {
        self.total
    }

    /// Volume billed for the period: the sum of the segment volumes, which is
    /// exactly the period's consumption.
    #[must_use]
    pub fn volume(&self) -> Volume {
        self.volume
    }

    /// Cumulative volume of the current billing cycle after this period; pass
    /// it as `prior_cumulative` when billing the next period.
    #[must_use]
    pub fn cumulative_after(&self) -> Volume {
        self.cumulative_after
    }
}

impl TariffSchedule {
    /// A schedule of `entries` (in any order) with billing cycle `cycle`.
    ///
    /// # Errors
    ///
    /// [`ScheduleError::NoEntries`] for no entries;
    /// [`ScheduleError::DuplicateEffectiveDate`] if two share a day.
    pub fn new(cycle: BillingCycle, mut entries: Vec<ScheduleEntry>) -> Result<TariffSchedule, ScheduleError> {
        if entries.is_empty() {
            return Err(ScheduleError::NoEntries);
        }
        entries.sort_by_key(|e| e.effective_from);
        if let Some(pair) = entries.windows(2).find(|w| w[0].effective_from == w[1].effective_from) {
            return Err(ScheduleError::DuplicateEffectiveDate {
                date: pair[0].effective_from,
            });
        }
        Ok(TariffSchedule::from_valid_parts(cycle, entries))
    }

    /// A schedule from entries known to be sorted with distinct dates (published tariffs).
    pub(crate) fn from_valid_parts(cycle: BillingCycle, entries: Vec<ScheduleEntry>) -> TariffSchedule {
        debug_assert!(entries.windows(2).all(|w| w[0].effective_from < w[1].effective_from));
        TariffSchedule {
            entries,
            cycle,
            proration_scale: DEFAULT_PRORATION_SCALE,
            proration_rounding: DEFAULT_PRORATION_ROUNDING,
        }
    }

    /// The same schedule, rounding interpolated meter indexes to `scale`
    /// decimals of a m3 with `mode` (default 3 and half-even).
    #[must_use]
    pub fn with_proration(mut self, scale: u32, mode: RoundingMode) -> TariffSchedule {
        self.proration_scale = scale;
        self.proration_rounding = mode;
        self
    }

    /// The entries, oldest first.
    #[must_use]
    pub fn entries(&self) -> &[ScheduleEntry] {
        &self.entries
    }

    /// The billing cycle.
    #[must_use]
    pub fn cycle(&self) -> BillingCycle {
        self.cycle
    }

    /// The tiered tariff in force on `date` (entry and season), if any.
    #[must_use]
    pub fn tariff_on(&self, date: Date) -> Option<&TieredTariff> {
        self.entry_on(date).map(|e| &e.tariff.season_on(date).tariff)
    }

    /// Bills `period` for `household`, given `prior_cumulative` m3 already
    /// billed in the billing cycle that contains the period's first day.
    ///
    /// # Errors
    ///
    /// [`BillingError::NoTariffInForce`] if the period starts before the first
    /// entry; [`BillingError::Segment`] naming the segment whose bill failed;
    /// [`BillingError::Overflow`] for volumes or amounts beyond `Decimal`.
    pub fn bill(
        &self,
        period: &MeterPeriod,
        prior_cumulative: Volume,
        household: &Household,
    ) -> Result<PeriodBill, BillingError> {
        let mut segments = Vec::new();
        let mut total = Money::ZERO;
        let mut cumulative = prior_cumulative;
        // Summed as we go so that a bill that exists always sums exactly.
        let mut billed = Volume::ZERO;
        for (start, end, key) in self.segments_of(period)? {
            let entry = &self.entries[key.entry];
            if let Some(previous) = segments.last().map(|s: &SegmentBill| s.cycle_start)
                && previous != key.cycle_start
            {
                cumulative = Volume::ZERO;
            }
            let from = period.index_on(start, self.proration_scale, self.proration_rounding)?;
            let to = period.index_on(end, self.proration_scale, self.proration_rounding)?;
            let volume = to
                .checked_sub(from)
                .ok_or(BillingError::Overflow { step: Step::Proration })?;
            billed = billed
                .checked_add(volume)
                .ok_or(BillingError::Overflow { step: Step::Proration })?;
            let season = entry.tariff.season_on(start);
            let failed = |source| BillingError::Segment { start, end, source };
            let bill = season
                .tariff
                .for_household(household)
                .and_then(|tariff| tariff.bill(cumulative, volume))
                .map_err(failed)?;
            total = total
                .checked_add(bill.total())
                .ok_or(BillingError::Overflow { step: Step::BillTotal })?;
            segments.push(SegmentBill {
                start,
                end,
                tariff_effective_from: entry.effective_from,
                season: season.name.clone(),
                cycle_start: key.cycle_start,
                prior_cumulative: cumulative,
                bill,
            });
            cumulative = cumulative.checked_add(volume).ok_or(BillingError::Overflow {
                step: Step::CumulativeVolume,
            })?;
        }
        Ok(PeriodBill {
            segments,
            total,
            volume: billed,
            cumulative_after: cumulative,
        })
    }

    /// `[start, end)` of each segment of `period`, in order, with what decides its tariff.
    fn segments_of(&self, period: &MeterPeriod) -> Result<Vec<(Date, Date, SegmentKey)>, BillingError> {
        let (start, end) = (period.start().date, period.end().date);
        let inside = |d: &Date| start < *d && *d < end;
        let mut cuts: BTreeSet<Date> = self.entries.iter().map(|e| e.effective_from).filter(inside).collect();
        let mut cycle_start = self.cycle.next_start_after(start);
        while let Some(day) = cycle_start.filter(inside) {
            cuts.insert(day);
            cycle_start = self.cycle.next_start_after(day);
        }
        if self.entries.iter().any(|e| e.tariff.seasons().len() > 1) {
            let mut month = start.first_of_next_month();
            while let Some(day) = month.filter(inside) {
                cuts.insert(day);
                month = day.first_of_next_month();
            }
        }
        let mut bounds = Vec::new();
        let mut segment_start = start;
        let mut key = self.key_on(start)?;
        for cut in cuts {
            let cut_key = self.key_on(cut)?;
            if cut_key != key {
                bounds.push((segment_start, cut, key));
                segment_start = cut;
                key = cut_key;
            }
        }
        bounds.push((segment_start, end, key));
        Ok(bounds)
    }

    fn entry_index_on(&self, date: Date) -> Option<usize> {
        self.entries
            .partition_point(|e| e.effective_from <= date)
            .checked_sub(1)
    }

    fn entry_on(&self, date: Date) -> Option<&ScheduleEntry> {
        self.entry_index_on(date).and_then(|i| self.entries.get(i))
    }

    /// What decides the tariff and the cumulative volume on `date`.
    fn key_on(&self, date: Date) -> Result<SegmentKey, BillingError> {
        let entry = self.entry_index_on(date).ok_or(BillingError::NoTariffInForce {
            date,
            first_effective: self.entries[0].effective_from,
        })?;
        Ok(SegmentKey {
            entry,
            season: self.entries[entry].tariff.season_index(date),
            cycle_start: self.cycle.start_on_or_before(date),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SegmentKey {
    entry: usize,
    season: usize,
    cycle_start: Date,
}

/// The serialized form of a [`TariffSchedule`].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleSpec {
    #[serde(default)]
    cycle: BillingCycle,
    #[serde(default = "default_proration_scale")]
    proration_scale: u32,
    #[serde(default = "default_proration_rounding")]
    proration_rounding: RoundingMode,
    entries: Vec<ScheduleEntry>,
}

/// Interpolated meter indexes are rounded to 0.001 m3, a litre ...
const DEFAULT_PRORATION_SCALE: u32 = 3;
/// ... half-even, so that no direction is favoured over many bills.
const DEFAULT_PRORATION_ROUNDING: RoundingMode = RoundingMode::HalfEven;

fn default_proration_scale() -> u32 {
    DEFAULT_PRORATION_SCALE
}

fn default_proration_rounding() -> RoundingMode {
    DEFAULT_PRORATION_ROUNDING
}

impl TryFrom<ScheduleSpec> for TariffSchedule {
    type Error = ScheduleError;

    fn try_from(spec: ScheduleSpec) -> Result<TariffSchedule, ScheduleError> {
        Ok(
            TariffSchedule::new(spec.cycle, spec.entries)?
                .with_proration(spec.proration_scale, spec.proration_rounding),
        )
    }
}

impl From<TariffSchedule> for ScheduleSpec {
    fn from(s: TariffSchedule) -> ScheduleSpec {
        ScheduleSpec {
            cycle: s.cycle,
            proration_scale: s.proration_scale,
            proration_rounding: s.proration_rounding,
            entries: s.entries,
        }
    }
}

/// A stored period bill, checked for consistency when read back.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PeriodBillRecord {
    segments: Vec<SegmentBill>,
    total: Money,
    volume: Volume,
    cumulative_after: Volume,
}

/// Why a stored [`PeriodBill`] was refused: a stored sum differs from its segments.
#[derive(Debug, thiserror::Error)]
enum InconsistentPeriodBill {
    #[error("stored period total {0} differs from the sum of its segment totals")]
    Total(Money),
    #[error("stored period volume {0} differs from the sum of its segment volumes")]
    Volume(Volume),
    #[error("stored cumulative volume {0} differs from the last segment's prior volume plus its own")]
    Cumulative(Volume),
}

impl TryFrom<PeriodBillRecord> for PeriodBill {
    type Error = InconsistentPeriodBill;

    fn try_from(record: PeriodBillRecord) -> Result<PeriodBill, InconsistentPeriodBill> {
        if Money::checked_sum(record.segments.iter().map(|s| s.bill.total())) != Some(record.total) {
            return Err(InconsistentPeriodBill::Total(record.total));
        }
        let volume = record
            .segments
            .iter()
            .try_fold(Volume::ZERO, |sum, s| sum.checked_add(s.bill.volume()));
        if volume != Some(record.volume) {
            return Err(InconsistentPeriodBill::Volume(record.volume));
        }
        let cumulative = record
            .segments
            .last()
            .map(|last| last.prior_cumulative.checked_add(last.bill.volume()));
        if cumulative.is_some_and(|c| c != Some(record.cumulative_after)) {
            return Err(InconsistentPeriodBill::Cumulative(record.cumulative_after));
        }
        Ok(PeriodBill {
            segments: record.segments,
            total: record.total,
            volume: record.volume,
            cumulative_after: record.cumulative_after,
        })
    }
}

impl From<PeriodBill> for PeriodBillRecord {
    fn from(bill: PeriodBill) -> PeriodBillRecord {
        PeriodBillRecord {
            segments: bill.segments,
            total: bill.total,
            volume: bill.volume,
            cumulative_after: bill.cumulative_after,
        }
    }
}
