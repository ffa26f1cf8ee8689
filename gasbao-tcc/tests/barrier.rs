//! The barrier's cases, each worked out by hand: what a participant does
//! with a call given what it recorded before, and what it records.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use gasbao_tcc::{
    Admission, Barrier, BarrierRecord, BarrierRefusal, BarrierState, BarrierStore, BranchId, BranchKey, CoordinatorId,
    GlobalTxId, Phase, Timestamp,
};

#[derive(Default)]
struct Records(HashMap<BranchKey, BarrierRecord>);

impl BarrierStore for Records {
    type Error = Infallible;

    fn load_barrier(&mut self, key: BranchKey) -> Result<Option<BarrierRecord>, Infallible> {
        Ok(self.0.get(&key).copied())
    }

    fn store_barrier(&mut self, key: BranchKey, record: BarrierRecord) -> Result<(), Infallible> {
        self.0.insert(key, record);
        Ok(())
    }
}

const KEY: BranchKey = BranchKey {
    gtid: GlobalTxId {
        coordinator: CoordinatorId(1),
        number: 42,
    },
    branch: BranchId(1),
};
const DEADLINE: Timestamp = Timestamp::from_unix_millis(60_000);
const BEFORE: Timestamp = Timestamp::from_unix_millis(1_000);
const AFTER: Timestamp = Timestamp::from_unix_millis(60_000);

fn admit_all(calls: &[(Phase, Timestamp)]) -> (Vec<Admission>, Option<BarrierState>) {
    let barrier = Barrier::new(Duration::from_secs(3600));
    let mut records = Records::default();
    let admissions = calls
        .iter()
        .map(|(phase, now)| {
            let Ok(admission) = barrier.admit(&mut records, *phase, KEY, DEADLINE, *now);
            admission
        })
        .collect();
    (admissions, records.0.get(&KEY).map(|r| r.state))
}

use Admission::{AlreadyDone, Apply, EmptyRollback, Refused};
use Phase::{Cancel, Confirm, Try};

/// (case, calls with their arrival times, expected admissions, final record).
type Case = (
    &'static str,
    Vec<(Phase, Timestamp)>,
    Vec<Admission>,
    Option<BarrierState>,
);

#[test]
fn every_case_of_the_protocol() {
    let cancelled_untried = Some(BarrierState::Cancelled { tried: false });
    let cases: Vec<Case> = vec![
        (
            "normal confirm",
            vec![(Try, BEFORE), (Confirm, BEFORE)],
            vec![Apply, Apply],
            Some(BarrierState::Confirmed),
        ),
        (
            "normal cancel",
            vec![(Try, BEFORE), (Cancel, BEFORE)],
            vec![Apply, Apply],
            Some(BarrierState::Cancelled { tried: true }),
        ),
        (
            "empty rollback",
            vec![(Cancel, BEFORE)],
            vec![EmptyRollback],
            cancelled_untried,
        ),
        (
            "hanging Try after an empty rollback",
            vec![(Cancel, BEFORE), (Try, BEFORE)],
            vec![EmptyRollback, Refused(BarrierRefusal::TryAfterCancel)],
            cancelled_untried,
        ),
        (
            "Try after the deadline is fenced",
            vec![(Try, AFTER), (Cancel, AFTER)],
            vec![
                Refused(BarrierRefusal::TryAfterDeadline {
                    deadline: DEADLINE,
                    now: AFTER,
                }),
                AlreadyDone,
            ],
            cancelled_untried,
        ),
        (
            "duplicate Try",
            vec![(Try, BEFORE), (Try, BEFORE)],
            vec![Apply, AlreadyDone],
            Some(BarrierState::Tried),
        ),
        (
            "duplicate Try after the deadline, once reserved",
            vec![(Try, BEFORE), (Try, AFTER)],
            vec![Apply, AlreadyDone],
            Some(BarrierState::Tried),
        ),
        (
            "duplicate Confirm",
            vec![(Try, BEFORE), (Confirm, BEFORE), (Confirm, AFTER)],
            vec![Apply, Apply, AlreadyDone],
            Some(BarrierState::Confirmed),
        ),
        (
            "duplicate Cancel",
            vec![(Try, BEFORE), (Cancel, BEFORE), (Cancel, AFTER)],
            vec![Apply, Apply, AlreadyDone],
            Some(BarrierState::Cancelled { tried: true }),
        ),
        (
            "Confirm after Cancel refused",
            vec![(Try, BEFORE), (Cancel, BEFORE), (Confirm, BEFORE)],
            vec![Apply, Apply, Refused(BarrierRefusal::ConfirmAfterCancel)],
            Some(BarrierState::Cancelled { tried: true }),
        ),
        (
            "Cancel after Confirm refused",
            vec![(Try, BEFORE), (Confirm, BEFORE), (Cancel, BEFORE)],
            vec![Apply, Apply, Refused(BarrierRefusal::CancelAfterConfirm)],
            Some(BarrierState::Confirmed),
        ),
        (
            "Confirm without Try",
            vec![(Confirm, BEFORE)],
            vec![Refused(BarrierRefusal::ConfirmWithoutTry)],
            None,
        ),
        (
            "Try replayed after Confirm",
            vec![(Try, BEFORE), (Confirm, BEFORE), (Try, BEFORE)],
            vec![Apply, Apply, AlreadyDone],
            Some(BarrierState::Confirmed),
        ),
    ];
    for (name, calls, admissions, state) in cases {
        assert_eq!(admit_all(&calls), (admissions, state), "{name}");
    }
}

