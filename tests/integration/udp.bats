#!/usr/bin/env bats
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# UDP flows through the gateway against nf_conntrack (accounting on) and the
# generator's own counts: request/response pairs, one-way datagrams, streams.

load lib

UDPGEN="/usr/bin/python3 $ROOT/tests/integration/udpgen.py"

setup_file() {
	topo_names "ud$$"
	topo_up
	oracle_on
	local a
	for a in 198.18.1.2 2001:db8:1::2; do
		# 53 answers; 54 swallows every datagram (never an ICMP error)
		ip netns exec "$S" $UDPGEN server "$a" 53 >/dev/null 2>&1 3>&- &
		ip netns exec "$S" $UDPGEN server "$a" 54 >/dev/null 2>&1 3>&- &
	done
	wait_until 200 '[[ $(udp_bound "$S" ":53 or sport = :54") -eq 4 ]]'
}

# UDP sockets of namespace NS bound to ports that match "sport = PORT...".
udp_bound() {
	in_ns "$1" ss -Hunl "sport = $2" | wc -l
}

teardown_file() {
	topo_down
}

# A fresh start: ctaccel loaded with `load` arguments, both tables empty.
fresh() {
	ctaccel_g unload force >/dev/null 2>&1 || true
	in_ns "$G" conntrack -F >/dev/null 2>&1 || true
	ctaccel_g load "$@"
	ctaccel_g attach vgc vgs
}

# The generator's flows to ADDR: q pairs to 53, o one-way to 54, s streams to
# 53, run at once; their "sport op ob rp rb" lines in $BATS_TEST_TMPDIR/gen.
udp_mix() {
	local addr=$1 q=$2 o=$3 s=$4
	in_ns "$C" $UDPGEN client "$addr" 53 s "$s" >"$BATS_TEST_TMPDIR/gen.s" &
	local spid=$!
	in_ns "$C" $UDPGEN client "$addr" 53 q "$q" >"$BATS_TEST_TMPDIR/gen.q"
	in_ns "$C" $UDPGEN client "$addr" 54 o "$o" >"$BATS_TEST_TMPDIR/gen.o"
	wait "$spid"
	cat "$BATS_TEST_TMPDIR"/gen.[qos] | sort -n >"$BATS_TEST_TMPDIR/gen"
}

# ctaccel's UDP flows equal conntrack's, flow by flow, and their counters the
# generator's; every class is as expected.
udp_compare() {
	local ours theirs gen
	ours=$(ctaccel_udp_flows)
	theirs=$(conntrack_udp_flows)
	if [[ "$ours" != "$theirs" ]]; then
		echo "ctaccel and conntrack differ (< ctaccel, > conntrack):"
		diff <(echo "$ours") <(echo "$theirs") || true
		return 1
	fi
	gen=$(awk '{print $2, $6, $7, $8, $9}' <<<"$ours" | sort -n)
	if [[ "$gen" != "$(cat "$BATS_TEST_TMPDIR/gen")" ]]; then
		echo "ctaccel and the generator differ (< ctaccel, > generator):"
		diff <(echo "$gen") "$BATS_TEST_TMPDIR/gen" || true
		return 1
	fi
	[[ "$(ctaccel_state_counts)" == "$(conntrack_state_counts)" ]]
}

# class COUNT: that many UDP flows of the class in ctaccel's table.
class_count() {
	[[ $(ctaccel_g -j flow show proto udp state "$1" | jq length) -eq $2 ]]
}

@test "IPv4: every UDP flow's class, packets and bytes equal conntrack's and the generator's" {
	fresh
	udp_mix 198.18.1.2 20 10 3
	udp_compare
	class_count UDP_REPLIED 20
	class_count UDP_UNREPLIED 10
	class_count UDP_ASSURED 3
	ctaccel_g -j flow show proto udp | jq -e 'all(.proto == "udp" and .family == "ipv4")'
	ctaccel_g -j flow show proto tcp | jq -e 'length == 0'
}

@test "IPv6: every UDP flow's class, packets and bytes equal conntrack's and the generator's" {
	fresh
	udp_mix 2001:db8:1::2 20 10 3
	udp_compare
	class_count UDP_REPLIED 20
	class_count UDP_UNREPLIED 10
	class_count UDP_ASSURED 3
}

