#!/usr/bin/env bats
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# The paths ctaccel takes for the running kernel (docs/kernels.md): said the
# same way by status, -j status, /v1/status and /metrics; and the paths of an
# older kernel, forced here with CTACCEL_WITHOUT, exact against nf_conntrack
# on real traffic through the gateway.
#
# CTACCEL_EXPECT_PATHS (tests/kernels/run.sh sets it per kernel) is what the
# running kernel must get, "feature=path" comma-separated; without it, the
# development kernel's: every feature's path with it.

load lib

PORT=9476
OLD_PATHS=checksum_status,route_memo,fib_lookup,expiry

setup_file() {
	topo_names "kn$$"
	topo_up
	oracle_on
}

teardown_file() {
	topo_down
}

teardown() {
	daemon_teardown
}

expected() {
	echo "${CTACCEL_EXPECT_PATHS:-checksum_status=kern_ctx,route_memo=rt_genid,fib_lookup=skip_neigh,expiry=workqueue,tc_attach=tcx}" |
		tr ',' '\n' | sort
}

@test "status, -j status, /v1/status and /metrics name the path each feature took on this kernel" {
	local want
	want=$(expected)
	ctaccel_g load local off >/dev/null
	ctaccel_g attach vgc vgs >/dev/null
	[[ $(ctaccel_g -j status | jq -r '.kernel.features | to_entries[] | "\(.key)=\(.value.path)"' | sort) == "$want" ]]
	[[ $(ctaccel_g -j status | jq -r .kernel.release) == "$(uname -r)" ]]
	# the text line: each feature with its path
	run ctaccel_g status
	local line
	line=$(grep '^kernel ' <<<"$output")
	while IFS='=' read -r f p; do
		[[ $line == *" $f $p"* ]]
	done <<<"$want"
	# the devices' hooks are what tc_attach says
	[[ $(ctaccel_g -j status | jq -r '[.devices[].hook] | unique | join(",")') == "$(grep '^tc_attach=' <<<"$want" | cut -d= -f2)" ]]
	daemon_start
	[[ $(http /v1/status | jq -r '.kernel.features | to_entries[] | "\(.key)=\(.value.path)"' | sort) == "$want" ]]
	[[ $(http /metrics | awk -F'[{}]' '$1 == "ctaccel_kernel_feature" {print $2}' |
		sed -E 's/feature="([^"]*)",path="([^"]*)"/\1=\2/' | sort) == "$want" ]]
}

@test "an older kernel's paths, forced: every flow equal to conntrack's, expiry by the timer" {
	CTACCEL_WITHOUT=$OLD_PATHS ctaccel_g load local off >/dev/null
	ctaccel_g attach vgc vgs >/dev/null
	[[ $(ctaccel_g -j status | jq -r '[.kernel.features[] | .path] | join(",")') == helpers,none,neigh_check,timer,* ]]
	in_ns "$C" conntrack -F 2>/dev/null || true
	in_ns "$G" conntrack -F 2>/dev/null
	traffic_mix 198.18.1.2
	traffic_mix 2001:db8:1::2
	local try ok=0 ours theirs
	for try in 1 2 3; do
		ctaccel_g gc >/dev/null
		ours=$(ctaccel_flows)
		theirs=$(conntrack_flows)
		[[ -n $ours && $ours == "$theirs" ]] && ok=1 && break
	done
	diff <(echo "$ours") <(echo "$theirs") || true
	((ok))
	# checksums were looked at: veth's local packets are CHECKSUM_PARTIAL
	# and must not be taken as bad
	[[ $(ctaccel_g -j stats | jq .counters.bad_checksum) -eq 0 ]]
	[[ $(ctaccel_g -j expiry | jq .running) == true ]]
	# a live replace keeps the forced paths
	CTACCEL_WITHOUT=$OLD_PATHS ctaccel_g replace force >/dev/null
	[[ $(ctaccel_g -j status | jq -r '.kernel.features.expiry.path') == timer ]]
	[[ $(ctaccel_g -j status | jq -r '.kernel.features.checksum_status.path') == helpers ]]
}
