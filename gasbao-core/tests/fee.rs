//! `fee`: exact product, one rounding to the fen.

mod common;

use common::{any_decimal, dec, money, price, vol};
use gasbao_core::{Money, RoundingMode, Step, TariffError, UnitPrice, Volume, fee};
use proptest::prelude::*;
use rust_decimal::Decimal;

#[test]
fn fees_worked_out_by_hand() {
    use RoundingMode::*;
    // (base, price, volume, mode, expected); the exact value is in the comment.
    let cases = [
        ("0", "2.61", "100", HalfUp, "261.00"),        // 261
        ("5.00", "2.61", "12.345", HalfUp, "37.22"),   // 5 + 32.22045
        ("0", "2.61", "0.5", HalfUp, "1.31"),          // 1.305
        ("0", "2.61", "0.5", HalfEven, "1.30"),        // 1.305, 0 is even
        ("0", "2.61", "0.5", HalfDown, "1.30"),        // 1.305
        ("0", "2.61", "0.5", Down, "1.30"),            // 1.305
        ("0", "2.61", "0.5", Up, "1.31"),              // 1.305
        ("-1.00", "2.61", "0.5", HalfEven, "0.30"),    // 0.305, 0 is even
        ("-5.00", "1.00", "1.005", HalfUp, "-4.00"),   // -3.995, away from zero
        ("-5.00", "1.00", "1.005", HalfDown, "-3.99"), // -3.995, toward zero
        ("-5.00", "1.00", "1.005", HalfEven, "-4.00"), // -3.995, 399 odd -> 400
        ("-5.00", "1.00", "1.005", Floor, "-4.00"),
        ("-5.00", "1.00", "1.005", Ceiling, "-3.99"),
        ("-5.00", "1.00", "1.005", Down, "-3.99"),
        ("-5.00", "1.00", "1.005", Up, "-4.00"),
        ("0.004", "1.00", "0.001", HalfUp, "0.01"), // 0.005: a sub-fen base is part of the exact sum
        ("0.004", "1.00", "0.001", HalfEven, "0.00"), // 0.005, 0 is even
        // 0.0049999999999999999999999999 x 1.0000000000000000000000000001
        // = 0.00499999999999999999999999994999..., below half a fen. Decimal's
        // own product rounds it to 0.005 first; the exact fee does not.
        (
            "0",
            "0.0049999999999999999999999999",
            "1.0000000000000000000000000001",
            HalfUp,
            "0.00",
        ),
    ];
    for (base, p, v, mode, expected) in cases {
        assert_eq!(
            fee(money(base), price(p), vol(v), mode),
            Ok(money(expected)),
            "{base} + {p} x {v} {mode:?}"
        );
    }
}

#[test]
fn half_even_ties_depend_on_the_base() {
    // 0.5 x 0.05 = 0.025, a tie: alone it rounds to the even 0.02, but with a
    // 0.01 base the exact 0.035 rounds to the even 0.04, not 0.01 + 0.02.
    let (p, v) = (price("0.5"), vol("0.05"));
    assert_eq!(fee(Money::ZERO, p, v, RoundingMode::HalfEven), Ok(money("0.02")));
    assert_eq!(fee(money("0.01"), p, v, RoundingMode::HalfEven), Ok(money("0.04")));
}

#[test]
fn results_beyond_decimal_overflow_with_the_step() {
    let max_price = UnitPrice::new(Decimal::MAX).unwrap();
    assert_eq!(
        fee(Money::ZERO, max_price, Volume::from_whole_m3(2), RoundingMode::HalfUp),
        Err(TariffError::Overflow { step: Step::Fee })
    );
    // Decimal::MAX yuan is a whole number of fen: it is representable.
    assert_eq!(
        fee(Money::new(Decimal::MAX), max_price, Volume::ZERO, RoundingMode::HalfUp),
        Ok(Money::new(Decimal::MAX))
    );
}

