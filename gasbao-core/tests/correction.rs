//! VolumeCorrector: PTZ conversion against values computed independently
//! with exact rational arithmetic (Python `fractions.Fraction`, then 40 digits).

mod common;

use common::{dec, vol};
use gasbao_core::{Condition, CorrectionError, LineConditions, ReferenceConditions, Step, Volume, VolumeCorrector};
use proptest::prelude::*;
use rust_decimal::Decimal;

fn line(gauge: &str, atmospheric: &str, celsius: &str, z: Option<&str>) -> LineConditions {
    LineConditions {
        gauge_pressure_kpa: dec(gauge),
        atmospheric_pressure_kpa: dec(atmospheric),
        temperature_c: dec(celsius),
        compressibility: z.map(dec),
    }
}

#[test]
fn conversions_match_exact_rational_results() {
    // (Vm, gauge kPa, atmospheric kPa, C, Zm, Vb to 20 significant digits)
    let cases = [
        ("100", "2", "101.325", "20", None, "101.97384653343202566"),
        ("100", "0", "101.325", "0", None, "107.32198425773384587"),
        ("250.5", "350", "99.8", "-5", None, "1215.6895012057973783"),
        ("100", "2", "101.325", "20", Some("0.998"), "102.17820293931064695"),
        ("1000", "-1.325", "100", "35", None, "926.44202912736758796"),
    ];
    let corrector = VolumeCorrector::default();
    for (vm, gauge, atmospheric, celsius, z, expected) in cases {
        let vb = corrector
            .correct(vol(vm), &line(gauge, atmospheric, celsius, z))
            .unwrap();
        let digits = 20 - expected.find('.').unwrap() as u32;
        assert_eq!(
            vb.value().round_dp(digits),
            dec(expected),
            "{vm} m3 at {gauge} kPa, {celsius} C"
        );
    }
    // Germany's 0 C reference: 100 x (103.325 / 101.325) x (273.15 / 288.15).
    let normal = VolumeCorrector::new(ReferenceConditions::NORMAL_0C).unwrap();
    let vb = normal.correct(vol("100"), &line("2", "101.325", "15", None)).unwrap();
    assert_eq!(vb.value().round_dp(18), dec("96.665473470785902513"));
}

#[test]
fn physically_impossible_input_is_refused() {
    let c = VolumeCorrector::default();
    let v = vol("1");
    assert_eq!(
        c.correct(v, &line("0", "101.325", "-273.15", None)),
        Err(CorrectionError::NonPositiveTemperature {
            which: Condition::Measured,
            kelvin: dec("0.00")
        })
    );
    assert_eq!(
        c.correct(v, &line("-101.325", "101.325", "20", None)),
        Err(CorrectionError::NonPositivePressure {
            which: Condition::Measured,
            kpa: dec("0.000")
        })
    );
    assert_eq!(
        c.correct(v, &line("0", "101.325", "20", Some("0"))),
        Err(CorrectionError::NonPositiveCompressibility {
            which: Condition::Measured,
            z: dec("0")
        })
    );
    let bad_reference = ReferenceConditions {
        pressure_kpa: dec("-1"),
        ..ReferenceConditions::GB_T_19205
    };
    assert_eq!(
        VolumeCorrector::new(bad_reference),
        Err(CorrectionError::NonPositivePressure {
            which: Condition::Reference,
            kpa: dec("-1")
        })
    );
    assert_eq!(
        c.correct(v, &line("0", "101.325", &Decimal::MAX.to_string(), None)),
        Err(CorrectionError::Overflow {
            step: Step::AbsoluteTemperature
        })
    );
    assert_eq!(
        c.correct(Volume::new(Decimal::MAX).unwrap(), &line("1000", "101.325", "20", None)),
        Err(CorrectionError::Overflow {
            step: Step::CorrectedVolume
        })
    );
}

fn measured_volume() -> impl Strategy<Value = Volume> {
    (0i64..1_000_000_000_000, 0u32..=6).prop_map(|(m, s)| Volume::new(Decimal::new(m, s)).unwrap())
}

proptest! {
    /// At the reference conditions the conversion is exactly the identity.
    #[test]
    fn identity_at_reference_conditions(vm in measured_volume(), with_z in any::<bool>()) {
        let z = with_z.then_some("1");
        let vb = VolumeCorrector::default().correct(vm, &line("0", "101.325", "20", z)).unwrap();
        prop_assert_eq!(vb.value().normalize(), vm.value().normalize());
    }

    /// More pressure or less heat means more gas at reference conditions.
    #[test]
    fn monotone_in_pressure_and_temperature(vm in measured_volume(), g in 0i64..10_000, t in -40i64..60) {
        let c = VolumeCorrector::default();
        let at = |gauge: i64, celsius: i64| {
            c.correct(vm, &line(&gauge.to_string(), "101.325", &celsius.to_string(), None)).unwrap()
        };
        prop_assert!(at(g, t) <= at(g + 1, t));
        prop_assert!(at(g, t) >= at(g, t + 1));
    }

    #[test]
    fn never_panics(vm in any::<u64>(), gauge in any::<i64>(), atm in any::<i64>(), t in any::<i64>(), z in proptest::option::of(any::<i64>()), scale in 0u32..=28) {
        let d = |v: i64| Decimal::new(v, scale);
        let conditions = LineConditions { gauge_pressure_kpa: d(gauge), atmospheric_pressure_kpa: d(atm), temperature_c: d(t), compressibility: z.map(d) };
        let _ = VolumeCorrector::default().correct(Volume::from_whole_m3(vm), &conditions);
    }
}

#[test]
fn a_corrector_travels_as_its_reference_conditions() {
    let corrector = VolumeCorrector::new(ReferenceConditions::NORMAL_0C).unwrap();
    let json = serde_json::to_value(corrector).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"temperature_k": "273.15", "pressure_kpa": "101.325", "compressibility": "1"})
    );
    let back: VolumeCorrector = serde_json::from_value(json).unwrap();
    assert_eq!(back, corrector);
    // The constructor's checks run on deserialization too.
    let zero_pressure = serde_json::json!({"temperature_k": "273.15", "pressure_kpa": "0", "compressibility": "1"});
    let error = serde_json::from_value::<VolumeCorrector>(zero_pressure).unwrap_err();
    assert!(error.to_string().contains("pressure"), "{error}");
}