@test "fragmented datagrams, IPv4 and IPv6: accounted once, at their reassembled length, as nf_conntrack does; bypassed whole" {
	local left
	fresh
	# Each round from source ports of its own, not the kernel's choice: a
	# second-round datagram from a first-round port would belong to that
	# round's flow, which was made before "policy add all" and is not
	# bypassed (the decision is the flow's, taken at its creation).
	in_ns "$C" $UDPGEN client 198.18.1.2 53 B 5 20100 >"$BATS_TEST_TMPDIR/gen"
	in_ns "$C" $UDPGEN client 2001:db8:1::2 53 B 4 20110 >>"$BATS_TEST_TMPDIR/gen"
	sort -n -o "$BATS_TEST_TMPDIR/gen" "$BATS_TEST_TMPDIR/gen"
	udp_compare
	class_count UDP_REPLIED 9
	# each request left the client in three fragments
	[[ $(ctaccel_g -j stats | jq .counters.fragments) -eq 18 ]]
	[[ $(ctaccel_g -j stats | jq .counters.invalid) -eq 0 ]]
	ctaccel_g policy add all
	in_ns "$G" conntrack -F >/dev/null 2>&1 || true
	in_ns "$C" $UDPGEN client 198.18.1.2 53 B 5 20200 >/dev/null
	in_ns "$C" $UDPGEN client 2001:db8:1::2 53 B 4 20210 >/dev/null
	# every client received its answers: nothing of either round is still
	# on its way; what nf_conntrack holds is shown if the test fails
	left=$(in_ns "$G" conntrack -L 2>/dev/null)
	echo "conntrack after the bypassed round: $left"
	[[ -z $left ]]
	[[ $(ctaccel_g -j flow show proto udp | jq '[.[] | select(.bypass)] | length') -eq 9 ]]
	ctaccel_g policy flush
}

@test "short UDP timeout: kernel expiry removes what conntrack removes, streams stay" {
	fresh timeout-udp-unreplied 2 timeout-udp-replied 2 expiry-interval 1
	in_ns "$G" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=2
	in_ns "$C" $UDPGEN client 198.18.1.2 53 s 2 >/dev/null &
	local spid=$! i
	in_ns "$C" $UDPGEN client 198.18.1.2 53 q 10 >/dev/null
	in_ns "$C" $UDPGEN client 198.18.1.2 54 o 10 >/dev/null
	[[ $(ctaccel_g -j flow count proto udp | jq .flows) -eq 22 ]]
	wait "$spid"
	# the streams outlive the short timeout; the others leave within
	# their timeout and two passes
	for i in $(seq 50); do
		[[ $(ctaccel_g -j flow count proto udp | jq .flows) -eq 2 ]] && break
		sleep 0.2
	done
	in_ns "$G" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=30
	class_count UDP_ASSURED 2
	[[ $(ctaccel_g -j flow count proto udp | jq .flows) -eq 2 ]]
	[[ $(conntrack_udp_flows | wc -l) -eq 2 ]]
	[[ "$(ctaccel_udp_flows)" == "$(conntrack_udp_flows)" ]]
	[[ $(ctaccel_g -j stats | jq .counters.flows_deleted) -eq 20 ]]
}

@test "policy add all: UDP flows skip nf_conntrack, ctaccel tracks every one" {
	fresh
	ctaccel_g policy add all
	udp_mix 198.18.1.2 20 10 2
	udp_mix 2001:db8:1::2 5 5 1
	# errors about bypassed flows carry the mark too
	in_ns "$S" sysctl -qw net.ipv4.icmp_ratelimit=0
	in_ns "$C" $UDPGEN client 198.18.1.2 55 o 4 >/dev/null
	sleep 0.2
	[[ $(in_ns "$G" conntrack -C) -eq 0 ]]
	[[ $(ctaccel_g -j flow show proto udp | jq '[.[] | select(.bypass)] | length') -eq 47 ]]
	# every packet of those flows, and every error about them, was marked
	[[ $(ctaccel_g -j stats | jq .counters.bypassed_packets) -eq \
		$(ctaccel_g -j flow show | jq '[.[] | .orig_packets + .reply_packets + .icmp_errors] | add') ]]
	[[ $(ctaccel_g -j stats | jq .counters.icmp_related) -eq 4 ]]
	ctaccel_g policy flush
}

