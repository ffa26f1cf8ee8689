//! TariffSchedule: splitting periods at price changes, seasons and cycle starts.

mod common;

use common::{date, line_volumes, money, price, reading, vol};
use gasbao_core::{
    BillingCycle, BillingError, Household, MeterPeriod, Money, PeriodBill, ScheduleEntry, ScheduleError, Season,
    SeasonalTariff, Step, TariffSchedule, Tier, TieredTariff, Volume, published,
};
use proptest::prelude::*;

/// `(start, end, total)` per segment.
fn segments(bill: &PeriodBill) -> Vec<(String, String, Money)> {
    bill.segments()
        .iter()
        .map(|s| (s.start.to_string(), s.end.to_string(), s.bill.total()))
        .collect()
}

fn seg(start: &str, end: &str, total: &str) -> (String, String, Money) {
    (start.to_owned(), end.to_owned(), money(total))
}

#[test]
fn price_change_without_a_reading_is_prorated_by_days() {
    // 40 m3 over 20 days; 9 days before 2018-07-10: 18 m3 at 2.61, 22 m3 at 2.96.
    let period = MeterPeriod::new(reading("2018-07-01", "100"), reading("2018-07-21", "140")).unwrap();
    let bill = published::beijing_residential_2018()
        .bill(&period, vol("100"), &Household::of(3))
        .unwrap();
    assert_eq!(
        segments(&bill),
        [
            seg("2018-07-01", "2018-07-10", "46.98"),
            seg("2018-07-10", "2018-07-21", "65.12")
        ]
    );
    assert_eq!(bill.total(), money("112.10"));
    assert_eq!(bill.cumulative_after(), vol("140"));
}

#[test]
fn price_change_with_a_reading_uses_the_reading() {
    // Read 130 on the change day: 30 m3 at 2.61, 10 m3 at 2.96.
    let period = MeterPeriod::new(reading("2018-07-01", "100"), reading("2018-07-21", "140"))
        .unwrap()
        .with_reading(reading("2018-07-10", "130"))
        .unwrap();
    let bill = published::beijing_residential_2018()
        .bill(&period, vol("100"), &Household::of(3))
        .unwrap();
    assert_eq!(bill.total(), money("107.90"));
}

#[test]
fn thresholds_stay_cumulative_across_a_price_change() {
    // From 330 m3: 18 m3 to 348 at 2.61 (46.98); then 2 m3 at 2.96 (5.92) and
    // 20 m3 at the new tier-2 price 3.18 (63.60).
    let period = MeterPeriod::new(reading("2018-07-01", "0"), reading("2018-07-21", "40")).unwrap();
    let bill = published::beijing_residential_2018()
        .bill(&period, vol("330"), &Household::of(3))
        .unwrap();
    let second = &bill.segments()[1];
    assert_eq!(second.prior_cumulative, vol("348"));
    assert_eq!(
        second
            .bill
            .lines()
            .iter()
            .map(|l| (l.tier, l.amount))
            .collect::<Vec<_>>(),
        [(1, money("5.92")), (2, money("63.60"))]
    );
    assert_eq!(bill.total(), money("116.50"));
}

#[test]
fn a_new_billing_cycle_restarts_the_tiers() {
    // 20 m3 over 2018-12-22 .. 2019-01-11, 10 days each side of New Year.
    // 2018: from 495, 5 m3 at 3.18 + 5 m3 at 4.58 = 38.80; 2019: 10 m3 at 2.96.
    let period = MeterPeriod::new(reading("2018-12-22", "0"), reading("2019-01-11", "20")).unwrap();
    let bill = published::beijing_residential_2018()
        .bill(&period, vol("495"), &Household::of(3))
        .unwrap();
    assert_eq!(
        segments(&bill),
        [
            seg("2018-12-22", "2019-01-01", "38.80"),
            seg("2019-01-01", "2019-01-11", "29.60")
        ]
    );
    assert_eq!(bill.segments()[1].prior_cumulative, Volume::ZERO);
    assert_eq!(bill.cumulative_after(), vol("10"));
}

