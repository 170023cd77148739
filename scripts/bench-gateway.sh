#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# What the gateway itself costs per transaction, by subtraction: client,
# gateway and server all run on one CPU (processes pinned with taskset; veth
# hands packets to the backlog of the sending CPU, so the softirq work stays
# there too), which they saturate. The gateway's cost is that CPU's busy time
# per transaction through the gateway minus that of the same client talking to
# the server straight from the gateway's namespace. Variants rotate within each
# round; medians, and every round.
#
#   connect-request-response: tests/bench/crr.c (one byte, server closes)
#   persistent: tests/bench/rr.c (64-byte request and response, 8 connections)
#   bulk: tests/bench/rr.c with 64 KiB requests and responses, 2 connections,
#         reported per GB crossing the gateway
#
# Packets per second of gateway CPU: the packets that entered the gateway
# (both veths' rx) per transaction, over the gateway's CPU per transaction.
#
# Each variant's run follows a direct run of its own, and the figure is the
# ratio of the two (minus one): the machine's speed drifts between runs far
# more than the gateway costs, and a ratio of neighbours cancels most of it.
#
# Then one persistent pass per ctaccel variant with kernel.bpf_stats_enabled=1
# (restored afterwards): the programs' own ns per packet under real traffic.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER=${SECONDS_PER:-5}
ROUNDS=${ROUNDS:-5}
CPU=${BENCH_CPU:-0}
RR_CONNS=${RR_CONNS:-8}
BULK_CONNS=${BULK_CONNS:-2}
BULK_SIZE=65536
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

# Packets that entered the gateway, on both of its veths.
gw_rx() {
	in_ns "$G" cat /sys/class/net/vgc/statistics/rx_packets /sys/class/net/vgs/statistics/rx_packets |
		awk '{s += $1} END {print s}'
}

# run WORKLOAD NS: "TRANSACTIONS BUSY_US PACKETS" (busy time per transaction,
# gateway packets per transaction).
run() {
	local wl=$1 ns=$2 c0 c1 p0 p1 res ok
	p0=$(gw_rx)
	c0=$(cpu_busy)
	case $wl in
	crr) res=$(taskset -c "$CPU" ip netns exec "$ns" "$OUT/crr" 198.18.1.2 "$PORT" "$SECONDS_PER" "$CRR_THREADS") ;;
	rr) res=$(taskset -c "$CPU" ip netns exec "$ns" "$OUT/rr" 198.18.1.2 "$PORT" "$SECONDS_PER" "$RR_CONNS" || true) ;;
	bulk) res=$(taskset -c "$CPU" ip netns exec "$ns" "$OUT/rr" 198.18.1.2 "$PORT" "$SECONDS_PER" "$BULK_CONNS" "$BULK_SIZE" || true) ;;
	esac
	c1=$(cpu_busy)
	p1=$(gw_rx)
	ok=$(awk '{print $2}' <<<"$res")
	awk -v d=$((c1 - c0)) -v hz="$HZ_TICKS" -v n="$ok" -v p=$((p1 - p0)) \
		'BEGIN {n = n ? n : 1; printf "%d %.2f %.2f\n", n, d / hz * 1e6 / n, p / n}'
}

