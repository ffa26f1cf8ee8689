//! Tiered tariffs, their bills, and tariffs over time.

pub(crate) mod bill;
pub(crate) mod cycle;
pub(crate) mod household;
pub(crate) mod period;
pub(crate) mod schedule;
pub(crate) mod seasonal;
pub(crate) mod tiered;
