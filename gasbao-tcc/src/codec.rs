//! Little-endian encoding of the coordinator's log entries, with a reader
//! that names what it could not read and where.

use std::sync::Arc;

use crate::error::RecordDecodeError;
use crate::ids::{BranchId, CoordinatorId, GlobalTxId, Timestamp};
use crate::log::{
    BranchRecord, CancelReason, Decision, LiveTransaction, LogEntry, Parking, Resolution, TransactionRecord,
};
use crate::participant::Phase;

/// Appends little-endian fields to a buffer.
#[derive(Debug, Default)]
pub(crate) struct Encoder {
    pub(crate) bytes: Vec<u8>,
}

impl Encoder {
    pub(crate) fn u8(&mut self, value: u8) -> &mut Self {
        self.bytes.push(value);
        self
    }

    pub(crate) fn u16(&mut self, value: u16) -> &mut Self {
        self.bytes.extend_from_slice(&value.to_le_bytes());
        self
    }

    pub(crate) fn u32(&mut self, value: u32) -> &mut Self {
        self.bytes.extend_from_slice(&value.to_le_bytes());
        self
    }

    pub(crate) fn u64(&mut self, value: u64) -> &mut Self {
        self.bytes.extend_from_slice(&value.to_le_bytes());
        self
    }

    pub(crate) fn bytes(&mut self, value: &[u8]) -> &mut Self {
        // Lengths are bounded by the journal's 64 MiB record limit.
        self.u32(u32::try_from(value.len()).unwrap_or(u32::MAX));
        self.bytes.extend_from_slice(value);
        self
    }

    pub(crate) fn str(&mut self, value: &str) -> &mut Self {
        self.bytes(value.as_bytes())
    }

    pub(crate) fn gtid(&mut self, gtid: GlobalTxId) -> &mut Self {
        self.u32(gtid.coordinator.0).u64(gtid.number)
    }

    pub(crate) fn timestamp(&mut self, at: Timestamp) -> &mut Self {
        self.u64(at.unix_millis())
    }

    pub(crate) fn phase(&mut self, phase: Phase) -> &mut Self {
        self.u8(match phase {
            Phase::Try => 0,
            Phase::Confirm => 1,
            Phase::Cancel => 2,
        })
    }
}

/// Reads what [`Encoder`] wrote; every failure says what and at which offset.
#[derive(Debug)]
pub(crate) struct Decoder<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Decoder<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Decoder<'a> {
        Decoder { bytes, offset: 0 }
    }

    pub(crate) fn error(&self, what: &'static str) -> RecordDecodeError {
        RecordDecodeError {
            what,
            offset: self.offset,
        }
    }

    fn take(&mut self, len: usize, what: &'static str) -> Result<&'a [u8], RecordDecodeError> {
        let end = self.offset.checked_add(len).filter(|end| *end <= self.bytes.len());
        let Some(end) = end else {
            return Err(self.error(what));
        };
        let taken = &self.bytes[self.offset..end];
        self.offset = end;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], RecordDecodeError> {
        let mut array = [0; N];
        array.copy_from_slice(self.take(N, what)?);
        Ok(array)
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, RecordDecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, RecordDecodeError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, RecordDecodeError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64, RecordDecodeError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    pub(crate) fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], RecordDecodeError> {
        let len = self.u32(what)?;
        self.take(usize::try_from(len).map_err(|_| self.error(what))?, what)
    }

    pub(crate) fn string(&mut self, what: &'static str) -> Result<String, RecordDecodeError> {
        let start = self.offset;
        let bytes = self.bytes(what)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| RecordDecodeError { what, offset: start })
    }

    pub(crate) fn gtid(&mut self) -> Result<GlobalTxId, RecordDecodeError> {
        Ok(GlobalTxId {
            coordinator: CoordinatorId(self.u32("coordinator id")?),
            number: self.u64("transaction number")?,
        })
    }

    pub(crate) fn timestamp(&mut self, what: &'static str) -> Result<Timestamp, RecordDecodeError> {
        Ok(Timestamp::from_unix_millis(self.u64(what)?))
    }

    pub(crate) fn phase(&mut self) -> Result<Phase, RecordDecodeError> {
        match self.u8("phase")? {
            0 => Ok(Phase::Try),
            1 => Ok(Phase::Confirm),
            2 => Ok(Phase::Cancel),
            _ => Err(self.error("phase")),
        }
    }

    pub(crate) fn finish(&self) -> Result<(), RecordDecodeError> {
        if self.offset == self.bytes.len() {
            Ok(())
        } else {
            Err(self.error("end of record"))
        }
    }
}

const BEGAN: u8 = 1;
const DECIDED: u8 = 2;
const SETTLED: u8 = 3;
const PARKED: u8 = 4;
const RESOLVED: u8 = 5;
const FINISHED: u8 = 6;

pub(crate) fn encode_entry(entry: &LogEntry, out: &mut Encoder) {
    match entry {
        LogEntry::Began(record) => encode_record(out.u8(BEGAN), record),
        LogEntry::Decided { gtid, decision } => encode_decision(out.u8(DECIDED).gtid(*gtid), decision),
        LogEntry::Settled { gtid, branch } => {
            out.u8(SETTLED).gtid(*gtid).u16(branch.0);
        }
        LogEntry::Parked { gtid, parking } => encode_parking(out.u8(PARKED).gtid(*gtid), parking),
        LogEntry::Resolved { gtid, resolution, at } => {
            out.u8(RESOLVED).gtid(*gtid).timestamp(*at);
            match resolution {
                Resolution::RetryNow => out.u8(0),
                Resolution::AppliedByHand { note } => out.u8(1).str(note),
                Resolution::ClosedByHand { note } => out.u8(2).str(note),
            };
        }
        LogEntry::Finished { gtid } => {
            out.u8(FINISHED).gtid(*gtid);
        }
    }
}

