//! TieredTariff: published tables billed by hand, validation, and the laws of a bill.

mod common;

use std::num::NonZeroU32;

use common::{line_volumes, money, price, vol};
use gasbao_core::{
    Bill, Household, LargeHouseholdAllowance, Money, RoundingMode, Step, TariffError, Tier, TierProblem, TieredTariff,
    Volume, published,
};
use proptest::prelude::*;
use rust_decimal::Decimal;

/// `(tier, volume, amount)` per line, for comparing with hand-worked tables.
fn lines(bill: &Bill) -> Vec<(usize, Volume, Money)> {
    bill.lines().iter().map(|l| (l.tier, l.volume, l.amount)).collect()
}

#[test]
fn beijing_bills_worked_out_by_hand() {
    // Thresholds 350 / 500 m3; prices 2.61 / 2.83 / 4.23.
    let beijing = published::beijing_residential();
    /// `(prior, used, [(tier, volume, amount)], total)`.
    type Case = (
        &'static str,
        &'static str,
        &'static [(usize, &'static str, &'static str)],
        &'static str,
    );
    let cases: [Case; 7] = [
        ("0", "100", &[(1, "100", "261.00")], "261.00"),
        // Exactly at the threshold: all tier 1.
        ("0", "350", &[(1, "350", "913.50")], "913.50"),
        // One litre over: 0.001 x 2.83 = 0.00283, rounds to 0.00 but is still a line.
        ("0", "350.001", &[(1, "350", "913.50"), (2, "0.001", "0.00")], "913.50"),
        // Straddling all three tiers: 50 x 2.61, 150 x 2.83, 50 x 4.23.
        (
            "300",
            "250",
            &[(1, "50", "130.50"), (2, "150", "424.50"), (3, "50", "211.50")],
            "766.50",
        ),
        ("600", "10", &[(3, "10", "42.30")], "42.30"),
        ("500", "0", &[], "0"),
        // 12.345 x 2.61 = 32.22045.
        ("0", "12.345", &[(1, "12.345", "32.22")], "32.22"),
    ];
    for (prior, used, expected_lines, total) in cases {
        let bill = beijing.bill(vol(prior), vol(used)).unwrap();
        let expected: Vec<_> = expected_lines.iter().map(|&(t, v, a)| (t, vol(v), money(a))).collect();
        assert_eq!(lines(&bill), expected, "prior {prior}, used {used}");
        assert_eq!(bill.total(), money(total), "prior {prior}, used {used}");
    }
}

#[test]
fn large_households_get_the_allowance_on_every_threshold() {
    // Beijing, 6 people: thresholds 500 / 650. 600 m3 from zero: 500 x 2.61 + 100 x 2.83.
    let six = published::beijing_residential()
        .for_household(&Household::of(6))
        .unwrap();
    let bill = six.bill(Volume::ZERO, vol("600")).unwrap();
    assert_eq!(
        lines(&bill),
        [(1, vol("500"), money("1305.00")), (2, vol("100"), money("283.00"))]
    );
    // 5 people do not qualify in Beijing: 350 x 2.61 + 150 x 2.83 + 100 x 4.23.
    let five = published::beijing_residential()
        .for_household(&Household::of(5))
        .unwrap();
    // 913.50 + 424.50 + 423.00.
    assert_eq!(five.bill(Volume::ZERO, vol("600")).unwrap().total(), money("1761.00"));
    // Shanghai, 5 people: thresholds 460 / 670. 300 m3 after 400: 60 x 3.00, 210 x 3.30, 30 x 4.20.
    let shanghai = published::shanghai_residential()
        .for_household(&Household::of(5))
        .unwrap();
    let bill = shanghai.bill(vol("400"), vol("300")).unwrap();
    assert_eq!(
        lines(&bill),
        [
            (1, vol("60"), money("180.00")),
            (2, vol("210"), money("693.00")),
            (3, vol("30"), money("126.00"))
        ]
    );
    // The adjusted tariff has no allowance left to apply twice.
    assert_eq!(shanghai.for_household(&Household::of(5)).unwrap(), shanghai);
}

#[test]
fn shanghai_published_table() {
    // 600 m3 from zero: 310 x 3.00 + 210 x 3.30 + 80 x 4.20.
    let bill = published::shanghai_residential()
        .bill(Volume::ZERO, vol("600"))
        .unwrap();
    assert_eq!(bill.total(), money("1959.00"));
    let schools = published::shanghai_schools_and_care_homes();
    assert_eq!(schools.bill(vol("10000"), vol("100")).unwrap().total(), money("305.00"));
}

#[test]
fn tier_one_only_households_pay_the_first_price_for_everything() {
    let low_income = Household::of(2).billed_at_tier_one();
    let tariff = published::beijing_residential().for_household(&low_income).unwrap();
    assert_eq!(tariff.bill(vol("600"), vol("100")).unwrap().total(), money("261.00"));
}

