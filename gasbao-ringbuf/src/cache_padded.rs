//! Keeping the producer's and the consumer's hot counters on separate cache
//! lines, so that they do not invalidate each other's line (false sharing).

use std::ops::Deref;

/// `T` aligned (and so padded) to 128 bytes: two 64-byte lines, because
/// x86's spatial prefetcher pulls lines in pairs (as crossbeam's
/// `CachePadded` does).
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct CachePadded<T>(T);

impl<T> CachePadded<T> {
    pub(crate) const fn new(value: T) -> CachePadded<T> {
        CachePadded(value)
    }
}

impl<T> Deref for CachePadded<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.0
    }
}