fn whole_fen() -> impl Strategy<Value = Money> {
    any::<i64>().prop_map(Money::from_fen)
}

fn a_price() -> impl Strategy<Value = UnitPrice> {
    (0u64..10_000_000, 0u32..=6).prop_map(|(m, s)| UnitPrice::new(Decimal::new(m as i64, s)).unwrap())
}

fn a_volume() -> impl Strategy<Value = Volume> {
    (0u64..1_000_000_000_000, 0u32..=9).prop_map(|(m, s)| Volume::new(Decimal::new(m as i64, s)).unwrap())
}

fn mode() -> impl Strategy<Value = RoundingMode> {
    proptest::sample::select(RoundingMode::all().collect::<Vec<_>>())
}

proptest! {
    #[test]
    fn zero_volume_costs_the_base(base in whole_fen(), p in a_price(), mode in mode()) {
        prop_assert_eq!(fee(base, p, Volume::ZERO, mode), Ok(base));
    }

    /// Over whole-fen non-negative bases, the base passes through untouched,
    /// except with half-even: there the base changes the parity of the last fen
    /// that decides a tie (see `half_even_ties_depend_on_the_base`).
    #[test]
    fn whole_fen_base_is_added_exactly(base in 0i64..1_000_000_000, p in a_price(), v in a_volume(), mode in mode()) {
        prop_assume!(mode != RoundingMode::HalfEven);
        let base = Money::from_fen(base);
        let alone = fee(Money::ZERO, p, v, mode).unwrap();
        prop_assert_eq!(fee(base, p, v, mode), Ok(base.checked_add(alone).unwrap()));
    }

    /// The result is within one fen of the exact value, on the side the mode says.
    #[test]
    fn result_brackets_the_exact_value(p in a_price(), v in a_volume(), mode in mode()) {
        // Small enough for Decimal's own product to be exact.
        let exact = p.value().checked_mul(v.value()).unwrap();
        prop_assume!(exact.scale() == p.value().scale() + v.value().scale());
        let got = fee(Money::ZERO, p, v, mode).unwrap().yuan();
        let fen = dec("0.01");
        prop_assert!((got - exact).abs() < fen);
        match mode {
            RoundingMode::Down | RoundingMode::Floor => prop_assert!(got <= exact),
            RoundingMode::Up | RoundingMode::Ceiling => prop_assert!(got >= exact),
            _ => prop_assert!((got - exact).abs() * Decimal::TWO <= fen),
        }
    }

    /// Over any operands, 96-bit mantissas and every scale (far past i128
    /// for the product), the fee is the exact value rounded once to the fen,
    /// computed here with arbitrary-precision integers; or an overflow, only
    /// when that rounded value has no `Decimal`.
    #[test]
    fn any_fee_is_the_big_integer_result(base in any_decimal(), p in any_decimal(), v in any_decimal(), mode in mode()) {
        let (Ok(price), Ok(volume)) = (UnitPrice::new(p.abs()), Volume::new(v.abs())) else { unreachable!() };
        let expected = oracle::fee(base, p.abs(), v.abs(), mode);
        match (fee(Money::new(base), price, volume, mode), expected) {
            (Ok(got), Some(fen)) => prop_assert_eq!(oracle::fen_of(got.yuan()), fen),
            (Err(e), None) => prop_assert_eq!(e, TariffError::Overflow { step: Step::Fee }),
            (got, expected) => prop_assert!(false, "fee {got:?}, exact result in fen {expected:?}"),
        }
    }

    /// Operands whose product's mantissa passes 2^128, at scales that keep
    /// most results representable: the wide path every time.
    #[test]
    fn wide_products_are_the_big_integer_result(
        (p_hi, p_lo, p_scale) in (1u32.., any::<u64>(), 14u32..=28),
        (v_hi, v_lo, v_scale) in (1u32.., any::<u64>(), 14u32..=28),
        base in any_decimal(),
        mode in mode(),
    ) {
        let wide = |hi: u32, lo: u64, scale| Decimal::from_parts(lo as u32, (lo >> 32) as u32, hi, false, scale);
        let (p, v) = (wide(p_hi, p_lo, p_scale), wide(v_hi, v_lo, v_scale));
        let expected = oracle::fee(base, p, v, mode);
        let got = fee(Money::new(base), UnitPrice::new(p).unwrap(), Volume::new(v).unwrap(), mode);
        match (got, expected) {
            (Ok(got), Some(fen)) => prop_assert_eq!(oracle::fen_of(got.yuan()), fen),
            (Err(e), None) => prop_assert_eq!(e, TariffError::Overflow { step: Step::Fee }),
            (got, expected) => prop_assert!(false, "fee {got:?}, exact result in fen {expected:?}"),
        }
    }

    #[test]
    fn never_panics(base in any_decimal(), p in any_decimal(), v in any_decimal(), mode in mode()) {
        if let (Ok(p), Ok(v)) = (UnitPrice::new(p.abs()), Volume::new(v.abs())) {
            match fee(Money::new(base), p, v, mode) {
                Ok(m) => prop_assert!(m.yuan().scale() <= 2),
                Err(e) => prop_assert_eq!(e, TariffError::Overflow { step: Step::Fee }),
            }
        }
    }
}

