#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# What a forwarding gateway itself costs per transaction, each variant beside
# the others at the same moment. One client and one server namespace are
# joined by one path per variant, each through a gateway namespace of its own
# set up as that variant, and by a direct path with no gateway. Client, every
# gateway and the server run on one CPU (processes pinned with taskset; veth
# hands packets to the backlog of the sending CPU, so the softirq work stays
# there too), which tests/bench/gwcost.c keeps saturated: it drives one path
# at a time for a short slice, every path once per cycle in a shuffled order,
# and takes a path's gateway cost in a cycle as its time per transaction minus
# the direct path's in the same cycle. Switching variants is switching the
# server address, so slices can be short enough that this machine's speed,
# which swings severalfold over seconds, is the same for all of a cycle.
#
# Identical gateways cost more the later they were set up (by 10-15 % from
# one to the next here, in the programs' own time too), so the topology is
# built once per variant, each time with the creation order rotated by one,
# and the cycles of all builds are pooled. `bypass2` is a second gateway set
# up exactly like `bypass`: their ratio shows what the method can resolve.
#
#   crr:  connect, one byte, 100-byte answer, the server closes first
#   rr:   64-byte request and response on persistent connections
#   bulk: 64 KiB request and response, reported per GB crossing the gateway
#
# Then one run of each workload with kernel.bpf_stats_enabled=1 (restored
# afterwards): the ctaccel programs' own ns per packet under real traffic,
# every ctaccel variant in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
# seconds per workload, over all builds together
SECONDS_PER=${SECONDS_PER:-120}
SLICE_MS=${SLICE_MS:-100}
STATS_SECONDS=${STATS_SECONDS:-4}
CPU=${BENCH_CPU:-0}
RR_CONNS=${RR_CONNS:-8}
CRR_CONNS=${CRR_CONNS:-8}
BULK_CONNS=${BULK_CONNS:-2}
# shellcheck source=../tests/integration/lib.bash
source tests/integration/lib.bash # in_ns, oracle_on; OUT and CTACCEL
PORT=90
TAG=gwb$$
C=ctacc-$TAG-c
S=ctacc-$TAG-s
# The variants; path i of a build runs through gateway namespace $TAG-$v.
# BENCH_VARIANTS picks others: also tc-empty (an empty program on clsact's
# ingress, plain forwarding), tcx-empty (the same on the tcx hook) and notrack
# (the conntrack rule and a raw rule that untracks every packet, no ctaccel)
# take apart what bypass costs. With BENCH_BASE=PATH (another build's ctaccel
# binary, e.g. of the commit before a change), bypass-base and fastpath-base
# are those variants run by that build: a change measured against what it
# changes, side by side.
# track-compat and fastpath-compat are track and fastpath on the paths an
# older kernel gets (Linux 6.1's: CTACCEL_WITHOUT, docs/kernels.md), forced
# on this kernel: what each fallback costs, beside the normal path.
BASE=${BENCH_BASE:-}
COMPAT_PATHS=checksum_status,route_memo,fib_lookup,expiry
read -r -a VARIANTS <<<"${BENCH_VARIANTS:-plain conntrack track bypass fastpath bypass2 track-compat fastpath-compat}"
CTACCEL_VARIANTS=()
for v in "${VARIANTS[@]}"; do
	case $v in
	plain | conntrack | tc-empty | tcx-empty | notrack) ;;
	track | bypass | bypass2 | fastpath | track-compat | fastpath-compat) CTACCEL_VARIANTS+=("$v") ;;
	bypass-base | fastpath-base)
		if [[ ! -x $BASE ]]; then
			echo "ctaccel: bench-gateway: $v needs BENCH_BASE, another build's ctaccel" >&2
			exit 2
		fi
		CTACCEL_VARIANTS+=("$v")
		;;
	*)
		echo "ctaccel: bench-gateway: unknown variant $v" >&2
		exit 2
		;;
	esac
done
STATS=$(sysctl -n kernel.bpf_stats_enabled)

