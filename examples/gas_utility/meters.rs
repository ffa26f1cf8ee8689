//! The district's smart meters, simulated: the same seed gives the same
//! readings, hour by hour.

use crate::config::Config;

/// A meter in the field and the account behind it.
#[derive(Debug, Clone)]
pub(crate) struct Meter {
    pub(crate) id: u32,
    pub(crate) commercial: bool,
    pub(crate) region: String,
    pub(crate) members: u32,
    pub(crate) opening_index_milli_m3: u64,
    /// Mean consumption in litres per hour.
    pub(crate) litres_per_hour: u64,
    pub(crate) monthly_income_fen: u64,
    pub(crate) registered_resident: bool,
    /// Has no link for the whole month and queues its readings.
    pub(crate) offline: bool,
    pub(crate) opening_fen: i64,
}

/// An alarm raised by the meter itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Alarm {
    #[default]
    None,
    GasLeak,
}

/// One hourly reading, as a ring slot: filled by a producer, then checked
/// and corrected in place by the validation consumer.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Reading {
    pub(crate) meter: u32,
    pub(crate) day: u8,
    pub(crate) hour: u8,
    pub(crate) index_milli_m3: u64,
    /// Gas temperature in tenths of a degree Celsius.
    pub(crate) temperature_dc: i32,
    /// Gauge pressure in pascals.
    pub(crate) gauge_pa: u32,
    pub(crate) battery_pct: u8,
    pub(crate) alarm: Alarm,
    // Set by validation.
    pub(crate) valid: bool,
    pub(crate) measured_milli_m3: u64,
    pub(crate) corrected_milli_m3: u64,
}

/// The meter that smells gas while offline, one that does while online,
/// and the meter whose index jumps back once.
pub(crate) const LEAKING_METER: u32 = 5;
pub(crate) const ONLINE_LEAK: u32 = 11;
pub(crate) const REPLACED_METER: u32 = 7;

/// SplitMix64: a fast, seedable, well-mixed generator of independent draws.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A draw in `0..n` for `(seed, a, b)`.
pub(crate) fn draw(seed: u64, a: u64, b: u64, n: u64) -> u64 {
    mix(seed ^ mix(a ^ mix(b))) % n.max(1)
}

/// The district's meters: households first, then commercial customers.
pub(crate) fn fleet(config: &Config) -> Vec<Meter> {
    let d = &config.district;
    let p = &config.prepaid;
    let seed = d.seed;
    let total = d.households + d.commercial;
    (0..total)
        .map(|id| {
            let commercial = id >= d.households;
            let r = |salt: u64, n: u64| draw(seed, u64::from(id), salt, n);
            let members = 1 + r(1, 6) as u32;
            // Every `stride`-th household from the leaking meter on, until enough.
            let stride = (d.households / config.devices.offline_meters.max(1)).max(1);
            let offline =
                !commercial && id % stride == LEAKING_METER % stride && id / stride < config.devices.offline_meters;
            let span = (p.opening_fen_max - p.opening_fen_min).max(1) as u64;
            Meter {
                id,
                commercial,
                region: d.regions[id as usize % d.regions.len()].clone(),
                members,
                opening_index_milli_m3: r(2, 5_000_000_000),
                litres_per_hour: if commercial {
                    1_500 + r(3, 4_000)
                } else {
                    20 + 8 * u64::from(members) + r(3, 20)
                },
                monthly_income_fen: 120_000 + r(4, 1_200_000),
                registered_resident: r(5, 10) != 0,
                offline,
                // Account 3 is nearly empty: its bill will not be covered.
                opening_fen: match (id, commercial) {
                    (3, _) => 1_500,
                    (_, true) => 40 * (p.opening_fen_min + r(6, span) as i64),
                    (_, false) => p.opening_fen_min + r(6, span) as i64,
                },
            }
        })
        .collect()
}

/// How much of a day's gas is drawn in each hour: cooking peaks at 7 and
/// 18 o'clock for households, office hours for businesses.
fn hourly_weight(commercial: bool, hour: u8) -> u64 {
    match (commercial, hour) {
        (false, 6..=8) | (false, 17..=20) => 3,
        (false, 0..=5) => 1,
        (false, _) => 2,
        (true, 8..=18) => 4,
        (true, _) => 1,
    }
}

/// Produces a meter's readings for the month, in order.
pub(crate) struct MeterClock {
    meter: Meter,
    seed: u64,
    index: u64,
}

impl MeterClock {
    pub(crate) fn new(meter: Meter, seed: u64) -> MeterClock {
        let index = meter.opening_index_milli_m3;
        MeterClock { meter, seed, index }
    }

    /// The reading at the end of `hour` on `day` (1-based day).
    pub(crate) fn next(&mut self, day: u8, hour: u8) -> Reading {
        let m = &self.meter;
        let key = (u64::from(day) << 8) | u64::from(hour);
        let r = |salt: u64, n: u64| draw(self.seed ^ salt, u64::from(m.id), key, n);
        let litres = m.litres_per_hour * hourly_weight(m.commercial, hour) / 2 * (80 + r(11, 41)) / 100;
        self.index += litres;
        let mut reported = self.index;
        // The replaced meter reports its old dial's index once: it goes backwards.
        if m.id == REPLACED_METER && day == 3 && hour == 12 {
            reported = self.index.saturating_sub(250_000);
        }
        Reading {
            meter: m.id,
            day,
            hour,
            index_milli_m3: reported,
            temperature_dc: 50 + r(12, 200) as i32,
            gauge_pa: 1_800 + r(13, 600) as u32,
            battery_pct: 100 - (u64::from(day) / 8) as u8,
            alarm: if (m.id == LEAKING_METER || m.id == ONLINE_LEAK) && day == 9 && hour == 9 {
                Alarm::GasLeak
            } else {
                Alarm::None
            },
            ..Reading::default()
        }
    }

    /// The index after the last reading.
    pub(crate) fn index(&self) -> u64 {
        self.index
    }
}
