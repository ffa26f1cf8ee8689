//! Money, Volume and UnitPrice: construction, fen conversion, serde validation.

mod common;

use common::{any_decimal, dec, money};
use gasbao_core::{Money, Quantity, QuantityError, RoundingMode, UnitPrice, Volume};
use proptest::prelude::*;
use rust_decimal::Decimal;

#[test]
fn negative_volume_and_price_are_refused_with_the_value() {
    assert_eq!(
        Volume::new(dec("-0.001")),
        Err(QuantityError::Negative {
            quantity: Quantity::Volume,
            value: dec("-0.001")
        })
    );
    assert_eq!(
        UnitPrice::new(dec("-2.61")),
        Err(QuantityError::Negative {
            quantity: Quantity::UnitPrice,
            value: dec("-2.61")
        })
    );
    // Negative zero is zero, and prints as such.
    let minus_zero = Decimal::new(-0, 3);
    assert_eq!(Volume::new(-minus_zero).unwrap().to_string(), "0.000");
}

#[test]
fn parsing_from_text() {
    assert_eq!("350.5".parse::<Volume>(), Ok(Volume::new(dec("350.5")).unwrap()));
    assert_eq!(" 2.61 ".parse::<UnitPrice>(), Ok(UnitPrice::from_fen_per_m3(261)));
    assert_eq!("-12.30".parse::<Money>(), Ok(Money::from_fen(-1230)));
    assert_eq!(
        "-1".parse::<Volume>(),
        Err(QuantityError::Negative {
            quantity: Quantity::Volume,
            value: dec("-1")
        })
    );
    assert_eq!(
        "2,61".parse::<UnitPrice>(),
        Err(QuantityError::Unparsable {
            quantity: Quantity::UnitPrice,
            text: "2,61".into()
        })
    );
}

#[test]
fn fen_conversions() {
    assert_eq!(Money::from_fen(26_135).to_string(), "261.35");
    assert_eq!(Money::from_fen(-1).to_string(), "-0.01");
    for fen in [0, 1, -1, 99, i64::MAX, i64::MIN] {
        assert_eq!(Money::from_fen(fen).to_fen(), Ok(fen));
    }
    // Trailing zeros beyond the fen are still whole fen.
    assert_eq!(money("1.500").to_fen(), Ok(150));
    assert_eq!(money("7").to_fen(), Ok(700));
    assert_eq!(
        money("1.005").to_fen(),
        Err(QuantityError::NotWholeFen { amount: dec("1.005") })
    );
    // 1e17 yuan is 1e19 fen, above i64::MAX (about 9.2e18).
    assert_eq!(
        money("100000000000000000").to_fen(),
        Err(QuantityError::FenOutOfRange {
            amount: dec("100000000000000000")
        })
    );
}

#[test]
fn rounding_to_fen_by_mode() {
    // (amount, mode, expected), worked out by hand from each mode's definition.
    let cases = [
        ("1.005", RoundingMode::HalfUp, "1.01"),
        ("1.005", RoundingMode::HalfEven, "1.00"),
        ("1.015", RoundingMode::HalfEven, "1.02"),
        ("1.005", RoundingMode::HalfDown, "1.00"),
        ("1.009", RoundingMode::Down, "1.00"),
        ("1.001", RoundingMode::Up, "1.01"),
        ("-1.001", RoundingMode::Up, "-1.01"),
        ("-1.001", RoundingMode::Floor, "-1.01"),
        ("-1.009", RoundingMode::Ceiling, "-1.00"),
        ("-1.005", RoundingMode::HalfUp, "-1.01"),
    ];
    for (amount, mode, expected) in cases {
        assert_eq!(money(amount).round_to_fen(mode), money(expected), "{amount} {mode:?}");
    }
}

#[test]
fn deserializing_validates() {
    let ok: Volume = serde_json::from_str("\"350.5\"").unwrap();
    assert_eq!(ok.value(), dec("350.5"));
    let err = serde_json::from_str::<Volume>("\"-1\"").unwrap_err().to_string();
    assert!(err.contains("volume must not be negative"), "{err}");
    let err = serde_json::from_str::<UnitPrice>("-2.5").unwrap_err().to_string();
    assert!(err.contains("unit price must not be negative"), "{err}");
    let mode: RoundingMode = serde_json::from_str("\"half_even\"").unwrap();
    assert_eq!(mode, RoundingMode::HalfEven);
}

#[test]
fn checked_arithmetic_reports_failure_instead_of_panicking() {
    let max = Volume::new(Decimal::MAX).unwrap();
    assert_eq!(max.checked_add(Volume::from_whole_m3(1)), None);
    assert_eq!(Volume::from_whole_m3(1).checked_sub(Volume::from_whole_m3(2)), None);
    assert_eq!(Money::new(Decimal::MIN).checked_sub(Money::from_fen(1)), None);
    assert_eq!(
        Money::checked_sum([Money::new(Decimal::MAX), Money::from_fen(100)]),
        None
    );
}

proptest! {
    #[test]
    fn serde_round_trips(value in any_decimal()) {
        let m = Money::new(value);
        prop_assert_eq!(serde_json::from_str::<Money>(&serde_json::to_string(&m).unwrap()).unwrap(), m);
        if let Ok(v) = Volume::new(value) {
            prop_assert_eq!(serde_json::from_str::<Volume>(&serde_json::to_string(&v).unwrap()).unwrap(), v);
        }
        if let Ok(p) = UnitPrice::new(value) {
            prop_assert_eq!(serde_json::from_str::<UnitPrice>(&serde_json::to_string(&p).unwrap()).unwrap(), p);
        }
    }

    #[test]
    fn volume_accepts_exactly_the_non_negative(value in any_decimal()) {
        prop_assert_eq!(Volume::new(value).is_ok(), value >= Decimal::ZERO);
    }

    #[test]
    fn fen_round_trip(fen in any::<i64>()) {
        prop_assert_eq!(Money::from_fen(fen).to_fen(), Ok(fen));
    }
}

#[test]
fn litres_are_thousandths_of_a_cubic_metre() {
    let cases = [
        (0, "0.000"),
        (1, "0.001"),
        (1_250, "1.250"),
        (u64::MAX, "18446744073709551.615"),
    ];
    for (milli_m3, expected) in cases {
        assert_eq!(Volume::from_milli_m3(milli_m3).to_string(), expected);
        assert_eq!(
            Volume::from_milli_m3(milli_m3).value(),
            expected.parse::<gasbao_core::Decimal>().unwrap()
        );
    }
}

#[test]
fn a_household_round_trips_through_serde() {
    let households = [
        gasbao_core::Household::of(3),
        gasbao_core::Household::of(6).billed_at_tier_one(),
    ];
    for household in households {
        let json = serde_json::to_string(&household).unwrap();
        assert_eq!(
            serde_json::from_str::<gasbao_core::Household>(&json).unwrap(),
            household
        );
    }
    assert_eq!(
        serde_json::to_value(gasbao_core::Household::of(4)).unwrap(),
        serde_json::json!({"members": 4, "tier_one_only": false})
    );
    let error = serde_json::from_str::<gasbao_core::Household>(r#"{"members": 4, "tier_one_only": false, "x": 1}"#)
        .unwrap_err();
    assert!(error.to_string().starts_with("unknown field `x`"), "{error}");
}
