//! Conversion of a metered volume to reference conditions (PTZ correction).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::{Condition, CorrectionError, Step};
use crate::quantity::Volume;

/// 0 degrees Celsius in kelvin.
const ZERO_CELSIUS_K: Decimal = Decimal::from_parts(27_315, 0, 0, false, 2);

/// The reference (base) conditions a volume is converted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceConditions {
    /// Absolute temperature Tb in kelvin.
    pub temperature_k: Decimal,
    /// Absolute pressure Pb in kPa.
    pub pressure_kpa: Decimal,
    /// Compressibility factor Zb, used when a measured Z is given.
    pub compressibility: Decimal,
}

impl ReferenceConditions {
    /// China's GB/T 19205-2008 standard reference conditions: 20 degrees C
    /// (293.15 K) and 101.325 kPa, Zb = 1.
    pub const GB_T_19205: ReferenceConditions = ReferenceConditions {
        temperature_k: Decimal::from_parts(29_315, 0, 0, false, 2),
        pressure_kpa: Decimal::from_parts(101_325, 0, 0, false, 3),
        compressibility: Decimal::ONE,
    };

    /// Normal conditions of 0 degrees C (273.15 K) and 101.325 kPa, Zb = 1,
    /// as used in Germany and by EN 12405-1 volume conversion devices.
    pub const NORMAL_0C: ReferenceConditions = ReferenceConditions {
        temperature_k: ZERO_CELSIUS_K,
        pressure_kpa: Decimal::from_parts(101_325, 0, 0, false, 3),
        compressibility: Decimal::ONE,
    };
}

/// Conditions at the meter when a volume was measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineConditions {
    /// Gauge pressure at the meter, kPa (may be negative, down to vacuum).
    pub gauge_pressure_kpa: Decimal,
    /// Atmospheric pressure, kPa.
    pub atmospheric_pressure_kpa: Decimal,
    /// Gas temperature, degrees Celsius.
    pub temperature_c: Decimal,
    /// Measured compressibility factor Zm; without it the conversion is PT
    /// only (Zb/Zm taken as 1).
    #[serde(default)]
    pub compressibility: Option<Decimal>,
}

/// Converts metered volumes to reference conditions:
/// `Vb = Vm x (Pm / Pb) x (Tb / Tm) x (Zb / Zm)`, with absolute pressures
/// (gauge + atmospheric) and absolute temperatures.
///
/// The formula is evaluated as one quotient,
/// `(Vm x Pm x Tb x Zb) / (Pb x Tm x Zm)`, so the result is rounded once (to
/// `Decimal`'s 28 significant digits) rather than after each ratio; at the
/// reference conditions the conversion is exactly the identity.
///
/// # Examples
///
/// ```
/// use gasbao_core::{LineConditions, VolumeCorrector, Volume};
/// use gasbao_core::Decimal;
///
/// // 100 m3 metered at 0 kPa gauge, 101.325 kPa ambient, 0 C: colder than the
/// // 20 C reference, so more gas: 100 x 293.15 / 273.15 = 107.32...
/// let corrector = VolumeCorrector::default();
/// let line = LineConditions {
///     gauge_pressure_kpa: Decimal::ZERO,
///     atmospheric_pressure_kpa: Decimal::new(101_325, 3),
///     temperature_c: Decimal::ZERO,
///     compressibility: None,
/// };
/// let vb = corrector.correct(Volume::from_whole_m3(100), &line)?;
/// assert_eq!(vb.value().round_dp(4), Decimal::new(1_073_220, 4));
/// # Ok::<(), gasbao_core::CorrectionError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ReferenceConditions", into = "ReferenceConditions")]
pub struct VolumeCorrector {
    reference: ReferenceConditions,
    /// `Tb x Zb`, the numerator factor when a measured Z is given.
    tb_zb: Decimal,
}

impl TryFrom<ReferenceConditions> for VolumeCorrector {
    type Error = CorrectionError;

