//! Laws every quote keeps, over random markets.

use gasbao_core::{UnitPrice, Volume};
use gasbao_pricing::{
    CustomerClass, FixedPrice, InventoryBand, InventoryFactor, LocalTime, MarketRules, NonResidentialBand,
    PricingSetup, Quote, QuoteRequest, RegulatoryBand, SourceRegistry, TimeOfUse, TimeOfUsePeriod,
};
use proptest::prelude::*;
use rust_decimal::Decimal;

#[derive(Debug, Clone)]
struct Market {
    /// Per source: price (CNY/m3, 4 decimals) and supply volume (m3).
    sources: Vec<(Decimal, u64)>,
    time_of_use: Option<Decimal>,
    inventory: Option<Decimal>,
    cap: Decimal,
    floor: Option<Decimal>,
    class: CustomerClass,
}

fn market() -> impl Strategy<Value = Market> {
    let source = (0i64..100_000, 0u64..1_000_000).prop_map(|(p, v)| (Decimal::new(p, 4), v));
    let multiplier = (1i64..300).prop_map(|m| Decimal::new(m, 2));
    (
        proptest::collection::vec(source, 1..6),
        proptest::option::of(multiplier.clone()),
        proptest::option::of(multiplier),
        1i64..2_000_000,
        proptest::option::of(0i64..100),
        any::<bool>(),
    )
        .prop_filter("some supply", |(sources, ..)| sources.iter().any(|(_, v)| *v > 0))
        .prop_map(|(sources, time_of_use, inventory, cap, floor, residential)| Market {
            sources,
            time_of_use,
            inventory,
            cap: Decimal::new(cap, 5),
            floor: floor.map(|f| Decimal::new(f, 2)),
            class: if residential {
                CustomerClass::Residential
            } else {
                CustomerClass::NonResidential
            },
        })
}

/// The setup and a request for `market`, with supply volumes scaled by `scale`.
fn quote(market: &Market, scale: u64) -> Quote {
    let mut sources = SourceRegistry::new();
    let mut request = QuoteRequest::new(LocalTime::MIDNIGHT, market.class).with_inventory_ratio(Decimal::new(5, 1));
    for (index, (price, supply)) in market.sources.iter().enumerate() {
        let id = format!("s{index}");
        let handle = sources
            .register(
                &id,
                FixedPrice {
                    price: UnitPrice::new(*price).unwrap(),
                },
                None,
            )
            .unwrap();
        request = request
            .with_input(&handle, ())
            .with_supply(&id, Volume::from_whole_m3(supply * scale));
    }
    let cap = UnitPrice::new(market.cap).unwrap();
    // Non-residential cap is benchmark x 1.2: use cap / 1.2 as the benchmark.
    let non_residential = NonResidentialBand {
        benchmark: UnitPrice::new(market.cap / Decimal::new(12, 1)).unwrap(),
        max_rise_percent: Decimal::from(20),
        floor: market.floor.map(|f| UnitPrice::new(f).unwrap()),
    };
    let band = RegulatoryBand::new(Some(cap), Some(non_residential));
    let Ok(band) = band else {
        // A floor above the cap is refused at configuration; nothing to quote.
        return quote(
            &Market {
                floor: None,
                ..market.clone()
            },
            scale,
        );
    };
    let rules = MarketRules {
        time_of_use: market.time_of_use.map(|multiplier| {
            TimeOfUse::new(vec![TimeOfUsePeriod {
                name: "all day".into(),
                from: LocalTime::MIDNIGHT,
                to: LocalTime::MIDNIGHT,
                multiplier,
            }])
            .unwrap()
        }),
        inventory: market.inventory.map(|multiplier| {
            InventoryFactor::new(vec![InventoryBand {
                below: None,
                multiplier,
            }])
            .unwrap()
        }),
        band,
        ..MarketRules::default()
    };
    PricingSetup::new("law", sources, rules)
        .unwrap()
        .quote(&request)
        .unwrap()
}

