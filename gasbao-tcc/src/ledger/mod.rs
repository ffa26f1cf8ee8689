//! Reference participants: balances that a Try holds, a Confirm uses and a
//! Cancel frees, durable on a gasbao-core journal, with the barrier record
//! and the balance change in one journal record.

mod engine;
mod record;

use std::fmt;

pub use engine::{Balance, LedgerOptions, Quantity, Reservation, ReservationLedger};

/// Prepaid money per household: Try freezes a charge, Confirm takes it.
pub type PrepaidLedger = ReservationLedger<gasbao_core::Money>;
/// Gas quota per household: Try reserves a volume, Confirm delivers it.
pub type GasQuota = ReservationLedger<gasbao_core::Volume>;

/// A household's account number, at the account service and the metering service alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(pub u64);

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
