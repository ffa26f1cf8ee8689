//! Helpers shared by the integration tests: short constructors from literals.
#![allow(dead_code, unreachable_pub)]

use gasbao_core::{Bill, Date, MeterReading, Money, UnitPrice, Volume};
use proptest::prelude::*;
use rust_decimal::Decimal;

pub fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

pub fn vol(text: &str) -> Volume {
    Volume::new(dec(text)).unwrap()
}

pub fn price(text: &str) -> UnitPrice {
    UnitPrice::new(dec(text)).unwrap()
}

pub fn money(text: &str) -> Money {
    Money::new(dec(text))
}

pub fn date(text: &str) -> Date {
    text.parse().unwrap()
}

pub fn reading(day: &str, index: &str) -> MeterReading {
    MeterReading::new(date(day), vol(index))
}

/// The sum of a bill's line volumes, added up here rather than trusted.
pub fn line_volumes(bill: &Bill) -> Volume {
    bill.lines()
        .iter()
        .fold(Volume::ZERO, |sum, line| sum.checked_add(line.volume).unwrap())
}

/// Any `Decimal` at all: every mantissa, sign and scale.
pub fn any_decimal() -> impl Strategy<Value = Decimal> {
    (any::<u32>(), any::<u32>(), any::<u32>(), any::<bool>(), 0u32..=28)
        .prop_map(|(lo, mid, hi, negative, scale)| Decimal::from_parts(lo, mid, hi, negative, scale))
}
