//! gasbao-pricing: a three-source quote with its full breakdown, through the
//! shared `Pricer`, from typed inputs and from JSON inputs.
//!
//! `cargo bench --bench pricing`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use gasbao::core::Volume;
use gasbao::pricing::{
    CustomerClass, LngCargo, LngInput, LngStrategy, PipelineInput, PipelineStrategy, Pricer, PricingSetup,
    QuoteRequest, QuoteRequestData, SngInput, SngStrategy, StrategyCatalog,
};
use rust_decimal::Decimal;

const CITY_GAS: &str = include_str!("../gasbao-pricing/config/city_gas.toml");

fn quote(c: &mut Criterion) {
    let setup = PricingSetup::from_toml(CITY_GAS, &StrategyCatalog::builtin()).expect("reference config loads");
    let pipeline = setup
        .handle::<PipelineStrategy>("west-east-pipeline")
        .expect("pipeline source");
    let lng = setup.handle::<LngStrategy>("coastal-lng").expect("LNG source");
    let sng = setup.handle::<SngStrategy>("sng-contract").expect("SNG source");
    let typed = QuoteRequest::new("18:00".parse().expect("time"), CustomerClass::Residential)
        .with_input(
            &pipeline,
            PipelineInput {
                distance_km: Decimal::from(400),
                utilisation: Decimal::new(95, 2),
            },
        )
        .with_input(
            &lng,
            LngInput {
                cargo: LngCargo::Landed {
                    cost: "2.80".parse().expect("price"),
                },
                trucking_km: Decimal::from(150),
                days_in_storage: 10,
            },
        )
        .with_input(
            &sng,
            SngInput {
                date: "2026-11-21".parse().expect("date"),
            },
        )
        .with_supply(pipeline.id(), Volume::from_whole_m3(6_000))
        .with_supply(lng.id(), Volume::from_whole_m3(8_000))
        .with_supply(sng.id(), Volume::from_whole_m3(3_000))
        .with_inventory_ratio(Decimal::new(14, 2));
    let json: QuoteRequestData = serde_json::from_value(serde_json::json!({
        "at": "18:00", "customer": "residential", "inventory_ratio": "0.14",
        "inputs": {
            "west-east-pipeline": { "distance_km": "400", "utilisation": "0.95" },
            "coastal-lng": { "cargo": { "landed": { "cost": "2.80" } }, "trucking_km": "150", "days_in_storage": 10 },
            "sng-contract": { "date": "2026-11-21" }
        },
        "supply": { "west-east-pipeline": "6000", "coastal-lng": "8000", "sng-contract": "3000" }
    }))
    .expect("request data");
    let json = QuoteRequest::from(json);
    let pricer = Pricer::new(setup);

    let mut group = c.benchmark_group("quote_3_sources");
    group.bench_function("typed_inputs", |b| b.iter(|| pricer.quote(black_box(&typed))));
    group.bench_function("json_inputs", |b| b.iter(|| pricer.quote(black_box(&json))));
    group.finish();

    c.bench_function("reload_toml", |b| {
        b.iter(|| pricer.reload_toml(black_box(CITY_GAS), &StrategyCatalog::builtin()))
    });
}

criterion_group!(benches, quote);
criterion_main!(benches);
