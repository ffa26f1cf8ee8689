//! The embedded coordinator log, on a gasbao-core journal.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use gasbao_core::journal::{Durability, Journal, JournalOptions, Storage};

use crate::codec::{Decoder, Encoder, decode_entry, decode_live, encode_entry, encode_live};
use crate::env::BoxFuture;
use crate::error::{LogError, RecordDecodeError};
use crate::group_commit::{GroupCommit, SyncStrategy};
use crate::ids::CoordinatorId;
use crate::log::{CoordinatorLog, LogEntry, RecoveredLog};
use crate::snapshot::{SnapshotTags, replay_start};

/// The first byte of every record: its format version.
const FORMAT: u8 = 1;
const SNAPSHOT_START: u8 = 0x10;
const SNAPSHOT_LIVE: u8 = 0x11;
const SNAPSHOT_END: u8 = 0x12;
const TAGS: SnapshotTags = SnapshotTags {
    format: FORMAT,
    start: SNAPSHOT_START,
    end: SNAPSHOT_END,
};

/// A [`CoordinatorLog`] on a gasbao-core [`Journal`]: one record per entry,
/// group commit (concurrent transactions share each `fdatasync`), and
/// compaction that snapshots the live transactions and removes the
/// segments before the snapshot.
///
/// # Examples
///
/// ```
/// use gasbao_core::journal::{JournalOptions, MemoryStorage};
/// use gasbao_tcc::{JournalLog, SyncStrategy};
///
/// let log = JournalLog::open(MemoryStorage::new(), JournalOptions::default(), SyncStrategy::Inline)?;
/// # let _ = log;
/// # Ok::<(), gasbao_tcc::LogError>(())
/// ```
pub struct JournalLog {
    commit: GroupCommit,
    state: Mutex<RecoveredLog>,
}

impl JournalLog {
    /// Opens the log in `storage` and replays it. The journal's own
    /// options (integrity, segment size) are kept, but its durability is
    /// always [`Durability::Buffered`]: durability is this log's job, by
    /// `sync`.
    ///
    /// # Errors
    ///
    /// [`LogError::Open`] if the journal cannot be opened (another writer
    /// holds it, damage); [`LogError::Corrupt`] or [`LogError::Inconsistent`]
    /// for a record this crate did not write; [`LogError::MissingSnapshot`]
    /// if records were removed with no snapshot after them.
    pub fn open(storage: impl Storage, options: JournalOptions, sync: SyncStrategy) -> Result<JournalLog, LogError> {
        let (journal, _) = Journal::open(storage, options.durability(Durability::Buffered))?;
        let state = replay(&journal)?;
        let commit = GroupCommit::new(journal, sync).map_err(|e| LogError::SyncThread(Arc::new(e)))?;
        Ok(JournalLog {
            commit,
            state: Mutex::new(state),
        })
    }

    /// The journal underneath, to read, verify or anchor it.
    #[must_use]
    pub fn journal(&self) -> &Journal {
        self.commit.journal()
    }

    fn lock(&self) -> MutexGuard<'_, RecoveredLog> {
        // Entries are applied one at a time after they are appended; a panic
        // between two leaves a state the journal can rebuild.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for JournalLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JournalLog")
            .field("live", &self.lock().live.len())
            .field("journal", self.journal())
            .finish()
    }
}

impl CoordinatorLog for JournalLog {
    fn write<'a>(&'a self, entries: &'a [LogEntry], durable: bool) -> BoxFuture<'a, Result<(), LogError>> {
        Box::pin(async move {
            let through = {
                let mut state = self.lock();
                let payloads: Vec<Vec<u8>> = entries
                    .iter()
                    .map(|entry| {
                        let mut out = Encoder::default();
                        encode_entry(entry, out.u8(FORMAT));
                        out.bytes
                    })
                    .collect();
                // Applied first, so that a refused entry appends nothing.
                state.apply_all(entries)?;
                self.journal().append_batch(payloads.iter().map(Vec::as_slice))?.end
            };
            if durable {
                self.commit.durable(through).await?;
            }
            Ok(())
        })
    }

