# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Three namespaces: client (C) -- gateway (G, ctaccel on both veths) -- server (S).
# IPv4 from 198.18.0.0/15, IPv6 from 2001:db8::/32. Everything made here is
# removed by topo_down, which the test files call from teardown_file (it runs
# even when a test fails) and the demo from its exit trap.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${OUTPUT:-$ROOT/.output}
CTACCEL=${CTACCEL:-$ROOT/ctaccel}
TCPGEN=$OUT/tcpgen

topo_names() {
	local tag=$1
	C=ctacc-$tag-c
	G=ctacc-$tag-g
	S=ctacc-$tag-s
	PIN=/sys/fs/bpf/ctaccel-test-$tag
	export C G S PIN
}

in_ns() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# What is on a gateway device's hook (DEV ingress|egress): the programs of
# its tcx hook ("id N name NAME"), then its tc filters. Empty: nothing.
hook_progs() {
	in_ns "$G" "$OUT/tcxprogs" "$1" "$2"
	in_ns "$G" tc filter show dev "$1" "$2"
}

# ctaccel in the gateway's network namespace, on the test's own pin path.
ctaccel_g() {
	nsenter --net="/run/netns/$G" "$CTACCEL" --pin-path "$PIN" "$@"
}

topo_up() {
	topo_down 2>/dev/null
	ip netns add "$C"
	ip netns add "$G"
	ip netns add "$S"
	ip link add vc netns "$C" type veth peer name vgc netns "$G"
	ip link add vs netns "$S" type veth peer name vgs netns "$G"
	in_ns "$C" ip addr add 198.18.0.2/24 dev vc
	in_ns "$C" ip addr add 2001:db8::2/64 dev vc nodad
	in_ns "$G" ip addr add 198.18.0.1/24 dev vgc
	in_ns "$G" ip addr add 2001:db8::1/64 dev vgc nodad
	in_ns "$G" ip addr add 198.18.1.1/24 dev vgs
	in_ns "$G" ip addr add 2001:db8:1::1/64 dev vgs nodad
	in_ns "$S" ip addr add 198.18.1.2/24 dev vs
	in_ns "$S" ip addr add 2001:db8:1::2/64 dev vs nodad
	for ns in "$C" "$G" "$S"; do
		in_ns "$ns" ip link set lo up
	done
	in_ns "$C" ip link set vc up
	in_ns "$S" ip link set vs up
	in_ns "$G" ip link set vgc up
	in_ns "$G" ip link set vgs up
	in_ns "$C" ip route add default via 198.18.0.1
	in_ns "$C" ip -6 route add default via 2001:db8::1
	in_ns "$S" ip route add default via 198.18.1.1
	in_ns "$S" ip -6 route add default via 2001:db8:1::1
	in_ns "$G" sysctl -qw net.ipv4.ip_forward=1
	in_ns "$G" sysctl -qw net.ipv6.conf.all.forwarding=1
	# Port 9 on the server swallows SYNs: the "unanswered" case.
	in_ns "$S" nft add table inet ctacc_s
	in_ns "$S" nft add chain inet ctacc_s in '{ type filter hook input priority 0; }'
	in_ns "$S" nft add rule inet ctacc_s in tcp dport 9 drop
	# Not through a function: $! must be the server itself.
	ip netns exec "$S" "$TCPGEN" server 198.18.1.2 80 >/dev/null 2>&1 3>&- &
	ip netns exec "$S" "$TCPGEN" server 2001:db8:1::2 80 >/dev/null 2>&1 3>&- &
	# Routes and neighbours settle before the first measured connection.
	in_ns "$C" ping -c1 -W2 198.18.1.2 >/dev/null 2>&1 || true
	in_ns "$C" ping -6 -c1 -W2 2001:db8:1::2 >/dev/null 2>&1 || true
}

# nf_conntrack in the gateway, with packet/byte accounting: the oracle.
oracle_on() {
	in_ns "$G" sysctl -qw net.netfilter.nf_conntrack_acct=1
	in_ns "$G" nft add table inet ctacc_oracle
	in_ns "$G" nft add chain inet ctacc_oracle ctfwd '{ type filter hook forward priority 0; }'
	in_ns "$G" nft add rule inet ctacc_oracle ctfwd ct state new,established,related,invalid counter accept
}

