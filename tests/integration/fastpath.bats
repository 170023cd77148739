#!/usr/bin/env bats
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# The fast path: opted-in established flows are forwarded from tc ingress.
# Oracles that are not ctaccel: nf_conntrack in the *server's* namespace (with
# accounting) sees every packet of each flow, so its per-flow counts must equal
# ctaccel's; a counter in the gateway's forward hook sees exactly the packets
# that took the slow path, so it plus the fast path's count must equal every
# TCP packet the server received and sent. Where the gateway's kernel may drop
# a packet after ctaccel counted it (a neighbour deleted under a flow), the
# client's conntrack gives what each flow sent instead. Each slow-path reason
# is forced in the topology and the traffic behaves as it does without ctaccel
# (where the gateway's kernel drops packets, the server's counts are no
# oracle: those tests check the traffic's outcome and the reason counters).

load lib

setup_file() {
	topo_names "fp$$"
	topo_up
	# The server's own conntrack, with accounting: the per-flow oracle.
	in_ns "$S" sysctl -qw net.netfilter.nf_conntrack_acct=1
	in_ns "$S" nft add table inet ctacc_so
	in_ns "$S" nft add chain inet ctacc_so in '{ type filter hook input priority 0; }'
	in_ns "$S" nft add rule inet ctacc_so in ct state new,established,related counter
	# Every TCP packet the server receives and sends.
	in_ns "$S" nft add chain inet ctacc_so tin '{ type filter hook input priority 1; }'
	in_ns "$S" nft add rule inet ctacc_so tin meta l4proto tcp counter
	in_ns "$S" nft add chain inet ctacc_so tout '{ type filter hook output priority 1; }'
	in_ns "$S" nft add rule inet ctacc_so tout meta l4proto tcp counter
	# The client's own conntrack, with accounting: what each flow sent
	# towards the gateway, for the tests where the gateway's kernel may
	# drop a packet after ctaccel counted it.
	in_ns "$C" sysctl -qw net.netfilter.nf_conntrack_acct=1
	in_ns "$C" nft add table inet ctacc_co
	in_ns "$C" nft add chain inet ctacc_co out '{ type filter hook output priority 0; }'
	in_ns "$C" nft add rule inet ctacc_co out ct state new,established,related counter
	# Every TCP packet the kernel forwards (the slow path).
	in_ns "$G" nft add table inet ctacc_fwd
	in_ns "$G" nft add chain inet ctacc_fwd f '{ type filter hook forward priority 0; }'
	in_ns "$G" nft add rule inet ctacc_fwd f meta l4proto tcp counter
}

teardown_file() {
	topo_down
}

setup() {
	ctaccel_g unload force >/dev/null 2>&1 || true
	in_ns "$S" conntrack -F >/dev/null 2>&1 || true
	in_ns "$C" conntrack -F >/dev/null 2>&1 || true
	# rule counters keep counting: each test measures from here
	SLOW0=$(slow_path_packets_total)
	SERVER0=$(server_packets_total)
}

teardown() {
	# whatever a test changed in the topology, back as topo_up made it
	in_ns "$G" ip link set vgs mtu 1500
	in_ns "$S" ip link set vs mtu 1500
	in_ns "$G" ip route del blackhole 198.18.1.2/32 2>/dev/null || true
	in_ns "$G" ip route del blackhole 198.18.1.2/31 2>/dev/null || true
	in_ns "$G" ip route del 198.18.1.2/32 dev vgs 2>/dev/null || true
	in_ns "$G" ip rule del pref 100 2>/dev/null || true
	in_ns "$G" ip route flush table 100 2>/dev/null || true
	in_ns "$G" ip neigh replace 198.18.1.2 dev vgs lladdr "$(in_ns "$S" cat /sys/class/net/vs/address)" nud reachable
	in_ns "$G" sysctl -qw net.ipv4.conf.vgc.forwarding=1
	in_ns "$C" ip route change default via 198.18.0.1 2>/dev/null || true
	in_ns "$C" ip route flush cache
	ctaccel_g unload force >/dev/null 2>&1 || true
}

