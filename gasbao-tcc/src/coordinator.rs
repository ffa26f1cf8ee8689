//! The coordinator: begins global transactions, runs their Trys, decides,
//! logs the decision, and delivers it until every branch acknowledges.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::env::Environment;
use crate::error::{BranchError, LogError, OpenError, ResolveError, RunError};
use crate::ids::{BranchId, CoordinatorId, GlobalTxId, Timestamp};
use crate::log::{
    BranchRecord, CancelReason, CoordinatorLog, Decision, LiveTransaction, LogEntry, Parking, Resolution,
    TransactionRecord,
};
use crate::observer::{Event, Observer, RecoveryRule};
use crate::parallel::{Parallel, race_timer};
use crate::participant::{BranchRequest, CallOutcome, CallTarget, ErasedParticipant, Phase};
use crate::participants::{ParticipantRef, Participants};
use crate::retry::RetryPolicy;

/// How a global transaction ended, as far as its coordinator can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Every branch confirmed.
    Confirmed,
    /// Every branch cancelled (or had nothing to cancel).
    Cancelled(CancelReason),
    /// Phase two ran out of its retry budget; an operator must
    /// [`resolve`](Coordinator::resolve) it. The decision stands.
    Parked {
        /// The decision being delivered.
        decision: Decision,
        /// Where it stopped.
        parking: Parking,
    },
    /// An operator closed it by hand without it being applied.
    ClosedByHand,
}

/// A parked transaction, as [`Coordinator::parked`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParkedTransaction {
    /// The transaction.
    pub gtid: GlobalTxId,
    /// Its decision.
    pub decision: Decision,
    /// Where it stopped.
    pub parking: Parking,
    /// Per branch, whether it acknowledged.
    pub settled: Vec<bool>,
}

/// A transaction being assembled: its id and deadline are fixed, branches
/// are added, then [`Coordinator::run`] runs it.
#[derive(Debug)]
pub struct GlobalTransaction {
    record: TransactionRecord,
    registry: u64,
}

impl GlobalTransaction {
    /// Its id: the key of its branches in every participant's barrier.
    #[must_use]
    pub fn gtid(&self) -> GlobalTxId {
        self.record.gtid
    }

    /// Its deadline: undecided by then, it is cancelled.
    #[must_use]
    pub fn deadline(&self) -> Timestamp {
        self.record.deadline
    }

    /// Adds a branch at `participant` with `request`; returns its id.
    ///
    /// # Errors
    ///
    /// [`BranchError::ForeignParticipant`] if `participant` was registered
    /// with another coordinator; [`BranchError::TooManyBranches`] past 65,536.
    pub fn add_branch<R: BranchRequest>(
        &mut self,
        participant: &ParticipantRef<R>,
        request: &R,
    ) -> Result<BranchId, BranchError> {
        if participant.registry != self.registry {
            return Err(BranchError::ForeignParticipant {
                participant: participant.name().to_owned(),
            });
        }
        let id =
            u16::try_from(self.record.branches.len()).map_err(|_| BranchError::TooManyBranches { max: 1 << 16 })?;
        let mut encoded = Vec::new();
        request.encode(&mut encoded);
        self.record.branches.push(BranchRecord {
            participant: Arc::clone(&participant.name),
            request: encoded,
        });
        Ok(BranchId(id))
    }
}

/// Settings of a [`Coordinator`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CoordinatorConfig {
    /// This coordinator's id, unique among those calling the same participants.
    pub id: CoordinatorId,
    /// Retries and timeouts.
    pub retry: RetryPolicy,
    /// Compact the log after this many finished transactions (0: never).
    pub compact_every: u64,
}

impl CoordinatorConfig {
    /// Defaults for coordinator `id`: [`RetryPolicy::default`], compaction
    /// every 10,000 transactions.
    #[must_use]
    pub fn new(id: CoordinatorId) -> CoordinatorConfig {
        CoordinatorConfig {
            id,
            retry: RetryPolicy::default(),
            compact_every: 10_000,
        }
    }

    /// The same, with another retry policy.
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> CoordinatorConfig {
        self.retry = retry;
        self
    }

