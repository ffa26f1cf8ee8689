//! Every way pricing can refuse a strategy, a configuration or a quote.

use std::sync::Arc;

use rust_decimal::Decimal;
use thiserror::Error;

use crate::time_of_use::LocalTime;

/// The computation that overflowed a `Decimal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PricingStep {
    /// Source price.
    SourcePrice,
    /// Transport.
    Transport,
    /// Trucking.
    Trucking,
    /// Storage premium.
    StoragePremium,
    /// Escalation.
    Escalation,
    /// Market factor.
    MarketFactor,
    /// Rounding.
    Rounding,
    /// Band.
    Band,
    /// Final price.
    FinalPrice,
    /// Total weight.
    TotalWeight,
    /// Weighted price.
    WeightedPrice,
    /// Blend.
    Blend,
    /// Non-residential cap.
    NonResidentialCap,
}

impl std::fmt::Display for PricingStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PricingStep::SourcePrice => "source price",
            PricingStep::Transport => "transport",
            PricingStep::Trucking => "trucking",
            PricingStep::StoragePremium => "storage premium",
            PricingStep::Escalation => "escalation",
            PricingStep::MarketFactor => "market factor",
            PricingStep::Rounding => "rounding",
            PricingStep::Band => "band",
            PricingStep::FinalPrice => "final price",
            PricingStep::TotalWeight => "total weight",
            PricingStep::WeightedPrice => "weighted price",
            PricingStep::Blend => "blend",
            PricingStep::NonResidentialCap => "non-residential cap",
        })
    }
}

