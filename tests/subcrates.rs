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

#[cfg(feature = "ringbuf")]
#[test]
fn ringbuf() {
    let (mut producer, mut consumer) = gasbao::ringbuf::spsc::channel(1);
    producer.try_push(7u8).unwrap();
    assert_eq!(consumer.try_pop(), Ok(7));
}

#[cfg(feature = "policy")]
#[test]
fn policy() {
    let bundle = gasbao::policy::Bundle::new(gasbao::policy::Manifest::new("r", ["p/x"]))
        .with_module("p.rego", "package p\nx := 1\n");
    let engine = gasbao::policy::PolicyEngine::new(gasbao::policy::PreparedBundle::new(&bundle).unwrap());
    assert_eq!(engine.evaluate::<u8>("p/x", &()).unwrap().output, 1);
}

#[cfg(feature = "tcc")]
#[test]
fn tcc() {
    let gtid = gasbao::tcc::GlobalTxId {
        coordinator: gasbao::tcc::CoordinatorId(3),
        number: 1041,
    };
    assert_eq!(gtid.to_string(), "3-1041");
}

#[cfg(feature = "shadow")]
#[test]
fn shadow() {
    let topic = gasbao::shadow::ShadowTopic::parse("$aws/things/meter-7/shadow/update/delta").unwrap();
    assert_eq!(topic.shadow.thing.as_str(), "meter-7");
}
