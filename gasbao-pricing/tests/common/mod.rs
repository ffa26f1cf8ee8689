//! The reference configuration and requests against it, shared by the tests.
#![allow(dead_code, unreachable_pub)]

use gasbao_core::Volume;
use gasbao_pricing::{
    CustomerClass, LngCargo, LngInput, LngStrategy, PipelineInput, PipelineStrategy, PricingSetup, Quote, QuoteRequest,
    SngInput, SngStrategy, StrategyCatalog,
};
use rust_decimal::Decimal;

pub const CITY_GAS: &str = include_str!("../../config/city_gas.toml");

pub fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

/// A one-source document whose price is `price` under revision `revision`.
pub fn one_source_document(revision: &str, price: &str) -> String {
    format!(
        r#"
        revision = "{revision}"
        weighting = "configured"
        [[sources]]
        id = "well"
        kind = "fixed"
        weight = "1"
        params = {{ price = "{price}" }}
        [band]
        residential_cap = "9.99"
        "#
    )
}

pub fn city_gas() -> PricingSetup {
    PricingSetup::from_toml(CITY_GAS, &StrategyCatalog::builtin()).unwrap()
}

/// A request with the reference market inputs and the given supply volumes
/// (pipeline, LNG, SNG) and inventory ratio.
pub fn request(
    setup: &PricingSetup,
    at: &str,
    customer: CustomerClass,
    supply: [u64; 3],
    inventory: &str,
) -> QuoteRequest {
    let pipeline = setup.handle::<PipelineStrategy>("west-east-pipeline").unwrap();
    let lng = setup.handle::<LngStrategy>("coastal-lng").unwrap();
    let sng = setup.handle::<SngStrategy>("sng-contract").unwrap();
    QuoteRequest::new(at.parse().unwrap(), customer)
        .with_input(
            &pipeline,
            PipelineInput {
                distance_km: dec("400"),
                utilisation: dec("0.9"),
            },
        )
        .with_input(
            &lng,
            LngInput {
                cargo: LngCargo::Landed {
                    cost: "2.80".parse().unwrap(),
                },
                trucking_km: dec("150"),
                days_in_storage: 10,
            },
        )
        .with_input(
            &sng,
            SngInput {
                date: "2026-11-21".parse().unwrap(),
            },
        )
        .with_supply(pipeline.id(), Volume::from_whole_m3(supply[0]))
        .with_supply(lng.id(), Volume::from_whole_m3(supply[1]))
        .with_supply(sng.id(), Volume::from_whole_m3(supply[2]))
        .with_inventory_ratio(dec(inventory))
}

/// A quote under the reference configuration for the reference market.
pub fn quote(at: &str, customer: CustomerClass, supply: [u64; 3], inventory: &str) -> Quote {
    let setup = city_gas();
    setup.quote(&request(&setup, at, customer, supply, inventory)).unwrap()
}
