#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Connection rate through the gateway namespace, four variants alternated in
# every round: no tracking; nf_conntrack; ctaccel tracking + nf_conntrack;
# ctaccel with bypass (the conntrack rule still present). The server closes
# first (TIME_WAIT on its side), so the client's ephemeral ports come back at
# once. Also checks exactness: in the tracking variant ctaccel's created flows
# equal the generator's attempts, and per-state totals equal conntrack's.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER=${SECONDS_PER:-30}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-8}
OUT=${OUTPUT:-.output}
# shellcheck source=../tests/integration/lib.bash
source tests/integration/lib.bash
topo_names "crr$$"
CT_MAX=$(sysctl -n net.netfilter.nf_conntrack_max)
# nf_conntrack_max is global: always put it back.
trap 'sysctl -qw net.netfilter.nf_conntrack_max="$CT_MAX"; topo_down' EXIT

mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
topo_up
for p in 81 82 83; do
	ip netns exec "$S" "$TCPGEN" server 198.18.1.2 "$p" >/dev/null 2>&1 &
done
sleep 0.3


# Host CPU busy time (user+nice+system+irq+softirq+steal) in clock ticks.
# Client, gateway and server share the host, so the per-connection figure is
# the whole path's; its increase over "none" is what tracking costs.
cpu_busy() { awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }
HZ_TICKS=$(getconf CLK_TCK)
declare -A rate p50 p99 fails cpu
exact="not checked"
for ((r = 0; r < ROUNDS; r++)); do
	for v in none conntrack track bypass; do
		bench_variant "$v"
		c0=$(cpu_busy)
		res=$(in_ns "$C" "$OUT/crr" 198.18.1.2 80,81,82,83 "$SECONDS_PER" "$THREADS")
		c1=$(cpu_busy)
		read -r _ ok _ fail _ q50 _ q99 _ qmax <<<"$res"
		rate[$v]+="$((ok / SECONDS_PER)) "
		cpu[$v]+="$(awk -v d=$((c1 - c0)) -v hz="$HZ_TICKS" -v n="$ok" 'BEGIN {printf "%.1f", d / hz * 1e6 / (n ? n : 1)}') "
		p50[$v]+="$q50 "
		p99[$v]+="$q99 "
		fails[$v]+="$fail "
		echo "round $((r + 1)) $v: $res"
		if [[ $v == track && $r -eq 0 ]]; then
			sleep 1
			created=$(ctaccel_g -j stats | jq .counters.flows_created)
			ctaccel_g gc >/dev/null
			if [[ $created -eq $((ok + fail)) && "$(ctaccel_state_counts)" == "$(conntrack_state_counts)" ]]; then
				exact="created flows $created = attempts $((ok + fail)); per-state totals equal conntrack's"
			else
				exact="DIFFER: created $created, attempts $((ok + fail))"
			fi
		fi
	done
done

# Table pressure: nf_conntrack_max = 4096 under the same churn.
declare -A prate pok pfail pp99
sysctl -qw net.netfilter.nf_conntrack_max=4096
for v in conntrack bypass; do
	bench_variant "$v"
	res=$(in_ns "$C" "$OUT/crr" 198.18.1.2 80,81,82,83 "$SECONDS_PER" "$THREADS")
	read -r _ ok _ fail _ q50 _ q99 _ qmax <<<"$res"
	echo "pressure $v: $res"
	pok[$v]=$ok
	pfail[$v]=$fail
	pp99[$v]=$q99
done
sysctl -qw net.netfilter.nf_conntrack_max="$CT_MAX"
bench_variant none

med() { printf '%s\n' $1 | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
base=$(med "${rate[none]}")
echo
echo "Connections per second through the gateway ($ROUNDS rounds x ${SECONDS_PER}s per variant," \
	"$THREADS client threads, $(date -u +%F), kernel $(uname -r)); medians"
printf '| %-34s | %10s | %8s | %8s | %8s | %6s | %11s | %8s |\n' variant conn/s "vs none" "p50 us" "p99 us" fails \
	"CPU us/conn" "vs none"
cbase=$(med "${cpu[none]}")
for v in none conntrack track bypass; do
	m=$(med "${rate[$v]}")
	c=$(med "${cpu[$v]}")
	printf '| %-34s | %10s | %8s | %8s | %8s | %6s | %11s | %8s |\n' "$v" "$m" \
		"$(awk -v a="$m" -v b="$base" 'BEGIN {printf "%.3f", a / b}')" \
		"$(med "${p50[$v]}")" "$(med "${p99[$v]}")" "$(med "${fails[$v]}")" \
		"$c" "$(awk -v a="$c" -v b="$cbase" 'BEGIN {printf "%.3f", a / b}')"
done
echo "CPU us/conn: host busy time (all three namespaces share the 2 CPUs) per successful connection"
echo "exactness (tracking variant): $exact"
echo
echo "Table pressure (nf_conntrack_max 4096, ${SECONDS_PER}s each)"
printf '| %-34s | %10s | %8s | %10s | %10s |\n' variant succeeded failed "p99 us" conn/s
for v in conntrack bypass; do
	printf '| %-34s | %9s%% | %8s | %10s | %10s |\n' "$v" \
		"$(awk -v o="${pok[$v]}" -v f="${pfail[$v]}" 'BEGIN {printf "%.2f", 100 * o / (o + f ? o + f : 1)}')" \
		"${pfail[$v]}" "${pp99[$v]}" "$((pok[$v] / SECONDS_PER))"
done
