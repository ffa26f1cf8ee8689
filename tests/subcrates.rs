//! Every member crate is reachable through the facade under its feature.

#[cfg(feature = "core")]
#[test]
fn core() {
    let volume = gasbao::core::Volume::from_whole_m3(1);
    assert_eq!(volume.to_string(), "1");
}

#[cfg(feature = "pricing")]
#[test]
fn pricing() {
    let kinds: Vec<_> = gasbao::pricing::StrategyCatalog::builtin()
        .kinds()
        .map(str::to_owned)
        .collect();
    assert_eq!(kinds, ["fixed", "lng", "pipeline", "sng"]);
}
