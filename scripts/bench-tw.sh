#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# TIME_WAIT at the scale of the incident: 65,421 TIME_WAIT sockets in a
# namespace of its own; time `ctaccel tw` against `ss -tan state time-wait |
# wc -l` and a read of /proc/net/tcp{,6}, alternating, median of several
# rounds, and check that the counts are equal. TIME_WAIT lasts 60 s, so the
# measurement follows right after the sockets are made.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-7}
TARGET=65421
NS=ctacc-benchtw-$$
OUT=${OUTPUT:-.output}

cleanup() {
	ip netns pids "$NS" 2>/dev/null | xargs -r kill 2>/dev/null || true
	ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT

ip netns add "$NS"
ip -n "$NS" link set lo up
ip netns exec "$NS" sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
ip netns exec "$NS" sysctl -qw net.ipv4.tcp_tw_reuse=0
ip netns exec "$NS" sysctl -qw net.ipv4.tcp_max_tw_buckets=262144
ip netns exec "$NS" "$OUT/tcpgen" server 127.0.0.1 80 >/dev/null 2>&1 &
ip netns exec "$NS" "$OUT/tcpgen" server 127.0.0.1 81 >/dev/null 2>&1 &
sleep 0.3
echo "making $TARGET TIME_WAIT sockets..."
ip netns exec "$NS" "$OUT/tcpgen" client 127.0.0.1 80 c 40000 >/dev/null
ip netns exec "$NS" "$OUT/tcpgen" client 127.0.0.1 81 c $((TARGET - 40000)) >/dev/null

ms() { date +%s%N; }
declare -a t_ct t_ss t_proc
# nsenter --net for all three: entering the namespace costs the same, and
# less than ip netns exec's remount of /sys.
in_ns() { nsenter --net="/run/netns/$NS" "$@"; }
n_ct=$(in_ns ./ctaccel -j tw | jq .time_wait)
for ((r = 0; r < ROUNDS; r++)); do
	a=$(ms); in_ns ./ctaccel -j tw >/dev/null; b=$(ms)
	t_ct+=($(((b - a) / 1000)))
	a=$(ms); n_ss=$(in_ns ss -tan state time-wait | tail -n +2 | wc -l); b=$(ms)
	t_ss+=($(((b - a) / 1000)))
	a=$(ms); n_proc=$(in_ns awk '$4 == "06"' /proc/net/tcp /proc/net/tcp6 | wc -l); b=$(ms)
	t_proc+=($(((b - a) / 1000)))
done
n_sockstat=$(ip netns exec "$NS" awk '/^TCP:/ {for (i = 1; i < NF; i++) if ($i == "tw") print $(i + 1)}' /proc/net/sockstat)

med() { printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
mn() { printf '%s\n' "$@" | sort -n | head -n1; }
mx() { printf '%s\n' "$@" | sort -n | tail -n1; }
m_ct=$(med "${t_ct[@]}"); m_ss=$(med "${t_ss[@]}"); m_proc=$(med "${t_proc[@]}")

echo
echo "TIME_WAIT sockets: ctaccel $n_ct, ss $n_ss, /proc/net/tcp $n_proc, sockstat $n_sockstat"
echo "time per look, microseconds ($ROUNDS alternating rounds, $(date -u +%F), kernel $(uname -r)):"
printf '| %-40s | %8s | %8s | %8s | %7s |\n' tool min median max "vs ctaccel"
printf '| %-40s | %8s | %8s | %8s | %7s |\n' "ctaccel -j tw" "$(mn "${t_ct[@]}")" "$m_ct" "$(mx "${t_ct[@]}")" 1.0
printf '| %-40s | %8s | %8s | %8s | %7s |\n' "ss -tan state time-wait (wc -l)" "$(mn "${t_ss[@]}")" "$m_ss" "$(mx "${t_ss[@]}")" "$(awk -v a="$m_ss" -v b="$m_ct" 'BEGIN {printf "%.1f", a / b}')"
printf '| %-40s | %8s | %8s | %8s | %7s |\n' "awk /proc/net/tcp{,6}" "$(mn "${t_proc[@]}")" "$m_proc" "$(mx "${t_proc[@]}")" "$(awk -v a="$m_proc" -v b="$m_ct" 'BEGIN {printf "%.1f", a / b}')"
[[ $n_ct -eq $n_ss && $n_ct -eq $n_sockstat && $n_ct -eq $n_proc ]] && echo "counts: exact" || echo "counts: DIFFER"
