//! Money, volume and unit price: newtypes over `Decimal` that keep their invariants.

mod money;
mod non_negative;

pub use money::Money;
pub use non_negative::{UnitPrice, Volume};
