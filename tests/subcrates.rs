//! Every member crate is reachable through the facade under its feature.

#[cfg(feature = "core")]
#[test]
fn core() {
    let line = gasbao::core::Volume::from_whole_m3(1);
    assert_eq!(line.to_string(), "1");
}
