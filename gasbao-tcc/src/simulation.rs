//! A deterministic, single-threaded executor with a simulated clock, to test
//! participants, coordinators and hosts under any interleaving a seed picks.
//!
//! Tasks are polled one at a time, the next one chosen by a seeded random
//! generator among those ready; when none is ready, the clock jumps to the
//! next timer. The same seed gives the same order, times and random
//! numbers, so a failing run replays exactly. Tasks belong to groups that
//! can be killed at once, to simulate a process crashing.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use gasbao_tcc::Timestamp;
//! use gasbao_tcc::simulation::Simulation;
//!
//! let mut sim = Simulation::new(7, Timestamp::from_unix_millis(0));
//! let env = sim.environment();
//! let done = sim.spawn(0, async move {
//!     env.sleep(Duration::from_secs(5)).await;
//!     env.now()
//! });
//! sim.run_until_idle();
//! assert_eq!(done.take(), Some(Timestamp::from_unix_millis(5_000)));
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use crate::env::{BoxFuture, Clock, Entropy, Environment, SPLITMIX_GAMMA, Timer, splitmix64};
use crate::ids::Timestamp;

/// A group of tasks that are killed together, as one simulated process.
pub type TaskGroup = u32;

/// The deterministic executor. See the [module docs](self).
pub struct Simulation {
    shared: Arc<Shared>,
    tasks: BTreeMap<u64, Task>,
    next_task: u64,
    scheduler: u64,
    polls: u64,
}

struct Task {
    group: TaskGroup,
    future: BoxFuture<'static, ()>,
}

struct Shared {
    state: Mutex<SharedState>,
}

#[derive(Default)]
struct SharedState {
    now: u64,
    entropy: u64,
    next_timer: u64,
    timers: BTreeMap<(u64, u64), Arc<Mutex<TimerSlot>>>,
    ready: VecDeque<u64>,
    spawned: Vec<(TaskGroup, BoxFuture<'static, ()>)>,
}

#[derive(Default)]
struct TimerSlot {
    fired: bool,
    waker: Option<Waker>,
}

/// Where a spawned task's output lands.
pub struct TaskOutput<T> {
    slot: Arc<Mutex<Option<T>>>,
}

impl<T> TaskOutput<T> {
    /// The output, once the task has finished (taken: later calls get `None`).
    #[must_use]
    pub fn take(&self) -> Option<T> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

impl<T> fmt::Debug for TaskOutput<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskOutput").finish_non_exhaustive()
    }
}

/// Spawns tasks into a running [`Simulation`] from inside one of its tasks.
#[derive(Clone)]
pub struct Spawner {
    shared: Arc<Shared>,
}

impl Spawner {
    /// Spawns `future` in `group`; it runs from the simulation's next step.
    pub fn spawn(&self, group: TaskGroup, future: impl Future<Output = ()> + Send + 'static) {
        self.shared.lock().spawned.push((group, Box::pin(future)));
    }
}