/// Reads one entry whose tag byte is `tag`; `None` for a tag that is not an entry's.
pub(crate) fn decode_entry(tag: u8, input: &mut Decoder<'_>) -> Result<Option<LogEntry>, RecordDecodeError> {
    Ok(Some(match tag {
        BEGAN => LogEntry::Began(Arc::new(decode_record(input)?)),
        DECIDED => LogEntry::Decided {
            gtid: input.gtid()?,
            decision: decode_decision(input)?,
        },
        SETTLED => LogEntry::Settled {
            gtid: input.gtid()?,
            branch: BranchId(input.u16("branch")?),
        },
        PARKED => LogEntry::Parked {
            gtid: input.gtid()?,
            parking: decode_parking(input)?,
        },
        RESOLVED => {
            let gtid = input.gtid()?;
            let at = input.timestamp("resolution time")?;
            let resolution = match input.u8("resolution")? {
                0 => Resolution::RetryNow,
                1 => Resolution::AppliedByHand {
                    note: input.string("note")?,
                },
                2 => Resolution::ClosedByHand {
                    note: input.string("note")?,
                },
                _ => return Err(input.error("resolution")),
            };
            LogEntry::Resolved { gtid, resolution, at }
        }
        FINISHED => LogEntry::Finished { gtid: input.gtid()? },
        _ => return Ok(None),
    }))
}

pub(crate) fn encode_record(out: &mut Encoder, record: &TransactionRecord) {
    out.gtid(record.gtid).timestamp(record.began).timestamp(record.deadline);
    // Branch counts are bounded by `BranchId` being a u16.
    out.u16(u16::try_from(record.branches.len()).unwrap_or(u16::MAX));
    for branch in &record.branches {
        out.str(&branch.participant).bytes(&branch.request);
    }
}

pub(crate) fn decode_record(input: &mut Decoder<'_>) -> Result<TransactionRecord, RecordDecodeError> {
    let gtid = input.gtid()?;
    let began = input.timestamp("begin time")?;
    let deadline = input.timestamp("deadline")?;
    let count = input.u16("branch count")?;
    let branches = (0..count)
        .map(|_| {
            Ok(BranchRecord {
                participant: input.string("participant name")?.into(),
                request: input.bytes("request")?.to_vec(),
            })
        })
        .collect::<Result<_, RecordDecodeError>>()?;
    Ok(TransactionRecord {
        gtid,
        began,
        deadline,
        branches,
    })
}

pub(crate) fn encode_decision(out: &mut Encoder, decision: &Decision) {
    match decision {
        Decision::Confirm => {
            out.u8(0);
        }
        Decision::Cancel(CancelReason::TryRefused { branch, reason }) => {
            out.u8(1).u16(branch.0).str(reason);
        }
        Decision::Cancel(CancelReason::DeadlinePassed { branch }) => {
            out.u8(2).u16(branch.0);
        }
        Decision::Cancel(CancelReason::Recovered) => {
            out.u8(3);
        }
    }
}

pub(crate) fn decode_decision(input: &mut Decoder<'_>) -> Result<Decision, RecordDecodeError> {
    Ok(match input.u8("decision")? {
        0 => Decision::Confirm,
        1 => Decision::Cancel(CancelReason::TryRefused {
            branch: BranchId(input.u16("branch")?),
            reason: input.string("refusal")?,
        }),
        2 => Decision::Cancel(CancelReason::DeadlinePassed {
            branch: BranchId(input.u16("branch")?),
        }),
        3 => Decision::Cancel(CancelReason::Recovered),
        _ => return Err(input.error("decision")),
    })
}

pub(crate) fn encode_parking(out: &mut Encoder, parking: &Parking) {
    out.u16(parking.branch.0)
        .phase(parking.phase)
        .u32(parking.attempts)
        .str(&parking.last_answer)
        .timestamp(parking.at);
}

pub(crate) fn decode_parking(input: &mut Decoder<'_>) -> Result<Parking, RecordDecodeError> {
    Ok(Parking {
        branch: BranchId(input.u16("branch")?),
        phase: input.phase()?,
        attempts: input.u32("attempts")?,
        last_answer: input.string("last answer")?,
        at: input.timestamp("parking time")?,
    })
}

/// A live transaction whole, for a compaction snapshot.
pub(crate) fn encode_live(out: &mut Encoder, tx: &LiveTransaction) {
    encode_record(out, &tx.record);
    match &tx.decision {
        None => {
            out.u8(0);
        }
        Some(decision) => encode_decision(out.u8(1), decision),
    }
    for settled in &tx.settled {
        out.u8(u8::from(*settled));
    }
    match &tx.parked {
        None => {
            out.u8(0);
        }
        Some(parking) => encode_parking(out.u8(1), parking),
    }
}

pub(crate) fn decode_live(input: &mut Decoder<'_>) -> Result<LiveTransaction, RecordDecodeError> {
    let record = Arc::new(decode_record(input)?);
    let decision = match input.u8("decision flag")? {
        0 => None,
        1 => Some(decode_decision(input)?),
        _ => return Err(input.error("decision flag")),
    };
    let settled = (0..record.branches.len())
        .map(|_| match input.u8("settled flag")? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(input.error("settled flag")),
        })
        .collect::<Result<_, _>>()?;
    let parked = match input.u8("parked flag")? {
        0 => None,
        1 => Some(decode_parking(input)?),
        _ => return Err(input.error("parked flag")),
    };
    Ok(LiveTransaction {
        record,
        decision,
        settled,
        parked,
    })
}
