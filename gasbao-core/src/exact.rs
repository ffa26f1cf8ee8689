//! Exact `a x b + c`, rounded once to a target scale.
//!
//! `rust_decimal` keeps at most 28 significant digits, so `price * volume`
//! with many decimals is silently rounded before we would round it to the fen:
//! a double rounding that can move a bill by one fen. This module multiplies the
//! 96-bit mantissas exactly instead: in `i64`/`i128` when the numbers are small
//! (every realistic bill), and in 320-bit integers otherwise.

use std::cmp::Ordering;

use rust_decimal::Decimal;

use crate::rounding::{Remainder, RoundingMode};

/// `10^0 ..= 10^38`: every power of ten an `i128` holds.
const POW10: [i128; 39] = {
    let mut table = [1i128; 39];
    let mut i = 1;
    while i < table.len() {
        // 10^38 < i128::MAX; a failure here would fail the build, not a bill.
        table[i] = match table[i - 1].checked_mul(10) {
            Some(v) => v,
            None => panic!("10^38 fits i128"),
        };
        i += 1;
    }
    table
};

/// `10^0 ..= 10^18`: every power of ten an `i64` holds.
const POW10_I64: [i64; 19] = {
    let mut table = [1i64; 19];
    let mut i = 1;
    while i < table.len() {
        table[i] = table[i - 1] * 10;
        i += 1;
    }
    table
};

/// `(n / 10^exp, n % 10^exp)` for `1 <= exp <= 18`, by constant divisors so
/// that the compiler replaces the division with a multiplication.
#[inline(always)]
fn div_rem_pow10(n: u64, exp: u32) -> Option<(u64, u64)> {
    macro_rules! by_const {
        ($($exp:literal => $divisor:literal),*) => {
            match exp {
                $($exp => Some((n / $divisor, n % $divisor)),)*
                _ => None,
            }
        };
    }
    by_const!(
        1 => 10, 2 => 100, 3 => 1_000, 4 => 10_000, 5 => 100_000, 6 => 1_000_000,
        7 => 10_000_000, 8 => 100_000_000, 9 => 1_000_000_000, 10 => 10_000_000_000,
        11 => 100_000_000_000, 12 => 1_000_000_000_000, 13 => 10_000_000_000_000,
        14 => 100_000_000_000_000, 15 => 1_000_000_000_000_000, 16 => 10_000_000_000_000_000,
        17 => 100_000_000_000_000_000, 18 => 1_000_000_000_000_000_000
    )
}

/// `10^exp`, or `None` above `10^38`.
pub(crate) fn pow10(exp: u32) -> Option<i128> {
    POW10.get(usize::try_from(exp).ok()?).copied()
}

/// `round(a * b + c)` to `scale` decimal places with `mode`, computed exactly.
///
/// Returns `None` when the result does not fit a `Decimal`.
#[inline]
pub(crate) fn mul_add_round(a: Decimal, b: Decimal, c: Decimal, scale: u32, mode: RoundingMode) -> Option<Decimal> {
    if let Some(result) = small(a, b, c, scale, mode) {
        return Some(result);
    }
    let terms = Terms::new(a, b, c, scale)?;
    terms.narrow(mode).or_else(|| terms.wide(mode))
}

