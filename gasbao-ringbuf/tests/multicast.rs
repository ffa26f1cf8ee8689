//! The multicast ring: every consumer sees every event in order, dependencies
//! hold (pipelines and diamonds), exclusive consumers' changes are seen
//! downstream, and shutdown, panics and drops behave.
#![cfg(not(gasbao_loom))]

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gasbao_ringbuf::multicast::{BuildError, Builder, ConsumerPanicked, MultiProducer};
use gasbao_ringbuf::{PushError, WaitStrategy};
use proptest::prelude::*;
use support::{Counted, STRATEGIES, model_config};

fn events() -> u64 {
    if cfg!(miri) { 50 } else { 100_000 }
}

#[derive(Default, Clone, Copy)]
struct Reading {
    producer: u64,
    sequence: u64,
    milli_m3: u64,
    corrected: u64,
}

/// Records what a consumer saw, to compare after the run.
type Seen = Arc<Mutex<Vec<(u64, u64)>>>;

fn recorder(seen: &Seen) -> impl FnMut(&Reading, u64, bool) + Send + 'static {
    let seen = seen.clone();
    let mut local = Vec::new();
    move |r: &Reading, _sequence, end_of_batch| {
        local.push((r.producer, r.sequence));
        if end_of_batch {
            seen.lock().unwrap().append(&mut local);
        }
    }
}

#[test]
fn fan_out_to_three_every_consumer_sees_every_event_in_order() {
    for strategy in STRATEGIES {
        // Three spinning consumers and a producer on a two-core machine make
        // progress only when the scheduler switches: fewer events there.
        let count = if strategy == WaitStrategy::BusySpin {
            events() / 20
        } else {
            events()
        };
        let mut builder = Builder::new(64, Reading::default).wait_strategy(strategy);
        let seen: Vec<Seen> = (0..3).map(|_| Seen::default()).collect();
        for (i, s) in seen.iter().enumerate() {
            builder.consumer(&format!("c{i}"), &[], recorder(s));
        }
        let (mut producer, consumers) = builder.build_single_producer().unwrap();
        for sequence in 0..count {
            producer
                .publish(|r| {
                    *r = Reading {
                        producer: 0,
                        sequence,
                        ..Reading::default()
                    }
                })
                .unwrap();
        }
        drop(producer);
        consumers.join().unwrap();
        let expected: Vec<(u64, u64)> = (0..count).map(|s| (0, s)).collect();
        for s in &seen {
            assert_eq!(*s.lock().unwrap(), expected, "{strategy:?}");
        }
    }
}

#[test]
fn a_pipeline_sees_each_stages_changes() {
    let mut builder = Builder::new(128, Reading::default);
    // Stage 1 corrects the volume in place; stage 2 must see it corrected.
    let correct = builder.exclusive_consumer("correct", &[], |r: &mut Reading, _, _| r.corrected = r.milli_m3 * 2);
    let wrong = Arc::new(AtomicUsize::new(0));
    let total = Arc::new(AtomicU64::new(0));
    builder.consumer("bill", &[correct], {
        let (wrong, total) = (wrong.clone(), total.clone());
        move |r: &Reading, _, _| {
            if r.corrected != r.milli_m3 * 2 {
                wrong.fetch_add(1, Ordering::Relaxed);
            }
            total.fetch_add(r.corrected, Ordering::Relaxed);
        }
    });
    let (mut producer, consumers) = builder.build_single_producer().unwrap();
    for sequence in 0..events() {
        // Stale `corrected` from the previous lap must be overwritten by stage 1.
        producer
            .publish(|r| {
                *r = Reading {
                    sequence,
                    milli_m3: sequence,
                    corrected: u64::MAX,
                    ..Reading::default()
                }
            })
            .unwrap();
    }
    drop(producer);
    consumers.join().unwrap();
    assert_eq!(wrong.load(Ordering::Relaxed), 0);
    assert_eq!(total.load(Ordering::Relaxed), events() * (events() - 1));
}

