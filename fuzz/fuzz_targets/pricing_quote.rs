//! Arbitrary market inputs against the reference configuration: quoting never
//! panics, and every quote keeps the laws of a quote.
#![no_main]

use arbitrary::Arbitrary;
use gasbao_core::UnitPrice;
use gasbao_fuzz::FuzzDecimal;
use gasbao_pricing::{
    CustomerClass, LngCargo, LngInput, LngStrategy, LocalTime, PipelineInput, PipelineStrategy, PricingSetup,
    QuoteRequest, SngInput, SngStrategy, StrategyCatalog,
};
use libfuzzer_sys::fuzz_target;

const CITY_GAS: &str = include_str!("../../gasbao-pricing/config/city_gas.toml");

#[derive(Debug, Arbitrary)]
struct Input {
    seconds: u32,
    residential: bool,
    inventory: Option<FuzzDecimal>,
    distance_km: FuzzDecimal,
    utilisation: FuzzDecimal,
    cost: FuzzDecimal,
    shipping: Option<FuzzDecimal>,
    trucking_km: FuzzDecimal,
    days_in_storage: u32,
    sng_year: u16,
    supply: [Option<FuzzDecimal>; 3],
}

fuzz_target!(|input: Input| {
    let Ok(setup) = PricingSetup::from_toml(CITY_GAS, &StrategyCatalog::builtin()) else {
        panic!("reference config")
    };
    let (Some(pipeline), Some(lng), Some(sng)) = (
        setup.handle::<PipelineStrategy>("west-east-pipeline"),
        setup.handle::<LngStrategy>("coastal-lng"),
        setup.handle::<SngStrategy>("sng-contract"),
    ) else {
        panic!("reference sources")
    };
    let at = LocalTime::from_hms(input.seconds / 3600 % 24, input.seconds / 60 % 60, input.seconds % 60)
        .unwrap_or(LocalTime::MIDNIGHT);
    let class = if input.residential {
        CustomerClass::Residential
    } else {
        CustomerClass::NonResidential
    };
    let price = |d: FuzzDecimal| UnitPrice::new(d.get().abs()).unwrap_or(UnitPrice::ZERO);
    let cargo = match input.shipping {
        None => LngCargo::Landed {
            cost: price(input.cost),
        },
        Some(shipping) => LngCargo::ExShip {
            cost: price(input.cost),
            shipping: price(shipping),
        },
    };
    let Ok(date) = gasbao_core::Date::new(i32::from(input.sng_year % 60) + 2000, 6, 1) else {
        return;
    };
    let mut request = QuoteRequest::new(at, class)
        .with_input(
            &pipeline,
            PipelineInput {
                distance_km: input.distance_km.get(),
                utilisation: input.utilisation.get(),
            },
        )
        .with_input(
            &lng,
            LngInput {
                cargo,
                trucking_km: input.trucking_km.get(),
                days_in_storage: input.days_in_storage,
            },
        )
        .with_input(&sng, SngInput { date });
    for (id, supply) in ["west-east-pipeline", "coastal-lng", "sng-contract"]
        .iter()
        .zip(input.supply)
    {
        if let Some(supply) = supply {
            request = request.with_supply(id, supply.volume());
        }
    }
    if let Some(ratio) = input.inventory {
        request = request.with_inventory_ratio(ratio.get());
    }
    if let Ok(quote) = setup.quote(&request) {
        gasbao_fuzz::check_quote_laws(&quote);
    }
});
