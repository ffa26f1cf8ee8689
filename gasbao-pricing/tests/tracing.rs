//! With feature `tracing`, a configuration reload says what it did.
#![cfg(feature = "tracing")]

mod common;

use gasbao_pricing::{Pricer, PricingSetup, StrategyCatalog};
use tracing_test::traced_test;

use common::one_source_document;

#[test]
#[traced_test]
fn a_reload_reports_the_revisions_and_a_refused_one_why() {
    let catalog = StrategyCatalog::builtin();
    let pricer = Pricer::new(PricingSetup::from_toml(&one_source_document("r-1", "2.10"), &catalog).unwrap());
    pricer
        .reload_toml(&one_source_document("r-2", "2.20"), &catalog)
        .unwrap();
    assert!(logs_contain("pricing setup replaced"));
    assert!(logs_contain(r#"revision="r-2" replacing="r-1""#));
    let refused = pricer.reload_toml(&one_source_document("r-3", "not a price"), &catalog);
    assert!(
        matches!(refused, Err(gasbao_pricing::ConfigError::InvalidParams { .. })),
        "{refused:?}"
    );
    assert!(logs_contain(
        "pricing reload refused a configuration; the current one stays"
    ));
    assert!(!logs_contain(r#"revision="r-3""#));
}