#[test]
fn in_a_diamond_the_last_stage_runs_after_both_branches() {
    let n = events() as usize;
    let (left_done, right_done) = (
        Arc::new(Mutex::new(vec![false; n])),
        Arc::new(Mutex::new(vec![false; n])),
    );
    let violations = Arc::new(AtomicUsize::new(0));
    let mut builder = Builder::new(64, Reading::default).wait_strategy(WaitStrategy::Yield);
    let validate = builder.consumer("validate", &[], |_: &Reading, _, _| {});
    let left = builder.consumer("bill", &[validate], {
        let done = left_done.clone();
        move |r: &Reading, _, _| done.lock().unwrap()[r.sequence as usize] = true
    });
    let right = builder.consumer("store", &[validate], {
        let done = right_done.clone();
        move |r: &Reading, _, _| done.lock().unwrap()[r.sequence as usize] = true
    });
    builder.consumer("audit", &[left, right], {
        let (l, r, v) = (left_done.clone(), right_done.clone(), violations.clone());
        move |reading: &Reading, _, _| {
            let i = reading.sequence as usize;
            if !(l.lock().unwrap()[i] && r.lock().unwrap()[i]) {
                v.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let (mut producer, consumers) = builder.build_single_producer().unwrap();
    for sequence in 0..events() {
        producer.publish(|r| r.sequence = sequence).unwrap();
    }
    drop(producer);
    consumers.join().unwrap();
    assert_eq!(violations.load(Ordering::Relaxed), 0);
    assert!(left_done.lock().unwrap().iter().all(|&d| d) && right_done.lock().unwrap().iter().all(|&d| d));
}

#[test]
fn multiple_producers_every_event_once_in_each_producers_order() {
    for strategy in [WaitStrategy::Blocking, WaitStrategy::Yield] {
        let producers = 3u64;
        let per_producer = events() / 2;
        let mut builder = Builder::new(256, Reading::default).wait_strategy(strategy);
        let seen: Vec<Seen> = (0..2).map(|_| Seen::default()).collect();
        for (i, s) in seen.iter().enumerate() {
            builder.consumer(&format!("c{i}"), &[], recorder(s));
        }
        let (producer, consumers) = builder.build_multi_producer().unwrap();
        std::thread::scope(|s| {
            for p in 0..producers {
                let producer = producer.clone();
                s.spawn(move || {
                    let mut sequence = 0;
                    while sequence < per_producer {
                        if sequence % 3 == 0 && sequence + 4 <= per_producer {
                            let base = sequence;
                            producer
                                .publish_batch(4, |r, i| {
                                    *r = Reading {
                                        producer: p,
                                        sequence: base + i as u64,
                                        ..Reading::default()
                                    }
                                })
                                .unwrap();
                            sequence += 4;
                        } else {
                            producer
                                .publish(|r| {
                                    *r = Reading {
                                        producer: p,
                                        sequence,
                                        ..Reading::default()
                                    }
                                })
                                .unwrap();
                            sequence += 1;
                        }
                    }
                });
            }
        });
        drop(producer);
        consumers.join().unwrap();
        for s in &seen {
            let seen = s.lock().unwrap();
            assert_eq!(seen.len() as u64, producers * per_producer, "{strategy:?}");
            for p in 0..producers {
                let mine: Vec<u64> = seen.iter().filter(|(q, _)| *q == p).map(|(_, s)| *s).collect();
                assert_eq!(
                    mine,
                    (0..per_producer).collect::<Vec<_>>(),
                    "{strategy:?}: producer {p}"
                );
            }
        }
    }
}

/// Publishes reading 1, then a batch of three whose feed breaks after the
/// first: the batch's sequences are published as skipped.
fn publish_then_break(producer: &MultiProducer<Reading>) {
    producer.publish(|r| r.sequence = 1).unwrap();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = producer.publish_batch(3, |r, i| {
            assert!(i < 1, "the meter feed broke");
            r.sequence = 2;
        });
    }));
    assert!(panicked.is_err());
}

#[test]
fn a_panicking_publisher_leaves_no_hole() {
    let mut builder = Builder::new(8, Reading::default);
    let seen = Seen::default();
    builder.consumer("c", &[], recorder(&seen));
    let (producer, consumers) = builder.build_multi_producer().unwrap();
    publish_then_break(&producer);
    producer.publish(|r| r.sequence = 5).unwrap();
    drop(producer);
    consumers.join().unwrap();
    // The event filled before the panic is skipped with the rest of its
    // batch: a batch is published whole or not at all.
    assert_eq!(seen.lock().unwrap().iter().map(|(_, s)| *s).collect::<Vec<_>>(), [1, 5]);
}

/// A batch whose last sequences were skipped (their publisher panicked)
/// still ends: its last handled event says so, for handlers that flush then.
#[test]
fn a_batch_ending_in_skipped_sequences_still_ends_at_its_last_event() {
    let gate = Arc::new(std::sync::Barrier::new(2));
    let mut builder = Builder::new(8, Reading::default).on_thread_start({
        let gate = gate.clone();
        // The consumer starts only once everything below is published, so
        // that it finds one batch: the event, then the skipped three.
        move |_, _| {
            gate.wait();
        }
    });
    let ends = Arc::new(Mutex::new(Vec::new()));
    builder.consumer("bill", &[], {
        let ends = ends.clone();
        move |r: &Reading, _seq, end_of_batch| ends.lock().unwrap().push((r.sequence, end_of_batch))
    });
    let (producer, consumers) = builder.build_multi_producer().unwrap();
    publish_then_break(&producer);
    gate.wait();
    drop(producer);
    consumers.join().unwrap();
    assert_eq!(*ends.lock().unwrap(), [(1, true)]);
}

#[test]
fn a_panicking_handler_halts_the_ring_without_hanging_anyone() {
    let mut builder = Builder::new(4, Reading::default);
    let first = builder.consumer("validate", &[], |r: &Reading, _, _| {
        assert!(r.sequence != 3, "bad reading")
    });
    builder.consumer("bill", &[first], |_: &Reading, _, _| {});
    let (mut producer, consumers) = builder.build_single_producer().unwrap();
    let mut refused = None;
    for sequence in 0..1000 {
        if let Err(e) = producer.publish(|r| r.sequence = sequence) {
            refused = Some((sequence, matches!(e, PushError::Disconnected(_))));
            break;
        }
    }
    let (at, disconnected) = refused.expect("the producer must learn the ring halted");
    assert!(disconnected && at >= 4, "refused at {at}");
    assert!(producer.is_abandoned());
    assert_eq!(
        consumers.join().map_err(|e: ConsumerPanicked| e.consumer),
        Err("validate".to_owned())
    );
}

#[test]
fn a_full_ring_hands_the_closure_back_unrun() {
    let release = Arc::new(AtomicBool::new(false));
    let mut builder = Builder::new(2, Reading::default).wait_strategy(WaitStrategy::Yield);
    builder.consumer("slow", &[], {
        let release = release.clone();
        move |_: &Reading, _, _| {
            while !release.load(Ordering::Acquire) {
                std::thread::yield_now();
            }
        }
    });
    let (mut producer, consumers) = builder.build_single_producer().unwrap();
    let ran = AtomicUsize::new(0);
    for _ in 0..2 {
        producer
            .try_publish(|_| {
                ran.fetch_add(1, Ordering::Relaxed);
            })
            .unwrap();
    }
    match producer.try_publish(|_| {
        ran.fetch_add(1, Ordering::Relaxed);
    }) {
        Err(PushError::Full(_)) => {}
        other => panic!("{:?}", other.map(|_| ())),
    }
    assert!(matches!(
        producer.publish_timeout(|_| {}, Duration::from_millis(20)),
        Err(PushError::Full(_))
    ));
    assert!(matches!(
        producer.try_publish_batch(3, |_, _| {}),
        Err(PushError::Full(_))
    ));
    assert_eq!(ran.load(Ordering::Relaxed), 2);
    release.store(true, Ordering::Release);
    producer.publish(|_| {}).unwrap();
    drop(producer);
    consumers.join().unwrap();
}

#[test]
fn build_refuses_what_cannot_run_safely() {
    let builder = Builder::new(4, Reading::default);
    assert_eq!(builder.build_single_producer().err(), Some(BuildError::NoConsumers));

    let mut builder = Builder::new(4, Reading::default);
    let a = builder.consumer("a", &[], |_: &Reading, _, _| {});
    builder.exclusive_consumer("fix", &[], |_: &mut Reading, _, _| {});
    builder.consumer("b", &[a], |_: &Reading, _, _| {});
    assert_eq!(
        builder.build_single_producer().err(),
        Some(BuildError::ExclusiveWithSibling {
            consumer: "fix".into(),
            sibling: "a".into()
        })
    );

    // Before and after, never beside: accepted.
    let mut builder = Builder::new(4, Reading::default);
    let a = builder.consumer("a", &[], |_: &Reading, _, _| {});
    let fix = builder.exclusive_consumer("fix", &[a], |_: &mut Reading, _, _| {});
    builder.consumer("b", &[fix], |_: &Reading, _, _| {});
    let (producer, consumers) = builder.build_single_producer().unwrap();
    drop(producer);
    consumers.join().unwrap();
}

#[test]
fn events_are_dropped_once_when_the_ring_goes() {
    let drops = Arc::new(AtomicUsize::new(0));
    let made = Arc::new(AtomicUsize::new(0));
    let mut builder = Builder::new(8, {
        let (drops, made) = (drops.clone(), made.clone());
        move || {
            made.fetch_add(1, Ordering::Relaxed);
            Counted(drops.clone())
        }
    });
    builder.consumer("c", &[], |_: &Counted, _, _| {});
    let (mut producer, consumers) = builder.build_single_producer().unwrap();
    // Replacing an event in place drops the old one: 20 replacements.
    for _ in 0..20 {
        producer.publish(|slot| *slot = Counted(drops.clone())).unwrap();
    }
    drop(producer);
    consumers.join().unwrap();
    assert_eq!(made.load(Ordering::Relaxed), 8);
    assert_eq!(drops.load(Ordering::Relaxed), 20 + 8);
}

#[test]
fn a_batch_ends_only_where_the_producer_published_and_at_the_last_event() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut builder = Builder::new(64, || ()).wait_strategy(WaitStrategy::Yield);
    builder.consumer("c", &[], {
        let seen = seen.clone();
        move |_: &(), sequence, end_of_batch| seen.lock().unwrap().push((sequence, end_of_batch))
    });
    let (mut producer, consumers) = builder.build_single_producer().unwrap();
    // 125 batches of 8, each published with one store: a consumer can only
    // ever find whole batches, so its own batches end where one of these does.
    for _ in 0..1000 / 8 {
        producer.publish_batch(8, |_, _| {}).unwrap();
    }
    drop(producer);
    consumers.join().unwrap();
    let seen = seen.lock().unwrap();
    let sequences: Vec<u64> = seen.iter().map(|&(sequence, _)| sequence).collect();
    assert_eq!(sequences, (0..1000).collect::<Vec<_>>());
    for &(sequence, end_of_batch) in seen.iter() {
        assert!(
            !end_of_batch || sequence % 8 == 7,
            "a batch ended inside a published batch, at {sequence}"
        );
    }
    assert_eq!(seen.last(), Some(&(999, true)));
}

