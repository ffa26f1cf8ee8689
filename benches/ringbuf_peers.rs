//! gasbao-ringbuf beside its peers — rtrb, disruptor, crossbeam's ArrayQueue
//! and bounded channel, kanal — in one binary, printed as a markdown table of
//! medians and ratios: every topology, and the one-thread push-then-pop
//! cases of `support/one_thread.rs` that criterion also times.
//!
//! `cargo bench --bench ringbuf_peers` (set `GASBAO_BENCH_ROUNDS`, default 15).
//!
//! Waiting sides retry at once, without a pause hint: on this machine's CPUs
//! a pause costs about 140 cycles, longer than a whole handoff, and would
//! measure the pause rather than the queue.
//!
//! Every case moves the same number of items through a queue of 1024 slots.
//! Each round runs every table, and a table's cases back to back, so that the
//! rows compared share the machine's state of the moment. The table gives each
//! case's median time over the rounds, and for gasbao's rows the ratio to the
//! best peer (the lowest median) taken within each round: its median, lowest
//! and highest. Ratios
//! taken across rounds misled: this shared machine drifts by 2-4x over
//! minutes, peers included. For 1->1 and ping-pong the two threads
//! are pinned to cores 0 and 1; the 2/2, 1->3 and diamond topologies have
//! more threads than this machine's two cores and are not pinned.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_queue::ArrayQueue;
use disruptor::{BusySpin, ProcessorSettings as _};
use gasbao::ringbuf::multicast::Builder;
use gasbao::ringbuf::{WaitStrategy, mpmc, spsc};

#[path = "support/one_thread.rs"]
mod one_thread;

const CAPACITY: usize = 1024;
const BATCH: usize = 32;
const ITEMS: u64 = 1_000_000;
const PING_PONGS: u64 = 200_000;
/// Push-then-pop steps of the one-thread cases (each a few nanoseconds).
const ONE_THREAD_STEPS: u64 = 10_000_000;
/// Steps of the one-thread batch cases, `BATCH` items each.
const ONE_THREAD_BATCHES: u64 = 1_000_000;
/// Items for the multicast topologies: busy-spinning consumers outnumber the
/// cores there and move about 0.1 M items/s, so fewer items keep a round short.
const MULTICAST_ITEMS: u64 = 200_000;

/// A 48-byte meter reading; only the volume is summed, the other fields give
/// the item its size.
#[allow(dead_code)]
#[derive(Debug, Clone, Copy, Default)]
struct Reading {
    meter: u64,
    milli_m3: u64,
    temperature_milli_c: i64,
    pressure_pa: u64,
    status: u64,
    sequence: u64,
}

/// An item the 1->1 cases move: a `u64` or a reading built from one.
trait Item: Copy + Default + Send + Sync + 'static {
    fn from_u64(v: u64) -> Self;
    fn value(&self) -> u64;
}

impl Item for u64 {
    fn from_u64(v: u64) -> u64 {
        v
    }
    fn value(&self) -> u64 {
        *self
    }
}

impl Item for Reading {
    fn from_u64(v: u64) -> Reading {
        Reading {
            meter: v,
            milli_m3: v,
            sequence: v,
            ..Reading::default()
        }
    }
    fn value(&self) -> u64 {
        self.milli_m3
    }
}

/// The cores this process may use, read once: after pinning, the main
/// thread would see only its own core.
fn cores() -> &'static [core_affinity::CoreId] {
    static CORES: std::sync::OnceLock<Vec<core_affinity::CoreId>> = std::sync::OnceLock::new();
    CORES.get_or_init(|| core_affinity::get_core_ids().unwrap_or_default())
}

fn pin(core: usize) {
    if let Some(id) = cores().get(core % cores().len().max(1)) {
        core_affinity::set_for_current(*id);
    }
}

/// Runs `produce` on a thread pinned to core 0 and `consume` on one pinned
/// to core 1 (the main thread stays unpinned); returns the time until both
/// are done. The consumer returns the sum of what it saw, checked against the
/// expected sum so nothing is optimised away.
fn pinned_pair(
    items: u64,
    produce: impl FnOnce() + Send + 'static,
    consume: impl FnOnce() -> u64 + Send + 'static,
) -> Duration {
    let started = Instant::now();
    let consumer = thread::spawn(move || {
        pin(1);
        consume()
    });
    let producer = thread::spawn(move || {
        pin(0);
        produce()
    });
    producer.join().unwrap();
    let sum = consumer.join().unwrap();
    let elapsed = started.elapsed();
    assert_eq!(sum, items * (items - 1) / 2, "the consumer lost or invented items");
    elapsed
}

