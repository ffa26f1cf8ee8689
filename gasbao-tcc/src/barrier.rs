//! The participant side of the protocol: idempotence, empty rollback and
//! anti-hanging, recorded in the participant's own local transaction.

use std::fmt;
use std::time::Duration;

use crate::ids::{BranchKey, Timestamp};
use crate::participant::Phase;

/// What a participant's barrier remembers of one branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarrierRecord {
    /// Where the branch stands.
    pub state: BarrierState,
    /// The global deadline the branch was called with.
    pub deadline: Timestamp,
}

/// Where one branch stands at a participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarrierState {
    /// Reserved; Confirm or Cancel will come.
    Tried,
    /// Confirmed: the reservation was made real.
    Confirmed,
    /// Cancelled. `tried` says whether there was a reservation to release;
    /// without one (an empty rollback, or a Try refused after the deadline)
    /// the record fences off any Try that arrives later.
    Cancelled {
        /// Whether a Try had reserved anything.
        tried: bool,
    },
}

/// The barrier's storage: implemented by the participant's local transaction
/// type, so that the barrier record commits or rolls back with the business
/// effect. A SQL participant implements it on its transaction handle (a
/// `barrier` table keyed by global transaction and branch); the reference
/// participants implement it on their journal record.
pub trait BarrierStore {
    /// What the store's reads and writes can fail with.
    type Error;

    /// The record kept for `key`, if any.
    ///
    /// # Errors
    ///
    /// Whatever the store fails with; the caller rolls its transaction back.
    fn load_barrier(&mut self, key: BranchKey) -> Result<Option<BarrierRecord>, Self::Error>;

    /// Keeps `record` for `key`, replacing any earlier one, in this local transaction.
    ///
    /// # Errors
    ///
    /// Whatever the store fails with; the caller rolls its transaction back.
    fn store_barrier(&mut self, key: BranchKey, record: BarrierRecord) -> Result<(), Self::Error>;
}

/// What a participant does with one call, decided by [`Barrier::admit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Admission {
    /// Apply the business effect in this local transaction and commit; the
    /// new barrier record is already in it. If the effect is refused (an
    /// insufficient balance), roll the whole local transaction back and
    /// answer [`CallOutcome::Failed`](crate::CallOutcome::Failed).
    Apply,
    /// An earlier delivery of the same call took effect: change nothing and
    /// answer [`CallOutcome::Succeeded`](crate::CallOutcome::Succeeded).
    AlreadyDone,
    /// A Cancel with no Try before it: commit (the record fences a late
    /// Try), apply nothing, answer `Succeeded`.
    EmptyRollback,
    /// Refused: commit (a Try refused after its deadline leaves a fence
    /// record), apply nothing, answer `Failed` with the reason.
    Refused(BarrierRefusal),
}

/// Why a barrier refused a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BarrierRefusal {
    /// A Try after its branch was cancelled: it would hang a reservation
    /// nobody releases.
    TryAfterCancel,
    /// A Try after the global deadline: the coordinator cancels by then.
    TryAfterDeadline {
        /// The deadline.
        deadline: Timestamp,
        /// When the Try arrived.
        now: Timestamp,
    },
    /// A Confirm of a cancelled branch.
    ConfirmAfterCancel,
    /// A Confirm of a branch with no Try recorded (never tried, or its
    /// record removed long after the deadline).
    ConfirmWithoutTry,
    /// A Cancel of a confirmed branch.
    CancelAfterConfirm,
    /// A call for a recorded branch with another deadline than its Try's.
    DeadlineMismatch {
        /// The recorded deadline.
        recorded: Timestamp,
        /// The call's.
        called: Timestamp,
    },
}

impl fmt::Display for BarrierRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BarrierRefusal::TryAfterCancel => f.write_str("Try after the branch was cancelled"),
            BarrierRefusal::TryAfterDeadline { deadline, now } => {
                write!(f, "Try at {now}, after the deadline {deadline}")
            }
            BarrierRefusal::ConfirmAfterCancel => f.write_str("Confirm of a cancelled branch"),
            BarrierRefusal::ConfirmWithoutTry => f.write_str("Confirm of a branch with no Try recorded"),
            BarrierRefusal::CancelAfterConfirm => f.write_str("Cancel of a confirmed branch"),
            BarrierRefusal::DeadlineMismatch { recorded, called } => {
                write!(f, "called with deadline {called}, recorded with {recorded}")
            }
        }
    }
}

