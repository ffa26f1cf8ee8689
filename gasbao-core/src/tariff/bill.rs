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

/// A bill: one [`BillLine`] per tier touched, whose volumes sum exactly to the
/// billed volume and whose amounts sum exactly to the total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "BillRecord", into = "BillRecord")]
pub struct Bill {
    lines: Vec<BillLine>,
    total: Money,
    volume: Volume,
}

impl Bill {
    /// `total` and `volume` must be the sums of the lines' amounts and volumes;
    /// callers in this crate build them together.
    pub(crate) fn from_parts(lines: Vec<BillLine>, total: Money, volume: Volume) -> Bill {
        Bill { lines, total, volume }
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

    /// The billed volume, which the line volumes sum to.
    #[must_use]
    pub fn volume(&self) -> Volume {
        self.volume
    }
}

/// A stored bill, checked for consistency when read back.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BillRecord {
    lines: Vec<BillLine>,
    total: Money,
    volume: Volume,
}

/// Why a stored [`Bill`] was refused: a stored sum differs from its lines.
#[derive(Debug, thiserror::Error)]
enum InconsistentBill {
    #[error("stored bill total {0} differs from the sum of its line amounts")]
    Total(Money),
    #[error("stored bill volume {0} differs from the sum of its line volumes")]
    Volume(Volume),
}

impl TryFrom<BillRecord> for Bill {
    type Error = InconsistentBill;

    fn try_from(record: BillRecord) -> Result<Bill, InconsistentBill> {
        if Money::checked_sum(record.lines.iter().map(|l| l.amount)) != Some(record.total) {
            return Err(InconsistentBill::Total(record.total));
        }
        let volume = record
            .lines
            .iter()
            .try_fold(Volume::ZERO, |sum, l| sum.checked_add(l.volume));
        if volume != Some(record.volume) {
            return Err(InconsistentBill::Volume(record.volume));
        }
        Ok(Bill::from_parts(record.lines, record.total, record.volume))
    }
}

impl From<Bill> for BillRecord {
    fn from(bill: Bill) -> BillRecord {
        BillRecord {
            lines: bill.lines,
            total: bill.total,
            volume: bill.volume,
        }
    }
}