counter() { ctaccel_g -j stats | jq ".counters.$1"; }
# The packets counted in an nft chain: NS FAMILY TABLE CHAIN.
chain_packets() { in_ns "$1" nft -j list chain "$2" "$3" "$4" | jq '[.nftables[].rule.expr[]?.counter.packets // empty] | add'; }
slow_path_packets_total() { chain_packets "$G" inet ctacc_fwd f; }
server_packets_total() { echo $(($(chain_packets "$S" inet ctacc_so tin) + $(chain_packets "$S" inet ctacc_so tout))); }
slow_path_packets() { echo $(($(slow_path_packets_total) - SLOW0)); }
server_packets() { echo $(($(server_packets_total) - SERVER0)); }

# One line per flow, as ctaccel_flows prints it, from the server's conntrack.
server_flows() { in_ns "$S" conntrack -L -p tcp 2>/dev/null | conntrack_format; }
client_flows() { in_ns "$C" conntrack -L -p tcp 2>/dev/null | conntrack_format; }
# Per flow: tuple, state and the originator's packets and bytes, as the client
# sent them; tuple, state and the replies, as the server sent them.
orig_legs() { awk '{print $1, $2, $3, $4, $6, $7}'; }
reply_legs() { awk '{print $1, $2, $3, $4, $5, $8, $9}'; }

# Load (local on or off), attach both sides, bypass everything on the fast path.
fast_setup() {
	ctaccel_g load local "$1" >/dev/null
	ctaccel_g attach vgc vgs >/dev/null
	ctaccel_g policy add all fastpath >/dev/null
}

# A persistent connection in the background for $1 seconds, SIZE $2 bytes per
# request; its result lands in $BATS_TEST_TMPDIR/rr.
rr_background() {
	in_ns "$C" "$OUT/rr" "${3:-198.18.1.2}" 80 "$1" 1 "${2:-64}" >"$BATS_TEST_TMPDIR/rr" 2>&1 &
	RR_PID=$!
	sleep 1
}

# Wait for it (in this shell: not in a pipeline), then its result line.
rr_wait() {
	wait "$RR_PID" || true
	cat "$BATS_TEST_TMPDIR/rr"
}

exact_against_server() {
	local total fast slow i
	# per flow: state, packets and bytes each way equal the server's conntrack
	[[ -n "$(server_flows)" ]]
	# The client has exited, but the server may not have closed yet: its
	# FIN is counted by its conntrack before it crosses the gateway. Read
	# both until they agree, for at most 2 s.
	for i in $(seq 10); do
		[[ "$(ctaccel_flows)" == "$(server_flows)" ]] && break
		sleep 0.2
	done
	if [[ "$(ctaccel_flows)" != "$(server_flows)" ]]; then
		echo "ctaccel and the server's conntrack differ (< ctaccel, > server):"
		diff <(ctaccel_flows) <(server_flows) || true
		return 1
	fi
	# every packet the server saw went either the fast way or the kernel's
	total=$(server_packets)
	fast=$(counter fastpath_packets)
	slow=$(slow_path_packets)
	echo "server $total fast $fast slow $slow"
	((fast > 0))
	((fast + slow == total))
}

# rr's result line: at least one transaction and no failure.
rr_good() { grep -Eq "^ok [1-9][0-9]* fail 0$"; }

@test "fast path: each flow equal to the server's nf_conntrack, IPv4 and IPv6 (local on: egress skips)" {
	fast_setup on
	in_ns "$C" "$OUT/rr" 198.18.1.2 80 2 2 | rr_good
	in_ns "$C" "$OUT/rr" 2001:db8:1::2 80 2 2 | rr_good
	in_ns "$C" "$TCPGEN" client 198.18.1.2 80 c 10 | rr_good
	in_ns "$C" "$TCPGEN" client 2001:db8:1::2 80 s 10 | rr_good
	exact_against_server
	# the redirected packets met the egress program, which left them alone
	(($(counter skipped_egress) >= $(counter fastpath_packets)))
	(($(counter fastpath_bytes) > 0))
}