@test "policy proto udp: UDP flows are bypassed, TCP flows of the same prefix are not" {
	fresh
	ctaccel_g policy add 198.18.1.0/24 proto udp
	ctaccel_g -j policy show | jq -e 'length == 1 and .[0].proto == "udp" and .[0].prefix == "198.18.1.0/24"'
	udp_mix 198.18.1.2 4 0 0
	in_ns "$C" "$TCPGEN" client 198.18.1.2 80 c 3 >/dev/null
	[[ $(in_ns "$G" conntrack -L -p udp 2>/dev/null | wc -l) -eq 0 ]]
	[[ $(conntrack_list | wc -l) -eq 3 ]]
	ctaccel_g -j flow show proto udp | jq -e 'length == 4 and all(.bypass)'
	ctaccel_g -j flow show proto tcp | jq -e 'length == 3 and all(.bypass | not)'
	# a rule for both protocols reads back as one rule
	ctaccel_g policy add 198.18.9.0/24 port 53
	ctaccel_g -j policy show | jq -e '[.[] | select(.prefix == "198.18.9.0/24")] | length == 1 and .[0].proto == null'
	ctaccel_g policy show | grep -qx 'bypass 198.18.1.0/24 proto udp'
	ctaccel_g policy del 198.18.9.0/24 port 53
	ctaccel_g policy flush
}

@test "the daemon: proto in --policy, in the API's rules, refused when it is not tcp or udp" {
	ctaccel_g unload force >/dev/null 2>&1 || true
	PORT=9479
	daemon_start --policy '198.18.1.0/24 port 53 proto udp'
	http /v1/policy | jq -e '.rules | length == 1 and .[0].proto == "udp" and .[0].port == 53'
	[[ $(url -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -X PUT -d '{"rules":[{"prefix":"198.18.9.0/24","proto":"tcp"},{"prefix":"all","port":53}]}' "http://127.0.0.1:$PORT/v1/policy") -eq 200 ]]
	http /v1/policy | jq -e '[.rules[] | select(.prefix == "198.18.9.0/24")] | length == 1 and .[0].proto == "tcp"'
	http /v1/policy | jq -e '[.rules[] | select(.port == 53)] | length == 2 and all(.proto == null)'
	local body
	for body in '{"rules":[{"prefix":"all","proto":"icmp"}]}' '{"rules":[{"prefix":"all","proto":6}]}'; do
		[[ $(url -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -X PUT -d "$body" "http://127.0.0.1:$PORT/v1/policy") -eq 400 ]]
	done
	# a refused body changed nothing
	http /v1/policy | jq -e '.rules | length == 3'
	daemon_teardown
}

@test "2 CPUs at once: created UDP flows equal the generator's count and conntrack's" {
	fresh
	local before after
	before=$(ctaccel_g -j stats | jq .counters.flows_created)
	in_ns "$C" taskset -c 0 $UDPGEN client 198.18.1.2 54 o 800 20000 >/dev/null &
	local p0=$!
	in_ns "$C" taskset -c 1 $UDPGEN client 198.18.1.2 54 o 800 30000 >/dev/null
	wait "$p0"
	after=$(ctaccel_g -j stats | jq .counters.flows_created)
	[[ $((after - before)) -eq 1600 ]]
	[[ $(ctaccel_g -j flow count proto udp | jq .flows) -eq 1600 ]]
	[[ $(conntrack_udp_flows | wc -l) -eq 1600 ]]
	[[ "$(ctaccel_udp_flows)" == "$(conntrack_udp_flows)" ]]
}

@test "fast path: replied UDP flows are forwarded from tc ingress, every datagram counted once" {
	fresh local off
	ctaccel_g policy add all fastpath
	in_ns "$G" nft add table inet ctacc_ufwd
	in_ns "$G" nft add chain inet ctacc_ufwd f '{ type filter hook forward priority 0; }'
	in_ns "$G" nft add rule inet ctacc_ufwd f meta l4proto udp counter
	in_ns "$C" $UDPGEN client 198.18.1.2 53 s 2 >"$BATS_TEST_TMPDIR/gen"
	in_ns "$C" $UDPGEN client 2001:db8:1::2 53 s 1 >>"$BATS_TEST_TMPDIR/gen"
	sort -n -o "$BATS_TEST_TMPDIR/gen" "$BATS_TEST_TMPDIR/gen"
	local slow fast total
	slow=$(in_ns "$G" nft -j list chain inet ctacc_ufwd f | jq '[.nftables[].rule.expr[]?.counter.packets // empty] | add')
	in_ns "$G" nft delete table inet ctacc_ufwd
	fast=$(ctaccel_g -j stats | jq .counters.fastpath_packets)
	total=$(ctaccel_g -j flow show proto udp | jq '[.[] | .orig_packets + .reply_packets] | add')
	# each flow's first datagram and first reply take the kernel's way
	[[ $slow -eq 6 ]]
	[[ $((slow + fast)) -eq $total ]]
	[[ $(awk '{print $2, $6, $7, $8, $9}' <<<"$(ctaccel_udp_flows)" | sort -n) == "$(cat "$BATS_TEST_TMPDIR/gen")" ]]
	class_count UDP_ASSURED 3
	[[ $(in_ns "$G" conntrack -C) -eq 0 ]]
	ctaccel_g policy flush
}