/// Pops `ITEMS` items one by one, retrying at once; returns their sum.
fn pop_every_item<T: Item>(consumer: &mut spsc::Consumer<T>) -> u64 {
    let mut sum = 0;
    for _ in 0..ITEMS {
        loop {
            if let Ok(item) = consumer.try_pop() {
                sum += item.value();
                break;
            }
        }
    }
    sum
}

/// Pushes `ITEMS` items one by one, retrying at once.
fn push_every_item<T: Item>(producer: &mut spsc::Producer<T>) {
    for v in 0..ITEMS {
        let mut item = T::from_u64(v);
        while let Err(e) = producer.try_push(item) {
            item = e.into_inner();
        }
    }
}

/// Drains `ITEMS` items in batches of up to `BATCH`; returns their sum.
fn drain_every_item<T: Item>(consumer: &mut spsc::Consumer<T>) -> u64 {
    let mut sum = 0;
    let mut seen = 0;
    while seen < ITEMS {
        for item in consumer.drain(BATCH) {
            sum += item.value();
            seen += 1;
        }
    }
    sum
}

fn gasbao_spsc<T: Item>() -> Duration {
    let (mut producer, mut consumer) = spsc::with_wait_strategy::<T>(CAPACITY, WaitStrategy::BusySpin);
    pinned_pair(
        ITEMS,
        move || push_every_item(&mut producer),
        move || pop_every_item(&mut consumer),
    )
}

/// Items pushed one by one as they come, drained in batches: the shape of
/// an ingest thread feeding a billing one.
fn gasbao_spsc_drained<T: Item>() -> Duration {
    let (mut producer, mut consumer) = spsc::with_wait_strategy::<T>(CAPACITY, WaitStrategy::BusySpin);
    pinned_pair(
        ITEMS,
        move || push_every_item(&mut producer),
        move || drain_every_item(&mut consumer),
    )
}

/// The same handoff with each item built in its slot (`try_push_with`):
/// while the queue is full, the producer retries with the closure instead
/// of moving the item out and back.
fn gasbao_spsc_in_place<T: Item>() -> Duration {
    let (mut producer, mut consumer) = spsc::with_wait_strategy::<T>(CAPACITY, WaitStrategy::BusySpin);
    pinned_pair(
        ITEMS,
        move || {
            for v in 0..ITEMS {
                let mut make = move || T::from_u64(v);
                while let Err(e) = producer.try_push_with(make) {
                    make = e.into_inner();
                }
            }
        },
        move || pop_every_item(&mut consumer),
    )
}

/// The same handoff through the waiting calls of a blocking queue, which is
/// what most callers use: what looking for sleepers costs when no one sleeps.
fn gasbao_spsc_blocking<T: Item>() -> Duration {
    let (mut producer, mut consumer) = spsc::with_wait_strategy::<T>(CAPACITY, WaitStrategy::Blocking);
    pinned_pair(
        ITEMS,
        move || (0..ITEMS).for_each(|v| producer.push(T::from_u64(v)).unwrap()),
        move || (0..ITEMS).map(|_| consumer.pop().unwrap().value()).sum(),
    )
}

fn gasbao_spsc_batch<T: Item>() -> Duration {
    let (mut producer, mut consumer) = spsc::with_wait_strategy::<T>(CAPACITY, WaitStrategy::BusySpin);
    pinned_pair(
        ITEMS,
        move || {
            let mut next = 0;
            while next < ITEMS {
                let end = (next + BATCH as u64).min(ITEMS);
                let mut batch = (next..end).map(T::from_u64);
                next += producer.push_from(&mut batch) as u64;
            }
        },
        move || drain_every_item(&mut consumer),
    )
}

/// Pushes `ITEMS` items one by one into rtrb, retrying at once.
fn rtrb_push_every_item<T: Item>(producer: &mut rtrb::Producer<T>) {
    for v in 0..ITEMS {
        let mut item = T::from_u64(v);
        while let Err(rtrb::PushError::Full(back)) = producer.push(item) {
            item = back;
        }
    }
}

/// Reads `ITEMS` items from rtrb in chunks of up to `BATCH`; returns their sum.
fn rtrb_read_every_chunk<T: Item>(consumer: &mut rtrb::Consumer<T>) -> u64 {
    let mut sum = 0;
    let mut seen = 0;
    while seen < ITEMS {
        let n = BATCH.min(consumer.slots());
        if n == 0 {
            continue;
        }
        if let Ok(chunk) = consumer.read_chunk(n) {
            for item in chunk {
                sum += item.value();
                seen += 1;
            }
        }
    }
    sum
}

