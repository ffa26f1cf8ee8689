//! Untrusted tariff documents (JSON and TOML): parsing never panics, and what
//! is accepted is valid and survives a round trip unchanged.
#![no_main]

use gasbao_core::{TariffSchedule, TieredTariff};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(tariff) = serde_json::from_str::<TieredTariff>(text) {
        assert!(TieredTariff::new(tariff.tiers().to_vec()).is_ok());
        let again: TieredTariff = serde_json::from_str(&serde_json::to_string(&tariff).unwrap()).unwrap();
        assert_eq!(again, tariff);
    }
    if let Ok(schedule) = toml::from_str::<TariffSchedule>(text) {
        let again: TariffSchedule = toml::from_str(&toml::to_string(&schedule).unwrap()).unwrap();
        assert_eq!(again, schedule);
    }
});
