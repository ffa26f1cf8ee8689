//! The ready-made subsidy model: what a household applies with and what the
//! policy answers, matching the reference bundle in `bundles/subsidy`.

use std::fmt;

use gasbao_core::Volume;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The reference bundle's entrypoint.
pub const SUBSIDY_ENTRYPOINT: &str = "data.gasbao.subsidy.decision";

/// A household's application for the heating-gas subsidy: the reference
/// bundle's input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SubsidyApplication {
    /// The gas account (personal: masked in decision logs).
    pub household_id: String,
    /// The applicant's name (personal).
    pub name: String,
    /// The applicant's resident identity number (personal).
    pub id_number: String,
    /// Administrative division code of the home, e.g. `310115` (Pudong).
    pub region: String,
    /// Whether the household holds local residence registration (hukou or
    /// residence permit).
    pub registered_resident: bool,
    /// Whether fraud investigation has flagged the account.
    pub fraud_flag: bool,
    /// Whether the civil-affairs office certifies the household as low income.
    pub low_income_certified: bool,
    /// Household income per month, in fen.
    pub monthly_income_fen: u64,
    /// People in the household.
    pub members: u32,
    /// Gas used per month, oldest first. The policy reads each as a JSON
    /// number of m3: a whole number when it is one, otherwise the nearest
    /// `f64` (exact to 15 significant digits, far beyond a household's use).
    #[serde(with = "usage_as_numbers")]
    pub monthly_usage_m3: Vec<Volume>,
}

impl SubsidyApplication {
    /// An application with the given identity and no readings, flags or income.
    pub fn new(household_id: impl Into<String>, region: impl Into<String>, members: u32) -> SubsidyApplication {
        SubsidyApplication {
            household_id: household_id.into(),
            name: String::new(),
            id_number: String::new(),
            region: region.into(),
            registered_resident: false,
            fraud_flag: false,
            low_income_certified: false,
            monthly_income_fen: 0,
            members,
            monthly_usage_m3: Vec::new(),
        }
    }
}

/// The policy's answer to a [`SubsidyApplication`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SubsidyDecision {
    /// Whether the subsidy is granted.
    pub eligible: bool,
    /// Why not, as codes the policy produces, sorted; empty when eligible.
    pub reasons: Vec<SubsidyReason>,
    /// The subsidy in fen, when eligible and the policy sets an amount.
    #[serde(default)]
    pub amount_fen: Option<u64>,
    /// Whether the household is billed at tier 1 whatever its consumption.
    #[serde(default)]
    pub tier_one_pricing: bool,
}

/// A machine-readable reason a subsidy is refused.
///
/// Policies may add codes before this crate knows them; those arrive as
/// [`SubsidyReason::Unrecognized`] rather than failing the decision.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SubsidyReason {
    /// `INCOME_ABOVE_THRESHOLD`: household income above the region's limit.
    IncomeAboveThreshold,
    /// `NOT_REGISTERED_RESIDENT`: no local residence registration.
    NotRegisteredResident,
    /// `NO_RECENT_GAS_USAGE`: no gas used in the policy's recent window.
    NoRecentGasUsage,
    /// `FRAUD_FLAG`: the account is flagged for fraud.
    FraudFlag,
    /// `REGION_NOT_ELIGIBLE`: the region is not in the programme.
    RegionNotEligible,
    /// `INCOMPLETE_APPLICATION`: a required field is absent or malformed.
    IncompleteApplication,
    /// A code this version does not know, kept verbatim.
    Unrecognized(String),
}

impl SubsidyReason {
    /// The code as the policy writes it.
    pub fn code(&self) -> &str {
        match self {
            SubsidyReason::IncomeAboveThreshold => "INCOME_ABOVE_THRESHOLD",
            SubsidyReason::NotRegisteredResident => "NOT_REGISTERED_RESIDENT",
            SubsidyReason::NoRecentGasUsage => "NO_RECENT_GAS_USAGE",
            SubsidyReason::FraudFlag => "FRAUD_FLAG",
            SubsidyReason::RegionNotEligible => "REGION_NOT_ELIGIBLE",
            SubsidyReason::IncompleteApplication => "INCOMPLETE_APPLICATION",
            SubsidyReason::Unrecognized(code) => code,
        }
    }