#[test]
fn the_cycle_start_is_configurable() {
    // Heating year from 1 October; 100 m3 at 1.00 then 2.00. From 95 m3:
    // Sept: 5 at 1.00 + 5 at 2.00; Oct: 10 at 1.00 from zero.
    let tariff = TieredTariff::new(vec![Tier::up_to(vol("100"), price("1.00")), Tier::above(price("2.00"))]).unwrap();
    let schedule = TariffSchedule::new(
        BillingCycle::starting(10, 1).unwrap(),
        vec![ScheduleEntry {
            effective_from: date("2020-01-01"),
            tariff: tariff.into(),
        }],
    )
    .unwrap();
    let period = MeterPeriod::new(reading("2024-09-21", "0"), reading("2024-10-11", "20")).unwrap();
    let bill = schedule.bill(&period, vol("95"), &Household::of(1)).unwrap();
    assert_eq!(
        segments(&bill),
        [
            seg("2024-09-21", "2024-10-01", "15.00"),
            seg("2024-10-01", "2024-10-11", "10.00")
        ]
    );
}

#[test]
fn prorated_volumes_are_rounded_to_the_litre_and_still_sum_exactly() {
    // 1 m3 over 3 days, change after 1 day: 0.333 m3 at 3.00 and 0.667 m3 at 6.00.
    let schedule = TariffSchedule::new(
        BillingCycle::default(),
        vec![
            ScheduleEntry {
                effective_from: date("2018-01-01"),
                tariff: TieredTariff::flat(price("3.00")).into(),
            },
            ScheduleEntry {
                effective_from: date("2018-07-02"),
                tariff: TieredTariff::flat(price("6.00")).into(),
            },
        ],
    )
    .unwrap();
    let period = MeterPeriod::new(reading("2018-07-01", "0"), reading("2018-07-04", "1")).unwrap();
    let bill = schedule.bill(&period, Volume::ZERO, &Household::of(1)).unwrap();
    let volumes: Vec<_> = bill.segments().iter().map(|s| line_volumes(&s.bill)).collect();
    assert_eq!(volumes, [vol("0.333"), vol("0.667")]);
    // 0.999 -> 1.00 and 4.002 -> 4.00.
    assert_eq!(bill.total(), money("5.00"));
}

fn chongqing_schedule() -> TariffSchedule {
    // Thresholds and off-season prices are not in the reference data; these are test inputs.
    let seasonal =
        published::chongqing_residential([vol("300"), vol("600")], [price("1.72"), price("2.06"), price("2.58")])
            .unwrap();
    TariffSchedule::new(
        BillingCycle::default(),
        vec![ScheduleEntry {
            effective_from: date("2018-01-01"),
            tariff: seasonal,
        }],
    )
    .unwrap()
}

#[test]
fn seasonal_prices_split_at_the_season_change() {
    // 30 m3 over 2024-03-17 .. 2024-04-16: 15 days of peak season (2.13), 15 off (1.72).
    let period = MeterPeriod::new(reading("2024-03-17", "0"), reading("2024-04-16", "30")).unwrap();
    let schedule = chongqing_schedule();
    let bill = schedule.bill(&period, Volume::ZERO, &Household::of(3)).unwrap();
    assert_eq!(
        segments(&bill),
        [
            seg("2024-03-17", "2024-04-01", "31.95"),
            seg("2024-04-01", "2024-04-16", "25.80")
        ]
    );
    assert_eq!(bill.segments()[0].season, "peak");
    // Above both thresholds: 15 at 2.65 + 15 at 2.58 ...
    assert_eq!(
        schedule.bill(&period, vol("1000"), &Household::of(3)).unwrap().total(),
        money("78.45")
    );
    // ... unless the household is low-income: always the tier-1 price.
    let low_income = Household::of(3).billed_at_tier_one();
    assert_eq!(
        schedule.bill(&period, vol("1000"), &low_income).unwrap().total(),
        money("57.75")
    );
}