/// The 64-bit path, taken by every realistic fee: magnitudes in `u64`, signs
/// apart, overflow checks of one instruction and division by a constant.
/// `None` if anything does not fit, to fall back on the wider paths.
#[inline]
fn small(a: Decimal, b: Decimal, c: Decimal, target_scale: u32, mode: RoundingMode) -> Option<Decimal> {
    let (a, b, c) = (Small::of(a)?, Small::of(b)?, Small::of(c)?);
    let product_scale = a.scale.checked_add(b.scale)?;
    let scale = product_scale.max(c.scale);
    let widen = |value: u64, from: u32| value.checked_mul(pow10_u64(scale.checked_sub(from)?)?);
    let product = widen(a.magnitude.checked_mul(b.magnitude)?, product_scale)?;
    let (negative, sum) = signed_add(
        a.negative != b.negative,
        product,
        c.negative,
        widen(c.magnitude, c.scale)?,
    )?;
    let magnitude = match scale.checked_sub(target_scale) {
        Some(0) | None => sum.checked_mul(pow10_u64(target_scale.checked_sub(scale)?)?)?,
        Some(excess) => {
            let (quotient, remainder) = div_rem_pow10(sum, excess)?;
            let half = pow10_u64(excess)? / 2;
            let remainder = match remainder.cmp(&half) {
                _ if remainder == 0 => Remainder::Zero,
                Ordering::Less => Remainder::BelowHalf,
                Ordering::Equal => Remainder::Half { odd: quotient & 1 == 1 },
                Ordering::Greater => Remainder::AboveHalf,
            };
            if mode.bumps_away_from_zero(negative, remainder) {
                quotient.checked_add(1)?
            } else {
                quotient
            }
        }
    };
    if target_scale > 28 {
        return None;
    }
    // A u64 always fits the 96-bit mantissa.
    Some(Decimal::from_parts(
        magnitude as u32,
        (magnitude >> 32) as u32,
        0,
        negative && magnitude != 0,
        target_scale,
    ))
}

/// A `Decimal` whose mantissa fits in 64 bits, taken apart.
struct Small {
    magnitude: u64,
    negative: bool,
    scale: u32,
}

impl Small {
    #[inline]
    fn of(d: Decimal) -> Option<Small> {
        // `serialize` is the documented layout: flags, lo, mid, hi, little-endian.
        let [_, _, _, _, l0, l1, l2, l3, m0, m1, m2, m3, h0, h1, h2, h3] = d.serialize();
        if u32::from_le_bytes([h0, h1, h2, h3]) != 0 {
            return None;
        }
        let low = u32::from_le_bytes([l0, l1, l2, l3]);
        let mid = u32::from_le_bytes([m0, m1, m2, m3]);
        Some(Small {
            magnitude: u64::from(low) | (u64::from(mid) << 32),
            negative: d.is_sign_negative(),
            scale: d.scale(),
        })
    }
}

/// Adds two signed `u64` magnitudes; `None` on overflow.
#[inline]
fn signed_add(a_negative: bool, a: u64, b_negative: bool, b: u64) -> Option<(bool, u64)> {
    if a_negative == b_negative {
        return Some((a_negative, a.checked_add(b)?));
    }
    match a.checked_sub(b) {
        Some(difference) => Some((a_negative && difference != 0, difference)),
        None => Some((b_negative, b.checked_sub(a)?)),
    }
}

fn pow10_u64(exp: u32) -> Option<u64> {
    POW10_I64.get(usize::try_from(exp).ok()?).map(|p| p.unsigned_abs())
}

/// `a + b` exactly, or `None` if the exact sum does not fit a `Decimal`.
///
/// `Decimal::checked_add` rounds a sum that needs more than 28 digits
/// (`Decimal::MIN - 0.01` gives `Decimal::MIN`); money must not.
pub(crate) fn add(a: Decimal, b: Decimal) -> Option<Decimal> {
    // At the larger of the two scales the sum needs no rounding at all.
    mul_add_round(a, Decimal::ONE, b, a.scale().max(b.scale()), RoundingMode::Down)
}

/// `a - b` exactly, or `None` if the exact difference does not fit a `Decimal`.
pub(crate) fn sub(a: Decimal, b: Decimal) -> Option<Decimal> {
    mul_add_round(
        b,
        Decimal::NEGATIVE_ONE,
        a,
        a.scale().max(b.scale()),
        RoundingMode::Down,
    )
}

/// The integer form of `a * b + c`: mantissas and scales.
struct Terms {
    a: i128,
    b: i128,
    c: i128,
    product_scale: u32,
    c_scale: u32,
    target_scale: u32,
}

impl Terms {
    fn new(a: Decimal, b: Decimal, c: Decimal, target_scale: u32) -> Option<Terms> {
        Some(Terms {
            a: a.mantissa(),
            b: b.mantissa(),
            c: c.mantissa(),
            product_scale: a.scale().checked_add(b.scale())?,
            c_scale: c.scale(),
            target_scale,
        })
    }

