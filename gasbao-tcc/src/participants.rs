//! The participants a coordinator can call, by name.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::RegisterError;
use crate::participant::{Erased, ErasedParticipant, Participant};

/// The participants of one coordinator, each under a name that is written
/// in its log: after a crash, a branch is delivered to the participant
/// registered under the same name.
pub struct Participants {
    pub(crate) by_name: BTreeMap<String, Arc<dyn ErasedParticipant>>,
    /// Tells this registry's [`ParticipantRef`]s from another's.
    pub(crate) registry: u64,
}

/// A participant registered in [`Participants`]: what
/// [`GlobalTransaction::add_branch`](crate::GlobalTransaction::add_branch)
/// takes, typed by the participant's request.
pub struct ParticipantRef<R> {
    pub(crate) name: Arc<str>,
    pub(crate) registry: u64,
    _request: PhantomData<fn(R)>,
}

impl Participants {
    /// No participants yet.
    #[must_use]
    pub fn new() -> Participants {
        static REGISTRIES: AtomicU64 = AtomicU64::new(0);
        Participants {
            by_name: BTreeMap::new(),
            registry: REGISTRIES.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Registers `participant` under `name`.
    ///
    /// # Errors
    ///
    /// [`RegisterError::Duplicate`] if the name is taken.
    pub fn add<P: Participant>(
        &mut self,
        name: impl Into<String>,
        participant: P,
    ) -> Result<ParticipantRef<P::Request>, RegisterError> {
        let name = name.into();
        if self.by_name.contains_key(&name) {
            return Err(RegisterError::Duplicate { name });
        }
        self.by_name.insert(name.clone(), Arc::new(Erased(participant)));
        Ok(ParticipantRef {
            name: name.into(),
            registry: self.registry,
            _request: PhantomData,
        })
    }

    /// The registered names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }
}

impl Default for Participants {
    fn default() -> Participants {
        Participants::new()
    }
}

impl fmt::Debug for Participants {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.by_name.keys()).finish()
    }
}

impl<R> ParticipantRef<R> {
    /// The name it is registered under.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl<R> Clone for ParticipantRef<R> {
    fn clone(&self) -> Self {
        ParticipantRef {
            name: Arc::clone(&self.name),
            registry: self.registry,
            _request: PhantomData,
        }
    }
}

impl<R> fmt::Debug for ParticipantRef<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ParticipantRef").field(&self.name).finish()
    }
}
