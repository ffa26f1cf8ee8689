//! Parking and the operator: a branch that never acknowledges parks its
//! transaction after the retry budget; it is listed, survives a restart,
//! and each resolution ends it as documented.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use gasbao_core::Money;
use gasbao_tcc::simulation::Simulation;
use gasbao_tcc::{
    AccountId, BoxFuture, BranchCall, BranchId, CallOutcome, Coordinator, CoordinatorConfig, CoordinatorId, Decision,
    Event, GlobalTxId, MemoryLog, Observer, Outcome, Participant, Participants, Phase, Reservation, Resolution,
    ResolveError, RetryPolicy, Timestamp,
};

/// Answers every Try; answers Confirm only while `up`.
struct Metering {
    up: Arc<AtomicBool>,
}

impl Participant for Metering {
    type Request = Reservation<Money>;

    fn reserve<'a>(&'a self, _: BranchCall<'a, Self::Request>) -> BoxFuture<'a, CallOutcome> {
        Box::pin(async { CallOutcome::Succeeded })
    }

    fn confirm<'a>(&'a self, _: BranchCall<'a, Self::Request>) -> BoxFuture<'a, CallOutcome> {
        let up = self.up.load(Ordering::SeqCst);
        Box::pin(async move {
            if up {
                CallOutcome::Succeeded
            } else {
                CallOutcome::unknown("connection refused")
            }
        })
    }

    fn cancel<'a>(&'a self, _: BranchCall<'a, Self::Request>) -> BoxFuture<'a, CallOutcome> {
        Box::pin(async { CallOutcome::Succeeded })
    }
}

#[derive(Default)]
struct Recorded(std::sync::Mutex<Vec<String>>);

impl Observer for Recorded {
    fn observe(&self, event: &Event<'_>) {
        let line = match event {
            Event::Parked { gtid, parking } => format!("parked {gtid} at {} {}", parking.branch, parking.phase),
            Event::Recovered { gtid, rule } => format!("recovered {gtid} {rule:?}"),
            Event::Resolved { gtid, .. } => format!("resolved {gtid}"),
            Event::Finished { gtid, .. } => format!("finished {gtid}"),
            _ => return,
        };
        self.0.lock().expect("not poisoned").push(line);
    }
}

const BUDGET: Duration = Duration::from_secs(2);

async fn open(
    log: &MemoryLog,
    sim_env: gasbao_tcc::Environment,
    up: &Arc<AtomicBool>,
    events: &Arc<Recorded>,
) -> (Coordinator, gasbao_tcc::ParticipantRef<Reservation<Money>>) {
    let mut participants = Participants::new();
    let metering = participants
        .add("metering", Metering { up: Arc::clone(up) })
        .expect("one name");
    let retry = RetryPolicy::new(
        Duration::from_millis(100),
        Duration::from_millis(400),
        BUDGET,
        Duration::from_millis(50),
    );
    let observer: Arc<dyn Observer> = Arc::clone(events) as Arc<dyn Observer>;
    let config = CoordinatorConfig::new(CoordinatorId(2)).retry(retry);
    let coordinator = Coordinator::open(config, log.clone(), sim_env, participants, Some(observer))
        .await
        .expect("opens");
    (coordinator, metering)
}