#[test]
fn billing_errors_name_the_problem() {
    let before = MeterPeriod::new(reading("2017-12-01", "0"), reading("2018-01-10", "5")).unwrap();
    assert_eq!(
        published::beijing_residential_2018().bill(&before, Volume::ZERO, &Household::of(1)),
        Err(BillingError::NoTariffInForce {
            date: date("2017-12-01"),
            first_effective: date("2018-01-01")
        })
    );
    assert_eq!(
        MeterPeriod::new(reading("2018-02-01", "0"), reading("2018-02-01", "5")),
        Err(BillingError::ReadingsOutOfOrder {
            date: date("2018-02-01"),
            previous: date("2018-02-01")
        })
    );
    assert_eq!(
        MeterPeriod::new(reading("2018-02-01", "10"), reading("2018-03-01", "5")),
        Err(BillingError::MeterWentBackwards {
            date: date("2018-03-01"),
            index: vol("5"),
            previous: vol("10")
        })
    );
    // Found by fuzzing: 16711790 - 792281.62514264337593543950335 needs 31
    // digits. The advance must be refused, not taken as zero.
    assert_eq!(
        MeterPeriod::new(
            reading("2018-02-01", "792281.62514264337593543950335"),
            reading("2018-03-01", "16711790")
        ),
        Err(BillingError::Overflow {
            step: Step::MeterAdvance
        })
    );
    let period = MeterPeriod::new(reading("2018-02-01", "0"), reading("2018-03-01", "5")).unwrap();
    assert_eq!(
        period.clone().with_reading(reading("2018-03-02", "6")),
        Err(BillingError::ReadingOutsidePeriod {
            date: date("2018-03-02"),
            start: date("2018-02-01"),
            end: date("2018-03-01")
        })
    );
    assert_eq!(
        period.with_reading(reading("2018-02-10", "7")),
        Err(BillingError::MeterWentBackwards {
            date: date("2018-03-01"),
            index: vol("5"),
            previous: vol("7")
        })
    );
}

#[test]
fn schedule_errors_name_the_problem() {
    let flat = || SeasonalTariff::from(TieredTariff::flat(price("1")));
    let entry = |d: &str| ScheduleEntry {
        effective_from: date(d),
        tariff: flat(),
    };
    assert_eq!(
        TariffSchedule::new(BillingCycle::default(), vec![]),
        Err(ScheduleError::NoEntries)
    );
    assert_eq!(
        TariffSchedule::new(BillingCycle::default(), vec![entry("2018-01-01"), entry("2018-01-01")]),
        Err(ScheduleError::DuplicateEffectiveDate {
            date: date("2018-01-01")
        })
    );
    assert_eq!(
        BillingCycle::starting(2, 29),
        Err(ScheduleError::InvalidCycleStart { month: 2, day: 29 })
    );
    let season = |months: Vec<u8>| Season {
        name: "s".into(),
        months,
        tariff: TieredTariff::flat(price("1")),
    };
    assert_eq!(
        SeasonalTariff::new(vec![season(vec![1, 2]), season(vec![2])]),
        Err(ScheduleError::MonthInTwoSeasons { month: 2 })
    );
    assert_eq!(
        SeasonalTariff::new(vec![season((1..=11).collect())]),
        Err(ScheduleError::MonthWithoutSeason { month: 12 })
    );
    assert_eq!(
        SeasonalTariff::new(vec![season(vec![13])]),
        Err(ScheduleError::InvalidMonth { month: 13 })
    );
}

#[test]
fn schedule_documents_round_trip_through_toml() {
    let text = r#"
        cycle = { start_month = 1, start_day = 1 }

        [[entries]]
        effective_from = "2018-01-01"
        [[entries.tariff]]
        name = "all year"
        tariff = { tiers = [{ up_to = "350", price = "2.61" }, { up_to = "500", price = "2.83" }, { price = "4.23" }], large_household = { min_members = 6, extra = "150" } }

        [[entries]]
        effective_from = "2018-07-10"
        [[entries.tariff]]
        name = "all year"
        tariff = { tiers = [{ up_to = "350", price = "2.96" }, { up_to = "500", price = "3.18" }, { price = "4.58" }], large_household = { min_members = 6, extra = "150" } }
    "#;
    let parsed: TariffSchedule = toml::from_str(text).unwrap();
    assert_eq!(parsed, published::beijing_residential_2018());
    let again: TariffSchedule = toml::from_str(&toml::to_string(&parsed).unwrap()).unwrap();
    assert_eq!(again, parsed);
}

