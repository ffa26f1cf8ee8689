//! Arbitrary tiers, household, prior volume and consumption: building and
//! billing never panic, and every bill keeps the laws users rely on.
#![no_main]

use std::num::NonZeroU32;

use arbitrary::Arbitrary;
use gasbao_core::{LargeHouseholdAllowance, Money, Tier, TieredTariff, Volume, fee};
use gasbao_fuzz::{FuzzDecimal, FuzzHousehold, FuzzRounding};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    tiers: Vec<(Option<FuzzDecimal>, FuzzDecimal)>,
    allowance: Option<(u8, FuzzDecimal)>,
    rounding: FuzzRounding,
    household: FuzzHousehold,
    prior: FuzzDecimal,
    consumption: FuzzDecimal,
    extra: FuzzDecimal,
    base: i64,
}

fuzz_target!(|input: Input| {
    let tiers = input
        .tiers
        .iter()
        .map(|(up_to, price)| Tier {
            up_to: up_to.map(FuzzDecimal::volume),
            price: price.price(),
        })
        .collect();
    let Ok(tariff) = TieredTariff::new(tiers) else { return };
    let mut tariff = tariff.with_rounding(input.rounding.get());
    if let Some((Some(min_members), extra)) = input.allowance.map(|(m, e)| (NonZeroU32::new(m.into()), e)) {
        tariff = tariff.with_large_household_allowance(LargeHouseholdAllowance {
            min_members,
            extra: extra.volume(),
        });
    }
    let Ok(tariff) = tariff.for_household(&input.household.get()) else {
        return;
    };
    let (prior, consumption) = (input.prior.volume(), input.consumption.volume());
    let Ok(bill) = tariff.bill(prior, consumption) else {
        return;
    };

    // Line volumes sum exactly to the consumption; the total is the sum of the lines.
    let line_volumes = bill
        .lines()
        .iter()
        .try_fold(Volume::ZERO, |sum, l| sum.checked_add(l.volume));
    assert_eq!(line_volumes, Some(consumption));
    assert_eq!(bill.volume(), consumption);
    assert_eq!(
        Money::checked_sum(bill.lines().iter().map(|l| l.amount)),
        Some(bill.total())
    );
    for line in bill.lines() {
        assert!(!line.volume.is_zero());
        assert_eq!(
            fee(Money::ZERO, line.price, line.volume, tariff.rounding()),
            Ok(line.amount)
        );
    }
    // More consumption never costs less.
    if let Some(more) = consumption.checked_add(input.extra.volume())
        && let Ok(bigger) = tariff.bill(prior, more)
    {
        assert!(bigger.total() >= bill.total());
    }
    // A zero-volume fee is the (whole-fen) base.
    if let Some(tier) = tariff.tiers().first() {
        let base = Money::from_fen(input.base);
        assert_eq!(fee(base, tier.price, Volume::ZERO, tariff.rounding()), Ok(base));
    }
});
