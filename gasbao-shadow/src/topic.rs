//! MQTT topic names of the AWS shadow protocol, built and parsed.

use std::fmt;

use crate::error::TopicError;
use crate::names::{ShadowId, ShadowName, ThingName};

/// A shadow operation a client requests by publishing to its topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// `.../get`: read the document.
    Get,
    /// `.../update`: change desired or reported state.
    Update,
    /// `.../delete`: delete the shadow.
    Delete,
}

/// What the service publishes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reply {
    /// `.../accepted`.
    Accepted,
    /// `.../rejected`: an error document.
    Rejected,
    /// `.../update/delta`: desired state the device has not reported.
    Delta,
    /// `.../update/documents`: the document before and after an update.
    Documents,
}

/// One shadow topic, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ShadowTopic {
    /// Whose shadow.
    pub shadow: ShadowId,
    /// The operation.
    pub operation: Operation,
    /// `None` for a request topic, else which reply.
    pub reply: Option<Reply>,
}

impl ShadowTopic {
    /// The request topic of `operation` on `shadow`.
    #[must_use]
    pub fn request(shadow: &ShadowId, operation: Operation) -> ShadowTopic {
        ShadowTopic {
            shadow: shadow.clone(),
            operation,
            reply: None,
        }
    }

    /// A reply topic. Only update has `Delta` and `Documents` replies.
    ///
    /// # Errors
    ///
    /// [`TopicError::NoSuchReply`] for delta or documents of get or delete.
    pub fn reply(shadow: &ShadowId, operation: Operation, reply: Reply) -> Result<ShadowTopic, TopicError> {
        let topic = ShadowTopic {
            shadow: shadow.clone(),
            operation,
            reply: Some(reply),
        };
        if matches!(reply, Reply::Delta | Reply::Documents) && operation != Operation::Update {
            return Err(TopicError::NoSuchReply {
                topic: topic.to_string(),
            });
        }
        Ok(topic)
    }

    /// Parses a topic name such as `$aws/things/meter-7/shadow/name/valve/update/delta`.
    ///
    /// # Errors
    ///
    /// [`TopicError`] saying which part is not a shadow topic.
    pub fn parse(topic: &str) -> Result<ShadowTopic, TopicError> {
        let not_shadow = || TopicError::NotShadowTopic {
            topic: topic.to_owned(),
        };
        let rest = topic.strip_prefix("$aws/things/").ok_or_else(not_shadow)?;
        let (thing, rest) = rest.split_once('/').ok_or_else(not_shadow)?;
        let thing = ThingName::new(thing).map_err(|source| TopicError::Name {
            topic: topic.to_owned(),
            source,
        })?;
        let rest = rest.strip_prefix("shadow/").ok_or_else(not_shadow)?;
        let (name, rest) = match rest.strip_prefix("name/") {
            Some(named) => {
                let (name, rest) = named.split_once('/').ok_or_else(not_shadow)?;
                let name = ShadowName::new(name).map_err(|source| TopicError::Name {
                    topic: topic.to_owned(),
                    source,
                })?;
                (Some(name), rest)
            }
            None => (None, rest),
        };
        let (operation, reply) = rest
            .split_once('/')
            .map_or((rest, None), |(op, reply)| (op, Some(reply)));
        let operation = match operation {
            "get" => Operation::Get,
            "update" => Operation::Update,
            "delete" => Operation::Delete,
            _ => return Err(not_shadow()),
        };
        let reply = match reply {
            None => None,
            Some("accepted") => Some(Reply::Accepted),
            Some("rejected") => Some(Reply::Rejected),
            Some("delta") if operation == Operation::Update => Some(Reply::Delta),
            Some("documents") if operation == Operation::Update => Some(Reply::Documents),
            Some(_) => return Err(not_shadow()),
        };
        Ok(ShadowTopic {
            shadow: ShadowId { thing, name },
            operation,
            reply,
        })
    }
}

impl fmt::Display for ShadowTopic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "$aws/things/{}/shadow", self.shadow.thing)?;
        if let Some(name) = &self.shadow.name {
            write!(f, "/name/{name}")?;
        }
        f.write_str(match self.operation {
            Operation::Get => "/get",
            Operation::Update => "/update",
            Operation::Delete => "/delete",
        })?;
        match self.reply {
            None => Ok(()),
            Some(Reply::Accepted) => f.write_str("/accepted"),
            Some(Reply::Rejected) => f.write_str("/rejected"),
            Some(Reply::Delta) => f.write_str("/delta"),
            Some(Reply::Documents) => f.write_str("/documents"),
        }
    }
}