VARIANTS=(plain conntrack track bypass gateway fastpath)
WORKLOADS=(crr rr bulk)
declare -A rel pkts directs tps
for ((r = 1; r <= ROUNDS; r++)); do
	for wl in "${WORKLOADS[@]}"; do
		line="round $r $wl:"
		# each round starts one variant further on: no variant always runs
		# after the same one, or always late in a round
		for ((i = 0; i < ${#VARIANTS[@]}; i++)); do
			v=${VARIANTS[(i + r - 1) % ${#VARIANTS[@]}]}
			bench_variant direct
			read -r _ base _ < <(run "$wl" "$G")
			bench_variant "$v"
			read -r n busy p < <(run "$wl" "$C")
			# the gateway's share relative to the run just before: this
			# machine's speed drifts by tens of percent over seconds
			q=$(awk -v a="$busy" -v b="$base" 'BEGIN {printf "%.4f", a / b - 1}')
			rel[$wl,$v]+="$q "
			pkts[$wl,$v]+="$p "
			tps[$wl,$v]+="$((n / SECONDS_PER)) "
			directs[$wl]+="$base "
			line+=" $v $busy/$base-1=$q ($n);"
		done
		echo "$line"
	done
done

med() { printf '%s\n' $1 | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
((ROUNDS > 0)) || VARIANTS=()
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}'; }
# The gateway's CPU per transaction: its median share times the median
# client-and-server cost of the workload.
declare -A cost
for wl in "${WORKLOADS[@]}"; do
	for v in "${VARIANTS[@]}"; do
		cost[$wl,$v]=$(awk -v q="$(med "${rel[$wl,$v]}")" -v d="$(med "${directs[$wl]}")" \
			'BEGIN {printf "%.2f", q * d}')
	done
done
echo
echo "Gateway CPU per transaction, us (one CPU saturated; busy time through the gateway over"
echo "that of the same client from the gateway's namespace just before, minus one, times the"
echo "median direct cost; $ROUNDS rounds x ${SECONDS_PER}s, medians; $(date -u +%F), kernel $(uname -r))"
printf '| %-16s | %10s | %8s | %8s | %10s | %8s | %8s |\n' bench_variant "CRR us" "vs ct" "vs plain" \
	"RR us" "vs ct" "vs plain"
printf '|%s|\n' "------------------|------------|----------|----------|------------|----------|----------"
for v in "${VARIANTS[@]}"; do
	c=${cost[crr,$v]}
	p=${cost[rr,$v]}
	printf '| %-16s | %10s | %8s | %8s | %10s | %8s | %8s |\n' "$v" "$c" \
		"$(ratio "$c" "${cost[crr,conntrack]}")" "$(ratio "$c" "${cost[crr,plain]}")" \
		"$p" "$(ratio "$p" "${cost[rr,conntrack]}")" "$(ratio "$p" "${cost[rr,plain]}")"
done
echo "goal: bypass (gateway: with local off) <= 0.9x conntrack on both"
echo "goal: fastpath <= 0.8x conntrack on CRR; on RR <= 0.85x plain and <= 0.6x conntrack"
echo
echo "Bulk ($BULK_CONNS connections, ${BULK_SIZE}-byte requests and responses): gateway CPU per GB"
echo "forwarded, and packets per second of gateway CPU on RR (packets in / CPU per transaction)"
printf '| %-16s | %12s | %8s | %8s | %14s | %8s |\n' bench_variant "bulk ms/GB" "vs ct" "vs plain" \
	"RR kpps/CPU" "vs plain"
printf '|%s|\n' "------------------|--------------|----------|----------|----------------|----------"
gb() { awk -v c="$1" -v s="$BULK_SIZE" 'BEGIN {printf "%.1f", c / 1e3 / (2 * s / 1e9)}'; }
kpps() { awk -v c="$1" -v p="$2" 'BEGIN {printf "%.0f", (c > 0 ? p / c * 1e3 : 0)}'; }
for v in "${VARIANTS[@]}"; do
	b=$(gb "${cost[bulk,$v]}")
	k=$(kpps "${cost[rr,$v]}" "$(med "${pkts[rr,$v]}")")
	printf '| %-16s | %12s | %8s | %8s | %14s | %8s |\n' "$v" "$b" \
		"$(ratio "$b" "$(gb "${cost[bulk,conntrack]}")")" "$(ratio "$b" "$(gb "${cost[bulk,plain]}")")" \
		"$k" "$(ratio "$k" "$(kpps "${cost[rr,plain]}" "$(med "${pkts[rr,plain]}")")")"
done
for wl in "${WORKLOADS[@]}"; do
	if ((ROUNDS > 0)) && awk -v p="${cost[$wl,plain]}" 'BEGIN {exit !(p <= 0)}'; then
		echo "sanity: plain forwarding costs nothing or less on $wl here (the direct run cost" \
			"more than the forwarded one): the subtraction does not hold for $wl on this machine"
	fi
done

# What needs no subtraction: transactions per second with the whole path on
# one saturated CPU. Client and server costs are in it too, so the ratios
# understate the gateway's own differences, but they never change sign.
echo
echo "Transactions per second, everything on one saturated CPU (medians of the same runs)"
printf '| %-16s | %10s | %8s | %8s | %10s | %8s | %8s |\n' bench_variant "CRR/s" "vs ct" "vs plain" \
	"RR/s" "vs ct" "vs plain"
printf '|%s|\n' "------------------|------------|----------|----------|------------|----------|----------"
for v in "${VARIANTS[@]}"; do
	c=$(med "${tps[crr,$v]}")
	p=$(med "${tps[rr,$v]}")
	printf '| %-16s | %10s | %8s | %8s | %10s | %8s | %8s |\n' "$v" "$c" \
		"$(ratio "$c" "$(med "${tps[crr,conntrack]}")")" "$(ratio "$c" "$(med "${tps[crr,plain]}")")" \
		"$p" "$(ratio "$p" "$(med "${tps[rr,conntrack]}")")" "$(ratio "$p" "$(med "${tps[rr,plain]}")")"
done

# The programs' own cost under real traffic: persistent connections, and
# connection churn on recycled client ports, a busy node's steady state where
# every new connection reopens a TIME_WAIT entry (namespace-local sysctl).
in_ns "$C" sysctl -qw net.ipv4.ip_local_port_range="40000 41999"
echo
echo "ctaccel programs under real traffic (kernel.bpf_stats_enabled=1, ${SECONDS_PER}s):"
for wl in rr crr; do
	for v in track bypass gateway fastpath; do
		bench_variant "$v"
		sysctl -qw kernel.bpf_stats_enabled=1
		run "$wl" "$C" >/dev/null
		sysctl -qw kernel.bpf_stats_enabled="$STATS"
		for prog in ingress egress; do
			[[ ($v == gateway || $v == fastpath) && $prog == egress ]] && continue
			id=$(ctaccel_g -j status | jq ".programs.$prog")
			bpftool -j prog show id "$id" | jq -r --arg v "$v" --arg p "$prog" --arg w "$wl" \
				'"  \($w) \($v) \($p): \(if .run_cnt > 0 then (.run_time_ns / .run_cnt | floor) else 0 end) ns/packet over \(.run_cnt) packets"'
		done
	done
done
echo "goal: ingress <= 200 ns/packet"
bench_variant plain
