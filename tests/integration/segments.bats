#!/usr/bin/env bats
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Unusual segment sequences through a real gateway where ctaccel and
# nf_conntrack both watch: every flow equal to conntrack's (state, packets and
# bytes each way), IPv4 and IPv6. Segments come from segments.py; the end
# hosts drop what arrives for port 9, so the segments alone make the flows.

load lib

setup_file() {
	topo_names "sg$$"
	topo_up
	oracle_on
	# the client ignores what the server's port 9 sends it (the server's
	# side is dropped by topo_up already)
	in_ns "$C" nft add table inet ctacc_c
	in_ns "$C" nft add chain inet ctacc_c in '{ type filter hook input priority 0; }'
	in_ns "$C" nft add rule inet ctacc_c in tcp sport 9 drop
	ctaccel_g attach vgc vgs >/dev/null
	MACS=(
		"$(in_ns "$C" cat /sys/class/net/vc/address)"
		"$(in_ns "$G" cat /sys/class/net/vgc/address)"
		"$(in_ns "$S" cat /sys/class/net/vs/address)"
		"$(in_ns "$G" cat /sys/class/net/vgs/address)"
	)
	export MACS_LINE="${MACS[*]}"
	# the route scenario's server addresses (segments.py SERVER_HOST)
	local h
	for h in 3 4 5; do
		in_ns "$S" ip addr add "198.18.1.$h/24" dev vs
		in_ns "$S" ip addr add "2001:db8:1::$h/64" dev vs nodad
	done
	VGS_MTU=$(in_ns "$G" cat /sys/class/net/vgs/mtu)
	export VGS_MTU
}

teardown_file() {
	topo_down
}

# The gateway's routes and MTU as they were, whatever a test left.
teardown() {
	local h
	for h in 3 4 5; do
		in_ns "$G" ip route del "198.18.1.$h/32" 2>/dev/null || true
		in_ns "$G" ip -6 route del "2001:db8:1::$h/128" 2>/dev/null || true
	done
	in_ns "$G" ip link set vgs mtu "$VGS_MTU"
}

setup() {
	in_ns "$G" conntrack -F >/dev/null 2>&1 || true
	ctaccel_g policy flush >/dev/null
	flush_ctaccel
}

# Every ctaccel flow removed through the flush path (unload would detach).
flush_ctaccel() {
	ctaccel_g unload >/dev/null
	ctaccel_g attach vgc vgs >/dev/null
}

segments() {
	local family=$1 scenario=$2
	shift 2
	# shellcheck disable=SC2086
	SEGMENTS_GW=$G /usr/bin/python3 "$ROOT/tests/integration/segments.py" "$C" "$S" $MACS_LINE \
		"$family" "$scenario" "$@"
}

# SCENARIO sent over IPv4 and IPv6, then both views equal.
both_families() {
	segments 4 "$1"
	segments 6 "$1"
	same_as_conntrack
}

# Both views, one line per flow, then the counter that says why.
same_as_conntrack() {
	local ours theirs
	sleep 0.3
	ours=$(ctaccel_flows)
	theirs=$(conntrack_flows)
	echo "ctaccel:"
	echo "$ours"
	echo "conntrack:"
	echo "$theirs"
	[[ -n $theirs || -n $1 ]]
	[[ $ours == "$theirs" ]]
}

counter() {
	ctaccel_g -j stats | jq ".counters.$1"
}

@test "a SYN ignored in SYN_RECV forgets the simultaneous open (IPv4, IPv6)" {
	both_families simopen
	[[ $(ctaccel_g -j flow show | jq '[.[] | select(.state == "SYN_RECV" and (.assured | not))] | length') -eq 2 ]]
	ctaccel_g -j flow show | jq -e 'all(.expires_s <= 60)'
}

@test "bad checksums: a RST does not close, a SYN does not open (IPv4, IPv6)" {
	both_families badsum
	[[ $(ctaccel_g -j flow count | jq .flows) -eq 2 ]]
	ctaccel_g -j flow show | jq -e 'all(.state == "ESTABLISHED")'
	# 2 RSTs per flow and the lone SYN, each family
	[[ $(counter bad_checksum) -eq 6 ]]
}

