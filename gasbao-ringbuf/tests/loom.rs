//! Every interleaving of the SPSC queue's two ends, explored by loom:
//! `RUSTFLAGS="--cfg gasbao_loom" cargo test --release -p gasbao-ringbuf --test loom`.
#![cfg(gasbao_loom)]

use gasbao_ringbuf::spsc::{channel, with_wait_strategy};
use gasbao_ringbuf::{PopError, PushError, WaitStrategy};
use loom::thread;

/// Runs `f` under loom with at most three preemptions per execution: enough to
/// interleave every push with every pop, and bounded in time (CI runs it).
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

/// Pushes `value`, yielding to the other thread while the queue is full.
fn push(producer: &mut gasbao_ringbuf::spsc::Producer<usize>, mut value: usize) {
    loop {
        match producer.try_push(value) {
            Ok(()) => return,
            Err(PushError::Full(back)) => {
                value = back;
                thread::yield_now();
            }
            Err(other) => panic!("{other:?}"),
        }
    }
}

#[test]
fn push_and_pop_hand_over_every_item_in_order() {
    model(|| {
        // One slot, two items: the second push must wait for the first pop.
        let (mut producer, mut consumer) = channel::<usize>(1);
        let sender = thread::spawn(move || {
            for value in 0..2 {
                push(&mut producer, value);
            }
        });
        let mut received = Vec::new();
        while received.len() < 2 {
            match consumer.try_pop() {
                Ok(value) => received.push(value),
                Err(PopError::Empty) => thread::yield_now(),
                Err(other) => panic!("{other:?}"),
            }
        }
        sender.join().unwrap();
        assert_eq!(received, [0, 1]);
    });
}

#[test]
fn batches_hand_over_every_item_in_order() {
    model(|| {
        let (mut producer, mut consumer) = channel::<usize>(2);
        let sender = thread::spawn(move || {
            let mut items = 0..3;
            let mut sent = 0;
            while sent < 3 {
                let pushed = producer.push_from(&mut items);
                if pushed == 0 {
                    thread::yield_now();
                }
                sent += pushed;
            }
        });
        let mut received = Vec::new();
        while received.len() < 3 {
            let before = received.len();
            received.extend(consumer.drain(2));
            if received.len() == before {
                thread::yield_now();
            }
        }
        sender.join().unwrap();
        assert_eq!(received, [0, 1, 2]);
    });
}

/// A pop finds an item by the stamp in its slot, which the producer writes
/// before it moves the tail; a batch read right after must not take the
/// late tail for a count of items. A batch push stamps nothing, so a pop
/// after it must find its items by the tail.
#[test]
fn pops_by_stamp_and_batch_reads_agree() {
    model(|| {
        let (mut producer, mut consumer) = channel::<usize>(2);
        let sender = thread::spawn(move || {
            push(&mut producer, 0);
            let mut items = 1..3;
            while !items.is_empty() {
                if producer.push_from(&mut items) == 0 {
                    thread::yield_now();
                }
            }
        });
        let mut received = Vec::new();
        while received.len() < 3 {
            let before = received.len();
            if let Ok(value) = consumer.try_pop() {
                received.push(value);
            }
            received.extend(consumer.drain(2));
            if received.len() == before {
                thread::yield_now();
            }
        }
        sender.join().unwrap();
        assert_eq!(received, [0, 1, 2]);
    });
}

/// Single pushes leave the shared tail behind; a consumer that only drains
/// must find their items by the stamps past it, whichever order it sees the
/// producer's stamps and its flag in.
#[test]
fn drains_find_single_pushes_by_their_stamps() {
    model(|| {
        let (mut producer, mut consumer) = channel::<usize>(2);
        let sender = thread::spawn(move || {
            push(&mut producer, 0);
            push(&mut producer, 1);
            producer
        });
        let mut received = Vec::new();
        while received.len() < 2 {
            let before = received.len();
            received.extend(consumer.drain(2));
            if received.len() == before {
                thread::yield_now();
            }
        }
        let _producer = sender.join().unwrap();
        assert_eq!(received, [0, 1]);
    });
}