    /// The same, compacting after `finished` transactions (0: never).
    #[must_use]
    pub fn compact_every(mut self, finished: u64) -> CoordinatorConfig {
        self.compact_every = finished;
        self
    }
}

/// Runs global transactions over registered [`Participants`], durably
/// logged in a [`CoordinatorLog`]. Cheap to clone; clones share everything.
///
/// See the crate docs for the protocol and its guarantees.
#[derive(Clone)]
pub struct Coordinator {
    inner: Arc<Inner>,
}

struct Inner {
    config: CoordinatorConfig,
    log: Arc<dyn CoordinatorLog>,
    env: Environment,
    participants: Participants,
    observer: Option<Arc<dyn Observer>>,
    last_number: AtomicU64,
    /// Unfinished transactions, as logged.
    live: Mutex<BTreeMap<GlobalTxId, LiveTransaction>>,
    /// Found unfinished at open, for [`Coordinator::recover`].
    to_recover: Mutex<Vec<GlobalTxId>>,
    /// Taken over, but their presumed-abort decisions could not be logged
    /// yet: the log says they are this coordinator's, so it must retry.
    unadopted: Mutex<Vec<LiveTransaction>>,
    finished_since_compaction: AtomicU64,
}

impl fmt::Debug for Coordinator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Coordinator")
            .field("config", &self.inner.config)
            .field("participants", &self.inner.participants)
            .field("unfinished", &self.inner.live().len())
            .finish_non_exhaustive()
    }
}

enum TryAnswer {
    Reserved,
    Refused(String),
    NoAnswerByDeadline,
    NotOwner,
}

enum Delivery {
    Settled(BranchId),
    Parked(Parking),
    NotOwner,
}

impl Coordinator {
    /// Opens a coordinator on `log`, whose unfinished transactions are
    /// recovered: each without a decision is cancelled now (presumed
    /// abort: whoever began it is gone), each with one is queued for
    /// [`recover`](Self::recover) to deliver, each parked stays parked.
    ///
    /// # Errors
    ///
    /// [`OpenError::Log`] if the log cannot be read or the presumed-abort
    /// decisions cannot be logged; [`OpenError::UnknownParticipant`] if a
    /// logged branch names a participant not in `participants`.
    pub async fn open(
        config: CoordinatorConfig,
        log: impl CoordinatorLog,
        env: Environment,
        participants: Participants,
        observer: Option<Arc<dyn Observer>>,
    ) -> Result<Coordinator, OpenError> {
        let log: Arc<dyn CoordinatorLog> = Arc::new(log);
        let recovered = log.recover().await.map_err(OpenError::Log)?;
        if let Some((gtid, participant)) = unknown_participant(&participants, recovered.live.values()) {
            return Err(OpenError::UnknownParticipant { gtid, participant });
        }
        let last_number = recovered.last_numbers.get(&config.id).copied().unwrap_or(0);
        let coordinator = Coordinator {
            inner: Arc::new(Inner {
                config,
                log,
                env,
                participants,
                observer,
                last_number: AtomicU64::new(last_number),
                live: Mutex::new(BTreeMap::new()),
                to_recover: Mutex::new(Vec::new()),
                unadopted: Mutex::new(Vec::new()),
                finished_since_compaction: AtomicU64::new(0),
            }),
        };
        let to_recover = coordinator
            .inner
            .adopt(recovered.live.into_values().collect())
            .await
            .map_err(OpenError::Log)?;
        *coordinator
            .inner
            .to_recover
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = to_recover;
        Ok(coordinator)
    }

