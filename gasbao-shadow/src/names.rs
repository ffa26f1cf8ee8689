//! Thing and shadow names, checked as AWS checks them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::NameError;

/// The longest thing name AWS accepts, in bytes.
pub const MAX_THING_NAME_BYTES: usize = 128;
/// The longest shadow name AWS accepts, in bytes.
pub const MAX_SHADOW_NAME_BYTES: usize = 64;

/// A device's name: 1 to 128 of `a-z A-Z 0-9 : _ -`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ThingName(String);

/// A named shadow's name: 1 to 64 of `a-z A-Z 0-9 : _ -`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ShadowName(String);

/// Which shadow: a thing's classic (unnamed) shadow, or one of its named ones.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ShadowId {
    /// The device.
    pub thing: ThingName,
    /// `None` for the classic shadow.
    pub name: Option<ShadowName>,
}

impl ThingName {
    /// Checks `name`.
    ///
    /// # Errors
    ///
    /// [`NameError`] saying what is wrong with it.
    pub fn new(name: impl Into<String>) -> Result<ThingName, NameError> {
        let name = name.into();
        check("thing", &name, MAX_THING_NAME_BYTES)?;
        Ok(ThingName(name))
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl ShadowName {
    /// Checks `name`.
    ///
    /// # Errors
    ///
    /// [`NameError`] saying what is wrong with it.
    pub fn new(name: impl Into<String>) -> Result<ShadowName, NameError> {
        let name = name.into();
        check("shadow", &name, MAX_SHADOW_NAME_BYTES)?;
        Ok(ShadowName(name))
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl ShadowId {
    /// The classic shadow of `thing`.
    #[must_use]
    pub fn classic(thing: ThingName) -> ShadowId {
        ShadowId { thing, name: None }
    }

    /// The shadow of `thing` named `name`.
    #[must_use]
    pub fn named(thing: ThingName, name: ShadowName) -> ShadowId {
        ShadowId {
            thing,
            name: Some(name),
        }
    }
}

impl fmt::Display for ShadowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            None => write!(f, "{}", self.thing),
            Some(name) => write!(f, "{}/{}", self.thing, name),
        }
    }
}

fn check(kind: &'static str, name: &str, max_bytes: usize) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty { kind });
    }
    if name.len() > max_bytes {
        return Err(NameError::TooLong {
            kind,
            bytes: name.len(),
            max_bytes,
        });
    }
    match name
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-')))
    {
        Some((at, character)) => Err(NameError::InvalidCharacter { kind, character, at }),
        None => Ok(()),
    }
}

macro_rules! string_newtype {
    ($name:ident) => {
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = NameError;

            fn try_from(name: String) -> Result<$name, NameError> {
                $name::new(name)
            }
        }

        impl From<$name> for String {
            fn from(name: $name) -> String {
                name.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_newtype!(ThingName);
string_newtype!(ShadowName);
