//! Time, sleeping and randomness: what the coordinator needs from its host,
//! as small traits, so that any async runtime or a deterministic simulator
//! can drive it.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::future::Future;
use std::hash::BuildHasher;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::ids::Timestamp;

/// A future boxed for use behind `dyn`: what participants and logs return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Wall-clock time.
pub trait Clock: Send + Sync + 'static {
    /// Now.
    fn now(&self) -> Timestamp;
}

/// Sleeping without blocking a thread.
pub trait Timer: Send + Sync + 'static {
    /// A future that completes `duration` from now.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

/// Randomness for retry jitter; it need not be cryptographic.
pub trait Entropy: Send + Sync + 'static {
    /// A uniformly distributed `u64`.
    fn next_u64(&self) -> u64;
}

/// The [`Clock`], [`Timer`] and [`Entropy`] a coordinator runs with.
///
/// [`Environment::system`] needs no async runtime: its timer is one shared
/// thread. A tokio host may prefer its own timer:
///
/// ```
/// use std::time::Duration;
/// use gasbao_tcc::{BoxFuture, Environment, Timer};
///
/// struct TokioTimer;
/// impl Timer for TokioTimer {
///     fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
///         Box::pin(tokio::time::sleep(duration))
///     }
/// }
/// let env = Environment::system().with_timer(TokioTimer);
/// # let _ = env;
/// ```
#[derive(Clone)]
pub struct Environment {
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) timer: Arc<dyn Timer>,
    pub(crate) entropy: Arc<dyn Entropy>,
}

impl Environment {
    /// Any clock, timer and entropy source.
    pub fn new(clock: impl Clock, timer: impl Timer, entropy: impl Entropy) -> Environment {
        Environment {
            clock: Arc::new(clock),
            timer: Arc::new(timer),
            entropy: Arc::new(entropy),
        }
    }

    /// The system clock, a shared timer thread, and entropy seeded by the OS.
    #[must_use]
    pub fn system() -> Environment {
        Environment::new(SystemClock, ThreadTimer, SystemEntropy::new())
    }

    /// The same, with another timer.
    #[must_use]
    pub fn with_timer(mut self, timer: impl Timer) -> Environment {
        self.timer = Arc::new(timer);
        self
    }

    /// The same, with another clock.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Environment {
        self.clock = Arc::new(clock);
        self
    }

    /// Now, by the environment's clock.
    #[must_use]
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Sleeps on the environment's timer.
    pub fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        self.timer.sleep(duration)
    }

    /// A random `u64` from the environment's entropy.
    #[must_use]
    pub fn random(&self) -> u64 {
        self.entropy.next_u64()
    }
}

impl fmt::Debug for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Environment")
            .field("now", &self.now())
            .finish_non_exhaustive()
    }
}

/// [`SystemTime`], in milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        // A clock before 1970 reads as 1970: deadlines then all lie ahead.
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Timestamp::from_unix_millis(u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX))
    }
}

/// SplitMix64 over a counter seeded by the OS (through [`RandomState`]).
#[derive(Debug)]
pub struct SystemEntropy {
    state: AtomicU64,
}

impl SystemEntropy {
    /// A new source with a fresh seed.
    #[must_use]
    pub fn new() -> SystemEntropy {
        SystemEntropy {
            state: AtomicU64::new(RandomState::new().hash_one(0u64)),
        }
    }
}

impl Default for SystemEntropy {
    fn default() -> SystemEntropy {
        SystemEntropy::new()
    }
}

impl Entropy for SystemEntropy {
    fn next_u64(&self) -> u64 {
        splitmix64(self.state.fetch_add(SPLITMIX_GAMMA, Ordering::Relaxed))
    }
}

pub(crate) const SPLITMIX_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// The output function of SplitMix64 for the state `z`.
pub(crate) fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(SPLITMIX_GAMMA);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A timer served by one background thread shared by the whole process;
/// works under any executor.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadTimer;

impl Timer for ThreadTimer {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(ThreadSleep {
            at: Instant::now() + duration,
            shared: None,
        })
    }
}

struct ThreadSleep {
    at: Instant,
    shared: Option<Arc<Mutex<SleepState>>>,
}

#[derive(Default)]
struct SleepState {
    done: bool,
    waker: Option<Waker>,
}

impl Future for ThreadSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.at {
            return Poll::Ready(());
        }
        let at = self.at;
        let shared = self.shared.get_or_insert_with(|| {
            let shared = Arc::new(Mutex::new(SleepState::default()));
            timer_thread().schedule(at, Arc::clone(&shared));
            shared
        });
        let mut state = shared.lock().unwrap_or_else(PoisonError::into_inner);
        if state.done {
            return Poll::Ready(());
        }
        state.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

struct TimerThread {
    queue: Mutex<TimerQueue>,
    changed: Condvar,
}

#[derive(Default)]
struct TimerQueue {
    next: u64,
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    sleepers: std::collections::HashMap<u64, Arc<Mutex<SleepState>>>,
}

fn timer_thread() -> &'static TimerThread {
    static TIMER: OnceLock<&'static TimerThread> = OnceLock::new();
    TIMER.get_or_init(|| {
        let timer: &'static TimerThread = Box::leak(Box::new(TimerThread {
            queue: Mutex::new(TimerQueue::default()),
            changed: Condvar::new(),
        }));
        std::thread::Builder::new()
            .name("gasbao-tcc-timer".into())
            .spawn(move || timer.run())
            .map(drop)
            // Without its thread no sleep would ever end: nothing could retry.
            .expect("the timer thread could not be started");
        timer
    })
}

impl TimerThread {
    fn schedule(&self, at: Instant, sleeper: Arc<Mutex<SleepState>>) {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let id = queue.next;
        queue.next += 1;
        queue.heap.push(Reverse((at, id)));
        queue.sleepers.insert(id, sleeper);
        self.changed.notify_one();
    }

    fn run(&self) {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let now = Instant::now();
            while let Some(&Reverse((at, id))) = queue.heap.peek() {
                if at > now {
                    break;
                }
                queue.heap.pop();
                if let Some(sleeper) = queue.sleepers.remove(&id) {
                    let mut state = sleeper.lock().unwrap_or_else(PoisonError::into_inner);
                    state.done = true;
                    if let Some(waker) = state.waker.take() {
                        waker.wake();
                    }
                }
            }
            let wait = queue
                .heap
                .peek()
                .map(|Reverse((at, _))| at.saturating_duration_since(now));
            queue = match wait {
                Some(wait) => {
                    self.changed
                        .wait_timeout(queue, wait)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                None => self.changed.wait(queue).unwrap_or_else(PoisonError::into_inner),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_the_reference_sequence() {
        // First outputs of SplitMix64 seeded with 0 (Vigna's reference code).
        let entropy = SystemEntropy {
            state: AtomicU64::new(0),
        };
        assert_eq!(entropy.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(entropy.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }
}
