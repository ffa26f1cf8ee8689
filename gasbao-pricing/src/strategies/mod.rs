//! The built-in strategies, one per kind of source.

pub(crate) mod fixed;
pub(crate) mod lng;
pub(crate) mod pipeline;
pub(crate) mod sng;
