//! Configuration documents and quote inputs: every refusal names what is wrong.

mod common;

use common::{CITY_GAS, city_gas, dec, request};
use gasbao_core::Volume;
use gasbao_pricing::{
    ConfigError, CustomerClass, FixedPrice, PipelineStrategy, PricingSetup, QuoteError, QuoteRequest, QuoteRequestData,
    StrategyCatalog, StrategyError,
};

fn load(document: &str) -> Result<PricingSetup, ConfigError> {
    PricingSetup::from_toml(document, &StrategyCatalog::builtin())
}

#[test]
fn the_reference_document_loads() {
    let setup = city_gas();
    assert_eq!(setup.revision(), "2026-11 city gas");
    assert_eq!(
        setup.sources().ids().collect::<Vec<_>>(),
        ["west-east-pipeline", "coastal-lng", "sng-contract"]
    );
    assert!(setup.handle::<PipelineStrategy>("west-east-pipeline").is_some());
    // The wrong strategy type gives no handle.
    assert!(setup.handle::<FixedPrice>("west-east-pipeline").is_none());
}

#[test]
fn configuration_errors_name_the_field() {
    let cases: Vec<(String, ConfigError)> = vec![
        (
            CITY_GAS.replace("kind = \"lng\"", "kind = \"hydrogen\""),
            ConfigError::UnknownKind {
                source_id: "coastal-lng".into(),
                kind: "hydrogen".into(),
            },
        ),
        (
            CITY_GAS.replace("id = \"coastal-lng\"", "id = \"west-east-pipeline\""),
            ConfigError::DuplicateSource {
                id: "west-east-pipeline".into(),
            },
        ),
        (
            CITY_GAS.replace("to = \"10:00\"", "to = \"09:00\""),
            ConfigError::TimeOfUseGap {
                at: "09:00".parse().unwrap(),
            },
        ),
        (
            CITY_GAS.replace("to = \"10:00\"", "to = \"11:00\""),
            ConfigError::TimeOfUseOverlap {
                first: "morning peak".into(),
                second: "flat".into(),
                at: "10:00".parse().unwrap(),
            },
        ),
        (
            CITY_GAS.replace("multiplier = \"0.90\"", "multiplier = \"0\""),
            ConfigError::NonPositiveMultiplier {
                field: "time_of_use.valley".into(),
                multiplier: dec("0"),
            },
        ),
        (
            CITY_GAS.replace("below = \"0.8\"", "below = \"0.1\""),
            ConfigError::InvalidInventoryBand {
                band: 1,
                reason: "bounds must be positive and increasing",
            },
        ),
        (
            CITY_GAS.replace(
                "escalation_percent_per_year = \"2\"",
                "escalation_percent_per_year = \"-100\"",
            ),
            ConfigError::Strategy {
                source_id: "sng-contract".into(),
                source: StrategyError::InvalidParameter {
                    field: "escalation_percent_per_year",
                    reason: "must be above -100",
                },
            },
        ),
        (
            CITY_GAS.replace("weighting = \"supply_volume\"", "weighting = \"configured\""),
            ConfigError::MissingWeight {
                source_id: "west-east-pipeline".into(),
            },
        ),
        (
            CITY_GAS.replace("max_rise_percent = \"20\"", "max_rise_percent = \"-5\""),
            ConfigError::InvalidBand {
                field: "non_residential.max_rise_percent",
                reason: "must not be negative",
            },
        ),
    ];
    for (document, expected) in cases {
        assert_eq!(load(&document).unwrap_err(), expected);
    }
}

