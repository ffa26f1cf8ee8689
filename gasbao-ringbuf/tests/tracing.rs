//! With feature `tracing`, a multicast consumer that stops says how.
#![cfg(feature = "tracing")]

use std::sync::{Arc, Mutex};

use gasbao_ringbuf::multicast::Builder;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Keeps each event's level, message and `consumer` field.
#[derive(Clone, Default)]
struct Events(Arc<Mutex<Vec<(tracing::Level, String, String)>>>);

struct Fields(String, String);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "consumer" {
            self.1 = value.to_owned();
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.0 = format!("{value:?}"),
            "consumer" => self.1 = format!("{value:?}"),
            _ => {}
        }
    }
}

impl Subscriber for Events {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields(String::new(), String::new());
        event.record(&mut fields);
        self.0
            .lock()
            .unwrap()
            .push((*event.metadata().level(), fields.0, fields.1));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn a_finished_and_a_panicked_consumer_are_reported_by_name() {
    let events = Events::default();
    tracing::subscriber::set_global_default(events.clone()).unwrap();

    let mut builder = Builder::new(8, || 0u64);
    builder.consumer("billing", &[], |_: &u64, _, _| {});
    let (mut producer, consumers) = builder.build_single_producer().unwrap();
    producer.publish(|slot| *slot = 1).unwrap();
    drop(producer);
    consumers.join().unwrap();

    let mut builder = Builder::new(8, || 0u64);
    builder.consumer("alerts", &[], |reading: &u64, _, _| {
        assert!(*reading < 10, "a reading out of range")
    });
    let (mut producer, consumers) = builder.build_single_producer().unwrap();
    producer.publish(|slot| *slot = 99).unwrap();
    drop(producer);
    assert_eq!(consumers.join().unwrap_err().consumer, "alerts");

    // A poller that saw the end finishes; one dropped early halts the ring.
    let mut builder = Builder::new(8, || 0u64);
    let store = builder.poller("store", &[]);
    let early = builder.poller("archive", &[]);
    let (mut producer, mut consumers) = builder.build_single_producer().unwrap();
    let (mut store, archive) = (
        consumers.take_poller(store).unwrap(),
        consumers.take_poller(early).unwrap(),
    );
    producer.publish(|slot| *slot = 1).unwrap();
    drop(archive);
    drop(producer);
    while store.poll(|_, _, _| {}).is_ok() {}
    drop(store);
    consumers.join().unwrap();

    let seen = events.0.lock().unwrap().clone();
    let find = |consumer: &str| seen.iter().find(|(_, _, c)| c == consumer).cloned();
    let (level, message, _) = find("billing").expect("an event for billing");
    assert_eq!(level, tracing::Level::DEBUG);
    assert!(message.contains("finished"), "{message}");
    let (level, message, _) = find("alerts").expect("an event for alerts");
    assert_eq!(level, tracing::Level::ERROR);
    assert!(message.contains("panicked"), "{message}");
    let (level, message, _) = find("archive").expect("an event for archive");
    assert_eq!(level, tracing::Level::WARN);
    assert!(message.contains("halted"), "{message}");
    let (_, message, _) = find("store").expect("an event for store");
    assert!(
        message.contains("halted"),
        "store stopped after the ring halted: {message}"
    );
}
