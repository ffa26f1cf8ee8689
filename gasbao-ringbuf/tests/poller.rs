//! Multicast pollers: consumers on the caller's thread. They see every
//! event in order (an exclusive one may change it), gate producers and the
//! consumers after them like any consumer, and halt the ring when dropped
//! early or when a handler panics.
#![cfg(not(gasbao_loom))]

mod support;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use gasbao_ringbuf::multicast::{BuildError, Builder, Consumers, Poller, SingleProducer};
use gasbao_ringbuf::{PopError, PushError, WaitStrategy};
use support::STRATEGIES;

fn events() -> u64 {
    if cfg!(miri) { 40 } else { 20_000 }
}

type Seen = Arc<Mutex<Vec<u64>>>;

fn recorder(seen: &Seen) -> impl FnMut(&u64, u64, bool) + Send + 'static {
    let seen = seen.clone();
    move |_: &u64, sequence, _| seen.lock().unwrap().push(sequence)
}

#[test]
fn a_poller_between_two_thread_consumers_sees_every_change_in_order() {
    for strategy in STRATEGIES {
        // Four threads spinning on a two-core machine move only when the
        // scheduler switches: fewer events there.
        let count = if strategy == WaitStrategy::BusySpin {
            events() / 20
        } else {
            events()
        };
        let mut builder = Builder::new(16, || 0u64).wait_strategy(strategy);
        let double = builder.exclusive_consumer("double", &[], |v: &mut u64, _, _| *v *= 2);
        let bill = builder.poller("bill", &[double]);
        let audited = Seen::default();
        builder.consumer("audit", &[bill], recorder(&audited));
        let (mut producer, mut consumers) = builder.build_single_producer().unwrap();
        let mut bill = consumers.take_poller(bill).unwrap();
        let publisher = thread::spawn(move || {
            for sequence in 0..count {
                producer.publish(|v| *v = sequence).unwrap();
            }
        });
        let mut seen = Vec::new();
        loop {
            let mut batch = Vec::new();
            match bill.poll(|v: &u64, sequence, end_of_batch| batch.push((*v, sequence, end_of_batch))) {
                Ok(handled) => assert_eq!(handled, batch.len()),
                Err(PopError::Disconnected) => break,
                Err(PopError::Empty) => panic!("a waiting poll came back empty ({strategy:?})"),
                Err(other) => panic!("{other:?}"),
            }
            let ends: Vec<bool> = batch.iter().map(|&(_, _, end)| end).collect();
            let mut expected_ends = vec![false; batch.len()];
            expected_ends[batch.len() - 1] = true;
            assert_eq!(ends, expected_ends, "only a batch's last event ends it ({strategy:?})");
            seen.extend(batch.into_iter().map(|(v, sequence, _)| (v, sequence)));
        }
        publisher.join().unwrap();
        assert_eq!(bill.try_poll(|_, _, _| {}), Err(PopError::Disconnected), "stays ended");
        drop(bill);
        consumers.join().unwrap();
        let doubled: Vec<(u64, u64)> = (0..count).map(|s| (2 * s, s)).collect();
        assert_eq!(seen, doubled, "{strategy:?}");
        assert_eq!(*audited.lock().unwrap(), (0..count).collect::<Vec<_>>(), "{strategy:?}");
    }
}

#[test]
fn producers_do_not_lap_a_poller_that_has_not_polled() {
    let mut builder = Builder::new(4, || 0u64);
    let id = builder.poller("store", &[]);
    let (mut producer, mut consumers) = builder.build_single_producer().unwrap();
    let mut store = consumers.take_poller(id).unwrap();
    assert_eq!(store.try_poll(|_, _, _| {}), Err(PopError::Empty));
    for reading in 0..4 {
        producer.try_publish(|v| *v = reading).unwrap();
    }
    assert!(matches!(producer.try_publish(|v| *v = 4), Err(PushError::Full(_))));

    let mut got = Vec::new();
    assert_eq!(store.try_poll(|v: &u64, sequence, _| got.push((*v, sequence))), Ok(4));
    assert_eq!(got, [(0, 0), (1, 1), (2, 2), (3, 3)]);
    producer.try_publish(|v| *v = 4).unwrap();
    assert_eq!(store.try_poll(|v: &u64, _, end| got.push((*v, u64::from(end)))), Ok(1));
    assert_eq!(got[4], (4, 1));
    assert_eq!(store.try_poll(|_, _, _| {}), Err(PopError::Empty));

    drop(producer);
    assert_eq!(store.try_poll(|_, _, _| {}), Err(PopError::Disconnected));
    drop(store);
    consumers.join().unwrap();
}