#[test]
fn total_is_the_sum_of_rounded_lines_not_the_rounded_exact_total() {
    // 0.5 x 2.61 = 1.305 -> 1.31 and 0.5 x 2.83 = 1.415 -> 1.42: the bill shows
    // 2.73, although the exact total 2.72 would round to 2.72.
    let bill = published::beijing_residential().bill(vol("349.5"), vol("1")).unwrap();
    assert_eq!(
        lines(&bill),
        [(1, vol("0.5"), money("1.31")), (2, vol("0.5"), money("1.42"))]
    );
    assert_eq!(bill.total(), money("2.73"));
    // With half-even: 1.30 + 1.42.
    let even = published::beijing_residential().with_rounding(RoundingMode::HalfEven);
    assert_eq!(even.bill(vol("349.5"), vol("1")).unwrap().total(), money("2.72"));
}

#[test]
fn invalid_tiers_are_named() {
    let p = price("1");
    assert_eq!(TieredTariff::new(vec![]), Err(TariffError::NoTiers));
    assert_eq!(
        TieredTariff::new(vec![
            Tier::up_to(vol("350"), p),
            Tier::up_to(vol("300"), p),
            Tier::above(p)
        ]),
        Err(TariffError::InvalidTier {
            tier: 2,
            problem: TierProblem::NotIncreasing {
                threshold: vol("300"),
                previous: vol("350")
            }
        })
    );
    assert_eq!(
        TieredTariff::new(vec![Tier::up_to(Volume::ZERO, p), Tier::above(p)]),
        Err(TariffError::InvalidTier {
            tier: 1,
            problem: TierProblem::NotIncreasing {
                threshold: Volume::ZERO,
                previous: Volume::ZERO
            }
        })
    );
    assert_eq!(
        TieredTariff::new(vec![Tier::above(p), Tier::above(p)]),
        Err(TariffError::InvalidTier {
            tier: 1,
            problem: TierProblem::OpenEndedBeforeLast
        })
    );
    assert_eq!(
        TieredTariff::new(vec![Tier::up_to(vol("350"), p)]),
        Err(TariffError::InvalidTier {
            tier: 1,
            problem: TierProblem::LastTierBounded { threshold: vol("350") }
        })
    );
}

#[test]
fn toml_document_matches_the_published_constructor() {
    let text = r#"
        rounding = "half_up"
        large_household = { min_members = 6, extra = "150" }
        tiers = [
            { up_to = "350", price = "2.61" },
            { up_to = "500", price = "2.83" },
            { price = "4.23" },
        ]
    "#;
    let parsed: TieredTariff = toml::from_str(text).unwrap();
    assert_eq!(parsed, published::beijing_residential());
    let bad = text.replace("\"500\"", "\"300\"");
    let err = toml::from_str::<TieredTariff>(&bad).unwrap_err().to_string();
    assert!(err.contains("tier 2 is invalid"), "{err}");
    let nobody = text.replace("min_members = 6", "min_members = 0");
    let err = toml::from_str::<TieredTariff>(&nobody).unwrap_err().to_string();
    assert!(err.contains("members"), "{err}");
    let negative = text.replace("\"2.83\"", "\"-2.83\"");
    let err = toml::from_str::<TieredTariff>(&negative).unwrap_err().to_string();
    assert!(err.contains("unit price must not be negative"), "{err}");
}

#[test]
fn huge_volumes_overflow_with_the_step() {
    // Found by fuzzing: MAX - 0.5 has 29 digits, so the second line's volume
    // cannot be represented. It must be an error, not a tier silently skipped.
    let half_then_rest = TieredTariff::new(vec![Tier::up_to(vol("0.5"), price("0")), Tier::above(price("1"))]).unwrap();
    assert_eq!(
        half_then_rest.bill(Volume::ZERO, Volume::new(Decimal::MAX).unwrap()),
        Err(TariffError::Overflow { step: Step::LineVolume })
    );
    let beijing = published::beijing_residential();
    let max = Volume::new(Decimal::MAX).unwrap();
    assert_eq!(
        beijing.bill(max, vol("0.001")),
        Err(TariffError::Overflow {
            step: Step::CumulativeVolume
        })
    );
    assert_eq!(
        beijing.bill(Volume::ZERO, max),
        Err(TariffError::Overflow { step: Step::LineAmount })
    );
    let allowance = TieredTariff::new(vec![Tier::up_to(max, price("1")), Tier::above(price("2"))])
        .unwrap()
        .with_large_household_allowance(LargeHouseholdAllowance {
            min_members: NonZeroU32::MIN,
            extra: vol("1"),
        });
    assert_eq!(
        allowance.for_household(&Household::of(1)),
        Err(TariffError::Overflow {
            step: Step::TierThreshold
        })
    );
}

/// A valid tariff of 1-5 tiers: increasing thresholds, prices with 2-4 decimals.
fn a_tariff() -> impl Strategy<Value = TieredTariff> {
    (
        proptest::collection::vec(1u64..100_000, 0..4),
        proptest::collection::vec((0i64..100_000, 2u32..=4), 5),
    )
        .prop_map(|(steps, prices)| {
            let mut threshold = 0u64;
            let mut tiers = Vec::new();
            for (step, &(p, s)) in steps.iter().zip(&prices) {
                threshold += step;
                tiers.push(Tier::up_to(
                    Volume::new(Decimal::new(threshold as i64, 1)).unwrap(),
                    price(&Decimal::new(p, s).to_string()),
                ));
            }
            let (p, s) = prices[4];
            tiers.push(Tier::above(price(&Decimal::new(p, s).to_string())));
            TieredTariff::new(tiers).unwrap()
        })
}

