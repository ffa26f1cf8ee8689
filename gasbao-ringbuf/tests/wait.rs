//! What each wait strategy costs while idle and how fast it wakes: a blocked
//! consumer on the blocking strategy uses about no CPU and still wakes
//! within milliseconds of a push, and never sleeps through one.
#![cfg(all(target_os = "linux", not(gasbao_loom), not(miri)))]

use std::thread;
use std::time::{Duration, Instant};

use gasbao_ringbuf::WaitStrategy;
use gasbao_ringbuf::mpmc::with_wait_strategy;

/// CPU time this thread has used, from the kernel's scheduler statistics.
fn thread_cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").expect("Linux exposes schedstat");
    let nanos: u64 = stat
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("first field: ns on CPU");
    Duration::from_nanos(nanos)
}

/// A consumer waits `idle` for an item; returns its CPU time while waiting and
/// how long after the push it returned.
fn idle_then_wake(strategy: WaitStrategy, idle: Duration) -> (Duration, Duration) {
    let (producer, consumer) = with_wait_strategy::<Instant>(16, strategy);
    let waiter = thread::spawn(move || {
        let before = thread_cpu_time();
        let pushed_at = consumer.pop().unwrap();
        let woke_after = pushed_at.elapsed();
        (thread_cpu_time() - before, woke_after)
    });
    thread::sleep(idle);
    producer.push(Instant::now()).unwrap();
    waiter.join().unwrap()
}

#[test]
fn an_idle_blocking_consumer_sleeps_and_wakes_promptly() {
    let idle = Duration::from_millis(300);
    let (cpu, woke_after) = idle_then_wake(WaitStrategy::Blocking, idle);
    // About 0%: a few wake-ups' worth, against 300 ms of spinning.
    assert!(
        cpu < Duration::from_millis(10),
        "blocking consumer used {cpu:?} of CPU idling {idle:?}"
    );
    // Promptly, with room for a loaded shared machine.
    assert!(
        woke_after < Duration::from_millis(50),
        "woke {woke_after:?} after the push"
    );
}

#[test]
fn a_backing_off_consumer_sleeps_most_of_the_time() {
    let idle = Duration::from_millis(300);
    let (cpu, woke_after) = idle_then_wake(WaitStrategy::Backoff, idle);
    assert!(cpu < idle / 4, "backing-off consumer used {cpu:?} idling {idle:?}");
    assert!(
        woke_after < Duration::from_millis(50),
        "woke {woke_after:?} after the push"
    );
}

#[test]
fn a_busy_spinning_consumer_burns_its_core() {
    // The contrast that makes the two tests above mean something.
    let idle = Duration::from_millis(300);
    let (cpu, _) = idle_then_wake(WaitStrategy::BusySpin, idle);
    assert!(cpu > idle / 3, "a spinning consumer used only {cpu:?} in {idle:?}");
}

#[test]
fn an_idle_blocking_spsc_consumer_sleeps_and_wakes_promptly() {
    let (mut producer, mut consumer) = gasbao_ringbuf::spsc::with_wait_strategy::<Instant>(16, WaitStrategy::Blocking);
    let waiter = thread::spawn(move || {
        let before = thread_cpu_time();
        let pushed_at = consumer.pop().unwrap();
        (thread_cpu_time() - before, pushed_at.elapsed())
    });
    thread::sleep(Duration::from_millis(300));
    producer.push(Instant::now()).unwrap();
    let (cpu, woke_after) = waiter.join().unwrap();
    assert!(
        cpu < Duration::from_millis(10),
        "blocking SPSC consumer used {cpu:?} idling"
    );
    assert!(
        woke_after < Duration::from_millis(50),
        "woke {woke_after:?} after the push"
    );
}

/// Spins for `micros` microseconds, without giving up the core.
fn pause(micros: u64) {
    let until = Instant::now() + Duration::from_micros(micros);
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}

/// A blocking waiter announces itself, then looks once more; a pusher
/// publishes, then looks for sleepers. If both looks could miss, some round
/// trip here would never end. Replies come after pauses of 0 to 127 us, so
/// waits end in every stage (spinning, yielding, asleep), many of them at
/// the edge of going to sleep.
#[test]
fn blocking_round_trips_never_sleep_through_a_wake_up() {
    use gasbao_ringbuf::spsc;

    const ROUND_TRIPS: u64 = 50_000;
    let (mut ping, mut pinged) = spsc::with_wait_strategy::<u64>(1, WaitStrategy::Blocking);
    let (mut pong, mut ponged) = spsc::with_wait_strategy::<u64>(1, WaitStrategy::Blocking);
    let (done, finished) = std::sync::mpsc::channel();
    thread::spawn(move || {
        while let Ok(n) = pinged.pop() {
            pause(n.wrapping_mul(7_919) % 128);
            pong.push(n).unwrap();
        }
    });
    thread::spawn(move || {
        for n in 0..ROUND_TRIPS {
            ping.push(n).unwrap();
            assert_eq!(ponged.pop(), Ok(n));
            pause(n.wrapping_mul(104_729) % 128);
        }
        done.send(()).unwrap();
    });
    assert!(
        finished.recv_timeout(Duration::from_secs(60)).is_ok(),
        "{ROUND_TRIPS} round trips did not finish in 60 s: a waiter slept through its wake-up"
    );
}
