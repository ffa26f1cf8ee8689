//! The result of billing: lines per tier and their total.

use serde::{Deserialize, Serialize};

use crate::quantity::{Money, UnitPrice, Volume};

/// One line of a bill: the volume that fell in one tier, its price and amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BillLine {
    /// 1-based tier number, as printed on bills.
    pub tier: usize,
    /// Volume billed in this tier.
    pub volume: Volume,
    /// The tier's price.
    pub price: UnitPrice,
    /// `volume x price`, rounded once to the fen.
    pub amount: Money,
}

/// A bill: one [`BillLine`] per tier touched, and a total that is exactly the
/// sum of the line amounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "BillRecord", into = "BillRecord")]
pub struct Bill {
    lines: Vec<BillLine>,
    total: Money,
}

impl Bill {
    /// `total` must be the sum of the lines' amounts; callers in this crate
    /// compute it while building the lines.
    pub(crate) fn from_parts(lines: Vec<BillLine>, total: Money) -> Bill {
        Bill { lines, total }
    }

    /// The lines, lowest tier first.
    #[must_use]
    pub fn lines(&self) -> &[BillLine] {
        &self.lines
    }

    /// The amount due: the sum of the line amounts.
    #[must_use]
    pub fn total(&self) -> Money {
        self.total
    }

    /// The billed volume: the sum of the line volumes.
    #[must_use]
    pub fn volume(&self) -> Volume {
        // The lines' volumes sum to a consumption that already fitted a Volume.
        self.lines
            .iter()
            .try_fold(Volume::ZERO, |sum, line| sum.checked_add(line.volume))
            .unwrap_or(Volume::ZERO)
    }
}

/// A stored bill, checked for consistency when read back.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BillRecord {
    lines: Vec<BillLine>,
    total: Money,
}

/// Why a stored [`Bill`] was refused: its total is not the sum of its lines.
#[derive(Debug, thiserror::Error)]
#[error("stored bill total {stored} differs from the sum of its line amounts")]
struct InconsistentBill {
    stored: Money,
}

impl TryFrom<BillRecord> for Bill {
    type Error = InconsistentBill;

    fn try_from(record: BillRecord) -> Result<Bill, InconsistentBill> {
        if Money::checked_sum(record.lines.iter().map(|l| l.amount)) != Some(record.total) {
            return Err(InconsistentBill { stored: record.total });
        }
        Ok(Bill::from_parts(record.lines, record.total))
    }
}

impl From<Bill> for BillRecord {
    fn from(bill: Bill) -> BillRecord {
        BillRecord {
            lines: bill.lines,
            total: bill.total,
        }
    }
}
