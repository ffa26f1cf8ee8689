//! The SPSC queue against a `VecDeque` model, under real threads, and with
//! items that count their drops.
#![cfg(not(gasbao_loom))]

mod support;

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use gasbao_ringbuf::spsc::{Consumer, Producer, channel};
use gasbao_ringbuf::{PopError, PushError};
use proptest::prelude::*;
use support::{Counted, model_config};

#[derive(Debug, Clone)]
enum Op {
    Push(u32),
    PushWith(u32),
    Pop,
    PushFrom(Vec<u32>),
    Drain(usize),
    PushBatch(Vec<u32>),
    PopBatch(usize),
    /// `Consumer::available` and `Producer::free`. Asked only now and then,
    /// because each refreshes that end's cached view of the other: asking
    /// after every step would hide a batch call that trusts a stale cache.
    Counts,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        any::<u32>().prop_map(Op::Push),
        any::<u32>().prop_map(Op::PushWith),
        Just(Op::Pop),
        proptest::collection::vec(any::<u32>(), 0..12).prop_map(Op::PushFrom),
        (0usize..12).prop_map(Op::Drain),
        proptest::collection::vec(any::<u32>(), 0..12).prop_map(Op::PushBatch),
        (0usize..12).prop_map(Op::PopBatch),
        Just(Op::Counts),
    ]
}

proptest! {
    #![proptest_config(model_config(256, 8))]

    /// Every operation does what a bounded `VecDeque` of the same capacity does.
    #[test]
    fn behaves_like_a_bounded_vecdeque(capacity in 0usize..10, ops in proptest::collection::vec(op(), 0..60)) {
        let (mut producer, mut consumer) = channel::<u32>(capacity);
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
                Op::PushWith(value) => {
                    let called = std::cell::Cell::new(false);
                    let result = producer.try_push_with(|| {
                        called.set(true);
                        value
                    });
                    if model.len() < capacity {
                        prop_assert!(result.is_ok());
                        model.push_back(value);
                    } else {
                        prop_assert!(matches!(result, Err(PushError::Full(_))));
                    }
                    // The item is made exactly when it fits.
                    prop_assert_eq!(called.get(), result.is_ok());
                }
                Op::Pop => match model.pop_front() {
                    Some(value) => prop_assert_eq!(consumer.try_pop(), Ok(value)),
                    None => prop_assert_eq!(consumer.try_pop(), Err(PopError::Empty)),
                },
                Op::PushFrom(values) => {
                    let room = capacity - model.len();
                    let mut items = values.clone().into_iter();
                    let pushed = producer.push_from(&mut items);
                    prop_assert_eq!(pushed, values.len().min(room));
                    model.extend(&values[..pushed]);
                    prop_assert_eq!(items.collect::<Vec<_>>(), values[pushed..].to_vec());
                }
                Op::Drain(max) => {
                    let got: Vec<u32> = consumer.drain(max).collect();
                    let want: Vec<u32> = model.drain(..max.min(model.len())).collect();
                    prop_assert_eq!(got, want);
                }
                Op::PushBatch(mut values) => {
                    let room = capacity - model.len();
                    let rest = values.split_off(values.len().min(room));
                    let mut items = [values.as_slice(), rest.as_slice()].concat();
                    prop_assert_eq!(producer.try_push_batch(&mut items), values.len());
                    prop_assert_eq!(items, rest);
                    model.extend(values);
                }
                Op::PopBatch(max) => {
                    let mut out = vec![7];
                    let want: Vec<u32> = model.drain(..max.min(model.len())).collect();
                    let expected = match (want.len(), max) {
                        (0, 0) => Ok(0),
                        (0, _) => Err(PopError::Empty),
                        (n, _) => Ok(n),
                    };
                    prop_assert_eq!(consumer.try_pop_batch(max, &mut out), expected);
                    prop_assert_eq!(out, [vec![7], want].concat(), "appended after what was there");
                }
                Op::Counts => {
                    prop_assert_eq!(consumer.available(), model.len());
                    prop_assert_eq!(producer.free(), capacity - model.len());
                }
            }
        }
    }
}