fn rtrb_single<T: Item>() -> Duration {
    let (mut producer, mut consumer) = rtrb::RingBuffer::<T>::new(CAPACITY);
    pinned_pair(
        ITEMS,
        move || rtrb_push_every_item(&mut producer),
        move || {
            let mut sum = 0;
            for _ in 0..ITEMS {
                loop {
                    if let Ok(item) = consumer.pop() {
                        sum += item.value();
                        break;
                    }
                }
            }
            sum
        },
    )
}

/// rtrb's single pushes, read in chunks.
fn rtrb_drained<T: Item>() -> Duration {
    let (mut producer, mut consumer) = rtrb::RingBuffer::<T>::new(CAPACITY);
    pinned_pair(
        ITEMS,
        move || rtrb_push_every_item(&mut producer),
        move || rtrb_read_every_chunk(&mut consumer),
    )
}

fn rtrb_chunks<T: Item>() -> Duration {
    let (mut producer, mut consumer) = rtrb::RingBuffer::<T>::new(CAPACITY);
    pinned_pair(
        ITEMS,
        move || {
            let mut next = 0;
            while next < ITEMS {
                let n = BATCH.min((ITEMS - next) as usize).min(producer.slots());
                if n == 0 {
                    continue;
                }
                if let Ok(chunk) = producer.write_chunk_uninit(n) {
                    chunk.fill_from_iter((next..next + n as u64).map(T::from_u64));
                    next += n as u64;
                }
            }
        },
        move || rtrb_read_every_chunk(&mut consumer),
    )
}

/// The disruptor manages its consumer thread (pinned to core 1); the time
/// runs until dropping the producer has waited for the last event.
fn disruptor_single<T: Item>(batch: bool) -> Duration {
    let sum = Arc::new(AtomicU64::new(0));
    let handler = {
        let sum = sum.clone();
        let mut local = 0;
        move |e: &T, _sequence: i64, end_of_batch: bool| {
            local += e.value();
            if end_of_batch {
                sum.store(local, Ordering::Relaxed);
            }
        }
    };
    let started = Instant::now();
    let producer = disruptor::build_single_producer(CAPACITY, T::default, BusySpin)
        .pin_at_core(1)
        .handle_events_with(handler)
        .build();
    thread::spawn(move || publish_pinned(producer, batch)).join().unwrap();
    let elapsed = started.elapsed();
    assert_eq!(sum.load(Ordering::Relaxed), ITEMS * (ITEMS - 1) / 2);
    elapsed
}

/// Publishes the items from core 0, then drops the producer, which waits for
/// the consumer to handle the last one.
fn publish_pinned<T: Item>(mut producer: impl disruptor::Producer<T>, batch: bool) {
    pin(0);
    if batch {
        let mut next = 0;
        while next < ITEMS {
            let n = BATCH.min((ITEMS - next) as usize);
            producer.batch_publish(n, |iter| {
                for e in iter {
                    *e = T::from_u64(next);
                    next += 1;
                }
            });
        }
    } else {
        for v in 0..ITEMS {
            producer.publish(|e| *e = T::from_u64(v));
        }
    }
}

fn array_queue<T: Item>() -> Duration {
    let queue = Arc::new(ArrayQueue::<T>::new(CAPACITY));
    let consumer_queue = queue.clone();
    pinned_pair(
        ITEMS,
        move || {
            for v in 0..ITEMS {
                let mut item = T::from_u64(v);
                while let Err(back) = queue.push(item) {
                    item = back;
                }
            }
        },
        move || {
            let mut sum = 0;
            for _ in 0..ITEMS {
                loop {
                    if let Some(item) = consumer_queue.pop() {
                        sum += item.value();
                        break;
                    }
                }
            }
            sum
        },
    )
}

fn crossbeam_channel_single<T: Item>() -> Duration {
    let (tx, rx) = crossbeam_channel::bounded::<T>(CAPACITY);
    pinned_pair(
        ITEMS,
        move || (0..ITEMS).for_each(|v| tx.send(T::from_u64(v)).unwrap()),
        move || rx.iter().map(|item| item.value()).sum(),
    )
}

fn kanal_single<T: Item>() -> Duration {
    let (tx, rx) = kanal::bounded::<T>(CAPACITY);
    pinned_pair(
        ITEMS,
        move || (0..ITEMS).for_each(|v| tx.send(T::from_u64(v)).unwrap()),
        move || {
            let mut sum = 0;
            while let Ok(item) = rx.recv() {
                sum += item.value();
            }
            sum
        },
    )
}