    /// Takes over the transactions of coordinators that share this log and
    /// whose lease lapsed, and delivers them as [`recover`](Self::recover)
    /// does: undecided ones are cancelled (presumed abort), decided ones
    /// delivered, parked ones stay parked. With a log that has one
    /// coordinator ([`JournalLog`](crate::JournalLog)) there is never
    /// anything to take over. Call it periodically, at about half the
    /// log's lease, from a task of its own.
    ///
    /// # Errors
    ///
    /// [`LogError`] if the log could not be asked, or the presumed-abort
    /// decisions could not be logged; what was claimed is kept and adopted
    /// by the next call. A claimed transaction with a branch at
    /// a participant not registered here is reported as
    /// [`LogError::Inconsistent`] in its place in the list and left to an
    /// operator: every coordinator sharing a log registers the same
    /// participants.
    pub async fn take_over(&self) -> Result<Vec<(GlobalTxId, Result<Outcome, LogError>)>, LogError> {
        let inner = &self.inner;
        let mut claimed = std::mem::take(&mut *inner.unadopted.lock().unwrap_or_else(PoisonError::into_inner));
        match inner.log.take_over().await {
            Ok(more) => claimed.extend(more),
            Err(error) => {
                *inner.unadopted.lock().unwrap_or_else(PoisonError::into_inner) = claimed;
                return Err(error);
            }
        }
        let (known, unknown): (Vec<_>, Vec<_>) = claimed
            .into_iter()
            .partition(|tx| unknown_participant(&inner.participants, [tx]).is_none());
        let pending = match inner.adopt(known.clone()).await {
            Ok(pending) => pending,
            Err(error) => {
                // Ours in the log now: adopt them at the next call.
                *inner.unadopted.lock().unwrap_or_else(PoisonError::into_inner) = known;
                return Err(error);
            }
        };
        let mut outcomes = self.inner.deliver_all(pending).await;
        outcomes.extend(unknown.into_iter().map(|tx| {
            let gtid = tx.record.gtid;
            let problem = "has a branch at a participant this coordinator does not register";
            (gtid, Err(LogError::Inconsistent { gtid, problem }))
        }));
        Ok(outcomes)
    }

    /// Hands this coordinator's unfinished transactions to the other
    /// coordinators sharing its log now, rather than after its lease runs
    /// out: call it at shutdown, once the `run` calls have returned. From
    /// then on this coordinator stops acting (runs still under way end in
    /// doubt, for the others to finish) and begins nothing. With a log of
    /// a single coordinator it does nothing.
    ///
    /// # Errors
    ///
    /// [`LogError`] if the log could not be told; the lease then runs out
    /// as it would have.
    pub async fn release(&self) -> Result<(), LogError> {
        self.inner.log.release().await
    }

    /// Starts assembling a transaction that must be decided within `timeout`.
    #[must_use]
    pub fn begin(&self, timeout: Duration) -> GlobalTransaction {
        let inner = &self.inner;
        let number = inner.last_number.fetch_add(1, Ordering::Relaxed) + 1;
        let began = inner.env.now();
        GlobalTransaction {
            record: TransactionRecord {
                gtid: GlobalTxId {
                    coordinator: inner.config.id,
                    number,
                },
                began,
                deadline: began.saturating_add(timeout),
                branches: Vec::new(),
            },
            registry: inner.participants.registry,
        }
    }

    /// Runs `tx` to its outcome: logs it, sends every Try at once, decides
    /// (Confirm if all succeeded; Cancel at the first refusal, or when a
    /// Try has no answer by the deadline), logs the decision, and delivers
    /// it until every branch acknowledges or the retry budget runs out.
    ///
    /// # Errors
    ///
    /// [`RunError::NoBranches`]; [`RunError::NotBegun`] if the log refused
    /// its start (nothing was called); [`RunError::InDoubt`] if the decision
    /// could not be logged (recovery settles it); [`RunError::Unrecorded`]
    /// if phase two's progress could not be logged.
    pub async fn run(&self, tx: GlobalTransaction) -> Result<Outcome, RunError> {
        #[cfg(feature = "tracing")]
        {
            use tracing::Instrument;
            let span =
                tracing::info_span!("tcc.transaction", gtid = %tx.record.gtid, branches = tx.record.branches.len());
            return self.run_logged(tx).instrument(span).await;
        }
        #[cfg(not(feature = "tracing"))]
        self.run_logged(tx).await
    }

