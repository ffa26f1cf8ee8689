//! The two combinators the coordinator needs, without an async runtime:
//! running branch calls side by side, and racing a call against a timer.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::env::BoxFuture;

/// Futures polled side by side; [`next`](Self::next) yields each result, with
/// the index it was pushed at, as it completes.
pub(crate) struct Parallel<'a, T> {
    pending: Vec<Option<BoxFuture<'a, T>>>,
    left: usize,
}

impl<'a, T> Parallel<'a, T> {
    pub(crate) fn new() -> Parallel<'a, T> {
        Parallel {
            pending: Vec::new(),
            left: 0,
        }
    }

    pub(crate) fn push(&mut self, future: BoxFuture<'a, T>) {
        self.pending.push(Some(future));
        self.left += 1;
    }

    /// The next result to complete, or `None` when all have.
    pub(crate) fn next(&mut self) -> NextDone<'_, 'a, T> {
        NextDone { parallel: self }
    }
}

pub(crate) struct NextDone<'p, 'a, T> {
    parallel: &'p mut Parallel<'a, T>,
}

impl<T> Future for NextDone<'_, '_, T> {
    type Output = Option<(usize, T)>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let parallel = &mut *self.parallel;
        if parallel.left == 0 {
            return Poll::Ready(None);
        }
        for (index, slot) in parallel.pending.iter_mut().enumerate() {
            if let Some(future) = slot
                && let Poll::Ready(output) = future.as_mut().poll(cx)
            {
                *slot = None;
                parallel.left -= 1;
                return Poll::Ready(Some((index, output)));
            }
        }
        Poll::Pending
    }
}

/// `future`'s output, or `None` if the timer `start_timer` makes completes
/// first. The timer is made only if `future` does not finish at once.
pub(crate) async fn race_timer<T>(
    future: BoxFuture<'_, T>,
    start_timer: impl FnOnce() -> BoxFuture<'static, ()> + Unpin,
) -> Option<T> {
    Race {
        future,
        timer: None,
        start_timer: Some(start_timer),
    }
    .await
}

struct Race<'a, T, F> {
    future: BoxFuture<'a, T>,
    timer: Option<BoxFuture<'static, ()>>,
    start_timer: Option<F>,
}

impl<T, F: FnOnce() -> BoxFuture<'static, ()> + Unpin> Future for Race<'_, T, F> {
    type Output = Option<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        if let Poll::Ready(output) = self.future.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        let this = &mut *self;
        if this.timer.is_none()
            && let Some(start_timer) = this.start_timer.take()
        {
            this.timer = Some(start_timer());
        }
        match this.timer.as_mut().map(|timer| timer.as_mut().poll(cx)) {
            Some(Poll::Ready(())) => Poll::Ready(None),
            _ => Poll::Pending,
        }
    }
}
