//! Bills: households on the published tiered tariff (with the price change
//! inside the month), commercial customers at the pricing engine's
//! time-of-use quotes.

use gasbao::core::{
    Date, Household, MeterPeriod, MeterReading, Money, RoundingMode, UnitPrice, Volume, fee, published,
};
use gasbao::pricing::{
    CustomerClass, LngCargo, LngInput, LngStrategy, LocalTime, PipelineInput, PipelineStrategy, Pricer, PricingSetup,
    QuoteRequest, StrategyCatalog,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::Failure;
use crate::config::Config;
use crate::ingest::Usage;
use crate::meters::Meter;

/// One account's bill for the month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Bill {
    pub(crate) account: u64,
    pub(crate) commercial: bool,
    /// Gas billed, corrected to reference conditions, in litres.
    pub(crate) gas_milli_m3: u64,
    pub(crate) amount: Money,
    /// Subsidy granted against this bill (households only).
    pub(crate) subsidy: Money,
    /// Tariff segments the month was split into (2 across a price change).
    pub(crate) segments: usize,
}

impl Bill {
    /// What the account pays: the bill less the subsidy, never below zero.
    pub(crate) fn due(&self) -> Money {
        self.amount
            .checked_sub(self.subsidy)
            .filter(|d| *d >= Money::ZERO)
            .unwrap_or(Money::ZERO)
    }
}

/// The month's first day and the day after the last day billed.
pub(crate) fn period(config: &Config) -> Result<(Date, Date), Failure> {
    let d = &config.district;
    let start = Date::new(d.year, d.month, 1)?;
    let end = match Date::new(d.year, d.month, d.days + 1) {
        Ok(end) => end,
        Err(_) => start.first_of_next_month().ok_or("the month has no end")?,
    };
    Ok((start, end))
}

/// Bills every household that reported: the published Beijing 2018
/// schedule splits the month at the 2018-07-10 price rise, and the tiers
/// count the gas used earlier in the year.
pub(crate) fn bill_households(config: &Config, meters: &[Meter], usage: &Usage) -> Result<Vec<Bill>, Failure> {
    let schedule = published::beijing_residential_2018();
    let (start, end) = period(config)?;
    let mut bills = Vec::new();
    for meter in meters.iter().filter(|m| !m.commercial && !m.offline) {
        let opening = Volume::from_milli_m3(meter.opening_index_milli_m3);
        let used = Volume::from_milli_m3(usage.corrected_milli_m3[meter.id as usize]);
        let closing = opening.checked_add(used).ok_or("meter index overflow")?;
        let period = MeterPeriod::new(MeterReading::new(start, opening), MeterReading::new(end, closing))?;
        // Gas used since January at the meter's usual rate.
        let prior = Volume::from_milli_m3(meter.litres_per_hour * 24 * 181);
        let bill = schedule.bill(&period, prior, &Household::of(meter.members))?;
        bills.push(Bill {
            account: u64::from(meter.id),
            commercial: false,
            gas_milli_m3: usage.corrected_milli_m3[meter.id as usize],
            amount: bill.total(),
            subsidy: Money::ZERO,
            segments: bill.segments().len(),
        });
    }
    Ok(bills)
}

/// The pricing engine's quote for business customers at each hour of a
/// day: pipeline gas and LNG blended by supply, time of use, the
/// regulatory band.
pub(crate) fn hourly_business_prices(config: &Config) -> Result<Vec<UnitPrice>, Failure> {
    let path = config.file(&config.files.pricing);
    let document = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let pricer = Pricer::new(PricingSetup::from_toml(&document, &StrategyCatalog::builtin())?);
    let setup = pricer.setup();
    let pipeline = setup
        .handle::<PipelineStrategy>("west-east-pipeline")
        .ok_or("no pipeline source")?;
    let lng = setup.handle::<LngStrategy>("coastal-lng").ok_or("no LNG source")?;
    (0..24u32)
        .map(|hour| {
            let peak = matches!(hour, 7..=9 | 17..=20);
            let at = LocalTime::from_hms(hour, 0, 0).ok_or("bad hour")?;
            let request = QuoteRequest::new(at, CustomerClass::NonResidential)
                .with_input(
                    &pipeline,
                    PipelineInput {
                        distance_km: Decimal::from(400),
                        utilisation: Decimal::new(if peak { 95 } else { 70 }, 2),
                    },
                )
                .with_input(
                    &lng,
                    LngInput {
                        cargo: LngCargo::Landed {
                            cost: UnitPrice::from_fen_per_m3(280),
                        },
                        trucking_km: Decimal::from(150),
                        days_in_storage: 10,
                    },
                )
                .with_supply(pipeline.id(), Volume::from_whole_m3(6_000))
                .with_supply(lng.id(), Volume::from_whole_m3(if peak { 8_000 } else { 1_000 }))
                .with_inventory_ratio(Decimal::new(50 - i64::from(hour) * 2, 2));
            Ok(pricer.quote(&request)?.price)
        })
        .collect()
}

/// Bills commercial customers at the day's quotes weighted by their load
/// profile (office hours), rounded once, half up, to the fen.
pub(crate) fn bill_commercial(meters: &[Meter], usage: &Usage, prices: &[UnitPrice]) -> Result<Vec<Bill>, Failure> {
    let weights: Vec<Decimal> = (0..24)
        .map(|h| Decimal::from(if (8..=18).contains(&h) { 4 } else { 1 }))
        .collect();
    let total_weight: Decimal = weights.iter().sum();
    let weighted: Decimal = prices.iter().zip(&weights).map(|(p, w)| p.value() * w).sum();
    let average = UnitPrice::new(weighted / total_weight)?;
    let mut bills = Vec::new();
    for meter in meters.iter().filter(|m| m.commercial) {
        let gas = usage.corrected_milli_m3[meter.id as usize];
        let amount = fee(Money::ZERO, average, Volume::from_milli_m3(gas), RoundingMode::HalfUp)?;
        bills.push(Bill {
            account: u64::from(meter.id),
            commercial: true,
            gas_milli_m3: gas,
            amount,
            subsidy: Money::ZERO,
            segments: 1,
        });
    }
    Ok(bills)
}
