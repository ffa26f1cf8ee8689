//! The MPMC work queue against a `VecDeque` model, under real threads with
//! every wait strategy, and with items that count their drops.
#![cfg(not(gasbao_loom))]

mod support;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use gasbao_ringbuf::mpmc::{channel, with_wait_strategy};
use gasbao_ringbuf::{PopError, PushError, WaitStrategy};
use proptest::prelude::*;
use support::{Counted, STRATEGIES, model_config};

#[derive(Debug, Clone)]
enum Op {
    Push(u32),
    Pop,
    PushBatch(Vec<u32>),
    PopBatch(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        any::<u32>().prop_map(Op::Push),
        Just(Op::Pop),
        proptest::collection::vec(any::<u32>(), 0..12).prop_map(Op::PushBatch),
        (0usize..12).prop_map(Op::PopBatch),
    ]
}

proptest! {
    #![proptest_config(model_config(256, 8))]

    /// On one thread, every operation does what a bounded `VecDeque` with
    /// the queue's capacity (the requested one rounded up to a power of two, at
    /// least 2) does.
    #[test]
    fn behaves_like_a_bounded_vecdeque(requested in 1usize..10, ops in proptest::collection::vec(op(), 0..60)) {
        let (producer, consumer) = channel::<u32>(requested);
        let capacity = requested.next_power_of_two().max(2);
        prop_assert_eq!(producer.capacity(), capacity);
        let mut model = VecDeque::new();
        for op in ops {
            match op {
                Op::Push(value) => {
                    let result = producer.try_push(value);
                    if model.len() < capacity {
                        prop_assert!(result.is_ok());
                        model.push_back(value);
                    } else {
                        prop_assert_eq!(result, Err(PushError::Full(value)));
                    }
                }
                Op::Pop => match model.pop_front() {
                    Some(value) => prop_assert_eq!(consumer.try_pop(), Ok(value)),
                    None => prop_assert_eq!(consumer.try_pop(), Err(PopError::Empty)),
                },
                Op::PushBatch(mut values) => {
                    let room = capacity - model.len();
                    let expected: Vec<u32> = values.iter().copied().take(room).collect();
                    let rest: Vec<u32> = values.iter().copied().skip(room).collect();
                    prop_assert_eq!(producer.try_push_batch(&mut values), expected.len());
                    prop_assert_eq!(&values, &rest);
                    model.extend(expected);
                }
                Op::PopBatch(max) => {
                    let mut out = Vec::new();
                    let expected: Vec<u32> = (0..max.min(model.len())).filter_map(|_| model.pop_front()).collect();
                    match consumer.try_pop_batch(max, &mut out) {
                        Ok(n) => prop_assert_eq!(n, expected.len()),
                        Err(e) => prop_assert!(expected.is_empty() && max > 0 && e == PopError::Empty),
                    }
                    prop_assert_eq!(out, expected);
                }
            }
        }
    }
}

#[test]
fn every_item_is_dropped_exactly_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (producer, consumer) = channel::<Counted>(8);
    for _ in 0..6 {
        producer.try_push(Counted(drops.clone())).ok().unwrap();
    }
    drop(consumer.try_pop().unwrap());
    let mut two = Vec::new();
    consumer.try_pop_batch(2, &mut two).unwrap();
    drop(two);
    assert_eq!(drops.load(Ordering::Relaxed), 3);
    let extra_consumer = consumer.clone();
    drop((producer, consumer));
    assert_eq!(drops.load(Ordering::Relaxed), 3, "a consumer is still alive");
    drop(extra_consumer);
    assert_eq!(drops.load(Ordering::Relaxed), 6);
}

#[test]
fn gone_consumers_hand_items_back_and_wake_waiting_producers() {
    let (producer, consumer) = with_wait_strategy::<u32>(2, WaitStrategy::Blocking);
    producer.try_push_batch(&mut vec![0, 1]);
    let waiting = thread::spawn({
        let producer = producer.clone();
        move || producer.push(2)
    });
    thread::sleep(Duration::from_millis(20));
    drop(consumer);
    assert_eq!(waiting.join().unwrap(), Err(PushError::Disconnected(2)));
    assert_eq!(producer.try_push(3), Err(PushError::Disconnected(3)));
    assert!(producer.is_abandoned());
}

