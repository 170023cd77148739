#!/usr/bin/env bats
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# ctaccel against nf_conntrack on real traffic through a gateway namespace.

load lib

setup_file() {
	topo_names "or$$"
	topo_up
	oracle_on
	ctaccel_g load
	ctaccel_g attach vgc vgs
}

teardown_file() {
	topo_down
}

# conntrack -L hides expired entries; ctaccel's table holds them until GC.
# One look: GC, then both tables, then both per-state counts.
look_once() {
	local ours theirs
	ctaccel_g gc >/dev/null
	ours=$(ctaccel_flows)
	theirs=$(conntrack_flows)
	if [[ "$ours" != "$theirs" ]]; then
		echo "ctaccel and conntrack differ (< ctaccel, > conntrack):"
		diff <(echo "$ours") <(echo "$theirs") || true
		return 1
	fi
	[[ -n $ours ]] || return 1
	ours=$(ctaccel_state_counts)
	theirs=$(conntrack_state_counts)
	if [[ "$ours" != "$theirs" ]]; then
		echo "per-state counts differ (< ctaccel, > conntrack):"
		diff <(echo "$ours") <(echo "$theirs") || true
		return 1
	fi
}

# A flow that expires between the GC and the counts (a slow machine, or a
# virtual machine's emulated CPUs: tests/kernels) is hidden by conntrack and
# still counted by ctaccel until the next GC: the look is taken again, at
# most three times. A difference that stays fails.
compare_with_conntrack() {
	local try
	for try in 1 2 3; do
		look_once && return 0
	done
	return 1
}

@test "IPv4: every flow's state, packets and bytes equal conntrack's" {
	in_ns "$C" "$TCPGEN" client 198.18.1.2 80 o 3 6 >"$BATS_TEST_TMPDIR/hold" 3>&- &
	traffic_mix 198.18.1.2
	sleep 1
	compare_with_conntrack
	wait
}

@test "IPv6: every flow's state, packets and bytes equal conntrack's" {
	in_ns "$C" "$TCPGEN" client 2001:db8:1::2 80 o 3 6 >"$BATS_TEST_TMPDIR/hold" 3>&- &
	traffic_mix 2001:db8:1::2
	sleep 1
	compare_with_conntrack
	wait
}

# One client port, one connection after another, the server closing first:
# each SYN finds the gateway's entry of the connection before in TIME_WAIT
# and reopens it, in ctaccel and in nf_conntrack alike.
reuse_port() {
	in_ns "$C" python3 - "$1" "$2" <<-'PY'
		import socket, sys, time
		addr, count = sys.argv[1], int(sys.argv[2])
		fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
		done = 0
		deadline = time.monotonic() + 30
		while done < count and time.monotonic() < deadline:
		    s = socket.socket(fam, socket.SOCK_STREAM)
		    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
		    s.settimeout(5)
		    try:
		        s.bind(("", 40123))
		        s.connect((addr, 80))
		    except OSError:
		        # the last connection's socket is not closed yet
		        s.close()
		        time.sleep(0.05)
		        continue
		    s.sendall(b"s")
		    while s.recv(4096):
		        pass
		    s.close()
		    done += 1
		print(done)
		sys.exit(0 if done == count else 1)
	PY
}

@test "a reused client port: every reopen equals conntrack's, IPv4 and IPv6" {
	local before after
	before=$(ctaccel_g -j stats | jq '.counters.flows_reopened')
	run reuse_port 198.18.1.2 10
	[[ $status -eq 0 ]]
	run reuse_port 2001:db8:1::2 10
	[[ $status -eq 0 ]]
	after=$(ctaccel_g -j stats | jq '.counters.flows_reopened')
	# the first connection of each family finds no entry to reopen
	[[ $((after - before)) -eq 18 ]]
	sleep 1
	compare_with_conntrack
	ctaccel_flows | grep -q ' 40123 198.18.1.2 80 TIME_WAIT '
	ctaccel_flows | grep -q ' 40123 2001:db8:1::2 80 TIME_WAIT '
}

@test "a forwarded packet is counted once" {
	local tracked deleted sum
	tracked=$(ctaccel_g -j stats | jq '.counters.tracked_packets')
	deleted=$(ctaccel_g -j stats | jq '.counters.deleted_packets')
	sum=$(ctaccel_g -j flow show | jq '[.[] | .orig_packets + .reply_packets] | add')
	[[ $((sum + deleted)) -eq $tracked ]]
	[[ $(ctaccel_g -j stats | jq '.counters.skipped_egress') -gt 0 ]]
}

@test "gauges equal the table and the counters add up" {
	local flows states
	flows=$(ctaccel_g -j flow count | jq .flows)
	states=$(ctaccel_g -j stats | jq '[.states[]] | add')
	[[ $flows -eq $states ]]
	[[ $(ctaccel_g -j stats | jq .flows) -eq $flows ]]
	[[ $(ctaccel_g -j stats | jq '.counters.table_full + .counters.cas_exhausted + .counters.flow_busy') -eq 0 ]]
}

@test "bpftool shows the pinned flow table with named fields" {
	run bpftool -j map dump pinned "$PIN/ctaccel_flows"
	[[ $status -eq 0 ]]
	echo "$output" | jq -e '.[0].formatted.value | has("ct") and has("leg") and has("orig_is_hi")'
	echo "$output" | jq -e '.[0].formatted.key | has("addr_lo") and has("port_hi")'
}

@test "replacing the programs under traffic leaves no packet untracked" {
	local before after gen i
	# CTACCEL_TEST_SCALE=N: N times fewer connections, where emulated CPUs
	# (tests/kernels) would take longer to make 6,000 than TIME_WAIT lives
	local conns=$((6000 / ${CTACCEL_TEST_SCALE:-1}))
	before=$(ctaccel_g -j status | jq -c .programs)
	run ctaccel_g replace
	[[ $output == *unchanged* ]]
	[[ $(ctaccel_g -j status | jq -c .programs) == "$before" ]]
	in_ns "$C" "$TCPGEN" client 198.18.1.2 80 c "$conns" >"$BATS_TEST_TMPDIR/gen" 3>&- &
	gen=$!
	for i in 1 2 3 4 5; do
		sleep 0.15
		ctaccel_g replace force
	done
	wait "$gen"
	grep -q "ok $conns fail 0" "$BATS_TEST_TMPDIR/gen"
	sleep 1 # the last closes finish in the kernel after the client exits
	after=$(ctaccel_g -j status | jq -c .programs)
	[[ $after != "$before" ]]
	[[ -n $(hook_progs vgc ingress | grep "id $(echo "$after" | jq .ingress) ") ]]
	# every packet of every flow, counted by the old programs or the new ones
	compare_with_conntrack
}
