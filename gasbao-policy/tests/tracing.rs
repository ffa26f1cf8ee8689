//! With feature `tracing`, bundle loads and reloads say what happened.
#![cfg(feature = "tracing")]

mod support;

use gasbao_policy::{Bundle, PolicyEngine, PreparedBundle};
use support::reference;
use tracing_test::traced_test;

#[test]
#[traced_test]
fn loads_report_their_revision_and_a_refused_reload_why() {
    let engine = PolicyEngine::new(PreparedBundle::new(&reference()).unwrap());
    assert!(logs_contain("policy bundle active"));
    assert!(logs_contain("revision=2026-11-heating-v1"));
    // The reference bundle with a syntax error in its policy.
    let reference = reference();
    let mut broken = Bundle::new(reference.manifest().clone())
        .with_data(reference.data().clone())
        .unwrap()
        .with_test_inputs(reference.test_inputs().to_vec());
    for module in reference.modules() {
        let source = module
            .source
            .replace("package gasbao.subsidy", "package gasbao.subsidy\nx := [");
        broken = broken.with_module(module.path.clone(), source);
    }
    assert!(matches!(
        engine.reload(&broken),
        Err(gasbao_policy::LoadError::Parse { .. })
    ));
    assert!(logs_contain("policy.reload refused a bundle; the active one stays"));
}