#[test]
fn gone_producers_leave_their_items_then_disconnect_waiting_consumers() {
    for strategy in STRATEGIES {
        let (producer, consumer) = with_wait_strategy::<u32>(4, strategy);
        let second = producer.clone();
        producer.try_push(1).unwrap();
        second.try_push(2).unwrap();
        drop(producer);
        assert!(!consumer.is_abandoned());
        drop(second);
        assert!(consumer.is_abandoned());
        assert_eq!(consumer.pop(), Ok(1));
        assert_eq!(consumer.try_pop(), Ok(2));
        assert_eq!(consumer.pop(), Err(PopError::Disconnected), "{strategy:?}");
        assert_eq!(consumer.try_pop_batch(4, &mut Vec::new()), Err(PopError::Disconnected));

        let (producer, consumer) = with_wait_strategy::<u32>(4, strategy);
        let waiting = thread::spawn(move || consumer.pop());
        thread::sleep(Duration::from_millis(20));
        drop(producer);
        assert_eq!(waiting.join().unwrap(), Err(PopError::Disconnected), "{strategy:?}");
    }
}

#[test]
fn timeouts_give_up_after_about_the_time_asked() {
    for strategy in STRATEGIES {
        let (producer, consumer) = with_wait_strategy::<u32>(2, strategy);
        let started = Instant::now();
        assert_eq!(
            consumer.pop_timeout(Duration::from_millis(30)),
            Err(PopError::Empty),
            "{strategy:?}"
        );
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(30) && waited < Duration::from_secs(2),
            "{strategy:?}: {waited:?}"
        );

        assert_eq!(producer.try_push_batch(&mut vec![0, 1]), 2);
        let started = Instant::now();
        assert_eq!(
            producer.push_timeout(2, Duration::from_millis(30)),
            Err(PushError::Full(2)),
            "{strategy:?}"
        );
        assert!(started.elapsed() >= Duration::from_millis(30));
        // Room appears in time: the push succeeds.
        let popper = thread::spawn({
            let consumer = consumer.clone();
            move || {
                thread::sleep(Duration::from_millis(10));
                consumer.pop()
            }
        });
        assert_eq!(
            producer.push_timeout(3, Duration::from_secs(10)),
            Ok(()),
            "{strategy:?}"
        );
        assert_eq!(popper.join().unwrap(), Ok(0));
    }
}

#[test]
fn batches_wake_every_thread_they_let_through() {
    // A missed wake-up would end a wait only at its 10 s timeout, after which
    // the item or the room would still be found: so the test is the clock.
    let wait = Duration::from_secs(10);
    let prompt = Duration::from_secs(5);
    for strategy in STRATEGIES {
        // One batch of two items for two waiting consumers.
        let (producer, consumer) = with_wait_strategy::<u32>(4, strategy);
        let started = Instant::now();
        let waiting: Vec<_> = (0..2)
            .map(|_| {
                let consumer = consumer.clone();
                thread::spawn(move || consumer.pop_timeout(wait))
            })
            .collect();
        thread::sleep(Duration::from_millis(20));
        assert_eq!(producer.try_push_batch(&mut vec![7, 8]), 2);
        let mut popped: Vec<u32> = waiting.into_iter().map(|t| t.join().unwrap().unwrap()).collect();
        popped.sort_unstable();
        assert_eq!(popped, [7, 8], "{strategy:?}");
        assert!(
            started.elapsed() < prompt,
            "{strategy:?}: a batch push left a consumer asleep"
        );

        // Room for two freed by one batch pop, for two waiting producers.
        let (producer, consumer) = with_wait_strategy::<u32>(2, strategy);
        assert_eq!(producer.try_push_batch(&mut vec![1, 2]), 2);
        let started = Instant::now();
        let waiting: Vec<_> = (3..5)
            .map(|item| {
                let producer = producer.clone();
                thread::spawn(move || producer.push_timeout(item, wait))
            })
            .collect();
        thread::sleep(Duration::from_millis(20));
        let mut out = Vec::new();
        assert_eq!(consumer.try_pop_batch(2, &mut out), Ok(2));
        assert_eq!(out, [1, 2]);
        for pusher in waiting {
            assert_eq!(pusher.join().unwrap(), Ok(()), "{strategy:?}");
        }
        assert!(
            started.elapsed() < prompt,
            "{strategy:?}: a batch pop left a producer asleep"
        );
    }
}

#[test]
fn zero_sized_items_are_counted() {
    let (producer, consumer) = channel::<()>(4);
    let mut units = vec![(); 6];
    assert_eq!(producer.try_push_batch(&mut units), 4);
    assert_eq!(units.len(), 2);
    assert_eq!(producer.try_push(()), Err(PushError::Full(())));
    let mut out = Vec::new();
    assert_eq!(consumer.try_pop_batch(10, &mut out), Ok(4));
    assert_eq!(out.len(), 4);
}