/// Makes a participant's Try, Confirm and Cancel safe to deliver any number
/// of times, in any order.
///
/// | recorded \ call | Try | Confirm | Cancel |
/// |---|---|---|---|
/// | nothing | Apply (refused after the deadline, fenced) | refused: no Try (already done past deadline + grace: cleaned up) | empty rollback (fenced) |
/// | Tried | already done | Apply | Apply |
/// | Confirmed | already done | already done | refused |
/// | Cancelled | refused | refused | already done |
///
/// # Cleanup
///
/// Settled records (Confirmed or Cancelled) may be removed once
/// [`may_remove`](Self::may_remove) says so: after the deadline plus a
/// grace period. That never lets a late Try through, because a Try with no
/// record is refused once its deadline has passed. A Tried record is never
/// removable (it is a live reservation), so a Confirm re-delivered after
/// cleanup finds no record past the grace period and is answered as
/// already done; a re-delivered Cancel is an empty rollback. The grace
/// period must cover the clock skew between coordinator and participant.
///
/// # Examples
///
/// ```
/// use std::collections::HashMap;
/// use std::time::Duration;
/// use gasbao_tcc::*;
///
/// // A store that is a map; a SQL participant would use its transaction.
/// #[derive(Default)]
/// struct Records(HashMap<BranchKey, BarrierRecord>);
/// impl BarrierStore for Records {
///     type Error = std::convert::Infallible;
///     fn load_barrier(&mut self, key: BranchKey) -> Result<Option<BarrierRecord>, Self::Error> {
///         Ok(self.0.get(&key).copied())
///     }
///     fn store_barrier(&mut self, key: BranchKey, record: BarrierRecord) -> Result<(), Self::Error> {
///         self.0.insert(key, record);
///         Ok(())
///     }
/// }
///
/// let barrier = Barrier::new(Duration::from_secs(3600));
/// let key = BranchKey { gtid: GlobalTxId { coordinator: CoordinatorId(1), number: 7 }, branch: BranchId(0) };
/// let deadline = Timestamp::from_unix_millis(10_000);
/// let mut store = Records::default();
/// // The Cancel overtook its Try: nothing to release, and the Try is fenced off.
/// assert_eq!(barrier.admit(&mut store, Phase::Cancel, key, deadline, Timestamp::from_unix_millis(1_000))?, Admission::EmptyRollback);
/// assert_eq!(
///     barrier.admit(&mut store, Phase::Try, key, deadline, Timestamp::from_unix_millis(1_001))?,
///     Admission::Refused(BarrierRefusal::TryAfterCancel),
/// );
/// # Ok::<(), std::convert::Infallible>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Barrier {
    grace: Duration,
}

impl Barrier {
    /// A barrier whose settled records may be removed `grace` after their deadline.
    #[must_use]
    pub const fn new(grace: Duration) -> Barrier {
        Barrier { grace }
    }

    /// How long after its deadline a settled record is kept.
    #[must_use]
    pub const fn grace(&self) -> Duration {
        self.grace
    }

    /// Decides what to do with a `phase` call for `key`, and writes the new
    /// record into `store` (the caller's local transaction) when there is one.
    ///
    /// # Errors
    ///
    /// Whatever `store` fails with.
    pub fn admit<S: BarrierStore + ?Sized>(
        &self,
        store: &mut S,
        phase: Phase,
        key: BranchKey,
        deadline: Timestamp,
        now: Timestamp,
    ) -> Result<Admission, S::Error> {
        let recorded = store.load_barrier(key)?;
        let (admission, next) = self.decide(recorded, phase, deadline, now);
        if let Some(state) = next {
            store.store_barrier(key, BarrierRecord { state, deadline })?;
        }
        Ok(admission)
    }

    /// What [`admit`](Self::admit) does with a `phase` call given the
    /// `recorded` record: the admission, and the state to record if it changes.
    pub(crate) fn decide(
        &self,
        recorded: Option<BarrierRecord>,
        phase: Phase,
        deadline: Timestamp,
        now: Timestamp,
    ) -> (Admission, Option<BarrierState>) {
        if let Some(record) = recorded
            && record.deadline != deadline
        {
            let refusal = BarrierRefusal::DeadlineMismatch {
                recorded: record.deadline,
                called: deadline,
            };
            return (Admission::Refused(refusal), None);
        }
        match (recorded.map(|r| r.state), phase) {
            (None, Phase::Try) if now >= deadline => (
                Admission::Refused(BarrierRefusal::TryAfterDeadline { deadline, now }),
                Some(BarrierState::Cancelled { tried: false }),
            ),
            (None, Phase::Try) => (Admission::Apply, Some(BarrierState::Tried)),
            // A Tried record is never removed, so no record this late means a
            // Confirmed one was cleaned up: the Confirm took effect.
            (None, Phase::Confirm) if now > deadline.saturating_add(self.grace) => (Admission::AlreadyDone, None),
            (None, Phase::Confirm) => (Admission::Refused(BarrierRefusal::ConfirmWithoutTry), None),
            (None, Phase::Cancel) => (Admission::EmptyRollback, Some(BarrierState::Cancelled { tried: false })),
            (Some(BarrierState::Tried), Phase::Try) => (Admission::AlreadyDone, None),
            (Some(BarrierState::Tried), Phase::Confirm) => (Admission::Apply, Some(BarrierState::Confirmed)),
            (Some(BarrierState::Tried), Phase::Cancel) => {
                (Admission::Apply, Some(BarrierState::Cancelled { tried: true }))
            }
            (Some(BarrierState::Confirmed), Phase::Try | Phase::Confirm) => (Admission::AlreadyDone, None),
            (Some(BarrierState::Confirmed), Phase::Cancel) => {
                (Admission::Refused(BarrierRefusal::CancelAfterConfirm), None)
            }
            (Some(BarrierState::Cancelled { .. }), Phase::Try) => {
                (Admission::Refused(BarrierRefusal::TryAfterCancel), None)
            }
            (Some(BarrierState::Cancelled { .. }), Phase::Confirm) => {
                (Admission::Refused(BarrierRefusal::ConfirmAfterCancel), None)
            }
            (Some(BarrierState::Cancelled { .. }), Phase::Cancel) => (Admission::AlreadyDone, None),
        }
    }

    /// Whether `record` may be removed at `now` without letting a late Try
    /// through or a re-delivered Confirm or Cancel take effect again.
    #[must_use]
    pub fn may_remove(&self, record: &BarrierRecord, now: Timestamp) -> bool {
        let settled = !matches!(record.state, BarrierState::Tried);
        settled && now > record.deadline.saturating_add(self.grace)
    }
}
