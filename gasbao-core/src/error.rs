//! Every way gasbao-core can refuse an input, split by the operation that refuses it.

use rust_decimal::Decimal;
use thiserror::Error;

use crate::date::Date;
use crate::quantity::Volume;

/// The arithmetic step that overflowed, so a caller knows which input was too large.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Step {
    /// `price x volume + base` in [`fee`](crate::fee).
    Fee,
    /// Adding a household allowance to a tier threshold.
    TierThreshold,
    /// Cumulative volume (prior + consumption) while billing.
    CumulativeVolume,
    /// One bill line's volume (the part of the consumption in one tier).
    LineVolume,
    /// One bill line's amount.
    LineAmount,
    /// The sum of a bill's line amounts.
    BillTotal,
    /// Difference of two meter indexes.
    MeterAdvance,
    /// Pro-rata split of consumption between two readings.
    Proration,
    /// Absolute pressure (gauge + atmospheric) in volume correction.
    AbsolutePressure,
    /// Absolute temperature (Celsius + 273.15) in volume correction.
    AbsoluteTemperature,
    /// The corrected volume in volume correction.
    CorrectedVolume,
    /// Converting an amount to or from whole fen.
    FenConversion,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Step::Fee => "fee (price x volume + base)",
            Step::TierThreshold => "tier threshold plus household allowance",
            Step::CumulativeVolume => "cumulative volume",
            Step::LineVolume => "bill line volume",
            Step::LineAmount => "bill line amount",
            Step::BillTotal => "bill total",
            Step::MeterAdvance => "meter advance between readings",
            Step::Proration => "pro-rata split of consumption",
            Step::AbsolutePressure => "absolute pressure (gauge + atmospheric)",
            Step::AbsoluteTemperature => "absolute temperature",
            Step::CorrectedVolume => "corrected volume",
            Step::FenConversion => "conversion to fen",
        })
    }
}

/// Which quantity a [`QuantityError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Quantity {
    /// [`Money`](crate::Money), in CNY.
    Money,
    /// [`Volume`](crate::Volume), in m3.
    Volume,
    /// [`UnitPrice`](crate::UnitPrice), in CNY per m3.
    UnitPrice,
}

impl std::fmt::Display for Quantity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Quantity::Money => "money",
            Quantity::Volume => "volume",
            Quantity::UnitPrice => "unit price",
        })
    }
}

/// A value refused when constructing or converting a [`Money`](crate::Money),
/// [`Volume`](crate::Volume) or [`UnitPrice`](crate::UnitPrice).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum QuantityError {
    /// The quantity cannot be negative.
    #[error("{quantity} must not be negative, got {value}")]
    Negative {
        /// Which quantity.
        quantity: Quantity,
        /// The refused value.
        value: Decimal,
    },
    /// The text is not a decimal number.
    #[error("{text:?} is not a decimal {quantity}")]
    Unparsable {
        /// Which quantity was being parsed.
        quantity: Quantity,
        /// The refused text (at most 64 characters of it).
        text: String,
    },
    /// The amount has a fraction of a fen, so it has no exact fen value.
    #[error("{amount} CNY is not a whole number of fen; round it first")]
    NotWholeFen {
        /// The refused amount.
        amount: Decimal,
    },
    /// The amount in fen does not fit in an `i64`.
    #[error("{amount} CNY is outside the range of i64 fen")]
    FenOutOfRange {
        /// The refused amount.
        amount: Decimal,
    },
}

/// What is wrong with the tiers of a [`TieredTariff`](crate::TieredTariff).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TierProblem {
    /// A tier other than the last has no upper threshold.
    #[error("only the last tier may be open-ended")]
    OpenEndedBeforeLast,
    /// The last tier has an upper threshold; the last tier must cover all volume above.
    #[error("the last tier must be open-ended, but it ends at {threshold} m3")]
    LastTierBounded {
        /// The threshold the last tier was given.
        threshold: Volume,
    },
    /// A threshold is not above the previous one (tiers would be empty or overlap).
    #[error("threshold {threshold} m3 is not above the previous threshold {previous} m3")]
    NotIncreasing {
        /// This tier's threshold.
        threshold: Volume,
        /// The previous tier's threshold (zero for the first tier).
        previous: Volume,
    },
}

/// A tariff refused at construction, or a fee or bill that cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TariffError {
    /// A result does not fit in a `Decimal` (about 7.9e28).
    #[error("arithmetic overflow in {step}")]
    Overflow {
        /// Where it overflowed.
        step: Step,
    },
    /// A tariff needs at least one tier.
    #[error("a tiered tariff needs at least one tier")]
    NoTiers,
    /// One tier is invalid.
    #[error("tier {tier} is invalid: {problem}")]
    InvalidTier {
        /// 1-based tier number, as printed on bills.
        tier: usize,
        /// What is wrong with it.
        #[source]
        problem: TierProblem,
    },
}