@test "frames for another host's MAC change nothing (IPv4, IPv6)" {
	both_families othermac
	ctaccel_g -j flow show | jq -e 'length == 2 and all(.state == "ESTABLISHED")'
	[[ $(counter not_for_host) -eq 6 ]]
}

@test "a SYN whose TTL expires at the gateway is not a flow (IPv4, IPv6)" {
	both_families ttl
	ctaccel_g -j flow show | jq -e 'length == 2 and all(.state == "ESTABLISHED" and .orig_packets == 2)'
	# one probe per flow and one lone probe, each family
	[[ $(counter ttl_expired) -eq 4 ]]
	# the client heard why: ICMP time exceeded from the gateway
	[[ $(in_ns "$G" nstat -asz IcmpOutTimeExcds | awk '/IcmpOutTimeExcds/ {print $2}') -ge 1 ]]
}

@test "a flow's packets whose TTL expires at the gateway are counted on it, as nf_conntrack does: a RST closes it, a SYN ends a closed flow and opens none (IPv4, IPv6)" {
	both_families ttlflow
	# the RSTs' flows, closed with the RST counted; the reopening SYNs'
	# flows gone, and nothing in their place
	ctaccel_g -j flow show | jq -e 'length == 2 and all(.state == "CLOSE" and .orig_packets == 2 and .reply_packets == 2)'
	[[ $(counter ttl_expired) -eq 4 ]]
	[[ $(counter flows_reopened) -eq 2 ]]
	[[ $(counter flows_created) -eq 4 ]]
	wait_until 20 counted_once
}

@test "a route that drops a flow's packet after PRE_ROUTING counts it on the flow, and a SYN it drops starts none: blackhole, unreachable, prohibit (IPv4, IPv6)" {
	segments 4 route
	segments 6 route
	# one SYN per route kind, each family (waited for, then both views
	# shown and checked)
	wait_until 100 '[[ $(counter unroutable) -eq 6 ]]' || true
	same_as_conntrack
	# each established flow with its dropped segment counted, and nothing
	# for the SYNs
	ctaccel_g -j flow show | jq -e 'length == 6 and all(.state == "ESTABLISHED" and .orig_packets == 3 and .reply_packets == 1)'
	[[ $(counter unroutable) -eq 6 ]]
	[[ $(counter flows_created) -eq 6 ]]
}

@test "over the MTU where it may not be fragmented: a flow's segment counts on it, a SYN starts no flow; an IPv4 SYN without DF is fragmented and does (IPv4, IPv6)" {
	in_ns "$G" ip link set vgs mtu 1280
	segments 4 mtu
	segments 6 mtu
	# the SYN with DF, each family, and IPv6's SYN that asked for no DF
	wait_until 100 '[[ $(counter too_big) -eq 3 ]]' || true
	same_as_conntrack
	ctaccel_g -j flow show | jq -e '[.[] | select(.state == "ESTABLISHED" and .orig_packets == 3)] | length == 2'
	ctaccel_g -j flow show | jq -e 'length == 3 and ([.[] | select(.state == "SYN_SENT")] | length == 1)'
	[[ $(counter too_big) -eq 3 ]]
	# the client heard why: ICMP fragmentation needed, ICMPv6 packet too big
	[[ $(in_ns "$G" nstat -asz IcmpOutDestUnreachs | awk '/IcmpOutDestUnreachs/ {print $2}') -ge 1 ]]
	[[ $(in_ns "$G" nstat -asz Icmp6OutPktTooBigs | awk '/Icmp6OutPktTooBigs/ {print $2}') -ge 1 ]]
}

@test "differential: seeded random sequences in nf_conntrack's window equal it flow by flow" {
	local seed=${CTACCEL_SEED:-20261128}
	echo "# seed $seed (CTACCEL_SEED=N to choose)" >&3
	for fam in 4 6; do
		segments "$fam" random "$seed" 40 >&3
	done
	same_as_conntrack
	[[ $(ctaccel_flows | wc -l) -gt 20 ]]
	[[ "$(ctaccel_state_counts)" == "$(conntrack_state_counts)" ]]
}
