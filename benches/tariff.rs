//! gasbao-core tariff math against the baselines a team would otherwise write:
//! naive `Decimal` arithmetic and an `i128` fixed-point reference, in one binary
//! so that ratios come from one run.
//!
//! `cargo bench --bench tariff`; `fee_path/*` times one fee on each of the
//! u64, i128 and wide arithmetic paths.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use gasbao::core::{
    Household, LineConditions, MeterPeriod, MeterReading, Money, RoundingMode, UnitPrice, Volume, VolumeCorrector, fee,
    published,
};
use rust_decimal::{Decimal, RoundingStrategy};

fn single_fee(c: &mut Criterion) {
    let mut group = c.benchmark_group("fee");
    let (base, price, volume) = (
        Money::from_fen(500),
        UnitPrice::from_fen_per_m3(261),
        Volume::new(Decimal::new(12_345, 3)).unwrap_or_default(),
    );
    group.bench_function("gasbao", |b| {
        b.iter(|| {
            fee(
                black_box(base),
                black_box(price),
                black_box(volume),
                RoundingMode::HalfUp,
            )
        })
    });
    let (base_d, price_d, volume_d) = (base.yuan(), price.value(), volume.value());
    group.bench_function("naive_decimal", |b| {
        b.iter(|| {
            (black_box(base_d) + black_box(price_d) * black_box(volume_d))
                .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
        })
    });
    // Fixed point: base in fen, price in 1e-4 CNY, volume in 1e-3 m3; the
    // product is in 1e-7 CNY, 1e5 of which make a fen.
    let (base_fen, price_e4, volume_e3) = (500i128, 26_100i128, 12_345i128);
    group.bench_function("i128_reference", |b| {
        b.iter(|| i128_fee(black_box(base_fen), black_box(price_e4), black_box(volume_e3)))
    });
    group.finish();
}

/// One fee per arithmetic path: operands small enough for `u64`, a product
/// that needs `i128`, and one whose mantissa passes 2^128 (the wide path),
/// each against `Decimal`'s own checked arithmetic (which rounds the product
/// to 28 digits first where it cannot hold it).
fn fee_paths(c: &mut Criterion) {
    let mut group = c.benchmark_group("fee_path");
    let wide = |hi: u32, lo: u64, scale| Decimal::from_parts(lo as u32, (lo >> 32) as u32, hi, false, scale);
    let cases = [
        ("u64", Decimal::new(261, 2), Decimal::new(12_345, 3)),
        (
            "i128",
            Decimal::new(2_612_345_678_901, 12),
            Decimal::new(123_456_789_012_345, 9),
        ),
        (
            "wide",
            wide(7, 0x1234_5678_9abc_def0, 26),
            wide(3, 0x0fed_cba9_8765_4321, 22),
        ),
    ];
    for (path, price, volume) in cases {
        let (Ok(price_q), Ok(volume_q)) = (UnitPrice::new(price), Volume::new(volume)) else {
            continue;
        };
        let base = Money::from_fen(500);
        group.bench_function(format!("{path}/gasbao"), |b| {
            b.iter(|| {
                fee(
                    black_box(base),
                    black_box(price_q),
                    black_box(volume_q),
                    RoundingMode::HalfUp,
                )
            })
        });
        let base_d = base.yuan();
        group.bench_function(format!("{path}/naive_decimal"), |b| {
            b.iter(|| {
                black_box(price)
                    .checked_mul(black_box(volume))
                    .and_then(|p| p.checked_add(black_box(base_d)))
                    .map(|sum| sum.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero))
            })
        });
    }
    group.finish();
}

/// Half-up fee in fen from fixed-point inputs; the baseline exact integer code.
fn i128_fee(base_fen: i128, price_e4: i128, volume_e3: i128) -> Option<i128> {
    let product = price_e4.checked_mul(volume_e3)?;
    let (quotient, remainder) = (product / 100_000, product % 100_000);
    let rounded = if remainder * 2 >= 100_000 {
        quotient + 1
    } else {
        quotient
    };
    base_fen.checked_add(rounded)
}

fn three_tier_bill(c: &mut Criterion) {
    let beijing = published::beijing_residential();
    let (prior, used) = (
        Volume::from_whole_m3(300),
        Volume::new(Decimal::new(250_125, 3)).unwrap_or_default(),
    );
    c.bench_function("three_tier_bill/gasbao", |b| {
        b.iter(|| beijing.bill(black_box(prior), black_box(used)))
    });
}

fn bill_across_price_change(c: &mut Criterion) {
    let schedule = published::beijing_residential_2018();
    let read = |date: &str, index: u64| MeterReading::new(date.parse().unwrap(), Volume::from_whole_m3(index));
    let period = MeterPeriod::new(read("2018-07-01", 1_000), read("2018-09-01", 1_250)).unwrap();
    let household = Household::of(3);
    c.bench_function("bill_across_price_change/gasbao", |b| {
        b.iter(|| schedule.bill(black_box(&period), black_box(Volume::from_whole_m3(300)), &household))
    });
}

fn ptz(c: &mut Criterion) {
    let mut group = c.benchmark_group("ptz");
    let corrector = VolumeCorrector::default();
    let volume = Volume::new(Decimal::new(123_456, 3)).unwrap_or_default();
    let line = LineConditions {
        gauge_pressure_kpa: Decimal::new(2_500, 3),
        atmospheric_pressure_kpa: Decimal::new(101_325, 3),
        temperature_c: Decimal::new(125, 1),
        compressibility: Some(Decimal::new(9_981, 4)),
    };
    group.bench_function("gasbao", |b| {
        b.iter(|| corrector.correct(black_box(volume), black_box(&line)))
    });
    let (tb, pb, zb) = (Decimal::new(29_315, 2), Decimal::new(101_325, 3), Decimal::ONE);
    let zero_c = Decimal::new(27_315, 2);
    group.bench_function("naive_decimal", |b| {
        b.iter(|| {
            let l = black_box(&line);
            let pm = l.gauge_pressure_kpa + l.atmospheric_pressure_kpa;
            let tm = l.temperature_c + zero_c;
            let zm = l.compressibility.unwrap_or(Decimal::ONE);
            black_box(volume).value() * (pm / pb) * (tb / tm) * (zb / zm)
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    single_fee,
    fee_paths,
    three_tier_bill,
    bill_across_price_change,
    ptz
);
criterion_main!(benches);
