//! A validated pricing setup: sources plus market rules, built from code or
//! from one configuration document.

use std::sync::Arc;

use gasbao_core::RoundingMode;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::band::{BandConfig, RegulatoryBand};
use crate::catalog::StrategyCatalog;
use crate::error::{ConfigError, QuoteError};
use crate::inventory::{InventoryBand, InventoryFactor};
use crate::quote::{self, Quote};
use crate::registry::{SourceHandle, SourceRegistry};
use crate::request::QuoteRequest;
use crate::strategy::PricingStrategy;
use crate::time_of_use::{TimeOfUse, TimeOfUsePeriod};

/// How source prices are weighted in the blend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Weighting {
    /// By each source's supply volume in the quote request.
    #[default]
    SupplyVolume,
    /// By each source's configured weight.
    Configured,
}

/// The market rules applied after blending.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MarketRules {
    /// How sources are weighted.
    pub weighting: Weighting,
    /// Time-of-use multipliers, if any.
    pub time_of_use: Option<TimeOfUse>,
    /// Inventory-ratio multipliers, if any.
    pub inventory: Option<InventoryFactor>,
    /// Regulatory limits per customer class.
    pub band: RegulatoryBand,
    /// How the final price is rounded to the fen.
    pub rounding: RoundingMode,
}

/// Sources and market rules, validated together, under a revision name.
///
/// # Examples
///
/// ```
/// use gasbao_core::{UnitPrice, Volume};
/// use gasbao_pricing::{
///     CustomerClass, FixedPrice, LocalTime, MarketRules, PricingSetup, QuoteRequest, RegulatoryBand, SourceRegistry,
/// };
///
/// let mut sources = SourceRegistry::new();
/// let well = sources.register("well", FixedPrice { price: UnitPrice::from_fen_per_m3(210) }, None)?;
/// let band = RegulatoryBand::new(Some(UnitPrice::from_fen_per_m3(300)), None)?;
/// let setup = PricingSetup::new("r1", sources, MarketRules { band, ..MarketRules::default() })?;
///
/// let request = QuoteRequest::new(LocalTime::MIDNIGHT, CustomerClass::Residential)
///     .with_input(&well, ())
///     .with_supply(well.id(), Volume::from_whole_m3(1_000));
/// assert_eq!(setup.quote(&request)?.price, UnitPrice::from_fen_per_m3(210));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct PricingSetup {
    revision: Arc<str>,
    sources: SourceRegistry,
    rules: MarketRules,
}

impl PricingSetup {
    /// A setup of `sources` under `rules`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::NoSources`]; with configured weighting,
    /// [`ConfigError::MissingWeight`], [`ConfigError::NegativeWeight`] or
    /// [`ConfigError::AllWeightsZero`].
    pub fn new(revision: &str, sources: SourceRegistry, rules: MarketRules) -> Result<PricingSetup, ConfigError> {
        if sources.is_empty() {
            return Err(ConfigError::NoSources);
        }
        for source in sources.sources() {
            match (source.weight, rules.weighting) {
                (None, Weighting::Configured) => {
                    return Err(ConfigError::MissingWeight {
                        source_id: source.id.to_string(),
                    });
                }
                (Some(weight), _) if weight < Decimal::ZERO => {
                    return Err(ConfigError::NegativeWeight {
                        source_id: source.id.to_string(),
                        weight,
                    });
                }
                _ => {}
            }
        }
        if rules.weighting == Weighting::Configured && sources.sources().iter().all(|s| s.weight == Some(Decimal::ZERO))
        {
            return Err(ConfigError::AllWeightsZero);
        }
        Ok(PricingSetup {
            revision: revision.into(),
            sources,
            rules,
        })
    }

    /// A setup from a TOML configuration document, with strategies from `catalog`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Malformed`] if the document does not parse, otherwise
    /// the [`ConfigError`] naming the first invalid field.
    pub fn from_toml(document: &str, catalog: &StrategyCatalog) -> Result<PricingSetup, ConfigError> {
        let config: PricingConfig = toml::from_str(document).map_err(|source| ConfigError::Malformed { source })?;
        PricingSetup::from_config(config, catalog)
    }

    /// A setup from a configuration document already deserialized (from any
    /// serde format), with strategies from `catalog`.
    ///
    /// # Errors
    ///
    /// The [`ConfigError`] naming the first invalid field.
    pub fn from_config(config: PricingConfig, catalog: &StrategyCatalog) -> Result<PricingSetup, ConfigError> {
        let mut sources = SourceRegistry::new();
        for source in &config.sources {
            let strategy = catalog.construct(&source.id, &source.kind, &source.params)?;
            sources.insert(&source.id, &source.kind, strategy, source.weight)?;
        }
        let rules = MarketRules {
            weighting: config.weighting,
            time_of_use: (!config.time_of_use.is_empty())
                .then(|| TimeOfUse::new(config.time_of_use))
                .transpose()?,
            inventory: (!config.inventory.is_empty())
                .then(|| InventoryFactor::new(config.inventory))
                .transpose()?,
            band: RegulatoryBand::try_from(config.band)?,
            rounding: config.rounding,
        };
        PricingSetup::new(&config.revision, sources, rules)
    }

    /// The revision name, reported in every quote.
    #[must_use]
    pub fn revision(&self) -> &str {
        &self.revision
    }

    pub(crate) fn revision_arc(&self) -> Arc<str> {
        Arc::clone(&self.revision)
    }

    /// The sources.
    #[must_use]
    pub fn sources(&self) -> &SourceRegistry {
        &self.sources
    }

    /// The market rules.
    #[must_use]
    pub fn rules(&self) -> &MarketRules {
        &self.rules
    }

    /// A typed handle to source `id`, if it exists and uses strategy `S`.
    #[must_use]
    pub fn handle<S: PricingStrategy>(&self, id: &str) -> Option<SourceHandle<S>> {
        self.sources.handle(id)
    }

    /// A quote for `request`.
    ///
    /// # Errors
    ///
    /// [`QuoteError`] naming the source or field at fault.
    pub fn quote(&self, request: &QuoteRequest) -> Result<Quote, QuoteError> {
        quote::make(self, request)
    }
}

/// The whole pricing setup as one serde document; see the crate README for a
/// TOML example. Decimal values are best written as strings (`"2.61"`) so that
/// they are read exactly.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PricingConfig {
    /// Revision name reported in every quote.
    pub revision: String,
    /// Rounding of the final price to the fen.
    #[serde(default)]
    pub rounding: RoundingMode,
    /// How sources are weighted.
    #[serde(default)]
    pub weighting: Weighting,
    /// The sources.
    pub sources: Vec<SourceConfig>,
    /// Time-of-use periods; none means no time-of-use factor.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub time_of_use: Vec<TimeOfUsePeriod>,
    /// Inventory bands; none means no inventory factor.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inventory: Vec<InventoryBand>,
    /// The regulatory band.
    #[serde(default)]
    pub band: BandConfig,
}

/// One source in a [`PricingConfig`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Unique id.
    pub id: String,
    /// Strategy kind, a name in the [`StrategyCatalog`].
    pub kind: String,
    /// Weight when weighting is `configured`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<Decimal>,
    /// The strategy's parameters.
    #[serde(default)]
    pub params: serde_json::Value,
}
