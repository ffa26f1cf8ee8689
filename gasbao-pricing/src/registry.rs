//! Sources by id: heterogeneous strategies behind one type-erased edge.

use std::any::{Any, TypeId, type_name};
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde::de::DeserializeOwned;

use crate::error::{ConfigError, QuoteError, StrategyError};
use crate::strategy::{PricingStrategy, SourcePrice};

/// A source registered with strategy `S`: passing it to
/// [`QuoteRequest::with_input`](crate::QuoteRequest::with_input) makes the
/// compiler check the input type.
///
/// Giving a source the input of another kind of source does not compile:
///
/// ```compile_fail
/// use gasbao_core::UnitPrice;
/// use gasbao_pricing::{CustomerClass, FixedPrice, LocalTime, QuoteRequest, SngInput, SourceRegistry};
///
/// let mut sources = SourceRegistry::new();
/// let well = sources.register("well", FixedPrice { price: UnitPrice::ZERO }, None).unwrap();
/// let request = QuoteRequest::new(LocalTime::MIDNIGHT, CustomerClass::Residential)
///     .with_input(&well, SngInput { date: "2026-01-01".parse().unwrap() }); // expected `()`
/// ```
pub struct SourceHandle<S> {
    id: Arc<str>,
    strategy: PhantomData<fn() -> S>,
}

impl<S> SourceHandle<S> {
    /// The source's id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn id_arc(&self) -> Arc<str> {
        Arc::clone(&self.id)
    }
}

impl<S> Clone for SourceHandle<S> {
    fn clone(&self) -> Self {
        SourceHandle {
            id: Arc::clone(&self.id),
            strategy: PhantomData,
        }
    }
}

impl<S> fmt::Debug for SourceHandle<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceHandle")
            .field("id", &self.id)
            .field("strategy", &type_name::<S>())
            .finish()
    }
}

/// A source's input for one quote: typed, or serde data checked against the
/// strategy's input type when the quote is made.
#[derive(Debug)]
pub(crate) enum SourceInput {
    Typed(Box<dyn Any + Send + Sync>),
    Data(serde_json::Value),
}

/// The gas sources of a market, each with its own strategy.
///
/// # Examples
///
/// ```
/// use gasbao_core::UnitPrice;
/// use gasbao_pricing::{FixedPrice, SourceRegistry};
///
/// let mut sources = SourceRegistry::new();
/// let local = sources.register("local-well", FixedPrice { price: UnitPrice::from_fen_per_m3(210) }, None)?;
/// assert_eq!(local.id(), "local-well");
/// # Ok::<(), gasbao_pricing::ConfigError>(())
/// ```
#[derive(Debug, Default, Clone)]
pub struct SourceRegistry {
    sources: Vec<Source>,
}

/// One registered source.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    pub(crate) id: Arc<str>,
    pub(crate) kind: Arc<str>,
    pub(crate) strategy: Arc<dyn ErasedStrategy>,
    /// Configured weight, used when weighting is `configured`.
    pub(crate) weight: Option<Decimal>,
}

impl SourceRegistry {
    /// No sources.
    #[must_use]
    pub fn new() -> SourceRegistry {
        SourceRegistry::default()
    }

    /// Registers `strategy` as source `id`, with an optional configured weight.
    ///
    /// # Errors
    ///
    /// [`ConfigError::DuplicateSource`] if `id` is taken;
    /// [`ConfigError::Strategy`] if the strategy rejects its parameters.
    pub fn register<S: PricingStrategy>(
        &mut self,
        id: &str,
        strategy: S,
        weight: Option<Decimal>,
    ) -> Result<SourceHandle<S>, ConfigError> {
        let kind = strategy.kind();
        self.insert(id, kind, Arc::new(strategy), weight)?;
        Ok(SourceHandle {
            id: id.into(),
            strategy: PhantomData,
        })
    }

    pub(crate) fn insert(
        &mut self,
        id: &str,
        kind: &str,
        strategy: Arc<dyn ErasedStrategy>,
        weight: Option<Decimal>,
    ) -> Result<(), ConfigError> {
        if self.contains(id) {
            return Err(ConfigError::DuplicateSource { id: id.to_owned() });
        }
        strategy.validate().map_err(|source| ConfigError::Strategy {
            source_id: id.to_owned(),
            source,
        })?;
        self.sources.push(Source {
            id: id.into(),
            kind: kind.into(),
            strategy,
            weight,
        });
        Ok(())
    }

    /// A typed handle to source `id`, if it exists and uses strategy `S`.
    #[must_use]
    pub fn handle<S: PricingStrategy>(&self, id: &str) -> Option<SourceHandle<S>> {
        let source = self.sources.iter().find(|s| &*s.id == id)?;
        (source.strategy.strategy_type() == TypeId::of::<S>()).then(|| SourceHandle {
            id: Arc::clone(&source.id),
            strategy: PhantomData,
        })
    }

    /// Whether a source has id `id`.
    #[must_use]
    pub fn contains(&self, id: &str) -> bool {
        self.sources.iter().any(|s| &*s.id == id)
    }

    /// The source ids, in registration order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.sources.iter().map(|s| &*s.id)
    }

    /// Number of sources.
    #[must_use]
    pub fn len(&self) -> usize {
        self.sources.len()
    }

    /// Whether there are no sources.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    pub(crate) fn sources(&self) -> &[Source] {
        &self.sources
    }
}

/// The type-erased face of a [`PricingStrategy`]: the one place where types
/// are checked at run time instead of by the compiler.
pub(crate) trait ErasedStrategy: Send + Sync + fmt::Debug {
    fn strategy_type(&self) -> TypeId;
    fn validate(&self) -> Result<(), StrategyError>;
    fn price_erased(&self, source_id: &str, input: Option<&SourceInput>) -> Result<SourcePrice, QuoteError>;
}

impl<S: PricingStrategy> ErasedStrategy for S {
    fn strategy_type(&self) -> TypeId {
        TypeId::of::<S>()
    }

    fn validate(&self) -> Result<(), StrategyError> {
        PricingStrategy::validate(self)
    }

    fn price_erased(&self, source_id: &str, input: Option<&SourceInput>) -> Result<SourcePrice, QuoteError> {
        let priced = match input {
            Some(SourceInput::Typed(any)) => {
                let typed = any
                    .downcast_ref::<S::Input>()
                    .ok_or_else(|| QuoteError::InputTypeMismatch {
                        source_id: source_id.to_owned(),
                        expected: type_name::<S::Input>(),
                    })?;
                self.price(typed)
            }
            Some(SourceInput::Data(value)) => self.price(&from_data(source_id, value)?),
            // No input: strategies whose input is `()` or an Option need none.
            None => {
                let input = from_data::<S::Input>(source_id, &serde_json::Value::Null).map_err(|_| {
                    QuoteError::MissingInput {
                        source_id: source_id.to_owned(),
                        expected: type_name::<S::Input>(),
                    }
                })?;
                self.price(&input)
            }
        };
        priced.map_err(|source| QuoteError::Strategy {
            source_id: source_id.to_owned(),
            source,
        })
    }
}

/// Deserializes serde data into `T`, naming the offending field on failure.
fn from_data<T: DeserializeOwned>(source_id: &str, value: &serde_json::Value) -> Result<T, QuoteError> {
    serde_path_to_error::deserialize(value).map_err(|e| QuoteError::InvalidInput {
        source_id: source_id.to_owned(),
        path: e.path().to_string(),
        message: e.into_inner().to_string(),
    })
}
