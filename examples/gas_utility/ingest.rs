//! Ingest: producer threads publish meter readings into a multicast ring;
//! validation corrects them to reference conditions in place, then usage
//! and alerts consume them side by side.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use gasbao::core::{Decimal, LineConditions, Volume, VolumeCorrector};
use gasbao::ringbuf::multicast::Builder;
use indicatif::ProgressBar;
use rust_decimal::prelude::ToPrimitive;

use crate::Failure;
use crate::meters::{Alarm, Meter, MeterClock, Reading};

/// What a month of readings amounts to.
#[derive(Debug, Default)]
pub(crate) struct Usage {
    /// Gas each meter used, corrected to reference conditions, in litres.
    pub(crate) corrected_milli_m3: Vec<u64>,
    /// The last valid index each meter reported.
    pub(crate) closing_index_milli_m3: Vec<u64>,
    /// The district's corrected consumption per hour of the month, in m3.
    pub(crate) hourly_m3: Vec<f64>,
    pub(crate) readings: u64,
    pub(crate) rejected: u64,
    /// The lowest battery level any meter reported.
    pub(crate) lowest_battery_pct: u8,
    pub(crate) alerts: Vec<Alert>,
    pub(crate) elapsed: Duration,
}

/// Something an operator must look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Alert {
    GasLeak {
        meter: u32,
        day: u8,
        hour: u8,
    },
    IndexWentBack {
        meter: u32,
        day: u8,
        hour: u8,
        from_milli_m3: u64,
        to_milli_m3: u64,
    },
}

