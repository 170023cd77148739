#!/usr/bin/env bats
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Live upgrades under traffic, from the previous ABI's state (its daemon's
# start migrates it): scripts/soak-upgrade.sh with 50 swaps (make
# soak-upgrade runs 1,000; CTACCEL_TEST_SCALE=N, in a virtual machine whose
# emulated CPUs verify each program for seconds, 50/N). It sets up and
# removes its own namespaces.

load lib

SWAPS=$((50 / ${CTACCEL_TEST_SCALE:-1}))

@test "50 live upgrades under traffic: every swap, readiness always, every flow equal to nf_conntrack's" {
	SWAPS=$SWAPS run bash "$ROOT/scripts/soak-upgrade.sh"
	echo "$output"
	[[ $status -eq 0 ]]
	[[ $output == *"swaps: $SWAPS of $SWAPS succeeded"* ]]
	[[ $output == *" 0 not 200"* ]]
	[[ $output == *"each equal to nf_conntrack's"* ]]
	# the previous ABI's state, migrated by the daemon at its start
	[[ $output == *"the daemon migrated the state of abi "* ]]
	echo "$output" | grep -E "^start|^swap time|^traffic|^readiness" | sed 's/^/# /' >&3
}