    async fn run_logged(&self, tx: GlobalTransaction) -> Result<Outcome, RunError> {
        let record = Arc::new(tx.record);
        let gtid = record.gtid;
        if record.branches.is_empty() {
            return Err(RunError::NoBranches);
        }
        let inner = &self.inner;
        let began = [LogEntry::Began(Arc::clone(&record))];
        inner
            .log
            .write(&began, true)
            .await
            .map_err(|source| RunError::NotBegun { gtid, source })?;
        inner.observe(&Event::Began {
            gtid,
            branches: record.branches.len(),
        });
        inner.live().insert(gtid, LiveTransaction::new(Arc::clone(&record)));
        let in_doubt = |source: LogError| {
            inner.release_if_taken_over(gtid, &source);
            RunError::InDoubt { gtid, source }
        };
        let decision = inner.phase_one(&record).await.map_err(in_doubt)?;
        let decided = [LogEntry::Decided {
            gtid,
            decision: decision.clone(),
        }];
        inner.log.write(&decided, true).await.map_err(in_doubt)?;
        inner.observe(&Event::Decided {
            gtid,
            decision: &decision,
        });
        if let Some(tx) = inner.live().get_mut(&gtid) {
            tx.decision = Some(decision.clone());
        }
        inner
            .phase_two(gtid)
            .await
            .map_err(|source| RunError::Unrecorded { gtid, decision, source })
    }

    /// Delivers the decisions of the transactions [`open`](Self::open)
    /// found unfinished, all at once; returns each one's outcome. Call it
    /// once after opening (spawn it: it takes as long as the slowest
    /// branch's retries).
    pub async fn recover(&self) -> Vec<(GlobalTxId, Result<Outcome, LogError>)> {
        let pending = std::mem::take(&mut *self.inner.to_recover.lock().unwrap_or_else(PoisonError::into_inner));
        self.inner.deliver_all(pending).await
    }

    /// The parked transactions, oldest first.
    #[must_use]
    pub fn parked(&self) -> Vec<ParkedTransaction> {
        self.inner
            .live()
            .values()
            .filter_map(|tx| {
                Some(ParkedTransaction {
                    gtid: tx.record.gtid,
                    decision: tx.decision.clone()?,
                    parking: tx.parked.clone()?,
                    settled: tx.settled.clone(),
                })
            })
            .collect()
    }

    /// How many transactions are unfinished: running, being delivered, or parked.
    #[must_use]
    pub fn unfinished(&self) -> usize {
        self.inner.live().len()
    }

    /// Applies an operator's `resolution` to a parked transaction, logged
    /// durably first; returns the outcome ([`Resolution::RetryNow`] waits
    /// for the new delivery).
    ///
    /// # Errors
    ///
    /// [`ResolveError::NotParked`] if `gtid` is not parked;
    /// [`ResolveError::Log`] if the resolution or its result could not be
    /// logged (then it stays parked, or is delivered again on reopening).
    pub async fn resolve(&self, gtid: GlobalTxId, resolution: Resolution) -> Result<Outcome, ResolveError> {
        let inner = &self.inner;
        let (parking, decision) = {
            let mut live = inner.live();
            let tx = live
                .get_mut(&gtid)
                .filter(|tx| tx.parked.is_some() && tx.decision.is_some());
            let tx = tx.ok_or(ResolveError::NotParked { gtid })?;
            // Taken now, so that two operators cannot resolve it twice.
            (tx.parked.take(), tx.decision.clone())
        };
        let (Some(parking), Some(decision)) = (parking, decision) else {
            return Err(ResolveError::NotParked { gtid });
        };
        let entry = [LogEntry::Resolved {
            gtid,
            resolution: resolution.clone(),
            at: inner.env.now(),
        }];
        if let Err(source) = inner.log.write(&entry, true).await {
            if let Some(tx) = inner.live().get_mut(&gtid) {
                tx.parked = Some(parking);
            }
            return Err(ResolveError::Log { gtid, source });
        }
        inner.observe(&Event::Resolved {
            gtid,
            resolution: &resolution,
        });
        let log_error = |source| ResolveError::Log { gtid, source };
        match resolution {
            Resolution::RetryNow => inner.phase_two(gtid).await.map_err(log_error),
            Resolution::AppliedByHand { .. } | Resolution::ClosedByHand { .. } => {
                inner.finish(gtid, &decision).await.map_err(log_error)?;
                Ok(match (resolution, decision) {
                    (Resolution::ClosedByHand { .. }, _) => Outcome::ClosedByHand,
                    (_, Decision::Confirm) => Outcome::Confirmed,
                    (_, Decision::Cancel(reason)) => Outcome::Cancelled(reason),
                })
            }
        }
    }
}