/// A poller "validate" and a consumer thread "bill" after it, with
/// readings 0, 1 and 2 published and nothing polled yet.
fn validate_then_bill() -> (SingleProducer<u64>, Consumers<u64>, Poller<u64>, Seen) {
    let mut builder = Builder::new(8, || 0u64);
    let id = builder.poller("validate", &[]);
    let billed = Seen::default();
    builder.consumer("bill", &[id], recorder(&billed));
    let (mut producer, mut consumers) = builder.build_single_producer().unwrap();
    let validate = consumers.take_poller(id).unwrap();
    for reading in 0..3 {
        producer.publish(|v| *v = reading).unwrap();
    }
    (producer, consumers, validate, billed)
}

#[test]
fn a_consumer_after_a_poller_waits_for_its_polls() {
    let (producer, consumers, mut validate, billed) = validate_then_bill();
    thread::sleep(Duration::from_millis(50));
    assert!(billed.lock().unwrap().is_empty(), "billed before validation");
    assert_eq!(validate.try_poll(|_, _, _| {}), Ok(3));
    drop(producer);
    assert_eq!(validate.poll(|_, _, _| {}), Err(PopError::Disconnected));
    consumers.join().unwrap();
    assert_eq!(*billed.lock().unwrap(), [0, 1, 2]);
}

#[test]
fn dropping_a_poller_before_the_end_halts_the_ring() {
    let (mut producer, consumers, mut validate, billed) = validate_then_bill();
    assert_eq!(validate.try_poll(|_, _, _| {}), Ok(3));
    producer.publish(|v| *v = 3).unwrap();
    drop(validate);
    assert!(producer.is_abandoned());
    assert!(matches!(producer.try_publish(|_| {}), Err(PushError::Disconnected(_))));
    consumers.join().unwrap();
    // What the poller let through reaches bill; the event it never handled does not.
    assert_eq!(*billed.lock().unwrap(), [0, 1, 2]);
}

#[test]
fn a_poller_left_in_consumers_never_hangs_join() {
    let mut builder = Builder::new(8, || 0u64);
    let id = builder.poller("forgotten", &[]);
    let billed = Seen::default();
    builder.consumer("bill", &[id], recorder(&billed));
    let (mut producer, consumers) = builder.build_single_producer().unwrap();
    producer.publish(|v| *v = 1).unwrap();
    drop(producer);
    consumers.join().unwrap();
    assert!(billed.lock().unwrap().is_empty());
}

#[test]
fn a_panicking_poll_handler_halts_the_ring_and_ends_the_poller() {
    let mut builder = Builder::new(8, || 0u64);
    let id = builder.poller("validate", &[]);
    let (mut producer, mut consumers) = builder.build_single_producer().unwrap();
    let mut validate = consumers.take_poller(id).unwrap();
    for reading in 0..3 {
        producer.publish(|v| *v = reading).unwrap();
    }
    let mut handled = Vec::new();
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        validate.try_poll(|v: &u64, _, _| {
            assert_ne!(*v, 1, "reading 1 is corrupt");
            handled.push(*v);
        })
    }));
    assert!(panicked.is_err());
    assert_eq!(handled, [0]);
    // Nothing is handed out twice, and producers learn the ring halted.
    assert_eq!(
        validate.try_poll(|v: &u64, _, _| handled.push(*v)),
        Err(PopError::Disconnected)
    );
    assert_eq!(handled, [0]);
    assert!(matches!(producer.try_publish(|_| {}), Err(PushError::Disconnected(_))));
    consumers.join().unwrap();
}

