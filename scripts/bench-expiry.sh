#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Kernel expiry (issue 20), three measurements on one pinned ctaccel:
#  1. idle cost: LIVE established flows (default 900,000) in a table of TABLE
#     (1,000,000) that nothing expires in, the daemon running as supervisor;
#     over WINDOW seconds, the CPU of the kernel's checks and walks (their own
#     clock) plus the daemon's (/proc/PID/stat), as a share of one CPU; then
#     the same with flows that may expire soon (SYN_SENT, 120 s), which makes
#     the checks walk the table;
#  2. one pass over that table, in CPU seconds of the caller: from userspace
#     (batch reads, then the delete program: what GC did before) and in the
#     kernel (the ctaccel_expire program), alternating rounds, medians;
#  3. EXPIRED flows (default 200,000) with a short timeout and no userspace
#     process at all: the time from the last insert until the table is empty,
#     against the documented bound (timeout + pause + two passes).
set -euo pipefail
cd "$(dirname "$0")/.."
LIVE=${LIVE:-900000}
TABLE=${TABLE:-1000000}
EXPIRED=${EXPIRED:-200000}
WINDOW=${WINDOW:-30}
ROUNDS=${ROUNDS:-3}
OUT=${OUTPUT:-.output}
PIN=/sys/fs/bpf/ctaccel-bench-$$
PORT=9498
CT=./ctaccel
DAEMON=
NS=ctacc-bx$$ # the daemon's listener stays in a namespace of its own

mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
cleanup() {
	[[ -n $DAEMON ]] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
	$CT --pin-path "$PIN" unload force >/dev/null 2>&1 || true
	rm -rf "$PIN"
	ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT
ex() { $CT --pin-path "$PIN" -j expiry; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
med() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
hz=$(getconf CLK_TCK)

echo "Kernel expiry, $(date -u +%F), kernel $(uname -r), $(nproc) CPUs"
# 1. idle cost, established flows (432,000 s), then SYN_SENT ones (120 s).
idle() { # idle FILL-MODE LABEL
	$CT --pin-path "$PIN" load local off max-flows "$TABLE" unreplied-max "$TABLE" >/dev/null
	"$OUT/flowfill" "$1" "$PIN" "$LIVE"
	ip netns add "$NS"
	ip -n "$NS" link set lo up
	nsenter --net="/run/netns/$NS" $CT --pin-path "$PIN" daemon --listen "127.0.0.1:$PORT" \
		>/dev/null 2>&1 &
	DAEMON=$!
	sleep 3 # the daemon's start, and a walk over the full table
	local b0 p0 c0 d0 t0 b1 p1 c1 d1 t1 flows
	b0=$(ex | jq .busy_seconds); p0=$(ex | jq .passes); c0=$(ex | jq .checks)
	d0=$(ticks "$DAEMON"); t0=$(date +%s.%N)
	sleep "$WINDOW"
	b1=$(ex | jq .busy_seconds); p1=$(ex | jq .passes); c1=$(ex | jq .checks)
	d1=$(ticks "$DAEMON"); t1=$(date +%s.%N)
	flows=$($CT --pin-path "$PIN" -j flow count | jq .flows)
	kill "$DAEMON"
	wait "$DAEMON" 2>/dev/null || true
	DAEMON=
	ip netns del "$NS"
	awk -v b0="$b0" -v b1="$b1" -v d0="$d0" -v d1="$d1" -v t0="$t0" -v t1="$t1" -v hz="$hz" \
		-v p="$((p1 - p0))" -v c="$((c1 - c0))" -v flows="$flows" -v table="$TABLE" -v label="$2" 'BEGIN {
		w = t1 - t0; k = (b1 - b0) / w * 100; d = (d1 - d0) / hz / w * 100
		printf "\n1. %d live %s flows in a table of %d, nothing expiring, %.0f s:\n", flows, label, table, w
		printf "   kernel: %d checks, %d walks, %.1f us in all: %.4f %% of one CPU\n", c, p, (b1 - b0) * 1e6, k
		printf "   daemon (supervisor): %.3f %% of one CPU (%d clock ticks; one is %.3f %%)\n", d, d1 - d0, 100 / hz / w
		printf "   together: %.4f %% of one CPU (goal: at most 1 %%)\n", k + d
	}'
}
idle fill-established ESTABLISHED
$CT --pin-path "$PIN" unload force >/dev/null
idle fill SYN_SENT

# 2. one pass each way over the same table (the SYN_SENT one), alternating.
flows=$($CT --pin-path "$PIN" -j flow count | jq .flows)
declare -a tu tk
for ((r = 0; r < ROUNDS; r++)); do
	read -r s _ _ < <("$OUT/flowfill" gcpass "$PIN")
	tu+=("$s")
	read -r s _ _ < <("$OUT/flowfill" expire "$PIN")
	tk+=("$s")
done
mu=$(med "${tu[@]}")
mk=$(med "${tk[@]}")
awk -v u="$mu" -v k="$mk" -v n="$flows" -v r="$ROUNDS" 'BEGIN {
	printf "\n2. one pass over %d flows, CPU seconds of the caller, median of %d:\n", n, r
	printf "   from userspace (batch reads + delete program): %.3f s = %.3f s per 1 M\n", u, u * 1e6 / n
	printf "   in the kernel (ctaccel_expire):                %.3f s = %.3f s per 1 M (%.1fx less)\n", k, k * 1e6 / n, u / (k ? k : 1e-9)
}'
$CT --pin-path "$PIN" unload force >/dev/null

# 3. expired flows, no userspace process.
$CT --pin-path "$PIN" load local off max-flows "$TABLE" unreplied-max "$TABLE" \
	timeout-syn-sent 5 >/dev/null
"$OUT/flowfill" fill "$PIN" "$EXPIRED"
t0=$(date +%s.%N)
max_pause=0
while :; do
	n=$($CT --pin-path "$PIN" -j flow count | jq .flows)
	max_pause=$(ex | jq --argjson m "$max_pause" '[.pause_seconds, $m] | max')
	((n == 0)) && break
	if awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN {exit !(a - b > 120)}'; then
		echo "3. FAILED: $n flows still there after 120 s"
		exit 1
	fi
	sleep 0.2
done
t1=$(date +%s.%N)
last=$(ex)
awk -v t0="$t0" -v t1="$t1" -v n="$EXPIRED" -v pause="$max_pause" -v removed="$(jq .removed <<<"$last")" \
	-v pass="$(jq .last_pass_seconds <<<"$last")" 'BEGIN {
	printf "\n3. %d flows with a 5 s timeout, no userspace process: removed %d, table empty %.1f s after the last insert\n", n, removed, t1 - t0
	printf "   bound: timeout 5 s + pause (at most %.1f s seen) + two passes (%.2f s each) + 0.2 s polling = %.1f s\n", pause, pass, 5 + pause + 2 * pass + 0.2
	printf "   %s\n", (t1 - t0 <= 5 + pause + 2 * pass + 0.2 + 0.05) ? "within the bound" : "OVER the bound"
}'
