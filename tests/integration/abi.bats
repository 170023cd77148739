#!/usr/bin/env bats
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Migrations across an ABI change (docs/upgrading.md): state pinned by the
# previous ABI's last build (made by `make test` from this repository's
# history: the Makefile's ABI_COMMITS) is carried to this build by `ctaccel
# replace` and by a daemon's start, under traffic on both CPUs; state of the
# oldest ABI served, through the chain of steps. Every flow equals
# nf_conntrack's after it (state, packets and bytes each way), every entry
# keeps its bytes, every counter and gauge goes on, and a migration that
# cannot complete leaves the old programs and maps as they were.

load lib

PORT=9476
ABI=$("$CTACCEL" --version | sed -n 's/.*(abi \([0-9]*\),.*/\1/p')
PREV=$OUT/abi$((ABI - 1))/ctaccel
# the oldest ABI a migration serves (the Makefile's first in ABI_COMMITS)
OLDEST=$(ls -d "$OUT"/abi[0-9]* | sed 's/.*abi//' | sort -n | head -n1)

setup_file() {
	topo_names "ab$$"
	topo_up
	oracle_on
}

teardown_file() {
	rm -f "$BATS_FILE_TMPDIR/run"
	topo_down
}

# Each test from nothing: no state, and no flow of the one before in
# nf_conntrack's table (its TIME_WAIT flows last 120 s).
setup() {
	in_ns "$G" conntrack -F 2>/dev/null || true
}

teardown() {
	traffic_end
	daemon_teardown
}

# The previous build, on the test's state.
prev_g() {
	nsenter --net="/run/netns/$G" "$PREV" --pin-path "$PIN" "$@"
}

# Every entry of the pinned table as bpftool reads it (an oracle that is
# neither build): key, and value but its last 4 bytes (ctaccel_flow's
# unreplied_claim, 0 in the previous ABI, which the migration sets for the
# flows still waiting for a reply), sorted.
entries() {
	bpftool -j map dump pinned "$PIN/ctaccel_flows" | jq -c 'map([.key, .value[0:92]]) | sort'
}

@test "the previous ABIs' builds are what they say" {
	local abi
	for abi in $(seq "$OLDEST" $((ABI - 1))); do
		[[ $("$OUT/abi$abi/ctaccel" --version) == *"(abi $abi,"* ]]
	done
	((OLDEST < ABI - 1)) # a chain of more than one step is tested below
}

@test "state of the previous ABI is refused by this build's other commands, and says how to migrate it" {
	prev_g load max-flows 4096 >/dev/null
	run ctaccel_g status
	[[ $status -ne 0 ]]
	[[ $output == *"is of abi "*"'ctaccel replace', or a daemon of this build at its start, migrates it (flows kept)"* ]]
	run ctaccel_g set timeout-close 11
	[[ $status -ne 0 ]]
	# nothing changed: the previous build still reads its state
	prev_g status >/dev/null
}

@test "replace across the ABI is refused while a daemon of the previous build runs on the state" {
	prev_g load max-flows 4096 >/dev/null
	CTACCEL=$PREV daemon_start --max-flows 4096
	run ctaccel_g replace
	echo "$output"
	[[ $status -ne 0 ]]
	[[ $output == *"a ctaccel daemon (pid $(cat "$BATS_FILE_TMPDIR/daemon.pid")) runs on this state and holds its maps"* ]]
	# nothing changed: the previous build still reads its state
	prev_g status >/dev/null
	[[ ! -e $PIN/ctaccel_flows_new ]]
}

@test "replace migrates the previous ABI's state under traffic on both CPUs: every flow equal to nf_conntrack's, every packet counted once" {
	local out
	prev_g load max-flows 4096 timeout syn_sent2 130 >/dev/null
	prev_g attach vgc vgs >/dev/null
	traffic_start 3
	wait_until 100 '(( $(prev_g -j flow count | jq .flows) > 50 ))'
	run ctaccel_g replace
	echo "$output"
	[[ $status -eq 0 ]]
	out=$output
	[[ $out =~ "migrated the state of abi "[0-9]+" to abi "[0-9]+": "[0-9]+" flows in" ]]
	[[ $out == *"programs replaced; flows and counters kept"* ]]
	grep -o "migrated .*" <<<"$out" | sed 's/^/# /' >&3
	# this build's state now: the previous one no longer opens it
	ctaccel_g -j status | jq -e '.max_flows == 4096 and .timeouts.SYN_SENT2 == 130'
	run prev_g status
	[[ $status -ne 0 ]]
	traffic_stop
	[[ $(ctaccel_g -j stats | jq '.counters | .migrations, .migrate_conflicts' | xargs) == "1 0" ]]
	(($(ctaccel_g -j stats | jq .counters.flows_migrated) > 50))
	equal_to_conntrack
	wait_until 20 counted_once
}