#[test]
fn a_blocking_pop_past_the_lagging_tail_sleeps_until_the_next_push() {
    // The first pop goes by the stamp, and single pushes leave the tail
    // behind; the second pop then finds the tail behind its head. Taking
    // that lag for an item would spin the consumer (loom reports the
    // endless branches) instead of sleeping until the second push wakes it.
    model(|| {
        let (mut producer, mut consumer) = with_wait_strategy::<usize>(2, WaitStrategy::Blocking);
        let popper = thread::spawn(move || [consumer.pop(), consumer.pop()]);
        producer.push(1).unwrap();
        producer.push(2).unwrap();
        assert_eq!(popper.join().unwrap(), [Ok(1), Ok(2)]);
        drop(producer);
    });
}

#[test]
fn a_dropped_producer_never_hides_its_last_item() {
    model(|| {
        let (mut producer, mut consumer) = channel::<usize>(1);
        let sender = thread::spawn(move || {
            producer.push(7).unwrap();
            drop(producer);
        });
        let mut received = Vec::new();
        loop {
            match consumer.try_pop() {
                Ok(value) => received.push(value),
                Err(PopError::Empty) => thread::yield_now(),
                Err(PopError::Disconnected) => break,
                Err(other) => panic!("{other:?}"),
            }
        }
        sender.join().unwrap();
        assert_eq!(received, [7]);
    });
}

mod mpmc {
    use gasbao_ringbuf::mpmc::{channel, with_wait_strategy};
    use gasbao_ringbuf::{PopError, PushError, WaitStrategy};
    use loom::thread;

    use super::model;

