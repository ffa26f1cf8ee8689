//! gasbao-ringbuf's SPSC queue beside rtrb, crossbeam's `ArrayQueue` and
//! (on one thread, through its event poller, beside gasbao's multicast
//! poller) the disruptor, in one binary:
//! capacity 1024, `u64` items, single items and batches of 32. On one
//! thread, also the SPSC and MPMC queues under the blocking strategy: what
//! it costs a push and pop that find no sleeper.
//!
//! `cargo bench --bench ringbuf`. The two threads of the 1->1 runs are not
//! pinned to cores; `benches/ringbuf_peers.rs` has the pinned comparison of
//! every topology.

use std::hint::black_box;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use crossbeam_queue::ArrayQueue;
use gasbao::ringbuf::{WaitStrategy, mpmc, spsc};

#[path = "support/one_thread.rs"]
mod one_thread;

const CAPACITY: usize = 1024;
const BATCH: usize = 32;

/// One thread pushes then pops each item: the cost of the two operations
/// without any contention (the cases are in `support/one_thread.rs`).
fn single_thread(c: &mut Criterion) {
    let mut group = c.benchmark_group("spsc_single_thread_u64");
    group.throughput(Throughput::Elements(1));
    group.bench_function("gasbao", |b| {
        b.iter(one_thread::gasbao(CAPACITY, WaitStrategy::BusySpin))
    });
    // The default strategy: each push and pop also looks for a sleeper.
    group.bench_function("gasbao_blocking", |b| {
        b.iter(one_thread::gasbao(CAPACITY, WaitStrategy::Blocking))
    });
    group.bench_function("rtrb", |b| b.iter(one_thread::rtrb(CAPACITY)));
    group.bench_function("crossbeam_array_queue", |b| b.iter(one_thread::array_queue(CAPACITY)));
    group.bench_function("disruptor_poller", |b| b.iter(one_thread::disruptor(CAPACITY)));
    group.bench_function("gasbao_multicast_poller", |b| {
        b.iter(one_thread::gasbao_poller(CAPACITY))
    });
    group.finish();

    let mut group = c.benchmark_group("spsc_single_thread_batch32_u64");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("gasbao", |b| b.iter(one_thread::gasbao_batch(CAPACITY, BATCH)));
    group.bench_function("rtrb_chunks", |b| b.iter(one_thread::rtrb_chunks(CAPACITY, BATCH)));
    group.bench_function("disruptor_batch_poller", |b| {
        b.iter(one_thread::disruptor_batch(CAPACITY, BATCH))
    });
    group.bench_function("gasbao_vec", |b| b.iter(one_thread::gasbao_vec_batch(CAPACITY, BATCH)));
    group.bench_function("gasbao_multicast_poller", |b| {
        b.iter(one_thread::gasbao_poller_batch(CAPACITY, BATCH))
    });
    group.finish();
}

/// One thread pushes then pops each item through the MPMC queue: the
/// blocking strategy's cost when no one sleeps, against busy-spin (which
/// never looks for sleepers) and crossbeam's `ArrayQueue`.
fn mpmc_single_thread(c: &mut Criterion) {
    let mut group = c.benchmark_group("mpmc_single_thread_u64");
    group.throughput(Throughput::Elements(1));
    for (name, strategy) in [
        ("gasbao_blocking", WaitStrategy::Blocking),
        ("gasbao_busy_spin", WaitStrategy::BusySpin),
    ] {
        let (producer, consumer) = mpmc::with_wait_strategy::<u64>(CAPACITY, strategy);
        group.bench_function(name, |b| {
            b.iter(|| {
                producer.try_push(black_box(7)).ok();
                black_box(consumer.try_pop().unwrap_or(0))
            })
        });
    }
    let queue = ArrayQueue::<u64>::new(CAPACITY);
    group.bench_function("crossbeam_array_queue", |b| {
        b.iter(|| {
            queue.push(black_box(7)).ok();
            black_box(queue.pop().unwrap_or(0))
        })
    });
    group.finish();
}