    fn try_from(reference: ReferenceConditions) -> Result<VolumeCorrector, CorrectionError> {
        VolumeCorrector::new(reference)
    }
}

impl From<VolumeCorrector> for ReferenceConditions {
    fn from(corrector: VolumeCorrector) -> ReferenceConditions {
        corrector.reference
    }
}

impl Default for VolumeCorrector {
    /// Converts to GB/T 19205 reference conditions.
    fn default() -> VolumeCorrector {
        VolumeCorrector {
            reference: ReferenceConditions::GB_T_19205,
            tb_zb: ReferenceConditions::GB_T_19205.temperature_k,
        }
    }
}

impl VolumeCorrector {
    /// A corrector to `reference` conditions.
    ///
    /// # Errors
    ///
    /// [`CorrectionError`] with [`Condition::Reference`] if the reference
    /// temperature, pressure or compressibility is not positive.
    pub fn new(reference: ReferenceConditions) -> Result<VolumeCorrector, CorrectionError> {
        check_positive(
            reference.temperature_k,
            reference.pressure_kpa,
            Some(reference.compressibility),
            Condition::Reference,
        )?;
        let tb_zb =
            reference
                .temperature_k
                .checked_mul(reference.compressibility)
                .ok_or(CorrectionError::Overflow {
                    step: Step::CorrectedVolume,
                })?;
        Ok(VolumeCorrector { reference, tb_zb })
    }

    /// The reference conditions volumes are converted to.
    #[must_use]
    pub fn reference(&self) -> ReferenceConditions {
        self.reference
    }

    /// The volume at reference conditions of `measured` m3 metered under `line`.
    ///
    /// # Errors
    ///
    /// [`CorrectionError::NonPositivePressure`] if gauge + atmospheric pressure
    /// is not above zero; [`CorrectionError::NonPositiveTemperature`] if the
    /// temperature is at or below absolute zero;
    /// [`CorrectionError::NonPositiveCompressibility`] for a Z not above zero;
    /// [`CorrectionError::Overflow`] naming the step for values beyond `Decimal`.
    pub fn correct(&self, measured: Volume, line: &LineConditions) -> Result<Volume, CorrectionError> {
        let overflow = |step| CorrectionError::Overflow { step };
        let pm = line
            .gauge_pressure_kpa
            .checked_add(line.atmospheric_pressure_kpa)
            .ok_or(overflow(Step::AbsolutePressure))?;
        let tm = line
            .temperature_c
            .checked_add(ZERO_CELSIUS_K)
            .ok_or(overflow(Step::AbsoluteTemperature))?;
        check_positive(tm, pm, line.compressibility, Condition::Measured)?;
        let (numerator_factor, denominator) = match line.compressibility {
            Some(zm) => (
                self.tb_zb,
                self.reference
                    .pressure_kpa
                    .checked_mul(tm)
                    .and_then(|d| d.checked_mul(zm)),
            ),
            None => (
                self.reference.temperature_k,
                self.reference.pressure_kpa.checked_mul(tm),
            ),
        };
        let vb = measured
            .value()
            .checked_mul(pm)
            .and_then(|n| n.checked_mul(numerator_factor))
            .zip(denominator)
            .and_then(|(n, d)| n.checked_div(d))
            .ok_or(overflow(Step::CorrectedVolume))?;
        // Every factor is positive, so the result is a valid volume.
        Volume::new(vb).map_err(|_| overflow(Step::CorrectedVolume))
    }
}

fn check_positive(t_k: Decimal, p_kpa: Decimal, z: Option<Decimal>, which: Condition) -> Result<(), CorrectionError> {
    if t_k <= Decimal::ZERO {
        return Err(CorrectionError::NonPositiveTemperature { which, kelvin: t_k });
    }
    if p_kpa <= Decimal::ZERO {
        return Err(CorrectionError::NonPositivePressure { which, kpa: p_kpa });
    }
    if let Some(z) = z.filter(|z| *z <= Decimal::ZERO) {
        return Err(CorrectionError::NonPositiveCompressibility { which, z });
    }
    Ok(())
}
