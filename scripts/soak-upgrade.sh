#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Live upgrades under traffic: the state begins as the previous ABI's build
# pins it (.output/abiN/ctaccel, built from this repository's history), with
# flows, and this build's daemon migrates it at its start (docs/upgrading.md:
# no build goes back across an ABI, so the boundary is crossed once); then
# SWAPS times `ctaccel replace`, alternately from this build and the salted
# one (.output/upgrade/ctaccel: other program tags), while the daemon serves
# the state and connections run through the gateway on both CPUs
# (persistent ones, and churn). Passes when every swap succeeded,
# /readyz never answered anything but 200, every flow equals nf_conntrack's
# (state, packets and bytes each way), the per-state counts are equal and no
# traffic failed. Prints the swap time distribution.
#
#   SWAPS=1000 scripts/soak-upgrade.sh       (make soak-upgrade; make test runs 50)
set -euo pipefail
cd "$(dirname "$0")/.."
SWAPS=${SWAPS:-1000}
OUT=${OUTPUT:-.output}
ALT=$OUT/upgrade/ctaccel
PORT=9499
# shellcheck source=../tests/integration/lib.bash
source tests/integration/lib.bash
ABI=$("$CTACCEL" --version | sed -n 's/.*(abi \([0-9]*\),.*/\1/p')
PREV=$OUT/abi$((ABI - 1))/ctaccel
topo_names "up$$"
WORK=$(mktemp -d)
cleanup() {
	rm -f "$WORK/run"
	topo_down
	rm -rf "$WORK"
}
trap cleanup EXIT

if [[ $(id -u) -ne 0 ]]; then
	echo "ctaccel: soak-upgrade: needs root" >&2
	exit 1
fi
for bin in "$ALT" "$PREV"; do
	if [[ ! -x $bin ]]; then
		echo "ctaccel: soak-upgrade: $bin missing (make soak-upgrade builds it)" >&2
		exit 1
	fi
done
mountpoint -q /sys/fs/bpf 2>/dev/null || mount -t bpf bpf /sys/fs/bpf
topo_up
oracle_on
# The previous ABI's state, with flows, for the daemon to migrate.
nsenter --net="/run/netns/$G" "$PREV" --pin-path "$PIN" load >/dev/null
nsenter --net="/run/netns/$G" "$PREV" --pin-path "$PIN" attach vgc vgs >/dev/null
ip netns exec "$C" "$TCPGEN" client 198.18.1.2 80 c 50 >"$WORK/before"
nsenter --net="/run/netns/$G" "$CTACCEL" --pin-path "$PIN" daemon --devices vgc --devices vgs \
	--listen "127.0.0.1:$PORT" --repair-interval 1 >"$WORK/daemon.log" 2>&1 &
DAEMON=$!
# ready once it has migrated the state (two program sets verified: seconds,
# minutes under emulation)
for _ in $(seq $((300 * ${CTACCEL_TEST_SCALE:-1}))); do
	url -o /dev/null "http://127.0.0.1:$PORT/readyz" && break
	sleep 0.1
done
url -f -o /dev/null "http://127.0.0.1:$PORT/readyz"
migrated=$(grep -o "migrated the state of abi.*" "$WORK/daemon.log" || echo "NOT migrated")

touch "$WORK/run"
# Readiness, polled throughout: every answer is recorded.
(while [[ -e $WORK/run ]]; do
	url -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$PORT/readyz" || echo fail
	sleep 0.05
done >"$WORK/ready") &
LOOPS=$!
# Persistent connections on each CPU, and connection churn, in bounded runs.
# The server closes first, so TIME_WAIT sits on the server and the client's
# ports come free at once: at several hundred connections a second a client
# that closed first would run out of ephemeral ports within TIME_WAIT's 60 s.
ip netns exec "$C" sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
for cpu in 0 1; do
	(while [[ -e $WORK/run ]]; do
		taskset -c "$cpu" ip netns exec "$C" "$OUT/rr" 198.18.1.2 80 2 2 || echo "rr failed"
	done >"$WORK/rr$cpu" 2>"$WORK/rr$cpu.err") &
	LOOPS+=" $!"
done
(while [[ -e $WORK/run ]]; do
	ip netns exec "$C" "$TCPGEN" client 2001:db8:1::2 80 s 200 || echo "churn failed"
done >"$WORK/churn" 2>"$WORK/churn.err") &
LOOPS+=" $!"