#[test]
fn a_poll_with_a_timeout_waits_that_long_or_until_an_event_comes() {
    for strategy in STRATEGIES {
        let mut builder = Builder::new(8, || 0u64).wait_strategy(strategy);
        let id = builder.poller("store", &[]);
        let (mut producer, mut consumers) = builder.build_single_producer().unwrap();
        let mut store = consumers.take_poller(id).unwrap();
        let started = Instant::now();
        assert_eq!(
            store.poll_timeout(Duration::from_millis(20), |_, _, _| {}),
            Err(PopError::Empty)
        );
        assert!(started.elapsed() >= Duration::from_millis(20), "{strategy:?}");

        let publisher = thread::spawn(move || {
            thread::sleep(Duration::from_millis(30));
            producer.publish(|v| *v = 7).unwrap();
            producer
        });
        let started = Instant::now();
        let mut got = None;
        assert_eq!(
            store.poll_timeout(Duration::from_secs(60), |v: &u64, _, _| got = Some(*v)),
            Ok(1)
        );
        assert_eq!(got, Some(7));
        assert!(started.elapsed() < Duration::from_secs(30), "not woken ({strategy:?})");
        drop(publisher.join().unwrap());
        assert_eq!(
            store.poll_timeout(Duration::from_secs(60), |_, _, _| {}),
            Err(PopError::Disconnected)
        );
    }
}

#[test]
fn each_poller_is_taken_once_and_only_pollers_are() {
    let mut builder = Builder::new(4, || 0u64);
    let thread_consumer = builder.consumer("bill", &[], |_: &u64, _, _| {});
    let poller = builder.poller("store", &[]);
    let (producer, mut consumers) = builder.build_multi_producer().unwrap();
    assert!(consumers.take_poller(thread_consumer).is_none());
    let mut store = consumers.take_poller(poller).unwrap();
    assert!(consumers.take_poller(poller).is_none());
    assert_eq!(store.capacity(), 4);
    drop(producer);
    assert_eq!(store.try_poll(|_, _, _| {}), Err(PopError::Disconnected));
    consumers.join().unwrap();
}

#[test]
fn a_poller_may_run_on_another_thread_than_the_builder() {
    let mut builder = Builder::new(64, || 0u64).wait_strategy(WaitStrategy::Blocking);
    let id = builder.poller("store", &[]);
    let (mut producer, mut consumers) = builder.build_single_producer().unwrap();
    let mut store = consumers.take_poller(id).unwrap();
    let count = events();
    let poller = thread::spawn(move || {
        let mut sum = 0;
        while store.poll(|v: &u64, _, _| sum += v).is_ok() {}
        sum
    });
    for reading in 0..count {
        producer.publish(|v| *v = reading).unwrap();
    }
    drop(producer);
    assert_eq!(poller.join().unwrap(), count * (count - 1) / 2);
    consumers.join().unwrap();
}

#[test]
fn an_exclusive_poller_changes_what_the_consumers_after_it_see() {
    let mut builder = Builder::new(8, || 0u64);
    let cap = builder.exclusive_poller("cap", &[]);
    let billed = Arc::new(Mutex::new(Vec::new()));
    builder.consumer("bill", &[cap], {
        let billed = billed.clone();
        move |milli_m3: &u64, _, _| billed.lock().unwrap().push(*milli_m3)
    });
    let (mut producer, mut consumers) = builder.build_single_producer().unwrap();
    assert!(
        consumers.take_poller(cap).is_none(),
        "taken only as what it was registered as"
    );
    let mut cap = consumers.take_exclusive_poller(cap).unwrap();
    for milli_m3 in [5, 2_000_000, 7] {
        producer.publish(|v| *v = milli_m3).unwrap();
    }
    drop(producer);
    let mut seen = Vec::new();
    while cap
        .poll(|milli_m3: &mut u64, _, _| {
            seen.push(*milli_m3);
            *milli_m3 = (*milli_m3).min(1_000_000);
        })
        .is_ok()
    {}
    consumers.join().unwrap();
    assert_eq!(seen, [5, 2_000_000, 7]);
    assert_eq!(*billed.lock().unwrap(), [5, 1_000_000, 7]);
}

#[test]
fn an_exclusive_poller_beside_another_consumer_is_refused() {
    let mut builder = Builder::new(8, || 0u64);
    builder.consumer("audit", &[], |_: &u64, _, _| {});
    builder.exclusive_poller("cap", &[]);
    assert_eq!(
        builder.build_single_producer().err(),
        Some(BuildError::ExclusiveWithSibling {
            consumer: "cap".into(),
            sibling: "audit".into()
        })
    );
}