#[test]
fn parameter_errors_give_the_path_inside_params() {
    let document = CITY_GAS.replace(
        "utilisation_surcharges = [{ from = \"0.85\", surcharge = \"0.08\" }]",
        "utilisation_surcharges = [{ from = \"0.85\", surcharge = \"-0.08\" }]",
    );
    match load(&document).unwrap_err() {
        ConfigError::InvalidParams {
            source_id,
            path,
            message,
        } => {
            assert_eq!(source_id, "west-east-pipeline");
            assert_eq!(path, "utilisation_surcharges[0].surcharge");
            assert!(message.contains("must not be negative"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
    let malformed = load("revision = ").unwrap_err();
    assert!(matches!(malformed, ConfigError::Malformed { .. }), "{malformed:?}");
    // The parser's own error is the cause, with where it stopped.
    let cause = std::error::Error::source(&malformed).expect("a cause").to_string();
    assert!(cause.contains("line 1"), "{cause}");
}

#[test]
fn configured_weights_must_not_all_be_zero_or_negative() {
    let weighted = |weights: [&str; 3]| {
        let mut document = CITY_GAS.replace("weighting = \"supply_volume\"", "weighting = \"configured\"");
        for (kind, weight) in ["pipeline", "lng", "sng"].iter().zip(weights) {
            document = document.replace(
                &format!("kind = \"{kind}\""),
                &format!("kind = \"{kind}\"\nweight = \"{weight}\""),
            );
        }
        load(&document)
    };
    assert_eq!(weighted(["0", "0", "0"]).unwrap_err(), ConfigError::AllWeightsZero);
    assert_eq!(
        weighted(["1", "-1", "0"]).unwrap_err(),
        ConfigError::NegativeWeight {
            source_id: "coastal-lng".into(),
            weight: dec("-1")
        }
    );
    // 6:1:3 configured weights give the same blend as the same supply volumes.
    let setup = weighted(["6", "1", "3"]).unwrap();
    let quote = setup
        .quote(&request(&setup, "12:00", CustomerClass::Residential, [1, 1, 1], "0.5"))
        .unwrap();
    assert_eq!(quote.blended, dec("2.39823352"));
}

#[test]
fn quote_input_errors_name_the_source_and_field() {
    let setup = city_gas();
    let base = || request(&setup, "12:00", CustomerClass::Residential, [1, 1, 1], "0.5");

    let data = base().with_input_data("west-east-pipeline", serde_json::json!({ "distance_km": "400" }));
    match setup.quote(&data).unwrap_err() {
        QuoteError::InvalidInput { source_id, message, .. } => {
            assert_eq!(source_id, "west-east-pipeline");
            assert!(message.contains("missing field `utilisation`"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
    let wrong_type = base().with_input_data(
        "coastal-lng",
        serde_json::json!({ "cargo": { "landed": { "cost": "x" } } }),
    );
    match setup.quote(&wrong_type).unwrap_err() {
        QuoteError::InvalidInput { path, .. } => assert_eq!(path, "cargo.landed.cost"),
        other => panic!("unexpected {other:?}"),
    }
    let out_of_range = base().with_input_data(
        "west-east-pipeline",
        serde_json::json!({ "distance_km": "1", "utilisation": "1.5" }),
    );
    assert_eq!(
        setup.quote(&out_of_range).unwrap_err(),
        QuoteError::Strategy {
            source_id: "west-east-pipeline".into(),
            source: StrategyError::InvalidInput {
                field: "utilisation",
                reason: "must be between 0 and 1"
            },
        }
    );
    let unknown = base().with_supply("mystery", Volume::from_whole_m3(1));
    assert_eq!(
        setup.quote(&unknown).unwrap_err(),
        QuoteError::UnknownSource {
            source_id: "mystery".into()
        }
    );
    let no_supply = request(&setup, "12:00", CustomerClass::Residential, [0, 0, 0], "0.5");
    assert_eq!(setup.quote(&no_supply).unwrap_err(), QuoteError::NoSupply);
    let missing = QuoteRequest::new("12:00".parse().unwrap(), CustomerClass::Residential);
    assert!(matches!(
        setup.quote(&missing).unwrap_err(),
        QuoteError::MissingInput { .. }
    ));
    let negative = request(&setup, "12:00", CustomerClass::Residential, [1, 1, 1], "-0.1");
    assert_eq!(
        setup.quote(&negative).unwrap_err(),
        QuoteError::NegativeInventoryRatio { ratio: dec("-0.1") }
    );
}

#[test]
fn a_whole_request_can_arrive_as_json() {
    let json = serde_json::json!({
        "at": "08:00",
        "customer": "residential",
        "inventory_ratio": "0.5",
        "inputs": {
            "west-east-pipeline": { "distance_km": "400", "utilisation": "0.9" },
            "coastal-lng": { "cargo": { "landed": { "cost": "2.80" } }, "trucking_km": "150", "days_in_storage": 10 },
            "sng-contract": { "date": "2026-11-21" }
        },
        "supply": { "west-east-pipeline": "6000", "coastal-lng": "1000", "sng-contract": "3000" }
    });
    let data: QuoteRequestData = serde_json::from_value(json).unwrap();
    let quote = city_gas().quote(&QuoteRequest::from(data)).unwrap();
    // The same market as the typed request in tests/quote.rs: 2.76 at peak.
    assert_eq!(quote.price, "2.76".parse().unwrap());
}
