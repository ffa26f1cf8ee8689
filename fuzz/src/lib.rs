//! Arbitrary inputs for the gasbao fuzz targets, shared so that every target
//! explores the same corners: small everyday values and values near the limits.

use arbitrary::Arbitrary;
use gasbao_core::{Date, Household, MeterReading, RoundingMode, UnitPrice, Volume};
use rust_decimal::Decimal;

/// A decimal that is usually small (so tariffs make sense) and sometimes any
/// 96-bit value at any scale (so limits are reached).
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum FuzzDecimal {
    /// `mantissa / 10^(scale % 7)`.
    Small { mantissa: i32, scale: u8 },
    /// Any `Decimal`.
    Any {
        lo: u32,
        mid: u32,
        hi: u32,
        negative: bool,
        scale: u8,
    },
}

impl FuzzDecimal {
    pub fn get(self) -> Decimal {
        match self {
            FuzzDecimal::Small { mantissa, scale } => Decimal::new(mantissa.into(), u32::from(scale % 7)),
            FuzzDecimal::Any {
                lo,
                mid,
                hi,
                negative,
                scale,
            } => Decimal::from_parts(lo, mid, hi, negative, u32::from(scale % 29)),
        }
    }

    /// The absolute value as a volume (volumes are never negative).
    pub fn volume(self) -> Volume {
        Volume::new(self.get().abs()).unwrap_or(Volume::ZERO)
    }

    /// The absolute value as a unit price.
    pub fn price(self) -> UnitPrice {
        UnitPrice::new(self.get().abs()).unwrap_or(UnitPrice::ZERO)
    }
}

/// Any rounding mode.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub struct FuzzRounding(u8);

impl FuzzRounding {
    pub fn get(self) -> RoundingMode {
        let all: Vec<RoundingMode> = RoundingMode::all().collect();
        all[usize::from(self.0) % all.len()]
    }
}

/// A household: size and whether it is billed at tier 1 throughout.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub struct FuzzHousehold {
    pub members: u8,
    pub tier_one_only: bool,
}

impl FuzzHousehold {
    pub fn get(self) -> Household {
        let household = Household::of(self.members.into());
        if self.tier_one_only {
            household.billed_at_tier_one()
        } else {
            household
        }
    }
}

/// A date near 2018 (day offsets keep most inputs valid), or raw fields.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub struct FuzzDate {
    pub year: i16,
    pub month: u8,
    pub day: u8,
}

impl FuzzDate {
    pub fn get(self) -> Option<Date> {
        Date::new(2018 + i32::from(self.year % 8), self.month % 13, self.day % 32).ok()
    }
}

/// A meter reading.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub struct FuzzReading {
    pub date: FuzzDate,
    pub index: FuzzDecimal,
}

impl FuzzReading {
    pub fn get(self) -> Option<MeterReading> {
        Some(MeterReading::new(self.date.get()?, self.index.volume()))
    }
}

/// The laws every quote keeps: the breakdown reproduces the price, the price
/// is whole fen inside the band, and the blend lies between the supplied
/// sources' prices.
pub fn check_quote_laws(quote: &gasbao_pricing::Quote) {
    let factors = quote
        .factors
        .iter()
        .try_fold(Decimal::ZERO, |sum, f| sum.checked_add(f.effect));
    let replayed = factors
        .and_then(|f| quote.blended.checked_add(f))
        .and_then(|p| p.checked_add(quote.rounding))
        .and_then(|p| p.checked_add(quote.band.effect));
    assert_eq!(
        replayed,
        Some(quote.price.value()),
        "breakdown does not reproduce {quote:?}"
    );
    let price = quote.price.value();
    assert!(price.normalize().scale() <= 2, "not whole fen: {price}");
    assert!(quote.band.cap.is_none_or(|cap| price <= cap), "above cap: {quote:?}");
    assert!(
        quote.band.floor.is_none_or(|floor| price >= floor),
        "below floor: {quote:?}"
    );
    let supplied = quote.sources.iter().filter(|s| !s.weight.is_zero()).map(|s| s.price);
    if let (Some(low), Some(high)) = (supplied.clone().min(), supplied.max()) {
        assert!(
            low <= quote.blended && quote.blended <= high,
            "blend out of range: {quote:?}"
        );
    }
}

/// Splits fuzzer input into journal records, each prefixed by one length byte.
pub fn length_prefixed_records(mut data: &[u8]) -> Vec<&[u8]> {
    let mut records = Vec::new();
    while let Some((&len, rest)) = data.split_first() {
        let len = usize::from(len).min(rest.len());
        records.push(&rest[..len]);
        data = &rest[len..];
    }
    records
}

/// Journal options with small allocations: the default megabyte of zeros
/// per segment would dominate a run.
pub fn small_journal_options() -> gasbao_core::journal::JournalOptions {
    let mut options = gasbao_core::journal::JournalOptions::default();
    options.allocation_chunk = 4096;
    options
}

/// A journal in memory holding `records`, as a crate that owns the journal
/// would find it on open.
pub fn journal_holding(records: &[&[u8]]) -> gasbao_core::journal::MemoryStorage {
    let storage = gasbao_core::journal::MemoryStorage::new();
    let (journal, _) = gasbao_core::journal::Journal::open(storage.clone(), small_journal_options())
        .expect("a new journal in memory opens");
    journal
        .append_batch(records.iter().copied())
        .expect("memory accepts records");
    storage
}
