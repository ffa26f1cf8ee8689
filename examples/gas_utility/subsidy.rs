//! Subsidies: each household's eligibility from the reference Rego bundle,
//! every decision logged to a journal.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use gasbao::core::journal::{FileStorage, Journal, JournalOptions};
use gasbao::core::{Money, Volume};
use gasbao::policy::{
    EngineOptions, JournalDecisionLog, PolicyEngine, SUBSIDY_ENTRYPOINT, SubsidyApplication, SubsidyDecision,
};

use crate::Failure;
use crate::billing::Bill;
use crate::config::Config;
use crate::meters::Meter;

/// What the subsidy run granted.
#[derive(Debug, Default)]
pub(crate) struct Subsidies {
    pub(crate) granted: Money,
    pub(crate) eligible: usize,
    /// Why households were refused, by reason code.
    pub(crate) refusals: BTreeMap<String, usize>,
    pub(crate) revision: String,
}

/// Decides each household's subsidy and takes it off its bill.
pub(crate) fn apply(
    config: &Config,
    data_dir: &Path,
    meters: &[Meter],
    bills: &mut [Bill],
) -> Result<Subsidies, Failure> {
    let (log_journal, _) = Journal::open(FileStorage::new(data_dir.join("decisions"))?, JournalOptions::default())?;
    let log = Arc::new(JournalDecisionLog::new(Arc::new(log_journal)));
    let bundle = config.file(&config.files.subsidy_bundle);
    let engine = PolicyEngine::from_dir(&bundle, EngineOptions::default().decision_log(log))?;
    let mut subsidies = Subsidies::default();
    for bill in bills.iter_mut().filter(|b| !b.commercial) {
        let meter = &meters[bill.account as usize];
        let mut application =
            SubsidyApplication::new(format!("HH-{:05}", meter.id), meter.region.clone(), meter.members);
        application.registered_resident = meter.registered_resident;
        application.monthly_income_fen = meter.monthly_income_fen;
        application.low_income_certified = meter.monthly_income_fen < 300_000;
        application.monthly_usage_m3 = vec![Volume::from_milli_m3(bill.gas_milli_m3)];
        let decision = engine.evaluate::<SubsidyDecision>(SUBSIDY_ENTRYPOINT, &application)?;
        subsidies.revision = decision.revision.to_string();
        match decision.output.amount_fen.filter(|_| decision.output.eligible) {
            Some(fen) => {
                let fen = i64::try_from(fen)?;
                bill.subsidy = Money::from_fen(fen).min(bill.amount);
                subsidies.granted = subsidies
                    .granted
                    .checked_add(bill.subsidy)
                    .ok_or("subsidy total overflow")?;
                subsidies.eligible += 1;
            }
            None => {
                for reason in &decision.output.reasons {
                    *subsidies.refusals.entry(reason.code().to_owned()).or_default() += 1;
                }
            }
        }
    }
    Ok(subsidies)
}