@test "state of the oldest ABI served, through every step: each entry keeps its bytes, every counter, gauge and policy rule goes on, and bypass decisions stay" {
	local before stats rules checks timeouts
	PREV=$OUT/abi$OLDEST/ctaccel
	# timeouts and a mark other than the defaults: carried into this
	# build's map
	prev_g load max-flows 4096 timeout close_wait 77 timeout unack 99 mark 0x2000000/0x2000000 >/dev/null
	prev_g attach vgc vgs >/dev/null
	# IPv6 flows bypassed (off nf_conntrack), IPv4 ones tracked by both
	prev_g policy add 2001:db8:1::/64 port 80 >/dev/null
	run in_ns "$C" "$TCPGEN" client 198.18.1.2 80 c 20
	[[ $output == "ok 20 fail 0" ]]
	run in_ns "$C" "$TCPGEN" client 2001:db8:1::2 80 c 20
	[[ $output == "ok 20 fail 0" ]]
	prev_g expiry stop >/dev/null
	before=$(entries)
	(($(jq length <<<"$before") == 40))
	[[ $(prev_g -j flow show | jq '[.[] | select(.bypass)] | length') -eq 20 ]]
	stats=$(prev_g -j stats)
	rules=$(prev_g policy show)
	checks=$(prev_g -j expiry | jq .checks)
	timeouts=$(prev_g -j status | jq -c '[.timeouts, .mark]')
	jq -e '.[0].CLOSE_WAIT == 77 and .[0].UNACK == 99 and .[1] == "0x02000000/0x02000000"' <<<"$timeouts"
	run ctaccel_g replace
	echo "$output"
	[[ $status -eq 0 && $output == *"migrated the state of abi"* ]]
	[[ $(entries) == "$before" ]]
	[[ $(ctaccel_g -j flow show | jq '[.[] | select(.bypass)] | length') -eq 20 ]]
	# the previous build's counters and gauges, each equal (the migration's
	# own counters are this build's additions)
	ctaccel_g -j stats >"$BATS_TEST_TMPDIR/after"
	# what moved, for a failure's log
	diff <(jq -S . <<<"$stats") <(jq -S . "$BATS_TEST_TMPDIR/after") || true
	# the gauges, and the counters of flows, equal; every other counter of
	# the previous build's at least what it was (the namespaces' own IPv6
	# neighbour traffic goes on meanwhile)
	jq -e --slurpfile after "$BATS_TEST_TMPDIR/after" '
		($after[0]) as $a |
		(.states == $a.states) and
		(.counters | to_entries | all(.value <= $a.counters[.key])) and
		([.counters | .tracked_packets, .tracked_bytes, .flows_created, .flows_closed,
		  .transitions, .bypassed_packets, .deleted_packets] ==
		 [$a.counters | .tracked_packets, .tracked_bytes, .flows_created, .flows_closed,
		  .transitions, .bypassed_packets, .deleted_packets])' <<<"$stats"
	[[ $(ctaccel_g policy show) == "$rules" ]]
	[[ $(ctaccel_g -j status | jq -c '[.timeouts, .mark]') == "$timeouts" ]]
	# and the mark in use: the bypassed flows' next packets stay off nf_conntrack
	in_ns "$G" nft list table inet ctaccel | grep -q "meta mark & 0x02000000 == 0x02000000 notrack"
	# expiry, stopped before, stays stopped: not one check since
	ctaccel_g -j expiry | jq -e --argjson c "$checks" '.stopped and .checks == $c' 
}