if [[ $(id -u) -ne 0 ]]; then
	echo "ctaccel: bench-gateway: needs root" >&2
	exit 1
fi

gw() { echo "ctacc-$TAG-$1"; }
pin() { echo "/sys/fs/bpf/ctaccel-bench-$TAG-$1"; }
ctl() {
	local v=$1 bin=$CTACCEL
	shift
	[[ $v == *-base ]] && bin=$BASE
	if [[ $v == *-compat ]]; then
		CTACCEL_WITHOUT=$COMPAT_PATHS nsenter --net="/run/netns/$(gw "$v")" "$bin" \
			--pin-path "$(pin "$v")" "$@"
		return
	fi
	nsenter --net="/run/netns/$(gw "$v")" "$bin" --pin-path "$(pin "$v")" "$@"
}
# Path i: client 198.18.(10+2i).2 -- .1 gateway .1 -- 198.18.(11+2i).2 server.
cnet() { echo "198.18.$((10 + 2 * $1))"; }
snet() { echo "198.18.$((11 + 2 * $1))"; }

down() {
	local ns v
	sysctl -qw kernel.bpf_stats_enabled="$STATS"
	for ns in "$C" "$S" $(for v in "${VARIANTS[@]}"; do gw "$v"; done); do
		[[ -e /run/netns/$ns ]] || continue
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
	done
	for v in "${VARIANTS[@]}"; do
		if [[ -e /run/netns/$(gw "$v") ]]; then
			ctl "$v" unload force >/dev/null 2>&1 || true
		fi
		[[ -d $(pin "$v") ]] && rm -rf "$(pin "$v")"
		ip netns del "$(gw "$v")" 2>/dev/null || true
	done
	ip netns del "$C" 2>/dev/null || true
	ip netns del "$S" 2>/dev/null || true
}
trap down EXIT

# up ROTATION: the topology, gateways created from VARIANTS[ROTATION] on.
up() {
	local i v g dev n=${#VARIANTS[@]}
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
	ORDER=()
	for ((i = 0; i < n; i++)); do
		ORDER+=("${VARIANTS[(i + $1) % n]}")
	done
	ip netns add "$C"
	ip netns add "$S"
	in_ns "$C" ip link set lo up
	in_ns "$S" ip link set lo up
	# the direct path
	ip link add cd netns "$C" type veth peer name sd netns "$S"
	in_ns "$C" ip addr add 198.18.9.1/24 dev cd
	in_ns "$S" ip addr add 198.18.9.2/24 dev sd
	in_ns "$C" ip link set cd up
	in_ns "$S" ip link set sd up
	for i in "${!ORDER[@]}"; do
		v=${ORDER[i]}
		g=$(gw "$v")
		ip netns add "$g"
		in_ns "$g" ip link set lo up
		ip link add "c$i" netns "$C" type veth peer name gc netns "$g"
		ip link add "s$i" netns "$S" type veth peer name gs netns "$g"
		in_ns "$C" ip addr add "$(cnet "$i").2/24" dev "c$i"
		in_ns "$g" ip addr add "$(cnet "$i").1/24" dev gc
		in_ns "$g" ip addr add "$(snet "$i").1/24" dev gs
		in_ns "$S" ip addr add "$(snet "$i").2/24" dev "s$i"
		in_ns "$C" ip link set "c$i" up
		in_ns "$S" ip link set "s$i" up
		in_ns "$g" ip link set gc up
		in_ns "$g" ip link set gs up
		in_ns "$C" ip route add "$(snet "$i").0/24" via "$(cnet "$i").1"
		in_ns "$S" ip route add "$(cnet "$i").0/24" via "$(snet "$i").1"
		in_ns "$g" sysctl -qw net.ipv4.ip_forward=1
		case $v in
		plain) continue ;;
		tc-empty)
			# the tc hook and a program that does nothing: what any
			# tc program costs before its first instruction
			for dev in gc gs; do
				in_ns "$g" tc qdisc add dev "$dev" clsact
				in_ns "$g" tc filter add dev "$dev" ingress bpf da obj "$OUT/bench_empty.bpf.o" sec tc
			done
			continue
			;;
		tcx-empty)
			# the same program on the tcx hook (Linux 6.6+): no qdisc
			mkdir -p "$(pin "$v")"
			for dev in gc gs; do
				nsenter --net="/run/netns/$g" "$OUT/tcxattach" "$OUT/bench_empty.bpf.o" \
					"$dev" "$(pin "$v")/$dev"
			done
			continue
			;;
		esac
		# nf_conntrack in use on the node: the oracle tests' forward
		# rule, which needs it, with accounting on
		G=$g oracle_on
		case $v in
		conntrack) continue ;;
		notrack)
			# what bypass asks of netfilter, without ctaccel: every
			# packet skips nf_conntrack by a raw-priority rule
			in_ns "$g" nft add chain inet ctacc_oracle raw '{ type filter hook prerouting priority raw; }'
			in_ns "$g" nft add rule inet ctacc_oracle raw notrack
			continue
			;;
		esac
		# what a forwarding gateway needs: the ingress programs only
		ctl "$v" load local off >/dev/null
		ctl "$v" attach gc gs >/dev/null
		case $v in
		bypass*) ctl "$v" policy add all >/dev/null ;;
		fastpath*) ctl "$v" policy add all fastpath >/dev/null ;;
		esac
	done
	in_ns "$S" taskset -c "$CPU" "$OUT/gwcost" serve "$PORT" >/dev/null 2>&1 3>&- &
	sleep 0.3
}