/// Up to four readings within three years from 2018-03-01, indexes rising.
fn a_period() -> impl Strategy<Value = MeterPeriod> {
    proptest::collection::vec((1i32..400, 0i64..200_000), 1..4).prop_map(|steps| {
        let mut day = date("2018-03-01");
        let mut index = 0i64;
        let mut readings = vec![gasbao_core::MeterReading::new(day, Volume::ZERO)];
        for (days, used) in steps {
            // Walk forward `days` days by months and days.
            for _ in 0..days {
                day = next_day(day);
            }
            index += used;
            readings.push(gasbao_core::MeterReading::new(
                day,
                Volume::new(rust_decimal::Decimal::new(index, 2)).unwrap(),
            ));
        }
        MeterPeriod::try_from(readings).unwrap()
    })
}

fn next_day(d: gasbao_core::Date) -> gasbao_core::Date {
    gasbao_core::Date::new(d.year(), d.month(), d.day() + 1).unwrap_or_else(|_| d.first_of_next_month().unwrap())
}

proptest! {
    #[test]
    fn segments_conserve_volume_and_money(period in a_period(), prior in 0i64..1_000_000, seasonal in any::<bool>()) {
        let schedule = if seasonal { chongqing_schedule() } else { published::beijing_residential_2018() };
        let prior = Volume::new(rust_decimal::Decimal::new(prior, 2)).unwrap();
        let bill = schedule.bill(&period, prior, &Household::of(4)).unwrap();
        let volume = bill.segments().iter().map(|s| line_volumes(&s.bill)).fold(Volume::ZERO, |a, v| a.checked_add(v).unwrap());
        prop_assert_eq!(volume, period.consumption());
        prop_assert_eq!(bill.volume(), period.consumption());
        prop_assert_eq!(Money::checked_sum(bill.segments().iter().map(|s| s.bill.total())), Some(bill.total()));
        // Segments tile the period, and each lies within one billing cycle.
        prop_assert_eq!(bill.segments().first().map(|s| s.start), Some(period.start().date));
        prop_assert_eq!(bill.segments().last().map(|s| s.end), Some(period.end().date));
        prop_assert!(bill.segments().windows(2).all(|w| w[0].end == w[1].start && w[0].start < w[0].end));
        let cycle = schedule.cycle();
        prop_assert!(bill.segments().iter().all(|s| cycle.next_start_after(s.start).is_none_or(|next| next >= s.end)));
        // Cumulative volume carries within a cycle and restarts at each new one.
        for pair in bill.segments().windows(2) {
            let carried = pair[0].prior_cumulative.checked_add(pair[0].bill.volume()).unwrap();
            let expected = if pair[0].cycle_start == pair[1].cycle_start { carried } else { Volume::ZERO };
            prop_assert_eq!(pair[1].prior_cumulative, expected);
        }
    }
}

#[test]
fn a_period_bill_reads_back_as_written_and_a_tampered_one_is_refused() {
    let period = MeterPeriod::new(reading("2018-07-01", "100"), reading("2018-07-21", "140")).unwrap();
    let bill = published::beijing_residential_2018()
        .bill(&period, vol("100"), &Household::of(3))
        .unwrap();
    let json = serde_json::to_value(&bill).unwrap();
    assert_eq!(serde_json::from_value::<PeriodBill>(json.clone()).unwrap(), bill);

    let tampered = |field: &str, value: &str| {
        let mut json = json.clone();
        json[field] = serde_json::json!(value);
        serde_json::from_value::<PeriodBill>(json).unwrap_err().to_string()
    };
    // 46.98 + 65.12 = 112.10 over 40 m3, from 100 to 140.
    assert!(tampered("total", "112.11").contains("stored period total 112.11"));
    assert!(tampered("volume", "41").contains("stored period volume 41"));
    assert!(tampered("cumulative_after", "139").contains("stored cumulative volume 139"));
}