/// Runs one charge with the metering service down until it parks.
fn parked_charge() -> (
    Simulation,
    MemoryLog,
    Arc<AtomicBool>,
    Arc<Recorded>,
    Coordinator,
    GlobalTxId,
) {
    let mut sim = Simulation::new(1, Timestamp::from_unix_millis(0));
    let (log, up, events) = (
        MemoryLog::new(),
        Arc::new(AtomicBool::new(false)),
        Arc::new(Recorded::default()),
    );
    let opened = {
        let (log, env, up, events) = (log.clone(), sim.environment(), Arc::clone(&up), Arc::clone(&events));
        sim.spawn(0, async move {
            let (coordinator, metering) = open(&log, env, &up, &events).await;
            let mut charge = coordinator.begin(Duration::from_secs(10));
            let request = Reservation {
                account: AccountId(1),
                amount: Money::from_fen(100),
            };
            charge.add_branch(&metering, &request).expect("a branch");
            let gtid = charge.gtid();
            let outcome = coordinator.run(charge).await.expect("runs");
            (coordinator, gtid, outcome)
        })
    };
    sim.run_until_idle();
    let (coordinator, gtid, outcome) = opened.take().expect("the charge ran");
    let Outcome::Parked { decision, parking } = outcome else {
        panic!("not parked: {outcome:?}")
    };
    assert_eq!(
        (decision, parking.branch, parking.phase),
        (Decision::Confirm, BranchId(0), Phase::Confirm)
    );
    assert_eq!(parking.last_answer, "unknown: connection refused");
    // Retried until the budget ran out: the parking time is at least 2 s after the decision.
    assert!(
        parking.at >= Timestamp::from_unix_millis(2_000),
        "parked at {}",
        parking.at
    );
    (sim, log, up, events, coordinator, gtid)
}

#[test]
fn a_parked_transaction_is_listed_and_survives_a_restart() {
    let (mut sim, log, up, events, coordinator, gtid) = parked_charge();
    let parked = coordinator.parked();
    assert_eq!(
        parked.iter().map(|p| (p.gtid, p.settled.clone())).collect::<Vec<_>>(),
        [(gtid, vec![false])]
    );
    drop(coordinator);
    let reopened = {
        let (log, env, up, events) = (log.clone(), sim.environment(), Arc::clone(&up), Arc::clone(&events));
        sim.spawn(0, async move {
            let (coordinator, _) = open(&log, env, &up, &events).await;
            let recovered = coordinator.recover().await;
            (coordinator, recovered.len())
        })
    };
    sim.run_until_idle();
    let (coordinator, recovered) = reopened.take().expect("reopened");
    assert_eq!(recovered, 0, "a parked transaction is not delivered again by itself");
    assert_eq!(coordinator.parked().len(), 1);
    let lines = events.0.lock().expect("not poisoned").clone();
    assert_eq!(
        lines,
        [
            format!("parked {gtid} at 0 Confirm"),
            format!("recovered {gtid} StaysParked")
        ]
    );
}

#[test]
fn each_resolution_ends_the_transaction_as_documented() {
    // (resolution, metering back up first?, outcome)
    let cases = [
        (Resolution::RetryNow, true, Outcome::Confirmed),
        (
            Resolution::AppliedByHand {
                note: "confirmed in the metering console".into(),
            },
            false,
            Outcome::Confirmed,
        ),
        (
            Resolution::ClosedByHand {
                note: "household moved out".into(),
            },
            false,
            Outcome::ClosedByHand,
        ),
    ];
    for (resolution, back_up, expected) in cases {
        let (mut sim, _log, up, events, coordinator, gtid) = parked_charge();
        up.store(back_up, Ordering::SeqCst);
        let resolved = {
            let (coordinator, resolution) = (coordinator.clone(), resolution.clone());
            sim.spawn(0, async move { coordinator.resolve(gtid, resolution).await })
        };
        sim.run_until_idle();
        let outcome = resolved
            .take()
            .expect("resolved")
            .expect("a parked transaction resolves");
        assert_eq!(outcome, expected, "{resolution:?}");
        assert_eq!(
            (coordinator.unfinished(), coordinator.parked().len()),
            (0, 0),
            "{resolution:?}"
        );
        let lines = events.0.lock().expect("not poisoned").clone();
        assert_eq!(
            lines[1..],
            [format!("resolved {gtid}"), format!("finished {gtid}")],
            "{resolution:?}"
        );
        // Resolving it again is refused: it is no longer parked.
        let again = sim.spawn(0, async move { coordinator.resolve(gtid, Resolution::RetryNow).await });
        sim.run_until_idle();
        assert!(matches!(again.take(), Some(Err(ResolveError::NotParked { gtid: g })) if g == gtid));
    }
}
