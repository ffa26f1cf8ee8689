//! Why a push or pop did not happen.

use std::error::Error;
use std::fmt;

/// A push that did not happen; the item comes back in it.
#[derive(Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PushError<T> {
    /// The queue is full; try again once the consumer has caught up.
    Full(T),
    /// The consumer is gone: nothing pushed would ever be popped.
    Disconnected(T),
}

impl<T> PushError<T> {
    /// The item that was not pushed.
    pub fn into_inner(self) -> T {
        match self {
            PushError::Full(value) | PushError::Disconnected(value) => value,
        }
    }
}

// Not `T: Debug`: the item need not be printable to report the error.
impl<T> fmt::Debug for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushError::Full(_) => f.write_str("Full(..)"),
            PushError::Disconnected(_) => f.write_str("Disconnected(..)"),
        }
    }
}

impl<T> fmt::Display for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushError::Full(_) => f.write_str("the queue is full"),
            PushError::Disconnected(_) => f.write_str("the consumer is gone"),
        }
    }
}

impl<T> Error for PushError<T> {}

/// A pop that found nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PopError {
    /// Nothing to pop now; the producer may push more.
    Empty,
    /// The producer is gone and every item it pushed has been popped.
    Disconnected,
}

impl fmt::Display for PopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PopError::Empty => f.write_str("the queue is empty"),
            PopError::Disconnected => f.write_str("the producer is gone and the queue is empty"),
        }
    }
}

impl Error for PopError {}