fn a_volume() -> impl Strategy<Value = Volume> {
    (0i64..100_000_000, 0u32..=3).prop_map(|(m, s)| Volume::new(Decimal::new(m, s)).unwrap())
}

proptest! {
    #[test]
    fn line_volumes_sum_to_consumption_and_lines_to_total(t in a_tariff(), prior in a_volume(), used in a_volume()) {
        let bill = t.bill(prior, used).unwrap();
        prop_assert_eq!(line_volumes(&bill), used);
        prop_assert_eq!(bill.volume(), used);
        prop_assert_eq!(Money::checked_sum(bill.lines().iter().map(|l| l.amount)), Some(bill.total()));
        prop_assert!(bill.lines().iter().all(|l| !l.volume.is_zero()));
        prop_assert!(bill.lines().windows(2).all(|w| w[0].tier < w[1].tier));
    }

    #[test]
    fn bill_is_monotone_in_consumption(t in a_tariff(), prior in a_volume(), a in a_volume(), b in a_volume()) {
        let (small, large) = if a <= b { (a, b) } else { (b, a) };
        prop_assert!(t.bill(prior, small).unwrap().total() <= t.bill(prior, large).unwrap().total());
    }

    /// Splitting consumption in two puts the same volume in each tier.
    #[test]
    fn splitting_consumption_keeps_tier_volumes(t in a_tariff(), prior in a_volume(), a in a_volume(), b in a_volume()) {
        let whole = t.bill(prior, a.checked_add(b).unwrap()).unwrap();
        let first = t.bill(prior, a).unwrap();
        let second = t.bill(prior.checked_add(a).unwrap(), b).unwrap();
        for tier in 1..=t.tiers().len() {
            let in_tier = |bill: &Bill| bill.lines().iter().filter(|l| l.tier == tier).map(|l| l.volume).fold(Volume::ZERO, |s, v| s.checked_add(v).unwrap());
            prop_assert_eq!(in_tier(&whole), in_tier(&first).checked_add(in_tier(&second)).unwrap());
        }
    }

    /// Consumption that ends exactly at a threshold stays in that tier; one
    /// litre more opens the next tier.
    #[test]
    fn thresholds_are_exact_at_the_boundary(t in a_tariff()) {
        for (index, tier) in t.tiers().iter().enumerate() {
            let Some(threshold) = tier.up_to else { continue };
            let at = t.bill(Volume::ZERO, threshold).unwrap();
            prop_assert_eq!(at.lines().last().map(|l| l.tier), Some(index + 1));
            let above = t.bill(Volume::ZERO, threshold.checked_add(vol("0.001")).unwrap()).unwrap();
            prop_assert_eq!(above.lines().last().map(|l| (l.tier, l.volume)), Some((index + 2, vol("0.001"))));
        }
    }

    #[test]
    fn serde_round_trips(t in a_tariff(), prior in a_volume(), used in a_volume()) {
        let json = serde_json::to_string(&t).unwrap();
        prop_assert_eq!(&serde_json::from_str::<TieredTariff>(&json).unwrap(), &t);
        let bill = t.bill(prior, used).unwrap();
        let json = serde_json::to_string(&bill).unwrap();
        prop_assert_eq!(serde_json::from_str::<Bill>(&json).unwrap(), bill);
    }

    #[test]
    fn huge_inputs_never_panic_and_keep_the_laws(t in a_tariff(), lo in any::<u32>(), mid in any::<u32>(), hi in any::<u32>(), scale in 0u32..=28, used in a_volume()) {
        let huge = Volume::new(Decimal::from_parts(lo, mid, hi, false, scale)).unwrap();
        for result in [t.bill(huge, used), t.bill(used, huge), t.bill(huge, huge)] {
            match result {
                Ok(bill) => {
                    prop_assert_eq!(Money::checked_sum(bill.lines().iter().map(|l| l.amount)), Some(bill.total()));
                    prop_assert_eq!(bill.lines().iter().try_fold(Volume::ZERO, |s, l| s.checked_add(l.volume)), Some(bill.volume()));
                }
                Err(TariffError::Overflow { .. }) => {}
                Err(other) => prop_assert!(false, "unexpected {other}"),
            }
        }
    }
}

#[test]
fn a_stored_bill_with_a_wrong_total_is_refused() {
    let bill = published::beijing_residential().bill(vol("300"), vol("100")).unwrap();
    let json = serde_json::to_string(&bill)
        .unwrap()
        .replace("\"272.00\"", "\"272.01\"");
    assert_eq!(bill.total(), money("272.00"));
    let err = serde_json::from_str::<Bill>(&json).unwrap_err().to_string();
    assert!(err.contains("differs from the sum"), "{err}");
}
