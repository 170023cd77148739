#!/usr/bin/env bats
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# A spoofed SYN flood cannot crowd real flows out of the table: flows without
# a reply hold at most unreplied-max entries, the oldest of them make room
# (counted in unreplied_evicted), and real connections made during the flood
# are tracked from SYN to TIME_WAIT, equal to nf_conntrack's. The flood goes
# to port 9, whose SYNs the server drops (nothing answers them).

load lib

setup_file() {
	topo_names "fl$$"
	topo_up
	oracle_on
}

teardown_file() {
	topo_down
}

setup() {
	ctaccel_g unload force >/dev/null 2>&1 || true
	in_ns "$G" conntrack -F >/dev/null 2>&1 || true
	ctaccel_g load max-flows 1024 local off >/dev/null
	ctaccel_g attach vgc vgs >/dev/null
}

teardown() {
	ctaccel_g unload force >/dev/null 2>&1 || true
}

counters() { ctaccel_g -j stats | jq -c ".counters | {$1}"; }

# The books balance: created = in the table + removed, the gauges equal the
# table by state, and the packets of every flow ever tracked are accounted.
books_balance() {
	local st
	st=$(ctaccel_g -j stats)
	[[ $(jq '.counters.flows_created' <<<"$st") -eq \
		$(($(ctaccel_g -j flow count | jq .flows) + $(jq '.counters | .flows_expired + .flows_reopened + .flows_killed + .flows_deleted + .unreplied_evicted' <<<"$st"))) ]]
	[[ "$(jq -r '.states | to_entries[] | select(.value > 0) | "\(.key) \(.value)"' <<<"$st" | sort)" == \
		"$(ctaccel_g -j flow show | jq -r '.[].state' | sort | uniq -c | awk '{print $2, $1}')" ]]
	[[ $(jq '.counters.tracked_packets' <<<"$st") -eq \
		$(($(ctaccel_g -j flow show | jq '[.[] | .orig_packets + .reply_packets] | add // 0') + $(jq .counters.deleted_packets <<<"$st"))) ]]
}

# Flows to port 80 (the real ones), as ctaccel_flows and conntrack_flows print them.
real_ctaccel() { ctaccel_flows | awk '$4 == 80'; }
real_conntrack() { conntrack_flows | awk '$4 == 80'; }

real_connections_tracked() {
	local full0=$1
	# all 100 tracked from SYN to TIME_WAIT, each equal to nf_conntrack's
	[[ $(real_ctaccel | awk '$5 == "TIME_WAIT"' | wc -l) -eq 100 ]]
	[[ "$(real_ctaccel)" == "$(real_conntrack)" ]]
	# none of them met a full table
	[[ $(counters table_full | jq .table_full) -eq $full0 ]]
}

@test "IPv4: 20,000 spoofed SYNs (hping3), then 100 real connections, all tracked and exact" {
	local a full0
	[[ $(ctaccel_g -j status | jq .unreplied_max) -eq 256 ]]
	for a in 100 101 102 103 104 105 106 107 108 109; do
		in_ns "$C" timeout 30 hping3 -q -S -p 9 -a "198.18.0.$a" -s 10000 -c 2000 -i u20 \
			198.18.1.2 >/dev/null 2>&1 || true
	done
	counters flows_created,unreplied_evicted,table_full
	# every spoofed SYN got an entry: the flood never met a full table
	[[ $(counters flows_created | jq .flows_created) -eq 20000 ]]
	[[ $(counters unreplied_evicted | jq .unreplied_evicted) -eq $((20000 - 256)) ]]
	full0=$(counters table_full | jq .table_full)
	[[ $full0 -eq 0 ]]
	in_ns "$C" "$TCPGEN" client 198.18.1.2 80 c 100 | grep -q "ok 100 fail 0"
	real_connections_tracked "$full0"
	books_balance
}

@test "IPv6: the same flood from spoofed sources, then 100 real connections" {
	local full0
	in_ns "$C" /usr/bin/python3 "$ROOT/tests/integration/synflood.py" 2001:db8:: 16 \
		2001:db8:1::2 9 20000
	[[ $(counters unreplied_evicted | jq .unreplied_evicted) -eq $((20000 - 256)) ]]
	full0=$(counters table_full | jq .table_full)
	in_ns "$C" "$TCPGEN" client 2001:db8:1::2 80 c 100 | grep -q "ok 100 fail 0"
	real_connections_tracked "$full0"
	books_balance
}

@test "a flood during real connections evicts none of them, and the flow is still exact" {
	ctaccel_g unload force >/dev/null
	ctaccel_g load max-flows 1024 unreplied-max 128 local off >/dev/null
	ctaccel_g attach vgc vgs >/dev/null
	# persistent connections first, then the flood beside them
	in_ns "$C" "$OUT/rr" 198.18.1.2 80 3 4 >"$BATS_TEST_TMPDIR/rr" &
	sleep 0.5
	in_ns "$C" /usr/bin/python3 "$ROOT/tests/integration/synflood.py" 2001:db8:: 64 \
		2001:db8:1::2 9 5000
	in_ns "$C" timeout 30 hping3 -q -S -p 9 -a 198.18.0.200 -s 20000 -c 5000 -i u20 \
		198.18.1.2 >/dev/null 2>&1 || true
	wait $!
	grep -Eq "^ok [1-9][0-9]* fail 0$" "$BATS_TEST_TMPDIR/rr"
	[[ $(counters unreplied_evicted | jq .unreplied_evicted) -eq $((10000 - 128)) ]]
	[[ $(real_ctaccel | wc -l) -eq 4 ]]
	[[ "$(real_ctaccel)" == "$(real_conntrack)" ]]
	books_balance
}

@test "unreplied-max: a bad value is refused once, the daemon takes it too" {
	ctaccel_g unload force >/dev/null
	run ctaccel_g load max-flows 1024 unreplied-max 2000
	[[ $status -ne 0 && $output == *"unreplied-max 2000 is more than max-flows 1024"* ]]
	[[ $(grep -c ctaccel: <<<"$output") -eq 1 ]]
	run ctaccel_g load unreplied-max 0
	[[ $status -eq 2 && $output == *"unreplied-max '0'"* ]]
	run nsenter --net="/run/netns/$G" "$CTACCEL" --pin-path "$PIN" daemon --check-config \
		--max-flows 4096 --unreplied-max 512
	[[ $status -eq 0 ]]
}