proptest! {
    #[test]
    fn blend_lies_between_the_cheapest_and_dearest_supplied_source(m in market()) {
        let q = quote(&m, 1);
        let supplied = m.sources.iter().filter(|(_, v)| *v > 0).map(|(p, _)| *p);
        let (low, high) = (supplied.clone().min().unwrap(), supplied.max().unwrap());
        prop_assert!(low <= q.blended && q.blended <= high, "{} not in [{low}, {high}]", q.blended);
    }

    #[test]
    fn weights_are_scale_invariant(m in market(), k in 2u64..10_000) {
        let (one, scaled) = (quote(&m, 1), quote(&m, k));
        prop_assert_eq!(one.blended, scaled.blended);
        prop_assert_eq!(one.price, scaled.price);
    }

    /// Whole fen, never above the regulator's true limit, never below a floor.
    #[test]
    fn the_band_always_holds(m in market()) {
        let q = quote(&m, 1);
        let price = q.price.value();
        prop_assert!(price.normalize().scale() <= 2, "{price} is not whole fen");
        let limit = match m.class {
            CustomerClass::Residential => m.cap,
            _ => m.cap / Decimal::new(12, 1) * Decimal::new(12, 1),
        };
        prop_assert!(price <= limit, "{price} above {limit}");
        if let (Some(floor), CustomerClass::NonResidential) = (q.band.floor, m.class) {
            prop_assert!(price >= floor);
            prop_assert!(m.floor.is_some_and(|f| floor >= f));
        }
    }

    /// Every step against the same steps in exact rational arithmetic: the
    /// supply-weighted blend, each factor, the rounding to the fen and the
    /// band, with the roundings the crate documents (half-even at the carry
    /// scale, the setup's mode to the fen, caps down and floors up).
    #[test]
    fn each_step_matches_exact_arithmetic(m in market()) {
        let q = quote(&m, 1);
        let (blended, price) = exact::quote(&m);
        prop_assert_eq!(q.blended, blended, "blend");
        prop_assert_eq!(q.price.value(), price, "price");
    }
}

/// The quote worked out with big-integer fractions, independently of the crate.
mod exact {
    use gasbao_pricing::CustomerClass;
    use num_bigint::BigInt;
    use rust_decimal::Decimal;

    use super::Market;

    /// `num / den`, `den > 0`.
    #[derive(Clone)]
    struct Q(BigInt, BigInt);

    #[derive(Clone, Copy)]
    enum Mode {
        HalfEven,
        HalfUp,
        Down,
        Up,
    }

    fn pow10(exp: u32) -> BigInt {
        BigInt::from(10u8).pow(exp)
    }

    fn of(d: Decimal) -> Q {
        Q(BigInt::from(d.mantissa()), pow10(d.scale()))
    }

    fn mul(a: &Q, b: &Q) -> Q {
        Q(&a.0 * &b.0, &a.1 * &b.1)
    }

    /// `q` to `places` decimals (non-negative values only, as prices are).
    fn round(q: &Q, places: u32, mode: Mode) -> Q {
        let scaled = &q.0 * pow10(places);
        let (whole, rest) = (&scaled / &q.1, &scaled % &q.1);
        let zero = BigInt::from(0u8);
        let twice = &rest * 2u8;
        let up = match mode {
            Mode::Down => false,
            Mode::Up => rest != zero,
            Mode::HalfUp => twice >= q.1,
            Mode::HalfEven => twice > q.1 || (twice == q.1 && (&whole % 2u8) != zero),
        };
        Q(if up { whole + 1u8 } else { whole }, pow10(places))
    }

    fn to_decimal(q: &Q) -> Decimal {
        // Every value here is a rounded one: an integer over a power of ten.
        let scale = q.1.to_string().len() as u32 - 1;
        let mut d: Decimal = q.0.to_string().parse().unwrap();
        d.set_scale(scale).unwrap();
        d
    }

    fn less(a: &Q, b: &Q) -> bool {
        &a.0 * &b.1 < &b.0 * &a.1
    }

    /// The blended price and the final price of `m`'s quote.
    pub(super) fn quote(m: &Market) -> (Decimal, Decimal) {
        let (mut num, mut den) = (BigInt::from(0u8), BigInt::from(0u8));
        for (price, supply) in &m.sources {
            let p = of(*price);
            // p.0 / p.1 * supply, over a common denominator 10^4.
            num += &p.0 * BigInt::from(*supply) * (pow10(4) / &p.1);
            den += BigInt::from(*supply) * pow10(4);
        }
        let blended = round(&Q(num, den), 10, Mode::HalfEven);
        let mut price = blended.clone();
        for multiplier in [m.time_of_use, m.inventory].into_iter().flatten() {
            price = round(&mul(&price, &of(multiplier)), 10, Mode::HalfEven);
        }
        let rounded = round(&price, 2, Mode::HalfUp);
        let benchmark = of(m.cap / Decimal::new(12, 1));
        let business_cap = round(
            &mul(&benchmark, &Q(BigInt::from(12u8), BigInt::from(10u8))),
            2,
            Mode::Down,
        );
        // A floor above the cap is refused at configuration, and the test then quotes without one.
        let floor = m
            .floor
            .map(|f| round(&of(f), 2, Mode::Up))
            .filter(|f| !less(&business_cap, f));
        let (cap, floor) = match m.class {
            CustomerClass::Residential => (round(&of(m.cap), 2, Mode::Down), None),
            _ => (business_cap, floor),
        };
        let final_price = if less(&cap, &rounded) {
            cap
        } else if floor.as_ref().is_some_and(|f| less(&rounded, f)) {
            floor.unwrap()
        } else {
            rounded
        };
        (to_decimal(&blended), to_decimal(&final_price))
    }
}
