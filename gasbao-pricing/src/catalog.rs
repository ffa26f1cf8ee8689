//! Strategy kinds by name, so that a configuration document can name them.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::error::ConfigError;
use crate::registry::ErasedStrategy;
use crate::strategies::fixed::FixedPrice;
use crate::strategies::lng::LngStrategy;
use crate::strategies::pipeline::PipelineStrategy;
use crate::strategies::sng::SngStrategy;
use crate::strategy::PricingStrategy;

type Constructor = fn(&str, &serde_json::Value) -> Result<Arc<dyn ErasedStrategy>, ConfigError>;

/// The strategy kinds a configuration document may use, by the name in its
/// `kind` field. A strategy's parameters are the strategy itself, deserialized
/// from the source's `params`.
///
/// # Examples
///
/// ```
/// use gasbao_pricing::{FixedPrice, StrategyCatalog};
///
/// // Your own strategies join the built-in ones under names you choose.
/// let catalog = StrategyCatalog::builtin().with_kind::<FixedPrice>("contract");
/// assert!(catalog.kinds().any(|k| k == "contract"));
/// assert!(catalog.kinds().any(|k| k == "lng"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct StrategyCatalog {
    kinds: BTreeMap<String, Constructor>,
}

impl StrategyCatalog {
    /// A catalog with no kinds.
    #[must_use]
    pub fn new() -> StrategyCatalog {
        StrategyCatalog::default()
    }

    /// The built-in kinds: `pipeline`, `lng`, `sng` and `fixed`.
    #[must_use]
    pub fn builtin() -> StrategyCatalog {
        StrategyCatalog::new()
            .with_kind::<PipelineStrategy>("pipeline")
            .with_kind::<LngStrategy>("lng")
            .with_kind::<SngStrategy>("sng")
            .with_kind::<FixedPrice>("fixed")
    }

    /// The same catalog with strategy `S` available as `kind`, replacing any
    /// kind of that name.
    #[must_use]
    pub fn with_kind<S: PricingStrategy + DeserializeOwned>(mut self, kind: &str) -> StrategyCatalog {
        self.kinds.insert(kind.to_owned(), construct::<S>);
        self
    }

    /// The kind names, sorted.
    pub fn kinds(&self) -> impl Iterator<Item = &str> {
        self.kinds.keys().map(String::as_str)
    }

    pub(crate) fn construct(
        &self,
        source_id: &str,
        kind: &str,
        params: &serde_json::Value,
    ) -> Result<Arc<dyn ErasedStrategy>, ConfigError> {
        let constructor = self.kinds.get(kind).ok_or_else(|| ConfigError::UnknownKind {
            source_id: source_id.to_owned(),
            kind: kind.to_owned(),
        })?;
        constructor(source_id, params)
    }
}

fn construct<S: PricingStrategy + DeserializeOwned>(
    source_id: &str,
    params: &serde_json::Value,
) -> Result<Arc<dyn ErasedStrategy>, ConfigError> {
    let strategy: S = serde_path_to_error::deserialize(params).map_err(|e| ConfigError::InvalidParams {
        source_id: source_id.to_owned(),
        path: e.path().to_string(),
        message: e.into_inner().to_string(),
    })?;
    Ok(Arc::new(strategy))
}
