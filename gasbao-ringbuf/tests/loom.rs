//! Every interleaving of the SPSC queue's two ends, explored by loom:
//! `RUSTFLAGS="--cfg gasbao_loom" cargo test --release -p gasbao-ringbuf --test loom`.
#![cfg(gasbao_loom)]

use gasbao_ringbuf::spsc::channel;
use gasbao_ringbuf::{PopError, PushError};
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
        match producer.push(value) {
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
            match consumer.pop() {
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
            match consumer.pop() {
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