/// A [`TariffSchedule`](crate::TariffSchedule) or [`BillingCycle`](crate::BillingCycle)
/// refused at construction.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// A schedule needs at least one tariff.
    #[error("a tariff schedule needs at least one entry")]
    NoEntries,
    /// Two entries take effect on the same date.
    #[error("two tariffs take effect on {date}")]
    DuplicateEffectiveDate {
        /// The shared date.
        date: Date,
    },
    /// A month is claimed by two seasons of one seasonal tariff.
    #[error("month {month} belongs to two seasons")]
    MonthInTwoSeasons {
        /// The month (1-12).
        month: u8,
    },
    /// A month belongs to no season of a seasonal tariff.
    #[error("month {month} belongs to no season")]
    MonthWithoutSeason {
        /// The month (1-12).
        month: u8,
    },
    /// A season names a month outside 1-12.
    #[error("season month {month} is not a month (1-12)")]
    InvalidMonth {
        /// The refused value.
        month: u8,
    },
    /// The billing cycle's start is not a day that exists every year.
    #[error("billing cycle start {month:02}-{day:02} is not a day that exists every year")]
    InvalidCycleStart {
        /// Month (1-12).
        month: u8,
        /// Day of month.
        day: u8,
    },
    /// A season's tariff is invalid.
    #[error("season {season} has an invalid tariff")]
    InvalidSeasonTariff {
        /// 0-based index of the season.
        season: usize,
        /// Why the tariff is invalid.
        #[source]
        source: TariffError,
    },
}

/// A billing period that cannot be billed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BillingError {
    /// A period needs a start and an end reading.
    #[error("a metering period needs at least two readings")]
    NotEnoughReadings,
    /// Readings must move forward in time.
    #[error("reading on {date} does not come after the reading on {previous}")]
    ReadingsOutOfOrder {
        /// The offending reading's date.
        date: Date,
        /// The date of the reading before it.
        previous: Date,
    },
    /// A meter index went down between readings (a replaced or rolled-over meter
    /// must be billed as two periods).
    #[error("meter index went down from {previous} m3 to {index} m3 on {date}")]
    MeterWentBackwards {
        /// The reading whose index is lower.
        date: Date,
        /// Its index.
        index: Volume,
        /// The previous index.
        previous: Volume,
    },
    /// An intermediate reading lies outside the period.
    #[error("reading on {date} is outside the period {start} .. {end}")]
    ReadingOutsidePeriod {
        /// The reading's date.
        date: Date,
        /// Period start.
        start: Date,
        /// Period end.
        end: Date,
    },
    /// No tariff is in force on a day of the period.
    #[error("no tariff is in force on {date}; the first takes effect on {first_effective}")]
    NoTariffInForce {
        /// The first day without a tariff.
        date: Date,
        /// The schedule's earliest effective date.
        first_effective: Date,
    },
    /// Billing one segment of the period failed.
    #[error("billing {start} .. {end} failed")]
    Segment {
        /// Segment start.
        start: Date,
        /// Segment end.
        end: Date,
        /// Why.
        #[source]
        source: TariffError,
    },
    /// A result does not fit in a `Decimal`.
    #[error("arithmetic overflow in {step}")]
    Overflow {
        /// Where it overflowed.
        step: Step,
    },
}

/// A calendar date refused at construction or parsing.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DateError {
    /// Year outside 1-9999.
    #[error("year {year} is outside 1-9999")]
    YearOutOfRange {
        /// The refused year.
        year: i32,
    },
    /// Month outside 1-12.
    #[error("month {month} is outside 1-12")]
    MonthOutOfRange {
        /// The refused month.
        month: u8,
    },
    /// Day does not exist in that month.
    #[error("day {day} does not exist in {year:04}-{month:02}")]
    DayOutOfRange {
        /// Year.
        year: i32,
        /// Month.
        month: u8,
        /// The refused day.
        day: u8,
    },
    /// Text is not `YYYY-MM-DD`.
    #[error("{text:?} is not a date of the form YYYY-MM-DD")]
    Syntax {
        /// The refused text (at most 32 characters of it).
        text: String,
    },
}

/// A measurement refused by [`VolumeCorrector`](crate::VolumeCorrector), or a
/// correction that cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CorrectionError {
    /// An absolute temperature at or below absolute zero.
    #[error("{which} absolute temperature {kelvin} K is not above absolute zero")]
    NonPositiveTemperature {
        /// Which temperature: measured or reference.
        which: Condition,
        /// The refused value in kelvin.
        kelvin: Decimal,
    },
    /// An absolute pressure at or below zero (a gauge reading below vacuum).
    #[error("{which} absolute pressure {kpa} kPa is not above zero")]
    NonPositivePressure {
        /// Which pressure: measured or reference.
        which: Condition,
        /// The refused value in kPa.
        kpa: Decimal,
    },
    /// A compressibility factor at or below zero.
    #[error("{which} compressibility factor {z} is not above zero")]
    NonPositiveCompressibility {
        /// Which factor: measured or reference.
        which: Condition,
        /// The refused value.
        z: Decimal,
    },
    /// A result does not fit in a `Decimal`.
    #[error("arithmetic overflow in {step}")]
    Overflow {
        /// Where it overflowed.
        step: Step,
    },
}

/// Measured (line) or reference (base) conditions, for [`CorrectionError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Condition {
    /// At the meter.
    Measured,
    /// The reference (base) conditions the volume is converted to.
    Reference,
}

impl std::fmt::Display for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Condition::Measured => "measured",
            Condition::Reference => "reference",
        })
    }
}
