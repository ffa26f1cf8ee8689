//! Arbitrary schedules (entries, seasons, cycle) and meter periods: billing
//! never panics, segments tile the period and conserve volume and money.
#![no_main]

use arbitrary::Arbitrary;
use gasbao_core::{
    BillingCycle, MeterPeriod, Money, ScheduleEntry, Season, SeasonalTariff, TariffSchedule, Tier, TieredTariff, Volume,
};
use gasbao_fuzz::{FuzzDate, FuzzDecimal, FuzzHousehold, FuzzReading, FuzzRounding};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct FuzzSeason {
    months: Vec<u8>,
    tiers: Vec<(Option<FuzzDecimal>, FuzzDecimal)>,
}

#[derive(Debug, Arbitrary)]
struct Input {
    cycle: (u8, u8),
    entries: Vec<(FuzzDate, Vec<FuzzSeason>)>,
    proration: (u8, FuzzRounding),
    readings: Vec<FuzzReading>,
    prior: FuzzDecimal,
    household: FuzzHousehold,
}

fn tariff(tiers: &[(Option<FuzzDecimal>, FuzzDecimal)]) -> Option<TieredTariff> {
    TieredTariff::new(
        tiers
            .iter()
            .map(|(up_to, p)| Tier {
                up_to: up_to.map(FuzzDecimal::volume),
                price: p.price(),
            })
            .collect(),
    )
    .ok()
}

fuzz_target!(|input: Input| {
    let Ok(cycle) = BillingCycle::starting(input.cycle.0, input.cycle.1) else {
        return;
    };
    let mut entries = Vec::new();
    for (date, seasons) in input.entries.iter().take(8) {
        let Some(effective_from) = date.get() else { return };
        let seasons: Option<Vec<Season>> = seasons
            .iter()
            .take(4)
            .map(|s| {
                Some(Season {
                    name: String::new(),
                    months: s.months.clone(),
                    tariff: tariff(&s.tiers)?,
                })
            })
            .collect();
        let Some(Ok(tariff)) = seasons.map(SeasonalTariff::new) else {
            return;
        };
        entries.push(ScheduleEntry { effective_from, tariff });
    }
    let Ok(schedule) = TariffSchedule::new(cycle, entries) else {
        return;
    };
    let schedule = schedule.with_proration(u32::from(input.proration.0 % 30), input.proration.1.get());
    let Some(readings) = input
        .readings
        .iter()
        .take(6)
        .map(|r| r.get())
        .collect::<Option<Vec<_>>>()
    else {
        return;
    };
    let Ok(period) = MeterPeriod::try_from(readings) else {
        return;
    };
    let Ok(bill) = schedule.bill(&period, input.prior.volume(), &input.household.get()) else {
        return;
    };

    let segments = bill.segments();
    assert_eq!(segments.first().map(|s| s.start), Some(period.start().date));
    assert_eq!(segments.last().map(|s| s.end), Some(period.end().date));
    assert!(segments.windows(2).all(|w| w[0].end == w[1].start));
    // Lines within a segment, then segments in order: the order in which the
    // bill itself checks that every partial sum is representable.
    let volume = segments.iter().try_fold(Volume::ZERO, |sum, s| {
        let lines = s
            .bill
            .lines()
            .iter()
            .try_fold(Volume::ZERO, |acc, l| acc.checked_add(l.volume))?;
        assert_eq!(lines, s.bill.volume());
        sum.checked_add(lines)
    });
    assert_eq!(volume, Some(period.consumption()));
    assert_eq!(bill.volume(), period.consumption());
    assert_eq!(
        Money::checked_sum(segments.iter().map(|s| s.bill.total())),
        Some(bill.total())
    );
});
