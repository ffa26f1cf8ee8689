//! What a participant implements: Try, Confirm and Cancel of one branch.

use std::fmt;
use std::sync::Arc;

use crate::env::BoxFuture;
use crate::error::RequestDecodeError;
use crate::ids::{BranchId, BranchKey, GlobalTxId, Timestamp};

/// The three calls of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    /// Reserve the resource (freeze money, hold quota); may be refused.
    Try,
    /// Make a reservation real; sent only after every Try succeeded.
    Confirm,
    /// Release a reservation, or record that there was none.
    Cancel,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Try => "Try",
            Phase::Confirm => "Confirm",
            Phase::Cancel => "Cancel",
        })
    }
}

/// How a participant answered one call.
///
/// Only [`Failed`](Self::Failed) is definite. [`Unknown`](Self::Unknown)
/// means the effect may or may not have happened: the coordinator retries
/// the call (participants are idempotent through their
/// [`Barrier`](crate::Barrier)), and never takes it as a refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallOutcome {
    /// Done, now or by an earlier delivery of the same call.
    Succeeded,
    /// Definitely refused, with nothing done: a business refusal such as an
    /// insufficient balance, or a Try that came after its Cancel.
    Failed {
        /// Why, for the operator.
        reason: String,
    },
    /// No definite answer: a timeout, a lost reply, a transport error, a
    /// participant that could not make its effect durable.
    Unknown {
        /// What went wrong, for the operator.
        cause: String,
    },
}

impl CallOutcome {
    /// A definite refusal.
    pub fn failed(reason: impl Into<String>) -> CallOutcome {
        CallOutcome::Failed { reason: reason.into() }
    }

    /// No definite answer.
    pub fn unknown(cause: impl Into<String>) -> CallOutcome {
        CallOutcome::Unknown { cause: cause.into() }
    }
}

impl fmt::Display for CallOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallOutcome::Succeeded => f.write_str("succeeded"),
            CallOutcome::Failed { reason } => write!(f, "failed: {reason}"),
            CallOutcome::Unknown { cause } => write!(f, "unknown: {cause}"),
        }
    }
}

/// One call to one branch: which transaction, which branch, until when, and
/// the request the branch was registered with.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct BranchCall<'a, R> {
    /// The global transaction.
    pub gtid: GlobalTxId,
    /// The branch within it.
    pub branch: BranchId,
    /// The global deadline: a Try arriving after it must be refused.
    pub deadline: Timestamp,
    /// The request, the same in all three phases.
    pub request: &'a R,
}

impl<'a, R> BranchCall<'a, R> {
    /// A call of `branch` of `gtid`: for transports that receive calls and
    /// for tests that make them.
    #[must_use]
    pub fn new(gtid: GlobalTxId, branch: BranchId, deadline: Timestamp, request: &'a R) -> BranchCall<'a, R> {
        BranchCall {
            gtid,
            branch,
            deadline,
            request,
        }
    }

    /// The key a [`Barrier`](crate::Barrier) records this branch under.
    #[must_use]
    pub fn key(&self) -> BranchKey {
        BranchKey {
            gtid: self.gtid,
            branch: self.branch,
        }
    }
}

/// A request that the coordinator's log can keep, so that Confirm or Cancel
/// can be re-delivered after a crash.
pub trait BranchRequest: Send + Sync + Sized + 'static {
    /// Appends the encoded request to `out`.
    fn encode(&self, out: &mut Vec<u8>);

    /// Reads back what [`encode`](Self::encode) wrote.
    ///
    /// # Errors
    ///
    /// [`RequestDecodeError`] saying what was wrong with `bytes`.
    fn decode(bytes: &[u8]) -> Result<Self, RequestDecodeError>;
}

/// A service taking part in global transactions: a prepaid account ledger,
/// a gas-quota reservation, or a client of a remote one.
///
/// Every call may be delivered more than once, late, or after the call of
/// another phase; implementations keep a [`Barrier`](crate::Barrier) in their
/// own local transaction to stay correct (see its docs). Object-safe:
/// `Arc<dyn Participant<Request = R>>` works.
pub trait Participant: Send + Sync + 'static {
    /// What each branch of this participant is asked to do.
    type Request: BranchRequest;

    /// Try: reserve what `call.request` asks for, or refuse.
    fn reserve<'a>(&'a self, call: BranchCall<'a, Self::Request>) -> BoxFuture<'a, CallOutcome>;

    /// Confirm: make the reservation real.
    fn confirm<'a>(&'a self, call: BranchCall<'a, Self::Request>) -> BoxFuture<'a, CallOutcome>;

    /// Cancel: release the reservation; succeed if there was none.
    fn cancel<'a>(&'a self, call: BranchCall<'a, Self::Request>) -> BoxFuture<'a, CallOutcome>;
}

impl<P: Participant + ?Sized> Participant for Arc<P> {
    type Request = P::Request;

    fn reserve<'a>(&'a self, call: BranchCall<'a, Self::Request>) -> BoxFuture<'a, CallOutcome> {
        (**self).reserve(call)
    }

    fn confirm<'a>(&'a self, call: BranchCall<'a, Self::Request>) -> BoxFuture<'a, CallOutcome> {
        (**self).confirm(call)
    }

    fn cancel<'a>(&'a self, call: BranchCall<'a, Self::Request>) -> BoxFuture<'a, CallOutcome> {
        (**self).cancel(call)
    }
}

/// A participant behind encoded requests, as the coordinator keeps them.
pub(crate) trait ErasedParticipant: Send + Sync + 'static {
    fn call<'a>(&'a self, phase: Phase, target: CallTarget, request: &'a [u8]) -> BoxFuture<'a, CallOutcome>;
}

/// Everything of a [`BranchCall`] but the request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallTarget {
    pub(crate) gtid: GlobalTxId,
    pub(crate) branch: BranchId,
    pub(crate) deadline: Timestamp,
}

pub(crate) struct Erased<P>(pub(crate) P);

impl<P: Participant> ErasedParticipant for Erased<P> {
    fn call<'a>(&'a self, phase: Phase, target: CallTarget, request: &'a [u8]) -> BoxFuture<'a, CallOutcome> {
        Box::pin(async move {
            let request = match P::Request::decode(request) {
                Ok(request) => request,
                // The log holds what this participant type encoded; anything
                // else is for the operator, never a guess.
                Err(error) => return CallOutcome::failed(format!("the logged request does not decode: {error}")),
            };
            let call = BranchCall {
                gtid: target.gtid,
                branch: target.branch,
                deadline: target.deadline,
                request: &request,
            };
            match phase {
                Phase::Try => self.0.reserve(call).await,
                Phase::Confirm => self.0.confirm(call).await,
                Phase::Cancel => self.0.cancel(call).await,
            }
        })
    }
}
