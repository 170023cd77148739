#!/usr/bin/env bats
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Handshake latency per server endpoint, against independent measures:
# handshakes whose ends wait 24 ms (server) and 6 ms (client) before they
# answer (scapy, as this kernel has no netem) land, leg by leg and bucket by
# bucket, where tcpdump at the gateway puts them; per-endpoint counts equal
# the connections the generator made; SYN retransmissions equal the SYNs the
# server's firewall counted, less the connections that sent them.

load lib

PORT=9477

setup_file() {
	topo_names "lt$$"
	topo_up
	# the SYNs to port 9 the server drops, counted before they are
	in_ns "$S" nft insert rule inet ctacc_s in tcp dport 9 counter
	# port 7000 belongs to handshake.py at both ends: the kernels drop it
	in_ns "$S" nft add rule inet ctacc_s in tcp dport 7000 drop
	in_ns "$C" nft add table inet ctacc_c
	in_ns "$C" nft add chain inet ctacc_c in '{ type filter hook input priority 0; }'
	in_ns "$C" nft add rule inet ctacc_c in tcp sport 7000 drop
}

teardown_file() {
	topo_down
}

setup() {
	ctaccel_g load >/dev/null
	ctaccel_g attach vgc vgs >/dev/null
}

teardown() {
	daemon_teardown
}

# the field of one endpoint's leg: ep ADDR PORT JQ-PATH
ep() {
	jq -r --arg a "$1" --argjson p "$2" ".endpoints[] | select(.addr == \$a and .port == \$p) | $3" \
		<<<"$lat"
}

in_bucket() { # in_bucket VALUE_MS LO_MS HI_MS
	awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN {exit !(v >= lo && v < hi)}'
}

@test "counts per endpoint equal the generator's, IPv4 and IPv6; data adds nothing" {
	local lat
	[[ $(in_ns "$C" "$TCPGEN" client 198.18.1.2 80 c 20) == "ok 20 fail 0" ]]
	[[ $(in_ns "$C" "$TCPGEN" client 2001:db8:1::2 80 c 12) == "ok 12 fail 0" ]]
	lat=$(ctaccel_g -j latency)
	[[ $(jq '.server.count' <<<"$lat") -eq 32 && $(jq '.client.count' <<<"$lat") -eq 32 ]]
	[[ $(ep 198.18.1.2 80 .server.count) -eq 20 && $(ep 198.18.1.2 80 .client.count) -eq 20 ]]
	[[ $(ep 2001:db8:1::2 80 .server.count) -eq 12 && $(ep 2001:db8:1::2 80 .client.count) -eq 12 ]]
	[[ $(jq '[.server.buckets[].count] | add' <<<"$lat") -eq 32 ]]
	# data on established flows adds nothing; a new connection adds one
	in_ns "$C" "$OUT/rr" 198.18.1.2 80 1 2 >/dev/null
	[[ $(ctaccel_g -j latency | jq '.server.count') -eq 34 ]]
	run ctaccel_g latency server 198.18.1.2 port 80
	[[ $status -eq 0 && $output == *"198.18.1.2:80"* && $output == *"server "* ]]
	[[ $output != *"2001:db8"* ]]
}

