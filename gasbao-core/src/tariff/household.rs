//! Who is being billed, as far as the tariff cares.

/// The facts about a household that change which tariff applies to it.
///
/// # Examples
///
/// ```
/// use gasbao_core::Household;
///
/// let family = Household::of(6);
/// let low_income = Household::of(2).billed_at_tier_one();
/// assert!(low_income.tier_one_only() && !family.tier_one_only());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Household {
    members: u32,
    tier_one_only: bool,
}

impl Household {
    /// A household of `members` people.
    #[must_use]
    pub const fn of(members: u32) -> Household {
        Household {
            members,
            tier_one_only: false,
        }
    }

    /// The same household, billed at the tier-1 price for all its volume (as
    /// Chongqing bills low-income households).
    #[must_use]
    pub const fn billed_at_tier_one(self) -> Household {
        Household {
            tier_one_only: true,
            ..self
        }
    }

    /// Number of people in the household.
    #[must_use]
    pub const fn members(&self) -> u32 {
        self.members
    }

    /// Whether all volume is billed at the tier-1 price.
    #[must_use]
    pub const fn tier_one_only(&self) -> bool {
        self.tier_one_only
    }
}