    fn common_scale(&self) -> u32 {
        self.product_scale.max(self.c_scale)
    }

    /// The `i128` path; `None` if any intermediate does not fit.
    fn narrow(&self, mode: RoundingMode) -> Option<Decimal> {
        let scale = self.common_scale();
        let product = self.a.checked_mul(self.b)?;
        let product = product.checked_mul(pow10(scale.checked_sub(self.product_scale)?)?)?;
        let c = self.c.checked_mul(pow10(scale.checked_sub(self.c_scale)?)?)?;
        let sum = product.checked_add(c)?;
        let mantissa = match scale.checked_sub(self.target_scale) {
            Some(0) | None => sum.checked_mul(pow10(self.target_scale.checked_sub(scale)?)?)?,
            Some(excess) => div_round_i128(sum, pow10(excess)?, mode)?,
        };
        to_decimal(mantissa < 0, mantissa.unsigned_abs(), self.target_scale)
    }

    /// The 320-bit path; `None` only if the result does not fit a `Decimal`.
    fn wide(&self, mode: RoundingMode) -> Option<Decimal> {
        let scale = self.common_scale();
        let mut product = Wide::from_u128(self.a.unsigned_abs());
        product.mul_u128(self.b.unsigned_abs())?;
        product.mul_pow10(scale.checked_sub(self.product_scale)?)?;
        let product_negative = (self.a < 0) != (self.b < 0);
        let mut c = Wide::from_u128(self.c.unsigned_abs());
        c.mul_pow10(scale.checked_sub(self.c_scale)?)?;
        let (negative, mut sum) = Wide::signed_add(product_negative, product, self.c < 0, c)?;
        match scale.checked_sub(self.target_scale) {
            Some(0) | None => sum.mul_pow10(self.target_scale.checked_sub(scale)?)?,
            Some(excess) => {
                let remainder = sum.div_pow10(excess);
                if mode.bumps_away_from_zero(negative, remainder) {
                    sum.add_one()?;
                }
            }
        }
        // An exact result may need fewer decimals than the target scale to fit:
        // drop trailing zeros while it is too wide for a 96-bit mantissa.
        let mut scale = self.target_scale;
        while scale > 0 && !sum.fits_96_bits() {
            let mut reduced = sum;
            if reduced.div_rem_u64(10) != 0 {
                break;
            }
            sum = reduced;
            scale = scale.checked_sub(1)?;
        }
        to_decimal(negative, sum.to_u128()?, scale)
    }
}

/// The `Decimal` of `magnitude / 10^scale`, dropping trailing zeros when that
/// is what it takes to fit (a whole-fen amount too large for two decimals still
/// fits with none).
fn to_decimal(negative: bool, mut magnitude: u128, mut scale: u32) -> Option<Decimal> {
    const MAX_MANTISSA: u128 = (1 << 96) - 1;
    while magnitude > MAX_MANTISSA && scale > 0 && magnitude.is_multiple_of(10) {
        magnitude /= 10;
        scale = scale.checked_sub(1)?;
    }
    if magnitude > MAX_MANTISSA {
        return None;
    }
    let mut result = Decimal::try_from_i128_with_scale(i128::try_from(magnitude).ok()?, scale).ok()?;
    result.set_sign_negative(negative && magnitude != 0);
    Some(result)
}

/// `n / d` rounded with `mode`; `d > 0`.
fn div_round_i128(n: i128, d: i128, mode: RoundingMode) -> Option<i128> {
    // Most bills fit in 64 bits, where division is several times cheaper.
    if let (Ok(n), Ok(d)) = (i64::try_from(n), i64::try_from(d)) {
        let quotient = n.checked_div(d)?;
        let remainder = classify(
            n.checked_rem(d)?.unsigned_abs().into(),
            d.unsigned_abs().into(),
            quotient & 1 == 1,
        )?;
        return bump(quotient.into(), n < 0, remainder, mode);
    }
    let quotient = n.checked_div(d)?;
    let remainder = classify(n.checked_rem(d)?.unsigned_abs(), d.unsigned_abs(), quotient & 1 == 1)?;
    bump(quotient, n < 0, remainder, mode)
}