# Packets that entered a variant's gateway, on both of its veths.
gw_rx() {
	in_ns "$(gw "$1")" cat /sys/class/net/gc/statistics/rx_packets \
		/sys/class/net/gs/statistics/rx_packets | awk '{s += $1} END {print s}'
}

# gwcost WORKLOAD SECONDS CONNS: per-cycle rows, paths named after the variants.
gwcost() {
	local args=(direct=198.18.9.2) i
	for i in "${!ORDER[@]}"; do
		args+=("${ORDER[i]}=$(snet "$i").2")
	done
	taskset -c "$CPU" ip netns exec "$C" "$OUT/gwcost" "$1" "$PORT" "$SLICE_MS" "$2" "$3" \
		"${args[@]}"
}

# The ingress programs' run time and count so far, per ctaccel variant.
prog_stats() {
	local v id
	for v in "${CTACCEL_VARIANTS[@]}"; do
		id=$(ctl "$v" -j status | jq ".programs.ingress")
		bpftool -j prog show id "$id" | jq -r --arg v "$v" '"\($v) \(.run_time_ns // 0) \(.run_cnt // 0)"'
	done
}

conns() {
	case $1 in
	crr) echo "$CRR_CONNS" ;;
	rr) echo "$RR_CONNS" ;;
	bulk) echo "$BULK_CONNS" ;;
	esac
}