ms() { echo $(($(date +%s%N) / 1000000)); }
ok=0
: >"$WORK/times"
for ((i = 1; i <= SWAPS; i++)); do
	bin=$CTACCEL
	((i % 2)) && bin=$ALT
	t0=$(ms)
	if out=$(nsenter --net="/run/netns/$G" "$bin" --pin-path "$PIN" replace 2>&1) &&
		[[ $out == *replaced* && $out != *unchanged* ]]; then
		ok=$((ok + 1))
	else
		echo "swap $i failed: $out"
	fi
	echo $(($(ms) - t0)) >>"$WORK/times"
done
rm -f "$WORK/run"
# shellcheck disable=SC2086
wait $LOOPS
sleep 1 # the last closes cross the gateway after the clients exit

# Kernel expiry would move the table between the reads below (and the daemon
# would start it again): both stop first.
kill "$DAEMON"
wait "$DAEMON" 2>/dev/null || true
ctaccel_g expiry stop >/dev/null
fail=0
echo "start: $(cat "$WORK/before") before, the daemon $migrated"
[[ $migrated == "migrated the state of abi $((ABI - 1)) to abi $ABI: "* ]] || fail=1
echo "swaps: $ok of $SWAPS succeeded"
((ok == SWAPS)) || fail=1
sort -n "$WORK/times" | awk '{a[NR] = $1} END {
	printf "swap time, ms: min %d, median %d, p90 %d, p99 %d, max %d\n",
		a[1], a[int((NR + 1) / 2)], a[int(NR * 0.9 + 0.5)], a[int(NR * 0.99 + 0.5)], a[NR]}'
not_ready=$(grep -cv '^200$' "$WORK/ready" || true)
echo "readiness: $(wc -l <"$WORK/ready") probes, $not_ready not 200"
if ((not_ready > 0)); then
	# which answers (000: no answer within curl's 5 s), and what the daemon said
	echo "not 200: $(grep -v '^200$' "$WORK/ready" | sort | uniq -c | xargs)"
	sed 's/^/daemon: /' "$WORK/daemon.log" | tail -n 20
	fail=1
fi
tx=$(cat "$WORK/rr0" "$WORK/rr1" | awk '$1 == "ok" {s += $2} END {print s + 0}')
conns=$(awk '$1 == "ok" {s += $2} END {print s + 0}' "$WORK/churn")
bad=$(cat "$WORK/rr0" "$WORK/rr1" "$WORK/churn" | grep -cv '^ok [0-9]* fail 0$' || true)
echo "traffic: $tx persistent transactions, $conns connections, $bad failed runs"
if ((bad > 0)); then
	echo "why (count, first failure of each failed run):"
	cat "$WORK"/*.err | sort | uniq -c | sort -rn | head -10
fi
((bad == 0 && tx > 0 && conns > 0)) || fail=1
# Every flow more than 5 s from its timeout on one side is on the other,
# equal: the two expire flows on different clocks (jiffies against
# nf_conntrack's own), so a run longer than TIME_WAIT's 120 s always has some
# at the boundary, present on one side only.
fresh_ctaccel() {
	ctaccel_g -j flow show | jq -r '.[] | select(.expires_s > 5) |
		"\(.src) \(.sport) \(.dst) \(.dport) \(.state) \(.orig_packets) \(.orig_bytes) \(.reply_packets) \(.reply_bytes)"' | sort
}
fresh_conntrack() { conntrack_list | awk '$3 > 5' | conntrack_format; }
ctaccel_g gc >/dev/null
only_ctaccel=$(comm -23 <(fresh_ctaccel) <(conntrack_flows))
only_conntrack=$(comm -23 <(fresh_conntrack) <(ctaccel_flows))
if [[ -z $only_ctaccel && -z $only_conntrack && -n "$(fresh_conntrack)" ]]; then
	echo "flows: $(ctaccel_flows | wc -l), each equal to nf_conntrack's" \
		"(those within 5 s of their timeout on either side may be on one side only)"
else
	echo "flows: NOT equal to nf_conntrack's"
	printf 'ctaccel only: %s\nconntrack only: %s\n' "$only_ctaccel" "$only_conntrack" | head -20
	fail=1
fi
# the per-state gauges, kept across every swap, equal the table
if [[ "$(ctaccel_g -j stats | jq -r '.states | to_entries[] | select(.value > 0) | "\(.key) \(.value)"' | sort)" != \
	"$(ctaccel_g -j flow show | jq -r '.[].state' | sort | uniq -c | awk '{print $2, $1}')" ]]; then
	echo "per-state gauges differ from the table"
	fail=1
fi
grep -c "programs replaced by another ctaccel" "$WORK/daemon.log" |
	xargs printf 'daemon: took up the new programs %s times\n'
exit $fail
