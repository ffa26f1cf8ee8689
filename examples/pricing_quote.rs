//! Loads a pricing configuration (TOML) and prints a day of quotes at hourly
//! steps for a residential and a business customer, with one hour's full
//! breakdown.
//!
//! Run with `cargo run --example pricing_quote [path/to/config.toml]`; without
//! a path it uses `gasbao-pricing/config/city_gas.toml`.

use std::error::Error;

use gasbao::core::Volume;
use gasbao::pricing::{
    Bound, CustomerClass, LngCargo, LngInput, LngStrategy, LocalTime, PipelineInput, PipelineStrategy, Pricer,
    PricingSetup, Quote, QuoteRequest, SngInput, SngStrategy, StrategyCatalog,
};
use rust_decimal::Decimal;

const DEFAULT_CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/gasbao-pricing/config/city_gas.toml");

fn main() -> Result<(), Box<dyn Error>> {
    let path = std::env::args().nth(1).unwrap_or_else(|| DEFAULT_CONFIG.to_owned());
    let document = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let pricer = Pricer::new(PricingSetup::from_toml(&document, &StrategyCatalog::builtin())?);
    let setup = pricer.setup();
    println!("configuration {path}, revision {:?}\n", setup.revision());

    let pipeline = setup
        .handle::<PipelineStrategy>("west-east-pipeline")
        .ok_or("no pipeline source")?;
    let lng = setup.handle::<LngStrategy>("coastal-lng").ok_or("no LNG source")?;
    let sng = setup.handle::<SngStrategy>("sng-contract").ok_or("no SNG source")?;

    let date = "2026-11-21".parse()?;
    let landed_cost = "2.80".parse()?;
    println!("hour      pipeline util.  inventory  residential  business");
    let mut breakdown = None;
    for hour in 0..24 {
        // Demand peaks in the morning and evening: the pipeline runs fuller and
        // more LNG is trucked in, while storage drains through the day.
        let peak = matches!(hour, 7..=9 | 17..=20);
        let utilisation = Decimal::new(if peak { 95 } else { 70 }, 2);
        let inventory = Decimal::new(50 - hour * 2, 2);
        let lng_supply = if peak { 8_000 } else { 1_000 };
        let at = LocalTime::from_hms(hour as u32, 0, 0).ok_or("bad hour")?;
        let request = |customer| {
            QuoteRequest::new(at, customer)
                .with_input(
                    &pipeline,
                    PipelineInput {
                        distance_km: Decimal::from(400),
                        utilisation,
                    },
                )
                .with_input(
                    &lng,
                    LngInput {
                        cargo: LngCargo::Landed { cost: landed_cost },
                        trucking_km: Decimal::from(150),
                        days_in_storage: 10,
                    },
                )
                .with_input(&sng, SngInput { date })
                .with_supply(pipeline.id(), Volume::from_whole_m3(6_000))
                .with_supply(lng.id(), Volume::from_whole_m3(lng_supply))
                .with_supply(sng.id(), Volume::from_whole_m3(3_000))
                .with_inventory_ratio(inventory)
        };
        let residential = pricer.quote(&request(CustomerClass::Residential))?;
        let business = pricer.quote(&request(CustomerClass::NonResidential))?;
        println!(
            "{at}  {utilisation:>14}  {inventory:>9}  {:>11}  {:>8}",
            marked(&residential),
            marked(&business)
        );
        if hour == 18 {
            breakdown = Some(residential);
        }
    }
    println!("\n(* the regulatory cap bound)\n");
    if let Some(quote) = breakdown {
        print_breakdown(&quote);
    }
    Ok(())
}

fn marked(quote: &Quote) -> String {
    let star = if quote.band.bound.is_some() { "*" } else { " " };
    format!("{}{star}", quote.price)
}

fn print_breakdown(quote: &Quote) {
    println!("breakdown of the residential quote at {}:", quote.at);
    for source in &quote.sources {
        let parts: Vec<String> = source
            .components
            .iter()
            .map(|c| format!("{} {}", c.name, c.amount))
            .collect();
        println!(
            "  {:<20} {:>12} x weight {:>6}   ({})",
            source.id,
            source.price,
            source.weight,
            parts.join(" + ")
        );
    }
    println!("  {:<20} {:>12}", "blended", quote.blended);
    for factor in &quote.factors {
        println!(
            "  {:<20} {:>12}   (x {})",
            factor.factor.to_string(),
            factor.effect,
            factor.multiplier
        );
    }
    println!("  {:<20} {:>12}", "rounding", quote.rounding);
    let bound = match quote.band.bound {
        Some(Bound::Cap) => "the cap bound",
        Some(Bound::Floor) => "the floor bound",
        None => "within the band",
    };
    println!("  {:<20} {:>12}   ({bound})", "band", quote.band.effect);
    println!("  {:<20} {:>12}", "price", quote.price);
}
