//! The ledger's journal records.

use rust_decimal::Decimal;

use crate::barrier::{BarrierRecord, BarrierState};
use crate::codec::{Decoder, Encoder};
use crate::error::RecordDecodeError;
use crate::ids::{BranchId, BranchKey};
use crate::ledger::AccountId;
use crate::ledger::engine::{Balance, Held, Quantity};
use crate::participant::Phase;

pub(crate) const FORMAT: u8 = 1;
const OPEN: u8 = 1;
const TOP_UP: u8 = 2;
const BRANCH: u8 = 3;
const REMOVED: u8 = 4;
pub(crate) const SNAPSHOT_START: u8 = 0x10;
const SNAPSHOT_ACCOUNT: u8 = 0x11;
const SNAPSHOT_BARRIER: u8 = 0x12;
pub(crate) const SNAPSHOT_END: u8 = 0x13;

/// One change to a ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LedgerRecord<Q> {
    Open {
        account: AccountId,
        opening: Q,
    },
    TopUp {
        account: AccountId,
        amount: Q,
    },
    /// A call of one branch: the barrier's new record, and whether the
    /// phase's effect on `account` was applied with it.
    Branch {
        key: BranchKey,
        barrier: BarrierRecord,
        phase: Phase,
        applied: bool,
        account: AccountId,
        amount: Q,
    },
    /// Settled barrier records removed by cleanup.
    Removed(Vec<BranchKey>),
    SnapshotStart,
    SnapshotAccount {
        account: AccountId,
        holdings: Balance<Q>,
    },
    SnapshotBarrier {
        key: BranchKey,
        held: Held<Q>,
    },
    SnapshotEnd,
}

impl<Q: Quantity> LedgerRecord<Q> {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Encoder::default();
        out.u8(FORMAT);
        match self {
            LedgerRecord::Open { account, opening } => {
                out.u8(OPEN).u64(account.0);
                quantity(&mut out, *opening);
            }
            LedgerRecord::TopUp { account, amount } => {
                out.u8(TOP_UP).u64(account.0);
                quantity(&mut out, *amount);
            }
            LedgerRecord::Branch {
                key,
                barrier,
                phase,
                applied,
                account,
                amount,
            } => {
                out.u8(BRANCH).gtid(key.gtid).u16(key.branch.0);
                barrier_record(&mut out, barrier);
                out.phase(*phase).u8(u8::from(*applied)).u64(account.0);
                quantity(&mut out, *amount);
            }
            LedgerRecord::Removed(keys) => {
                out.u8(REMOVED).u32(u32::try_from(keys.len()).unwrap_or(u32::MAX));
                for key in keys {
                    out.gtid(key.gtid).u16(key.branch.0);
                }
            }
            LedgerRecord::SnapshotStart => {
                out.u8(SNAPSHOT_START);
            }
            LedgerRecord::SnapshotAccount { account, holdings } => {
                out.u8(SNAPSHOT_ACCOUNT).u64(account.0);
                quantity(&mut out, holdings.available);
                quantity(&mut out, holdings.frozen);
                quantity(&mut out, holdings.consumed);
            }
            LedgerRecord::SnapshotBarrier { key, held } => {
                out.u8(SNAPSHOT_BARRIER).gtid(key.gtid).u16(key.branch.0);
                barrier_record(&mut out, &held.barrier);
                out.u64(held.account.0);
                quantity(&mut out, held.amount);
            }
            LedgerRecord::SnapshotEnd => {
                out.u8(SNAPSHOT_END);
            }
        }
        out.bytes
    }

    pub(crate) fn decode(payload: &[u8]) -> Result<LedgerRecord<Q>, RecordDecodeError> {
        let mut input = Decoder::new(payload);
        if input.u8("format version")? != FORMAT {
            return Err(RecordDecodeError {
                what: "format version",
                offset: 0,
            });
        }
        let record = match input.u8("record kind")? {
            OPEN => LedgerRecord::Open {
                account: AccountId(input.u64("account")?),
                opening: read_quantity(&mut input)?,
            },
            TOP_UP => LedgerRecord::TopUp {
                account: AccountId(input.u64("account")?),
                amount: read_quantity(&mut input)?,
            },
            BRANCH => LedgerRecord::Branch {
                key: read_key(&mut input)?,
                barrier: read_barrier(&mut input)?,
                phase: input.phase()?,
                applied: match input.u8("applied flag")? {
                    0 => false,
                    1 => true,
                    _ => return Err(input.error("applied flag")),
                },
                account: AccountId(input.u64("account")?),
                amount: read_quantity(&mut input)?,
            },
            REMOVED => {
                let count = input.u32("removed count")?;
                let keys = (0..count).map(|_| read_key(&mut input)).collect::<Result<_, _>>()?;
                LedgerRecord::Removed(keys)
            }
            SNAPSHOT_START => LedgerRecord::SnapshotStart,
            SNAPSHOT_ACCOUNT => LedgerRecord::SnapshotAccount {
                account: AccountId(input.u64("account")?),
                holdings: Balance {
                    available: read_quantity(&mut input)?,
                    frozen: read_quantity(&mut input)?,
                    consumed: read_quantity(&mut input)?,
                },
            },
            SNAPSHOT_BARRIER => LedgerRecord::SnapshotBarrier {
                key: read_key(&mut input)?,
                held: Held {
                    barrier: read_barrier(&mut input)?,
                    account: AccountId(input.u64("account")?),
                    amount: read_quantity(&mut input)?,
                },
            },
            SNAPSHOT_END => LedgerRecord::SnapshotEnd,
            _ => return Err(input.error("record kind")),
        };
        input.finish()?;
        Ok(record)
    }
}