@test "a migration across the ABI that cannot complete rolls back: the previous build's programs and table in place, and it says why" {
	local progs before
	prev_g load max-flows 4096 >/dev/null
	prev_g attach vgc vgs >/dev/null
	run in_ns "$C" "$TCPGEN" client 198.18.1.2 80 c 20
	[[ $output == "ok 20 fail 0" ]]
	progs=$(prev_g -j status | jq -c .programs)
	before=$(entries)
	# the record's name taken by a pin that is no record
	bpftool map pin pinned "$PIN/ctaccel_monitor" "$PIN/migration"
	run ctaccel_g replace
	echo "$output"
	[[ $status -ne 0 ]]
	[[ $output == *"record the migration in $PIN/migration: File exists"* ]]
	[[ $output == *"not done (the state stays abi "* ]]
	[[ $(prev_g -j status | jq -c .programs) == "$progs" ]]
	diff <(entries | jq -c '.[]') <(jq -c '.[]' <<<"$before")
	(CTACCEL=$PREV equal_to_conntrack)
	# the name free again, the same migration goes through
	rm "$PIN/migration"
	run ctaccel_g replace
	[[ $status -eq 0 && $output == *"migrated the state of abi"* ]]
	[[ ! -e $PIN/migration ]]
	equal_to_conntrack
}

@test "a migration from the oldest ABI killed after it carried the counters is finished by the next replace: every entry, counter and gauge carried once" {
	local before stats
	PREV=$OUT/abi$OLDEST/ctaccel
	prev_g load max-flows 4096 >/dev/null
	prev_g attach vgc vgs >/dev/null
	run in_ns "$C" "$TCPGEN" client 198.18.1.2 80 c 20
	[[ $output == "ok 20 fail 0" ]]
	prev_g expiry stop >/dev/null
	before=$(entries)
	stats=$(prev_g -j stats)
	# the counters' layout changed since the oldest ABI: a new map takes
	# the old totals, and the process dies right after
	CTACCEL_MIGRATE_STOP=carried run ctaccel_g replace
	echo "$output"
	[[ $status -eq 137 ]]
	[[ -d $PIN/migration ]]
	run ctaccel_g replace
	echo "$output"
	[[ $status -eq 0 ]]
	[[ $output == *"finished the interrupted migration: "* ]]
	[[ ! -e $PIN/migration ]]
	[[ $(entries) == "$before" ]]
	ctaccel_g -j stats >"$BATS_TEST_TMPDIR/after"
	diff <(jq -S . <<<"$stats") <(jq -S . "$BATS_TEST_TMPDIR/after") || true
	# carried once: the flows' counters equal, not doubled by the finish
	jq -e --slurpfile after "$BATS_TEST_TMPDIR/after" '
		($after[0]) as $a |
		(.states == $a.states) and
		([.counters | .tracked_packets, .tracked_bytes, .flows_created, .transitions] ==
		 [$a.counters | .tracked_packets, .tracked_bytes, .flows_created, .transitions])' <<<"$stats"
	[[ $(jq '.counters | .migrations, .migrations_started' "$BATS_TEST_TMPDIR/after" | xargs) == "1 1" ]]
	equal_to_conntrack
}

@test "a daemon of this build migrates the previous ABI's state at its start, and says so in its log and metrics" {
	local before
	prev_g load max-flows 4096 >/dev/null
	prev_g attach vgc vgs >/dev/null
	run in_ns "$C" "$TCPGEN" client 198.18.1.2 80 c 20
	[[ $output == "ok 20 fail 0" ]]
	before=$(conntrack_flows)
	daemon_start --max-flows 4096
	grep -q "migrated the state of abi [0-9]* to abi [0-9]*: 20 flows" "$BATS_FILE_TMPDIR/daemon.log"
	http /v1/status | jq -e '.max_flows == 4096 and (.problems | length == 0)'
	url "http://127.0.0.1:$PORT/metrics" >"$BATS_TEST_TMPDIR/m"
	grep -qx 'ctaccel_migrations_total{outcome="completed"} 1' "$BATS_TEST_TMPDIR/m"
	grep -qx 'ctaccel_flows_migrated_total 20' "$BATS_TEST_TMPDIR/m"
	diff <(ctaccel_flows) <(echo "$before")
	equal_to_conntrack
}
