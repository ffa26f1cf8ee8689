//! The reservation engine both reference participants share.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use gasbao_core::journal::{Durability, Journal, JournalOptions, Storage};
use rust_decimal::Decimal;

use crate::barrier::{Admission, Barrier, BarrierRecord, BarrierStore};
use crate::codec::{Decoder, Encoder};
use crate::env::BoxFuture;
use crate::env::Environment;
use crate::error::RequestDecodeError;
use crate::error::{LedgerError, LogError};
use crate::group_commit::{GroupCommit, SyncStrategy};
use crate::ids::BranchKey;
use crate::ledger::AccountId;
use crate::ledger::record::decode_decimal;
use crate::ledger::record::{FORMAT, LedgerRecord, SNAPSHOT_END, SNAPSHOT_START};
use crate::participant::{BranchCall, BranchRequest, CallOutcome, Participant, Phase};
use crate::snapshot::{SnapshotTags, replay_start};
use gasbao_core::{Money, Volume};

/// What a [`ReservationLedger`] holds: [`Money`] or gas [`Volume`]. Sealed.
pub trait Quantity: sealed::Sealed + Copy + Ord + fmt::Debug + fmt::Display + Send + Sync + 'static {
    /// Nothing.
    const ZERO: Self;
    /// `self + rhs`, or `None` if it does not fit.
    fn checked_add(self, rhs: Self) -> Option<Self>;
    /// `self - rhs`, or `None` if it does not fit (or, for a volume, is negative).
    fn checked_sub(self, rhs: Self) -> Option<Self>;
    /// The amount as a decimal.
    fn decimal(self) -> Decimal;
    /// The amount of `value`, if it is one.
    fn from_decimal(value: Decimal) -> Option<Self>;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for gasbao_core::Money {}
    impl Sealed for gasbao_core::Volume {}
}

impl Quantity for Money {
    const ZERO: Money = Money::ZERO;

    fn checked_add(self, rhs: Money) -> Option<Money> {
        Money::checked_add(self, rhs)
    }

    fn checked_sub(self, rhs: Money) -> Option<Money> {
        Money::checked_sub(self, rhs)
    }

    fn decimal(self) -> Decimal {
        self.yuan()
    }

    fn from_decimal(value: Decimal) -> Option<Money> {
        Some(Money::new(value))
    }
}

impl Quantity for Volume {
    const ZERO: Volume = Volume::ZERO;

    fn checked_add(self, rhs: Volume) -> Option<Volume> {
        Volume::checked_add(self, rhs)
    }

    fn checked_sub(self, rhs: Volume) -> Option<Volume> {
        Volume::checked_sub(self, rhs)
    }

    fn decimal(self) -> Decimal {
        self.value()
    }

    fn from_decimal(value: Decimal) -> Option<Volume> {
        Volume::new(value).ok()
    }
}

/// One account's balances. `available + frozen + consumed` changes only by
/// the opening balance and top-ups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Balance<Q> {
    /// What new Trys can reserve.
    pub available: Q,
    /// Reserved by Trys awaiting Confirm or Cancel.
    pub frozen: Q,
    /// Used by Confirms: money charged, gas delivered.
    pub consumed: Q,
}

/// Reserve `amount` on `account`: a [`ReservationLedger`]'s request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reservation<Q> {
    /// The household's account.
    pub account: AccountId,
    /// How much; must be positive.
    pub amount: Q,
}

/// Settings of a reference participant.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LedgerOptions {
    /// The journal's options; its durability is always buffered, made
    /// durable by `sync` before any answer.
    pub journal: JournalOptions,
    /// Who syncs.
    pub sync: SyncStrategy,
    /// The barrier, and how long settled records are kept after their deadline.
    pub barrier: Barrier,
}

impl Default for LedgerOptions {
    /// Default journal options, a sync thread, and barrier records kept a day past their deadline.
    fn default() -> LedgerOptions {
        LedgerOptions {
            journal: JournalOptions::default(),
            sync: SyncStrategy::Thread,
            barrier: Barrier::new(Duration::from_secs(24 * 3600)),
        }
    }
}

