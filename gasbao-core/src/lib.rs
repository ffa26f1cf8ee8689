//! Exact, panic-free money and gas tariff math for metering and billing.
//!
//! Amounts are `rust_decimal::Decimal` wrapped in newtypes that keep their
//! invariants. Products are computed exactly and rounded once, to the fen,
//! with a named [`RoundingMode`]. No public function panics: every failure is a
//! typed error naming the step or field at fault.
//!
//! # Quantities
//! - [`Money`]: an exact amount of CNY; whole fen in and out.
//! - [`Volume`]: m3 of gas, never negative.
//! - [`UnitPrice`]: CNY per m3, never negative.
//! - [`RoundingMode`]: half-up, half-even, half-down, down, up, floor, ceiling.
//! - [`Date`]: a calendar day for effective dates and meter readings.
//!
//! # Tariffs
//! - [`fee`]: `base + price x volume`, rounded once.
//! - [`TieredTariff`], [`Tier`], [`LargeHouseholdAllowance`], [`Household`]:
//!   block tariffs with cumulative yearly thresholds; [`Bill`] and [`BillLine`].
//! - [`SeasonalTariff`], [`Season`]: prices by month.
//! - [`TariffSchedule`], [`ScheduleEntry`], [`BillingCycle`]: tariffs over time;
//!   [`MeterPeriod`] and [`MeterReading`] in, [`PeriodBill`] and [`SegmentBill`] out.
//! - [`published`]: Beijing, Shanghai and Chongqing residential tariffs.
//!
//! # Volume correction
//! - [`VolumeCorrector`], [`ReferenceConditions`], [`LineConditions`]: PTZ
//!   conversion to reference conditions (GB/T 19205 by default).
//!
//! # Journal (feature `journal`, on by default)
//! - [`journal`]: a crash-safe, append-only log with one writer per
//!   directory, group commit, torn-tail recovery and pluggable storage,
//!   including a crash simulator; optionally an SM3 hash chain sealed by
//!   SM2-signed checkpoints (rotatable keys, HSM signers, anchors), with
//!   `verify`, read-only opening and `salvage`. Its on-disk format is in
//!   [`journal::on_disk_format`]. With feature `tracing`: an event per
//!   journal opened (segments, torn tail cut) and per group sync (records
//!   it made durable).
//!
//! # Errors
//! - [`QuantityError`], [`TariffError`] (with [`TierProblem`]),
//!   [`ScheduleError`], [`BillingError`], [`CorrectionError`], [`DateError`];
//!   [`Step`], [`Quantity`] and [`Condition`] say where.
//!
//! # Quick start
//!
//! ```
//! use gasbao_core::{published, Household, Volume};
//!
//! // A Beijing household of 6 has used 480 m3 this year and now uses 200 m3 more.
//! let tariff = published::beijing_residential().for_household(&Household::of(6))?;
//! let bill = tariff.bill(Volume::from_whole_m3(480), Volume::from_whole_m3(200))?;
//! // Thresholds are 500 and 650 m3 for 6 people: 20 m3 at 2.61, 150 at 2.83, 30 at 4.23.
//! let lines: Vec<_> = bill.lines().iter().map(|l| (l.tier, l.volume.to_string(), l.amount.to_string())).collect();
//! assert_eq!(lines, [(1, "20".into(), "52.20".into()), (2, "150".into(), "424.50".into()), (3, "30".into(), "126.90".into())]);
//! assert_eq!(bill.total().to_string(), "603.60");
//! # Ok::<(), gasbao_core::TariffError>(())
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
// Money code must say how it handles every failure: no operator that can
// overflow, no unwrap, no panic outside tests.
#![cfg_attr(
    not(test),
    deny(
        clippy::arithmetic_side_effects,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

/// The README's examples run as doctests, so the quick start stays true.
#[cfg(all(doctest, feature = "journal"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod correction;
mod date;
mod error;
mod exact;
mod fee;
#[cfg(feature = "journal")]
#[cfg_attr(docsrs, doc(cfg(feature = "journal")))]
pub mod journal;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod postgres;
pub mod published;
mod quantity;
mod rounding;
mod tariff;

pub use correction::{LineConditions, ReferenceConditions, VolumeCorrector};
pub use date::Date;
pub use error::{
    BillingError, Condition, CorrectionError, DateError, Quantity, QuantityError, ScheduleError, Step, TariffError,
    TierProblem,
};
pub use fee::fee;
pub use quantity::{Money, UnitPrice, Volume};
pub use rounding::RoundingMode;
/// The decimal type every quantity wraps, so callers need no `rust_decimal` dependency of their own.
pub use rust_decimal::Decimal;
pub use tariff::bill::{Bill, BillLine};
pub use tariff::cycle::BillingCycle;
pub use tariff::household::Household;
pub use tariff::period::{MeterPeriod, MeterReading};
pub use tariff::schedule::{PeriodBill, ScheduleEntry, SegmentBill, TariffSchedule};
pub use tariff::seasonal::{Season, SeasonalTariff};
pub use tariff::tiered::{LargeHouseholdAllowance, Tier, TieredTariff};