#[test]
fn every_item_is_dropped_exactly_once() {
    for (pushed, popped) in [(0, 0), (5, 0), (5, 2), (5, 5), (8, 3)] {
        let drops = Arc::new(AtomicUsize::new(0));
        let (mut producer, mut consumer) = channel(8);
        for _ in 0..pushed {
            producer.try_push(Counted(Arc::clone(&drops))).unwrap();
        }
        let taken: Vec<Counted> = consumer.drain(popped).collect();
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        drop(producer);
        drop(consumer);
        assert_eq!(drops.load(Ordering::SeqCst), pushed - popped, "left in the queue");
        drop(taken);
        assert_eq!(drops.load(Ordering::SeqCst), pushed, "({pushed}, {popped})");
    }
}

#[test]
fn a_gone_consumer_hands_the_item_back() {
    let (mut producer, consumer) = channel::<String>(4);
    producer.try_push("meter 1".into()).unwrap();
    drop(consumer);
    assert!(producer.is_abandoned());
    match producer.try_push("meter 2".into()) {
        Err(PushError::Disconnected(item)) => assert_eq!(item, "meter 2"),
        other => panic!("{other:?}"),
    }
    assert_eq!(producer.push_from(&mut ["meter 3".to_owned()].into_iter()), 0);
    let mut batch = vec!["meter 4".to_owned(), "meter 5".to_owned()];
    assert_eq!(producer.try_push_batch(&mut batch), 0);
    assert_eq!(batch, ["meter 4", "meter 5"], "kept by the caller");
}

#[test]
fn an_item_made_in_place_is_made_only_when_it_can_be_pushed() {
    let (mut producer, consumer) = channel::<String>(1);
    // A panicking `make` publishes nothing and leaves the queue usable.
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        let _ = producer.try_push_with(|| panic!("the reading could not be decoded"));
    }));
    assert!(panicked.is_err());
    assert_eq!(producer.free(), 1);
    producer.try_push_with(|| "meter 1".to_owned()).unwrap();
    // Full, then gone: `make` comes back unrun each time.
    let unrun = || -> String { unreachable!("made although it could not be pushed") };
    let unrun = match producer.try_push_with(unrun) {
        Err(PushError::Full(make)) => make,
        other => panic!("{other:?}"),
    };
    drop(consumer);
    assert!(matches!(producer.try_push_with(unrun), Err(PushError::Disconnected(_))));
}

#[test]
fn a_gone_producer_leaves_its_items_then_disconnects() {
    let (mut producer, mut consumer) = channel(4);
    producer.try_push(1).unwrap();
    producer.try_push(2).unwrap();
    drop(producer);
    assert!(consumer.is_abandoned());
    assert_eq!(consumer.try_pop(), Ok(1));
    assert_eq!(consumer.try_pop(), Ok(2));
    assert_eq!(consumer.try_pop(), Err(PopError::Disconnected));
    assert_eq!(consumer.try_pop_batch(4, &mut Vec::new()), Err(PopError::Disconnected));
}

#[test]
fn zero_sized_items_are_counted() {
    let (mut producer, mut consumer) = channel::<()>(3);
    for _ in 0..3 {
        producer.try_push(()).unwrap();
    }
    assert_eq!(producer.try_push(()), Err(PushError::Full(())));
    assert_eq!(consumer.drain(usize::MAX).count(), 3);
    assert_eq!(consumer.try_pop(), Err(PopError::Empty));
}

#[test]
fn a_zero_capacity_queue_is_always_full() {
    let (mut producer, mut consumer) = channel::<u8>(0);
    assert_eq!(producer.try_push(1), Err(PushError::Full(1)));
    assert_eq!(consumer.try_pop(), Err(PopError::Empty));
}

/// Moves a queue of 8 slots on by `offset` positions, so that a batch
/// after it starts at that slot: from 6 on, a batch of 5 wraps around the
/// end of the ring after 2 items.
fn advance(producer: &mut Producer<Counted>, consumer: &mut Consumer<Counted>, offset: usize) {
    let elsewhere = Arc::new(AtomicUsize::new(0));
    for _ in 0..offset {
        producer.try_push(Counted(Arc::clone(&elsewhere))).unwrap();
        consumer.try_pop().unwrap();
    }
    assert_eq!(elsewhere.load(Ordering::SeqCst), offset);
}

