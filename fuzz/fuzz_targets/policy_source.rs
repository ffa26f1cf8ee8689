//! Untrusted Rego text as a bundle module, then `#---`, then a JSON input:
//! loading gives a module or a typed error, never a panic; a bundle that
//! loads decides the input (or refuses it) without panicking, on whichever
//! path its agreement check chose.
#![no_main]

use gasbao_policy::{Bundle, Manifest, PolicyEngine, PreparedBundle};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (source, input) = text.split_once("#---").unwrap_or((text, "{}"));
    let Ok(input) = serde_json::from_str::<serde_json::Value>(input) else {
        return;
    };
    let bundle = Bundle::new(Manifest::new("fuzz", ["gasbao/subsidy/decision"]))
        .with_module("fuzz.rego", source)
        .with_test_inputs(vec![input.clone()]);
    let Ok(prepared) = PreparedBundle::new(&bundle) else {
        return;
    };
    let engine = PolicyEngine::new(prepared);
    let _ = engine.evaluate::<serde_json::Value>("gasbao/subsidy/decision", &input);
});