@test "fast path with local off: exact, and large segments too" {
	fast_setup off
	in_ns "$C" "$OUT/rr" 198.18.1.2 80 2 2 3000 | rr_good
	in_ns "$C" "$OUT/rr" 2001:db8:1::2 80 2 2 3000 | rr_good
	exact_against_server
	[[ $(counter skipped_egress) -eq 0 ]]
}

@test "policy: a rule without fastpath takes existing flows off it at once, and back" {
	local f1 f2 s1 s2
	fast_setup off
	rr_background 4
	ctaccel_g policy add all
	sleep 0.2
	f1=$(counter fastpath_packets)
	s1=$(slow_path_packets)
	sleep 1
	f2=$(counter fastpath_packets)
	s2=$(slow_path_packets)
	((f1 > 0 && f2 == f1))
	((s2 > s1 + 100))
	ctaccel_g policy add all fastpath
	sleep 0.5
	(($(counter fastpath_packets) > f2 + 100))
	rr_wait
	rr_good <"$BATS_TEST_TMPDIR/rr"
	exact_against_server
}

@test "policy: a plain rule for one endpoint keeps its flows off the fast path" {
	ctaccel_g load local off >/dev/null
	ctaccel_g attach vgc vgs >/dev/null
	ctaccel_g policy add all fastpath
	ctaccel_g policy add 198.18.1.2/32
	in_ns "$C" "$OUT/rr" 198.18.1.2 80 1 1 | rr_good
	[[ $(counter fastpath_packets) -eq 0 ]]
	in_ns "$C" "$OUT/rr" 2001:db8:1::2 80 1 1 | rr_good
	(($(counter fastpath_packets) > 0))
	ctaccel_g -j policy show | jq -e '[.[] | select(.fastpath)] | length == 2'
	ctaccel_g -j policy show | jq -e '[.[] | select(.prefix == "198.18.1.2/32" and (.fastpath | not))] | length == 1'
}

# ctaccel counts each packet where it enters the gateway; the gateway may drop
# one after that, as it would without ctaccel (a packet queued on a neighbour
# entry that is deleted meanwhile). So per flow: the originator's packets and
# bytes equal what the client's conntrack saw it send, the replies and the
# state what the server's saw.
exact_against_ends() {
	local i ours
	for i in $(seq 10); do
		ours=$(ctaccel_flows)
		[[ "$(orig_legs <<<"$ours")" == "$(client_flows | orig_legs)" &&
			"$(reply_legs <<<"$ours")" == "$(server_flows | reply_legs)" ]] && break
		sleep 0.2
	done
	[[ -n $ours ]]
	if [[ "$(orig_legs <<<"$ours")" != "$(client_flows | orig_legs)" ]]; then
		echo "ctaccel and the client's conntrack differ (< ctaccel, > client):"
		diff <(orig_legs <<<"$ours") <(client_flows | orig_legs) || true
		return 1
	fi
	if [[ "$(reply_legs <<<"$ours")" != "$(server_flows | reply_legs)" ]]; then
		echo "ctaccel and the server's conntrack differ (< ctaccel, > server):"
		diff <(reply_legs <<<"$ours") <(server_flows | reply_legs) || true
		return 1
	fi
}