/// Runs a month of readings from the `online` meters (of all `meters`,
/// indexed by id) through the ring.
pub(crate) fn ingest(
    meters: &[Meter],
    online: &[Meter],
    days: u8,
    seed: u64,
    producers: u32,
    slots: usize,
    progress: &ProgressBar,
) -> Result<Usage, Failure> {
    let started = Instant::now();
    let count = meters.len();
    let hours = usize::from(days) * 24;
    let usage = Arc::new(Mutex::new(Usage {
        corrected_milli_m3: vec![0; count],
        closing_index_milli_m3: meters.iter().map(|m| m.opening_index_milli_m3).collect(),
        hourly_m3: vec![0.0; hours],
        lowest_battery_pct: 100,
        ..Usage::default()
    }));

    let mut builder = Builder::new(slots, Reading::default);
    let mut last_valid: Vec<u64> = meters.iter().map(|m| m.opening_index_milli_m3).collect();
    let corrector = VolumeCorrector::default();
    let validate = builder.exclusive_consumer("validate", &[], move |r: &mut Reading, _seq, _end| {
        validate(r, &mut last_valid[r.meter as usize], &corrector);
    });

    // Usage and alerts keep their sums locally and merge once per batch.
    let mut local = Usage {
        corrected_milli_m3: vec![0; count],
        hourly_m3: vec![0.0; hours],
        lowest_battery_pct: 100,
        ..Usage::default()
    };
    let mut closing: Vec<Option<u64>> = vec![None; count];
    let shared = Arc::clone(&usage);
    builder.consumer("usage", &[validate], move |r: &Reading, _seq, end_of_batch| {
        local.readings += 1;
        local.lowest_battery_pct = local.lowest_battery_pct.min(r.battery_pct);
        if r.valid {
            local.corrected_milli_m3[r.meter as usize] += r.corrected_milli_m3;
            local.hourly_m3[usize::from(r.day - 1) * 24 + usize::from(r.hour)] += r.corrected_milli_m3 as f64 / 1000.0;
            closing[r.meter as usize] = Some(r.index_milli_m3);
        } else {
            local.rejected += 1;
        }
        if end_of_batch {
            let mut usage = shared.lock().unwrap_or_else(PoisonError::into_inner);
            merge(&mut usage, &mut local, &mut closing);
        }
    });
    let alerts = Arc::clone(&usage);
    let mut previous: Vec<u64> = meters.iter().map(|m| m.opening_index_milli_m3).collect();
    builder.consumer("alerts", &[validate], move |r: &Reading, _seq, _end| {
        let last = &mut previous[r.meter as usize];
        let alert = match (r.alarm, r.valid) {
            (Alarm::GasLeak, _) => Some(Alert::GasLeak {
                meter: r.meter,
                day: r.day,
                hour: r.hour,
            }),
            (_, false) => Some(Alert::IndexWentBack {
                meter: r.meter,
                day: r.day,
                hour: r.hour,
                from_milli_m3: *last,
                to_milli_m3: r.index_milli_m3,
            }),
            _ => None,
        };
        if r.valid {
            *last = r.index_milli_m3;
        }
        if let Some(alert) = alert {
            alerts.lock().unwrap_or_else(PoisonError::into_inner).alerts.push(alert);
        }
    });
    let (producer, consumers) = builder.build_multi_producer()?;

    std::thread::scope(|scope| -> Result<(), Failure> {
        let handles: Vec<_> = (0..producers)
            .map(|p| {
                let producer = producer.clone();
                let mine: Vec<Meter> = online.iter().filter(|m| m.id % producers == p).cloned().collect();
                scope.spawn(move || -> Result<(), String> {
                    let mut clocks: Vec<MeterClock> = mine.into_iter().map(|m| MeterClock::new(m, seed)).collect();
                    for day in 1..=days {
                        for hour in 0..24 {
                            for clock in &mut clocks {
                                let reading = clock.next(day, hour);
                                producer
                                    .publish(move |slot| *slot = reading)
                                    .map_err(|_| "the ring halted")?;
                            }
                            progress.inc(clocks.len() as u64);
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        drop(producer);
        for handle in handles {
            handle.join().map_err(|_| "a meter producer panicked")??;
        }
        Ok(())
    })?;
    consumers.join()?;
    let mut usage = Arc::try_unwrap(usage)
        .map_err(|_| "a consumer still holds the usage")?
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    usage.elapsed = started.elapsed();
    Ok(usage)
}

/// Checks the index against the last valid one and converts the volume
/// since then to reference conditions (GB/T 19205: 20 degrees C, 101.325 kPa).
fn validate(r: &mut Reading, last_valid: &mut u64, corrector: &VolumeCorrector) {
    r.valid = r.index_milli_m3 >= *last_valid;
    if !r.valid {
        return;
    }
    r.measured_milli_m3 = r.index_milli_m3 - *last_valid;
    *last_valid = r.index_milli_m3;
    let line = LineConditions {
        gauge_pressure_kpa: Decimal::new(i64::from(r.gauge_pa), 3),
        atmospheric_pressure_kpa: Decimal::new(101_325, 3),
        temperature_c: Decimal::new(i64::from(r.temperature_dc), 1),
        compressibility: None,
    };
    let corrected = corrector.correct(Volume::from_milli_m3(r.measured_milli_m3), &line);
    // Line conditions outside physics (a broken sensor) reject the reading.
    match corrected
        .ok()
        .and_then(|v| (v.value() * Decimal::ONE_THOUSAND).round().to_u64())
    {
        Some(milli) => r.corrected_milli_m3 = milli,
        None => r.valid = false,
    }
}

fn merge(usage: &mut Usage, local: &mut Usage, closing: &mut [Option<u64>]) {
    usage.readings += std::mem::take(&mut local.readings);
    usage.rejected += std::mem::take(&mut local.rejected);
    usage.lowest_battery_pct = usage.lowest_battery_pct.min(local.lowest_battery_pct);
    for (sum, part) in usage.corrected_milli_m3.iter_mut().zip(&mut local.corrected_milli_m3) {
        *sum += std::mem::take(part);
    }
    for (sum, part) in usage.hourly_m3.iter_mut().zip(&mut local.hourly_m3) {
        *sum += std::mem::take(part);
    }
    for (index, seen) in usage.closing_index_milli_m3.iter_mut().zip(closing.iter_mut()) {
        if let Some(seen) = seen.take() {
            *index = seen;
        }
    }
}
