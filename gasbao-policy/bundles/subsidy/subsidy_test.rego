# Tests of the subsidy policy: one per reason code, the combinations that
# matter for appeals, and the amount and tier-1 rules. Run with
# `cargo run --example policy_test -- gasbao-policy/bundles/subsidy`.
package gasbao.subsidy_test

import rego.v1

import data.gasbao.subsidy

# A household that qualifies: Pudong (310115), 3 members, income 4,500 yuan
# a month against a limit of 3 x 1,800 = 5,400 yuan.
applicant := {
	"household_id": "HH-0001",
	"name": "Wang Fang",
	"id_number": "310115198001010021",
	"region": "310115",
	"registered_resident": true,
	"fraud_flag": false,
	"low_income_certified": false,
	"monthly_income_fen": 450000,
	"members": 3,
	"monthly_usage_m3": [30, 28, 0, 12, 9, 15],
}

test_qualifying_household_is_eligible if {
	d := subsidy.decision with input as applicant
	d.eligible == true
	d.reasons == []
}

test_amount_is_base_plus_members_capped if {
	# 120 + 3 x 30 = 210 yuan, under the 240 cap.
	d := subsidy.decision with input as applicant
	d.amount_fen == 21000
	# 120 + 5 x 30 = 270 yuan, capped at 240.
	big := object.union(applicant, {"members": 5})
	subsidy.decision.amount_fen == 24000 with input as big
}

test_income_above_threshold if {
	d := subsidy.decision with input as object.union(applicant, {"monthly_income_fen": 540001})
	d.reasons == ["INCOME_ABOVE_THRESHOLD"]
	d.eligible == false
	d.amount_fen == null
}

test_income_at_threshold_is_within if {
	d := subsidy.decision with input as object.union(applicant, {"monthly_income_fen": 540000})
	d.eligible == true
}

test_region_without_own_threshold_uses_default if {
	# Nanjing 320102 uses 1,500 yuan per member: 3 x 1,500 = 4,500 yuan.
	at := object.union(applicant, {"region": "320102", "monthly_income_fen": 450000})
	subsidy.decision.eligible == true with input as at
	above := object.union(at, {"monthly_income_fen": 450001})
	subsidy.decision.reasons == ["INCOME_ABOVE_THRESHOLD"] with input as above
}

test_not_registered_resident if {
	d := subsidy.decision with input as object.union(applicant, {"registered_resident": false})
	d.reasons == ["NOT_REGISTERED_RESIDENT"]
}

test_no_recent_gas_usage if {
	# Usage only in months 1-3 of 6; the last 3 are zero.
	d := subsidy.decision with input as object.union(applicant, {"monthly_usage_m3": [30, 28, 5, 0, 0, 0]})
	d.reasons == ["NO_RECENT_GAS_USAGE"]
}

test_usage_in_window_edge_counts if {
	# Only the third-newest month has gas: still inside a 3-month window.
	d := subsidy.decision with input as object.union(applicant, {"monthly_usage_m3": [0, 0, 0, 4, 0, 0]})
	d.eligible == true
}

test_new_account_with_no_readings if {
	d := subsidy.decision with input as object.union(applicant, {"monthly_usage_m3": []})
	d.reasons == ["NO_RECENT_GAS_USAGE"]
}

test_fraud_flag if {
	d := subsidy.decision with input as object.union(applicant, {"fraud_flag": true})
	d.reasons == ["FRAUD_FLAG"]
}

test_region_not_eligible if {
	# Beijing Dongcheng is not in the programme.
	d := subsidy.decision with input as object.union(applicant, {"region": "110101"})
	d.reasons == ["REGION_NOT_ELIGIBLE"]
}

test_incomplete_application if {
	d := subsidy.decision with input as object.remove(applicant, ["members"])
	d.reasons == ["INCOMPLETE_APPLICATION"]
	d.eligible == false
}

test_wrong_type_is_incomplete if {
	d := subsidy.decision with input as object.union(applicant, {"monthly_income_fen": "450000"})
	d.reasons == ["INCOMPLETE_APPLICATION"]
}

test_reading_that_is_not_a_number_is_incomplete if {
	d := subsidy.decision with input as object.union(applicant, {"monthly_usage_m3": [0, 0, "3"]})
	d.reasons == ["INCOMPLETE_APPLICATION"]
}

test_zero_members_is_incomplete if {
	d := subsidy.decision with input as object.union(applicant, {"members": 0})
	d.reasons == ["INCOMPLETE_APPLICATION"]
}

test_every_reason_at_once_sorted if {
	worst := object.union(applicant, {
		"region": "110101",
		"registered_resident": false,
		"fraud_flag": true,
		"monthly_income_fen": 99999999,
		"monthly_usage_m3": [0, 0, 0],
	})
	d := subsidy.decision with input as worst
	d.reasons == [
		"FRAUD_FLAG",
		"INCOME_ABOVE_THRESHOLD",
		"NOT_REGISTERED_RESIDENT",
		"NO_RECENT_GAS_USAGE",
		"REGION_NOT_ELIGIBLE",
	]
}

test_low_income_always_tier_one if {
	low := object.union(applicant, {"low_income_certified": true})
	subsidy.decision.tier_one_pricing == true with input as low
	# Even when the subsidy itself is refused.
	refused := object.union(low, {"fraud_flag": true, "region": "110101"})
	d := subsidy.decision with input as refused
	d.tier_one_pricing == true
	d.eligible == false
}

test_others_not_tier_one if {
	subsidy.decision.tier_one_pricing == false with input as applicant
}