topo_down() {
	local ns
	# Every process still inside a test namespace (servers, clients).
	for ns in "$C" "$G" "$S"; do
		if [[ -e /run/netns/$ns ]]; then
			ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
		fi
	done
	# force: a daemon just sent SIGTERM above may not have exited yet
	if [[ -e /run/netns/$G ]]; then
		ctaccel_g unload force >/dev/null 2>&1 || true
	fi
	ip netns del "$C" 2>/dev/null || true
	ip netns del "$G" 2>/dev/null || true
	ip netns del "$S" 2>/dev/null || true
	# Pins outlive the namespaces: remove whatever the test left.
	if [[ -d $PIN ]]; then
		"$CTACCEL" --pin-path "$PIN" unload force >/dev/null 2>&1 || true
		rm -rf "$PIN"
	fi
	return 0
}

# Loopback flows of the gateway itself (its HTTP API) are nf_conntrack's, not
# ctaccel's: ctaccel is not attached to lo.
conntrack_list() {
	in_ns "$G" conntrack -L -p tcp "$@" 2>/dev/null | grep -Ev 'src=(127\.[0-9.]+|::1) '
}

# One line per flow: src sport dst dport STATE op ob rp rb (originator first).
conntrack_flows() {
	conntrack_list "$@" | conntrack_format
}

# `conntrack -L` lines on stdin, one per flow as conntrack_flows prints them.
conntrack_format() {
	awk '
	{
		delete o; delete r; n = 0; state = $4
		for (i = 5; i <= NF; i++) {
			if (split($i, kv, "=") != 2)
				continue
			if (kv[1] == "src")
				n++
			if (n == 1)
				o[kv[1]] = kv[2]
			else if (n == 2)
				r[kv[1]] = kv[2]
		}
		print o["src"], o["sport"], o["dst"], o["dport"], state, o["packets"], o["bytes"], r["packets"], r["bytes"]
	}' | sort
}

# UDP flows in conntrack_flows' form, the state being ctaccel's name of
# nf_conntrack's class: UDP_UNREPLIED, UDP_ASSURED, else UDP_REPLIED.
conntrack_udp_flows() {
	in_ns "$G" conntrack -L -p udp "$@" 2>/dev/null | grep -Ev 'src=(127\.[0-9.]+|::1) ' |
		awk '{
			c = /\[UNREPLIED\]/ ? "UDP_UNREPLIED" : /\[ASSURED\]/ ? "UDP_ASSURED" : "UDP_REPLIED"
			$4 = c " " $4
			print
		}' | conntrack_format
}

# ctaccel's flows of PROTO, one per line as conntrack_flows prints them; a
# failed read is a failure, never an empty table.
ctaccel_proto_flows() {
	local table
	table=$(ctaccel_g -j flow show proto "$1") || return 1
	jq -r '.[] | "\(.src) \(.sport) \(.dst) \(.dport) \(.state) \(.orig_packets) \(.orig_bytes) \(.reply_packets) \(.reply_bytes)"' <<<"$table" | sort
}

ctaccel_udp_flows() { ctaccel_proto_flows udp; }

ctaccel_flows() { ctaccel_proto_flows tcp; }

# STATE count, one per line, all states (zeros included), sorted.
ctaccel_state_counts() {
	ctaccel_g -j stats | jq -r '.states | to_entries[] | "\(.key) \(.value)"' | sort
}

conntrack_state_counts() {
	local st udp
	udp=$(conntrack_udp_flows)
	{
		for st in SYN_SENT SYN_RECV ESTABLISHED FIN_WAIT CLOSE_WAIT LAST_ACK TIME_WAIT CLOSE SYN_SENT2; do
			echo "$st $(conntrack_list | awk -v s="$st" '$4 == s' | wc -l)"
		done
		for st in UDP_UNREPLIED UDP_REPLIED UDP_ASSURED; do
			echo "$st $(awk -v s="$st" 'NF && $5 == s' <<<"$udp" | wc -l)"
		done
	} | sort
}

