#!/usr/bin/env bats
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Host TCP sockets: ctaccel's in-kernel aggregates against /proc/net/sockstat
# and ss, in a namespace of their own.

load lib

# CTACCEL_TEST_SCALE=N divides every count (and the local port range, so
# that shares stay the same) by N: a virtual machine's emulated CPUs
# (tests/kernels) take longer to make 25,000 connections than TIME_WAIT
# lasts. Every comparison stays exact.
SCALE=${CTACCEL_TEST_SCALE:-1}
n() { echo $(($1 / SCALE)); }

setup_file() {
	T=ctacc-sk$$-t
	U=ctacc-sk$$-u
	PIN=/sys/fs/bpf/ctaccel-test-sk$$
	export T U PIN
	ip netns add "$T"
	ip netns add "$U"
	ip -n "$T" link set lo up
	ip -n "$U" link set lo up
	ip netns exec "$T" sysctl -qw net.ipv4.ip_local_port_range="40000 $((40000 + $(n 25000)))"
	ip netns exec "$T" sysctl -qw net.ipv4.tcp_tw_reuse=0
	local a p
	for a in 127.0.0.1:80 127.0.0.1:81 127.0.0.1:82 ::1:80; do
		p=${a##*:}
		ip netns exec "$T" "$TCPGEN" server "${a%:*}" "$p" >/dev/null 2>&1 3>&- &
	done
	sleep 0.3
	nsenter --net="/run/netns/$T" "$CTACCEL" --pin-path "$PIN" load
	# Tens of thousands of TIME_WAIT sockets: clients close first, over
	# several server ports and both families; one port where servers close.
	# There the clients' ports are their own, outside the local range: a
	# port that connect() picked twice would end the server's first
	# TIME_WAIT socket of it (it did, 122 of 2,000 in one run of three).
	ip netns exec "$T" "$TCPGEN" client 127.0.0.1 80 c "$(n 14000)" >"$BATS_FILE_TMPDIR/gen80"
	ip netns exec "$T" "$TCPGEN" client 127.0.0.1 81 c "$(n 6000)" >"$BATS_FILE_TMPDIR/gen81"
	ip netns exec "$T" "$TCPGEN" client ::1 80 c "$(n 3000)" >"$BATS_FILE_TMPDIR/gen6"
	ip netns exec "$T" "$TCPGEN" client 127.0.0.1 82 s "$(n 2000)" 0 30000 >"$BATS_FILE_TMPDIR/gen82"
	# and some ESTABLISHED, held while the tests run
	ip netns exec "$T" "$TCPGEN" client 127.0.0.1 81 o 10 300 >/dev/null 2>&1 3>&- &
	sleep 0.5
}

teardown_file() {
	local ns
	for ns in "$T" "$U"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
	done
	"$CTACCEL" --pin-path "$PIN" unload >/dev/null 2>&1 || true
	rm -rf "$PIN"
	ip netns del "$T" 2>/dev/null || true
	ip netns del "$U" 2>/dev/null || true
}

# nsenter keeps the mount namespace, so the pins (transition counters) stay
# visible; `ip netns exec` remounts /sys and is tested for isolation below.
ctaccel_t() {
	nsenter --net="/run/netns/$T" "$CTACCEL" --pin-path "$PIN" "$@"
}

@test "the generator made tens of thousands of connections" {
	grep -q "ok $(n 14000) fail 0" "$BATS_FILE_TMPDIR/gen80"
	grep -q "ok $(n 6000) fail 0" "$BATS_FILE_TMPDIR/gen81"
	grep -q "ok $(n 3000) fail 0" "$BATS_FILE_TMPDIR/gen6"
	grep -q "ok $(n 2000) fail 0" "$BATS_FILE_TMPDIR/gen82"
}

@test "TIME_WAIT total equals /proc/net/sockstat and ss, exactly" {
	local ours sockstat ss
	ours=$(ctaccel_t -j tw | jq .time_wait)
	sockstat=$(ip netns exec "$T" awk '/^TCP:/ {for (i = 1; i < NF; i++) if ($i == "tw") print $(i + 1)}' /proc/net/sockstat)
	ss=$(ip netns exec "$T" ss -tan state time-wait | tail -n +2 | wc -l)
	echo "ctaccel $ours sockstat $sockstat ss $ss"
	[[ $ours -eq $sockstat && $ours -eq $ss ]]
	[[ $ours -ge $(n 20000) ]]
}

@test "TIME_WAIT per local port and per remote endpoint equal ss" {
	local ours theirs
	ours=$(ctaccel_t -j tw top 65536 | jq -r '.by_local_port[] | "\(.port) \(.count)"' | sort)
	theirs=$(ip netns exec "$T" ss -tanH state time-wait | awk '{n = split($3, a, ":"); print a[n]}' | sort | uniq -c | awk '{print $2, $1}' | sort)
	[[ "$ours" == "$theirs" ]]
	[[ $(echo "$ours" | grep -c "^82 $(n 2000)\$") -eq 1 ]]
	ours=$(ctaccel_t -j tw top 65536 | jq -r '.by_remote[] | "\(.addr) \(.port) \(.count)"' | sort)
	theirs=$(ip netns exec "$T" ss -tanH state time-wait | awk '{a = $4; n = split(a, p, ":"); port = p[n]; sub(/:[0-9]+$/, "", a); gsub(/[][]/, "", a); print a, port}' | sort | uniq -c | awk '{print $2, $3, $1}' | sort)
	[[ "$ours" == "$theirs" ]]
}

@test "a remote endpoint above half the ephemeral range is flagged" {
	run ctaccel_t -j tw top 3
	echo "$output" | jq -e '.by_remote[0] | .addr == "127.0.0.1" and .port == 80 and .count == '"$(n 14000)"' and .flagged'
	echo "$output" | jq -e '.by_remote[0].port_range_share > 0.55 and .by_remote[0].port_range_share < 0.57'
	echo "$output" | jq -e '.by_remote[1] | .port == 81 and (.flagged | not)'
	run ctaccel_t tw top 2
	[[ $output == *"near port exhaustion"* ]]
}

@test "counts per state equal ss grouped by state" {
	local ours theirs
	ours=$(ctaccel_t -j sockets | jq -r '.states | to_entries[] | select(.value > 0) | "\(.key) \(.value)"' | sort)
	theirs=$(ip netns exec "$T" ss -tanH | awk '{print $1}' | sed -e 's/^ESTAB$/ESTABLISHED/' -e 's/-//g' -e 's/FINWAIT/FIN_WAIT/' -e 's/TIMEWAIT/TIME_WAIT/' -e 's/CLOSEWAIT/CLOSE_WAIT/' -e 's/LASTACK/LAST_ACK/' -e 's/SYNSENT/SYN_SENT/' -e 's/SYNRECV/NEW_SYN_RECV/' | sort | uniq -c | awk '{print $2, $1}' | sort)
	echo "ours: $ours"
	echo "ss: $theirs"
	[[ "$ours" == "$theirs" ]]
	echo "$ours" | grep -q '^LISTEN 4$'
	echo "$ours" | grep -q '^ESTABLISHED 20$'
}

@test "namespaces are isolated" {
	[[ $(ip netns exec "$T" "$CTACCEL" -j tw | jq .time_wait) -ge $(n 20000) ]]
	[[ $(ip netns exec "$U" "$CTACCEL" -j tw | jq .time_wait) -eq 0 ]]
	[[ $(ip netns exec "$U" "$CTACCEL" -j sockets | jq '[.states[]] | add') -eq 0 ]]
	[[ $(ctaccel_t -j tw | jq .time_wait) -ge $(n 20000) ]]
}

@test "transition counters match the generator's connections" {
	local before after
	before=$(ctaccel_t -j sockets | jq .transitions)
	ip netns exec "$T" "$TCPGEN" client 127.0.0.1 81 c 100 | grep -q "ok 100 fail 0"
	sleep 0.3
	after=$(ctaccel_t -j sockets | jq .transitions)
	delta() { echo $(( $(echo "$after" | jq ".$1") - $(echo "$before" | jq ".$1") )); }
	[[ $(delta opened_active) -eq 100 ]]
	[[ $(delta opened_passive) -eq 100 ]]
	[[ $(delta time_wait_entered) -eq 100 ]]
	# client's TIME_WAIT entries and the server's LAST_ACK -> CLOSE
	[[ $(delta closed_by_fin) -eq 200 ]]
}
