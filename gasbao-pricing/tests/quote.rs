//! Quotes for the reference configuration, worked out by hand.
//!
//! Source prices: pipeline 2.05 + 0.30 x 400 / 1000 + 0.08 = 2.25;
//! LNG 2.80 + 0.0006 x 150 + 0.25 + 10 x 0.002 = 3.16;
//! SNG 2.30 x 1.02^3 = 2.4407784 (three contract years to 2026-11-21).

mod common;

use common::{dec, quote};
use gasbao_core::UnitPrice;
use gasbao_pricing::{Bound, CustomerClass, Factor, Quote};
use rust_decimal::Decimal;

fn price(text: &str) -> UnitPrice {
    text.parse().unwrap()
}

/// blended + factor effects + rounding + band effect.
fn replayed(quote: &Quote) -> Decimal {
    let factors: Decimal = quote.factors.iter().map(|f| f.effect).sum();
    quote.blended + factors + quote.rounding + quote.band.effect
}

#[test]
fn source_prices_are_itemised() {
    let quote = quote("12:00", CustomerClass::Residential, [6000, 1000, 3000], "0.5");
    let prices: Vec<_> = quote.sources.iter().map(|s| (&*s.id, s.price)).collect();
    assert_eq!(
        prices,
        [
            ("west-east-pipeline", dec("2.25")),
            ("coastal-lng", dec("3.16")),
            ("sng-contract", dec("2.4407784"))
        ]
    );
    let pipeline: Vec<_> = quote.sources[0]
        .components
        .iter()
        .map(|c| (c.name.as_ref(), c.amount))
        .collect();
    assert_eq!(
        pipeline,
        [
            ("city-gate", dec("2.05")),
            ("transport", dec("0.12")),
            ("utilisation surcharge", dec("0.08"))
        ]
    );
}

#[test]
fn pipeline_heavy_mix_at_peak_and_valley_cap_not_binding() {
    // (6000 x 2.25 + 1000 x 3.16 + 3000 x 2.4407784) / 10000 = 2.39823352.
    let peak = quote("08:00", CustomerClass::Residential, [6000, 1000, 3000], "0.5");
    assert_eq!(peak.blended, dec("2.39823352"));
    // x 1.15 = 2.757968548; inventory 0.5 is in the x 1.00 band; half-up 2.76.
    assert_eq!(
        peak.factors[0].factor,
        Factor::TimeOfUse {
            period: "morning peak".into()
        }
    );
    assert_eq!(peak.factors[0].effect, dec("0.359735028"));
    assert_eq!(peak.factors[1].effect, Decimal::ZERO);
    assert_eq!(peak.price, price("2.76"));
    assert_eq!(peak.band.bound, None);
    // x 0.90 = 2.158410168 -> 2.16.
    let valley = quote("02:00", CustomerClass::Residential, [6000, 1000, 3000], "0.5");
    assert_eq!(valley.price, price("2.16"));
    for quote in [&peak, &valley] {
        assert_eq!(replayed(quote), quote.price.value());
        assert_eq!(&*quote.revision, "2026-11 city gas");
    }
}

#[test]
fn lng_heavy_mix_at_peak_hits_the_cap() {
    // (1000 x 2.25 + 8000 x 3.16 + 1000 x 2.4407784) / 10000 = 2.99707784;
    // peak: 3.446639516 -> 3.45, above both caps.
    let residential = quote("18:30", CustomerClass::Residential, [1000, 8000, 1000], "0.5");
    assert_eq!(residential.blended, dec("2.99707784"));
    assert_eq!(residential.rounding, dec("0.003360484"));
    assert_eq!(residential.band.bound, Some(Bound::Cap));
    assert_eq!(residential.band.effect, dec("-0.45"));
    assert_eq!(residential.price, price("3.00"));
    // Non-residential: benchmark 2.60 may rise 20% to 3.12.
    let business = quote("18:30", CustomerClass::NonResidential, [1000, 8000, 1000], "0.5");
    assert_eq!(business.band.cap, Some(dec("3.12")));
    assert_eq!(business.price, price("3.12"));
    // Valley: 2.697370056 -> 2.70, under the cap.
    let valley = quote("23:30", CustomerClass::Residential, [1000, 8000, 1000], "0.5");
    assert_eq!(valley.price, price("2.70"));
    assert_eq!(valley.band.bound, None);
    for quote in [&residential, &business, &valley] {
        assert_eq!(replayed(quote), quote.price.value());
    }
}

#[test]
fn scarce_inventory_raises_the_price() {
    // 2.39823352 x 1.15 x 1.05 = 2.8958669754 -> 2.90.
    let quote = quote("08:00", CustomerClass::Residential, [6000, 1000, 3000], "0.1");
    assert_eq!(quote.factors[1].factor, Factor::Inventory { ratio: dec("0.1") });
    assert_eq!(quote.factors[1].effect, dec("0.1378984274"));
    assert_eq!(quote.price, price("2.90"));
}

