#!/usr/bin/env bats
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Kernel expiry: with no ctaccel process running, expired flows leave the
# table within the documented bound (pause + two passes past their timeout),
# through compare-and-delete (the books balance); stop, start, a forced pass
# and a live upgrade keep it whole. The oracles: nf_conntrack's own expiry of
# the same connections, and the clock.

load lib

setup_file() {
	topo_names "ex$$"
	topo_up
	oracle_on
}

teardown_file() {
	topo_down
}

teardown() {
	ctaccel_g unload force >/dev/null 2>&1 || true
}

expiry() { ctaccel_g -j expiry; }

# created = in the table + removed, and the gauges equal the table.
books_balance() {
	local st
	st=$(ctaccel_g -j stats)
	[[ $(jq '.counters.flows_created' <<<"$st") -eq \
		$(($(ctaccel_g -j flow count | jq .flows) + $(jq '.counters | .flows_expired + .flows_reopened + .flows_killed + .flows_deleted + .unreplied_evicted' <<<"$st"))) ]]
	[[ $(jq '[.states[]] | add' <<<"$st") -eq $(ctaccel_g -j flow count | jq .flows) ]]
}

# Polls the table every 0.1 s, at most $1 s, until it is empty; prints the
# seconds until the last poll that still saw a flow and until the first that
# saw none (the table emptied between the two), and the largest pause the
# walks set meanwhile.
until_empty() {
	local t0 seen=0 max_pause=0 now
	t0=$(date +%s.%N)
	while :; do
		now=$(date +%s.%N)
		(($(ctaccel_g -j flow count | jq .flows) > 0)) || break
		seen=$(awk -v a="$now" -v b="$t0" 'BEGIN {print a - b}')
		max_pause=$(expiry | jq --argjson m "$max_pause" '[.pause_seconds, $m] | max')
		if awk -v s="$seen" -v l="$1" 'BEGIN {exit !(s > l)}'; then
			echo "not empty after $1 s" >&2
			return 1
		fi
		sleep 0.1
	done
	echo "$seen $(awk -v a="$now" -v b="$t0" 'BEGIN {print a - b}') $max_pause"
}

@test "no ctaccel process: 20,000 flows leave within pause + two passes of their timeout" {
	ctaccel_g load local off max-flows 65536 unreplied-max 65536 timeout-syn-sent 2 \
		expiry-interval 0.5 >/dev/null
	"$OUT/flowfill" fill "$PIN" 20000
	# nothing of ctaccel runs from here on: the kernel alone
	run pgrep -f -- "--pin-path $PIN"
	[[ $status -eq 1 ]]
	out=$(until_empty 30)
	read -r seen took max_pause <<<"$out"
	pass=$(expiry | jq .last_pass_seconds)
	echo "# still a flow $seen s after the last insert, none at $took s: timeout 2 s," \
		"pause at most $max_pause s, last walk $pass s" >&3
	# a flow seen after timeout + pause + two walks breaks the bound (with
	# 50 ms for the timer and the worker to wake, and jiffies' rounding)
	awk -v t="$seen" -v p="$max_pause" -v q="$pass" 'BEGIN {exit !(t <= 2 + p + 2 * q + 0.05)}'
	# and none went before its timeout
	awk -v t="$took" 'BEGIN {exit !(t >= 1.9)}'
	[[ $(expiry | jq .removed) -eq 20000 ]]
	[[ $(ctaccel_g -j stats | jq .counters.flows_deleted) -eq 20000 ]]
	books_balance
}