proptest! {
    #![proptest_config(model_config(64, 4))]

    /// Whatever mix of single and batch publishes, every consumer of a
    /// pipeline sees exactly the published sequence of values, as a
    /// `VecDeque` fed and drained in order would give them.
    #[test]
    fn every_consumer_sees_what_a_queue_would_deliver(
        capacity in 1usize..16,
        publishes in proptest::collection::vec(proptest::collection::vec(any::<u32>(), 1..6), 0..30),
    ) {
        let mut builder = Builder::new(capacity, || 0u32).wait_strategy(WaitStrategy::Yield);
        let seen: Vec<Arc<Mutex<Vec<u32>>>> = (0..2).map(|_| Arc::default()).collect();
        let first = builder.consumer("first", &[], { let s = seen[0].clone(); move |v: &u32, _, _| s.lock().unwrap().push(*v) });
        builder.consumer("second", &[first], { let s = seen[1].clone(); move |v: &u32, _, _| s.lock().unwrap().push(*v) });
        let (mut producer, consumers) = builder.build_single_producer().unwrap();
        let mut model = std::collections::VecDeque::new();
        for values in &publishes {
            if values.len() == 1 || values.len() > producer.capacity() {
                for &v in values {
                    producer.publish(|slot| *slot = v).unwrap();
                }
            } else {
                producer.publish_batch(values.len(), |slot, i| *slot = values[i]).unwrap();
            }
            model.extend(values.iter().copied());
        }
        drop(producer);
        consumers.join().unwrap();
        let expected: Vec<u32> = model.into_iter().collect();
        for s in &seen {
            prop_assert_eq!(&*s.lock().unwrap(), &expected);
        }
    }
}