#[test]
fn quotes_are_stored_and_read_back_unchanged() {
    let quote = quote("08:00", CustomerClass::Residential, [6000, 1000, 3000], "0.5");
    let json = serde_json::to_string(&quote).unwrap();
    assert_eq!(serde_json::from_str::<Quote>(&json).unwrap(), quote);
}

/// A strategy of the caller's own, naming its kind.
#[derive(Debug)]
struct Biogas;

impl gasbao_pricing::PricingStrategy for Biogas {
    type Input = ();

    fn price(&self, _input: &()) -> Result<gasbao_pricing::SourcePrice, gasbao_pricing::StrategyError> {
        gasbao_pricing::SourcePrice::from_components(vec![("digester".into(), dec("1.90"))])
    }

    fn kind(&self) -> &'static str {
        "biogas"
    }
}

/// Any strategy that keeps the default kind.
#[derive(Debug)]
struct Unnamed;

impl gasbao_pricing::PricingStrategy for Unnamed {
    type Input = ();

    fn price(&self, _input: &()) -> Result<gasbao_pricing::SourcePrice, gasbao_pricing::StrategyError> {
        gasbao_pricing::SourcePrice::from_components(vec![("flat".into(), dec("2.00"))])
    }
}

#[test]
fn a_source_registered_in_code_has_the_kind_its_strategy_names() {
    use gasbao_core::Volume;
    use gasbao_pricing::{FixedPrice, LocalTime, QuoteRequest, SourceRegistry};

    let mut sources = SourceRegistry::new();
    let well = sources
        .register(
            "well",
            FixedPrice {
                price: UnitPrice::from_fen_per_m3(210),
            },
            None,
        )
        .unwrap();
    let farm = sources.register("farm", Biogas, None).unwrap();
    let other = sources.register("other", Unnamed, None).unwrap();
    let setup = residential_setup(sources);
    let request = QuoteRequest::new(LocalTime::MIDNIGHT, CustomerClass::Residential)
        .with_input(&well, ())
        .with_input(&farm, ())
        .with_input(&other, ())
        .with_supply(well.id(), Volume::from_whole_m3(10))
        .with_supply(farm.id(), Volume::from_whole_m3(10))
        .with_supply(other.id(), Volume::from_whole_m3(10));
    let quote: Quote = setup.quote(&request).unwrap();
    let kinds: Vec<(&str, &str)> = quote.sources.iter().map(|s| (&*s.id, &*s.kind)).collect();
    // The same names a configuration would use, whatever the compiler calls the types.
    assert_eq!(kinds, [("well", "fixed"), ("farm", "biogas"), ("other", "custom")]);
}

/// A source whose price feed is down, reporting the feed's own error.
#[derive(Debug)]
struct FeedDown;

impl gasbao_pricing::PricingStrategy for FeedDown {
    type Input = ();

    fn price(&self, _input: &()) -> Result<gasbao_pricing::SourcePrice, gasbao_pricing::StrategyError> {
        let feed = std::io::Error::new(std::io::ErrorKind::TimedOut, "LNG spot feed timed out");
        Err(gasbao_pricing::StrategyError::custom(feed))
    }
}

#[test]
fn a_strategys_own_error_reaches_the_caller_as_the_cause() {
    use gasbao_core::Volume;
    use gasbao_pricing::{LocalTime, QuoteError, QuoteRequest, SourceRegistry, StrategyError};

    let mut sources = SourceRegistry::new();
    let spot = sources.register("spot", FeedDown, None).unwrap();
    let setup = residential_setup(sources);
    let request = QuoteRequest::new(LocalTime::MIDNIGHT, CustomerClass::Residential)
        .with_input(&spot, ())
        .with_supply(spot.id(), Volume::from_whole_m3(1));
    let error = setup.quote(&request).unwrap_err();
    let QuoteError::Strategy {
        source_id,
        source: StrategyError::Custom(cause),
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!(source_id, "spot");
    let io = cause
        .downcast_ref::<std::io::Error>()
        .expect("the caller's own error type");
    assert_eq!(
        (io.kind(), io.to_string()),
        (std::io::ErrorKind::TimedOut, "LNG spot feed timed out".to_owned())
    );
}

/// `sources` under a residential cap of 3.00, for the strategy tests above.
fn residential_setup(sources: gasbao_pricing::SourceRegistry) -> gasbao_pricing::PricingSetup {
    let band = gasbao_pricing::RegulatoryBand::new(Some(UnitPrice::from_fen_per_m3(300)), None).unwrap();
    let rules = gasbao_pricing::MarketRules {
        band,
        ..gasbao_pricing::MarketRules::default()
    };
    gasbao_pricing::PricingSetup::new("r1", sources, rules).unwrap()
}