/// Two producers and two consumers, unpinned: each producer sends half the
/// items; the consumers' sums must add up.
fn two_by_two(
    send: impl Fn(u64) + Send + Sync + Clone + 'static,
    receive: impl Fn() -> Option<u64> + Send + Sync + Clone + 'static,
    done_sending: impl FnOnce(),
) -> Duration {
    let started = Instant::now();
    let producers: Vec<_> = (0..2u64)
        .map(|p| {
            let send = send.clone();
            thread::spawn(move || (0..ITEMS / 2).for_each(|i| send(p * (ITEMS / 2) + i)))
        })
        .collect();
    let consumers: Vec<_> = (0..2)
        .map(|_| {
            let receive = receive.clone();
            thread::spawn(move || {
                let mut sum = 0;
                while let Some(v) = receive() {
                    sum += v;
                }
                sum
            })
        })
        .collect();
    producers.into_iter().for_each(|p| p.join().unwrap());
    drop(send);
    done_sending();
    let sum: u64 = consumers.into_iter().map(|c| c.join().unwrap()).sum();
    let elapsed = started.elapsed();
    assert_eq!(sum, ITEMS * (ITEMS - 1) / 2);
    elapsed
}

fn gasbao_mpmc_2x2(strategy: WaitStrategy) -> Duration {
    let (producer, consumer) = mpmc::with_wait_strategy::<u64>(CAPACITY, strategy);
    let producer = Arc::new(std::sync::Mutex::new(Some(producer)));
    let handle = producer.lock().unwrap().clone().unwrap();
    let send = {
        let handle = handle.clone();
        move |v| handle.push(v).unwrap()
    };
    drop(handle);
    two_by_two(
        send,
        move || consumer.pop().ok(),
        move || drop(producer.lock().unwrap().take()),
    )
}

fn kanal_2x2() -> Duration {
    let (tx, rx) = kanal::bounded::<u64>(CAPACITY);
    let send = {
        let tx = tx.clone();
        move |v| tx.send(v).unwrap()
    };
    two_by_two(send, move || rx.recv().ok(), move || drop(tx))
}

fn crossbeam_channel_2x2() -> Duration {
    let (tx, rx) = crossbeam_channel::bounded::<u64>(CAPACITY);
    let send = {
        let tx = tx.clone();
        move |v| tx.send(v).unwrap()
    };
    two_by_two(send, move || rx.recv().ok(), move || drop(tx))
}

fn array_queue_2x2() -> Duration {
    // No blocking: waiters yield, and an item count tells consumers when to stop.
    let queue = Arc::new(ArrayQueue::<u64>::new(CAPACITY));
    let taken = Arc::new(AtomicU64::new(0));
    let send = {
        let queue = queue.clone();
        move |mut v| {
            while let Err(back) = queue.push(v) {
                v = back;
                thread::yield_now();
            }
        }
    };
    let receive = move || loop {
        if let Some(v) = queue.pop() {
            taken.fetch_add(1, Ordering::Relaxed);
            return Some(v);
        }
        if taken.load(Ordering::Relaxed) >= ITEMS {
            return None;
        }
        thread::yield_now();
    };
    two_by_two(send, receive, || {})
}

/// 1->3 fan-out or a diamond (A, then B and C, then D) on gasbao's multicast ring.
fn gasbao_multicast(strategy: WaitStrategy, diamond: bool) -> Duration {
    let sums: Vec<Arc<AtomicU64>> = (0..4).map(|_| Arc::default()).collect();
    let handler = |sum: &Arc<AtomicU64>| {
        let sum = sum.clone();
        let mut local = 0;
        move |e: &u64, _sequence: u64, end_of_batch: bool| {
            local += *e;
            if end_of_batch {
                sum.store(local, Ordering::Relaxed);
            }
        }
    };
    let mut builder = Builder::new(CAPACITY, || 0u64).wait_strategy(strategy);
    let consumers = if diamond {
        let a = builder.consumer("a", &[], handler(&sums[0]));
        let b = builder.consumer("b", &[a], handler(&sums[1]));
        let c = builder.consumer("c", &[a], handler(&sums[2]));
        builder.consumer("d", &[b, c], handler(&sums[3]));
        4
    } else {
        for (i, sum) in sums.iter().take(3).enumerate() {
            builder.consumer(&format!("c{i}"), &[], handler(sum));
        }
        3
    };
    let started = Instant::now();
    let (mut producer, running) = builder.build_single_producer().unwrap();
    for v in 0..MULTICAST_ITEMS {
        producer.publish(|e| *e = v).unwrap();
    }
    drop(producer);
    running.join().unwrap();
    let elapsed = started.elapsed();
    for sum in &sums[..consumers] {
        assert_eq!(sum.load(Ordering::Relaxed), MULTICAST_ITEMS * (MULTICAST_ITEMS - 1) / 2);
    }
    elapsed
}