fn quantity<Q: Quantity>(out: &mut Encoder, value: Q) {
    out.bytes.extend_from_slice(&value.decimal().serialize());
}

fn read_quantity<Q: Quantity>(input: &mut Decoder<'_>) -> Result<Q, RecordDecodeError> {
    decode_decimal(input)
        .ok()
        .and_then(Q::from_decimal)
        .ok_or(input.error("amount"))
}

/// A `Decimal` as `Decimal::serialize` wrote it, checked: any 16 bytes
/// would otherwise be taken.
pub(crate) fn decode_decimal(input: &mut Decoder<'_>) -> Result<Decimal, RecordDecodeError> {
    let mut bytes = [0; 16];
    for byte in &mut bytes {
        *byte = input.u8("amount")?;
    }
    // rust_decimal's layout: flags (scale in byte 2, up to 28; sign in the top
    // bit of byte 3; the rest zero), then the 96-bit mantissa.
    let valid_flags = bytes[0] == 0 && bytes[1] == 0 && bytes[2] <= 28 && bytes[3] & 0x7F == 0;
    if !valid_flags {
        return Err(input.error("amount"));
    }
    Ok(Decimal::deserialize(bytes))
}

fn read_key(input: &mut Decoder<'_>) -> Result<BranchKey, RecordDecodeError> {
    Ok(BranchKey {
        gtid: input.gtid()?,
        branch: BranchId(input.u16("branch")?),
    })
}

fn barrier_record(out: &mut Encoder, record: &BarrierRecord) {
    out.u8(match record.state {
        BarrierState::Tried => 1,
        BarrierState::Confirmed => 2,
        BarrierState::Cancelled { tried: true } => 3,
        BarrierState::Cancelled { tried: false } => 4,
    })
    .timestamp(record.deadline);
}

fn read_barrier(input: &mut Decoder<'_>) -> Result<BarrierRecord, RecordDecodeError> {
    let state = match input.u8("barrier state")? {
        1 => BarrierState::Tried,
        2 => BarrierState::Confirmed,
        3 => BarrierState::Cancelled { tried: true },
        4 => BarrierState::Cancelled { tried: false },
        _ => return Err(input.error("barrier state")),
    };
    Ok(BarrierRecord {
        state,
        deadline: input.timestamp("deadline")?,
    })
}