/// A strategy refused its parameters or its input, or could not compute.
///
/// Strategies written by users return this too.
#[derive(Debug, Clone, Error)]
#[non_exhaustive]
pub enum StrategyError {
    /// A parameter is out of range.
    #[error("parameter `{field}` {reason}")]
    InvalidParameter {
        /// The parameter's name.
        field: &'static str,
        /// What is wrong, e.g. "must not be negative".
        reason: &'static str,
    },
    /// An input field is out of range.
    #[error("input `{field}` {reason}")]
    InvalidInput {
        /// The input field's name.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// The components add up to a negative price.
    #[error("the components add up to a negative price {price}")]
    NegativePrice {
        /// The sum of the components.
        price: Decimal,
    },
    /// A result does not fit a `Decimal`.
    #[error("arithmetic overflow computing {step}")]
    Overflow {
        /// What was being computed.
        step: PricingStep,
    },
    /// A strategy of the caller's own failed with its own error.
    #[error("the strategy failed")]
    Custom(#[source] Arc<dyn std::error::Error + Send + Sync>),
}

impl StrategyError {
    /// A strategy error carrying the caller's own `error`.
    pub fn custom(error: impl std::error::Error + Send + Sync + 'static) -> StrategyError {
        StrategyError::Custom(Arc::new(error))
    }
}

impl PartialEq for StrategyError {
    fn eq(&self, other: &StrategyError) -> bool {
        use StrategyError as E;
        match (self, other) {
            (E::InvalidParameter { field: a, reason: r }, E::InvalidParameter { field: b, reason: s }) => {
                a == b && r == s
            }
            (E::InvalidInput { field: a, reason: r }, E::InvalidInput { field: b, reason: s }) => a == b && r == s,
            (E::NegativePrice { price: a }, E::NegativePrice { price: b }) => a == b,
            (E::Overflow { step: a }, E::Overflow { step: b }) => a == b,
            // The caller's errors need not compare: the same one is equal.
            (E::Custom(a), E::Custom(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for StrategyError {}

/// Text that is not a time of day `HH:MM` or `HH:MM:SS`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{text:?} is not a time of day HH:MM or HH:MM:SS")]
pub struct TimeError {
    /// The refused text (at most 32 characters of it).
    pub text: String,
}

/// A pricing configuration refused when loading; the previous one stays active.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The document is not valid TOML or does not have the configuration's shape.
    #[error("configuration document is malformed")]
    Malformed {
        /// The parser's error, with line and column.
        #[source]
        source: toml::de::Error,
    },
    /// No sources are configured.
    #[error("the configuration has no sources")]
    NoSources,
    /// Two sources share an id.
    #[error("source `{id}` is configured twice")]
    DuplicateSource {
        /// The repeated id.
        id: String,
    },
    /// A source names a strategy kind the catalog does not know.
    #[error("source `{source_id}` has unknown kind `{kind}`")]
    UnknownKind {
        /// The source.
        source_id: String,
        /// The unknown kind.
        kind: String,
    },
    /// A source's parameters do not fit its strategy.
    #[error("source `{source_id}`: parameter `{path}`: {message}")]
    InvalidParams {
        /// The source.
        source_id: String,
        /// Path of the offending field inside `params`.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// A source's strategy rejected its parameters.
    #[error("source `{source_id}` rejected its parameters")]
    Strategy {
        /// The source.
        source_id: String,
        /// Why.
        #[source]
        source: StrategyError,
    },
    /// A configured weight is missing while weighting is `configured`.
    #[error("source `{source_id}` has no weight, but weighting is `configured`")]
    MissingWeight {
        /// The source.
        source_id: String,
    },
    /// A configured weight is negative.
    #[error("source `{source_id}` has negative weight {weight}")]
    NegativeWeight {
        /// The source.
        source_id: String,
        /// The weight.
        weight: Decimal,
    },
    /// Every configured weight is zero.
    #[error("all configured weights are zero")]
    AllWeightsZero,
    /// Time-of-use periods leave part of the day uncovered.
    #[error("time_of_use: no period covers {at}")]
    TimeOfUseGap {
        /// The first uncovered time.
        at: LocalTime,
    },
    /// Two time-of-use periods overlap.
    #[error("time_of_use: periods `{first}` and `{second}` overlap at {at}")]
    TimeOfUseOverlap {
        /// One period.
        first: String,
        /// The other.
        second: String,
        /// Where they overlap.
        at: LocalTime,
    },
    /// A multiplier is zero or negative.
    #[error("{field} has multiplier {multiplier}; multipliers must be positive")]
    NonPositiveMultiplier {
        /// Where it is, e.g. `time_of_use.peak` or `inventory[2]`.
        field: String,
        /// The multiplier.
        multiplier: Decimal,
    },
    /// Inventory bands are not in increasing order, or the last is bounded.
    #[error("inventory band {band}: {reason}")]
    InvalidInventoryBand {
        /// 0-based band index.
        band: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// The regulatory band is inconsistent.
    #[error("band.{field}: {reason}")]
    InvalidBand {
        /// The offending field.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
}

/// A quote that cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum QuoteError {
    /// The request names a source the configuration does not have.
    #[error("the request names unknown source `{source_id}`")]
    UnknownSource {
        /// The unknown id.
        source_id: String,
    },
    /// A source needs input and the request has none for it.
    #[error("source `{source_id}` needs input of type {expected}")]
    MissingInput {
        /// The source.
        source_id: String,
        /// The input type its strategy takes.
        expected: &'static str,
    },
    /// Typed input of the wrong type (after a reload changed the source's strategy).
    #[error("source `{source_id}` takes input of type {expected}")]
    InputTypeMismatch {
        /// The source.
        source_id: String,
        /// The input type its strategy takes.
        expected: &'static str,
    },
    /// Serde input that does not fit the strategy's input type.
    #[error("source `{source_id}`: input `{path}`: {message}")]
    InvalidInput {
        /// The source.
        source_id: String,
        /// Path of the offending field.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// Weighting is by supply volume and a source has no supply volume.
    #[error("source `{source_id}` has no supply volume, but weighting is by supply volume")]
    MissingSupply {
        /// The source.
        source_id: String,
    },
    /// Every supply volume is zero, so there is nothing to blend.
    #[error("every source's supply volume is zero")]
    NoSupply,
    /// An inventory factor is configured and the request has no inventory ratio.
    #[error("the inventory factor needs the request's inventory ratio")]
    MissingInventoryRatio,
    /// The inventory ratio is negative.
    #[error("inventory ratio {ratio} is negative")]
    NegativeInventoryRatio {
        /// The ratio.
        ratio: Decimal,
    },
    /// The request is for a customer class the band has no rule for.
    #[error("the regulatory band has no rule for {class} customers")]
    NoBandForClass {
        /// The class.
        class: &'static str,
    },
    /// A source's strategy failed.
    #[error("source `{source_id}` could not be priced")]
    Strategy {
        /// The source.
        source_id: String,
        /// Why.
        #[source]
        source: StrategyError,
    },
    /// A result does not fit a `Decimal`.
    #[error("arithmetic overflow computing {step}")]
    Overflow {
        /// What was being computed.
        step: PricingStep,
    },
}