fn disruptor_multicast(diamond: bool) -> Duration {
    let sums: Vec<Arc<AtomicU64>> = (0..4).map(|_| Arc::default()).collect();
    let handler = |sum: &Arc<AtomicU64>| {
        let sum = sum.clone();
        let mut local = 0;
        move |e: &u64, _sequence: i64, end_of_batch: bool| {
            local += *e;
            if end_of_batch {
                sum.store(local, Ordering::Relaxed);
            }
        }
    };
    fn publish_all(mut producer: impl disruptor::Producer<u64>) {
        for v in 0..MULTICAST_ITEMS {
            producer.publish(|e| *e = v);
        }
        // Dropping the producer waits for every consumer to finish.
    }
    let started = Instant::now();
    let builder = disruptor::build_single_producer(CAPACITY, || 0u64, BusySpin);
    let consumers = if diamond {
        publish_all(
            builder
                .handle_events_with(handler(&sums[0]))
                .and_then()
                .handle_events_with(handler(&sums[1]))
                .handle_events_with(handler(&sums[2]))
                .and_then()
                .handle_events_with(handler(&sums[3]))
                .build(),
        );
        4
    } else {
        publish_all(
            builder
                .handle_events_with(handler(&sums[0]))
                .handle_events_with(handler(&sums[1]))
                .handle_events_with(handler(&sums[2]))
                .build(),
        );
        3
    };
    let elapsed = started.elapsed();
    for sum in &sums[..consumers] {
        assert_eq!(sum.load(Ordering::Relaxed), MULTICAST_ITEMS * (MULTICAST_ITEMS - 1) / 2);
    }
    elapsed
}

/// Round trips between two pinned threads over two queues; the time is per
/// `PING_PONGS` round trips.
fn ping_pong<Q: Send + 'static>(
    make: impl Fn() -> (Q, Q),
    send: fn(&mut Q, u64),
    receive: fn(&mut Q) -> Option<u64>,
) -> Duration {
    let (mut ping_tx, mut ping_rx) = make();
    let (mut pong_tx, mut pong_rx) = make();
    let echo = thread::spawn(move || {
        pin(1);
        for _ in 0..PING_PONGS {
            let v = loop {
                if let Some(v) = receive(&mut ping_rx) {
                    break v;
                }
            };
            send(&mut pong_tx, v + 1);
        }
    });
    let pinger = thread::spawn(move || {
        pin(0);
        let started = Instant::now();
        for i in 0..PING_PONGS {
            send(&mut ping_tx, i);
            let v = loop {
                if let Some(v) = receive(&mut pong_rx) {
                    break v;
                }
            };
            assert_eq!(v, i + 1);
        }
        started.elapsed()
    });
    let elapsed = pinger.join().unwrap();
    echo.join().unwrap();
    elapsed
}

/// One end of a ping-pong queue, whichever side it is.
enum End<P, C> {
    Tx(P),
    Rx(C),
}

fn gasbao_ping_pong() -> Duration {
    ping_pong(
        || {
            let (p, c) = spsc::with_wait_strategy::<u64>(CAPACITY, WaitStrategy::BusySpin);
            (End::Tx(p), End::Rx(c))
        },
        |end, v| {
            if let End::Tx(p) = end {
                while p.try_push(v).is_err() {}
            }
        },
        |end| match end {
            End::Rx(c) => c.try_pop().ok(),
            End::Tx(_) => None,
        },
    )
}

fn rtrb_ping_pong() -> Duration {
    ping_pong(
        || {
            let (p, c) = rtrb::RingBuffer::<u64>::new(CAPACITY);
            (End::Tx(p), End::Rx(c))
        },
        |end, v| {
            if let End::Tx(p) = end {
                while p.push(v).is_err() {}
            }
        },
        |end| match end {
            End::Rx(c) => c.pop().ok(),
            End::Tx(_) => None,
        },
    )
}

fn array_queue_ping_pong() -> Duration {
    ping_pong(
        || {
            let q = Arc::new(ArrayQueue::<u64>::new(CAPACITY));
            (q.clone(), q)
        },
        |q, v| while q.push(v).is_err() {},
        |q| q.pop(),
    )
}

/// Runs `steps` steps of the queue `make` builds on a thread pinned to core
/// 0; returns their time. The queue is built on that thread, so its ends
/// need not be `Send`.
fn one_thread_steps<S: FnMut() -> u64>(steps: u64, make: fn() -> S) -> Duration {
    thread::scope(|scope| {
        scope
            .spawn(move || {
                pin(0);
                let mut step = make();
                let started = Instant::now();
                for _ in 0..steps {
                    black_box(step());
                }
                started.elapsed()
            })
            .join()
            .unwrap()
    })
}

struct Case {
    table: &'static str,
    name: &'static str,
    /// Items (or round trips) one run moves.
    items: u64,
    run: fn() -> Duration,
    gasbao: bool,
}