#[test]
fn a_panicking_batch_source_publishes_what_it_gave() {
    // (slot the batch starts at, items the source gives before it fails)
    for (offset, given) in [(0, 3), (6, 1), (6, 2), (6, 4)] {
        let drops = Arc::new(AtomicUsize::new(0));
        let (mut producer, mut consumer) = channel(8);
        advance(&mut producer, &mut consumer, offset);
        let source = Arc::clone(&drops);
        let mut items = (0..5).map(move |i| {
            assert!(i < given, "meter feed failed");
            Counted(Arc::clone(&source))
        });
        let outcome = catch_unwind(AssertUnwindSafe(|| producer.push_from(&mut items)));
        assert!(outcome.is_err(), "offset {offset}");
        assert_eq!(consumer.drain(usize::MAX).count(), given, "offset {offset}");
        assert_eq!(drops.load(Ordering::SeqCst), given, "offset {offset}");
        drop((producer, consumer, items));
    }
}

#[test]
fn a_panicking_consumer_loses_nothing_and_drops_nothing_twice() {
    // (slot the drain starts at, item the billing fails on, whether it
    // walks the drain with `for` (`next`) or `for_each` (`fold`)). From
    // slot 5, the six items wrap around the end of the ring after 3.
    for (offset, fails_on) in [(0, 2), (5, 1), (5, 4)] {
        for by_fold in [false, true] {
            let case = format!("offset {offset}, fails on {fails_on}, by fold: {by_fold}");
            let drops = Arc::new(AtomicUsize::new(0));
            let (mut producer, mut consumer) = channel(8);
            advance(&mut producer, &mut consumer, offset);
            for _ in 0..6 {
                producer.try_push(Counted(Arc::clone(&drops))).unwrap();
            }
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                let bill = |(i, item): (usize, Counted)| {
                    assert!(i < fails_on, "billing failed on item {i}");
                    drop(item);
                };
                if by_fold {
                    consumer.drain(6).enumerate().for_each(bill);
                } else {
                    for entry in consumer.drain(6).enumerate() {
                        bill(entry);
                    }
                }
            }));
            assert!(outcome.is_err(), "{case}");
            // The items before the failing one were billed, the failing one
            // was dropped by the unwinding; the rest stay queued.
            assert_eq!(drops.load(Ordering::SeqCst), fails_on + 1, "{case}");
            assert_eq!(consumer.drain(usize::MAX).count(), 6 - fails_on - 1, "{case}");
            drop((producer, consumer));
            assert_eq!(drops.load(Ordering::SeqCst), 6, "{case}");
        }
    }
}

/// Forgetting a drain part way is safe code, so it must not hand an item out
/// twice or drop one twice: the queue goes on after the items it handed
/// out, and keeps the rest. Run under Miri, with boxed items, too.
#[test]
fn a_forgotten_drain_hands_out_nothing_twice() {
    // (slot the drain starts at, items taken before it is forgotten); from
    // slot 6 its five items wrap around the end of the ring after two.
    for (offset, taken) in [(0, 2), (6, 1), (6, 3), (6, 5), (0, 0)] {
        let case = format!("offset {offset}, {taken} taken");
        let drops = Arc::new(AtomicUsize::new(0));
        let (mut producer, mut consumer) = channel(8);
        for _ in 0..offset {
            producer
                .try_push((u64::MAX, Box::new(Counted(Arc::clone(&drops)))))
                .unwrap();
            consumer.try_pop().unwrap();
        }
        for meter in 0..7u64 {
            producer
                .try_push((meter, Box::new(Counted(Arc::clone(&drops)))))
                .unwrap();
        }
        let mut drain = consumer.drain(5);
        let got: Vec<u64> = drain.by_ref().take(taken).map(|(meter, _)| meter).collect();
        std::mem::forget(drain);
        assert_eq!(got, (0..taken as u64).collect::<Vec<_>>(), "{case}");
        // The queue goes on with the first item the drain did not hand out.
        let rest: Vec<u64> = consumer.drain(usize::MAX).map(|(meter, _)| meter).collect();
        assert_eq!(rest, (taken as u64..7).collect::<Vec<_>>(), "{case}");
        assert_eq!(drops.load(Ordering::SeqCst), offset + 7, "{case}: each dropped once");
        // Every slot is free again.
        for meter in 0..8u64 {
            producer
                .try_push((meter, Box::new(Counted(Arc::clone(&drops)))))
                .unwrap();
        }
        drop((producer, consumer));
        assert_eq!(drops.load(Ordering::SeqCst), offset + 15, "{case}");
    }
}

