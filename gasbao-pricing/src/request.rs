//! What a quote is asked for: when, for whom, and each source's market data.

use std::collections::BTreeMap;
use std::sync::Arc;

use gasbao_core::Volume;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::band::CustomerClass;
use crate::registry::{SourceHandle, SourceInput};
use crate::strategy::PricingStrategy;
use crate::time_of_use::LocalTime;

/// A request for a quote: the local time, the customer class, the inventory
/// ratio, and per source its market input and supply volume.
///
/// Typed inputs go through a [`SourceHandle`], so the compiler checks them;
/// serde data (from JSON, say) is checked against the strategy's input type
/// when the quote is made. The whole request also deserializes from serde data
/// (see [`QuoteRequestData`]).
#[derive(Debug)]
pub struct QuoteRequest {
    pub(crate) at: LocalTime,
    pub(crate) customer: CustomerClass,
    pub(crate) inventory_ratio: Option<Decimal>,
    pub(crate) inputs: Vec<(Arc<str>, SourceInput)>,
    pub(crate) supply: Vec<(Arc<str>, Volume)>,
}

impl QuoteRequest {
    /// A request for a quote at local time `at` for a `customer`.
    #[must_use]
    pub fn new(at: LocalTime, customer: CustomerClass) -> QuoteRequest {
        QuoteRequest {
            at,
            customer,
            inventory_ratio: None,
            inputs: Vec::new(),
            supply: Vec::new(),
        }
    }

    /// The same request with `input` for `source`, checked by the compiler.
    #[must_use]
    pub fn with_input<S: PricingStrategy>(mut self, source: &SourceHandle<S>, input: S::Input) -> QuoteRequest {
        self.set_input(source.id_arc(), SourceInput::Typed(Box::new(input)));
        self
    }

    /// The same request with serde data as the input of source `source_id`.
    #[must_use]
    pub fn with_input_data(mut self, source_id: &str, data: serde_json::Value) -> QuoteRequest {
        self.set_input(source_id.into(), SourceInput::Data(data));
        self
    }

    /// The same request with `volume` supplied by source `source_id` (used when
    /// weighting by supply volume).
    #[must_use]
    pub fn with_supply(mut self, source_id: &str, volume: Volume) -> QuoteRequest {
        match self.supply.iter_mut().find(|(id, _)| &**id == source_id) {
            Some(slot) => slot.1 = volume,
            None => self.supply.push((source_id.into(), volume)),
        }
        self
    }

    /// The same request with inventory ratio `ratio` (stock / capacity).
    #[must_use]
    pub fn with_inventory_ratio(mut self, ratio: Decimal) -> QuoteRequest {
        self.inventory_ratio = Some(ratio);
        self
    }

    fn set_input(&mut self, id: Arc<str>, input: SourceInput) {
        match self.inputs.iter_mut().find(|(existing, _)| *existing == id) {
            Some(slot) => slot.1 = input,
            None => self.inputs.push((id, input)),
        }
    }

    pub(crate) fn input_for(&self, source_id: &str) -> Option<&SourceInput> {
        self.inputs
            .iter()
            .find(|(id, _)| &**id == source_id)
            .map(|(_, input)| input)
    }

    pub(crate) fn supply_for(&self, source_id: &str) -> Option<Volume> {
        self.supply.iter().find(|(id, _)| &**id == source_id).map(|(_, v)| *v)
    }

    /// Every source id the request mentions.
    pub(crate) fn mentioned_ids(&self) -> impl Iterator<Item = &str> {
        self.inputs
            .iter()
            .map(|(id, _)| &**id)
            .chain(self.supply.iter().map(|(id, _)| &**id))
    }
}

/// A [`QuoteRequest`] as serde data, e.g. the JSON body of an HTTP call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuoteRequestData {
    /// Local time of the quote.
    pub at: LocalTime,
    /// Customer class.
    pub customer: CustomerClass,
    /// Inventory ratio, when an inventory factor is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory_ratio: Option<Decimal>,
    /// Input per source id.
    #[serde(default)]
    pub inputs: BTreeMap<String, serde_json::Value>,
    /// Supply volume per source id.
    #[serde(default)]
    pub supply: BTreeMap<String, Volume>,
}

impl From<QuoteRequestData> for QuoteRequest {
    fn from(data: QuoteRequestData) -> QuoteRequest {
        let mut request = QuoteRequest::new(data.at, data.customer);
        request.inventory_ratio = data.inventory_ratio;
        request.inputs = data
            .inputs
            .into_iter()
            .map(|(id, value)| (Arc::from(id), SourceInput::Data(value)))
            .collect();
        request.supply = data.supply.into_iter().map(|(id, v)| (Arc::from(id), v)).collect();
        request
    }
}
