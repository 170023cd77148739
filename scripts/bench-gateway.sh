#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# What the gateway itself costs per transaction, by subtraction: client,
# gateway and server all run on one CPU (processes pinned with taskset; veth
# hands packets to the backlog of the sending CPU, so the softirq work stays
# there too), which they saturate. The gateway's cost is that CPU's busy time
# per transaction through the gateway minus that of the same client talking to
# the server straight from the gateway's namespace, measured in the same
# round. Variants alternate within each round; medians, and every round.
#
#   connect-request-response: tests/bench/crr.c (one byte, server closes)
#   persistent: tests/bench/rr.c (64-byte request and response, 8 connections)
#
# Then one persistent pass per ctaccel variant with kernel.bpf_stats_enabled=1
# (restored afterwards): the programs' own ns per packet under real traffic.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER=${SECONDS_PER:-5}
ROUNDS=${ROUNDS:-5}
CPU=${BENCH_CPU:-0}
RR_CONNS=${RR_CONNS:-8}
CRR_THREADS=${CRR_THREADS:-4}
OUT=${OUTPUT:-.output}
PORT=90
# shellcheck source=../tests/integration/lib.bash
source tests/integration/lib.bash
topo_names "gw$$"
STATS=$(sysctl -n kernel.bpf_stats_enabled)
trap 'sysctl -qw kernel.bpf_stats_enabled="$STATS"; topo_down' EXIT

if [[ $(id -u) -ne 0 ]]; then
	echo "ctaccel: bench-gateway: needs root" >&2
	exit 1
fi
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
topo_up
ip netns exec "$S" taskset -c "$CPU" "$OUT/tcpgen" server 198.18.1.2 "$PORT" >/dev/null 2>&1 3>&- &
sleep 0.3


# Busy clock ticks of the measured CPU (user+nice+system+irq+softirq+steal).
cpu_busy() { awk -v c="cpu$CPU" '$1 == c {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }
HZ_TICKS=$(getconf CLK_TCK)

# run WORKLOAD NS: "TRANSACTIONS BUSY_US" (busy time per transaction).
run() {
	local wl=$1 ns=$2 c0 c1 res ok
	c0=$(cpu_busy)
	if [[ $wl == crr ]]; then
		res=$(taskset -c "$CPU" ip netns exec "$ns" "$OUT/crr" 198.18.1.2 "$PORT" "$SECONDS_PER" "$CRR_THREADS")
	else
		res=$(taskset -c "$CPU" ip netns exec "$ns" "$OUT/rr" 198.18.1.2 "$PORT" "$SECONDS_PER" "$RR_CONNS" || true)
	fi
	c1=$(cpu_busy)
	ok=$(awk '{print $2}' <<<"$res")
	echo "$ok $(awk -v d=$((c1 - c0)) -v hz="$HZ_TICKS" -v n="$ok" 'BEGIN {printf "%.2f", d / hz * 1e6 / (n ? n : 1)}')"
}

VARIANTS=(plain conntrack track bypass gateway)
declare -A cost
for ((r = 1; r <= ROUNDS; r++)); do
	for wl in crr rr; do
		bench_variant direct
		read -r n base < <(run "$wl" "$G")
		line="round $r $wl: direct $base us/transaction ($n)"
		for v in "${VARIANTS[@]}"; do
			bench_variant "$v"
			read -r n busy < <(run "$wl" "$C")
			g=$(awk -v a="$busy" -v b="$base" 'BEGIN {printf "%.2f", a - b}')
			cost[$wl,$v]+="$g "
			line+="; $v $busy - $base = $g ($n)"
		done
		echo "$line"
	done
done

med() { printf '%s\n' $1 | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
((ROUNDS > 0)) || VARIANTS=()
echo
echo "Gateway CPU per transaction, us (one CPU saturated; busy time through the gateway minus"
echo "busy time of the same client from the gateway's namespace, same round; $ROUNDS rounds x" \
	"${SECONDS_PER}s, medians; $(date -u +%F), kernel $(uname -r))"
printf '| %-16s | %10s | %8s | %8s | %10s | %8s | %8s |\n' bench_variant "CRR us" "vs ct" "vs plain" \
	"RR us" "vs ct" "vs plain"
printf '|%s|\n' "------------------|------------|----------|----------|------------|----------|----------"
for v in "${VARIANTS[@]}"; do
	c=$(med "${cost[crr,$v]}")
	p=$(med "${cost[rr,$v]}")
	printf '| %-16s | %10s | %8s | %8s | %10s | %8s | %8s |\n' "$v" "$c" \
		"$(awk -v a="$c" -v b="$(med "${cost[crr,conntrack]}")" 'BEGIN {printf "%.2f", a / b}')" \
		"$(awk -v a="$c" -v b="$(med "${cost[crr,plain]}")" 'BEGIN {printf "%.2f", a / b}')" \
		"$p" \
		"$(awk -v a="$p" -v b="$(med "${cost[rr,conntrack]}")" 'BEGIN {printf "%.2f", a / b}')" \
		"$(awk -v a="$p" -v b="$(med "${cost[rr,plain]}")" 'BEGIN {printf "%.2f", a / b}')"
done
echo "goal: bypass (gateway: with local off) <= 0.9x conntrack on both"
for wl in crr rr; do
	if ((ROUNDS > 0)) && awk -v p="$(med "${cost[$wl,plain]}")" 'BEGIN {exit !(p <= 0)}'; then
		echo "sanity: plain forwarding costs nothing or less on $wl here (the direct run cost" \
			"more than the forwarded one): the subtraction does not hold for $wl on this machine"
	fi
done

# The programs' own cost under real traffic: persistent connections, and
# connection churn on recycled client ports, a busy node's steady state where
# every new connection reopens a TIME_WAIT entry (namespace-local sysctl).
in_ns "$C" sysctl -qw net.ipv4.ip_local_port_range="40000 41999"
echo
echo "ctaccel programs under real traffic (kernel.bpf_stats_enabled=1, ${SECONDS_PER}s):"
for wl in rr crr; do
	for v in track bypass gateway; do
		bench_variant "$v"
		sysctl -qw kernel.bpf_stats_enabled=1
		run "$wl" "$C" >/dev/null
		sysctl -qw kernel.bpf_stats_enabled="$STATS"
		for prog in ingress egress; do
			[[ $v == gateway && $prog == egress ]] && continue
			id=$(ctaccel_g -j status | jq ".programs.$prog")
			bpftool -j prog show id "$id" | jq -r --arg v "$v" --arg p "$prog" --arg w "$wl" \
				'"  \($w) \($v) \($p): \(if .run_cnt > 0 then (.run_time_ns / .run_cnt | floor) else 0 end) ns/packet over \(.run_cnt) packets"'
		done
	done
done
echo "goal: ingress <= 200 ns/packet"
bench_variant plain
