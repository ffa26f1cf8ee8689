//! The device sync state machine: the whole table, written from the
//! transitions the crate documents, and properties over random event runs.

use std::sync::{Arc, Mutex};

use gasbao_shadow::{ResolvedBy, SyncEvent, SyncMachine, SyncState, Transition};
use proptest::prelude::*;

use SyncEvent as E;
use SyncState::{Idle, OfflineCommitting, PendingSync, SyncConflict};

const MANUAL_EMPTY: SyncEvent = E::Resolved {
    by: ResolvedBy::Manual,
    queued: false,
};
const MANUAL_QUEUED: SyncEvent = E::Resolved {
    by: ResolvedBy::Manual,
    queued: true,
};
const AUTO_EMPTY: SyncEvent = E::Resolved {
    by: ResolvedBy::Automatic,
    queued: false,
};
const AUTO_QUEUED: SyncEvent = E::Resolved {
    by: ResolvedBy::Automatic,
    queued: true,
};

/// `None` marks a refusal.
fn expected(state: SyncState, event: SyncEvent) -> Option<SyncState> {
    let table: &[(SyncState, SyncEvent, Option<SyncState>)] = &[
        // local write -> PendingSync; while committing or in conflict it just queues.
        (Idle, E::LocalWrite, Some(PendingSync)),
        (PendingSync, E::LocalWrite, Some(PendingSync)),
        (OfflineCommitting, E::LocalWrite, Some(OfflineCommitting)),
        (SyncConflict, E::LocalWrite, Some(SyncConflict)),
        // network ready -> OfflineCommitting, when something waits.
        (Idle, E::NetworkReady, Some(Idle)),
        (PendingSync, E::NetworkReady, Some(OfflineCommitting)),
        (OfflineCommitting, E::NetworkReady, Some(OfflineCommitting)),
        (SyncConflict, E::NetworkReady, Some(SyncConflict)),
        (Idle, E::NetworkLost, Some(Idle)),
        (PendingSync, E::NetworkLost, Some(PendingSync)),
        (OfflineCommitting, E::NetworkLost, Some(PendingSync)),
        (SyncConflict, E::NetworkLost, Some(SyncConflict)),
        // all acknowledged -> Idle.
        (Idle, E::AllAcknowledged, None),
        (PendingSync, E::AllAcknowledged, None),
        (OfflineCommitting, E::AllAcknowledged, Some(Idle)),
        (SyncConflict, E::AllAcknowledged, Some(SyncConflict)),
        // timeout or conflict -> SyncConflict.
        (Idle, E::Timeout, None),
        (PendingSync, E::Timeout, None),
        (OfflineCommitting, E::Timeout, Some(SyncConflict)),
        (SyncConflict, E::Timeout, Some(SyncConflict)),
        (Idle, E::Conflict, None),
        (PendingSync, E::Conflict, None),
        (OfflineCommitting, E::Conflict, Some(SyncConflict)),
        (SyncConflict, E::Conflict, Some(SyncConflict)),
        // manual or automatic resolution -> Idle (PendingSync if writes still wait).
        (Idle, MANUAL_EMPTY, None),
        (PendingSync, MANUAL_EMPTY, None),
        (OfflineCommitting, MANUAL_EMPTY, None),
        (SyncConflict, MANUAL_EMPTY, Some(Idle)),
        (SyncConflict, AUTO_EMPTY, Some(Idle)),
        (SyncConflict, MANUAL_QUEUED, Some(PendingSync)),
        (SyncConflict, AUTO_QUEUED, Some(PendingSync)),
        (Idle, AUTO_QUEUED, None),
        (PendingSync, AUTO_QUEUED, None),
        (OfflineCommitting, AUTO_QUEUED, None),
        (Idle, MANUAL_QUEUED, None),
        (Idle, AUTO_EMPTY, None),
        (PendingSync, MANUAL_QUEUED, None),
        (PendingSync, AUTO_EMPTY, None),
        (OfflineCommitting, MANUAL_QUEUED, None),
        (OfflineCommitting, AUTO_EMPTY, None),
    ];
    let rows: Vec<_> = table.iter().filter(|(s, e, _)| *s == state && *e == event).collect();
    assert_eq!(
        rows.len(),
        1,
        "the test table must define ({state:?}, {event:?}) exactly once"
    );
    rows[0].2
}

#[test]
fn every_event_in_every_state_is_a_transition_or_a_refusal_as_tabled() {
    for state in SyncState::all() {
        for event in SyncEvent::all() {
            match (state.on(event), expected(state, event)) {
                (Ok(to), Some(expected)) => assert_eq!(to, expected, "{state:?} on {event:?}"),
                (Err(refusal), None) => {
                    assert_eq!((refusal.state, refusal.event), (state, event));
                    assert!(!refusal.reason.is_empty());
                }
                (got, want) => panic!("{state:?} on {event:?}: got {got:?}, the table says {want:?}"),
            }
        }
    }
}

fn any_event() -> impl Strategy<Value = SyncEvent> {
    proptest::sample::select(SyncEvent::all().collect::<Vec<_>>())
}

proptest! {
    /// Every accepted event is observed exactly once, in order; a refused
    /// one leaves the state alone and is not observed.
    #[test]
    fn observers_see_exactly_the_transitions_taken(events in proptest::collection::vec(any_event(), 0..64)) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let mut machine = SyncMachine::new().observe(move |t: &Transition| sink.lock().unwrap().push(*t));
        let mut taken = Vec::new();
        for event in events {
            let before = machine.state();
            match machine.handle(event) {
                Ok(transition) => {
                    prop_assert_eq!(transition.from, before);
                    prop_assert_eq!(transition.to, machine.state());
                    taken.push(transition);
                }
                Err(_) => prop_assert_eq!(machine.state(), before),
            }
        }
        prop_assert_eq!(&*seen.lock().unwrap(), &taken);
    }

    /// From any state reached, some sequence of events leads back to Idle.
    #[test]
    fn idle_is_always_reachable(events in proptest::collection::vec(any_event(), 0..64)) {
        let mut machine = SyncMachine::new();
        for event in events {
            let _ = machine.handle(event);
        }
        let way_home = [E::NetworkReady, E::AllAcknowledged, MANUAL_EMPTY, E::NetworkReady, E::AllAcknowledged];
        for event in way_home {
            let _ = machine.handle(event);
        }
        prop_assert_eq!(machine.state(), Idle);
    }
}