impl fmt::Debug for Spawner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spawner").finish_non_exhaustive()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, SharedState> {
        // Single-threaded: a poisoned lock only follows a panic that fails the test anyway.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Simulation {
    /// A simulation whose clock starts at `start`, seeded with `seed`.
    #[must_use]
    pub fn new(seed: u64, start: Timestamp) -> Simulation {
        let state = SharedState {
            now: start.unix_millis(),
            entropy: splitmix64(seed ^ 0x5EED),
            ..SharedState::default()
        };
        Simulation {
            shared: Arc::new(Shared {
                state: Mutex::new(state),
            }),
            tasks: BTreeMap::new(),
            next_task: 0,
            scheduler: splitmix64(seed),
            polls: 0,
        }
    }

    /// The simulated clock, timer and seeded entropy.
    #[must_use]
    pub fn environment(&self) -> Environment {
        let handle = SimHandle {
            shared: Arc::clone(&self.shared),
        };
        Environment::new(handle.clone(), handle.clone(), handle)
    }

    /// A spawner for tasks to spawn more tasks.
    #[must_use]
    pub fn spawner(&self) -> Spawner {
        Spawner {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Now, by the simulated clock.
    #[must_use]
    pub fn now(&self) -> Timestamp {
        Timestamp::from_unix_millis(self.shared.lock().now)
    }

    /// A number from the simulation's own seeded generator (not the one
    /// tasks draw from through the environment).
    pub fn random(&mut self) -> u64 {
        self.scheduler = self.scheduler.wrapping_add(SPLITMIX_GAMMA);
        splitmix64(self.scheduler)
    }

    /// Spawns `future` in `group`; its output lands in the returned slot.
    pub fn spawn<T: Send + 'static>(
        &mut self,
        group: TaskGroup,
        future: impl Future<Output = T> + Send + 'static,
    ) -> TaskOutput<T> {
        let slot = Arc::new(Mutex::new(None));
        let output = TaskOutput {
            slot: Arc::clone(&slot),
        };
        self.add_task(
            group,
            Box::pin(async move {
                let value = future.await;
                *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(value);
            }),
        );
        output
    }

    fn add_task(&mut self, group: TaskGroup, future: BoxFuture<'static, ()>) {
        let id = self.next_task;
        self.next_task += 1;
        self.tasks.insert(id, Task { group, future });
        self.shared.lock().ready.push_back(id);
    }

    /// Drops every task of `group`, as a crash of that process would.
    pub fn kill(&mut self, group: TaskGroup) {
        self.tasks.retain(|_, task| task.group != group);
        self.shared.lock().spawned.retain(|(g, _)| *g != group);
    }

    /// How many tasks are alive.
    #[must_use]
    pub fn tasks(&self) -> usize {
        self.tasks.len()
    }

    /// Polls one ready task, or, if none is ready, moves the clock to the
    /// next timer and fires it. Returns `false` when nothing can happen.
    pub fn step(&mut self) -> bool {
        self.step_until(u64::MAX)
    }

    /// As [`step`](Self::step), firing no timer set after `until` (ms).
    fn step_until(&mut self, until: u64) -> bool {
        let spawned = std::mem::take(&mut self.shared.lock().spawned);
        for (group, future) in spawned {
            self.add_task(group, future);
        }
        let next = {
            let mut state = self.shared.lock();
            state.ready.retain(|id| self.tasks.contains_key(id));
            if state.ready.is_empty() {
                None
            } else {
                self.scheduler = self.scheduler.wrapping_add(SPLITMIX_GAMMA);
                let index = usize::try_from(splitmix64(self.scheduler) % state.ready.len() as u64).unwrap_or(0);
                state.ready.remove(index)
            }
        };
        match next {
            Some(id) => {
                self.poll(id);
                true
            }
            None => self.fire_next_timer(until),
        }
    }

    /// Steps until nothing can happen.
    pub fn run_until_idle(&mut self) {
        while self.step() {}
    }

    /// Steps until the clock would pass `until`, or nothing can happen.
    pub fn run_until(&mut self, until: Timestamp) {
        let until = until.unix_millis();
        while self.step_until(until) {}
        let mut state = self.shared.lock();
        state.now = state.now.max(until);
    }

    /// How many times tasks were polled.
    #[must_use]
    pub fn polls(&self) -> u64 {
        self.polls
    }

    fn poll(&mut self, id: u64) {
        let Some(task) = self.tasks.get_mut(&id) else {
            return;
        };
        self.polls += 1;
        let waker = Waker::from(Arc::new(TaskWaker {
            id,
            shared: Arc::clone(&self.shared),
        }));
        let mut cx = Context::from_waker(&waker);
        if task.future.as_mut().poll(&mut cx).is_ready() {
            self.tasks.remove(&id);
        }
    }

    fn fire_next_timer(&mut self, until: u64) -> bool {
        let mut state = self.shared.lock();
        let Some((&(at, seq), _)) = state.timers.iter().next().filter(|((at, _), _)| *at <= until) else {
            return false;
        };
        let Some(slot) = state.timers.remove(&(at, seq)) else {
            return false;
        };
        state.now = state.now.max(at);
        drop(state);
        let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
        slot.fired = true;
        if let Some(waker) = slot.waker.take() {
            waker.wake();
        }
        true
    }
}

impl fmt::Debug for Simulation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simulation")
            .field("now", &self.now())
            .field("tasks", &self.tasks.len())
            .finish_non_exhaustive()
    }
}

struct TaskWaker {
    id: u64,
    shared: Arc<Shared>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        let mut state = self.shared.lock();
        if !state.ready.contains(&self.id) {
            state.ready.push_back(self.id);
        }
    }
}

#[derive(Clone)]
struct SimHandle {
    shared: Arc<Shared>,
}

impl Clock for SimHandle {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_millis(self.shared.lock().now)
    }
}

impl Entropy for SimHandle {
    fn next_u64(&self) -> u64 {
        let mut state = self.shared.lock();
        state.entropy = state.entropy.wrapping_add(SPLITMIX_GAMMA);
        splitmix64(state.entropy)
    }
}

impl Timer for SimHandle {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        let slot = Arc::new(Mutex::new(TimerSlot::default()));
        {
            let mut state = self.shared.lock();
            let at = state
                .now
                .saturating_add(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX));
            let seq = state.next_timer;
            state.next_timer += 1;
            state.timers.insert((at, seq), Arc::clone(&slot));
        }
        Box::pin(SimSleep { slot })
    }
}

struct SimSleep {
    slot: Arc<Mutex<TimerSlot>>,
}

impl Future for SimSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.fired {
            return Poll::Ready(());
        }
        slot.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}
