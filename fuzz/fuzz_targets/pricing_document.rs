//! Untrusted pricing documents: a TOML configuration, then `#---`, then a JSON
//! quote request. Loading and quoting never panic, and any quote made keeps
//! the laws of a quote.
#![no_main]

use gasbao_pricing::{PricingSetup, QuoteRequest, QuoteRequestData, StrategyCatalog};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (config, request) = text.split_once("#---").unwrap_or((text, "{}"));
    let Ok(setup) = PricingSetup::from_toml(config, &StrategyCatalog::builtin()) else {
        return;
    };
    let Ok(request) = serde_json::from_str::<QuoteRequestData>(request) else {
        return;
    };
    if let Ok(quote) = setup.quote(&QuoteRequest::from(request)) {
        gasbao_fuzz::check_quote_laws(&quote);
    }
});