WORK=$(mktemp -d)
trap 'down; rm -rf "$WORK"' EXIT
BUILDS=${#VARIANTS[@]}
PER_BUILD=$(((SECONDS_PER + BUILDS - 1) / BUILDS))
echo "ctaccel gateway benchmark, $(date -u '+%F %H:%M UTC'), kernel $(uname -r): every variant" \
	"beside the others, ${SLICE_MS} ms slices, $BUILDS builds x ${PER_BUILD} s per workload, CPU $CPU"
for ((k = 0; k < BUILDS; k++)); do
	down
	up "$k"
	echo "build $((k + 1)): gateways set up in the order ${ORDER[*]}"
	for wl in crr rr bulk; do
		declare -A p0=()
		for v in "${VARIANTS[@]}"; do p0[$v]=$(gw_rx "$v"); done
		gwcost "$wl" "$PER_BUILD" "$(conns "$wl")" >"$WORK/run" || echo "$wl: some transactions failed"
		# cycle numbers distinct across builds
		awk -v k="$k" '$1 == "us" {$2 = k * 100000 + $2} {print}' "$WORK/run" >>"$WORK/$wl"
		for v in "${VARIANTS[@]}"; do
			echo "$v $(($(gw_rx "$v") - ${p0[$v]}))" >>"$WORK/$wl.pkts"
		done
		grep -E '^(tx|busy) ' "$WORK/run" | tr '\n' ';' | sed 's/^/  /; s/;$/\n/' || true
	done
	for wl in rr crr; do
		prog_stats >"$WORK/p0"
		sysctl -qw kernel.bpf_stats_enabled=1
		gwcost "$wl" "$STATS_SECONDS" 8 >/dev/null || true
		sysctl -qw kernel.bpf_stats_enabled="$STATS"
		prog_stats | join "$WORK/p0" - | awk '{print $1, $4 - $2, $5 - $3}' >>"$WORK/$wl.prog"
	done
	# how the variants' flows began: inserted, or reopened in place
	for v in "${CTACCEL_VARIANTS[@]}"; do
		ctl "$v" -j stats | jq -r --arg v "$v" '"\($v) \(.counters.flows_created) \(.counters.flows_reopened)"'
	done >>"$WORK/flows"
done
down

declare -A res
for wl in crr rr bulk; do
	res[$wl]=$("$OUT/gwcost" stats <"$WORK/$wl")
done

field() { awk -v p="$2" -v k="$3" '$1 == "path" && $2 == p {for (i = 3; i < NF; i++) if ($i == k) print $(i + 1)}' <<<"$1"; }
ratio() { awk -v a="$2" -v b="$3" '$1 == "ratio" && $2 == a && $3 == b {printf "%.2f [%.2f-%.2f]", $4, $6, $7}' <<<"$1"; }
rt() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b}'; }

echo
echo "Gateway CPU per transaction, us: the median over $(awk '$1 == "cycles" {print $2}' <<<"${res[rr]}") RR cycles"
echo "(and as many CRR) of (time per transaction through the variant's gateway - on the direct"
echo "path, same cycle). Ratios are of those medians, with 95 % bootstrap intervals over the cycles."
printf '| %-10s | %8s | %18s | %18s | %8s | %18s | %18s |\n' variant "CRR us" "vs conntrack" \
	"vs plain" "RR us" "vs conntrack" "vs plain"
printf '|%s|\n' "------------|----------|--------------------|--------------------|----------|--------------------|--------------------"
for v in "${VARIANTS[@]}"; do
	printf '| %-10s | %8s | %18s | %18s | %8s | %18s | %18s |\n' "$v" \
		"$(field "${res[crr]}" "$v" gw_us)" "$(ratio "${res[crr]}" "$v" conntrack)" \
		"$(ratio "${res[crr]}" "$v" plain)" "$(field "${res[rr]}" "$v" gw_us)" \
		"$(ratio "${res[rr]}" "$v" conntrack)" "$(ratio "${res[rr]}" "$v" plain)"
done
if [[ " ${VARIANTS[*]} " == *" bypass2 "* ]]; then
	echo "control: bypass2 vs bypass (two identical gateways): CRR $(ratio "${res[crr]}" bypass2 bypass)," \
		"RR $(ratio "${res[rr]}" bypass2 bypass), bulk $(ratio "${res[bulk]}" bypass2 bypass)"
fi
for v in bypass fastpath; do
	[[ " ${VARIANTS[*]} " == *" $v-base "* && " ${VARIANTS[*]} " == *" $v "* ]] || continue
	echo "this build vs BENCH_BASE ($BASE): $v vs $v-base: CRR $(ratio "${res[crr]}" "$v" "$v-base")," \
		"RR $(ratio "${res[rr]}" "$v" "$v-base"), bulk $(ratio "${res[bulk]}" "$v" "$v-base")"
done
for v in track fastpath; do
	[[ " ${VARIANTS[*]} " == *" $v-compat "* && " ${VARIANTS[*]} " == *" $v "* ]] || continue
	echo "older kernels' paths ($COMPAT_PATHS): $v-compat vs $v: CRR $(ratio "${res[crr]}" "$v-compat" "$v")," \
		"RR $(ratio "${res[rr]}" "$v-compat" "$v"), bulk $(ratio "${res[bulk]}" "$v-compat" "$v")"
