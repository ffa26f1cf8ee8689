//! The published tariffs are what the notices say, and pass every validation.

mod common;

use common::{date, price, vol};
use gasbao_core::{ScheduleError, TariffError, TariffSchedule, TieredTariff, UnitPrice, published};

fn prices(t: &TieredTariff) -> Vec<UnitPrice> {
    t.tiers().iter().map(|tier| tier.price).collect()
}

#[test]
fn published_tariffs_survive_the_validating_constructors() {
    for tariff in [
        published::beijing_residential(),
        published::beijing_residential_from_2018_07_10(),
        published::shanghai_residential(),
        published::shanghai_schools_and_care_homes(),
    ] {
        let json = serde_json::to_string(&tariff).unwrap();
        assert_eq!(serde_json::from_str::<TieredTariff>(&json).unwrap(), tariff);
    }
    for schedule in [
        published::beijing_residential_2018(),
        published::shanghai_residential_from_2014_09_01(),
    ] {
        let json = serde_json::to_string(&schedule).unwrap();
        assert_eq!(serde_json::from_str::<TariffSchedule>(&json).unwrap(), schedule);
    }
}

#[test]
fn the_2018_beijing_rise_is_035_on_every_tier() {
    let before = published::beijing_residential();
    let after = published::beijing_residential_from_2018_07_10();
    let rise = price("0.35");
    for (old, new) in prices(&before).into_iter().zip(prices(&after)) {
        assert_eq!(old.checked_add(rise), Some(new));
    }
    let schedule = published::beijing_residential_2018();
    assert_eq!(schedule.tariff_on(date("2018-07-09")), Some(&before));
    assert_eq!(schedule.tariff_on(date("2018-07-10")), Some(&after));
    assert_eq!(schedule.tariff_on(date("2017-12-31")), None);
}

#[test]
fn chongqing_peak_season_is_november_to_march() {
    let seasonal =
        published::chongqing_residential([vol("300"), vol("600")], [price("1"), price("2"), price("3")]).unwrap();
    for (day, season) in [
        ("2024-11-01", "peak"),
        ("2025-03-31", "peak"),
        ("2025-04-01", "off-season"),
        ("2025-10-31", "off-season"),
    ] {
        assert_eq!(seasonal.season_on(date(day)).name, season, "{day}");
    }
    assert_eq!(
        prices(&seasonal.season_on(date("2025-01-15")).tariff),
        [price("2.13"), price("2.30"), price("2.65")]
    );
    // Thresholds that do not increase: the first season's tier 2 is refused.
    let error = published::chongqing_residential([vol("600"), vol("300")], [price("1"); 3]).unwrap_err();
    assert!(
        matches!(
            error,
            ScheduleError::InvalidSeasonTariff {
                season: 0,
                source: TariffError::InvalidTier { tier: 2, .. }
            }
        ),
        "{error:?}"
    );
}