    fn recover(&self) -> BoxFuture<'_, Result<RecoveredLog, LogError>> {
        Box::pin(async move { Ok(self.lock().clone()) })
    }

    fn compact(&self) -> BoxFuture<'_, Result<u64, LogError>> {
        Box::pin(async move {
            let snapshot = {
                let state = self.lock();
                let mut records = Vec::with_capacity(state.live.len() + 2);
                let mut start = Encoder::default();
                start.u8(FORMAT).u8(SNAPSHOT_START);
                start.u32(u32::try_from(state.last_numbers.len()).unwrap_or(u32::MAX));
                for (coordinator, last) in &state.last_numbers {
                    start.u32(coordinator.0).u64(*last);
                }
                records.push(start.bytes);
                for tx in state.live.values() {
                    let mut live = Encoder::default();
                    encode_live(live.u8(FORMAT).u8(SNAPSHOT_LIVE), tx);
                    records.push(live.bytes);
                }
                records.push(vec![FORMAT, SNAPSHOT_END]);
                self.journal().append_batch(records.iter().map(Vec::as_slice))?
            };
            self.commit.durable(snapshot.end).await?;
            let removed = self.journal().remove_before(snapshot.start)?;
            Ok(u64::try_from(removed).unwrap_or(u64::MAX))
        })
    }
}

/// One record read back.
enum Read {
    Entry(LogEntry),
    SnapshotStart(RecoveredLog),
    SnapshotLive(Box<crate::log::LiveTransaction>),
    SnapshotEnd,
}

fn decode(payload: &[u8]) -> Result<Read, RecordDecodeError> {
    let mut input = Decoder::new(payload);
    if input.u8("format version")? != FORMAT {
        return Err(RecordDecodeError {
            what: "format version",
            offset: 0,
        });
    }
    let tag = input.u8("entry kind")?;
    let read = match tag {
        SNAPSHOT_START => {
            let mut state = RecoveredLog::default();
            for _ in 0..input.u32("coordinator count")? {
                let coordinator = CoordinatorId(input.u32("coordinator id")?);
                state.last_numbers.insert(coordinator, input.u64("last number")?);
            }
            Read::SnapshotStart(state)
        }
        SNAPSHOT_LIVE => Read::SnapshotLive(Box::new(decode_live(&mut input)?)),
        SNAPSHOT_END => Read::SnapshotEnd,
        _ => Read::Entry(decode_entry(tag, &mut input)?.ok_or(RecordDecodeError {
            what: "entry kind",
            offset: 1,
        })?),
    };
    input.finish()?;
    Ok(read)
}

/// Rebuilds the state from the newest complete snapshot onward (or from the
/// start, if there is none and nothing was removed).
fn replay(journal: &Journal) -> Result<RecoveredLog, LogError> {
    let from = replay_start(journal, &TAGS)?;
    let mut state = RecoveredLog::default();
    let mut building: Option<RecoveredLog> = None;
    for record in journal.read_from(from)? {
        let record = record?;
        let corrupt = |source| LogError::Corrupt {
            seq: record.seq,
            source,
        };
        match (decode(&record.payload).map_err(corrupt)?, building.as_mut()) {
            (Read::SnapshotStart(start), None) => building = Some(start),
            (Read::SnapshotLive(tx), Some(next)) => {
                if tx.parked.is_some() && tx.decision.is_none() {
                    return Err(LogError::Inconsistent {
                        gtid: tx.record.gtid,
                        problem: "parked before a decision",
                    });
                }
                next.live.insert(tx.record.gtid, *tx);
            }
            (Read::SnapshotEnd, Some(_)) => state = building.take().unwrap_or_default(),
            (Read::Entry(entry), None) => state.apply(&entry)?,
            // A snapshot cut off by a crash is ignored; anything else out of
            // place is not a journal this log wrote.
            (_, _) => {
                return Err(LogError::Corrupt {
                    seq: record.seq,
                    source: RecordDecodeError {
                        what: "snapshot record order",
                        offset: 1,
                    },
                });
            }
        }
    }
    Ok(state)
}