impl LedgerOptions {
    /// The same, with another sync strategy.
    #[must_use]
    pub fn sync(mut self, sync: SyncStrategy) -> LedgerOptions {
        self.sync = sync;
        self
    }

    /// The same, with another barrier.
    #[must_use]
    pub fn barrier(mut self, barrier: Barrier) -> LedgerOptions {
        self.barrier = barrier;
        self
    }

    /// The same, with other journal options.
    #[must_use]
    pub fn journal(mut self, journal: JournalOptions) -> LedgerOptions {
        self.journal = journal;
        self
    }
}

/// Balances per household account, as a TCC [`Participant`]: Try freezes
/// the amount (`available -= amount, frozen += amount`), Confirm consumes it
/// (`frozen -= amount, consumed += amount`), Cancel releases it (`frozen -=
/// amount, available += amount`). [`PrepaidLedger`](crate::PrepaidLedger) holds money,
/// [`GasQuota`](crate::GasQuota) gas.
///
/// Each call is one journal record holding the [`Barrier`]'s record and the
/// balance change, durable before the answer: a crash keeps both or
/// neither. Calls on any accounts share `fdatasync`s. A call that asks for
/// another account or amount than its branch was first called with is
/// refused, so a forged Confirm cannot take another branch's frozen money.
///
/// # Examples
///
/// ```
/// use gasbao_core::Money;
/// use gasbao_core::journal::MemoryStorage;
/// use gasbao_tcc::{AccountId, Environment, LedgerOptions, PrepaidLedger};
///
/// # let runtime = tokio::runtime::Builder::new_current_thread().build()?;
/// # runtime.block_on(async {
/// let ledger = PrepaidLedger::open(MemoryStorage::new(), &Environment::system(), LedgerOptions::default())?;
/// ledger.open_account(AccountId(7), Money::from_fen(10_000)).await?;
/// ledger.top_up(AccountId(7), Money::from_fen(500)).await?;
/// assert_eq!(ledger.balance(AccountId(7)).map(|b| b.available), Some(Money::from_fen(10_500)));
/// # Ok::<(), gasbao_tcc::LedgerError>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ReservationLedger<Q> {
    commit: GroupCommit,
    env: Environment,
    barrier: Barrier,
    state: Mutex<State<Q>>,
}

#[derive(Debug, Clone)]
struct State<Q> {
    accounts: BTreeMap<AccountId, Balance<Q>>,
    barriers: HashMap<BranchKey, Held<Q>>,
}

/// A barrier record, with the account and amount its branch was called
/// with: every later call of the branch must ask for the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Held<Q> {
    pub(crate) barrier: BarrierRecord,
    pub(crate) account: AccountId,
    pub(crate) amount: Q,
}

/// The local transaction of one call: reads the state, stages the barrier record.
struct LocalTransaction<'a, Q> {
    state: &'a State<Q>,
    staged: Option<(BranchKey, BarrierRecord)>,
}

impl<Q> BarrierStore for LocalTransaction<'_, Q> {
    type Error = Infallible;

    fn load_barrier(&mut self, key: BranchKey) -> Result<Option<BarrierRecord>, Infallible> {
        Ok(self.state.barriers.get(&key).map(|held| held.barrier))
    }

    fn store_barrier(&mut self, key: BranchKey, record: BarrierRecord) -> Result<(), Infallible> {
        self.staged = Some((key, record));
        Ok(())
    }
}