@test "a 24 ms server and a 6 ms client: every leg in the bucket tcpdump at the gateway puts it" {
	local srv cap lat
	cap=$BATS_TEST_TMPDIR/cap
	in_ns "$G" timeout 60 tcpdump -i any -Q in -tt -nn -l 'tcp port 7000' >"$cap" 2>/dev/null &
	ip netns exec "$S" timeout 60 /usr/bin/python3 "$ROOT/tests/integration/handshake.py" \
		server vs 7000 24 15 >"$BATS_TEST_TMPDIR/srv" 2>&1 &
	srv=$!
	for _ in $(seq 100); do
		grep -q ready "$BATS_TEST_TMPDIR/srv" && break
		sleep 0.1
	done
	sleep 0.5 # tcpdump listens too
	[[ $(ip netns exec "$C" timeout 60 /usr/bin/python3 "$ROOT/tests/integration/handshake.py" \
		client 198.18.1.2 7000 6 15) == "ok 15" ]]
	wait "$srv" || true
	sleep 0.5
	pkill -f "tcpdump -i any -Q in -tt -nn -l tcp port 7000" || true
	sleep 0.3
	wait || true
	/usr/bin/python3 "$ROOT/tests/integration/handshake.py" gaps <"$cap" >"$BATS_TEST_TMPDIR/want"
	lat=$(ctaccel_g -j latency server 198.18.1.2 port 7000)
	jq .endpoints[0] <<<"$lat" >"$BATS_TEST_TMPDIR/got"
	echo "# tcpdump: $(jq -c '{server, client}' "$BATS_TEST_TMPDIR/want")" >&3
	echo "# ctaccel: $(jq -c '{server: .server.buckets, client: .client.buckets} | map_values(map({(.lo_ms | tostring): .count}) | add)' "$BATS_TEST_TMPDIR/got")" >&3
	run /usr/bin/python3 "$ROOT/tests/integration/handshake.py" compare "$BATS_TEST_TMPDIR/want" \
		"$BATS_TEST_TMPDIR/got"
	echo "$output"
	[[ $status -eq 0 && $output == equal ]]
	[[ $(jq '.endpoints[0].server.count' <<<"$lat") -eq 15 ]]
	# and the medians sit in the buckets of 24 and 6 ms
	in_bucket "$(jq .endpoints[0].server.p50_ms <<<"$lat")" 16.384 32.768
	in_bucket "$(jq .endpoints[0].client.p50_ms <<<"$lat")" 4.096 8.192
}

@test "SYN retransmissions per endpoint equal the SYNs the server dropped, less the connections" {
	local before after lat
	before=$(in_ns "$S" nft -j list chain inet ctacc_s in | jq '[.nftables[].rule? | select(. != null) | .expr[] | .counter? | select(. != null) | .packets] | add')
	in_ns "$C" "$TCPGEN" client 198.18.1.2 9 x 3 >/dev/null
	after=$(in_ns "$S" nft -j list chain inet ctacc_s in | jq '[.nftables[].rule? | select(. != null) | .expr[] | .counter? | select(. != null) | .packets] | add')
	lat=$(ctaccel_g -j latency)
	echo "# $((after - before)) SYNs to port 9 for 3 connections" >&3
	(((after - before) > 3))
	[[ $(ep 198.18.1.2 9 .syn_retransmits) -eq $((after - before - 3)) ]]
	[[ $(jq .syn_retransmits <<<"$lat") -eq $((after - before - 3)) ]]
	# no answer: nothing in its histograms
	[[ $(ep 198.18.1.2 9 .server.count) -eq 0 ]]
}

@test "metrics: Prometheus histograms equal the CLI's, +Inf equals the count" {
	in_ns "$C" "$TCPGEN" client 198.18.1.2 80 c 5 >/dev/null
	daemon_start
	local m
	m=$(url "http://127.0.0.1:$PORT/metrics")
	grep -q '^# TYPE ctaccel_handshake_seconds histogram' <<<"$m"
	[[ $(awk '$1 == "ctaccel_handshake_seconds_count{leg=\"server\"}" {print $2}' <<<"$m") -eq \
		$(ctaccel_g -j latency | jq .server.count) ]]
	[[ $(awk '$1 == "ctaccel_handshake_seconds_bucket{leg=\"client\",le=\"+Inf\"}" {print $2}' <<<"$m") -eq \
		$(ctaccel_g -j latency | jq .client.count) ]]
	# cumulative: never down from one le to the next
	awk '$1 ~ /^ctaccel_handshake_seconds_bucket\{leg="server"/ { if ($2 < last) exit 1; last = $2 }' <<<"$m"
	if command -v promtool >/dev/null; then
		promtool check metrics <<<"$m"
	fi
}

@test "bad latency input: exit 2 and one message naming it" {
	run ctaccel_g latency server 198.18.1.300
	[[ $status -eq 2 && $output == *"'198.18.1.300' is not an IPv4 or IPv6 address"* ]]
	run ctaccel_g latency port 70000
	[[ $status -eq 2 && $output == *"port '70000'"* ]]
	run ctaccel_g latency frobnicate
	[[ $status -eq 2 && $output == *"unexpected 'frobnicate'"* ]]
}