    fn push(producer: &gasbao_ringbuf::mpmc::Producer<usize>, mut value: usize) {
        loop {
            match producer.try_push(value) {
                Ok(()) => return,
                Err(PushError::Full(back)) => {
                    value = back;
                    thread::yield_now();
                }
                Err(other) => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn two_producers_claim_distinct_slots_and_every_item_arrives_once() {
        model(|| {
            let (producer, consumer) = channel::<usize>(2);
            let other = producer.clone();
            let a = thread::spawn(move || push(&other, 10));
            push(&producer, 20);
            drop(producer);
            let mut received = Vec::new();
            loop {
                match consumer.try_pop() {
                    Ok(value) => received.push(value),
                    Err(PopError::Empty) => thread::yield_now(),
                    Err(PopError::Disconnected) => break,
                    Err(other) => panic!("{other:?}"),
                }
            }
            a.join().unwrap();
            received.sort_unstable();
            assert_eq!(received, [10, 20]);
        });
    }

    #[test]
    fn two_consumers_never_take_the_same_item() {
        model(|| {
            let (producer, consumer) = channel::<usize>(2);
            assert_eq!(producer.try_push_batch(&mut vec![1, 2]), 2);
            drop(producer);
            let other = consumer.clone();
            let taker = thread::spawn(move || other.try_pop().ok());
            let mine = consumer.try_pop().ok();
            let theirs = taker.join().unwrap();
            let mut all: Vec<usize> = mine.into_iter().chain(theirs).collect();
            while let Ok(v) = consumer.try_pop() {
                all.push(v);
            }
            all.sort_unstable();
            assert_eq!(all, [1, 2]);
        });
    }

    #[test]
    fn a_batch_claimed_while_another_is_published_keeps_order() {
        model(|| {
            let (producer, consumer) = channel::<usize>(4);
            let sender = thread::spawn(move || {
                let mut items = vec![1, 2, 3];
                while !items.is_empty() {
                    if producer.try_push_batch(&mut items) == 0 {
                        thread::yield_now();
                    }
                }
            });
            let mut received = Vec::new();
            while received.len() < 3 {
                if consumer.try_pop_batch(2, &mut received).is_err() {
                    thread::yield_now();
                }
            }
            sender.join().unwrap();
            assert_eq!(received, [1, 2, 3]);
        });
    }

    #[test]
    fn a_blocked_consumer_is_never_left_sleeping() {
        // A lost wake-up would leave the consumer asleep forever: loom reports
        // the deadlock.
        model(|| {
            let (producer, consumer) = with_wait_strategy::<usize>(2, WaitStrategy::Blocking);
            let sender = thread::spawn(move || {
                producer.push(7).unwrap();
            });
            assert_eq!(consumer.pop(), Ok(7));
            assert_eq!(consumer.pop(), Err(PopError::Disconnected));
            sender.join().unwrap();
        });
    }

    #[test]
    fn a_push_wakes_a_sleeping_consumer_while_the_producer_stays() {
        // The producer outlives the pop, so only the push itself can wake
        // the consumer: its CAS must see the consumer's mark on the tail.
        model(|| {
            let (producer, consumer) = with_wait_strategy::<usize>(2, WaitStrategy::Blocking);
            let popper = thread::spawn(move || consumer.pop());
            producer.push(7).unwrap();
            assert_eq!(popper.join().unwrap(), Ok(7));
            drop(producer);
        });
    }

    #[test]
    fn a_pop_wakes_a_sleeping_producer_while_the_consumer_stays() {
        model(|| {
            let (producer, consumer) = with_wait_strategy::<usize>(2, WaitStrategy::Blocking);
            producer.try_push(1).unwrap();
            producer.try_push(2).unwrap();
            let pusher = thread::spawn(move || producer.push(3));
            assert_eq!(consumer.pop(), Ok(1));
            assert_eq!(pusher.join().unwrap(), Ok(()));
            assert_eq!(consumer.try_pop(), Ok(2));
            assert_eq!(consumer.try_pop(), Ok(3));
        });
    }
}

mod multicast {
    use std::sync::Arc;

    use gasbao_ringbuf::PopError;
    use gasbao_ringbuf::multicast::Builder;
    use loom::sync::Mutex;

    #[test]
    fn a_dependent_consumer_sees_its_upstream_change_then_the_ring_shuts_down() {
        // Three threads (producer, two consumers) and the shutdown handshake
        // make a large space: two preemptions keep it to minutes.
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(2);
        builder.check(|| {
            let seen = Arc::new(Mutex::new(Vec::new()));
            let mut ring = Builder::new(1, || 0usize);
            let double = ring.exclusive_consumer("double", &[], |v: &mut usize, _, _| *v *= 2);
            ring.consumer("record", &[double], {
                let seen = seen.clone();
                move |v: &usize, _, _| seen.lock().unwrap().push(*v)
            });
            let (mut producer, consumers) = ring.build_single_producer().unwrap();
            producer.publish(|v| *v = 21).unwrap();
            drop(producer);
            consumers.join().unwrap();
            assert_eq!(*seen.lock().unwrap(), [42]);
        });
    }

    #[test]
    fn a_poller_sees_its_upstream_change_then_the_end() {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(2);
        builder.check(|| {
            let mut ring = Builder::new(1, || 0usize);
            let double = ring.exclusive_consumer("double", &[], |v: &mut usize, _, _| *v *= 2);
            let id = ring.poller("record", &[double]);
            let (mut producer, mut consumers) = ring.build_single_producer().unwrap();
            let mut record = consumers.take_poller(id).unwrap();
            let publisher = loom::thread::spawn(move || producer.publish(|v| *v = 21).unwrap());
            let mut seen = Vec::new();
            loop {
                match record.try_poll(|v: &usize, _, _| seen.push(*v)) {
                    Ok(_) => {}
                    Err(PopError::Empty) => loom::thread::yield_now(),
                    Err(PopError::Disconnected) => break,
                    Err(other) => panic!("{other:?}"),
                }
            }
            publisher.join().unwrap();
            consumers.join().unwrap();
            assert_eq!(seen, [42]);
        });
    }

    #[test]
    fn the_producer_waits_for_the_slowest_consumer_before_reusing_a_slot() {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(2);
        builder.check(|| {
            let seen = Arc::new(Mutex::new(Vec::new()));
            let mut ring = Builder::new(1, || 0usize);
            let first = ring.consumer("first", &[], |_: &usize, _, _| {});
            ring.consumer("second", &[first], {
                let seen = seen.clone();
                move |v: &usize, _, _| seen.lock().unwrap().push(*v)
            });
            let (mut producer, consumers) = ring.build_single_producer().unwrap();
            // One slot: the second publish must wait until both consumers
            // are done with the first event.
            producer.publish(|v| *v = 1).unwrap();
            producer.publish(|v| *v = 2).unwrap();
            drop(producer);
            consumers.join().unwrap();
            assert_eq!(*seen.lock().unwrap(), [1, 2]);
        });
    }
}