impl<Q: Quantity> ReservationLedger<Q> {
    /// Opens the ledger in `storage`, replaying its journal; `env` gives
    /// the clock a Try's deadline is checked against.
    ///
    /// # Errors
    ///
    /// [`LedgerError::Log`] if the journal cannot be opened or read, or
    /// holds records this ledger did not write; [`LedgerError::ReplayAt`] if
    /// a record does not apply.
    pub fn open(storage: impl Storage, env: &Environment, options: LedgerOptions) -> Result<Self, LedgerError> {
        let (journal, _) =
            Journal::open(storage, options.journal.durability(Durability::Buffered)).map_err(LogError::from)?;
        let state = replay(&journal)?;
        let commit = GroupCommit::new(journal, options.sync).map_err(|e| LogError::SyncThread(e.into()))?;
        Ok(ReservationLedger {
            commit,
            env: env.clone(),
            barrier: options.barrier,
            state: Mutex::new(state),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State<Q>> {
        // Changed only after its journal record is appended, by whole assignments.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The journal underneath.
    #[must_use]
    pub fn journal(&self) -> &Journal {
        self.commit.journal()
    }

    /// An account's balances, if it is open.
    #[must_use]
    pub fn balance(&self, account: AccountId) -> Option<Balance<Q>> {
        self.lock().accounts.get(&account).copied()
    }

    /// Every account's balances, by account.
    #[must_use]
    pub fn balances(&self) -> Vec<(AccountId, Balance<Q>)> {
        self.lock().accounts.iter().map(|(a, h)| (*a, *h)).collect()
    }

    /// How many barrier records are kept.
    #[must_use]
    pub fn barrier_records(&self) -> usize {
        self.lock().barriers.len()
    }

    /// The barrier record kept for a branch, if any.
    #[must_use]
    pub fn barrier_record(&self, key: BranchKey) -> Option<BarrierRecord> {
        self.lock().barriers.get(&key).map(|held| held.barrier)
    }

    /// Appends `record` if it applies to the state, applies it, and waits
    /// until it is durable.
    async fn change(&self, record: LedgerRecord<Q>) -> Result<(), LedgerError> {
        let through = {
            let mut state = self.lock();
            let change = state.prepare(&record)?;
            let seq = self.journal().append(&record.encode()).map_err(LogError::from)?;
            state.commit(change);
            seq + 1
        };
        self.commit.durable(through).await.map_err(LedgerError::Log)
    }

    /// Opens an account with `opening` available, durably.
    ///
    /// # Errors
    ///
    /// [`LedgerError::AccountExists`], [`LedgerError::NotPositive`] for a
    /// negative opening, [`LedgerError::Log`] if it could not be made durable.
    pub async fn open_account(&self, account: AccountId, opening: Q) -> Result<(), LedgerError> {
        self.change(LedgerRecord::Open { account, opening }).await
    }

    /// Adds `amount` to what is available, durably.
    ///
    /// # Errors
    ///
    /// [`LedgerError::UnknownAccount`], [`LedgerError::NotPositive`],
    /// [`LedgerError::Overflow`], [`LedgerError::Log`].
    pub async fn top_up(&self, account: AccountId, amount: Q) -> Result<(), LedgerError> {
        if amount <= Q::ZERO {
            return Err(LedgerError::NotPositive { account });
        }
        self.change(LedgerRecord::TopUp { account, amount }).await
    }

    /// Removes the settled barrier records past their deadline and grace
    /// period (see [`Barrier`]); returns how many.
    ///
    /// # Errors
    ///
    /// [`LedgerError::Log`] if the removal could not be made durable.
    pub async fn remove_settled_barriers(&self) -> Result<usize, LedgerError> {
        let now = self.env.now();
        let mut removable: Vec<BranchKey> = self
            .lock()
            .barriers
            .iter()
            .filter(|(_, held)| self.barrier.may_remove(&held.barrier, now))
            .map(|(key, _)| *key)
            .collect();
        // In key order, so that the same history writes the same bytes.
        removable.sort_unstable();
        let count = removable.len();
        if count > 0 {
            self.change(LedgerRecord::Removed(removable)).await?;
        }
        Ok(count)
    }

    /// Snapshots the balances and barrier records into the journal and
    /// removes the segments before the snapshot; returns how many.
    ///
    /// # Errors
    ///
    /// [`LedgerError::Log`] if the snapshot could not be written or the
    /// segments removed.
    pub async fn compact(&self) -> Result<usize, LedgerError> {
        let snapshot = {
            let state = self.lock();
            let mut records = vec![LedgerRecord::<Q>::SnapshotStart.encode()];
            for (account, holdings) in &state.accounts {
                records.push(
                    LedgerRecord::SnapshotAccount {
                        account: *account,
                        holdings: *holdings,
                    }
                    .encode(),
                );
            }
            let mut barriers: Vec<_> = state.barriers.iter().collect();
            barriers.sort_by_key(|(key, _)| **key);
            for (key, held) in barriers {
                records.push(LedgerRecord::SnapshotBarrier { key: *key, held: *held }.encode());
            }
            records.push(LedgerRecord::<Q>::SnapshotEnd.encode());
            self.journal()
                .append_batch(records.iter().map(Vec::as_slice))
                .map_err(LogError::from)?
        };
        self.commit.durable(snapshot.end).await.map_err(LedgerError::Log)?;
        Ok(self.journal().remove_before(snapshot.start).map_err(LogError::from)?)
    }

    /// One call of the protocol: the barrier decides, the effect and the
    /// barrier record go into one journal record, and the answer waits for it
    /// to be durable.
    async fn call(&self, phase: Phase, call: BranchCall<'_, Reservation<Q>>) -> CallOutcome {
        let Reservation { account, amount } = *call.request;
        let now = self.env.now();
        let key = call.key();
        let written = {
            let mut state = self.lock();
            if let Some(held) = state.barriers.get(&key)
                && (held.account, held.amount) != (account, amount)
            {
                // One branch, one request: a call asking for anything else is
                // forged or confused, and must not move another branch's money.
                return CallOutcome::failed(format!(
                    "{phase} of branch {key} asks for {amount} on account {account}; it was called with {} on account {}",
                    held.amount, held.account
                ));
            }
            let mut local = LocalTransaction {
                state: &state,
                staged: None,
            };
            let Ok(admission) = self.barrier.admit(&mut local, phase, key, call.deadline, now);
            let staged = local.staged;
            let (answer, apply) = match admission {
                Admission::Apply => (CallOutcome::Succeeded, true),
                Admission::AlreadyDone | Admission::EmptyRollback => (CallOutcome::Succeeded, false),
                Admission::Refused(refusal) => (CallOutcome::failed(refusal.to_string()), false),
            };
            if phase == Phase::Try && apply && amount <= Q::ZERO {
                return CallOutcome::failed(format!("the amount {amount} is not positive"));
            }
            let record = staged.map(|(key, barrier)| LedgerRecord::Branch {
                key,
                barrier,
                phase,
                applied: apply,
                account,
                amount,
            });
            let appended = match record {
                None => None,
                Some(record) => {
                    let change = match state.prepare(&record) {
                        Ok(change) => change,
                        // The effect is refused (an insufficient balance):
                        // the local transaction rolls back, barrier and all.
                        Err(refusal) => return CallOutcome::failed(refusal.to_string()),
                    };
                    match self.journal().append(&record.encode()) {
                        Ok(seq) => {
                            state.commit(change);
                            Some(seq)
                        }
                        Err(error) => {
                            return CallOutcome::unknown(format!("the ledger could not log the call: {error}"));
                        }
                    }
                }
            };
            // An answer that relies on an earlier record (already done)
            // waits for that record to be durable too.
            let through = appended.map_or_else(|| self.journal().next_seq(), |seq| seq + 1);
            (answer, through)
        };
        let (answer, through) = written;
        match self.commit.durable(through).await {
            Ok(()) => answer,
            Err(error) => CallOutcome::unknown(format!("the ledger could not make the call durable: {error}")),
        }
    }
}

impl<Q: Quantity> Participant for ReservationLedger<Q> {
    type Request = Reservation<Q>;

    fn reserve<'a>(&'a self, call: BranchCall<'a, Reservation<Q>>) -> BoxFuture<'a, CallOutcome> {
        Box::pin(self.call(Phase::Try, call))
    }

    fn confirm<'a>(&'a self, call: BranchCall<'a, Reservation<Q>>) -> BoxFuture<'a, CallOutcome> {
        Box::pin(self.call(Phase::Confirm, call))
    }

    fn cancel<'a>(&'a self, call: BranchCall<'a, Reservation<Q>>) -> BoxFuture<'a, CallOutcome> {
        Box::pin(self.call(Phase::Cancel, call))
    }
}

impl<Q: Quantity> fmt::Debug for ReservationLedger<Q> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("ReservationLedger")
            .field("accounts", &state.accounts.len())
            .field("barrier_records", &state.barriers.len())
            .finish_non_exhaustive()
    }
}

impl<Q: Quantity> BranchRequest for Reservation<Q> {
    fn encode(&self, out: &mut Vec<u8>) {
        let mut encoder = Encoder::default();
        encoder.u64(self.account.0);
        encoder.bytes.extend_from_slice(&self.amount.decimal().serialize());
        out.extend_from_slice(&encoder.bytes);
    }

    fn decode(bytes: &[u8]) -> Result<Reservation<Q>, RequestDecodeError> {
        let mut input = Decoder::new(bytes);
        let account = AccountId(input.u64("account").map_err(|_| RequestDecodeError::new("account"))?);
        let amount = decode_decimal(&mut input)
            .ok()
            .and_then(Q::from_decimal)
            .ok_or(RequestDecodeError::new("amount"))?;
        input
            .finish()
            .map_err(|_| RequestDecodeError::new("bytes after the amount"))?;
        Ok(Reservation { account, amount })
    }
}

/// What one record changes, worked out before anything is changed.
enum Change<Q> {
    Holdings(AccountId, Balance<Q>),
    Barrier {
        key: BranchKey,
        held: Held<Q>,
        holdings: Option<(AccountId, Balance<Q>)>,
    },
    Removed(Vec<BranchKey>),
}

impl<Q> Default for State<Q> {
    fn default() -> State<Q> {
        State {
            accounts: BTreeMap::new(),
            barriers: HashMap::new(),
        }
    }
}

impl<Q: Quantity> State<Q> {
    /// What `record` would change, or why it does not apply.
    fn prepare(&self, record: &LedgerRecord<Q>) -> Result<Change<Q>, LedgerError> {
        let holdings = |account: AccountId| {
            self.accounts
                .get(&account)
                .copied()
                .ok_or(LedgerError::UnknownAccount { account })
        };
        Ok(match record {
            LedgerRecord::Open { account, opening } => {
                if self.accounts.contains_key(account) {
                    return Err(LedgerError::AccountExists { account: *account });
                }
                if *opening < Q::ZERO {
                    return Err(LedgerError::NotPositive { account: *account });
                }
                let opened = Balance {
                    available: *opening,
                    frozen: Q::ZERO,
                    consumed: Q::ZERO,
                };
                Change::Holdings(*account, opened)
            }
            LedgerRecord::TopUp { account, amount } => {
                let mut topped_up = holdings(*account)?;
                topped_up.available = topped_up
                    .available
                    .checked_add(*amount)
                    .ok_or(LedgerError::Overflow { account: *account })?;
                Change::Holdings(*account, topped_up)
            }
            LedgerRecord::Branch {
                key,
                barrier,
                phase,
                applied,
                account,
                amount,
            } => Change::Barrier {
                key: *key,
                held: Held {
                    barrier: *barrier,
                    account: *account,
                    amount: *amount,
                },
                holdings: match applied {
                    true => Some((*account, effect(*phase, holdings(*account)?, *amount, *account)?)),
                    false => None,
                },
            },
            LedgerRecord::Removed(keys) => Change::Removed(keys.clone()),
            LedgerRecord::SnapshotStart
            | LedgerRecord::SnapshotAccount { .. }
            | LedgerRecord::SnapshotBarrier { .. }
            | LedgerRecord::SnapshotEnd => {
                return Err(LedgerError::Replay {
                    problem: "snapshot record out of place",
                });
            }
        })
    }

    fn commit(&mut self, change: Change<Q>) {
        match change {
            Change::Holdings(account, holdings) => {
                self.accounts.insert(account, holdings);
            }
            Change::Barrier { key, held, holdings } => {
                if let Some((account, holdings)) = holdings {
                    self.accounts.insert(account, holdings);
                }
                self.barriers.insert(key, held);
            }
            Change::Removed(keys) => {
                for key in keys {
                    self.barriers.remove(&key);
                }
            }
        }
    }
}

/// One phase's effect on an account's holdings.
fn effect<Q: Quantity>(
    phase: Phase,
    holdings: Balance<Q>,
    amount: Q,
    account: AccountId,
) -> Result<Balance<Q>, LedgerError> {
    let short = |have: Q| LedgerError::Insufficient {
        account,
        have: have.decimal(),
        need: amount.decimal(),
    };
    let overflow = LedgerError::Overflow { account };
    Ok(match phase {
        Phase::Try => Balance {
            available: holdings
                .available
                .checked_sub(amount)
                .filter(|free| *free >= Q::ZERO)
                .ok_or(short(holdings.available))?,
            frozen: holdings.frozen.checked_add(amount).ok_or(overflow)?,
            consumed: holdings.consumed,
        },
        Phase::Confirm => Balance {
            available: holdings.available,
            frozen: holdings
                .frozen
                .checked_sub(amount)
                .filter(|held| *held >= Q::ZERO)
                .ok_or(short(holdings.frozen))?,
            consumed: holdings.consumed.checked_add(amount).ok_or(overflow)?,
        },
        Phase::Cancel => Balance {
            available: holdings.available.checked_add(amount).ok_or(overflow)?,
            frozen: holdings
                .frozen
                .checked_sub(amount)
                .filter(|held| *held >= Q::ZERO)
                .ok_or(short(holdings.frozen))?,
            consumed: holdings.consumed,
        },
    })
}

const TAGS: SnapshotTags = SnapshotTags {
    format: FORMAT,
    start: SNAPSHOT_START,
    end: SNAPSHOT_END,
};

fn replay<Q: Quantity>(journal: &Journal) -> Result<State<Q>, LedgerError> {
    let from = replay_start(journal, &TAGS)?;
    let mut state = State::default();
    let mut building: Option<State<Q>> = None;
    for record in journal.read_from(from).map_err(LogError::from)? {
        let record = record.map_err(LogError::from)?;
        let seq = record.seq;
        let decoded = LedgerRecord::<Q>::decode(&record.payload).map_err(|source| LogError::Corrupt { seq, source })?;
        match (decoded, building.as_mut()) {
            (LedgerRecord::SnapshotStart, None) => building = Some(State::default()),
            (LedgerRecord::SnapshotAccount { account, holdings }, Some(next)) => {
                next.accounts.insert(account, holdings);
            }
            (LedgerRecord::SnapshotBarrier { key, held }, Some(next)) => {
                next.barriers.insert(key, held);
            }
            (LedgerRecord::SnapshotEnd, Some(_)) => state = building.take().unwrap_or_default(),
            (other, None) => {
                let change = state.prepare(&other).map_err(|error| LedgerError::ReplayAt {
                    seq,
                    source: Box::new(error),
                })?;
                state.commit(change);
            }
            // A snapshot cut off by a crash ends the journal: ignored.
            (_, Some(_)) => {
                return Err(LedgerError::ReplayAt {
                    seq,
                    source: Box::new(LedgerError::Replay {
                        problem: "snapshot record out of place",
                    }),
                });
            }
        }
    }
    Ok(state)
}
