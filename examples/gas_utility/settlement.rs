//! Settlement: each bill charged against the household's prepaid balance
//! and its gas quota with a TCC global transaction, through an account
//! service that drops calls now and then.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use gasbao::core::journal::{FileStorage, JournalOptions};
use gasbao::core::{Money, Volume};
use gasbao::tcc::{
    AccountId, BoxFuture, BranchCall, CallOutcome, CancelReason, Coordinator, CoordinatorConfig, CoordinatorId,
    Decision, Environment, Event, GasQuota, JournalLog, LedgerOptions, Observer, Outcome, Participant, ParticipantRef,
    Participants, PrepaidLedger, Reservation, RetryPolicy, SyncStrategy,
};

use crate::Failure;
use crate::audit::{Audit, AuditRecord};
use crate::billing::Bill;
use crate::meters::Meter;

/// The coordinator and the two services it settles with, on disk.
#[derive(Clone)]
pub(crate) struct Settlement {
    pub(crate) coordinator: Coordinator,
    pub(crate) ledger: Arc<PrepaidLedger>,
    pub(crate) quota: Arc<GasQuota>,
    accounts: ParticipantRef<Reservation<Money>>,
    metering: ParticipantRef<Reservation<Volume>>,
    audit: Audit,
    /// Calls retried after an unknown answer.
    pub(crate) retries: Arc<AtomicU64>,
}

impl Settlement {
    /// Opens the ledgers and the coordinator under `data_dir`; every
    /// decision the coordinator makes durable is also written to `audit`.
    pub(crate) async fn open(data_dir: &Path, audit: &Audit, drop_one_in: u64) -> Result<Settlement, Failure> {
        let env = Environment::system();
        let storage = |name: &str| -> Result<FileStorage, Failure> { Ok(FileStorage::new(data_dir.join(name))?) };
        let ledger = Arc::new(PrepaidLedger::open(
            storage("accounts")?,
            &env,
            LedgerOptions::default(),
        )?);
        let quota = Arc::new(GasQuota::open(storage("metering")?, &env, LedgerOptions::default())?);
        let mut participants = Participants::new();
        let accounts = participants.add("accounts", Unreliable::new(Arc::clone(&ledger), drop_one_in))?;
        let metering = participants.add("metering", Arc::clone(&quota))?;
        let retry = RetryPolicy::new(
            Duration::from_millis(5),
            Duration::from_millis(80),
            Duration::from_secs(5),
            Duration::from_millis(500),
        );
        let log = JournalLog::open(storage("coordinator")?, JournalOptions::default(), SyncStrategy::Thread)?;
        let config = CoordinatorConfig::new(CoordinatorId(1)).retry(retry);
        let retries = Arc::new(AtomicU64::new(0));
        let observer: Arc<dyn Observer> = Arc::new(AuditDecisions(audit.clone(), Arc::clone(&retries)));
        let coordinator = Coordinator::open(config, log, env, participants, Some(observer)).await?;
        Ok(Settlement {
            coordinator,
            ledger,
            quota,
            accounts,
            metering,
            audit: audit.clone(),
            retries,
        })
    }

    /// Opens every account with its prepaid balance and gas quota (first start only).
    pub(crate) async fn open_accounts(&self, meters: &[Meter], quota_m3: u64) -> Result<(), Failure> {
        for meter in meters {
            let account = AccountId(u64::from(meter.id));
            self.ledger
                .open_account(account, Money::from_fen(meter.opening_fen))
                .await?;
            let quota = if meter.commercial { quota_m3 * 50 } else { quota_m3 };
            self.quota.open_account(account, Volume::from_whole_m3(quota)).await?;
        }
        Ok(())
    }

    /// Charges `bill`: records the intent, then freezes the amount due and
    /// reserves the gas, and makes both real or releases both.
    pub(crate) async fn charge(&self, bill: &Bill) -> Result<Outcome, Failure> {
        let mut charge = self.coordinator.begin(Duration::from_secs(30));
        let account = AccountId(bill.account);
        charge.add_branch(
            &self.accounts,
            &Reservation {
                account,
                amount: bill.due(),
            },
        )?;
        charge.add_branch(
            &self.metering,
            &Reservation {
                account,
                amount: Volume::from_milli_m3(bill.gas_milli_m3),
            },
        )?;
        // Written before the transaction is: after a crash, an intent
        // without a decision is a charge that never started.
        self.audit.append(&AuditRecord::Intent {
            account: bill.account,
            gtid: charge.gtid().to_string(),
        })?;
        Ok(self.coordinator.run(charge).await?)
    }
}

/// Writes each durable decision to the audit journal before phase two
/// runs, and counts calls that must be made again.
struct AuditDecisions(Audit, Arc<AtomicU64>);

impl Observer for AuditDecisions {
    fn observe(&self, event: &Event<'_>) {
        if let Event::Retrying { .. } = event {
            self.1.fetch_add(1, Ordering::Relaxed);
        }
        if let Event::Decided { gtid, decision } = event {
            let (confirm, reason) = match decision {
                Decision::Confirm => (true, String::new()),
                Decision::Cancel(reason) => (false, cancel_reason(reason)),
                other => (false, format!("{other}")),
            };
            let record = AuditRecord::Decided {
                gtid: gtid.to_string(),
                confirm,
                reason,
            };
            // An observer cannot refuse; a failed audit write stops the run
            // at its next append, which fails the same way.
            if let Err(error) = self.0.append(&record) {
                eprintln!("audit: cannot record the decision of {gtid}: {error}");
            }
        }
    }
}

/// A short, stable name for why a charge was cancelled.
pub(crate) fn cancel_reason(reason: &CancelReason) -> String {
    match reason {
        CancelReason::TryRefused { .. } => "refused".into(),
        CancelReason::DeadlinePassed { .. } => "deadline".into(),
        CancelReason::Recovered => "recovered".into(),
        other => format!("{other:?}"),
    }
}

/// A participant behind a network that loses one call in `one_in`: the
/// call may or may not have reached it, and the coordinator must cope.
struct Unreliable<P> {
    inner: Arc<P>,
    one_in: u64,
    calls: AtomicU64,
}

impl<P> Unreliable<P> {
    fn new(inner: Arc<P>, one_in: u64) -> Unreliable<P> {
        Unreliable {
            inner,
            one_in,
            calls: AtomicU64::new(0),
        }
    }

    fn lost(&self) -> bool {
        self.calls.fetch_add(1, Ordering::Relaxed) % self.one_in == self.one_in - 1
    }
}

impl<P: Participant> Participant for Unreliable<P> {
    type Request = P::Request;

    fn reserve<'a>(&'a self, call: BranchCall<'a, P::Request>) -> BoxFuture<'a, CallOutcome> {
        if self.lost() {
            Box::pin(async { CallOutcome::unknown("connection reset") })
        } else {
            self.inner.reserve(call)
        }
    }

    fn confirm<'a>(&'a self, call: BranchCall<'a, P::Request>) -> BoxFuture<'a, CallOutcome> {
        if self.lost() {
            Box::pin(async { CallOutcome::unknown("connection reset") })
        } else {
            self.inner.confirm(call)
        }
    }

    fn cancel<'a>(&'a self, call: BranchCall<'a, P::Request>) -> BoxFuture<'a, CallOutcome> {
        if self.lost() {
            Box::pin(async { CallOutcome::unknown("connection reset") })
        } else {
            self.inner.cancel(call)
        }
    }
}
