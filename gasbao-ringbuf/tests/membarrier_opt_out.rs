//! Opting out of the process-wide `membarrier` registration: a process of
//! its own (each test file is one), since the choice is made once.

use gasbao_ringbuf::{WaitStrategy, allow_membarrier, spsc};

#[test]
fn the_choice_is_taken_before_the_first_queue_and_fixed_after_it() {
    assert!(allow_membarrier(false), "no queue exists yet");
    assert!(allow_membarrier(false), "still no queue");
    let (mut producer, mut consumer) = spsc::with_wait_strategy(4, WaitStrategy::Blocking);
    assert!(!allow_membarrier(true), "the first blocking queue fixed the choice");
    // The queue works with fences on both sides.
    let items: u32 = if cfg!(miri) { 50 } else { 1_000 };
    let reader = std::thread::spawn(move || (0..items).map(|_| consumer.pop().unwrap()).sum::<u32>());
    for i in 0..items {
        producer.push(i).unwrap();
    }
    assert_eq!(reader.join().unwrap(), (0..items).sum());
}