/// Forgotten with both ends dropped at once, the queue's own drop drops the
/// items the drain did not hand out, and none it did.
#[test]
fn a_forgotten_drain_then_dropped_queue_drops_nothing_twice() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (mut producer, mut consumer) = channel(8);
    for _ in 0..4 {
        producer.try_push(Box::new(Counted(Arc::clone(&drops)))).unwrap();
    }
    let mut drain = consumer.drain(3);
    let first = drain.next().unwrap();
    let second = drain.next().unwrap();
    std::mem::forget(drain);
    drop((producer, consumer));
    assert_eq!(drops.load(Ordering::SeqCst), 2, "the two still queued");
    drop((first, second));
    assert_eq!(drops.load(Ordering::SeqCst), 4);
}

#[test]
fn peek_shows_the_next_item_without_taking_it() {
    let (mut producer, mut consumer) = channel::<u64>(4);
    assert_eq!(consumer.peek(), None);
    // A single push (stamped, not yet behind the tail) and a batch push.
    producer.try_push(350).unwrap();
    assert_eq!(consumer.peek(), Some(&350));
    assert_eq!(consumer.peek(), Some(&350), "peeking twice takes nothing");
    assert_eq!(producer.push_from(&mut [351, 352].into_iter()), 2);
    assert_eq!(consumer.try_pop(), Ok(350));
    assert_eq!(consumer.peek(), Some(&351));
    assert_eq!(consumer.drain(usize::MAX).collect::<Vec<_>>(), [351, 352]);
    assert_eq!(consumer.peek(), None);
}

/// A 48-byte meter reading, the size the queues are built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Reading {
    meter: u64,
    seq: u64,
    volume_milli_m3: u64,
    pressure_pa: u64,
    temperature_milli_k: u64,
    flags: u64,
}

#[test]
fn threads_get_every_item_once_in_order() {
    let count: u64 = if cfg!(miri) { 200 } else { 1_000_000 };
    for batch in [1usize, 32] {
        let (mut producer, mut consumer) = channel::<Reading>(if cfg!(miri) { 8 } else { 1024 });
        let sender = thread::spawn(move || {
            let mut readings = (0..count).map(|seq| Reading {
                meter: seq % 97,
                seq,
                volume_milli_m3: seq * 3,
                pressure_pa: 101_325,
                temperature_milli_k: 288_150,
                flags: 0,
            });
            let mut sent = 0;
            while sent < count {
                let pushed = if batch == 1 {
                    match readings.next() {
                        Some(reading) => {
                            let mut reading = reading;
                            loop {
                                match producer.try_push(reading) {
                                    Ok(()) => break,
                                    Err(PushError::Full(back)) => {
                                        reading = back;
                                        thread::yield_now();
                                    }
                                    Err(other) => panic!("{other:?}"),
                                }
                            }
                            1
                        }
                        None => 0,
                    }
                } else {
                    let mut chunk = readings.by_ref().take(batch).peekable();
                    let mut pushed = 0;
                    while chunk.peek().is_some() {
                        let n = producer.push_from(&mut chunk);
                        if n == 0 {
                            thread::yield_now();
                        }
                        pushed += n;
                    }
                    pushed
                };
                sent += pushed as u64;
            }
        });
        let mut expected = 0u64;
        let mut volume = 0u64;
        loop {
            let mut got = 0;
            for reading in consumer.drain(batch) {
                assert_eq!(reading.seq, expected, "batch {batch}");
                volume += reading.volume_milli_m3;
                expected += 1;
                got += 1;
            }
            if got == 0 {
                match consumer.try_pop() {
                    Ok(reading) => {
                        assert_eq!(reading.seq, expected);
                        volume += reading.volume_milli_m3;
                        expected += 1;
                    }
                    Err(PopError::Empty) => thread::yield_now(),
                    Err(PopError::Disconnected) => break,
                    Err(other) => panic!("{other:?}"),
                }
            }
        }
        sender.join().unwrap();
        assert_eq!(expected, count, "batch {batch}");
        assert_eq!(volume, 3 * count * (count - 1) / 2, "batch {batch}");
    }
}