/// The first logged branch among `transactions` whose participant is not registered.
fn unknown_participant<'a>(
    participants: &Participants,
    transactions: impl IntoIterator<Item = &'a LiveTransaction>,
) -> Option<(GlobalTxId, String)> {
    transactions.into_iter().find_map(|tx| {
        let branch = tx
            .record
            .branches
            .iter()
            .find(|b| !participants.by_name.contains_key(&*b.participant))?;
        Some((tx.record.gtid, branch.participant.to_string()))
    })
}

impl Inner {
    /// Makes recovered or taken-over transactions this coordinator's:
    /// cancels the undecided ones (presumed abort: whoever began them is
    /// gone), logged durably first; returns those to deliver.
    async fn adopt(&self, transactions: Vec<LiveTransaction>) -> Result<Vec<GlobalTxId>, LogError> {
        let presumed_abort = Decision::Cancel(CancelReason::Recovered);
        let undecided: Vec<LogEntry> = transactions
            .iter()
            .filter(|tx| tx.decision.is_none())
            .map(|tx| LogEntry::Decided {
                gtid: tx.record.gtid,
                decision: presumed_abort.clone(),
            })
            .collect();
        if !undecided.is_empty() {
            self.log.write(&undecided, true).await?;
        }
        let mut to_deliver = Vec::new();
        for mut tx in transactions {
            let gtid = tx.record.gtid;
            let rule = if tx.decision.is_none() {
                tx.decision = Some(presumed_abort.clone());
                RecoveryRule::PresumedAbort
            } else if tx.parked.is_some() {
                RecoveryRule::StaysParked
            } else {
                RecoveryRule::Redeliver
            };
            if rule != RecoveryRule::StaysParked {
                to_deliver.push(gtid);
            }
            self.live().insert(gtid, tx);
            if rule == RecoveryRule::PresumedAbort {
                self.observe(&Event::Decided {
                    gtid,
                    decision: &presumed_abort,
                });
            }
            self.observe(&Event::Recovered { gtid, rule });
        }
        Ok(to_deliver)
    }

    /// Delivers the decisions of `pending` all at once; each one's outcome, by id.
    async fn deliver_all(&self, pending: Vec<GlobalTxId>) -> Vec<(GlobalTxId, Result<Outcome, LogError>)> {
        let mut deliveries = Parallel::new();
        for gtid in &pending {
            deliveries.push(Box::pin(self.phase_two(*gtid)));
        }
        let mut outcomes = Vec::with_capacity(pending.len());
        while let Some((index, outcome)) = deliveries.next().await {
            outcomes.push((pending[index], outcome));
        }
        outcomes.sort_by_key(|(gtid, _)| *gtid);
        outcomes
    }

    /// Forgets `gtid` if `error` says another coordinator owns it now.
    fn release_if_taken_over(&self, gtid: GlobalTxId, error: &LogError) {
        if matches!(error, LogError::NotOwner { .. }) {
            self.live().remove(&gtid);
        }
    }

    fn live(&self) -> MutexGuard<'_, BTreeMap<GlobalTxId, LiveTransaction>> {
        // Changed by whole-field assignments only.
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn observe(&self, event: &Event<'_>) {
        #[cfg(feature = "tracing")]
        match event {
            Event::Parked { .. } | Event::CompactionFailed { .. } => tracing::warn!(?event),
            Event::Retrying { .. } | Event::Began { .. } => tracing::debug!(?event),
            _ => tracing::info!(?event),
        }
        if let Some(observer) = &self.observer {
            observer.observe(event);
        }
    }

    fn participant(&self, record: &TransactionRecord, branch: usize) -> &dyn ErasedParticipant {
        let name = &record.branches[branch].participant;
        // Checked when the branch was added (a ParticipantRef of this
        // registry) or when the log was recovered (open refuses unknown names).
        &**self
            .participants
            .by_name
            .get(&**name)
            .expect("every logged participant is registered")
    }

