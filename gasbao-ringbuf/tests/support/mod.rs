//! Shared by the ring buffer tests; each test file uses part of it.
#![allow(unreachable_pub, dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use gasbao_ringbuf::WaitStrategy;
use proptest::prelude::ProptestConfig;

/// Every wait strategy: each flavour's waiting calls are tested on all of them.
pub const STRATEGIES: [WaitStrategy; 4] = [
    WaitStrategy::BusySpin,
    WaitStrategy::Yield,
    WaitStrategy::Backoff,
    WaitStrategy::Blocking,
];

/// `cases` property cases, or `miri_cases` under Miri, which is about a
/// thousand times slower and cannot write proptest's failure files.
pub fn model_config(cases: u32, miri_cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: if cfg!(miri) { miri_cases } else { cases },
        failure_persistence: if cfg!(miri) {
            None
        } else {
            ProptestConfig::default().failure_persistence
        },
        ..ProptestConfig::default()
    }
}

/// An item that counts its drops, to prove each is dropped exactly once.
#[derive(Debug)]
pub struct Counted(pub Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}
