//! One thread pushes an item, then pops it: what a queue's two operations
//! cost without another thread. Shared by the criterion bench (`ringbuf`),
//! which times each step, and the round-robin runner (`ringbuf_peers`),
//! which times the queues in turns so that their ratios come from the same
//! minutes of this drifting machine.
//!
//! Each step returns a plain `u64`. An `Option<u64>` cost a store-forwarding
//! stall in criterion's `black_box` (two 8-byte stores read back as one
//! 16-byte load; seen in `perf annotate`), which made gasbao and rtrb look
//! three times slower than they are; the disruptor's step returns a `u64`.

use std::hint::black_box;

use crossbeam_queue::ArrayQueue;
use disruptor::Producer as _;
use gasbao::ringbuf::multicast::Builder;
use gasbao::ringbuf::{WaitStrategy, spsc};

/// gasbao's SPSC queue, one item per step.
pub(crate) fn gasbao(capacity: usize, strategy: WaitStrategy) -> impl FnMut() -> u64 {
    let (mut producer, mut consumer) = spsc::with_wait_strategy::<u64>(capacity, strategy);
    move || {
        producer.try_push(black_box(7)).ok();
        consumer.try_pop().unwrap_or(0)
    }
}

/// rtrb, one item per step.
pub(crate) fn rtrb(capacity: usize) -> impl FnMut() -> u64 {
    let (mut producer, mut consumer) = rtrb::RingBuffer::<u64>::new(capacity);
    move || {
        producer.push(black_box(7)).ok();
        consumer.pop().unwrap_or(0)
    }
}

/// crossbeam's `ArrayQueue`, one item per step.
pub(crate) fn array_queue(capacity: usize) -> impl FnMut() -> u64 {
    let queue = ArrayQueue::<u64>::new(capacity);
    move || {
        queue.push(black_box(7)).ok();
        queue.pop().unwrap_or(0)
    }
}

/// The disruptor on one thread: publish, then read the event back through an
/// event poller instead of a consumer thread.
pub(crate) fn disruptor(capacity: usize) -> impl FnMut() -> u64 {
    let (mut poller, builder) =
        disruptor::build_single_producer(capacity, || 0u64, disruptor::BusySpin).new_event_poller();
    let mut producer = builder.build();
    move || {
        producer.publish(|e| *e = black_box(7));
        let mut sum = 0;
        if let Ok(mut events) = poller.poll() {
            for e in &mut events {
                sum += *e;
            }
        }
        sum
    }
}

/// gasbao's SPSC queue, `batch` items per step: `push_from`, then `drain`.
pub(crate) fn gasbao_batch(capacity: usize, batch: usize) -> impl FnMut() -> u64 {
    let (mut producer, mut consumer) = spsc::with_wait_strategy::<u64>(capacity, WaitStrategy::BusySpin);
    move || {
        producer.push_from(&mut (0..batch as u64));
        consumer.drain(batch).sum::<u64>()
    }
}

/// gasbao's SPSC queue, `batch` items per step through `Vec`s, the call
/// both queues share: `try_push_batch`, then `try_pop_batch`.
pub(crate) fn gasbao_vec_batch(capacity: usize, batch: usize) -> impl FnMut() -> u64 {
    let (mut producer, mut consumer) = spsc::with_wait_strategy::<u64>(capacity, WaitStrategy::BusySpin);
    let (mut readings, mut popped) = (Vec::with_capacity(batch), Vec::with_capacity(batch));
    move || {
        readings.extend(0..batch as u64);
        producer.try_push_batch(&mut readings);
        popped.clear();
        consumer.try_pop_batch(batch, &mut popped).ok();
        popped.iter().sum::<u64>()
    }
}

/// A gasbao multicast ring with one poller, on one thread: publish, then
/// poll, as the disruptor's case does.
pub(crate) fn gasbao_poller(capacity: usize) -> impl FnMut() -> u64 {
    let mut builder = Builder::new(capacity, || 0u64).wait_strategy(WaitStrategy::BusySpin);
    let id = builder.poller("bench", &[]);
    let (mut producer, mut consumers) = builder.build_single_producer().expect("one poller");
    let mut poller = consumers.take_poller(id).expect("the poller");
    move || {
        producer.try_publish(|e| *e = black_box(7)).ok();
        let mut sum = 0;
        poller.try_poll(|e, _, _| sum += *e).ok();
        sum
    }
}

/// A gasbao multicast ring with one poller: `publish_batch`, then one poll.
pub(crate) fn gasbao_poller_batch(capacity: usize, batch: usize) -> impl FnMut() -> u64 {
    let mut builder = Builder::new(capacity, || 0u64).wait_strategy(WaitStrategy::BusySpin);
    let id = builder.poller("bench", &[]);
    let (mut producer, mut consumers) = builder.build_single_producer().expect("one poller");
    let mut poller = consumers.take_poller(id).expect("the poller");
    move || {
        producer.try_publish_batch(batch, |e, i| *e = i as u64).ok();
        let mut sum = 0;
        poller.try_poll(|e, _, _| sum += *e).ok();
        sum
    }
}

/// rtrb's chunks: one written, then one read.
pub(crate) fn rtrb_chunks(capacity: usize, batch: usize) -> impl FnMut() -> u64 {
    let (mut producer, mut consumer) = rtrb::RingBuffer::<u64>::new(capacity);
    move || {
        if let Ok(chunk) = producer.write_chunk_uninit(batch) {
            chunk.fill_from_iter(0..batch as u64);
        }
        match consumer.read_chunk(batch) {
            Ok(chunk) => chunk.into_iter().sum::<u64>(),
            Err(_) => 0,
        }
    }
}

/// The disruptor's `batch_publish`, read back through an event poller.
pub(crate) fn disruptor_batch(capacity: usize, batch: usize) -> impl FnMut() -> u64 {
    let (mut poller, builder) =
        disruptor::build_single_producer(capacity, || 0u64, disruptor::BusySpin).new_event_poller();
    let mut producer = builder.build();
    move || {
        let mut i = 0;
        producer.batch_publish(batch, |events| {
            for e in events {
                *e = i;
                i += 1;
            }
        });
        let mut sum = 0;
        if let Ok(mut events) = poller.poll() {
            for e in &mut events {
                sum += *e;
            }
        }
        sum
    }
}