#[test]
fn a_call_with_another_deadline_than_recorded_is_refused() {
    let barrier = Barrier::new(Duration::ZERO);
    let mut records = Records::default();
    let Ok(first) = barrier.admit(&mut records, Try, KEY, DEADLINE, BEFORE);
    assert_eq!(first, Apply);
    let later = Timestamp::from_unix_millis(120_000);
    let Ok(second) = barrier.admit(&mut records, Confirm, KEY, later, BEFORE);
    assert_eq!(
        second,
        Refused(BarrierRefusal::DeadlineMismatch {
            recorded: DEADLINE,
            called: later
        })
    );
}

#[test]
fn cleanup_keeps_live_reservations_and_settled_records_within_grace() {
    let barrier = Barrier::new(Duration::from_secs(10));
    let record = |state| BarrierRecord {
        state,
        deadline: DEADLINE,
    };
    let grace_end = Timestamp::from_unix_millis(70_000);
    let just_after = Timestamp::from_unix_millis(70_001);
    // (state, now, removable): settled records go strictly after deadline + grace; Tried never.
    let cases = [
        (BarrierState::Tried, Timestamp::from_unix_millis(u64::MAX), false),
        (BarrierState::Confirmed, grace_end, false),
        (BarrierState::Confirmed, just_after, true),
        (BarrierState::Cancelled { tried: true }, just_after, true),
        (BarrierState::Cancelled { tried: false }, BEFORE, false),
        (BarrierState::Cancelled { tried: false }, just_after, true),
    ];
    for (state, now, removable) in cases {
        assert_eq!(barrier.may_remove(&record(state), now), removable, "{state:?} at {now}");
    }
}

#[test]
fn a_late_try_after_cleanup_is_still_refused() {
    // Cancel overtakes the Try (empty rollback), cleanup removes the fence
    // once it may, and the Try finally arrives: the deadline refuses it.
    let barrier = Barrier::new(Duration::from_secs(10));
    let mut records = Records::default();
    let Ok(cancel) = barrier.admit(&mut records, Cancel, KEY, DEADLINE, BEFORE);
    assert_eq!(cancel, EmptyRollback);
    let cleanup_at = Timestamp::from_unix_millis(70_001);
    records.0.retain(|_, record| !barrier.may_remove(record, cleanup_at));
    assert!(records.0.is_empty(), "the fence was due for removal");
    let late = Timestamp::from_unix_millis(70_002);
    let Ok(late_try) = barrier.admit(&mut records, Try, KEY, DEADLINE, late);
    assert_eq!(
        late_try,
        Refused(BarrierRefusal::TryAfterDeadline {
            deadline: DEADLINE,
            now: late
        })
    );
}