/// Moves `items` from a producer thread to the calling thread; returns the time.
fn one_to_one(items: u64, mut send: impl FnMut(u64) + Send, mut receive: impl FnMut() -> u64) -> Duration {
    thread::scope(|scope| {
        let start = Instant::now();
        scope.spawn(move || {
            for item in 0..items {
                send(item);
            }
        });
        let mut received = 0;
        while received < items {
            received += receive();
        }
        start.elapsed()
    })
}

fn cross_thread(c: &mut Criterion) {
    let mut group = c.benchmark_group("spsc_1_to_1_u64");
    group.throughput(Throughput::Elements(1));
    group.bench_function("gasbao", |b| {
        b.iter_custom(|items| {
            let (mut producer, mut consumer) = spsc::with_wait_strategy::<u64>(CAPACITY, WaitStrategy::BusySpin);
            one_to_one(
                items,
                move |item| {
                    while producer.try_push(item).is_err() {
                        std::hint::spin_loop()
                    }
                },
                move || u64::from(consumer.try_pop().is_ok()),
            )
        })
    });
    group.bench_function("rtrb", |b| {
        b.iter_custom(|items| {
            let (mut producer, mut consumer) = rtrb::RingBuffer::<u64>::new(CAPACITY);
            one_to_one(
                items,
                move |item| {
                    while producer.push(item).is_err() {
                        std::hint::spin_loop()
                    }
                },
                move || u64::from(consumer.pop().is_ok()),
            )
        })
    });
    group.bench_function("crossbeam_array_queue", |b| {
        b.iter_custom(|items| {
            let queue = ArrayQueue::<u64>::new(CAPACITY);
            one_to_one(
                items,
                |item| {
                    while queue.push(item).is_err() {
                        std::hint::spin_loop()
                    }
                },
                || u64::from(queue.pop().is_some()),
            )
        })
    });
    group.finish();

    let mut group = c.benchmark_group("spsc_1_to_1_batch32_u64");
    group.throughput(Throughput::Elements(1));
    group.bench_function("gasbao", |b| {
        b.iter_custom(|items| {
            let (mut producer, mut consumer) = spsc::with_wait_strategy::<u64>(CAPACITY, WaitStrategy::BusySpin);
            let batches = items.div_ceil(BATCH as u64);
            one_to_one(
                batches,
                move |batch| {
                    let mut chunk = (batch * BATCH as u64..(batch + 1) * BATCH as u64).peekable();
                    while chunk.peek().is_some() {
                        if producer.push_from(&mut chunk) == 0 {
                            std::hint::spin_loop();
                        }
                    }
                },
                {
                    let mut pending = 0u64;
                    move || {
                        pending += consumer.drain(BATCH).map(black_box).count() as u64;
                        let whole = pending / BATCH as u64;
                        pending %= BATCH as u64;
                        whole
                    }
                },
            )
        })
    });
    group.bench_function("rtrb_chunks", |b| {
        b.iter_custom(|items| {
            let (mut producer, mut consumer) = rtrb::RingBuffer::<u64>::new(CAPACITY);
            let batches = items.div_ceil(BATCH as u64);
            one_to_one(
                batches,
                move |batch| loop {
                    if let Ok(chunk) = producer.write_chunk_uninit(BATCH) {
                        chunk.fill_from_iter(batch * BATCH as u64..(batch + 1) * BATCH as u64);
                        break;
                    }
                    std::hint::spin_loop();
                },
                {
                    let mut pending = 0u64;
                    move || {
                        let ready = consumer.slots().min(BATCH);
                        if let Ok(chunk) = consumer.read_chunk(ready) {
                            pending += chunk.into_iter().map(black_box).count() as u64;
                        }
                        let whole = pending / BATCH as u64;
                        pending %= BATCH as u64;
                        whole
                    }
                },
            )
        })
    });
    group.finish();
}

criterion_group!(benches, single_thread, mpmc_single_thread, cross_thread);
criterion_main!(benches);