# The fast path hands each packet to the kernel's neighbour layer
# (bpf_redirect_neigh), as the kernel's own forwarding does: a missing
# neighbour is resolved again, the packet waiting in its queue.
@test "neighbour: a deleted one is resolved again by the kernel, on the fast path" {
	local f
	fast_setup off
	rr_background 3
	# A packet in flight on the entry as it goes is dropped, as in the
	# kernel's own forwarding: the server never sees it, and its
	# retransmission is counted again (exact_against_ends).
	in_ns "$G" ip neigh del 198.18.1.2 dev vgs
	sleep 0.5
	f=$(counter fastpath_packets)
	in_ns "$G" ip neigh show 198.18.1.2 dev vgs | grep -q lladdr
	sleep 0.5
	rr_wait
	rr_good <"$BATS_TEST_TMPDIR/rr"
	(($(counter fastpath_packets) > f))
	exact_against_ends
}

@test "neighbour: a changed address takes effect at the next packet, as without ctaccel" {
	local mac f s
	fast_setup off
	mac=$(in_ns "$S" cat /sys/class/net/vs/address)
	rr_background 4
	# The server's address moves to a MAC nobody has: its frames are
	# dropped by the server's device (another host's), so it receives
	# nothing while the client's retransmissions still leave the fast way.
	in_ns "$G" ip neigh replace 198.18.1.2 dev vgs lladdr 02:00:5e:00:53:99 nud permanent
	sleep 0.2
	f=$(counter fastpath_packets)
	s=$(chain_packets "$S" inet ctacc_so tin)
	sleep 0.6
	(($(chain_packets "$S" inet ctacc_so tin) == s))
	(($(counter fastpath_packets) > f))
	in_ns "$G" ip neigh replace 198.18.1.2 dev vgs lladdr "$mac" nud reachable
	rr_wait
	rr_good <"$BATS_TEST_TMPDIR/rr"
	(($(chain_packets "$S" inet ctacc_so tin) > s))
}

# The route lookups of a fast flow are memoised per flow (IPv4) until the
# kernel's route generation moves; these check that it moves where it must.
@test "routes: one deleted under a fast flow takes effect at its next packet" {
	local f
	fast_setup off
	rr_background 3
	# a /32 the flow's lookups alone use (its handshake took the /24),
	# then a blackhole behind it
	in_ns "$G" ip route add 198.18.1.2/32 dev vgs
	in_ns "$G" ip route add blackhole 198.18.1.2/31
	f=$(counter fastpath_packets)
	sleep 0.3
	(($(counter fastpath_packets) > f))
	(($(counter slow_no_route) == 0))
	in_ns "$G" ip route del 198.18.1.2/32 dev vgs
	rr_wait
	run rr_good <"$BATS_TEST_TMPDIR/rr"
	[[ $status -ne 0 ]]
	(($(counter slow_no_route) > 0))
}

# IPv4 only: over IPv6 this topology's echo traffic never sends a segment past
# the new MTU (the gateway's kernel sends no Packet Too Big, with or without
# ctaccel), so there is nothing to observe.
@test "slow path: a lowered egress MTU gives the client fragmentation needed, and PMTU works" {
	local f
	fast_setup off
	rr_background 3 3000
	# the link to the server gets narrower, on both of its ends
	in_ns "$S" ip link set vs mtu 1280
	in_ns "$G" ip link set vgs mtu 1280
	rr_wait
	rr_good <"$BATS_TEST_TMPDIR/rr"
	(($(counter slow_mtu) > 0))
	in_ns "$C" ip route get 198.18.1.2 | grep -q "mtu 1280"
	# new flows take the fast path at the smaller size
	f=$(counter fastpath_packets)
	in_ns "$C" "$OUT/rr" 198.18.1.2 80 1 1 3000 | rr_good
	(($(counter fastpath_packets) > f + 100))
}

@test "slow path: TTL 1 gives the client ICMP time exceeded, as without ctaccel" {
	local before
	fast_setup off
	before=$(in_ns "$C" nstat -asz IcmpInTimeExcds | awk '$1 == "IcmpInTimeExcds" {print $2}')
	rr_background 3
	in_ns "$C" ip route change default via 198.18.0.1 hoplimit 1
	rr_wait
	run rr_good <"$BATS_TEST_TMPDIR/rr"
	[[ $status -ne 0 ]]
	(($(counter ttl_expired) > 0))
	(($(in_ns "$C" nstat -asz IcmpInTimeExcds | awk '$1 == "IcmpInTimeExcds" {print $2}') > before))
}

