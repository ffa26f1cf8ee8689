# Heating-gas subsidy eligibility.
#
# An application is eligible when no reason code applies. Every reason is a
# stable, machine-readable code that the billing system and the appeal desk
# both read, so codes are only ever added, never renamed.
package gasbao.subsidy

import rego.v1

# The single entrypoint: what the service asks for.
decision := {
	"eligible": eligible,
	"reasons": sort(reasons),
	"amount_fen": amount_fen,
	"tier_one_pricing": tier_one_pricing,
}

default eligible := false

eligible if count(reasons) == 0

# A field that is absent or of the wrong type makes the application
# incomplete; the other checks then cannot be trusted, so it is never eligible.
reasons contains "INCOMPLETE_APPLICATION" if not complete

reasons contains "INCOME_ABOVE_THRESHOLD" if {
	complete
	input.monthly_income_fen > income_limit_fen
}

reasons contains "NOT_REGISTERED_RESIDENT" if {
	complete
	not input.registered_resident
}

reasons contains "NO_RECENT_GAS_USAGE" if {
	complete
	not used_gas_recently
}

reasons contains "FRAUD_FLAG" if {
	complete
	input.fraud_flag
}

reasons contains "REGION_NOT_ELIGIBLE" if {
	complete
	not input.region in data.subsidy.eligible_regions
}

complete if {
	is_string(input.region)
	is_boolean(input.registered_resident)
	is_boolean(input.fraud_flag)
	is_boolean(input.low_income_certified)
	is_number(input.monthly_income_fen)
	input.monthly_income_fen >= 0
	is_number(input.members)
	input.members >= 1
	is_array(input.monthly_usage_m3)
	# Rego orders values of different types ("3" > 0 is true), so a reading
	# that is not a number would count as gas used.
	every m3 in input.monthly_usage_m3 {
		is_number(m3)
	}
}

# The income limit scales with the household: per-member threshold of the
# household's region, or the national default.
income_limit_fen := per_member_threshold_fen * input.members

default per_member_threshold_fen := 0

per_member_threshold_fen := data.subsidy.income_per_member_fen[input.region]

per_member_threshold_fen := data.subsidy.default_income_per_member_fen if {
	not data.subsidy.income_per_member_fen[input.region]
}

# Readings are monthly, oldest first; gas counts as used when any of the
# last N months shows consumption.
used_gas_recently if {
	n := count(input.monthly_usage_m3)
	window := data.subsidy.recent_usage_months
	some i, m3 in input.monthly_usage_m3
	i >= n - window
	m3 > 0
}

default amount_fen := null

amount_fen := min([
	data.subsidy.amount.base_fen + data.subsidy.amount.per_member_fen * input.members,
	data.subsidy.amount.max_fen,
]) if eligible

# Certified low-income households are billed at tier 1 whatever their
# consumption, whether or not they receive the subsidy.
default tier_one_pricing := false

tier_one_pricing if input.low_income_certified == true
