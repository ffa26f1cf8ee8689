//! Helpers shared by the integration tests: short constructors from literals.
#![allow(dead_code, unreachable_pub)]

use gasbao_core::{Date, MeterReading, Money, UnitPrice, Volume};
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
