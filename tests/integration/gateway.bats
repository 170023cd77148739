#!/usr/bin/env bats
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# A forwarding gateway attaches only what it needs (load local off): the
# ingress program, no egress program, no sock_ops, no socket tracepoint; its
# forwarded flows stay exact against nf_conntrack, and bypass still works.

load lib

PORT=9481

setup_file() {
	topo_names "gw$$"
	topo_up
	oracle_on
}

teardown_file() {
	topo_down
}

teardown() {
	daemon_teardown
	in_ns "$G" conntrack -F >/dev/null 2>&1 || true
}

@test "local off: ingress only, nothing host-wide; status says so, with no problem" {
	ctaccel_g load local off
	ctaccel_g attach vgc vgs
	[[ -n $(hook_progs vgc ingress) ]]
	[[ -z $(hook_progs vgc egress) ]]
	[[ -z $(hook_progs vgs egress) ]]
	[[ ! -e $PIN/link_sockops && ! -e $PIN/link_sockstate ]]
	ctaccel_g -j status | jq -e '.local == false and .sockops == false and (.problems | length) == 0'
	ctaccel_g -j status | jq -e '.devices | length == 2 and all(.ingress and (.egress | not))'
	run ctaccel_g status
	[[ $output == *"local       not tracked"* ]]
}

@test "local off: forwarded flows equal nf_conntrack's, IPv4 and IPv6" {
	ctaccel_g load local off
	ctaccel_g attach vgc vgs
	traffic_mix 198.18.1.2
	traffic_mix 2001:db8:1::2
	sleep 1
	# expired entries go, as nf_conntrack's own do
	ctaccel_g gc >/dev/null
	[[ -n "$(conntrack_flows)" ]]
	[[ "$(ctaccel_flows)" == "$(conntrack_flows)" ]]
	[[ "$(ctaccel_state_counts)" == "$(conntrack_state_counts)" ]]
	[[ $(ctaccel_g -j stats | jq .counters.skipped_egress) -eq 0 ]]
}

@test "local off with policy all: forwarded flows skip nf_conntrack" {
	ctaccel_g load local off
	ctaccel_g attach vgc vgs
	ctaccel_g policy add all
	in_ns "$C" "$TCPGEN" client 198.18.1.2 80 c 20 | grep -q "ok 20 fail 0"
	in_ns "$C" "$TCPGEN" client 2001:db8:1::2 80 c 20 | grep -q "ok 20 fail 0"
	[[ $(in_ns "$G" conntrack -L -p tcp 2>/dev/null | grep -c dport=80 || true) -eq 0 ]]
	[[ $(ctaccel_g -j flow count | jq .flows) -eq 40 ]]
}

@test "the daemon with local off is ready with ingress-only devices" {
	daemon_start --local off --repair-interval 1
	[[ $(url -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz") == 200 ]]
	ctaccel_g -j status | jq -e '.local == false and (.problems | length) == 0'
	# a repair pass changes nothing: nothing is missing
	sleep 1.5
	[[ $(url "http://127.0.0.1:$PORT/metrics" | awk '$1 == "ctaccel_repairs_total{what=\"device\"}" {print $2}') -eq 0 ]]
	[[ -z $(hook_progs vgc egress) ]]
}