# Run the connection mix from the client to ADDR; HOLD connections stay open.
traffic_mix() {
	local addr=$1 m
	for m in c s h b r R; do
		in_ns "$C" "$TCPGEN" client "$addr" 80 "$m" 5 >/dev/null
	done
	in_ns "$C" "$TCPGEN" client "$addr" 7 x 3 >/dev/null   # refused (RST)
	in_ns "$C" "$TCPGEN" client "$addr" 9 x 2 >/dev/null   # unanswered SYN
}

# The gateway's configuration for a variant of bench-crr, from nothing
# loaded: none (forwarding only), conntrack (the oracle's rule), track
# (ctaccel beside it), bypass (policy all).
bench_variant() {
	in_ns "$G" nft delete table inet ctacc_oracle 2>/dev/null || true
	ctaccel_g unload force >/dev/null 2>&1 || true
	in_ns "$G" conntrack -F >/dev/null 2>&1 || true
	[[ $1 == none ]] && return 0
	oracle_on
	[[ $1 == conntrack ]] && return 0
	ctaccel_g attach vgc vgs >/dev/null
	[[ $1 == track ]] || ctaccel_g policy add all >/dev/null
}

# The daemon in the gateway, on $PORT and the test's pin path; its log and pid
# in the test file's temporary directory.
daemon_start() {
	# a daemon left running would answer the probe below for the new one
	if http -o /dev/null /healthz; then
		echo "a daemon already answers on $PORT"
		return 1
	fi
	nsenter --net="/run/netns/$G" "$CTACCEL" daemon --pin-path "$PIN" --devices vgc \
		--devices vgs --listen "127.0.0.1:$PORT" "$@" >"$BATS_FILE_TMPDIR/daemon.log" 2>&1 3>&- &
	echo $! >"$BATS_FILE_TMPDIR/daemon.pid"
	local i
	for i in $(seq 50); do
		http -o /dev/null /healthz && return 0
		sleep 0.1
	done
	cat "$BATS_FILE_TMPDIR/daemon.log"
	return 1
}

# A test's own daemon stopped (if it started one), then the state unloaded:
# the teardown of files whose tests each start from nothing loaded.
daemon_teardown() {
	if [[ -f $BATS_FILE_TMPDIR/daemon.pid ]]; then
		daemon_stop
		rm -f "$BATS_FILE_TMPDIR/daemon.pid"
	fi
	ctaccel_g unload force >/dev/null 2>&1 || true
}

daemon_stop() {
	local pid i
	pid=$(cat "$BATS_FILE_TMPDIR/daemon.pid")
	kill "${1:--TERM}" "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	# a daemon started by another test is no child of this shell: wait for
	# it to be gone (its exit path releases its instance lock last)
	for i in $(seq 100); do
		# gone, or a zombie its parent (another test's shell) has yet to reap
		[[ $(ps -o stat= -p "$pid" 2>/dev/null) == Z* || -z $(ps -o pid= -p "$pid") ]] &&
			return 0
		sleep 0.1
	done
	echo "daemon $pid did not exit within 10 s" >&2
	return 1
}

# http [CURL OPTIONS] PATH: the daemon's API on $PORT, failing on HTTP errors.
http() {
	nsenter --net="/run/netns/$G" curl -sf --max-time 5 "${@:1:$#-1}" "http://127.0.0.1:$PORT${*: -1}" 2>/dev/null
}

url() { nsenter --net="/run/netns/$G" curl -s --max-time 5 "$@"; }

# equal_to_conntrack [TRIES]: after a GC, ctaccel's TCP flows equal
# conntrack's, flow by flow. The closes the kernel finishes after a client
# exits settle first: the look is taken again every 0.2 s, at most TRIES
# times (default 50); a difference that lasts fails, and is shown.
equal_to_conntrack() {
	local tries=${1:-50} i ours theirs
	for ((i = 0; i < tries; i++)); do
		ctaccel_g gc >/dev/null
		ours=$(ctaccel_flows) || {
			echo "ctaccel: flow show failed"
			return 1
		}
		theirs=$(conntrack_flows)
		[[ $ours == "$theirs" ]] && return 0
		sleep 0.2
	done
	echo "ctaccel and conntrack differ (< ctaccel, > conntrack):"
	diff <(echo "$ours") <(echo "$theirs")
	return 1
}

