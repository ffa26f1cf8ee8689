//! Arbitrary measurement conditions: PTZ correction never panics, refuses the
//! physically impossible, and never returns a negative volume.
#![no_main]

use arbitrary::Arbitrary;
use gasbao_core::{LineConditions, ReferenceConditions, VolumeCorrector};
use gasbao_fuzz::FuzzDecimal;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    reference: Option<(FuzzDecimal, FuzzDecimal, FuzzDecimal)>,
    volume: FuzzDecimal,
    gauge: FuzzDecimal,
    atmospheric: FuzzDecimal,
    celsius: FuzzDecimal,
    z: Option<FuzzDecimal>,
}

fuzz_target!(|input: Input| {
    let corrector = match input.reference {
        None => VolumeCorrector::default(),
        Some((t, p, z)) => {
            let reference = ReferenceConditions {
                temperature_k: t.get(),
                pressure_kpa: p.get(),
                compressibility: z.get(),
            };
            match VolumeCorrector::new(reference) {
                Ok(c) => c,
                Err(_) => {
                    assert!(
                        t.get() <= 0.into()
                            || p.get() <= 0.into()
                            || z.get() <= 0.into()
                            || t.get().checked_mul(z.get()).is_none()
                    );
                    return;
                }
            }
        }
    };
    let line = LineConditions {
        gauge_pressure_kpa: input.gauge.get(),
        atmospheric_pressure_kpa: input.atmospheric.get(),
        temperature_c: input.celsius.get(),
        compressibility: input.z.map(FuzzDecimal::get),
    };
    if let Ok(vb) = corrector.correct(input.volume.volume(), &line) {
        assert!(vb.value() >= 0.into());
        let absolute = line.gauge_pressure_kpa.checked_add(line.atmospheric_pressure_kpa);
        assert!(absolute.is_some_and(|p| p > 0.into()));
    }
});