fn classify(remainder: u128, divisor: u128, quotient_odd: bool) -> Option<Remainder> {
    if remainder == 0 {
        return Some(Remainder::Zero);
    }
    Some(match remainder.cmp(&divisor.checked_sub(remainder)?) {
        Ordering::Less => Remainder::BelowHalf,
        Ordering::Equal => Remainder::Half { odd: quotient_odd },
        Ordering::Greater => Remainder::AboveHalf,
    })
}

fn bump(quotient: i128, negative: bool, remainder: Remainder, mode: RoundingMode) -> Option<i128> {
    if !mode.bumps_away_from_zero(negative, remainder) {
        Some(quotient)
    } else if negative {
        quotient.checked_sub(1)
    } else {
        quotient.checked_add(1)
    }
}

/// An unsigned 320-bit integer, little-endian limbs: enough for a 96-bit
/// mantissa times 10^56 plus a 192-bit product.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Wide([u64; 5]);

impl Wide {
    const ZERO: Wide = Wide([0; 5]);

    fn from_u128(v: u128) -> Wide {
        let mut w = Wide::ZERO;
        w.0[0] = v as u64;
        w.0[1] = (v >> 64) as u64;
        w
    }

    fn fits_96_bits(&self) -> bool {
        self.0[1] >> 32 == 0 && self.0[2..].iter().all(|&limb| limb == 0)
    }

    fn to_u128(self) -> Option<u128> {
        if self.0[2..].iter().any(|&limb| limb != 0) {
            return None;
        }
        Some(u128::from(self.0[0]) | (u128::from(self.0[1]) << 64))
    }

    fn mul_u64(&mut self, m: u64) -> Option<()> {
        let mut carry: u64 = 0;
        for limb in &mut self.0 {
            // u64 * u64 + u64 < 2^128: the widening product cannot overflow.
            let wide = u128::from(*limb)
                .wrapping_mul(u128::from(m))
                .wrapping_add(u128::from(carry));
            *limb = wide as u64;
            carry = (wide >> 64) as u64;
        }
        (carry == 0).then_some(())
    }

    fn mul_u128(&mut self, m: u128) -> Option<()> {
        let mut high = *self;
        self.mul_u64(m as u64)?;
        high.mul_u64((m >> 64) as u64)?;
        if high.0[4] != 0 {
            return None;
        }
        high.0.rotate_right(1);
        self.add(&high)
    }

    fn mul_pow10(&mut self, mut exp: u32) -> Option<()> {
        while exp > 0 {
            let step = exp.min(19);
            self.mul_u64(u64::try_from(pow10(step)?).ok()?)?;
            exp = exp.checked_sub(step)?;
        }
        Some(())
    }

    fn add(&mut self, rhs: &Wide) -> Option<()> {
        let mut carry = false;
        for (limb, &r) in self.0.iter_mut().zip(&rhs.0) {
            let (sum, c1) = limb.overflowing_add(r);
            let (sum, c2) = sum.overflowing_add(u64::from(carry));
            *limb = sum;
            carry = c1 || c2;
        }
        (!carry).then_some(())
    }

    /// `self - rhs`; the caller guarantees `self >= rhs`.
    fn sub_smaller(&mut self, rhs: &Wide) {
        let mut borrow = false;
        for (limb, &r) in self.0.iter_mut().zip(&rhs.0) {
            let (diff, b1) = limb.overflowing_sub(r);
            let (diff, b2) = diff.overflowing_sub(u64::from(borrow));
            *limb = diff;
            borrow = b1 || b2;
        }
    }

    fn add_one(&mut self) -> Option<()> {
        self.add(&Wide::from_u128(1))
    }

