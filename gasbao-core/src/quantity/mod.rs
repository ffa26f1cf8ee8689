//! Money, volume and unit price: newtypes over `Decimal` that keep their invariants.

mod money;
mod non_negative;

pub use money::Money;
pub use non_negative::{UnitPrice, Volume};

/// Parses a decimal number for `quantity`, keeping the offending text on failure.
fn parse_decimal(
    text: &str,
    quantity: crate::error::Quantity,
) -> Result<rust_decimal::Decimal, crate::error::QuantityError> {
    text.trim()
        .parse()
        .map_err(|_| crate::error::QuantityError::Unparsable {
            quantity,
            text: text.chars().take(64).collect(),
        })
}