@test "slow path: no route and forwarding off fail as without ctaccel, each counted" {
	fast_setup off
	rr_background 3
	in_ns "$G" ip route add blackhole 198.18.1.2/32
	rr_wait
	run rr_good <"$BATS_TEST_TMPDIR/rr"
	[[ $status -ne 0 ]]
	(($(counter slow_no_route) > 0))
	in_ns "$G" ip route del blackhole 198.18.1.2/32
	rr_background 3
	in_ns "$G" sysctl -qw net.ipv4.conf.vgc.forwarding=0
	rr_wait
	run rr_good <"$BATS_TEST_TMPDIR/rr"
	[[ $status -ne 0 ]]
	(($(counter slow_fwd_disabled) > 0))
	in_ns "$G" sysctl -qw net.ipv4.conf.vgc.forwarding=1
	in_ns "$C" "$OUT/rr" 198.18.1.2 80 1 1 | rr_good
}

@test "slow path: an egress device without ctaccel, traffic still flows" {
	fast_setup off
	rr_background 3
	ctaccel_g detach vgs >/dev/null
	rr_wait
	rr_good <"$BATS_TEST_TMPDIR/rr"
	(($(counter slow_egress) > 0))
}

@test "policy words: fastpath in the CLI and the daemon's flags (the API: daemon.bats); errors once" {
	ctaccel_g load local off >/dev/null
	run ctaccel_g policy add all fastpath fastpath
	[[ $status -eq 2 && $output == *"unexpected 'fastpath'"* ]]
	[[ $(grep -c ctaccel: <<<"$output") -eq 1 ]]
	run ctaccel_g policy add 198.18.1.0/24 port 80 fastpath
	[[ $status -eq 0 && $output == *"198.18.1.0/24 port 80 fastpath"* ]]
	ctaccel_g -j policy show | jq -e '.[0].fastpath == true and .[0].port == 80'
	run nsenter --net="/run/netns/$G" "$CTACCEL" --pin-path "$PIN" daemon --check-config \
		--policy '198.18.1.0/24 fastpath port 80'
	[[ $status -eq 0 ]]
	run nsenter --net="/run/netns/$G" "$CTACCEL" --pin-path "$PIN" daemon --check-config \
		--policy '198.18.1.0/24 fast'
	[[ $status -ne 0 && $output == *"[fastpath]"* ]]
}

# Flows between two hosts share one memoised route answer while the gateway's
# netns has no policy rule (its lookups then read addresses only). A rule may
# match ports: from the first one on, each flow asks for its own. Here flows
# to port 81 take a table whose route has a smaller MTU; a port-80 flow's
# answer (MTU 1500) filled first must not carry them past it. Last in the
# file: the kernel never forgets that the netns had a rule.
@test "routes: a policy rule by port gives that port's flows their own answer" {
	local f server
	fast_setup off
	ip netns exec "$S" "$TCPGEN" server 198.18.1.2 81 >/dev/null 2>&1 3>&- &
	server=$!
	in_ns "$G" ip route add 198.18.1.0/24 dev vgs mtu lock 1300 table 100
	in_ns "$G" ip rule add ipproto tcp dport 81 lookup 100 pref 100
	# a port-80 flow of 1400-byte requests: fast, no MTU in its way
	rr_background 4 1400
	f=$(counter fastpath_packets)
	sleep 0.5
	(($(counter fastpath_packets) > f))
	# a port-81 flow of the same size meets the rule's MTU
	in_ns "$C" "$OUT/rr" 198.18.1.2 81 2 1 1400 | rr_good
	rr_wait
	kill "$server" 2>/dev/null || true
	(($(counter slow_mtu) > 0))
	in_ns "$C" ip route get 198.18.1.2 | grep -q "mtu 1300"
}