fn cases() -> Vec<Case> {
    let case = |table, name, items, run, gasbao| Case {
        table,
        name,
        items,
        run,
        gasbao,
    };
    vec![
        case(
            "1->1 u64, single items (pinned)",
            "gasbao spsc",
            ITEMS,
            gasbao_spsc::<u64> as fn() -> Duration,
            true,
        ),
        case(
            "1->1 u64, single items (pinned)",
            "gasbao spsc, blocking push/pop",
            ITEMS,
            gasbao_spsc_blocking::<u64>,
            true,
        ),
        case(
            "1->1 u64, single items (pinned)",
            "rtrb",
            ITEMS,
            rtrb_single::<u64>,
            false,
        ),
        case(
            "1->1 u64, single items (pinned)",
            "disruptor (busy-spin)",
            ITEMS,
            || disruptor_single::<u64>(false),
            false,
        ),
        case(
            "1->1 u64, single items (pinned)",
            "crossbeam ArrayQueue",
            ITEMS,
            array_queue::<u64>,
            false,
        ),
        case(
            "1->1 u64, single items (pinned)",
            "crossbeam-channel bounded",
            ITEMS,
            crossbeam_channel_single::<u64>,
            false,
        ),
        case(
            "1->1 u64, single items (pinned)",
            "kanal bounded",
            ITEMS,
            kanal_single::<u64>,
            false,
        ),
        case(
            "1->1 48-byte reading, single items (pinned)",
            "gasbao spsc",
            ITEMS,
            gasbao_spsc::<Reading>,
            true,
        ),
        case(
            "1->1 48-byte reading, single items (pinned)",
            "gasbao spsc try_push_with",
            ITEMS,
            gasbao_spsc_in_place::<Reading>,
            true,
        ),
        case(
            "1->1 48-byte reading, single items (pinned)",
            "rtrb",
            ITEMS,
            rtrb_single::<Reading>,
            false,
        ),
        case(
            "1->1 48-byte reading, single items (pinned)",
            "disruptor (busy-spin)",
            ITEMS,
            || disruptor_single::<Reading>(false),
            false,
        ),
        case(
            "1->1 u64, batches of 32 (pinned)",
            "gasbao spsc push_from/drain",
            ITEMS,
            gasbao_spsc_batch::<u64>,
            true,
        ),
        case(
            "1->1 u64, batches of 32 (pinned)",
            "rtrb chunks",
            ITEMS,
            rtrb_chunks::<u64>,
            false,
        ),
        case(
            "1->1 u64, batches of 32 (pinned)",
            "disruptor batch_publish",
            ITEMS,
            || disruptor_single::<u64>(true),
            false,
        ),
        case(
            "1->1 48-byte reading, batches of 32 (pinned)",
            "gasbao spsc push_from/drain",
            ITEMS,
            gasbao_spsc_batch::<Reading>,
            true,
        ),
        case(
            "1->1 48-byte reading, batches of 32 (pinned)",
            "rtrb chunks",
            ITEMS,
            rtrb_chunks::<Reading>,
            false,
        ),
        case(
            "1->1 48-byte reading, batches of 32 (pinned)",
            "disruptor batch_publish",
            ITEMS,
            || disruptor_single::<Reading>(true),
            false,
        ),
        case(
            "1->1 u64, pushed one by one, drained in batches of 32 (pinned)",
            "gasbao spsc try_push/drain",
            ITEMS,
            gasbao_spsc_drained::<u64>,
            true,
        ),
        case(
            "1->1 u64, pushed one by one, drained in batches of 32 (pinned)",
            "rtrb push/read_chunk",
            ITEMS,
            rtrb_drained::<u64>,
            false,
        ),
        case(
            "1->1 u64, pushed one by one, drained in batches of 32 (pinned)",
            "disruptor publish (batch handler)",
            ITEMS,
            || disruptor_single::<u64>(false),
            false,
        ),
        case(
            "1->1 48-byte reading, pushed one by one, drained in batches of 32 (pinned)",
            "gasbao spsc try_push/drain",
            ITEMS,
            gasbao_spsc_drained::<Reading>,
            true,
        ),
        case(
            "1->1 48-byte reading, pushed one by one, drained in batches of 32 (pinned)",
            "rtrb push/read_chunk",
            ITEMS,
            rtrb_drained::<Reading>,
            false,
        ),
        case(
            "1->1 48-byte reading, pushed one by one, drained in batches of 32 (pinned)",
            "disruptor publish (batch handler)",
            ITEMS,
            || disruptor_single::<Reading>(false),
            false,
        ),
        case(
            "MPMC 2 producers / 2 consumers, u64, blocking",
            "gasbao mpmc (blocking)",
            ITEMS,
            || gasbao_mpmc_2x2(WaitStrategy::Blocking),
            true,
        ),
        case(
            "MPMC 2 producers / 2 consumers, u64, blocking",
            "gasbao mpmc (yield)",
            ITEMS,
            || gasbao_mpmc_2x2(WaitStrategy::Yield),
            true,
        ),
        case(
            "MPMC 2 producers / 2 consumers, u64, blocking",
            "kanal bounded",
            ITEMS,
            kanal_2x2,
            false,
        ),
        case(
            "MPMC 2 producers / 2 consumers, u64, blocking",
            "crossbeam-channel bounded",
            ITEMS,
            crossbeam_channel_2x2,
            false,
        ),
        case(
            "MPMC 2 producers / 2 consumers, u64, blocking",
            "crossbeam ArrayQueue (yield)",
            ITEMS,
            array_queue_2x2,
            false,
        ),
        case(
            "multicast 1->3, u64",
            "gasbao multicast (busy-spin)",
            MULTICAST_ITEMS,
            || gasbao_multicast(WaitStrategy::BusySpin, false),
            true,
        ),
        case(
            "multicast 1->3, u64",
            "gasbao multicast (blocking)",
            MULTICAST_ITEMS,
            || gasbao_multicast(WaitStrategy::Blocking, false),
            true,
        ),
        case(
            "multicast 1->3, u64",
            "disruptor (busy-spin)",
            MULTICAST_ITEMS,
            || disruptor_multicast(false),
            false,
        ),
        case(
            "multicast diamond A->(B,C)->D, u64",
            "gasbao multicast (busy-spin)",
            MULTICAST_ITEMS,
            || gasbao_multicast(WaitStrategy::BusySpin, true),
            true,
        ),
        case(
            "multicast diamond A->(B,C)->D, u64",
            "gasbao multicast (blocking)",
            MULTICAST_ITEMS,
            || gasbao_multicast(WaitStrategy::Blocking, true),
            true,
        ),
        case(
            "multicast diamond A->(B,C)->D, u64",
            "disruptor (busy-spin)",
            MULTICAST_ITEMS,
            || disruptor_multicast(true),
            false,
        ),
        case(
            "one thread, push then pop, u64 (pinned)",
            "gasbao spsc",
            ONE_THREAD_STEPS,
            || {
                one_thread_steps(ONE_THREAD_STEPS, || {
                    one_thread::gasbao(CAPACITY, WaitStrategy::BusySpin)
                })
            },
            true,
        ),
        case(
            "one thread, push then pop, u64 (pinned)",
            "gasbao spsc, blocking strategy",
            ONE_THREAD_STEPS,
            || {
                one_thread_steps(ONE_THREAD_STEPS, || {
                    one_thread::gasbao(CAPACITY, WaitStrategy::Blocking)
                })
            },
            true,
        ),
        case(
            "one thread, push then pop, u64 (pinned)",
            "rtrb",
            ONE_THREAD_STEPS,
            || one_thread_steps(ONE_THREAD_STEPS, || one_thread::rtrb(CAPACITY)),
            false,
        ),
        case(
            "one thread, push then pop, u64 (pinned)",
            "disruptor (event poller)",
            ONE_THREAD_STEPS,
            || one_thread_steps(ONE_THREAD_STEPS, || one_thread::disruptor(CAPACITY)),
            false,
        ),
        case(
            "one thread, push then pop, u64 (pinned)",
            "gasbao multicast poller",
            ONE_THREAD_STEPS,
            || one_thread_steps(ONE_THREAD_STEPS, || one_thread::gasbao_poller(CAPACITY)),
            true,
        ),
        case(
            "one thread, push then pop, u64 (pinned)",
            "crossbeam ArrayQueue",
            ONE_THREAD_STEPS,
            || one_thread_steps(ONE_THREAD_STEPS, || one_thread::array_queue(CAPACITY)),
            false,
        ),
        case(
            "one thread, batches of 32 pushed then popped, u64 (pinned)",
            "gasbao spsc push_from/drain",
            ONE_THREAD_BATCHES * BATCH as u64,
            || one_thread_steps(ONE_THREAD_BATCHES, || one_thread::gasbao_batch(CAPACITY, BATCH)),
            true,
        ),
        case(
            "one thread, batches of 32 pushed then popped, u64 (pinned)",
            "gasbao spsc try_push_batch/try_pop_batch",
            ONE_THREAD_BATCHES * BATCH as u64,
            || one_thread_steps(ONE_THREAD_BATCHES, || one_thread::gasbao_vec_batch(CAPACITY, BATCH)),
            true,
        ),
        case(
            "one thread, batches of 32 pushed then popped, u64 (pinned)",
            "gasbao multicast publish_batch, poller",
            ONE_THREAD_BATCHES * BATCH as u64,
            || one_thread_steps(ONE_THREAD_BATCHES, || one_thread::gasbao_poller_batch(CAPACITY, BATCH)),
            true,
        ),
        case(
            "one thread, batches of 32 pushed then popped, u64 (pinned)",
            "rtrb chunks",
            ONE_THREAD_BATCHES * BATCH as u64,
            || one_thread_steps(ONE_THREAD_BATCHES, || one_thread::rtrb_chunks(CAPACITY, BATCH)),
            false,
        ),
        case(
            "one thread, batches of 32 pushed then popped, u64 (pinned)",
            "disruptor batch_publish (event poller)",
            ONE_THREAD_BATCHES * BATCH as u64,
            || one_thread_steps(ONE_THREAD_BATCHES, || one_thread::disruptor_batch(CAPACITY, BATCH)),
            false,
        ),
        case(
            "ping-pong round trip, busy-spin (pinned)",
            "gasbao spsc",
            PING_PONGS,
            gasbao_ping_pong,
            true,
        ),
        case(
            "ping-pong round trip, busy-spin (pinned)",
            "rtrb",
            PING_PONGS,
            rtrb_ping_pong,
            false,
        ),
        case(
            "ping-pong round trip, busy-spin (pinned)",
            "crossbeam ArrayQueue",
            PING_PONGS,
            array_queue_ping_pong,
            false,
        ),
    ]
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` would pass nothing.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rounds: usize = std::env::var("GASBAO_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(15);
    // `GASBAO_BENCH_FILTER=multicast` runs the tables whose title contains it.
    let filter = std::env::var("GASBAO_BENCH_FILTER").unwrap_or_default();
    let cases: Vec<Case> = cases().into_iter().filter(|c| c.table.contains(&filter)).collect();
    let mut tables: Vec<&str> = cases.iter().map(|c| c.table).collect();
    tables.dedup();
    let rows_of = |table: &str| -> Vec<usize> { (0..cases.len()).filter(|&i| cases[i].table == table).collect() };
    // nanos_per_item[case][round]
    let mut nanos_per_item: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    for round in 0..rounds {
        eprintln!("round {}/{rounds}", round + 1);
        // A table's cases run back to back, so that the machine's state
        // (it drifts by 2-4x over minutes) is alike for the rows compared;
        // the order rotates each round, so no case always runs first.
        for table in &tables {
            let rows = rows_of(table);
            for k in 0..rows.len() {
                let i = rows[(k + round) % rows.len()];
                let elapsed = black_box((cases[i].run)());
                eprintln!("  {} / {}: {elapsed:?}", cases[i].table, cases[i].name);
                nanos_per_item[i].push(elapsed.as_nanos() as f64 / cases[i].items as f64);
            }
        }
    }
    let medians: Vec<f64> = nanos_per_item.iter().map(|times| median(times.clone())).collect();
    let cores = core_affinity::get_core_ids().map_or(0, |c| c.len());
    println!(
        "\nMedians of {rounds} rounds, capacity {CAPACITY}, {cores} cores. Ratio: the time of the peer with the \
         lowest median / this row's, taken within each round; the median over the rounds, then the lowest and highest.\n"
    );
    for table in tables {
        let rows = rows_of(table);
        // The best peer is the one with the lowest median; each round's
        // ratio is against that peer's time in the same round. (The fastest
        // peer of each round instead would favour the peers: the least of
        // several noisy times is biased low.)
        let best_peer = rows
            .iter()
            .copied()
            .filter(|&i| !cases[i].gasbao)
            .min_by(|&a, &b| medians[a].total_cmp(&medians[b]));
        let unit = if table.starts_with("ping-pong") {
            "ns/round trip"
        } else {
            "ns/item"
        };
        println!(
            "**{table}**\n\n| implementation | {unit} | M/s | vs best peer | lowest-highest |\n|---|---:|---:|---:|---:|"
        );
        for i in rows {
            let (ratio, spread) = if let Some(peer) = best_peer.filter(|_| cases[i].gasbao) {
                let ratios: Vec<f64> = (0..rounds)
                    .map(|r| nanos_per_item[peer][r] / nanos_per_item[i][r])
                    .collect();
                let lowest = ratios.iter().copied().fold(f64::INFINITY, f64::min);
                let highest = ratios.iter().copied().fold(0.0, f64::max);
                (format!("{:.2}x", median(ratios)), format!("{lowest:.2}x-{highest:.2}x"))
            } else {
                (String::new(), String::new())
            };
            println!(
                "| {} | {:.2} | {:.1} | {} | {} |",
                cases[i].name,
                medians[i],
                1_000.0 / medians[i],
                ratio,
                spread
            );
        }
        println!();
    }
}