    /// Adds two signed magnitudes; returns the sign and magnitude of the sum.
    fn signed_add(a_negative: bool, mut a: Wide, b_negative: bool, mut b: Wide) -> Option<(bool, Wide)> {
        if a_negative == b_negative {
            a.add(&b)?;
            return Some((a_negative, a));
        }
        if a.cmp_magnitude(&b) == Ordering::Less {
            b.sub_smaller(&a);
            Some((b_negative, b))
        } else {
            a.sub_smaller(&b);
            Some((a_negative && a != Wide::ZERO, a))
        }
    }

    fn cmp_magnitude(&self, rhs: &Wide) -> Ordering {
        self.0.iter().rev().cmp(rhs.0.iter().rev())
    }

    fn div_rem_u64(&mut self, d: u64) -> u64 {
        let mut remainder: u64 = 0;
        for limb in self.0.iter_mut().rev() {
            let n = (u128::from(remainder) << 64) | u128::from(*limb);
            // remainder < d, so n / d < 2^64 and fits the limb.
            *limb = n.checked_div(u128::from(d)).unwrap_or(0) as u64;
            remainder = n.checked_rem(u128::from(d)).unwrap_or(0) as u64;
        }
        remainder
    }

    /// Divides by `10^exp` (`exp >= 1`), truncating, and classifies what was dropped.
    fn div_pow10(&mut self, exp: u32) -> Remainder {
        // Divide by 10^(exp-1) keeping only whether anything was dropped, then by
        // 10 to see the first dropped digit: together they place the remainder
        // against one half exactly.
        let mut sticky = false;
        let mut left = exp.saturating_sub(1);
        while left > 0 {
            let step = left.min(19);
            let divisor = pow10(step).and_then(|p| u64::try_from(p).ok()).unwrap_or(1);
            sticky |= self.div_rem_u64(divisor) != 0;
            left = left.saturating_sub(step);
        }
        let digit = self.div_rem_u64(10);
        match (digit, sticky) {
            (0, false) => Remainder::Zero,
            (5, false) => Remainder::Half {
                odd: self.0[0] & 1 == 1,
            },
            (0..=4, _) => Remainder::BelowHalf,
            _ => Remainder::AboveHalf,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal::RoundingStrategy;

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn pow10_table_is_exact() {
        let mut expected: i128 = 1;
        for exp in 0..=38 {
            assert_eq!(pow10(exp), Some(expected));
            expected = expected.saturating_mul(10);
        }
        assert_eq!(pow10(39), None);
    }

    #[test]
    fn wide_path_agrees_with_narrow_path_on_small_inputs() {
        for (a, b, c) in [("2.61", "350.5", "0"), ("-1.005", "3", "0.01"), ("0.125", "1", "-7")] {
            for mode in RoundingMode::all() {
                let t = Terms::new(dec(a), dec(b), dec(c), 2).unwrap();
                assert_eq!(t.narrow(mode), t.wide(mode), "{a} * {b} + {c} {mode:?}");
            }
        }
    }

    #[test]
    fn no_double_rounding_beyond_28_digits() {
        // 0.0049999999999999999999999999 * 1.0000000000000000000000000001: Decimal's
        // own product rounds to 0.0050000000000000000000000000, which half-up would
        // bill as 0.01. The exact product is below half a fen.
        let a = dec("0.0049999999999999999999999999");
        let b = dec("1.0000000000000000000000000001");
        assert_eq!(
            mul_add_round(a, b, Decimal::ZERO, 2, RoundingMode::HalfUp),
            Some(dec("0.00"))
        );
    }

    #[test]
    fn representable_sums_are_found_past_u128_at_the_common_scale() {
        // Found by fuzzing: at scale 23 the sum's mantissa exceeds u128, but the
        // exact sum fits at scale 9.
        let a = dec("1331.40874700000000000000000");
        let b = dec("13601009529590082593.418203904");
        assert_eq!(add(a, b), Some(dec("13601009529590083924.826950904")));
        assert_eq!(sub(b, a), Some(dec("13601009529590081262.009456904")));
    }

    #[test]
    fn add_is_exact_or_none() {
        assert_eq!(add(Decimal::MIN, dec("-0.01")), None);
        assert_eq!(add(Decimal::MAX, dec("0.00")), Some(Decimal::MAX));
        assert_eq!(add(dec("1.10"), dec("-0.1")), Some(dec("1.00")));
        assert_eq!(add(dec("0.5"), dec("-0.5")), Some(Decimal::ZERO));
    }

    #[test]
    fn result_beyond_decimal_range_is_none() {
        assert_eq!(
            mul_add_round(Decimal::MAX, Decimal::TWO, Decimal::ZERO, 2, RoundingMode::HalfUp),
            None
        );
        // Decimal::MAX is a whole number of fen; it fits with scale 0.
        assert_eq!(
            mul_add_round(Decimal::MAX, Decimal::ONE, Decimal::ZERO, 2, RoundingMode::HalfUp),
            Some(Decimal::MAX)
        );
        let just_above_max_fen = Decimal::from_i128_with_scale(i128::from(u64::MAX) << 32 | 0xFFFF_FFFF, 1);
        assert_eq!(
            mul_add_round(
                just_above_max_fen,
                Decimal::TEN,
                Decimal::ONE_HUNDRED,
                2,
                RoundingMode::HalfUp
            ),
            None
        );
    }

    /// Up to 10 digits: products of two fit Decimal's 28 digits exactly.
    fn small_decimal() -> impl Strategy<Value = Decimal> {
        (any::<i32>(), 0u32..=9).prop_map(|(m, s)| Decimal::new(m.into(), s))
    }

    /// Up to 19 digits: products overflow i128 and exercise the wide path.
    fn medium_decimal() -> impl Strategy<Value = Decimal> {
        (any::<i64>(), 0u32..=18).prop_map(|(m, s)| Decimal::new(m, s))
    }

    fn any_decimal() -> impl Strategy<Value = Decimal> {
        (any::<u32>(), any::<u32>(), any::<u32>(), any::<bool>(), 0u32..=28)
            .prop_map(|(lo, mid, hi, neg, scale)| Decimal::from_parts(lo, mid, hi, neg, scale))
    }

    fn mode() -> impl Strategy<Value = RoundingMode> {
        proptest::sample::select(RoundingMode::all().collect::<Vec<_>>())
    }

    proptest! {
        // When Decimal's own product is exact (few digits), one rounding of it is
        // the independent reference.
        #[test]
        fn matches_decimal_when_decimal_is_exact(a in small_decimal(), b in small_decimal(), c in small_decimal(), mode in mode()) {
            let reference = a.checked_mul(b).and_then(|p| p.checked_add(c));
            prop_assume!(reference.is_some());
            let reference = reference.unwrap();
            // Exact iff the product has no more digits than its operands allow.
            prop_assume!(reference.scale() == (a.scale() + b.scale()).max(c.scale()));
            let strategy: RoundingStrategy = mode.strategy();
            prop_assert_eq!(mul_add_round(a, b, c, 2, mode), Some(reference.round_dp_with_strategy(2, strategy)));
        }

        #[test]
        fn small_and_narrow_agree(a in small_decimal(), b in small_decimal(), c in medium_decimal(), scale in 0u32..=6, mode in mode()) {
            let t = Terms::new(a, b, c, scale).unwrap();
            if let Some(small) = small(a, b, c, scale, mode) {
                prop_assert_eq!(Some(small), t.narrow(mode));
            }
        }

        #[test]
        fn narrow_and_wide_agree(a in medium_decimal(), b in medium_decimal(), c in medium_decimal(), scale in 0u32..=6, mode in mode()) {
            let t = Terms::new(a, b, c, scale).unwrap();
            if let Some(narrow) = t.narrow(mode) {
                prop_assert_eq!(Some(narrow), t.wide(mode));
            }
        }

        #[test]
        fn never_panics_on_any_decimal(a in any_decimal(), b in any_decimal(), c in any_decimal(), mode in mode()) {
            let _ = mul_add_round(a, b, c, 2, mode);
        }
    }
}
