//! Multi-source gas pricing: typed strategies per source, weighted blending,
//! market factors, regulatory bands, and quotes that show their working.
//!
//! A city gas company buys pipeline gas, LNG and coal-to-gas SNG at once. Each
//! source has a [`PricingStrategy`] with its own typed input; their prices are
//! blended by supply volume (or configured weights), multiplied by
//! time-of-use and inventory factors, rounded once to the fen and held inside
//! the regulator's band. Every [`Quote`] itemises how its price was made.
//!
//! # Strategies
//! - [`PricingStrategy`], [`SourcePrice`], [`PriceComponent`]: implement your own.
//! - [`PipelineStrategy`] ([`PipelineInput`], [`UtilisationSurcharge`]),
//!   [`LngStrategy`] ([`LngInput`], [`LngCargo`]), [`SngStrategy`]
//!   ([`SngInput`]), [`FixedPrice`]: the built-ins.
//! - [`SourceRegistry`], [`SourceHandle`]: sources by id, typed at the edge.
//! - [`StrategyCatalog`]: strategy kinds by name, for configuration documents.
//!
//! # Market rules
//! - [`MarketRules`], [`Weighting`].
//! - [`TimeOfUse`], [`TimeOfUsePeriod`], [`LocalTime`]: peak and valley multipliers.
//! - [`InventoryFactor`], [`InventoryBand`]: price by storage fullness.
//! - [`RegulatoryBand`], [`NonResidentialBand`], [`BandConfig`], [`CustomerClass`].
//!
//! # Quoting
//! - [`PricingSetup`] (from code, or from a [`PricingConfig`] document with
//!   [`SourceConfig`]s), [`Pricer`] (hot reload).
//! - [`QuoteRequest`], [`QuoteRequestData`] in; [`Quote`] with [`SourceLine`],
//!   [`FactorLine`], [`Factor`], [`BandLine`], [`Bound`] out; [`CARRY_SCALE`].
//! - With feature `tracing`, each setup replaced or reload refused is an event.
//!
//! # Errors
//! - [`StrategyError`], [`ConfigError`], [`QuoteError`], [`TimeError`], [`PricingStep`].
//!
//! # How the price is made
//!
//! 1. Each source's price, carried at [`CARRY_SCALE`] (10) decimals.
//! 2. The blend: the weighted average, carried at 10 decimals; it always lies
//!    between the cheapest and the dearest source that has weight.
//! 3. Each factor multiplies the price, carried at 10 decimals; its effect is
//!    the exact difference.
//! 4. Rounded once to the fen with the configured mode.
//! 5. Held inside the band for the customer class. Limits are brought inside
//!    to whole fen (cap rounded down, floor rounded up), so a quoted price is
//!    never above a cap nor below a floor.
//!
//! The breakdown reproduces the price exactly:
//! `blended + factor effects + rounding + band effect == price`.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
// Prices must say how they handle every failure: no operator that can
// overflow, no unwrap, no panic outside tests.
#![cfg_attr(
    not(test),
    deny(
        clippy::arithmetic_side_effects,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

/// The README's examples run as doctests, so the quick start stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod band;
mod catalog;
mod error;
mod inventory;
mod pricer;
mod quote;
mod registry;
mod request;
mod setup;
mod strategies;
mod strategy;
mod time_of_use;

pub use band::{BandConfig, CustomerClass, NonResidentialBand, RegulatoryBand};
pub use catalog::StrategyCatalog;
pub use error::{ConfigError, PricingStep, QuoteError, StrategyError, TimeError};
pub use inventory::{InventoryBand, InventoryFactor};
pub use pricer::Pricer;
pub use quote::{BandLine, Bound, CARRY_SCALE, Factor, FactorLine, Quote, SourceLine};
pub use registry::{SourceHandle, SourceRegistry};
pub use request::{QuoteRequest, QuoteRequestData};
pub use setup::{MarketRules, PricingConfig, PricingSetup, SourceConfig, Weighting};
pub use strategies::fixed::FixedPrice;
pub use strategies::lng::{LngCargo, LngInput, LngStrategy};
pub use strategies::pipeline::{PipelineInput, PipelineStrategy, UtilisationSurcharge};
pub use strategies::sng::{SngInput, SngStrategy};
pub use strategy::{PriceComponent, PricingStrategy, SourcePrice};
pub use time_of_use::{LocalTime, TimeOfUse, TimeOfUsePeriod};