#[test]
fn a_batch_pop_hands_over_every_item_it_claims() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (producer, consumer) = channel::<(u64, Counted)>(8);
    let mut items: Vec<(u64, Counted)> = (0..8).map(|meter| (meter, Counted(drops.clone()))).collect();
    assert_eq!(producer.try_push_batch(&mut items), 8);
    // A sink that already holds readings: the batch goes after them.
    let mut out = vec![(100, Counted(drops.clone()))];
    assert_eq!(consumer.try_pop_batch(5, &mut out), Ok(5));
    assert_eq!(
        out.iter().map(|(meter, _)| *meter).collect::<Vec<_>>(),
        [100, 0, 1, 2, 3, 4]
    );
    assert_eq!(drops.load(Ordering::Relaxed), 0, "nothing claimed was dropped");
    // The 5 claimed slots are free again: 5 more fit, and 8 remain to pop.
    let mut more: Vec<(u64, Counted)> = (8..13).map(|meter| (meter, Counted(drops.clone()))).collect();
    assert_eq!(producer.try_push_batch(&mut more), 5);
    let mut rest = Vec::new();
    assert_eq!(consumer.try_pop_batch(usize::MAX, &mut rest), Ok(8));
    assert_eq!(
        rest.iter().map(|(meter, _)| *meter).collect::<Vec<_>>(),
        (5..13).collect::<Vec<_>>()
    );
    drop((out, rest, producer, consumer));
    assert_eq!(drops.load(Ordering::Relaxed), 14);
}

/// A 48-byte meter reading, as the crate is built to carry.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Reading {
    producer: u64,
    sequence: u64,
    meter: u64,
    milli_m3: u64,
    temperature_milli_c: i64,
    pressure_pa: u64,
}

/// `producers` threads push `per_producer` readings each (alone or in
/// batches); `consumers` threads pop them (alone or in batches). Every
/// reading arrives exactly once, each consumer sees each producer's readings
/// in the order they were pushed, and the sums match.
fn stress(strategy: WaitStrategy, producers: u64, consumers: usize, batch: bool) {
    let per_producer: u64 = if cfg!(miri) { 40 } else { 100_000 };
    let (producer, consumer) = with_wait_strategy::<Reading>(if cfg!(miri) { 4 } else { 1024 }, strategy);
    let received = thread::scope(|s| {
        for p in 0..producers {
            let producer = producer.clone();
            s.spawn(move || {
                let reading = |sequence| Reading {
                    producer: p,
                    sequence,
                    meter: p * 1_000_000 + sequence,
                    milli_m3: sequence * 3,
                    temperature_milli_c: -5_000,
                    pressure_pa: 101_325,
                };
                if batch {
                    let mut sequence = 0;
                    let mut pending = Vec::new();
                    while sequence < per_producer || !pending.is_empty() {
                        while pending.len() < 32 && sequence < per_producer {
                            pending.push(reading(sequence));
                            sequence += 1;
                        }
                        if producer.try_push_batch(&mut pending) == 0 {
                            thread::yield_now();
                        }
                    }
                } else {
                    for sequence in 0..per_producer {
                        producer.push(reading(sequence)).unwrap();
                    }
                }
            });
        }
        drop(producer);
        let handles: Vec<_> = (0..consumers)
            .map(|_| {
                let consumer = consumer.clone();
                s.spawn(move || {
                    let mut seen = Vec::new();
                    let mut last = vec![None::<u64>; producers as usize];
                    loop {
                        let got = if batch {
                            let before = seen.len();
                            match consumer.try_pop_batch(32, &mut seen) {
                                Ok(_) => {}
                                Err(PopError::Empty) => {
                                    // Wait for one through the strategy, then go on batching.
                                    match consumer.pop() {
                                        Ok(r) => seen.push(r),
                                        Err(_) => break,
                                    }
                                }
                                Err(_) => break,
                            }
                            seen[before..].to_vec()
                        } else {
                            match consumer.pop() {
                                Ok(r) => {
                                    seen.push(r);
                                    vec![r]
                                }
                                Err(_) => break,
                            }
                        };
                        for r in got {
                            let previous = last[r.producer as usize].replace(r.sequence);
                            assert!(
                                previous.is_none_or(|p| p < r.sequence),
                                "order broken: {previous:?} then {r:?}"
                            );
                            assert_eq!(r.meter, r.producer * 1_000_000 + r.sequence);
                        }
                    }
                    seen
                })
            })
            .collect();
        drop(consumer);
        handles.into_iter().map(|h| h.join().unwrap()).collect::<Vec<_>>()
    });
    let mut all: Vec<(u64, u64)> = received.iter().flatten().map(|r| (r.producer, r.sequence)).collect();
    assert_eq!(all.len() as u64, producers * per_producer, "{strategy:?}");
    all.sort_unstable();
    all.dedup();
    assert_eq!(
        all.len() as u64,
        producers * per_producer,
        "an item arrived twice ({strategy:?})"
    );
    let total: u64 = received.iter().flatten().map(|r| r.milli_m3).sum();
    assert_eq!(total, producers * 3 * (per_producer * (per_producer - 1) / 2));
}

