#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Where ctaccel's ingress program spends its time under real traffic: a
# client, one gateway (`load local off`, policy `all` with MODE's words) and a
# server, all on one CPU, persistent 64-byte request/response connections
# (rr) or connection churn (crr: connect, one byte, 100 bytes back, the server
# closes first) for SECONDS while perf samples that CPU with call chains. The
# samples inside the ingress program are grouped by what they were doing: the
# route lookup, the rewrite, the flow table lookup, the flow's update (its
# locked instructions), a new or reopened flow, parsing. BPF stats give ns per
# packet beside them; the benchmarks (make bench-gateway) give what the groups
# cost the gateway.
#
#   scripts/profile-gateway.sh [bypass|fastpath] [SECONDS] [rr|crr]
#   (make profile-gateway MODE=... WORKLOAD=...)
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-fastpath}
SECS=${2:-8}
WORKLOAD=${3:-rr}
CPU=${BENCH_CPU:-0}
# shellcheck source=../tests/integration/lib.bash
source tests/integration/lib.bash # topo_*, in_ns, ctaccel_g; OUT

case $MODE in
bypass) words=() ;;
fastpath) words=(fastpath) ;;
*)
	echo "ctaccel: profile-gateway: mode is bypass or fastpath, not $MODE" >&2
	exit 2
	;;
esac
if [[ $WORKLOAD != rr && $WORKLOAD != crr ]]; then
	echo "ctaccel: profile-gateway: workload is rr or crr, not $WORKLOAD" >&2
	exit 2
fi
if [[ $(id -u) -ne 0 ]]; then
	echo "ctaccel: profile-gateway: needs root" >&2
	exit 1
fi
bash scripts/deps.sh profile
STATS=$(sysctl -n kernel.bpf_stats_enabled)
WORK=$(mktemp -d)
topo_names "pg$$"
cleanup() {
	sysctl -qw kernel.bpf_stats_enabled="$STATS"
	topo_down
	rm -rf "$WORK"
}
trap cleanup EXIT

mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
topo_up
oracle_on
ctaccel_g load local off >/dev/null
ctaccel_g attach vgc vgs >/dev/null
ctaccel_g policy add all "${words[@]}" >/dev/null
for pid in $(ip netns pids "$S"); do
	taskset -apc "$CPU" "$pid" >/dev/null
done
sysctl -qw kernel.bpf_stats_enabled=1
if [[ $WORKLOAD == rr ]]; then
	taskset -c "$CPU" ip netns exec "$C" "$OUT/rr" 198.18.1.2 80 $((SECS + 2)) 8 64 >"$WORK/load" &
else
	# 8 s first: the client's ports come round again, and SYNs reopen
	# their TIME_WAIT entries, as on a busy node
	taskset -c "$CPU" ip netns exec "$C" "$OUT/crr" 198.18.1.2 80 $((SECS + 10)) 8 >"$WORK/load" &
	sleep 8
fi
LOAD=$!
sleep 1
perf record -q -C "$CPU" -g -o "$WORK/perf.data" -- sleep "$SECS" >/dev/null 2>&1
wait "$LOAD"
prog=$(bpftool -j prog show pinned "$PIN/prog_ingress")
sysctl -qw kernel.bpf_stats_enabled="$STATS"

case $WORKLOAD in
rr) what="rr (8 connections, 64 B)" ;;
crr) what="crr (8 threads)" ;;
esac
echo "ctaccel ingress profile, $(date -u '+%F %H:%M UTC'), kernel $(uname -r), mode $MODE," \
	"$SECS s of $what on CPU $CPU: $(cat "$WORK/load")"
ctaccel_g -j stats | jq -r '"flows started: \(.counters.flows_created), of them reopened in place: \(.counters.flows_reopened)"'

jq -r '"BPF stats: \(.run_time_ns / .run_cnt | floor) ns per packet over \(.run_cnt) packets"' \
	<<<"$prog"
# Each sample is a block of frames, the leaf first; one under the ingress
# program goes to the group of the first frame that names one.
perf script -i "$WORK/perf.data" -F ip,sym 2>/dev/null | awk '
function group(    i) {
	for (i = 1; i <= n; i++) {
		if (fr[i] ~ /fib/) return "route lookup (bpf_fib_lookup)"
		if (fr[i] ~ /store_bytes|ensure_writable|pskb_expand/) return "rewrite (bpf_skb_store_bytes)"
		if (fr[i] ~ /redirect/) return "redirect"
		if (fr[i] ~ /htab|lookup_nulls|map_lookup|map_update/) return "map lookups (flows, devices)"
		if (fr[i] ~ /_unreplied_slot$/) return "unreplied_slot (ring of flows without a reply)"
		if (fr[i] ~ /_flow_reopen$/) return "flow_reopen (a SYN reopens a closed entry)"
		if (fr[i] ~ /_flow_update$/) return "flow_update (reference, word, legs)"
		if (fr[i] ~ /_parse$/) return "parse (headers, key hash)"
		if (fr[i] ~ /_fastpath_route$/) return "fastpath_route, own instructions"
		if (fr[i] ~ /_ctaccel_ingress$/) return "ctaccel_ingress, own instructions"
	}
	return "other"
}
function flush(    i, under) {
	if (!n) return
	total++
	for (i = 1; i <= n; i++) if (fr[i] ~ /_ctaccel_ingress$/) under = 1
	if (under) { ing++; c[group()]++ }
	n = 0
}
NF == 0 { flush(); next }
{ fr[++n] = $2 }
END {
	flush()
	printf "samples on CPU %s: %d; inside the ingress program: %d (%.2f %%), of which:\n",
		cpu, total, ing, 100 * ing / total > summary
	for (k in c) printf "  %5.1f %%  %s\n", 100 * c[k] / ing, k
}' cpu="$CPU" summary="$WORK/summary" | sort -rn >"$WORK/groups"
cat "$WORK/summary" "$WORK/groups"