    /// One call, with the policy's timeout (shortened to `until`, if given).
    async fn call(
        &self,
        record: &TransactionRecord,
        branch: usize,
        phase: Phase,
        until: Option<Timestamp>,
    ) -> CallOutcome {
        let mut timeout = self.config.retry.call_timeout;
        if let Some(until) = until {
            timeout = timeout.min(until.saturating_since(self.env.now()));
        }
        let target = CallTarget {
            gtid: record.gtid,
            branch: BranchId(branch as u16),
            deadline: record.deadline,
        };
        let call = self
            .participant(record, branch)
            .call(phase, target, &record.branches[branch].request);
        #[cfg(feature = "tracing")]
        let call: crate::env::BoxFuture<'_, CallOutcome> = {
            use tracing::Instrument;
            let participant = &record.branches[branch].participant;
            let span =
                tracing::debug_span!("tcc.branch", gtid = %record.gtid, branch, %phase, participant = %participant);
            Box::pin(call.instrument(span))
        };
        race_timer(call, || self.env.sleep(timeout))
            .await
            .unwrap_or_else(|| CallOutcome::unknown(format!("no answer within {} ms", timeout.as_millis())))
    }

    /// Sends every Try at once and decides; [`LogError::NotOwner`] if
    /// another coordinator took the transaction over meanwhile.
    async fn phase_one(&self, record: &TransactionRecord) -> Result<Decision, LogError> {
        let mut tries = Parallel::new();
        for branch in 0..record.branches.len() {
            tries.push(Box::pin(self.try_branch(record, branch)));
        }
        while let Some((branch, answer)) = tries.next().await {
            let branch = BranchId(branch as u16);
            match answer {
                TryAnswer::Reserved => {}
                TryAnswer::Refused(reason) => {
                    return Ok(Decision::Cancel(CancelReason::TryRefused { branch, reason }));
                }
                TryAnswer::NoAnswerByDeadline => return Ok(Decision::Cancel(CancelReason::DeadlinePassed { branch })),
                TryAnswer::NotOwner => return Err(LogError::NotOwner { gtid: record.gtid }),
            }
        }
        Ok(Decision::Confirm)
    }

    /// Tries one branch until it answers definitely or the deadline passes.
    async fn try_branch(&self, record: &TransactionRecord, branch: usize) -> TryAnswer {
        let mut attempt = 0;
        loop {
            if !self.log.owns(record.gtid) {
                return TryAnswer::NotOwner;
            }
            if self.env.now() >= record.deadline {
                return TryAnswer::NoAnswerByDeadline;
            }
            attempt += 1;
            let answer = self.call(record, branch, Phase::Try, Some(record.deadline)).await;
            match answer {
                CallOutcome::Succeeded => return TryAnswer::Reserved,
                CallOutcome::Failed { reason } => return TryAnswer::Refused(reason),
                CallOutcome::Unknown { .. } => {}
            }
            let left = record.deadline.saturating_since(self.env.now());
            let delay = self.config.retry.delay(attempt, self.env.random()).min(left);
            self.observe(&Event::Retrying {
                gtid: record.gtid,
                branch: BranchId(branch as u16),
                phase: Phase::Try,
                attempt,
                delay,
                answer: &answer,
            });
            self.env.sleep(delay).await;
        }
    }

    /// Delivers the logged decision of `gtid` to every branch that has not
    /// acknowledged it, then logs the transaction finished or parked.
    async fn phase_two(&self, gtid: GlobalTxId) -> Result<Outcome, LogError> {
        let outcome = self.deliver_decision(gtid).await;
        if let Err(error) = &outcome {
            self.release_if_taken_over(gtid, error);
        }
        outcome
    }

    async fn deliver_decision(&self, gtid: GlobalTxId) -> Result<Outcome, LogError> {
        let Some((record, decision, settled)) = self.live().get(&gtid).and_then(|tx| {
            let decision = tx.decision.clone()?;
            Some((Arc::clone(&tx.record), decision, tx.settled.clone()))
        }) else {
            return Err(LogError::Inconsistent {
                gtid,
                problem: "is not a decided, unfinished transaction",
            });
        };
        let phase = decision.phase();
        let mut deliveries = Parallel::new();
        for (branch, _) in settled.iter().enumerate().filter(|(_, settled)| !**settled) {
            deliveries.push(Box::pin(self.deliver_and_record(&record, branch, phase)));
        }
        let mut parked = None;
        while let Some((_, delivery)) = deliveries.next().await {
            match delivery? {
                Delivery::Settled(_) => {}
                Delivery::Parked(parking) => {
                    parked.get_or_insert(parking);
                }
                Delivery::NotOwner => return Err(LogError::NotOwner { gtid }),
            }
        }
        drop(deliveries);
        if let Some(parking) = parked {
            self.log
                .write(
                    &[LogEntry::Parked {
                        gtid,
                        parking: parking.clone(),
                    }],
                    true,
                )
                .await?;
            if let Some(tx) = self.live().get_mut(&gtid) {
                tx.parked = Some(parking.clone());
            }
            self.observe(&Event::Parked {
                gtid,
                parking: &parking,
            });
            return Ok(Outcome::Parked { decision, parking });
        }
        self.finish(gtid, &decision).await?;
        Ok(match decision {
            Decision::Confirm => Outcome::Confirmed,
            Decision::Cancel(reason) => Outcome::Cancelled(reason),
        })
    }

    /// Delivers `phase` to one branch and logs it settled. The log write is
    /// part of the branch's own future, so that while it waits (for a pooled
    /// connection, say) the other branches' calls are still polled: awaited
    /// beside them, it could hold up a call that holds what it waits for.
    async fn deliver_and_record(
        &self,
        record: &TransactionRecord,
        branch: usize,
        phase: Phase,
    ) -> Result<Delivery, LogError> {
        let delivery = self.deliver(record, branch, phase).await;
        if let Delivery::Settled(branch) = delivery {
            let gtid = record.gtid;
            // Not synced: a lost acknowledgement only means one more delivery.
            self.log.write(&[LogEntry::Settled { gtid, branch }], false).await?;
            if let Some(tx) = self.live().get_mut(&gtid) {
                tx.settled[usize::from(branch.0)] = true;
            }
        }
        Ok(delivery)
    }

    /// Calls one branch with `phase` until it succeeds or the budget runs out.
    async fn deliver(&self, record: &TransactionRecord, branch: usize, phase: Phase) -> Delivery {
        let started = self.env.now();
        let mut attempt = 0;
        loop {
            if !self.log.owns(record.gtid) {
                return Delivery::NotOwner;
            }
            attempt += 1;
            let answer = self.call(record, branch, phase, None).await;
            if answer == CallOutcome::Succeeded {
                return Delivery::Settled(BranchId(branch as u16));
            }
            let now = self.env.now();
            let age = now.saturating_since(started);
            if age >= self.config.retry.max_age {
                return Delivery::Parked(Parking {
                    branch: BranchId(branch as u16),
                    phase,
                    attempts: attempt,
                    last_answer: answer.to_string(),
                    at: now,
                });
            }
            let delay = self.config.retry.delay(attempt, self.env.random());
            self.observe(&Event::Retrying {
                gtid: record.gtid,
                branch: BranchId(branch as u16),
                phase,
                attempt,
                delay,
                answer: &answer,
            });
            self.env.sleep(delay).await;
        }
    }

    /// Logs `gtid`, which applied `decision`, finished, forgets it, and
    /// compacts the log when due.
    async fn finish(&self, gtid: GlobalTxId, decision: &Decision) -> Result<(), LogError> {
        self.log.write(&[LogEntry::Finished { gtid }], false).await?;
        self.live().remove(&gtid);
        self.observe(&Event::Finished { gtid, decision });
        let every = self.config.compact_every;
        if every > 0 && self.finished_since_compaction.fetch_add(1, Ordering::Relaxed) + 1 >= every {
            self.finished_since_compaction.store(0, Ordering::Relaxed);
            if let Err(error) = self.log.compact().await {
                self.observe(&Event::CompactionFailed { error: &error });
            }
        }
        Ok(())
    }
}