    /// The reason for a code; unknown codes are kept as [`Unrecognized`](Self::Unrecognized).
    pub fn from_code(code: &str) -> SubsidyReason {
        match code {
            "INCOME_ABOVE_THRESHOLD" => SubsidyReason::IncomeAboveThreshold,
            "NOT_REGISTERED_RESIDENT" => SubsidyReason::NotRegisteredResident,
            "NO_RECENT_GAS_USAGE" => SubsidyReason::NoRecentGasUsage,
            "FRAUD_FLAG" => SubsidyReason::FraudFlag,
            "REGION_NOT_ELIGIBLE" => SubsidyReason::RegionNotEligible,
            "INCOMPLETE_APPLICATION" => SubsidyReason::IncompleteApplication,
            other => SubsidyReason::Unrecognized(other.to_owned()),
        }
    }
}

impl fmt::Display for SubsidyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for SubsidyReason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for SubsidyReason {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<SubsidyReason, D::Error> {
        let code = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Ok(SubsidyReason::from_code(&code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_and_unknown_codes_survive() {
        for code in [
            "INCOME_ABOVE_THRESHOLD",
            "NOT_REGISTERED_RESIDENT",
            "NO_RECENT_GAS_USAGE",
            "FRAUD_FLAG",
            "REGION_NOT_ELIGIBLE",
            "INCOMPLETE_APPLICATION",
            "ARREARS_OVER_90_DAYS",
        ] {
            let reason: SubsidyReason = serde_json::from_str(&format!("\"{code}\"")).unwrap();
            assert_eq!(reason.code(), code);
            assert_eq!(serde_json::to_string(&reason).unwrap(), format!("\"{code}\""));
        }
        assert!(matches!(
            SubsidyReason::from_code("ARREARS_OVER_90_DAYS"),
            SubsidyReason::Unrecognized(_)
        ));
    }
}

/// `monthly_usage_m3` as the policy reads it: JSON numbers of m3, where a
/// [`Volume`] on its own would be an exact decimal string.
mod usage_as_numbers {
    use std::fmt;

    use gasbao_core::{Decimal, Volume};
    use serde::de::{self, SeqAccess, Visitor};
    use serde::ser::{self, SerializeSeq};
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(usage: &[Volume], serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(usage.len()))?;
        for (month, volume) in usage.iter().enumerate() {
            let m3 = volume.value();
            match m3.is_integer().then(|| u64::try_from(m3).ok()).flatten() {
                Some(whole) => seq.serialize_element(&whole)?,
                None => match f64::try_from(m3) {
                    Ok(m3) => seq.serialize_element(&m3)?,
                    Err(_) => {
                        return Err(ser::Error::custom(format_args!(
                            "monthly_usage_m3[{month}]: {m3} m3 is not a number a policy can read"
                        )));
                    }
                },
            }
        }
        seq.end()
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Volume>, D::Error> {
        deserializer.deserialize_seq(Months)
    }

    struct Months;

    impl<'de> Visitor<'de> for Months {
        type Value = Vec<Volume>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of monthly gas use in m3, as non-negative numbers")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Volume>, A::Error> {
            let mut usage = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(120));
            while let Some(Month(m3)) = seq.next_element()? {
                let volume = Volume::new(m3)
                    .map_err(|e| de::Error::custom(format_args!("monthly_usage_m3[{}]: {e}", usage.len())))?;
                usage.push(volume);
            }
            Ok(usage)
        }
    }

    /// One month's use, as the number it was written as.
    struct Month(Decimal);

    impl<'de> serde::Deserialize<'de> for Month {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Month, D::Error> {
            deserializer.deserialize_any(MonthVisitor)
        }
    }

    struct MonthVisitor;

    impl Visitor<'_> for MonthVisitor {
        type Value = Month;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a number of m3")
        }

        fn visit_u64<E: de::Error>(self, m3: u64) -> Result<Month, E> {
            Ok(Month(Decimal::from(m3)))
        }

        fn visit_i64<E: de::Error>(self, m3: i64) -> Result<Month, E> {
            Ok(Month(Decimal::from(m3)))
        }

        fn visit_f64<E: de::Error>(self, m3: f64) -> Result<Month, E> {
            Decimal::try_from(m3)
                .map(Month)
                .map_err(|_| E::custom(format_args!("{m3} m3 is out of range")))
        }
    }
}