@test "ICMP errors about a flow are counted on it, equal to what the server sent, IPv4 and IPv6" {
	fresh
	in_ns "$S" sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0
	in_ns "$S" nft add chain inet ctacc_s out '{ type filter hook output priority 0; }'
	in_ns "$S" nft add rule inet ctacc_s out icmp type destination-unreachable counter
	in_ns "$S" nft add rule inet ctacc_s out icmpv6 type destination-unreachable counter
	# 55 has no socket: every datagram draws a port unreachable
	in_ns "$C" $UDPGEN client 198.18.1.2 55 o 7 >/dev/null
	in_ns "$C" $UDPGEN client 2001:db8:1::2 55 o 5 >/dev/null
	sleep 0.2
	local sent4 sent6
	sent4=$(in_ns "$S" nft -j list chain inet ctacc_s out | jq '[.nftables[].rule? | select(. != null) | .expr[] | .counter? | select(. != null) | .packets] | .[0]')
	sent6=$(in_ns "$S" nft -j list chain inet ctacc_s out | jq '[.nftables[].rule? | select(. != null) | .expr[] | .counter? | select(. != null) | .packets] | .[1]')
	[[ $sent4 -eq 7 && $sent6 -eq 5 ]]
	ctaccel_g -j flow show proto udp port 55 | jq -e 'length == 12 and all(.icmp_errors == 1 and .state == "UDP_UNREPLIED")'
	[[ $(ctaccel_g -j stats | jq .counters.icmp_related) -eq 12 ]]
	# nf_conntrack relates them to the flows: no entries of their own
	[[ $(in_ns "$G" conntrack -L -p icmp 2>/dev/null | wc -l) -eq 0 ]]
	[[ $(in_ns "$G" conntrack -L -p icmpv6 2>/dev/null | wc -l) -eq 0 ]]
	in_ns "$S" nft delete chain inet ctacc_s out
}

@test "local UDP sockets: bound or connected ones a rule covers skip nf_conntrack; sendto from others stays tracked" {
	fresh
	ctaccel_g -j status | jq -e '.udp_hooks and .sockops'
	ctaccel_g policy add 198.18.0.1/32 port 5353 proto udp
	ctaccel_g policy add 198.18.1.2/32 port 53
	# a server on the gateway itself, bound to the covered address and port
	ip netns exec "$G" $UDPGEN server 198.18.0.1 5353 >/dev/null 2>&1 3>&- &
	local srv=$! marked0
	wait_until 200 '[[ $(udp_bound "$G" :5353) -eq 1 ]]'
	marked0=$(ctaccel_g -j stats | jq .counters.sockets_marked)
	[[ $marked0 -ge 1 ]]
	in_ns "$C" $UDPGEN client 198.18.0.1 5353 q 3 >"$BATS_TEST_TMPDIR/gen"
	# clients on the gateway: connected to a covered peer, and unconnected
	# (ports of their own, past the ephemeral range: a sendto socket must
	# not reuse a connected socket's tuple, which is that flow's)
	in_ns "$G" $UDPGEN client 198.18.1.2 53 Q 4 61000 >>"$BATS_TEST_TMPDIR/gen"
	in_ns "$G" $UDPGEN client 198.18.1.2 53 q 2 61100 >"$BATS_TEST_TMPDIR/gen.sendto"
	kill "$srv"
	[[ $(ctaccel_g -j stats | jq .counters.sockets_marked) -eq $((marked0 + 4)) ]]
	# the covered ones: bypassed, both ways, and nf_conntrack never saw them
	ctaccel_g -j flow show proto udp | jq -e '[.[] | select(.bypass)] | length == 7 and all(.state == "UDP_REPLIED")'
	[[ $(in_ns "$G" conntrack -L -p udp --orig-port-dst 5353 2>/dev/null | wc -l) -eq 0 ]]
	# the sendto ones: not bypassed, tracked whole by both, equal
	ctaccel_g flow show proto udp
	[[ $(ctaccel_g -j flow show proto udp | jq '[.[] | select(.bypass | not)] | length') -eq 2 ]]
	[[ $(ctaccel_g -j flow count proto udp | jq .flows) -eq 9 ]]
	[[ "$(conntrack_udp_flows)" == "$(ctaccel_g -j flow show proto udp | jq -r '.[] | select(.bypass | not) | "\(.src) \(.sport) \(.dst) \(.dport) \(.state) \(.orig_packets) \(.orig_bytes) \(.reply_packets) \(.reply_bytes)"' | sort)" ]]
	ctaccel_g policy flush
}

