//! A hybrid logical clock: wall-clock milliseconds plus a counter.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// When a write happened, ordered across devices: physical milliseconds,
/// then a logical counter that orders writes within one millisecond and
/// keeps the order when a wall clock steps back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct VersionStamp {
    /// Milliseconds since the Unix epoch, never less than any stamp seen before.
    pub physical_ms: u64,
    /// Orders stamps with the same `physical_ms`.
    pub logical: u32,
}

impl VersionStamp {
    /// The stamp of a write at `at` by a writer without its own clock (the
    /// start of that second, counter 0).
    #[must_use]
    pub const fn from_timestamp(at: Timestamp) -> VersionStamp {
        VersionStamp {
            physical_ms: at.as_secs().saturating_mul(1000),
            logical: 0,
        }
    }
}

impl fmt::Display for VersionStamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.physical_ms, self.logical)
    }
}

/// Issues [`VersionStamp`]s that only go forward.
///
/// # Examples
///
/// ```
/// use gasbao_shadow::HybridClock;
///
/// let mut clock = HybridClock::new();
/// let first = clock.tick(5_000);
/// let second = clock.tick(4_000); // the wall clock stepped back
/// assert!(second > first);
/// assert_eq!(second.physical_ms, 5_000);
/// ```
#[derive(Debug, Clone, Default)]
pub struct HybridClock {
    last: VersionStamp,
}

impl HybridClock {
    /// A clock that has issued nothing.
    #[must_use]
    pub fn new() -> HybridClock {
        HybridClock::default()
    }

    /// A clock that continues after `last` (recovered from a log).
    #[must_use]
    pub fn resume(last: VersionStamp) -> HybridClock {
        HybridClock { last }
    }

    /// A stamp for a local write at wall time `wall_ms`, after every stamp
    /// issued or observed so far.
    pub fn tick(&mut self, wall_ms: u64) -> VersionStamp {
        self.last = self.after(wall_ms, self.last);
        self.last
    }

    /// Takes in a stamp from elsewhere, so that later ticks come after it;
    /// returns the stamp of receiving it.
    pub fn observe(&mut self, remote: VersionStamp, wall_ms: u64) -> VersionStamp {
        let newest = self.last.max(remote);
        self.last = self.after(wall_ms, newest);
        self.last
    }

    /// The newest stamp issued or observed.
    #[must_use]
    pub fn last(&self) -> VersionStamp {
        self.last
    }

    fn after(&self, wall_ms: u64, newest: VersionStamp) -> VersionStamp {
        if wall_ms > newest.physical_ms {
            return VersionStamp {
                physical_ms: wall_ms,
                logical: 0,
            };
        }
        match newest.logical.checked_add(1) {
            Some(logical) => VersionStamp {
                physical_ms: newest.physical_ms,
                logical,
            },
            // Four billion writes in one millisecond: borrow the next one.
            None => VersionStamp {
                physical_ms: newest.physical_ms.saturating_add(1),
                logical: 0,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn stamps_strictly_increase_whatever_the_wall_clock_does(walls in proptest::collection::vec((0u64..10_000, any::<bool>(), 0u64..10_000, 0u32..3), 1..200)) {
            let mut clock = HybridClock::new();
            let mut previous = clock.last();
            for (wall, observe, remote_ms, remote_logical) in walls {
                let stamp = if observe {
                    let remote = VersionStamp { physical_ms: remote_ms, logical: remote_logical };
                    let stamp = clock.observe(remote, wall);
                    prop_assert!(stamp > remote);
                    stamp
                } else {
                    clock.tick(wall)
                };
                prop_assert!(stamp > previous);
                prop_assert!(stamp.physical_ms >= wall);
                previous = stamp;
            }
        }
    }

    #[test]
    fn the_counter_overflowing_moves_to_the_next_millisecond() {
        let mut clock = HybridClock::resume(VersionStamp {
            physical_ms: 7,
            logical: u32::MAX,
        });
        assert_eq!(
            clock.tick(7),
            VersionStamp {
                physical_ms: 8,
                logical: 0
            }
        );
    }
}