# counted_once: every packet accounted is in a flow of the table or in the
# totals of the ended ones. The counters and the table are read apart, so a
# late segment (a retransmitted FIN reaching a TIME_WAIT flow) or an expiry
# between the reads shows as a difference: only a snapshot that both
# counters bracket unchanged is compared (use with wait_until, which fails
# on a difference that lasts).
counted_once() {
	local before after sum
	before=$(ctaccel_g -j stats | jq -c '[.counters.tracked_packets, .counters.deleted_packets]')
	sum=$(ctaccel_g -j flow show | jq '[.[] | .orig_packets + .reply_packets] | add')
	after=$(ctaccel_g -j stats | jq -c '[.counters.tracked_packets, .counters.deleted_packets]')
	[[ $before == "$after" ]] || return 1
	echo "tracked, deleted = $after; in the table: $sum" >&2
	jq -e --argjson s "$sum" '.[1] + $s == .[0]' <<<"$after" >/dev/null
}

# traffic_start ROUNDS: persistent connections pinned to each CPU, and churn
# of at most ROUNDS runs of 200 connections (their TIME_WAIT flows stay for
# 120 s: the table must have room for all), in bounded runs while
# $BATS_FILE_TMPDIR/run exists. traffic_stop ends them, prints what each
# run said, and fails if any failed.
traffic_start() {
	local rounds=$1 cpu i
	TRAFFIC=""
	touch "$BATS_FILE_TMPDIR/run"
	ip netns exec "$C" sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
	for cpu in 0 1; do
		(while [[ -e $BATS_FILE_TMPDIR/run ]]; do
			taskset -c "$cpu" ip netns exec "$C" "$OUT/rr" 198.18.1.2 80 2 2 || echo "rr failed"
		done >"$BATS_FILE_TMPDIR/rr$cpu" 2>&1) &
		TRAFFIC+=" $!"
	done
	(for ((i = 0; i < rounds; i++)); do
		[[ -e $BATS_FILE_TMPDIR/run ]] || break
		ip netns exec "$C" "$TCPGEN" client 2001:db8:1::2 80 s 200 || echo "churn failed"
	done >"$BATS_FILE_TMPDIR/churn" 2>&1) &
	TRAFFIC+=" $!"
}

# udp_bound ADDR PORT: a UDP socket bound in the gateway's namespace for at
# most 60 s (one a policy rule covering ADDR PORT marks); its pid in UDP_PID,
# once it is bound.
udp_bound() {
	local flag="$BATS_TEST_TMPDIR/udp-bound.$2"
	ip netns exec "$G" python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
open(sys.argv[3], "w").close()
time.sleep(60)' "$1" "$2" "$flag" 3>&- &
	UDP_PID=$!
	wait_until 100 '[[ -e $flag ]]'
}

# For a test's teardown: a test that failed between traffic_start and
# traffic_stop leaves no traffic running behind it (each run ends within
# seconds once the file is gone).
traffic_end() {
	rm -f "$BATS_FILE_TMPDIR/run"
}

traffic_stop() {
	local runs=("$BATS_FILE_TMPDIR"/rr0 "$BATS_FILE_TMPDIR"/rr1 "$BATS_FILE_TMPDIR"/churn)
	rm -f "$BATS_FILE_TMPDIR/run"
	# shellcheck disable=SC2086
	wait $TRAFFIC
	cat "${runs[@]}"
	! grep -v '^ok [0-9]* fail 0$' "${runs[@]}"
}

# wait_until TRIES CONDITION: evaluate the shell text CONDITION every 0.1 s
# until it holds, at most TRIES times; fails if it never did.
wait_until() {
	local tries=$1 i
	shift
	for ((i = 0; i < tries; i++)); do
		eval "$*" && return 0
		sleep 0.1
	done
	return 1
}