@test "real connections expire as nf_conntrack's do, IPv4 and IPv6, with nothing asked" {
	# 2 s timeouts; CTACCEL_TEST_SCALE=N (a virtual machine's emulated
	# CPUs, tests/kernels: making the 70 connections takes seconds) N times
	# that, so that the flows are still there to be compared
	local t=$((2 * ${CTACCEL_TEST_SCALE:-1}))
	ctaccel_g load timeout-time-wait "$t" timeout-close "$t" expiry-interval 0.5 >/dev/null
	ctaccel_g attach vgc vgs >/dev/null
	in_ns "$G" sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_time_wait="$t"
	in_ns "$G" sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_close="$t"
	in_ns "$G" conntrack -F >/dev/null 2>&1 || true
	in_ns "$C" "$TCPGEN" client 198.18.1.2 80 c 30 >/dev/null
	in_ns "$C" "$TCPGEN" client 2001:db8:1::2 80 s 30 >/dev/null
	in_ns "$C" "$TCPGEN" client 198.18.1.2 80 R 10 >/dev/null
	sleep 0.5 # the last closes cross the gateway
	# equal to nf_conntrack while both still hold them (some may already
	# have gone on both sides on a slow machine: 2 s timeouts)
	[[ "$(ctaccel_flows)" == "$(conntrack_flows)" ]]
	[[ $(ctaccel_g -j stats | jq .counters.flows_created) -eq 70 ]]
	run pgrep -f -- "--pin-path $PIN"
	[[ $status -eq 1 ]]
	out=$(until_empty $((18 + t)))
	read -r seen took max_pause <<<"$out"
	echo "# 70 connections gone $seen to $took s after they closed (pause at most $max_pause s)" >&3
	# both trackers dropped them: nf_conntrack by its timers, ctaccel by its passes
	for _ in $(seq $((30 + 5 * t))); do
		[[ -z "$(conntrack_flows)" ]] && break
		sleep 0.2
	done
	[[ -z "$(conntrack_flows)" ]]
	[[ $(ctaccel_g -j stats | jq '.counters.flows_deleted + .counters.flows_expired') -eq 70 ]]
	books_balance
	in_ns "$G" sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_time_wait=120
	in_ns "$G" sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_close=10
}

@test "expiry stop keeps expired flows (status says so), gc removes them, start resumes" {
	local left
	ctaccel_g load local off timeout-syn-sent 1 expiry-interval 0.2 >/dev/null
	ctaccel_g expiry stop
	"$OUT/flowfill" fill "$PIN" 500
	sleep 2.5
	[[ $(ctaccel_g -j flow count | jq .flows) -eq 500 ]]
	# Expiry counts as running until a check is overdue: the pause the last
	# one set (200 times its walk, which a cold table makes long), twice
	# that walk, and 2 s (lib/expiry.c). Wait out what is left of that.
	left=$(expiry | jq '.pause_seconds + 2 * .last_pass_seconds + 2.2 - .since_last_check_seconds')
	if awk -v s="$left" 'BEGIN {exit !(s > 0)}'; then sleep "$left"; fi
	expiry | jq -e '.stopped and (.running | not)'
	ctaccel_g -j status | jq -e '.problems | any(test("kernel expiry is stopped"))'
	run ctaccel_g status
	[[ $output == *"kernel, STOPPED"* ]]
	# a forced pass, in the caller's time
	[[ "$(ctaccel_g -j gc | jq -c '[.scanned, .expired, .deleted]')" == "[500,500,500]" ]]
	[[ $(ctaccel_g -j flow count | jq .flows) -eq 0 ]]
	ctaccel_g expiry start
	"$OUT/flowfill" fill "$PIN" 300
	until_empty 10 >/dev/null
	expiry | jq -e '.running and (.stopped | not) and .removed == 300 and .interval_ms == 200'
	ctaccel_g -j status | jq -e '.problems == []'
	books_balance
}

@test "a live upgrade hands expiry to the new programs, settings kept" {
	ctaccel_g load local off timeout-syn-sent 1 expiry-interval 0.3 >/dev/null
	local before after
	before=$(expiry | jq .passes)
	ctaccel_g replace force
	"$OUT/flowfill" fill "$PIN" 200
	until_empty 10 >/dev/null
	after=$(expiry | jq .passes)
	((after > before))
	expiry | jq -e '.running and .interval_ms == 300 and .removed == 200'
	books_balance
}

@test "bad expiry input: exit 2 and one message naming it" {
	ctaccel_g load local off >/dev/null
	run ctaccel_g expiry frobnicate
	[[ $status -eq 2 && $output == *"expiry: unknown 'frobnicate'"* ]]
	run ctaccel_g expiry start expiry-interval 0
	[[ $status -eq 2 && $output == *"interval '0'"* ]]
	run ctaccel_g expiry stop now
	[[ $status -eq 2 ]]
	ctaccel_g unload >/dev/null
	run ctaccel_g load expiry-interval soon
	[[ $status -eq 2 && $output == *"expiry-interval 'soon'"* ]]
	[[ $(printf '%s\n' "$output" | wc -l) -eq 1 ]]
}