#[test]
fn two_producers_two_consumers_every_strategy() {
    for strategy in STRATEGIES {
        stress(strategy, 2, 2, false);
    }
}

#[test]
fn batches_across_threads() {
    stress(WaitStrategy::Blocking, 2, 2, true);
    stress(WaitStrategy::Yield, 3, 1, true);
}

#[test]
fn many_producers_one_consumer_and_one_producer_many_consumers() {
    stress(WaitStrategy::Blocking, 4, 1, false);
    stress(WaitStrategy::Backoff, 1, 4, false);
}

/// `len`, `is_empty` and `is_full` on either end, against a count kept here.
#[test]
fn lengths_are_snapshots_of_what_the_queue_holds() {
    let (producer, consumer) = channel::<u64>(4);
    assert_eq!(
        (producer.len(), consumer.is_empty(), producer.is_full()),
        (0, true, false)
    );
    for (meter, held) in (1..=4u64).zip(1..) {
        producer.try_push(meter).unwrap();
        assert_eq!((producer.len(), consumer.len()), (held, held));
    }
    assert!(producer.is_full() && consumer.is_full() && !consumer.is_empty());
    assert_eq!(consumer.try_pop(), Ok(1));
    assert_eq!((consumer.len(), producer.is_full()), (3, false));
    let mut out = Vec::new();
    assert_eq!(consumer.try_pop_batch(10, &mut out), Ok(3));
    assert!(consumer.is_empty() && producer.is_empty());
}

/// How many rounds each thread of the linearizability checks runs.
fn rounds() -> usize {
    if cfg!(miri) { 30 } else { 25_000 }
}

/// Ported from crossbeam-queue's `ArrayQueue` tests: each thread pops right
/// after its own push succeeded, so every pop finds an item; an `Empty`
/// there is an item that was in the queue and not seen.
#[test]
fn a_pop_after_ones_own_push_never_finds_the_queue_empty() {
    let (producer, consumer) = channel::<u64>(4);
    let spurious_empty = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..4 {
            let (producer, consumer) = (producer.clone(), consumer.clone());
            let spurious_empty = &spurious_empty;
            s.spawn(move || {
                for reading in 0..rounds() as u64 {
                    while producer.try_push(reading).is_err() {
                        thread::yield_now();
                    }
                    if consumer.try_pop() == Err(PopError::Empty) {
                        spurious_empty.fetch_add(1, Ordering::Relaxed);
                        // Keep the threads' pushes and pops matched.
                        while consumer.try_pop().is_err() {}
                    }
                }
            });
        }
    });
    assert_eq!(spurious_empty.load(Ordering::Relaxed), 0);
    assert!(consumer.is_empty());
}

/// The same for pushes: the queue starts full, and each thread pushes right
/// after its own pop succeeded, so every push finds room.
#[test]
fn a_push_after_ones_own_pop_never_finds_the_queue_full() {
    let (producer, consumer) = channel::<u64>(4);
    for reading in 0..4 {
        producer.try_push(reading).unwrap();
    }
    let spurious_full = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..4 {
            let (producer, consumer) = (producer.clone(), consumer.clone());
            let spurious_full = &spurious_full;
            s.spawn(move || {
                for _ in 0..rounds() {
                    let reading = loop {
                        match consumer.try_pop() {
                            Ok(reading) => break reading,
                            Err(_) => thread::yield_now(),
                        }
                    };
                    if let Err(PushError::Full(reading)) = producer.try_push(reading) {
                        spurious_full.fetch_add(1, Ordering::Relaxed);
                        while producer.try_push(reading).is_err() {}
                    }
                }
            });
        }
    });
    assert_eq!(spurious_full.load(Ordering::Relaxed), 0);
    assert!(producer.is_full());
}
