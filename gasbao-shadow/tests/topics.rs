//! MQTT topic names, from the AWS IoT Developer Guide page "Device Shadow
//! MQTT topics" (https://docs.aws.amazon.com/iot/latest/developerguide/reserved-topics.html#reserved-topics-shadow),
//! and thing and shadow names as "Device Shadow service" limits allow them.

use gasbao_shadow::{NameError, Operation, Reply, ShadowId, ShadowName, ShadowTopic, ThingName, TopicError};

fn classic() -> ShadowId {
    ShadowId::classic(ThingName::new("meter-7").unwrap())
}

fn named() -> ShadowId {
    ShadowId::named(ThingName::new("meter-7").unwrap(), ShadowName::new("valve").unwrap())
}

#[test]
fn every_topic_is_built_and_parsed_as_aws_names_it() {
    let cases = [
        (classic(), Operation::Update, None, "$aws/things/meter-7/shadow/update"),
        (
            classic(),
            Operation::Update,
            Some(Reply::Accepted),
            "$aws/things/meter-7/shadow/update/accepted",
        ),
        (
            classic(),
            Operation::Update,
            Some(Reply::Rejected),
            "$aws/things/meter-7/shadow/update/rejected",
        ),
        (
            classic(),
            Operation::Update,
            Some(Reply::Delta),
            "$aws/things/meter-7/shadow/update/delta",
        ),
        (
            classic(),
            Operation::Update,
            Some(Reply::Documents),
            "$aws/things/meter-7/shadow/update/documents",
        ),
        (classic(), Operation::Get, None, "$aws/things/meter-7/shadow/get"),
        (
            classic(),
            Operation::Get,
            Some(Reply::Accepted),
            "$aws/things/meter-7/shadow/get/accepted",
        ),
        (
            classic(),
            Operation::Delete,
            Some(Reply::Rejected),
            "$aws/things/meter-7/shadow/delete/rejected",
        ),
        (
            named(),
            Operation::Update,
            Some(Reply::Delta),
            "$aws/things/meter-7/shadow/name/valve/update/delta",
        ),
        (
            named(),
            Operation::Get,
            None,
            "$aws/things/meter-7/shadow/name/valve/get",
        ),
        (
            named(),
            Operation::Delete,
            Some(Reply::Accepted),
            "$aws/things/meter-7/shadow/name/valve/delete/accepted",
        ),
    ];
    for (shadow, operation, reply, text) in cases {
        let topic = match reply {
            None => ShadowTopic::request(&shadow, operation),
            Some(reply) => ShadowTopic::reply(&shadow, operation, reply).unwrap(),
        };
        assert_eq!(topic.to_string(), text);
        assert_eq!(ShadowTopic::parse(text).unwrap(), topic, "{text}");
    }
}

#[test]
fn only_update_has_delta_and_documents() {
    let error = ShadowTopic::reply(&classic(), Operation::Get, Reply::Delta).unwrap_err();
    assert_eq!(
        error,
        TopicError::NoSuchReply {
            topic: "$aws/things/meter-7/shadow/get/delta".into()
        }
    );
    assert!(matches!(
        ShadowTopic::parse("$aws/things/meter-7/shadow/delete/documents"),
        Err(TopicError::NotShadowTopic { .. })
    ));
}

#[test]
fn strings_that_are_not_shadow_topics_are_refused() {
    for text in [
        "",
        "$aws/things/meter-7/shadow",
        "$aws/things/meter-7/shadow/",
        "$aws/things/meter-7/jobs/get",
        "$aws/things/meter-7/shadow/name/valve",
        "$aws/things/meter-7/shadow/update/accepted/extra",
        "things/meter-7/shadow/update",
        "$aws/things/meter-7/shadow/list",
    ] {
        assert!(
            matches!(ShadowTopic::parse(text), Err(TopicError::NotShadowTopic { .. })),
            "{text:?}"
        );
    }
    let error = ShadowTopic::parse("$aws/things/meter 7/shadow/get").unwrap_err();
    assert!(
        matches!(
            error,
            TopicError::Name {
                source: NameError::InvalidCharacter {
                    character: ' ',
                    at: 5,
                    ..
                },
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn names_follow_the_documented_limits() {
    assert!(ThingName::new("a:b_c-D9").is_ok());
    assert_eq!(ThingName::new("x".repeat(128)).map(|n| n.as_str().len()), Ok(128));
    assert_eq!(
        ThingName::new("x".repeat(129)),
        Err(NameError::TooLong {
            kind: "thing",
            bytes: 129,
            max_bytes: 128
        })
    );
    assert_eq!(
        ShadowName::new("x".repeat(65)),
        Err(NameError::TooLong {
            kind: "shadow",
            bytes: 65,
            max_bytes: 64
        })
    );
    assert_eq!(ShadowName::new(""), Err(NameError::Empty { kind: "shadow" }));
    assert_eq!(
        ThingName::new("a/b"),
        Err(NameError::InvalidCharacter {
            kind: "thing",
            character: '/',
            at: 1
        })
    );
    assert_eq!(
        ShadowName::new("$x"),
        Err(NameError::InvalidCharacter {
            kind: "shadow",
            character: '$',
            at: 0
        })
    );
    let parsed = serde_json::from_str::<ThingName>("\"bad name\"").unwrap_err();
    assert!(parsed.to_string().contains("' ' at byte 3"), "{parsed}");
}