done
echo "goal (cost issue): bypass <= 0.9x conntrack on CRR and RR"
echo "goal (fast path issue): fastpath <= 0.8x conntrack on CRR; on RR <= 0.85x plain and <= 0.6x conntrack"

# packets into a variant's gateway per transaction of a workload
ppt() { awk -v v="$2" -v n="$(field "${res[$1]}" "$2" tx)" '$1 == v {s += $2} END {printf "%.2f", n ? s / n : 0}' "$WORK/$1.pkts"; }
kpps() { awk -v c="$(field "${res[rr]}" "$1" gw_us)" -v p="$(ppt rr "$1")" 'BEGIN {printf "%.0f", (c > 0 ? p / c * 1e3 : 0)}'; }
echo
echo "Bulk: gateway CPU per GB forwarded (64 KiB each way per transaction); small packets:"
echo "packets into the gateway per second of its CPU on RR"
printf '| %-10s | %10s | %18s | %18s | %12s | %8s |\n' variant "bulk ms/GB" "vs conntrack" \
	"vs plain" "RR kpps/CPU" "vs plain"
printf '|%s|\n' "------------|------------|--------------------|--------------------|--------------|----------"
for v in "${VARIANTS[@]}"; do
	printf '| %-10s | %10s | %18s | %18s | %12s | %8s |\n' "$v" \
		"$(awk -v c="$(field "${res[bulk]}" "$v" gw_us)" 'BEGIN {printf "%.1f", c / 1e3 / (2 * 65536 / 1e9)}')" \
		"$(ratio "${res[bulk]}" "$v" conntrack)" "$(ratio "${res[bulk]}" "$v" plain)" \
		"$(kpps "$v")" "$(rt "$(kpps "$v")" "$(kpps plain)")"
done

echo
echo "Transactions per second with the whole path on one saturated CPU (all slices of all builds;"
echo "client and server work included, so these ratios understate the gateway's own differences)"
printf '| %-10s | %10s | %8s | %8s | %10s | %8s | %8s |\n' variant "CRR/s" "vs ct" "vs plain" \
	"RR/s" "vs ct" "vs plain"
printf '|%s|\n' "------------|------------|----------|----------|------------|----------|----------"
for v in direct "${VARIANTS[@]}"; do
	c=$(field "${res[crr]}" "$v" tps)
	r=$(field "${res[rr]}" "$v" tps)
	printf '| %-10s | %10s | %8s | %8s | %10s | %8s | %8s |\n' "$v" "$c" \
		"$(rt "$c" "$(field "${res[crr]}" conntrack tps)")" "$(rt "$c" "$(field "${res[crr]}" plain tps)")" \
		"$r" "$(rt "$r" "$(field "${res[rr]}" conntrack tps)")" "$(rt "$r" "$(field "${res[rr]}" plain tps)")"
done

echo
echo "ctaccel's ingress program under real traffic (kernel.bpf_stats_enabled=1, ${STATS_SECONDS} s per"
echo "workload and build; run time over runs, all builds together):"
for wl in rr crr; do
	for v in "${CTACCEL_VARIANTS[@]}"; do
		awk -v v="$v" -v w="$wl" '$1 == v {t += $2; n += $3}
			END {printf "  %s %s: %d ns/packet over %d packets\n", w, v, n ? t / n : 0, n}' "$WORK/$wl.prog"
	done
done
echo "goal: ingress <= 200 ns/packet"
echo
echo "Flows the ctaccel variants started, all workloads and builds (a client port that comes"
echo "round again within TIME_WAIT reopens its entry):"
for v in "${CTACCEL_VARIANTS[@]}"; do
	awk -v v="$v" '$1 == v {c += $2; r += $3}
		END {printf "  %s: %d flows, %d of them reopened (%.0f %%)\n", v, c, r, c ? 100 * r / c : 0}' "$WORK/flows"
done