@test "local UDP servers on the wildcard address: bypassed under a rule that covers it, else tracked whole" {
	fresh
	ctaccel_g policy add 198.18.0.1/32 port 5354 proto udp
	ctaccel_g policy add all port 5355 proto udp
	ip netns exec "$G" $UDPGEN server 0.0.0.0 5354 >/dev/null 2>&1 3>&- &
	local a=$!
	ip netns exec "$G" $UDPGEN server 0.0.0.0 5355 >/dev/null 2>&1 3>&- &
	local b=$!
	wait_until 200 '[[ $(udp_bound "$G" ":5354 or sport = :5355") -eq 2 ]]'
	in_ns "$C" $UDPGEN client 198.18.0.1 5354 q 3 >/dev/null
	in_ns "$C" $UDPGEN client 198.18.0.1 5355 q 2 >/dev/null
	kill "$a" "$b"
	# 5354: the rule names an address the socket is not bound to; its
	# replies would meet nf_conntrack, so its flows are not bypassed
	ctaccel_g -j flow show proto udp port 5354 | jq -e 'length == 3 and all(.bypass | not) and all(.state == "UDP_REPLIED")'
	[[ "$(conntrack_udp_flows --orig-port-dst 5354)" == "$(ctaccel_udp_flows | awk '$4 == 5354')" ]]
	# 5355: "all" covers the wildcard bind: bypassed both ways
	ctaccel_g -j flow show proto udp port 5355 | jq -e 'length == 2 and all(.bypass) and all(.state == "UDP_REPLIED")'
	[[ $(in_ns "$G" conntrack -L -p udp --orig-port-dst 5355 2>/dev/null | wc -l) -eq 0 ]]
	ctaccel_g policy flush
}

@test "unreplied ring: one-way datagrams never evict replied UDP flows" {
	fresh unreplied-max 64
	in_ns "$C" $UDPGEN client 198.18.1.2 53 q 10 >/dev/null
	in_ns "$C" $UDPGEN client 198.18.1.2 54 o 300 >/dev/null
	class_count UDP_REPLIED 10
	class_count UDP_UNREPLIED 64
	[[ $(ctaccel_g -j stats | jq .counters.unreplied_evicted) -eq 236 ]]
}

@test "monitor: a UDP flow's events name the protocol and its classes" {
	fresh
	ctaccel_g -j monitor count 2 proto udp >"$BATS_TEST_TMPDIR/ev" 2>&1 &
	local mon=$!
	sleep 1 # it has its lease: the datapath writes events
	in_ns "$C" "$TCPGEN" client 198.18.1.2 80 c 1 >/dev/null
	in_ns "$C" $UDPGEN client 198.18.1.2 53 q 1 >/dev/null
	timeout 10 tail --pid="$mon" -f /dev/null
	jq -se 'length == 2 and all(.proto == "udp") and .[0].event == "NEW" and .[0].state == "UDP_UNREPLIED" and .[1].state == "UDP_REPLIED"' "$BATS_TEST_TMPDIR/ev"
}

@test "flow show: a PROTO column, and a proto filter that refuses other words" {
	fresh
	udp_mix 198.18.1.2 1 0 0
	in_ns "$C" "$TCPGEN" client 198.18.1.2 80 c 1 >/dev/null
	run ctaccel_g flow show
	[[ $status -eq 0 ]]
	[[ ${lines[0]} == *" PROTO" ]]
	[[ $(grep -c ' udp$' <<<"$output") -eq 1 ]]
	[[ $(grep -c ' tcp$' <<<"$output") -eq 1 ]]
	run ctaccel_g flow show proto icmp
	[[ $status -eq 2 ]]
	[[ $output == *"protocol 'icmp' is not tcp or udp"* ]]
}
