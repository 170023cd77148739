#!/usr/bin/env bats
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Live upgrades under traffic: scripts/soak-upgrade.sh with 50 swaps (make
# soak-upgrade runs 1,000). It sets up and removes its own namespaces.

load lib

@test "50 live upgrades under traffic: every swap, readiness always, every flow equal to nf_conntrack's" {
	SWAPS=50 run bash "$ROOT/scripts/soak-upgrade.sh"
	echo "$output"
	[[ $status -eq 0 ]]
	[[ $output == *"swaps: 50 of 50 succeeded"* ]]
	[[ $output == *" 0 not 200"* ]]
	[[ $output == *"each equal to nf_conntrack's"* ]]
	echo "$output" | grep -E "^swap time|^traffic|^readiness" | sed 's/^/# /' >&3
}