/// `price * volume + base` with arbitrary-precision integers.
mod oracle {
    use gasbao_core::RoundingMode;
    use num_bigint::{BigInt, Sign};
    use rust_decimal::Decimal;

    fn mantissa(d: Decimal) -> BigInt {
        BigInt::from(d.mantissa())
    }

    fn pow10(exp: u32) -> BigInt {
        BigInt::from(10u8).pow(exp)
    }

    /// The exact sum in fen, rounded once by `mode`; `None` if no `Decimal`
    /// holds it (a 96-bit mantissa at any scale from 2 down to 0).
    pub(super) fn fee(base: Decimal, price: Decimal, volume: Decimal, mode: RoundingMode) -> Option<BigInt> {
        let product_scale = price.scale() + volume.scale();
        let scale = product_scale.max(base.scale()).max(2);
        let exact = mantissa(price) * mantissa(volume) * pow10(scale - product_scale)
            + mantissa(base) * pow10(scale - base.scale());
        let fen = round(exact, pow10(scale - 2), mode);
        let max = BigInt::from(1u8) << 96u32;
        // Trailing zeros can be dropped to fit: 100 fen is 1 yuan at scale 0.
        let fits = [1u32, 10, 100].iter().any(|d| {
            let d = BigInt::from(*d);
            (&fen % &d) == BigInt::from(0u8) && (&fen / &d).magnitude() < max.magnitude()
        });
        fits.then_some(fen)
    }

    /// `n / d` rounded to an integer by `mode`.
    fn round(n: BigInt, d: BigInt, mode: RoundingMode) -> BigInt {
        let (q, r) = (&n / &d, &n % &d); // truncated toward zero
        if r == BigInt::from(0u8) {
            return q;
        }
        let negative = n.sign() == Sign::Minus;
        let away = if negative { &q - 1 } else { &q + 1 };
        let twice = r.magnitude() * 2u8;
        let half = twice.cmp(d.magnitude());
        let away_wins = match mode {
            RoundingMode::Down => false,
            RoundingMode::Up => true,
            RoundingMode::Floor => negative,
            RoundingMode::Ceiling => !negative,
            RoundingMode::HalfUp => half.is_ge(),
            RoundingMode::HalfDown => half.is_gt(),
            RoundingMode::HalfEven => half.is_gt() || (half.is_eq() && (&q % 2u8) != BigInt::from(0u8)),
            _ => unreachable!("a rounding mode this oracle does not know"),
        };
        if away_wins { away } else { q }
    }

    /// An amount in yuan as whole fen (it has at most two decimals).
    pub(super) fn fen_of(yuan: Decimal) -> BigInt {
        mantissa(yuan) * pow10(2 - yuan.scale())
    }
}