#[test]
fn the_thread_start_hook_runs_on_each_consumer_and_a_panicking_one_halts_the_ring() {
    let started = Arc::new(Mutex::new(Vec::new()));
    let mut builder = Builder::new(4, || 0u8).on_thread_start({
        let started = started.clone();
        move |index, name| started.lock().unwrap().push((index, name.to_owned()))
    });
    let a = builder.consumer("validate", &[], |_: &u8, _, _| {});
    builder.consumer("bill", &[a], |_: &u8, _, _| {});
    let (producer, consumers) = builder.build_single_producer().unwrap();
    drop(producer);
    consumers.join().unwrap();
    let mut started = started.lock().unwrap().clone();
    started.sort();
    assert_eq!(started, [(0, "validate".to_owned()), (1, "bill".to_owned())]);

    let mut builder = Builder::new(4, || 0u8).on_thread_start(|_, name| assert_ne!(name, "bill", "no core for bill"));
    let a = builder.consumer("validate", &[], |_: &u8, _, _| {});
    builder.consumer("bill", &[a], |_: &u8, _, _| {});
    let (mut producer, consumers) = builder.build_single_producer().unwrap();
    let refused = (0..100).find_map(|_| producer.publish(|_| {}).err());
    assert!(matches!(refused, Some(PushError::Disconnected(_))));
    drop(producer);
    assert_eq!(consumers.join().map_err(|e| e.consumer), Err("bill".to_owned()));
}