#[test]
fn waiting_calls_wait_for_the_other_side_and_learn_when_it_leaves() {
    use std::time::{Duration, Instant};

    use gasbao_ringbuf::WaitStrategy;
    use gasbao_ringbuf::spsc::with_wait_strategy;

    let strategies: &[WaitStrategy] = if cfg!(miri) {
        &[WaitStrategy::Yield, WaitStrategy::Blocking]
    } else {
        &[
            WaitStrategy::BusySpin,
            WaitStrategy::Yield,
            WaitStrategy::Backoff,
            WaitStrategy::Blocking,
        ]
    };
    for &strategy in strategies {
        // A waiting pop gets the item pushed later, then hears the producer left.
        let (mut producer, mut consumer) = with_wait_strategy::<u32>(2, strategy);
        let popper = thread::spawn(move || (consumer.pop(), consumer.pop()));
        thread::sleep(Duration::from_millis(10));
        producer.push(7).unwrap();
        drop(producer);
        assert_eq!(
            popper.join().unwrap(),
            (Ok(7), Err(PopError::Disconnected)),
            "{strategy:?}"
        );

        // A waiting push gets room when the consumer pops, and its item back
        // when the consumer leaves (2 is dropped with the queue).
        let (mut producer, mut consumer) = with_wait_strategy::<u32>(1, strategy);
        producer.try_push(1).unwrap();
        let pusher = thread::spawn(move || {
            let first = producer.push(2);
            let second = producer.push(3);
            (first, second)
        });
        thread::sleep(Duration::from_millis(10));
        assert_eq!(consumer.pop(), Ok(1));
        // Once 2 fills the one slot, the push of 3 can only wait.
        while consumer.available() == 0 {
            thread::yield_now();
        }
        drop(consumer);
        assert_eq!(
            pusher.join().unwrap(),
            (Ok(()), Err(PushError::Disconnected(3))),
            "{strategy:?}"
        );

        // Batches wake the other side too, with both ends still there: a
        // waiting pop gets items pushed in one batch, and a waiting push gets
        // the room a drain frees. A missed wake-up would end the wait only
        // at its 10 s timeout, after which the item would still be found.
        let wait = Duration::from_secs(10);
        let prompt = Duration::from_secs(5);
        let started = Instant::now();
        let (mut producer, mut consumer) = with_wait_strategy::<u32>(4, strategy);
        let popper = thread::spawn(move || consumer.pop_timeout(wait));
        thread::sleep(Duration::from_millis(10));
        assert_eq!(producer.push_from(&mut (7..9)), 2);
        assert_eq!(popper.join().unwrap(), Ok(7), "{strategy:?}");
        assert!(started.elapsed() < prompt, "{strategy:?}: a batch push woke no one");
        let started = Instant::now();
        let (mut producer, mut consumer) = with_wait_strategy::<u32>(2, strategy);
        assert_eq!(producer.push_from(&mut (1..3)), 2);
        let pusher = thread::spawn(move || producer.push_timeout(3, wait));
        thread::sleep(Duration::from_millis(10));
        assert_eq!(consumer.drain(2).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(pusher.join().unwrap(), Ok(()), "{strategy:?}");
        assert!(started.elapsed() < prompt, "{strategy:?}: a drain woke no one");
        assert_eq!(consumer.try_pop(), Ok(3));

        // Timeouts give up after about the time asked.
        let (mut producer, mut consumer) = with_wait_strategy::<u32>(1, strategy);
        let started = Instant::now();
        assert_eq!(consumer.pop_timeout(Duration::from_millis(20)), Err(PopError::Empty));
        producer.try_push(1).unwrap();
        assert_eq!(
            producer.push_timeout(2, Duration::from_millis(20)),
            Err(PushError::Full(2))
        );
        assert!(started.elapsed() >= Duration::from_millis(40), "{strategy:?}");
    }
}
