#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# The demo: a client, a gateway with ctaccel on both of its veths, and a server,
# each in its own network namespace (198.18.0.0/15, 2001:db8::/32). Real TCP
# traffic with every kind of ending, and DNS-like UDP, crosses the gateway;
# ctaccel's view is shown beside nf_conntrack's. Everything is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=../tests/integration/lib.bash
source tests/integration/lib.bash
topo_names "demo$$"
tmp=$(mktemp)
trap 'topo_down; rm -f "$tmp"' EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
step "namespaces $C -- $G -- $S, nf_conntrack on in the gateway (accounting on)"
topo_up
oracle_on

step "ctaccel load; ctaccel attach vgc vgs (in $G)"
ctaccel_g load
ctaccel_g attach vgc vgs
ctaccel_g status

step "traffic: 5 connections each closed by client, server, half-close, both, RST either side; refused; unanswered"
in_ns "$C" "$TCPGEN" client 198.18.1.2 80 o 3 15 >/dev/null &
hold=$!
traffic_mix 198.18.1.2
in_ns "$C" "$TCPGEN" client 2001:db8:1::2 80 c 5 >/dev/null
sleep 1

step "UDP: 5 request/response pairs to port 53, 3 datagrams nobody answers (port 54)"
for port in 53 54; do
	ip netns exec "$S" /usr/bin/python3 tests/integration/udpgen.py server 198.18.1.2 "$port" >/dev/null 2>&1 3>&- &
done
sleep 0.3
udp_traffic() {
	in_ns "$C" /usr/bin/python3 tests/integration/udpgen.py client 198.18.1.2 53 q 5 >/dev/null
	in_ns "$C" /usr/bin/python3 tests/integration/udpgen.py client 198.18.1.2 54 o 3 >/dev/null
}
udp_traffic

step "ctaccel stats"
ctaccel_g stats
step "ctaccel flow show state ESTABLISHED   (held-open connections)"
ctaccel_g flow show state ESTABLISHED
step "ctaccel flow show port 80 | head"
ctaccel_g flow show port 80 >"$tmp"
head -n 6 "$tmp"
step "ctaccel flow show proto udp"
ctaccel_g flow show proto udp
step "the same flows by state, ctaccel vs nf_conntrack"
paste <(ctaccel_state_counts) <(conntrack_state_counts) | awk '{printf "%-12s ctaccel %4d   conntrack %4d\n", $1, $2, $4}'
printf 'conntrack -C: %s\n' "$(in_ns "$G" conntrack -C)"
if [[ "$(ctaccel_flows)" == "$(conntrack_flows)" && "$(ctaccel_udp_flows)" == "$(conntrack_udp_flows)" ]]; then
	echo "every flow's state, packets and bytes: equal"
else
	echo "flows differ from conntrack:"
	diff <(ctaccel_flows) <(conntrack_flows) || true
	diff <(ctaccel_udp_flows) <(conntrack_udp_flows) || true
fi
kill "$hold" 2>/dev/null || true
wait "$hold" 2>/dev/null || true

step "ctaccel policy add all   (bypass: marked packets skip nf_conntrack via table inet ctaccel)"
ctaccel_g gc >/dev/null
in_ns "$G" conntrack -F >/dev/null 2>&1 || true
before=$(ctaccel_g -j stats | jq .counters.flows_created)
ctaccel_g policy add all
ctaccel_g policy show
in_ns "$G" nft list table inet ctaccel
traffic_mix 198.18.1.2
in_ns "$C" "$TCPGEN" client 2001:db8:1::2 80 c 5 >/dev/null
udp_traffic
step "after the same traffic with bypass on"
printf 'conntrack -C: %s\n' "$(in_ns "$G" conntrack -C)"
printf 'ctaccel: %s new flows, %s bypassed packets\n' \
	"$(($(ctaccel_g -j stats | jq .counters.flows_created) - before))" \
	"$(ctaccel_g -j stats | jq .counters.bypassed_packets)"
ctaccel_g -j stats | jq -c .states

step "ctaccel policy add all fastpath   (the fast path: ctaccel forwards established flows itself)"
ctaccel_g policy del all
ctaccel_g policy add all fastpath
ctaccel_g -j stats | jq -c .counters >"$tmp"
printf 'request/response on 2 persistent connections for 3 s: '
in_ns "$C" "$OUT/rr" 198.18.1.2 80 3 2
printf '20 short connections: '
in_ns "$C" "$TCPGEN" client 198.18.1.2 80 c 20
step "where their packets went: forwarded by ctaccel from tc ingress, or the kernel's way"
ctaccel_g -j stats | jq -r --slurpfile was "$tmp" '
	.counters as $now | $was[0] as $was |
	def d(k): $now[k] - $was[k];
	"ctaccel tracked \(d("tracked_packets")) packets of these flows and forwarded \(d("fastpath_packets")) itself (\(d("fastpath_bytes")) bytes), past the IP stack and netfilter;",
	"the kernel forwarded the other \(d("tracked_packets") - d("fastpath_packets")): handshakes and teardowns, which it must see",
	(["slow_control", "slow_options", "slow_no_route", "slow_not_forwarded", "slow_fwd_disabled",
	  "slow_mtu", "slow_egress", "slow_other"][] | select(d(.) > 0) |
	 "  of an established fast flow, \(.): \(d(.))")'
step "ctaccel unload; namespaces removed"
